"""The base of every model in the report document: frozen, strict about unknown fields, and
without NaN or infinity (JSON has neither; pydantic would write null, which the model would then
refuse when the report is read back)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
