"""The Duqu-class intrusion, as telemetry only: delivery, C&C beacons, discovery, lateral
movement with a stolen admin account, and the secure-zone relay over SMB named pipes.

Timeline (D = window length): the lure arrives by mail at about 09:00 UTC on the first day (or
12 % into the window), patient zero starts beaconing minutes after it is opened, discovery
follows, then lateral moves (bridges first, then relays, then the other targets) within
roughly the first 40 % of the window, then the secure zone is infected from its upstream hop.
The second, unlisted C&C is used by the bridges from the middle of the window.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from duqhunt.simulate._background import Context, hash_index
from duqhunt.simulate._blocked import Firewall, blocked_attempt, direct_c2_times
from duqhunt.simulate._emit import Conn
from duqhunt.simulate._world import (
    DOMAIN,
    KNOWN_C2_IP,
    NETBIOS_DOMAIN,
    NEW_C2_IP,
    Host,
    Site,
)

__all__ = [
    "BEACON_PROFILES",
    "DUQU_USER_AGENT",
    "STOLEN_ACCOUNT",
    "IntrusionPlan",
    "run_intrusion",
]

DUQU_USER_AGENT = (
    "Mozilla/5.0 (Windows; U; Windows NT 6.0; en-US; rv:1.9.2.9) Gecko/20100824 "
    "Firefox/3.6.9 (.NET CLR 3.5.30729)"
)
STOLEN_ACCOUNT = "adm_jsmith"
JPEG_NAME = "DSC00001.jpg"
LURE_NAME = "invitation_2011.doc"

_MIN = 60.0
_HOUR = 3600.0
# (driver, encrypted main module) written to ADMIN$ by the "service" moves
_KITS: tuple[tuple[str, str], ...] = (
    ("system32\\drivers\\jminet7.sys", "inf\\netp191.pnf"),
    ("system32\\drivers\\cmi4432.sys", "inf\\cmi4432.pnf"),
)


def _digest(algo: str, name: str) -> str:
    return hashlib.new(algo, f"duqhunt-sim:{name}".encode()).hexdigest()


@dataclass(slots=True)
class IntrusionPlan:
    """Who is what in the intrusion; filled in by :func:`run_intrusion` (ground truth)."""

    patient_zero: Host
    bridges: list[Host]
    relays: list[Host]  # engineering hosts between secure zone and bridge (relay_depth=2)
    others: list[Host]  # lateral targets that neither bridge nor relay
    pipe: str
    infected_at: dict[str, float] = field(default_factory=dict)
    lateral_moves: list[dict[str, object]] = field(default_factory=list)
    relay_edges: list[dict[str, str]] = field(default_factory=list)
    beacon_pairs: list[dict[str, str]] = field(default_factory=list)
    direct_c2_attempts: list[dict[str, object]] = field(default_factory=list)
    discovery: list[dict[str, object]] = field(default_factory=list)
    delivery: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BeaconProfile:
    interval: float
    jitter: float


def _schedule(rng: random.Random, t0: float, t1: float, p: BeaconProfile) -> list[float]:
    out: list[float] = []
    t = t0
    while t < t1:
        out.append(t)
        t += p.interval * (1.0 + rng.uniform(-p.jitter, p.jitter))
    return out


#: beacon_profile values: how the implant talks to its C&C (see SimConfig)
BEACON_PROFILES = ("http", "low_slow", "custom443", "tls_nosni", "proxy")
_SELF_SIGNED_FP = hashlib.sha256(b"duqhunt-sim:c2-self-signed").hexdigest()


def _c2_exchange(
    ctx: Context,
    t: float,
    src: str,
    dst: str,
    port: int,
    post_size: int | None,
    transport: str = "http",
) -> None:
    """One beacon: occasional failed attempts 1 s apart, then GET / (and POST / with a JPEG).

    ``transport`` "custom443": the same exchange as a custom binary protocol on 443/tcp (no TLS,
    so Zeek names no service and writes no ssl or http row); "tls_nosni": TLS on 443 with a
    self-signed certificate and no server name (ssl row without SNI, no http row)."""
    rng, em = ctx.rng, ctx.em
    if transport != "http":
        port = 443
    if rng.random() < 0.06:
        for _ in range(1 if rng.random() < 0.7 else 2):
            em.conn(t, src, dst, port, state="S0")
            t += 1.0 + rng.uniform(-0.01, 0.01)
    if t >= ctx.end:
        return
    if transport in ("custom443", "tls_nosni"):
        ob = rng.randint(90, 160) + (post_size or 0)
        rb = rng.randint(60, 140) + (rng.randint(40, 400) if rng.random() < 0.2 else 0)
        if transport == "tls_nosni":
            ob += rng.randint(500, 560)
            rb += rng.randint(1100, 1200)
        dur = 0.2 + rng.random() * 0.9 + (post_size or 0) / 250_000
        c = em.conn(
            t,
            src,
            dst,
            port,
            service="ssl" if transport == "tls_nosni" else None,
            duration=dur,
            ob=ob,
            rb=rb,
        )
        if transport == "tls_nosni":
            em.ssl(
                c,
                t + 0.02,
                server_name=None,
                resumed=False,
                subject="CN=localhost",
                issuer="CN=localhost",
                cert_fp=_SELF_SIGNED_FP,
                cipher="TLS_RSA_WITH_AES_256_CBC_SHA",
                validation_status="self signed certificate",
            )
        return
    if t >= ctx.end:
        return
    ob = rng.randint(330, 420)
    rb = rng.randint(180, 260)
    if post_size:
        ob += rng.randint(380, 460) + post_size
        rb += rng.randint(180, 260)
    dur = 0.3 + rng.random() * 1.3 + (post_size or 0) / 250_000
    c = em.conn(t, src, dst, port, service="http", duration=dur, ob=ob, rb=rb)
    em.http(c, t + 0.05, depth=1, method="GET", host=dst, uri="/", user_agent=DUQU_USER_AGENT)
    if post_size:
        fuid = em.ident("F")
        tp = t + 0.15 + rng.random() * 0.2
        em.http(
            c,
            tp,
            depth=2,
            method="POST",
            host=dst,
            uri="/",
            user_agent=DUQU_USER_AGENT,
            req_len=post_size,
            orig_fuid=fuid,
            orig_filename=JPEG_NAME,
            orig_mime="image/jpeg",
        )
        em.file(
            c,
            tp,
            fuid,
            source="HTTP",
            is_orig=True,
            mime="image/jpeg",
            size=post_size,
            filename=JPEG_NAME,
            md5=em.hexdigest(16),
            sha1=em.hexdigest(20),
            duration=post_size / 500_000,
        )


def _jpeg_size(rng: random.Random, relayed: bool) -> int:
    return rng.randint(2_500, 14_000) if relayed else rng.randint(1_200, 9_000)


def _ntlm(ctx: Context, c: Conn, ts: float, src: Host, dst: Host) -> None:
    ctx.em.ntlm(
        c,
        ts,
        username=STOLEN_ACCOUNT,
        hostname=src.name,
        domain=NETBIOS_DOMAIN,
        server_name=dst.name,
        server_dns=dst.fqdn,
        tree=DOMAIN,
    )


def _lookup(ctx: Context, ts: float, src: Host, dst: Host) -> None:
    rtt = 0.0004 + ctx.rng.random() * 0.001
    ctx.em.dns(ts - 0.05, src.ip, src.dc, dst.fqdn, (dst.ip,), 1200.0, rtt=rtt)


def _lateral_move(
    ctx: Context, t: float, src: Host, dst: Host, method: str, index: int
) -> dict[str, object]:
    rng, em = ctx.rng, ctx.em
    use_c = method == "task" or index % 3 == 2
    share = "C$" if use_c else "ADMIN$"
    prefix = "Windows\\" if use_c else ""
    if use_c:
        exe = f"{rng.getrandbits(32):08x}.exe"
        files = [(f"{prefix}Temp\\{exe}", exe, rng.randint(60_000, 240_000), True)]
    else:
        driver, module = _KITS[index % len(_KITS)]
        files = [
            (driver, driver.rsplit("\\", 1)[-1], 24_960, True),
            (module, module.rsplit("\\", 1)[-1], rng.randint(190_000, 240_000), False),
        ]
    exec_off = rng.uniform(8.0, 50.0)
    total = sum(size for _, _, size, _ in files)
    _lookup(ctx, t, src, dst)
    c = em.conn(
        t,
        src.ip,
        dst.ip,
        445,
        service="dce_rpc,gssapi,ntlm,smb",
        duration=exec_off + 2.0 + rng.random() * 3,
        ob=total + rng.randint(6000, 12000),
        rb=rng.randint(5000, 11000),
    )
    _ntlm(ctx, c, t + 0.01, src, dst)
    unc = f"\\\\{dst.name}\\{share}"
    em.smb_mapping(c, t + 0.05, unc)
    tf = t + 0.1
    for path, base, size, pe in files:
        fuid = em.ident("F")
        em.smb_file(c, tf, "SMB::FILE_OPEN", unc, path, size=size, fuid=fuid)
        em.smb_file(
            c,
            tf + 0.02,
            "SMB::FILE_WRITE",
            unc,
            path,
            size=size,
            fuid=fuid,
            data_len=min(size, 65536),
        )
        em.file(
            c,
            tf + 0.02,
            fuid,
            source="SMB",
            is_orig=True,
            mime="application/x-dosexec" if pe else None,
            size=size,
            filename=path,
            md5=_digest("md5", base),
            sha1=_digest("sha1", base),
            pe=pe,
            duration=size / 4e7,
        )
        tf += 0.2 + rng.random() * 0.3
    ipc = f"\\\\{dst.name}\\IPC$"
    te = t + exec_off
    em.smb_mapping(c, te - 0.05, ipc, pipe=True)
    if method == "task":
        em.dce_rpc(c, te, "atsvc", "atsvc", ("NetrJobAdd",), ipc_path=ipc)
    else:
        em.dce_rpc(
            c,
            te,
            "svcctl",
            "svcctl",
            ("OpenSCManagerW", "CreateServiceW", "StartServiceW"),
            ipc_path=ipc,
        )
    return {
        "src": src.ip,
        "dst": dst.ip,
        "time": round(t, 6),
        "method": method,
        "share": share,
        "file": files[0][0],
        "account": f"{NETBIOS_DOMAIN}\\{STOLEN_ACCOUNT}",
    }


def _relay_session(ctx: Context, t: float, src: Host, dst: Host, pipe: str) -> float:
    """A short SMB session to ``dst``'s IPC$ carrying pipe traffic; returns its end time."""
    rng, em = ctx.rng, ctx.em
    dur = 0.2 + rng.random() * 2.3
    c = em.conn(
        t,
        src.ip,
        dst.ip,
        445,
        service="smb",
        duration=dur,
        ob=rng.randint(700, 2600),
        rb=rng.randint(500, 2200),
    )
    ipc = f"\\\\{dst.name}\\IPC$"
    em.smb_mapping(c, t + 0.01, ipc, pipe=True)
    em.pipe_open(c, t + 0.02, ipc, pipe)
    return t + dur


