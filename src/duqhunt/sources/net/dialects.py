"""Zeek logs as real teams export them: one mapping layer from SIEM and sensor dialects to Zeek.

Sensors and SIEMs rename Zeek's fields (``id_orig_h``, ``source.ip``), nest them in ECS
objects, put the log type in a field (``_path``, ``@stream``, ``event.dataset``,
``sourcetype``) and name files per sensor (``NASHUA_conn.log``). The dialects are data
(``content/zeek/dialects.yaml``); this module reads them and does three things:

* ``log_type_from_name``: a Zeek log type from a file name or a type field's value
  (``SCRANTON_smb_mapping.log``, ``conn_20200430.json``, ``zeek.conn``, ``bro:conn:json``).
* ``recognise``: what a file is, from its content first (a type field, the field set a log's
  schema has), then its name. A file in Zeek's own layout (TSV, or JSON lines of one log
  type, Corelight's and RockNSM's flat JSON included) is read in place by ``ZeekLog``; anything
  else is an export.
* ``split_export``: an export (JSON lines, Splunk's REST lines, Elasticsearch documents, CSV)
  rewritten as one canonical Zeek JSON-lines file per log type, typed by the schema map, which
  every engine then reads as it reads Zeek's own JSON. Rows whose log type cannot be told are
  counted and named, never guessed.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import yaml

from duqhunt.sources.net.zeek import _parse_header, safe_log_type
from duqhunt.sources.net.zeek_json import JSON_TYPE_KEYS, json_value
from duqhunt.sources.net.zeek_limits import Limits, ParseStats
from duqhunt.sources.net.zeek_schema import LOGS, canonical_name, container_inner
from duqhunt.sources.net.zeek_stream import LONG_LINE_MARK, GuardedStream

SAMPLE_LINES = 200
MAX_DEPTH = 16  # ECS nests 4 or 5 deep
MAX_TYPE_VALUE = 256  # a type field's value longer than this names no log
MAX_FIELDS_NAMED = 12
_EXTENSIONS = (".gz", ".bz2", ".log", ".json", ".ndjson", ".jsonl", ".csv", ".tsv", ".txt")
# the dialects whose rows are Zeek's own flat records (metadata keys aside): read in place
_FLAT_DIALECTS = ("zeek", "corelight", "rocknsm")
# Zeek's connection fields: shared by most logs, so they say nothing about which log a row is
_SHARED = frozenset({"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"})


@dataclass(frozen=True, slots=True)
class Dialect:
    """One export dialect (see content/zeek/dialects.yaml for the meaning of each field)."""

    name: str
    description: str = ""
    markers: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    type_fields: tuple[str, ...] = ()
    embedded: tuple[str, ...] = ()
    drop: frozenset[str] = frozenset()
    drop_prefixes: tuple[str, ...] = ()
    renames: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    time_fields: tuple[str, ...] = ()

    def renames_for(self, log_type: str | None) -> dict[str, tuple[str, ...]]:
        out = dict(self.renames.get("*", {}))
        if log_type:
            out.update(self.renames.get(log_type, {}))
        return out

    def drops(self, key: str) -> bool:
        return key in self.drop or key.startswith(self.drop_prefixes)


@dataclass(frozen=True, slots=True)
class DialectBook:
    dialects: tuple[Dialect, ...]
    default: Dialect
    other_logs: frozenset[str]
    aliases: dict[str, str]
    type_fields: tuple[str, ...]

    def names(self) -> list[str]:
        return [d.name for d in (*self.dialects, self.default)]


def _dialect(entry: dict[str, Any]) -> Dialect:
    drop = [str(x) for x in entry.get("drop", [])]
    return Dialect(
        name=str(entry["name"]),
        description=str(entry.get("description", "")),
        markers=tuple(entry.get("markers", [])),
        wrappers=tuple(entry.get("wrappers", [])),
        type_fields=tuple(entry.get("type_fields", [])),
        embedded=tuple(entry.get("embedded", [])),
        drop=frozenset(d for d in drop if not d.endswith((".", "_"))),
        drop_prefixes=tuple(d for d in drop if d.endswith((".", "_"))),
        renames={
            str(k): {str(a): _targets(b) for a, b in v.items()}
            for k, v in entry.get("renames", {}).items()
        },
        units={str(k): str(v) for k, v in entry.get("units", {}).items()},
        time_fields=tuple(entry.get("time_fields", [])),
    )


def _targets(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _rename(rec: dict[str, Any], renames: dict[str, tuple[str, ...]], log_type: str | None) -> None:
    """Apply renames in place; a target already set is kept (the Zeek name wins)."""
    types = dict(LOGS.get(log_type or "", []))
    for src, targets in renames.items():
        if src not in rec:
            continue
        value = rec.pop(src)
        dst = targets[0]
        if len(targets) > 1:
            shape = isinstance(value, list)
            dst = next(
                (t for t in targets if (container_inner(types.get(t, "")) is not None) == shape),
                targets[0],
            )
        if rec.get(dst) is None:
            rec[dst] = value


@functools.cache
def book() -> DialectBook:
    """The dialects shipped in content/zeek/dialects.yaml (read once)."""
    text = resources.files("duqhunt.content").joinpath("zeek/dialects.yaml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when it is there
    data = yaml.load(text, Loader=loader)
    dialects = tuple(_dialect(d) for d in data["dialects"])
    default = Dialect(
        name=str(data.get("default", "zeek")),
        description="Zeek's own JSON writer",
        type_fields=("_path",),
        drop=frozenset({"_path", "_write_ts", "_system_name"}),
    )
    return DialectBook(
        dialects=dialects,
        default=default,
        other_logs=frozenset(str(x) for x in data.get("other_logs", [])),
        aliases={str(k): str(v) for k, v in data.get("aliases", {}).items()},
        type_fields=tuple(data.get("type_fields", [])),
    )


# --------------------------------------------------------------------------------------------
# log types from names and from field sets


@functools.cache
def _name_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    b = book()
    names = sorted({*LOGS, *b.other_logs, *b.aliases}, key=len, reverse=True)
    return tuple((n, re.compile(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])")) for n in names)


def log_type_from_name(text: str) -> str | None:
    """The Zeek log a name speaks of: ``NASHUA_conn.log`` -> conn, ``conn_20200430.json`` ->
    conn, ``dns.00:00:00-01:00:00.log.gz`` -> dns, ``zeek.connection`` -> conn,
    ``bro:smb_files:json`` -> smb_files; None when it names no Zeek log. The longest log name
    in it wins (smb_files over files), then the rightmost (``SSL-GW_dns.log`` -> dns)."""
    low = text.strip().lower()
    changed = True
    while changed:
        changed = False
        for ext in _EXTENSIONS:
            if low.endswith(ext) and len(low) > len(ext):
                low, changed = low[: -len(ext)], True
    best: tuple[int, int, str] | None = None
    for name, pat in _name_patterns():
        for m in pat.finditer(low):
            cand = (len(name), m.start(), name)
            if best is None or cand > best:
                best = cand
    if best is None:
        return None
    return book().aliases.get(best[2], best[2])


@functools.cache
def _dotted() -> dict[str, str]:
    """Canonical (underscored) name -> Zeek's dotted name, for every schema field with a dot."""
    out: dict[str, str] = {}
    for fields in LOGS.values():
        for name, _ in fields:
            if "." in name:
                out[canonical_name(name)] = name
    return out


