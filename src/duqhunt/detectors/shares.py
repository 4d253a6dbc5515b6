"""One SMB share classification for every detector: network (Zeek smb_mapping/smb_files) and
host (EVTX 5140/5145) alike, in Python and as portable SQL that DuckDB and Spark run the same.

* ``admin``: the administrative shares, ``ADMIN$`` (the Windows folder) and the drive-letter
  shares ``C$``, ``D$``, ... (a whole volume). Writing a program there and starting it as a
  service or task is how PsExec-style lateral movement works.
* ``ipc``: ``IPC$``, the named-pipe share (remote procedure calls, not files).
* ``file``: every other share, hidden (``Users$``, ``Home$``, ``Profiles$``, ``Software$``,
  ``SCCMContentLib$``, ``PRINT$``) or not (``NETLOGON``, ``SYSVOL``, ``share``): where users and
  logon scripts read and write files all day. A trailing ``$`` only hides a share from browsing;
  it does not make it administrative.

The share name is the last component of the path, whatever its prefix: ``\\\\HOST\\C$``,
``\\\\*\\ADMIN$`` (Security 5140), ``C$``, forward slashes, a trailing separator, and the doubled
backslashes of an escaped log all give the same name; case does not matter.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "ShareKind",
    "expand_share_macros",
    "is_admin_share",
    "share_kind",
    "share_kind_sql",
    "share_name",
    "share_name_sql",
]

ShareKind = Literal["admin", "ipc", "file"]

_DRIVE = re.compile(r"[A-Z]\$")


def share_name(path: str | None) -> str | None:
    """``\\\\HOST\\ADMIN$`` -> ``ADMIN$`` (upper case); None for an empty path."""
    if not path:
        return None
    name = re.split(r"[\\/]", re.sub(r"[\\/]+$", "", path))[-1].upper()
    return name or None


def share_kind(path: str | None) -> ShareKind | None:
    """``admin`` (ADMIN$, C$, D$, ...), ``ipc`` (IPC$) or ``file`` (any other share)."""
    name = share_name(path)
    if name is None:
        return None
    if name == "IPC$":
        return "ipc"
    if name == "ADMIN$" or _DRIVE.fullmatch(name):
        return "admin"
    return "file"


def is_admin_share(path: str | None) -> bool:
    return share_kind(path) == "admin"


# The same rules in SQL. Backslashes are written CHR(92): Spark unescapes backslashes in string
# literals and DuckDB does not, so a literal backslash would mean different patterns.
_LAST_COMPONENT = "CONCAT('([^/', CHR(92), CHR(92), ']*)[/', CHR(92), CHR(92), ']*$')"


def share_name_sql(expr: str) -> str:
    """SQL for :func:`share_name` of the column or expression ``expr`` ('' for an empty path)."""
    return f"UPPER(REGEXP_EXTRACT({expr}, {_LAST_COMPONENT}, 1))"


def share_kind_sql(expr: str) -> str:
    """SQL for :func:`share_kind` of ``expr``: 'admin', 'ipc', 'file', or NULL when empty."""
    name = share_name_sql(expr)
    return (
        f"(CASE WHEN {name} IS NULL OR {name} = '' THEN NULL "
        f"WHEN {name} = 'IPC$' THEN 'ipc' "
        f"WHEN {name} = 'ADMIN$' OR (LENGTH({name}) = 2 AND SUBSTR({name}, 2, 1) = '$' "
        f"AND SUBSTR({name}, 1, 1) BETWEEN 'A' AND 'Z') THEN 'admin' "
        f"ELSE 'file' END)"
    )


_MACRO = re.compile(r"@share_(kind|name)\(([^()]*)\)")


def expand_share_macros(sql: str) -> str:
    """Replace ``@share_kind(expr)`` and ``@share_name(expr)`` in a detector's SQL file with
    the SQL above, so every query classifies shares the one way. An unexpanded marker is a
    syntax error on both engines, never a silent mismatch."""
    return _MACRO.sub(
        lambda m: (share_kind_sql if m.group(1) == "kind" else share_name_sql)(m.group(2).strip()),
        sql,
    )
