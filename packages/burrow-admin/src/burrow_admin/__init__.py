"""burrow_admin: a mountable Starlette admin for burrow's jobs, workers and throughput.

app.mount("/admin/jobs", create_admin(queue, access=is_staff, secret_key=SECRET))
"""

from burrow_admin.app import create_admin
from burrow_admin.types import AccessRule, AdminQueue

__all__ = ["AccessRule", "AdminQueue", "create_admin"]
