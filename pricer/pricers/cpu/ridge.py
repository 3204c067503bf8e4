"""The CPU pricer's regression: weights that make other sources look like the distribution to price,
and the weighted ridge regression of ln(1 + price) on hashed features.

    min sum_i w_i (x_i.b + c - y_i)^2 + alpha |b|^2

is solved by preconditioned conjugate gradients in float64 with numpy's own sums: no step draws a
random number or depends on a thread count, so the same rows give the same bytes. It reads no
data and writes nothing (pricer.pricers.cpu.training does both).
"""

from __future__ import annotations

import math
from typing import Any

MAX_PRICE_WEIGHT = 20.0
PRICE_BINS = 20  # ln-price histogram bins over [MIN_LOG, MAX_LOG]
MIN_LOG, MAX_LOG = math.log(0.5), math.log(1000.0)  # the course's price range, $0.50 to $999.49
MAX_ITERATIONS = 200  # the course's data needs ~80; early-stopped CG regularises, and 400,000 items stay in budget
TOLERANCE = 1e-5  # relative residual: estimates within ~0.3% of the exact solution, in 2/3 of the steps


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

    from tqdm.auto import tqdm

    bar = tqdm(desc="solving", unit="it", disable=not progress, leave=False)
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
