"""The user store: accounts that may log in when txlab is shared on the LAN.

One JSON file (``users.json`` in the private state folder, mode 0600, replaced atomically) maps
each user name to a salted scrypt hash, an admin flag, a creation time and a ``session_version``:
a random token that a login copies into the signed session cookie. Changing a password draws a
new token and removing a user drops it, which ends that user's open sessions; a user added again
under an old name gets a new token, so the old account's cookies never come back to life.
Passwords are never stored or logged; there is no self-signup.

The parsed file is kept per store and read again only when the file changes (inode, mtime or
size), so the login gate costs one ``stat`` per request and still sees a ``txlab users passwd``
or ``remove`` made by another process at the next request.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from core.access import LOCAL, Principal
from core.errors import TxlabError
from core.secret import write_private_file

log = logging.getLogger(__name__)

USERS_FILE = "users.json"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing a huge "password" is a cheap way to burn server CPU
#: Names that already mean someone: "local" owns what was made before accounts existed and by the CLI.
RESERVED_NAMES = frozenset({LOCAL.name})
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
    session_version: str


class AccountStore:
    """Users in ``path`` (a ``users.json``). Reads follow the file, so all worker processes agree."""

    _lock = threading.Lock()  # one writer at a time within a process; the CLI is the only other writer

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._parsed: tuple[tuple[int, int, int], dict[str, dict]] | None = None  # (file key, users)

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

    def require(self, name: str) -> Account:
        """The user ``name``; ``AccountError`` naming it when there is none."""
        account = self.get(name)
        if account is None:
            raise _missing(name)
        return account

    def check_new_name(self, name: str) -> str:
        """``name`` if a new user may take it: valid, not reserved, not taken (so a CLI can ask before the password)."""
        name = check_name(name)
        if name in self._read():
            raise _taken(name)
        return name

    def add(self, name: str, password: str, admin: bool = False) -> Account:
        """Create ``name``; ``AccountError`` when the name is taken, reserved or invalid or the password too short."""
        name = check_name(name)
        digest = _hash(password)
        with self._lock:
            users = self._load()
            if name in users:
                raise _taken(name)
            users[name] = {
                "hash": digest,
                "admin": bool(admin),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "session_version": _new_session_version(),
            }
            self._write(users)
        log.info("account %s added (admin=%s)", name, bool(admin))
        return _account(name, users[name])

    def remove(self, name: str) -> None:
        """Delete ``name``; its open sessions end at their next request."""
        with self._lock:
            users = self._load()
            if users.pop(str(name), None) is None:
                raise _missing(name)
            self._write(users)
        log.info("account %s removed", name)

    def set_password(self, name: str, password: str) -> Account:
        """Replace ``name``'s password and end its open sessions."""
        digest = _hash(password)
        with self._lock:
            users = self._load()
            record = users.get(str(name))
            if record is None:
                raise _missing(name)
            record["hash"] = digest
            record["session_version"] = _new_session_version()
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
        """The user a session stands for, when it still exists with the version the session was made with.

        A plain comparison: the version is no secret (the cookie carrying it is signed).
        """
        record = self._read().get(str(name))
        if record is None or isinstance(session_version, bool) or not isinstance(session_version, (str, int)):
            return None
        current = _version_text(record)
        if not current or current != str(session_version):
            return None
        return Principal(str(name), admin=bool(record.get("admin")))

    def _read(self) -> dict[str, dict]:
        """The users as last parsed, parsed again only when the file changed. Callers must not change it."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise AccountError(f"The user file {self.path} cannot be read ({error}); restore it or delete it and add users again.") from None
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        parsed = self._parsed  # one read of the attribute: other threads may replace it meanwhile
        if parsed is not None and parsed[0] == key:
            return parsed[1]
        users = self._load()
        self._parsed = (key, users)
        return users

    def _load(self) -> dict[str, dict]:
        """The users parsed from the file now: a fresh dict a writer may change."""
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
    """``name`` if it is a valid user name (lowercase letters, digits, '.', '_', '-'; at most 32) and not reserved."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AccountError(
            f"User name {name!r} is not allowed: use 1 to 32 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if name in RESERVED_NAMES:
        raise AccountError(
            f"User name {name!r} is not allowed: it is reserved for the owner of everything made without an account "
            "(before accounts existed, and by the txlab command)."
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
              "session_version": _version_text(record)}
    return Account(name=name, **fields)


def _missing(name: str) -> AccountError:
    return AccountError(f"No user named {name!r}.")


def _taken(name: str) -> AccountError:
    return AccountError(f"User {name!r} already exists; use 'txlab users passwd {name}' to change the password.")


def _new_session_version() -> str:
    """A token no earlier session of any account can carry: a re-added name never revives old cookies."""
    return secrets.token_hex(8)


def _version_text(record: dict) -> str:
    """The record's session version as text; files from before tokens hold a number (1, 2, ...)."""
    value = record.get("session_version", 1)
    return "" if isinstance(value, bool) else str(value)


def prepare_logins() -> None:
    """Make the unknown-name hash now (at server start), so no login pays for it.

    Made lazily, the first unknown-name login of a process would cost two hashes, not one:
    a timing tell that the name does not exist.
    """
    _dummy_hash()


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown names against, made once per process (hashing is the slow part)."""
    return generate_password_hash(os.urandom(16).hex(), method=_HASH_METHOD)
