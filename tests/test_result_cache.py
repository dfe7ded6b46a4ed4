"""The results cache (JSON on disk, bounded, keyed by dataset version) and the frame LRU."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass

import diskcache
import pandas as pd
import pytest

from core import result_cache
from core.errors import TxlabError
from core.mapping import apply_mapping, suggest_mapping
from core.result_cache import DatasetResults, FrameLRU, cached, data_version, open_results, result_key
from core.stats import NumericComparison, compare_groups
from core.synth import SynthConfig, generate
from core.workspace import Workspace


@dataclass
class Point:
    x: float
    label: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Point":
        return cls(**data)


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture
def cache(tmp_path):
    with open_results(tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def mapped_dataset(tmp_path_factory):
    """A workspace holding one small simulated dataset with its suggested mapping saved."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    frame = generate(SynthConfig(rows=3000, seed=5, days=20))
    meta = workspace.add_dataset(frame, name="small", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())
    return workspace, meta.id, mapping, mapped, report


def test_a_miss_computes_and_a_hit_rebuilds_the_result_without_computing(cache):
    compute = Counter(Point(1.5, "a"))
    first = cached(cache, "k", compute, Point)
    second = cached(cache, "k", compute, Point)
    assert compute.calls == 1
    assert first == second == Point(1.5, "a")
    assert isinstance(second, Point) and second is not first  # rebuilt from JSON


def test_lists_none_and_plain_json_round_trip(cache):
    points = Counter([Point(1.0, "a"), Point(2.0, "b")])
    nothing = Counter(None)
    plain = Counter({"amount": "number", "label": "label"})
    for _ in range(2):
        assert cached(cache, "list", points, Point) == [Point(1.0, "a"), Point(2.0, "b")]
        assert cached(cache, "none", nothing, Point) is None  # None is a cached answer, not a miss
        assert cached(cache, "plain", plain) == {"amount": "number", "label": "label"}
    assert (points.calls, nothing.calls, plain.calls) == (1, 1, 1)


def test_results_survive_a_new_cache_object_on_the_same_folder(tmp_path):
    compute = Counter(Point(3.0, "kept"))
    with open_results(tmp_path) as first:
        cached(first, "k", compute, Point)
    with open_results(tmp_path) as second:  # as after a restart, or in another worker process
        assert cached(second, "k", compute, Point) == Point(3.0, "kept")
    assert compute.calls == 1


def test_values_are_stored_as_json_never_pickle(tmp_path):
    with open_results(tmp_path) as c:
        assert isinstance(c.disk, diskcache.JSONDisk)
        cached(c, "k", Counter(Point(1.0, "x")), Point)
        # Something JSON cannot hold is returned but not stored (no pickle fallback).
        odd = Counter({"levels": {1, 2}})
        assert cached(c, "odd", odd) == {"levels": {1, 2}}
        assert cached(c, "odd", odd) == {"levels": {1, 2}} and odd.calls == 2
    with sqlite3.connect(tmp_path / "results" / "cache.db") as db:
        modes = {row[0] for row in db.execute("SELECT mode FROM Cache")}
    assert modes <= {diskcache.core.MODE_BINARY, diskcache.core.MODE_RAW}, modes


def test_the_size_bound_is_configured_and_evicts(tmp_path):
    with open_results(tmp_path / "default") as c:
        assert c.size_limit == result_cache.SIZE_LIMIT_BYTES == 512 * 1024 * 1024
        assert c.eviction_policy == "least-recently-used"
    with open_results(tmp_path / "tiny", size_limit=1_000_000) as c:
        blob = os.urandom(50_000).hex()  # hex of random bytes compresses to about half: ~50 KB each
        for i in range(40):
            cached(c, f"k{i}", Counter({"blob": blob}))
        assert len(c) < 40
        assert c.volume() <= 1_000_000 + 100_000  # the bound, give or take one entry
        assert c.get("k0") is None and c.get("k39") is not None  # the oldest went first


def test_an_entry_that_no_longer_rebuilds_is_computed_again(cache):
    cache.set("k", {"kind": "one", "value": {"x": 1.0, "old_field": "gone"}})
    compute = Counter(Point(2.0, "new"))
    assert cached(cache, "k", compute, Point) == Point(2.0, "new") and compute.calls == 1
    assert cached(cache, "k", compute, Point) == Point(2.0, "new") and compute.calls == 1