@functools.cache
def _signatures() -> dict[str, frozenset[str]]:
    return {t: frozenset(n for n, _ in fields) - _SHARED for t, fields in LOGS.items()}


def log_type_from_fields(keys: set[str] | frozenset[str]) -> tuple[str | None, int]:
    """The schema log whose own fields a row has most of, and how many; (None, n) on a tie."""
    scores = sorted(((len(sig & keys), t) for t, sig in _signatures().items()), reverse=True)
    if not scores or scores[0][0] == 0:
        return None, 0
    if len(scores) > 1 and scores[1][0] == scores[0][0]:
        return None, scores[0][0]
    return scores[0][1], scores[0][0]


def decide_log_type(
    declared: str | None, keys: set[str] | frozenset[str], file_name: str
) -> str | None:
    """Content first: a type field's value; then the field set when it is clear (3 or more of a
    log's own fields); then the file name; then a weaker field set (2); else None."""
    if declared:
        return declared
    by_fields, score = log_type_from_fields(keys)
    if by_fields and score >= 3:
        return by_fields
    by_name = log_type_from_name(file_name)
    if by_name:
        return by_name
    if by_fields and score >= 2:
        return by_fields
    return None


def known_log(log_type: str) -> bool:
    return log_type in LOGS or log_type in book().other_logs


# --------------------------------------------------------------------------------------------
# one record: unwrap, flatten, map


