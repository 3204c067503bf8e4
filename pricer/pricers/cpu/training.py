"""Train the CPU pricer: pricer datasets -> a weighted ridge regression on hashed n-grams.

    train(["train-550.jsonl", "test-split-extra-1000.jsonl", "train-community.jsonl"], like=2, out="model/")

1. Each source is opened as an Arrow dataset (a local JSONL/Parquet/CSV file, a folder of
   splits, a `save_to_disk` folder, or a hub id's train split) and read in batches, so 400,000
   items are never held as Python objects at once; only their features are (sparse, ~2 GB for 400,000).
2. The first `like` sources are the distribution to price (weight 1 each). Items of the other
   sources are weighted by how much likelier their price is there than in their own source
   (histograms of ln price), times `other_weight`: a source of cheap items then teaches what
   words cost without pulling every estimate down.
3. Ridge regression of ln(1 + price) on the features (pricer.pricers.cpu.features), solved by
   pricer.pricers.cpu.ridge: no step is random, so the same data gives the same bytes.
4. Cross-validation over the distribution to price, when it has up to CV_LIMIT items (the
   course's 1,550): item i in fold i mod 5, each fold's model trained on the other folds and all
   other sources. Its out-of-fold estimates give the card's figures and the 80% interval (their
   10% and 90% log-error quantiles), and are kept in the model beside each item's fingerprint:
   an ensemble fitted on some of those items weighs the model by estimates made without them
   (CpuModel.held_out_log_prices). The learning curve refits the folds on 250, 500 and 1,000 of
   their items.
5. Optional validation items (a source, or the last N items of the first source, held out of
   training) and test items add figures to the card; neither chooses anything.

It writes the model (pricer.pricers.cpu.model) and its card (pricer.pricers.cpu.card).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import staged_files
from pricer.data.datasets import open_split
from pricer.errors import BadInput
from pricer.pricers.cpu.card import Figures, figures, write_card
from pricer.pricers.cpu.features import FeatureSpec, featurize, item_keys, product_parts
from pricer.pricers.cpu.model import CARD_FILE, MANIFEST_FILE, WEIGHTS_FILE, CpuModel, save_model
from pricer.pricers.cpu.ridge import (
    MAX_ITERATIONS,
    MAX_PRICE_WEIGHT,
    PRICE_BINS,
    TOLERANCE,
    price_bins,
    price_weights,
    solve_ridge,
)
from pricer.pricers.estimates import INTERVAL

# Both chosen by 5-fold cross-validation over the course's 1,550 in-distribution items, as the
# lowest average error of the grid tried there (pricer/pricers/cpu/shipped/README.md).
ALPHA = 0.4
OTHER_WEIGHT = 0.02  # an item of another source counts 1/50 of one to price, times its price weight
BATCH = 2048
CV_FOLDS = 5
CV_LIMIT = 20_000  # a distribution to price up to this size is cross-validated; a larger one has held-out items enough
LEARNING_CURVE = (250, 500, 1000)  # in-distribution items each fold's model trains on, before all of them




# --- reading sources as Arrow -------------------------------------------------------------------


def _usable(text: Any, price: Any) -> bool:
    return (isinstance(text, str) and bool(text.strip()) and isinstance(price, (int, float))
            and not isinstance(price, bool) and math.isfinite(price) and price >= 0)


def batches(data: Any, size: int = BATCH) -> Iterator[tuple[list[tuple[str, str]], list[float]]]:
    """(title, description) pairs and prices of an Arrow dataset, a batch at a time."""
    for batch in data.iter(batch_size=size):
        rows = [(t, float(p)) for t, p in zip(batch["text"], batch["price"], strict=True) if _usable(t, p)]
        if rows:
            yield [product_parts(t) for t, _ in rows], [p for _, p in rows]


def _prices(data: Any) -> Any:
    import numpy as np

    if len(data) == 0:
        return np.zeros(0)
    column = data.with_format("arrow", columns=["price"])[:]["price"]  # one read; numpy's format gives float32
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _bar(total: int | None, desc: str, enabled: bool, unit: str = " items") -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)


# --- training -----------------------------------------------------------------------------------


def _featurize(data: Any, spec: FeatureSpec, weight_of: Any, bar: Any, pool: Any) -> tuple[list, list, list, list]:
    """Scaled feature blocks, targets, sqrt-weights and item fingerprints of one source, a batch at a time.

    Batches are hashed in `pool` (a process pool, or None for this process), at most two per
    worker in flight, and collected in order: the result does not depend on the pool.
    """
    from collections import deque

    import numpy as np

    blocks, targets, roots, keys = [], [], [], []
    pending: deque = deque()
    depth = 2 * (pool._max_workers if pool is not None else 0)

    def collect() -> None:
        rows, prices, key = pending.popleft()
        x = rows.result() if pool is not None else rows
        root = np.sqrt(weight_of(prices))
        # float64, as the solver's vectors: a float32 matrix would be copied to float64 on every product
        blocks.append(x.astype(np.float64).multiply(root[:, None]).tocsr())
        targets.append(np.log1p(prices))
        roots.append(root)
        keys.append(key)
        bar.update(len(prices))

    for parts, prices in batches(data):
        rows = pool.submit(featurize, parts, spec) if pool is not None else featurize(parts, spec)
        pending.append((rows, np.asarray(prices), item_keys(parts)))
        while len(pending) > depth:
            collect()
    while pending:
        collect()
    return blocks, targets, roots, keys


def _pool(workers: int | None) -> Any:
    """A process pool of `workers` (default min(2, CPU cores)), or None to work in this process."""
    from concurrent.futures import ProcessPoolExecutor

    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    return ProcessPoolExecutor(workers) if workers > 1 else None


def _source_name(source: Any) -> str:
    return Path(str(source)).name if hub.is_local(str(source)) else str(source)


def train(sources: Sequence[str | os.PathLike], validation: str | os.PathLike | int | None = None,
          out: str | os.PathLike = "cpu-model", seed: int = 42, progress: bool = True, *, like: int = 1,
          test: str | os.PathLike | None = None, alpha: float = ALPHA, other_weight: float = OTHER_WEIGHT,
          spec: FeatureSpec | None = None, workers: int | None = None, learning_curve: bool = True,
          note: str | None = None) -> CpuModel:
    """Train on `sources` (the first `like` are the distribution to price), validate, write `out`.

    `validation` (optional) is a source (its test split, for a hub id or a folder), or N: the
    last N items of the first source, held out of training. Without it the distribution to
    price is cross-validated, which needs at most CV_LIMIT items of it. `test` (optional) adds
    figures on a test set to the card; neither chooses anything. `note` (optional) is a line for
    the card on what the data is. `seed` is recorded in the card: no step draws a random number,
    so the same data gives the same bytes under any seed. `workers` processes (default: up to 2,
    one per CPU core) hash the texts; any number gives the same model.
    """
    import numpy as np

    from pricer.atomic import writable_folder

    if not sources:
        raise BadInput("Give at least one training source (--data FILE or hub id).")
    if isinstance(like, bool) or not isinstance(like, int) or not 1 <= like <= len(sources):
        raise BadInput(f"like (the sources to price like) must be 1 to {len(sources)}, the number of sources, "
                       f"not {like!r}.")
    if isinstance(validation, bool) or (isinstance(validation, int) and validation < 1):
        raise BadInput(f"validation must be a source or a number of held-out items (1 or more), not {validation!r}.")
    if not alpha > 0:
        raise BadInput(f"alpha must be positive, not {alpha}.")
    if not 0 <= other_weight <= 1:
        raise BadInput(f"other_weight must be within 0..1, not {other_weight}.")
    spec = spec or FeatureSpec()
    folder = writable_folder(out)
    pool = None
    # The three files are written into a staging folder inside `out` and moved in together at the
    # end: a failed or killed run leaves the previous model whole (the next run sweeps its leftovers).
    with staged_files(folder, [WEIGHTS_FILE, MANIFEST_FILE, CARD_FILE]) as staging:
        work = staging / "work"  # the datasets cache of the sources
        try:
            opened = [open_split(s, "train", cache_dir=work) for s in sources]
            held = None
            if isinstance(validation, int):
                first = opened[0]
                if validation >= len(first):
                    raise BadInput(f"Cannot hold out {validation:,} validation items of {len(first):,} in {sources[0]}: "
                                   "give fewer, or a validation source.")
                held = first.select(range(len(first) - validation, len(first)))
                opened[0] = first.select(range(len(first) - validation))
            elif validation is not None:
                held = open_split(validation, "test", cache_dir=work)
            elif sum(len(d) for d in opened[:like]) > CV_LIMIT:
                raise BadInput(f"The sources to price like have {sum(len(d) for d in opened[:like]):,} items, too many to "
                               "cross-validate: give validation items (a number to hold out, or a source) to calibrate "
                               "the price interval.")
            reference = np.concatenate([_prices(d) for d in opened[:like]])
            bar = _bar(sum(len(d) for d in opened), "features", progress)
            blocks, targets, roots, sizes, keys = [], [], [], [], []
            pool = _pool(workers)
            first_blocks = 0
            for i, data in enumerate(opened):
                table = np.ones(PRICE_BINS) if i < like else other_weight * price_weights(_prices(data), reference)
                weight_of = lambda p, table=table: table[price_bins(p)]  # noqa: E731
                b, t, r, k = _featurize(data, spec, weight_of, bar, pool)
                if i < like:
                    first_blocks += len(b)
                    keys += k
                blocks += b
                targets += t
                roots += r
                sizes.append(sum(map(len, t)))
            bar.close()
            if pool is not None:  # its workers' memory is not needed while solving
                pool.shutdown()
                pool = None
            if not sum(sizes[:like]):
                raise BadInput(f"{', '.join(map(str, sources[:like]))} hold no usable items to train on (each needs a text "
                               "and a numeric price).")
            rows = None  # the folds' copy of the rows to price like: only when they are cross-validated
            if validation is None and sum(sizes[:like]) >= 2 * CV_FOLDS:
                rows = _Rows(blocks, targets, roots, first_blocks, alpha, progress)
            folds = rows.cross_validate() if rows is not None else None
            weights, intercept, iterations = solve_ridge(blocks, targets, roots, alpha, progress)
            model = CpuModel(spec, weights.astype(np.float16), intercept, 0.0, 0.0)  # as stored: the figures are the file's
            held_priced = _priced(model, held) if held is not None else None  # priced once: offsets, then figures
            if folds is not None:
                model.low_offset, model.high_offset = interval_offsets(*folds)
                model.trained_keys, model.out_of_fold = _held_out(np.concatenate(keys), folds[0])
            elif held_priced is not None:
                logs, prices = held_priced
                model.low_offset, model.high_offset = interval_offsets(logs, np.log1p(prices))
            model.info = _info(sources, sizes, like, validation, held, seed, alpha, other_weight, iterations, note)
            if folds is not None:
                names = " + ".join(_source_name(s) for s in sources[:like])
                model.info["cross_validation"] = {
                    "source": f"{CV_FOLDS} folds of {names} (item i in fold i mod {CV_FOLDS})",
                    "figures": _figures(model, *folds).to_dict()}
                model.info["held_out"] = (f"the {len(model.trained_keys):,} items of {names} are kept as fingerprints with "
                                          "their cross-validation estimates, which an ensemble fitted on any of them uses "
                                          "instead of this model's own")
                if learning_curve:
                    model.info["learning_curve"] = {
                        "source": f"the same folds, each fold's model trained on its first N items of {names} (ordered by "
                                  "fingerprint) and all other sources, every item priced by a model that did not see it",
                        "points": [{"trained_on": n, "figures": _figures(model, logs, folds[1]).to_dict()}
                                   for n, logs in [*rows.learning_curve(np.concatenate(keys)),
                                                   (rows.fold_size(), folds[0])]]}
            del blocks, rows  # the features: not needed to price the validation and test items
            if held is not None:
                model.info["validation"]["figures"] = _measure(model, held_priced).to_dict()
            if test is not None:
                tested = open_split(test, "test", cache_dir=work)
                model.info["test"] = {"source": _source_name(test), "figures": _measure(model, _priced(model, tested)).to_dict()}
            try:
                save_model(model, staging)
                write_card(model, staging)
            except OSError as exc:
                raise BadInput(f"The trained model could not be written to {folder} ({exc.strerror or exc}): the "
                               "model there is unchanged. Free some space (or choose another --out) and train "
                               "again.") from None
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    return model


class _Rows:
    """The scaled feature blocks of all sources; the first `first` blocks are the distribution to
    price (weight 1, so unscaled), which the folds split."""

    def __init__(self, blocks: list, targets: list, roots: list, first: int, alpha: float, progress: bool) -> None:
        import numpy as np
        import scipy.sparse as sp

        self.x = sp.vstack(blocks[:first], format="csr")
        self.y, self.r = np.concatenate(targets[:first]), np.concatenate(roots[:first])
        self.others = (blocks[first:], targets[first:], roots[first:])
        self.fold = np.arange(len(self.y)) % CV_FOLDS
        self.alpha, self.progress = alpha, progress

    def _fit_folds(self, chosen: Any, desc: str) -> Any:
        """Out-of-fold ln(1 + price) of every item: fold k priced by a model of `chosen(k)`'s rows."""
        import numpy as np

        estimates = np.zeros(len(self.y))
        blocks, targets, roots = self.others
        bar = _bar(CV_FOLDS, desc, self.progress, " folds")
        for k in range(CV_FOLDS):
            rows = chosen(k)
            beta, c, _ = solve_ridge([self.x[rows], *blocks], [self.y[rows], *targets], [self.r[rows], *roots],
                                     self.alpha)
            out = self.fold == k
            estimates[out] = self.x[out] @ beta + c
            bar.update(1)
        bar.close()
        return estimates

    def fold_size(self) -> int:
        """In-distribution items a fold's model trains on, the smallest of the folds'."""
        return min(int((self.fold != k).sum()) for k in range(CV_FOLDS))

    def cross_validate(self) -> tuple[Any, Any]:
        """Out-of-fold estimates (item i in fold i mod CV_FOLDS) and the items' true ln(1 + price)."""
        import numpy as np

        return self._fit_folds(lambda k: np.flatnonzero(self.fold != k), "cross-validating"), self.y

    def learning_curve(self, keys: Any) -> list[tuple[int, Any]]:
        """(N, out-of-fold estimates) for each N of LEARNING_CURVE below a fold's training size:
        each fold's model trained on the first N of its items in fingerprint order (a fixed,
        content-given shuffle) and all other sources."""
        import numpy as np

        order = np.argsort(keys, kind="stable")
        points = []
        for n in (n for n in LEARNING_CURVE if n < self.fold_size()):
            points.append((n, self._fit_folds(lambda k, n=n: np.sort(order[self.fold[order] != k][:n]),
                                              f"learning curve, {n:,} items")))
        return points


