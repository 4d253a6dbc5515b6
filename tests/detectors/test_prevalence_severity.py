"""DQ-NET-002 (beaconing): the prevalence penalty and the severities, from the README's
"The beacon score": ``score = (...) x (1 - prevalence penalty)`` with the penalty
``min(0.5, max(0, share of internal hosts contacting the destination - 0.05))``, not measured
below 20 internal hosts; pairs scoring at least ``report_score`` (0.8), and any pair to a known
indicator, become findings; a known indicator is high, otherwise medium from 0.85, low below.

The beacons are exact (every 600 s for a day, the same size), so every part of the score is 1
and the score is ``1 - penalty``: the share of hosts decides what is reported and how.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import FindingModel, ReportDocument
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


def _beacons(doc: ReportDocument) -> dict[str, list[FindingModel]]:
    out: dict[str, list[FindingModel]] = {}
    for f in doc.findings:
        if f.detector == "DQ-NET-002":
            out.setdefault(str(f.details["dst"]), []).append(f)
    return out


# Function scope on purpose: mutmut credits a function to the test during which it ran, so a
# hunt shared by a module-scoped fixture would count for the first test only (docs/testing.md).
@pytest.fixture
def forty(tmp_path: Path) -> ReportDocument:
    contacts = {
        "192.0.2.1": 1,  # 2.5 %: under the 5 % allowance, no penalty (never a bonus)
        "192.0.2.2": 2,  # 5 %: no penalty
        "192.0.2.6": 6,  # 15 %: penalty 0.10, score 0.9
        "192.0.2.9": 9,  # 22.5 %: penalty 0.175, score 0.825
        "192.0.2.12": 12,  # 30 %: penalty 0.25, score 0.75: under report_score
        IOC_IPS[0]: 12,  # the same share to a known indicator: reported anyway
        IOC_IPS[1]: 40,  # everyone: 0.95 capped at 0.5
    }
    sni = {"api.evil.test": "10.8.0.39", "api.notevil.test": "10.8.0.40"}
    # min_score (the lowest score the SQL returns, default 0.5) lowered so that the capped
    # pair, scoring exactly 0.5, is returned whatever the rounding
    return _hunt(tmp_path, 40, contacts, sni, (("min_score", 0.3),))


def _only(found: dict[str, list[FindingModel]], dst: str, hosts: int) -> list[FindingModel]:
    fs = found.get(dst, [])
    assert len(fs) == hosts, (dst, [f.hosts for f in fs])
    return fs


@pytest.mark.parametrize(
    ("dst", "hosts", "penalty", "severity"),
    [
        ("192.0.2.1", 1, 0.0, "medium"),
        ("192.0.2.2", 2, 0.0, "medium"),
        ("192.0.2.6", 6, 0.1, "medium"),
        ("192.0.2.9", 9, 0.175, "low"),
        (IOC_IPS[0], 12, 0.25, "high"),
        (IOC_IPS[1], 40, 0.5, "high"),
    ],
)
def test_penalty_follows_the_share_of_hosts(
    forty: ReportDocument, dst: str, hosts: int, penalty: float, severity: str
) -> None:
    for f in _only(_beacons(forty), dst, hosts):
        assert f.details["prevalence_penalty"] == pytest.approx(penalty, abs=1e-4)
        assert f.details["score"] == pytest.approx(1.0 - penalty, abs=1e-3)
        assert f.severity == severity
        assert f"{hosts} internal host(s) contact it" in f.evidence[0].summary
        assert f.evidence[0].source == "conn.log"  # an address pair is read from conn.log


def test_a_penalised_pair_under_report_score_is_not_a_finding(forty: ReportDocument) -> None:
    assert "192.0.2.12" not in _beacons(forty)
    # ... but it is still scored and ranked in the report
    scored = {(b.src, b.dst) for b in forty.campaign.beacons}
    assert ("10.8.0.1", "192.0.2.12") in scored


def test_known_name_over_tls_is_high_a_lookalike_is_not_known(forty: ReportDocument) -> None:
    (known,) = _only(_beacons(forty), "api.evil.test", 1)
    assert known.details["known_ioc"] is True and known.severity == "high"
    assert known.details["kind"] == "tls-sni" and known.evidence[0].source == "ssl.log"
    (other,) = _only(_beacons(forty), "api.notevil.test", 1)
    assert other.details["known_ioc"] is False and other.severity == "medium"


def test_no_penalty_below_twenty_hosts(tmp_path: Path) -> None:
    doc = _hunt(tmp_path, 19, {IOC_IPS[2]: 19, "192.0.2.19": 19}, {})
    for dst in (IOC_IPS[2], "192.0.2.19"):
        for f in _only(_beacons(doc), dst, 19):
            assert f.details["prevalence_penalty"] == 0.0
            assert f.details["score"] == pytest.approx(1.0, abs=1e-3)


def test_penalty_measured_from_twenty_hosts(tmp_path: Path) -> None:
    doc = _hunt(tmp_path, 20, {IOC_IPS[2]: 20, "192.0.2.3": 3}, {}, (("min_score", 0.3),))
    for f in _only(_beacons(doc), IOC_IPS[2], 20):
        assert f.details["prevalence_penalty"] == pytest.approx(0.5, abs=1e-4)
    for f in _only(_beacons(doc), "192.0.2.3", 3):  # 15 % of 20
        assert f.details["prevalence_penalty"] == pytest.approx(0.1, abs=1e-4)
