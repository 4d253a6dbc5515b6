"""Sample similarity on real PE files (two releases each of two Python extension modules from
PyPI's Windows wheels) and on hostile ones built from them in code."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from duqhunt.similarity import analyse, to_document
from duqhunt.similarity.features import _norm, extract

PE = Path(__file__).resolve().parents[1] / "data" / "pe"
MS3, MS5 = PE / "markupsafe-2.1.3-_speedups.pyd", PE / "markupsafe-2.1.5-_speedups.pyd"
PS6, PS8 = PE / "psutil-5.9.6-_psutil_windows.pyd", PE / "psutil-5.9.8-_psutil_windows.pyd"


def _nearest(doc: dict[str, object], name: str) -> str:
    f = next(f for f in doc["files"] if Path(f["path"]).name == name)  # type: ignore[attr-defined]
    return Path(f["nearest"]["path"]).name


def test_each_module_is_nearest_to_its_other_release() -> None:
    doc = to_document(analyse([PE], builtin_refs=False, jobs=1))
    assert _nearest(doc, MS3.name) == MS5.name and _nearest(doc, MS5.name) == MS3.name
    assert _nearest(doc, PS6.name) == PS8.name and _nearest(doc, PS8.name) == PS6.name
    families = sorted(sorted(Path(m).name for m in c["members"]) for c in doc["clusters"])
    assert families == [sorted([MS3.name, MS5.name]), sorted([PS6.name, PS8.name])]
    # no cross-module pair reaches a family
    for p in doc["pairs"]:
        a, b = Path(p["a"]).name.split("-")[0], Path(p["b"]).name.split("-")[0]
        if a != b:
            assert p["score"] < 0.5, p


def test_code_layer_recovers_functions_from_the_x64_exception_table() -> None:
    f = extract(PS8)
    assert f.machine == "x64" and f.code_method == "pdata"
    assert len(f.functions) > 150 and f.not_comparable is None
    assert f.imphash and f.tlsh and f.ssdeep and f.rich_hash


def _renamed_copy(src: Path, dst: Path, salt: int) -> None:
    """A "recompiled" copy: another timestamp and a few changed bytes in the data sections."""
    data = bytearray(src.read_bytes())
    pe_off = struct.unpack_from("<I", data, 0x3C)[0]
    struct.pack_into("<I", data, pe_off + 8, 0x4E6F0000 + salt)  # TimeDateStamp
    for k in range(8):
        data[len(data) - 200 - 37 * k - salt] ^= 0x5A
    dst.write_bytes(bytes(data))


def test_renamed_copies_of_one_driver_are_one_family(tmp_path: Path) -> None:
    names = ["jminet7.sys", "cmi4432.sys", "nfred965.sys", "adpu321.sys", "iaStor451.sys"]
    for k, n in enumerate(names):
        _renamed_copy(PS6, tmp_path / n, k + 1)
    shutil.copy(MS3, tmp_path / "unrelated.dll")
    doc = to_document(analyse([tmp_path], builtin_refs=False, jobs=1))
    assert len(doc["clusters"]) == 1
    family = doc["clusters"][0]
    assert sorted(family["names"]) == sorted(names)
    assert family["summary"].startswith("one family of 5 files under 5 name(s)")
    assert family["shares"]["imphash"] == extract(PS6).imphash
    pair = next(p for p in doc["pairs"] if {Path(p["a"]).name, Path(p["b"]).name} <= set(names))
    assert pair["shared_functions"] and pair["shared_functions"][0]["a_rva"].startswith("0x")
    assert any("code" in b for b in pair["basis"])


def test_normalised_instructions_mask_addresses_immediates_and_registers() -> None:
    assert _norm("mov", "eax, 0x10") == _norm("mov", "rcx, 0x2000") == "mov R,I"
    assert _norm("call", "0x140001230") == _norm("call", "0x180004000") == "call I"
    assert _norm("lea", "rdx, [rip + 0x1f3a]") == _norm("lea", "r8, [rsp + 0x20]") == "lea R,M"
    assert _norm("mov", "eax, 0x10") != _norm("add", "eax, 0x10")
    assert _norm("mov", "eax, ebx") != _norm("mov", "eax, 5")


def test_reference_pack_and_reference_samples(tmp_path: Path) -> None:
    md5 = hashlib.md5(PS8.read_bytes(), usedforsecurity=False).hexdigest()
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "name: test\nfamilies:\n  - name: ExampleFamily\n    source: 'a test'\n"
        f"    confidence: 0.9\n    md5: [{md5}]\n",
        encoding="utf-8",
    )
    refs = tmp_path / "refs" / "PsutilFamily"
    refs.mkdir(parents=True)
    shutil.copy(PS6, refs / "sample.bin")
    doc = to_document(
        analyse([PS8, MS3], refs=[pack, tmp_path / "refs"], builtin_refs=False, jobs=1)
    )
    by = {(Path(m["file"]).name, m["family"]): m for m in doc["matches"]}
    exact = by[(PS8.name, "ExampleFamily")]
    assert exact["score"] == 1.0 and exact["basis"] == ["exact file hash"]
    assert exact["source"] == "a test"
    assert (PS8.name, "PsutilFamily") in by
    assert not any(Path(m["file"]).name == MS3.name for m in doc["matches"])


def test_builtin_pack_names_its_source() -> None:
    from duqhunt.similarity import builtin_ref_packs

    packs = builtin_ref_packs()
    assert packs and all(f.source and 0 < f.confidence <= 1 for p in packs for f in p.families)
    assert all(len(h) == 32 for p in packs for f in p.families for h in f.md5)


def _set_machine(data: bytearray, machine: int) -> None:
    pe_off = struct.unpack_from("<I", data, 0x3C)[0]
    struct.pack_into("<H", data, pe_off + 4, machine)


def test_hostile_and_odd_files_are_reported_not_crashed(tmp_path: Path) -> None:
    raw = PS8.read_bytes()
    (tmp_path / "truncated.dll").write_bytes(raw[:700])
    arm = bytearray(raw)
    _set_machine(arm, 0xAA64)
    (tmp_path / "arm64.dll").write_bytes(bytes(arm))
    (tmp_path / "notpe.exe").write_bytes(b"MZ" + b"\x00" * 10)
    many = bytearray(raw)
    pe_off = struct.unpack_from("<I", many, 0x3C)[0]
    struct.pack_into("<H", many, pe_off + 6, 0xFFFF)  # NumberOfSections
    (tmp_path / "sections.dll").write_bytes(bytes(many))
    (tmp_path / "readme.txt").write_text("not a PE file", encoding="utf-8")
    res = analyse([tmp_path], builtin_refs=False, jobs=1)
    doc = to_document(res)
    reasons = {Path(n["path"]).name: n["reason"] for n in doc["not_analysed"]}
    files = {Path(f["path"]).name: f for f in doc["files"]}
    assert "notpe.exe" in reasons and "not a PE file" in reasons["notpe.exe"]
    assert "readme.txt" not in reasons and "readme.txt" not in files  # no MZ: not a sample
    assert files["arm64.dll"]["not_comparable"] == "machine arm64 is not x86 or x64"
    assert files["arm64.dll"]["tlsh"]  # its whole-file hashes still count
    assert "truncated.dll" in reasons or files["truncated.dll"]["functions"] == 0
    assert any("not comparable by code" in w for w in doc["warnings"])


def test_cli_writes_json_and_an_escaped_offline_html(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(MS3, inputs / "<img src=x onerror=alert(1)>.dll")
    shutil.copy(MS5, inputs / "b.dll")
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", "similar", str(inputs), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    assert {"files", "pairs", "clusters", "matches", "not_analysed"} <= set(doc)
    assert doc["pairs"][0]["score"] >= 0.9
    html = (out / "similarity.html").read_text(encoding="utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Content-Security-Policy" in html and "<script" not in html.split("<body", 1)[1]
    assert "one family of 2 files" in r.stdout


def test_a_folder_with_no_pe_file_exits_1(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "duqhunt.cli.main",
            "similar",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "no PE file" in r.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_do_not_depend_on_the_worker_count(jobs: int) -> None:
    doc = to_document(analyse([PE], builtin_refs=False, jobs=jobs))
    assert [(Path(p["a"]).name, Path(p["b"]).name, p["score"]) for p in doc["pairs"]] == [
        (Path(p["a"]).name, Path(p["b"]).name, p["score"])
        for p in to_document(analyse([PE], builtin_refs=False, jobs=1))["pairs"]
    ]


def test_a_host_triage_groups_renamed_copies_of_one_driver(tmp_path: Path) -> None:
    from duqhunt.hostscan import scan_host

    names = {"WS101": "jminet7.sys", "WS102": "cmi4432.sys", "WS103": "nfred965.sys"}
    roots = []
    for k, (host, name) in enumerate(sorted(names.items())):
        drivers = tmp_path / host / "Windows" / "System32" / "drivers"
        drivers.mkdir(parents=True)
        _renamed_copy(PS6, drivers / name, k + 1)
        shutil.copy(MS3, drivers / "common.sys")  # the same file under one name everywhere
        roots.append(tmp_path / host)
    res = scan_host(roots)
    fams = [f for f in res.findings if f.detector == "DQ-HOST-014"]
    assert len(fams) == 1, [f.title for f in fams]
    fam = fams[0]
    assert fam.title == "One driver family on 3 hosts under 3 names"
    assert set(fam.hosts) == set(names) and fam.severity == "high"
    details = dict(fam.details)
    assert details["names"] == ", ".join(sorted(names.values()))
    assert details["files"] == 3


def test_a_dotnet_assembly_is_not_comparable_by_code_but_keeps_its_hashes(
    tmp_path: Path,
) -> None:
    """The CLR runtime header (data directory 14) marks a .NET assembly: its IL is not
    disassembled, its whole-file hashes still count."""
    data = bytearray(PS8.read_bytes())
    pe_off = struct.unpack_from("<I", data, 0x3C)[0]
    magic = struct.unpack_from("<H", data, pe_off + 24)[0]
    dirs = pe_off + 24 + (112 if magic == 0x20B else 96)  # PE32+ / PE32 data directories
    struct.pack_into("<II", data, dirs + 14 * 8, 0x2000, 0x48)
    (tmp_path / "managed.dll").write_bytes(bytes(data))
    f = extract(tmp_path / "managed.dll")
    assert f.not_comparable == ".NET assembly (IL code is not disassembled)"
    assert not f.functions and f.tlsh and f.imphash
