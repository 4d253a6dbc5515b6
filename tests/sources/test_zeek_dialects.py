"""Zeek logs as real teams export them (issue #12, cause 5): RockNSM (the OTRF APT29 data set,
real lines), Security Onion 2, Corelight json-streaming, Splunk (CSV and REST JSON), Elastic's
Filebeat module; per-sensor file names; files mixing log types; files whose type cannot be
told. Each fixture is written the way its product writes it (field names from the product's
own pipeline, listed in each builder, never from duqhunt's dialect table), and each test reads
the rows back from the case's tables."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duqhunt.errors import InputError
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.sources.net.dialects import log_type_from_name, recognise, split_export
from duqhunt.sources.net.zeek import ZeekLog, sniff
from duqhunt.store import CaseStore

DATA = Path(__file__).resolve().parents[1] / "data" / "zeek"
APT29 = DATA / "otrf_apt29_day1_rocknsm"
PSEXEC = DATA / "401trg_psexec_equivalent"
C2 = "206.183.111.97"  # a Duqu C&C address in the built-in IOC pack (DQ-NET-001)


def _hunt(tmp_path: Path, *inputs: Path, **kw: Any) -> ReportDocument:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    return hunt(HuntOptions(inputs=inputs, out=out, threads=2, **kw))


def _rows(doc: ReportDocument, sql: str) -> list[dict[str, Any]]:
    with CaseStore(Path(doc.case)) as store:
        engine = store.prepare_engine()
        return engine.query(sql).to_pylist()  # type: ignore[no-any-return]


def _by_type(doc: ReportDocument) -> dict[str, tuple[str, int]]:
    return {i.log_type or "?": (i.status, i.rows) for i in doc.inputs}


def _iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------------------------
# names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NASHUA_conn.log", "conn"),
        ("SCRANTON_smb_mapping.log", "smb_mapping"),
        ("UTICA-ONE-DRIVE_files.log", "files"),
        ("conn_20200430.json", "conn"),
        ("conn.00:00:00-01:00:00.log.gz", "conn"),
        ("dns_20240101.log", "dns"),
        ("sensor7_smb_files.2020-04-30.json.gz", "smb_files"),
        ("SSL-GW_dns.log", "dns"),
        ("zeek.connection", "conn"),
        ("bro:conn:json", "conn"),
        ("corelight_dce_rpc", "dce_rpc"),
        ("NASHUA_x509.log", "x509"),
        ("export.json", None),
        ("mystuff.log", None),
    ],
)
def test_log_type_from_per_sensor_names(name: str, expected: str | None) -> None:
    assert log_type_from_name(name) == expected


# --------------------------------------------------------------------------------------------
# RockNSM: the OTRF APT29 evaluation, day 1 (real lines, MIT)


def test_otrf_rocknsm_sensor_files_land_in_their_tables(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("SCRANTON_conn.log", "SCRANTON_smb_mapping.log"):
        shutil.copy(APT29 / name, logs / name)
    doc = _hunt(tmp_path, logs)
    assert _by_type(doc) == {"conn": ("analysed", 20), "smb_mapping": ("analysed", 6)}
    assert {i.kind for i in doc.inputs} == {"zeek-json-rocknsm"}
    # the reverse shell to 192.168.0.5:1234 (12 minutes, 910 kB back)
    c2 = _rows(doc, "SELECT * FROM conn WHERE uid = 'CUFN2104UUWgAE48'")
    assert len(c2) == 1
    row = c2[0]
    assert (row["id_orig_h"], row["id_orig_p"], row["id_resp_h"], row["id_resp_p"]) == (
        "10.0.1.4",
        60597,
        "192.168.0.5",
        1234,
    )
    assert row["ts"] == pytest.approx(1588205282.361653, abs=1e-6)
    assert row["duration"] == pytest.approx(705.174614906311, abs=1e-9)
    assert (row["orig_bytes"], row["resp_bytes"], row["conn_state"], row["proto"]) == (
        70042,
        910700,
        "RSTO",
        "tcp",
    )
    assert not [c for c in row if "stream" in c or "system" in c or "proc" in c]  # metadata
    shares = _rows(doc, "SELECT path, share_type FROM smb_mapping ORDER BY ts")
    assert shares[0] == {"path": "\\\\NEWYORK.dmevals.local\\IPC$", "share_type": "PIPE"}
    assert [s["share_type"] for s in shares].count("DISK") == 1


def test_otrf_combined_export_is_split_by_log_type(tmp_path: Path) -> None:
    doc = _hunt(tmp_path, APT29 / "combined_zeek_excerpt.log")
    assert _by_type(doc) == {
        "conn": ("analysed", 3),
        "dce_rpc": ("analysed", 3),
        "dns": ("analysed", 3),
        "http": ("analysed", 3),
        "smb_mapping": ("analysed", 3),
        "weird": ("skipped", 3),
    }
    assert any(
        "not read by any detector" in n.reason and "'weird'" in n.reason for n in doc.not_analysed
    )
    ops = _rows(doc, "SELECT endpoint, operation FROM dce_rpc ORDER BY ts")
    assert ops[1:] == [
        {"endpoint": "drsuapi", "operation": "DRSBind"},
        {"endpoint": "drsuapi", "operation": "DRSCrackNames"},
    ]
    http = _rows(doc, "SELECT method, uri, user_agent, status_code FROM http ORDER BY ts")
    assert http[1] == {
        "method": "OPTIONS",
        "uri": "/webdav",
        "user_agent": "Microsoft-WebDAV-MiniRedir/10.0.18362",
        "status_code": 401,
    }
    dns = _rows(doc, "SELECT query, answers FROM dns ORDER BY ts")
    assert dns[0]["query"] == "newyork.dmevals.local"
    assert dns[0]["answers"] == ["10.0.0.4"]


def test_rocknsm_elastic_documents(tmp_path: Path) -> None:
    """RockNSM's Elasticsearch documents: Logstash moved @stream/@system/@proc under @meta,
    added @meta.event_type, geoip and related ids; Kafka wrote ts as ISO 8601."""
    docs = []
    for i, (resp, port, state) in enumerate(
        [("192.168.0.5", 1234, "RSTO"), ("10.0.0.4", 445, "SF"), ("10.0.0.4", 53, "SF")]
    ):
        docs.append(
            {
                "_index": "ecs-zeek-network-2020.04.30",
                "_source": {
                    "@timestamp": "2020-04-30T00:08:02.361Z",
                    "@version": "1",
                    "@meta": {
                        "stream": "conn",
                        "system": "simplerockbuild.simplerock.lan",
                        "proc": "zeek",
                        "event_type": "network",
                        "id": f"CR{i}",
                        "orig_host": "10.0.1.4",
                        "resp_host": resp,
                        "geoip_resp": {"ip": resp},
                        "related_ids": [f"CR{i}"],
                    },
                    "ts": f"2020-04-30T00:08:0{i}.361653Z",
                    "uid": f"CR{i}",
                    "id_orig_h": "10.0.1.4",
                    "id_orig_p": 60597 + i,
                    "id_resp_h": resp,
                    "id_resp_p": port,
                    "proto": "tcp",
                    "duration": 1.5,
                    "orig_bytes": 100 * (i + 1),
                    "resp_bytes": 900,
                    "conn_state": state,
                    "history": "ShADadTR",
                    "orig_pkts": 3,
                    "resp_pkts": 4,
                },
            }
        )
    path = tmp_path / "rock-es-dump.json"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    doc = _hunt(tmp_path, path)
    assert [(i.kind, i.log_type, i.rows) for i in doc.inputs] == [("zeek-json-rocknsm", "conn", 3)]
    got = _rows(doc, "SELECT * FROM conn ORDER BY ts")
    assert [g["ts"] for g in got] == pytest.approx(
        [1588205280.361653, 1588205281.361653, 1588205282.361653], abs=1e-6
    )
    assert [(g["id_resp_h"], g["id_resp_p"], g["orig_bytes"], g["conn_state"]) for g in got] == [
        ("192.168.0.5", 1234, 100, "RSTO"),
        ("10.0.0.4", 445, 200, "SF"),
        ("10.0.0.4", 53, 300, "SF"),
    ]
    assert not [c for c in got[0] if c.startswith(("_meta", "@", "_index"))]


def test_types_past_the_sample_still_split(tmp_path: Path) -> None:
    """A sensor-wide export whose first few hundred rows are all conn: the reader finds the
    dns rows further down and the file is split, not read as conn with dns rows dropped."""
    path = tmp_path / "sensor1.json"
    lines = []
    for i in range(260):
        lines.append(
            {
                "@stream": "conn",
                "@system": "s1",
                "@proc": "zeek",
                "ts": 1588200000.0 + i,
                "uid": f"C{i}",
                "id_orig_h": "10.0.1.4",
                "id_orig_p": 50000 + i,
                "id_resp_h": "10.0.0.4",
                "id_resp_p": 53,
                "proto": "udp",
                "conn_state": "SF",
                "orig_bytes": 40,
                "resp_bytes": 90,
            }
        )
    for i in range(5):
        lines.append(
            {
                "@stream": "dns",
                "@system": "s1",
                "@proc": "zeek",
                "ts": 1588200000.0 + i,
                "uid": f"C{i}",
                "id_orig_h": "10.0.1.4",
                "id_orig_p": 50000 + i,
                "id_resp_h": "10.0.0.4",
                "id_resp_p": 53,
                "proto": "udp",
                "query": f"host{i}.dmevals.local",
                "qtype_name": "A",
                "answers": ["10.0.1.9"],
            }
        )
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    rec = recognise(path, "json")
    assert rec.in_place and rec.log_type == "conn"  # the sample only shows conn
    doc = _hunt(tmp_path, path)
    assert _by_type(doc) == {"conn": ("analysed", 260), "dns": ("analysed", 5)}
    assert _rows(doc, "SELECT COUNT(*) AS n FROM dns WHERE answers[1] = '10.0.1.9'") == [{"n": 5}]


# --------------------------------------------------------------------------------------------
# Security Onion 2: Elasticsearch documents after the so zeek.* ingest pipelines

# Zeek name -> Security Onion name, per Security Onion 2.4's ingest pipelines
# (salt/elasticsearch/files/ingest/zeek.common and zeek.<log>)
_SO_COMMON = {
    "uid": "log.id.uid",
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
}
_SO = {
    "conn": {
        "proto": "network.transport",
        "service": "network.protocol",
        "duration": "event.duration",
        "orig_bytes": "client.bytes",
        "resp_bytes": "server.bytes",
        "conn_state": "connection.state",
        "history": "connection.history",
        "orig_pkts": "client.packets",
        "resp_pkts": "server.packets",
        "orig_ip_bytes": "client.ip_bytes",
        "resp_ip_bytes": "server.ip_bytes",
        "missed_bytes": "connection.bytes.missed",
    },
    "smb_mapping": {"path": "smb.path", "share_type": "smb.share_type", "service": "smb.service"},
    "smb_files": {
        "fuid": "log.id.fuid",
        "action": "file.action",
        "path": "file.path",
        "name": "file.name",
        "size": "file.size",
    },
    "dce_rpc": {
        "rtt": "event.duration",
        "named_pipe": "dce_rpc.named_pipe",
        "endpoint": "dce_rpc.endpoint",
        "operation": "dce_rpc.operation",
    },
    "files": {
        "fuid": "log.id.fuid",
        "source": "file.source",
        "depth": "file.depth",
        "analyzers": "file.analyzer",
        "mime_type": "file.mime_type",
        "filename": "file.name",
        "duration": "event.duration",
        "is_orig": "file.is_orig",
        "seen_bytes": "file.bytes.seen",
        "total_bytes": "file.bytes.total",
    },
}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _so_doc(log_type: str, row: dict[str, Any], *, keep_message: bool) -> dict[str, Any]:
    """A Security Onion 2.4 document as Elasticsearch returns it (_source, nested objects)."""
    names = {**_SO_COMMON, **_SO[log_type]}
    flat: dict[str, Any] = {
        "@timestamp": _iso(row["ts"]),
        "event.dataset": f"zeek.{log_type}",
        "event.module": "zeek",
        "event.category": "network",
        "event.ingested": "2017-10-09T17:00:02.118Z",
        "observer.name": "so-sensor01",
        "ecs.version": "8.0.0",
        "network.community_id": "1:abcd",
        "tags": [log_type],
    }
    original: dict[str, Any] = {}
    for zeek_name, value in row.items():
        if value is None:
            continue
        original[zeek_name] = value
        if zeek_name in names:
            flat[names[zeek_name]] = value
    if log_type == "conn" and "source.ip" in flat:
        flat["client.ip"] = flat["source.ip"]  # SO copies source to client
    if keep_message:
        flat["message"] = json.dumps(original)
    return {
        "_index": ".ds-logs-zeek-so-2017.10.09-000001",
        "_id": row.get("uid") or "x",
        "_source": _nest(flat),
    }


def _zeek_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a committed TSV log with Zeek's dotted names and Zeek's JSON values."""
    zlog = ZeekLog(path)
    table = zlog.read_table()
    assert zlog._header is not None
    names = dict(
        zip((c.replace(".", "_") for c in zlog._header.fields), zlog._header.fields, strict=True)
    )
    return [{names[k]: v for k, v in r.items()} for r in table.to_pylist()]


