"""Sightings in and out: a CSV or JSON file of vendor sightings, and sightings from a hunt.

File columns (CSV header or JSON keys; case and spaces do not matter, common synonyms are
accepted): time, ip (source IP), organisation, country, sample_hash, c2, reporter, confirmed,
source, note. Each row needs an ip or an organisation, and a reporter (the file name is used
when the column is missing). A bad row stops the load with an InputError naming the file and
the line, because a user who adds sightings wants all of them or to know which one is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from duqhunt.errors import InputError
from duqhunt.intel.pack import IntelPack, Sighting, load_intel_pack, save_intel_pack
from duqhunt.model.report import ReportDocument

if TYPE_CHECKING:
    from duqhunt.store import CaseStore

__all__ = [
    "add_sightings",
    "case_sightings",
    "load_sightings",
    "merge_sightings",
    "sightings_from_report",
    "store_sightings",
]

log = logging.getLogger(__name__)

MAX_SIGHTINGS_BYTES = 64 << 20
MAX_ROWS = 1_000_000

_SYNONYMS: dict[str, str] = {
    "time": "time",
    "timestamp": "time",
    "date": "time",
    "first_seen": "time",
    "ip": "ip",
    "source_ip": "ip",
    "src_ip": "ip",
    "src": "ip",
    "victim_ip": "ip",
    "organisation": "organisation",
    "organization": "organisation",
    "org": "organisation",
    "victim": "organisation",
    "country": "country",
    "country_code": "country",
    "sample_hash": "sample_hash",
    "hash": "sample_hash",
    "sha256": "sample_hash",
    "sha1": "sample_hash",
    "md5": "sample_hash",
    "c2": "c2",
    "cnc": "c2",
    "c&c": "c2",
    "c_and_c": "c2",
    "reporter": "reporter",
    "reported_by": "reporter",
    "vendor": "reporter",
    "confirmed": "confirmed",
    "status": "confirmed",
    "source": "source",
    "reference": "source",
    "note": "note",
    "notes": "note",
}
_TRUE = {"1", "true", "yes", "y", "confirmed"}
_FALSE = {"0", "false", "no", "n", "unconfirmed", "reported", ""}


def _column(name: str) -> str | None:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return _SYNONYMS.get(key)


def _row(
    raw: Mapping[str, object], where: str, line: int | None, default_reporter: str
) -> Sighting:
    data: dict[str, object] = {}
    for k, v in raw.items():
        col = _column(str(k))
        if col is None:
            continue
        if col == "confirmed":
            if isinstance(v, bool):
                data[col] = v
                continue
            text = str(v if v is not None else "").strip().lower()
            if text in _TRUE:
                data[col] = True
            elif text in _FALSE:
                data[col] = False
            else:
                raise InputError(where, f"confirmed: {v!r} is not yes/no", line=line)
            continue
        if v is None:
            continue
        data[col] = str(v)
    data.setdefault("reporter", default_reporter)
    if not str(data["reporter"]).strip():
        data["reporter"] = default_reporter
    try:
        return Sighting.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "row"
        raise InputError(where, f"{loc}: {first['msg']}", line=line) from None


def load_sightings(path: Path) -> list[Sighting]:
    """Sightings from a CSV (header row) or JSON (a list, or {"sightings": [...]}) file."""
    path = Path(path)
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SIGHTINGS_BYTES:
            raise InputError(where, f"{size} bytes, over the {MAX_SIGHTINGS_BYTES}-byte limit")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(where, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(where, "not UTF-8 text", offset=exc.start) from None
    reporter = path.name
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
        except RecursionError:
            raise InputError(where, "not valid JSON: nested too deeply") from None
        if isinstance(data, dict):
            data = data.get("sightings")
        if not isinstance(data, list):
            raise InputError(where, "expected a JSON list of sightings or {'sightings': [...]}")
        if len(data) > MAX_ROWS:
            raise InputError(where, f"more than {MAX_ROWS} sightings")
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(where, f"sighting {i} is not an object")
            try:
                out.append(_row(item, where, None, reporter))
            except InputError as exc:
                raise InputError(where, f"sighting {i}: {exc.reason}") from None
        return out
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return []
    unknown = [f for f in reader.fieldnames if f and _column(f) is None]
    if unknown:
        log.warning("%s: ignoring unknown column(s) %s", where, ", ".join(unknown))
    rows: list[Sighting] = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            raise InputError(where, f"more than {MAX_ROWS} sightings")
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue
        clean = {k: v for k, v in row.items() if k is not None}
        rows.append(_row(clean, where, reader.line_num, reporter))
    return rows


def merge_sightings(existing: Iterable[Sighting], new: Iterable[Sighting]) -> list[Sighting]:
    """existing then new, without repeats (same time, ip, organisation, hash, C&C, reporter)."""
    seen: set[tuple[str, ...]] = set()
    out: list[Sighting] = []
    for s in [*existing, *new]:
        k = s.key()
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def add_sightings(path: Path, pack_path: Path, *, pack_name: str | None = None) -> IntelPack:
    """Load sightings from `path` and merge them into the intel pack file `pack_path`.

    The pack is created when missing (named `pack_name` or after the file). Returns the pack
    as written.
    """
    new = load_sightings(path)
    pack_path = Path(pack_path)
    if pack_path.exists():
        pack = load_intel_pack(pack_path)
    else:
        pack = IntelPack(pack=pack_name or pack_path.stem, title="sightings added with duqhunt")
    merged = pack.model_copy(update={"sightings": merge_sightings(pack.sightings, new)})
    merged = IntelPack.model_validate(merged.model_dump())
    save_intel_pack(merged, pack_path)
    return merged


def sightings_from_report(doc: ReportDocument, *, reporter: str | None = None) -> list[Sighting]:
    """A hunt's infected hosts as sightings: one per host and C&C it talked to (or per host).

    Not confirmed: a hunt's finding is evidence for an analyst, not a confirmation.
    """
    who = reporter or f"duqhunt {doc.tool_version}" + (f" case {doc.case}" if doc.case else "")
    c2_ips = {c.ip for c in doc.campaign.c2}
    talked: dict[str, dict[str, str | None]] = {}
    for b in doc.campaign.beacons:
        if b.suppressed or b.dst not in c2_ips:
            continue
        seen = talked.setdefault(b.src, {})
        prev = seen.get(b.dst)
        if prev is None or (b.first_seen is not None and b.first_seen < prev):
            seen[b.dst] = b.first_seen
    for br in doc.campaign.bridges:
        ip, c2 = br.get("ip"), br.get("c2")
        if isinstance(ip, str) and isinstance(c2, str):
            talked.setdefault(ip, {}).setdefault(c2, None)
    out: list[Sighting] = []
    infected = [
        h
        for h in doc.campaign.hosts
        if set(h.roles) & {"infected", "patient-zero", "bridge", "relay"}
    ]
    for h in sorted(infected, key=lambda h: h.ip):
        targets = talked.get(h.ip, {})
        pairs: list[tuple[str | None, str | None]] = list(sorted(targets.items()))
        for c2, first in pairs or [(None, None)]:
            out.append(
                Sighting(
                    time=first,
                    ip=h.ip,
                    c2=c2,
                    reporter=who,
                    confirmed=False,
                    source=f"duqhunt report started {doc.started}",
                    note=", ".join(h.roles),
                )
            )
    return out


def store_sightings(store: CaseStore, sightings: Iterable[Sighting], origin: str) -> int:
    """Keep sightings in a case store (one row per distinct sighting, see Sighting.key);
    `origin` says where they came from ("hunt" or the file added). Returns how many were new."""
    rows = [("\x1f".join(s.key()), origin, s.model_dump_json()) for s in sightings]
    return store.save_sightings(rows)


def case_sightings(store: CaseStore) -> list[Sighting]:
    """Every sighting a case holds: those its hunts produced and those added to it."""
    return [Sighting.model_validate_json(doc) for _origin, doc in store.stored_sightings()]
