"""What network detectors hand to later detectors and to the campaign layer, typed.

Each detector leaves what others build on in ``HuntContext.outputs``: DQ-NET-001 its indicator
hits, DQ-NET-003 its JPEG posts and rare User-Agents, DQ-NET-005 its lateral moves, DQ-NET-006
its relay edges, DQ-NET-002 the ranked beacons (the C&C candidates), DQ-NET-004 its new C&C
servers, DQ-NET-007 its bridges and the relays on their chains, and the zone analysis the
blocked attempts of no-egress hosts. The C&C ranking, the bridge detector and
campaign/network.py read them from there, by field, never by a detector id, a finding's
details or a column name. The report keeps its free-form mappings (schema 1.x):
``report_entry`` makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from duqhunt.model import iso_utc


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


BeaconKind = Literal["ip", "http-host", "tls-sni"]


@dataclass(frozen=True, slots=True)
class IocHit:
    """Contacts from one source matching one indicator in one log field (DQ-NET-001)."""

    log: str  # conn, dns, http, ssl, files
    field: str  # id.resp_h, id.orig_h, query, answers, host, uri, user_agent, ...
    src: str
    dst: str
    ioc_type: str  # ip, domain, url, user-agent, filename, md5, sha1, sha256
    ioc_value: str
    confidence: float

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> IocHit:
        return cls(
            log=str(r["log"]),
            field=str(r["field"]),
            src=str(r["src"]),
            dst=str(r["dst"]),
            ioc_type=str(r["ioc_type"]),
            ioc_value=str(r["ioc_value"]),
            confidence=float(r["confidence"]),
        )


@dataclass(frozen=True, slots=True)
class JpegPost:
    """JPEG uploads by POST / from one source to one bare IP (DQ-NET-003 jpeg-post-bare-ip)."""

    src: str
    dst: str
    uploads: int
    confidence: float  # the finding's
    # more than a few internal hosts upload to the address: an upload service (IP cameras),
    # not one implant; its finding is low and it names no C&C
    shared_upload: bool


@dataclass(frozen=True, slots=True)
class RareUserAgent:
    """A rare second User-Agent one source sends beside its usual one (DQ-NET-003)."""

    src: str
    user_agent: str
    example_dst: str


@dataclass(frozen=True, slots=True)
class Beacon:
    """A periodic internal -> external pair ranked as a C&C candidate (DQ-NET-002)."""

    kind: BeaconKind
    src: str
    dst: str
    count: int  # contacts, retries collapsed
    interval_s: float | None  # median
    bytes_median: float | None
    first_ts: float
    last_ts: float
    periodicity: float
    score: float  # the C&C score (c2rank)
    known_ioc: bool
    # the ranking names the destination a C&C (score, corroboration) or it is an indicator
    c2_candidate: bool
    names: tuple[str, ...]  # DNS, SNI or Host names of a bare-IP destination (at most 5)
    why: tuple[str, ...]

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Beacon:
        return cls(
            kind=cast(BeaconKind, str(r["kind"])),
            src=str(r["src"]),
            dst=str(r["dst"]),
            count=int(r["n"]),
            interval_s=_float(r["interval_s"]),
            bytes_median=_float(r["bytes_median"]),
            first_ts=float(r["first_ts"]),
            last_ts=float(r["last_ts"]),
            periodicity=float(r["periodicity"]),
            score=float(r["c2_score"]),
            known_ioc=bool(r["known_ioc"]),
            c2_candidate=bool(r["c2_candidate"]),
            names=tuple(str(n) for n in r.get("names") or ()),
            why=tuple(str(w) for w in r.get("why") or ()),
        )

    @property
    def pair(self) -> tuple[str, str, str]:
        return (self.kind, self.src, self.dst)


@dataclass(frozen=True, slots=True)
class NewC2:
    """An address whose beacon profile matches a known C&C's (DQ-NET-004)."""

    dst: str
    src: str  # the internal host whose beacon matched
    reference: str  # the known C&C it resembles
    confidence: float


@dataclass(frozen=True, slots=True)
class BlockedAttempts:
    """What one no-egress host originated to one external address (sql/direct_attempts.sql):
    the zone analysis the relay, bridge and C&C ranking read."""

    src: str
    dst: str
    n: int
    data_sessions: int
    first_ts: float
    last_ts: float
    min_port: int | None
    max_port: int | None
    egress_hosts: int  # egress hosts that reach the same address

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> BlockedAttempts:
        return cls(
            src=str(r["src"]),
            dst=str(r["dst"]),
            n=int(r["n"]),
            data_sessions=int(r["data_sessions"] or 0),
            first_ts=float(r["first_ts"]),
            last_ts=float(r["last_ts"]),
            min_port=None if r["min_port"] is None else int(r["min_port"]),
            max_port=None if r["max_port"] is None else int(r["max_port"]),
            egress_hosts=int(r["egress_hosts"] or 0),
        )

    @property
    def blocked(self) -> int:
        return self.n - self.data_sessions


