"""Structure checks of layout (GDEF/GSUB/GPOS), CFF2, COLR and WOFF containers: each corrupt
font breaks one structure and must be flagged (medium or above, with table and offset); the
clean fonts must not be. Fonts are inert and built with fontTools in code."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from font_struct_builders import (
    SQUARE_CS,
    cff2_font,
    colr_font,
    colr_font_with,
    layout_font,
    mark_set_font,
    patch,
    raw_cff2,
    replace_table,
    table_span,
    woff,
)
from fontTools.ttLib.tables import otTables as ot

from duqhunt.docscan import scan_file
from duqhunt.sources.office.cff import check_cff
from duqhunt.sources.office.limits import Budget, DocLimits, builtin_content
from duqhunt.sources.office.otbase import Steps
from duqhunt.sources.office.otlayout import GdefInfo, _Walk, check_layout

ABOVE_INFO = ("low", "medium", "high")


def _findings(tmp_path: Path, name: str, data: bytes) -> list[tuple[str, str, str, str]]:
    p = tmp_path / name
    p.write_bytes(data)
    res = scan_file(p)
    return [
        (f.detector, f.severity, f.evidence[0].locator, f.evidence[0].summary) for f in res.findings
    ]


def _flagged(found: list[tuple[str, str, str, str]], det: str, where: str, text: str) -> bool:
    return any(
        d == det and s in ("medium", "high") and where in loc and text in summary
        for d, s, loc, summary in found
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("layout.ttf", layout_font()),
        ("cff2.otf", cff2_font()),
        ("cff2-raw.otf", replace_table(cff2_font(), "CFF2", raw_cff2())),
        ("colr.ttf", colr_font()),
        ("layout.woff", woff(layout_font())),
        ("layout.woff2", woff(layout_font(), "woff2")),
    ],
)
def test_clean_structured_fonts_are_clean(tmp_path: Path, name: str, data: bytes) -> None:
    found = _findings(tmp_path, name, data)
    assert not [f for f in found if f[1] in ABOVE_INFO], found


def test_gdef_offset_into_header(tmp_path: Path) -> None:
    data = layout_font()
    off, _ln = table_span(data, "GDEF")
    bad = patch(data, off + 4, struct.pack(">H", 4))  # GlyphClassDef inside the 12-byte header
    found = _findings(tmp_path, "gdef.ttf", bad)
    assert _flagged(
        found, "DQ-DOC-003", "table GDEF, offset 0x4", "points inside the 12-byte header"
    )


def test_gdef_var_store_past_table(tmp_path: Path) -> None:
    data = layout_font()
    # version 1.3 with an ItemVariationStore offset past the table
    raw = struct.pack(">HHHHHHHI", 1, 3, 0, 0, 0, 0, 0, 0x2001A)
    bad = replace_table(data, "GDEF", raw)
    found = _findings(tmp_path, "gdef13.ttf", bad)
    assert _flagged(found, "DQ-DOC-003", "table GDEF, offset 0xe", "ItemVariationStore offset")


def _script_table(data: bytes, tag: str, script: bytes) -> int:
    off, _ln = table_span(data, "GSUB")
    sl = off + struct.unpack_from(">H", data, off + 4)[0]
    for k in range(struct.unpack_from(">H", data, sl)[0]):
        if data[sl + 2 + 6 * k : sl + 6 + 6 * k] == script:
            return sl + struct.unpack_from(">H", data, sl + 6 + 6 * k)[0]
    raise KeyError(script)


def test_gsub_dflt_without_default_langsys(tmp_path: Path) -> None:
    data = layout_font()
    at = _script_table(data, "GSUB", b"DFLT")
    bad = patch(data, at, b"\0\0")
    found = _findings(tmp_path, "dflt.ttf", bad)
    assert _flagged(found, "DQ-DOC-003", "table GSUB, offset", "'DFLT' has no DefaultLangSys")
    # the same fault inside a WOFF2 is found after decoding
    found = _findings(tmp_path, "dflt.woff2", woff(bad, "woff2"))
    assert _flagged(found, "DQ-DOC-003", "(WOFF2 decoded), table GSUB", "DefaultLangSys")


def test_gsub_lookup_list_offset_out_of_table(tmp_path: Path) -> None:
    data = layout_font()
    off, _ln = table_span(data, "GSUB")
    bad = patch(data, off + 8, b"\xff\xf0")
    found = _findings(tmp_path, "lookups.ttf", bad)
    assert _flagged(found, "DQ-DOC-003", "table GSUB, offset 0x8", "LookupList offset 0xfff0")


def test_gpos_feature_refers_to_missing_lookup(tmp_path: Path) -> None:
    data = layout_font()
    off, _ln = table_span(data, "GPOS")
    fl = off + struct.unpack_from(">H", data, off + 6)[0]
    feat = fl + struct.unpack_from(">H", data, fl + 6)[0]
    bad = patch(data, feat + 4, b"\x00\x63")  # lookup index 99
    found = _findings(tmp_path, "gpos.ttf", bad)
    assert _flagged(found, "DQ-DOC-003", "table GPOS", "refers to lookup 99")


def test_cff2_top_dict_operator_not_allowed(tmp_path: Path) -> None:
    bad = replace_table(cff2_font(), "CFF2", raw_cff2(top_extra=bytes([0x8B, 0x0E])))  # XUID
    found = _findings(tmp_path, "xuid.otf", bad)
    assert _flagged(found, "DQ-DOC-009", "table CFF2, offset 0x6", "not allowed in a CFF2 Top DICT")


def test_cff2_font_dict_operator_not_allowed(tmp_path: Path) -> None:
    matrix = bytes([0x8B] * 6 + [0x0C, 0x07])  # FontMatrix in a Font DICT
    bad = replace_table(cff2_font(), "CFF2", raw_cff2(fd_extra=matrix))
    found = _findings(tmp_path, "fdmatrix.otf", bad)
    assert _flagged(found, "DQ-DOC-009", "table CFF2", "not allowed in a CFF2 Font DICT")


def test_cff2_truncated_charstring_number(tmp_path: Path) -> None:
    css = [b"", SQUARE_CS, SQUARE_CS, SQUARE_CS[:-1] + b"\xfb"]
    bad = replace_table(cff2_font(), "CFF2", raw_cff2(charstrings=css))
    found = _findings(tmp_path, "cs.otf", bad)
    assert _flagged(found, "DQ-DOC-009", "table CFF2, offset 0x", "glyph 3 charstring: number")


@pytest.mark.parametrize(
    ("cs", "text"),
    [
        (b"\x8b\x8b\x0b", "reserved operator 11"),  # return is not a CFF2 operator
        (b"\x8b" * 514, "operand stack above 513"),
        (b"\x8b\x0a", "callsubr 0 at 0x"),  # no local subroutines
        (b"\x8b\x8b\x01\x13", "hintmask"),  # one stem: one mask byte, none left
        (b"\x0c\x2a", "reserved operator 12 42"),
    ],
)
def test_cff2_charstring_faults(tmp_path: Path, cs: bytes, text: str) -> None:
    bad = replace_table(cff2_font(), "CFF2", raw_cff2(charstrings=[b"", cs, SQUARE_CS, SQUARE_CS]))
    found = _findings(tmp_path, "cs.otf", bad)
    assert _flagged(found, "DQ-DOC-009", "table CFF2", text), found


@pytest.mark.parametrize(
    ("cs", "rel", "text"),
    [
        # the 514th number (mixed widths) overflows: the offset is just after it
        (b"\xf7\x00" * 300 + b"\x1c\x00\x01" * 300, 600 + 214 * 3, "above 513 at 0x{at:x}"),
        (b"\x8b\x8b\x05\xff\x00\x01", 3, "number at 0x{at:x} needs 5 bytes"),
        (b"\x8b\xf7", 1, "number at 0x{at:x} needs 2 bytes"),
        (b"\x8b\x1c\x00", 1, "number at 0x{at:x} needs 3 bytes"),
        (b"\x8b\x0c", 1, "escape operator at the end (0x{at:x})"),
        # one stem, so one mask byte (0x0b) that must be skipped, not read as an operator
        (b"\x8b\x8b\x01\x13\x0b\x8b\x8b\x05\x0b", 8, "reserved operator 11 at 0x{at:x}"),
    ],
)
def test_cff2_charstring_fault_offsets(cs: bytes, rel: int, text: str) -> None:
    """Exact offsets of charstring faults (numbers are tokenised in runs, not byte by byte)."""
    marker = b"\x8b\x8b\x8b\x8b\x15" * 3
    raw = raw_cff2(charstrings=[b"", marker + cs, SQUARE_CS, SQUARE_CS])
    at = raw.index(marker) + len(marker) + rel
    rep = check_cff(raw, 4, Budget("t", DocLimits()), "t", cff2=True)
    assert [(i.offset, text.format(at=at) in i.message) for i in rep.issues] == [(at, True)], (
        rep.issues
    )


def test_cff2_charstring_count_differs_from_maxp(tmp_path: Path) -> None:
    bad = replace_table(cff2_font(), "CFF2", raw_cff2(charstrings=[b"", SQUARE_CS]))
    found = _findings(tmp_path, "count.otf", bad)
    assert _flagged(found, "DQ-DOC-009", "table CFF2", "maxp.numGlyphs is 4")


def test_colr_paint_cycle(tmp_path: Path) -> None:
    found = _findings(tmp_path, "cycle.ttf", colr_font(cycle=True))
    assert _flagged(found, "DQ-DOC-009", "table COLR, offset 0x", "paint graph cycle")


def test_colr_layer_range_past_layer_list(tmp_path: Path) -> None:
    data = colr_font()
    off, _ln = table_span(data, "COLR")
    bgl = off + struct.unpack_from(">I", data, off + 14)[0]
    paint = bgl + struct.unpack_from(">I", data, bgl + 6)[0]
    assert data[paint] == 1  # PaintColrLayers
    bad = patch(data, paint + 1, b"\x09")  # 9 layers, the LayerList holds 2
    found = _findings(tmp_path, "layers.ttf", bad)
    assert _flagged(found, "DQ-DOC-009", "table COLR", "beyond the 2 in LayerList")


def test_woff_trailing_bytes(tmp_path: Path) -> None:
    data = woff(layout_font()) + b"\x01\x02\x03\x04"
    data = patch(data, 8, struct.pack(">I", len(data)))  # header length agrees with the file
    found = _findings(tmp_path, "trail.woff", data)
    assert _flagged(
        found, "DQ-DOC-001", "WOFF container, offset 0x", "4 bytes after the last WOFF block"
    )


def test_woff_header_length_and_reserved(tmp_path: Path) -> None:
    data = woff(layout_font())
    bad = patch(data, 8, struct.pack(">I", len(data) + 8))
    bad = patch(bad, 14, b"\x00\x01")
    found = _findings(tmp_path, "hdr.woff", bad)
    assert _flagged(found, "DQ-DOC-001", "WOFF container, offset 0x8", "differs from the file size")
    assert _flagged(found, "DQ-DOC-001", "WOFF container, offset 0xe", "reserved field")


def test_woff2_header_length(tmp_path: Path) -> None:
    data = woff(layout_font(), "woff2")
    bad = patch(data, 8, struct.pack(">I", len(data) - 4))
    found = _findings(tmp_path, "hdr.woff2", bad)
    assert _flagged(
        found, "DQ-DOC-001", "WOFF2 container, offset 0x8", "differs from the file size"
    )


def test_shared_subtables_hit_the_work_limit() -> None:
    """1000 lookups that all point at one lookup of 1000 subtables sharing one coverage: each
    shared table is walked once."""
    n = 1000
    lookup_list = 10
    lookup = lookup_list + 2 + 2 * n
    sub = lookup + 6 + 2 * n
    cov = sub + 6
    raw = struct.pack(">HHHHH", 1, 0, 0, 0, lookup_list)
    raw += struct.pack(">H", n) + struct.pack(f">{n}H", *[lookup - lookup_list] * n)
    raw += struct.pack(">HHH", 1, 0, n) + struct.pack(f">{n}H", *[sub - lookup] * n)
    raw += struct.pack(">HHH", 1, cov - sub, 0) + struct.pack(">HHH", 1, 1, 1)
    # walked once each: about 2000 steps, not 1000 x 1000; the limit here is 2 x 4012 bytes
    budget = Budget("t", DocLimits(max_struct_steps=1))
    assert check_layout("GSUB", raw, 4, GdefInfo(), budget, "t") == []


def test_exponential_subroutines_hit_the_work_limit(tmp_path: Path) -> None:
    """Each global subroutine calls the next one 40 times, 6 levels deep (40**5 calls): the
    charstring walk stops at the step limit (medium: the work bound, not the per-file deadline,
    which would be low and say 'time limit'), instead of running for hours."""
    calls = [bytes([139 + (i + 1) - 107, 0x1D]) * 40 for i in range(5)] + [b""]
    cs = bytes([139 - 107, 0x1D])  # callgsubr 0
    raw = raw_cff2(charstrings=[b"", cs, SQUARE_CS, SQUARE_CS], gsubrs=calls)
    # the per-file deadline far out: under load (or mutmut's trampolines) the 30 s clock could
    # fire first, and this test is about the step counter, which does not depend on the clock
    p = tmp_path / "fan.otf"
    p.write_bytes(replace_table(cff2_font(), "CFF2", raw))
    content = builtin_content()
    content = dataclasses.replace(
        content, limits=dataclasses.replace(content.limits, seconds_per_file=3600.0)
    )
    found = [
        (f.detector, f.severity, f.evidence[0].locator, f.evidence[0].summary)
        for f in scan_file(p, content).findings
    ]
    limit = DocLimits().max_struct_steps
    assert _flagged(found, "DQ-DOC-009", "table CFF2", "not fully checked"), found
    stopped = [s for d, _, _, s in found if d == "DQ-DOC-009" and "not fully checked" in s]
    assert stopped and all(f"more than {limit} structure steps" in s for s in stopped), stopped


def test_cff_memo_gives_the_same_report_and_keeps_no_stopped_walk() -> None:
    """Identical CFF tables are walked once per scan; a walk stopped by the step limit is not
    kept, so the same table stops again (and a fresh scan starts with an empty memo)."""
    from duqhunt.sources.office import cff
    from duqhunt.sources.office.otbase import WorkLimit

    # the per-file clock far out: the step limit ends the walk, and under load (or mutmut's
    # trampolines in cff.py) the 30 s default could fire first and fail the test
    limits = DocLimits(seconds_per_file=3600.0)
    cff.clear_memo()
    raw = raw_cff2(charstrings=[b"", b"\x8b" * 514, SQUARE_CS, SQUARE_CS])
    first = check_cff(raw, 4, Budget("t", limits), "t", cff2=True)
    again = check_cff(raw, 4, Budget("t", limits), "t", cff2=True)
    assert first == again and first.issues is not again.issues and len(first.issues) == 1
    calls = [bytes([139 + (i + 1) - 107, 0x1D]) * 40 for i in range(5)] + [b""]
    fan = raw_cff2(charstrings=[b"", bytes([139 - 107, 0x1D]), SQUARE_CS, SQUARE_CS], gsubrs=calls)
    for _ in range(2):
        with pytest.raises(WorkLimit):
            check_cff(fan, 4, Budget("t", limits), "t", cff2=True)
    assert len(cff._MEMO) == 1
    cff.clear_memo()


def test_name_table_reads_the_records_it_holds_when_it_declares_more(tmp_path: Path) -> None:
    """OpenType 'name': a 6-byte header (format, count, storageOffset) then count 12-byte
    NameRecords. A table that declares 100 records but holds 2 (and their strings) is reported
    once, and exactly the 2 records that fit are read: their strings are inside the table, so
    nothing else is said (a 34-byte table: a third record would start at byte 30 and need 42)."""
    strings = b"AbAb"
    raw = struct.pack(">HHH", 0, 100, 30)
    raw += struct.pack(">6H", 1, 0, 0, 1, 2, 0) + struct.pack(">6H", 1, 0, 0, 4, 2, 2) + strings
    found = _findings(tmp_path, "names.ttf", replace_table(layout_font(), "name", raw))
    assert [f for f in found if f[0] != "DQ-DOC-002"] == [  # DQ-DOC-002: the stale checksum
        (
            "DQ-DOC-003",
            "medium",
            "names.ttf, table name, offset 0x2",
            "name table declares 100 records, which run past the table",
        )
    ]


def _with_tables(total: int) -> bytes:
    """The layout font with empty 4-byte tables added (zero checksum, correct) up to ``total``."""
    from duqhunt.sources.office.fonts import build_sfnt

    base = layout_font()
    num = struct.unpack_from(">H", base, 4)[0]
    tables = []
    for k in range(num):
        tag, cs, off, ln = struct.unpack_from(">4sIII", base, 12 + 16 * k)
        tables.append((tag, cs, base[off : off + ln]))
    tables += [(f"z{k:03d}".encode(), 0, bytes(4)) for k in range(total - num)]
    return build_sfnt(base[:4], tables)


def test_table_count_limit_is_200(tmp_path: Path) -> None:
    """docs/detectors.md DQ-DOC-001 ("impossible table counts"): 200 tables is the most a font
    may declare without a finding; 201 is reported, at the table directory. Every table is in
    bounds with a right checksum, so nothing else is said."""
    assert _findings(tmp_path, "t200.ttf", _with_tables(200)) == []
    assert _findings(tmp_path, "t201.ttf", _with_tables(201)) == [
        ("DQ-DOC-001", "medium", "t201.ttf, table directory", "font declares 201 tables")
    ]


@pytest.mark.parametrize(("tag", "header"), [("cmap", 4), ("name", 6)])
def test_table_shorter_than_its_header(tmp_path: Path, tag: str, header: int) -> None:
    """OpenType: 'cmap' starts with version and numTables (4 bytes), 'name' with format, count
    and storageOffset (6 bytes). One byte short of that is a medium DQ-DOC-003 at the table;
    the bare header (no subtables, no records) is a valid, empty table."""
    short = replace_table(layout_font(), tag, bytes(header - 1))
    whole = replace_table(layout_font(), tag, struct.pack(">HHH", 0, 0, 6)[:header])
    tables = [f for f in _findings(tmp_path, "short.ttf", short) if f[0] != "DQ-DOC-002"]
    assert tables == [
        ("DQ-DOC-003", "medium", f"short.ttf, table {tag}", f"{tag} table shorter than its header")
    ]
    assert [f for f in _findings(tmp_path, "whole.ttf", whole) if f[0] != "DQ-DOC-002"] == []


def test_cmap_subtable_length_past_the_table(tmp_path: Path) -> None:
    """OpenType cmap: each subtable states its length (format 4: u16 at +2; format 12: u32 at
    +4). A format 4 subtable claiming 1000 bytes in a 42-byte table runs past it; a format 12
    subtable of 16 bytes (no groups) ending exactly at the table's end does not."""
    raw = struct.pack(">HH", 0, 2) + struct.pack(">HHI", 3, 1, 20) + struct.pack(">HHI", 3, 10, 26)
    raw += struct.pack(">HHH", 4, 1000, 0)  # format, length, language
    raw += struct.pack(">HHIII", 12, 0, 16, 0, 0)  # format, reserved, length, language, groups
    assert len(raw) == 42
    found = _findings(tmp_path, "c.ttf", replace_table(layout_font(), "cmap", raw))
    assert [f for f in found if f[0] != "DQ-DOC-002"] == [
        (
            "DQ-DOC-003",
            "medium",
            "c.ttf, table cmap, subtable 0, offset 0x14",
            "cmap format 4 subtable of 1000 bytes runs past the table",
        )
    ]


