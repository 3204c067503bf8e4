"""`python -m pricer VERB ...`: each verb is a few lines over the modules that do the work.

A PricerError ends the command with its one-line message on stderr and exit status 2; a
summary goes to stderr and machine-readable output (--json, files) to stdout or --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from pricer.errors import PricerError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def say(message: str) -> None:
    """A human-readable line (summaries, progress) on stderr, so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def emit_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


# --- data pipeline (issue: foundation) --------------------------------------------------------


@command("curate")
def cmd_curate(args: argparse.Namespace) -> int:
    from pricer.curate import curate_to_jsonl
    from pricer.errors import BadInput

    if args.category and len(args.source) > 1:
        raise BadInput("--category names one source; give one --source with it, or leave it out.")
    for i, source in enumerate(args.source):  # one category after another, into one file
        summary = curate_to_jsonl(source, args.out, category=args.category, workers=args.workers,
                                  limit=args.limit, tokenizer=args.tokenizer, append=i > 0)
        say(summary.line())
    return 0


@command("dataset")
def cmd_dataset(args: argparse.Namespace) -> int:
    from pricer.data import build_dataset

    say(build_dataset(args.items, test_size=args.test_size, train_size=args.train_size, seed=args.seed,
                      out=args.out, push_to_hub=args.push_to_hub, private=args.private, dry_run=args.dry_run))
    return 0


@command("export-jsonl")
def cmd_export_jsonl(args: argparse.Namespace) -> int:
    from pricer.finetune import export_fine_tuning

    say(export_fine_tuning(args.data, args.out, train=args.train, validation=args.validation, upload=args.upload))
    return 0


