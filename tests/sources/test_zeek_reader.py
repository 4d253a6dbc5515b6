"""The Zeek reader: real logs, TSV and JSON features, compression, damage and limits.

Fixtures are built in code under ``tmp_path``; the real logs live in tests/data/zeek (see
tests/data/PROVENANCE.md). A test marked ``xfail(strict=True, reason="bug: ...")`` pins a known
bug in ``duqhunt.sources.net.zeek``: it fails today and must start passing when the bug is fixed.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from duqhunt.errors import InputError
from duqhunt.sources.net import zeek
from duqhunt.sources.net.zeek import ListSink, ZeekLog, guess_log_type, sniff
from duqhunt.sources.net.zeek_limits import MAX_WARNINGS_PER_FILE, Limits

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek" / "otrf_lsass_campaign_01"

# data lines (not starting with '#') in each real log, counted by hand with grep -vc '^#'
REAL_COUNTS = {
    "analyzer": 6,
    "conn": 112,
    "dns": 96,
    "files": 3,
    "http": 3,
    "kerberos": 10,
    "packet_filter": 1,
    "pe": 1,
    "smb_mapping": 1,
    "ssl": 5,
    "weird": 22,
    "x509": 1,
}

CONN_FIELDS: list[tuple[str, str]] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("orig_bytes", "count"),
    ("local_orig", "bool"),
    ("tunnel_parents", "set[string]"),
]
HEADER_LINES = 8  # #separator .. #types as written by zeek_tsv(); the first data row is line 9
T0 = 1318586400.0  # 2011-10-14T10:00:00Z


def zeek_tsv(
    fields: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[str]],
    *,
    path: str | None = "conn",
    close: bool = True,
    sep: str = "\t",
    set_sep: str = ",",
    empty: str = "(empty)",
    unset: str = "-",
) -> str:
    """A TSV log as Zeek's ASCII writer lays it out (meta lines use the separator too)."""
    esc_sep = "".join(f"\\x{ord(c):02x}" for c in sep)
    head = [
        f"#separator {esc_sep}",
        f"#set_separator{sep}{set_sep}",
        f"#empty_field{sep}{empty}",
        f"#unset_field{sep}{unset}",
        f"#path{sep}{path}" if path is not None else f"#comment{sep}no #path line",
        f"#open{sep}2011-10-14-10-00-00",
        "#fields" + sep + sep.join(n for n, _ in fields),
        "#types" + sep + sep.join(t for _, t in fields),
    ]
    body = [sep.join(r) for r in rows]
    tail = [f"#close{sep}2011-10-14-11-00-00"] if close else []
    return "\n".join(head + body + tail) + "\n"


def conn_row(i: int = 0, **over: str) -> list[str]:
    vals = {
        "ts": f"{T0 + i:.6f}",
        "uid": f"C{i}",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": str(40000 + i),
        "id.resp_h": "10.0.0.2",
        "id.resp_p": "80",
        "proto": "tcp",
        "service": "http",
        "orig_bytes": str(100 + i),
        "local_orig": "T",
        "tunnel_parents": "(empty)",
    }
    vals.update(over)
    return [vals[n] for n, _ in CONN_FIELDS]


def conn_log(n: int = 3, **kw: object) -> str:
    return zeek_tsv(CONN_FIELDS, [conn_row(i) for i in range(n)], **kw)  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def read(path: Path, limits: Limits | None = None) -> tuple[pa.Table, ZeekLog]:
    zlog = ZeekLog(path, limits)
    return zlog.read_table(), zlog


def _refuse_fast(self: ZeekLog, hdr: object) -> None:
    raise zeek._DirtyFile("forced by test")


