"""The scale-out engine: Apache Spark running the same detector SQL over the same Parquet.

Loaded lazily: ``pyspark`` is an optional extra (``pip install 'duqhunt[spark]'``) and needs a
Java 17+ runtime; without either, ``SparkEngine`` raises a UsageError that says what to install.
Local mode (``local[*]``) when no master is given; a running session (a notebook's, a
``spark-submit`` application's) is attached to, never stopped, and left as it was found.

Zeek logs are read by Spark itself, in parallel on the executors (not through the driver):
TSV and JSON lines, plain or gzip (Hadoop's codec, chosen by the ``.gz`` name; a gzip file is
not splittable, so one task reads it), from local paths or any Hadoop file system URI
(``s3a://``, ``hdfs://``, ``abfss://``, ``gs://``, ``file://``). Every line is read as text and
numbered, then parsed with Spark's CSV or JSON parser against the schema map; rows it cannot
parse are skipped and reported with their file and line, like the exact reader does. The
values are normalised with the same rules as the DuckDB and Python readers and written as
Parquet partitioned by day. What Spark cannot decode exactly (``\\xHH`` escapes, bytes that
are not UTF-8, a header block that changes the columns, gzip data without a ``.gz`` name) is
handed back to the exact Python reader on the driver, with a warning.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from collections.abc import Mapping
from functools import reduce
from pathlib import Path
from typing import Any

import pyarrow as pa

from duqhunt.engines.base import (
    CASE_PARQUET_CODEC,
    DAY_TS_MAX,
    UNKNOWN_DAY,
    NativeCopy,
    NativeIngestRejected,
    Param,
    RemoteFile,
    RemoteStorage,
    bind,
)
from duqhunt.engines.views import PORTABLE_VIEWS
from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek import JsonPlan, TsvColumn, TsvPlan
from duqhunt.sources.net.zeek_limits import MAX_WARNINGS_PER_FILE
from duqhunt.sources.net.zeek_schema import arrow_type, canonical_name, container_inner

try:  # the optional extra
    from pyspark.errors import PySparkException
    from pyspark.sql import Column, DataFrame, Observation
    from pyspark.sql import SparkSession as _SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    SparkSession: Any = _SparkSession
    # py4j (pyspark's bridge to the JVM) ships no type information
    Py4JError: type[Exception] = importlib.import_module("py4j.protocol").Py4JError
except ImportError:  # pragma: no cover - exercised where pyspark is missing
    SparkSession = None

# settings of a session duqhunt starts itself; a user's --spark-conf wins over these
_NEW_SESSION_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.compression.codec": CASE_PARQUET_CODEC,
}
# local mode only: few shuffle partitions suit one machine's small cases (Spark's 200 do not);
# a cluster keeps its own defaults (see docs/scale.md, Partitioning)
_LOCAL_SHUFFLE_PARTITIONS = "8"
_DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
_TZ = "spark.sql.session.timeZone"
_BLANK = r"^[ \t\r\x0b\x0c]*$"


def _unescape(col: Any) -> Any:
    """Zeek writes one backslash as two: decode the pairs (other escapes were ruled out)."""
    return F.replace(col, F.lit("\\\\"), F.lit("\\"))


def _spark_type(t: pa.DataType) -> Any:
    if pa.types.is_list(t):
        return T.ArrayType(_spark_type(t.value_type))
    if pa.types.is_floating(t):
        return T.DoubleType()
    if pa.types.is_integer(t):
        return T.LongType()
    if pa.types.is_boolean(t):
        return T.BooleanType()
    return T.StringType()


def _json_read_type(zeek_type: str) -> Any:
    """How Spark's JSON parser reads a field: times as text (epoch number or ISO 8601, both
    written by Zeek's JSON writer depending on its settings), the rest as their canonical type."""
    inner = container_inner(zeek_type)
    if inner is not None:
        return T.ArrayType(_json_read_type(inner))
    if zeek_type == "time":
        return T.StringType()
    return _spark_type(arrow_type(zeek_type))


def _epoch(text: Any) -> Any:
    """Epoch seconds from a JSON time: a number, else ISO 8601 (naive times are UTC, as the
    exact reader takes them; the session time zone is UTC)."""
    return F.coalesce(
        text.try_cast("double"),
        F.unix_micros(F.try_to_timestamp(text)) / F.lit(1_000_000.0),
    )


