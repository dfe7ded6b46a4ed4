"""Chunked uploads written straight to disk: ``UploadStore`` under ``DATA_DIR/.uploads/``.

A browser sends a large file as a sequence of chunks; each chunk is appended at the offset the
store expects, so no process ever holds more than one read block of it. An upload is two files
named by a random id: ``<id>.part`` (the bytes so far) and ``<id>.json`` (owner, label, declared
size, creation time). The user's file name is kept as a label only and never becomes part of a
path, so names like ``../../app.py`` cannot write outside the folder.

An upload belongs to the user who started it; any other user's id is "not found", with the very
message of an id that does not exist. A chunk is all or nothing: a failed or refused append
leaves the file as it was, and re-sending a chunk that already arrived (a retry after a lost
response) is accepted without writing it twice. Partial uploads untouched for ``STALE_AFTER_S``
are removed whenever a new upload starts.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import NotFoundError, TxlabError
from core.files import write_json
from core.secret import private_folder

try:  # POSIX: one append at a time per upload, across threads and server processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends of one upload are not expected to overlap
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STALE_AFTER_S = 24 * 3600
MAX_OPEN_PER_OWNER = 4  # unfinished uploads one user may have at a time ...
IDLE_AFTER_S = 600  # ... not counting those without a chunk for this long (a closed tab), which make way
BLOCK_BYTES = 1024 * 1024  # how much of a chunk is read, compared or written at once
MAX_LABEL_CHARS = 200
_ID_PATTERN = re.compile(r"^up-[0-9a-f]{32}$")
_PART, _META = ".part", ".json"


class UploadError(TxlabError):
    """A chunk or upload the store refuses: wrong offset, too large, incomplete, another's id."""


@dataclass(frozen=True)
class UploadInfo:
    """One upload as the store records it; ``received`` is how many bytes have arrived so far."""

    id: str
    owner: str
    name: str
    size: int
    created: float
    received: int = 0

    @property
    def complete(self) -> bool:
        return self.received == self.size


class UploadStore:
    """Partial and finished uploads in ``folder`` (created private, mode 0700), each at most ``max_bytes``."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int, *, stale_after_s: float = STALE_AFTER_S,
                 max_open_per_owner: int = MAX_OPEN_PER_OWNER) -> None:
        if int(max_bytes) < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes!r}.")
        self.folder = Path(folder).resolve()
        self.max_bytes = int(max_bytes)
        self.stale_after_s = stale_after_s
        self.max_open_per_owner = max_open_per_owner

    def start(self, owner: str, filename: object, size: object) -> UploadInfo:
        """Open an upload of ``size`` bytes for ``owner``; ``filename`` is kept as a label only.

        Refuses a size that is not a whole number above 0 and at most ``max_bytes``, more than
        ``max_open_per_owner`` unfinished uploads for one user, and a size the disk cannot hold.
        """
        size = _check_size(size, self.max_bytes)
        private_folder(self.folder)
        self.remove_stale()
        open_uploads = self._make_way(owner)
        if open_uploads >= self.max_open_per_owner:
            raise UploadError(f"{owner} already has {open_uploads} unfinished uploads; finish or cancel one first.")
        free = shutil.disk_usage(self.folder).free
        if size > free:
            raise UploadError(f"Not enough disk space on the server for {_mb(size)}: {_mb(free)} free.")
        info = UploadInfo(id=f"up-{secrets.token_hex(16)}", owner=str(owner), name=clean_label(filename), size=size, created=time.time())
        fd = os.open(self._path(info.id, _PART), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        write_json(self._path(info.id, _META), {k: v for k, v in asdict(info).items() if k != "received"}, private=True)
        log.info("upload %s started by %s: %s bytes", info.id, owner, size)
        return info

    def append(self, upload_id: str, owner: str, offset: object, chunk: bytes | BinaryIO) -> int:
        """Write ``chunk`` (bytes or a readable stream) at ``offset``; return the bytes received so far.

        ``offset`` must be where the previous chunk ended. Bytes that already arrived may be sent
        again (they must be the same bytes) and are not written twice. Going past the declared size,
        a gap, or different bytes raise ``UploadError`` and leave the upload as it was.
        """
        info = self.get(upload_id, owner)
        offset = _check_offset(offset)
        stream = io.BytesIO(chunk) if isinstance(chunk, (bytes, bytearray, memoryview)) else chunk
        part = self._path(info.id, _PART)
        with open(part, "r+b") as fh:
            _lock(fh)
            received = os.fstat(fh.fileno()).st_size
            if offset > received:
                raise UploadError(f"Chunk at offset {offset:,} of upload {info.id} leaves a gap: {received:,} bytes received so far.")
            try:
                position = _write_from(fh, stream, offset, received, info)
            except BaseException:
                fh.truncate(received)  # all or nothing: a refused or broken chunk leaves no trace
                raise
            fh.flush()
            now = time.time()
            os.utime(part, (now, now))  # touched even by a retry: the upload is alive
            return max(position, received)

    def get(self, upload_id: str, owner: str) -> UploadInfo:
        """The upload ``upload_id`` of ``owner``; ``NotFoundError`` for a malformed, unknown or another's id."""
        if not isinstance(upload_id, str) or not _ID_PATTERN.match(upload_id):
            raise NotFoundError(_not_found(upload_id))
        info = self._read(upload_id)
        if info is None or info.owner != owner:
            raise NotFoundError(_not_found(upload_id))
        return info

    def finish(self, upload_id: str, owner: str) -> tuple[UploadInfo, Path]:
        """The complete upload and its file; ``UploadError`` while bytes are still missing."""
        info = self.get(upload_id, owner)
        if not info.complete:
            raise UploadError(f"Upload {info.id} of “{info.name}” is incomplete: {info.received:,} of {info.size:,} bytes received.")
        return info, self._path(info.id, _PART)

    def discard(self, upload_id: str, owner: str) -> None:
        """Remove an upload, partial or complete (after it was imported, or on cancel)."""
        info = self.get(upload_id, owner)
        self._remove(info.id)
        log.info("upload %s removed", info.id)

    def remove_stale(self, now: float | None = None) -> list[str]:
        """Remove uploads (and stray files) untouched for ``stale_after_s``; return the removed ids."""
        now = time.time() if now is None else now
        removed = []
        if not self.folder.is_dir():
            return removed
        for path in self.folder.iterdir():
            try:
                if now - path.stat().st_mtime <= self.stale_after_s:
                    continue
            except FileNotFoundError:
                continue
            upload_id = path.name.removesuffix(_PART).removesuffix(_META)
            if _ID_PATTERN.match(upload_id) and upload_id not in removed:
                part = self._path(upload_id, _PART)
                if part.exists() and now - part.stat().st_mtime <= self.stale_after_s:
                    continue  # its sidecar is old, but chunks still arrive
                self._remove(upload_id)
                removed.append(upload_id)
                log.info("removed stale upload %s", upload_id)
            elif path.is_file():
                path.unlink(missing_ok=True)
        return removed

    def _make_way(self, owner: str) -> int:
        """Remove ``owner``'s idle uploads when they have too many open; return how many stay open."""
        mine = [u for u in self._all() if u.owner == owner]
        if len(mine) < self.max_open_per_owner:
            return len(mine)
        now = time.time()
        for info in mine:
            try:
                idle = now - self._path(info.id, _PART).stat().st_mtime > IDLE_AFTER_S
            except FileNotFoundError:
                idle = True
            if idle:
                self._remove(info.id)
                log.info("removed idle upload %s of %s to make way for a new one", info.id, owner)
        return sum(1 for u in self._all() if u.owner == owner)

    def _all(self) -> Iterator[UploadInfo]:
        for path in self.folder.glob(f"*{_META}"):
            upload_id = path.name.removesuffix(_META)
            if _ID_PATTERN.match(upload_id) and (info := self._read(upload_id)) is not None:
                yield info

    def _read(self, upload_id: str) -> UploadInfo | None:
        try:
            data = json.loads(self._path(upload_id, _META).read_text(encoding="utf-8"))
            received = self._path(upload_id, _PART).stat().st_size
            return UploadInfo(id=upload_id, owner=str(data["owner"]), name=str(data["name"]), size=int(data["size"]),
                              created=float(data["created"]), received=received)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("unreadable upload record %s", upload_id)
            return None

    def _path(self, upload_id: str, suffix: str) -> Path:
        return self.folder / f"{upload_id}{suffix}"

    def _remove(self, upload_id: str) -> None:
        self._path(upload_id, _PART).unlink(missing_ok=True)
        self._path(upload_id, _META).unlink(missing_ok=True)


