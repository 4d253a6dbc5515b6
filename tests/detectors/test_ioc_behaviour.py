"""DQ-NET-001 (known indicator) behaviour, written from what the detector promises
(docs/detectors.md): contact with a listed address in either direction, a DNS answer that
resolves to a listed address, DNS queries, HTTP Host and TLS SNI names matched on DNS label
boundaries (a listed name covers its subdomains, never a longer name that merely ends with the
same letters), exact User-Agents, file names and hashes; and the documented severities (high for
an address or name of confidence >= 0.8, low below 0.5, medium otherwise).

One hunt over hand-built Zeek logs (RFC 5737 addresses, RFC 2606 ``.test`` names) and a pack
written for the test; each test reads one behaviour from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import Finding
from duqhunt.model.report import ReportDocument
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

T0 = 1_600_000_000.0
UA = "DqTestAgent/1.0 (compatible; loopback fixture)"
MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "89abcdef0123456789abcdef0123456789abcdef"
SHA256 = "fedcba98" * 8

# type, value as written in the pack, confidence
PACK = [
    ("ip", "203.0.113.66", 0.8),  # high: the boundary of "confidence >= 0.8"
    ("ip", "203.0.113.67", 0.79),  # just under: medium
    ("ip", "203.0.113.68", 0.5),  # medium: the boundary of "low below 0.5"
    ("ip", "203.0.113.69", 0.49),  # just under: low
    ("ip", "198.51.100.200", 0.9),  # seen only as the originator of an inbound connection
    ("ip", "198.51.100.201", 0.9),  # seen only in a DNS answer
    ("ip", "2001:db8::66", 0.9),  # seen only as an IP literal in an HTTP Host
    ("domain", "EVIL.Test.", 0.9),  # packs are normalised: lower case, no root dot
    ("user-agent", UA, 0.95),  # not an address or a name: medium however confident
    ("filename", "dqtest.pnf", 0.6),
    ("md5", MD5.upper(), 0.6),
    ("sha1", SHA1, 0.6),
    ("sha256", SHA256, 0.6),
    # compared as host, non-default port, path and query, without scheme or letter case
    ("url", "HTTPS://Evil-URL.Test:443/news/Index.php?id=7", 0.9),
    ("url", "http://evil-url.test:8080/gate", 0.9),
    # feeds list a C&C address as a URL too: it is matched as a URL (host and path of a
    # request), and the address matches stay the "ip" indicator's
    ("url", "198.51.100.200", 0.4),
    ("url", "203.0.113.66", 0.4),
]


def _conn(i: int, src: str, dst: str, port: int = 80) -> dict[str, Any]:
    return {
        "ts": T0 + i,
        "uid": f"Cioc{i:04d}",
        "id.orig_h": src,
        "id.orig_p": 50000 + i,
        "id.resp_h": dst,
        "id.resp_p": port,
        "proto": "tcp",
        "duration": 0.5,
        "orig_bytes": 300,
        "resp_bytes": 800,
        "conn_state": "SF",
        "history": "ShADadFf",
    }


def _dns(i: int, src: str, query: str, answers: list[str] | None = None) -> dict[str, Any]:
    return {
        "ts": T0 + 100 + i,
        "uid": f"Dioc{i:04d}",
        "id.orig_h": src,
        "id.orig_p": 53000 + i,
        "id.resp_h": "10.0.0.53",
        "id.resp_p": 53,
        "proto": "udp",
        "query": query,
        "qtype_name": "A",
        "rcode_name": "NOERROR",
        "answers": answers,
    }


def _http(
    i: int,
    src: str,
    host: str,
    ua: str = "Mozilla/5.0 (X11; Linux x86_64)",
    uri: str = "/",
    method: str = "GET",
) -> dict[str, Any]:
    return {
        "ts": T0 + 200 + i,
        "uid": f"Hioc{i:04d}",
        "id.orig_h": src,
        "id.orig_p": 51000 + i,
        "id.resp_h": "192.0.2.80",
        "id.resp_p": 80,
        "method": method,
        "host": host,
        "uri": uri,
        "user_agent": ua,
        "status_code": 200,
    }


def _ssl(i: int, src: str, sni: str) -> dict[str, Any]:
    return {
        "ts": T0 + 300 + i,
        "uid": f"Sioc{i:04d}",
        "id.orig_h": src,
        "id.orig_p": 52000 + i,
        "id.resp_h": "192.0.2.43",
        "id.resp_p": 443,
        "server_name": sni,
        "established": True,
    }


def _file(
    i: int, client: str, name: str, md5: str, sha1: str = "1" * 40, sha256: str = "2" * 64
) -> dict[str, Any]:
    # a download: the connection's originator (id.orig_h) is the internal client
    return {
        "ts": T0 + 400 + i,
        "fuid": f"Fioc{i:04d}",
        "id.orig_h": client,
        "id.orig_p": 54000 + i,
        "id.resp_h": "192.0.2.80",
        "id.resp_p": 80,
        "source": "HTTP",
        "filename": name,
        "md5": md5,
        "sha1": sha1,
        "sha256": sha256,
    }


# Function scope on purpose: mutmut credits a function to the test during which it ran, so a
# hunt shared by a module-scoped fixture would count for the first test only (docs/testing.md).
@pytest.fixture
def report(tmp_path: Path) -> ReportDocument:
    root = tmp_path
    logs = root / "logs"
    logs.mkdir()
    conn = [
        _conn(1, "10.1.0.1", "203.0.113.66"),
        _conn(2, "10.1.0.2", "203.0.113.67"),
        _conn(3, "10.1.0.3", "203.0.113.68"),
        _conn(4, "10.1.0.4", "203.0.113.69"),
        _conn(5, "10.1.0.5", "203.0.113.6"),  # a prefix of a listed address: no match
        _conn(6, "198.51.100.200", "10.2.0.9", port=445),  # inbound from a listed address
        _conn(7, "10.1.0.7", "192.0.2.80"),
    ]
    dns = [
        _dns(1, "10.3.0.1", "evil.test"),
        _dns(2, "10.3.0.2", "WWW.Evil.Test"),
        _dns(3, "10.3.0.2", "www.evil.test"),
        _dns(4, "10.3.0.2", "mail.www.evil.test"),
        _dns(5, "10.3.0.3", "notevil.test"),  # ends with the letters, not the labels
        _dns(6, "10.3.0.4", "evil.test.example.test"),  # the name inside a longer one
        _dns(7, "10.3.0.5", "evil-test.example"),
        _dns(8, "10.2.0.10", "cdn.unlisted.test", ["198.51.100.201"]),
    ]
    http = [
        _http(1, "10.4.0.1", "download.evil.test"),
        _http(2, "10.4.0.2", "notevil.test"),
        _http(3, "10.4.0.3", "Evil.Test"),
        _http(4, "10.6.0.1", "www.unlisted.test", ua=UA),
        _http(5, "10.6.0.2", "www.unlisted.test", ua=UA + " extra"),
        _http(6, "10.6.0.3", "www.unlisted.test", ua=UA.lower()),
        _http(7, "10.4.0.4", "evil.test:8080"),  # a Host with a port
        _http(8, "10.4.0.5", "evil.test:443", uri="evil.test:443", method="CONNECT"),
        _http(9, "10.4.0.6", "notevil.test:80"),
        # a proxied request whose absolute URI has no path at all (RFC 9112 absolute-form)
        _http(16, "10.4.0.7", "www.evil.test", uri="http://www.evil.test"),
        _http(10, "10.8.0.1", "evil-url.test", uri="/news/index.php?id=7"),
        _http(11, "10.8.0.2", "evil-url.test", uri="/news/index.php?id=8"),  # another query
        _http(12, "10.8.0.3", "evil-url.test:8080", uri="/gate"),
        _http(13, "10.8.0.4", "evil-url.test", uri="/gate"),  # port 80, not 8080
        # through a proxy: the absolute URI names host and path
        _http(14, "10.8.0.5", "evil-url.test", uri="http://Evil-URL.test/news/index.php?id=7"),
        _http(15, "10.8.0.6", "evil-url.test", uri="/news/index.php"),  # no query
        _http(16, "10.4.0.7", "Evil.Test.:8080"),  # a root dot and a port
        _http(17, "10.4.0.8", "[2001:DB8::66]:8443"),  # an IPv6 literal with a port
        # CONNECT names its target in the request line; the Host header is left out here
        _http(18, "10.4.0.9", "", uri="evil.test:443", method="CONNECT"),
    ]
    ssl = [
        _ssl(1, "10.5.0.1", "api.evil.test"),
        _ssl(2, "10.5.0.2", "xevil.test"),
        _ssl(3, "10.5.0.3", "evil.test"),
    ]
    files = [
        _file(1, "10.7.0.1", "DQTEST.PNF", "f" * 32),
        _file(2, "10.7.0.2", "dqtest.pnf.bak", "e" * 32),
        _file(3, "10.7.0.3", "report.doc", MD5),
        _file(4, "10.7.0.4", "a.bin", "a" * 32, sha1=SHA1.upper()),
        _file(5, "10.7.0.5", "b.bin", "b" * 32, sha256=SHA256),
        _file(6, "10.7.0.6", "c.bin", "c" * 32),  # no listed name or hash
        _file(7, "10.7.0.7", "d.bin", "0" * 32),  # a hash that sorts before the listed one
    ]
    write_zeek_tsv(logs / "conn.log", "conn", conn)
    write_zeek_tsv(logs / "dns.log", "dns", dns)
    write_zeek_tsv(logs / "http.log", "http", http)
    write_zeek_tsv(logs / "ssl.log", "ssl", ssl)
    write_zeek_tsv(logs / "files.log", "files", files)
    pack = {
        "pack": "ioc-behaviour",
        "indicators": [
            {"type": t, "value": v, "confidence": c, "source": "test fixture"} for t, v, c in PACK
        ],
    }
    pack_path = root / "pack.yaml"
    pack_path.write_text(yaml.safe_dump(pack), encoding="utf-8")
    opts = HuntOptions(
        inputs=(logs,), out=root / "out", ioc_packs=(pack_path,), builtin_iocs=False, threads=2
    )
    return hunt(opts)


def _ioc(doc: ReportDocument) -> list[Finding]:
    return [f for f in doc.findings if f.detector == "DQ-NET-001"]


def _by_host(doc: ReportDocument) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in _ioc(doc):
        for h in f.hosts:
            out.setdefault(h, []).append(f)
    return out


def _indicator(doc: ReportDocument, host: str) -> set[object]:
    return {f.details["indicator"] for f in _by_host(doc).get(host, [])}


def test_dns_query_matches_the_name_and_its_subdomains(report: ReportDocument) -> None:
    assert _indicator(report, "10.3.0.1") == {"evil.test"}
    (f,) = _by_host(report)["10.3.0.2"]
    assert f.details["indicator"] == "evil.test"
    assert f.details["indicator_type"] == "domain"
    # www twice (any letter case: DNS names are case-insensitive) and one deeper subdomain
    assert f.details["matches"] == 3


def test_dns_query_never_matches_across_a_label_boundary(report: ReportDocument) -> None:
    hosts = _by_host(report)
    for host in ("10.3.0.3", "10.3.0.4", "10.3.0.5"):
        assert host not in hosts, (host, hosts.get(host))


def test_http_host_and_tls_sni_match_on_labels(report: ReportDocument) -> None:
    assert _indicator(report, "10.4.0.1") == {"evil.test"}  # subdomain
    assert _indicator(report, "10.4.0.3") == {"evil.test"}  # the name, other case
    assert _indicator(report, "10.5.0.1") == {"evil.test"}  # SNI subdomain
    assert _indicator(report, "10.5.0.3") == {"evil.test"}  # SNI, the name itself
    hosts = _by_host(report)
    assert "10.4.0.2" not in hosts  # notevil.test
    assert "10.5.0.2" not in hosts  # xevil.test
    fields = {
        (f.hosts[0], e.source, e.locator.split(",")[0])
        for f in _ioc(report)
        for e in f.evidence
        if f.hosts[0] in ("10.4.0.1", "10.5.0.1")
    }
    assert fields == {
        ("10.4.0.1", "http.log", "field host"),
        ("10.5.0.1", "ssl.log", "field server_name"),
    }


def test_http_host_with_a_port_and_a_connect_target_match_the_name(
    report: ReportDocument,
) -> None:
    assert _indicator(report, "10.4.0.4") == {"evil.test"}
    assert _indicator(report, "10.4.0.5") == {"evil.test"}
    assert "10.4.0.6" not in _by_host(report)  # notevil.test:80
    assert _indicator(report, "10.4.0.7") == {"evil.test"}  # absolute URI without a path


def test_http_host_root_dot_ip_literal_and_connect_request_line_match(
    report: ReportDocument,
) -> None:
    """RFC 9110 7.2 / RFC 3986 3.2.2: a Host is host[:port], an IPv6 address in brackets; a
    name with its root dot is the same name; CONNECT's request-target is the authority."""
    assert _indicator(report, "10.4.0.7") == {"evil.test"}
    assert _indicator(report, "10.4.0.8") == {"2001:db8::66"}
    assert _indicator(report, "10.4.0.9") == {"evil.test"}


