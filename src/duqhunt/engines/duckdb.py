"""The embedded default engine: DuckDB over the case's Parquet telemetry."""

from __future__ import annotations

import contextlib
import mmap
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from duqhunt.engines.base import (
    CASE_PARQUET_CODEC,
    NativeCopy,
    NativeIngestRejected,
    Param,
    RemoteStorage,
    bind,
    day_folder,
)
from duqhunt.engines.views import PORTABLE_VIEWS
from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek import JsonPlan, TsvColumn, TsvPlan


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


# Dialect-specific views: the one place list columns are exploded. Created after the portable
# views (engines/views.py), which http_orig_mime reads.
DERIVED_VIEWS: dict[str, str] = {
    "dns_answers": (
        "SELECT ts, uid, id_orig_h, id_resp_h, query, UNNEST(answers) AS answer "
        "FROM dns WHERE answers IS NOT NULL"
    ),
    "files_conn": (
        "SELECT * EXCLUDE (uid, conn_uid), COALESCE(uid, conn_uid) AS uid FROM ("
        "SELECT *, UNNEST(CASE WHEN conn_uids IS NULL OR len(conn_uids) = 0 "
        "THEN [NULL::VARCHAR] ELSE conn_uids END) AS conn_uid FROM files)"
    ),
    "http_orig_mime": (
        "SELECT ts, uid, id_orig_h, id_resp_h, id_resp_p, method, host, uri, user_agent, "
        "request_body_len, proxy_form, host_name, path, UNNEST(orig_mime_types) AS mime "
        "FROM http_named WHERE orig_mime_types IS NOT NULL"
    ),
}


# key64(a, b): a 64-bit key of two values, for grouping by integers where the text is long
# (sql/periodicity.sql); the same name is a function on Spark (engines/spark.py)
KEY64_MACRO = "CREATE OR REPLACE TEMP MACRO key64(a, b) AS hash(a, b)"


# The native copy writes a log in its own order into files of about this size (DuckDB's
# FILE_SIZE_BYTES), then moves each file into the day folder its rows' times name
# (_place_by_day). Partitioning every row by day in the copy instead (PARTITION_BY) cost about
# 10 of 50 CPU s of a whole 10M-row hunt (benchmarks/results-network.md); a file's day range
# comes from its Parquet statistics for free.
NATIVE_FILE_BYTES = 128 * 1024 * 1024

# Distinct values a column chunk may hold and still be dictionary-encoded (DuckDB's default is
# 6,144: a row group of 122,880 rows / 20). Addresses and ports exceed it on any busy network
# (the benchmark's id_resp_h holds ~40,000 per row group) and were written PLAIN: every
# detector then decoded and hashed 10M strings per read. At 65,536 they are dictionaries; the
# ingest costs no more, and the detectors of a 10M-row hunt ~3.5 CPU s less
# (benchmarks/results-network.md). Columns with more distinct values (uid, ts) stay PLAIN.
NATIVE_DICTIONARY_LIMIT = 65536


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# _has_backslash searches this many bytes per call: a call holds the GIL, and the scan runs in
# a thread beside the copy, so the thread that starts the copy must not wait long for it
_SCAN_WINDOW = 8 << 20


def _has_backslash(path: Path, skip_lines: int = 0) -> bool:
    """A memchr-speed scan past the first ``skip_lines`` lines (the header, whose
    ``#separator \\x09`` line every Zeek TSV log has): most logs (conn, dns) never contain a
    backslash in their rows, and then the written Parquet need not be read back."""
    with open(path, "rb") as fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                pos = 0
                for _ in range(skip_lines):
                    pos = mm.find(b"\n", pos) + 1
                    if pos == 0:  # the header is the whole file
                        return False
                while pos < len(mm):
                    if mm.find(b"\\", pos, pos + _SCAN_WINDOW) >= 0:
                        return True
                    pos += _SCAN_WINDOW
                return False
        except ValueError:  # empty
            return False


_BS = "chr(92)"
_UNESCAPE = f"{_BS} || {_BS}"


