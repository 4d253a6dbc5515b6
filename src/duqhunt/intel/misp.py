"""MISP event JSON out (from a report and IOC packs) and in (an event as an IOC pack), offline.

Built and read with ``pymisp``'s MISPEvent (no server, no network). Out: one attribute per
IOC (comment "source: ..." then the description), the IOC's confidence, tags and country as
``duqhunt:`` machine tags so import restores them exactly; the report's C&C as ip-dst and its
infected hosts as ip-src (not for IDS, tagged duqhunt:role="victim" and never imported as an
indicator); ATT&CK techniques as mitre-attack-pattern galaxy tags.
In: the common attribute types (ip-src/ip-dst and their |port forms, domain, hostname,
domain|ip, url, user-agent, filename, md5/sha1/sha256 and filename|hash), also inside MISP
objects; a foreign event's attributes take the comment (or the event) as their source and a
confidence of 0.7 when marked for IDS, else 0.4.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from pymisp import MISPAttribute, MISPEvent

from duqhunt.content import Indicator as Ioc
from duqhunt.content import IocPack
from duqhunt.errors import InputError
from duqhunt.intel.attack import attack_techniques
from duqhunt.model.report import ReportDocument

__all__ = ["misp_to_pack", "to_misp_event"]

log = logging.getLogger(__name__)

_NS = uuid.UUID("0c4f3f5e-8b7a-5b2f-9d0c-6a1e2b3c4d5e")
_TAG = re.compile(r'^duqhunt:([a-z-]+)="(.*)"$', re.S)
MAX_ATTRIBUTES = 1_000_000

_OUT_TYPES: dict[str, tuple[str, str]] = {
    "ip": ("ip-dst", "Network activity"),
    "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"),
    "user-agent": ("user-agent", "Network activity"),
    "filename": ("filename", "Payload delivery"),
    "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"),
    "sha256": ("sha256", "Payload delivery"),
}


def _uuid(*key: object) -> str:
    digest = uuid.uuid5(_NS, chr(31).join(str(k) for k in key))
    return str(uuid.UUID(bytes=digest.bytes, version=4))


def _tag(name: str, value: str) -> str:
    return f'duqhunt:{name}="{value}"'


def _conf_text(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def _attr(value: MISPAttribute | list[MISPAttribute]) -> MISPAttribute:
    """add_attribute returns a list only for a list of values, which duqhunt never passes."""
    assert isinstance(value, MISPAttribute)
    return value


def _comment(ioc: Ioc) -> str:
    return f"source: {ioc.source}" + (f"\n{ioc.description}" if ioc.description else "")


def to_misp_event(
    doc: ReportDocument | None,
    packs: Sequence[IocPack] = (),
    *,
    info: str | None = None,
) -> dict[str, Any]:
    """A MISP event ({"Event": {...}}) of a report's C&C and hosts and/or IOC packs."""
    ev = MISPEvent()
    key = (doc.started if doc is not None else "") + "|" + ",".join(p.pack for p in packs)
    ev.uuid = _uuid("event", key)
    if info is None:
        if doc is not None:
            info = f"duqhunt hunt {doc.case or ''} {doc.started}".replace("  ", " ")
        elif len(packs) == 1:
            info = packs[0].title or packs[0].pack
        else:
            info = "duqhunt IOC packs: " + ", ".join(p.pack for p in packs)
    ev.info = info
    ev.distribution = 0  # your organisation only: the user decides to share
    ev.threat_level_id = 2
    ev.analysis = 2 if doc is None else 1
    day = (doc.started[:10] if doc is not None else None) or date.today().isoformat()
    try:
        ev.set_date(date.fromisoformat(day))
    except ValueError:
        ev.set_date(date.today())
    for p in packs:
        ev.add_tag(_tag("pack", p.pack))
    duqu = False
    for p in packs:
        for ioc in p.indicators:
            kind, category = _OUT_TYPES[ioc.type]
            attr = _attr(
                ev.add_attribute(
                    kind,
                    ioc.value,
                    category=category,
                    comment=_comment(ioc),
                    to_ids=ioc.confidence >= 0.5,
                    uuid=_uuid("attr", p.pack, ioc.type, ioc.value),
                )
            )
            attr.add_tag(_tag("confidence", _conf_text(ioc.confidence)))
            for t in ioc.tags:
                attr.add_tag(_tag("tag", t))
                duqu = duqu or t.casefold() == "duqu"
            if ioc.country:
                attr.add_tag(_tag("country", ioc.country))
    if doc is not None:
        ev.add_tag("tlp:amber")
        for c in doc.campaign.c2:
            attr = _attr(
                ev.add_attribute(
                    "ip-dst",
                    c.ip,
                    category="Network activity",
                    comment=f"C&C found by duqhunt ({', '.join(c.sources)}), score {c.score:.2f}"
                    + ("; a known IOC" if c.known_ioc else ""),
                    to_ids=True,
                    uuid=_uuid("attr", key, "c2", c.ip),
                )
            )
            attr.add_tag(_tag("confidence", _conf_text(c.score)))
            attr.add_tag(_tag("tag", "c2"))
        for h in doc.campaign.hosts:
            if not set(h.roles) & {"infected", "patient-zero", "bridge", "relay"}:
                continue
            host = _attr(
                ev.add_attribute(
                    "ip-src",
                    h.ip,
                    category="Network activity",
                    comment="infected host (" + ", ".join(h.roles) + ")",
                    to_ids=False,
                    uuid=_uuid("attr", key, "host", h.ip),
                )
            )
            host.add_tag(_tag("role", "victim"))
        techniques = attack_techniques()
        for tid in sorted({t for f in doc.findings for t in f.attack}):
            tech = techniques.get(tid)
            name = tech.name if tech is not None else tid
            ev.add_tag(f'misp-galaxy:mitre-attack-pattern="{name} - {tid}"')
    if duqu:
        ev.add_tag('misp-galaxy:mitre-malware="Duqu - S0038"')
    data: dict[str, Any] = json.loads(ev.to_json())
    return {"Event": data}