def test_pfb_type1_segments(tmp_path: Path) -> None:
    """A PFB (Adobe Type 1, binary: segments of 0x80, a type, a 4-byte little-endian length,
    then the data; 0x80 0x03 ends the file) is a Type 1 font: clean when its segments fit,
    also when the last one ends exactly at the end of the file without the end marker; a
    segment whose length runs past the end is reported."""
    body = b"%!PS-AdobeFont-1.0: Inert 001.000\n"
    seg = b"\x80\x01" + struct.pack("<I", len(body)) + body
    assert _findings(tmp_path, "a.pfb", seg + b"\x80\x03") == []
    assert _findings(tmp_path, "b.pfb", seg) == []
    cut = b"\x80\x01" + struct.pack("<I", 1000) + body
    assert _findings(tmp_path, "c.pfb", cut) == [
        ("DQ-DOC-009", "medium", "c.pfb, offset 0x0", "PFB segment of 1000 bytes runs past the end")
    ]


def test_cff2_major_version_other_than_2_is_a_header_fault(tmp_path: Path) -> None:
    """OpenType CFF2: the header's majorVersion is 2. Version 3 is reported at the table's first
    byte, and the finding's check names the part of the table at fault: the header."""
    raw = bytearray(raw_cff2())
    assert raw[0] == 2
    raw[0] = 3
    p = tmp_path / "v3.otf"
    p.write_bytes(replace_table(cff2_font(), "CFF2", bytes(raw)))
    (f,) = [f for f in scan_file(p).findings if f.detector == "DQ-DOC-009"]
    assert (f.severity, f.evidence[0].locator) == ("medium", "v3.otf, table CFF2, offset 0x0")
    assert f.evidence[0].summary == "CFF2 major version 3 unexpected"
    assert dict(f.details)["check"] == "header"


