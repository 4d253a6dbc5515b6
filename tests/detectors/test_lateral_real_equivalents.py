"""Lateral movement on the Zeek-log equivalents of two real captures (401trg, Apache-2.0):
PsExec to a DC must be one move; the read-only copy must be none."""

from __future__ import annotations

from pathlib import Path

from duqhunt.hunt import HuntOptions, hunt

DATA = Path(__file__).resolve().parents[1] / "data" / "zeek"


def test_psexec_is_an_admin_share_write_and_service_creation(tmp_path: Path) -> None:
    doc = hunt(HuntOptions(inputs=(DATA / "401trg_psexec_equivalent",), out=tmp_path, threads=2))
    moves = doc.campaign.lateral_moves
    assert len(moves) == 1
    m = moves[0]
    assert (m["src"], m["dst"], m["share"], m["file"], m["method"]) == (
        "192.168.10.31",
        "192.168.10.10",
        "ADMIN$",
        "PSEXESVC.exe",
        "service",
    )
    f = [x for x in doc.findings if x.detector == "DQ-NET-005"]
    assert len(f) == 1 and f[0].severity == "high"
    assert {"T1021.002", "T1570", "T1543.003"} <= set(f[0].attack)
    assert "CreateServiceWOW64W" in " ".join(e.summary for e in f[0].evidence)


def test_read_from_admin_share_is_not_a_write(tmp_path: Path) -> None:
    doc = hunt(
        HuntOptions(inputs=(DATA / "401trg_mimikatz_read_equivalent",), out=tmp_path, threads=2)
    )
    assert doc.campaign.lateral_moves == []
    assert not [f for f in doc.findings if f.detector == "DQ-NET-005"]
