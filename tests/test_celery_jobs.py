"""Training on a real Celery worker through a real Redis, watched in headless Chromium.

One ``redis-server``, one ``txlab worker`` and one ``txlab run`` are started as real processes
sharing temporary data and model folders and ``TXLAB_REDIS_URL``, as they would on separate
machines. The browser trains a short model and watches its epochs arrive; then the worker is
killed in the middle of a run, and the page must say the run failed, keep no version, and train
again once a new worker is up. Every process is stopped by its id, even when a test fails.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import redis
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from core.mapping import apply_mapping, suggest_mapping
from core.registry import ModelRegistry
from core.runs import RunStore
from core.synth import SynthConfig, generate
from core.workspace import Workspace
from tests.browser_actions import PAGE, click, use_dataset, wait_for
from tests.browser_support import failed_requests, free_port
from tests.redis_support import RedisServer, start_redis, stop_process

TXLAB = Path(sys.executable).with_name("txlab")
START = 120  # seconds for a worker or server to import torch and build the app on a busy machine
JOB = 90  # seconds for a short run to finish
DEAD_WORKER_NOTICED = 60  # the page gives up on a dead worker's job within this (liveness key: 15 s)
WEB_MAX_COLUMNS = 6  # txlab run --max-columns; the workers keep the default (500)

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const g = document.querySelector('#train-loss-graph .js-plotly-plot');
const button = s => { const e = document.querySelector(s); return e ? e.disabled : null; };
return {
  loss: g && g.data && g.data[0] ? (g.data[0].x || []).length : -1,
  progress: text('#train-progress-text'),
  result: text('#train-result'),
  job: text('#train-job-message'),
  trainOff: button('#train-start'),
  cancelOff: button('#train-cancel'),
};
"""


@dataclass
class Cluster:
    """Redis, workers and a web server sharing ``root``'s data and model folders."""

    root: Path
    redis: RedisServer
    workers: list[subprocess.Popen] = field(default_factory=list)
    server: subprocess.Popen | None = None
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TXLAB_")}
        return {**env, "TXLAB_REDIS_URL": self.redis.url}

    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        worker = subprocess.Popen(
            [str(TXLAB), "worker", "--concurrency", "1", "--data-dir", str(self.data_dir), "--models-dir", str(self.models_dir)],
            env=self.env(), stdout=(self.root / f"worker{n}.log").open("w"), stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def start_server(self) -> None:
        self.port = free_port()
        self.server = subprocess.Popen(
            [str(TXLAB), "run", "--port", str(self.port), "--data-dir", str(self.data_dir), "--models-dir", str(self.models_dir),
             "--max-columns", str(WEB_MAX_COLUMNS)],  # a flag the workers are not given: jobs must bring it
            env=self.env(), stdout=(self.root / "server.log").open("w"), stderr=subprocess.STDOUT,
        )

    def wait_for_worker(self, worker: subprocess.Popen) -> None:
        """Until ``worker`` beats in Redis (it is consuming jobs)."""
        client = redis.Redis.from_url(self.redis.url)
        key = f"txlab-worker-alive:txlab{worker.pid}@*"
        deadline = time.monotonic() + START
        while not client.keys(key):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"txlab worker did not start: {self.log(f'worker{self.workers.index(worker)}')}", pytrace=False)
            time.sleep(0.3)

    def wait_for_server(self) -> None:
        deadline = time.monotonic() + START
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5):
                    return
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"txlab run did not start: {self.log('server')}", pytrace=False)
                time.sleep(0.3)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in [self.server, *self.workers]:
            if process is not None:
                stop_process(process)
        self.redis.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("celery")
    cluster = Cluster(root=root, redis=start_redis(root / "redis"))
    try:
        worker = cluster.start_worker()
        cluster.start_server()  # both import torch at once: start them side by side
        cluster.wait_for_worker(worker)
        cluster.wait_for_server()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def mapped_dataset(cluster):
    """A simulated dataset in the shared data folder, where an epoch at batch size 32 takes a few tenths of a second."""
    seed = uuid.uuid4().int % 1_000_000
    frame = generate(SynthConfig(rows=40_000, seed=seed, days=30))
    workspace = Workspace(cluster.data_dir)
    meta = workspace.add_dataset(frame, name=f"celery-{seed}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    return workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())


def test_a_training_run_on_a_celery_worker_streams_its_epochs_to_the_page(dash_duo, cluster, mapped_dataset):
    _open_train(dash_duo, cluster, mapped_dataset)
    _settings(dash_duo, epochs="6", patience="6")
    click(dash_duo, dash_duo.find_element("#train-start"))

    live = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["loss"] >= 1 and s["trainOff"] and "/6 epochs" in (s["progress"] or ""),
                    "epochs should appear while the run is going", JOB)
    assert not live["result"]
    [run] = RunStore(cluster.models_dir).running()
    assert run.pid in _pool_pids(cluster.workers[0])  # trained by the Celery worker, not by the web server

    done = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Training finished" in (s["result"] or ""), "the run should finish", JOB)
    assert done["loss"] >= 4 and not done["trainOff"] and done["cancelOff"] and not done["job"]
    version = dash_duo.find_element("#train-result-version").text
    assert (cluster.models_dir / version / "model.pt").is_file()
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_a_killed_worker_fails_its_run_and_the_page_trains_again_on_a_new_worker(dash_duo, cluster, mapped_dataset):
    versions_before = _version_ids(cluster)
    runs_before = len(RunStore(cluster.models_dir).list_runs())
    _open_train(dash_duo, cluster, mapped_dataset)
    _settings(dash_duo, epochs="200", patience="200")
    click(dash_duo, dash_duo.find_element("#train-start"))
    wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["loss"] >= 1 and s["trainOff"], "the long run should show its first epoch", JOB)
    [run] = RunStore(cluster.models_dir).running()
    worker = cluster.workers[-1]
    assert run.pid in _pool_pids(worker)

    os.kill(worker.pid, signal.SIGKILL)  # the worker process, as the OOM killer or a power cut would
    killed = time.monotonic()
    worker.wait(timeout=10)
    replacement = cluster.start_worker()  # boots while the page notices

    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Training failed" in (s["result"] or "") and s["trainOff"] is False,
                    "the page should report the run failed and offer Train again", DEAD_WORKER_NOTICED)
    assert time.monotonic() - killed < DEAD_WORKER_NOTICED
    assert "stopped unexpectedly" in seen["result"] and seen["cancelOff"]
    until(lambda: not psutil.pid_exists(run.pid), timeout=10)  # the job process died with its worker
    failed = RunStore(cluster.models_dir).get(run.id)
    assert (failed.status, failed.version) == ("failed", None)
    assert _version_ids(cluster) == versions_before  # no partial version

    cluster.wait_for_worker(replacement)
    _settings(dash_duo, epochs="2", patience="2")
    click(dash_duo, dash_duo.find_element("#train-start"))
    done = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Training finished" in (s["result"] or ""), "a new run should finish on the new worker", JOB)
    assert "2/2 epochs" in done["progress"]
    runs = RunStore(cluster.models_dir).list_runs()
    assert len(runs) == runs_before + 2  # the killed job was not run again by the new worker
    assert [r.status for r in runs[:2]] == ["finished", "failed"]
    assert failed_requests(dash_duo) == []


