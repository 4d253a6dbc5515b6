"""The web app's API and pages, through the real FastAPI application (in-process ASGI client):
authentication, CSRF, status codes, filters and paging, escaping, triage kept across hunts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_fixtures import TOKEN, finding

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import HostModel
from duqhunt.render import write_outputs
from duqhunt.triage import TriageStore, triage_path
from duqhunt.web.app import CSP, _mac, create_app
from duqhunt.web.case import CaseSource

LOOPBACK = "http://127.0.0.1:8765"


def client(out: Path, *, login: bool = True, analyst: str = "alice") -> TestClient:
    c = TestClient(create_app(CaseSource(out), TOKEN, analyst), base_url=LOOPBACK)
    if login:
        r = c.get(f"/?token={TOKEN}", follow_redirects=False)
        assert r.status_code == 303
    return c


def csrf() -> dict[str, str]:
    return {"X-CSRF-Token": _mac(TOKEN, "csrf")}


def test_every_page_file_and_api_call_needs_the_token(hunted_case: tuple[Path, Path]) -> None:
    _, out = hunted_case
    anon = client(out, login=False)
    for path in (
        "/",
        "/findings",
        "/hosts",
        "/topology",
        "/inputs",
        "/report.html",
        "/static/app.css",
        "/api/report",
        "/api/findings",
        "/api/run",
    ):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert "Content-Security-Policy" in r.headers
    assert anon.get("/api/findings", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anon.get("/?token=wrong", follow_redirects=False).status_code == 401
    assert anon.post("/api/findings/x/triage", json={"status": "benign"}).status_code == 401


def test_the_token_in_the_url_becomes_a_strict_httponly_cookie(
    hunted_case: tuple[Path, Path],
) -> None:
    _, out = hunted_case
    c = client(out, login=False)
    r = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert TOKEN.lower() not in cookie  # the cookie is derived from the token, not the token
    assert c.get("/").status_code == 200
    bearer = client(out, login=False)
    assert bearer.get("/api/run", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_state_changes_need_the_csrf_token_or_the_bearer(fresh_case: tuple[Path, Path]) -> None:
    _, out = fresh_case
    c = client(out)
    fid = c.get("/api/findings?per_page=1").json()["items"][0]["id"]
    body = {"status": "investigating", "note": "looking"}
    assert c.post(f"/api/findings/{fid}/triage", json=body).status_code == 403
    assert (
        c.post(
            f"/api/findings/{fid}/triage", json=body, headers={"X-CSRF-Token": "nope"}
        ).status_code
        == 403
    )
    assert c.post(f"/api/findings/{fid}/triage", json=body, headers=csrf()).status_code == 200
    bearer = client(out, login=False)
    assert (
        bearer.post(
            f"/api/findings/{fid}/triage", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 200
    )
    # the HTML form carries the CSRF token in a hidden field
    form = c.post(f"/findings/{fid}/triage", data={"status": "confirmed"}, follow_redirects=False)
    assert form.status_code == 403
    ok = c.post(
        f"/findings/{fid}/triage",
        data={"status": "confirmed", "note": "n", "csrf": _mac(TOKEN, "csrf")},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert [v.status for v in TriageStore.for_case(out / "case.duckdb").history(fid)] == [
        "investigating",
        "investigating",
        "confirmed",
    ]


def test_triage_api_status_codes_and_history(fresh_case: tuple[Path, Path]) -> None:
    _, out = fresh_case
    c = client(out, analyst="bob")
    fid = c.get("/api/findings?per_page=1").json()["items"][0]["id"]
    url = f"/api/findings/{fid}/triage"
    assert c.post(url, json={"status": "done"}, headers=csrf()).status_code == 400
    assert (
        c.post(url, json={"status": "benign", "note": "x" * 4001}, headers=csrf()).status_code
        == 400
    )
    assert c.post(url, content=b"not json", headers=csrf()).status_code == 400
    assert c.post(url, json=["benign"], headers=csrf()).status_code == 400
    assert (
        c.post(
            "/api/findings/DQ-NET-999-0/triage", json={"status": "benign"}, headers=csrf()
        ).status_code
        == 404
    )
    assert c.get("/api/findings/DQ-NET-999-0").status_code == 404
    assert c.get("/api/hosts/192.0.2.250").status_code == 404
    assert c.get("/findings/DQ-NET-999-0").status_code == 404
    assert c.get("/api/findings?severity=urgent").status_code == 400
    assert c.get("/api/findings?page=x").status_code == 400
    r = c.post(url, json={"status": "confirmed", "note": "WS reimaged"}, headers=csrf())
    assert r.status_code == 200
    assert r.json()["analyst"] == "bob" and r.json()["status"] == "confirmed"
    got = c.get(f"/api/findings/{fid}").json()
    assert got["triage"]["status"] == "confirmed" and got["triage"]["note"] == "WS reimaged"
    assert [h["status"] for h in got["history"]] == ["confirmed"]
    assert c.get("/api/findings?status=confirmed").json()["total"] == 1


def test_filters_sorting_and_server_side_paging_over_10000_findings(
    write_case: Callable[..., Path],
) -> None:
    out = write_case([finding(n) for n in range(10_000)])
    c = client(out)
    r = c.get("/api/findings?per_page=50").json()
    assert r["total"] == 10_000 and len(r["items"]) == 50 and r["pages"] == 200
    last = c.get("/api/findings?per_page=50&page=200").json()
    assert len(last["items"]) == 50
    assert c.get("/api/findings?per_page=100000").json()["per_page"] == 500
    high = c.get("/api/findings?severity=high&per_page=1").json()
    assert high["total"] == 5_000  # high and critical: half of the four severities
    crit = c.get("/api/findings?severity=critical&per_page=500").json()
    assert {f["severity"] for f in crit["items"]} == {"critical"} and crit["total"] == 2_500
    one = c.get("/api/findings?q=203.0.113.7%20every&per_page=500").json()
    assert one["total"] == 50 and all("203.0.113.7 " in f["title"] for f in one["items"])
    by_time = c.get("/api/findings?sort=time&order=asc&per_page=500").json()["items"]
    times = [f["first_seen"] for f in by_time]
    assert times == sorted(times)
    worst_first = c.get("/api/findings?per_page=3").json()["items"]
    assert [f["severity"] for f in worst_first] == ["critical"] * 3
    page = c.get("/findings?per_page=50&page=3")
    assert page.status_code == 200
    assert page.text.count("<tr data-id=") == 50 and "Page 3 of 200" in page.text


def test_every_string_from_evidence_is_escaped(write_case: Callable[..., Path]) -> None:
    evil = "<script>alert(1)</script>"
    host = '"><img src=x onerror=alert(2)>'
    out = write_case(
        [
            finding(
                1,
                title=f"beacon {evil}",
                hosts=[host],
                details={"dst": evil, "note": "\x1b]0;pwned\x07 \x1bc"},
            )
        ],
        hosts=[HostModel(ip="10.1.0.9", name=evil)],
    )
    c = client(out)
    fid = finding(1).id
    for path in ("/", "/findings", f"/findings/{fid}", "/hosts", "/topology", "/report.html"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, path
        assert "\x1b" not in r.text, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/findings/{fid}").text
    assert c.get("/").headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_only_loopback_host_names_are_answered(hunted_case: tuple[Path, Path]) -> None:
    _, out = hunted_case
    c = client(out)
    for host in ("evil.example:8765", "10.0.0.5:8765", "attacker.test"):
        assert c.get("/api/run", headers={"Host": host}).status_code == 421, host
    for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert c.get("/api/run", headers={"Host": host}).status_code == 200, host


def test_a_host_page_joins_its_name_and_its_address(write_case: Callable[..., Path]) -> None:
    out = write_case(
        [
            finding(1, hosts=["WS223"], title="driver on WS223"),
            finding(2, hosts=["10.1.0.232", "10.1.0.15"], title="lateral move from 10.1.0.232"),
            finding(3, hosts=["10.9.9.9"], title="unrelated"),
        ],
        hosts=[HostModel(ip="10.1.0.232", name="WS223", roles=["infected"])],
    )
    c = client(out)
    for hid in ("WS223", "10.1.0.232"):
        story = c.get(f"/api/hosts/{hid}").json()
        assert sorted(story["findings"]) == sorted([finding(1).id, finding(2).id]), hid
        assert set(story["aliases"]) == {"WS223", "10.1.0.232"}
        assert "10.1.0.15" in story["neighbours"]
    assert c.get("/api/findings?host=WS223").json()["total"] == 2
    page = c.get("/hosts/WS223").text
    assert "driver on WS223" in page and "lateral move from 10.1.0.232" in page
    assert "unrelated" not in page


def test_verdicts_survive_a_rehunt_and_benign_beacons_become_suppressed(
    fresh_case: tuple[Path, Path],
) -> None:
    logs, out = fresh_case
    c = client(out)
    before = json.loads((out / "report.json").read_text())
    # a beacon that is not a known indicator (an allow-list never hides a known IOC)
    beacon = next(
        f
        for f in before["findings"]
        if f["detector"] == "DQ-NET-002" and "known_ioc=0.0" in str(f["details"]["components"])
    )
    dst = beacon["details"]["dst"]
    bridge = next(f for f in before["findings"] if f["severity"] in ("high", "critical"))
    h = csrf()
    assert (
        c.post(
            f"/api/findings/{bridge['id']}/triage",
            json={"status": "confirmed", "note": "reimaged"},
            headers=h,
        ).status_code
        == 200
    )
    url = f"/api/findings/{beacon['id']}"
    assert c.post(f"{url}/allow", json={"reason": "r"}, headers=h).status_code == 409
    c.post(f"{url}/triage", json={"status": "benign", "note": "our licence server"}, headers=h)
    r = c.post(f"{url}/allow", json={"reason": "licence server"}, headers=h)
    assert r.status_code == 201 and r.json()["applies_to"] == "beacon"
    # the next hunt of the same case
    doc = hunt(HuntOptions(inputs=(logs,), out=out, threads=2))
    write_outputs(doc, out)
    after = json.loads((out / "report.json").read_text())
    kept = next(f for f in after["findings"] if f["id"] == bridge["id"])
    assert kept["triage"]["status"] == "confirmed" and kept["triage"]["note"] == "reimaged"
    assert kept["triage"]["analyst"] == "alice"
    assert not any(
        f["detector"] == "DQ-NET-002" and f["details"].get("dst") == dst for f in after["findings"]
    )
    assert after["stats"]["beacons_suppressed"] > before["stats"].get("beacons_suppressed", 0)
    assert triage_path(out / "case.duckdb").exists()


def test_report_hide_benign_leaves_benign_findings_out_and_says_so(
    fresh_case: tuple[Path, Path],
) -> None:
    _, out = fresh_case
    doc = json.loads((out / "report.json").read_text())
    target = doc["findings"][0]
    TriageStore.for_case(out / "case.duckdb").set(target["id"], "benign", "known", "carol")
    c = client(out)
    shown = c.get("/api/report").json()
    assert next(f for f in shown["findings"] if f["id"] == target["id"])["triage"]["status"] == (
        "benign"
    )
    # a saved report with verdicts re-renders without them when asked
    (out / "report.json").write_text(json.dumps(shown), encoding="utf-8")
    cmd = [sys.executable, "-m", "duqhunt.cli.main", "report", str(out / "report.json")]
    full = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    hidden = subprocess.run(
        [*cmd, "--hide-benign"], capture_output=True, text=True, check=True
    ).stdout
    assert "marked benign in triage not shown" in hidden
    assert "benign" in full and "not shown" not in full


def test_serve_listens_on_loopback_only_by_default(hunted_case: tuple[Path, Path]) -> None:
    psutil = pytest.importorskip("psutil")
    _, out = hunted_case
    proc = subprocess.Popen(
        [sys.executable, "-m", "duqhunt.cli.main", "serve", str(out), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        for _ in range(5):
            line = proc.stdout.readline()
            if "open http" in line:
                break
        assert line.startswith("open http://127.0.0.1:"), line
        port = int(line.split(":")[2].split("/")[0])
        listening = [
            c
            for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert [(c.laddr.ip, c.laddr.port) for c in listening] == [("127.0.0.1", port)]
        assert "token=" in line and len(line.split("token=")[1].strip()) >= 32
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port 70000"),
        (["--token", "short"], "at least 16"),
    ],
)
def test_serve_refuses_bad_options_clearly(
    hunted_case: tuple[Path, Path], args: list[str], message: str
) -> None:
    _, out = hunted_case
    r = subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", "serve", str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and message in r.stderr


def test_serve_of_something_that_is_not_a_case_is_a_usage_error(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", "serve", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "hunt it first" in r.stderr


def test_a_case_with_no_finished_hunt_answers_503_on_every_page(tmp_path: Path) -> None:
    from duqhunt.store import CaseStore

    out = tmp_path / "case"
    with CaseStore(out / "case.duckdb"):
        pass  # a case whose first hunt has not finished: no run, no report.json
    c = client(out)
    for path in ("/", "/findings", "/api/report", "/api/findings", "/api/run"):
        r = c.get(path)
        assert r.status_code == 503, path
        assert "no report to show yet" in r.text and "Content-Security-Policy" in r.headers
