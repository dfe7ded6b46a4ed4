"""The user store: accounts that may log in when txlab is shared on the LAN.

One JSON file (``users.json`` in the private state folder, mode 0600, replaced atomically) maps
each user name to a salted scrypt hash, an admin flag, a creation time and a ``session_version``.
Changing a password or removing a user bumps the version, which ends that user's open sessions.
Passwords are never stored or logged; there is no self-signup.
"""
from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from core.access import Principal
from core.errors import TxlabError
from core.secret import write_private_file

log = logging.getLogger(__name__)

USERS_FILE = "users.json"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing a huge "password" is a cheap way to burn server CPU
_HASH_METHOD = "scrypt"  # werkzeug's scrypt: salted, memory-hard
_FORMAT = 1


class AccountError(TxlabError):
    """A user name, password or account change that cannot be accepted."""


class SessionEndedError(TxlabError):
    """The browser's login is gone: expired, logged out, password changed or user removed."""


@dataclass(frozen=True)
class Account:
    """One stored user, without the password hash."""

    name: str
    admin: bool
    created: str
    session_version: int


class AccountStore:
    """Users in ``path`` (a ``users.json``). Every call reads the file, so all worker processes agree."""

    _lock = threading.Lock()  # one writer at a time within a process; the CLI is the only other writer

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def for_state_folder(cls, folder: str | os.PathLike) -> "AccountStore":
        return cls(Path(folder) / USERS_FILE)

    def any_accounts(self) -> bool:
        """Whether at least one user exists (LAN mode refuses to start otherwise)."""
        return bool(self._read())

    def list(self) -> list[Account]:
        """Every user, sorted by name."""
        return [_account(name, record) for name, record in sorted(self._read().items())]

    def get(self, name: str) -> Account | None:
        record = self._read().get(str(name))
        return None if record is None else _account(str(name), record)

    def add(self, name: str, password: str, admin: bool = False) -> Account:
        """Create ``name``; ``AccountError`` when the name is taken or invalid or the password too short."""
        name = check_name(name)
        digest = _hash(password)
        with self._lock:
            users = self._read()
            if name in users:
                raise AccountError(f"User {name!r} already exists; use 'txlab users passwd {name}' to change the password.")
            users[name] = {
                "hash": digest,
                "admin": bool(admin),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "session_version": 1,
            }
            self._write(users)
        log.info("account %s added (admin=%s)", name, bool(admin))
        return _account(name, users[name])

    def remove(self, name: str) -> None:
        """Delete ``name``; its open sessions end at their next request."""
        with self._lock:
            users = self._read()
            if users.pop(str(name), None) is None:
                raise AccountError(f"No user named {name!r}.")
            self._write(users)
        log.info("account %s removed", name)

    def set_password(self, name: str, password: str) -> Account:
        """Replace ``name``'s password and end its open sessions."""
        digest = _hash(password)
        with self._lock:
            users = self._read()
            record = users.get(str(name))
            if record is None:
                raise AccountError(f"No user named {name!r}.")
            record["hash"] = digest
            record["session_version"] = int(record.get("session_version", 1)) + 1
            self._write(users)
        log.info("account %s: password changed", name)
        return _account(str(name), record)

    def verify(self, name: str, password: str) -> Principal | None:
        """The user for these credentials, or None. Unknown names cost as much time as wrong passwords."""
        record = self._read().get(str(name))
        password = str(password)
        if len(password) > MAX_PASSWORD_LENGTH:
            return None  # never stored, so never right; not worth hashing
        if record is None:
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(str(record.get("hash", "")), password):
            return None
        return Principal(str(name), admin=bool(record.get("admin")))

    def session_valid(self, name: str, session_version: object) -> Principal | None:
        """The user a session stands for, when it still exists with the version the session was made with."""
        record = self._read().get(str(name))
        if record is None or not isinstance(session_version, int):
            return None
        if not hmac.compare_digest(str(record.get("session_version", 1)), str(session_version)):
            return None
        return Principal(str(name), admin=bool(record.get("admin")))

    def _read(self) -> dict[str, dict]:
        try:
            payload = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise AccountError(f"The user file {self.path} cannot be read ({error}); restore it or delete it and add users again.") from None
        users = payload.get("users") if isinstance(payload, dict) else None
        if not isinstance(users, dict):
            raise AccountError(f"The user file {self.path} is not a txlab user file.")
        return users

    def _write(self, users: dict[str, dict]) -> None:
        write_private_file(self.path, json.dumps({"format": _FORMAT, "users": users}, indent=2, sort_keys=True))


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (lowercase letters, digits, '.', '_', '-'; at most 32)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AccountError(
            f"User name {name!r} is not allowed: use 1 to 32 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_password(password: str) -> str:
    """``password`` if it is long enough (and not absurdly long)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters.")
    return password


def _hash(password: str) -> str:
    return generate_password_hash(check_password(password), method=_HASH_METHOD)


def _account(name: str, record: dict) -> Account:
    fields = {"admin": bool(record.get("admin")), "created": str(record.get("created", "")),
              "session_version": int(record.get("session_version", 1))}
    return Account(name=name, **fields)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown names against, made once per process (hashing is the slow part)."""
    return generate_password_hash(os.urandom(16).hex(), method=_HASH_METHOD)