def test_url_indicator_matches_host_port_path_and_query(report: ReportDocument) -> None:
    first, gate = (
        "HTTPS://Evil-URL.Test:443/news/Index.php?id=7",
        "http://evil-url.test:8080/gate",
    )
    assert _indicator(report, "10.8.0.1") == {first}  # scheme, default port and case aside
    assert _indicator(report, "10.8.0.5") == {first}  # the absolute URI of a proxied request
    assert _indicator(report, "10.8.0.3") == {gate}  # the listed non-default port
    hosts = _by_host(report)
    for other in ("10.8.0.2", "10.8.0.4", "10.8.0.6"):  # query, port or path differs
        assert other not in hosts, other
    found = [f for f in _ioc(report) if f.hosts == ("10.8.0.1",)]
    assert found[0].severity == "high"  # a URL of confidence 0.9 names the C&C
    assert found[0].title == f"10.8.0.1 requested known URL {first}"
    assert found[0].evidence[0].locator.startswith("field uri")


def test_address_matches_in_either_direction_and_exactly(report: ReportDocument) -> None:
    assert _indicator(report, "10.1.0.1") == {"203.0.113.66"}
    (out,) = _by_host(report)["10.1.0.1"]
    assert (out.details["indicator_type"], out.confidence) == ("ip", 0.8)
    assert [e.locator.split(",")[0] for e in out.evidence] == ["field id.resp_h"]
    assert "10.1.0.5" not in _by_host(report)  # 203.0.113.6 is not 203.0.113.66
    # an inbound connection from a listed address is reported for the internal host it reached
    (f,) = _by_host(report)["10.2.0.9"]
    assert f.details["indicator"] == "198.51.100.200"
    assert (f.details["indicator_type"], f.confidence) == ("ip", 0.9)
    assert f.details["destinations"] == "198.51.100.200"
    assert [e.locator.split(",")[0] for e in f.evidence] == ["field id.orig_h"]