@pytest.mark.parametrize("keep_message", [False, True], ids=["ecs-fields", "with-message"])
def test_security_onion_export_finds_the_psexec_admin_share_write(
    tmp_path: Path, keep_message: bool
) -> None:
    """The 401trg PsExec logs as a Security Onion 2 export (one ndjson file of every log, as
    an Elasticsearch scroll writes it): DQ-NET-005 finds the same move as on the TSV logs."""
    docs = []
    for log_type in ("conn", "smb_mapping", "smb_files", "dce_rpc", "files"):
        docs += [
            _so_doc(log_type, r, keep_message=keep_message)
            for r in _zeek_rows(PSEXEC / f"{log_type}.log")
        ]
    export = tmp_path / "so-export.ndjson"
    export.write_text("".join(json.dumps(d) + "\n" for d in docs))
    doc = _hunt(tmp_path, export)
    assert {i.kind for i in doc.inputs} == {"zeek-json-security-onion"}
    assert {k: s for k, (s, _) in _by_type(doc).items()} == {
        t: "analysed" for t in ("conn", "smb_mapping", "smb_files", "dce_rpc", "files")
    }
    moves = doc.campaign.lateral_moves
    assert len(moves) == 1
    m = moves[0]
    assert (m["src"], m["dst"], m["share"], m["file"], m["method"]) == (
        "192.168.10.31",
        "192.168.10.10",
        "ADMIN$",
        "PSEXESVC.exe",
        "service",
    )
    assert [f.severity for f in doc.findings if f.detector == "DQ-NET-005"] == ["high"]
    tsv = _rows(_hunt(tmp_path, PSEXEC), "SELECT * FROM conn ORDER BY ts")
    so = _rows(doc, "SELECT * FROM conn ORDER BY ts")
    for col in (
        "ts",
        "uid",
        "id_orig_h",
        "id_orig_p",
        "id_resp_h",
        "id_resp_p",
        "proto",
        "orig_bytes",
        "resp_bytes",
        "conn_state",
        "duration",
    ):
        assert [r[col] for r in so] == [r[col] for r in tsv], col