def _column_expr(col: TsvColumn, plan: TsvPlan, decode: bool = False) -> str:
    """SQL turning the raw column into its canonical value; any bad value raises. With
    ``decode``, Zeek's doubled backslashes become one (the caller has checked that no other
    escape is present)."""
    ref = _ident(col.zeek_name)
    empty = _lit(plan.empty_field)
    t = col.arrow_type
    if pa.types.is_list(t):
        inner = _duck_type(t.value_type)
        split = f"string_split({ref}, {_lit(plan.set_separator)})"
        if decode:
            split = f"list_transform({split}, lambda x: replace(x, {_UNESCAPE}, {_BS}))"
        conv = split if inner == "VARCHAR" else f"CAST({split} AS {inner}[])"
        return (
            f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} = {empty} "
            f"THEN CAST([] AS {inner}[]) ELSE {conv} END"
        )
    if pa.types.is_boolean(t):
        return (
            f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} = 'T' THEN TRUE "
            f"WHEN {ref} = 'F' THEN FALSE ELSE error('bad bool in ' || {_lit(col.zeek_name)}) END"
        )
    if pa.types.is_string(t):
        value = f"CASE WHEN {ref} = {empty} THEN '' ELSE {ref} END"
        return f"replace({value}, {_UNESCAPE}, {_BS})" if decode else value
    if pa.types.is_floating(t):
        # a NaN/Inf (or a ts outside the plausible span) is a bad row: the error hands the
        # file to the exact reader, which skips that row and names its line
        ok = f"isfinite({ref})"
        if col.name == "ts":
            lo, hi = plan.ts_bounds
            ok += f" AND {ref} >= {float(lo)!r} AND {ref} <= {float(hi)!r}"
        return (
            f"CASE WHEN {ref} IS NULL OR ({ok}) THEN {ref} "
            f"ELSE error('implausible or non-finite ' || {_lit(col.zeek_name)}) END"
        )
    return ref


