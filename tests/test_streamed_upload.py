"""The streamed upload routes through Flask's test client: chunks in, a dataset out, and every refusal in JSON."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.access import Principal
from dashboard import context, streamed_upload
from tests.conftest import component_text

HEADERS = {"X-Txlab-Upload": "1"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(txlab_app):
    return txlab_app.server.test_client()


@pytest.fixture
def uploads(app_settings):
    return app_settings.data_dir / streamed_upload.UPLOADS_FOLDER


@pytest.fixture(autouse=True)
def _no_uploads_left(app_settings):
    """Each test starts with no unfinished uploads (a user may only have a few open at once)."""
    yield
    for path in (app_settings.data_dir / streamed_upload.UPLOADS_FOLDER).glob("up-*"):
        path.unlink()


def _csv(rows: int) -> bytes:
    lines = ["tx_id,user,merchant,amount,country,fraud"]
    lines += [f"T{i:07d},u{i % 97},m{i % 13},{(i * 37) % 5000 / 100:.2f},{'DE' if i % 3 else 'FR'},{int(i % 50 == 0)}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _start(client, name: str, size: int, **headers):
    return client.post("/upload/start", json={"name": name, "size": size}, headers={**HEADERS, **headers})


def _send(client, payload: bytes, name: str = "tx.csv", chunk: int = 64 * 1024) -> str:
    started = _start(client, name, len(payload))
    assert started.status_code == 201, started.json
    upload_id = started.json["id"]
    offset = 0
    while offset < len(payload):
        answer = client.put(f"/upload/{upload_id}?offset={offset}", data=payload[offset:offset + chunk], headers=HEADERS)
        assert answer.status_code == 200, answer.json
        offset = answer.json["received"]
    return upload_id


def test_a_csv_sent_in_chunks_becomes_a_dataset_and_the_upload_is_removed(client, txlab_app, uploads):
    from dashboard.pages import data

    payload = _csv(5000)
    upload_id = _send(client, payload, name="big-export.csv")
    finished = client.post(f"/upload/{upload_id}/finish", headers=HEADERS)
    assert finished.status_code == 200
    assert finished.json == {"id": upload_id, "name": "big-export.csv", "size": len(payload)}

    progress = []
    with txlab_app.server.test_request_context():
        result, dataset_id, status = data.import_streamed(progress.append, {"id": upload_id, "name": "big-export.csv"})
        meta = context.workspace().get(dataset_id)
    text = " ".join(component_text(result).split())
    assert "Stored “big-export.csv”: 5,000 rows, 6 columns." in text
    assert "Rows read: 5,000" in text  # the same ingest report as a browser upload
    assert "T0000000" in text  # and the preview
    assert (meta.rows, meta.source, meta.owner) == (5000, "upload", "local")
    assert status == "“big-export.csv” uploaded and stored."
    assert not list(uploads.glob(f"{upload_id}.*"))
    # the page said what the job was doing; Cancel on while reading, off while writing the dataset
    assert progress == [("Reading “big-export.csv”…", False), ("Storing “big-export.csv” as a dataset…", True)]


def test_an_unreadable_file_is_an_alert_and_its_upload_is_removed(client, txlab_app, uploads):
    from dashboard.pages import data

    upload_id = _send(client, b"\x00\x01\x02binary\xff" * 100, name="photo.csv")
    with txlab_app.server.test_request_context():
        result, created, _ = data.import_streamed(lambda _update: None, {"id": upload_id, "name": "photo.csv"})
    assert "Could not read photo.csv" in component_text(result)
    assert "Traceback" not in component_text(result)
    assert created is data.no_update
    assert not list(uploads.glob(f"{upload_id}.*"))


def test_the_import_is_a_background_job_with_cancel_that_writes_only_to_the_data_page(txlab_app):
    from dash import _callback

    from dashboard.pages import data

    specs = [*txlab_app.callback_map.values(), *_callback.GLOBAL_CALLBACK_MAP.values()]  # before and after Dash's setup
    spec = next(c for c in specs if getattr(c["callback"], "__wrapped__", None) is data.import_streamed)
    [listed] = [c for c in [*txlab_app._callback_list, *_callback.GLOBAL_CALLBACK_LIST] if c["inputs"] == spec["inputs"]]
    background = spec["background"]
    assert background["cancel"] == [{"id": "data-stream-cancel", "property": "n_clicks"}]
    assert {str(o) for o in background["progress"]} == {"data-stream-import.children", "data-stream-cancel.disabled"}
    page_ids = {component.id for component in _walk(data.layout()) if isinstance(getattr(component, "id", None), str)}
    written = {o.component_id for o in (*spec["output"], *background["progress"])}
    written |= {prop.rsplit(".", 1)[0] for prop in listed["running"]["running"]}
    assert "data-stream-picker" in written and written <= page_ids  # see DASH_NOTES: no job on a visit to another page


def test_cancel_during_the_import_removes_the_file_and_stores_nothing(client, txlab_app, uploads):
    from dashboard.pages import data

    upload_id = _send(client, _csv(500), name="stopped.csv")
    client.post(f"/upload/{upload_id}/finish", headers=HEADERS)
    with txlab_app.server.test_request_context():
        before = [m.id for m in context.workspace().list_datasets()]
        # Dash killed the job process as it read the file; the page's Cancel callback cleans up after it
        status, value, label, picker_hidden = data.cancel_import(1, {"id": upload_id, "name": "stopped.csv", "at": 1})
        after = [m.id for m in context.workspace().list_datasets()]
        with pytest.raises(data.PreventUpdate):  # a second Cancel, or one during a later upload: nothing to do
            data.cancel_import(2, {"id": upload_id, "name": "stopped.csv", "at": 1})
    assert (status, value, label, picker_hidden) == ("Import of “stopped.csv” cancelled.", 0, "", False)  # the picker is back
    assert after == before
    assert not list(uploads.glob(f"{upload_id}.*"))


def test_an_import_whose_cancel_outran_the_stop_of_its_job_stores_nothing(client, txlab_app, uploads):
    """On Celery the stop is asynchronous, and a click can beat the switching off of Cancel before the dataset
    is written: a job may then store the dataset after Cancel removed its file. It deletes it again."""
    from dashboard.pages import data

    upload_id = _send(client, _csv(500), name="late.csv")
    client.post(f"/upload/{upload_id}/finish", headers=HEADERS)
    done = {"id": upload_id, "name": "late.csv", "at": 1}

    def cancel_while_storing(update):
        if update[0].startswith("Storing"):
            data.cancel_import(1, done)

    with txlab_app.server.test_request_context():
        before = [m.id for m in context.workspace().list_datasets()]
        result, created, status = data.import_streamed(cancel_while_storing, done)
        after = [m.id for m in context.workspace().list_datasets()]
    assert "The import of “late.csv” was cancelled." in component_text(result)
    assert (created, status) == (data.no_update, "")
    assert after == before
    assert not list(uploads.glob(f"{upload_id}.*"))


def _walk(component):
    """Every component in a layout tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def test_a_chunk_at_the_wrong_offset_is_refused_by_name(client):
    upload_id = _send(client, b"a,b\n1,2\n")  # 8 bytes in
    answer = client.put(f"/upload/{upload_id}?offset=100", data=b"3,4\n", headers=HEADERS)
    assert answer.status_code == 400
    assert "offset 100" in answer.json["error"] and "8 bytes received" in answer.json["error"]


