"""Each network detector on small hand-built Zeek logs: it fires on what it names and stays
quiet on the look-alikes."""

from __future__ import annotations

import random
from pathlib import Path

from duqhunt.sources.net.zeek_writer import write_zeek_tsv

T0 = 1318550400.0  # 2011-10-14
DAY = 86400.0
DUQU_UA = (
    "Mozilla/5.0 (Windows; U; Windows NT 6.0; en-US; rv:1.9.2.9) Gecko/20100824 "
    "Firefox/3.6.9 (.NET CLR 3.5.30729)"
)
MODERN_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
)


def _conn(
    ts: float, src: str, dst: str, port: int, proto: str = "tcp", out: int = 400, uid: str = ""
) -> dict[str, object]:
    return {
        "ts": ts,
        "uid": uid or f"C{int(ts * 1000) % 10**12:x}{src[-1]}{dst[-1]}",
        "id.orig_h": src,
        "id.orig_p": 49152 + int(ts) % 10000,
        "id.resp_h": dst,
        "id.resp_p": port,
        "proto": proto,
        "duration": 0.4,
        "orig_bytes": out,
        "resp_bytes": 900,
        "conn_state": "SF",
        "orig_pkts": 5,
        "orig_ip_bytes": out + 200,
        "resp_pkts": 5,
        "resp_ip_bytes": 1100,
        "history": "ShADadFf",
    }


def _beacon_times(
    rng: random.Random,
    start: float,
    end: float,
    interval: float,
    jitter: float = 0.2,
    retries: bool = False,
) -> list[float]:
    out, t = [], start
    while t < end:
        out.append(t)
        if retries and rng.random() < 0.15:
            out.append(t + 1.0)
        t += interval * (1 + rng.uniform(-jitter, jitter))
    return out


