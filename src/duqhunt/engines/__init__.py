"""Engines run the portable detector SQL: DuckDB embedded (default); Spark later."""

from duqhunt.engines.base import Engine, NativeIngestRejected, bind, sql_literal

ENGINES = ("duckdb", "spark")

__all__ = ["ENGINES", "Engine", "NativeIngestRejected", "bind", "sql_literal"]
