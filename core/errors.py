"""Exceptions that carry a message a user can act on.

Every one is a ``ValueError`` so callers that only care about "bad input" can catch that;
pages show ``str(error)`` in an alert and log the traceback.
"""


class TxlabError(ValueError):
    """Base class: the message names the file, column, row or value to fix."""


class IngestError(TxlabError):
    """A file cannot be read as a table (empty, binary, unterminated quote, too large, ...)."""


class MappingError(TxlabError):
    """A column mapping cannot be applied (unknown column, a field mapped twice, ...)."""


class NotFoundError(TxlabError):
    """A dataset or model id that does not exist (or that the caller may not see)."""
