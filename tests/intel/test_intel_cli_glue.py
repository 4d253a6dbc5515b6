"""The intel CLI functions the lead wires into cli/main.py, run through argparse."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from intel_fixtures import sample_report

from duqhunt.intel.cli import add_intel_parser, render_intel_format, run_intel


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="duqhunt")
    sub = parser.add_subparsers(dest="command", required=True)
    add_intel_parser(sub)
    return run_intel(parser.parse_args(argv))


def test_intel_report_html_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "duqu.html"
    assert (
        _run(
            [
                "intel",
                "report",
                "--pack",
                "duqu-2011",
                "--lookup",
                "none",
                "--format",
                "html",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "Organization F" in out.read_text(encoding="utf-8")
    assert _run(["intel", "report", "--pack", "duqu-2011", "--lookup", "none"]) == 0
    assert "Organization A" in capsys.readouterr().out


def test_export_import_and_sightings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["intel", "export", "--format", "stix", "--builtin"]) == 0
    bundle = tmp_path / "b.json"
    bundle.write_text(capsys.readouterr().out, encoding="utf-8")
    pack_out = tmp_path / "p.yaml"
    assert _run(["intel", "import", str(bundle), "--out", str(pack_out)]) == 0
    assert "206.183.111.97" in pack_out.read_text(encoding="utf-8")
    csv_file = tmp_path / "s.csv"
    csv_file.write_text("ip,reporter,confirmed\n198.51.100.1,v,yes\n", encoding="utf-8")
    assert (
        _run(["intel", "add-sightings", str(csv_file), "--pack", str(tmp_path / "mine.yaml")]) == 0
    )
    assert "1 sightings" in capsys.readouterr().out


def test_report_formats() -> None:
    doc = sample_report()
    assert json.loads(render_intel_format(doc, "stix"))["type"] == "bundle"
    assert "Event" in json.loads(render_intel_format(doc, "misp"))