class DuckDBEngine:
    """Runs detector SQL on a DuckDB connection (the case store's, or an in-memory one)."""

    name = "duckdb"
    errors: tuple[type[Exception], ...] = (duckdb.Error,)
    reads_off_driver = False
    storage: RemoteStorage | None = None  # local paths only (remote inputs need Spark)

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_limit: str | None = None,
    ):
        self.con = con if con is not None else duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # DuckDB's own defaults: 80% of RAM, then spill to <case>.tmp up to 90% of the free disk
        for setting, value, flag in (
            ("memory_limit", memory_limit, "--memory-limit"),
            ("max_temp_directory_size", temp_limit, "--temp-limit"),
        ):
            if value is None:
                continue
            try:
                self.con.execute(f"SET {setting} = ?", [value])
            except duckdb.Error as exc:
                raise UsageError(f"{flag} {value!r}: {exc}") from None
        self._arrow: dict[str, pa.Table] = {}
        self.con.execute(KEY64_MACRO)
        # query_progress() reports nothing unless the progress bar is on; it never prints
        self.con.execute("SET enable_progress_bar = true")
        self.con.execute("SET enable_progress_bar_print = false")

    def register_parquet(
        self, view: str, files: list[str], schema: pa.Schema, where: str | None = None
    ) -> None:
        if not files:
            self.register_arrow(view, schema.empty_table())
            return
        present: dict[str, pa.DataType] = {}
        for f in files:
            for fld in pq.read_schema(f):
                present.setdefault(fld.name, fld.type)
        cols = []
        for fld in schema:
            if fld.name in present:
                cols.append(_ident(fld.name))
            else:
                cols.append(f"CAST(NULL AS {_duck_type(fld.type)}) AS {_ident(fld.name)}")
        cols += [_ident(n) for n in present if n not in schema.names]
        file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {_ident(view)} AS SELECT {', '.join(cols)} "
            f"FROM read_parquet([{file_list}], union_by_name = true, hive_partitioning = false)"
            + (f" WHERE {where}" if where else "")
        )

    def register_arrow(self, view: str, table: pa.Table) -> None:
        self._arrow[view] = table
        self.con.register(f"__arrow_{view}", table)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {_ident(view)} AS SELECT * FROM {_ident('__arrow_' + view)}"
        )

    def create_derived_views(self) -> None:
        for name, sql in {**PORTABLE_VIEWS, **DERIVED_VIEWS}.items():
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {_ident(name)} AS {sql}")

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        rel: Any = self.con.sql(bind(sql, params or {}))
        if rel is None:
            return pa.table({})
        table: pa.Table = rel.to_arrow_table()
        return table

    def copy_zeek_json(
        self, plan: JsonPlan, dest: Path, key: str, max_line_bytes: int
    ) -> NativeCopy:
        """JSON logs are read by the exact Python reader (on this same machine)."""
        raise NativeIngestRejected("JSON logs are read by the exact reader")

    def copy_zeek_tsv(self, plan: TsvPlan, dest: Path, key: str, max_line_bytes: int) -> NativeCopy:
        """Read a clean Zeek TSV log with DuckDB's parallel CSV reader straight into Parquet in
        the log's order under ``dest``, each file in the folder of the days its rows span
        (``day=YYYY-MM-DD/<key>-<n>.parquet``, ``day=YYYY-MM-DD..YYYY-MM-DD/`` for a file
        across midnight, ``day=unknown/`` for rows without a time).

        Strict: a row DuckDB refuses (wrong field count, a value that does not convert, bytes
        that are not UTF-8, a line over the size limit), a second header block, a backslash
        escape (which needs Zeek's unescaping) or compressed input (whose size and ratio limits
        the guarded stream enforces) raises NativeIngestRejected, and the caller reads the file
        with the exact Python reader. Refused lines that start with '#' (#close, the header of
        a concatenated log with the same fields) are not rows. Returns the rows written.
        """
        if plan.compressed:
            # the guarded Python stream enforces the decompression size and ratio limits
            raise NativeIngestRejected("compressed input is read through the guarded stream")
        if any(c.name == "day" for c in plan.columns):
            raise NativeIngestRejected("a column named 'day' clashes with the day folders")
        raw_types = []
        for col in plan.columns:
            t = col.arrow_type
            native = (pa.types.is_floating(t) or pa.types.is_integer(t)) and not pa.types.is_list(t)
            raw_types.append(
                f"{_lit(col.zeek_name)}: {_lit(_duck_type(t) if native else 'VARCHAR')}"
            )
        # the rows' day folders come from the written files' statistics of a float ts
        timed = any(c.name == "ts" and pa.types.is_floating(c.arrow_type) for c in plan.columns)
        text_cols = [
            c
            for c in plan.columns
            if pa.types.is_string(c.arrow_type) or pa.types.is_list(c.arrow_type)
        ]

        def source(rejects: str) -> str:
            return (
                f"read_csv({_lit(str(plan.path))}, delim={_lit(plan.separator)}, header=false, "
                f"skip={int(plan.header_lines)}, quote='', escape='', "
                f"nullstr={_lit(plan.unset_field)}, columns={{{', '.join(raw_types)}}}, "
                f"auto_detect=false, strict_mode=true, null_padding=false, "
                f"max_line_size={int(max_line_bytes)}, compression='none', store_rejects=true, "
                f"rejects_table={_lit(rejects)}, rejects_scan={_lit(rejects + '_scan')})"
            )

        dest.mkdir(parents=True, exist_ok=True)
        # the backslash scan runs beside the copy: memchr speed, but mapping the file's pages
        # took ~0.3 s per 1.35 GB that every ingest waited for when it ran after the copy
        with ThreadPoolExecutor(1, thread_name_prefix="backslash-scan") as pool:
            escaped = (
                pool.submit(_has_backslash, plan.path, plan.header_lines) if text_cols else None
            )
            rows = self._copy_pass(plan, source, dest, key, timed, decode=False)
            if not rows or escaped is None or not escaped.result():
                return NativeCopy(rows)
        # a backslash anywhere in the output: Zeek escaped something. Doubled backslashes
        # (Windows paths in SMB logs) are decoded here in a second pass; \xHH escapes and
        # stray backslashes are left to the exact reader.
        files = sorted(str(p) for p in dest.rglob("*.parquet"))
        listing = ", ".join(_lit(f) for f in files)
        checks = [
            f"contains({_ident(c.name)}, {_BS})"
            for c in text_cols
            if pa.types.is_string(c.arrow_type)
        ]
        checks += [
            f"contains(array_to_string({_ident(c.name)}, chr(31)), {_BS})"
            for c in text_cols
            if pa.types.is_list(c.arrow_type)
        ]
        hit: Any = self.con.execute(
            f"SELECT COUNT(*) FROM read_parquet([{listing}], hive_partitioning = false) WHERE {' OR '.join(checks)}"
        ).fetchone()
        if not hit or not hit[0]:
            return NativeCopy(rows)
        odd = " OR ".join(
            f"contains(replace({_ident(c.zeek_name)}, {_UNESCAPE}, ''), {_BS})" for c in text_cols
        )
        rejects = f"__rejects_{key}_check"
        try:
            other: Any = self.con.execute(
                f"SELECT COUNT(*) FROM {source(rejects)} WHERE {odd}"
            ).fetchone()
        except duckdb.Error as exc:
            raise NativeIngestRejected(str(exc).splitlines()[0][:300]) from None
        finally:
            self._drop_rejects(rejects)
        if other and other[0]:
            raise NativeIngestRejected("values with \\xHH escapes or stray backslashes")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True, exist_ok=True)
        return NativeCopy(self._copy_pass(plan, source, dest, key, timed, decode=True))

    def _drop_rejects(self, rejects: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {_ident(rejects)}")
        self.con.execute(f"DROP TABLE IF EXISTS {_ident(rejects + '_scan')}")

    def _copy_pass(
        self,
        plan: TsvPlan,
        source: Callable[[str], str],
        dest: Path,
        key: str,
        timed: bool,
        *,
        decode: bool,
    ) -> int:
        """One COPY of the log into Parquet in the log's order, files of about
        NATIVE_FILE_BYTES, each then moved into its day folder (_place_by_day)."""
        rejects = f"__rejects_{key}"
        exprs = [f"{_column_expr(c, plan, decode)} AS {_ident(c.name)}" for c in plan.columns]
        flat = dest / ".flat"
        try:
            row: Any = self.con.execute(
                f"COPY (SELECT {', '.join(exprs)} FROM {source(rejects)}) "
                f"TO {_lit(str(flat))} (FORMAT parquet, COMPRESSION {CASE_PARQUET_CODEC}, "
                f"FILE_SIZE_BYTES {int(NATIVE_FILE_BYTES)}, FILENAME_PATTERN {_lit(key + '-{i}')}, "
                f"DICTIONARY_SIZE_LIMIT {int(NATIVE_DICTIONARY_LIMIT)})"
            ).fetchone()
            bad: Any = self.con.execute(
                f"SELECT line, csv_line FROM {_ident(rejects)} ORDER BY line"
            ).fetchall()
        except duckdb.Error as exc:
            raise NativeIngestRejected(str(exc).splitlines()[0][:300]) from None
        finally:
            self._drop_rejects(rejects)
        for line, text in bad:
            text = str(text or "")
            if not text.startswith("#"):
                raise NativeIngestRejected(f"line {line}: a row the strict reader refused")
            if text.startswith(("#fields", "#types")):
                raise NativeIngestRejected(f"line {line}: a second header block")
        self._place_by_day(flat, dest, key, timed)
        return int(row[0]) if row else 0

    def _place_by_day(self, flat: Path, dest: Path, key: str, timed: bool) -> None:
        """Move each file the copy wrote under ``flat`` into ``dest/<day folder>``
        (day_folder): the range of its rows' ``ts`` from its Parquet statistics. A file that
        holds rows with and without a time is split, so ``day=unknown`` holds exactly the rows
        without one, as in the other ingest paths."""
        files = sorted(flat.glob("*.parquet"))
        # parts of a split file are numbered after the copy's own <key>-<i> files
        n = 1 + max((int(f.stem.rsplit("-", 1)[1]) for f in files), default=-1)
        if files:  # a log without rows: DuckDB still writes one empty file
            listing = ", ".join(_lit(str(f)) for f in files)
            for name, rows in self.con.execute(
                f"SELECT file_name, num_rows FROM parquet_file_metadata([{listing}])"
            ).fetchall():
                if not rows:
                    Path(name).unlink()
                    files.remove(Path(name))
        spans: dict[Path, tuple[float | None, float | None, int]] = {}
        if timed and files:
            listing = ", ".join(_lit(str(f)) for f in files)
            for name, lo, hi, nulls, complete in self.con.execute(
                "SELECT file_name, MIN(TRY_CAST(stats_min_value AS DOUBLE)), "
                "MAX(TRY_CAST(stats_max_value AS DOUBLE)), SUM(stats_null_count), "
                "BOOL_AND(stats_null_count IS NOT NULL AND (stats_min_value IS NOT NULL "
                "OR stats_null_count = row_group_num_rows)) "
                f"FROM parquet_metadata([{listing}]) WHERE path_in_schema = 'ts' GROUP BY 1"
            ).fetchall():
                if not complete:  # no statistics written: read the times themselves
                    lo, hi, nulls = self.con.execute(
                        "SELECT MIN(ts), MAX(ts), COUNT(*) - COUNT(ts) "
                        f"FROM read_parquet({_lit(str(name))}, hive_partitioning = false)"
                    ).fetchone() or (None, None, 0)
                spans[Path(name)] = (lo, hi, int(nulls or 0))
        for f in files:
            lo, hi, nulls = spans.get(f, (None, None, 0))
            folder = dest / day_folder(lo, hi)
            folder.mkdir(exist_ok=True)
            if lo is None or not nulls:
                f.rename(folder / f.name)
                continue
            # rows with and without a time: the untimed ones go to day=unknown (the folders
            # of the path are not columns: no hive partitioning)
            unknown = dest / day_folder(None, None)
            unknown.mkdir(exist_ok=True)
            for where, to in (("ts IS NOT NULL", folder), ("ts IS NULL", unknown)):
                self.con.execute(
                    f"COPY (SELECT * FROM read_parquet({_lit(str(f))}, hive_partitioning = false) "
                    f"WHERE {where}) TO {_lit(str(to / f'{key}-{n}.parquet'))} "
                    f"(FORMAT parquet, COMPRESSION {CASE_PARQUET_CODEC})"
                )
                n += 1
            f.unlink()
        shutil.rmtree(flat, ignore_errors=True)

    def query_fraction(self) -> float | None:
        done = float(self.con.query_progress())
        return min(1.0, done / 100.0) if done >= 0 else None

    def close(self) -> None:
        for view in list(self._arrow):
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(f"__arrow_{view}")
        self._arrow.clear()
