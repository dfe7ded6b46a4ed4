"""Datasets on disk: one folder per dataset under ``DATA_DIR/datasets/<id>/``.

A dataset folder holds ``data/`` (the ingested table as zstd Parquet parts, see
``core.parquet_store``), ``meta.json`` (its sidecar) and, once a mapping is saved, ``mapped/``
(the table under canonical names). A folder is
built under a temporary name and renamed into place, so a failed import leaves nothing behind;
sidecar updates are written to a temporary file and swapped in with ``os.replace``.

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
from core.schema import ColumnMapping

log = logging.getLogger(__name__)

SERVER_FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet")
_ID_PATTERN = re.compile(r"^ds-[0-9a-f]{12}$")
_DATA, _MAPPED, _META = "data", "mapped", "meta.json"  # tables are folders of Parquet parts


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
    shared: bool = False  # visible to every user (only the owner or an admin changes it)
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
        staging = self.datasets_dir / f".staging-{dataset_id}"
        try:
            staging.mkdir()
            parquet_store.write_table(frame, staging / _DATA)
            _write_json(meta.to_dict(), staging / _META)
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
        """Store the mapping, its coercion report and the mapped table together."""
        folder = self._folder(dataset_id)
        meta = self._read_meta(folder)
        self._check_change(meta, "change the mapping of")
        parquet_store.write_table(mapped, folder / _MAPPED)
        meta.mapping = mapping.to_dict()
        meta.coercion = coercion
        meta.mapped_rows = int(len(mapped))
        meta.mapped_by = self.viewer.name if self.viewer is not None else meta.owner
        _write_json(meta.to_dict(), folder / _META)
        return meta

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset with its mapping (owner or admin only)."""
        folder = self._folder(dataset_id)
        self._check_change(self._read_meta(folder), "delete")
        trash = folder.with_name(f".deleting-{folder.name}")
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        log.info("deleted dataset %s", dataset_id)

    def share(self, dataset_id: str, shared: bool) -> DatasetMeta:
        """Let every user see and use the dataset (or stop that); owner or admin only."""
        folder = self._folder(dataset_id)
        meta = self._read_meta(folder)
        self._check_change(meta, "share")
        meta.shared = bool(shared)
        _write_json(meta.to_dict(), folder / _META)
        log.info("dataset %s %s", dataset_id, "shared" if meta.shared else "no longer shared")
        return meta

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
            raise NotFoundError(f"Dataset {dataset_id!r} not found.")
        folder = self.datasets_dir / dataset_id
        if not (folder / _META).is_file():
            raise NotFoundError(f"Dataset {dataset_id!r} not found.")
        if self.viewer is not None and not self.viewer.admin:
            try:
                meta = self._read_meta(folder)
            except (OSError, ValueError, TypeError):
                raise NotFoundError(f"Dataset {dataset_id!r} not found.") from None
            if not can_see(self.viewer, meta.owner, meta.shared):
                raise NotFoundError(f"Dataset {dataset_id!r} not found.")
        return folder

    def _check_change(self, meta: DatasetMeta, action: str) -> None:
        check_change(self.viewer, meta.owner, meta.shared, action=action, thing=f"dataset “{meta.name}”",
                     not_found=f"Dataset {meta.id!r} not found.")

    @staticmethod
    def _read_meta(folder: Path) -> DatasetMeta:
        return DatasetMeta.from_dict(json.loads((folder / _META).read_text(encoding="utf-8")))


def _write_json(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
