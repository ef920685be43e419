"""Checkpoints that continue a model's training exactly, in files that cannot carry code.

`<run>/<model>/ckpt.pt` is plain data only (tensors, numbers, strings, lists, dicts) and is loaded
with torch.load(weights_only=True), whose unpickler builds nothing else: a file crafted to run code
when unpickled is refused, never executed. It holds

    format                 CHECKPOINT_FORMAT, bumped when the layout changes
    sha256                 content_sha256 of everything else in it: torch checks no checksum on load, so
                           flipped bytes inside a tensor would load silently; a mismatch is refused
    label, config, run     what the training depends on: the model's resolved config and, in `run`,
                           dataset, split sizes, seed, batch size, budget in steps and device type
                           (fewer steps than the run's plan: the run was extended, and it trains on)
    status, diverged       "training" | "finished" | "diverged", and {"step", "reason"} once diverged
    steps, images, epochs  the budget spent, in every unit
    seconds, losses, history   training time so far and the loss readings (TrainRecord)
    state                  nets, optimisers and the model's own RNG streams (model.state_dict())

The data order needs no state of its own: compare.data.batches replays it from the seed and the
step. Which model states count as healthy (finite losses and weights, samples not all identical) is
decided here too, since only a healthy state may be written over the last good checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import re
import typing
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from compare.settings import Budget
from compare.data import DataOptions
from compare.errors import UserError, did_you_mean
from compare.io import content_sha256, read_run_json, save_checked
from compare.models import parse_model_specs
from compare.protocol import GenerativeModel

CHECKPOINT_FORMAT = 2  # 2: with its content's sha256
RESUME_MAY_CHANGE = ("checkpoint_every",)  # settings that change no result, so a resume may set them anew
COLLAPSE_SAMPLES = 16
COLLAPSE_SEED = 20_000  # a noise stream of its own: checking a model never moves its training or grid streams
COLLAPSE_TOLERANCE = 1 / 255  # below one 8-bit grey level: samples that differ less than this look identical
# Healthy models are far above it: the largest per-pixel spread over 16 samples measured 0.10-0.29 at
# initialisation and 0.95-1.0 after 1000 steps, for the GAN and the VAE on digits and mnist5k.


def save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    """The hash travels inside the same atomically written file: a crash can never leave the two disagreeing."""
    save_checked(path,
                 {"format": CHECKPOINT_FORMAT, **{k: v for k, v in ckpt.items() if k not in ("format", "sha256")}})


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at `path`, on the CPU; one that is not plain data (it may carry code) or is
    damaged is a UserError.

    Always the CPU: load_state_dict copies weights to the model's device, and torch.Generator.set_state
    takes a CPU tensor even for a CUDA generator.
    """
    try:
        with warnings.catch_warnings():  # torch warns about legacy formats; the error below says it all
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # the weights-only unpickler met something it will not build
        found = re.search(r"GLOBAL (\S+)", str(e))
        why = (f"it would call {found.group(1)}, which could run code" if found
               else "it is not plain data (damaged, or not written by compare)")
        raise UserError(f"refusing to load {path}: {why}; nothing in it was run; "
                        "delete it to retrain that model") from None
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path}: {e.strerror}") from None
    except Exception as e:  # torch raises RuntimeError, EOFError, KeyError... for damaged files
        raise UserError(f"{path} is not a readable checkpoint ({type(e).__name__}); delete "
                        "it to retrain that model") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserError(f"{path} is not a checkpoint of this version (format {found}, expected {CHECKPOINT_FORMAT}); "
                        f"delete it to retrain that model")
    body = {k: v for k, v in ckpt.items() if k != "sha256"}
    try:
        intact = ckpt.get("sha256") == content_sha256(body)
    except ValueError:  # a sparse, meta or quantized tensor: nothing save_checkpoint writes
        intact = False
    if not intact:
        raise UserError(f"{path} is damaged: its content does not match the sha256 saved in it; delete it to retrain "
                        "that model (or restore it from a backup)")
    return body


