"""Point 7 of issue #13: every host artefact has a time budget and bounded work per
structure. A file cut by a budget or a work limit is 'partly analysed' with the reason, its
neighbours are read in full, and the run goes on. The outcome is checked, never the time: a
budget of 0 s is spent before the first structure, and the crafted hives declare billions of
subkeys or tens of thousands of values that the per-key limits cut."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from host_builders import build_hive, system_hive_tree

from duqhunt.analysis import AnalysisResult
from duqhunt.hostscan import HostLimits, scan_host
from duqhunt.simulate.host import build_inert_pe, reg_export

HOST_DATA = Path(__file__).resolve().parents[1] / "data" / "host"
SPENT = "time budget of 0 s per file spent"


def _triage(root: Path) -> dict[str, Path]:
    """A triage folder with one artefact of every kind the host scan reads."""
    w = root / "Windows" / "System32"
    files = {
        "System.evtx": w / "winevt" / "Logs" / "System.evtx",
        "Security.jsonl": w / "winevt" / "Logs" / "Security.jsonl",
        "SYSTEM": w / "config" / "SYSTEM",
        "software.reg": w / "config" / "software.reg",
        "jminet7.sys": w / "drivers" / "jminet7.sys",
    }
    for p in files.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    files["System.evtx"].write_bytes((HOST_DATA / "md_psexec_service_7045.evtx").read_bytes())
    event = {"EventID": 4624, "TimeCreated": "2011-10-14T09:00:00Z", "LogonType": "3"}
    files["Security.jsonl"].write_text(json.dumps(event) + "\n" + json.dumps(event) + "\n")
    files["SYSTEM"].write_bytes(build_hive(system_hive_tree()))
    zones = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet Settings"
    files["software.reg"].write_text(reg_export({zones + "\\Zones\\4": {"1001": 0}}))
    files["jminet7.sys"].write_bytes(build_inert_pe({"CompanyName": "Example"}))
    return files


def _partly(res: AnalysisResult) -> dict[str, str]:
    return {Path(n.path).name: n.reason for n in res.not_analysed}


def test_a_spent_time_budget_leaves_every_artefact_partly_analysed(tmp_path: Path) -> None:
    files = _triage(tmp_path / "PC")
    whole = scan_host([tmp_path / "PC"])
    assert whole.not_analysed == ()  # the same folder within its budget: all read

    res = scan_host([tmp_path / "PC"], limits=HostLimits(seconds_per_file=0))
    reasons = _partly(res)
    assert set(reasons) == set(files)  # each artefact, and the run went on to the next
    for name, reason in reasons.items():
        assert SPENT in reason, (name, reason)
        # the text export holds nothing before its first key: not analysed rather than empty
        if name != "software.reg":
            assert reason.startswith("partly analysed: "), (name, reason)
    assert reasons["software.reg"] == f"line 2: {SPENT} before the first key"
    assert "YARA rules not run" in reasons["jminet7.sys"]
    assert "import and resource directories not parsed" in reasons["jminet7.sys"]
    status = {Path(i.path).name: i.status for i in res.inputs}
    for name in ("System.evtx", "Security.jsonl", "SYSTEM"):
        assert status[name] == "partial", name
    assert status["software.reg"] == "not-analysed"
    assert all(any(name in w and SPENT in w for w in res.warnings) for name in files)


def _endless_services(hive: bytes) -> bytes:
    """The SYSTEM hive with its Services subkey list replaced by an 'ri' index that names the
    real list 65,535 times: 131,070 subkeys declared in 300 KB (an lf list of 65,535 entries
    behind it would make four billion)."""
    buf = bytearray(hive)
    nk = buf.index(b"Services") - 76  # a key's name follows its 76-byte nk record
    assert buf[nk : nk + 2] == b"nk"
    (lf,) = struct.unpack_from("<I", buf, nk + 0x1C)
    n = 0xFFFF
    ri = b"ri" + struct.pack("<H", n) + struct.pack("<I", lf) * n
    return _with_cell(buf, ri, nk + 0x1C)


def _endless_values(hive: bytes) -> bytes:
    """The SYSTEM hive with the Tcpip service's value list replaced by one of 20,001 entries
    that all name its first value."""
    buf = bytearray(hive)
    nk = buf.index(b"Tcpip") - 76
    assert buf[nk : nk + 2] == b"nk"
    (vl,) = struct.unpack_from("<I", buf, nk + 0x28)
    (first,) = struct.unpack_from("<I", buf, 4096 + vl + 4)
    n = 20_001
    struct.pack_into("<I", buf, nk + 0x24, n)
    return _with_cell(buf, struct.pack("<I", first) * n, nk + 0x28)


def _with_cell(buf: bytearray, data: bytes, pointer: int) -> bytes:
    """Append a hive bin holding one cell of ``data`` and point the dword at ``pointer`` to
    it; the base block's bin size and checksum follow."""
    start = len(buf) - 4096  # offsets are from the first bin
    cell = struct.pack("<i", -((4 + len(data) + 7) & ~7)) + data
    cell += b"\x00" * ((-len(cell)) % 8)
    size = (32 + len(cell) + 0xFFF) & ~0xFFF
    free = size - 32 - len(cell)
    tail = struct.pack("<i", free) + b"\x00" * (free - 4) if free else b""
    buf += b"hbin" + struct.pack("<IIIIQI", start, size, 0, 0, 0, 0) + cell + tail
    struct.pack_into("<I", buf, pointer, start + 32)
    struct.pack_into("<I", buf, 0x28, len(buf) - 4096)
    xsum = 0
    for i in range(0, 0x1FC, 4):
        xsum ^= struct.unpack_from("<I", buf, i)[0]
    struct.pack_into("<I", buf, 0x1FC, xsum)
    return bytes(buf)