def test_a_file_above_the_limit_is_refused_at_start(client, app_settings):
    answer = _start(client, "huge.csv", app_settings.max_stream_bytes + 1)
    assert answer.status_code == 400
    assert f"above the {app_settings.max_stream_mb:,} MB limit" in answer.json["error"]


def test_a_chunk_above_the_chunk_limit_is_refused(client, monkeypatch):
    monkeypatch.setattr(streamed_upload, "CHUNK_BYTES", 1000)
    started = _start(client, "tx.csv", 5000)
    assert started.json["chunk_size"] == 1000
    answer = client.put(f"/upload/{started.json['id']}?offset=0", data=b"x" * 1001, headers=HEADERS)
    assert answer.status_code == 413 and "1,001 bytes" in answer.json["error"]


def test_bytes_past_the_declared_size_are_refused(client):
    started = _start(client, "tx.csv", 10)
    answer = client.put(f"/upload/{started.json['id']}?offset=0", data=b"x" * 11, headers=HEADERS)
    assert answer.status_code == 400 and "declared size" in answer.json["error"]


@pytest.mark.parametrize("bad_id", ["up-" + "0" * 32, "app.py", "up-%2E%2E", "nonsense"])
def test_an_unknown_id_is_not_found(client, bad_id):
    answer = client.put(f"/upload/{bad_id}?offset=0", data=b"x", headers=HEADERS)
    assert answer.status_code == 404 and "not found" in answer.json["error"]


def test_a_path_as_id_reaches_no_file(client, uploads):
    for bad_id in ("..%2F..%2Fapp.py", "..%5C..%5Capp.py"):
        answer = client.put(f"/upload/{bad_id}?offset=0", data=b"print('owned')", headers=HEADERS)
        assert answer.status_code in (404, 405)
    assert not (ROOT / "app.py").exists() and not (uploads.parent / "app.py").exists()


def test_another_users_upload_is_not_found(client, monkeypatch):
    upload_id = _send(client, b"a,b\n1,2\n")
    monkeypatch.setattr(context, "principal", lambda: Principal("mallory"))
    for answer in (client.post(f"/upload/{upload_id}/finish", headers=HEADERS), client.delete(f"/upload/{upload_id}", headers=HEADERS)):
        assert answer.status_code == 404 and upload_id in answer.json["error"]


def test_finish_before_the_last_byte_says_what_is_missing(client):
    started = _start(client, "tx.csv", 10)
    client.put(f"/upload/{started.json['id']}?offset=0", data=b"12345", headers=HEADERS)
    answer = client.post(f"/upload/{started.json['id']}/finish", headers=HEADERS)
    assert answer.status_code == 400 and "5 of 10 bytes" in answer.json["error"]


