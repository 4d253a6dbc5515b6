"""The scale-out engine: Apache Spark running the same detector SQL over the same Parquet.

Loaded lazily: ``pyspark`` is an optional extra (``pip install 'duqhunt[spark]'``) and needs a
Java 17+ runtime; without either, ``SparkEngine`` raises a UsageError that says what to install.
Local mode (``local[*]``) when no master is given.

Clean Zeek TSV logs are read by Spark itself, in parallel on the executors (not through the
driver), normalised with the same rules as the DuckDB reader and written as Parquet partitioned
by day. A file Spark cannot take strictly (a refused row, a second header block, a backslash
escape) is read by the exact Python reader instead, as with DuckDB, so both engines store the
same tables.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from duqhunt.engines.base import NativeIngestRejected, Param, bind
from duqhunt.errors import UsageError
from duqhunt.sources.net.zeek import TsvColumn, TsvPlan

try:  # the optional extra
    from pyspark.sql import DataFrame
    from pyspark.sql import SparkSession as _SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    SparkSession: Any = _SparkSession
except ImportError:  # pragma: no cover - exercised where pyspark is missing
    SparkSession = None


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


def java_available() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


class SparkEngine:
    """Runs detector SQL on a SparkSession (local mode by default)."""

    name = "spark"

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
        if not java_available():
            raise UsageError(
                "--engine spark needs a Java 17+ runtime on PATH or in JAVA_HOME "
                "(e.g. apt-get install openjdk-17-jre-headless)"
            )
        builder = (
            SparkSession.builder.appName(app_name)
            .master(master or os.environ.get("DUQHUNT_SPARK_MASTER") or "local[*]")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.parquet.compression.codec", "zstd")
        )
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        # tests share one JVM across hunts: DUQHUNT_SPARK_KEEP_SESSION=1 keeps it running
        self._stop = stop_on_close and os.environ.get("DUQHUNT_SPARK_KEEP_SESSION") != "1"

    # -- the Engine interface ----------------------------------------------------------------
    def register_parquet(self, view: str, files: list[str], schema: pa.Schema) -> None:
        if not files:
            self.register_arrow(view, schema.empty_table())
            return
        df = self.spark.read.option("mergeSchema", "true").parquet(*files)
        present = set(df.columns)
        for field in schema:
            if field.name not in present:
                df = df.withColumn(field.name, F.lit(None).cast(_spark_type(field.type)))
        df.createOrReplaceTempView(view)

    def register_arrow(self, view: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            sschema = T.StructType(
                [T.StructField(f.name, _spark_type(f.type), True) for f in table.schema]
            )
            df = self.spark.createDataFrame([], sschema)
        else:
            df = self.spark.createDataFrame(table)
        df.createOrReplaceTempView(view)

    def create_derived_views(self) -> None:
        """The dialect-specific views (list columns exploded), as DuckDB's DERIVED_VIEWS."""
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW dns_answers AS "
            "SELECT ts, uid, id_orig_h, id_resp_h, query, explode(answers) AS answer "
            "FROM dns WHERE answers IS NOT NULL"
        )
        self.spark.sql(
            "CREATE OR REPLACE TEMP VIEW http_orig_mime AS "
            "SELECT ts, uid, id_orig_h, id_resp_h, id_resp_p, method, host, uri, user_agent, "
            "request_body_len, explode(orig_mime_types) AS mime "
            "FROM http WHERE orig_mime_types IS NOT NULL"
        )
        files: DataFrame = self.spark.table("files")
        exploded = files.withColumn("__conn_uid", F.explode_outer("conn_uids"))
        exploded = exploded.withColumn("uid", F.coalesce(F.col("uid"), F.col("__conn_uid")))
        exploded.drop("__conn_uid").createOrReplaceTempView("files_conn")

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        table: pa.Table = self.spark.sql(bind(sql, params or {})).toArrow()
        return table

    def close(self) -> None:
        if self._stop:
            self.spark.stop()

    # -- native ingest -----------------------------------------------------------------------
    def copy_zeek_tsv(self, plan: TsvPlan, dest: Path, key: str, max_line_bytes: int) -> int:
        """Read a clean Zeek TSV log with Spark's CSV reader into Parquet partitioned by day
        under ``dest`` (``day=YYYY-MM-DD/part-*.parquet``); see DuckDBEngine.copy_zeek_tsv for
        the strictness rules, which are the same. Returns the number of rows written."""
        if plan.compressed:
            raise NativeIngestRejected("compressed input is read through the guarded stream")
        if any(c.name in ("day", "_corrupt") for c in plan.columns):
            raise NativeIngestRejected("a column name clashes with the reader's own columns")
        with open(plan.path, "rb") as fh:
            try:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file
                return 0
            with mm:
                first = mm.find(b"#fields")
                if first >= 0 and mm.find(b"\n#fields", first + 1) >= 0:
                    raise NativeIngestRejected("a second header block")
        fields = [
            T.StructField(
                c.zeek_name,
                T.DoubleType()
                if pa.types.is_floating(c.arrow_type) and not pa.types.is_list(c.arrow_type)
                else T.LongType()
                if pa.types.is_integer(c.arrow_type) and not pa.types.is_list(c.arrow_type)
                else T.StringType(),
                True,
            )
            for c in plan.columns
        ]
        schema = T.StructType([*fields, T.StructField("_corrupt", T.StringType(), True)])
        raw = (
            self.spark.read.schema(schema)
            .option("sep", plan.separator)
            .option("header", "false")
            .option("comment", "#")
            .option("quote", "")
            .option("escape", "\u0000")
            .option("nullValue", plan.unset_field)
            .option("emptyValue", "")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt")
            .option("maxCharsPerColumn", str(int(max_line_bytes)))
            .option("ignoreLeadingWhiteSpace", "false")
            .option("ignoreTrailingWhiteSpace", "false")
            .csv(str(plan.path))
            .cache()
        )
        try:
            return self._write_native(raw, plan, dest, key)
        except NativeIngestRejected:
            raise
        except Exception as exc:
            raise NativeIngestRejected(str(exc).splitlines()[0][:300]) from None
        finally:
            raw.unpersist()

    def _write_native(self, raw: Any, plan: TsvPlan, dest: Path, key: str) -> int:
        if True:
            bad = raw.filter(F.col("_corrupt").isNotNull()).limit(1).collect()
            if bad:
                raise NativeIngestRejected("a row the strict reader refused")
            text_cols = [
                c.zeek_name
                for c in plan.columns
                if pa.types.is_string(c.arrow_type) or pa.types.is_list(c.arrow_type)
            ]
            if text_cols:
                # doubled backslashes are decoded below; \xHH escapes and stray backslashes
                # are left to the exact reader
                odd = [
                    F.instr(F.replace(F.col(f"`{n}`"), F.lit("\\\\"), F.lit("")), "\\") > 0
                    for n in text_cols
                ]
                cond = odd[0]
                for c in odd[1:]:
                    cond = cond | c
                if raw.filter(cond).limit(1).collect():
                    raise NativeIngestRejected("values with \\xHH escapes or stray backslashes")
            out = raw.select(*[self._column_expr(c, plan).alias(c.name) for c in plan.columns])
            if "ts" in out.columns and isinstance(out.schema["ts"].dataType, T.DoubleType):
                day = F.when(
                    (F.col("ts") >= 0) & (F.col("ts") < 4.1e9),
                    F.date_format(F.timestamp_seconds(F.col("ts")), "yyyy-MM-dd"),
                ).otherwise(F.lit("unknown"))
            else:
                day = F.lit("unknown")
            staged = dest.parent / f".spark-{key}"
            try:
                rows = out.count()
                out.withColumn("day", day).write.mode("overwrite").partitionBy("day").option(
                    "compression", "zstd"
                ).parquet(str(staged))
            except Exception as exc:
                shutil.rmtree(staged, ignore_errors=True)
                raise NativeIngestRejected(str(exc).splitlines()[0][:300]) from None
            dest.mkdir(parents=True, exist_ok=True)
            for part in sorted(staged.rglob("*.parquet")):
                rel = part.relative_to(staged)
                target = dest / rel.parent / f"{key}-{part.name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, target)
            shutil.rmtree(staged, ignore_errors=True)
            return int(rows)

    @staticmethod
    def _column_expr(col: TsvColumn, plan: TsvPlan) -> Any:
        ref = F.col(f"`{col.zeek_name}`")
        t = col.arrow_type
        if pa.types.is_list(t):
            split = F.transform(
                F.split(ref, re.escape(plan.set_separator)),
                _unescape,
            )
            conv = split if pa.types.is_string(t.value_type) else split.cast(_spark_type(t))
            return (
                F.when(ref.isNull(), F.lit(None).cast(_spark_type(t)))
                .when(ref == plan.empty_field, F.array().cast(_spark_type(t)))
                .otherwise(conv)
            )
        if pa.types.is_boolean(t):
            return (
                F.when(ref.isNull(), F.lit(None).cast(T.BooleanType()))
                .when(ref == "T", F.lit(True))
                .when(ref == "F", F.lit(False))
                .otherwise(F.raise_error(F.lit(f"bad bool in {col.zeek_name}")).cast("boolean"))
            )
        if pa.types.is_string(t):
            return F.when(ref == plan.empty_field, F.lit("")).otherwise(_unescape(ref))
        return ref
