"""What the engine records about a handler that raised."""

from __future__ import annotations

import traceback

from burrow_tasks.jobs import JobError
from burrow_tasks.text import storable_text

__all__ = ["error_class_name", "job_error"]


def error_class_name(error: BaseException) -> str:
    """``module.QualName`` of the error's class, e.g. ``builtins.ValueError``."""
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def job_error(error: BaseException) -> JobError:
    """The message, class name and traceback text of ``error``, in text every store keeps:
    a failure that could not be recorded would leave its job running until a rescue."""
    message = _message(error) or type(error).__name__
    return JobError(
        message=storable_text(message),
        error_class=storable_text(error_class_name(error)),
        traceback=storable_text("".join(traceback.format_exception(error))),
    )


def _message(error: BaseException) -> str:
    """``str(error)``, or a stand-in when the error cannot say it (its ``__str__`` raises or
    returns no text), as ``traceback`` does."""
    try:
        message = str(error)
    except Exception:
        return f"<exception str() failed: {type(error).__name__}>"
    return message
