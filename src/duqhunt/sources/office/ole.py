"""OLE2 (MS-CFB) documents: Word's FIB and SttbTtmbd, PowerPoint font records, encryption flags."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from duqhunt.sources.office.eot import carve_eots

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FIB_STTBTTMBD_INDEX = 61  # fcSttbTtmbd/lcbSttbTtmbd in FibRgFcLcb97
RT_FONT_EMBED_DATA_BLOB = 0x0FB8


@dataclass(frozen=True, slots=True)
class WordFib:
    encrypted: bool
    obfuscated: bool
    table_stream: str
    fc_ttmbd: int
    lcb_ttmbd: int


def parse_fib(word: bytes) -> WordFib | None:
    if len(word) < 34 or word[:2] not in (b"\xec\xa5", b"\xec\xa4"):
        return None
    flags = int.from_bytes(word[0x0A:0x0C], "little")
    table = "1Table" if flags & 0x0200 else "0Table"
    p = 32
    csw = int.from_bytes(word[p : p + 2], "little")
    p += 2 + 2 * csw
    if p + 2 > len(word):
        return WordFib(bool(flags & 0x0100), bool(flags & 0x8000), table, 0, 0)
    cslw = int.from_bytes(word[p : p + 2], "little")
    p += 2 + 4 * cslw
    cb = int.from_bytes(word[p : p + 2], "little") if p + 2 <= len(word) else 0
    p += 2
    fc = lcb = 0
    if cb > FIB_STTBTTMBD_INDEX and p + 8 * (FIB_STTBTTMBD_INDEX + 1) <= len(word):
        fc, lcb = struct.unpack_from("<II", word, p + 8 * FIB_STTBTTMBD_INDEX)
    return WordFib(bool(flags & 0x0100), bool(flags & 0x8000), table, fc, lcb)


def sttb_ttmbd_count(table: bytes, fib: WordFib) -> int | None:
    """SttbW6.ibstMac when the SttbTtmbd pointer is valid (ibstMax must be 64), else None."""
    if not fib.lcb_ttmbd or fib.fc_ttmbd + 10 > len(table):
        return None
    _u1, mac, mx = struct.unpack_from("<Hhh", table, fib.fc_ttmbd)
    if mx != 64 or not 0 <= mac <= 64:
        return None
    return int(mac)


def embedded_font_offsets(stream: bytes) -> list[int]:
    """EOT structures inside a WordDocument or PowerPoint Document stream."""
    return carve_eots(stream)


def ppt_font_records(stream: bytes, limit: int = 64) -> list[int]:
    """Offsets of RT_FontEmbedDataBlob (0x0FB8) record headers whose body is an EOT."""
    out: list[int] = []
    pos = 0
    needle = struct.pack("<H", RT_FONT_EMBED_DATA_BLOB)
    while len(out) < limit:
        o = stream.find(needle, pos)
        if o < 0:
            break
        pos = o + 1
        h = o - 2
        if h < 0 or h + 8 > len(stream):
            continue
        ln = int.from_bytes(stream[h + 4 : h + 8], "little")
        if 82 < ln <= len(stream) - h - 8 and stream[h + 8 + 34 : h + 8 + 36] == b"LP":
            out.append(h)
    return out


RT_EX_OLE_OBJ_STG = 0x1011


def ppt_ole_objects(stream: bytes, limit: int = 256) -> list[tuple[int, bool, bytes]]:
    """ExOleObjStg records (0x1011): (header offset, compressed, body)."""
    out: list[tuple[int, bool, bytes]] = []
    needle = struct.pack("<H", RT_EX_OLE_OBJ_STG)
    pos = 0
    while len(out) < limit:
        o = stream.find(needle, pos)
        if o < 0:
            break
        pos = o + 1
        h = o - 2
        if h < 0 or h + 8 > len(stream):
            continue
        verinst = int.from_bytes(stream[h : h + 2], "little")
        ln = int.from_bytes(stream[h + 4 : h + 8], "little")
        if verinst & 0xF != 0 or not 4 < ln <= len(stream) - h - 8:
            continue
        body = stream[h + 8 : h + 8 + ln]
        compressed = (verinst >> 4) == 1
        if compressed and body[4:5] != b"\x78":
            continue
        if not compressed and not body.startswith(OLE_MAGIC):
            continue
        out.append((h, compressed, body))
        pos = h + 8 + ln
    return out
