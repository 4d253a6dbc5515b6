"""Simulate a Duqu-class campaign in an enterprise, as Zeek logs plus a ground-truth file.

Telemetry only: the simulator writes log lines that describe connections; it never sends
traffic, and nothing it writes is executable.

The enterprise (see :mod:`duqhunt.simulate._world` for addressing) has domain controllers,
file servers, printers, a mail server, a management server doing admin-share inventory, diurnal
web browsing and legitimately periodic external services. With ``intrusion=True`` it also holds
one intrusion: a lure by mail, patient zero beaconing to 206.183.111.97 over HTTP with a dated
Firefox user agent and JPEG-carrying POSTs, discovery, lateral movement over admin shares with
a stolen domain-admin account and remote service/task creation, and a secure zone without
egress that reaches the C&C through SMB named-pipe sessions to an infected bridge (optionally
through an internal relay). Bridges also beacon to a second C&C that is in no IOC pack.

Everything is a function of the seed and the config; two runs with the same arguments produce
identical bytes. Ground truth lists what a perfect hunt should find.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from duqhunt.errors import UsageError
from duqhunt.simulate._admin import (
    PDQ_RUNNER,
    SWD_ACCOUNT,
    admin_psexec,
    software_push,
    user_shares,
)
from duqhunt.simulate._background import (
    CCMSETUP_MD5,
    Context,
    generate_background,
    regular_services,
)
from duqhunt.simulate._blocked import blocked_background, firewall
from duqhunt.simulate._emit import SIM_LOGS, Emitter, Row
from duqhunt.simulate._intrusion import (
    BEACON_PROFILES,
    DUQU_USER_AGENT,
    STOLEN_ACCOUNT,
    IntrusionPlan,
    run_intrusion,
)
from duqhunt.simulate._world import (
    KNOWN_C2_IP,
    NETBIOS_DOMAIN,
    NEW_C2_IP,
    PROXY_IP,
    Host,
    PeriodicService,
    World,
    build_world,
    min_hosts,
)
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

__all__ = [
    "DEFAULT_PIPE_NAME",
    "DUQU_USER_AGENT",
    "KNOWN_C2_IP",
    "NEW_C2_IP",
    "SimConfig",
    "simulate",
]

_log = logging.getLogger(__name__)

#: A GUID-like pipe name, the kind Duqu-class implants use for their internal relay.
DEFAULT_PIPE_NAME = "{4E2D8B71-3C9A-4F0E-B6D5-9A1C7E3F5B20}"
_PIPE_PREFIXES = ("\\\\.\\pipe\\", "\\pipe\\", "pipe\\")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of a simulation. ``hosts`` counts every internal host (servers, printers,
    workstations, the secure zone and, with ``relay_depth=2``, the relay hosts).

    ``benign_periodic`` adds services more regular than the C&C (a licence heartbeat from ~70 %
    of workstations, IP cameras posting JPEG snapshots every 5-10 min, hourly AV manifest
    checks, a one-host UPS poll to a bare IP, a backup check-in); the cameras (10.0.4.x) are on
    top of ``hosts``. ``beacon_profile``: "http" (plain HTTP GET/POST with JPEG, the default),
    "low_slow" (every ``beacon_interval_s`` if that is >= 1 h, else every 2 h; give it days),
    "custom443" (a custom binary protocol on 443/tcp without TLS), "tls_nosni" (TLS on 443,
    self-signed, no SNI) or "proxy" (every internal host reaches the web through an explicit
    proxy, 10.0.1.60:8080, on top of ``hosts``: host -> proxy in conn with absolute-URI and
    CONNECT requests in http, proxy -> destination in conn).
    """

    hosts: int = 300
    days: float = 2.0
    start: float = 1318550400.0  # 2011-10-14 00:00 UTC
    intrusion: bool = True
    beacon_interval_s: float = 600.0
    beacon_jitter: float = 0.2
    n_bridges: int = 1
    relay_depth: int = 1
    # The relay's named pipe, bare (``srvsvc``) or with a ``\pipe\`` prefix (stripped).
    pipe_name: str = DEFAULT_PIPE_NAME
    log_pipe_names: bool = False
    secure_zone_hosts: int = 6
    lateral_targets: int = 4
    new_c2: bool = True
    gzip: bool = False
    # The secure zone (and engineering hosts) try the internet anyway and the sensor logs the
    # firewall-blocked attempts (S0, REJ, half-open, single packets); infected no-egress hosts
    # try their C&C directly before they fall back to the relay. Off: those hosts are silent.
    blocked_egress: bool = False
    # Benign look-alikes of lateral movement (duqhunt.simulate._admin), all off by default:
    # hidden per-user file shares with Office temp files, a software-distribution server
    # pushing a client to workstations as a service in waves (no known-good list names it),
    # administrators running PsExec to their servers.
    user_shares: bool = False
    software_push: bool = False
    admin_psexec: bool = False
    benign_periodic: bool = False
    beacon_profile: str = "http"