def build_enterprise(
    folder: Path,
    *,
    c2: str | None = "206.183.111.97",
    new_c2: str | None = None,
    retries: bool = True,
    seed: int = 1,
    extra_http: list[dict[str, object]] | None = None,
) -> None:
    """Background browsing from 40 hosts, NTP to an external pool, and optionally a Duqu-style
    beacon (HTTP POST / with a JPEG part, the Duqu UA) from 10.1.0.5 to ``c2``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    conn: list[dict[str, object]] = []
    http: list[dict[str, object]] = []
    sites = [f"93.184.{i}.{j}" for i in range(2) for j in range(1, 60)]
    for h in range(40):
        src = f"10.1.0.{10 + h}"
        for day in range(2):
            for _ in range(rng.randint(20, 60)):
                ts = T0 + day * DAY + rng.uniform(8, 18) * 3600
                dst = rng.choice(sites)
                uid = f"B{h}x{day}x{len(conn)}"
                conn.append(_conn(ts, src, dst, 80, out=rng.randint(200, 3000), uid=uid))
                http.append(
                    {
                        "ts": ts,
                        "uid": uid,
                        "id.orig_h": src,
                        "id.orig_p": 50000,
                        "id.resp_h": dst,
                        "id.resp_p": 80,
                        "method": "GET",
                        "host": f"site{dst.split('.')[-1]}.example.com",
                        "uri": "/index.html",
                        "user_agent": MODERN_UA,
                        "request_body_len": 0,
                        "status_code": 200,
                    }
                )
    for src in ("10.1.0.2", "10.1.0.3", "10.1.0.4"):
        t = T0 + rng.uniform(0, 100)
        while t < T0 + 2 * DAY:
            conn.append(_conn(t, src, "198.51.100.123", 123, proto="udp", out=48))
            t += 1024.0

    def duqu_beacon(src: str, dst: str, start: float, interval: float) -> None:
        for i, ts in enumerate(_beacon_times(rng, start, T0 + 2 * DAY, interval, retries=retries)):
            uid = f"D{dst[-2:]}{src[-1]}{i}"
            conn.append(_conn(ts, src, dst, 80, out=rng.randint(2000, 2600), uid=uid))
            http.append(
                {
                    "ts": ts,
                    "uid": uid,
                    "id.orig_h": src,
                    "id.orig_p": 50001,
                    "id.resp_h": dst,
                    "id.resp_p": 80,
                    "method": "POST",
                    "host": dst,
                    "uri": "/",
                    "user_agent": DUQU_UA,
                    "request_body_len": rng.randint(1800, 2400),
                    "status_code": 200,
                    "orig_mime_types": ["image/jpeg"],
                    "orig_filenames": ["DSC00001.jpg"],
                    "orig_fuids": [f"F{uid}"],
                }
            )

    if c2:
        duqu_beacon("10.1.0.5", c2, T0 + 300, 1800)
        # the same host also browses with its real browser
        for i in range(30):
            ts = T0 + 9 * 3600 + i * 600
            http.append(
                {
                    "ts": ts,
                    "uid": f"N{i}",
                    "id.orig_h": "10.1.0.5",
                    "id.orig_p": 50002,
                    "id.resp_h": "93.184.0.7",
                    "id.resp_p": 80,
                    "method": "GET",
                    "host": f"news{i % 6}.example.com",
                    "uri": "/",
                    "user_agent": MODERN_UA,
                }
            )
    if new_c2:
        duqu_beacon("10.1.0.6", new_c2, T0 + DAY * 0.5, 1700)
        for i in range(30):
            ts = T0 + 10 * 3600 + i * 600
            http.append(
                {
                    "ts": ts,
                    "uid": f"M{i}",
                    "id.orig_h": "10.1.0.6",
                    "id.orig_p": 50002,
                    "id.resp_h": "93.184.0.9",
                    "id.resp_p": 80,
                    "method": "GET",
                    "host": f"news{i % 6}.example.com",
                    "uri": "/",
                    "user_agent": MODERN_UA,
                }
            )
    for row in extra_http or []:
        http.append(row)
        conn.append(
            _conn(
                float(row["ts"]),  # type: ignore[arg-type]
                str(row["id.orig_h"]),
                str(row["id.resp_h"]),
                80,
                out=2000,
                uid=str(row["uid"]),
            )
        )
    conn.sort(key=lambda r: float(r["ts"]))  # type: ignore[arg-type]
    http.sort(key=lambda r: float(r["ts"]))  # type: ignore[arg-type]
    write_zeek_tsv(folder / "conn.log", "conn", conn)
    write_zeek_tsv(folder / "http.log", "http", http)


def _by_detector(doc, det):  # type: ignore[no-untyped-def]
    return [f for f in doc.findings if f.detector == det]


def test_beacon_ranks_c2_first_and_suppresses_ntp(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs")
    doc = run_hunt(tmp_path / "logs")
    beacons = doc.campaign.beacons
    assert beacons, "no beacons scored"
    assert (beacons[0].src, beacons[0].dst) == ("10.1.0.5", "206.183.111.97")
    assert 1500 < beacons[0].interval_s < 2100  # retries one second apart did not halve it
    assert all(b.dst != "198.51.100.123" for b in beacons)  # NTP suppressed by the allow-list
    assert doc.stats["beacons_suppressed"] >= 3
    f = [x for x in _by_detector(doc, "DQ-NET-002") if x.details["dst"] == "206.183.111.97"]
    assert f and f[0].severity == "high"
    # its requests name the bare address in Host: an address is not a name of itself
    assert "names:" not in f[0].evidence[0].summary


def test_without_allowlist_ntp_is_scored_but_shown(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs")
    doc = run_hunt(tmp_path / "logs", builtin_allowlists=False)
    assert any(b.dst == "198.51.100.123" for b in doc.campaign.beacons)


def test_ioc_and_duqu_http_shapes(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs")
    doc = run_hunt(tmp_path / "logs")
    ioc = _by_detector(doc, "DQ-NET-001")
    assert any(f.details["indicator"] == "206.183.111.97" and f.hosts == ("10.1.0.5",) for f in ioc)
    assert any(f.details["indicator_type"] == "user-agent" for f in ioc)
    shapes = _by_detector(doc, "DQ-NET-003")
    rules = {(f.details["rule"], f.hosts[0]) for f in shapes}
    assert ("jpeg-post-bare-ip", "10.1.0.5") in rules
    assert ("rare-user-agent", "10.1.0.5") in rules
    c2 = {c.ip: c for c in doc.campaign.c2}
    assert c2["206.183.111.97"].known_ioc
    roles = {h.ip: h.roles for h in doc.campaign.hosts}
    assert roles["10.1.0.5"] == ["infected"] and roles["206.183.111.97"] == ["c2"]


def test_clean_network_has_no_c2_findings(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs", c2=None)
    doc = run_hunt(tmp_path / "logs")
    assert not [f for f in doc.findings if f.severity in ("high", "critical")]
    assert doc.campaign.c2 == []


def test_new_c2_found_from_known_profile(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs", new_c2="198.18.7.77")
    doc = run_hunt(tmp_path / "logs")
    cands = _by_detector(doc, "DQ-NET-004")
    assert [f.details["candidate"] for f in cands] == ["198.18.7.77"]
    c2 = {c.ip: c for c in doc.campaign.c2}
    assert not c2["198.18.7.77"].known_ioc


def test_new_c2_needs_a_known_reference(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    build_enterprise(tmp_path / "logs", c2=None, new_c2="198.18.7.77")
    doc = run_hunt(tmp_path / "logs")
    assert not _by_detector(doc, "DQ-NET-004")
    # the request shape alone still makes it a C&C candidate
    assert "198.18.7.77" in {c.ip for c in doc.campaign.c2}


def _jpeg_upload(i: int, src: str, dst: str, host: str) -> dict[str, object]:
    return {
        "ts": T0 + 3600 + i * 1800,
        "uid": f"J{src[-1]}{i}",
        "id.orig_h": src,
        "id.orig_p": 50003,
        "id.resp_h": dst,
        "id.resp_p": 80,
        "method": "POST",
        "host": host,
        "uri": "/",
        "user_agent": MODERN_UA,
        "request_body_len": 2000,
        "status_code": 200,
        "orig_mime_types": ["image/jpeg"],
        "orig_filenames": ["IMG_0001.jpg"],
        "orig_fuids": [f"FJ{src[-1]}{i}"],
    }


def test_jpeg_post_rule_wants_a_bare_address_in_the_host_header(tmp_path: Path, run_hunt) -> None:  # type: ignore[no-untyped-def]
    """DQ-NET-003 jpeg-post-bare-ip (docs/detectors.md): a JPEG POSTed to / of a bare IP, the
    Host header an address (no name looked up). The same upload to a site by its name (a photo
    service) is the look-alike that must not match; IPv6 literals in brackets are addresses."""
    uploads = [
        *(_jpeg_upload(i, "10.1.0.7", "93.184.1.50", "photos.example.com") for i in range(20)),
        *(_jpeg_upload(i, "10.1.0.8", "93.184.1.51", "93.184.1.51") for i in range(20)),
        *(_jpeg_upload(i, "10.1.0.9", "93.184.1.52", "[2001:db8::1]:8080") for i in range(20)),
        # a name spelt only with hex letters is still a name
        *(_jpeg_upload(i, "10.1.0.10", "93.184.1.53", "face.be") for i in range(20)),
        *(_jpeg_upload(i, "10.1.0.11", "93.184.1.54", "93.184.1.54:8080") for i in range(20)),
    ]
    build_enterprise(tmp_path / "logs", c2=None, extra_http=uploads)
    doc = run_hunt(tmp_path / "logs")
    rules = {(f.details["rule"], f.hosts[0]) for f in _by_detector(doc, "DQ-NET-003")}
    assert ("jpeg-post-bare-ip", "10.1.0.8") in rules
    assert ("jpeg-post-bare-ip", "10.1.0.9") in rules
    assert ("jpeg-post-bare-ip", "10.1.0.7") not in rules
    assert ("jpeg-post-bare-ip", "10.1.0.10") not in rules
    assert ("jpeg-post-bare-ip", "10.1.0.11") in rules
