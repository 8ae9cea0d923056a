"""A host app mounts the admin, wraps it in its own layout and links to it from its nav."""

from __future__ import annotations

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from burrow_admin import AdminQueue, create_admin
from burrow_admin.testing import Seeder
from burrow_tasks import JobQueue

HOST_BASE = """\
{% extends "site/layout.html" %}
{% block head %}{{ super() }}{% include "burrow_admin/_assets.html" %}{% endblock %}
{% block main %}{% block body %}{% endblock %}{% endblock %}
"""

HOST_LAYOUT = """\
<!doctype html><html><head><title>{% block title %}{% endblock %}</title>
{% block head %}<link rel="stylesheet" href="/site.css">{% endblock %}</head>
<body><nav class="site-nav">My Shop</nav>{% block main %}{% endblock %}</body></html>
"""

SECRET = "test-secret-key-0123456789abcdef"


def test_a_host_loader_wraps_the_pages_in_the_host_layout(queue: JobQueue) -> None:
    loader = jinja2.DictLoader(
        {"burrow_admin/base.html": HOST_BASE, "site/layout.html": HOST_LAYOUT}
    )
    admin = create_admin(queue, allow_anonymous=True, secret_key=SECRET, templates=loader)
    client = TestClient(Starlette(routes=[Mount("/ops/jobs", app=admin)]))

    html = client.get("/ops/jobs/").text

    assert '<nav class="site-nav">My Shop</nav>' in html
    assert '<link rel="stylesheet" href="/site.css">' in html
    assert 'href="/ops/jobs/static/admin.css"' in html
    assert 'class="ba-pills"' in html


def test_links_follow_the_mount_path(queue: JobQueue, offline_seed: Seeder) -> None:
    job_id = offline_seed.dead()
    admin = create_admin(queue, allow_anonymous=True, secret_key=SECRET)
    client = TestClient(Starlette(routes=[Mount("/ops/jobs", app=admin)]))

    html = client.get("/ops/jobs/").text

    assert f'href="/ops/jobs/{job_id}"' in html
    assert f'action="/ops/jobs/{job_id}/retry"' in html
    assert client.get("/ops/jobs/static/admin.css").status_code == 200


def test_the_host_nav_links_to_the_admin_by_name(queue: JobQueue) -> None:
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.url_for("jobs_admin:job_list")))

    admin = create_admin(queue, allow_anonymous=True, secret_key=SECRET)
    host = Starlette(routes=[Route("/", home), Mount("/admin/jobs", app=admin, name="jobs_admin")])

    assert TestClient(host).get("/").text == "http://testserver/admin/jobs/"


def test_the_queue_satisfies_the_admin_protocol(queue: JobQueue) -> None:
    assert isinstance(queue, AdminQueue)


def test_the_admin_runs_standalone_too(queue: JobQueue) -> None:
    client = TestClient(create_admin(queue, allow_anonymous=True, secret_key=SECRET))

    response = client.get("/")

    assert 'href="/dashboard"' in response.text
    assert "Path=/;" in response.headers["set-cookie"] + ";"
