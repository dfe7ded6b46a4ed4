"""Datasets on disk: one folder per dataset under ``DATA_DIR/datasets/<id>/``.

A dataset folder holds ``data/`` (the ingested table as zstd Parquet parts, see
``core.parquet_store``), ``meta.json`` (its sidecar), once a mapping is saved ``mapped/`` (the
table under canonical names) and, while it is shared, an empty marker file ``shared``. A folder is
built under a temporary name and renamed into place, so a failed import leaves nothing behind.

Sharing is a marker rather than a sidecar field, so sharing or unsharing never rewrites
``meta.json`` and a mapping saved meanwhile cannot undo it. The only rewrite of a sidecar (saving a
mapping, or clearing ``shared: true`` that sidecars held before the marker) happens under a lock
on the dataset's folder and re-reads the sidecar first (``core.files``).

User-supplied names are only ever stored as text: paths are built from generated ids, which are
checked against a strict pattern before they touch the file system.

A ``Workspace`` opened for a viewer (``core.access.Principal``) shows that user their own datasets,
shared ones and, to an admin, all; any other id is "not found" with the very message of an id
that does not exist. Deleting, sharing and saving a mapping need the owner or an admin. Without a
viewer (the CLI, scripts, tests) nothing is filtered.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa

from core import parquet_store
from core.access import Principal, can_see, check_change, owner_name
from core.errors import NotFoundError, TxlabError
from core.files import locked_folder, write_json
from core.schema import ColumnMapping

log = logging.getLogger(__name__)

SERVER_FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet")
_ID_PATTERN = re.compile(r"^ds-[0-9a-f]{12}$")
#: A half-written or half-deleted dataset folder this old was left by a killed process.
STALE_AFTER_S = 3600
_DATA, _MAPPED, _META, _SHARED = "data", "mapped", "meta.json", "shared"  # tables are folders of Parquet parts


@dataclass
class DatasetMeta:
    """The sidecar of one dataset: what it is, where it came from, and how it is mapped."""

    id: str
    name: str
    source: str  # "upload" | "server-file" | "generated"
    created: str
    rows: int
    columns: list[str]
    owner: str = "local"
    shared: bool = False  # visible to every user (only the owner or an admin changes it); from the marker file
    report: dict | None = None
    mapping: dict | None = None
    coercion: dict | None = None
    mapped_rows: int | None = None
    mapped_by: str | None = None  # who saved the mapping
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DatasetMeta":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def column_mapping(self) -> ColumnMapping | None:
        return ColumnMapping.from_dict(self.mapping) if self.mapping else None


@dataclass(frozen=True)
class ServerFile:
    """A table file an operator placed in the data folder, offered for loading by name."""

    name: str
    size: int
    modified: str


class Workspace:
    """The datasets under one data folder, as ``viewer`` may see them (all when ``viewer`` is None)."""

    def __init__(self, data_dir: str | os.PathLike, viewer: Principal | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.datasets_dir = self.data_dir / "datasets"
        self.viewer = viewer

    def add_dataset(
        self,
        frame: pd.DataFrame | pa.Table,
        *,
        name: str,
        source: str,
        report: dict | None = None,
        owner: str | None = None,
        extra: dict | None = None,
    ) -> DatasetMeta:
        """Store a frame as a new dataset; nothing is left behind if writing fails.

        It belongs to ``owner``, by default the viewer ("local" without one).
        """
        owner = owner_name(self.viewer, owner)
        self.datasets_dir.mkdir(parents=True, exist_ok=True)
        dataset_id = f"ds-{uuid.uuid4().hex[:12]}"
        meta = DatasetMeta(
            id=dataset_id,
            name=str(name)[:200] or "dataset",
            source=source,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            rows=int(len(frame)),
            columns=[str(c) for c in (frame.column_names if isinstance(frame, pa.Table) else frame.columns)],
            owner=owner,
            report=report,
            extra=dict(extra or {}),
        )
        remove_stale_folders(self.datasets_dir)
        staging = self.datasets_dir / f".staging-{dataset_id}"
        try:
            staging.mkdir()
            parquet_store.write_table(frame, staging / _DATA)
            write_json(staging / _META, meta.to_dict(), default=str)
            staging.rename(self.datasets_dir / dataset_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("stored dataset %s (%s rows) from %s", dataset_id, meta.rows, source)
        return meta

    def list_datasets(self, owner: str | None = None) -> list[DatasetMeta]:
        """Every dataset the viewer may see, newest first (optionally only one owner's)."""
        if not self.datasets_dir.is_dir():
            return []
        metas = []
        for folder in self.datasets_dir.iterdir():
            if not _ID_PATTERN.match(folder.name):
                continue
            try:
                meta = self._read_meta(folder)
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable dataset folder %s", folder.name)
                continue
            if (owner is None or meta.owner == owner) and can_see(self.viewer, meta.owner, meta.shared):
                metas.append(meta)
        return sorted(metas, key=lambda m: m.created, reverse=True)

    def get(self, dataset_id: str) -> DatasetMeta:
        """The sidecar of one dataset; ``NotFoundError`` for an unknown, malformed or invisible id."""
        return self._read_meta(self._folder(dataset_id))

    def load_frame(self, dataset_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The ingested table as stored."""
        return parquet_store.read_table(self._folder(dataset_id) / _DATA, columns=columns)

    def load_mapped(self, dataset_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The table under canonical names; ``TxlabError`` when no mapping was saved yet."""
        return parquet_store.read_table(self.mapped_path(dataset_id), columns=columns)

    def mapped_path(self, dataset_id: str) -> Path:
        """The mapped table's file (its stat versions cached results); ``TxlabError`` when unmapped."""
        path = self._folder(dataset_id) / _MAPPED
        if not path.exists():
            raise TxlabError(f"Dataset {dataset_id} has no saved mapping yet: map it on the Mapping page.")
        return path

    def preview(self, dataset_id: str, rows: int = 20) -> pd.DataFrame:
        """The first rows, read without loading the whole table."""
        return parquet_store.read_head(self._folder(dataset_id) / _DATA, rows)

    def save_mapping(
        self, dataset_id: str, mapping: ColumnMapping, mapped: pd.DataFrame, coercion: dict
    ) -> DatasetMeta:
        """Store the mapping, its coercion report and the mapped table together.

        Two saves of one dataset run one after the other, so its sidecar always describes its table.
        """
        folder = self._folder(dataset_id)
        with locked_folder(folder):
            meta = self._read_meta(folder)
            self._check_change(meta, "change the mapping of")
            parquet_store.write_table(mapped, folder / _MAPPED)
            return self._update_sidecar(folder, {
                "mapping": mapping.to_dict(),
                "coercion": coercion,
                "mapped_rows": int(len(mapped)),
                "mapped_by": self.viewer.name if self.viewer is not None else meta.owner,
            })

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset with its mapping (owner or admin only)."""
        folder = self._folder(dataset_id)
        self._check_change(self._read_meta(folder), "delete")
        trash = folder.with_name(f".deleting-{folder.name}")
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        log.info("deleted dataset %s", dataset_id)

    def share(self, dataset_id: str, shared: bool) -> DatasetMeta:
        """Let every user see and use the dataset (or stop that); owner or admin only.

        Only the marker file changes; a sidecar that still says ``shared: true`` is cleared as well.
        """
        folder = self._folder(dataset_id)
        meta = self._read_meta(folder)
        self._check_change(meta, "share")
        marker = folder / _SHARED
        if shared:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
            if _sidecar(folder).get("shared") is True:
                with locked_folder(folder):
                    self._update_sidecar(folder, {"shared": False})
        log.info("dataset %s %s", dataset_id, "shared" if shared else "no longer shared")
        return self._read_meta(folder)

    def check_change(self, dataset_id: str, action: str) -> DatasetMeta:
        """The sidecar, when the viewer may change what belongs to the dataset (owner or admin).

        ``action`` names what is refused otherwise, e.g. "train a recommender for".
        """
        meta = self.get(dataset_id)
        self._check_change(meta, action)
        return meta

    def list_server_files(self) -> list[ServerFile]:
        """Table files placed directly in the data folder (not in sub-folders)."""
        if not self.data_dir.is_dir():
            return []
        found = []
        for path in sorted(self.data_dir.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(SERVER_FILE_SUFFIXES):
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
                found.append(ServerFile(path.name, stat.st_size, modified))
        return found

    def server_file_path(self, name: str) -> Path:
        """The path of a listed server file; anything not in the listing is not found."""
        if name not in {f.name for f in self.list_server_files()}:
            raise NotFoundError(f"No file named {name!r} in the data folder.")
        return self.data_dir / name

    def _folder(self, dataset_id: str) -> Path:
        if not isinstance(dataset_id, str) or not _ID_PATTERN.match(dataset_id):
            raise NotFoundError(_not_found(dataset_id))
        folder = self.datasets_dir / dataset_id
        if not (folder / _META).is_file():
            raise NotFoundError(_not_found(dataset_id))
        if self.viewer is not None and not self.viewer.admin:
            try:
                meta = self._read_meta(folder)
            except (OSError, ValueError, TypeError):
                raise NotFoundError(_not_found(dataset_id)) from None
            if not can_see(self.viewer, meta.owner, meta.shared):
                raise NotFoundError(_not_found(dataset_id))
        return folder

    def _check_change(self, meta: DatasetMeta, action: str) -> None:
        check_change(self.viewer, meta.owner, meta.shared, action=action, thing=f"dataset “{meta.name}”",
                     not_found=_not_found(meta.id))

    @staticmethod
    def _read_meta(folder: Path) -> DatasetMeta:
        """The sidecar, shared when its marker exists (or, as before the marker, when the sidecar says so)."""
        meta = DatasetMeta.from_dict(_sidecar(folder))
        meta.shared = meta.shared is True or (folder / _SHARED).is_file()
        return meta

    def _update_sidecar(self, folder: Path, changes: dict) -> DatasetMeta:
        """Re-read the sidecar, apply ``changes`` and write it back; the caller holds ``locked_folder(folder)``."""
        data = {**_sidecar(folder), **changes}
        write_json(folder / _META, data, default=str)
        return self._read_meta(folder)


def _sidecar(folder: Path) -> dict:
    data = json.loads((folder / _META).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{folder.name}/{_META} does not hold an object")
    return data


def _not_found(dataset_id: object) -> str:
    """The one message for a dataset that is absent, malformed or someone else's: ids cannot be probed."""
    return f"Dataset {dataset_id!r} not found."


def remove_stale_folders(datasets_dir: Path, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete ``.staging-*`` and ``.deleting-*`` folders a killed import or delete left behind; their names."""
    cutoff = datetime.now(timezone.utc).timestamp() - older_than_s
    removed = []
    for folder in datasets_dir.glob(".*-ds-*"):
        try:
            stale = folder.name.startswith((".staging-", ".deleting-")) and folder.stat().st_mtime < cutoff
        except OSError:
            continue  # removed by another process meanwhile
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        log.info("removed %d stale dataset folders: %s", len(removed), ", ".join(removed))
    return removed
