"""The simulated enterprise: hosts, users, external sites and the periodic services.

Addressing (all internal hosts are in 10.0.0.0/8):

* 10.0.1.0/24  servers: DC01, DC02 (DNS, Kerberos, LDAP, SYSVOL), FS01, FS02 (file shares),
  MGMT01 (systems management, account ``svc_sccm``), MAIL01, APP01, DB01, WEB01
* 10.0.3.0/24  printers PRN01-03 (9100/tcp)
* 10.1.0.0/16  workstations WS001... (WS001 is the IT administrator ``jsmith``)
* 10.40.0.0/24 engineering hosts ENG01... (no egress; only with ``relay_depth=2``)
* 10.50.0.0/24 secure zone SEC01... (no egress)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AV_HOST",
    "DOMAIN",
    "KNOWN_C2_IP",
    "KNOWN_C2_SECOND_IP",
    "MODERN_USER_AGENTS",
    "MONITOR_HOST",
    "NETBIOS_DOMAIN",
    "NEW_C2_IP",
    "NTP_SERVERS",
    "REALM",
    "WU_HOSTS",
    "Host",
    "PeriodicService",
    "Site",
    "World",
    "build_world",
]

DOMAIN = "corp.local"
REALM = "CORP.LOCAL"
NETBIOS_DOMAIN = "CORP"

KNOWN_C2_IP = "206.183.111.97"
KNOWN_C2_SECOND_IP = "77.241.93.160"  # in public IOC packs; never used here
NEW_C2_IP = "176.31.88.142"  # in no IOC pack: must be found by behaviour

AV_HOST = "telemetry.kestrelav.net"
AV_IP = "185.52.48.21"
MONITOR_HOST = "collector.metricsaas.io"
MONITOR_IP = "54.230.18.92"
WU_HOSTS: tuple[tuple[str, str], ...] = (
    ("sls.update.microsoft.com", "157.56.77.141"),
    ("fe2.update.microsoft.com", "157.56.77.139"),
)
CTL_HOST = ("ctldl.windowsupdate.com", "23.62.99.24")
NTP_SERVERS: tuple[tuple[str, str], ...] = (
    ("0.pool.ntp.org", "81.94.123.17"),
    ("1.pool.ntp.org", "212.82.32.15"),
    ("2.pool.ntp.org", "188.165.236.62"),
)

MODERN_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
)

# benign_periodic services (only with SimConfig.benign_periodic)
LICENCE_HOST = ("licensing.cadvault.com", "52.214.9.187")
CAMERA_CLOUD_IP = "34.98.121.40"
AV_UPDATE_HOST = ("update.kestrelav.net", "185.52.48.30")
UPS_CLOUD_IP = "91.214.70.12"
BACKUP_HOST = ("vault.backupcloud.io", "104.18.36.201")
#: the explicit web proxy of beacon_profile="proxy" (outside the ``hosts`` count)
PROXY_IP = "10.0.1.60"
#: IP cameras of benign_periodic live here (outside the ``hosts`` count)
CAMERA_NET = "10.0.4."

_RESERVED_EXTERNAL = {KNOWN_C2_IP, KNOWN_C2_SECOND_IP, NEW_C2_IP, AV_IP, MONITOR_IP, CTL_HOST[1]}
_RESERVED_EXTERNAL.update(
    (LICENCE_HOST[1], CAMERA_CLOUD_IP, AV_UPDATE_HOST[1], UPS_CLOUD_IP, BACKUP_HOST[1])
)
_RESERVED_EXTERNAL.update(ip for _, ip in WU_HOSTS)
_RESERVED_EXTERNAL.update(ip for _, ip in NTP_SERVERS)


def _split(text: str) -> tuple[str, ...]:
    """A tuple of the whitespace-separated words in ``text`` (compact data tables)."""
    return tuple(text.split())


# First octets of ordinary public unicast space (no private, CGN, loopback, test or multicast).
_PUBLIC_FIRST = tuple(
    int(x)
    for x in _split(
        """
    23 31 37 46 62 64 66 69 72 74 78 80 81 82 83 84 85 87 88 89 91 93 94 95 104 107 108 128 130
    134 137 141 144 146 151 152 157 162 173 176 178 185 188 193 194 195 199 204 205 207 208 209
    212 213 216 217
    """
    )
)

_POPULAR = _split(
    """
    www.google.com www.youtube.com www.facebook.com en.wikipedia.org www.bing.com www.yahoo.com
    www.amazon.com www.ebay.com www.linkedin.com twitter.com www.microsoft.com www.apple.com
    www.cnn.com www.bbc.co.uk www.nytimes.com www.theguardian.com www.reuters.com
    www.bloomberg.com www.ft.com www.spiegel.de www.lemonde.fr index.hu www.origo.hu
    www.weather.com www.imdb.com www.reddit.com stackoverflow.com github.com www.dropbox.com
    mail.google.com docs.google.com www.paypal.com www.booking.com www.tripadvisor.com
    www.adobe.com www.oracle.com www.ibm.com www.sap.com www.siemens.com www.cisco.com
    www.dell.com www.hp.com www.lenovo.com www.wsj.com www.economist.com www.msn.com www.skype.com
    www.mozilla.org www.java.com www.office.com login.microsoftonline.com www.flickr.com
    """
)
_CDNS = _split(
    """
    ajax.googleapis.com fonts.gstatic.com ssl.gstatic.com www.google-analytics.com
    static.xx.fbcdn.net s.yimg.com cdnjs.cloudflare.com a248.e.akamai.net connect.facebook.net
    platform.twitter.com pagead2.googlesyndication.com
    """
)
_WORDS = _split(
    """
    alpine harbor summit river pixel nova vertex cobalt maple orbit delta lumen atlas cedar echo
    falcon granite horizon iris juniper lotus meridian north oak prism quartz raven sierra tundra
    umber valley willow zenith amber birch canyon dune ember fjord glacier haven indigo jade karst
    lagoon mesa nimbus opal pine quill reef sage tide vista wren news media travel shop tech press
    daily market forum blog
    """
)
_TLDS = ("com", "com", "com", "net", "org", "de", "hu", "co.uk", "fr", "it", "eu", "info")
_FIRST = _split(
    """
    anna bela csaba david eva ferenc gabor hanna istvan judit katalin laszlo maria nora oliver
    peter reka sandor tamas zsofia adam balazs dora emese gergely ildiko janos kinga marton
    orsolya rita szilvia viktor zoltan agnes bence edit
    """
)
_LAST = _split(
    """
    nagy kovacs toth szabo horvath varga kiss molnar nemeth farkas balogh papp takacs juhasz
    lakatos meszaros olah simon racz fekete szilagyi torok feher balazs gal kis szucs kocsis orsos
    pinter fodor szalai sipos magyar lukacs gulyas biro kiraly katona laszlo jakab bogdan hegedus
    sandor vass
    """
)


@dataclass(frozen=True, slots=True)
class Host:
    """One internal host. ``egress``: it talks to the internet at all."""

    ip: str
    name: str
    # dc | file_server | mgmt | deploy | mail | server | printer | workstation | engineering | secure
    role: str
    user: str | None
    dc: str  # the domain controller it uses (DNS, Kerberos, SYSVOL)
    egress: bool

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"


@dataclass(frozen=True, slots=True)
class Site:
    """An external name with its addresses and certificate."""

    name: str
    ips: tuple[str, ...]
    https: bool
    cert_fp: str
    issuer: str
    ttl: float = 300.0

    @property
    def subject(self) -> str:
        parts = self.name.split(".")
        cn = "*." + ".".join(parts[1:]) if len(parts) > 2 else self.name
        return f"CN={cn}"


@dataclass(frozen=True, slots=True)
class PeriodicService:
    """A legitimately periodic external service (listed in the ground truth)."""

    name: str
    dst: str
    host: str | None
    port: int
    proto: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class World:
    hosts: tuple[Host, ...]
    dcs: tuple[Host, ...]
    file_servers: tuple[Host, ...]
    mgmt: Host
    mail: Host
    monitored: tuple[Host, ...]
    ntp_clients: tuple[Host, ...]
    printers: tuple[Host, ...]
    workstations: tuple[Host, ...]
    engineering: tuple[Host, ...]
    secure: tuple[Host, ...]
    admin_ws: Host
    sites: tuple[Site, ...]
    site_cum_weights: tuple[float, ...]
    cdns: tuple[Site, ...]
    mail_peers: tuple[str, ...]
    av: Site
    monitor: Site
    wu: tuple[Site, ...]
    ctl: Site
    ntp: tuple[Site, ...]
    periodic: tuple[PeriodicService, ...]
    user_agent: dict[str, str]  # workstation ip -> its browser's user agent
    deploy: Host | None = None  # software distribution (SimConfig.software_push)

    @property
    def egress_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.egress)

    def by_ip(self) -> dict[str, Host]:
        return {h.ip: h for h in self.hosts}


def _fingerprint(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


_ISSUERS = (
    "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US",
    "CN=R3,O=Let's Encrypt,C=US",
    "CN=GTS CA 1C3,O=Google Trust Services LLC,C=US",
    "CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,C=GB",
    "CN=GlobalSign RSA OV SSL CA 2018,O=GlobalSign nv-sa,C=BE",
)


class _IpPool:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set(_RESERVED_EXTERNAL)

    def take(self) -> str:
        while True:
            r = self._rng
            ip = (
                f"{r.choice(_PUBLIC_FIRST)}.{r.randint(0, 255)}."
                f"{r.randint(0, 255)}.{r.randint(1, 254)}"
            )
            if ip not in self._used:
                self._used.add(ip)
                return ip


def _site(rng: random.Random, pool: _IpPool, name: str, https: bool) -> Site:
    n_ips = 1 if rng.random() < 0.6 else 2
    return Site(
        name=name,
        ips=tuple(pool.take() for _ in range(n_ips)),
        https=https,
        cert_fp=_fingerprint(name),
        issuer=rng.choice(_ISSUERS),
    )


def _users(rng: random.Random, n: int) -> list[str]:
    seen = {"jsmith"}
    out = ["jsmith"]
    while len(out) < n:
        u = rng.choice(_FIRST)[0] + rng.choice(_LAST)
        candidate = u
        k = 2
        while candidate in seen:
            candidate = f"{u}{k}"
            k += 1
        seen.add(candidate)
        out.append(candidate)
    return out


def build_world(
    rng: random.Random,
    *,
    hosts: int,
    secure_zone_hosts: int,
    engineering_hosts: int,
    deploy_server: bool = False,
) -> World:
    """Build the enterprise. ``hosts`` counts servers, printers and all workstations;
    ``deploy_server`` adds the software-distribution server SWD01 (10.0.1.31)."""
    dc1, dc2 = "10.0.1.10", "10.0.1.11"
    servers: list[Host] = [
        Host(dc1, "DC01", "dc", None, dc1, True),
        Host(dc2, "DC02", "dc", None, dc2, True),
        Host("10.0.1.20", "FS01", "file_server", None, dc1, True),
        Host("10.0.1.21", "FS02", "file_server", None, dc2, True),
        Host("10.0.1.30", "MGMT01", "mgmt", None, dc1, True),
        Host("10.0.1.40", "MAIL01", "mail", None, dc2, True),
        Host("10.0.1.50", "APP01", "server", None, dc1, True),
        Host("10.0.1.51", "DB01", "server", None, dc2, True),
        Host("10.0.1.52", "WEB01", "server", None, dc1, True),
    ]
    if deploy_server:
        servers.append(Host("10.0.1.31", "SWD01", "deploy", None, dc2, True))
    printers = [
        Host(f"10.0.3.{10 + i}", f"PRN{i + 1:02d}", "printer", None, dc1, False) for i in range(3)
    ]
    n_ws = hosts - len(servers) - len(printers) - secure_zone_hosts - engineering_hosts
    width = max(3, len(str(n_ws)))
    users = _users(rng, n_ws + engineering_hosts + secure_zone_hosts)
    workstations = [
        Host(
            f"10.1.{i // 240}.{10 + i % 240}",
            f"WS{i + 1:0{width}d}",
            "workstation",
            users[i],
            dc1 if i % 2 == 0 else dc2,
            True,
        )
        for i in range(n_ws)
    ]
    engineering = [
        Host(f"10.40.0.{10 + i}", f"ENG{i + 1:02d}", "engineering", users[n_ws + i], dc1, False)
        for i in range(engineering_hosts)
    ]
    secure = [
        Host(
            f"10.50.0.{10 + i}",
            f"SEC{i + 1:02d}",
            "secure",
            users[n_ws + engineering_hosts + i],
            dc1 if i % 2 == 0 else dc2,
            False,
        )
        for i in range(secure_zone_hosts)
    ]
    all_hosts = (*servers, *printers, *workstations, *engineering, *secure)

    pool = _IpPool(rng)
    sites: list[Site] = [_site(rng, pool, name, rng.random() < 0.9) for name in _POPULAR]
    seen_names = set(_POPULAR)
    while len(sites) < len(_POPULAR) + 350:
        base = f"{rng.choice(_WORDS)}{rng.choice(_WORDS)}.{rng.choice(_TLDS)}"
        name = f"www.{base}" if rng.random() < 0.7 else base
        if name in seen_names:
            continue
        seen_names.add(name)
        sites.append(_site(rng, pool, name, rng.random() < 0.5))
    order = list(range(len(sites)))
    rng.shuffle(order)
    weights = [0.0] * len(sites)
    for rank, idx in enumerate(order):
        weights[idx] = 1.0 / (rank + 1) ** 0.9
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    cdns = tuple(_site(rng, pool, name, True) for name in _CDNS)
    mail_peers = tuple(pool.take() for _ in range(40))

    av = Site(AV_HOST, (AV_IP,), True, _fingerprint(AV_HOST), _ISSUERS[3], ttl=3600.0)
    monitor = Site(
        MONITOR_HOST, (MONITOR_IP,), True, _fingerprint(MONITOR_HOST), _ISSUERS[0], ttl=600.0
    )
    ms_issuer = "CN=Microsoft Update Secure Server CA 2.1,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US"
    wu = tuple(Site(n, (ip,), True, _fingerprint(n), ms_issuer, ttl=3600.0) for n, ip in WU_HOSTS)
    ctl = Site(CTL_HOST[0], (CTL_HOST[1],), False, _fingerprint(CTL_HOST[0]), "", ttl=3600.0)
    ntp = tuple(Site(n, (ip,), False, "", "", ttl=3600.0) for n, ip in NTP_SERVERS)

    periodic: list[PeriodicService] = [
        PeriodicService("ntp", s.ips[0], s.name, 123, "udp", 1024.0) for s in ntp
    ]
    periodic += [
        PeriodicService("windows_update", s.ips[0], s.name, 443, "tcp", 3600.0) for s in wu
    ]
    periodic.append(PeriodicService("av_telemetry", AV_IP, AV_HOST, 443, "tcp", 900.0))
    periodic.append(PeriodicService("monitoring_agent", MONITOR_IP, MONITOR_HOST, 443, "tcp", 60.0))

    user_agent = {
        w.ip: MODERN_USER_AGENTS[0 if r < 0.55 else (1 if r < 0.8 else 2)]
        for w, r in ((w, rng.random()) for w in workstations)
    }
    by_name = {h.name: h for h in servers}
    return World(
        hosts=all_hosts,
        dcs=(by_name["DC01"], by_name["DC02"]),
        file_servers=(by_name["FS01"], by_name["FS02"]),
        mgmt=by_name["MGMT01"],
        mail=by_name["MAIL01"],
        monitored=tuple(servers),
        ntp_clients=(by_name["DC01"], by_name["DC02"], by_name["MGMT01"]),
        printers=tuple(printers),
        workstations=tuple(workstations),
        engineering=tuple(engineering),
        secure=tuple(secure),
        admin_ws=workstations[0],
        sites=tuple(sites),
        site_cum_weights=tuple(cum),
        cdns=cdns,
        mail_peers=mail_peers,
        av=av,
        monitor=monitor,
        wu=wu,
        ctl=ctl,
        ntp=ntp,
        periodic=tuple(sorted(periodic, key=lambda p: (p.name, p.dst))),
        user_agent=user_agent,
        deploy=by_name.get("SWD01"),
    )


def min_hosts(secure_zone_hosts: int, engineering_hosts: int, needed_workstations: int) -> int:
    """The smallest ``hosts`` value that leaves ``needed_workstations`` workstations."""
    return 9 + 3 + secure_zone_hosts + engineering_hosts + needed_workstations


def pick(rng: random.Random, items: Sequence[Host], k: int) -> list[Host]:
    return rng.sample(list(items), k) if k > 0 else []
