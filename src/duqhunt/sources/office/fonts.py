"""sfnt (TrueType/OpenType), TTC, WOFF and WOFF2 containers: table directories as data.

``read_directory`` never trusts a count or an offset; WOFF tables are inflated with a size
budget; WOFF2 goes through fontTools' decoder only after its declared size passed the budget
and its brotli stream, inflated here in bounded steps, proved no larger than its tables
declare (fontTools inflates it whole before it compares the sizes: a brotli bomb of a few
hundred bytes would take gigabytes).
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from dataclasses import dataclass

from duqhunt.errors import InputError
from duqhunt.sources.office.limits import Budget
from duqhunt.sources.office.otbase import StructIssue

SFNT_VERSIONS = {
    b"\x00\x01\x00\x00": "truetype",
    b"OTTO": "cff",
    b"true": "truetype",
    b"typ1": "type1",
}


@dataclass(frozen=True, slots=True)
class TableRecord:
    tag: str
    checksum: int
    offset: int
    length: int
    index: int


@dataclass(frozen=True, slots=True)
class Directory:
    flavor: str
    base: int
    num_tables: int
    search_range: int
    entry_selector: int
    range_shift: int
    records: tuple[TableRecord, ...]

    @property
    def end(self) -> int:
        return self.base + 12 + 16 * self.num_tables

    def table(self, tag: str) -> TableRecord | None:
        for r in self.records:
            if r.tag == tag:
                return r
        return None


def sniff_font(data: bytes) -> str | None:
    """'sfnt', 'ttc', 'woff', 'woff2', 'eot' or None."""
    head = data[:4]
    if head in SFNT_VERSIONS:
        return "sfnt"
    if head == b"ttcf":
        return "ttc"
    if head == b"wOFF":
        return "woff"
    if head == b"wOF2":
        return "woff2"
    if len(data) >= 36 and data[34:36] == b"LP":
        size = int.from_bytes(data[0:4], "little")
        if size == len(data) or 0 < size <= len(data) + 16:
            return "eot"
    return None


def tag_str(raw: bytes) -> str:
    return raw.decode("latin-1")


def read_directory(data: bytes, base: int, path: str) -> Directory:
    if len(data) < base + 12:
        raise InputError(path, "font shorter than its 12-byte sfnt header", offset=base)
    ver = data[base : base + 4]
    flavor = SFNT_VERSIONS.get(ver, "unknown")
    num, sr, es, rs = struct.unpack_from(">HHHH", data, base + 4)
    avail = (len(data) - base - 12) // 16
    if num > avail:
        raise InputError(
            path,
            f"table directory declares {num} tables but only {avail} records fit in the file",
            offset=base + 4,
        )
    recs = []
    for k in range(num):
        p = base + 12 + 16 * k
        tag, cs, off, ln = struct.unpack_from(">4sIII", data, p)
        recs.append(TableRecord(tag_str(tag), cs, off, ln, k))
    return Directory(flavor, base, num, sr, es, rs, tuple(recs))


def ttc_offsets(data: bytes, path: str, max_fonts: int) -> list[int]:
    if len(data) < 12:
        raise InputError(path, "TTC header truncated", offset=0)
    num = int.from_bytes(data[8:12], "big")
    if num == 0 or num > max_fonts or 12 + 4 * num > len(data):
        raise InputError(path, f"TTC declares {num} fonts (impossible here)", offset=8)
    return [int.from_bytes(data[12 + 4 * i : 16 + 4 * i], "big") for i in range(num)]


def checksum(data: bytes) -> int:
    pad = (-len(data)) % 4
    if pad:
        data = data + b"\0" * pad
    total = sum(struct.unpack(f">{len(data) // 4}I", data)) if data else 0
    return total & 0xFFFFFFFF


def _inflate(blob: bytes, expected: int, budget: Budget, where: str) -> bytes:
    budget.take(expected, where)
    if expected > len(blob) * budget.limits.max_ratio and expected > 1 << 20:
        raise InputError(budget.path, f"{where}: compression ratio above {budget.limits.max_ratio}")
    d = zlib.decompressobj()
    try:
        out = d.decompress(blob, expected + 1)
    except zlib.error as exc:
        raise InputError(budget.path, f"{where}: zlib data corrupt ({exc})") from None
    if len(out) != expected:
        raise InputError(
            budget.path, f"{where}: inflates to {len(out)} bytes, header says {expected}"
        )
    return out


def woff_to_sfnt(data: bytes, budget: Budget, where: str) -> bytes:
    """WOFF 1.0 -> sfnt bytes (tables inflated with the budget)."""
    path = budget.path
    if len(data) < 44:
        raise InputError(path, f"{where}: WOFF header truncated", offset=0)
    flavor, _length, num = struct.unpack_from(">4sIH", data, 4)
    if num == 0:
        raise InputError(path, f"{where}: WOFF declares no tables", offset=12)
    if 44 + 20 * num > len(data):
        raise InputError(
            path, f"{where}: WOFF directory of {num} tables runs past the end", offset=12
        )
    tables: list[tuple[bytes, int, bytes]] = []
    for k in range(num):
        tag, off, clen, olen, cs = struct.unpack_from(">4sIIII", data, 44 + 20 * k)
        if off + clen > len(data) or clen > olen:
            raise InputError(
                path, f"{where}: WOFF table {tag_str(tag)!r} out of bounds", offset=44 + 20 * k
            )
        blob = data[off : off + clen]
        raw = (
            blob
            if clen == olen
            else _inflate(blob, olen, budget, f"{where}: WOFF table {tag_str(tag)}")
        )
        tables.append((tag, cs, raw))
    return build_sfnt(flavor, tables)


def _r4(n: int) -> int:
    return (n + 3) & ~3


def woff_layout(data: bytes) -> list[StructIssue]:
    """WOFF 1.0 container checks beyond what decoding needs (offsets are file offsets).

    The header's length and totalSfntSize, the reserved field, and the block layout: table data
    must start right after the directory, and the tables, metadata and private blocks must
    follow each other with at most 3 bytes of padding and end the file.
    """
    out: list[StructIssue] = []
    if len(data) < 44:
        return out
    _flavor, length, num, reserved, total = struct.unpack_from(">4sIHHI", data, 4)
    meta_off, meta_len, _meta_orig, priv_off, priv_len = struct.unpack_from(">5I", data, 24)

    def bad(off: int, msg: str, check: str) -> None:
        out.append(StructIssue("WOFF", off, msg, check))

    if length != len(data):
        bad(8, f"WOFF header length {length} differs from the file size {len(data)}", "length")
    if reserved:
        bad(14, f"WOFF header reserved field is {reserved}, must be 0", "reserved")
    if num == 0 or 44 + 20 * num > len(data):
        return out
    recs = [struct.unpack_from(">4sIIII", data, 44 + 20 * k) for k in range(num)]
    want = 12 + 16 * num + sum(_r4(r[3]) for r in recs)
    if total != want:
        bad(16, f"WOFF totalSfntSize {total}, the tables need {want}", "total-size")
    spans = sorted((r[1], r[1] + r[2], tag_str(r[0])) for r in recs)
    dir_end = _r4(44 + 20 * num)
    if spans[0][0] != dir_end:
        bad(
            44,
            f"WOFF table data starts at 0x{spans[0][0]:x}, not right after the directory (0x{dir_end:x})",
            "layout",
        )
    for (_s0, e0, t0), (s1, _e1, t1) in itertools.pairwise(spans):
        if s1 < e0:
            bad(
                s1,
                f"WOFF table {t1!r} at 0x{s1:x} overlaps table {t0!r} (ends 0x{e0:x})",
                "overlap",
            )
        elif s1 > _r4(e0):
            bad(_r4(e0), f"WOFF gap of {s1 - _r4(e0)} bytes before table {t1!r} at 0x{s1:x}", "gap")
    end = _r4(max(e for _s, e, _t in spans))
    for off, ln, what in ((meta_off, meta_len, "metadata"), (priv_off, priv_len, "private data")):
        if not off:
            continue
        if off + ln > len(data):
            bad(off, f"WOFF {what} block 0x{off:x}+{ln} runs past the file", "block")
            return out
        if off != end:
            bad(
                off,
                f"WOFF {what} block at 0x{off:x} does not follow the previous block (0x{end:x})",
                "block",
            )
        end = _r4(max(end, off + ln))
    if end < len(data):
        bad(
            end,
            f"{len(data) - end} bytes after the last WOFF block (0x{end:x}) belong to nothing",
            "trailing",
        )
    return out


def woff2_layout(data: bytes) -> list[StructIssue]:
    """WOFF2 header checks the decoder does not make: length and the reserved field."""
    out: list[StructIssue] = []
    if len(data) < 48:
        return out
    length, _num, reserved = struct.unpack_from(">IHH", data, 8)
    if length != len(data):
        out.append(
            StructIssue(
                "WOFF2",
                8,
                f"WOFF2 header length {length} differs from the file size {len(data)}",
                "length",
            )
        )
    if reserved:
        out.append(
            StructIssue(
                "WOFF2", 14, f"WOFF2 header reserved field is {reserved}, must be 0", "reserved"
            )
        )
    return out


def build_sfnt(flavor: bytes, tables: list[tuple[bytes, int, bytes]]) -> bytes:
    num = len(tables)
    es = max(num.bit_length() - 1, 0)
    sr = (1 << es) * 16
    out = bytearray(struct.pack(">4sHHHH", flavor, num, sr, es, num * 16 - sr))
    off = 12 + 16 * num
    body = bytearray()
    for tag, cs, raw in sorted(tables, key=lambda t: t[0]):
        out += struct.pack(">4sIII", tag, cs, off + len(body), len(raw))
        body += raw + b"\0" * ((-len(raw)) % 4)
    return bytes(out + body)


def _uint_base128(data: bytes, off: int) -> tuple[int, int]:
    """A WOFF2 UIntBase128 (at most 5 bytes, no leading zero byte) and the offset after it."""
    value = 0
    for i in range(5):
        if off + i >= len(data):
            break
        b = data[off + i]
        if i == 0 and b == 0x80:
            break
        value = (value << 7) | (b & 0x7F)
        if value >> 32:
            break
        if not b & 0x80:
            return value, off + i + 1
    raise ValueError(f"bad UIntBase128 at 0x{off:x}")


def _uint255(data: bytes, off: int) -> tuple[int, int]:
    """A WOFF2 255UInt16 and the offset after it."""
    code = data[off]
    if code == 253:
        return int.from_bytes(data[off + 1 : off + 3], "big"), off + 3
    if code in (254, 255):
        return data[off + 1] + (253 if code == 255 else 506), off + 2
    return code, off + 1


_GLYF_LOCA = (10, 11)  # their known-tag indices: transformed when the version is 0


def woff2_stream(data: bytes) -> tuple[int, int, int]:
    """(offset, length) of a WOFF2 file's brotli stream and the bytes its table directory
    says it inflates to (W3C WOFF2 5.1-5.3); ValueError or IndexError when the directory
    does not parse."""
    num_tables = int.from_bytes(data[12:14], "big")
    compressed = int.from_bytes(data[20:24], "big")
    off, want = 48, 0
    for _ in range(num_tables):
        flags = data[off]
        off += 1
        index, version = flags & 0x3F, flags >> 6
        tag = b""
        if index == 0x3F:
            tag, off = data[off : off + 4], off + 4
        orig, off = _uint_base128(data, off)
        glyf_loca = index in _GLYF_LOCA or tag in (b"glyf", b"loca")
        if (version == 0) if glyf_loca else (version != 0):
            orig, off = _uint_base128(data, off)  # the transformed length is what inflates
        want += orig
    if data[4:8] == b"ttcf":  # the collection directory follows the table directory
        off += 4
        fonts, off = _uint255(data, off)
        for _ in range(fonts):
            n, off = _uint255(data, off)
            off += 4
            for _ in range(n):
                _, off = _uint255(data, off)
    if off + compressed > len(data):
        raise ValueError(f"brotli stream of {compressed} bytes runs past the end")
    return off, compressed, want


def _inflates_within(stream: bytes, limit: int) -> bool:
    """True when ``stream`` inflates to at most ``limit`` bytes, found in steps of about a
    mebibyte (never more than a step past the limit in memory); a broken stream is True and
    left to the decoder's own error."""
    import brotli

    step = 1 << 20
    try:
        d = brotli.Decompressor()
        total = len(d.process(stream, output_buffer_limit=step))
        while total <= limit and not d.can_accept_more_data():
            total += len(d.process(b"", output_buffer_limit=step))
    except brotli.error:
        return True
    return total <= limit


