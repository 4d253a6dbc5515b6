"""The same hunt on DuckDB and on Spark (local mode): identical telemetry tables after ingest,
identical findings (ids, severities, confidences, details) and campaign from every network
detector. Scores are compared exactly: both engines compute PERCENTILE_CONT, MEDIAN and the rest
exactly (no approximate quantiles are used), so no tolerance is needed; a float difference
would fail here."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from duqhunt.errors import UsageError
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.sources.net.zeek import ZeekLog
from duqhunt.sources.net.zeek_schema import ANALYSED_LOGS, LOGS, canonical_name
from duqhunt.sources.net.zeek_writer import write_zeek_json
from duqhunt.store import CaseStore

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek"


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


def test_zones_relays_and_bridges_with_blocked_egress_identical_on_both_engines(
    tmp_path: Path, spark_env: None
) -> None:
    """The egress rule (sql/egress_session.sql), the direct attempts behind a bridge and the
    --internal hint give the same result on Spark."""
    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=60, days=1.0, blocked_egress=True, relay_depth=2)
    truth = simulate(logs, seed=4, config=cfg, meta_dir=tmp_path / "sim")
    d, s = _hunt_both(tmp_path, logs, allowlists=(tmp_path / "sim" / "known-good.yaml",))
    assert {b["ip"] for b in d.campaign.bridges} == set(truth["bridges"])
    assert all(b["c2_tried_directly"] for b in d.campaign.bridges)
    assert [f.model_dump() for f in d.findings] == [f.model_dump() for f in s.findings]
    assert d.campaign == s.campaign
    # the office range alone as --internal: most private traffic is outside it
    d2, s2 = _hunt_both(tmp_path / "narrow", logs, internal=("10.1.0.0/16",))
    hint = [w for w in d2.warnings if w.startswith("--internal")]
    assert hint and hint == [w for w in s2.warnings if w.startswith("--internal")]


def test_c2_ranking_identical_on_both_engines(tmp_path: Path, spark_env: None) -> None:
    """The C&C ranking's SQL (proxy attribution, protocol and idle-time facts) on both engines:
    every host behind a web proxy, services more regular than the C&C, no IOC pack."""
    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=60, days=1.0, benign_periodic=True, beacon_profile="proxy")
    simulate(logs, seed=5, config=cfg, meta_dir=tmp_path / "sim")
    d, s = _hunt_both(tmp_path, logs, builtin_iocs=False)
    assert not d.warnings and not s.warnings
    assert d.campaign.beacons and d.campaign.beacons[0].why
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
    monkeypatch.setattr(sp, "_active_session", lambda: None)  # Java is checked to start one
    with pytest.raises(UsageError, match="Java 17"):
        sp.SparkEngine()


# -- gzip and JSON logs, local paths and file:// URIs -------------------------------------------

ROTATED_CONN = "conn.00:00:00-01:00:00.log.gz"  # Zeek's rotated name: Hadoop cannot take ':'


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _mixed_logs(root: Path) -> Path:
    """The simulated campaign as sensors keep it: conn (under its rotated name) and the SMB
    and RPC logs as gzip TSV; dns as JSON lines with epoch ts and a field the schema map does
    not know; http as gzip JSON with ISO 8601 ts; files and ssl as JSON lines."""
    logs = root / "zeek"
    simulate(logs, seed=3, config=SimConfig(hosts=80, days=1.5, gzip=True), meta_dir=root)
    for name in ("dns", "http", "files", "ssl"):
        src = logs / f"{name}.log.gz"
        zeek_names = {canonical_name(n): n for n, _ in LOGS[name]}
        rows = [
            {zeek_names.get(k, k): v for k, v in r.items()}
            for r in ZeekLog(src).read_table().to_pylist()
        ]
        src.unlink()
        if name == "http":
            plain = root / "http.tmp"
            write_zeek_json(plain, name, rows)
            with gzip.open(logs / "http.json.gz", "wt", encoding="utf-8") as fh:
                for line in plain.read_text(encoding="utf-8").splitlines():
                    obj = json.loads(line)
                    obj["ts"] = _iso(obj["ts"])
                    fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
            plain.unlink()
        elif name == "dns":
            write_zeek_json(logs / "dns.json", name, rows)
            text = (logs / "dns.json").read_text(encoding="utf-8")
            (logs / "dns.json").write_text(
                text.replace('{"ts":', '{"_path":"dns","sensor":"s1","ts":'), encoding="utf-8"
            )
        else:
            write_zeek_json(logs / f"{name}.log", name, rows)
    (logs / "conn.log.gz").rename(logs / ROTATED_CONN)
    return logs


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportDocument]:
    root = tmp_path_factory.mktemp("mixed")
    logs = _mixed_logs(root)
    d = hunt(
        HuntOptions(
            inputs=(logs,), out=root / "duck", threads=2, allowlists=(root / "known-good.yaml",)
        )
    )
    return logs, d


def test_gzip_json_and_uri_inputs_identical_on_both_engines(
    mixed: tuple[Path, ReportDocument], tmp_path: Path, spark_env: None
) -> None:
    """One Spark hunt over the DuckDB hunt's logs, given partly as a local folder (gzip TSV
    under a rotated name with ':', JSON with epoch and with ISO 8601 times) and partly as
    file:// URIs, which go through the same Hadoop FileSystem listing and reads as s3a:// or
    hdfs:// (a glob and a folder; keyed by URI, size and time, not a content hash)."""
    logs, d = mixed
    local, tsv, js = tmp_path / "local", tmp_path / "uri" / "tsv", tmp_path / "uri" / "json"
    for f in logs.iterdir():
        if f.name.startswith(("conn.", "dns.", "http.")):
            dest = local / f.name
        else:
            dest = (tsv if f.name.endswith(".log.gz") else js) / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
    (tsv / "README.txt").write_text("not a log\n", encoding="utf-8")
    inputs = (local, f"{tsv.as_uri()}/*.log.gz", js.as_uri(), f"{tsv.as_uri()}/README.txt")
    out = tmp_path / "spark"
    s = hunt(
        HuntOptions(
            inputs=inputs, out=out, engine="spark", allowlists=(logs.parent / "known-good.yaml",)
        )
    )
    # no warning: every file was read by Spark itself (a driver fallback is a warning)
    assert not d.warnings and not s.warnings, s.warnings
    assert {i.kind for i in s.inputs} == {"zeek-tsv", "zeek-json", "unknown"}
    analysed = [i.path for i in s.inputs if i.status == "analysed"]
    assert len(analysed) == len(list(logs.iterdir()))
    assert sum(p.startswith("file:/") for p in analysed) == len(list(tsv.glob("*.gz"))) + 2
    assert [n.path for n in s.not_analysed] == [f"file:{tsv}/README.txt"]
    assert {"DQ-NET-002", "DQ-NET-005", "DQ-NET-007"} <= {f.detector for f in s.findings}
    assert [f.model_dump() for f in d.findings] == [f.model_dump() for f in s.findings]
    assert d.campaign == s.campaign
    a, b = _tables(Path(d.case)), _tables(out / "case.duckdb")
    assert set(a) == set(b) and "sensor" in a["dns"].column_names
    for log in a:
        assert a[log].to_pylist() == b[log].select(a[log].column_names).to_pylist(), log

    from duqhunt.engines.spark import SparkEngine

    with CaseStore(out / "case.duckdb", engine=SparkEngine()) as store:  # keyed: adds nothing
        assert store.engine.storage is not None
        listed = store.engine.storage.list_files(f"{tsv.as_uri()}/*.log.gz")
        assert {store.ingest_remote(rf).status for rf in listed} == {"already-ingested"}
    # Hadoop lists no folder holding a name with ':' (Zeek's rotated names): said plainly
    with pytest.raises(UsageError, match="':'"):
        hunt(HuntOptions(inputs=(f"{logs.as_uri()}/*",), out=tmp_path / "x", engine="spark"))


