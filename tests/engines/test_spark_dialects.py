"""Spark reads the same Zeek dialects as DuckDB: RockNSM's flat JSON (id_orig_h, @stream) with
its own JSON reader, exports split on the driver into canonical Zeek JSON that Spark then reads
natively, a file whose types change past the sample split as on DuckDB; an export named by a
URI is refused with the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.store import CaseStore

pytest.importorskip("pyspark", reason="the spark extra is not installed")

APT29 = Path(__file__).resolve().parents[1] / "data" / "zeek" / "otrf_apt29_day1_rocknsm"


def _run(tmp_path: Path, name: str, inputs: tuple[Path | str, ...], engine: str) -> ReportDocument:
    return hunt(HuntOptions(inputs=inputs, out=tmp_path / name, engine=engine, threads=2))


def _table(doc: ReportDocument, table: str, order: str = "ts, uid") -> list[dict[str, object]]:
    with CaseStore(Path(doc.case)) as store:
        return store.prepare_engine().query(f"SELECT * FROM {table} ORDER BY {order}").to_pylist()  # type: ignore[no-any-return]


def _inputs(doc: ReportDocument) -> list[tuple[str, str | None, str, int]]:
    return sorted((i.kind, i.log_type, i.status, i.rows) for i in doc.inputs)


def test_rocknsm_and_a_mixed_export_read_alike(tmp_path: Path, spark_env: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(APT29 / "SCRANTON_conn.log", logs / "SCRANTON_conn.log")
    shutil.copy(APT29 / "combined_zeek_excerpt.log", logs / "combined.log")
    duck = _run(tmp_path, "duck", (logs,), "duckdb")
    spark = _run(tmp_path, "spark", (logs,), "spark")
    assert _inputs(spark) == _inputs(duck)
    assert ("zeek-json-rocknsm", "conn", "analysed", 20) in _inputs(spark)
    # every file was read by Spark's own reader, none handed back to the driver
    assert not [w for w in spark.warnings if "exact Python reader" in w]
    for table in ("conn", "dns", "http", "dce_rpc", "smb_mapping"):
        assert _table(spark, table) == _table(duck, table), table
    row = next(r for r in _table(spark, "conn") if r["uid"] == "CUFN2104UUWgAE48")
    assert (row["id_orig_h"], row["id_resp_h"], row["id_resp_p"], row["resp_bytes"]) == (
        "10.0.1.4",
        "192.168.0.5",
        1234,
        910700,
    )


def test_types_past_the_sample_split_on_spark(tmp_path: Path, spark_env: None) -> None:
    lines = [
        {
            "_path": "conn",
            "ts": 1588200000.0 + i,
            "uid": f"C{i}",
            "id.orig_h": "10.0.1.4",
            "id.orig_p": 50000 + i,
            "id.resp_h": "10.0.0.4",
            "id.resp_p": 53,
            "proto": "udp",
        }
        for i in range(250)
    ] + [
        {
            "_path": "dns",
            "ts": 1588200000.0 + i,
            "uid": f"C{i}",
            "id.orig_h": "10.0.1.4",
            "id.orig_p": 50000 + i,
            "id.resp_h": "10.0.0.4",
            "id.resp_p": 53,
            "query": f"h{i}.example.org",
        }
        for i in range(4)
    ]
    path = tmp_path / "sensor.json"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    doc = _run(tmp_path, "spark", (path,), "spark")
    assert sorted((i.log_type, i.rows) for i in doc.inputs) == [("conn", 250), ("dns", 4)]
    assert [r["query"] for r in _table(doc, "dns")] == [f"h{i}.example.org" for i in range(4)]


def test_an_export_named_by_a_uri_is_refused_with_the_reason(
    tmp_path: Path, spark_env: None
) -> None:
    path = tmp_path / "so-export.json"
    path.write_text(
        json.dumps(
            {
                "@timestamp": "2020-04-30T00:00:00Z",
                "event": {"dataset": "zeek.conn"},
                "source": {"ip": "10.0.1.4", "port": 1},
                "log": {"id": {"uid": "C1"}},
            }
        )
        + "\n"
    )
    doc = _run(tmp_path, "spark", (path.as_uri(),), "spark")
    assert [i.status for i in doc.inputs] == ["not-analysed"]
    assert "security-onion export" in doc.not_analysed[0].reason
    assert "local path" in doc.not_analysed[0].reason
