"""Scoring a file with a stored model version: read, map as the model was trained, score, write.

The file's label column, if any, is never used: the model's mapping is applied with its
label left out, so scores are what the model would have said before the label was known.
The work is ``core.predict.score_table``; the output is written by ``core.export.write_table``
(CSV cells that a spreadsheet would run as formulas are escaped).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.export import write_table
from core.fraud_model import FraudModel
from core.ingest import IngestLimits, read_table
from core.predict import score_table
from core.registry import ModelRegistry, as_registry

SCORE_COLUMN = "fraud_score"


@dataclass
class ScoreSummary:
    rows: int
    version: str
    out: Path
    mean_score: float
    flagged: int  # rows scored at 0.5 or more


def load_model(models: ModelRegistry | str | os.PathLike, model_ref: str) -> tuple[str, FraudModel, dict]:
    """``(version id, model, its metadata)`` for a version id or ``"active"``.

    ``models`` is a registry (scoped to a viewer: another user's version is not found) or a models
    folder, read unscoped as the CLI does.
    """
    registry = as_registry(models)
    version = registry.resolve(model_ref)
    loaded = registry.load(version)
    return version, FraudModel.from_artifacts(loaded.weights, loaded.meta, loaded.tables), loaded.meta


def score_frame(model: FraudModel, meta: dict, frame: pd.DataFrame) -> np.ndarray:
    """Scores for a frame with the columns the model was trained from (its label is ignored)."""
    return score_table(model, meta, frame)


def score_file(source: Path, *, models_dir: ModelRegistry | Path, model_ref: str, out: Path,
               limits: IngestLimits | None = None,
               on_progress: Callable[[float], None] | None = None) -> ScoreSummary:
    """Score every row of ``source`` and write it with a ``fraud_score`` column (CSV or Parquet by ``out``'s suffix).

    ``models_dir`` is a models folder (unscoped, the CLI) or a registry scoped to a viewer.
    """
    version, model, meta = load_model(models_dir, model_ref)
    frame, _ = read_table(source, name=Path(source).name, limits=limits)
    scores = score_table(model, meta, frame, on_progress=on_progress)
    scored = frame.copy()
    scored[SCORE_COLUMN] = scores
    write_table(scored, Path(out))
    return ScoreSummary(rows=len(scored), version=version, out=Path(out), mean_score=float(scores.mean()) if len(scores) else 0.0,
                        flagged=int((scores >= 0.5).sum()))
