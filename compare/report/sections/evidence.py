"""The report's judging sections: the claims' verdicts (the card that opens the page), the seed statistics and the
capacity sweep.

Verdicts come from compare.claims.rules through the adapters of compare.claims.inputs; a sweep
section reads the claim 2 verdict its sweep.json stores (Verdict.to_json(), under the key "claim_b").
"""

from __future__ import annotations

import math

from compare.io import read_run_json
from compare.claims.rules import Verdict
from compare.claims.trial_row import trial_rows
from compare.metrics.numbers import fmt, times
from compare.report.render import Block, Fold, Heading, Image, Para, Table, embeddable
from compare.report.runs import Run, Seeds, Sweep
from compare.report.tables import seed_table
from compare.report.sections.verdict_card import claim_name, verdict_card


def section_claims(runs: list[Run], sweeps: list[Sweep], seeds: list[Seeds]) -> list[Block]:
    """The verdict card: each claim once per distinct verdict and evidence, naming the runs it was judged from when
    the runs disagree."""
    from compare.claims.inputs import claim_a, claim_a_over_seeds, claim_b, claim_c

    over_seeds = [(f"{entry.path.name} (over seeds {', '.join(map(str, entry.summary['seeds']))})", c)
                  for entry in seeds if (c := claim_a_over_seeds(entry.summary))]
    over_trials = [(f"{sweep.path.name} (trials at width {width:g})", c) for sweep in sweeps
                   if (found := claim_a_of_sweep(sweep)) for width, c in [found]]
    verdicts = over_seeds or over_trials or [(run.name, claim_a(run.metrics, run.config)) for run in runs]
    verdicts.append((", ".join(s.path.name for s in sweeps), claim_b([s.summary for s in sweeps])))
    verdicts += [(run.name, claim_c(run.metrics, run.config)) for run in runs]
    grouped: dict[tuple, tuple] = {}  # runs with the same verdict and evidence share an entry
    for source, c in verdicts:
        key = (c.claim, c.verdict, tuple(c.evidence()))
        grouped[key] = (c, [*grouped.get(key, (c, []))[1], source])
    per_claim = {c.claim: sum(k[0] == c.claim for k in grouped) for c, _ in grouped.values()}
    judged = [(f"{claim_name(c)} ({', '.join(sources)})" if per_claim[c.claim] > 1 else "", c,
               ", ".join(filter(None, sources)))
              for c, sources in grouped.values()]
    return verdict_card(judged)


def claim_a_of_sweep(sweep: Sweep) -> tuple[float, Verdict] | None:
    """Claim 1 over a sweep's seeds as a study judges it: its gan and vae trials at width 1 (else its widest width),
    paired by seed; None when the sweep did not train both."""
    from compare.claims.rules import judge_claim1
    from compare.claims.study import CLAIM_WIDTH, claim1_input

    done = [r for r in trial_rows(sweep.summary) if r.status == "done"]
    widths = {r.width for r in done}
    if not widths:
        return None
    width = CLAIM_WIDTH if CLAIM_WIDTH in widths else max(widths)
    data = claim1_input({(r.model, r.seed): read_run_json(sweep.path / r.run_dir, "metrics.json")
                         for r in done if r.width == width})
    return None if data is None else (width, judge_claim1(data))


def section_seeds(seeds: list[Seeds]) -> list[Block]:
    if not seeds:
        return []
    blocks: list[Block] = [Heading("Seed statistics")]
    for entry in seeds:
        summary = entry.summary
        blocks.append(Para(f"{entry.path.name}: seeds {', '.join(map(str, summary['seeds']))}. Each model: "
                           f"mean [95% interval] over seeds. Differences: {summary['interval']}; n.s. marks an "
                           "interval that includes zero."))
        blocks.append(seed_table(summary))
        # every view's quality and bad pixels (a VAE's samples and its per-pixel means differ most)
        if summary["views"]:
            blocks += [Para(f"{entry.path.name}: every view, its differences from the first."),
                       seed_table(summary, views=True)]
    return blocks


def section_sweep(sweeps: list[Sweep]) -> list[Block]:
    if not sweeps:
        return []
    blocks: list[Block] = [Heading("Capacity sweep")]
    for sweep in sweeps:
        claim = sweep.summary["claim_b"]
        blocks.append(Para(f"{sweep.path.name}: claim 2, {claim['verdict']}. "
                           + " ".join(f"{note}." for note in claim["notes"])))
        rows = [[fmt(t["target_fid"]), fmt(t["gan"]["params"], t["gan"]["ci95"]),
                 fmt(t["vae"]["params"], t["vae"]["ci95"]),
                 # judged on the log scale, read as a ratio
                 times(math.exp(t["log_ratio"]["mean"]), t["ratio_ci95"]), t["outcome"]]
                for t in claim["targets"]]
        if rows:
            blocks.append(Table(["target FID", "GAN parameters needed [95%]", "VAE parameters needed [95%]",
                                 "VAE / GAN parameters [95%]", "VAE needs"], rows))
        if gap := sweep.summary.get("prior_gap"):  # claim 2's mechanism (compare.claims.prior_gap)
            blocks += [Para(gap["sentence"]), Fold("Rule of this reading", [Para(f"Rule: {gap['rule']}")])]
        blocks += [Image(sweep.path / name, f"{sweep.path.name}: {name}") for name in sweep.summary.get("plots", [])
                   if embeddable(sweep.path / name, sweep.path)]
    return blocks
