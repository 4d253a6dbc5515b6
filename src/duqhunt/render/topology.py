"""The campaign as an inline SVG drawing: zones as regions, hosts as nodes, edges as arrows.

Left to right: the secure zone (no egress), the corporate network (egress) and the internet.
Each region holds one or two columns of hosts: in the secure zone the plain hosts, then the
relays they talk through; in the corporate network the relays and bridges, then every other
host (patient zero first); on the internet the C&C servers. Relay edges run from no-egress
hosts to their relay or bridge (labelled with the named pipe when the sensor logged it),
lateral moves run from the host that copied and started the implant to its target, and
beacons cross from infected hosts to the C&C. Moves made by learned or allow-listed admin
tooling are not drawn; the notes under the drawing count them.

The layout is deterministic (columns sorted by role then address; the plain secure-zone hosts
follow the relay they use) and bounded (MAX_PER_COLUMN hosts per column, MAX_DRAWN_EDGES
edges); what is left out is counted in the notes, and the tables below the drawing list
everything.

The SVG is built with xml.etree, so the serializer escapes every string; evidence strings
also go through `visible` first, which shows control, bidi and other invisible characters as
escapes, and characters that XML forbids are replaced the same way. No style attributes (the
page's Content-Security-Policy would block them) and no url() references: the look comes from
classes in the page's stylesheet, and arrowheads are drawn as polygons.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from duqhunt.model.report import Campaign, HostIdentityModel
from duqhunt.render.common import is_admin_move, visible

__all__ = ["MAX_DRAWN_EDGES", "MAX_PER_COLUMN", "Topology", "build_topology"]

#: Hosts drawn per column at most (the last slot says how many more there are).
MAX_PER_COLUMN = 14
#: Edges drawn at most (after merging repeated moves between the same two hosts).
MAX_DRAWN_EDGES = 400

WIDTH = 1180
_MARGIN = 8
_REGION_GAP = 14
_TOP = 58  # first node row, below the region labels
_NODE_H = 52
_PITCH = 74  # row gap of 22: room for a pipe label and for edges crossing a column
_LEGEND_H = 40
_MONO_CHAR_W = 7.3  # 12px monospace
_SANS_CHAR_W = 6.2  # 11px sans-serif
_ROLE_CHAR_W = 7.0  # 9.5px upper case with letter spacing
_ARROW = 8.0

_ROLE_ORDER = ("c2", "patient-zero", "bridge", "relay", "infected")
_ROLE_NAMES = {"c2": "C&C", "patient-zero": "patient zero"}
#: Roles that imply "infected", which the node then does not repeat.
_IMPLY_INFECTED = {"patient-zero", "bridge", "relay"}

# Characters XML 1.0 does not allow at all (visible() already covers C0 controls and lone
# surrogates, which are the other disallowed ones).
_XML_FORBIDDEN = re.compile("[\ufffe\uffff]")

_REGIONS = (
    ("secure", "secure zone (no egress)"),
    ("corp", "corporate network (egress)"),
    ("internet", "internet"),
)


@dataclass(slots=True)
class _Host:
    ip: str  # the machine's address in the drawing (its latest, when hosts[] gives several)
    name: str | None = None
    other_ips: list[str] = field(default_factory=list)  # the machine's other addresses
    roles: set[str] = field(default_factory=set)
    zone: str | None = None
    known_ioc: bool = False


@dataclass(frozen=True, slots=True)
class _Edge:
    kind: str  # "relay" | "lateral" | "beacon"
    src: str
    dst: str
    tooltip: str


@dataclass(slots=True)
class _Graph:
    hosts: dict[str, _Host] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    pipes: dict[str, set[str]] = field(default_factory=dict)  # relay/bridge -> named pipes
    admin_moves: int = 0


@dataclass(frozen=True, slots=True)
class _Box:
    x: float  # left
    y: float  # top
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True, slots=True)
class Topology:
    """The drawing (None when the campaign has no hosts) and notes on what it leaves out."""

    svg: Markup | None
    notes: list[str]
    hosts_drawn: int
    hosts_total: int


def _clean(value: object) -> str:
    """An evidence value as displayable, XML-safe text (the serializer escapes markup)."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(value))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "\u2026"


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _ip_key(ip: str) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (2, 0, ip)
    return (addr.version - 4, int(addr), ip)


