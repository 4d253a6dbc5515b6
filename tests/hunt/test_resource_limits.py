"""DuckDB's memory and spill limits as options: applied, refused when malformed, and what a
hunt does when it runs out of them (a detector fails with a warning; a setup query stops the
hunt with a clear error and the case keeps what was ingested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from duqhunt.cli.main import main
from duqhunt.errors import DuqhuntError, UsageError
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.simulate import SimConfig, simulate
from duqhunt.store import CaseStore


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limits")
    simulate(root / "zeek", seed=7, config=SimConfig(), meta_dir=root)
    return root / "zeek"


def test_limits_are_applied_and_bad_ones_refused(tmp_path: Path) -> None:
    with CaseStore(tmp_path / "case.duckdb", memory_limit="512MB", temp_limit="1GB") as store:
        got = store.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('max_temp_directory_size')"
        ).fetchone()
    assert got == ("488.2 MiB", "953.6 MiB")
    with pytest.raises(UsageError, match="--memory-limit 'lots'"):
        CaseStore(tmp_path / "other.duckdb", memory_limit="lots")


def test_bad_limit_is_a_usage_error_on_the_cli(
    tmp_path: Path, logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["hunt", str(logs), "--out", str(tmp_path / "o"), "--temp-limit", "much"])
    assert code == 2
    assert "--temp-limit 'much'" in capsys.readouterr().err


def test_a_detector_out_of_spill_space_is_a_warning(tmp_path: Path, logs: Path) -> None:
    """Memory enough for the setup queries, no spill space: the heavy detectors fail, each with
    a warning, and the hunt finishes with what the others found."""
    doc = hunt(
        HuntOptions(
            inputs=(logs,), out=tmp_path / "o", threads=1, memory_limit="100MB", temp_limit="0MB"
        )
    )
    failed = [w for w in doc.warnings if w.startswith("detector ") and " failed: " in w]
    assert any(w.startswith("detector DQ-NET-002 failed") for w in failed), doc.warnings
    assert all("Out of Memory" in w or "memory" in w.lower() for w in failed), failed
    assert {f.detector for f in doc.findings} >= {"DQ-NET-001", "DQ-NET-005", "DQ-NET-006"}


def test_setup_out_of_memory_stops_clearly_and_keeps_the_case(tmp_path: Path, logs: Path) -> None:
    """A memory limit only the setup queries hit: ingest streams each log through DuckDB in a
    few buffer blocks (with one thread, these logs ingest whole under 3 MB), while the setup
    queries over the whole conn log (IP classes, zones, the egress count) need more than 12 MB
    (measured with the pinned DuckDB, threads=1). 6 MB sits between with a factor 2 each side,
    so the run always stops at setup, never inside a detector and never during ingest; and the
    case keeps everything that run ingested."""
    case = tmp_path / "case.duckdb"
    opts = dict(inputs=(logs,), case=case, threads=1)
    with pytest.raises(DuqhuntError, match="stopped before the detectors ran") as err:
        hunt(HuntOptions(out=tmp_path / "a", memory_limit="6MB", temp_limit="0MB", **opts))  # type: ignore[arg-type]
    assert "The case keeps everything ingested so far" in str(err.value)
    assert "--memory-limit" in str(err.value)
    doc = hunt(HuntOptions(out=tmp_path / "b", **opts))  # type: ignore[arg-type]
    assert {i.status for i in doc.inputs} == {"already-ingested"}
    assert len(doc.inputs) == len(list(logs.iterdir()))
    assert any(f.detector == "DQ-NET-002" for f in doc.findings)
