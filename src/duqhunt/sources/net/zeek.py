"""Read Zeek logs as Zeek writes them: TSV with its header, or JSON lines; plain or gzip.

A log file becomes a stream of Arrow tables in canonical form (see ``zeek_schema``): dotted
names renamed, times as DOUBLE epoch seconds, ``-`` as NULL, ``(empty)`` as an empty string or
list, sets and vectors as lists, ``\\xHH`` and ``\\\\`` escapes decoded.

Two paths read TSV. The fast path hands the data to pyarrow's multi-threaded CSV reader with the
column types the ``#types`` line gives; it only accepts a file that is entirely clean. Any doubt
(a row with the wrong field count, a value that does not convert, a bad escape, bytes that are
not UTF-8) sends the whole file to the exact path, which reads it line by line, converts it
column by column with Arrow, and skips each bad row with a warning that names the file and line.
A truncated or corrupt gzip stream keeps every complete line before the damage.

Nothing here raises anything but ``InputError`` for a file that cannot be read at all (no
``#fields`` line, not a Zeek log); damage inside a readable file becomes warnings.

Beside it: ``zeek_limits`` (the limits and per-file statistics every reader keeps),
``zeek_stream`` (the guarded byte stream and the data-line count), ``zeek_json`` (JSON lines).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from duqhunt.errors import InputError
from duqhunt.sources.net.zeek_json import JSON_META, infer_ztype, json_log_type, read_json
from duqhunt.sources.net.zeek_limits import Limits, ParseStats, bad_float_rows
from duqhunt.sources.net.zeek_schema import (
    LOGS,
    arrow_type,
    canonical_name,
    container_inner,
    known_types,
)
from duqhunt.sources.net.zeek_stream import GZIP_MAGIC, LONG_LINE_MARK, GuardedStream, ReadMeter

log = logging.getLogger(__name__)

_LOG_NAME = re.compile(r"^([A-Za-z0-9_\-]+?)(?:[._]\d|\.log|\.json|\.ndjson|\.gz|$)")


class _DirtyFile(Exception):
    """Raised inside the fast path: this file needs the exact path."""


# --------------------------------------------------------------------------------------------
# log type detection

_UNSAFE_NAME = re.compile(r"[^a-z0-9_]+")


def safe_log_type(name: str) -> str:
    """A log type from input (``#path``, JSON ``_path``, a file name) as a name safe for a
    folder and a SQL view: lowercase letters, digits and '_', at most 64, else 'unknown'."""
    safe = _UNSAFE_NAME.sub("_", canonical_name(name.lower()))[:64].strip("_")
    return safe or "unknown"


def guess_log_type(path: Path) -> str:
    """``conn.00:00:00-01:00:00.log.gz`` -> ``conn``; ``dns_20240101.log`` -> ``dns``;
    ``NASHUA_conn.log`` -> ``conn``. A name that names no Zeek log gives its first part."""
    from duqhunt.sources.net.dialects import log_type_from_name

    named = log_type_from_name(path.name)
    if named:
        return named
    m = _LOG_NAME.match(path.name)
    return (m.group(1) if m else path.name.split(".")[0]).lower()


def _more_lines(path: Path, limits: Limits) -> list[bytes]:
    stream = GuardedStream(path, limits, strip_comments=False)
    try:
        return [stream.readline_raw() for _ in range(limits.max_header_lines)]
    finally:
        stream.close()


def sniff(path: Path, limits: Limits | None = None) -> str | None:
    """'tsv', 'json' or None (not a Zeek log) from the first lines, decompressing if needed.

    JSON lines: the first line is a JSON object. TSV: a ``#fields`` line among the first
    header lines. A 0-byte file is not a log (it has nothing to analyse)."""
    lim = limits or Limits()
    stream = GuardedStream(path, lim, strip_comments=False)
    try:
        first = stream.readline_raw()
        head = [first]
        while len(head) < lim.max_header_lines and head[-1].startswith(b"#"):
            nxt = stream.readline_raw()
            if not nxt:
                break
            head.append(nxt)
    finally:
        stream.close()
    text = first.lstrip()
    if text.startswith(b"{"):
        try:
            if isinstance(json.loads(text), dict):
                return "json"
        except RecursionError:
            return "json"  # an object nested too deep: a bad row of a JSON log
        except (ValueError, UnicodeDecodeError):
            # a damaged first line: a TSV header further down says TSV, else JSON lines
            return (
                "tsv" if any(h.startswith(b"#fields") for h in _more_lines(path, lim)) else "json"
            )
    if text.startswith(b"#") and any(h.startswith(b"#fields") for h in head):
        return "tsv"
    if text.startswith(b"#separator"):
        return "tsv"  # a header without #fields: the reader says so, naming the line
    if _csv_header(first):
        return "csv"
    return None


# a CSV export's header names one of these (Splunk, Kibana/Security Onion, Zeek's own names)
_CSV_KEYS = frozenset(
    {
        "_time",
        "_raw",
        "sourcetype",
        "id.orig_h",
        "id_orig_h",
        "source.ip",
        "@timestamp",
        "event.dataset",
        "log.id.uid",
        "_path",
        "@stream",
    }
)


def _csv_header(first: bytes) -> bool:
    """A comma-separated header line that names a Zeek or export field (CSV exports)."""
    try:
        line = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return False
    if "," not in line or len(line) > 65536:
        return False
    names = {n.strip().strip('"') for n in line.split(",")}
    zeekish = bool(names & _CSV_KEYS) or {"ts", "uid"} <= names
    return zeekish and all(n and len(n) < 128 for n in names)


# --------------------------------------------------------------------------------------------
# value conversion shared by both TSV paths


def _unescape(value: str) -> str | None:
    """Zeek ASCII escapes: ``\\\\`` is a backslash, ``\\xHH`` a byte. None on a bad escape."""
    if "\\" not in value:
        return value
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = value[i + 1 : i + 2]
        if nxt == "\\":
            out += b"\\"
            i += 2
        elif nxt == "x" and i + 4 <= n and _is_hex(value[i + 2 : i + 4]):
            out.append(int(value[i + 2 : i + 4], 16))
            i += 4
        else:
            return None
    return out.decode("utf-8", errors="backslashreplace")


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)


@dataclass(frozen=True, slots=True)
class TsvColumn:
    """One column of a TSV log: Zeek name, canonical name, the Zeek type to convert with."""

    zeek_name: str
    name: str
    zeek_type: str
    arrow_type: pa.DataType


@dataclass(frozen=True, slots=True)
class TsvPlan:
    """What an engine needs to read a clean TSV log itself (DuckDB or Spark, in parallel)."""

    path: Path
    log_type: str
    compressed: bool
    separator: str
    set_separator: str
    empty_field: str
    unset_field: str
    header_lines: int
    columns: tuple[TsvColumn, ...]
    # the header lines as written (a later #fields/#types line not among them changes the
    # columns), and where an engine reads the file when it is not ``path`` (a URI)
    raw_header: frozenset[str] = frozenset()
    # the plausible span of ts (Limits.ts_bounds): a row outside it, or any NaN/Inf float,
    # is a bad row for the engine's reader as for the exact one
    ts_bounds: tuple[float, float] = (631_152_000.0, 4.1e9)
    location: str | None = None

    def source(self) -> str:
        return self.location or str(self.path)


@dataclass(frozen=True, slots=True)
class JsonPlan:
    """What an engine needs to read a JSON-lines log itself: the fields it reads, as
    (Zeek name, Zeek type): every field the schema map knows for the log, then the keys of the
    first lines that it does not know, typed from their first value as the exact reader does.
    Keys first seen later in the file are not read by the engine."""

    path: Path
    log_type: str
    compressed: bool
    fields: tuple[tuple[str, str], ...]
    # the field that names each row's log type (_path, @stream): a row naming another type
    # sends the file back to the exact reader
    type_key: str | None = None
    location: str | None = None
    ts_bounds: tuple[float, float] = (631_152_000.0, 4.1e9)

    def source(self) -> str:
        return self.location or str(self.path)


@dataclass(frozen=True, slots=True)
class _Header:
    separator: str
    set_separator: str
    empty_field: str
    unset_field: str
    path: str | None
    fields: list[str]
    types: list[str]
    lines: int
    raw: frozenset[bytes] = frozenset()


def _header_value(raw: str, key: str, sep: str = "\t") -> str:
    rest = raw[len(key) :]
    if sep and rest.startswith(sep):
        return rest[len(sep) :]
    return rest[1:] if rest[:1] in ("\t", " ") else rest


def _parse_header(stream: GuardedStream, path: Path, limits: Limits) -> _Header:
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    log_path: str | None = None
    fields: list[str] | None = None
    types: list[str] | None = None
    lines = 0
    raw_lines: set[bytes] = set()
    while True:
        line_b = stream.readline_raw()
        if not line_b:
            break
        lines += 1
        if not line_b.startswith(b"#"):
            # first data line: push it back
            stream._pending = line_b + stream._pending
            lines -= 1
            break
        if lines > limits.max_header_lines:
            raise InputError(str(path), "header longer than the limit", line=lines)
        raw_lines.add(line_b.rstrip(b"\r\n"))
        try:
            line = line_b.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputError(str(path), "header is not UTF-8", line=lines) from None
        if line.startswith("#separator"):
            val = _header_value(line, "#separator")
            decoded = _unescape(val.strip())
            if not decoded:
                raise InputError(str(path), f"bad #separator {val!r}", line=lines)
            sep = decoded
        elif line.startswith("#set_separator"):
            set_sep = _unescape(_header_value(line, "#set_separator", sep)) or ","
        elif line.startswith("#empty_field"):
            empty = _header_value(line, "#empty_field", sep)
        elif line.startswith("#unset_field"):
            unset = _header_value(line, "#unset_field", sep)
        elif line.startswith("#path"):
            log_path = _header_value(line, "#path", sep).strip() or None
        elif line.startswith("#fields"):
            fields = line.split(sep)[1:]
        elif line.startswith("#types"):
            types = line.split(sep)[1:]
    if not fields:
        raise InputError(str(path), "no #fields line in the header: not a Zeek TSV log", line=1)
    if types is None:
        types = ["string"] * len(fields)
    if len(types) != len(fields):
        raise InputError(
            str(path),
            f"#types has {len(types)} entries but #fields has {len(fields)}",
            line=lines,
        )
    if len(set(fields)) != len(fields):
        raise InputError(str(path), "duplicate names in #fields", line=lines)
    return _Header(sep, set_sep, empty, unset, log_path, fields, types, lines, frozenset(raw_lines))


def _target_type(log_type: str, name: str, zeek_type: str) -> tuple[str, pa.DataType]:
    """The Zeek type to convert with: the schema map's for known fields, else the header's."""
    known = known_types(log_type).get(name)
    ztype = known if known is not None else zeek_type
    return ztype, arrow_type(ztype)


def _find_bad(values: pa.Array, check: Callable[[str], bool]) -> list[int]:
    bad: list[int] = []
    for i, v in enumerate(values.to_pylist()):
        if v is not None and not check(v):
            bad.append(i)
    return bad


def _arrow_accepts(target: pa.DataType) -> Callable[[str], bool]:
    """Whether Arrow's cast takes a value: the one judge of a number for both paths."""

    def check(v: str) -> bool:
        try:
            pc.cast(pa.array([v], pa.string()), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
        return True

    return check


def _convert_strings(arr: pa.Array, ztype: str, hdr: _Header) -> tuple[pa.Array, dict[int, str]]:
    """Convert a string column to its canonical type. Returns the array and bad rows."""
    bad: dict[int, str] = {}
    target = arrow_type(ztype)
    inner = container_inner(ztype)
    if inner is not None:
        is_empty = pc.fill_null(pc.equal(arr, hdr.empty_field), False)
        split = pc.split_pattern(arr, hdr.set_separator)
        if pc.any(pc.match_substring(arr, "\\")).as_py():
            py = split.to_pylist()
            for i, elems in enumerate(py):
                if elems is None:
                    continue
                dec = [_unescape(e) for e in elems]
                if any(d is None for d in dec):
                    bad[i] = "bad escape sequence"
                    py[i] = None
                else:
                    py[i] = dec
            split = pa.array(py, type=pa.list_(pa.string()))
        empty_list = pa.array([[]] * len(arr), type=pa.list_(pa.string()))
        split = pc.if_else(is_empty, empty_list, split)
        inner_t = target.value_type
        if inner_t != pa.string():
            try:
                return pc.cast(split, target), bad
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                flat_check = _arrow_accepts(inner_t)
                py = split.to_pylist()
                for i, elems in enumerate(py):
                    if elems and not all(flat_check(e) for e in elems):
                        bad[i] = f"value not a valid {ztype}"
                        py[i] = None
                return pc.cast(pa.array(py, type=pa.list_(pa.string())), target), bad
        return split, bad
    if target == pa.string():
        out = pc.if_else(pc.fill_null(pc.equal(arr, hdr.empty_field), False), "", arr)
        if pc.any(pc.match_substring(out, "\\")).as_py():
            vals: list[str | None] = out.to_pylist()
            for i, v in enumerate(vals):
                if v is not None and "\\" in v:
                    decoded = _unescape(v)
                    if decoded is None:
                        bad[i] = "bad escape sequence"
                    vals[i] = decoded
            out = pa.array(vals, type=pa.string())
        return out, bad
    if target == pa.bool_():
        is_t = pc.equal(arr, "T")
        is_f = pc.equal(arr, "F")
        valid = pc.or_(is_t, is_f)
        invalid = pc.and_(pc.invert(pc.fill_null(valid, True)), pc.is_valid(arr))
        for i in pc.indices_nonzero(invalid).to_pylist():
            bad[i] = f"value not a valid {ztype}"
        return pc.if_else(valid, is_t, pa.scalar(None, pa.bool_())), bad
    try:
        return pc.cast(arr, target), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        idx = _find_bad(arr, _arrow_accepts(target))
        for i in idx:
            bad[i] = f"value not a valid {ztype}"
        mask = pa.array([True] * len(arr))
        if idx:
            flags = [True] * len(arr)
            for i in idx:
                flags[i] = False
            mask = pa.array(flags)
        cleaned = pc.if_else(mask, arr, pa.scalar(None, pa.string()))
        return pc.cast(cleaned, target), bad


# --------------------------------------------------------------------------------------------
# the TSV reader


class BatchSink(Protocol):
    """Where a reader puts its tables. ``reset`` drops everything written so far."""

    def write(self, table: pa.Table) -> None: ...

    def reset(self) -> None: ...


class ListSink:
    """A sink that keeps the tables in memory."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        self.tables.append(table)

    def reset(self) -> None:
        self.tables.clear()

    def table(self) -> pa.Table:
        if not self.tables:
            return pa.table({})
        return pa.concat_tables(self.tables, promote_options="permissive")


class ZeekLog:
    """One Zeek log file. Iterate ``batches()`` for canonical Arrow tables; then read ``stats``.

    Raises ``InputError`` from the constructor when the file is not a readable Zeek log.
    """

    def __init__(
        self,
        path: Path,
        limits: Limits | None = None,
        *,
        log_type: str | None = None,
        type_key: str | None = None,
    ) -> None:
        """``log_type``: the type the caller recognised (see dialects.recognise); otherwise it
        comes from ``#path``, a JSON ``_path``/``@stream``, or the name. ``type_key``: the JSON
        field that names each row's log type; a row naming another type raises MixedLogTypes
        (read the file as an export)."""
        self.path = Path(path)
        self.limits = limits or Limits()
        fmt = sniff(self.path, self.limits)
        if fmt is None:
            if self.path.stat().st_size == 0:
                raise InputError(str(self.path), "empty file: nothing to analyse")
            raise InputError(
                str(self.path), "not a Zeek log (no #separator/#fields header, not JSON lines)"
            )
        if fmt == "csv":
            raise InputError(str(self.path), "a CSV export, not a Zeek log: read it as an export")
        self.fmt = fmt
        self.type_key = type_key
        self._header: _Header | None = None
        declared = log_type
        log_type = guess_log_type(self.path)
        if fmt == "tsv":
            stream = GuardedStream(self.path, self.limits, strip_comments=False)
            try:
                self._header = _parse_header(stream, self.path, self.limits)
            finally:
                stream.close()
            if self._header.path:
                log_type = self._header.path
        else:
            log_type = json_log_type(self.path, self.limits) or log_type
        self.log_type = safe_log_type(declared or log_type)
        self.stats = ParseStats(str(self.path), self.log_type, fmt)
        # how far read_into has got, for a progress display in another thread
        self.meter = ReadMeter(self.path.stat().st_size)

    def tsv_plan(self) -> TsvPlan | None:
        """The plan for an engine-native reader, or None (JSON, or a header it cannot take)."""
        hdr = self._header
        if hdr is None or len(hdr.separator) != 1 or len(hdr.set_separator) != 1:
            return None
        cols = []
        for name, zt in zip(hdr.fields, hdr.types, strict=True):
            ztype, target = _target_type(self.log_type, name, zt)
            cols.append(TsvColumn(name, canonical_name(name), ztype, target))
        if len({c.name for c in cols}) != len(cols):
            return None
        return TsvPlan(
            path=self.path,
            log_type=self.log_type,
            compressed=self._compressed(),
            separator=hdr.separator,
            set_separator=hdr.set_separator,
            empty_field=hdr.empty_field,
            unset_field=hdr.unset_field,
            header_lines=hdr.lines,
            columns=tuple(cols),
            raw_header=frozenset(r.decode("utf-8", errors="replace") for r in hdr.raw),
            ts_bounds=self.limits.ts_bounds(),
        )

    def json_plan(self, sample_lines: int = 1000) -> JsonPlan | None:
        """The plan for an engine-native JSON reader, or None (TSV, or clashing names)."""
        if self.fmt != "json":
            return None
        known = LOGS.get(self.log_type, [])
        names = {n for n, _ in known}
        extra: dict[str, str] = {}
        stream = GuardedStream(self.path, self.limits, strip_comments=False)
        try:
            for _ in range(sample_lines):
                raw = stream.readline_raw()
                if not raw:
                    break
                if len(raw) > self.limits.max_line_bytes:
                    continue
                try:
                    obj = json.loads(raw)
                except (ValueError, UnicodeDecodeError, RecursionError):
                    continue
                if not isinstance(obj, dict):
                    continue
                for key, value in obj.items():
                    if key in names or key in extra or key in JSON_META or not key:
                        continue
                    extra[key] = infer_ztype(value)
        finally:
            stream.close()
        # a sensor that writes id_orig_h for id.orig_h (RockNSM): read the name it wrote
        canon = {canonical_name(n): n for n, _ in known}
        written = {canon[k]: k for k in list(extra) if k in canon}
        for k in written.values():
            extra.pop(k)
        fields = (*((written.get(n, n), t) for n, t in known), *extra.items())
        if len({canonical_name(n) for n, _ in fields}) != len(fields):
            return None
        return JsonPlan(
            self.path,
            self.log_type,
            self._compressed(),
            fields,
            self.type_key,
            ts_bounds=self.limits.ts_bounds(),
        )

    def _compressed(self) -> bool:
        with open(self.path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC

    def read_into(self, sink: BatchSink) -> ParseStats:
        """Stream canonical tables into ``sink``; returns the parse statistics.

        When the fast path finds the file is not clean it calls ``sink.reset()`` and the exact
        path starts again from the top, so a sink must be able to drop what it was given.
        """
        if self.fmt == "json":
            reader = read_json(
                self.path, self.log_type, self.limits, self.stats, self.type_key, self.meter
            )
            for table in reader:
                sink.write(table)
            return self.stats
        assert self._header is not None
        try:
            for table in self._fast_tsv(self._header):
                sink.write(table)
        except _DirtyFile as exc:
            log.info("%s: exact reader (%s)", self.path, exc)
            sink.reset()
            self.stats = ParseStats(str(self.path), self.log_type, self.fmt)
            for table in self._exact_tsv(self._header):
                sink.write(table)
        return self.stats

    def read_table(self) -> pa.Table:
        """The whole log as one table (small files and tests)."""
        sink = ListSink()
        self.read_into(sink)
        return sink.table()

    # -- fast path ---------------------------------------------------------------------------
    def _fast_tsv(self, hdr: _Header) -> Iterator[pa.Table]:
        if len(hdr.separator) != 1:
            raise _DirtyFile("multi-character separator")
        column_types: dict[str, pa.DataType] = {}
        plan: list[tuple[str, str, pa.DataType]] = []
        for name, zt in zip(hdr.fields, hdr.types, strict=True):
            ztype, target = _target_type(self.log_type, name, zt)
            plan.append((name, ztype, target))
            scalar_direct = container_inner(ztype) is None and target in (
                pa.float64(),
                pa.int64(),
                pa.bool_(),
            )
            column_types[name] = target if scalar_direct else pa.string()
        invalid: list[int] = []

        def on_invalid(row: Any) -> str:
            invalid.append(1)
            return "skip"

        # the header lines start with '#', so the stripping stream drops them with #close
        stream = GuardedStream(self.path, self.limits, strip_comments=True, meter=self.meter)
        stream.expected_header = set(hdr.raw)
        try:
            try:
                reader = self._open_csv(stream, hdr, column_types, on_invalid)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                if "Empty CSV" in str(exc):
                    if stream.error:
                        raise _DirtyFile(stream.error) from None
                    return
                raise _DirtyFile(str(exc)) from None
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise _DirtyFile(str(exc)) from None
                if invalid:
                    raise _DirtyFile("row with a wrong field count")
                if stream.long_lines or stream.header_changed:
                    raise _DirtyFile("an over-long line or a second header block")
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= self.limits.batch_rows:
                    yield self._finish_fast(pa.Table.from_batches(pending), plan, hdr)
                    pending, pending_rows = [], 0
            if invalid:
                raise _DirtyFile("row with a wrong field count")
            if stream.long_lines or stream.header_changed:
                raise _DirtyFile("an over-long line or a second header block")
            if pending:
                yield self._finish_fast(pa.Table.from_batches(pending), plan, hdr)
            if stream.error:
                self.stats.truncated = True
                self.stats.warn(
                    f"{self.path}, after line {stream.lines_emitted}: "
                    f"{stream.error}; the rest of the file was not read"
                )
        finally:
            stream.close()

    @staticmethod
    def _open_csv(
        stream: GuardedStream,
        hdr: _Header,
        column_types: dict[str, pa.DataType],
        on_invalid: Callable[[Any], str],
    ) -> Any:
        return pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=hdr.fields, use_threads=True, block_size=1 << 22
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=hdr.separator,
                quote_char=False,
                escape_char=False,
                double_quote=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types,
                null_values=[hdr.unset_field],
                true_values=["T"],
                false_values=["F"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    def _finish_fast(
        self, table: pa.Table, plan: list[tuple[str, str, pa.DataType]], hdr: _Header
    ) -> pa.Table:
        cols: list[pa.Array] = []
        names: list[str] = []
        for name, ztype, target in plan:
            col = table.column(name).combine_chunks()
            if col.type != target or pa.types.is_string(target):
                col, bad = _convert_strings(col, ztype, hdr)
                if bad:
                    raise _DirtyFile(f"column {name}: {next(iter(bad.values()))}")
            cols.append(col)
            names.append(canonical_name(name))
        out = pa.Table.from_arrays(cols, names=names)
        bad_times = bad_float_rows(out, self.limits.ts_bounds())
        if bad_times:
            raise _DirtyFile(next(iter(bad_times.values())))
        self.stats.rows += table.num_rows
        return out

    # -- exact path --------------------------------------------------------------------------
    def _exact_tsv(self, hdr: _Header) -> Iterator[pa.Table]:
        fields, types = list(hdr.fields), list(hdr.types)

        def make_plan() -> tuple[list[tuple[str, pa.DataType]], list[str]]:
            plan = [_target_type(self.log_type, n, t) for n, t in zip(fields, types, strict=True)]
            return plan, [canonical_name(n) for n in fields]

        plan, names = make_plan()
        sep, unset = hdr.separator, hdr.unset_field
        stream = GuardedStream(self.path, self.limits, strip_comments=False, meter=self.meter)
        line_no = 0
        columns: list[list[str | None]] = [[] for _ in fields]
        line_nos: list[int] = []

        def flush() -> pa.Table | None:
            nonlocal columns, line_nos
            table = None
            if line_nos:
                table = self._convert_exact(columns, line_nos, plan, names, hdr)
            columns, line_nos = [[] for _ in fields], []
            return table if table is not None and table.num_rows else None

        try:
            for _ in range(hdr.lines):
                stream.readline_raw()
                line_no += 1
            while True:
                raw = stream.readline_raw()
                if not raw:
                    break
                line_no += 1
                if raw.startswith(LONG_LINE_MARK) or len(raw) > self.limits.max_line_bytes:
                    self.stats.bad_row(line_no, "line longer than the size limit")
                    continue
                if raw.startswith(b"#"):
                    header = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    new: list[str] | None = None
                    if header.startswith("#fields"):
                        new = header.split(sep)[1:]
                        if new == fields:
                            continue
                        known = known_types(self.log_type)
                        new_types = [known.get(n, "string") for n in new]
                    elif header.startswith("#types"):
                        new_types = header.split(sep)[1:]
                        if new_types == types or len(new_types) != len(fields):
                            continue
                        new = fields
                    if new is not None and len(set(new)) == len(new):
                        table = flush()
                        if table is not None:
                            yield table
                        fields, types = new, new_types
                        plan, names = make_plan()
                        columns = [[] for _ in fields]
                        self.stats.warn(
                            f"{self.path}, line {line_no}: a new header block changes the "
                            f"columns; the rows after it are read with it"
                        )
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.stats.bad_row(line_no, f"bytes that are not UTF-8 at column {exc.start}")
                    continue
                text = text.rstrip("\r\n")
                if not text:
                    continue
                parts = text.split(sep)
                if len(parts) != len(fields):
                    self.stats.bad_row(
                        line_no, f"{len(parts)} fields where #fields names {len(fields)}"
                    )
                    continue
                for col, val in zip(columns, parts, strict=True):
                    col.append(None if val == unset else val)
                line_nos.append(line_no)
                if len(line_nos) >= self.limits.batch_rows:
                    table = flush()
                    if table is not None:
                        yield table
            table = flush()
            if table is not None:
                yield table
            if stream.error:
                self.stats.truncated = True
                self.stats.warn(
                    f"{self.path}, after line {line_no}: {stream.error}; "
                    "the rest of the file was not read"
                )
        finally:
            stream.close()

    def _convert_exact(
        self,
        columns: list[list[str | None]],
        line_nos: list[int],
        plan: list[tuple[str, pa.DataType]],
        names: list[str],
        hdr: _Header,
    ) -> pa.Table:
        arrays: list[pa.Array] = []
        bad: dict[int, str] = {}
        for (ztype, _target), values, name in zip(plan, columns, names, strict=True):
            arr, col_bad = _convert_strings(pa.array(values, type=pa.string()), ztype, hdr)
            for i, reason in col_bad.items():
                bad.setdefault(i, f"column {name}: {reason}")
            arrays.append(arr)
        table = pa.Table.from_arrays(arrays, names=names)
        for i, reason in bad_float_rows(table, self.limits.ts_bounds()).items():
            bad.setdefault(i, reason)
        if bad:
            for i in sorted(bad):
                self.stats.bad_row(line_nos[i], bad[i])
            keep = [True] * len(line_nos)
            for i in bad:
                keep[i] = False
            table = table.filter(pa.array(keep))
        self.stats.rows += table.num_rows
        return table
