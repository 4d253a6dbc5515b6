"""Progress inside one big log: the store says how far the log being read has got, and the
hunt turns that into the ingest bar's bytes (issue #14, point 5). How far a reader has got is
tested on the readers themselves (tests/sources/test_zeek_reader.py, the read meter)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from duqhunt import hunt as hunt_mod
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.store import CaseStore

MiB = 1 << 20


def test_nothing_is_being_read_outside_an_ingest(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#fields\tts\tuid\n#types\ttime\tstring\n1318586400.0\tC1\n")
    with CaseStore(tmp_path / "case.duckdb") as store:
        assert store.read_fraction() is None
        assert store.engine.query_fraction() is None  # no statement runs
        store.ingest_zeek(log)
        assert store.read_fraction() is None  # the reader is let go when the log is in


def test_duckdb_reports_no_progress_when_idle() -> None:
    eng = DuckDBEngine()
    try:
        eng.query("SELECT 1")
        assert eng.query_fraction() is None
    finally:
        eng.close()


class _Reader:
    """Stands in for the store's reader: hands out the given fractions, one per question,
    and says when all were asked."""

    def __init__(self, fractions: list[float | None]) -> None:
        self.fractions = fractions
        self.asked = threading.Event()

    def __call__(self) -> float | None:
        if not self.fractions:
            self.asked.set()
            return None
        return self.fractions.pop(0)


def test_the_bar_moves_inside_a_big_log_and_never_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.25 and 0.5 of the file move the bar; 0.1 (the exact reader starting the file again
    after the engine's reader handed it over) and nothing known do not; 0.75 does."""
    monkeypatch.setattr(hunt_mod, "PROGRESS_TICK_S", 0.001)
    calls: list[tuple[str, int, int, str]] = []
    size, done, total = 64 * MiB, 10 * MiB, 100 * MiB
    reader = _Reader([0.25, None, 0.5, 0.1, 0.75])
    with CaseStore(tmp_path / "case.duckdb") as store:
        monkeypatch.setattr(store, "read_fraction", reader)
        with hunt_mod._progress_within(
            lambda *a: calls.append(a), store, done, size, total, "big.log"
        ):
            assert reader.asked.wait(60), "the progress thread never asked"
    assert calls == [
        ("ingest", done + size // 4, total, "big.log"),
        ("ingest", done + size // 2, total, "big.log"),
        ("ingest", done + 3 * size // 4, total, "big.log"),
    ]


def test_a_small_log_moves_the_bar_per_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hunt_mod, "PROGRESS_TICK_S", 0.001)
    reader = _Reader([0.5])
    calls: list[object] = []
    with CaseStore(tmp_path / "case.duckdb") as store:
        monkeypatch.setattr(store, "read_fraction", reader)
        with hunt_mod._progress_within(
            lambda *a: calls.append(a), store, 0, hunt_mod.PROGRESS_WITHIN_BYTES - 1, 1, "x"
        ):
            pass
    assert calls == [] and reader.fractions == [0.5]  # no thread asked