def _role_rank(host: _Host) -> int:
    for i, role in enumerate(_ROLE_ORDER):
        if role in host.roles:
            return i
    return len(_ROLE_ORDER)


def _primary_role(host: _Host) -> str:
    rank = _role_rank(host)
    return _ROLE_ORDER[rank] if rank < len(_ROLE_ORDER) else "other"


def _n(value: float) -> str:
    """A coordinate for an SVG attribute: one decimal, no trailing .0, no -0."""
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text in ("-0", "-0.0") else text


def _fmt_score(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.2f}"
    return _clean(value) if value is not None else "-"


# ----------------------------------------------------------------------------- graph


def _machines(machines: Sequence[HostIdentityModel]) -> dict[str, HostIdentityModel]:
    """Address -> the one machine (hosts[]) that held it; a disputed address is left alone,
    since the drawing cannot say which machine an edge on it belongs to."""
    holders: dict[str, list[HostIdentityModel]] = defaultdict(list)
    for m in machines:
        for a in dict.fromkeys(a.ip for a in m.ips):
            holders[a].append(m)
    return {ip: ms[0] for ip, ms in holders.items() if len(ms) == 1}


def _collect(camp: Campaign, machines: Sequence[HostIdentityModel] = ()) -> _Graph:
    """Hosts by address (one node per machine when hosts[] joins several addresses), the
    edges to draw, named pipes per relay, admin-tool moves left out."""
    graph = _Graph()
    hosts = graph.hosts
    edges = graph.edges
    machine_of = _machines(machines)

    def key(ip: str) -> str:
        """A machine's node key: its latest address that no other machine claims."""
        m = machine_of.get(ip)
        if m is None:
            return ip
        return next(a.ip for a in reversed(m.ips) if machine_of.get(a.ip) is m)

    def host(ip: object) -> _Host | None:
        text = _text(ip)
        if text is None:
            return None
        m = machine_of.get(text)
        if m is None:
            return hosts.setdefault(text, _Host(ip=text))
        ips = list(dict.fromkeys(a.ip for a in m.ips))
        ips.remove(key(text))
        return hosts.setdefault(
            key(text), _Host(ip=key(text), name=m.names[0] if m.names else None, other_ips=ips)
        )

    for h in camp.hosts:
        entry = host(h.ip)
        if entry is not None:
            entry.name = entry.name or _text(h.name)
            entry.roles.update(h.roles)
            entry.zone = entry.zone or h.zone
    for c in camp.c2:
        entry = host(c.ip)
        if entry is not None:
            entry.roles.add("c2")
            entry.name = entry.name or _text(c.domain)
            entry.known_ioc = entry.known_ioc or c.known_ioc
    c2_ips = {ip for ip, h in hosts.items() if "c2" in h.roles}

    for e in camp.relay_edges:
        src, dst = host(e.get("src")), host(e.get("dst"))
        if src is None or dst is None:
            continue
        pipe = _text(e.get("pipe"))
        if pipe is not None:
            graph.pipes.setdefault(dst.ip, set()).add(_clean(pipe))
        pipe_text = f"pipe {_clean(pipe)}" if pipe is not None else "pipe name not logged"
        tooltip = (
            f"relay {_clean(src.ip)} \u2192 {_clean(dst.ip)} over SMB, {pipe_text}, "
            f"score {_fmt_score(e.get('score'))}, "
            f"{_clean(e.get('first_seen') or '?')} .. {_clean(e.get('last_seen') or '?')}"
        )
        edges.append(_Edge("relay", src.ip, dst.ip, tooltip))

    moves: dict[tuple[str, str], list[Mapping[str, object]]] = defaultdict(list)
    for m in camp.lateral_moves:
        if is_admin_move(m):
            graph.admin_moves += 1
            continue
        src, dst = host(m.get("src")), host(m.get("dst"))
        if src is None or dst is None:
            continue
        moves[(src.ip, dst.ip)].append(m)
    for (src_ip, dst_ip), group in moves.items():
        items = sorted(group, key=lambda m: str(m.get("time") or ""))
        lines = [
            f"lateral move {_clean(src_ip)} \u2192 {_clean(dst_ip)}"
            + (f" ({len(items)} moves)" if len(items) > 1 else "")
        ]
        for move in items[:5]:
            parts = [
                _clean(move.get(k))
                for k in ("time", "method", "share", "file", "account")
                if move.get(k)
            ]
            lines.append(" ".join(parts))
        if len(items) > 5:
            lines.append(f"+{len(items) - 5} more")
        edges.append(_Edge("lateral", src_ip, dst_ip, "\n".join(lines)))

    beacon_pairs: set[tuple[str, str]] = set()
    for b in camp.beacons:
        src_key, dst_key = key(b.src), key(b.dst)
        if not b.suppressed and dst_key in c2_ips and src_key != dst_key:
            beacon_pairs.add((src_key, dst_key))
    for br in camp.bridges:
        ip = _text(br.get("ip"))
        if ip is None:
            continue
        entry = host(ip)
        assert entry is not None
        entry.roles.add("bridge")
        ip = entry.ip
        targets = [br.get("c2")]
        beacons = br.get("beacons")
        if isinstance(beacons, list | tuple):
            targets.extend(beacons)
        for t in targets:
            t_ip = _text(t)
            t_ip = key(t_ip) if t_ip is not None else None
            if t_ip is not None and t_ip in c2_ips and t_ip != ip:
                beacon_pairs.add((ip, t_ip))
    for src_ip, dst_ip in sorted(beacon_pairs, key=lambda p: (_ip_key(p[0]), _ip_key(p[1]))):
        host(src_ip)
        edges.append(
            _Edge("beacon", src_ip, dst_ip, f"beacon {_clean(src_ip)} \u2192 C&C {_clean(dst_ip)}")
        )
    # input order must not matter; under the edge cap, beacons and relays go before moves
    kind_order = {"beacon": 0, "relay": 1, "lateral": 2}
    edges.sort(key=lambda e: (kind_order[e.kind], _ip_key(e.src), _ip_key(e.dst), e.tooltip))
    return graph


