"""The dashboard, the status card and the throughput chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from burrow_admin.charts import MINUTES, build_chart, chart_window, nice_ceiling
from burrow_admin.testing import Seeder
from burrow_tasks.jobs import FinishedMinute, WorkerState

MOUNT = "/admin/jobs"
DASHBOARD = f"{MOUNT}/dashboard"


def test_dashboard_renders_counts_workers_and_chart(client: TestClient, seed: Seeder) -> None:
    seed.completed()
    seed.dead()

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert response.template.name == "burrow_admin/dashboard.html"  # type: ignore[attr-defined]
    chart = response.context["chart"]  # type: ignore[attr-defined]
    assert (chart.total_completed, chart.total_dead) == (1, 1)
    assert response.text.count('class="ba-chart-completed"') == 1
    assert response.text.count('class="ba-chart-dead"') == 1
    assert "<svg" in response.text


def test_an_empty_hour_says_no_job_finished(client: TestClient) -> None:
    assert "No job finished in the last hour." in client.get(DASHBOARD).text


def test_the_card_says_not_started_when_no_process_reported(client: TestClient) -> None:
    html = client.get(f"{MOUNT}/").text

    assert "Not started" in html
    assert "No process has reported a worker pool yet." in html


@pytest.mark.parametrize(
    ("state", "poll_age", "label"),
    [
        (WorkerState.RUNNING, timedelta(seconds=2), "Running"),
        (WorkerState.RUNNING, timedelta(minutes=5), "Stalled"),
        (WorkerState.STOPPED, timedelta(seconds=2), "Stopped"),
    ],
)
def test_the_card_shows_each_pool_state(
    client: TestClient, seed: Seeder, state: WorkerState, poll_age: timedelta, label: str
) -> None:
    seed.worker(state=state, last_poll_at=seed.clock.now() - poll_age)

    html = client.get(f"{MOUNT}/").text

    assert "Not started" not in html
    assert f">{label}</span>" in html.replace("\n", "").replace("          ", "")


def test_the_card_lists_every_process(client: TestClient, seed: Seeder) -> None:
    seed.worker(id="a")
    seed.worker(id="b")

    pools = client.get(f"{MOUNT}/").context["overview"].pools  # type: ignore[attr-defined]

    assert [pool.record.info.id for pool in pools] == ["a", "b"]


def test_pools_not_seen_within_the_window_age_out(client: TestClient, seed: Seeder) -> None:
    seed.worker()
    seed.clock.advance(timedelta(hours=2))

    assert "Not started" in client.get(f"{MOUNT}/").text


NOW = datetime(2026, 3, 2, 12, 30, 40, tzinfo=UTC)


def test_the_chart_window_is_the_current_minute_and_the_59_before() -> None:
    first, last = chart_window(NOW)

    assert last == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    assert last - first == timedelta(minutes=MINUTES - 1)


def test_the_chart_has_one_bar_per_minute_in_order() -> None:
    chart = build_chart([], NOW)

    assert len(chart.bars) == MINUTES
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)
    assert chart.empty


def test_bars_stack_dead_on_completed_and_the_tallest_fills_the_plot() -> None:
    minute = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    chart = build_chart([FinishedMinute(minute, completed=3, dead=2)], NOW)

    bar = chart.bars[-1]
    assert (bar.completed, bar.dead) == (3, 2)
    assert bar.completed_y + bar.completed_height == chart.baseline
    assert bar.dead_y + bar.dead_height == pytest.approx(bar.completed_y)
    assert bar.completed_height + bar.dead_height == pytest.approx(chart.plot_height)
    assert [tick.value for tick in chart.ticks] == [0, 2, 5]


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (5, 5), (6, 10), (11, 20), (51, 100)]
)
def test_nice_ceiling(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling
