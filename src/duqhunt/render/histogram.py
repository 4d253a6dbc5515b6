"""Beacon histograms as inline SVG: the gaps between a beacon's contacts and the bytes it sent
per contact (campaign.beacons[].interval_histogram / size_histogram in the report).

Drawn from the report document alone, serialized by xml.etree (which escapes every string),
styled by report.css through classes (the page's one stylesheet, allowed by its CSP hash); no
script. The bins are logarithmic (campaign/beacon_shape.py), so each is drawn the same width
and the axis is labelled at its ends and middle. Each bar carries a <title> with its range and
count, which a browser shows on hover. A dashed line marks the reported median interval.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from markupsafe import Markup

from duqhunt.model.report import HistogramModel
from duqhunt.render.common import format_bytes, format_interval

__all__ = ["histogram_svg", "interval_svg", "size_svg"]

_W = 300
_H = 90
_PAD_L = 34
_PAD_B = 18
_PAD_T = 16


def _position(value: float, edges: list[float]) -> float | None:
    """Where `value` falls across the bins, 0..1 (the bins are drawn equally wide)."""
    if not edges or value < edges[0] or value > edges[-1]:
        return None
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        if lo <= value <= hi:
            inside = 0.0 if hi <= lo else (value - lo) / (hi - lo)
            return (i + inside) / (len(edges) - 1)
    return None


def histogram_svg(
    hist: HistogramModel,
    *,
    title: str,
    label: Callable[[float], str],
    unit: str,
    mark: float | None = None,
    mark_label: str = "",
) -> Markup:
    """One histogram: `title` above, bars, the axis labelled with `label` of its edges."""
    counts = hist.counts
    edges = hist.edges
    top = max(counts, default=0)
    total = sum(counts)
    bins = max(1, len(counts))
    width = (_W - _PAD_L) / bins
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "hist",
            "viewBox": f"0 0 {_W} {_H + _PAD_T + _PAD_B}",
            "width": str(_W),
            "height": str(_H + _PAD_T + _PAD_B),
            "role": "img",
        },
    )
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "text", {"class": "ht", "x": "0", "y": "11"}).text = title
    ET.SubElement(svg, "text", {"class": "ax", "x": "0", "y": str(_PAD_T + 9)}).text = str(top)
    ET.SubElement(svg, "text", {"class": "ax", "x": "0", "y": str(_PAD_T + _H)}).text = "0"
    base = _PAD_T + _H
    ET.SubElement(
        svg,
        "line",
        {"class": "axis", "x1": str(_PAD_L), "x2": str(_W), "y1": str(base), "y2": str(base)},
    )
    for i, n in enumerate(counts):
        h = 0.0 if top == 0 else _H * n / top
        bar = ET.SubElement(
            svg,
            "rect",
            {
                "class": "hb",
                "x": f"{_PAD_L + i * width + 0.5:.1f}",
                "y": f"{base - h:.1f}",
                "width": f"{max(width - 1.0, 0.5):.1f}",
                "height": f"{h:.1f}",
            },
        )
        lo = edges[i] if i < len(edges) else 0.0
        hi = edges[i + 1] if i + 1 < len(edges) else lo
        ET.SubElement(bar, "title").text = f"{label(lo)} to {label(hi)}: {n} of {total} {unit}"
    if edges:
        y = str(base + 13)
        ends = (
            (str(_PAD_L), "start", edges[0]),
            (str(_W), "end", edges[-1]),
        )
        for x, anchor, value in ends:
            ET.SubElement(
                svg, "text", {"class": "ax", "x": x, "y": y, "text-anchor": anchor}
            ).text = label(value)
        if len(edges) > 2:
            mid = edges[len(edges) // 2]
            x_mid = _PAD_L + (_W - _PAD_L) * (len(edges) // 2) / (len(edges) - 1)
            ET.SubElement(
                svg, "text", {"class": "ax", "x": f"{x_mid:.1f}", "y": y, "text-anchor": "middle"}
            ).text = label(mid)
    where = _position(mark, edges) if mark is not None else None
    if where is not None:
        x = f"{_PAD_L + (_W - _PAD_L) * where:.1f}"
        line = ET.SubElement(
            svg, "line", {"class": "mark", "x1": x, "x2": x, "y1": str(_PAD_T), "y2": str(base)}
        )
        ET.SubElement(line, "title").text = mark_label
    return Markup(ET.tostring(svg, encoding="unicode"))


def interval_svg(hist: HistogramModel, median_s: float) -> Markup:
    """The gaps between contacts, with the reported median interval marked."""
    return histogram_svg(
        hist,
        title="Interval between contacts",
        label=format_interval,
        unit="gaps",
        mark=median_s,
        mark_label=f"median interval {format_interval(median_s)}",
    )


def size_svg(hist: HistogramModel) -> Markup:
    """The bytes sent per contact."""
    return histogram_svg(hist, title="Bytes sent per contact", label=format_bytes, unit="contacts")
