"""The offline report's host page in a real browser (Debian's Chromium through Playwright): a
simulated campaign with host triage folders is hunted, report.html is opened from disk at
patient zero's page, and the page shows that one machine's name and address, its findings by
stage (beacons, lateral moves, implant files), its timeline and its neighbours, with no other
host page and no request leaving the file; then the strongest beacons' interval and size
histograms (inline SVG, styled by the page's own stylesheet). Screenshots go to
test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_web_browser import ARTIFACTS, BROWSER_ARGS, CHROMIUM, _need_browser

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.render import write_outputs
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.host import write_triage_folders


@contextmanager
def _offline_page(url: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """Chromium at `url`, with the console errors it logs and any request that is not the
    file itself (an offline report makes none)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    fetched: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request",
            lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
        )
        page.goto(url)
        try:
            yield page, errors, fetched
        finally:
            browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Any]:
    base = tmp_path_factory.mktemp("hostpage")
    truth = simulate(base / "zeek", seed=7, config=SimConfig(hosts=40, days=1.0), meta_dir=base)
    write_triage_folders(base / "host", truth, 7)
    out = base / "out"
    doc = hunt(
        HuntOptions(
            inputs=(base / "zeek", base / "host"),
            out=out,
            allowlists=(base / "known-good.yaml",),
            threads=2,
        )
    )
    write_outputs(doc, out)
    return out / "report.html", truth, doc


def test_the_host_page_of_patient_zero(report: tuple[Path, dict[str, Any], Any]) -> None:
    _need_browser()
    from playwright.sync_api import expect

    html, truth, doc = report
    pz = truth["patient_zero"]
    name = truth["hostnames"][pz]
    (machine,) = [h for h in doc.hosts if name in h.names]
    anchor = f"h-{machine.id}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _offline_page(html.as_uri() + "#" + anchor) as (page, errors, fetched):
        host = page.locator(f"#{anchor}")
        expect(host).to_be_visible()
        # the page alone: the other hosts' pages stay hidden until opened
        assert page.locator("section.hostpage:visible").count() == 1
        expect(host.locator("h2")).to_contain_text(name)
        expect(host.locator("dl.meta")).to_contain_text(pz)
        expect(host.locator("dl.meta")).to_contain_text("patient-zero")
        stages = host.locator("table.host-findings tbody th").all_inner_texts()
        for stage in ("installation", "lateral-movement", "command-and-control"):
            assert any(s.startswith(stage) for s in stages), (stage, stages)
        titles = host.locator("table.host-findings").inner_text()
        assert "beacons to" in titles and "jminet7.sys" in titles and f"{pz} ->" in titles
        timeline = host.locator("table.host-timeline tbody tr")
        assert timeline.count() >= 10
        sources = set(host.locator("table.host-timeline tbody td:nth-child(2)").all_inner_texts())
        assert {"host", "network"} <= sources
        expect(host.locator("ul.delays")).to_contain_text("installation \u2192 first C&C contact")
        neighbours = host.locator("ul.neighbours li")
        assert neighbours.count() >= 2
        host.screenshot(path=str(ARTIFACTS / "report-host-page.png"))
        # a neighbour's link opens that host's page in place of this one
        neighbours.locator("a").first.click()
        expect(host).to_be_hidden()
        assert page.locator("section.hostpage:visible").count() == 1
        page.goto(html.as_uri() + "#hosts")
        expect(page.locator("#hosts-index")).to_be_visible()
        page.locator("#hosts").screenshot(path=str(ARTIFACTS / "report-hosts.png"))
    assert errors == []
    assert fetched == []


def test_the_beacon_histograms(report: tuple[Path, dict[str, Any], Any]) -> None:
    """The strongest beacons' interval and size histograms: inline SVG styled by the page's
    own stylesheet (the CSP lets nothing else in), one bar per bin with its count on hover,
    drawn from report.json's campaign.beacons."""
    _need_browser()
    from playwright.sync_api import expect

    html, truth, doc = report
    shaped = [b for b in doc.campaign.beacons if b.interval_histogram is not None]
    assert 1 <= len(shaped) <= 5
    c2 = {c["ip"] for c in truth["c2"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _offline_page(html.as_uri() + "#beacon-shapes") as (page, errors, fetched):
        figures = page.locator("figure.shape")
        assert figures.count() == len(shaped)
        first = figures.first
        expect(first.locator("figcaption")).to_contain_text(
            f"{shaped[0].src} \u2192 {shaped[0].dst}"
        )
        charts = first.locator("svg.hist")
        assert charts.count() == 2
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80
        bars = charts.first.locator("rect.hb")
        assert bars.count() == len(shaped[0].interval_histogram.counts)  # type: ignore[union-attr]
        # styled by report.css: the CSP allowed the page's one stylesheet
        fill = bars.first.evaluate("e => getComputedStyle(e).fill")
        assert fill not in ("", "rgb(0, 0, 0)"), fill
        heights = [bars.nth(i).evaluate("e => e.getBBox().height") for i in range(bars.count())]
        tallest = heights.index(max(heights))
        counts = shaped[0].interval_histogram.counts  # type: ignore[union-attr]
        assert counts[tallest] == max(counts)
        assert f": {max(counts)} of {sum(counts)} gaps" in bars.nth(tallest).inner_html()
        assert any(b.dst in c2 for b in shaped), "a C&C of the simulation is shaped"
        page.locator("div.shapes").screenshot(path=str(ARTIFACTS / "report-beacon-shapes.png"))
    assert errors == []
    assert fetched == []
