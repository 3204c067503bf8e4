"""The 4-bit Llama pricer: load a base model (+ optional LoRA adapter), build prompts, predict.

The estimates per prompt (pricer.estimates does the arithmetic), from one `generate` call:

- the course's greedy answer: at most 4 new tokens, greedy, seed 42, then `extract_price`;
- the course's improved estimate (`improved_model_predict`, $46.66 average error with the
  fine-tuned model): the top 3 of ALL next tokens after `Price is $`, those that are not
  positive numbers dropped, the rest averaged weighted by their renormalised probabilities;
- the same distribution restricted to the number tokens 1-999 (each is one Llama 3.1 token):
  a top-k (default 3) probability-weighted average, which always gives a number, and a median.

A base model is loaded once per (model, quantization) and shared: a fine-tuned and a base-only
pricer over the same base hold one copy in memory and switch the adapter off for base-only
calls. All model work runs under pricer.gpu's lock. This module never imports gradio, and
imports torch/transformers/peft only inside functions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.config import Settings, check_model, optional, pinned_revision, settings
from pricer.errors import BadInput, HubUnavailable, ModelUnavailable, NotFound, PricerError
from pricer.estimates import (
    TOP_K,
    course_topk_estimate,
    extract_price,
    median_estimate,
    number_tokens,
    topk_estimate,
)
from pricer.gpu import GPU_LOCK, one_at_a_time
from pricer.items import (
    CEILING_CHARS,
    MAX_TOKENS,
    MIN_CHARS,
    MIN_TOKENS,
    PREFIX,
    QUESTION,
    clean_up_spaces,
    contents,
    scrub,
)
from pricer.items import test_prompt as _test_prompt  # a name pytest would collect

SEED = 42
MAX_NEW_TOKENS = 4  # the course's budget: enough for "375.00" or "1,299"
SHOWN_TOKENS = 10  # number tokens shown in the chart
CPU_PARAM_LIMIT = 2e9  # beyond this, loading on a CPU is hopeless: say so instead of trying
_ANSWER = re.compile(r"Price is \$[\d,]*(?:\.\d*)?\s*$")

ProgressFn = Callable[..., Any]  # gradio's gr.Progress fits: progress(0.5, desc="...")


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run: a base model, an optional adapter (at a revision), a quantization."""

    base_model: str
    """Hub id or local path of the base model."""
    adapter: str | None = None
    """Hub id or local path of a PEFT LoRA adapter; None runs the base model alone."""
    revision: str | None = None
    """Revision of the adapter on the hub (never applied to the base model; ignored for paths)."""
    quantization: str = "4bit"
    """'4bit' (nf4 + double quantization, as in the course) or '8bit'."""

    def __post_init__(self) -> None:
        check_model(self.base_model, self.quantization)

    @classmethod
    def from_settings(cls, s: Settings | None = None, fine_tuned: bool = True) -> ModelSpec:
        s = s or settings()
        adapter = s.adapter if fine_tuned else None
        return cls(s.base_model, adapter, s.adapter_revision if adapter else None, s.quantization)

    @classmethod
    def from_options(cls, base_model: str | None = None, adapter: str | None = None,
                     revision: str | None = None, quantization: str | None = None,
                     s: Settings | None = None) -> ModelSpec:
        """Settings overridden by CLI-style options; 'none' as adapter means base only. The
        settings' revision applies only to the settings' adapter (or the course's)."""
        s = s or settings()
        chosen = s.adapter if adapter is None else optional(adapter)
        if revision is not None:
            rev = optional(revision)
        elif chosen == s.adapter:
            rev = s.adapter_revision
        else:
            rev = pinned_revision(chosen)
        return cls(base_model or s.base_model, chosen, rev if chosen else None,
                   (quantization or s.quantization).lower())

    def key(self) -> str:
        """A stable string naming this model, for caches of results."""
        adapter = f"{self.adapter}@{self.revision}" if self.revision else (self.adapter or "base")
        return f"{self.base_model}|{adapter}|{self.quantization}"

    @property
    def label(self) -> str:
        base = _short(self.base_model)
        if not self.adapter:
            return f"{base} (base, {self.quantization})"
        rev = f" @ {self.revision[:8]}" if self.revision else ""
        return f"{base} + {_short(self.adapter)}{rev} ({self.quantization})"


