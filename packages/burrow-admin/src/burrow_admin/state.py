"""The admin's settings, made once by ``create_admin`` and found by every endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from burrow_admin.job_types import JobTypes
from burrow_admin.security import CsrfSigner
from burrow_admin.types import AdminQueue

__all__ = ["AdminSettings", "settings_of"]


@dataclass(frozen=True, slots=True)
class AdminSettings:
    queue: AdminQueue
    templates: Jinja2Templates
    csrf: CsrfSigner
    workers_seen_within: timedelta
    title: str
    job_types: JobTypes


def settings_of(request: Request) -> AdminSettings:
    # request.app is the admin's own Starlette app, also when it is mounted in a host app.
    settings: AdminSettings = request.app.state.burrow_admin
    return settings
