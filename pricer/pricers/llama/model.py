"""The 4-bit Llama pricer: which model to run (ModelSpec), the loaded pricers, and their prices.

The estimates per prompt (pricer.pricers.estimates does the arithmetic), from one `generate` call:

- the course's greedy answer: at most 4 new tokens, greedy, seed 42, then `extract_price`;
- the course's improved estimate (`improved_model_predict`, $46.66 average error with the
  fine-tuned model): the top 3 of ALL next tokens after `Price is $`, those that are not
  positive numbers dropped, the rest averaged weighted by their renormalised probabilities;
- the same distribution restricted to the number tokens 1-999 (each is one Llama 3.1 token):
  a top-k (default 3) probability-weighted average, which always gives a number, a median, and
  the 80% interval between its 10% and 90% quantiles.

A base model is loaded once per (model, quantization) and shared: a fine-tuned and a base-only
pricer over the same base hold one copy in memory and switch the adapter off for base-only
calls. How a model is loaded is pricer.pricers.llama.backbone's job, how pasted text becomes a prompt is
pricer.data.items'. All model work runs under pricer.gpu's lock. This module never imports gradio,
and imports torch/transformers/peft only inside functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.config import Settings, check_model, optional, pinned_revision, settings
from pricer.errors import BadInput, ModelUnavailable, PricerError
from pricer.gpu import GPU_LOCK, one_at_a_time
from pricer.pricers.estimates import (
    TOP_K,
    course_topk_estimate,
    extract_price,
    interval_estimate,
    median_estimate,
    topk_estimate,
)
from pricer.pricers.llama.backbone import OOM, AdapterMismatch, Backbone, attach_adapter, load_backbone

SEED = 42
MAX_NEW_TOKENS = 4  # the course's budget: enough for "375.00" or "1,299"
SHOWN_TOKENS = 10  # number tokens shown in the chart
NO_ADAPTER = ("No adapter is configured (PRICER_ADAPTER=none): choose the base model, "
              "or set PRICER_ADAPTER to the fine-tuned adapter.")

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

    def check(self) -> None:
        """A BadInput saying what to change when this model cannot be loaded as specified (a
        quantization other than 4bit or 8bit, no base model). Asked before any load, not when
        the spec is made: the page can still name a misconfigured model and say what is wrong."""
        check_model(self.base_model, self.quantization)

    @classmethod
    def from_settings(cls, s: Settings | None = None, fine_tuned: bool = True) -> ModelSpec:
        s = s or settings()
        adapter = s.adapter if fine_tuned else None
        return cls(s.base_model, adapter, s.adapter_revision if adapter else None, s.quantization)

    @classmethod
    def configured(cls, fine_tuned: bool = True, s: Settings | None = None) -> ModelSpec:
        """The configured fine-tuned (or base) model; BadInput when the fine-tuned one is asked
        for and no adapter is configured."""
        spec = cls.from_settings(s, fine_tuned)
        if fine_tuned and not spec.adapter:
            raise BadInput(NO_ADAPTER)
        return spec

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
    dropped (0 if all are). The field of each estimator is in pricer.pricers.estimates.ESTIMATORS."""
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
    low: float | None = None
    """The 10% quantile of the next-token distribution over the number tokens: the 80% interval's
    low end (pricer.pricers.estimates.interval_estimate); None when that distribution is empty."""
    high: float | None = None
    """The 90% quantile of the same: the 80% interval's high end."""


class LoadedModel:
    """A loaded model that prices prompts. Get one from `load_pricer(spec)`."""

    def __init__(self, spec: ModelSpec, backbone: Backbone, adapter_name: str | None) -> None:
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
                        raise ModelUnavailable(OOM.format(what=f"pricing with {self.spec.label}")) from exc
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
            low, high = interval_estimate(values, p) or (None, None)
            rows.append({
                "completion": completion,
                "greedy": extract_price(completion),
                "topk": course_topk_estimate([tok.decode(i) for i in bi], bp),
                "topk_numbers": topk_estimate(values, p, k),
                "median": float(median_estimate(values, p)),
                "top_tokens": [(str(int(v)), prob) for prob, v in top],
                "number_mass": float(sum(p)),
                "low": low,
                "high": high,
            })
        return rows


class Loaded:
    """The models loaded in this process: a backbone per (base model, quantization), shared by
    the pricers over it, one pricer per spec, and a status line per spec for the page."""

    def __init__(self) -> None:
        self.backbones: dict[tuple[str, str], Backbone] = {}
        self.pricers: dict[str, LoadedModel] = {}
        self.status: dict[str, str] = {}

    def backbone(self, spec: ModelSpec, report: Callable[[float, str], None]) -> Backbone:
        """The spec's base model, loaded on first use."""
        key = (spec.base_model, spec.quantization)
        if key not in self.backbones:
            self.backbones[key] = load_backbone(spec.base_model, spec.quantization, report)
        return self.backbones[key]

    def forget_base(self, spec: ModelSpec) -> None:
        """Drop the spec's base model and every pricer over it: the next use loads it afresh."""
        key = (spec.base_model, spec.quantization)
        self.backbones.pop(key, None)
        for name in [n for n, p in self.pricers.items() if (p.spec.base_model, p.spec.quantization) == key]:
            del self.pricers[name]

    def status_line(self, spec: ModelSpec) -> str:
        try:
            spec.check()
        except PricerError as exc:
            return f"{spec.label}: cannot be loaded. {exc}"
        if spec.key() in self.pricers:
            return self.pricers[spec.key()].status()
        return self.status.get(spec.key(), f"{spec.label}: not loaded yet (it loads on first use).")


_loaded = Loaded()


def model_status(spec: ModelSpec) -> str:
    """'not loaded', 'loading ...', the loaded model's status line, or the error that stopped it."""
    return _loaded.status_line(spec)


def loaded(spec: ModelSpec) -> bool:
    return spec.key() in _loaded.pricers


def load_pricer(spec: ModelSpec, progress: ProgressFn | None = None) -> LoadedModel:
    """The pricer for `spec`, loading it on first use (one copy per spec; bases are shared).

    Raises a PricerError saying what to do when the model cannot be loaded here.
    """
    spec.check()
    if spec.key() in _loaded.pricers:
        return _loaded.pricers[spec.key()]

    def report(fraction: float, what: str) -> None:
        _loaded.status[spec.key()] = f"{spec.label}: {what}"
        if progress is not None:
            progress(fraction, desc=what)

    with GPU_LOCK:  # one load at a time, and never while another request is on the model
        if spec.key() in _loaded.pricers:
            return _loaded.pricers[spec.key()]
        try:
            backbone = _loaded.backbone(spec, report)
            name = (attach_adapter(backbone, spec.base_model, spec.adapter, spec.revision, report)
                    if spec.adapter else None)
        except PricerError as exc:
            if isinstance(exc, AdapterMismatch) and exc.base_damaged:
                _loaded.forget_base(spec)  # it may hold half-injected layers
            _loaded.status[spec.key()] = f"{spec.label}: failed. {exc}"
            raise
        pricer = LoadedModel(spec, backbone, name)
        _loaded.pricers[spec.key()] = pricer
        _loaded.status[spec.key()] = pricer.status()
        report(1.0, "loaded")
        return pricer


def _short(name: str) -> str:
    return Path(name).name if hub.is_local(name) else name.split("/")[-1]
