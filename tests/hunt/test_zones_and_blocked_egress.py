"""Zones from egress that carried data, with a firewall that blocks the secure zone and a sensor
that still logs the attempts (S0, REJ, half-open, single packets); relay edges and bridges
found there, the bridge naming the C&C the relayed hosts tried directly; no false bridge from
attempts alone; a declared no-egress network wins; inbound sessions never make a host egress;
the --internal hint when the traffic lives in another private range."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console

from duqhunt.detectors.net.zones import Network, in_networks, zones_table
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.render.text import render_summary
from duqhunt.simulate import KNOWN_C2_IP, SimConfig, simulate
from duqhunt.sources.net.zeek_schema import LOGS, canonical_name, canonical_schema
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

T0 = 1318550400.0  # 2011-10-14 00:00 UTC
DAY = 86400.0
C2 = "206.183.111.97"
WU = "157.56.77.141"
TELEMETRY = "20.42.65.92"
RESOLVER = "8.8.8.8"

Row = dict[str, object]


# -- the rule, row by row -------------------------------------------------------------------------


def _row(
    src: str,
    dst: str,
    state: str | None,
    ob: int | None,
    rb: int | None,
    *,
    port: int = 443,
    proto: str = "tcp",
) -> Row:
    return {
        "ts": T0 + 60.0,
        "uid": "Cx",
        "id_orig_h": src,
        "id_orig_p": 50123,
        "id_resp_h": dst,
        "id_resp_p": port,
        "proto": proto,
        "conn_state": state,
        "orig_bytes": ob,
        "resp_bytes": rb,
    }


# (case, conn rows of host 10.50.0.10, its expected zone)
RULE_CASES: list[tuple[str, list[Row], str]] = [
    ("dropped SYNs (S0)", [_row("10.50.0.10", WU, "S0", 0, 0)], "no-egress"),
    ("S0 with unset bytes", [_row("10.50.0.10", C2, "S0", None, None)], "no-egress"),
    ("reset by the firewall (REJ)", [_row("10.50.0.10", C2, "REJ", 0, 0)], "no-egress"),
    (
        "UDP datagram into the void",
        [_row("10.50.0.10", RESOLVER, "S0", 38, 0, port=53, proto="udp")],
        "no-egress",
    ),
    ("half-open (SH)", [_row("10.50.0.10", WU, "SH", 0, 0)], "no-egress"),
    ("lone packet (OTH)", [_row("10.50.0.10", WU, "OTH", 0, 0)], "no-egress"),
    ("SYN then RST (RSTOS0)", [_row("10.50.0.10", WU, "RSTOS0", 0, 0)], "no-egress"),
    ("mid-stream, one side only", [_row("10.50.0.10", WU, "OTH", 0, 900)], "no-egress"),
    ("handshake without payload", [_row("10.50.0.10", WU, "SF", 0, 0)], "no-egress"),
    (
        "inbound session with data",
        [_row(TELEMETRY, "10.50.0.10", "SF", 4000, 90000, port=3389)],
        "no-egress",
    ),
    ("internal session only", [_row("10.50.0.10", "10.1.0.5", "SF", 900, 900)], "no-egress"),
    ("completed session with data", [_row("10.50.0.10", WU, "SF", 1200, 5000)], "egress"),
    ("one-directional sensor (S1)", [_row("10.50.0.10", WU, "S1", 0, 5000)], "egress"),
    ("established, reset after the request", [_row("10.50.0.10", WU, "RSTR", 400, 0)], "egress"),
    ("mid-stream both ways", [_row("10.50.0.10", WU, "OTH", 300, 900)], "egress"),
    (
        "UDP with a reply",
        [_row("10.50.0.10", RESOLVER, "SF", 38, 90, port=53, proto="udp")],
        "egress",
    ),
    ("a log without state or bytes", [_row("10.50.0.10", WU, None, None, None)], "egress"),
]


def _engine(rows: list[Row]) -> DuckDBEngine:
    conn_schema = pa.schema(
        [
            (canonical_name(n), pa.float64() if n == "ts" else pa.string())
            if n in ("ts", "uid", "id.orig_h", "id.resp_h", "proto", "conn_state")
            else (canonical_name(n), pa.int64())
            for n, _ in LOGS["conn"]
            if n
            in (
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "proto",
                "conn_state",
                "orig_bytes",
                "resp_bytes",
            )
        ]
    )
    eng = DuckDBEngine()
    eng.register_arrow("conn", pa.Table.from_pylist(rows, schema=conn_schema))
    # no web proxy in these rows: an empty http log, as a hunt registers every analysed log
    # (and the engine's derived views over them)
    for kind in ("http", "dns", "files"):
        eng.register_arrow(kind, canonical_schema(kind).empty_table())
    eng.create_derived_views()
    ips = sorted({str(r[k]) for r in rows for k in ("id_orig_h", "id_resp_h")} | {"10.50.0.10"})
    eng.register_arrow(
        "ip_class",
        pa.table(
            {
                "ip": pa.array(ips, pa.string()),
                "internal": pa.array([ip.startswith("10.") for ip in ips], pa.bool_()),
            }
        ),
    )
    return eng


@pytest.mark.parametrize("case", [c[0] for c in RULE_CASES])
def test_egress_means_a_session_that_carried_data(case: str) -> None:
    _, rows, expected = next(c for c in RULE_CASES if c[0] == case)
    zones = dict(zip(*zones_table(_engine(rows)).to_pydict().values(), strict=True))
    assert zones["10.50.0.10"] == expected, case


def test_declared_no_egress_overrides_behaviour_in_the_table() -> None:
    rows = [_row("10.50.0.10", WU, "SF", 1200, 5000), _row("10.1.0.9", WU, "SF", 1200, 5000)]
    declared = (ipaddress.ip_network("10.50.0.0/24"),)
    zones = dict(zip(*zones_table(_engine(rows), declared).to_pydict().values(), strict=True))
    assert zones == {"10.50.0.10": "no-egress", "10.1.0.9": "egress"}


# -- a small enterprise, built in code ------------------------------------------------------------


class Net:
    """Rows for conn.log and smb_mapping.log, with unique uids."""

    def __init__(self) -> None:
        self.conn: list[Row] = []
        self.smb: list[Row] = []
        self.n = 0

    def add(
        self,
        ts: float,
        src: str,
        dst: str,
        port: int,
        *,
        state: str = "SF",
        ob: int = 600,
        rb: int = 900,
        proto: str = "tcp",
        history: str | None = None,
        orig_pkts: int | None = None,
    ) -> str:
        self.n += 1
        uid = f"C{self.n:08d}"
        blocked = state in ("S0", "REJ", "SH", "OTH")
        if blocked and proto == "tcp":
            ob = rb = 0
        if blocked:
            rb = 0
        pkts = orig_pkts if orig_pkts is not None else (3 if state == "S0" else 1)
        self.conn.append(
            {
                "ts": ts,
                "uid": uid,
                "id.orig_h": src,
                "id.orig_p": 49152 + self.n % 16000,
                "id.resp_h": dst,
                "id.resp_p": port,
                "proto": proto,
                "duration": 9.0 if state == "S0" and proto == "tcp" else 0.4,
                "orig_bytes": ob,
                "resp_bytes": rb,
                "conn_state": state,
                "history": history
                or {"S0": "S" if proto == "tcp" else "D", "REJ": "Sr", "SH": "SF"}.get(
                    state, "ShADadFf"
                ),
                "orig_pkts": pkts if blocked else 4 + ob // 1448,
                "orig_ip_bytes": ob + 52 * (pkts if blocked else 4 + ob // 1448),
                "resp_pkts": (1 if state == "REJ" else 0) if blocked else 4 + rb // 1448,
                "resp_ip_bytes": (40 if state == "REJ" else 0) if blocked else rb + 260,
            }
        )
        return uid

    def smb_ipc(self, ts: float, src: str, dst: str, dst_name: str, port: int = 445) -> None:
        uid = self.add(ts, src, dst, port, ob=1400, rb=1100)
        self.smb.append(
            {
                "ts": ts + 0.01,
                "uid": uid,
                "id.orig_h": src,
                "id.orig_p": 50000,
                "id.resp_h": dst,
                "id.resp_p": port,
                "path": f"\\\\{dst_name}\\IPC$",
                "service": "IPC",
                "share_type": "PIPE",
            }
        )

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.conn.sort(key=lambda r: float(r["ts"]))  # type: ignore[arg-type]
        write_zeek_tsv(folder / "conn.log", "conn", self.conn)
        write_zeek_tsv(folder / "smb_mapping.log", "smb_mapping", self.smb)
        return folder


def _blocked(net: Net, rng: random.Random, host: str, *, c2_tries: bool) -> None:
    """What a firewall lets the sensor see of a secure-zone host: Windows Update and telemetry
    dropped or reset, a public resolver unanswered, now and then a lone packet; the implant's
    direct tries of its C&C when ``c2_tries``."""
    t = T0 + rng.uniform(0, 3600)
    while t < T0 + DAY:
        net.add(t, host, WU, 443, state="S0")
        t += 3600 * rng.uniform(0.9, 1.1)
    for _ in range(30):
        net.add(T0 + rng.uniform(0, DAY), host, TELEMETRY, 443, state="REJ")
    for _ in range(6):
        net.add(T0 + rng.uniform(0, DAY), host, RESOLVER, 53, state="S0", proto="udp", ob=38)
    net.add(T0 + rng.uniform(0, DAY), host, WU, 443, state="OTH", history="R")
    net.add(T0 + rng.uniform(0, DAY), host, WU, 80, state="SH")
    if c2_tries:
        t = T0 + 3600 + rng.uniform(0, 600)
        while t < T0 + DAY:
            net.add(t, host, C2, 443, state="S0")
            t += rng.uniform(2, 6) * 3600


def build_blocked_zone(
    folder: Path,
    *,
    relay: bool = True,
    inbound: bool = False,
    leaky: bool = False,
    base: str = "10",
    stray_private: int = 0,
    seed: int = 3,
    smb_port: int = 445,
    smb_out: bool = False,
) -> dict[str, Any]:
    """30 workstations that browse and use a file server; bridge 10.1.0.5 with its own web
    traffic; a secure zone 10.50.0.10-11 blocked at the firewall. With ``relay`` each secure
    host opens an IPC$ session to the bridge every ~10 minutes and the bridge talks to the C&C
    seconds later. ``inbound``: an external vendor's remote sessions into 10.50.0.10.
    ``leaky``: 10.50.0.11 also gets one real session out. ``base``: '10', or '172' for a lab
    in 172.16.0.0/12 (10.a.b.c becomes 172.(16 + a % 16).b.c). ``smb_port``: the relay's port
    (445, or 139 for SMB over NetBIOS). ``smb_out``: 10.50.0.10 also tries SMB to two internet
    addresses every ~10 minutes (a UNC link to the internet), blocked by the firewall."""
    rng = random.Random(seed)

    def ip(rest: str) -> str:
        a, b, c = rest.split(".")
        return f"10.{rest}" if base == "10" else f"172.{16 + int(a) % 16}.{b}.{c}"

    fs = ip("0.1.20")
    bridge = ip("1.0.5")
    secure = [ip("50.0.10"), ip("50.0.11")]
    sites = [f"93.184.{i}.{j}" for i in range(2) for j in range(1, 40)]
    net = Net()
    for h in [ip(f"1.0.{10 + i}") for i in range(30)] + [bridge]:
        for _ in range(rng.randint(30, 60)):
            t = T0 + rng.uniform(8, 18) * 3600
            net.add(t, h, rng.choice(sites), 443, ob=rng.randint(400, 3000), rb=20000)
            if rng.random() < 0.05:
                net.add(t + 1, h, rng.choice(sites), 443, state="S0")  # a dead site
        for _ in range(rng.randint(3, 8)):
            net.add(T0 + rng.uniform(8, 18) * 3600, h, fs, 445, ob=5000, rb=90000)
        net.add(T0 + rng.uniform(0, DAY), h, WU, 443, ob=1800, rb=6000)
        net.add(T0 + rng.uniform(0, DAY), h, TELEMETRY, 443, ob=9000, rb=700)
    for s in secure:
        _blocked(net, rng, s, c2_tries=True)
        for _ in range(5):
            net.add(T0 + rng.uniform(8, 18) * 3600, s, fs, 445, ob=5000, rb=90000)
    # a secure-zone user tries a small site once (two connections); the bridge's user reads it
    net.add(T0 + 11 * 3600, bridge, "93.184.9.9", 443, ob=900, rb=30000)
    for k in range(2):
        net.add(T0 + 14 * 3600 + k * 0.01, secure[0], "93.184.9.9", 443, state="REJ")
    sessions = dict.fromkeys(secure, 0)
    if relay:
        for s in secure:
            t = T0 + 7200 + rng.uniform(0, 600)
            while t < T0 + DAY:
                net.smb_ipc(t, s, bridge, "WS005", port=smb_port)
                sessions[s] += 1
                net.add(t + rng.uniform(1.0, 3.0), bridge, C2, 443, ob=9000, rb=600)
                t += 600 * rng.uniform(0.85, 1.15)
    else:  # the bridge is infected and beacons, but nothing relays through it
        t = T0 + 7200
        while t < T0 + DAY:
            net.add(t, bridge, C2, 443, ob=9000, rb=600)
            t += 600 * rng.uniform(0.85, 1.15)
    if inbound:
        for k in range(40):
            net.add(T0 + 1800 * k + 5, "198.51.100.7", secure[0], 3389, ob=60000, rb=900000)
    if leaky:
        net.add(T0 + 5000, secure[1], sites[0], 443, ob=3000, rb=40000)
    for k in range(stray_private):  # laptops that reach a home router over the VPN
        net.add(T0 + 600 * k, ip(f"1.0.{10 + k % 30}"), "192.168.1.1", 443, ob=900, rb=4000)
    if smb_out:  # addresses on either side of the internal ones in text order
        for k, out in enumerate(("203.0.113.80", "1.0.0.1")):
            t = T0 + 3000.0 + k * 60
            while t < T0 + DAY:
                net.add(t, secure[0], out, 445, state="S0")
                t += 600 * rng.uniform(0.9, 1.1)
    net.write(folder)
    return {"bridge": bridge, "secure": secure, "fs": fs, "sessions": sessions}


@pytest.fixture
def hunt_logs(tmp_path: Path) -> Callable[..., ReportDocument]:
    counter = {"n": 0}

    def _run(logs: Path, **kw: object) -> ReportDocument:
        counter["n"] += 1
        out = tmp_path / f"out{counter['n']}"
        return hunt(HuntOptions(inputs=(logs,), out=out, threads=2, **kw))  # type: ignore[arg-type]

    return _run


def test_bridge_found_with_blocked_egress_and_names_the_attempted_c2(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    t = build_blocked_zone(tmp_path / "logs", inbound=True)
    doc = hunt_logs(tmp_path / "logs")
    camp = doc.campaign
    zones = {h.ip: h.zone for h in camp.hosts}
    assert [zones[s] for s in t["secure"]] == ["no-egress", "no-egress"]
    assert zones[t["bridge"]] == "egress"
    assert {(e["src"], e["dst"]) for e in camp.relay_edges} == {
        (s, t["bridge"]) for s in t["secure"]
    }
    assert [b["ip"] for b in camp.bridges] == [t["bridge"]]
    b = camp.bridges[0]
    assert b["c2"] == C2 and b["c2_tried_directly"] is True
    # WU, telemetry (common), the one-off try of a small site: not C&C candidates
    assert [x["dst"] for x in b["tried_directly"]] == [C2]
    assert b["tried_directly"][0]["hosts"] == 2
    (finding,) = [f for f in doc.findings if f.detector == "DQ-NET-007"]
    assert "tried directly by 2" in finding.title
    assert finding.details["c2_tried_directly"] is True
    assert finding.confidence == pytest.approx(0.95)
    attempts = [e for e in finding.evidence if "tried" in e.summary]
    assert attempts and C2 in attempts[0].summary and "bridge's C&C" in attempts[0].summary
    relay = [f for f in doc.findings if f.detector == "DQ-NET-006"]
    assert len(relay) == 2
    for f in relay:
        assert "blocked attempt" in f.evidence[0].summary
        assert int(f.details["direct_attempts"]) > 20
        (tried,) = [e for e in f.evidence if e.summary.startswith("direct attempts")]
        # rare addresses (the C&C, the resolver) first, before Windows Update and telemetry
        listed = tried.summary.split(": ", 1)[1].split("; ")
        assert any(x.startswith(f"{C2}:443 x") and "few egress hosts" in x for x in listed[:2])
        assert not any(x.startswith((WU, TELEMETRY)) for x in listed[:2])
    c2 = {c.ip: c for c in camp.c2}
    assert "DQ-NET-007" in c2[C2].sources
    assert WU not in c2 and TELEMETRY not in c2


def test_relay_over_netbios_port_139_is_found_with_every_session_counted(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    """SMB over the NetBIOS session service (139/tcp) relays like 445 (relay_sessions.sql);
    each edge counts the sessions its source opened, once each. SMB tries from the secure zone
    to an internet address (blocked) are attempts out, not an internal relay."""
    t = build_blocked_zone(tmp_path / "logs", smb_port=139, smb_out=True)
    doc = hunt_logs(tmp_path / "logs")
    edges = {(e["src"], e["dst"]) for e in doc.campaign.relay_edges}
    assert edges == {(s, t["bridge"]) for s in t["secure"]}
    relays = {f.details["src"]: f for f in doc.findings if f.detector == "DQ-NET-006"}
    assert set(relays) == set(t["secure"])
    for s in t["secure"]:
        assert relays[s].details["dst"] == t["bridge"]
        assert relays[s].details["sessions"] == t["sessions"][s]
        # the evidence names the port the sessions used, not SMB's usual 445
        assert relays[s].evidence[0].locator.startswith(f"{s} -> {t['bridge']}:139, ")
    assert [b["ip"] for b in doc.campaign.bridges] == [t["bridge"]]


def test_attempts_without_a_relay_make_no_bridge_or_relay(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    """The secure zone tries the C&C and the internet directly but never relays: nothing to
    call a bridge or a relay."""
    build_blocked_zone(tmp_path / "logs", relay=False)
    doc = hunt_logs(tmp_path / "logs")
    assert doc.campaign.bridges == [] and doc.campaign.relay_edges == []
    assert not [f for f in doc.findings if f.detector in ("DQ-NET-006", "DQ-NET-007")]


def test_a_real_session_out_makes_a_host_egress_unless_declared(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    """One completed session with data makes 10.50.0.11 egress (its relay is not looked for);
    declaring its network no-egress puts it back behind the bridge."""
    t = build_blocked_zone(tmp_path / "logs", leaky=True)
    doc = hunt_logs(tmp_path / "logs")
    edges = {e["src"] for e in doc.campaign.relay_edges}
    assert edges == {t["secure"][0]}
    declared = hunt_logs(tmp_path / "logs", no_egress=("10.50.0.0/24",))
    assert {e["src"] for e in declared.campaign.relay_edges} == set(t["secure"])
    zones = {h.ip: h.zone for h in declared.campaign.hosts}
    assert zones[t["secure"][1]] == "no-egress"


def test_declared_no_egress_outside_internal_is_internal(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    """--internal names the office range only; the declared secure zone is still internal."""
    t = build_blocked_zone(tmp_path / "logs")
    doc = hunt_logs(tmp_path / "logs", internal=("10.0.0.0/12",), no_egress=("10.50.0.0/24",))
    assert {(e["src"], e["dst"]) for e in doc.campaign.relay_edges} == {
        (s, t["bridge"]) for s in t["secure"]
    }


def test_internal_hint_when_traffic_is_in_another_private_range(
    tmp_path: Path, hunt_logs: Callable[..., ReportDocument]
) -> None:
    build_blocked_zone(tmp_path / "lab", base="172")
    wrong = hunt_logs(tmp_path / "lab", internal=("10.0.0.0/8",))
    hints = [w for w in wrong.warnings if w.startswith("--internal")]
    assert len(hints) == 1 and "172.17.0.0/16" in hints[0] and "10.0.0.0/8" in hints[0]
    assert hints[0].endswith("if a lab or a second site uses that range, add it with --internal.")
    console = Console(record=True, width=200)
    render_summary(wrong, console)
    assert "Check: --internal" in console.export_text()  # shown in full, not just counted
    right = hunt_logs(tmp_path / "lab", internal=("10.0.0.0/8", "172.16.0.0/12"))
    assert not [w for w in right.warnings if w.startswith("--internal")]
    assert right.campaign.bridges  # and with the right networks the bridge is found
    build_blocked_zone(tmp_path / "office", stray_private=120)
    office = hunt_logs(tmp_path / "office", internal=("10.0.0.0/8",))
    assert not [w for w in office.warnings if w.startswith("--internal")]


# -- the simulator's blocked egress, hunted ------------------------------------------------------


def test_simulated_blocked_egress_bridges_and_relays_found(tmp_path: Path) -> None:
    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=60, days=1.0, blocked_egress=True, relay_depth=2)
    truth = simulate(logs, seed=4, config=cfg, meta_dir=tmp_path / "sim")
    assert truth["direct_c2_attempts"] and truth["blocked_background_attempts"] > 0
    doc = hunt(
        HuntOptions(
            inputs=(logs,),
            out=tmp_path / "out",
            allowlists=(tmp_path / "sim" / "known-good.yaml",),
            threads=2,
        )
    )
    camp = doc.campaign
    assert {(e["src"], e["dst"]) for e in camp.relay_edges} == {
        (e["src"], e["dst"]) for e in truth["relay_edges"]
    }
    assert {b["ip"] for b in camp.bridges} == set(truth["bridges"])
    for b in camp.bridges:
        assert b["c2"] == KNOWN_C2_IP and b["c2_tried_directly"] is True
    zones = {h.ip: h.zone for h in camp.hosts}
    assert all(zones[ip] == "no-egress" for ip in truth["no_egress"] if ip in zones)


def test_behind_a_web_proxy_the_bridge_is_found_and_proxy_users_are_egress(
    tmp_path: Path,
) -> None:
    """Every host reaches the internet through an explicit web proxy: reaching the proxy is
    egress, and the bridge's way out is its proxied requests, whose target names the C&C."""
    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=60, days=1.0, beacon_profile="proxy", blocked_egress=True)
    truth = simulate(logs, seed=6, config=cfg, meta_dir=tmp_path / "sim")
    doc = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", threads=2))
    camp = doc.campaign
    assert {b["ip"] for b in camp.bridges} == set(truth["bridges"])
    assert {b["c2"] for b in camp.bridges} <= {c["ip"] for c in truth["c2"]}
    assert {(e["src"], e["dst"]) for e in camp.relay_edges} == {
        (e["src"], e["dst"]) for e in truth["relay_edges"]
    }
    zones = {h.ip: h.zone for h in camp.hosts}
    assert all(zones.get(b) == "egress" for b in truth["bridges"])
    assert all(zones[ip] == "no-egress" for ip in truth["no_egress"] if ip in zones)