def _add_pipeline(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curate", help="curate raw Amazon metadata into pricer items (JSONL)")
    p.add_argument("--source", required=True, nargs="+",
                   help="hub category name(s) (e.g. Appliances Automotive) or local JSONL/Parquet file(s) or "
                        "folder(s); each is one category")
    p.add_argument("--category", help="category label for the items (default: from the source)")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--limit", type=int, help="curate only the first N raw records of each source")
    p.add_argument("--tokenizer", help="tokenizer (default Llama 3.1, or its offline copy)")
    p.add_argument("--out", required=True, help="output JSONL of kept items (text, price, category, title)")

    p = sub.add_parser("dataset", help="combine curated items into a train/test pricer dataset")
    p.add_argument("--items", nargs="+", required=True, help="curated JSONL files")
    p.add_argument("--test-size", type=int, required=True, help="number of test items")
    p.add_argument("--train-size", type=int, help="number of train items (default: the rest)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="output folder (train.parquet, test.parquet)")
    p.add_argument("--push-to-hub", metavar="REPO", help="also push as a DatasetDict (HF_TOKEN)")
    p.add_argument("--private", action="store_true", help="make the pushed dataset private")
    p.add_argument("--dry-run", action="store_true", help="check everything for --push-to-hub, upload nothing")

    p = sub.add_parser("export-jsonl", help="write OpenAI fine-tuning JSONL from train items")
    p.add_argument("--data", required=True, help="pricer dataset: hub id or local path (its train split)")
    p.add_argument("--train", type=int, default=500)
    p.add_argument("--validation", type=int, default=50)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--upload", action="store_true", help="upload to OpenAI (needs openai and OPENAI_API_KEY)")


# --- tokenizer (issue: Tokenizer tab) -----------------------------------------------------------


@command("tokenize")
def cmd_tokenize(args: argparse.Namespace) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    loaded = load_tokenizer(args.tokenizer)
    if loaded.note:
        say(f"note: {loaded.note}")
    text = sys.stdin.read() if args.text == "-" else args.text
    result = tokens.inspect(loaded.tokenizer, text, add_special=not args.no_special)
    if args.json:
        emit_json({"tokenizer": loaded.label, "note": loaded.note, **result.to_dict()})
    else:
        print(result.ids)
        print(" | ".join(p.text for p in result.pieces))
    say(f"{result.chars:,} characters, {result.count:,} tokens, {result.chars_per_token:.2f} "
        f"characters per token ({loaded.label})")
    return 0


@command("decode")
def cmd_decode(args: argparse.Namespace) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    result = tokens.decode_ids(load_tokenizer(args.tokenizer).tokenizer, " ".join(args.ids),
                               skip_special=args.skip_special)
    if args.json:
        emit_json({"ids": result.ids, "decoded": result.decoded,
                   "pieces": [p.to_dict() for p in result.pieces]})
    else:
        print(result.decoded)
    return 0


@command("vocab")
def cmd_vocab(args: argparse.Namespace) -> int:
    from pricer import tokens
    from pricer.tokenizer import load_tokenizer

    found = tokens.search_vocab(load_tokenizer(args.tokenizer).tokenizer, args.query, page=args.page)
    if args.json:
        emit_json({"query": found.query, "total": found.total, "page": found.page, "pages": found.pages,
                   "entries": [vars(e) for e in found.entries]})
    else:
        for e in found.entries:
            print(f"{e.id:>7}  {e.text!r}  ({e.token})")
    say(f"{found.total:,} matches, page {found.page} of {found.pages}")
    return 0


def _add_tokenizer(sub: argparse._SubParsersAction) -> None:
    help_tok = "hub id or local path (default: PRICER_TOKENIZER, else Llama 3.1 with offline fallback)"
    p = sub.add_parser("tokenize", help="show what a tokenizer does to a text (ids, tokens, decode)")
    p.add_argument("--text", required=True, help="the text ('-' reads standard input)")
    p.add_argument("--tokenizer", help=help_tok)
    p.add_argument("--no-special", action="store_true", help="do not add special tokens (bos)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("decode", help="decode token ids, e.g. 128000 40 1097")
    p.add_argument("ids", nargs="+", help="token ids (spaces or commas between them)")
    p.add_argument("--tokenizer", help=help_tok)
    p.add_argument("--skip-special", action="store_true", help="leave special tokens out")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("vocab", help="look tokens up in the vocabulary by text, part of one, or id")
    p.add_argument("query", help="a token, part of one (case-insensitive) or an id")
    p.add_argument("--tokenizer", help=help_tok)
    p.add_argument("--page", type=int, default=1, help="page of 50 matches (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


# --- model (issue: Predict tab) -----------------------------------------------------------------


@command("predict")
def cmd_predict(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from pricer.model import ModelSpec, load_pricer, predict_texts

    spec = ModelSpec.from_options(args.base_model, args.adapter, args.revision, args.quantization)
    text = sys.stdin.read() if args.text == "-" else args.text
    started = time.perf_counter()
    ((pred, note),) = predict_texts([text], spec)
    say(load_pricer(spec).status())
    if args.json:
        emit_json({**dataclasses.asdict(pred), "note": note, "model": spec.label,
                   "latency_s": round(time.perf_counter() - started, 3)})
    else:
        greedy = "no number" if pred.greedy is None else f"${pred.greedy:,.2f}"
        say(note)
        print(f"${pred.topk:,.2f} (the course's top-3 weighted; top-3 number tokens "
              f"${pred.topk_numbers:,.2f}; greedy {greedy} from {pred.completion!r}; median ${pred.median:,.0f})")
    return 0


@command("tiny-model")
def cmd_tiny_model(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pricer.tiny import write_tiny_model

    out = write_tiny_model(Path(args.out))
    say(f"wrote a tiny random-weight TEST model to {out} and its LoRA adapter to {out / 'adapter'} "
        "(its prices are nonsense)")
    print(out)
    return 0


def _add_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="price a product description with the 4-bit Llama")
    p.add_argument("--text", required=True,
                   help="title on the first line, then the description; or a dataset prompt; '-' reads stdin")
    p.add_argument("--base-model", help="hub id or local path (default PRICER_BASE_MODEL or Llama 3.1 8B)")
    p.add_argument("--adapter", help="LoRA adapter hub id or local path, or 'none' for the base model "
                                     "(default PRICER_ADAPTER or the course's fine-tuned pricer)")
    p.add_argument("--revision", help="adapter revision (default PRICER_ADAPTER_REVISION; 'none' = latest)")
    p.add_argument("--quantization", choices=["4bit", "8bit"], help="default PRICER_QUANTIZATION or 4bit")
    p.add_argument("--json", action="store_true", help="print greedy, topk, topk_numbers, median, prompt, ... as JSON")

    p = sub.add_parser("tiny-model", help="write the tiny random-weight TEST model (offline demo, tests)")
    p.add_argument("--out", required=True, help="output folder (the adapter goes to OUT/adapter)")


# --- evaluation (issue: Evaluate tab) -----------------------------------------------------------


@command("evaluate")
def cmd_evaluate(args: argparse.Namespace) -> int:
    from pricer import evaluation
    from pricer.config import settings
    from pricer.model import ModelSpec

    spec = ModelSpec.from_options(args.base_model, args.adapter, args.revision, args.quantization)
    for done in evaluation.evaluate_model(args.data or settings().dataset, spec, size=args.size,
                                          estimator=args.estimator, batch_size=args.batch_size,
                                          use_cache=not args.no_cache):
        say(done.status())
    return _report_run(done, args.out, args.chart)


@command("score")
def cmd_score(args: argparse.Namespace) -> int:
    from pricer import guesses
    from pricer.config import settings

    done = guesses.score_file(args.data or settings().dataset, args.guesses, size=args.size)
    return _report_run(done, args.out, args.chart)


def _report_run(done, out: str | None, chart: str | None) -> int:
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


def _add_evaluation(sub: argparse._SubParsersAction) -> None:
    from pricer.estimates import ESTIMATORS  # light: no heavy imports at module level

    data_help = "test items: hub id (default PRICER_DATASET or ed-donner/pricer-data) or a local file"
    p = sub.add_parser("evaluate", help="run the 4-bit Llama over the test items: error, RMSLE, hits")
    p.add_argument("--data", help=data_help)
    p.add_argument("--size", type=int, default=250, help="the first N test items (default 250)")
    p.add_argument("--base-model", help="hub id or local path (default PRICER_BASE_MODEL)")
    p.add_argument("--adapter", help="hub id or local path of a PEFT adapter, or 'none' for the base model")
    p.add_argument("--revision", help="adapter revision (never applied to the base model; 'none' = latest)")
    p.add_argument("--quantization", choices=["4bit", "8bit"], help="default PRICER_QUANTIZATION or 4bit")
    p.add_argument("--estimator", choices=[e.name for e in ESTIMATORS], default=ESTIMATORS[0].name,
                   help="; ".join(f"{e.name}{'' if e.label == e.name else ', ' + e.label}: {e.help}"
                                  for e in ESTIMATORS))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-cache", action="store_true", help="run again even if this run is cached")
    p.add_argument("--out", help="CSV of per-item results")
    p.add_argument("--chart", help="HTML file for the scatter chart")

    p = sub.add_parser("score", help="score a CSV/JSONL of guesses made elsewhere against the truths")
    p.add_argument("--data", help=data_help)
    p.add_argument("--guesses", required=True,
                   help="CSV/JSONL with a `guess` column and an `index` (0 = first item) or `text` column")
    p.add_argument("--size", type=int, default=250, help="the first N test items (default 250)")
    p.add_argument("--out", help="CSV of per-item results")
    p.add_argument("--chart", help="HTML file for the scatter chart")


# --- deploy (issue: Spaces) ---------------------------------------------------------------------


@command("deploy")
def cmd_deploy(args: argparse.Namespace) -> int:
    from pricer import deploy
    from pricer.manifest import load_manifest

    manifest = load_manifest(args.config)
    if args.dry_run:
        print(deploy.describe_plan(manifest, deploy.plan(manifest)))
        say("dry run: nothing was sent to the Hub")
        return 0
    print(deploy.run(manifest, say=say), flush=True)  # the URL first: a failed build is looked at there
    if args.wait:
        deploy.wait_until_running(manifest.space_id, timeout=deploy.wait_timeout(manifest), say=say)
    return 0


def _add_deploy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy", help="deploy the app to a Hugging Face Space as spaces.yaml says (HF_TOKEN)")
    p.add_argument("--config", default="spaces.yaml", help="the manifest (default spaces.yaml)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the README front matter, the files and every call, send nothing")
    p.add_argument("--wait", action="store_true", help="follow the build until the Space is RUNNING")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pricer", description="The Price is Right: pricer tools")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in (_add_pipeline, _add_tokenizer, _add_model, _add_evaluation, _add_deploy):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.verb](args)
    except PricerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
