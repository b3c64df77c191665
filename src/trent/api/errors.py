"""HTTP status per error code: the one place that knows them (spec/kms-api.md 1.4)."""

from __future__ import annotations

# AWS answers 400 for every client error, including those Smithy marks 404/409/412.
_SERVER_FAULTS = {
    "KMSInternalException": 500,
    "KeyUnavailableException": 500,
    "DependencyTimeoutException": 503,
}
_OTHER = {
    "RequestTimeoutException": 408,
}


def status_for(code: str) -> int:
    return _SERVER_FAULTS.get(code) or _OTHER.get(code, 400)
