"""Every table of numbers the toolkit shows, built once from the metric registry and rendered anywhere.

The rows, arrows and units come from compare.metrics (Key: better, unit, headline; group: which table),
numbers from compare.metrics.numbers; each builder returns a render.Table that the CLI prints
(render.text_table), metrics.md holds, and the report renders to HTML and Markdown.

    quality_table      feature-space metrics: one column per scored set (the real floor, each view)
    pixel_table        a continuity group ("bad pixels", "blur") beside the reference, (Rx) the ratio to it
    sensitivity_table  the bad-pixel rates binarised at the other thresholds
    seed_table         `run --seeds`: mean [interval] per model, paired differences, n.s.
    likelihood_table   the VAE's held-out ELBO and IWAE bound
Every value with an interval is shown `value [low, high]`; overlap_sentences says, per headline
metric, which pairs of sets have overlapping 95% intervals. Rows are named in words (the registry's labels), each
row's raw key kept as its tooltip; constant rows (Key.constant) are left out, and so is a unit or better column
that no row of the table fills.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping

from compare.metrics import METRICS, SECTIONS, Key, key_info, keys_of, label_of
from compare.metrics.bad_pixels import CI_SUFFIX
from compare.metrics.numbers import ARROWS, fmt, interval
from compare.report.render import Table

Interval = tuple[float, float] | None
DESCRIBED = ("unit", "better")  # the columns _described fills after a row's name


def _describe(k: str, n: int | None = None) -> list[str]:
    """The name (its label, at set size n), unit and arrow cells of a key's row."""
    key = key_info(k)
    return [key.name(k, n), key.unit, ARROWS.get(key.better, "")]


def _described(first: str, keys: list[str], rows: list[list[str]], sets) -> Table:
    """A table of rows [name, unit, arrow, *cells] (one per key), without a unit or better column no row fills."""
    headers = [first, *DESCRIBED, *sets]
    keep = [i for i in range(len(headers)) if not 1 <= i <= len(DESCRIBED) or any(row[i] for row in rows)]
    return Table([headers[i] for i in keep], [[row[i] for i in keep] for row in rows], keys)


def shown(k: str) -> bool:
    """Whether a key gets a row: every key but the constants (the real data's own, the same in every column)."""
    return not key_info(k).constant


# ---- feature-space quality ----

def quality_interval(entry: Mapping, k: str) -> Interval:
    return interval(((entry.get("intervals") or {}).get(k) or {}).get("ci95"))


def quality_table(columns: Mapping[str, Mapping[str, dict]]) -> Table:
    """One row per number of the first set's metrics, one column per scored set ({name: {metric: {"values",
    "intervals"}}})."""
    first = next(iter(columns.values()))
    keys = [(metric, k) for metric, entry in first.items() for k in entry["values"] if shown(k)]
    rows = [[*_describe(k, first[metric].get("protocol", {}).get("n_fake")),
             *(fmt(col.get(metric, {}).get("values", {}).get(k), quality_interval(col.get(metric, {}), k))
               for col in columns.values())]
            for metric, k in keys]
    return _described("metric", [k for _, k in keys], rows, columns)


def quality_intervals(columns: Mapping[str, Mapping[str, dict]]) -> dict[str, dict[str, Interval]]:
    """{headline key: {set: its interval}} of the quality columns, for overlap_sentences."""
    first = next(iter(columns.values()))
    return {k: {name: quality_interval(col.get(metric, {}), k) for name, col in columns.items()}
            for metric, entry in first.items() for k in entry["values"] if key_info(k).headline}


# ---- pixel continuity ----

def _pixel_sets(report: Mapping, reference: str) -> dict[str, tuple[Mapping, Mapping | None]]:
    return {reference: (report["real"], None),
            **{v: (numbers, report["ratios"][v]) for v, numbers in report["views"].items()}}


def _pixel_cell(numbers: Mapping, ratios: Mapping | None, k: str) -> str:
    text = fmt(numbers.get(k), numbers.get(k + CI_SUFFIX))
    if ratios is None:
        return text
    ratio = ratios.get(k)  # none when the reference is 0 or missing: said in words, never "xn/a"
    return f"{text} ({'ratio n/a' if ratio is None else fmt(ratio) + 'x'})"


def pixel_table(report: Mapping, group: str, reference: str = "real") -> Table:
    """A continuity report's numbers of one registry group: one row per key it holds, the reference and
    each view (Rx)."""
    sets = _pixel_sets(report, reference)
    keys = [k for k in keys_of(group) if k in report["real"] and shown(k)]
    rows = [[*_describe(k), *(_pixel_cell(numbers, ratios, k) for numbers, ratios in sets.values())] for k in keys]
    return _described("pixel metric", keys, rows, sets)


def pixel_intervals(report: Mapping, reference: str = "real") -> dict[str, dict[str, Interval]]:
    """{headline key: {set: its interval}} of a continuity report, for overlap_sentences."""
    sets = _pixel_sets(report, reference)
    return {k: {name: interval(numbers.get(k + CI_SUFFIX)) for name, (numbers, _) in sets.items()}
            for group in ("bad pixels", "blur") for k, key in keys_of(group).items()
            if key.headline and k in report["real"]}


