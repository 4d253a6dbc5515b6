"""Zip archives (and OOXML packages) read member by member, never extracted by path."""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from duqhunt.errors import InputError
from duqhunt.sources.office.limits import Budget


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size: int
    compressed: int
    encrypted: bool


def open_zip(data: bytes, budget: Budget, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(budget.path, f"{where}: zip not readable ({exc})") from None


def members(zf: zipfile.ZipFile, budget: Budget, where: str) -> Iterator[Member]:
    infos = zf.infolist()
    if len(infos) > budget.limits.max_objects:
        raise InputError(
            budget.path, f"{where}: {len(infos)} zip members, more than {budget.limits.max_objects}"
        )
    for i in infos:
        if i.is_dir():
            continue
        yield Member(i.filename, i.file_size, i.compress_size, bool(i.flag_bits & 1))


def read_member(
    zf: zipfile.ZipFile, name: str, budget: Budget, where: str, *, pwd: bytes | None = None
) -> bytes:
    """One member's bytes, within the size and ratio limits (the declared size is not trusted)."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError(budget.path, f"{where}: no member {name!r}") from None
    lim = budget.limits
    if info.file_size > lim.max_member_bytes:
        raise InputError(
            budget.path, f"{where}/{name}: {info.file_size} bytes exceeds the member limit"
        )
    if (
        info.compress_size
        and info.file_size / info.compress_size > lim.max_ratio
        and info.file_size > 1 << 20
    ):
        raise InputError(budget.path, f"{where}/{name}: compression ratio above {lim.max_ratio}")
    try:
        with zf.open(info, pwd=pwd) as fh:
            out = fh.read(lim.max_member_bytes + 1)
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        zlib.error,  # a damaged deflate stream (not an OSError)
        lzma.LZMAError,
    ) as exc:
        raise InputError(budget.path, f"{where}/{name}: member not readable ({exc})") from None
    if len(out) > lim.max_member_bytes:
        raise InputError(budget.path, f"{where}/{name}: inflates past the member limit")
    budget.take(len(out), f"{where}/{name}")
    budget.count(f"{where}/{name}")
    return out
