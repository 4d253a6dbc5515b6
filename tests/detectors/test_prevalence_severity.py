"""DQ-NET-002 (beaconing): prevalence and severity, from the C&C ranking's definition
(docs/detectors.md, detectors/net/c2rank.py): ``spread`` is 1 for a destination at most
``rare_hosts = max(3, 1 % of the hosts with egress)`` contact, falling linearly to 0.2 at
``wide_hosts = max(rare_hosts + 5, 10 %)`` and beyond; a known indicator is always a finding and
always high; a look-alike name of an indicator is not known.

The beacons are exact (every 600 s for a day, the same size), so periodicity is 1 and the
spread decides how a known indicator's pair is scored.
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
DAY = 86_400.0
IOC_IPS = ("203.0.113.15", "203.0.113.16", "203.0.113.17")


def _conn(ts: float, src: str, dst: str, port: int = 443) -> dict[str, Any]:
    return {
        "ts": ts,
        "uid": f"C{int(ts)}{src.replace('.', '')}{dst.replace('.', '')}",
        "id.orig_h": src,
        "id.orig_p": 40000 + int(ts) % 20000,
        "id.resp_h": dst,
        "id.resp_p": port,
        "proto": "tcp",
        "duration": 0.3,
        "orig_bytes": 300,
        "resp_bytes": 700,
        "conn_state": "SF",
        "orig_pkts": 4,
        "orig_ip_bytes": 500,
        "resp_pkts": 4,
        "resp_ip_bytes": 900,
        "history": "ShADadFf",
    }


def _beacon(src: str, dst: str, offset: float) -> list[dict[str, Any]]:
    return [_conn(T0 + offset + k * 600.0, src, dst) for k in range(int(DAY // 600) + 1)]


def _hunt(
    root: Path,
    population: int,
    contacts: dict[str, int],
    sni: dict[str, str],
    params: tuple[tuple[str, float], ...] = (),
) -> ReportDocument:
    """``population`` internal hosts with egress; destination -> how many of them beacon to it
    (hosts 10.8.0.1 up); SNI name -> the one host that beacons to it over TLS."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    hosts = [f"10.8.0.{i}" for i in range(1, population + 1)]
    conn: list[dict[str, Any]] = []
    for i, h in enumerate(hosts):  # every host reaches the outside once: the population
        conn.append(_conn(T0 + 1000.0 + i, h, f"198.51.100.{i + 1}", port=80))
    for j, (dst, n) in enumerate(sorted(contacts.items())):
        for i, h in enumerate(hosts[:n]):
            conn += _beacon(h, dst, offset=float(j * 7 + i % 5))
    ssl = []
    for j, (name, h) in enumerate(sorted(sni.items())):
        for k in range(int(DAY // 600) + 1):
            ts = T0 + 3.0 + j + k * 600.0
            ssl.append(
                {
                    "ts": ts,
                    "uid": f"S{j}x{k}",
                    "id.orig_h": h,
                    "id.orig_p": 30000 + k,
                    "id.resp_h": f"192.0.2.{200 + j}",
                    "id.resp_p": 443,
                    "server_name": name,
                    "established": True,
                }
            )
    conn.sort(key=lambda r: float(r["ts"]))
    write_zeek_tsv(logs / "conn.log", "conn", conn)
    if ssl:
        write_zeek_tsv(logs / "ssl.log", "ssl", ssl)
    pack = {
        "pack": "prevalence",
        "indicators": [
            *({"type": "ip", "value": ip, "confidence": 0.9, "source": "test"} for ip in IOC_IPS),
            {"type": "domain", "value": "evil.test", "confidence": 0.9, "source": "test"},
        ],
    }
    (root / "pack.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")
    return hunt(
        HuntOptions(
            inputs=(logs,),
            out=root / "out",
            ioc_packs=(root / "pack.yaml",),
            builtin_iocs=False,
            params=params,
            threads=2,
        )
    )


def _beacons(doc: ReportDocument) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in doc.findings:
        if f.detector == "DQ-NET-002":
            out.setdefault(str(f.details["dst"]), []).append(f)
    return out


# Function scope on purpose: mutmut credits a function to the test during which it ran, so a
# hunt shared by a module-scoped fixture would count for the first test only (docs/testing.md).
@pytest.fixture
def forty(tmp_path: Path) -> ReportDocument:
    contacts = {
        IOC_IPS[0]: 3,  # rare_hosts = max(3, 0.4) = 3: spread 1
        IOC_IPS[1]: 5,  # wide_hosts = max(3 + 5, 4) = 8: spread 1 - 0.8 x 2/5 = 0.68
        IOC_IPS[2]: 12,  # beyond wide_hosts: 0.2
        "192.0.2.12": 12,  # the same share, not an indicator: nothing corroborates it
    }
    sni = {"api.evil.test": "10.8.0.39", "api.notevil.test": "10.8.0.40"}
    return _hunt(tmp_path, 40, contacts, sni)


def _only(found: dict[str, list[Finding]], dst: str, hosts: int) -> list[Finding]:
    fs = found.get(dst, [])
    assert len(fs) == hosts, (dst, [f.hosts for f in fs])
    return fs


@pytest.mark.parametrize(
    ("dst", "hosts", "spread"),
    [(IOC_IPS[0], 3, 1.0), (IOC_IPS[1], 5, 0.68), (IOC_IPS[2], 12, 0.2)],
)
def test_spread_follows_the_share_of_hosts_and_indicators_stay_high(
    forty: ReportDocument, dst: str, hosts: int, spread: float
) -> None:
    for f in _only(_beacons(forty), dst, hosts):
        assert f.details["spread"] == pytest.approx(spread, abs=1e-3)
        assert f.details["known_ioc"] is True and f.severity == "high"


def test_a_widespread_pair_nothing_corroborates_is_not_a_finding(forty: ReportDocument) -> None:
    assert "192.0.2.12" not in _beacons(forty)
    # ... but it is still scored and ranked in the report, below the indicators
    ranked = [(b.src, b.dst) for b in forty.campaign.beacons]
    assert ("10.8.0.1", "192.0.2.12") in ranked
    first_ioc = min(i for i, (_, d) in enumerate(ranked) if d in IOC_IPS)
    assert ranked.index(("10.8.0.1", "192.0.2.12")) > first_ioc


def test_known_name_over_tls_is_high_a_lookalike_is_not_known(forty: ReportDocument) -> None:
    (known,) = _only(_beacons(forty), "api.evil.test", 1)
    assert known.details["known_ioc"] is True and known.severity == "high"
    assert known.details["kind"] == "tls-sni" and known.evidence[0].source == "ssl.log"
    for other in _beacons(forty).get("api.notevil.test", []):
        assert other.details["known_ioc"] is False and other.severity != "high"
