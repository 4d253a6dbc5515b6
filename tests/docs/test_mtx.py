"""MicroType Express: LZCOMP and CTF decoding, EOT/.pptx wiring, hostile streams.

Fixtures are compressed by the test-side encoder in mtx_encode.py (no MTX encoder is installed);
fonts are built with fontTools and are inert.
"""

from __future__ import annotations

import array
import contextlib
import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
from docs_builders import make_font, malformed_dexter
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.tables import ttProgram
from fontTools.ttLib.tables._g_l_y_f import GlyphComponent
from hypothesis import given, settings
from hypothesis import strategies as st
from mtx_encode import compressed_eot, ctf_block1, ctf_blocks, lzcomp, mtx_font, pack_mtx

from duqhunt.docscan import scan_file
from duqhunt.errors import InputError
from duqhunt.sources.office import mtx
from duqhunt.sources.office.eot import build_eot, parse_eot
from duqhunt.sources.office.limits import Budget, DocLimits
from testsupport import cpu_bounded, fuzz_examples


def _budget(**kw: int) -> Budget:
    return Budget("t.eot", DocLimits(**kw))  # type: ignore[arg-type]


def _lz(data: bytes, version: int = 3) -> bytes:
    return mtx.lzcomp_decompress(data, version, limit=1 << 26, budget=_budget(), where="t")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x",
        b"abcabcabcabcabd" * 40,  # short back-references
        random.Random(1).randbytes(1500) + random.Random(2).randbytes(600) * 2,  # distances >= 512
        bytes(range(32)) * 3 + b"\x00\x00\x00\x00\x07\x07\x07\x07",  # matches into the preload
        bytes(4000),  # long runs
    ],
)
@pytest.mark.parametrize("rle", [False, True])
def test_lzcomp_round_trip(data: bytes, rle: bool) -> None:
    assert _lz(lzcomp(data, rle=rle)) == data
    assert _lz(lzcomp(data, matches=False)) == data  # literals and DUP items only


def test_lzcomp_version_1_has_no_run_length_bit() -> None:
    data = b"version one " * 20
    assert _lz(lzcomp(data, version=1), version=1) == data


def _program(code: bytes) -> ttProgram.Program:
    p = ttProgram.Program()
    p.fromBytecode(code)
    return p


