"""`python -m pricer VERB ...`: each verb is a few lines over the modules that do the work.

A PricerError ends the command with its one-line message on stderr and exit status 2; a
summary goes to stderr and machine-readable output (--json, files) to stdout or --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

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

    summary = curate_to_jsonl(args.source, args.out, category=args.category, workers=args.workers,
                              limit=args.limit)
    say(summary.line())
    return 0


@command("dataset")
def cmd_dataset(args: argparse.Namespace) -> int:
    from pricer.data import build_dataset

    result = build_dataset(args.items, test_size=args.test_size, train_size=args.train_size,
                           seed=args.seed, out=args.out, push_to_hub=args.push_to_hub,
                           private=args.private)
    say(result)
    return 0


@command("export-jsonl")
def cmd_export_jsonl(args: argparse.Namespace) -> int:
    from pricer.finetune import export_fine_tuning

    result = export_fine_tuning(args.data, args.out, train=args.train, validation=args.validation,
                                upload=args.upload)
    say(result)
    return 0


def _add_pipeline(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curate", help="curate raw Amazon metadata into pricer items (JSONL)")
    p.add_argument("--source", required=True,
                   help="hub category name (e.g. Appliances) or a local JSONL/Parquet file or folder")
    p.add_argument("--category", help="category label for the items (default: from the source)")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--limit", type=int, help="curate only the first N raw records")
    p.add_argument("--out", required=True, help="output JSONL of kept items")

    p = sub.add_parser("dataset", help="combine curated items into a train/test pricer dataset")
    p.add_argument("--items", nargs="+", required=True, help="curated JSONL files")
    p.add_argument("--test-size", type=int, required=True, help="number of test items")
    p.add_argument("--train-size", type=int, help="number of train items (default: the rest)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="output folder (Parquet per split)")
    p.add_argument("--push-to-hub", metavar="REPO", help="also push as a DatasetDict (HF_TOKEN)")
    p.add_argument("--private", action="store_true", help="make the pushed dataset private")

    p = sub.add_parser("export-jsonl", help="write OpenAI fine-tuning JSONL from train items")
    p.add_argument("--data", required=True, help="pricer dataset: hub id or local path")
    p.add_argument("--train", type=int, default=500)
    p.add_argument("--validation", type=int, default=50)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--upload", action="store_true", help="upload to OpenAI (needs OPENAI_API_KEY)")


# --- tokenizer (issue: Tokenizer tab) -----------------------------------------------------------


def _add_tokenizer(sub: argparse._SubParsersAction) -> None:
    pass


# --- model (issue: Predict tab) -----------------------------------------------------------------


def _add_model(sub: argparse._SubParsersAction) -> None:
    pass


# --- evaluation (issue: Evaluate tab) -----------------------------------------------------------


def _add_evaluation(sub: argparse._SubParsersAction) -> None:
    pass


# --- deploy (issue: Spaces) ---------------------------------------------------------------------


def _add_deploy(sub: argparse._SubParsersAction) -> None:
    pass


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
