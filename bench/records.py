"""What one run produced: a record per (system, workload), saved as JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from bench.stats import median

Status = Literal["ok", "none", "not installed", "unavailable", "error"]

Metrics = dict[str, float]

THROUGHPUT = ("W1", "W2", "W3")
"""Workloads whose headline is jobs/s."""


@dataclasses.dataclass
class Record:
    system: str
    database: str
    kind: str
    settings: str
    workload: str
    status: Status
    runs: list[Metrics] = dataclasses.field(default_factory=list)
    note: str = ""

    @property
    def metrics(self) -> Metrics:
        """Each metric's median over the runs."""
        if not self.runs:
            return {}
        keys = self.runs[0].keys()
        return {key: median([run[key] for run in self.runs if key in run]) for key in keys}

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["median"] = self.metrics
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclasses.dataclass
class Results:
    meta: dict[str, Any]
    records: list[Record]

    def find(self, system: str, workload: str) -> Record | None:
        for record in self.records:
            if record.system == system and record.workload == workload:
                return record
        return None

    def value(self, system: str, workload: str, metric: str) -> float | None:
        record = self.find(system, workload)
        if record is None or record.status != "ok":
            return None
        return record.metrics.get(metric)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "records": [r.to_json() for r in self.records]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        return cls(meta=data["meta"], records=[Record.from_json(r) for r in data["records"]])
