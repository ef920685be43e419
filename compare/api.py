"""The public Python API: what the `compare` commands do, callable from a notebook, with typed results.

    import compare
    result = compare.run(models=["gan", "vae"], dataset="digits", budget="600steps", out="runs/demo")
    result.models["gan"].quality.fid          # a float, with .ci95 = (low, high)
    model = compare.load_model("runs/demo", "gan")
    images = model.sample(16)                 # (16, C, H, W) in [0, 1]

Every result is read from the files the run wrote (metrics.json, config.json, sweep.json, study.json): the result
`run` returns equals `RunResult.load` of its directory, today or in a later session. A bad argument raises
compare.UserError with the same one-line message the command line prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from torch import Tensor

from compare.data import DataOptions, check_data_options, check_dataset_name
from compare.errors import UserError, did_you_mean
from compare.io import read_run_json
from compare.metrics.numbers import fmt
from compare.models import parse_model_specs, with_fields
from compare.results import continuity_readings, likelihood_readings, quality_readings
from compare.sample import sample_views
from compare.sample.files import check_samples_out, save_samples
from compare.settings import RunSettings
from compare.stats import RESAMPLES
from compare.experiments.pipeline import nothing_left_to_do
from compare.experiments.sweep import SweepSettings, parse_widths
from compare.experiments.study import StudySettings
from compare.settings import DEFAULT_BUDGET, Budget
from compare.train.checkpoint import load_model
from compare.train.export import export_run
from compare.rundir import EXPORT_PREFIX


class Value(float):
    """A number of a run, usable as the float it is, with its 95% interval `ci95` = (low, high), or None where the
    toolkit computes none (counts, the classifier score). Two Values are equal when value and interval are."""

    ci95: tuple[float, float] | None

    def __new__(cls, value: float, ci95: Sequence[float] | None = None) -> "Value":
        self = super().__new__(cls, value)
        self.ci95 = tuple(ci95) if ci95 is not None else None
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (int, float)):
            return NotImplemented
        return float(self) == float(other) and (not isinstance(other, Value) or self.ci95 == other.ci95)

    def __ne__(self, other: object) -> bool:  # float's own __ne__ would ignore the interval
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = float.__hash__

    def __repr__(self) -> str:
        return f"{float(self)!r}" + (f" [{self.ci95[0]!r}, {self.ci95[1]!r}]" if self.ci95 else "")

    def __str__(self) -> str:  # as the tables show it, "81.8 [80.3, 83.3]"; f"{value:.3f}" formats the plain float
        return fmt(float(self), self.ci95)


class Numbers(Mapping[str, "Value | None"]):
    """Named numbers with attribute access (`numbers.fid`, `numbers["fid"]`); None where a metric is not defined."""

    def __init__(self, readings: Mapping[str, tuple[Any, Any]]):
        self._values = {k: None if v is None else Value(v, ci) for k, (v, ci) in readings.items()}

    def __getitem__(self, key: str) -> Value | None:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Value | None:
        if name.startswith("_"):  # never look up internals (copy and pickle probe them before __init__)
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no number {name!r}{did_you_mean(name, self._values)}; there are: "
                                 f"{', '.join(self._values)}") from None

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._values]

    def __repr__(self) -> str:
        return f"Numbers({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"


@dataclass(frozen=True)
class ViewResult:
    """One sample view's numbers (the real-data floor's, for RunResult.floor): quality and pixel continuity."""

    quality: Numbers
    continuity: Numbers


@dataclass(frozen=True)
class ModelResult:
    label: str
    family: str | None
    status: str | None  # "finished" | "diverged"
    steps: int | None
    parameters: dict[str, int]
    views: dict[str, ViewResult]  # view label -> numbers; the first is the view the model is judged by
    likelihood: Numbers | None  # held-out -ELBO and IWAE NLL (nats/image) where the model defines them

    @property
    def quality(self) -> Numbers:
        """The first view's quality (the GAN's samples, the VAE's per-pixel means)."""
        return next(iter(self.views.values())).quality

    @property
    def continuity(self) -> Numbers:
        return next(iter(self.views.values())).continuity


