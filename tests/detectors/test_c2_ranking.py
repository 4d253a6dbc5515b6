"""DQ-NET-002's C&C ranking on small hand-built enterprises: a jittery C&C beside services far
more regular than it, low-and-slow beacons, custom protocols on 443, TLS without SNI, C&C
through a web proxy, and the prevalence boundary. No IOC pack is loaded: the C&C must be found
by behaviour."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from duqhunt.detectors.net.c2rank import SPREAD_FLOOR, Context, Population, score_row
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

T0 = 1318550400.0  # 2011-10-14 00:00 UTC (a Friday)
DAY = 86400.0
HOUR = 3600.0
C2 = "198.18.7.44"
LICENCE = "52.214.9.187"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"

Row = dict[str, object]


class Net:
    """A tiny Zeek log builder: conn, http and ssl rows with unique uids."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.conn: list[Row] = []
        self.http: list[Row] = []
        self.ssl: list[Row] = []
        self.dns: list[Row] = []

    def c(
        self,
        ts: float,
        src: str,
        dst: str,
        port: int,
        *,
        service: str | None = None,
        out: int = 400,
        back: int = 900,
    ) -> str:
        uid = f"C{len(self.conn):08d}{self.rng.getrandbits(24):06x}"
        self.conn.append(
            {
                "ts": ts,
                "uid": uid,
                "id.orig_h": src,
                "id.orig_p": 49152 + len(self.conn) % 16000,
                "id.resp_h": dst,
                "id.resp_p": port,
                "proto": "tcp",
                "service": service,
                "duration": 0.4,
                "orig_bytes": out,
                "resp_bytes": back,
                "conn_state": "SF",
                "orig_pkts": 5,
                "orig_ip_bytes": out + 200,
                "resp_pkts": 5,
                "resp_ip_bytes": back + 200,
                "history": "ShADadFf",
            }
        )
        return uid

    def h(
        self,
        ts: float,
        uid: str,
        src: str,
        dst: str,
        port: int,
        *,
        method: str,
        host: str,
        uri: str,
        ua: str = BROWSER,
        body: int = 0,
    ) -> None:
        self.http.append(
            {
                "ts": ts,
                "uid": uid,
                "id.orig_h": src,
                "id.orig_p": 50000,
                "id.resp_h": dst,
                "id.resp_p": port,
                "trans_depth": 1,
                "method": method,
                "host": host,
                "uri": uri,
                "user_agent": ua,
                "request_body_len": body,
                "status_code": 200,
            }
        )

    def s(self, ts: float, uid: str, src: str, dst: str, sni: str | None) -> None:
        self.ssl.append(
            {
                "ts": ts,
                "uid": uid,
                "id.orig_h": src,
                "id.orig_p": 50000,
                "id.resp_h": dst,
                "id.resp_p": 443,
                "version": "TLSv12",
                "server_name": sni,
                "established": True,
            }
        )

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("conn", "http", "ssl"):
            rows = sorted(getattr(self, name), key=lambda r: float(r["ts"]))
            if rows:
                write_zeek_tsv(folder / f"{name}.log", name, rows)
        return folder


def _times(rng: random.Random, t0: float, t1: float, interval: float, jitter: float) -> list[float]:
    out, t = [], t0
    while t < t1:
        out.append(t)
        t += interval * (1 + rng.uniform(-jitter, jitter))
    return out


