"""Byte-level traits shared by the font and container checks: shellcode, embedded PE, entropy."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from duqhunt.sources.office.limits import BytePattern, DocContent

_PE_RE = re.compile(rb"MZ")
_DOS_STUB = b"This program cannot be run in DOS mode"


@dataclass(frozen=True, slots=True)
class Hit:
    offset: int
    kind: str
    name: str


def entropy(data: bytes) -> float:
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def find_pe(data: bytes, limit: int = 64) -> list[int]:
    """Offsets of MZ headers whose e_lfanew points at a PE signature (or a DOS stub message)."""
    found: list[int] = []
    for m in _PE_RE.finditer(data):
        o = m.start()
        if o + 0x40 > len(data):
            break
        lfanew = int.from_bytes(data[o + 0x3C : o + 0x40], "little")
        if (
            0x40 <= lfanew < 0x1000 and data[o + lfanew : o + lfanew + 4] == b"PE\0\0"
        ) or _DOS_STUB in data[o : o + 0x100]:
            found.append(o)
        if len(found) >= limit:
            break
    return found


_ANY_PATTERN: dict[int, tuple[tuple[BytePattern, ...], re.Pattern[bytes]]] = {}


def _any_pattern(patterns: tuple[BytePattern, ...]) -> re.Pattern[bytes]:
    """One regex that matches where any of the patterns occurs (a pre-check: most data has
    none), kept per patterns tuple (by identity: hashing 29 dataclasses per call was slower)."""
    got = _ANY_PATTERN.get(id(patterns))
    if got is not None and got[0] is patterns:
        return got[1]
    rx = re.compile(b"|".join(re.escape(p.pattern) for p in patterns) or b"(?!)")
    if len(_ANY_PATTERN) > 8:
        _ANY_PATTERN.clear()
    _ANY_PATTERN[id(patterns)] = (patterns, rx)
    return rx


def shellcode_hits(
    data: bytes, content: DocContent, *, nops: bool = True, limit: int = 32
) -> list[Hit]:
    hits: list[Hit] = []
    any_hit = _any_pattern(content.patterns).search(data) is not None
    for p in content.patterns if any_hit else ():
        start = 0
        while len(hits) < limit:
            o = data.find(p.pattern, start)
            if o < 0:
                break
            hits.append(Hit(o, p.kind, p.name))
            start = o + 1
    if nops:
        for b in content.nop_bytes:
            run = bytes([b]) * content.nop_min
            o = data.find(run)
            if o >= 0:
                hits.append(Hit(o, "nop-run", f"run of 0x{b:02x} bytes (>= {content.nop_min})"))
    hits.sort(key=lambda h: h.offset)
    return hits[:limit]
