"""What `duqhunt serve` shows: a case's latest report document, with live triage, as queries.

The report comes from report.json in the case folder (the hunt replaces it atomically when it
finishes), read again whenever the file changes, so a hunt of the same case while the app is
open works and the page shows the new run once it is written. The case's DuckDB file is only
opened (read-only, for the moment of one read) when the folder has no report.json; the app
never holds it, so a hunt can always take it. Verdicts come from the case's triage file at
every request (duqhunt.triage).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duqhunt.errors import UsageError
from duqhunt.model import severity_rank
from duqhunt.model.finding import Finding
from duqhunt.model.grouping import summary_groups
from duqhunt.model.report import FindingGroupModel, HostModel, ReportDocument
from duqhunt.render.common import machine_links as links_of
from duqhunt.triage import TriageStore, with_triage

SORTS = ("severity", "time", "detector", "confidence", "title")
MAX_PER_PAGE = 500
_UID = re.compile(r"\bC[A-Za-z0-9]{14,20}\b")
_RECORD = re.compile(r"\b(?:record|EventRecordID)[\s#:=]*(?:id\s*)?(\d{1,12})\b", re.I)


class CaseUnavailable(Exception):
    """The case has no report yet (its first hunt has not finished)."""


@dataclass(frozen=True, slots=True)
class FindingQuery:
    min_severity: str | None = None
    stage: str | None = None
    detector: str | None = None
    host: str | None = None
    status: str | None = None
    text: str | None = None
    group: str | None = None  # a summary group's id: only its findings
    sort: str = "severity"
    descending: bool = True
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Finding]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class CaseSource:
    """One case, as the web app reads it."""

    def __init__(self, target: Path) -> None:
        target = Path(target)
        if target.is_dir():
            self.folder = target
            self.case_file: Path | None = target / "case.duckdb"
        elif target.suffix == ".duckdb" and target.is_file():
            self.folder = target.parent
            self.case_file = target
        elif target.name == "report.json" and target.is_file():
            self.folder = target.parent
            self.case_file = None
        else:
            raise UsageError(
                f"{target}: not a case (give the folder a hunt wrote with --out, or its "
                "case.duckdb)"
            )
        self.report_path = self.folder / "report.json"
        if not self.report_path.is_file() and not (self.case_file and self.case_file.is_file()):
            raise UsageError(f"{target}: no report.json and no case.duckdb: hunt it first")
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._doc: ReportDocument | None = None
        self._merged: tuple[tuple[int, tuple[int, int] | None], ReportDocument] | None = None

    # -- the report ---------------------------------------------------------------------------
    def _load(self) -> ReportDocument:
        from duqhunt.render import load_report

        if self.report_path.is_file():
            st = self.report_path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            with self._lock:
                if self._doc is None or stamp != self._stamp:
                    self._doc = load_report(self.report_path)
                    self._stamp = stamp
                return self._doc
        return self._from_case_file()

    def _from_case_file(self) -> ReportDocument:
        import duckdb

        assert self.case_file is not None
        try:
            con = duckdb.connect(str(self.case_file), read_only=True)
        except duckdb.Error as exc:
            raise CaseUnavailable(f"the case is busy or unreadable ({exc})") from None
        try:
            row = con.execute("SELECT report FROM runs ORDER BY finished DESC LIMIT 1").fetchone()
        finally:
            con.close()
        if row is None:
            raise CaseUnavailable("the case has no finished hunt yet")
        return ReportDocument.model_validate_json(row[0])

    @property
    def triage(self) -> TriageStore:
        doc_case = None
        if self._doc is not None and self._doc.case:
            doc_case = Path(self._doc.case)
        if self.case_file is not None:
            return TriageStore.for_case(self.case_file)
        if doc_case is not None:
            return TriageStore.for_case(doc_case)
        return TriageStore.for_case(self.folder / "case.duckdb")

    def document(self) -> ReportDocument:
        """The latest report with every finding's current verdict (kept until the report or
        the triage file changes)."""
        doc = self._load()
        triage = self.triage
        try:
            st = triage.path.stat()
            tstamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            tstamp = None
        key = (id(doc), tstamp)
        with self._lock:
            if self._merged is not None and self._merged[0] == key:
                return self._merged[1]
        merged = doc.model_copy(update={"findings": with_triage(doc.findings, triage.current())})
        with self._lock:
            self._merged = (key, merged)
        return merged

    # -- queries ------------------------------------------------------------------------------
    def finding(self, doc: ReportDocument, finding_id: str) -> Finding | None:
        """The finding with this id, or the one an occurrence with this id was merged into
        (an event storm: a link to one of its events, made before they were merged, still
        leads to it)."""
        exact = next((f for f in doc.findings if f.id == finding_id), None)
        if exact is not None:
            return exact
        return next(
            (f for f in doc.findings if any(o.id == finding_id for o in f.occurrences)), None
        )

    def query(self, doc: ReportDocument, q: FindingQuery) -> Page:
        members = None
        if q.group is not None:
            g = group_of(doc, q.group)
            members = frozenset(g.finding_ids if g else ())
        items = [f for f in doc.findings if _matches(f, q, doc, members)]
        items.sort(key=_sort_key(q.sort), reverse=q.descending and q.sort != "severity")
        if q.sort == "severity" and not q.descending:
            items.reverse()
        per_page = max(1, min(q.per_page, MAX_PER_PAGE))
        page = max(1, q.page)
        start = (page - 1) * per_page
        return Page(items[start : start + per_page], len(items), page, per_page)

    def host(self, doc: ReportDocument, host_id: str) -> dict[str, Any] | None:
        """One host's story: its campaign entry, names, findings and timeline, or None."""
        aliases = host_aliases(doc, host_id)
        findings = [f for f in doc.findings if _about(f, host_id, aliases, doc)]
        timeline = [
            t for t in doc.host_timeline if any(v in aliases for v in t.values() if v is not None)
        ]
        entry = next(
            (h for h in doc.campaign.hosts if h.ip in aliases or (h.name and h.name in aliases)),
            None,
        )
        if not findings and not timeline and entry is None:
            return None
        stages: dict[str, list[Finding]] = {}
        for f in findings:
            stages.setdefault(f.stage, []).append(f)
        events = [
            {"time": f.first_seen, "source": "finding", "what": f.title, "id": f.id}
            for f in findings
            if f.first_seen
        ] + [
            {
                "time": t.get("time"),
                "source": t.get("source") or "host",
                "what": f"{t.get('kind')}: {t.get('what')}",
                "id": None,
            }
            for t in timeline
        ]
        ids = machine_ids(doc, host_id)
        if ids and doc.timeline:  # the report's one timeline (schema 1.3), every source
            events = [
                {"time": e.time, "source": e.source, "what": e.summary, "id": e.finding_id}
                for e in doc.timeline
                if e.host_id in ids
            ]
        events.sort(key=lambda e: str(e["time"] or ""))
        neighbours = sorted({h for f in findings for h in f.hosts if h not in aliases}, key=str)
        return {
            "id": host_id,
            "aliases": sorted(aliases),
            "entry": entry.model_dump() if entry else None,
            "findings": findings,
            "stages": stages,
            "events": events,
            "neighbours": neighbours,
        }

    def hosts(self, doc: ReportDocument, query: str = "") -> list[dict[str, Any]]:
        """One row per machine (hosts[]) with its names, addresses, campaign roles and finding
        counts, the most alarming first; a report without hosts[] has one row per label a
        finding names. ``query`` keeps the rows one of whose ids, names or addresses holds it
        (case-insensitive), so a machine is found by any of its labels."""
        rows = _machine_rows(doc) if doc.hosts else _label_rows(doc)
        needle = query.strip().casefold()
        if needle:
            rows = [
                r
                for r in rows
                if any(needle in x.casefold() for x in (r["id"], *r["names"], *r["ips"]))
            ]
        rows.sort(key=lambda r: (-r["worst"], -r["findings"], r["id"]))
        return rows

    def related(self, doc: ReportDocument, f: Finding, limit: int = 20) -> list[Finding]:
        hosts = set(f.hosts)
        values = {str(v) for k, v in f.details.items() if k in ("src", "dst") and v}
        out = [
            g
            for g in doc.findings
            if g.id != f.id
            and (hosts & set(g.hosts) or values & {str(g.details.get(k)) for k in ("src", "dst")})
        ]
        return out[:limit]


