"""DQ-HOST-002 (Duqu temp files), from its pack (content/host/duqu-host.yaml): ~DQ*.tmp is a
sign alone; ~DF*.tmp (Office writes them too) only together with another Duqu sign on the host.
Every pattern is checked on every host, whatever the earlier patterns found. Triage folders
built here with inert files."""

from __future__ import annotations

from pathlib import Path

from duqhunt.hostscan import scan_host


def _host(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def _temp(res: object) -> list[object]:
    return [f for f in res.findings if f.detector == "DQ-HOST-002"]  # type: ignore[attr-defined]


def test_df_files_with_another_sign_and_no_dq_files(tmp_path: Path) -> None:
    root = _host(
        tmp_path / "h",
        {
            "Windows/Temp/~DF1A2B.tmp": b"\x00" * 64,
            "Windows/System32/drivers/jminet7.sys": b"MZ" + b"\x00" * 62,  # a Duqu driver name
        },
    )
    found = _temp(scan_host([root]))
    assert len(found) == 1
    f = found[0]
    assert f.severity == "medium"  # type: ignore[attr-defined]
    assert "~df" in str(dict(f.details)).lower()  # type: ignore[attr-defined]


def test_dq_file_alone_is_high(tmp_path: Path) -> None:
    root = _host(tmp_path / "h", {"Windows/Temp/~DQ7.tmp": b"\x00" * 64})
    found = _temp(scan_host([root]))
    assert [f.severity for f in found] == ["high"]  # type: ignore[attr-defined]


def test_df_files_alone_are_office(tmp_path: Path) -> None:
    root = _host(tmp_path / "h", {"Windows/Temp/~DF1A2B.tmp": b"\x00" * 64})
    assert _temp(scan_host([root])) == []
