"""One error hierarchy for duqhunt.

`DuqhuntError` is the root. `InputError` is what a parser may raise about a piece of evidence:
it always names the file and, where known, the place in it (line, row or byte offset), so that a
bad artefact becomes a readable warning and a `not_analysed` entry instead of a traceback.
`UsageError` is a bad option: it stops the run (exit code 2).
"""

from __future__ import annotations

from typing import Any


class DuqhuntError(Exception):
    """Root of every error duqhunt raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as its arguments and attributes: a parser's error crosses from the worker
        # process that read the file (duqhunt.isolation) whatever its __init__ takes
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[DuqhuntError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class UsageError(DuqhuntError):
    """A bad option or argument: the run stops with exit code 2."""


class InputError(DuqhuntError):
    """Bad evidence. Carries the file and where in it the problem is."""

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.offset = offset
        super().__init__(self.describe())

    @property
    def where(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        return ", ".join(parts)

    def describe(self) -> str:
        return f"{self.where}: {self.reason}"


class ContentError(DuqhuntError):
    """A detection content pack (IOC YAML, allow-list) is malformed; names the file and entry."""