# ----------------------------------------------------------------------------- layout


def _region(h: _Host, relay_srcs: set[str], hubs: set[str]) -> str:
    if "c2" in h.roles:
        return "internet"
    if h.zone == "no-egress":
        return "secure"
    if h.zone is None and h.ip in relay_srcs and h.ip not in hubs:
        return "secure"
    return "corp"


def _columns(hosts: Mapping[str, _Host], edges: list[_Edge]) -> list[tuple[str, str, list[_Host]]]:
    """[(region, column kind, hosts)] left to right; every region has at least one column."""
    relay_srcs = {e.src for e in edges if e.kind == "relay"}
    hubs = {e.dst for e in edges if e.kind == "relay"}
    hubs |= {ip for ip, h in hosts.items() if h.roles & {"bridge", "relay"}}
    buckets: dict[tuple[str, str], list[_Host]] = defaultdict(list)
    for h in hosts.values():
        region = _region(h, relay_srcs, hubs)
        is_hub = h.ip in hubs and region != "internet"
        kind = "c2" if region == "internet" else ("hub" if is_hub else "leaf")
        buckets[(region, kind)].append(h)
    order = {
        "secure": ("leaf", "hub"),
        "corp": ("hub", "leaf"),
        "internet": ("c2",),
    }
    columns: list[tuple[str, str, list[_Host]]] = []
    for region, _label in _REGIONS:
        cols = [(region, k, buckets[(region, k)]) for k in order[region] if buckets[(region, k)]]
        columns.extend(cols or [(region, "empty", [])])
    return columns


