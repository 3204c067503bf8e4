"""Loading a base model in 4 (or 8) bits with its tokenizer, and attaching LoRA adapters to it.

One decision per function, in the order loading makes them: where the model is (hub id or
folder, pricer.hub), how big it is and whether this machine can run it, which dtype computes,
the course's BitsAndBytesConfig, then the load itself and the tokenizer's padding. A `Backbone`
is one loaded base model; `attach_adapter` adds a PEFT adapter to it. This module keeps no
registry (pricer.pricers.llama.model shares backbones between pricers), builds no prompts and prices nothing.
It imports torch, transformers and peft only inside functions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.config import settings
from pricer.errors import ModelUnavailable, NotFound
from pricer.pricers.estimates import number_tokens

CPU_PARAM_LIMIT = 2e9  # beyond this, loading on a CPU is hopeless: say so instead of trying
TEST_MODEL_KEY = "pricer_test_model"  # true in the config.json of a random-weight test model (pricer.pricers.llama.tiny)
OOM = ("Out of GPU memory while {what}. Use a bigger GPU (an 8B model in 4 bits needs about "
       "6 GB, 8 bits about 10 GB), close other models on it, or use PRICER_QUANTIZATION=4bit.")

Report = Callable[[float, str], None]  # report(fraction done, what is happening)


class AdapterMismatch(ModelUnavailable):
    """The adapter cannot be applied to this base model. `base_damaged`: the base may now hold
    half-injected layers, so it must be loaded afresh rather than reused."""

    def __init__(self, message: str, base_damaged: bool) -> None:
        super().__init__(message)
        self.base_damaged = base_damaged


@dataclass
class Backbone:
    """A loaded base model and its tokenizer, shared by every pricer over it."""

    model: Any
    """The transformers model; a PeftModel once an adapter is attached."""
    tokenizer: Any
    source: str
    """What was loaded: the hub id, or the resolved local folder."""
    dtype: str
    """The compute dtype's name, e.g. 'bfloat16'."""
    seconds: float
    """Time spent loading it and its adapters."""
    numbers: tuple[list[int], list[float]]
    """The number tokens 1-999: their ids and values (pricer.pricers.estimates.number_tokens)."""
    adapters: dict[str, str] = field(default_factory=dict)
    """'adapter@revision' -> the name peft knows it by."""
    is_test_model: bool = False
    """A random-weight test model (its config says so): its prices are nonsense."""
    attempts: int = 0
    """Adapters tried on it, loaded or not: each try gets a name of its own."""


def compute_dtype_name(capability: tuple[int, int] | None) -> str:
    """The 4-bit compute dtype for a CUDA compute capability (None: no GPU, bitsandbytes on CPU).

    bfloat16 only where it is native (8.0+, Ampere on): a T4 (7.5) reports bf16 as "supported"
    through emulation, which is slow, so it gets float16. On a CPU, bitsandbytes' nf4 runs bf16;
    measured on the tiny model, 1.4x faster than float32.

    >>> compute_dtype_name((7, 5)), compute_dtype_name((8, 6)), compute_dtype_name(None)
    ('float16', 'bfloat16', 'bfloat16')
    """
    if capability is None:
        return "bfloat16"
    return "bfloat16" if capability[0] >= 8 else "float16"


def module_dtype(cuda: bool, compute_dtype: Any) -> Any:
    """The dtype of the layers that stay unquantized (embeddings, norms, lm_head).

    On a GPU, float16: what transformers 4.x chose for bitsandbytes models loaded without a
    dtype, as the course's notebooks did, so greedy prices match the course's published runs
    (transformers 5 would keep float32 or the config's bf16, and a few argmaxes move). On a
    CPU, the compute dtype (bitsandbytes' CPU kernels are fastest in bf16).
    """
    import torch

    return torch.float16 if cuda else compute_dtype


def quantization_config(quantization: str, dtype: Any) -> Any:
    """The course's BitsAndBytesConfig: nf4 with double quantization (or plain 8-bit)."""
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_type="nf4")


