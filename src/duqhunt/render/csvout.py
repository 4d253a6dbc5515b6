"""Findings as CSV for spreadsheets: one header row, then one row per finding.

RFC 4180 through the standard csv module (comma, double quotes doubled, CRLF line ends; a
value with a comma, quote or line break is quoted). `render_csv` returns text that starts with
a UTF-8 byte order mark: Excel opens a BOM-less CSV in the ANSI code page and garbles every
non-ASCII host name or note, while LibreOffice, Google Sheets, pandas and Python's "utf-8-sig"
all read the BOM as what it is.

Rows are in the order every output lists findings (most severe first). Times are UTC in "YYYY-MM-DD
HH:MM:SS", the form spreadsheets read as a date and time (and that sorts as text). The names
column holds the names of the finding's machines (hosts[], by its host_ids), the addresses
column its own addresses, else its machines' (a finding without host_ids, from a document built
in code, has its hosts looked up in the campaign's hosts). Several values in one cell (ATT&CK
ids, hosts) are separated by "; ".

Evidence is attacker-controlled and a spreadsheet runs a cell that starts with "=", "+", "-"
or "@" (and some with a leading tab or CR) as a formula ("CSV injection"). Such a cell gets a
leading single quote, the spreadsheet convention for "this is text"; nothing else is changed,
so the file is the report's values, not an escaped rendering of them.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Iterable

from duqhunt.model.finding import Finding
from duqhunt.model.report import HostIdentityModel, HostModel, ReportDocument
from duqhunt.render.common import short_time, sorted_findings

__all__ = ["CSV_COLUMNS", "finding_count", "neutralise", "render_csv"]

#: The header row, in column order.
CSV_COLUMNS: tuple[str, ...] = (
    "severity",
    "confidence",
    "detector",
    "title",
    "stage",
    "attack",
    "host_names",
    "host_ips",
    "first_seen_utc",
    "last_seen_utc",
    "count",
    "triage_status",
    "triage_note",
    "finding_id",
)

#: Finding details that count repeats of the one thing a finding reports, most specific first
#: (beacon connections, admin-tool moves, IOC matches, relayed sessions, JPEG uploads, requests
#: with a rare user agent, hosts a move reached).
COUNT_KEYS: tuple[str, ...] = (
    "count",
    "moves",
    "matches",
    "sessions",
    "uploads",
    "requests",
    "targets",
)

#: First characters a spreadsheet may read as the start of a formula (with the full-width forms
#: some East Asian locales of Excel convert to their ASCII counterparts).
_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

BOM = "\ufeff"
SEPARATOR = "; "


def neutralise(value: str) -> str:
    """`value` with a leading single quote when a spreadsheet would read it as a formula."""
    return "'" + value if value[:1] in _FORMULA_START else value


def finding_count(finding: Finding) -> int:
    """How many times the finding's one thing was seen: the number of repeats merged into it
    (an event storm, see model/grouping.py), else the first whole-number detail among
    COUNT_KEYS (booleans are not counts), else 1."""
    if finding.count > 1:
        return finding.count
    for key in COUNT_KEYS:
        value = finding.details.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 1


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _HostIndex:
    """Campaign hosts by address and by name (a name may have had several addresses)."""

    def __init__(self, hosts: Iterable[HostModel]) -> None:
        self.name_of: dict[str, str] = {}
        self.ips_of: dict[str, list[str]] = {}
        for h in hosts:
            if h.name:
                self.name_of.setdefault(h.ip, h.name)
                self.ips_of.setdefault(h.name.casefold(), []).append(h.ip)

    def split(self, hosts: Iterable[str]) -> tuple[list[str], list[str]]:
        """(names, addresses) of a finding's hosts, each once, in the finding's order."""
        names: dict[str, None] = {}
        ips: dict[str, None] = {}
        for host in hosts:
            if _is_ip(host):
                ips[host] = None
                name = self.name_of.get(host)
                if name:
                    names[name] = None
            else:
                names[host] = None
                for ip in self.ips_of.get(host.casefold(), ()):
                    ips[ip] = None
        return list(names), list(ips)


def _machines(f: Finding, hosts: dict[str, HostIdentityModel]) -> tuple[list[str], list[str]]:
    """(names, addresses) of a finding: its machines' names (hosts[], schema 1.3), its own
    addresses (a machine may have had others at other times), else its machines' addresses."""
    names: dict[str, None] = {}
    ips: dict[str, None] = dict.fromkeys(h for h in f.hosts if _is_ip(h))
    theirs: dict[str, None] = {}
    for hid in f.host_ids:
        h = hosts.get(hid)
        if h is not None:
            names.update(dict.fromkeys(h.names))
            theirs.update(dict.fromkeys(a.ip for a in h.ips))
    return list(names), list(ips or theirs)


def _row(f: Finding, index: _HostIndex, hosts: dict[str, HostIdentityModel]) -> list[str]:
    names, ips = _machines(f, hosts) if f.host_ids else index.split(f.hosts)
    return [
        f.severity,
        f"{f.confidence:.2f}",
        f.detector,
        f.title,
        f.stage,
        SEPARATOR.join(f.attack),
        SEPARATOR.join(names),
        SEPARATOR.join(ips),
        short_time(f.first_seen),
        short_time(f.last_seen),
        str(finding_count(f)),
        f.triage.status if f.triage else "",
        f.triage.note if f.triage else "",
        f.id,
    ]


def render_csv(doc: ReportDocument, *, bom: bool = True) -> str:
    """The findings of `doc` as CSV text (see the module docstring); the header alone when
    there are none. Encode it as UTF-8."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, dialect="excel", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    index = _HostIndex(doc.campaign.hosts)
    hosts = {h.id: h for h in doc.hosts}
    for f in sorted_findings(doc.findings):
        writer.writerow([neutralise(cell) for cell in _row(f, index, hosts)])
    return (BOM if bom else "") + buf.getvalue()