# ----------------------------------------------------------------------------- import

_IN_TYPES: dict[str, tuple[str, ...]] = {
    "ip-dst": ("ip",),
    "ip-src": ("ip",),
    "ip-dst|port": ("ip", "-"),
    "ip-src|port": ("ip", "-"),
    "domain": ("domain",),
    "hostname": ("domain",),
    "domain|ip": ("domain", "ip"),
    "hostname|port": ("domain", "-"),
    "url": ("url",),
    "user-agent": ("user-agent",),
    "filename": ("filename",),
    "md5": ("md5",),
    "sha1": ("sha1",),
    "sha256": ("sha256",),
    "filename|md5": ("filename", "md5"),
    "filename|sha1": ("filename", "sha1"),
    "filename|sha256": ("filename", "sha256"),
}


def _tags(obj: Any) -> list[str]:
    return [str(getattr(t, "name", t)) for t in getattr(obj, "tags", []) or []]


def _machine(tags: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in tags:
        m = _TAG.match(t)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def _parse_comment(comment: str, fallback: str) -> tuple[str, str]:
    if comment.startswith("source: "):
        first, _, rest = comment.partition("\n")
        return first[len("source: ") :].strip() or fallback, rest
    return (comment.strip() or fallback), ""


def misp_to_pack(event: Mapping[str, Any] | str, *, name: str | None = None) -> IocPack:
    """An IOC pack from a MISP event (dict with or without the "Event" wrapper, or JSON)."""
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError("MISP event", f"not valid JSON: {exc}") from None
    if not isinstance(event, Mapping):
        raise InputError("MISP event", "not a JSON object")
    ev = MISPEvent()
    try:
        ev.load(dict(event))
    except Exception as exc:  # pymisp raises several types for malformed events
        raise InputError("MISP event", f"not a MISP event: {exc}") from None
    attrs: list[Any] = list(ev.attributes)
    for obj in getattr(ev, "objects", []) or []:
        attrs.extend(getattr(obj, "attributes", []) or [])
    if len(attrs) > MAX_ATTRIBUTES:
        raise InputError("MISP event", f"more than {MAX_ATTRIBUTES} attributes")
    info = str(getattr(ev, "info", "") or "")
    ev_uuid = str(getattr(ev, "uuid", "") or "")
    fallback = f"MISP event {info}".strip() + (f" ({ev_uuid})" if ev_uuid else "")
    ev_tags = _machine(_tags(ev))
    indicators: list[Ioc] = []
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for a in attrs:
        kinds = _IN_TYPES.get(str(getattr(a, "type", "")))
        value = str(getattr(a, "value", "") or "")
        if kinds is None or not value:
            skipped += 1
            continue
        values = value.split("|") if len(kinds) > 1 else [value]
        if len(values) != len(kinds):
            skipped += 1
            continue
        mt = _machine(_tags(a))
        if "victim" in mt.get("role", []):
            continue  # a victim's address (our own export), not an indicator
        conf: float
        try:
            conf = float(mt["confidence"][0]) if "confidence" in mt else -1.0
        except ValueError:
            conf = -1.0
        if not 0.0 <= conf <= 1.0:
            conf = 0.7 if bool(getattr(a, "to_ids", False)) else 0.4
        source, description = _parse_comment(str(getattr(a, "comment", "") or ""), fallback)
        country = mt["country"][0] if mt.get("country") else None
        for kind, v in zip(kinds, values, strict=True):
            if kind == "-":
                continue
            if kind == "ip":
                try:
                    v = str(ipaddress.ip_address(v.strip()))
                except ValueError:
                    skipped += 1
                    continue
            k = (kind, v.lower() if kind != "user-agent" else v)
            if k in seen:
                continue
            seen.add(k)
            indicators.append(
                Ioc.model_validate(
                    {
                        "type": kind,
                        "value": v,
                        "confidence": conf,
                        "source": source,
                        "description": description,
                        "tags": mt.get("tag", []),
                        "country": country if kind == "ip" else None,
                    }
                )
            )
    if skipped:
        log.warning(
            "MISP import: %d attribute(s) of types duqhunt cannot use were skipped", skipped
        )
    packs = ev_tags.get("pack", [])
    pack_name = name or (packs[0] if len(packs) == 1 else None) or f"misp-{ev_uuid[:8] or 'event'}"
    base = IocPack(pack=pack_name, title=info, indicators=indicators)
    return base.model_copy(update={"indicators": base.normalised()})