def _bare_pipe(name: str) -> str:
    for prefix in _PIPE_PREFIXES:
        if name.lower().startswith(prefix):
            return name[len(prefix) :]
    return name


def _validate(cfg: SimConfig) -> None:
    problems: list[str] = []
    if not cfg.days > 0:
        problems.append("days must be > 0")
    if not cfg.beacon_interval_s >= 1.0:
        problems.append("beacon_interval_s must be >= 1")
    if not 0.0 <= cfg.beacon_jitter < 1.0:
        problems.append("beacon_jitter must be in [0, 1)")
    if not 1 <= cfg.n_bridges <= 200:
        problems.append("n_bridges must be between 1 and 200")
    if cfg.relay_depth not in (1, 2):
        problems.append("relay_depth must be 1 or 2")
    if not 0 <= cfg.secure_zone_hosts <= 240:
        problems.append("secure_zone_hosts must be between 0 and 240")
    if cfg.beacon_profile not in BEACON_PROFILES:
        problems.append(f"beacon_profile must be one of {', '.join(BEACON_PROFILES)}")
    if cfg.lateral_targets < 0:
        problems.append("lateral_targets must be >= 0")
    pipe = _bare_pipe(cfg.pipe_name)
    if not pipe or "\\" in pipe or any(ord(ch) < 0x20 for ch in pipe):
        problems.append(f"pipe_name {cfg.pipe_name!r} is not a usable pipe name")
    needed = min_hosts(
        cfg.secure_zone_hosts,
        _engineering_hosts(cfg),
        2 + cfg.n_bridges + max(0, cfg.lateral_targets - cfg.n_bridges) + 2,
    )
    needed += 1 if cfg.software_push else 0
    if cfg.hosts < needed:
        problems.append(f"hosts={cfg.hosts} is too small for this config (need >= {needed})")
    if problems:
        raise UsageError("invalid simulation config: " + "; ".join(problems))


def _engineering_hosts(cfg: SimConfig) -> int:
    return cfg.n_bridges if cfg.relay_depth == 2 else 0


def _rng(seed: int, stream: str) -> random.Random:
    return random.Random(f"duqhunt-sim:{seed}:{stream}")


def _ip_key(ip: str) -> int:
    return int(ipaddress.ip_address(ip))


def _plan(rng: random.Random, world: World, cfg: SimConfig) -> IntrusionPlan:
    candidates = [w for w in world.workstations if w is not world.admin_ws]
    pz = rng.choice(candidates)
    remaining = [w for w in candidates if w is not pz]
    bridges = rng.sample(remaining, cfg.n_bridges)
    relays = list(world.engineering)
    n_others = max(0, cfg.lateral_targets - len(bridges) - len(relays))
    taken = {h.ip for h in bridges}
    servers = [h for h in world.hosts if h.role in ("server", "file_server")]
    pool = [h for h in remaining if h.ip not in taken] + servers
    others = rng.sample(pool, min(n_others, len(pool)))
    return IntrusionPlan(
        patient_zero=pz,
        bridges=bridges,
        relays=relays,
        others=others,
        pipe=_bare_pipe(cfg.pipe_name),
    )


