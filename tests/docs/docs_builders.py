"""Inert test fonts and documents, built in code. Malformed means structurally invalid, never a
working exploit: nothing here is executed or rendered."""

from __future__ import annotations

import io
import struct

from fontTools.ttLib import TTFont

from duqhunt.simulate.documents import make_docx, make_font, make_rtf, malformed_dexter, odttf

__all__ = [
    "append",
    "make_cfb",
    "make_docx",
    "make_font",
    "make_ole_doc",
    "make_rtf",
    "make_word_doc",
    "malformed_dexter",
    "odttf",
    "reload",
    "word_fib",
    "word_streams",
]


def reload(data: bytes) -> TTFont:
    return TTFont(io.BytesIO(data))


def append(data: bytes, extra: bytes) -> bytes:
    return data + extra


SECTOR = 512
FREESECT, ENDOFCHAIN, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
FIB_SIZE = 900  # FibBase 32 + csw/fibRgW 30 + cslw/fibRgLw 90 + cbRgFcLcb/97 blob 746 + cswNew 2
FC_STTBTTMBD_AT = 154 + 8 * 61  # fcSttbTtmbd in the FIB (lcbSttbTtmbd 4 bytes later)
STTB_AT = 0x100  # where the builder puts the SttbTtmbd in 1Table
FONTS_AT = 0x400  # where the builder puts the first EOT in WordDocument


def make_cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE2 (MS-CFB v3) file holding ``streams`` under the root storage.

    Written by hand: 512-byte sectors, every stream padded to >= 4096 bytes so that none lives
    in the mini stream, the directory as a chain of right siblings, FAT sectors listed in the
    header's DIFAT (up to 109).
    """
    names = list(streams)
    bodies = []
    for n in names:
        b = streams[n]
        bodies.append(b + b"\0" * (max(4096, -(-len(b) // SECTOR) * SECTOR) - len(b)))
    n_dir = -(-(len(names) + 1) // 4)
    n_data = n_dir + sum(len(b) // SECTOR for b in bodies)
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_data + n_fat:
        n_fat += 1
    assert n_fat <= 109
    fat = [FREESECT] * (n_fat * SECTOR // 4)

    def chain(start: int, count: int) -> None:
        for i in range(count):
            fat[start + i] = start + i + 1 if i < count - 1 else ENDOFCHAIN

    chain(0, n_dir)
    starts = []
    pos = n_dir
    for b in bodies:
        starts.append(pos)
        chain(pos, len(b) // SECTOR)
        pos += len(b) // SECTOR
    fat_start = pos
    for i in range(n_fat):
        fat[fat_start + i] = FATSECT

    def entry(name: str, typ: int, start: int, size: int, right: int, child: int) -> bytes:
        nm = (name + "\0").encode("utf-16-le")
        e = nm.ljust(64, b"\0") + struct.pack("<HBB", len(nm), typ, 1)
        e += struct.pack("<III", FREESECT, right, child) + b"\0" * 36
        e += struct.pack("<IQ", start, size)
        return e.ljust(128, b"\0")

    d = entry("Root Entry", 5, ENDOFCHAIN, 0, FREESECT, 1 if names else FREESECT)
    for i, (n, st) in enumerate(zip(names, starts, strict=True)):
        right = i + 2 if i + 1 < len(names) else FREESECT
        d += entry(n, 2, st, len(bodies[i]), right, FREESECT)
    d += b"\0" * (n_dir * SECTOR - len(d))
    hdr = bytearray(SECTOR)
    hdr[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", hdr, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", hdr, 0x2C, n_fat)
    struct.pack_into("<I", hdr, 0x30, 0)  # first directory sector
    struct.pack_into("<I", hdr, 0x38, 4096)  # mini stream cutoff
    struct.pack_into("<II", hdr, 0x3C, ENDOFCHAIN, 0)  # no mini FAT
    struct.pack_into("<II", hdr, 0x44, ENDOFCHAIN, 0)  # no DIFAT sectors
    for i in range(109):
        struct.pack_into("<I", hdr, 0x4C + 4 * i, fat_start + i if i < n_fat else FREESECT)
    return bytes(hdr) + d + b"".join(bodies) + struct.pack(f"<{len(fat)}I", *fat)


def word_fib(*, fc_ttmbd: int = 0, lcb_ttmbd: int = 0) -> bytearray:
    """A Word 97 FIB (MS-DOC 2.5.1): FibBase with fWhichTblStm = 1 (1Table), csw 14, cslw 22,
    cbRgFcLcb 0x5D (FibRgFcLcb97) with only fcSttbTtmbd/lcbSttbTtmbd set, cswNew 0."""
    fib = bytearray(FIB_SIZE)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0x00C1)  # wIdent, nFib
    struct.pack_into("<H", fib, 0x0A, 0x0200)  # fWhichTblStm -> 1Table
    struct.pack_into("<H", fib, 32, 14)
    struct.pack_into("<H", fib, 62, 22)
    struct.pack_into("<H", fib, 152, 0x5D)
    struct.pack_into("<II", fib, FC_STTBTTMBD_AT, fc_ttmbd, lcb_ttmbd)
    return fib


def word_streams(eots: list[bytes], *, unlisted: bytes = b"") -> tuple[bytearray, bytearray]:
    """WordDocument and 1Table streams of a .doc whose SttbTtmbd lists ``eots`` (MS-DOC 2.9.296:
    an SttbW6 header then one 12-byte Ttmbd per font). ``unlisted`` is put after the listed
    fonts without an SttbTtmbd entry (only a carver would find it). Mutable, so that tests can
    corrupt them."""
    word = word_fib()
    word += b"\0" * (FONTS_AT - len(word))
    fcs = []
    for e in eots:
        fcs.append(len(word))
        word += e + b"\0" * (-len(e) % 16)
    word += unlisted
    table = bytearray(STTB_AT)
    table += struct.pack("<HhhHH", 0, len(eots), 64, 0, 10)
    for i, fc in enumerate(fcs):
        table += struct.pack("<IhHI", fc, i, 0, 0xFFFFFFFF)
    if eots:
        struct.pack_into("<II", word, FC_STTBTTMBD_AT, STTB_AT, 10 + 12 * len(eots))
    return word, table


def make_word_doc(word: bytes, table: bytes) -> bytes:
    return make_cfb({"WordDocument": bytes(word), "1Table": bytes(table)})


def make_ole_doc(stream_data: bytes) -> bytes:
    """A .doc whose FIB lists no embedded fonts, with ``stream_data`` in WordDocument after it
    (an EOT there is found only by carving)."""
    word = word_fib() + stream_data
    return make_word_doc(word, b"")
