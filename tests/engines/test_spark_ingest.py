"""Spark's own readers against the exact reader: rows they cannot parse are skipped and
reported with file and line, the rest is identical; what Spark cannot decode exactly goes to
the driver with a warning. Spark failures inside a detector are warnings. Settings reach the
session; an attached session is left as it was found."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import ClassVar

import pytest

from duqhunt.detectors.base import HuntContext, NetworkDetector
from duqhunt.detectors.registry import all_detectors
from duqhunt.errors import UsageError
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model import Finding
from duqhunt.store import CaseStore, IngestResult

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek"

BAD_JSON = (
    '{"_path":"conn","ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,'
    '"id.resp_h":"1.2.3.4","id.resp_p":80,"proto":"tcp","tunnel_parents":[],"x_extra":5}\n'
    "\n"
    "not json\n"
    '{"ts":"2023-11-14T22:13:20.25Z","uid":"C2","id.orig_h":"10.0.0.2","id.resp_p":"str"}\n'
    '{"ts":"2023-11-14T22:13:21","uid":"C3","id.orig_h":"10.0.0.3","local_orig":true}\n'
    "[1]\n"
    '{"ts":"yesterday","uid":"C4"}\n'
)

TSV_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_bytes\t"
    "local_orig\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tbool\tset[string]\n"
)
TSV_ROWS = [
    "1700000000.000001\tC1\t10.0.0.1\t1\t1.2.3.4\t80\ttcp\t10\tT\t(empty)",
    "1700000001.5\tC2\t10.0.0.2\t2\t1.2.3.4\t80\ttcp\tlots\tF\t-",
    "1700000002.5\tC3\t10.0.0.3\t3\t1.2.3.4",
    "1700086400.25\tC4\t10.0.0.4\t4\t1.2.3.4\t443\ttcp\t-\tmaybe\ta,b",
    "1700086401.25\tC5\tuser\\\\share\t5\t1.2.3.4\t443\ttcp\t7\t-\tx",
]


def _lines(res: IngestResult) -> list[int]:
    return [int(m.group(1)) for w in res.warnings for m in [re.search(r"line (\d+):", w)] if m]


def _both(tmp_path: Path, files: list[Path]) -> list[tuple[list[IngestResult], list[dict]]]:
    from duqhunt.engines.spark import SparkEngine

    out = []
    for name in ("duck", "spark"):
        engine = SparkEngine() if name == "spark" else None
        with CaseStore(tmp_path / name / "case.duckdb", engine=engine) as store:
            results = [store.ingest_zeek(f) for f in files]
            conn = store.prepare_engine().query("SELECT * FROM conn ORDER BY uid, ts")
            out.append((results, conn.to_pylist()))
    return out


def test_bad_json_rows_skipped_with_their_lines(tmp_path: Path, spark_env: None) -> None:
    plain = tmp_path / "logs" / "conn.json"
    plain.parent.mkdir()
    plain.write_text(BAD_JSON, encoding="utf-8")
    packed = plain.with_name("conn.1.json.gz")
    packed.write_bytes(gzip.compress(BAD_JSON.encode()))
    (duck, duck_rows), (spark, spark_rows) = _both(tmp_path, [plain, packed])
    assert spark_rows == duck_rows and {r["uid"] for r in spark_rows} == {"C1", "C3"}
    assert spark_rows[0]["x_extra"] == 5 and spark_rows[-1]["ts"] == 1700000001.0
    for d, s in zip(duck, spark, strict=True):
        assert (s.rows, s.skipped_rows, s.status) == (d.rows, d.skipped_rows, d.status)
        assert _lines(s) == _lines(d) == [3, 4, 6, 7]
        assert not any("driver" in w for w in s.warnings)


def test_bad_tsv_rows_skipped_natively_and_escapes_go_to_the_driver(
    tmp_path: Path, spark_env: None
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    bad = logs / "conn.log.gz"
    bad.write_bytes(gzip.compress((TSV_HEADER + "\n".join(TSV_ROWS[:4]) + "\n").encode()))
    escaped = logs / "conn.2.log"
    escaped.write_text(TSV_HEADER + "1700000003.5\tC9\t10.0.0.9\t9\tevil\\x41\t80\ttcp\t1\tT\t-\n")
    doubled = logs / "conn.3.log"
    doubled.write_text(TSV_HEADER + TSV_ROWS[4] + "\n#close\t2023-11-16-00-00-00\n")
    (duck, duck_rows), (spark, spark_rows) = _both(tmp_path, [bad, escaped, doubled])
    assert spark_rows == duck_rows
    assert {r["uid"] for r in spark_rows} == {"C1", "C5", "C9"}
    assert next(r for r in spark_rows if r["uid"] == "C5")["id_orig_h"] == "user\\share"
    assert next(r for r in spark_rows if r["uid"] == "C9")["id_resp_h"] == "evilA"
    # bad rows: skipped by Spark itself, with the exact reader's line numbers
    assert (spark[0].rows, spark[0].skipped_rows) == (duck[0].rows, duck[0].skipped_rows) == (1, 3)
    assert _lines(spark[0]) == sorted(_lines(duck[0])) == [9, 10, 11]
    assert not any("driver" in w for w in spark[0].warnings)
    # \xHH: the exact decoder on the driver, and the report says so
    assert any("exact Python reader on the driver" in w for w in spark[1].warnings)
    assert not duck[1].warnings and not spark[2].warnings


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path, spark_env: None) -> None:
    body = TSV_HEADER + "".join(
        f"{1700000000 + i}.5\tC{i}\t10.0.0.1\t1\t1.2.3.4\t80\ttcp\t{i}\tT\t-\n" for i in range(3000)
    )
    data = gzip.compress(body.encode())
    cut = tmp_path / "logs" / "conn.log.gz"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    (duck, duck_rows), (spark, spark_rows) = _both(tmp_path, [cut])
    assert spark_rows == duck_rows and 0 < len(spark_rows) < 3000
    assert spark[0].status == duck[0].status == "partial"
    assert any("driver" in w for w in spark[0].warnings)


class _RuntimeFailure(NetworkDetector):
    id: ClassVar[str] = "DQ-TEST-901"
    stage: ClassVar[str] = "lateral-movement"
    attack: ClassVar[tuple[str, ...]] = ()

    def run(self, ctx: HuntContext) -> list[Finding]:
        ctx.engine.query("SELECT raise_error('out of memory, say') AS x FROM conn")
        return []


class _AnalysisFailure(_RuntimeFailure):
    id: ClassVar[str] = "DQ-TEST-902"

    def run(self, ctx: HuntContext) -> list[Finding]:
        ctx.engine.query("SELECT no_such_column FROM conn")
        return []


def test_a_spark_failure_in_one_detector_is_a_warning(
    tmp_path: Path, spark_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duqhunt.hunt as hunt_mod

    monkeypatch.setattr(
        hunt_mod, "all_detectors", lambda: [_RuntimeFailure(), _AnalysisFailure(), *all_detectors()]
    )
    doc = hunt(
        HuntOptions(
            inputs=(REAL / "401trg_psexec_equivalent",), out=tmp_path / "out", engine="spark"
        )
    )
    failed = [w for w in doc.warnings if "failed:" in w]
    assert failed[0].startswith("detector DQ-TEST-901 failed:") and "out of memory" in failed[0]
    assert failed[1].startswith("detector DQ-TEST-902 failed:")
    assert len(failed) == 2
    assert "DQ-NET-005" in {f.detector for f in doc.findings}  # the hunt went on


def test_spark_conf_and_an_attached_session(spark_env: None) -> None:
    from duqhunt.engines.spark import SparkEngine

    first = SparkEngine()  # starts the shared local session, or attaches to it
    spark = first.spark
    first.query("SELECT 1 AS one")
    # Spark's status tracker hears of stages asynchronously: just after a query its stage may
    # still be listed, all tasks done. The answer is nothing, or a share
    done = first.query_fraction()
    assert done is None or 0.0 <= done <= 1.0
    spark.conf.set("spark.sql.shuffle.partitions", "13")
    try:
        eng = SparkEngine(conf={"spark.sql.files.maxPartitionBytes": "64m"})
        assert eng.spark is spark
        # an attached session keeps its own shuffle partitions (not forced to 8)
        assert spark.conf.get("spark.sql.shuffle.partitions") == "13"
        assert spark.conf.get("spark.sql.files.maxPartitionBytes") == "64m"
        eng.close()
        assert spark.conf.get("spark.sql.files.maxPartitionBytes") != "64m"
        with pytest.raises(UsageError, match=r"spark\.jars\.packages"):
            SparkEngine(conf={"spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.4.1"})
        with pytest.raises(UsageError, match="UTC"):
            SparkEngine(conf={"spark.sql.session.timeZone": "Europe/Paris"})
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "8")
        first.close()
