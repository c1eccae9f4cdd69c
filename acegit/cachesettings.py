"""acegit.toml's [cache] table: the shared render cache's remote URL, its fsspec storage options, read-only.

Parsed with the project (acegit/project.py), so it stays light: the remote store itself is acegit/remotecache.py, which
a project load (`acegit status`) never imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from acegit.errors import InputError
from acegit.tomlfields import reject_unknown, toml_value

# Storage options that would put a credential into the committed acegit.toml: refused by name.
_SECRET_WORDS = ("secret", "password", "passwd", "token", "credential", "private", "passphrase", "account_key",
                 "access_key", "api_key", "apikey", "connection_string", "auth", "sas")  # fmt: skip
_SECRET_NAMES = ("key", "pass", "pwd", "pkey")


@dataclass(frozen=True)
class CacheSettings:
    """acegit.toml's [cache]: the remote's URL, its fsspec storage options (no credentials), read-only."""

    remote: str | None = None
    read_only: bool = False
    storage_options: dict[str, Any] = field(default_factory=dict)


def _secret_option(options: Mapping[str, Any], prefix: str) -> str | None:
    """The dotted name of the first storage option that names a credential, or None (nested tables too)."""
    for k, v in options.items():
        low = str(k).lower()
        if low in _SECRET_NAMES or any(w in low for w in _SECRET_WORDS):
            return f"{prefix}{k}"
        if isinstance(v, dict) and (found := _secret_option(v, f"{prefix}{k}.")):
            return found
    return None


def parse_cache_settings(shown: str, raw: Mapping[str, Any]) -> CacheSettings:
    """Validate acegit.toml's [cache] table."""
    reject_unknown(shown, raw, ("remote", "read_only", "storage_options"), "cache.")
    remote = raw.get("remote")
    if remote is not None and (not isinstance(remote, str) or "://" not in remote):
        raise InputError(
            shown,
            f'cache.remote = {toml_value(remote)} must be an fsspec URL (e.g. "s3://bucket/acegit-cache")',
            field="cache.remote",
        )
    read_only = raw.get("read_only", False)
    if not isinstance(read_only, bool):
        raise InputError(
            shown, f"cache.read_only = {toml_value(read_only)} must be true or false", field="cache.read_only"
        )
    options = raw.get("storage_options", {})
    if not isinstance(options, dict):
        raise InputError(shown, "cache.storage_options must be a table", field="cache.storage_options")
    secret = _secret_option(options, "cache.storage_options.")
    if secret:
        raise InputError(
            shown,
            f"{secret}: credentials never live in acegit.toml (it is committed)",
            field=secret,
            hint="Remove it; give credentials the back-end's own way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "GOOGLE_APPLICATION_CREDENTIALS, ...) or through fsspec's configuration (FSSPEC_S3_SECRET=..., "
            "~/.config/fsspec/); docs/scale.md.",
        )
    return CacheSettings(remote, read_only, options)
