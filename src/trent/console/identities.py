"""Console pages for IAM identities: users, roles, access keys and inline policies.

Every action is one IAM request through ``ConsoleCore.call`` (so it is authorized by the caller's
own policies and audited as ``iam.amazonaws.com``), as the IAM API would make it. Names are checked
against IAM's model constraints inside the request, so a refused name is audited like the API's.

URLs (below /console/identities)::

    GET  ?users_marker=&roles_marker=&max_items=   users and roles, one page of each; own access keys
    POST users | roles | access-keys                create
    GET  users/<name> | roles/<name>                one identity: keys (users), trust policy (roles),
                                                    inline policies
    POST users/<name>/delete | roles/<name>/delete  delete (a ticked confirmation box; dependents first)
    POST <users|roles>/<name>/policies[/<policy>]   put an inline policy (new, or edit that one)
    GET  <users|roles>/<name>/policies/<policy>     view one inline policy
    POST <users|roles>/<name>/policies/<policy>/delete
    POST access-keys/<id>/status | access-keys/<id>/delete
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from trent.console.core import IAM, ConsoleCore, Pages, alert_text
from trent.console.core import error_status as _core_status
from trent.console.http import HttpRequest, HttpResponse, redirect
from trent.console.sessions import Session
from trent.domain.errors import TrentError
from trent.domain.iam import InlinePolicy, Role, User
from trent.domain.iam_errors import NoSuchEntity, ValidationError
from trent.domain.identity import Caller
from trent.domain.ids import account_root_arn
from trent.services.request import RequestContext

_T = TypeVar("_T")

BASE = "/console/identities"
PAGE_SIZE = 100  # IAM's default MaxItems
MAX_PAGE_SIZE = 1000  # IAM's largest MaxItems
# Names (users, roles, policies) are checked by IAM's model, as the API checks them (ConsoleCore.call).
CONFIRM_MESSAGE = "ValidationError: Tick the confirmation box to delete."
_STATUS_DONE = {"Active": "activated", "Inactive": "deactivated"}


def error_status(error: TrentError) -> int:
    """As the IAM API answers: 404 for NoSuchEntity (IAM's own "not found"), else as everywhere."""
    return 404 if isinstance(error, NoSuchEntity) else _core_status(error)


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text  # stored as written; show it so


def _segment(name: str) -> str:
    return quote(name, safe="")


def identity_url(kind: str, name: str, *more: str) -> str:
    return "/".join([BASE, kind, _segment(name), *(_segment(part) for part in more)])


def trust_policy_for(account_id: str, region: str) -> str:
    """The create-role form's starting point: a role that principals of this account may assume."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root_arn(account_id, region)},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True, slots=True)
class _PolicyOwner:
    """What differs between a user's and a role's inline policies."""

    kind: str  # the URL segment: "users" or "roles"
    noun: str  # "user" or "role"
    member: str  # CloudTrail's request parameter naming the owner
    operation: str  # "User" or "Role", as in PutUserPolicy
    get: Callable[[Caller, str, str], InlinePolicy]
    names: Callable[[Caller, str], list[str]]


@dataclass(slots=True)
class _Form:
    """A form shown again after a refused submission: what was typed, and why it was refused."""

    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class IdentityPages(Pages):
    """Identities: IAM users, roles, access keys and inline policies, through the IAM service."""

    def __init__(self, core: ConsoleCore) -> None:
        super().__init__(core)
        iam = self._iam
        self._owners = {
            "users": _PolicyOwner(
                "users",
                "user",
                "userName",
                "User",
                iam.get_user_policy,
                iam.list_user_policies,
            ),
            "roles": _PolicyOwner(
                "roles",
                "role",
                "roleName",
                "Role",
                iam.get_role_policy,
                iam.list_role_policies,
            ),
        }

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        owners = self._owners
        match method, rest:
            case "GET", []:
                return await self._identities_page(http, session)
            case "POST", ["users"]:
                return await self._create_user(http, session)
            case "POST", ["roles"]:
                return await self._create_role(http, session)
            case "POST", ["access-keys"]:
                return await self._create_access_key(http, session)
            case "POST", ["access-keys", key_id, ("status" | "delete") as action]:
                return await self._access_key_action(http, session, key_id, action)
            case "GET", ["users", name]:
                return await self._user_page(http, session, name)
            case "GET", ["roles", name]:
                return await self._role_page(http, session, name)
            case "POST", ["users", name, "delete"]:
                return await self._delete_user(http, session, name)
            case "POST", ["roles", name, "delete"]:
                return await self._delete_role(http, session, name)
            case "POST", [kind, name, "policies"] if kind in owners:
                return await self._put_policy(http, session, owners[kind], name, None)
            case "POST", [kind, name, "policies", policy] if kind in owners:
                return await self._put_policy(http, session, owners[kind], name, policy)
            case "GET", [kind, name, "policies", policy] if kind in owners:
                return await self._policy_page(http, session, owners[kind], name, policy)
            case "POST", [kind, name, "policies", policy, "delete"] if kind in owners:
                return await self._delete_policy(http, session, owners[kind], name, policy)
        return self._not_found(http, session)

    async def _iam_call(
        self,
        http: HttpRequest,
        session: Session,
        operation: str,
        params: Mapping[str, Any] | None,
        use_case: Callable[[RequestContext], _T],
    ) -> _T:
        return await self._call(http, session, IAM, operation, _wire(params), use_case)

    async def _iam_change(self, http: HttpRequest, session: Session, operation: str, params: Mapping[str, Any]) -> None:
        """A change through IAM's own handler, so its record (responseElements too) is the API's."""
        await self._invoke(http, session, IAM, operation, _wire(params))

    def _identity_error(
        self, http: HttpRequest, session: Session, error: TrentError, title: str, action_alert: str | None, status: int
    ) -> HttpResponse:
        """An identity that cannot be shown; after a refused action, that refusal first (it is the news)."""
        if action_alert is None:
            return self._page(
                http, session, "identity_error.html", status=error_status(error), alert=alert_text(error), title=title
            )
        return self._page(
            http,
            session,
            "identity_error.html",
            status=status,
            alert=action_alert,
            more=[alert_text(error)],
            title=title,
        )

    # ================================================================= the list page

    async def _identities_page(
        self,
        http: HttpRequest,
        session: Session,
        *,
        alert: str | None = None,
        status: int = 200,
        role_form: _Form | None = None,
    ) -> HttpResponse:
        iam = self._iam
        errors: dict[str, str] = {}
        limit = _page_size(http.arg("max_items"))
        users_marker = http.arg("users_marker") or None
        roles_marker = http.arg("roles_marker") or None
        users: list[User] = []
        roles: list[Role] = []
        own_keys: list[Any] = []
        pagers: dict[str, dict[str, str | None]] = {}
        try:
            users_page = await self._iam_call(
                http,
                session,
                "ListUsers",
                _list_params(users_marker, limit),
                lambda r: iam.list_users(r.caller, None, users_marker, limit),
            )
            users = list(users_page.items)
            pagers["users"] = _pager(http, "users_marker", users_marker, users_page.next_position)
        except TrentError as error:
            errors["users"] = alert_text(error)
        try:
            roles_page = await self._iam_call(
                http,
                session,
                "ListRoles",
                _list_params(roles_marker, limit),
                lambda r: iam.list_roles(r.caller, None, roles_marker, limit),
            )
            roles = list(roles_page.items)
            pagers["roles"] = _pager(http, "roles_marker", roles_marker, roles_page.next_position)
        except TrentError as error:
            errors["roles"] = alert_text(error)
        try:
            own_keys = await self._iam_call(
                http, session, "ListAccessKeys", None, lambda r: iam.list_access_keys(r.caller, None)
            )
        except TrentError as error:
            errors["own_keys"] = alert_text(error)
        role_form = role_form or _Form(
            {"assume_role_policy_document": trust_policy_for(self._core.account_of(http, session), session.region)}
        )
        return self._page(
            http,
            session,
            "identities.html",
            status=status,
            alert=alert,
            users=users,
            roles=roles,
            own_keys=own_keys,
            pagers=pagers,
            errors=errors,
            role_form=role_form,
            identity_url=identity_url,
        )

    # ================================================================= users

    async def _create_user(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("user_name").strip()

        try:
            await self._iam_change(http, session, "CreateUser", {"userName": name})
        except TrentError as error:
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"User {name} created."
        return redirect(identity_url("users", name))

    async def _user_page(
        self,
        http: HttpRequest,
        session: Session,
        user_name: str,
        *,
        alert: str | None = None,
        status: int = 200,
        policy_form: _Form | None = None,
    ) -> HttpResponse:
        iam = self._iam

        def get(r: RequestContext) -> User:
            found = iam.get_user(r.caller, user_name)
            if not isinstance(found, User):  # only GetUser without a name answers the root
                raise NoSuchEntity.user(user_name)
            return found

        params = {"userName": user_name}
        try:
            user = await self._iam_call(http, session, "GetUser", params, get)
        except TrentError as error:
            return self._identity_error(http, session, error, "User", alert, status)
        errors: dict[str, str] = {}
        keys: list[Any] = []
        policies: list[str] = []
        try:
            keys = await self._iam_call(
                http,
                session,
                "ListAccessKeys",
                params,
                lambda r: iam.list_access_keys(r.caller, user_name),
            )
        except TrentError as error:
            errors["access_keys"] = alert_text(error)
        try:
            policies = await self._iam_call(
                http,
                session,
                "ListUserPolicies",
                params,
                lambda r: iam.list_user_policies(r.caller, user_name),
            )
        except TrentError as error:
            errors["policies"] = alert_text(error)
        return self._page(
            http,
            session,
            "user.html",
            status=status,
            alert=alert,
            user=user,
            keys=keys,
            policies=policies,
            errors=errors,
            policy_form=policy_form or _Form(),
            identity_url=identity_url,
        )

    async def _delete_user(self, http: HttpRequest, session: Session, user_name: str) -> HttpResponse:
        """DeleteUser after its access keys and inline policies, as AWS's console does: each its own request."""
        if http.field("confirm") != "yes":
            return await self._user_page(http, session, user_name, alert=CONFIRM_MESSAGE, status=400)
        iam = self._iam
        params = {"userName": user_name}

        try:
            keys = await self._iam_call(
                http,
                session,
                "ListAccessKeys",
                params,
                lambda r: iam.list_access_keys(r.caller, user_name),
            )
            for key in keys:
                await self._iam_change(http, session, "DeleteAccessKey", {**params, "accessKeyId": key.access_key_id})
            await self._delete_policies(http, session, self._owners["users"], user_name)
            await self._iam_change(http, session, "DeleteUser", params)
        except TrentError as error:
            return await self._user_page(http, session, user_name, alert=alert_text(error), status=error_status(error))
        session.flash = f"User {user_name} deleted."
        return redirect(BASE)

    # ================================================================= access keys

    async def _create_access_key(self, http: HttpRequest, session: Session) -> HttpResponse:
        user_name = http.field("user_name").strip() or None

        try:
            # The API's handler: its answer holds the secret (shown once, below); its record does not.
            created = await self._invoke(
                http, session, IAM, "CreateAccessKey", {"UserName": user_name} if user_name else {}
            )
            new_key = created["AccessKey"]
        except TrentError as error:
            if user_name is not None:
                return await self._user_page(
                    http, session, user_name, alert=alert_text(error), status=error_status(error)
                )
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        return self._page(http, session, "access_key_created.html", new_key=new_key)

    async def _access_key_action(self, http: HttpRequest, session: Session, key_id: str, action: str) -> HttpResponse:
        """UpdateAccessKey (status Active or Inactive) or DeleteAccessKey, of a user's key or one's own."""
        user_name = http.field("user_name").strip() or None
        wanted = http.field("status")
        params: dict[str, Any] = {"accessKeyId": key_id} | ({"userName": user_name} if user_name else {})
        try:
            if action == "status":
                await self._iam_change(http, session, "UpdateAccessKey", {**params, "status": wanted})
                done = _STATUS_DONE.get(wanted, "updated")
            else:
                if http.field("confirm") != "yes":
                    raise ValidationError(CONFIRM_MESSAGE.removeprefix("ValidationError: "))
                await self._iam_change(http, session, "DeleteAccessKey", params)
                done = "deleted"
        except TrentError as error:
            if user_name is not None:
                return await self._user_page(
                    http, session, user_name, alert=alert_text(error), status=error_status(error)
                )
            return await self._identities_page(http, session, alert=alert_text(error), status=error_status(error))
        session.flash = f"Access key {key_id} {done}."
        return redirect(identity_url("users", user_name) if user_name else BASE)

    # ================================================================= roles

    async def _create_role(self, http: HttpRequest, session: Session) -> HttpResponse:
        name = http.field("role_name").strip()
        document = http.field("assume_role_policy_document")
        description = http.field("description").strip() or None
        params = {"roleName": name, "assumeRolePolicyDocument": document} | (
            {"description": description} if description else {}
        )

        try:
            await self._iam_change(http, session, "CreateRole", params)
        except TrentError as error:
            # The form again as typed, the reason beside it (most often the trust policy).
            form = _Form(
                {"role_name": name, "assume_role_policy_document": document, "description": description or ""},
                alert_text(error),
            )
            return await self._identities_page(http, session, status=error_status(error), role_form=form)
        session.flash = f"Role {name} created."
        return redirect(identity_url("roles", name))

    async def _role_page(
        self,
        http: HttpRequest,
        session: Session,
        role_name: str,
        *,
        alert: str | None = None,
        status: int = 200,
        policy_form: _Form | None = None,
    ) -> HttpResponse:
        iam = self._iam

        def get(r: RequestContext) -> Role:
            return iam.get_role(r.caller, role_name)

        params = {"roleName": role_name}
        try:
            role = await self._iam_call(http, session, "GetRole", params, get)
        except TrentError as error:
            return self._identity_error(http, session, error, "Role", alert, status)
        errors: dict[str, str] = {}
        policies: list[str] = []
        try:
            policies = await self._iam_call(
                http,
                session,
                "ListRolePolicies",
                params,
                lambda r: iam.list_role_policies(r.caller, role_name),
            )
        except TrentError as error:
            errors["policies"] = alert_text(error)
        return self._page(
            http,
            session,
            "role.html",
            status=status,
            alert=alert,
            role=role,
            trust_policy=_pretty_json(role.assume_role_policy_document),
            policies=policies,
            errors=errors,
            policy_form=policy_form or _Form(),
            identity_url=identity_url,
        )

    async def _delete_role(self, http: HttpRequest, session: Session, role_name: str) -> HttpResponse:
        """DeleteRole after its inline policies (each its own request); the role's sessions end with it."""
        if http.field("confirm") != "yes":
            return await self._role_page(http, session, role_name, alert=CONFIRM_MESSAGE, status=400)

        try:
            await self._delete_policies(http, session, self._owners["roles"], role_name)
            await self._iam_change(http, session, "DeleteRole", {"roleName": role_name})
        except TrentError as error:
            return await self._role_page(http, session, role_name, alert=alert_text(error), status=error_status(error))
        session.flash = f"Role {role_name} deleted."
        return redirect(BASE)

    # ================================================================= inline policies (users and roles)

    async def _owner_page(
        self,
        http: HttpRequest,
        session: Session,
        owner: _PolicyOwner,
        name: str,
        *,
        alert: str | None = None,
        status: int = 200,
        policy_form: _Form | None = None,
    ) -> HttpResponse:
        page = self._user_page if owner.kind == "users" else self._role_page
        return await page(http, session, name, alert=alert, status=status, policy_form=policy_form)

    async def _put_policy(
        self, http: HttpRequest, session: Session, owner: _PolicyOwner, name: str, edited: str | None
    ) -> HttpResponse:
        """Put<User|Role>Policy: a new policy from the identity's page, or ``edited`` from its own page."""
        policy_name = edited if edited is not None else http.field("policy_name").strip()
        document = http.field("policy_document")
        params = {owner.member: name, "policyName": policy_name, "policyDocument": document}

        try:
            await self._iam_change(http, session, f"Put{owner.operation}Policy", params)
        except TrentError as error:
            # Shown beside the form that was sent, with the document as typed.
            form = _Form({"policy_name": policy_name, "policy_document": document}, alert_text(error))
            if edited is not None:
                return await self._policy_page(
                    http, session, owner, name, policy_name, status=error_status(error), policy_form=form
                )
            return await self._owner_page(http, session, owner, name, status=error_status(error), policy_form=form)
        session.flash = f"Policy {policy_name} saved for {owner.noun} {name}."
        return redirect(identity_url(owner.kind, name))

    async def _policy_page(
        self,
        http: HttpRequest,
        session: Session,
        owner: _PolicyOwner,
        name: str,
        policy_name: str,
        *,
        status: int = 200,
        policy_form: _Form | None = None,
    ) -> HttpResponse:
        def get(r: RequestContext) -> InlinePolicy:
            return owner.get(r.caller, name, policy_name)

        params = {owner.member: name, "policyName": policy_name}
        try:
            policy = await self._iam_call(http, session, f"Get{owner.operation}Policy", params, get)
        except TrentError as error:
            return self._identity_error(
                http, session, error, "Inline policy", policy_form.error if policy_form else None, status
            )
        form = policy_form or _Form({"policy_name": policy_name, "policy_document": _pretty_json(policy.document)})
        return self._page(
            http,
            session,
            "identity_policy.html",
            status=status,
            owner=owner,
            owner_name=name,
            policy=policy,
            policy_form=form,
            identity_url=identity_url,
        )

    async def _delete_policy(
        self, http: HttpRequest, session: Session, owner: _PolicyOwner, name: str, policy_name: str
    ) -> HttpResponse:
        try:
            await self._delete_one_policy(http, session, owner, name, policy_name)
        except TrentError as error:
            return await self._owner_page(
                http, session, owner, name, alert=alert_text(error), status=error_status(error)
            )
        session.flash = f"Policy {policy_name} deleted from {owner.noun} {name}."
        return redirect(identity_url(owner.kind, name))

    async def _delete_one_policy(
        self, http: HttpRequest, session: Session, owner: _PolicyOwner, name: str, policy_name: str
    ) -> None:
        params = {owner.member: name, "policyName": policy_name}
        await self._iam_change(http, session, f"Delete{owner.operation}Policy", params)

    async def _delete_policies(self, http: HttpRequest, session: Session, owner: _PolicyOwner, name: str) -> None:
        """Every inline policy of a user or role, before the identity itself goes."""

        def names(r: RequestContext) -> list[str]:
            return owner.names(r.caller, name)

        listed = await self._iam_call(http, session, f"List{owner.operation}Policies", {owner.member: name}, names)
        for policy_name in listed:
            await self._delete_one_policy(http, session, owner, name, policy_name)


# ===================================================================== paging


def _page_size(text: str) -> int:
    """MaxItems from the query string: IAM's range, else IAM's default."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PAGE_SIZE:
        return int(text)
    return PAGE_SIZE


def _list_params(marker: str | None, limit: int) -> dict[str, Any]:
    return {"maxItems": limit} | ({"marker": marker} if marker else {})


def _pager(http: HttpRequest, marker_arg: str, marker: str | None, next_position: str | None) -> dict[str, str | None]:
    """Links to this list's first and next pages; the other list keeps its page."""
    kept = {name: values[0] for name, values in http.query.items() if values and name != marker_arg}
    first = BASE + ("?" + urlencode(kept) if kept else "") if marker else None
    following = BASE + "?" + urlencode({**kept, marker_arg: next_position}) if next_position is not None else None
    return {"first": first, "next": following}


def _wire(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The pages name members as CloudTrail records them (userName); IAM's model names them
    UserName. Every member here is a top-level scalar, so one capital does."""
    return {name[:1].upper() + name[1:]: value for name, value in (params or {}).items()}
