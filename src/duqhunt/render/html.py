"""Self-contained offline HTML report.

One file, no network: CSS and a small sorting/filtering script are inline, charts are inline
SVG drawn here, and a Content-Security-Policy meta tag (default-src 'none', the inline style and
script allowed only by hash) keeps the browser from loading anything even if a hostile string
ever got through. Every value from evidence is hostile: jinja2 autoescapes all of them, and a
`finalize` hook first turns control, zero-width and bidi-override characters into visible
escapes so that a file name cannot reorder itself on screen.

Nothing needs the script: without it the page is complete, only unsorted and unfiltered.

Three pieces of markup are built outside the template and enter it as Markup: the campaign
topology (render/topology.py) and the C&C world map (render/map.py), both serialized by
xml.etree, which escapes every string, and the kill chain (intel/report.py), rendered by its own
autoescaping jinja2 environment with the same `visible` finalize hook. The map's CSS is part of
the page's one stylesheet, so the CSP hash covers it.

Findings carry their source (network, host or document, from the detector id prefix): a
column in the index, and chips that filter by it with CSS alone (radio inputs and `:checked`
sibling rules), so that filter works without the script too.

Lateral moves, relay edges and bridges are free-form mappings in the report; their tables show
the known fields in a fixed order and any other field in extra columns, so a report from a
newer duqhunt loses nothing. The host timeline (capped at MAX_TIMELINE rows, oldest first) and
the document verdicts (most alarming first) get their own sections when the report has them.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from duqhunt.errors import DuqhuntError
from duqhunt.model.finding import SEVERITIES as SEVERITY_NAMES
from duqhunt.model.finding import severity_rank
from duqhunt.model.grouping import MAX_OCCURRENCES, group_machine_count, summary_groups
from duqhunt.model.report import BeaconModel, Campaign, ReportDocument
from duqhunt.render.common import (
    VERDICT_ORDER,
    below_min_note,
    field_number,
    field_text,
    finding_source,
    format_interval,
    format_score,
    input_counts,
    is_admin_move,
    machine_label,
    machine_labels,
    machine_links,
    ranked_beacons,
    ranked_bridges,
    ranked_c2,
    ranked_lateral,
    ranked_relays,
    severity_counts,
    short_path,
    short_time,
    sorted_findings,
    sorted_timeline,
    sorted_verdicts,
    stage_counts,
    stat_value,
    value_text,
    verdict_counts,
)
from duqhunt.render.map import MAP_CSS
from duqhunt.render.templating import environment
from duqhunt.render.topology import build_topology

__all__ = ["render_html"]

log = logging.getLogger(__name__)

TEMPLATE = "report.html.j2"

#: Display caps; the full data stays in report.json.
MAX_WARNINGS = 200
MAX_BEACONS = 25
MAX_EDGES = 200
MAX_EVIDENCE = 50
MAX_INPUTS = 5000
MAX_NOT_ANALYSED = 2000
MAX_CHAINS = 10
MAX_TIMELINE = 300
MAX_VERDICTS = 2000
MAX_GROUP_HOSTS = 6
MAX_HOST_TIMELINE = 300
MAX_HOST_PAGES = 500
MAX_BEACON_SHAPES = 5

#: Finding sources in the order the chips list them (model.finding.DETECTOR_PREFIXES, then "other").
SOURCE_ORDER = ("network", "host", "document", "other")

_CHART_LABEL_W = 190
_CHART_BAR_W = 320
_CHART_ROW_H = 22


def _fraction(score: float, scale: float) -> float:
    if not math.isfinite(score) or scale <= 0:
        return 0.0
    return max(0.0, min(1.0, score / scale))


def _score_scale(scores: Iterable[float]) -> float:
    """Scores in [0, 1] are drawn on that scale; anything larger is drawn relative to the max."""
    finite = [s for s in scores if math.isfinite(s)]
    top = max(finite, default=1.0)
    return 1.0 if top <= 1.0 else top


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str
    sort: str | None = None  # data-sort value for the table script
    cls: str = "wrap"
    note: str | None = None  # a second, muted line
    tag: str | None = None  # a tag (badge) shown before the text
    title: str | None = None  # hover text
    lines: tuple[str, ...] = ()  # further lines after the text, one per line


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class _Row:
    cells: list[_Cell]
    dim: bool = False


@dataclass(frozen=True, slots=True)
class _EdgeTable:
    key: str
    title: str
    columns: list[_Column]
    rows: list[_Row]
    total: int
    note: str | None = None


def _extra_keys(items: list[dict[str, object]], known: Iterable[str]) -> list[str]:
    known_set = set(known)
    return sorted({str(k) for item in items for k in item} - known_set)


def _text_cell(item: Mapping[str, object], key: str, cls: str = "mono wrap") -> _Cell:
    return _Cell(field_text(item, key) or "\u2014", cls=cls)


def _time_cell(item: Mapping[str, object], key: str) -> _Cell:
    return _Cell(field_text(item, key) or "\u2014", cls="mono nowrap")


def _addr_cell(item: Mapping[str, object], key: str) -> _Cell:
    """An address: kept on one line unless it is unreasonably long (hostile input)."""
    text = field_text(item, key) or "\u2014"
    return _Cell(text, cls="mono nowrap" if len(text) <= 45 else "mono wrap")


def _path_cell(item: Mapping[str, object], key: str, limit: int = 40) -> _Cell:
    """A file name or account: on one line when short, else wrapped anywhere (hostile input)."""
    text = field_text(item, key) or "\u2014"
    return _Cell(text, cls="mono nowrap" if len(text) <= limit else "mono wrap")


def _number_cell(value: float | None, spec: str = ".2f", suffix: str = "") -> _Cell:
    if value is None:
        return _Cell("\u2014", sort="-1", cls="num")
    return _Cell(format(value, spec) + suffix, sort=repr(value), cls="num")


def _count_cell(value: object, title: bool = True) -> _Cell:
    if isinstance(value, list | tuple):
        items = [value_text(v) for v in value]
        return _Cell(
            str(len(items)),
            sort=str(len(items)),
            cls="num",
            title=", ".join(items) if title and items else None,
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _Cell(value_text(value), sort=repr(value), cls="num")
    return _Cell(value_text(value), cls="num")


def _with_extras(item: Mapping[str, object], cells: list[_Cell], extras: list[str]) -> list[_Cell]:
    by_text = {str(k): v for k, v in item.items()}
    return cells + [
        _Cell(value_text(by_text[k]) if k in by_text else "", cls="wrap") for k in extras
    ]


_LATERAL_KEYS = ("time", "src", "dst", "method", "share", "file", "account", "admin_tool")


def _lateral_table(items: list[dict[str, object]]) -> _EdgeTable:
    extras = _extra_keys(items, _LATERAL_KEYS)
    columns = [
        _Column("Time"),
        _Column("Source"),
        _Column("Target"),
        _Column("Method"),
        _Column("Share"),
        _Column("File"),
        _Column("Account"),
        _Column("Admin tooling"),
    ] + [_Column(k) for k in extras]
    rows = []
    for m in ranked_lateral(items)[:MAX_EDGES]:
        admin = is_admin_move(m)
        reason = field_text(m, "admin_tool")
        flag = (
            _Cell("", sort="1", tag="admin tool", note=reason if reason != "True" else None)
            if admin
            else _Cell("no", sort="0", cls="")
        )
        cells = [
            _time_cell(m, "time"),
            _addr_cell(m, "src"),
            _addr_cell(m, "dst"),
            _text_cell(m, "method", cls="wrap"),
            _addr_cell(m, "share"),
            _path_cell(m, "file"),
            _path_cell(m, "account"),
            flag,
        ]
        rows.append(_Row(_with_extras(m, cells, extras), dim=admin))
    admin_total = sum(is_admin_move(m) for m in items)
    note = (
        f"{admin_total} move{'s' if admin_total != 1 else ''} by learned or allow-listed admin "
        "tooling (shown dimmed, at low severity)."
        if admin_total
        else None
    )
    return _EdgeTable("lateral", "Lateral movement", columns, rows, len(items), note)


_RELAY_KEYS = ("src", "dst", "pipe", "first_seen", "last_seen", "score")


def _relay_table(items: list[dict[str, object]]) -> _EdgeTable:
    extras = _extra_keys(items, _RELAY_KEYS)
    columns = [
        _Column("No-egress host"),
        _Column("Relay / bridge"),
        _Column("Named pipe"),
        _Column("First seen"),
        _Column("Last seen"),
        _Column("Score", numeric=True),
    ] + [_Column(k) for k in extras]
    rows = []
    for e in ranked_relays(items)[:MAX_EDGES]:
        pipe = field_text(e, "pipe")
        cells = [
            _addr_cell(e, "src"),
            _addr_cell(e, "dst"),
            _Cell(pipe, cls="mono wrap") if pipe else _Cell("not logged", sort="", cls="none"),
            _time_cell(e, "first_seen"),
            _time_cell(e, "last_seen"),
            _number_cell(field_number(e, "score")),
        ]
        rows.append(_Row(_with_extras(e, cells, extras)))
    return _EdgeTable("relay", "Internal relay edges", columns, rows, len(items))


_BRIDGE_KEYS = (
    "ip",
    "c2",
    "served",
    "correlation",
    "baseline",
    "lift",
    "relayed_sessions",
    "beacons",
    "chains",
)


def _chains_cell(value: object) -> _Cell:
    if not isinstance(value, list | tuple):
        return _Cell(value_text(value), cls="mono wrap")
    chains = [value_text(c) for c in value]
    more = len(chains) - MAX_CHAINS
    shown = chains[:MAX_CHAINS]
    return _Cell(
        chains[0] if chains else "\u2014",
        sort=str(len(chains)),
        # one chain per line, unbroken unless one is unreasonably long (hostile input)
        cls="mono nowrap" if all(len(c) <= 64 for c in shown) else "mono wrap",
        note=f"+{more} more in report.json" if more > 0 else None,
        lines=tuple(chains[1:MAX_CHAINS]),
    )


def _bridge_table(items: list[dict[str, object]]) -> _EdgeTable:
    extras = _extra_keys(items, _BRIDGE_KEYS)
    columns = [
        _Column("Bridge"),
        _Column("C&C"),
        _Column("Served", numeric=True),
        _Column("Correlation", numeric=True),
        _Column("Baseline", numeric=True),
        _Column("Lift", numeric=True),
        _Column("Relayed sessions", numeric=True),
        _Column("Beacons to"),
        _Column("Chains"),
    ] + [_Column(k) for k in extras]
    rows = []
    for b in ranked_bridges(items)[:MAX_EDGES]:
        cells = [
            _addr_cell(b, "ip"),
            _addr_cell(b, "c2"),
            _count_cell(b.get("served")),
            _number_cell(field_number(b, "correlation")),
            _number_cell(field_number(b, "baseline")),
            _number_cell(field_number(b, "lift"), ".1f", "\u00d7"),
            _count_cell(b.get("relayed_sessions")),
            _text_cell(b, "beacons"),
            _chains_cell(b.get("chains")),
        ]
        rows.append(_Row(_with_extras(b, cells, extras)))
    return _EdgeTable("bridges", "Bridges", columns, rows, len(items))


def _duration(started: str, finished: str) -> str | None:
    try:
        seconds = (
            datetime.fromisoformat(finished) - datetime.fromisoformat(started)
        ).total_seconds()
    except (ValueError, TypeError):
        return None
    if seconds < 0:
        return None
    return format_interval(seconds)


def _stage_chart(counts: Mapping[str, int]) -> dict[str, Any]:
    top = max(counts.values(), default=0)
    bars = []
    for i, (stage, n) in enumerate(counts.items()):
        width = round(_CHART_BAR_W * n / top, 1) if top else 0.0
        bars.append(
            {
                "stage": stage,
                "count": n,
                "y": i * _CHART_ROW_H,
                "width": width,
                "text_x": _CHART_LABEL_W + width + 6,
            }
        )
    return {
        "bars": bars,
        "label_w": _CHART_LABEL_W,
        "width": _CHART_LABEL_W + _CHART_BAR_W + 50,
        "height": max(1, len(bars)) * _CHART_ROW_H,
        "row_h": _CHART_ROW_H,
    }


def _timeline(doc: ReportDocument) -> list[dict[str, str]]:
    rows = []
    for e in sorted_timeline(doc.host_timeline)[:MAX_TIMELINE]:
        time = field_text(e, "time")
        source = field_text(e, "source")
        rows.append(
            {
                "time": time,
                "time_short": short_time(time),
                "host": field_text(e, "host"),
                "kind": field_text(e, "kind"),
                "what": field_text(e, "what"),
                "source": source,
                "source_short": short_path(source),
            }
        )
    return rows


def _verdicts(doc: ReportDocument) -> list[dict[str, Any]]:
    return [
        {
            "v": v,
            "rank": VERDICT_ORDER.index(v.verdict) if v.verdict in VERDICT_ORDER else 99,
            "reasons": "; ".join(v.reasons),
        }
        for v in sorted_verdicts(doc.verdicts)[:MAX_VERDICTS]
    ]


def _reported_c2_countries() -> dict[str, tuple[str, str | None, str]]:
    """IP -> (reported country, hosting, pack) from the shipped intel packs."""
    from duqhunt.intel.pack import builtin_intel_packs

    out: dict[str, tuple[str, str | None, str]] = {}
    try:
        packs = builtin_intel_packs()
    except DuqhuntError as exc:  # a broken pack costs the map, not the report
        log.warning("C&C map not drawn: %s", exc)
        return out
    for pack in packs:
        for entry in pack.infrastructure:
            if entry.reported_country:
                out.setdefault(entry.ip, (entry.reported_country, entry.hosting, pack.pack))
    return out


def _c2_map(camp: Campaign) -> dict[str, Any] | None:
    """The C&C servers whose hosting country the shipped intel reports, on a world map.

    No IP lookups here: a report renders the same everywhere and on any day. Servers the intel
    does not place are counted in the caption, not drawn.
    """
    if not camp.c2:
        return None
    from duqhunt.render.map import MapPoint, country_anchor, country_name, world_map_svg

    reported = _reported_c2_countries()
    points: list[MapPoint] = []
    used: dict[tuple[float, float], int] = {}
    for c in ranked_c2(camp.c2):
        try:
            ip = str(ipaddress.ip_address(c.ip.strip()))
        except ValueError:
            continue
        if ip not in reported:
            continue
        cc, hosting, pack = reported[ip]
        anchor = country_anchor(cc)
        if anchor is None:
            continue
        n = used.get(anchor, 0)
        used[anchor] = n + 1
        label = f"C&C {ip}: reported in {country_name(cc) or cc}"
        label += f" ({hosting})" if hosting else ""
        label += f"; intel pack {pack}"
        points.append(MapPoint(anchor[0] + 2.5 * n, anchor[1] - 2.5 * n, label, "c2", text=ip))
    if not points:
        return None
    svg = world_map_svg(
        {},
        points,
        title="C&C servers at the hosting country the intelligence reports",
        legend=[("point c2", "C&C server, at the country the intel pack reports it in")],
    )
    return {"svg": Markup(svg), "drawn": len(points), "total": len(camp.c2)}


def _host_pages(doc: ReportDocument, finding_n: Mapping[str, int]) -> list[dict[str, Any]]:
    """One page per machine (hosts[]): shown alone when its anchor is the URL's fragment."""
    from duqhunt.render.hoststory import host_stories

    pages = []
    for i, s in enumerate(host_stories(doc)):
        events = s.timeline[:MAX_HOST_TIMELINE]
        pages.append(
            {
                "s": s,
                "page": i < MAX_HOST_PAGES,  # the most alarming machines have a page
                "anchor": f"h-{s.host.id}",
                "worst": SEVERITY_NAMES[s.worst] if s.worst >= 0 else None,
                "stages": [
                    (stage, [(f, finding_n.get(f.id)) for f in fs]) for stage, fs in s.by_stage
                ],
                "timeline": [
                    {
                        "e": e,
                        "time_short": short_time(e.time),
                        "n": finding_n.get(e.finding_id or ""),
                    }
                    for e in events
                ],
                "timeline_more": max(0, len(s.timeline) - len(events)),
                "neighbours": s.neighbours[:MAX_EDGES],
            }
        )
    return pages


