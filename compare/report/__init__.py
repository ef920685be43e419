"""The report: one self-contained HTML page and a Markdown twin, from one or more run directories.

Every section is built once as a list of blocks (heading, paragraph, table, image) and rendered
twice: HTML with images embedded as data: URIs (no network, opens from a file, no script) and
Markdown that links the PNGs beside it. Everything a user typed is escaped on the way out.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

from compare.errors import UserError
from compare.train.guard import RunLock, marker_kind
from compare.io import read_json, read_run_json, write_bytes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


Block = Union[Heading, Para, Table, Image]


@dataclass(frozen=True)
class Run:
    path: Path
    config: dict
    metrics: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def models(self) -> dict[str, dict]:
        return self.metrics.get("models", {})


@dataclass(frozen=True)
class Sweep:
    path: Path
    summary: dict


def load_sweep(path: Path) -> Sweep:
    return Sweep(Path(path), read_json(Path(path) / "sweep.json", "sweep.json", "rerun the sweep to rewrite it"))


@dataclass(frozen=True)
class Seeds:
    path: Path
    summary: dict


SEED_KEYS = ["quality.fid", "quality.recall", "quality.precision", "continuity.lone_pixels_per_image", "continuity.specks_per_image",
             "continuity.fragments_per_image", "train_seconds"]


def load_seeds(path: Path) -> tuple[Seeds, list[Path]]:
    """A `compare run --seeds N` directory: its summary and its per-seed run directories."""
    summary = read_json(Path(path) / "seeds.json", "seeds.json", "rerun with --seeds to rewrite it")
    return Seeds(Path(path), summary), sorted(p for p in Path(path).glob("seed-*") if (p / "metrics.json").exists())


def load_run(path: Path) -> Run:
    return Run(Path(path), read_run_json(path, "config.json"), read_run_json(path, "metrics.json"))


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ----------------------------------------------------------------------------- sections


def section_setup(runs: list[Run]) -> list[Block]:
    rows = []
    for run in runs:
        c = run.config
        ds = c.get("dataset", {})
        consumed = "; ".join(f"{label}: {fmt(m.get('steps'))} steps, {fmt(m.get('images_seen'))} images, "
                             f"{fmt(m.get('train_seconds'), 3)} s" for label, m in run.models.items())
        versions = c.get("versions", {})
        rows.append([run.name, f"{ds.get('name')} ({fmt(ds.get('train'))} train / {fmt(ds.get('heldout'))} held-out, "
                     f"{'x'.join(map(str, ds.get('image_shape', [])))})", c.get("budget", {}).get("spec", "?"), consumed,
                     f"{c.get('device', {}).get('type')} ({c.get('device', {}).get('name')})", fmt(c.get("seed")),
                     f"torch {versions.get('torch')}, git {str(versions.get('git'))[:10]}"])
    return [Heading("Setup"), Table(["run", "dataset", "budget", "consumed", "device", "seed", "versions"], rows)]


def embeddable(path: Path, root: Path) -> bool:
    """Whether `path` is a PNG inside `root` (the run or sweep directory); else it is skipped with a
    warning: a name in a JSON file, or a link in the directory, could point at any file on the machine."""
    try:
        inside = Path(path).resolve().is_relative_to(Path(root).resolve())
        with open(path, "rb") as f:
            png = f.read(len(PNG_MAGIC)) == PNG_MAGIC
    except OSError:
        inside = png = False
    if not (inside and png):
        warnings.warn(f"report: skipped {path}: {'not a PNG image' if inside else 'not a file inside ' + str(root)}")
    return inside and png


def _images(runs: list[Run], filename: str, alt: str) -> list[Block]:
    blocks: list[Block] = []
    for run in runs:
        for path in sorted(run.path.glob(filename)):
            if embeddable(path, run.path):
                blocks.append(Image(path, f"{run.name}: {alt}" + (f" ({path.stem})" if "*" in filename else "")))
    return blocks


def section_samples(runs: list[Run]) -> list[Block]:
    return [Heading("Samples side by side"),
            Para("Held-out real images and every model's samples, each model drawing from the same fixed noise seed."),
            *_images(runs, "side_by_side.png", "samples side by side")]


def section_training(runs: list[Run]) -> list[Block]:
    rows = [[run.name, label, m.get("failure") or m.get("status", "finished"), fmt(m.get("steps")), fmt(m.get("steps_per_second"), 4),
             ", ".join(f"{k} {fmt(v)}" for k, v in m.get("final_losses", {}).items())]
            for run in runs for label, m in run.models.items()]
    return [Heading("Training"), Table(["run", "model", "status", "steps", "steps/s", "final losses"], rows),
            *_images(runs, "loss_curves.png", "training losses")]


def section_latents(runs: list[Run]) -> list[Block]:
    return [Heading("Latent interpolations"),
            Para("Each row walks a great circle between two latent draws: smooth rows mean a continuous latent space."),
            *_images(runs, "interpolations.png", "latent interpolations")]


def section_neighbours(runs: list[Run]) -> list[Block]:
    return [Heading("Nearest training images"),
            Para("A sample identical to its nearest training image would be memorised, not generated."),
            *_images(runs, "nearest_neighbours.png", "nearest training neighbours")]


def section_reconstructions(runs: list[Run]) -> list[Block]:
    blocks = _images(runs, "reconstructions_*.png", "held-out images (top) and reconstructions (bottom)")
    return [Heading("Reconstructions"), *(blocks or [Para("No model in these runs reconstructs its input.")])]


ARROWS = {"lower": "↓", "higher": "↑"}


def _better(metric: str, key: str) -> str:
    from compare.metrics import METRICS  # the registry says which way is better

    return ARROWS.get(METRICS[metric].better.get(key, ""), "") if metric in METRICS else ""


def section_quality(runs: list[Run]) -> list[Block]:
    blocks: list[Block] = [Heading("Sample quality")]
    measured = [run for run in runs if run.metrics.get("quality")]
    if not measured:
        return blocks + [Para("Not measured in these runs; `compare evaluate RUN_DIR` adds it from the saved weights.")]
    for run in measured:
        quality = run.metrics["quality"]
        info = quality["extractor"]
        columns = {"real floor": quality["floor"], **quality["views"]}
        any_view = next(iter(quality["views"].values()), quality["floor"])
        protocol = any_view["fid"]["protocol"]
        accuracy = info.get("heldout_accuracy")
        blocks.append(Para(f"{run.name}: features {info['name']} (weights sha256 {info['weights_sha256'][:12]}"
                           + (f", held-out accuracy {accuracy:.2%}" if accuracy is not None else ", no labels: class metrics n/a")
                           + f"); {protocol.get('n_fake')} samples per view against {protocol.get('n_real')} train images; "
                           "the real floor is held-out against train images at the same count, what a perfect model scores."))
        rows = []
        for metric, entry in quality["floor"].items():
            for key in entry["values"]:
                rows.append([key, _better(metric, key), *(fmt(col.get(metric, {}).get("values", {}).get(key)) for col in columns.values())])
        blocks.append(Table(["metric", "better", *columns], rows))
    return blocks


def section_size(runs: list[Run]) -> list[Block]:
    rows = []
    for run in runs:
        for label, m in run.models.items():
            size = m.get("size")
            if not size:
                continue
            parts = ", ".join(f"{part} {fmt(n)}" for part, n in size["parameters"].items() if part != "total")
            rows.append([run.name, label, fmt(m.get("width")), fmt(size["parameters"]["total"]), parts, fmt(size["fp32_mb"]["total"]),
                         fmt(size["flops_per_image"]), fmt(size["train_flops_per_step"]), fmt(size["sampling_images_per_second"]),
                         fmt(size["training_images_per_second"]), f"{fmt(size['peak_memory_mb'])} ({size['peak_memory_kind']})"])
    if not rows:
        return [Heading("Model size"), Para("Not measured in these runs.")]
    return [Heading("Model size"),
            Para("FLOPs are counted by torch's FlopCounterMode on the real networks (matrix products and convolutions)."),
            Table(["run", "model", "width", "parameters", "per part", "fp32 MB", "FLOPs / image", "train FLOPs / step",
                   "sampling img/s", "training img/s", "peak memory MB"], rows)]


def section_curves(runs: list[Run]) -> list[Block]:
    blocks = _images(runs, "curves.png", "FID and lone pixels per image against training FLOPs and seconds")
    return [Heading("Quality against compute"),
            *(blocks or [Para("Not measured in these runs (`compare run --curve-points 8`).")])]


BAD_PIXEL_KEYS = ["lone_pixels_per_image", "lone_ink_per_image", "lone_holes_per_image", "specks_per_image",
                  "fragments_per_image", "fragmented_share"]
BLUR_KEYS = ["tv_per_pixel", "laplacian_var", "hf_share", "spectrum_distance"]


def section_continuity(runs: list[Run]) -> list[Block]:
    from compare.metrics.continuity import SENSITIVE_KEYS, value_text

    tables: dict[str, list] = {"bad pixels": [], "blur": [], "thresholds": []}
    for run in runs:
        report = run.metrics.get("continuity")
        if not report:
            continue
        sets = {"real (held-out)": (report["real"], None), **{v: (n, report["ratios"][v]) for v, n in report["views"].items()}}
        for name, (numbers, ratios) in sets.items():
            for table, keys in (("bad pixels", BAD_PIXEL_KEYS), ("blur", BLUR_KEYS)):
                tables[table].append([run.name, name, *(value_text(numbers, k) + (f" (x{fmt(ratios.get(k), 3)})" if ratios else "")
                                                        for k in keys)])
        sens = report.get("sensitivity", {})
        for name, by_threshold in {"real (held-out)": sens.get("real", {}), **sens.get("views", {})}.items():
            tables["thresholds"] += [[run.name, name, t, *(fmt(rates.get(k)) for k in SENSITIVE_KEYS)] for t, rates in by_threshold.items()]
    if not tables["bad pixels"]:
        return [Heading("Pixel continuity"), Para("Not measured in these runs (they predate the continuity metrics); rerun with `compare run`.")]
    return [Heading("Pixel continuity"),
            Para("Bad pixels, counted per image on the images binarised at 0.5: lone pixels (all 8 neighbours the other value: "
                 "lone ink on the background, lone holes in a stroke), specks (ink pieces of 1-3 pixels) and fragments (pieces "
                 "of 4+ pixels besides the main stroke); [low, high] is a 95% bootstrap interval over images, (xR) the ratio to "
                 "the held-out real images. Clean strokes, stroke ends and corners count zero."),
            Table(["run", "images", *BAD_PIXEL_KEYS], tables["bad pixels"]),
            Para("Blur and spectrum, measured apart and never counted as bad pixels: blur lowers all three, pixel noise raises "
                 "them, so the real value (x1) is the target. The real row's spectrum distance is the train-vs-held-out floor."),
            Table(["run", "images", *BLUR_KEYS], tables["blur"]),
            Para("The bad-pixel rates binarised at 0.3 and 0.7 instead of 0.5: how much they depend on the threshold."),
            Table(["run", "images", "threshold", *SENSITIVE_KEYS], tables["thresholds"]),
            *_images(runs, "spectrum.png", "radially averaged power spectra"),
            *_images(runs, "artifacts_*.png", "flagged pixels (red lone ink, green lone hole, blue speck, orange fragment)"),
            *_images(runs, "worst16_*.png", "the 16 images with the most lone pixels + specks")]


def section_claims(runs: list[Run], sweeps: list[Sweep], seeds: list[Seeds]) -> list[Block]:
    from compare.report.claim_inputs import claim_a, claim_a_over_seeds, claim_b, claim_c

    blocks: list[Block] = [Heading("Claims from the source comparison"),
                           Para("Each claim of the source text, the evidence from these runs, and a verdict that says no more "
                                "than the numbers do.")]
    over_seeds = [(f"{entry.path.name} (seeds)", c) for entry in seeds if (c := claim_a_over_seeds(entry.summary))]
    verdicts = over_seeds or [(run.name, claim_a(run.metrics, run.config)) for run in runs]
    verdicts.append(("sweep" if sweeps else "-", claim_b([s.summary for s in sweeps])))
    verdicts += [(run.name, claim_c(run.metrics, run.config)) for run in runs]
    grouped: dict[tuple[str, str, str], list[str]] = {}  # runs with the same verdict and evidence share a row
    for source, c in verdicts:
        grouped.setdefault((c.claim, c.verdict, "; ".join([*c.evidence(), f"rule: {c.rule}"])), []).append(source)
    rows = [[claim, ", ".join(sources), verdict, evidence] for (claim, verdict, evidence), sources in grouped.items()]
    return blocks + [Table(["claim", "from", "verdict", "evidence"], rows)]


def section_seeds(seeds: list[Seeds]) -> list[Block]:
    if not seeds:
        return []
    blocks: list[Block] = [Heading("Seed statistics")]
    for entry in seeds:
        summary = entry.summary
        labels, diffs = list(summary["models"]), summary["differences"]
        blocks.append(Para(f"{entry.path.name}: seeds {', '.join(map(str, summary['seeds']))}. Each model: mean ± half-width "
                           f"of the 95% interval. Differences: {summary['interval']}; n.s. marks an interval that includes zero."))
        rows = []
        for key in SEED_KEYS:
            cells = []
            for label in labels:
                st = summary["models"][label].get(key)
                cells.append(f"{fmt(st['mean'])} ± {fmt((st['ci95'][1] - st['ci95'][0]) / 2)}" if st and st.get("ci95") else "–")
            for name in diffs:
                d = diffs[name].get(key)
                cells.append("–" if not d or d.get("ci95") is None else
                             f"{d['mean']:+.4g} [{fmt(d['ci95'][0])}, {fmt(d['ci95'][1])}]" + ("" if d["significant"] else " n.s."))
            if any(c != "–" for c in cells):
                rows.append([key, *cells])
        blocks.append(Table(["metric", *labels, *diffs], rows))
    return blocks


def section_sweep(sweeps: list[Sweep]) -> list[Block]:
    if not sweeps:
        return []
    blocks: list[Block] = [Heading("Capacity sweep")]
    for sweep in sweeps:
        rows = [[label, t.get("source", ""), fmt(t.get("target")),
                 fmt(t["point"]["size"]) if t.get("point") else "not reached"] for label, t in sweep.summary.get("targets", {}).items()]
        blocks += [Para(f"{sweep.path.name}: {sweep.summary['claim_b']['statement']}: {sweep.summary['claim_b']['verdict']} "
                        f"({sweep.summary['claim_b']['reason']})."),
                   Table(["model", "target from", "target", "smallest size reaching it"], rows),
                   *(Image(sweep.path / name, f"{sweep.path.name}: {name}") for name in sweep.summary.get("plots", [])
                     if embeddable(sweep.path / name, sweep.path))]
    return blocks


SECTIONS: list[Callable[[list[Run]], list[Block]]] = [
    section_setup,
    section_samples,
    section_quality,
    section_continuity,
    section_size,
    section_curves,
    section_training,
    section_latents,
    section_neighbours,
    section_reconstructions,
]


# ----------------------------------------------------------------------------- rendering


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_html(title: str, blocks: list[Block]) -> str:
    e = html.escape
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Image):
            parts.append(f'<figure><img src="{_data_uri(b.path)}" alt="{e(b.alt)}"><figcaption>{e(b.alt)}</figcaption></figure>')
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "th{background:#f3f3f3}img{max-width:100%;image-rendering:pixelated}figure{margin:1em 0}"
             "figcaption{font-size:13px;color:#555}.good{color:#070}.bad{color:#a00}")
    # The CSP forbids every fetch and script: the page can only show what is inside it.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{e(title)}</title><style>{style}</style></head>\n<body>\n<h1>{e(title)}</h1>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _md_cell(text: str) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, blocks: list[Block], base: Path) -> str:
    lines = [f"# {_md_cell(title)}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + _md_cell(b.text), ""]
        elif isinstance(b, Para):
            lines += [_md_cell(b.text), ""]
        elif isinstance(b, Table):
            lines += ["| " + " | ".join(map(_md_cell, b.headers)) + " |", "|" + " --- |" * len(b.headers)]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in b.rows] + [""]
        elif isinstance(b, Image):
            rel = urllib.parse.quote(Path(os.path.relpath(b.path, base)).as_posix())  # no markup survives in a link target
            alt = _md_cell(b.alt).replace("[", "\\[").replace("]", "\\]")
            lines += [f"![{alt}]({rel})", ""]
    return "\n".join(lines)


def write_report(run_dirs: list[Path], out: Path | None = None) -> tuple[Path, Path]:
    """report.html and report.md for the runs; by default inside the (first) run directory."""
    if not run_dirs:
        raise UserError("give at least one run directory")
    sweeps, seeds, run_paths = [], [], []
    for p in map(Path, run_dirs):  # a sweep directory, a --seeds directory (its seed runs join the runs), or a run
        if (p / "sweep.json").exists():
            sweeps.append(load_sweep(p))
        elif (p / "seeds.json").exists():
            entry, seed_runs = load_seeds(p)
            seeds.append(entry)
            run_paths += seed_runs
        else:
            run_paths.append(p)
    runs = [load_run(p) for p in run_paths]
    if not runs:
        raise UserError("give at least one run directory (made by `compare run`) beside any sweep directory")
    html_path = Path(out) if out else (seeds[0].path if seeds else runs[0].path) / "report.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out {html_path} must end in .html (report.md is written beside it)")
    blocks = [*section_claims(runs, sweeps, seeds), *section_seeds(seeds), *(block for section in SECTIONS for block in section(runs)),
              *section_sweep(sweeps)]
    title = "GAN vs VAE: " + ", ".join(run.name for run in runs)
    md_path = html_path.with_suffix(".md")
    # Into a run, sweep or --seeds directory only under its lock, as every writer there.
    with RunLock(html_path.parent) if marker_kind(html_path.parent) else contextlib.nullcontext():
        write_bytes(html_path, render_html(title, blocks).encode())
        write_bytes(md_path, render_markdown(title, blocks, md_path.parent).encode())
    return html_path, md_path
