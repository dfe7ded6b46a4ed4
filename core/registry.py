"""Model versions on disk: one folder per version under ``models_dir/<version_id>/``.

A version folder holds ``model.pt`` (a ``state_dict`` of tensors), ``model.json`` (the caller's
metadata plus id, creation time, format and library versions, and the sha256 of every other
file), ``history.json`` (per-epoch metrics) and ``tables/<name>.parquet`` (frames the feature
pipeline needs at scoring time).

A version is written under ``.staging-<id>`` and renamed into place, so a crash never leaves half
a model. Loading checks every file against its recorded hash and reads the weights with
``torch.load(weights_only=True)``: a shared models folder can hold a tampered file, and nothing in
it may run code. Paths are only built from ids that match a strict pattern.

A registry opened for a viewer (``core.access.Principal``) shows that user their own versions,
shared ones and, to an admin, all; any other id is "not found" with the very message of an id that
does not exist. Whether a version is shared lives outside its folder (an empty marker file
``shared/<id>``), because ``model.json`` is covered by the version's integrity check and a version
never changes once saved. Each user has their own active version: ``active.json`` for the "local"
user (a single-user install, as before accounts), ``active/<hash of the name>.json`` for others.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from core.access import LOCAL, Principal, can_see, check_change, owner_name
from core.errors import NotFoundError, TxlabError
from core.files import json_default, write_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ID_PATTERN = re.compile(r"^v-\d{8}-\d{6}-[0-9a-f]{6}$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_WEIGHTS, _META, _HISTORY, _TABLES, _ACTIVE = "model.pt", "model.json", "history.json", "tables", "active.json"
_SHARED, _ACTIVE_DIR = "shared", "active"
_LIBRARIES = {"torch": "torch", "numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn"}


class ModelIntegrityError(TxlabError):
    """A stored model version was changed, damaged or holds something other than tensors."""


@dataclass
class VersionInfo:
    """What a list of versions shows, read from ``model.json`` only."""

    id: str
    created: str
    owner: str
    dataset_id: str | None
    dataset_name: str | None
    status: str  # always "ready": only complete versions exist under their id
    metrics: dict
    baselines: dict
    hyperparameters: dict
    active: bool  # the viewer's active version
    shared: bool = False


@dataclass
class LoadedVersion:
    """Everything needed to rebuild and use a trained model."""

    id: str
    meta: dict
    history: list[dict]
    weights: dict[str, torch.Tensor]
    tables: dict[str, pd.DataFrame]


class ModelRegistry:
    """The model versions under one models folder, as ``viewer`` may see them (all when ``viewer`` is None)."""

    def __init__(self, models_dir: str | os.PathLike, viewer: Principal | None = None) -> None:
        self.models_dir = Path(models_dir).resolve()
        self.viewer = viewer

    def save_version(
        self,
        *,
        weights: dict[str, torch.Tensor],
        meta: dict,
        history: list[dict],
        tables: dict[str, pd.DataFrame] | None = None,
        owner: str | None = None,
    ) -> str:
        """Store a new version and return its id; nothing is left behind if writing fails.

        ``id``, ``created``, ``owner`` (by default the viewer), ``format_version``,
        ``library_versions`` and ``files`` in ``meta`` are set by the registry. The owner's first
        version becomes their active one. Only the owner's pointer is touched: another user's
        version never becomes the "local" user's (the CLI's) active model.
        """
        owner = owner_name(self.viewer, owner)
        tables = dict(tables or {})
        _check_inputs(weights, meta, history, tables)
        now = datetime.now(timezone.utc)
        version_id = f"v-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        staging = self.models_dir / f".staging-{version_id}"
        try:
            staging.mkdir()
            torch.save({name: tensor.detach().cpu() for name, tensor in weights.items()}, staging / _WEIGHTS)
            write_json(staging / _HISTORY, history)
            if tables:
                (staging / _TABLES).mkdir()
                for name, frame in tables.items():
                    frame.to_parquet(staging / _TABLES / f"{name}.parquet", index=False)
            full_meta = {
                **meta,
                "id": version_id,
                "created": now.isoformat(timespec="microseconds"),
                "owner": owner,
                "format_version": FORMAT_VERSION,
                "library_versions": _library_versions(),
                "files": _hash_files(staging),
            }
            write_json(staging / _META, full_meta)
            staging.rename(self.models_dir / version_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("saved model version %s for %s", version_id, owner)
        if self._pointer(owner) is None:
            self._write_active(owner, version_id)
        return version_id

    def list_versions(self, owner: str | None = None) -> list[VersionInfo]:
        """Every complete version the viewer may see, newest first (optionally only one owner's)."""
        if not self.models_dir.is_dir():
            return []
        active = self.active_id()
        shared = self._shared_ids()
        infos = []
        for folder in self.models_dir.iterdir():
            if not _ID_PATTERN.match(folder.name):
                continue
            try:
                info = _info(_read_meta(folder), folder.name, active, folder.name in shared)
            except (OSError, ValueError, TypeError, AttributeError, KeyError):
                log.warning("skipping model folder %s: its model.json is unreadable", folder.name)
                continue
            if (owner is None or info.owner == owner) and can_see(self.viewer, info.owner, info.shared):
                infos.append(info)
        return sorted(infos, key=lambda i: (i.created, i.id), reverse=True)

    def get_info(self, version_id: str) -> VersionInfo:
        """One version's summary; ``NotFoundError`` for an unknown, malformed or invisible id."""
        folder = self._folder(version_id)
        return _info(self._checked_meta(folder, version_id), version_id, self.active_id(), self._is_shared(version_id))

    def load(self, version_id: str) -> LoadedVersion:
        """Weights, metadata, history and tables of a version, after checking nothing was changed."""
        folder = self._folder(version_id)
        meta = self._checked_meta(folder, version_id)
        _verify_files(folder, meta.get("files"), version_id)
        weights = _load_weights(folder / _WEIGHTS, version_id)
        try:
            history = json.loads((folder / _HISTORY).read_text(encoding="utf-8"))
            tables = {
                path.stem: pd.read_parquet(path) for path in sorted((folder / _TABLES).glob("*.parquet"))
            }
        except (OSError, ValueError) as error:
            raise ModelIntegrityError(f"Model version {version_id} could not be read: {error}") from error
        return LoadedVersion(version_id, meta, history, weights, tables)

    def resolve(self, ref: str) -> str:
        """The version id that ``ref`` names: ``"active"`` (the viewer's) or a version id the viewer may see."""
        if ref == "active":
            active = self.active_id()
            if active is None:
                raise NotFoundError("No active model: train one or mark a version active")
            return active
        self._folder(ref)
        return ref

    def set_active(self, version_id: str) -> None:
        """Make a version the viewer may see (their own or a shared one) the one their scoring uses by default."""
        self._folder(version_id)
        self._write_active(self._user, version_id)
        log.info("model version %s is now active for %s", version_id, self._user)

    def active_id(self) -> str | None:
        """The viewer's active version; ``None`` when unset, deleted or no longer visible to them."""
        version_id = self._pointer(self._user)
        if version_id is None:
            return None
        try:
            self._folder(version_id)
        except NotFoundError:
            return None
        return version_id

    def delete(self, version_id: str) -> None:
        """Remove a version (owner or admin only); whoever had it active has no active version afterwards."""
        folder = self._folder(version_id)
        check_change(self.viewer, self._owner(folder), self._is_shared(version_id), action="delete",
                     thing=f"model version {version_id}", not_found=_not_found(version_id))
        was_active = self.active_id() == version_id
        trash = folder.with_name(f".deleting-{version_id}")
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        (self.models_dir / _SHARED / version_id).unlink(missing_ok=True)
        if was_active:
            self._active_path(self._user).unlink(missing_ok=True)
        log.info("deleted model version %s", version_id)

    def share(self, version_id: str, shared: bool) -> None:
        """Let every user see and use (score, compare) a version, or stop that; owner or admin only."""
        folder = self._folder(version_id)
        check_change(self.viewer, self._owner(folder), self._is_shared(version_id), action="share",
                     thing=f"model version {version_id}", not_found=_not_found(version_id))
        marker = self.models_dir / _SHARED / version_id
        if shared:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
        log.info("model version %s %s", version_id, "shared" if shared else "no longer shared")

    @property
    def _user(self) -> str:
        return self.viewer.name if self.viewer is not None else LOCAL.name

    def _folder(self, version_id: str) -> Path:
        """The folder of a version the viewer may see; ``NotFoundError`` (one message for all cases) otherwise."""
        if not isinstance(version_id, str) or not _ID_PATTERN.match(version_id):
            raise NotFoundError(_not_found(version_id))
        folder = self.models_dir / version_id
        if not (folder / _META).is_file():
            raise NotFoundError(_not_found(version_id))
        if self.viewer is not None and not self.viewer.admin:
            if not can_see(self.viewer, self._owner(folder), self._is_shared(version_id)):
                raise NotFoundError(_not_found(version_id))
        return folder

    @staticmethod
    def _owner(folder: Path) -> str:
        """Who saved the version ("local" for one whose model.json cannot be read: only an admin may touch it)."""
        try:
            meta = _read_meta(folder)
        except (OSError, ValueError):
            return LOCAL.name
        return str(meta.get("owner", LOCAL.name)) if isinstance(meta, dict) else LOCAL.name

    def _is_shared(self, version_id: str) -> bool:
        return (self.models_dir / _SHARED / version_id).is_file()

    def _shared_ids(self) -> set[str]:
        folder = self.models_dir / _SHARED
        return {p.name for p in folder.iterdir() if _ID_PATTERN.match(p.name)} if folder.is_dir() else set()

    def _active_path(self, user: str) -> Path:
        if user == LOCAL.name:
            return self.models_dir / _ACTIVE  # where it always was: existing installs keep their choice
        digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:32]  # user names never become paths
        return self.models_dir / _ACTIVE_DIR / f"{digest}.json"

    def _pointer(self, user: str) -> str | None:
        """The version ``user`` marked active, if it still exists (whoever may see it)."""
        try:
            version_id = json.loads(self._active_path(user).read_text(encoding="utf-8"))["id"]
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if not isinstance(version_id, str) or not _ID_PATTERN.match(version_id):
            return None
        return version_id if (self.models_dir / version_id / _META).is_file() else None

    def _write_active(self, user: str, version_id: str) -> None:
        path = self._active_path(user)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"id": version_id, "user": user})

    @staticmethod
    def _checked_meta(folder: Path, version_id: str) -> dict:
        try:
            meta = _read_meta(folder)
        except (OSError, ValueError) as error:
            raise ModelIntegrityError(
                f"Model version {version_id} failed its integrity check: model.json is not readable JSON"
            ) from error
        if not isinstance(meta, dict):
            raise ModelIntegrityError(
                f"Model version {version_id} failed its integrity check: model.json does not hold an object"
            )
        if meta.get("format_version") != FORMAT_VERSION:
            raise TxlabError(
                f"Model version {version_id} has format_version {meta.get('format_version')!r}; "
                f"this txlab reads format {FORMAT_VERSION} only"
            )
        return meta


