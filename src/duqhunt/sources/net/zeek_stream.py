"""The bytes of a log as readers see them: a guarded stream over a plain or gzip file that stops
cleanly at damage or a limit, and the data-line count every ingest is checked against."""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path
from typing import Any

from duqhunt.sources.net.zeek_limits import Limits

GZIP_MAGIC = b"\x1f\x8b"
# stands in for a line longer than Limits.max_line_bytes, so readers can count and skip it
LONG_LINE_MARK = b"\x00duqhunt-long-line\x00"


class ReadMeter:
    """How far a reader has got through one file: bytes of the file read (the compressed bytes
    of a gzip log) out of its size, for a progress display inside a big file. The reading
    thread writes ``done``; a display in another thread only reads it (one int: no lock)."""

    __slots__ = ("done", "total")

    def __init__(self, total: int) -> None:
        self.done = 0
        self.total = total

    def fraction(self) -> float | None:
        """0..1, or None when the size is unknown (0)."""
        return min(1.0, self.done / self.total) if self.total > 0 else None


class GuardedStream(io.RawIOBase):
    """A binary stream over a plain or gzip file that stops cleanly at damage or limits.

    On a decompression error or an exceeded limit it records why, drops the incomplete last
    line and reports end of file, so that readers keep every complete line before the damage.
    With ``strip_comments`` it also removes lines that start with ``#`` (Zeek's ``#close``).
    """

    def __init__(
        self, path: Path, limits: Limits, *, strip_comments: bool, meter: ReadMeter | None = None
    ) -> None:
        """``meter``: counts the bytes of the file this stream reads (from 0: a reader that
        starts again from the top starts the count again)."""
        super().__init__()
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        magic = self._raw.read(2)
        self._raw.seek(0)
        self._meter = meter
        if meter is not None:
            meter.done = 0
        self.compressed = magic == GZIP_MAGIC
        self._zlib = zlib.decompressobj(wbits=31) if self.compressed else None
        self._in_bytes = 0
        self._limits = limits
        self._strip = strip_comments
        # the header lines a stripping reader expects to see again (a concatenated log)
        self.expected_header: set[bytes] | None = None
        self._pending = b""  # processed bytes waiting to be handed out
        self._carry = b""  # an incomplete line waiting for more data
        self._eof = False
        self.error: str | None = None
        self.out_bytes = 0
        self.lines_emitted = 0
        self.long_lines = 0
        self.header_changed = False
        self._skipping = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._pending and not self._eof:
            try:
                chunk = self._read_chunk()
            except (EOFError, OSError, zlib.error) as exc:
                self.error = f"compressed data truncated or corrupt ({exc})"
                self._carry = b""  # never hand out a partial line
                self._eof = True
                return
            if not chunk:
                self._eof = True
                if self._carry:
                    self._emit(self._carry + b"\n")
                    self._carry = b""
                return
            self.out_bytes += len(chunk)
            if self.out_bytes > self._limits.max_decompressed_bytes:
                self.error = "decompressed size limit exceeded"
                self._eof = True
                self._carry = b""
                return
            if self.compressed and self.out_bytes > self._limits.ratio_floor_bytes:
                consumed = max(1, self._in_bytes)
                if self.out_bytes / consumed > self._limits.max_ratio:
                    self.error = (
                        f"decompression ratio above {self._limits.max_ratio:.0f}:1 "
                        "(possible compression bomb)"
                    )
                    self._eof = True
                    self._carry = b""
                    return
            buf = self._carry + chunk
            if self._skipping:
                nl = buf.find(b"\n")
                if nl < 0:
                    self._carry = b""
                    continue
                self._skipping = False
                buf = buf[nl + 1 :]
                self._emit(LONG_LINE_MARK + b"\n")
            cut = buf.rfind(b"\n")
            if cut < 0:
                self._carry = buf
                if len(buf) > self._limits.max_line_bytes:
                    # a line longer than the limit: drop it up to its newline, then go on
                    self._carry = b""
                    self._skipping = True
                continue
            self._carry = buf[cut + 1 :]
            if len(self._carry) > self._limits.max_line_bytes:
                self._carry = b""
                self._skipping = True
            self._emit(buf[: cut + 1])

    def _read_chunk(self) -> bytes:
        """Up to about 1 MiB of (decompressed) data; b'' at a clean end of file.

        Gzip is decoded here with zlib so that the data before a truncation or corruption is
        kept (GzipFile drops a whole read buffer on error). Every member of a multi-member file
        (concatenated rotations, bgzip blocks) is read; zero padding after the last is ignored.
        """
        if self._zlib is None:
            return self._read_raw(1 << 20)
        while True:
            if self._zlib.eof:
                data = self._zlib.unused_data
                if not data:
                    data = self._read_raw(1 << 18)
                    self._in_bytes += len(data)
                if not data or not data.strip(b"\x00"):
                    if data:  # zero padding: the rest of the file must be zeros too
                        while more := self._read_raw(1 << 18):
                            if more.strip(b"\x00"):
                                raise zlib.error("data after the zero padding of a gzip file")
                    return b""
                self._zlib = zlib.decompressobj(wbits=31)
            elif self._zlib.unconsumed_tail:
                data = self._zlib.unconsumed_tail
            else:
                data = self._read_raw(1 << 18)
                self._in_bytes += len(data)
                if not data:
                    raise EOFError("compressed stream ends before its end marker")
            out = self._zlib.decompress(data, 1 << 20)
            if out:
                return out

    def _read_raw(self, size: int) -> bytes:
        data = self._raw.read(size)
        if self._meter is not None:
            self._meter.done += len(data)
        return data

    def _emit(self, lines: bytes) -> None:
        self.lines_emitted += lines.count(b"\n")
        if self._limits.max_line_bytes < (1 << 20) and lines:
            # lines inside one chunk can exceed a limit smaller than the chunk: mark them
            parts = lines.split(b"\n")
            if max(map(len, parts)) > self._limits.max_line_bytes:
                lim = self._limits.max_line_bytes
                lines = b"\n".join(p if len(p) <= lim else LONG_LINE_MARK for p in parts)
        if LONG_LINE_MARK in lines:
            self.long_lines += lines.count(LONG_LINE_MARK)
        if self._strip and (lines.startswith(b"#") or b"\n#" in lines):
            kept = []
            for ln in lines.splitlines(keepends=True):
                if ln.startswith(b"#"):
                    if ln.startswith((b"#fields", b"#types", b"#separator")) and (
                        self.expected_header is None
                        or ln.rstrip(b"\r\n") not in self.expected_header
                    ):
                        self.header_changed = True
                    continue
                kept.append(ln)
            lines = b"".join(kept)
        self._pending += lines

    def readinto(self, b: Any) -> int:
        self._fill()
        n = min(len(b), len(self._pending))
        b[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def readline_raw(self) -> bytes:
        """One line including its newline, b'' at the end (used for headers)."""
        while b"\n" not in self._pending and not self._eof:
            before = len(self._pending)
            self._fill_more()
            if len(self._pending) == before and self._eof:
                break
        idx = self._pending.find(b"\n")
        if idx < 0:
            line, self._pending = self._pending, b""
            return line
        line, self._pending = self._pending[: idx + 1], self._pending[idx + 1 :]
        return line

    def _fill_more(self) -> None:
        saved, self._pending = self._pending, b""
        self._fill()
        self._pending = saved + self._pending

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


_EMPTY_LINE = re.compile(rb"\n(?=(\r?\n))")  # a line end followed by an empty line's end


class LineCounter:
    """Counts the lines of a plain TSV log fed in chunks that are not '#' lines: its data lines
    and its empty lines, if any. Every reader must account for each data line as a row stored
    or a row skipped (see CaseStore's row accounting). This runs over every ingested log, so it
    does C-speed counts per chunk and nothing per line. Empty lines are not looked for here:
    finding them in each chunk cost as much as the count (a regex stop at every line end, 0.7
    CPU s per 10M lines), and a log rarely has one; count_empty_lines reads the file again in
    the rare case where the rows read do not add up."""

    __slots__ = ("_comments", "_newlines", "_tail")

    def __init__(self) -> None:
        self._newlines = self._comments = 0
        self._tail = b"\n"  # the last byte seen, as if a line ended just before the data

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._newlines += chunk.count(b"\n")
        if b"#" in chunk:  # memchr speed; '#' lines (header, #close) are in a chunk or two
            self._comments += chunk.count(b"\n#")
        self._comments += self._tail == b"\n" and chunk[:1] == b"#"
        self._tail = chunk[-1:]

    def result(self) -> int:
        lines = self._newlines + (self._tail != b"\n")  # an unfinished last line is a line
        return lines - self._comments


def count_empty_lines(path: Path, chunk_bytes: int = 1 << 24) -> int:
    """The empty lines of a plain text file (nothing, or a lone carriage return, between two
    line ends; an unfinished last line that is a lone carriage return), read in chunks. Called
    only when a log's rows do not add up to LineCounter's count, which includes them. An
    OSError names the file and says it came from this read."""
    empty = 0
    tail = b"\n"  # as if a line ended just before the data
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(chunk_bytes):
                buf = tail + chunk
                # an empty line that ends inside the tail was counted with the chunk before
                empty += sum(m.end(1) > len(tail) for m in _EMPTY_LINE.finditer(buf))
                tail = buf[-2:]
    except OSError as exc:
        why = f"{exc.strerror or exc} (while counting the empty lines of the file)"
        raise OSError(exc.errno, why, str(path)) from exc
    return empty + (tail == b"\n\r")
