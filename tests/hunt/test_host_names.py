"""A host seen by IP in Zeek gets its name from what the network says about it: NTLM workstation
names first, then DHCP host names, then Kerberos machine accounts, then internal DNS answers
(however often a name was asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

C2 = "77.241.93.160"  # in the shipped Duqu IOC pack
T0 = 1_700_000_000.0
REALM = "CORP.EXAMPLE"


def _id(src: str, dst: str, dport: int, n: int) -> dict[str, object]:
    return {
        "uid": f"C{src.replace('.', '')}{dport}{n}",
        "id.orig_h": src,
        "id.orig_p": 49152 + n,
        "id.resp_h": dst,
        "id.resp_p": dport,
    }


def _write(tmp: Path) -> Path:
    logs = tmp / "zeek"
    logs.mkdir()
    hosts = ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"]
    conn = []
    for i, h in enumerate(hosts):
        for n in range(3):
            row = _id(h, C2, 443, n)
            row.update({"ts": T0 + 60 * n + i, "proto": "tcp", "conn_state": "SF"})
            conn.append(row)
    kdc, dhcp_server = "10.0.0.2", "10.0.0.3"
    for n, h in enumerate(hosts):  # every host also talks to the KDC
        row = _id(h, kdc, 88, n + 10)
        row.update({"ts": T0 + 500 + n, "proto": "tcp", "conn_state": "SF"})
        conn.append(row)
    write_zeek_tsv(logs / "conn.log", "conn", sorted(conn, key=lambda r: float(r["ts"])))  # type: ignore[arg-type]

    def lease(ts: float, ip: str, name: str) -> dict[str, object]:
        return {
            "ts": ts,
            "uids": ["Cdhcp" + ip.replace(".", "")],
            "client_addr": ip,
            "server_addr": dhcp_server,
            "mac": "00:50:56:00:00:" + ip.rsplit(".", 1)[1],
            "host_name": name,
            "assigned_addr": ip,
            "lease_time": 86400.0,
            "msg_types": ["REQUEST", "ACK"],
        }

    write_zeek_tsv(
        logs / "dhcp.log",
        "dhcp",
        [lease(T0 - 10, "10.0.0.11", "ws-dhcp11"), lease(T0 - 9, "10.0.0.13", "ws-dhcp13")],
    )

    def krb(ts: float, ip: str, client: str, n: int) -> dict[str, object]:
        row = _id(ip, kdc, 88, n)
        row.update({"ts": ts, "request_type": "AS", "client": client, "service": f"krbtgt/{REALM}"})
        return row

    write_zeek_tsv(
        logs / "kerberos.log",
        "kerberos",
        [
            # DHCP outranks it, though the machine asks for tickets more often than for a lease
            *(krb(T0 + 500 + k, "10.0.0.11", f"WS-KRB11$/{REALM}", 10 + k * 20) for k in range(3)),
            krb(T0 + 501, "10.0.0.12", f"ws-krb12$/{REALM}", 11),
            krb(T0 + 503, "10.0.0.14", f"alice/{REALM}", 13),  # a user, not a host name
        ],
    )
    ntlm = _id("10.0.0.13", kdc, 445, 99)
    ntlm.update({"ts": T0 + 600, "username": "bob", "hostname": "WS-NTLM13", "domainname": "CORP"})
    # an NTLM logon that names no workstation (a non-domain client) names nothing
    anonymous = _id("10.0.0.12", kdc, 445, 98)
    anonymous.update({"ts": T0 + 601, "username": "svc_scan", "domainname": "CORP"})
    lowest = _id("10.0.0.10", kdc, 445, 97)  # the lowest address of all, in text order too
    lowest.update(
        {"ts": T0 + 602, "username": "eve", "hostname": "WS-NTLM10", "domainname": "CORP"}
    )
    write_zeek_tsv(logs / "ntlm.log", "ntlm", [ntlm, anonymous, lowest])

    def answer(n: int, query: str, addr: str) -> dict[str, object]:
        row = _id("10.0.0.13", "10.0.0.2", 53, 200 + n)
        row.update(
            {
                "ts": T0 + 700 + n,
                "proto": "udp",
                "query": query,
                "qtype_name": "A",
                "rcode_name": "NOERROR",
                "answers": [addr],
                "TTLs": [1200.0],
            }
        )
        return row

    write_zeek_tsv(
        logs / "dns.log",
        "dns",
        [
            # asked for more often than the Kerberos account is seen: DNS still ranks last
            *(answer(n, "ws-dns12.corp.example", "10.0.0.12") for n in range(3)),
            answer(3, "fileserver15.corp.example", "10.0.0.15"),  # only DNS names it
            answer(4, "update.vendor.example", C2),  # an external answer names no host
        ],
    )
    return logs


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_hosts_are_named_by_ntlm_then_dhcp_then_kerberos_then_dns(
    tmp_path: Path, engine: str
) -> None:
    if engine == "spark":
        pytest.importorskip("pyspark")
    logs = _write(tmp_path)
    doc = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "out", engine=engine, threads=2))
    assert any(i.path.endswith("dhcp.log") and i.status == "analysed" for i in doc.inputs)
    names = {h.ip: h.name for h in doc.campaign.hosts}
    assert names["10.0.0.10"] == "WS-NTLM10"
    assert names["10.0.0.11"] == "WS-DHCP11"
    assert names["10.0.0.12"] == "WS-KRB12"
    assert names["10.0.0.13"] == "WS-NTLM13"
    assert names["10.0.0.15"] == "FILESERVER15"
    assert names["10.0.0.14"] is None  # a user principal is not a host name
    assert C2 not in names or names[C2] is None
