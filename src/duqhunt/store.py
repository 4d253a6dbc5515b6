"""The case store: one DuckDB file that keeps what a case knows, beside its Parquet telemetry.

Layout for a case file ``OUT/case.duckdb``::

    OUT/case.duckdb                      registry of ingested files, findings, runs
    OUT/case.telemetry/log=conn/day=2011-10-14/<sha256[:16]>-<n>.parquet

Parquet is the contract between a laptop and a cluster: Spark reads the same files. Ingest is
idempotent (a file is keyed by the SHA-256 of its bytes, so the same content under another name
adds nothing) and atomic per file: a file's Parquet is written to a staging folder, moved into
place, then registered in one DuckDB transaction. Parquet files that were never registered (an
ingest interrupted between the move and the commit) are removed when the store is next opened,
so an interrupted ingest leaves the store exactly as it was before that file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from duqhunt.engines.base import (
    CASE_PARQUET_CODEC,
    UNKNOWN_DAY,
    Engine,
    NativeCopy,
    NativeIngestRejected,
    RemoteFile,
    day_indexes,
    day_of,
)
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.errors import InputError, UsageError
from duqhunt.safety import FileDigest, digest_file, sha256_file
from duqhunt.sources.net.dialects import Recognition, recognise, split_export
from duqhunt.sources.net.pcap import PcapConverter, PcapLimits
from duqhunt.sources.net.zeek import ZeekLog, sniff
from duqhunt.sources.net.zeek_limits import Limits, ParseStats
from duqhunt.sources.net.zeek_schema import ANALYSED_LOGS, canonical_schema
from duqhunt.sources.net.zeek_stream import count_empty_lines

log = logging.getLogger(__name__)

# bytes of a remote file read on the driver to sniff it and parse its header
REMOTE_HEAD_BYTES = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingested (
    sha256 VARCHAR PRIMARY KEY,
    path VARCHAR NOT NULL,
    log_type VARCHAR NOT NULL,
    fmt VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    skipped_rows BIGINT NOT NULL,
    truncated BOOLEAN NOT NULL,
    warnings VARCHAR NOT NULL,
    parquet_files VARCHAR NOT NULL,
    ingested_at DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    id VARCHAR PRIMARY KEY,
    detector VARCHAR NOT NULL,
    doc VARCHAR NOT NULL,
    updated_at DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS sightings (
    key VARCHAR PRIMARY KEY,
    origin VARCHAR NOT NULL,
    doc VARCHAR NOT NULL,
    added_at DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started VARCHAR NOT NULL,
    finished VARCHAR NOT NULL,
    report VARCHAR NOT NULL
);
"""


def _recognise_head(head: Path, limits: Limits) -> Recognition:
    """What a remote file is, from its first bytes. Only Zeek's own layout is read from a URI:
    an export (another dialect's names, several log types, CSV) is refused with the reason."""
    fmt = sniff(head, limits)
    if fmt is None:
        ZeekLog(head, limits)  # raises the reader's own InputError (empty, not a Zeek log)
        raise InputError(str(head), "not a Zeek log")  # pragma: no cover - ZeekLog raised
    rec = recognise(head, fmt, limits)
    if not rec.in_place:
        raise InputError(
            str(head),
            f"a {rec.dialect} export ({fmt}): exports are read from a local path only; "
            "copy it to one",
        )
    if rec.log_type is None:
        raise InputError(
            str(head),
            f"unknown log type (fields seen: {', '.join(rec.fields_seen) or 'none'})",
        )
    return rec


