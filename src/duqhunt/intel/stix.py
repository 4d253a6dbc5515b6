"""STIX 2.1 out (a bundle from a report and packs) and in (a bundle as an IOC pack).

Out, with the ``stix2`` library (so every object is checked as it is built):

* an Identity for duqhunt (the producer) and one for the hunted network (where sighted);
* Malware (Duqu, S0038) when a pack names it or an indicator is tagged ``duqu``;
* one Indicator per IOC (STIX pattern, confidence 0-100, the pack's source as an external
  reference, tags as labels) and a Grouping per pack (its name, so import gets it back);
* Infrastructure (command-and-control) that consists-of IPv4Address objects; both located-at a
  Location (the reported hosting country, never today's lookup);
* victim organisations as Identities located-at their countries, with a Sighting of the
  malware where sighted at each, confidence from confirmed / unconfirmed / uncertain;
* from a report: the C&C it found (Infrastructure, with a Sighting at the hunted network
  carrying first/last seen and the number of hosts), and the ATT&CK techniques its findings
  tagged (attack-pattern objects, sighted at the hunted network);
* Relationships: indicates, uses, consists-of, located-at.

Identifiers are UUIDv5 of a stable key, so the same input gives the same bundle.

In: Indicators with STIX patterns made of ``=`` comparisons joined by OR (one IOC each) on
ipv4/ipv6 addresses, domain names, URLs, file names and hashes, and the HTTP User-Agent, plus
command-and-control Infrastructure's addresses. Anything else is counted and skipped (logged),
never guessed at.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import stix2  # type: ignore[import-untyped,unused-ignore]

from duqhunt.content import Indicator as Ioc
from duqhunt.content import IocPack
from duqhunt.errors import InputError
from duqhunt.intel.attack import attack_software, attack_techniques, technique_title
from duqhunt.intel.pack import IntelPack
from duqhunt.model.report import ReportDocument
from duqhunt.render.map import country_name

__all__ = ["SOURCE_REF", "stix_to_pack", "to_stix_bundle"]

log = logging.getLogger(__name__)

#: external_references source_name carrying an indicator's duqhunt source text
SOURCE_REF = "duqhunt-source"
_NS = uuid.UUID("6f1b8d1e-3c7a-5d0e-9b43-2a8c1f6e0d55")
MAX_OBJECTS = 1_000_000


def _id(kind: str, *key: object) -> str:
    """A stable identifier: UUIDv5 bytes of the key, stamped as version 4 (random-form).

    STIX 2.1 asks for UUIDv4 in SDO/SRO ids; a v4-form UUID derived from a hash keeps the
    bundle deterministic (same input, same ids) without tripping validators.
    """
    digest = uuid.uuid5(_NS, kind + chr(31) + chr(31).join(str(k) for k in key))
    return f"{kind}--{uuid.UUID(bytes=digest.bytes, version=4)}"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _unesc(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _pattern(ioc: Ioc) -> str | None:
    v = _esc(ioc.value)
    if ioc.type == "ip":
        try:
            kind = "ipv6-addr" if ipaddress.ip_address(ioc.value).version == 6 else "ipv4-addr"
        except ValueError:
            return None
        return f"[{kind}:value = '{v}']"
    return {
        "domain": f"[domain-name:value = '{v}']",
        "url": f"[url:value = '{v}']",
        "filename": f"[file:name = '{v}']",
        "md5": f"[file:hashes.MD5 = '{v}']",
        "sha1": f"[file:hashes.'SHA-1' = '{v}']",
        "sha256": f"[file:hashes.'SHA-256' = '{v}']",
        "user-agent": (
            f"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{v}']"
        ),
    }.get(ioc.type)


def _conf(value: float) -> int:
    return max(0, min(100, round(value * 100)))


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class _Builder:
    def __init__(self, created: datetime) -> None:
        self.created = created
        self.objects: dict[str, Any] = {}
        self.producer = self.add(
            stix2.v21.Identity(
                id=_id("identity", "duqhunt"),
                name="duqhunt",
                identity_class="system",
                description="duqhunt: hunts Duqu-class targeted intrusions",
                created=created,
                modified=created,
            )
        )

    def add(self, obj: Any) -> str:
        self.objects.setdefault(obj.id, obj)
        return str(obj.id)

    def common(self) -> dict[str, Any]:
        return {"created": self.created, "modified": self.created, "created_by_ref": self.producer}

    def rel(self, src: str, kind: str, dst: str, **extra: Any) -> str:
        return self.add(
            stix2.v21.Relationship(
                id=_id("relationship", src, kind, dst),
                source_ref=src,
                relationship_type=kind,
                target_ref=dst,
                **self.common(),
                **extra,
            )
        )

    def location(self, cc: str) -> str:
        return self.add(
            stix2.v21.Location(
                id=_id("location", cc),
                country=cc,
                name=country_name(cc) or cc,
                **self.common(),
            )
        )

    def ipv4(self, ip: str) -> str:
        addr = ipaddress.ip_address(ip)
        cls = stix2.v21.IPv6Address if addr.version == 6 else stix2.v21.IPv4Address
        return self.add(cls(value=str(addr)))

    def malware(self, name: str, attack_id: str | None) -> str:
        sw = attack_software().get(attack_id or "")
        refs: list[dict[str, str]] = []
        if sw is not None:
            refs.append({"source_name": "mitre-attack", "external_id": sw.id, "url": sw.url})
        return self.add(
            stix2.v21.Malware(
                id=_id("malware", name.casefold()),
                name=name,
                is_family=True,
                malware_types=["backdoor", "remote-access-trojan"],
                description=sw.description if sw is not None else None,
                external_references=refs or None,
                **self.common(),
            )
        )

    def c2(self, ip: str, country: str | None, description: str | None, refs: list[Any]) -> str:
        infra = self.add(
            stix2.v21.Infrastructure(
                id=_id("infrastructure", "c2", ip),
                name=f"C&C {ip}",
                infrastructure_types=["command-and-control"],
                description=description or None,
                external_references=refs or None,
                **self.common(),
            )
        )
        addr = self.ipv4(ip)
        self.rel(infra, "consists-of", addr)
        if country:
            loc = self.location(country)
            self.rel(infra, "located-at", loc)
            self.rel(addr, "located-at", loc)
        return infra


def _duqu_tagged(ioc: Ioc) -> bool:
    return any(t.casefold() == "duqu" for t in ioc.tags)


def _add_ioc_pack(b: _Builder, pack: IocPack) -> None:
    refs: list[str] = []
    malware: str | None = None
    for ioc in pack.indicators:
        pattern = _pattern(ioc)
        if pattern is None:
            log.warning(
                "pack %s: %s %r has no STIX pattern; left out", pack.pack, ioc.type, ioc.value
            )
            continue
        ind = b.add(
            stix2.v21.Indicator(
                id=_id("indicator", pack.pack, ioc.type, ioc.value),
                name=f"{ioc.type} {ioc.value}"[:250],
                description=ioc.description or None,
                pattern=pattern,
                pattern_type="stix",
                valid_from=b.created,
                confidence=_conf(ioc.confidence),
                labels=list(ioc.tags) or None,
                indicator_types=["malicious-activity"],
                external_references=[{"source_name": SOURCE_REF, "description": ioc.source}],
                **b.common(),
            )
        )
        refs.append(ind)
        if _duqu_tagged(ioc):
            malware = malware or b.malware("Duqu", "S0038")
            b.rel(ind, "indicates", malware)
        if ioc.type == "ip" and ("c2" in ioc.tags or ioc.country):
            if "c2" in ioc.tags:
                infra = b.c2(ioc.value, ioc.country, ioc.description, [])
                b.rel(ind, "indicates", infra)
                if malware is not None and _duqu_tagged(ioc):
                    b.rel(malware, "uses", infra)
            elif ioc.country:
                b.rel(b.ipv4(ioc.value), "located-at", b.location(ioc.country))
    if refs:
        b.add(
            stix2.v21.Grouping(
                id=_id("grouping", pack.pack),
                name=pack.pack,
                description=pack.title or None,
                context="suspicious-activity",
                object_refs=refs,
                **b.common(),
            )
        )


def _sighting_conf(confirmed: bool, uncertain: bool) -> int:
    if uncertain:
        return 15
    return 85 if confirmed else 35


def _add_intel_pack(b: _Builder, pack: IntelPack) -> None:
    name = pack.malware.name if pack.malware else "Duqu"
    malware = b.malware(name, pack.malware.attack_id if pack.malware else None)

    def refs(ids: Iterable[str]) -> list[dict[str, str]]:
        out = []
        for i in ids:
            src = pack.source(i)
            if src is None:
                continue
            ref = {"source_name": src.id, "description": src.citation}
            if src.url:
                ref["url"] = src.url
            out.append(ref)
        return out

    for v in pack.victims:
        ident = b.add(
            stix2.v21.Identity(
                id=_id("identity", pack.pack, "victim", v.organisation),
                name=v.organisation,
                identity_class="organization",
                description=v.note or None,
                external_references=refs(v.sources) or None,
                **b.common(),
            )
        )
        for cc in v.countries:
            b.rel(ident, "located-at", b.location(cc))
        status = "confirmed" if v.confirmed else "reported, not confirmed"
        if v.uncertain:
            status += "; uncertain"
        b.add(
            stix2.v21.Sighting(
                id=_id("sighting", pack.pack, v.organisation),
                sighting_of_ref=malware,
                where_sighted_refs=[ident],
                confidence=_sighting_conf(v.confirmed, v.uncertain),
                description=f"{name} infection at {v.organisation} ({status})",
                external_references=refs(v.sources) or None,
                **b.common(),
            )
        )
    for e in pack.infrastructure:
        infra = b.c2(e.ip, e.reported_country, e.note or None, refs(e.sources))
        b.rel(malware, "uses", infra)
    for s in pack.sightings:
        where: str
        if s.organisation:
            where = b.add(
                stix2.v21.Identity(
                    id=_id("identity", pack.pack, "victim", s.organisation),
                    name=s.organisation,
                    identity_class="organization",
                    **b.common(),
                )
            )
            if s.country:
                b.rel(where, "located-at", b.location(s.country))
        elif s.country:
            where = b.location(s.country)
        else:
            where = b.add(
                stix2.v21.Identity(
                    id=_id("identity", "host", s.ip or ""),
                    name=f"host {s.ip}",
                    identity_class="unknown",
                    **b.common(),
                )
            )
        seen = _ts(s.time)
        b.add(
            stix2.v21.Sighting(
                id=_id("sighting", pack.pack, *s.key()),
                sighting_of_ref=malware,
                where_sighted_refs=[where],
                first_seen=seen,
                confidence=_sighting_conf(s.confirmed, False),
                description=f"reported by {s.reporter}"
                + (f"; C&C {s.c2}" if s.c2 else "")
                + (f"; sample {s.sample_hash}" if s.sample_hash else ""),
                **b.common(),
            )
        )


def _add_report(b: _Builder, doc: ReportDocument) -> None:
    case = b.add(
        stix2.v21.Identity(
            id=_id("identity", "case", doc.case or "", doc.started),
            name=f"hunted network ({doc.case})" if doc.case else "hunted network",
            identity_class="organization",
            **b.common(),
        )
    )
    beacons: dict[str, list[Any]] = {}
    for beacon in doc.campaign.beacons:
        if not beacon.suppressed:
            beacons.setdefault(beacon.dst, []).append(beacon)
    for c in doc.campaign.c2:
        try:
            ipaddress.ip_address(c.ip)
        except ValueError:
            continue
        infra = b.c2(c.ip, None, f"C&C found by duqhunt ({', '.join(c.sources)})", [])
        bs = beacons.get(c.ip, [])
        firsts = [t for t in (_ts(x.first_seen) for x in bs) if t]
        lasts = [t for t in (_ts(x.last_seen) for x in bs) if t]
        hosts = sorted({x.src for x in bs})
        b.add(
            stix2.v21.Sighting(
                id=_id("sighting", "case", doc.started, c.ip),
                sighting_of_ref=infra,
                where_sighted_refs=[case],
                first_seen=min(firsts) if firsts else None,
                last_seen=max(lasts) if lasts else None,
                count=max(1, len(hosts)),
                confidence=_conf(c.score),
                description=(
                    f"{len(hosts)} host(s) beaconing: {', '.join(hosts[:20])}"
                    if hosts
                    else "no beacons recorded"
                )
                + ("; a known IOC" if c.known_ioc else ""),
                **b.common(),
            )
        )
    techniques = attack_techniques()
    seen: dict[str, list[Any]] = {}
    for f in doc.findings:
        for t in f.attack:
            seen.setdefault(t, []).append(f)
    for tid in sorted(seen):
        tech = techniques.get(tid)
        ap = b.add(
            stix2.v21.AttackPattern(
                id=tech.stix_id
                if tech is not None and tech.stix_id
                else _id("attack-pattern", tid),
                name=technique_title(tid) or tid,
                external_references=[
                    {
                        "source_name": "mitre-attack",
                        "external_id": tid,
                        "url": "https://attack.mitre.org/techniques/" + tid.replace(".", "/"),
                    }
                ],
                **b.common(),
            )
        )
        fs = seen[tid]
        firsts = [x for x in (_ts(f.first_seen) for f in fs) if x]
        lasts = [x for x in (_ts(f.last_seen) for f in fs) if x]
        b.add(
            stix2.v21.Sighting(
                id=_id("sighting", "case", doc.started, tid),
                sighting_of_ref=ap,
                where_sighted_refs=[case],
                first_seen=min(firsts) if firsts else None,
                last_seen=max(lasts) if lasts else None,
                count=len(fs),
                description="; ".join(sorted({f.detector for f in fs})),
                **b.common(),
            )
        )


def to_stix_bundle(
    doc: ReportDocument | None,
    packs: Sequence[IocPack | IntelPack] = (),
    *,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A STIX 2.1 bundle (as a JSON-ready dict) of a report and/or packs."""
    when = created or _ts(doc.finished if doc is not None else None) or datetime.now(UTC)
    b = _Builder(when)
    for pack in packs:
        if isinstance(pack, IocPack):
            _add_ioc_pack(b, pack)
        else:
            _add_intel_pack(b, pack)
    if doc is not None:
        _add_report(b, doc)
    key = json.dumps(sorted(b.objects), separators=(",", ":"))
    bundle = stix2.v21.Bundle(
        id=_id("bundle", key), objects=list(b.objects.values()), allow_custom=False
    )
    data: dict[str, Any] = json.loads(bundle.serialize())
    return data


