"""The URL map: a job id is opaque, slashes included, and fixed pages are never shadowed."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.routing import Match, Route

from burrow_admin.routes import build_routes
from burrow_admin.urls import AdminUrls

URLS = AdminUrls(root="")


def _resolve(url: str, method: str) -> tuple[str, dict[str, Any]]:
    """The route name and path parameters the admin's router gives ``url`` (its path
    decoded, as a server hands it over)."""
    scope = {"type": "http", "path": unquote(urlsplit(url).path), "method": method}
    for route in build_routes():
        match, child = route.matches(scope)
        if match is Match.FULL:
            assert isinstance(route, Route)
            return route.name, child["path_params"]
    raise AssertionError(f"no route for {method} {url}")


def test_a_job_id_with_slashes_opens_its_detail_page() -> None:
    assert _resolve(URLS.job("tenant/7"), "GET") == ("job_detail", {"job_id": "tenant/7"})


def test_an_action_on_a_job_id_with_slashes_reaches_that_job() -> None:
    assert _resolve(URLS.action("tenant/7", "retry"), "POST") == (
        "job_action",
        {"job_id": "tenant/7", "action": "retry"},
    )


def test_a_plain_job_id_opens_its_detail_page() -> None:
    assert _resolve(URLS.job("42"), "GET") == ("job_detail", {"job_id": "42"})


def test_the_dashboard_is_never_taken_for_a_job() -> None:
    assert _resolve(URLS.dashboard(), "GET") == ("dashboard", {})


def test_a_get_of_an_action_url_is_not_taken_for_a_job_page() -> None:
    scope = {"type": "http", "path": "/tenant/7/retry", "method": "GET"}
    matches = {
        route.name: route.matches(scope)[0] for route in build_routes() if isinstance(route, Route)
    }
    assert matches["job_detail"] is Match.NONE
    assert matches["job_action"] is Match.PARTIAL
