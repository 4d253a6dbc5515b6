"""What a Zeek log reader may spend and what it found: the limits against hostile input, the
plausible time span of a row, and the per-file statistics and warnings every reader keeps."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger("duqhunt.sources.net.zeek")

MAX_WARNINGS_PER_FILE = 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Guards against hostile input. Defaults suit real sensors; tests lower them."""

    batch_rows: int = 262_144
    max_line_bytes: int = 1 << 20
    max_header_lines: int = 64
    max_decompressed_bytes: int = 256 << 30
    max_ratio: float = 400.0  # decompressed / compressed, checked once past ratio_floor_bytes
    ratio_floor_bytes: int = 64 << 20
    # the plausible span of a row's ``ts``: from 1990-01-01 to now + max_ts_ahead_s. A row
    # outside it (or a NaN/Inf time) is a bad row, skipped with a warning naming its line
    min_ts: float = 631_152_000.0
    max_ts_ahead_s: float = 86_400.0

    def ts_bounds(self) -> tuple[float, float]:
        """(earliest, latest) plausible ``ts``, the latest taken from the clock now."""
        return self.min_ts, time.time() + self.max_ts_ahead_s


def bad_time_reason(name: str, value: float, bounds: tuple[float, float]) -> str | None:
    """Why a float value is not one a row may carry (None if it may): a NaN or infinite
    number anywhere, or a ``ts`` outside the plausible span."""
    if not math.isfinite(value):
        return f"column {name}: {value!r} is not a finite number"
    if name == "ts" and not bounds[0] <= value <= bounds[1]:
        return (
            f"column ts: time {value!r} is outside the plausible span "
            f"(1990-01-01 to one day from now)"
        )
    return None


def bad_float_rows(table: pa.Table, bounds: tuple[float, float]) -> dict[int, str]:
    """Rows of a canonical table with a non-finite float or an implausible ``ts``."""
    bad: dict[int, str] = {}
    for name in table.column_names:
        col = table.column(name)
        if not pa.types.is_floating(col.type):
            continue
        ok = pc.is_finite(col)
        if name == "ts":
            ok = pc.and_(
                ok,
                pc.and_(pc.greater_equal(col, bounds[0]), pc.less_equal(col, bounds[1])),
            )
        bad_mask = pc.invert(pc.fill_null(ok, True))
        if not pc.any(bad_mask).as_py():
            continue
        for i in pc.indices_nonzero(bad_mask).to_pylist():
            if i not in bad:
                bad[i] = bad_time_reason(name, col[i].as_py(), bounds) or "bad number"
    return bad


@dataclass(slots=True)
class ParseStats:
    """What happened while reading one file. Filled in as the batches are consumed."""

    path: str
    log_type: str
    fmt: str
    rows: int = 0
    skipped_rows: int = 0
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    suppressed_warnings: int = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS_PER_FILE:
            self.warnings.append(message)
            log.warning("%s", message)
        else:
            self.suppressed_warnings += 1

    def bad_row(self, line: int, reason: str) -> None:
        self.skipped_rows += 1
        self.warn(f"{self.path}, line {line}: {reason}; row skipped")

    def all_warnings(self) -> list[str]:
        out = list(self.warnings)
        if self.suppressed_warnings:
            out.append(f"{self.path}: {self.suppressed_warnings} more warnings not shown")
        return out
