"""Property tests of the host parsers: random mutations and truncations of valid inputs (the
real public samples in tests/data/host and artefacts built in host_builders) give a result or
an InputError (or a subclass), or through ``scan_host`` a "not analysed" entry; never another
exception and never a hang (each example runs under a CPU-time bound, not a wall-clock one: a
loaded machine does not fail it).

``make test`` runs a modest, derandomized number of examples so that the file stays fast and
stable in CI; ``make fuzz`` runs more with a random seed (profiles in tests/testsupport.py).
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from host_builders import (
    ROOT_CELL_OFFSET,
    TRUTH,
    build_hive,
    cert_pkcs7,
    fat_image,
    job_bytes,
    ntfs_image,
    system_hive_tree,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from duqhunt.analysis import AnalysisResult
from duqhunt.errors import InputError
from duqhunt.hostscan import scan_host
from duqhunt.simulate.host import build_inert_pe, reg_export, write_triage_folders
from duqhunt.sources.host.eventlog import EventLogRead, read_event_json, read_evtx
from duqhunt.sources.host.jobfile import JobInfo, read_job
from duqhunt.sources.host.pe import PeInfo, read_pe
from duqhunt.sources.host.registry import HiveFacts, read_hive_file, read_reg_export
from duqhunt.sources.host.walk import HostLimits
from testsupport import cpu_bounded, fuzz_examples, mutated

DATA = Path(__file__).resolve().parents[1] / "data" / "host"
CPU_SECONDS = 10.0  # per example: far above what a sane parse of these small inputs needs
R = TypeVar("R")


def fuzz(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(max_examples=fuzz_examples(examples))


def bounded(seconds: float = CPU_SECONDS) -> AbstractContextManager[None]:
    """Fail (instead of stalling the suite) when the body uses more than ``seconds`` of CPU."""
    return cpu_bounded(seconds)


def result_or_input_error(fn: Callable[..., R], *args: Any) -> R | None:
    """fn's result, or None when it raised an InputError; anything else fails the test."""
    try:
        with bounded():
            return fn(*args)
    except InputError as exc:
        assert exc.reason and exc.path
        return None


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# 1601-01-01 (where FILETIME starts) to 9999-12-31: times a date can be made of
MIN_TIME, MAX_TIME = -11644473600.0, 253402214400.0


def _time_ok(t: float | None) -> bool:
    return t is None or (math.isfinite(t) and MIN_TIME <= t < MAX_TIME)


def _no_detector_failed(res: AnalysisResult) -> None:
    assert not [w for w in res.warnings if w.startswith("detector ")], res.warnings


# the PE, EVTX, hive and .job readers run in a worker process, whose CPU time the bound of this
# process does not see: the worker gets the same bound as its hard limit, and a reader it stops
# fails the test
IN_WORKER = {"hard_seconds_per_file": CPU_SECONDS}


def _no_reader_stopped(res: Any) -> None:  # the scan's result
    assert not [n for n in res.not_analysed if "hard limit" in n.reason], res.not_analysed


# --- registry hives -------------------------------------------------------------------------

HIVE = build_hive(system_hive_tree())


def test_built_hive_reads_the_same_in_both_readers(work: Path) -> None:
    from duqhunt.sources.host.registry import _RegipyHive, hive_facts

    p = work / "SYSTEM"
    p.write_bytes(HIVE)
    fast, warnings = read_hive_file(p, 1 << 20)
    slow = hive_facts(_RegipyHive(p), "SYSTEM")
    assert not warnings and fast.parser == "python-registry" and slow.parser == "regipy"
    assert fast.computer_name == slow.computer_name == "WS-10-1-0-29"
    assert [s.name for s in fast.services] == [s.name for s in slow.services]
    assert fast.services == slow.services


@fuzz(80)
@given(mutated(HIVE))
def test_hive_fuzz(work: Path, data: bytes) -> None:
    p = work / "SYSTEM"
    p.write_bytes(data)
    got = result_or_input_error(read_hive_file, p, 1 << 20)
    if got is not None:
        facts, warnings = got
        assert isinstance(facts, HiveFacts) and all(isinstance(w, str) for w in warnings)
        assert all(_time_ok(s.last_write) for s in facts.services)


# --- the regipy fallback --------------------------------------------------------------------


