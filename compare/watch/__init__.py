"""Watching a run while it trains: the terminal display (compare.watch.terminal) and the files a person can
open during training, progress/ in the run directory and optional TensorBoard logs (compare.watch.files).

Nothing here changes a result: every write is outside the files a run hashes, checkpoints and metrics.json."""

PROGRESS_DIR = "progress"  # in the run directory: curve.jsonl and the grids of every curve point
CURVE_LINES = "curve.jsonl"
TENSORBOARD_DIR = "tensorboard"  # one folder of event files per model (`--log tensorboard`)
TENSORBOARD_PREFIX = "events.out.tfevents."  # how TensorBoard names its event files
