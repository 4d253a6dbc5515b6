"""Hard limits for one artefact's parse: the call runs in a long-lived worker process with an
address-space cap and a CPU-time limit the kernel enforces, and is killed when it runs past
them, whatever it is doing.

The readers' cooperative budget (duqhunt.safety.Deadline) stops them between structures and
keeps what they read; it cannot stop a single call inside a parser library (pefile, the EVTX
parser, the hive readers) that never returns to look at it. Here such a call is ended by the
kernel: the worker arms a CPU-time timer (ITIMER_PROF, whose signal terminates the process
however busy its C or Rust code is) before each call; the parent waits for the answer at
most a wall-clock backstop (for a call blocked without spending CPU) and kills the worker
then. A stopped worker is replaced by a new one for the next call. One worker serves every
call of a run, so a folder of many small files costs one process start, not one per file.

The host scan reads its artefacts one after the other in one ``Sandbox``; ``run_all`` runs a
list of calls in several sandboxes at once (the document scan: one call per file, as many
workers as jobs), with the same limits per call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import multiprocessing.connection
import signal
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from duqhunt.safety import limit_memory


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call in the worker gave: its value, the exception it raised (to raise again in
    the caller), or why the worker was stopped before it answered (``stopped``, and as a word
    in ``cause``: the CPU-time, wall-clock or memory limit, or a worker that died)."""

    value: Any = None
    error: BaseException | None = None
    stopped: str | None = None
    cause: Literal["cpu", "wall", "memory", "died"] | None = None


def _serve(conn: multiprocessing.connection.Connection, memory_bytes: int) -> None:
    """The worker: one call at a time until the parent closes the pipe."""
    # the default action of SIGPROF ends the process: a parser past its CPU time is stopped
    # wherever it is (a Python handler, as a test runner may have set, would only run between
    # bytecodes); Ctrl-C is the parent's to handle
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if memory_bytes:
        limit_memory(memory_bytes)
    while True:
        try:
            fn, args, cpu_seconds = conn.recv()
        except (EOFError, OSError):
            return
        signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
        try:
            answer: tuple[str, Any] = ("value", fn(*args))
        except MemoryError:
            answer = ("memory", None)
        except Exception as exc:  # raised again in the parent, where the caller handles it
            answer = ("error", exc)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("memory", None))
        except Exception as exc:  # an answer that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class Sandbox:
    """A worker process that runs calls under hard limits. ``memory_bytes`` is the address
    space it may add to what it holds when it starts (0: no cap). Not thread-safe: one
    caller at a time."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self._proc: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def _start(self) -> multiprocessing.connection.Connection:
        ctx = multiprocessing.get_context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.memory_bytes), daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._finalizer = weakref.finalize(self, _end, proc, parent)
        return parent

    def _stop(self) -> int | None:
        """Kill the worker (if alive) and reap it; its exit code."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if self._finalizer is not None:
            self._finalizer.detach()
        if proc is None:
            return None
        _end(proc, conn)
        return int(proc.exitcode) if proc.exitcode is not None else None

    def send(self, fn: Callable[..., Any], args: tuple[Any, ...], cpu_seconds: float) -> None:
        """Hand ``fn(*args)`` to the worker (started, or replaced if it is gone) without
        waiting; ``answer`` reads the outcome once ``conn`` is readable. ``fn`` and ``args``
        are pickled: module-level names, plain data."""
        conn = self._conn if self._proc is not None and self._proc.is_alive() else None
        if conn is None:
            self._stop()
            conn = self._start()
        try:
            conn.send((fn, args, cpu_seconds))
        except OSError:  # the idle worker was killed from outside (the OOM killer): a new one
            self._stop()
            self._start().send((fn, args, cpu_seconds))

    @property
    def conn(self) -> multiprocessing.connection.Connection:
        """The pipe the answer of the call sent comes back on (for connection.wait)."""
        assert self._conn is not None, "no call sent"
        return self._conn

    def answer(self, cpu_seconds: float) -> Outcome:
        """The outcome of the call sent, waiting for it if need be (no wall-clock limit: see
        ``call`` and ``run_all``)."""
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            return self._why_died(self._stop(), cpu_seconds)
        if kind == "value":
            return Outcome(value=payload)
        if kind == "error":
            return Outcome(error=payload)
        # a MemoryError leaves the worker's heap in whatever state the parser left it
        self._stop()
        return Outcome(
            stopped=f"exceeded the memory limit of {self.memory_bytes >> 20} MiB", cause="memory"
        )

    def overrun(self, wall_seconds: float) -> Outcome:
        """Kill the worker of a call that did not answer within ``wall_seconds``."""
        self._stop()
        return Outcome(
            stopped=f"exceeded the hard limit of {wall_seconds:g} s (wall clock)", cause="wall"
        )

    def call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], cpu_seconds: float, wall_seconds: float
    ) -> Outcome:
        """``fn(*args)`` in the worker within ``cpu_seconds`` of CPU time and
        ``wall_seconds`` of waiting."""
        self.send(fn, args, cpu_seconds)
        if not self.conn.poll(wall_seconds):
            return self.overrun(wall_seconds)
        return self.answer(cpu_seconds)

    def _why_died(self, code: int | None, cpu_seconds: float) -> Outcome:
        if code == -signal.SIGPROF:
            return Outcome(
                stopped=f"exceeded the hard limit of {cpu_seconds:g} s of CPU time", cause="cpu"
            )
        if code == -signal.SIGKILL:
            why = "its reader was killed (SIGKILL: out of memory, or by another process)"
        else:
            why = f"its reader's process ended unexpectedly (exit status {code})"
        return Outcome(stopped=why, cause="died")

    def close(self) -> None:
        self._stop()


