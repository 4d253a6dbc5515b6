"""Helpers the tests import (tests/ is on the path: pytest puts the folder of the top conftest
there): the Hypothesis profiles, how many examples a property test runs, the real public data
beside the repository (../shared/data), and a CPU-time bound for parsers of hostile input."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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
