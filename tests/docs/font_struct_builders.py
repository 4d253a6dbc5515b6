"""Inert fonts with layout, CFF2 and COLR tables, built with fontTools for the structure tests.

Nothing here is executed or rendered; the corrupt variants break one structure each."""

from __future__ import annotations

import io
import struct

from fontTools.feaLib.builder import addOpenTypeFeaturesFromString
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables import otTables as ot

GLYPHS = [".notdef", "A", "B", "C"]
FEA = """
languagesystem DFLT dflt;
languagesystem latn dflt;
@marks = [C];
table GDEF { GlyphClassDef [A B], , @marks, ; } GDEF;
feature liga { sub A B by C; } liga;
feature kern { pos A B -50; } kern;
"""


def _save(font: TTFont) -> bytes:
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _square(pen: object) -> None:
    pen.moveTo((0, 0))  # type: ignore[attr-defined]
    pen.lineTo((0, 500))  # type: ignore[attr-defined]
    pen.lineTo((500, 500))  # type: ignore[attr-defined]
    pen.closePath()  # type: ignore[attr-defined]


def _common(fb: FontBuilder) -> None:
    fb.setupCharacterMap({0x41: "A", 0x42: "B", 0x43: "C"})
    fb.setupHorizontalMetrics({g: (500, 0) for g in GLYPHS})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Struct Test", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()


def _ttf() -> FontBuilder:
    """A TrueType font of three square glyphs with the common tables, ready for more."""
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(GLYPHS)
    pen = TTGlyphPen(None)
    _square(pen)
    g = pen.glyph()
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": g, "B": g, "C": g})
    _common(fb)
    fb.setupMaxp()
    return fb


def layout_font() -> bytes:
    """A TrueType font with GDEF, GSUB (ligature) and GPOS (pair kerning)."""
    fb = _ttf()
    addOpenTypeFeaturesFromString(fb.font, FEA)
    return _save(fb.font)


MARK_SET_FEA = """
languagesystem DFLT dflt;
@marks = [C];
table GDEF { GlyphClassDef [A B], , @marks, ; } GDEF;
lookup L { lookupflag UseMarkFilteringSet @marks; sub A B by C; } L;
feature liga { lookup L; } liga;
"""


def mark_set_font() -> bytes:
    """A TrueType font whose GDEF is version 1.2 with a MarkGlyphSetsDef (one mark set, used
    by a lookup's UseMarkFilteringSet flag)."""
    fb = _ttf()
    addOpenTypeFeaturesFromString(fb.font, MARK_SET_FEA)
    return _save(fb.font)


SQUARE_CS = bytes.fromhex("8b16f888f88807")  # 0 hmoveto 500 500 vlineto-style square


def _index32(items: list[bytes]) -> bytes:
    if not items:
        return b"\0\0\0\0"
    offs = [1]
    for c in items:
        offs.append(offs[-1] + len(c))
    return (
        struct.pack(">IB", len(items), 4)
        + b"".join(struct.pack(">I", o) for o in offs)
        + b"".join(items)
    )


def raw_cff2(
    *,
    top_extra: bytes = b"",
    fd_extra: bytes = b"",
    charstrings: list[bytes] | None = None,
    gsubrs: list[bytes] | None = None,
) -> bytes:
    """A CFF2 table written by hand: header, Top DICT (``top_extra`` first), empty global
    subrs, CharStrings, one Font DICT (``fd_extra`` first) with an empty Private DICT."""
    css = charstrings if charstrings is not None else [b"", SQUARE_CS, SQUARE_CS, SQUARE_CS]

    def num(v: int) -> bytes:
        return b"\x1d" + struct.pack(">i", v)

    top_len = len(top_extra) + 5 + 2 + 5 + 1
    gsubr_index = _index32(gsubrs or [])
    cs_off = 5 + top_len + len(gsubr_index)
    cs_index = _index32(css)
    fd_off = cs_off + len(cs_index)
    fd_len = len(fd_extra) + 5 + 5 + 1
    priv_off = fd_off + 4 + 1 + 2 + fd_len
    fd = fd_extra + num(0) + num(priv_off) + b"\x12"
    fd_index = struct.pack(">IBBB", 1, 1, 1, 1 + len(fd)) + fd
    top = top_extra + num(fd_off) + b"\x0c\x24" + num(cs_off) + b"\x11"
    out = struct.pack(">BBBH", 2, 0, 5, len(top)) + top + gsubr_index + cs_index + fd_index
    assert len(out) == priv_off
    return out


def replace_table(data: bytes, tag: str, raw: bytes) -> bytes:
    """The sfnt ``data`` with table ``tag`` replaced (checksums left stale: info only)."""
    from duqhunt.sources.office.fonts import build_sfnt

    num = struct.unpack_from(">H", data, 4)[0]
    tables = []
    for k in range(num):
        t, cs, off, ln = struct.unpack_from(">4sIII", data, 12 + 16 * k)
        tables.append((t, cs, raw if t.decode("latin-1") == tag else data[off : off + ln]))
    return build_sfnt(data[:4], tables)


def cff2_font() -> bytes:
    """A CFF2 (OpenType, PostScript outlines) font."""
    fb = FontBuilder(1000, isTTF=False)
    fb.setupGlyphOrder(GLYPHS)
    cs = {}
    for name in GLYPHS:
        pen = T2CharStringPen(None, None, CFF2=True)
        if name != ".notdef":
            _square(pen)
        cs[name] = pen.getCharString()
    fb.setupCFF2(cs)
    _common(fb)
    fb.setupMaxp()
    return _save(fb.font)


def colr_font_with(paints: dict[str, dict[str, object]]) -> bytes:
    """A TrueType font with a COLRv1 table of these base glyph paints (fontTools' paint
    dictionaries) and a one-colour palette."""
    fb = _ttf()
    fb.setupCPAL([[(1.0, 0.0, 0.0, 1.0)]])
    fb.setupCOLR(paints, version=1)
    return _save(fb.font)


def colr_font(*, cycle: bool = False) -> bytes:
    """A TrueType font with a COLRv1 table: A paints two layers; with ``cycle`` the second
    layer is PaintColrGlyph(A), so A's paint graph reaches itself again."""
    fb = _ttf()
    solid = {"Format": ot.PaintFormat.PaintSolid, "PaletteIndex": 0, "Alpha": 1.0}
    second = (
        {"Format": ot.PaintFormat.PaintColrGlyph, "Glyph": "A"}
        if cycle
        else {"Format": ot.PaintFormat.PaintGlyph, "Paint": solid, "Glyph": "C"}
    )
    fb.setupCPAL([[(1.0, 0.0, 0.0, 1.0)]])
    fb.setupCOLR(
        {
            "A": {
                "Format": ot.PaintFormat.PaintColrLayers,
                "Layers": [
                    {"Format": ot.PaintFormat.PaintGlyph, "Paint": solid, "Glyph": "B"},
                    second,
                ],
            }
        },
        version=1,
    )
    return _save(fb.font)


def woff(data: bytes, flavor: str = "woff") -> bytes:
    font = TTFont(io.BytesIO(data))
    font.flavor = flavor
    return _save(font)


def table_span(data: bytes, tag: str) -> tuple[int, int]:
    """(offset, length) of a table in an sfnt."""
    num = struct.unpack_from(">H", data, 4)[0]
    for k in range(num):
        t, _cs, off, ln = struct.unpack_from(">4sIII", data, 12 + 16 * k)
        if t.decode("latin-1") == tag:
            return off, ln
    raise KeyError(tag)


def patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]
