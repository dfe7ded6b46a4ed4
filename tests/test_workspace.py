import json
import os
import time

import pandas as pd
import pytest

from core.errors import NotFoundError, TxlabError
from core.schema import ColumnMapping
from core.workspace import Workspace


@pytest.fixture
def workspace(tmp_path):
    return Workspace(tmp_path / "data")


@pytest.fixture
def frame():
    return pd.DataFrame({"user": ["007", "010", "007"], "amt": [1.5, 20.0, 3.25], "fraud": [0, 1, 0]})


def test_dataset_round_trips_with_its_sidecar(workspace, frame):
    meta = workspace.add_dataset(frame, name="../../etc/passwd.csv", source="upload", report={"rows": 3})
    folder = workspace.datasets_dir / meta.id
    assert sorted(p.name for p in folder.iterdir()) == ["data", "meta.json"]
    sidecar = json.loads((folder / "meta.json").read_text())
    assert sidecar["name"] == "../../etc/passwd.csv"  # kept as a label only
    assert (sidecar["rows"], sidecar["columns"], sidecar["owner"], sidecar["source"]) == (3, ["user", "amt", "fraud"], "local", "upload")
    loaded = workspace.load_frame(meta.id)
    assert loaded["user"].tolist() == ["007", "010", "007"]
    assert loaded["amt"].tolist() == [1.5, 20.0, 3.25]
    assert workspace.preview(meta.id, rows=2)["user"].tolist() == ["007", "010"]


def test_listing_is_newest_first_and_deletion_removes_the_folder(workspace, frame):
    first = workspace.add_dataset(frame, name="a", source="upload")
    second = workspace.add_dataset(frame, name="b", source="generated")
    second.created, first.created = "2030", "2020"
    for meta in (first, second):
        (workspace.datasets_dir / meta.id / "meta.json").write_text(json.dumps(meta.to_dict()))
    assert [m.name for m in workspace.list_datasets()] == ["b", "a"]
    workspace.delete(first.id)
    assert [m.name for m in workspace.list_datasets()] == ["b"]
    assert not (workspace.datasets_dir / first.id).exists()


@pytest.mark.parametrize("bad_id", ["../data", "ds-../../x", "ds-0123456789ab/..", "", None, "ds-ffffffffffff"])
def test_unknown_or_malformed_ids_are_not_found(workspace, frame, bad_id):
    workspace.add_dataset(frame, name="a", source="upload")
    with pytest.raises(NotFoundError):
        workspace.get(bad_id)
    with pytest.raises(NotFoundError):
        workspace.load_frame(bad_id)


def test_resaving_a_mapping_replaces_the_mapped_table_whole(workspace, frame):
    meta = workspace.add_dataset(frame, name="a", source="upload")
    mapping = ColumnMapping(fields={"amount": "amt", "label": "fraud"})
    workspace.save_mapping(meta.id, mapping, pd.DataFrame({"amount": [1.0, 2.0]}), {})
    workspace.save_mapping(meta.id, mapping, pd.DataFrame({"amount": [3.0]}), {})
    assert workspace.load_mapped(meta.id)["amount"].tolist() == [3.0]
    assert sorted(p.name for p in (workspace.datasets_dir / meta.id).iterdir()) == ["data", "mapped", "meta.json"]


def test_large_tables_are_stored_in_parts_and_read_back_in_order(workspace):
    frame = pd.DataFrame({"id": [f"{i:07d}" for i in range(300_000)], "x": range(300_000)})
    frame.loc[5, "id"] = None
    meta = workspace.add_dataset(frame, name="big", source="generated")
    parts = sorted(p.name for p in (workspace.datasets_dir / meta.id / "data").iterdir())
    assert parts == ["part-0.parquet", "part-1.parquet"]
    pd.testing.assert_frame_equal(workspace.load_frame(meta.id), frame)
    assert workspace.preview(meta.id, rows=3)["id"].tolist() == ["0000000", "0000001", "0000002"]


