"""The EVTX file header's size check and the event time range at their boundaries, from the
format notes (libevtx: the file header's block size at offset 40, 4096 when zero, the chunk
count at 42, then 64 KiB chunks) and the docstrings' promises (a time is one of [1601, 9999],
ISO fractions of up to 7 digits cut to microseconds)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from duqhunt.sources.host.eventlog import evtx_shortfall, parse_time


def _evtx(path: Path, block: int, chunks: int, size: int) -> Path:
    head = b"ElfFile\0" + bytes(32) + struct.pack("<HH", block, chunks)
    path.write_bytes((head + bytes(max(size - len(head), 0)))[:size])
    return path


def test_header_block_size_zero_means_4096(tmp_path: Path) -> None:
    whole = 0x1000 + 0x10000
    assert evtx_shortfall(_evtx(tmp_path / "a.evtx", 0, 1, whole)) == ""
    cut = evtx_shortfall(_evtx(tmp_path / "b.evtx", 0, 1, whole - 1))
    assert cut.startswith(f"EVTX file cut short: its header declares 1 chunk(s) ({whole} bytes)")


def test_a_header_that_reaches_the_chunk_count_is_judged(tmp_path: Path) -> None:
    """44 bytes hold the chunk count (offset 42, 2 bytes): such a stub declaring a chunk is cut
    short; 43 bytes do not hold it, so nothing is said."""
    assert "declares 1 chunk(s)" in evtx_shortfall(_evtx(tmp_path / "a.evtx", 0x1000, 1, 44))
    assert evtx_shortfall(_evtx(tmp_path / "b.evtx", 0x1000, 1, 43)) == ""


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (-11644473600, -11644473600.0),  # 1601-01-01, the FILETIME epoch: in range
        ("1601-01-01T00:00:00Z", -11644473600.0),
        (-11644473601, None),
        # the upper bound is 9999-12-31 00:00 UTC (the code keeps the last day of 9999 out,
        # which the docstring's "[1601, 9999]" does not say)
        ("9999-12-30T23:59:59Z", 253402214399.0),
        (253402214400, None),
        ("9999-12-31T01:00:00+01:00", None),  # the bound itself, reached through an offset
    ],
)
def test_time_range_is_1601_to_9999(value: object, want: float | None) -> None:
    assert parse_time(value) == want


def test_seven_digit_fractions_are_cut_to_microseconds() -> None:
    """Windows writes SystemTime with 100 ns digits; Python keeps microseconds: the seventh
    digit is dropped, the first six kept."""
    want = datetime(2011, 10, 14, 10, 0, 0, 123456, tzinfo=UTC).timestamp()
    assert parse_time("2011-10-14T10:00:00.1234567Z") == want
    assert parse_time("2011-10-14 10:00:00.1234569Z") == want
