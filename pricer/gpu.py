"""One GPU, one job at a time: the lock every model call takes, and ZeroGPU's decorator.

On a ZeroGPU Space (the `spaces` package is installed) functions that run the model carry
`@spaces.GPU`, which attaches a GPU for the call; anywhere else `on_gpu` changes nothing. The
lock serialises model work inside the process (CLI, evaluation, several users of the app): a
second request waits for the first instead of both running out of memory. (The app also puts
its GPU events in one gradio queue, ui.GPU_QUEUE, so users see their place in line.) This
module imports neither gradio nor torch.
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


def one_at_a_time(fn: F) -> F:
    """Run `fn` under GPU_LOCK, so model calls from several threads queue up."""

    @functools.wraps(fn)
    def locked(*args, **kwargs):
        with GPU_LOCK:
            return fn(*args, **kwargs)

    return locked  # type: ignore[return-value]
