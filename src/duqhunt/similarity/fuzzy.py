"""Whole-file fuzzy hashes: TLSH (py-tlsh) and ssdeep.

ssdeep comes from the ssdeep project's own C library (libfuzzy, Debian package libfuzzy2) when
it is installed, through ctypes, and otherwise from ppdeep, a maintained pure-Python
implementation of the same algorithm (same hashes, same scores, about 1 MB/s). The ``ssdeep``
binding on PyPI no longer builds, which is why neither path uses it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

#: TLSH needs at least this many bytes (and some variety) to give a hash
TLSH_MIN_BYTES = 50
#: a TLSH distance at or above this is "not similar" (0 on the similarity scale)
TLSH_FAR = 200.0
_FUZZY_MAX_RESULT = 148


@lru_cache(maxsize=1)
def _libfuzzy() -> Any | None:
    name = ctypes.util.find_library("fuzzy")
    for candidate in (name, "libfuzzy.so.2", "libfuzzy.so"):
        if not candidate:
            continue
        try:
            lib = ctypes.CDLL(candidate)
        except OSError:
            continue
        lib.fuzzy_hash_buf.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_char_p]
        lib.fuzzy_hash_buf.restype = ctypes.c_int
        lib.fuzzy_compare.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        lib.fuzzy_compare.restype = ctypes.c_int
        return lib
    return None


def ssdeep_backend() -> str:
    return "libfuzzy" if _libfuzzy() is not None else "ppdeep"


def ssdeep_hash(data: bytes) -> str | None:
    lib = _libfuzzy()
    if lib is not None:
        out = ctypes.create_string_buffer(_FUZZY_MAX_RESULT)
        if lib.fuzzy_hash_buf(data, len(data), out) != 0:
            return None
        return out.value.decode("ascii")
    import ppdeep

    return str(ppdeep.hash(data))


def ssdeep_compare(a: str, b: str) -> int:
    """0..100, as ssdeep scores it; 0 when the block sizes are not comparable."""
    if not _comparable_blocks(a, b):
        return 0
    lib = _libfuzzy()
    if lib is not None:
        score = lib.fuzzy_compare(a.encode("ascii"), b.encode("ascii"))
        return max(0, int(score))
    import ppdeep

    return int(ppdeep.compare(a, b))


def _comparable_blocks(a: str, b: str) -> bool:
    try:
        x, y = int(a.split(":", 1)[0]), int(b.split(":", 1)[0])
    except ValueError:
        return False
    return x == y or x == 2 * y or y == 2 * x


def tlsh_hash(data: bytes) -> str | None:
    import tlsh

    if len(data) < TLSH_MIN_BYTES:
        return None
    h = tlsh.hash(data)
    return h if h and h != "TNULL" else None


def tlsh_similarity(a: str, b: str) -> float:
    """TLSH distance mapped to [0, 1]: 1 identical, 0 at or beyond ``TLSH_FAR``."""
    import tlsh

    d = float(tlsh.diff(a, b))
    return max(0.0, 1.0 - d / TLSH_FAR)


__all__ = [
    "TLSH_FAR",
    "ssdeep_backend",
    "ssdeep_compare",
    "ssdeep_hash",
    "tlsh_hash",
    "tlsh_similarity",
]
