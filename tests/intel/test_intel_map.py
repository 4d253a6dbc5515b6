"""The offline world map: TopoJSON decoding, the antimeridian, and safe SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from duqhunt.render.map import (
    MapPoint,
    country_anchor,
    country_name,
    natural_earth,
    split_antimeridian,
    world_countries,
    world_map_svg,
)


def test_countries_decode_with_iso_codes() -> None:
    countries = world_countries()
    assert len(countries) == 177
    codes = {c.alpha2 for c in countries}
    for cc in ("FR", "NL", "CH", "UA", "IN", "IR", "SD", "VN", "BE", "RU", "FJ", "XK"):
        assert cc in codes
    france = next(c for c in countries if c.alpha2 == "FR")
    lon, lat = country_anchor("FR") or (0.0, 0.0)
    assert -5 < lon < 10 and 41 < lat < 52  # metropolitan France, not French Guiana
    assert all(-180 <= p[0] <= 180 for poly in france.polygons for r in poly for p in r)
    assert country_name("ir") is not None


def test_ring_not_crossing_is_unchanged() -> None:
    ring = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    assert split_antimeridian(ring) == [ring]


def test_ring_crossing_antimeridian_is_split() -> None:
    ring = [(170.0, -10.0), (-170.0, -10.0), (-170.0, 10.0), (170.0, 10.0)]
    pieces = split_antimeridian(ring)
    assert len(pieces) == 2
    for piece in pieces:
        assert all(-180.0 <= lon <= 180.0 for lon, _ in piece)
        assert all(abs(piece[i][0] - piece[i - 1][0]) <= 180 for i in range(len(piece)))
    spans = sorted((min(p[0] for p in pc), max(p[0] for p in pc)) for pc in pieces)
    assert spans == [(-180.0, -170.0), (170.0, 180.0)]


def test_polar_ring_is_closed_along_the_pole() -> None:
    ring = [(float(lon), -70.0) for lon in range(-180, 180, 30)]
    pieces = split_antimeridian(ring)
    assert pieces and all(any(lat == -90.0 for _, lat in pc) for pc in pieces)


def test_real_atlas_has_no_segment_across_the_map() -> None:
    crossed = 0
    for c in world_countries():
        for poly in c.polygons:
            for ring in poly:
                if any(abs(ring[i][0] - ring[i - 1][0]) > 180 for i in range(1, len(ring))):
                    crossed += 1
                for piece in split_antimeridian(ring):
                    for i in range(len(piece)):
                        (x0, y0), (x1, y1) = piece[i - 1], piece[i]
                        along_pole = abs(y0) == 90.0 and y0 == y1  # the projected pole is a line
                        assert along_pole or abs(x1 - x0) <= 180
    assert crossed >= 2  # Russia and Fiji do cross it in the 1:110m data


def test_projection_is_symmetric_and_bounded() -> None:
    x, y = natural_earth(180, 0)
    assert abs(x - 2.7353) < 1e-3 and y == 0
    assert natural_earth(-30, -40) == (-natural_earth(30, 40)[0], -natural_earth(30, 40)[1])


def test_svg_is_offline_styled_by_class_and_escaped() -> None:
    svg = world_map_svg(
        {"IR": "confirmed", "GB": "unconfirmed"},
        [MapPoint(72.8, 19.0, 'C&C <script>alert(1)</script> "\u202e', "c2", text="x")],
        legend=[("confirmed", "confirmed"), ("point c2", "C&C")],
        country_notes={"IR": "<b>Org C</b>"},
    )
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<script" not in svg and "<b>" not in svg
    assert "\u202e" not in svg  # bidi override shown as an escape
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg)
    assert "style=" not in svg and "url(" not in svg
    ns = "{http://www.w3.org/2000/svg}"
    paths = {p.get("data-cc"): p.get("class") for p in root.iter(f"{ns}path") if p.get("data-cc")}
    assert paths["IR"] == "country confirmed"
    assert paths["GB"] == "country unconfirmed"
    assert paths["FR"] == "country"
    assert "AQ" not in paths