def test_cancel_removes_the_partial_upload(client, uploads):
    started = _start(client, "tx.csv", 10)
    upload_id = started.json["id"]
    assert list(uploads.glob(f"{upload_id}.*"))
    assert client.delete(f"/upload/{upload_id}", headers=HEADERS).json == {"removed": upload_id}
    assert not list(uploads.glob(f"{upload_id}.*"))


def test_requests_without_the_custom_header_are_refused(client):
    answer = client.post("/upload/start", json={"name": "tx.csv", "size": 10})
    assert answer.status_code == 403 and "X-Txlab-Upload" in answer.json["error"]


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:9999", "null"])
def test_cross_origin_requests_are_refused(client, origin):
    answer = _start(client, "tx.csv", 10, Origin=origin)
    assert answer.status_code == 403 and origin in answer.json["error"]


def test_a_same_origin_request_is_accepted(client):
    assert _start(client, "tx.csv", 10, Origin="http://localhost").status_code == 201  # the test client's host


def test_cross_site_fetch_metadata_is_refused(client):
    answer = _start(client, "tx.csv", 10, **{"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


def test_a_bad_start_body_is_explained(client):
    answer = client.post("/upload/start", data="not json", headers={**HEADERS, "Content-Type": "application/json"})
    assert answer.status_code == 400 and "name and size" in answer.json["error"]


def test_a_server_failure_is_json_without_a_traceback(client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(streamed_upload.UploadStore, "start", broken)
    answer = _start(client, "tx.csv", 10)
    assert answer.status_code == 500
    assert "server log" in answer.json["error"]
    assert "secret" not in answer.get_data(as_text=True) and "Traceback" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("name", ["../../app.py", "..\\..\\app.py", "/tmp/evil.csv", "a\x00.csv", "x" * 10_000])
def test_hostile_file_names_write_nothing_outside_the_uploads_folder(client, app_settings, uploads, name):
    root = app_settings.data_dir.parent
    before = {p for p in root.rglob("*") if p != uploads and uploads not in p.parents}
    upload_id = _send(client, b"a,b\n1,2\n", name=name)
    finished = client.post(f"/upload/{upload_id}/finish", headers=HEADERS).json
    after = {p for p in root.rglob("*") if p != uploads and uploads not in p.parents}
    assert after == before
    assert not (ROOT / "app.py").exists() and not Path("/tmp/evil.csv").exists()
    assert "/" not in finished["name"] and "\\" not in finished["name"] and "\x00" not in finished["name"]
    assert {p.name for p in uploads.glob(f"{upload_id}.*")} == {f"{upload_id}.part", f"{upload_id}.json"}
    client.delete(f"/upload/{upload_id}", headers=HEADERS)


SERVER_SCRIPT = textwrap.dedent(
    """
    import sys
    import waitress
    from flask import Flask
    from core.settings import Settings
    from dashboard import context
    from dashboard.streamed_upload import register_streamed_upload

    context.configure(Settings(data_dir=sys.argv[1]))
    server = Flask("memory-check")
    server.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    register_streamed_upload(server)
    wsgi = waitress.create_server(server, host="127.0.0.1", port=0, threads=2)
    print(wsgi.effective_port, flush=True)
    wsgi.run()
    """
)


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (Linux ``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _http(port: int, method: str, path: str, body=None, headers=None) -> dict:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={**HEADERS, **(headers or {})})
        response = connection.getresponse()
        return {"status": response.status, **json.loads(response.read())}
    finally:
        connection.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_a_200_mb_upload_keeps_server_memory_flat(tmp_path):
    """Served as in production (waitress), the route writes each chunk to disk as it reads it:
    the server's peak memory grows by a few MB, not by the file's 200 MB."""
    source = tmp_path / "big.csv"
    line = b"T0000001,u42,m7,12.50,DE,0\n"
    block = line * (8 * 1024 * 1024 // len(line))
    with source.open("wb") as fh:
        for _ in range(25):
            fh.write(block)
    size = source.stat().st_size
    server = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(tmp_path / "data")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        started = _http(port, "POST", "/upload/start", json.dumps({"name": "big.csv", "size": size}), {"Content-Type": "application/json"})
        assert started["status"] == 201, started
        baseline = _peak_rss(server.pid)
        with source.open("rb") as fh:
            offset = 0
            while chunk := fh.read(started["chunk_size"]):
                answer = _http(port, "PUT", f"/upload/{started['id']}?offset={offset}", chunk)
                assert answer["status"] == 200, answer
                offset = answer["received"]
        finished = _http(port, "POST", f"/upload/{started['id']}/finish")
        growth = _peak_rss(server.pid) - baseline
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert finished == {"status": 200, "id": started["id"], "name": "big.csv", "size": size}
    assert (tmp_path / "data" / ".uploads" / f"{started['id']}.part").stat().st_size == size
    print(f"\n{size / 2**20:.0f} MB upload in {started['chunk_size'] / 2**20:.0f} MB chunks: server peak RSS grew by {growth / 2**20:.1f} MB")
    assert growth < 32 * 1024 * 1024, f"server peak memory grew by {growth / 2**20:.0f} MB during a {size / 2**20:.0f} MB upload"
