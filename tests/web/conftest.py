"""Cases for the web app tests: a small simulated campaign hunted once per session, and
report documents written directly (10,000 findings, hostile strings, a host with two names)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import Finding
from duqhunt.model.report import Campaign, HostModel, ReportDocument
from duqhunt.render import write_outputs
from duqhunt.simulate.campaign import SimConfig, simulate


@pytest.fixture(scope="session")
def hunted_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(logs, out): a 80-host, 1-day simulated campaign and the folder its hunt wrote."""
    base = tmp_path_factory.mktemp("webcase")
    logs = base / "zeek"
    simulate(logs, seed=3, config=SimConfig(hosts=80, days=1.0), meta_dir=base / "meta")
    out = base / "out"
    write_outputs(hunt(HuntOptions(inputs=(logs,), out=out, threads=2)), out)
    return logs, out


@pytest.fixture
def fresh_case(hunted_case: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the hunted case (tests that triage or re-hunt change it)."""
    logs, out = hunted_case
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return logs, copy


@pytest.fixture
def write_case(tmp_path: Path) -> Callable[..., Path]:
    """Write a report document into a case folder, as a hunt would."""

    def _write(findings: list[Finding], hosts: list[HostModel] | None = None) -> Path:
        out = tmp_path / "case"
        doc = ReportDocument(
            tool_version="test",
            started="2026-01-01T00:00:00Z",
            finished="2026-01-01T00:01:00Z",
            case=str(out / "case.duckdb"),
            findings=findings,
            campaign=Campaign(hosts=hosts or []),
        )
        write_outputs(doc, out)
        return out

    return _write
