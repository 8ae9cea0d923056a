"""What the engine records about a handler that raised."""

from __future__ import annotations

import traceback

from burrow_tasks.jobs import JobError

__all__ = ["error_class_name", "job_error", "storable_text"]


def error_class_name(error: BaseException) -> str:
    """``module.QualName`` of the error's class, e.g. ``builtins.ValueError``."""
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def job_error(error: BaseException) -> JobError:
    """The message, class name and traceback text of ``error``, in text every store keeps."""
    message = str(error) or type(error).__name__
    return JobError(
        message=storable_text(message),
        error_class=storable_text(error_class_name(error)),
        traceback=storable_text("".join(traceback.format_exception(error))),
    )


def storable_text(text: str) -> str:
    """``text`` with NUL characters and lone surrogates spelled as escapes (``\\x00``,
    ``\\ud800``). An error message may hold either (it often quotes the bad input), and
    PostgreSQL refuses NUL in text while UTF-8 cannot encode a lone surrogate: the failure
    would not be recorded, and the job would sit running until a rescue."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