# --------------------------------------------------------------------------------------------
# Corelight json-streaming: ISO times, _path, _system_name, _write_ts; per-sensor names


def _beacon_conn(start: float, n: int, interval: float) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        ts = start + i * interval + (7.0 if i % 3 == 0 else -5.0)
        rows.append(
            {
                "ts": ts,
                "uid": f"CBeac{i:04d}",
                "id.orig_h": "10.1.0.5",
                "id.orig_p": 50000 + i,
                "id.resp_h": C2,
                "id.resp_p": 80,
                "proto": "tcp",
                "service": "http",
                "duration": 0.41,
                "orig_bytes": 2300 + (i % 5) * 40,
                "resp_bytes": 880,
                "conn_state": "SF",
                "local_orig": True,
                "local_resp": False,
                "missed_bytes": 0,
                "history": "ShADadFf",
                "orig_pkts": 6,
                "orig_ip_bytes": 2620,
                "resp_pkts": 5,
                "resp_ip_bytes": 1100,
            }
        )
    return rows


def test_corelight_json_streaming_with_iso_times(tmp_path: Path) -> None:
    rows = _beacon_conn(1588204800.0, 40, 600.0)
    lines = [
        {
            "_path": "conn",
            "_system_name": "corelight-ap200",
            "_write_ts": _iso(r["ts"] + 1.0),
            **r,
            "ts": _iso(r["ts"]),
        }
        for r in rows
    ]
    logs = tmp_path / "corelight"
    logs.mkdir()
    name = "conn_20200430_00:00:00-01:00:00+0000.log"
    (logs / name).write_text("".join(json.dumps(x) + "\n" for x in lines))
    doc = _hunt(tmp_path, logs)
    assert [(i.kind, i.log_type, i.status, i.rows) for i in doc.inputs] == [
        ("zeek-json-corelight", "conn", "analysed", 40)
    ]
    got = _rows(doc, "SELECT ts, id_resp_h, orig_bytes, local_orig FROM conn ORDER BY ts")
    assert [r["ts"] for r in got] == pytest.approx([r["ts"] for r in rows], abs=1e-6)
    assert {r["id_resp_h"] for r in got} == {C2}
    assert got[1]["orig_bytes"] == rows[1]["orig_bytes"] and got[0]["local_orig"] is True
    ioc = [f for f in doc.findings if f.detector == "DQ-NET-001"]
    assert ioc and C2 in json.dumps([f.model_dump() for f in ioc])


