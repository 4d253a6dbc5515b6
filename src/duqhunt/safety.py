"""Small guards every analyzer shares for names and files that come from input.

``special_file`` says why a path is not a regular file (a FIFO, socket or device would block a
reader or never end), so that walkers open regular files only and list the rest as not
analysed. ``printable`` escapes what a terminal would act on (ESC sequences, other control
characters, bidirectional overrides) in text from input before it is printed anywhere.
``Deadline`` is the time budget of one input, looked at by readers between structures;
``limit_memory`` caps the address space of a worker process that runs a parser (the hard
limits of one input: duqhunt.isolation, and the document workers of duqhunt.docscan).
``digest_file`` hashes an input (and counts a log's lines that are not '#' lines) in one
read: the case's key of a log, the SHA-256 of a host artefact.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def special_file(path: Path | str) -> str | None:
    """None for a regular file (after symlinks); else why it is not read, e.g.
    'not a regular file: a named pipe (FIFO)'. Never opens the path."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"not a regular file: {kind}; not opened"


# C0 and C1 controls, DEL, the Arabic letter mark, zero-width and bidirectional format
# characters, line/paragraph separators, invisible operators, BOM and lone surrogates: shown as
# escapes. With keep_lines, tab and newline are kept (a message of several lines).
_INVISIBLE = (
    "\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff"
)
_UNSAFE_ALL = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
_UNSAFE_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, *, keep_lines: bool = False) -> str:
    """Text safe to print: every control character from input (ESC, BEL, CR, NUL...) and the
    bidi and invisible characters shown as ``\\xHH``/``\\uHHHH`` escapes; with ``keep_lines``
    tabs and newlines stay as they are. Not a markup or HTML escape: callers still escape for
    their output."""
    return (_UNSAFE_LINES if keep_lines else _UNSAFE_ALL).sub(_escape, str(text))


@dataclass(slots=True)
class Deadline:
    """The time budget of one input. Readers look at it between structures (a record, a key,
    a section, a line) and stop there once it is spent, keeping what they have read: the input
    is then partly analysed, and ``reason`` says why. A budget of 0 is spent from the start."""

    seconds: float
    ends: float = field(init=False)

    def __post_init__(self) -> None:
        self.ends = time.monotonic() + self.seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.ends

    def left(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    @property
    def reason(self) -> str:
        return f"time budget of {self.seconds:g} s per file spent"


def limit_memory(extra: int) -> None:
    """Cap this process's address space at what it maps now plus ``extra``. Sizes are checked
    before a parser runs; this is the backstop for a library that inflates past them (a
    brotli or XML bomb): it fails with MemoryError inside the worker, the file is partial or
    not analysed with the reason, and the machine keeps its memory. Only in worker processes:
    the limit is per process, and the main one runs DuckDB and the web app."""
    import resource

    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            now = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = now + extra
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    except (OSError, ValueError):  # no /proc (not Linux) or a limit the system refuses
        log.debug("worker address-space limit not set", exc_info=True)


@dataclass(frozen=True, slots=True)
class FileDigest:
    """What one read of an input gives: its SHA-256 (the case's key for it; "" when not asked
    for, or the file is over the size asked for) and the lines of a plain TSV log that are not
    '#' lines, its data lines and any empty ones (None when not asked for, or for gzip data;
    see LineCounter and count_empty_lines)."""

    sha256: str
    lines: int | None


def digest_file(
    path: Path,
    *,
    sha: bool = True,
    lines: bool = False,
    max_bytes: int | None = None,
    chunk_bytes: int = 1 << 24,
) -> FileDigest:
    """Hash and/or count the lines that are not '#' lines of a file in one pass; a file over
    ``max_bytes`` is not read (sha256 ""). hashlib releases the GIL on large chunks, so this
    runs in a thread beside the engine's reader at little wall-time cost, and its error is seen
    only when the reader is done: an OSError names the file and says it came from this read."""
    # imported here: every analyser imports this module, and the log reader brings pyarrow
    from duqhunt.sources.net.zeek_stream import GZIP_MAGIC, LineCounter

    h = hashlib.sha256() if sha else None
    counter = LineCounter() if lines else None
    try:
        if max_bytes is not None and os.stat(path).st_size > max_bytes:
            return FileDigest("", None)
        with open(path, "rb") as fh:
            first = True
            while chunk := fh.read(chunk_bytes):
                if h is not None:
                    h.update(chunk)
                if counter is not None:
                    if first and chunk[:2] == GZIP_MAGIC:
                        counter = None
                        if h is None:
                            break
                    else:
                        counter.feed(chunk)
                first = False
    except OSError as exc:
        what = "hashing" if sha else "counting the lines of"
        why = f"{exc.strerror or exc} (while {what} the file)"
        raise OSError(exc.errno, why, str(path)) from exc
    return FileDigest(
        "" if h is None else h.hexdigest(), None if counter is None else counter.result()
    )


def sha256_file(path: Path) -> str:
    return digest_file(path).sha256
