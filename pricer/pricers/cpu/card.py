"""The CPU pricer's card: the figures of a model on items it never saw, and CARD.md written from
what training recorded in model.info (data, weights, parameters, cross-validation, the learning
curve, validation and test figures, the interval and its coverage).

It computes no model and reads no data: pricer.pricers.cpu.training gives it both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pricer.atomic import atomic_write
from pricer.pricers.base import Estimate
from pricer.pricers.cpu.model import CARD_FILE, WEIGHTS_FILE, CpuModel


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


def _row(name: str, f: dict) -> str:
    return (f"| {name} | {f['items']:,} | ${f['average_error']:,.2f} | {f['rmsle']:.3f} | {f['hits'] * 100:.1f}% | "
            f"{f['coverage'] * 100:.1f}% |")


def write_card(model: CpuModel, folder: Path) -> Path:
    """CARD.md: what the model was trained on, how, and how well it did, from model.info."""
    info = model.info
    lines = ["# CPU pricer model card", "", f"Method: {info['method']}.", "",
             "| training source | items | weight |", "| --- | ---: | --- |"]
    lines += [f"| {t['source']} | {t['items']:,} | {t['weight']} |" for t in info["training"]]
    if info.get("note"):
        lines += ["", info["note"]]
    val = info["validation"]
    lines += ["", f"Validation: {val.get('source') or 'none'}" + (f" ({val['items']:,} items, never trained on)."
                                                                 if val.get("items") else ".")]
    params = ", ".join(f"{k}={v}" for k, v in info["parameters"].items())
    calibrated = ("the cross-validation's, so its coverage there is 80% by construction" if "cross_validation" in info
                  else "the validation items', so its coverage there is 80% by construction")
    lines += ["", f"Parameters: {params}; feature hashing {model.spec.to_dict()}; seed {info['seed']} (no step is "
              "random: the same data gives the same bytes).",
              f"80% interval: ln(1 + price) from {model.low_offset:+.3f} to {model.high_offset:+.3f} around the "
              f"estimate's: the 10% and 90% quantiles of the log errors on items the model did not see ({calibrated}).",
              "", "| figures | items | average error | RMSLE | hits | 80% interval coverage |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, part in (("cross-validation", info.get("cross_validation", {})), ("validation", val),
                       ("test", info.get("test", {}))):
        if part.get("figures"):
            lines.append(_row(f"{name}: {part['source']}", part["figures"]))
    curve = info.get("learning_curve")
    if curve:
        lines += ["", f"Learning curve: {curve['source']}.", "",
                  "| in-distribution items trained on | items priced | average error | RMSLE | hits | "
                  "80% interval coverage |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [_row(f"{point['trained_on']:,}", point["figures"]) for point in curve["points"]]
    held = info.get("held_out")
    if held:
        lines += ["", f"Out-of-fold estimates: {held}"]
    digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    lines += ["", f"{WEIGHTS_FILE} sha256: `{digest}` (checked at load against model.json).",
              f"Built with {', '.join(f'{k} {v}' for k, v in info['built_with'].items())}.", ""]
    path = folder / CARD_FILE
    with atomic_write(path) as f:
        f.write("\n".join(lines))
    return path
