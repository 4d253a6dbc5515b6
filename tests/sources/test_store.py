"""The case store: idempotent, atomic ingest of Zeek logs into DuckDB + Parquet partitions."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duqhunt.engines.base import day_folder, day_indexes, day_name, day_of
from duqhunt.engines.duckdb import DuckDBEngine, _has_backslash
from duqhunt.errors import InputError, UsageError
from duqhunt.sources.net.zeek import BatchSink, ZeekLog
from duqhunt.sources.net.zeek_limits import Limits, ParseStats
from duqhunt.store import CaseStore, sha256_file

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek" / "otrf_lsass_campaign_01"
T0 = 1318586400.0  # 2011-10-14T10:00:00Z

FIELDS = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("orig_bytes", "count"),
]


def conn_text(rows: Sequence[tuple[str, str] | tuple[str, str, str]]) -> str:
    """A small conn.log; rows are (ts, uid[, orig_bytes])."""
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#fields\t" + "\t".join(n for n, _ in FIELDS),
        "#types\t" + "\t".join(t for _, t in FIELDS),
    ]
    body = []
    for r in rows:
        ts, uid = r[0], r[1]
        nbytes = r[2] if len(r) > 2 else "10"
        body.append("\t".join([ts, uid, "10.0.0.1", "4000", "10.0.0.2", "80", "tcp", nbytes]))
    return "\n".join([*head, *body, "#close\t2011-10-14-11-00-00"]) + "\n"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def parquet_files(case: Path) -> set[str]:
    tele = case.with_name(case.stem + ".telemetry")
    return {p.relative_to(tele).as_posix() for p in tele.rglob("*.parquet")}


def registry(store: CaseStore) -> list[tuple[Any, ...]]:
    return store.con.execute(
        "SELECT sha256, path, log_type, rows, skipped_rows, parquet_files FROM ingested "
        "ORDER BY sha256"
    ).fetchall()


def count(store: CaseStore, view: str) -> int:
    store.prepare_engine()
    row = store.con.execute(f"SELECT count(*) FROM {view}").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def case(tmp_path: Path) -> Path:
    return tmp_path / "out" / "case.duckdb"


# ------------------------------------------------------------------------------------------
# real logs


def test_real_logs_into_a_case_and_conn_gets_ip_proto(case: Path) -> None:
    with CaseStore(case) as st:
        results = [st.ingest_zeek(p) for p in sorted(REAL.glob("*.log"))]
        assert all(r.status == "analysed" for r in results), results
        assert all(r.skipped_rows == 0 and not r.warnings for r in results)
        assert st.ingested_rows()["conn"] == 112
        eng = st.prepare_engine()
        got = eng.query(
            "SELECT count(*) AS n, count(ip_proto) AS k, typeof(any_value(ip_proto)) AS t, "
            "count(id_orig_h) AS h FROM conn"
        ).to_pylist()
        assert got == [{"n": 112, "k": 0, "t": "BIGINT", "h": 112}]
        assert eng.query("SELECT count(*) AS n FROM dns").to_pylist() == [{"n": 96}]
        assert eng.query("SELECT count(*) AS n FROM dns_answers").to_pylist()[0]["n"] >= 1
        # a log type the case lacks is an empty, typed view
        empty = eng.query("SELECT * FROM smb_files")
        assert empty.num_rows == 0 and "times_modified" in empty.column_names


def test_real_logs_native_and_exact_ingest_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in ("native", "exact"):
        if path == "exact":
            monkeypatch.setattr(ZeekLog, "tsv_plan", lambda self: None)
        with CaseStore(tmp_path / path / "case.duckdb") as st:
            for f in sorted(REAL.glob("*.log")):
                st.ingest_zeek(f)
            eng = st.prepare_engine()
            tables[path] = {
                lt: eng.query(f'SELECT * FROM "{lt}" ORDER BY ALL').to_pylist()
                for lt in ("conn", "dns", "http", "files", "ssl", "kerberos", "smb_mapping")
            }
    for lt, rows in tables["native"].items():
        assert rows == tables["exact"][lt], lt
    assert len(tables["native"]["conn"]) == 112


def test_partition_layout_real_conn(case: Path) -> None:
    with CaseStore(case) as st:
        res = st.ingest_zeek(REAL / "conn.log")
    files = parquet_files(case)
    assert files == {f"log=conn/day=2023-08-16/{res.sha256[:16]}-0.parquet"}
    tele = case.with_name("case.telemetry")
    assert pq.read_metadata(tele / next(iter(files))).num_rows == 112


def test_day_names_as_duckdb_dates_them() -> None:
    # a row's day is the UTC day of its microsecond time, as DuckDB's make_timestamp dates it
    # (the exact reader and Spark date rows the same way)
    days = [0, 1, 365, 10956, 11016, 19676, 20000, 47452]  # 1970 .. 2099, leap days
    con = DuckDBEngine().con
    for n in days:
        for ts in (
            n * 86400.0,
            n * 86400.0 + 43200.5,
            n * 86400.0 + 86399.999999,
            n * 86400.0 - 1e-6,
        ):
            row = con.execute(
                "SELECT strftime(make_timestamp(CAST(floor(? * 1000000) AS BIGINT)), '%Y-%m-%d')",
                [ts],
            ).fetchall()
            assert day_name(ts) == row[0][0], ts
            # the exact reader's sink dates its rows by the same rule, a column at a time
            (idx,) = day_indexes(pa.array([ts])).to_pylist()
            assert (day_of(idx) if ts >= 0 else idx) == (row[0][0] if ts >= 0 else -1), ts
    # no time, or one outside [0, DAY_TS_MAX): day=unknown
    assert day_indexes(pa.array([None, -1.0, 4.1e9], pa.float64())).to_pylist() == [-1, -1, -1]


def test_day_folder_names_a_day_a_range_or_unknown() -> None:
    assert day_folder(T0, T0 + 3600) == "day=2011-10-14"
    assert day_folder(T0, T0 + 86400 * 1.5) == "day=2011-10-14..2011-10-15"
    assert day_folder(T0 - 86400 * 3, T0) == "day=2011-10-11..2011-10-14"
    assert day_folder(None, None) == "day=unknown"
    assert day_folder(T0, None) == "day=unknown"


def _flat_file(con: Any, path: Path, times: Sequence[float | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(
        f"({i}, {'NULL' if t is None else repr(t)}::DOUBLE)" for i, t in enumerate(times)
    )
    con.execute(
        f"COPY (SELECT i AS n, ts FROM (VALUES {values}) v(i, ts) ORDER BY i) TO '{path}' "
        "(FORMAT parquet)"
    )


def test_native_files_placed_by_the_days_of_their_rows(tmp_path: Path) -> None:
    # the native copy writes a log in its order, in files of ~128 MB; each file goes to the
    # folder of the days its rows span, and rows without a time always end in day=unknown
    eng = DuckDBEngine()
    flat, dest = tmp_path / "log=conn" / ".flat", tmp_path / "log=conn"
    midnight = 1318636800.0  # 2011-10-15T00:00:00Z
    files = {
        "k-0": [T0, T0 + 60, midnight - 1e-6],  # one day, to its last microsecond
        "k-1": [midnight - 1, midnight, midnight + 86400 * 2],  # three days
        "k-2": [None, midnight + 10, None, midnight + 20],  # timed and untimed rows
        "k-3": [None, None],  # no time at all
        "k-10": [midnight + 5],  # the highest number: the split's parts come after it
    }
    for name, times in files.items():
        _flat_file(eng.con, flat / f"{name}.parquet", times)
    # a writer that keeps no statistics: the times are read from the rows
    pq.write_table(
        pa.table({"n": pa.array([0, 1], pa.int32()), "ts": [midnight + 86400 * 3, None]}),
        flat / "k-4.parquet",
        write_statistics=False,
    )
    eng._place_by_day(flat, dest, "k", timed=True)
    assert not flat.exists()
    # every file keeps the copy's columns (the split reads its file without taking the
    # log=conn folder for a column)
    assert {tuple(pq.read_schema(p).names) for p in dest.rglob("*.parquet")} == {("n", "ts")}
    got = {
        p.relative_to(dest).as_posix(): eng.con.execute(
            f"SELECT list(n ORDER BY n), list(ts ORDER BY n) FROM read_parquet('{p}')"
        ).fetchall()[0]
        for p in dest.rglob("*.parquet")
    }
    assert got == {
        "day=2011-10-14/k-0.parquet": ([0, 1, 2], files["k-0"]),
        "day=2011-10-14..2011-10-17/k-1.parquet": ([0, 1, 2], files["k-1"]),
        "day=2011-10-15/k-11.parquet": ([1, 3], [midnight + 10, midnight + 20]),
        "day=unknown/k-12.parquet": ([0, 2], [None, None]),
        "day=unknown/k-3.parquet": ([0, 1], [None, None]),
        "day=2011-10-15/k-10.parquet": ([0], [midnight + 5]),
        "day=2011-10-18/k-13.parquet": ([0], [midnight + 86400 * 3]),
        "day=unknown/k-14.parquet": ([1], [None]),
    }
    # a file without rows (what DuckDB writes for a log without any) is dropped
    _flat_file(eng.con, flat / "k-0.parquet", [T0])
    eng.con.execute(f"COPY (SELECT 1.0 AS ts WHERE false) TO '{flat / 'k-1.parquet'}'")
    (dest / "again").mkdir()
    eng._place_by_day(flat, dest / "again", "k", timed=True)
    assert sorted(p.relative_to(dest).as_posix() for p in (dest / "again").rglob("*.parquet")) == [
        "again/day=2011-10-14/k-0.parquet"
    ]
    # a log without a float ts: every file is day=unknown, whatever its columns hold
    untimed = tmp_path / "untimed"
    _flat_file(eng.con, untimed / ".flat" / "u-0.parquet", [T0])
    eng._place_by_day(untimed / ".flat", untimed, "u", timed=False)
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("untimed/**/*.parquet")] == [
        "untimed/day=unknown/u-0.parquet"
    ]


def test_native_copy_keeps_the_log_order(tmp_path: Path, case: Path) -> None:
    # rows out of time order (Zeek writes a connection when it ends) stay in the log's order
    times = [T0 + 50, T0 + 10, T0 + 40, T0 + 20, T0 + 30] * 40
    p = write(
        tmp_path / "conn.log", conn_text([(f"{t:.6f}", f"C{i}") for i, t in enumerate(times)])
    )
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
    assert res.rows == len(times)
    (only,) = parquet_files(case)
    assert only == f"log=conn/day=2011-10-14/{res.sha256[:16]}-0.parquet"
    table = pq.read_table(case.with_name("case.telemetry") / only)
    assert table.column("uid").to_pylist() == [f"C{i}" for i in range(len(times))]


def test_a_log_without_rows_writes_no_file(tmp_path: Path, case: Path, ingest_path: str) -> None:
    p = write(tmp_path / "conn.log", conn_text([]))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert (res.status, res.rows) == ("analysed", 0)
        assert count(st, "conn") == 0
        assert [r[5] for r in registry(st)] == ["[]"]
    assert parquet_files(case) == set()


def test_native_copy_writes_addresses_as_dictionaries(tmp_path: Path, case: Path) -> None:
    # 20,000 distinct destinations in one row group: past DuckDB's default dictionary limit
    # (6,144 values), within the ingest's own (NATIVE_DICTIONARY_LIMIT), so the detectors read
    # the addresses as a dictionary
    rows = [
        [
            f"{T0 + i:.6f}",
            f"C{i}",
            "10.0.0.1",
            "4000",
            f"198.0.{i // 256}.{i % 256}",
            "443",
            "tcp",
            "10",
        ]
        for i in range(20000)
    ]
    text = ptext(rows, FIELDS)
    p = write(tmp_path / "conn.log", text)
    with CaseStore(case) as st:
        assert st.ingest_zeek(p).rows == 20000
    (only,) = parquet_files(case)
    meta = pq.read_metadata(case.with_name("case.telemetry") / only)
    names = meta.schema.names
    for rg in range(meta.num_row_groups):
        enc = {names[c]: meta.row_group(rg).column(c).encodings for c in range(meta.num_columns)}
        assert any("DICTIONARY" in e for e in enc["id_resp_h"]), enc["id_resp_h"]


def test_a_field_named_like_a_folder_keeps_its_values(
    tmp_path: Path, case: Path, ingest_path: str
) -> None:
    # the telemetry folders (log=conn/day=...) are not columns: a sensor's own field named
    # 'log' read back as 'conn' while DuckDB took the folders for hive partitions
    row = [f"{T0:.6f}", "C1", "10.0.0.1", "4000", "10.0.0.2", "80", "tcp", "10", "sensor-a"]
    text = ptext([row], [*FIELDS, ("log", "string")])
    p = write(tmp_path / "conn.log", text)
    with CaseStore(case) as st:
        assert st.ingest_zeek(p).rows == 1
        got = st.prepare_engine().query("SELECT uid, log FROM conn").to_pylist()
    assert got == [{"uid": "C1", "log": "sensor-a"}]


def test_partition_layout_by_day(tmp_path: Path, case: Path, ingest_path: str) -> None:
    rows = [
        (f"{T0:.6f}", "C1"),
        (f"{T0 + 86400 * 1.5:.6f}", "C2"),  # next day
        (f"{T0 + 3600:.6f}", "C3"),
        ("-", "C4"),  # no time: an 'unknown' partition, not dropped
    ]
    p = write(tmp_path / "conn.log", conn_text(rows))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert res.rows == 4
        assert count(st, "conn") == 4
    days = sorted(f.split("/")[1] for f in parquet_files(case))
    if ingest_path == "native":  # one file in the log's order, its untimed row split off
        assert days == ["day=2011-10-14..2011-10-15", "day=unknown"]
    else:  # the exact reader writes each day's rows apart
        assert days == ["day=2011-10-14", "day=2011-10-15", "day=unknown"]
    assert all(f.startswith("log=conn/") for f in parquet_files(case))


# ------------------------------------------------------------------------------------------
# idempotence


def test_same_file_twice_and_same_bytes_under_another_name(
    tmp_path: Path, case: Path, ingest_path: str
) -> None:
    p = write(tmp_path / "conn.log", conn_text([(f"{T0 + i}", f"C{i}") for i in range(5)]))
    other = tmp_path / "elsewhere" / "conn.00:00:00-01:00:00.log"
    other.parent.mkdir()
    shutil.copy(p, other)
    with CaseStore(case) as st:
        first = st.ingest_zeek(p)
        assert (first.status, first.rows) == ("analysed", 5)
        before_reg, before_files = registry(st), parquet_files(case)
        # a new path is hashed while it is read; its files are still named by that hash
        assert before_files and all(
            f.split("/")[-1].startswith(first.sha256[:16] + "-") for f in before_files
        )

        again = st.ingest_zeek(p)
        renamed = st.ingest_zeek(other)
        assert again.status == renamed.status == "already-ingested"
        assert again.sha256 == renamed.sha256 == first.sha256 == sha256_file(p)
        assert again.rows == renamed.rows == 5  # the rows the case holds for it, none added
        assert registry(st) == before_reg
        assert parquet_files(case) == before_files
        assert st.ingested_rows() == {"conn": 5}
        assert count(st, "conn") == 5

    with CaseStore(case) as st:  # and after reopening
        assert st.ingest_zeek(p).status == "already-ingested"
        assert count(st, "conn") == 5


def test_several_files_per_log_type_add_up(tmp_path: Path, case: Path, ingest_path: str) -> None:
    a = write(
        tmp_path / "conn.00:00:00-01:00:00.log.gz",
        gzip.compress(conn_text([(f"{T0 + i}", f"A{i}") for i in range(7)]).encode()),
    )
    b = write(
        tmp_path / "conn.01:00:00-02:00:00.log.gz",
        gzip.compress(conn_text([(f"{T0 + 3600 + i}", f"B{i}") for i in range(4)]).encode()),
    )
    c = write(tmp_path / "conn.log", conn_text([(f"{T0 + 7200}", "C0")]))
    with CaseStore(case) as st:
        assert [st.ingest_zeek(p).rows for p in (a, b, c)] == [7, 4, 1]
        assert st.ingested_rows() == {"conn": 12}
        assert count(st, "conn") == 12
        assert len(st.files_by_log()["conn"]) == 3
    assert len(parquet_files(case)) == 3  # one per file, same partition


def test_partial_status_and_warnings_are_stored(tmp_path: Path, case: Path) -> None:
    rows = [(f"{T0}", "C1"), (f"{T0 + 1}", "C2", "lots"), (f"{T0 + 2}", "C3")]
    p = write(tmp_path / "conn.log", conn_text(rows))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert (res.status, res.rows, res.skipped_rows) == ("partial", 2, 1)
        assert res.warnings and all(str(p) in w for w in res.warnings)
        (stored,) = st.con.execute("SELECT warnings FROM ingested").fetchone() or ("[]",)
        assert json.loads(stored) == list(res.warnings)
        assert count(st, "conn") == 2


def test_not_a_zeek_log_leaves_the_store_alone(tmp_path: Path, case: Path) -> None:
    p = write(tmp_path / "notes.txt", "nothing to see\n")
    with CaseStore(case) as st:
        with pytest.raises(InputError) as info:
            st.ingest_zeek(p)
        assert info.value.path == str(p)
        assert registry(st) == []
    assert parquet_files(case) == set()


def test_case_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        CaseStore(tmp_path)


# ------------------------------------------------------------------------------------------
# interruption and orphans


@pytest.fixture(params=["native", "exact"])
def ingest_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a store test on the engine-native TSV ingest and on the exact Python reader."""
    if request.param == "exact":
        monkeypatch.setattr(ZeekLog, "tsv_plan", lambda self: None)
    return str(request.param)


