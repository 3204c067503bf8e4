"""The CPU pricer's trained model: price texts with an 80% interval; save and load it safely.

A model is a linear function of the hashed features (pricer.pricers.cpu.features) predicting
ln(1 + price), and the quantiles of its log errors on validation items, which turn each
estimate into an interval. On disk it is a folder:

- `model.safetensors`: the weights (float16), the intercept and the interval quantiles as float tensors,
  the fingerprints of the in-distribution items it trained on with their out-of-fold estimates
  (when it was cross-validated), and the feature settings as one JSON metadata entry. safetensors holds numbers only, so
  loading cannot run code (no pickle);
- `model.json`: the sha256 of `model.safetensors` and what the card says about it. A file
  whose bytes do not match that sha256, or whose tensors have the wrong shapes or values, is
  refused with a ModelUnavailable saying to retrain or restore it.

It does not train (pricer.pricers.cpu.training) and does not read datasets. Its estimates are
the pricers' own (pricer.pricers.base.Estimate), every one with an interval.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write
from pricer.errors import BadInput, ModelUnavailable
from pricer.pricers.base import Estimate
from pricer.pricers.cpu.features import FeatureSpec, dot, item_keys, product_parts
from pricer.pricers.estimates import MAX_PRICE  # a guard against a wild extrapolation

FORMAT = "pricer-cpu/1"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "model.json"
CARD_FILE = "CARD.md"
SHIPPED = Path(__file__).resolve().parent / "shipped"
"""The model trained on the course's data that ships with the project."""


@dataclass
class CpuModel:
    """Weights over hashed features predicting ln(1 + price), and the interval's log offsets."""

    spec: FeatureSpec
    weights: Any
    """float16 vector of spec.width (half the bytes of float32; the card's figures are the float16 model's)."""
    intercept: float
    low_offset: float
    """The 10% quantile of ln(1 + truth) - ln(1 + estimate) on items the model did not see (<= 0)."""
    high_offset: float
    """The 90% quantile of the same (>= 0)."""
    info: dict[str, Any] = field(default_factory=dict)
    """What model.json says: training data, parameters, figures (see pricer.pricers.cpu.training)."""
    trained_keys: Any = None
    """Sorted int64 fingerprints (features.item_keys) of the in-distribution items it trained on, or None."""
    out_of_fold: Any = None
    """Each of those items' ln(1 + price) estimate by the cross-validation's model that did not see it."""

    def log_prices(self, parts: Sequence[tuple[str, str]]) -> Any:
        """ln(1 + price) estimates for (title, description) pairs, as a float64 array."""
        return dot(parts, self.spec, self.weights) + self.intercept

    def held_out_log_prices(self, parts: Sequence[tuple[str, str]]) -> tuple[Any, Any]:
        """As log_prices, but an item this model trained on gets its out-of-fold estimate (made
        without it): estimates fit to weigh this model against others. Returns them and a mask of
        the items that were trained on."""
        import numpy as np

        logs = self.log_prices(parts)
        if self.trained_keys is None or not len(parts):
            return logs, np.zeros(len(parts), dtype=bool)
        keys = item_keys(parts)
        at = np.minimum(np.searchsorted(self.trained_keys, keys), len(self.trained_keys) - 1)
        seen = self.trained_keys[at] == keys
        logs[seen] = self.out_of_fold[at[seen]]
        return logs, seen

    def estimate(self, log_price: float, *, out_of_fold: bool = False) -> Estimate:
        """The Estimate for one ln(1 + price), clipped to $0..MAX_PRICE, in cents."""
        top = math.log1p(MAX_PRICE)
        to_price = lambda v: round(math.expm1(min(max(v, 0.0), top)), 2)  # noqa: E731
        value = min(max(float(log_price), 0.0), top)
        details = {"out_of_fold": True} if out_of_fold else {}
        return Estimate(to_price(value), to_price(value + self.low_offset), to_price(value + self.high_offset),
                        details)

    def predict(self, texts: Sequence[str], *, held_out: bool = False) -> list[Estimate]:
        """Each text (a dataset prompt, or a pasted title and description) -> its Estimate.

        held_out: an item the model trained on gets its out-of-fold estimate, marked in its
        details (`out_of_fold`), as held_out_log_prices.
        """
        if isinstance(texts, str):
            raise BadInput("predict takes a list of texts, not one text: wrap it in a list.")
        parts = [product_parts(t) for t in texts]
        if not held_out:
            return [self.estimate(v) for v in self.log_prices(parts)]
        logs, seen = self.held_out_log_prices(parts)
        return [self.estimate(v, out_of_fold=bool(s)) for v, s in zip(logs, seen, strict=True)]

    def prices(self, texts: Sequence[str]) -> list[float | None]:
        """The estimates alone: a predict function for pricer.evaluation.run."""
        return [e.price for e in self.predict(texts)]


# --- files --------------------------------------------------------------------------------------