def test_regipy_fallback_gets_the_services_out(tmp_path: Path) -> None:
    """python-registry finds the root key through the base block's root cell offset; regipy
    takes the first cell of the first bin. With that offset damaged the fast reader fails and
    the tolerant one still reads every service, and the run says it fell back."""
    data = bytearray(HIVE)
    struct.pack_into("<I", data, ROOT_CELL_OFFSET, 0x0FF0)  # into the bin's free space
    root = tmp_path / "h"
    cfg = root / "Windows" / "System32" / "config"
    cfg.mkdir(parents=True)
    (cfg / "SYSTEM").write_bytes(bytes(data))

    facts, warnings = read_hive_file(cfg / "SYSTEM", 1 << 20)
    assert facts.parser == "regipy" and facts.computer_name == "WS-10-1-0-29"
    assert {s.name for s in facts.services} == {"JmiNET3", "Tcpip"}
    jmi = next(s for s in facts.services if s.name == "JmiNET3")
    assert jmi.image_path.endswith("jminet7.sys") and jmi.kernel and "FILTER" in jmi.value_names
    assert len(warnings) == 1 and "python-registry failed" in warnings[0]
    assert "read with regipy instead" in warnings[0]

    res = scan_host([root])
    assert any("read with regipy instead" in w for w in res.warnings)
    svc = {dict(f.details)["service"]: f for f in res.findings if f.detector == "DQ-HOST-006"}
    assert svc["JmiNET3"].severity == "critical" and "Tcpip" not in svc
    assert all(f.hosts == ("WS-10-1-0-29",) for f in res.findings)
    rec = next(i for i in res.inputs if i.kind == "host-hive")
    assert rec.rows == 2 and rec.log_type == "SYSTEM"


def test_hive_neither_reader_can_read_is_not_analysed(tmp_path: Path) -> None:
    p = tmp_path / "SYSTEM"
    p.write_bytes(HIVE[:4096] + b"nbin" + HIVE[4100:])  # no hive bin where both look for one
    with pytest.raises(InputError, match="python-registry or regipy"):
        read_hive_file(p, 1 << 20)
    res = scan_host([p])
    assert res.not_analysed and res.not_analysed[0].path == str(p)


def test_far_future_key_write_time_has_no_time(tmp_path: Path) -> None:
    """A FILETIME past year 9999 (as damage leaves it) gives no time, not a crash later."""
    p = tmp_path / "SYSTEM"
    p.write_bytes(build_hive(system_hive_tree(), filetime=0xFFFFFFFFFFFFFFF0))
    facts, _ = read_hive_file(p, 1 << 20)
    assert facts.services and all(s.last_write is None for s in facts.services)
    res = scan_host([p])
    _no_detector_failed(res)
    assert any(f.detector == "DQ-HOST-006" for f in res.findings)


# --- .reg exports ---------------------------------------------------------------------------

_SVC = "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\JmiNET3"
REG = reg_export(
    {
        _SVC: {
            "ImagePath": "\\SystemRoot\\System32\\Drivers\\jminet7.sys",
            "Type": 1,
            "F": b"\x01" * 40,
        },
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion": {
            "ProductName": "W7"
        },
    },
    {_SVC: 1318560431.0},
).encode("utf-8")


@fuzz(80)
@given(mutated(REG))
def test_reg_export_fuzz(work: Path, data: bytes) -> None:
    p = work / "SYSTEM.reg"
    p.write_bytes(data)
    got = result_or_input_error(read_reg_export, p, 1 << 20)
    for facts in got or []:
        assert all(_time_ok(s.last_write) for s in facts.services)


_REG_HEAD = "Windows Registry Editor Version 5.00\r\n\r\n"


def test_reg_export_deep_key(tmp_path: Path) -> None:
    p = tmp_path / "x.reg"
    head = _REG_HEAD
    # a key 5000 levels deep (the parents used to be created recursively)
    deep = "a\\" * 5000
    p.write_text(f'{head}[HKEY_LOCAL_MACHINE\\SYSTEM\\{deep}b]\r\n"x"=dword:1\r\n')
    with bounded():
        (facts,) = read_reg_export(p, 1 << 30)
    assert facts.kind == "SYSTEM"


def test_reg_export_long_continuation(tmp_path: Path) -> None:
    p = tmp_path / "x.reg"
    head = _REG_HEAD
    # one value continued over a million lines (the pieces used to be joined line by line,
    # quadratic: minutes for a few megabytes)
    p.write_text(f'{head}[{_SVC}]\r\n"FILTER"=hex:' + "00,\\\r\n  " * 1_000_000 + "00\r\n")
    with bounded():
        (facts,) = read_reg_export(p, 1 << 30)
    assert facts.kind == "SYSTEM"


# --- EVTX -----------------------------------------------------------------------------------

