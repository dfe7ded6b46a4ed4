"""Where background callbacks run: a ``DiskcacheManager`` on this machine, or Celery workers through Redis.

``background_manager(settings)`` is the one place that chooses. With no ``redis_url`` every job
is a process forked from the web server and its state lives in the shared cache folder. With
one, jobs are Celery tasks that ``txlab worker`` processes run (on this machine or others that
share the data and model folders), and their state lives in Redis.

Both managers give every job a unique key: Dash's default key (a hash of the callback and its
inputs) would hand one user's result to another who asked the same thing.

A worker knows nothing of how the web app is served, yet a job must run as the web app would
run it, for the user who started it. So each job carries the web app's settings that jobs obey
(``JOB_SETTINGS``: whether logins are required, the ingest limits, debug), and the worker runs
the job under them (``job_settings``), never loosening its own login rule. A worker fails closed:
once accounts exist in the shared state folder, every job identifies its user from the job's
session cookie, whatever the message says, so a message that lacks the mark (crafted by anyone
who can write to Redis, or queued by other code) never runs as the local admin.

A Celery task whose worker died without a word (SIGKILL, a machine switched off) would stay
"started" in Redis for ever, and the page that waits on it with it. So each worker keeps a
short-lived liveness key in Redis (``keep_worker_alive``), and the manager treats a started task
whose worker's key has expired as over (``TxlabCeleryManager.job_running``).
"""
from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import dash
import diskcache

from core.accounts import AccountStore
from core.errors import TxlabError
from core.settings import Settings

if TYPE_CHECKING:  # celery is an optional dependency
    from celery import Celery

log = logging.getLogger(__name__)

JOB_EXPIRY_S = 3600  # a finished job's result waits this long for its page to collect it
ALIVE_TTL_S = 15  # a worker silent this long counts as dead ...
ALIVE_EVERY_S = 5  # ... and a live one refreshes its key this often
_ALIVE_KEY = "txlab-worker-alive:{}"
_RUNNING = ("PENDING", "RECEIVED", "STARTED", "RETRY", "PROGRESS")
_INSTALL_HINT = "pip install 'txlab[redis]'"
JOB_SETTINGS = "txlab_settings"  # in a job's callback context: the web app's settings that jobs obey
SENT_SETTINGS = ("max_upload_mb", "max_stream_mb", "max_columns", "max_decompressed_mb", "debug")  # besides logins


class JobsConfigError(TxlabError):
    """Background jobs cannot run as configured (Celery missing, Redis unreachable)."""


def background_manager(settings: Settings) -> dash.DiskcacheManager | dash.CeleryManager:
    """The manager for ``settings``: Celery over ``settings.redis_url`` when set, else a shared disk cache.

    Raises ``JobsConfigError`` naming the URL (password hidden) when Redis is set but unusable.
    """
    if settings.redis_url:
        log.info("background jobs go to Celery workers through Redis at %s", safe_url(settings.redis_url))
        return TxlabCeleryManager(celery_app_for(settings.redis_url), cache_by=[_unique_key], expire=JOB_EXPIRY_S,
                                  sent_settings=settings_for_jobs(settings))
    # One absolute folder for every server process: each would otherwise get its own temp dir.
    jobs = diskcache.Cache(str(settings.cache_folder / "jobs"))
    return dash.DiskcacheManager(jobs, cache_by=[_unique_key], expire=JOB_EXPIRY_S)


def celery_app_for(redis_url: str) -> "Celery":
    """A Celery app using Redis at ``redis_url`` as broker and result store, JSON only.

    JSON only, so a message in Redis can never make a worker unpickle code. Checks Redis answers.
    """
    try:
        from celery import Celery
        import redis  # noqa: F401 - Celery's Redis transport needs it; say so now rather than at the first job
    except ImportError as error:
        raise JobsConfigError(f"Background jobs on Redis need the optional packages celery and redis ({error.name} is missing): {_INSTALL_HINT}") from None
    check_redis(redis_url)
    app = Celery("txlab", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=JOB_EXPIRY_S,
        task_track_started=True,  # a started task names its worker: see TxlabCeleryManager.job_running
        worker_prefetch_multiplier=1,  # a worker busy with a long training run leaves queued jobs to others
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,  # the txlab command configured logging already
    )
    return app


def check_redis(redis_url: str, timeout_s: float = 5.0) -> None:
    """Raise ``JobsConfigError`` unless Redis at ``redis_url`` answers a PING within ``timeout_s``."""
    try:
        import redis
    except ImportError:
        raise JobsConfigError(f"Background jobs on Redis need the optional packages celery and redis (redis is missing): {_INSTALL_HINT}") from None

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise JobsConfigError(f"Cannot reach Redis at {safe_url(redis_url)}: {reason}") from None


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def settings_for_jobs(settings: Settings) -> dict[str, object]:
    """The web app's settings a job must obey on any worker: whether logins are required, and ``SENT_SETTINGS``.

    Sent with every job, so flags given to ``txlab run`` reach jobs on workers started without them.
    """
    return {"accounts_required": settings.accounts_required, **{name: getattr(settings, name) for name in SENT_SETTINGS}}