def _office(net: Net, hosts: int, days: float, *, proxy: str | None = None) -> list[str]:
    """Workstations browsing named sites in office hours (the population and user activity)."""
    rng = net.rng
    ws = [f"10.1.{i // 200}.{10 + i % 200}" for i in range(hosts)]
    sites = [(f"site{i}.example.com", f"93.184.{i // 50}.{1 + i % 50}") for i in range(150)]
    for src in ws:
        for day in range(int(days + 0.999)):
            for _ in range(rng.randint(6, 14)):
                ts = T0 + day * DAY + rng.uniform(8, 17) * HOUR
                name, ip = rng.choice(sites)
                if proxy:
                    uid = net.c(ts, src, proxy, 8080, service="http")
                    net.h(ts, uid, src, proxy, 8080, method="GET", host=name, uri=f"http://{name}/")
                    up = net.c(ts + 0.01, proxy, ip, 80, service="http")
                    net.h(ts + 0.01, up, proxy, ip, 80, method="GET", host=name, uri="/")
                else:
                    uid = net.c(ts, src, ip, 80, service="http")
                    net.h(ts, uid, src, ip, 80, method="GET", host=name, uri="/")
    return ws


def _licence(net: Net, hosts: list[str], days: float) -> None:
    """A licence daemon on every host: every 900 s +-0.3 s, day and night, to one vendor IP."""
    for src in hosts:
        for ts in _times(net.rng, T0 + net.rng.random() * 900, T0 + days * DAY, 900.0, 0.0003):
            net.c(ts, src, LICENCE, 443, service="ssl", out=640, back=430)


def _hunt(tmp_path: Path, folder: Path, **params: float) -> ReportDocument:
    return hunt(
        HuntOptions(
            inputs=(folder,),
            out=tmp_path / "out",
            threads=2,
            builtin_iocs=False,
            params=tuple(params.items()),
        )
    )


def _rank(doc: ReportDocument, src: str, dst: str) -> int:
    pairs = [(b.src, b.dst) for b in doc.campaign.beacons]
    assert (src, dst) in pairs, f"{(src, dst)} not ranked: {pairs[:10]}"
    return pairs.index((src, dst)) + 1


def _beacon(doc: ReportDocument, src: str, dst: str) -> Any:
    return next(b for b in doc.campaign.beacons if (b.src, b.dst) == (src, dst))


def test_jittery_c2_outranks_licence_heartbeat_from_200_hosts(tmp_path: Path) -> None:
    net = Net(1)
    ws = _office(net, 200, 2)
    _licence(net, ws, 2)
    victim = ws[37]
    for ts in _times(net.rng, T0 + 9.4 * HOUR, T0 + 2 * DAY, 600.0, 0.4):  # +-40 % jitter
        net.c(ts, victim, C2, 8443, out=net.rng.randint(300, 420))
    # min_score 0.3: keep the heartbeat pairs that the old prevalence penalty alone would drop
    doc = _hunt(tmp_path, net.write(tmp_path / "logs"), min_score=0.3)
    c2 = _beacon(doc, victim, C2)
    lic = [b for b in doc.campaign.beacons if b.dst == LICENCE]
    assert lic and all(b.periodicity > c2.periodicity for b in lic)  # IS more regular
    assert _rank(doc, victim, C2) == 1
    assert all(c2.score > 2 * b.score for b in lic)
    assert all(any("widespread: 200 of" in w for w in b.why) for b in lic)
    assert any("first seen" in w for w in c2.why) and any("rare" in w for w in c2.why)
    assert [c.ip for c in doc.campaign.c2] == [C2]
    assert not [f for f in doc.findings if LICENCE in f.title and f.severity != "low"]


def test_low_and_slow_two_hour_beacon_over_five_days(tmp_path: Path) -> None:
    net = Net(2)
    ws = _office(net, 40, 5)
    _licence(net, ws, 5)
    victim = ws[5]
    for ts in _times(net.rng, T0 + 10.2 * HOUR, T0 + 5 * DAY, 2 * HOUR, 0.3):
        uid = net.c(ts, victim, C2, 80, service="http", out=net.rng.randint(300, 420))
        net.h(ts, uid, victim, C2, 80, method="POST", host=C2, uri="/", body=300)
    doc = _hunt(tmp_path, net.write(tmp_path / "logs"))
    assert _rank(doc, victim, C2) == 1
    b = _beacon(doc, victim, C2)
    assert 1.5 * HOUR < b.interval_s < 2.5 * HOUR and b.count >= 50
    assert any("POST / to a bare-IP Host" in w for w in b.why)
    assert any("while the host's user was idle" in w for w in b.why)
    assert C2 in [c.ip for c in doc.campaign.c2]


