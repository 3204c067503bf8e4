"""pricer.pricers.ensemble: the course's linear regression on members' estimates plus their min and max,
fitted for every subset of members, the fallback when one cannot answer, and the weights file."""

from __future__ import annotations

import json
import math
import random

import pytest

from pricer.errors import BadInput, PricerError
from pricer.pricers import Estimate
from pricer.pricers.ensemble import (
    EnsemblePricer,
    EnsembleWeights,
    combine,
    features,
    fit,
    fit_line,
    fit_members,
    load,
    predict,
    run_members,
    save,
)

TRUE = {"a": 0.5, "b": 0.3, "c": 0.1, "min": 0.2, "max": -0.15}
INTERCEPT = 7.0


def synthetic(n: int = 300, seed: int = 42) -> tuple[dict[str, list[float]], list[float]]:
    """Three members around a hidden price, and truths that are exactly TRUE's combination of them."""
    rng = random.Random(seed)
    members: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    truths = []
    for _ in range(n):
        hidden = math.exp(rng.uniform(1, 6.5))
        row = {m: hidden * rng.uniform(0.5, 1.6) for m in members}
        for m in members:
            members[m].append(row[m])
        values = {**row, "min": min(row.values()), "max": max(row.values())}
        truths.append(INTERCEPT + sum(TRUE[f] * values[f] for f in TRUE))
    return members, truths


def test_the_fit_recovers_known_weights():
    members, truths = synthetic()
    weights = fit(members, truths, space="linear")
    full = weights.fits[("a", "b", "c")]
    assert features(full.members) == ("a", "b", "c", "min", "max")
    assert full.coef == pytest.approx([TRUE[f] for f in features(full.members)], abs=1e-9)
    assert full.intercept == pytest.approx(INTERCEPT, abs=1e-6)
    assert full.figures["in_sample"]["error"] == pytest.approx(0, abs=1e-6)
    assert predict(weights, {"a": 100.0, "b": 50.0, "c": 80.0}) == pytest.approx(7 + 50 + 15 + 8 + 10 - 15)


def test_every_subset_of_members_gets_its_own_weights():
    members, truths = synthetic()
    weights = fit(members, truths, space="linear")
    assert set(weights.fits) == {("a", "b", "c"), ("a", "b"), ("a", "c"), ("b", "c"), ("a",), ("b",), ("c",)}
    alone = weights.fits[("b",)]
    assert len(alone.coef) == 1 and alone.rows == 300
    assert weights.card["members_alone"]["a"]["size"] == 300


def test_log_space_is_chosen_when_it_predicts_better_and_the_card_says_so():
    rng = random.Random(1)
    a = [math.exp(rng.uniform(1, 6.5)) for _ in range(200)]
    b = [x * rng.uniform(0.5, 2) for x in a]
    truths = [3 * x ** 0.7 * y ** 0.2 for x, y in zip(a, b, strict=True)]  # a product of powers: linear in logs
    weights = fit({"a": a, "b": b}, truths)
    assert weights.space == "log" and weights.card["space_error_by"] == "cv"
    errors = weights.card["space_error"]
    assert errors["log"] < errors["linear"]
    assert fit({"a": a, "b": b}, truths, space="linear").space == "linear"


def test_a_missing_member_falls_back_to_the_weights_fitted_for_the_others_and_says_so():
    members, truths = synthetic()
    weights = fit(members, truths, space="linear")
    result = combine(weights, {"a": 100.0, "b": 50.0, "c": None}, {"c": "OPENAI_API_KEY is not set"})
    assert result.used == ("a", "b")
    assert result.price == pytest.approx(weights.fits[("a", "b")].predict([100.0, 50.0], "linear"))
    assert result.note == "without c (OPENAI_API_KEY is not set): weights fitted for a + b"
    assert result.details() == {"members": {"a": 100.0, "b": 50.0, "c": None}, "used": ["a", "b"],
                                "note": result.note}
    only = combine(weights, {"b": 50.0, "a": "cheap"})
    assert only.used == ("b",) and only.note == "without a (no number), c (not run): weights fitted for b"
    none = combine(weights, {})
    assert none.price is None and none.note.startswith("no estimate: no member answered")
    assert combine(weights, {"a": 100.0, "b": 50.0, "c": 80.0}).note == ""


