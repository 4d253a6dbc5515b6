"""A relay seen on the host that serves the pipe (DQ-HOST-017) joins the relay edge the
network saw (DQ-NET-006): one edge per pair of machines, citing both; a relay only the host
saw is still an edge, marked as host evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from duqhunt.campaign.identity import with_identities
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.host import write_triage_folders


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The simulator's triage folders: each host that relays for others logs the pipe's
    creation and its clients' connections (Sysmon 17/18) and the share audit on IPC$ (5145)."""
    root = tmp_path_factory.mktemp("relayjoin")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(hosts=80, days=1.0), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
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
    assert "SMB session" in evidence and edge["pipe"].lower() in evidence, evidence
    found = {f.id: f.detector for f in doc.findings}
    assert sorted(found[i] for i in joined["findings"]) == ["DQ-HOST-017", "DQ-NET-006"]  # type: ignore[attr-defined]
    # the same pair is not listed a second time as a host-only edge
    assert not [
        e
        for e in doc.campaign.relay_edges
        if e.get("sources") == ["host"] and (e["src"], e["dst"]) == (edge["src"], edge["dst"])
    ]
    # a report read again (its identities resolved anew) keeps one edge per pair
    again = with_identities(doc).campaign.relay_edges
    assert [(e["src"], e["dst"], e.get("sources")) for e in again] == [
        (e["src"], e["dst"], e.get("sources")) for e in doc.campaign.relay_edges
    ]


def test_host_only_relay_is_an_edge_marked_as_host_evidence(
    case: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Host triage alone: every relay of the ground truth is an edge from the host's own logs,
    and the machine that serves the pipe is a relay in campaign.hosts and on its identity."""
    root, truth = case
    doc = _hunt(root, tmp_path / "out", "host")
    want = {(e["src"], e["dst"], e["pipe"].lower()) for e in truth["relay_edges"]}
    got = {(e["src"], e["dst"], e["pipe"]) for e in doc.campaign.relay_edges}
    assert got == want, doc.campaign.relay_edges
    assert all(e["sources"] == ["host"] for e in doc.campaign.relay_edges)
    roles = {h.ip: h.roles for h in doc.campaign.hosts}
    for e in doc.campaign.relay_edges:
        # the serving machine by its identity; its address is known from the triage folder
        relay = _host_id(doc, str(e["dst"]))
        assert e["host_ids"][1] == relay  # type: ignore[index]
        assert "relay" in roles[str(e["dst"])] and "infected" in roles[str(e["src"])]
        identity = next(h for h in doc.hosts if h.id == relay)
        assert "relay" in identity.roles
    served = [f for f in doc.findings if f.detector == "DQ-HOST-017"]
    assert served and all(f.details["server_image"] for f in served)
