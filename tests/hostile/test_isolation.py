"""The worker that runs a parser call under hard limits (duqhunt.isolation), with calls that
never end on their own: a regular expression backtracking inside the C regex engine (CPU
spent without ever returning to Python: only the kernel's CPU timer stops it), a read
blocked on a pipe no one writes (no CPU spent: only the wall-clock backstop stops it), and
a call that ends its process. Each outcome is the reason; no time is measured, and the
limits are far below what the calls would need (forever)."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from typing import Any

from duqhunt.errors import InputError
from duqhunt.isolation import Sandbox, run_all

CATASTROPHIC = (r"(a+)+$", "a" * 64 + "b")  # 2**64 ways to fail the match


def _raise_input_error(path: str) -> None:
    raise InputError(path, "cut short", offset=12)


def test_a_call_past_its_cpu_limit_inside_c_code_is_stopped() -> None:
    box = Sandbox(0)
    try:
        first = box.call(os.getpid, (), 5, 600)
        out = box.call(re.match, CATASTROPHIC, 0.2, 600)
        assert out.stopped == "exceeded the hard limit of 0.2 s of CPU time"
        again = box.call(os.getpid, (), 5, 600)  # a new worker serves the next call
        assert again.stopped is None and again.value != first.value
    finally:
        box.close()


def test_a_blocked_call_is_stopped_by_the_wall_clock_backstop() -> None:
    r, w = os.pipe()  # the worker inherits both ends: the read never sees data nor EOF
    box = Sandbox(0)
    try:
        out = box.call(os.read, (r, 1), 600, 1)
        assert out.stopped == "exceeded the hard limit of 1 s (wall clock)"
        assert box.call(len, ("abc",), 5, 600).value == 3
    finally:
        box.close()
        os.close(r)
        os.close(w)


def test_a_worker_that_dies_is_reported_and_replaced() -> None:
    box = Sandbox(0)
    try:
        out = box.call(os._exit, (3,), 5, 600)
        assert out.stopped == "its reader's process ended unexpectedly (exit status 3)"
        assert box.call(len, ("ab",), 5, 600).value == 2
    finally:
        box.close()


def test_a_parser_error_crosses_with_its_place_in_the_file() -> None:
    box = Sandbox(0)
    try:
        out = box.call(_raise_input_error, ("/evidence/At1.job",), 5, 600)
        assert isinstance(out.error, InputError)
        assert (out.error.path, out.error.reason, out.error.offset) == (
            "/evidence/At1.job",
            "cut short",
            12,
        )
        assert str(out.error) == "/evidence/At1.job, byte 12: cut short"
    finally:
        box.close()


def test_an_idle_worker_killed_from_outside_is_replaced() -> None:
    """The out-of-memory killer may take the worker between two files."""
    box = Sandbox(0)
    try:
        pid = box.call(os.getpid, (), 5, 600).value
        os.kill(pid, signal.SIGKILL)
        while _state(pid) not in ("Z", "X", None):  # until the kernel has ended it
            os.sched_yield()
        out = box.call(os.getpid, (), 5, 600)
        assert out.stopped is None and out.value != pid
    finally:
        box.close()


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_calls_in_several_workers_cost_only_their_own_call() -> None:
    """run_all (the document scan's workers): a call past its CPU limit and a call that ends
    its process are stopped with the reason; every other call is answered, in order, by a
    worker started afresh where one was lost; no worker is left running."""
    before = set(multiprocessing.active_children())
    calls = [
        ("len", "abc"),
        ("match", *CATASTROPHIC),
        ("len", "de"),
        ("exit", 3),
        ("len", "f"),
        ("raise",),
    ]
    out = run_all(_each, calls, 2, 0, 0.2, 600)
    assert [o.value for o in out] == [3, None, 2, None, 1, None]
    assert (out[1].stopped, out[1].cause) == ("exceeded the hard limit of 0.2 s of CPU time", "cpu")
    assert (out[3].stopped, out[3].cause) == (
        "its reader's process ended unexpectedly (exit status 3)",
        "died",
    )
    assert isinstance(out[5].error, InputError) and out[5].stopped is None
    assert set(multiprocessing.active_children()) <= before


def test_a_blocked_call_among_several_is_stopped_by_the_wall_clock_backstop() -> None:
    r, w = os.pipe()  # the workers inherit both ends: the read never sees data nor EOF
    try:
        out = run_all(_each, [("read", r), ("len", "abc"), ("len", "de")], 2, 0, 600, 1)
        assert (out[0].stopped, out[0].cause) == (
            "exceeded the hard limit of 1 s (wall clock)",
            "wall",
        )
        assert [o.value for o in out[1:]] == [3, 2]
    finally:
        os.close(r)
        os.close(w)


def _each(what: str, *args: Any) -> Any:
    """One call of the run_all tests."""
    if what == "len":
        return len(args[0])
    if what == "match":
        return re.match(*args)
    if what == "exit":
        os._exit(args[0])
    if what == "read":
        return os.read(args[0], 1)
    raise InputError("/evidence/x.doc", "cut short")