def test_each_subset_is_fitted_on_the_items_where_its_members_answered():
    members, truths = synthetic()
    members["c"] = [None if i % 3 == 0 else v for i, v in enumerate(members["c"])]
    weights = fit(members, truths, space="linear")
    assert weights.fits[("a", "b")].rows == 300 and weights.fits[("a", "b", "c")].rows == 200
    assert weights.fits[("a", "b", "c")].coef == pytest.approx([TRUE[f] for f in TRUE], abs=1e-9)


def test_a_combination_below_zero_counts_as_zero():
    weights = fit({"a": [1.0, 2.0, 3.0, 4.0, 5.0]}, [10.0, 8.0, 6.0, 4.0, 2.0], space="linear")
    assert predict(weights, {"a": 100.0}) == 0.0


@pytest.mark.parametrize(("members", "truths", "message"), [
    ({}, [], "at least one member"),
    ({"a": [1.0, 2.0]}, [1.0], "2 estimates for 1 items"),
    ({"a": [1.0, 2.0]}, [1.0, -2.0], "at least \\$0"),
    ({"a": [1.0, 2.0]}, [1.0, 2.0], "Too few items"),
])
def test_unusable_fits_are_refused(members, truths, message):
    with pytest.raises(BadInput, match=message):
        fit(members, truths)


# --- the weights file ---------------------------------------------------------------------------


@pytest.fixture
def weights() -> EnsembleWeights:
    members, truths = synthetic(120)
    return fit(members, truths, card={"data": "synthetic", "split": "test", "start": 1000})


def test_the_weights_file_round_trips_with_its_card(weights, tmp_path):
    path = save(weights, tmp_path / "w" / "weights.json")
    again = load(path)
    assert again == weights
    card = path.with_suffix(".md").read_text()
    assert card.startswith("# Ensemble weights: a + b + c")
    assert "| a alone | 120 |" in card and "ensemble a + b + c (cross-validated)" in card
    assert "Validation data: synthetic, split test, items 1000-1119 (120 items)" in card
    assert not list(tmp_path.glob("w/.*"))  # no temporary file left behind


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["fits"][0]["coef"].__setitem__(0, 0.9), "does not match its sha256"),
    (lambda d: d["card"].__setitem__("data", "other"), "does not match its sha256"),
    (lambda d: d.__setitem__("format", 99), "format 99"),
    (lambda d: d.__setitem__("kind", "something"), "not an ensemble weights file"),
])
def test_an_edited_weights_file_is_refused(weights, tmp_path, edit, message):
    path = save(weights, tmp_path / "weights.json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BadInput, match=message):
        load(path)


def test_a_damaged_or_missing_weights_file_says_to_fit_again(weights, tmp_path):
    path = save(weights, tmp_path / "weights.json")
    path.write_text(path.read_text()[:200])
    with pytest.raises(BadInput, match="unreadable.*ensemble fit"):
        load(path)
    with pytest.raises(BadInput, match="No ensemble weights at .*ensemble fit"):
        load(tmp_path / "none.json")
    bad = json.loads(save(weights, tmp_path / "nan.json").read_text())
    bad["fits"][0]["intercept"] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(bad))
    with pytest.raises(BadInput, match="not a number"):
        load(tmp_path / "nan.json")


# --- members ------------------------------------------------------------------------------------

class WordsPricer:
    """A real (if poor) pricer: dollars per word of the product text."""

    def __init__(self, name: str, per_word: float, reason: str | None = None, fails: bool = False) -> None:
        self.name, self.label, self.estimators = name, f"{per_word} $/word", ()
        self.per_word, self.reason, self.fails = per_word, reason, fails
        self.asked = 0

    def available(self) -> str | None:
        return self.reason

    def price(self, texts, *, estimator=None, progress=None):
        self.asked += len(texts)
        if self.fails:
            raise PricerError("api.openai.com answered 500 to a chat completion with gpt-4o-mini: oops")
        return [Estimate(self.per_word * len(t.split())) for t in texts]

    def cache_key(self, estimator):
        return f"{self.name}:{self.per_word}"


