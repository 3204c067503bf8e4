"""Reading spaces.yaml safely: aliases (the "billion laughs" that held `deploy --dry-run` at 15 GB)
are refused with their line, deep nesting and oversized files are named, and plain YAML reads as
before."""

from __future__ import annotations

import pytest

from pricer.cli import main
from pricer.manifest import ManifestInvalid, load_manifest, safe_yaml, split_front_matter

VALID = """\
space_id: someone/price-is-right
title: The Price is Right
hardware: t4-small
app_file: app.py
"""

# Nine levels of nine: a few hundred bytes that expand to 9**9 (387 million) strings.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "app.py").write_text("print('app')\n")
    return tmp_path


def problems_of(path) -> list[str]:
    with pytest.raises(ManifestInvalid) as err:
        load_manifest(path, {})
    return err.value.problems


def test_an_alias_bomb_is_refused_at_its_line_without_expanding(folder):
    path = folder / "spaces.yaml"
    path.write_text(VALID + BOMB + "tags: *i\n")
    [line] = problems_of(path)
    assert line == ("not valid YAML at line 6, column 8: an alias (*a) is not allowed here: write the value "
                    "out in full")


def test_a_single_alias_is_refused_too(folder):
    path = folder / "spaces.yaml"
    path.write_text(VALID + "models: &m [meta-llama/Meta-Llama-3.1-8B]\ndatasets: *m\n")
    [line] = problems_of(path)
    assert "line 6" in line and "alias (*m) is not allowed" in line


def test_the_cli_dry_run_answers_a_bomb_in_one_message(folder, capsys):
    path = folder / "spaces.yaml"
    path.write_text(VALID + BOMB + "variables: {PRICER_X: *i}\n")
    assert main(["deploy", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "alias (*a) is not allowed" in err and "Traceback" not in err


def test_deep_nesting_and_huge_files_are_named(folder):
    path = folder / "spaces.yaml"
    path.write_text(VALID + "tags: " + "[" * 100_000 + "]" * 100_000 + "\n")
    [line] = problems_of(path)
    assert line.startswith("not valid YAML") and ("nested too deeply" in line or "line 5" in line)
    path.write_text(VALID + "# padding\n" * 200_000)
    [line] = problems_of(path)
    assert line.startswith(f"the file is {path.stat().st_size:,} bytes; a manifest is a page of settings")


def test_anchors_without_aliases_and_plain_yaml_read_as_before():
    assert safe_yaml("a: &x 1\nb: [1, 2]\nc: {d: 'e'}\n") == {"a": 1, "b": [1, 2], "c": {"d": "e"}}
    assert split_front_matter("---\ntitle: x\n---\nbody\n") == ({"title": "x"}, "body\n")
    with pytest.raises(Exception, match="alias"):
        split_front_matter("---\na: &x 1\nb: *x\n---\nbody\n")