@pytest.fixture
def exact_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every TSV file to the exact (line by line) path."""
    monkeypatch.setattr(ZeekLog, "_fast_tsv", _refuse_fast)


def assert_warns_at(zlog: ZeekLog, path: Path, line: int) -> None:
    """One warning names the file and the line."""
    warnings = zlog.stats.all_warnings()
    assert warnings, "expected a warning"
    assert all(str(path) in w for w in warnings), warnings
    assert any(re.search(rf"\bline {line}\b", w) for w in warnings), warnings


# ------------------------------------------------------------------------------------------
# real logs


@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_log_parses_every_row(name: str) -> None:
    path = REAL / f"{name}.log"
    raw = path.read_bytes().decode("utf-8").splitlines()
    data_lines = [ln for ln in raw if ln and not ln.startswith("#")]
    assert len(data_lines) == REAL_COUNTS[name]
    fields = next(ln for ln in raw if ln.startswith("#fields")).split("\t")[1:]

    table, zlog = read(path)

    assert zlog.fmt == "tsv"
    assert zlog.log_type == name
    assert table.num_rows == REAL_COUNTS[name]
    assert zlog.stats.rows == REAL_COUNTS[name]
    assert zlog.stats.skipped_rows == 0
    assert not zlog.stats.truncated
    assert zlog.stats.all_warnings() == []
    assert table.column_names == [f.replace(".", "_") for f in fields]
    assert table.schema.field("ts").type == pa.float64()


def test_real_log_values() -> None:
    conn, _ = read(REAL / "conn.log")
    first = conn.to_pylist()[0]
    # 1692161622.036086 Cnsu5m395zFmE9ikp4 192.168.1.41 52605 192.168.1.4 53 udp dns - - - SHR T T 0 ^d 0 0 1 62 -
    assert first["ts"] == pytest.approx(1692161622.036086)
    assert first["id_orig_p"] == 52605
    assert first["service"] == "dns"
    assert first["duration"] is None and first["orig_bytes"] is None
    assert first["local_orig"] is True
    assert first["tunnel_parents"] is None
    assert "ip_proto" not in conn.column_names  # old Zeek: the store's view adds it as NULL

    dns, _ = read(REAL / "dns.log")
    answered = [r for r in dns.to_pylist() if r["answers"]]
    assert answered[0]["answers"] == ["dc01.pandalab.com"]
    assert answered[0]["TTLs"] == [600.0]
    assert dns.schema.field("TTLs").type == pa.list_(pa.float64())

    http, _ = read(REAL / "http.log")
    row = http.to_pylist()[2]
    assert row["tags"] == []  # (empty) set
    assert row["resp_mime_types"] == ["application/x-dosexec"]
    assert row["status_code"] == 200

    x509, _ = read(REAL / "x509.log")  # unknown log type: types from #types, dots renamed
    assert x509.schema.field("certificate_version").type == pa.int64()
    assert x509.schema.field("certificate_not_valid_before").type == pa.float64()
    assert x509.schema.field("san_ip").type == pa.list_(pa.string())
    assert x509.schema.field("basic_constraints_ca").type == pa.bool_()


@pytest.mark.parametrize("name", ["conn", "dns", "http", "files", "ssl", "x509", "kerberos"])
def test_real_log_fast_and_exact_paths_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = read(REAL / f"{name}.log")
    monkeypatch.setattr(ZeekLog, "_fast_tsv", _refuse_fast)
    exact, zlog = read(REAL / f"{name}.log")
    assert zlog.stats.skipped_rows == 0
    assert exact.equals(fast)


# ------------------------------------------------------------------------------------------
# TSV features


def test_header_defaults_and_values(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, service="-", tunnel_parents="a,b")]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    hdr = zlog._header
    assert hdr is not None
    assert (hdr.separator, hdr.set_separator, hdr.empty_field, hdr.unset_field) == (
        "\t",
        ",",
        "(empty)",
        "-",
    )
    assert hdr.path == "conn"
    assert table.column("service").to_pylist() == ["http", None]


def test_custom_set_separator_empty_and_unset_markers(tmp_path: Path) -> None:
    rows = [
        conn_row(0, service="NIL", tunnel_parents="a;b;c"),
        conn_row(1, service="EMPTY", tunnel_parents="EMPTY", orig_bytes="NIL"),
        conn_row(2, service="-", tunnel_parents="a,b"),  # '-' is an ordinary value here
    ]
    text = zeek_tsv(CONN_FIELDS, rows, set_sep=";", empty="EMPTY", unset="NIL")
    p = write(tmp_path, "conn.log", text)
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    assert table.column("tunnel_parents").to_pylist() == [["a", "b", "c"], [], ["a,b"]]
    assert table.column("orig_bytes").to_pylist() == [100, None, 102]
    assert table.column("service").to_pylist()[0] is None
    assert table.column("service").to_pylist()[2] == "-"


def test_non_tab_separator(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, service="-", tunnel_parents="a,b")]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows, sep="|"))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0, zlog.stats.warnings
    assert table.column("service").to_pylist() == ["http", None]
    assert table.column("tunnel_parents").to_pylist() == [[], ["a", "b"]]


def test_unset_is_null_for_every_type(tmp_path: Path) -> None:
    row = conn_row(0)
    dashed = ["-"] * len(row)
    dashed[0] = row[0]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, [row, dashed]))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    second = table.to_pylist()[1]
    assert all(v is None for k, v in second.items() if k != "ts"), second


def test_empty_set_and_vector_are_empty_lists(tmp_path: Path) -> None:
    fields = [
        ("ts", "time"),
        ("names", "set[string]"),
        ("ttls", "vector[interval]"),
        ("n", "vector[count]"),
    ]
    rows = [
        [f"{T0}", "(empty)", "(empty)", "(empty)"],
        [f"{T0}", "a,b,c", "1.5,2", "1,2,3"],
        [f"{T0}", "-", "-", "-"],
    ]
    p = write(tmp_path, "custom.log", zeek_tsv(fields, rows, path="custom"))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    assert table.column("names").to_pylist() == [[], ["a", "b", "c"], None]
    assert table.column("ttls").to_pylist() == [[], [1.5, 2.0], None]
    assert table.column("n").to_pylist() == [[], [1, 2, 3], None]
    assert table.schema.field("ttls").type == pa.list_(pa.float64())
    assert table.schema.field("n").type == pa.list_(pa.int64())


def test_set_elements_with_escaped_separator(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "conn.log",
        zeek_tsv(CONN_FIELDS, [conn_row(0, tunnel_parents="x\\x2cy,z,a\\\\b")]),
    )
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    assert table.column("tunnel_parents").to_pylist() == [["x,y", "z", "a\\b"]]


def test_empty_string_and_escapes_exact_path(tmp_path: Path, exact_only: None) -> None:
    rows = [
        conn_row(0, service="(empty)"),
        conn_row(1, service="a\\x09b\\\\c"),
        conn_row(2, service="\\x2d"),  # a literal '-' is written escaped, so it is not unset
        conn_row(3, service="caf\\xc3\\xa9"),
    ]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    assert table.column("service").to_pylist() == ["", "a\tb\\c", "-", "café"]


def test_empty_string_and_escapes_fast_path(tmp_path: Path) -> None:
    rows = [
        conn_row(0, service="(empty)"),
        conn_row(1, service="a\\x09b\\\\c"),
        conn_row(2, service="\\x2d"),
    ]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    assert table.column("service").to_pylist() == ["", "a\tb\\c", "-"]


def test_bools_and_times(tmp_path: Path) -> None:
    rows = [
        conn_row(0, local_orig="T", ts="1318586400.123456"),
        conn_row(1, local_orig="F", ts="1318586401"),
        conn_row(2, local_orig="-"),
    ]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, _ = read(p)
    assert table.column("local_orig").to_pylist() == [True, False, None]
    assert table.schema.field("ts").type == pa.float64()
    assert table.column("ts").to_pylist()[:2] == [pytest.approx(1318586400.123456), 1318586401.0]


def test_dotted_names_become_underscores(tmp_path: Path) -> None:
    fields = [
        ("ts", "time"),
        ("id.orig_h", "addr"),
        ("san.dns", "vector[string]"),
        ("a.b.c", "count"),
    ]
    p = write(
        tmp_path, "thing.log", zeek_tsv(fields, [[f"{T0}", "1.2.3.4", "x,y", "7"]], path="thing")
    )
    table, _ = read(p)
    assert table.column_names == ["ts", "id_orig_h", "san_dns", "a_b_c"]
    assert table.to_pylist() == [
        {"ts": T0, "id_orig_h": "1.2.3.4", "san_dns": ["x", "y"], "a_b_c": 7}
    ]


def test_unknown_log_type_keeps_its_own_types(tmp_path: Path) -> None:
    fields = [
        ("ts", "time"),
        ("n", "count"),
        ("i", "int"),
        ("d", "double"),
        ("dur", "interval"),
        ("ok", "bool"),
        ("p", "port"),
        ("net", "subnet"),
        ("tags", "set[enum]"),
        ("weird", "table[string]"),
        ("whatever", "some_future_type"),
    ]
    row = [f"{T0}", "5", "-3", "2.5", "0.25", "F", "443", "10.0.0.0/8", "a,b", "k", "opaque"]
    p = write(tmp_path, "mylog.log", zeek_tsv(fields, [row], path="my_log"))
    table, zlog = read(p)
    assert zlog.log_type == "my_log"
    s = table.schema
    assert [s.field(n).type for n in table.column_names] == [
        pa.float64(),
        pa.int64(),
        pa.int64(),
        pa.float64(),
        pa.float64(),
        pa.bool_(),
        pa.int64(),
        pa.string(),
        pa.list_(pa.string()),
        pa.list_(pa.string()),
        pa.string(),
    ]
    assert table.to_pylist()[0]["i"] == -3
    assert table.to_pylist()[0]["whatever"] == "opaque"


def test_known_log_uses_schema_map_types(tmp_path: Path) -> None:
    # a header that calls orig_bytes a string: the schema map's count wins
    fields = [(n, "string" if n == "orig_bytes" else t) for n, t in CONN_FIELDS]
    p = write(tmp_path, "conn.log", zeek_tsv(fields, [conn_row(0)]))
    table, _ = read(p)
    assert table.schema.field("orig_bytes").type == pa.int64()


def test_log_type_from_path_header_over_file_name(tmp_path: Path) -> None:
    p = write(tmp_path, "whatever_2024.log", conn_log(2))
    _, zlog = read(p)
    assert zlog.log_type == "conn"


def test_close_and_second_header_block(tmp_path: Path) -> None:
    # `cat a.log b.log`: two complete logs, each with its header and #close
    text = conn_log(3) + conn_log(2)
    p = write(tmp_path, "conn.log", text)
    table, zlog = read(p)
    assert table.num_rows == 5
    assert zlog.stats.skipped_rows == 0
    assert zlog.stats.all_warnings() == []


def test_second_header_block_line_numbers(tmp_path: Path) -> None:
    # a bad row after the second header is reported at its physical line
    second = zeek_tsv(CONN_FIELDS, [conn_row(7), conn_row(8, orig_bytes="nope")])
    p = write(tmp_path, "conn.log", conn_log(3) + second)
    table, zlog = read(p)
    assert table.num_rows == 4
    assert zlog.stats.skipped_rows == 1
    bad_line = HEADER_LINES + 3 + 1 + HEADER_LINES + 2  # 3 rows, #close, header, 2nd row
    assert_warns_at(zlog, p, bad_line)


def test_second_header_block_with_other_fields(tmp_path: Path) -> None:
    # the second log has its columns in another order (and one more): values must follow it
    other = [CONN_FIELDS[0], CONN_FIELDS[6], *CONN_FIELDS[2:6], CONN_FIELDS[1], *CONN_FIELDS[7:]]
    other.append(("ip_proto", "count"))
    row = dict(zip([n for n, _ in CONN_FIELDS], conn_row(9), strict=True))
    row.update({"uid": "C9", "proto": "udp", "ip_proto": "17"})
    second = zeek_tsv(other, [[row[n] for n, _ in other]])
    p = write(tmp_path, "conn.log", conn_log(2) + second)
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0, zlog.stats.warnings
    last = table.to_pylist()[-1]
    assert (last["uid"], last["proto"]) == ("C9", "udp")


# ------------------------------------------------------------------------------------------
# JSON lines


def json_log(rows: Sequence[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_json_epoch_and_iso_times(tmp_path: Path) -> None:
    rows = [
        {"ts": T0 + 0.5, "uid": "C1", "id.orig_h": "10.0.0.1", "id.orig_p": 1234, "orig_bytes": 10},
        {"ts": "2011-10-14T10:00:00.123Z", "uid": "C2", "id.orig_h": "10.0.0.1", "id.orig_p": 1235},
        {"ts": "2011-10-14T12:00:00+02:00", "uid": "C3"},
    ]
    p = write(tmp_path, "conn.log", json_log(rows))
    table, zlog = read(p)
    assert zlog.fmt == "json"
    assert zlog.log_type == "conn"
    assert zlog.stats.skipped_rows == 0
    assert table.schema.field("ts").type == pa.float64()
    assert table.column("ts").to_pylist() == [
        pytest.approx(T0 + 0.5),
        pytest.approx(T0 + 0.123),
        pytest.approx(T0),
    ]
    assert table.column("id_orig_p").to_pylist() == [1234, 1235, None]
    assert table.schema.field("orig_bytes").type == pa.int64()
    assert table.column("orig_bytes").to_pylist() == [10, None, None]


def test_json_streaming_path_and_write_ts(tmp_path: Path) -> None:
    rows = [
        {
            "_path": "dns",
            "_write_ts": "2011-10-14T10:00:01.000000Z",
            "ts": T0,
            "query": "a.example",
            "answers": ["1.2.3.4", "5.6.7.8"],
            "TTLs": [60, 60.5],
            "AA": True,
        },
        {
            "_path": "dns",
            "_write_ts": "2011-10-14T10:00:02.000000Z",
            "_system_name": "sensor1",
            "ts": T0 + 1,
            "query": "b.example",
            "AA": False,
        },
    ]
    p = write(tmp_path, "corelight-stream.json", json_log(rows))
    table, zlog = read(p)
    assert zlog.log_type == "dns"
    assert "_write_ts" not in table.column_names
    assert "_path" not in table.column_names
    assert "_system_name" not in table.column_names
    assert table.column("answers").to_pylist() == [["1.2.3.4", "5.6.7.8"], None]
    assert table.column("TTLs").to_pylist() == [[60.0, 60.5], None]
    assert table.column("AA").to_pylist() == [True, False]


def test_json_nested_and_unknown_fields(tmp_path: Path) -> None:
    rows = [
        {
            "ts": T0,
            "uid": "C1",
            "extra_count": 3,
            "extra_flag": True,
            "extra_list": ["a", 1],
            "nested": {"b": 2, "a": [1, 2]},
        },
        {"ts": T0 + 1, "uid": "C2", "late_field": "x"},
    ]
    p = write(tmp_path, "conn.log", json_log(rows))
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 0
    first, second = table.to_pylist()
    assert first["extra_count"] == 3
    assert first["extra_flag"] is True
    assert first["extra_list"] == ["a", "1"]
    assert json.loads(first["nested"]) == {"a": [1, 2], "b": 2}
    assert first["late_field"] is None
    assert second["late_field"] == "x"
    assert second["extra_count"] is None


def test_json_bad_line_skipped_with_line_number(tmp_path: Path) -> None:
    text = (
        json.dumps({"ts": T0, "uid": "C1"})
        + "\n"
        + '{"ts": 1318586401, "uid": \n'
        + "\n"
        + json.dumps(["not", "an", "object"])
        + "\n"
        + json.dumps({"ts": T0 + 3, "uid": "C4", "orig_bytes": "many"})
        + "\n"
        + json.dumps({"ts": T0 + 4, "uid": "C5"})
        + "\n"
    )
    p = write(tmp_path, "conn.json", text)
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C1", "C5"]
    assert zlog.stats.skipped_rows == 3
    assert_warns_at(zlog, p, 2)
    assert_warns_at(zlog, p, 4)
    assert_warns_at(zlog, p, 5)


def test_json_gz(tmp_path: Path) -> None:
    rows = [{"_path": "http", "ts": T0 + i, "uid": f"C{i}", "status_code": 200} for i in range(50)]
    p = write(tmp_path, "http_20111014.json.gz", gzip.compress(json_log(rows).encode()))
    table, zlog = read(p)
    assert (zlog.fmt, zlog.log_type, table.num_rows) == ("json", "http", 50)


def test_json_huge_line_skipped(tmp_path: Path) -> None:
    rows = [{"ts": T0, "uid": "C1"}, {"ts": T0, "uid": "X" * 20_000}, {"ts": T0, "uid": "C3"}]
    p = write(tmp_path, "conn.json", json_log(rows))
    table, zlog = read(p, Limits(max_line_bytes=4096))
    assert table.column("uid").to_pylist() == ["C1", "C3"]
    assert zlog.stats.skipped_rows == 1
    assert_warns_at(zlog, p, 2)


@pytest.mark.parametrize("where", ["first", "later"])
def test_json_deep_nesting_is_a_bad_row(tmp_path: Path, where: str) -> None:
    deep = '{"ts": 1318586400, "a": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    good = json.dumps({"ts": T0, "uid": "C1"}) + "\n"
    text = deep + good if where == "first" else good + deep + good
    p = write(tmp_path, "conn.json", text)
    table, zlog = read(p)
    assert zlog.stats.skipped_rows == 1
    assert table.num_rows == (1 if where == "first" else 2)


def test_json_line_that_is_not_an_object_is_a_bad_row_and_says_so(tmp_path: Path) -> None:
    """Zeek's JSON logs hold one object per line; an array, a string or a number on a line is
    no row: skipped, and the warning names the file, the line and what was wrong."""
    text = "\n".join(
        [json.dumps({"ts": T0, "uid": "C1"}), "[1, 2]", '"text"', "7", json.dumps({"ts": T0})]
    )
    p = write(tmp_path, "conn.json", text + "\n")
    table, zlog = read(p)
    assert table.num_rows == 2
    assert zlog.stats.skipped_rows == 3
    for line in (2, 3, 4):
        assert any(
            f"line {line}:" in w and "not an object" in w for w in zlog.stats.all_warnings()
        ), (line, zlog.stats.all_warnings())


def test_json_out_of_range_count_skips_only_its_row(tmp_path: Path) -> None:
    rows = [
        {"_path": "conn", "ts": T0, "orig_bytes": 5},
        {"_path": "conn", "ts": T0 + 1, "orig_bytes": 2**64 - 1},
        {"_path": "conn", "ts": T0 + 2, "orig_bytes": 6},
    ]
    p = write(tmp_path, "conn.json", json_log(rows))
    table, zlog = read(p)
    assert table.column("orig_bytes").to_pylist() == [5, 6]
    assert zlog.stats.skipped_rows == 1
    assert_warns_at(zlog, p, 2)


# ------------------------------------------------------------------------------------------
# compression and file names


def test_plain_and_gz_read_the_same(tmp_path: Path) -> None:
    text = conn_log(500)
    plain, zp = read(write(tmp_path, "conn.log", text))
    packed, zg = read(write(tmp_path, "conn.log.gz", gzip.compress(text.encode())))
    assert plain.num_rows == 500
    assert packed.equals(plain)
    assert zp.stats.all_warnings() == [] and zg.stats.all_warnings() == []


def test_two_member_gz_split_mid_line(tmp_path: Path) -> None:
    data = conn_log(200).encode()
    cut = len(data) // 2 + 5
    p = write(tmp_path, "conn.log.gz", gzip.compress(data[:cut]) + gzip.compress(data[cut:]))
    table, zlog = read(p)
    assert table.num_rows == 200
    assert zlog.stats.all_warnings() == []


def test_gz_with_trailing_zero_padding(tmp_path: Path) -> None:
    p = write(tmp_path, "conn.log.gz", gzip.compress(conn_log(10).encode()) + b"\0" * 1024)
    table, zlog = read(p)
    assert table.num_rows == 10
    assert not zlog.stats.truncated


@pytest.mark.parametrize("members", [3, 40])
def test_many_member_gz(tmp_path: Path, members: int) -> None:
    data = conn_log(2000).encode()
    step = -(-len(data) // members)
    blob = b"".join(gzip.compress(data[i : i + step]) for i in range(0, len(data), step))
    p = write(tmp_path, "conn.log.gz", blob)
    table, zlog = read(p)
    assert table.num_rows == 2000
    assert zlog.stats.skipped_rows == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("conn.log", "conn"),
        ("conn.log.gz", "conn"),
        ("conn.00:00:00-01:00:00.log.gz", "conn"),
        ("dns.2011-10-14-10-00-00.log", "dns"),
        ("dns_20240101.log", "dns"),
        ("smb_files.log", "smb_files"),
        ("dce_rpc.12:00:00-13:00:00.log.gz", "dce_rpc"),
        ("x509.log", "x509"),
        ("HTTP.json", "http"),
        ("ssl.ndjson", "ssl"),
    ],
)
def test_guess_log_type(name: str, expected: str) -> None:
    assert guess_log_type(Path(name)) == expected


def test_rotated_gz_without_path_header(tmp_path: Path) -> None:
    text = zeek_tsv(CONN_FIELDS, [conn_row(i) for i in range(4)], path=None)
    p = write(tmp_path, "conn.00:00:00-01:00:00.log.gz", gzip.compress(text.encode()))
    table, zlog = read(p)
    assert zlog.log_type == "conn"
    assert table.num_rows == 4
    assert table.schema.field("orig_bytes").type == pa.int64()


def test_sniff(tmp_path: Path) -> None:
    assert sniff(write(tmp_path, "a.log", conn_log(1))) == "tsv"
    assert sniff(write(tmp_path, "b.log.gz", gzip.compress(conn_log(1).encode()))) == "tsv"
    assert sniff(write(tmp_path, "c.json", '{"ts": 1}\n')) == "json"
    assert sniff(write(tmp_path, "d.txt", "hello\n")) is None


# ------------------------------------------------------------------------------------------
# bad input: each warning names the file and the line


def test_truncated_gz_keeps_rows_before_the_damage(tmp_path: Path) -> None:
    text = conn_log(20_000)
    packed = gzip.compress(text.encode(), compresslevel=6)
    cut = packed[: len(packed) // 2]
    # what a careful reader can recover: every complete line of the decompressible prefix
    prefix = zlib.decompressobj(wbits=31).decompress(cut)
    complete = prefix[: prefix.rfind(b"\n") + 1].decode().splitlines()
    expected_rows = sum(1 for ln in complete if not ln.startswith("#"))
    assert 0 < expected_rows < 20_000

    p = write(tmp_path, "conn.log.gz", cut)
    table, zlog = read(p)
    assert zlog.stats.truncated
    assert table.num_rows == zlog.stats.rows == expected_rows
    assert table.column("uid").to_pylist()[-1] == f"C{expected_rows - 1}"
    assert_warns_at(zlog, p, len(complete))
    assert "truncated" in " ".join(zlog.stats.all_warnings())


def test_corrupt_gz_middle(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(conn_log(20_000).encode()))
    mid = len(packed) // 2
    packed[mid : mid + 64] = b"\xff" * 64
    p = write(tmp_path, "conn.log.gz", bytes(packed))
    table, zlog = read(p)
    assert zlog.stats.truncated
    assert 0 < table.num_rows < 20_000
    assert all(str(p) in w for w in zlog.stats.all_warnings())


def test_wrong_field_count(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1)[:-2], [*conn_row(2), "extra"], conn_row(3)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C3"]
    assert zlog.stats.skipped_rows == 2
    assert_warns_at(zlog, p, HEADER_LINES + 2)
    assert_warns_at(zlog, p, HEADER_LINES + 3)


def test_bad_escape_in_a_set(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, tunnel_parents="a,b\\qc"), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)
    assert "escape" in zlog.stats.warnings[0]


def test_bad_escape_in_a_string_exact_path(tmp_path: Path, exact_only: None) -> None:
    rows = [conn_row(0), conn_row(1, service="ht\\qtp"), conn_row(2, service="x\\x4")]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)
    assert_warns_at(zlog, p, HEADER_LINES + 3)


def test_bad_escape_in_a_string(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, service="ht\\qtp"), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)


@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", "", "T", "12abc"])
def test_non_numeric_count(tmp_path: Path, value: str) -> None:
    rows = [conn_row(0), conn_row(1, orig_bytes=value), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert zlog.stats.skipped_rows == 1
    assert_warns_at(zlog, p, HEADER_LINES + 2)


@pytest.mark.parametrize("value", ["yes", "t", "1"])
def test_bad_bool(tmp_path: Path, value: str) -> None:
    rows = [conn_row(0), conn_row(1, local_orig=value)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.num_rows == 1
    assert_warns_at(zlog, p, HEADER_LINES + 2)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("orig_bytes", "18446744073709551615"),  # a uint64 Zeek count beyond int64
        ("orig_bytes", "1_000"),
        ("orig_bytes", "+5"),
        ("orig_bytes", "30\x0b"),  # int() strips the vertical tab; found by the fuzzer
        ("orig_bytes", "\u0663"),  # ARABIC-INDIC DIGIT THREE
        ("ts", "1_318_586_400.0"),
    ],
)
def test_numeric_values_python_accepts_but_arrow_does_not(
    tmp_path: Path, column: str, value: str
) -> None:
    rows = [conn_row(0), conn_row(1, **{column: value}), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)  # must not raise: the row is skipped with a warning
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)


def test_non_utf8_bytes_in_a_row(tmp_path: Path) -> None:
    text = conn_log(3)
    lines = text.encode().split(b"\n")
    lines[HEADER_LINES] = lines[HEADER_LINES].replace(b"http", b"ht\xff\xfetp")  # line 9
    p = write(tmp_path, "conn.log", b"\n".join(lines))
    table, zlog = read(p)
    assert table.num_rows == 2
    assert zlog.stats.skipped_rows == 1
    assert_warns_at(zlog, p, HEADER_LINES + 1)
    assert "UTF-8" in zlog.stats.warnings[0]


def test_missing_fields_line(tmp_path: Path) -> None:
    text = "\n".join(ln for ln in conn_log(2).splitlines() if not ln.startswith("#fields")) + "\n"
    p = write(tmp_path, "conn.log", text)
    with pytest.raises(InputError) as info:
        ZeekLog(p)
    assert info.value.path == str(p)
    assert str(p) in str(info.value)
    assert "#fields" in str(info.value)


def test_types_and_fields_disagree(tmp_path: Path) -> None:
    text = conn_log(1).replace("\tset[string]\n", "\n")
    p = write(tmp_path, "conn.log", text)
    with pytest.raises(InputError) as info:
        ZeekLog(p)
    assert info.value.path == str(p)
    assert info.value.line == HEADER_LINES


def test_tsv_with_a_damaged_first_byte_is_not_json(tmp_path: Path) -> None:
    p = write(tmp_path, "conn.log", "{" + conn_log(12)[1:])
    try:
        zlog = ZeekLog(p)
    except InputError as exc:
        assert exc.path == str(p)
        return
    zlog.read_table()
    assert zlog.stats.rows + zlog.stats.skipped_rows <= 12 + 1, zlog.stats.all_warnings()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_non_utf8_row_with_wrong_field_count(tmp_path: Path) -> None:
    # pyarrow cannot hand such a row to the invalid-row handler (it decodes it to str first);
    # the file must still go to the exact path and lose only that row
    lines = conn_log(3).encode().split(b"\n")
    lines[HEADER_LINES + 1] = b"1318586400.0\tC\xb6x"
    p = write(tmp_path, "conn.log", b"\n".join(lines))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        b"ts,uid\n1,2\n",
        gzip.compress(b"just text in a gzip\n", mtime=0),
    ],
    ids=["text", "png", "csv", "gz-text"],
)
def test_not_a_zeek_log(tmp_path: Path, data: bytes) -> None:
    p = write(tmp_path, "conn.log", data)
    with pytest.raises(InputError) as info:
        ZeekLog(p)
    assert info.value.path == str(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("data", [b"", gzip.compress(b"", mtime=0)], ids=["plain", "gz"])
def test_empty_file_is_not_analysed_with_a_clear_reason(tmp_path: Path, data: bytes) -> None:
    # decided: a file with no log in it is listed as not analysed, "nothing to analyse"
    p = write(tmp_path, "conn.log", data)
    with pytest.raises(InputError) as info:
        ZeekLog(p)
    assert info.value.path == str(p)
    assert "empty" in info.value.reason or "not a Zeek log" in info.value.reason


@pytest.mark.parametrize("close", [True, False])
def test_header_only(tmp_path: Path, close: bool) -> None:
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, [], close=close))
    table, zlog = read(p)
    assert table.num_rows == 0
    assert zlog.stats.rows == 0 and zlog.stats.skipped_rows == 0
    assert zlog.stats.all_warnings() == []


def test_warnings_are_capped(tmp_path: Path) -> None:
    rows = [conn_row(i, orig_bytes="x") for i in range(50)] + [conn_row(99)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.num_rows == 1
    assert zlog.stats.skipped_rows == 50
    warnings = zlog.stats.all_warnings()
    assert len(warnings) == MAX_WARNINGS_PER_FILE + 1
    assert "30 more warnings" in warnings[-1]
    assert all(str(p) in w for w in warnings)


# ------------------------------------------------------------------------------------------
# limits


class CountSink:
    """Counts rows and keeps nothing, so memory reflects the reader alone."""

    def __init__(self) -> None:
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows

    def reset(self) -> None:
        self.rows = 0


def _gz_bomb(path: Path, head: bytes, chunk: bytes, total: int) -> None:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        fh.write(co.compress(head))
        for _ in range(total // len(chunk)):
            fh.write(co.compress(chunk))
        fh.write(co.flush())


def test_gz_bomb_of_rows_stops_on_ratio(tmp_path: Path) -> None:
    head = zeek_tsv(CONN_FIELDS, [], close=False).encode()
    line = "\t".join(conn_row(1)).encode() + b"\n"
    p = tmp_path / "conn.log.gz"
    _gz_bomb(p, head, line * ((1 << 20) // len(line)), 300 << 20)
    assert p.stat().st_size < 2 << 20
    zlog = ZeekLog(p, Limits(ratio_floor_bytes=1 << 20, max_ratio=50))
    sink = CountSink()
    stats = zlog.read_into(sink)
    assert stats.truncated
    assert 0 < sink.rows < (300 << 20) // len(line) // 4
    assert any("ratio" in w and str(p) in w for w in stats.all_warnings())


_BOMB_SCRIPT = """
import resource, sys
from pathlib import Path
from duqhunt.sources.net.zeek_limits import Limits
from duqhunt.sources.net.zeek import ZeekLog
class Sink:
    rows = 0
    def write(self, t): self.rows += t.num_rows
    def reset(self): self.rows = 0
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
z = ZeekLog(Path(sys.argv[1]), Limits(ratio_floor_bytes=1 << 20, max_ratio=50))
stats = z.read_into(Sink())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024, int(stats.truncated), len(stats.all_warnings()))
"""


def test_gz_bomb_of_zeros_stops_in_little_memory(tmp_path: Path) -> None:
    head = zeek_tsv(CONN_FIELDS, [], close=False).encode()
    p = tmp_path / "conn.log.gz"
    _gz_bomb(p, head, b"\0" * (1 << 20), 300 << 20)
    assert p.stat().st_size < 1 << 20
    out = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT, str(p)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    grown_mb, truncated, n_warnings = map(int, out.stdout.split())
    assert truncated == 1
    assert n_warnings >= 1
    assert grown_mb < 100, f"peak RSS grew by {grown_mb} MB reading a 300 MB bomb"
    assert str(p) in out.stderr  # the warning is logged with the file name


def test_huge_line_skipped_exact_path(tmp_path: Path, exact_only: None) -> None:
    rows = [conn_row(0), conn_row(1, service="x" * 20_000), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p, Limits(max_line_bytes=4096))
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)


def test_huge_line_skipped(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, service="x" * 20_000), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p, Limits(max_line_bytes=4096))
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert_warns_at(zlog, p, HEADER_LINES + 2)


def test_line_longer_than_a_read_chunk_is_skipped(tmp_path: Path) -> None:
    rows = [conn_row(0), conn_row(1, service="x" * (3 << 20)), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p, Limits(max_line_bytes=4096))
    assert table.column("uid").to_pylist() == ["C0", "C2"]
    assert zlog.stats.skipped_rows == 1
    assert_warns_at(zlog, p, HEADER_LINES + 2)


def test_line_longer_than_a_read_chunk_stops_with_warning(tmp_path: Path) -> None:
    # what happens today: no crash, the rows before are kept and the warning names the file
    rows = [conn_row(0), conn_row(1, service="x" * (3 << 20)), conn_row(2)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p, Limits(max_line_bytes=4096))
    assert table.column("uid").to_pylist()[:1] == ["C0"]
    assert all(str(p) in w for w in zlog.stats.all_warnings())
    assert zlog.stats.all_warnings()


def test_too_many_header_lines(tmp_path: Path) -> None:
    text = "#separator \\x09\n" + "#comment\tx\n" * 100 + conn_log(1)
    p = write(tmp_path, "conn.log", text)
    with pytest.raises(InputError) as info:
        ZeekLog(p, Limits(max_header_lines=64))
    assert info.value.path == str(p)


@pytest.mark.parametrize("force_exact", [False, True])
def test_small_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force_exact: bool) -> None:
    if force_exact:
        monkeypatch.setattr(ZeekLog, "_fast_tsv", _refuse_fast)
    p = write(tmp_path, "conn.log", conn_log(1000))
    zlog = ZeekLog(p, Limits(batch_rows=128))
    sink = ListSink()
    zlog.read_into(sink)
    assert sum(t.num_rows for t in sink.tables) == 1000
    if force_exact:  # the fast path yields whole CSV blocks; batch_rows is a lower bound there
        assert len(sink.tables) == 8
    assert sink.table().column("uid").to_pylist() == [f"C{i}" for i in range(1000)]


def test_json_small_batches_with_a_late_field(tmp_path: Path) -> None:
    rows = [{"ts": T0 + i, "uid": f"C{i}"} for i in range(5)]
    rows[4]["service"] = "dns"
    p = write(tmp_path, "conn.json", json_log(rows))
    table, _ = read(p, Limits(batch_rows=2))
    assert table.num_rows == 5
    assert table.column("service").to_pylist() == [None] * 4 + ["dns"]


# Escapes as Zeek's ASCII writer writes them (zeek/src/threading/formatters/Ascii.cc and the
# logging framework docs): a separator, a backslash or a non-printable byte inside a value is
# written as \xHH (a backslash itself also as \\); a string value that would read as the unset
# ("-") or empty ("(empty)") marker has its first character escaped; an empty string is
# "(empty)", an unset value "-"; set elements are joined by the set separator, each escaped on
# its own. Decoding is one left-to-right pass: an escape's output is never decoded again.
ESCAPED_STRINGS = [
    ("\\\\x41", "\\x41"),  # an escaped backslash followed by 'x41', not 'A'
    ("\\x5cx41", "\\x41"),  # \x5c is a backslash; the 'x41' after it stays text
    ("\\x5c\\x5c", "\\\\"),
    ("\\x28empty)", "(empty)"),  # the literal text "(empty)", not an empty string
    ("\\x2D", "-"),  # the literal text "-" (upper-case hex), not unset
    ("(empty)", ""),
    ("-", None),
    ("tab\\x09and\\x0anewline", "tab\tand\nnewline"),
]


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_string_escapes_per_the_zeek_ascii_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    if path == "exact":
        monkeypatch.setattr(ZeekLog, "_fast_tsv", _refuse_fast)
    rows = [conn_row(i, service=raw) for i, (raw, _) in enumerate(ESCAPED_STRINGS)]
    table, zlog = read(write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows)))
    assert zlog.stats.skipped_rows == 0, zlog.stats.warnings
    assert table.column("service").to_pylist() == [want for _, want in ESCAPED_STRINGS]


ESCAPED_SETS = [
    ("a\\x2cb,c", ["a,b", "c"]),  # an escaped set separator stays inside its element
    ("\\x2d,x", ["-", "x"]),  # an element "-" is text, not unset
    ("\\x28empty)", ["(empty)"]),  # one element that reads "(empty)", not an empty set
    ("c\\\\,d", ["c\\", "d"]),  # an element ending in an escaped backslash
    ("(empty)", []),
    ("-", None),
]


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_set_escapes_per_the_zeek_ascii_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    if path == "exact":
        monkeypatch.setattr(ZeekLog, "_fast_tsv", _refuse_fast)
    rows = [conn_row(i, tunnel_parents=raw) for i, (raw, _) in enumerate(ESCAPED_SETS)]
    table, zlog = read(write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows)))
    assert zlog.stats.skipped_rows == 0, zlog.stats.warnings
    assert table.column("tunnel_parents").to_pylist() == [want for _, want in ESCAPED_SETS]


def test_implausible_ts_rows_are_skipped_with_their_line(tmp_path: Path) -> None:
    """A row whose ts is before 1990 (here one day after the epoch: a zeroed clock) is no row of
    a capture: it is skipped with its line and the reason, and the other rows are kept. The
    file is otherwise clean, so this is found after the fast reader converted it."""
    rows = [conn_row(0), conn_row(1), conn_row(2, ts="86400.000000"), conn_row(3)]
    p = write(tmp_path, "conn.log", zeek_tsv(CONN_FIELDS, rows))
    table, zlog = read(p)
    assert table.column("uid").to_pylist() == ["C0", "C1", "C3"]
    assert zlog.stats.skipped_rows == 1
    head = sum(1 for ln in p.read_text().splitlines() if ln.startswith("#") and "#close" not in ln)
    assert_warns_at(zlog, p, head + 3)
    assert any("outside the plausible span" in w for w in zlog.stats.all_warnings())


class _FractionSink(ListSink):
    """Notes, at every table the reader hands over, how far the reader says it has got."""

    def __init__(self, zlog: ZeekLog) -> None:
        super().__init__()
        self.zlog = zlog
        self.seen: list[float | None] = []

    def write(self, table: pa.Table) -> None:
        super().write(table)
        self.seen.append(self.zlog.meter.fraction())


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_read_meter_counts_the_file_bytes_read_inside_one_big_log(
    tmp_path: Path, exact_only: None, compressed: bool
) -> None:
    """Progress inside one file: the meter counts the bytes of the file the reader has taken
    (the compressed bytes of a gzip log: a 1.3 MB log whose uids do not compress is about
    more than one of the stream's 256 KiB reads), so it moves between the tables of a big log, never
    back, and stands at the whole file when the log is read."""
    rnd = random.Random(7)
    text = zeek_tsv(CONN_FIELDS, [conn_row(i, uid=rnd.randbytes(12).hex()) for i in range(12_000)])
    data = gzip.compress(text.encode(), compresslevel=1) if compressed else text.encode()
    assert len(data) > (1 << 18 if compressed else 1 << 20)  # more than one read of the stream
    path = write(tmp_path, "conn.log.gz" if compressed else "conn.log", data)
    zlog = ZeekLog(path, Limits(batch_rows=1_000))
    assert zlog.meter.fraction() == 0.0
    sink = _FractionSink(zlog)
    zlog.read_into(sink)
    assert sink.table().num_rows == 12_000
    seen = [f for f in sink.seen if f is not None]
    assert len(seen) == len(sink.seen) >= 10
    assert seen == sorted(seen)
    assert any(0.0 < f < 1.0 for f in seen), seen  # it moved before the whole file was read
    assert zlog.meter.done == len(data) and zlog.meter.fraction() == 1.0


def test_read_meter_of_the_fast_reader_ends_at_the_whole_file(tmp_path: Path) -> None:
    text = conn_log(20_000)
    path = write(tmp_path, "conn.log", text)
    zlog = ZeekLog(path)
    zlog.read_into(ListSink())
    assert zlog.meter.done == len(text.encode()) and zlog.meter.fraction() == 1.0


def test_read_meter_of_a_json_log(tmp_path: Path) -> None:
    rows = [
        json.dumps({"ts": T0 + i, "uid": f"C{i}", "id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2"})
        for i in range(15_000)
    ]
    text = "\n".join(rows) + "\n"
    assert len(text) > 1 << 20  # more than one read of the stream
    path = write(tmp_path, "conn.json", text)
    zlog = ZeekLog(path, Limits(batch_rows=1_000))
    sink = _FractionSink(zlog)
    zlog.read_into(sink)
    seen = [f for f in sink.seen if f is not None]
    assert seen == sorted(seen) and any(0.0 < f < 1.0 for f in seen), seen
    assert zlog.meter.fraction() == 1.0
