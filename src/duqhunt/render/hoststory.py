"""One story per machine, from the report document alone: its part in the campaign, its findings
by kill-chain stage, its timeline across sources, its neighbours in the topology and the delays
between delivery, installation and the first C&C contact.

The delays matter for Duqu-class intrusions: the installer only ran inside a window of days
after the lure was opened, and the implant waited before it first called home, so the gaps on
one machine tell an analyst where to look for what the evidence missed. A delay is given only
where the timeline shows both ends on that machine; nothing is estimated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from duqhunt.model.finding import STAGES, Finding, severity_rank
from duqhunt.model.report import HostIdentityModel, ReportDocument, TimelineEventModel
from duqhunt.render.common import field_text, format_interval

__all__ = ["Delay", "HostStory", "Neighbour", "host_stories"]

DELIVERY_STAGES = ("delivery", "exploitation")
#: Duqu's installer only installed within this many days of the document being opened
INSTALL_WINDOW_DAYS = 8


@dataclass(frozen=True, slots=True)
class Neighbour:
    host_id: str | None  # None: an address no machine of the report has
    label: str
    relation: str


@dataclass(frozen=True, slots=True)
class Delay:
    label: str
    start: TimelineEventModel
    end: TimelineEventModel
    seconds: float

    @property
    def text(self) -> str:
        return format_interval(self.seconds)


@dataclass(slots=True)
class HostStory:
    host: HostIdentityModel
    findings: list[Finding] = field(default_factory=list)
    by_stage: list[tuple[str, list[Finding]]] = field(default_factory=list)
    timeline: list[TimelineEventModel] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    delays: list[Delay] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def worst(self) -> int:
        return max((severity_rank(f.severity) for f in self.findings), default=-1)

    @property
    def label(self) -> str:
        h = self.host
        return h.names[0] if h.names else (h.ips[0].ip if h.ips else h.id)


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _first(
    events: Iterable[TimelineEventModel], stages: Iterable[str], after: float | None = None
) -> tuple[TimelineEventModel, float] | None:
    wanted = set(stages)
    for e in events:  # oldest first
        t = _epoch(e.time)
        if e.stage in wanted and t is not None and (after is None or t >= after):
            return e, t
    return None


def delays(events: list[TimelineEventModel]) -> tuple[list[Delay], list[str]]:
    """Delivery (lure received or opened) to installation (driver, service, PNF written), and
    installation to the first C&C contact after it, on one machine's timeline."""
    out: list[Delay] = []
    notes: list[str] = []
    delivered = _first(events, DELIVERY_STAGES)
    installed = _first(events, ("installation",), delivered[1] if delivered else None)
    if delivered and installed:
        seconds = installed[1] - delivered[1]
        out.append(Delay("delivery \u2192 installation", delivered[0], installed[0], seconds))
        if seconds > INSTALL_WINDOW_DAYS * 86400:
            notes.append(
                f"installation came {format_interval(seconds)} after delivery, later than the "
                f"{INSTALL_WINDOW_DAYS}-day window Duqu's installer kept to: another delivery "
                "may be missing from the evidence"
            )
    if installed:
        contact = _first(events, ("command-and-control",), installed[1])
        if contact:
            out.append(
                Delay(
                    "installation \u2192 first C&C contact",
                    installed[0],
                    contact[0],
                    contact[1] - installed[1],
                )
            )
    return out, notes


def _ids_by_ip(doc: ReportDocument) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for h in doc.hosts:
        for a in h.ips:
            if h.id not in out[a.ip]:
                out[a.ip].append(h.id)
    return out


def _neighbours(doc: ReportDocument) -> dict[str, list[Neighbour]]:
    """Who each machine talks to in the campaign topology (moves, relays, bridges, beacons)."""
    by_ip = _ids_by_ip(doc)
    names = {h.id: h.names[0] for h in doc.hosts if h.names}
    out: dict[str, dict[tuple[str | None, str, str], None]] = defaultdict(dict)

    def link(src: str, dst: str, forward: str, backward: str) -> None:
        unknown: list[str | None] = [None]  # an address no machine of the report has
        for a in by_ip.get(src, []):
            for b in by_ip.get(dst, []) or unknown:
                out[a][(b, dst, forward)] = None
        for b in by_ip.get(dst, []):
            for c in by_ip.get(src, []) or unknown:
                out[b][(c, src, backward)] = None

    camp = doc.campaign
    for m in camp.lateral_moves:
        method = field_text(m, "method") or "a move"
        link(
            field_text(m, "src"),
            field_text(m, "dst"),
            f"moved to it ({method})",
            f"moved here from it ({method})",
        )
    for e in camp.relay_edges:
        link(field_text(e, "src"), field_text(e, "dst"), "relays through it", "relays for it")
    for b in camp.bridges:
        if b.get("c2"):
            link(field_text(b, "ip"), field_text(b, "c2"), "bridges to this C&C", "C&C it bridges")
    for bc in camp.beacons:
        if not bc.suppressed:
            link(bc.src, bc.dst, "beacons to it", "beaconed to by it")
    return {
        hid: [
            Neighbour(h, f"{names[h]} ({label})" if h in names else label, rel)
            for (h, label, rel) in items
        ]
        for hid, items in out.items()
    }


def host_stories(doc: ReportDocument) -> list[HostStory]:
    """Every machine of the report with its story, the most alarming first."""
    stories = {h.id: HostStory(h) for h in doc.hosts}
    for f in doc.findings:
        for hid in f.host_ids:
            if hid in stories:
                stories[hid].findings.append(f)
    for e in doc.timeline:
        if e.host_id in stories:
            stories[e.host_id].timeline.append(e)
    neighbours = _neighbours(doc)
    for hid, s in stories.items():
        stages: dict[str, list[Finding]] = defaultdict(list)
        for f in s.findings:
            stages[f.stage].append(f)
        s.by_stage = [(st, stages[st]) for st in STAGES if stages.get(st)]
        s.by_stage += [(st, fs) for st, fs in stages.items() if st not in STAGES]
        s.neighbours = neighbours.get(hid, [])
        s.delays, s.notes = delays(s.timeline)
    return sorted(stories.values(), key=lambda s: (-s.worst, -len(s.findings), s.host.id))
