"""Figures of the claim verdicts (compare.claims.rules), one function per figure, each taking its result
objects and a path.

    save_claim1_figure     per-seed paired differences VAE minus GAN with the mean and its interval, per view and
                           measure
    save_claim3_figure     early FID curves of both generator losses, mean and 95% band over seeds, the threshold;
                           beside them the saturation readings (D(G(z)), share below 0.1, both losses'
                           derivatives by D's logit)
    save_claim2_figure     parameters needed against the FID target, both families, t bands over seeds (log axes)
    save_prior_figure      FID against parameters for the GAN, vae-mean and vae-gmm (claim 2's mechanism)
    save_budget_strip      each claim's verdict at every curve point along the budget
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence


from compare.metrics import label_of
from compare.claims.prior_gap import PriorGap
from compare.claims.types import in_words
from compare.metrics.numbers import fmt
from compare.claims.rules import (
    ARTIFACT_KEYS, FID, MIXED, NO_PRACTICAL_DIFFERENCE, NOT_DECIDED, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED,
    BudgetPoint, Claim3Input, Verdict, early_window,
)
from compare.report.figures.common import COLUMN_INCHES, plt, save_figure, save_interval_curves
from compare.stats import summarize

VERDICT_COLOURS = {SUPPORTED: "tab:green", NOT_SUPPORTED: "tab:red", MIXED: "tab:orange",
                   NO_PRACTICAL_DIFFERENCE: "tab:blue", NOT_DECIDED: "0.65", NOT_MEASURED: "white"}


def save_claim1_figure(verdict: Verdict, path: Path) -> None:
    """One panel per artifact measure: for each VAE view, a dot per seed's VAE-minus-GAN difference and the
    mean with its 95% interval; above the zero line means more artifacts than the GAN."""
    fig, axes = plt.subplots(1, len(ARTIFACT_KEYS), figsize=(4.2 * len(ARTIFACT_KEYS), 3.6), squeeze=False)
    for ax, key in zip(axes[0], ARTIFACT_KEYS):
        numbers = [n for n in verdict.numbers if n.key == key]
        for x, number in enumerate(numbers):
            ax.scatter([x] * len(number.values), number.values, s=14, color="0.45", zorder=2,
                       label="per seed" if x == 0 else None)
            if number.mean is not None:
                low, high = number.ci95 or (number.mean, number.mean)
                ax.errorbar([x + 0.15], [number.mean], yerr=[[number.mean - low], [high - number.mean]], fmt="o",
                            color="tab:blue", capsize=4, zorder=3, label="mean, 95% interval" if x == 0 else None)
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xticks(range(len(numbers)), [in_words(n.subject) for n in numbers])
        ax.set_xlim(-0.6, max(len(numbers), 1) - 0.4)
        ax.set_ylabel(f"VAE minus GAN, {label_of(key)}")
        ax.grid(alpha=0.3, axis="y")
        if numbers:
            ax.legend(fontsize=8)
    fig.suptitle(f"claim 1: {verdict.verdict} ({verdict.n} seeds)", fontsize=10)
    save_figure(fig, path)


def _band(by_seed: Mapping[int, Mapping[int, float]], bounds: tuple[float, float | None] = (0.0, None)
          ) -> tuple[list[int], list[float], list[float], list[float]]:
    """steps -> mean and t 95% interval over seeds (the mean itself where one seed gives no interval),
    within `bounds`."""
    steps = sorted(set.intersection(*(set(v) for v in by_seed.values()))) if by_seed else []
    rows = [summarize((v[s] for v in by_seed.values()), bounds) for s in steps]
    return (steps, [r["mean"] for r in rows], [(r["ci95"] or [r["mean"]] * 2)[0] for r in rows],
            [(r["ci95"] or [r["mean"]] * 2)[1] for r in rows])


def _plot_band(ax, by_seed: Mapping[int, Mapping[int, float]], label: str,
               bounds: tuple[float, float | None] = (0.0, None), **style) -> str | None:
    """One mean line with its 95% band over seeds; its colour, or None when no step is common to every seed."""
    steps, mean, low, high = _band(by_seed, bounds)
    if not steps:
        return None
    (line,) = ax.plot(steps, mean, marker="o", markersize=3, label=label, **style)
    ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    return line.get_color()


# The saturation panels: metrics.json `early` readings, each drawn per training loss (colour) in its own line style
SATURATION_LINES = {"d_fake": ("mean D(G(z))", "-"), "share_rejected": ("share D(G(z)) < 0.1", "--")}
DERIVATIVE_LINES = {"nonsaturating_dlogit": ("|d/dlogit| flipped label", "-"),
                    "minimax_dlogit": ("|d/dlogit| minimax", ":")}


def save_claim3_figure(data: Claim3Input, verdict: Verdict, path: Path) -> None:
    """Three panels over steps, each a mean and 95% band over seeds: FID of both losses over twice claim 3's early
    window (log scale, the window shaded, the threshold drawn); then, over the window, D(G(z)) and the share of fakes
    below 0.1 in each loss's runs; then both losses' mean |derivative| by D's logit on those runs' batches."""
    # the report column's width: its labels at their size
    fig, (ax, sat, der) = plt.subplots(1, 3, figsize=(COLUMN_INCHES, 4.2))
    window = early_window(data.budget_steps)
    limit = 2 * window
    runs = ((data.nonsaturating, "flipped label (nonsaturating)"), (data.minimax, "minimax"))
    colours = {}
    for series, name in runs:
        by_seed = {seed: {p.steps: p.values[FID] for p in points if p.values.get(FID) is not None and p.steps <= limit}
                   for seed, points in series.by_seed.items()}
        colours[series.label] = _plot_band(ax, by_seed, f"{series.label}: {name}")
    ax.axvspan(0, window, color="0.9", zorder=0, label=f"early window: the first {window:,} steps")
    if data.fid_threshold is not None:
        ax.axhline(data.fid_threshold, color="0.3", linestyle=":", label=f"threshold FID {fmt(data.fid_threshold)}")
    ax.set_yscale("log")
    ax.set_ylabel("FID (lower is better)")
    ax.set_title(f"claim 3: {verdict.verdict} ({verdict.n} seeds; mean and 95% interval)", fontsize=10)
    for panel, lines, ylabel in ((sat, SATURATION_LINES, "D(G(z)), share below 0.1"),
                                 (der, DERIVATIVE_LINES, "mean |d loss / d logit|")):
        for series, _ in runs:
            early = data.early.get(series.label, {})
            for key, (name, style) in lines.items():
                by_seed = {seed: {p["step"]: p[key] for p in e["points"] if p.get(key) is not None}
                           for seed, e in early.items()}
                _plot_band(panel, by_seed, f"{series.label} run: {name}", (0.0, 1.0), linestyle=style,
                           color=colours.get(series.label))
        panel.set_ylim(-0.02, 1.02)
        panel.set_ylabel(ylabel)
    sat.set_title("the source's regime: D(G(z)) near 0 at the start", fontsize=10)
    der.set_title("each loss's slope on the same batches (Goodfellow et al. 2014)", fontsize=10)
    for a in (ax, sat, der):
        a.set_xlabel("training steps")
        a.grid(alpha=0.3, which="both")
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    save_figure(fig, path)


def save_claim2_figure(verdict: Verdict, path: Path) -> None:
    """Parameters needed against the FID target per family: the geometric mean over seeds and its t 95% band."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    rows = verdict.targets
    targets = [r.target for r in rows]
    for family, colour in (("gan", "tab:blue"), ("vae", "tab:orange")):
        needs = [getattr(r, family) for r in rows]
        if needs:
            ax.plot(targets, [n.params for n in needs], color=colour, marker="o", label=family)
            ax.fill_between(targets, [n.ci95[0] for n in needs], [n.ci95[1] for n in needs], color=colour, alpha=0.2,
                            linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if rows:  # the targets span less than a decade: label them, not matplotlib's overlapping log-axis minor ticks
        ax.set_xticks(targets, [fmt(t) for t in targets])
        from matplotlib.ticker import NullFormatter  # matplotlib is loaded by now (plt.subplots)

        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("FID target (lower is harder)")
    ax.set_ylabel("parameters needed")
    ax.set_title(f"claim 2: {verdict.verdict} ({verdict.n} seeds; Student t 95% bands over seeds)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if rows:  # a claim 2 without targets draws nothing to label
        ax.legend(fontsize=8)
    save_figure(fig, path)


def save_prior_figure(gap: PriorGap, path: Path) -> bool:
    """Claim 2's mechanism as it was read (compare.claims.prior_gap): final FID against total parameters for the GAN,
    the VAE's first view (vae-mean, z ~ N(0, I)) and its prior view (vae-gmm), the very size sweeps the reading used,
    mean and Student t 95% band over seeds; False when there is nothing to draw."""
    lines = {}
    for sweep in gap.sweeps:
        points = []
        for width in sorted(sweep.widths, key=lambda w: w.params):
            st = summarize(width.fid_by_seed.values(), (0.0, None))
            points.append((width.params, st["mean"], *(st["ci95"] or (st["mean"],) * 2)))
        if points:
            lines[sweep.label] = points
    if not lines:
        return False
    save_interval_curves(lines, path, xlabel="total parameters", ylabel="FID (lower is better)",
                         title="claim 2's candidate reason: the VAE's fitted prior against N(0, I), mean and "
                               "95% interval over seeds")
    return True


def save_budget_strip(strips: Mapping[str, Sequence[BudgetPoint]], path: Path) -> None:
    """One row per claim ({name: its verdicts along the budget}): a cell per curve point, coloured by its verdict."""
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * max(len(strips), 1) + 1.2))
    for row, (name, points) in enumerate(strips.items()):
        edges = [p.fraction for p in points]
        for i, p in enumerate(points):
            left = edges[i - 1] if i else 0.0
            ax.barh(row, p.fraction - left, left=left, color=VERDICT_COLOURS[p.verdict.verdict], edgecolor="0.3",
                    height=0.6)
    ax.set_yticks(range(len(strips)), list(strips))
    ax.set_xlim(0, max([p.fraction for ps in strips.values() for p in ps] or [1.0]))
    ax.set_xlabel("fraction of the budget (each cell ends at a curve point)")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="0.3") for c in VERDICT_COLOURS.values()],
              labels=list(VERDICT_COLOURS), fontsize=7, ncol=len(VERDICT_COLOURS), loc="upper center",
              bbox_to_anchor=(0.5, -0.3))
    ax.invert_yaxis()
    save_figure(fig, path)

