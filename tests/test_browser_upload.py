"""The Data page's large-file upload driven in headless Chromium: chunks, progress, Cancel, then a dataset
read in the background (and Cancel during that read).

The server's chunk size is made small so a file of a few MB goes up in many pieces and the
progress bar has steps to show. Every label the bar shows is recorded by a MutationObserver,
so the test sees it move even when the upload is quick.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psutil
import pytest
from dash.testing.wait import until

from core import datasets
from dashboard import streamed_upload
from tests.browser_actions import PAGE, click, screenshot, wait_for
from tests.browser_support import failed_requests

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText.trim() : null; };
const bar = document.querySelector('#data-stream-progress .progress-bar, #data-stream-progress.progress-bar');
return {
  labels: window.__txlabProgress || [],
  value: bar ? bar.getAttribute('aria-valuenow') : null,
  status: text('#data-stream-status'),
  error: text('#data-stream-error'),
  result: text('#data-result'),
  datasets: text('#data-list'),
  navbar: text('#app-dataset-label'),
  preview: document.querySelectorAll('#data-preview tbody tr').length,
  inputEnabled: !document.querySelector('#data-stream-file').disabled,
  pickerShown: !document.querySelector('#data-stream-picker').hidden,
  importing: text('#data-stream-import'),
  importTexts: window.__txlabImport || [],
  cancelEnabled: !document.querySelector('#data-stream-cancel').disabled,
};
"""

RECORD_PROGRESS_JS = """
window.__txlabProgress = [];
const target = document.getElementById('data-stream-progress');
new MutationObserver(() => {
  const label = target.innerText.trim();
  const seen = window.__txlabProgress;
  if (label && seen[seen.length - 1] !== label) { seen.push(label); }
}).observe(target, {childList: true, subtree: true, characterData: true, attributes: true});
window.__txlabImport = [];
const stage = document.getElementById('data-stream-import');
new MutationObserver(() => {
  const label = stage.innerText.trim();
  const seen = window.__txlabImport;
  if (label && seen[seen.length - 1] !== label) { seen.push(label); }
}).observe(stage, {childList: true, subtree: true, characterData: true});
"""


def _csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("tx_id,user,merchant,amount,country,device,fraud,note\n")
        for i in range(rows):
            fh.write(f"T{i:08d},u{i % 997},m{i % 61},{(i * 37) % 90000 / 100:.2f},{'DE' if i % 3 else 'FR'},web,{int(i % 50 == 0)},some free text here\n")
    return path


def _open(dash_duo, txlab_app) -> None:
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-stream-file", timeout=PAGE)  # added by assets/stream_upload.js
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    dash_duo.driver.execute_script(RECORD_PROGRESS_JS)


def _uploads_left(app_settings) -> list[str]:
    folder = app_settings.data_dir / streamed_upload.UPLOADS_FOLDER
    return sorted(p.name for p in folder.glob("up-*")) if folder.is_dir() else []


