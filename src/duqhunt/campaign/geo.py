"""Victims and infrastructure by organisation, network and country, with the basis shown.

Victims are grouped by the best basis each one offers, in this order:

1. the organisation as reported (a vendor's "Organization A", a sighting's org column);
2. the ASN organisation an IP looks up to today (an ISP or a hosting company, not the victim
   itself: the row says so);
3. the country as reported;
4. the country an IP looks up to today;
5. the address alone.

Every row names its basis, so "Organization A" (a report) is never confused with "Web Werks
India" (a lookup). Reported countries and looked-up countries are separate columns: a server
reported in India in 2011 may look up as the US today, and both are facts of different dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from duqhunt.intel.geoip import GeoInfo, GeoLookup
from duqhunt.intel.pack import InfraEntry, IntelPack, Sighting, Victim

__all__ = ["InfraRow", "VictimRow", "group_victims", "infrastructure_rows"]

BASIS_ORG = "organisation (as reported)"
BASIS_ASN = "ASN organisation (IP lookup today)"
BASIS_COUNTRY = "country (as reported)"
BASIS_LOOKUP_COUNTRY = "country (IP lookup today)"
BASIS_IP = "IP address only"


@dataclass(frozen=True, slots=True)
class VictimRow:
    group: str
    basis: str
    confirmed: bool
    reported_countries: tuple[str, ...]
    lookup_countries: tuple[str, ...] = ()
    uncertain: bool = False
    sightings: int = 0
    ips: tuple[str, ...] = ()
    reporters: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # citations
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InfraRow:
    ip: str
    role: str
    reported_country: str | None
    hosting: str | None
    lookup_country: str | None
    lookup_asn_org: str | None
    lookup_source: str | None
    sources: tuple[str, ...]
    note: str = ""
    uncertain: bool = False

    @property
    def country_differs(self) -> bool:
        return bool(
            self.reported_country
            and self.lookup_country
            and self.reported_country != self.lookup_country
        )


@dataclass(slots=True)
class _Acc:
    group: str
    basis: str
    confirmed: bool = False
    uncertain: bool = False
    reported: list[str] = field(default_factory=list)
    lookup: list[str] = field(default_factory=list)
    sightings: int = 0
    ips: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self) -> VictimRow:
        return VictimRow(
            group=self.group,
            basis=self.basis,
            confirmed=self.confirmed,
            reported_countries=tuple(dict.fromkeys(self.reported)),
            lookup_countries=tuple(dict.fromkeys(self.lookup)),
            uncertain=self.uncertain,
            sightings=self.sightings,
            ips=tuple(dict.fromkeys(self.ips)),
            reporters=tuple(dict.fromkeys(self.reporters)),
            sources=tuple(dict.fromkeys(self.sources)),
            notes=tuple(dict.fromkeys(n for n in self.notes if n)),
        )


def _citations(pack: IntelPack | None, ids: Iterable[str]) -> list[str]:
    out = []
    for i in ids:
        src = pack.source(i) if pack is not None else None
        out.append(src.citation if src is not None else i)
    return out


def group_victims(
    victims: Sequence[Victim] = (),
    sightings: Sequence[Sighting] = (),
    *,
    pack: IntelPack | None = None,
    lookup: GeoLookup | None = None,
) -> list[VictimRow]:
    """Victim rows: confirmed first, then by group name. Pack victims keep their order."""
    groups: dict[str, _Acc] = {}
    order: list[str] = []

    def acc(key: str, group: str, basis: str) -> _Acc:
        if key not in groups:
            groups[key] = _Acc(group, basis)
            order.append(key)
        return groups[key]

    for v in victims:
        a = acc(f"org:{v.organisation.casefold()}", v.organisation, BASIS_ORG)
        a.confirmed = a.confirmed or v.confirmed
        a.uncertain = a.uncertain or v.uncertain
        a.reported.extend(v.countries)
        a.sources.extend(_citations(pack, v.sources))
        a.notes.append(v.note)

    infos: dict[str, GeoInfo] = {}
    for s in sightings:
        info: GeoInfo | None = None
        if s.ip is not None and lookup is not None:
            info = infos.get(s.ip)
            if info is None:
                info = infos[s.ip] = lookup.lookup(s.ip)
        if s.organisation:
            a = acc(f"org:{s.organisation.casefold()}", s.organisation, BASIS_ORG)
        elif info is not None and info.asn_org:
            a = acc(f"asn:{info.asn_org.casefold()}", info.asn_org, BASIS_ASN)
        elif s.country:
            a = acc(f"cc:{s.country}", s.country, BASIS_COUNTRY)
        elif info is not None and info.country:
            a = acc(f"lcc:{info.country}", info.country, BASIS_LOOKUP_COUNTRY)
        else:
            a = acc(f"ip:{s.ip}", s.ip or "?", BASIS_IP)
        a.confirmed = a.confirmed or s.confirmed
        a.sightings += 1
        if s.country:
            a.reported.append(s.country)
        if info is not None and info.country:
            a.lookup.append(info.country)
        if s.ip:
            a.ips.append(s.ip)
        a.reporters.append(s.reporter)
        if s.source:
            a.sources.append(s.source)
        a.notes.append(s.note)

    rank = {k: i for i, k in enumerate(order)}
    keys = sorted(order, key=lambda k: (not groups[k].confirmed, rank[k]))
    return [groups[k].row() for k in keys]


def infrastructure_rows(
    infra: Sequence[InfraEntry],
    *,
    pack: IntelPack | None = None,
    lookup: GeoLookup | None = None,
) -> list[InfraRow]:
    rows = []
    for e in infra:
        info = lookup.lookup(e.ip) if lookup is not None else None
        rows.append(
            InfraRow(
                ip=e.ip,
                role=e.role,
                reported_country=e.reported_country,
                hosting=e.hosting,
                lookup_country=info.country if info else None,
                lookup_asn_org=info.asn_org if info else None,
                lookup_source=info.source if info else None,
                sources=tuple(_citations(pack, e.sources)),
                note=e.note,
                uncertain=e.uncertain,
            )
        )
    return rows
