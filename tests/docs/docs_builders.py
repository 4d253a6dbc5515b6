"""Inert test fonts and documents, built in code. Malformed means structurally invalid, never a
working exploit: nothing here is executed or rendered."""

from __future__ import annotations

import io
import struct

from fontTools.ttLib import TTFont

from duqhunt.simulate.documents import make_docx, make_font, make_rtf, malformed_dexter, odttf

__all__ = [
    "append",
    "make_docx",
    "make_font",
    "make_ole_doc",
    "make_rtf",
    "malformed_dexter",
    "odttf",
    "reload",
]


def reload(data: bytes) -> TTFont:
    return TTFont(io.BytesIO(data))


def append(data: bytes, extra: bytes) -> bytes:
    return data + extra


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
