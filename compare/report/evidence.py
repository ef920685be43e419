"""The report's judging sections: the claims' verdicts, the seed statistics and the capacity sweep.

Verdicts come from compare.report.claims through the adapters of compare.report.claim_inputs; a sweep
section reads the claim (b) verdict its sweep.json stores (Verdict.to_json()).
"""

from __future__ import annotations

from compare.report.numbers import fmt
from compare.report.render import Block, Heading, Image, Para, Table, embeddable
from compare.report.runs import Run, Seeds, Sweep
from compare.report.tables import seed_table


def section_claims(runs: list[Run], sweeps: list[Sweep], seeds: list[Seeds]) -> list[Block]:
    from compare.report.claim_inputs import claim_a, claim_a_over_seeds, claim_b, claim_c

    blocks: list[Block] = [Heading("Claims from the source comparison"),
                           Para("Each claim of the source text, the verdict from these runs under the rule beside it, and the "
                                "evidence: the verdict says no more than the numbers do.")]
    over_seeds = [(f"{entry.path.name} (seeds)", c) for entry in seeds if (c := claim_a_over_seeds(entry.summary))]
    verdicts = over_seeds or [(run.name, claim_a(run.metrics, run.config)) for run in runs]
    verdicts.append(("sweep" if sweeps else "-", claim_b([s.summary for s in sweeps])))
    verdicts += [(run.name, claim_c(run.metrics, run.config)) for run in runs]
    grouped: dict[tuple[str, str, str, str], list[str]] = {}  # runs with the same verdict and evidence share a row
    for source, c in verdicts:
        grouped.setdefault((c.claim, c.verdict, c.rule, "; ".join(c.evidence())), []).append(source)
    rows = [[claim, ", ".join(sources), verdict, rule, evidence] for (claim, verdict, rule, evidence), sources in grouped.items()]
    return blocks + [Table(["claim", "from", "verdict", "rule", "evidence"], rows)]


def section_seeds(seeds: list[Seeds]) -> list[Block]:
    if not seeds:
        return []
    blocks: list[Block] = [Heading("Seed statistics")]
    for entry in seeds:
        summary = entry.summary
        blocks.append(Para(f"{entry.path.name}: seeds {', '.join(map(str, summary['seeds']))}. Each model: mean [95% interval] over "
                           f"seeds. Differences: {summary['interval']}; n.s. marks an interval that includes zero."))
        blocks.append(seed_table(summary))
    return blocks


def section_sweep(sweeps: list[Sweep]) -> list[Block]:
    if not sweeps:
        return []
    blocks: list[Block] = [Heading("Capacity sweep")]
    for sweep in sweeps:
        claim = sweep.summary["claim_b"]
        blocks.append(Para(f"{sweep.path.name}: {claim['claim']}: {claim['verdict']}. Rule: {claim['rule']} "
                           + " ".join(f"{note}." for note in claim["notes"])))
        rows = [[fmt(t["target_fid"]), fmt(t["gan"]["params"], t["gan"]["ci95"]), fmt(t["vae"]["params"], t["vae"]["ci95"]),
                 f"[{fmt(t['ratio_ci95'][0])}, {fmt(t['ratio_ci95'][1])}]", t["outcome"]]
                for t in claim["targets"]]
        if rows:
            blocks.append(Table(["target FID", "GAN parameters needed [95%]", "VAE parameters needed [95%]",
                                 "VAE / GAN parameters [95%]", "VAE needs"], rows))
        if gap := sweep.summary.get("prior_gap"):  # claim 2's mechanism (compare.report.prior_gap)
            blocks.append(Para(f"{gap['sentence']} Rule: {gap['rule']}"))
        blocks += [Image(sweep.path / name, f"{sweep.path.name}: {name}") for name in sweep.summary.get("plots", [])
                   if embeddable(sweep.path / name, sweep.path)]
    return blocks
