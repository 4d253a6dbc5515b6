"""The view helpers every renderer shares: how a report document's values are ordered,
counted, shortened and shown, whatever the output (terminal, CSV, HTML, the kill chain, the
web app).

Everything here reads the report document (ReportDocument and its parts) and nothing else: no
case store, no engine, no live analysis objects, so a report.json loaded from disk renders the
same as the document a hunt just built.

Campaign edges (lateral moves, relay edges, bridges) are free-form mappings in the report, so
a report from a newer duqhunt still renders: `field_text` and `field_number` read them without
trusting types.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from duqhunt.model.finding import SEVERITIES, STAGES, Finding, family_of, iso_utc, severity_rank
from duqhunt.model.grouping import with_summary
from duqhunt.model.report import (
    BeaconModel,
    C2Model,
    FileVerdictModel,
    HostIdentityModel,
    ReportDocument,
)
from duqhunt.safety import printable

__all__ = [
    "BELOW_MIN_STAT",
    "MIN_SEVERITY_STAT",
    "SEVERITY_ORDER",
    "TIME_STATS",
    "VERDICT_ORDER",
    "at_least",
    "attack_url",
    "below_min_note",
    "field_number",
    "field_text",
    "finding_source",
    "format_bytes",
    "format_interval",
    "format_score",
    "input_counts",
    "is_admin_move",
    "machine_label",
    "machine_labels",
    "machine_links",
    "ranked_beacons",
    "ranked_bridges",
    "ranked_c2",
    "ranked_lateral",
    "ranked_relays",
    "severity_counts",
    "short_path",
    "short_time",
    "sorted_findings",
    "sorted_timeline",
    "sorted_verdicts",
    "stage_counts",
    "stat_value",
    "value_text",
    "verdict_counts",
    "visible",
]

#: Severities from most to least severe, the order every output lists them in.
SEVERITY_ORDER: tuple[str, ...] = tuple(reversed(SEVERITIES))

#: Document verdicts from most to least alarming, the order every output lists them in.
VERDICT_ORDER: tuple[str, ...] = (
    "malicious",
    "suspicious",
    "malformed",
    "partial",
    "encrypted",
    "unsupported",
    "clean",
)

#: stats keys `at_least` sets: the severity asked for and how many findings were left out.
MIN_SEVERITY_STAT = "min_severity"
BELOW_MIN_STAT = "findings_below_min_severity"

_ATTACK_ID = re.compile(r"T(\d{4})(?:\.(\d{3}))?")


def attack_url(technique: str) -> str | None:
    """The MITRE ATT&CK page of a technique id ("T1021" -> .../techniques/T1021/, "T1021.002"
    -> .../techniques/T1021/002/), or None when `technique` is not a technique id."""
    match = _ATTACK_ID.fullmatch(technique)
    if match is None:
        return None
    base, sub = match.groups()
    return f"https://attack.mitre.org/techniques/T{base}/" + (f"{sub}/" if sub else "")


def at_least(doc: ReportDocument, min_severity: str) -> ReportDocument:
    """The report with findings below `min_severity` left out (``--min-severity``).

    The severity and the count left out are in ``stats`` (MIN_SEVERITY_STAT, BELOW_MIN_STAT),
    so every output can say what it does not show.
    """
    floor = severity_rank(min_severity)
    kept = [f for f in doc.findings if severity_rank(f.severity) >= floor]
    stats = dict(doc.stats)
    stats[MIN_SEVERITY_STAT] = min_severity
    stats[BELOW_MIN_STAT] = len(doc.findings) - len(kept)
    return with_summary(doc.model_copy(update={"findings": kept, "stats": stats}))


#: stats that hold a time in epoch seconds (the span of the network evidence); report.json keeps
#: the number, every rendering shows it as ISO-8601 UTC.
TIME_STATS = frozenset({"window_start", "window_end"})


def stat_value(key: str, value: object) -> object:
    """A stat as an output shows it: a time stat as ISO-8601 UTC, anything else as it is."""
    if key in TIME_STATS and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return iso_utc(value)
        except (OverflowError, OSError, ValueError):  # out of datetime's range: keep the number
            return value
    return value


def below_min_note(doc: ReportDocument) -> str | None:
    """ "N finding(s) below SEVERITY left out (--min-severity ...)" when `at_least` filtered."""
    level = doc.stats.get(MIN_SEVERITY_STAT)
    left_out = doc.stats.get(BELOW_MIN_STAT)
    if level is None or not isinstance(left_out, int):
        return None
    return f"{left_out} finding(s) below {level} left out (--min-severity {level})"


def visible(value: object) -> str:
    """`value` as a single-line string with control/bidi/invisible characters shown as escapes
    (these can hide or reorder text, "Trojan Source" and RLO file names, or drive a terminal
    with ESC sequences; see safety.printable).

    Not a markup or HTML escape: callers still escape for their output (rich markup, HTML).
    """
    return printable(value)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Severity descending, then confidence descending; ties broken by detector, title, id."""
    return sorted(
        findings,
        key=lambda f: (-severity_rank(f.severity), -f.confidence, f.detector, f.title, f.id),
    )