class TxlabCeleryManager(dash.CeleryManager):
    """Dash's ``CeleryManager``, but a started job whose worker stopped beating counts as over,
    and each job carries the web app's settings that jobs obey (``settings_for_jobs``).

    Dash asks ``job_running`` on every poll; when it answers False and no result came, the page
    stops waiting (its Train and Cancel buttons reset) and reads how the run ended from its record.
    """

    def __init__(self, celery_app: "Celery", cache_by=None, expire: int | None = None, *,
                 sent_settings: dict[str, object] | None = None) -> None:
        super().__init__(celery_app, cache_by=cache_by, expire=expire)
        self.sent_settings = dict(sent_settings or {})

    def call_job_fn(self, key, job_fn, args, context):
        context[JOB_SETTINGS] = dict(self.sent_settings)
        return super().call_job_fn(key, job_fn, args, context)

    def job_running(self, job) -> bool:
        if not job:
            return False
        meta = self.handle.backend.get_task_meta(job)
        if meta.get("status") not in _RUNNING:
            return False
        if meta.get("status") == "STARTED":
            worker = (meta.get("result") or {}).get("hostname")
            if worker and not worker_alive(self.handle, worker):
                log.warning("background job %s: its worker %s stopped without finishing it", job, worker)
                return False
        return True  # a queued job waits for a worker, however long that takes


def job_settings(worker_settings: Settings, job_context: object) -> Settings:
    """The settings a job runs under on a worker: the web app's limits and debug from the job, and
    logins required if the worker, the job's web app, or the accounts in the shared state folder say so.

    Never looser on logins than the worker: a job can switch them on, not off. Sent values of the
    wrong type or out of range are ignored (the worker's own apply), with a warning in the log.
    """
    sent = job_context.get(JOB_SETTINGS) if isinstance(job_context, dict) else None
    sent = sent if isinstance(sent, dict) else {}
    settings = _with_sent_limits(worker_settings, sent)
    if not settings.accounts_required and (sent.get("accounts_required") is True or accounts_exist(worker_settings)):
        settings = settings.with_overrides(auth="on")
    return settings


def accounts_exist(settings: Settings) -> bool:
    """Whether users exist in ``settings``' state folder; True when the user file cannot be read (fail closed)."""
    try:
        return AccountStore.for_state_folder(settings.state_folder).any_accounts()
    except (TxlabError, OSError):
        log.warning("cannot read the accounts in %s: jobs run with logins required", settings.state_folder, exc_info=True)
        return True


def _with_sent_limits(settings: Settings, sent: dict) -> Settings:
    """``settings`` with the ``SENT_SETTINGS`` values found in ``sent`` (whole numbers, debug a bool)."""
    values = {name: sent[name] for name in SENT_SETTINGS if name in sent and _right_type(name, sent[name])}
    if len(values) < len([name for name in SENT_SETTINGS if name in sent]):
        log.warning("a job sent settings of the wrong type; this worker's own apply for those: %r", sent)
    try:
        return settings.with_overrides(**values)
    except ValueError as error:
        log.warning("a job sent settings this worker cannot use (%s); it runs under the worker's own", error)
        return settings


def _right_type(name: str, value: object) -> bool:
    """``debug`` must be a bool; the limits whole numbers (not bools)."""
    if name == "debug":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool)


def keep_worker_alive(celery_app: "Celery", worker: str, stop: threading.Event) -> threading.Thread:
    """Refresh ``worker``'s liveness key every few seconds until ``stop`` is set, from a daemon thread."""

    def beat() -> None:
        client = celery_app.backend.client
        while True:
            try:
                client.set(_ALIVE_KEY.format(worker), "1", ex=ALIVE_TTL_S)
            except Exception:  # noqa: BLE001 - Redis away for a moment: try again next beat
                log.warning("worker %s could not refresh its liveness key", worker, exc_info=True)
            if stop.wait(ALIVE_EVERY_S):
                return

    thread = threading.Thread(target=beat, name=f"txlab-alive-{worker}", daemon=True)
    thread.start()
    return thread


def worker_alive(celery_app: "Celery", worker: str) -> bool:
    """Whether ``worker`` refreshed its liveness key within the last ``ALIVE_TTL_S`` seconds."""
    try:
        return bool(celery_app.backend.client.exists(_ALIVE_KEY.format(worker)))
    except Exception:  # noqa: BLE001 - cannot tell: keep waiting rather than drop a live job
        log.warning("cannot check whether worker %s is alive", worker, exc_info=True)
        return True


def _unique_key() -> str:
    return uuid.uuid4().hex
