"""Retry, cancel and delete: POST only, behind the CSRF guard, confirmed when final."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from burrow_admin.actions import Action, allowed_actions, perform
from burrow_admin.errors import AdminError, Label
from burrow_admin.forms import read_form
from burrow_admin.i18n import N_, STATUS_LABELS
from burrow_admin.state import settings_of
from burrow_admin.templating import render
from burrow_admin.urls import AdminUrls, urls_for
from burrow_tasks.errors import InvalidJobStatus, JobNotFound
from burrow_tasks.types import JobStatus

__all__ = ["job_action"]

ACTION_NOT_ALLOWED: dict[Action, str] = {
    Action.RETRY: N_("Only a failed or dead job can be retried; its status is %(status)s."),
    Action.CANCEL: N_(
        "Only a pending, failed or running job can be cancelled; its status is %(status)s."
    ),
    Action.DELETE: N_("This job cannot be deleted while its status is %(status)s."),
}


def _safe_next(urls: AdminUrls, raw: object) -> str | None:
    """``next`` only when it points back into this admin: never an open redirect."""
    if not isinstance(raw, str) or not raw or "\\" in raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith(urls.home()):
        return None
    return raw


def _redirect(request: Request, target: str) -> Response:
    # ``next`` comes from the form: percent-encode it as RedirectResponse does, so that a
    # non-Latin-1 character or a line break can never reach the HX-Redirect header raw.
    target = quote(target, safe=":/%#?=@[]!$&'()*+,;")
    if request.headers.get("hx-request") == "true":
        # htmx follows a redirect header itself; a 303 would be swapped into the page.
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def job_action(request: Request) -> Response:
    settings = settings_of(request)
    urls = urls_for(request)
    job_id = request.path_params["job_id"]
    try:
        action = Action(request.path_params["action"])
    except ValueError:
        raise AdminError(404, N_("This page does not exist.")) from None
    form = await read_form(request)
    job = await settings.queue.store.job_get(job_id)
    if job is None:
        raise AdminError(404, N_("There is no job with the id %(id)s."), id=repr(job_id))
    next_url = _safe_next(urls, form.get("next"))
    if action not in allowed_actions(job.status):
        raise _not_allowed(action, job.status)
    if action.needs_confirmation and form.get("confirmed") != "yes":
        # Without JavaScript the first click lands here; with it, the dialog already asked.
        return render(
            request,
            "burrow_admin/confirm.html",
            {"job": job, "action": action, "next": next_url or ""},
        )
    try:
        await perform(settings.queue, action, job_id)
    except JobNotFound:
        raise AdminError(404, N_("There is no job with the id %(id)s."), id=repr(job_id)) from None
    except InvalidJobStatus as error:
        # The status changed since the read above; the store's own check had the last word.
        raise _not_allowed(action, error.status) from None
    default = urls.home() if action is Action.DELETE else urls.job(job_id)
    if action is Action.DELETE and next_url == urls.job(job_id):
        next_url = None
    return _redirect(request, next_url or default)


def _not_allowed(action: Action, status: JobStatus) -> AdminError:
    return AdminError(400, ACTION_NOT_ALLOWED[action], status=Label(STATUS_LABELS[status]))
