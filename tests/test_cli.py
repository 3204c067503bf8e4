"""The command line: `import pricer` stays light, each verb takes exactly the options declared on
it (shared groups defined once), and the pipeline verbs (curate, dataset, export-jsonl) print a
summary, or one line and exit status 2 on bad input."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pricer.cli import MODEL, VERBS, Group, main, parser
from pricer.config import ADAPTER, ADAPTER_REVISION, BASE_MODEL, ENV

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "datasets", "gradio", "peft", "plotly", "pandas")
BODY = ("Fits most 2004 to 2012 pickups and ships with the mounting hardware, gaskets and a printed "
        "guide, so the swap takes under an hour with hand tools. ") * 8


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def raw_file(path: Path, n: int = 12) -> Path:
    rows = [{"title": f"Acme Part {i}", "description": [BODY], "features": ["Steel"], "details": {"Brand": "Acme"},
             "price": 10 + i if i % 4 else None} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n", encoding="utf-8")
    return path


def test_importing_pricer_and_its_cli_loads_no_heavy_library():
    probe = f"import sys, pricer, pricer.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = run("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


VERB_NAMES = ["curate", "dataset", "export-jsonl", "tokenize", "decode", "vocab", "pricers", "predict", "tiny-model",
              "evaluate", "score", "train", "finetune", "leaderboard", "deploy"]


def test_help_lists_every_verb_in_order():
    result = run("-m", "pricer", "--help")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.split("VERB\n", 1)[1].split("\noptions:")[0].splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == VERB_NAMES == list(VERBS)


@pytest.mark.parametrize("name", VERB_NAMES)
def test_each_verb_takes_exactly_the_options_declared_on_it(name):
    verb = VERBS[name]
    declared = {o.name if isinstance(o, Group) else o.dest for o in verb.options}
    assert set(inspect.signature(verb.run).parameters) == declared


def test_predict_and_evaluate_share_the_model_options_and_build_one_model_spec(monkeypatch):
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    sub = {a.dest: a for a in parser()._actions}["verb"].choices
    for name in ("predict", "evaluate"):
        flags = {f for a in sub[name]._actions for f in a.option_strings}
        assert {"--base-model", "--adapter", "--revision", "--quantization"} <= flags and MODEL in VERBS[name].options
    spec = MODEL.build(base_model=None, adapter=ADAPTER, revision=None, quantization="8bit")
    assert (spec.base_model, spec.adapter, spec.revision, spec.quantization) == (BASE_MODEL, ADAPTER,
                                                                                 ADAPTER_REVISION, "8bit")
    assert MODEL.build(base_model="/m", adapter="none", revision="v1", quantization=None).adapter is None


def test_an_unknown_option_or_choice_is_refused_by_the_parser_with_status_2(capsys):
    for argv in (["predict", "--text", "x", "--quantization", "3bit"], ["tokenize", "--text", "x", "--base-model", "m"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    assert "invalid choice: '3bit'" in capsys.readouterr().err


def test_curate_prints_progress_and_one_summary_per_category(tmp_path):
    result = run("-m", "pricer", "curate", "--source", str(raw_file(tmp_path / "meta_Appliances.jsonl")),
                 "--out", str(tmp_path / "items.jsonl"), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "Curating Appliances" in result.stderr  # datasets' progress bar
    assert result.stderr.strip().splitlines()[-1].startswith(
        "Appliances: kept 9 of 13 (rejected: 3 missing price, 1 malformed JSON line) in ")
    rows = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and set(rows[0]) == {"text", "price", "category", "title"}


def test_curate_several_sources_into_one_file(tmp_path, capsys):
    a, b = raw_file(tmp_path / "meta_A.jsonl", 4), raw_file(tmp_path / "meta_B.jsonl", 8)
    assert main(["curate", "--source", str(a), str(b), "--out", str(tmp_path / "out.jsonl"), "--workers", "1"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if ": kept " in line]
    assert [line.split(":")[0] for line in lines] == ["A", "B"]
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["category"] for r in rows] == ["A"] * 3 + ["B"] * 6


@pytest.mark.parametrize("argv, message", [
    (["curate", "--source", "./nope.jsonl", "--out", "x.jsonl"], "No such file or folder: ./nope.jsonl"),
    (["curate", "--source", "Appliances", "--out", "x.jsonl"], "HF_HUB_OFFLINE is set"),
    (["curate", "--source", "a", "b", "--category", "A", "--out", "x.jsonl"], "--category names one source"),
    (["dataset", "--items", "nope.jsonl", "--test-size", "2", "--out", "d"], "No such file: nope.jsonl"),
    (["export-jsonl", "--data", "ed-donner/pricer-data", "--out", "d"], "HF_HUB_OFFLINE is set"),
    (["export-jsonl", "--data", "./missing.jsonl", "--out", "d"], "No such file or folder"),
    # an --out that cannot be written is refused before any work, not with a traceback after it
    (["curate", "--source", "./nope.jsonl", "--out", "a-file/items.jsonl"], "Cannot create the folder a-file"),
    (["curate", "--source", "./nope.jsonl", "--out", "."], "is a folder: give the output file"),
    (["dataset", "--items", "nope.jsonl", "--test-size", "2", "--out", "a-file/d"], "Cannot create the folder"),
    (["export-jsonl", "--data", "./missing.jsonl", "--out", "a-file/ft"], "Cannot create the folder a-file"),
])
def test_bad_input_is_one_line_and_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_dataset_then_export_from_it(tmp_path, capsys, monkeypatch):
    rows = [{"text": f"How much does this cost to the nearest dollar?\n\nThing {i}\nGood.\n\nPrice is ${i + 1}.00",
             "price": i + 1.25, "category": "A", "title": f"Thing {i}"} for i in range(40)]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("HF_TOKEN", "hf_NotARealTokenButSecret123")
    assert main(["dataset", "--items", str(tmp_path / "items.jsonl"), "--test-size", "5", "--seed", "42",
                 "--out", str(tmp_path / "ds"), "--push-to-hub", "me/pricer-data", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "35 train and 5 test items (seed 42) from 40" in err and "dry run: would push" in err
    assert "hf_NotARealTokenButSecret123" not in err
    assert main(["export-jsonl", "--data", str(tmp_path / "ds"), "--train", "30", "--validation", "5",
                 "--out", str(tmp_path / "ft")]) == 0
    assert "wrote 30 train and 5 validation items" in capsys.readouterr().err
    assert len((tmp_path / "ft" / "fine_tune_train.jsonl").read_text().split("\n")) == 30
