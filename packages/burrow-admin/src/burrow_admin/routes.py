"""The admin's URL map, relative to wherever the host app mounts it."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from burrow_admin.endpoints.actions import job_action
from burrow_admin.endpoints.dashboard import dashboard
from burrow_admin.endpoints.jobs import job_detail, job_list

__all__ = ["STATIC_DIR", "build_routes"]

STATIC_DIR = Path(__file__).parent / "static"


def build_routes() -> list[BaseRoute]:
    # Fixed paths first: a job id is opaque and must never shadow them.
    return [
        Route("/", job_list, methods=["GET"], name="job_list"),
        Route("/dashboard", dashboard, methods=["GET"], name="dashboard"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/{job_id}", job_detail, methods=["GET"], name="job_detail"),
        Route("/{job_id}/{action}", job_action, methods=["POST"], name="job_action"),
    ]
