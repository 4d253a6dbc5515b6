"""A relay seen on the host that serves the pipe (DQ-HOST-017) joins the relay edge the
network saw (DQ-NET-006): one edge per pair of machines, citing both; a relay only the host
saw is still an edge, marked as host evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.host.host_builders import event_line

from duqhunt.campaign.identity import with_identities
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.host import write_triage_folders

PIPE = "7d3c91a0-4e1b-4f6a-9c2d-0b5e8a7f1c33"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _pipe_events(computer: str, client: str, t0: float) -> str:
    """What a relay's own logs hold: the SMB server (System) connecting a client to the pipe
    (Sysmon 18) and the share audit of that access on IPC$ with the client's address (5145)."""
    lines = []
    for i in range(3):
        t = t0 + 600 * i
        lines.append(
            event_line(
                _iso(t),
                18,
                {"EventType": "ConnectPipe", "PipeName": f"\\{PIPE}", "Image": "System"},
                channel="Microsoft-Windows-Sysmon/Operational",
                computer=computer,
                record=100 + i,
            )
        )
        lines.append(
            event_line(
                _iso(t + 1),
                5145,
                {
                    "ShareName": "\\\\*\\IPC$",
                    "RelativeTargetName": PIPE,
                    "IpAddress": client,
                    "AccessMask": "0x3",
                    "SubjectUserName": "svc",
                },
                computer=computer,
                record=200 + i,
            )
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("relayjoin")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(hosts=80, days=1.0), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
    edge = truth["relay_edges"][0]
    relay, client = edge["dst"], edge["src"]
    name = truth["hostnames"][relay]
    logs = root / "host" / f"host-{relay}" / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "pipes.jsonl").write_text(
        _pipe_events(name, client, float(truth["window"][0]) + 7200), encoding="utf-8"
    )
    return root, truth


def _hunt(root: Path, out: Path, *parts: str) -> ReportDocument:
    return hunt(HuntOptions(inputs=tuple(root / p for p in parts), out=out, threads=2))


def _host_id(doc: ReportDocument, ip: str) -> str:
    return next(h.id for h in doc.hosts if any(a.ip == ip for a in h.ips))


def test_host_pipe_joins_the_network_relay_edge(
    case: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, truth = case
    doc = _hunt(root, tmp_path / "out", "zeek", "host")
    edge = truth["relay_edges"][0]
    pair = [
        e for e in doc.campaign.relay_edges if (e["src"], e["dst"]) == (edge["src"], edge["dst"])
    ]
    assert len(pair) == 1, doc.campaign.relay_edges
    joined = pair[0]
    assert joined["sources"] == ["network", "host"]
    assert joined["host_ids"] == [_host_id(doc, edge["src"]), _host_id(doc, edge["dst"])]
    evidence = " | ".join(str(x) for x in joined["evidence"])  # type: ignore[attr-defined]
    assert "SMB session" in evidence and PIPE in evidence, evidence
    found = {f.id: f.detector for f in doc.findings}
    assert sorted(found[i] for i in joined["findings"]) == ["DQ-HOST-017", "DQ-NET-006"]  # type: ignore[attr-defined]
    # the same pair is not listed a second time as a host-only edge
    assert not [e for e in doc.campaign.relay_edges if e.get("sources") == ["host"]]
    # a report read again (its identities resolved anew) keeps one edge per pair
    again = with_identities(doc).campaign.relay_edges
    assert [(e["src"], e["dst"], e.get("sources")) for e in again] == [
        (e["src"], e["dst"], e.get("sources")) for e in doc.campaign.relay_edges
    ]


def test_host_only_relay_is_an_edge_marked_as_host_evidence(
    case: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, truth = case
    doc = _hunt(root, tmp_path / "out", "host")
    edge = truth["relay_edges"][0]
    assert len(doc.campaign.relay_edges) == 1, doc.campaign.relay_edges
    only = doc.campaign.relay_edges[0]
    assert only["sources"] == ["host"]
    assert only["src"] == edge["src"] and only["pipe"] == PIPE
    # the serving machine by its identity; its address is known from the triage folder
    relay = _host_id(doc, edge["dst"])
    assert only["host_ids"][1] == relay  # type: ignore[index]
    assert only["dst"] == edge["dst"]
