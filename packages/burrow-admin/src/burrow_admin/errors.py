"""Errors the admin answers with a page: a status code and a message in the reader's language."""

from __future__ import annotations

__all__ = ["AdminError", "BadParameter", "Label"]


class Label(str):
    """A parameter of an error message that is itself a message id: translated as well."""

    __slots__ = ()


class AdminError(Exception):
    """Stop handling the request and answer ``status_code`` with ``message``.

    ``message`` is an English gettext message id (marked with ``N_``) with ``%(name)s``
    placeholders filled from ``params`` after translation, so the reader gets their language.
    """

    def __init__(self, status_code: int, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.status_code = status_code
        self.message = message
        self.params = params


class BadParameter(AdminError):
    """A query or form parameter is missing, malformed or out of range: a 400."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(400, message, **params)
