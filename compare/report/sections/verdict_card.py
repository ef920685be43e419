"""The verdict card that opens every report (run, `--seeds`, sweep, study): each claim's verdict, the number it rests
on in words (compare.report.summary.deciding, the same words the terminal prints), what to run to decide it, and its
rule and evidence folded under it.

    verdict_card([(name, Verdict, sources), ...])   the "Verdicts" heading and one render.Claim per judged claim
    verdict_details(Verdict)                         the folded part: the claim in full, the rule, the readings, notes
"""

from __future__ import annotations

from typing import Sequence

from compare.claims.rules import CLAIM_1, CLAIM_2, CLAIM_3, HOW, MIXED, NOT_DECIDED, NOT_MEASURED, Verdict
from compare.report.render import Block, Claim, Heading, Para, Table
from compare.report.summary import SHORT, deciding

NUMBERED = {CLAIM_1: 1, CLAIM_2: 2, CLAIM_3: 3}  # the README, the terminal and the study name the claims 1, 2, 3
OPEN = (NOT_DECIDED, MIXED, NOT_MEASURED)  # verdicts that more measurement can settle


def claim_name(verdict: Verdict) -> str:
    """"Claim 2": a claim by its number."""
    return f"Claim {NUMBERED[verdict.claim]}" if verdict.claim in NUMBERED else verdict.claim


def next_command(verdict: Verdict) -> str:
    """What to run to settle an open verdict: its own command when it was not measured, else the claim's; ""
    when decided."""
    if verdict.verdict not in OPEN:
        return ""
    return verdict.how or HOW.get(verdict.claim, "")


def verdict_details(verdict: Verdict) -> list[Block]:
    """The claim in full, its rule, its readings with 95% intervals over seeds, its notes and context."""
    rows = [[n.label, n.value_text(), str(n.n)] for n in verdict.numbers]
    rows += [[f"context: {c.label}", c.value_text(), str(c.n)] for c in verdict.context]
    blocks: list[Block] = [Para(f"The claim: {verdict.claim}."), Para(f"Rule: {verdict.rule}")]
    if rows:
        blocks.append(Table(["reading", "mean [95% interval]", "seeds"], rows))
    return blocks + [Para(note) for note in verdict.notes]


def deciding_words(verdict: Verdict) -> str:
    """The claims' deciding number as the terminal says it; for another judged statement (a study's mechanism, which
    summary.deciding does not know), its first reading."""
    if verdict.claim in NUMBERED:
        return deciding(verdict.to_json())
    return verdict.numbers[0].text() if verdict.numbers else (verdict.notes or ("no reading",))[0]


def verdict_card(judged: Sequence[tuple[str, Verdict, str]]) -> list[Block]:
    """The card: one entry per (name, verdict, what it was judged from); a name that is empty is the claim's number."""
    entries = []
    for name, verdict, sources in judged:
        details = verdict_details(verdict) + ([Para(f"Judged from: {sources}.")] if sources else [])
        entries.append(Claim(name or claim_name(verdict), SHORT.get(verdict.claim, verdict.claim), verdict.verdict,
                             deciding_words(verdict), next_command(verdict), details))
    return [Heading("Verdicts"), *entries]