def test_dns_answer_resolving_to_a_listed_address(report: ReportDocument) -> None:
    (f,) = _by_host(report)["10.2.0.10"]
    assert f.details["indicator"] == "198.51.100.201"
    assert f.evidence[0].source == "dns.log"
    assert f.evidence[0].locator.startswith("field answers")


def test_user_agent_matches_exactly(report: ReportDocument) -> None:
    (f,) = _by_host(report)["10.6.0.1"]
    assert f.details["indicator_type"] == "user-agent"
    assert "10.6.0.2" not in _by_host(report)  # a longer UA
    assert "10.6.0.3" not in _by_host(report)  # another letter case is another UA


def test_file_name_and_hash(report: ReportDocument) -> None:
    assert _indicator(report, "10.7.0.1") == {"dqtest.pnf"}  # names compare without case
    assert "10.7.0.2" not in _by_host(report)
    (f,) = _by_host(report)["10.7.0.3"]
    assert f.details["indicator_type"] == "md5"
    assert f.details["indicator"] == MD5  # hashes normalised to lower case
    # each hash compares with its own field only, whatever the letter case
    (f,) = _by_host(report)["10.7.0.4"]
    assert (f.details["indicator_type"], f.details["indicator"]) == ("sha1", SHA1)
    (f,) = _by_host(report)["10.7.0.5"]
    assert (f.details["indicator_type"], f.details["indicator"]) == ("sha256", SHA256)
    assert "10.7.0.6" not in _by_host(report)
    assert "10.7.0.7" not in _by_host(report)  # hashes match exactly, not by order


@pytest.mark.parametrize(
    ("host", "severity"),
    [
        ("10.1.0.1", "high"),  # address, confidence 0.8
        ("10.1.0.2", "medium"),  # address, 0.79
        ("10.1.0.3", "medium"),  # address, 0.5
        ("10.1.0.4", "low"),  # address, 0.49
        ("10.3.0.1", "high"),  # name, 0.9
        ("10.6.0.1", "medium"),  # User-Agent, 0.95: not an address or a name
        ("10.7.0.1", "medium"),  # file name, 0.6
    ],
)
def test_severity_thresholds(report: ReportDocument, host: str, severity: str) -> None:
    (f,) = _by_host(report)[host]
    assert f.severity == severity
    assert f.confidence == next(
        c for t, v, c in PACK if v.lower().rstrip(".") == f.details["indicator"].lower()
    )  # type: ignore[union-attr]


def test_one_finding_per_host_and_indicator(report: ReportDocument) -> None:
    keys = [(f.hosts[0], f.details["indicator"]) for f in _ioc(report)]
    assert len(keys) == len(set(keys))
    assert all(
        f.stage == "command-and-control" and f.attack == ("T1071.001",) for f in _ioc(report)
    )
