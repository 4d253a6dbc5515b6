"""Font checks written from the specifications, with fixtures that do not come from duqhunt's
own builders: fonts from fontTools' FontBuilder, EOT headers written byte by byte here.

* Embedded OpenType (W3C EOT submission, 2008): a little-endian header (EOTSize, FontDataSize,
  Version, Flags, ... MagicNumber 0x504C at offset 34, the names from offset 80); the flag
  TTEMBED_XORENCRYPTDATA = 0x10000000 means the font data is XORed with 0x50.
* TrueType instructions (Apple TrueType Reference Manual / OpenType spec): PUSHB[n] (0xB0+n)
  reads n+1 bytes, PUSHW[n] (0xB8+n) n+1 signed 16-bit words, NPUSHB (0x40) a count byte then
  that many bytes, NPUSHW (0x41) a count byte then that many words; FDEF/CALL function numbers
  must lie in [0, maxp.maxFunctionDefs), IDEFs are at most maxp.maxInstructionDefs, storage
  indices in [0, maxp.maxStorage).
"""

from __future__ import annotations

import io
import struct

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import newTable
from fontTools.ttLib.tables.ttProgram import Program

from duqhunt.detectors.doc.catalogue import Emitter
from duqhunt.detectors.doc.fontcheck import analyse_font
from duqhunt.errors import InputError
from duqhunt.sources.office.eot import parse_eot
from duqhunt.sources.office.limits import Budget, DocLimits, builtin_content, parse_content
from duqhunt.sources.office.mtx import _triplets
from duqhunt.sources.office.ttinstr import FontCodeState, scan_program

PUSHB0, PUSHW0, NPUSHB, NPUSHW = 0xB0, 0xB8, 0x40, 0x41
FDEF, ENDF, CALL, IDEF, WS, RS, POP = 0x2C, 0x2D, 0x2B, 0x89, 0x42, 0x43, 0x21


def tt_font(fpgm: bytes = b"", **maxp: int) -> bytes:
    """A one-glyph TrueType font from fontTools' FontBuilder, with ``fpgm`` as its font program
    and the given maxp fields."""
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef"])
    fb.setupCharacterMap({})
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph()})
    fb.setupHorizontalMetrics({".notdef": (500, 0)})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Spec Test", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    if fpgm:
        table = newTable("fpgm")
        table.program = Program()
        table.program.fromBytecode(fpgm)
        fb.font["fpgm"] = table
    for k, v in {"maxStackElements": 64, **maxp}.items():
        setattr(fb.font["maxp"], k, v)
    buf = io.BytesIO()
    fb.font.save(buf)
    return buf.getvalue()


def _findings(data: bytes) -> list[tuple[str, str, str, str]]:
    em = Emitter("spec")
    analyse_font(data, em, "spec", builtin_content(), Budget("spec", DocLimits()))
    return [
        (f.detector, f.severity, f.evidence[0].locator, f.evidence[0].summary) for f in em.findings
    ]


# --- EOT: the XOR flag and key ------------------------------------------------------------


