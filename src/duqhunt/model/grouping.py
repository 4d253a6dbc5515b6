"""Grouped findings: repeats of one thing are one finding, and alike findings are one group.

Two steps, both generic (they read only what every finding has: detector, severity, stage,
hosts, title), so a new detector is grouped without code of its own.

1. **Event storms** (``merge_repeats``). A detector that reports one finding per event (a
   service installed, a logon session) turns a mass deployment into hundreds of findings that
   say the same thing. When STORM_MIN or more findings of one detector on the same hosts have
   the same severity, stage and title shape (below), they become one finding with ``count``
   and ``occurrences`` (each repeat's id, time, evidence locator, title and details). The merged
   finding keeps the id of its earliest occurrence (ties by id), so the same evidence gives
   the same id whatever order its events come in, and a verdict an analyst gave to that
   occurrence still applies. Fewer repeats stay separate findings: two beacons from one host
   to two servers are two things, and the summary groups them anyway.

2. **Summary groups** (``group_findings``). Findings of one detector with the same severity,
   stage and title shape are one group whatever their hosts: the same implant file on 11
   hosts, 10 lateral moves of one kind. Groups are ordered by severity, then by how much of
   the kill chain their stage explains (KILL_CHAIN_ORDER), then by how many hosts they cover,
   then by their strongest finding's confidence.

The **title shape** is the title with its instance tokens replaced by "…": a token is an
instance (a value, not the detector's wording) when it holds a digit (addresses, counts, times,
random names such as 7b757458), a backslash (paths, DOMAIN\\account), a file or domain
extension (jminet7.sys, www.example.de) or is one of the finding's hosts. Punctuation around a
token is kept, so "… -> …: … on ADMIN$, run as a service" and "… on C$, run as a service" are
different shapes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from duqhunt.model.finding import Evidence, Finding, OccurrenceModel, severity_rank
from duqhunt.model.report import FindingGroupModel, HostIdentityModel, ReportDocument, SummaryModel

__all__ = [
    "KILL_CHAIN_ORDER",
    "MAX_OCCURRENCES",
    "STORM_MIN",
    "group_findings",
    "group_hosts",
    "group_machine_count",
    "merge_repeats",
    "summary_groups",
    "title_shape",
    "with_summary",
]

#: This many findings (or more) of one detector with one shape on the same hosts are a storm.
STORM_MIN = 5

#: report.json keeps this many occurrences per finding (``count`` has the number of all of
#: them); findings.jsonl and the case keep every one.
MAX_OCCURRENCES = 50

#: Stages by how much of the intrusion a finding at that stage explains, most first. C&C names
#: the attacker's server, the one thing every infected host shares; relays name the hosts that
#: carry it to machines without internet access; lateral movement names the spread between
#: hosts; installation, exploitation and delivery explain one host each; exfiltration
#: artefacts, discovery and posture add context.
KILL_CHAIN_ORDER: tuple[str, ...] = (
    "command-and-control",
    "internal-relay",
    "lateral-movement",
    "installation",
    "exploitation",
    "delivery",
    "exfiltration",
    "discovery",
    "posture",
)

_HOLE = "\u2026"
_EXTENSION = re.compile(r"\w\.[A-Za-z][A-Za-z0-9]{1,4}$")
_LEAD = "([{'\"<"
_TRAIL = ")]}'\">,;:.!?"


def _split(token: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of a whitespace-separated token."""
    start, end = 0, len(token)
    while start < end and token[start] in _LEAD:
        start += 1
    while end > start and token[end - 1] in _TRAIL:
        end -= 1
    return token[:start], token[start:end], token[end:]


def _is_instance(core: str, hosts: frozenset[str]) -> bool:
    return bool(core) and (
        any(c.isdigit() for c in core)
        or "\\" in core
        or _EXTENSION.search(core) is not None
        or core.casefold() in hosts
    )


def _shape_tokens(title: str, hosts: Iterable[str]) -> list[tuple[str, str, str, bool]]:
    known = frozenset(h.casefold() for h in hosts)
    out = []
    for token in title.split():
        lead, core, trail = _split(token)
        out.append((lead, core, trail, _is_instance(core, known)))
    return out