@dataclass(slots=True)
class _Layout:
    boxes: dict[str, _Box] = field(default_factory=dict)
    column_of: dict[str, int] = field(default_factory=dict)
    column_boxes: list[list[_Box]] = field(default_factory=list)  # top to bottom
    column_x: list[tuple[float, float]] = field(default_factory=list)  # node left, node right
    more: list[tuple[float, float, int]] = field(default_factory=list)  # x, y, hidden count
    regions: list[tuple[str, str, float, float]] = field(default_factory=list)  # key, label, x0, x1
    empty: list[tuple[float, float]] = field(default_factory=list)  # centre of empty regions
    height: float = 0.0


def _layout(hosts: Mapping[str, _Host], edges: list[_Edge]) -> _Layout:
    columns = _columns(hosts, edges)
    col_w = (WIDTH - 2 * _MARGIN - (len(_REGIONS) - 1) * _REGION_GAP) / len(columns)
    node_w = max(128.0, min(200.0, col_w - 84.0))
    degree: dict[str, int] = defaultdict(int)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        degree[e.src] += 1
        degree[e.dst] += 1
        neighbours[e.src].add(e.dst)
        neighbours[e.dst].add(e.src)

    def base(h: _Host) -> tuple[int, tuple[int, int, str]]:
        return (_role_rank(h), _ip_key(h.ip))

    # pick the hosts each column shows (most important and best connected first)
    picked: list[tuple[list[_Host], int]] = []
    for _region_key, _kind, members in columns:
        if len(members) > MAX_PER_COLUMN:
            keep = sorted(members, key=lambda h: (_role_rank(h), -degree[h.ip], _ip_key(h.ip)))
            shown = keep[: MAX_PER_COLUMN - 1]
            picked.append((sorted(shown, key=base), len(members) - len(shown)))
        else:
            picked.append((sorted(members, key=base), 0))
    rows = max([len(p) + (1 if more else 0) for p, more in picked] + [1])
    layout = _Layout(height=_TOP + rows * _PITCH + _LEGEND_H)

    col_x: list[float] = []
    x = float(_MARGIN)
    prev_region: str | None = None
    spans: dict[str, list[float]] = {}
    for region_key, _kind, _members in columns:
        if prev_region is not None and region_key != prev_region:
            x += _REGION_GAP
        col_x.append(x)
        left = x + (col_w - node_w) / 2
        layout.column_x.append((left, left + node_w))
        layout.column_boxes.append([])
        span = spans.setdefault(region_key, [x, x + col_w])
        span[1] = x + col_w
        x += col_w
        prev_region = region_key
    for key, label in _REGIONS:
        x0, x1 = spans[key]
        layout.regions.append((key, label, x0, x1))

    def place(i: int) -> None:
        members, more = picked[i]
        slots = len(members) + (1 if more else 0)
        y0 = _TOP + (rows - slots) * _PITCH / 2
        left = layout.column_x[i][0]
        for j, h in enumerate(members):
            box = _Box(left, y0 + j * _PITCH, node_w, _NODE_H)
            layout.boxes[h.ip] = box
            layout.column_of[h.ip] = i
            layout.column_boxes[i].append(box)
        if more:
            layout.more.append((col_x[i] + col_w / 2, y0 + len(members) * _PITCH + 30, more))
        if columns[i][1] == "empty":
            layout.empty.append((col_x[i] + col_w / 2, _TOP + rows * _PITCH / 2))

    # Hubs and the corporate/internet columns first; the secure zone's plain hosts then follow
    # the hosts they talk to (barycentre order), which keeps relay fans from crossing.
    leaf_cols = [i for i, (r, k, _m) in enumerate(columns) if (r, k) == ("secure", "leaf")]
    for i in range(len(columns)):
        if i not in leaf_cols:
            place(i)
    for i in leaf_cols:
        members, more = picked[i]

        def centre(h: _Host) -> float:
            ys = [layout.boxes[n].cy for n in neighbours[h.ip] if n in layout.boxes]
            return sum(ys) / len(ys) if ys else math.inf

        picked[i] = (sorted(members, key=lambda h: (centre(h), base(h))), more)
        place(i)
    return layout


# ----------------------------------------------------------------------------- routing

_Point = tuple[float, float]


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def _port(box: _Box, toward_y: float) -> float:
    """Where on a box's side an edge attaches: spread a little toward the other end."""
    return box.cy + _clamp((toward_y - box.cy) * 0.06, box.h / 2 - 8)


