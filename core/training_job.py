"""One training run from a stored dataset to a model version, as the page and the CLI run it.

The run is recorded in ``RunStore`` from start to end (stage, every epoch, baselines, a
heartbeat every few seconds), so any browser can follow it and a run whose process died is
never shown as running for ever. Training failures end the run as "failed" with a readable
message instead of raising; a cancelled run saves nothing.

The dataset is read through the caller's ``Workspace``: one opened for a viewer only trains on
datasets that user may see, and the run and version belong to that user unless told otherwise.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.access import owner_name
from core.errors import MappingError, TxlabError
from core.registry import ModelRegistry
from core.runs import RunRecord, RunStore
from core.schema import ColumnMapping
from core.train import TrainConfig, train_model
from core.workspace import Workspace

log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0


def run_training(*, workspace: Workspace, models_dir: Path, dataset_id: str, config: TrainConfig,
                 owner: str | None = None, on_event: Callable[[dict], None] | None = None) -> RunRecord:
    """Train on a mapped dataset and save the version; returns the finished run's record.

    The run and the version belong to ``owner``, by default the workspace's viewer ("local"
    without one). Raises ``NotFoundError`` for a dataset the viewer may not see and
    ``MappingError`` for one with no saved mapping, in both cases before any run is recorded.
    """
    owner = owner_name(workspace.viewer, owner)
    meta = workspace.get(dataset_id)
    if not meta.mapping or meta.mapped_rows is None:
        raise MappingError(f"Dataset '{meta.name}' has no saved mapping: save one on the Mapping page first.")
    mapping = ColumnMapping.from_dict(meta.mapping)
    runs, registry = RunStore(models_dir), ModelRegistry(models_dir)
    run = runs.start(owner=owner, dataset_id=dataset_id, dataset_name=meta.name, config=config.to_dict(),
                     epochs_total=config.epochs)
    emit = on_event or (lambda event: None)
    emit({"type": "started", "run_id": run.id, "epochs": config.epochs})

    def record(event: dict) -> None:
        if event["type"] == "epoch":
            runs.append_epoch(run.id, {k: v for k, v in event.items() if k != "type"})
        elif event["type"] == "stage":
            runs.set_stage(run.id, event["stage"])
        elif event["type"] == "baseline":
            runs.add_baseline(run.id, event["name"], event["metrics"])
        emit(event)

    beating = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(runs, run.id, beating), daemon=True)
    beat.start()
    try:
        frame = workspace.load_mapped(dataset_id)
        result = train_model(frame, config, extra_numeric=mapping.extra_numeric,
                             extra_categorical=mapping.extra_categorical, on_event=record,
                             should_stop=lambda: runs.cancel_requested(run.id))
        if result.status == "cancelled":
            return runs.finish(run.id, "cancelled", message="Cancelled: no model was saved.")
        weights, description, tables = result.model.artifacts()
        version_meta = {
            **description,
            "hyperparameters": config.to_dict(),
            "metrics": result.metrics,
            "baselines": result.baselines,
            "split": result.split,
            "dataset_id": dataset_id,
            "dataset_name": meta.name,
            "dataset_fingerprint": fingerprint(frame),
            "mapping": meta.mapping,
            "run_id": run.id,
            "started": run.started,
        }
        version = registry.save_version(weights=weights, meta=version_meta, history=result.history,
                                        tables=tables, owner=owner)
        log.info("run %s saved model version %s", run.id, version)
        return runs.finish(run.id, "finished", version=version)
    except TxlabError as exc:
        return runs.finish(run.id, "failed", message=str(exc))
    except MemoryError:
        return runs.finish(run.id, "failed", message="Training ran out of memory: use a smaller batch size, "
                                                     "a smaller embedding size or fewer rows.")
    except Exception as exc:  # the run must end readable whatever went wrong; the log keeps the traceback
        log.exception("run %s failed", run.id)
        return runs.finish(run.id, "failed", message=f"Training failed unexpectedly ({type(exc).__name__}: {exc}).")
    finally:
        beating.set()


def fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash of the training data (row values, column names), to tell datasets apart."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _heartbeat(runs: RunStore, run_id: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_S):
        try:
            runs.heartbeat(run_id)
        except OSError:  # a full or vanished disk must not kill the run from this thread
            log.warning("heartbeat of run %s could not be written", run_id)
