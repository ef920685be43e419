"""The typed results the stages hand on, and the one place that shapes them into metrics.json.

train -> {label: compare.train.Trained}; sample -> {view: images}; evaluate -> compare.metrics.scoring.Scores;
a RunResult holds all three for one run. `metrics_json` is what the write stage saves; `summary`
is the short, machine-readable digest a sweep, seed or study trial records instead of a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from compare.metrics.curves import CURVE_METRICS
from compare.metrics.scoring import Scores, flat_values
from compare.sample import drawable_views
from compare.train import Trained
from compare.train.cost import parameter_counts

EARLY_POINT_STEPS = 50  # steps averaged into one point of metrics.json's `early`: 20 points over a 1,000-step window


def early_summary(readings: list[dict[str, float]]) -> dict[str, Any]:
    """metrics.json's `early` from a record's per-step saturation readings (compare.train.loop): the window's steps,
    the mean of every reading over the window, and its mean over each EARLY_POINT_STEPS-step block (the
    figure's points)."""
    names = [k for k in readings[0] if k != "step"]

    def mean(rows: list[dict[str, float]]) -> dict[str, float | None]:
        return {k: (sum(vs) / len(vs) if (vs := [r[k] for r in rows if r[k] is not None]) else None) for k in names}

    blocks: dict[int, list[dict[str, float]]] = {}
    for r in readings:
        blocks.setdefault(-(-r["step"] // EARLY_POINT_STEPS) * EARLY_POINT_STEPS, []).append(r)
    return {"steps": len(readings), "mean": mean(readings),
            "points": [{"step": min(end, readings[-1]["step"]), **mean(rows)} for end, rows in blocks.items()]}


def model_entry(trained: Trained) -> dict[str, Any]:
    """A model's entry in metrics.json: what it consumed, its size, losses, early gradient norms and (a GAN)
    early saturation readings, status."""
    r = trained.record
    return {
        "family": trained.spec.family,
        "views": list(drawable_views(trained.spec, trained.model)),
        "width": trained.width,
        "steps": r.steps,
        "images_seen": r.images,
        "train_seconds": round(r.seconds, 3),
        "steps_per_second": round(r.steps / r.seconds, 2) if r.seconds else None,
        "consumed": trained.consumed,
        "parameters": parameter_counts(trained.model),
        "size": r.size,
        "final_losses": r.losses,
        "loss_history": r.history,
        "grad_norms": r.grad_norms,
        **({"early": early_summary(r.saturation)} if r.saturation else {}),
        **trained.status_fields(),
    }


@dataclass
class RunResult:
    """One run after the three stages; nothing in it has been written yet."""

    out: Path
    config: dict
    trained: dict[str, Trained]  # model label -> trained model
    views: dict[str, Tensor]  # view label -> that view's one draw of samples (CPU)
    scores: Scores

    def curve(self, label: str) -> list[dict]:
        """The model's quality-vs-compute points, ending on the final evaluation itself."""
        trained = self.trained[label]
        final = {view: {key: self.scores.value(view, key) for key in CURVE_METRICS}
                 for view in drawable_views(trained.spec, trained.model)}
        return trained.record.curve + [{**trained.consumed, "views": final}]

    def metrics_json(self) -> dict:
        models = {label: {**model_entry(t), "curve": self.curve(label)} for label, t in self.trained.items()}
        return {"run": self.out.name, "models": models, "continuity": self.scores.continuity,
                "quality": self.scores.quality,
                **({"likelihood": self.scores.likelihood} if self.scores.likelihood else {})}

    def summary(self) -> dict:
        return summary_from_metrics(self.metrics_json())


SUMMARY_FIELDS = ("family", "width", "parameters", "steps", "train_seconds", "final_losses", "status",
                  "diverged_at_step", "failure", "early")


def summary_from_metrics(metrics: dict) -> dict:
    """What a sweep, seed or study trial records of a run (from its metrics.json content): per model its
    size, budget spent and status, and every number of each of its views, first view first (the VAE's
    per-pixel means: the view a model is judged by)."""
    quality, continuity, likelihood = (metrics["quality"]["views"], metrics["continuity"]["views"],
                                       metrics.get("likelihood", {}))
    return {label: {**{k: m[k] for k in SUMMARY_FIELDS if k in m},
                    **({"likelihood": likelihood[label]} if label in likelihood else {}),
                    "views": {view: {"quality": flat_values(quality[view]), "continuity": dict(continuity[view])}
                              for view in m["views"]}}
            for label, m in metrics["models"].items()}


Reading = tuple[Any, Any]  # (value, [low, high] or None): a number of metrics.json beside its 95% interval


def quality_readings(scores: dict[str, dict]) -> dict[str, Reading]:
    """A view's (or the floor's) quality block {metric: {"values", "intervals"?}} -> {key: (value, ci95)}."""
    return {k: (v, ((entry.get("intervals") or {}).get(k) or {}).get("ci95"))
            for entry in scores.values() for k, v in entry["values"].items()}


def continuity_readings(numbers: dict[str, Any]) -> dict[str, Reading]:
    """A view's continuity numbers, each `<key>_ci95` beside its key -> {key: (value, ci95)}."""
    return {k: (v, numbers.get(f"{k}_ci95")) for k, v in numbers.items() if not k.endswith("_ci95")}


def likelihood_readings(entry: dict[str, Any]) -> dict[str, Reading]:
    """A model's held-out likelihood entry {key: value, "ci95": {key: [low, high]}} -> {key: (value, ci95)}."""
    return {k: (v, entry.get("ci95", {}).get(k)) for k, v in entry.items() if k != "ci95"}