def _ground_truth(
    seed: int,
    cfg: SimConfig,
    world: World,
    plan: IntrusionPlan | None,
    counts: dict[str, int],
    extra_periodic: list[PeriodicService] | None = None,
    admin_accounts: list[str] | None = None,
) -> dict[str, Any]:
    end = cfg.start + cfg.days * 86400.0

    def ips(hosts: list[Host] | tuple[Host, ...]) -> list[str]:
        return sorted((h.ip for h in hosts), key=_ip_key)

    roles: dict[str, list[str]] = {}
    for h in world.hosts:
        roles.setdefault(h.role, []).append(h.ip)
    c2: list[dict[str, Any]] = []
    if plan is not None:
        c2.append({"ip": KNOWN_C2_IP, "in_pack": True})
        if cfg.new_c2:
            c2.append({"ip": NEW_C2_IP, "in_pack": False})
    infected = sorted(plan.infected_at, key=_ip_key) if plan is not None else []
    return {
        "seed": seed,
        "config": asdict(cfg),
        "internal_networks": ["10.0.0.0/8"],
        "window": [cfg.start, end],
        "c2": c2,
        "c2_user_agent": DUQU_USER_AGENT if plan is not None else None,
        "beacon_pairs": sorted(
            plan.beacon_pairs if plan else [], key=lambda p: (_ip_key(p["src"]), _ip_key(p["dst"]))
        ),
        "patient_zero": plan.patient_zero.ip if plan else None,
        "infected": infected,
        "bridges": ips(plan.bridges) if plan else [],
        "relays": ips(plan.relays) if plan else [],
        "no_egress": ips((*world.engineering, *world.secure)),
        "relay_edges": sorted(
            plan.relay_edges if plan else [], key=lambda e: (_ip_key(e["src"]), _ip_key(e["dst"]))
        ),
        # blocked_egress: each no-egress implant's direct tries of its C&C before the relay
        "direct_c2_attempts": sorted(
            plan.direct_c2_attempts if plan else [], key=lambda a: _ip_key(str(a["src"]))
        ),
        "lateral_moves": sorted(
            plan.lateral_moves if plan else [], key=lambda m: (m["time"], m["dst"])
        ),
        "discovery": plan.discovery if plan else [],
        "delivery": plan.delivery if plan else None,
        "periodic_services": [
            {
                "name": p.name,
                "dst": p.dst,
                "host": p.host,
                "port": p.port,
                "proto": p.proto,
                "interval_s": p.interval_s,
            }
            for p in sorted(
                (*world.periodic, *(extra_periodic or [])), key=lambda p: (p.name, p.dst)
            )
        ],
        **({"proxy": PROXY_IP} if cfg.beacon_profile == "proxy" else {}),
        "admin_tooling": _admin_tooling(cfg, world, admin_accounts or []),
        "roles": {role: sorted(v, key=_ip_key) for role, v in sorted(roles.items())},
        "hostnames": {h.ip: h.name for h in sorted(world.hosts, key=lambda h: _ip_key(h.ip))},
        "log_rows": dict(counts),
    }


def _admin_tooling(cfg: SimConfig, world: World, admin_accounts: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "src": world.mgmt.ip,
            "account": f"{NETBIOS_DOMAIN}\\svc_sccm",
            "activity": "nightly C$ inventory over NTLM; daytime ccmsetup.exe push to ADMIN$ "
            "with svcctl service creation",
            "md5": CCMSETUP_MD5,
        },
        {
            "src": world.admin_ws.ip,
            "account": f"{NETBIOS_DOMAIN}\\{STOLEN_ACCOUNT}",
            "activity": "the real administrator: RDP and C$ to servers over Kerberos",
            "md5": None,
        },
    ]
    if cfg.software_push and world.deploy is not None:
        out.append(
            {
                "src": world.deploy.ip,
                "account": f"{NETBIOS_DOMAIN}\\{SWD_ACCOUNT}",
                "activity": f"deployment waves: {PDQ_RUNNER} and a package to ADMIN$ of every "
                "online workstation, runner service created and started over svcctl",
                "md5": None,
            }
        )
    if cfg.admin_psexec:
        for ws, account in zip(world.workstations[:2], admin_accounts, strict=False):
            out.append(
                {
                    "src": ws.ip,
                    "account": account,
                    "activity": "PsExec to a handful of servers: PSEXESVC.exe to ADMIN$, "
                    "service created, started and deleted",
                    "md5": None,
                }
            )
    return out


def _ts(row: Row) -> float:
    ts = row["ts"]
    return float(ts) if isinstance(ts, float | int) else 0.0


def known_good_allowlist(truth: dict[str, Any]) -> str:
    """The simulated enterprise's list of its own periodic services, as a duqhunt allow-list."""
    lines = [
        "# Known-good periodic services of the simulated enterprise (its IT inventory).",
        "# Pass it to `duqhunt hunt --allow` as a real team would pass its own list.",
        "name: simulated-enterprise",
        "entries:",
    ]
    for svc in truth["periodic_services"]:
        lines.append(f"  - name: {json.dumps(svc['name'])}")
        lines.append(
            f"    reason: {json.dumps('every ' + str(svc['interval_s']) + ' s by design')}"
        )
        if svc["host"]:
            lines.append(f"    domains: [{json.dumps(svc['host'])}]")
        lines.append(f"    cidrs: [{json.dumps(svc['dst'] + '/32')}]")
    return "\n".join(lines) + "\n"


