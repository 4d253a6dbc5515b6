"""Intelligence in and out: STIX 2.1 and MISP exchange, intel packs, sightings, the ATT&CK
subset, offline IP lookups and the victims map.

Names are loaded on first use (PEP 562), so ``import duqhunt.intel`` stays cheap and the
optional libraries (stix2, pymisp, geoip2fast, maxminddb) load only for what is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duqhunt.campaign.killchain import campaign_graph, kill_chain
    from duqhunt.intel.attack import technique_title
    from duqhunt.intel.geoip import GeoInfo, MmdbGeoIP, PackagedGeoIP, open_lookup
    from duqhunt.intel.misp import misp_to_pack, to_misp_event
    from duqhunt.intel.pack import IntelPack, Sighting, load_intel_pack, resolve_intel_pack
    from duqhunt.intel.report import (
        IntelReport,
        intel_report,
        render_intel_html,
        render_intel_text,
        story_sections_html,
    )
    from duqhunt.intel.sightings import add_sightings, load_sightings, sightings_from_report
    from duqhunt.intel.stix import stix_to_pack, to_stix_bundle

_WHERE: dict[str, str] = {
    "campaign_graph": "duqhunt.campaign.killchain",
    "kill_chain": "duqhunt.campaign.killchain",
    "technique_title": "duqhunt.intel.attack",
    "GeoInfo": "duqhunt.intel.geoip",
    "MmdbGeoIP": "duqhunt.intel.geoip",
    "PackagedGeoIP": "duqhunt.intel.geoip",
    "open_lookup": "duqhunt.intel.geoip",
    "misp_to_pack": "duqhunt.intel.misp",
    "to_misp_event": "duqhunt.intel.misp",
    "IntelPack": "duqhunt.intel.pack",
    "Sighting": "duqhunt.intel.pack",
    "load_intel_pack": "duqhunt.intel.pack",
    "resolve_intel_pack": "duqhunt.intel.pack",
    "IntelReport": "duqhunt.intel.report",
    "intel_report": "duqhunt.intel.report",
    "render_intel_html": "duqhunt.intel.report",
    "render_intel_text": "duqhunt.intel.report",
    "story_sections_html": "duqhunt.intel.report",
    "add_sightings": "duqhunt.intel.sightings",
    "load_sightings": "duqhunt.intel.sightings",
    "sightings_from_report": "duqhunt.intel.sightings",
    "stix_to_pack": "duqhunt.intel.stix",
    "to_stix_bundle": "duqhunt.intel.stix",
}

__all__ = [
    "GeoInfo",
    "IntelPack",
    "IntelReport",
    "MmdbGeoIP",
    "PackagedGeoIP",
    "Sighting",
    "add_sightings",
    "campaign_graph",
    "intel_report",
    "kill_chain",
    "load_intel_pack",
    "load_sightings",
    "misp_to_pack",
    "open_lookup",
    "render_intel_html",
    "render_intel_text",
    "resolve_intel_pack",
    "sightings_from_report",
    "stix_to_pack",
    "story_sections_html",
    "technique_title",
    "to_misp_event",
    "to_stix_bundle",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'duqhunt.intel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
