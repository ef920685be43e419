"""The write stage: the only stage that touches a run directory's files besides checkpoints.

write_run saves metrics.json and metrics.md and, with artifacts (a plain `compare run`), every
picture and the report; a sweep, seed or study trial keeps the JSON alone.
"""

from __future__ import annotations

from pathlib import Path

from compare.data import ImageDataset, in_memory
from compare.io import write_bytes, write_json
from compare.report.figures.artifacts import save_continuity_pictures
from compare.models import ModelSpec
from compare.report import write_report
from compare.report.figures.run import (save_curves, save_interpolations, save_loss_curves, save_nearest_neighbours,
                                        save_reconstructions)
from compare.report.figures.common import save_grid, save_side_by_side
from compare.report.text import write_metrics_md
from compare.results import RunResult, model_entry
from compare.sample import GRID_SAMPLES, SAMPLE_SEED_OFFSET
from compare.sample.files import npz_bytes, samples_file
from compare.train import Trained


def write_run(result: RunResult, data: ImageDataset, artifacts: bool = True) -> None:
    out = result.out
    metrics = result.metrics_json()
    if artifacts:
        metrics["continuity"] = {**metrics["continuity"], "files": _pictures(result, data)}
    write_json(out / "metrics.json", metrics)
    write_metrics_md(out, metrics)
    if artifacts:
        write_report([out])


def _pictures(result: RunResult, data: ImageDataset) -> list[str]:
    """Every figure of one run; returns the continuity pictures' file names (metrics.json lists them)."""
    out, config = result.out, result.config
    heldout = in_memory(data.heldout).cpu()
    grids = {"real (held-out)": heldout[:GRID_SAMPLES],
             **{v: images[:GRID_SAMPLES] for v, images in result.views.items()}}
    for view, images in result.views.items():
        save_grid(images[:GRID_SAMPLES], out / f"samples_{view}.png", nrow=8)
        # the whole draw the evaluation scored, for `compare score` and others
        write_bytes(out / samples_file(view), npz_bytes(images))
    for t in result.trained.values():
        save_reconstructions(t.model, heldout, out / f"reconstructions_{t.spec.dirname}.png")
    save_side_by_side(grids, out / "side_by_side.png",
                      title=f"{data.name}, {config['budget']['spec']} each, seed {config['seed']}")
    save_loss_curves({label: t.record.history for label, t in result.trained.items()}, out / "loss_curves.png")
    save_interpolations({label: t.model for label, t in result.trained.items()}, out / "interpolations.png",
                        config["seed"] + SAMPLE_SEED_OFFSET)
    save_nearest_neighbours({v: g for v, g in grids.items() if v != "real (held-out)"}, in_memory(data.train),
                            out / "nearest_neighbours.png")
    save_curves({label: result.curve(label) for label in result.trained}, out / "curves.png")
    return save_continuity_pictures(result.scores.continuity, {v: x[:len(heldout)] for v, x in result.views.items()},
                                    heldout, out)


def write_interrupted(out: Path, specs: tuple[ModelSpec, ...], finished: dict[str, Trained], stopped: Trained,
                      signum: int) -> None:
    """metrics.json of a stopped run: finished models in full, the stopped one's progress, the rest pending."""
    models = {s.label: {"status": "pending"} for s in specs} | {label: model_entry(t) for label, t in finished.items()}
    r = stopped.record
    models[stopped.spec.label] = {"status": "interrupted", "steps": r.steps, "images_seen": r.images,
                                  "train_seconds": round(r.seconds, 3), "final_losses": r.losses,
                                  "loss_history": r.history}
    write_json(out / "metrics.json",
               {"run": out.name, "interrupted": {"signal": signum, "model": stopped.spec.label, "step": r.steps},
                "models": models})
