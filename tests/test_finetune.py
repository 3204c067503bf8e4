"""pricer.pricers.chat.finetune: the course's OpenAI fine-tuning files, byte for byte, and the optional upload
(tested against a local HTTP server standing in for the OpenAI API)."""

from __future__ import annotations

import json

import pytest
from stand_in import JsonHandler, serving

from pricer.data.items import SYSTEM_PROMPT
from pricer.errors import BadInput, PricerError
from pricer.pricers.chat.finetune import export_fine_tuning, make_jsonl, messages_for

# The first line of the course's fine_tune_validation.jsonl (train item 500), as the course wrote it.
COURSE_VALIDATION_LINE_1 = (
    '{"messages": [{"role": "system", "content": "You estimate prices of items. Reply only with the price, no '
    'explanation"}, {"role": "user", "content": "How much does this cost?\\n\\nDEWALT 20v MAX* XR Brushless 1/2 '
    'Impact Wrench, Hog Ring (Bare)\\nINCLUDES (1) - 20V MAX* XR Brushless High Torque 1/2 Impact Wrench with Hog '
    'Ring Anvil (Tool Only)Up to 700 ft-lbs of max torque and 1200 ft-lbs of max breakaway torqueMax Torque '
    '(ft/lbs.) 20 V MAX* XR brushless high torque 1/2 In. impact wrench w. Hog ring anvil (Bare). Compact design '
    'of In. in length. LED light with 20 second delay for increased visibility. This refurbished product is '
    'tested and certified to look and work like new. The refurbishing process includes functionality testing, '
    'basic cleaning,"}, {"role": "assistant", "content": "Price is $390.61"}]}'
)


def test_messages_are_the_course_messages():
    train = "How much does this cost to the nearest dollar?\n\nMug\nA mug.\n\nPrice is $13.00"
    test = "How much does this cost to the nearest dollar?\n\nMug\nA mug.\n\nPrice is $"
    expected = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": "How much does this cost?\n\nMug\nA mug."},
                {"role": "assistant", "content": "Price is $12.50"}]
    assert messages_for(train, 12.5) == messages_for(test, 12.5) == expected
    assert messages_for(train, 3)[2]["content"] == "Price is $3.00"


def test_jsonl_lines_parse_and_the_last_has_no_newline():
    rows = [{"text": "How much does this cost to the nearest dollar?\n\nA 中文 😀\n\nPrice is $2.00", "price": 1.5}] * 3
    text = make_jsonl(rows)
    assert not text.endswith("\n") and text.count("\n") == 2
    assert all(json.loads(line)["messages"][1]["content"] == "How much does this cost?\n\nA 中文 😀"
               for line in text.split("\n"))
    assert "\\u4e2d\\u6587 \\ud83d\\ude00" in text  # json.dumps' ASCII escapes, as the course's files
    assert make_jsonl([]) == ""


def test_export_of_the_course_train_items_gives_the_course_files(tmp_path, train_550):
    line = export_fine_tuning(train_550, tmp_path)
    assert line.startswith("wrote 500 train and 50 validation items to")
    train = (tmp_path / "fine_tune_train.jsonl").read_bytes()
    validation = (tmp_path / "fine_tune_validation.jsonl").read_bytes()
    # The course's files (yeohyunsoo/llm-engineering@1387544, week6/) are 470,371 and 47,059 bytes.
    assert (len(train), len(validation)) == (470_371, 47_059)
    assert validation.decode().split("\n")[0] == COURSE_VALIDATION_LINE_1
    assert train.endswith(b'"Price is $233.00"}]}') and not validation.endswith(b"\n")
    source = [json.loads(x) for x in train_550.read_text().splitlines()]
    for i, text in enumerate(train.decode().split("\n") + validation.decode().split("\n")):
        messages = json.loads(text)["messages"]
        assert messages[2]["content"] == f"Price is ${source[i]['price']:.2f}"
        assert source[i]["text"].startswith(messages[1]["content"].replace("cost?", "cost to the nearest dollar?"))


def test_export_sizes_and_too_few_items(tmp_path, train_550):
    export_fine_tuning(train_550, tmp_path, train=3, validation=0)
    assert (tmp_path / "fine_tune_train.jsonl").read_text().count("\n") == 2
    assert not (tmp_path / "fine_tune_validation.jsonl").exists()
    with pytest.raises(BadInput, match="550 usable train items; 600 train"):
        export_fine_tuning(train_550, tmp_path, train=600)