def flatten(
    obj: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None, depth: int = 0
) -> dict[str, Any]:
    """Nested objects as dotted keys ({"source": {"ip": x}} -> {"source.ip": x}); objects
    nested deeper than MAX_DEPTH stay one value (a field no schema has)."""
    out = {} if out is None else out
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < MAX_DEPTH:
            flatten(value, name + ".", out, depth + 1)
        else:
            out[name] = value
    return out


def _unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """Splunk's {"result": {...}} and Elasticsearch's {"_source": {...}} give the record."""
    for d in book().dialects:
        for w in d.wrappers:
            inner = obj.get(w)
            if isinstance(inner, dict):
                return inner
    return obj


def pick_dialect(keys: set[str]) -> Dialect:
    """The first dialect (file order) with a marker among ``keys``; else Zeek's own."""
    for d in book().dialects:
        if any(m in keys for m in d.markers):
            return d
    return book().default


def _declared_type(flat: dict[str, Any], dialect: Dialect) -> tuple[str | None, bool]:
    """(log type, trusted) from the first type field that names a Zeek log; trusted when the
    field is the dialect's own (a generic one such as event_type needs the row to have ts)."""
    own = set(dialect.type_fields)
    for key in (*dialect.type_fields, *book().type_fields):
        value = flat.get(key)
        if isinstance(value, str) and value and len(value) <= MAX_TYPE_VALUE:
            if (
                dialect.name == "splunk"
                and key == "source"
                and "/" not in value
                and "\\" not in value
            ):
                continue
            lt = log_type_from_name(value)
            if lt:
                return lt, key in own
            if key in ("_path", "@stream", "@meta.stream"):
                return canonical_name(value.lower()), True
    return None, True


def _embedded(flat: dict[str, Any], dialect: Dialect) -> dict[str, Any] | None:
    for key in dialect.embedded:
        value = flat.get(key)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                continue
            if isinstance(inner, dict) and "ts" in inner:
                return flatten(inner)
    return None


def _dot_names(rec: dict[str, Any]) -> dict[str, Any]:
    dotted = _dotted()
    out: dict[str, Any] = {}
    for key, value in rec.items():
        name = dotted.get(key, key) if "." not in key else key
        if name not in out or out[name] is None:
            out[name] = value
    return out


@dataclass(slots=True)
class Mapped:
    """One record mapped to Zeek's names: its log type (None when it cannot be told)."""

    log_type: str | None
    fields: dict[str, Any]
    used_embedded: bool = False


def map_record(obj: dict[str, Any], dialect: Dialect, file_name: str) -> Mapped:
    """A record of ``dialect`` in Zeek's own (dotted) names, with its log type."""
    flat = flatten(_unwrap(obj))
    declared, trusted = _declared_type(flat, dialect)
    inner = _embedded(flat, dialect)
    if inner is not None:
        inner_dialect = pick_dialect(set(inner))
        if declared is None:
            declared, trusted = _declared_type(inner, inner_dialect)
        rec = _dot_names(inner)
        log_type = _checked(
            decide_log_type(declared, frozenset(rec), file_name),
            rec,
            declared is not None and trusted,
        )
        return Mapped(log_type, _keep(rec, log_type, inner_dialect), True)
    rec = dict(flat)
    _rename(rec, dialect.renames_for(declared), declared)
    rec = _dot_names(rec)
    log_type = decide_log_type(declared, frozenset(rec), file_name)
    if declared is None and log_type is not None and dialect.renames.get(log_type):
        # the type came from the fields or the name: map the log's own names now
        _rename(rec, dialect.renames[log_type], log_type)
    for unit_field, unit in dialect.units.items():
        value = rec.get(unit_field)
        if unit == "nanoseconds" and isinstance(value, int | float) and not isinstance(value, bool):
            rec[unit_field] = value / 1e9
    if rec.get("ts") is None:
        for tf in dialect.time_fields:
            if flat.get(tf) not in (None, ""):
                rec["ts"] = flat[tf]
                break
    log_type = _checked(log_type, rec, declared is not None and trusted)
    return Mapped(log_type, _keep(rec, log_type, dialect), False)


def _checked(log_type: str | None, rec: dict[str, Any], trusted: bool) -> str | None:
    """A dialect's own type field is trusted; a type from a generic field (event_type,
    log_type), the field set or the name holds only for a row with Zeek's ts."""
    if trusted or rec.get("ts") is not None:
        return log_type
    return None


