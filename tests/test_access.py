"""Private workspaces in the stores: another user's id is "not found", shared items are usable but not theirs to change."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from core.access import LOCAL, NotAllowedError, Principal, can_change, can_see
from core.errors import NotFoundError
from core.registry import ModelRegistry
from core.runs import RunStore
from core.schema import ColumnMapping
from core.workspace import Workspace

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("root", admin=True)
NO_DATASET, NO_VERSION, NO_RUN = "ds-0123456789ab", "v-20200101-000000-abcdef", "run-20200101-000000-abcdef"


def _message(call, missing_id: str) -> str:
    """The NotFoundError message of ``call``, with the id it names replaced, to compare two ids' answers."""
    with pytest.raises(NotFoundError) as caught:
        call()
    return str(caught.value).replace(missing_id, "<id>")


def _same_as_missing(call_with, hidden_id: str, missing_id: str) -> None:
    assert _message(lambda: call_with(hidden_id), hidden_id) == _message(lambda: call_with(missing_id), missing_id)


def test_the_rules():
    assert can_see(BOB, "alice", shared=True) and not can_see(BOB, "alice") and can_see(ADMIN, "alice") and can_see(None, "alice")
    assert not can_change(BOB, "alice") and can_change(ALICE, "alice") and can_change(ADMIN, "alice") and can_change(LOCAL, "x")


# --- datasets -----------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def _dataset(data_dir, who: Principal, name: str) -> str:
    frame = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "fraud": [0, 1, 0]})
    return Workspace(data_dir, viewer=who).add_dataset(frame, name=name, source="upload").id


def _map(workspace: Workspace, dataset_id: str) -> None:
    frame = workspace.load_frame(dataset_id)
    workspace.save_mapping(dataset_id, ColumnMapping(fields={"amount": "amount", "label": "fraud"}),
                           frame.rename(columns={"fraud": "label"}), {})


def test_new_datasets_belong_to_their_viewer_and_nobody_creates_one_for_someone_else(data_dir):
    dataset_id = _dataset(data_dir, ALICE, "alice.csv")
    assert Workspace(data_dir).get(dataset_id).owner == "alice"
    assert Workspace(data_dir).add_dataset(pd.DataFrame({"a": [1]}), name="cli", source="upload").owner == "local"
    with pytest.raises(NotAllowedError, match="bob cannot create something owned by alice"):
        Workspace(data_dir, viewer=BOB).add_dataset(pd.DataFrame({"a": [1]}), name="x", source="upload", owner="alice")


def test_another_users_dataset_is_not_found_exactly_like_a_missing_one(data_dir):
    hidden = _dataset(data_dir, ALICE, "alice.csv")
    _map(Workspace(data_dir, viewer=ALICE), hidden)
    own = _dataset(data_dir, BOB, "bob.csv")
    bob = Workspace(data_dir, viewer=BOB)
    assert [m.id for m in bob.list_datasets()] == [own]
    for call in (bob.get, bob.load_frame, bob.preview, bob.load_mapped, bob.mapped_path, bob.delete,
                 lambda i: bob.share(i, True), lambda i: bob.check_change(i, "change")):
        _same_as_missing(call, hidden, NO_DATASET)
    assert Workspace(data_dir).get(hidden).name == "alice.csv"  # nothing was deleted or shared


def test_a_shared_dataset_is_usable_by_everyone_but_changed_only_by_its_owner(data_dir):
    dataset_id = _dataset(data_dir, ALICE, "alice.csv")
    alice, bob = Workspace(data_dir, viewer=ALICE), Workspace(data_dir, viewer=BOB)
    _map(alice, dataset_id)
    assert alice.share(dataset_id, True).shared
    assert [m.id for m in bob.list_datasets()] == [dataset_id]
    assert list(bob.load_mapped(dataset_id)["amount"]) == [1.0, 2.0, 3.0]
    with pytest.raises(NotAllowedError, match="Only its owner \\(alice\\) or an admin can delete dataset “alice.csv”"):
        bob.delete(dataset_id)
    with pytest.raises(NotAllowedError, match="can share"):
        bob.share(dataset_id, False)
    with pytest.raises(NotAllowedError, match="change the mapping of"):
        _map(bob, dataset_id)
    assert Workspace(data_dir).get(dataset_id).mapped_by == "alice"
    alice.share(dataset_id, False)
    _same_as_missing(bob.get, dataset_id, NO_DATASET)


def test_an_admin_sees_and_deletes_everyones_datasets(data_dir):
    first, second = _dataset(data_dir, ALICE, "a.csv"), _dataset(data_dir, BOB, "b.csv")
    admin = Workspace(data_dir, viewer=ADMIN)
    assert {m.id for m in admin.list_datasets()} == {first, second}
    admin.delete(first)
    assert [m.id for m in Workspace(data_dir).list_datasets()] == [second]


# --- model versions -----------------------------------------------------------------------------


def _version(registry: ModelRegistry, name: str = "cards") -> str:
    return registry.save_version(weights={"w": torch.zeros(2)}, meta={"dataset_name": name}, history=[{"epoch": 1}])


def test_another_users_version_is_not_found_exactly_like_a_missing_one(tmp_path):
    hidden = _version(ModelRegistry(tmp_path, viewer=ALICE))
    bob = ModelRegistry(tmp_path, viewer=BOB)
    assert bob.list_versions() == [] and bob.active_id() is None
    for call in (bob.get_info, bob.load, bob.resolve, bob.set_active, bob.delete, lambda i: bob.share(i, True)):
        _same_as_missing(call, hidden, NO_VERSION)
    with pytest.raises(NotFoundError, match="No active model"):
        bob.resolve("active")
    assert ModelRegistry(tmp_path).get_info(hidden).owner == "alice"


