"""One trial's row: what sweep.json and study.json list under "trials", one per trial, and what the claims, the
sweep's curves and the reports read of a sweep's or study's trials.

A row is built from its trial's record (trials/<id>.json, compare.experiments.trials), so a resumed sweep or study
rebuilds every row from the records and never reads the rows an earlier sweep.json or study.json holds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from compare.claims.types import prior_view
from compare.errors import UserError
from compare.models import ModelSpec

Numbers = Mapping[str, Mapping[str, Any]]  # a view's numbers by section: {"quality": {"fid": ..}, "continuity": {..}}


@dataclass(frozen=True)
class TrialRow:
    """A trial's identity and status; when done, its size, budget spent and the numbers of each view its model shows;
    when failed, its error."""

    id: str
    model: str  # the model's label
    family: str
    width: float
    seed: int
    optimizer: str | None  # what it trained with (a study: a model without the field counts in the study's)
    status: str  # "pending", "done" or "failed"
    run_dir: str  # relative to the sweep's or study's directory
    parameters: Mapping[str, int] | None = None  # per part and "total"
    size: int | None = None  # the size axis: total parameters, or (`compare sweep --size-by generator`) the sampler's
    steps: int | None = None
    train_seconds: float | None = None
    seconds: float | None = None  # the whole trial: training, evaluation, writes
    views: Mapping[str, Numbers] = field(default_factory=dict)  # first view first: the one a model is judged by
    early: Mapping[str, float | None] | None = None  # a GAN's early-window saturation means (claim 3's mechanism)
    error: str | None = None
    user_error: bool | None = None  # the error is the user's input (a UserError), not a crash

    @classmethod
    def from_record(cls, trial_id: str, spec: ModelSpec, width: float, seed: int, record: dict | None,
                    size_by: str = "total", optimizer: str | None = None) -> TrialRow:
        """The row of the trial `trial_id` training `spec` (None record: not run yet). size_by: "total", or
        "generator" for the sampler part's parameters; optimizer: the one a model whose config names none counts in."""
        row = cls(trial_id, spec.label, spec.family, width, seed, spec.optimizer or optimizer,
                  record["status"] if record else "pending", f"trials/{trial_id}")
        if record and record["status"] == "done":
            entry = record["summary"][spec.label]
            parameters = entry["parameters"]
            return dataclasses.replace(
                row, parameters=parameters, size=parameters["total" if size_by == "total" else spec.sampler_part],
                steps=entry.get("steps"), train_seconds=entry.get("train_seconds"), seconds=record.get("seconds"),
                views=entry["views"], early=(entry.get("early") or {}).get("mean") or None)
        if record:
            return dataclasses.replace(row, error=record.get("error"), user_error=record.get("user_error", False))
        return row

    def to_json(self) -> dict[str, Any]:
        """The row as sweep.json and study.json hold it: its identity, then only what it has (no nulls for what a
        pending or failed trial lacks)."""
        return {name: value for name, value in vars(self).items()
                if name in IDENTITY or (value is not None and value != {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialRow:
        if not IDENTITY <= set(data) <= FIELDS:
            odd = sorted((set(data) - FIELDS) | (IDENTITY - set(data)))
            raise UserError(f"a trial row of another layout (its keys differ in {', '.join(odd)}): rerun the sweep or "
                            "study with the same settings, which rewrites its rows from its trial records")
        return cls(**data)

    def number(self, key: str, view: str | None = None) -> float | None:
        """A number of the first view (or of `view`), by its key ("fid") or its section and key ("quality.fid");
        None when the row has no such number."""
        numbers = next(iter(self.views.values()), {}) if view is None else self.views.get(view, {})
        section, _, name = key.rpartition(".")
        for part in [section] if section else list(numbers):
            value = numbers.get(part, {}).get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
        return None

    @property
    def prior_views(self) -> list[str]:
        """Its views drawn from a prior fitted after training (vae-gmm): claim 2's mechanism."""
        return [view for view in self.views if prior_view(view)]


FIELDS = {f.name for f in dataclasses.fields(TrialRow)}
IDENTITY = {f.name for f in dataclasses.fields(TrialRow) if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING}  # every row has these, a pending one only these


def trial_rows(summary: Mapping[str, Any]) -> list[TrialRow]:
    """The rows of a sweep.json or study.json content (its "trials")."""
    return [TrialRow.from_json(row) for row in summary.get("trials", [])]
