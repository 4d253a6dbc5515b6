"""Embedded OpenType (W3C EOT, also .doc SttbTtmbd and .ppt/.pptx embedded fonts) as data.

Parses the little-endian header and names, undoes the XOR-0x50 obfuscation, and decodes
MicroType Express (MTX) compression (TTEMBED_TTCOMPRESSED) with ``mtx.decode_mtx``: the
returned ``font_data`` is then a plain sfnt and ``mtx`` is set, so a compressed font gets the same
analysis as an uncompressed one. A malformed or unsupported MTX stream raises ``InputError``.
``compressed`` means "``font_data`` is still compressed" and is only true with ``decode=False``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from duqhunt.errors import InputError
from duqhunt.sources.office.limits import Budget
from duqhunt.sources.office.mtx import decode_mtx

EOT_MAGIC = 0x504C
TTEMBED_TTCOMPRESSED = 0x00000004
TTEMBED_XORENCRYPTDATA = 0x10000000
VERSIONS = (0x00010000, 0x00020001, 0x00020002)


@dataclass(frozen=True, slots=True)
class Eot:
    size: int
    version: int
    flags: int
    family_name: str
    style_name: str
    full_name: str
    font_offset: int
    font_data: bytes
    compressed: bool
    xored: bool
    mtx: bool = False  # font_data was MTX-decoded
    mtx_size: int = 0  # size of the MTX stream it was decoded from


def describe(eot: Eot) -> str:
    """How the font data was recovered, for locators: 'EOT, MTX-decoded, XOR 0x50 undone'."""
    parts = ["EOT"]
    if eot.mtx:
        parts.append("MTX-decoded")
    if eot.xored:
        parts.append("XOR 0x50 undone")
    return ", ".join(parts)


def _name(data: bytes, p: int, path: str, where: str, what: str) -> tuple[str, int]:
    if p + 4 > len(data):
        raise InputError(path, f"{where}: EOT {what} runs past the header", offset=p)
    size = int.from_bytes(data[p + 2 : p + 4], "little")  # padding u16 then size u16
    p += 4
    if p + size > len(data):
        raise InputError(path, f"{where}: EOT {what} of {size} bytes runs past the end", offset=p)
    text = data[p : p + size].decode("utf-16-le", "replace")
    return text, p + size


def parse_eot(
    data: bytes, path: str, where: str, *, budget: Budget | None = None, decode: bool = True
) -> Eot:
    """Parse an EOT; with ``decode`` an MTX-compressed font is decoded into ``font_data``."""
    if len(data) < 82:
        raise InputError(path, f"{where}: EOT header truncated", offset=0)
    size, fsize, version, flags = struct.unpack_from("<IIII", data, 0)
    if int.from_bytes(data[34:36], "little") != EOT_MAGIC:
        raise InputError(path, f"{where}: EOT magic 0x504C missing", offset=34)
    if size > len(data):
        raise InputError(
            path, f"{where}: EOTSize {size} larger than the data ({len(data)})", offset=0
        )
    if fsize > size or fsize == 0:
        raise InputError(
            path, f"{where}: FontDataSize {fsize} impossible for EOTSize {size}", offset=4
        )
    if version not in VERSIONS:
        raise InputError(path, f"{where}: unknown EOT version 0x{version:08x}", offset=8)
    # Padding1 at 80, FamilyNameSize at 82.
    p = 80
    fam, p = _name(data, p, path, where, "FamilyName")
    style, p = _name(data, p, path, where, "StyleName")
    _ver, p = _name(data, p, path, where, "VersionName")
    full, p = _name(data, p, path, where, "FullName")
    font_off = size - fsize
    if font_off < p:
        raise InputError(path, f"{where}: EOT font data overlaps the header", offset=font_off)
    raw = data[font_off:size]
    xored = bool(flags & TTEMBED_XORENCRYPTDATA)
    if xored:
        raw = bytes(b ^ 0x50 for b in raw)
    compressed = bool(flags & TTEMBED_TTCOMPRESSED)
    if compressed and decode:
        sfnt = decode_mtx(raw, path, f"{where}, EOT font data", offset=font_off, budget=budget)
        return Eot(
            size, version, flags, fam, style, full, font_off, sfnt, False, xored, True, len(raw)
        )
    return Eot(size, version, flags, fam, style, full, font_off, raw, compressed, xored)


def mtx_locator(data: bytes, path: str, where: str, budget: Budget | None = None) -> str:
    """Locator suffix for a font that may be an MTX-compressed EOT: " (MTX-decoded)" when it is
    one and decodes, " (MTX-compressed)" when decoding fails (the font analysis reports why),
    "" otherwise. A successful decode is cached, so the analysis does not decode again."""
    if len(data) < 82 or int.from_bytes(data[34:36], "little") != EOT_MAGIC:
        return ""
    if not int.from_bytes(data[12:16], "little") & TTEMBED_TTCOMPRESSED:
        return ""
    try:
        parse_eot(data, path, where, budget=budget)
    except InputError:
        return " (MTX-compressed)"
    return " (MTX-decoded)"


def carve_eots(data: bytes, *, limit: int = 64) -> list[int]:
    """Start offsets of plausible EOT structures inside a stream (magic at +34, sizes consistent)."""
    out: list[int] = []
    pos = 34
    while len(out) < limit:
        o = data.find(b"LP", pos)
        if o < 0:
            break
        pos = o + 1
        s = o - 34
        if s < 0 or s + 82 > len(data):
            continue
        size, fsize, version = struct.unpack_from("<III", data, s)
        if version in VERSIONS and 0 < fsize < size <= len(data) - s:
            out.append(s)
            pos = s + size
    return out


def build_eot(
    font: bytes,
    *,
    family: str,
    full: str = "",
    xor: bool = False,
    version: int = 0x00020001,
    compressed: bool = False,
) -> bytes:
    """An EOT wrapper around sfnt bytes, or MTX bytes with ``compressed`` (used by tests and to
    describe the format)."""
    body = bytes(b ^ 0x50 for b in font) if xor else font
    flags = TTEMBED_XORENCRYPTDATA if xor else 0
    if compressed:
        flags |= TTEMBED_TTCOMPRESSED

    def nm(s: str) -> bytes:
        b = s.encode("utf-16-le")
        return struct.pack("<HH", 0, len(b)) + b

    names = nm(family) + nm("Regular") + nm("Version 1.0") + nm(full or family)
    if version != 0x00010000:
        names += struct.pack("<HH", 0, 0)  # Padding5, RootStringSize 0
    hdr_tail = bytes(10) + b"\x01\x00" + struct.pack("<IH", 400, 0) + struct.pack("<H", EOT_MAGIC)
    hdr_tail += bytes(16 + 8) + struct.pack("<I", 0) + bytes(16)
    size = 16 + len(hdr_tail) + len(names) + len(body)
    return struct.pack("<IIII", size, len(body), version, flags) + hdr_tail + names + body