def test_fit_members_runs_the_members_over_the_validation_items_and_writes_the_card(train_550, tmp_path):
    pricers = {"long": WordsPricer("long", 1.0), "short": WordsPricer("short", 0.2),
               "frontier": WordsPricer("frontier", 3.0, reason="OPENAI_API_KEY is not set")}
    seen = []
    weights, path = fit_members(["long", "short", "frontier"], str(train_550), split="test", start=300, size=200,
                                out=tmp_path / "weights.json", lookup=pricers.__getitem__,
                                progress=lambda done, total: seen.append((done, total)))
    assert weights.members == ("long", "short") and pricers["frontier"].asked == 0
    assert pricers["long"].asked == pricers["short"].asked == 200
    assert seen[-1] == (600, 600)
    card = load(path).card
    assert card["skipped"] == {"frontier": "OPENAI_API_KEY is not set"}
    assert (card["data"], card["split"], card["start"], card["items"]) == ("train-550.jsonl", "test", 300, 200)
    assert card["labels"] == {"long": "1.0 $/word", "short": "0.2 $/word", "frontier": "3.0 $/word"}
    line = fit_line(weights, path)
    assert line.startswith("ensemble of long + short (") and "on 200 items, cross-validated: Error=$" in line
    assert line.endswith(f"left out: frontier; written to {path}")
    with pytest.raises(BadInput, match="items 300-899 were asked for"):
        fit_members(["long"], str(train_550), start=300, size=600, lookup=pricers.__getitem__)
    with pytest.raises(BadInput, match="cannot be a member of itself"):
        fit_members(["long", "ensemble"], str(train_550), start=0, size=50, lookup=pricers.__getitem__)


def test_an_unwritable_out_is_refused_before_any_member_runs(train_550, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    member = WordsPricer("long", 1.0)
    with pytest.raises(BadInput, match="Choose another --out"):
        fit_members(["long"], str(train_550), start=0, size=50, out=blocker / "weights.json",
                    lookup={"long": member}.__getitem__)
    assert member.asked == 0


@pytest.fixture
def two_members(train_550, tmp_path):
    """An ensemble of two word-counting members fitted on 60 real items: (members, weights, path, texts)."""
    texts = [json.loads(line)["text"] for line in train_550.read_text().splitlines()[:60]]
    pricers = {"long": WordsPricer("long", 1.0), "short": WordsPricer("short", 0.2)}
    weights, path = fit_members(["long", "short"], str(train_550), start=0, size=60, out=tmp_path / "w.json",
                                lookup=pricers.__getitem__)
    return pricers, weights, path, texts


def test_the_pricer_reports_progress_in_texts_as_every_pricer_does(two_members):
    pricers, _, path, texts = two_members
    texts = texts[:7]
    seen = []
    EnsemblePricer(path, lookup=pricers.__getitem__).price(texts, progress=lambda done, total: seen.append((done, total)))
    assert {total for _, total in seen} == {7} and seen[-1] == (7, 7)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)  # never backwards


def test_the_pricer_falls_back_when_a_member_cannot_answer(two_members):
    pricers, weights, path, texts = two_members
    pricer = EnsemblePricer(path, lookup=pricers.__getitem__)
    assert pricer.available() is None and pricer.name == "ensemble"
    both = pricer.combined(texts[:3])
    assert all(c.used == ("long", "short") and c.note == "" for c in both)
    pricers["short"].fails = True  # a member failing mid-run is left out like an unavailable one
    fallback = pricer.combined(texts[:3])
    assert [c.price for c in fallback] == [weights.fits[("long",)].predict([len(t.split())], weights.space)
                                           for t in texts[:3]]
    assert fallback[0].note.startswith("without short (api.openai.com answered 500") and fallback[0].used == ("long",)
    pricers["long"].reason = "no CUDA GPU"
    pricers["short"].reason = "OPENAI_API_KEY is not set"
    assert pricer.available() == ("none of its members can run here: long: no CUDA GPU; "
                                  "short: OPENAI_API_KEY is not set")


def test_the_pricer_says_how_to_fit_it_and_refuses_edited_weights(weights, tmp_path):
    assert EnsemblePricer(tmp_path / "none.json", lookup=lambda n: WordsPricer(n, 1.0)).available() == "no ensemble weights: run `python -m pricer ensemble fit`"
    path = save(weights, tmp_path / "weights.json")
    path.write_text(path.read_text().replace('"intercept": ', '"intercept": 1', 1))
    assert "edited" in EnsemblePricer(path, lookup=lambda n: WordsPricer(n, 1.0)).available()


