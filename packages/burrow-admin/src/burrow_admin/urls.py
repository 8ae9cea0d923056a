"""The admin's links, absolute from the host app's root so they work wherever it is mounted."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.requests import Request

from burrow_admin.params import DEFAULT_LIMIT, ListQuery
from burrow_tasks.types import JobId, JobStatus

__all__ = ["AdminUrls", "urls_for"]


@dataclass(frozen=True, slots=True)
class AdminUrls:
    root: str
    """The mount path (``root_path``) without a trailing slash; empty when not mounted."""

    def home(self) -> str:
        return self.root + "/"

    def jobs(self, query: ListQuery | None = None, **changes: object) -> str:
        """The list page for ``query`` with ``changes`` applied, keeping every other filter.

        A change of status or type starts again at page 1 unless a page is given too.
        """
        base = query or ListQuery()
        status = changes.get("status", base.status)
        type_name = changes.get("type", base.type)
        filter_changed = "status" in changes or "type" in changes
        page = changes.get("page", 1 if filter_changed else base.page)
        limit = changes.get("limit", base.limit)
        params: list[tuple[str, str]] = []
        if isinstance(status, JobStatus):
            params.append(("status", status.value))
        if isinstance(type_name, str) and type_name:
            params.append(("type", type_name))
        if isinstance(page, int) and page != 1:
            params.append(("page", str(page)))
        if isinstance(limit, int) and limit != DEFAULT_LIMIT:
            params.append(("limit", str(limit)))
        return self.home() + ("?" + urlencode(params) if params else "")

    def job(self, job_id: JobId) -> str:
        return f"{self.root}/{quote(job_id, safe='')}"

    def action(self, job_id: JobId, action: str) -> str:
        return f"{self.job(job_id)}/{action}"

    def dashboard(self) -> str:
        return f"{self.root}/dashboard"

    def static(self, name: str) -> str:
        return f"{self.root}/static/{name}"


def urls_for(request: Request) -> AdminUrls:
    return AdminUrls(root=str(request.scope.get("root_path", "")).rstrip("/"))
