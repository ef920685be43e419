"""Figures of the claim verdicts (compare.report.claims), one function per figure, each taking its result objects and a path.

    save_claim1_figure     per-seed paired differences VAE minus GAN with the mean and its interval, per view and measure
    save_claim3_figure     early FID curves of both generator losses, mean and 95% band over seeds, the threshold
    save_claim2_figure     parameters needed against the FID target, both families, t bands over seeds (log axes)
    save_budget_strip      each claim's verdict at every curve point along the budget
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from matplotlib.ticker import NullFormatter

from compare.metrics import label_of
from compare.report.claim_types import in_words
from compare.report.numbers import fmt
from compare.report.claims import (
    ARTIFACT_KEYS, FID, MIXED, NO_PRACTICAL_DIFFERENCE, NOT_DECIDED, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED, BudgetPoint,
    Claim3Input, Verdict, early_window,
)
from compare.report.plots import plt, save_figure
from compare.stats import summarize

VERDICT_COLOURS = {SUPPORTED: "tab:green", NOT_SUPPORTED: "tab:red", MIXED: "tab:orange", NO_PRACTICAL_DIFFERENCE: "tab:blue",
                   NOT_DECIDED: "0.65", NOT_MEASURED: "white"}


def save_claim1_figure(verdict: Verdict, path: Path) -> None:
    """One panel per artifact measure: for each VAE view, a dot per seed's VAE-minus-GAN difference and the
    mean with its 95% interval; above the zero line means more artifacts than the GAN."""
    fig, axes = plt.subplots(1, len(ARTIFACT_KEYS), figsize=(4.2 * len(ARTIFACT_KEYS), 3.6), squeeze=False)
    for ax, key in zip(axes[0], ARTIFACT_KEYS):
        numbers = [n for n in verdict.numbers if n.key == key]
        for x, number in enumerate(numbers):
            ax.scatter([x] * len(number.values), number.values, s=14, color="0.45", zorder=2, label="per seed" if x == 0 else None)
            if number.mean is not None:
                low, high = number.ci95 or (number.mean, number.mean)
                ax.errorbar([x + 0.15], [number.mean], yerr=[[number.mean - low], [high - number.mean]], fmt="o", color="tab:blue",
                            capsize=4, zorder=3, label="mean, 95% interval" if x == 0 else None)
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xticks(range(len(numbers)), [in_words(n.subject) for n in numbers])
        ax.set_xlim(-0.6, max(len(numbers), 1) - 0.4)
        ax.set_ylabel(f"VAE minus GAN, {label_of(key)}")
        ax.grid(alpha=0.3, axis="y")
        if numbers:
            ax.legend(fontsize=8)
    fig.suptitle(f"claim 1: {verdict.verdict} ({verdict.n} seeds)", fontsize=10)
    save_figure(fig, path)


def _band(by_seed: Mapping[int, Mapping[int, float]]) -> tuple[list[int], list[float], list[float], list[float]]:
    """steps -> mean and t 95% interval over seeds (the mean itself where one seed gives no interval)."""
    steps = sorted(set.intersection(*(set(v) for v in by_seed.values()))) if by_seed else []
    rows = [summarize((v[s] for v in by_seed.values()), (0.0, None)) for s in steps]  # FID >= 0
    return steps, [r["mean"] for r in rows], [(r["ci95"] or [r["mean"]] * 2)[0] for r in rows], [(r["ci95"] or [r["mean"]] * 2)[1] for r in rows]


def save_claim3_figure(data: Claim3Input, verdict: Verdict, path: Path) -> None:
    """FID against steps over twice claim 3's early window for both losses, mean and 95% band over seeds
    (log scale), the window shaded and the threshold drawn."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    window = early_window(data.budget_steps)
    limit = 2 * window
    for series, name in ((data.nonsaturating, "flipped label (nonsaturating)"), (data.minimax, "minimax")):
        by_seed = {seed: {p.steps: p.values[FID] for p in points if p.values.get(FID) is not None and p.steps <= limit}
                   for seed, points in series.by_seed.items()}
        steps, mean, low, high = _band(by_seed)
        if steps:
            (line,) = ax.plot(steps, mean, marker="o", markersize=3, label=f"{series.label}: {name}")
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.axvspan(0, window, color="0.9", zorder=0, label=f"early window: the first {window:,} steps")
    if data.fid_threshold is not None:
        ax.axhline(data.fid_threshold, color="0.3", linestyle=":", label=f"threshold FID {fmt(data.fid_threshold)}")
    ax.set_yscale("log")
    ax.set_xlabel("training steps")
    ax.set_ylabel("FID (lower is better)")
    ax.set_title(f"claim 3: {verdict.verdict} ({verdict.n} seeds; mean and 95% interval)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
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
            ax.fill_between(targets, [n.ci95[0] for n in needs], [n.ci95[1] for n in needs], color=colour, alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if rows:  # the targets span less than a decade: label them, not matplotlib's overlapping log-axis minor ticks
        ax.set_xticks(targets, [fmt(t) for t in targets])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("FID target (lower is harder)")
    ax.set_ylabel("parameters needed")
    ax.set_title(f"claim 2: {verdict.verdict} ({verdict.n} seeds; Student t 95% bands over seeds)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if rows:  # a claim 2 without targets draws nothing to label
        ax.legend(fontsize=8)
    save_figure(fig, path)


def save_budget_strip(strips: Mapping[str, Sequence[BudgetPoint]], path: Path) -> None:
    """One row per claim ({name: its verdicts along the budget}): a cell per curve point, coloured by its verdict."""
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * max(len(strips), 1) + 1.2))
    for row, (name, points) in enumerate(strips.items()):
        edges = [p.fraction for p in points]
        for i, p in enumerate(points):
            left = edges[i - 1] if i else 0.0
            ax.barh(row, p.fraction - left, left=left, color=VERDICT_COLOURS[p.verdict.verdict], edgecolor="0.3", height=0.6)
    ax.set_yticks(range(len(strips)), list(strips))
    ax.set_xlim(0, max([p.fraction for ps in strips.values() for p in ps] or [1.0]))
    ax.set_xlabel("fraction of the budget (each cell ends at a curve point)")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="0.3") for c in VERDICT_COLOURS.values()],
              labels=list(VERDICT_COLOURS), fontsize=7, ncol=len(VERDICT_COLOURS), loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.invert_yaxis()
    save_figure(fig, path)

