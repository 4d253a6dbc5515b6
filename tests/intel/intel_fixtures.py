"""A small synthetic hunt report built in code for the intel tests (no files)."""

from __future__ import annotations

from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.report import (
    BeaconModel,
    C2Model,
    Campaign,
    HostModel,
    InputRecord,
    ReportDocument,
)


def _finding(
    fid: str, stage: str, attack: list[str], hosts: list[str], **details: object
) -> Finding:
    return Finding(
        id=fid,
        detector=fid.split("-x")[0],
        title=f"{stage} finding",
        stage=stage,
        attack=attack,
        severity="high",
        confidence=0.9,
        hosts=hosts,
        first_seen="2011-10-14T10:00:00.000Z",
        last_seen="2011-10-15T10:00:00.000Z",
        evidence=[Evidence(source="conn.log", locator="row 1", summary=f"{stage} evidence")],
        details=details,  # type: ignore[arg-type]
    )


def sample_report() -> ReportDocument:
    return ReportDocument(
        tool_version="0.1.0",
        started="2011-10-16T00:00:00.000Z",
        finished="2011-10-16T00:01:00.000Z",
        case="acme",
        internal_networks=["10.0.0.0/8"],
        inputs=[
            InputRecord(
                path="conn.log", kind="zeek-tsv", status="analysed", log_type="conn", rows=10
            )
        ],
        findings=[
            _finding("DQ-NET-001-xa", "command-and-control", ["T1071.001"], ["10.1.0.15"]),
            _finding(
                "DQ-NET-005-xb",
                "lateral-movement",
                ["T1021.002", "T1078"],
                ["10.0.1.5", "10.1.0.15"],
            ),
            _finding("DQ-NET-006-xc", "internal-relay", ["T1090.001"], ["10.50.0.10", "10.1.0.15"]),
            _finding(
                "DQ-HOST-001-xd",
                "installation",
                ["T1543.003"],
                ["10.1.0.15"],
                file="netp191.pnf",
                sha256="a" * 64,
            ),
        ],
        campaign=Campaign(
            hosts=[
                HostModel(ip="10.1.0.15", roles=["infected", "bridge"], zone="egress"),
                HostModel(ip="10.50.0.10", roles=["infected"], zone="no-egress"),
                HostModel(ip="10.0.1.5", roles=["patient-zero"], zone="egress"),
                HostModel(ip="206.183.111.97", roles=["c2"]),
            ],
            c2=[
                C2Model(
                    ip="206.183.111.97",
                    domain="example.test",
                    score=0.95,
                    known_ioc=True,
                    sources=["DQ-NET-001"],
                )
            ],
            beacons=[
                BeaconModel(
                    src="10.1.0.15",
                    dst="206.183.111.97",
                    score=0.9,
                    interval_s=600.0,
                    count=100,
                    first_seen="2011-10-14T11:00:00.000Z",
                    last_seen="2011-10-15T23:00:00.000Z",
                ),
                BeaconModel(
                    src="10.9.9.9",
                    dst="8.8.8.8",
                    score=0.2,
                    interval_s=60.0,
                    count=10,
                    suppressed=True,
                ),
            ],
            lateral_moves=[
                {
                    "time": "2011-10-14T11:00:00.000Z",
                    "src": "10.0.1.5",
                    "dst": "10.1.0.15",
                    "method": "task",
                    "share": "ADMIN$",
                    "file": "x.exe",
                    "account": "CORP\\admin",
                },
            ],
            relay_edges=[
                {
                    "src": "10.50.0.10",
                    "dst": "10.1.0.15",
                    "pipe": "\\pipe\\x",
                    "first_seen": "2011-10-14T12:00:00.000Z",
                    "last_seen": "2011-10-15T12:00:00.000Z",
                    "score": 0.8,
                }
            ],
            bridges=[
                {
                    "ip": "10.1.0.15",
                    "c2": "206.183.111.97",
                    "served": ["10.50.0.10"],
                    "beacons": ["206.183.111.97"],
                }
            ],
        ),
    )
