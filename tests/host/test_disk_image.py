"""A real raw disk image read through dissect.target (the optional ``image`` extra), end to end.

The image is a FAT volume built without mounting (mkfs.vfat + mcopy from dosfstools and
mtools) holding the synthetic Windows layout of an infected host; dissect.target reads FAT
through dissect.fat. Skipped when any of these is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from duqhunt.hostscan import HostScanResult, scan_host
from duqhunt.simulate.host import write_triage_folders

pytest.importorskip("dissect.target", reason="the optional 'image' extra (dissect.target)")
pytest.importorskip("dissect.fat", reason="dissect.fat reads the FAT test image")

T0 = 1318560431.0
TRUTH = {
    "window": [1318550400.0, 1318593600.0],
    "infected": ["10.1.0.29"],
    "lateral_moves": [
        {
            "src": "10.1.0.16",
            "dst": "10.1.0.29",
            "time": T0,
            "method": "service",
            "share": "ADMIN$",
            "file": "system32\\drivers\\jminet7.sys",
            "account": "CORP\\adm_jsmith",
        },
    ],
}


def _fat_image(folder: Path, img: Path) -> None:
    tools = ("mkfs.vfat", "mcopy")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt packages dosfstools, mtools)")
    env = {**os.environ, "TZ": "UTC", "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(["mkfs.vfat", "-C", str(img), "16384"], check=True, capture_output=True)
    srcs = [str(p) for p in sorted(folder.iterdir())]
    subprocess.run(
        ["mcopy", "-s", "-m", "-i", str(img), *srcs, "::/"],
        check=True,
        capture_output=True,
        env=env,
    )


def _key(res: HostScanResult) -> set[tuple[str, str, str]]:
    return {(f.detector, f.severity, f.title.lower()) for f in res.findings}


def test_raw_image_gives_the_folder_findings(tmp_path: Path) -> None:
    folder = write_triage_folders(tmp_path / "triage", TRUTH, seed=7)[0]
    img = tmp_path / "disk.raw"
    _fat_image(folder, img)

    direct = scan_host([folder])
    res = scan_host([img])

    assert not res.not_analysed, res.not_analysed
    assert any(i.kind == "host-image" and i.status == "analysed" for i in res.inputs)
    assert res.findings and _key(res) == _key(direct)
    assert all(f.hosts == ("WS-10-1-0-29",) for f in res.findings)
    # FAT keeps 8.3 names in upper case, so compare the paths case-insensitively
    pnf = {
        str(dict(f.details)["file"]).lower(): f for f in res.findings if f.detector == "DQ-HOST-001"
    }
    assert pnf["windows\\inf\\netp191.pnf"].severity == "critical"
    assert "windows\\inf\\usbstor.pnf" not in pnf
    temp = {dict(f.details)["pattern"]: f for f in res.findings if f.detector == "DQ-HOST-002"}
    assert temp["~dq*.tmp"].severity == "high"
    svc = {dict(f.details)["service"] for f in res.findings if f.detector == "DQ-HOST-006"}
    assert "JmiNET3" in svc
    kinds = {t["kind"] for t in res.timeline}
    assert {"pnf", "driver", "temp-file"} <= kinds
    # the copies are gone after the run: everything names the image and the path inside it
    sources = {e.source for f in res.findings for e in f.evidence}
    sources |= {str(t["source"]) for t in res.timeline} | {i.path for i in res.inputs}
    assert all(s.startswith(str(img)) for s in sources), sources
    assert f"{img}::Windows/Temp/~DQ" in " ".join(sources).replace("~dq", "~DQ")
    stats = dict(res.stats)
    assert stats["host_files"] == dict(direct.stats)["host_files"]


def test_image_without_a_windows_volume_is_listed(tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "readme.txt").write_text("hello\n")
    img = tmp_path / "empty.img"
    _fat_image(folder, img)
    res = scan_host([img])
    assert not res.findings
    assert res.not_analysed and "no Windows volume" in res.not_analysed[0].reason
