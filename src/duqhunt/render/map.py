"""A world map as inline SVG, drawn offline from the packaged topology (content/geo/).

No tiles, no CDN, no script: the country outlines come from world-atlas ``countries-110m.json``
(Natural Earth 1:110m, TopoJSON), decoded here (quantized, delta-encoded arcs), projected with
the Natural Earth I projection and written as one ``<path>`` per country with a class the
page's stylesheet colours (``world_map_svg(countries={"IR": "confirmed"})``).

The antimeridian: a ring whose consecutive points jump by more than 180 degrees of longitude
crosses it. Such a ring is unwrapped into one continuous ring (longitudes may then leave
[-180, 180]), a ring that goes round a pole is closed along that pole, and the ring is clipped
to the [-180, 180] band once as it is and once shifted by 360 degrees either way, so Russia and
Fiji come out as pieces on both edges of the map and no stroke crosses the whole map.

Like render/topology.py the SVG is built with xml.etree (every string escaped), uses classes
only (no style attributes: the page's Content-Security-Policy blocks them) and no url()
references. MAP_CSS holds the rules a page needs for it.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from duqhunt.render.common import visible

__all__ = [
    "MAP_CSS",
    "Country",
    "MapPoint",
    "country_anchor",
    "country_name",
    "natural_earth",
    "split_antimeridian",
    "world_countries",
    "world_map_svg",
]

Ring = list[tuple[float, float]]

WIDTH = 960.0
_PAD = 6.0
_MAX_STEP_DEG = 2.0  # segments longer than this are densified before projection
_ANTARCTICA = "AQ"

MAP_CSS = """
svg.worldmap { max-width: 100%; height: auto; display: block; }
svg.worldmap .sea { fill: #eef3f7; }
svg.worldmap .country { fill: #d9dde2; stroke: #ffffff; stroke-width: 0.5; }
svg.worldmap .country.confirmed { fill: #c62828; }
svg.worldmap .country.unconfirmed { fill: #f39c12; }
svg.worldmap .country.c2 { fill: #5b6bbf; }
svg.worldmap .country:hover { stroke: #222; stroke-width: 1; }
svg.worldmap .point { stroke: #ffffff; stroke-width: 1.2; }
svg.worldmap .point.c2 { fill: #1a237e; }
svg.worldmap .point.confirmed { fill: #7f0000; }
svg.worldmap .point.unconfirmed { fill: #b35900; }
svg.worldmap .label { font: 11px sans-serif; fill: #1b1b1b; }
svg.worldmap .legend text { font: 12px sans-serif; fill: #1b1b1b; }
svg.worldmap .legend rect.confirmed { fill: #c62828; }
svg.worldmap .legend rect.unconfirmed { fill: #f39c12; }
svg.worldmap .legend rect.c2 { fill: #5b6bbf; }
svg.worldmap .legend circle.c2 { fill: #1a237e; }
"""


@dataclass(frozen=True, slots=True)
class Country:
    """One country outline: ISO ids (alpha2 None where the atlas has none) and its rings."""

    numeric: str | None
    alpha2: str | None
    name: str
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]  # [polygon][ring][point]


@dataclass(frozen=True, slots=True)
class MapPoint:
    """A marker: longitude/latitude in degrees, a label (hover text) and a style class."""

    lon: float
    lat: float
    label: str
    style: str = "c2"
    text: str | None = None  # a short text drawn beside the marker


# ----------------------------------------------------------------------------- data


def _geo_file(name: str) -> Any:
    ref = resources.files("duqhunt.content").joinpath("geo").joinpath(name)
    with ref.open("r", encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _iso() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]], dict[str, str]]:
    """(numeric -> (alpha2, name), atlas name -> (alpha2, name), alpha2 -> name)."""
    data = _geo_file("iso3166.json")
    by_num = {str(c["numeric"]): (str(c["alpha2"]), str(c["name"])) for c in data["countries"]}
    by_name = {str(c["atlas_name"]): (str(c["alpha2"]), str(c["name"])) for c in data["unnumbered"]}
    names = {a2: name for a2, name in by_num.values()}
    names.update({a2: name for a2, name in by_name.values()})
    return by_num, by_name, names


def country_name(alpha2: str) -> str | None:
    """English short name of an ISO 3166-1 alpha-2 code (None if unknown)."""
    return _iso()[2].get(alpha2.upper())


def _decode_arcs(topo: Mapping[str, Any]) -> list[Ring]:
    transform = topo.get("transform")
    arcs: list[Ring] = []
    for arc in topo["arcs"]:
        if transform:
            sx, sy = transform["scale"]
            tx, ty = transform["translate"]
            x = y = 0
            points: Ring = []
            for dx, dy, *_ in arc:
                x += dx
                y += dy
                points.append((x * sx + tx, y * sy + ty))
            arcs.append(points)
        else:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
    return arcs


def _ring(arcs: list[Ring], indexes: Iterable[int]) -> Ring:
    out: Ring = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        out.extend(arc if not out else arc[1:])
    return out


@lru_cache(maxsize=1)
def world_countries() -> tuple[Country, ...]:
    """The packaged countries, decoded (cached)."""
    topo = _geo_file("countries-110m.json")
    arcs = _decode_arcs(topo)
    by_num, by_name, _names = _iso()
    out: list[Country] = []
    for g in topo["objects"]["countries"]["geometries"]:
        kind = g.get("type")
        if kind == "Polygon":
            polys = [g["arcs"]]
        elif kind == "MultiPolygon":
            polys = g["arcs"]
        else:
            continue
        numeric = str(g["id"]) if g.get("id") is not None else None
        atlas_name = str(g.get("properties", {}).get("name", ""))
        alpha2, name = (
            by_num.get(numeric, (None, atlas_name))
            if numeric
            else by_name.get(atlas_name, (None, atlas_name))
        )
        polygons = tuple(tuple(tuple(_ring(arcs, ring)) for ring in poly) for poly in polys if poly)
        out.append(Country(numeric, alpha2, name or atlas_name, polygons))
    return tuple(out)


# ----------------------------------------------------------------------------- geometry


def natural_earth(lon: float, lat: float) -> tuple[float, float]:
    """Natural Earth I projection (Savric, Jenny, Patterson, Petrovic, Hurni 2011), unit sphere.

    Returns (x, y) with y growing north; x in about [-2.73, 2.73], y in about [-1.42, 1.42].
    """
    lam = math.radians(lon)
    phi = math.radians(max(-90.0, min(90.0, lat)))
    p2 = phi * phi
    p4 = p2 * p2
    x = lam * (0.8707 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)))
    y = phi * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)))
    return x, y


def _unwrap(ring: Ring) -> Ring:
    """Longitudes made continuous (no step over 180 degrees)."""
    if not ring:
        return []
    out: Ring = [ring[0]]
    shift = 0.0
    prev = ring[0][0]
    for lon, lat in ring[1:]:
        d = lon - prev
        if d > 180.0:
            shift -= 360.0
        elif d < -180.0:
            shift += 360.0
        prev = lon
        out.append((lon + shift, lat))
    return out


def _clip(ring: Ring, lo: float, hi: float) -> Ring:
    """Sutherland-Hodgman against lo <= lon <= hi."""

    def cut(points: Ring, inside: Any, edge: float) -> Ring:
        out: Ring = []
        n = len(points)
        for i in range(n):
            cur, prev = points[i], points[i - 1]
            cin, pin = inside(cur[0]), inside(prev[0])
            if cin != pin:
                t = (edge - prev[0]) / (cur[0] - prev[0])
                out.append((edge, prev[1] + t * (cur[1] - prev[1])))
            if cin:
                out.append(cur)
        return out

    pts = cut(ring, lambda x: x >= lo, lo)
    if pts:
        pts = cut(pts, lambda x: x <= hi, hi)
    return pts


def split_antimeridian(ring: Sequence[tuple[float, float]]) -> list[Ring]:
    """A (lon, lat) ring as one or more rings inside [-180, 180] that never cross the map.

    Rings that do not cross the antimeridian come back unchanged (as one ring).
    """
    pts = list(ring)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        return []
    if all(abs(pts[i][0] - pts[i - 1][0]) <= 180.0 for i in range(len(pts))) and all(
        -180.0 <= p[0] <= 180.0 for p in pts
    ):
        return [pts]
    closed = _unwrap([*pts, pts[0]])
    net = closed[-1][0] - pts[0][0]  # longitude gained over one trip round the ring
    flat = closed[:-1]
    if abs(net) > 180.0:
        # the ring goes round a pole: close it along that pole
        pole = 90.0 if sum(p[1] for p in flat) / len(flat) > 0 else -90.0
        first, last = flat[0], flat[-1]
        flat = [*flat, (first[0] + net, first[1]), (first[0] + net, pole), (first[0], pole)]
        del last
    lo = min(p[0] for p in flat)
    hi = max(p[0] for p in flat)
    pieces: list[Ring] = []
    k_min = math.floor((lo + 180.0) / 360.0)
    k_max = math.floor((hi + 180.0) / 360.0)
    for k in range(k_min, k_max + 1):
        shifted = [(lon - 360.0 * k, lat) for lon, lat in flat]
        piece = _clip(shifted, -180.0, 180.0)
        if len(piece) >= 3:
            pieces.append(piece)
    return pieces


def _densify(ring: Ring) -> Ring:
    out: Ring = []
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        out.append(a)
        steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1])) / _MAX_STEP_DEG)
        for s in range(1, steps):
            t = s / steps
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    return out


@dataclass(frozen=True, slots=True)
class _Frame:
    scale: float
    x0: float
    y0: float
    width: float
    height: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = natural_earth(lon, lat)
        return _PAD + (x - self.x0) * self.scale, _PAD + (self.y0 - y) * self.scale


def _frame(min_lat: float) -> _Frame:
    x_max, _ = natural_earth(180.0, 0.0)
    _, y_top = natural_earth(0.0, 90.0)
    _, y_bottom = natural_earth(0.0, min_lat)
    scale = (WIDTH - 2 * _PAD) / (2 * x_max)
    height = (y_top - y_bottom) * scale + 2 * _PAD
    return _Frame(scale, -x_max, y_top, WIDTH, height)


def _n(v: float) -> str:
    text = f"{v:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text in ("-0", "-0.0") else text


def _path(frame: _Frame, rings: Iterable[Ring]) -> str:
    parts: list[str] = []
    for ring in rings:
        pts = [frame.xy(lon, lat) for lon, lat in _densify(ring)]
        cmds: list[str] = []
        last = ""
        for i, (x, y) in enumerate(pts):
            pt = f"{_n(x)},{_n(y)}"
            if pt == last:
                continue
            cmds.append(("M" if i == 0 else "L") + pt)
            last = pt
        if len(cmds) >= 3:
            parts.append("".join(cmds) + "Z")
    return "".join(parts)


def _ring_area(ring: Ring) -> float:
    return 0.5 * sum(
        ring[i - 1][0] * ring[i][1] - ring[i][0] * ring[i - 1][1] for i in range(len(ring))
    )


def country_anchor(alpha2: str) -> tuple[float, float] | None:
    """(lon, lat) to mark a country at: the centroid of its largest outer ring (None if absent)."""
    code = alpha2.upper()
    for c in world_countries():
        if c.alpha2 != code:
            continue
        best: Ring = []
        best_area = 0.0
        for poly in c.polygons:
            if not poly:
                continue
            for piece in split_antimeridian(poly[0]):
                area = abs(_ring_area(piece))
                if area > best_area:
                    best, best_area = piece, area
        if not best:
            return None
        a = _ring_area(best)
        if a == 0:
            return best[0]
        cx = cy = 0.0
        for i in range(len(best)):
            (x0, y0), (x1, y1) = best[i - 1], best[i]
            f = x0 * y1 - x1 * y0
            cx += (x0 + x1) * f
            cy += (y0 + y1) * f
        return cx / (6 * a), cy / (6 * a)
    return None


def _clean(value: object) -> str:
    return visible(value).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def world_map_svg(
    countries: Mapping[str, str],
    points: Sequence[MapPoint] = (),
    *,
    title: str = "World map",
    legend: Sequence[tuple[str, str]] = (),
    country_notes: Mapping[str, str] | None = None,
    include_antarctica: bool = False,
) -> str:
    """The world as an inline SVG string.

    countries maps ISO alpha-2 codes to a style class (e.g. "confirmed", "unconfirmed"); every
    other country is drawn plain. points are markers at (lon, lat). legend is [(class, label)]
    for coloured squares drawn bottom left (a class starting with "point " draws a marker).
    country_notes adds text to a country's hover title. Codes the atlas lacks at 1:110m (small
    states) are simply not coloured: callers should also list them in a table.
    """
    styles = {k.upper(): v for k, v in countries.items()}
    notes = {k.upper(): v for k, v in (country_notes or {}).items()}
    frame = _frame(-60.0 if not include_antarctica else -90.0)
    legend_h = 22.0 * len(legend)
    height = frame.height + legend_h + (8.0 if legend else 0.0)
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "worldmap",
            "role": "img",
            "width": _n(frame.width),
            "height": _n(height),
            "viewBox": f"0 0 {_n(frame.width)} {_n(height)}",
            "aria-label": _clean(title),
        },
    )
    ET.SubElement(svg, "title").text = _clean(title)
    outline = [(lon, 90.0) for lon in range(-180, 181, 5)] + [
        (lon, -90.0 if include_antarctica else -60.0) for lon in range(180, -181, -5)
    ]
    sea_pts = [frame.xy(float(lon), lat) for lon, lat in outline]
    ET.SubElement(
        svg,
        "path",
        {"class": "sea", "d": "M" + "L".join(f"{_n(x)},{_n(y)}" for x, y in sea_pts) + "Z"},
    )
    land = ET.SubElement(svg, "g", {"class": "countries"})
    for c in world_countries():
        if c.alpha2 == _ANTARCTICA and not include_antarctica:
            continue
        rings = [
            piece for poly in c.polygons for ring in poly for piece in split_antimeridian(ring)
        ]
        d = _path(frame, rings)
        if not d:
            continue
        style = styles.get(c.alpha2 or "")
        attrs = {"class": f"country {style}" if style else "country", "d": d}
        if c.alpha2:
            attrs["data-cc"] = c.alpha2
        el = ET.SubElement(land, "path", attrs)
        label = c.name + (f" ({c.alpha2})" if c.alpha2 else "")
        note = notes.get(c.alpha2 or "")
        ET.SubElement(el, "title").text = _clean(f"{label}: {note}" if note else label)
    if points:
        marks = ET.SubElement(svg, "g", {"class": "points"})
        for p in points:
            if not (math.isfinite(p.lon) and math.isfinite(p.lat)):
                continue
            x, y = frame.xy(max(-180.0, min(180.0, p.lon)), max(-90.0, min(90.0, p.lat)))
            g = ET.SubElement(marks, "g", {"class": f"mark {p.style}"})
            ET.SubElement(g, "title").text = _clean(p.label)
            ET.SubElement(
                g, "circle", {"class": f"point {p.style}", "cx": _n(x), "cy": _n(y), "r": "5"}
            )
            if p.text:
                t = ET.SubElement(g, "text", {"class": "label", "x": _n(x + 8), "y": _n(y + 4)})
                t.text = _clean(p.text)
    if legend:
        box = ET.SubElement(svg, "g", {"class": "legend"})
        y = frame.height + 4.0
        for cls, label in legend:
            if cls.startswith("point "):
                ET.SubElement(
                    box,
                    "circle",
                    {"class": cls[6:], "cx": "17", "cy": _n(y + 8), "r": "5"},
                )
            else:
                ET.SubElement(
                    box,
                    "rect",
                    {"class": cls, "x": "10", "y": _n(y + 1), "width": "14", "height": "14"},
                )
            ET.SubElement(box, "text", {"x": "32", "y": _n(y + 12)}).text = _clean(label)
            y += 22.0
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
