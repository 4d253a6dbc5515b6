"""What every engine offers the detectors, and the portable SQL they share.

Detectors are SQL files in a subset both DuckDB and Spark SQL run unchanged (window functions
with LAG, PERCENTILE_CONT ... WITHIN GROUP, MEDIAN, STDDEV_SAMP, joins, CASE; no ``::`` casts,
no approximate quantiles, no ASOF joins, no recursive CTEs, no list functions). Parameters are
written ``:name`` in the file; an engine binds them its own way. Anything dialect-specific
(exploding a list column) lives in an engine's view definitions, never in a detector file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek import TsvPlan

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")

Param = int | float | str | bool | None


class NativeIngestRejected(Exception):
    """An engine's own reader refused a file; the caller falls back to the exact reader."""


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

    def register_parquet(self, view: str, files: list[str], schema: pa.Schema) -> None:
        """Expose Parquet files as ``view`` with at least the columns of ``schema``."""

    def register_arrow(self, view: str, table: pa.Table) -> None:
        """Expose a small in-memory table (IOCs, IP classes) as ``view``."""

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        """Run one portable SQL statement and return its result as Arrow."""

    def create_derived_views(self) -> None:
        """Dialect-specific views over the logs (lists exploded): dns_answers, files_conn..."""

    def copy_zeek_tsv(self, plan: TsvPlan, dest: Path, key: str, max_line_bytes: int) -> int:
        """Read a clean TSV log with the engine's own parallel reader into day-partitioned
        Parquet under ``dest``; raise NativeIngestRejected to hand it to the exact reader."""

    def close(self) -> None: ...
