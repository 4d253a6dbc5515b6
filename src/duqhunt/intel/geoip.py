"""Offline IP lookups: country and ASN organisation, today.

Two back ends, both offline and both optional (imported lazily; a missing one names what to
install):

* ``PackagedGeoIP``: the data file that ships inside the ``geoip2fast`` wheel
  (geoip2fast-asn.dat.gz: country + ASN organisation, IPv4). The code is MIT; the data is
  derived from MaxMind GeoLite2 and so falls under MaxMind's GeoLite2 End User License
  Agreement (attribution required; MaxMind asks users to keep to current data). The file in
  geoip2fast 1.2.2 is from 2024-06-18: good enough to show "where is it hosted today, roughly",
  never evidence of where it was in 2011.
* ``MmdbGeoIP``: the user's own MaxMind .mmdb (GeoLite2/GeoIP2 Country, City or ASN, or a
  compatible file) through ``maxminddb``.

A lookup answers today's question. Reported hosting countries from the intelligence are kept
apart (campaign/geo.py shows both, side by side).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from duqhunt.errors import UsageError

__all__ = ["GeoInfo", "GeoLookup", "MmdbGeoIP", "PackagedGeoIP", "open_lookup"]

log = logging.getLogger(__name__)

PACKAGED_ATTRIBUTION = (
    "IP lookups: geoip2fast (MIT) data file, derived from MaxMind GeoLite2 "
    "(https://www.maxmind.com), GeoLite2 End User License Agreement"
)


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """What a lookup says about one address today (None where it says nothing)."""

    ip: str
    country: str | None = None
    asn: int | None = None
    asn_org: str | None = None
    network: str | None = None
    source: str = ""


class GeoLookup(Protocol):
    @property
    def source(self) -> str: ...

    def lookup(self, ip: str) -> GeoInfo: ...


def _public(ip: str) -> str | None:
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    return str(addr) if addr.is_global else None


class PackagedGeoIP:
    """Country and ASN organisation from the data file shipped in the geoip2fast wheel."""

    def __init__(self) -> None:
        try:
            from geoip2fast import GeoIP2Fast
        except ImportError:
            raise UsageError(
                "offline IP lookups need geoip2fast: pip install 'duqhunt[geo]' "
                "(or pip install geoip2fast)"
            ) from None
        self._db: Any = GeoIP2Fast(verbose=False, geoip2fast_data_file="geoip2fast-asn.dat.gz")
        info: Any = {}
        try:
            info = self._db.get_database_info()
        except Exception:  # an older geoip2fast: the version is still useful
            log.debug("geoip2fast database info unavailable", exc_info=True)
        data = info.get("source_info", "unknown data") if isinstance(info, dict) else "unknown"
        self._source = f"geoip2fast ({data})"

    @property
    def source(self) -> str:
        return self._source

    def lookup(self, ip: str) -> GeoInfo:
        addr = _public(ip)
        if addr is None:
            return GeoInfo(ip=ip, source=self._source)
        r = self._db.lookup(addr)
        cc = str(getattr(r, "country_code", "") or "")
        org = str(getattr(r, "asn_name", "") or "")
        return GeoInfo(
            ip=addr,
            country=cc.upper() if len(cc) == 2 and cc.isalpha() else None,
            asn_org=org or None,
            network=str(getattr(r, "cidr", "") or "") or None,
            source=self._source,
        )


class MmdbGeoIP:
    """Lookups in the user's own MaxMind DB file(s): a Country/City file and/or an ASN file."""

    def __init__(self, *paths: Path, readers: list[Any] | None = None) -> None:
        self._readers: list[Any] = list(readers or [])
        names = [Path(p).name for p in paths]
        if paths:
            try:
                import maxminddb
            except ImportError:
                raise UsageError(
                    "reading .mmdb files needs maxminddb: pip install 'duqhunt[geo]'"
                ) from None
            for p in paths:
                try:
                    self._readers.append(maxminddb.open_database(str(p)))
                except (OSError, ValueError) as exc:
                    raise UsageError(f"{p}: not a readable MaxMind DB ({exc})") from None
        self._source = "MaxMind DB " + (", ".join(names) if names else "(given readers)")

    @property
    def source(self) -> str:
        return self._source

    def lookup(self, ip: str) -> GeoInfo:
        addr = _public(ip)
        if addr is None:
            return GeoInfo(ip=ip, source=self._source)
        country: str | None = None
        asn: int | None = None
        org: str | None = None
        for reader in self._readers:
            rec = reader.get(addr)
            if not isinstance(rec, dict):
                continue
            for key in ("country", "registered_country"):
                node = rec.get(key)
                if country is None and isinstance(node, dict):
                    code = node.get("iso_code")
                    if isinstance(code, str) and len(code) == 2:
                        country = code.upper()
            num = rec.get("autonomous_system_number")
            if asn is None and isinstance(num, int):
                asn = num
            name = rec.get("autonomous_system_organization")
            if org is None and isinstance(name, str) and name:
                org = name
        return GeoInfo(ip=addr, country=country, asn=asn, asn_org=org, source=self._source)

    def close(self) -> None:
        for r in self._readers:
            close = getattr(r, "close", None)
            if callable(close):
                close()


def open_lookup(mmdb: list[Path] | None = None) -> GeoLookup:
    """The user's .mmdb files when given, else the packaged data."""
    if mmdb:
        return MmdbGeoIP(*mmdb)
    return PackagedGeoIP()
