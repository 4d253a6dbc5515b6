"""The intelligence report: victims by organisation/network/country, infrastructure, a map.

intel_report("duqu-2011") gives the rows and the map SVG; render_intel_html makes one
self-contained page of it (CSP like the hunt report: no script, inline style allowed only by
its hash, everything autoescaped, invisible characters shown), render_intel_text a plain text
version for the terminal. story_sections_html(doc) renders a hunt report's kill chain and
ATT&CK names as an HTML fragment for the main report template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from duqhunt.campaign.geo import InfraRow, VictimRow, group_victims, infrastructure_rows
from duqhunt.campaign.killchain import kill_chain
from duqhunt.intel.attack import attack_techniques, technique_title
from duqhunt.intel.geoip import GeoLookup
from duqhunt.intel.pack import IntelPack, IntelSource, Sighting, resolve_intel_pack
from duqhunt.model.report import ReportDocument
from duqhunt.render.common import visible
from duqhunt.render.map import MAP_CSS, MapPoint, country_anchor, country_name, world_map_svg
from duqhunt.render.templating import csp_hash, environment

__all__ = [
    "IntelReport",
    "intel_report",
    "render_intel_html",
    "render_intel_text",
    "story_sections_html",
]


@dataclass(frozen=True, slots=True)
class IntelReport:
    pack: IntelPack
    victims: list[VictimRow]
    infrastructure: list[InfraRow]
    countries: dict[str, str]  # alpha-2 -> "confirmed" | "unconfirmed"
    map_svg: str
    sources: list[IntelSource]
    lookup_source: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def confirmed_countries(self) -> list[str]:
        return sorted(c for c, s in self.countries.items() if s == "confirmed")

    @property
    def unconfirmed_countries(self) -> list[str]:
        return sorted(c for c, s in self.countries.items() if s == "unconfirmed")


def _cname(cc: str) -> str:
    return country_name(cc) or cc


def intel_report(
    pack_name_or_path: str | Path | IntelPack,
    *,
    lookup: GeoLookup | None = None,
    sightings: Sequence[Sighting] = (),
) -> IntelReport:
    """Victim rows, infrastructure rows and the map of one intel pack (plus extra sightings)."""
    pack = (
        pack_name_or_path
        if isinstance(pack_name_or_path, IntelPack)
        else resolve_intel_pack(pack_name_or_path)
    )
    all_sightings = [*pack.sightings, *sightings]
    victims = group_victims(pack.victims, all_sightings, pack=pack, lookup=lookup)
    infra = infrastructure_rows(pack.infrastructure, pack=pack, lookup=lookup)

    countries: dict[str, str] = {}
    who: dict[str, list[str]] = {}
    for row in victims:
        for cc in row.reported_countries:
            if row.confirmed:
                countries[cc] = "confirmed"
            else:
                countries.setdefault(cc, "unconfirmed")
            status = "confirmed" if row.confirmed else "unconfirmed"
            who.setdefault(cc, []).append(
                f"{row.group} ({status}{', uncertain' if row.uncertain else ''})"
            )
    notes_by_cc = {cc: "; ".join(names) for cc, names in who.items()}

    points: list[MapPoint] = []
    used: dict[tuple[float, float], int] = {}
    missing: list[str] = []
    for r in infra:
        if not r.reported_country:
            continue
        anchor = country_anchor(r.reported_country)
        if anchor is None:
            missing.append(r.reported_country)
            continue
        n = used.get(anchor, 0)
        used[anchor] = n + 1
        label = f"{r.role.upper()} {r.ip}: reported in {_cname(r.reported_country)}"
        if r.hosting:
            label += f" ({r.hosting})"
        if r.lookup_country:
            label += f"; looks up as {_cname(r.lookup_country)} today"
        points.append(MapPoint(anchor[0] + 2.5 * n, anchor[1] - 2.5 * n, label, "c2", text=r.ip))
    for cc in countries:
        if country_anchor(cc) is None:
            missing.append(cc)
    notes = []
    if missing:
        notes.append(
            "not drawn (too small for the 1:110m outlines): "
            + ", ".join(sorted({_cname(c) for c in missing}))
        )
    svg = world_map_svg(
        countries,
        points,
        title=f"{pack.title or pack.pack}: victims and C&C by reported country",
        legend=[
            ("confirmed", "confirmed infection (organisation named A-F in the reports)"),
            ("unconfirmed", "reported, not confirmed"),
            ("point c2", "C&C server, at its reported hosting country"),
        ],
        country_notes=notes_by_cc,
    )
    return IntelReport(
        pack=pack,
        victims=victims,
        infrastructure=infra,
        countries=countries,
        map_svg=svg,
        sources=list(pack.sources),
        lookup_source=lookup.source if lookup is not None else None,
        notes=notes,
    )


# ----------------------------------------------------------------------------- HTML

_CSS = (
    """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 16px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #eee; }
