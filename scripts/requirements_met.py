"""Is every requirement of a requirements file installed at a version it allows?

    python scripts/requirements_met.py requirements-dev.txt

Exits 0 when each requirement (and those of the files it includes with `-r`) is installed at an
allowed version; otherwise prints the first one that is not and exits 1. scripts/dev asks this
before running pip: when it holds, pip has nothing to do, and asking pip anyway costs 20-30 s of
index look-ups on every start. It reads installed package metadata only (no imports), so it takes
a fraction of a second; without `packaging` nothing is installed yet, so it says so and exits 1.
It does not install anything and does not check dependencies of dependencies (pip did that when
it installed them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def requirements(path: Path) -> Iterator[str]:
    """The requirement lines of `path` and of the files it includes, without comments."""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            yield from requirements(path.parent / line[3:].strip())
        elif line:
            yield line


def first_unmet(path: Path) -> str | None:
    """The first requirement not met, with what is installed instead, or None when all are."""
    from packaging.requirements import Requirement

    for line in requirements(path):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            return f"{line} (not installed)"
        if not req.specifier.contains(installed, prereleases=True):
            return f"{line} ({installed} installed)"
    return None


def main(argv: list[str]) -> int:
    try:
        unmet = first_unmet(Path(argv[0]))
    except ImportError:
        unmet = "packaging (not installed)"
    if unmet:
        print(f"needs {unmet}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
