"""Benign enterprise traffic: the haystack, including the things that look like needles.

Deliberate look-alikes of the intrusion (so detectors must earn their keep):

* periodic external services that are as regular as a C&C beacon or more so (NTP, Windows
  Update, AV telemetry, a monitoring agent), listed in the ground truth;
* the management server ``MGMT01`` with account ``svc_sccm`` maps ``C$`` on most hosts every
  night over NTLM and, on a few hosts a day, pushes ``ccmsetup.exe`` to ``ADMIN$`` and creates a
  service over ``\\pipe\\svcctl`` (exactly the lateral-movement pattern);
* the IT administrator ``jsmith`` uses ``adm_jsmith`` (the account the intruder steals) from
  his own workstation WS001 over Kerberos for RDP and ``C$`` access to servers;
* the standard pipes (lsarpc, samr, srvsvc) are used by every workstation;
* rare benign HTTP uploads of JPEG photos (modern browser, named host, large, not periodic).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from duqhunt.simulate._emit import Conn, Emitter
from duqhunt.simulate._world import (
    AV_UPDATE_HOST,
    BACKUP_HOST,
    CAMERA_CLOUD_IP,
    CAMERA_NET,
    DOMAIN,
    LICENCE_HOST,
    NETBIOS_DOMAIN,
    REALM,
    UPS_CLOUD_IP,
    Host,
    PeriodicService,
    Site,
    World,
)

__all__ = ["Context", "generate_background", "regular_services"]

_HOUR = 3600.0
_DAY = 86400.0


def _split(text: str) -> tuple[str, ...]:
    """A tuple of the whitespace-separated words in ``text`` (compact data tables)."""
    return tuple(text.split())


_GPT_INI = f"{DOMAIN}\\Policies\\{{31B2F340-016D-11D2-945F-00C04FB984F9}}\\gpt.ini"
_MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "txt": "text/plain",
}
_DOC_WORDS = _split(
    """
    budget report minutes plan proposal schedule invoice contract design review forecast status
    summary notes specification
    """
)
_DEPTS = ("Finance", "Engineering", "Sales", "HR", "Operations", "Legal", "Projects")
_WEB_PATHS = (
    ("/", "text/html", 9.5),
    ("/index.html", "text/html", 9.5),
    ("/news/{n}.html", "text/html", 10.0),
    ("/img/{h}.jpg", "image/jpeg", 10.5),
    ("/img/{h}.png", "image/png", 9.0),
    ("/js/app.{h}.js", "application/javascript", 10.0),
    ("/css/site.css", "text/css", 8.5),
    ("/favicon.ico", "image/x-icon", 7.0),
)
_CRYPTOAPI_UA = "Microsoft-CryptoAPI/10.0"


class Context:
    """Shared state of one simulation run: generator, emitter, world, window, DNS caches."""

    __slots__ = ("_dns_cache", "em", "end", "rng", "start", "world")

    def __init__(self, rng: random.Random, em: Emitter, world: World, start: float, end: float):
        self.rng = rng
        self.em = em
        self.world = world
        self.start = start
        self.end = end
        self._dns_cache: dict[tuple[str, str], float] = {}

    def days(self) -> list[tuple[float, bool]]:
        """(midnight UTC, is a weekday) for every calendar day touching the window."""
        out: list[tuple[float, bool]] = []
        day = math.floor(self.start / _DAY) * _DAY
        while day < self.end:
            out.append((day, datetime.fromtimestamp(day, tz=UTC).weekday() < 5))
            day += _DAY
        return out

    def resolve(self, ts: float, host: Host, site: Site) -> str:
        """The address ``host`` uses for ``site``; logs a DNS lookup when its cache expired."""
        ip = site.ips[0] if len(site.ips) == 1 else self.rng.choice(site.ips)
        key = (host.ip, site.name)
        if self._dns_cache.get(key, 0.0) <= ts:
            self._dns_cache[key] = ts + site.ttl
            rtt = 0.004 + self.rng.random() * 0.05
            self.em.dns(ts - rtt - 0.002, host.ip, host.dc, site.name, site.ips, site.ttl, rtt=rtt)
        return ip

    def resolve_internal(self, ts: float, host: Host, target: Host) -> None:
        key = (host.ip, target.name)
        if self._dns_cache.get(key, 0.0) <= ts:
            self._dns_cache[key] = ts + 1200.0
            rtt = 0.0003 + self.rng.random() * 0.0015
            self.em.dns(
                ts - rtt - 0.001, host.ip, host.dc, target.fqdn, (target.ip,), 1200.0, rtt=rtt
            )


def _clip(ctx: Context, a: float, b: float) -> tuple[float, float] | None:
    a, b = max(a, ctx.start), min(b, ctx.end)
    return (a, b) if b - a > 600.0 else None


def presence(ctx: Context) -> dict[str, list[tuple[float, float]]]:
    """When each user sits at their machine (UTC work hours, few people at weekends)."""
    rng = ctx.rng
    w = ctx.world
    out: dict[str, list[tuple[float, float]]] = {}
    days = ctx.days()
    for h in (*w.workstations, *w.engineering, *w.secure):
        spans: list[tuple[float, float]] = []
        for day, weekday in days:
            if weekday:
                if rng.random() < 0.05:
                    continue
                arrive = day + min(10.5 * _HOUR, max(6 * _HOUR, rng.gauss(8 * _HOUR, 0.5 * _HOUR)))
                leave = day + min(
                    20 * _HOUR, max(arrive - day + 3 * _HOUR, rng.gauss(16.75 * _HOUR, 0.6 * _HOUR))
                )
            else:
                if rng.random() >= 0.08:
                    continue
                arrive = day + rng.uniform(9 * _HOUR, 14 * _HOUR)
                leave = arrive + rng.uniform(1 * _HOUR, 4 * _HOUR)
            span = _clip(ctx, arrive, leave)
            if span is not None:
                spans.append(span)
        out[h.ip] = spans
    return out


# -- periodic external services ------------------------------------------------------------------
def _tls(
    ctx: Context,
    ts: float,
    src: Host,
    ip: str,
    site: Site,
    *,
    duration: float,
    ob: int,
    rb: int,
    resumed: bool,
    port: int = 443,
    next_protocol: str | None = None,
) -> Conn:
    c = ctx.em.conn(ts, src.ip, ip, port, service="ssl", duration=duration, ob=ob, rb=rb)
    ctx.em.ssl(
        c,
        ts + 0.01,
        server_name=site.name,
        resumed=resumed,
        subject=site.subject,
        issuer=site.issuer,
        cert_fp=site.cert_fp,
        next_protocol=next_protocol,
    )
    return c


def periodic_services(ctx: Context) -> None:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    start, end = ctx.start, ctx.end
    # NTP: ntpd on three servers polls two pool servers each every 1024 s.
    for h in w.ntp_clients:
        for site in rng.sample(list(w.ntp), 2):
            t = start + rng.random() * 1024.0
            while t < end:
                ip = ctx.resolve(t, h, site)
                em.conn(
                    t,
                    h.ip,
                    ip,
                    123,
                    proto="udp",
                    service="ntp",
                    duration=rng.uniform(0.01, 0.04),
                    ob=48,
                    rb=48,
                    sport=123,
                )
                t += 1024.0 + rng.uniform(-0.05, 0.05)
    egress = [h for h in w.hosts if h.egress]
    # AV/EDR telemetry: every host with egress, every 900 s +-1.5 s.
    for h in egress:
        t = start + rng.random() * 900.0
        while t < end:
            ip = ctx.resolve(t, h, w.av)
            _tls(
                ctx,
                t + 0.03,
                h,
                ip,
                w.av,
                duration=rng.uniform(0.25, 1.2),
                ob=rng.randint(1800, 4200),
                rb=rng.randint(600, 1500),
                resumed=rng.random() < 0.85,
            )
            t += 900.0 + rng.uniform(-1.5, 1.5)
    # Windows Update: most hosts, about hourly (+-10 %), sls then fe2, sometimes a CTL fetch.
    sls, fe2 = w.wu
    for h in egress:
        if rng.random() >= 0.92:
            continue
        t = start + rng.random() * _HOUR
        while t < end:
            ip = ctx.resolve(t, h, sls)
            _tls(
                ctx,
                t + 0.03,
                h,
                ip,
                sls,
                duration=rng.uniform(0.3, 1.0),
                ob=rng.randint(1200, 2400),
                rb=rng.randint(3000, 7000),
                resumed=rng.random() < 0.5,
            )
            t2 = t + rng.uniform(1.0, 5.0)
            ip = ctx.resolve(t2, h, fe2)
            _tls(
                ctx,
                t2 + 0.03,
                h,
                ip,
                fe2,
                duration=rng.uniform(0.8, 4.0),
                ob=rng.randint(3000, 9000),
                rb=rng.randint(8000, 60000),
                resumed=rng.random() < 0.5,
            )
            if rng.random() < 0.25:
                t3 = t2 + rng.uniform(2.0, 8.0)
                ip = ctx.resolve(t3, h, w.ctl)
                _plain_http(
                    ctx,
                    t3 + 0.02,
                    h,
                    ip,
                    w.ctl.name,
                    _CRYPTOAPI_UA,
                    [
                        (
                            "/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
                            "application/vnd.ms-cab-compressed",
                            rng.choice((0, 18_234)),
                        )
                    ],
                )
            t += _HOUR * (1.0 + rng.uniform(-0.1, 0.1))
    # Monitoring agent on the servers: every 60 s +-0.3 s to the SaaS collector.
    for h in w.monitored:
        t = start + rng.random() * 60.0
        while t < end:
            ip = ctx.resolve(t, h, w.monitor)
            _tls(
                ctx,
                t + 0.02,
                h,
                ip,
                w.monitor,
                duration=rng.uniform(0.05, 0.3),
                ob=rng.randint(900, 2600),
                rb=rng.randint(200, 400),
                resumed=rng.random() < 0.95,
            )
            t += 60.0 + rng.uniform(-0.3, 0.3)


_CAMERA_UA = "IPCam-Uploader/2.3.7 (Linux; HiSilicon Hi3518EV200)"
_AV_UPDATE_UA = "KestrelAV-Updater/5.1.2204"
_UPS_UA = "UPSLink-Agent/4.0"


def regular_services(ctx: Context) -> list[PeriodicService]:
    """The ``benign_periodic`` services: more regular than any C&C and some from hundreds of
    hosts, running day and night (daemons, devices), most from before the window opens.

    * a CAD licence daemon on ~70 % of workstations and APP01: TLS heartbeat every 900 s
      (+-0.3 s) to one vendor address;
    * IP cameras (10.0.4.x, one per ~25 hosts, no DNS: the address is in the firmware) POST a
      JPEG snapshot every 300-600 s (each camera its own period, +-1 s) by plain HTTP to a
      cloud address;
    * AV signature manifest checks: every host with egress, hourly (+-2 s), HTTP GET of a
      manifest (mostly 304 Not Modified);
    * a UPS on APP01's agent polls its vendor's bare address every 120 s (one host, bare IP);
    * a backup agent on DB01 checks in with its cloud vault every 1800 s over TLS.
    """
    rng, em, w = ctx.rng, ctx.em, ctx.world
    start, end = ctx.start, ctx.end
    app, db = (next(h for h in w.hosts if h.name == n) for n in ("APP01", "DB01"))
    out: list[PeriodicService] = []

    lic_site = Site(LICENCE_HOST[0], (LICENCE_HOST[1],), True, "lic" * 21 + "f", _ISSUER_LIC)
    lic_hosts = [h for h in w.workstations if rng.random() < 0.7] + [app]
    for h in lic_hosts:
        t = start + rng.random() * 900.0
        while t < end:
            ip = ctx.resolve(t, h, lic_site)
            _tls(
                ctx,
                t + 0.02,
                h,
                ip,
                lic_site,
                duration=rng.uniform(0.08, 0.2),
                ob=rng.randint(610, 660),
                rb=rng.randint(420, 450),
                resumed=rng.random() < 0.9,
            )
            t += 900.0 + rng.uniform(-0.3, 0.3)
    out.append(
        PeriodicService("licence_heartbeat", LICENCE_HOST[1], LICENCE_HOST[0], 443, "tcp", 900.0)
    )

    n_cams = max(4, len(w.hosts) // 25)
    for i in range(n_cams):
        cam = f"{CAMERA_NET}{20 + i}"
        period = float(rng.randint(300, 600))
        t = start + rng.random() * period
        while t < end:
            size = rng.randint(38_000, 140_000)
            c = em.conn(
                t,
                cam,
                CAMERA_CLOUD_IP,
                80,
                service="http",
                duration=0.2 + size / 400_000,
                ob=size + rng.randint(380, 420),
                rb=rng.randint(230, 260),
            )
            fuid = em.ident("F")
            em.http(
                c,
                t + 0.01,
                depth=1,
                method="POST",
                host=CAMERA_CLOUD_IP,
                uri=f"/api/v1/snapshot?cam={i + 1:04d}",
                user_agent=_CAMERA_UA,
                req_len=size,
                orig_fuid=fuid,
                orig_filename="snapshot.jpg",
                orig_mime="image/jpeg",
            )
            em.file(
                c,
                t + 0.01,
                fuid,
                source="HTTP",
                is_orig=True,
                mime="image/jpeg",
                size=size,
                filename="snapshot.jpg",
                md5=em.hexdigest(16),
                sha1=em.hexdigest(20),
                duration=size / 400_000,
            )
            t += period + rng.uniform(-1.0, 1.0)
    out.append(PeriodicService("camera_snapshots", CAMERA_CLOUD_IP, None, 80, "tcp", 450.0))

    av_site = Site(AV_UPDATE_HOST[0], (AV_UPDATE_HOST[1],), False, "", "", ttl=3600.0)
    for h in (h for h in w.hosts if h.egress):
        t = start + rng.random() * _HOUR
        while t < end:
            ip = ctx.resolve(t, h, av_site)
            changed = rng.random() < 0.04
            _plain_http(
                ctx,
                t + 0.02,
                h,
                ip,
                av_site.name,
                _AV_UPDATE_UA,
                [("/av/manifest/daily.xml", "text/xml", 48_213 if changed else 0)],
            )
            t += _HOUR + rng.uniform(-2.0, 2.0)
    out.append(
        PeriodicService("av_manifest", AV_UPDATE_HOST[1], AV_UPDATE_HOST[0], 80, "tcp", _HOUR)
    )

    t = start + rng.random() * 120.0
    while t < end:
        _plain_http(
            ctx,
            t,
            app,
            UPS_CLOUD_IP,
            UPS_CLOUD_IP,
            _UPS_UA,
            [("/status.json", "application/json", rng.randint(300, 340))],
        )
        t += 120.0 + rng.uniform(-0.2, 0.2)
    out.append(PeriodicService("ups_status", UPS_CLOUD_IP, None, 80, "tcp", 120.0))

    vault = Site(BACKUP_HOST[0], (BACKUP_HOST[1],), True, "bk" * 32, _ISSUER_LIC)
    t = start + rng.random() * 1800.0
    while t < end:
        ip = ctx.resolve(t, db, vault)
        _tls(
            ctx,
            t + 0.02,
            db,
            ip,
            vault,
            duration=rng.uniform(0.3, 0.9),
            ob=rng.randint(2200, 2600),
            rb=rng.randint(900, 1100),
            resumed=False,
        )
        t += 1800.0 + rng.uniform(-0.5, 0.5)
    out.append(
        PeriodicService("backup_checkin", BACKUP_HOST[1], BACKUP_HOST[0], 443, "tcp", 1800.0)
    )
    return out


_ISSUER_LIC = "CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,C=GB"


# -- web browsing --------------------------------------------------------------------------------
def _plain_http(
    ctx: Context,
    ts: float,
    src: Host,
    ip: str,
    host_header: str,
    ua: str,
    requests: list[tuple[str, str, int]],
    *,
    upload: tuple[str, int] | None = None,
) -> None:
    """One HTTP connection with ``requests`` (uri, mime, body length; 0 = 304 Not Modified)."""
    rng, em = ctx.rng, ctx.em
    ob = sum(rng.randint(350, 700) for _ in requests) + (upload[1] if upload else 0)
    rb = sum(size + rng.randint(200, 450) for _, _, size in requests)
    dur = 0.05 + rng.random() * 0.4 * len(requests) + rb / 2_000_000 + ob / 500_000
    c = em.conn(ts, src.ip, ip, 80, service="http", duration=dur, ob=ob, rb=rb)
    t = ts + 0.01
    referrer: str | None = None
    for depth, (uri, mime, size) in enumerate(requests, start=1):
        fuid = em.ident("F") if size else None
        if upload is not None and depth == 1:
            ofuid = em.ident("F")
            name, usize = upload
            em.http(
                c,
                t,
                depth=depth,
                method="POST",
                host=host_header,
                uri="/upload.php",
                user_agent=ua,
                status=200,
                req_len=usize,
                resp_len=size,
                orig_fuid=ofuid,
                orig_filename=name,
                orig_mime="image/jpeg",
                resp_fuid=fuid,
                resp_mime=mime,
            )
            em.file(
                c,
                t,
                ofuid,
                source="HTTP",
                is_orig=True,
                mime="image/jpeg",
                size=usize,
                filename=name,
                md5=em.hexdigest(16),
                sha1=em.hexdigest(20),
                duration=usize / 2e6,
            )
        else:
            em.http(
                c,
                t,
                depth=depth,
                method="GET",
                host=host_header,
                uri=uri,
                user_agent=ua,
                status=200 if size else 304,
                resp_len=size,
                referrer=referrer,
                resp_fuid=fuid,
                resp_mime=mime if size else None,
            )
        if fuid is not None:
            em.file(
                c,
                t + 0.01,
                fuid,
                source="HTTP",
                is_orig=False,
                mime=mime,
                size=size,
                md5=em.hexdigest(16),
                sha1=em.hexdigest(20),
                duration=size / 4e6,
            )
        referrer = f"http://{host_header}/"
        t += 0.02 + rng.random() * 0.3


def _web_requests(rng: random.Random, n: int) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for _ in range(n):
        path, mime, mu = rng.choice(_WEB_PATHS)
        uri = path.format(n=rng.randint(1000, 99999), h=f"{rng.getrandbits(32):08x}")
        size = 0 if rng.random() < 0.1 else int(rng.lognormvariate(mu, 0.8))
        out.append((uri, mime, size))
    return out


def _visit(ctx: Context, ws: Host, ua: str, site: Site, t: float) -> None:
    rng = ctx.rng
    ip = ctx.resolve(t, ws, site)
    t += 0.01 + rng.random() * 0.05
    n_conns = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
    for k in range(n_conns):
        if site.https:
            rb = int(rng.lognormvariate(10.0, 1.3))
            _tls(
                ctx,
                t,
                ws,
                ip,
                site,
                duration=0.1 + rng.random() * 20 + rb / 1_000_000,
                ob=rng.randint(600, 5000),
                rb=rb,
                resumed=k > 0 or rng.random() < 0.3,
                next_protocol="h2" if rng.random() < 0.7 else "http/1.1",
            )
        else:
            _plain_http(ctx, t, ws, ip, site.name, ua, _web_requests(rng, rng.randint(1, 4)))
        t += 0.05 + rng.random() * 3.0


def browsing(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    rng, w = ctx.rng, ctx.world
    sites, cum = w.sites, w.site_cum_weights
    http_sites = [s for s in sites if not s.https]
    for ws in w.workstations:
        ua = w.user_agent[ws.ip]
        favourites = rng.choices(sites, cum_weights=cum, k=8)
        for arrive, leave in present.get(ws.ip, []):
            span = leave - arrive
            n = max(3, int(rng.gauss(55.0, 15.0) * span / (9 * _HOUR)))
            for t in sorted(arrive + rng.random() * span for _ in range(n)):
                if rng.random() < 0.45:
                    site = rng.choice(favourites)
                else:
                    site = rng.choices(sites, cum_weights=cum)[0]
                _visit(ctx, ws, ua, site, t)
                if rng.random() < 0.35:
                    cdn = rng.choice(w.cdns)
                    _visit(ctx, ws, ua, cdn, t + 0.3 + rng.random())
            if rng.random() < 0.03:  # a benign photo upload
                site = rng.choice(http_sites)
                t = arrive + rng.random() * span
                ip = ctx.resolve(t, ws, site)
                name = f"IMG_{rng.randint(1000, 9999)}.JPG"
                _plain_http(
                    ctx,
                    t + 0.02,
                    ws,
                    ip,
                    site.name,
                    ua,
                    [("/upload.php", "text/html", 2400)],
                    upload=(name, rng.randint(800_000, 4_000_000)),
                )


# -- Windows domain ------------------------------------------------------------------------------
def _dc_of(w: World, h: Host) -> Host:
    return w.dcs[0] if h.dc == w.dcs[0].ip else w.dcs[1]


def _krb(
    ctx: Context, ts: float, h: Host, dc: Host, request_type: str, client: str, service: str
) -> None:
    rng, em = ctx.rng, ctx.em
    if request_type == "AS" and rng.random() < 0.7:
        c = em.conn(ts, h.ip, dc.ip, 88, service="krb_tcp", duration=0.002, ob=230, rb=190)
        em.kerberos(
            c,
            ts + 0.001,
            request_type="AS",
            client=client,
            service=service,
            success=False,
            error_msg="KDC_ERR_PREAUTH_REQUIRED",
        )
        ts += 0.01
    c = em.conn(
        ts,
        h.ip,
        dc.ip,
        88,
        service="krb_tcp",
        duration=0.003 + rng.random() * 0.01,
        ob=rng.randint(1300, 1700),
        rb=rng.randint(1400, 1800),
    )
    em.kerberos(c, ts + 0.002, request_type=request_type, client=client, service=service)


def _smb_dc_session(ctx: Context, ts: float, h: Host, *, logon: bool) -> None:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    dc = _dc_of(w, h)
    c = em.conn(
        ts,
        h.ip,
        dc.ip,
        445,
        service="gssapi,krb,smb",
        duration=0.2 + rng.random() * 2,
        ob=rng.randint(3000, 9000),
        rb=rng.randint(4000, 12000),
    )
    t = ts + 0.01
    if logon:
        ipc = f"\\\\{dc.name}\\IPC$"
        em.smb_mapping(c, t, ipc, pipe=True)
        t = em.dce_rpc(
            c,
            t + 0.01,
            "lsarpc",
            "lsarpc",
            ("LsarOpenPolicy2", "LsarLookupNames3", "LsarClose"),
            ipc_path=ipc,
        )
        if rng.random() < 0.15:
            t = em.dce_rpc(
                c,
                t + 0.01,
                "samr",
                "samr",
                (
                    "SamrConnect5",
                    "SamrOpenDomain",
                    "SamrLookupNamesInDomain",
                    "SamrOpenUser",
                    "SamrGetGroupsForUser",
                    "SamrCloseHandle",
                ),
                ipc_path=ipc,
            )
        if h.role not in ("workstation", "engineering", "secure") and rng.random() < 0.5:
            t = em.dce_rpc(
                c, t + 0.01, "netlogon", "netlogon", ("NetrLogonGetDomainInfo",), ipc_path=ipc
            )
    sysvol = f"\\\\{dc.name}\\SYSVOL"
    em.smb_mapping(c, t + 0.01, sysvol)
    em.smb_file(c, t + 0.02, "SMB::FILE_OPEN", sysvol, _GPT_INI, size=59)


def domain_activity(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    """Logons, machine tickets and group-policy refreshes."""
    rng, w = ctx.rng, ctx.world
    members = [h for h in w.hosts if h.role != "printer"]
    for h in members:
        dc = _dc_of(w, h)
        # machine account tickets every ~10 h
        t = ctx.start + rng.random() * 10 * _HOUR
        while t < ctx.end:
            _krb(ctx, t, h, dc, "AS", f"{h.name}$/{REALM}", f"krbtgt/{REALM}")
            _krb(ctx, t + 0.05, h, dc, "TGS", f"{h.name}$/{REALM}", f"host/{h.fqdn}")
            t += 10 * _HOUR + rng.uniform(-300, 300)
        # group policy refresh every 90-120 min (not the DCs themselves)
        if h.role != "dc":
            t = ctx.start + rng.random() * 5400.0
            while t < ctx.end:
                ctx.resolve_internal(t, h, dc)
                if h.role != "secure":
                    ctx.em.conn(
                        t,
                        h.ip,
                        dc.ip,
                        389,
                        service="ldap_tcp",
                        duration=0.02 + rng.random() * 0.1,
                        ob=rng.randint(900, 2500),
                        rb=rng.randint(1500, 6000),
                    )
                _smb_dc_session(ctx, t + 0.2, h, logon=False)
                t += 5400.0 + rng.random() * 1800.0
        # user logons
        for arrive, _leave in present.get(h.ip, []):
            if h.user is None:
                continue
            user = f"{h.user}/{REALM}"
            _krb(ctx, arrive, h, dc, "AS", user, f"krbtgt/{REALM}")
            _krb(ctx, arrive + 0.1, h, dc, "TGS", user, f"ldap/{dc.fqdn}")
            _krb(ctx, arrive + 0.2, h, dc, "TGS", user, f"cifs/{dc.fqdn}")
            fs = w.file_servers[hash_index(h.name, len(w.file_servers))]
            _krb(ctx, arrive + 0.3, h, dc, "TGS", user, f"cifs/{fs.fqdn}")
            if h.role != "secure":
                ctx.em.conn(
                    arrive + 0.25,
                    h.ip,
                    dc.ip,
                    389,
                    service="ldap_tcp",
                    duration=0.05 + rng.random() * 0.2,
                    ob=rng.randint(1500, 4000),
                    rb=rng.randint(3000, 12000),
                )
            _smb_dc_session(ctx, arrive + 0.4, h, logon=True)


def hash_index(name: str, n: int) -> int:
    """A stable small index for ``name`` (no dependence on Python's salted hash)."""
    return sum(name.encode("ascii")) % n


def file_shares(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    """A day-long SMB session to the user's file server with document reads and writes."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    for h in (*w.workstations, *w.engineering, *w.secure):
        fs = w.file_servers[hash_index(h.name, len(w.file_servers))]
        share = f"\\\\{fs.name}\\{'share' if fs is w.file_servers[0] else 'dept'}"
        ipc = f"\\\\{fs.name}\\IPC$"
        dept = _DEPTS[hash_index(h.name + "d", len(_DEPTS))]
        for arrive, leave in present.get(h.ip, []):
            t0 = arrive + rng.uniform(30, 300)
            if t0 >= leave:
                continue
            ctx.resolve_internal(t0, h, fs)
            ops = []
            for _ in range(rng.randint(4, 20)):
                ext = rng.choice(("docx", "docx", "xlsx", "xlsx", "pdf", "pptx", "txt"))
                name = f"{dept}\\{rng.choice(_DOC_WORDS)}_{rng.randint(1, 60):02d}.{ext}"
                size = (
                    int(rng.lognormvariate(11.5, 1.0)) if ext != "txt" else rng.randint(200, 20000)
                )
                ops.append((t0 + rng.random() * (leave - t0), name, ext, size, rng.random() < 0.3))
            ops.sort()
            ob = sum(s for *_, s, wr in ops if wr) + 20000
            rb = sum(s for *_, s, wr in ops if not wr) + 30000
            c = em.conn(
                t0, h.ip, fs.ip, 445, service="gssapi,krb,smb", duration=leave - t0, ob=ob, rb=rb
            )
            em.smb_mapping(c, t0 + 0.01, ipc, pipe=True)
            em.dce_rpc(c, t0 + 0.02, "srvsvc", "srvsvc", ("NetrShareGetInfo",), ipc_path=ipc)
            em.smb_mapping(c, t0 + 0.05, share)
            for t, name, ext, size, write in ops:
                fuid = em.ident("F")
                em.smb_file(c, t, "SMB::FILE_OPEN", share, name, size=size, fuid=fuid)
                action = "SMB::FILE_WRITE" if write else "SMB::FILE_READ"
                em.smb_file(
                    c,
                    t + 0.01,
                    action,
                    share,
                    name,
                    size=size,
                    fuid=fuid,
                    data_len=min(size, 65536),
                )
                em.file(
                    c,
                    t + 0.01,
                    fuid,
                    source="SMB",
                    is_orig=write,
                    mime=_MIME[ext],
                    size=size,
                    filename=name,
                    md5=em.hexdigest(16),
                    sha1=em.hexdigest(20),
                    duration=size / 5e7,
                )


def printing(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    for h in w.workstations:
        for arrive, leave in present.get(h.ip, []):
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                prn = rng.choice(w.printers)
                size = int(rng.lognormvariate(12.0, 1.0))
                em.conn(
                    arrive + rng.random() * (leave - arrive),
                    h.ip,
                    prn.ip,
                    9100,
                    duration=1.0 + size / 400_000,
                    ob=size,
                    rb=rng.randint(0, 400),
                )


def mail(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    rng, em, w = ctx.rng, ctx.em, ctx.world
    mx = w.mail
    owa = Site(
        f"mail.{DOMAIN}", (mx.ip,), True, "0" * 64, f"CN=CORP-CA,DC=corp,DC={DOMAIN.split('.')[-1]}"
    )
    for day, weekday in ctx.days():
        n_in = rng.randint(220, 320) if weekday else rng.randint(40, 80)
        for _ in range(n_in):
            t = day + (rng.uniform(6, 18) if rng.random() < 0.7 else rng.uniform(0, 24)) * _HOUR
            if not ctx.start <= t < ctx.end:
                continue
            size = int(rng.lognormvariate(9.5, 1.2))
            attach = rng.random() < 0.2
            asize = int(rng.lognormvariate(11.5, 1.0)) if attach else 0
            c = em.conn(
                t,
                rng.choice(w.mail_peers),
                mx.ip,
                25,
                service="smtp",
                sport=em.sport(),
                duration=0.5 + rng.random() * 4,
                ob=size + asize * 4 // 3,
                rb=rng.randint(300, 600),
            )
            if attach:
                ext = rng.choice(("pdf", "docx", "xlsx"))
                em.file(
                    c,
                    t + 0.4,
                    em.ident("F"),
                    source="SMTP",
                    is_orig=True,
                    mime=_MIME[ext],
                    size=asize,
                    filename=f"{rng.choice(_DOC_WORDS)}_{rng.randint(100, 999)}.{ext}",
                    md5=em.hexdigest(16),
                    sha1=em.hexdigest(20),
                )
        for _ in range(n_in // 2):
            t = day + rng.uniform(7, 18) * _HOUR
            if ctx.start <= t < ctx.end:
                em.conn(
                    t,
                    mx.ip,
                    rng.choice(w.mail_peers),
                    25,
                    service="smtp",
                    duration=0.5 + rng.random() * 3,
                    ob=int(rng.lognormvariate(9.5, 1.2)),
                    rb=rng.randint(300, 600),
                )
    for h in w.workstations:
        for arrive, leave in present.get(h.ip, []):
            for _ in range(rng.randint(3, 7)):
                t = arrive + rng.random() * (leave - arrive)
                ctx.resolve_internal(t, h, mx)
                _tls(
                    ctx,
                    t,
                    h,
                    mx.ip,
                    owa,
                    duration=0.2 + rng.random() * 5,
                    ob=rng.randint(2000, 9000),
                    rb=int(rng.lognormvariate(10, 1)),
                    resumed=rng.random() < 0.6,
                )


def management(ctx: Context) -> None:
    """MGMT01 (svc_sccm): nightly C$ inventory pulls and daytime client pushes via svcctl."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    mg = w.mgmt
    targets = [h for h in w.hosts if h.role not in ("printer", "mgmt")]
    ws = list(w.workstations)
    for day, weekday in ctx.days():
        for h in targets:
            if rng.random() >= 0.7:
                continue
            t = day + rng.uniform(1, 4) * _HOUR
            if not ctx.start <= t < ctx.end:
                continue
            ctx.resolve_internal(t, mg, h)
            size = rng.randint(20_000, 900_000)
            c = em.conn(
                t,
                mg.ip,
                h.ip,
                445,
                service="gssapi,ntlm,smb",
                duration=1.5 + rng.random() * 10,
                ob=rng.randint(3000, 6000),
                rb=size + rng.randint(4000, 9000),
            )
            _ntlm(ctx, c, t + 0.01, "svc_sccm", mg, h)
            share = f"\\\\{h.name}\\C$"
            em.smb_mapping(c, t + 0.03, share)
            fuid = em.ident("F")
            name = "Windows\\CCM\\Logs\\InventoryAgent.log"
            em.smb_file(c, t + 0.05, "SMB::FILE_OPEN", share, name, size=size, fuid=fuid)
            em.smb_file(
                c,
                t + 0.06,
                "SMB::FILE_READ",
                share,
                name,
                size=size,
                fuid=fuid,
                data_len=min(size, 65536),
            )
            em.file(
                c,
                t + 0.06,
                fuid,
                source="SMB",
                is_orig=False,
                mime="text/plain",
                size=size,
                filename=name,
                md5=em.hexdigest(16),
                sha1=em.hexdigest(20),
                duration=size / 5e7,
            )
        if not weekday:
            continue
        for h in rng.sample(ws, min(len(ws), rng.randint(1, 3))):
            t = day + rng.uniform(10, 15) * _HOUR
            if ctx.start <= t < ctx.end:
                admin_push(ctx, t, mg, h)


CCMSETUP_MD5 = "5d41a6a8b7f9e1f3c2d4b6a8c0e2f4a6"
CCMSETUP_SHA1 = "0f5e7c3a9b1d2e4f6a8c0b2d4e6f8a0c1e3b5d7f"


def _ntlm(ctx: Context, c: Conn, ts: float, user: str, src: Host, dst: Host) -> None:
    ctx.em.ntlm(
        c,
        ts,
        username=user,
        hostname=src.name,
        domain=NETBIOS_DOMAIN,
        server_name=dst.name,
        server_dns=dst.fqdn,
        tree=DOMAIN,
    )


def admin_push(ctx: Context, t: float, mg: Host, h: Host) -> None:
    rng, em = ctx.rng, ctx.em
    ctx.resolve_internal(t, mg, h)
    size = 1_634_912
    exec_off = rng.uniform(8, 40)
    c = em.conn(
        t,
        mg.ip,
        h.ip,
        445,
        service="dce_rpc,gssapi,ntlm,smb",
        duration=exec_off + 2.5,
        ob=size + rng.randint(5000, 9000),
        rb=rng.randint(5000, 9000),
    )
    _ntlm(ctx, c, t + 0.01, "svc_sccm", mg, h)
    admin = f"\\\\{h.name}\\ADMIN$"
    em.smb_mapping(c, t + 0.03, admin)
    fuid = em.ident("F")
    name = "ccmsetup.exe"
    em.smb_file(c, t + 0.05, "SMB::FILE_OPEN", admin, name, size=size, fuid=fuid)
    em.smb_file(c, t + 0.06, "SMB::FILE_WRITE", admin, name, size=size, fuid=fuid, data_len=65536)
    em.file(
        c,
        t + 0.06,
        fuid,
        source="SMB",
        is_orig=True,
        mime="application/x-dosexec",
        size=size,
        filename=name,
        md5=CCMSETUP_MD5,
        sha1=CCMSETUP_SHA1,
        pe=True,
        duration=0.4,
    )
    ipc = f"\\\\{h.name}\\IPC$"
    em.smb_mapping(c, t + exec_off - 0.05, ipc, pipe=True)
    em.dce_rpc(
        c,
        t + exec_off,
        "svcctl",
        "svcctl",
        ("OpenSCManagerW", "CreateServiceW", "StartServiceW"),
        ipc_path=ipc,
    )


def it_admin(ctx: Context, present: dict[str, list[tuple[float, float]]]) -> None:
    """jsmith works with adm_jsmith from WS001 over Kerberos (RDP and C$ on servers)."""
    rng, em, w = ctx.rng, ctx.em, ctx.world
    ws = w.admin_ws
    dc = _dc_of(w, ws)
    servers = [h for h in w.hosts if h.role in ("server", "file_server", "mail")]
    client = f"adm_jsmith/{REALM}"
    for arrive, leave in present.get(ws.ip, []):
        t = arrive + rng.uniform(600, 3600)
        if t >= leave:
            continue
        _krb(ctx, t, ws, dc, "AS", client, f"krbtgt/{REALM}")
        for _ in range(rng.randint(1, 3)):
            srv = rng.choice(servers)
            t1 = t + rng.random() * max(60.0, leave - t - 3600)
            ctx.resolve_internal(t1, ws, srv)
            _krb(ctx, t1, ws, dc, "TGS", client, f"TERMSRV/{srv.fqdn}")
            dur = rng.uniform(300, 3600)
            em.conn(
                t1 + 0.1,
                ws.ip,
                srv.ip,
                3389,
                service="rdp,ssl",
                duration=dur,
                ob=int(dur * rng.uniform(800, 3000)),
                rb=int(dur * rng.uniform(5000, 30000)),
            )
            if rng.random() < 0.5:
                t2 = t1 + dur + rng.uniform(30, 600)
                if t2 < leave:
                    _krb(ctx, t2, ws, dc, "TGS", client, f"cifs/{srv.fqdn}")
                    c = em.conn(
                        t2 + 0.05,
                        ws.ip,
                        srv.ip,
                        445,
                        service="gssapi,krb,smb",
                        duration=rng.uniform(5, 120),
                        ob=rng.randint(4000, 40000),
                        rb=rng.randint(10000, 400000),
                    )
                    em.smb_mapping(c, t2 + 0.1, f"\\\\{srv.name}\\C$")


def generate_background(ctx: Context) -> dict[str, list[tuple[float, float]]]:
    """All benign traffic of the enterprise for the window; returns when each user is present
    (for the optional activity in :mod:`duqhunt.simulate._admin`)."""
    present = presence(ctx)
    periodic_services(ctx)
    browsing(ctx, present)
    domain_activity(ctx, present)
    file_shares(ctx, present)
    printing(ctx, present)
    mail(ctx, present)
    management(ctx)
    it_admin(ctx, present)
    return present
