"""The intelligence report page renders in a real browser with no network: headless Chromium,
every request pointed at a closed local port, takes a screenshot of the map page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from duqhunt.intel import intel_report, render_intel_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_intel_report_page_renders_offline(tmp_path: Path) -> None:
    page = tmp_path / "duqu-2011.html"
    html = render_intel_html(intel_report("duqu-2011"))
    assert (
        "http://" not in html.replace("http://www.w3.org", "")
        and "https://" not in html.split("<body", 1)[0]
    )
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--proxy-server=127.0.0.1:9",  # any request would fail: the page needs none
                f"--screenshot={shot}",
                "--window-size=1200,900",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert shot.exists(), proc.stderr.decode("utf-8", "replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank page compresses to a few KB; a drawn map with a table does not
    assert len(data) > 30_000, len(data)
