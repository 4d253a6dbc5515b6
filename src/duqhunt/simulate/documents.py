"""Inert documents for the synthetic campaign and the tests: a Word document carrying an
embedded TrueType font named "Dexter Regular" (copyright "Showtime Inc.", the traits of the Duqu
installer's font) whose tables and hinting bytecode are structurally invalid. Malformed means
invalid structure to exercise the scanner's checks, never a working exploit; nothing here is
executed or rendered, and no code is in the font."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

# 2011-10-14 00:00 UTC in the font format's clock (seconds since 1904-01-01)
_MAC_EPOCH_2011 = 1318550400 + 2082844800
_ZIP_TIME = (2011, 10, 14, 0, 0, 0)


def _put(z: zipfile.ZipFile, name: str, data: str | bytes) -> None:
    """A zip member with a fixed time, so the document's bytes do not depend on the clock."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def make_font(
    family: str = "Test Sans",
    copyright_: str = "Copyright test",
    *,
    fpgm: bytes = b"",
    prep: bytes = b"",
    glyph_code: bytes = b"",
) -> bytes:
    fb = FontBuilder(1000, isTTF=True)
    names = [".notdef", "A"]
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({0x41: "A"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, 500))
    pen.lineTo((500, 500))
    pen.closePath()
    g = pen.glyph()
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "A": g})
    fb.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 0)})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": "Regular", "copyright": copyright_})
    fb.setupOS2()
    fb.setupPost()
    fb.setupMaxp()
    font = fb.font
    if fpgm:
        from fontTools.ttLib import newTable

        t = newTable("fpgm")
        from fontTools.ttLib.tables import ttProgram

        t.program = ttProgram.Program()
        t.program.fromBytecode(fpgm)
        font["fpgm"] = t
    if prep:
        from fontTools.ttLib import newTable
        from fontTools.ttLib.tables import ttProgram

        t = newTable("prep")
        t.program = ttProgram.Program()
        t.program.fromBytecode(prep)
        font["prep"] = t
    if glyph_code:
        from fontTools.ttLib.tables import ttProgram

        prog = ttProgram.Program()
        prog.fromBytecode(glyph_code)
        font["glyf"]["A"].program = prog
    font["maxp"].maxFunctionDefs = 4
    font["maxp"].maxStackElements = 64
    font["maxp"].maxSizeOfInstructions = 1024
    # fixed timestamps: the same arguments give the same bytes (reproducible demo and tests)
    font["head"].created = font["head"].modified = _MAC_EPOCH_2011
    font.recalcTimestamp = False
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def malformed_dexter() -> bytes:
    """A structurally invalid "Dexter Regular": undefined opcode, unbalanced FDEF, IDEF
    redefinition, PUSH past the end in a glyph program and trailing non-font bytes."""
    fpgm = bytes([0xB0, 0x01, 0x2C, 0x28]) + bytes(
        [0xB0, 0x20, 0x89, 0x2D]
    )  # FDEF 1 <undef> ; IDEF DUP ENDF
    glyph = bytes([0xB3, 0x01])  # PUSHB[3] needs 4 bytes, has 1
    font = make_font("Dexter Regular", "Copyright Showtime Inc.", fpgm=fpgm, glyph_code=glyph)
    return font


def odttf(font: bytes, guid: uuid.UUID) -> bytes:
    key = bytes.fromhex(guid.hex)[::-1]
    return bytes(b ^ key[i % 16] for i, b in enumerate(font[:32])) + font[32:]


def make_docx(font: bytes, family: str = "Dexter Regular", *, external: str | None = None) -> bytes:
    guid = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    key = "{" + str(guid).upper() + "}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _put(
            z,
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        _put(
            z,
            "word/fontTable.xml",
            '<?xml version="1.0"?><w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<w:font w:name="{family}"><w:embedRegular r:id="rId1" w:fontKey="{key}"/></w:font></w:fonts>',
        )
        _put(
            z,
            "word/_rels/fontTable.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/font" Target="fonts/font1.odttf"/>'
            "</Relationships>",
        )
        rels = ""
        if external:
            rels = (
                '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
                f'Target="{external}" TargetMode="External"/>'
            )
        _put(
            z,
            "word/_rels/settings.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        )
        _put(z, "word/fonts/font1.odttf", odttf(font, guid))
    return buf.getvalue()


def make_rtf(font: bytes) -> bytes:
    hexdata = font.hex()
    lines = "\n".join(hexdata[i : i + 128] for i in range(0, len(hexdata), 128))
    return (
        b"{\\rtf1\\ansi{\\fonttbl{\\f0\\fnil Dexter Regular;{\\*\\fontemb\\fttruetype{\\*\\fontfile dexter.ttf}\n"
        + lines.encode()
        + b"}}}\n{\\f0 Hello}}"
    )


def write_lure(out_dir: Path) -> Path:
    """The campaign's lure, ``invitation_2011.docx``, with the malformed embedded font."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "invitation_2011.docx"
    path.write_bytes(make_docx(malformed_dexter()))
    return path
