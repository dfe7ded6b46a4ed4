"""Which manager runs background jobs, and how a job of a vanished Celery worker ends (``dashboard.jobs``)."""
from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import dash
import pytest
from click.testing import CliRunner

from core.settings import Settings
from dashboard.cli import main
from core.accounts import AccountStore
from core.datasets import limits_from
from dashboard.jobs import (
    JOB_EXPIRY_S,
    JOB_SETTINGS,
    JobsConfigError,
    TxlabCeleryManager,
    background_manager,
    celery_app_for,
    job_settings,
    keep_worker_alive,
    safe_url,
    settings_for_jobs,
)
from tests.browser_support import free_port
from tests.redis_support import start_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


def _key(manager) -> str:
    return manager.build_cache_key(lambda x: x, [1], [], None)


def test_without_redis_jobs_run_here_with_one_shared_cache_folder_and_a_key_per_job(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models")
    manager = background_manager(settings)
    assert isinstance(manager, dash.DiskcacheManager)
    assert Path(manager.handle.directory) == settings.cache_folder / "jobs"
    assert manager.expire == JOB_EXPIRY_S
    assert _key(manager) != _key(manager)  # same callback, same inputs: still two jobs


def test_with_redis_jobs_go_to_celery_as_json_only(tmp_path, redis_url):
    manager = background_manager(Settings(data_dir=tmp_path / "data", redis_url=redis_url))
    assert isinstance(manager, TxlabCeleryManager)
    conf = manager.handle.conf
    assert (conf.task_serializer, conf.result_serializer, list(conf.accept_content)) == ("json", "json", ["json"])
    assert list(conf.result_accept_content) == ["json"]
    assert conf.result_expires == JOB_EXPIRY_S and conf.task_track_started
    assert _key(manager) != _key(manager)
    assert not (tmp_path / "data" / ".cache" / "jobs").exists()  # job state lives in Redis


def test_a_started_job_counts_as_running_only_while_its_worker_beats(redis_url):
    app = celery_app_for(redis_url)
    manager = TxlabCeleryManager(app, cache_by=[lambda: uuid.uuid4().hex], expire=60)
    queued, started, done = (uuid.uuid4().hex for _ in range(3))
    worker = f"txlab{uuid.uuid4().hex[:6]}@elsewhere"
    app.backend.store_result(started, {"pid": 4242, "hostname": worker}, "STARTED")
    app.backend.store_result(done, None, "SUCCESS")

    assert manager.job_running(queued)  # waiting for a worker: still on
    assert not manager.job_running(done)
    assert not manager.job_running(started)  # its worker never beat, or stopped: the page stops waiting
    keep_worker_alive(app, worker, _stopped()).join(timeout=10)
    assert manager.job_running(started)


def test_a_job_from_a_web_app_with_logins_runs_with_logins_on_any_worker(redis_url, tmp_path):
    queued = _queue_jobs(redis_url, Settings(auth="on"), Settings())
    assert [args[3][JOB_SETTINGS]["accounts_required"] for args in queued] == [True, False]

    loopback_worker = Settings(data_dir=tmp_path / "data")  # 127.0.0.1, auth auto: no logins of its own, no accounts yet
    assert job_settings(loopback_worker, queued[0][3]).accounts_required  # acts for the job's user, never as the local admin
    assert job_settings(loopback_worker, queued[1][3]) == loopback_worker
    strict_worker = Settings(data_dir=tmp_path / "data", auth="on")
    assert job_settings(strict_worker, queued[1][3]).accounts_required  # a job cannot switch logins off
    assert job_settings(loopback_worker, None) == loopback_worker


def test_once_accounts_exist_a_worker_requires_logins_whatever_the_job_says(redis_url, tmp_path):
    worker = Settings(data_dir=tmp_path / "data")  # started as the README shows: loopback, auth auto
    [unmarked] = _queue_jobs(redis_url, Settings(data_dir=tmp_path / "data"))
    AccountStore.for_state_folder(worker.state_folder).add("ana", "correct horse", admin=True)

    crafted = [None, {}, {"cookies": {}}, {JOB_SETTINGS: {"accounts_required": False}}, {JOB_SETTINGS: "off"}, unmarked[3]]
    assert [job_settings(worker, context).accounts_required for context in crafted] == [True] * len(crafted)

    (worker.state_folder / "users.json").write_text("{not json")  # unreadable: still never the local admin
    assert job_settings(worker, None).accounts_required


def test_a_job_on_a_worker_obeys_the_web_apps_limits_not_the_workers(redis_url, tmp_path):
    web = Settings(data_dir=tmp_path / "data", max_columns=7, max_decompressed_mb=64, max_stream_mb=5, max_upload_mb=3, debug=True)
    [job] = _queue_jobs(redis_url, web)
    worker = Settings(data_dir=tmp_path / "data")  # txlab worker takes no limit flags: its defaults

    settings = job_settings(worker, job[3])
    assert limits_from(settings).max_columns == 7  # what the import on the worker refuses beyond
    assert (settings.max_decompressed_mb, settings.max_stream_mb, settings.max_upload_mb, settings.debug) == (64, 5, 3, True)
    assert (settings.data_dir, settings.accounts_required) == (worker.data_dir, False)  # paths and logins stay the worker's

    for bad in ({"max_columns": 0}, {"max_columns": "7"}, {"max_columns": True}, {"debug": "yes"}):
        assert job_settings(worker, {JOB_SETTINGS: bad}) == worker  # nonsense is ignored, not obeyed


def test_an_unreachable_redis_is_named_with_its_password_hidden():
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(JobsConfigError, match=r"Cannot reach Redis at redis://:\*\*\*@127\.0\.0\.1:\d+/0") as info:
        celery_app_for(url)
    assert "hunter2" not in str(info.value)
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert safe_url("redis://ana:pw@h:1/2") == "redis://ana:***@h:1/2"


def test_missing_celery_is_explained_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "celery", None)
    with pytest.raises(JobsConfigError, match=r"celery is missing.*pip install 'txlab\[redis\]'"):
        celery_app_for("redis://127.0.0.1:6379/0")


