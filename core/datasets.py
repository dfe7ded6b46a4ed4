"""The dataset use-cases shared by the CLI and the pages: import, generate, map.

Each function reads or writes through a ``Workspace`` and returns small results; none keeps state.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from core.ingest import IngestLimits, IngestReport, read_arrow
from core.mapping import CoercionReport, apply_mapping
from core.memory import release_free_memory
from core.schema import ColumnMapping
from core.settings import Settings
from core.synth import SynthConfig, generate
from core.workspace import DatasetMeta, Workspace


@dataclass
class ImportResult:
    meta: DatasetMeta
    report: IngestReport


def limits_from(settings: Settings) -> IngestLimits:
    """Ingestion limits taken from the app's settings."""
    return IngestLimits(max_columns=settings.max_columns, max_decompressed_bytes=settings.max_decompressed_bytes)


def import_table(
    workspace: Workspace,
    source: bytes | str | os.PathLike,
    *,
    name: str,
    origin: str,
    limits: IngestLimits | None = None,
    owner: str | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ImportResult:
    """Read a file (path or uploaded bytes) and store it as a new dataset.

    ``name`` is the user's file name, kept only as a label. The dataset belongs to ``owner``,
    by default the workspace's viewer. ``on_stage`` hears "reading" and then "storing", for a
    page that shows how far a long import got. Raises ``IngestError`` on bad input, in which
    case nothing is stored.
    """
    if on_stage:
        on_stage("reading")
    table, report = read_arrow(source, name=name, limits=limits)  # stored as read: no trip through pandas
    release_free_memory()  # the parser's scratch buffers, before the store adds its own
    if on_stage:
        on_stage("storing")
    meta = workspace.add_dataset(table, name=name, source=origin, report=report.to_dict(), owner=owner)
    return ImportResult(meta, report)


def generate_dataset(workspace: Workspace, config: SynthConfig, *, name: str | None = None, owner: str | None = None) -> DatasetMeta:
    """Simulate transactions and store them as a new dataset (with the generator's settings), owned by
    ``owner`` or the workspace's viewer."""
    frame = generate(config)
    label = name or f"synthetic-{config.rows}-seed{config.seed}"
    settings = {k: getattr(config, k) for k in config.__dataclass_fields__}
    return workspace.add_dataset(frame, name=label, source="generated", owner=owner, extra={"generator": settings})


def map_dataset(workspace: Workspace, dataset_id: str, mapping: ColumnMapping, *, save: bool = True) -> tuple[CoercionReport, DatasetMeta | None]:
    """Apply a mapping to a stored dataset; save it with the mapped table when it has no errors."""
    meta = workspace.get(dataset_id)
    mapping.check_against(meta.columns)
    frame = workspace.load_frame(dataset_id, columns=mapping.used_columns())
    mapped, report = apply_mapping(frame, mapping)
    if save and report.ok:
        return report, workspace.save_mapping(dataset_id, mapping, mapped, report.to_dict())
    return report, None


def preview_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe rows for a table preview: dates as ISO text (no time when all are midnight), missing as None."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            date_only = bool((values.dropna() == values.dropna().dt.normalize()).all())
            out[column] = values.dt.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M:%S")
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")
