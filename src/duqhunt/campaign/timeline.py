"""The case's one timeline: every dated event of every source, oldest first, on its machine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from duqhunt.campaign.sightings import epoch
from duqhunt.model.finding import Finding
from duqhunt.model.report import ReportDocument, TimelineEventModel
from duqhunt.render.common import finding_source

if TYPE_CHECKING:
    from duqhunt.campaign.identity import HostIndex

__all__ = ["build_timeline"]


def _norm_path(text: str) -> str:
    return text.replace("\\", "/").strip("/").casefold()


class _Artefacts:
    """A machine's findings by the artefact they are about: a file (its path in the evidence
    locator) or a service (a locator ending in ``Services\\<name>``); the first (the most
    severe, in report order) wins."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.files: dict[str, Finding] = {}
        self.services: dict[str, Finding] = {}
        for f in findings:
            for e in f.evidence:
                loc = _norm_path(e.locator)
                self.files.setdefault(loc, f)
                head, _, name = loc.rpartition("/services/")
                if head and name and "/" not in name:
                    self.services.setdefault(name, f)

    def about(self, event: Mapping[str, str | None]) -> Finding | None:
        """The finding about the artefact a host-timeline event records."""
        what = event.get("what") or ""
        if event.get("kind") == "service":
            return self.services.get(what.split(":", 1)[0].strip().casefold())
        return self.files.get(_norm_path(what)) if what else None


def build_timeline(doc: ReportDocument, index: HostIndex) -> list[TimelineEventModel]:
    """Every dated event of the case, oldest first: each finding on each of its machines (at its
    first sighting) and each host-artefact event (linked to the finding about that artefact,
    whose stage it takes; unlinked ones are context without a stage)."""
    events: list[TimelineEventModel] = []
    by_host: dict[str, list[Finding]] = defaultdict(list)
    artefacts: dict[str, _Artefacts] = {}
    for f in doc.findings:
        for hid in f.host_ids:
            by_host[hid].append(f)
        if not f.first_seen:
            continue
        for hid in f.host_ids or [None]:  # type: ignore[list-item]
            events.append(
                TimelineEventModel(
                    time=f.first_seen,
                    host_id=hid,
                    source=finding_source(f),
                    stage=f.stage,
                    finding_id=f.id,
                    summary=f.title,
                )
            )
    for t in doc.host_timeline:
        time = t.get("time")
        if not time:
            continue
        label = t.get("host") or ""
        hids = index.lookup(label, epoch(time)) if label else []
        on: str | None = hids[0] if len(hids) == 1 else None
        linked = None
        if on:
            if on not in artefacts:
                artefacts[on] = _Artefacts(by_host.get(on, []))
            linked = artefacts[on].about(t)
        kind = t.get("kind")
        events.append(
            TimelineEventModel(
                time=time,
                host_id=on,
                source="host",
                stage=linked.stage if linked else None,
                finding_id=linked.id if linked else None,
                kind=kind,
                summary=f"{kind or 'event'} {t.get('what') or ''}".strip(),
            )
        )
    events.sort(key=lambda e: (e.time, e.host_id or "", e.source, e.summary, e.finding_id or ""))
    return events
