"""Write Zeek logs: the ASCII (TSV) format with its header, and JSON lines.

Used by the simulator and by tests that need small Zeek fixtures. Field names and Zeek types
come from the one schema map, :data:`duqhunt.sources.net.zeek_schema.LOGS`; a caller may write
a subset or another ordering of a log's fields with ``fields`` (for example an old ``conn.log``
without ``ip_proto``).

Value rendering follows Zeek's ASCII writer:

* ``None`` (or a missing key) is the unset field ``-``;
* an empty string or an empty set/vector is ``(empty)``;
* sets and vectors are joined with ``,``; bools are ``T``/``F``; times and intervals are
  ``%.6f``; counts, ints and ports are decimal;
* in strings, a backslash is doubled (``\\\\``); the tab separator, newlines and other
  non-printable characters become ``\\xHH``; inside set/vector elements the ``,`` separator
  becomes ``\\x2c``; a string that is exactly ``-`` or ``(empty)`` gets its first character
  escaped so that it is not read back as unset or empty. Printable non-ASCII text is written
  as UTF-8 (Zeek's ``LogAscii::enable_utf_8``); raw bytes that are not UTF-8 (``bytes``
  values, or ``str`` decoded with ``surrogateescape``) are escaped byte by byte.
"""

from __future__ import annotations

import gzip as _gzip
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO

from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek_schema import LOGS, container_inner

__all__ = ["escape_zeek_string", "write_zeek_json", "write_zeek_tsv", "zeek_header"]

_log = logging.getLogger(__name__)

UNSET = "-"
EMPTY = "(empty)"
SET_SEPARATOR = ","
_BATCH = 8192

Formatter = Callable[[object], str]


def _utf8_escape(ch: str) -> str:
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8"))


def _escape_table(extra: str) -> dict[int, str]:
    table: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
    table[ord("\\")] = "\\\\"  # Zeek doubles the backslash
    # C1 controls and the Unicode line/paragraph separators: escape their UTF-8 bytes, so no
    # line-splitting consumer ever sees a line break inside a value
    for c in (*range(0x80, 0xA0), 0x2028, 0x2029):
        table[c] = _utf8_escape(chr(c))
    for c in range(0xD800, 0xE000):
        # surrogateescape'd raw bytes become \xHH; other lone surrogates cannot be encoded
        table[c] = f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else "\ufffd"
    for ch in extra:
        table[ord(ch)] = f"\\x{ord(ch):02x}"
    return table


_TABLE = _escape_table("")
_TABLE_IN_SET = _escape_table(SET_SEPARATOR)
_NEEDS = re.compile("[\x00-\x1f\x7f-\x9f\\\\\u2028\u2029\ud800-\udfff]")
_NEEDS_IN_SET = re.compile("[\x00-\x1f\x7f-\x9f\\\\,\u2028\u2029\ud800-\udfff]")


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def escape_zeek_string(value: object, *, in_container: bool = False) -> str:
    """Render one string value the way Zeek's ASCII writer does (see the module docstring)."""
    s = _as_text(value)
    if not s:
        return EMPTY
    if s == UNSET:
        return "\\x2d"
    if s == EMPTY:
        return "\\x28empty)"
    if in_container:
        if _NEEDS_IN_SET.search(s) is not None:
            return s.translate(_TABLE_IN_SET)
    elif _NEEDS.search(s) is not None:
        return s.translate(_TABLE)
    return s


def _fmt_string(value: object) -> str:
    # fast path for the common case: plain printable text
    if (
        isinstance(value, str)
        and value
        and value != UNSET
        and value != EMPTY
        and _NEEDS.search(value) is None
    ):
        return value
    return escape_zeek_string(value)


def _fmt_element_string(value: object) -> str:
    return escape_zeek_string(value, in_container=True)


def _fmt_time(value: object) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.6f}"


