"""Helpers the tests import (tests/ is on the path: pytest puts the folder of the top conftest
there): the Hypothesis profiles, how many examples a property test runs, the real public data
beside the repository (../shared/data), a CPU-time bound for parsers of hostile input, and
the tables detector tests register (a Zeek log's rows in the canonical schema, ip_class)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from duqhunt.sources.net.zeek_schema import canonical_schema

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Hypothesis: `make test` runs a fixed set of examples (derandomized: the same examples on every
# run and machine, no example database), so a failure is reproducible and a pass means the
# same thing everywhere. `make fuzz` selects the "fuzz" profile (DUQHUNT_HYPOTHESIS=fuzz): a
# random seed each run and FUZZ_FACTOR times the examples (bounded by examples, not by time;
# DUQHUNT_FUZZ_FACTOR sets it: 20 took 7 minutes on a quiet 2-core machine, the default 30 ~10).
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "default", derandomize=True, database=None, deadline=None, suppress_health_check=_SUPPRESS
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESS,
)
PROFILE = os.environ.get("DUQHUNT_HYPOTHESIS", "default")
settings.load_profile(PROFILE)
FUZZ_FACTOR = int(os.environ.get("DUQHUNT_FUZZ_FACTOR", "30")) if PROFILE == "fuzz" else 1


def fuzz_examples(n: int) -> int:
    """The number of examples of a property test: ``n`` in ``make test``, more in ``make fuzz``."""
    return n * FUZZ_FACTOR


def need_shared_data(*parts: str) -> Path:
    """A path under ../shared/data a test needs. Missing: in CI (CI=true) the test FAILS with
    the reason (CI lays shared/ beside the clone, so a missing file there is a broken setup, not
    a reason to pass); elsewhere it is skipped with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = (
            f"{path} is missing: this test needs the real public data in ../shared/data "
            "(see its PROVENANCE.md)"
        )
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return path


class OverBudget(BaseException):  # not an Exception: the parsers' broad handlers must not eat it
    pass


@contextmanager
def cpu_bounded(seconds: float) -> Iterator[None]:
    """Fail when the body uses more than ``seconds`` of this process's CPU time.

    CPU time, not wall-clock time: a loaded machine (other jobs, other agents) slows the clock
    down, never the CPU work a parse needs, so the bound holds however busy the machine is. A
    parser stuck in a loop is interrupted by the profiling timer (SIGPROF counts CPU time)."""

    def over(signum: int, frame: object) -> None:
        raise OverBudget(f"more than {seconds} s of CPU time")

    old = signal.signal(signal.SIGPROF, over)
    t0 = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    used = time.process_time() - t0
    assert used < seconds, f"{used:.1f} s of CPU time, the bound is {seconds} s"


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, hot: int = 0) -> bytes:
    """The seed with a few bytes or little-endian 16/32-bit fields overwritten, a few bytes
    inserted or deleted, then maybe truncated. With ``hot``, most edits fall in the first
    ``hot`` bytes (headers), where one wrong field changes the most."""
    data = bytearray(seed)

    def place() -> int:
        top = len(data) if not hot or draw(st.integers(0, 3)) == 0 else min(hot, len(data))
        return draw(st.integers(0, max(top - 1, 0)))

    for _ in range(draw(st.integers(1, 8))):
        at = place()
        kind = draw(st.sampled_from(["byte", "u16", "u32", "insert", "delete"]))
        if kind == "byte":
            data[at : at + 1] = bytes([draw(st.integers(0, 255))])
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            n = 2 if kind == "u16" else 4
            v = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFFFFFF, len(data)]))
            data[at : at + n] = (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def zeek_table(kind: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of a Zeek log in the canonical schema (columns not given are null)."""
    schema = canonical_schema(kind)
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema
    )


def ip_class_table(internal: list[str], external: list[str]) -> pa.Table:
    """The ``ip_class`` relation the hunt registers: these addresses, internal or not."""
    return pa.table(
        {
            "ip": pa.array(internal + external, pa.string()),
            "internal": pa.array([True] * len(internal) + [False] * len(external), pa.bool_()),
        }
    )
