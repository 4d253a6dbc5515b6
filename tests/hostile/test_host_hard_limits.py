"""Hard limits of one host artefact (issue #13, points 5 and 7): the readers of PE, EVTX,
hives and .job files run in a worker process that is killed when its reader passes the CPU
time or the address space it may use, wherever it is (inside pefile, the Rust EVTX parser...),
which the cooperative budget cannot do. The file is then 'not analysed' with the limit in the
reason, and the files after it are read by a new worker.

Outcomes are checked, never the time: the crafted PE of point 7 needs about a CPU-second to
read whatever the load (CPU time, not the clock), twenty times the 0.05 s limit set here,
while a .job file is read in well under a millisecond; the memory case reads a 160 MB file
whole under a 64 MiB cap, the only allocation that large."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from hostile_builders import crafted_pe

from duqhunt.hostscan import HostLimits, scan_host
from duqhunt.simulate.host import build_inert_pe

HOST_DATA = Path(__file__).resolve().parents[1] / "data" / "host"


def _status(res: Any) -> dict[str, str]:  # the scan's result
    return {Path(i.path).name: i.status for i in res.inputs}


def _reasons(res: Any) -> dict[str, str]:
    return {Path(n.path).name: n.reason for n in res.not_analysed}


def test_a_reader_past_its_cpu_limit_is_stopped_and_the_run_goes_on(tmp_path: Path) -> None:
    first, pe, last = tmp_path / "At1.job", tmp_path / "netp191.sys", tmp_path / "At2.job"
    job = (HOST_DATA / "wintask.job").read_bytes()
    first.write_bytes(job)
    pe.write_bytes(crafted_pe(True))
    last.write_bytes(job)
    # the cooperative budget (300 s) would never stop this read: only the hard limit can
    res = scan_host([first, pe, last], limits=HostLimits(hard_seconds_per_file=0.05))

    want = "not analysed: exceeded the hard limit of 0.05 s of CPU time; its reader was stopped"
    assert _reasons(res) == {"netp191.sys": want}
    assert _status(res) == {
        "At1.job": "analysed",
        "netp191.sys": "not-analysed",
        "At2.job": "analysed",
    }
    assert f"{pe}: {want}" in res.warnings

    # within the default limits the worker reads it up to its per-file work limit (point 7)
    whole = scan_host([pe])
    assert _status(whole) == {"netp191.sys": "partial"}
    assert "work limit of the file reached" in _reasons(whole)["netp191.sys"]


def test_a_reader_past_its_memory_limit_is_stopped(tmp_path: Path) -> None:
    big = tmp_path / "jminet7.sys"
    with big.open("wb") as fh:  # a sparse file: 160 MB to read, nothing written past the PE
        fh.write(build_inert_pe({"CompanyName": "Example"}))
        fh.truncate(160 << 20)
    small = tmp_path / "At1.job"
    small.write_bytes((HOST_DATA / "wintask.job").read_bytes())
    limits = HostLimits(max_pe_bytes=256 << 20, memory_per_file=64 << 20)
    res = scan_host([big, small], limits=limits)
    want = "not analysed: exceeded the memory limit of 64 MiB; its reader was stopped"
    assert _reasons(res) == {"jminet7.sys": want}
    assert _status(res) == {"jminet7.sys": "not-analysed", "At1.job": "analysed"}


def test_errors_of_an_isolated_reader_are_reported_as_before(tmp_path: Path) -> None:
    """A reader's InputError in the worker is the same not-analysed entry, its place kept."""
    p = tmp_path / "At1.job"
    p.write_bytes((HOST_DATA / "wintask.job").read_bytes()[:80])
    res = scan_host([p])
    inline = scan_host([p], limits=HostLimits(hard_seconds_per_file=0))
    assert _reasons(res) == _reasons(inline)
    assert "byte" in _reasons(res)["At1.job"]
    assert _status(res) == {"At1.job": "not-analysed"}


def test_no_worker_outlives_the_scan(tmp_path: Path) -> None:
    p = tmp_path / "At1.job"
    p.write_bytes((HOST_DATA / "wintask.job").read_bytes())
    before = set(multiprocessing.active_children())  # other tests' servers, if any
    res = scan_host([p])
    assert _status(res) == {"At1.job": "analysed"}
    assert set(multiprocessing.active_children()) <= before