def _beacon_shapes(beacons: list[BeaconModel]) -> list[dict[str, Any]]:
    """The interval and size histograms of the strongest beacons that have them (the report
    holds them for the top few only, campaign/beacon_shape.py), as inline SVG."""
    from duqhunt.render.histogram import interval_svg, size_svg

    shapes = []
    for b in beacons:
        if b.interval_histogram is None and b.size_histogram is None:
            continue
        shapes.append(
            {
                "b": b,
                "interval": format_interval(b.interval_s),
                "intervals": interval_svg(b.interval_histogram, b.interval_s)
                if b.interval_histogram
                else None,
                "sizes": size_svg(b.size_histogram) if b.size_histogram else None,
            }
        )
        if len(shapes) >= MAX_BEACON_SHAPES:
            break
    return shapes


def _source_counts(views: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = Counter(str(v["source"]) for v in views)
    return {s: counts[s] for s in SOURCE_ORDER if counts.get(s)}


def _group_views(doc: ReportDocument, anchor: Mapping[str, int]) -> list[dict[str, Any]]:
    """The summary's finding groups (model/grouping.py), in their order, each with the anchor
    of its strongest finding and its machines (each once, hosts[]) shortened for the table."""
    machines = {h.id: h for h in doc.hosts}
    views = []
    for g in summary_groups(doc):
        hosts = [machine_label(machines[h]) for h in g.host_ids if h in machines]
        if not machines:  # a report without hosts[]: the names its findings give
            hosts = list(g.host_ids or g.hosts)
        views.append(
            {
                "g": g,
                "n": anchor.get(g.finding_ids[0]) if g.finding_ids else None,
                "rank": severity_rank(g.severity),
                "more": len(g.finding_ids) - 1,
                "hosts": hosts[:MAX_GROUP_HOSTS],
                "hosts_more": max(0, len(hosts) - MAX_GROUP_HOSTS),
                "hosts_total": group_machine_count(g, doc),
                "first_seen_short": short_time(g.first_seen)[:16] if g.first_seen else None,
            }
        )
    return views


def _context(doc: ReportDocument) -> dict[str, Any]:
    from duqhunt.intel.report import story_sections_html  # intel imports render: keep it lazy

    findings = sorted_findings(doc.findings)
    machines = {h.id: h for h in doc.hosts}
    finding_views = [
        {
            "n": i,
            "f": f,
            "hosts": machine_labels(f, machines),
            "machine_links": machine_links(f, machines),
            "source": finding_source(f),
            "rank": severity_rank(f.severity),
            "evidence": f.evidence[:MAX_EVIDENCE],
            "evidence_more": max(0, len(f.evidence) - MAX_EVIDENCE),
            "details": [(k, value_text(f.details[k])) for k in sorted(f.details)],
            "first_seen_short": short_time(f.first_seen)[:16] if f.first_seen else None,
        }
        for i, f in enumerate(findings, start=1)
    ]

    groups = _group_views(doc, {f.id: i for i, f in enumerate(findings, start=1)})

    c2 = ranked_c2(doc.campaign.c2)
    c2_scale = _score_scale(c.score for c in c2)
    beacons = ranked_beacons(doc.campaign.beacons)
    beacon_scale = _score_scale(b.score for b in beacons)

    camp = doc.campaign
    edges = [
        _bridge_table(camp.bridges),
        _relay_table(camp.relay_edges),
        _lateral_table(camp.lateral_moves),
    ]
    return {
        "doc": doc,
        "duration": _duration(doc.started, doc.finished),
        "sev_counts": severity_counts(doc.findings),
        "stage_counts": stage_counts(doc.findings),
        "chart": _stage_chart(stage_counts(doc.findings)),
        "input_counts": input_counts(doc),
        "findings": finding_views,
        "groups": groups,
        "below_min": below_min_note(doc),
        "c2": [
            {
                "c": c,
                "pct": round(100 * _fraction(c.score, c2_scale), 1),
                "score": format_score(c.score),
            }
            for c in c2
        ],
        "hosts": sorted(camp.hosts, key=lambda h: (h.zone or "", h.ip)),
        "beacons": [
            {
                "b": b,
                "pct": round(100 * _fraction(b.score, beacon_scale), 1),
                "score": format_score(b.score),
                "interval": format_interval(b.interval_s),
            }
            for b in beacons[:MAX_BEACONS]
        ],
        "beacons_total": len(beacons),
        "beacon_shapes": _beacon_shapes(beacons),
        "edges": edges,
        "topology": build_topology(camp, doc.hosts),
        "inputs": doc.inputs[:MAX_INPUTS],
        "inputs_more": max(0, len(doc.inputs) - MAX_INPUTS),
        "not_analysed": doc.not_analysed[:MAX_NOT_ANALYSED],
        "not_analysed_more": max(0, len(doc.not_analysed) - MAX_NOT_ANALYSED),
        "warnings": doc.warnings[:MAX_WARNINGS],
        "warnings_more": max(0, len(doc.warnings) - MAX_WARNINGS),
        "stats": [(k, value_text(stat_value(k, doc.stats[k]))) for k in sorted(doc.stats)],
        "limits": {
            "evidence": MAX_EVIDENCE,
            "edges": MAX_EDGES,
            "occurrences": MAX_OCCURRENCES,
        },
        "source_counts": _source_counts(finding_views),
        "sources": SOURCE_ORDER,
        "story": story_sections_html(doc),
        "c2_map": _c2_map(camp),
        "map_css": Markup(MAP_CSS),
        "timeline": _timeline(doc),
        "timeline_total": len(doc.host_timeline),
        "timeline_hosts": len({field_text(e, "host") for e in doc.host_timeline} - {""}),
        "verdicts": _verdicts(doc),
        "verdicts_total": len(doc.verdicts),
        "verdict_counts": verdict_counts(doc.verdicts),
        "host_pages": _host_pages(doc, {f.id: n for n, f in enumerate(findings, start=1)}),
    }


def render_html(doc: ReportDocument) -> str:
    """The report as one self-contained HTML page (UTF-8 text)."""
    template = environment().get_template(TEMPLATE)
    return template.render(**_context(doc))
