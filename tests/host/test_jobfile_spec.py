"""The Task Scheduler .job reader against the file format of [MS-TSCH] 2.4: a 68-byte
fixed-length section (Product Version, File Version, UUID, ..., Most Recent Run Time as a
SYSTEMTIME at offset 52), the Running Instance Count, then counted UTF-16LE strings in the
order Application Name, Parameters, Working Directory, Author, Comment. Files built here field
by field; nothing is executed."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from duqhunt.errors import InputError
from duqhunt.sources.host.jobfile import read_job


def _ustr(s: str) -> bytes:
    enc = (s + "\x00").encode("utf-16-le") if s else b""
    return struct.pack("<H", len(enc) // 2) + enc


def _job(
    *,
    product: int = 0x0601,
    file_version: int = 1,
    last_run: tuple[int, ...] = (2011, 10, 3, 5, 14, 9, 30, 250),  # y, m, weekday, d, h, mi, s, ms
    strings: tuple[str, ...] = (
        "C:\\Windows\\system32\\rundll32.exe",
        "a.dll,Start",
        "",
        "ADMIN",
        "",
    ),
) -> bytes:
    fixed = bytearray(68)
    struct.pack_into("<HH", fixed, 0, product, file_version)
    fixed[4:20] = bytes(range(16))  # job UUID
    struct.pack_into("<8H", fixed, 52, *last_run)
    return bytes(fixed) + struct.pack("<H", 0) + b"".join(_ustr(s) for s in strings)


def _read(tmp_path: Path, data: bytes) -> object:
    p = tmp_path / "At1.job"
    p.write_bytes(data)
    return read_job(p)


def test_fields_in_their_order(tmp_path: Path) -> None:
    job = _read(
        tmp_path,
        _job(strings=("C:\\a.exe", "-x 1", "C:\\Temp", "DOMAIN\\admin", "made by hand")),
    )
    assert job.name == "At1.job"  # type: ignore[attr-defined]
    assert job.application == "C:\\a.exe"  # type: ignore[attr-defined]
    assert job.parameters == "-x 1"  # type: ignore[attr-defined]
    assert job.working_dir == "C:\\Temp"  # type: ignore[attr-defined]
    assert job.author == "DOMAIN\\admin"  # type: ignore[attr-defined]
    assert job.comment == "made by hand"  # type: ignore[attr-defined]


def test_product_version_is_the_first_two_bytes(tmp_path: Path) -> None:
    # Windows 7 writes 0x0601; the File Version that follows must not leak into it
    assert _read(tmp_path, _job(product=0x0601, file_version=0x0101)).product_version == 0x0601  # type: ignore[attr-defined]
    assert _read(tmp_path, _job(product=0x0500, file_version=0xFFFF)).product_version == 0x0500  # type: ignore[attr-defined]


def test_most_recent_run_time_is_utc_systemtime(tmp_path: Path) -> None:
    want = datetime(2011, 10, 5, 14, 9, 30, 250_000, tzinfo=UTC).timestamp()
    assert _read(tmp_path, _job()).last_run == want  # type: ignore[attr-defined]
    # a job that never ran has a zero SYSTEMTIME
    assert _read(tmp_path, _job(last_run=(0,) * 8)).last_run is None  # type: ignore[attr-defined]
    # an impossible date is no time, not an error
    assert _read(tmp_path, _job(last_run=(2011, 13, 0, 40, 0, 0, 0, 0))).last_run is None  # type: ignore[attr-defined]


def test_too_short_or_cut_strings_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="too short"):
        _read(tmp_path, b"\x01\x06" * 10)
    whole = _job()
    with pytest.raises(InputError, match="past the end"):
        _read(tmp_path, whole[:80])
    with pytest.raises(InputError, match="cut short"):
        _read(tmp_path, whole[:70] + _ustr("C:\\a.exe"))
