"""RTF as text: embedded font groups (\\fontemb with hex \\fontfile data), bounded brace walking."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FONTEMB = re.compile(rb"\{\s*\\\*\s*\\fontemb")
_HEX = re.compile(rb"[0-9A-Fa-f]")
_CTRL = re.compile(rb"\\[a-zA-Z]+-?\d* ?")


@dataclass(frozen=True, slots=True)
class RtfFont:
    offset: int
    data: bytes


def group_end(data: bytes, start: int, limit: int) -> int:
    """Index after the group that opens at data[start] == '{' (bounded by limit bytes)."""
    depth = 0
    i = start
    end = min(len(data), start + limit)
    while i < end:
        c = data[i]
        if c == 0x5C:  # backslash escapes the next byte
            i += 2
            continue
        if c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return end


def embedded_fonts(data: bytes, *, limit_bytes: int, max_fonts: int = 64) -> list[RtfFont]:
    """Hex payloads of {\\*\\fontemb ...} groups (nested {\\*\\fontfile ...} file names skipped)."""
    out: list[RtfFont] = []
    for m in _FONTEMB.finditer(data):
        if len(out) >= max_fonts:
            break
        s = m.start()
        e = group_end(data, s, limit_bytes * 2 + 4096)
        body = data[m.end() : e - 1]
        # drop nested groups (e.g. {\*\fontfile name}) and control words, keep hex digits
        cleaned = bytearray()
        depth = 0
        i = 0
        while i < len(body):
            c = body[i]
            if c == 0x7B:
                depth += 1
            elif c == 0x7D:
                depth -= 1
            elif depth == 0:
                if c == 0x5C:
                    cm = _CTRL.match(body, i)
                    if cm:
                        i = cm.end()
                        continue
                    i += 2
                    continue
                cleaned.append(c)
            i += 1
        hexdigits = b"".join(_HEX.findall(bytes(cleaned)))
        if len(hexdigits) % 2:
            hexdigits = hexdigits[:-1]
        raw = bytes.fromhex(hexdigits.decode("ascii"))[:limit_bytes]
        if raw:
            out.append(RtfFont(s, raw))
    return out