th { background: #f5f6f8; font-weight: 600; }
.mono { font-family: ui-monospace, monospace; }
.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; margin-right: 4px; }
.tag.confirmed { background: #c62828; color: #fff; }
.tag.unconfirmed { background: #f39c12; color: #1b1b1b; }
.tag.uncertain { background: #fff3cd; color: #5c4400; border: 1px solid #e0c36a; }
.tag.differs { background: #e3f2fd; color: #0d47a1; }
.tag.seen { background: #2e7d32; color: #fff; }
.tag.gap { background: #eceff1; color: #37474f; border: 1px dashed #90a4ae; }
.muted, .note { color: #5f6368; font-size: 12px; }
footer { margin-top: 32px; color: #5f6368; font-size: 12px; }
"""
    + MAP_CSS
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src '{{ css_hash }}'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ css }}</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="muted">intel pack <span class="mono">{{ r.pack.pack }}</span> &middot; {{ r.victims|length }} victim groups &middot; {{ r.infrastructure|length }} servers</div>

<h2>Map</h2>
<figure>{{ svg }}
<figcaption class="note">Countries as reported (confirmed red, unconfirmed orange); C&amp;C servers at the country the reports placed them in. Drawn offline from Natural Earth 1:110m outlines.</figcaption>
</figure>
{% for n in r.notes %}<p class="note">{{ n }}</p>{% endfor %}

<h2>Victims</h2>
<table>
<thead><tr><th>Group</th><th>Basis</th><th>Status</th><th>Countries (as reported)</th><th>Countries (IP lookup today)</th><th>Sightings</th><th>Sources</th></tr></thead>
<tbody>
{% for v in r.victims %}
<tr>
<td>{{ v.group }}{% for n in v.notes %}<div class="note">{{ n }}</div>{% endfor %}</td>
<td>{{ v.basis }}</td>
<td><span class="tag {{ 'confirmed' if v.confirmed else 'unconfirmed' }}">{{ 'confirmed' if v.confirmed else 'unconfirmed' }}</span>{% if v.uncertain %}<span class="tag uncertain">uncertain</span>{% endif %}</td>
<td>{% for c in v.reported_countries %}{{ cname(c) }} <span class="mono muted">{{ c }}</span>{% if not loop.last %}, {% endif %}{% else %}&mdash;{% endfor %}</td>
<td>{% for c in v.lookup_countries %}{{ cname(c) }} <span class="mono muted">{{ c }}</span>{% if not loop.last %}, {% endif %}{% else %}&mdash;{% endfor %}</td>
<td>{{ v.sightings if v.sightings else '' }}{% if v.ips %}<div class="note mono">{{ v.ips[:10]|join(', ') }}</div>{% endif %}</td>
<td class="note">{% for s in v.sources %}{{ s }}{% if not loop.last %}<br>{% endif %}{% endfor %}{% if v.reporters %}<br>reported by {{ v.reporters|join(', ') }}{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>

<h2>Infrastructure</h2>
<table>
<thead><tr><th>Address</th><th>Role</th><th>Reported hosting</th><th>IP lookup today</th><th>Sources</th></tr></thead>
<tbody>
{% for i in r.infrastructure %}
<tr>
<td class="mono">{{ i.ip }}</td>
<td>{{ i.role }}{% if i.uncertain %} <span class="tag uncertain">uncertain</span>{% endif %}</td>
<td>{% if i.reported_country %}{{ cname(i.reported_country) }} <span class="mono muted">{{ i.reported_country }}</span>{% else %}&mdash;{% endif %}{% if i.hosting %}<div class="note">{{ i.hosting }}</div>{% endif %}{% if i.note %}<div class="note">{{ i.note }}</div>{% endif %}</td>
<td>{% if i.lookup_source %}{% if i.lookup_country %}{{ cname(i.lookup_country) }} <span class="mono muted">{{ i.lookup_country }}</span>{% else %}&mdash;{% endif %}{% if i.lookup_asn_org %}<div class="note">{{ i.lookup_asn_org }}</div>{% endif %}{% if i.country_differs %}<span class="tag differs">differs from the report</span>{% endif %}{% else %}<span class="muted">no lookup</span>{% endif %}</td>
<td class="note">{% for s in i.sources %}{{ s }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% if r.lookup_source %}<p class="note">IP lookups: {{ r.lookup_source }}. A lookup says where an address is registered today, not where it was in the reports.</p>{% endif %}

<h2>Sources</h2>
<ol>
{% for s in r.sources %}<li><span class="mono muted">{{ s.id }}</span> {{ s.citation }}{% if s.url %} <span class="mono note">{{ s.url }}</span>{% endif %}</li>
{% endfor %}
</ol>
<footer>Generated by duqhunt. A self-contained file: it loads nothing from the network. Map data: Natural Earth (public domain) via world-atlas (ISC).</footer>
</body>
</html>
"""

_STORY = """{% macro technique(tid) -%}
{% set url = tid|attack_url %}{% if url %}<a class="mono" href="{{ url }}" target="_blank" rel="noopener noreferrer">{{ tid }}</a>{% else %}<span class="mono">{{ tid }}</span>{% endif %}
{%- endmacro %}
<section id="story">
<h2>Kill chain</h2>
<table class="killchain">
<thead><tr><th>Stage</th><th>Seen</th><th>Findings</th><th>Techniques</th><th>Evidence or gap</th></tr></thead>
<tbody>
{% for s in chain %}
<tr>
<td>{{ s.title }}</td>
<td>{% if s.seen %}<span class="tag seen">seen</span>{% else %}<span class="tag gap">no evidence</span>{% endif %}</td>
<td>{{ s.findings|length }}{% if s.first_seen %}<div class="note mono">{{ s.first_seen }} .. {{ s.last_seen }}</div>{% endif %}</td>
<td>{% for t in s.techniques %}{{ technique(t.id) }} {{ t.name or '' }}{% if not loop.last %}<br>{% endif %}{% else %}&mdash;{% endfor %}</td>
<td>{% if s.seen %}{% for e in s.evidence[:3] %}<div><span class="muted">{{ e.source }}</span> {{ e.summary }}</div>{% endfor %}{% if s.evidence|length > 3 %}<div class="note">+{{ s.evidence|length - 3 }} more</div>{% endif %}{% else %}{{ s.gap }}{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% if techniques %}
<h3>ATT&amp;CK techniques tagged</h3>
<table>
<thead><tr><th>Technique</th><th>Name</th><th>Tactics</th></tr></thead>
<tbody>
{% for t in techniques %}<tr><td>{{ technique(t.id) }}</td><td>{{ t.name }}</td><td>{{ t.tactics }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</section>"""  # no newline: report.html.j2 puts the fragment on a line


def render_intel_html(report: IntelReport) -> str:
    """One self-contained HTML page of an intel report (no script, nothing loaded)."""
    title = f"duqhunt intel: {report.pack.title or report.pack.pack}"
    return (
        environment()
        .from_string(_PAGE)
        .render(
            r=report,
            title=title,
            css=Markup(_CSS),
            css_hash=csp_hash(_CSS),
            svg=Markup(report.map_svg),  # built by xml.etree: every string in it is escaped
            cname=_cname,
        )
    )


def render_intel_text(report: IntelReport) -> str:
    """The victim and infrastructure tables as plain text (for the terminal)."""
    lines = [f"{report.pack.title or report.pack.pack}", ""]
    lines.append(f"{'Group':38} {'Status':12} {'Countries (as reported)':40} Basis")
    for v in report.victims:
        status = ("confirmed" if v.confirmed else "unconfirmed") + ("?" if v.uncertain else "")
        cc = ", ".join(_cname(c) for c in v.reported_countries) or "-"
        lines.append(f"{visible(v.group)[:38]:38} {status:12} {cc[:40]:40} {v.basis}")
    lines += ["", f"{'Address':18} {'Role':6} {'Reported hosting':34} IP lookup today"]
    for i in report.infrastructure:
        rep = (_cname(i.reported_country) if i.reported_country else "-") + (
            f" ({i.hosting})" if i.hosting else ""
        )
        look = "-"
        if i.lookup_source:
            look = (_cname(i.lookup_country) if i.lookup_country else "?") + (
                f" ({i.lookup_asn_org})" if i.lookup_asn_org else ""
            )
            if i.country_differs:
                look += "  [differs from the report]"
        lines.append(f"{i.ip:18} {i.role:6} {visible(rep)[:34]:34} {visible(look)}")
    for n in report.notes:
        lines += ["", n]
    lines += ["", "Sources:"]
    lines += [f"  [{s.id}] {s.citation}" for s in report.sources]
    if report.lookup_source:
        lines += ["", f"IP lookups: {report.lookup_source}"]
    return "\n".join(lines) + "\n"


def story_sections_html(doc: ReportDocument) -> Markup:
    """The kill chain and the ATT&CK techniques of a hunt report, as an HTML fragment."""
    chain = kill_chain(doc)
    known = attack_techniques()
    tids = sorted({t for f in doc.findings for t in f.attack})
    techniques = [
        {
            "id": t,
            "name": technique_title(t) or "(not in the packaged ATT&CK subset)",
            "tactics": ", ".join(known[t].tactics) if t in known else "",
        }
        for t in tids
    ]
    html = environment().from_string(_STORY).render(chain=chain, techniques=techniques)
    return Markup(html)
