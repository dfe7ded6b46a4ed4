"""core.training_job and core.scoring: a mapped dataset becomes a version that scores the same after loading."""
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from core.datasets import generate_dataset, map_dataset
from core.errors import MappingError
from core.mapping import suggest_mapping
from core.registry import ModelIntegrityError, ModelRegistry
from core.runs import RunStore
from core.scoring import load_model, score_file, score_frame
from core.synth import SynthConfig
from core.train import TrainConfig
from core.training_job import run_training
from core.workspace import Workspace

QUICK = TrainConfig(epochs=3, batch_size=1024, validation_days=7, label_delay_days=2, baselines=False, patience=3)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    workspace = Workspace(tmp_path_factory.mktemp("data"))
    meta = generate_dataset(workspace, SynthConfig(rows=12_000, days=30, fraud_rate=0.03, seed=3))
    frame = workspace.load_frame(meta.id)
    report, _ = map_dataset(workspace, meta.id, suggest_mapping(frame).to_mapping())
    assert report.ok
    return workspace, meta.id


def test_a_run_becomes_a_version_that_scores_identically_after_loading(mapped, tmp_path):
    workspace, dataset_id = mapped
    events = []
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK,
                          on_event=events.append)
    assert record.status == "finished", record.message
    assert events[0]["type"] == "started" and events[0]["run_id"] == record.id
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [h["epoch"] for h in record.history]

    info = ModelRegistry(tmp_path).get_info(record.version)
    assert info.dataset_id == dataset_id and info.active
    assert info.metrics["average_precision"] > 0
    version, model, meta = load_model(tmp_path, "active")
    assert version == record.version and meta["hyperparameters"]["epochs"] == 3

    frame = workspace.load_frame(dataset_id)
    first = score_frame(model, meta, frame)
    _, again, _ = load_model(tmp_path, record.version)
    np.testing.assert_array_equal(first, score_frame(again, meta, frame))
    assert ((first >= 0) & (first <= 1)).all() and first.std() > 0


def test_scoring_a_file_never_reads_its_label_and_keeps_every_row(mapped, tmp_path):
    workspace, dataset_id = mapped
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK)
    frame = workspace.load_frame(dataset_id).head(3000)
    source = tmp_path / "new.csv"
    frame.to_csv(source, index=False)
    summary = score_file(source, models_dir=tmp_path, model_ref="active", out=tmp_path / "scored.csv")
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert summary.rows == len(frame) == len(scored) and summary.version == record.version
    assert scored["fraud_score"].between(0, 1).all()

    flipped = frame.copy()
    flipped["is_fraud"] = 1 - flipped["is_fraud"]
    flipped.to_csv(source, index=False)
    score_file(source, models_dir=tmp_path, model_ref="active", out=tmp_path / "flipped.csv")
    np.testing.assert_allclose(pd.read_csv(tmp_path / "flipped.csv")["fraud_score"], scored["fraud_score"])
    without = frame.drop(columns=["is_fraud"])
    without.to_csv(source, index=False)
    score_file(source, models_dir=tmp_path, model_ref="active", out=tmp_path / "nolabel.parquet")
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "nolabel.parquet")["fraud_score"], scored["fraud_score"])


def test_a_cancelled_run_saves_nothing(mapped, tmp_path):
    workspace, dataset_id = mapped
    runs = RunStore(tmp_path)

    def cancel_after_first_epoch(event):
        if event["type"] == "epoch":
            runs.request_cancel(current["id"])
        if event["type"] == "started":
            current["id"] = event["run_id"]

    current = {}
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id,
                          config=TrainConfig(**{**QUICK.to_dict(), "epochs": 10}), on_event=cancel_after_first_epoch)
    assert record.status == "cancelled" and record.version is None
    assert len(record.history) == 1
    assert ModelRegistry(tmp_path).list_versions() == []


def test_a_crash_while_saving_fails_the_run_and_leaves_no_version(mapped, tmp_path, monkeypatch):
    workspace, dataset_id = mapped
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK)
    assert record.status == "failed" and "No space left" in record.message
    assert ModelRegistry(tmp_path).list_versions() == []
    assert [p.name for p in tmp_path.iterdir() if p.name != "runs"] == []


def test_a_bad_setting_fails_the_run_readably(mapped, tmp_path):
    workspace, dataset_id = mapped
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id,
                          config=TrainConfig(**{**QUICK.to_dict(), "validation_days": 29}))
    assert record.status == "failed" and "validation window" in record.message
    assert RunStore(tmp_path).running() == []


def test_a_dataset_without_a_mapping_is_refused_before_any_run(tmp_path):
    workspace = Workspace(tmp_path / "data")
    meta = generate_dataset(workspace, SynthConfig(rows=2000, seed=1))
    with pytest.raises(MappingError, match="no saved mapping"):
        run_training(workspace=workspace, models_dir=tmp_path / "models", dataset_id=meta.id, config=QUICK)
    assert not (tmp_path / "models" / "runs").exists() or not any((tmp_path / "models" / "runs").iterdir())


def test_a_tampered_version_is_refused_when_scoring(mapped, tmp_path):
    workspace, dataset_id = mapped
    record = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id, config=QUICK)
    weights = tmp_path / record.version / "model.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path, record.version)


def test_two_runs_at_once_keep_separate_histories(mapped, tmp_path):
    workspace, dataset_id = mapped
    records = {}

    def train(seed):
        records[seed] = run_training(workspace=workspace, models_dir=tmp_path, dataset_id=dataset_id,
                                     config=TrainConfig(**{**QUICK.to_dict(), "seed": seed}))

    threads = [threading.Thread(target=train, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = records[1], records[2]
    assert a.status == b.status == "finished" and a.id != b.id and a.version != b.version
    assert a.history != b.history
    assert len(ModelRegistry(tmp_path).list_versions()) == 2
