"""What the ledger reads, from a model version and a mapped dataset: scores (cached on disk) and columns.

Scoring a million rows takes seconds, so a version's scores of a dataset version are kept as
``CACHE/money/<version>-<dataset fingerprint>.npy`` (plain float64, loaded without pickle);
a new mapping of the dataset changes the fingerprint, so old scores are never reused.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import MappingError, TxlabError
from core.files import replacing
from core.finance.assumptions import Assumptions
from core.finance.ledger import Ledger
from core.finance.revenue import RevenueReport, detect_revenue_column, parse_revenue
from core.registry import ModelRegistry, as_registry
from core.result_cache import data_version
from core.scoring import load_model, score_frame
from core.workspace import Workspace

log = logging.getLogger(__name__)

SCORES_FOLDER = "money"
#: The score cache keeps the most recently used files up to this size (1M rows take 8 MB).
SCORES_CACHE_BYTES = 1 << 30
SEGMENTS = ("country", "device_type", "merchant_id")


class NoLabelsError(TxlabError):
    """The dataset has no label column: money cannot be counted without knowing the fraud."""


@dataclass
class MoneyData:
    """One labelled row per transaction: ``score, label, amount, revenue`` and, when mapped,
    ``timestamp`` and the segment columns; plus the report on the revenue column."""

    frame: pd.DataFrame
    revenue: RevenueReport
    amount_missing: int
    _days: np.ndarray | None = field(default=None, repr=False)

    @property
    def has_timestamp(self) -> bool:
        return "timestamp" in self.frame and bool(self.frame["timestamp"].notna().any())

    def day(self) -> np.ndarray | None:
        """Each row's calendar day (``datetime64[D]``, NaT when unknown); None without a timestamp."""
        if not self.has_timestamp:
            return None
        if self._days is None:
            self._days = self.frame["timestamp"].to_numpy("datetime64[ns]").astype("datetime64[D]")
        return self._days

    def ledger(self, assumptions: Assumptions, scores: str = "score") -> Ledger:
        """The ledger of the model's scores (or ``scores="amount"`` for the amount rule)."""
        f = self.frame
        return Ledger(f[scores].to_numpy(np.float64), f["label"].to_numpy(), f["amount"].to_numpy(np.float64),
                      f["revenue"].to_numpy(np.float64), assumptions, self.day())


def revenue_options(workspace: Workspace, dataset_id: str) -> tuple[list[str], str]:
    """Columns that may hold revenue (``amount``, the mapping's extras, and unmapped columns when the
    mapped table has every row), and the one detected by name."""
    meta = workspace.get(dataset_id)
    mapping = meta.column_mapping
    if mapping is None:
        raise TxlabError(f"Dataset “{meta.name}” has no saved mapping yet: map it on the Mapping page.")
    options = ["amount", *mapping.extra_numeric, *mapping.extra_categorical]
    if meta.mapped_rows == meta.rows:
        used = set(mapping.used_columns())
        options += [c for c in meta.columns if c not in used and c not in options]
    return options, detect_revenue_column(options)


def cached_scores(workspace: Workspace, dataset_id: str, models_dir: ModelRegistry | Path, cache_folder: Path, model_ref: str,
                  progress: Callable[[str], None] | None = None) -> tuple[str, np.ndarray]:
    """``(version id, scores of every mapped row)``, from the disk cache or by scoring now.

    ``models_dir`` is a registry scoped to a viewer (checked before the cache is read) or a models folder.
    """
    say = progress or (lambda text: None)
    dataset_version = data_version(workspace, dataset_id)
    registry = as_registry(models_dir)
    version = registry.resolve(model_ref)
    path = Path(cache_folder) / SCORES_FOLDER / f"{version}-{dataset_version.fingerprint}.npy"
    if path.is_file():
        try:
            scores = np.load(path, allow_pickle=False)
            os.utime(path)  # recently used: kept longest by the pruning
            return version, scores
        except (OSError, ValueError) as error:
            log.warning("cached scores %s unreadable (%s): scoring again", path.name, error)
    say("Loading the model")
    version, model, meta = load_model(registry, version)
    data_meta = workspace.get(dataset_id)
    say(f"Scoring {data_meta.mapped_rows or 0:,} transactions")
    scores = _score(workspace, dataset_id, data_meta, model, meta)
    _save(path, scores)
    return version, scores


