"""similarity.html: the similarity graph (inline SVG, built with ElementTree so every label is
escaped by construction) and, per cluster and pair, what the files share."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import PurePath
from typing import Any

from markupsafe import Markup

from duqhunt.render.templating import environment

WIDTH = 860
MAX_NODES = 300


def similarity_svg(doc: dict[str, Any]) -> Markup | None:
    files = doc["files"][:MAX_NODES]
    if not files:
        return None
    index = {f["path"]: i for i, f in enumerate(files)}
    cluster_of: dict[str, int] = {}
    for k, c in enumerate(doc["clusters"]):
        for m in c["members"]:
            cluster_of[m] = k
    order = sorted(range(len(files)), key=lambda i: (cluster_of.get(files[i]["path"], 1 << 30), i))
    r = 300.0 if len(files) > 12 else 180.0
    cx, cy = WIDTH / 2, r + 60
    pos: dict[int, tuple[float, float]] = {}
    for k, i in enumerate(order):
        angle = 2 * math.pi * k / len(order)
        pos[i] = (cx + r * math.cos(angle), cy + r * math.sin(angle))
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "simgraph",
            "width": str(WIDTH),
            "height": str(int(2 * r + 120)),
            "role": "img",
        },
    )
    ET.SubElement(svg, "title").text = "Similarity graph: files joined by their pair score"
    for p in doc["pairs"]:
        ia, ib = index.get(p["a"]), index.get(p["b"])
        if ia is None or ib is None or p["score"] < 0.5:
            continue
        a, b = ia, ib
        cls = "edge strong" if p["score"] >= 0.8 else "edge"
        line = ET.SubElement(
            svg,
            "line",
            {
                "class": cls,
                "x1": f"{pos[a][0]:.1f}",
                "y1": f"{pos[a][1]:.1f}",
                "x2": f"{pos[b][0]:.1f}",
                "y2": f"{pos[b][1]:.1f}",
            },
        )
        ET.SubElement(line, "title").text = f"{p['score']:.2f}: {', '.join(p['basis'])}"
    for i, f in enumerate(files):
        x, y = pos[i]
        ck = cluster_of.get(f["path"])
        g = ET.SubElement(svg, "g", {"class": "node" + (f" c{ck % 8}" if ck is not None else "")})
        ET.SubElement(g, "circle", {"cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": "6"})
        ET.SubElement(g, "title").text = f"{f['path']}\nsha256 {f['sha256']}"
        label = ET.SubElement(g, "text", {"x": f"{x + 9:.1f}", "y": f"{y + 4:.1f}"})
        label.text = PurePath(f["path"]).name[:40]
    return Markup(ET.tostring(svg, encoding="unicode"))


def render_similarity_html(doc: dict[str, Any]) -> str:
    return (
        environment()
        .get_template("similarity.html.j2")
        .render(doc=doc, graph=similarity_svg(doc), max_nodes=MAX_NODES)
    )


__all__ = ["render_similarity_html", "similarity_svg"]
