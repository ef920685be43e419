"""The claims: the source's three claims and their reasons, judged from numbers under rules stated beside them.

    rules            judge_claim1/2/3, the rules, margins and the shared decision (paired readings over seeds)
    types            the typed inputs (Series, Points, SizeSweep, ...) and results (Verdict, Number)
    inputs           inputs built from what runs, `--seeds` and sweeps wrote (by model kind, not by name)
    trial_row        TrialRow: one sweep or study trial, as sweep.json and study.json list it and the claims read it
    study            a study's verdicts: its trials paired by seed, then judged
    prior_gap        claim 2's mechanism: does the VAE's fitted prior close its gap to the GAN?
    pixel_mechanism  claim 1's mechanism: independent against joint pixel draws of the same VAE

Analysis only: the words and figures that show the verdicts are compare.report's.
"""
