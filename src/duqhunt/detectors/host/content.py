"""The host detectors' content (src/duqhunt/content/host/*.yaml), validated at this boundary."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from duqhunt.errors import ContentError


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NamedIndicator(_M):
    name: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    source: str
    description: str = ""
    kind: str = ""
    genuine_image: str = ""  # a service with this ImagePath is the genuine one


class TempPattern(_M):
    pattern: str
    alone: bool
    confidence: float = Field(ge=0.0, le=1.0)
    source: str
    description: str = ""


class VendorClaim(_M):
    vendor: str
    match: list[str]
    file_patterns: list[str]
    signer_patterns: list[str]


class Typo(_M):
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    source: str
    description: str = ""


class PostureItem(_M):
    id: str
    kbs: list[str]
    title: str
    source: str
    workaround: str = ""


class HostPack(_M):
    pack: str
    title: str = ""
    files: list[NamedIndicator] = Field(default_factory=list)
    services: list[NamedIndicator] = Field(default_factory=list)
    service_values: list[NamedIndicator] = Field(default_factory=list)
    zone_values: list[NamedIndicator] = Field(default_factory=list)
    temp_files: list[TempPattern] = Field(default_factory=list)
    vendor_claims: list[VendorClaim] = Field(default_factory=list)
    typos: list[Typo] = Field(default_factory=list)
    remote_exec_services: list[str] = Field(default_factory=list)
    posture: list[PostureItem] = Field(default_factory=list)


class CertEntry(_M):
    organisation: str
    issuer_contains: str = ""
    serial: str = ""
    sha1: str = ""
    not_after: str = ""
    revoked: str = ""
    status: str
    confidence: float = Field(ge=0.0, le=1.0)
    source: str
    description: str = ""


class CertPack(_M):
    pack: str
    certificates: list[CertEntry]


def _load(text: str, where: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContentError(f"{where}: not valid YAML: {exc}") from exc


def load_host_pack(path: Path) -> HostPack:
    try:
        return HostPack.model_validate(_load(path.read_text(encoding="utf-8"), str(path)))
    except ValidationError as exc:
        raise ContentError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def builtin_host_pack() -> HostPack:
    base = resources.files("duqhunt.content").joinpath("host", "duqu-host.yaml")
    try:
        return HostPack.model_validate(_load(base.read_text(encoding="utf-8"), "duqu-host.yaml"))
    except ValidationError as exc:
        raise ContentError(f"content/host/duqu-host.yaml: {exc}") from exc


@lru_cache(maxsize=1)
def builtin_cert_pack() -> CertPack:
    base = resources.files("duqhunt.content").joinpath("host", "certificates.yaml")
    try:
        return CertPack.model_validate(_load(base.read_text(encoding="utf-8"), "certificates.yaml"))
    except ValidationError as exc:
        raise ContentError(f"content/host/certificates.yaml: {exc}") from exc


def builtin_yara_rules() -> Path:
    return Path(str(resources.files("duqhunt.content").joinpath("yara", "duqu.yar")))


class KnownGoodEntry(_M):
    name: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    source: str = ""
    services: list[str] = Field(min_length=1)
    images: list[str] = Field(min_length=1)


class KnownGood(_M):
    """Known-good service installs (content/host/known-good.yaml or a user's file)."""

    name: str
    entries: list[KnownGoodEntry] = Field(default_factory=list)

    def match(self, service: str, image: str) -> KnownGoodEntry | None:
        """The entry whose service and image globs both match, or None."""
        from fnmatch import fnmatchcase

        svc = service.strip().lower()
        img = image.strip().strip('"').lower()
        for e in self.entries:
            if any(fnmatchcase(svc, g.lower()) for g in e.services) and any(
                fnmatchcase(img, g.lower()) for g in e.images
            ):
                return e
        return None

    def merged(self, other: KnownGood) -> KnownGood:
        return KnownGood(name=f"{self.name}+{other.name}", entries=[*self.entries, *other.entries])


def load_known_good(path: Path) -> KnownGood:
    try:
        return KnownGood.model_validate(_load(path.read_text(encoding="utf-8"), str(path)))
    except ValidationError as exc:
        raise ContentError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def builtin_known_good() -> KnownGood:
    base = resources.files("duqhunt.content").joinpath("host", "known-good.yaml")
    try:
        return KnownGood.model_validate(_load(base.read_text(encoding="utf-8"), "known-good.yaml"))
    except ValidationError as exc:
        raise ContentError(f"content/host/known-good.yaml: {exc}") from exc
