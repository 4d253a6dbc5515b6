"""The whole story of the synthetic campaign in one report: network, host and document evidence
together, the correlated graph against the ground truth, hosts merged by name and IP, and one
case hunted in several runs as evidence arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from duqhunt.campaign.killchain import campaign_graph, kill_chain
from duqhunt.cli.main import main
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.intel.sightings import case_sightings
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.documents import write_lure
from duqhunt.simulate.host import write_triage_folders
from duqhunt.store import CaseStore


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("story")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
    write_lure(root / "mail")
    return root, truth


def _hunt(root: Path, out: Path, *parts: str, case: Path | None = None) -> ReportDocument:
    return hunt(
        HuntOptions(
            inputs=tuple(root / p for p in parts),
            out=out,
            case=case,
            allowlists=(root / "known-good.yaml",),
            threads=2,
        )
    )


def test_one_report_tells_the_whole_story(sim: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, truth = sim
    doc = _hunt(root, tmp_path / "out", "zeek", "host", "mail")
    kinds = {f.detector.split("-")[1] for f in doc.findings}
    assert kinds == {"NET", "HOST", "DOC"}
    stages = {s["stage"]: s["seen"] for s in kill_chain(doc)}
    for stage in (
        "delivery",
        "exploitation",
        "installation",
        "lateral-movement",
        "internal-relay",
        "command-and-control",
    ):
        assert stages[stage], stage
    assert [v.verdict for v in doc.verdicts] == ["malicious"]

    graph = campaign_graph(doc)
    edges = {(e["kind"], e["src"], e["dst"]) for e in graph["edges"]}
    node_of = {a.ip: f"host:{h.id}" for h in doc.hosts for a in h.ips}
    for m in truth["lateral_moves"]:
        assert ("moved-to", node_of[m["src"]], node_of[m["dst"]]) in edges, m
    for e in truth["relay_edges"]:
        assert ("relays-through", node_of[e["src"]], node_of[e["dst"]]) in edges, e
    for b in truth["bridges"]:
        assert any(k == "bridges-to" and s == node_of[b] for k, s, _ in edges)
    for p in truth["beacon_pairs"]:
        assert ("beacons-to", node_of[p["src"]], f"ip:{p['dst']}") in edges, p
    # one node per machine: patient zero's name and address are one node with its beacon,
    # its lateral moves and its implant; no node repeats another machine's name or address
    pz_name = truth["hostnames"][truth["patient_zero"]]
    host_nodes = [n for n in graph["nodes"] if n["kind"] == "host"]
    (pz_node,) = [n for n in host_nodes if pz_name in n.get("names", [])]
    assert pz_node["ips"] == [truth["patient_zero"]] and pz_node["label"] == pz_name
    labels = [x for n in host_nodes for x in {n["label"], *n.get("names", []), *n.get("ips", [])}]
    assert len(labels) == len(set(labels)), labels
    mine = {(k, s, d) for k, s, d in edges if pz_node["id"] in (s, d)}
    assert {"beacons-to", "moved-to", "infected"} <= {k for k, _, _ in mine}

    # a host seen by IP on the wire and by name in its own evidence is one host
    hosts = {h.ip: h for h in doc.campaign.hosts}
    for ip in truth["infected"]:
        assert hosts[ip].name == truth["hostnames"][ip], ip
        assert "infected" in hosts[ip].roles
    assert "patient-zero" in hosts[truth["patient_zero"]].roles

    # one identity per machine: patient zero's name (its own hive) and address (the wire) are
    # one host, and its id finds its beacons, its lateral moves and its implant files
    pz, name = truth["patient_zero"], truth["hostnames"][truth["patient_zero"]]
    (machine,) = [h for h in doc.hosts if name in h.names]
    assert [a.ip for a in machine.ips] == [pz] and machine.conflicts == []
    assert "patient-zero" in machine.roles and machine.sources == ["host", "network"]
    mine = [f for f in doc.findings if machine.id in f.host_ids]
    detectors = {f.detector for f in mine}
    assert {"DQ-NET-002", "DQ-NET-005", "DQ-HOST-001", "DQ-HOST-003"} <= detectors
    assert {f.hosts[0] for f in mine} >= {pz, name}  # named both ways by the detectors
    moves = {(m["src"], m["dst"]) for m in truth["lateral_moves"] if m["src"] == pz}
    assert moves and all(
        any(f.detector == "DQ-NET-005" and f.hosts[:2] == (s, d) for f in mine) for s, d in moves
    )
    beacons = {p["dst"] for p in truth["beacon_pairs"] if p["src"] == pz}
    assert beacons and all(
        any(f.detector == "DQ-NET-002" and dst in f.title for f in mine) for dst in beacons
    )
    # every infected machine is one host, by name and address together
    for ip in truth["infected"]:
        (h,) = [h for h in doc.hosts if any(a.ip == ip for a in h.ips)]
        assert h.names == [truth["hostnames"][ip]], ip
    # the timeline crosses sources on that machine, oldest first
    events = [e for e in doc.timeline if e.host_id == machine.id]
    assert {e.source for e in events} == {"host", "network"}
    assert [e.time for e in events] == sorted(e.time for e in events)
    # every analyser's stats carry their family's prefix once
    assert {"host_scan_seconds", "host_files", "host_count", "doc_files"} <= set(doc.stats)
    assert not [k for k in doc.stats if k.startswith(("host_host_", "doc_doc_"))]


def test_a_case_hunted_in_several_runs_reports_the_whole_case(
    sim: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, _ = sim
    case = tmp_path / "case.duckdb"
    first = _hunt(root, tmp_path / "r1", "zeek", case=case)
    assert {f.detector.split("-")[1] for f in first.findings} == {"NET"}
    second = _hunt(root, tmp_path / "r2", "host", case=case)
    assert {f.detector.split("-")[1] for f in second.findings} == {"NET", "HOST"}
    third = _hunt(root, tmp_path / "r3", "mail", case=case)
    assert {f.detector.split("-")[1] for f in third.findings} == {"NET", "HOST", "DOC"}
    net = lambda d: sorted(f.id for f in d.findings if f.detector.startswith("DQ-NET"))  # noqa: E731
    assert net(first) == net(second) == net(third)


def test_the_case_keeps_the_hunts_sightings_and_added_ones(
    sim: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, truth = sim
    case = tmp_path / "case.duckdb"
    _hunt(root, tmp_path / "r1", "zeek", case=case)
    with CaseStore(case) as store:
        after_one = case_sightings(store)
    seen = {s.ip for s in after_one}
    assert set(truth["infected"]) <= seen
    c2 = {s.c2 for s in after_one if s.ip in truth["bridges"]}
    assert c2 & {p["dst"] for p in truth["beacon_pairs"]}
    assert not any(s.confirmed for s in after_one)  # a hunt's evidence is not a confirmation

    _hunt(root, tmp_path / "r2", "zeek", "host", case=case)  # a re-run adds no repeats
    with CaseStore(case) as store:
        assert sorted(s.key() for s in case_sightings(store)) == sorted(s.key() for s in after_one)

    added = tmp_path / "vendor.csv"
    added.write_text(
        "time,ip,organisation,country,reporter,confirmed\n"
        "2011-10-20,198.51.100.7,Org Z,VN,Vendor X,yes\n",
        encoding="utf-8",
    )
    assert main(["intel", "add-sightings", str(added), "--case", str(case)]) == 0
    assert main(["intel", "add-sightings", str(added), "--case", str(case)]) == 0
    capsys.readouterr()
    assert (
        main(["intel", "report", "--pack", "duqu-2011", "--case", str(case), "--lookup", "none"])
        == 0
    )
    text = capsys.readouterr().out
    assert "Org Z" in text and truth["patient_zero"] in text
    with CaseStore(case) as store:
        stored = store.stored_sightings()
    assert len(stored) == len(after_one) + 1
    assert {o for o, _ in stored} == {"hunt", str(added)}
    assert main(["intel", "report", "--pack", "duqu-2011", "--case", str(tmp_path / "nope")]) == 2
    assert "no case store there" in capsys.readouterr().err
