"""A study's report: report.html (self-contained) and report.md in the study directory, figures under figures/.

Order: the verdict card (compare.report.sections.verdict_card; claim 3 once per claim-3 optimizer: "Claim 3 (Adam)",
"Claim 3 (SGD)"), each with its rule and its numbers with 95% intervals folded under it; the contents; each claim's
figure (compare.report.figures.claims), claims 2 and 3 with their mechanism (the VAE's fitted prior; D(G(z)) and the
losses' slopes at the start);
the verdicts along the budget; the setup; the recipes (the tuning search or the default-recipes sentence);
a side-by-side sample grid per width from one seed, sampled now from that seed's checkpoints (trials
write no pictures); the trials, folded. A study with mechanisms also shows the independent and the joint pixel draws
of that seed side by side beside the "claim 1's reason" verdict (mechanism1.png).
"""

from __future__ import annotations

from pathlib import Path

from compare.data import ImageDataset, in_memory
from compare.io import write_bytes
from compare.models import parse_model_specs
from compare.metrics import label_of
from compare.report import Block, Heading, Image, Para, Table, embeddable, fmt, render_html, render_markdown
from compare.report.render import Contents, Fold
from compare.report.sections.verdict_card import verdict_card
from compare.report.figures.claims import (save_budget_strip, save_claim1_figure, save_claim2_figure,
                                           save_claim3_figure, save_prior_figure)
from compare.claims.prior_gap import RULE_PRIOR
from compare.claims.pixel_mechanism import INDEPENDENT, JOINT, REASON_1
from compare.report.figures.common import save_side_by_side
from compare.claims.study import Judged, OPTIMIZER_NAMES, saturation_sentence
from compare.claims.trial_row import TrialRow, trial_rows
from compare.sample import GRID_SAMPLES, sample_views
from compare.train.checkpoint import load_model

FIGURES = "figures"
# the trials table's numbers, of each model's first view
TRIAL_NUMBERS = ("fid", "kid_x1e3", "mean_confidence", "lone_pixels_per_image", "specks_per_image")
MECHANISM_FIGURE = "mechanism1.png"
DEFAULT_RECIPES = ("Both families use their default recipes (no tuning: pass --tune N for an equal random search per "
                   "family): the GAN lr 5e-4, Adam betas (0.5, 0.999), latent 64, discriminator as wide as the "
                   "generator; the VAE lr 1e-3, Adam betas (0.9, 0.999), latent 16. Under plain SGD (no momentum): the "
                   "GAN lr 0.05, the VAE lr 0.01.")


def titled(name: str) -> str:
    """"claim 3 (SGD)" as a heading or the card names it: "Claim 3 (SGD)"."""
    return name[:1].upper() + name[1:]


def verdict_blocks(name: str, verdict, figure: Path | None, out: Path) -> list[Block]:
    """A claim's figure under its verdict (its rule and readings are in the verdict card, folded)."""
    blocks: list[Block] = [Heading(f"{titled(name)}: {verdict.verdict}", 3)]
    if figure is not None and embeddable(figure, out):
        blocks.append(Image(figure, f"{name}: {verdict.verdict}"))
    return blocks


def _figures(out: Path, judged: Judged) -> dict[str, Path]:
    """{verdict name, "prior" or "along_budget": its figure}: claim1.png, claim2.png, claim2_prior.png,
    claim3_<optimizer>.png, along_budget.png."""
    folder = out / FIGURES
    paths = {"claim 1": folder / "claim1.png", "claim 2": folder / "claim2.png"}
    save_claim1_figure(judged.verdicts["claim 1"], paths["claim 1"])
    save_claim2_figure(judged.verdicts["claim 2"], paths["claim 2"])
    if save_prior_figure(judged.prior_gap, folder / "claim2_prior.png"):
        paths["prior"] = folder / "claim2_prior.png"
    for name, optimizer in judged.optimizers.items():
        if optimizer in judged.claim3:
            paths[name] = folder / f"claim3_{optimizer}.png"
            save_claim3_figure(judged.claim3[optimizer], judged.verdicts[name], paths[name])
    if any(judged.along_budget.values()):
        paths["along_budget"] = folder / "along_budget.png"
        save_budget_strip(judged.along_budget, paths["along_budget"])
    return paths


