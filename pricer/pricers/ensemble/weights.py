"""The ensemble's weights: the other pricers' estimates combined with weights fitted on items none
of them was trained on, as the course's week-8 EnsembleAgent did ($52.86 on the 250 test items).

The course fitted a linear regression on its three members' estimates plus their min and max over
test items 1000-1249 (never used for anything else). A member that trained on some fitting items
and kept a record of them (the CPU pricer, cross-validated on the course's test[250:1250]) gives
its out-of-fold estimates of those instead (pricer.pricers.ensemble.pricer.run_members), so it
does not look better than it is; the card counts them. `fit` does the same for any members, for
every non-empty subset of them, so that when a member cannot run (no key, no GPU, an error) the
ensemble uses the weights fitted for the members that did answer, and says so. Each subset is
fitted on the items where all its members gave a number. Fitting in log space (log(1 + price))
is compared with the course's dollars by 5-fold cross-validation on the same items, and `space`
"auto" keeps the better (the card shows both). A combination below $0 counts as $0, one above
MAX_PRICE (pricer.pricers.estimates: $1,000,000, the top of every pricer's range) as that.

The weights are a JSON file with a sha256 of its content, refused when edited or damaged, and a
card inside (members, data, sizes, figures from pricer.metrics), also written as Markdown beside
it. No pickle: the course's joblib file could run code when loaded.

    >>> w = fit({"a": [10, 20, 30, 40, 50, 60, 70], "b": [12, 18, 33, 41, 45, 66, 71]}, [11, 19, 31, 40, 48, 62, 70])
    >>> round(predict(w, {"a": 25, "b": 24}), 2), combine(w, {"a": 25, "b": None}).note
    (24.49, 'without b (no number): weights fitted for a')

This module is arithmetic and a file: it never runs a pricer (pricer.pricers.ensemble.pricer does).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write
from pricer.errors import BadInput
from pricer.pricers.estimates import MAX_PRICE

FORMAT = 1
KIND = "pricer-ensemble-weights"
SPACES = ("linear", "log")
FOLDS = 5


# --- the fit ------------------------------------------------------------------------------------


def features(members: Sequence[str]) -> tuple[str, ...]:
    """The regression's inputs: each member's estimate, plus their min and max (the course's)."""
    return tuple(members) + (("min", "max") if len(members) > 1 else ())


def _row(prices: Sequence[float], space: str) -> list[float]:
    values = [math.log1p(max(p, 0.0)) for p in prices] if space == "log" else [float(p) for p in prices]
    return values + ([min(values), max(values)] if len(values) > 1 else [])


@dataclass(frozen=True)
class Fit:
    """The weights of one subset of members."""

    members: tuple[str, ...]
    coef: tuple[float, ...]
    """One weight per feature: the members in order, then min and max when there are two or more."""
    intercept: float
    rows: int
    """Validation items it was fitted on (those where all its members gave a number)."""
    figures: dict[str, Any] = field(default_factory=dict)
    """error / rmsle / hits on those items: in-sample, and cross-validated ("cv")."""

    def predict(self, prices: Sequence[float], space: str) -> float:
        value = self.intercept + sum(c * x for c, x in zip(self.coef, _row(prices, space), strict=True))
        if space == "log":
            value = math.expm1(min(value, math.log1p(MAX_PRICE)))
        return min(max(value, 0.0), MAX_PRICE) if math.isfinite(value) else MAX_PRICE


def _solve(x_rows: list[list[float]], y: list[float]) -> tuple[tuple[float, ...], float]:
    """Least squares with an intercept (the minimum-norm solution when the inputs are collinear,
    as two members' min and max are)."""
    import numpy as np

    x = np.column_stack([np.asarray(x_rows, dtype=np.float64), np.ones(len(y))])
    solution = np.linalg.lstsq(x, np.asarray(y, dtype=np.float64), rcond=None)[0]
    return tuple(float(c) for c in solution[:-1]), float(solution[-1])


def _target(truth: float, space: str) -> float:
    return math.log1p(truth) if space == "log" else truth


def _figures(guesses: Sequence[float], truths: Sequence[float]) -> dict[str, float]:
    """The course's metrics of guesses against truths (pricer.metrics)."""
    from pricer.metrics import Outcome, summarize

    m = summarize([Outcome(i, "", t, g) for i, (g, t) in enumerate(zip(guesses, truths, strict=True))])
    return {"error": round(m.average_error, 4), "rmsle": round(m.rmsle, 4), "hits": round(m.hits, 4), "size": m.size}


def _fit_subset(members: tuple[str, ...], table: list[list[float]], truths: list[float], space: str) -> Fit:
    coef, intercept = _solve([_row(r, space) for r in table], [_target(t, space) for t in truths])
    fitted = Fit(members, coef, intercept, len(truths))
    guesses = [fitted.predict(r, space) for r in table]
    figures = {"in_sample": _figures(guesses, truths)}
    cv = _cross_validated(members, table, truths, space)
    if cv is not None:
        figures["cv"] = _figures(cv, truths)
    return Fit(members, coef, intercept, len(truths), figures)


def _cross_validated(members: tuple[str, ...], table: list[list[float]], truths: list[float],
                     space: str) -> list[float] | None:
    """Each item priced by weights fitted on the other folds (item i is in fold i % 5)."""
    if len(truths) < FOLDS * (len(features(members)) + 2):
        return None
    guesses = [0.0] * len(truths)
    for fold in range(FOLDS):
        train = [i for i in range(len(truths)) if i % FOLDS != fold]
        coef, intercept = _solve([_row(table[i], space) for i in train], [_target(truths[i], space) for i in train])
        part = Fit(members, coef, intercept, len(train))
        for i in range(fold, len(truths), FOLDS):
            guesses[i] = part.predict(table[i], space)
    return guesses


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class EnsembleWeights:
    """Weights for every subset of `members` that had enough items, and the card."""

    members: tuple[str, ...]
    space: str
    """"linear" (dollars, the course's) or "log" (log(1 + price))."""
    fits: dict[tuple[str, ...], Fit]
    card: dict[str, Any] = field(default_factory=dict)

    def fit_for(self, answered: Iterable[str]) -> Fit | None:
        """The weights for the members that answered: those fitted for exactly them, else for the
        largest fitted subset of them (the best on validation among equals); None when none is."""
        answered = set(answered)
        usable = [f for f in self.fits.values() if set(f.members) <= answered]
        if not usable:
            return None
        return min(usable, key=lambda f: (-len(f.members), f.figures.get("in_sample", {}).get("error", math.inf)))

    @property
    def label(self) -> str:
        return f"ensemble of {' + '.join(self.members)} ({'log-' if self.space == 'log' else ''}linear regression)"


def fit(member_predictions: Mapping[str, Sequence[float | None]], truths: Sequence[float], *,
        space: str = "auto", card: Mapping[str, Any] | None = None) -> EnsembleWeights:
    """Weights for every non-empty subset of the members, fitted on the validation items: one
    estimate per item and member (None where a member gave no number) and the true prices."""
    members = tuple(member_predictions)
    truths = [float(t) for t in truths]
    if not members:
        raise BadInput("An ensemble needs at least one member with estimates.")
    if len(set(members)) != len(members) or any(not m or not isinstance(m, str) for m in members):
        raise BadInput(f"Member names must be distinct and not empty: {members}.")
    if space not in (*SPACES, "auto"):
        raise BadInput(f"space must be 'linear', 'log' or 'auto', not {space!r}.")
    if any(not math.isfinite(t) or t < 0 for t in truths):
        raise BadInput("True prices must be numbers of at least $0.")
    columns = {}
    for name in members:
        values = list(member_predictions[name])
        if len(values) != len(truths):
            raise BadInput(f"{name} has {len(values)} estimates for {len(truths)} items: give one per item.")
        columns[name] = [_number(v) for v in values]
    chosen, compared, by = space, {}, "cv"
    if space == "auto":
        for candidate in SPACES:
            full = _fits(members, columns, truths, candidate, only_full=True)
            figures = next(iter(full.values())).figures if full else {}
            by = "cv" if "cv" in figures else "in_sample"
            compared[candidate] = figures.get(by, {}).get("error", math.inf)
        chosen = min(SPACES, key=lambda s: compared[s])  # ties: linear, the course's
        compared = {s: e for s, e in compared.items() if math.isfinite(e)}  # no full fit (a member gave no
        # number): nothing to compare, and the file holds only finite numbers
    fits = _fits(members, columns, truths, chosen)
    if not fits:
        raise BadInput(f"Too few items with a number from every member to fit an ensemble of {', '.join(members)}: "
                       "use more validation items.")
    alone = {m: _figures([v or 0.0 for v in columns[m]], truths) for m in members}
    full_card = {"members": list(members), "space": chosen, "space_error": compared or None, "space_error_by": by,
                 "method": "least squares on the members' estimates plus their min and max (the course's week 8)",
                 "items": len(truths), "members_alone": alone, **(dict(card) if card else {})}
    return EnsembleWeights(members, chosen, fits, full_card)


def _fits(members: tuple[str, ...], columns: dict[str, list[float | None]], truths: list[float], space: str,
          only_full: bool = False) -> dict[tuple[str, ...], Fit]:
    sizes = [len(members)] if only_full else range(len(members), 0, -1)
    fits = {}
    for size in sizes:
        for subset in itertools.combinations(members, size):
            rows = [i for i in range(len(truths)) if all(columns[m][i] is not None for m in subset)]
            if len(rows) < len(features(subset)) + 2:  # fewer items than weights: no fit
                continue
            table = [[columns[m][i] for m in subset] for i in rows]
            fits[subset] = _fit_subset(subset, table, [truths[i] for i in rows], space)
    return fits


# --- combining ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Combined:
    """One product's ensemble estimate and how it was made."""

    price: float | None
    """None when no member that the weights know gave a number."""
    used: tuple[str, ...]
    member_prices: dict[str, float | None]
    missing: dict[str, str]
    """Members left out, each with why (its unavailability reason, an error, "no number")."""

    @property
    def note(self) -> str:
        """'' when every member was used, else what was left out and what the weights are for."""
        if not self.missing:
            return ""
        left = ", ".join(f"{m} ({why})" for m, why in self.missing.items())
        if not self.used:
            return f"no estimate: no member answered ({left})"
        return f"without {left}: weights fitted for {' + '.join(self.used)}"

    def details(self) -> dict[str, Any]:
        return {"members": dict(self.member_prices), "used": list(self.used), "note": self.note}


def combine(weights: EnsembleWeights, member_prices: Mapping[str, Any],
            reasons: Mapping[str, str] | None = None) -> Combined:
    """The ensemble's estimate from the members' prices (None or absent: that member did not
    answer; `reasons` says why, default "no number")."""
    reasons = dict(reasons or {})
    prices = {m: _number(member_prices.get(m)) for m in weights.members}
    missing = {m: reasons.get(m) or ("not run" if m not in member_prices else "no number")
               for m in weights.members if prices[m] is None}
    chosen = weights.fit_for(m for m in weights.members if prices[m] is not None)
    if chosen is None:
        return Combined(None, (), prices, missing)
    unused = {m: "no weights for it with the others" for m in weights.members
              if prices[m] is not None and m not in chosen.members}
    price = chosen.predict([prices[m] for m in chosen.members], weights.space)
    return Combined(price, chosen.members, prices, {**missing, **unused})


def predict(weights: EnsembleWeights, member_prices: Mapping[str, Any]) -> float | None:
    """combine(...).price."""
    return combine(weights, member_prices).price


# --- the weights file ---------------------------------------------------------------------------


def default_path() -> Path:
    """Where `ensemble fit` writes the weights and the pricer reads them: cache_dir()/ensemble."""
    from pricer.config import cache_dir

    return cache_dir() / "ensemble" / "weights.json"


def weights_payload(weights: EnsembleWeights) -> dict[str, Any]:
    return {"format": FORMAT, "kind": KIND, "members": list(weights.members), "space": weights.space,
            "fits": [{"members": list(f.members), "coef": list(f.coef), "intercept": f.intercept, "rows": f.rows,
                      "figures": f.figures} for f in weights.fits.values()],
            "card": weights.card}


def content_digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def save(weights: EnsembleWeights, path: str | os.PathLike | None = None) -> Path:
    """Write the weights (JSON with its sha256) and the card (Markdown, same name .md), atomically."""
    path = Path(path).expanduser() if path else default_path()
    payload = weights_payload(weights)
    text = json.dumps({**payload, "sha256": content_digest(payload)}, indent=1, allow_nan=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, content in ((path, text), (path.with_suffix(".md"), card_markdown(weights))):
            with atomic_write(target) as f:
                f.write(content)
    except OSError as exc:
        raise BadInput(f"Could not write the ensemble weights to {path}: {exc.strerror or exc}. Choose another --out.") from None
    return path


def load(path: str | os.PathLike | None = None) -> EnsembleWeights:
    """The weights in `path` (default: default_path()); a BadInput when missing, damaged or edited."""
    path = Path(path).expanduser() if path else default_path()
    refit = "fit them again with `python -m pricer ensemble fit`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"No ensemble weights at {path}: {refit}.") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"The ensemble weights at {path} are unreadable ({type(exc).__name__}): {refit}.") from None

    def damaged(what: str) -> BadInput:
        return BadInput(f"The ensemble weights at {path} are damaged or were edited ({what}): {refit}.")

    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise damaged("not an ensemble weights file")
    if data.get("format") != FORMAT:
        raise damaged(f"format {data.get('format')!r}, this version reads {FORMAT}")
    claimed = data.pop("sha256", None)
    try:
        if claimed != content_digest(data):
            raise damaged("its content does not match its sha256")
    except ValueError:  # NaN or infinity, which JSON cannot hold
        raise damaged("a value that is not a number") from None
    members, space = data.get("members"), data.get("space")
    if (not isinstance(members, list) or not members or len(set(members)) != len(members)
            or not all(isinstance(m, str) and m for m in members)):
        raise damaged("its members")
    if space not in SPACES:
        raise damaged(f"space {space!r}")
    fits = {}
    for raw in data.get("fits") if isinstance(data.get("fits"), list) else []:
        try:
            subset = tuple(raw["members"])
            coef = tuple(float(c) for c in raw["coef"])
            intercept, rows = float(raw["intercept"]), int(raw["rows"])
        except (KeyError, TypeError, ValueError):
            raise damaged("a fit") from None
        if (not subset or not set(subset) <= set(members) or len(coef) != len(features(subset))
                or not all(math.isfinite(v) for v in (*coef, intercept))):
            raise damaged(f"the fit for {' + '.join(map(str, subset))}")
        fits[subset] = Fit(subset, coef, intercept, rows, raw.get("figures") or {})
    if not fits:
        raise damaged("no fits")
    return EnsembleWeights(tuple(members), space, fits, data.get("card") or {})


def _out_of_fold(card: Mapping[str, Any]) -> str:
    held = card.get("out_of_fold") or {}
    if not held:
        return ""
    return (", or priced out of fold where one was: " + ", ".join(f"{m} trained on {n} of them and priced each with "
                                                                   "the cross-validation model that had not"
                                                                   for m, n in held.items()))


def card_markdown(weights: EnsembleWeights) -> str:
    """The card as Markdown: what was fitted on what, and how well."""
    card = weights.card

    def row(name: str, f: Mapping[str, Any]) -> str:
        return f"| {name} | {f.get('size', '')} | ${f.get('error', 0):,.2f} | {f.get('rmsle', 0):.3f} | {f.get('hits', 0) * 100:.1f}% |"

    lines = [f"# Ensemble weights: {' + '.join(weights.members)}", "",
             f"Method: {card.get('method', 'least squares')}, in {weights.space} space.", ""]
    if card.get("data"):
        lines += [f"Validation data: {card['data']}, split {card.get('split', '?')}, items "
                  f"{card.get('start', 0)}-{card.get('start', 0) + card.get('items', 0) - 1} ({card.get('items', 0)} items), "
                  "never used to train a member" + _out_of_fold(card) + ".", ""]
    if card.get("space_error"):
        how = "Cross-validated" if card.get("space_error_by") == "cv" else "Fitted (too few items to cross-validate)"
        lines += [f"{how} average error by space: " + ", ".join(
            f"{s} ${e:,.2f}" for s, e in card["space_error"].items()) + f" -> {weights.space}.", ""]
    if card.get("skipped"):
        lines += ["Members not fitted: " + "; ".join(f"{m} ({why})" for m, why in card["skipped"].items()), ""]
    lines += ["| pricer | items | error | RMSLE | hits |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, figures in (card.get("members_alone") or {}).items():
        lines.append(row(f"{name} alone", figures))
    for f in weights.fits.values():
        for kind in ("in_sample", "cv"):
            if kind in f.figures:
                lines.append(row(f"ensemble {' + '.join(f.members)} ({'cross-validated' if kind == 'cv' else 'fitted'})",
                                 f.figures[kind]))
    return "\n".join(lines) + "\n"