def finding_source(finding: Finding) -> str:
    """ "network", "host", "document" (from the detector id prefix) or "other"."""
    for ident in (finding.detector, finding.id):
        family = family_of(ident)
        if family is not None:
            return family
    return "other"


def _verdict_rank(verdict: str) -> int:
    return VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else len(VERDICT_ORDER)


def sorted_verdicts(verdicts: Iterable[FileVerdictModel]) -> list[FileVerdictModel]:
    """Most alarming verdict first (malicious ... clean), then by path."""
    return sorted(verdicts, key=lambda v: (_verdict_rank(v.verdict), v.path))


def verdict_counts(verdicts: Iterable[FileVerdictModel]) -> dict[str, int]:
    """Count per verdict that occurs, most alarming first."""
    counts = Counter(v.verdict for v in verdicts)
    return {v: counts[v] for v in sorted(counts, key=lambda v: (_verdict_rank(v), v))}


def sorted_timeline(
    events: Iterable[Mapping[str, object]],
) -> list[Mapping[str, object]]:
    """Host timeline events by time (events without one last), then host, kind, what, source."""
    return sorted(
        events,
        key=lambda e: (
            not field_text(e, "time"),
            field_text(e, "time"),
            field_text(e, "host"),
            field_text(e, "kind"),
            field_text(e, "what"),
            field_text(e, "source"),
        ),
    )


def short_path(path: str, keep: int = 3) -> str:
    """The last `keep` components of a path, after an ellipsis ("…/Windows/inf/usbstor.pnf")."""
    text = path.rstrip("/\\")
    seps = [i for i, ch in enumerate(text) if ch in "/\\"]
    if len(seps) <= keep:
        return path
    return "\u2026" + text[seps[-keep] :]


def ranked_beacons(beacons: Iterable[BeaconModel]) -> list[BeaconModel]:
    """Unsuppressed beacons first, then by score descending (NaN scores last)."""
    return sorted(
        beacons,
        key=lambda b: (b.suppressed, -_finite(b.score), b.src, b.dst, b.kind),
    )


def ranked_c2(c2: Iterable[C2Model]) -> list[C2Model]:
    """Known IOCs first, then by score descending."""
    return sorted(c2, key=lambda c: (not c.known_ioc, -_finite(c.score), c.ip))


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def field_number(item: Mapping[str, object], key: str) -> float | None:
    """item[key] as a finite float, or None when missing, not a number, or not finite."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def field_text(item: Mapping[str, object], key: str) -> str:
    """item[key] as text ("" when missing or null); lists are joined with ", "."""
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def is_admin_move(move: Mapping[str, object]) -> bool:
    """True when the move was made by learned or allow-listed admin tooling (admin_tool set)."""
    return bool(move.get("admin_tool"))


def ranked_lateral(moves: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Moves by attackers first, admin tooling last; each group by time, then source, target."""
    return sorted(
        moves,
        key=lambda m: (
            is_admin_move(m),
            field_text(m, "time"),
            field_text(m, "src"),
            field_text(m, "dst"),
        ),
    )


