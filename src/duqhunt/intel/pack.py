"""Intelligence packs: victims, infrastructure and sightings as data, each with its sources.

An intel pack is YAML (content/intel/*.yaml ship with duqhunt; a user's own pack is any file
of the same shape). It is validated here (pydantic); a bad pack raises ContentError naming the
file and the entry. Countries are ISO 3166-1 alpha-2 codes as the reports gave them; today's
IP lookups are never written into a pack (see campaign/geo.py).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from duqhunt.content import load_yaml
from duqhunt.errors import ContentError

__all__ = [
    "InfraEntry",
    "IntelPack",
    "IntelSource",
    "Sighting",
    "Victim",
    "builtin_intel_packs",
    "load_intel_pack",
    "resolve_intel_pack",
    "save_intel_pack",
]

MAX_INTEL_BYTES = 32 << 20


def _country(v: str | None) -> str | None:
    if v is None:
        return None
    code = v.strip().upper()
    if not code:
        return None
    if len(code) != 2 or not code.isalpha() or not code.isascii():
        raise ValueError(f"country {v!r} is not an ISO 3166-1 alpha-2 code")
    return code


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class IntelSource(_Frozen):
    id: str = Field(min_length=1, max_length=200)
    citation: str = Field(min_length=1)
    url: str | None = None


class MalwareRef(_Frozen):
    name: str = Field(min_length=1)
    attack_id: str | None = None


class Victim(_Frozen):
    """An organisation the reports say was hit, in one or more countries."""

    organisation: str = Field(min_length=1, max_length=500)
    countries: list[str] = Field(default_factory=list)
    confirmed: bool
    uncertain: bool = False
    sources: list[str] = Field(min_length=1)
    note: str = ""

    @field_validator("countries")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return [c for c in (_country(x) for x in v) if c]


class InfraEntry(_Frozen):
    """A server the reports tie to the campaign, with where they said it was hosted."""

    ip: str
    role: Literal["c2", "relay", "delivery", "other"] = "c2"
    domain: str | None = None
    reported_country: str | None = None
    hosting: str | None = None
    sources: list[str] = Field(min_length=1)
    note: str = ""
    uncertain: bool = False

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str) -> str:
        return str(ipaddress.ip_address(v.strip()))

    @field_validator("reported_country")
    @classmethod
    def _cc(cls, v: str | None) -> str | None:
        return _country(v)


class Sighting(_Frozen):
    """One observation of the campaign at a victim: from a vendor's report, a CSV, or a hunt.

    At least one of ip and organisation says who was seen. country is the country as reported
    (never today's lookup). confirmed says whether the reporter confirmed the infection.
    """

    time: str | None = None
    ip: str | None = None
    organisation: str | None = None
    country: str | None = None
    sample_hash: str | None = None
    c2: str | None = None
    reporter: str = Field(min_length=1, max_length=500)
    confirmed: bool = False
    source: str | None = None
    note: str = ""

    @field_validator("ip", "c2")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        text = v.strip()
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text.lower().rstrip(".")  # a C&C may be a host name

    @field_validator("country")
    @classmethod
    def _cc(cls, v: str | None) -> str | None:
        return _country(v)

    @field_validator("sample_hash")
    @classmethod
    def _hash(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        text = v.strip().lower()
        if len(text) not in (32, 40, 64) or any(c not in "0123456789abcdef" for c in text):
            raise ValueError("sample_hash is not an MD5, SHA-1 or SHA-256 hex digest")
        return text

    @field_validator("organisation", "time", "source")
    @classmethod
    def _blank(cls, v: str | None) -> str | None:
        return v.strip() if v is not None and v.strip() else None

    @model_validator(mode="after")
    def _who(self) -> Sighting:
        if self.ip is None and self.organisation is None:
            raise ValueError("a sighting needs an ip or an organisation")
        return self

    def key(self) -> tuple[str, ...]:
        """What makes two sightings the same (for de-duplication on merge)."""
        return (
            self.time or "",
            self.ip or "",
            self.organisation or "",
            self.sample_hash or "",
            self.c2 or "",
            self.reporter,
        )


class IntelPack(_Frozen):
    pack: str = Field(min_length=1, max_length=200)
    title: str = ""
    malware: MalwareRef | None = None
    sources: list[IntelSource] = Field(default_factory=list)
    victims: list[Victim] = Field(default_factory=list)
    infrastructure: list[InfraEntry] = Field(default_factory=list)
    sightings: list[Sighting] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> IntelPack:
        known = {s.id for s in self.sources}
        if len(known) != len(self.sources):
            raise ValueError("source ids must be unique")
        groups: tuple[tuple[str, Sequence[Victim | InfraEntry]], ...] = (
            ("victims", self.victims),
            ("infrastructure", self.infrastructure),
        )
        for what, entries in groups:
            for i, entry in enumerate(entries):
                missing = [s for s in entry.sources if s not in known]
                if missing:
                    raise ValueError(f"{what}[{i}] cites unknown source(s) {', '.join(missing)}")
        return self

    def source(self, source_id: str) -> IntelSource | None:
        return next((s for s in self.sources if s.id == source_id), None)


def _read_yaml(path: Path) -> object:
    return load_yaml(path, MAX_INTEL_BYTES)


def load_intel_pack(path: Path) -> IntelPack:
    data = _read_yaml(Path(path))
    try:
        return IntelPack.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(pack)"
        raise ContentError(f"{path}: {loc}: {first['msg']}") from None


def _builtin_paths() -> list[Path]:
    base = resources.files("duqhunt.content").joinpath("intel")
    return sorted(Path(str(p)) for p in base.iterdir() if p.name.endswith((".yaml", ".yml")))


def builtin_intel_packs() -> list[IntelPack]:
    return [load_intel_pack(p) for p in _builtin_paths()]


def resolve_intel_pack(name_or_path: str | Path) -> IntelPack:
    """A shipped pack by name (``duqu-2011``) or a pack file by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or os.sep in text or path.exists():
        return load_intel_pack(path)
    for p in _builtin_paths():
        if p.stem == text:
            return load_intel_pack(p)
    names = ", ".join(p.stem for p in _builtin_paths()) or "none"
    raise ContentError(f"no intel pack named {text!r} (shipped: {names}; or give a file path)")


def save_intel_pack(pack: IntelPack, path: Path) -> None:
    """Write a pack as YAML, atomically (temporary file beside it, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        pack.model_dump(mode="json", exclude_defaults=False),
        sort_keys=False,
        allow_unicode=True,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