def test_network_membership_agrees_with_ipaddress_on_odd_text() -> None:
    """Every distinct address of a case is classified by in_networks' integer fast path; it
    must say exactly what ipaddress says, including for text that only looks like an address
    (short forms, leading zeros, hex, spaces, NUL, IPv4-mapped IPv6, names, None)."""
    nets = (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.7.0/24"),
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("0.0.0.0/32"),
    )
    rng = random.Random(5)
    odd = [
        "10.1",
        "010.1.1.1",
        "0x0a.1.1.1",
        " 10.0.0.1",
        "10.0.0.1 ",
        "10.0.0.1\x00",
        "::ffff:10.0.0.1",
        "fd00::1",
        "fe80::1",
        "-",
        "",
        "host.example",
        "0.0.0.0",
        "172.31.255.255",
        "172.32.0.0",
        "192.168.7.255",
        "192.168.8.0",
        "256.1.1.1",
    ]
    quads = [
        ".".join(
            str(rng.choice((0, 10, 172, 192, 168, 7, 16, 31, 32, 255, rng.randint(0, 255))))
            for _ in range(4)
        )
        for _ in range(3000)
    ]
    ips: list[object] = [*odd, *quads, None, 7]

    def reference(ip: object, nets: tuple[Network, ...]) -> bool:
        try:
            addr = ipaddress.ip_address(ip)  # type: ignore[arg-type]
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in nets)

    v4_only = tuple(n for n in nets if n.version == 4)
    for some in (nets, v4_only):
        got = in_networks(ips, some)
        assert got == [isinstance(ip, str) and reference(ip, some) for ip in ips]
        assert sum(got) > 100  # the sample reaches both answers


def test_blocked_retries_to_public_resolvers_are_not_c2(tmp_path: Path) -> None:
    """Secure-zone hosts retry public resolvers through the firewall every few hours, as
    regularly as a beacon, and one of them is an infected host (tied by lateral movement).
    Without an allow-list, neither the C&C list nor DQ-NET-004 may name those resolvers: their
    attempts carried no data and no egress host reaches them, while the real C&C's blocked
    attempts are corroborated by the bridge reaching it."""
    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=80, days=2.0, blocked_egress=True)
    truth = simulate(logs, seed=7, config=cfg, meta_dir=tmp_path / "sim")
    doc = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", threads=2))
    real = {c["ip"] for c in truth["c2"]}
    assert {c.ip for c in doc.campaign.c2} == real
    new_c2 = {f.details["candidate"] for f in doc.findings if f.detector == "DQ-NET-004"}
    assert new_c2 == {c["ip"] for c in truth["c2"] if not c["in_pack"]}
    top = doc.campaign.beacons[: len(truth["direct_c2_attempts"]) + 1]
    assert {str(b.dst) for b in top} <= real