_EVTX_CHUNK = 0x10000
EVTX_SEEDS = [
    (DATA / "md_psexec_service_7045.evtx").read_bytes(),
    # the first two chunks of a real Security log (2,000+ records in the whole file)
    (DATA / "evtxrs_security_real.evtx").read_bytes()[: 0x1000 + 2 * _EVTX_CHUNK],
]


@fuzz(60)
@given(st.sampled_from(EVTX_SEEDS).flatmap(lambda s: mutated(s, hot=0x1200)), st.booleans())
def test_evtx_fuzz(work: Path, data: bytes, every_event: bool) -> None:
    p = work / "Security.evtx"
    p.write_bytes(data)
    wanted = None if every_event else frozenset({4624, 7045})
    got = result_or_input_error(read_evtx, p, 10_000, wanted)
    if got is not None:
        assert isinstance(got, EventLogRead)
        assert len(got.events) <= got.records  # every event is one record read
        assert got.records <= 10_000 + 1  # the cap (the record past it is counted, not kept)
        assert not got.truncated or got.warnings  # a log not read to the end says so
        if wanted is not None:
            assert {e.event_id for e in got.events} <= wanted
        assert {e.source for e in got.events} <= {str(p)}
        assert all(_time_ok(e.time) for e in got.events)


# --- JSON event exports (values replaced by any JSON) ----------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(
        [
            "",
            "2011-10-14T09:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00+05:00",
            "0x3a000",
            "3",
            "10.1.0.16",
            "\\\\*\\ADMIN$",
            "JmiNET3",
            "C:\\Windows\\Temp\\x.exe",
        ]
    )
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["", "#text", "#attributes", "@Name", "Data", "SystemTime", "A", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _json_seed() -> list[dict[str, Any]]:
    """The Security events the simulator writes for the infected host."""
    with tempfile.TemporaryDirectory() as tmp:
        out = write_triage_folders(Path(tmp), TRUTH, seed=7)[0]
        text = next(out.rglob("Security.jsonl")).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


EVENTS = _json_seed()


@st.composite
def damaged_events(draw: st.DrawFn) -> list[Any]:
    """The simulated Security events with a few fields (at any depth) replaced by any JSON."""
    events: list[Any] = json.loads(json.dumps(EVENTS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(events) - 1))
        node = events[i]
        while isinstance(node, dict) and node and draw(st.booleans()):
            child = node[draw(st.sampled_from(sorted(node)))]
            if not isinstance(child, dict):
                break
            node = child
        value = draw(_json_values)
        if isinstance(node, dict):
            keys = [*sorted(node), "EventID", "TimeCreated", "SystemTime", "#attributes", ""]
            node[draw(st.sampled_from(keys))] = value
        else:
            events[i] = value
    return events


@fuzz(40)
@given(damaged_events())
def test_event_json_fuzz_through_the_detectors(work: Path, events: list[Any]) -> None:
    root = work / "json-host"
    shutil.rmtree(root, ignore_errors=True)
    logs = root / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    p = logs / "Security.jsonl"
    p.write_text("\n".join(json.dumps(e) for e in events), encoding="utf-8")
    got = result_or_input_error(read_event_json, p, 10_000, 1 << 20, None)
    if got is not None:
        assert all(_time_ok(e.time) for e in got.events)
    with bounded():
        res = scan_host([root])
    _no_detector_failed(res)
    assert all(t["time"] for t in res.timeline)


_T = "2011-10-14T09:00:00Z"


@pytest.mark.parametrize(
    "record",
    [
        # found by the fuzzer: an EventData field with an empty name holding an object
        {"Event": {"System": {"EventID": 4624, "TimeCreated": _T}, "EventData": {"": {}}}},
        # TimeCreated / Security whose #attributes is not an object
        {"Event": {"System": {"EventID": 4624, "TimeCreated": {"#attributes": "x"}}}},
        {"Event": {"System": {"EventID": 4624, "TimeCreated": _T, "Security": {"#attributes": 5}}}},
        # times no date can be made of (past 9999 once the offset is applied, or not finite)
        {"EventID": 4624, "TimeCreated": "9999-12-31T23:59:59-05:00", "LogonType": "3"},
        {"EventID": 4624, "TimeCreated": "0001-01-01T00:00:00+05:00", "LogonType": "3"},
        {"EventID": 4624, "TimeCreated": 1e300, "LogonType": "3"},
        {"EventID": 4624, "TimeCreated": 10**30, "LogonType": "3"},
        {"EventID": "4" * 5000, "TimeCreated": _T},
    ],
)
def test_odd_event_records(tmp_path: Path, record: dict[str, Any]) -> None:
    root = tmp_path / "h"
    logs = root / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    ok = {"EventID": 4624, "TimeCreated": _T, "LogonType": "3", "IpAddress": "10.1.0.16"}
    (logs / "Security.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(ok) + "\n")
    got = read_event_json(logs / "Security.jsonl", 10, 1 << 20, None)
    assert got.records == 2 and all(_time_ok(e.time) for e in got.events)
    res = scan_host([root])
    _no_detector_failed(res)


def test_deeply_nested_event_json_is_skipped(tmp_path: Path) -> None:
    p = tmp_path / "events.jsonl"
    deep = '{"EventID": 4624, "TimeCreated": "2011-10-14T09:00:00Z", "x": ' + "[" * 100_000
    ok = json.dumps({"EventID": 4624, "TimeCreated": "2011-10-14T09:00:00Z", "LogonType": "3"})
    p.write_text(deep + "\n" + ok + "\n", encoding="utf-8")
    res = read_event_json(p, 10, 1 << 20, None)
    assert res.records == 2 and res.skipped == 1 and len(res.events) == 1
    p.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(InputError):
        read_event_json(p, 10, 1 << 20, None)


# --- PE / Authenticode -------------------------------------------------------------------------

_SIGNED = build_inert_pe(
    {"CompanyName": "JMicron Technology Corp.", "FileDescription": "JMicron driver"},
    certificate_pkcs7=cert_pkcs7(
        "C-Media Electronics Incorporation", datetime(2012, 8, 2, tzinfo=UTC)
    ),
)
_PLAIN = build_inert_pe({"CompanyName": "JMicron"}, sections=(".text", "x\x01yz"), timestamp=0)


def _cert_table_at(pe: bytes) -> int:
    import pefile

    parsed = pefile.PE(data=pe, fast_load=True)
    return int(parsed.OPTIONAL_HEADER.DATA_DIRECTORY[4].VirtualAddress)


@fuzz(60)
@given(
    st.sampled_from([_SIGNED, _PLAIN]).flatmap(lambda s: mutated(s, hot=0x200))
    | mutated(_SIGNED[_cert_table_at(_SIGNED) :]).map(
        lambda t: _SIGNED[: _cert_table_at(_SIGNED)] + t
    )
)
def test_pe_fuzz(work: Path, data: bytes) -> None:
    p = work / "jminet7.sys"
    p.write_bytes(data)
    got = result_or_input_error(read_pe, p, 1 << 20)
    if got is not None:
        assert isinstance(got, PeInfo) and all(isinstance(w, str) for w in got.warnings)


def test_pe_without_the_security_directory_entry(tmp_path: Path) -> None:
    """NumberOfRvaAndSizes below 5: there is no certificate-table entry to look at."""
    import pefile

    pe = bytearray(_SIGNED)
    opt = pefile.PE(data=bytes(pe), fast_load=True).OPTIONAL_HEADER.get_file_offset()
    struct.pack_into("<I", pe, opt + 92, 2)  # PE32 NumberOfRvaAndSizes
    p = tmp_path / "x.sys"
    p.write_bytes(bytes(pe))
    info = read_pe(p, 1 << 20)
    assert info.signers == () and info.is_driver


# --- .job files ----------------------------------------------------------------------------------

JOB_SEEDS = [
    (DATA / "wintask.job").read_bytes(),
    job_bytes("C:\\Windows\\Temp\\5bbe8cc8.exe", "-x", "CORP\\adm_jsmith"),
]


@pytest.mark.parametrize(
    ("year", "has_time"), [(0, False), (1, False), (1600, False), (1601, True)]
)
def test_job_last_run_before_1601_has_no_time(tmp_path: Path, year: int, has_time: bool) -> None:
    """Found by `make fuzz`: a RunTime SYSTEMTIME of year 1 gave a time before 1601, which no
    Windows clock holds (MS-TSCH .job fixed section: the last run time at offset 52, wYear
    first)."""
    data = bytearray((DATA / "wintask.job").read_bytes())
    struct.pack_into("<H", data, 52, year)
    p = tmp_path / "At1.job"
    p.write_bytes(bytes(data))
    got = read_job(p)
    assert (got.last_run is not None) == has_time and _time_ok(got.last_run)


@fuzz(80)
@given(st.sampled_from(JOB_SEEDS).flatmap(lambda s: mutated(s, hot=80)))
def test_job_fuzz(work: Path, data: bytes) -> None:
    p = work / "At1.job"
    p.write_bytes(data)
    got = result_or_input_error(read_job, p)
    if got is not None:
        assert isinstance(got, JobInfo) and _time_ok(got.last_run)


# --- triage folders --------------------------------------------------------------------------------

_FOLDERS = ["Windows", "System32", "config", "drivers", "inf", "Tasks", "Temp", "Logs", "a b", "ü"]
_SEEDS: dict[str, bytes] = {
    "SYSTEM": HIVE,
    "SYSTEM.reg": REG,
    "Security.evtx": EVTX_SEEDS[0],
    "Security.jsonl": b"\n".join(json.dumps(e).encode() for e in EVENTS),
    "At1.job": JOB_SEEDS[1],
    "netp191.pnf": bytes(range(256)) * 8,
    "jminet7.sys": _SIGNED,
    "~DQ7A3.tmp": b"\x00" * 64,
    "disk.img": b"\x00" * 512,
    "x" * 200: b"long name",
}


@st.composite
def triage_tree(draw: st.DrawFn) -> list[tuple[tuple[str, ...], str, bytes]]:
    """Files at random depths (seeds for their kinds, damaged) and symbolic links."""
    entries = []
    for _ in range(draw(st.integers(1, 8))):
        folders = tuple(draw(st.lists(st.sampled_from(_FOLDERS), max_size=5)))
        name = draw(st.sampled_from(sorted(_SEEDS)))
        kind = draw(
            st.sampled_from(["file", "file", "file", "link-in", "link-out", "link-up", "dangling"])
        )
        data = draw(mutated(_SEEDS[name])) if kind == "file" else b""
        entries.append(((*folders, name), kind, data))
    return entries


@fuzz(40)
@given(triage_tree())
def test_triage_walk_fuzz(work: Path, entries: list[tuple[tuple[str, ...], str, bytes]]) -> None:
    root = work / "tri"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    (work / "outside.pnf").write_bytes(b"\x01" * 64)
    for parts, kind, data in entries:
        p = root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists() or p.is_symlink():
            continue
        if kind == "file":
            p.write_bytes(data)
        elif kind == "link-in":
            p.symlink_to(root / "Windows")
        elif kind == "link-out":
            p.symlink_to(work / "outside.pnf")
        elif kind == "link-up":
            p.symlink_to(p.parent)
        else:
            p.symlink_to(work / "nothing-here")
    with bounded():
        res = scan_host([root], limits=HostLimits(max_files=12, max_depth=4, **IN_WORKER))
    _no_detector_failed(res)
    _no_reader_stopped(res)
    assert all(n.reason and n.path for n in res.not_analysed)
    assert all(i.status in ("analysed", "partial", "not-analysed") for i in res.inputs)


# --- disk images -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(work: Path) -> dict[str, tuple[bytes, list[int]]]:
    """A FAT and an NTFS image of an infected host, and the 512-byte blocks that hold data."""
    pytest.importorskip("dissect.target", reason="the optional 'image' extra (dissect.target)")
    folder = write_triage_folders(work / "img-triage", TRUTH, seed=7)[0]
    out: dict[str, tuple[bytes, list[int]]] = {}
    for fs, build in (("fat", fat_image), ("ntfs", ntfs_image)):
        img = work / f"{fs}.raw"
        try:
            build(folder, img)
        except pytest.skip.Exception:
            continue
        data = img.read_bytes()
        used = [i for i in range(0, len(data), 512) if data[i : i + 512].strip(b"\x00")]
        out[fs] = (data, used)
    if not out:
        pytest.skip("neither mtools nor ntfs-3g is installed (apt packages mtools, ntfs-3g)")
    return out


@pytest.mark.parametrize("fs", ["fat", "ntfs"])
@fuzz(8)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 1 << 30), st.integers(0, 511), st.integers(0, 255)),
        min_size=1,
        max_size=24,
    ),
    cut=st.none() | st.floats(0, 1),
)
def test_disk_image_fuzz(
    work: Path,
    images: dict[str, tuple[bytes, list[int]]],
    fs: str,
    edits: list[tuple[int, int, int]],
    cut: float | None,
) -> None:
    if fs not in images:
        pytest.skip(f"no {fs} image builder here")
    seed, used = images[fs]
    data = bytearray(seed)
    for block, at, value in edits:  # bytes changed inside the blocks that hold anything
        data[used[block % len(used)] + at] = value
    if cut is not None:
        data = data[: int(len(data) * cut)]
    img = work / f"mutated-{fs}.raw"
    img.write_bytes(bytes(data))
    with bounded(30):
        res = scan_host([img], limits=HostLimits(**IN_WORKER))
    _no_detector_failed(res)
    _no_reader_stopped(res)
    assert any(i.path == str(img) for i in res.inputs) or any(
        n.path.startswith(str(img)) for n in res.not_analysed
    )
