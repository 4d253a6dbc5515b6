"""Self-contained offline HTML report.

One file, no network: CSS and a small sorting/filtering script are inline, charts are inline
SVG drawn here, and a Content-Security-Policy meta tag (default-src 'none', the inline style and
script allowed only by hash) keeps the browser from loading anything even if a hostile string
ever got through. Every value from evidence is hostile: jinja2 autoescapes all of them, and a
`finalize` hook first turns control, zero-width and bidi-override characters into visible
escapes so that a file name cannot reorder itself on screen.

Nothing needs the script: without it the page is complete, only unsorted and unfiltered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from duqhunt.model.finding import severity_rank
from duqhunt.model.report import ReportDocument
from duqhunt.render.text import (
    format_interval,
    format_score,
    input_counts,
    ranked_beacons,
    ranked_c2,
    severity_counts,
    sorted_findings,
    stage_counts,
    visible,
)

__all__ = ["render_html"]

TEMPLATE = "report.html.j2"

#: Display caps; the full data stays in report.json.
MAX_WARNINGS = 200
MAX_BEACONS = 25
MAX_EDGES = 200
MAX_EVIDENCE = 50
MAX_INPUTS = 5000
MAX_NOT_ANALYSED = 2000

_CHART_LABEL_W = 190
_CHART_BAR_W = 320
_CHART_ROW_H = 22


def _finalize(value: Any) -> Any:
    """Applied to every {{ expression }} before autoescaping. Markup (our own CSS/JS) passes."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(value)
    if value is None:
        return "\u2014"
    return value


def _csp_hash(content: str) -> str:
    digest = hashlib.sha256(str(content).encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("duqhunt.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["csp_hash"] = _csp_hash
    return env


def _value_text(value: object) -> str:
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
        return ", ".join(_value_text(v) for v in value)
    try:
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


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
class _EdgeTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    total: int


def _edge_table(key: str, title: str, items: list[dict[str, object]]) -> _EdgeTable:
    columns = sorted({str(k) for item in items for k in item})
    rows = []
    for item in items[:MAX_EDGES]:
        text = {str(k): v for k, v in item.items()}
        rows.append([_value_text(text.get(c)) if c in text else "" for c in columns])
    return _EdgeTable(key, title, columns, rows, len(items))


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


def _context(doc: ReportDocument) -> dict[str, Any]:
    findings = sorted_findings(doc.findings)
    finding_views = [
        {
            "n": i,
            "f": f,
            "rank": severity_rank(f.severity),
            "evidence": f.evidence[:MAX_EVIDENCE],
            "evidence_more": max(0, len(f.evidence) - MAX_EVIDENCE),
            "details": [(k, _value_text(f.details[k])) for k in sorted(f.details)],
        }
        for i, f in enumerate(findings, start=1)
    ]

    c2 = ranked_c2(doc.campaign.c2)
    c2_scale = _score_scale(c.score for c in c2)
    beacons = ranked_beacons(doc.campaign.beacons)
    beacon_scale = _score_scale(b.score for b in beacons)

    camp = doc.campaign
    edges = [
        _edge_table("lateral", "Lateral movement", camp.lateral_moves),
        _edge_table("relay", "Internal relay edges", camp.relay_edges),
        _edge_table("bridges", "Bridges", camp.bridges),
    ]
    return {
        "doc": doc,
        "duration": _duration(doc.started, doc.finished),
        "sev_counts": severity_counts(doc.findings),
        "stage_counts": stage_counts(doc.findings),
        "chart": _stage_chart(stage_counts(doc.findings)),
        "input_counts": input_counts(doc),
        "findings": finding_views,
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
        "edges": edges,
        "inputs": doc.inputs[:MAX_INPUTS],
        "inputs_more": max(0, len(doc.inputs) - MAX_INPUTS),
        "not_analysed": doc.not_analysed[:MAX_NOT_ANALYSED],
        "not_analysed_more": max(0, len(doc.not_analysed) - MAX_NOT_ANALYSED),
        "warnings": doc.warnings[:MAX_WARNINGS],
        "warnings_more": max(0, len(doc.warnings) - MAX_WARNINGS),
        "stats": [(k, _value_text(doc.stats[k])) for k in sorted(doc.stats)],
        "limits": {"evidence": MAX_EVIDENCE, "edges": MAX_EDGES},
    }


def render_html(doc: ReportDocument) -> str:
    """The report as one self-contained HTML page (UTF-8 text)."""
    template = _environment().get_template(TEMPLATE)
    return template.render(**_context(doc))