# --------------------------------------------------------------------------------------------
# Splunk: CSV export and the REST export's JSON lines


def test_splunk_csv_export_with_flattened_names(tmp_path: Path) -> None:
    """A Splunk search exported as CSV: _time, host, source, sourcetype (bro:conn:json), the
    fields renamed id_orig_h..., every value text, no _raw."""
    rows = _beacon_conn(1588204800.0, 30, 900.0)
    path = tmp_path / "splunk_export_1588300000_42.csv"
    cols = [
        "_time",
        "host",
        "source",
        "sourcetype",
        "ts",
        "uid",
        "id_orig_h",
        "id_orig_p",
        "id_resp_h",
        "id_resp_p",
        "proto",
        "service",
        "duration",
        "orig_bytes",
        "resp_bytes",
        "conn_state",
        "local_orig",
        "history",
    ]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [
                    _iso(r["ts"]).replace("Z", "+00:00"),
                    "zeek-sensor-2",
                    "/opt/zeek/logs/current/conn.log",
                    "bro:conn:json",
                    f"{r['ts']:.6f}",
                    r["uid"],
                    r["id.orig_h"],
                    r["id.orig_p"],
                    r["id.resp_h"],
                    r["id.resp_p"],
                    r["proto"],
                    r["service"],
                    r["duration"],
                    r["orig_bytes"],
                    r["resp_bytes"],
                    r["conn_state"],
                    "true",
                    r["history"],
                ]
            )
    assert sniff(path) == "csv"
    doc = _hunt(tmp_path, path)
    assert [(i.kind, i.log_type, i.status, i.rows) for i in doc.inputs] == [
        ("zeek-csv-splunk", "conn", "analysed", 30)
    ]
    got = _rows(doc, "SELECT * FROM conn ORDER BY ts")
    assert got[0]["ts"] == pytest.approx(rows[0]["ts"], abs=1e-6)
    assert (got[0]["id_orig_h"], got[0]["id_resp_h"], got[0]["id_resp_p"]) == ("10.1.0.5", C2, 80)
    assert got[4]["orig_bytes"] == rows[4]["orig_bytes"] and got[0]["duration"] == 0.41
    assert got[0]["local_orig"] is True and got[0]["conn_state"] == "SF"
    assert "host" not in got[0] and "sourcetype" not in got[0]
    assert [f for f in doc.findings if f.detector == "DQ-NET-001"]