def _any(conds: list[Any]) -> Any:
    return reduce(lambda a, b: a | b, conds) if conds else F.lit(False)


def _bad_number(ref: Any, name: str, bounds: tuple[float, float]) -> Any:
    """A NaN or infinite double, or a ``ts`` outside the plausible span: a bad row."""
    odd = F.isnan(ref) | (F.abs(ref) == F.lit(float("inf")))
    if name == "ts":
        odd = odd | (ref < F.lit(float(bounds[0]))) | (ref > F.lit(float(bounds[1])))
    return ref.isNotNull() & odd


_BAD_NUMBER = "a NaN/Inf number or a time outside the plausible span"


def _first_line(exc: BaseException) -> str:
    """A one-line reason: a Py4J error's Java exception and its root cause, not the
    'An error occurred while calling o123.parquet' Py4J puts first."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            root = java
            while root.getCause() is not None:
                root = root.getCause()
            head, cause = str(java.toString()), str(root.toString())
            text = head if cause == head else f"{head.splitlines()[0]} (caused by {cause})"
        except Exception:  # pragma: no cover - the JVM went away
            text = str(exc)
    else:
        text = str(exc)
    lines = text.strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:400]


# names Hadoop's Path cannot take as they are: a ':' (Zeek's rotated conn.00:00:00-01:00:00.log)
# and glob characters
_AWKWARD_NAME = re.compile(r"[:*?\[\]{}\\]")


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def _active_session() -> Any:
    try:
        return SparkSession.getActiveSession()
    except Exception:  # pragma: no cover - no JVM yet
        return None


class HadoopStorage:
    """Lists and reads URIs with the Hadoop FileSystem of the session (s3a, hdfs, abfss, gs,
    file, ...), on the driver; the data itself is read by the executors."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark

    def _fs(self, uri: str) -> tuple[Any, Any]:
        sc = self._spark.sparkContext
        path = sc._jvm.org.apache.hadoop.fs.Path(uri)
        try:
            return path.getFileSystem(sc._jsc.hadoopConfiguration()), path
        except (Py4JError, PySparkException) as exc:
            raise UsageError(self._explain(uri, exc)) from None

    def _explain(self, uri: str, exc: BaseException) -> str:
        msg = _first_line(exc)
        scheme = uri.split(":", 1)[0]
        if "No FileSystem for scheme" in str(exc) or "ClassNotFoundException" in str(exc):
            version = self._spark.sparkContext._jvm.org.apache.hadoop.util.VersionInfo.getVersion()
            hint = (
                f"add the hadoop-aws jar: --spark-conf spark.jars.packages="
                f"org.apache.hadoop:hadoop-aws:{version}"
                if scheme in ("s3a", "s3", "s3n")
                else "add the connector jar for it to Spark's classpath (spark.jars.packages)"
            )
            return f"{uri}: Spark has no Hadoop file system for {scheme}:// ({hint}; see docs/scale.md)"
        if "Relative path in absolute URI" in str(exc):
            return (
                f"{uri}: Hadoop cannot list or read file names with ':' (as in Zeek's rotated "
                f"conn.00:00:00-01:00:00.log.gz): {msg}; rename them, or give a local path"
            )
        return f"{uri}: {msg}"

    def list_files(self, pattern: str) -> list[RemoteFile]:
        fs, path = self._fs(pattern)
        try:
            matches = fs.globStatus(path)
            out: list[RemoteFile] = []
            for status in matches or []:
                root = str(status.getPath().toString())
                if not status.isDirectory():
                    out.append(self._remote(status))
                    continue
                it = fs.listFiles(status.getPath(), True)
                while it.hasNext():
                    f = it.next()
                    rel = str(f.getPath().toString())[len(root) :]
                    if any(part[:1] in (".", "_") for part in rel.split("/") if part):
                        continue  # hidden files, _SUCCESS, _temporary, .crc
                    out.append(self._remote(f))
        except (Py4JError, PySparkException) as exc:
            raise UsageError(self._explain(pattern, exc)) from None
        if not out and not matches:
            raise UsageError(f"input {pattern} does not exist (or the glob matches nothing)")
        return sorted(out, key=lambda r: r.uri)

    @staticmethod
    def _remote(status: Any) -> RemoteFile:
        return RemoteFile(
            str(status.getPath().toString()),
            int(status.getLen()),
            int(status.getModificationTime()),
        )

    def read_head(self, uri: str, size: int) -> bytes:
        fs, path = self._fs(uri)
        try:
            stream = fs.open(path)
            try:
                return bytes(stream.readNBytes(int(size)))
            finally:
                stream.close()
        except (Py4JError, PySparkException) as exc:
            raise OSError(self._explain(uri, exc)) from None

    def copy_to_local(self, uri: str, dest: Path) -> None:
        fs, path = self._fs(uri)
        target = self._spark.sparkContext._jvm.org.apache.hadoop.fs.Path(dest.resolve().as_uri())
        try:
            fs.copyToLocalFile(False, path, target, True)
        except (Py4JError, PySparkException) as exc:
            raise OSError(self._explain(uri, exc)) from None


