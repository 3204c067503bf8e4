"""Local paths from the web app: read only inside the folders the operator allowed, refused
elsewhere with one message that never says whether the path exists nor what a folder holds.
The CLI (web=False) keeps reading any path. Core policy first, then each web entry point
through its handler function."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from pricer import hub
from pricer.data.datasets import load_pricer_dataset
from pricer.errors import BadInput, NotFound
from pricer.web_paths import allowed_roots, readable_upload

REFUSED = "reads local files only from the folders its operator allowed"
ROW = {"text": "How much does this cost to the nearest dollar?\n\nMug\nA mug.\n\nPrice is $", "price": 9.0}


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """An operator's set-up: a data folder allowed by PRICER_WEB_PATHS, the rest of the disk not."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "test.jsonl").write_text(json.dumps(ROW) + "\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "test.jsonl").write_text(json.dumps(ROW) + "\n")
    (outside / "secret-name.txt").write_text("x")
    monkeypatch.setenv("PRICER_WEB_PATHS", str(allowed))
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PRICER_DATASET", "ed-donner/pricer-data")
    monkeypatch.setenv("PRICER_BASE_MODEL", "meta-llama/Meta-Llama-3.1-8B")
    monkeypatch.setenv("PRICER_ADAPTER", "none")
    monkeypatch.delenv("PRICER_TOKENIZER", raising=False)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    return tmp_path


def refused(call) -> str:
    with pytest.raises(BadInput) as err:
        call()
    assert REFUSED in str(err.value)
    return str(err.value)


# --- the policy -------------------------------------------------------------------------------


def test_a_path_inside_an_allowed_folder_is_read_from_the_web(site):
    assert hub.resolve(str(site / "allowed" / "test.jsonl"), "dataset", web=True) == site / "allowed" / "test.jsonl"
    assert load_pricer_dataset(str(site / "allowed"), web=True)[0]["price"] == 9.0


def test_a_path_outside_is_refused_with_one_message_whether_or_not_it_exists(site, no_network):
    messages = {refused(lambda name=name: hub.resolve(name, "dataset", web=True))
                for name in (str(site / "outside" / "test.jsonl"), str(site / "outside" / "missing.jsonl"),
                             str(site / "outside"), "/etc", "/etc/passwd", "/no/such/folder", "~", "~/x.jsonl")}
    assert len(messages) == 1  # the same words for a file, a folder and nothing at all
    assert "upload the file" in messages.pop()


def test_the_command_line_reads_any_path(site):
    assert hub.resolve(str(site / "outside" / "test.jsonl"), "dataset") == site / "outside" / "test.jsonl"
    assert load_pricer_dataset(str(site / "outside" / "test.jsonl"))[0]["price"] == 9.0


def test_a_symlink_inside_that_points_outside_is_refused(site):
    link = site / "allowed" / "escape.jsonl"
    link.symlink_to(site / "outside" / "test.jsonl")
    refused(lambda: load_pricer_dataset(str(link), web=True))
    folder_link = site / "allowed" / "up"
    folder_link.symlink_to(site / "outside")
    refused(lambda: load_pricer_dataset(str(folder_link / "test.jsonl"), web=True))


def test_dot_dot_out_of_an_allowed_folder_is_refused(site):
    refused(lambda: load_pricer_dataset(str(site / "allowed" / ".." / "outside" / "test.jsonl"), web=True))
    refused(lambda: load_pricer_dataset(str(site / "allowed" / "../outside"), web=True))


def test_a_missing_file_inside_an_allowed_folder_is_simply_not_found(site):
    with pytest.raises(NotFound, match="No such file"):
        load_pricer_dataset(str(site / "allowed" / "missing.jsonl"), web=True)


def test_a_hub_id_from_the_web_is_a_hub_id_even_when_a_folder_of_that_name_exists(site, monkeypatch):
    monkeypatch.chdir(site / "outside")
    (site / "outside" / "owner" / "name").mkdir(parents=True)
    assert hub.resolve("owner/name", None) == Path("owner/name")  # the CLI: the folder here
    assert hub.resolve("owner/name", None, web=True) == "owner/name"  # the web: never the disk


def test_a_relative_path_from_the_web_is_judged_where_it_really_points(site, monkeypatch):
    monkeypatch.chdir(site / "outside")
    refused(lambda: hub.resolve("./test.jsonl", "dataset", web=True))
    refused(lambda: hub.resolve("test.jsonl", "dataset", suffixes=(".jsonl",), web=True))
    monkeypatch.chdir(site / "allowed")
    assert hub.resolve("./test.jsonl", "dataset", web=True) == site / "allowed" / "test.jsonl"


