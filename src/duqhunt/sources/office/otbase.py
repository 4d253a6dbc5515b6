"""Shared pieces of the OpenType table walkers (layout, GDEF, CFF/CFF2, COLR).

A walker reads one table's bytes, never trusts a count or an offset, and reports what is wrong
as ``StructIssue`` values (table, byte offset inside the table, message). Work is counted with
``Steps``: hostile tables whose offsets share sub-tables, or whose counts are huge, hit the
per-table step limit and the per-file deadline (an ``InputError``) instead of looping for long.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from duqhunt.errors import InputError
from duqhunt.sources.office.limits import Budget

IssueSeverity = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class StructIssue:
    """One structural fault: ``offset`` is relative to the start of ``table``."""

    table: str
    offset: int
    message: str
    check: str
    severity: IssueSeverity = "medium"


class Short(Exception):
    """A read ran past the end of the data (internal to the walkers)."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"{what} at 0x{offset:x} runs past the end")
        self.offset = offset
        self.what = what


class WorkLimit(InputError):
    """A table walk needed more steps than any benign table of its size does."""


class Steps:
    """Counts the work of one walk; past ``limit`` (or the file deadline) raises InputError."""

    __slots__ = ("budget", "limit", "n", "where")

    def __init__(self, budget: Budget, where: str, size: int = 0) -> None:
        self.budget = budget
        self.where = where
        # a benign table needs at most about one step per two bytes, however large it is
        self.limit = max(budget.limits.max_struct_steps, 2 * size)
        self.n = 0

    def tick(self, k: int = 1) -> None:
        self.n += k
        if self.n > self.limit:
            raise WorkLimit(
                self.budget.path,
                f"{self.where}: more than {self.limit} structure steps (hostile counts or offsets)",
            )
        if self.n & 0xFFF < k:
            self.budget.check_time(self.where)


def u8(b: bytes, o: int, what: str = "byte") -> int:
    if o < 0 or o + 1 > len(b):
        raise Short(o, what)
    return b[o]


def u16(b: bytes, o: int, what: str = "uint16") -> int:
    if o < 0 or o + 2 > len(b):
        raise Short(o, what)
    return int(struct.unpack_from(">H", b, o)[0])


def u24(b: bytes, o: int, what: str = "Offset24") -> int:
    if o < 0 or o + 3 > len(b):
        raise Short(o, what)
    return int.from_bytes(b[o : o + 3], "big")


def u32(b: bytes, o: int, what: str = "uint32") -> int:
    if o < 0 or o + 4 > len(b):
        raise Short(o, what)
    return int(struct.unpack_from(">I", b, o)[0])


def need(b: bytes, o: int, n: int, what: str) -> None:
    """Raise Short unless ``n`` bytes at ``o`` lie inside ``b``."""
    if o < 0 or n < 0 or o + n > len(b):
        raise Short(o, what)