def locate(name: str, what: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, is it a local folder); hub ids are checked first."""
    source = hub.resolve(name)
    if isinstance(source, str):
        return source, False
    if not source.is_dir():
        raise NotFound(f"The {what} {name} is a file; give the folder that holds it.")
    return str(source.resolve()), True


def inspect_model(source: str) -> tuple[Any, int]:
    """The model's config and its parameter count, measured on the meta device (no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(source, token=hub.token())
    except (OSError, ValueError) as exc:
        raise NotFound(f"{source} holds no model that transformers can load (no usable config.json). "
                       "Give the folder of a saved causal language model, or a hub id.") from exc
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    return config, sum(p.numel() for p in skeleton.parameters())


def check_runnable(name: str, n_params: int, cuda: bool) -> None:
    """Refuse a model too big for a machine without a CUDA GPU, unless PRICER_ALLOW_CPU is set."""
    if cuda or n_params <= CPU_PARAM_LIMIT or settings().allow_cpu:
        return
    raise ModelUnavailable(
        f"{name} has {n_params / 1e9:.1f} B parameters and this machine has no CUDA GPU: "
        "4-bit loading needs one for a model this size. Run the app on a GPU Space (see "
        "spaces.yaml), or try the offline demo on a tiny test model: `bash scripts/dev demo`. "
        "(PRICER_ALLOW_CPU=1 tries anyway: slow, and needs about 16 GB of RAM.)"
    )


