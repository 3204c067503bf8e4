"""Train the CPU pricer: pricer datasets -> a weighted ridge regression on hashed n-grams.

    train(["train-550.jsonl", "train-community.jsonl"], validation=50, out="model/")

1. Each source is opened as an Arrow dataset (a local JSONL/Parquet/CSV file, a folder of
   splits, a `save_to_disk` folder, or a hub id's train split) and read in batches, so 400,000
   items are never held as Python objects at once; only their features are (sparse, ~2 GB for 400,000).
2. The FIRST source is the distribution to price. Items of the other sources are weighted by
   how much likelier their price is there than in their own source (histograms of ln price),
   times OTHER_WEIGHT: a source of cheap items then teaches what words cost without pulling
   every estimate down.
3. Ridge regression of ln(1 + price) on the features (pricer.pricers.cpu.features), solved to a tight
   tolerance by preconditioned conjugate gradients in float64 with numpy's own sums: no step
   draws a random number or depends on a thread count, so the same data gives the same bytes.
4. The 80% interval: the 10% and 90% quantiles of the log errors on items the model did not
   see: out-of-fold errors of a 5-fold cross-validation over the first source when it is small
   (up to CV_LIMIT items, e.g. the course's 500), else the validation items' errors.
5. The validation items (a source, or the last N items of the first source, held out of
   training) and an optional test set give the card's figures.

It writes the model (pricer.pricers.cpu.model) and CARD.md beside it; it does not price anything.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import atomic_write
from pricer.data.datasets import open_split
from pricer.errors import BadInput
from pricer.pricers.base import Estimate
from pricer.pricers.cpu.features import FeatureSpec, featurize, product_parts
from pricer.pricers.cpu.model import CARD_FILE, WEIGHTS_FILE, CpuModel, save_model
from pricer.pricers.estimates import INTERVAL

ALPHA = 0.4  # both chosen by 5-fold cross-validation over the course's 550 train items (pricer/pricers/cpu/shipped/README.md)
OTHER_WEIGHT = 0.1  # an item of a later source counts a tenth of one of the first, times its price weight
MAX_PRICE_WEIGHT = 20.0
PRICE_BINS = 20  # ln-price histogram bins over [MIN_LOG, MAX_LOG]
MIN_LOG, MAX_LOG = math.log(0.5), math.log(1000.0)  # the course's price range, $0.50 to $999.49
BATCH = 2048
CV_FOLDS = 5
CV_LIMIT = 20_000  # a first source up to this size is cross-validated; a larger one has held-out items enough
MAX_ITERATIONS = 200  # the course's data needs ~80; early-stopped CG regularises, and 400,000 items stay in budget
TOLERANCE = 1e-5  # relative residual: estimates within ~0.3% of the exact solution, in 2/3 of the steps


@dataclass(frozen=True)
class Figures:
    """How a model priced items it never saw (the course's metrics, and interval coverage)."""

    items: int
    average_error: float
    rmsle: float
    hits: float
    """Share of items within $40 or 20%, 0..1."""
    coverage: float
    """Share of items whose true price lies in the 80% interval, 0..1."""

    def to_dict(self) -> dict[str, float]:
        return {"items": self.items, "average_error": round(self.average_error, 4), "rmsle": round(self.rmsle, 6),
                "hits": round(self.hits, 6), "coverage": round(self.coverage, 6)}


def figures(estimates: Sequence[Estimate], truths: Sequence[float]) -> Figures:
    """The course's metrics (pricer.metrics) of the estimates, and how often truth is in the interval."""
    from pricer.metrics import Outcome, summarize

    metrics = summarize([Outcome(i, "", float(t), e.price, low=e.low, high=e.high)
                         for i, (e, t) in enumerate(zip(estimates, truths, strict=True))])
    return Figures(len(truths), metrics.average_error, metrics.rmsle, metrics.hits, metrics.coverage or 0.0)


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


# --- weights and the solver ---------------------------------------------------------------------


def price_bins(prices: Any) -> Any:
    """Each price's bin among PRICE_BINS equal bins of ln price over [MIN_LOG, MAX_LOG]."""
    import numpy as np

    edges = np.linspace(MIN_LOG, MAX_LOG, PRICE_BINS + 1)
    return np.clip(np.digitize(np.log(np.maximum(prices, 1e-3)), edges) - 1, 0, PRICE_BINS - 1)


def price_weights(prices: Any, reference: Any) -> Any:
    """Per ln-price bin, how much likelier it is among `reference` than among `prices`
    (add-one smoothed histograms, capped at MAX_PRICE_WEIGHT): index it with price_bins."""
    import numpy as np

    ours = np.bincount(price_bins(prices), minlength=PRICE_BINS) + 1.0
    theirs = np.bincount(price_bins(reference), minlength=PRICE_BINS) + 1.0
    return np.minimum((theirs / theirs.sum()) / (ours / ours.sum()), MAX_PRICE_WEIGHT)


def solve_ridge(blocks: list[Any], targets: list[Any], roots: list[Any], alpha: float,
                progress: bool = False) -> tuple[Any, float, int]:
    """min sum_i w_i (x_i.b + c - y_i)^2 + alpha |b|^2 over rows already scaled by sqrt(w_i).

    `blocks` are CSR matrices of scaled rows, `targets` the y of each block and `roots` the
    sqrt(w) of each block. Returns (b, c, iterations); c, the intercept, is not penalised.
    Conjugate gradients on the normal equations, preconditioned by their diagonal. Its sums
    are numpy's (pairwise, one thread), never a threaded BLAS's: the same bytes on every run.
    """
    import numpy as np

    width = blocks[0].shape[1]
    diagonal = np.full(width + 1, alpha)
    diagonal[-1] = 0.0
    rhs = np.zeros(width + 1)
    for x, y, r in zip(blocks, targets, roots, strict=True):
        diagonal[:-1] += np.asarray(x.multiply(x).sum(axis=0)).ravel()
        diagonal[-1] += _dot(r, r)
        rhs[:-1] += x.T @ (r * y)
        rhs[-1] += _dot(r, r * y)
    diagonal = np.maximum(diagonal, 1e-12)  # a column no row uses: its weight stays 0

    def normal(z: Any) -> Any:
        beta, c = z[:-1], z[-1]
        out = np.zeros(width + 1)
        for x, r in zip(blocks, roots, strict=True):
            fitted = x @ beta + r * c
            out[:-1] += x.T @ fitted
            out[-1] += _dot(r, fitted)
        out[:-1] += alpha * beta
        return out

    bar = _bar(None, "solving", progress)
    solution, residual = np.zeros(width + 1), rhs.copy()
    direction = residual / diagonal
    rz, goal = _dot(residual, direction), TOLERANCE * math.sqrt(_dot(rhs, rhs))
    steps = 0
    while steps < MAX_ITERATIONS and math.sqrt(_dot(residual, residual)) > goal:
        image = normal(direction)
        step = rz / _dot(direction, image)
        solution += step * direction
        residual -= step * image
        preconditioned = residual / diagonal
        rz, previous = _dot(residual, preconditioned), rz
        direction = preconditioned + (rz / previous) * direction
        steps += 1
        bar.update(1)
    bar.close()
    return solution[:-1], float(solution[-1]), steps


def _dot(a: Any, b: Any) -> float:
    import numpy as np

    return float(np.add.reduce(a * b))


def _bar(total: int | None, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="it" if desc == "solving" else " items", disable=not enabled,
                leave=False)


# --- training -----------------------------------------------------------------------------------


def _featurize(data: Any, spec: FeatureSpec, weight_of: Any, bar: Any, pool: Any) -> tuple[list, list, list, int]:
    """Scaled feature blocks, targets and sqrt-weights of one source, a batch at a time.

    Batches are hashed in `pool` (a process pool, or None for this process), at most two per
    worker in flight, and collected in order: the result does not depend on the pool.
    """
    from collections import deque

    import numpy as np

    blocks, targets, roots, n = [], [], [], 0
    pending: deque = deque()
    depth = 2 * (pool._max_workers if pool is not None else 0)

    def collect() -> None:
        nonlocal n
        rows, prices = pending.popleft()
        x = rows.result() if pool is not None else rows
        root = np.sqrt(weight_of(prices))
        # float64, as the solver's vectors: a float32 matrix would be copied to float64 on every product
        blocks.append(x.astype(np.float64).multiply(root[:, None]).tocsr())
        targets.append(np.log1p(prices))
        roots.append(root)
        n += len(prices)
        bar.update(len(prices))

    for parts, prices in batches(data):
        rows = pool.submit(featurize, parts, spec) if pool is not None else featurize(parts, spec)
        pending.append((rows, np.asarray(prices)))
        while len(pending) > depth:
            collect()
    while pending:
        collect()
    return blocks, targets, roots, n


def _pool(workers: int | None) -> Any:
    """A process pool of `workers` (default min(2, CPU cores)), or None to work in this process."""
    from concurrent.futures import ProcessPoolExecutor

    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    return ProcessPoolExecutor(workers) if workers > 1 else None


def _source_name(source: Any) -> str:
    return Path(str(source)).name if hub.is_local(str(source)) else str(source)


def train(sources: Sequence[str | os.PathLike], validation: str | os.PathLike | int | None = 50,
          out: str | os.PathLike = "cpu-model", seed: int = 42, progress: bool = True, *,
          test: str | os.PathLike | None = None, alpha: float = ALPHA,
          spec: FeatureSpec | None = None, workers: int | None = None) -> CpuModel:
    """Train on `sources` (the first is the distribution to price), validate, write `out`.

    `validation` is a source (its test split, for a hub id or a folder), or N: the last N items
    of the first source, held out of training. `test` (optional) adds figures on a test set to the
    card; it is never used to choose anything. `seed` is recorded in the card: no step draws a
    random number, so the same data gives the same bytes under any seed. `workers` processes
    (default: up to 2, one per CPU core) hash the texts; any number gives the same model.
    """
    import numpy as np

    from pricer.atomic import writable_folder

    if not sources:
        raise BadInput("Give at least one training source (--data FILE or hub id).")
    if isinstance(validation, bool) or (isinstance(validation, int) and validation < 1):
        raise BadInput(f"validation must be a source or a number of held-out items (1 or more), not {validation!r}.")
    if not alpha > 0:
        raise BadInput(f"alpha must be positive, not {alpha}.")
    spec = spec or FeatureSpec()
    folder = writable_folder(out)
    work = tempfile.mkdtemp(prefix="pricer-train-")
    pool = None
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
        elif len(opened[0]) > CV_LIMIT:
            raise BadInput(f"{sources[0]} has {len(opened[0]):,} items, too many to cross-validate: give validation "
                           "items (a number to hold out, or a source) to calibrate the price interval.")
        reference = _prices(opened[0])
        total = sum(len(d) for d in opened)
        bar = _bar(total, "features", progress)
        blocks, targets, roots, sizes = [], [], [], []
        pool = _pool(workers)
        first_blocks = 0
        for i, data in enumerate(opened):
            table = np.ones(PRICE_BINS) if i == 0 else OTHER_WEIGHT * price_weights(_prices(data), reference)
            weight_of = lambda p, table=table: table[price_bins(p)]  # noqa: E731
            b, t, r, n = _featurize(data, spec, weight_of, bar, pool)
            first_blocks = len(b) if i == 0 else first_blocks
            blocks += b
            targets += t
            roots += r
            sizes.append(n)
        bar.close()
        if pool is not None:  # its workers' memory is not needed while solving
            pool.shutdown()
            pool = None
        if not sizes[0]:
            raise BadInput(f"{sources[0]} holds no usable items to train on (each needs a text and a numeric price).")
        folds = None
        if sizes[0] <= CV_LIMIT and sizes[0] >= 2 * CV_FOLDS:
            folds = cross_validate(blocks, targets, roots, first_blocks, alpha, progress)
        weights, intercept, iterations = solve_ridge(blocks, targets, roots, alpha, progress)
        del blocks
        model = CpuModel(spec, weights.astype(np.float16), intercept, 0.0, 0.0)  # as stored: the figures are the file's
        held_priced = _priced(model, held) if held is not None else None  # priced once: offsets, then figures
        if folds is not None:
            model.low_offset, model.high_offset = interval_offsets(*folds)
        elif held_priced is not None:
            logs, prices = held_priced
            model.low_offset, model.high_offset = interval_offsets(logs, np.log1p(prices))
        model.info = _info(sources, sizes, validation, held, seed, alpha, iterations)
        if folds is not None:
            model.info["cross_validation"] = {
                "source": f"{CV_FOLDS} folds of {_source_name(sources[0])} (item i in fold i mod {CV_FOLDS})",
                "figures": figures([model.estimate(v) for v in folds[0]], np.expm1(folds[1]).tolist()).to_dict()}
        if held is not None:
            model.info["validation"]["figures"] = _measure(model, held_priced).to_dict()
        if test is not None:
            tested = open_split(test, "test", cache_dir=work)
            model.info["test"] = {"source": _source_name(test), "figures": _measure(model, _priced(model, tested)).to_dict()}
        save_model(model, folder)
        write_card(model, folder)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        shutil.rmtree(work, ignore_errors=True)
    return model


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


def cross_validate(blocks: list, targets: list, roots: list, first: int, alpha: float,
                   progress: bool = False) -> tuple[Any, Any]:
    """Out-of-fold ln(1 + price) estimates of the first source's items (its `first` blocks; item
    i in fold i mod CV_FOLDS), each fold's model trained on the other folds and all other
    sources, and the items' true ln(1 + price)."""
    import numpy as np
    import scipy.sparse as sp

    x = sp.vstack(blocks[:first], format="csr")  # the first source's rows have weight 1: unscaled
    y, r = np.concatenate(targets[:first]), np.concatenate(roots[:first])
    fold = np.arange(x.shape[0]) % CV_FOLDS
    estimates = np.zeros(len(y))
    for k in range(CV_FOLDS):
        keep = fold != k
        beta, c, _ = solve_ridge([x[keep], *blocks[first:]], [y[keep], *targets[first:]],
                                 [r[keep], *roots[first:]], alpha, progress)
        estimates[~keep] = x[~keep] @ beta + c
    return estimates, y


def _measure(model: CpuModel, priced: tuple[Any, list[float]]) -> Figures:
    """The figures of items `_priced` gave, with the model's interval as it is now."""
    logs, prices = priced
    return figures([model.estimate(v) for v in logs], prices)


def _info(sources: Sequence[Any], sizes: list[int], validation: Any, held: Any, seed: int, alpha: float,
          iterations: int) -> dict[str, Any]:
    import numpy
    import scipy

    valid = ({"source": f"the last {validation} items of {_source_name(sources[0])}", "items": len(held)}
             if isinstance(validation, int) else
             {"source": _source_name(validation), "items": len(held)} if held is not None else {"source": None})
    return {
        "method": "ridge regression of ln(1 + price) on hashed word 1-2 grams and title character 2-5 grams",
        "training": [{"source": _source_name(s), "items": n, "weight": "1" if i == 0 else
                      f"{OTHER_WEIGHT} x price-distribution ratio to the first source (capped at {MAX_PRICE_WEIGHT:g})"}
                     for i, (s, n) in enumerate(zip(sources, sizes, strict=True))],
        "validation": valid,
        "parameters": {"alpha": alpha, "other_weight": OTHER_WEIGHT, "price_bins": PRICE_BINS,
                       "max_price_weight": MAX_PRICE_WEIGHT, "tolerance": TOLERANCE, "iterations": iterations,
                       "max_iterations": MAX_ITERATIONS,
                       "interval": INTERVAL},
        "seed": seed,
        "built_with": {"python": platform.python_version(), "numpy": numpy.__version__,
                       "scipy": scipy.__version__},
    }


def write_card(model: CpuModel, folder: Path) -> Path:
    """CARD.md: what the model was trained on, how, and how well it did, from model.info."""
    info = model.info
    lines = ["# CPU pricer model card", "", f"Method: {info['method']}.", "",
             "| training source | items | weight |", "| --- | ---: | --- |"]
    lines += [f"| {t['source']} | {t['items']:,} | {t['weight']} |" for t in info["training"]]
    val = info["validation"]
    lines += ["", f"Validation: {val.get('source') or 'none'}" + (f" ({val['items']:,} items, never trained on)."
                                                                 if val.get("items") else ".")]
    params = ", ".join(f"{k}={v}" for k, v in info["parameters"].items())
    lines += ["", f"Parameters: {params}; feature hashing {model.spec.to_dict()}; seed {info['seed']} (no step is "
              "random: the same data gives the same bytes).",
              f"80% interval: ln(1 + price) from {model.low_offset:+.3f} to {model.high_offset:+.3f} around the estimate's: "
              "the 10% and 90% quantiles of the log errors on items the model did not see ("
              + ("the cross-validation's, so its coverage there is 80% by construction" if "cross_validation" in info
                 else "the validation items', so its coverage there is 80% by construction") + ").",
              "", "| figures | items | average error | RMSLE | hits | 80% interval coverage |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, part in (("cross-validation", info.get("cross_validation", {})), ("validation", val),
                       ("test", info.get("test", {}))):
        f = part.get("figures")
        if f:
            lines.append(f"| {name}: {part['source']} | {f['items']} | ${f['average_error']:,.2f} | {f['rmsle']:.3f} | "
                         f"{f['hits'] * 100:.1f}% | {f['coverage'] * 100:.1f}% |")
    digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    lines += ["", f"{WEIGHTS_FILE} sha256: `{digest}` (checked at load against model.json).",
              f"Built with {', '.join(f'{k} {v}' for k, v in info['built_with'].items())}.", ""]
    path = folder / CARD_FILE
    with atomic_write(path) as f:
        f.write("\n".join(lines))
    return path
