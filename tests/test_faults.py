"""What survives a crash: a training process killed mid-run, and a disk that fills while saving.

A version folder appears whole or not at all, earlier versions are never touched, and a run
whose process died is reported as failed (never "running" for ever).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core.datasets import generate_dataset, map_dataset
from core.mapping import suggest_mapping
from core.registry import ModelRegistry
from core.runs import RunStore
from core.scoring import load_model, score_frame
from core.synth import SynthConfig
from core.train import TrainConfig
from core.training_job import run_training
from core.workspace import Workspace

QUICK = TrainConfig(epochs=2, batch_size=1024, validation_days=7, label_delay_days=2, baselines=False, patience=2)
TXLAB = str(Path(sys.executable).with_name("txlab"))


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    workspace = Workspace(tmp_path_factory.mktemp("data"))
    meta = generate_dataset(workspace, SynthConfig(rows=12_000, days=30, fraud_rate=0.03, seed=5))
    report, _ = map_dataset(workspace, meta.id, suggest_mapping(workspace.load_frame(meta.id)).to_mapping())
    assert report.ok
    return workspace, meta.id


def test_a_full_disk_while_saving_keeps_every_earlier_version_whole(mapped, tmp_path, monkeypatch):
    workspace, dataset_id = mapped
    first = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK)
    assert first.status == "finished"
    rows = workspace.load_mapped(dataset_id).head(500)
    _, model, meta = load_model(tmp_path, first.version)
    before = score_frame(model, meta, rows)
    folders_before = sorted(p.name for p in tmp_path.iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    second = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK)
    monkeypatch.undo()

    assert second.status == "failed" and "No space left on device" in second.message
    registry = ModelRegistry(tmp_path)
    assert [v.id for v in registry.list_versions()] == [first.version] and registry.active_id() == first.version
    assert sorted(p.name for p in tmp_path.iterdir()) == folders_before  # no half-written or temporary folder
    _, model, meta = load_model(tmp_path, "active")  # the integrity check passes: nothing of it changed
    np.testing.assert_array_equal(score_frame(model, meta, rows), before)


def test_a_training_process_killed_mid_run_leaves_a_failed_run_and_no_version(mapped, tmp_path):
    workspace, dataset_id = mapped
    command = [TXLAB, "train", dataset_id, "--epochs", "500", "--patience", "500", "--no-baselines",
               "--validation-days", "7", "--label-delay", "2", "--data-dir", str(workspace.data_dir), "--models-dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    runs = RunStore(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not any(r.history for r in runs.list_runs()):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never reached its first epoch"
            time.sleep(0.2)
        (record,) = runs.list_runs()
        assert record.status == "running"
    finally:
        process.kill()  # what a crash or a server restart does to the job's process
        process.wait()

    seen = RunStore(tmp_path).get(record.id)  # a fresh reader, as after a restart
    assert seen.status == "failed" and not seen.active and seen.version is None
    assert seen.history  # the epochs it did finish are kept for the record
    assert RunStore(tmp_path).running() == []
    assert ModelRegistry(tmp_path).list_versions() == []
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]  # no partial version folder
