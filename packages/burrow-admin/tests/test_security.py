"""Nobody gets in by default; every write carries the CSRF token; headers keep scripts out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.routing import Mount
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_admin.security import CsrfSigner
from burrow_admin.testing import Seeder
from burrow_tasks import JobQueue
from burrow_tasks.types import JobStatus

MOUNT = "/admin/jobs"
SECRET = "test-secret-key-0123456789abcdef"
LIST = MOUNT + "/"


def test_create_admin_refuses_to_start_without_an_access_rule(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="needs an access rule"):
        create_admin(queue, secret_key=SECRET)


def test_create_admin_refuses_both_a_rule_and_anonymous_access(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="not both"):
        create_admin(queue, secret_key=SECRET, access=lambda r: True, allow_anonymous=True)


def test_create_admin_refuses_a_short_secret(queue: JobQueue) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        create_admin(queue, secret_key="short", allow_anonymous=True)


def test_create_admin_refuses_an_access_rule_that_is_not_callable(queue: JobQueue) -> None:
    with pytest.raises(TypeError, match="callable"):
        create_admin(queue, secret_key=SECRET, access=True)  # type: ignore[arg-type]


def _client(queue: JobQueue, access: Callable[[Request], bool | Awaitable[bool]]) -> TestClient:
    return TestClient(
        Starlette(routes=[Mount(MOUNT, app=create_admin(queue, secret_key=SECRET, access=access))])
    )


def test_a_sync_rule_that_allows_lets_the_request_in(queue: JobQueue) -> None:
    assert _client(queue, lambda request: True).get(LIST).status_code == 200


def test_an_async_rule_is_awaited(queue: JobQueue) -> None:
    async def allow_header(request: Request) -> bool:
        return request.headers.get("x-staff") == "yes"

    client = _client(queue, allow_header)

    assert client.get(LIST, headers={"x-staff": "yes"}).status_code == 200
    assert client.get(LIST).status_code == 401


def test_a_refused_request_without_a_user_is_a_401(queue: JobQueue) -> None:
    response = _client(queue, lambda request: False).get(LIST)

    assert response.status_code == 401
    assert "Please sign in" in response.text


def test_every_route_is_guarded(queue: JobQueue) -> None:
    client = _client(queue, lambda request: False)

    for path in (LIST, f"{MOUNT}/dashboard", f"{MOUNT}/x", f"{MOUNT}/static/admin.css"):
        assert client.get(path).status_code == 401
    assert client.post(f"{MOUNT}/x/retry").status_code == 401


def test_a_rule_returning_a_non_bool_is_a_programming_error(queue: JobQueue) -> None:
    client = _client(queue, lambda request: "yes")  # type: ignore[arg-type,return-value]

    with pytest.raises(TypeError, match="must return a bool"):
        client.get(LIST)


class HeaderAuth(AuthenticationBackend):
    """The host app's authentication: ``X-User: name`` (``staff-...`` for staff)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.headers.get("x-user")
        if name is None:
            return None
        scopes = ["staff"] if name.startswith("staff-") else []
        return AuthCredentials(scopes), SimpleUser(name)


def _host_with_auth(queue: JobQueue, login_url: str | None = None) -> TestClient:
    admin = create_admin(
        queue,
        secret_key=SECRET,
        access=lambda request: "staff" in request.auth.scopes,
        login_url=login_url,
    )
    host = Starlette(
        routes=[Mount(MOUNT, app=admin)],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderAuth())],
    )
    return TestClient(host)


def test_starlette_authentication_plugs_in_staff_get_in(queue: JobQueue) -> None:
    assert _host_with_auth(queue).get(LIST, headers={"x-user": "staff-ann"}).status_code == 200


def test_an_authenticated_user_the_rule_refuses_gets_a_403(queue: JobQueue) -> None:
    response = _host_with_auth(queue).get(LIST, headers={"x-user": "bob"})

    assert response.status_code == 403
    assert "not allowed" in response.text


def test_an_anonymous_user_gets_a_401(queue: JobQueue) -> None:
    assert isinstance(UnauthenticatedUser(), BaseUser)
    assert _host_with_auth(queue).get(LIST).status_code == 401


