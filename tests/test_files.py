"""core.files: one JSON file written by many threads at once, private modes, and the folder lock."""
from __future__ import annotations

import json
import os
import stat
import threading
import time

import numpy as np
import pytest

from core.files import locked_folder, write_json


def _in_threads(work, n: int = 8) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            work(i)
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_many_writers_of_one_file_never_collide_and_leave_one_whole_file(tmp_path):
    path = tmp_path / "meta.json"

    def write(i: int) -> None:
        for n in range(100):
            write_json(path, {"writer": i, "n": n, "pad": "x" * 2000})

    assert _in_threads(write) == []
    data = json.loads(path.read_text())
    assert data["n"] == 99 and 0 <= data["writer"] < 8
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]  # no temporary file left behind


def test_private_files_are_0600_and_others_follow_the_umask(tmp_path):
    write_json(tmp_path / "secret.json", {"a": 1}, private=True)
    assert stat.S_IMODE((tmp_path / "secret.json").stat().st_mode) == 0o600
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "open.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "open.json").stat().st_mode) == 0o644


def test_numpy_scalars_are_numbers_and_anything_else_is_refused_without_a_trace(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {"auc": np.float64(0.5), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"auc": 0.5, "n": 3}
    with pytest.raises(TypeError, match="object is not JSON serialisable"):
        write_json(path, {"bad": object()})
    write_json(path, {"when": object}, default=str)
    assert json.loads(path.read_text())["when"] == "<class 'object'>"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_the_folder_lock_lets_one_holder_in_at_a_time(tmp_path):
    inside, overlaps = [0], []

    def hold(_: int) -> None:
        for _ in range(5):
            with locked_folder(tmp_path):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.002)
                inside[0] -= 1

    assert _in_threads(hold, 4) == []
    assert max(overlaps) == 1 and list(tmp_path.iterdir()) == []  # no lock file either