def _quiet_log4j() -> str:
    """The log4j2 configuration of a driver JVM duqhunt starts (content/spark)."""
    from importlib import resources

    return str(resources.files("duqhunt.content").joinpath("spark", "log4j2.properties"))


# key64(a, b): DuckDB's macro of that name (engines/duckdb.py) with Spark's 64-bit hash; a SQL
# function, so Spark inlines it as an expression (no Python worker)
KEY64_FUNCTION = (
    "CREATE OR REPLACE TEMPORARY FUNCTION key64(a STRING, b STRING) RETURNS BIGINT "
    "RETURN xxhash64(a, b)"
)


class SparkEngine:
    """Runs detector SQL on a SparkSession (local mode by default, or the running session)."""

    name = "spark"
    reads_off_driver = True
    errors: tuple[type[Exception], ...] = ()
    storage: RemoteStorage | None = None

    def __init__(
        self,
        master: str | None = None,
        *,
        app_name: str = "duqhunt",
        conf: Mapping[str, str] | None = None,
        stop_on_close: bool = True,
    ) -> None:
        if SparkSession is None:
            raise UsageError(
                "--engine spark needs Apache Spark's Python package: "
                "pip install 'duqhunt[spark]' (or pip install pyspark)"
            )
        user = dict(conf or {})
        self._restore: dict[str, str | None] = {}
        active = _active_session()
        if active is not None:
            # attach: apply only what the user asks for and UTC, and undo both on close
            self.spark = active
            self._created = False
            for key, value in {**user, _TZ: "UTC"}.items():
                self._set(key, value)
        else:
            if not java_available():
                raise UsageError(
                    "--engine spark needs a Java 17+ runtime on PATH or in JAVA_HOME "
                    "(e.g. apt-get install openjdk-17-jre-headless)"
                )
            master = master or os.environ.get("DUQHUNT_SPARK_MASTER") or "local[*]"
            settings = dict(_NEW_SESSION_DEFAULTS)
            if master.startswith("local"):
                settings["spark.sql.shuffle.partitions"] = _LOCAL_SHUFFLE_PARTITIONS
            settings.update(user)
            settings[_TZ] = "UTC"  # day partitions and naive ISO times are UTC
            if master.startswith("local"):
                # errors only from the JVM's start on (setLogLevel comes after its start-up
                # warnings); a configuration file the user names later in the options wins.
                # Not on a cluster: the option would replace spark-defaults.conf's.
                settings[_DRIVER_JAVA_OPTIONS] = (
                    f"-Dlog4j2.configurationFile={_quiet_log4j()} "
                    f"{user.get(_DRIVER_JAVA_OPTIONS, '')}"
                ).strip()
            builder = SparkSession.builder.appName(app_name).master(master)
            for key, value in settings.items():
                builder = builder.config(key, value)
            try:
                self.spark = builder.getOrCreate()
            except (PySparkException, Py4JError, RuntimeError) as exc:
                raise UsageError(f"cannot start Spark ({_first_line(exc)})") from None
            self._created = True
            self.spark.sparkContext.setLogLevel("ERROR")
        if user.get(_TZ, "UTC") != "UTC":
            raise UsageError(f"--spark-conf {_TZ}: duqhunt needs UTC (days are UTC days)")
        self.errors = (PySparkException, Py4JError)
        self.storage = HadoopStorage(self.spark)
        self.spark.sql(KEY64_FUNCTION)
        # tests share one JVM across hunts: DUQHUNT_SPARK_KEEP_SESSION=1 keeps it running
        self._stop = (
            self._created and stop_on_close and os.environ.get("DUQHUNT_SPARK_KEEP_SESSION") != "1"
        )

    def _set(self, key: str, value: str) -> None:
        conf = self.spark.conf
        old = conf.get(key, None)
        try:
            conf.set(key, value)
        except (PySparkException, Py4JError) as exc:
            raise UsageError(
                f"--spark-conf {key}: cannot be changed on the running Spark session "
                f"({_first_line(exc)}); set it where the session is created"
            ) from None
        self._restore.setdefault(key, old)

    # -- the Engine interface ----------------------------------------------------------------
    def register_parquet(
        self, view: str, files: list[str], schema: pa.Schema, where: str | None = None
    ) -> None:
        if not files:
            self.register_arrow(view, schema.empty_table())
            return
        df = self.spark.read.option("mergeSchema", "true").parquet(*files)
        present = set(df.columns)
        for field in schema:
            if field.name not in present:
                df = df.withColumn(field.name, F.lit(None).cast(_spark_type(field.type)))
        if where:
            df = df.filter(F.expr(where))
        df.createOrReplaceTempView(view)

    def register_arrow(self, view: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            # built in the JVM: createDataFrame([], schema) parallelises a Python list, and
            # its tasks start Python worker processes (a 2-row hunt, whose other logs are
            # empty views, printed "Python worker exited unexpectedly" when one died)
            df = self.spark.range(0).select(
                *[F.lit(None).cast(_spark_type(f.type)).alias(f.name) for f in table.schema]
            )
        else:
            df = self.spark.createDataFrame(table)  # Arrow batches read by the JVM
        df.createOrReplaceTempView(view)

    def create_derived_views(self) -> None:
        """The portable views (engines/views.py), then the dialect-specific ones (list columns
        exploded), as DuckDB's DERIVED_VIEWS."""
        for name, sql in PORTABLE_VIEWS.items():
            self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW dns_answers AS "
            "SELECT ts, uid, id_orig_h, id_resp_h, query, explode(answers) AS answer "
            "FROM dns WHERE answers IS NOT NULL"
        )
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW http_orig_mime AS "
            "SELECT ts, uid, id_orig_h, id_resp_h, id_resp_p, method, host, uri, user_agent, "
            "request_body_len, proxy_form, host_name, path, explode(orig_mime_types) AS mime "
            "FROM http_named WHERE orig_mime_types IS NOT NULL"
        )
        files: DataFrame = self.spark.table("files")
        exploded = files.withColumn("__conn_uid", F.explode_outer("conn_uids"))
        exploded = exploded.withColumn("uid", F.coalesce(F.col("uid"), F.col("__conn_uid")))
        exploded.drop("__conn_uid").createOrReplaceTempView("files_conn")

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        table: pa.Table = self.spark.sql(bind(sql, params or {})).toArrow()
        return table

    def query_fraction(self) -> float | None:
        """The tasks finished out of those of the stages running now (a big file is read as
        several tasks, one per split)."""
        tracker = self.spark.sparkContext.statusTracker()
        done = total = 0
        for stage in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage)
            if info is not None:
                done += info.numCompletedTasks
                total += info.numTasks
        return done / total if total else None

    def close(self) -> None:
        if self._stop:
            self.spark.stop()
            return
        for key, old in self._restore.items():  # an attached session, as it was found
            try:
                if old is None:
                    self.spark.conf.unset(key)
                else:
                    self.spark.conf.set(key, old)
            except (PySparkException, Py4JError):  # pragma: no cover - a stopped session
                pass
        self._restore.clear()

    # -- native ingest -----------------------------------------------------------------------
    @staticmethod
    def _readable(path: Path, location: str | None, dest: Path, key: str) -> str:
        """Where Spark reads a file. A local name Hadoop cannot take (a ':' or a glob
        character) is read through a symlink with a plain name beside the staged output."""
        if location:
            return location
        if not _AWKWARD_NAME.search(path.name):
            return str(path)
        safe = _AWKWARD_NAME.sub("_", path.name)
        link = dest.parent / f"in-{key}-{safe}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(path.resolve())
        return str(link)

    def _lines(self, location: str, compressed: bool) -> Any:
        """Every line of a file as text (``\\r`` before the newline dropped), with what locates
        it: the start of the file split it was read in and an id increasing along the split."""
        gz = location.endswith(".gz")
        if compressed != gz:
            # Hadoop picks the codec by the name: gzip data under another name (or a .gz
            # name on plain data) goes to the exact reader, which looks at the bytes
            raise NativeIngestRejected(
                "gzip data without a .gz name" if compressed else "a .gz name on plain data"
            )
        return (
            self.spark.read.option("lineSep", "\n")
            .text(location)
            .select(
                F.regexp_replace(F.col("value"), "\r+$", "").alias("value"),
                F.input_file_block_start().alias("_blk"),
                F.monotonically_increasing_id().alias("_mid"),
            )
        )

    def copy_zeek_tsv(self, plan: TsvPlan, dest: Path, key: str, max_line_bytes: int) -> NativeCopy:
        """Read a Zeek TSV log (plain or gzip) into Parquet partitioned by day under ``dest``
        (``day=YYYY-MM-DD/<key>-part-*.parquet``). Lines are read as text and parsed with
        Spark's CSV parser (no quotes, no escapes, ``#unset_field`` as NULL) into the types the
        schema map gives; a row with the wrong field count or a value that does not convert is
        skipped and reported with its line. A second header block that changes the columns,
        ``\\xHH`` escapes or stray backslashes, and bytes that are not UTF-8 hand the file to
        the exact reader (NativeIngestRejected)."""
        if any(c.name == "day" for c in plan.columns):
            raise NativeIngestRejected("a column named 'day' clashes with the partition column")
        location = plan.source()
        lines = self._lines(self._readable(plan.path, plan.location, dest, key), plan.compressed)
        value = F.col("value")
        ddl = ", ".join(
            f"c{i} {self._csv_type(c).simpleString()}" for i, c in enumerate(plan.columns)
        )
        options = {
            "sep": plan.separator,
            "quote": "",
            "escape": "\u0000",
            "nullValue": plan.unset_field,
            "emptyValue": "",
            "mode": "PERMISSIVE",
            "columnNameOfCorruptRecord": "_corrupt",
            "ignoreLeadingWhiteSpace": "false",
            "ignoreTrailingWhiteSpace": "false",
        }
        comment = value.startswith("#")
        data = ~comment & (value != "")
        parsed = lines.withColumn(
            "_c", F.when(data, F.from_csv(value, ddl + ", _corrupt STRING", options))
        )
        refs = [F.col("_c").getField(f"c{i}") for i in range(len(plan.columns))]
        bad_bool = [
            ref.isNotNull() & ~ref.isin("T", "F")
            for ref, c in zip(refs, plan.columns, strict=True)
            if pa.types.is_boolean(c.arrow_type)
        ]
        bad_num = [
            _bad_number(ref, c.name, plan.ts_bounds)
            for ref, c in zip(refs, plan.columns, strict=True)
            if pa.types.is_floating(c.arrow_type)
        ]
        too_long = F.octet_length(value) + 1 > int(max_line_bytes)
        fields = F.size(F.split(value, re.escape(plan.separator), -1))
        corrupt_c = F.col("_c._corrupt").isNotNull()
        bad = data & (too_long | corrupt_c | _any(bad_bool) | _any(bad_num))
        reason = (
            F.when(too_long, F.lit("line longer than the size limit"))
            .when(
                fields != len(plan.columns),
                F.concat(
                    fields.cast("string"),
                    F.lit(f" fields where #fields names {len(plan.columns)}"),
                ),
            )
            .when(~corrupt_c & _any(bad_num), F.lit(_BAD_NUMBER))
            .otherwise(F.lit("a value that does not convert to its column's type"))
        )
        header = (
            comment
            & (
                value.startswith("#fields")
                | value.startswith("#types")
                | value.startswith("#separator")
            )
            & ~value.isin(*sorted(plan.raw_header))
        )
        # doubled backslashes are decoded; \xHH escapes and stray backslashes are not
        odd = _any(
            [
                F.instr(F.replace(ref, F.lit("\\\\"), F.lit("")), "\\") > 0
                for ref, c in zip(refs, plan.columns, strict=True)
                if pa.types.is_string(c.arrow_type) or pa.types.is_list(c.arrow_type)
            ]
        )
        columns = [
            self._column_expr(ref, c, plan).alias(c.name)
            for ref, c in zip(refs, plan.columns, strict=True)
        ]
        rejects = {
            "header": (header, "a second header block changes the columns"),
            "escapes": (data & ~bad & odd, "values with \\xHH escapes or stray backslashes"),
            "not_utf8": (F.instr(value, "\ufffd") > 0, "bytes that are not UTF-8"),
        }
        return self._write(parsed, data, bad, reason, columns, rejects, location, dest, key)

    def copy_zeek_json(
        self, plan: JsonPlan, dest: Path, key: str, max_line_bytes: int
    ) -> NativeCopy:
        """Read a Zeek JSON-lines log (plain or gzip; one object per line, dotted names) with
        Spark's JSON parser and an explicit schema from the schema map, into Parquet as
        copy_zeek_tsv. ``ts`` and other times may be epoch numbers or ISO 8601 text. A line
        that is not a JSON object, has a value of the wrong type, or a time that is neither is
        skipped and reported with its line; bytes that are not UTF-8 hand the file to the
        exact reader."""
        if any(canonical_name(n) == "day" for n, _ in plan.fields):
            raise NativeIngestRejected("a field named 'day' clashes with the partition column")
        location = plan.source()
        lines = self._lines(self._readable(plan.path, plan.location, dest, key), plan.compressed)
        value = F.col("value")
        typed = {n for n, _ in plan.fields}
        type_key = plan.type_key if plan.type_key not in typed else None
        schema = T.StructType(
            [T.StructField(n, _json_read_type(t), True) for n, t in plan.fields]
            + ([T.StructField(type_key, T.StringType(), True)] if type_key else [])
            + [T.StructField("_corrupt", T.StringType(), True)]
        )
        data = ~value.rlike(_BLANK)
        parsed = lines.withColumn(
            "_j",
            F.when(
                data,
                F.from_json(
                    value,
                    schema,
                    {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"},
                ),
            ),
        )
        columns: list[Any] = []
        bad_time: list[Any] = []
        bad_num: list[Any] = []
        for name, ztype in plan.fields:
            ref = F.col("_j").getField(name)
            inner = container_inner(ztype)
            if ztype in ("interval", "double"):
                bad_num.append(_bad_number(ref, canonical_name(name), plan.ts_bounds))
            if ztype == "time":
                conv = _epoch(ref)
                bad_time.append(ref.isNotNull() & conv.isNull())
                bad_num.append(_bad_number(conv, canonical_name(name), plan.ts_bounds))
            elif inner == "time":
                conv = F.transform(ref, _epoch)
                bad_time.append(F.exists(ref, lambda x: x.isNotNull() & _epoch(x).isNull()))
            else:
                conv = ref
            columns.append(conv.alias(canonical_name(name)))
        too_long = F.octet_length(value) + 1 > int(max_line_bytes)
        not_object = ~value.rlike(r"^\s*\{")
        corrupt = F.col("_j._corrupt").isNotNull()
        bad = data & (too_long | not_object | corrupt | _any(bad_time) | _any(bad_num))
        reason = (
            F.when(too_long, F.lit("line longer than the size limit"))
            .when(not_object, F.lit("not a JSON object"))
            .when(corrupt, F.lit("not valid JSON, or a field of the wrong type"))
            .when(_any(bad_num), F.lit(_BAD_NUMBER))
            .otherwise(F.lit("a time that is neither epoch seconds nor ISO 8601"))
        )
        rejects = {"not_utf8": (F.instr(value, "\ufffd") > 0, "bytes that are not UTF-8")}
        if type_key:
            # rows naming another log type (_path, @stream): the exact reader splits the file
            named = F.col("_j").getField(type_key)
            rejects["mixed"] = (
                data & named.isNotNull() & (F.lower(named) != F.lit(plan.log_type)),
                f"rows of several log types in {type_key}",
            )
        return self._write(parsed, data, bad, reason, columns, rejects, location, dest, key)

    def _write(
        self,
        parsed: Any,
        data: Any,
        bad: Any,
        reason: Any,
        columns: list[Any],
        rejects: dict[str, tuple[Any, str]],
        location: str,
        dest: Path,
        key: str,
    ) -> NativeCopy:
        """Write the good rows as day-partitioned Parquet in one pass over the file, counting
        good and bad rows and the conditions that hand the file back on the way (observed
        metrics). Only when rows were skipped does a second pass find their lines."""
        obs = Observation(f"duqhunt-{key}")
        observed = parsed.observe(
            obs,
            F.count(F.when(data & ~bad, 1)).alias("rows"),
            F.count(F.when(bad, 1)).alias("bad"),
            *[F.count(F.when(cond, 1)).alias(name) for name, (cond, _) in rejects.items()],
        )
        out = observed.filter(data & ~bad).select(*columns)
        if "ts" in out.columns and isinstance(out.schema["ts"].dataType, T.DoubleType):
            day = F.when(
                (F.col("ts") >= 0) & (F.col("ts") < DAY_TS_MAX),
                F.date_format(F.timestamp_seconds(F.col("ts")), "yyyy-MM-dd"),
            ).otherwise(F.lit(UNKNOWN_DAY))
        else:
            day = F.lit(UNKNOWN_DAY)
        staged = dest.parent / f".spark-{key}"
        try:
            out.withColumn("day", day).write.mode("overwrite").partitionBy("day").option(
                "compression", CASE_PARQUET_CODEC
            ).parquet(str(staged))
            metrics = obs.get
            for name, (_, why) in rejects.items():
                if metrics.get(name):
                    raise NativeIngestRejected(why)
            skipped = int(metrics.get("bad") or 0)
            warnings = self._bad_lines(parsed, bad, reason, location) if skipped else []
        except NativeIngestRejected:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        except Exception as exc:  # a read or write error: the exact reader says what it is
            shutil.rmtree(staged, ignore_errors=True)
            raise NativeIngestRejected(_first_line(exc)) from None
        dest.mkdir(parents=True, exist_ok=True)
        for part in sorted(staged.rglob("*.parquet")):
            rel = part.relative_to(staged)
            target = dest / rel.parent / f"{key}-{part.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        shutil.rmtree(staged, ignore_errors=True)
        return NativeCopy(int(metrics.get("rows") or 0), skipped, tuple(warnings))

    @staticmethod
    def _bad_lines(parsed: Any, bad: Any, reason: Any, location: str) -> list[str]:
        """'file, line N: reason; row skipped' for the first skipped rows. A line's number is
        the lines of the splits before its own plus its place in its split (the id increases
        by one per line within a split)."""
        splits = (
            parsed.groupBy("_blk")
            .agg(F.min("_mid").alias("first"), F.count(F.lit(1)).alias("n"))
            .orderBy("_blk")
            .collect()
        )
        before: dict[int, tuple[int, int]] = {}
        total = 0
        for row in splits:
            before[int(row["_blk"])] = (total, int(row["first"]))
            total += int(row["n"])
        rows = (
            parsed.filter(bad)
            .select("_blk", "_mid", reason.alias("reason"))
            .orderBy("_blk", "_mid")
            .limit(MAX_WARNINGS_PER_FILE)
            .collect()
        )
        out = []
        for row in rows:
            offset, first = before[int(row["_blk"])]
            line = offset + int(row["_mid"]) - first + 1
            out.append(f"{location}, line {line}: {row['reason']}; row skipped")
        return out

    @staticmethod
    def _csv_type(col: TsvColumn) -> Any:
        t = col.arrow_type
        if pa.types.is_list(t):
            return T.StringType()
        if pa.types.is_floating(t):
            return T.DoubleType()
        if pa.types.is_integer(t):
            return T.LongType()
        return T.StringType()

    @staticmethod
    def _column_expr(ref: Column, col: TsvColumn, plan: TsvPlan) -> Any:
        t = col.arrow_type
        if pa.types.is_list(t):
            split = F.transform(
                F.split(ref, re.escape(plan.set_separator), -1),
                _unescape,
            )
            conv = split if pa.types.is_string(t.value_type) else split.cast(_spark_type(t))
            return (
                F.when(ref.isNull(), F.lit(None).cast(_spark_type(t)))
                .when(ref == plan.empty_field, F.array().cast(_spark_type(t)))
                .otherwise(conv)
            )
        if pa.types.is_boolean(t):
            return F.when(ref == "T", F.lit(True)).when(ref == "F", F.lit(False))
        if pa.types.is_string(t):
            return F.when(ref == plan.empty_field, F.lit("")).otherwise(_unescape(ref))
        return ref
