"""JSON-lines Zeek logs: Zeek's JSON writer, and the Corelight json-streaming dialect with
``_path``/``_write_ts``. Rows become canonical Arrow tables as the TSV readers' do; a row that
cannot be read is skipped with a warning naming its line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from duqhunt.errors import InputError
from duqhunt.sources.net.zeek_limits import Limits, ParseStats, bad_time_reason
from duqhunt.sources.net.zeek_schema import arrow_type, canonical_name, container_inner, known_types
from duqhunt.sources.net.zeek_stream import GuardedStream, ReadMeter


class MixedLogTypes(InputError):
    """A JSON log whose rows name several log types (a SIEM export of a whole sensor): read
    it as an export, split by type (dialects.split_export)."""


def json_log_type(path: Path, limits: Limits) -> str | None:
    stream = GuardedStream(path, limits, strip_comments=False)
    try:
        first = stream.readline_raw()
    finally:
        stream.close()
    try:
        obj = json.loads(first)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(obj, dict):
        for key in JSON_TYPE_KEYS:
            p = obj.get(key)
            if isinstance(p, str) and p:
                return p
    return None


# the fields that name a JSON log's type (Corelight/json-streaming, RockNSM) and the metadata
# fields beside them that are not Zeek fields
JSON_TYPE_KEYS = ("_path", "@stream")
JSON_META = frozenset({"_path", "_write_ts", "_system_name", "@stream", "@system", "@proc"})


def to_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("boolean where a time was expected")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            from datetime import UTC

            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    raise ValueError(f"unexpected {type(value).__name__} where a time was expected")


def json_value(value: Any, ztype: str) -> Any:
    inner = container_inner(ztype)
    if inner is not None:
        if value is None:
            return None
        if not isinstance(value, list):
            value = [value]
        return [json_value(v, inner) for v in value]
    if value is None:
        return None
    if ztype in ("time", "interval", "double"):
        if ztype == "time":
            return to_epoch(value)
        if isinstance(value, bool):
            raise ValueError("boolean where a number was expected")
        return float(value)
    if ztype in ("count", "int", "port"):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
        if not -(2**63) <= number < 2**63:
            raise ValueError(f"{value!r} is outside the 64-bit integer range")
        return number
    if ztype == "bool":
        if isinstance(value, bool):
            return value
        if value in ("T", "F", "true", "false"):
            return value in ("T", "true")
        raise ValueError(f"{value!r} is not a boolean")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def infer_ztype(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        return "vector[string]"
    return "string"


@functools.lru_cache(maxsize=256)
def _row_type(named: str) -> str:
    from duqhunt.sources.net.dialects import log_type_from_name

    return log_type_from_name(named) or canonical_name(named.lower())


def read_json(
    path: Path,
    log_type: str,
    limits: Limits,
    stats: ParseStats,
    type_key: str | None = None,
    meter: ReadMeter | None = None,
) -> Iterator[pa.Table]:
    known = known_types(log_type)
    types: dict[str, str] = {}
    order: list[str] = []
    rows: list[dict[str, Any]] = []
    stream = GuardedStream(path, limits, strip_comments=False, meter=meter)
    line_no = 0
    bounds = limits.ts_bounds()

    def flush() -> pa.Table:
        cols: dict[str, pa.Array] = {}
        for name in order:
            ztype = types[name]
            vals = [r.get(name) for r in rows]
            cols[canonical_name(name)] = pa.array(vals, type=arrow_type(ztype))
        return pa.table(cols)

    try:
        while True:
            raw = stream.readline_raw()
            if not raw:
                break
            line_no += 1
            if not raw.strip():
                continue
            if len(raw) > limits.max_line_bytes:
                stats.bad_row(line_no, "line longer than the size limit")
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                stats.bad_row(line_no, f"not valid JSON ({str(exc)[:80]})")
                continue
            except RecursionError:
                stats.bad_row(line_no, "JSON nested deeper than the parser allows")
                continue
            if not isinstance(obj, dict):
                stats.bad_row(line_no, "a JSON value that is not an object")
                continue
            if type_key is not None:
                named = obj.get(type_key)
                if isinstance(named, str) and _row_type(named) != log_type:
                    raise MixedLogTypes(
                        str(path),
                        f"rows of several log types ({log_type!r}, then {named!r} in "
                        f"{type_key}); a local file is split as an export",
                        line=line_no,
                    )
            row: dict[str, Any] = {}
            try:
                for key, value in obj.items():
                    if key in JSON_META:
                        continue
                    if not isinstance(key, str) or not key:
                        raise ValueError("empty field name")
                    if key not in types:
                        types[key] = known.get(key) or infer_ztype(value)
                        order.append(key)
                    row[key] = json_value(value, types[key])
            except (ValueError, TypeError, OverflowError) as exc:
                stats.bad_row(line_no, f"field {key!r}: {exc}")
                continue
            why = next(
                (
                    r
                    for k, v in row.items()
                    if isinstance(v, float)
                    and (r := bad_time_reason(canonical_name(k), v, bounds)) is not None
                ),
                None,
            )
            if why is not None:
                stats.bad_row(line_no, why)
                continue
            rows.append(row)
            if len(rows) >= limits.batch_rows:
                table = _safe_flush(flush, stats, line_no, len(rows))
                if table is not None:
                    stats.rows += table.num_rows
                    yield table
                rows = []
        if rows:
            table = _safe_flush(flush, stats, line_no, len(rows))
            if table is not None:
                stats.rows += table.num_rows
                yield table
        if stream.error:
            stats.truncated = True
            stats.warn(f"{path}, after line {line_no}: {stream.error}; the rest was not read")
    finally:
        stream.close()


def _safe_flush(
    flush: Callable[[], pa.Table], stats: ParseStats, line_no: int, n: int
) -> pa.Table | None:
    try:
        return flush()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        # a field changed type between rows (a value inferred as int, later a string)
        stats.skipped_rows += n
        stats.warn(f"{stats.path}, up to line {line_no}: {n} rows with mixed types ({exc})")
        return None
