"""Point 7 of issue #13 (bounded work per structure): a 1.1 MB PE declaring 2,048 sections
that each span the file used to cost minutes of entropy (every section over the whole file).
Entropy is now computed once per distinct byte range and within a per-file byte budget; the
work is measured in CPU seconds of this process (generous bound, no wall clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_builders import N_SECTIONS, cpu_seconds, crafted_pe, report, run_cli

from duqhunt.sources.host.pe import read_pe


@pytest.mark.parametrize("distinct", [False, True])
def test_many_sections_spanning_the_file_cost_bounded_work(tmp_path: Path, distinct: bool) -> None:
    path = tmp_path / "in" / "netp191.sys"
    path.parent.mkdir()
    path.write_bytes(crafted_pe(distinct))
    before = cpu_seconds()
    info = read_pe(path, 64 << 20)
    spent = cpu_seconds() - before
    assert len(info.sections) == N_SECTIONS
    assert spent < 15.0, spent  # was ~40-100 CPU-s: 2,048 entropies of ~1 MB each
    assert all(0.0 <= s.entropy <= 8.0 for s in info.sections)
    if distinct:
        assert any("work limit of the file reached" in w for w in info.warnings)
    else:
        assert len({s.entropy for s in info.sections}) == 1
    out = tmp_path / "out"
    assert run_cli(["host", str(path), "--out", str(out)]) == 0
    assert report(out)["inputs"]
