"""Plugins: discovery through a real entry point, burrow_backend and burrow_register_jobs."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import (
    ConfigError,
    JobQueue,
    JobStore,
    get_plugin_manager,
    hookimpl,
    open_queue,
)

PLUGIN_SOURCE = textwrap.dedent(
    """
    from burrow_jobs_memory import MemoryStore
    from burrow_tasks import hookimpl

    registered = []
    opened = []

    @hookimpl
    def burrow_register_jobs(queue):
        queue.handle("from-plugin", lambda payload: None)
        registered.append(queue)

    @hookimpl
    def burrow_backend(dsn):
        if not dsn.startswith("plugin-test://"):
            return None
        store = MemoryStore()
        opened.append(store)
        return store
    """
)


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A plugin installed the way pip would: a module plus a dist-info with an entry point
    in the group ``burrow``, found by ``importlib.metadata`` on ``sys.path``."""
    name = f"burrow_test_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PLUGIN_SOURCE)
    dist_info = tmp_path / f"{name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[burrow]\ntest = {name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


async def test_hook_burrow_register_jobs(installed_plugin: Any) -> None:
    queue = open_queue("memory://")

    assert "from-plugin" in queue.registered_types
    assert installed_plugin.registered == [queue]
    await queue.shutdown()


async def test_hook_burrow_backend(installed_plugin: Any) -> None:
    queue = open_queue("plugin-test://somewhere")

    assert queue.store is installed_plugin.opened[0]
    await queue.shutdown()


async def test_burrow_register_jobs_is_called_once_per_queue(installed_plugin: Any) -> None:
    manager = get_plugin_manager()
    first = JobQueue(MemoryStore(), plugin_manager=manager)
    second = JobQueue(MemoryStore(), plugin_manager=manager)

    assert installed_plugin.registered == [first, second]


async def test_explicit_plugins_are_registered_with_the_entry_point_ones(
    installed_plugin: Any,
) -> None:
    class Billing:
        @hookimpl
        def burrow_register_jobs(self, queue: JobQueue) -> None:
            queue.handle("invoice", lambda payload: None)

    queue = JobQueue(MemoryStore(), plugins=[Billing()])

    assert set(queue.registered_types) == {"from-plugin", "invoice"}


def test_a_queue_without_plugins_calls_no_hook(installed_plugin: Any) -> None:
    queue = JobQueue(MemoryStore())

    assert queue.registered_types == ()
    assert installed_plugin.registered == []


def test_the_manager_can_skip_entry_points(installed_plugin: Any) -> None:
    manager = get_plugin_manager(load_entry_points=False)

    assert manager.list_name_plugin() == []


async def test_open_queue_memory_works_and_owns_its_store() -> None:
    queue = open_queue("memory://", workers=3, poll_interval="50ms")

    assert isinstance(queue.store, JobStore)
    assert queue.config.workers == 3
    queue.handle("ping", lambda payload: None)
    await queue.enqueue("ping", None)
    await queue.shutdown()


def test_open_queue_of_an_unknown_scheme_names_it_and_masks_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        open_queue("redis://ada:s3cret@cache:6379/0")

    message = str(raised.value)
    assert "scheme 'redis'" in message
    assert "redis://ada:***@cache:6379/0" in message
    assert "s3cret" not in message
    assert "memory (burrow-jobs-memory)" in message


def test_open_queue_without_a_dsn_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match="JOBS_DATABASE_DSN"):
        open_queue()


def test_open_queue_validates_its_config_overrides() -> None:
    with pytest.raises(ConfigError, match="--jobs-workers"):
        open_queue("memory://", workers=0)