def title_shape(title: str, hosts: Iterable[str] = ()) -> str:
    """`title` with its instance tokens replaced by "…" (see the module docstring)."""
    return " ".join(
        f"{lead}{_HOLE if inst else core}{trail}"
        for lead, core, trail, inst in _shape_tokens(title, hosts)
    )


def _shape(f: Finding) -> str:
    return title_shape(f.title, f.hosts)


def _time_key(f: Finding) -> tuple[bool, str, str]:
    return (f.first_seen is None, f.first_seen or "", f.id)


def _merged_title(members: Sequence[Finding]) -> str:
    """The members' common title: tokens that differ between them become "…"."""
    rows = [_shape_tokens(m.title, m.hosts) for m in members]
    words = []
    for column in zip(*rows, strict=True):
        lead, core, trail, _ = column[0]
        same = all(c[1] == core for c in column)
        words.append(f"{lead}{core if same else _HOLE}{trail}")
    return " ".join(words)


def _occurrence(f: Finding) -> list[OccurrenceModel]:
    if f.occurrences:
        return list(f.occurrences)
    ev = f.evidence[0] if f.evidence else None
    return [
        OccurrenceModel(
            id=f.id,
            time=f.first_seen,
            source=ev.source if ev else "",
            locator=ev.locator if ev else "",
            title=f.title,
            details=dict(f.details),
        )
    ]


def _merge(members: list[Finding]) -> Finding:
    members = sorted(members, key=_time_key)
    first = members[0]
    occurrences = sorted(
        (o for m in members for o in _occurrence(m)),
        key=lambda o: (o.time is None, o.time or "", o.id),
    )
    evidence: list[Evidence] = []
    seen = set()
    for m in members:
        for e in m.evidence:
            if (e.source, e.locator) not in seen and len(evidence) < MAX_OCCURRENCES:
                seen.add((e.source, e.locator))
                evidence.append(e)
    # details the members agree on still describe the merged finding; the others describe
    # single occurrences and would mislead
    details = {
        k: v
        for k, v in first.details.items()
        if all(m.details.get(k, object()) == v for m in members)
    }
    attack = tuple(dict.fromkeys(a for m in members for a in m.attack))
    firsts = [m.first_seen for m in members if m.first_seen]
    lasts = [m.last_seen for m in members if m.last_seen]
    return first.model_copy(
        update={
            "title": _merged_title(members),
            "attack": attack,
            "confidence": max(m.confidence for m in members),
            "first_seen": min(firsts) if firsts else None,
            "last_seen": max(lasts) if lasts else None,
            "evidence": tuple(evidence),
            "details": details,
            "count": sum(m.count for m in members),
            "occurrences": occurrences,
        }
    )


def merge_repeats(findings: Sequence[Finding], storm_min: int = STORM_MIN) -> list[Finding]:
    """`findings` with every event storm (``storm_min`` or more findings of one detector, on
    the same hosts, with one severity, stage and title shape) merged into one finding; order
    kept (a merged finding takes its first member's place)."""
    buckets: dict[tuple[object, ...], list[Finding]] = {}
    for f in findings:
        key = (f.detector, f.severity, f.stage, tuple(sorted(f.hosts)), _shape(f))
        buckets.setdefault(key, []).append(f)
    merged: dict[str, Finding] = {}
    dropped: set[str] = set()
    for members in buckets.values():
        # a finding merged by an earlier run of the case counts with all its repeats
        if sum(m.count for m in members) < storm_min or len(members) < 2:
            continue
        one = _merge(members)
        merged[members[0].id] = one
        dropped.update(m.id for m in members[1:])
    return [merged.get(f.id, f) for f in findings if f.id not in dropped]


def group_hosts(findings: Iterable[Finding]) -> list[str]:
    """The hosts a group covers, each once, in the order given (a group passes its findings
    oldest first). The one place that says how a group names its machines: host names and
    addresses as the findings give them."""
    return list(dict.fromkeys(h for f in findings for h in f.hosts))


