"""Terminal summary of a report document.

The summary is short on purpose: counts, the C&C, the strongest beacons, the bridges, the
strongest relay edges, the first lateral moves, the documents that are not clean, the size of
the host timeline, the findings and what could not be analysed. The full story is in
report.html / report.json. The helpers it shares with the other renderers (ordering, counting,
shortening) are in render/common.py.

Every string that came from evidence (hostnames, URIs, user agents, file names) is hostile. Two
things protect the terminal: `visible` turns control and bidirectional-override characters into
printable escapes (rich itself strips only BEL, BS, VT, FF and CR, so an ESC sequence in a user
agent would otherwise reach the terminal), and `rich.markup.escape` stops "[...]" in evidence
from being read as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from duqhunt.model.grouping import group_machine_count, summary_groups
from duqhunt.model.report import ReportDocument
from duqhunt.render.common import (
    below_min_note,
    field_number,
    field_text,
    format_interval,
    format_score,
    input_counts,
    is_admin_move,
    machine_labels,
    ranked_beacons,
    ranked_bridges,
    ranked_c2,
    ranked_lateral,
    ranked_relays,
    severity_counts,
    short_path,
    short_time,
    sorted_findings,
    sorted_verdicts,
    verdict_counts,
    visible,
)

__all__ = ["COMPACT_WIDTH", "fit_columns", "hosts_cell", "render_summary"]


TOP_BEACONS = 10
TOP_RELAYS = 10
TOP_MOVES = 10
TOP_BRIDGES = 10
TOP_FINDINGS = 20
TOP_GROUPS = 40
TOP_VERDICTS = 20
MAX_HOSTS_IN_CELL = 3
MAX_NOT_ANALYSED = 50


_VERDICT_STYLE: dict[str, str] = {
    "malicious": "bold white on red",
    "suspicious": "bold red",
    "malformed": "yellow",
    "partial": "yellow",
    "encrypted": "cyan",
    "unsupported": "dim",
    "clean": "green",
}

#: Stage names short enough for a narrow column.
_STAGE_SHORT: dict[str, str] = {
    "internal-relay": "relay",
    "command-and-control": "C&C",
    "lateral-movement": "lateral",
    "installation": "install",
    "exploitation": "exploit",
    "exfiltration": "exfil",
}

_SEVERITY_STYLE: dict[str, str] = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


#: Below this console width the summary uses its compact layout (hosts and triage under the
#: finding's title, short paths in the lateral moves) so that 80 columns cut no word.
COMPACT_WIDTH = 120


def _m(value: object) -> str:
    """Evidence-derived value made safe for a rich markup string."""
    return escape(visible(value))


def _count(value: object) -> str:
    if isinstance(value, list | tuple):
        return str(len(value))
    return "-" if value is None else str(value)


def _fmt_number(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def hosts_cell(hosts: Sequence[str], limit: int = MAX_HOSTS_IN_CELL) -> str:
    """Up to `limit` hosts, then "+N more" (plain text, not escaped)."""
    shown = ", ".join(visible(h) for h in hosts[:limit])
    rest = len(hosts) - limit
    return f"{shown} +{rest} more" if rest > 0 else shown


def _plain(cell: object) -> str:
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def _words_and_lines(texts: Iterable[str]) -> tuple[int, int]:
    """(longest word, longest line) of `texts` in terminal cells."""
    word = line_len = 1
    for text in texts:
        for line in text.splitlines() or [""]:
            line_len = max(line_len, cell_len(line))
            for w in line.split():
                word = max(word, cell_len(w))
    return word, line_len


def fit_columns(table: Table, width: int) -> Table:
    """Fix the column widths of `table` so that, within `width`, no word is cut.

    rich shrinks the widest columns first when a table is too wide and then cuts (or folds)
    whatever word no longer fits. Here each column gets at least its longest word (its longest
    line when it does not wrap) and the rest of the width goes to the columns that still wrap,
    evenly, the columns that need less than their share made whole first. Only when even the longest words do not fit
    side by side are the widest columns narrowed below theirs (and their long words folded).
    """
    cols = table.columns
    if not cols:
        return table
    left, right = table.padding[3], table.padding[1]
    pads = [left + right] * len(cols)
    if not table.pad_edge:
        pads[0] -= left
        pads[-1] -= right
    borders = (len(cols) - 1 + (2 if table.show_edge else 0)) if table.box else 0
    avail = width - borders - sum(pads)
    mins: list[int] = []
    maxes: list[int] = []
    for col in cols:
        word, line = _words_and_lines([_plain(col.header), *(_plain(c) for c in col.cells)])
        mins.append(line if col.no_wrap else word)
        maxes.append(line)
    if sum(maxes) <= avail or avail < len(cols):
        return table
    widths = list(mins)
    while sum(widths) > avail:  # the longest words cannot all fit: narrow the widest column
        i = max(range(len(widths)), key=lambda k: widths[k])
        widths[i] -= 1
        cols[i].overflow = "fold"
    # the spare width is shared out evenly; a column that needs less than its share is made
    # whole, so short columns (times, ids) stay on one line and the longest text wraps
    spare = avail - sum(widths)
    wanting = [k for k in range(len(cols)) if maxes[k] > widths[k]]
    while spare > 0 and wanting:
        share = max(1, spare // len(wanting))
        for k in sorted(wanting, key=lambda j: (maxes[j] - widths[j], j)):
            give = min(share, maxes[k] - widths[k], spare)
            widths[k] += give
            spare -= give
        wanting = [k for k in wanting if maxes[k] > widths[k]]
    for col, w in zip(cols, widths, strict=True):
        col.width = w
    return table


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


def _top_caption(total: int, top: int, what: str) -> str | None:
    rest = total - top
    return f"+{rest} more {what} in the full report" if rest > 0 else None


def _bridge_table(doc: ReportDocument) -> Table:
    bridges = ranked_bridges(doc.campaign.bridges)
    table = Table(
        title=f"Bridges ({min(len(bridges), TOP_BRIDGES)} of {len(bridges)})",
        title_justify="left",
        caption=_top_caption(len(bridges), TOP_BRIDGES, "bridges"),
        caption_justify="left",
    )
    table.add_column("bridge")
    table.add_column("C&C")
    table.add_column("served", justify="right")
    table.add_column("correlation", justify="right")
    table.add_column("lift", justify="right")
    table.add_column("relayed", justify="right")
    for b in bridges[:TOP_BRIDGES]:
        lift = field_number(b, "lift")
        table.add_row(
            _m(field_text(b, "ip")) or "-",
            _m(field_text(b, "c2")) or "-",
            _m(_count(b.get("served"))),
            _fmt_number(field_number(b, "correlation")),
            "-" if lift is None else f"{lift:.1f}x",
            _m(_count(b.get("relayed_sessions"))),
        )
    return table


def _relay_table(doc: ReportDocument) -> Table:
    edges = ranked_relays(doc.campaign.relay_edges)
    table = Table(
        title=f"Relay edges ({min(len(edges), TOP_RELAYS)} of {len(edges)})",
        title_justify="left",
        caption=_top_caption(len(edges), TOP_RELAYS, "relay edges"),
        caption_justify="left",
    )
    table.add_column("no-egress host", overflow="fold")
    table.add_column("relay", overflow="fold")
    table.add_column("pipe", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("last seen")
    for e in edges[:TOP_RELAYS]:
        pipe = field_text(e, "pipe")
        table.add_row(
            _m(field_text(e, "src")) or "-",
            _m(field_text(e, "dst")) or "-",
            _m(pipe) if pipe else "[dim]not logged[/]",
            _fmt_number(field_number(e, "score")),
            _m(short_time(e.get("last_seen"))) or "-",
        )
    return table


def _lateral_table(doc: ReportDocument, compact: bool = False) -> Table:
    moves = ranked_lateral(doc.campaign.lateral_moves)
    admin = sum(is_admin_move(m) for m in moves)
    caption = _top_caption(len(moves), TOP_MOVES, "lateral moves")
    if admin:
        note = f"{admin} by admin tooling"
        caption = f"{caption}; {note}" if caption else note
    table = Table(
        title=f"Lateral moves ({min(len(moves), TOP_MOVES)} of {len(moves)})",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    # the time wraps between date and time; long values fold rather than lose their end
    table.add_column("time (UTC)")
    table.add_column("move", overflow="fold")
    table.add_column("method")
    table.add_column("file", overflow="fold")
    table.add_column("account", overflow="fold")
    shown = moves[:TOP_MOVES]
    flag = any(is_admin_move(m) for m in shown) and not compact
    if flag:
        table.add_column("admin tool")
    for m in shown:
        share, file = field_text(m, "share"), field_text(m, "file")
        path = f"{share}\\{file}" if share and file else share or file
        move = f"{field_text(m, 'src') or '?'} -> {field_text(m, 'dst') or '?'}"
        method = _m(field_text(m, "method")) or "-"
        if compact and is_admin_move(m):
            method += "\n[dim](admin tool)[/]"
        row = [
            _m(short_time(m.get("time"))[:16]) or "-",
            _m(move),
            method,
            _m(short_path(path, 2) if compact else path) or "-",
            _m(field_text(m, "account")) or "-",
        ]
        if flag:
            row.append("[dim]yes[/]" if is_admin_move(m) else "")
        table.add_row(*row, style="dim" if is_admin_move(m) else None)
    return table


def _findings_table(doc: ReportDocument, compact: bool = False) -> Table:
    """Most severe first. `compact` (narrow terminals) puts hosts and triage under the title."""
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
    table.add_column("first seen (UTC)")
    table.add_column("title")
    triaged = any(f.triage for f in findings)
    if not compact:
        table.add_column("hosts")
        if triaged:
            table.add_column("triage")
    machines = {h.id: h for h in doc.hosts}
    for f in findings[:TOP_FINDINGS]:
        style = _SEVERITY_STYLE.get(f.severity, "")
        hosts = escape(hosts_cell(machine_labels(f, machines))) or "-"
        triage = _m(f.triage.status) if f.triage else "-"
        title = _m(f.title)
        if compact:
            title += f"\n[dim]hosts: {hosts}[/]"
            if f.triage:
                title += f"\n[dim]triage: {triage}[/]"
        cells = [
            f"[{style}]{_m(f.severity)}[/]" if style else _m(f.severity),
            _m(f.detector),
            _m(short_time(f.first_seen)[:16]) or "-",
            title,
        ]
        if not compact:
            cells.append(hosts)
            if triaged:
                cells.append(triage)
        table.add_row(*cells)
    return table


def _groups_table(doc: ReportDocument, compact: bool = False) -> Table:
    """The summary's finding groups (see model/grouping.py), most important first: severity,
    then the kill-chain stage, then hosts covered. A group's title is its strongest finding's;
    "+N similar" says how many more findings it holds."""
    groups = summary_groups(doc)
    shown = groups[:TOP_GROUPS]
    total = sum(len(g.finding_ids) for g in groups)
    table = Table(
        title=f"{len(groups)} group(s) of {total} finding(s), most important first",
        title_justify="left",
        caption=_top_caption(len(groups), TOP_GROUPS, "groups"),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("severity")
    table.add_column("stage")
    table.add_column("hosts", justify="right")
    table.add_column("group")
    for g in shown:
        style = _SEVERITY_STYLE.get(g.severity, "")
        more = len(g.finding_ids) - 1
        extra = []
        if more:
            extra.append(f"+{more} similar")
        if g.count > len(g.finding_ids):
            extra.append(f"{g.count} occurrences")
        title = _m(g.title) + (f" [dim]({', '.join(extra)})[/]" if extra else "")
        if not compact:
            title += (
                f"\n[dim]{_m(g.detector)}, first seen {_m(short_time(g.first_seen)[:16]) or '-'}[/]"
            )
        table.add_row(
            f"[{style}]{_m(g.severity)}[/]" if style else _m(g.severity),
            _m(_STAGE_SHORT.get(g.stage, g.stage)),
            str(group_machine_count(g, doc)),
            title,
        )
    return table


def _verdict_line(doc: ReportDocument) -> str:
    counts = verdict_counts(doc.verdicts)
    if set(counts) == {"clean"}:
        return f"Documents: {len(doc.verdicts)} scanned, all clean."
    parts = ", ".join(
        f"[{_VERDICT_STYLE[v]}]{n} {_m(v)}[/]" if v in _VERDICT_STYLE else f"{n} {_m(v)}"
        for v, n in counts.items()
    )
    return f"Documents: {len(doc.verdicts)} scanned: {parts}."


def _verdict_table(doc: ReportDocument) -> Table | None:
    """The documents that are not clean (most alarming first), or None when all are clean."""
    flagged = [v for v in sorted_verdicts(doc.verdicts) if v.verdict != "clean"]
    if not flagged:
        return None
    table = Table(
        title=f"Not clean ({min(len(flagged), TOP_VERDICTS)} of {len(flagged)})",
        title_justify="left",
        caption=_top_caption(len(flagged), TOP_VERDICTS, "documents"),
        caption_justify="left",
    )
    table.add_column("verdict", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("why", overflow="fold")
    for v in flagged[:TOP_VERDICTS]:
        style = _VERDICT_STYLE.get(v.verdict, "")
        table.add_row(
            f"[{style}]{_m(v.verdict)}[/]" if style else _m(v.verdict),
            _m(v.path),
            _m("; ".join(v.reasons)) or "-",
        )
    return table


def _timeline_line(doc: ReportDocument) -> str:
    events = doc.host_timeline
    hosts = {field_text(e, "host") for e in events if field_text(e, "host")}
    times = sorted(t for t in (field_text(e, "time") for e in events) if t)
    span = f", {_m(short_time(times[0])[:16])} to {_m(short_time(times[-1])[:16])}" if times else ""
    return (
        f"Host timeline: {len(events)} event{'s' if len(events) != 1 else ''} on "
        f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}{span}."
    )


def render_summary(doc: ReportDocument, console: Console, *, compact: bool | None = None) -> None:
    """Print a short summary of `doc` to `console` (stdout in the CLI).

    Colour and box drawing follow the console: when it is not a terminal rich writes plain text.
    `compact` (default: the console is narrower than COMPACT_WIDTH) puts a finding's hosts and
    triage under its title and shortens lateral-move paths; columns are fitted to the console
    so that words wrap whole.
    """
    if compact is None:
        compact = console.width < COMPACT_WIDTH
    console.print(_headline(doc), highlight=False)
    console.print()
    if (
        not doc.findings
        and not doc.verdicts
        and not any(i.status in ("analysed", "partial", "already-ingested") for i in doc.inputs)
    ):
        console.print("Nothing could be analysed, so nothing was hunted.")
    else:
        _print_results(doc, console, compact)
    _print_problems(doc, console)


def _print_results(doc: ReportDocument, console: Console, compact: bool) -> None:
    def table(t: Table) -> None:
        console.print(fit_columns(t, console.width))

    if doc.findings:
        table(_groups_table(doc, compact))
    else:
        console.print("No findings.")
    if doc.campaign.c2:
        table(_c2_table(doc))
    else:
        console.print("No command-and-control endpoint identified.")
    if doc.campaign.beacons:
        table(_beacon_table(doc))
    else:
        console.print("No beacons found.")
    camp = doc.campaign
    if camp.bridges:
        table(_bridge_table(doc))
    if camp.relay_edges:
        table(_relay_table(doc))
    if camp.lateral_moves:
        table(_lateral_table(doc, compact))
    if doc.verdicts:
        console.print(_verdict_line(doc), highlight=False)
        flagged = _verdict_table(doc)
        if flagged is not None:
            table(flagged)
    if doc.host_timeline:
        console.print(_timeline_line(doc), highlight=False)
    if doc.findings:
        table(_findings_table(doc, compact))
    hidden = doc.stats.get("findings_hidden_benign")
    if hidden:
        console.print(f"{hidden} finding(s) marked benign in triage not shown (--hide-benign).")
    below = below_min_note(doc)
    if below:
        console.print(f"{below}; the report files have them.", highlight=False)


def _print_problems(doc: ReportDocument, console: Console) -> None:
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
        # advice about the options themselves (e.g. --internal) is shown in full
        for w in (w for w in doc.warnings if w.startswith("--")):
            console.print(f"[bold]Check:[/] {_m(w)}", highlight=False)
        console.print(f"{len(doc.warnings)} warning(s); see the full report.")
