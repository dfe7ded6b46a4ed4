"""The streamed upload route: large files arrive in chunks, straight to disk (``core.uploads``).

``assets/stream_upload.js`` drives it from the Data page; the page's callback then imports the
finished file with ``import_upload`` like any other upload. Every answer is JSON; an error is
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


def import_upload(upload_id: str) -> ImportResult:
    """Store the current user's finished upload as a dataset, then remove the upload (also when reading fails).

    Raises ``NotFoundError`` for an unknown or another user's id, ``UploadError`` while bytes are
    missing (the upload is then kept), and ``IngestError`` for a file that cannot be read.
    """
    settings = context.settings()
    owner = context.principal().name
    store = upload_store(settings)
    info, path = store.finish(upload_id, owner)
    try:
        return import_table(context.workspace(), path, name=info.name, origin="upload", limits=limits_from(settings), owner=owner)
    finally:
        store.discard(info.id, owner)


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
