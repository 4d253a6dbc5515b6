"""Issue #13 on Spark's own readers: NaN/Inf and implausible times are bad rows named by line
(TSV and JSON, plain and gzip), as on DuckDB and the exact reader; a line Spark's reader
cannot hold whole is accounted for (rows stored + skipped = data lines)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from duqhunt.store import CaseStore, IngestResult

pytest.importorskip("pyspark", reason="the spark extra is not installed")

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tuid\tid.orig_h\tid.resp_h\tid.resp_p\tduration\n"
    "#types\ttime\tstring\taddr\taddr\tport\tinterval\n"
)
TIMES = ["1318550400.5", "NaN", "1318550401.5", "Infinity", "1e300", "100.5", "4000000000.0"]


def _lines(res: IngestResult) -> list[int]:
    return [int(m.group(1)) for w in res.warnings for m in [re.search(r"line (\d+):", w)] if m]


def _ingest(tmp_path: Path, name: str, files: list[Path]) -> tuple[list[IngestResult], list]:
    from duqhunt.engines.spark import SparkEngine

    engine = SparkEngine() if name == "spark" else None
    with CaseStore(tmp_path / name / "case.duckdb", engine=engine) as store:
        results = [store.ingest_zeek(f) for f in files]
        rows = store.prepare_engine().query("SELECT uid, ts FROM conn ORDER BY uid").to_pylist()
    return results, rows


def test_non_finite_and_absurd_times_are_bad_rows_on_spark(tmp_path: Path, spark_env: None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    tsv = logs / "conn.log"
    tsv.write_text(
        HEADER
        + "".join(f"{t}\tC{i}\t10.0.0.1\t1.2.3.4\t80\t1.5\n" for i, t in enumerate(TIMES))
        + "1318550402.5\tC9\t10.0.0.1\t1.2.3.4\t80\tInfinity\n"
    )
    packed = logs / "conn.2.log.gz"
    packed.write_bytes(gzip.compress(tsv.read_bytes()))
    js = logs / "conn.json"
    js.write_text(
        "".join(
            f'{{"_path":"conn","ts":{t},"uid":"J{i}","id.resp_p":80}}\n'
            for i, t in enumerate(TIMES)
        )
    )
    duck, duck_rows = _ingest(tmp_path, "duck", [tsv, packed, js])
    spark, spark_rows = _ingest(tmp_path, "spark", [tsv, packed, js])
    assert spark_rows == duck_rows
    assert {r["uid"] for r in spark_rows} == {"C0", "C2", "J0", "J2"}
    for d, s in zip(duck, spark, strict=True):
        assert (s.rows, s.skipped_rows, s.status) == (d.rows, d.skipped_rows, d.status)
        assert _lines(s) == sorted(_lines(d))
    assert _lines(spark[0]) == [9, 11, 12, 13, 14, 15]
    assert _lines(spark[2]) == [2, 4, 5, 6, 7]
    assert not any("driver" in w for r in spark for w in r.warnings)