@pytest.mark.parametrize("transport", ["custom443", "tls_nosni", "tls_empty_sni"])
def test_c2_on_443_without_tls_or_without_sni(tmp_path: Path, transport: str) -> None:
    """Beside it: a server's agent checking in as regularly over proper TLS to a named vault,
    from the same moment on; only the C&C's protocol on 443 is odd. A server name Zeek logs as
    unset (-) or empty ((empty)) names nothing: no TLS-name beacon to ''."""
    net = Net(3)
    _office(net, 30, 2)
    victim, server = "10.1.0.20", "10.0.1.51"
    start = T0 + 9.1 * HOUR
    for ts in _times(net.rng, start, T0 + 2 * DAY, 900.0, 0.0005):
        uid = net.c(ts, server, "104.18.36.201", 443, service="ssl", out=2300)
        net.s(ts, uid, server, "104.18.36.201", "vault.backupcloud.io")
    for ts in _times(net.rng, start, T0 + 2 * DAY, 900.0, 0.4):
        if transport == "custom443":
            net.c(ts, victim, C2, 443, service=None, out=net.rng.randint(100, 160), back=120)
        else:
            uid = net.c(ts, victim, C2, 443, service="ssl", out=net.rng.randint(600, 700))
            net.s(ts, uid, victim, C2, "" if transport == "tls_empty_sni" else None)
    doc = _hunt(tmp_path, net.write(tmp_path / "logs"))
    assert all(b.dst for b in doc.campaign.beacons)
    b = _beacon(doc, victim, C2)
    shape = "without TLS" if transport == "custom443" else "without a server name"
    assert any(shape in w for w in b.why), b.why
    assert _rank(doc, victim, C2) == 1
    assert [c.ip for c in doc.campaign.c2] == [C2]
    finding = next(f for f in doc.findings if f.detector == "DQ-NET-002" and C2 in f.title)
    assert finding.severity in ("medium", "high")
    assert shape in dict(finding.details)["why"]


def test_proxied_c2_is_attributed_to_the_client(tmp_path: Path) -> None:
    """Every host goes through 10.0.1.60:8080; the C&C shows as host -> proxy with an
    absolute URI naming it (and a CONNECT for its TLS twin), and proxy -> C&C in conn."""
    proxy = "10.0.1.60"
    net = Net(4)
    ws = _office(net, 60, 2, proxy=proxy)
    victim = ws[11]
    for ts in _times(net.rng, T0 + 9.5 * HOUR, T0 + 2 * DAY, 600.0, 0.3):
        uid = net.c(ts, victim, proxy, 8080, service="http")
        net.h(ts, uid, victim, proxy, 8080, method="POST", host=C2, uri=f"http://{C2}/", body=900)
        up = net.c(ts + 0.01, proxy, C2, 80, service="http", out=1200)
        net.h(ts + 0.01, up, proxy, C2, 80, method="POST", host=C2, uri="/", body=900)
    doc = _hunt(tmp_path, net.write(tmp_path / "logs"))
    assert _rank(doc, victim, C2) == 1
    assert _rank(doc, proxy, C2) > 1
    assert any("web proxy" in w for w in _beacon(doc, proxy, C2).why)
    assert C2 in [c.ip for c in doc.campaign.c2]
    infected = {h.ip for h in doc.campaign.hosts if "infected" in h.roles}
    assert victim in infected


