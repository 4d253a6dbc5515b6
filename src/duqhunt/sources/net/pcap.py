"""pcap and pcapng input (plain or gzip-compressed): Wireshark's dissectors (tshark) turn a
capture into the tables Zeek writes, so every network detector runs on a capture as on a
sensor's logs.

One tshark pass over the capture, streamed to a temporary file (bounded memory, whatever the
capture's size; tshark's dissection is most of the cost, so it runs once): every packet's
transport fields and, on the application packets, their protocol's fields. Then:

1. DuckDB reads the transport columns and groups them by tshark's stream index into conn rows
   as Zeek builds them (see ``_CONN_SQL``: originator, bytes from sequence numbers, history,
   per-side states for ``conn_state``), and picks the first data segment of each TCP
   direction.
2. editcap copies those first segments (a few frames per connection, no dissection) into a
   small capture and tshark prints their payloads: a stream's first bytes name its protocol
   whatever the port (HTTP, TLS, SMB), as Zeek's dynamic protocol detection does. Printing
   every segment's payload in the main pass would cost more than the dissection.
3. the application lines (DNS and mDNS, HTTP, TLS/DTLS, SMB1/SMB2, DCE/RPC, NTLMSSP, Kerberos:
   a line whose protocol stack names one) are read row by row in Python into smb_mapping,
   smb_files, files, dce_rpc, ntlm, kerberos, http, dns and ssl rows following Zeek's scripts
   (each handler's docstring says which rule it follows).

How close the rows are to Zeek's is measured by benchmarks/zeek_parity.py against Zeek's own
test baselines; the fields a capture cannot give are listed in the README. The rows are
written as Zeek TSV logs (duqhunt.sources.net.zeek_writer) in a temporary folder and ingested
like any Zeek log. Nothing in the capture is executed or extracted.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import yaml

from duqhunt.errors import InputError, UsageError
from duqhunt.sources.net.zeek_limits import Limits, bad_time_reason
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

log = logging.getLogger(__name__)

PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",  # pcap, little-endian, microseconds
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",  # nanoseconds
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)
INSTALL_HINT = (
    "tshark (Wireshark's command-line dissector) is needed to read captures: "
    "apt-get install tshark (Debian/Ubuntu), dnf install wireshark-cli (Fedora), "
    "brew install wireshark (macOS), or pass --tshark PATH"
)
AGG = "\x1e"  # tshark's aggregator for repeated fields: a byte no field value contains


def is_capture(path: Path) -> bool:
    """A pcap or pcapng file, plain or gzip-compressed (``.pcap.gz``: tshark reads it as is)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if head[:2] == b"\x1f\x8b":
                fh.seek(0)
                with gzip.GzipFile(fileobj=fh) as gz:
                    head = gz.read(4)
            return head in PCAP_MAGICS
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def find_tshark(explicit: str | Path | None = None) -> str:
    """The tshark binary to use, or a UsageError that says how to install it."""
    if explicit:
        p = Path(explicit)
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
        raise UsageError(f"--tshark {explicit}: not an executable file. {INSTALL_HINT}")
    found = shutil.which("tshark")
    if not found:
        raise UsageError(INSTALL_HINT)
    return found


@dataclass(frozen=True, slots=True)
class PcapLimits:
    timeout_s: float = 3600.0  # per tshark pass
    max_app_rows: int = 50_000_000
    # rows stamped outside the span the Zeek reader takes (see _plausible) are left out here,
    # where the warning can name the capture; the parity harness keeps them, as Zeek does
    drop_implausible_times: bool = True


@dataclass(slots=True)
class PcapResult:
    logs: dict[str, Path]  # log type -> Zeek TSV file
    packets: int
    warnings: list[str] = field(default_factory=list)
    complete: bool = True


# addresses and transport fields both passes read
_ADDRESSES = [
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.stream",
    "udp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
]
_PASS1 = [
    *_ADDRESSES,
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.seq",
    "tcp.len",
    "udp.length",
    "ip.len",
    "ipv6.plen",
    "frame.protocols",
]

# rdata fields tshark gives per record type, each once per record in message order (TXT and
# SPF once per string); the records' own fields (type, class, TTL, length) are lists too
_DNS_RDATA: dict[int, tuple[str, ...]] = {
    1: ("dns.a",),
    28: ("dns.aaaa",),
    5: ("dns.cname",),
    12: ("dns.ptr.domain_name",),
    2: ("dns.ns",),
    15: ("dns.mx.mail_exchange",),
    6: ("dns.soa.mname",),
    33: ("dns.srv.target",),
    16: ("dns.txt.length", "dns.txt"),
    99: ("dns.spf.length", "dns.spf"),
    46: ("dns.rrsig.type_covered", "dns.rrsig.signers_name"),
    48: ("dns.dnskey.algorithm",),
    43: ("dns.ds.algorithm", "dns.ds.digest_type"),
    44: ("dns.sshfp.fingerprint",),
    47: ("dns.nsec.next_domain_name",),
    29: ("dns.loc.size", "dns.loc.horizontal_precision", "dns.loc.vertical_precision"),
    35: (
        "dns.naptr.order",
        "dns.naptr.preference",
        "dns.naptr.flags",
        "dns.naptr.service",
        "dns.naptr.regex",
        "dns.naptr.replacement",
    ),
}
_DNS_RDATA_FIELDS = sorted({f for fs in _DNS_RDATA.values() for f in fs})
# types Zeek parses but whose reply its dns script does not log (no answer, no query name)
_DNS_SILENT = frozenset({13, 32, 38, 41, 64, 65, 249, 250, 257})
_DNS_ANY, _DNS_NONE = 255, 254
# Zeek's names for DNS rcodes, record types and classes (base_errors, query_types, classes in
# zeek/zeek a13de64f scripts/base/protocols/dns/consts.zeek); unlisted values fall back to
# Zeek's own defaults (rcode-N, query-N, qclass-N)
_DNS_RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSet", 9: "NOTAUTH", 10: "NOTZONE",
    11: "unassigned-11", 12: "unassigned-12", 13: "unassigned-13", 14: "unassigned-14",
    15: "unassigned-15", 16: "BADVERS", 17: "BADKEY", 18: "BADTIME", 19: "BADMODE",
    20: "BADNAME", 21: "BADALG", 22: "BADTRUNC", 23: "BADCOOKIE", 3842: "BADSIG",
}  # fmt: skip
_DNS_TYPES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
    10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG",
    25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID",
    32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6",
    39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
    46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM",
    52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS",
    60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS",
    99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID", 105: "L32",
    106: "L64", 107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR",
    252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "*", 256: "URI", 257: "CAA", 32768: "TA",
    32769: "DLV", 65281: "WINS", 65282: "WINS-R", 65422: "XPF", 65521: "INTEGRITY",
}  # fmt: skip
_DNS_CLASSES = {
    1: "C_INTERNET",
    2: "C_CSNET",
    3: "C_CHAOS",
    4: "C_HESIOD",
    254: "C_NONE",
    255: "C_ANY",
}


def _dns_type(t: int) -> str:
    return _DNS_TYPES.get(t, f"query-{t}")


@dataclass(slots=True)
class _DnsReplies:
    """What Zeek's dns script takes from a response: one entry per record it hands to
    ``DNS::do_reply`` (the answer section; a dynamic update's prerequisites and updates),
    in order: the record's owner name, the text Zeek logs ("" logs nothing) and its TTL."""

    names: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    ttls: list[float] = field(default_factory=list)

    def add(self, name: str, text: str, ttl: float) -> None:
        self.names.append(name)
        self.texts.append(text)
        self.ttls.append(ttl)


def _dns_replies(row: dict[str, str], opcode: int, zclass: int | None) -> _DnsReplies:
    """The records of a response as Zeek's DNS analyzer and script log them (zeek/zeek
    a13de64f, src/analyzer/protocol/dns/DNS.cc and scripts/base/protocols/dns/main.zeek):
    authority and additional records never; each answer in the form Zeek writes it, with the
    TTL at the same index; in a dynamic update, ``pre:``, ``del:`` and ``add:`` entries."""
    update = opcode == 5
    if update:
        n_pre = _int(_first(row, "dns.count.prerequisites")) or 0
        n = n_pre + (_int(_first(row, "dns.count.updates")) or 0)
    else:
        n_pre = 0
        n = _int(_first(row, "dns.count.answers")) or 0
    types = _multi(row, "dns.resp.type")
    names = _multi(row, "dns.resp.name")
    classes = _multi(row, "dns.resp.class")
    ttls = _multi(row, "dns.resp.ttl")
    lens = _multi(row, "dns.resp.len")
    cursor: dict[str, int] = defaultdict(int)

    def take(name: str) -> str:
        vals = _multi(row, name)
        k = cursor[name]
        cursor[name] += 1
        return vals[k] if k < len(vals) else ""

    def at(vals: list[str], i: int) -> int:
        return (_int(vals[i]) if i < len(vals) else None) or 0

    out = _DnsReplies()
    for i in range(min(n, len(types))):
        rtype, rclass, ttl, rdlen = at(types, i), at(classes, i), at(ttls, i), at(lens, i)
        name = (names[i] if i < len(names) else "").lower()
        if update and i < n_pre:
            # prerequisites: no rdata is parsed, the TTL must be 0
            if rdlen:
                for f in _DNS_RDATA.get(rtype, ()):
                    take(f)
            if ttl != 0 or not (
                (rclass in (_DNS_ANY, _DNS_NONE) and rdlen == 0) or rclass == zclass
            ):
                continue
            if rclass == _DNS_NONE and rtype == _DNS_ANY:
                what = f"NameNotInUse {name}"
            elif rclass == _DNS_ANY and rtype == _DNS_ANY:
                what = f"NameInUse {name}"
            elif rclass == _DNS_NONE:
                what = f"NoRRSet {_dns_type(rtype)} {name}"
            else:
                what = f"RRSetExists {_dns_type(rtype)} {name}"
            out.add(name, f"pre: {what}", ttl)
            continue
        if update:
            if rclass == _DNS_ANY and ttl == 0 and rdlen == 0:
                what = f"RRSet * {name}" if rtype == _DNS_ANY else f"RRSet {_dns_type(rtype)}"
                out.add(name, f"del: {what}", ttl)
                continue
            if not ((rclass == _DNS_NONE and ttl == 0) or rclass == zclass):
                if rdlen:
                    for f in _DNS_RDATA.get(rtype, ()):
                        take(f)
                continue
        if rdlen == 0:
            if update:
                continue
            break  # Zeek stops reading the message at an empty record
        text: str | None
        if rtype in (1, 28):
            addr = take("dns.a" if rtype == 1 else "dns.aaaa")
            text = f"{_dns_type(rtype)} {name} {addr}" if update else addr
        elif rtype in (5, 12, 2, 15, 6, 33):
            text = take(_DNS_RDATA[rtype][0]).lower()
        elif rtype in (16, 99):
            parts: list[str] = []
            used = 0
            while used < rdlen:
                length = _int(take(_DNS_RDATA[rtype][0])) or 0
                parts.append(f"{_dns_type(rtype)} {length} {take(_DNS_RDATA[rtype][1])}")
                used += 1 + length
            text = " ".join(parts)
        elif rtype == 46:
            covered, signer = take("dns.rrsig.type_covered"), take("dns.rrsig.signers_name")
            text = (
                f"RRSIG {covered} {signer.lower() if signer and signer != '<Root>' else '<Root>'}"
            )
        elif rtype == 48:
            text = f"DNSKEY {take('dns.dnskey.algorithm')}"
        elif rtype == 43:
            text = f"DS {take('dns.ds.algorithm')} {take('dns.ds.digest_type')}"
        elif rtype == 47:
            text = f"NSEC {name} {take('dns.nsec.next_domain_name').lower()}"
        elif rtype == 50:
            text = "NSEC3"
        elif rtype == 51:
            text = "NSEC3PARAM"
        elif rtype == 44:
            text = f"SSHFP: {take('dns.sshfp.fingerprint').replace(':', '')}"
        elif rtype == 29:
            if rdlen != 16:
                break  # Zeek: an invalid LOC length ends the message
            size, horiz, vert = (take(f) for f in _DNS_RDATA[29])
            text = f"LOC:  {size} {horiz} {vert}"
        elif rtype == 35:
            vals = [take(f) for f in _DNS_RDATA[35]]
            tail = " ".join(v for v in vals[4:] if v)
            text = f"NAPTR {vals[0]} {vals[1]} {vals[2]} {vals[3]} {tail}"
        elif rtype == 65534:
            text = "BIND9 signing signal"
        elif rtype == 11:
            text = ""  # WKS: Zeek names the query but logs no answer
        elif rtype in _DNS_SILENT:
            text = None
        else:
            text = f"<unknown type={rtype}>"
        if text is None:
            continue
        if update and not text.startswith("del:"):
            text = f"add: {text}"
        out.add(name, text, ttl)
    return out


