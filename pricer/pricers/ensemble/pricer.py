"""The ensemble pricer: its members run over the texts, their estimates combined with the fitted
weights (pricer.pricers.ensemble.weights), as the course's week-8 EnsembleAgent did.

`fit_members` runs the members over a validation split (the `ensemble fit` verb); EnsemblePricer
prices with them. Both find the members through the `lookup` their caller gives (the registry's
`member_lookup(options)`, so a command's options, such as --cpu-model, reach the members too);
this module never imports the registry. A member that cannot run, or fails, is left out and said;
the weights fitted for the members that answered are used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pricer.atomic import writable_file
from pricer.errors import BadInput, PricerError
from pricer.pricers.base import Estimate, Pricer, ProgressFn, check_estimator, check_texts
from pricer.pricers.ensemble.weights import (
    Combined,
    EnsembleWeights,
    combine,
    content_digest,
    default_path,
    fit,
    load,
    save,
    weights_payload,
)

DEFAULT_MEMBERS = ("fine-tuned", "rag", "cpu")  # the course's specialist, RAG frontier and random forest
VALIDATION_START, VALIDATION_SIZE = 1000, 250  # the course's test[1000:1250]
Lookup = Callable[[str], Pricer]
"""name -> the member pricer (pricer.pricers.registry.member_lookup(options))."""


def member_spec(spec: str) -> tuple[str, str | None]:
    """`name` or `name:estimator` (e.g. `fine-tuned:topk`).

    >>> member_spec("fine-tuned:topk"), member_spec("rag")
    (('fine-tuned', 'topk'), ('rag', None))
    """
    name, _, estimator = spec.strip().partition(":")
    if not name:
        raise BadInput(f"A member is a pricer name, optionally with :estimator, not {spec!r}.")
    if name == EnsemblePricer.name:
        raise BadInput("The ensemble cannot be a member of itself: name the pricers it combines.")
    return name, estimator or None


def run_members(members: Sequence[str], texts: Sequence[str], *, lookup: Lookup,
                progress: ProgressFn | None = None, held_out: dict[str, int] | None = None,
                ) -> tuple[dict[str, list[float | None]], dict[str, str], dict[str, str]]:
    """Each member's prices for the texts: (prices of the members that ran, why each other one
    did not, the labels of all). A member that is unavailable or fails is left out, with why.

    held_out: a dict to fill, for fitting: a member that keeps a record of its training items
    (`price_held_out`, pricer.pricers.base.Pricer) prices those it trained on without them, and
    the dict gets how many of the texts that was, per member.
    """
    prices, reasons, labels = {}, {}, {}
    total, done = len(texts) * len(members), 0
    for spec in members:
        name, estimator = member_spec(spec)
        pricer = lookup(name)
        labels[spec] = str(getattr(pricer, "label", name))
        reason = pricer.available()
        if reason:
            reasons[spec] = reason
        else:
            def step(now: int, _total: int, at: int = done) -> None:
                if progress is not None:
                    progress(at + now, total)

            price = getattr(pricer, "price_held_out", None) if held_out is not None else None
            try:
                estimates = (price or pricer.price)(list(texts), estimator=estimator, progress=step)
                prices[spec] = [getattr(e, "price", e) for e in estimates]
                if price is not None:
                    held_out[spec] = sum(bool((getattr(e, "details", None) or {}).get("out_of_fold")) for e in estimates)
            except PricerError as exc:
                reasons[spec] = str(exc)
        done += len(texts)
        if progress is not None:
            progress(done, total)
    return prices, reasons, labels


def fit_members(members: Sequence[str] = DEFAULT_MEMBERS, data: str | None = None, *, split: str = "test",
                start: int = VALIDATION_START, size: int = VALIDATION_SIZE, space: str = "auto",
                out: str | os.PathLike | None = None, lookup: Lookup,
                progress: ProgressFn | None = None) -> tuple[EnsembleWeights, Path]:
    """The `ensemble fit` verb: run each available member over items start..start+size-1 of the
    `split` of `data` (default PRICER_DATASET: the course's test[1000:1250]), fit, write the
    weights and their card to `out` (default default_path()). Returns them and the path."""
    from pricer.data.datasets import as_test_prompt, load_pricer_dataset

    if start < 0 or size < 1:
        raise BadInput(f"start must be 0 or more and size at least 1 (got {start}, {size}).")
    if not members:
        raise BadInput("Name the members: pricer names, e.g. fine-tuned rag cpu.")
    writable_file(out or default_path())  # before the members run, not after
    rows = load_pricer_dataset(data, split=split, size=start + size)
    rows_used = rows[start:start + size]
    if len(rows_used) < size:
        raise BadInput(f"{rows.source or data} has {len(rows):,} usable {split} items; items {start:,}-"
                       f"{start + size - 1:,} were asked for.")
    texts = [as_test_prompt(r["text"]) for r in rows_used]
    held_out: dict[str, int] = {}
    prices, reasons, labels = run_members(members, texts, lookup=lookup, progress=progress, held_out=held_out)
    if not prices:
        raise BadInput("None of the members can run here: " + "; ".join(f"{m}: {r}" for m, r in reasons.items()))
    card = {"data": rows.source or str(data), "split": split, "start": start, "labels": labels, "skipped": reasons,
            "out_of_fold": {m: n for m, n in held_out.items() if n}, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    weights = fit(prices, [r["price"] for r in rows_used], space=space, card=card)
    return weights, save(weights, out)


def fit_line(weights: EnsembleWeights, path: Path) -> str:
    """One line for the CLI: what was fitted and how well (cross-validated when it could be)."""
    full = weights.fits.get(weights.members)
    figures = (full.figures.get("cv") or full.figures.get("in_sample")) if full else {}
    skipped = weights.card.get("skipped") or {}
    left = f"; left out: {', '.join(skipped)}" if skipped else ""
    left += "".join(f"; {m} priced {n} it trained on out of fold" for m, n in (weights.card.get("out_of_fold") or {}).items())
    how = "cross-validated" if full and "cv" in full.figures else "fitted"
    score = f"Error=${figures['error']:,.2f} RMSLE={figures['rmsle']:.2f} Hits={figures['hits'] * 100:.1f}%" if figures else ""
    return f"{weights.label} on {weights.card.get('items', 0)} items, {how}: {score}{left}; written to {path}"


# --- the pricer ---------------------------------------------------------------------------------


class EnsemblePricer:
    """The other pricers' estimates, combined with the fitted weights (falls back to the weights
    of the members that answered)."""

    name = "ensemble"
    estimators: tuple[str, ...] = ()

    def __init__(self, weights: EnsembleWeights | str | os.PathLike | None = None, *, lookup: Lookup) -> None:
        self._weights = weights if isinstance(weights, EnsembleWeights) else None
        self._path = None if isinstance(weights, EnsembleWeights) else (Path(weights).expanduser() if weights else None)
        self._lookup = lookup

    @property
    def path(self) -> Path:
        return self._path or default_path()

    def weights(self) -> EnsembleWeights:
        if self._weights is None:
            self._weights = load(self.path)
        return self._weights

    @property
    def label(self) -> str:
        try:
            return self.weights().label
        except PricerError:
            return "ensemble (not fitted)"

    def available(self) -> str | None:
        """None when the weights load and at least one member can run, else why not."""
        if self._weights is None and not self.path.exists():
            return "no ensemble weights: run `python -m pricer ensemble fit`"
        try:
            weights = self.weights()
        except PricerError as exc:
            return str(exc)
        reasons = {}
        for spec in weights.members:
            reason = self._lookup(member_spec(spec)[0]).available()
            if reason is None:
                return None
            reasons[spec] = reason
        return "none of its members can run here: " + "; ".join(f"{m}: {r}" for m, r in reasons.items())

    def combined(self, texts: Sequence[str], progress: ProgressFn | None = None) -> list[Combined]:
        """Each text's ensemble estimate, with the members' prices and what was left out."""
        weights = self.weights()
        prices, reasons, _ = run_members(weights.members, texts, lookup=self._lookup, progress=progress)
        return [combine(weights, {m: p[i] for m, p in prices.items()}, reasons) for i in range(len(texts))]

    def price(self, texts: Sequence[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Any]:
        """The pricer interface: one Estimate per text (price None when no member answered)."""
        texts = check_texts(texts)
        check_estimator(self, estimator)
        n = len(texts)

        def in_texts(done: int, total: int) -> None:  # the members count texts x members: report texts, as pricers do
            if progress is not None:
                progress(done * n // max(total, 1), n)

        return [Estimate(c.price, details=c.details()) for c in self.combined(texts, in_texts)]

    def cache_key(self, estimator: str | None = None) -> str:
        """Identity for the evaluation cache: the weights and the members' own keys."""
        weights = self.weights()
        parts = [content_digest(weights_payload(weights))]
        for spec in weights.members:
            name, member_estimator = member_spec(spec)
            pricer = self._lookup(name)
            key = getattr(pricer, "cache_key", None)
            parts.append(key(member_estimator) if callable(key) and pricer.available() is None else f"{spec}:off")
        return f"{self.name}:{hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]}"
