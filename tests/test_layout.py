"""The package's shape, read from its source (ast): imports go one way, down the floors, with no
circle, string lookups included; wings stay apart; modules stay small or say why not."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pricer"

FLOORS: tuple[tuple[str, ...], ...] = (
    ("pricer",),
    ("pricer.errors",),
    ("pricer.redact",),
    ("pricer.atomic",),
    ("pricer.config",),
    ("pricer.gpu",),
    ("pricer.web_paths",),
    ("pricer.hub",),
    ("pricer.manifest",),
    ("pricer.tokenizer.*",),
    ("pricer.data.*",),
    ("pricer.metrics",),
    ("pricer.pricers.estimates",),
    ("pricer.pricers.base",),
    ("pricer.pricers.llama.*", "pricer.pricers.cpu.*", "pricer.pricers.chat.*"),  # kinds: side by side, apart
    ("pricer.pricers.ensemble.*",),
    ("pricer.pricers.registry",),
    ("pricer.pricers",),
    ("pricer.evaluation.*",),
    ("pricer.deploy",),
    ("pricer.jobs",),
    ("pricer.cli_options",),
    ("pricer.cli",),
    ("pricer.__main__",),
)
"""From the bottom up: a module may import its own entry's modules and those of lower floors only.
`x.*` is a wing (x and everything in it); a plain name is that one module. Entries on one floor
may not import each other."""
MAX_LINES = 450
REASON = "Longer than 450 lines:"  # how a module's docstring says why it is


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _prose(tree: ast.AST) -> set[int]:
    """ids of the strings that stand alone as statements (docstrings, attribute docstrings):
    their text names modules in prose, not lookups."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}


def _known(dotted: str) -> str | None:
    """The module a dotted name refers to: itself, or the longest module it starts with."""
    names = modules()
    while dotted:
        if dotted in names:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def imports_of(name: str) -> set[str]:
    """Every pricer module `name` imports: at the top, inside functions, for type checking only,
    or by a string (importlib.import_module("pricer.x"), "pricer.x:Class")."""
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    docs = _prose(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pricer"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "pricer":
                continue
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules() else source)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for dotted in re.findall(r"\bpricer(?:\.\w+)+", node.value):
                if (known := _known(dotted)) and known != "pricer":
                    found.add(known)
    return {m for m in (_known(f) for f in found) if m and m != name}


def floor_of(name: str) -> tuple[int, str]:
    """(floor, entry) of a module: the most specific entry that holds it."""
    best: tuple[int, str, int] | None = None
    for floor, entries in enumerate(FLOORS):
        for entry in entries:
            wing = entry.endswith(".*")
            stem = entry[:-2] if wing else entry
            if name == stem or (wing and name.startswith(stem + ".")):
                if best is None or len(stem) > best[2]:
                    best = (floor, entry, len(stem))
    assert best is not None, f"{name} is on no floor of FLOORS: add it where it belongs"
    return best[0], best[1]


def graph() -> dict[str, set[str]]:
    return {name: imports_of(name) for name in modules()}


def test_every_module_is_on_a_floor():
    for name in modules():
        floor_of(name)


def test_no_import_runs_back_up_or_across_to_a_sibling_wing():
    wrong = []
    for name, targets in graph().items():
        floor, entry = floor_of(name)
        for target in targets:
            their_floor, their_entry = floor_of(target)
            if their_entry != entry and their_floor >= floor:
                wrong.append(f"{name} ({entry}) imports {target} ({their_entry})")
    assert wrong == []


def test_the_import_graph_has_no_circle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert circles == []