def sensitivity_table(report: Mapping, reference: str = "real") -> Table:
    """The bad-pixel rates the report repeated at other binarisation thresholds: one row per (key, threshold)."""
    sens = report.get("sensitivity") or {}
    sets = {reference: sens.get("real", {}), **sens.get("views", {})}
    first = next(iter(sets.values()), {})
    keys = [(threshold, k) for threshold, rates in first.items() for k in rates]
    rows = [[label_of(k), threshold, *(fmt(by_threshold.get(threshold, {}).get(k)) for by_threshold in sets.values())]
            for threshold, k in keys]
    return Table(["pixel metric", "binarised at", *sets], rows, [k for _, k in keys])


# ---- overlap of intervals ----

def overlap_sentence(key: str, intervals: Mapping[str, Interval]) -> str:
    """"FID: gan and vae-pixels overlap; every other pair is separated." over the sets' 95% intervals."""
    known = {name: ci for name, ci in intervals.items() if ci is not None}
    pairs = list(combinations(known, 2))
    overlapping = [(a, b) for a, b in pairs if known[a][0] <= known[b][1] and known[b][0] <= known[a][1]]
    if not pairs:
        text = "fewer than two intervals to compare"
    elif len(pairs) == 1:
        text = f"{pairs[0][0]} and {pairs[0][1]} {'overlap' if overlapping else 'are separated'}"
    elif not overlapping:
        text = "every pair is separated"
    elif len(overlapping) == len(pairs):
        text = "every pair overlaps"
    else:
        text = "; ".join(f"{a} and {b} overlap" for a, b in overlapping) + "; every other pair is separated"
    missing = [name for name in intervals if name not in known]
    return (f"{key_info(key).name(key)}: {text}"
            + (f" (no interval: {', '.join(missing)})" if missing and pairs else "") + ".")


def overlap_sentences(by_key: Mapping[str, Mapping[str, Interval]]) -> list[str]:
    return [overlap_sentence(k, intervals) for k, intervals in by_key.items()]


# ---- seeds ----

def _seed_rows(models: Mapping) -> list[str]:
    """The registered metrics any model (or view) has (headline first, in registry order), then every other
    number that varies over seeds (steps and parameter counts do not: left out)."""
    present = dict.fromkeys(k for stats in models.values() for k in stats)
    paths: dict[str, Key] = {f"{SECTIONS[m.space]}.{k}": key for m in METRICS.values() for k, key in m.keys.items()}
    registered = sorted((p for p in paths if p in present and not paths[p].constant),
                        key=lambda p: not paths[p].headline)
    varying = [k for k in present
               if k not in paths and any((stats.get(k) or {}).get("std") for stats in models.values())]
    return registered + varying


def seed_table(summary: Mapping, views: bool = False) -> Table:
    """Each model's mean [95% interval] over seeds, and each difference from the first model [interval],
    marked n.s. where its interval includes zero (a summary from compare.experiments.seeds.summarize_seeds); with views,
    the same for every view (the models' columns hold their first view's numbers)."""
    models, diffs = (summary["views"],
                     summary["view_differences"]) if views else (summary["models"], summary["differences"])
    labels, keys = list(models), _seed_rows(models)
    rows = []
    for k in keys:
        cells = [fmt(st["mean"], st["ci95"]) if (st := models[label].get(k)) else fmt(None) for label in labels]
        for name in diffs:
            d = diffs[name].get(k)
            cells.append(fmt(None) if not d
                         else fmt(d["mean"], d["ci95"], signed=True) + (" n.s." if d["significant"] is False else ""))
        rows.append([_seed_label(k), *cells])
    return Table(["metric", *labels, *diffs], rows, keys)


def _seed_label(path: str) -> str:
    """A seed summary's number in words: a registered key by its label ("continuity.lone_pixels_per_image" -> "lone
    pixels per image"), a loss as "final <name> loss" ("final_losses.d_loss" -> "final d loss"), any other key with
    spaces ("train_seconds" -> "train seconds")."""
    section, _, k = path.rpartition(".")
    if section == "final_losses":
        name = k.replace("_", " ")
        return f"final {name}" if name.endswith("loss") else f"final {name} loss"
    return label_of(k) if key_info(k).label else path.replace("_", " ").replace(".", " ")


# ---- the VAE's held-out likelihood ----

LIKELIHOOD = {"neg_elbo_nats": f"-ELBO (nats/image, {ARROWS['lower']})",
              "iwae_nll_nats": f"IWAE NLL (nats/image, {ARROWS['lower']})"}


def likelihood_table(likelihood: Mapping[str, Mapping]) -> Table:
    """metrics.json's "likelihood" ({model: {"neg_elbo_nats", "iwae_nll_nats", "k", "n", "ci95": {key: [lo, hi]}}}): one
    row per model."""
    rows = [[label, *(fmt(e.get(k), (e.get("ci95") or {}).get(k)) for k in LIKELIHOOD), fmt(e.get("k")),
             fmt(e.get("n"))]
            for label, e in likelihood.items()]
    return Table(["model", *LIKELIHOOD.values(), "importance samples k", "held-out images"], rows)