def _first_difference(saved: Any, expected: Any, where: str) -> str | None:
    if isinstance(saved, dict) and isinstance(expected, dict):
        for key in sorted(set(saved) | set(expected), key=str):
            if (diff := _first_difference(saved.get(key), expected.get(key), f"{where}.{key}")) is not None:
                return diff
        return None
    # JSON turns tuples into lists; compare the values, not the container types
    as_lists = [json.loads(json.dumps(v, default=str)) for v in (saved, expected)]
    return None if as_lists[0] == as_lists[1] else f"{where} is {saved!r}, this run has {expected!r}"


def check_compatible(ckpt: dict[str, Any], path: Path, expected: dict[str, Any]) -> None:
    """Refuse a checkpoint (or a run's config) whose label, model config or run settings differ from `expected`'s."""
    for key, value in expected.items():
        if (diff := _first_difference(ckpt.get(key), value, key)) is not None:
            raise UserError(f"{path} comes from an incompatible config ({diff}); "
                            f"resume with the version and settings that wrote it, or start a new run")


def nonfinite_loss(losses: dict[str, float]) -> str | None:
    """Why these loss readings show divergence ("g_loss is nan"), or None when all are finite."""
    bad = [f"{k} is {v}" for k, v in losses.items() if not math.isfinite(v)]
    return ", ".join(bad) or None


def unhealthy(model: GenerativeModel) -> str | None:
    """Why the model must not be checkpointed (non-finite weights, a collapsed generator), or None.

    Finite losses do not guarantee finite weights (an overflowing gradient), and a generator can
    collapse with healthy-looking losses. Cheap enough for every checkpoint: one device sync per part
    and 16 samples from a fixed noise stream, no gradients.
    """
    for name, part in model.parts().items():
        if not bool(torch.stack([torch.isfinite(p).all() for p in part.parameters()]).all()):
            return f"non-finite weights in the {name}"
    images: Tensor = model.sample(COLLAPSE_SAMPLES, generator=torch.Generator().manual_seed(COLLAPSE_SEED))
    spread = float((images.amax(0) - images.amin(0)).max())  # largest per-pixel range across samples
    if not math.isfinite(spread):
        return "non-finite samples"
    if spread < COLLAPSE_TOLERANCE:
        return (f"collapsed generator: {COLLAPSE_SAMPLES} samples from different noise are identical (max "
                f"pixel spread {spread:.1e})")
    return None


