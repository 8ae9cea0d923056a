"""Retry, cancel and delete: the status rules, confirmation, redirects and error codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from burrow_admin.testing import Seeder
from burrow_tasks.types import JobStatus

MOUNT = "/admin/jobs"
PostAction = Callable[..., Any]


def test_retry_sends_a_dead_job_back_to_pending_and_redirects_to_it(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.dead()

    response = post_action(job_id, "retry")

    assert response.status_code == 303
    assert response.headers["location"] == f"{MOUNT}/{job_id}"
    job = seed.job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0
    assert job.last_error is None


def test_retry_of_a_pending_job_is_a_400_and_changes_nothing(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.pending()

    response = post_action(job_id, "retry")

    assert response.status_code == 400
    assert "Only a failed or dead job can be retried; its status is Pending." in response.text
    assert seed.job(job_id).status is JobStatus.PENDING


def test_cancel_without_confirmation_shows_the_confirmation_page(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.pending()

    response = post_action(job_id, "cancel")

    assert response.status_code == 200
    assert response.template.name == "burrow_admin/confirm.html"
    assert 'name="confirmed" value="yes"' in response.text
    assert seed.job(job_id).status is JobStatus.PENDING


def test_confirmed_cancel_makes_the_job_dead_and_cancelled(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.pending()

    response = post_action(job_id, "cancel", confirmed="yes")

    assert response.status_code == 303
    job = seed.job(job_id)
    assert job.status is JobStatus.DEAD
    assert job.cancelled is True


def test_cancel_of_a_running_job_clears_its_lease(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.running()

    post_action(job_id, "cancel", confirmed="yes")

    job = seed.job(job_id)
    assert job.status is JobStatus.DEAD
    assert job.lease is None


@pytest.mark.parametrize("state", ["completed", "dead"])
def test_cancel_of_a_final_job_is_a_400(
    client: TestClient, seed: Seeder, state: str, post_action: PostAction
) -> None:
    job_id = getattr(seed, state)()

    response = post_action(job_id, "cancel", confirmed="yes")

    assert response.status_code == 400
    assert "Only a pending, failed or running job can be cancelled" in response.text


def test_confirmed_delete_removes_the_job_and_returns_to_the_list(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.completed()

    response = post_action(job_id, "delete", confirmed="yes")

    assert response.status_code == 303
    assert response.headers["location"] == f"{MOUNT}/"
    assert seed.get(job_id) is None


def test_delete_from_the_detail_page_does_not_return_to_the_deleted_job(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.pending()

    response = post_action(job_id, "delete", confirmed="yes", next=f"{MOUNT}/{job_id}")

    assert response.headers["location"] == f"{MOUNT}/"


@pytest.mark.parametrize("action", ["retry", "cancel", "delete"])
def test_an_action_on_an_unknown_job_is_a_404(
    client: TestClient, action: str, post_action: PostAction
) -> None:
    response = post_action("missing", action, confirmed="yes")

    assert response.status_code == 404


def test_an_unknown_action_is_a_404(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    assert post_action(seed.pending(), "explode").status_code == 404


def test_the_redirect_goes_back_to_next_within_the_admin(
    client: TestClient, seed: Seeder, post_action: PostAction
) -> None:
    job_id = seed.dead()

    response = post_action(job_id, "retry", next=f"{MOUNT}/?status=dead&page=2")

    assert response.headers["location"] == f"{MOUNT}/?status=dead&page=2"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "/elsewhere", "/\\evil.example"]
)
def test_next_outside_the_admin_is_ignored(
    client: TestClient, seed: Seeder, next_url: str, post_action: PostAction
) -> None:
    job_id = seed.dead()

    response = post_action(job_id, "retry", next=next_url)

    assert response.headers["location"] == f"{MOUNT}/{job_id}"


def test_an_htmx_request_gets_an_hx_redirect_header(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()
    token = client.get(f"{MOUNT}/").context["csrf_token"]  # type: ignore[attr-defined]

    response = client.post(
        f"{MOUNT}/{job_id}/retry",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )

    assert response.status_code == 200
    assert response.headers["hx-redirect"] == f"{MOUNT}/{job_id}"


def _htmx_retry(client: TestClient, job_id: str, next_url: str) -> Any:
    token = client.get(f"{MOUNT}/").context["csrf_token"]  # type: ignore[attr-defined]
    return client.post(
        f"{MOUNT}/{job_id}/retry",
        data={"csrf_token": token, "next": next_url},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )


def test_an_hx_redirect_to_a_next_with_non_latin_characters_is_percent_encoded(
    client: TestClient, seed: Seeder
) -> None:
    job_id = seed.dead()

    response = _htmx_retry(client, job_id, f"{MOUNT}/?type=r\u00e9sum\u00e9-\u20ac")

    assert response.status_code == 200
    assert response.headers["hx-redirect"] == f"{MOUNT}/?type=r%C3%A9sum%C3%A9-%E2%82%AC"


def test_a_line_break_in_next_never_reaches_the_hx_redirect_header(
    client: TestClient, seed: Seeder
) -> None:
    job_id = seed.dead()

    response = _htmx_retry(client, job_id, f"{MOUNT}/\r\nSet-Cookie: planted=1")

    assert response.headers["hx-redirect"] == f"{MOUNT}/%0D%0ASet-Cookie:%20planted=1"
    assert "planted" not in response.headers.get("set-cookie", "")


def test_get_never_changes_state(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead()

    for action in ("retry", "cancel", "delete"):
        assert client.get(f"{MOUNT}/{job_id}/{action}").status_code == 405

    assert seed.job(job_id).status is JobStatus.DEAD