@pytest.mark.parametrize("hosts", [80, 300, 2000])
def test_prevalence_boundary(hosts: int) -> None:
    pop = Population.of(hosts)
    assert pop.spread(1) == pop.spread(pop.rare_hosts) == 1.0
    assert pop.spread(pop.rare_hosts + 1) < 1.0
    assert pop.spread(pop.wide_hosts) == pytest.approx(SPREAD_FLOOR)
    assert pop.spread(hosts) == pytest.approx(SPREAD_FLOOR)
    assert pop.rare_hosts == max(3, -(-hosts // 100))


def test_prevalence_boundary_in_a_hunt(tmp_path: Path) -> None:
    """The same beacon from rare_hosts hosts is rare; from one host more it is widespread."""
    net = Net(5)
    ws = _office(net, 100, 1)
    rare = Population.of(100).rare_hosts
    for i, dst in enumerate(("198.18.1.1", "198.18.2.2")):
        for src in ws[: rare + i]:
            for ts in _times(net.rng, T0 + 6 * HOUR, T0 + DAY, 600.0, 0.1):
                net.c(ts, src, dst, 8443)
    doc = _hunt(tmp_path, net.write(tmp_path / "logs"))
    at, over = _beacon(doc, ws[0], "198.18.1.1"), _beacon(doc, ws[0], "198.18.2.2")
    assert any(w.startswith(f"rare: {rare} internal") for w in at.why)
    assert any(w.startswith(f"widespread: {rare + 1} of") for w in over.why)
    assert over.score < at.score - 0.05  # one host more costs the spread factor


def test_clean_network_with_regular_services_is_quiet(tmp_path: Path) -> None:
    from duqhunt.simulate import SimConfig, simulate

    logs = tmp_path / "sim" / "zeek"
    cfg = SimConfig(hosts=60, days=1.0, intrusion=False, benign_periodic=True)
    simulate(logs, seed=5, config=cfg, meta_dir=tmp_path / "sim")
    doc = _hunt(tmp_path, logs)
    assert doc.campaign.beacons  # the services were scored, not skipped
    high = [f.title for f in doc.findings if f.severity in ("high", "critical")]
    assert len(high) <= 5, high
    assert doc.campaign.c2 == []


def test_evidence_is_capped_at_one_so_the_score_stays_in_its_range() -> None:
    """docs/detectors.md: evidence = min(1, sum(weight x component)); c2_score = spread x (0.4 x
    periodicity + 0.6 x evidence). A known IOC (1.0) reached from a tied source, bare IP and new
    destination sums well over 1; the score of a perfectly periodic, rare pair is then exactly 1
    (0.4 + 0.6), and with half the periodicity 0.8, never more."""
    dst, src = "198.51.100.7", "10.1.0.9"
    ctx = Context(
        window_start=T0,
        population=Population.of(100),
        tied_hosts={src: "lateral movement 10.1.0.5 -> 10.1.0.9"},
        shapes={},
        direct_attempts={},
        proxies={},
    )
    for periodicity, want in ((1.0, 1.0), (0.5, 0.8)):
        row: dict[str, Any] = {
            "src": src,
            "dst": dst,
            "kind": "ip",
            "n": 100,
            "periodicity": periodicity,
            "interval_s": 600.0,
            "dst_first_ts": T0 + 6 * HOUR,
            "names": [],
            "sources": 1,
            "known_ioc": True,
        }
        score_row(row, ctx, None)
        assert row["c2_parts"]["known_ioc"] == row["c2_parts"]["tied"] == 1.0
        assert row["evidence"] == 1.0
        assert row["c2_score"] == pytest.approx(want)


def test_an_address_literal_is_four_decimal_octets() -> None:
    """A dotted-quad IPv4 literal (RFC 791 notation): four decimal numbers below 256."""
    from duqhunt.detectors.net.c2rank import is_ipv4

    assert is_ipv4("206.183.111.97") and is_ipv4("0.0.0.0") and is_ipv4("255.255.255.255")
    for not_one in ("1.2.3", "1.2.3.4.5", "256.1.1.1", "evil.test", "1.2.3.x", ""):
        assert not is_ipv4(not_one), not_one
