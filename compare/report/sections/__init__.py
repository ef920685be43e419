"""The report's sections, each a function returning its render blocks; compare.report (write_report) and
compare.report.study_report put them on the page.

    verdict_card.py  the verdicts that open every report (run, --seeds, sweep, study)
    evidence.py      the judging sections over runs: the claims' verdict card, the seed statistics, the capacity sweep
    run.py           a run's sections: setup, samples, quality, likelihood, pixel continuity, size, training, ...
"""