def _die_after_first_write(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Make the ingest write some Parquet into its staging folder, then die (Ctrl-C)."""
    if path == "native":
        real_copy = DuckDBEngine.copy_zeek_tsv

        def copy_then_die(self: DuckDBEngine, *args: Any, **kw: Any) -> int:
            real_copy(self, *args, **kw)
            raise KeyboardInterrupt

        monkeypatch.setattr(DuckDBEngine, "copy_zeek_tsv", copy_then_die)
        return
    real_read_into = ZeekLog.read_into

    def read_one_then_die(self: ZeekLog, sink: BatchSink) -> ParseStats:
        class OneTable:
            def write(self, table: pa.Table) -> None:
                sink.write(table)
                raise KeyboardInterrupt

            def reset(self) -> None:
                sink.reset()

        return real_read_into(self, OneTable())

    monkeypatch.setattr(ZeekLog, "read_into", read_one_then_die)


def test_interrupted_ingest_leaves_the_store_as_before(
    tmp_path: Path, case: Path, monkeypatch: pytest.MonkeyPatch, ingest_path: str
) -> None:
    kept = write(tmp_path / "conn.log", conn_text([(f"{T0}", "K1"), (f"{T0 + 1}", "K2")]))
    with CaseStore(case) as st:
        st.ingest_zeek(kept)
        before_reg = registry(st)
    before_files = parquet_files(case)

    victim = write(
        tmp_path / "conn2.log",
        conn_text([(f"{T0 + 86400 * i}", f"V{i}") for i in range(3)]),
    )
    with monkeypatch.context() as mp:
        _die_after_first_write(mp, ingest_path)
        with CaseStore(case) as st, pytest.raises(KeyboardInterrupt):
            st.ingest_zeek(victim)

    tele = case.with_name("case.telemetry")
    assert not list(tele.glob(".staging-*"))
    assert parquet_files(case) == before_files
    with CaseStore(case) as st:
        assert registry(st) == before_reg
        assert st.ingested_rows() == {"conn": 2}
        assert count(st, "conn") == 2
        assert not st.is_ingested(sha256_file(victim))
        # and the file goes in cleanly afterwards
        assert st.ingest_zeek(victim).status == "analysed"
        assert count(st, "conn") == 5


def test_interrupted_json_ingest(
    tmp_path: Path, case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"_path": "dns", "ts": T0 + 86400 * i, "query": f"q{i}.example"} for i in range(3)]
    p = write(tmp_path / "dns.json", "".join(json.dumps(r) + "\n" for r in rows))
    _die_after_first_write(monkeypatch, "exact")
    with CaseStore(case) as st, pytest.raises(KeyboardInterrupt):
        st.ingest_zeek(p)
    monkeypatch.undo()
    assert parquet_files(case) == set()
    with CaseStore(case) as st:
        assert registry(st) == []
        assert st.ingest_zeek(p).rows == 3


def test_interrupted_between_move_and_commit(tmp_path: Path, case: Path, ingest_path: str) -> None:
    """The Parquet is moved into place, then the registry insert dies: nothing is kept."""
    p = write(tmp_path / "conn.log", conn_text([(f"{T0}", "C1")]))

    class DyingConnection:
        def __init__(self, con: Any) -> None:
            self._con = con

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("INSERT INTO ingested"):
                raise KeyboardInterrupt
            return self._con.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

    with CaseStore(case) as st:
        real = st.con
        st.con = DyingConnection(real)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            st.ingest_zeek(p)
        st.con = real
        assert registry(st) == []
    assert parquet_files(case) == set()


def test_orphan_parquet_removed_on_open(tmp_path: Path, case: Path) -> None:
    p = write(tmp_path / "conn.log", conn_text([(f"{T0}", "C1")]))
    with CaseStore(case) as st:
        st.ingest_zeek(p)
    registered = parquet_files(case)
    tele = case.with_name("case.telemetry")
    # what a crash between the move and the commit leaves behind, plus a stale staging folder
    orphan = tele / "log=conn" / "day=2011-10-14" / "deadbeefdeadbeef-0.parquet"
    pq.write_table(pa.table({"ts": [T0], "uid": ["ORPHAN"]}), orphan)
    other_day = tele / "log=dns" / "day=2011-10-15" / "0123456789abcdef-0.parquet"
    other_day.parent.mkdir(parents=True)
    pq.write_table(pa.table({"ts": [T0]}), other_day)
    staging = tele / ".staging-0000" / "log=conn" / "day=2011-10-14"
    staging.mkdir(parents=True)
    pq.write_table(pa.table({"ts": [T0]}), staging / "x-0.parquet")

    with CaseStore(case) as st:
        assert parquet_files(case) == registered
        assert not orphan.exists() and not other_day.exists()
        assert not (tele / ".staging-0000").exists()
        assert count(st, "conn") == 1
        assert count(st, "dns") == 0


# ------------------------------------------------------------------------------------------
# JSON logs and findings


def test_json_log_into_the_store(tmp_path: Path, case: Path) -> None:
    rows = [
        {
            "_path": "conn",
            "_write_ts": "2011-10-14T10:00:01Z",
            "ts": T0 + i,
            "uid": f"J{i}",
            "id.orig_h": "10.0.0.1",
            "id.resp_h": "10.0.0.2",
            "id.resp_p": 443,
            "proto": "tcp",
        }
        for i in range(4)
    ]
    p = write(tmp_path / "stream.json", "".join(json.dumps(r) + "\n" for r in rows))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert (res.log_type, res.rows) == ("conn", 4)
        got = st.prepare_engine().query(
            "SELECT count(*) AS n, count(ip_proto) AS k, min(id_resp_p) AS port FROM conn"
        )
        assert got.to_pylist() == [{"n": 4, "k": 0, "port": 443}]


def test_json_field_first_seen_after_the_first_batch(tmp_path: Path, case: Path) -> None:
    rows: list[dict[str, Any]] = [{"_path": "conn", "ts": T0 + i, "uid": f"J{i}"} for i in range(5)]
    rows[4]["service"] = "dns"
    p = write(tmp_path / "conn.json", "".join(json.dumps(r) + "\n" for r in rows))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p, Limits(batch_rows=2))
        assert res.rows == 5
        got = st.prepare_engine().query("SELECT count(service) AS k FROM conn").to_pylist()
        assert got == [{"k": 1}]


def test_findings_upsert(case: Path) -> None:
    with CaseStore(case) as st:
        st.save_findings([("f1", "DQ-NET-001", '{"v": 1}'), ("f2", "DQ-NET-002", "{}")])
        st.save_findings([("f1", "DQ-NET-001", '{"v": 2}')])
        rows = st.con.execute("SELECT id, doc FROM findings ORDER BY id").fetchall()
        assert rows == [("f1", '{"v": 2}'), ("f2", "{}")]
        # an id twice in one batch keeps its last row, as one upsert after another would
        st.save_findings([("f3", "DQ-NET-003", "a"), ("f3", "DQ-NET-004", "b"), ("f1", "X", "c")])
        st.save_findings([])
        rows = st.con.execute("SELECT id, detector, doc FROM findings ORDER BY id").fetchall()
        assert rows == [("f1", "X", "c"), ("f2", "DQ-NET-002", "{}"), ("f3", "DQ-NET-004", "b")]


# ------------------------------------------------------------------------------------------
# the store keeps what the reader reads, whichever ingest path it takes

PFIELDS = [*FIELDS, ("tunnel_parents", "set[string]"), ("service", "string")]


def ptext(rows: Sequence[Sequence[str]], fields: Sequence[tuple[str, str]] = PFIELDS) -> str:
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#fields\t" + "\t".join(n for n, _ in fields),
        "#types\t" + "\t".join(t for _, t in fields),
    ]
    return "\n".join([*head, *("\t".join(r) for r in rows), "#close\tx"]) + "\n"


def prow(i: int, nbytes: str = "10", tunnels: str = "(empty)", service: str = "http") -> list[str]:
    return [
        f"{T0 + i:.6f}",
        f"C{i}",
        "10.0.0.1",
        "4000",
        "10.0.0.2",
        "80",
        "tcp",
        nbytes,
        tunnels,
        service,
    ]


PARITY_CASES = {
    "clean": ptext([prow(i) for i in range(5)]),
    "unset_and_empty": ptext([prow(0, "-", "-", "-"), prow(1, "0", "(empty)", "(empty)")]),
    "sets": ptext([prow(0, tunnels="a,b"), prow(1, tunnels="x\\x2cy")]),
    "escapes": ptext([prow(0, service="a\\x09b\\\\c"), prow(1)]),
    "bad_rows": ptext([prow(0), prow(1, nbytes="many"), prow(2)[:-1], prow(3)]),
    "concatenated": ptext([prow(0), prow(1)]) + ptext([prow(2)]),
    "crlf": ptext([prow(0), prow(1)]).replace("\n", "\r\n"),
    "blank_line": ptext([prow(0)]).replace("#close", "\n#close"),
    # empty lines among the rows: DuckDB's reader passes over "\n\n", and a lone "\r" line
    # sends the file to the exact reader; neither is a row, and the rows still add up
    "blank_lines_between_rows": ptext([prow(0), prow(1), prow(2)]).replace(
        f"\n{T0 + 1:.6f}", f"\n\n\n{T0 + 1:.6f}"
    ),
    "cr_line_between_rows": ptext([prow(0), prow(1)]).replace(
        f"\n{T0 + 1:.6f}", f"\n\r\n{T0 + 1:.6f}"
    ),
    "hash_mid_line": ptext([prow(0), prow(1)]).replace("\tC1\t", "\tC#1\t"),
}


@pytest.mark.parametrize(
    "name",
    [
        *PARITY_CASES,
        "hash_in_last_column",
        pytest.param(
            "count_1e3",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known difference, kept: the native ingest casts '1e3' and '1.0' in a count "
                "column to 1000 and 1; the exact reader skips those rows (Zeek never writes them)",
            ),
        ),
    ],
)
def test_store_keeps_what_the_reader_reads(tmp_path: Path, case: Path, name: str) -> None:
    extra = {
        "hash_in_last_column": ptext([prow(0), prow(1, service="a#b"), prow(2, service="#x")]),
        "count_1e3": ptext([prow(0), prow(1, nbytes="1e3"), prow(2, nbytes="1.0")]),
    }
    p = write(tmp_path / "conn.log", {**PARITY_CASES, **extra}[name])
    zlog = ZeekLog(p)
    expected = zlog.read_table()
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert (res.rows, res.skipped_rows) == (zlog.stats.rows, zlog.stats.skipped_rows)
        assert not any("do not add up" in w for w in res.warnings), res.warnings
        cols = ", ".join(f'"{c}"' for c in expected.column_names)
        got = st.prepare_engine().query(f"SELECT {cols} FROM conn ORDER BY ts, uid")
    assert got.to_pylist() == expected.to_pylist()


def test_backslash_scan_reads_the_rows_not_the_header(tmp_path: Path) -> None:
    """Every Zeek TSV header says ``#separator \\x09``: only a backslash in a row (a Zeek
    escape) sends the Parquet the native reader wrote back for a second look."""
    for name, escaped in (("clean", False), ("escapes", True)):
        p = write(tmp_path / f"{name}.log", PARITY_CASES[name])
        plan = ZeekLog(p).tsv_plan()
        assert plan is not None
        assert _has_backslash(p)  # the header's own
        assert _has_backslash(p, plan.header_lines) is escaped, name


def test_store_truncated_gz(tmp_path: Path, case: Path) -> None:
    data = gzip.compress(ptext([prow(i) for i in range(20_000)]).encode())
    p = write(tmp_path / "conn.log.gz", data[: len(data) // 2])
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert res.status == "partial"
        assert 0 < res.rows < 20_000
        assert any(str(p) in w and "truncated" in w for w in res.warnings)
        assert count(st, "conn") == res.rows
        (trunc,) = st.con.execute("SELECT truncated FROM ingested").fetchone() or (None,)
        assert trunc is True


def test_store_three_member_gz(tmp_path: Path, case: Path) -> None:
    data = ptext([prow(i) for i in range(300)]).encode()
    k = len(data) // 3
    p = write(
        tmp_path / "conn.log.gz",
        gzip.compress(data[:k]) + gzip.compress(data[k : 2 * k]) + gzip.compress(data[2 * k :]),
    )
    with CaseStore(case) as st:
        assert st.ingest_zeek(p).rows == 300
        assert count(st, "conn") == 300


def test_store_honours_decompression_limits(tmp_path: Path, case: Path) -> None:
    line = ("\t".join(prow(1)) + "\n").encode()
    chunk = line * ((1 << 20) // len(line))
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    p = tmp_path / "conn.log.gz"
    with open(p, "wb") as fh:
        fh.write(co.compress(ptext([]).replace("#close\tx\n", "").encode()))
        for _ in range(24):
            fh.write(co.compress(chunk))
        fh.write(co.flush())
    total = 24 * len(chunk) // len(line)
    with CaseStore(case) as st:
        res = st.ingest_zeek(p, Limits(ratio_floor_bytes=1 << 20, max_ratio=50))
        assert res.status == "partial"
        assert res.rows < total
        assert any("ratio" in w for w in res.warnings)


def test_store_count_beyond_int64(tmp_path: Path, case: Path) -> None:
    p = write(tmp_path / "conn.log", ptext([prow(0), prow(1, nbytes="18446744073709551615")]))
    with CaseStore(case) as st:
        res = st.ingest_zeek(p)
        assert (res.status, res.rows, res.skipped_rows) == ("partial", 1, 1)
