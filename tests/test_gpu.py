"""pricer.gpu: one model job at a time in the process (the lock), and ZeroGPU's decorator only
where the `spaces` package is (a stand-in package plays ZeroGPU's part here)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pricer.gpu import GPU_LOCK, ZERO_GPU_SECONDS, on_gpu, one_at_a_time, zero_gpu

ROOT = Path(__file__).resolve().parent.parent

# What on_gpu uses of Hugging Face's `spaces` package: GPU(duration=...) wraps a function and
# reserves a GPU for `duration` seconds (or duration(*args, **kwargs)) around each call.
SPACES = '''
reservations = []


def GPU(task=None, *, duration=60):
    def decorate(fn):
        def on_a_gpu(*args, **kwargs):
            reservations.append((fn.__name__, duration(*args, **kwargs) if callable(duration) else duration))
            return fn(*args, **kwargs)

        return on_a_gpu

    return decorate(task) if callable(task) else decorate
'''


def other_thread_can_take_the_lock() -> bool:
    """Whether a thread other than this one could take GPU_LOCK right now (it gives it back)."""
    got: list[bool] = []

    def attempt() -> None:
        ok = GPU_LOCK.acquire(blocking=False)
        if ok:
            GPU_LOCK.release()
        got.append(ok)

    t = threading.Thread(target=attempt)
    t.start()
    t.join()
    return got[0]


# --- the lock -----------------------------------------------------------------------------------


def test_a_locked_call_keeps_every_other_thread_out_until_it_returns():
    inside, leave = threading.Event(), threading.Event()

    @one_at_a_time
    def long_job() -> str:
        inside.set()
        leave.wait(30)
        return "done"

    results: list[str] = []
    job = threading.Thread(target=lambda: results.append(long_job()))
    job.start()
    assert inside.wait(30)
    assert not other_thread_can_take_the_lock()
    leave.set()
    job.join()
    assert results == ["done"] and other_thread_can_take_the_lock()


def test_calls_from_several_threads_run_one_after_another():
    running, overlaps, done = [0], [], []

    @one_at_a_time
    def job(n: int) -> None:
        running[0] += 1
        overlaps.append(running[0] > 1)
        time.sleep(0.005)  # hands the interpreter to the other threads: each tries to come in
        done.append(n)
        running[0] -= 1

    threads = [threading.Thread(target=job, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done) == list(range(8)) and not any(overlaps)


def test_a_locked_function_may_call_another_locked_function():
    @one_at_a_time
    def inner(x: int) -> int:
        return x * 2

    @one_at_a_time
    def outer(x: int) -> int:
        return inner(x) + 1  # the same thread again: re-entrant, no deadlock

    assert outer(20) == 41 and other_thread_can_take_the_lock()


def test_an_error_inside_a_locked_call_gives_the_lock_back():
    @one_at_a_time
    def broken() -> None:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        broken()
    assert other_thread_can_take_the_lock()


def test_the_locked_function_keeps_its_name_docstring_and_arguments():
    def price(text: str, *, scale: float = 1.0) -> float:
        """Price a text."""
        return len(text) * scale

    locked = one_at_a_time(price)
    assert (locked.__name__, locked.__doc__, locked.__wrapped__) == ("price", "Price a text.", price)
    assert locked("abc", scale=2.0) == 6.0


# --- ZeroGPU ------------------------------------------------------------------------------------


def test_without_the_spaces_package_on_gpu_returns_the_function_itself():
    def f(x: int) -> int:
        return x + 1

    assert not zero_gpu()  # no `spaces` package on this machine
    assert on_gpu(f) is f and on_gpu(duration=30)(f) is f and on_gpu(duration=lambda x: 5)(f) is f


@pytest.fixture
def zero_gpu_space(tmp_path, monkeypatch):
    """This process as if on a ZeroGPU Space: a `spaces` package on the path."""
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("spaces", None)


def test_on_a_zero_gpu_space_each_call_reserves_a_gpu(zero_gpu_space):
    import spaces

    @on_gpu
    def default(x: int) -> int:
        return x + 1

    @on_gpu(duration=300)
    def long(x: int) -> int:
        return x * 2

    @on_gpu(duration=lambda n, **_: 10 + n)  # ZeroGPU's dynamic duration, from the call's arguments
    def sized(n: int, *, label: str = "") -> str:
        return f"{label}{n}"

    assert zero_gpu()
    assert (default(1), long(2), sized(5, label="n=")) == (2, 4, "n=5")
    assert spaces.reservations == [("default", ZERO_GPU_SECONDS), ("long", 300), ("sized", 15)]


def test_importing_the_gpu_module_loads_neither_gradio_nor_torch():
    probe = "import sys, pricer.gpu; print(','.join(m for m in ('gradio', 'torch', 'spaces') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_on_zero_gpu_only_the_llamas_model_work_reserves_a_gpu(tmp_path):
    """Predict's /price and button are not on the GPU: a CPU price reserves nothing; a Llama's
    predict reserves one itself, for as long as its texts need."""
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(SPACES)
    probe = """
import spaces
from pricer.errors import PricerError
from pricer.pricers.llama.model import ModelSpec
from pricer.gpu import ZERO_GPU_SECONDS
from pricer.pricers.llama.pricer import LlamaPricer
from ui import predict_tab
out = predict_tab.price_api("Garlic press\\nStainless steel, dishwasher safe", "cpu")
assert out["prices"][0]["pricer"] == "cpu", out
assert spaces.reservations == [], spaces.reservations
try:
    LlamaPricer(False, ModelSpec("/no/such/model")).predict(["a mug", "a lamp"])
except PricerError:
    pass
assert spaces.reservations == [("predict", ZERO_GPU_SECONDS + 2)], spaces.reservations  # a first load, 2 texts
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "HF_HUB_OFFLINE": "1",
           "PRICER_PRELOAD": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_gpu_busy_is_true_only_while_another_thread_holds_the_lock():
    from pricer.gpu import gpu_busy

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with GPU_LOCK:
            held.set()
            release.wait(30)

    assert not gpu_busy()
    with GPU_LOCK:
        assert not gpu_busy()  # this thread's own hold: a call from here would not wait
    t = threading.Thread(target=hold)
    t.start()
    held.wait(30)
    try:
        assert gpu_busy()
    finally:
        release.set()
        t.join()
    assert not gpu_busy()