def test_keys_with_endless_subkey_or_value_lists_are_cut_and_reported(tmp_path: Path) -> None:
    base = build_hive(system_hive_tree())
    roots = []
    for name, hive in (("PC1", _endless_services(base)), ("PC2", _endless_values(base))):
        config = tmp_path / name / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        (config / "SYSTEM").write_bytes(hive)
        roots.append(tmp_path / name)
    limits = HostLimits(max_subkeys_per_key=2_000)
    res = scan_host(roots, limits=limits)
    by_path = {n.path: n.reason for n in res.not_analysed}
    for root in roots:
        reason = by_path[str(root / "Windows" / "System32" / "config" / "SYSTEM")]
        assert reason.startswith("partly analysed: ")
        assert "keys list more than the per-key limits (2000 subkeys, 10000 values)" in reason
    status = {i.path: i.status for i in res.inputs if i.kind == "host-hive"}
    assert set(status.values()) == {"partial"}
    assert "1998 repeated service key(s) in the Services list ignored" in reasons_of(res, roots[0])
    # what was read within the limits is kept: the Duqu service (JmiNET3) of each hive, once
    found = [f for f in res.findings if f.detector == "DQ-HOST-006"]
    assert len(found) == 2 and all("JmiNET3" in f.title for f in found), found


def reasons_of(res: AnalysisResult, root: Path) -> str:
    return {n.path: n.reason for n in res.not_analysed}[
        str(root / "Windows" / "System32" / "config" / "SYSTEM")
    ]


def test_the_event_limit_is_named_in_the_reason(tmp_path: Path) -> None:
    files = _triage(tmp_path / "PC")
    res = scan_host([tmp_path / "PC"], limits=HostLimits(max_events_per_log=1))
    reasons = _partly(res)
    assert set(reasons) == {"Security.jsonl", "System.evtx"}
    assert reasons["Security.jsonl"] == ("partly analysed: more than 1 events, the rest not read")
    assert reasons["System.evtx"] == "partly analysed: more than 1 records, the rest not read"
    assert files