def test_every_column_kind_reads_back_exactly_whatever_its_encoding(workspace):
    rows = 250_000  # two parts; 'code' repeats in its first rows (dictionary-encoded) but not later
    frame = pd.DataFrame({
        "code": ["a", "b", None, "c"] * 5_000 + [f"x{i}" for i in range(rows - 20_000)],
        "flag": pd.array([True, None, False, True, False] * (rows // 5), dtype="boolean"),
        "when": pd.date_range("2024-01-01", periods=rows, freq="min").astype("datetime64[us]"),
        "amount": [0.5, float("nan"), 2.0, 1e9, -3.0] * (rows // 5),
        "label": [0, 1, 0, 0, 0] * (rows // 5),
    })
    meta = workspace.add_dataset(frame, name="kinds", source="generated")
    pd.testing.assert_frame_equal(workspace.load_frame(meta.id), frame)
    pd.testing.assert_frame_equal(workspace.preview(meta.id, rows=4), frame.head(4))


def test_failed_write_leaves_nothing_behind(workspace, monkeypatch, frame):
    def explode(*args, **kwargs):
        raise OSError("disk full")

    import pyarrow.parquet as pq

    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(OSError, match="disk full"):
        workspace.add_dataset(frame, name="a", source="upload")
    assert list(workspace.datasets_dir.iterdir()) == []
    assert workspace.list_datasets() == []


def test_mapping_is_saved_with_the_mapped_table(workspace, frame):
    meta = workspace.add_dataset(frame, name="a", source="upload")
    with pytest.raises(TxlabError, match="no saved mapping"):
        workspace.load_mapped(meta.id)
    mapping = ColumnMapping(fields={"amount": "amt", "label": "fraud", "user_id": "user"})
    mapped = pd.DataFrame({"amount": [1.5], "label": [0]})
    saved = workspace.save_mapping(meta.id, mapping, mapped, {"rows_in": 3})
    assert saved.column_mapping == mapping
    again = workspace.get(meta.id)
    assert again.mapping["fields"]["amount"] == "amt" and again.coercion == {"rows_in": 3} and again.mapped_rows == 1
    assert workspace.load_mapped(meta.id)["amount"].tolist() == [1.5]


def test_server_files_are_listed_by_name_and_nothing_else_resolves(workspace, tmp_path):
    workspace.data_dir.mkdir(parents=True)
    (workspace.data_dir / "big.csv").write_text("a,b\n1,2\n")
    (workspace.data_dir / "notes.md").write_text("x")
    (workspace.data_dir / ".hidden.csv").write_text("a\n1\n")
    (tmp_path / "outside.csv").write_text("a\n1\n")
    assert [f.name for f in workspace.list_server_files()] == ["big.csv"]
    assert workspace.server_file_path("big.csv") == workspace.data_dir / "big.csv"
    for name in ("../outside.csv", "notes.md", ".hidden.csv", "/etc/passwd"):
        with pytest.raises(NotFoundError):
            workspace.server_file_path(name)


def test_mapping_checks_columns_and_duplicates():
    from core.errors import MappingError

    mapping = ColumnMapping(fields={"amount": "amt", "label": "amt"})
    with pytest.raises(MappingError, match="'amt' is used twice"):
        mapping.check_against(["amt"])
    with pytest.raises(MappingError, match="'nope'"):
        ColumnMapping(fields={"amount": "nope"}).check_against(["amt"])
    with pytest.raises(MappingError, match="Unknown canonical field"):
        ColumnMapping(fields={"amout": "amt"})
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping


def test_preview_records_are_json_safe_and_dates_read_naturally():
    from core.datasets import preview_records

    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-03-01", None]),
            "when": pd.to_datetime(["2026-03-01 10:15:00", "2026-03-02 00:00:00"]),
            "amount": [1.5, float("nan")],
            "user": ["007", None],
        }
    )
    assert preview_records(frame) == [
        {"day": "2026-03-01", "when": "2026-03-01 10:15:00", "amount": 1.5, "user": "007"},
        {"day": None, "when": "2026-03-02 00:00:00", "amount": None, "user": None},
    ]


def test_an_imported_file_reads_back_exactly_as_it_was_read(workspace, tmp_path):
    """Imports store Arrow's table directly (no trip through pandas): dtypes must survive, yes/no with gaps too."""
    from core.datasets import import_table
    from core.ingest import read_table

    rows = ["id;when;amount;flag;country"]
    rows += [f"00{i};2024-03-{1 + i % 28:02d} 10:{i % 60:02d}:00;{i},5;{'yes' if i % 3 else 'no'};DE"
             for i in range(300)]
    rows += ["0999;;12,0;;FR"]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    expected, report = read_table(path)
    result = import_table(workspace, path, name="export.csv", origin="upload")
    stored = workspace.load_frame(result.meta.id)
    pd.testing.assert_frame_equal(stored, expected)
    assert str(stored["flag"].dtype) == "boolean" and stored["flag"].isna().sum() == 1
    assert stored["id"].iloc[0] == "000"
    assert [c.dtype for c in result.report.columns] == [c.dtype for c in report.columns]


def _mapping_while(workspace, frame, dataset_id, meanwhile):
    """Save a mapping in a thread whose table write pauses until ``meanwhile`` (run in another thread) is done."""
    import threading

    from core import parquet_store

    done, errors = threading.Event(), []
    write_table = parquet_store.write_table

    def slow_write(table, folder):
        done.wait(timeout=2)  # the other thread may wait for this save's lock: then the save goes on after 2 s
        write_table(table, folder)

    def other():
        try:
            meanwhile()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            done.set()

    mapping = ColumnMapping(fields={"amount": "amt", "label": "fraud"})
    thread = threading.Thread(target=other)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parquet_store, "write_table", slow_write)
        saving = threading.Thread(target=workspace.save_mapping, args=(dataset_id, mapping, frame[["amt"]].rename(columns={"amt": "amount"}), {}))
        saving.start()
        time.sleep(0.1)  # the save has read the sidecar and is writing its table
        thread.start()
        saving.join(timeout=30)
        thread.join(timeout=30)
    assert errors == []


@pytest.mark.parametrize("older_sidecar", [False, True], ids=["marker", "shared-true-in-sidecar"])
def test_unsharing_while_a_mapping_is_saved_is_not_undone(workspace, frame, older_sidecar):
    meta = workspace.add_dataset(frame, name="a", source="upload")
    sidecar = workspace.datasets_dir / meta.id / "meta.json"
    if older_sidecar:  # as sidecars were written before the marker file
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "shared": True}))
    else:
        workspace.share(meta.id, True)
    assert workspace.get(meta.id).shared

    _mapping_while(workspace, frame, meta.id, lambda: workspace.share(meta.id, False))
    again = workspace.get(meta.id)
    assert not again.shared and again.mapped_rows == 3  # both changes kept
    assert json.loads(sidecar.read_text())["shared"] is False