def as_registry(models: "ModelRegistry | str | os.PathLike") -> "ModelRegistry":
    """``models`` itself when it is a registry (perhaps scoped to a viewer), else an unscoped one over that folder."""
    return models if isinstance(models, ModelRegistry) else ModelRegistry(models)


def json_problem(value: Any, where: str) -> str | None:
    """The first place inside ``value`` that JSON cannot hold, e.g. ``meta['scalers']['amount']``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{where} key {key!r}"
            found = json_problem(item, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        return next((p for i, item in enumerate(value) if (p := json_problem(item, f"{where}[{i}]"))), None)
    try:
        json.dumps(value, default=json_default)
    except (TypeError, ValueError):
        return f"{where} (a {type(value).__name__})"
    return None


def _check_inputs(weights: Any, meta: Any, history: Any, tables: dict) -> None:
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise TxlabError("weights must be a state_dict: a dict of parameter name -> tensor")
    if not isinstance(meta, dict):
        raise TxlabError(f"meta must be a dict, not {type(meta).__name__}")
    if not isinstance(history, list):
        raise TxlabError(f"history must be a list of per-epoch dicts, not {type(history).__name__}")
    for value, where in ((meta, "meta"), (history, "history")):
        problem = json_problem(value, where)
        if problem:
            raise TxlabError(f"Cannot store {problem} in the model's JSON files: use numbers, text, lists or dicts")
    for name, frame in tables.items():
        if not isinstance(name, str) or not _TABLE_NAME.match(name):
            raise TxlabError(f"Table name {name!r} is not allowed: use lower-case letters, digits and _")
        if not isinstance(frame, pd.DataFrame):
            raise TxlabError(f"Table {name!r} must be a pandas DataFrame, not {type(frame).__name__}")


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for key, distribution in _LIBRARIES.items():
        try:
            versions[key] = importlib_metadata.version(distribution)
        except importlib_metadata.PackageNotFoundError:
            versions[key] = None
    return versions


def _hash_files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` except model.json, keyed by relative POSIX path."""
    hashes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != _META:
            hashes[relative] = _sha256(path)
    return hashes


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_files(folder: Path, recorded: Any, version_id: str) -> None:
    """Compare what is on disk with the hashes in model.json; the disk listing decides what is read."""
    failed = f"Model version {version_id} failed its integrity check:"
    if not isinstance(recorded, dict):
        raise ModelIntegrityError(f"{failed} model.json has no list of file hashes")
    actual = _hash_files(folder)
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            raise ModelIntegrityError(f"{failed} {name} is missing")
        if name not in recorded:
            raise ModelIntegrityError(f"{failed} {name} was added after it was saved")
        if actual[name] != recorded[name]:
            raise ModelIntegrityError(f"{failed} {name} was changed after it was saved")
    if _WEIGHTS not in actual or _HISTORY not in actual:
        raise ModelIntegrityError(f"{failed} {_WEIGHTS} or {_HISTORY} is missing")


