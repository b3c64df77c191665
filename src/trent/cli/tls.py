"""``trent serve`` over TLS: the operator's certificate, or a development CA kept in the data directory.

``--tls-cert FILE --tls-key FILE`` serve the operator's PEM certificate (chain) and key.
``--tls-self-signed`` creates, once, a local CA (``<data-dir>/ca.pem``, its key in
``<data-dir>/tls/ca.key``) and a server certificate it signs for localhost, 127.0.0.1, ::1 and the
``--host`` (``<data-dir>/tls/server.pem`` and ``server.key``); private keys are mode 0600. Later
starts reuse both; the server certificate alone is issued again when it would not name the
``--host`` or is about to expire, so clients keep trusting the same ``ca.pem``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trent.client_config import ca_bundle_path
from trent.config import ConfigError, Settings
from trent.crypto.tls import (
    Issued,
    TlsCertificateError,
    authority_usable,
    issue_server_certificate,
    new_certificate_authority,
    server_certificate_usable,
)

# How long a TLS server waits for open connections when it stops (a request takes milliseconds).
SHUTDOWN_SECONDS = 3
# A certificate that expires sooner than this is replaced at the next start.
_RENEW_BEFORE = timedelta(days=30)
_LOOPBACK_NAMES = ("localhost",)
_LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None = None  # --tls-self-signed: the CA certificate clients must trust
    created: str = ""  # what this start generated ("" when it reused everything)


def prepare(settings: Settings) -> TlsFiles | None:
    """The certificate and key files to serve, checked (or created); None without TLS."""
    if settings.tls_self_signed:
        try:
            return ensure_self_signed(settings.data_dir, settings.host)
        except OSError as exc:
            raise ConfigError(f"cannot write the TLS files in {settings.data_dir}: {exc.strerror}") from None
    if not settings.tls_cert:
        return None
    files = TlsFiles(Path(settings.tls_cert), Path(settings.tls_key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(files.cert, files.key)
    except OSError as exc:
        raise ConfigError(f"cannot read the TLS certificate or key: {exc.strerror or exc}") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"the TLS certificate and key do not load as a pair of PEM files ({exc.reason})") from None
    return files


def server_names(host: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) the server certificate names for a listen address."""
    names, addresses = list(_LOOPBACK_NAMES), list(_LOOPBACK_ADDRESSES)
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host and host.lower() not in names:
            names.append(host.lower())
    else:
        if not address.is_unspecified and str(address) not in addresses:
            addresses.append(str(address))
    return names, addresses


def ensure_self_signed(data_dir: Path, host: str) -> TlsFiles:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = data_dir / "tls"
    directory.mkdir(mode=0o700, exist_ok=True)
    ca_cert, ca_key = ca_bundle_path(data_dir), directory / "ca.key"
    server_cert, server_key = directory / "server.pem", directory / "server.key"
    now = datetime.now(UTC)
    created: list[str] = []

    ca = _read(ca_cert, ca_key)
    if ca is None or not authority_usable(ca, now, _RENEW_BEFORE):
        ca = new_certificate_authority(f"Trent development CA ({socket.gethostname()[:32]})", now)
        _write(ca_key, ca.key_pem, private=True)
        _write(ca_cert, ca.cert_pem, private=False)
        created.append("a new CA")
    names, addresses = server_names(host)
    server = _read(server_cert, server_key)
    if server is None or not server_certificate_usable(server, ca.cert_pem, names, addresses, now, _RENEW_BEFORE):
        try:
            server = issue_server_certificate(ca, names, addresses, now)
        except TlsCertificateError as exc:
            raise ConfigError(f"cannot issue the TLS server certificate: {exc}") from None
        _write(server_key, server.key_pem, private=True)
        _write(server_cert, server.cert_pem, private=False)
        created.append("a server certificate for " + ", ".join(names + addresses))
    return TlsFiles(server_cert, server_key, ca_cert, " and ".join(created))


def banner(files: TlsFiles | None) -> list[str]:
    """What ``trent serve`` prints about TLS."""
    if files is None:
        return []
    if files.ca is None:
        return [f"  TLS: certificate {files.cert}"]
    made = f" (created {files.created})" if files.created else ""
    return [
        f"  TLS: self-signed for development{made}; clients must trust the CA in {files.ca}:",
        f"    aws --ca-bundle {files.ca} ...        (AWS CLI)",
        f"    export AWS_CA_BUNDLE={files.ca}        (boto3 and the other AWS SDKs)",
    ]


def _read(cert: Path, key: Path) -> Issued | None:
    try:
        return Issued(cert.read_bytes(), key.read_bytes())
    except FileNotFoundError:
        return None


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Replace ``path`` at once; a private key is mode 0600 from its first byte."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
