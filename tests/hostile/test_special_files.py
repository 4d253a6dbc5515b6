"""Point 3 (and part of 11) of issue #13: a FIFO, a socket or a symlinked folder among the
inputs. Only regular files are opened; the rest are listed as not analysed with the reason,
and the run goes on for the other inputs (a FIFO used to block `hunt` and `scan` forever)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_builders import conn_log, good_rows, report, run_cli_subprocess


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "in"
    conn_log(root / "conn.log", good_rows(10))
    os.mkfifo(root / "pipe.log")
    os.mkfifo(root / "lure.docx")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "sock.log"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    try:
        yield root
    finally:
        sock.close()


def _reasons(doc: dict[str, object]) -> dict[str, str]:
    return {
        os.path.basename(str(n["path"])): str(n["reason"])  # type: ignore[index]
        for n in doc["not_analysed"]  # type: ignore[attr-defined]
    }


def test_hunt_lists_fifos_and_sockets_and_goes_on(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli_subprocess(["hunt", str(folder), "--out", str(out), "--no-progress"])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    doc = report(out)
    reasons = _reasons(doc)
    assert "named pipe (FIFO)" in reasons["pipe.log"]
    assert "named pipe (FIFO)" in reasons["lure.docx"]
    assert "socket" in reasons["sock.log"]
    assert reasons["linked"] == "symlink to a folder, not followed"
    assert doc["stats"]["rows_conn"] == 10


def test_scan_lists_fifos_and_goes_on(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_cli_subprocess(["scan", str(folder), "--out", str(out), "--jobs", "1"])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    reasons = _reasons(report(out))
    assert "named pipe (FIFO)" in reasons["lure.docx"]
    assert "socket" in reasons["sock.log"]


def test_a_fifo_given_directly(folder: Path, tmp_path: Path) -> None:
    for cmd in ("hunt", "scan", "host"):
        out = tmp_path / cmd
        res = run_cli_subprocess([cmd, str(folder / "pipe.log"), "--out", str(out)])
        assert res.returncode == 1, (cmd, res.stderr.decode(errors="replace"))
        assert "named pipe (FIFO)" in _reasons(report(out))["pipe.log"]


def test_host_triage_folder_with_a_fifo(tmp_path: Path) -> None:
    root = tmp_path / "PC1"
    (root / "Windows" / "System32").mkdir(parents=True)
    os.mkfifo(root / "Windows" / "System32" / "netp191.pnf")
    (root / "Windows" / "System32" / "notes.txt").write_text("a regular file\n")
    out = tmp_path / "out"
    res = run_cli_subprocess(["host", str(root), "--out", str(out)])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert "named pipe (FIFO)" in _reasons(report(out))["netp191.pnf"]
