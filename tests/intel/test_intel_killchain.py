"""Kill-chain summary and the campaign graph over a report document."""

from __future__ import annotations

from intel_fixtures import sample_report

from duqhunt.campaign.killchain import KILL_CHAIN, campaign_graph, kill_chain
from duqhunt.intel import story_sections_html, technique_title


def test_every_stage_is_listed_and_gaps_are_said() -> None:
    chain = kill_chain(sample_report())
    assert [s["stage"] for s in chain] == [s.stage for s in KILL_CHAIN]
    by = {s["stage"]: s for s in chain}
    assert by["command-and-control"]["seen"] and by["command-and-control"]["findings"] == [
        "DQ-NET-001-xa"
    ]
    assert by["installation"]["seen"] and by["installation"]["techniques"] == [
        {"id": "T1543.003", "name": "Create or Modify System Process: Windows Service"}
    ]
    assert not by["delivery"]["seen"] and by["delivery"]["findings"] == []
    assert by["delivery"]["gap"] and "no evidence" in by["delivery"]["gap"]
    assert by["exfiltration"]["gap"]
    c2_sources = {e["source"] for e in by["command-and-control"]["evidence"]}
    assert {"conn.log", "campaign.c2"} <= c2_sources
    assert all(s["gap"] is None for s in chain if s["seen"])


def test_campaign_graph_nodes_and_edges() -> None:
    g = campaign_graph(sample_report())
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes["ip:206.183.111.97"]["external"] and "host:206.183.111.97" not in nodes
    assert nodes["host:10.1.0.15"]["zone"] == "egress"
    assert "account:CORP\\admin" in nodes and "domain:example.test" in nodes
    assert "file:" + "a" * 64 in nodes and "file:netp191.pnf" in nodes
    edges = {(e["src"], e["kind"], e["dst"]) for e in g["edges"]}
    assert ("host:10.0.1.5", "moved-to", "host:10.1.0.15") in edges
    assert ("account:CORP\\admin", "moved-to", "host:10.1.0.15") in edges
    assert ("file:x.exe", "delivered", "host:10.1.0.15") in edges
    assert ("file:netp191.pnf", "infected", "host:10.1.0.15") in edges
    assert ("host:10.50.0.10", "relays-through", "host:10.1.0.15") in edges
    assert ("host:10.1.0.15", "bridges-to", "ip:206.183.111.97") in edges
    assert ("host:10.1.0.15", "beacons-to", "ip:206.183.111.97") in edges
    assert ("domain:example.test", "resolves-to", "ip:206.183.111.97") in edges
    assert not any("8.8.8.8" in e[2] for e in edges)  # suppressed beacon
    relay = next(e for e in g["edges"] if e["kind"] == "relays-through")
    assert relay["first_seen"] == "2011-10-14T12:00:00.000Z" and relay["pipe"] == ["\\pipe\\x"]
    assert campaign_graph(sample_report()) == g


def test_attack_names_and_story_fragment() -> None:
    assert technique_title("T1090.001") == "Proxy: Internal Proxy"
    assert technique_title("T1078") == "Valid Accounts"
    assert technique_title("T9999") is None
    html = str(story_sections_html(sample_report()))
    assert "Kill chain" in html and "no evidence" in html and "Valid Accounts" in html