def _fmt_double(value: object) -> str:
    if isinstance(value, str):
        return value
    text = f"{value:.6f}"
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def _fmt_bool(value: object) -> str:
    if isinstance(value, str):
        return value
    return "T" if value else "F"


def _fmt_int(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fmt_plain(value: object) -> str:
    return str(value)


_SCALAR_FORMATTERS: dict[str, Formatter] = {
    "time": _fmt_time,
    "interval": _fmt_time,
    "double": _fmt_double,
    "count": _fmt_int,
    "int": _fmt_int,
    "port": _fmt_int,
    "bool": _fmt_bool,
    "addr": _fmt_plain,
    "subnet": _fmt_plain,
}


def _container_formatter(inner: str) -> Formatter:
    element = _SCALAR_FORMATTERS.get(inner, _fmt_element_string)
    if element is _fmt_plain:
        element = _fmt_element_string  # addresses in sets: cheap, and safe if odd text arrives

    def fmt(value: object) -> str:
        items: Iterable[object]
        if isinstance(value, str | bytes | bytearray):
            items = (value,)
        elif isinstance(value, set | frozenset):
            items = sorted(value, key=str)  # deterministic order for unordered input
        elif isinstance(value, Iterable):
            items = value
        else:
            items = (value,)
        parts = [element(v) for v in items if v is not None]
        return SET_SEPARATOR.join(parts) if parts else EMPTY

    return fmt


def _formatter(zeek_type: str) -> Formatter:
    inner = container_inner(zeek_type)
    if inner is not None:
        return _container_formatter(inner)
    return _SCALAR_FORMATTERS.get(zeek_type, _fmt_string)


def _resolve_fields(log_type: str, fields: Sequence[str] | None) -> list[tuple[str, str]]:
    schema = LOGS.get(log_type)
    if schema is None:
        raise UsageError(f"unknown Zeek log type {log_type!r}; known: {', '.join(sorted(LOGS))}")
    if fields is None:
        return list(schema)
    types = dict(schema)
    unknown = [f for f in fields if f not in types]
    if unknown:
        raise UsageError(f"fields not in the {log_type} schema: {', '.join(unknown)}")
    if len(set(fields)) != len(fields):
        raise UsageError(f"duplicate fields requested for {log_type}")
    return [(f, types[f]) for f in fields]


def _zeek_stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d-%H-%M-%S")


def zeek_header(log_type: str, columns: Sequence[tuple[str, str]], open_ts: float) -> str:
    """The header lines Zeek writes before the first row (newline-terminated)."""
    names = "\t".join(n for n, _ in columns)
    types = "\t".join(t for _, t in columns)
    return (
        "#separator \\x09\n"
        f"#set_separator\t{SET_SEPARATOR}\n"
        f"#empty_field\t{EMPTY}\n"
        f"#unset_field\t{UNSET}\n"
        f"#path\t{log_type}\n"
        f"#open\t{_zeek_stamp(open_ts)}\n"
        f"#fields\t{names}\n"
        f"#types\t{types}\n"
    )


@contextmanager
def _open_text(path: Path, gzip: bool) -> Iterator[IO[str]]:
    if not gzip:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        return
    with (
        open(path, "wb") as raw,
        # mtime=0 and no file name in the gzip header: identical bytes for identical rows
        _gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh,
    ):
        yield fh


def _ts_of(row: Mapping[str, object]) -> float | None:
    ts = row.get("ts")
    return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None


def write_zeek_tsv(
    path: Path,
    log_type: str,
    rows: Iterable[Mapping[str, object]],
    *,
    fields: Sequence[str] | None = None,
    open_ts: float | None = None,
    close_ts: float | None = None,
    gzip: bool = False,
) -> int:
    """Write ``rows`` as a Zeek ASCII log and return how many rows were written.

    Rows are mappings keyed by Zeek (dotted) field names; missing keys are unset. Keys that are
    not written (not in the schema or not in ``fields``) are ignored. ``open_ts`` and
    ``close_ts`` give the ``#open``/``#close`` stamps (UTC); by default the first row's ``ts``
    and the largest ``ts`` written, so the output never depends on the wall clock.
    """
    columns = _resolve_fields(log_type, fields)
    names = [n for n, _ in columns]
    fmts = [_formatter(t) for _, t in columns]
    pairs = list(zip(names, fmts, strict=True))
    it = iter(rows)
    first = next(it, None)
    if open_ts is None:
        open_ts = (_ts_of(first) if first is not None else None) or 0.0
    last_ts = open_ts
    count = 0
    with _open_text(Path(path), gzip) as fh:
        fh.write(zeek_header(log_type, columns, open_ts))
        if first is not None:
            batch: list[str] = []
            for row in chain((first,), it):
                get = row.get
                cells = []
                for name, fmt in pairs:
                    v = get(name)
                    cells.append(UNSET if v is None else fmt(v))
                batch.append("\t".join(cells))
                ts = get("ts")
                if isinstance(ts, float | int) and ts > last_ts:
                    last_ts = float(ts)
                count += 1
                if len(batch) >= _BATCH:
                    fh.write("\n".join(batch))
                    fh.write("\n")
                    batch.clear()
            if batch:
                fh.write("\n".join(batch))
                fh.write("\n")
        fh.write(f"#close\t{_zeek_stamp(last_ts if close_ts is None else close_ts)}\n")
    _log.debug("wrote %d %s rows to %s", count, log_type, path)
    return count


def _json_value(zeek_type: str) -> Callable[[object], object]:
    inner = container_inner(zeek_type)
    if inner is not None:
        scalar = _json_value(inner)

        def container(value: object) -> object:
            if isinstance(value, str | bytes | bytearray):
                return [scalar(value)]
            if isinstance(value, set | frozenset):
                return [scalar(v) for v in sorted(value, key=str)]
            if isinstance(value, Iterable):
                return [scalar(v) for v in value if v is not None]
            return [scalar(value)]

        return container
    if zeek_type in ("time", "interval", "double"):
        return lambda v: round(float(v), 6) if isinstance(v, int | float | str) else v
    if zeek_type in ("count", "int", "port"):
        return lambda v: int(v) if isinstance(v, int | float | str) else v
    if zeek_type == "bool":
        return lambda v: v if isinstance(v, bool) else v in ("T", 1, True)
    return _json_text


_SURROGATES = re.compile("[\ud800-\udfff]")


def _json_surrogate(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else "\ufffd"


def _json_text(value: object) -> str:
    """Text for JSON; raw non-UTF-8 bytes become ``\\xHH`` like Zeek's JSON writer."""
    s = _as_text(value)
    if _SURROGATES.search(s) is not None:
        return _SURROGATES.sub(_json_surrogate, s)
    return s


def write_zeek_json(
    path: Path,
    log_type: str,
    rows: Iterable[Mapping[str, object]],
    gzip: bool = False,
    *,
    fields: Sequence[str] | None = None,
) -> int:
    """Write ``rows`` as Zeek JSON lines (dotted names, epoch ``ts``); unset fields are omitted.

    Returns how many rows were written.
    """
    columns = _resolve_fields(log_type, fields)
    convs = [(n, _json_value(t)) for n, t in columns]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    count = 0
    with _open_text(Path(path), gzip) as fh:
        batch: list[str] = []
        for row in rows:
            get = row.get
            obj: dict[str, object] = {}
            for name, conv in convs:
                v = get(name)
                if v is not None:
                    obj[name] = conv(v)
            batch.append(dumps(obj))
            count += 1
            if len(batch) >= _BATCH:
                fh.write("\n".join(batch))
                fh.write("\n")
                batch.clear()
        if batch:
            fh.write("\n".join(batch))
            fh.write("\n")
    _log.debug("wrote %d %s JSON rows to %s", count, log_type, path)
    return count
