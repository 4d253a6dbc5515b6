"""Terminal summary of a report document, plus the small view helpers every renderer shares.

The summary is short on purpose: counts, the C&C, the strongest beacons, the findings and what
could not be analysed. The full story is in report.html / report.json.

Every string that came from evidence (hostnames, URIs, user agents, file names) is hostile. Two
things protect the terminal: `visible` turns control and bidirectional-override characters into
printable escapes (rich itself strips only BEL, BS, VT, FF and CR, so an ESC sequence in a user
agent would otherwise reach the terminal), and `rich.markup.escape` stops "[...]" in evidence
from being read as rich markup.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from duqhunt.model.finding import SEVERITIES, STAGES, severity_rank
from duqhunt.model.report import BeaconModel, C2Model, FindingModel, ReportDocument

__all__ = [
    "SEVERITY_ORDER",
    "input_counts",
    "ranked_beacons",
    "ranked_c2",
    "render_summary",
    "severity_counts",
    "sorted_findings",
    "stage_counts",
    "visible",
]

#: Severities from most to least severe, the order every output lists them in.
SEVERITY_ORDER: tuple[str, ...] = tuple(reversed(SEVERITIES))

TOP_BEACONS = 10
TOP_FINDINGS = 20
MAX_HOSTS_IN_CELL = 3
MAX_NOT_ANALYSED = 50

# C0 controls, DEL, C1 controls, zero-width and bidirectional formatting characters, line and
# paragraph separators, BOM. These can hide or reorder text ("Trojan Source", RLO file names) or
# drive a terminal (ESC sequences), so outputs show them as escapes instead.
_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ud800-\udfff]"
)

_SEVERITY_STYLE: dict[str, str] = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: object) -> str:
    """`value` as a single-line string with control/bidi/invisible characters shown as escapes.

    Not a markup or HTML escape: callers still escape for their output (rich markup, HTML).
    """
    return _UNSAFE_CHARS.sub(_escape_char, str(value))


def _m(value: object) -> str:
    """Evidence-derived value made safe for a rich markup string."""
    return escape(visible(value))


def sorted_findings(findings: Iterable[FindingModel]) -> list[FindingModel]:
    """Severity descending, then confidence descending; ties broken by detector, title, id."""
    return sorted(
        findings,
        key=lambda f: (-severity_rank(f.severity), -f.confidence, f.detector, f.title, f.id),
    )


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


def severity_counts(findings: Iterable[FindingModel]) -> dict[str, int]:
    """Count per severity, every severity present, most severe first."""
    counts: Counter[str] = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in SEVERITY_ORDER}


def stage_counts(findings: Iterable[FindingModel]) -> dict[str, int]:
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


def format_score(score: float) -> str:
    return f"{score:.2f}" if math.isfinite(score) else "-"


def hosts_cell(hosts: Sequence[str], limit: int = MAX_HOSTS_IN_CELL) -> str:
    """Up to `limit` hosts, then "+N more" (plain text, not escaped)."""
    shown = ", ".join(visible(h) for h in hosts[:limit])
    rest = len(hosts) - limit
    return f"{shown} +{rest} more" if rest > 0 else shown


def _headline(doc: ReportDocument) -> str:
    ic = input_counts(doc)
    inputs = (
        f"{ic['analysed']} analysed, {ic['partial']} partial, {ic['not-analysed']} not analysed"
    )
    extra = [f"{ic[k]} {k}" for k in ("skipped", "already-ingested") if ic[k]]
    if extra:
        inputs += ", " + ", ".join(extra)
    sev = severity_counts(doc.findings)
    total = sum(sev.values())
    if total:
        parts = ", ".join(f"[{_SEVERITY_STYLE[s]}]{n} {s}[/]" for s, n in sev.items() if n)
        findings = f"{total} findings ({parts})"
    else:
        findings = "no findings"
    case = f" case {_m(doc.case)} |" if doc.case else ""
    return f"[bold]{_m(doc.tool)} {_m(doc.tool_version)}[/]{case} inputs: {inputs} | {findings}"


def _c2_table(doc: ReportDocument) -> Table:
    table = Table(title="Command and control", title_justify="left")
    table.add_column("ip")
    table.add_column("domain")
    table.add_column("score", justify="right")
    table.add_column("known IOC")
    for c in ranked_c2(doc.campaign.c2):
        table.add_row(
            _m(c.ip),
            _m(c.domain) if c.domain else "-",
            format_score(c.score),
            "[bold red]yes[/]" if c.known_ioc else "no",
        )
    return table


def _beacon_table(doc: ReportDocument) -> Table:
    beacons = ranked_beacons(doc.campaign.beacons)
    rest = len(beacons) - TOP_BEACONS
    caption = f"+{rest} more beacons in the full report" if rest > 0 else None
    table = Table(
        title=f"Top beacons ({min(len(beacons), TOP_BEACONS)} of {len(beacons)})",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    table.add_column("src")
    table.add_column("dst")
    table.add_column("kind")
    table.add_column("score", justify="right")
    table.add_column("interval", justify="right")
    table.add_column("count", justify="right")
    for b in beacons[:TOP_BEACONS]:
        kind = _m(b.kind) + (" (suppressed)" if b.suppressed else "")
        table.add_row(
            _m(b.src),
            _m(b.dst),
            kind,
            format_score(b.score),
            format_interval(b.interval_s),
            str(b.count),
        )
    return table


def _findings_table(doc: ReportDocument) -> Table:
    findings = sorted_findings(doc.findings)
    rest = len(findings) - TOP_FINDINGS
    caption = f"+{rest} more findings in the full report" if rest > 0 else None
    table = Table(
        title=f"Findings ({min(len(findings), TOP_FINDINGS)} of {len(findings)})",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    table.add_column("severity")
    table.add_column("detector")
    table.add_column("title")
    table.add_column("hosts")
    for f in findings[:TOP_FINDINGS]:
        style = _SEVERITY_STYLE.get(f.severity, "")
        table.add_row(
            f"[{style}]{_m(f.severity)}[/]" if style else _m(f.severity),
            _m(f.detector),
            _m(f.title),
            escape(hosts_cell(f.hosts)) or "-",
        )
    return table


def render_summary(doc: ReportDocument, console: Console) -> None:
    """Print a short summary of `doc` to `console` (stdout in the CLI).

    Colour and box drawing follow the console: when it is not a terminal rich writes plain text.
    """
    console.print(_headline(doc), highlight=False)
    console.print()
    if doc.campaign.c2:
        console.print(_c2_table(doc))
    else:
        console.print("No command-and-control endpoint identified.")
    if doc.campaign.beacons:
        console.print(_beacon_table(doc))
    else:
        console.print("No beacons found.")
    if doc.findings:
        console.print(_findings_table(doc))
    else:
        console.print("No findings.")
    if doc.not_analysed:
        console.print()
        console.print(f"[bold]Not analysed ({len(doc.not_analysed)})[/]")
        for na in doc.not_analysed[:MAX_NOT_ANALYSED]:
            console.print(f"  {_m(na.path)}: {_m(na.reason)}", highlight=False)
        rest = len(doc.not_analysed) - MAX_NOT_ANALYSED
        if rest > 0:
            console.print(f"  +{rest} more in the full report")
    if doc.warnings:
        console.print()
        console.print(f"{len(doc.warnings)} warning(s); see the full report.")