def test_a_bad_redis_url_is_refused_by_name():
    with pytest.raises(ValueError, match="redis_url must start with redis://.*'http://cache:6379'"):
        Settings(redis_url="http://cache:6379")


@pytest.mark.parametrize("args,env,message", [
    ([], {"TXLAB_REDIS_URL": ""}, "txlab worker needs Redis: pass --redis"),
    (["--redis", "redis://127.0.0.1:{port}/0"], {}, "Cannot reach Redis at redis://127.0.0.1:{port}/0"),
])
def test_txlab_worker_explains_in_one_line_why_it_cannot_start(tmp_path, args, env, message):
    port = free_port()
    args = [a.format(port=port) for a in args]
    result = CliRunner().invoke(main, ["worker", *args, "--data-dir", str(tmp_path / "d")], env=env)
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"txlab: {message.format(port=port)}")
    assert not (tmp_path / "d").exists()  # refused before building anything


def _queue_jobs(redis_url: str, *web_apps: Settings) -> list[tuple]:
    """The Celery arguments of one job queued by each web app (a stand-in task records them)."""
    queued = []
    job_fn = SimpleNamespace(delay=lambda *args: queued.append(args) or SimpleNamespace(task_id="t1"))
    for web in web_apps:
        manager = TxlabCeleryManager(celery_app_for(redis_url), cache_by=[lambda: "k"], sent_settings=settings_for_jobs(web))
        manager.call_job_fn("key", job_fn, [1], {"cookies": {}})
    return queued


def _stopped() -> threading.Event:
    event = threading.Event()
    event.set()  # beat once, then return
    return event
