"""`python -m pricer VERB ...`: each verb is a few lines over the modules that do the work.

A verb is one function registered with `@command(name, help, *options)`: its options sit on it,
and it gets their values as keyword arguments. Options several verbs share are defined once
below (--json, --tokenizer, the model, the test items, the result files); a Group of options
reaches the verb as one value (the four model options as a ModelSpec). This module does no work
of its own and imports the modules that do inside the verbs, so `--help` stays fast.

A PricerError ends the command with its one-line message on stderr and exit status 2; a
summary goes to stderr and machine-readable output (--json, files) to stdout or --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pricer.config import DATASET, QUANTIZATIONS
from pricer.errors import PricerError
from pricer.estimates import ESTIMATORS  # light: no heavy imports at module level

# --- how a verb declares its options ------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One command-line option or argument: argparse's add_argument(*flags, **kwargs)."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        """The keyword the verb gets its value as (argparse's rule: --batch-size -> batch_size)."""
        long = [f for f in self.flags if f.startswith("--")]
        return self.kwargs.get("dest") or (long[0][2:] if long else self.flags[0]).replace("-", "_")


def option(*flags: str, **kwargs: Any) -> Option:
    return Option(flags, kwargs)


@dataclass(frozen=True)
class Group:
    """Options the verb gets as one keyword argument, `name` = build(**their values)."""

    name: str
    options: tuple[Option, ...]
    build: Callable[..., Any]


Options = Option | Group | tuple["Options", ...]


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    run: Callable[..., int]
    options: tuple[Option | Group, ...]

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser(self.name, help=self.help)
        for opt in self.options:
            for o in opt.options if isinstance(opt, Group) else (opt,):
                p.add_argument(*o.flags, **o.kwargs)

    def call(self, values: dict[str, Any]) -> int:
        """Run the verb on parsed values, each group's options built into its one argument."""
        for group in (o for o in self.options if isinstance(o, Group)):
            values[group.name] = group.build(**{o.dest: values.pop(o.dest) for o in group.options})
        return self.run(**values)


VERBS: dict[str, Verb] = {}  # in the order --help lists them


def _flat(options: tuple[Options, ...]) -> tuple[Option | Group, ...]:
    return tuple(x for o in options for x in (_flat(o) if isinstance(o, tuple) else (o,)))


def command(name: str, help: str, *options: Options) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Register the decorated function as the verb `name`, with its options and shared groups."""

    def register(fn: Callable[..., int]) -> Callable[..., int]:
        VERBS[name] = Verb(name, help, fn, _flat(options))
        return fn

    return register


def say(message: str) -> None:
    """A human-readable line (summaries, progress) on stderr, so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def emit_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def read_text(text: str) -> str:
    """The text of a --text option: '-' reads standard input."""
    return sys.stdin.read() if text == "-" else text


# --- options several verbs share ----------------------------------------------------------------


def _model_spec(base_model: str | None, adapter: str | None, revision: str | None,
                quantization: str | None) -> Any:
    from pricer.model import ModelSpec

    return ModelSpec.from_options(base_model, adapter, revision, quantization)


JSON = option("--json", dest="as_json", action="store_true", help="print one JSON object")
TOKENIZER = option("--tokenizer",
                   help="hub id or local path (default: PRICER_TOKENIZER, else Llama 3.1 with offline fallback)")
MODEL = Group("spec", (
    option("--base-model", help="hub id or local path (default PRICER_BASE_MODEL, else Llama 3.1 8B)"),
    option("--adapter", help="LoRA adapter hub id or local path, or 'none' for the base model "
                             "(default PRICER_ADAPTER, else the course's fine-tuned pricer)"),
    option("--revision", help="adapter revision, never applied to the base model "
                              "(default PRICER_ADAPTER_REVISION; 'none' = latest)"),
    option("--quantization", choices=QUANTIZATIONS, help="default PRICER_QUANTIZATION, else 4bit"),
), _model_spec)
TEST_ITEMS = (
    option("--data", help=f"test items: hub id (default PRICER_DATASET, else {DATASET}) or a local file"),
    option("--size", type=int, default=250, help="the first N test items (default 250)"),
)
RESULTS = (
    option("--out", help="CSV of per-item results"),
    option("--chart", help="HTML file for the scatter chart"),
)


# --- data pipeline ------------------------------------------------------------------------------


@command(
    "curate", "curate raw Amazon metadata into pricer items (JSONL)",
    option("--source", required=True, nargs="+",
           help="hub category name(s) (e.g. Appliances Automotive) or local JSONL/Parquet file(s) or "
                "folder(s); each is one category"),
    option("--category", help="category label for the items (default: from the source)"),
    option("--workers", type=int, default=2, help="parallel processes (default 2)"),
    option("--limit", type=int, help="curate only the first N raw records of each source"),
    option("--tokenizer", help="tokenizer (default Llama 3.1, or its offline copy)"),
    option("--out", required=True, help="output JSONL of kept items (text, price, category, title)"),
)
def cmd_curate(source: list[str], category: str | None, workers: int, limit: int | None,
               tokenizer: str | None, out: str) -> int:
    from pricer.curate import curate_to_jsonl
    from pricer.errors import BadInput

    if category and len(source) > 1:
        raise BadInput("--category names one source; give one --source with it, or leave it out.")
    for i, one in enumerate(source):  # one category after another, into one file
        summary = curate_to_jsonl(one, out, category=category, workers=workers, limit=limit,
                                  tokenizer=tokenizer, append=i > 0)
        say(summary.line())
    return 0


@command(
    "dataset", "combine curated items into a train/test pricer dataset",
    option("--items", nargs="+", required=True, help="curated JSONL files"),
    option("--test-size", type=int, required=True, help="number of test items"),
    option("--train-size", type=int, help="number of train items (default: the rest)"),
    option("--seed", type=int, default=42),
    option("--out", required=True, help="output folder (train.parquet, test.parquet)"),
    option("--push-to-hub", metavar="REPO", help="also push as a DatasetDict (HF_TOKEN)"),
    option("--private", action="store_true", help="make the pushed dataset private"),
    option("--dry-run", action="store_true", help="check everything for --push-to-hub, upload nothing"),
)
def cmd_dataset(items: list[str], test_size: int, train_size: int | None, seed: int, out: str,
                push_to_hub: str | None, private: bool, dry_run: bool) -> int:
    from pricer.data import build_dataset

    say(build_dataset(items, test_size=test_size, train_size=train_size, seed=seed, out=out,
                      push_to_hub=push_to_hub, private=private, dry_run=dry_run))
    return 0


@command(
    "export-jsonl", "write OpenAI fine-tuning JSONL from train items",
    option("--data", required=True, help="pricer dataset: hub id or local path (its train split)"),
    option("--train", type=int, default=500),
    option("--validation", type=int, default=50),
    option("--out", required=True, help="output folder"),
    option("--upload", action="store_true", help="upload to OpenAI (needs openai and OPENAI_API_KEY)"),
)
def cmd_export_jsonl(data: str, train: int, validation: int, out: str, upload: bool) -> int:
    from pricer.finetune import export_fine_tuning

    say(export_fine_tuning(data, out, train=train, validation=validation, upload=upload))
    return 0


# --- tokenizer ----------------------------------------------------------------------------------


@command(
    "tokenize", "show what a tokenizer does to a text (ids, tokens, decode)",
    option("--text", required=True, help="the text ('-' reads standard input)"),
    TOKENIZER,
    option("--no-special", action="store_true", help="do not add special tokens (bos)"),
    JSON,
)
def cmd_tokenize(text: str, tokenizer: str | None, no_special: bool, as_json: bool) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    loaded = load_tokenizer(tokenizer)
    if loaded.note:
        say(f"note: {loaded.note}")
    result = tokens.inspect(loaded.tokenizer, read_text(text), add_special=not no_special)
    if as_json:
        emit_json({"tokenizer": loaded.label, "note": loaded.note, **result.to_dict()})
    else:
        print(result.ids)
        print(" | ".join(p.text for p in result.pieces))
    say(f"{result.chars:,} characters, {result.count:,} tokens, {result.chars_per_token:.2f} "
        f"characters per token ({loaded.label})")
    return 0


@command(
    "decode", "decode token ids, e.g. 128000 40 1097",
    option("ids", nargs="+", help="token ids (spaces or commas between them)"),
    TOKENIZER,
    option("--skip-special", action="store_true", help="leave special tokens out"),
    JSON,
)
def cmd_decode(ids: list[str], tokenizer: str | None, skip_special: bool, as_json: bool) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    result = tokens.decode_ids(load_tokenizer(tokenizer).tokenizer, " ".join(ids), skip_special=skip_special)
    if as_json:
        emit_json({"ids": result.ids, "decoded": result.decoded, "pieces": [p.to_dict() for p in result.pieces]})
    else:
        print(result.decoded)
    return 0


@command(
    "vocab", "look tokens up in the vocabulary by text, part of one, or id",
    option("query", help="a token, part of one (case-insensitive) or an id"),
    TOKENIZER,
    option("--page", type=int, default=1, help="page of 50 matches (default 1)"),
    JSON,
)
def cmd_vocab(query: str, tokenizer: str | None, page: int, as_json: bool) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    found = tokens.search_vocab(load_tokenizer(tokenizer).tokenizer, query, page=page)
    if as_json:
        emit_json({"query": found.query, "total": found.total, "page": found.page, "pages": found.pages,
                   "entries": [vars(e) for e in found.entries]})
    else:
        for e in found.entries:
            print(f"{e.id:>7}  {e.text!r}  ({e.token})")
    say(f"{found.total:,} matches, page {found.page} of {found.pages}")
    return 0


# --- model --------------------------------------------------------------------------------------


@command(
    "predict", "price a product description with the 4-bit Llama",
    option("--text", required=True,
           help="title on the first line, then the description; or a dataset prompt; '-' reads stdin"),
    MODEL,
    JSON,
)
def cmd_predict(text: str, spec: Any, as_json: bool) -> int:
    import dataclasses
    import time

    from pricer.model import load_pricer, predict_texts

    text = read_text(text)
    started = time.perf_counter()
    ((pred, note),) = predict_texts([text], spec)
    say(load_pricer(spec).status())
    if as_json:
        emit_json({**dataclasses.asdict(pred), "note": note, "model": spec.label,
                   "latency_s": round(time.perf_counter() - started, 3)})
    else:
        greedy = "no number" if pred.greedy is None else f"${pred.greedy:,.2f}"
        say(note)
        print(f"${pred.topk:,.2f} (the course's top-3 weighted; top-3 number tokens "
              f"${pred.topk_numbers:,.2f}; greedy {greedy} from {pred.completion!r}; median ${pred.median:,.0f})")
    return 0


@command(
    "tiny-model", "write the tiny random-weight TEST model (offline demo, tests)",
    option("--out", required=True, help="output folder (the adapter goes to OUT/adapter)"),
)
def cmd_tiny_model(out: str) -> int:
    from pathlib import Path

    from pricer.tiny import write_tiny_model

    folder = write_tiny_model(Path(out))
    say(f"wrote a tiny random-weight TEST model to {folder} and its LoRA adapter to {folder / 'adapter'} "
        "(its prices are nonsense)")
    print(folder)
    return 0


# --- evaluation ---------------------------------------------------------------------------------


@command(
    "evaluate", "run the 4-bit Llama over the test items: error, RMSLE, hits",
    TEST_ITEMS,
    MODEL,
    option("--estimator", choices=[e.name for e in ESTIMATORS], default=ESTIMATORS[0].name,
           help="; ".join(f"{e.name}{'' if e.label == e.name else ', ' + e.label}: {e.help}"
                          for e in ESTIMATORS)),
    option("--batch-size", type=int, default=16),
    option("--no-cache", action="store_true", help="run again even if this run is cached"),
    RESULTS,
)
def cmd_evaluate(data: str | None, size: int, spec: Any, estimator: str, batch_size: int, no_cache: bool,
                 out: str | None, chart: str | None) -> int:
    from pricer import evaluation
    from pricer.config import settings

    for done in evaluation.evaluate_model(data or settings().dataset, spec, size=size, estimator=estimator,
                                          batch_size=batch_size, use_cache=not no_cache):
        say(done.status())
    return _report_run(done, out, chart)


@command(
    "score", "score a CSV/JSONL of guesses made elsewhere against the truths",
    TEST_ITEMS,
    option("--guesses", required=True,
           help="CSV/JSONL with a `guess` column and an `index` (0 = first item) or `text` column"),
    RESULTS,
)
def cmd_score(data: str | None, size: int, guesses: str, out: str | None, chart: str | None) -> int:
    from pricer import guesses as guesses_file
    from pricer.config import settings

    done = guesses_file.score_file(data or settings().dataset, guesses, size=size)
    return _report_run(done, out, chart)


def _report_run(done: Any, out: str | None, chart: str | None) -> int:
    """Files first, then the course's metrics line as the very last line (on stdout)."""
    from pricer.chart import figure, write_chart

    if out:
        say(f"wrote {done.write_csv(out)} (one row per item)")
    if chart:
        say(f"wrote {write_chart(figure(done), chart)}")
    if done.note:
        say(done.note)
    say(f"{done.label}: {done.metrics.details()}")
    print(done.metrics.line(), flush=True)
    return 0


# --- deploy -------------------------------------------------------------------------------------


@command(
    "deploy", "deploy the app to a Hugging Face Space as spaces.yaml says (HF_TOKEN)",
    option("--config", default="spaces.yaml", help="the manifest (default spaces.yaml)"),
    option("--dry-run", action="store_true", help="print the README front matter, the files and every call, send nothing"),
    option("--wait", action="store_true", help="follow the build until the Space is RUNNING"),
)
def cmd_deploy(config: str, dry_run: bool, wait: bool) -> int:
    from pricer import deploy
    from pricer.manifest import load_manifest

    manifest = load_manifest(config)
    if dry_run:
        print(deploy.describe_plan(manifest, deploy.plan(manifest)))
        say("dry run: nothing was sent to the Hub")
        return 0
    print(deploy.run(manifest, say=say), flush=True)  # the URL first: a failed build is looked at there
    if wait:
        deploy.wait_until_running(manifest.space_id, timeout=deploy.wait_timeout(manifest), say=say)
    return 0


# --- the entry point ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pricer", description="The Price is Right: pricer tools")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS.values():
        verb.add_to(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    values = vars(parser().parse_args(argv))
    verb = VERBS[values.pop("verb")]
    try:
        return verb.call(values)
    except PricerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