def test_uploads_the_cache_and_the_configured_data_are_allowed(site, monkeypatch):
    upload = site / "uploads" / "0123abcd" / "items.jsonl"
    upload.parent.mkdir(parents=True)
    upload.write_text(json.dumps(ROW) + "\n")
    assert load_pricer_dataset(str(upload), web=True)[0]["price"] == 9.0
    assert readable_upload(upload) == upload
    monkeypatch.setenv("PRICER_DATASET", str(site / "outside" / "test.jsonl"))
    assert load_pricer_dataset(str(site / "outside" / "test.jsonl"), web=True)[0]["price"] == 9.0
    refused(lambda: hub.resolve(str(site / "outside" / "secret-name.txt"), "dataset", web=True))  # its file only
    assert site / "cache" in allowed_roots()


def test_uploads_outside_the_upload_folder_are_refused(site):
    refused(lambda: readable_upload("/etc/passwd"))


def test_a_null_byte_or_an_overlong_name_is_refused_not_a_crash(site):
    refused(lambda: hub.resolve("/etc/\0passwd", "dataset", web=True))
    refused(lambda: hub.resolve("/" + "a" * 5000, "dataset", web=True))
    with pytest.raises(NotFound):
        hub.resolve("/" + "a" * 5000, "dataset")  # the CLI: not found, no OSError


def test_no_message_lists_what_a_folder_holds(site):
    with pytest.raises(BadInput) as err:
        load_pricer_dataset(str(site / "outside"), split="train")  # the CLI, a folder without the split
    assert "secret-name" not in str(err.value) and "train.parquet" in str(err.value)


# --- each web entry point, through its handler ---------------------------------------------------


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gr.Warning outside an event is a UserWarning
        yield


HOME_AND_ETC = [str(Path.home()), "/etc", "/etc/passwd"]


def _no_listing(text: str, given: str = "") -> None:
    """No name from the home folder or /etc in `text`, besides the path the visitor gave."""
    text = text.replace(given, "") if given else text
    listed = set(os.listdir(Path.home())) | set(os.listdir("/etc"))
    shown = {name for name in listed if len(name) > 3 and name in text}
    assert not shown, f"the message names what a folder holds: {shown}"


@pytest.mark.parametrize("data", HOME_AND_ETC)
def test_evaluate_refuses_a_server_path_as_test_data(site, quiet, data):
    from ui import evaluate_tab as tab

    outputs = list(tab.evaluate_ui(tab.Board(), "cpu", None, 5, data, None, None, False,
                                   progress=lambda *a, **k: None))
    status = outputs[-1][1]
    assert "Could not run" in status and REFUSED in status
    _no_listing(status, data)


@pytest.mark.parametrize("data", HOME_AND_ETC)
def test_scoring_refuses_a_server_path_as_test_data_and_as_guesses(site, quiet, data, tmp_path):
    from ui import evaluate_tab as tab

    upload = site / "uploads" / "guesses.csv"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("index,guess\n0,1\n")
    for test_data, guesses in ((data, str(upload)), (str(site / "allowed"), data)):
        outputs = list(tab.evaluate_ui(tab.Board(), tab.SCORE_FILE, None, 1, test_data, None, guesses, False,
                                       progress=lambda *a, **k: None))
        status = outputs[-1][1]
        assert REFUSED in status
        _no_listing(status, data)


@pytest.mark.parametrize("name", HOME_AND_ETC)
def test_the_tokenizer_refuses_a_server_path(site, quiet, name):
    from ui import tokenizer_tab as tab

    result = tab.inspect_text("hi", name)
    assert REFUSED in result["error"]
    for view in (tab.show_specials(name), tab.lookup(name, "price", 1)[0], tab.decode_typed(name, "40", False)[1],
                 tab.show_chat(name, "sys", "user"), tab.tokenize_and_render("hi", name, True, False)[1]):
        assert REFUSED in view
        _no_listing(view, name)


@pytest.mark.parametrize("name", HOME_AND_ETC)
def test_the_comparison_refuses_a_server_path_and_the_others_still_run(site, quiet, name):
    from pricer.tokenizer.loading import OFFLINE_LLAMA
    from ui import tokenizer_tab as tab

    out = tab.compare("the price", OFFLINE_LLAMA, name, "", "", True)
    assert REFUSED in out and "<b>3</b> tokens" in out
    _no_listing(out, name)
    out = tab.compare("the price", name, "", "", "", True)  # the reference name too
    assert REFUSED in out
