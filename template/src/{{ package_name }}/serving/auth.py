"""API keys with roles, stored hashed.

A key entry is ``key_id:role[,role]:sha256hex`` (the SHA-256 of the key, never the key).
Entries come from ``APP_SERVING__API_KEYS`` (separated by whitespace) and from the secrets
file ``APP_SERVING__KEYS_FILE`` (one per line, ``#`` comments). Keys are 256-bit random
tokens (``<cli> apikey``), so one unsalted SHA-256 is enough: nobody can brute-force it,
and a request is checked with one hash and one dictionary lookup.

Roles: ``predict`` (``/predict``, ``/explain``, ``/metadata``) and ``admin`` (everything,
including ``/admin/reload`` and the detailed ``/metadata``). In staging and prod the service
refuses to start without keys or with a placeholder; dev may run open and says so.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from ..settings import Settings

ROLES = ("predict", "admin")
KEY_PREFIX = "sk_"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Hashes of secrets people paste while "just trying": refused outside dev.
_PLACEHOLDERS = frozenset(
    hashlib.sha256(word.encode()).hexdigest()
    for word in (
        "",
        "changeme",
        "changethis",
        "change-me",
        "secret",
        "password",
        "placeholder",
        "test",
        "dev",
        "admin",
        "apikey",
        "api-key",
        "example",
        "xxx",
    )
)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    roles: frozenset[str]

    def allows(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


class KeyConfigError(ValueError):
    """A malformed key entry."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _entries(settings: Settings) -> list[tuple[str, str]]:
    """(where, entry) pairs from the environment and the secrets file."""
    out = [("APP_SERVING__API_KEYS", e) for e in settings.serving.api_keys.split()]
    if settings.serving.keys_file is not None:
        path = settings.path(settings.serving.keys_file)
        text = path.read_text()  # a missing file is reported by key_problems
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                out.append((f"{path.name}:{n}", line))
    return out


def parse_entry(where: str, entry: str) -> tuple[str, ApiKey]:
    parts = entry.split(":")
    if len(parts) != 3:
        raise KeyConfigError(f"{where}: key entry must be 'key_id:role[,role]:sha256hex'")
    key_id, roles_text, digest = parts
    if not _KEY_ID.match(key_id):
        raise KeyConfigError(f"{where}: key id '{key_id[:64]}' must be 1-64 letters, digits, '._-'")
    roles = frozenset(r.strip() for r in roles_text.split(",") if r.strip())
    unknown = sorted(roles - set(ROLES))
    if not roles or unknown:
        raise KeyConfigError(f"{where}: key '{key_id}' roles must be among {', '.join(ROLES)}")
    if not _HEX.match(digest):
        raise KeyConfigError(
            f"{where}: key '{key_id}' needs the SHA-256 hex digest of the key, not the key "
            "(`apikey` prints it)"
        )
    return digest, ApiKey(key_id, roles)


def load_keys(settings: Settings) -> dict[str, ApiKey]:
    """Hash -> key. Raises OSError or KeyConfigError with one line on a bad source."""
    keys: dict[str, ApiKey] = {}
    seen: set[str] = set()
    for where, entry in _entries(settings):
        digest, key = parse_entry(where, entry)
        if key.key_id in seen:
            raise KeyConfigError(f"{where}: key id '{key.key_id}' is defined twice")
        seen.add(key.key_id)
        keys[digest] = key
    return keys


def key_problems(settings: Settings) -> list[str]:
    """Why the configured keys are not fit for settings.env (empty when fine)."""
    try:
        keys = load_keys(settings)
    except OSError as exc:
        return [f"APP_SERVING__KEYS_FILE: cannot read {exc.filename}: {exc.strerror}"]
    except KeyConfigError as exc:
        return [str(exc)]
    if settings.env == "dev":
        return []
    problems = []
    if not keys:
        problems.append(
            f"no API keys configured for {settings.env}: set APP_SERVING__API_KEYS or "
            "APP_SERVING__KEYS_FILE (`apikey --id ID --role admin` makes one)"
        )
    problems += [
        f"key '{key.key_id}' is a placeholder secret; make a real one with `apikey`"
        for digest, key in keys.items()
        if digest in _PLACEHOLDERS
    ]
    return problems


class Authenticator:
    """Looks a presented key up by its hash. ``open`` when dev runs without keys."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self._keys = keys
        self.open = not keys

    def identify(self, presented: str | None) -> ApiKey | None:
        if self.open:
            return ApiKey("anonymous", frozenset(ROLES))
        if not presented:
            return None
        return self._keys.get(hash_key(presented))
