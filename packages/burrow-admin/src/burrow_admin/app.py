"""``create_admin``: the mountable admin app, with its guards around every route."""

from __future__ import annotations

from datetime import timedelta

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from burrow_admin.errors import AdminError
from burrow_admin.i18n import N_
from burrow_admin.job_types import JobTypes
from burrow_admin.routes import build_routes
from burrow_admin.security import (
    DEFAULT_CSP,
    AccessMiddleware,
    CsrfMiddleware,
    CsrfSigner,
    SecurityHeadersMiddleware,
)
from burrow_admin.state import AdminSettings
from burrow_admin.templating import build_templates, render_admin_error, render_error
from burrow_admin.types import AccessRule, AdminQueue

__all__ = ["create_admin"]

HTTP_MESSAGES: dict[int, str] = {
    404: N_("This page does not exist."),
    405: N_("This address does not accept that kind of request."),
}


async def _admin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminError)
    return render_admin_error(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, N_("The request could not be handled."))
    response = render_error(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_admin(
    queue: AdminQueue,
    *,
    secret_key: str | bytes,
    access: AccessRule | None = None,
    allow_anonymous: bool = False,
    login_url: str | None = None,
    templates: jinja2.BaseLoader | None = None,
    title: str = "Jobs",
    workers_seen_within: timedelta = timedelta(hours=1),
    job_types_fresh_for: timedelta = timedelta(seconds=30),
    content_security_policy: str = DEFAULT_CSP,
    debug: bool = False,
) -> Starlette:
    """The admin as a Starlette app: ``app.mount("/admin/jobs", create_admin(queue, ...))``.

    :param queue: the ``burrow_tasks.JobQueue`` (or anything with its ``store``, ``clock``,
        ``registered_types``, ``retry``, ``dequeue`` and ``delete``).
    :param secret_key: signs the CSRF tokens; at least 16 bytes, kept secret.
    :param access: ``(request) -> bool``, sync or async: who may use the admin. Required
        unless ``allow_anonymous=True``. A refused request without an authenticated
        ``request.user`` gets 401 (or a redirect to ``login_url``), one with it 403.
    :param allow_anonymous: let everyone in without a rule (a local demo only).
    :param templates: a Jinja2 loader searched before the admin's own templates, to override
        ``burrow_admin/base.html`` (the page frame) or any other template.
    :param workers_seen_within: worker pools that have not reported for this long are no
        longer listed.
    :param job_types_fresh_for: how long the list's type filter reuses the store's job types
        before it reads them again (a DISTINCT over every job; 0 reads them on every view).
    :param content_security_policy: replaces the strict default (only when a host layout
        needs more, e.g. its own CDN).
    """
    if access is None and not allow_anonymous:
        raise ValueError(
            "create_admin needs an access rule, e.g. access=lambda request: "
            "request.user.is_authenticated; pass allow_anonymous=True only for a local demo"
        )
    if access is not None and allow_anonymous:
        raise ValueError("create_admin takes an access rule or allow_anonymous=True, not both")
    if access is not None and not callable(access):
        raise TypeError(f"access must be a callable (request) -> bool, got {access!r}")
    if workers_seen_within <= timedelta(0):
        raise ValueError(f"workers_seen_within must be positive, got {workers_seen_within}")
    job_types = JobTypes(job_types_fresh_for.total_seconds())
    signer = CsrfSigner(secret_key)
    app = Starlette(
        debug=debug,
        routes=build_routes(),
        middleware=[
            Middleware(SecurityHeadersMiddleware, content_security_policy=content_security_policy),
            Middleware(
                AccessMiddleware, rule=access, render_error=render_error, login_url=login_url
            ),
            Middleware(CsrfMiddleware, signer=signer, render_error=render_error),
        ],
        exception_handlers={AdminError: _admin_error, HTTPException: _http_error},
    )
    app.state.burrow_admin = AdminSettings(
        queue=queue,
        templates=build_templates(templates),
        csrf=signer,
        workers_seen_within=workers_seen_within,
        title=title,
        job_types=job_types,
    )
    return app