@dataclass(frozen=True)
class Prediction:
    """One prompt's answer from the model."""

    prompt: str
    """The exact prompt the model saw."""
    completion: str
    """The greedy new tokens, decoded."""
    greedy: float | None
    """extract_price(completion), the `greedy` estimator; None when it holds no number (the course scores it as 0)."""
    topk: float
    """The course's improved_model_predict, the `topk` estimator: top-k of all next tokens, non-numbers
    dropped (0 if all are). The field of each estimator is in pricer.estimates.ESTIMATORS."""
    topk_numbers: float
    """Probability-weighted average of the top-k number tokens after `Price is $`, the `topk-numbers` estimator."""
    median: float
    """Median of the next-token distribution over the number tokens."""
    top_tokens: list[tuple[str, float]] = field(default_factory=list)
    """(token, probability) of the most likely number tokens, best first."""
    prompt_tokens: int = 0
    """Tokens in the prompt, including <|begin_of_text|>."""
    number_mass: float = 0.0
    """Total probability of the number tokens: how sure the model is that a number comes next."""


def build_prompt(text: str, tokenizer: Any = None) -> tuple[str, str]:
    """Pasted product text, or a dataset prompt -> (the prompt the model sees, a note).

    A dataset prompt (starts with the question, ends with `Price is $`, with or without its
    answer) is used as is, the answer removed. Anything else is curated like the training data:
    the first line is the title, the rest the description; both scrubbed, cut to 160 Llama 3.1
    tokens, wrapped in the question and `Price is $`. Text too short for the training filter is
    still priced, and the note says so.
    """
    text = (text or "").strip()
    if not text:
        raise BadInput("Paste a product's title and description first (the first line is the title).")
    if text.startswith(QUESTION):
        answer = _ANSWER.search(text)
        if answer:
            removed = answer.group().strip() != PREFIX.strip()
            note = "A prompt in the dataset's format: used as is" + (
                f" (its answer {answer.group()[len(PREFIX) - 1:].strip()} removed)." if removed else ".")
            return text[: answer.start()] + PREFIX, note
    if tokenizer is None:
        from pricer.tokenizer import llama_tokenizer

        tokenizer = llama_tokenizer()
    title, _, body = text.partition("\n")
    body = body.strip()
    raw = f"{scrub(title)}\n{scrub(body[:CEILING_CHARS])}" if body else scrub(title)
    ids = tokenizer.encode(raw, add_special_tokens=False)
    curated = clean_up_spaces(tokenizer.decode(ids[:MAX_TOKENS], clean_up_tokenization_spaces=False))
    notes = ["Curated like the training data: the first line as the title, scrubbed"]
    if len(ids) > MAX_TOKENS:
        notes.append(f"cut from {len(ids)} to the first {MAX_TOKENS} tokens")
    note = ", ".join(notes) + "."
    if len(contents({"description": body})) <= MIN_CHARS or len(ids) <= MIN_TOKENS:
        note += (f" This text is short ({len(ids)} token{'s' * (len(ids) != 1)}): training kept only items over {MIN_TOKENS} "
                 f"tokens with more than {MIN_CHARS} characters of description, so trust the price less.")
    return _test_prompt(curated), note


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


def _module_dtype(cuda: bool, compute_dtype: Any) -> Any:
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


@dataclass
class _Backbone:
    """A loaded base model and its tokenizer, shared by every pricer over it."""

    model: Any  # becomes a PeftModel once an adapter is attached
    tokenizer: Any
    source: str
    dtype: str
    seconds: float
    numbers: tuple[list[int], list[float]]
    adapters: dict[str, str] = field(default_factory=dict)  # spec adapter key -> peft adapter name
    is_test_model: bool = False