def eot_from_spec(font: bytes, flags: int, *, xor_key: int | None) -> bytes:
    """An EOT version 0x00020001 header written field by field from the W3C submission."""
    body = bytes(b ^ xor_key for b in font) if xor_key is not None else font

    def name(text: str) -> bytes:  # Padding (u16 0), NameSize (u16), UTF-16LE name
        raw = text.encode("utf-16-le")
        return struct.pack("<HH", 0, len(raw)) + raw

    fixed = struct.pack(
        "<10sBBIH", bytes(10), 1, 0, 400, 0
    )  # PANOSE, Charset, Italic, Weight, fsType
    fixed += struct.pack("<H", 0x504C)  # MagicNumber
    fixed += struct.pack("<4I2II4I", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # ranges, checksum, reserved
    names = name("Spec Test") + name("Regular") + name("Version 1.0") + name("Spec Test")
    names += struct.pack("<HH", 0, 0)  # Padding5, RootStringSize 0
    size = 16 + len(fixed) + len(names) + len(body)
    head = struct.pack("<IIII", size, len(body), 0x00020001, flags)
    assert len(head + fixed) == 80  # FamilyName's padding starts at offset 80
    return head + fixed + names + body


UNDEFINED_OPCODE_FONT = tt_font(bytes([0x28]))  # 0x28 is no TrueType instruction


def test_eot_xor_flag_undoes_the_0x50_key() -> None:
    eot = eot_from_spec(UNDEFINED_OPCODE_FONT, 0x10000000, xor_key=0x50)
    got = parse_eot(eot, "spec.eot", "spec")
    assert got.xored and got.font_data == UNDEFINED_OPCODE_FONT
    found = _findings(eot)
    assert [
        (d, s)
        for d, s, loc, text in found
        if "undefined opcode 0x28" in text and "XOR 0x50 undone" in loc
    ] == [("DQ-DOC-004", "medium")], found


def test_eot_without_the_flag_is_not_unxored() -> None:
    plain = eot_from_spec(UNDEFINED_OPCODE_FONT, 0, xor_key=None)
    got = parse_eot(plain, "spec.eot", "spec")
    assert not got.xored and got.font_data == UNDEFINED_OPCODE_FONT
    # another bit (TTEMBED_SUBSET 0x1, a neighbour of the XOR bit) does not mean XOR either
    for flags in (0x1, 0x01000000, 0x20000000):
        xored = eot_from_spec(UNDEFINED_OPCODE_FONT, flags, xor_key=0x50)
        got = parse_eot(xored, "spec.eot", "spec")
        assert not got.xored and got.font_data != UNDEFINED_OPCODE_FONT, hex(flags)


# --- PUSHB / PUSHW / NPUSHB / NPUSHW widths ------------------------------------------------


def _kinds(code: bytes, where: str = "fpgm", **limits: int) -> list[str]:
    return [i.kind for i in scan_program(code, where, FontCodeState(**limits))]  # type: ignore[arg-type]


@pytest.mark.parametrize("n", range(8))
def test_push_widths(n: int) -> None:
    """PUSHB[n] takes n+1 bytes, PUSHW[n] n+1 words: exactly that many pass, one byte short
    runs past the program. The pushed bytes are FDEF and ENDF values: read as opcodes (a wrong
    width) they would be definitions out of place."""
    assert _kinds(bytes([PUSHB0 + n]) + bytes([FDEF]) * (n + 1), "glyph") == []
    assert _kinds(bytes([PUSHB0 + n]) + bytes([FDEF]) * n, "glyph") == ["push-overrun"]
    words = bytes([FDEF, ENDF]) * (n + 1)
    assert _kinds(bytes([PUSHW0 + n]) + words, "glyph") == []
    assert _kinds(bytes([PUSHW0 + n]) + words[:-1], "glyph") == ["push-overrun"]


@pytest.mark.parametrize("count", [0, 1, 17, 255])
def test_npush_widths(count: int) -> None:
    assert _kinds(bytes([NPUSHB, count]) + bytes([ENDF]) * count, "glyph") == []
    assert _kinds(bytes([NPUSHW, count]) + bytes([ENDF]) * (2 * count), "glyph") == []
    if count:
        assert _kinds(bytes([NPUSHW, count]) + bytes([ENDF]) * count, "glyph") == ["push-overrun"]
    assert _kinds(bytes([NPUSHB])) == ["push-overrun"]  # no count byte


def test_pushed_values_count_on_the_stack() -> None:
    """8 words by PUSHW[7], then 20 bytes by NPUSHB: 28 values over a maxp stack of 0."""
    code = bytes([PUSHW0 + 7]) + bytes(16) + bytes([NPUSHB, 20]) + bytes(20)
    (issue,) = scan_program(code, "prep", FontCodeState(max_stack=0))
    assert issue.kind == "stack-limit" and "pushes 28 values" in issue.message


def test_pushw_is_signed_and_pushb_unsigned() -> None:
    """PUSHW sign-extends: 0xFFFF is -1, a negative function number; PUSHB 0xFF is 255."""
    (issue,) = scan_program(
        bytes([PUSHW0, 0xFF, 0xFF, FDEF, ENDF]), "fpgm", FontCodeState(max_function_defs=256)
    )
    assert issue.kind == "function-limit" and "negative function number -1" in issue.message
    assert _kinds(bytes([PUSHB0, 0xFF, FDEF, ENDF]), max_function_defs=256) == []


# --- FDEF / CALL / IDEF / storage limits at the boundary ------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 64])
def test_fdef_and_call_numbers_at_the_limit(limit: int) -> None:
    def fdef_call(fn: int) -> bytes:
        return bytes([PUSHB0, fn, FDEF, ENDF, PUSHB0, fn, CALL])

    assert _kinds(fdef_call(limit - 1), max_function_defs=limit) == []
    assert _kinds(fdef_call(limit), max_function_defs=limit) == ["function-limit"] * 2


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_idef_count_at_the_limit(limit: int) -> None:
    undefined = [0x28, 0x7B, 0x83, 0x84, 0x8F, 0x90][: limit + 1]  # no instruction has these

    def idefs(k: int) -> bytes:
        return b"".join(bytes([PUSHB0, op, IDEF, ENDF]) for op in undefined[:k])

    assert _kinds(idefs(limit), max_instruction_defs=limit) == []
    assert _kinds(idefs(limit + 1), max_instruction_defs=limit) == ["idef-limit"]


@pytest.mark.parametrize("limit", [1, 8, 200])
@pytest.mark.parametrize("op", [WS, RS])
def test_storage_index_at_the_limit(limit: int, op: int) -> None:
    def access(idx: int) -> bytes:
        if op == WS:  # WS pops the value, then the index: push the index first
            return bytes([PUSHB0 + 1, idx, 7, WS])
        return bytes([PUSHB0, idx, RS, POP])

    assert _kinds(access(limit - 1), max_storage=limit) == []
    assert _kinds(access(limit), max_storage=limit) == ["storage-limit"]


@pytest.mark.parametrize("limit", [1, 3, 12])
def test_maxp_function_limit_read_from_the_font(limit: int) -> None:
    """Through the whole font analysis: maxp.maxFunctionDefs read from a fontTools font (the
    maxp field order is the spec's, not the parser's), FDEF limit-1 clean, FDEF limit flagged."""
    ok = tt_font(bytes([PUSHB0, limit - 1, FDEF, ENDF]), maxFunctionDefs=limit)
    assert [f for f in _findings(ok) if f[0] == "DQ-DOC-004"] == []
    over = tt_font(bytes([PUSHB0, limit, FDEF, ENDF]), maxFunctionDefs=limit)
    assert [(d, s, text) for d, s, _, text in _findings(over) if d == "DQ-DOC-004"] == [
        (
            "DQ-DOC-004",
            "medium",
            f"FDEF {limit} at 0x2 is beyond maxp.maxFunctionDefs={limit}",
        )
    ]


def test_eot_name_past_the_end_says_where_in_the_document() -> None:
    """An EOT FamilyName whose NameSize runs past the data is refused, and the error names
    the place in the document (the part the font came from) and the offset of the name."""
    full = eot_from_spec(UNDEFINED_OPCODE_FONT, 0, xor_key=None)
    cut = bytearray(full[:84])  # header to FamilyName's size field, then nothing
    struct.pack_into("<I", cut, 0, len(cut))  # EOTSize
    struct.pack_into("<I", cut, 4, 1)  # FontDataSize (not 0, not above EOTSize)
    struct.pack_into("<H", cut, 82, 200)  # FamilyNameSize: 200 bytes, none there
    with pytest.raises(InputError) as err:
        parse_eot(bytes(cut), "a.docx", "word/fonts/font1.odttf")
    assert err.value.path == "a.docx" and err.value.offset == 84
    assert (
        err.value.reason == "word/fonts/font1.odttf: EOT FamilyName of 200 bytes runs past the end"
    )


# --- Type 1 fonts and the shellcode traits of the built-in content ------------------------


def _type1(body: bytes) -> bytes:
    """A PFA (Type 1 font program in text form, Adobe Type 1 Font Format chapter 2)."""
    head = b"%!PS-AdobeFont-1.0: SpecTest 001\n/FontName /SpecTest def\n/FontType 1 def\n"
    return head + body + b"\ncurrentfile closefile\n"


def test_type1_multiple_master_marker_is_flagged() -> None:
    """A Type 1 Multiple Master font (BlendDesignPositions, Adobe Technical Note 5015) is
    flagged medium: the legacy font-driver attack surface; a plain Type 1 font is not."""

    def mm(found: list[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
        return [(s, text) for _d, s, _loc, text in found if "Multiple Master" in text]

    assert mm(_findings(_type1(b"/Notice (plain) readonly def"))) == []
    assert mm(_findings(_type1(b"/BlendDesignPositions [[0] [1]] def"))) == [
        (
            "medium",
            "Type 1 Multiple Master marker '/BlendDesignPositions' (legacy font-driver attack"
            " surface)",
        )
    ]


def test_an_api_hash_in_font_data_is_a_shellcode_trait() -> None:
    """The ror13 hash of kernel32!LoadLibraryA (0xEC0E4E8E, Metasploit's block_api), as the
    4 little-endian bytes shellcode pushes, is one shellcode trait (medium)."""
    found = _findings(_type1(b"(" + bytes.fromhex("8e4e0eec") + b") pop"))
    sc = [(s, text) for _d, s, _loc, text in found if "shellcode trait" in text]
    assert len(sc) == 1 and sc[0][0] == "medium"
    assert sc[0][1].startswith("1 shellcode trait(s): LoadLibraryA (ror13) at 0x")


def test_content_without_nop_bytes_looks_for_the_x86_nop() -> None:
    """A content file whose nop_run gives no bytes looks for runs of 0x90 (x86 NOP)."""
    from importlib import resources

    import yaml

    ref = resources.files("duqhunt.content").joinpath("doc", "traits.yaml")
    data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    del data["shellcode"]["nop_run"]["bytes"]
    assert parse_content(data, "t").nop_bytes == (0x90,)


# --- MTX: the triplet encoding table --------------------------------------------------------


def test_mtx_triplet_table_starts_as_the_spec() -> None:
    """MicroType Express 5.11 (the same table WOFF2 took over, W3C WOFF2 5.2's triplet table):
    flags 0-9 are one byte of y
    (dy 0, 256, 512, 768, 1024), flags 10-19 one byte of x; even flags negative, odd positive.
    Each row: (bytes, xbits, ybits, dx, dy, xsign, ysign)."""
    rows = _triplets()
    assert len(rows) == 128
    y = [(1, 0, 8, 0, 256 * (f // 2), 0, 1 if f % 2 else -1) for f in range(10)]
    assert rows[:10] == y
    assert rows[2] == (1, 0, 8, 0, 256, 0, -1) and rows[3] == (1, 0, 8, 0, 256, 0, 1)
    assert rows[10:20] == [(b, y_, x_, dy, dx, ys, xs) for b, x_, y_, dx, dy, xs, ys in y]
    # flags 20-83: four bits each way, dx 1, 17, 33, 49 in blocks of 16 flags, dy the same in
    # blocks of 4 within them, the four sign pairs in turn
    assert rows[20] == (1, 4, 4, 1, 1, -1, -1) and rows[23] == (1, 4, 4, 1, 1, 1, 1)
    assert rows[24] == (1, 4, 4, 1, 17, -1, -1) and rows[36] == (1, 4, 4, 17, 1, -1, -1)
    assert rows[83] == (1, 4, 4, 49, 49, 1, 1)
    assert rows[84] == (2, 8, 8, 1, 1, -1, -1) and rows[127] == (4, 16, 16, 0, 0, 1, 1)


def test_eot_whose_font_data_is_not_a_font_is_scanned_as_bytes() -> None:
    """EOT FontData that is no sfnt is flagged (medium), and its bytes are still scanned for
    shellcode traits: here a run of 64 x86 NOPs (0x90)."""
    eot = eot_from_spec(b"\x90" * 80 + bytes(16), 0, xor_key=None)
    found = _findings(eot)
    assert ("medium", "EOT font data is not an sfnt font") in [(s, t) for _d, s, _l, t in found]
    nops = [loc for _d, _s, loc, text in found if "run of 0x90 bytes" in text]
    assert nops == ["spec (EOT font data), EOT data, offset 0x0"], found


# --- glyf: maxp limits and composite glyph instructions ------------------------------------


def _two_glyph_font(glyph: object) -> bytes:
    """.notdef, A (two squares: two contours) and B (given), maxp as fontTools computes it."""
    pen = TTGlyphPen(None)
    for x in (0, 300):
        pen.moveTo((x, 0))
        pen.lineTo((x, 200))
        pen.lineTo((x + 200, 200))
        pen.lineTo((x + 200, 0))
        pen.closePath()
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "A", "B"])
    fb.setupCharacterMap({65: "A", 66: "B"})
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": pen.glyph(), "B": glyph})
    fb.setupHorizontalMetrics({g: (500, 0) for g in (".notdef", "A", "B")})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Spec Test", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    buf = io.BytesIO()
    fb.font.save(buf)
    return buf.getvalue()


def _table(data: bytes, tag: bytes) -> int:
    n = struct.unpack_from(">H", data, 4)[0]
    for k in range(n):
        t, _cs, off, _ln = struct.unpack_from(">4sIII", data, 12 + 16 * k)
        if t == tag:
            return int(off)
    raise KeyError(tag)


def test_glyph_over_maxp_max_contours_is_named_by_its_index() -> None:
    """maxp.maxContours (offset 8 of maxp 1.0) below a glyph's numberOfContours: the finding
    names that glyph (A, index 1, two contours)."""
    data = bytearray(_two_glyph_font(TTGlyphPen(None).glyph()))
    struct.pack_into(">H", data, _table(bytes(data), b"maxp") + 8, 1)
    found = [(loc, text) for _d, _s, loc, text in _findings(bytes(data)) if "contours" in text]
    assert found == [("spec, table glyf, glyph 1", "glyph 1 has 2 contours, maxp.maxContours is 1")]


def test_composite_glyph_instructions_past_the_glyph_are_flagged() -> None:
    """A composite glyph with WE_HAVE_INSTRUCTIONS (0x100) ends with instructionLength and
    the instructions; a length past the glyph's end is flagged and names the glyph (B, 2)."""
    pen = TTGlyphPen({"A": None})  # the glyph set only needs to know A
    pen.addComponent("A", (1, 0, 0, 1, 0, 0))
    composite = pen.glyph()
    composite.program = Program()
    composite.program.fromBytecode(bytes([PUSHB0, 1, POP]))
    data = bytearray(_two_glyph_font(composite))
    at = bytes(data).index(bytes([0, 3, PUSHB0, 1, POP]))
    struct.pack_into(">H", data, at, 0x7FFF)
    found = [text for _d, _s, _loc, text in _findings(bytes(data)) if "instructionLength" in text]
    assert found == ["composite glyph 2 instructionLength 32767 runs past the glyph"]


def _rename_table(data: bytes, tag: bytes, new: bytes) -> bytes:
    """The font with one table directory entry's tag replaced (the table is then unknown)."""
    out = bytearray(data)
    n = struct.unpack_from(">H", data, 4)[0]
    for k in range(n):
        if data[12 + 16 * k : 16 + 16 * k] == tag:
            out[12 + 16 * k : 16 + 16 * k] = new
            return bytes(out)
    raise KeyError(tag)


def test_without_head_the_glyphs_are_not_read_by_a_guessed_loca_format() -> None:
    """head.indexToLocFormat says whether loca holds 16- or 32-bit offsets: a font without a
    head table gives no format, and its glyphs are not read through a guessed one."""
    data = _two_glyph_font(TTGlyphPen(None).glyph())
    assert not [f for f in _findings(data) if "loca" in f[3] or "glyph" in f[3]]
    found = _findings(_rename_table(data, b"head", b"hea0"))
    assert not [f for f in found if "loca" in f[3] or "glyph " in f[3]], found


def test_without_hhea_the_font_is_still_analysed() -> None:
    """A font without an hhea table: the horizontal metrics checks have nothing to read and the
    rest of the analysis goes on (the glyph program is still checked)."""
    data = tt_font(bytes([0x28]))  # an undefined opcode in fpgm
    found = _findings(_rename_table(data, b"hhea", b"hhe0"))
    assert any("undefined opcode 0x28" in text for _d, _s, _l, text in found), found


def test_a_few_bytes_after_the_last_table_are_padding_not_trailing_data() -> None:
    """Tables are padded to 4-byte boundaries: up to gap_tolerance (3) bytes after the last
    table are padding, more are trailing data (flagged with their offset)."""
    data = tt_font()

    def trailing(extra: bytes) -> list[str]:
        return [t for _d, _s, _l, t in _findings(data + extra) if "trailing data" in t]

    assert trailing(b"\x01\x02\x03") == []
    assert trailing(b"\x01\x02\x03\x04\x05\x06\x07\x08") != []


# --- font collections ---------------------------------------------------------------------


def test_each_font_of_a_collection_is_analysed_at_its_own_offset() -> None:
    """A TrueType collection (OpenType spec, "Font Collections": a TTC header, then each font's
    table directory at its offset): every font is read from its own directory, so a bad font
    program in the second font is found and located as font 1, and the first font, sound,
    gives none."""
    from fontTools.ttLib import TTCollection, TTFont

    sound = TTFont(io.BytesIO(tt_font()))
    bad = TTFont(io.BytesIO(tt_font(bytes([PUSHB0, 9, FDEF, ENDF]), maxFunctionDefs=4)))
    ttc = TTCollection()
    ttc.fonts = [sound, bad]
    buf = io.BytesIO()
    ttc.save(buf)
    got = _findings(buf.getvalue())
    assert got, "the second font's FDEF 9 over maxFunctionDefs 4 is not found"
    assert all("font 1" in loc for _, _, loc, _ in got), got


# --- WOFF2 (W3C WOFF2: header, table directory, 255UInt16, UIntBase128) ---------------------


def _woff2(font: bytes) -> bytes:
    from fontTools.ttLib import TTFont

    f = TTFont(io.BytesIO(font))
    f.flavor = "woff2"
    buf = io.BytesIO()
    f.save(buf)
    return buf.getvalue()


def test_a_woff2_font_decodes_to_its_tables() -> None:
    """The table directory's UIntBase128 lengths (5.2) say how many bytes the brotli stream
    inflates to; a font fontTools compressed decodes back to the same tables."""
    from fontTools.ttLib import TTFont

    from duqhunt.sources.office.fonts import woff2_to_sfnt

    font = tt_font(bytes([PUSHB0, 1, FDEF, ENDF]), maxFunctionDefs=4)
    sfnt = woff2_to_sfnt(_woff2(font), Budget("spec", DocLimits()), "spec")
    back, orig = TTFont(io.BytesIO(sfnt)), TTFont(io.BytesIO(font))
    # the directory as fontTools reads it: each table's stored length (transformed glyf and
    # loca: transformLength) adds up to what the stream inflates to
    from fontTools.ttLib.woff2 import WOFF2Reader

    from duqhunt.sources.office.fonts import woff2_stream

    data = _woff2(font)
    reader = WOFF2Reader(io.BytesIO(data))
    start, length, want = woff2_stream(data)
    assert want == sum(e.length for e in reader.tables.values())
    assert start + length <= len(data) and length == reader.totalCompressedSize
    assert sorted(back.keys()) == sorted(orig.keys())
    assert back["fpgm"].program.getBytecode() == bytes([PUSHB0, 1, FDEF, ENDF])
    assert back.getGlyphOrder() == orig.getGlyphOrder()


def test_a_woff2_header_with_its_reserved_field_set_is_reported() -> None:
    """WOFF2 5.1: the header's reserved field (offset 14) must be 0."""
    from duqhunt.sources.office.fonts import woff2_layout

    data = bytearray(_woff2(tt_font()))
    assert woff2_layout(bytes(data)) == []
    struct.pack_into(">H", data, 14, 7)
    (issue,) = woff2_layout(bytes(data))
    assert (issue.check, issue.offset) == ("reserved", 14) and "is 7" in issue.message


def test_255uint16_forms() -> None:
    """W3C WOFF2 4.1, 255UInt16: a byte below 253 is the value; 253 then two bytes big-endian;
    255 then one byte plus 253; 254 then one byte plus 506."""
    from duqhunt.sources.office.fonts import _uint255

    assert _uint255(bytes([9, 252, 9]), 1) == (252, 2)
    assert _uint255(bytes([9, 253, 0x01, 0x02, 9]), 1) == (258, 4)
    assert _uint255(bytes([9, 255, 7, 9]), 1) == (260, 3)
    assert _uint255(bytes([9, 254, 7, 9]), 1) == (513, 3)


def test_without_woff2_support_the_font_is_not_decoded_and_the_error_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fontTools decodes WOFF2 with brotli; when that module cannot be imported the font is an
    input error naming the file and the missing dependency, not a crash."""
    import sys

    import fontTools.ttLib

    from duqhunt.sources.office.fonts import woff2_to_sfnt

    data = _woff2(tt_font())
    monkeypatch.setitem(sys.modules, "fontTools.ttLib.woff2", None)
    monkeypatch.delattr(fontTools.ttLib, "woff2", raising=False)
    with pytest.raises(InputError) as err:
        woff2_to_sfnt(data, Budget("doc.docx", DocLimits()), "word/fonts/font1.odttf")
    text = str(err.value)
    assert "doc.docx" in text and "font1.odttf" in text and "brotli" in text


# --- CFF (Type 2 charstrings, Adobe TN 5177) ------------------------------------------------


def _otf(glyph_program: list[object] | None = None, subrs: list[list[object]] = ()) -> bytes:
    """A CFF-flavoured OpenType font from fontTools' FontBuilder: one triangle glyph "A",
    drawn by the pen or by ``glyph_program`` (a Type 2 program), with local ``subrs``."""
    from fontTools.cffLib import SubrsIndex
    from fontTools.misc.psCharStrings import T2CharString
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    fb = FontBuilder(1000, isTTF=False)
    fb.setupGlyphOrder([".notdef", "A"])
    fb.setupCharacterMap({65: "A"})
    pen = T2CharStringPen(500, None)
    pen.moveTo((100, 0))
    pen.lineTo((400, 0))
    pen.lineTo((250, 700))
    pen.closePath()
    empty = T2CharStringPen(500, None).getCharString()
    fb.setupCFF("Spec", {"FullName": "Spec"}, {".notdef": empty, "A": pen.getCharString()}, {})
    fb.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 100)})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Spec", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    top = fb.font["CFF "].cff.topDictIndex[0]
    if subrs:
        index = SubrsIndex()
        for prog in subrs:
            s = T2CharString(program=prog)
            s.private = top.Private
            index.append(s)
        top.Private.Subrs = index
    if glyph_program is not None:
        top.CharStrings["A"].program = glyph_program
    buf = io.BytesIO()
    fb.font.save(buf)
    return buf.getvalue()


def test_a_sound_cff_font_with_a_local_subroutine_has_no_finding() -> None:
    """callsubr (10) runs local subroutine n + bias (107 for fewer than 1240 subroutines);
    return (11) goes back to the caller, which carries on to its endchar (14). Nothing in
    such a glyph is a finding."""
    assert _findings(_otf()) == []
    glyph = [500, 100, 0, "rmoveto", -107, "callsubr", -150, 700, "rlineto", "endchar"]
    assert _findings(_otf(glyph, [[300, 0, "rlineto", "return"]])) == []