@dataclass(frozen=True)
class RunResult:
    """A finished run, read from its directory. `metrics` and `config` are its metrics.json and config.json whole."""

    out: Path
    dataset: str
    seed: int
    budget: str
    models: dict[str, ModelResult]
    floor: ViewResult  # real held-out images scored as a model would be: what a perfect model gets
    evaluator: dict[str, Any]  # the feature extractor of the quality numbers: name, weights_sha256, held-out accuracy
    metrics: dict
    config: dict

    @classmethod
    def load(cls, run_dir: Path | str) -> "RunResult":
        """The finished run in `run_dir`; an unfinished or damaged one is a UserError."""
        run_dir = Path(run_dir)
        config, metrics = read_finished_run(run_dir)
        quality, continuity, likelihood = metrics["quality"], metrics["continuity"], metrics.get("likelihood", {})

        def view(v: str) -> ViewResult:
            return ViewResult(Numbers(quality_readings(quality["views"][v])),
                              Numbers(continuity_readings(continuity["views"][v])))

        models = {label: ModelResult(label, m.get("family"), m.get("status"), m.get("steps"), m.get("parameters", {}),
                                     {v: view(v) for v in m["views"]},
                                     Numbers(likelihood_readings(likelihood[label])) if label in likelihood else None)
                  for label, m in metrics["models"].items()}
        floor = ViewResult(Numbers(quality_readings(quality["floor"])),
                           Numbers(continuity_readings(continuity["real"])))
        return cls(run_dir, config["dataset"]["name"], config["seed"], config.get("budget", {}).get("spec", ""), models,
                   floor, quality["extractor"], metrics, config)


def read_finished_run(run_dir: Path) -> tuple[dict, dict]:
    """(config.json, metrics.json) of a run the pipeline calls finished
    (compare.experiments.pipeline.nothing_left_to_do: the one test of it); a missing, unfinished or damaged one is a
    UserError (a damaged file says so in its own words)."""
    config = read_run_json(run_dir, "config.json")
    metrics = read_run_json(run_dir, "metrics.json") if (run_dir / "metrics.json").exists() else {}
    if not nothing_left_to_do(config, metrics):
        raise UserError(f"{run_dir} is unfinished (still training, stopped, or extended to a larger budget and not "
                        f"yet trained to it); finish it with `compare run --resume {run_dir}`")
    return config, metrics


# what `compare run` passes when no flag is given
MODEL_FIELDS = {"arch": "mlp", "precision": "fp32", "optimizer": "adam"}
DATA_FIELDS = {"data_root": "root", "download": "download", "image_size": "image_size", "channels": "channels"}
RUN_FIELDS = [f.name for f in dataclasses.fields(RunSettings)
              if f.name not in ("models", "budget", "dataset", "seed", "out", "data_options")]


def _split_options(options: dict[str, Any], known: Iterable[str], what: str) -> None:
    known = list(known)
    if unknown := [k for k in options if k not in known]:
        raise UserError(f"{what} has no option {unknown[0]!r}{did_you_mean(unknown[0], known)}; it "
                        f"takes: {', '.join(known)}")


def run_settings(models: Sequence[str] | str = ("gan", "vae"), dataset: str = "mnist5k",
                 budget: str | Budget = DEFAULT_BUDGET, seed: int = 0, out: Path | str | None = None,
                 **options: Any) -> RunSettings:
    """The RunSettings `compare run` would make of the same flags (`options` are its flags in snake case)."""
    _split_options(options, [*RUN_FIELDS, *MODEL_FIELDS, *DATA_FIELDS], "compare.run")
    data_options = DataOptions(**{DATA_FIELDS[k]: v for k, v in options.items() if k in DATA_FIELDS})
    check_data_options(check_dataset_name(dataset), data_options)
    specs = parse_model_specs([models] if isinstance(models, str) else list(models))
    specs = with_fields(specs, **{k: options.get(k, default) for k, default in MODEL_FIELDS.items()})
    return RunSettings(models=tuple(specs), budget=Budget.parse(budget) if isinstance(budget, str) else budget,
                       dataset=dataset, seed=seed, out=Path(out) if out is not None else None,
                       data_options=data_options, **{k: v for k, v in options.items() if k in RUN_FIELDS})


def run(models: Sequence[str] | str = ("gan", "vae"), dataset: str = "mnist5k", budget: str | Budget = DEFAULT_BUDGET,
        seed: int = 0, out: Path | str | None = None, progress: bool = False, overwrite: bool = False,
        **options: Any) -> RunResult:
    """`compare run`: train every model under one budget, evaluate, write the run directory; returns its RunResult.

    `out=None` writes to runs/<timestamp> under the current directory, as `compare run` does (a run is kept, to be
    loaded again with RunResult.load or load_model). `options`: batch_size, width, eval_samples, features,
    match_params, curve_points, checkpoint_every, device, arch, precision, optimizer, data_root, download,
    image_size, channels (the flags of `compare run`). `progress` shows the progress bars."""
    # deferred: the pipeline pulls in the report's plotting
    from compare.experiments.pipeline import run as run_pipeline

    result = run_pipeline(run_settings(models, dataset, budget, seed, out, **options), show_progress=progress,
                          overwrite=overwrite)
    return RunResult.load(result.out)


@dataclass(frozen=True)
class SweepResult:
    out: Path
    claim2: dict  # claim 2 (network size for equal quality) as sweep.json holds it: verdict, rule, notes, targets
    summary: dict  # sweep.json whole