def test_splunk_rest_json_export_reads_raw(tmp_path: Path) -> None:
    """Splunk's export endpoint (output_mode=json): one {"preview": false, "result": {...}}
    per line, every value text, the Zeek record itself in _raw."""
    rows = _beacon_conn(1588204800.0, 12, 900.0)
    lines = []
    for r in rows:
        raw = json.dumps(r)
        lines.append(
            {
                "preview": False,
                "offset": 0,
                "lastrow": None,
                "result": {
                    "_time": _iso(r["ts"]),
                    "_raw": raw,
                    "host": "zeek-sensor-2",
                    "source": "/opt/zeek/logs/current/conn.log",
                    "sourcetype": "zeek:conn:json",
                    "index": "zeek",
                    "id.orig_h": r["id.orig_h"],
                    "id.resp_h": r["id.resp_h"],
                    "linecount": "1",
                    "splunk_server": "idx01",
                },
            }
        )
    path = tmp_path / "splunk-rest-export.json"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    doc = _hunt(tmp_path, path)
    assert [(i.kind, i.log_type, i.rows) for i in doc.inputs] == [("zeek-json-splunk", "conn", 12)]
    got = _rows(doc, "SELECT ts, uid, history, resp_ip_bytes FROM conn ORDER BY ts")
    assert [g["uid"] for g in got] == [r["uid"] for r in rows]
    assert got[3]["resp_ip_bytes"] == 1100 and got[3]["history"] == "ShADadFf"