def test_login_url_redirects_an_anonymous_get_to_sign_in(queue: JobQueue) -> None:
    response = _host_with_auth(queue, login_url="/login").get(
        LIST + "?status=dead", follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fjobs%2F%3Fstatus%3Ddead"


def test_a_login_url_with_a_query_of_its_own_gets_next_added_to_it(queue: JobQueue) -> None:
    response = _host_with_auth(queue, login_url="/accounts/login?provider=sso").get(
        LIST, follow_redirects=False
    )

    assert response.headers["location"] == "/accounts/login?provider=sso&next=%2Fadmin%2Fjobs%2F"


def test_a_post_without_a_csrf_token_is_a_403(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    client.get(LIST)  # the cookie is set, but the form field is missing

    response = client.post(f"{MOUNT}/{job_id}/retry", data={}, follow_redirects=False)

    assert response.status_code == 403
    assert seed.job(job_id).status is JobStatus.DEAD


def test_a_cross_site_post_is_a_403_even_with_a_token(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    token = client.get(LIST).context["csrf_token"]  # type: ignore[attr-defined]

    response = client.post(
        f"{MOUNT}/{job_id}/retry",
        data={"csrf_token": token},
        headers={"sec-fetch-site": "cross-site"},
        follow_redirects=False,
    )

    assert response.status_code == 403


def test_a_token_that_does_not_match_the_cookie_is_a_403(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    client.get(LIST)
    other = CsrfSigner(SECRET).new_token()

    response = client.post(
        f"{MOUNT}/{job_id}/retry", data={"csrf_token": other}, follow_redirects=False
    )

    assert response.status_code == 403


def test_a_planted_cookie_without_our_signature_is_a_403(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    forged = CsrfSigner("another-secret-0123456789").new_token()
    client.cookies.set("burrow_admin_csrf", forged, path=MOUNT)

    response = client.post(
        f"{MOUNT}/{job_id}/retry", data={"csrf_token": forged}, follow_redirects=False
    )

    assert response.status_code == 403


def test_a_planted_cookie_with_non_ascii_characters_is_replaced(client: TestClient) -> None:
    # A sibling subdomain can plant any bytes; the admin must not fail on every page for it.
    response = client.get(LIST, headers={b"cookie": "burrow_admin_csrf=a.ü".encode()})

    assert response.status_code == 200
    assert "burrow_admin_csrf=" in response.headers["set-cookie"]


def test_the_token_may_come_in_the_x_csrf_token_header(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    token = client.get(LIST).context["csrf_token"]  # type: ignore[attr-defined]

    response = client.post(
        f"{MOUNT}/{job_id}/retry", headers={"x-csrf-token": token}, follow_redirects=False
    )

    assert response.status_code == 303


def test_the_csrf_cookie_is_http_only_strict_and_scoped_to_the_admin(client: TestClient) -> None:
    cookie = client.get(LIST).headers["set-cookie"]

    assert "burrow_admin_csrf=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert f"Path={MOUNT}" in cookie


def test_a_valid_cookie_is_reused_not_replaced(client: TestClient) -> None:
    first = client.get(LIST)
    second = client.get(LIST)

    assert "set-cookie" not in second.headers
    assert second.context["csrf_token"] == first.context["csrf_token"]  # type: ignore[attr-defined]


def test_an_oversized_form_is_refused(client: TestClient, seed: Seeder) -> None:
    response = client.post(f"{MOUNT}/{seed.dead()}/retry", data={"x": "a" * 70_000})

    assert response.status_code == 413


@pytest.mark.parametrize("path", [LIST, f"{MOUNT}/dashboard", f"{MOUNT}/missing", LIST + "?page=0"])
def test_every_page_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers

    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


def test_a_denied_request_carries_the_security_headers_too(queue: JobQueue) -> None:
    headers = _client(queue, lambda request: False).get(LIST).headers

    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_pages_have_no_inline_script_or_style(client: TestClient, seed: Seeder) -> None:
    seed.dead()
    for path in (LIST, f"{MOUNT}/dashboard"):
        html = client.get(path).text
        assert "<script>" not in html
        assert " style=" not in html
        assert " onclick=" not in html
