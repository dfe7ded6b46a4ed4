import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from core.access import Principal
from core.errors import NotFoundError, TxlabError
from core.registry import ModelIntegrityError, ModelRegistry


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models")


def _weights(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {"embed.weight": torch.randn(5, 3, generator=generator), "head.bias": torch.zeros(1)}


def _save(registry, seed=0, **kwargs):
    meta = {"architecture": {"hidden": [8]}, "metrics": {"auc": 0.9}, "dataset_id": "ds-0123456789ab"}
    kwargs.setdefault("meta", meta)
    kwargs.setdefault("history", [{"epoch": 1, "loss": 0.5}])
    return registry.save_version(weights=_weights(seed), **kwargs)


def _rewrite_meta(registry, version_id, change):
    path = registry.models_dir / version_id / "model.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_a_saved_version_loads_back_whole(registry):
    tables = {"merchant_stats": pd.DataFrame({"merchant_id": ["m1", "m2"], "rate": [0.1, 0.25]})}
    meta = {
        "architecture": {"hidden": [8, 4]}, "features": ["amount", "country"], "metrics": {"auc": np.float64(0.91)},
        "baselines": {"logreg": {"auc": 0.8}}, "hyperparameters": {"lr": 0.01, "epochs": np.int64(3)},
        "dataset_id": "ds-0123456789ab", "dataset_name": "cards.csv", "created": "ignored",
    }
    history = [{"epoch": 1, "loss": 0.7}, {"epoch": 2, "loss": 0.4}]
    version_id = registry.save_version(weights=_weights(), meta=meta, history=history, tables=tables, owner="ana")

    loaded = registry.load(version_id)
    assert loaded.id == version_id
    assert set(loaded.weights) == {"embed.weight", "head.bias"}
    for name, tensor in _weights().items():
        assert torch.equal(loaded.weights[name], tensor)
    assert loaded.history == history
    pd.testing.assert_frame_equal(loaded.tables["merchant_stats"], tables["merchant_stats"])
    assert loaded.meta["features"] == ["amount", "country"]
    assert loaded.meta["hyperparameters"] == {"lr": 0.01, "epochs": 3}
    assert loaded.meta["format_version"] == 1 and loaded.meta["owner"] == "ana"
    assert loaded.meta["created"] != "ignored"
    assert set(loaded.meta["library_versions"]) == {"python", "torch", "numpy", "pandas", "sklearn"}
    assert set(loaded.meta["files"]) == {"model.pt", "history.json", "tables/merchant_stats.parquet"}

    [info] = registry.list_versions()
    assert (info.id, info.owner, info.dataset_id, info.dataset_name, info.status) == (
        version_id, "ana", "ds-0123456789ab", "cards.csv", "ready")
    assert info.metrics == {"auc": 0.91} and info.baselines == {"logreg": {"auc": 0.8}}
    assert not info.active  # ana's version is never the unscoped (CLI, "local") registry's active one ...
    assert ModelRegistry(registry.models_dir, viewer=Principal("ana")).get_info(version_id).active  # ... but her first is hers
    assert registry.get_info(version_id) == info


def test_versions_list_newest_first_and_by_owner(registry):
    first, second, third = (_save(registry, owner=owner) for owner in ("ana", "bo", "ana"))
    assert [v.id for v in registry.list_versions()] == [third, second, first]
    assert [v.id for v in registry.list_versions(owner="ana")] == [third, first]


def test_unreadable_versions_are_skipped_in_the_list_and_refused_on_load(registry):
    good, broken = _save(registry), _save(registry)
    (registry.models_dir / broken / "model.json").write_text("{not json")
    (registry.models_dir / ".staging-v-20260101-000000-abcdef").mkdir()
    assert [v.id for v in registry.list_versions()] == [good]
    with pytest.raises(ModelIntegrityError, match="model.json"):
        registry.load(broken)


@pytest.mark.parametrize("target", ["torch.save", "to_parquet"])
def test_a_crash_mid_save_leaves_no_version_behind(registry, monkeypatch, target):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    if target == "torch.save":
        monkeypatch.setattr(torch, "save", boom)
    else:
        monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(registry, tables={"stats": pd.DataFrame({"a": [1]})})
    assert registry.list_versions() == []
    assert list(registry.models_dir.iterdir()) == []
    assert registry.active_id() is None


def test_metadata_that_json_cannot_hold_is_refused_naming_the_key(registry):
    with pytest.raises(TxlabError, match=r"meta\['scalers'\]\['amount'\]"):
        _save(registry, meta={"scalers": {"amount": np.array([1.0, 2.0])}})
    with pytest.raises(TxlabError, match="'Bad-Name'"):
        _save(registry, tables={"Bad-Name": pd.DataFrame({"a": [1]})})
    assert registry.list_versions() == []


class _Payload:
    """Unpickling this creates a marker file: stands in for code hidden in a model file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_disguised_as_weights_is_never_run(registry, tmp_path):
    version_id = _save(registry)
    weights_path = registry.models_dir / version_id / "model.pt"
    # Control: the payload really runs code when a loader allows pickled objects.
    control = tmp_path / "control.pt"
    torch.save({"w": _Payload(tmp_path / "control-ran")}, control)
    torch.load(control, weights_only=False)
    assert (tmp_path / "control-ran").exists()

    marker = tmp_path / "payload-ran"
    torch.save({"w": _Payload(marker)}, weights_path)
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    _rewrite_meta(registry, version_id, lambda meta: meta["files"].update({"model.pt": digest}))  # a careful tamperer

    with pytest.raises(ModelIntegrityError, match="model.pt is not a plain file of tensors"):
        registry.load(version_id)
    assert not marker.exists()


def test_weights_that_are_not_a_state_dict_are_refused(registry):
    version_id = _save(registry)
    weights_path = registry.models_dir / version_id / "model.pt"
    torch.save([torch.zeros(2)], weights_path)
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    _rewrite_meta(registry, version_id, lambda meta: meta["files"].update({"model.pt": digest}))
    with pytest.raises(ModelIntegrityError, match="does not hold a state_dict"):
        registry.load(version_id)


def test_changed_missing_or_added_files_fail_the_integrity_check(registry):
    tables = {"stats": pd.DataFrame({"a": [1, 2]})}
    changed, missing, added = (_save(registry, tables=tables) for _ in range(3))

    weights_path = registry.models_dir / changed / "model.pt"
    data = bytearray(weights_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights_path.write_bytes(bytes(data))
    expected = f"Model version {changed} failed its integrity check: model.pt was changed after it was saved"
    with pytest.raises(ModelIntegrityError, match=expected):
        registry.load(changed)

    (registry.models_dir / missing / "tables" / "stats.parquet").unlink()
    with pytest.raises(ModelIntegrityError, match="tables/stats.parquet is missing"):
        registry.load(missing)

    (registry.models_dir / added / "tables" / "extra.parquet").write_bytes(b"PAR1")
    with pytest.raises(ModelIntegrityError, match="tables/extra.parquet was added"):
        registry.load(added)


def test_a_version_from_an_unknown_format_is_refused(registry):
    version_id = _save(registry)
    _rewrite_meta(registry, version_id, lambda meta: meta.update({"format_version": 2}))
    with pytest.raises(TxlabError, match="format_version 2"):
        registry.load(version_id)


UNKNOWN = "v-20261124-153012-3fa9c2"


@pytest.mark.parametrize("bad_id", ["../x", "v-..", "random", "", None, "runs", UNKNOWN, f"{UNKNOWN}/.."])
def test_unknown_or_malformed_ids_are_not_found(registry, bad_id):
    _save(registry)
    for call in (registry.get_info, registry.load, registry.resolve, registry.set_active, registry.delete):
        with pytest.raises(NotFoundError, match="No model version"):
            call(bad_id)


def test_active_version_follows_set_active_and_delete(registry):
    with pytest.raises(NotFoundError, match="No active model: train one or mark a version active"):
        registry.resolve("active")
    first = _save(registry)
    second = _save(registry)
    assert registry.resolve("active") == first  # saving more does not move it
    registry.set_active(second)
    assert registry.resolve("active") == second
    assert registry.resolve(first) == first
    assert {v.id: v.active for v in registry.list_versions()} == {first: False, second: True}

    registry.delete(second)
    assert not (registry.models_dir / second).exists()
    assert registry.active_id() is None
    assert [v.id for v in registry.list_versions()] == [first]
    with pytest.raises(NotFoundError):
        registry.resolve("active")
    registry.delete(first)
    assert registry.list_versions() == []
    third = _save(registry)
    assert registry.active_id() == third
