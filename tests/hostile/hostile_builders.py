"""Generators for the hostile-input suite: every case is built in code (no binaries committed),
and helpers that run the real CLI and read back what it wrote."""

from __future__ import annotations

import json
import os
import random
import resource
import struct
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from duqhunt.cli.main import main
from duqhunt.simulate.host import build_inert_pe

CONN_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
CONN_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]
T0 = 1_318_550_400.0  # 2011-10-14, the simulator's start


def conn_row(ts: str, i: int = 0, dst: str = "203.0.113.9") -> str:
    """One conn.log data line with the given (raw) ts text."""
    vals = [ts, f"C{i:08d}", "10.0.0.5", str(40000 + i % 20000), dst, "443", "tcp", "ssl"]
    vals += ["1.5", "300", "4000", "SF", "T", "F", "0", "ShADadFf", "8", "600", "8", "4400", "-"]
    return "\t".join(vals)


def conn_log(path: Path, rows: Iterable[str]) -> Path:
    """A Zeek TSV conn.log with the given data lines (no #close: a live log)."""
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#fields\t" + "\t".join(CONN_FIELDS),
        "#types\t" + "\t".join(CONN_TYPES),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*head, *rows]) + "\n", encoding="utf-8")
    return path


def good_rows(n: int, start: float = T0, step: float = 60.0) -> list[str]:
    return [conn_row(f"{start + i * step:.6f}", i) for i in range(n)]


def run_cli(args: Sequence[str]) -> int:
    """The real command line, in this process (exit code back, never SystemExit)."""
    try:
        return main(list(args))
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


def report(out: Path) -> dict[str, Any]:
    """The report.json a run wrote (asserting it exists)."""
    path = out / "report.json"
    assert path.is_file(), f"no report in {out}"
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


SRC = Path(__file__).resolve().parents[2] / "src"


def run_cli_subprocess(
    args: Sequence[str], guard_s: float = 600.0
) -> subprocess.CompletedProcess[bytes]:
    """The real command line in a child process, its raw stdout and stderr bytes kept. The
    guard only stops a run that would otherwise never end (a blocked open); no test measures
    time with it."""
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", *args],
        capture_output=True,
        env=env,
        timeout=guard_s,
        check=False,
    )


SIZE = 1_100_000
N_SECTIONS = 2048


def crafted_pe(distinct: bool) -> bytes:
    """Point 7 of issue #13: a 1.1 MB PE declaring 2,048 sections that each span the file (or,
    ``distinct``, each start one 512-byte block further)."""
    base = bytearray(build_inert_pe({"CompanyName": "Example"}, sections=(".text",)))
    rng = random.Random(13)
    data = base + bytearray(rng.randbytes(SIZE - len(base)))
    table = 0x40 + 4 + 20 + 0xE0
    struct.pack_into("<H", data, 0x46, N_SECTIONS)
    for i in range(N_SECTIONS):
        ptr = 0x200 * (i + 1) if distinct else 0x200
        struct.pack_into(
            "<8sIIIIIIHHI",
            data,
            table + 40 * i,
            f".s{i}".encode(),
            SIZE - ptr,
            0x1000 * (i + 1),
            SIZE - ptr,
            ptr,
            0,
            0,
            0,
            0,
            0x60000020,
        )
    return bytes(data)
