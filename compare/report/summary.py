"""What a command prints last: the answer in a few lines of words that fit 80 columns (the full tables
are in metrics.md).

    run_summary(metrics, config)   `compare run`: each model's steps and size, each view's FID and lone pixels per image
                                   beside the real images', and the three claims, each with its deciding number
    seeds_summary(summary)         `compare run --seeds N`: each model's FID and lone pixels over seeds, claim 1 over
                                   seeds
    verdict_line(name, verdict)    one judged claim (Verdict.to_json(), as study.json and sweep.json store it) in words
    prior_line(gap)                claim 2's candidate reason (PriorGap.to_json(), as study.json and sweep.json store
                                   it) in words, with its deciding numbers
The command prints the report's path after these lines, as its last line.
"""

from __future__ import annotations

import math
import textwrap

from compare.metrics import key_info, label_of
from compare.claims.types import in_words
from compare.claims.pixel_mechanism import INDEPENDENT, MECHANISM_1
from compare.claims.rules import CLAIM_1, CLAIM_2, CLAIM_3, FID, LONE_PIXELS, NOT_MEASURED
from compare.metrics.numbers import fmt, parts
from compare.report.render import Table, text_table

WIDTH = 80  # a terminal's usual width: no line of a summary is longer
SHORT = {CLAIM_1: "VAE samples show more bad pixels", CLAIM_2: "a VAE needs a larger network",
         CLAIM_3: "the flipped-label loss learns faster",
         # each claim in a few words (the report states it in full)
         MECHANISM_1: "drawing pixels separately makes the bad pixels"}


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, WIDTH, subsequent_indent="    ", break_on_hyphens=False))


def _seeds(n: int) -> str:
    return "one seed" if n == 1 else f"{n} seeds"


def _compared(value: float, ci, more: str, less: str, what: str, unit: str = "") -> str:
    """"5.4 fewer lone pixels per image than the GAN [5.1, 5.6]": a signed difference as its size and
    direction in words."""
    flip = value < 0
    size, low, high = parts(abs(value), None if ci is None else ((-ci[1], -ci[0]) if flip else ci))
    bracket = "" if low is None else f" [{low}{unit}, {high}{unit}]"
    return f"{size}{unit} {less if flip else more} {what}{bracket}"


