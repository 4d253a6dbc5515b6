"""COLR (colour glyphs, versions 0 and 1), walked as structure.

Version 0: base glyph and layer record arrays inside the table, layer ranges inside the layer
records, glyph ids below maxp.numGlyphs. Version 1: BaseGlyphList, LayerList and ClipList
offsets, and the paint graph: every paint's format and size, its child offsets, colour lines,
PaintColrLayers ranges, PaintColrGlyph targets; a paint that reaches itself again (a cycle a
renderer would loop on or recurse into without end) and graphs nested deeper than 256 paints.
Each paint is walked once (memoised by offset); work is counted (``Steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from duqhunt.sources.office.limits import Budget
from duqhunt.sources.office.otbase import (
    IssueSeverity,
    Short,
    Steps,
    StructIssue,
    need,
    u8,
    u16,
    u24,
    u32,
)

MAX_ISSUES = 32
MAX_DEPTH = 256
# format -> (size in bytes, positions of Offset24 child paints, position of an Offset24 colour
# line or -1, colour stop size)
_GRAD = {4: 16, 5: 20, 6: 16, 7: 20, 8: 12, 9: 16}
_TRANSFORM_SIZES = {
    14: 8, 15: 12, 16: 8, 17: 12, 18: 12, 19: 16, 20: 6, 21: 10, 22: 10, 23: 14,
    24: 6, 25: 10, 26: 10, 27: 14, 28: 8, 29: 12, 30: 12, 31: 16,
}  # fmt: skip


@dataclass(slots=True)
class _Colr:
    raw: bytes
    num_glyphs: int
    steps: Steps
    issues: list[StructIssue] = field(default_factory=list)
    layers: list[int] = field(default_factory=list)  # absolute paint offsets of LayerList
    base: dict[int, int] = field(default_factory=dict)  # glyph -> absolute paint offset
    done: set[int] = field(default_factory=set)
    path: set[int] = field(default_factory=set)

    def bad(self, off: int, msg: str, check: str, sev: IssueSeverity = "medium") -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(StructIssue("COLR", off, msg, check, sev))


def check_colr(raw: bytes, num_glyphs: int, budget: Budget, where: str) -> list[StructIssue]:
    c = _Colr(raw, num_glyphs, Steps(budget, f"{where}, table COLR", len(raw)))
    try:
        _walk(c)
    except Short as exc:
        c.bad(exc.offset, f"COLR: {exc}", "short")
    return c.issues


def _walk(c: _Colr) -> None:
    raw = c.raw
    version, nbase, base_off, layer_off, nlayers = (
        u16(raw, 0),
        u16(raw, 2),
        u32(raw, 4),
        u32(raw, 8),
        u16(raw, 12),
    )
    if version > 1:
        c.bad(0, f"COLR version {version} unknown", "version", "low")
        return
    if nbase and base_off + 6 * nbase > len(raw):
        c.bad(4, f"COLR {nbase} base glyph records at 0x{base_off:x} run past the table", "v0")
        nbase = 0
    if nlayers and layer_off + 4 * nlayers > len(raw):
        c.bad(8, f"COLR {nlayers} layer records at 0x{layer_off:x} run past the table", "v0")
        nlayers = 0
    c.steps.tick(nbase + nlayers)
    for i in range(nbase):
        p = base_off + 6 * i
        gid, first, n = u16(raw, p), u16(raw, p + 2), u16(raw, p + 4)
        if first + n > nlayers:
            c.bad(
                p,
                f"COLR base glyph {gid} layers {first}+{n} beyond the {nlayers} layer records",
                "v0-layers",
            )
            break
    for i in range(nlayers):
        gid = u16(raw, layer_off + 4 * i)
        if gid >= c.num_glyphs:
            c.bad(
                layer_off + 4 * i,
                f"COLR layer record {i} glyph {gid} >= numGlyphs {c.num_glyphs}",
                "glyph",
                "low",
            )
            break
    if version == 0:
        return
    need(raw, 14, 20, "COLR version 1 header")
    bgl, ll, clip = u32(raw, 14), u32(raw, 18), u32(raw, 22)
    for pos, off, what in ((14, bgl, "BaseGlyphList"), (18, ll, "LayerList"), (22, clip, "ClipList"),
                           (26, u32(raw, 26), "VarIndexMap"), (30, u32(raw, 30), "ItemVariationStore")):  # fmt: skip
        if off and (off < 34 or off >= len(raw)):
            c.bad(
                pos,
                f"COLR {what} offset 0x{off:x} outside the table (34-byte header, {len(raw)} bytes)",
                "offset",
            )
            if what in ("BaseGlyphList", "LayerList"):
                return
    if ll:
        n = u32(raw, ll)
        if ll + 4 + 4 * n > len(raw):
            c.bad(ll, f"COLR LayerList of {n} paints runs past the table", "layerlist")
            return
        c.steps.tick(n)
        c.layers = [ll + u32(raw, ll + 4 + 4 * i) for i in range(n)]
    if bgl:
        n = u32(raw, bgl)
        if bgl + 4 + 6 * n > len(raw):
            c.bad(bgl, f"COLR BaseGlyphList of {n} records runs past the table", "baseglyphlist")
            return
        c.steps.tick(n)
        for i in range(n):
            p = bgl + 4 + 6 * i
            c.base[u16(raw, p)] = bgl + u32(raw, p + 2)
        for gid, paint in sorted(c.base.items()):
            if len(c.issues) >= MAX_ISSUES:
                return
            _paint(c, paint, 0, f"base glyph {gid}")


def _paint(c: _Colr, at: int, depth: int, ctx: str) -> None:
    """Check the paint at ``at``; cycles are paints already on the current path."""
    raw = c.raw
    if at in c.path:
        c.bad(
            at,
            f"COLR paint graph cycle: the paint at 0x{at:x} ({ctx}) reaches itself again",
            "cycle",
        )
        return
    if at in c.done:
        return
    if depth > MAX_DEPTH:
        c.bad(at, f"COLR paint graph nested deeper than {MAX_DEPTH} ({ctx})", "depth")
        return
    if at >= len(raw):
        c.bad(at, f"COLR paint offset 0x{at:x} ({ctx}) outside the table", "paint-oob")
        return
    c.steps.tick()
    c.path.add(at)
    try:
        fmt = u8(raw, at)
        children: list[tuple[int, str]] = []
        if fmt == 1:
            need(raw, at, 6, "PaintColrLayers")
            n, first = u8(raw, at + 1), u32(raw, at + 2)
            if first + n > len(c.layers):
                c.bad(
                    at,
                    f"COLR PaintColrLayers ({ctx}) layers {first}+{n} beyond the {len(c.layers)} in LayerList",
                    "layers",
                )
            else:
                children = [(c.layers[first + k], f"layer {first + k}") for k in range(n)]
        elif fmt in (2, 3):
            need(raw, at, 5 if fmt == 2 else 9, "PaintSolid")
        elif fmt in _GRAD:
            need(raw, at, _GRAD[fmt], f"gradient paint format {fmt}")
            _color_line(c, at, at + u24(raw, at + 1), var=fmt % 2 == 1, ctx=ctx)
        elif fmt == 10:
            need(raw, at, 6, "PaintGlyph")
            gid = u16(raw, at + 4)
            if gid >= c.num_glyphs:
                c.bad(
                    at + 4,
                    f"COLR PaintGlyph ({ctx}) glyph {gid} >= numGlyphs {c.num_glyphs}",
                    "glyph",
                )
            children = [(_child(c, at, 1), "PaintGlyph child")]
        elif fmt == 11:
            gid = u16(raw, at + 1)
            target = c.base.get(gid)
            if target is None:
                c.bad(
                    at + 1,
                    f"COLR PaintColrGlyph ({ctx}) glyph {gid} has no BaseGlyphPaintRecord",
                    "colrglyph",
                    "low",
                )
            else:
                children = [(target, f"PaintColrGlyph {gid}")]
        elif fmt in (12, 13):
            need(raw, at, 7, "PaintTransform")
            need(raw, at + u24(raw, at + 4), 24 if fmt == 12 else 28, "Affine2x3")
            children = [(_child(c, at, 1), "PaintTransform child")]
        elif fmt in _TRANSFORM_SIZES:
            need(raw, at, _TRANSFORM_SIZES[fmt], f"paint format {fmt}")
            children = [(_child(c, at, 1), f"paint format {fmt} child")]
        elif fmt == 32:
            need(raw, at, 8, "PaintComposite")
            mode = u8(raw, at + 4)
            if mode > 27:
                c.bad(
                    at + 4,
                    f"COLR PaintComposite ({ctx}) composite mode {mode} unknown",
                    "composite",
                    "low",
                )
            children = [
                (_child(c, at, 1), "composite source"),
                (_child(c, at, 5), "composite backdrop"),
            ]
        else:
            c.bad(at, f"COLR paint format {fmt} at 0x{at:x} ({ctx}) unknown", "paint-format")
        for child, what in children:
            if child < 0:
                c.bad(
                    at,
                    f"COLR paint at 0x{at:x} ({ctx}) has a NULL child offset ({what})",
                    "paint-null",
                )
                continue
            _paint(c, child, depth + 1, what)
    except Short as exc:
        c.bad(exc.offset, f"COLR paint at 0x{at:x} ({ctx}): {exc}", "paint-short")
    c.path.discard(at)
    c.done.add(at)


def _child(c: _Colr, at: int, pos: int) -> int:
    off = u24(c.raw, at + pos)
    return at + off if off else -1


def _color_line(c: _Colr, paint: int, at: int, *, var: bool, ctx: str) -> None:
    if at == paint or at >= len(c.raw):
        c.bad(paint + 1, f"COLR gradient ({ctx}) ColorLine offset outside the table", "colorline")
        return
    n = u16(c.raw, at + 1)
    stop = 10 if var else 6
    if at + 3 + stop * n > len(c.raw):
        c.bad(at, f"COLR ColorLine ({ctx}) of {n} stops runs past the table", "colorline")
