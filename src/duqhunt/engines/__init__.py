"""Engines run the portable detector SQL: DuckDB embedded (default); Spark later."""

from duqhunt.engines.base import Engine, bind, sql_literal

__all__ = ["Engine", "bind", "sql_literal"]