def _keep(rec: dict[str, Any], log_type: str | None, dialect: Dialect) -> dict[str, Any]:
    """Drop the dialect's metadata keys (never a field the log's schema has)."""
    schema = {n for n, _ in LOGS.get(log_type or "", [])}
    b = book()
    return {
        k: v
        for k, v in rec.items()
        if k in schema
        or not (dialect.drops(k) or b.default.drops(k) or k.startswith("@") or k in b.type_fields)
    }


# --------------------------------------------------------------------------------------------
# recognising a file


@dataclass(frozen=True, slots=True)
class Recognition:
    """What a log file is. ``in_place``: ZeekLog reads it as it is (Zeek's own layout, one log
    type, given in ``log_type``); otherwise it is an export for ``split_export``. ``log_type``
    None and ``in_place`` True: the type could not be told (``fields_seen`` says what was)."""

    fmt: str  # tsv | json | csv
    dialect: str
    in_place: bool
    log_type: str | None
    type_key: str | None = None
    fields_seen: tuple[str, ...] = ()
    types_seen: tuple[str, ...] = ()


def _sample_lines(path: Path, limits: Limits, n: int = SAMPLE_LINES) -> list[bytes]:
    stream = GuardedStream(path, limits, strip_comments=False)
    try:
        out = []
        for _ in range(n):
            raw = stream.readline_raw()
            if not raw:
                break
            out.append(raw)
        return out
    finally:
        stream.close()


def _fields_seen(keys: Counter[str]) -> tuple[str, ...]:
    return tuple(k for k, _ in keys.most_common(MAX_FIELDS_NAMED))


def recognise(path: Path, fmt: str, limits: Limits | None = None) -> Recognition:
    """Tell a log file's dialect and log type from its first lines (content first, then the
    name). ``fmt`` is what ``sniff`` said: tsv, json or csv."""
    lim = limits or Limits()
    if fmt == "tsv":
        return _recognise_tsv(path, lim)
    if fmt == "csv":
        rows = list(_csv_rows(path, lim, limit=SAMPLE_LINES))
        return _recognise_rows(path, "csv", [r for _, r in rows], flat_ok=False)
    objs: list[dict[str, Any]] = []
    for raw in _sample_lines(path, lim):
        if raw.startswith(LONG_LINE_MARK) or not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            objs.append(obj)
    return _recognise_rows(path, "json", objs, flat_ok=True)


def _recognise_tsv(path: Path, lim: Limits) -> Recognition:
    stream = GuardedStream(path, lim, strip_comments=False)
    try:
        hdr = _parse_header(stream, path, lim)
    finally:
        stream.close()
    keys = frozenset(_dot_names({f: None for f in hdr.fields}))
    declared = None
    if hdr.path:
        declared = log_type_from_name(hdr.path) or canonical_name(hdr.path.lower())
    log_type = decide_log_type(declared, keys, path.name)
    return Recognition("tsv", "zeek", True, log_type, None, tuple(hdr.fields[:MAX_FIELDS_NAMED]))


def _recognise_rows(
    path: Path, fmt: str, objs: list[dict[str, Any]], *, flat_ok: bool
) -> Recognition:
    keys: Counter[str] = Counter()
    flat_rows = []
    nested = False
    for obj in objs:
        inner = _unwrap(obj)
        nested = nested or inner is not obj or any(isinstance(v, dict) for v in inner.values())
        flat = flatten(inner)
        keys.update(flat.keys())
        flat_rows.append(flat)
    dialect = pick_dialect(set(keys))
    types: Counter[str] = Counter()
    embedded = False
    for obj in objs:
        m = map_record(obj, dialect, path.name)
        types[m.log_type or "?"] += 1
        embedded = embedded or m.used_embedded
    seen = _fields_seen(keys)
    known = [t for t in types if t != "?"]
    single = known[0] if len(known) == 1 and "?" not in types else None
    type_key = next((k for k in (*dialect.type_fields, *book().type_fields) if k in keys), None)
    in_place = (
        flat_ok
        and not nested
        and not embedded
        and dialect.name in _FLAT_DIALECTS
        and type_key in (None, *JSON_TYPE_KEYS)
        and (single is not None or not objs)
    )
    if in_place and not objs:
        single = log_type_from_name(path.name)
    return Recognition(
        fmt,
        dialect.name,
        in_place,
        single if in_place else (single or (known[0] if len(known) == 1 else None)),
        type_key if in_place else None,
        seen,
        tuple(sorted(types)),
    )


# --------------------------------------------------------------------------------------------
# splitting an export into canonical Zeek JSON lines


