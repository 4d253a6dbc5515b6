"""Real raw disk images read through dissect.target (the optional ``image`` extra), end to end.

The images hold the synthetic Windows layout of an infected host (a JMicron-posing driver under
Windows/System32/drivers, an encrypted-looking .PNF under Windows/inf, ~DQ temp files, a SYSTEM
export with the JmiNET3 service, a Security event export) and are built without mounting: a FAT
volume with mkfs.vfat + mcopy (dosfstools, mtools), read through dissect.fat; an NTFS volume
with mkntfs + ntfscp (ntfs-3g), read through dissect.ntfs. dissect.target finds Windows on the
NTFS volume (the system-volume path of hostscan) but not on the FAT one (the any-volume-with-a-
Windows-folder path). Skipped with the reason when a tool or module is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from host_builders import TRUTH, fat_image, job_bytes, ntfs_grow, ntfs_image

from duqhunt.analysis import AnalysisResult
from duqhunt.hostscan import HostLimits, scan_host
from duqhunt.simulate.host import write_triage_folders

pytest.importorskip("dissect.target", reason="the optional 'image' extra (dissect.target)")

_READERS = {"fat": "dissect.fat", "ntfs": "dissect.ntfs"}


def _image(fs: str, folder: Path, img: Path) -> None:
    pytest.importorskip(_READERS[fs], reason=f"{_READERS[fs]} reads the {fs.upper()} test image")
    (fat_image if fs == "fat" else ntfs_image)(folder, img)


def _key(res: AnalysisResult) -> set[tuple[str, str, str]]:
    return {(f.detector, f.severity, f.title.lower()) for f in res.findings}


@pytest.mark.parametrize("fs", ["fat", "ntfs"])
def test_raw_image_gives_the_folder_findings(fs: str, tmp_path: Path) -> None:
    folder = write_triage_folders(tmp_path / "triage", TRUTH, seed=7)[0]
    img = tmp_path / "disk.raw"
    _image(fs, folder, img)

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
    vendor = [f for f in res.findings if f.detector == "DQ-HOST-003"]
    assert vendor and dict(vendor[0].details)["vendor"] == "JMicron"
    kinds = {t["kind"] for t in res.timeline}
    assert {"pnf", "driver", "temp-file"} <= kinds
    # the copies are gone after the run: everything names the image and the path inside it
    sources = {e.source for f in res.findings for e in f.evidence}
    sources |= {str(t["source"]) for t in res.timeline} | {i.path for i in res.inputs}
    assert all(s.startswith(str(img)) for s in sources), sources
    assert f"{img}::Windows/Temp/~DQ" in " ".join(sources).replace("~dq", "~DQ")
    stats = dict(res.stats)
    assert stats["host_files"] == dict(direct.stats)["host_files"]
    if fs == "ntfs":  # NTFS keeps the names' case and the files' modification times
        assert "Windows\\inf\\netp191.pnf" in {
            dict(f.details)["file"] for f in res.findings if f.detector == "DQ-HOST-001"
        }
        direct_times = {(t["kind"], t["what"], t["time"]) for t in direct.timeline}
        assert {(t["kind"], t["what"], t["time"]) for t in res.timeline} == direct_times


@pytest.mark.parametrize("fs", ["fat", "ntfs"])
def test_image_without_a_windows_volume_is_listed(fs: str, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "readme.txt").write_text("hello\n")
    img = tmp_path / "empty.img"
    _image(fs, folder, img)
    res = scan_host([img])
    assert not res.findings
    assert res.not_analysed and "no Windows volume" in res.not_analysed[0].reason


def test_files_above_the_limits_are_copied_in_part(tmp_path: Path) -> None:
    """A file larger than its analyser reads is copied as its head plus a hole: the findings
    and the files refused for their size are those of the folder under the same limits, and a
    ~DQ file that claims 3 GB (more than any limit) is still named by its pattern."""
    folder = write_triage_folders(tmp_path / "triage", TRUTH, seed=7)[0]
    img = tmp_path / "disk.raw"
    _image("ntfs", folder, img)
    (dq,) = (folder / "Windows" / "Temp").glob("~DQ*.tmp")
    ntfs_grow(img, "/Windows/Temp", dq.name, 3_000_000_000)
    limits = HostLimits(max_pe_bytes=1024, max_yara_bytes=1024, entropy_sample_bytes=512)

    direct = scan_host([folder], limits=limits)
    res = scan_host([img], limits=limits)

    assert _key(res) == _key(direct)
    pnf = {dict(f.details)["file"] for f in res.findings if f.detector == "DQ-HOST-001"}
    assert "Windows\\inf\\netp191.pnf" in pnf  # 24 kB: its first 512 bytes are sampled
    temp = {dict(f.details)["pattern"]: f for f in res.findings if f.detector == "DQ-HOST-002"}
    assert temp["~dq*.tmp"].severity == "high"

    def refused(r: AnalysisResult, prefix: str) -> set[tuple[str, str]]:
        return {(n.path.removeprefix(prefix), n.reason) for n in r.not_analysed}

    assert refused(res, f"{img}::") == refused(direct, f"{folder}/")
    assert ("Windows/System32/drivers/jminet7.sys", "larger than 1024 bytes, not parsed") in (
        refused(res, f"{img}::")
    )


def test_an_image_reader_past_its_cpu_limit_is_stopped_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    """dissect.target opens the image and copies its artefacts out in a worker process under
    a hard CPU-time limit per image (its parsers have no budget of their own): past it the
    worker is killed, the image is not analysed with the reason, nothing copied out of it is
    scanned, and the other inputs are. Outcomes only: opening this NTFS image and copying its
    files out takes some 0.12 s of CPU even with dissect already loaded (over two seconds
    when the worker loads it), twelve times the 0.01 s limit set here."""
    folder = write_triage_folders(tmp_path / "triage", TRUTH, seed=7)[0]
    img = tmp_path / "disk.raw"
    _image("ntfs", folder, img)
    job = tmp_path / "At1.job"
    job.write_bytes(job_bytes("C:\\Windows\\system32\\cmd.exe", "/c ver", "EXAMPLE\\admin"))

    res = scan_host([img, job], limits=HostLimits(hard_seconds_per_image=0.01))

    want = (
        "not analysed: exceeded the hard limit of 0.01 s of CPU time; the image reader was stopped"
    )
    assert [(n.path, n.reason) for n in res.not_analysed] == [(str(img), want)]
    assert {(i.path, i.kind, i.status) for i in res.inputs} == {
        (str(img), "host-image", "not-analysed"),
        (str(job), "host-job", "analysed"),
    }
    assert f"{img}: {want}" in res.warnings
    assert dict(res.stats)["host_files"] == 1  # the .job alone
    assert not any(e.source.startswith(str(img)) for f in res.findings for e in f.evidence)