def test_sharing_and_mapping_one_dataset_from_many_threads_raise_nothing(workspace, frame):
    import threading

    meta = workspace.add_dataset(frame, name="a", source="upload")
    mapping = ColumnMapping(fields={"amount": "amt"})
    mapped = frame[["amt"]].rename(columns={"amt": "amount"})
    errors = []

    def work(i):
        try:
            for n in range(15):
                if i % 2:
                    workspace.share(meta.id, n % 2 == 0)
                else:
                    workspace.save_mapping(meta.id, mapping, mapped.head(1 + n % 3), {"n": n})
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    final = workspace.get(meta.id)
    assert final.mapped_rows == len(workspace.load_mapped(meta.id))  # the sidecar describes the table saved last
    assert sorted(p.name for p in (workspace.datasets_dir / meta.id).iterdir()) == ["data", "mapped", "meta.json"] + (["shared"] if final.shared else [])


def test_folders_left_by_a_killed_import_or_delete_are_swept_once_stale(tmp_path):
    workspace = Workspace(tmp_path)
    workspace.datasets_dir.mkdir(parents=True)
    old = [workspace.datasets_dir / ".staging-ds-0123456789ab", workspace.datasets_dir / ".deleting-ds-ba9876543210"]
    fresh = workspace.datasets_dir / ".staging-ds-aaaaaaaaaaaa"  # another process writing right now
    for folder in (*old, fresh):
        (folder / "data").mkdir(parents=True)
    for folder in old:
        os.utime(folder, (1_600_000_000, 1_600_000_000))
    meta = workspace.add_dataset(pd.DataFrame({"a": [1, 2]}), name="new", source="test")
    assert sorted(p.name for p in workspace.datasets_dir.iterdir()) == sorted([".staging-ds-aaaaaaaaaaaa", meta.id])
