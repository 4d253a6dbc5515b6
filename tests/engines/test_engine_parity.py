"""The same hunt on DuckDB and on Spark (local mode): identical telemetry tables after ingest,
identical findings (ids, severities, confidences, details) and campaign from every network
detector. Scores are compared exactly: both engines compute PERCENTILE_CONT, MEDIAN and the rest
exactly (no approximate quantiles are used), so no tolerance is needed; a float difference
would fail here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.simulate import SimConfig, simulate
from duqhunt.sources.net.zeek_schema import ANALYSED_LOGS
from duqhunt.store import CaseStore

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek"


@pytest.fixture(scope="module")
def spark_env() -> Iterator[None]:
    from duqhunt.engines.spark import java_available

    if not java_available():
        pytest.skip("no Java runtime")
    old = os.environ.get("DUQHUNT_SPARK_KEEP_SESSION")
    os.environ["DUQHUNT_SPARK_KEEP_SESSION"] = "1"
    os.environ.setdefault("DUQHUNT_SPARK_MASTER", "local[2]")
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    if old is None:
        os.environ.pop("DUQHUNT_SPARK_KEEP_SESSION", None)


def _tables(case: Path) -> dict[str, pa.Table]:
    out = {}
    with CaseStore(case) as store:
        eng = store.prepare_engine()
        for log in ANALYSED_LOGS:
            t = eng.query(f"SELECT * FROM {log}")
            if t.num_rows:
                out[log] = t.sort_by(
                    [(c, "ascending") for c in ("ts", "uid") if c in t.column_names]
                )
    return out


def _hunt_both(tmp_path: Path, logs: Path, **kw: object) -> tuple[object, object]:
    d = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "duck", threads=2, **kw))  # type: ignore[arg-type]
    s = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "spark", engine="spark", **kw))  # type: ignore[arg-type]
    return d, s


def test_ingest_parity_on_real_logs(tmp_path: Path, spark_env: None) -> None:
    d, s = _hunt_both(tmp_path, REAL / "otrf_lsass_campaign_01")
    assert s.engine == "spark" and d.engine == "duckdb"
    a, b = _tables(tmp_path / "duck" / "case.duckdb"), _tables(tmp_path / "spark" / "case.duckdb")
    assert set(a) == set(b)
    for log in a:
        assert a[log].to_pylist() == b[log].select(a[log].column_names).to_pylist(), log


def test_every_network_detector_identical_on_both_engines(tmp_path: Path, spark_env: None) -> None:
    logs = tmp_path / "sim" / "zeek"
    simulate(logs, seed=3, config=SimConfig(hosts=80, days=1.5), meta_dir=tmp_path / "sim")
    d, s = _hunt_both(tmp_path, logs, allowlists=(tmp_path / "sim" / "known-good.yaml",))
    assert not d.warnings and not s.warnings
    detectors = {f.detector for f in d.findings}
    assert {
        "DQ-NET-001",
        "DQ-NET-002",
        "DQ-NET-003",
        "DQ-NET-004",
        "DQ-NET-005",
        "DQ-NET-006",
        "DQ-NET-007",
        "DQ-NET-008",
    } <= detectors
    assert [f.model_dump() for f in d.findings] == [f.model_dump() for f in s.findings]
    assert d.campaign == s.campaign


def test_lateral_equivalent_fixtures_on_spark(tmp_path: Path, spark_env: None) -> None:
    d, s = _hunt_both(tmp_path, REAL / "401trg_psexec_equivalent")
    assert d.campaign.lateral_moves == s.campaign.lateral_moves != []


def test_missing_pyspark_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import duqhunt.engines.spark as sp
    from duqhunt.errors import UsageError

    monkeypatch.setattr(sp, "SparkSession", None)
    with pytest.raises(UsageError, match=r"pip install 'duqhunt\[spark\]'"):
        sp.SparkEngine()


def test_missing_java_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import duqhunt.engines.spark as sp
    from duqhunt.errors import UsageError

    monkeypatch.setattr(sp, "java_available", lambda: False)
    with pytest.raises(UsageError, match="Java 17"):
        sp.SparkEngine()