# --------------------------------------------------------------------------------------------
# Elastic's Filebeat module (ECS; event.duration in nanoseconds)


def test_filebeat_ecs_documents(tmp_path: Path) -> None:
    doc_ = {
        "_source": {
            "@timestamp": "2020-04-30T00:08:02.361Z",
            "event": {
                "dataset": "zeek.connection",
                "module": "zeek",
                "created": "2020-04-30T00:08:02.361653Z",
                "duration": 705174614906.311,
            },
            "source": {
                "address": "10.0.1.4",
                "ip": "10.0.1.4",
                "port": 60597,
                "bytes": 47674,
                "packets": 563,
            },
            "destination": {
                "address": "192.168.0.5",
                "ip": "192.168.0.5",
                "port": 1234,
                "bytes": 939544,
                "packets": 719,
            },
            "network": {"transport": "tcp", "community_id": "1:x"},
            "zeek": {
                "session_id": "CUFN2104UUWgAE48",
                "connection": {"state": "RSTO", "history": "ShADadTR", "missed_bytes": 0},
            },
            "fileset": {"name": "connection"},
            "input": {"type": "log"},
        }
    }
    path = tmp_path / "filebeat-zeek.ndjson"
    path.write_text(json.dumps(doc_) + "\n")
    doc = _hunt(tmp_path, path)
    assert [(i.kind, i.log_type, i.rows) for i in doc.inputs] == [
        ("zeek-json-elastic-filebeat", "conn", 1)
    ]
    (row,) = _rows(doc, "SELECT * FROM conn")
    assert row["ts"] == pytest.approx(1588205282.361653, abs=1e-6)
    assert row["duration"] == pytest.approx(705.174614906311, abs=1e-9)
    assert (row["uid"], row["id_orig_h"], row["id_resp_p"], row["conn_state"]) == (
        "CUFN2104UUWgAE48",
        "10.0.1.4",
        1234,
        "RSTO",
    )
    assert (row["orig_ip_bytes"], row["resp_pkts"]) == (47674, 719)


# --------------------------------------------------------------------------------------------
# content first, then the name; unknown types are not analysed