def test_the_reader_sees_lazy_imports_type_checking_imports_and_string_lookups(tmp_path, monkeypatch):
    """The checks above can fail: each way a module can reach another is an edge."""
    names = dict(modules())
    fake = tmp_path / "pricer" / "metrics_probe.py"
    fake.parent.mkdir()
    fake.write_text('"""Mentions pricer.cli in prose only."""\n'
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from pricer.evaluation import runs\n"
                    "def f():\n    from pricer.pricers.registry import get\n"
                    "    import importlib\n    return importlib.import_module('pricer.deploy')\n"
                    "LOOKUP = 'pricer.pricers.ensemble:EnsemblePricer'\n")
    names["pricer.metrics_probe"] = fake
    monkeypatch.setitem(globals(), "modules", lambda: names)
    assert imports_of("pricer.metrics_probe") == {"pricer.evaluation.runs", "pricer.pricers.registry",
                                                   "pricer.deploy", "pricer.pricers.ensemble"}


def test_a_circle_or_an_upward_import_would_be_found(monkeypatch):
    edges = graph()
    edges["pricer.pricers.base"] = edges["pricer.pricers.base"] | {"pricer.pricers.registry"}
    monkeypatch.setitem(globals(), "graph", lambda: edges)
    with pytest.raises(AssertionError, match="pricer.pricers.base"):
        test_no_import_runs_back_up_or_across_to_a_sibling_wing()
    with pytest.raises(AssertionError, match="pricer.pricers.registry"):
        test_the_import_graph_has_no_circle()


def test_no_kind_of_pricer_imports_another_or_the_registry():
    for name, targets in graph().items():
        if name.startswith(("pricer.pricers.llama", "pricer.pricers.cpu", "pricer.pricers.chat")):
            kind = name.split(".")[2]
            others = {t for t in targets if t.startswith("pricer.pricers.") and t.split(".")[2] not in
                      (kind, "base", "estimates")}
            assert others == set(), name


@pytest.mark.parametrize("folder", ["pricer", "ui"])
def test_modules_stay_under_450_lines_or_say_why(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if lines > MAX_LINES and REASON not in doc:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert long == []


def test_each_wing_says_what_it_does_and_what_it_may_import():
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init.parent == PACKAGE:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.splitlines()) >= 3 and "import" in doc, f"{init.relative_to(ROOT)} needs its docstring"


def test_the_wings_that_re_export_define_nothing_of_their_own():
    for wing in ("pricers", "evaluation"):
        tree = ast.parse((PACKAGE / wing / "__init__.py").read_text(encoding="utf-8"))
        kinds = {type(node).__name__ for node in tree.body[1:]}
        assert kinds <= {"ImportFrom", "Assign"}, (wing, kinds)


def _readme_map() -> dict[str, str]:
    """The README's map of the code: folder (as `pricer/pricers/llama`) -> the text of its entry."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("```")[1]
    entries: dict[str, str] = {}
    stack: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^( *)([\w.-]+/)\s", line)
        if match:
            depth = len(match.group(1)) // 2
            stack[depth:] = [match.group(2).rstrip("/")]
            entries["/".join(stack)] = line
            current = "/".join(stack)
        elif line.startswith(" ") and stack:
            entries[current] += " " + line
    return entries


def test_the_readme_map_names_every_wing_and_module_of_the_tree():
    entries = _readme_map()
    for init in sorted(PACKAGE.rglob("__init__.py")):
        folder = init.parent.relative_to(ROOT).as_posix()
        assert folder in entries, f"README's Layout has no line for {folder}/"
        words = set(re.findall(r"[\w.-]+", entries[folder]))
        mods = {p.stem for p in init.parent.glob("*.py") if p.stem != "__init__"}
        assert mods <= words, f"{folder}: README's Layout does not name {sorted(mods - words)}"
        data = {p.name for p in init.parent.iterdir() if p.is_dir() and p.name != "__pycache__"
                and not (p / "__init__.py").exists()}
        assert {f"{d}/" for d in data} <= {w + "/" for w in words} | set(re.findall(r"[\w.-]+/", entries[folder])), folder
    for folder in entries:
        if folder.startswith("pricer"):
            assert (ROOT / folder).is_dir(), f"README's Layout names {folder}/, which is not in the tree"