def _held_out(keys: Any, estimates: Any) -> tuple[Any, Any]:
    """Sorted unique fingerprints and the out-of-fold estimate of each (an item given twice keeps
    its first)."""
    import numpy as np

    unique, first = np.unique(keys, return_index=True)
    return unique.astype(np.int64), np.asarray(estimates, dtype=np.float64)[first]


def _figures(model: CpuModel, logs: Any, truths: Any) -> Figures:
    """Figures of ln(1 + price) estimates against true ln(1 + price), with the model's interval."""
    import numpy as np

    return figures([model.estimate(v) for v in logs], np.expm1(truths).tolist())


def _priced(model: CpuModel, data: Any) -> tuple[Any, list[float]]:
    """The model's ln(1 + price) for each of `data`'s items, and their true prices: one pass."""
    import numpy as np

    logs, prices = [], []
    for parts, batch in batches(data):
        logs.append(model.log_prices(parts))
        prices += batch
    return np.concatenate(logs), prices


def interval_offsets(estimates: Any, truths: Any) -> tuple[float, float]:
    """The interval's log offsets: the 10% and 90% quantiles of truth - estimate in ln(1 + price)
    (estimates clipped at 0 as the model clips them), widened to contain 0."""
    import numpy as np

    tail = (1 - INTERVAL) / 2
    low, high = np.quantile(np.asarray(truths) - np.clip(estimates, 0.0, None), [tail, 1 - tail])
    return float(min(low, 0.0)), float(max(high, 0.0))