def test_fields_decide_over_a_meaningless_name(tmp_path: Path) -> None:
    """A TSV without #path, named by a collector, whose #fields are conn's."""
    src = (PSEXEC / "conn.log").read_text().splitlines(keepends=True)
    path = tmp_path / "collector-000017.log"
    path.write_text("".join(ln for ln in src if not ln.startswith("#path")))
    doc = _hunt(tmp_path, path)
    assert [(i.log_type, i.status) for i in doc.inputs] == [("conn", "analysed")]


def test_per_sensor_names_decide_when_the_content_cannot(tmp_path: Path) -> None:
    """Zeek JSON without _path whose fields fit no schema log clearly: the sensor-prefixed
    name gives the type (weird is stored but read by no detector; conn is read)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "NASHUA_weird.log").write_text(
        json.dumps(
            {"ts": 1588205199.83, "name": "ip_hdr_len_zero", "notice": False, "peer": "zeek"}
        )
        + "\n"
    )
    (logs / "UTICA-A_conn_20200501.json").write_text(
        json.dumps(
            {
                "ts": 1588316619.79,
                "uid": "CyLse01Jig9yHofDXc",
                "id.orig_h": "10.0.1.5",
                "id.orig_p": 55979,
                "id.resp_h": "10.0.0.4",
                "id.resp_p": 53,
                "proto": "udp",
            }
        )
        + "\n"
    )
    doc = _hunt(tmp_path, logs)
    assert sorted((i.log_type or "?", i.status) for i in doc.inputs) == [
        ("conn", "analysed"),
        ("weird", "skipped"),
    ]
    assert _rows(doc, "SELECT uid, id_orig_p FROM conn") == [
        {"uid": "CyLse01Jig9yHofDXc", "id_orig_p": 55979}
    ]


def test_unknown_log_type_is_not_analysed(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "timestamp": f"2020-04-30T00:0{i}:00Z",
                    "flow_id": 1000 + i,
                    "event_type": "flow",
                    "src_ip": "10.0.1.4",
                    "dest_ip": "10.0.0.4",
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    doc = _hunt(tmp_path, path)
    assert [(i.status, i.log_type) for i in doc.inputs] == [("not-analysed", None)]
    (na,) = doc.not_analysed
    assert "unknown log type" in na.reason and "flow_id" in na.reason and "src_ip" in na.reason
    assert any("unknown log type" in w for w in doc.warnings)
    assert not any(k.startswith("rows_") for k in doc.stats)


def test_suricata_dns_events_are_not_zeek_dns(tmp_path: Path) -> None:
    """event_type names a log type only for rows with Zeek's ts: Suricata's eve.json is not
    read as Zeek's dns log."""
    path = tmp_path / "eve.json"
    path.write_text(
        json.dumps(
            {
                "timestamp": "2020-04-30T00:00:00.000000+0000",
                "event_type": "dns",
                "src_ip": "10.0.1.4",
                "dns": {"type": "query", "rrname": "example.com"},
            }
        )
        + "\n"
    )
    doc = _hunt(tmp_path, path)
    assert [i.status for i in doc.inputs] == ["not-analysed"]
    assert "unknown log type" in doc.not_analysed[0].reason


def test_generic_log_type_field(tmp_path: Path) -> None:
    """An export that names the log in log_type, with Zeek's dotted names."""
    rows = _beacon_conn(1588204800.0, 3, 60.0)
    path = tmp_path / "siem.json"
    path.write_text("".join(json.dumps({"log_type": "zeek_conn", **r}) + "\n" for r in rows))
    doc = _hunt(tmp_path, path)
    assert [(i.log_type, i.rows) for i in doc.inputs] == [("conn", 3)]
    assert "log_type" not in _rows(doc, "SELECT * FROM conn")[0]


