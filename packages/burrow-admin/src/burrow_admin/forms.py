"""Reading the admin's small URL-encoded forms without a multipart parser dependency."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

__all__ = ["parse_form", "read_form"]


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first value of each);
    any other content type has no fields the admin reads."""
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


async def read_form(request: Request) -> dict[str, str]:
    return parse_form(await request.body(), request.headers.get("content-type", ""))
