"""Fixtures of the hostile-input suite (the generators are in hostile_builders)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from duqhunt.simulate import SimConfig, simulate


@pytest.fixture(scope="session")
def small_campaign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small simulated campaign (60 hosts, one day): 21 beacon findings with both C&Cs."""
    root = tmp_path_factory.mktemp("campaign")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(hosts=60, days=1.0), meta_dir=root)
    return {"logs": root / "zeek", "c2": [c["ip"] for c in truth["c2"]]}


# the host tests' artefact builders (a regf hive writer, .job files) serve this suite too
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))