def test_a_shared_version_is_usable_by_everyone_but_deleted_only_by_its_owner(tmp_path):
    alice, bob = ModelRegistry(tmp_path, viewer=ALICE), ModelRegistry(tmp_path, viewer=BOB)
    version = _version(alice)
    alice.share(version, True)
    [info] = bob.list_versions()
    assert info.id == version and info.shared and info.owner == "alice" and not info.active
    assert bob.load(version).history == [{"epoch": 1}]  # sharing left the version's files (and their hashes) alone
    bob.set_active(version)  # bob's own choice of default
    assert bob.resolve("active") == version
    with pytest.raises(NotAllowedError, match="Only its owner \\(alice\\) or an admin can delete model version"):
        bob.delete(version)
    with pytest.raises(NotAllowedError, match="can share"):
        bob.share(version, False)
    alice.share(version, False)
    assert bob.list_versions() == [] and bob.active_id() is None  # no longer visible: no longer his active one
    alice.delete(version)
    assert ModelRegistry(tmp_path).list_versions() == []


def test_each_user_has_their_own_active_version(tmp_path):
    alice, bob = ModelRegistry(tmp_path, viewer=ALICE), ModelRegistry(tmp_path, viewer=BOB)
    a1, b1 = _version(alice), _version(bob)
    assert alice.active_id() == a1 and bob.active_id() == b1  # each user's first version
    a2 = _version(alice)
    alice.share(a2, True)
    alice.set_active(a2)
    assert alice.active_id() == a2 and bob.active_id() == b1
    bob.set_active(a2)
    alice.delete(a2)
    assert alice.active_id() is None and bob.active_id() is None
    assert [v.active for v in bob.list_versions()] == [False]


def test_the_local_user_keeps_active_json_as_before_accounts(tmp_path):
    local = ModelRegistry(tmp_path, viewer=LOCAL)
    first = _version(local)
    assert json.loads((tmp_path / "active.json").read_text())["id"] == first
    second = _version(ModelRegistry(tmp_path, viewer=ALICE))
    (tmp_path / "active.json").write_text(json.dumps({"id": second}))  # as an older txlab wrote it
    assert ModelRegistry(tmp_path).active_id() == second == local.resolve("active")
    assert ModelRegistry(tmp_path, viewer=ALICE).active_id() == second


def test_a_lan_users_first_version_never_becomes_the_clis_active_model(tmp_path):
    """Training saves through an unscoped registry with the user as owner; ``txlab score --model active`` is "local"'s."""
    cli = ModelRegistry(tmp_path)
    hers = cli.save_version(weights={"w": torch.zeros(2)}, meta={}, history=[], owner="alice")
    mine = _version(ModelRegistry(tmp_path, viewer=BOB))
    assert ModelRegistry(tmp_path, viewer=ALICE).active_id() == hers and ModelRegistry(tmp_path, viewer=BOB).active_id() == mine
    assert cli.active_id() is None and not (tmp_path / "active.json").exists()
    with pytest.raises(NotFoundError, match="No active model"):
        cli.resolve("active")
    own = _version(ModelRegistry(tmp_path, viewer=LOCAL))
    assert cli.resolve("active") == own and ModelRegistry(tmp_path, viewer=ALICE).active_id() == hers


def test_an_admin_sees_everyones_versions_and_may_delete_them(tmp_path):
    a, b = _version(ModelRegistry(tmp_path, viewer=ALICE)), _version(ModelRegistry(tmp_path, viewer=BOB))
    admin = ModelRegistry(tmp_path, viewer=ADMIN)
    assert {v.id for v in admin.list_versions()} == {a, b}
    admin.delete(a)
    assert [v.id for v in ModelRegistry(tmp_path).list_versions()] == [b]


# --- training runs ------------------------------------------------------------------------------


def _run(store: RunStore):
    return store.start(dataset_id=NO_DATASET, dataset_name="cards.csv", config={}, epochs_total=3)


def test_another_users_run_is_not_found_and_cannot_be_followed_or_cancelled(tmp_path):
    hidden = _run(RunStore(tmp_path, viewer=ALICE))
    bob_store = RunStore(tmp_path, viewer=BOB)
    own = _run(bob_store)
    assert own.owner == "bob" and hidden.owner == "alice"
    assert [r.id for r in bob_store.list_runs()] == [own.id] and [r.id for r in bob_store.running()] == [own.id]
    for call in (bob_store.get, bob_store.request_cancel, bob_store.cancel_requested, lambda i: bob_store.append_epoch(i, {"epoch": 1}),
                 lambda i: bob_store.set_stage(i, "x")):
        _same_as_missing(call, hidden.id, NO_RUN)
    record = RunStore(tmp_path).get(hidden.id)
    assert record.history == [] and record.stage == "starting" and not RunStore(tmp_path).cancel_requested(hidden.id)
    assert {r.id for r in RunStore(tmp_path, viewer=ADMIN).running()} == {hidden.id, own.id}


def test_training_refuses_another_users_dataset_before_recording_a_run(tmp_path):
    from core.train_config import TrainConfig
    from core.training_job import run_training

    hidden = _dataset(tmp_path / "data", ALICE, "alice.csv")
    _map(Workspace(tmp_path / "data", viewer=ALICE), hidden)
    with pytest.raises(NotFoundError, match=f"Dataset '{hidden}' not found"):
        run_training(workspace=Workspace(tmp_path / "data", viewer=BOB), models_dir=tmp_path / "models", dataset_id=hidden,
                     config=TrainConfig(epochs=1))
    assert RunStore(tmp_path / "models").list_runs() == []
