"""A page of a listing: AWS's Limit/Marker pagination, with the marker made opaque by the api."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    # The sort position of the last item, when more items follow.
    next_position: str | None