def _load_weights(path: Path, version_id: str) -> dict[str, torch.Tensor]:
    refused = f"Model version {version_id} failed its integrity check: {_WEIGHTS}"
    try:
        weights = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # weights_only refuses pickled objects here, without running them
        log.warning("refused %s of %s", _WEIGHTS, version_id, exc_info=True)
        raise ModelIntegrityError(f"{refused} is not a plain file of tensors, so it was not loaded") from error
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise ModelIntegrityError(f"{refused} does not hold a state_dict (parameter name -> tensor)")
    return dict(weights)


def _read_meta(folder: Path) -> Any:
    return json.loads((folder / _META).read_text(encoding="utf-8"))


def _not_found(version_id: object) -> str:
    return f"No model version {version_id!r}"


def _info(meta: dict, version_id: str, active: str | None, shared: bool = False) -> VersionInfo:
    return VersionInfo(
        id=version_id,
        created=str(meta.get("created", "")),
        owner=str(meta.get("owner", "local")),
        dataset_id=meta.get("dataset_id"),
        dataset_name=meta.get("dataset_name"),
        status="ready",
        metrics=dict(meta.get("metrics") or {}),
        baselines=dict(meta.get("baselines") or {}),
        hyperparameters=dict(meta.get("hyperparameters") or {}),
        active=version_id == active,
        shared=shared,
    )
