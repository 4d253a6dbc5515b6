"""What every engine offers the detectors, and the portable SQL they share.

Detectors are SQL files in a subset both DuckDB and Spark SQL run unchanged (window functions
with LAG, PERCENTILE_CONT ... WITHIN GROUP, MEDIAN, STDDEV_SAMP, joins, CASE; no ``::`` casts,
no approximate quantiles, no ASOF joins, no recursive CTEs, no list functions; ``key64(a, b)``,
a 64-bit hash key of two strings, is defined by each engine with its own hash). Parameters are
written ``:name`` in the file; an engine binds them its own way. Anything dialect-specific
(exploding a list column) lives in an engine's view definitions, never in a detector file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek import JsonPlan, TsvPlan

# The codec of the case store's Parquet. Snappy, not zstd: on the 10M-row conn.log zstd (level
# 1) cost DuckDB's ingest about 4.5 more CPU seconds (a sixth of it) for files a quarter
# smaller (benchmarks/results-network.md); a case is written once and read on every hunt, and
# snappy is also the faster to read.
CASE_PARQUET_CODEC = "snappy"

# The day folders of the case's telemetry (log=<type>/day=<day>/), one rule for every ingest
# path (DuckDB's copy, the exact reader's sink, Spark): a row's day is the UTC day of its
# microsecond time, as DuckDB's make_timestamp and Spark's timestamp_seconds date it. Rows
# without a time, or with one outside [0, DAY_TS_MAX), are in day=unknown.
DAY_US = 86_400_000_000
DAY_TS_MAX = 4.1e9
UNKNOWN_DAY = "unknown"
EPOCH_DATE = date(1970, 1, 1)


def day_of(index: int) -> str:
    """``YYYY-MM-DD`` of a day index (days since 1970-01-01)."""
    return (EPOCH_DATE + timedelta(days=index)).isoformat()


def day_name(ts: float) -> str:
    """The UTC day of an epoch time as the case's folders name it (``YYYY-MM-DD``)."""
    return day_of(math.floor(ts * 1_000_000) // DAY_US)


def day_indexes(ts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The day index (day_of) of each time, as day_name dates it; -1 for a missing time or
    one outside [0, DAY_TS_MAX)."""
    valid = pc.fill_null(pc.and_(pc.greater_equal(ts, 0.0), pc.less(ts, DAY_TS_MAX)), False)
    micros = pc.cast(pc.floor(pc.multiply(pc.if_else(valid, ts, 0.0), 1_000_000.0)), pa.int64())
    # integer division: the times are not negative here, so it is the floor
    return pc.if_else(valid, pc.divide(micros, DAY_US), -1)


def day_folder(first: float | None, last: float | None) -> str:
    """``day=YYYY-MM-DD`` for rows within one UTC day, ``day=YYYY-MM-DD..YYYY-MM-DD`` for rows
    from the first day to the last, ``day=unknown`` for rows without a time."""
    if first is None or last is None:
        return f"day={UNKNOWN_DAY}"
    a, b = day_name(first), day_name(last)
    return f"day={a}" if a == b else f"day={a}..{b}"


_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")

Param = int | float | str | bool | None


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:/")


class NativeIngestRejected(Exception):
    """An engine's own reader refused a file; the caller falls back to the exact reader."""


@dataclass(frozen=True, slots=True)
class NativeCopy:
    """What an engine's own reader wrote: rows kept, rows it could not parse (skipped), and
    one warning per skipped row (file and line), at most MAX_WARNINGS_PER_FILE of them."""

    rows: int
    skipped_rows: int = 0
    warnings: tuple[str, ...] = ()


def is_uri(text: str) -> bool:
    """``s3a://b/k``, ``hdfs://nn/p``, ``file:///tmp/x``: an input for a Hadoop file system,
    never a local path (a Windows drive ``C:\\`` has a one-letter 'scheme' and is not one)."""
    return _URI.match(text) is not None


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file listed through an engine's file system (Hadoop's for Spark)."""

    uri: str
    size: int
    mtime_ms: int

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


class RemoteStorage(Protocol):
    """Listing and reading URIs (s3a://, hdfs://, abfss://, gs://, file://) on the driver:
    only listings, the first bytes of a file (its header) and, for a file the engine cannot
    read itself, a copy for the exact reader."""

    def list_files(self, pattern: str) -> list[RemoteFile]:
        """Files under a URI: a file, a folder (recursive) or a glob; hidden names skipped."""

    def read_head(self, uri: str, size: int) -> bytes:
        """The first ``size`` bytes of a file (raw: compressed files stay compressed)."""

    def copy_to_local(self, uri: str, dest: Path) -> None:
        """Copy a whole file to a local path (the driver fallback)."""


def sql_literal(value: Param) -> str:
    """A parameter as a SQL literal both engines read the same way."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UsageError(f"parameter value {value!r} is not a finite number")
        return f"CAST({value!r} AS DOUBLE)"
    return "'" + value.replace("'", "''") + "'"


def bind(sql: str, params: Mapping[str, Param]) -> str:
    """Replace ``:name`` markers with literals; a marker without a value is an error."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise UsageError(f"SQL parameter :{name} has no value")
        return sql_literal(params[name])

    return _PARAM.sub(repl, _strip_comments(sql))


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] if "--" in line else line for line in sql.splitlines())


class Engine(Protocol):
    """The interface detectors run on. Implemented by DuckDB (default) and Spark."""

    name: str
    # exceptions a failing query raises on this engine (a detector's failure becomes a warning)
    errors: tuple[type[Exception], ...]
    # True when the engine's own readers run off the driver (Spark executors): a file handed
    # back to the exact Python reader on the driver is then worth a warning
    reads_off_driver: bool
    # listing and reading URIs, or None when the engine only reads local paths
    storage: RemoteStorage | None

    def register_parquet(
        self, view: str, files: list[str], schema: pa.Schema, where: str | None = None
    ) -> None:
        """Expose Parquet files as ``view`` with at least the columns of ``schema``; with
        ``where`` (a portable SQL condition) only the rows that meet it."""

    def register_arrow(self, view: str, table: pa.Table) -> None:
        """Expose a small in-memory table (IOCs, IP classes) as ``view``."""

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        """Run one portable SQL statement and return its result as Arrow."""

    def create_derived_views(self) -> None:
        """Dialect-specific views over the logs (lists exploded): dns_answers, files_conn..."""

    def copy_zeek_tsv(self, plan: TsvPlan, dest: Path, key: str, max_line_bytes: int) -> NativeCopy:
        """Read a TSV log with the engine's own parallel reader into Parquet in day folders
        under ``dest`` (docs/scale.md, On-disk layout); raise NativeIngestRejected to hand it
        to the exact reader."""

    def copy_zeek_json(
        self, plan: JsonPlan, dest: Path, key: str, max_line_bytes: int
    ) -> NativeCopy:
        """Read a JSON-lines log likewise; NativeIngestRejected hands it to the exact reader."""

    def query_fraction(self) -> float | None:
        """How far the statement running now (from another thread) has got, 0..1, or None
        when nothing runs or the engine cannot tell: progress inside one big file."""

    def close(self) -> None: ...
