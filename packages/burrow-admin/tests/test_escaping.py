"""Payloads, results, errors and type names are hostile: always rendered as text."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from burrow_admin.testing import Seeder
from burrow_tasks.jobs import JobError

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

MOUNT = "/admin/jobs"


def test_a_script_in_the_payload_is_escaped(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending(payload=json.dumps({"name": SCRIPT}))

    html = client.get(f"{MOUNT}/{job_id}").text

    assert SCRIPT not in html
    assert ESCAPED in html


def test_a_script_in_a_non_json_payload_is_escaped(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending(payload=json.dumps(SCRIPT))

    assert SCRIPT not in client.get(f"{MOUNT}/{job_id}").text


def test_a_script_in_the_type_name_is_escaped_everywhere(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead(type=SCRIPT)
    seed.worker((SCRIPT,))

    for path in (f"{MOUNT}/", f"{MOUNT}/{job_id}", f"{MOUNT}/dashboard", f"{MOUNT}/?type=x"):
        html = client.get(path).text
        assert SCRIPT not in html, path
    assert ESCAPED in client.get(f"{MOUNT}/").text


def test_a_script_in_the_error_and_traceback_is_escaped(client: TestClient, seed: Seeder) -> None:
    job_id = seed.dead(error=JobError(SCRIPT, f"x.{SCRIPT}", f"Traceback\n{SCRIPT}"))

    html = client.get(f"{MOUNT}/{job_id}").text

    assert SCRIPT not in html
    assert html.count(ESCAPED) >= 3


def test_a_script_in_the_result_is_escaped(client: TestClient, seed: Seeder) -> None:
    job_id = seed.completed(result=json.dumps({"html": SCRIPT}))

    assert SCRIPT not in client.get(f"{MOUNT}/{job_id}").text


def test_a_script_in_a_query_parameter_is_escaped_in_the_error(client: TestClient) -> None:
    response = client.get(f"{MOUNT}/?status={SCRIPT}")

    assert response.status_code == 400
    assert SCRIPT not in response.text


def test_a_script_in_a_job_id_is_escaped_in_the_404(client: TestClient) -> None:
    response = client.get(f"{MOUNT}/%3Cscript%3Ealert(1)")

    assert response.status_code == 404
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)" in response.text