def load_quantized(source: str, name: str, quantization: str, dtype_name: str, cuda: bool) -> tuple[Any, Any]:
    """(model, tokenizer) of `source`, quantized; a PricerError saying what to do if it fails."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, dtype_name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, token=hub.token())
        model = AutoModelForCausalLM.from_pretrained(
            source, quantization_config=quantization_config(quantization, dtype),
            device_map="auto", dtype=module_dtype(cuda, dtype), token=hub.token())
    except torch.cuda.OutOfMemoryError as exc:
        raise ModelUnavailable(OOM.format(what=f"loading {name}")) from exc
    except Exception as exc:  # noqa: BLE001 - a bad weights file raises the reader's own kinds
        if (problem := unreadable_weights(exc, name)) is not None:
            raise ModelUnavailable(problem) from exc
        if isinstance(exc, (OSError, ValueError)):
            raise ModelUnavailable(f"Could not load {name} in {quantization}: {first_line(exc)}") from exc
        raise
    return model, tokenizer


def unreadable_weights(exc: BaseException, name: str) -> str | None:
    """What to tell the user when `exc` (or what caused it) says a weights file of `name` cannot be
    read: cut short or damaged, or a pickle that torch refuses (weights_only: unpickling can run
    code). None for any other failure."""
    import pickle

    from safetensors import SafetensorError

    seen = exc
    while seen is not None:
        if isinstance(seen, SafetensorError) or "PytorchStreamReader" in str(seen):
            return (f"A weights file of {name} is damaged or cut short ({first_line(seen).split('. ')[0]}). "
                    "Save or download it again (for a hub model, delete its folder in the Hugging Face "
                    "cache first).")
        if isinstance(seen, pickle.UnpicklingError):
            return (f"The weights of {name} are a pickle (pytorch_model.bin or adapter_model.bin) holding "
                    "more than plain tensors: torch refuses to load it, because unpickling can run code. Use "
                    "a copy saved as safetensors (model.safetensors, adapter_model.safetensors): load one you "
                    "trust and save it again with save_pretrained.")
        seen = seen.__cause__ or seen.__context__
    return None


def set_padding(model: Any, tokenizer: Any) -> None:
    """Llama has no pad token; the course pads with eos. Right-padding is the training-style
    default; batched generation pads left explicitly."""
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def contiguous_head(model: Any) -> None:
    """generate keeps only the last position's logits through a strided view; torch's bf16 matmul
    on CPU copies the whole 128,256-row head for such input (0.5 s a batch), not for a contiguous one."""
    model.get_output_embeddings().register_forward_pre_hook(lambda _, args: (args[0].contiguous(), *args[1:]))


def load_backbone(base_model: str, quantization: str, report: Report) -> Backbone:
    """Load `base_model` in `quantization` ('4bit' or '8bit') with its tokenizer."""
    import torch

    report(0.05, f"checking {base_model}")
    source, _ = locate(base_model, "base model")
    config, n_params = inspect_model(source)
    cuda = torch.cuda.is_available()
    check_runnable(base_model, n_params, cuda)
    dtype_name = compute_dtype_name(torch.cuda.get_device_capability() if cuda else None)
    report(0.2, f"loading {base_model} in {quantization} ({n_params / 1e9:.2f} B parameters)")
    started = time.perf_counter()
    model, tokenizer = load_quantized(source, base_model, quantization, dtype_name, cuda)
    set_padding(model, tokenizer)
    contiguous_head(model)
    return Backbone(model, tokenizer, source, dtype_name, time.perf_counter() - started, number_tokens(tokenizer),
                    is_test_model=bool(getattr(config, TEST_MODEL_KEY, False)))


def attach_adapter(backbone: Backbone, base_model: str, adapter: str, revision: str | None,
                   report: Report) -> str:
    """Load the PEFT adapter (at `revision`, for a hub id) into the backbone, once; return the
    name peft knows it by. AdapterMismatch when it does not fit this base model."""
    from peft import PeftModel

    key = f"{adapter}@{revision or ''}"
    if key in backbone.adapters:
        return backbone.adapters[key]
    report(0.8, f"loading the adapter {adapter}")
    source, local = locate(adapter, "adapter")
    if local and not (Path(source) / "adapter_config.json").exists():
        raise NotFound(f"{adapter} is not a PEFT adapter: it has no adapter_config.json. "
                       "Give the folder saved by peft's save_pretrained, a hub id, or 'none'.")
    extra: dict[str, Any] = {}
    if revision and not local:
        check_revision(adapter, revision)
        extra["revision"] = revision
    name = f"adapter{backbone.attempts}"  # never reused: a failed load may leave its layers behind
    backbone.attempts += 1
    started = time.perf_counter()
    try:
        if isinstance(backbone.model, PeftModel):
            backbone.model.load_adapter(source, adapter_name=name, token=hub.token(), **extra)
        else:
            backbone.model = PeftModel.from_pretrained(backbone.model, source, adapter_name=name,
                                                       token=hub.token(), **extra)
    except Exception as exc:  # noqa: BLE001 - peft raises many kinds for a mismatched adapter
        if isinstance(backbone.model, PeftModel) and name in getattr(backbone.model, "peft_config", {}):
            with contextlib.suppress(Exception):  # take its half-loaded layers out; another load starts clean
                backbone.model.delete_adapter(name)
        if (problem := unreadable_weights(exc, f"the adapter {adapter}")) is not None:
            raise AdapterMismatch(problem, base_damaged=not backbone.adapters) from exc
        raise AdapterMismatch(
            f"The adapter {adapter} cannot be applied to {base_model}: {first_line(exc)} "
            "Use an adapter trained on this base model (the course's was trained on Meta-Llama-3.1-8B), "
            "or set the adapter to 'none' for the base model alone.",
            base_damaged=not backbone.adapters,
        ) from exc
    backbone.model.eval()
    backbone.seconds += time.perf_counter() - started
    backbone.adapters[key] = name
    return name


def check_revision(repo: str, revision: str) -> None:
    """Ask the hub whether the adapter has this revision before peft spends a minute on retries."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

    try:
        HfApi(endpoint=hub.endpoint()).model_info(repo, revision=revision, token=hub.token())
    except RevisionNotFoundError as exc:
        raise NotFound(
            f"The adapter {repo} has no revision {revision!r}. Give a commit hash, branch or tag "
            "that exists (PRICER_ADAPTER_REVISION or --revision), or 'none' for the latest."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - 4xx, 5xx, rate limit, dropped connection: say so now, not
        # after peft's minute of download retries ends in "cannot be applied to the base model"
        if isinstance(exc, (ValueError, TypeError, KeyError)) and not isinstance(exc, HfHubHTTPError):
            return  # an answer we cannot parse: loading itself will say more
        asked = f"when asked for the adapter {repo} at revision {revision!r}"
        raise hub.hub_error(exc, {
            "refused": f"The Hugging Face Hub ({hub.endpoint()}) refused ({{status}}) {asked}: {{server}}",
            "failed": f"The Hugging Face Hub ({hub.endpoint()}) {{answer}} {asked}. Try again in a minute, "
                      "or give the adapter's local folder.",
        }) from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, at most 300 characters."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) < 300 else line[:297] + "..."

