"""Console pages for IAM identities."""

from __future__ import annotations

from typing import Any

from trent.console.core import IAM, Pages, alert_text, error_status
from trent.console.http import (
    HttpRequest,
    HttpResponse,
    redirect,
)
from trent.console.sessions import Session
from trent.domain.errors import (
    TrentError,
)
from trent.services.request import RequestContext


class IdentityPages(Pages):
    """Identities: IAM users, roles, access keys and inline policies, through the IAM service."""

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        if method == "POST" and rest == ["users"]:
            return await self._create_user(http, session)
        if method == "POST" and rest == ["access-keys"]:
            return await self._create_access_key(http, session)
        if method == "POST" and rest == ["user-policy"]:
            return await self._put_user_policy(http, session)
        return await self._identities_page(http, session)

    async def _identities_page(
        self,
        http: HttpRequest,
        session: Session,
        *,
        alert: str | None = None,
        status: int = 200,
        new_key: Any = None,
    ) -> HttpResponse:
        iam = self._iam
        errors: dict[str, str] = {}
        users: list[dict[str, Any]] = []
        roles: list[Any] = []
        own_keys: list[Any] = []
        try:
            page = await self._call(
                http,
                session,
                IAM,
                "ListUsers",
                None,
                lambda r: iam.list_users(r.caller, None, None, 100),
                read_only=True,
            )
            for user in page.items:
                entry: dict[str, Any] = {"user": user, "keys": [], "policies": []}
                name = user.user_name
                try:
                    entry["keys"] = await self._call(
                        http,
                        session,
                        IAM,
                        "ListAccessKeys",
                        {"userName": user.user_name},
                        lambda r: iam.list_access_keys(r.caller, name),  # noqa: B023 - awaited at once
                        read_only=True,
                    )
                    entry["policies"] = await self._call(
                        http,
                        session,
                        IAM,
                        "ListUserPolicies",
                        {"userName": user.user_name},
                        lambda r: iam.list_user_policies(r.caller, name),  # noqa: B023 - awaited at once
                        read_only=True,
                    )
                except TrentError as error:
                    entry["error"] = alert_text(error)
                users.append(entry)
        except TrentError as error:
            errors["users"] = alert_text(error)
        try:
            roles_page = await self._call(
                http,
                session,
                IAM,
                "ListRoles",
                None,
                lambda r: iam.list_roles(r.caller, None, None, 100),
                read_only=True,
            )
            roles = list(roles_page.items)
        except TrentError as error:
            errors["roles"] = alert_text(error)
        try:
            own_keys = await self._call(
                http,
                session,
                IAM,
                "ListAccessKeys",
                None,
                lambda r: iam.list_access_keys(r.caller, None),
                read_only=True,
            )
        except TrentError as error:
            errors["own_keys"] = alert_text(error)
        return self._page(
            http,
            session,
            "identities.html",
            status=status,
            alert=alert,
            users=users,
            roles=roles,
            own_keys=own_keys,
            errors=errors,
            new_key=new_key,
        )

    async def _create_user(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("user_name").strip()
        try:
            await self._call(
                http,
                session,
                IAM,
                "CreateUser",
                {"userName": name},
                lambda r: self._iam.create_user(r.caller, name),
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"User {name} created."
        return redirect("/console/identities")

    async def _create_access_key(self, http: HttpRequest, session: Session) -> HttpResponse:
        user_name = http.field("user_name").strip() or None

        def create(r: RequestContext) -> Any:
            key = self._iam.create_access_key(r.caller, user_name)
            # The record names the key, never its secret.
            r.response_elements = {
                "accessKey": {"accessKeyId": key.access_key_id, "status": key.status, "userName": key.user_name}
            }
            return key

        try:
            new_key = await self._call(
                http,
                session,
                IAM,
                "CreateAccessKey",
                {"userName": user_name} if user_name else None,
                create,
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        return self._page(http, session, "access_key_created.html", new_key=new_key)

    async def _put_user_policy(self, http: HttpRequest, session: Session) -> HttpResponse:
        user_name = http.field("user_name").strip()
        policy_name = http.field("policy_name").strip()
        document = http.field("policy_document")
        try:
            await self._call(
                http,
                session,
                IAM,
                "PutUserPolicy",
                {"userName": user_name, "policyName": policy_name, "policyDocument": document},
                lambda r: self._iam.put_user_policy(r.caller, user_name, policy_name, document),
                read_only=False,
            )
        except TrentError as error:
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"Policy {policy_name} saved for {user_name}."
        return redirect("/console/identities")