def rich_font() -> bytes:
    """Simple glyphs with every triplet size, instructions with byte/word pushes, NPUSHB and
    hop patterns, a composite glyph with instructions, cvt, hdmx."""
    fb = FontBuilder(2048, isTTF=True)
    order = [".notdef", "A", "B", "C", "D"]
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap({0x41: "A", 0x42: "B", 0x43: "C", 0x44: "D"})
    pen = TTGlyphPen(None)
    for a, b in [(0, 0), (0, 700), (5, 700), (30, 720), (700, 720), (1100, 1300)]:
        pen.lineTo((a, b)) if (a, b) != (0, 0) else pen.moveTo((a, b))
    pen.closePath()
    pen.moveTo((-3000, -200))
    pen.qCurveTo((-2990, 4000), (40, 4001))
    pen.lineTo((20000, -20000))
    pen.closePath()
    a = pen.glyph()
    a.program = _program(bytes([0xB1, 7, 9, 0xB8, 0x01, 0x2C, 0x4B, 0x1C]))  # PUSHB, PUSHW, code
    pen = TTGlyphPen(None)
    pen.moveTo((10, 10))
    pen.lineTo((60, 10))
    pen.lineTo((60, 75))
    pen.closePath()
    b = pen.glyph()
    vals = [5, 3, 5, 4, 5, 6, 5, 8, 1, 8, 2, 8, 300, 2]  # hop4, hop3, bytes and a word
    b.program = _program(
        bytes([0x40, 12, *vals[:12]])
        + bytes([0xB8])
        + struct.pack(">h", 300)
        + b"\xb0\x02"
        + bytes([0x20, 0x21])
    )
    c = TTGlyphPen(None).glyph()
    d = TTGlyphPen(None).glyph()
    d.numberOfContours = -1
    comp1, comp2 = GlyphComponent(), GlyphComponent()
    comp1.glyphName, comp1.x, comp1.y, comp1.flags = "A", 0, 0, 0x0004
    comp2.glyphName, comp2.x, comp2.y, comp2.flags = "B", 300, -400, 0x0004
    comp2.transform = [[0.5, 0], [0, 0.5]]
    d.components = [comp1, comp2]
    d.program = _program(bytes([0xB0, 1, 0x2B]))
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": a, "B": b, "C": c, "D": d})
    fb.setupHorizontalMetrics({n: (1000 + 37 * i, 0) for i, n in enumerate(order)})
    fb.setupHorizontalHeader(ascent=1800, descent=-400)
    fb.setupNameTable({"familyName": "Round Trip", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.setupMaxp()
    font = fb.font
    cvt = newTable("cvt ")
    cvt.values = array.array("h", [0, 10, -10, 300, -300, 2100, -2200, 32767, -32768, 5])
    font["cvt "] = cvt
    font["prep"] = newTable("prep")
    font["prep"].program = _program(bytes([0xB0, 0, 0x58, 0x59]))
    buf = io.BytesIO()
    font.save(buf)
    raw = bytearray(buf.getvalue())
    return _with_hdmx(bytes(raw), order)


def _with_hdmx(sfnt: bytes, order: list[str]) -> bytes:
    font = TTFont(io.BytesIO(sfnt))
    hdmx = newTable("hdmx")
    hdmx.hdmx = {}
    for ppem in (9, 12, 17):
        widths = {}
        for n in order:
            aw = font["hmtx"][n][0]
            pred = ((64 * ppem * aw + 1024) // 2048 + 32) // 64
            widths[n] = pred + (1 if n == "B" else -2 if n == "C" and ppem == 12 else 0)
        hdmx.hdmx[ppem] = widths
    font["hdmx"] = hdmx
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _same_glyphs(a: TTFont, b: TTFont) -> None:
    assert a.getGlyphOrder() == b.getGlyphOrder()
    for n in a.getGlyphOrder():
        ga, gb = a["glyf"][n], b["glyf"][n]
        assert ga.numberOfContours == gb.numberOfContours, n
        if ga.numberOfContours > 0:
            assert list(ga.coordinates) == list(gb.coordinates), n
            assert list(ga.endPtsOfContours) == list(gb.endPtsOfContours), n
            assert [f & 1 for f in ga.flags] == [f & 1 for f in gb.flags], n
        if ga.isComposite():
            assert [(c.glyphName, c.x, c.y, c.flags) for c in ga.components] == [
                (c.glyphName, c.x, c.y, c.flags) for c in gb.components
            ]
        pa = ga.program.getBytecode() if hasattr(ga, "program") else b""
        pb = gb.program.getBytecode() if hasattr(gb, "program") else b""
        assert pa == pb, n
        if ga.numberOfContours:
            box = ("xMin", "yMin", "xMax", "yMax")
            assert [getattr(ga, k) for k in box] == [getattr(gb, k) for k in box], n


@pytest.mark.parametrize("rle", [False, True])
@pytest.mark.parametrize("bbox_every", [0, 2])
def test_ctf_round_trip(rle: bool, bbox_every: int) -> None:
    src = rich_font()
    out = mtx.decode_mtx(mtx_font(src, rle=rle, bbox_every=bbox_every), "t", "t")
    a, b = TTFont(io.BytesIO(src)), TTFont(io.BytesIO(out))
    _same_glyphs(a, b)
    assert b["cvt "].values == a["cvt "].values
    assert b["hdmx"].hdmx == a["hdmx"].hdmx
    for tag in ("cmap", "name", "hmtx", "OS/2", "prep", "maxp"):
        assert a.reader[tag] == b.reader[tag], tag
    # the rebuilt font is well formed: checksums and head adjustment are recomputed
    from duqhunt.sources.office.mtx import _checksum

    assert _checksum(out) == 0xB1B0AFBA


def test_dexter_round_trip_keeps_the_malformed_program() -> None:
    src = malformed_dexter()
    out = mtx.decode_mtx(mtx_font(src), "t", "t")
    _same_glyphs(TTFont(io.BytesIO(src)), TTFont(io.BytesIO(out)))
    assert TTFont(io.BytesIO(out))["glyf"]["A"].program.getBytecode() == b"\xb3\x01"


def _checks(res) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(detector, severity, summary) of every finding: locators differ by design."""
    return {(f.detector, f.severity, f.evidence[0].summary) for f in res.findings}


def test_compressed_eot_flagged_like_uncompressed(tmp_path: Path) -> None:
    plain = tmp_path / "plain.eot"
    plain.write_bytes(build_eot(malformed_dexter(), family="Dexter Regular", xor=True))
    comp = tmp_path / "mtx.eot"
    comp.write_bytes(compressed_eot(malformed_dexter(), family="Dexter Regular", xor=True))
    rp, rc = scan_file(plain), scan_file(comp)
    assert rc.verdict.verdict == rp.verdict.verdict == "malicious"
    assert _checks(rc) == _checks(rp)
    locs = [f.evidence[0].locator for f in rc.findings if f.detector == "DQ-DOC-004"]
    assert locs and all("MTX-decoded" in x for x in locs)
    eot = parse_eot(comp.read_bytes(), str(comp), "t")
    assert eot.mtx and not eot.compressed and eot.font_data[:4] == b"\x00\x01\x00\x00"
    raw = parse_eot(comp.read_bytes(), str(comp), "t", decode=False)
    assert raw.compressed and not raw.mtx


def _pptx(fntdata: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr("ppt/presentation.xml", '<?xml version="1.0"?><p:presentation/>')
        z.writestr("ppt/fonts/font1.fntdata", fntdata)
    return buf.getvalue()


def test_pptx_fntdata_mtx_flagged_like_uncompressed(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pptx"
    plain.write_bytes(_pptx(build_eot(malformed_dexter(), family="Dexter Regular")))
    comp = tmp_path / "mtx.pptx"
    comp.write_bytes(_pptx(compressed_eot(malformed_dexter(), family="Dexter Regular")))
    rp, rc = scan_file(plain), scan_file(comp)
    assert rc.verdict.verdict == rp.verdict.verdict == "malicious"
    assert {c[0] for c in _checks(rc)} == {c[0] for c in _checks(rp)}
    assert any(
        "ppt/fonts/font1.fntdata (MTX-decoded)" in f.evidence[0].locator
        and f.detector == "DQ-DOC-004"
        for f in rc.findings
    )


def test_clean_compressed_font_is_clean(tmp_path: Path) -> None:
    p = tmp_path / "clean.eot"
    p.write_bytes(compressed_eot(make_font(), family="Plain"))
    assert scan_file(p).verdict.verdict == "clean"


def _blocks(font: bytes | None = None) -> tuple[bytes, bytes, bytes]:
    return ctf_blocks(font or make_font())


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (b"\x03" + bytes(5), "header truncated"),
        (b"\x09" + bytes(9), "version 9 not supported"),
        (b"\x03" + bytes(3) + (50).to_bytes(3, "big") + (40).to_bytes(3, "big"), "offsets"),
        (b"\x03" + bytes(3) + (10).to_bytes(3, "big") * 2 + b"\x00", "ends early"),
    ],
)
def test_malformed_container(stream: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        mtx.decode_mtx(stream, "t", "t")


def test_vdmx_is_not_supported() -> None:
    b1, b2, b3 = _blocks()
    num = struct.unpack_from(">H", b1, 4)[0]
    patched = bytearray(b1)
    for k in range(num):  # rename the OS/2 record to VDMX
        if patched[12 + 16 * k : 16 + 16 * k] == b"OS/2":
            patched[12 + 16 * k : 16 + 16 * k] = b"VDMX"
    with pytest.raises(InputError, match="VDMX table not supported"):
        mtx.decode_mtx(pack_mtx((bytes(patched), b2, b3)), "t", "t")


def test_size_limits() -> None:
    big = pack_mtx((bytes(20_000), b"", b""))
    with pytest.raises(InputError, match="exceeds the limit"):
        mtx.decode_mtx(big, "t", "t", budget=_budget(max_member_bytes=10_000))
    runs = pack_mtx((bytes(3 << 20), b"", b""), rle=True)  # run-length pass: small body, 3 MiB out
    with pytest.raises(InputError, match="run-length output exceeds"):
        mtx.decode_mtx(runs, "t", "t", budget=_budget(max_member_bytes=1 << 20))
    with pytest.raises(InputError, match="ratio"):
        mtx.decode_mtx(runs, "t", "t", budget=_budget(max_ratio=10))


def test_glyph_errors_name_the_glyph() -> None:
    b1, _b2, b3 = _blocks(malformed_dexter())
    with pytest.raises(InputError, match=r"glyph 1: .*runs out"):
        mtx.decode_mtx(pack_mtx((b1, b"", b"")), "t", "t")  # glyph code block emptied
    assert b3 == b"\xb3\x01"


_SEED = pack_mtx(_blocks(malformed_dexter()))


@settings(max_examples=fuzz_examples(150))
@given(
    cut=st.integers(min_value=0, max_value=len(_SEED)),
    flips=st.lists(
        st.tuples(st.integers(0, len(_SEED) - 1), st.integers(1, 255)), min_size=0, max_size=6
    ),
)
def test_mutated_streams_fail_soft(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(_SEED)
    for pos, x in flips:
        data[pos] ^= x
    data = data[: cut or len(data)]
    mtx._CACHE.clear()
    budget = _budget(max_member_bytes=1 << 22)
    try:
        with cpu_bounded(10.0):
            out = mtx.decode_mtx(bytes(data), "t", "t", budget=budget)
        assert isinstance(out, bytes) and len(out) <= budget.limits.max_member_bytes
    except InputError:
        pass


@settings(max_examples=fuzz_examples(60))
@given(st.binary(min_size=0, max_size=400))
def test_random_blocks_fail_soft(blob: bytes) -> None:
    data = b"\x03" + bytes(3) + (10).to_bytes(3, "big") * 2 + blob
    with contextlib.suppress(InputError):
        mtx.decode_mtx(data, "t", "t", budget=_budget(max_member_bytes=1 << 20))


def test_hdmx_widths_at_the_ends_of_their_byte_round_trip() -> None:
    """hdmx widths are one byte (OpenType hdmx: uint8 widths): 0 and 255 are both widths a font
    may hold, so MTX's surprise-coded widths decode to them, the extremes included."""
    font = TTFont(io.BytesIO(rich_font()))
    names = font.getGlyphOrder()
    rec = {n: font["hdmx"].hdmx[17][n] for n in names}
    rec[names[0]], rec[names[1]] = 255, 0
    font["hdmx"].hdmx[17] = rec
    buf = io.BytesIO()
    font.save(buf)
    src = buf.getvalue()
    out = TTFont(io.BytesIO(mtx.decode_mtx(mtx_font(src), "t", "t")))
    assert out["hdmx"].hdmx[17][names[0]] == 255 and out["hdmx"].hdmx[17][names[1]] == 0
    assert out["hdmx"].hdmx == TTFont(io.BytesIO(src))["hdmx"].hdmx


def test_a_font_without_outlines_round_trips() -> None:
    """MTX's table directory holds whatever tables the font has: without glyf and loca (a
    font whose glyphs are bitmaps or elsewhere) the other tables come back as they were, and
    no loca is made up."""
    hdr, push, code = ctf_blocks(make_font())
    n = struct.unpack_from(">H", hdr, 4)[0]
    entries = [struct.unpack_from(">4sIII", hdr, 12 + 16 * i) for i in range(n)]
    kept = {t.decode("latin-1"): hdr[o : o + ln] for t, _c, o, ln in entries}
    kept = {t: v for t, v in kept.items() if t not in ("glyf", "loca")}
    back = mtx.decode_mtx(pack_mtx((ctf_block1(kept), push, code)), "t", "t")
    font = TTFont(io.BytesIO(back))
    assert "glyf" not in font.reader.tables and "loca" not in font.reader.tables
    for tag in ("cmap", "name", "maxp"):
        assert font.reader[tag] == kept[tag], tag
