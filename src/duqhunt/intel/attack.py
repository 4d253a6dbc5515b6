"""A packaged ATT&CK subset (content/attack/): technique and software names, offline.

Only what duqhunt tags and Duqu (S0038); each entry says whether its name and STIX id were
read from mitre/cti (``verified``) or written from knowledge of ATT&CK (see the YAML header).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Software", "Technique", "attack_software", "attack_techniques", "technique_title"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Technique(_Frozen):
    id: str
    name: str
    parent: str | None = None
    tactics: list[str] = Field(default_factory=list)
    stix_id: str = ""
    verified: bool = False

    @property
    def url(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/")


class Software(_Frozen):
    id: str
    name: str
    type: str
    stix_id: str = ""
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    references: list[str] = Field(default_factory=list)
    verified: bool = False

    @property
    def url(self) -> str:
        return f"https://attack.mitre.org/software/{self.id}"


class _Subset(_Frozen):
    attack_version_note: str = ""
    software: list[Software]
    techniques: list[Technique]


@lru_cache(maxsize=1)
def _subset() -> _Subset:
    ref = resources.files("duqhunt.content").joinpath("attack").joinpath("enterprise-subset.yaml")
    with ref.open("r", encoding="utf-8") as fh:
        return _Subset.model_validate(yaml.safe_load(fh))


@dataclass(frozen=True, slots=True)
class _Index:
    techniques: dict[str, Technique]
    software: dict[str, Software]


@lru_cache(maxsize=1)
def _index() -> _Index:
    s = _subset()
    return _Index({t.id: t for t in s.techniques}, {x.id: x for x in s.software})


def attack_techniques() -> dict[str, Technique]:
    return dict(_index().techniques)


def attack_software() -> dict[str, Software]:
    return dict(_index().software)


def technique_title(technique_id: str) -> str | None:
    """ "Proxy: Internal Proxy" for T1090.001, "Valid Accounts" for T1078; None if unknown."""
    idx = _index().techniques
    t = idx.get(technique_id.strip().upper())
    if t is None:
        return None
    if t.parent and t.parent in idx:
        return f"{idx[t.parent].name}: {t.name}"
    return t.name
