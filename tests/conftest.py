"""Shared test helpers: build small Zeek log folders in code and hunt them; the Hypothesis
profiles; the real public data beside the repository (../shared/data)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from testsupport import SHARED_DATA, need_shared_data

__all__ = ["SHARED_DATA", "TEST_DATA", "need_shared_data"]

TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("DUQHUNT_TEST", "1")


@pytest.fixture
def shared_data() -> Callable[..., Path]:
    """need_shared_data as a fixture: ``shared_data("docs", "ots")``."""
    return need_shared_data


@pytest.fixture
def run_hunt(tmp_path: Path) -> Callable[..., ReportDocument]:
    """Hunt a folder of logs into a fresh output folder under tmp_path."""
    counter = {"n": 0}

    def _run(logs: Path, **kwargs: object) -> ReportDocument:
        counter["n"] += 1
        out = tmp_path / f"out{counter['n']}"
        opts = HuntOptions(inputs=(logs,), out=out, threads=2, **kwargs)  # type: ignore[arg-type]
        return hunt(opts)

    return _run
