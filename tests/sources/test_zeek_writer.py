"""The Zeek writer: headers exactly as Zeek writes them, values and escapes that round-trip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek_schema import LOGS, container_inner
from duqhunt.sources.net.zeek_writer import escape_zeek_string, write_zeek_json, write_zeek_tsv
from testsupport import fuzz_examples

# -- a small reference decoder with Zeek's ASCII reader semantics (independent of duqhunt's reader)


def _unescape(text: str) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
        elif text[i + 1] == "\\":
            out += b"\\"
            i += 2
        else:
            assert text[i + 1] == "x", f"bad escape in {text!r}"
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
    return out.decode("utf-8", "surrogateescape")


def _decode(raw: str, ztype: str) -> object:
    if raw == "-":
        return None
    if container_inner(ztype) is not None:
        return [] if raw == "(empty)" else [_unescape(e) for e in raw.split(",")]
    return "" if raw == "(empty)" else _unescape(raw)


def _read(path: Path) -> tuple[list[str], list[str], list[dict[str, object]], list[str]]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    header = [ln for ln in lines if ln.startswith("#")]
    fields = next(ln for ln in header if ln.startswith("#fields\t")).split("\t")[1:]
    types = next(ln for ln in header if ln.startswith("#types\t")).split("\t")[1:]
    rows = []
    for ln in lines:
        if ln.startswith("#"):
            continue
        cells = ln.split("\t")
        assert len(cells) == len(fields)
        rows.append({f: _decode(c, t) for f, t, c in zip(fields, types, cells, strict=True)})
    return fields, types, rows, header


# -- header ---------------------------------------------------------------------------------------


def test_header_is_exactly_zeeks(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    n = write_zeek_tsv(path, "conn", [{"ts": 1318550400.5, "uid": "C1"}], open_ts=1318550400.0)
    assert n == 1
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[:6] == [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#open\t2011-10-14-00-00-00",
    ]
    assert lines[6] == "#fields\t" + "\t".join(n for n, _ in LOGS["conn"])
    assert lines[7] == "#types\t" + "\t".join(t for _, t in LOGS["conn"])
    assert lines[8].startswith("1318550400.500000\tC1\t-\t")
    assert lines[9] == "#close\t2011-10-14-00-00-00"
    assert lines[10] == ""


def test_every_schema_log_writes_matching_fields_and_types(tmp_path: Path) -> None:
    for log_type in LOGS:
        path = tmp_path / f"{log_type}.log"
        write_zeek_tsv(path, log_type, [{"ts": 1.0}])
        fields, types, rows, _ = _read(path)
        assert len(fields) == len(types) == len(LOGS[log_type])
        assert len(rows) == 1


def test_field_subset_and_order(tmp_path: Path) -> None:
    fields = [n for n, _ in LOGS["conn"] if n != "ip_proto"]  # an old conn.log
    path = tmp_path / "conn.log"
    write_zeek_tsv(path, "conn", [{"ts": 2.0, "uid": "C9", "ip_proto": 6}], fields=fields)
    got_fields, types, rows, _ = _read(path)
    assert got_fields == fields
    assert "ip_proto" not in rows[0]
    write_zeek_tsv(path, "conn", [{"uid": "C9", "ts": 2.0}], fields=["uid", "ts"])
    got_fields, types, rows, _ = _read(path)
    assert (got_fields, types, rows) == (
        ["uid", "ts"],
        ["string", "time"],
        [{"uid": "C9", "ts": "2.000000"}],
    )


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown Zeek log type"):
        write_zeek_tsv(tmp_path / "x.log", "nope", [])
    with pytest.raises(UsageError, match="not in the conn schema"):
        write_zeek_tsv(tmp_path / "x.log", "conn", [], fields=["ts", "bogus"])
    with pytest.raises(UsageError, match="not in the conn schema"):
        write_zeek_json(tmp_path / "x.log", "conn", [], fields=["bogus"])


def test_open_and_close_default_to_row_times_never_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    write_zeek_tsv(path, "dns", [{"ts": 86400.0 * 2}, {"ts": 86400.0 * 3 + 61}])
    _, _, _, header = _read(path)
    assert "#open\t1970-01-03-00-00-00" in header
    assert header[-1] == "#close\t1970-01-04-00-01-01"
    assert write_zeek_tsv(path, "dns", []) == 0
    _, _, rows, header = _read(path)
    assert rows == [] and header[-1] == "#close\t1970-01-01-00-00-00"
    write_zeek_tsv(path, "dns", [{"ts": 5.0}], open_ts=0.0, close_ts=7200.0)
    assert _read(path)[3][-1] == "#close\t1970-01-01-02-00-00"


# -- values -----------------------------------------------------------------------------------------


def test_value_rendering(tmp_path: Path) -> None:
    row = {
        "ts": 1318550400.1234567,
        "uid": "C1",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 49152,
        "trans_depth": 1,
        "method": "",
        "host": None,
        "tags": [],
        "orig_fuids": ["Fa", "Fb"],
        "proxied": {"b", "a"},
    }
    path = tmp_path / "http.log"
    write_zeek_tsv(path, "http", [row])
    line = path.read_text(encoding="utf-8").split("\n")[8].split("\t")
    fields = [n for n, _ in LOGS["http"]]
    cell = dict(zip(fields, line, strict=True))
    assert cell["ts"] == "1318550400.123457"
    assert cell["id.orig_p"] == "49152"
    assert cell["method"] == "(empty)"  # empty string
    assert cell["host"] == "-"  # None
    assert cell["uri"] == "-"  # missing key
    assert cell["tags"] == "(empty)"  # empty set
    assert cell["orig_fuids"] == "Fa,Fb"
    assert cell["proxied"] == "a,b"  # a Python set is written in a stable order


def test_bools_and_intervals(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    write_zeek_tsv(
        path, "conn", [{"ts": 1, "duration": 0.5, "local_orig": True, "local_resp": False}]
    )
    _, _, rows, _ = _read(path)
    assert rows[0]["ts"] == "1.000000"
    assert rows[0]["duration"] == "0.500000"
    assert (rows[0]["local_orig"], rows[0]["local_resp"]) == ("T", "F")


def test_escapes_round_trip(tmp_path: Path) -> None:
    nasty = {
        "uri": "/a\tb\nc\\d",
        "host": "-",  # literally a dash, not unset
        "referrer": "(empty)",  # literally the empty marker
        "user_agent": "Mozilla\x00\x7f\x1b[31m caf\u00e9 \u2028 \x85",
        "username": b"\xff\xfeok".decode("utf-8", "surrogateescape"),
        "orig_filenames": ["a,b.jpg", "c\\d", "-", "tab\there"],
        "resp_mime_types": ["text/html"],
        "origin": "",
        "password": None,
    }
    path = tmp_path / "http.log"
    write_zeek_tsv(path, "http", [{"ts": 1.0, **nasty}])
    text = path.read_text(encoding="utf-8")
    data_line = text.split("\n")[8]
    assert "\\x09" in data_line and "\\x0a" in data_line and "\\\\" in data_line
    assert "a\\x2cb.jpg,c\\\\d,\\x2d,tab\\x09here" in data_line
    assert data_line.count("\t") == len(LOGS["http"]) - 1
    _, _, rows, _ = _read(path)
    for key, value in nasty.items():
        assert rows[0][key] == value, key


def test_bytes_values_are_escaped_bytewise(tmp_path: Path) -> None:
    path = tmp_path / "http.log"
    write_zeek_tsv(path, "http", [{"ts": 1.0, "uri": b"/x\x00\xc3\xa9\xff"}])
    assert "/x\\x00\u00e9\\xff" in path.read_text(encoding="utf-8")
    _, _, rows, _ = _read(path)
    assert rows[0]["uri"] == b"/x\x00\xc3\xa9\xff".decode("utf-8", "surrogateescape")


@settings(max_examples=fuzz_examples(150))
@given(text=st.text(max_size=40), elems=st.lists(st.text(min_size=1, max_size=12), max_size=5))
def test_escaping_round_trips_for_any_text(text: str, elems: list[str]) -> None:
    assert _decode(escape_zeek_string(text), "string") == text
    cell = ",".join(escape_zeek_string(e, in_container=True) for e in elems) or "(empty)"
    assert "\t" not in cell and "\n" not in cell
    assert _decode(cell, "vector[string]") == elems


# -- gzip and JSON ----------------------------------------------------------------------------------


def test_gzip_is_deterministic_and_equal_to_plain(tmp_path: Path) -> None:
    rows = [{"ts": float(i), "uid": f"C{i}", "query": f"host{i}.example"} for i in range(20_000)]
    a, b, plain = tmp_path / "a.log.gz", tmp_path / "b.log.gz", tmp_path / "p.log"
    assert write_zeek_tsv(a, "dns", rows, gzip=True) == 20_000
    write_zeek_tsv(b, "dns", iter(rows), gzip=True)
    write_zeek_tsv(plain, "dns", rows)
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()) == plain.read_bytes()


def test_json_lines(tmp_path: Path) -> None:
    rows = [
        {
            "ts": 1318550400.25,
            "uid": "C1",
            "id.orig_h": "10.0.0.1",
            "id.orig_p": 50000,
            "host": "example.com",
            "tags": [],
            "orig_mime_types": ["image/jpeg"],
            "status_code": 200,
            "username": None,
            "uri": b"/\xff".decode("utf-8", "surrogateescape"),
        }
    ]
    path = tmp_path / "http.log"
    assert write_zeek_json(path, "http", rows) == 1
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["ts"] == 1318550400.25
    assert obj["id.orig_h"] == "10.0.0.1" and obj["id.orig_p"] == 50000
    assert obj["tags"] == [] and obj["orig_mime_types"] == ["image/jpeg"]
    assert "username" not in obj and "referrer" not in obj
    assert obj["uri"] == "/\\xff"
    assert list(obj)[:4] == ["ts", "uid", "id.orig_h", "id.orig_p"]
    # compact, as Zeek's JSON writer writes a record: no space after ',' or ':'
    assert path.read_text(encoding="utf-8").startswith(
        '{"ts":1318550400.25,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":50000,'
    )
    gz = tmp_path / "http.log.gz"
    write_zeek_json(gz, "http", rows, gzip=True)
    assert gzip.decompress(gz.read_bytes()) == path.read_bytes()


def test_a_json_field_the_schema_does_not_know_gets_zeek_type_names() -> None:
    """A field outside the log's schema is typed from its JSON value with Zeek's type names
    (bool, int, double, vector[string], string), as a #types line would name them."""
    from duqhunt.sources.net.zeek_json import infer_ztype

    assert [infer_ztype(v) for v in (True, 5, 2.5, ["a"], "x", None)] == [
        "bool",
        "int",
        "double",
        "vector[string]",
        "string",
        "string",
    ]


def test_container_elements_are_written_as_their_own_type(tmp_path: Path) -> None:
    """Zeek writes each element of a set or vector as a value of the element type: dns.log's
    TTLs (vector[interval]) with six decimals, as a single interval would be."""
    path = tmp_path / "dns.log"
    row = {
        "ts": 1318550400.5,
        "uid": "D1",
        "answers": ["10.0.0.1", "a.example"],
        "TTLs": [30.0, 0.5],
    }
    write_zeek_tsv(path, "dns", [row], open_ts=1318550400.0)
    fields, _, _, _ = _read(path)
    line = next(ln for ln in path.read_text(encoding="utf-8").splitlines() if ln[:1] != "#")
    cells = dict(zip(fields, line.split("\t"), strict=True))
    assert cells["TTLs"] == "30.000000,0.500000"
    assert cells["answers"] == "10.0.0.1,a.example"