@pytest.mark.parametrize(
    ("field", "what"),
    [(6, "GDEF AttachList"), (8, "GDEF LigCaretList"), (10, "GDEF MarkAttachClassDef")],
)
def test_gdef_subtable_offsets_into_the_header(tmp_path: Path, field: int, what: str) -> None:
    """OpenType GDEF 1.0: a 12-byte header of version and four Offset16 fields (GlyphClassDef
    at 4, AttachList at 6, LigCaretList at 8, MarkAttachClassDef at 10). Each offset that
    points back into the header is reported at its own field."""
    data = layout_font()
    off, _ln = table_span(data, "GDEF")
    assert struct.unpack_from(">HH", data, off) == (1, 0)
    bad = patch(data, off + field, struct.pack(">H", 4))
    found = _findings(tmp_path, "gdef.ttf", bad)
    assert _flagged(
        found,
        "DQ-DOC-003",
        f"table GDEF, offset 0x{field:x}",
        f"{what} offset 0x4 points inside the 12-byte header",
    ), found


# --- COLRv1 paints by the OpenType 1.9 COLR chapter ------------------------------------------

_SOLID = {"Format": ot.PaintFormat.PaintSolid, "PaletteIndex": 0, "Alpha": 1.0}


def _glyph_paint(glyph: str) -> dict[str, object]:
    return {"Format": ot.PaintFormat.PaintGlyph, "Paint": _SOLID, "Glyph": glyph}