@dataclass(frozen=True, slots=True)
class LateralMove:
    """A file written to a share and/or a remote execution on one destination (DQ-NET-005)."""

    src: str
    dst: str
    write_ts: float | None
    exec_ts: float | None
    method: str | None  # svcctl, atsvc, task...; None when only a write was seen
    share: str | None
    file: str | None
    account: str | None
    executable: bool
    # why the move is admin tooling, or "not a move: ..." for a copy that nothing ran;
    # None for a move that stands out
    admin_tool: str | None = None

    @classmethod
    def from_row(cls, m: Mapping[str, Any]) -> LateralMove:
        return cls(
            src=str(m["src"]),
            dst=str(m["dst"]),
            write_ts=_float(m["write_ts"]),
            exec_ts=_float(m["exec_ts"]),
            method=_text(m["method"]),
            share=_text(m["share"]),
            file=_text(m["file"]),
            account=_text(m["account"]),
            executable=bool(m["executable"]),
            admin_tool=_text(m.get("admin_tool")),
        )

    @property
    def is_move(self) -> bool:
        """False for a non-executable file copied to an admin share and never run."""
        return not (self.admin_tool or "").startswith("not a move")

    @property
    def unexplained(self) -> bool:
        """A move no tooling group explains: the ones that make hosts infected."""
        return not self.admin_tool

    def report_entry(self) -> dict[str, object]:
        return {
            "src": self.src,
            "dst": self.dst,
            "time": iso_utc(self.write_ts if self.write_ts is not None else self.exec_ts),
            "method": self.method or "write-only",
            "share": self.share,
            "file": self.file,
            "account": self.account,
            "admin_tool": self.admin_tool,
        }


@dataclass(frozen=True, slots=True)
class RelayEdge:
    """A no-egress host relaying to another internal host over SMB (DQ-NET-006)."""

    src: str
    dst: str
    pipe: str | None
    first_ts: float
    last_ts: float
    score: float

    def report_entry(self) -> dict[str, object]:
        return {
            "src": self.src,
            "dst": self.dst,
            "pipe": self.pipe,
            "first_seen": iso_utc(self.first_ts),
            "last_seen": iso_utc(self.last_ts),
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class DirectAttempt:
    """An external address the hosts behind a bridge tried directly (blocked)."""

    dst: str
    attempts: int
    hosts: int
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True, slots=True)
class Bridge:
    """An egress host carrying relayed no-egress hosts to a C&C (DQ-NET-007)."""

    ip: str
    c2: str | None
    served: tuple[str, ...]
    chains: tuple[str, ...]
    correlation: float | None
    baseline: float | None
    lift: float | None
    relayed_sessions: int | None
    window_s: float | None
    beacons: tuple[str, ...]
    tried_directly: tuple[DirectAttempt, ...] = ()
    c2_tried_directly: bool = False

    def report_entry(self) -> dict[str, object]:
        """The report's mapping; ``tried_directly`` and ``c2_tried_directly`` only when the
        hosts behind the bridge tried the internet directly."""
        entry: dict[str, object] = {
            "ip": self.ip,
            "c2": self.c2,
            "served": list(self.served),
            "chains": list(self.chains),
            "correlation": self.correlation,
            "baseline": self.baseline,
            "lift": self.lift,
            "relayed_sessions": self.relayed_sessions,
            "window_s": self.window_s,
            "beacons": list(self.beacons),
        }
        if self.tried_directly:
            entry["tried_directly"] = [
                {
                    "dst": t.dst,
                    "attempts": t.attempts,
                    "hosts": t.hosts,
                    "first_seen": t.first_seen,
                    "last_seen": t.last_seen,
                }
                for t in self.tried_directly
            ]
        if self.c2_tried_directly:
            entry["c2_tried_directly"] = True
        return entry


@dataclass(frozen=True, slots=True)
class InteractiveSession:
    """A long session to an external address nothing names and few reach (DQ-NET-010)."""

    src: str
    dst: str
    first_ts: float
    longest_s: float
    confidence: float


@dataclass(frozen=True, slots=True)
class HostName:
    """A name one kind of network evidence gives an internal address (sql/host_names.sql)."""

    ip: str
    name: str
    via: str  # ntlm, dhcp, kerberos, dns
    first_ts: float | None
    last_ts: float | None
    seen: int


@dataclass(slots=True)
class NetworkOutputs:
    """The typed results network detectors leave for later ones and for the campaign."""

    ioc_hits: tuple[IocHit, ...] = ()
    jpeg_posts: tuple[JpegPost, ...] = ()
    rare_user_agents: tuple[RareUserAgent, ...] = ()
    lateral_moves: tuple[LateralMove, ...] = ()
    relay_edges: tuple[RelayEdge, ...] = ()
    # best C&C candidate first; allow-listed pairs are left out (counted in beacons_suppressed)
    beacons: tuple[Beacon, ...] = ()
    beacons_scored: int | None = None  # None: the ranking did not run (no time window)
    beacons_suppressed: int = 0
    new_c2: tuple[NewC2, ...] = ()
    interactive: tuple[InteractiveSession, ...] = ()
    # no-egress hosts' outbound rows per destination; None until the zone analysis ran (once
    # per hunt, for whichever of the relay detector and the ranking asks first)
    blocked_attempts: tuple[BlockedAttempts, ...] | None = None
    # no-egress hosts that relay for others on a chain to a bridge
    relay_hosts: tuple[str, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    # names of internal addresses, best first per address; None until first asked for
    host_names: tuple[HostName, ...] | None = None