def _gap_y(boxes: list[_Box], y: float) -> float:
    """The free horizontal lane through a column nearest to y (between, above or below hosts)."""
    if not boxes:
        return y
    lanes = [boxes[0].y - (_PITCH - _NODE_H) / 2]
    lanes += [(a.y + a.h + b.y) / 2 for a, b in itertools.pairwise(boxes)]
    lanes.append(boxes[-1].y + boxes[-1].h + (_PITCH - _NODE_H) / 2)
    return min(lanes, key=lambda lane: (abs(lane - y), lane))


def _route(layout: _Layout, src: str, dst: str) -> tuple[str, _Point, _Point]:
    """SVG path data from src to dst, and the last control point and end (for the arrowhead).

    Neighbouring columns: a gentle curve bowed to the left of the direction of travel (so two
    opposite edges between the same hosts separate). Farther columns: horizontal runs through
    the free lanes of every column in between, so an edge never passes behind another host.
    Same column: an arc bulging to the right.
    """
    a, b = layout.boxes[src], layout.boxes[dst]
    ia, ib = layout.column_of[src], layout.column_of[dst]
    if ia == ib:
        start, end = (a.x + a.w, a.cy), (b.x + b.w, b.cy)
        bulge = 28 + 0.22 * abs(b.cy - a.cy)
        ctrl = (a.x + a.w + bulge, (a.cy + b.cy) / 2)
        return _quad(start, ctrl, end), ctrl, end
    step = 1 if ib > ia else -1
    start = (a.x + a.w if step > 0 else a.x, _port(a, b.cy))
    end = (b.x if step > 0 else b.x + b.w, _port(b, a.cy))
    if abs(ib - ia) == 1:
        dx, dy = end[0] - start[0], end[1] - start[1]
        length = math.hypot(dx, dy) or 1.0
        bow = min(26.0, 0.08 * length + 6.0)
        nx, ny = dy / length, -dx / length
        ctrl = ((start[0] + end[0]) / 2 + nx * bow, (start[1] + end[1]) / 2 + ny * bow)
        return _quad(start, ctrl, end), ctrl, end
    # through the columns in between; opposite directions use lanes 3px apart
    points: list[_Point] = [start]
    for k in range(ia + step, ib, step):
        left, right = layout.column_x[k]
        mid_x = (left + right) / 2
        t = (mid_x - start[0]) / (end[0] - start[0])
        lane = _gap_y(layout.column_boxes[k], start[1] + t * (end[1] - start[1])) + 3 * step
        enter, leave = (left - 6, lane), (right + 6, lane)
        points.extend([enter, leave] if step > 0 else [leave, enter])
    points.append(end)
    d = f"M{_n(start[0])},{_n(start[1])}"
    c2: _Point = start
    for i in range(1, len(points)):
        p, q = points[i - 1], points[i]
        if i % 2 == 0:  # across a column, along its lane
            d += f" L{_n(q[0])},{_n(q[1])}"
            c2 = p
            continue
        half = (q[0] - p[0]) / 2
        c1, c2 = (p[0] + half, p[1]), (q[0] - half, q[1])
        d += f" C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} {_n(q[0])},{_n(q[1])}"
    return d, c2, end


def _quad(start: _Point, ctrl: _Point, end: _Point) -> str:
    return f"M{_n(start[0])},{_n(start[1])} Q{_n(ctrl[0])},{_n(ctrl[1])} {_n(end[0])},{_n(end[1])}"