def test_upload_without_key_or_package_says_so_and_keeps_the_files(tmp_path, train_550, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    line = export_fine_tuning(train_550, tmp_path, train=2, validation=1, upload=True)
    assert line.endswith("not uploaded: set OPENAI_API_KEY to upload")
    assert (tmp_path / "fine_tune_train.jsonl").exists()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setitem(__import__("sys").modules, "openai", None)  # as if not installed
    assert export_fine_tuning(train_550, tmp_path, train=2, validation=1, upload=True).endswith(
        "not uploaded: the openai package is not installed (pip install openai)")


class FakeOpenAI(JsonHandler):
    """POST /v1/files: records the request; answers like OpenAI (or with a 401 that quotes the key)."""

    requests: list = []
    reject = False
    garbage = False

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeOpenAI.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if FakeOpenAI.garbage:  # a 200 whose body is not JSON (a proxy's page, say)
            data = b"<html>Service temporarily unavailable</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if FakeOpenAI.reject:
            key = self.headers["Authorization"].removeprefix("Bearer ")
            reply, status = {"error": {"message": f"Incorrect API key provided: {key}. Also {key[:6]}***{key[-4:]}",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}}, 401
        else:
            n = len(FakeOpenAI.requests)
            reply, status = {"id": f"file-{n}", "object": "file", "bytes": len(body), "created_at": 0,
                             "filename": "f.jsonl", "purpose": "fine-tune", "status": "processed"}, 200
        self.send_json(status, reply)


@pytest.fixture
def fake_openai(monkeypatch):
    FakeOpenAI.requests, FakeOpenAI.reject, FakeOpenAI.garbage = [], False, False
    with serving(FakeOpenAI) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        yield FakeOpenAI


def test_upload_sends_both_files_for_fine_tuning(tmp_path, train_550, monkeypatch, fake_openai, capsys):
    key = "sk-proj-VerySecretKey0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    line = export_fine_tuning(train_550, tmp_path, train=4, validation=2, upload=True)
    assert line.endswith("uploaded as file-1, file-2") and key not in line
    assert [path for path, _, _ in fake_openai.requests] == ["/v1/files", "/v1/files"]
    for (_, headers, body), name in zip(fake_openai.requests, ("fine_tune_train.jsonl", "fine_tune_validation.jsonl"),
                                        strict=True):
        assert headers["authorization"] == f"Bearer {key}"
        assert b'name="purpose"\r\n\r\nfine-tune' in body
        assert (tmp_path / name).read_bytes() in body and f'filename="{name}"'.encode() in body
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err


def test_a_failed_upload_is_one_message_without_the_key(tmp_path, train_550, monkeypatch, fake_openai):
    key = "sk-proj-VerySecretKey0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    fake_openai.reject = True
    with pytest.raises(PricerError, match="files are written, but the upload to OpenAI failed") as exc:
        export_fine_tuning(train_550, tmp_path, train=4, validation=2, upload=True)
    assert key not in str(exc.value) and key[:6] + "***" not in str(exc.value) and key[-4:] not in str(exc.value)
    assert (tmp_path / "fine_tune_validation.jsonl").exists()


def test_an_upload_answered_with_something_not_json_is_one_message(tmp_path, train_550, monkeypatch, fake_openai):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-VerySecretKey0123456789abcdef")
    fake_openai.garbage = True
    with pytest.raises(PricerError, match="upload to OpenAI failed: .*not an uploaded file"):
        export_fine_tuning(train_550, tmp_path, train=4, validation=2, upload=True)
    assert (tmp_path / "fine_tune_train.jsonl").exists()


# --- nothing lost: one export's pair, whole --------------------------------------------------------


def test_an_export_without_validation_removes_the_previous_validation_file(tmp_path, train_550):
    export_fine_tuning(train_550, tmp_path, train=5, validation=2)
    line = export_fine_tuning(train_550, tmp_path, train=4, validation=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine_tune_train.jsonl"]  # no stale pair
    assert "removed the previous fine_tune_validation.jsonl" in line
    assert (tmp_path / "fine_tune_train.jsonl").read_text().count("\n") == 3


def test_an_interrupted_export_keeps_the_previous_pair(tmp_path, train_550, monkeypatch):
    from pricer.pricers.chat import finetune

    export_fine_tuning(train_550, tmp_path, train=5, validation=2)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []
    make = finetune.make_jsonl

    def dies_on_the_second_file(rows):  # a kill between the two files
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return make(rows)

    monkeypatch.setattr(finetune, "make_jsonl", dies_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        export_fine_tuning(train_550, tmp_path, train=7, validation=3)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old pair, no temporary files


def test_an_export_writes_through_a_symlink_and_refuses_a_fifo(tmp_path, train_550):
    import os

    (tmp_path / "store").mkdir()
    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "fine_tune_train.jsonl").symlink_to(tmp_path / "store" / "train.jsonl")
    export_fine_tuning(train_550, tmp_path / "ft", train=3, validation=1)
    assert (tmp_path / "ft" / "fine_tune_train.jsonl").is_symlink()
    assert (tmp_path / "store" / "train.jsonl").read_text().count("\n") == 2
    os.mkfifo(tmp_path / "ft" / "fine_tune_validation.jsonl.new")
    os.replace(tmp_path / "ft" / "fine_tune_validation.jsonl.new", tmp_path / "ft" / "fine_tune_validation.jsonl")
    with pytest.raises(BadInput, match="fine_tune_validation.jsonl is a FIFO"):
        export_fine_tuning(train_550, tmp_path / "ft", train=3, validation=1)
