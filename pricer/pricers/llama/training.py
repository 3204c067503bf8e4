"""Train your own Llama pricer: a QLoRA adapter from any pricer dataset, with TRL's SFTTrainer.

One run, in the order it happens: the dataset is read through the project's one reader
(pricer.data.datasets), its items become prompt/completion pairs split at `Price is $`
(pricer.pricers.llama.recipe), the plan is said (items, steps, tokens, memory against the GPU's),
the base model loads in 4 bits (nf4 with double quantization: backbone's config) and TRL's
SFTTrainer trains peft's LoRA adapter with the completion-only loss: no hand-written loop.
Checkpoints go to OUT/checkpoint-N every `save_steps`; a run started again on the same OUT with
the same base model, data and recipe resumes from the newest (on the hub, with `push_to`, from
the pushed `last-checkpoint`), and one that differs is refused. The adapter is saved to OUT with
a card (README.md: base model and revision, data and its sha256, items, every setting, steps,
final loss, time, hardware) and `run.json`; `PRICER_ADAPTER=OUT` prices with it.

Pushing (`push_to=REPO`) makes each checkpoint a commit of the private repo REPO (the course's
`pricer-YYYY-MM-DD_HH.MM.SS` run names), and the adapter with its card the last. Nothing is
reported anywhere unless asked: `report_to` is "none", "trackio" (local, offline) or "wandb"
(only with WANDB_API_KEY, never printed). Without a CUDA GPU a model over 2 B parameters is
refused with the two ways forward; small models (the tests' tiny one) train on the CPU.

It imports torch, transformers, peft and trl only inside functions; it does not evaluate
(pricer.evaluation, from the CLI) or launch jobs (pricer.jobs).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import atomic_write, writable_folder
from pricer.errors import BadInput, ModelUnavailable
from pricer.pricers.llama.backbone import CPU_PARAM_LIMIT, compute_dtype_name, locate, quantization_config
from pricer.pricers.llama.checkpoints import (
    CARD_FILE,
    RUN_FILE,
    hub_user,
    identity,
    pull_checkpoint,
    push_adapter,
    pusher,
    resume_point,
    write_json,
)
from pricer.pricers.llama.recipe import (
    BASE_MODEL,
    CPU,
    GPUS,
    Examples,
    Hardware,
    ModelShape,
    Plan,
    Recipe,
    examples,
    plan,
)

REPORTERS = ("none", "trackio", "wandb")
NO_GPU = ("{name} has {params:.1f} B parameters and this machine has no CUDA GPU: QLoRA training needs one "
          "for a model this size. Two ways forward: run this command on a machine with an NVIDIA GPU (a T4's "
          "16 GB is enough for the course's recipe), or on Hugging Face's GPUs with the same command and "
          "`--on hf-jobs --push-to-hub YOUR_NAME/pricer-RUN` (HF_TOKEN; billed by the minute).")

Say = Callable[[str], Any]


def run_name(now: datetime | None = None) -> str:
    """The course's run name: `pricer-2024-09-13_13.04.39`."""
    return f"pricer-{(now or datetime.now()):%Y-%m-%d_%H.%M.%S}"


@dataclass(frozen=True)
class Trained:
    """A finished run."""

    folder: Path
    base_model: str
    steps: int
    loss: float | None
    seconds: float
    items: int
    revision: str | None = None
    """The hub revision of the pushed adapter, when pushed."""
    repo: str | None = None

    def line(self) -> str:
        loss = f", final loss {self.loss:.4f}" if self.loss is not None else ""
        where = f"; pushed to {self.repo}@{self.revision}" if self.repo else ""
        return (f"trained {self.steps:,} steps on {self.items:,} items in {self.seconds:.0f} s{loss}: the adapter is "
                f"in {self.folder}{where}")


# --- before anything loads --------------------------------------------------------------------


def check_reporting(report_to: str) -> list[str]:
    """report_to as TRL takes it; a BadInput when it cannot be honoured here."""
    import importlib.util

    if report_to not in REPORTERS:
        raise BadInput(f"--report-to must be one of {', '.join(REPORTERS)}, not {report_to!r}.")
    if report_to == "wandb" and not os.environ.get("WANDB_API_KEY"):
        raise BadInput("--report-to wandb needs WANDB_API_KEY (as the course's notebook does); without it use "
                       "--report-to trackio (local, works offline) or none.")
    if report_to in ("wandb", "trackio") and importlib.util.find_spec(report_to) is None:
        raise BadInput(f"--report-to {report_to} needs the {report_to} package: pip install {report_to}.")
    return [] if report_to == "none" else [report_to]