def _machine_rows(doc: ReportDocument) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    worst: dict[str, int] = {}
    for f in doc.findings:
        for hid in set(f.host_ids):
            counts[hid] += 1
            worst[hid] = max(worst.get(hid, -1), severity_rank(f.severity))
    return [
        {
            "id": h.id,
            "names": list(h.names),
            "ips": list(dict.fromkeys(a.ip for a in h.ips)),
            "roles": list(h.roles),
            "zone": h.zone,
            "findings": counts[h.id],
            "worst": worst.get(h.id, -1),
        }
        for h in doc.hosts
    ]


def _label_rows(doc: ReportDocument) -> list[dict[str, Any]]:
    """Rows of a report without hosts[]: each label a finding names, joined to its campaign
    host (by address or name) where there is one."""
    by_host: Counter[str] = Counter()
    worst: dict[str, int] = {}
    for f in doc.findings:
        for h in set(f.hosts):
            by_host[h] += 1
            worst[h] = max(worst.get(h, 0), severity_rank(f.severity))
    entries = {h.ip: h for h in doc.campaign.hosts}
    names = {h.name: h for h in doc.campaign.hosts if h.name}
    rows: list[dict[str, Any]] = []
    for h, n in by_host.items():
        e: HostModel | None = entries.get(h) or names.get(h)
        rows.append(
            {
                "id": h,
                "names": [e.name] if e and e.name else [],
                "ips": [e.ip] if e else [],
                "roles": list(e.roles) if e else [],
                "zone": e.zone if e else None,
                "findings": n,
                "worst": worst[h],
            }
        )
    return rows


