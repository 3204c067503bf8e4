"""`python -m pricer VERB ...`: each verb is a few lines over the modules that do the work.

A verb is one function registered with `@command(name, help, *options)` (pricer.cli_options):
its options sit on it, and it gets their values as keyword arguments. Options several verbs
share are defined once below (--json, --tokenizer, the pricer and what overrides its settings,
the Llama model, the estimator, the test items, the result files); a Group of options reaches
the verb as one value (the four model options as a ModelSpec). This module does no work of its
own and imports the modules that do inside the verbs, so `--help` stays fast.

A PricerError ends the command with its one-line message on stderr and exit status 2; a
summary goes to stderr and machine-readable output (--json, files) to stdout or --out.

Longer than 450 lines: it is the table of every verb, each a few lines over the module
that does the work, with the options they share defined once above them; split by subject, the
shared options and `--help`'s one listing would be spread over several files.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pricer.cli_options import VERBS, Group, Option, command, emit_json, option, read_text, say
from pricer.config import DATASET, QUANTIZATIONS
from pricer.errors import PricerError
from pricer.pricers.estimates import ESTIMATORS  # light: no heavy imports at module level
from pricer.redact import quoted

__all__ = ["VERBS", "Group", "Option", "command", "main", "option", "parser"]

# --- options several verbs share ----------------------------------------------------------------


def _model_spec(base_model: str | None, adapter: str | None, revision: str | None,
                quantization: str | None) -> Any:
    """The Llama model the options name (the settings overridden), or None when none is given."""
    from pricer.pricers.llama.model import ModelSpec

    if base_model is None and adapter is None and revision is None and quantization is None:
        return None
    return ModelSpec.from_options(base_model, adapter, revision, quantization)


def _overrides(cpu_model: str | None, frontier_model: str | None) -> dict[str, str | None]:
    return {"cpu_model": cpu_model, "frontier_model": frontier_model}


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
PRICER = option("--pricer", help="which pricer answers: fine-tuned, base, cpu, frontier, rag, ensemble (`python -m pricer "
                                  "pricers` lists them; default: the fine-tuned Llama where it can load, else cpu; "
                                  "with a model option, the Llama)")
OVERRIDES = Group("overrides", (
    option("--cpu-model", help="folder of a retrained CPU pricer model (default PRICER_CPU_MODEL, else the shipped one)"),
    option("--model", dest="frontier_model",
           help="chat model of the frontier pricer (default PRICER_FRONTIER_MODEL, else gpt-4o-mini; "
                "a fine-tuned ft:... id works)"),
), _overrides)
ESTIMATOR = option("--estimator", choices=[e.name for e in ESTIMATORS],
                   help="Llama pricers only (default greedy): " + "; ".join(
                       f"{e.name}{'' if e.label == e.name else ', ' + e.label}: {e.help}" for e in ESTIMATORS))
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
    example='python -m pricer curate --source ./raw/meta_Toys_and_Games.jsonl --out toys.jsonl --workers 2',
)
def cmd_curate(source: list[str], category: str | None, workers: int, limit: int | None,
               tokenizer: str | None, out: str) -> int:
    from pricer.data.curate import curate_to_jsonl
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
    example='python -m pricer dataset --items items.jsonl toys.jsonl --test-size 2000 --seed 42 --out data/',
)
def cmd_dataset(items: list[str], test_size: int, train_size: int | None, seed: int, out: str,
                push_to_hub: str | None, private: bool, dry_run: bool) -> int:
    from pricer.data.datasets import build_dataset

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
    example='python -m pricer export-jsonl --data data/ --train 500 --validation 50 --out ft/',
)
def cmd_export_jsonl(data: str, train: int, validation: int, out: str, upload: bool) -> int:
    from pricer.pricers.chat.finetune import export_fine_tuning

    say(export_fine_tuning(data, out, train=train, validation=validation, upload=upload))
    return 0


# --- tokenizer ----------------------------------------------------------------------------------


@command(
    "tokenize", "show what a tokenizer does to a text (ids, tokens, decode)",
    option("--text", required=True, help="the text ('-' reads standard input)"),
    TOKENIZER,
    option("--no-special", action="store_true", help="do not add special tokens (bos)"),
    JSON,
    example="python -m pricer tokenize --text 'Price is $374.41' --no-special",
)
def cmd_tokenize(text: str, tokenizer: str | None, no_special: bool, as_json: bool) -> int:
    from pricer.tokenizer import tokens
    from pricer.tokenizer.loading import load_tokenizer

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
    "decode", "decode token ids, e.g. 128000 40 1097 (--batch: several sequences, as batch_decode)",
    option("ids", nargs="+", help="token ids (spaces or commas between them); with --batch each argument is "
           "one sequence"),
    TOKENIZER,
    option("--batch", action="store_true", help="batch_decode: each argument one sequence, one text each "
           "(printed as one JSON string per line)"),
    option("--skip-special", action="store_true", help="leave special tokens out"),
    option("--clean-up", action="store_true", help="with --batch: clean_up_tokenization_spaces (' .' -> '.'; "
           "transformers 5 applies it to WordPiece tokenizers only)"),
    JSON,
    example='python -m pricer decode --batch "128000 40 1097" "3430 374 400"',
)
def cmd_decode(ids: list[str], tokenizer: str | None, batch: bool, skip_special: bool, clean_up: bool,
               as_json: bool) -> int:
    from pricer.errors import BadInput
    from pricer.tokenizer import tokens, vocab
    from pricer.tokenizer.loading import load_tokenizer

    if clean_up and not batch:
        raise BadInput("--clean-up goes with --batch (batch_decode's clean_up_tokenization_spaces).")
    loaded = load_tokenizer(tokenizer).tokenizer
    if batch:
        texts = vocab.batch_decode(loaded, vocab.parse_lines(ids), skip_special=skip_special, clean_up=clean_up)
        if as_json:
            emit_json({"texts": texts})
        else:
            for text in texts:  # quoted, so an empty text or one holding a newline stays one line
                print(json.dumps(text, ensure_ascii=False))
        return 0
    result = vocab.decode_ids(loaded, " ".join(ids), skip_special=skip_special)
    if as_json:
        emit_json({"decoded": result.decoded, **result.pieces.to_dict(),
                   "batch_decode": tokens.batch_decode_each(loaded, result.ids, skip_special=skip_special)})
    else:
        print(result.decoded)
    return 0


@command(
    "vocab", "look tokens up in the vocabulary by text, part of one, or id",
    option("query", help="a token, part of one (case-insensitive) or an id"),
    TOKENIZER,
    option("--page", type=int, default=1, help="page of 50 matches (default 1)"),
    JSON,
    example='python -m pricer vocab " price"',
)
def cmd_vocab(query: str, tokenizer: str | None, page: int, as_json: bool) -> int:
    from pricer.tokenizer import vocab
    from pricer.tokenizer.loading import load_tokenizer

    found = vocab.search_vocab(load_tokenizer(tokenizer).tokenizer, query, page=page)
    if as_json:
        emit_json({"query": found.query, "total": found.total, "page": found.page, "pages": found.pages,
                   "entries": [vars(e) for e in found.entries]})
    else:
        for e in found.entries:
            print(f"{e.id:>7}  {e.text!r}  ({e.token})")
    say(f"{found.total:,} matches, page {found.page} of {found.pages}")
    return 0


# --- pricers -------------------------------------------------------------------------------------


def _choose(pricer: str | None, overrides: dict[str, str | None], spec: Any,
            estimator: str | None = None) -> tuple[str, Any]:
    """(the pricer's name, its options): --pricer, else the Llama when a model option is given
    (fine-tuned with an adapter, base without), else the default pricer (and why, when it is
    not the fine-tuned Llama). An --estimator asks for a Llama estimate: when the default is
    not a Llama it is refused, with why, rather than answered by a pricer that has none."""
    from pricer import pricers
    from pricer.errors import BadInput

    options = pricers.PricerOptions(spec, **overrides)
    if pricer:
        return pricer, options
    if spec is not None:
        return ("fine-tuned" if spec.adapter else "base"), options
    name = pricers.default_name(options)
    if name != "fine-tuned":
        reason = pricers.get("fine-tuned", options).available()
        if estimator and not pricers.get(name, options).estimators:
            raise BadInput(f"--estimator {estimator} is a Llama estimate, and the fine-tuned Llama cannot run here "
                           f"({reason}); leave --estimator out to use the {name} pricer (--pricer {name}), or run "
                           "where the Llama can (bash scripts/dev demo runs the tiny test model anywhere).")
        say(f"note: the fine-tuned Llama cannot run here ({reason}); the {name} pricer answers.")
    return name, options


@command(
    "pricers", "list the pricers: which can run here (and why not), the default marked",
    OVERRIDES,
    MODEL,
    JSON,
    example='python -m pricer pricers --json',
)
def cmd_pricers(overrides: dict[str, str | None], spec: Any, as_json: bool) -> int:
    from pricer import pricers

    options = pricers.PricerOptions(spec, **overrides)
    listed = pricers.availability(options)
    default = pricers.default_name(options)
    if as_json:
        emit_json({"default": default, "pricers": [
            {"name": p.name, "label": p.label, "estimators": list(p.estimators), "available": reason is None,
             "reason": reason, "default": p.name == default} for p, reason in listed]})
        return 0
    for p, reason in listed:
        mark = "*" if p.name == default else " "
        print(f"{mark} {p.name:<11} {'ready' if reason is None else 'not here: ' + reason}")
        print(f"  {'':<11} {p.label}")
    say("* the default pricer (the fine-tuned Llama where it can load, else cpu)")
    return 0


def _dollars(value: float | None) -> str:
    return "no number" if value is None else f"${value:,.2f}"


def _about(details: dict[str, Any]) -> list[str]:
    """What to say beside a price: how the text was read, the model, its raw answer."""
    lines = [str(details[k]) for k in ("note", "model") if details.get(k)]
    if "completion" in details:
        lines.append(f"completion {details['completion']!r}; greedy {_dollars(details.get('greedy'))}, the course's "
                     f"top-3 weighted {_dollars(details.get('topk') or None)}, top-3 number tokens "
                     f"{_dollars(details.get('topk_numbers'))}, median {_dollars(details.get('median'))}")
    if "reply" in details:
        lines.append(f"reply {quoted(repr(details['reply']))}" + (" (from the cache)" if details.get("cached") else ""))
    for found in details.get("retrieved") or []:
        if isinstance(found, dict):
            lines.append(f"  similar: {_dollars(found.get('price'))} {str(found.get('title', ''))[:80]}")
    for member, price in (details.get("members") or {}).items():
        lines.append(f"  member {member}: {_dollars(price)}")
    return lines


@command(
    "predict", "price a product description with any pricer (the default: fine-tuned Llama, else cpu)",
    option("--text", required=True,
           help="title on the first line, then the description; or a dataset prompt; '-' reads stdin"),
    PRICER,
    OVERRIDES,
    MODEL,
    ESTIMATOR,
    JSON,
    example="python -m pricer predict --pricer cpu --text $'Garlic press\\nStainless steel, dishwasher safe'",
)
def cmd_predict(text: str, pricer: str | None, overrides: dict[str, str | None], spec: Any,
                estimator: str | None, as_json: bool) -> int:
    import time

    from pricer import pricers

    name, options = _choose(pricer, overrides, spec, estimator)
    chosen = pricers.get(name, options)
    estimator = pricers.check_estimator(chosen, estimator)
    text = read_text(text)
    started = time.perf_counter()
    (estimate,) = chosen.price([text], estimator=estimator)
    seconds = round(time.perf_counter() - started, 3)
    if as_json:
        emit_json({"pricer": chosen.name, "label": chosen.label, "estimator": estimator, **estimate.to_json(),
                   "latency_s": seconds})
        return 0
    for line in _about(estimate.details):
        say(line)
    interval = (f" (80% interval {_dollars(estimate.low)} to {_dollars(estimate.high)})"
                if estimate.low is not None and estimate.high is not None else "")
    how = f", {estimator}" if estimator else ""
    print(f"{_dollars(estimate.price)}{interval} from {chosen.name}{how}: {chosen.label}")
    return 0


@command(
    "tiny-model", "write the tiny random-weight TEST model (offline demo, tests)",
    option("--out", required=True, help="output folder (the adapter goes to OUT/adapter)"),
    example='python -m pricer tiny-model --out tiny-model',
)
def cmd_tiny_model(out: str) -> int:
    from pathlib import Path

    from pricer.pricers.llama.tiny import write_tiny_model

    folder = write_tiny_model(Path(out))
    say(f"wrote a tiny random-weight TEST model to {folder} and its LoRA adapter to {folder / 'adapter'} "
        "(its prices are nonsense)")
    print(folder)
    return 0


# --- evaluation ---------------------------------------------------------------------------------


@command(
    "evaluate", "run a pricer over the test items: error, RMSLE, hits (and its interval's coverage)",
    TEST_ITEMS,
    PRICER,
    OVERRIDES,
    MODEL,
    ESTIMATOR,
    option("--batch-size", type=int, default=16),
    option("--no-cache", action="store_true", help="run again even if this run is cached"),
    RESULTS,
    example='python -m pricer evaluate --pricer cpu --data ../shared/data/test-250.jsonl --size 250 --out results.csv',
)
def cmd_evaluate(data: str | None, size: int, pricer: str | None, overrides: dict[str, str | None], spec: Any,
                 estimator: str | None, batch_size: int, no_cache: bool, out: str | None, chart: str | None) -> int:
    from pricer import evaluation

    _check_results(out, chart)
    name, options = _choose(pricer, overrides, spec, estimator)
    if cost := evaluation.cost_line(data, name, size=size, options=options):
        say(f"cost estimate: {cost}")
    done = None
    for done in evaluation.evaluate(data, name, size=size, estimator=estimator, batch_size=batch_size,
                                    use_cache=not no_cache, options=options):
        say(done.status())
    return _report_run(done, out, chart)


@command(
    "score", "score a CSV/JSONL of guesses made elsewhere against the truths",
    TEST_ITEMS,
    option("--guesses", required=True,
           help="CSV/JSONL with a `guess` column and an `index` (0 = first item) or `text` column"),
    RESULTS,
    example='python -m pricer score --data ed-donner/pricer-data --guesses guesses.csv --chart chart.html',
)
def cmd_score(data: str | None, size: int, guesses: str, out: str | None, chart: str | None) -> int:
    from pricer.evaluation import guesses as guesses_file

    _check_results(out, chart)
    done = guesses_file.score_file(data, guesses, size=size)
    return _report_run(done, out, chart)


def _check_results(out: str | None, chart: str | None) -> None:
    """Refuse an --out or --chart that cannot be written before any work is done."""
    from pricer.atomic import writable_file

    for path, flag in ((out, "--out"), (chart, "--chart")):
        if path:
            writable_file(path, flag)


def _report_run(done: Any, out: str | None, chart: str | None) -> int:
    """Files first, then the course's metrics line as the very last line (on stdout)."""
    from pricer.evaluation.chart import figure, write_chart

    if out:
        say(f"wrote {done.write_csv(out)} (one row per item)")
    if chart:
        say(f"wrote {write_chart(figure(done), chart)}")
    if done.note:
        say(done.note)
    say(f"{done.label}: {done.metrics.details()}")
    print(done.metrics.line(), flush=True)
    return 0


# --- training, fine-tuning, the leaderboard ------------------------------------------------------


@command(
    "train", "train the CPU pricer from pricer datasets, deterministically, with its card",
    option("--data", nargs="+", required=True,
           help="training sources (JSONL/Parquet/CSV files, folders, hub ids: their train split); the first "
                "--like of them are the distribution to price"),
    option("--like", type=int, default=1,
           help="how many of the first sources are the distribution to price (weight 1, cross-validated); the "
                "others are weighted to look like them (default 1)"),
    option("--validation",
           help="a validation source (its test split), or N: the last N items of the first source; default: "
                "cross-validate the sources priced like (up to 20,000 items)"),
    option("--test", help="a test source whose figures go on the card (never used to choose anything)"),
    option("--note", help="a line for the card on what the data is"),
    option("--seed", type=int, default=42, help="recorded on the card (no training step is random)"),
    option("--workers", type=int, help="processes hashing the texts (default: one per CPU core, at most 2); "
                                       "any number gives the same model"),
    option("--out", required=True, help="output folder: model.safetensors, model.json, CARD.md"),
    example='python -m pricer train --data course.jsonl others.jsonl --out my-cpu-model',
)
def cmd_train(data: list[str], like: int, validation: str | None, test: str | None, note: str | None, seed: int,
              workers: int | None, out: str) -> int:
    import resource
    import time

    from pricer.pricers.cpu.training import train

    held: str | int | None = int(validation) if validation and validation.strip().isdigit() else validation
    started = time.perf_counter()
    model = train(data, held, out, seed=seed, progress=True, like=like, test=test, workers=workers, note=note)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for part in ("cross_validation", "validation", "test"):
        figures = (model.info.get(part) or {}).get("figures")
        if figures:
            say(f"{part.replace('_', '-')}: Error=${figures['average_error']:,.2f} RMSLE={figures['rmsle']:.2f} "
                f"Hits={figures['hits'] * 100:.1f}% coverage={figures['coverage'] * 100:.1f}% ({figures['items']} items)")
    say(f"trained in {time.perf_counter() - started:.1f} s, peak memory {peak:,.0f} MiB; "
        f"price with it: PRICER_CPU_MODEL={out} (or --cpu-model {out})")
    print(out)
    return 0


@command(
    "finetune", "the OpenAI fine-tuning job: `finetune start` creates it, `finetune status [JOB]` follows it",
    option("action", choices=("start", "status")),
    option("job", nargs="?", help="status: the job id (default: the newest job)"),
    option("--train-file", help="start: the uploaded training file's id (default: the newest fine_tune_train.jsonl)"),
    option("--validation-file", help="start: the uploaded validation file's id (default: the newest "
                                     "fine_tune_validation.jsonl)"),
    example='python -m pricer finetune status',
)
def cmd_finetune(action: str, job: str | None, train_file: str | None, validation_file: str | None) -> int:
    from pricer.errors import BadInput
    from pricer.pricers.chat.finetune_job import job_status, start_job

    if action == "start":
        if job:
            raise BadInput("`finetune start` takes no job id: give the files with --train-file/--validation-file, "
                           "or follow a job with `finetune status JOB`.")
        found = start_job(train_file, validation_file)
    else:
        if train_file or validation_file:
            raise BadInput("--train-file and --validation-file are for `finetune start`.")
        found = job_status(job)
    for line in found.lines():
        print(line)
    return 0


def _recipe(preset: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """(the preset, the settings given over it): checked into a Recipe where the run starts."""
    if changes.get("no_group_by_length"):
        changes["group_by_length"] = False
    changes.pop("no_group_by_length", None)
    return preset, {k: v for k, v in changes.items() if v is not None}


RECIPE = Group("recipe", (
    option("--preset", default="course-2024", choices=("course-2024", "course-2025-full"),
           help="the course's 2024 recipe (r 32 on attention, 1 epoch, batch 4, 182 tokens; default) or its 2025 "
                "full run (r 256 on attention and MLP, 3 epochs, batch 256, 128 tokens); the options below change it"),
    option("--max-steps", type=int, help="stop after N optimizer steps"),
    option("--epochs", type=float), option("--batch-size", type=int, help="the effective batch"),
    option("--learning-rate", type=float), option("--lora-r", type=int), option("--lora-alpha", type=int),
    option("--lora-dropout", type=float), option("--target-modules", nargs="+"),
    option("--max-length", type=int, help="tokens of prompt and price (longer items are left out, and said)"),
    option("--warmup", type=float, help="share of the steps spent warming up"),
    option("--scheduler"), option("--optimizer"), option("--weight-decay", type=float),
    option("--max-grad-norm", type=float), option("--logging-steps", type=int),
    option("--save-steps", type=int, help="a checkpoint (and a hub revision with --push-to-hub) every N steps"),
    option("--seed", type=int), option("--no-group-by-length", action="store_true"),
), _recipe)


@command(
    "qlora", "train a QLoRA adapter for the Llama pricer (TRL, peft, 4-bit): on this GPU or on Hugging Face Jobs",
    option("--data", required=True, help="a pricer dataset: hub id (its train split) or a local file or folder"),
    option("--out", help="the run's folder: checkpoints, then the adapter and its card (the same --out resumes)"),
    option("--base-model", default="meta-llama/Meta-Llama-3.1-8B", help="hub id or local path (default: the course's)"),
    option("--size", type=int, help="train on the first N items only"),
    RECIPE,
    option("--report-to", default="none", choices=("none", "trackio", "wandb"),
           help="where the metrics go (default: nowhere; wandb needs WANDB_API_KEY)"),
    option("--push-to-hub", metavar="REPO", nargs="?", const="",
           help="push each checkpoint and the adapter to this model repo (alone: YOUR_NAME/pricer-DATE_TIME)"),
    option("--public", action="store_true", help="make a new --push-to-hub repo public (default: private)"),
    option("--evaluate", action="store_true", help="then evaluate the adapter on the test items (leaderboard, card)"),
    option("--eval-data", help="test items for --evaluate (default PRICER_DATASET, else the course's)"),
    option("--eval-size", type=int, default=250, help="the first N test items for --evaluate (default 250)"),
    option("--on", default="here", choices=("here", "hf-jobs"), help="where it runs (default: this machine)"),
    option("--flavor", default="a10g-large", help="--on hf-jobs: the GPU (t4-small, l4x1, a10g-large, a100-large...)"),
    option("--detach", action="store_true", help="--on hf-jobs: print the job id and return; `qlora-job status ID`"),
    example='python -m pricer qlora --data ed-donner/pricer-data --out runs/pricer-1 --push-to-hub YOUR_NAME/pricer-1',
)
def cmd_qlora(data: str, out: str | None, base_model: str, size: int | None, recipe: tuple[str, dict[str, Any]],
              report_to: str, push_to_hub: str | None, public: bool, evaluate: bool, eval_data: str | None,
              eval_size: int, on: str, flavor: str, detach: bool) -> int:
    from pricer.errors import BadInput
    from pricer.pricers.llama import recipe as recipes
    from pricer.pricers.llama import training

    preset, changes = recipe
    chosen = recipes.recipe(preset, **changes)  # every setting checked before anything runs
    if on == "hf-jobs":
        return _qlora_on_jobs(data, base_model, size, preset, changes, chosen, report_to, push_to_hub, public,
                              flavor, detach)
    if detach:
        raise BadInput("--detach is for --on hf-jobs: here the run is this command (the same --out resumes it).")
    if not out:
        raise BadInput("Give --out: the folder for the run's checkpoints and the adapter.")
    done = training.train(data, out, base_model=base_model, recipe=chosen, size=size, report_to=report_to,
                          push_to=push_to_hub, private=not public, say=say)
    say(done.line())
    if evaluate:
        say(_evaluate_adapter(base_model, str(done.folder), eval_data, eval_size))
    say(f"price with it: PRICER_BASE_MODEL={base_model} PRICER_ADAPTER={done.folder} python app.py "
        f"(or predict --base-model {base_model} --adapter {done.folder})")
    print(done.folder)
    return 0


def _evaluate_adapter(base_model: str, folder: str, data: str | None, size: int) -> str:
    """Evaluate the trained adapter as Evaluate does (cached, on the leaderboard), figures on its card."""
    from pricer import evaluation
    from pricer.pricers.llama.model import ModelSpec
    from pricer.pricers.llama.pricer import LlamaPricer
    from pricer.pricers.llama.training import add_figures

    *_, run = evaluation.evaluate(data, LlamaPricer(True, ModelSpec(base_model, folder)), size=size)
    add_figures(folder, f"{run.metrics.line()} on {len(run.outcomes)} test items of {data or 'PRICER_DATASET'} "
                        f"({run.label}; leaderboard run {run.id}).")
    return f"evaluated: {run.metrics.line()} ({len(run.outcomes)} items; on the leaderboard and the card)"


def _qlora_on_jobs(data: str, base_model: str, size: int | None, preset: str, changes: dict[str, Any], chosen: Any,
                   report_to: str, repo: str | None, public: bool, flavor: str, detach: bool) -> int:
    from pathlib import Path

    from pricer import hub, jobs
    from pricer.errors import BadInput
    from pricer.pricers.llama import checkpoints, training
    from pricer.pricers.llama import recipe as recipes

    if repo is None:
        raise BadInput(f"--on hf-jobs needs --push-to-hub [REPO]: the adapter comes back through the hub (e.g. "
                       f"--push-to-hub YOUR_NAME/{training.run_name()}).")
    for name, what in ((data, "--data"), (base_model, "--base-model")):
        if hub.is_local(name) or hub.looks_like_path(name):
            raise BadInput(f"{what} {name} is a local path, which a job on Hugging Face cannot read: give a hub id "
                           "(`python -m pricer dataset --push` puts a dataset there).")
    if report_to == "wandb":
        raise BadInput("--report-to wandb is not sent to a job (its key would have to travel): use trackio or none.")
    gpu = recipes.hardware_of_flavor(flavor)
    if repo == "":
        repo = f"{checkpoints.hub_user()}/{training.run_name()}"
        say(f"pushing to {repo}: give --push-to-hub {repo} to a rerun, to resume it")
    shape = training.model_shape(training.locate(base_model, "base model")[0])
    items = size or recipes.COURSE_ITEMS
    the_plan = recipes.plan(chosen, shape, base_model, items, items * recipes.TOKENS_PER_ITEM, gpu)
    for line in the_plan.lines():
        say(line)
    if not size:
        say(f"note: planned for the course's {items:,} items (give --size for yours); the job prints its own plan")
    timeout = the_plan.job_timeout()
    arguments = training.remote_arguments(data, base_model, preset, changes, repo, report_to, size)
    launched = jobs.launch(arguments, repo, root=Path(__file__).resolve().parent.parent, flavor=flavor,
                           timeout_seconds=timeout, private=not public)
    say(f"job {launched.id} started on {flavor} (timeout {timeout / 3600:.1f} h): {launched.url}")
    if detach:
        print(launched.id)
        return 0
    jobs.follow(launched, say)
    print(f"{repo}@{checkpoints.pushed_revision(repo)}")
    return 0


@command(
    "qlora-job", "follow a `qlora --on hf-jobs` run: its stage and log, and the adapter it pushed",
    option("action", choices=("status",)),
    option("job", help="the job id `qlora --on hf-jobs --detach` printed"),
    option("--follow", action="store_true", help="stream the log until the job ends"),
    example='python -m pricer qlora-job status JOB_ID --follow',
)
def cmd_qlora_job(action: str, job: str, follow: bool) -> int:
    from pricer import jobs

    if follow:
        for line in jobs.logs(job, follow=True):
            say(line)
    stage, message = jobs.status(job)
    print(f"{job}: {stage}{' - ' + message if message else ''}")
    return 0 if stage != "ERROR" else 2


@command(
    "rag-index", "build (or resume) the RAG pricer's index of training items: sentence embeddings and prices",
    option("--data", nargs="+", help="training items: hub id (its train split) or JSONL/Parquet/CSV files or folders "
                                     "(default PRICER_RAG_DATA, else the course's dataset)"),
    option("--size", type=int, help="index only the first N usable items"),
    option("--out", help="the index folder (default: where the RAG pricer looks for the index of --data)"),
    example='python -m pricer rag-index --data train.jsonl',
)
def cmd_rag_index(data: list[str] | None, size: int | None, out: str | None) -> int:
    from pricer.pricers.chat import rag_index

    built = rag_index.build(data, out, size=size)
    say(built.line())
    print(built.folder)
    return 0


@command(
    "ensemble", "`ensemble fit`: fit the ensemble's weights on items no member was trained on, with a card",
    option("action", choices=("fit",)),
    option("--members", nargs="+", help="pricer names (name:estimator for a Llama estimator), default "
                                        "fine-tuned rag cpu: those that cannot run here are left out, and said"),
    option("--data", help="where the validation items are (default PRICER_DATASET)"),
    option("--split", default="test", help="its split (default test)"),
    option("--start", type=int, help="first item (default 1000: the course's test[1000:1250])"),
    option("--size", type=int, help="number of items (default 250)"),
    option("--out", help="the weights file (default: where the ensemble pricer reads them)"),
    OVERRIDES,
    MODEL,
    example='python -m pricer ensemble fit --members fine-tuned rag cpu',
)
def cmd_ensemble(action: str, members: list[str] | None, data: str | None, split: str, start: int | None,
                 size: int | None, out: str | None, overrides: dict[str, str | None], spec: Any) -> int:
    from pricer import pricers
    from pricer.pricers import ensemble

    weights, path = ensemble.fit_members(
        members or ensemble.DEFAULT_MEMBERS, data, split=split,
        start=ensemble.VALIDATION_START if start is None else start,
        size=ensemble.VALIDATION_SIZE if size is None else size, out=out,
        lookup=pricers.member_lookup(pricers.PricerOptions(spec, **overrides)))
    say(ensemble.fit_line(weights, path))
    print(path)
    return 0


@command(
    "leaderboard", "the evaluation runs made here beside the course's published figures",
    option("--clear", action="store_true", help="forget the runs made here (the published rows stay)"),
    JSON,
    example='python -m pricer leaderboard --json',
)
def cmd_leaderboard(clear: bool, as_json: bool) -> int:
    from pricer.evaluation import leaderboard

    if clear:
        say(f"cleared {leaderboard.clear()} runs from the leaderboard")
        return 0
    rows = leaderboard.rows()
    if note := leaderboard.take_notes():
        say(note)
    if as_json:
        emit_json({"rows": [r.to_json() for r in rows]})
        return 0
    print(f"{'error':>10} {'RMSLE':>6} {'hits':>6} {'in 80%':>6}  pricer (what, when, run id)")
    for row in rows:
        print(row.line())
    say(f"{sum(not r.published for r in rows)} runs made here; 'published': the course's figures on the same "
        "250 test items, not run here")
    return 0


# --- deploy -------------------------------------------------------------------------------------


@command(
    "deploy", "deploy the app to a Hugging Face Space as spaces.yaml says (HF_TOKEN)",
    option("--config", default="spaces.yaml", help="the manifest (default spaces.yaml)"),
    option("--dry-run", action="store_true", help="print the README front matter, the files and every call, send nothing"),
    option("--wait", action="store_true", help="follow the build until the Space is RUNNING"),
    example='python -m pricer deploy --dry-run',
)
def cmd_deploy(config: str, dry_run: bool, wait: bool) -> int:
    from pricer import deploy
    from pricer.manifest import load_manifest

    if dry_run:  # sends nothing, so a secret not exported yet is noted, not refused
        manifest, unset = deploy.load_for_dry_run(config)
        print(deploy.describe_plan(manifest, deploy.plan(manifest), unset=unset))
        say("dry run: nothing was sent to the Hub")
        return 0
    manifest = load_manifest(config)
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
