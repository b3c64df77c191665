"""Aliases: friendly names for keys, unique per account and Region."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Alias:
    account_id: str
    region: str
    alias_name: str
    target_key_id: str
    creation_date: datetime
    last_updated_date: datetime
