"""Legacy scheduled-task files (``Windows\\Tasks\\*.job``, written by ``at`` and the Task
Scheduler 1.0 API; MS-TSCH section 2.4): the command, its parameters, the author and the last
run time. Parsed as bytes; nothing is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from duqhunt.errors import InputError

MAX_JOB_BYTES = 1 << 20
_FIXED = 68


@dataclass(frozen=True, slots=True)
class JobInfo:
    path: str
    name: str
    application: str
    parameters: str
    working_dir: str
    author: str
    comment: str
    last_run: float | None
    product_version: int


def _systemtime(b: bytes) -> float | None:
    if len(b) < 16:
        return None
    y, mo, _dow, d, h, mi, s, ms = (int.from_bytes(b[i : i + 2], "little") for i in range(0, 16, 2))
    if not 1601 <= y <= 9999:  # 0: never run; a Windows time starts in 1601 (FILETIME)
        return None
    try:
        return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC).timestamp()
    except ValueError:
        return None


def read_job(path: Path) -> JobInfo:
    with path.open("rb") as fh:  # never more than the limit in memory, however large the file
        data = fh.read(MAX_JOB_BYTES + 1)
    if len(data) > MAX_JOB_BYTES:
        raise InputError(str(path), f"larger than {MAX_JOB_BYTES} bytes: not a .job file")
    if len(data) < _FIXED + 2:
        raise InputError(str(path), "too short for a .job file", offset=len(data))
    off = _FIXED + 2  # fixed-length section, then the running instance count

    def ustr() -> str:
        nonlocal off
        if off + 2 > len(data):
            raise InputError(str(path), "variable-length section cut short", offset=off)
        n = int.from_bytes(data[off : off + 2], "little")
        off += 2
        end = off + 2 * n
        if end > len(data) or n > 4096:
            raise InputError(str(path), f"string of {n} characters runs past the end", offset=off)
        s = data[off:end].decode("utf-16-le", errors="replace").rstrip("\x00")
        off = end
        return s

    app = ustr()
    params = ustr()
    wdir = ustr()
    author = ustr()
    comment = ustr()
    return JobInfo(
        path=str(path),
        name=path.name,
        application=app,
        parameters=params,
        working_dir=wdir,
        author=author,
        comment=comment,
        last_run=_systemtime(data[52:68]),
        product_version=int.from_bytes(data[0:2], "little"),
    )