@dataclass(frozen=True, slots=True)
class IngestResult:
    path: str
    sha256: str
    log_type: str
    status: str  # analysed | partial | already-ingested
    rows: int
    skipped_rows: int
    warnings: tuple[str, ...]
    fmt: str = ""
    earlier_partial: bool = False  # already ingested, and that ingest was partial


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What ingest_export did: one IngestResult per log type found, and the rows it could not
    give a log type (with the fields they had) or could not read (skipped, with warnings)."""

    path: str
    sha256: str
    dialect: str
    logs: tuple[IngestResult, ...]
    unknown_rows: int
    unknown_fields: tuple[str, ...]
    skipped_rows: int
    warnings: tuple[str, ...]
    truncated: bool = False


class _ParquetSink:
    """Receives canonical tables and writes them as Parquet per day under a staging folder."""

    def __init__(self, staging: Path, log_type: str, key: str, row_group: int = 1 << 20) -> None:
        self.staging = staging
        self.log_type = log_type
        self.key = key
        self.row_group = row_group
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._schema: pa.Schema | None = None
        self._segment = 0
        self.files: dict[tuple[int, str], Path] = {}

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            conformed = self._conform(table)
            if conformed is None:
                # new columns (JSON fields first seen later, a new header block): new files
                self.close()
                self._segment += 1
                self._schema = table.schema
            else:
                table = conformed
        if "ts" in table.column_names and pa.types.is_floating(table.column("ts").type):
            day_idx = day_indexes(table.column("ts"))
        else:
            day_idx = pa.array([-1] * table.num_rows, pa.int64())
        for idx in pc.unique(day_idx).to_pylist():
            day = day_of(idx) if idx >= 0 else UNKNOWN_DAY
            part = table.filter(pc.equal(day_idx, idx))
            writer = self._writers.get(day)
            if writer is None:
                rel = (
                    Path(f"log={self.log_type}")
                    / f"day={day}"
                    / f"{self.key}-{len(self.files)}.parquet"
                )
                dest = self.staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(dest, self._schema, compression=CASE_PARQUET_CODEC)
                self._writers[day] = writer
                self.files[(self._segment, day)] = rel
            writer.write_table(part, row_group_size=self.row_group)

    def _conform(self, table: pa.Table) -> pa.Table | None:
        """The table in the current schema (missing columns as NULL), or None if it cannot be."""
        assert self._schema is not None
        if not set(table.column_names) <= set(self._schema.names):
            return None
        cols = []
        for field in self._schema:
            if field.name in table.column_names:
                col = table.column(field.name)
                if col.type != field.type:
                    try:
                        col = col.cast(field.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                        return None
                cols.append(col)
            else:
                cols.append(pa.nulls(table.num_rows, field.type))
        return pa.Table.from_arrays(cols, schema=self._schema)

    def reset(self) -> None:
        self.close()
        self._segment = 0
        for rel in self.files.values():
            (self.staging / rel).unlink(missing_ok=True)
        self.files.clear()
        self._schema = None

    def close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()


class CaseStore:
    """A case: DuckDB registry + Parquet telemetry. Use as a context manager."""

    def __init__(
        self,
        case_path: Path,
        *,
        threads: int | None = None,
        engine: Engine | None = None,
        memory_limit: str | None = None,
        temp_limit: str | None = None,
    ) -> None:
        self.case_path = Path(case_path)
        if self.case_path.exists() and self.case_path.is_dir():
            raise UsageError(
                f"--case {self.case_path} is a folder; give a file such as case.duckdb"
            )
        self.case_path.parent.mkdir(parents=True, exist_ok=True)
        self.telemetry = self.case_path.with_name(self.case_path.stem + ".telemetry")
        self.telemetry.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.case_path))
        except duckdb.Error as exc:
            raise UsageError(f"cannot open case store {self.case_path}: {exc}") from None
        self.con.execute(_SCHEMA)
        # the registry always lives in DuckDB; telemetry is read and hunted by `engine`
        self.engine: Engine = (
            engine
            if engine is not None
            else DuckDBEngine(
                self.con, threads=threads, memory_limit=memory_limit, temp_limit=temp_limit
            )
        )
        # what read_fraction asks while a log is read (the engine's reader, or the exact one's)
        self._reading: Callable[[], float | None] | None = None
        self._clean_orphans()

    def read_fraction(self) -> float | None:
        """How far the log being ingested now has been read, 0..1, or None (nothing is being
        read, or its reader cannot tell). Safe to call from another thread: a progress display
        inside one big file."""
        reading = self._reading
        return reading() if reading is not None else None

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()
        self.con.close()

    # -- ingest ------------------------------------------------------------------------------
    def _registered_files(self) -> set[str]:
        out: set[str] = set()
        for (files,) in self.con.execute("SELECT parquet_files FROM ingested").fetchall():
            out.update(json.loads(files))
        return out

    def _clean_orphans(self) -> None:
        registered = self._registered_files()
        for stage in [
            *self.telemetry.glob(".staging-*"),
            *self.telemetry.glob(".pcap-*"),
            *self.telemetry.glob(".export-*"),
            *self.telemetry.glob(".remote-*"),
        ]:
            shutil.rmtree(stage, ignore_errors=True)
        for f in self.telemetry.rglob("*.parquet"):
            rel = f.relative_to(self.telemetry).as_posix()
            if rel not in registered:
                log.info("removing unregistered telemetry %s (interrupted ingest)", rel)
                f.unlink(missing_ok=True)

    def is_ingested(self, sha: str) -> bool:
        row = self.con.execute("SELECT 1 FROM ingested WHERE sha256 = ?", [sha]).fetchone()
        return row is not None

    def ingest_zeek(
        self,
        path: Path,
        limits: Limits | None = None,
        *,
        key: str | None = None,
        source: str | None = None,
        log_type: str | None = None,
        type_key: str | None = None,
    ) -> IngestResult:
        """Parse one Zeek log into the case. Raises InputError if it is not a Zeek log.

        ``key`` and ``source`` register a log derived from another input (a capture, an
        export) under that input's hash and path; ``log_type`` and ``type_key`` are what
        ``dialects.recognise`` found (see ZeekLog)."""
        src = source or str(path)
        sha: str | None = key
        if sha is None and self._path_seen(src):
            # most likely the same file hunted again: hash it first, and skip it if it is
            sha = sha256_file(path)
        if sha is not None and self.is_ingested(sha):
            return self._already(src, sha)
        zlog = ZeekLog(path, limits, log_type=log_type, type_key=type_key)
        # a path the case has not seen is hashed while the engine reads it (_ingest_log)
        return self._ingest_log(zlog, sha, src, limits or Limits())

    def _path_seen(self, path: str) -> bool:
        row = self.con.execute("SELECT 1 FROM ingested WHERE path = ?", [path]).fetchone()
        return row is not None

    def ingest_export(self, path: Path, fmt: str, limits: Limits | None = None) -> ExportResult:
        """An export (a SIEM's JSON or CSV, one or several log types, another dialect's names):
        rewritten as canonical Zeek JSON per log type (sources/net/dialects.py), each ingested
        as a log keyed by the export's SHA-256 and its log type, then a marker row, so a re-run
        skips a fully ingested export and an interrupted one resumes."""
        sha = sha256_file(path)
        marker = f"export:{sha}"
        if self.is_ingested(marker):
            rows = self.con.execute(
                "SELECT log_type, fmt FROM ingested WHERE sha256 LIKE ? ORDER BY log_type",
                [f"{sha}:%"],
            ).fetchall()
            done = [
                IngestResult(str(path), sha, lt, "already-ingested", 0, 0, (), str(f))
                for lt, f in rows
            ]
            return ExportResult(str(path), sha, "", tuple(done), 0, (), 0, ())
        lim = limits or Limits()
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=self.telemetry))
        try:
            split = split_export(path, fmt, work, lim)
            stats = split.stats
            assert stats is not None
            results = [
                self.ingest_zeek(f, lim, key=f"{sha}:{lt}", source=str(path), log_type=lt)
                for lt, f in sorted(split.logs.items())
            ]
            warnings = stats.all_warnings()
            self.con.execute(
                "INSERT INTO ingested VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    marker,
                    str(path),
                    "export",
                    f"{fmt}:{split.dialect}",
                    0,
                    stats.skipped_rows,
                    stats.truncated,
                    json.dumps(warnings),
                    "[]",
                    time.time(),
                ],
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return ExportResult(
            str(path),
            sha,
            split.dialect,
            tuple(results),
            split.unknown_rows,
            split.fields_seen(),
            stats.skipped_rows,
            tuple(warnings),
            stats.truncated,
        )

    def ingest_remote(self, remote: RemoteFile, limits: Limits | None = None) -> IngestResult:
        """Ingest one log named by a URI, read by the engine (Spark) from its file system.

        The bytes never pass through the driver, so the file is keyed by its URI, size and
        modification time rather than by the hash of its content. The driver reads only the
        first REMOTE_HEAD_BYTES (to sniff the format and parse the header); a file the engine
        hands back is copied to the driver and read by the exact reader, with a warning."""
        storage = self.engine.storage
        if storage is None:
            raise UsageError(f"{remote.uri}: remote inputs need --engine spark")
        sha = hashlib.sha256(f"{remote.uri}\n{remote.size}\n{remote.mtime_ms}".encode()).hexdigest()
        if self.is_ingested(sha):
            return self._already(remote.uri, sha)
        lim = limits or Limits()
        work = Path(tempfile.mkdtemp(prefix=".remote-", dir=self.telemetry))
        try:
            head = work / "head" / remote.name
            head.parent.mkdir()
            head.write_bytes(storage.read_head(remote.uri, min(REMOTE_HEAD_BYTES, remote.size)))
            try:
                rec = _recognise_head(head, lim)
                zlog = ZeekLog(head, lim, log_type=rec.log_type, type_key=rec.type_key)
            except InputError as exc:
                raise InputError(remote.uri, exc.reason, line=exc.line, offset=exc.offset) from None

            def fetch() -> ZeekLog:
                copy = work / "copy" / remote.name
                copy.parent.mkdir()
                storage.copy_to_local(remote.uri, copy)
                return ZeekLog(copy, lim, log_type=rec.log_type, type_key=rec.type_key)

            return self._ingest_log(zlog, sha, remote.uri, lim, location=remote.uri, fetch=fetch)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _already(self, path: str, sha: str) -> IngestResult:
        """A file the case holds: the rows, skipped rows and warnings of its ingest, so that
        every later report still shows what was wrong with it."""
        row = self.con.execute(
            "SELECT log_type, fmt, rows, skipped_rows, truncated, warnings FROM ingested "
            "WHERE sha256 = ?",
            [sha],
        ).fetchone()
        assert row is not None
        try:
            warnings = tuple(str(w) for w in json.loads(row[5]))
        except (ValueError, TypeError):
            warnings = ()
        return IngestResult(
            path,
            sha,
            row[0],
            "already-ingested",
            int(row[2]),
            int(row[3]),
            warnings,
            str(row[1]),
            earlier_partial=bool(row[3] or row[4]),
        )

    def _ingest_log(
        self,
        zlog: ZeekLog,
        sha: str | None,
        source: str,
        lim: Limits,
        *,
        location: str | None = None,
        fetch: Callable[[], ZeekLog] | None = None,
    ) -> IngestResult:
        """Read one log into staged Parquet (the engine's reader, else the exact reader on the
        driver: ``zlog``, or the local copy ``fetch`` makes of a remote file), move it into
        place and register it in one transaction.

        In a second thread, while the engine reads the file, the log is hashed when ``sha`` is
        None (a file whose content the case may already hold under another name is then
        dropped after the read) and the lines of a local TSV log are counted (rows read must add
        up): DuckDB releases the GIL and leaves part of a core idle while it writes Parquet, so
        both cost little wall time."""
        staging = self.telemetry / f".staging-{uuid.uuid4().hex}"
        notes: list[str] = []
        pool = ThreadPoolExecutor(1)
        count = zlog.fmt == "tsv" and location is None  # JSON and remote: their readers account
        digest: Future[FileDigest] | None = None
        if sha is None or count:
            digest = pool.submit(digest_file, zlog.path, sha=sha is None, lines=count)
        key = sha[:16] if sha else uuid.uuid4().hex[:16]

        def lines() -> int | None:
            return None if digest is None or not count else digest.result().lines

        # a second read of the file, at most once per ingest, and only if the rows do not add up
        empty_lines = functools.cache(lambda: count_empty_lines(zlog.path))

        def rows_unaccounted(stats: ParseStats) -> str | None:
            return self._unaccounted(stats, lines(), empty_lines, location)

        try:
            self._reading = self.engine.query_fraction
            stats, why = self._native_ingest(
                zlog, staging, key, lim, source, location, rows_unaccounted
            )
            unaccounted: str | None = None
            if stats is None:
                if self.engine.reads_off_driver:
                    notes.append(
                        f"{source}: read by the exact Python reader on the driver, "
                        f"not by {self.engine.name} ({why})"
                    )
                reader = zlog if fetch is None else fetch()
                self._reading = reader.meter.fraction
                sink = _ParquetSink(staging, zlog.log_type, key)
                try:
                    stats = reader.read_into(sink)
                finally:
                    sink.close()
                if fetch is not None:  # name the URI, not the driver's copy
                    stats.warnings = [w.replace(str(reader.path), source) for w in stats.warnings]
                    stats.path = source
                # (the engine's reader is checked in _native_ingest)
                unaccounted = rows_unaccounted(stats)
            if sha is None:
                assert digest is not None
                sha = digest.result().sha256
                if self.is_ingested(sha):  # the same content under another name
                    return self._already(source, sha)
            moved: list[str] = []
            for src in sorted(staging.rglob("*.parquet")):
                rel = src.relative_to(staging)
                if not src.name.startswith(sha[:16]):  # files are named by the log's hash
                    rel = rel.with_name(sha[:16] + src.name[len(key) :])
                dest = self.telemetry / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dest)
                moved.append(rel.as_posix())
            if unaccounted:
                stats.truncated = True
                notes.append(unaccounted)
                log.warning("%s", unaccounted)
            status = "partial" if (stats.skipped_rows or stats.truncated) else "analysed"
            warnings = notes + stats.all_warnings()
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(
                    "INSERT INTO ingested VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        sha,
                        source,
                        zlog.log_type,
                        zlog.fmt,
                        stats.rows,
                        stats.skipped_rows,
                        stats.truncated,
                        json.dumps(warnings),
                        json.dumps(moved),
                        time.time(),
                    ],
                )
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                for rel_s in moved:
                    (self.telemetry / rel_s).unlink(missing_ok=True)
                raise
        finally:
            self._reading = None
            pool.shutdown(cancel_futures=True)
            shutil.rmtree(staging, ignore_errors=True)
        return IngestResult(
            source,
            sha,
            zlog.log_type,
            status,
            stats.rows,
            stats.skipped_rows,
            tuple(warnings),
            zlog.fmt,
        )

    def _native_ingest(
        self,
        zlog: ZeekLog,
        staging: Path,
        key: str,
        limits: Limits,
        source: str,
        location: str | None,
        rows_unaccounted: Callable[[ParseStats], str | None],
    ) -> tuple[ParseStats | None, str]:
        """The engine's own parallel reader; (None, why) to use the exact reader."""
        dest = staging / f"log={zlog.log_type}"
        res: NativeCopy
        try:
            tsv = zlog.tsv_plan()
            if tsv is not None:
                if location:
                    tsv = replace(tsv, location=location)
                res = self.engine.copy_zeek_tsv(tsv, dest, key, limits.max_line_bytes)
            elif zlog.fmt == "json" and (js := zlog.json_plan()) is not None:
                if location:
                    js = replace(js, location=location)
                res = self.engine.copy_zeek_json(js, dest, key, limits.max_line_bytes)
            else:
                raise NativeIngestRejected("a header the engine's reader does not take")
        except NativeIngestRejected as exc:
            log.info("%s: exact reader (%s)", source, exc)
            shutil.rmtree(staging, ignore_errors=True)
            return None, str(exc)
        stats = ParseStats(source, zlog.log_type, zlog.fmt)
        stats.rows = res.rows
        stats.skipped_rows = res.skipped_rows
        if rows_unaccounted(stats):
            # the engine's reader lost lines without saying so (DuckDB drops a line over its
            # buffer size, ~32 MB): the exact reader reads the file and names every bad line
            log.info("%s: exact reader (the engine's reader lost lines)", source)
            shutil.rmtree(staging, ignore_errors=True)
            return None, "the engine's reader did not account for every line"
        for w in res.warnings:
            stats.warn(w)
        stats.suppressed_warnings += max(0, res.skipped_rows - len(res.warnings))
        return stats, ""

    @staticmethod
    def _unaccounted(
        stats: ParseStats, lines: int | None, empty_lines: Callable[[], int], location: str | None
    ) -> str | None:
        """Why the rows read do not add up (rows stored + rows skipped must equal the data
        lines of the file), or None. Checked for local plain TSV logs (``lines`` counted: the
        lines that are not '#' lines, LineCounter), the files an engine's own reader reads; a
        gzip log is read through the guarded stream, which counts each line it hands out. No
        reader stores or skips an empty line; they are rare and counted only when the rows do
        not add up to ``lines`` (``empty_lines``: count_empty_lines reads the file again)."""
        if lines is None or location is not None:
            return None
        got = stats.rows + stats.skipped_rows
        if got == lines:
            return None
        data = lines - empty_lines()
        if got == data:
            return None
        return (
            f"{stats.path}: rows read do not add up: {stats.rows} stored + "
            f"{stats.skipped_rows} skipped, but the file has {data} data lines"
        )

    def ingest_pcap(
        self,
        path: Path,
        tshark: str,
        limits: Limits | None = None,
        pcap_limits: PcapLimits | None = None,
    ) -> IngestResult:
        """Decode a capture with tshark into Zeek-schema logs and ingest them.

        Keyed by the capture's SHA-256: a marker row is registered after every derived log, so
        a re-run skips a fully ingested capture, and an interrupted one resumes (the logs
        already registered are kept, the rest are added)."""
        sha = sha256_file(path)
        marker = f"pcap:{sha}"
        if self.is_ingested(marker):
            return IngestResult(str(path), sha, "pcap", "already-ingested", 0, 0, ())
        work = Path(tempfile.mkdtemp(prefix=".pcap-", dir=self.telemetry))
        try:
            result = PcapConverter(path, tshark, work, pcap_limits).convert()
            warnings = list(result.warnings)
            rows = skipped = 0
            for log_type, log_file in sorted(result.logs.items()):
                r = self.ingest_zeek(log_file, limits, key=f"{sha}:{log_type}", source=str(path))
                rows += r.rows
                skipped += r.skipped_rows
                # name the capture, not the temporary log the user never sees
                derived = f"{path} ({log_type}.log decoded from it)"
                warnings += [w.replace(str(log_file), derived) for w in r.warnings]
            self.con.execute(
                "INSERT INTO ingested VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    marker,
                    str(path),
                    "pcap",
                    "pcap",
                    result.packets,
                    skipped,
                    not result.complete,
                    json.dumps(warnings),
                    "[]",
                    time.time(),
                ],
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        status = "analysed" if result.complete and not skipped else "partial"
        return IngestResult(str(path), sha, "pcap", status, rows, skipped, tuple(warnings))

    # -- reading -----------------------------------------------------------------------------
    def files_by_log(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for log_type, files in self.con.execute(
            "SELECT log_type, parquet_files FROM ingested ORDER BY sha256"
        ).fetchall():
            out.setdefault(log_type, []).extend(
                str(self.telemetry / rel) for rel in json.loads(files)
            )
        return out

    def ingested_rows(self) -> dict[str, int]:
        return {
            lt: int(n)
            for lt, n in self.con.execute(
                "SELECT log_type, SUM(rows) FROM ingested WHERE log_type <> 'export' "
                "GROUP BY log_type"
            ).fetchall()
        }

    def prepare_engine(self, where: Mapping[str, str] | None = None) -> Engine:
        """Register every analysed log (empty where the case has none) and derived views;
        ``where`` keeps only the rows of a log that meet a portable SQL condition."""
        by_log = self.files_by_log()
        for log_type in ANALYSED_LOGS:
            self.engine.register_parquet(
                log_type,
                by_log.get(log_type, []),
                canonical_schema(log_type),
                (where or {}).get(log_type),
            )
        self.engine.create_derived_views()
        return self.engine

    # -- findings and runs -------------------------------------------------------------------
    def save_findings(self, docs: list[tuple[str, str, str]]) -> None:
        """Upsert (id, detector, json) rows: a re-run updates, never duplicates (an id given
        twice keeps its last row). One INSERT from an Arrow table: ``executemany`` cost about
        2.5 ms a row (0.5 s for a 10M-row hunt's 195 findings)."""
        now = time.time()
        last = {fid: (det, doc) for fid, det, doc in docs}
        batch = pa.table(
            {
                "id": pa.array(list(last), pa.string()),
                "detector": pa.array([d for d, _ in last.values()], pa.string()),
                "doc": pa.array([j for _, j in last.values()], pa.string()),
                "updated_at": pa.array([now] * len(last), pa.float64()),
            }
        )
        self.con.execute("BEGIN TRANSACTION")
        try:
            if last:
                self.con.register("__findings_batch", batch)
                try:
                    self.con.execute(
                        "INSERT OR REPLACE INTO findings SELECT * FROM __findings_batch"
                    )
                finally:
                    self.con.unregister("__findings_batch")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def stored_findings(self, prefixes: tuple[str, ...], exclude: set[str]) -> list[str]:
        """JSON of findings saved by earlier runs of the case from detectors whose id starts
        with one of ``prefixes`` (host and document evidence, which the store does not keep
        as telemetry), except ``exclude``."""
        rows = self.con.execute("SELECT id, detector, doc FROM findings ORDER BY id").fetchall()
        return [
            doc for fid, det, doc in rows if fid not in exclude and str(det).startswith(prefixes)
        ]

    # -- sightings ---------------------------------------------------------------------------
    def save_sightings(self, rows: list[tuple[str, str, str]]) -> int:
        """Add (key, origin, json) sightings; a key already stored is kept as it was (the first
        origin wins). Returns how many were new."""
        if not rows:
            return 0
        before = self._count("sightings")
        self.con.execute("BEGIN TRANSACTION")
        try:
            now = time.time()
            self.con.executemany(
                "INSERT OR IGNORE INTO sightings VALUES (?, ?, ?, ?)",
                [[key, origin, doc, now] for key, origin, doc in rows],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return self._count("sightings") - before

    def stored_sightings(self) -> list[tuple[str, str]]:
        """(origin, json) of every sighting the case holds, oldest first."""
        rows = self.con.execute(
            "SELECT origin, doc FROM sightings ORDER BY added_at, key"
        ).fetchall()
        return [(str(o), str(d)) for o, d in rows]

    def _count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def save_run(self, started: str, finished: str, report_json: str) -> str:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?)", [run_id, started, finished, report_json]
        )
        return run_id


__all__ = ["CaseStore", "IngestResult", "InputError", "sha256_file"]