def hardware_here() -> Hardware:
    """This machine's first CUDA GPU, or the CPU."""
    import torch

    if not torch.cuda.is_available():
        return CPU
    props = torch.cuda.get_device_properties(0)
    capability = torch.cuda.get_device_capability(0)
    known = next((g for key, g in GPUS.items() if key in props.name.lower()), None)
    return Hardware(props.name, props.total_memory / 1e9, capability, known.tflops if known else 100.0)


def model_shape(source: str) -> ModelShape:
    """The base model's shape from its config (nothing is loaded: the meta device)."""
    from pricer.pricers.llama.backbone import inspect_model

    config, params = inspect_model(source)
    return ModelShape.from_config(config, params)


def check_runnable(name: str, shape: ModelShape, hardware: Hardware) -> None:
    if not hardware.cuda and shape.params > CPU_PARAM_LIMIT:
        raise ModelUnavailable(NO_GPU.format(name=name, params=shape.params / 1e9))


# --- the run ------------------------------------------------------------------------------------


def load_for_training(source: str, hardware: Hardware, tokenizer: Any) -> Any:
    """The model in 4 bits, ready for k-bit training, padding with `tokenizer`'s pad token."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, compute_dtype_name(hardware.capability))
    if hardware.cuda:
        from accelerate import PartialState

        device_map: Any = {"": PartialState().local_process_index}  # one copy per GPU under accelerate launch
    else:
        device_map = "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(source, quantization_config=quantization_config("4bit", dtype),
                                                     device_map=device_map, dtype=dtype, token=hub.token())
    except torch.cuda.OutOfMemoryError as exc:
        raise ModelUnavailable(f"Out of GPU memory while loading {source}: use a bigger GPU.") from exc
    model.config.pad_token_id = tokenizer.pad_token_id
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)  # the trainer enables checkpointing


def tokenizer_for(source: str) -> Any:
    """The base model's tokenizer, padded as the course did (eos, on the right)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, token=hub.token())
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def sft_config(recipe: Recipe, out: Path, the_plan: Plan, report_to: list[str], name: str) -> Any:
    """TRL's SFTConfig for the recipe (the course's SFTConfig, in TRL 1.x's names)."""
    from trl import SFTConfig

    hardware = the_plan.hardware
    return SFTConfig(
        output_dir=str(out), run_name=name, seed=recipe.seed, data_seed=recipe.seed,
        num_train_epochs=recipe.epochs, max_steps=recipe.max_steps,
        per_device_train_batch_size=the_plan.micro_batch, gradient_accumulation_steps=the_plan.accumulation,
        learning_rate=recipe.learning_rate, lr_scheduler_type=recipe.scheduler,
        warmup_steps=recipe.warmup,  # a float below 1 is a share of the steps: the course's warmup_ratio
        optim=recipe.optimizer, weight_decay=recipe.weight_decay, max_grad_norm=recipe.max_grad_norm,
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        max_length=recipe.max_length, completion_only_loss=True,
        logging_steps=recipe.logging_steps, save_strategy="steps", save_steps=recipe.save_steps,
        save_total_limit=10, report_to=report_to or "none",
        bf16=hardware.dtype == "bf16", fp16=hardware.dtype == "fp16", use_cpu=not hardware.cuda,
        dataloader_num_workers=0, disable_tqdm=False, activation_checkpointing=True,
    )


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes" if seconds < 7200 else \
        f"{seconds / 3600:.1f} hours"


