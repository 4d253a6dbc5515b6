"""The terminal summary of a similarity run (stdout); every string from input is escaped."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from duqhunt.render.common import visible

TOP = 15


def _m(text: object) -> str:
    return escape(visible(str(text)))


def render_similarity_summary(doc: dict[str, Any], console: Console) -> None:
    console.print(
        f"{len(doc['files'])} PE files, {len(doc['clusters'])} families of 2 or more, "
        f"{len(doc['matches'])} reference match(es).",
        highlight=False,
    )
    if doc["matches"]:
        t = Table(title="Known families", title_justify="left")
        for col in ("file", "family", "score", "why"):
            t.add_column(col)
        for m in doc["matches"][:TOP]:
            t.add_row(
                _m(PurePath(m["file"]).name),
                _m(m["family"]),
                f"{m['score']:.2f}",
                _m("; ".join(m["basis"])),
            )
        console.print(t)
    if doc["clusters"]:
        t = Table(title="Families", title_justify="left")
        t.add_column("files")
        t.add_column("names")
        t.add_column("shared")
        for c in doc["clusters"][:TOP]:
            t.add_row(str(len(c["members"])), _m(", ".join(c["names"][:6])), _m(c["summary"]))
        console.print(t)
    if doc["not_analysed"]:
        console.print(f"Not analysed: {len(doc['not_analysed'])}", highlight=False)
    if doc["warnings"]:
        console.print(f"{len(doc['warnings'])} warning(s); see similarity.json.", highlight=False)
