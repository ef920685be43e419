"""Experiments: everything that trains models and collects their numbers, from one run to a study.

    pipeline    one run (`compare run`): stages prepare -> train -> evaluate -> report, each resumable
    trials      the trial loop every multi-run command shares: records, skip done, resume stopped, retry failed
    executors   where trials run: local processes (--jobs) or Ray tasks
    sweep       `compare sweep`: every (model, width, seed) under one budget, then claim 2
    seeds       `compare run --seeds N`: one run per seed, summarised over seeds
    tuning      `compare study --tune`: random search of each family's recipe
    study       `compare study`: every trial the three claims need, over seeds, judged in one report

The verdicts themselves are compare.report's claims modules; the run directories' safety (locks, markers,
signals) is compare.rundir.
"""
