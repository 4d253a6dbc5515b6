"""Detection content as data: IOC packs and allow-lists (YAML with source and confidence).

Packs are validated at this boundary (pydantic); a bad pack raises ``ContentError`` naming the
file and the entry, and stops the run: a user who passed a pack wants to know it was not used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from duqhunt.errors import ContentError

IocType = Literal["ip", "domain", "user-agent", "filename", "url", "md5", "sha1", "sha256"]
MAX_PACK_BYTES = 32 << 20


class Indicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: IocType
    value: str = Field(min_length=1, max_length=4096)
    confidence: float = Field(ge=0.0, le=1.0)
    source: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    country: str | None = None

    @field_validator("value")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


class IocPack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pack: str = Field(min_length=1)
    title: str = ""
    indicators: list[Indicator]

    def normalised(self) -> list[Indicator]:
        out: list[Indicator] = []
        for ind in self.indicators:
            value = ind.value
            if ind.type == "ip":
                value = str(ipaddress.ip_address(value))
            elif ind.type in ("domain", "md5", "sha1", "sha256"):
                value = value.lower().rstrip(".")
            out.append(ind.model_copy(update={"value": value}))
        return out


def _beacon_only() -> list[Literal["beacon", "lateral"]]:
    return ["beacon"]


class AllowEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    reason: str
    domains: list[str] = Field(default_factory=list)
    cidrs: list[str] = Field(default_factory=list)
    proto: str | None = None
    ports: list[int] = Field(default_factory=list)
    # what the entry suppresses or lowers: beacon ranking (default) and/or lateral movement
    applies_to: list[Literal["beacon", "lateral"]] = Field(default_factory=_beacon_only)

    def covers(self, ip: str) -> bool:
        """Whether the address is in one of the entry's networks (False for a value that is
        not an address). Detectors ask this per row: the networks are parsed once."""
        if not self.cidrs:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in _networks(tuple(self.cidrs)))


@lru_cache(maxsize=1024)
def _networks(
    cidrs: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


class AllowList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    entries: list[AllowEntry]


def allow_entry_covering(
    allowlists: Iterable[AllowList], ip: str, scope: Literal["beacon", "lateral"]
) -> str | None:
    """``list: entry`` of the first allow-list entry for ``scope`` (its ``applies_to``) whose
    networks cover ``ip``, or None."""
    for allow in allowlists:
        for entry in allow.entries:
            if scope in entry.applies_to and entry.covers(ip):
                return f"{allow.name}: {entry.name}"
    return None


def load_yaml(path: Path, max_bytes: int = MAX_PACK_BYTES) -> object:
    """A content file as YAML (safe loader), or ContentError naming the file and line."""
    try:
        if path.stat().st_size > max_bytes:
            raise ContentError(f"{path}: larger than {max_bytes >> 20} MiB")
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ContentError(f"{path}{where}: not valid YAML ({exc})") from None


def _explain(path: Path, exc: ValidationError) -> ContentError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return ContentError(f"{path}: {loc}: {first['msg']}")


def load_ioc_pack(path: Path) -> IocPack:
    data = load_yaml(path)
    try:
        pack = IocPack.model_validate(data)
        pack = pack.model_copy(update={"indicators": pack.normalised()})
    except ValidationError as exc:
        raise _explain(path, exc) from None
    except ValueError as exc:  # a bad IP address
        raise ContentError(f"{path}: {exc}") from None
    return pack


def load_allowlist(path: Path) -> AllowList:
    data = load_yaml(path)
    try:
        allow = AllowList.model_validate(data)
        for entry in allow.entries:
            for cidr in entry.cidrs:
                ipaddress.ip_network(cidr, strict=False)
    except ValidationError as exc:
        raise _explain(path, exc) from None
    except ValueError as exc:
        raise ContentError(f"{path}: {exc}") from None
    return allow


def _builtin(folder: str) -> list[Path]:
    base = resources.files("duqhunt.content").joinpath(folder)
    return sorted(Path(str(p)) for p in base.iterdir() if p.name.endswith((".yaml", ".yml")))


def builtin_ioc_packs() -> list[IocPack]:
    return [load_ioc_pack(p) for p in _builtin("iocs")]


class PipeList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    pipes: list[str]


def normalise_pipe(name: str) -> str:
    """``\\pipe\\Srvsvc`` / ``\\\\.\\pipe\\srvsvc`` -> ``srvsvc``."""
    n = name.strip().replace("/", "\\").lower()
    for prefix in ("\\\\.\\pipe\\", "\\pipe\\", "pipe\\"):
        if n.startswith(prefix):
            n = n[len(prefix) :]
    return n


def standard_pipes() -> frozenset[str]:
    """Named pipes Windows opens as a matter of course (content/pipes/standard.yaml)."""
    out: set[str] = set()
    for p in _builtin("pipes"):
        data = load_yaml(p)
        try:
            out.update(normalise_pipe(x) for x in PipeList.model_validate(data).pipes)
        except ValidationError as exc:
            raise _explain(p, exc) from None
    return frozenset(out)


def builtin_allowlists() -> list[AllowList]:
    return [load_allowlist(p) for p in _builtin("allowlists")]


def url_match_key(url: str) -> str:
    """The form in which a URL indicator is compared with an HTTP request: host (lower case,
    no trailing dot), a port only when it is not 80 or 443, the path ("/" when empty) and the
    query, without scheme or fragment, all in lower case. http.log sees the request, not the
    scheme a pack wrote down (an https URL is seen where TLS was opened by a proxy), and paths
    are compared without letter case, so that a listed URL is never missed for its spelling.
    ioc_match.sql builds the same key from a request's Host and URI."""
    text = url.strip()
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # a port that is not a number: compared as written
        return text.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{netloc}{parts.path or '/'}{query}".lower()


def ioc_table(packs: list[IocPack]) -> pa.Table:
    """All indicators as one table for the engines (type, value, pack, source, confidence...,
    and ``match_key``: the value as the SQL compares it, url_match_key for a URL)."""
    rows = [
        {
            "type": i.type,
            "value": i.value,
            "match_key": url_match_key(i.value) if i.type == "url" else i.value,
            "pack": p.pack,
            "source": i.source,
            "confidence": i.confidence,
            "description": i.description,
        }
        for p in packs
        for i in p.indicators
    ]
    schema = pa.schema(
        [
            ("type", pa.string()),
            ("value", pa.string()),
            ("match_key", pa.string()),
            ("pack", pa.string()),
            ("source", pa.string()),
            ("confidence", pa.float64()),
            ("description", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
