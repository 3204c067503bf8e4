"""How a `python -m pricer` verb declares its options: `@command(name, help, *options)`.

A verb is one function registered with `command`: its options sit on it (`option(...)`, argparse's
add_argument arguments), and it gets their values as keyword arguments; its `--help` ends with
the example command it is registered with. A Group of options
reaches the verb as one value built from them (pricer.cli's model options as a ModelSpec).
`say` and `emit_json` are how verbs write: human-readable lines on stderr, machine-readable
output on stdout. This module knows no verb (pricer.cli defines them) and imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One command-line option or argument: argparse's add_argument(*flags, **kwargs)."""

    flags: tuple[str, ...]
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        """The keyword the verb gets its value as (argparse's rule: --batch-size -> batch_size)."""
        long = [f for f in self.flags if f.startswith("--")]
        return self.kwargs.get("dest") or (long[0][2:] if long else self.flags[0]).replace("-", "_")


def option(*flags: str, **kwargs: Any) -> Option:
    return Option(flags, kwargs)


@dataclass(frozen=True)
class Group:
    """Options the verb gets as one keyword argument, `name` = build(**their values)."""

    name: str
    options: tuple[Option, ...]
    build: Callable[..., Any]


Options = Option | Group | tuple["Options", ...]


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    run: Callable[..., int]
    options: tuple[Option | Group, ...]
    example: str
    """A whole command a user can copy: `--help` ends with it."""

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser(self.name, help=self.help, description=self.help, epilog=f"example:\n  {self.example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        for opt in self.options:
            for o in opt.options if isinstance(opt, Group) else (opt,):
                p.add_argument(*o.flags, **o.kwargs)

    def call(self, values: dict[str, Any]) -> int:
        """Run the verb on parsed values, each group's options built into its one argument."""
        for group in (o for o in self.options if isinstance(o, Group)):
            values[group.name] = group.build(**{o.dest: values.pop(o.dest) for o in group.options})
        return self.run(**values)


VERBS: dict[str, Verb] = {}  # in the order --help lists them


def _flat(options: tuple[Options, ...]) -> tuple[Option | Group, ...]:
    return tuple(x for o in options for x in (_flat(o) if isinstance(o, tuple) else (o,)))


def command(name: str, help: str, *options: Options, example: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Register the decorated function as the verb `name`, with its options and shared groups, and
    the example its `--help` ends with (`python -m pricer NAME ...`, one line)."""
    if not example.startswith(f"python -m pricer {name}") or "\n" in example:
        raise ValueError(f"the example of {name} is one line starting `python -m pricer {name}`: {example!r}")

    def register(fn: Callable[..., int]) -> Callable[..., int]:
        VERBS[name] = Verb(name, help, fn, _flat(options), example)
        return fn

    return register


def say(message: str) -> None:
    """A human-readable line (summaries, progress) on stderr, so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def emit_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def read_text(text: str) -> str:
    """The text of a --text option: '-' reads standard input (UTF-8; other bytes are a clear error)."""
    from pricer.data.readers import utf8_text

    return utf8_text(sys.stdin.buffer.read(), "standard input") if text == "-" else text