def _delivery(ctx: Context, t: float, pz: Host) -> tuple[dict[str, object], float]:
    """The lure arrives by SMTP; the recipient reads it in webmail. Returns (truth, read time)."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    sender = w.mail_peers[hash_index(pz.name, len(w.mail_peers))]
    size = 204_288
    c = em.conn(
        t,
        sender,
        w.mail.ip,
        25,
        service="smtp",
        duration=1.0 + rng.random() * 2,
        ob=size * 4 // 3 + 3000,
        rb=rng.randint(300, 600),
    )
    md5 = _digest("md5", LURE_NAME)
    em.file(
        c,
        t + 0.6,
        em.ident("F"),
        source="SMTP",
        is_orig=True,
        mime="application/msword",
        size=size,
        filename=LURE_NAME,
        md5=md5,
        sha1=_digest("sha1", LURE_NAME),
    )
    # the recipient reads it in webmail a little later
    t_read = t + rng.uniform(5 * _MIN, 25 * _MIN)
    owa = Site(f"mail.{DOMAIN}", (w.mail.ip,), True, "0" * 64, "CN=CORP-CA,DC=corp,DC=local")
    c2 = em.conn(
        t_read,
        pz.ip,
        w.mail.ip,
        443,
        service="ssl",
        duration=2.0 + rng.random() * 3,
        ob=rng.randint(3000, 6000),
        rb=size + rng.randint(20_000, 60_000),
    )
    em.ssl(
        c2,
        t_read + 0.01,
        server_name=owa.name,
        resumed=True,
        subject=owa.subject,
        issuer=owa.issuer,
        cert_fp=owa.cert_fp,
    )
    truth: dict[str, object] = {
        "time": round(t, 6),
        "sender_ip": sender,
        "mail_server": w.mail.ip,
        "recipient": pz.ip,
        "opened": round(t_read, 6),
        "file": LURE_NAME,
        "md5": md5,
    }
    return truth, t_read


def _discovery(ctx: Context, t: float, pz: Host, candidates: list[Host]) -> list[dict[str, object]]:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    out: list[dict[str, object]] = []
    dc = w.dcs[0] if pz.dc == w.dcs[0].ip else w.dcs[1]
    c = em.conn(
        t,
        pz.ip,
        dc.ip,
        445,
        service="gssapi,krb,smb",
        duration=3.0 + rng.random() * 4,
        ob=9000,
        rb=42000,
    )
    ipc = f"\\\\{dc.name}\\IPC$"
    em.smb_mapping(c, t + 0.02, ipc, pipe=True)
    ops = (
        "SamrConnect5",
        "SamrEnumerateDomainsInSamServer",
        "SamrLookupDomainInSamServer",
        "SamrOpenDomain",
        "SamrEnumerateUsersInDomain",
        "SamrOpenGroup",
        "SamrGetMembersInGroup",
        "SamrCloseHandle",
    )
    em.dce_rpc(c, t + 0.05, "samr", "samr", ops, ipc_path=ipc)
    out.append(
        {
            "src": pz.ip,
            "dst": dc.ip,
            "time": round(t, 6),
            "operation": "samr user/group enumeration",
        }
    )
    t += rng.uniform(2 * _MIN, 6 * _MIN)
    for h in candidates:
        _lookup(ctx, t, pz, h)
        c = em.conn(
            t,
            pz.ip,
            h.ip,
            445,
            service="gssapi,krb,smb",
            duration=0.2 + rng.random(),
            ob=2600,
            rb=3100,
        )
        ipc = f"\\\\{h.name}\\IPC$"
        em.smb_mapping(c, t + 0.01, ipc, pipe=True)
        em.dce_rpc(c, t + 0.02, "srvsvc", "srvsvc", ("NetrShareEnum",), ipc_path=ipc)
        out.append({"src": pz.ip, "dst": h.ip, "time": round(t, 6), "operation": "NetrShareEnum"})
        t += rng.uniform(1.0, 8.0)
    return out


def run_intrusion(
    ctx: Context,
    plan: IntrusionPlan,
    *,
    beacon_interval_s: float,
    beacon_jitter: float,
    new_c2: bool,
    blocked: tuple[random.Random, Firewall] | None = None,
    beacon_profile: str = "http",
) -> None:
    """Write all intrusion telemetry and fill ``plan`` with what happened when.

    ``blocked`` (its own generator and the zones' firewall): no-egress implants try their C&C
    directly before they fall back to the relay, and the sensor logs the blocked attempts.
    ``beacon_profile`` (see SimConfig): "low_slow" beacons every ``beacon_interval_s`` when
    that is at least an hour, else every 2 h; "custom443" and "tls_nosni" change the transport
    of every C&C exchange; "proxy" needs the emitter's web proxy (all egress goes through it).
    """
    rng, w = ctx.rng, ctx.world
    start, end = ctx.start, ctx.end
    span = end - start
    transport = beacon_profile if beacon_profile in ("custom443", "tls_nosni") else "http"
    if beacon_profile == "low_slow" and beacon_interval_s < _HOUR:
        beacon_interval_s = 2 * _HOUR
    profile = BeaconProfile(beacon_interval_s, beacon_jitter)
    pz = plan.patient_zero

    # delivery and the first beacons of patient zero
    # 09:00-10:00 UTC on the first day, or 12 % into a window shorter than a day
    t_deliver = start + (9 * _HOUR if span >= 86400.0 else 0.12 * span)
    t_deliver += rng.uniform(0, min(_HOUR, 0.01 * span))
    plan.delivery, t_open = _delivery(ctx, t_deliver, pz)
    t_first = t_open + rng.uniform(60.0, 300.0)
    plan.infected_at[pz.ip] = t_open
    for t in _schedule(rng, t_first, end, profile):
        _c2_exchange(
            ctx,
            t,
            pz.ip,
            KNOWN_C2_IP,
            80,
            _jpeg_size(rng, False) if rng.random() < 0.5 else None,
            transport,
        )
    plan.beacon_pairs.append({"src": pz.ip, "dst": KNOWN_C2_IP})

    # discovery
    t_disc = t_first + min(30 * _MIN, 0.03 * span)
    targets = [*plan.bridges, *plan.relays, *plan.others]
    pool = [h for h in w.hosts if h.role in ("workstation", "server", "file_server")]
    seen: set[str] = set()
    cand: list[Host] = []
    for h in [*targets, *rng.sample(pool, min(len(pool), 8))]:
        if h.ip != pz.ip and h.ip not in seen:
            seen.add(h.ip)
            cand.append(h)
    rng.shuffle(cand)
    plan.discovery = _discovery(ctx, t_disc, pz, cand[:10])

    # lateral movement from patient zero
    t_lat = t_disc + min(2 * _HOUR, 0.06 * span)
    gap = min(40 * _MIN, 0.2 * span / max(1, len(targets)))
    t = t_lat
    for i, dst in enumerate(targets):
        method = "task" if i == len(targets) - 1 and len(targets) > 1 else "service"
        plan.lateral_moves.append(_lateral_move(ctx, t, pz, dst, method, i))
        plan.infected_at[dst.ip] = t
        t += gap * rng.uniform(0.6, 1.4)

    # the secure zone, infected from its upstream hop, then relaying through it
    n_b = len(plan.bridges)
    upstream_of: dict[str, Host] = {}
    bridge_of: dict[str, Host] = {}
    for i, r in enumerate(plan.relays):
        bridge_of[r.ip] = plan.bridges[i % n_b]
        upstream_of[r.ip] = plan.bridges[i % n_b]
    for i, s in enumerate(w.secure):
        b = plan.bridges[i % n_b]
        bridge_of[s.ip] = b
        upstream_of[s.ip] = plan.relays[i % n_b] if plan.relays else b
    t_sz = t + min(30 * _MIN, 0.02 * span)
    for i, s in enumerate(w.secure):
        up = upstream_of[s.ip]
        t_sz = max(t_sz, plan.infected_at[up.ip] + 10 * _MIN)
        plan.lateral_moves.append(_lateral_move(ctx, t_sz, up, s, "service", i))
        plan.infected_at[s.ip] = t_sz
        t_sz += min(8 * _MIN, 0.01 * span) * rng.uniform(0.6, 1.4)

    port_of = {b.ip: (443 if i % 2 == 0 else 80) for i, b in enumerate(plan.bridges)}

    def relay_chain(t0: float, src: Host) -> None:
        """src's session to its upstream, forwarded hop by hop, then the bridge's burst."""
        t_end = _relay_session(ctx, t0, src, upstream_of[src.ip], plan.pipe)
        hop = upstream_of[src.ip]
        while hop.ip in upstream_of:  # a relay forwards to its bridge
            t1 = t_end + rng.uniform(0.3, 2.0)
            if t1 >= end:
                return
            t_end = _relay_session(ctx, t1, hop, upstream_of[hop.ip], plan.pipe)
            hop = upstream_of[hop.ip]
        t2 = t_end + rng.uniform(0.8, 4.0)
        if t2 < end:
            _c2_exchange(
                ctx, t2, hop.ip, KNOWN_C2_IP, port_of[hop.ip], _jpeg_size(rng, True), transport
            )

    each_cycle = blocked is not None and blocked[0].random() < 0.5
    for h in (*plan.relays, *w.secure):
        t0 = plan.infected_at[h.ip] + rng.uniform(2 * _MIN, 5 * _MIN)
        cycles = _schedule(rng, t0, end, profile)
        if blocked is None:
            for ts in cycles:
                relay_chain(ts, h)
        else:
            brng, fw = blocked
            c2_port = port_of[bridge_of[h.ip].ip]
            tries = direct_c2_times(brng, cycles, each_cycle)
            n_tries = 0
            for i, ts in enumerate(cycles):
                if i in tries:
                    # the first start-up probe tries both web ports; later ones the configured
                    ports = (c2_port, 80 if c2_port == 443 else 443) if i == 0 else (c2_port,)
                    for port in ports:
                        n_tries += 1 if ts < end else 0  # the sensor's window
                        ts += blocked_attempt(ctx.em, brng, fw, ts, h, KNOWN_C2_IP, port)
                        ts += brng.uniform(0.05, 0.5)
                if ts < end:
                    relay_chain(ts, h)
            plan.direct_c2_attempts.append(
                {"src": h.ip, "dst": KNOWN_C2_IP, "count": n_tries, "each_cycle": each_cycle}
            )
        plan.relay_edges.append({"src": h.ip, "dst": upstream_of[h.ip].ip, "pipe": plan.pipe})

    # the bridges' own beacons, and the second C&C from the middle of the window
    for b in plan.bridges:
        t0 = plan.infected_at[b.ip] + rng.uniform(2 * _MIN, 5 * _MIN)
        for ts in _schedule(rng, t0, end, profile):
            _c2_exchange(
                ctx,
                ts,
                b.ip,
                KNOWN_C2_IP,
                port_of[b.ip],
                _jpeg_size(rng, False) if rng.random() < 0.5 else None,
                transport,
            )
        plan.beacon_pairs.append({"src": b.ip, "dst": KNOWN_C2_IP})
        if new_c2:
            t0 = max(start + span / 2, t0) + rng.uniform(0, beacon_interval_s)
            for ts in _schedule(rng, t0, end, profile):
                _c2_exchange(
                    ctx,
                    ts,
                    b.ip,
                    NEW_C2_IP,
                    80,
                    _jpeg_size(rng, False) if rng.random() < 0.5 else None,
                    transport,
                )
            plan.beacon_pairs.append({"src": b.ip, "dst": NEW_C2_IP})
