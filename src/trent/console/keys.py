"""Console pages for keys."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from trent.console import chart
from trent.console.audit import AuditPages
from trent.console.core import ConsoleCore, Pages, alert_text, error_status, parse_time
from trent.console.http import HttpRequest, HttpResponse, redirect
from trent.console.sessions import Session
from trent.domain.errors import (
    TrentError,
    ValidationException,
)
from trent.domain.grants import grantable_operations
from trent.domain.keys import USAGES_BY_SPEC, Key, KeyState
from trent.domain.policy.defaults import console_key_policy, console_policy_people

KEYS_PER_PAGE = 25
FILTER_SCAN_PAGES = 8  # a filtered view looks at up to 200 keys for its matches
GRANTS_PER_PAGE = 50
KEY_SPECS = tuple(USAGES_BY_SPEC)
KEY_USAGES = tuple(sorted({usage for usages in USAGES_BY_SPEC.values() for usage in usages}))
ORIGINS = ("AWS_KMS", "EXTERNAL")
WRAPPING_ALGORITHMS = ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1")
WRAPPING_KEY_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
STATES = tuple(state.value for state in KeyState)
_ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
_KEY_ID = re.compile(r"^(mrk-)?[0-9a-f-]{32,36}$")


class KeyPages(Pages):
    """Keys: the list, create, the detail page and every action on one key."""

    def __init__(self, core: ConsoleCore, audit_pages: AuditPages) -> None:
        super().__init__(core)
        self._usage = audit_pages.usage

    async def route(self, http: HttpRequest, session: Session, rest: list[str], method: str) -> HttpResponse:
        if not rest:
            if method == "POST":
                return await self._create_key(http, session)
            return await self._keys_page(http, session)
        if rest == ["new"]:
            return self._new_key_page(http, session)
        key_id = rest[0]
        if not _KEY_ID.match(key_id):
            return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        if len(rest) == 1:
            return await self._key_page(http, session, key_id)
        if rest[1:] == ["public-key.pem"]:
            return await self._public_key(http, session, key_id)
        if method == "POST":
            return await self._key_action(http, session, key_id, "/".join(rest[1:]))
        return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")

    async def _keys_page(self, http: HttpRequest, session: Session) -> HttpResponse:
        # The marker is ListKeys' own NextMarker, checked by its handler (InvalidMarkerException).
        marker = http.arg("marker")[:1024]
        names = ("q", "manager", "state", "spec", "usage", "origin", "multi_region")
        filters = {name: http.arg(name) for name in names}
        filtered = any(filters.values())
        rows: list[dict[str, Any]] = []
        scanned = 0
        cursor: str | None = marker or None
        try:
            # A filtered view reads further ListKeys pages until it has a page of matches, within
            # a budget (FILTER_SCAN_PAGES pages of KEYS_PER_PAGE): what a page view costs stays
            # bounded however many keys the account has, and "Next page" goes on from there.
            for _ in range(FILTER_SCAN_PAGES if filtered else 1):
                params: dict[str, Any] = {"Limit": KEYS_PER_PAGE} | ({"Marker": cursor} if cursor else {})
                listed = await self._kms_invoke(http, session, "ListKeys", params)
                for entry in listed["Keys"]:
                    row = await self._key_row(http, session, entry["KeyId"], filters)
                    if row is not None:
                        rows.append(row)
                scanned += len(listed["Keys"])
                cursor = listed.get("NextMarker")
                if cursor is None or len(rows) >= KEYS_PER_PAGE:
                    break
        except TrentError as error:
            if not rows:
                return self._page(
                    http,
                    session,
                    "keys.html",
                    status=error_status(error),
                    alert=alert_text(error),
                    rows=[],
                    filters=filters,
                    **_choices(),
                )
            cursor = None  # what was found before the refusal is shown; the refusal stops the scan
        next_url = None
        if cursor:
            next_url = "/console/keys?" + urlencode({**{k: v for k, v in filters.items() if v}, "marker": cursor})
        first_url = "/console/keys?" + urlencode({k: v for k, v in filters.items() if v}) if marker else None
        return self._page(
            http,
            session,
            "keys.html",
            rows=rows,
            filters=filters,
            next_url=next_url,
            first_url=first_url,
            filtered=filtered,
            scanned=scanned,
            **_choices(),
        )

    async def _key_row(
        self, http: HttpRequest, session: Session, key_id: str, filters: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """One row: DescribeKey (the caller may see the key's id but not its metadata), then its aliases."""
        try:
            key = await self._kms_call(
                http,
                session,
                "DescribeKey",
                {"KeyId": key_id},
                lambda r: self._kms.management.describe_key(r, key_id),
            )
        except TrentError as error:
            if any(filters.values()):
                return None  # nothing to filter on: a key the caller cannot describe matches no filter
            return {"key_id": key_id, "error": error.code, "aliases": []}
        if not _matches(key, filters):
            return None
        aliases: list[str] = []
        try:
            page = await self._kms_call(
                http,
                session,
                "ListAliases",
                {"KeyId": key.key_id, "Limit": 100},
                lambda r: self._kms.aliases.list_aliases(r, key.key_id, None, 100),
            )
            aliases = [a.alias_name for a in page.items]
        except TrentError:
            pass
        q = filters.get("q", "").lower()
        if q and not (q in key.key_id.lower() or q in key.description.lower() or any(q in a.lower() for a in aliases)):
            return None
        return {"key_id": key.key_id, "key": key, "aliases": aliases, "error": None}

    def _new_key_page(
        self, http: HttpRequest, session: Session, *, alert: str | None = None, status: int = 200
    ) -> HttpResponse:
        form = {
            name: http.field(name)
            for name in (
                "alias",
                "description",
                "key_spec",
                "key_usage",
                "origin",
                "tags",
                "policy",
                "key_administrators",
                "key_users",
                "multi_region",
            )
        }
        return self._page(http, session, "key_new.html", status=status, alert=alert, form=form, **_choices())

    async def _create_key(self, http: HttpRequest, session: Session) -> HttpResponse:
        alias = http.field("alias").strip()
        if alias and not alias.startswith("alias/"):
            alias = "alias/" + alias
        if alias and (not _ALIAS_NAME.match(alias) or alias.startswith("alias/aws/")):
            return self._new_key_page(
                http,
                session,
                alert='ValidationException: An alias is "alias/" followed by letters, digits, "/", "_" or "-", '
                "and alias/aws/ is reserved for AWS managed keys.",
                status=400,
            )
        try:
            tags = _parse_tags(http.field("tags"))
        except ValueError as exc:
            return self._new_key_page(http, session, alert=f"ValidationException: {exc}", status=400)
        spec = http.field("key_spec") or "SYMMETRIC_DEFAULT"
        usage = http.field("key_usage") or None
        origin = http.field("origin") or "AWS_KMS"
        policy = http.field("policy").strip() or None
        administrators = _principals(http.field("key_administrators"))
        users = _principals(http.field("key_users"))
        if policy is None and (administrators or users):
            # As AWS's console does: the administrators and users picked become the key policy.
            policy = console_key_policy(
                self._core.account_of(http, session),
                session.region,
                key_spec=spec,
                key_usage=usage or "ENCRYPT_DECRYPT",
                administrators=administrators,
                users=users,
            )
        multi_region = http.field("multi_region") in ("true", "on", "1")
        description = http.field("description")
        # CreateKey as an SDK sends it: the API's model checks it and its handler runs it.
        params: dict[str, Any] = {"KeySpec": spec, "Origin": origin}
        if usage:
            params["KeyUsage"] = usage
        if description:
            params["Description"] = description
        if multi_region:
            params["MultiRegion"] = True
        if tags:
            params["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags]
        if policy:
            params["Policy"] = policy
        try:
            created = await self._kms_invoke(http, session, "CreateKey", params)
        except TrentError as error:
            return self._new_key_page(http, session, alert=alert_text(error), status=error_status(error))
        key_id = created["KeyMetadata"]["KeyId"]
        if alias:
            try:
                await self._kms_invoke(http, session, "CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
            except TrentError as error:
                session.flash = f"The key was created, but its alias was not: {alert_text(error)}"
                return redirect(f"/console/keys/{key_id}")
        session.flash = f"Key {key_id} created."
        return redirect(f"/console/keys/{key_id}")

    async def _key_page(
        self,
        http: HttpRequest,
        session: Session,
        key_id: str,
        *,
        alert: str | None = None,
        status: int = 200,
        policy_text: str | None = None,
        tags_text: str | None = None,
    ) -> HttpResponse:
        ref = {"KeyId": key_id}
        try:
            key: Key = await self._kms_call(
                http,
                session,
                "DescribeKey",
                ref,
                lambda r: self._kms.management.describe_key(r, key_id),
            )
        except TrentError as error:
            return self._error_page(http, session, error, "Key")
        errors: dict[str, str] = {}
        aliases: list[str] = []
        try:
            page = await self._kms_call(
                http,
                session,
                "ListAliases",
                {**ref, "Limit": 100},
                lambda r: self._kms.aliases.list_aliases(r, key_id, None, 100),
            )
            aliases = [a.alias_name for a in page.items]
        except TrentError as error:
            errors["aliases"] = alert_text(error)
        tags: dict[str, str] = {}
        try:
            tags = await self._kms_call(
                http,
                session,
                "ListResourceTags",
                ref,
                lambda r: self._kms.aliases.list_resource_tags(r, key_id),
            )
        except TrentError as error:
            errors["tags"] = alert_text(error)
        policy = ""
        try:
            policy, _name = await self._kms_call(
                http,
                session,
                "GetKeyPolicy",
                {**ref, "PolicyName": "default"},
                lambda r: self._kms.management.get_key_policy(r, key_id, None),
            )
            policy = _pretty_json(policy)
        except TrentError as error:
            errors["policy"] = alert_text(error)
        # AWS's console "default view": the policy as key administrators and key users, when it is
        # one the console would write for them; anything else only the JSON editor shows.
        people = (
            console_policy_people(policy, key.account_id, key.region, key_spec=key.key_spec, key_usage=key.key_usage)
            if policy
            else None
        )
        rotation = None
        rotations: list[Any] = []
        if key.supports_rotation and key.state is not KeyState.PENDING_IMPORT:
            try:
                rotation = await self._kms_call(
                    http,
                    session,
                    "GetKeyRotationStatus",
                    ref,
                    lambda r: self._kms.rotation.get_key_rotation_status(r, key_id),
                )
                rotations_page = await self._kms_call(
                    http,
                    session,
                    "ListKeyRotations",
                    {**ref, "Limit": 100},
                    lambda r: self._kms.rotation.list_key_rotations(r, key_id, False, 0, 100),
                )
                rotations = list(rotations_page.items)
            except TrentError as error:
                errors["rotation"] = alert_text(error)
        grants: list[Any] = []
        # ListGrants' own NextMarker, checked by its handler; a bad one is shown as the API answers it.
        grants_marker = http.arg("grants_marker")[:1024]
        grants_next: str | None = None
        try:
            grants_page = await self._kms_invoke(
                http,
                session,
                "ListGrants",
                {**ref, "Limit": GRANTS_PER_PAGE} | ({"Marker": grants_marker} if grants_marker else {}),
            )
            grants = grants_page["Grants"]
            if grants_page.get("NextMarker"):
                grants_next = f"/console/keys/{key_id}?" + urlencode({"grants_marker": grants_page["NextMarker"]})
        except TrentError as error:
            errors["grants"] = alert_text(error)
        last_used: dict[str, Any] | None = None
        try:
            last_used = await self._kms_invoke(http, session, "GetKeyLastUsage", ref)
        except TrentError as error:
            errors["last_used"] = alert_text(error)
        # DescribeKey's MultiRegionConfiguration: the primary and its replicas, by Region.
        topology = self._kms.multi_region.multi_region_configuration(key)
        usage, usage_error = await self._usage(http, session, key.arn)
        tags_value = tags_text if tags_text is not None else "\n".join(f"{k}={v}" for k, v in sorted(tags.items()))
        return self._page(
            http,
            session,
            "key.html",
            status=status,
            alert=alert,
            key=key,
            aliases=aliases,
            tags=tags,
            tags_text=tags_value,
            policy_text=policy_text if policy_text is not None else policy,
            rotation=rotation,
            rotations=rotations,
            grants=grants,
            grants_next=grants_next,
            grants_first=f"/console/keys/{key_id}" if grants_marker else None,
            topology=topology,
            last_used=last_used,
            people=people,
            grant_operations=sorted(grantable_operations(key.key_spec, key.key_usage)),
            **_choices(),
            errors=errors,
            usage=usage,
            usage_error=usage_error,
            chart_svg=chart.svg(usage) if usage is not None else None,
            chart_colours=chart.colours(usage) if usage is not None else {},
        )

    # Actions that take only the key: (AWS operation, what the page then says).
    _SIMPLE_ACTIONS: ClassVar[dict[str, tuple[str, str]]] = {
        "disable": ("DisableKey", "Key disabled."),
        "enable": ("EnableKey", "Key enabled."),
        "cancel-deletion": ("CancelKeyDeletion", "Key deletion cancelled; the key is Disabled."),
        "rotation/disable": ("DisableKeyRotation", "Automatic rotation disabled."),
        "rotate": ("RotateKeyOnDemand", "On-demand rotation started."),
    }

    async def _key_action(self, http: HttpRequest, session: Session, key_id: str, action: str) -> HttpResponse:
        """A key page's form: one API operation, as an SDK would send it, run by the API's handler."""
        ref: dict[str, Any] = {"KeyId": key_id}
        try:
            simple = self._SIMPLE_ACTIONS.get(action)
            if simple is not None:
                operation, done = simple
                await self._kms_invoke(http, session, operation, ref)
                session.flash = done
            elif action == "schedule-deletion":
                days = _whole_number(http.field("pending_window_days", "30"), 30)
                await self._kms_invoke(http, session, "ScheduleKeyDeletion", {**ref, "PendingWindowInDays": days})
                session.flash = f"Key deletion scheduled in {days} days."
            elif action == "description":
                description = http.field("description")
                await self._kms_invoke(http, session, "UpdateKeyDescription", {**ref, "Description": description})
                session.flash = "Description saved."
            elif action == "policy":
                text = http.field("policy")
                try:
                    await self._kms_invoke(
                        http, session, "PutKeyPolicy", {**ref, "PolicyName": "default", "Policy": text}
                    )
                except TrentError as error:
                    return await self._key_page(
                        http, session, key_id, alert=alert_text(error), status=error_status(error), policy_text=text
                    )
                session.flash = "Key policy saved."
            elif action == "policy/people":
                key = await self._kms_call(
                    http, session, "DescribeKey", ref, lambda r: self._kms.management.describe_key(r, key_id)
                )
                text = console_key_policy(
                    key.account_id,
                    key.region,
                    key_spec=key.key_spec,
                    key_usage=key.key_usage,
                    administrators=_principals(http.field("key_administrators")),
                    users=_principals(http.field("key_users")),
                )
                await self._kms_invoke(http, session, "PutKeyPolicy", {**ref, "PolicyName": "default", "Policy": text})
                session.flash = "Key administrators and key users saved."
            elif action == "tags":
                text = http.field("tags")
                try:
                    wanted = dict(_parse_tags(text))
                except ValueError as exc:
                    return await self._key_page(
                        http, session, key_id, alert=f"ValidationException: {exc}", status=400, tags_text=text
                    )
                try:
                    await self._save_tags(http, session, key_id, wanted)
                except TrentError as error:
                    return await self._key_page(
                        http, session, key_id, alert=alert_text(error), status=error_status(error), tags_text=text
                    )
                session.flash = "Tags saved."
            elif action == "rotation/enable":
                period = _whole_number(http.field("rotation_period_days", "365"), 365)
                await self._kms_invoke(http, session, "EnableKeyRotation", {**ref, "RotationPeriodInDays": period})
                session.flash = f"Automatic rotation enabled every {period} days."
            elif action == "grants":
                params = {
                    **ref,
                    "GranteePrincipal": http.field("grantee_principal").strip(),
                    "Operations": http.fields("operations"),
                }
                if name := http.field("name").strip():
                    params["Name"] = name
                await self._kms_invoke(http, session, "CreateGrant", params)
                session.flash = "Grant created."
            elif action == "grants/revoke":
                await self._kms_invoke(http, session, "RevokeGrant", {**ref, "GrantId": http.field("grant_id")})
                session.flash = "Grant revoked."
            elif action == "replicate":
                replica_region = http.field("replica_region").strip()
                params = {**ref, "ReplicaRegion": replica_region}
                if replica_description := http.field("replica_description").strip():
                    params["Description"] = replica_description
                if replica_policy := http.field("replica_policy").strip():
                    params["Policy"] = replica_policy
                try:
                    replica_tags = _parse_tags(http.field("replica_tags"))
                except ValueError as exc:
                    raise ValidationException(str(exc)) from None
                if replica_tags:
                    params["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in replica_tags]
                await self._kms_invoke(http, session, "ReplicateKey", params)
                session.flash = f"Replica created in {replica_region}."
            elif action == "primary-region":
                primary_region = http.field("primary_region").strip()
                await self._kms_invoke(http, session, "UpdatePrimaryRegion", {**ref, "PrimaryRegion": primary_region})
                session.flash = f"The primary key is moving to {primary_region}; this key becomes a replica."
            elif action == "import-parameters":
                return await self._import_parameters(http, session, key_id)
            elif action == "import":
                await self._import_material(http, session, key_id)
                session.flash = "Key material imported."
            else:
                return self._page(http, session, "error.html", status=404, alert="Not found", title="Not found")
        except TrentError as error:
            return await self._key_page(http, session, key_id, alert=alert_text(error), status=error_status(error))
        return redirect(f"/console/keys/{key_id}")

    async def _import_parameters(self, http: HttpRequest, session: Session, key_id: str) -> HttpResponse:
        """GetParametersForImport: the wrapping public key and the import token, shown or zipped once."""
        algorithm = http.field("wrapping_algorithm") or "RSAES_OAEP_SHA_256"
        spec = http.field("wrapping_key_spec") or "RSA_2048"
        parameters = await self._kms_invoke(
            http,
            session,
            "GetParametersForImport",
            {"KeyId": key_id, "WrappingAlgorithm": algorithm, "WrappingKeySpec": spec},
        )
        public_key, token = parameters["PublicKey"], parameters["ImportToken"]
        valid_to = parameters["ParametersValidTo"]
        if http.field("format") == "zip":
            return _import_parameters_zip(key_id, algorithm, spec, public_key, token, valid_to)
        return self._page(
            http,
            session,
            "import_parameters.html",
            key_id=key_id,
            algorithm=algorithm,
            spec=spec,
            public_key_pem=_pem(public_key),
            import_token=base64.b64encode(token).decode("ascii"),
            valid_to=valid_to,
        )

    async def _import_material(self, http: HttpRequest, session: Session, key_id: str) -> None:
        # A chosen file wins over pasted text; either way the bytes stay in memory.
        try:
            token = http.file("import_token_file") or base64.b64decode(
                http.field("import_token").strip(), validate=True
            )
            material = http.file("encrypted_key_material_file") or base64.b64decode(
                http.field("encrypted_key_material").strip(), validate=True
            )
        except ValueError:
            raise ValidationException("The import token and the wrapped key material must be base64.") from None
        if not token or not material:
            raise ValidationException("Choose the import token and the wrapped key material (files or base64).")
        params: dict[str, Any] = {
            "KeyId": key_id,
            "ImportToken": base64.b64encode(token).decode("ascii"),
            "EncryptedKeyMaterial": base64.b64encode(material).decode("ascii"),
            "ExpirationModel": http.field("expiration_model") or "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }
        if params["ExpirationModel"] == "KEY_MATERIAL_EXPIRES":
            try:
                valid_to = parse_time(http.field("valid_to").strip())
            except ValueError:
                valid_to = None
            if valid_to is None:
                raise ValidationException("Valid to is a time like 2030-01-31T13:45 (UTC).")
            params["ValidTo"] = valid_to.timestamp()
        await self._kms_invoke(http, session, "ImportKeyMaterial", params)

    async def _save_tags(self, http: HttpRequest, session: Session, key_id: str, wanted: dict[str, str]) -> None:
        """Make the key's tags exactly ``wanted``: UntagResource for those gone, TagResource for the rest."""
        ref = {"KeyId": key_id}
        current: dict[str, str] = await self._kms_call(
            http, session, "ListResourceTags", ref, lambda r: self._kms.aliases.list_resource_tags(r, key_id)
        )
        gone = sorted(set(current) - set(wanted))
        changed = [(k, v) for k, v in sorted(wanted.items()) if current.get(k) != v]
        if changed:
            tags = [{"TagKey": k, "TagValue": v} for k, v in changed]
            await self._kms_invoke(http, session, "TagResource", {**ref, "Tags": tags})
        if gone:
            await self._kms_invoke(http, session, "UntagResource", {**ref, "TagKeys": gone})

    async def _public_key(self, http: HttpRequest, session: Session, key_id: str) -> HttpResponse:
        try:
            result = await self._kms_invoke(http, session, "GetPublicKey", {"KeyId": key_id})
        except TrentError as error:
            return self._error_page(http, session, error, "Public key")
        pem = _pem(result["PublicKey"])
        return HttpResponse(
            200,
            pem.encode(),
            b"application/x-pem-file",
            [(b"content-disposition", f'attachment; filename="{key_id}.pem"'.encode())],
        )


def _choices() -> dict[str, Any]:
    return {
        "key_specs": KEY_SPECS,
        "key_usages": KEY_USAGES,
        "origins": ORIGINS,
        "states": STATES,
        "wrapping_algorithms": WRAPPING_ALGORITHMS,
        "wrapping_key_specs": WRAPPING_KEY_SPECS,
    }


def _matches(key: Key, filters: Mapping[str, str]) -> bool:
    # AWS's console lists "AWS managed keys" and "Customer managed keys" apart: KeyManager tells them.
    if filters.get("manager") and key.key_manager != filters["manager"]:
        return False
    if filters.get("state") and key.state.value != filters["state"]:
        return False
    if filters.get("spec") and key.key_spec != filters["spec"]:
        return False
    if filters.get("usage") and key.key_usage != filters["usage"]:
        return False
    if filters.get("origin") and key.origin != filters["origin"]:
        return False
    region_filter = filters.get("multi_region")
    return not (region_filter in ("true", "false") and key.multi_region != (region_filter == "true"))


def _parse_tags(text: str) -> list[tuple[str, str]]:
    tags: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Tag line {number} is not key=value.")
        tags.append((key.strip(), value.strip()))
    return tags


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


_IMPORT_README = """Import parameters for KMS key {key_id}
Wrapping key spec {spec}, wrapping algorithm {algorithm}.
Import the wrapped key material with this token before {valid_to} (UTC); after that, get new ones.

WrappingPublicKey.bin  the public key to wrap your key material with (DER, SubjectPublicKeyInfo)
ImportToken.bin        the import token to send back with the wrapped material

For RSAES_OAEP_SHA_256, a 256-bit symmetric key in PlaintextKeyMaterial.bin is wrapped with:
  openssl pkeyutl -encrypt -pubin -keyform DER -inkey WrappingPublicKey.bin \\
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \\
    -in PlaintextKeyMaterial.bin -out EncryptedKeyMaterial.bin
then upload EncryptedKeyMaterial.bin and ImportToken.bin on the key's page.
"""


def _import_parameters_zip(
    key_id: str, algorithm: str, spec: str, public_key: bytes, import_token: bytes, valid_to: datetime
) -> HttpResponse:
    """ImportParameters.zip, laid out as AWS's console gives it: the two files and a README."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WrappingPublicKey.bin", public_key)
        archive.writestr("ImportToken.bin", import_token)
        readme = _IMPORT_README.format(key_id=key_id, spec=spec, algorithm=algorithm, valid_to=valid_to.isoformat())
        archive.writestr("README.txt", readme)
    disposition = f'attachment; filename="ImportParameters-{key_id}.zip"'.encode()
    return HttpResponse(200, buffer.getvalue(), b"application/zip", [(b"content-disposition", disposition)])


def _whole_number(text: str, default: int) -> int:
    """A form's number of days. Whatever whole number it is goes to the API, whose model says what
    is out of range; what is not a whole number is refused here."""
    text = text.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValidationException(f"{text!r} is not a whole number of days.") from None


def _principals(text: str) -> list[str]:
    """Principal ARNs, one per line (or separated by commas), in the order given, each once."""
    seen: list[str] = []
    for item in text.replace(",", "\n").splitlines():
        if (arn := item.strip()) and arn not in seen:
            seen.append(arn)
    return seen