def sample_grids(out: Path, summary: dict, rows: list[TrialRow], data: ImageDataset) -> list[Path]:
    """Per width, the first seed's models side by side with held-out images, sampled from their checkpoints; a
    model trained with another optimizer than the study's (claim 3's) is labelled with it, e.g. "gan (SGD)"."""
    done = [r for r in rows if r.status == "done"]
    if not done:
        return []
    seed = min(r.seed for r in done)
    real = in_memory(data.heldout).cpu()[:GRID_SAMPLES]
    paths = []
    for width in sorted({r.width for r in done}):
        grids = {"real (held-out)": real}
        for r in (r for r in done if r.seed == seed and r.width == width):
            spec = parse_model_specs([r.model])[0]
            model = load_model(out / r.run_dir, spec.label)
            other = "" if r.optimizer == summary["settings"]["optimizer"] else f" ({OPTIMIZER_NAMES[r.optimizer]})"
            grids.update({f"{view}{other}": images
                          for view, images in sample_views(spec, model, GRID_SAMPLES, seed).items()})
        path = out / FIGURES / f"samples_w{width:g}.png"
        save_side_by_side(grids, path, title=f"width {width:g}, seed {seed}, {summary['settings']['budget']} each")
        paths.append(path)
        if INDEPENDENT in grids and JOINT in grids:  # the two draws mechanism 1 compares, alone: same seed, same budget
            paths.append(out / FIGURES / MECHANISM_FIGURE)
            save_side_by_side({k: grids[k] for k in ("real (held-out)", INDEPENDENT, JOINT)}, paths[-1],
                              title=f"pixels drawn independently vs jointly, width {width:g}, seed {seed}")
    return paths


def setup_rows(summary: dict) -> list[list[str]]:
    s, ev, versions = summary["settings"], summary["evaluator"], summary["versions"]
    overhead = 1 - summary["train_seconds"] / summary["wall_seconds"] if summary["wall_seconds"] else None
    return [["dataset", s["dataset"]], ["budget", f"{s['budget']} per model (batch {s['batch_size']})"],
            ["seeds", ", ".join(map(str, s["seeds"]))], ["widths", ", ".join(f"{w:g}" for w in s["widths"])],
            ["architecture", s["arch"]],
            ["optimizer", f"{s['optimizer']} (claims 1 and 2); claim 3 under {', '.join(s['claim3_optimizers'])}"],
            ["trials",
             f"{summary['counts']['done']} done of {summary['counts']['trials']}, {summary['counts']['failed']} failed "
             f"({summary['executor']})"],
            ["wall time",
             f"{fmt(summary['wall_seconds'])} s over {len(summary['sessions'])} session(s); training "
             f"{fmt(summary['train_seconds'])} s" + (f" (overhead {overhead:.0%})" if overhead is not None else "")],
            ["evaluator",
             f"{ev['name']} sha256 {ev['weights_sha256']} (held-out accuracy {fmt(ev.get('heldout_accuracy'))}), "
             f"N={summary['eval_samples']}"],
            ["versions", ", ".join(f"{k} {v}" for k, v in versions.items())]]


def recipe_blocks(summary: dict) -> list[Block]:
    tuning = summary.get("tuning")
    if not tuning:
        return [Heading("Recipes"), Para(DEFAULT_RECIPES)]
    blocks: list[Block] = [Heading("Recipes: tuning"), Para(tuning["description"])]
    for family, t in tuning["families"].items():
        rows = [[r["id"], ", ".join(f"{k}={fmt(v) if not isinstance(v, list) else v}" for k, v in r["params"].items()),
                 fmt(r.get("heldout_kid_x1e3")), r["status"] + (" (chosen)" if r["params"] == t.get("chosen") else "")]
                for r in t["trials"]]
        blocks += [Heading(f"{family}: chosen {t.get('chosen')}", 3),
                   Table(["trial", "config", "held-out KID x1e3", "status"], rows)]
    return blocks


