"""The streamed upload route: large files arrive in chunks, straight to disk (``core.uploads``).

``assets/stream_upload.js`` drives it from the Data page; the page's background callback then
imports the finished file with ``import_upload`` like any other upload (``abandon_upload`` when
the user cancels that import). Every answer is JSON; an error is
``{"error": message}`` with a 4xx status (5xx with a generic message, the traceback in the log).

    POST   <prefix>upload/start              {"name", "size"} -> 201 {"id", "name", "size", "chunk_size"}
    PUT    <prefix>upload/<id>?offset=N      raw chunk body (at most chunk_size bytes) -> {"received"}
    POST   <prefix>upload/<id>/finish        -> {"id", "name", "size"} once every byte arrived
    DELETE <prefix>upload/<id>               -> {"removed": id} (cancel)

Requests must come from txlab's own page: they carry the ``X-Txlab-Upload: 1`` header (a
cross-site form cannot set one, and a cross-site script needs a CORS permission txlab never
gives), and an ``Origin`` header, when sent, must name this server. An upload belongs to the
user who started it (``context.principal()``); the login gate covers these routes as any other.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from core.datasets import ImportResult, import_table, limits_from
from core.errors import NotFoundError, TxlabError
from core.settings import Settings
from core.uploads import UploadStore
from dashboard import context

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024  # largest chunk a client may send; smaller when MAX_CONTENT_LENGTH is
HEADER = "X-Txlab-Upload"
UPLOADS_FOLDER = ".uploads"  # under the data folder: hidden from the server-file list


def register_streamed_upload(server: Flask, prefix: str = "/") -> None:
    """Serve the upload routes on ``server`` under ``<prefix>upload/`` (Dash's routes prefix)."""
    server.register_blueprint(_blueprint(), url_prefix=prefix.rstrip("/") + "/upload")


def upload_store(settings: Settings) -> UploadStore:
    """The store of partial uploads for ``settings``: ``DATA_DIR/.uploads``, files up to ``max_stream_mb``."""
    return UploadStore(settings.data_dir / UPLOADS_FOLDER, settings.max_stream_bytes)


class ImportCancelledError(TxlabError):
    """The upload was cancelled (its file removed) while it was being imported."""


def import_upload(upload_id: str, on_stage: Callable[[str], None] | None = None) -> ImportResult:
    """Store the current user's finished upload as a dataset, then remove the upload (also when reading fails).

    ``on_stage`` hears "reading" and "storing" (``core.datasets.import_table``). Raises
    ``NotFoundError`` for an unknown or another user's id, ``UploadError`` while bytes are
    missing (the upload is then kept), ``IngestError`` for a file that cannot be read, and
    ``ImportCancelledError`` when Cancel removed the upload before the job was stopped (the
    dataset just stored is then deleted: a cancelled import leaves nothing).
    """
    settings = context.settings()
    owner = context.principal().name
    store = upload_store(settings)
    info, path = store.finish(upload_id, owner)
    workspace = context.workspace()
    try:
        result = import_table(workspace, path, name=info.name, origin="upload", limits=limits_from(settings),
                              owner=owner, on_stage=on_stage)
    finally:
        still_there = _remove_upload(store, info.id, owner)
    if not still_there:
        workspace.delete(result.meta.id)
        raise ImportCancelledError(f"The import of “{info.name}” was cancelled.")
    return result


def abandon_upload(upload_id: str) -> bool:
    """Remove the current user's upload whose import was cancelled; False when it is already gone.

    A cancelled import is a killed job process that could not clean up after itself: the page
    removes the file instead, so a cancel leaves neither a dataset nor the uploaded file.
    """
    return _remove_upload(upload_store(context.settings()), upload_id, context.principal().name)


def chunk_size() -> int:
    """The largest chunk this server takes: ``CHUNK_BYTES``, or less below Flask's ``MAX_CONTENT_LENGTH``."""
    cap = current_app.config.get("MAX_CONTENT_LENGTH")
    return min(CHUNK_BYTES, int(cap)) if cap else CHUNK_BYTES


def _blueprint() -> Blueprint:
    """A fresh blueprint per server (a blueprint object registers its routes on one app only)."""
    bp = Blueprint("txlab_streamed_upload", __name__)
    bp.before_request(_same_origin_only)
    bp.register_error_handler(Exception, _error_response)
    bp.add_url_rule("/start", view_func=_start, methods=["POST"])
    bp.add_url_rule("/<upload_id>", view_func=_append, methods=["PUT"])
    bp.add_url_rule("/<upload_id>/finish", view_func=_finish, methods=["POST"])
    bp.add_url_rule("/<upload_id>", view_func=_discard, methods=["DELETE"])
    return bp


def _start() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "Send JSON with the file's name and size.")
    info = upload_store(context.settings()).start(_owner(), body.get("name"), body.get("size"))
    return jsonify(id=info.id, name=info.name, size=info.size, chunk_size=chunk_size()), 201


def _append(upload_id: str) -> Response | tuple[Response, int]:
    length = request.content_length
    if length is None:
        return _error(411, "Send each chunk with a Content-Length header.")
    limit = chunk_size()
    if length > limit:
        return _error(413, f"A chunk of {length:,} bytes is above this server's chunk limit of {limit:,} bytes.")
    offset = request.args.get("offset")
    if offset is None:
        return _error(400, "Say where the chunk goes: ?offset=<bytes received so far>.")
    received = upload_store(context.settings()).append(upload_id, _owner(), offset, request.stream)
    return jsonify(received=received)


def _finish(upload_id: str) -> Response:
    info, _ = upload_store(context.settings()).finish(upload_id, _owner())
    return jsonify(id=info.id, name=info.name, size=info.size)


def _discard(upload_id: str) -> Response:
    upload_store(context.settings()).discard(upload_id, _owner())
    return jsonify(removed=upload_id)


def _remove_upload(store: UploadStore, upload_id: str, owner: str) -> bool:
    """Remove ``owner``'s upload; False when it was gone already (imported, cancelled, or never theirs)."""
    try:
        store.discard(upload_id, owner)
    except NotFoundError:
        return False
    return True


def _owner() -> str:
    return context.principal().name


def _same_origin_only() -> tuple[Response, int] | None:
    """Refuse a request that did not come from a txlab page on this server."""
    if request.headers.get(HEADER) != "1":
        return _error(403, f"Upload requests must come from the txlab page (the {HEADER} header is missing).")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        return _error(403, f"Cross-site upload refused: origin {origin!r} is not this server ({request.host}).")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return _error(403, f"Cross-site upload refused (Sec-Fetch-Site: {site!r}).")
    return None


def _error_response(error: Exception) -> tuple[Response, int]:
    if isinstance(error, NotFoundError):
        return _error(404, str(error))
    if isinstance(error, TxlabError):
        return _error(400, str(error))
    if isinstance(error, HTTPException):
        return _error(error.code or 400, error.description or error.name)
    log.exception("streamed upload failed", exc_info=error)
    return _error(500, "The upload failed on the server; the details are in the server log.")


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status
