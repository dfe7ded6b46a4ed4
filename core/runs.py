"""Training runs on disk: the live records the Train page follows, under ``models_dir/runs/<id>/``.

A run folder holds ``run.json`` (status, stage, heartbeat, config, baselines, resulting version),
``history.json`` (the epochs so far) and, once someone asks the run to stop, a ``cancel`` flag
file. Every JSON write goes to a temporary file swapped in with ``os.replace``, so a reader
sees the previous state or the new one, never half a file. The folder is the record.

No locks: each run's files are written by the process that trains it; two processes training
two runs never touch the same file, and everyone else only reads, with two exceptions.
``request_cancel`` creates the flag file, which the trainer only reads. A reader that finds a
"running" run whose process is gone (its pid no longer exists, checked only on the machine that
runs it: a Celery worker may train elsewhere) or silent (no heartbeat for
``stale_after_s``) rewrites it as "failed", so no run shows "running" forever. A dead process
cannot write back; for a silent one the reader re-reads the record just before the rewrite, and
if the trainer was only slow, its next write sees the verdict carries its own pid and puts the
run back to "running". (Only a trainer write landing in that same instant, after minutes of
silence, could be overwritten; history.json is never rewritten by readers.)

A store opened for a viewer (``core.access.Principal``) shows that user their own runs (an admin
all of them); another user's run id is "not found" with the very message of an id that does not
exist, so nobody follows, reads or cancels someone else's training. Runs are never shared.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from core.access import Principal, can_change, can_see, owner_name
from core.errors import NotFoundError, TxlabError
from core.files import write_json
from core.registry import json_problem

log = logging.getLogger(__name__)

_ID_PATTERN = re.compile(r"^run-\d{8}-\d{6}-[0-9a-f]{6}$")
_RECORD, _HISTORY, _CANCEL = "run.json", "history.json", "cancel"
_FINAL_STATUSES = ("finished", "cancelled", "failed")
_STALE_PREFIX = "The training process stopped unexpectedly"
_HOST = socket.gethostname()


@dataclass
class RunRecord:
    """One training run as the Train page shows it."""

    id: str
    owner: str
    dataset_id: str
    dataset_name: str
    status: str  # "running" | "finished" | "cancelled" | "failed"
    started: str  # ISO UTC
    updated: str  # ISO UTC, the heartbeat
    config: dict
    stage: str  # free text: "building features", "training", "saving", ...
    epochs_total: int | None
    history: list[dict]  # from history.json, not stored in run.json
    baselines: dict  # baseline name -> metrics
    version: str | None  # the saved model version once finished
    message: str | None  # the error of a failed run, the reason for a cancelled one
    pid: int | None
    host: str | None = None  # the machine of ``pid``; elsewhere only the heartbeat tells

    @property
    def active(self) -> bool:
        return self.status == "running"

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["history"]
        return data

    @classmethod
    def from_dict(cls, data: dict, history: list[dict]) -> "RunRecord":
        known = {f.name for f in fields(cls)} - {"history"}
        return cls(**{k: v for k, v in data.items() if k in known}, history=history)


class RunStore:
    """The training runs under one models folder, as ``viewer`` may see them (all when ``viewer`` is None)."""

    def __init__(self, models_dir: str | os.PathLike, stale_after_s: float = 120.0, *, viewer: Principal | None = None) -> None:
        self.runs_dir = Path(models_dir).resolve() / "runs"
        self.stale_after_s = stale_after_s
        self.viewer = viewer

    def start(
        self, *, dataset_id: str, dataset_name: str, config: dict, epochs_total: int | None, owner: str | None = None
    ) -> RunRecord:
        """Record a new run of this process, status "running", owned by ``owner`` (by default the viewer)."""
        owner = owner_name(self.viewer, owner)
        _check_json(config, "config")
        now = _utcnow()
        run_id = f"run-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        record = RunRecord(
            id=run_id, owner=owner, dataset_id=dataset_id, dataset_name=dataset_name, status="running",
            started=_iso(now), updated=_iso(now), config=dict(config), stage="starting",
            epochs_total=epochs_total, history=[], baselines={}, version=None, message=None, pid=os.getpid(), host=_HOST,
        )
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True)
        write_json(folder / _HISTORY, [])
        write_json(folder / _RECORD, record.to_dict())  # last: readers skip folders without it
        log.info("started training run %s on %s for %s", run_id, dataset_id, owner)
        return record

    def set_stage(self, run_id: str, stage: str) -> None:
        self._update(run_id, lambda r: setattr(r, "stage", str(stage)))

    def add_baseline(self, run_id: str, name: str, metrics: dict) -> None:
        _check_json(metrics, f"baseline {name!r}")
        self._update(run_id, lambda r: r.baselines.__setitem__(str(name), dict(metrics)))

    def append_epoch(self, run_id: str, epoch: dict) -> None:
        """Add one epoch's metrics to the history (and beat the heart)."""
        _check_json(epoch, "epoch")
        folder = self._folder(run_id)
        if self.viewer is not None and not can_change(self.viewer, _load(folder).owner):
            raise NotFoundError(_not_found(run_id))
        history = _read_json(folder / _HISTORY)
        write_json(folder / _HISTORY, [*history, dict(epoch)])
        self._update(run_id)

    def heartbeat(self, run_id: str) -> None:
        self._update(run_id)

    def finish(
        self, run_id: str, status: str, *, version: str | None = None, message: str | None = None
    ) -> RunRecord:
        """Close the run as "finished", "cancelled" or "failed"."""
        if status not in _FINAL_STATUSES:
            raise TxlabError(f"A run cannot finish with status {status!r}: use one of {', '.join(_FINAL_STATUSES)}")

        def close(record: RunRecord) -> None:
            record.status, record.version, record.message = status, version, message

        record = self._update(run_id, close)
        log.info("training run %s %s", run_id, status)
        return record

    def get(self, run_id: str) -> RunRecord:
        """One run; ``NotFoundError`` for an unknown, malformed or invisible id."""
        folder = self._folder(run_id)
        try:
            record = _load(folder)
        except FileNotFoundError as error:
            raise NotFoundError(_not_found(run_id)) from error
        except (ValueError, TypeError) as error:
            raise TxlabError(f"Training run {run_id} has an unreadable {_RECORD}") from error
        if not can_see(self.viewer, record.owner):
            raise NotFoundError(_not_found(run_id))
        return self._settle(folder, record)

    def list_runs(self, owner: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs the viewer may see, newest first (optionally only one owner's)."""
        return self._all(owner)[: max(limit, 0)]

    def running(self, owner: str | None = None) -> list[RunRecord]:
        """Runs still alive that the viewer may see, newest first."""
        return [r for r in self._all(owner) if r.active]

    def request_cancel(self, run_id: str) -> None:
        """Ask the run's process to stop after its current step (its owner or an admin)."""
        self.get(run_id)  # runs are never shared: whoever sees one may cancel it
        (self._folder(run_id) / _CANCEL).write_text(_iso(_utcnow()), encoding="utf-8")
        log.info("cancel requested for training run %s", run_id)

    def cancel_requested(self, run_id: str) -> bool:
        """Whether a stop was asked for; cheap enough to call every batch.

        A malformed id raises ``NotFoundError``; a well-formed id of no run answers ``False``.
        The trainer asks through an unscoped store; a viewer's store also checks the run is theirs.
        """
        if not isinstance(run_id, str) or not _ID_PATTERN.match(run_id):
            raise NotFoundError(_not_found(run_id))
        if self.viewer is not None and not self.viewer.admin:
            self.get(run_id)
        return os.path.exists(self.runs_dir / run_id / _CANCEL)

    def _all(self, owner: str | None) -> list[RunRecord]:
        if not self.runs_dir.is_dir():
            return []
        found = []
        for folder in self.runs_dir.iterdir():
            if not _ID_PATTERN.match(folder.name):
                continue
            try:
                record = _load(folder)
            except FileNotFoundError:
                continue  # being created or deleted
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable training run %s", folder.name)
                continue
            if (owner is None or record.owner == owner) and can_see(self.viewer, record.owner):
                found.append((folder, record))
        found.sort(key=lambda pair: (pair[1].started, pair[1].id), reverse=True)
        return [self._settle(folder, record) for folder, record in found]

    def _settle(self, folder: Path, record: RunRecord) -> RunRecord:
        """The record, rewritten as "failed" first if it claims to run but its process is gone."""
        if not record.active or self._alive(record):
            return record
        try:
            fresh = _load(folder)
        except (OSError, ValueError, TypeError):
            return record
        if not fresh.active or self._alive(fresh):
            return fresh
        fresh.status = "failed"
        fresh.message = f"{_STALE_PREFIX} (no sign of life since {_clock(fresh.updated)} UTC)."
        try:
            write_json(folder / _RECORD, fresh.to_dict())
        except OSError:  # deleted meanwhile: show the verdict, there is nothing left to fix
            return fresh
        log.warning("training run %s stopped without finishing (pid %s)", fresh.id, fresh.pid)
        return fresh

    def _alive(self, record: RunRecord) -> bool:
        try:
            age = (_utcnow() - datetime.fromisoformat(record.updated)).total_seconds()
        except (TypeError, ValueError):
            return False
        return age <= self.stale_after_s and (record.host not in (None, _HOST) or _pid_alive(record.pid))

    def _update(self, run_id: str, change: Callable[[RunRecord], None] | None = None) -> RunRecord:
        """Apply a change by the run's own process and beat the heart."""
        folder = self._folder(run_id)
        record = _load(folder)
        if not can_change(self.viewer, record.owner):
            raise NotFoundError(_not_found(run_id))
        if (
            record.status == "failed"
            and record.pid == os.getpid()
            and (record.message or "").startswith(_STALE_PREFIX)
        ):
            record.status, record.message = "running", None  # judged dead while it was only slow
        if change is not None:
            change(record)
        record.updated = _iso(_utcnow())
        write_json(folder / _RECORD, record.to_dict())
        return record

    def _folder(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _ID_PATTERN.match(run_id):
            raise NotFoundError(_not_found(run_id))
        folder = self.runs_dir / run_id
        if not (folder / _RECORD).is_file():
            raise NotFoundError(_not_found(run_id))
        return folder


def _not_found(run_id: object) -> str:
    """The one message for a run that is absent, malformed or someone else's: ids cannot be probed."""
    return f"No training run {run_id!r}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _clock(iso: str) -> str:
    try:
        return f"{datetime.fromisoformat(iso).astimezone(timezone.utc):%H:%M:%S}"
    except (TypeError, ValueError):
        return "an unknown time"


def _pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this machine (unknown ids count as alive)."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)  # signal 0: checks existence, delivers nothing
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to another user
        return True
    return True


def _check_json(value: object, what: str) -> None:
    problem = json_problem(value, what)
    if problem:
        raise TxlabError(f"Cannot store {problem} in a training run: use numbers, text, lists or dicts")


def _read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def _load(folder: Path) -> RunRecord:
    data = _read_json(folder / _RECORD)
    history = _read_json(folder / _HISTORY)
    if not isinstance(data, dict) or not isinstance(history, list):
        raise ValueError(f"{folder.name} holds JSON of the wrong shape")
    return RunRecord.from_dict(data, history)
