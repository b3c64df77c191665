"""The KMS use cases, split by what they are for, sharing one way to reach a key.

Order of checks in every operation (spec/kms-api.md 5.2): request validation (the front end) ->
key resolution (NotFound) -> authorization (AccessDenied) -> key state (Disabled / InvalidState) ->
key usage, spec and algorithm -> operation-specific checks -> DryRun -> the work. ``KeyAccess``
does the first four for every use case; each use case adds the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from trent.services.aliases_tags import AliasesAndTags
from trent.services.asymmetric import AsymmetricKeys, RsaEncryption
from trent.services.data_plane import DataPlane
from trent.services.grants import Grants
from trent.services.import_material import ImportMaterial
from trent.services.kem import KemKeys
from trent.services.key_access import KeyAccess
from trent.services.key_management import KeyManagement
from trent.services.key_policies import KeyPolicies
from trent.services.material_pool import MaterialPool
from trent.services.multi_region import MultiRegion
from trent.services.ports import Clock, RootOfTrust, Store
from trent.services.rotation import Rotation


class Kms:
    """Every KMS use case, each an object of its own; ``keys`` is what they share."""

    def __init__(
        self,
        store: Store,
        root: RootOfTrust,
        clock: Clock,
        principal_exists: Callable[[str], bool] | None = None,
        material_pool: MaterialPool | None = None,
    ) -> None:
        self.keys = KeyAccess(store, root, clock)
        policies = KeyPolicies(principal_exists)
        self.management = KeyManagement(self.keys, policies, store, root, clock, material_pool)
        self.aliases = AliasesAndTags(self.keys, store, clock)
        self.data = DataPlane(self.keys, RsaEncryption(self.keys), store)
        self.asymmetric = AsymmetricKeys(self.keys)
        self.kem = KemKeys(self.keys)
        self.imports = ImportMaterial(self.keys, store, root, clock, material_pool)
        self.rotation = Rotation(self.keys, store, root, clock)
        self.multi_region = MultiRegion(self.keys, policies, store, clock)
        self.grants = Grants(self.keys, store, clock)

    def begin_request(self, change_token: int | None = None) -> None:
        """Called once per request: drop cached state if anything was committed since."""
        self.keys.begin_request(change_token)

    def change_token(self) -> int:
        return self.keys.change_token()
