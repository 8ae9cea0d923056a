"""The admin's URL map, relative to wherever the host app mounts it."""

from __future__ import annotations

from pathlib import Path

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from burrow_admin.actions import Action
from burrow_admin.endpoints.actions import job_action
from burrow_admin.endpoints.dashboard import dashboard
from burrow_admin.endpoints.jobs import job_detail, job_list

__all__ = ["STATIC_DIR", "build_routes"]

STATIC_DIR = Path(__file__).parent / "static"


class JobIdConvertor(PathConvertor):
    """A job id as a path: a store's ids are its own and may hold slashes (links quote them;
    the server decodes ``%2F`` back to ``/``). A path ending in ``/<action>`` is that action's
    URL, never a job's page, so a GET there is answered 405 as for any action."""

    regex = ".+" + "".join(f"(?<!/{action.value})" for action in Action)


register_url_convertor("burrow_job_id", JobIdConvertor())


def build_routes() -> list[BaseRoute]:
    # Fixed paths first: a job id is opaque and must never shadow them.
    return [
        Route("/", job_list, methods=["GET"], name="job_list"),
        Route("/dashboard", dashboard, methods=["GET"], name="dashboard"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/{job_id:burrow_job_id}", job_detail, methods=["GET"], name="job_detail"),
        Route("/{job_id:path}/{action}", job_action, methods=["POST"], name="job_action"),
    ]
