"""`make demo` as a new user sees it: the simulated campaign (seed 7) hunted by the CLI. Its
summary holds at most 40 groups, the bridge and the C&C are on the terminal's first screen
(24 lines at 80 columns), the same artefact on 11 hosts is one group, and report.html shows the
grouped summary first (headless Chromium, screenshot kept in test-artifacts/web/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from duqhunt.model.finding import severity_rank
from duqhunt.model.grouping import KILL_CHAIN_ORDER

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = (
    Path(
        os.environ.get("DUQHUNT_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
    )
    / "web"
)
FIRST_SCREEN = 24
BRIDGE = "10.1.0.15 bridges 6 no-egress host(s) to"
C2 = "206.183.111.97"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, Any]]:
    """(terminal output at 80 columns, report folder, report.json) of the Makefile's demo."""
    root = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "COLUMNS": "80", "LINES": "24", "NO_COLOR": "1", "TERM": "dumb"}
    sim = root / "sim"
    made = _cli("simulate", "--out", str(sim), "--seed", "7", env=env)
    assert made.returncode == 0, made.stderr
    out = root / "report"
    ran = _cli(
        "hunt",
        str(sim / "zeek"),
        str(sim / "host"),
        str(sim / "mail"),
        "--out",
        str(out),
        "--allow",
        str(sim / "known-good.yaml"),
        "--no-progress",
        env=env,
    )
    assert ran.returncode in (0, 1), ran.stderr  # 1: findings were reported
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return ran.stdout, out, report


def test_the_demo_summary_has_at_most_40_groups_covering_every_finding(
    demo: tuple[str, Path, dict[str, Any]],
) -> None:
    _, _, report = demo
    groups = report["summary"]["groups"]
    assert 1 <= len(groups) <= 40
    listed = [i for g in groups for i in g["finding_ids"]]
    assert sorted(listed) == sorted(f["id"] for f in report["findings"])
    # one detector, one severity, one stage per group
    by_id = {f["id"]: f for f in report["findings"]}
    for g in groups:
        members = [by_id[i] for i in g["finding_ids"]]
        assert {(m["detector"], m["severity"], m["stage"]) for m in members} == {
            (g["detector"], g["severity"], g["stage"])
        }
        assert set(g["hosts"]) == {h for m in members for h in m["hosts"]}
    ranks = [(-severity_rank(g["severity"]), KILL_CHAIN_ORDER.index(g["stage"])) for g in groups]
    assert ranks == sorted(ranks)


def test_the_implant_on_eleven_hosts_is_one_group(demo: tuple[str, Path, dict[str, Any]]) -> None:
    _, _, report = demo
    services = [
        g
        for g in report["summary"]["groups"]
        if g["detector"] == "DQ-HOST-006" and g["severity"] == "critical"
    ]
    assert len(services) == 1
    assert len(services[0]["hosts"]) == len(services[0]["finding_ids"]) == 11


def test_the_bridge_and_the_cnc_are_on_the_first_screen(
    demo: tuple[str, Path, dict[str, Any]],
) -> None:
    stdout, _, report = demo
    lines = stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    first = "\n".join(lines[:FIRST_SCREEN])
    assert BRIDGE in first, first
    # a command-and-control group naming the known C&C, not only the bridge's line
    groups = report["summary"]["groups"]
    cnc = [g for g in groups if g["stage"] == "command-and-control" and C2 in g["title"]]
    assert cnc
    cnc_lines = [i for i, line in enumerate(lines[:FIRST_SCREEN]) if C2 in line]
    bridge_line = next(i for i, line in enumerate(lines) if BRIDGE in line)
    assert [i for i in cnc_lines if i > bridge_line + 1], first
    # the groups come before every other table
    assert first.index("group(s) of") < first.index(BRIDGE)
    assert "Command and control" not in first


def test_report_html_shows_the_grouped_summary_first(
    demo: tuple[str, Path, dict[str, Any]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install chromium): this test needs it")
    _, out, report = demo
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "report.html").as_uri())
        rows = page.locator("#groups-index tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() == len(report["summary"]["groups"])
        # the first section after the header is the groups; the bridge is its first row
        sections = page.locator("section").evaluate_all("s => s.map(x => x.id)")
        assert sections[0] == "groups"
        assert BRIDGE in rows.first.inner_text()
        page.locator("#groups").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "report-groups.png"), full_page=False)
        box = rows.first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900
        # a group's title leads to its strongest finding in the same page
        rows.first.locator("a").first.click()
        expect(page.locator("article.finding:target")).to_contain_text(BRIDGE)
        browser.close()
    assert not errors, errors
