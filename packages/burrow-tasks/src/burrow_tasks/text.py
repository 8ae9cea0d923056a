"""Text every database keeps as it is: no NUL character (PostgreSQL refuses it in ``text``)
and no lone surrogate (UTF-8 cannot encode it, so neither driver can send it)."""

from __future__ import annotations

__all__ = ["is_storable", "storable_text"]


def is_storable(text: str) -> bool:
    """True when every store can keep ``text`` as it is."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """``text`` with NUL characters and lone surrogates spelled as escapes (``\\x00``,
    ``\\ud800``): for text burrow records rather than refuses, such as an error message,
    which often quotes the bad input."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
