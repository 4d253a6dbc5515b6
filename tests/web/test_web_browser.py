"""The web app in a real browser: Debian's Chromium, driven by Playwright, against `duqhunt
serve` running as its own process on loopback. Log in with the printed URL, filter, open a
host page, set a verdict, re-hunt the case while the page is open, see the new run and the
verdict kept. Screenshots go to test-artifacts/web/ (kept as test artefacts)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = (
    Path(
        os.environ.get("DUQHUNT_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
    )
    / "web"
)
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--proxy-server=127.0.0.1:9",  # nothing but the app itself: any other request fails
]


def _need_browser() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


@pytest.fixture
def served(fresh_case: tuple[Path, Path]) -> Iterator[tuple[str, Path, Path]]:
    """(url with token, logs, out) of `duqhunt serve` on a private copy of the case."""
    _need_browser()
    logs, out = fresh_case
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "duqhunt.cli.main",
            "serve",
            str(out),
            "--port",
            "0",
            "--analyst",
            "dana",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("open http"):
                url = line.split(" ", 1)[1].strip()
                break
        assert url, "duqhunt serve printed no URL"
        yield url, logs, out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_triage_in_the_browser_survives_a_rehunt(served: tuple[str, Path, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, logs, out = served
    base = url.split("/?", 1)[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        # without the token: nothing
        resp = page.goto(base + "/findings")
        assert resp is not None and resp.status == 401
        errors.clear()  # the 401 itself (and its favicon request) were expected
        # the printed URL logs in and drops the token from the address bar
        page.goto(url)
        assert "token=" not in page.url
        expect(page.locator("h2", has_text="Summary")).to_be_visible()
        expect(page.locator("#groups tbody tr").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)

        # filter the findings to high and above
        page.click("nav >> text=Findings")
        page.select_option("select[name=severity]", "high")
        page.click("#apply")
        # wait for the filtered page itself (the click only starts the navigation)
        page.wait_for_url("**/findings?severity=high*")
        badges = page.locator("#findings-table tbody tr td:first-child .badge")
        expect(badges.first).to_be_visible()
        assert badges.count() > 0
        assert set(badges.all_inner_texts()) <= {"HIGH", "CRITICAL", "high", "critical"}
        page.screenshot(path=str(ARTIFACTS / "findings-high.png"), full_page=True)

        # a host page from the first finding's host
        page.locator("#findings-table tbody tr").first.locator("td:nth-child(6) a").first.click()
        expect(page.locator("#host-id")).to_be_visible()
        host = page.locator("#host-id").inner_text()
        expect(page.locator("#host-timeline")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "host.png"), full_page=True)

        # a verdict on one of its findings
        page.locator("main ul li a").first.click()
        title = page.locator("#finding-title").inner_text()
        page.select_option("#triage-select", "confirmed")
        page.fill("#triage-note", "confirmed by dana: reimaged")
        page.click("#triage-save")
        expect(page.locator("#triage-status")).to_contain_text("confirmed")
        expect(page.locator("#triage-history")).to_contain_text("dana")
        finding_url = page.url
        page.screenshot(path=str(ARTIFACTS / "finding-confirmed.png"), full_page=True)

        # re-hunt the same case while the page is open (the app holds no lock on it)
        hunt = subprocess.run(
            [
                sys.executable,
                "-m",
                "duqhunt.cli.main",
                "--quiet",
                "hunt",
                str(logs),
                "--out",
                str(out),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert hunt.returncode == 0, hunt.stderr
        # the open page notices the new run (it polls /api/run every few seconds)
        expect(page.locator("#new-run")).to_be_visible(timeout=60_000)
        page.goto(finding_url)
        expect(page.locator("#finding-title")).to_have_text(title)
        expect(page.locator("#triage-status")).to_contain_text("confirmed")
        expect(page.locator("#triage-status")).to_contain_text("reimaged")
        page.goto(f"{base}/hosts/{host}")
        expect(page.locator("main")).to_contain_text("confirmed")
        page.screenshot(path=str(ARTIFACTS / "after-rehunt.png"), full_page=True)
        browser.close()
    assert not errors, errors
    report = (out / "report.json").read_text(encoding="utf-8")
    assert '"confirmed by dana: reimaged"' in report
