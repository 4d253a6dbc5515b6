"""OLE2 (MS-CFB) documents: Word's FIB and SttbTtmbd, PowerPoint font records, encryption flags.

Word embedded fonts (MS-DOC): FibRgFcLcb97.fcSttbTtmbd/lcbSttbTtmbd (pair 61 of the FIB's
fc/lcb blob) locate the SttbTtmbd in the table stream that FibBase.fWhichTblStm names (0Table or
1Table). The SttbTtmbd is an SttbW6 header (10 bytes: unused1, ibstMac, ibstMax = 64, unused2,
brgbst = offset of the array from the header) followed by ibstMac Ttmbd entries of 12 bytes
(fc: offset of an Embedded OpenType structure in the WordDocument stream, iiffn: index into
SttbfFfn, fBold/fItalic bits, fcSubset). Everything is bounds-checked; a violation raises
InputError (path and offset) or, when parsing can go on, is returned as a ``Problem``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from duqhunt.errors import InputError
from duqhunt.sources.office.eot import EOT_MAGIC, carve_eots

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FIB_STTBTTMBD_INDEX = 61  # fcSttbTtmbd/lcbSttbTtmbd in FibRgFcLcb97
FIB_BASE_SIZE = 32
NFIB_WORD97 = 0x00C0  # FibBase.nFib below this: Word 6/95 layout, no FibRgFcLcb97
STTBW6_SIZE = 10
STTB_TTMBD_MAX = 64  # SttbW6.ibstMax MUST be 64; ibstMac MUST NOT exceed it
TTMBD_SIZE = 12
EOT_MIN_HEADER = 82
RT_FONT_EMBED_DATA_BLOB = 0x0FB8


@dataclass(frozen=True, slots=True)
class WordFib:
    """What the scanner reads from a Word FIB. ``problem`` says why the fc/lcb pairs could not
    be read (the FIB's variable parts run past the stream), with ``problem_offset``."""

    encrypted: bool
    obfuscated: bool
    table_stream: str
    fc_ttmbd: int
    lcb_ttmbd: int
    nfib: int = 0
    problem: str = ""
    problem_offset: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """A recoverable inconsistency: where (offset in ``stream``) and what."""

    stream: str
    offset: int
    reason: str
    severe: bool = True  # False: odd but harmless (reported low)


@dataclass(frozen=True, slots=True)
class Ttmbd:
    """One SttbTtmbd entry: an embedded TrueType font at ``fc`` in the WordDocument stream."""

    index: int
    entry_offset: int  # of the entry in the table stream
    fc: int
    iiffn: int
    bold: bool
    italic: bool
    fc_subset: int


@dataclass(frozen=True, slots=True)
class SttbTtmbd:
    offset: int  # in the table stream
    size: int  # lcbSttbTtmbd
    declared: int  # SttbW6.ibstMac
    entries: tuple[Ttmbd, ...]
    problems: tuple[Problem, ...]


def parse_fib(word: bytes) -> WordFib | None:
    """FibBase flags and the SttbTtmbd pointer; None when this is not a Word FIB.

    Lenient: when the FIB is truncated the pointer is (0, 0) and ``problem`` says why.
    """
    if len(word) < FIB_BASE_SIZE + 2 or word[:2] not in (b"\xec\xa5", b"\xec\xa4"):
        return None
    nfib = int.from_bytes(word[2:4], "little")
    flags = int.from_bytes(word[0x0A:0x0C], "little")
    table = "1Table" if flags & 0x0200 else "0Table"
    enc, obf = bool(flags & 0x0100), bool(flags & 0x8000)

    def partial(reason: str, at: int) -> WordFib:
        return WordFib(enc, obf, table, 0, 0, nfib, reason, at)

    if nfib < NFIB_WORD97:
        return WordFib(enc, obf, table, 0, 0, nfib)  # Word 6/95: no FibRgFcLcb97
    p = FIB_BASE_SIZE
    csw = int.from_bytes(word[p : p + 2], "little")
    p += 2 + 2 * csw
    if p + 2 > len(word):
        return partial(f"FIB fibRgW (csw {csw}) runs past the WordDocument stream", FIB_BASE_SIZE)
    cslw_at = p
    cslw = int.from_bytes(word[p : p + 2], "little")
    p += 2 + 4 * cslw
    if p + 2 > len(word):
        return partial(f"FIB fibRgLw (cslw {cslw}) runs past the WordDocument stream", cslw_at)
    cb_at = p
    cb = int.from_bytes(word[p : p + 2], "little")
    p += 2
    if cb <= FIB_STTBTTMBD_INDEX:
        return WordFib(enc, obf, table, 0, 0, nfib)  # the blob stops before fcSttbTtmbd
    at = p + 8 * FIB_STTBTTMBD_INDEX
    if at + 8 > len(word):
        return partial(
            f"FIB fibRgFcLcbBlob ({cb} pairs) runs past the WordDocument stream "
            f"({len(word)} bytes)",
            cb_at,
        )
    fc, lcb = struct.unpack_from("<II", word, at)
    return WordFib(enc, obf, table, fc, lcb, nfib)


def parse_sttb_ttmbd(table: bytes, fib: WordFib, path: str, where: str) -> SttbTtmbd | None:
    """The SttbTtmbd the FIB points to, or None when the FIB declares none (lcb 0).

    Raises InputError when the structure cannot be read at all (header outside the table stream,
    negative count, array offset past the structure). Recoverable inconsistencies (ibstMax not
    64, ibstMac larger than what lcb holds or than 64, lcb larger than the entries need) come
    back in ``problems`` and the entries that fit are returned.
    """
    if not fib.lcb_ttmbd:
        return None
    fc, lcb, tname = fib.fc_ttmbd, fib.lcb_ttmbd, fib.table_stream
    if fc >= len(table) or fc + lcb > len(table):
        raise InputError(
            path,
            f"{where}: SttbTtmbd at 0x{fc:x} ({lcb} bytes) runs past the {tname} stream "
            f"({len(table)} bytes)",
            offset=fc,
        )
    if lcb < STTBW6_SIZE:
        raise InputError(
            path,
            f"{where}: lcbSttbTtmbd {lcb} is smaller than its SttbW6 header ({STTBW6_SIZE})",
            offset=fc,
        )
    _u1, mac, mx, _u2, brgbst = struct.unpack_from("<HhhHH", table, fc)
    problems: list[Problem] = []
    if mac < 0:
        raise InputError(path, f"{where}: SttbTtmbd ibstMac {mac} is negative", offset=fc + 2)
    if mx != STTB_TTMBD_MAX:
        problems.append(Problem(tname, fc + 4, f"SttbTtmbd ibstMax is {mx}, not 64", False))
    if mac > STTB_TTMBD_MAX:
        problems.append(
            Problem(tname, fc + 2, f"SttbTtmbd ibstMac {mac} exceeds the maximum of 64")
        )
    if brgbst < STTBW6_SIZE or brgbst > lcb:
        raise InputError(
            path,
            f"{where}: SttbTtmbd brgbst {brgbst} puts rgTTMBD outside the structure ({lcb} bytes)",
            offset=fc + 8,
        )
    room = (lcb - brgbst) // TTMBD_SIZE
    if mac > room:
        problems.append(
            Problem(
                tname,
                fc + 2,
                f"SttbTtmbd count mismatch: ibstMac says {mac} font(s) but lcbSttbTtmbd "
                f"{lcb} holds {room}",
            )
        )
    elif room > mac:
        problems.append(
            Problem(
                tname,
                fc + 2,
                f"SttbTtmbd count mismatch: lcbSttbTtmbd {lcb} holds {room} entries but "
                f"ibstMac says {mac}",
                False,
            )
        )
    n = min(mac, room, STTB_TTMBD_MAX)
    entries: list[Ttmbd] = []
    for i in range(n):
        at = fc + brgbst + i * TTMBD_SIZE
        efc, iiffn, bits, subset = struct.unpack_from("<IhHI", table, at)
        if iiffn < 0:
            problems.append(
                Problem(tname, at + 4, f"SttbTtmbd entry {i}: iiffn {iiffn} < 0", False)
            )
        entries.append(Ttmbd(i, at, efc, iiffn, bool(bits & 1), bool(bits & 2), subset))
    return SttbTtmbd(fc, lcb, mac, tuple(entries), tuple(problems))


def ttmbd_eot(word: bytes, entry: Ttmbd, path: str, where: str) -> bytes:
    """The EOT structure an SttbTtmbd entry points to (bounds and magic checked, not parsed)."""
    fc = entry.fc
    if fc == 0 or fc + EOT_MIN_HEADER > len(word):
        raise InputError(
            path,
            f"{where}: SttbTtmbd entry {entry.index} points to 0x{fc:x}, outside the "
            f"WordDocument stream ({len(word)} bytes)",
            offset=entry.entry_offset,
        )
    size = int.from_bytes(word[fc : fc + 4], "little")
    if int.from_bytes(word[fc + 34 : fc + 36], "little") != EOT_MAGIC:
        raise InputError(
            path,
            f"{where}: SttbTtmbd entry {entry.index}: no EOT structure (magic 0x504C) at "
            f"0x{fc:x} in WordDocument",
            offset=fc + 34,
        )
    if size < EOT_MIN_HEADER:
        raise InputError(
            path,
            f"{where}: SttbTtmbd entry {entry.index}: EOTSize {size} at 0x{fc:x} is smaller "
            f"than an EOT header",
            offset=fc,
        )
    if fc + size > len(word):
        raise InputError(
            path,
            f"{where}: SttbTtmbd entry {entry.index}: EOT at 0x{fc:x} of {size} bytes runs "
            f"past the WordDocument stream ({len(word)} bytes)",
            offset=fc,
        )
    return word[fc : fc + size]


def embedded_font_offsets(stream: bytes) -> list[int]:
    """EOT structures carved out of a WordDocument or PowerPoint Document stream (fallback)."""
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
