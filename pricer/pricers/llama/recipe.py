"""What a QLoRA training run will do, decided before anything loads: the recipe, the items, the plan.

The recipe is the course's 2024 one, every field settable. The course's own notebook is a Colab
linked from `week7/day3 and 4.ipynb` of ed-donner/llm_engineering; its cells are kept in that
repository's `week7/community_contributions/nikhil_raut/Week_7_Day_3_TRAINING.ipynb` (commit
b1d2a1b4f9182f0b5b81d043f75f3b314570e4ee), whose constants each field quotes. `course-2025-full`
is the 2025 notebook's full run (`LITE_MODE = False`, kept in `week7/community_contributions/
frex_Week_7_Day_5_Testing_our_Fine_tuned_model.ipynb`, commit e981664108252ad095020586a5fff11e2d6fa22b;
the course ran it on meta-llama/Llama-3.2-3B). Items become (prompt, completion) pairs split at `Price is $`, so the loss covers
only the price, as the course's DataCollatorForCompletionOnlyLM did (TRL 1.x removed it; its
completion-only loss does the same on prompt/completion data). The plan says what a run on some
hardware will take: steps, tokens, the memory it expects to need (an estimate from the model's
size, labelled so) against what the GPU has, the dtype, and a batch that fits.

It loads no model and imports no torch: pricer.pricers.llama.training runs the plan.

    >>> split_item("How much...\\n\\nA mug\\n\\nPrice is $12.00", 11.5)
    ('How much...\\n\\nA mug\\n\\nPrice is $', '12.00')
    >>> split_item("How much...\\n\\nA mug\\n\\nPrice is $", 11.5)
    ('How much...\\n\\nA mug\\n\\nPrice is $', '12.00')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pricer.data.items import PREFIX
from pricer.errors import BadInput
from pricer.pricers.estimates import extract_price

BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B"  # the course's BASE_MODEL
COURSE_ITEMS = 400_000  # the course's train split, what a plan made before the data is read assumes
TOKENS_PER_ITEM = 170  # about one prompt and price of the course's data (its prompts cut at 160 tokens)


@dataclass(frozen=True)
class Recipe:
    """The hyperparameters of a run; the defaults are the course's 2024 notebook's."""

    lora_r: int = 32
    """LoRA rank (LORA_R = 32)."""
    lora_alpha: int = 64
    """LoRA scaling (LORA_ALPHA = 64)."""
    lora_dropout: float = 0.1
    """LORA_DROPOUT = 0.1."""
    target_modules: tuple[str, ...] = ("q_proj", "v_proj", "k_proj", "o_proj")
    """TARGET_MODULES: the attention projections."""
    epochs: float = 1
    """EPOCHS = 1."""
    batch_size: int = 4
    """The effective batch (BATCH_SIZE = 4, GRADIENT_ACCUMULATION_STEPS = 1); a GPU too small for it
    gets a smaller per-device batch and gradient accumulation instead, the same effective batch."""
    learning_rate: float = 1e-4
    """LEARNING_RATE = 1e-4."""
    scheduler: str = "cosine"
    """LR_SCHEDULER_TYPE = 'cosine'."""
    warmup: float = 0.03
    """WARMUP_RATIO = 0.03: the share of the steps spent warming up."""
    optimizer: str = "paged_adamw_32bit"
    """OPTIMIZER = 'paged_adamw_32bit' (bitsandbytes' AdamW; on a CPU it runs unpaged)."""
    weight_decay: float = 0.001
    max_grad_norm: float = 0.3
    group_by_length: bool = True
    max_length: int = 182
    """MAX_SEQUENCE_LENGTH = 182 tokens: prompt and price (items.MAX_TOKENS = 160 leaves room)."""
    logging_steps: int = 50
    """STEPS = 50."""
    save_steps: int = 2000
    """SAVE_STEPS = 2000: a checkpoint (and a hub revision, when pushing) every N steps."""
    max_steps: int = -1
    """Stop after N optimizer steps (-1: the epochs decide)."""
    seed: int = 42

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise BadInput(f"{name} must be {what}, not {getattr(self, name)!r}.")

        need(isinstance(self.lora_r, int) and self.lora_r >= 1, "lora_r", "a whole number of 1 or more")
        need(isinstance(self.lora_alpha, int) and self.lora_alpha >= 1, "lora_alpha", "a whole number of 1 or more")
        need(0 <= self.lora_dropout < 1, "lora_dropout", "from 0 up to (not including) 1")
        need(bool(self.target_modules) and all(isinstance(m, str) and m for m in self.target_modules),
             "target_modules", "module names such as q_proj")
        need(self.epochs > 0, "epochs", "more than 0")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", "a whole number of 1 or more")
        need(0 < self.learning_rate < 1, "learning_rate", "between 0 and 1")
        need(self.scheduler in SCHEDULERS, "scheduler", "one of " + ", ".join(SCHEDULERS))
        need(0 <= self.warmup < 1, "warmup", "a share of the steps from 0 up to 1")
        need(self.optimizer in OPTIMIZERS, "optimizer", "one of " + ", ".join(OPTIMIZERS))
        need(self.weight_decay >= 0, "weight_decay", "0 or more")
        need(self.max_grad_norm > 0, "max_grad_norm", "more than 0")
        need(isinstance(self.max_length, int) and 16 <= self.max_length <= 8192, "max_length", "16 to 8,192 tokens")
        need(isinstance(self.logging_steps, int) and self.logging_steps >= 1, "logging_steps", "1 or more")
        need(isinstance(self.save_steps, int) and self.save_steps >= 1, "save_steps", "1 or more")
        need(isinstance(self.max_steps, int) and (self.max_steps == -1 or self.max_steps >= 1), "max_steps",
             "-1 (the epochs decide) or 1 or more")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
OPTIMIZERS = ("paged_adamw_32bit", "paged_adamw_8bit", "adamw_torch")
PRESETS: dict[str, Recipe] = {
    "course-2024": Recipe(),
    # the course's 2025 full run: rank 256 on attention and MLP, 3 epochs, batch 256, 128 tokens
    "course-2025-full": Recipe(lora_r=256, lora_alpha=512, target_modules=(
        "q_proj", "v_proj", "k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        epochs=3, batch_size=256, max_length=128, warmup=0.01, logging_steps=10, save_steps=200),
}


def recipe(preset: str = "course-2024", **changes: Any) -> Recipe:
    """The preset's recipe with `changes` (None leaves a field as the preset has it)."""
    if preset not in PRESETS:
        raise BadInput(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}.")
    given = {k: v for k, v in changes.items() if v is not None}
    unknown = set(given) - {f.name for f in dataclasses.fields(Recipe)}
    if unknown:
        raise BadInput(f"Unknown training settings: {', '.join(sorted(unknown))}.")
    if "target_modules" in given and isinstance(given["target_modules"], (list, str)):
        given["target_modules"] = tuple([given["target_modules"]] if isinstance(given["target_modules"], str)
                                        else given["target_modules"])
    return dataclasses.replace(PRESETS[preset], **given)


# --- the items -----------------------------------------------------------------------------------


def split_item(text: str, price: float) -> tuple[str, str] | None:
    """A pricer item -> (prompt ending in `Price is $`, completion: the price in the course's form
    `123.00`); None when the text holds no `Price is $`. A test prompt (no answer after the
    prefix) takes its completion from the price, rounded to dollars as the course's training
    prompts are; a training prompt keeps its own answer."""
    head, found, answer = text.partition(PREFIX)
    if not found:
        return None
    answer = answer.strip()
    if not answer:
        answer = f"{round(price)}.00"
    elif extract_price(answer) is None:
        return None
    return head + PREFIX, answer


@dataclass
class Examples:
    """The training pairs, and what was left out and why."""

    prompts: list[str]
    completions: list[str]
    source: str
    lengths: list[int] = field(default_factory=list)
    """Tokens of each pair (prompt, price and the end-of-text token)."""
    no_prefix: int = 0
    """Rows whose text holds no `Price is $` and a price after it."""
    too_long: int = 0
    """Pairs longer than the recipe's max_length: left out, since cutting them would cut the price."""
    longest: int = 0
    skipped_rows: int = 0
    """Rows the dataset reader skipped (no text or no numeric price)."""

    @property
    def tokens(self) -> int:
        return sum(self.lengths)

    def digest(self) -> str:
        """sha256 of the pairs, in order: the data's identity on the card and for resuming."""
        h = hashlib.sha256()
        for prompt, completion in zip(self.prompts, self.completions, strict=True):
            h.update(json.dumps([prompt, completion]).encode())
        return h.hexdigest()

    def notes(self, max_length: int) -> list[str]:
        out = []
        if self.skipped_rows:
            out.append(f"{self.skipped_rows:,} rows had no text or no numeric price: left out")
        if self.no_prefix:
            out.append(f"{self.no_prefix:,} texts hold no `{PREFIX}` followed by a price: left out "
                       "(a pricer dataset's prompts end in it)")
        if self.too_long:
            out.append(f"{self.too_long:,} item{' is' if self.too_long == 1 else 's are'} longer than {max_length} "
                       f"tokens (the longest {self.longest}): "
                       "left out, since cutting them would cut the price; raise --max-length to keep them")
        return out


def examples(rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int, source: str = "",
             skipped_rows: int = 0) -> Examples:
    """Rows of a pricer dataset ({"text", "price"}) -> the training pairs, measured in tokens;
    a BadInput that says why when none is usable."""
    found = Examples([], [], source, skipped_rows=skipped_rows)
    pairs = []
    for row in rows:
        pair = split_item(str(row["text"]), float(row["price"]))
        if pair is None:
            found.no_prefix += 1
        else:
            pairs.append(pair)
    if pairs:
        prompt_ids = tokenizer([p for p, _ in pairs])["input_ids"]
        completion_ids = tokenizer([c for _, c in pairs], add_special_tokens=False)["input_ids"]
        for (prompt, completion), p, c in zip(pairs, prompt_ids, completion_ids, strict=True):
            length = len(p) + len(c) + 1  # and the end-of-text token after the price
            if length > max_length:
                found.too_long += 1
                found.longest = max(found.longest, length)
                continue
            found.prompts.append(prompt)
            found.completions.append(completion)
            found.lengths.append(length)
    if not found.prompts:
        why = "; ".join(found.notes(max_length)) or "it has no rows"
        raise BadInput(f"{source or 'The data'} has no item to train on: {why}. Give a pricer dataset "
                       f"(`python -m pricer dataset` writes one): a text ending in `{PREFIX}` and its price.")
    return found


# --- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hardware:
    """Where a run computes."""

    name: str
    memory_gb: float
    """The accelerator's memory (0 for a CPU: the run uses RAM and is not planned against it)."""
    capability: tuple[int, int] | None = None
    """CUDA compute capability; None for a CPU."""
    tflops: float = 0.0
    """Dense bf16/fp16 tensor throughput, for the time estimate."""

    @property
    def cuda(self) -> bool:
        return self.capability is not None

    @property
    def dtype(self) -> str:
        """bf16 where it is native (Ampere on), fp16 on older GPUs (a T4), float32 on a CPU."""
        if self.capability is None:
            return "float32"
        return "bf16" if self.capability[0] >= 8 else "fp16"


CPU = Hardware("CPU", 0.0)
GPUS = {  # the Hugging Face Jobs / Spaces flavors' GPUs, for plans made before a job runs
    "t4": Hardware("NVIDIA T4", 16.0, (7, 5), 65.0),
    "l4": Hardware("NVIDIA L4", 24.0, (8, 9), 121.0),
    "a10g": Hardware("NVIDIA A10G", 24.0, (8, 6), 125.0),
    "l40s": Hardware("NVIDIA L40S", 48.0, (8, 9), 362.0),
    "a100": Hardware("NVIDIA A100", 80.0, (8, 0), 312.0),
    "h100": Hardware("NVIDIA H100", 80.0, (9, 0), 989.0),
}
MFU = 0.2  # share of the peak a 4-bit QLoRA step reaches (dequantizing every layer): an estimate


def hardware_of_flavor(flavor: str) -> Hardware:
    """The GPU of a Hugging Face Jobs flavor such as a10g-large or t4-small."""
    for key, gpu in GPUS.items():
        if flavor.lower().startswith(key):
            return gpu
    raise BadInput(f"{flavor!r} is not a GPU flavor: use one of t4-small, l4x1, a10g-large, l40sx1, a100-large, "
                   "h100 (see `hf jobs hardware`).")


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs of a model: from its config, no weights."""

    params: int
    hidden: int
    layers: int
    vocab: int
    intermediate: int
    kv_hidden: int

    @classmethod
    def from_config(cls, config: Any, params: int) -> ModelShape:
        hidden = int(config.hidden_size)
        heads = int(getattr(config, "num_attention_heads", 1) or 1)
        kv_heads = int(getattr(config, "num_key_value_heads", heads) or heads)
        return cls(params, hidden, int(config.num_hidden_layers), int(config.vocab_size),
                   int(getattr(config, "intermediate_size", 4 * hidden)), hidden * kv_heads // heads)

    def lora_params(self, recipe: Recipe) -> int:
        shapes = {"q_proj": (self.hidden, self.hidden), "k_proj": (self.hidden, self.kv_hidden),
                  "v_proj": (self.hidden, self.kv_hidden), "o_proj": (self.hidden, self.hidden),
                  "gate_proj": (self.hidden, self.intermediate), "up_proj": (self.hidden, self.intermediate),
                  "down_proj": (self.intermediate, self.hidden)}
        per_layer = sum(recipe.lora_r * sum(shapes.get(m, (self.hidden, self.hidden))) for m in recipe.target_modules)
        return per_layer * self.layers

    def memory_gb(self, recipe: Recipe, micro_batch: int) -> float:
        """Expected peak accelerator memory, in GB: 4-bit weights (embeddings and head in 16 bits),
        the adapter with its gradients and AdamW state in 32 bits, checkpointed activations, the
        32-bit logits of a micro-batch, and the CUDA context. An estimate from the shapes."""
        embed = self.vocab * self.hidden
        quantized = max(self.params - 2 * embed, 0)
        weights = quantized * 0.5 * 1.03 + 2 * embed * 2
        adapter = self.lora_params(recipe) * 16
        tokens = micro_batch * recipe.max_length
        activations = tokens * self.hidden * self.layers * 2 * 4 + tokens * self.intermediate * 2 * 3
        logits = tokens * self.vocab * 4 * 3
        return (weights + adapter + activations + logits) / 1e9 + 1.0


@dataclass(frozen=True)
class Plan:
    """What a run will do, said before it starts."""

    base_model: str
    hardware: Hardware
    items: int
    tokens: int
    steps: int
    micro_batch: int
    accumulation: int
    memory_gb: float
    estimated_hours: float
    notes: tuple[str, ...] = ()

    def job_timeout(self) -> int:
        """Seconds a job of this plan may run: twice the estimate, an hour at least (a job stopped by its
        timeout loses only what it had not pushed: a rerun resumes from the last checkpoint)."""
        return int(max(3600, self.estimated_hours * 3600 * 2))

    def lines(self) -> list[str]:
        gpu = (f"{self.hardware.name} ({self.hardware.memory_gb:.0f} GB, {self.hardware.dtype})"
               if self.hardware.cuda else "the CPU (float32 adapter, bf16 4-bit compute)")
        batch = (f"batch {self.micro_batch} x {self.accumulation} accumulation steps"
                 if self.accumulation > 1 else f"batch {self.micro_batch}")
        memory = (f"expects about {self.memory_gb:.1f} GB of {self.hardware.memory_gb:.0f} GB (an estimate from "
                  "the model's size)" if self.hardware.cuda else f"expects about {self.memory_gb:.1f} GB of RAM")
        time = f"about {_duration(self.estimated_hours)} (an estimate; the ETA follows the first steps)" \
            if self.hardware.cuda else "the ETA follows the first steps"
        return [f"plan: {self.items:,} items, {self.tokens:,} tokens, {self.steps:,} steps ({batch}) of "
                f"{self.base_model} on {gpu}", f"plan: {memory}; {time}", *(f"note: {n}" for n in self.notes)]


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:.1f} hours"


def plan(recipe: Recipe, shape: ModelShape, base_model: str, items: int, tokens: int, hardware: Hardware,
         notes: Sequence[str] = ()) -> Plan:
    """The run `recipe` makes of `items` on `hardware`: the course's batch where it fits, else the
    largest per-device batch that does, with gradient accumulation keeping the effective batch."""
    said = list(notes)
    micro = recipe.batch_size
    if hardware.cuda:
        while micro > 1 and shape.memory_gb(recipe, micro) > hardware.memory_gb * 0.9:
            micro = max(1, micro // 2)
        while recipe.batch_size % micro:
            micro -= 1
        if micro < recipe.batch_size:
            said.append(f"batch {recipe.batch_size} does not fit {hardware.name}'s {hardware.memory_gb:.0f} GB: "
                        f"{micro} a step with {recipe.batch_size // micro} accumulation steps keeps the effective "
                        f"batch of {recipe.batch_size}")
        if shape.memory_gb(recipe, micro) > hardware.memory_gb:
            said.append(f"even batch 1 may not fit {hardware.name}: choose a bigger GPU, a smaller --lora-r or "
                        "--max-length")
    accumulation = recipe.batch_size // micro
    per_epoch = math.ceil(items / recipe.batch_size)
    steps = math.ceil(per_epoch * recipe.epochs) if recipe.max_steps == -1 else recipe.max_steps
    trained_tokens = tokens * min(recipe.epochs, steps / max(per_epoch, 1))
    flops = 6 * shape.params * trained_tokens  # forward, backward (no weight gradients) and the checkpointed forward
    hours = flops / (hardware.tflops * 1e12 * MFU) / 3600 if hardware.cuda else 0.0
    return Plan(base_model, hardware, items, tokens, steps, micro, accumulation,
                shape.memory_gb(recipe, micro), hours, tuple(said))
