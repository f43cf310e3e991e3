"""Parameter types shared by the HTTP routes: ids fit a BIGINT, counts are whole numbers (never `true` or 1.5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict

MAX_ID = 2**63 - 1  # the largest BIGINT; larger ids cannot exist, so they are invalid input, not a database error

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


class StrictModel(BaseModel):
    """Request bodies: unknown fields are refused (a client cannot slip in a price), strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