def test_a_large_file_is_read_on_a_worker_under_the_web_apps_column_limit(dash_duo, cluster, tmp_path):
    path = tmp_path / f"wide-{uuid.uuid4().hex[:8]}.csv"
    path.write_text("tx_id,user,merchant,amount,country,device,fraud,note\n" + "T1,u1,m1,9.99,DE,web,0,x\n" * 2000)
    worker_log = f"worker{len(cluster.workers) - 1}"
    jobs_before = cluster.log(worker_log).count(" succeeded in ")
    dash_duo.wait_for_page(f"{cluster.url}/", timeout=PAGE)
    dash_duo.wait_for_element("#data-stream-file", timeout=PAGE)

    dash_duo.find_element("#data-stream-file").send_keys(str(path))
    seen = wait_for(dash_duo, UPLOAD_JS, lambda s: any(word in (s["result"] or "") for word in ("Could not read", "Stored")),
                    "the import should end", JOB)
    assert "Could not read" in seen["result"], seen
    assert f"8 columns, more than the limit of {WEB_MAX_COLUMNS}" in seen["result"]  # txlab run's flag, not the worker's 500
    assert cluster.log(worker_log).count(" succeeded in ") > jobs_before  # the worker ran the import
    assert path.name not in seen["datasets"]
    assert not list((cluster.data_dir / ".uploads").glob("up-*"))
    assert failed_requests(dash_duo) == []


UPLOAD_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
return {result: text('#data-result'), datasets: text('#data-list') || ''};
"""


# --- helpers -------------------------------------------------------------------------------


def _open_train(dash_duo, cluster: Cluster, meta) -> None:
    dash_duo.wait_for_page(f"{cluster.url}/", timeout=PAGE)
    use_dataset(dash_duo, meta, "nav-train", "#train-dataset-name")
    dash_duo.wait_for_contains_text("#train-dataset-name", meta.name, timeout=PAGE)
    until(lambda: dash_duo.find_element("#train-start").get_attribute("disabled") is None, timeout=PAGE)


def _settings(dash_duo, epochs: str, patience: str) -> None:
    """Epochs and patience as given, batch size 32, baselines off (they would only add time)."""
    for name, value in (("epochs", epochs), ("patience", patience), ("batch_size", "32")):
        element = dash_duo.driver.find_element(By.XPATH, _xpath("train-param", name))
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
        dash_duo.clear_input(element)
        element.send_keys(value)
        until(lambda: element.get_attribute("value") == value, timeout=PAGE)
    baselines = dash_duo.driver.find_element(By.XPATH, _xpath("train-flag", "baselines"))
    if baselines.is_selected():
        click(dash_duo, baselines)
    dash_duo.wait_for_text_to_equal("#train-form-message", "", timeout=PAGE)


def _xpath(kind: str, name: str) -> str:
    dom_id = json.dumps({"name": name, "type": kind}, separators=(",", ":"), sort_keys=True)
    return f"//*[@id='{dom_id}']"


def _pool_pids(worker: subprocess.Popen) -> set[int]:
    """The job processes of a Celery worker (its prefork pool)."""
    return {child.pid for child in psutil.Process(worker.pid).children(recursive=True)}


def _version_ids(cluster: Cluster) -> list[str]:
    return sorted(info.id for info in ModelRegistry(cluster.models_dir).list_versions())
