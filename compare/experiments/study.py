"""`compare study`: every trial the source's three claims need, over seeds, under one budget, judged in one report.

For every seed: `gan` and `vae` at every width (claim 2's capacity sweep) under the study's optimizer, and
`gan` and `gan:minimax` at width 1 under each of claim3_optimizers (claim 3 is about the loss, not the size;
it is judged once per optimizer, since the source states it for plain SGD and the default recipes use Adam;
the `gan` trial of claims 1 and 2 is reused). With `mechanisms`, also `vae:autoregressive` at width 1 (claim 1's reason,
compare.claims.pixel_mechanism; final evaluation only, no curve: each of its draws is H*W passes of its head). `models`
(--models) names another GAN or VAE, e.g. a user's class: claim 3 then needs the GAN's minimax variant (a
generator_loss variant "minimax", as gan:minimax), else it is not measured. Claims 1 and 3 compare the models at width
1, whose trials also evaluate MIN_EARLY_POINTS curve points in claim 3's early window (compare.train.early_window). Each
trial is a plain pipeline run (JSON and checkpoints, no pictures) through the sweep's executors; the study then
judges the claims (compare.claims.study) and writes one report (compare.report.study_report).

On disk (`out/`):
    study.json          settings, recipes, tuning, trials, wall time, versions, evaluator hash, "claims", "along_budget"
    report.html/.md     the report;  figures/*.png  its figures
    trials/<id>/        a trial's run directory;  trials/<id>.json  its record (the sweep's format)
    tuning/             the --tune trials, the same way

A rerun into the same directory (or `--resume DIR`) skips done trials and continues stopped ones from
their checkpoints; any signal stops the whole study, every trial resumable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import click

from compare.data import in_memory, load_dataset
from compare.errors import UserError
from compare.io import read_json, write_json
from compare.metrics.evaluator import FEATURES, load_extractor
from compare.metrics.feature_cache import real_features
from compare.metrics.scoring import eval_sample_count, reference_order
from compare.models import ARCHITECTURES, OPTIMIZERS, ModelSpec, kind_of, lookup, parse_model_specs, with_fields
from compare.protocol import is_import_path
from compare.experiments.pipeline import versions
from compare.claims.rules import MIN_EARLY_POINTS
from compare.claims.trial_row import TrialRow
from compare.claims.pixel_mechanism import MECHANISM_MODEL
from compare.settings import MAX_TUNE, MAX_WIDTHS, RunSettings, check_seeds, check_settings
from compare.experiments.sweep import trial_id
from compare.experiments.trials import run_trials
from compare.experiments.tuning import tune
from compare.settings import Budget
from compare.rundir import Interrupted, claimed_directory, marker_kind, trials_session

STUDY_VERSION = 2  # 2: one compare.claims.trial_row.TrialRow per trial
CLAIM_WIDTH = 1.0  # claims 1 and 3 compare the models at each family's default size
DEFAULT_MODELS = ("gan", "vae")  # the study's GAN and VAE unless --models names others
# evenly spaced curve points of the width-1 trials (claims along the budget), plus MIN_EARLY_POINTS early ones
CURVE_POINTS = 8
# A study reads each trial's values, never its per-trial intervals: its own intervals are over seeds
# (compare.stats). 100 resamples instead of a run's 1,000 keep every trial's fid_inf and (coarser)
# intervals while cutting the quality scoring of four sets (a floor and three views, mnist5k, one thread)
# from 7.6 s to 1.7 s. The values themselves do not depend on the count.
TRIAL_RESAMPLES = 100
ARCHS_KIND, ARCHS_FILE = "studies", "studies.json"  # `compare study --arch mlp,conv`: one study per architecture inside


@dataclass(frozen=True)
class StudySettings:
    budget: Budget
    dataset: str = "mnist5k"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    widths: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    arch: str = "mlp"
    tune: int = 0  # random-search trials per family before the seeds (0: the default recipes)
    device: str = "auto"
    batch_size: int = 128
    out: Path | None = None  # default runs/study-<timestamp>
    optimizer: str = "adam"  # of the gan and vae trials (claims 1 and 2)
    claim3_optimizers: tuple[str, ...] = ("adam", "sgd")  # claim 3 is judged once under each
    mechanisms: bool = False  # also the trials that test the claims' reasons (compare study --mechanisms)
    models: tuple[str, str] = DEFAULT_MODELS  # (the GAN, the VAE): registered names or PKG.MODULE:CLASS

    def describe(self) -> dict[str, Any]:
        """study.json's settings; `models` only when not the built-in pair, so the default study's settings
        read as before."""
        return {"budget": str(self.budget), "dataset": self.dataset, "seeds": list(self.seeds),
                "widths": list(self.widths), "arch": self.arch, "tune": self.tune, "device": self.device,
                "batch_size": self.batch_size, "optimizer": self.optimizer,
                "claim3_optimizers": list(self.claim3_optimizers), "mechanisms": self.mechanisms,
                **({"models": list(self.models)} if self.models != DEFAULT_MODELS else {})}

    @classmethod
    def from_json(cls, saved: dict, out: Path) -> "StudySettings":
        return cls(Budget.parse(saved["budget"]), saved["dataset"], tuple(saved["seeds"]),
                   tuple(float(w) for w in saved["widths"]), saved["arch"], saved["tune"], saved["device"],
                   saved["batch_size"], Path(out), saved["optimizer"], tuple(saved["claim3_optimizers"]),
                   saved["mechanisms"], tuple(saved.get("models", DEFAULT_MODELS)))

    @property
    def minimax(self) -> str | None:
        """Claim 3's other GAN: the study's GAN with the minimax generator loss (gan:minimax); None when the GAN is a
        variant already or its model has no generator_loss variant "minimax" (a user's GAN): claim 3 is then
        not measured."""
        gan = self.models[0]
        entry = None if is_import_path(gan) or ":" in gan else lookup(gan)
        return (f"{gan}:minimax" if entry and entry.variant_field == "generator_loss" and "minimax" in entry.variants
                else None)

    def run_settings(self, spec: ModelSpec, width: float, seed: int, out: Path, curves: bool = False) -> RunSettings:
        """One trial: a single model; the width-1 trials also evaluate the curve points the claims read
        along the budget."""
        return RunSettings(models=(spec,), budget=self.budget, dataset=self.dataset, seed=seed, device=self.device,
                           batch_size=self.batch_size, out=out, width=width, curve_points=CURVE_POINTS if curves else 1,
                           early_curve_points=MIN_EARLY_POINTS if curves else 0, resamples=TRIAL_RESAMPLES)


def resume_command(out: Path) -> str:
    return f"compare study --resume {out}"


def saved_settings(out: Path) -> StudySettings:
    """The settings of the study in `out` (for --resume), from its study.json."""
    if marker_kind(out) != "study" or not (Path(out) / "study.json").is_file():
        raise UserError(f"cannot resume {out}: it is not a study directory (no study.json made by `compare study`)")
    return StudySettings.from_json(
        read_json(Path(out) / "study.json", "study.json", "restore it or start a new study")["settings"], out)


def _parse_names(text: str, known, flag: str) -> tuple[str, ...]:
    """"a,b" -> ("a", "b"): names of `known`, each once, at least one; else one line naming `flag`."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names or any(n not in known for n in names):
        raise UserError(f"malformed {flag} {text!r}: give one or more of {', '.join(known)}, separated by commas")
    return names


def parse_archs(text: str) -> tuple[str, ...]:
    """"mlp,conv" -> ("mlp", "conv")."""
    return _parse_names(text, ARCHITECTURES, "--arch")


def parse_study_models(words: Sequence[str]) -> tuple[str, str]:
    """["gan", "vae"] or ["gan,vae"] (either order, any registered name or PKG.MODULE:CLASS) -> (the GAN, the VAE),
    told apart by their kind."""
    specs = parse_model_specs(list(words))  # unknown names and bad plugins: their own one-line errors
    by_kind = {kind: [s.label for s in specs if kind_of(s.label) == kind] for kind in ("gan", "vae")}
    if len(specs) != 2 or len(by_kind["gan"]) != 1 or len(by_kind["vae"]) != 1:
        kinds = ", ".join(f"{s.label} ({kind_of(s.label) or 'no kind'})" for s in specs)
        raise UserError("--models takes one GAN and one VAE (kind \"gan\" and \"vae\"), e.g. gan,vae or "
                        f"gan,mypkg.models:MyVAE; got {kinds}")
    return by_kind["gan"][0], by_kind["vae"][0]


def parse_optimizers(text: str) -> tuple[str, ...]:
    """"adam,sgd" -> ("adam", "sgd")."""
    return _parse_names(text, OPTIMIZERS, "--claim3-optimizers")


def check_study(settings: StudySettings) -> None:
    """Every check that needs no data, so a bad flag is refused before the study directory exists."""
    if not settings.seeds:
        raise UserError("--seeds must be at least 1")
    check_seeds(settings.seeds)  # also those of an edited study.json
    if not 0 <= settings.tune <= MAX_TUNE:
        raise UserError(f"--tune must be 0 to {MAX_TUNE} trials per family, got {settings.tune}")
    if len(settings.widths) > MAX_WIDTHS:
        raise UserError(f"--widths lists {len(settings.widths)} widths, more than {MAX_WIDTHS}")
    if CLAIM_WIDTH not in settings.widths:
        raise UserError("--widths must include 1: claims 1 and 3 compare the models at width 1 (e.g. "
                        "--widths 0.25,0.5,1,2)")
    if settings.budget.unit == "s":
        raise UserError(f"a study needs a budget of steps, images, epochs or flops, not {settings.budget}: its claims "
                        "pair the models' curve points by step, and a seconds budget gives each model other steps (and "
                        "other numbers each run)")
    if settings.arch not in ARCHITECTURES:
        raise UserError(f"unknown --arch {settings.arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
    # --optimizer: with_fields in default_specs names the valid ones
    parse_optimizers(",".join(settings.claim3_optimizers))
    if settings.tune and settings.optimizer != "adam":
        raise UserError("--tune searches Adam's learning rates and betas; use it with --optimizer adam")
    if parse_study_models(settings.models) != settings.models:  # also those of an edited study.json
        raise UserError(f"the study's models must be a GAN and a VAE, in that order; got {', '.join(settings.models)}")
    if settings.tune and settings.models != DEFAULT_MODELS:
        raise UserError("--tune searches the built-in gan's and vae's recipes; use it with --models gan,vae")
    if settings.mechanisms and settings.models[1] != "vae":
        raise UserError(f"--mechanisms compares vae with its {MECHANISM_MODEL} variant; use it with the built-in vae "
                        f"(--models {settings.models[0]},vae)")
    for width in settings.widths:
        check_settings(settings.run_settings(default_specs(settings)[settings.models[0]], width, settings.seeds[0],
                                             Path(".")))


def default_specs(settings: StudySettings, recipes: dict[str, dict] | None = None,
                  optimizer: str | None = None) -> dict[str, ModelSpec]:
    """The study's models (three, and vae:autoregressive with mechanisms) under `optimizer` (default the study's), each
    with --arch and, under the study's optimizer, its family's recipe (the tuned one, if any) as config overrides; under
    another, its defaults (a recipe's lr is one optimizer's)."""
    optimizer = optimizer or settings.optimizer
    specs = {}
    labels = [*settings.models, *filter(None, [settings.minimax]), *([MECHANISM_MODEL] if settings.mechanisms else [])]
    for spec in with_fields(parse_model_specs(labels), arch=settings.arch, optimizer=optimizer):
        recipe = (recipes or {}).get(spec.family, {}) if optimizer == settings.optimizer else {}
        specs[spec.label] = dataclasses.replace(spec, overrides=spec.overrides + tuple(recipe_fields(recipe).items()))
    return specs


def recipe_fields(recipe: dict) -> dict[str, Any]:
    """A recipe as read back from JSON (betas as a list) -> config fields (betas a tuple, as the configs hold it)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in recipe.items()}


def plan_trials(settings: StudySettings, recipes: dict[str, dict],
                out: Path) -> list[tuple[ModelSpec, float, int, RunSettings]]:
    """(spec, width, seed, its run settings) of every trial, seed by seed: gan and vae at every width, then gan and
    gan:minimax at width 1 under each claim-3 optimizer (the trials already planned are not repeated), then with
    mechanisms vae:autoregressive at width 1 (no curve: only its final draws are judged)."""
    specs = {opt: default_specs(settings, recipes, opt)
             for opt in dict.fromkeys([settings.optimizer, *settings.claim3_optimizers])}
    # no minimax variant: claim 3 not measured
    claim3 = (settings.models[0], settings.minimax) if settings.minimax else ()
    grid = []
    for seed in settings.seeds:
        grid += [(specs[settings.optimizer][label], w, seed) for label in settings.models for w in settings.widths]
        grid += [trial for opt in settings.claim3_optimizers for label in claim3
                 if (trial := (specs[opt][label], CLAIM_WIDTH, seed)) not in grid]
        grid += [(specs[settings.optimizer][MECHANISM_MODEL], CLAIM_WIDTH, seed)] if settings.mechanisms else []
    return [(spec, w, seed, settings.run_settings(spec, w, seed, out / trial_id(spec, w, seed),
                                                  curves=w == CLAIM_WIDTH and spec.label != MECHANISM_MODEL))
            for spec, w, seed in grid]


def study_dir(settings: StudySettings) -> Path:
    """--out, or runs/study-<timestamp>."""
    return Path(settings.out) if settings.out else Path("runs") / dt.datetime.now().strftime("study-%Y%m%d-%H%M%S")


def _open(settings: StudySettings) -> tuple[Path, dict | None]:
    """The study directory and its earlier study.json (None when new); a directory holding another study is refused."""
    out = study_dir(settings)
    if (out / "study.json").exists() and marker_kind(out) == "study":
        saved = read_json(out / "study.json", "study.json", "move it away, or pass another --out")
        if (before := saved["settings"]) != settings.describe():
            changed = [k for k, v in settings.describe().items() if before.get(k) != v]
            raise UserError(f"{out} holds a study with other settings ({', '.join(changed)}); resume it with "
                            f"`{resume_command(out)}`, or pass another --out")
        return out.resolve(), saved
    return claimed_directory(out, "study", resume=True)[0].resolve(), None


def study(settings: StudySettings, executor, log: Callable[[str], None] = lambda m: click.echo(m, err=True)) -> dict:
    """Run (or finish) the study and write study.json and the report; returns study.json's content."""
    check_study(settings)
    started = time.perf_counter()
    data = load_dataset(settings.dataset, "cpu")
    device = check_settings(settings.run_settings(default_specs(settings)[settings.models[0]], 1.0, settings.seeds[0],
                                                  Path(".")))
    extractor = load_extractor("evaluator", data, device, on_train=log)
    n_eval = eval_sample_count(None, data, FEATURES["evaluator"].feature_dim)
    out, saved = _open(settings)
    with trials_session(out, "study", resume_command(out)):
        return _study_claimed(settings, executor, out, saved, data, extractor, n_eval, started, log)


def saved_archs(out: Path) -> tuple[StudySettings, tuple[str, ...]] | None:
    """(settings, architectures) of the multi-architecture study in `out` (for --resume), or None if
    `out` is not one."""
    if marker_kind(out) != ARCHS_KIND or not (Path(out) / ARCHS_FILE).is_file():
        return None
    saved = read_json(Path(out) / ARCHS_FILE, ARCHS_FILE, "restore it or start a new study")
    return StudySettings.from_json({**saved["settings"], "arch": saved["archs"][0]}, out), tuple(saved["archs"])


def study_archs(settings: StudySettings, archs: tuple[str, ...], executor,
                log: Callable[[str], None] = lambda m: click.echo(m, err=True)) -> dict:
    """The study once per architecture, in out/<arch>/ (each an ordinary study: its own study.json, report and trials,
    resumable on its own), then out/report.html and .md with every architecture's verdicts side by side.
    Returns {"out", "archs", "studies": {arch: study()'s result}}."""
    from compare.report.study_report import write_archs_report

    for arch in archs:
        check_study(dataclasses.replace(settings, arch=arch))  # every flag refused before any directory exists
    out = study_dir(settings)
    if ((earlier := saved_archs(out)) is not None
            and (earlier[0].describe(), earlier[1]) != (settings.describe(), archs)):
        raise UserError(f"{out} holds a study with other settings; resume it with "
                        f"`{resume_command(out)}`, or pass another --out")
    out = claimed_directory(out, ARCHS_KIND, resume=True)[0].resolve()
    write_json(out / ARCHS_FILE,
               {"kind": ARCHS_KIND, "archs": list(archs), "settings": {**settings.describe(), "arch": list(archs)},
                "resume": resume_command(out)})
    results = {}
    for arch in archs:
        log(f"study of the {arch} nets: {out / arch}")
        results[arch] = study(dataclasses.replace(settings, arch=arch, out=out / arch), executor, log)
    write_archs_report(out, {arch: (r["judged"], r) for arch, r in results.items()})
    return {"out": str(out), "archs": list(archs), "studies": results}


def warm_feature_cache(data, extractor, n_eval: int) -> None:
    """The real sets every trial scores against, extracted once here (compare.metrics.feature_cache) so no trial
    extracts them."""
    train = in_memory(data.train)
    real_features(extractor, in_memory(data.heldout), "held-out images", data.name)
    real_features(extractor, train, "train images", data.name)
    real_features(extractor, train[reference_order(len(train))[:n_eval].to(train.device)], "train reference", data.name)


def _study_claimed(settings: StudySettings, executor, out: Path, saved: dict | None, data, extractor, n_eval: int,
                   started: float, log: Callable[[str], None]) -> dict:
    from compare.claims.study import judge_study
    from compare.report.study_report import write_study_report

    sessions = list((saved or {}).get("sessions", []))
    base = {"kind": "study", "version": STUDY_VERSION, "settings": settings.describe(), "resume": resume_command(out),
            "evaluator": {k: extractor.info.get(k) for k in ("name", "weights_sha256", "source", "heldout_accuracy")},
            "eval_samples": n_eval, "versions": versions(), "executor": executor.description}
    write_json(out / "study.json", {**(saved or {}), **base, "sessions": sessions})  # a stop from here on is resumable
    log(f"study {out}: {len(settings.seeds)} seeds x widths {', '.join(f'{w:g}' for w in settings.widths)}, "
        f"{settings.budget} each")
    warm_feature_cache(data, extractor, n_eval)
    tuning = tune(settings, default_specs(settings), executor, out, data, extractor, n_eval,
                  (saved or {}).get("tuning"), log) if settings.tune else None
    recipes = {family: t["chosen"] for family, t in tuning["families"].items() if t.get("chosen")} if tuning else {}
    planned = plan_trials(settings, recipes, out / "trials")
    finished_now = []  # the trials this session finished, counted as their records are written

    def session(ran: int) -> dict:
        began = dt.datetime.now() - dt.timedelta(seconds=time.perf_counter() - started)  # when this session started
        return {"started": began.isoformat(timespec="seconds"), "trials_run": ran,
                "seconds": round(time.perf_counter() - started, 3)}

    try:
        records, ran = run_trials([(trial_id(spec, w, s), run) for spec, w, s, run in planned], out / "trials",
                                  executor, log, on_record=lambda records: finished_now.append(1))
    except Interrupted:  # a stopped session's time counts in the study's wall time too
        write_json(out / "study.json",
                   {**(saved or {}), **base, "sessions": [*sessions, {**session(len(finished_now)), "stopped": True}]})
        raise
    # a model whose config names no optimizer (a user's) trains with its own, in the arm of the study's optimizer
    rows = [TrialRow.from_record(trial_id(spec, w, s), spec, w, s, records.get(trial_id(spec, w, s)),
                                 optimizer=settings.optimizer) for spec, w, s, _ in planned]
    sessions.append(session(ran))
    judged = judge_study(settings, rows, out)
    summary = {**base, "sessions": sessions, "wall_seconds": round(sum(s["seconds"] for s in sessions), 3),
               "train_seconds": round(sum(r.train_seconds or 0 for r in rows), 3),
               "recipes": {family: recipes.get(family) for family in ("gan", "vae")}, "tuning": tuning,
               "counts": {"trials": len(rows), "done": sum(r.status == "done" for r in rows),
                          "failed": sum(r.status == "failed" for r in rows), "run_now": ran},
               "trials": [r.to_json() for r in rows], "claims": judged.claims_json(),
               "mechanisms": {"prior_gap": judged.prior_gap.to_json()},
               "along_budget": {name: [p.to_json() for p in points] for name, points in judged.along_budget.items()}}
    summary["figures"] = write_study_report(out, summary, judged, data)
    summary["sessions"][-1]["seconds"] = round(time.perf_counter() - started, 3)  # the report is part of the session
    summary["wall_seconds"] = round(sum(s["seconds"] for s in summary["sessions"]), 3)
    write_json(out / "study.json", summary)
    return {"out": str(out), **summary, "judged": judged}
