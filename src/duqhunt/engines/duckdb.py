"""The embedded default engine: DuckDB over the case's Parquet telemetry."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from duqhunt.engines.base import Param, bind


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


# Dialect-specific views: the one place list columns are exploded.
DERIVED_VIEWS: dict[str, str] = {
    "dns_answers": (
        "SELECT ts, uid, id_orig_h, id_resp_h, query, UNNEST(answers) AS answer "
        "FROM dns WHERE answers IS NOT NULL"
    ),
    "http_orig_mime": (
        "SELECT ts, uid, id_orig_h, id_resp_h, id_resp_p, method, host, uri, user_agent, "
        "request_body_len, UNNEST(orig_mime_types) AS mime "
        "FROM http WHERE orig_mime_types IS NOT NULL"
    ),
}


class DuckDBEngine:
    """Runs detector SQL on a DuckDB connection (the case store's, or an in-memory one)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, *, threads: int | None = None):
        self.con = con if con is not None else duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._arrow: dict[str, pa.Table] = {}

    def register_parquet(self, view: str, files: list[str], schema: pa.Schema) -> None:
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
            f"FROM read_parquet([{file_list}], union_by_name = true)"
        )

    def register_arrow(self, view: str, table: pa.Table) -> None:
        self._arrow[view] = table
        self.con.register(f"__arrow_{view}", table)
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {_ident(view)} AS SELECT * FROM {_ident('__arrow_' + view)}"
        )

    def create_derived_views(self) -> None:
        for name, sql in DERIVED_VIEWS.items():
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {_ident(name)} AS {sql}")

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> pa.Table:
        rel: Any = self.con.sql(bind(sql, params or {}))
        if rel is None:
            return pa.table({})
        table: pa.Table = rel.to_arrow_table()
        return table

    def close(self) -> None:
        for view in list(self._arrow):
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(f"__arrow_{view}")
        self._arrow.clear()
