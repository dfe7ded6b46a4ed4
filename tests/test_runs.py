import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import core.runs
from core.errors import NotFoundError, TxlabError
from core.runs import RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "models")


def _start(store, owner="ana", **kwargs):
    kwargs.setdefault("config", {"epochs": 3, "lr": 0.01})
    return store.start(owner=owner, dataset_id="ds-0123456789ab", dataset_name="cards.csv", epochs_total=3, **kwargs)


def _edit_record(store, run_id, **changes):
    path = store.runs_dir / run_id / "run.json"
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def test_a_run_records_stages_epochs_baselines_and_its_result(store):
    run = _start(store)
    assert (run.status, run.stage, run.history, run.pid, run.active) == ("running", "starting", [], os.getpid(), True)
    store.set_stage(run.id, "building features")
    store.add_baseline(run.id, "logreg", {"auc": np.float64(0.8)})
    for epoch in (1, 2):
        store.append_epoch(run.id, {"epoch": epoch, "loss": np.float32(1 / epoch)})
    live = store.get(run.id)
    assert (live.status, live.stage, live.epochs_total) == ("running", "building features", 3)
    assert [e["epoch"] for e in live.history] == [1, 2] and live.history[1]["loss"] == 0.5
    assert live.baselines == {"logreg": {"auc": 0.8}}
    assert live.updated >= run.updated

    done = store.finish(run.id, "finished", version="v-20261124-153012-3fa9c2")
    again = store.get(run.id)
    assert done == again
    assert (again.status, again.version, again.active) == ("finished", "v-20261124-153012-3fa9c2", False)
    assert again.config == {"epochs": 3, "lr": 0.01} and len(again.history) == 2
    assert "history" not in json.loads((store.runs_dir / run.id / "run.json").read_text())


def test_two_runs_keep_their_own_history(store):
    first, second = _start(store), _start(store)
    store.append_epoch(first.id, {"epoch": 1, "loss": 0.9})
    store.append_epoch(second.id, {"epoch": 1, "loss": 0.3})
    store.append_epoch(second.id, {"epoch": 2, "loss": 0.2})
    assert [e["loss"] for e in store.get(first.id).history] == [0.9]
    assert [e["loss"] for e in store.get(second.id).history] == [0.3, 0.2]


def test_running_lists_only_live_runs_and_listing_is_newest_first(store):
    runs = [_start(store, owner=owner) for owner in ("ana", "bo", "ana")]
    store.finish(runs[0].id, "cancelled", message="stopped from the Train page")
    assert [r.id for r in store.list_runs()] == [r.id for r in reversed(runs)]
    assert [r.id for r in store.list_runs(limit=2)] == [runs[2].id, runs[1].id]
    assert [r.id for r in store.list_runs(owner="ana")] == [runs[2].id, runs[0].id]
    assert [r.id for r in store.running()] == [runs[2].id, runs[1].id]
    assert [r.id for r in store.running(owner="ana")] == [runs[2].id]
    assert store.get(runs[0].id).message == "stopped from the Train page"


def test_a_run_whose_process_died_shows_as_failed(store):
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    run = _start(store)
    _edit_record(store, run.id, pid=int(dead_pid))
    [shown] = store.list_runs()
    assert shown.status == "failed"
    assert shown.message == (
        "The training process stopped unexpectedly (no sign of life since "
        f"{datetime.fromisoformat(run.updated):%H:%M:%S} UTC)."
    )
    assert store.running() == []
    assert json.loads((store.runs_dir / run.id / "run.json").read_text())["status"] == "failed"  # rewritten


def test_a_run_on_another_machine_is_judged_by_its_heartbeat_not_by_a_local_pid(store, monkeypatch):
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    run = _start(store)
    _edit_record(store, run.id, pid=int(dead_pid), host="gpu-box-2")  # a Celery worker's run elsewhere
    assert store.get(run.id).status == "running"  # that pid means nothing on this machine
    later = datetime.now(timezone.utc) + timedelta(seconds=store.stale_after_s + 1)
    monkeypatch.setattr(core.runs, "_utcnow", lambda: later)
    assert store.get(run.id).status == "failed"  # silent for too long: failed, wherever it ran


def test_a_silent_run_becomes_failed_and_comes_back_if_it_was_only_slow(store, monkeypatch):
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    monkeypatch.setattr(core.runs, "_utcnow", lambda: long_ago)
    run = _start(store)
    monkeypatch.undo()
    fresh = _start(store)

    silent = store.get(run.id)
    assert silent.status == "failed"
    assert f"no sign of life since {long_ago:%H:%M:%S} UTC" in silent.message
    assert [r.id for r in store.running()] == [fresh.id]

    store.heartbeat(run.id)  # this very process was only slow: it is alive after all
    assert (store.get(run.id).status, store.get(run.id).message) == ("running", None)


def test_stale_after_zero_fails_any_run_not_updated_this_instant(tmp_path):
    store = RunStore(tmp_path / "models", stale_after_s=0)
    run = _start(store)
    assert store.get(run.id).status == "failed"


def test_cancel_is_a_flag_only_its_run_sees(store):
    first, second = _start(store), _start(store)
    assert not store.cancel_requested(first.id)
    store.request_cancel(first.id)
    assert store.cancel_requested(first.id)
    assert not store.cancel_requested(second.id)
    assert store.get(first.id).status == "running"  # the trainer decides when to stop


UNKNOWN = "run-20261124-153012-3fa9c2"


@pytest.mark.parametrize("bad_id", ["../x", "run-..", "random", "", None, UNKNOWN, f"{UNKNOWN}/.."])
def test_unknown_or_malformed_ids_are_not_found(store, bad_id):
    _start(store)
    for call in (store.get, store.heartbeat, store.request_cancel):
        with pytest.raises(NotFoundError, match="No training run"):
            call(bad_id)
    if bad_id == UNKNOWN:
        assert store.cancel_requested(bad_id) is False  # well-formed: only the one cheap exists() check
    else:
        with pytest.raises(NotFoundError, match="No training run"):
            store.cancel_requested(bad_id)
    with pytest.raises(NotFoundError):
        store.append_epoch(bad_id, {"epoch": 1})


def test_a_half_deleted_run_is_skipped(store):
    kept, half_gone = _start(store), _start(store)
    (store.runs_dir / half_gone.id / "history.json").unlink()
    (store.runs_dir / "run-20261124-153012-3fa9c2").mkdir()  # created, record not written yet
    assert [r.id for r in store.list_runs()] == [kept.id]
    with pytest.raises(NotFoundError):
        store.get(half_gone.id)


def test_bad_values_are_refused_with_a_readable_message(store):
    run = _start(store)
    with pytest.raises(TxlabError, match=r"epoch\['weights'\]"):
        store.append_epoch(run.id, {"epoch": 1, "weights": np.zeros(3)})
    with pytest.raises(TxlabError, match="'done'"):
        store.finish(run.id, "done")
    assert store.get(run.id).history == []
