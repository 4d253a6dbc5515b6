"""Kill-chain summary and the campaign graph over a report document."""

from __future__ import annotations

from typing import Any

from intel_fixtures import sample_report

from duqhunt.campaign.killchain import KILL_CHAIN, campaign_graph, kill_chain
from duqhunt.intel import story_sections_html, technique_title
from duqhunt.model.report import HostAddressModel, HostIdentityModel


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
    assert nodes["host:host-10.1.0.15"]["zone"] == "egress"
    assert "account:CORP\\admin" in nodes and "domain:example.test" in nodes
    assert "file:" + "a" * 64 in nodes and "file:netp191.pnf" in nodes
    edges = {(e["src"], e["kind"], e["dst"]) for e in g["edges"]}
    assert ("host:host-10.0.1.5", "moved-to", "host:host-10.1.0.15") in edges
    assert ("account:CORP\\admin", "moved-to", "host:host-10.1.0.15") in edges
    assert ("file:x.exe", "delivered", "host:host-10.1.0.15") in edges
    assert ("file:netp191.pnf", "infected", "host:host-10.1.0.15") in edges
    assert ("host:host-10.50.0.10", "relays-through", "host:host-10.1.0.15") in edges
    assert ("host:host-10.1.0.15", "bridges-to", "ip:206.183.111.97") in edges
    assert ("host:host-10.1.0.15", "beacons-to", "ip:206.183.111.97") in edges
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


def _host_nodes(g: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in g["nodes"] if n["kind"] == "host"}


def test_a_machine_named_and_addressed_is_one_node() -> None:
    """The implant finding names the machine, the wire its address: one node carries both."""
    doc = sample_report()
    camp = doc.campaign.model_copy(
        update={
            "hosts": [
                h.model_copy(update={"name": "WS006"}) if h.ip == "10.1.0.15" else h
                for h in doc.campaign.hosts
            ]
        }
    )
    findings = [
        f.model_copy(update={"hosts": ["WS006"]}) if f.stage == "installation" else f
        for f in doc.findings
    ]
    doc = doc.model_copy(update={"campaign": camp, "findings": findings})
    g = campaign_graph(doc)
    hosts = _host_nodes(g)
    (ws006,) = [n for n in hosts.values() if "WS006" in n.get("names", [])]
    assert ws006["label"] == "WS006" and ws006["ips"] == ["10.1.0.15"]
    assert ws006["id"] == "host:host-ws006" and ws006["host_id"] == "host-ws006"
    # no other node stands for any of its labels
    assert not [n for n in hosts.values() if n is not ws006 and "10.1.0.15" in n.get("ips", [])]
    assert not any(n["label"] in ("WS006", "10.1.0.15") for n in hosts.values() if n is not ws006)
    edges = {(e["src"], e["kind"], e["dst"]) for e in g["edges"]}
    me = ws006["id"]
    assert ("file:netp191.pnf", "infected", me) in edges
    assert ("host:host-10.0.1.5", "moved-to", me) in edges
    assert (me, "beacons-to", "ip:206.183.111.97") in edges
    assert (me, "bridges-to", "ip:206.183.111.97") in edges
    assert ("host:host-10.50.0.10", "relays-through", me) in edges


def test_a_machine_with_two_addresses_is_one_node() -> None:
    """hosts[] says 10.1.0.15 and, after a new lease, 10.1.0.99 are one machine: its beacon
    (old address) and the move to it (new address) meet on one node; the C&C stays external."""
    doc = sample_report()
    moves = [{**doc.campaign.lateral_moves[0], "dst": "10.1.0.99"}]
    camp = doc.campaign.model_copy(update={"lateral_moves": moves})
    machine = HostIdentityModel(
        id="host-ws006",
        names=["WS006"],
        ips=[
            HostAddressModel(ip="10.1.0.15", last_seen="2011-10-14T10:30:00.000Z"),
            HostAddressModel(ip="10.1.0.99", first_seen="2011-10-14T10:40:00.000Z"),
        ],
        zone="egress",
    )
    others = [
        HostIdentityModel(id="host-10.0.1.5", ips=[HostAddressModel(ip="10.0.1.5")]),
        HostIdentityModel(id="host-10.50.0.10", ips=[HostAddressModel(ip="10.50.0.10")]),
        HostIdentityModel(
            id="host-206.183.111.97",
            ips=[HostAddressModel(ip="206.183.111.97")],
            zone="external",
            roles=["c2"],
        ),
    ]
    doc = doc.model_copy(update={"campaign": camp, "hosts": [machine, *others]})
    g = campaign_graph(doc)
    hosts = _host_nodes(g)
    assert set(hosts) == {"host:host-ws006", "host:host-10.0.1.5", "host:host-10.50.0.10"}
    assert hosts["host:host-ws006"]["ips"] == ["10.1.0.15", "10.1.0.99"]
    edges = {(e["src"], e["kind"], e["dst"]) for e in g["edges"]}
    assert ("host:host-10.0.1.5", "moved-to", "host:host-ws006") in edges
    assert ("host:host-ws006", "beacons-to", "ip:206.183.111.97") in edges
    assert "ip:206.183.111.97" in {n["id"] for n in g["nodes"]}
