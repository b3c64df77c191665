"""The development CA and server certificates (trent.crypto.tls, cli/tls.py) and the profile file
the data directory's `config` holds (client_config.py)."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from trent.cli.tls import ensure_self_signed, server_names
from trent.client_config import client_host, endpoint_url, set_profile_values, update_profile
from trent.config import ConfigError, Settings
from trent.crypto.tls import (
    authority_usable,
    issue_server_certificate,
    new_certificate_authority,
    server_certificate_usable,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MONTH = timedelta(days=30)


def test_a_server_certificate_is_usable_only_for_its_names_ca_and_lifetime() -> None:
    ca = new_certificate_authority("test CA", NOW)
    other_ca = new_certificate_authority("other CA", NOW)
    server = issue_server_certificate(ca, ["localhost", "trent.test"], ["127.0.0.1", "::1"], NOW)
    assert authority_usable(ca, NOW, MONTH)
    assert server_certificate_usable(server, ca.cert_pem, ["localhost"], ["::1"], NOW, MONTH)
    assert not server_certificate_usable(server, ca.cert_pem, ["elsewhere.test"], [], NOW, MONTH)
    assert not server_certificate_usable(server, ca.cert_pem, [], ["10.0.0.1"], NOW, MONTH)
    assert not server_certificate_usable(server, other_ca.cert_pem, ["localhost"], [], NOW, MONTH)
    assert not server_certificate_usable(server, ca.cert_pem, ["localhost"], [], NOW + timedelta(days=380), MONTH)
    mismatched = type(server)(server.cert_pem, other_ca.key_pem)
    assert not server_certificate_usable(mismatched, ca.cert_pem, ["localhost"], [], NOW, MONTH)
    assert not authority_usable(type(ca)(ca.cert_pem, other_ca.key_pem), NOW, MONTH)
    assert not authority_usable(type(ca)(b"garbage", ca.key_pem), NOW, MONTH)


def test_certificates_carry_what_strict_verifiers_require() -> None:
    ca = new_certificate_authority("test CA", NOW)
    cert = x509.load_pem_x509_certificate(issue_server_certificate(ca, ["localhost"], ["127.0.0.1"], NOW).cert_pem)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).critical
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    cert.verify_directly_issued_by(ca_cert)


def test_server_names_add_the_listen_host() -> None:
    assert server_names("127.0.0.1") == (["localhost"], ["127.0.0.1", "::1"])
    assert server_names("0.0.0.0") == (["localhost"], ["127.0.0.1", "::1"])  # noqa: S104 - a listen address
    assert server_names("kms.Internal.test") == (["localhost", "kms.internal.test"], ["127.0.0.1", "::1"])
    assert server_names("10.1.2.3") == (["localhost"], ["127.0.0.1", "::1", "10.1.2.3"])


def test_self_signed_files_are_made_once_and_the_ca_outlives_a_new_host(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, "127.0.0.1")
    assert first.ca == tmp_path.resolve() / "ca.pem"
    assert "a new CA" in first.created
    for private in (tmp_path / "tls" / "ca.key", first.key):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    ca_pem, server_pem = (tmp_path / "ca.pem").read_bytes(), first.cert.read_bytes()

    again = ensure_self_signed(tmp_path, "127.0.0.1")
    assert again.created == ""
    assert (tmp_path / "ca.pem").read_bytes() == ca_pem
    assert again.cert.read_bytes() == server_pem

    renamed = ensure_self_signed(tmp_path, "kms.example.test")
    assert renamed.created.startswith("a server certificate for localhost, kms.example.test")
    assert (tmp_path / "ca.pem").read_bytes() == ca_pem  # clients keep trusting the same CA
    cert = x509.load_pem_x509_certificate(renamed.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kms.example.test" in names.get_values_for_type(x509.DNSName)


def test_endpoint_url_is_what_a_local_client_connects_to() -> None:
    assert endpoint_url(Settings(port=4599)) == "http://127.0.0.1:4599"
    assert endpoint_url(Settings(host="0.0.0.0", port=1)) == "http://127.0.0.1:1"  # noqa: S104 - a listen address
    assert endpoint_url(Settings(host="::", port=1)) == "http://[::1]:1"
    assert endpoint_url(Settings(host="::1", port=1, tls_self_signed=True)) == "https://[::1]:1"
    assert endpoint_url(Settings(host="kms.test", port=443, tls_cert="c", tls_key="k")) == "https://kms.test:443"
    assert client_host("10.0.0.5") == "10.0.0.5"


def test_tls_settings_go_together() -> None:
    with pytest.raises(ConfigError, match="go together"):
        Settings(tls_cert="c")
    with pytest.raises(ConfigError, match="--tls-self-signed"):
        Settings(tls_self_signed=True, tls_cert="c", tls_key="k")


def test_profile_values_are_set_in_their_section_only() -> None:
    text = "[default]\nregion = eu-west-1\n\n[profile trent]\nregion = us-east-1\n\n[profile other]\nx = 1\n"
    updated = set_profile_values(text, "trent", {"endpoint_url": "http://h:1"})
    assert updated == (
        "[default]\nregion = eu-west-1\n\n[profile trent]\nregion = us-east-1\nendpoint_url = http://h:1\n\n"
        "[profile other]\nx = 1\n"
    )
    again = set_profile_values(updated, "trent", {"endpoint_url": "https://h:2"})
    assert "endpoint_url = https://h:2" in again
    assert "http://h:1" not in again
    assert set_profile_values("", "trent", {"endpoint_url": "http://h:1"}) == (
        "[profile trent]\nregion = us-east-1\nendpoint_url = http://h:1\n"
    )


def test_only_our_own_ca_bundle_is_removed() -> None:
    ours = "[profile trent]\nregion = us-east-1\nca_bundle = /d/ca.pem\n"
    assert "ca_bundle" not in set_profile_values(ours, "trent", {"ca_bundle": None}, {"ca_bundle": "/d/ca.pem"})
    theirs = "[profile trent]\nregion = us-east-1\nca_bundle = /etc/corp-ca.pem\n"
    kept = set_profile_values(theirs, "trent", {"ca_bundle": None}, {"ca_bundle": "/d/ca.pem"})
    assert "ca_bundle = /etc/corp-ca.pem" in kept


def test_update_profile_follows_port_and_scheme(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("[profile trent]\nregion = eu-central-1\n# kept\n")
    update_profile(Settings(data_dir=tmp_path, port=4600, tls_self_signed=True))
    text = (tmp_path / "config").read_text()
    assert "region = eu-central-1" in text
    assert "# kept" in text
    assert "endpoint_url = https://127.0.0.1:4600" in text
    assert f"ca_bundle = {tmp_path.resolve() / 'ca.pem'}" in text
    assert stat.S_IMODE((tmp_path / "config").stat().st_mode) == 0o600
    update_profile(Settings(data_dir=tmp_path, port=4601))
    text = (tmp_path / "config").read_text()
    assert "endpoint_url = http://127.0.0.1:4601" in text
    assert "ca_bundle" not in text