def test_a_damaged_entry_is_a_miss(tmp_path):
    compute = Counter(Point(1.0, "x"))
    with open_results(tmp_path) as c:
        cached(c, "k", compute, Point)
    with sqlite3.connect(tmp_path / "results" / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ?", (b"not zlib json",))
    with open_results(tmp_path) as c:
        assert cached(c, "k", compute, Point) == Point(1.0, "x") and compute.calls == 2
        assert cached(c, "k", compute, Point) == Point(1.0, "x") and compute.calls == 2  # stored afresh


def test_failures_are_not_cached(cache):
    calls = []

    def failing():
        calls.append(1)
        raise TxlabError("no such column")

    for _ in range(2):
        with pytest.raises(TxlabError):
            cached(cache, "k", failing, Point)
    assert len(calls) == 2


def test_keys_name_the_dataset_version_function_and_parameters(mapped_dataset):
    workspace, dataset_id, *_ = mapped_dataset
    version = data_version(workspace, dataset_id)
    key = result_key(version, "eda.histogram", {"column": "amount", "log_x": True})
    assert key.startswith(f"v{result_cache.CACHE_VERSION}/{dataset_id}/{version.fingerprint}/eda.histogram/")
    assert key == result_key(version, "eda.histogram", {"log_x": True, "column": "amount"})  # order-free
    assert key != result_key(version, "eda.histogram", {"column": "amount", "log_x": False})
    assert key != result_key(version, "eda.category_bars", {"column": "amount", "log_x": True})


def test_results_are_computed_once_per_dataset_version(tmp_path, mapped_dataset):
    workspace, dataset_id, mapping, mapped, report = mapped_dataset
    frames = FrameLRU(2)
    with open_results(tmp_path) as c:
        results = DatasetResults(workspace, c, dataset_id, frames=frames)
        first = results.call(compare_groups, NumericComparison, column="amount")
        assert isinstance(first, NumericComparison) and first.group_b == "fraudulent"
        assert len(frames.keys()) == 1
        frames.clear()
        again = DatasetResults(workspace, c, dataset_id, frames=frames).call(compare_groups, NumericComparison, column="amount")
        assert again == first
        assert frames.keys() == []  # a hit never loads the frame

        time.sleep(0.01)  # a visibly newer file time on coarse file systems
        workspace.save_mapping(dataset_id, mapping, mapped, report.to_dict())  # saved again, same mapping
        fresh = DatasetResults(workspace, c, dataset_id, frames=frames)
        assert fresh.version.fingerprint != results.version.fingerprint
        fresh.call(compare_groups, NumericComparison, column="amount")
        assert frames.keys() == [(dataset_id, fresh.version.fingerprint)]  # computed again


def test_a_changed_mapping_changes_the_version(tmp_path, mapped_dataset):
    workspace, dataset_id, mapping, mapped, report = mapped_dataset
    before = data_version(workspace, dataset_id)
    changed = type(mapping).from_dict({**mapping.to_dict(), "extra_categorical": []})
    meta = workspace.get(dataset_id)
    try:
        workspace.save_mapping(dataset_id, changed, mapped.drop(columns=mapping.extra_categorical), report.to_dict())
        after = data_version(workspace, dataset_id)
        assert after.fingerprint != before.fingerprint and after.mapping.extra_categorical == []
    finally:
        workspace.save_mapping(dataset_id, mapping, mapped, meta.coercion)


def test_the_analysis_frame_has_categories_and_no_transaction_id(tmp_path, mapped_dataset):
    workspace, dataset_id, *_ = mapped_dataset
    with open_results(tmp_path) as c:
        results = DatasetResults(workspace, c, dataset_id, frames=FrameLRU(1))
        frame = results.frame()
        assert "transaction_id" not in frame.columns
        assert isinstance(frame["country"].dtype, pd.CategoricalDtype)
        assert results.frame() is frame  # held in memory
        roles = results.roles()
        assert roles["amount"] == "number" and roles["label"] == "label" and roles["user_id"] == "id"


def test_an_unmapped_dataset_is_refused_with_a_pointer_to_the_mapping_page(tmp_path, mapped_dataset):
    workspace, *_ = mapped_dataset
    meta = workspace.add_dataset(pd.DataFrame({"a": [1, 2]}), name="raw", source="upload")
    with open_results(tmp_path) as c, pytest.raises(TxlabError, match="Mapping page"):
        DatasetResults(workspace, c, meta.id)


def test_the_frame_lru_keeps_the_last_frames_and_drops_stale_versions():
    frames = FrameLRU(2)
    loads = []

    def loader(name):
        return lambda: loads.append(name) or pd.DataFrame({"x": [name]})

    frames.get(("a", 1), loader("a1"))
    frames.get(("b", 1), loader("b1"))
    frames.get(("a", 1), loader("a1"))  # a hit, and now the most recent
    frames.get(("c", 1), loader("c1"))  # evicts b, the least recently used
    assert loads == ["a1", "b1", "c1"] and frames.keys() == [("a", 1), ("c", 1)]
    frames.get(("a", 2), loader("a2"), replaces=lambda k: k[0] == "a")  # a new version of a
    assert frames.keys() == [("c", 1), ("a", 2)]


def test_concurrent_requests_for_one_frame_load_it_once():
    frames = FrameLRU(2)
    loads = []
    started = threading.Event()

    def slow():
        loads.append(1)
        started.set()
        time.sleep(0.2)
        return pd.DataFrame({"x": [1]})

    got = []
    threads = [threading.Thread(target=lambda: got.append(frames.get("k", slow))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(got) == 4 and all(g is got[0] for g in got)