def woff2_to_sfnt(data: bytes, budget: Budget, where: str) -> bytes:
    path = budget.path
    if len(data) < 48:
        raise InputError(path, f"{where}: WOFF2 header truncated", offset=0)
    total = int.from_bytes(data[16:20], "big")
    budget.take(total, f"{where}: WOFF2")
    if total > len(data) * budget.limits.max_ratio + 4096:
        raise InputError(
            path, f"{where}: WOFF2 declares {total} bytes, ratio above {budget.limits.max_ratio}"
        )
    try:
        from fontTools.ttLib import woff2
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise InputError(path, f"{where}: WOFF2 needs fontTools and brotli ({exc})") from None
    try:
        start, length, want = woff2_stream(data)
    except (ValueError, IndexError) as exc:
        raise InputError(path, f"{where}: WOFF2 table directory not readable ({exc})") from None
    if want > budget.limits.max_member_bytes:
        raise InputError(path, f"{where}: WOFF2 tables declare {want} bytes, over the member limit")
    if not _inflates_within(data[start : start + length], want):
        raise InputError(
            path,
            f"{where}: WOFF2 brotli stream inflates past the {want} bytes its tables declare",
            offset=start,
        )
    out = io.BytesIO()
    try:
        woff2.decompress(io.BytesIO(data), out)
    except Exception as exc:  # fontTools raises many types on hostile input
        raise InputError(
            path, f"{where}: WOFF2 does not decode ({type(exc).__name__}: {exc})"
        ) from None
    return out.getvalue()
