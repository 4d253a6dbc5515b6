"""The host timeline: the dated artefacts of every scanned host (PNF files, drivers, ~D temp
files, scheduled tasks, service installs) as rows ``{time, host, kind, what, source}``, oldest
first, for the report's ``host_timeline``, which the case's timeline (campaign/timeline.py)
places on their machines beside the findings. A service key from a hive is a row only when
DQ-HOST-006 flagged it, since a hive lists every service of its machine.
"""

from __future__ import annotations

from duqhunt.detectors.host.base import HostArtefacts
from duqhunt.model import Finding
from duqhunt.model.finding import iso_utc

__all__ = ["timeline"]


def timeline(hosts: list[HostArtefacts], findings: list[Finding]) -> list[dict[str, str | None]]:
    flagged = {
        e.locator.lower() for f in findings if f.detector == "DQ-HOST-006" for e in f.evidence
    }
    rows: list[tuple[float, dict[str, str | None]]] = []

    def add(t: float | None, host: str, kind: str, what: str, source: str) -> None:
        if t is not None:
            rows.append(
                (
                    t,
                    {
                        "time": iso_utc(t),
                        "host": host,
                        "kind": kind,
                        "what": what,
                        "source": source,
                    },
                )
            )

    for h in hosts:
        for f in h.files:
            low = f.name.lower()
            if f.kind == "pnf":
                add(f.mtime, h.host, "pnf", f.rel, str(f.path))
            elif f.kind == "pe" and low.endswith(".sys"):
                add(f.mtime, h.host, "driver", f.rel, str(f.path))
            elif f.kind == "temp":
                add(f.mtime, h.host, "temp-file", f.rel, str(f.path))
        for f, job in h.jobs:
            add(
                job.last_run or f.mtime,
                h.host,
                "task",
                f"{f.name}: {job.application} {job.parameters}".strip(),
                str(f.path),
            )
        for f, hf in h.hives:
            for s in hf.services:
                if s.key_path.lower() in flagged:
                    add(s.last_write, h.host, "service", f"{s.name}: {s.image_path}", str(f.path))
        for e in h.events:
            if e.event_id in (7045, 4697):
                what = f"{e.get('ServiceName')}: {e.get('ImagePath') or e.get('ServiceFileName')}"
                add(e.time, e.computer or h.host, "service", what, e.source)
            elif e.event_id in (4698, 4702, 106):
                add(e.time, e.computer or h.host, "task", e.get("TaskName"), e.source)
    rows.sort(key=lambda r: (r[0], r[1]["host"] or "", r[1]["what"] or ""))
    return [r for _, r in rows]