def ranked_relays(edges: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Relay edges by score descending, then source and relay."""

    def key(e: Mapping[str, object]) -> tuple[float, str, str]:
        score = field_number(e, "score")
        return (
            -score if score is not None else math.inf,
            field_text(e, "src"),
            field_text(e, "dst"),
        )

    return sorted(edges, key=key)


def ranked_bridges(bridges: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Bridges by correlation descending (unknown last), then lift descending, then address."""

    def key(b: Mapping[str, object]) -> tuple[float, float, str]:
        corr = field_number(b, "correlation")
        lift = field_number(b, "lift")
        return (
            -corr if corr is not None else math.inf,
            -lift if lift is not None else math.inf,
            field_text(b, "ip"),
        )

    return sorted(bridges, key=key)


def short_time(value: object) -> str:
    """An ISO timestamp shortened to "YYYY-MM-DD HH:MM:SS"; anything else as text."""
    text = "" if value is None else str(value)
    if _ISO_TIME.match(text):
        return text[:10] + " " + text[11:19]
    return text


_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Count per severity, every severity present, most severe first."""
    counts: Counter[str] = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITY_ORDER}


def stage_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Count per stage in kill-chain order (every known stage present, even at 0).

    Stages outside the known vocabulary (a report from a newer duqhunt) follow, sorted.
    """
    counts = Counter(f.stage for f in findings)
    result = {s: counts.get(s, 0) for s in STAGES}
    for stage in sorted(set(counts) - set(STAGES)):
        result[stage] = counts[stage]
    return result


def input_counts(doc: ReportDocument) -> dict[str, int]:
    """Inputs by status. "not-analysed" is the length of the not-analysed list (it has reasons)."""
    counts = Counter(i.status for i in doc.inputs)
    return {
        "analysed": counts.get("analysed", 0),
        "partial": counts.get("partial", 0),
        "not-analysed": max(len(doc.not_analysed), counts.get("not-analysed", 0)),
        "skipped": counts.get("skipped", 0),
        "already-ingested": counts.get("already-ingested", 0),
    }


def format_interval(seconds: float) -> str:
    """60 -> "60s", 300 -> "5m", 5400 -> "1.5h", 3 days -> "3d"."""
    if not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m".replace(".0m", "m")
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h".replace(".0h", "h")
    return f"{seconds / 86400:.1f}d".replace(".0d", "d")


def format_bytes(value: float) -> str:
    """12 -> "12 B", 1536 -> "1.5 KB", 3e6 -> "2.9 MB"."""
    if not math.isfinite(value):
        return "-"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}".replace(".0 ", " ")
    return f"{value:.0f} B"


def format_score(score: float) -> str:
    return f"{score:.2f}" if math.isfinite(score) else "-"


def machine_label(h: HostIdentityModel, seen: Iterable[str] = ()) -> str:
    """A machine as one label: its best name with the address it was seen at (one of `seen`
    when the machine held it, else its latest), or whichever of the two it has."""
    ips = [a.ip for a in h.ips]
    ip = next((x for x in seen if x in ips), ips[-1] if ips else None)
    name = h.names[0] if h.names else None
    if name and ip:
        return f"{name} ({ip})"
    return name or ip or h.id


def machine_links(f: Finding, machines: Mapping[str, HostIdentityModel]) -> list[tuple[str, str]]:
    """(host id, `machine_label`) of each machine a finding is about (host_ids, schema 1.3)."""
    return [
        (hid, machine_label(machines[hid], f.hosts) if hid in machines else hid)
        for hid in f.host_ids
    ]


def machine_labels(f: Finding, machines: Mapping[str, HostIdentityModel]) -> list[str]:
    """The machines a finding is about, each once, as `machine_label`; a finding without
    host_ids (an older report) gives its own names and addresses."""
    labels = list(dict.fromkeys(label for _, label in machine_links(f, machines)))
    return labels or list(f.hosts)


def value_text(value: object) -> str:
    """A free-form value (finding details, campaign edges) as one line of text."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(value_text(v) for v in value)
    try:
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
