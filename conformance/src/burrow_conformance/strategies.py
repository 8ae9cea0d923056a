"""Hypothesis strategies for the suite: small, collision-prone values so rules interact.

Few types, few priorities and a handful of time offsets make ties (equal priority, equal
run_at) common, which is where claim order goes wrong.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = [
    "BAD_PAYLOAD",
    "LEASE_CHOICES",
    "job_types",
    "lease_choices",
    "max_retries",
    "payloads",
    "priorities",
    "results",
    "retry_delays",
    "run_offsets",
    "type_sets",
    "worker_steps",
]

TYPES = ("email", "report")

BAD_PAYLOAD = "{not json"
"""A payload every store must refuse with ``PayloadError``."""

LEASE_CHOICES = ("current", "first", "never issued")
"""Which lease a guarded write presents: the job's current (or latest) lease, the first it
ever had (stale after a re-claim), or one no claim ever handed out."""

lease_choices = st.sampled_from(("current", *LEASE_CHOICES))
"""A ``LEASE_CHOICES`` entry, the current lease half the time: an accepted write moves a job
on to the paths behind it (a second attempt, a rescue of a last attempt)."""

job_types = st.sampled_from(TYPES)
type_sets = st.sampled_from([TYPES, ("email",), ("report",), ("report", "other"), ()])
priorities = st.sampled_from([0, 0, 1, -1, 5])
max_retries = st.integers(min_value=1, max_value=3)
run_offsets = st.sampled_from([0, 0, -30, 45])
"""Seconds from "now" to a new job's ``run_at``."""

payloads = st.sampled_from(['{"n": 1}', '{"b": 1,  "a": "ü"}', "[]", '"x"', "null"])
results = st.sampled_from([None, '{"ok": true}', "  [1,2] "])
retry_delays = st.one_of(st.none(), st.sampled_from([0, 30, 60]))
"""``job_fail``'s retry: None (dead) or seconds after now."""

worker_steps = st.sampled_from(["fail", "die", "complete", "release", "heartbeat", "leave running"])
"""What a worker does with the job it just claimed (``StoreMachine.work``)."""

advances = st.sampled_from([1, 30, 60, 600])
stale_ages = st.sampled_from([0, 30, 600])
retention_ages = st.sampled_from([0, 60, 3600])
