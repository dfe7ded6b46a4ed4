"""Cached Explore results: JSON on disk across restarts, and the last analysis frames in memory.

Two caches with different jobs:

* **Results** (``open_results``): a bounded ``diskcache.Cache`` under ``CACHE_FOLDER/results``
  shared by every worker process. Values are stored as JSON (``diskcache.JSONDisk``), never
  pickled: each result dataclass goes through its ``to_dict`` / ``from_dict``. A key names the
  dataset, a fingerprint of its saved mapping and mapped file (so re-saving a mapping makes
  every old entry unreachable; the size bound evicts them in time), the function and its
  parameters. An entry that no longer rebuilds (a result class changed) counts as a miss.
* **Frames** (``FRAMES``): the analysis frames of the last ``FRAME_SLOTS`` dataset versions this
  process loaded, so switching a column does not read Parquet again. It holds configuration-free
  process state only (data on disk that any user of the dataset may read), never anything
  belonging to a browser session. Concurrent requests for the same frame wait for one load.

``DatasetResults`` ties them together for one mapped dataset.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import diskcache
import pandas as pd

from core.errors import TxlabError
from core.explore_frame import analysis_frame, column_roles
from core.schema import ColumnMapping
from core.workspace import Workspace

log = logging.getLogger(__name__)

RESULTS_FOLDER = "results"
SIZE_LIMIT_BYTES = 512 * 1024 * 1024
FRAME_SLOTS = 2  # a 5M-row analysis frame takes ~250 MB
# Part of every key: bump it when results change meaning without changing shape.
CACHE_VERSION = 1

R = TypeVar("R")


def open_results(cache_folder: str | Path, size_limit: int = SIZE_LIMIT_BYTES) -> diskcache.Cache:
    """The results cache under ``cache_folder/results``: JSON values, least recently used evicted."""
    return diskcache.Cache(
        str(Path(cache_folder) / RESULTS_FOLDER),
        size_limit=int(size_limit),
        eviction_policy="least-recently-used",
        disk=diskcache.JSONDisk,
    )


@dataclass(frozen=True)
class DataVersion:
    """One dataset as mapped right now: its id and a fingerprint of mapping and mapped file."""

    dataset_id: str
    fingerprint: str
    mapping: ColumnMapping


def data_version(workspace: Workspace, dataset_id: str) -> DataVersion:
    """The current version of a mapped dataset; ``TxlabError`` when it has no saved mapping.

    The fingerprint covers the saved mapping and the mapped table folder's identity (a new folder,
    with a new inode, is swapped in at every save), so saving again (even the same mapping) gives
    a new version.
    """
    meta = workspace.get(dataset_id)
    if not meta.mapping:
        raise TxlabError(f"Dataset “{meta.name}” has no saved mapping yet: map it on the Mapping page.")
    stat = workspace.mapped_path(dataset_id).stat()
    stamp = {"mapping": meta.mapping, "inode": stat.st_ino, "mtime_ns": stat.st_mtime_ns}
    return DataVersion(dataset_id, _digest(stamp), ColumnMapping.from_dict(meta.mapping))


def result_key(version: DataVersion, function: str, params: dict[str, Any]) -> str:
    """The cache key of ``function(**params)`` on one dataset version (params must be JSON-able)."""
    return f"v{CACHE_VERSION}/{version.dataset_id}/{version.fingerprint}/{function}/{_digest(params)}"


def cached(cache: diskcache.Cache, key: str, compute: Callable[[], R], result_type: type | None = None) -> R:
    """``compute()``'s result, from ``cache`` when there, else computed and stored.

    The result may be one ``result_type`` (with ``to_dict``/``from_dict``), a list of them, or
    None; with ``result_type=None`` it must be plain JSON data. Failures of ``compute`` are not
    cached; a failure to store is logged and the result still returned.
    """
    try:
        stored = cache.get(key, retry=True)
    except (ValueError, zlib.error, OSError, diskcache.Timeout) as error:  # a damaged entry is a miss
        log.warning("could not read cached %s: %s", key, error)
        stored = None
    if stored is not None:
        try:
            return _decode(stored, result_type)
        except (KeyError, TypeError, ValueError) as error:
            log.info("cached result %s no longer rebuilds (%s): computing it again", key, error)
    result = compute()
    try:
        cache.set(key, _encode(result), retry=True)
    except (TypeError, ValueError, OSError, diskcache.Timeout) as error:
        log.warning("could not cache %s: %s", key, error)
    return result


class FrameLRU:
    """The last few loaded frames, by key; thread-safe, one load per key at a time."""

    def __init__(self, slots: int = FRAME_SLOTS) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots!r}.")
        self.slots = slots
        self._frames: OrderedDict[Hashable, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], pd.DataFrame], replaces: Callable[[Hashable], bool] | None = None) -> pd.DataFrame:
        """The frame under ``key``, loading it once with ``load()`` if absent.

        ``replaces(other_key)`` says which held frames the new one makes stale (dropped on insert).
        """
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
                return self._frames[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._frames:  # loaded by the request we waited for
                    self._frames.move_to_end(key)
                    return self._frames[key]
            try:
                frame = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                for other in [k for k in self._frames if replaces and replaces(k)]:
                    del self._frames[other]
                self._frames[key] = frame
                while len(self._frames) > self.slots:
                    self._frames.popitem(last=False)
        return frame

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


FRAMES = FrameLRU()


class DatasetResults:
    """Core results for one mapped dataset, through the results cache and the frame LRU.

    ``call(fn, result_type, **params)`` answers ``fn(frame, **params)``; the frame is only
    loaded on a miss. Open one per request: it pins the dataset version it was opened on.
    """

    def __init__(self, workspace: Workspace, cache: diskcache.Cache, dataset_id: str, frames: FrameLRU = FRAMES) -> None:
        self.workspace = workspace
        self.cache = cache
        self.version = data_version(workspace, dataset_id)
        self._frames = frames

    @property
    def mapping(self) -> ColumnMapping:
        return self.version.mapping

    def frame(self) -> pd.DataFrame:
        """The analysis frame (text as categories, no transaction id) of this version."""
        version = self.version
        return self._frames.get(
            (version.dataset_id, version.fingerprint),
            self._load,
            replaces=lambda key: key[0] == version.dataset_id,
        )

    def roles(self) -> dict[str, str]:
        """Column -> role, as ``core.explore_frame.column_roles`` gives them."""
        key = result_key(self.version, "column_roles", {})
        return cached(self.cache, key, lambda: column_roles(self.frame(), self.mapping))

    def call(self, fn: Callable[..., R], result_type: type | None, **params: Any) -> R:
        """``fn(frame, **params)``, cached under the function's name and ``params``."""
        key = result_key(self.version, f"{fn.__module__}.{fn.__qualname__}", params)
        return cached(self.cache, key, lambda: fn(self.frame(), **params), result_type)

    def _load(self) -> pd.DataFrame:
        mapping = self.mapping
        columns = [name for name, source in mapping.fields.items() if source]
        columns += [c for c in (*mapping.extra_numeric, *mapping.extra_categorical) if c not in columns]
        mapped = self.workspace.load_mapped(self.version.dataset_id, columns=columns)
        log.info("loaded analysis frame of %s (%s rows)", self.version.dataset_id, len(mapped))
        return analysis_frame(mapped, mapping)


def _encode(result: Any) -> dict:
    if result is None:
        return {"kind": "none"}
    if isinstance(result, list):
        return {"kind": "list", "value": [_plain(r) for r in result]}
    return {"kind": "one", "value": _plain(result)}


def _decode(stored: dict, result_type: type | None) -> Any:
    kind = stored["kind"]
    if kind == "none":
        return None
    build = result_type.from_dict if result_type is not None else (lambda value: value)
    if kind == "list":
        return [build(v) for v in stored["value"]]
    if kind == "one":
        return build(stored["value"])
    raise ValueError(f"unknown cached kind {kind!r}")


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