def clean_label(filename: object) -> str:
    """A display label from a user's file name: its last path part, no control characters, at most 200 characters."""
    text = unicodedata.normalize("NFC", str(filename or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[/\\]", text)[-1].strip()
    if text in ("", ".", ".."):
        return "upload"
    return text[-MAX_LABEL_CHARS:]  # the end keeps the extension, the reader's format hint


def _write_from(fh: BinaryIO, stream: BinaryIO, offset: int, received: int, info: UploadInfo) -> int:
    """Copy ``stream`` into ``fh`` from ``offset`` block by block; bytes below ``received`` are compared, not written."""
    position = offset
    while block := stream.read(BLOCK_BYTES):
        end = position + len(block)
        if end > info.size:
            raise UploadError(f"Chunk at offset {offset:,} goes past the declared size of upload {info.id} ({info.size:,} bytes).")
        overlap = max(0, min(end, received) - position)
        if overlap:
            fh.seek(position)
            if fh.read(overlap) != bytes(block[:overlap]):
                raise UploadError(f"Chunk at offset {offset:,} differs from the bytes upload {info.id} already received there.")
        if overlap < len(block):
            fh.seek(position + overlap)
            fh.write(block[overlap:])
        position = end
    return position


def _check_size(size: object, max_bytes: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        try:
            size = int(str(size))
        except ValueError:
            raise UploadError(f"File size must be a whole number of bytes, got {size!r}.") from None
    if size < 1:
        raise UploadError(f"The file is empty (size {size!r}); choose a file with data.")
    if size > max_bytes:
        raise UploadError(f"The file is {_mb(size)}, above the {_mb(max_bytes)} limit for large uploads.")
    return size


def _check_offset(offset: object) -> int:
    try:
        value = int(str(offset))
    except ValueError:
        raise UploadError(f"Offset must be a whole number of bytes, got {offset!r}.") from None
    if value < 0:
        raise UploadError(f"Offset must not be negative, got {value}.")
    return value


def _not_found(upload_id: object) -> str:
    """The one message for an upload that is absent, malformed or someone else's: ids cannot be probed."""
    return f"Upload {upload_id!r} not found."


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f}".removesuffix(".0") + " MB"


def _lock(fh: BinaryIO) -> None:
    if fcntl is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released when the file is closed

