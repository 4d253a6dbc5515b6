"""A detector that raises costs only its own findings: the other detectors still run, the
failure is a warning and a "not analysed" entry naming the detector and the error, and the run
still writes its report with the exit code of a hunt that ran (0: README "Exit codes")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from duqhunt.cli.main import main
from duqhunt.detectors.base import HuntContext, NetworkDetector
from duqhunt.detectors.contract import ContextDetector, run_detectors
from duqhunt.detectors.host import host_detectors
from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.detectors.registry import all_detectors
from duqhunt.model import Finding

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = DATA / "zeek" / "401trg_psexec_equivalent"
HOST_DATA = DATA / "host"


class _Counts(ContextDetector[list[int]]):
    """Counts the numbers it is given. Misses: nothing. False positives: none."""

    id = "DQ-NET-990"
    title = "count"
    stage = "discovery"
    attack = ("T1046",)
    sources = ("conn",)

    def run(self, ctx: list[int]) -> list[Finding]:
        return [self.finding((n,), f"number {n}", "info", 0.5, (), None, None) for n in ctx]


class _Indexes(_Counts):
    """Reads the tenth number, which a short list lacks. Misses: all. False positives: none."""

    id = "DQ-NET-991"

    def run(self, ctx: list[int]) -> list[Finding]:
        return [self.finding((ctx[9],), "tenth", "info", 0.5, (), None, None)]


class _Buggy(_Counts):
    """Fails in a way no input explains. Misses: all. False positives: none."""

    id = "DQ-NET-992"

    def run(self, ctx: list[int]) -> list[Finding]:
        raise RuntimeError("a bug, not bad input")


def test_a_failing_detector_is_a_warning_and_a_not_analysed_entry() -> None:
    run = run_detectors([_Indexes(), _Counts()], [1, 2], (IndexError,))
    assert [f.title for f in run.findings] == ["number 1", "number 2"]  # the next one ran
    assert run.warnings == ["detector DQ-NET-991 failed: list index out of range"]
    (entry,) = run.not_analysed
    assert entry.path == "DQ-NET-991"
    assert entry.reason == (
        "detector failed, its findings are missing: IndexError: list index out of range"
    )
    assert set(run.seconds) == {"DQ-NET-991", "DQ-NET-990"}


def test_an_error_outside_the_expected_ones_propagates() -> None:
    with pytest.raises(RuntimeError, match="a bug"):
        run_detectors([_Counts(), _Buggy()], [1], (IndexError, ValueError))


class _BadSql(NetworkDetector):
    """Queries a column no log has. Misses: all. False positives: none."""

    id: ClassVar[str] = "DQ-NET-993"
    title: ClassVar[str] = "bad sql"
    stage: ClassVar[str] = "discovery"  # type: ignore[misc]
    attack: ClassVar[tuple[str, ...]] = ("T1046",)
    sources: ClassVar[tuple[str, ...]] = ("conn",)

    def run(self, ctx: HuntContext) -> list[Finding]:
        ctx.engine.query("SELECT no_such_column FROM conn")
        return []


def test_hunt_reports_the_failed_detector_and_exits_as_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duqhunt.hunt as hunt_mod

    monkeypatch.setattr(hunt_mod, "all_detectors", lambda: [_BadSql(), *all_detectors()])
    out = tmp_path / "out"
    assert main(["hunt", str(REAL), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    entries = [n for n in report["not_analysed"] if n["path"] == "DQ-NET-993"]
    assert len(entries) == 1, report["not_analysed"]
    assert entries[0]["reason"].startswith("detector failed, its findings are missing: ")
    assert "no_such_column" in entries[0]["reason"]
    assert any(w.startswith("detector DQ-NET-993 failed:") for w in report["warnings"])
    assert "DQ-NET-005" in {f["detector"] for f in report["findings"]}  # the hunt went on


class _NoService(HostDetector):
    """Looks up a service no host has. Misses: all. False positives: none."""

    id: ClassVar[str] = "DQ-HOST-993"
    title: ClassVar[str] = "no service"
    stage: ClassVar[str] = "installation"  # type: ignore[misc]
    attack: ClassVar[tuple[str, ...]] = ("T1543.003",)
    sources: ClassVar[tuple[str, ...]] = ("evtx",)

    def run(self, ctx: HostContext) -> list[Finding]:
        services = {e.get("ServiceName"): e for h in ctx.hosts for e in h.events}
        return [
            self.finding(("x",), str(services["no-such-service"]), "info", 0.5, "h", None, None)
        ]


def test_host_scan_reports_the_failed_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    import duqhunt.hostscan as hostscan

    monkeypatch.setattr(hostscan, "host_detectors", lambda: [_NoService(), *host_detectors()])
    res = hostscan.scan_host([HOST_DATA / "md_psexec_service_7045.evtx"])
    entries = [n for n in res.not_analysed if n.path == "DQ-HOST-993"]
    assert len(entries) == 1 and "KeyError: 'no-such-service'" in entries[0].reason
    assert any(f.detector == "DQ-HOST-010" for f in res.findings)  # the others ran