def deciding(verdict: dict) -> str:
    """The number a verdict rests on, in words; for a claim not measured, why not."""
    if verdict["verdict"] == NOT_MEASURED:  # every claim's HOW starts with `compare study`, which measures all three
        return f"{(verdict['notes'] or ['no reading'])[0]}; `compare study` measures it"
    numbers = verdict["numbers"]
    if verdict["claim"] == CLAIM_1:
        reading = next((x for x in numbers if x["key"] == LONE_PIXELS and in_words(x["subject"]).endswith("means")),
                       None)
        if reading is None or reading["mean"] is None:
            return "no reading"
        text = _compared(reading["mean"], reading["ci95"], "more", "fewer", f"{label_of(LONE_PIXELS)} than the GAN")
        return f"{in_words(reading['subject'])}: {text}; {_seeds(reading['n'])}"
    if verdict["claim"] == MECHANISM_1:
        reading = next((x for x in numbers if x["key"] == LONE_PIXELS), None)
        if reading is None or reading["mean"] is None:
            return "no reading"
        text = _compared(reading["mean"], reading["ci95"], "more", "fewer", f"{label_of(LONE_PIXELS)} than joint draws")
        return f"{in_words(INDEPENDENT)}: {text}; {_seeds(reading['n'])}"
    if verdict["claim"] == CLAIM_2:
        if not verdict["targets"]:
            return (verdict["notes"] or ["no FID target"])[0]
        # the middle target: the rows' own spread is in the report
        row = verdict["targets"][len(verdict["targets"]) // 2]
        ratio = fmt(math.exp(row["log_ratio"]["mean"]), row["ratio_ci95"])
        return (f"the VAE needs {ratio} times the GAN's parameters at FID {fmt(row['target_fid'])} (the middle of "
                f"{len(verdict['targets'])} targets); {_seeds(verdict['n'])}")
    reading = next((x for x in numbers if x["key"] == FID), None)
    if reading is None or reading["mean"] is None:
        return "no reading"
    ci = reading["ci95"] and [100 * math.expm1(end) for end in reading["ci95"]]
    text = _compared(100 * math.expm1(reading["mean"]), ci, "higher", "lower",
                     "early FID with log(1 - D(G(z))) than with the flipped label", "%")
    return f"{text}; {_seeds(reading['n'])}"


def verdict_line(name: str, verdict: dict) -> str:
    """"claim 1 (VAE samples show more bad pixels): not decided. VAE means: 5.4 fewer ... [5.1, 5.6]; one
    seed", wrapped."""
    stop = ":" if verdict["verdict"] == NOT_MEASURED else "."
    return _wrap(f"{name} ({SHORT.get(verdict['claim'], verdict['claim'])}): "
                 f"{verdict['verdict']}{stop} {deciding(verdict)}")


def prior_line(gap: dict) -> str:
    """"Claim 2's candidate reason, the prior: not decided. log FID VAE minus GAN at equal size, mean over 3 widths:
    +0.13 [0.03, 0.23] from N(0, I), -0.70 [-0.85, -0.55] from the fitted prior; 5 seeds", wrapped, with its notes."""
    head = f"Claim 2's candidate reason, the prior: {gap['verdict']}"
    if len(gap["numbers"]) < 2:
        return _wrap(head + "".join(f"; {note}" for note in gap["notes"]) + ".")
    without, with_prior = gap["numbers"][:2]  # the mean over the read widths; per width in the report
    return _wrap(f"{head}. log FID VAE minus GAN at equal size, {without['subject']}: "
                 f"{fmt(without['mean'], without['ci95'], signed=True)} from N(0, I), "
                 f"{fmt(with_prior['mean'], with_prior['ci95'], signed=True)} from the fitted prior; "
                 f"{_seeds(without['n'])}")


def _headline(metrics: dict) -> Table:
    """FID and lone pixels per image [95%] of the real images (the floor) and of each view."""
    quality, continuity = metrics.get("quality") or {}, metrics.get("continuity") or {}
    sets = {"real": (quality.get("floor"), continuity.get("real"))}
    sets |= {view: (numbers, continuity.get("views", {}).get(view))
             for view, numbers in quality.get("views", {}).items()}
    n = next((entry["fid"]["protocol"].get("n_fake") for entry, _ in sets.values() if entry and "fid" in entry), None)
    rows = []
    for name, (entry, pixels) in sets.items():
        fid = (entry or {}).get("fid") or {}
        rows.append([name,
                     fmt(fid.get("values", {}).get(FID), ((fid.get("intervals") or {}).get(FID) or {}).get("ci95")),
                     fmt((pixels or {}).get(LONE_PIXELS), (pixels or {}).get(f"{LONE_PIXELS}_ci95"))])
    return Table(["images", key_info(FID).name(FID, n), label_of(LONE_PIXELS)], rows)


def run_summary(metrics: dict, config: dict) -> str:
    """`compare run`'s answer: what each model trained, the headline numbers beside real, the three claims."""
    from compare.claims.inputs import claim_a, claim_b, claim_c

    lines = [_wrap(f"{label}: {fmt(m.get('steps'))} steps in {fmt(m.get('train_seconds'))} s, "
                   f"{fmt((m.get('parameters') or {}).get('total'))} "
                   "parameters" + (f"; {m['failure']}" if m.get("failure") else ""))
             for label, m in metrics.get("models", {}).items()]
    lines += ["", text_table(_headline(metrics)),
              "Lower is better in both; real: held-out images, what a perfect model scores.", ""]
    claims = (claim_a(metrics, config), claim_b([]), claim_c(metrics, config))
    lines += [verdict_line(f"Claim {i}", c.to_json()) for i, c in enumerate(claims, 1)]
    return "\n".join(lines)


def seeds_summary(summary: dict) -> str:
    """`compare run --seeds N`'s answer: every view's FID and lone pixels per image (a VAE's means and its pixel draws
    apart), mean [95%] over seeds, and
    claim 1 judged over the seeds (the others need what `compare study` trains)."""
    from compare.claims.inputs import claim_a_over_seeds

    paths = {f"quality.{FID}": key_info(FID).label, f"continuity.{LONE_PIXELS}": label_of(LONE_PIXELS)}
    rows = [[label, *(fmt(st["mean"], st["ci95"]) if (st := numbers.get(path)) else fmt(None) for path in paths)]
            for label, numbers in summary["views"].items()]
    lines = [f"Over seeds {', '.join(map(str, summary['seeds']))}: mean [95% interval]",
             text_table(Table(["images", *paths.values()], rows))]
    if verdict := claim_a_over_seeds(summary):
        lines += ["", verdict_line("Claim 1", verdict.to_json())]
    return "\n".join(lines)