def test_the_pricer_gives_estimates_with_the_members_in_their_details(train_550, tmp_path):
    texts = [json.loads(line)["text"] for line in train_550.read_text().splitlines()[:60]]
    pricers = {"long": WordsPricer("long", 1.0), "short": WordsPricer("short", 0.2, reason="no key")}
    _, path = fit_members(["long", "short"], str(train_550), start=0, size=60, out=tmp_path / "w.json",
                          lookup={"long": WordsPricer("long", 1.0), "short": WordsPricer("short", 0.2)}.__getitem__)
    [estimate] = EnsemblePricer(path, lookup=pricers.__getitem__).price(texts[:1])
    assert isinstance(estimate, Estimate) and estimate.price is not None
    assert estimate.details["used"] == ["long"] and estimate.details["note"].startswith("without short (no key)")


def test_a_member_that_trained_on_the_fitting_items_is_weighed_by_its_out_of_fold_estimates(tmp_path):
    """The CPU pricer keeps the estimates its cross-validation made of the items it trained on:
    fitted on items it saw, the ensemble gets those (made without each item), not the model's own
    (which would make it look better than it is), and its card and line say how many."""
    from pricer.pricers.cpu.pricer import CpuPricer
    from pricer.pricers.cpu.training import train
    from tests.test_cpu_pricer import SMALL, fixture_rows, prompt, write_jsonl

    seen = fixture_rows(48)
    unseen = [{"text": prompt(f"Unseen item {i}", "a thing never trained on"), "price": 10.0 + i} for i in range(12)]
    model = tmp_path / "cpu"
    train([write_jsonl(tmp_path / "train.jsonl", seen)], out=model, progress=False, spec=SMALL)
    fitting = write_jsonl(tmp_path / "fitting.jsonl", seen[:20] + unseen)
    cpu = CpuPricer(model)
    members = {"cpu": cpu, "long": WordsPricer("long", 1.0)}
    texts = [r["text"] for r in seen[:20] + unseen]

    counted: dict[str, int] = {}
    prices, _, _ = run_members(["cpu", "long"], texts, lookup=members.__getitem__, held_out=counted)
    assert counted == {"cpu": 20}  # WordsPricer keeps no record of training items: priced as it is
    own = [e.price for e in cpu.price(texts)]
    assert prices["cpu"] == [e.price for e in cpu.price_held_out(texts)]
    assert sum(prices["cpu"][i] != own[i] for i in range(20)) >= 15  # in cents: one may round alike
    assert prices["cpu"][20:] == own[20:]
    plain, _, _ = run_members(["cpu"], texts, lookup=members.__getitem__)  # pricing, not fitting: its own
    assert plain["cpu"] == own

    weights, path = fit_members(["cpu", "long"], str(fitting), split="test", start=0, size=32,
                                out=tmp_path / "w.json", lookup=members.__getitem__)
    assert load(path).card["out_of_fold"] == {"cpu": 20}
    assert "cpu priced 20 it trained on out of fold" in fit_line(weights, path)
    assert "cpu trained on 20 of them and priced each with the cross-validation model" in \
        path.with_suffix(".md").read_text(encoding="utf-8")


def test_weights_edited_with_their_sha256_recomputed_still_give_a_price_in_range(weights, tmp_path):
    """Someone edits the coefficients and recomputes the checksum: the file loads, but a
    combination is never beyond the pricers' range (it was $5.2e21)."""
    from pricer.pricers.ensemble.weights import content_digest
    from pricer.pricers.estimates import MAX_PRICE

    path = save(weights, tmp_path / "weights.json")
    data = json.loads(path.read_text())
    for f in data["fits"]:
        f["coef"] = [50.0] * len(f["coef"])
        f["intercept"] = 1e3
    data["sha256"] = content_digest({k: v for k, v in data.items() if k != "sha256"})
    path.write_text(json.dumps(data))
    edited = load(path)
    for space in ("linear", "log"):
        for fit_ in edited.fits.values():
            value = fit_.predict([100.0] * len(fit_.members), space)
            assert math.isfinite(value) and 0 <= value <= MAX_PRICE
    assert predict(edited, {m: 1e5 for m in edited.members}) == MAX_PRICE


def test_a_member_that_gave_no_number_is_fitted_around_and_the_weights_still_save(tmp_path):
    """A member whose every answer was no price (a chat model's replies, a tiny test Llama's
    nonsense): the other members' weights are fitted, and the file is written (it was a
    ValueError about an out-of-range float)."""
    truths = [float(10 + 3 * i) for i in range(30)]
    weights = fit({"silent": [None] * 30, "good": [t * 1.1 for t in truths]}, truths)
    assert list(weights.fits) == [("good",)]
    again = load(save(weights, tmp_path / "weights.json"))
    assert again.fits == weights.fits and not again.card["space_error"]