def weights_bytes(model: CpuModel) -> bytes:
    """The model's safetensors bytes: the same model always gives the same bytes."""
    import numpy as np
    from safetensors.numpy import save

    tensors = {
        "weights": np.ascontiguousarray(model.weights, dtype=np.float16),
        "intercept": np.array([model.intercept], dtype=np.float64),
        "interval": np.array([model.low_offset, model.high_offset], dtype=np.float64),
    }
    if model.trained_keys is not None:
        tensors["trained_keys"] = np.ascontiguousarray(model.trained_keys, dtype=np.int64)
        tensors["out_of_fold"] = np.ascontiguousarray(model.out_of_fold, dtype=np.float64)
    settings = json.dumps({"format": FORMAT, "features": model.spec.to_dict()}, sort_keys=True)
    return save(tensors, metadata={"pricer": settings})  # one entry: its order cannot vary


def save_model(model: CpuModel, folder: str | os.PathLike) -> Path:
    """Write model.safetensors and model.json (with its sha256) into `folder`, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = weights_bytes(model)
    manifest = {"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(), **model.info}
    with atomic_write(folder / WEIGHTS_FILE, "wb") as f:
        f.write(data)
    with atomic_write(folder / MANIFEST_FILE) as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder


def _refuse(folder: Path, why: str) -> ModelUnavailable:
    return ModelUnavailable(f"The CPU pricer's model in {folder} {why}: retrain it with `python -m pricer train` "
                            "or restore the shipped files (git checkout pricer/pricers/cpu/shipped).")


def missing(folder: Path) -> str | None:
    """None when `folder` holds the model's two files, else why not (the pricer's available() reason)."""
    if (folder / WEIGHTS_FILE).is_file() and (folder / MANIFEST_FILE).is_file():
        return None
    return (f"no CPU pricer model in {folder} (it needs {WEIGHTS_FILE} and {MANIFEST_FILE}): train one "
            "with `python -m pricer train --data SOURCE --out DIR`")


def load_model(folder: str | os.PathLike | None = None) -> CpuModel:
    """The model in `folder` (default: the shipped one), checked against its sha256 and shapes."""
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.numpy import load

    folder = Path(folder).expanduser() if folder else SHIPPED
    if (reason := missing(folder)) is not None:
        raise ModelUnavailable(f"{reason[0].upper()}{reason[1:]}.")
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        data = (folder / WEIGHTS_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise _refuse(folder, f"cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(folder, f"is not a {FORMAT} model ({MANIFEST_FILE} says otherwise)")
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise _refuse(folder, f"is corrupted or was changed: {WEIGHTS_FILE} does not match the sha256 in "
                              f"{MANIFEST_FILE}")
    try:
        tensors = load(data)
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])  # load() checked its bounds
        settings = json.loads(header["__metadata__"]["pricer"])
        spec = FeatureSpec.from_dict(settings["features"])
    except (SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise _refuse(folder, f"is malformed ({exc})") from None
    layout = {"weights": ((spec.width,), np.float16), "intercept": ((1,), np.float64), "interval": ((2,), np.float64)}
    for name, (shape, dtype) in layout.items():
        tensor = tensors.get(name)
        if tensor is None or tensor.shape != shape or tensor.dtype != dtype:
            got = "nothing" if tensor is None else f"{tensor.dtype} {tensor.shape}"
            raise _refuse(folder, f"is malformed: {name} should be {np.dtype(dtype)} of shape {shape}, not {got}")
    held = [tensors.get("trained_keys"), tensors.get("out_of_fold")]
    if any(t is not None for t in held):
        keys, logs = held
        if (keys is None or logs is None or keys.ndim != 1 or keys.dtype != np.int64 or logs.dtype != np.float64
                or logs.shape != keys.shape):
            raise _refuse(folder, "is malformed: trained_keys (int64) and out_of_fold (float64) must come together, "
                                  "one estimate per key")
        if len(keys) > 1 and not (np.diff(keys) > 0).all():
            raise _refuse(folder, "is malformed: trained_keys must be sorted without repeats")
    if extra := sorted(set(tensors) - {*layout, "trained_keys", "out_of_fold"}):
        raise _refuse(folder, f"is malformed: it holds tensors no CPU model has ({', '.join(extra)})")
    if not all(np.isfinite(t).all() for t in tensors.values()):
        raise _refuse(folder, "is malformed: it holds values that are not finite")
    low, high = (float(v) for v in tensors["interval"])
    if not low <= 0.0 <= high:
        raise _refuse(folder, f"is malformed: its interval offsets ({low}, {high}) do not contain 0")
    info = {k: v for k, v in manifest.items() if k not in {"format", "sha256"}}
    return CpuModel(spec, tensors["weights"], float(tensors["intercept"][0]), low, high, info,
                    tensors.get("trained_keys"), tensors.get("out_of_fold"))
