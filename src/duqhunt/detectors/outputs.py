"""What network detectors hand to later detectors and to the campaign layer, typed.

DQ-NET-005 leaves its lateral moves, DQ-NET-006 its relay edges, DQ-NET-007 its bridges and
the relays on their chains in ``HuntContext.outputs``; the C&C ranking (DQ-NET-002), the bridge
detector and campaign/network.py read them from there, by field, never by a detector id or a
column name. The report keeps its free-form mappings (schema 1.x): ``report_entry`` makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duqhunt.model import iso_utc


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


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


@dataclass(slots=True)
class NetworkOutputs:
    """The typed results network detectors leave for later ones and for the campaign."""

    lateral_moves: tuple[LateralMove, ...] = ()
    relay_edges: tuple[RelayEdge, ...] = ()
    # no-egress hosts that relay for others on a chain to a bridge
    relay_hosts: tuple[str, ...] = ()
    bridges: tuple[Bridge, ...] = ()