@pytest.mark.browser
def test_a_large_csv_goes_up_in_chunks_and_becomes_a_dataset(dash_duo, txlab_app, app_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(streamed_upload, "CHUNK_BYTES", 256 * 1024)
    path = _csv(tmp_path / f"export-{uuid.uuid4().hex[:8]}.csv", 60_000)
    size_mb = path.stat().st_size / 2**20
    assert size_mb > 3  # above the 2 MB limit of the ordinary upload in these tests
    _open(dash_duo, txlab_app)

    dash_duo.find_element("#data-stream-file").send_keys(str(path))
    # the import is a background job: its result comes at a poll, and the list and navbar follow it
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: f"Stored “{path.name}”" in (s["result"] or "") and s["preview"] > 0
                    and path.name in (s["datasets"] or "") and path.name in (s["navbar"] or "") and s["pickerShown"],
                    "the uploaded file was not stored", timeout=120)
    screenshot(dash_duo, "txlab_large_upload", at="#data-stream")

    assert seen["labels"][-1] == "100 %" and seen["value"] == "100", seen
    steps = [int(label.split()[0]) for label in seen["labels"]]
    assert steps == sorted(steps) and len(steps) >= 4, seen["labels"]  # the bar moved through the chunks
    assert seen["status"] == f"“{path.name}” uploaded and stored."
    assert "60,000 rows, 8 columns" in seen["result"] and "Rows read: 60,000" in seen["result"]
    assert path.name in seen["datasets"] and seen["navbar"] == f"{path.name} · 60,000 rows"
    assert seen["error"] == "" and seen["inputEnabled"] and seen["pickerShown"] and seen["importing"] == ""
    assert _uploads_left(app_settings) == []  # the temporary file went once the dataset was stored
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_cancel_stops_the_upload_and_leaves_nothing(dash_duo, txlab_app, app_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(streamed_upload, "CHUNK_BYTES", 8 * 1024)  # hundreds of requests: time to press Cancel
    path = _csv(tmp_path / f"cancelled-{uuid.uuid4().hex[:8]}.csv", 60_000)
    _open(dash_duo, txlab_app)

    dash_duo.find_element("#data-stream-file").send_keys(str(path))
    wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["labels"] and s["labels"][-1] not in ("0 %", "100 %"), "the upload did not start")
    click(dash_duo, dash_duo.find_element("#data-stream-cancel"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["status"] == "Upload cancelled." and s["inputEnabled"], "Cancel did not stop the upload")
    assert seen["error"] == "" and path.name not in (seen["datasets"] or "")
    wait_for(dash_duo, "return {left: arguments.length};", lambda _s: _uploads_left(app_settings) == [], "the partial upload was not removed")
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_cancel_while_the_file_is_read_stops_the_import_and_leaves_nothing(dash_duo, txlab_app, app_settings, tmp_path, monkeypatch):
    reader_pid = tmp_path / "reader.pid"

    def slow_read(*args, **kwargs):  # runs in the job's process, forked from this one
        reader_pid.write_text(str(os.getpid()))
        time.sleep(120)  # a large file: far longer than the test waits
        return real_read(*args, **kwargs)

    real_read = datasets.read_arrow
    monkeypatch.setattr(datasets, "read_arrow", slow_read)
    path = _csv(tmp_path / f"stopped-{uuid.uuid4().hex[:8]}.csv", 20_000)
    _open(dash_duo, txlab_app)
    before = sorted(p.name for p in _datasets_folder(app_settings).iterdir())

    dash_duo.find_element("#data-stream-file").send_keys(str(path))
    reading = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["importing"] == f"Reading “{path.name}”…" and s["cancelEnabled"],
                       "the import should say it is reading the file, with Cancel on", timeout=60)
    assert not reading["pickerShown"]  # no second file while this one is read
    assert reading["status"].startswith(f"“{path.name}”: ") and reading["status"].endswith(" MB received.")
    until(reader_pid.exists, timeout=PAGE)
    click(dash_duo, dash_duo.find_element("#data-stream-cancel"))

    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["status"] == f"Import of “{path.name}” cancelled." and s["importing"] == ""
                    and s["pickerShown"] and not s["cancelEnabled"], "Cancel should stop the import")
    until(lambda: _stopped(int(reader_pid.read_text())), timeout=PAGE)  # the job's process was stopped
    assert _uploads_left(app_settings) == []
    assert sorted(p.name for p in _datasets_folder(app_settings).iterdir()) == before  # no dataset, no partial copy
    assert path.name not in (seen["datasets"] or "") and not seen["result"]
    assert seen["error"] == "" and seen["importTexts"] == [f"Reading “{path.name}”…"]
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


def _stopped(pid: int) -> bool:
    """Gone, or killed and not yet reaped by the server (a zombie runs nothing)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _datasets_folder(app_settings) -> Path:
    folder = app_settings.data_dir / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.browser
def test_a_refused_upload_says_why_and_stores_nothing(dash_duo, txlab_app, app_settings, tmp_path, monkeypatch):
    small = streamed_upload.UploadStore(app_settings.data_dir / streamed_upload.UPLOADS_FOLDER, max_bytes=1024 * 1024)
    monkeypatch.setattr(streamed_upload, "upload_store", lambda _settings: small)  # as if the server's limit were 1 MB
    path = _csv(tmp_path / f"toolarge-{uuid.uuid4().hex[:8]}.csv", 30_000)
    _open(dash_duo, txlab_app)

    dash_duo.find_element("#data-stream-file").send_keys(str(path))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["error"], "no error was shown")
    assert seen["error"].startswith(f"Could not upload “{path.name}”: The file is ")
    assert "above the 1 MB limit for large uploads" in seen["error"]
    assert path.name not in (seen["datasets"] or "") and seen["inputEnabled"]
    assert _uploads_left(app_settings) == []
    assert [entry for entry in dash_duo.get_logs() if "/upload/start" not in entry["message"]] == []  # only the refused request