# --------------------------------------------------------------------------------------------
# hostile exports: only InputError ever leaves the dialect layer

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_KEYS = [
    "ts",
    "uid",
    "id.orig_h",
    "id_resp_p",
    "_path",
    "@stream",
    "event.dataset",
    "sourcetype",
    "log_type",
    "message",
    "_raw",
    "source",
    "result",
    "_source",
    "conn_state",
    "answers",
    "orig_bytes",
    "duration",
    "_time",
    "@timestamp",
]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=6), _json_values, max_size=8),
        max_size=6,
    ),
    junk=st.binary(max_size=40),
    as_csv=st.booleans(),
)
def test_split_export_never_raises_but_input_error(
    tmp_path: Path, rows: list[dict[str, Any]], junk: bytes, as_csv: bool
) -> None:
    path = tmp_path / "x.json"
    if as_csv:
        body = "ts,uid,_time,sourcetype,id.orig_h\n" + "".join(
            ",".join(
                str(r.get(k, "")).replace("\n", " ")
                for k in ("ts", "uid", "_time", "sourcetype", "id.orig_h")
            )
            + "\n"
            for r in rows
        )
        data = body.encode() + junk
    else:
        data = b"".join(json.dumps(r, default=str).encode() + b"\n" for r in rows) + junk
    path.write_bytes(data)
    fmt = "csv" if as_csv else "json"
    work = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
    try:
        recognise(path, fmt)
        res = split_export(path, fmt, work)
    except InputError:
        return
    assert res.stats is not None
    assert sum(res.rows.values()) + res.unknown_rows + res.stats.skipped_rows <= len(rows) + 2
    for log_type, out in res.logs.items():
        table = ZeekLog(out, log_type=log_type).read_table()
        assert table.num_rows == res.rows[log_type]


def test_a_field_of_unknown_type_keeps_its_object_as_sorted_json_text(tmp_path: Path) -> None:
    """A field the schema does not know (an exporter's own enrichment) is kept as text: an
    object's members become dotted names, and a list becomes its JSON text with each object's
    keys sorted, so one record always gives the same text whatever order the exporter wrote
    the keys in."""
    path = tmp_path / "conn_20200430.json"
    row = {
        "ts": 1_588_204_800.5,
        "uid": "CdialectA",
        "id.orig_h": "10.0.0.5",
        "id.orig_p": 49152,
        "id.resp_h": "198.51.100.7",
        "id.resp_p": 443,
        "proto": "tcp",
        "geo": {"resp": {"country": "BE", "city": "Brussels"}},
        "rules": [{"sid": 2019, "name": "beacon"}, {"sid": 7}],
        "site": "HQ",
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    res = split_export(path, "json", tmp_path / "work")
    (out,) = res.logs.values()
    (written,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (written["geo.resp.country"], written["geo.resp.city"]) == ("BE", "Brussels")
    assert written["rules"] == '[{"name": "beacon", "sid": 2019}, {"sid": 7}]'
    assert written["site"] == "HQ"


def test_one_exported_name_for_two_zeek_fields_goes_by_the_value_shape(tmp_path: Path) -> None:
    """ECS exports put a connection's uid and a file's connection uids under one name
    (log.id.uid): a list goes to the field whose type is a container (files.log conn_uids),
    a single value to uid."""
    ts = "2020-04-30T00:08:02.361Z"
    files = {
        "@timestamp": ts,
        "event": {"dataset": "zeek.files", "module": "zeek"},
        "log": {"id": {"uid": ["CA1", "CB2"]}},
        "zeek": {"files": {"fuid": "F1", "source": "HTTP"}},
    }
    conn = {
        "@timestamp": ts,
        "event": {"dataset": "zeek.connection", "module": "zeek"},
        "log": {"id": {"uid": "CC3"}},
        "source": {"ip": "10.0.1.4", "port": 60597},
        "destination": {"ip": "192.168.0.5", "port": 1234},
    }
    path = tmp_path / "export.ndjson"
    path.write_text(json.dumps(files) + "\n" + json.dumps(conn) + "\n", encoding="utf-8")
    res = split_export(path, "json", tmp_path / "work")
    written = {
        lt: json.loads(p.read_text(encoding="utf-8").splitlines()[0]) for lt, p in res.logs.items()
    }
    assert written["files"]["conn_uids"] == ["CA1", "CB2"] and "uid" not in written["files"]
    assert written["conn"]["uid"] == "CC3"