def _colr_of(paint: dict[str, object]) -> tuple[bytes, int, bytes]:
    """A font whose glyph A has this paint: (font, COLR offset, COLR table)."""
    data = colr_font_with({"A": paint})
    off, ln = table_span(data, "COLR")
    return data, off, data[off : off + ln]


def _colr_findings(found: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    return [f for f in found if "table COLR" in f[2]]


def test_colr_composite_modes_end_at_27(tmp_path: Path) -> None:
    """CompositeMode runs from 0 (clear) to 27 (HSL luminosity): 27 is a mode, 28 is not
    (flagged, low)."""
    paint = {
        "Format": ot.PaintFormat.PaintComposite,
        "SourcePaint": _glyph_paint("B"),
        "CompositeMode": ot.CompositeMode.HSL_LUMINOSITY,
        "BackdropPaint": _glyph_paint("C"),
    }
    data, off, table = _colr_of(paint)
    (at,) = [i for i in range(34, len(table) - 4) if table[i] == 32 and table[i + 4] == 27]
    assert not _colr_findings(_findings(tmp_path, "mode27.ttf", data))
    bad = patch(data, off + at + 4, b"\x1c")
    found = _colr_findings(_findings(tmp_path, "mode28.ttf", bad))
    assert [(f[1], "composite mode 28 unknown" in f[3]) for f in found] == [("low", True)]


def test_colr_glyph_without_a_base_paint_is_a_low_finding(tmp_path: Path) -> None:
    """PaintColrGlyph names a glyph that must have a BaseGlyphPaintRecord; one without is
    flagged (low: a renderer draws nothing for it)."""
    paint = {
        "Format": ot.PaintFormat.PaintColrLayers,
        "Layers": [_glyph_paint("B"), {"Format": ot.PaintFormat.PaintColrGlyph, "Glyph": "C"}],
    }
    data, _off, _table = _colr_of(paint)
    found = _colr_findings(_findings(tmp_path, "colrglyph.ttf", data))
    assert [(f[1], "has no BaseGlyphPaintRecord" in f[3]) for f in found] == [("low", True)]


def test_colr_transform_past_the_table_names_the_affine(tmp_path: Path) -> None:
    """PaintTransform (format 12) holds an Offset24 to its Affine2x3 (24 bytes); one that
    points past the table is flagged and names the Affine2x3."""
    paint = {
        "Format": ot.PaintFormat.PaintTransform,
        "Paint": _glyph_paint("B"),
        "Transform": {"xx": 1.0, "yx": 0.0, "xy": 0.0, "yy": 1.0, "dx": 0.0, "dy": 0.0},
    }
    data, off, table = _colr_of(paint)
    (at,) = [i for i in range(34, len(table)) if table[i] == 12]
    bad = patch(data, off + at + 4, b"\x00\xff\xf0")  # transform offset far past the end
    found = _colr_findings(_findings(tmp_path, "affine.ttf", bad))
    assert found and all("Affine2x3" in f[3] for f in found), found


def test_colr_clip_list_offset_outside_the_table_is_at_its_field(tmp_path: Path) -> None:
    """The COLRv1 header's clipListOffset is the Offset32 at byte 22: an offset past the
    table is flagged at that field."""
    data, off, table = _colr_of(_glyph_paint("B"))
    bad = patch(data, off + 22, struct.pack(">I", len(table) + 64))
    found = _findings(tmp_path, "clip.ttf", bad)
    assert _flagged(found, "DQ-DOC-009", "table COLR, offset 0x16", "ClipList offset"), found


# --- layout: the ScriptList and LangSys records -----------------------------------------------


def test_gsub_script_list_count_past_the_table(tmp_path: Path) -> None:
    """ScriptList is scriptCount then 6-byte ScriptRecords: a count whose records run past
    the table is flagged as such."""
    data = layout_font()
    off, _ln = table_span(data, "GSUB")
    sl = off + struct.unpack_from(">H", data, off + 4)[0]
    bad = patch(data, sl, b"\x0f\xff")
    found = _findings(tmp_path, "scripts.ttf", bad)
    assert _flagged(found, "DQ-DOC-003", "table GSUB", "ScriptList of 4095 records"), found


def test_gsub_langsys_fault_names_its_script_and_language(tmp_path: Path) -> None:
    """A LangSys whose requiredFeatureIndex (not 0xFFFF) is past the FeatureList is flagged
    and named by its script and language system (fontTools shares one LangSys between DFLT
    and latn here: it is checked, and named, once, under the first script)."""
    data = layout_font()
    script = _script_table(data, "GSUB", b"DFLT")
    dflt = struct.unpack_from(">H", data, script)[0]
    bad = patch(data, script + dflt + 2, b"\x00\x63")  # required feature 99
    found = _findings(tmp_path, "langsys.ttf", bad)
    text = "GSUB Script 'DFLT' LangSys 'default' required feature 99 of 1"
    assert _flagged(found, "DQ-DOC-003", "table GSUB", text), found


def test_gdef_mark_glyph_sets_format_other_than_1_is_flagged(tmp_path: Path) -> None:
    """GDEF 1.2's MarkGlyphSetsDef has one format, 1; another is flagged at the table."""
    data = mark_set_font()
    off, _ln = table_span(data, "GDEF")
    assert data[off : off + 4] == b"\x00\x01\x00\x02"  # GDEF 1.2
    sets = struct.unpack_from(">H", data, off + 12)[0]  # markGlyphSetsDefOffset
    assert not [f for f in _findings(tmp_path, "marks.ttf", data) if f[1] in ABOVE_INFO]
    bad = patch(data, off + sets, b"\x00\x02")
    found = _findings(tmp_path, "marks2.ttf", bad)
    assert _flagged(
        found, "DQ-DOC-003", f"table GDEF, offset 0x{sets:x}", "MarkGlyphSetsDef format 2 unknown"
    ), found


def test_coverage_format_2_start_indexes_count_the_glyphs_before() -> None:
    """Coverage format 2 (OpenType common table formats): each RangeRecord's
    startCoverageIndex is the number of glyphs in the ranges before it."""

    def issues(ranges: list[tuple[int, int, int]]) -> list[str]:
        raw = struct.pack(">HH", 2, len(ranges)) + b"".join(struct.pack(">HHH", *r) for r in ranges)
        w = _Walk("GSUB", raw, 10, Steps(Budget("t", DocLimits()), "t", len(raw)))
        w.coverage(0, "test")
        return [i.message for i in w.issues]

    assert issues([(1, 2, 0), (4, 6, 2), (8, 8, 5)]) == []
    assert issues([(1, 2, 0), (4, 6, 3)]) == [
        "test Coverage range 1 startCoverageIndex 3, expected 2"
    ]


def test_cff2_empty_variation_store_is_no_fault() -> None:
    """The CFF2 Top DICT's vstore operator (24) points at the VariationStore, a u16 length
    then an ItemVariationStore: length 0 is an empty store (no regions), whatever bytes
    follow it; a length whose store runs past the table is a fault."""

    def num(v: int) -> bytes:
        return b"\x1d" + struct.pack(">i", v)

    at = len(raw_cff2(top_extra=num(0) + bytes([24])))  # the store goes at the table's end

    def issues(store: bytes) -> list[str]:
        raw = raw_cff2(top_extra=num(at) + bytes([24])) + store
        rep = check_cff(raw, 4, Budget("t", DocLimits()), "t", cff2=True)
        return [i.message for i in rep.issues]

    assert issues(b"\x00\x00" + b"\xff" * 16) == []
    assert issues(b"\x00\x40" + b"\xff" * 16) == [
        "CFF2 VariationStore of 64 bytes runs past the table"
    ]


def test_cff2_reserved_charstring_operator_is_its_own_check() -> None:
    """A reserved charstring operator (11, return, is no CFF2 operator) is reported as the
    charstring check 'cs-reserved', the key its findings are told apart by."""
    raw = raw_cff2(charstrings=[b"", b"\x8b\x8b\x0b", SQUARE_CS, SQUARE_CS])
    rep = check_cff(raw, 4, Budget("t", DocLimits()), "t", cff2=True)
    assert [(i.check, "reserved operator 11" in i.message) for i in rep.issues] == [
        ("cs-reserved", True)
    ]


def test_layout_versions_1_0_and_1_1_are_known_and_1_2_is_not() -> None:
    """OpenType GSUB/GPOS: version 1.0 has a 10-byte header, 1.1 adds a 32-bit
    FeatureVariations offset (NULL here); any other version is reported, and nothing past it
    is read."""
    for minor in (0, 1):
        hdr = 10 if minor == 0 else 14
        raw = struct.pack(">HHHHH", 1, minor, hdr, hdr + 2, hdr + 4)
        raw += (struct.pack(">I", 0) if minor else b"") + struct.pack(">HHH", 0, 0, 0)
        budget = Budget("t", DocLimits())
        assert check_layout("GSUB", raw, 4, GdefInfo(), budget, "t") == [], minor
    raw = struct.pack(">HHHHHI", 1, 2, 14, 16, 18, 0) + struct.pack(">HHH", 0, 0, 0)
    (issue,) = check_layout("GPOS", raw, 4, GdefInfo(), Budget("t", DocLimits()), "t")
    assert (issue.check, issue.offset) == ("version", 0) and "1.2" in issue.message


def test_each_langsys_record_is_named_by_its_own_tag() -> None:
    """OpenType ScriptList: a Script table's LangSysRecords are 6 bytes each (a 4-byte tag,
    then a 16-bit offset); an offset past the table is reported under its own record's tag."""
    raw = struct.pack(">HHHHH", 1, 0, 10, 40, 42)  # GSUB 1.0: ScriptList, FeatureList, LookupList
    raw += struct.pack(">H4sH", 1, b"latn", 8)  # ScriptList at 10: one script, at 18
    raw += struct.pack(">HH", 0, 2)  # the script: no DefaultLangSys, two LangSys records
    raw += struct.pack(">4sH4sH", b"DEU ", 16, b"TRK ", 0x7000)  # DEU at 34; TRK past the end
    raw += struct.pack(">HHH", 0, 0xFFFF, 0)  # DEU's LangSys: no features
    raw += struct.pack(">HH", 0, 0)  # FeatureList and LookupList: empty
    issues = check_layout("GSUB", raw, 4, GdefInfo(), Budget("t", DocLimits()), "t")
    assert [i.message for i in issues if "LangSys" in i.message] != []
    assert all("'TRK '" in i.message for i in issues if "LangSys" in i.message), issues


def test_gdef_attach_list_entries_are_each_read() -> None:
    """OpenType GDEF AttachList: a Coverage offset, a glyph count, then one offset per covered
    glyph to an AttachPoint table (a point count, then the point indices). A sound list gives
    no issue; an entry whose points run past the table is reported as that entry."""
    from duqhunt.sources.office.otlayout import check_gdef

    def gdef(second_count: int) -> bytes:
        raw = struct.pack(">HHHHHH", 1, 0, 0, 12, 0, 0)  # GDEF 1.0, AttachList at 12
        raw += struct.pack(">HHHH", 18, 2, 8, 12)  # Coverage at +18, entries at +8 and +12
        raw += struct.pack(">HH", 1, 3)  # entry 0: one point, index 3
        raw += struct.pack(">HHH", second_count, 1, 2)  # entry 1: its points
        raw += struct.pack(">HHHH", 1, 2, 1, 2)  # Coverage format 1: glyphs 1 and 2
        return raw

    issues, _ = check_gdef(gdef(2), 4, Budget("t", DocLimits()), "t")
    assert issues == []
    issues, _ = check_gdef(gdef(100), 4, Budget("t", DocLimits()), "t")
    assert [i.message for i in issues] == [
        "GDEF AttachList entry 1 of 100 values runs past the table"
    ]
