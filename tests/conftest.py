"""Shared test helpers: build small Zeek log folders in code and hunt them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("DUQHUNT_TEST", "1")


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