def simulate(
    out_dir: Path,
    *,
    seed: int = 7,
    config: SimConfig | None = None,
    meta_dir: Path | None = None,
) -> dict[str, Any]:
    """Write Zeek TSV logs into ``out_dir`` and ``ground_truth.json`` plus the enterprise's own
    allow-list of known-good periodic services (``known-good.yaml``, what its IT team would
    hand a hunter) into ``meta_dir`` (default ``out_dir``); return the ground truth.

    Logs: conn, dns, http, files, ssl, smb_mapping, smb_files, dce_rpc, ntlm, kerberos
    (``<log>.log``, or ``<log>.log.gz`` with ``config.gzip``). Deterministic for a seed.
    """
    cfg = config or SimConfig()
    _validate(cfg)
    began = time.perf_counter()
    start = cfg.start
    end = start + cfg.days * 86400.0
    world = build_world(
        _rng(seed, "world"),
        hosts=cfg.hosts,
        secure_zone_hosts=cfg.secure_zone_hosts,
        engineering_hosts=_engineering_hosts(cfg),
        deploy_server=cfg.software_push,
    )
    em = Emitter(
        _rng(seed, "ids"),
        log_pipe_names=cfg.log_pipe_names,
        proxy=PROXY_IP if cfg.beacon_profile == "proxy" else None,
    )
    present = generate_background(Context(_rng(seed, "background"), em, world, start, end))
    extra_periodic: list[PeriodicService] = []
    if cfg.benign_periodic:
        extra_periodic = regular_services(
            Context(_rng(seed, "benign-periodic"), em, world, start, end)
        )
    fw = firewall(_rng(seed, "firewall")) if cfg.blocked_egress else None
    blocked_rows = 0
    if fw is not None:
        blocked_rows = blocked_background(
            Context(_rng(seed, "blocked"), em, world, start, end), fw, present
        )
    admin_accounts: list[str] = []
    if cfg.user_shares:
        user_shares(Context(_rng(seed, "user_shares"), em, world, start, end), present)
    if cfg.software_push and world.deploy is not None:
        software_push(
            Context(_rng(seed, "software_push"), em, world, start, end), present, world.deploy
        )
    if cfg.admin_psexec:
        admin_accounts = admin_psexec(
            Context(_rng(seed, "admin_psexec"), em, world, start, end), present
        )
    plan: IntrusionPlan | None = None
    if cfg.intrusion:
        plan = _plan(_rng(seed, "plan"), world, cfg)
        run_intrusion(
            Context(_rng(seed, "intrusion"), em, world, start, end),
            plan,
            beacon_interval_s=cfg.beacon_interval_s,
            beacon_jitter=cfg.beacon_jitter,
            new_c2=cfg.new_c2,
            blocked=(_rng(seed, "direct-c2"), fw) if fw is not None else None,
            beacon_profile=cfg.beacon_profile,
        )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # connections that start inside the window; other logs keep the rows of those connections
    conn_rows = [r for r in em.rows["conn"] if start <= _ts(r) < end]
    live = {r["uid"] for r in conn_rows}
    counts: dict[str, int] = {}
    suffix, other = (".log.gz", ".log") if cfg.gzip else (".log", ".log.gz")
    for log_type in SIM_LOGS:
        rows = (
            conn_rows if log_type == "conn" else [r for r in em.rows[log_type] if r["uid"] in live]
        )
        rows.sort(key=_ts)
        stale = out_dir / f"{log_type}{other}"
        if stale.exists():
            _log.debug("removing %s left by an earlier run", stale)
            stale.unlink()
        counts[log_type] = write_zeek_tsv(
            out_dir / f"{log_type}{suffix}",
            log_type,
            rows,
            open_ts=start,
            close_ts=end,
            gzip=cfg.gzip,
        )
    truth = _ground_truth(
        seed, cfg, world, plan, counts, extra_periodic=extra_periodic, admin_accounts=admin_accounts
    )
    truth["blocked_background_attempts"] = blocked_rows
    truth["firewall_rejects_web"] = sorted(fw.reject_web) if fw is not None else []
    meta = Path(meta_dir) if meta_dir is not None else out_dir
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "ground_truth.json").write_text(
        json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (meta / "known-good.yaml").write_text(known_good_allowlist(truth), encoding="utf-8")
    _log.info(
        "simulated %d hosts over %.2f days (intrusion=%s): %d conn rows in %.1f s",
        cfg.hosts,
        cfg.days,
        cfg.intrusion,
        counts["conn"],
        time.perf_counter() - began,
    )
    return truth