def run_all(
    fn: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    workers: int,
    memory_bytes: int,
    cpu_seconds: float,
    wall_seconds: float | None,
) -> list[Outcome]:
    """``fn(*args)`` for every ``args`` of ``calls``, each under the hard limits of
    ``Sandbox.call``, in up to ``workers`` sandboxes at once; the outcomes in the order of
    ``calls``. Each worker runs one call at a time, so a worker killed (by a limit, the OOM
    killer, a crash in a C extension) costs only the call it was running, and the next call
    it gets starts a new worker. ``wall_seconds`` None: no wall-clock backstop."""
    boxes = [Sandbox(memory_bytes) for _ in range(max(1, min(workers, len(calls))))]
    idle = list(boxes)
    busy: dict[Any, tuple[Sandbox, int, float]] = {}  # conn -> (its box, call index, deadline)
    out: list[Outcome | None] = [None] * len(calls)
    todo = iter(range(len(calls)))
    try:
        while True:
            while idle and (i := next(todo, None)) is not None:
                box = idle.pop()
                box.send(fn, calls[i], cpu_seconds)
                ends = time.monotonic() + wall_seconds if wall_seconds is not None else math.inf
                busy[box.conn] = (box, i, ends)
            if not busy:
                break
            soonest = min(ends for _, _, ends in busy.values())
            wait = None if soonest == math.inf else max(0.0, soonest - time.monotonic())
            ready = multiprocessing.connection.wait(list(busy), wait)
            now = time.monotonic()
            for conn in list(busy):
                box, i, ends = busy[conn]
                if conn in ready:
                    out[i] = box.answer(cpu_seconds)
                elif now >= ends and wall_seconds is not None:
                    out[i] = box.overrun(wall_seconds)
                else:
                    continue
                del busy[conn]
                idle.append(box)
    finally:  # also on Ctrl-C: the workers ignore SIGINT, so they are killed here
        for box in boxes:
            box.close()
    done = [o for o in out if o is not None]
    assert len(done) == len(calls), "every call has its outcome"
    return done


def _end(proc: Any, conn: multiprocessing.connection.Connection | None) -> None:
    if conn is not None:
        conn.close()
    if proc.is_alive():
        proc.kill()
    proc.join()


def _blank(acc: Any) -> Any:
    """A copy of a dataclass accumulator with its lists, counters and flags empty (and no
    sandbox: a worker process does not travel); its settings (limits, names) kept."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(acc):
        v = getattr(acc, f.name)
        if isinstance(v, list):
            v = []
        elif isinstance(v, bool):
            v = False
        elif isinstance(v, int | float):
            v = type(v)()
        elif isinstance(v, Sandbox):
            v = None
        values[f.name] = v
    return type(acc)(**values)


def _merge(acc: Any, part: Any) -> None:
    """Add what a call in the worker put into the blank copy ``part`` to ``acc``."""
    for f in dataclasses.fields(acc):
        v = getattr(part, f.name)
        if isinstance(v, list):
            getattr(acc, f.name).extend(v)
        elif isinstance(v, bool):
            setattr(acc, f.name, getattr(acc, f.name) or v)
        elif isinstance(v, int | float):
            setattr(acc, f.name, getattr(acc, f.name) + v)


def _apart(read: Callable[..., Any], accs: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
    return accs, read(*accs, *args)


def call_apart(
    box: Sandbox,
    read: Callable[..., Any],
    accs: tuple[Any, ...],
    args: tuple[Any, ...],
    cpu_seconds: float,
    wall_seconds: float,
) -> tuple[Any, str | None]:
    """``read(*accs, *args)`` in the sandbox, where ``accs`` are dataclass accumulators the
    call appends to (lists extended, counters added, flags or-ed): what it added is merged
    into them here. (its value, None), or (None, why it was stopped: nothing merged); an
    exception it raised is raised here."""
    out = box.call(_apart, (read, tuple(_blank(a) for a in accs), args), cpu_seconds, wall_seconds)
    if out.stopped is not None:
        return None, out.stopped
    if out.error is not None:
        raise out.error
    filled, value = out.value
    for acc, part in zip(accs, filled, strict=True):
        _merge(acc, part)
    return value, None
