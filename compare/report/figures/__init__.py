"""The report's pictures, one module per subject; matplotlib is imported on the first one drawn.

    common.py     what every figure shares: pyplot, save_figure, sample grids, side-by-side panels, interval curves
    run.py        a run's explanatory figures: loss curves, latent interpolations, nearest neighbours, reconstructions,
                  quality against compute
    artifacts.py  where a run's pixel artifacts are: artifact maps, the worst-16 galleries, the power spectra
    claims.py     a study's figures of the claim verdicts, one per claim, its mechanism and the budget strip
"""