def _flag(row: dict[str, str], name: str) -> bool | None:
    v = _first(row, name)
    return None if v is None else v in ("1", "True", "true")


_APP_FIELDS = [
    # dns
    "dns.id",
    "dns.flags.response",
    "dns.qry.name",
    "dns.qry.type",
    "dns.flags.rcode",
    "dns.flags.opcode",
    "dns.flags.authoritative",
    "dns.flags.truncated",
    "dns.flags.recdesired",
    "dns.flags.recavail",
    "dns.flags.z",
    "dns.flags.authenticated",
    "dns.flags.checkdisable",
    "dns.qry.class",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.count.prerequisites",
    "dns.count.updates",
    "dns.resp.type",
    "dns.resp.name",
    "dns.resp.class",
    "dns.resp.ttl",
    "dns.resp.len",
    *_DNS_RDATA_FIELDS,
    # http
    "http.request.method",
    "http.host",
    "http.request.uri",
    "http.user_agent",
    "http.content_length",
    "http.response.code",
    "http.response.version",
    "http.response.phrase",
    "http.content_type",
    "tcp.segment",  # the frames a reassembled message began in: when a reply started
    "http.file_data",
    "mime_multipart.header.content-type",
    "mime_multipart.header.content-disposition",
    # tls
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions_server_name",
    "dtls.handshake.type",
    "dtls.handshake.version",
    "dtls.handshake.ciphersuite",
    "dtls.handshake.extensions_server_name",
    # smb2
    "smb2.cmd",
    "smb2.flags.response",
    "smb2.msg_id",
    "smb2.tree",
    "smb2.share_type",
    "smb2.filename",
    "smb2.fid",
    "smb2.write_length",
    "smb2.read_length",
    "smb2.nt_status",
    "smb2.eof",
    "smb2.create.time",
    "smb2.last_access.time",
    "smb2.last_write.time",
    "smb2.last_change.time",
    "smb2.class",
    "smb2.file_info.infolevel",
    "smb2.disposition.delete_on_close",
    "smb.nt.create_options.delete_on_close",
    # smb1
    "smb.cmd",
    "smb.flags.response",
    "smb.mid",
    "smb.path",
    "smb.service",
    "smb.file",
    "smb.fid",
    "smb.data_len_low",
    # dce/rpc
    "dcerpc.pkt_type",
    "dcerpc.cn_ctx_id",
    "dcerpc.cn_bind_to_uuid",
    "dcerpc.opnum",
    "dcerpc.cn_sec_addr",
    "dcerpc.cn_call_id",
    # kerberos
    "kerberos.msg_type",
    "kerberos.CNameString",
    "kerberos.SNameString",
    "kerberos.sname_string",
    "kerberos.realm",
    "kerberos.crealm",
    "kerberos.from",
    "kerberos.till",
    "kerberos.etype",
    "kerberos.error_code",
    "kerberos.e_text",
    "kerberos.KDCOptions.forwardable",
    "kerberos.KDCOptions.renewable",
    # ntlm
    "ntlmssp.messagetype",
    "ntlmssp.challenge.target_info.nb_computer_name",
    "ntlmssp.challenge.target_info.dns_computer_name",
    "ntlmssp.challenge.target_info.dns_tree_name",
    "ntlmssp.auth.username",
    "ntlmssp.auth.domain",
    "ntlmssp.auth.hostname",
]

# the one tshark pass: every packet's transport fields (conn rows) and, when it carries one of
# the protocols above, that protocol's fields; empty fields cost one tab each
_FIELDS = list(dict.fromkeys(["frame.number", *_PASS1, *_APP_FIELDS]))
# a line whose protocol stack holds one of the protocols the application handlers read
_APP_LINE = re.compile(
    rb"[:\t](?:dns|mdns|http|tls|dtls|smb|smb2|dcerpc|ntlmssp|kerberos)(?=[:\t\r\n])"
)

_SERVICES = [
    ("smb2", "smb"),
    ("smb", "smb"),
    ("dcerpc", "dce_rpc"),
    ("ntlmssp", "ntlm"),
    ("kerberos", "krb"),
    ("http", "http"),
    ("tls", "ssl"),
    ("dns", "dns"),
    ("ldap", "ldap"),
    ("ntp", "ntp"),
    ("imap", "imap"),
    ("smtp", "smtp"),
    ("pop", "pop3"),
    ("ftp", "ftp"),
    ("ssh", "ssh"),
    ("dtls", "dtls"),
    ("mdns", "dns"),
    ("dhcp", "dhcp"),
    ("sip", "sip"),
    ("snmp", "snmp"),
    ("socks", "socks"),
    ("irc", "irc"),
    ("rdp", "rdp"),
    ("mysql", "mysql"),
    ("radius", "radius"),
    ("syslog", "syslog"),
]

# Zeek's likely_server_ports: the ports its protocol analyzers register (zeek/zeek a13de64f,
# scripts/base/protocols/*/main.zeek), by transport. A connection first seen without a SYN is
# turned round when its sender's port is one of them and the receiver's is not.
_LIKELY_SERVER_PORTS = {
    "tcp": (21, 22, 25, 53, 79, 80, 81, 88, 110, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563,
            585, 587, 614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268,
            3306, 3389, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888,
            20000),
    "udp": (53, 67, 68, 88, 123, 137, 161, 162, 389, 443, 514, 784, 853, 1812, 3389, 4011, 5060,
            5353, 5355, 20000),
}  # fmt: skip

# conn rows from per-packet rows, one per TCP/UDP stream, as Zeek builds them:
# * the originator is the sender of the first SYN; a stream first seen at a SYN-ACK is turned
#   round (its receiver is the originator, history '^'); otherwise the port rule above;
# * TCP bytes from the sequence numbers (highest seq+len less the lowest seq of the data a side
#   sent), so retransmitted segments are not counted twice; packets and IP bytes count all;
# * the first time of each history letter per side (S h A D F R T), ordered in Python;
# * FIN and RST times, so that a RST after both FINs leaves the state SF.
_CONN_SQL = """
WITH p00 AS (
    SELECT *, COALESCE(ip_src, ipv6_src) AS src, COALESCE(ip_dst, ipv6_dst) AS dst,
           CASE WHEN tcp_stream IS NOT NULL THEN 'tcp' ELSE 'udp' END AS proto,
           COALESCE(tcp_stream, udp_stream) AS stream,
           COALESCE(tcp_srcport, udp_srcport) AS sport, COALESCE(tcp_dstport, udp_dstport) AS dport,
           COALESCE(tcp_len, udp_length - 8, 0) AS payload,
           COALESCE(ip_len, ipv6_plen + 40, 0) AS iplen
    FROM packets
    WHERE (tcp_stream IS NOT NULL OR udp_stream IS NOT NULL) AND COALESCE(ip_src, ipv6_src) IS NOT NULL
),
silent AS (
    SELECT proto, stream, MIN(ts) AS t0,
           bool_or(tcp_flags_syn = 1 AND tcp_flags_ack = 0) AS any_syn,
           COUNT(DISTINCT src) AS senders
    FROM p00 GROUP BY proto, stream
),
p0 AS (
    -- a SYN nobody answers: Zeek gives up on the attempt after 5 s and starts a new
    -- connection with the packets that follow (segment 1)
    SELECT p00.* REPLACE (
        p00.stream * 2 + CASE WHEN s.proto = 'tcp' AND s.any_syn AND s.senders = 1
                              AND p00.ts > s.t0 + 5 THEN 1 ELSE 0 END AS stream)
    FROM p00 JOIN silent s ON s.proto = p00.proto AND s.stream = p00.stream
),
firsts AS (
    SELECT proto, stream,
           arg_min(src, n) AS f_h, arg_min(sport, n) AS f_p, arg_min(dst, n) AS f_rh,
           arg_min(dport, n) AS f_rp,
           arg_min(COALESCE(tcp_flags_syn, 0) * 2 + COALESCE(tcp_flags_ack, 0), n) AS f_flags,
           arg_min(src, CASE WHEN tcp_flags_syn = 1 AND tcp_flags_ack = 0 THEN n END) AS syn_h,
           arg_min(sport, CASE WHEN tcp_flags_syn = 1 AND tcp_flags_ack = 0 THEN n END) AS syn_p
    FROM p0 GROUP BY proto, stream
),
orient AS (
    SELECT f.*,
        CASE
            WHEN syn_h IS NOT NULL THEN NOT (syn_h = f_h AND syn_p = f_p)
            WHEN f.proto = 'tcp' AND f_flags = 3 THEN TRUE
            WHEN lf.port IS NOT NULL AND lr.port IS NULL THEN TRUE
            WHEN f.proto = 'tcp' AND lf.port IS NOT NULL AND f_flags < 2 AND f_p < f_rp THEN TRUE
            ELSE FALSE
        END AS flipped,
        syn_h IS NULL AND f.proto = 'tcp' AND f_flags = 3 AS synack_start
    FROM firsts f
    LEFT JOIN likely lf ON lf.proto = f.proto AND lf.port = f.f_p
    LEFT JOIN likely lr ON lr.proto = f.proto AND lr.port = f.f_rp
),
o AS (
    SELECT proto, stream, synack_start, flipped,
           CASE WHEN flipped THEN f_rh ELSE f_h END AS o_h,
           CASE WHEN flipped THEN f_rp ELSE f_p END AS o_p,
           CASE WHEN flipped THEN f_h ELSE f_rh END AS r_h,
           CASE WHEN flipped THEN f_p ELSE f_rp END AS r_p
    FROM orient
),
p AS (
    SELECT p0.*, (p0.src = o.o_h AND p0.sport = o.o_p) AS is_o,
           max(CASE WHEN p0.payload > 0 THEN p0.tcp_seq + p0.payload END) OVER (
               PARTITION BY p0.proto, p0.stream, (p0.src = o.o_h AND p0.sport = o.o_p)
               ORDER BY p0.n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS seen_end
    FROM p0 JOIN o ON o.proto = p0.proto AND o.stream = p0.stream
)
SELECT p.proto, p.stream, o.o_h, o.o_p, o.r_h, o.r_p, o.flipped, o.synack_start,
       MIN(p.ts) AS ts, MAX(p.ts) - MIN(p.ts) AS duration,
       SUM(CASE WHEN is_o THEN p.payload ELSE 0 END) AS orig_payload,
       SUM(CASE WHEN is_o THEN 0 ELSE p.payload END) AS resp_payload,
       MAX(CASE WHEN is_o AND p.payload > 0 THEN p.tcp_seq + p.payload END)
         - MIN(CASE WHEN is_o AND p.payload > 0 THEN p.tcp_seq END) AS orig_span,
       MAX(CASE WHEN NOT is_o AND p.payload > 0 THEN p.tcp_seq + p.payload END)
         - MIN(CASE WHEN NOT is_o AND p.payload > 0 THEN p.tcp_seq END) AS resp_span,
       SUM(CASE WHEN is_o THEN 1 ELSE 0 END) AS orig_pkts,
       SUM(CASE WHEN is_o THEN 0 ELSE 1 END) AS resp_pkts,
       SUM(CASE WHEN is_o THEN p.iplen ELSE 0 END) AS orig_ip_bytes,
       SUM(CASE WHEN is_o THEN 0 ELSE p.iplen END) AS resp_ip_bytes,
       MIN(CASE WHEN is_o AND tcp_flags_syn = 1 AND tcp_flags_ack = 0 THEN p.n END) AS o_S,
       MIN(CASE WHEN NOT is_o AND tcp_flags_syn = 1 AND tcp_flags_ack = 0 THEN p.n END) AS r_S,
       MIN(CASE WHEN is_o AND tcp_flags_syn = 1 AND tcp_flags_ack = 1 THEN p.n END) AS o_H,
       MIN(CASE WHEN NOT is_o AND tcp_flags_syn = 1 AND tcp_flags_ack = 1 THEN p.n END) AS r_H,
       MIN(CASE WHEN is_o AND tcp_flags_ack = 1 AND tcp_flags_syn = 0 AND p.payload = 0
                 AND tcp_flags_fin = 0 AND tcp_flags_reset = 0 THEN p.n END) AS o_A,
       MIN(CASE WHEN NOT is_o AND tcp_flags_ack = 1 AND tcp_flags_syn = 0 AND p.payload = 0
                 AND tcp_flags_fin = 0 AND tcp_flags_reset = 0 THEN p.n END) AS r_A,
       MIN(CASE WHEN is_o AND p.payload > 0 THEN p.n END) AS o_D,
       MIN(CASE WHEN NOT is_o AND p.payload > 0 THEN p.n END) AS r_D,
       MIN(CASE WHEN is_o AND tcp_flags_fin = 1 THEN p.n END) AS o_F,
       MIN(CASE WHEN NOT is_o AND tcp_flags_fin = 1 THEN p.n END) AS r_F,
       MIN(CASE WHEN is_o AND tcp_flags_reset = 1 THEN p.n END) AS o_R,
       MIN(CASE WHEN NOT is_o AND tcp_flags_reset = 1 THEN p.n END) AS r_R,
       MIN(CASE WHEN is_o AND p.payload > 0 AND p.tcp_seq < p.seen_end THEN p.n END) AS o_T,
       MIN(CASE WHEN NOT is_o AND p.payload > 0 AND p.tcp_seq < p.seen_end THEN p.n END) AS r_T,
       string_agg(DISTINCT p.frame_protocols, ':') AS protocols
FROM p JOIN o ON o.proto = p.proto AND o.stream = p.stream
GROUP BY p.proto, p.stream, o.o_h, o.o_p, o.r_h, o.r_p, o.flipped, o.synack_start
ORDER BY ts, p.proto, p.stream
"""

