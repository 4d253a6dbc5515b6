"""Egress that a firewall blocks, as the sensor in front of it logs it (``blocked_egress``).

The secure zone and the engineering hosts have no internet access, but their machines do not
know it: Windows Update, certificate-list fetches, diagnostic telemetry and the network
connectivity probe keep trying; users try web sites; some software asks public resolvers
directly; lab machines poll public NTP servers. Names resolve through the domain controller
(it forwards), so the DNS queries succeed and the connections fail. The sensor logs each failed
connection as the firewall leaves it:

* dropped TCP: ``S0``, history ``S``, the SYN sent three times over 9 s (Windows gives up
  after 21 s), no bytes either way;
* TCP to the web ports of a zone whose firewall rejects instead of dropping: ``REJ``
  (history ``Sr``, a reset in reply, no bytes);
* UDP (DNS, NTP): ``S0``, history ``D``, the datagram's payload outbound and nothing back;
* rarely a half-open ``SH`` (SYN then FIN) or a lone FIN or RST (``OTH``, one packet).

Hosts with egress use the same ordinary destinations successfully (telemetry, the connectivity
probe), as every Windows machine does, so those addresses are common, not rare.

An infected no-egress host also tries its C&C directly before it falls back to its relay: per
simulation the implant either tries before every beacon (each cycle waits out the failed
connect, then relays) or probes at start-up on both web ports and again every 2-6 hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from duqhunt.simulate._background import Context
from duqhunt.simulate._emit import Emitter
from duqhunt.simulate._world import NTP_SERVERS, Host, Site

__all__ = ["Firewall", "blocked_attempt", "blocked_background", "firewall"]

_HOUR = 3600.0
_DAY = 86400.0

TELEMETRY = Site("v10.events.data.microsoft.com", ("20.42.65.92",), True, "t" * 64, "", 300.0)
NCSI = Site("www.msftconnecttest.com", ("13.107.4.52",), False, "", "", 300.0)
TIME_WINDOWS = Site("time.windows.com", ("40.119.6.228",), False, "", "", 3600.0)
PUBLIC_RESOLVERS = ("8.8.8.8", "8.8.4.4", "1.1.1.1")
_NCSI_UA = "Microsoft NCSI"
_NO_EGRESS_ROLES = ("secure", "engineering")


@dataclass(frozen=True, slots=True)
class Firewall:
    """How the boundary answers a blocked connection, per zone (host role)."""

    reject_web: frozenset[str]  # roles whose firewall resets TCP 80/443 instead of dropping


def firewall(rng: random.Random) -> Firewall:
    return Firewall(frozenset(r for r in _NO_EGRESS_ROLES if rng.random() < 0.5))


def blocked_attempt(
    em: Emitter,
    rng: random.Random,
    fw: Firewall,
    ts: float,
    host: Host,
    dst: str,
    port: int,
    *,
    proto: str = "tcp",
    payload: int = 0,
) -> float:
    """One blocked connection attempt; returns how long the client waits before it gives up."""
    if proto == "udp":
        em.attempt(ts, host.ip, dst, port, proto="udp", state="S0", history="D", ob=payload)
        return 2.0
    if port in (80, 443) and host.role in fw.reject_web:
        em.attempt(
            ts,
            host.ip,
            dst,
            port,
            state="REJ",
            history="Sr",
            resp_pkts=1,
            duration=0.0003 + rng.random() * 0.002,
        )
        return 1.0 + rng.random()  # Windows retries a reset SYN twice, 0.5 s apart
    r = rng.random()
    if r < 0.015:  # a lone FIN or RST of a socket the stack tears down
        em.attempt(ts, host.ip, dst, port, state="OTH", history=rng.choice(("F", "R")))
        return 0.0
    if r < 0.03:  # SYN, then FIN when the application closes before the handshake
        dur = rng.uniform(0.5, 3.0)
        em.attempt(ts, host.ip, dst, port, state="SH", history="SF", orig_pkts=2, duration=dur)
        return dur
    em.attempt(
        ts,
        host.ip,
        dst,
        port,
        state="S0",
        history="S",
        orig_pkts=3,
        duration=9.0 + rng.uniform(0.0, 0.03),
    )
    return 21.0


def _poisson_times(rng: random.Random, t0: float, t1: float, per_hour: float) -> list[float]:
    out: list[float] = []
    t = t0 + rng.expovariate(per_hour / _HOUR)
    while t < t1:
        out.append(t)
        t += rng.expovariate(per_hour / _HOUR)
    return out


def _try(ctx: Context, fw: Firewall, t: float, h: Host, site: Site, port: int) -> None:
    """Resolve through the DC (answered), then the blocked connection."""
    ip = ctx.resolve(t, h, site)
    blocked_attempt(ctx.em, ctx.rng, fw, t + 0.002, h, ip, port)


def blocked_background(
    ctx: Context, fw: Firewall, present: dict[str, list[tuple[float, float]]]
) -> int:
    """The ordinary attempts of every no-egress host, and the same ordinary destinations
    reached by hosts with egress. Returns the number of blocked attempts in the window."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    start, end = ctx.start, ctx.end
    before = len(em.rows["conn"])
    blocked_hosts = (*w.engineering, *w.secure)
    misconfigured_ntp = rng.choice(w.secure) if w.secure else None
    for h in blocked_hosts:
        # Windows Update: about hourly, the first host (sls) fails and the cycle ends there
        if rng.random() < 0.92:
            t = start + rng.random() * _HOUR
            while t < end:
                _try(ctx, fw, t, h, w.wu[0], 443)
                t += _HOUR * (1.0 + rng.uniform(-0.1, 0.1))
        # certificate trust list, diagnostic telemetry: at random through the day
        for t in _poisson_times(rng, start, end, 0.25):
            _try(ctx, fw, t, h, w.ctl, 80)
        for t in _poisson_times(rng, start, end, 1.5):
            _try(ctx, fw, t, h, TELEMETRY, 443)
        # the connectivity probe when the user logs on, and the user's own tries at the web
        for arrive, leave in present.get(h.ip, []):
            _try(ctx, fw, arrive + rng.uniform(5.0, 40.0), h, NCSI, 80)
            for t in _poisson_times(rng, arrive, leave, 0.4):
                site = w.sites[rng.randrange(min(60, len(w.sites)))]
                port = 443 if site.https else 80
                ip = ctx.resolve(t, h, site)
                blocked_attempt(em, rng, fw, t + 0.003, h, ip, port)
                blocked_attempt(em, rng, fw, t + 0.004 + rng.random() * 0.05, h, ip, port)
        # software with its own resolver (a third of the hosts), a few bursts a day
        if rng.random() < 1 / 3:
            for t in _poisson_times(rng, start, end, 0.15):
                for k, resolver in enumerate(PUBLIC_RESOLVERS[:2]):
                    blocked_attempt(
                        em,
                        rng,
                        fw,
                        t + k * 1.0,
                        h,
                        resolver,
                        53,
                        proto="udp",
                        payload=rng.randint(28, 45),
                    )
        # lab machines poll public NTP servers (ntpd, 1024 s); one secure host has w32time
        # pointed at time.windows.com (hourly) instead of the domain hierarchy
        ntp: list[tuple[str, float]] = []
        if h.role == "engineering":
            ntp = [(ip, 1024.0) for _, ip in rng.sample(list(NTP_SERVERS), 2)]
        elif h is misconfigured_ntp:
            ntp = [(TIME_WINDOWS.ips[0], _HOUR)]
        for ip, every in ntp:
            t = start + rng.random() * every
            while t < end:
                blocked_attempt(em, rng, fw, t, h, ip, 123, proto="udp", payload=48)
                t += every + rng.uniform(-0.05, 0.05)
    # what the sensor logs of them: rows to external addresses that start inside the window
    written = 0
    for r in em.rows["conn"][before:]:
        ts = r["ts"]
        if not str(r["id.resp_h"]).startswith("10.") and isinstance(ts, float) and ts < end:
            written += 1
    # hosts with egress reach the same ordinary destinations: they are common, not rare
    for h in w.hosts:
        if not h.egress or h.role == "printer":
            continue
        for t in _poisson_times(rng, start, end, 0.5):
            ip = ctx.resolve(t, h, TELEMETRY)
            c = em.conn(
                t + 0.002,
                h.ip,
                ip,
                443,
                service="ssl",
                duration=rng.uniform(0.2, 1.5),
                ob=rng.randint(2000, 30000),
                rb=rng.randint(400, 1200),
            )
            em.ssl(
                c,
                t + 0.01,
                server_name=TELEMETRY.name,
                resumed=rng.random() < 0.6,
                subject=TELEMETRY.subject,
                issuer="CN=Microsoft Azure TLS Issuing CA 01,O=Microsoft Corporation,C=US",
                cert_fp=TELEMETRY.cert_fp,
            )
        for arrive, _leave in present.get(h.ip, []):
            t = arrive + rng.uniform(5.0, 40.0)
            ip = ctx.resolve(t, h, NCSI)
            c = em.conn(t + 0.002, h.ip, ip, 80, service="http", duration=0.05, ob=180, rb=240)
            em.http(
                c,
                t + 0.01,
                depth=1,
                method="GET",
                host=NCSI.name,
                uri="/connecttest.txt",
                user_agent=_NCSI_UA,
                resp_len=22,
                resp_mime="text/plain",
            )
    return written


def direct_c2_times(rng: random.Random, cycles: list[float], each_cycle: bool) -> set[int]:
    """Which beacon cycles of a no-egress implant start with a direct try of its C&C: every
    cycle, or the first and then the first cycle after each re-probe 2-6 hours apart."""
    if not cycles:
        return set()
    if each_cycle:
        return set(range(len(cycles)))
    out = {0}
    due = cycles[0] + rng.uniform(2.0, 6.0) * _HOUR
    for i, t in enumerate(cycles):
        if t >= due:
            out.add(i)
            due = t + rng.uniform(2.0, 6.0) * _HOUR
    return out