def _arrowhead(ctrl: _Point, end: _Point) -> str:
    dx, dy = end[0] - ctrl[0], end[1] - ctrl[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    bx, by = end[0] - ux * _ARROW, end[1] - uy * _ARROW
    px, py = -uy * _ARROW * 0.45, ux * _ARROW * 0.45
    points = [(end[0], end[1]), (bx + px, by + py), (bx - px, by - py)]
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


# ----------------------------------------------------------------------------- drawing


def _sub(parent: ET.Element, tag: str, attrs: Mapping[str, str] | None = None) -> ET.Element:
    return ET.SubElement(parent, tag, dict(attrs or {}))


def _title(parent: ET.Element, text: str) -> None:
    _sub(parent, "title").text = text


def _text_el(
    parent: ET.Element, x: float, y: float, text: str, cls: str, anchor: str = "middle"
) -> ET.Element:
    el = _sub(parent, "text", {"x": _n(x), "y": _n(y), "class": cls, "text-anchor": anchor})
    el.text = text
    return el


def _node_lines(h: _Host, node_w: float) -> list[tuple[str, str]]:
    mono_chars = max(6, int((node_w - 12) / _MONO_CHAR_W))
    sans_chars = max(6, int((node_w - 12) / _SANS_CHAR_W))
    role_chars = max(6, int((node_w - 10) / _ROLE_CHAR_W))
    more = f" +{len(h.other_ips)}" if h.other_ips else ""  # its other addresses: the tooltip
    lines = [("ip", _short(_clean(h.ip), mono_chars - len(more)) + more)]
    if h.name:
        lines.append(("nm", _short(_clean(h.name), sans_chars)))
    roles = [
        _ROLE_NAMES.get(r, r)
        for r in _ROLE_ORDER
        if r in h.roles and not (r == "infected" and h.roles & _IMPLY_INFECTED)
    ]
    roles += sorted(_clean(r) for r in h.roles if r not in _ROLE_ORDER)
    if "c2" in h.roles and h.known_ioc:
        roles.append("known IOC")
    lines.append(("rl", _short(" \u00b7 ".join(roles) or "host", role_chars)))
    return lines


def _node(parent: ET.Element, h: _Host, box: _Box) -> None:
    g = _sub(parent, "g", {"class": f"node {_primary_role(h)}"})
    tip = [_clean(h.ip)] + [f"also {_clean(ip)}" for ip in h.other_ips]
    if h.name:
        tip.append(_clean(h.name))
    if h.roles:
        tip.append("roles: " + ", ".join(_clean(r) for r in sorted(h.roles)))
    if h.zone:
        tip.append(f"zone: {_clean(h.zone)}")
    _title(g, "\n".join(tip))
    _sub(
        g,
        "rect",
        {"x": _n(box.x), "y": _n(box.y), "width": _n(box.w), "height": _n(box.h), "rx": "6"},
    )
    lines = _node_lines(h, box.w)
    offsets = (17.0, 31.0, 44.0) if len(lines) == 3 else (21.0, 38.0)
    for (cls, text), dy in zip(lines, offsets, strict=False):
        _text_el(g, box.cx, box.y + dy, text, cls)


def _legend(svg: ET.Element, y: float) -> None:
    g = _sub(svg, "g", {"class": "legend"})
    x = float(_MARGIN + 4)
    for cls, label in (
        ("patient-zero", "patient zero"),
        ("infected", "infected"),
        ("bridge", "bridge"),
        ("relay", "relay"),
        ("c2", "C&C"),
        ("other", "other host"),
    ):
        node = _sub(g, "g", {"class": f"node {cls}"})
        _sub(node, "rect", {"x": _n(x), "y": _n(y - 11), "width": "22", "height": "14", "rx": "3"})
        _text_el(g, x + 28, y, label, "lg", "start")
        x += 40 + len(label) * _SANS_CHAR_W
    x += 16
    for cls, label in (
        ("relay", "relay over SMB (named pipe above the relay)"),
        ("lateral", "lateral move"),
        ("beacon", "beacon to C&C"),
    ):
        edge = _sub(g, "g", {"class": f"edge {cls}"})
        _sub(edge, "path", {"d": f"M{_n(x)},{_n(y - 4)} L{_n(x + 30)},{_n(y - 4)}"})
        _sub(edge, "polygon", {"points": _arrowhead((x, y - 4), (x + 34, y - 4))})
        _text_el(g, x + 42, y, label, "lg", "start")
        x += 58 + len(label) * _SANS_CHAR_W


def build_topology(camp: Campaign, machines: Sequence[HostIdentityModel] = ()) -> Topology:
    """The campaign drawing as SVG markup (XML-escaped by construction) and its notes.

    `machines` (the report's hosts[]) makes a machine seen at several addresses one node.
    """
    graph = _collect(camp, machines)
    hosts = graph.hosts
    notes: list[str] = []
    if graph.admin_moves:
        n = graph.admin_moves
        notes.append(
            f"{n} lateral move{'s' if n != 1 else ''} by learned or allow-listed admin tooling "
            "not drawn (listed, dimmed, in the lateral movement table)."
        )
    if not hosts:
        return Topology(None, notes, 0, 0)
    layout = _layout(hosts, graph.edges)
    drawable = [
        e for e in graph.edges if e.src in layout.boxes and e.dst in layout.boxes and e.src != e.dst
    ]
    edges = drawable[:MAX_DRAWN_EDGES]
    hidden_edges = len(graph.edges) - len(edges)
    if len(layout.boxes) < len(hosts):
        notes.append(
            f"{len(layout.boxes)} of {len(hosts)} hosts drawn (at most {MAX_PER_COLUMN} per "
            "column); the tables list all of them."
        )
    if hidden_edges:
        notes.append(
            f"{hidden_edges} edge{'s' if hidden_edges != 1 else ''} to hosts not drawn "
            "left out of the drawing."
        )

    height = layout.height
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "topology",
            "role": "img",
            "aria-labelledby": "topology-title",
            "width": _n(WIDTH),
            "height": _n(height),
            "viewBox": f"0 0 {_n(WIDTH)} {_n(height)}",
        },
    )
    _sub(svg, "title", {"id": "topology-title"}).text = (
        f"Campaign topology: {len(layout.boxes)} hosts, "
        f"{sum(e.kind == 'relay' for e in edges)} relay edges, "
        f"{sum(e.kind == 'lateral' for e in edges)} lateral moves, "
        f"{sum(e.kind == 'beacon' for e in edges)} beacons to C&C"
    )
    bottom = height - _LEGEND_H + 4
    for key, label, x0, x1 in layout.regions:
        g = _sub(svg, "g", {"class": f"region region-{key}"})
        _sub(
            g,
            "rect",
            {"x": _n(x0), "y": "6", "width": _n(x1 - x0), "height": _n(bottom - 6), "rx": "8"},
        )
        _text_el(g, x0 + 12, 28, label, "rg", "start")
    for cx, cy in layout.empty:
        _text_el(svg, cx, cy, "no hosts seen", "empty")

    edge_layer = _sub(svg, "g", {"class": "edges"})
    for kind in ("relay", "lateral", "beacon"):
        for e in edges:
            if e.kind != kind:
                continue
            d, ctrl, end = _route(layout, e.src, e.dst)
            g = _sub(edge_layer, "g", {"class": f"edge {kind}"})
            _title(g, e.tooltip)
            _sub(g, "path", {"d": d})
            _sub(g, "polygon", {"points": _arrowhead(ctrl, end)})

    node_layer = _sub(svg, "g", {"class": "nodes"})
    for ip in sorted(layout.boxes, key=_ip_key):
        _node(node_layer, hosts[ip], layout.boxes[ip])
    for x, y, count in layout.more:
        _text_el(svg, x, y, f"+{count} more hosts", "more")

    # named pipes: one label above each relay or bridge that no-egress hosts reach through them
    label_layer = _sub(svg, "g", {"class": "labels"})
    for ip in sorted(graph.pipes, key=_ip_key):
        box = layout.boxes.get(ip)
        if box is None:
            continue
        pipes = sorted(graph.pipes[ip])
        g = _sub(label_layer, "g", {"class": "pipe"})
        _title(
            g, f"named pipe{'s' if len(pipes) > 1 else ''} into {_clean(ip)}: " + ", ".join(pipes)
        )
        chars = max(8, int((box.w + 24) / 6.4))
        _text_el(g, box.cx, box.y - 5, _short("pipe " + ", ".join(pipes), chars), "pl")

    _legend(svg, height - 14)
    return Topology(
        Markup(ET.tostring(svg, encoding="unicode")),
        notes,
        len(layout.boxes),
        len(hosts),
    )