_HISTORY_ORDER = "SHFRDTA"  # within one packet, the order Zeek records its letters in


def _history(r: dict[str, Any]) -> str:
    """Zeek's history: each letter once, in the order first seen; the originator's in upper
    case, the responder's in lower case; '^' first when the roles were turned round."""
    events: list[tuple[int, int, str]] = []
    for letter in _HISTORY_ORDER:
        for side, ch in (("o", letter), ("r", letter.lower())):
            n = r.get(f"{side}_{letter}")
            if n is not None:
                events.append((int(n), _HISTORY_ORDER.index(letter), ch))
    out = "".join(ch for _, _, ch in sorted(events))
    return ("^" if r.get("flipped") else "") + out


def _conn_state(r: dict[str, Any]) -> tuple[str, str]:
    """Zeek's conn_state from each side's state (base/protocols/conn/main.zeek), the states
    derived from the flags seen: a RST after both FINs leaves the connection closed (SF)."""
    if r["proto"] != "tcp":
        return ("SF" if r["resp_pkts"] else "S0"), ("Dd" if r["resp_pkts"] else "D")
    hist = _history(r)
    both_fin = r["o_F"] is not None and r["r_F"] is not None
    last_fin = max(r["o_F"] or 0, r["r_F"] or 0)

    def side(prefix: str, opened: bool, pkts: int) -> str:
        rst, fin = r[f"{prefix}_R"], r[f"{prefix}_F"]
        if rst is not None and not (both_fin and rst > last_fin):
            return "RESET"
        if fin is not None:
            return "CLOSED"
        if opened:
            return "OPEN"
        return "PARTIAL" if pkts else "INACTIVE"

    o_syn = r["o_S"] is not None
    r_synack = r["r_H"] is not None
    # without its SYN, the originator is established by an ACK it sends after the SYN-ACK
    # (Zeek takes the SYN as missed); anything it sent before leaves it partial
    o_first = min((r[f"o_{c}"] for c in "SADFRT" if r[f"o_{c}"] is not None), default=None)
    acked = (
        r_synack and o_first is not None and o_first > r["r_H"] and o_first in (r["o_A"], r["o_D"])
    )
    os_ = side("o", r_synack and (o_syn or acked), int(r["orig_pkts"]))
    rs_ = side("r", r_synack, int(r["resp_pkts"]))
    if os_ in ("OPEN", "PARTIAL") and o_syn and not r_synack:
        os_ = "SYN_SENT"  # data without an answer leaves Zeek's originator in SYN_SENT
    o_inactive = os_ in ("INACTIVE", "PARTIAL") or (not o_syn and os_ != "RESET")
    r_inactive = rs_ in ("INACTIVE", "PARTIAL")
    if rs_ == "RESET":
        if os_ == "SYN_SENT" or (o_syn and not r_synack):
            state = "REJ"
        elif o_inactive:
            state = "RSTRH"
        else:
            state = "RSTR"
    elif os_ == "RESET":
        state = "RSTOS0" if o_syn and not r_synack and not r["resp_pkts"] else "RSTO"
        if not o_syn and r_inactive:
            state = "RSTOS0" if False else "RSTO"
    elif os_ == "CLOSED" and rs_ == "CLOSED":
        state = "SF"
    elif os_ == "CLOSED":
        state = "SH" if r_inactive and not r_synack else "S2"
    elif rs_ == "CLOSED":
        state = "SHR" if o_inactive else "S3"
    elif os_ == "SYN_SENT" and rs_ == "INACTIVE":
        state = "S0"
    elif os_ == "OPEN" and rs_ == "OPEN":
        state = "S1"
    else:
        state = "OTH"
    return state, hist


# RFC 4120 section 7.5.9 error codes and RFC 3961/8009 encryption types, by the names Zeek logs
_KRB_ERRORS = {
    0: "KDC_ERR_NONE", 1: "KDC_ERR_NAME_EXP", 2: "KDC_ERR_SERVICE_EXP", 3: "KDC_ERR_BAD_PVNO",
    4: "KDC_ERR_C_OLD_MAST_KVNO", 5: "KDC_ERR_S_OLD_MAST_KVNO", 6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
    7: "KDC_ERR_S_PRINCIPAL_UNKNOWN", 8: "KDC_ERR_PRINCIPAL_NOT_UNIQUE", 9: "KDC_ERR_NULL_KEY",
    10: "KDC_ERR_CANNOT_POSTDATE", 11: "KDC_ERR_NEVER_VALID", 12: "KDC_ERR_POLICY",
    13: "KDC_ERR_BADOPTION", 14: "KDC_ERR_ETYPE_NOSUPP", 15: "KDC_ERR_SUMTYPE_NOSUPP",
    16: "KDC_ERR_PADATA_TYPE_NOSUPP", 17: "KDC_ERR_TRTYPE_NOSUPP", 18: "KDC_ERR_CLIENT_REVOKED",
    19: "KDC_ERR_SERVICE_REVOKED", 20: "KDC_ERR_TGT_REVOKED", 21: "KDC_ERR_CLIENT_NOTYET",
    22: "KDC_ERR_SERVICE_NOTYET", 23: "KDC_ERR_KEY_EXPIRED", 24: "KDC_ERR_PREAUTH_FAILED",
    25: "KDC_ERR_PREAUTH_REQUIRED", 26: "KDC_ERR_SERVER_NOMATCH", 27: "KDC_ERR_MUST_USE_USER2USER",
    28: "KDC_ERR_PATH_NOT_ACCEPTED", 29: "KDC_ERR_SVC_UNAVAILABLE", 31: "KRB_AP_ERR_BAD_INTEGRITY",
    32: "KRB_AP_ERR_TKT_EXPIRED", 33: "KRB_AP_ERR_TKT_NYV", 34: "KRB_AP_ERR_REPEAT",
    35: "KRB_AP_ERR_NOT_US", 36: "KRB_AP_ERR_BADMATCH", 37: "KRB_AP_ERR_SKEW",
    38: "KRB_AP_ERR_BADADDR", 39: "KRB_AP_ERR_BADVERSION", 40: "KRB_AP_ERR_MSG_TYPE",
    41: "KRB_AP_ERR_MODIFIED", 42: "KRB_AP_ERR_BADORDER", 44: "KRB_AP_ERR_BADKEYVER",
    45: "KRB_AP_ERR_NOKEY", 46: "KRB_AP_ERR_MUT_FAIL", 47: "KRB_AP_ERR_BADDIRECTION",
    48: "KRB_AP_ERR_METHOD", 49: "KRB_AP_ERR_BADSEQ", 50: "KRB_AP_ERR_INAPP_CKSUM",
    51: "KRB_AP_PATH_NOT_ACCEPTED", 52: "KRB_ERR_RESPONSE_TOO_BIG", 60: "KRB_ERR_GENERIC",
    61: "KRB_ERR_FIELD_TOOLONG", 62: "KDC_ERROR_CLIENT_NOT_TRUSTED", 63: "KDC_ERROR_KDC_NOT_TRUSTED",
    64: "KDC_ERROR_INVALID_SIG", 65: "KDC_ERR_KEY_TOO_WEAK", 66: "KDC_ERR_CERTIFICATE_MISMATCH",
    67: "KRB_AP_ERR_NO_TGT", 68: "KDC_ERR_WRONG_REALM", 69: "KRB_AP_ERR_USER_TO_USER_REQUIRED",
    70: "KDC_ERR_CANT_VERIFY_CERTIFICATE", 71: "KDC_ERR_INVALID_CERTIFICATE",
    72: "KDC_ERR_REVOKED_CERTIFICATE", 73: "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
    74: "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE", 75: "KDC_ERR_CLIENT_NAME_MISMATCH",
    76: "KDC_ERR_KDC_NAME_MISMATCH",
}  # fmt: skip
_KRB_CIPHERS = {
    1: "des-cbc-crc", 2: "des-cbc-md4", 3: "des-cbc-md5", 5: "des3-cbc-md5", 7: "des3-cbc-sha1",
    16: "des3-cbc-sha1-kd", 17: "aes128-cts-hmac-sha1-96", 18: "aes256-cts-hmac-sha1-96",
    19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192", 23: "rc4-hmac",
    24: "rc4-hmac-exp", 25: "camellia128-cts-cmac", 26: "camellia256-cts-cmac",
}  # fmt: skip


_TLS_VERSIONS = {
    0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12", 0x0304: "TLSv13",
    0xFEFF: "DTLSv10", 0xFEFD: "DTLSv12", 0xFEFC: "DTLSv13", 0x0002: "SSLv2",
}  # fmt: skip
_CIPHERS: dict[int, str] | None = None
_TSHARK_FOR_VALUES: str | None = None


