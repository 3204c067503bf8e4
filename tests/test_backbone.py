"""Loading a model whose weights file cannot be read: a clear message, never a traceback, and
a pickle's code never runs. The broken files are made from the tiny test model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pricer.errors import ModelUnavailable
from pricer.pricers.llama.model import ModelSpec, load_pricer


class Payload:
    """Unpickled without weights_only, this would create `marker`: the code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _copy(tiny_model: Path, to: Path, adapter: bool = False) -> Path:
    shutil.copytree(tiny_model / "adapter" if adapter else tiny_model, to, ignore=shutil.ignore_patterns("adapter"))
    return to


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _pickle(folder: Path, safetensors: str, bin_name: str, marker: Path) -> None:
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(folder / safetensors))
    (folder / safetensors).unlink()
    torch.save({**weights, "payload": Payload(marker)}, folder / bin_name)


def test_a_truncated_model_safetensors_says_the_file_is_damaged(tiny_model, tmp_path):
    folder = _copy(tiny_model, tmp_path / "cut")
    _cut(folder / "model.safetensors")
    with pytest.raises(ModelUnavailable, match="damaged or cut short") as err:
        load_pricer(ModelSpec(str(folder)))
    assert str(folder) in str(err.value) and "download it again" in str(err.value)


def test_a_pickled_pytorch_model_bin_is_refused_and_its_code_never_runs(tiny_model, tmp_path):
    folder = _copy(tiny_model, tmp_path / "pickled")
    marker = tmp_path / "the-pickle-ran"
    _pickle(folder, "model.safetensors", "pytorch_model.bin", marker)
    with pytest.raises(ModelUnavailable, match="torch refuses to load it") as err:
        load_pricer(ModelSpec(str(folder)))
    assert "safetensors" in str(err.value) and "save_pretrained" in str(err.value)
    assert not marker.exists()


def test_a_truncated_pytorch_model_bin_says_the_file_is_damaged(tiny_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = _copy(tiny_model, tmp_path / "bin")
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    _cut(folder / "pytorch_model.bin")
    with pytest.raises(ModelUnavailable, match="damaged or cut short"):
        load_pricer(ModelSpec(str(folder)))


def test_a_damaged_or_pickled_adapter_says_so_rather_than_that_it_does_not_fit(tiny_model, tmp_path):
    cut = _copy(tiny_model, tmp_path / "cut-adapter", adapter=True)
    _cut(cut / "adapter_model.safetensors")
    with pytest.raises(ModelUnavailable, match="damaged or cut short") as err:
        load_pricer(ModelSpec(str(tiny_model), str(cut)))
    assert "cannot be applied" not in str(err.value)
    pickled = _copy(tiny_model, tmp_path / "pickled-adapter", adapter=True)
    marker = tmp_path / "the-pickle-ran"
    _pickle(pickled, "adapter_model.safetensors", "adapter_model.bin", marker)
    with pytest.raises(ModelUnavailable, match="torch refuses to load it"):
        load_pricer(ModelSpec(str(tiny_model), str(pickled)))
    assert not marker.exists()
    # the base model is still usable afterwards, with its own adapter
    assert load_pricer(ModelSpec(str(tiny_model), str(tiny_model / "adapter"))).predict(["Price is $"])
