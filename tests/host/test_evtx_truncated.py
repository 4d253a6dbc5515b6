"""A cut-short EVTX (a copy that stopped part way: a failed transfer, a full disk) is read as far
as it goes and reported as partly analysed with a warning, never as "analysed". The files are
the real public logs in tests/data/host (copied from ../shared/data/host/evtx). The layout
used to cut them is the EVTX format's (libevtx notes): a 4096-byte file header whose u16 at
offset 42 is the number of chunks, then 64 KiB chunks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from duqhunt.hostscan import scan_host
from duqhunt.sources.host.eventlog import read_evtx

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
HEADER, CHUNK = 4096, 65536


def _declared_chunks(data: bytes) -> int:
    assert data[:8] == b"ElfFile\0"
    return int(struct.unpack_from("<H", data, 42)[0])


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.evtx")))
def test_whole_real_logs_are_analysed_without_warning(name: str) -> None:
    got = read_evtx(DATA / name, 10**6, None)
    assert got.records and not got.damaged and not got.warnings and not got.skipped
    res = scan_host([DATA / name])
    assert [i.status for i in res.inputs] == ["analysed"]
    assert not res.not_analysed


def test_log_cut_between_chunks_is_partly_analysed(tmp_path: Path) -> None:
    real = (DATA / "evtxrs_security_real.evtx").read_bytes()
    declared = _declared_chunks(real)
    assert declared > 3
    cut = tmp_path / "Security.evtx"
    cut.write_bytes(real[: HEADER + 3 * CHUNK])  # three whole chunks of the declared ones
    whole = read_evtx(DATA / "evtxrs_security_real.evtx", 10**6, None)
    got = read_evtx(cut, 10**6, None)
    assert 0 < got.records < whole.records
    assert f"declares {declared} chunk(s)" in got.damaged
    assert any("cut short" in w for w in got.warnings)
    res = scan_host([cut])
    assert [i.status for i in res.inputs] == ["partial"]
    assert [n.path for n in res.not_analysed] == [str(cut)]
    assert "cut short" in res.not_analysed[0].reason
    assert any("cut short" in w for w in res.warnings)


def test_log_cut_inside_its_only_chunk_is_partly_analysed(tmp_path: Path) -> None:
    real = (DATA / "md_psexec_adminshare_4624_4697_5140_5145.evtx").read_bytes()
    assert _declared_chunks(real) == 1 and len(real) == HEADER + CHUNK
    cut = tmp_path / "Security.evtx"
    cut.write_bytes(real[: HEADER + CHUNK // 2])
    res = scan_host([cut])
    assert [i.status for i in res.inputs] == ["partial"], res.warnings
    assert "cut short" in res.not_analysed[0].reason