def callbacks(say: Say, total: int, push: Callable[[Path, int], None] | None) -> list[Any]:
    """The run's TrainerCallbacks: the loss as it is logged, an ETA after the first measured
    steps, and each checkpoint pushed to the hub when pushing."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        started, first, told = 0.0, 0, False

        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.started, self.first = time.perf_counter(), state.global_step

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            done, left = state.global_step - self.first, total - state.global_step
            if not self.told and left > 0 and done >= min(3, total - self.first):
                per_step = (time.perf_counter() - self.started) / done
                say(f"measured {per_step:.2f} s a step: about {_eta(left * per_step)} for the {left:,} left")
                self.told = True

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **_: Any) -> None:
            if logs and "loss" in logs:
                say(f"step {state.global_step:,}/{total:,}: loss {float(logs['loss']):.4f}")

    class PushCheckpoints(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            if push is not None and state.is_world_process_zero:
                push(Path(args.output_dir) / f"checkpoint-{state.global_step}", state.global_step)

    return [Progress(), PushCheckpoints()]


def train(data: str, out: str | os.PathLike, *, base_model: str = BASE_MODEL, recipe: Recipe | None = None,
          size: int | None = None, report_to: str = "none", push_to: str | None = None, private: bool = True,
          hardware: Hardware | None = None, say: Say = print) -> Trained:
    """Train a QLoRA adapter on `data` (a pricer dataset's train split: hub id, file or folder) into
    `out`; see the module's docstring for the whole run. `push_to=""` pushes to YOUR_NAME/<run name>."""
    from pricer.data.datasets import load_pricer_dataset

    recipe = recipe or Recipe()
    reporting = check_reporting(report_to)
    rows = load_pricer_dataset(data, split="train", size=size)
    source, _ = locate(base_model, "base model")
    shape = model_shape(source)
    hardware = hardware or hardware_here()
    check_runnable(base_model, shape, hardware)
    folder = writable_folder(out)  # refused before the model loads; created only once nothing else refuses
    tokenizer = tokenizer_for(source)
    found = examples(rows, tokenizer, recipe.max_length, source=rows.source or str(data),
                     skipped_rows=rows.skipped)
    the_plan = plan(recipe, shape, base_model, len(found.prompts), found.tokens, hardware, found.notes(recipe.max_length))
    for line in the_plan.lines():
        say(line)
    wanted = identity(base_model, found, recipe)
    resume, held = resume_point(folder, wanted)
    name = held.get("run_name") or run_name()
    if push_to == "":  # --push-to-hub without a repo: YOUR_NAME/<the run's name>, kept for a resume
        push_to = held.get("push_to") or f"{hub_user()}/{name}"
        say(f"pushing to {push_to}")
    if resume is None and push_to:
        resume = pull_checkpoint(push_to, folder, wanted, say)
    record = {**wanted, "run_name": name, "data": str(data), "push_to": push_to}
    write_json(folder / RUN_FILE, record)
    if resume is not None:
        say(f"resuming from {resume}")
    return _run(found, folder, source, tokenizer, base_model, recipe, the_plan, reporting, record, resume, push_to, private,
                say)


def build_trainer(found: Examples, folder: Path, source: str, tokenizer: Any, recipe: Recipe, the_plan: Plan,
                  reporting: list[str], name: str, push: Callable[[Path, int], None] | None, say: Say) -> Any:
    """TRL's SFTTrainer for the run: the 4-bit model, peft's LoraConfig, the prompt/completion
    pairs (the completion-only loss), the recipe's SFTConfig and the run's callbacks."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTTrainer

    set_seed(recipe.seed)
    model = load_for_training(source, the_plan.hardware, tokenizer)
    lora = LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=list(recipe.target_modules), bias="none", task_type="CAUSAL_LM")
    dataset = Dataset.from_dict({"prompt": found.prompts, "completion": found.completions})
    trainer = SFTTrainer(model=model, args=sft_config(recipe, folder, the_plan, reporting, name),
                         train_dataset=dataset, processing_class=tokenizer, peft_config=lora,
                         callbacks=callbacks(say, the_plan.steps, push))
    # TRL casts a quantized model's LoRA weights to bf16, and a resumed run reloads them in fp32: train them in
    # fp32 from the start, so an interrupted and resumed run ends with the same adapter as an uninterrupted one
    for parameter in trainer.model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    # the bar (loss and ETA) stays, on stderr; the logged dicts are said once, by Progress, not printed to stdout
    for printer in (PrinterCallback, ProgressCallback):
        trainer.pop_callback(printer)
    trainer.add_callback(quiet_bar())
    return trainer


def quiet_bar() -> Any:
    """transformers' progress bar without its printing of every logged dict (Progress says the loss)."""
    from transformers.trainer_callback import ProgressCallback

    class QuietBar(ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            pass

    return QuietBar()


def _run(found: Examples, folder: Path, source: str, tokenizer: Any, base_model: str, recipe: Recipe, the_plan: Plan,
         reporting: list[str], record: dict[str, Any], resume: Path | None, push_to: str | None, private: bool,
         say: Say) -> Trained:
    push = pusher(push_to, private, say, identity(base_model, found, recipe)) if push_to else None
    trainer = build_trainer(found, folder, source, tokenizer, recipe, the_plan, reporting, record["run_name"], push, say)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    trainer.save_model(str(folder))  # the adapter: adapter_config.json and adapter_model.safetensors
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    done = Trained(folder, base_model, trainer.state.global_step, losses[-1] if losses else
                   float(result.training_loss) if result.training_loss is not None else None, seconds,
                   len(found.prompts))
    if not trainer.is_world_process_zero():  # under accelerate launch, one process writes and pushes
        return done
    write_card(folder, done, found, recipe, the_plan, record, source)
    if push_to:
        revision = push_adapter(push_to, folder, private)
        done = Trained(done.folder, done.base_model, done.steps, done.loss, done.seconds, done.items, revision, push_to)
        write_json(folder / RUN_FILE, {**record, "pushed": {"repo": push_to, "revision": revision}})
    return done


# --- files --------------------------------------------------------------------------------------


def base_revision(base_model: str, source: str) -> str:
    """The base model's commit on the hub, or 'local folder' for one on disk."""
    if hub.is_local(base_model):
        return "local folder"
    try:
        from huggingface_hub import HfApi

        return str(HfApi(endpoint=hub.endpoint()).model_info(base_model, token=hub.token()).sha or "unknown")
    except Exception:  # noqa: BLE001 - the card says it did not find out rather than failing a finished run
        return "unknown"


def write_card(folder: Path, done: Trained, found: Examples, recipe: Recipe, the_plan: Plan,
               record: dict[str, Any], source: str, figures: str | None = None) -> Path:
    """The adapter's card (README.md, the model card on the hub)."""
    settings = "\n".join(f"| {k} | {v} |" for k, v in recipe.to_json().items())
    loss = f"{done.loss:.4f}" if done.loss is not None else "n/a"
    hardware = the_plan.hardware
    text = f"""---
base_model: {done.base_model}
library_name: peft
tags: [pricer, qlora, trl, lora]
---
# {record['run_name']}: a QLoRA pricer adapter for {done.base_model}

Trained by `python -m pricer qlora` (TRL SFTTrainer, peft LoRA, bitsandbytes nf4 with double
quantization; the loss covers only the price after `Price is $`). Price with it:
`PRICER_BASE_MODEL={done.base_model} PRICER_ADAPTER=<this folder or repo> python app.py`.

| | |
|---|---|
| base model | {done.base_model} (revision: {base_revision(done.base_model, source)}) |
| data | {record['data']} (sha256 of the pairs: {found.digest()}) |
| items | {done.items:,} ({found.tokens:,} tokens) |
| steps | {done.steps:,} (batch {the_plan.micro_batch} x {the_plan.accumulation} accumulation) |
| final loss | {loss} |
| time | {done.seconds:.0f} s |
| hardware | {hardware.name}{f', {hardware.memory_gb:.0f} GB' if hardware.cuda else ''}, {hardware.dtype} |

## Settings

| setting | value |
|---|---|
{settings}
"""
    if figures:
        text += f"\n## Evaluation\n\n{figures}\n"
    path = folder / CARD_FILE
    with atomic_write(path) as f:
        f.write(text)
    return path


def add_figures(folder: str | os.PathLike, figures: str) -> Path:
    """Append an evaluation's figures to the card of a trained adapter."""
    path = Path(folder) / CARD_FILE
    text = path.read_text(encoding="utf-8")
    text = text.split("\n## Evaluation\n")[0].rstrip("\n") + f"\n\n## Evaluation\n\n{figures}\n"
    with atomic_write(path) as f:
        f.write(text)
    return path


def remote_arguments(data: str, base_model: str, preset: str, changes: dict[str, Any], repo: str,
                     report_to: str = "none", size: int | None = None) -> list[str]:
    """The `python -m pricer qlora ...` arguments a job runs: the same run, pushed to `repo` (so a
    rerun resumes from its last pushed checkpoint), in the job's scratch folder."""
    args = ["qlora", "--data", data, "--out", "/tmp/pricer-run", "--base-model", base_model, "--preset", preset,
            "--push-to-hub", repo, "--report-to", report_to]
    if size is not None:
        args += ["--size", str(size)]
    for key, value in changes.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        args += [flag, *map(str, value)] if isinstance(value, (list, tuple)) else [flag, str(value)]
    return args
