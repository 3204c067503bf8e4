"""The command line: `import pricer` stays light, each verb takes exactly the options declared on
it (shared groups defined once), and the pipeline verbs (curate, dataset, export-jsonl) print a
summary, or one line and exit status 2 on bad input."""

from __future__ import annotations

import csv
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


def test_help_imports_neither_torch_nor_numpy():
    probe = ("import contextlib, io, sys\nfrom pricer.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main(['--help'])\n"
             f"print(','.join(m for m in {HEAVY + ('numpy',)!r} if m in sys.modules))")
    result = run("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


VERB_NAMES = ["curate", "dataset", "export-jsonl", "tokenize", "decode", "vocab", "pricers", "predict", "tiny-model",
              "evaluate", "score", "train", "finetune", "qlora", "qlora-job", "rag-index", "ensemble", "leaderboard", "deploy"]


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


@pytest.mark.parametrize("name", VERB_NAMES)
def test_each_verbs_help_ends_with_an_example_it_parses(name, capsys):
    import shlex

    with pytest.raises(SystemExit):
        main([name, "--help"])
    shown = capsys.readouterr().out.rstrip().splitlines()
    assert shown[-2] == "example:" and shown[-1].strip() == VERBS[name].example
    argv = shlex.split(VERBS[name].example)
    assert argv[:4] == ["python", "-m", "pricer", name]
    assert vars(parser().parse_args(argv[3:]))["verb"] == name  # a whole command: the parser takes it


def test_an_example_must_be_one_command_of_its_verb():
    from pricer.cli_options import command

    for example in ("python -m pricer other --x", "python -m pricer mine\npython -m pricer mine"):
        with pytest.raises(ValueError, match="one line starting `python -m pricer mine`"):
            command("mine", "a verb", example=example)


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


# --- pricers: list them, and predict or evaluate by name -----------------------------------------


@pytest.fixture
def openai_server(monkeypatch, tmp_path):
    from openai_stand_in import openai_online

    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def test_pricers_lists_each_pricer_its_reason_and_the_default(monkeypatch, tmp_path):
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    for variable in ("OPENAI_API_KEY", "HF_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    result = run("-m", "pricer", "pricers", "--json", env={"PRICER_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    by_name = {p["name"]: p for p in listed["pricers"]}
    assert list(by_name)[:4] == ["fine-tuned", "base", "cpu", "frontier"] and listed["default"] == "cpu"
    assert by_name["fine-tuned"]["reason"].startswith("HF_TOKEN missing for a gated model (meta-llama/Meta-Llama-3.1-8B)")
    assert by_name["frontier"] == {"name": "frontier", "label": "gpt-4o-mini (frontier)", "estimators": [],
                                   "available": False, "reason": "OPENAI_API_KEY is not set", "default": False}
    assert by_name["cpu"]["default"] and by_name["fine-tuned"]["estimators"] == ["greedy", "topk", "topk-numbers"]
    text = run("-m", "pricer", "pricers", env={"PRICER_CACHE": str(tmp_path)})
    lines = text.stdout.splitlines()
    assert lines[0].split()[:2] == ["fine-tuned", "not"] and lines[4].startswith("* cpu")
    assert "* the default pricer" in text.stderr


def test_predict_names_the_pricer_that_answered(openai_server, capsys):
    from openai_stand_in import KEY

    assert main(["predict", "--pricer", "frontier", "--text", "Steel mug\nA steel mug that keeps coffee hot."]) == 0
    captured = capsys.readouterr()
    assert captured.out == "$45.00 from frontier: gpt-4o-mini (frontier, at " + captured.out.split(" at ", 1)[1]
    assert "reply '45'" in captured.err
    assert main(["predict", "--pricer", "frontier", "--model", "gpt-4o", "--json", "--text", "Steel mug\nA mug."]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["pricer"], answer["price"], answer["low"], answer["high"]) == ("frontier", 45.0, None, None)
    assert answer["details"]["model"] == "gpt-4o" and answer["details"]["reply"] == "45"
    assert openai_server.chats()[-1].body["model"] == "gpt-4o"
    assert KEY not in captured.out + captured.err


def test_evaluate_by_pricer_name_says_the_cost_first_and_the_course_line_last(openai_server, test_250, tmp_path, capsys):
    out = tmp_path / "frontier.csv"
    assert main(["evaluate", "--pricer", "frontier", "--data", str(test_250), "--size", "5", "--batch-size", "2",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[0].startswith("cost estimate: 5 requests to gpt-4o-mini: ~")
    assert [line.split(": ")[1].split(" items")[0] for line in err if " items running" in line or " items done" in line
            ] == ["2/5", "4/5", "5/5"]
    with out.open() as f:
        guesses = [float(r["guess"]) for r in csv.DictReader(f)]
    assert guesses == [45.0] * 5
    assert captured.out.strip().splitlines()[-1].startswith("Error=$") and "Hits=" in captured.out
    assert len(openai_server.chats()) == 5


@pytest.mark.parametrize("argv, message", [
    (["predict", "--pricer", "gpt-9", "--text", "x"], "pricer must be one of fine-tuned, base, cpu, frontier"),
    (["predict", "--pricer", "frontier", "--estimator", "topk", "--text", "x"], "The frontier pricer has no estimators"),
    (["evaluate", "--pricer", "frontier", "--size", "2", "--data", "./missing.jsonl"], "No such file or folder"),
])
def test_a_bad_pricer_choice_is_one_line_and_status_2(argv, message, openai_server, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert openai_server.chats() == []


def test_an_unwritable_out_is_refused_before_any_request(openai_server, test_250, tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    for flag in ("--out", "--chart"):
        assert main(["evaluate", "--pricer", "frontier", "--data", str(test_250), "--size", "2",
                     flag, str(tmp_path / "a-file" / "x")]) == 2
        assert "Cannot create the folder" in capsys.readouterr().err
    assert openai_server.requests == []


def test_finetune_start_and_status_print_the_job(openai_server, capsys):
    assert main(["finetune", "start", "--train-file", "file-abc", "--validation-file", "file-def"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "job ftjob-1: validating_files (gpt-4o-mini-2024-07-18, files file-abc + file-def)",
        "check again with: python -m pricer finetune status ftjob-1"]
    openai_server.jobs["ftjob-1"].update(status="succeeded", fine_tuned_model="ft:gpt-4o-mini-2024-07-18:me:pricer:x1")
    assert main(["finetune", "status"]) == 0
    assert "fine-tuned model: ft:gpt-4o-mini-2024-07-18:me:pricer:x1" in capsys.readouterr().out
    assert main(["finetune", "status", "ftjob-1", "--train-file", "file-x"]) == 2
    assert main(["finetune", "start", "ftjob-1"]) == 2
    assert "takes no job id" in capsys.readouterr().err
    assert main(["finetune", "status", "ftjob-404"]) == 2
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["evaluate", "--size", "2"], ["predict", "--text", "Steel mug"]])
def test_an_estimator_where_the_llama_cannot_run_is_refused_with_why_not_given_to_the_cpu_pricer(verb, monkeypatch,
                                                                                                 tmp_path, capsys):
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    assert main([*verb, "--estimator", "topk", "--data" if verb[0] == "evaluate" else "--json",
                 *(["./no-such-items.jsonl"] if verb[0] == "evaluate" else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --estimator topk is a Llama estimate, and the fine-tuned Llama cannot run here (")
    assert "HF_TOKEN missing for a gated model (meta-llama/Meta-Llama-3.1-8B)" in err[-1]  # why, as `pricers` says
    assert "leave --estimator out to use the cpu pricer" in err[-1]
    assert main(["predict", "--text", "Steel mug\nA steel mug that keeps coffee hot."]) == 0  # without it: cpu
    captured = capsys.readouterr()
    assert " from cpu: " in captured.out and "the cpu pricer answers" in captured.err


def test_model_options_choose_the_llama_pricer(monkeypatch):
    from pricer.cli import _choose
    from pricer.pricers.llama.model import ModelSpec

    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    no_model = {"cpu_model": None, "frontier_model": None}
    assert _choose(None, no_model, ModelSpec("/m", "/a"))[0] == "fine-tuned"
    assert _choose(None, no_model, ModelSpec("/m"))[0] == "base"
    assert _choose("cpu", no_model, ModelSpec("/m"))[0] == "cpu"
    assert MODEL.build(base_model=None, adapter=None, revision=None, quantization=None) is None  # the settings' model


def test_rag_index_builds_where_the_rag_pricer_looks(openai_server, train_550, tmp_path, monkeypatch, capsys):
    source = tmp_path / "items.jsonl"
    source.write_text("".join(train_550.read_text().splitlines(keepends=True)[:12]))
    monkeypatch.setenv("PRICER_RAG_DATA", str(source))
    from pricer import pricers

    assert pricers.get("rag").available().startswith("no RAG index built: run `python -m pricer rag-index --data")
    assert main(["rag-index", "--data", str(source)]) == 0
    captured = capsys.readouterr()
    assert "indexed 12 items" in captured.err
    assert pricers.get("rag").available() is None
    assert main(["predict", "--pricer", "rag", "--text", "Steel mug\nA steel mug that keeps coffee hot."]) == 0
    captured = capsys.readouterr()
    assert " from rag: " in captured.out and captured.err.count("similar: $") == 5


def test_ensemble_fit_writes_the_weights_the_ensemble_pricer_reads(openai_server, tiny_model, train_550, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    from pricer import pricers

    assert pricers.get("ensemble").available() == "no ensemble weights: run `python -m pricer ensemble fit`"
    assert main(["ensemble", "fit", "--members", "frontier", "base", "--data", str(train_550), "--start", "0",
                 "--size", "20"]) == 0
    assert "ensemble of frontier + base" in capsys.readouterr().err
    assert pricers.get("ensemble").available() is None
    assert main(["predict", "--pricer", "ensemble", "--json", "--text", "Steel mug\nA steel mug."]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["pricer"] == "ensemble" and set(answer["details"]["members"]) == {"frontier", "base"}


# --- decode --batch: batch_decode of several sequences ------------------------------------------


def test_decode_batch_prints_one_quoted_text_per_sequence(llama):
    result = run("-m", "pricer", "decode", "--batch", "128000 40 1097", "3430, 374, 400", "", "11410 99 250",
                 env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    texts = [json.loads(line) for line in result.stdout.splitlines()]
    assert texts == llama.batch_decode([[128000, 40, 1097], [3430, 374, 400], [], [11410, 99, 250]])
    assert texts == ["<|begin_of_text|>I am", " price is $", "", " 🦜"]


def test_decode_batch_json_skips_specials_as_asked(llama, capsys):
    assert main(["decode", "--batch", "128000 40 1097", "128000 128009", "--skip-special", "--json",
                 "--tokenizer", "offline/llama-3.1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"texts": ["I am", ""]}


def test_decode_json_carries_the_per_token_batch_decode(llama, capsys):
    assert main(["decode", "128000", "11410", "99", "250", "--json", "--tokenizer", "offline/llama-3.1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decoded"] == "<|begin_of_text|> 🦜" and out["pieces"] == ["<|begin_of_text|>", " 🦜"]
    assert out["batch_decode"] == llama.batch_decode([[128000], [11410], [99], [250]])
    assert out["batch_decode"] == ["<|begin_of_text|>", " \ufffd", "\ufffd", "\ufffd"]


@pytest.mark.parametrize("argv, message", [
    (["decode", "--batch", "40 1097", "3430 999999"], "Not in the vocabulary: 999999 in sequence 2. This tokenizer "
                                                      "has 128,256 tokens"),
    (["decode", "--batch", "40 x"], "Not a token id in sequence 1: 'x'"),
    (["decode", "40", "--clean-up"], "--clean-up goes with --batch"),
])
def test_decode_batch_mistakes_are_one_line_and_status_2(argv, message, capsys):
    assert main([*argv, "--tokenizer", "offline/llama-3.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_decode_batch_clean_up_reaches_a_wordpiece_tokenizer(capsys):
    ids = "101 2123 1005 1056 2644 102"  # [CLS] don ' t stop [SEP]
    assert main(["decode", "--batch", ids, "--tokenizer", "offline/all-minilm-l6-v2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"texts": ["[CLS] don ' t stop [SEP]"]}
    assert main(["decode", "--batch", ids, "--tokenizer", "offline/all-minilm-l6-v2", "--json", "--clean-up"]) == 0
    assert json.loads(capsys.readouterr().out) == {"texts": ["[CLS] don't stop [SEP]"]}
