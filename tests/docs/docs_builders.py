"""Inert test fonts and documents, built in code. Malformed means structurally invalid, never a
working exploit: nothing here is executed or rendered."""

from __future__ import annotations

import io
import struct
import uuid
import zipfile

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont


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
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def reload(data: bytes) -> TTFont:
    return TTFont(io.BytesIO(data))


def append(data: bytes, extra: bytes) -> bytes:
    return data + extra


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
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr(
            "word/fontTable.xml",
            '<?xml version="1.0"?><w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<w:font w:name="{family}"><w:embedRegular r:id="rId1" w:fontKey="{key}"/></w:font></w:fonts>',
        )
        z.writestr(
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
        z.writestr(
            "word/_rels/settings.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        )
        z.writestr("word/fonts/font1.odttf", odttf(font, guid))
    return buf.getvalue()


def make_rtf(font: bytes) -> bytes:
    hexdata = font.hex()
    lines = "\n".join(hexdata[i : i + 128] for i in range(0, len(hexdata), 128))
    return (
        b"{\\rtf1\\ansi{\\fonttbl{\\f0\\fnil Dexter Regular;{\\*\\fontemb\\fttruetype{\\*\\fontfile dexter.ttf}\n"
        + lines.encode()
        + b"}}}\n{\\f0 Hello}}"
    )


def make_ole_doc(stream_data: bytes) -> bytes:
    """A minimal OLE2 (MS-CFB v3) file with one stream "WordDocument" (and an empty 1Table).

    The WordDocument stream starts with a FIB base (wIdent 0xA5EC) followed by the data.
    Written by hand: 512-byte sectors, one FAT sector, regular (non-mini) streams >= 4096 bytes.
    """
    fib = bytearray(64)
    fib[0:2] = b"\xec\xa5"
    fib[0x0A:0x0C] = (0x0200).to_bytes(2, "little")  # fWhichTblStm -> 1Table
    word = bytes(fib) + stream_data
    word += b"\0" * (max(4096, -(-len(word) // 512) * 512) - len(word))
    table = b"\0" * 4096
    sec = 512
    n_word = len(word) // sec
    n_table = len(table) // sec
    # sectors: 0 = directory, 1.. = WordDocument, then 1Table, then FAT
    dir_sec = 0
    word_start = 1
    table_start = word_start + n_word
    fat_sec = table_start + n_table
    total = fat_sec + 1
    fat = [0xFFFFFFFF] * (sec // 4)
    fat[dir_sec] = 0xFFFFFFFE
    for i in range(n_word):
        fat[word_start + i] = word_start + i + 1 if i < n_word - 1 else 0xFFFFFFFE
    for i in range(n_table):
        fat[table_start + i] = table_start + i + 1 if i < n_table - 1 else 0xFFFFFFFE
    fat[fat_sec] = 0xFFFFFFFD
    assert total <= sec // 4

    def entry(
        name: str,
        typ: int,
        start: int,
        size: int,
        left: int = 0xFFFFFFFF,
        right: int = 0xFFFFFFFF,
        child: int = 0xFFFFFFFF,
    ) -> bytes:
        nm = (name + "\0").encode("utf-16-le")
        e = nm.ljust(64, b"\0") + struct.pack("<HBB", len(nm), typ, 1)
        e += struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
        e += struct.pack("<IQ", start, size)
        return e.ljust(128, b"\0")

    d = entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)
    d += entry("WordDocument", 2, word_start, len(word), right=2)
    d += entry("1Table", 2, table_start, len(table))
    d += b"\0" * (sec - len(d))
    hdr = bytearray(512)
    hdr[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", hdr, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", hdr, 0x2C, 1)  # FAT sectors
    struct.pack_into("<I", hdr, 0x30, dir_sec)
    struct.pack_into("<I", hdr, 0x38, 4096)
    struct.pack_into("<II", hdr, 0x3C, 0xFFFFFFFE, 0)
    struct.pack_into("<II", hdr, 0x44, 0xFFFFFFFE, 0)
    struct.pack_into("<I", hdr, 0x4C, fat_sec)
    for i in range(1, 109):
        struct.pack_into("<I", hdr, 0x4C + 4 * i, 0xFFFFFFFF)
    body = d + word + table + struct.pack(f"<{sec // 4}I", *fat)
    return bytes(hdr) + body