# ----------------------------------------------------------------------------- import

_PART = r"(?:[A-Za-z0-9_-]+|'[^']*')"
_COMP = r"([a-z0-9-]+):(" + _PART + r"(?:\." + _PART + r")*)\s*=\s*'((?:[^'\\]|\\.)*)'"
_OBS = r"\[\s*" + _COMP + r"(?:\s+OR\s+" + _COMP + r")*\s*\]"
_WHOLE = re.compile(r"^\s*" + _OBS + r"(?:\s+OR\s+" + _OBS + r")*\s*$")
_COMP_RE = re.compile(_COMP)


def _path_parts(path: str) -> list[str]:
    return [p.strip("'") for p in re.findall(_PART, path)]


def _ioc_type(obj: str, path: str) -> str | None:
    parts = [p.lower() for p in _path_parts(path)]
    if obj in ("ipv4-addr", "ipv6-addr") and parts == ["value"]:
        return "ip"
    if obj == "domain-name" and parts == ["value"]:
        return "domain"
    if obj == "url" and parts == ["value"]:
        return "url"
    if obj == "file" and parts == ["name"]:
        return "filename"
    if obj == "file" and len(parts) == 2 and parts[0] == "hashes":
        return {
            "md5": "md5",
            "sha-1": "sha1",
            "sha1": "sha1",
            "sha-256": "sha256",
            "sha256": "sha256",
        }.get(parts[1])
    if obj == "network-traffic" and parts[-2:] == ["request_header", "user-agent"]:
        return "user-agent"
    return None