class Pricer:
    """A loaded model that prices prompts. Get one from `load_pricer(spec)`."""

    def __init__(self, spec: ModelSpec, backbone: _Backbone, adapter_name: str | None) -> None:
        self.spec = spec
        self._backbone = backbone
        self._adapter = adapter_name

    @property
    def tokenizer(self) -> Any:
        return self._backbone.tokenizer

    @property
    def device(self) -> str:
        return str(self._backbone.model.device)

    def memory_gb(self) -> float:
        return self._backbone.model.get_memory_footprint() / 1e9

    def status(self) -> str:
        """One line: what is loaded, where, in which dtype, and how much memory it takes."""
        b = self._backbone
        test = " · TEST MODEL (random weights, nonsense prices)" if b.is_test_model else ""
        return (f"{self.spec.label} · device {self.device} · compute {b.dtype} · "
                f"memory {self.memory_gb():.2f} GB · loaded in {b.seconds:.1f} s{test}")

    @contextmanager
    def active_model(self) -> Iterator[Any]:
        """The underlying transformers/peft model, with this pricer's adapter switched on (or off
        for base-only), held under the GPU lock: for reference loops and experiments."""
        model = self._backbone.model
        with GPU_LOCK:
            if self._adapter is not None:
                model.set_adapter(self._adapter)
                yield model
            elif hasattr(model, "disable_adapter"):  # a PeftModel: run the base alone
                with model.disable_adapter():
                    yield model
            else:
                yield model

    @one_at_a_time
    def predict(self, prompts: list[str], batch_size: int = 16, k: int = TOP_K) -> list[Prediction]:
        """Price each prompt (used as given; see build_prompt). Batches of similar lengths,
        left-padded, give the same greedy answers as one prompt at a time."""
        import torch
        from transformers import set_seed

        if not prompts:
            return []
        tok = self.tokenizer
        encoded = tok(list(prompts))["input_ids"]  # with <|begin_of_text|>, as the course
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        results: dict[int, Prediction] = {}
        size = max(1, batch_size)
        set_seed(SEED)
        with self.active_model() as model, torch.inference_mode():
            start = 0
            while start < len(order):
                chunk = order[start: start + size]
                try:
                    for i, p in zip(chunk, self._predict_batch(model, [encoded[i] for i in chunk], k), strict=False):
                        results[i] = Prediction(prompt=prompts[i], prompt_tokens=len(encoded[i]), **p)
                except torch.cuda.OutOfMemoryError as exc:
                    torch.cuda.empty_cache()
                    if size == 1:
                        raise ModelUnavailable(_OOM.format(what=f"pricing with {self.spec.label}")) from exc
                    size = max(1, size // 2)  # retry this chunk in smaller batches
                    continue
                start += len(chunk)
        return [results[i] for i in range(len(prompts))]

    def _predict_batch(self, model: Any, batch: list[list[int]], k: int) -> list[dict[str, Any]]:
        import torch

        tok = self.tokenizer
        padded = tok.pad({"input_ids": batch}, padding=True, padding_side="left", return_tensors="pt")
        padded = {name: t.to(model.device) for name, t in padded.items()}
        out = model.generate(**padded, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                             num_return_sequences=1, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tok.pad_token_id, output_logits=True,
                             return_dict_in_generate=True)
        completions = tok.batch_decode(out.sequences[:, padded["input_ids"].shape[1]:],
                                       skip_special_tokens=True)
        ids, values = self._backbone.numbers
        distribution = torch.softmax(out.logits[0].float(), dim=-1)  # the next token after `Price is $`
        probs = distribution[:, ids].cpu().tolist()
        best_probs, best_ids = (t.cpu().tolist() for t in distribution.topk(k, dim=-1))
        rows = []
        for completion, p, bp, bi in zip(completions, probs, best_probs, best_ids, strict=True):
            top = sorted(zip(p, values, strict=False), reverse=True)[:SHOWN_TOKENS]
            rows.append({
                "completion": completion,
                "greedy": extract_price(completion),
                "topk": course_topk_estimate([tok.decode(i) for i in bi], bp),
                "topk_numbers": topk_estimate(values, p, k),
                "median": float(median_estimate(values, p)),
                "top_tokens": [(str(int(v)), prob) for prob, v in top],
                "number_mass": float(sum(p)),
            })
        return rows


_OOM = ("Out of GPU memory while {what}. Use a bigger GPU (an 8B model in 4 bits needs about "
        "6 GB, 8 bits about 10 GB), close other models on it, or use PRICER_QUANTIZATION=4bit.")
_backbones: dict[tuple[str, str], _Backbone] = {}
_pricers: dict[str, Pricer] = {}
_status: dict[str, str] = {}


def model_status(spec: ModelSpec) -> str:
    """'not loaded', 'loading ...', the loaded model's status line, or the error that stopped it."""
    if spec.key() in _pricers:
        return _pricers[spec.key()].status()
    return _status.get(spec.key(), f"{spec.label}: not loaded yet (it loads on first use).")


def loaded(spec: ModelSpec) -> bool:
    return spec.key() in _pricers


def unload_all() -> None:
    """Forget every loaded model (their memory is freed once nothing else holds them)."""
    with GPU_LOCK:
        _pricers.clear()
        _backbones.clear()
        _status.clear()


def load_pricer(spec: ModelSpec, progress: ProgressFn | None = None) -> Pricer:
    """The pricer for `spec`, loading it on first use (one copy per spec; bases are shared).

    Raises a PricerError saying what to do when the model cannot be loaded here.
    """
    if spec.key() in _pricers:
        return _pricers[spec.key()]

    def report(fraction: float, what: str) -> None:
        _status[spec.key()] = f"{spec.label}: {what}"
        if progress is not None:
            progress(fraction, desc=what)

    with GPU_LOCK:  # one load at a time, and never while another request is on the model
        if spec.key() in _pricers:
            return _pricers[spec.key()]
        try:
            backbone = _load_backbone(spec, report)
            name = _attach_adapter(backbone, spec, report) if spec.adapter else None
        except PricerError as exc:
            _status[spec.key()] = f"{spec.label}: failed. {exc}"
            raise
        pricer = Pricer(spec, backbone, name)
        _pricers[spec.key()] = pricer
        _status[spec.key()] = pricer.status()
        report(1.0, "loaded")
        return pricer


def _short(name: str) -> str:
    return Path(name).name if hub.is_local(name) else name.split("/")[-1]


def _resolve(name: str, what: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, is it a local folder); hub ids are checked first."""
    if hub.is_local(name):
        path = Path(name).expanduser().resolve()
        if not path.is_dir():
            raise NotFound(f"The {what} {name} is a file; give the folder that holds it.")
        return str(path), True
    hub.check_access(name)
    return name, False


def _check_revision(repo: str, revision: str) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RevisionNotFoundError

    try:
        HfApi(endpoint=hub.endpoint()).model_info(repo, revision=revision, token=hub.token())
    except RevisionNotFoundError as exc:
        raise NotFound(
            f"The adapter {repo} has no revision {revision!r}. Give a commit hash, branch or tag "
            "that exists (PRICER_ADAPTER_REVISION or --revision), or 'none' for the latest."
        ) from exc
    except (ValueError, TypeError, KeyError):  # an answer we cannot parse: loading itself will say more
        pass
    except Exception as exc:  # noqa: BLE001 - 5xx, rate limit, dropped connection: say so now, not
        # after peft's minute of download retries ends in "cannot be applied to the base model"
        status = getattr(getattr(exc, "response", None), "status_code", None)
        answer = f"answered {status}" if status else f"could not be reached ({type(exc).__name__})"
        raise HubUnavailable(
            f"The Hugging Face Hub ({hub.endpoint()}) {answer} when asked for the adapter {repo} at "
            f"revision {revision!r}. Try again in a minute, or give the adapter's local folder."
        ) from exc


def _parameters(source: str) -> tuple[Any, int]:
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


def _load_backbone(spec: ModelSpec, report: Callable[[float, str], None]) -> _Backbone:
    import torch

    key = (spec.base_model, spec.quantization)
    if key in _backbones:
        return _backbones[key]
    report(0.05, f"checking {spec.base_model}")
    source, local = _resolve(spec.base_model, "base model")
    _, n_params = _parameters(source)
    cuda = torch.cuda.is_available()
    if not cuda and n_params > CPU_PARAM_LIMIT and not settings().allow_cpu:
        raise ModelUnavailable(
            f"{spec.base_model} has {n_params / 1e9:.1f} B parameters and this machine has no CUDA GPU: "
            "4-bit loading needs one for a model this size. Run the app on a GPU Space (see "
            "spaces.yaml), or try the offline demo on a tiny test model: `bash scripts/dev demo`. "
            "(PRICER_ALLOW_CPU=1 tries anyway: slow, and needs about 16 GB of RAM.)"
        )
    dtype_name = compute_dtype_name(torch.cuda.get_device_capability() if cuda else None)
    dtype = getattr(torch, dtype_name)
    report(0.2, f"loading {spec.base_model} in {spec.quantization} ({n_params / 1e9:.2f} B parameters)")
    started = time.perf_counter()
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source, token=hub.token())
        model = AutoModelForCausalLM.from_pretrained(
            source, quantization_config=quantization_config(spec.quantization, dtype),
            device_map="auto", dtype=_module_dtype(cuda, dtype), token=hub.token())
    except torch.cuda.OutOfMemoryError as exc:
        raise ModelUnavailable(_OOM.format(what=f"loading {spec.base_model}")) from exc
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"Could not load {spec.base_model} in {spec.quantization}: "
                               f"{_first_line(exc)}") from exc
    tokenizer.pad_token = tokenizer.eos_token  # Llama has no pad token; the course uses eos
    tokenizer.padding_side = "right"  # training-style default; batched generation pads left
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    # generate keeps only the last position's logits through a strided view; torch's bf16 matmul
    # on CPU copies the whole 128,256-row head for such input (0.5 s a batch), not for a contiguous one.
    model.get_output_embeddings().register_forward_pre_hook(lambda _, args: (args[0].contiguous(), *args[1:]))
    from pricer.tiny import is_tiny

    backbone = _Backbone(model, tokenizer, source, dtype_name, time.perf_counter() - started,
                         number_tokens(tokenizer), is_test_model=local and is_tiny(source))
    _backbones[key] = backbone
    return backbone


def _attach_adapter(backbone: _Backbone, spec: ModelSpec, report: Callable[[float, str], None]) -> str:
    from peft import PeftModel

    assert spec.adapter
    adapter_key = f"{spec.adapter}@{spec.revision or ''}"
    if adapter_key in backbone.adapters:
        return backbone.adapters[adapter_key]
    report(0.8, f"loading the adapter {spec.adapter}")
    source, local = _resolve(spec.adapter, "adapter")
    if local and not (Path(source) / "adapter_config.json").exists():
        raise NotFound(f"{spec.adapter} is not a PEFT adapter: it has no adapter_config.json. "
                       "Give the folder saved by peft's save_pretrained, a hub id, or 'none'.")
    extra: dict[str, Any] = {}
    if spec.revision and not local:
        _check_revision(spec.adapter, spec.revision)
        extra["revision"] = spec.revision
    name = f"adapter{len(backbone.adapters)}"
    started = time.perf_counter()
    try:
        if isinstance(backbone.model, PeftModel):
            backbone.model.load_adapter(source, adapter_name=name, token=hub.token(), **extra)
        else:
            backbone.model = PeftModel.from_pretrained(backbone.model, source, adapter_name=name,
                                                       token=hub.token(), **extra)
    except Exception as exc:  # noqa: BLE001 - peft raises many kinds for a mismatched adapter
        if not backbone.adapters:  # the base may hold half-injected layers: load it afresh next time
            _backbones.pop((spec.base_model, spec.quantization), None)
            for k in [k for k, p in _pricers.items() if p._backbone is backbone]:
                _pricers.pop(k)
        raise ModelUnavailable(
            f"The adapter {spec.adapter} cannot be applied to {spec.base_model}: {_first_line(exc)} "
            "Use an adapter trained on this base model (the course's was trained on Meta-Llama-3.1-8B), "
            "or set the adapter to 'none' for the base model alone."
        ) from exc
    backbone.model.eval()
    backbone.seconds += time.perf_counter() - started
    backbone.adapters[adapter_key] = name
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) < 300 else line[:297] + "..."


def predict_texts(texts: list[str], spec: ModelSpec | None = None, batch_size: int = 16,
                  progress: ProgressFn | None = None) -> list[tuple[Prediction, str]]:
    """Pasted texts or dataset prompts -> (prediction, note) each: build_prompt, then predict."""
    spec = spec or ModelSpec.from_settings()
    pricer = load_pricer(spec, progress)
    built = [build_prompt(t, pricer.tokenizer) for t in texts]
    predictions = pricer.predict([p for p, _ in built], batch_size=batch_size)
    return [(pred, note) for pred, (_, note) in zip(predictions, built, strict=False)]