def _measure(model: CpuModel, priced: tuple[Any, list[float]]) -> Figures:
    """The figures of items `_priced` gave, with the model's interval as it is now."""
    logs, prices = priced
    return figures([model.estimate(v) for v in logs], prices)


def _info(sources: Sequence[Any], sizes: list[int], like: int, validation: Any, held: Any, seed: int, alpha: float,
          other_weight: float, iterations: int, note: str | None) -> dict[str, Any]:
    import numpy
    import scipy

    valid = ({"source": f"the last {validation} items of {_source_name(sources[0])}", "items": len(held)}
             if isinstance(validation, int) else
             {"source": _source_name(validation), "items": len(held)} if held is not None else {"source": None})
    other = (f"{other_weight:g} x price-distribution ratio to the sources priced like (capped at "
             f"{MAX_PRICE_WEIGHT:g})")
    info = {
        "method": "ridge regression of ln(1 + price) on hashed word 1-2 grams and title character 2-5 grams",
        "training": [{"source": _source_name(s), "items": n, "weight": "1 (the distribution to price)" if i < like
                      else other} for i, (s, n) in enumerate(zip(sources, sizes, strict=True))],
        "validation": valid,
        "parameters": {"alpha": alpha, "other_weight": other_weight, "price_bins": PRICE_BINS,
                       "max_price_weight": MAX_PRICE_WEIGHT, "tolerance": TOLERANCE, "iterations": iterations,
                       "max_iterations": MAX_ITERATIONS, "interval": INTERVAL},
        "seed": seed,
        "built_with": {"python": platform.python_version(), "numpy": numpy.__version__,
                       "scipy": scipy.__version__},
    }
    if note:
        info["note"] = note
    return info
