"""The detail page: every field that is set, payload, result, error, actions, waiting reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from burrow_admin.testing import Seeder
from burrow_tasks.jobs import JobError, WorkerState

MOUNT = "/admin/jobs"


def test_detail_renders_the_job(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending("send-email", priority=3)

    response = client.get(f"{MOUNT}/{job_id}")

    assert response.status_code == 200
    assert response.template.name == "burrow_admin/detail.html"  # type: ignore[attr-defined]
    assert response.context["job"].id == job_id  # type: ignore[attr-defined]
    assert f'<dd class="ba-mono">{job_id}</dd>' in response.text
    assert '<dd class="ba-attempts">0/3</dd>' in response.text


def test_an_unknown_job_is_a_404(client: TestClient) -> None:
    response = client.get(f"{MOUNT}/no-such-job")

    assert response.status_code == 404
    assert "There is no job with the id &#39;no-such-job&#39;." in response.text


def test_another_spelling_of_a_jobs_id_is_a_404(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending()

    response = client.get(f"{MOUNT}/0{job_id}")

    assert response.status_code == 404


def test_payload_is_pretty_printed_json(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending(payload='{"to":"a@example.com","n":[1,2]}')

    html = client.get(f"{MOUNT}/{job_id}").text

    assert "{\n  &#34;to&#34;: &#34;a@example.com&#34;,\n  &#34;n&#34;: [\n    1," in html


def test_a_payload_nested_too_deep_to_indent_is_shown_as_stored(
    client: TestClient, seed: Seeder
) -> None:
    # The store's check accepts this depth; on Python 3.12 indenting it, deeper in the stack,
    # recursed past the interpreter's limit and answered 500 (3.13 indents it).
    payload = "[" * 970 + "]" * 970
    job_id = seed.pending(payload=payload)

    response = client.get(f"{MOUNT}/{job_id}")

    assert response.status_code == 200
    assert '<pre class="ba-code ba-payload">[' in response.text


def test_a_completed_job_shows_its_result_and_completion_time(
    client: TestClient, seed: Seeder
) -> None:
    job_id = seed.completed(result='{"url":"https://x.example/r.pdf"}')

    html = client.get(f"{MOUNT}/{job_id}").text

    assert '<pre class="ba-code ba-result">{\n  &#34;url&#34;' in html
    assert "<dt>Completed</dt>" in html
    assert "<dt>Last attempted</dt>" in html


def test_a_dead_job_shows_error_class_badge_message_and_traceback(
    client: TestClient, seed: Seeder
) -> None:
    error = JobError("disk full", "builtins.OSError", 'File "x.py", line 1\nOSError: disk full')
    job_id = seed.dead(error=error)

    html = client.get(f"{MOUNT}/{job_id}").text

    assert '<span class="ba-badge ba-error-class">builtins.OSError</span>' in html
    assert '<p class="ba-error-message">disk full</p>' in html
    assert "line 1\nOSError: disk full</pre>" in html
    assert "<dt>Failed</dt>" in html


def test_a_pending_job_shows_no_unset_timestamps(client: TestClient, seed: Seeder) -> None:
    html = client.get(f"{MOUNT}/{seed.pending()}").text

    for label in ("Last attempted", "Last heartbeat", "Completed</dt>", "Failed</dt>"):
        assert label not in html


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", {"cancel", "delete"}),
        ("running", {"cancel", "delete"}),
        ("failed", {"retry", "cancel", "delete"}),
        ("dead", {"retry", "delete"}),
        ("completed", {"delete"}),
    ],
)
def test_only_the_allowed_buttons_show(
    client: TestClient, seed: Seeder, state: str, expected: set[str]
) -> None:
    job_id = getattr(seed, state)()

    html = client.get(f"{MOUNT}/{job_id}").text

    shown = {a for a in ("retry", "cancel", "delete") if f'data-action="{a}"' in html}
    assert shown == expected


def _reasons(client: TestClient, job_id: str) -> list[str]:
    waiting = client.get(f"{MOUNT}/{job_id}").context["waiting"]  # type: ignore[attr-defined]
    return [reason.kind.value for reason in waiting]


def test_a_job_scheduled_for_later_says_when(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",))
    job_id = seed.pending(run_at=seed.clock.now() + timedelta(hours=2))

    html = client.get(f"{MOUNT}/{job_id}").text

    assert _reasons(client, job_id) == ["scheduled"]
    assert "Scheduled for later: it runs in 2 hours" in html


def test_jobs_ahead_are_counted(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",))
    seed.pending(priority=5)
    seed.pending()
    job_id = seed.pending()

    html = client.get(f"{MOUNT}/{job_id}").text

    assert _reasons(client, job_id) == ["ahead"]
    assert "2 jobs of higher priority or enqueued earlier are ahead of it." in html


def test_jobs_of_types_the_workers_do_not_take_are_not_ahead(
    client: TestClient, seed: Seeder
) -> None:
    seed.worker(("send-email",))
    seed.pending("other-type", priority=5)
    job_id = seed.pending("send-email")

    assert _reasons(client, job_id) == ["next_poll"]


def test_a_type_no_running_worker_handles_says_so(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",))
    job_id = seed.pending("sync-crm")

    html = client.get(f"{MOUNT}/{job_id}").text

    assert _reasons(client, job_id) == ["no_worker"]
    assert "No running worker handles the type sync-crm." in html


def test_a_stopped_pool_does_not_count_as_handling(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",), state=WorkerState.STOPPED)
    job_id = seed.pending("send-email")

    assert _reasons(client, job_id) == ["no_worker"]


def test_a_job_nothing_holds_back_waits_for_the_next_poll(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",))
    job_id = seed.pending()

    assert _reasons(client, job_id) == ["next_poll"]


def test_running_and_final_jobs_are_not_explained(client: TestClient, seed: Seeder) -> None:
    seed.worker(("send-email",))

    assert _reasons(client, seed.running()) == []
    assert _reasons(client, seed.completed()) == []