@dataclass(frozen=True)
class StudyResult:
    out: Path
    claims: list[dict]  # every verdict: claim, verdict, rule, numbers with intervals
    summary: dict  # study.json whole


def _executor(jobs: int):
    from compare.experiments.executors import ExecutorOptions, make_executor

    return make_executor("local", ExecutorOptions(jobs=jobs))


def _log(progress: bool) -> Callable[[str], None]:
    import click

    return (lambda message: click.echo(message, err=True)) if progress else (lambda message: None)


def sweep(models: Sequence[str] | str = ("gan", "vae"), widths: Sequence[float] | str = (0.25, 0.5, 1, 2, 4),
          seeds: int = 3, seed: int = 0, dataset: str = "mnist5k", budget: str | Budget = DEFAULT_BUDGET,
          out: Path | str | None = None, jobs: int = 1, progress: bool = False, **options: Any) -> SweepResult:
    """`compare sweep`: every (model, width, seed) under one budget, then claim 2. `out=None`: runs/sweep-<timestamp>;
    an existing sweep directory continues. `options`: device, batch_size, quality, continuity, size_by, optimizer,
    resamples."""
    from compare.experiments.sweep import sweep as run_sweep

    _split_options(options, ("device", "batch_size", "quality", "continuity", "size_by", "optimizer", "resamples"),
                   "compare.sweep")
    settings = SweepSettings(models=tuple(parse_model_specs([models] if isinstance(models, str) else list(models))),
                             widths=parse_widths(widths if isinstance(widths, str) else ",".join(map(str, widths))),
                             seeds=tuple(range(seed, seed + seeds)),
                             budget=Budget.parse(budget) if isinstance(budget, str) else budget,
                             dataset=check_dataset_name(dataset), out=Path(out) if out is not None else None, **options)
    summary = run_sweep(settings, _executor(jobs), _log(progress))
    return SweepResult(Path(summary["out"]), summary["claim_b"], summary)


def study(dataset: str = "mnist5k", budget: str | Budget = DEFAULT_BUDGET, seeds: int = 5, seed: int = 0,
          widths: Sequence[float] = (0.25, 0.5, 1, 2), out: Path | str | None = None, jobs: int = 1,
          progress: bool = False, **options: Any) -> StudyResult:
    """`compare study`: all three claims over seeds. `out=None`: runs/study-<timestamp>; an existing study directory
    continues. `options`: arch, tune, device, batch_size, optimizer, claim3_optimizers (a tuple), mechanisms, and
    models (the GAN and the VAE, e.g. ("gan", "mypkg.models:MyVAE"); default ("gan", "vae"))."""
    from compare.experiments.study import parse_study_models, study as run_study

    _split_options(options,
                   ("arch", "tune", "device", "batch_size", "optimizer", "claim3_optimizers", "mechanisms", "models"),
                   "compare.study")
    if "models" in options:
        options["models"] = parse_study_models(options["models"])
    settings = StudySettings(budget=Budget.parse(budget) if isinstance(budget, str) else budget,
                             dataset=check_dataset_name(dataset), seeds=tuple(range(seed, seed + seeds)),
                             widths=tuple(float(w) for w in widths), out=Path(out) if out is not None else None,
                             **options)
    summary = run_study(settings, _executor(jobs), _log(progress))
    return StudyResult(Path(summary["out"]), summary["claims"], summary)


@dataclass(frozen=True)
class Scores:
    """`compare score`: every quality number of the judged set B against the reference A, B's pixel continuity and
    A's (the reference's, its floor). `report` is what `compare score --json` prints besides the two paths."""

    quality: Numbers
    continuity: Numbers
    reference: Numbers
    evaluator: dict[str, Any]
    report: dict


def _images(images: Path | str | Tensor | np.ndarray, where: str) -> Tensor:
    from compare.data.imagesets import load_image_set, to_images

    return load_image_set(images) if isinstance(images, (str, Path)) else to_images(images, where)


def score_images(reference: Any, judged: Any, dataset: str = "mnist5k", features: str = "evaluator",
                 device: str = "auto", on_train: Callable[[str], None] | None = None,
                 resamples: int = RESAMPLES) -> tuple[dict, dict]:
    """(the numbers `compare score --json` prints, the continuity report its table shows) of B = `judged` against
    A = `reference`: each a folder of images, an .npz / .npy / .pt file, or an image array (N, C, H, W) /
    (N, H, W, C); `resamples`: the bootstrap's, behind the intervals and fid_inf."""
    from compare.data import load_dataset
    from compare.metrics.continuity import continuity_report
    from compare.metrics.evaluator import FEATURES, load_extractor
    from compare.metrics.scoring import check_comparable, score_sets
    from compare.settings import check_resamples, resolve_device

    check_resamples(resamples)
    if features not in FEATURES:
        raise UserError(f"unknown features {features!r}{did_you_mean(features, FEATURES)}; choose from: "
                        f"{', '.join(FEATURES)}")
    a, b = _images(reference, "the reference images"), _images(judged, "the judged images")
    check_comparable(a, b, FEATURES[features].feature_dim)
    data = load_dataset(check_dataset_name(dataset))
    extractor = load_extractor(features, data, resolve_device(device), on_train,
                               images={"A's images": a, "B's images": b})
    result = score_sets(a, b, data, extractor, resamples)
    pixels = continuity_report({"B": b}, a)  # A, the reference, plays the part of the real images
    result["continuity"] = {k: pixels[k] for k in ("protocol", "real", "views", "ratios", "sensitivity")}
    return result, pixels


