"""Console pages for aliases."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from trent.console.core import Pages, alert_text, error_status
from trent.console.http import HttpRequest, HttpResponse, redirect
from trent.console.sessions import Session
from trent.domain.errors import (
    TrentError,
)


class AliasPages(Pages):
    """Aliases: customer aliases to edit, AWS managed ones apart and read-only."""

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        if method == "POST" and rest == ["create"]:
            return await self._create_alias(http, session)
        if method == "POST" and rest == ["delete"]:
            return await self._delete_alias(http, session)
        if method == "POST" and rest == ["update"]:
            return await self._update_alias(http, session)
        return await self._aliases_page(http, session)

    async def _aliases_page(
        self, http: HttpRequest, session: Session, *, alert: str | None = None, status: int = 200
    ) -> HttpResponse:
        # ListAliases' own NextMarker, checked by its handler.
        marker = http.arg("marker")[:1024] or None
        params = {"Limit": 100} | ({"Marker": marker} if marker else {})
        customer: list[Any] = []
        managed: list[Any] = []
        next_url = None
        try:
            page = await self._kms_invoke(http, session, "ListAliases", params)
            for alias in page["Aliases"]:
                entry = {"name": alias["AliasName"], "target": alias.get("TargetKeyId")}
                (managed if alias["AliasName"].startswith("alias/aws/") else customer).append(entry)
            if page.get("NextMarker"):
                next_url = "/console/aliases?" + urlencode({"marker": page["NextMarker"]})
        except TrentError as error:
            alert = alert or alert_text(error)
            status = status if status != 200 else error_status(error)
        return self._page(
            http,
            session,
            "aliases.html",
            status=status,
            alert=alert,
            customer=customer,
            managed=managed,
            next_url=next_url,
        )

    async def _create_alias(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("alias_name").strip()
        if name and not name.startswith("alias/"):
            name = "alias/" + name
        target = http.field("target_key_id").strip()
        try:
            await self._kms_invoke(http, session, "CreateAlias", {"AliasName": name, "TargetKeyId": target})
        except TrentError as error:
            return await self._aliases_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"Alias {name} created."
        return redirect("/console/aliases")

    async def _update_alias(self, http: HttpRequest, session: Session) -> HttpResponse:
        """UpdateAlias: point an alias at another key (same type and usage, as AWS requires)."""
        name = http.field("alias_name").strip()
        target = http.field("target_key_id").strip()
        try:
            await self._kms_invoke(http, session, "UpdateAlias", {"AliasName": name, "TargetKeyId": target})
        except TrentError as error:
            return await self._aliases_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"Alias {name} now points to {target}."
        return redirect("/console/aliases")

    async def _delete_alias(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("alias_name").strip()
        try:
            await self._kms_invoke(http, session, "DeleteAlias", {"AliasName": name})
        except TrentError as error:
            return await self._aliases_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"Alias {name} deleted."
        return redirect("/console/aliases")
