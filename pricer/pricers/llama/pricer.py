"""The 4-bit Llama on the pricers' interface: `fine-tuned` with the QLoRA adapter, `base` without.

Each text is made a prompt (pricer.data.items.build_prompt: a dataset prompt as it is, pasted
text curated like the training data), priced by the loaded model (pricer.pricers.llama.model) in
batches, and read with the chosen estimator (pricer.pricers.estimates); the interval is the 10%
and 90% quantiles of the next-token distribution over the number tokens 1-999. Whether the
model can load here is pricer.pricers.llama.preflight's answer, asked without loading it. This
is the one road from texts to Llama prices: the CLI, the Predict and Evaluate tabs all take it.
It is also the one place a request waits for the GPU: `predict` runs under pricer.gpu's lock
(the model's) and, on ZeroGPU, carries @spaces.GPU, so the other pricers never wait for it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pricer.data.items import build_prompt
from pricer.errors import BadInput, PricerError
from pricer.gpu import ZERO_GPU_SECONDS, on_gpu
from pricer.hub import source_key
from pricer.pricers.base import Estimate, ProgressFn, check_estimator, check_texts
from pricer.pricers.estimates import ESTIMATORS
from pricer.pricers.estimates import estimator as find_estimator

if TYPE_CHECKING:
    from pricer.pricers.llama.model import ModelSpec, Prediction

PREDICT_GPU_SECONDS = 30  # ZeroGPU's reservation once the model is loaded: a short one queues ahead of long ones
SECONDS_PER_TEXT = 1.0  # and per text on top: an 8B model prices one in about half a second


def gpu_seconds(pricer: LlamaPricer, texts: Any = (), **_: Any) -> int:
    """ZeroGPU's reservation for `pricer.predict(texts)`: long enough for a first load of the model
    when it is not loaded yet, else 30 s and a second per text."""
    from pricer.pricers.llama.model import loaded

    n = len(texts) if isinstance(texts, (list, tuple)) else 1
    try:
        ready = loaded(pricer.spec())
    except PricerError:
        ready = True  # it fails at once, without the GPU
    return int((PREDICT_GPU_SECONDS if ready else ZERO_GPU_SECONDS) + SECONDS_PER_TEXT * n)


class LlamaPricer:
    """The 4-bit Llama (pricer.pricers.llama.model): `fine-tuned` with the QLoRA adapter, `base` without."""

    estimators = tuple(e.name for e in ESTIMATORS)
    uses_gpu = True
    """Its prices wait for the GPU (pricer.gpu's lock): a page can say so while another request holds it."""

    def __init__(self, fine_tuned: bool, spec: ModelSpec | None = None, batch_size: int = 16) -> None:
        self.fine_tuned = fine_tuned
        self.name = "fine-tuned" if fine_tuned else "base"
        self._spec = spec
        self.batch_size = max(1, batch_size)

    def spec(self) -> ModelSpec:
        """The model this pricer runs (the base pricer drops any adapter); a BadInput saying what
        to change when it cannot be loaded as specified (e.g. PRICER_QUANTIZATION=16bit)."""
        from pricer.pricers.llama.model import ModelSpec

        spec = self._spec or ModelSpec.from_settings(fine_tuned=self.fine_tuned)
        if not self.fine_tuned and spec.adapter:
            spec = dataclasses.replace(spec, adapter=None, revision=None)
        spec.check()
        return spec

    @property
    def label(self) -> str:
        kind = "Fine-tuned Llama" if self.fine_tuned else "Base Llama"
        try:
            spec = self.spec()
        except PricerError:
            return f"{kind} (settings not usable)"
        from pricer.pricers.llama.preflight import is_test_model

        test = " [TEST MODEL: random weights, nonsense prices]" if is_test_model(spec.base_model) else ""
        return f"{kind}: {spec.label}{test}"

    def available(self) -> str | None:
        try:
            spec = self.spec()
        except PricerError as exc:
            return str(exc)
        if self.fine_tuned and not spec.adapter:
            return "no adapter configured (PRICER_ADAPTER=none)"
        from pricer.pricers.llama.preflight import llama_unavailable

        return llama_unavailable(spec)

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]:
        texts = check_texts(texts)
        chosen = find_estimator(check_estimator(self, estimator) or self.estimators[0])
        predicted, status = self.predict(texts, progress=progress)
        return [Estimate(chosen.read(p), p.low, p.high,
                         {**_prediction_details(p), "note": note, "estimator": chosen.name, "model": status})
                for p, note in predicted]

    @on_gpu(duration=gpu_seconds)
    def predict(self, texts: list[str], *, progress: ProgressFn | None = None,
                loading: Any = None) -> tuple[list[tuple[Prediction, str]], str]:
        """Each text's whole Prediction (every estimate, the prompt, the top tokens) and the note on
        how it became the prompt, with the loaded model's status line: what `price` reads its
        estimator from, and what /predict shows. `loading` is gradio's progress while it loads."""
        from pricer.pricers.llama.model import NO_ADAPTER, load_pricer

        texts = check_texts(texts)
        spec = self.spec()
        if self.fine_tuned and not spec.adapter:
            raise BadInput(NO_ADAPTER)
        loaded = load_pricer(spec, loading)
        built = [build_prompt(t, loaded.tokenizer) for t in texts]
        predictions: list[Prediction] = []
        for at in range(0, len(built), self.batch_size):
            chunk = [prompt for prompt, _ in built[at:at + self.batch_size]]
            predictions += loaded.predict(chunk, batch_size=self.batch_size)
            if progress is not None:
                progress(len(predictions), len(built))
        return [(p, note) for p, (_, note) in zip(predictions, built, strict=True)], loaded.status()

    def cache_key(self, estimator: str | None) -> str:
        spec = self.spec()
        return "|".join([self.name, spec.key(), source_key(spec.base_model), source_key(spec.adapter),
                         estimator or self.estimators[0]])


def _prediction_details(prediction: Any) -> dict[str, Any]:
    details = dataclasses.asdict(prediction)
    details["top_tokens"] = [[token, prob] for token, prob in prediction.top_tokens]
    return details
