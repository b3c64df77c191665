"""What a client needs to reach this server: its endpoint URL and the AWS profile in the data directory.

``<data-dir>/config`` holds profile ``trent`` (the admin access key is in ``<data-dir>/credentials``).
With ``endpoint_url`` (and, for ``--tls-self-signed``, ``ca_bundle``) in it, the AWS CLI, boto3 and
every SDK that reads AWS's shared config files reach Trent with ``AWS_PROFILE=trent`` alone. Each
``trent serve`` rewrites those two settings for the address and scheme it serves, and leaves every
other line of the file as it was.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from trent.config import Settings

PROFILE = "trent"
DEFAULT_REGION = "us-east-1"
CA_FILE = "ca.pem"  # --tls-self-signed: the development CA's certificate, in the data directory


def uses_tls(settings: Settings) -> bool:
    return bool(settings.tls_cert) or settings.tls_self_signed


def client_host(host: str) -> str:
    """The address a client on this machine connects to for a listen address."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host or "127.0.0.1"  # a name
    if address.is_unspecified:  # 0.0.0.0 / ::: every interface, loopback among them
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{address}]" if address.version == 6 else str(address)


def endpoint_url(settings: Settings) -> str:
    scheme = "https" if uses_tls(settings) else "http"
    return f"{scheme}://{client_host(settings.host)}:{settings.port}"


def ca_bundle_path(data_dir: Path) -> Path:
    return data_dir.resolve() / CA_FILE


def config_path(data_dir: Path) -> Path:
    return data_dir / "config"


def update_profile(settings: Settings) -> None:
    """Write ``endpoint_url`` (and ``ca_bundle`` under --tls-self-signed) into profile ``trent``."""
    path = config_path(settings.data_dir)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    ours = str(ca_bundle_path(settings.data_dir))
    values: dict[str, str | None] = {
        "endpoint_url": endpoint_url(settings),
        # Only a ca_bundle naming our own CA file is ours to remove: an operator's stays.
        "ca_bundle": ours if settings.tls_self_signed else None,
    }
    updated = set_profile_values(text, PROFILE, values, removable={"ca_bundle": ours})
    if updated != text:
        _write_private(path, updated)


def set_profile_values(
    text: str, profile: str, values: dict[str, str | None], removable: dict[str, str] | None = None
) -> str:
    """``text`` (an AWS config file) with these settings of ``[profile NAME]`` set, or removed where
    the value is None (then only when the current value is ``removable[name]``)."""
    lines = text.splitlines()
    header = f"[profile {profile}]"
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
    except StopIteration:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [header, f"region = {DEFAULT_REGION}"]
        start = len(lines) - 2
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    section = lines[start + 1 : end]
    for name, value in values.items():
        found = [i for i, line in enumerate(section) if line.split("=", 1)[0].strip() == name and "=" in line]
        if value is None:
            allowed = (removable or {}).get(name)
            section = [
                line for i, line in enumerate(section) if i not in found or line.split("=", 1)[1].strip() != allowed
            ]
        elif found:
            section[found[0]] = f"{name} = {value}"
        else:
            # After the section's last setting, before any blank lines that separate sections.
            last = max((i for i, line in enumerate(section) if line.strip()), default=-1)
            section.insert(last + 1, f"{name} = {value}")
    return "\n".join([*lines[: start + 1], *section, *lines[end:]]) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Replace the file at once (a reader never sees half of it), mode 0600."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    temporary.replace(path)