def restore(model: GenerativeModel, ckpt: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's state into `model`; one that does not fit it is a UserError."""
    try:
        model.load_state_dict(ckpt["state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        detail = " ".join(str(e).split())  # torch's message spans lines; the CLI prints one
        detail = detail if len(detail) <= 160 else detail[:157] + "..."
        raise UserError(f"{path} does not fit this model ({type(e).__name__}: {detail}); "
                        "delete it to retrain that model") from None


def load_model(run_dir: Path | str, label: str, device: torch.device | str = "cpu") -> GenerativeModel:
    """The trained model `label` of the run in `run_dir`, weights restored, on `device`, ready to `sample(n,
    generator=...)` ((n, C, H, W) floats in [0, 1]). The one loader of a run's models: evaluate, the study's grids,
    tuning and the API.

    Built with the run's seed and the config its checkpoint was trained with (JSON lists back to the config's tuples);
    a missing run, an unknown label (with the closest one), a missing or unfinished model, or a checkpoint of another
    config is a UserError. A diverged model loads: its checkpoint is its last good state, the one the run evaluated."""
    run_dir = Path(run_dir)
    config = read_run_json(run_dir, "config.json")
    if label not in config["models"]:
        raise UserError(f"{run_dir} has no model {label!r}{did_you_mean(label, config['models'])}; "
                        f"it has: {', '.join(config['models'])}")
    spec = parse_model_specs([label])[0]
    path = run_dir / spec.dirname / "ckpt.pt"
    if not path.exists():
        raise UserError(f"{path} is missing: the run did not finish training {label}")
    ckpt = load_checkpoint(path)  # weights only: a tampered file is refused in one line
    # another model's checkpoint copied here (vae's over gan's) would fail inside the constructor: refused as a
    # resume refuses it
    check_compatible(ckpt, path, {"label": label, "config": config["models"][label]})
    if ckpt.get("status") == "training":
        raise UserError(f"{label} in {run_dir} is unfinished (stopped at step {ckpt.get('steps')}); finish it with "
                        f"`compare run --resume {run_dir}`")
    model = build_model(label, ckpt["config"], device, config["seed"])
    restore(model, ckpt, path)
    return model


def build_model(label: str, config: dict[str, Any], device: torch.device | str, seed: int) -> GenerativeModel:
    """A fresh model `label` with exactly this resolved config (every field, as config.json records it)."""
    spec = parse_model_specs([label])[0]
    # JSON made the config's tuples lists
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return spec.entry.model_cls(spec.entry.config_cls(**fields), device=device, seed=seed)


# -- run settings in config.json: what `compare run --resume` reads back ---------------------------

def settings_to_json(settings: Any) -> dict[str, Any]:
    """A RunSettings as JSON: models by label, the budget as amount + unit (exact), the run dir left out."""
    out = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings) if f.name != "out"}
    out["models"] = [{"label": spec.label, "fields": dict(spec.overrides)} for spec in settings.models]
    out["budget"] = {"amount": settings.budget.amount, "unit": settings.budget.unit}
    options = dataclasses.asdict(settings.data_options)
    out["data_options"] = {**options, "root": str(options["root"]) if options["root"] else None}
    return out


def data_options_from_json(options: dict[str, Any]) -> DataOptions:
    return DataOptions(**{**options, "root": Path(options["root"]) if options["root"] else None})


def _specs_from_json(models: list[dict[str, Any]]) -> tuple:
    """The model specs settings_to_json wrote: each label parsed anew, then its config fields (arch, ...) set."""
    specs = parse_model_specs([m["label"] for m in models])
    return tuple(dataclasses.replace(spec, overrides=tuple(m["fields"].items())) for spec, m in zip(specs, models))


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """config.json of a run directory to resume; anything that is not a run is a UserError."""
    try:
        config = read_run_json(run_dir, "config.json")
    except UserError as e:
        raise UserError(f"cannot resume: {e}") from None
    if not isinstance(config.get("settings"), dict):
        raise UserError(f"cannot resume {run_dir}: its config.json has no run settings (written by an older version?)")
    return config


def _check_types(settings: Any) -> None:
    """TypeError for a field whose value is not of its annotated type (a hand-edited width of "abc"),
    so that it is refused here rather than deep inside the run."""
    for name, hint in typing.get_type_hints(type(settings)).items():
        value = getattr(settings, name)
        try:
            ok = isinstance(value, hint) or (hint is float and isinstance(value, int))
        except TypeError:  # a generic such as tuple[ModelSpec, ...]: its own parser built it above
            continue
        if not ok:
            raise TypeError(f"{name} is {value!r}")


def resume_settings(cls: type, run_dir: Path, given: dict[str, Any]) -> Any:
    """The RunSettings (`cls`) saved in `run_dir`, with `given` (flags the user typed, as settings
    values) checked against them: a flag that contradicts the run is a UserError."""
    saved = read_run_config(run_dir)["settings"]
    names = {f.name for f in dataclasses.fields(cls)}
    if unknown := sorted(set(saved) - names):
        raise UserError(f"cannot resume {run_dir}: it was written with settings this version lacks "
                        f"({', '.join(unknown)})")
    try:
        settings = cls(**{**saved, "models": _specs_from_json(saved["models"]),
                          "budget": Budget.parse(f"{float(saved['budget']['amount'])!r}{saved['budget']['unit']}"),
                          "data_options": data_options_from_json(saved["data_options"]), "out": Path(run_dir)})
        _check_types(settings)
    except (KeyError, TypeError, ValueError, UserError) as e:
        raise UserError(f"cannot resume {run_dir}: the settings in its config.json are damaged ({e})") from None
    for name, value in given.items():
        if name in RESUME_MAY_CHANGE:
            settings = dataclasses.replace(settings, **{name: value})
        elif name == "out" and Path(value).resolve() != Path(run_dir).resolve():
            raise UserError(f"--out {value} conflicts with --resume {run_dir}: a resumed run stays in its directory")
        elif name != "out" and value != getattr(settings, name):
            shown = {"models": lambda specs: " ".join(s.label for s in specs)}.get(name, str)
            raise UserError(f"--{name.replace('_', '-')} {shown(value)} conflicts with the run being resumed "
                            f"({shown(getattr(settings, name))}); drop the flag to resume, or start a new run")
    return settings