def groups(doc: ReportDocument) -> list[FindingGroupModel]:
    """The report's finding groups (model/grouping.py), most important first: the summary's
    first screen, each linking to its findings (``/findings?group=ID``)."""
    return summary_groups(doc)


def group_of(doc: ReportDocument, group_id: str) -> FindingGroupModel | None:
    return next((g for g in groups(doc) if g.id == group_id), None)


def pivots(f: Finding) -> dict[str, list[str]]:
    """Zeek connection uids and EVTX record ids named in a finding's evidence and details."""
    texts = [e.locator for e in f.evidence] + [e.summary for e in f.evidence]
    texts += [str(v) for v in f.details.values() if v is not None]
    uids: list[str] = []
    records: list[str] = []
    for t in texts:
        for m in _UID.findall(t):
            if m not in uids:
                uids.append(m)
        for m in _RECORD.findall(t):
            if m not in records:
                records.append(m)
    return {"zeek_uids": uids[:50], "evtx_records": records[:50]}


def machine_ids(doc: ReportDocument, label: str) -> set[str]:
    """The machines (hosts[]) a host id, name or address stands for."""
    from duqhunt.campaign.sightings import short_name

    name = short_name(label)
    return {
        h.id
        for h in doc.hosts
        if label == h.id or name in h.names or any(a.ip == label for a in h.ips)
    }


def machine_links(doc: ReportDocument, f: Finding) -> list[tuple[str, str]]:
    """(host page, label) for each machine a finding is about, once each: its hosts[] id and
    best name with address (schema 1.3), else each name or address the finding gives."""
    machines = {h.id: h for h in doc.hosts}
    return (machines and links_of(f, machines)) or [(h, h) for h in f.hosts]


def _about(f: Finding, label: str, aliases: set[str], doc: ReportDocument) -> bool:
    """A finding is about a host: by the machines it names (hosts[], schema 1.3; a disputed
    address names every machine that held it), else by name or address."""
    ids = machine_ids(doc, label)
    if ids and f.host_ids:
        return bool(ids & set(f.host_ids))
    return bool(aliases & set(f.hosts))


def host_aliases(doc: ReportDocument, host_id: str) -> set[str]:
    """Every label of the host: its machine's id, names and addresses, and the campaign's."""
    aliases = {host_id}
    ids = machine_ids(doc, host_id)
    for machine in doc.hosts:
        if machine.id in ids:
            aliases.update({machine.id, *machine.names, *(a.ip for a in machine.ips)})
    for h in doc.campaign.hosts:
        if h.ip == host_id or (h.name and h.name == host_id):
            aliases.add(h.ip)
            if h.name:
                aliases.add(h.name)
    return aliases


def _matches(
    f: Finding, q: FindingQuery, doc: ReportDocument, members: frozenset[str] | None
) -> bool:
    if members is not None and f.id not in members:
        return False
    if q.min_severity and severity_rank(f.severity) < severity_rank(q.min_severity):
        return False
    if q.stage and f.stage != q.stage:
        return False
    if q.detector and f.detector != q.detector:
        return False
    if q.host and not _about(f, q.host, host_aliases(doc, q.host), doc):
        return False
    if q.status:
        status = f.triage.status if f.triage else "new"
        if status != q.status:
            return False
    if q.text:
        needle = q.text.lower()
        hay = " ".join(
            [f.id, f.title, f.detector, f.stage, *f.hosts, *f.attack]
            + [f"{e.source} {e.locator} {e.summary}" for e in f.evidence]
            + [str(v) for v in f.details.values() if v is not None]
            + ([f.triage.note] if f.triage else [])
        ).lower()
        if needle not in hay:
            return False
    return True


def _sort_key(sort: str) -> Any:
    if sort == "time":
        return lambda f: (f.first_seen or "", f.id)
    if sort == "detector":
        return lambda f: (f.detector, f.id)
    if sort == "confidence":
        return lambda f: (f.confidence, f.id)
    if sort == "title":
        return lambda f: (f.title.lower(), f.id)
    return lambda f: (-severity_rank(f.severity), -f.confidence, f.id)


__all__ = [
    "MAX_PER_PAGE",
    "SORTS",
    "CaseSource",
    "CaseUnavailable",
    "FindingQuery",
    "Page",
    "group_of",
    "groups",
    "host_aliases",
    "machine_ids",
    "machine_links",
    "pivots",
]
