"""UploadStore: chunks land at the right offset, within the declared size, for their owner only, inside the folder."""
from __future__ import annotations

import io
import os
import stat
import time

import pytest

from core.errors import NotFoundError, TxlabError
from core.settings import Settings
from core.uploads import UploadError, UploadStore, clean_label

MB = 1024 * 1024


@pytest.fixture
def store(tmp_path):
    return UploadStore(tmp_path / "data" / ".uploads", max_bytes=10 * MB)


def _files_under(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_chunks_in_order_make_the_whole_file(store):
    payload = os.urandom(3 * MB + 123)
    info = store.start("ann", "tx.csv", len(payload))
    offset = 0
    for size in (MB, MB, MB, 123):
        offset = store.append(info.id, "ann", offset, payload[offset:offset + size])
    done, path = store.finish(info.id, "ann")
    assert done.complete and done.name == "tx.csv" and done.size == len(payload)
    assert path.read_bytes() == payload
    assert path.parent == store.folder
    store.discard(info.id, "ann")
    assert list(store.folder.iterdir()) == []


def test_a_stream_is_copied_without_reading_it_whole(store):
    payload = os.urandom(2 * MB + 5)  # more than one read block
    info = store.start("ann", "tx.csv", len(payload))
    assert store.append(info.id, "ann", "0", io.BytesIO(payload)) == len(payload)  # offsets arrive as text from a URL
    assert store.finish(info.id, "ann")[1].read_bytes() == payload


def test_folder_and_files_are_private(store):
    info = store.start("ann", "tx.csv", 10)
    assert stat.S_IMODE(os.stat(store.folder).st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in store.folder.iterdir()} == {0o600}
    assert info.id.startswith("up-") and len(info.id) == 35


@pytest.mark.parametrize("offset,words", [(5, r"offset 5 .* leaves a gap: 3 bytes received"), (-1, "must not be negative, got -1"), ("x", "whole number of bytes, got 'x'")])
def test_a_chunk_at_the_wrong_offset_is_refused_and_changes_nothing(store, offset, words):
    info = store.start("ann", "tx.csv", 20)
    store.append(info.id, "ann", 0, b"abc")
    with pytest.raises(UploadError, match=words):
        store.append(info.id, "ann", offset, b"defgh")
    assert store.get(info.id, "ann").received == 3


def test_resending_a_chunk_that_arrived_is_accepted_once(store):
    info = store.start("ann", "tx.csv", 9)
    assert store.append(info.id, "ann", 0, b"abc") == 3
    assert store.append(info.id, "ann", 3, b"def") == 6
    assert store.append(info.id, "ann", 3, b"def") == 6  # the answer was lost; the browser sends it again
    assert store.append(info.id, "ann", 3, b"defghi") == 9  # a retry may also carry more than arrived
    assert store.finish(info.id, "ann")[1].read_bytes() == b"abcdefghi"


def test_a_resent_chunk_with_other_bytes_is_refused(store):
    info = store.start("ann", "tx.csv", 9)
    store.append(info.id, "ann", 0, b"abcdef")
    with pytest.raises(UploadError, match="differs"):
        store.append(info.id, "ann", 3, b"XYZ")
    assert store.get(info.id, "ann").received == 6


def test_going_past_the_declared_size_is_refused_and_leaves_no_partial_chunk(store):
    info = store.start("ann", "tx.csv", 2 * MB)
    store.append(info.id, "ann", 0, b"a" * MB)
    with pytest.raises(UploadError, match="past the declared size"):
        store.append(info.id, "ann", MB, io.BytesIO(b"b" * (MB + 1)))  # its first block fitted and was written
    assert store.get(info.id, "ann").received == MB


def test_a_broken_stream_leaves_the_upload_as_it_was(store):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def readable(self):
            return True

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 1:
                raise ConnectionResetError("client went away")
            return b"x" * 1000

    info = store.start("ann", "tx.csv", 5000)
    with pytest.raises(ConnectionResetError):
        store.append(info.id, "ann", 0, Broken())
    assert store.get(info.id, "ann").received == 0
    assert store.append(info.id, "ann", 0, b"y" * 5000) == 5000


def test_finish_says_how_much_is_missing(store):
    info = store.start("ann", "tx.csv", 10)
    store.append(info.id, "ann", 0, b"12345")
    with pytest.raises(UploadError, match="incomplete: 5 of 10 bytes"):
        store.finish(info.id, "ann")


@pytest.mark.parametrize("size,words", [(0, "empty"), (-3, "empty"), (10 * MB + 1, "above the 10 MB limit"), ("big", "whole number"), (1.5, "whole number"), (None, "whole number")])
def test_bad_sizes_are_refused_at_start(store, size, words):
    with pytest.raises(UploadError, match=words):
        store.start("ann", "tx.csv", size)
    assert not store.folder.exists() or list(store.folder.iterdir()) == []


def test_another_users_upload_is_not_found_like_an_unknown_one(store):
    info = store.start("ann", "tx.csv", 10)
    unknown = "up-" + "0" * 32
    for action in (lambda u, who: store.append(u, who, 0, b"x"), store.finish, store.discard, store.get):
        with pytest.raises(NotFoundError) as theirs:
            action(info.id, "bob")
        with pytest.raises(NotFoundError) as missing:
            action(unknown, "bob")
        assert str(theirs.value) == str(missing.value).replace(unknown, info.id)
    assert store.get(info.id, "ann").received == 0  # bob changed nothing


@pytest.mark.parametrize("bad_id", ["../../app", "up-" + "0" * 31, "up-" + "g" * 32, "", None, "up-" + "0" * 32 + "/../x"])
def test_malformed_ids_are_not_found(store, bad_id):
    with pytest.raises(NotFoundError, match="not found"):
        store.append(bad_id, "ann", 0, b"x")


@pytest.mark.parametrize("name", ["../../app.py", "..\\..\\x.csv", "/etc/passwd", "a\x00b.csv", "x" * 5000 + ".csv", "..", "", None])
def test_file_names_are_labels_that_never_reach_the_disk(tmp_path, name):
    root = tmp_path / "root"
    data = root / "data"
    store = UploadStore(data / ".uploads", max_bytes=MB)
    info = store.start("ann", name, 3)
    store.append(info.id, "ann", 0, b"a,b")
    assert _files_under(root) == {"data", "data/.uploads", f"data/.uploads/{info.id}.part", f"data/.uploads/{info.id}.json"}
    assert "/" not in info.name and "\\" not in info.name and "\x00" not in info.name
    assert 0 < len(info.name) <= 200


def test_labels_keep_the_last_name_and_its_extension():
    assert clean_label("../../app.py") == "app.py"
    assert clean_label("C:\\Users\\ann\\tx.csv") == "tx.csv"
    assert clean_label("a\x00b.csv") == "ab.csv"
    assert clean_label("..") == "upload"
    long = clean_label("x" * 5000 + ".parquet")
    assert len(long) == 200 and long.endswith(".parquet")


def test_stale_partial_uploads_are_removed_when_another_starts(tmp_path):
    store = UploadStore(tmp_path / "up", max_bytes=MB, stale_after_s=3600)
    old = store.start("ann", "old.csv", 10)
    store.append(old.id, "ann", 0, b"12345")
    fresh = store.start("bob", "fresh.csv", 10)
    past = time.time() - 2 * 3600
    for path in store.folder.glob(f"{old.id}.*"):
        os.utime(path, (past, past))
    (store.folder / ".stray.json.tmp").write_text("{}")
    os.utime(store.folder / ".stray.json.tmp", (past, past))

    store.start("cy", "new.csv", 10)
    names = {p.name for p in store.folder.iterdir()}
    assert not any(n.startswith(old.id) for n in names)
    assert f"{fresh.id}.part" in names and ".stray.json.tmp" not in names
    with pytest.raises(NotFoundError):
        store.get(old.id, "ann")


def test_an_old_upload_that_still_receives_chunks_is_kept(tmp_path):
    store = UploadStore(tmp_path / "up", max_bytes=MB, stale_after_s=3600)
    slow = store.start("ann", "slow.csv", 10)
    past = time.time() - 2 * 3600
    for path in store.folder.glob(f"{slow.id}.*"):
        os.utime(path, (past, past))
    store.append(slow.id, "ann", 0, b"12")  # a chunk just arrived
    assert store.remove_stale() == []
    assert store.get(slow.id, "ann").received == 2


def test_one_user_cannot_open_endless_uploads(tmp_path):
    store = UploadStore(tmp_path / "up", max_bytes=MB, max_open_per_owner=2)
    store.start("ann", "a.csv", 10)
    store.start("ann", "b.csv", 10)
    with pytest.raises(UploadError, match="ann already has 2 unfinished uploads"):
        store.start("ann", "c.csv", 10)
    store.start("bob", "d.csv", 10)  # others are not affected


def test_idle_uploads_make_way_for_a_new_one(tmp_path):
    store = UploadStore(tmp_path / "up", max_bytes=MB, max_open_per_owner=2)
    abandoned = store.start("ann", "a.csv", 10)  # its tab was closed half-way
    store.start("ann", "b.csv", 10)
    past = time.time() - 3600
    os.utime(store.folder / f"{abandoned.id}.part", (past, past))
    store.start("ann", "c.csv", 10)
    with pytest.raises(NotFoundError):
        store.get(abandoned.id, "ann")


def test_the_large_file_limit_is_a_documented_setting():
    assert Settings().max_stream_bytes == 1024 * MB
    with pytest.raises(ValueError, match="max_stream_mb must be at least 1"):
        Settings(max_stream_mb=0)
    assert issubclass(UploadError, TxlabError)