def parse_pattern(pattern: str) -> list[tuple[str, str]] | None:
    """[(ioc type, value)] for a pattern of '=' comparisons joined by OR; None otherwise."""
    if not _WHOLE.match(pattern):
        return None
    out = []
    for obj, path, value in _COMP_RE.findall(pattern):
        t = _ioc_type(obj, path)
        if t is None:
            return None
        value = _unesc(value)
        if t == "ip" and "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            if net.num_addresses != 1:
                return None
            value = str(net.network_address)
        out.append((t, value))
    return out


def _source(obj: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]], fallback: str) -> str:
    for ref in obj.get("external_references") or []:
        if (
            isinstance(ref, dict)
            and ref.get("source_name") == SOURCE_REF
            and ref.get("description")
        ):
            return str(ref["description"])
    cites = []
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict) and ref.get("source_name") not in (None, "mitre-attack"):
            text = str(ref.get("description") or ref["source_name"])
            cites.append(text + (f" ({ref['url']})" if ref.get("url") else ""))
    if cites:
        return "; ".join(cites)
    creator = by_id.get(str(obj.get("created_by_ref", "")))
    if creator and creator.get("name"):
        return f"STIX, created by {creator['name']}"
    return fallback


def stix_to_pack(bundle: Mapping[str, Any] | str, *, name: str | None = None) -> IocPack:
    """An IOC pack from a STIX 2.x bundle (dict or JSON text)."""
    if isinstance(bundle, str):
        try:
            bundle = json.loads(bundle)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError("STIX bundle", f"not valid JSON: {exc}") from None
    if not isinstance(bundle, Mapping) or bundle.get("type") != "bundle":
        raise InputError("STIX bundle", "not a STIX bundle (type is not 'bundle')")
    objects = bundle.get("objects") or []
    if not isinstance(objects, list):
        raise InputError("STIX bundle", "objects is not a list")
    if len(objects) > MAX_OBJECTS:
        raise InputError("STIX bundle", f"more than {MAX_OBJECTS} objects")
    by_id = {str(o.get("id")): o for o in objects if isinstance(o, dict)}
    fallback = f"STIX bundle {bundle.get('id', '')}".strip()

    located: dict[str, str] = {}  # object id -> country
    consists: dict[str, list[str]] = {}
    for o in by_id.values():
        if o.get("type") != "relationship":
            continue
        src, dst, kind = (
            str(o.get("source_ref")),
            str(o.get("target_ref")),
            o.get("relationship_type"),
        )
        if kind == "located-at":
            loc = by_id.get(dst, {})
            cc = loc.get("country")
            if isinstance(cc, str) and len(cc) == 2:
                located.setdefault(src, cc.upper())
        elif kind == "consists-of":
            consists.setdefault(src, []).append(dst)
    ip_country: dict[str, str] = {}
    for oid, o in by_id.items():
        if o.get("type") in ("ipv4-addr", "ipv6-addr") and isinstance(o.get("value"), str):
            cc = located.get(oid)
            if cc:
                ip_country[str(o["value"])] = cc
    for infra, parts in consists.items():
        cc = located.get(infra)
        for p in parts:
            addr = by_id.get(p, {})
            if cc and isinstance(addr.get("value"), str):
                ip_country.setdefault(str(addr["value"]), cc)

    indicators: list[Ioc] = []
    seen: set[tuple[str, str]] = set()
    skipped = 0

    def add(t: str, value: str, obj: Mapping[str, Any], conf: float, tags: list[str]) -> None:
        key = (t, value.lower() if t != "user-agent" else value)
        if key in seen:
            return
        seen.add(key)
        country = ip_country.get(value) if t == "ip" else None
        indicators.append(
            Ioc.model_validate(
                {
                    "type": t,
                    "value": value,
                    "confidence": conf,
                    "source": _source(obj, by_id, fallback),
                    "description": str(obj.get("description") or ""),
                    "tags": tags,
                    "country": country,
                }
            )
        )

    for o in objects:
        if not isinstance(o, dict) or o.get("type") != "indicator":
            continue
        if o.get("pattern_type", "stix") != "stix" or not isinstance(o.get("pattern"), str):
            skipped += 1
            continue
        parsed = parse_pattern(o["pattern"])
        if parsed is None:
            skipped += 1
            continue
        conf = o.get("confidence")
        conf_f = conf / 100 if isinstance(conf, int) and 0 <= conf <= 100 else 0.5
        tags = [str(x) for x in o.get("labels") or []]
        for t, value in parsed:
            add(t, value, o, conf_f, tags)
    for o in objects:
        if not isinstance(o, dict) or o.get("type") != "infrastructure":
            continue
        if "command-and-control" not in (o.get("infrastructure_types") or []):
            continue
        conf = o.get("confidence")
        conf_f = conf / 100 if isinstance(conf, int) and 0 <= conf <= 100 else 0.5
        for p in consists.get(str(o.get("id")), []):
            addr = by_id.get(p, {})
            if addr.get("type") in ("ipv4-addr", "ipv6-addr") and isinstance(
                addr.get("value"), str
            ):
                add("ip", str(addr["value"]), o, conf_f, ["c2"])
    if skipped:
        log.warning(
            "STIX import: %d indicator(s) with patterns duqhunt cannot use were skipped", skipped
        )
    groupings = [o for o in objects if isinstance(o, dict) and o.get("type") == "grouping"]
    pack_name = name or (
        str(groupings[0]["name"]) if len(groupings) == 1 and groupings[0].get("name") else None
    )
    title = str(groupings[0].get("description") or "") if len(groupings) == 1 else ""
    return IocPack(
        pack=pack_name or f"stix-{str(bundle.get('id', 'bundle'))[8:16]}",
        title=title,
        indicators=indicators,
    ).model_copy(update={"indicators": IocPack(pack="x", indicators=indicators).normalised()})