def test_remote_inputs_need_spark(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="remote inputs need --engine spark"):
        hunt(HuntOptions(inputs=("s3a://bucket/zeek/2026-11-*/",), out=tmp_path))
    assert not (tmp_path / "case.duckdb").exists()


def test_cli_spark_conf_and_uri_inputs() -> None:
    from duqhunt.cli.main import build_parser

    args = build_parser().parse_args(
        [
            "hunt",
            "s3a://bucket/zeek/2026-11-*/",
            "logs",
            "--out",
            "OUT",
            "--engine",
            "spark",
            "--spark-conf",
            "spark.sql.shuffle.partitions=400",
            "--spark-conf",
            "spark.hadoop.fs.s3a.endpoint=http://minio:9000",
        ]
    )
    assert args.inputs == ["s3a://bucket/zeek/2026-11-*/", Path("logs")]
    assert args.spark_conf == [
        ("spark.sql.shuffle.partitions", "400"),
        ("spark.hadoop.fs.s3a.endpoint", "http://minio:9000"),
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["hunt", "x", "--out", "o", "--spark-conf", "novalue"])


def test_share_classification_sql_identical_on_spark(spark_env: None) -> None:
    """The one admin-share rule (detectors/shares.py) gives the Python answer on Spark too."""
    from duqhunt.detectors.shares import share_kind, share_kind_sql, share_name_sql
    from duqhunt.engines.spark import SparkEngine

    b = "\\"
    paths = [
        "C$",
        "admin$",
        f"{b}{b}FS01{b}Users$",
        f"{b}{b}h{b}d${b}",
        f"{b * 4}HOST{b * 2}ADMIN$",
        "//host/C$",
        f"{b}{b}*{b}ipc$",
        f"{b}{b}DC01{b}SYSVOL",
        f"{b}{b}DC01{b}NETLOGON",
        "AB$",
        "",
        None,
    ]
    eng = SparkEngine()
    try:
        eng.register_arrow("share_paths", pa.table({"i": list(range(len(paths))), "path": paths}))
        got = eng.query(
            f"SELECT i, {share_kind_sql('path')} AS kind, {share_name_sql('path')} AS name "
            "FROM share_paths ORDER BY i"
        )
    finally:
        eng.close()
    assert got.column("kind").to_pylist() == [share_kind(p) for p in paths]
    assert got.column("name").to_pylist()[:3] == ["C$", "ADMIN$", "USERS$"]
