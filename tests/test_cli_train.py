"""``txlab train`` and ``txlab score`` as a script would use them."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from core.registry import ModelRegistry
from core.runs import RunStore
from core.synth import SynthConfig, generate, write_dataset
from core.workspace import Workspace
from dashboard.cli import main

FAST = ["--epochs", "2", "--batch-size", "2048"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-train")
    csv = root / "tx.csv"
    write_dataset(generate(SynthConfig(rows=20_000, seed=4, days=30)), csv)
    return {"csv": csv, "data": root / "data", "models": root / "models", "root": root}


def _dirs(folders) -> list[str]:
    return ["--data-dir", str(folders["data"]), "--models-dir", str(folders["models"])]


@pytest.fixture(scope="module")
def trained(folders):
    """One run on the CSV: imported, mapped automatically, trained, saved."""
    result = CliRunner().invoke(main, ["train", str(folders["csv"]), *FAST, "--json", *_dirs(folders)])
    assert result.exit_code == 0, result.stderr
    return result


def test_train_prints_epochs_to_stderr_and_one_json_object_last(trained, folders):
    payload = json.loads(trained.stdout.strip().splitlines()[-1])
    assert set(payload) >= {"version", "metrics", "baseline"}
    assert {"roc_auc", "average_precision", "precision_at_k", "recall_at_1pct_fpr"} <= set(payload["metrics"])
    assert set(payload["baseline"]) == {"hist_gradient_boosting", "logistic_regression"}
    assert [v.id for v in ModelRegistry(folders["models"]).list_versions()] == [payload["version"]]
    epochs = [line for line in trained.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    assert all(part in epochs[0] for part in ("loss ", "val_loss ", "auc ", "ap ", "p@100 ", "r@1%fpr ", "rows/s"))
    assert any(line.startswith("baseline hist_gradient_boosting") for line in trained.stderr.splitlines())
    assert "epoch 1/2" not in trained.stdout  # stdout holds only the result for scripts


def test_train_on_a_stored_dataset_prints_text(folders, trained):
    dataset = Workspace(folders["data"]).list_datasets()[0]
    assert dataset.mapping  # the file's run saved its automatic mapping
    result = CliRunner().invoke(main, ["train", dataset.id, "--epochs", "1", "--no-baselines", "--hidden-layers", "32", *_dirs(folders)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("epoch 1/1  loss ") and lines[-1].startswith("version v-")
    assert not any(line.startswith("baseline") for line in lines)
    version = lines[-1].split()[1]
    assert ModelRegistry(folders["models"]).get_info(version).hyperparameters["hidden_layers"] == [32]


def test_score_writes_every_row_with_a_fraud_score(folders, trained):
    version = json.loads(trained.stdout.strip().splitlines()[-1])["version"]
    out = folders["root"] / "scored.csv"
    result = CliRunner().invoke(main, ["score", str(folders["csv"]), "--model", version, "--out", str(out), *_dirs(folders)])
    assert result.exit_code == 0, result.stderr
    assert "scored 20,000 rows" in result.stdout and version in result.stdout
    scored = pd.read_csv(out)
    assert len(scored) == 20_000 and scored["fraud_score"].between(0, 1).all()
    assert list(scored.columns[:-1]) == list(pd.read_csv(folders["csv"], nrows=1).columns)


@pytest.mark.parametrize(("model", "words"), [("v-20990101-000000-abcdef", "No model version"), ("latest", "No model version")])
def test_score_with_an_unknown_model_exits_2_with_one_line(folders, trained, model, words):
    out = folders["root"] / "never.csv"
    result = CliRunner().invoke(main, ["score", str(folders["csv"]), "--model", model, "--out", str(out), *_dirs(folders)])
    assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--epochs", "0"], "Epochs must be a whole number"), (["--hidden-layers", "64,x"], "Hidden layers"),
     (["--dropout", "2"], "Dropout")],
)
def test_bad_hyperparameters_exit_2_naming_the_setting(folders, args, words):
    result = CliRunner().invoke(main, ["train", str(folders["csv"]), *args, *_dirs(folders)])
    assert result.exit_code == 2 and words in result.stderr and result.stdout == ""


def test_unknown_source_and_bad_mapping_exit_2(folders, tmp_path):
    result = CliRunner().invoke(main, ["train", str(tmp_path / "missing.csv"), *_dirs(folders)])
    assert result.exit_code == 2 and "no such file" in result.stderr
    result = CliRunner().invoke(main, ["train", "ds-000000000000", *_dirs(folders)])
    assert result.exit_code == 2 and "not found" in result.stderr
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"fields": {"amount": "amount", "label": "no_such_column"}}), encoding="utf-8")
    result = CliRunner().invoke(main, ["train", str(folders["csv"]), "--mapping", str(mapping), *_dirs(folders)])
    assert result.exit_code == 2 and "no_such_column" in result.stderr


def test_a_mapping_file_is_applied(folders, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"fields": {"amount": "amount", "label": "is_fraud", "user_id": "user_id", "timestamp": "timestamp"}}), encoding="utf-8")
    before = {r.id for r in RunStore(folders["models"]).list_runs()}
    result = CliRunner().invoke(main, ["train", str(folders["csv"]), "--mapping", str(mapping), "--epochs", "1", "--no-baselines",
                                       "--no-behaviour", "--json", *_dirs(folders)])
    assert result.exit_code == 0, result.stderr
    meta = Workspace(folders["data"]).get(json.loads(result.stdout.splitlines()[-1])["dataset"])
    assert meta.mapping["fields"]["merchant_id"] is None and meta.mapping["fields"]["label"] == "is_fraud"
    assert len({r.id for r in RunStore(folders["models"]).list_runs()} - before) == 1


def test_a_cancelled_run_exits_1_with_its_message(folders, monkeypatch):
    import core.runs

    monkeypatch.setattr(core.runs.RunStore, "cancel_requested", lambda self, run_id: True)
    result = CliRunner().invoke(main, ["train", str(folders["csv"]), "--epochs", "3", "--no-baselines", *_dirs(folders)])
    assert result.exit_code == 1 and "training cancelled" in result.stderr and "no model was saved" in result.stderr