@dataclass(slots=True)
class SplitResult:
    """What split_export wrote: one canonical JSON-lines file per log type."""

    dialect: str
    logs: dict[str, Path] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    unknown_rows: int = 0
    unknown_fields: Counter[str] = field(default_factory=Counter)
    stats: ParseStats | None = None

    def fields_seen(self) -> tuple[str, ...]:
        return _fields_seen(self.unknown_fields)


def _typed(rec: dict[str, Any], log_type: str, from_text: bool) -> dict[str, Any]:
    """Values in the JSON types Zeek writes, by the schema map; other fields kept as text
    (their types are not known, and a field that changes type between rows would cost the
    whole batch)."""
    types = dict(LOGS.get(log_type, [])) or {n: t for n, t in LOGS["conn"] if n in _SHARED}
    out: dict[str, Any] = {}
    for key, value in rec.items():
        if value is None or (from_text and value == ""):
            continue
        ztype = types.get(key)
        if ztype is None:
            out[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            continue
        if from_text and isinstance(value, str) and container_inner(ztype) is not None:
            value = [v for v in value.split("\n") if v != ""]
        out[key] = json_value(value, ztype)
    return out


def _csv_rows(
    path: Path, limits: Limits, limit: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    stream = GuardedStream(path, limits, strip_comments=False)
    text: TextIO = io.TextIOWrapper(
        io.BufferedReader(stream), encoding="utf-8", errors="replace", newline=""
    )
    try:
        reader = csv.DictReader(text)
        n = 0
        while limit is None or n < limit:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                continue
            n += 1
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    finally:
        text.close()


def split_export(path: Path, fmt: str, workdir: Path, limits: Limits | None = None) -> SplitResult:
    """Rewrite an export as canonical Zeek JSON lines, one file per log type, in ``workdir``.
    Bad rows (not JSON, a value that does not convert) are skipped and counted in ``stats``
    with their line; rows of no recognisable log type are counted with the fields they had."""
    lim = limits or Limits()
    rec = recognise(path, fmt, lim)
    dialect = next((d for d in book().dialects if d.name == rec.dialect), book().default)
    stats = ParseStats(str(path), "export", fmt)
    result = SplitResult(dialect=dialect.name, stats=stats)
    handles: dict[str, TextIO] = {}
    workdir.mkdir(parents=True, exist_ok=True)

    def rows() -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        if fmt == "csv":
            for line, row in _csv_rows(path, lim):
                yield line, row, ""
            return
        stream = GuardedStream(path, lim, strip_comments=False)
        line = 0
        try:
            while True:
                raw = stream.readline_raw()
                if not raw:
                    break
                line += 1
                if not raw.strip():
                    continue
                if raw.startswith(LONG_LINE_MARK) or len(raw) > lim.max_line_bytes:
                    yield line, None, "line longer than the size limit"
                    continue
                try:
                    obj = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    yield line, None, f"not valid JSON ({str(exc)[:80]})"
                    continue
                except RecursionError:
                    yield line, None, "JSON nested deeper than the parser allows"
                    continue
                if not isinstance(obj, dict):
                    yield line, None, "a JSON value that is not an object"
                    continue
                yield line, obj, ""
            if stream.error:
                stats.truncated = True
                stats.warn(f"{path}, after line {line}: {stream.error}; the rest was not read")
        finally:
            stream.close()

    try:
        for line, obj, why in rows():
            if obj is None:
                stats.bad_row(line, why)
                continue
            mapped = map_record(obj, dialect, path.name)
            if mapped.log_type is None:
                result.unknown_rows += 1
                result.unknown_fields.update(mapped.fields.keys())
                continue
            # a type from input becomes a file and view name: letters, digits and '_' only
            mapped.log_type = safe_log_type(mapped.log_type)
            try:
                text = json.dumps(
                    _typed(mapped.fields, mapped.log_type, fmt == "csv"), allow_nan=False
                )
            except (ValueError, TypeError, OverflowError) as exc:
                stats.bad_row(line, f"{mapped.log_type} row: {exc}")
                continue
            fh = handles.get(mapped.log_type)
            if fh is None:
                dest = workdir / f"{mapped.log_type}.json"
                fh = open(dest, "w", encoding="utf-8")  # noqa: SIM115 - closed below
                handles[mapped.log_type] = fh
                result.logs[mapped.log_type] = dest
            fh.write(text + "\n")
            result.rows[mapped.log_type] += 1
            stats.rows += 1
    finally:
        for fh in handles.values():
            fh.close()
    return result
