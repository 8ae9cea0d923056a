"""The job list: pills, columns, order, pagination, filters, empty states, bad parameters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_admin.testing import Seeder
from burrow_tasks import JobQueue
from burrow_tasks.types import JobStatus

MOUNT = "/admin/jobs"
LIST = MOUNT + "/"
SECRET = "test-secret-key-0123456789abcdef"


def test_list_renders_the_list_template(client: TestClient) -> None:
    response = client.get(LIST)

    assert response.status_code == 200
    assert response.template.name == "burrow_admin/list.html"  # type: ignore[attr-defined]


def test_pills_come_in_the_seed_order_with_their_counts(client: TestClient, seed: Seeder) -> None:
    seed.dead()
    seed.completed()
    seed.completed()
    seed.pending()

    response = client.get(LIST)

    pills = response.text.split('class="ba-pills"')[1].split("</nav>")[0]
    labels = ["All", "Pending", "Running", "Failed", "Dead", "Completed"]
    positions = [pills.index(f">{label} <") for label in labels]
    assert positions == sorted(positions)
    counts = response.context["overview"].counts  # type: ignore[attr-defined]
    assert counts[JobStatus.COMPLETED] == 2
    assert counts[JobStatus.DEAD] == 1
    assert counts[JobStatus.PENDING] == 1
    assert response.context["overview"].total == 4  # type: ignore[attr-defined]


def test_columns_show_type_link_status_priority_attempts_and_times(
    client: TestClient, seed: Seeder
) -> None:
    job_id = seed.pending("resize-image", priority=7)

    html = client.get(LIST).text

    for header in ("Type", "Status", "Priority", "Attempts", "Created", "Run at"):
        assert f">{header}</th>" in html
    assert f'href="{MOUNT}/{job_id}">resize-image</a>' in html
    assert '<span class="ba-badge ba-priority">7</span>' in html
    assert '<td class="ba-num ba-attempts">0/3</td>' in html
    assert '<span class="ba-badge ba-status-pending">Pending</span>' in html


def test_priority_zero_has_no_badge(client: TestClient, seed: Seeder) -> None:
    seed.pending(priority=0)

    assert "ba-badge ba-priority" not in client.get(LIST).text


def test_newest_jobs_come_first(client: TestClient, seed: Seeder) -> None:
    first = seed.pending()
    second = seed.pending()
    third = seed.pending()

    jobs = client.get(LIST).context["jobs"]  # type: ignore[attr-defined]

    assert [job.id for job in jobs] == [third, second, first]


def test_twenty_jobs_per_page_by_default(client: TestClient, seed: Seeder) -> None:
    for _ in range(23):
        seed.pending()

    first = client.get(LIST).context  # type: ignore[attr-defined]
    second = client.get(LIST + "?page=2").context  # type: ignore[attr-defined]

    assert len(first["jobs"]) == 20
    assert len(second["jobs"]) == 3
    assert first["pages"] == 2


@pytest.mark.parametrize(
    ("raw", "limit"), [("0", 1), ("-5", 1), ("7", 7), ("100", 100), ("1000", 100)]
)
def test_limit_is_clamped_to_1_through_100(client: TestClient, raw: str, limit: int) -> None:
    response = client.get(LIST + f"?limit={raw}")

    assert response.status_code == 200
    assert response.context["query"].limit == limit  # type: ignore[attr-defined]


def test_pagination_links_keep_the_other_parameters(client: TestClient, seed: Seeder) -> None:
    for _ in range(5):
        seed.pending("send-email")

    html = client.get(LIST + "?status=pending&type=send-email&limit=2&page=2").text

    next_href = html.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    prev_href = html.split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(next_href).query) == {
        "status": ["pending"],
        "type": ["send-email"],
        "page": ["3"],
        "limit": ["2"],
    }
    assert parse_qs(urlsplit(prev_href).query) == {
        "status": ["pending"],
        "type": ["send-email"],
        "limit": ["2"],
    }


def test_status_filter_shows_only_that_status(client: TestClient, seed: Seeder) -> None:
    dead = seed.dead()
    seed.pending()

    jobs = client.get(LIST + "?status=dead").context["jobs"]  # type: ignore[attr-defined]

    assert [job.id for job in jobs] == [dead]


def test_type_filter_shows_only_that_type(client: TestClient, seed: Seeder) -> None:
    report = seed.pending("generate-report")
    seed.pending("send-email")

    response = client.get(LIST + "?type=generate-report")

    assert [job.id for job in response.context["jobs"]] == [report]  # type: ignore[attr-defined]
    assert '<option value="generate-report" selected>' in response.text


def test_empty_store_says_there_are_no_jobs_yet(client: TestClient) -> None:
    assert "No jobs yet." in client.get(LIST).text


def test_no_match_says_so_and_links_to_all_jobs(client: TestClient, seed: Seeder) -> None:
    seed.pending()

    html = client.get(LIST + "?status=dead").text

    assert "No jobs match these filters." in html


def test_a_page_past_the_last_offers_the_first(client: TestClient, seed: Seeder) -> None:
    seed.pending()

    response = client.get(LIST + "?page=9")

    assert response.status_code == 200
    assert "This page is past the last one." in response.text


def test_unknown_status_is_a_400_naming_the_value(client: TestClient) -> None:
    response = client.get(LIST + "?status=sleeping")

    assert response.status_code == 400
    assert "Unknown status &#39;sleeping&#39;" in response.text
    assert "pending, running, failed, dead, completed" in response.text


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=99999999999999",
        "limit=x",
        "limit=%E2%91%A0",
        "page=--1",
        "page=-%2B1",
        "limit=%2B-3",
    ],
)
def test_malformed_or_out_of_range_numbers_are_a_400(client: TestClient, query: str) -> None:
    response = client.get(LIST + "?" + query)

    assert response.status_code == 400
    assert response.template.name == "burrow_admin/error.html"  # type: ignore[attr-defined]


def test_an_overlong_type_filter_is_a_400(client: TestClient) -> None:
    assert client.get(LIST + "?type=" + "x" * 201).status_code == 400


def test_a_type_filter_with_a_nul_character_is_a_400(client: TestClient) -> None:
    # No job type can hold a NUL; PostgreSQL refuses even to compare one.
    response = client.get(LIST + "?type=send%00email")

    assert response.status_code == 400
    assert "The type filter &#39;send\\x00email&#39; holds a character" in response.text


def test_inline_actions_follow_the_status(client: TestClient, seed: Seeder) -> None:
    dead = seed.dead()
    pending = seed.pending()

    html = client.get(LIST).text

    dead_row = html.split(f'data-job-id="{dead}"')[1].split("</tr>")[0]
    pending_row = html.split(f'data-job-id="{pending}"')[1].split("</tr>")[0]
    assert 'data-action="retry"' in dead_row
    assert 'data-action="cancel"' not in dead_row
    assert 'data-action="retry"' not in pending_row
    assert 'data-action="cancel"' in pending_row
    assert 'data-action="delete"' in pending_row
    assert 'data-action="delete"' in dead_row


def test_each_rows_buttons_name_their_job_for_screen_readers(
    client: TestClient, seed: Seeder
) -> None:
    # Twenty rows of bare "Delete" buttons leave a screen reader no way to tell them apart.
    first = seed.dead("send-email")
    second = seed.dead("resize-image")

    html = client.get(LIST).text

    for job_id, type_name in ((first, "send-email"), (second, "resize-image")):
        row = html.split(f'data-job-id="{job_id}"')[1].split("</tr>")[0]
        hidden = f'<span class="ba-visually-hidden"> {type_name} {job_id}</span></button>'
        assert f'data-action="retry">Retry{hidden}' in row
        assert f'data-action="delete">Delete{hidden}' in row


def test_a_filtered_type_with_no_jobs_stays_selected(client: TestClient, seed: Seeder) -> None:
    seed.pending("send-email")

    response = client.get(LIST + "?type=retired-task")

    assert '<option value="retired-task" selected>' in response.text
    assert '<option value="send-email">' in response.text


def _type_options(client: TestClient) -> list[str]:
    return list(client.get(LIST).context["types"])  # type: ignore[attr-defined]


def test_the_type_filter_reuses_the_types_it_read_while_they_are_fresh(
    queue: JobQueue, seed_for: Callable[[TestClient], Seeder]
) -> None:
    admin = create_admin(
        queue, allow_anonymous=True, secret_key=SECRET, job_types_fresh_for=timedelta(hours=1)
    )
    with TestClient(Starlette(routes=[Mount(MOUNT, app=admin)])) as client:
        seed = seed_for(client)
        seed.pending("send-email")
        assert _type_options(client) == ["send-email"]
        seed.pending("resize-image")

        assert _type_options(client) == ["send-email"]


def test_the_type_filter_reads_the_types_on_every_view_when_fresh_for_is_zero(
    queue: JobQueue, seed_for: Callable[[TestClient], Seeder]
) -> None:
    admin = create_admin(
        queue, allow_anonymous=True, secret_key=SECRET, job_types_fresh_for=timedelta(0)
    )
    with TestClient(Starlette(routes=[Mount(MOUNT, app=admin)])) as client:
        seed = seed_for(client)
        seed.pending("send-email")
        assert _type_options(client) == ["send-email"]
        seed.pending("resize-image")

        assert _type_options(client) == ["resize-image", "send-email"]