def score(reference: Any, judged: Any, dataset: str = "mnist5k", features: str = "evaluator", device: str = "auto",
          progress: bool = False, resamples: int = RESAMPLES) -> Scores:
    """Score the image set `judged` against `reference` (paths or arrays, see score_images) with every
    quality metric; `resamples` bootstrap resamples behind each interval and fid_inf."""
    report, _ = score_images(reference, judged, dataset, features, device, _log(progress) if progress else None,
                             resamples)
    return Scores(Numbers(quality_readings(report["metrics"])),
                  Numbers(continuity_readings(report["continuity"]["views"]["B"])),
                  Numbers(continuity_readings(report["continuity"]["real"])), report["extractor"], report)


def _view_of(run_dir: Path, config: dict, name: str) -> tuple[str, str]:
    """(model label, view) for a model label (its first view) or a view label of the run in `run_dir`."""
    views = {view: spec.label for spec in parse_model_specs(list(config["models"])) for view in spec.views()}
    firsts = {label: next(v for v, owner in views.items() if owner == label) for label in config["models"]}
    if name in firsts:
        return name, firsts[name]
    if name in views:
        return views[name], name
    raise UserError(f"{run_dir} has no model or view {name!r}{did_you_mean(name, [*firsts, *views])}; "
                    f"it has: {', '.join(dict.fromkeys([*firsts, *views]))}")


def draw_samples(run_dir: Path | str, model: str, n: int, seed: int | None = None, out: Path | str | None = None,
                 overwrite: bool = False, device: str = "cpu") -> Tensor:
    """`compare sample`: n samples (n, C, H, W) in [0, 1] of `model` (a label, or a view such as "vae-pixels") of a
    finished run, from the noise of `seed` (default: the run's own seed, so they begin with the run's evaluation
    draw); with `out`, also written there as 8-bit images (FILE.npz or a folder of PNGs, compare.sample.files)."""
    run_dir = Path(run_dir)
    config, _ = read_finished_run(run_dir)
    label, view = _view_of(run_dir, config, model)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"-n must be a positive number of samples, got {n!r}")
    if out is not None:  # refused before any sampling, not after it
        check_samples_out(Path(out), overwrite)
    trained = load_model(run_dir, label, device)
    images = sample_views(parse_model_specs([label])[0], trained, n, config["seed"] if seed is None else seed)[view]
    if out is not None:
        save_samples(images, Path(out), overwrite)
    return images


def export(run_dir: Path | str, format: str = "safetensors", out: Path | str | None = None,
           overwrite: bool = False) -> list[Path]:
    """`compare export`: every model of a finished run as `format` (safetensors or torchscript) with a JSON card
    each, in `out` (default RUN_DIR/export-<format>); returns the files written (compare.train.export)."""
    run_dir = Path(run_dir)
    config, metrics = read_finished_run(run_dir)
    return export_run(run_dir, format, Path(out) if out is not None else run_dir / f"{EXPORT_PREFIX}{format}", metrics,
                      config, overwrite)


def judge_claims(runs: Iterable[RunResult | Path | str]) -> dict[str, Any]:
    """Claims 1 (pixel artifacts) and 3 (the flipped-label loss) over finished runs of different seeds, paired by seed:
    {"claim 1": Verdict, "claim 3": Verdict}. One run gives "not decided" at best (a verdict needs seeds); claim 2
    needs a size sweep (`sweep`). A claim the runs lack the models for is "not measured"."""
    from compare.claims.inputs import claim1_of_runs, claim3_of_runs

    results = [r if isinstance(r, RunResult) else RunResult.load(r) for r in runs]
    if not results:
        raise UserError("judge_claims needs at least one finished run")
    seeds = [r.seed for r in results]
    if dupes := sorted({s for s in seeds if seeds.count(s) > 1}):
        raise UserError(f"two runs share seed {dupes[0]}; verdicts pair runs by seed: give runs of different seeds")
    pairs = [(r.metrics, r.config) for r in results]
    return {"claim 1": claim1_of_runs(pairs), "claim 3": claim3_of_runs(pairs)}