def _cipher_names() -> dict[int, str]:
    """TLS cipher suite names (IANA's, as Zeek logs them) from tshark's own value table."""
    global _CIPHERS
    if _CIPHERS is None:
        _CIPHERS = {}
        if _TSHARK_FOR_VALUES:
            try:
                res = subprocess.run(
                    [_TSHARK_FOR_VALUES, "-G", "values"],
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
                for line in res.stdout.decode("utf-8", "replace").splitlines():
                    parts = line.split("\t")
                    if (
                        len(parts) == 4
                        and parts[0] == "V"
                        and parts[1] == "tls.handshake.ciphersuite"
                    ):
                        _CIPHERS[int(parts[2])] = parts[3]
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
    return _CIPHERS


def _abs_parts(v: str | None) -> tuple[int, str] | None:
    """tshark prints absolute times as 'Jan 19, 2015 22:54:59.000000000 UTC': the whole
    seconds since 1970 and the digits of the fraction."""
    if not v:
        return None
    try:
        head, _, frac = v.replace(" UTC", "").partition(".")
        dt = datetime.strptime(head, "%b %d, %Y %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(dt.timestamp()), frac if frac.isdigit() else ""


def _abs_time(v: str | None) -> float | None:
    """A Kerberos time as tshark prints it, in seconds since 1970."""
    parts = _abs_parts(v)
    return None if parts is None else parts[0] + (float("0." + parts[1]) if parts[1] else 0.0)


_FILETIME_EPOCH = 11644473600  # seconds from 1601-01-01 (FILETIME's zero) to 1970-01-01


def _filetime(v: str | None) -> float | None:
    """An SMB FILETIME (100 ns units since 1601) as Zeek turns it into a time: the count as a
    double divided by 10^7, less the seconds to 1970. The double holds the count to about
    2 microseconds today, and Zeek's logged times carry that rounding."""
    parts = _abs_parts(v)
    if parts is None:
        return None
    ticks = (parts[0] + _FILETIME_EPOCH) * 10_000_000 + int((parts[1] + "0" * 7)[:7])
    return float(ticks) / 10_000_000.0 - float(_FILETIME_EPOCH)


_CONN_SIDES = (
    ("id.orig_h", "id.resp_h"),
    ("id.orig_p", "id.resp_p"),
    ("orig_bytes", "resp_bytes"),
    ("orig_pkts", "resp_pkts"),
    ("orig_ip_bytes", "resp_ip_bytes"),
)


def _open_action(tree: object) -> str:
    """Opens on IPC$ are named pipes (logged as SMB::PIPE_OPEN, as a sensor logging pipe
    opens would); everything else is a file."""
    return "SMB::PIPE_OPEN" if str(tree or "").upper().endswith("IPC$") else "SMB::FILE_OPEN"


def _services(protocols: str | None, proto: str = "udp") -> list[str]:
    parts = set((protocols or "").split(":"))
    out: list[str] = []
    for layer, name in _SERVICES:
        if layer in parts and name not in out:
            out.append("krb_tcp" if name == "krb" and proto == "tcp" else name)
    return out


# services tshark names from the port alone (no content check), dropped when content says otherwise
_PORT_GUESSES = frozenset({"ssh", "socks", "irc", "rdp", "mysql", "ftp", "pop3", "imap", "smtp"})

# how a TCP stream's first bytes look, for protocols found by content rather than by port
_HTTP_REQUEST = re.compile(rb"^([A-Za-z][A-Za-z0-9_.-]{1,31}) +(\S*)(?: +HTTP/(\d\.\d))?\r?\n")
_HTTP_REPLY = re.compile(rb"^HTTP/(\d\.\d) +(\d{3})(?: +([^\r\n]*))?")


def _sniff(data: bytes) -> str | None:
    """The protocol a stream's first client bytes belong to (HTTP, TLS, SMB, SSH), whatever
    the port."""
    if _HTTP_REQUEST.match(data):
        return "http"
    if data.startswith(b"SSH-"):
        return "ssh"
    if len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03 and data[2] <= 0x04:
        return "ssl"
    if len(data) >= 8 and data[0] == 0 and data[4:8] in (b"\xffSMB", b"\xfeSMB"):
        return "smb"
    return None


_TSHARK_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[rnt\\\"abfv0])")
_SIMPLE_ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\", '"': '"', "a": "\a",
                   "b": "\b", "f": "\f", "v": "\v", "0": "\0"}  # fmt: skip


def _tshark_bytes(text: str) -> bytes:
    """A string field as tshark prints it (C escapes for what is not printable) back to bytes."""

    def one(m: re.Match[str]) -> str:
        g = m.group(1)
        return chr(int(g[1:], 16)) if g[0] == "x" else _SIMPLE_ESCAPES[g]

    return _TSHARK_ESCAPE.sub(one, text).encode("latin-1", "replace")


def _sniff_mime(data: bytes) -> str | None:
    """The MIME type of content by its first bytes, as Zeek's file analysis names it (Zeek
    types files by content, never by the Content-Type header); None when nothing matches."""
    if not data:
        return None
    for magic, mime in (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF8", "image/gif"),
        (b"%PDF", "application/pdf"),
        (b"MZ", "application/x-dosexec"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/x-gzip"),
        (b"\xd0\xcf\x11\xe0", "application/msword"),
        (b"{\\rtf", "text/rtf"),
    ):
        if data.startswith(magic):
            return mime
    head = data[:1024].lstrip()
    low = head[:64].lower()
    if low.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if low.startswith(b"<?xml"):
        return "application/xml"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text/plain"
    return None


def _body_mimes(row: dict[str, str], header_mimes: list[str]) -> list[str | None]:
    """orig_mime_types of a request: each multipart part (or the whole body) typed by its
    content; the parts' Content-Type headers only when tshark gave no body."""
    body_text = _first(row, "http.file_data")
    if body_text is None:
        return list(header_mimes)
    body = _tshark_bytes(body_text)
    ctype = _first(row, "http.content_type") or ""
    m = re.search(r"boundary=\"?([^\";]+)", ctype, re.I)
    if not m or not ctype.lower().startswith("multipart/"):
        mime = _sniff_mime(body)
        return [mime] if mime else []
    sep = b"--" + m.group(1).encode("latin-1")
    out: list[str | None] = []
    for part in body.split(sep)[1:]:
        if part.startswith(b"--"):
            break
        _, blank, data = part.partition(b"\r\n\r\n")
        if not blank:
            _, blank, data = part.partition(b"\n\n")
        out.append(_sniff_mime(data.removesuffix(b"\r\n")))
    return out


def _request_uri(row: dict[str, str]) -> str | None:
    """The request's URI; a request line without one ('GET  HTTP/1.1') has an empty URI,
    which tshark reports as the version."""
    uri = _first(row, "http.request.uri")
    if uri is not None and re.fullmatch(r"HTTP/\d\.\d", uri):
        return ""
    return _unescape_uri(uri)


def _unescape_uri(uri: str | None) -> str | None:
    """Zeek logs the URI with its %XX escapes decoded."""
    if uri is None or "%" not in uri:
        return uri
    return urllib.parse.unquote(uri, encoding="utf-8", errors="surrogateescape")


def _http_head(data: bytes) -> dict[str, str]:
    """Request or reply line and headers from the first bytes of a stream (lower-case names)."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.decode("latin-1").splitlines()
    out: dict[str, str] = {"": lines[0] if lines else ""}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() not in out:
            out[name.strip().lower()] = value.strip()
    return out


@dataclass(frozen=True, slots=True)
class _RpcTables:
    """content/dcerpc/interfaces.yaml: Zeek's interface and operation names (tools/dcerpc_tables.py)."""

    interfaces: dict[str, tuple[str, dict[int, str]]]
    pipes: dict[str, str]  # pipe name (lower case) -> interface UUID, when the bind is unseen
    ignored: dict[str, frozenset[str]]  # endpoint -> operations Zeek does not log

    def name(self, uuid: str, opnum: int | None) -> tuple[str, str | None]:
        endpoint, ops = self.interfaces.get(uuid, (f"unknown-{uuid}", {}))
        if opnum is None:
            return endpoint, None
        return endpoint, ops.get(opnum, f"unknown-{opnum}")


def _pipe_key(pipe: str) -> str:
    """Zeek's normalisation: the part after \\PIPE\\, else the name, lower case, no leading \\."""
    low = pipe.lower()
    if "\\pipe\\" in low:
        low = low.split("\\pipe\\", 1)[1]
    return low.lstrip("\\")


_RPC_TABLES: _RpcTables | None = None


def _interfaces() -> _RpcTables:
    global _RPC_TABLES
    if _RPC_TABLES is None:
        text = resources.files("duqhunt.content").joinpath("dcerpc", "interfaces.yaml").read_text()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster
        data = yaml.load(text, Loader=loader)
        _RPC_TABLES = _RpcTables(
            interfaces={
                str(uuid).lower(): (
                    str(spec["endpoint"]),
                    {int(k): str(v) for k, v in (spec.get("operations") or {}).items()},
                )
                for uuid, spec in data["interfaces"].items()
            },
            pipes={str(k).lower(): str(v).lower() for k, v in (data.get("pipes") or {}).items()},
            ignored={str(k): frozenset(v) for k, v in (data.get("ignored") or {}).items()},
        )
    return _RPC_TABLES


class _Tshark:
    """Runs one tshark pass into a file; keeps what was decoded if tshark fails or times out."""

    def __init__(self, tshark: str, limits: PcapLimits) -> None:
        self.tshark = tshark
        self.limits = limits

    def run(
        self,
        capture: Path,
        fields: list[str],
        out: Path,
        display_filter: str | None,
        desegment: bool = True,
    ) -> list[str]:
        args = [
            self.tshark,
            "-n",
            "-r",
            str(capture),
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            f"aggregator={AGG}",
            "-E",
            "quote=n",
            "-o",
            f"tcp.desegment_tcp_streams:{'TRUE' if desegment else 'FALSE'}",
        ]
        if display_filter:
            args += ["-Y", display_filter]
        for f in fields:
            args += ["-e", f]
        warnings: list[str] = []
        with open(out, "wb") as fh, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(args, stdout=fh, stderr=err, stdin=subprocess.DEVNULL)
            try:
                rc = proc.wait(timeout=self.limits.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                warnings.append(
                    f"{capture}: tshark did not finish within {self.limits.timeout_s:.0f} s; "
                    "the packets decoded until then are kept"
                )
                rc = 0
            err.seek(0)
            stderr = err.read(8192).decode("utf-8", "replace")
        lines = [ln for ln in stderr.splitlines() if ln.strip() and "Running as user" not in ln]
        if rc != 0:
            signal = f" (signal {-rc})" if rc < 0 else ""
            detail = "; ".join(lines[:3]) or "no message"
            warnings.append(
                f"{capture}: tshark exited with status {rc}{signal}: {detail}; "
                "the packets decoded before it stopped are kept"
            )
        elif lines:
            warnings.append(f"{capture}: tshark: {'; '.join(lines[:3])}")
        return warnings


def _rows(
    path: Path, fields: list[str], wanted: re.Pattern[bytes]
) -> Iterator[tuple[int, dict[str, str]]]:
    """The lines ``wanted`` matches, as {field: value} without the empty fields, with their
    frame number."""
    n = len(fields)
    with open(path, "rb") as fh:
        for raw in fh:
            if not wanted.search(raw):
                continue
            parts = raw.decode("utf-8", "replace").rstrip("\r\n").split("\t")
            if len(parts) != n:
                continue
            row = {f: v for f, v in zip(fields, parts, strict=True) if v}
            yield _int(row.get("frame.number")) or 0, row


def _began(row: dict[str, str], frame_no: int) -> int:
    """The frame a (possibly reassembled) message began in."""
    frames = [f for f in (_int(v) for v in _multi(row, "tcp.segment")) if f is not None]
    return min(frames, default=frame_no)


def _multi(row: dict[str, str], name: str) -> list[str]:
    v = row.get(name)
    return v.split(AGG) if v else []


def _last_sname(row: dict[str, str]) -> list[str]:
    """The components of a packet's last server name (sname_string counts each name's): a
    TGS-REQ carries its TGT's sname in the padata before the request body's own."""
    names = _multi(row, "kerberos.SNameString")
    counts = [n for n in (_int(v) for v in _multi(row, "kerberos.sname_string")) if n]
    if counts and sum(counts) == len(names):
        return names[len(names) - counts[-1] :]
    return names


def _first(row: dict[str, str], name: str) -> str | None:
    vals = _multi(row, name)
    return vals[0] if vals else None


def _int(v: str | None) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v, 0)
    except ValueError:
        try:
            return int(float(v))
        except ValueError:
            return None


def _plausible(
    rows: list[dict[str, object]], log_type: str, capture: Path
) -> tuple[list[dict[str, object]], str | None]:
    """The rows whose time the Zeek reader takes, and a warning naming the capture for the
    rest: a packet stamped 1970 or 2106 (a damaged record header, a clock never set) would
    otherwise be skipped on ingest with a warning naming the temporary log it was written to.
    """
    bounds = Limits().ts_bounds()
    keep: list[dict[str, object]] = []
    bad: list[str] = []
    for r in rows:
        ts = r.get("ts")
        why = bad_time_reason("ts", float(str(ts)), bounds) if ts is not None else None
        if why is None:
            keep.append(r)
        else:
            bad.append(why)
    if not bad:
        return rows, None
    return keep, (f"{capture}: {len(bad)} {log_type} row(s) not kept: {bad[0]} ({len(keep)} kept)")


class PcapConverter:
    """Turns one capture into Zeek-schema TSV logs in ``workdir``."""

    def __init__(
        self, capture: Path, tshark: str, workdir: Path, limits: PcapLimits | None = None
    ) -> None:
        self.capture = Path(capture)
        self.tshark = _Tshark(tshark, limits or PcapLimits())
        global _TSHARK_FOR_VALUES
        _TSHARK_FOR_VALUES = tshark
        self.limits = limits or PcapLimits()
        self.workdir = Path(workdir)
        self._salt = hashlib.sha256(str(self.capture.name).encode()).hexdigest()[:6]

    def _uid(self, proto: str, stream: str | int) -> str:
        h = hashlib.sha256(f"{self._salt}:{proto}:{stream}".encode()).hexdigest()
        return "C" + h[:17]

    def convert(self) -> PcapResult:
        if not is_capture(self.capture):
            raise InputError(str(self.capture), "not a pcap or pcapng file", offset=0)
        self.workdir.mkdir(parents=True, exist_ok=True)
        warnings: list[str] = []
        pkt_file = self.workdir / "packets.tsv"
        warnings += self.tshark.run(self.capture, _FIELDS, pkt_file, None)
        conns, packets, first_frames = self._conns(pkt_file)
        payloads, more = self._first_payloads([f[0] for f in first_frames])
        warnings += more
        uid_of: dict[tuple[str, str], tuple[object, ...]] = {}
        for c in conns:
            key = c.pop("proto_key")
            if key is None:
                continue
            assert isinstance(key, tuple)
            uid_of[(str(key[0]), str(key[1]))] = (
                str(c["uid"]),
                c["id.orig_h"],
                c["id.orig_p"],
                c["id.resp_h"],
                c["id.resp_p"],
            )
        self._app_cut = False
        tables = self._app(pkt_file, uid_of, first_frames, payloads)
        if self._app_cut:
            warnings.append(
                f"{self.capture}: more than {self.limits.max_app_rows} application-layer "
                "packets; the rest are in conn only (no dns, http, ssl, smb... rows)"
            )
        for c in conns:
            if c["uid"] in self._flip_uids:  # seen from the application layer: orig is the client
                for a, b in _CONN_SIDES:
                    c[a], c[b] = c[b], c[a]
            kind = self._content_service.get(str(c["uid"]))
            if kind and (str(c["uid"]), False) in self._first_bytes:
                # found by content (both sides spoke): that protocol, not the port's guess
                named = [x for x in str(c["service"] or "").split(",") if x]
                keep = [x for x in named if x not in _PORT_GUESSES or x == kind]
                c["service"] = ",".join(dict.fromkeys([kind, *keep]))
        tables["conn"] = conns
        logs: dict[str, Path] = {}
        dropped = False
        for log_type, rows in tables.items():
            why = None
            if self.limits.drop_implausible_times:
                rows, why = _plausible(rows, log_type, self.capture)
            if why:
                warnings.append(why)
                dropped = True
            if not rows:
                continue
            rows.sort(key=lambda r: (float(str(r.get("ts") or 0.0)), str(r.get("uid") or "")))
            path = self.workdir / f"{log_type}.log"
            write_zeek_tsv(path, log_type, rows)
            logs[log_type] = path
        pkt_file.unlink(missing_ok=True)
        complete = (
            not dropped
            and not self._app_cut
            and not any("exited with status" in w or "did not finish" in w for w in warnings)
        )
        return PcapResult(logs=logs, packets=packets, warnings=warnings, complete=complete)

    # -- conn ------------------------------------------------------------------------------
    def _conns(
        self, pkt_file: Path
    ) -> tuple[list[dict[str, object]], int, list[tuple[int, float, str, str, int]]]:
        """conn rows, the packet count, and the first data segment of each TCP direction
        (frame number, time, tshark stream, sender address and port) for content sniffing."""
        con = duckdb.connect()
        try:
            cols = ", ".join(f"'{f}': '{self._duck_type(f)}'" for f in _FIELDS)
            # only the transport columns are kept; frame.number keeps the capture's order
            keep = ", ".join(
                f'"{f}" AS {"ts" if f == "frame.time_epoch" else f.replace(".", "_")}'
                for f in _PASS1
            )
            con.execute(
                f'CREATE TABLE packets AS SELECT "frame.number" AS n, {keep} '
                f"FROM read_csv('{pkt_file}', delim='\t', "
                f"header=false, quote='', escape='', auto_detect=false, columns={{{cols}}}, "
                f"ignore_errors=true, null_padding=true)"
            )
            total = con.execute("SELECT COUNT(*) FROM packets").fetchone()
            con.execute("CREATE TABLE likely (proto VARCHAR, port BIGINT)")
            con.executemany(
                "INSERT INTO likely VALUES (?, ?)",
                [(proto, port) for proto, ports in _LIKELY_SERVER_PORTS.items() for port in ports],
            )
            rows = con.execute(_CONN_SQL).fetchall()
            desc = [d[0] for d in con.description or []]
            firsts = con.execute(
                "SELECT MIN(n), arg_min(ts, n), CAST(tcp_stream AS VARCHAR), "
                "COALESCE(ip_src, ipv6_src) AS src, tcp_srcport FROM packets "
                "WHERE tcp_len > 0 AND tcp_seq <= 1 AND tcp_stream IS NOT NULL "
                "GROUP BY tcp_stream, src, tcp_srcport ORDER BY 1"
            ).fetchall()
        finally:
            con.close()
        out: list[dict[str, object]] = []
        for values in rows:
            r = dict(zip(desc, values, strict=True))
            state, hist = _conn_state(r)
            tcp = r["proto"] == "tcp"
            orig_bytes = r["orig_span"] if tcp and r["orig_span"] is not None else r["orig_payload"]
            resp_bytes = r["resp_span"] if tcp and r["resp_span"] is not None else r["resp_payload"]
            out.append(
                {
                    "ts": float(r["ts"]),
                    "uid": self._uid(str(r["proto"]), str(r["stream"])),
                    "id.orig_h": r["o_h"],
                    "id.orig_p": r["o_p"],
                    "id.resp_h": r["r_h"],
                    "id.resp_p": r["r_p"],
                    "proto": r["proto"],
                    # Zeek names a TCP service once its analyzer has parsed both sides
                    "service": (
                        ",".join(_services(r["protocols"], str(r["proto"])))
                        if not tcp or (r["o_D"] is not None and r["r_D"] is not None)
                        else ""
                    )
                    or None,
                    "duration": float(r["duration"]),
                    "orig_bytes": int(orig_bytes or 0),
                    "resp_bytes": int(resp_bytes or 0),
                    "conn_state": state,
                    "missed_bytes": 0,
                    "history": hist,
                    "orig_pkts": int(r["orig_pkts"]),
                    "orig_ip_bytes": int(r["orig_ip_bytes"]),
                    "resp_pkts": int(r["resp_pkts"]),
                    "resp_ip_bytes": int(r["resp_ip_bytes"]),
                    "ip_proto": 6 if r["proto"] == "tcp" else 17,
                    # application rows name tshark's stream; a SYN-attempt's tail has none
                    "proto_key": (str(r["proto"]), str(int(r["stream"]) // 2))
                    if int(r["stream"]) % 2 == 0
                    else None,
                }
            )
        packets = int(total[0]) if total else 0
        first = [(int(n), float(t), str(st), str(h), int(pt)) for n, t, st, h, pt in firsts if h]
        return out, packets, first

    def _first_payloads(self, frames: list[int]) -> tuple[dict[int, bytes], list[str]]:
        """The first bytes of the given frames' TCP payloads: editcap copies those frames into
        a small capture (no dissection) and tshark prints their payloads, so the pass over the
        whole capture need not print every segment's payload."""
        if not frames:
            return {}, []
        editcap = Path(self.tshark.tshark).with_name("editcap")
        found = str(editcap) if editcap.is_file() else shutil.which("editcap")
        if not found:
            return {}, [
                f"{self.capture}: editcap (Wireshark's, installed with tshark) was not found; "
                "protocols are named by tshark's port table only, not by their first bytes"
            ]
        out: dict[int, bytes] = {}
        warnings: list[str] = []
        step = 20_000  # frame numbers per editcap run: well inside the argument list limit
        for i in range(0, len(frames), step):
            chunk = frames[i : i + step]
            small = self.workdir / "first.pcapng"
            listing = self.workdir / "first.tsv"
            try:
                res = subprocess.run(
                    [found, "-r", str(self.capture), str(small), *map(str, chunk)],
                    capture_output=True,
                    timeout=self.limits.timeout_s,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                warnings.append(f"{self.capture}: editcap failed ({exc}); no content sniffing")
                break
            # a cut-short capture makes editcap fail at its end: the frames before it are kept
            if not small.exists():
                detail = res.stderr.decode("utf-8", "replace").strip()[:300]
                warnings.append(
                    f"{self.capture}: editcap exited with status {res.returncode}: {detail}; "
                    "no content sniffing"
                )
                break
            # said of the capture itself, not of the temporary copy
            warnings += [
                w.replace(str(small), f"{self.capture} (its first data segments)")
                for w in self.tshark.run(small, ["tcp.payload"], listing, None, desegment=False)
            ]
            with open(listing, "rb") as fh:
                for frame, line in zip(chunk, fh, strict=False):
                    hexed = line.split(b"\t", 1)[0].split(AGG.encode(), 1)[0].strip()
                    if hexed:
                        with contextlib.suppress(ValueError):
                            out[frame] = bytes.fromhex(hexed[:8192].decode("ascii"))
            small.unlink(missing_ok=True)
            listing.unlink(missing_ok=True)
        return out, warnings

    @staticmethod
    def _duck_type(f: str) -> str:
        if f == "frame.number":
            return "BIGINT"
        if f not in _PASS1:
            return "VARCHAR"  # application fields: read in Python, may hold several values
        if f == "frame.time_epoch":
            return "DOUBLE"
        if f.endswith(("port", ".stream", ".len", ".length", ".plen", ".seq")) or f.startswith(
            "tcp.flags"
        ):
            return "BIGINT"
        return "VARCHAR"

    # -- application layers ------------------------------------------------------------------
    def _app(
        self,
        app_file: Path,
        uid_of: dict[tuple[str, str], tuple[object, ...]],
        first_frames: list[tuple[int, float, str, str, int]],
        payloads: dict[int, bytes],
    ) -> dict[str, list[dict[str, object]]]:
        ifaces = _interfaces()
        krb: dict[str, dict[str, object]] = {}  # uid -> this connection's kerberos row
        tls: dict[str, dict[str, object]] = {}  # uid -> this connection's ssl row
        ntlm: dict[str, dict[str, object]] = {}  # uid -> the NTLM exchange under way
        self._flip_uids: set[str] = set()
        self._smb_info: dict[tuple[str, str], dict[str, object]] = {}
        self._smb_seen: set[tuple[object, ...]] = set()
        self._bases: dict[str, dict[str, object]] = {}
        self._first_bytes: dict[tuple[str, bool], bytes] = {}
        self._http_orphans: dict[str, dict[str, object]] = {}
        self._content_service: dict[str, str] = {}
        self._rpc_pipe: dict[tuple[str, str], str] = {}
        self._rpc_pending: dict[tuple[str, str, str], dict[str, object]] = {}
        out: dict[str, list[dict[str, object]]] = defaultdict(list)
        pending_tree: dict[tuple[str, str], dict[str, object]] = {}
        pending_create: dict[tuple[str, str], dict[str, object]] = {}
        fid_name: dict[tuple[str, str], tuple[str, str]] = {}  # (stream, fid) -> (name, tree)
        transfers: dict[tuple[str, str, bool], dict[str, object]] = {}
        ctx_iface: dict[tuple[str, str, str], str] = {}
        http_req: dict[str, dict[str, object]] = {}
        # per connection, the requests no reply has answered yet, with the frame each began in
        unanswered: dict[str, deque[tuple[int, dict[str, object]]]] = defaultdict(deque)
        dns_q: dict[tuple[str, str], dict[str, object]] = {}
        depth: dict[str, int] = defaultdict(int)
        for frame, ts0, tstream, sender, sport in first_frames:  # in frame order
            fc = uid_of.get(("tcp", tstream))
            if fc is None:
                continue
            fuid = str(fc[0])
            self._bases.setdefault(
                fuid,
                {
                    "ts": ts0,
                    "uid": fuid,
                    "id.orig_h": fc[1],
                    "id.orig_p": fc[2],
                    "id.resp_h": fc[3],
                    "id.resp_p": fc[4],
                },
            )
            data = payloads.get(frame)
            if data:
                self._first_bytes[(fuid, sender == fc[1] and sport == fc[2])] = data
        count = 0
        for frame_no, row in _rows(app_file, _FIELDS, _APP_LINE):
            count += 1
            if count > self.limits.max_app_rows:
                self._app_cut = True
                break
            ts = float(row.get("frame.time_epoch", "0") or 0)
            src = row.get("ip.src") or row.get("ipv6.src")
            dst = row.get("ip.dst") or row.get("ipv6.dst")
            tcp = row.get("tcp.stream")
            udp = row.get("udp.stream")
            proto, stream = ("tcp", tcp) if tcp is not None else ("udp", udp or "")
            conn = uid_of.get((proto, str(stream)))
            if conn is None or src is None:
                continue
            uid = str(conn[0])
            # every row carries its connection's orientation (originator first), as in Zeek
            base = {
                "ts": ts,
                "uid": uid,
                "id.orig_h": conn[1],
                "id.orig_p": conn[2],
                "id.resp_h": conn[3],
                "id.resp_p": conn[4],
            }
            protos = row.get("frame.protocols", "")
            layers = protos.split(":")
            from_orig = (
                src == conn[1] and _int(row.get("tcp.srcport") or row.get("udp.srcport")) == conn[2]
            )
            known = self._bases.get(uid)
            if known is None or ts < float(str(known["ts"])):
                self._bases[uid] = base
            if "dns" in layers or "mdns" in layers:
                self._dns(row, base, dns_q, out, proto, from_orig, str(dst or ""))
            # a request line that is a method alone is no request to Zeek (its parser wants
            # whitespace and a URI after the method): the reply is logged on its own
            if "http.request.method" in row and "http.request.uri" in row:
                depth[uid] += 1
                req = {
                    **base,
                    "trans_depth": depth[uid],
                    "method": _first(row, "http.request.method"),
                    "host": _first(row, "http.host"),
                    "uri": _request_uri(row),
                    "user_agent": _first(row, "http.user_agent"),
                    "request_body_len": _int(_first(row, "http.content_length")) or 0,
                    "response_body_len": 0,
                }
                header_mimes = [
                    m.split(";")[0].strip().lower()
                    for m in _multi(row, "mime_multipart.header.content-type")
                ]
                names = [
                    self._disposition_name(d)
                    for d in _multi(row, "mime_multipart.header.content-disposition")
                ]
                method = _first(row, "http.request.method")
                # a CONNECT's body is the tunnel, not an entity
                mimes = [] if method == "CONNECT" else _body_mimes(row, header_mimes)
                if mimes:
                    fuids = [self._fuid(uid, frame_no, i) for i in range(len(mimes))]
                    req["orig_mime_types"] = [m for m in mimes if m] or None
                    req["orig_fuids"] = fuids
                    req["orig_filenames"] = [n or "" for n in names] if any(names) else None
                    for i, mime in enumerate(mimes):
                        if mime is None:
                            continue
                        out["files"].append(
                            {
                                **base,
                                "fuid": fuids[i],
                                "source": "HTTP",
                                "depth": 0,
                                "mime_type": mime,
                                "filename": names[i] if i < len(names) else None,
                                "is_orig": True,
                                "seen_bytes": None,
                                "total_bytes": None,
                                "missing_bytes": 0,
                                "overflow_bytes": 0,
                                "timedout": False,
                            }
                        )
                http_req[str(frame_no)] = req
                unanswered[uid].append((_began(row, frame_no), req))
                out["http"].append(req)
            elif "http.response.code" in row:
                self._http_replies(row, base, frame_no, unanswered[uid], depth, out)
            if "tls.handshake.type" in row or "dtls.handshake.type" in row:
                self._tls(row, base, tls, out)
            if "smb2.cmd" in row:
                self._smb2(
                    row, base, str(stream), pending_tree, pending_create, fid_name, transfers, out
                )
            elif "smb.cmd" in row:
                self._smb1(
                    row, base, str(stream), pending_tree, pending_create, fid_name, transfers, out
                )
            if "dcerpc.pkt_type" in row:
                self._dcerpc(row, base, str(stream), fid_name, ctx_iface, ifaces, out)
            if "kerberos.msg_type" in row:
                self._krb(row, base, krb, out)
            if "ntlmssp.messagetype" in row:
                self._ntlm(row, base, ntlm, out)
        for t in transfers.values():
            out["files"].append(t)
        self._by_content(out, http_req, tls)
        return out

    def _http_replies(
        self,
        row: dict[str, str],
        base: dict[str, object],
        frame_no: int,
        waiting: deque[tuple[int, dict[str, object]]],
        depth: dict[str, int],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """Replies answer requests in the order they were sent, as Zeek pairs them (not by
        tshark's request_in); a reply with no request waiting is a row of its own, as in Zeek;
        an interim reply (1xx but 101) is noted on the waiting request, which waits on. A reply
        that began before the request was sent answers nothing (Zeek: a reply before the
        request). One packet may carry several replies."""
        uid = str(base["uid"])
        began = _began(row, frame_no)
        lengths = _multi(row, "http.content_length")
        bodies = _multi(row, "http.file_data")
        codes = _multi(row, "http.response.code")
        # the reply's status line (Zeek logs the reply's version and reason phrase); with
        # several replies in a packet, only when every one of them gave both
        versions = _multi(row, "http.response.version")
        phrases = _multi(row, "http.response.phrase")
        if len(versions) != len(codes) or len(phrases) != len(codes):
            versions = phrases = []
        for i, code_text in enumerate(codes):
            code = _int(code_text)
            if code is not None and 100 <= code < 200 and code != 101:
                if waiting:
                    waiting[0][1]["info_code"] = code
                continue
            target = waiting.popleft()[1] if waiting and waiting[0][0] < began else None
            if target is None:
                depth[uid] += 1
                target = {
                    **base,
                    "trans_depth": depth[uid],
                    "request_body_len": 0,
                    "response_body_len": 0,
                }
                out["http"].append(target)
                self._http_orphans.setdefault(uid, target)
            target["status_code"] = code
            if versions:
                target["version"] = versions[i].removeprefix("HTTP/")
                target["status_msg"] = phrases[i]
            target["response_body_len"] = _int(lengths[i] if i < len(lengths) else None) or 0
            body_text = bodies[i] if i < len(bodies) else None
            if target["response_body_len"] or body_text:
                # the reply's entity is a file to Zeek (files.log, source HTTP, is_orig F)
                body = _tshark_bytes(body_text) if body_text else b""
                mime = _sniff_mime(body)
                fuid = self._fuid(uid, frame_no, f"resp{i}" if i else "resp")
                target["resp_fuids"] = [fuid]
                target["resp_mime_types"] = [mime] if mime else None
                out["files"].append(
                    {
                        **base,
                        "fuid": fuid,
                        "source": "HTTP",
                        "depth": 0,
                        "mime_type": mime,
                        "filename": None,
                        "is_orig": False,
                        "seen_bytes": len(body) or None,
                        "total_bytes": target["response_body_len"] or None,
                        "missing_bytes": 0,
                        "overflow_bytes": 0,
                        "timedout": False,
                    }
                )

    def _by_content(
        self,
        out: dict[str, list[dict[str, object]]],
        http_req: dict[str, dict[str, object]],
        tls: dict[str, dict[str, object]],
    ) -> None:
        """Protocols found by a stream's first bytes, whatever its port (as Zeek's dynamic
        protocol detection does): an HTTP request tshark left undecoded (an unusual port or
        method) becomes an http row from its request line and headers; a TLS ClientHello
        gives an ssl row; each names the connection's service."""
        with_request = {str(r["uid"]) for r in http_req.values()}
        for (uid, from_orig), data in self._first_bytes.items():
            if not from_orig:
                continue
            kind = _sniff(data)
            if kind is None:
                continue
            self._content_service[uid] = kind
            base = self._bases[uid]
            if kind == "http" and uid not in with_request:
                m = _HTTP_REQUEST.match(data)
                assert m is not None
                head = _http_head(data)
                rec = self._http_orphans.get(uid)
                if rec is None:
                    rec = {**base, "trans_depth": 1, "request_body_len": 0, "response_body_len": 0}
                    out["http"].append(rec)
                    reply = _HTTP_REPLY.match(self._first_bytes.get((uid, False), b""))
                    if reply:
                        rec["status_code"] = int(reply.group(2))
                rec["method"] = m.group(1).decode("latin-1")
                rec["uri"] = _unescape_uri(m.group(2).decode("latin-1"))
                rec["version"] = m.group(3).decode() if m.group(3) else None
                rec["host"] = head.get("host")
                rec["user_agent"] = head.get("user-agent")
                rec["request_body_len"] = _int(head.get("content-length")) or 0
            elif kind == "ssl" and uid not in tls:
                out["ssl"].append({**base, "established": False, "resumed": False})

    @staticmethod
    def _ntlm(
        row: dict[str, str],
        base: dict[str, object],
        ntlm: dict[str, dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """Zeek's ntlm.log: one row per NTLM exchange (NEGOTIATE, CHALLENGE, AUTHENTICATE),
        whichever of its messages the capture holds: the server's names from the CHALLENGE's
        AV pairs (empty pairs stay unset), the user, domain and workstation from the
        AUTHENTICATE."""
        uid = str(base["uid"])
        for mtype in (_int(v) for v in _multi(row, "ntlmssp.messagetype")):
            rec = ntlm.get(uid)
            if rec is None or rec.get("_done") or (mtype == 1 and rec.get("_seen")):
                rec = {**base}
                ntlm[uid] = rec
                out["ntlm"].append(rec)
            rec["_seen"] = True
            if mtype == 2:
                for field, name in (
                    ("server_nb_computer_name", "nb_computer_name"),
                    ("server_dns_computer_name", "dns_computer_name"),
                    ("server_tree_name", "dns_tree_name"),
                ):
                    value = _first(row, f"ntlmssp.challenge.target_info.{name}")
                    rec[field] = value or None
            elif mtype == 3:
                for field, name in (
                    ("username", "username"),
                    ("domainname", "domain"),
                    ("hostname", "hostname"),
                ):
                    value = _first(row, f"ntlmssp.auth.{name}")
                    rec[field] = value if value and value != "NULL" else None
                rec["_done"] = True

    def _tls(
        self,
        row: dict[str, str],
        base: dict[str, object],
        tls: dict[str, dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """Zeek's ssl.log: one row per connection with a ClientHello, with or without SNI;
        version and cipher from the ServerHello (the negotiated ones)."""
        p = "tls" if "tls.handshake.type" in row else "dtls"
        types = _multi(row, f"{p}.handshake.type")
        uid = str(base["uid"])
        if "1" in types and uid not in tls:
            rec: dict[str, object] = {
                **base,
                "server_name": _first(row, f"{p}.handshake.extensions_server_name"),
                "established": False,
                "resumed": False,
            }
            tls[uid] = rec
            out["ssl"].append(rec)
        if "2" in types and uid in tls:
            rec = tls[uid]
            i = types.index("2")
            versions = _multi(row, f"{p}.handshake.version")
            chosen = (
                _first(row, "tls.handshake.extensions.supported_version") if p == "tls" else None
            )
            v = _int(
                chosen
                or (versions[i] if i < len(versions) else (versions[-1] if versions else None))
            )
            rec["version"] = _TLS_VERSIONS.get(v or -1, None if v is None else f"unknown-{v}")
            suites = _multi(row, f"{p}.handshake.ciphersuite")
            if suites:
                c = _int(suites[-1])
                rec["cipher"] = _cipher_names().get(c or -1, None if c is None else f"unknown-{c}")

    @staticmethod
    def _krb(
        row: dict[str, str],
        base: dict[str, object],
        krb: dict[str, dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """Zeek's kerberos.log: one row per connection, from its first exchange (AS or TGS
        request and reply, a KRB-ERROR, or an AP request outside a KDC request's padata)."""
        uid = str(base["uid"])
        types = [t for t in (_int(v) for v in _multi(row, "kerberos.msg_type")) if t is not None]
        if not types:
            return
        rec = krb.get(uid)
        if rec is not None and rec.get("_done"):
            return
        snames = _last_sname(row)
        cnames = _multi(row, "kerberos.CNameString")
        realms = _multi(row, "kerberos.realm")
        etypes = [e for e in (_int(v) for v in _multi(row, "kerberos.etype")) if e is not None]
        first = types[0]
        if rec is None:
            rec = {**base}
            krb[uid] = rec
            out["kerberos"].append(rec)
        if first in (10, 12):  # AS-REQ, TGS-REQ
            rec["request_type"] = "AS" if first == 10 else "TGS"
            if first == 10:
                rec["client"] = f"{'/'.join(cnames)}/{realms[0] if realms else ''}"
            if snames:
                rec["service"] = "/".join(snames)
            rec["from"] = _abs_time(_first(row, "kerberos.from"))
            rec["till"] = _abs_time(_first(row, "kerberos.till"))
            fw = _first(row, "kerberos.KDCOptions.forwardable")
            rn = _first(row, "kerberos.KDCOptions.renewable")
            rec["forwardable"] = None if fw is None else fw in ("1", "True")
            rec["renewable"] = None if rn is None else rn in ("1", "True")
        elif first in (11, 13):  # AS-REP, TGS-REP: the ticket's service and cipher
            if not rec.get("client") and (cnames or _first(row, "kerberos.crealm")):
                rec["client"] = f"{'/'.join(cnames)}/{_first(row, 'kerberos.crealm') or ''}"
            # the reply's names: the client's (cname) then the ticket's (sname)
            if snames:
                rec["service"] = "/".join(snames)
            if len(etypes) >= 2:
                rec["cipher"] = _KRB_CIPHERS.get(etypes[-2], str(etypes[-2]))
            rec["success"] = True
            rec["_done"] = True
        elif first == 30:  # KRB-ERROR
            text = _first(row, "kerberos.e_text")
            if text == "NEEDED_PREAUTH":  # Zeek's ignored_errors
                out["kerberos"].remove(rec)
                del krb[uid]
                return
            code = _int(_first(row, "kerberos.error_code"))
            if not rec.get("client") and (cnames or realms):
                rec["client"] = (
                    f"{'/'.join(cnames) + '/' if cnames else ''}{realms[0] if realms else ''}"
                )
            if not rec.get("service") and snames:
                rec["service"] = "/".join(snames)
            rec["success"] = False
            rec["error_msg"] = text or (_KRB_ERRORS.get(code) if code is not None else None)
            rec["_done"] = True
        elif first == 14:  # AP-REQ (GSSAPI, e.g. SMB session setup)
            rec["request_type"] = "AP"
            if snames:
                rec["service"] = "/".join(snames)
            if etypes:
                rec["cipher"] = _KRB_CIPHERS.get(etypes[0], str(etypes[0]))
            if realms:
                rec["client"] = f"/{realms[0]}"
        elif first == 15:  # AP-REP
            rec["success"] = True
            rec["_done"] = True

    @staticmethod
    def _fuid(uid: str, kind: int, item: object) -> str:
        return "F" + hashlib.sha256(f"{uid}:{kind}:{item}".encode()).hexdigest()[:17]

    @staticmethod
    def _disposition_name(d: str) -> str | None:
        for part in d.split(";"):
            k, _, v = part.strip().partition("=")
            if k.lower() == "filename":
                return v.strip().strip('"') or None
        return None

    def _dns(
        self,
        row: dict[str, str],
        base: dict[str, object],
        pending: dict[tuple[str, str], dict[str, object]],
        out: dict[str, list[dict[str, object]]],
        proto: str,
        from_orig: bool,
        dst: str,
    ) -> None:
        """Zeek's dns.log: one row per query and its response (or a response alone), for
        standard queries, NOTIFY and dynamic updates. As Zeek's script fills them: the question
        (query, qtype, qclass, RD, TC, Z) from the request; the rcode from the response; the
        answers, their TTLs, AA, RA and the round trip only when the response has a record
        Zeek logs; a response alone is named by its first such record."""
        opcode = _int(_first(row, "dns.flags.opcode")) or 0
        if opcode not in (0, 4, 5):
            return  # Zeek tracks queries, NOTIFY and dynamic updates only
        qid = _first(row, "dns.id") or ""
        key = (str(base["uid"]), qid)
        is_resp = _flag(row, "dns.flags.response")
        multicast = dst.startswith(("224.", "ff02:", "ff05:"))  # mDNS: no pairing by id (Zeek)
        if is_resp and from_orig and not multicast and key not in pending:
            # the capture starts with a response: its sender is the server (Zeek flips it)
            self._flip_uids.add(str(base["uid"]))
            base = {
                **base,
                "id.orig_h": base["id.resp_h"],
                "id.orig_p": base["id.resp_p"],
                "id.resp_h": base["id.orig_h"],
                "id.resp_p": base["id.orig_p"],
            }
        if not is_resp:
            query: dict[str, object] = {
                **base,
                "proto": proto,
                "trans_id": _int(qid),
                "RD": bool(_flag(row, "dns.flags.recdesired")),
                "AA": False,
                "TC": bool(_flag(row, "dns.flags.truncated")),
                "RA": False,
                # the header's three bits after RA as one number, as Zeek reads them: the
                # reserved bit, then AD and CD (RFC 4035 3.2)
                "Z": 4 * bool(_flag(row, "dns.flags.z"))
                + 2 * bool(_flag(row, "dns.flags.authenticated"))
                + bool(_flag(row, "dns.flags.checkdisable")),
                "rejected": False,
            }
            name = _first(row, "dns.qry.name")
            if opcode != 5 and name:  # an update's question section is its zone
                qtype = _int(_first(row, "dns.qry.type"))
                qclass = _int(_first(row, "dns.qry.class"))
                query["query"] = name.lower()
                query["qtype"] = qtype
                query["qtype_name"] = _dns_type(qtype) if qtype is not None else None
                query["qclass"] = qclass
                query["qclass_name"] = (
                    _DNS_CLASSES.get(qclass, f"qclass-{qclass}") if qclass is not None else None
                )
            if not multicast:
                pending[key] = query
            out["dns"].append(query)
            return
        rec: dict[str, object] | None = pending.pop(key, None)
        if rec is None:
            rec = {**base, "proto": proto, "trans_id": _int(qid), "rejected": False}
            rec.update(RD=False, AA=False, TC=False, RA=False, Z=0)
            out["dns"].append(rec)
        rcode = _int(_first(row, "dns.flags.rcode"))
        rec["rcode"] = rcode
        rec["rcode_name"] = _DNS_RCODES.get(rcode, f"rcode-{rcode}") if rcode is not None else None
        counts = [
            _int(_first(row, f"dns.count.{c}")) or 0
            for c in ("queries", "answers", "auth_rr", "add_rr")
        ]
        if opcode != 5 and counts[0] and not any(counts[1:]):
            rec["rejected"] = True  # a refusal without records (Zeek's dns_rejected)
        elif rcode and not counts[0] and opcode != 5:
            rec["rejected"] = True
        zclass = _int(_first(row, "dns.qry.class")) if opcode == 5 else None
        replies = _dns_replies(row, opcode, zclass)
        if replies.names:
            if not rec.get("query"):
                rec["query"] = replies.names[0]
            rec["AA"] = bool(_flag(row, "dns.flags.authoritative"))
            rec["RA"] = bool(_flag(row, "dns.flags.recavail"))
            rtt = float(str(base["ts"])) - float(str(rec["ts"]))
            if rtt:
                rec["rtt"] = rtt
        answers = [t for t in replies.texts if t]
        rec["answers"] = answers or None
        rec["TTLs"] = [t for t, x in zip(replies.ttls, replies.texts, strict=True) if x] or None

    def _smb2(
        self,
        row: dict[str, str],
        base: dict[str, object],
        stream: str,
        pending_tree: dict[tuple[str, str], dict[str, object]],
        pending_create: dict[tuple[str, str], dict[str, object]],
        fid_name: dict[tuple[str, str], tuple[str, str]],
        transfers: dict[tuple[str, str, bool], dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """smb_mapping and smb_files as Zeek logs them: a FILE_OPEN per successful create
        (``<share_root>`` for an empty name; a repeat with the same size and times is not
        logged again), FILE_DELETE for a delete-on-close create or a disposition set-info,
        FILE_RENAME for a rename set-info (``prev_name`` the old name); duqhunt adds
        PIPE_OPEN and the first FILE_READ/FILE_WRITE of each file and direction."""
        cmds = _multi(row, "smb2.cmd")
        resps = _multi(row, "smb2.flags.response")
        mids = _multi(row, "smb2.msg_id")
        trees = _multi(row, "smb2.tree")
        names = _multi(row, "smb2.filename")
        fids = _multi(row, "smb2.fid")
        stypes = _multi(row, "smb2.share_type")
        wlens = _multi(row, "smb2.write_length")
        rlens = _multi(row, "smb2.read_length")
        statuses = _multi(row, "smb2.nt_status")
        for i, cmd in enumerate(cmds):
            is_resp = (resps[i] if i < len(resps) else "0") in ("1", "True", "true")
            mid = mids[i] if i < len(mids) else ""
            tree = trees[i] if i < len(trees) else (trees[0] if trees else None)
            status = _int(statuses[i] if i < len(statuses) else (statuses[0] if statuses else "0"))
            c = _int(cmd)
            if c == 3 and not is_resp and tree:  # TREE_CONNECT request
                rec = {**base, "path": tree, "share_type": None}
                pending_tree[(stream, mid)] = rec
                out["smb_mapping"].append(rec)
            elif c == 3 and is_resp:
                rec_t: dict[str, object] | None = pending_tree.pop((stream, mid), None)
                if rec_t is not None and stypes:
                    rec_t["share_type"] = {1: "DISK", 2: "PIPE", 3: "PRINT"}.get(
                        _int(stypes[0]) or 0
                    )
            elif c == 5 and not is_resp:  # CREATE request
                pending_create[(stream, mid)] = {
                    "name": names[0] if names else "<share_root>",
                    "tree": tree,
                    "base": base,
                    "delete": _flag(row, "smb.nt.create_options.delete_on_close"),
                }
            elif c == 5 and is_resp and fids:
                req = pending_create.pop((stream, mid), None)
                if req is None or status:
                    continue
                fid_name[(stream, fids[0])] = (str(req["name"]), str(req["tree"] or ""))
                rb = req["base"]
                assert isinstance(rb, dict)
                info: dict[str, object] = {
                    "size": _int(_first(row, "smb2.eof")),
                    "times.modified": _filetime(_first(row, "smb2.last_write.time")),
                    "times.accessed": _filetime(_first(row, "smb2.last_access.time")),
                    "times.created": _filetime(_first(row, "smb2.create.time")),
                    "times.changed": _filetime(_first(row, "smb2.last_change.time")),
                }
                self._smb_info[(stream, fids[0])] = info
                action = _open_action(req["tree"])
                self._smb_log(out, rb, fids[0], action, req["tree"], req["name"], info)
                if req["delete"] and action == "SMB::FILE_OPEN":
                    self._smb_log(
                        out, base, fids[0], "SMB::FILE_DELETE", req["tree"], req["name"], info
                    )
            elif c == 17 and not is_resp and fids:  # SET_INFO: delete or rename
                known = fid_name.get((stream, fids[0]))
                if known is None or _int(_first(row, "smb2.class")) != 1:
                    continue
                level = _int(_first(row, "smb2.file_info.infolevel"))
                info = self._smb_info.get((stream, fids[0]), {})
                if level == 0x0D and _flag(row, "smb2.disposition.delete_on_close"):
                    self._smb_log(
                        out, base, fids[0], "SMB::FILE_DELETE", known[1] or tree, known[0], info
                    )
                elif level == 0x0A and names:
                    fid_name[(stream, fids[0])] = (names[-1], known[1])
                    self._smb_log(
                        out,
                        base,
                        fids[0],
                        "SMB::FILE_RENAME",
                        known[1] or tree,
                        names[-1],
                        info,
                        prev_name=known[0],
                    )
            elif c in (8, 9) and not is_resp and fids:  # READ / WRITE request
                known = fid_name.get((stream, fids[0]))
                if known is None:
                    continue
                name, tree_path = known
                length = _int(wlens[0] if c == 9 and wlens else (rlens[0] if rlens else None)) or 0
                self._transfer(
                    base, stream, fids[0], name, tree_path, c == 9, length, transfers, out
                )

    def _smb_log(
        self,
        out: dict[str, list[dict[str, object]]],
        base: dict[str, object],
        fid: str,
        action: str,
        path: object,
        name: object,
        info: dict[str, object],
        prev_name: str | None = None,
    ) -> None:
        """One smb_files row, unless the same action on the same file with the same size and
        times (the access time aside) was logged on this connection already (Zeek's rule)."""
        ident = (
            str(base["uid"]),
            action,
            str(name),
            str(path),
            info.get("size"),
            info.get("times.modified"),
            info.get("times.created"),
            info.get("times.changed"),
            prev_name,
        )
        if ident in self._smb_seen:
            return
        self._smb_seen.add(ident)
        out["smb_files"].append(
            {
                **base,
                "fuid": self._fuid(str(base["uid"]), 0, fid),
                "action": action,
                "path": path or None,
                "name": name,
                "prev_name": prev_name,
                **info,
            }
        )

    def _smb1(
        self,
        row: dict[str, str],
        base: dict[str, object],
        stream: str,
        pending_tree: dict[tuple[str, str], dict[str, object]],
        pending_create: dict[tuple[str, str], dict[str, object]],
        fid_name: dict[tuple[str, str], tuple[str, str]],
        transfers: dict[tuple[str, str, bool], dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        c = _int(_first(row, "smb.cmd"))
        is_resp = _first(row, "smb.flags.response") in ("1", "True", "true")
        mid = _first(row, "smb.mid") or ""
        if c == 0x75 and not is_resp and _first(row, "smb.path"):
            rec = {**base, "path": _first(row, "smb.path"), "share_type": None}
            pending_tree[(stream, "smb1:" + mid)] = rec
            out["smb_mapping"].append(rec)
        elif c == 0x75 and is_resp:
            rec1: dict[str, object] | None = pending_tree.pop((stream, "smb1:" + mid), None)
            svc = _first(row, "smb.service") or ""
            if rec1 is not None:
                rec1["share_type"] = "PIPE" if svc.upper().startswith("IPC") else "DISK"
                rec1["service"] = svc or None
        elif c == 0xA2 and not is_resp and _first(row, "smb.file"):
            pending_create[(stream, "smb1:" + mid)] = {
                "name": _first(row, "smb.file"),
                "tree": None,
                "base": base,
            }
        elif c == 0xA2 and is_resp and _first(row, "smb.fid"):
            req = pending_create.pop((stream, "smb1:" + mid), None)
            if req is not None:
                fid = str(_first(row, "smb.fid"))
                tree = next(
                    (
                        str(r["path"])
                        for r in reversed(out["smb_mapping"])
                        if r["uid"] == base["uid"]
                    ),
                    "",
                )
                fid_name[(stream, "smb1:" + fid)] = (str(req["name"]), tree)
                rb = req["base"]
                assert isinstance(rb, dict)
                out["smb_files"].append(
                    {
                        **rb,
                        "fuid": self._fuid(str(rb["uid"]), 1, fid),
                        "action": _open_action(tree),
                        "path": tree or None,
                        "name": req["name"],
                    }
                )
        elif c in (0x2E, 0x2F) and not is_resp and _first(row, "smb.fid"):
            fid = str(_first(row, "smb.fid"))
            known = fid_name.get((stream, "smb1:" + fid))
            if known is not None:
                length = _int(_first(row, "smb.data_len_low")) or 0
                self._transfer(
                    base,
                    stream,
                    "smb1:" + fid,
                    known[0],
                    known[1],
                    c == 0x2F,
                    length,
                    transfers,
                    out,
                )

    def _transfer(
        self,
        base: dict[str, object],
        stream: str,
        fid: str,
        name: str,
        tree: str,
        write: bool,
        length: int,
        transfers: dict[tuple[str, str, bool], dict[str, object]],
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        if _open_action(tree) == "SMB::PIPE_OPEN":
            return  # data on a named pipe is RPC or a relay's traffic, not a file
        key = (stream, fid, write)
        t = transfers.get(key)
        if t is None:
            fuid = self._fuid(str(base["uid"]), 2 if write else 3, fid)
            t = transfers[key] = {
                **base,
                "fuid": fuid,
                "source": "SMB",
                "depth": 0,
                "filename": name,
                "is_orig": write,
                "seen_bytes": 0,
                "total_bytes": None,
                "missing_bytes": 0,
                "overflow_bytes": 0,
                "timedout": False,
                "duration": 0.0,
            }
            out["smb_files"].append(
                {
                    **base,
                    "fuid": fuid,
                    "action": "SMB::FILE_WRITE" if write else "SMB::FILE_READ",
                    "path": tree or None,
                    "name": name,
                }
            )
        t["seen_bytes"] = int(t["seen_bytes"]) + length  # type: ignore[call-overload]
        t["duration"] = float(base["ts"]) - float(t["ts"])  # type: ignore[arg-type]

    def _dcerpc(
        self,
        row: dict[str, str],
        base: dict[str, object],
        stream: str,
        fid_name: dict[tuple[str, str], tuple[str, str]],
        ctx_iface: dict[tuple[str, str, str], str],
        tables: _RpcTables,
        out: dict[str, list[dict[str, object]]],
    ) -> None:
        """Zeek's dce_rpc.log: one row per request, named from the bind's interface (per
        presentation context); ``named_pipe`` is the bind_ack's secondary address (Zeek's
        convention, e.g. ``\\PIPE\\lsass`` or a TCP port), else the SMB pipe the request
        travelled on. When the bind is not in the capture the interface is the one usually
        behind that pipe (Zeek's ``pipe_name_to_common_uuid``); a request on no known
        interface, or an operation Zeek ignores, gives no row (as in Zeek)."""
        ptype = _int(_first(row, "dcerpc.pkt_type"))
        fid = _first(row, "smb2.fid") or (
            ("smb1:" + str(_first(row, "smb.fid"))) if _first(row, "smb.fid") else ""
        )
        ctxs = _multi(row, "dcerpc.cn_ctx_id")
        if ptype in (11, 14):  # bind, alter_context
            for ctx, bound in zip(ctxs, _multi(row, "dcerpc.cn_bind_to_uuid"), strict=False):
                ctx_iface[(stream, fid, ctx)] = bound.lower()
            return
        if ptype == 12:  # bind_ack: the secondary address is Zeek's named_pipe
            sec = _first(row, "dcerpc.cn_sec_addr")
            if sec:
                self._rpc_pipe[(stream, fid)] = sec
            return
        if ptype == 2:  # response: the round trip of its request
            req = self._rpc_pending.pop((stream, fid, _first(row, "dcerpc.cn_call_id") or ""), None)
            if req is not None:
                req["rtt"] = float(str(base["ts"])) - float(str(req["ts"]))
            return
        if ptype != 0:
            return
        opnum = _int(_first(row, "dcerpc.opnum"))
        smb_pipe = fid_name.get((stream, fid), (None, ""))[0] if fid else None
        pipe = self._rpc_pipe.get((stream, fid)) or smb_pipe
        uuid: str | None = ctx_iface.get((stream, fid, ctxs[0] if ctxs else "0"))
        if uuid is None and pipe:
            uuid = tables.pipes.get(_pipe_key(pipe))
        if uuid is None:
            return  # Zeek logs no request whose interface it cannot name
        endpoint, operation = tables.name(uuid, opnum)
        if operation in tables.ignored.get(endpoint, ()):
            return
        rec: dict[str, object] = {
            **base,
            "rtt": None,
            "named_pipe": pipe or (str(base["id.resp_p"]) if base["id.resp_p"] else None),
            "endpoint": endpoint,
            "operation": operation,
        }
        self._rpc_pending[(stream, fid, _first(row, "dcerpc.cn_call_id") or "")] = rec
        out["dce_rpc"].append(rec)