def _stage_rank(stage: str) -> int:
    return KILL_CHAIN_ORDER.index(stage) if stage in KILL_CHAIN_ORDER else len(KILL_CHAIN_ORDER)


def _group_id(key: tuple[str, str, str, str]) -> str:
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).hexdigest()[:16]
    return f"{key[0]}-group-{digest}"


def _identified(findings: Sequence[Finding], hosts: Sequence[HostIdentityModel]) -> bool:
    """Whether machines are known (hosts[], schema 1.3): then a group counts its host_ids."""
    return bool(hosts) or any(f.host_ids for f in findings)


def group_findings(
    findings: Iterable[Finding], hosts: Iterable[HostIdentityModel] = ()
) -> list[FindingGroupModel]:
    """Findings of one detector with one severity, stage and title shape, one group each,
    whatever their hosts; most severe first, then by kill-chain stage (KILL_CHAIN_ORDER), then
    by hosts covered, confidence and occurrences. A group's title is its strongest finding's.

    A group's host_ids are the internal machines of its findings: a machine of `hosts` whose
    zone is "external" (a C&C server, a scanner on the internet) is not one of the "N hosts"
    an intrusion reached; its findings still name it (their own host_ids)."""
    findings = list(findings)
    machines = list(hosts)
    identified = _identified(findings, machines)
    outside = {h.id for h in machines if h.zone == "external"}
    acc: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in findings:
        acc.setdefault((f.detector, f.severity, f.stage, _shape(f)), []).append(f)
    groups = []
    for key, members in acc.items():
        members.sort(key=lambda m: (-m.confidence, *_time_key(m)))
        lead = members[0]
        firsts = [m.first_seen for m in members if m.first_seen]
        lasts = [m.last_seen for m in members if m.last_seen]
        groups.append(
            FindingGroupModel(
                id=_group_id(key),
                detector=lead.detector,
                title=lead.title,
                pattern=key[3],
                severity=lead.severity,
                stage=lead.stage,
                attack=list(dict.fromkeys(a for m in members for a in m.attack)),
                confidence=lead.confidence,
                count=sum(m.count for m in members),
                hosts=group_hosts(sorted(members, key=_time_key)),
                host_ids=[
                    h
                    for h in dict.fromkeys(
                        h for m in sorted(members, key=_time_key) for h in m.host_ids
                    )
                    if h not in outside
                ],
                finding_ids=[m.id for m in members],
                first_seen=min(firsts) if firsts else None,
                last_seen=max(lasts) if lasts else None,
            )
        )
    groups.sort(
        key=lambda g: (
            -severity_rank(g.severity),
            _stage_rank(g.stage),
            -(len(g.host_ids) if identified else len(g.hosts)),  # machines, not their names
            -g.confidence,
            -g.count,
            g.detector,
            g.pattern,
        )
    )
    return groups


def with_summary(doc: ReportDocument) -> ReportDocument:
    """`doc` with ``summary.groups`` computed from its findings (after any filter)."""
    groups = group_findings(doc.findings, doc.hosts)
    return doc.model_copy(update={"summary": SummaryModel(groups=groups)})


def group_machine_count(g: FindingGroupModel, doc: ReportDocument) -> int:
    """How many hosts a group covers, as every output shows it: its internal machines, or in
    a report without machines (hosts[]) the names and addresses its findings give."""
    return len(g.host_ids) if _identified(doc.findings, doc.hosts) else len(g.hosts)


def summary_groups(doc: ReportDocument) -> list[FindingGroupModel]:
    """The groups every renderer shows first: the document's own, or (a report written before
    groups existed, or whose findings were filtered since) computed from its findings."""
    ids = {f.id for f in doc.findings}
    listed = [i for g in doc.summary.groups for i in g.finding_ids]
    outside = {h.id for h in doc.hosts if h.zone == "external"}
    # a schema 1.3 report counted external machines among a group's hosts
    counted_outside = any(h in outside for g in doc.summary.groups for h in g.host_ids)
    if (
        doc.summary.groups
        and len(listed) == len(ids)
        and set(listed) == ids
        and not counted_outside
    ):
        return list(doc.summary.groups)
    return group_findings(doc.findings, doc.hosts)
