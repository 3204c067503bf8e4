"""pricer.data.readers: the one JSONL reader (whole files, byte ranges, gzip, malformed lines reported
where they are) and the one CSV reader (header names normalised, blank rows skipped)."""

from __future__ import annotations

import gzip
import json

from pricer.data.readers import csv_records, csv_rows, jsonl_lines


def test_jsonl_lines_are_parsed_numbered_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \n[2, 3]\r\nnull\n{"b": "\xc3\xa9"}')  # CRLF and no final newline
    lines = list(jsonl_lines(path))
    assert [(line.number, line.record) for line in lines] == [(1, {"a": 1}), (4, [2, 3]), (5, None), (6, {"b": "é"})]
    assert all(line.error is None for line in lines)  # `null` is JSON: a caller decides it is no record
    assert lines[1].raw == b"[2, 3]\r\n"


def test_a_malformed_line_is_yielded_with_its_error_and_reading_goes_on(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{broken\n{"c": "\xff"}\n' + b"[" * 100_000 + b"\n" + b'{"d": 4}\n')
    lines = list(jsonl_lines(path))
    assert [line.record for line in lines] == [{"a": 1}, None, None, None, {"d": 4}]
    broken, not_utf8, too_deep = (line.error for line in lines[1:4])
    assert isinstance(broken, json.JSONDecodeError) and lines[1].number == 2
    assert isinstance(not_utf8, UnicodeDecodeError)
    assert isinstance(too_deep, (RecursionError, ValueError))


def test_byte_ranges_read_every_line_exactly_once(tmp_path):
    lines = [json.dumps({"i": i, "text": "é" * (i % 7)}) for i in range(200)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = path.stat().st_size
    for cuts in ([0, size], [0, 1, size], [0, 100, 101, 2000, size], list(range(0, size, 97)) + [size]):
        got = [line.record["i"] for a, b in zip(cuts, cuts[1:], strict=False) for line in jsonl_lines(path, a, b)]
        assert got == list(range(200)), cuts


def test_a_gzip_file_is_read_whole(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"a": 1}\n{"a": 2}\n')
    assert [line.record["a"] for line in jsonl_lines(path)] == [1, 2]


def test_csv_records_are_keyed_by_the_normalised_header(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("\ufeff Text ,PRICE\n\n\"a, with a comma\",1\nb\nc,3,extra\n", encoding="utf-8")
    assert list(csv_rows(path))[0] == [" Text ", "PRICE"]  # the byte-order mark is gone
    assert list(csv_records(path)) == [{"text": "a, with a comma", "price": "1"}, {"text": "b", "price": None},
                                       {"text": "c", "price": "3"}]


def test_a_tsv_file_is_split_on_tabs(tmp_path):
    path = tmp_path / "rows.tsv"
    path.write_text("text\tprice\na, b\t2\n", encoding="utf-8")
    assert list(csv_records(path)) == [{"text": "a, b", "price": "2"}]
