"""``txlab worker``: a Celery worker that runs the dashboard's background jobs (training, scoring, ...).

The worker builds the dashboard exactly as ``txlab run`` does (``create_app`` with the same
settings): that registers every page's background callback as a Celery task, under a name
derived from the callback's source, so the web app and its workers must run the same code
revision. ``create_app`` also reads the session secret from the shared data folder, and imports
torch once here, so each job starts without paying for that import again.

Each job runs under ``dashboard.jobs.job_settings``: the ingest limits and debug setting of the
web app that queued it (sent with the job), and logins required when that web app requires them
or any account exists in the shared data folder, whatever this worker's own host setting says.

Jobs run in a prefork pool: each job in a child process, which Celery kills if this process
dies. While it lives, this process refreshes a liveness key in Redis (``dashboard.jobs``) so
the web app notices within seconds when a worker vanishes with a job unfinished.

``celery -A dashboard.worker:celery_app worker`` works as well, with settings from ``TXLAB_*``.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from core.settings import Settings, from_env
from dashboard import context
from dashboard.jobs import JobsConfigError, TxlabCeleryManager, accounts_exist, check_redis, job_settings, keep_worker_alive

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

_stop_beating = threading.Event()


def run_worker(settings: Settings, concurrency: int = 2, loglevel: str = "INFO") -> None:
    """Serve background jobs from Redis at ``settings.redis_url`` until stopped (Ctrl-C, SIGTERM).

    Raises ``JobsConfigError`` when no Redis URL is set, Celery is not installed or Redis does not answer.
    """
    if not settings.redis_url:
        raise JobsConfigError("txlab worker needs Redis: pass --redis redis://HOST:6379/0 or set TXLAB_REDIS_URL.")
    if concurrency < 1:
        raise JobsConfigError(f"--concurrency must be at least 1, got {concurrency}.")
    check_redis(settings.redis_url)  # before the slow imports: a wrong URL is told at once
    celery_app = build_celery_app(settings)
    _connect_signals(celery_app, settings)
    log.info("txlab worker: %d job process(es), data in %s, models in %s", concurrency, settings.data_dir, settings.models_dir)
    if not settings.accounts_required and accounts_exist(settings):
        log.info("accounts exist in %s: every job acts for the user logged in where it was started", settings.state_folder)
    celery_app.worker_main([
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--hostname=txlab{os.getpid()}@%h",  # unique per process: liveness keys and control messages name it
        f"--loglevel={loglevel}",
        "--without-gossip",  # txlab needs no worker-to-worker chatter
        "--without-mingle",
    ])


def build_celery_app(settings: Settings) -> "Celery":
    """The Celery app of the dashboard built for ``settings``, with every background callback registered."""
    import torch  # noqa: F401 - once here, inherited by every job process

    from dashboard.app import create_app

    manager = create_app(settings)._background_manager  # Dash keeps the manager it was given there
    if not isinstance(manager, TxlabCeleryManager):
        raise JobsConfigError("The dashboard was built without Redis: set TXLAB_REDIS_URL or pass --redis.")
    return manager.handle


def _connect_signals(celery_app: "Celery", settings: Settings) -> None:
    """Beat in Redis from when the worker is ready until it shuts down; set each job's settings before it runs."""
    from celery import signals

    def on_ready(sender=None, **_kwargs) -> None:
        keep_worker_alive(celery_app, sender.hostname, _stop_beating)
        log.info("worker %s ready for jobs", sender.hostname)

    def on_shutdown(**_kwargs) -> None:
        _stop_beating.set()

    def before_job(args=None, **_kwargs) -> None:
        # Dash queues (result key, progress key, callback arguments, callback context).
        job_context = args[3] if isinstance(args, (list, tuple)) and len(args) > 3 else None
        context.configure(job_settings(settings, job_context))

    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
    signals.task_prerun.connect(before_job, weak=False)


def __getattr__(name: str):
    """``celery_app`` for ``celery -A dashboard.worker:celery_app worker``, built on first use from ``TXLAB_*``."""
    if name != "celery_app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    settings = from_env()
    app = build_celery_app(settings)
    _connect_signals(app, settings)
    globals()["celery_app"] = app
    return app