def money_data(workspace: Workspace, dataset_id: str, scores: np.ndarray, revenue_column: str) -> MoneyData:
    """The ledger's frame: labelled mapped rows with their scores and the parsed revenue column."""
    meta = require_labels(workspace, dataset_id)
    mapping = meta.column_mapping
    options, _ = revenue_options(workspace, dataset_id)
    if revenue_column not in options:
        raise TxlabError(f"Column '{revenue_column}' cannot be used as revenue: choose one of {', '.join(options)}.")
    mapped_columns = ["amount", "label", *[c for c in ("timestamp", *SEGMENTS) if mapping.fields.get(c)]]
    # The stored cells are read when rows align, so unreadable values are found, not already blank.
    raw = meta.mapped_rows == meta.rows
    if not raw and revenue_column != "amount":
        mapped_columns.append(revenue_column)
    frame = workspace.load_mapped(dataset_id, columns=mapped_columns)
    if len(frame) != len(scores):
        raise TxlabError(f"The scores have {len(scores):,} rows but the dataset has {len(frame):,}: score it again.")
    if raw:
        stored = mapping.fields["amount"] if revenue_column == "amount" else revenue_column
        source = workspace.load_frame(dataset_id, columns=[stored])[stored]
    else:
        source = frame[revenue_column]
    revenue, report = parse_revenue(source.reset_index(drop=True), revenue_column)
    out = pd.DataFrame({"score": np.asarray(scores, dtype=np.float64), "label": frame["label"].to_numpy().astype(np.int8),
                        "amount": pd.to_numeric(frame["amount"], errors="coerce").to_numpy(np.float64), "revenue": revenue})
    if "timestamp" in frame:
        out["timestamp"] = frame["timestamp"].to_numpy()
    for column in SEGMENTS:  # categories: a breakdown per slider move reuses their codes
        if column in frame:
            out[column] = frame[column].reset_index(drop=True).astype("category")
    return MoneyData(out, report, int(np.isnan(out["amount"].to_numpy()).sum()))


def require_labels(workspace: Workspace, dataset_id: str):
    """The dataset's sidecar; ``NoLabelsError`` when no label column is mapped (checked before scoring)."""
    meta = workspace.get(dataset_id)
    mapping = meta.column_mapping
    if mapping is None:
        raise TxlabError(f"Dataset “{meta.name}” has no saved mapping yet: map it on the Mapping page.")
    if not mapping.fields.get("label"):
        raise NoLabelsError(f"Dataset “{meta.name}” has no label column mapped: profit and loss needs to know which transactions were fraud.")
    return meta


def _score(workspace: Workspace, dataset_id: str, data_meta, model, meta: dict) -> np.ndarray:
    """Score the stored table with the model's own mapping when rows align, else the mapped table."""
    if data_meta.mapped_rows == data_meta.rows:
        try:
            return score_frame(model, meta, workspace.load_frame(dataset_id))
        except MappingError as error:
            log.info("scoring %s through its own mapping (%s)", dataset_id, error)
    return model.score(workspace.load_mapped(dataset_id))


def _save(path: Path, scores: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(path, suffix=".tmp.npy") as tmp:  # np.save would add .npy to any other name
            np.save(tmp, np.asarray(scores, dtype=np.float64), allow_pickle=False)
    except OSError as error:
        log.warning("could not cache scores %s: %s", path.name, error)
    prune_scores(path.parent)


def prune_scores(folder: Path, keep_bytes: int = SCORES_CACHE_BYTES) -> list[str]:
    """Delete the least recently used cached score files beyond ``keep_bytes``; their names."""
    files = []
    for path in Path(folder).glob("*.npy"):
        if path.name.startswith("."):
            continue  # another process's file being written
        try:
            stat = path.stat()
        except OSError:
            continue  # removed by another worker meanwhile
        files.append((stat.st_mtime, stat.st_size, path))
    files.sort(reverse=True)
    removed, total = [], 0
    for _, size, path in files:
        total += size
        if total > keep_bytes:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        log.info("pruned %d cached score files from %s", len(removed), folder)
    return removed
