"""Development TLS certificates through ``cryptography``: a local CA and the server certificates it signs.

``trent serve --tls-self-signed`` keeps one CA per data directory and issues the server a certificate
for the loopback names (and its ``--host``); clients trust the CA certificate (``--ca-bundle`` /
``AWS_CA_BUNDLE``). Keys are ECDSA P-256; private keys leave here as unencrypted PKCS #8 PEM, for
files of mode 0600. The certificates carry what strict verifiers (OpenSSL's X509_V_FLAG_X509_STRICT,
Python 3.13's default context) require: key identifiers, critical basic constraints and key usage.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # the longest validity Apple's and the browsers' TLS clients still accept
# Issued this much in the past, so a client whose clock is a little behind accepts it.
_BACKDATE = timedelta(hours=1)


class TlsCertificateError(ValueError):
    """A certificate or key that cannot be read (the message says which)."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_certificate_authority(common_name: str, now: datetime) -> Issued:
    """A self-signed CA that may sign server certificates only (path length 0)."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_server_certificate(
    ca: Issued, dns_names: Sequence[str], ip_addresses: Sequence[str], now: datetime
) -> Issued:
    """A TLS server certificate for these names, signed by ``ca``."""
    ca_cert = _load_cert(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TlsCertificateError("the CA key is not an ECDSA key")
    key = _new_key()
    public = key.public_key()
    alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alternative += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    common = dns_names[0] if dns_names else ip_addresses[0]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise TlsCertificateError("not a PEM certificate") from exc


def _valid_for(cert: x509.Certificate, now: datetime, margin: timedelta) -> bool:
    return cert.not_valid_before_utc <= now and now + margin < cert.not_valid_after_utc


def authority_usable(ca: Issued, now: datetime, margin: timedelta) -> bool:
    """The CA certificate and key belong together and stay valid for ``margin`` longer."""
    try:
        cert = _load_cert(ca.cert_pem)
        key = serialization.load_pem_private_key(ca.key_pem, password=None)
    except (TlsCertificateError, ValueError, TypeError):
        return False
    return key.public_key() == cert.public_key() and _valid_for(cert, now, margin)


def server_certificate_usable(
    server: Issued,
    ca_cert_pem: bytes,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    now: datetime,
    margin: timedelta,
) -> bool:
    """``server`` is signed by this CA, matches its key, names every one of these names and stays
    valid for ``margin`` longer."""
    try:
        cert = _load_cert(server.cert_pem)
        ca_cert = _load_cert(ca_cert_pem)
        key = serialization.load_pem_private_key(server.key_pem, password=None)
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (TlsCertificateError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    if key.public_key() != cert.public_key() or not _valid_for(cert, now, margin):
        return False
    have_dns = set(names.get_values_for_type(x509.DNSName))
    have_ips = set(names.get_values_for_type(x509.IPAddress))
    return set(dns_names) <= have_dns and {ipaddress.ip_address(a) for a in ip_addresses} <= have_ips
