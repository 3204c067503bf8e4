"""One GPU, one job at a time: the lock every model call takes, and ZeroGPU's decorator.

On a ZeroGPU Space (the `spaces` package is installed) functions that run the model carry
`@spaces.GPU`, which attaches a GPU for the call; anywhere else `on_gpu` changes nothing. The
lock serialises model work inside the process (CLI, evaluation, several users of the app): a
second request waits for the first instead of both running out of memory. Only model work
waits: the Llama pricer takes the lock (and carries @spaces.GPU) itself, so the CPU and chat
pricers of the same request, or of other visitors, run beside it (ui.PRICE_QUEUE); `gpu_busy`
tells a page to say it is waiting. A call nested in another @spaces.GPU call runs in that
call's GPU process as it is (the `spaces` package's own rule). This module imports neither
gradio nor torch.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

GPU_LOCK = threading.RLock()  # re-entrant: a locked function may call another one
ZERO_GPU_SECONDS = 120  # what ZeroGPU reserves per call; a first load of the 8B model takes long


def zero_gpu() -> bool:
    """True on a ZeroGPU Space, where the `spaces` package provides @spaces.GPU."""
    return importlib.util.find_spec("spaces") is not None


def on_gpu(fn: F | None = None, *, duration: int | Callable[..., int] = ZERO_GPU_SECONDS
           ) -> F | Callable[[F], F]:
    """Decorate a function that runs the model: @spaces.GPU under ZeroGPU, else unchanged.

    Usable as `@on_gpu` or `@on_gpu(duration=300)`. `duration` may be a function of the call's
    arguments (ZeroGPU's dynamic duration): a shorter reservation queues ahead of longer ones.
    """

    def decorate(f: F) -> F:
        if not zero_gpu():
            return f
        import spaces

        return spaces.GPU(duration=duration)(f)

    return decorate(fn) if fn is not None else decorate


def gpu_busy() -> bool:
    """True while another thread holds GPU_LOCK (a call made now would wait for it)."""
    if GPU_LOCK.acquire(blocking=False):  # re-entrant: this thread's own hold is not "busy"
        GPU_LOCK.release()
        return False
    return True


def one_at_a_time(fn: F) -> F:
    """Run `fn` under GPU_LOCK, so model calls from several threads queue up."""

    @functools.wraps(fn)
    def locked(*args, **kwargs):
        with GPU_LOCK:
            return fn(*args, **kwargs)

    return locked  # type: ignore[return-value]
