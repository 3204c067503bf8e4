"""The CPU pricer on the pricers' interface: the linear model of pricer.pricers.cpu.model, loaded
once per model file and kept while its files stay the same, offline on any machine.

Its model is the folder given (--cpu-model), else PRICER_CPU_MODEL, else the one shipped in
pricer/pricers/cpu/shipped. It needs numpy and safetensors, nothing else, to price.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

from pricer.pricers.base import Estimate, ProgressFn, check_estimator, check_texts

CPU_BATCH = 512  # texts featurized at once between progress reports


class CpuPricer:
    """The CPU pricer (pricer.pricers.cpu): a linear model over words, offline, with an 80% interval."""

    name = "cpu"
    estimators: tuple[str, ...] = ()

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self._folder = Path(folder).expanduser() if folder else None

    @property
    def folder(self) -> Path:
        """The model's folder: the one given, else PRICER_CPU_MODEL, else the shipped model."""
        from pricer.config import cpu_model

        if self._folder is not None:
            return self._folder
        configured = cpu_model()
        if configured:
            return Path(configured).expanduser()
        from pricer.pricers.cpu.model import SHIPPED

        return SHIPPED

    @property
    def label(self) -> str:
        try:
            from pricer.pricers.cpu.model import SHIPPED

            where = "" if self.folder == SHIPPED else f", {self.folder}"
        except ImportError:
            where = ""
        return f"CPU pricer (linear model on the product's words{where})"

    def available(self) -> str | None:
        for package in ("numpy", "safetensors"):  # what loading and pricing need
            if importlib.util.find_spec(package) is None:
                return f"{package} is not installed (pip install -r requirements.txt)"
        try:
            folder = self.folder
        except ImportError:
            return "this install has no CPU pricer (pricer/cpu is missing)"
        from pricer.pricers.cpu.model import missing

        return missing(folder)

    def model(self) -> Any:
        """The loaded model (checked against its sha256), kept while its files stay the same."""
        return _cpu_model(self.folder)

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]:
        return self._price(texts, estimator, progress, held_out=False)

    def price_held_out(self, texts: list[str], *, estimator: str | None = None,
                       progress: ProgressFn | None = None) -> list[Estimate]:
        """As price, but a text of an item the model trained on gets the estimate of the
        cross-validation's model that did not see it, its details marked `out_of_fold`: what an
        ensemble fits its weights on (pricer.pricers.base.Pricer)."""
        return self._price(texts, estimator, progress, held_out=True)

    def _price(self, texts: list[str], estimator: str | None, progress: ProgressFn | None, *,
               held_out: bool) -> list[Estimate]:
        texts = check_texts(texts)
        check_estimator(self, estimator)
        model = self.model()
        out: list[Estimate] = []
        for at in range(0, len(texts), CPU_BATCH):
            out += model.predict(list(texts[at:at + CPU_BATCH]), held_out=held_out)
            if progress is not None:
                progress(len(out), len(texts))
        return out

    def cache_key(self, estimator: str | None) -> str:
        from pricer.pricers.cpu.model import MANIFEST_FILE

        try:
            digest = json.loads((self.folder / MANIFEST_FILE).read_text(encoding="utf-8")).get("sha256", "")
        except (OSError, ValueError, AttributeError):
            digest = "missing"
        return f"{self.name}|{digest}"


_cpu_models: dict[tuple[str, int, int], Any] = {}
_cpu_lock = threading.Lock()


def _cpu_model(folder: Path) -> Any:
    from pricer.pricers.cpu.model import WEIGHTS_FILE, load_model

    try:
        stat = (folder / WEIGHTS_FILE).stat()
        key = (str(folder.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return load_model(folder)  # says what is missing
    with _cpu_lock:
        if key not in _cpu_models:
            if len(_cpu_models) >= 4:
                _cpu_models.pop(next(iter(_cpu_models)))
            _cpu_models[key] = load_model(folder)
        return _cpu_models[key]