def write_study_report(out: Path, summary: dict, judged: Judged, data: ImageDataset) -> list[str]:
    """report.html and report.md in `out`; returns the figure files written (relative to `out`)."""
    trials = trial_rows(summary)
    figures = _figures(out, judged)
    grids = sample_grids(out, summary, trials, data)
    figures.update({REASON_1: p for p in grids if p.name == MECHANISM_FIGURE})
    card = verdict_card([(titled(name), verdict, "") for name, verdict in judged.verdicts.items()])
    blocks: list[Block] = [*card, Contents(), Heading("Each claim's evidence"),
                           Para("Each of the source's three claims, judged from paired differences over seeds under "
                                "the rule in its verdict above; 'not decided' means the intervals do not separate.")]
    for name, verdict in judged.verdicts.items():
        blocks += verdict_blocks(name, verdict, figures.get(name), out)
        if ((optimizer := judged.optimizers.get(name)) in judged.claim3
            and (line := saturation_sentence(judged.claim3[optimizer], optimizer))):
            blocks.append(Para(line))
        if name == "claim 2":  # its mechanism: does the VAE's fitted prior close the gap?
            blocks += [Para(judged.prior_gap.sentence()), Fold("Rule of this reading", [Para(f"Rule: {RULE_PRIOR}")])]
            blocks += [Image(figures["prior"],
                             "claim 2's candidate reason: the "
                             "prior")] if "prior" in figures and embeddable(figures["prior"], out) else []
    if judged.along_budget:
        steps = sorted({p.steps for points in judged.along_budget.values() for p in points})
        by = {name: {p.steps: p for p in points} for name, points in judged.along_budget.items()}
        rows = [[str(s), *(f"{by[n][s].verdict.verdict}" if s in by[n] else "–" for n in by)] for s in steps]
        blocks += [Heading("Verdicts along the budget"),
                   Para("Claims 1 and 3 judged again at every curve point of the width-1 trials: where a verdict holds "
                        "or flips. A single-budget verdict holds for that budget only."),
                   *([Image(figures["along_budget"], "verdicts along the budget")] if "along_budget" in figures
                     else []),
                   Table(["steps", *by], rows)]
    blocks += [Heading("Setup"), Table(["", ""], setup_rows(summary)), *recipe_blocks(summary)]
    samples = [Image(p, p.stem.replace("_", " ")) for p in grids if p.name != MECHANISM_FIGURE and embeddable(p, out)]
    blocks += [Heading("Samples"), *samples] if samples else []
    blocks += [Heading("Trials"),
               Fold(f"The {len(trials)} trials' numbers",
                    [Table(["trial", "status", "parameters", "steps", *(label_of(k) for k in TRIAL_NUMBERS)],
                           [[fmt(v) for v in (r.id, r.status, r.size, r.steps, *(r.number(k) for k in TRIAL_NUMBERS))]
                            for r in trials])])]
    title = (f"GAN vs VAE study: {summary['settings']['dataset']}, {summary['settings']['budget']}, "
             f"{len(summary['settings']['seeds'])} seeds")
    write_bytes(out / "report.html", render_html(title, blocks).encode())
    write_bytes(out / "report.md", render_markdown(title, blocks, out).encode())
    return [str(p.relative_to(out)) for p in [*figures.values(), *grids]]


def write_archs_report(out: Path, studies: dict[str, tuple[Judged, dict]]) -> None:
    """report.html and report.md of a study run once per architecture: every claim's verdict under each architecture
    side by side, then one card per architecture; each study's own report (figures, trials) is in out/<arch>/."""
    names = list(dict.fromkeys(name for judged, _ in studies.values() for name in judged.verdicts))
    rows = [[titled(name), *(j.verdicts[name].verdict if name in j.verdicts else "–" for j, _ in studies.values())]
            for name in names]
    blocks: list[Block] = [Heading("Verdicts by architecture"), Table(["claim", *studies], rows),
                           Para("Each architecture's study is complete on its own: "
                                + ", ".join(f"{arch}/report.html" for arch in studies)
                                + " (figures, samples, every trial).")]
    for arch, (judged, summary) in studies.items():
        card = verdict_card([(f"{titled(name)}, {arch}", verdict, "") for name, verdict in judged.verdicts.items()])
        blocks += [Heading(f"The {arch} nets"), *card[1:]]
    first = next(iter(studies.values()))[1]["settings"]
    title = (f"GAN vs VAE study: {first['dataset']}, {first['budget']}, {len(first['seeds'])} seeds, "
             f"{' and '.join(studies)} nets")
    write_bytes(out / "report.html", render_html(title, blocks).encode())
    write_bytes(out / "report.md", render_markdown(title, blocks, out).encode())
