"""Where trials run: here one after another, here in parallel processes, or as Ray tasks on a cluster.

A trial is one call of compare.experiments.pipeline.run with its own settings and run directory. `run_trial`
never raises for a failing trial: it returns a record with the error, so one failed trial never
loses the others, and the sweep retries it on the next run. Every executor yields records as the
trials finish, so the caller can save each at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from compare.experiments import pipeline as runner
from compare.errors import UserError
from compare.protocol import Plugin, registered, restore, ship_paths
from compare.settings import RunSettings
from compare.rundir import Interrupted, WriteFailed, held_locks, join_locks, process_running

CONNECT_TIMEOUT = 5.0  # seconds to wait for a Ray cluster's port to answer before giving up
LAUNCHER_POLL = 0.5  # seconds between a worker's checks that its launching process still lives
ORPHAN_GRACE = 5.0  # seconds an orphaned worker gives its trial to reach a checkpoint before it quits outright


@dataclass(frozen=True)
class Trial:
    id: str
    settings: RunSettings  # `out` is the trial's own run directory, absolute (Ray workers have another cwd)
    threads: int | None = None  # torch threads for this trial; None keeps the process's setting
    resume: bool = False  # continue the trial's run directory from its checkpoints (a signal stopped it)
    # the run's own bars and phase lines on stderr: only for a trial run in this process (parallel trials' bars would
    # overwrite each other, a Ray worker's stderr reaches no one)
    show_progress: bool = False
    # the user's models and datasets the launching process registered (compare.protocol)
    plugins: tuple[Plugin, ...] = ()


def run_trial(trial: Trial) -> dict:
    """Train and record one trial; returns {"id", "status": "done", "summary", ...} or {"status": "failed",
    "error", ...}."""
    start = time.perf_counter()
    before = torch.get_num_threads()
    if trial.threads:
        torch.set_num_threads(trial.threads)
    record = {"id": trial.id, "threads": torch.get_num_threads(), "host": os.uname().nodename}
    try:
        # a pool or Ray worker imports the user's code: a failure is this trial's, said in one line
        restore(trial.plugins)
        # via the module, so tests can stand in for it
        result = runner.run(trial.settings, show_progress=trial.show_progress, resume=trial.resume, artifacts=False)
        record.update(status="done", summary=result.summary())
    except (Interrupted, WriteFailed):
        raise  # a stop of the whole sweep (a signal, a full disk), not a failure of this trial: it stays resumable
    except Exception as e:  # any failure of one trial is data about that trial, not the end of the sweep
        record.update(status="failed", error=f"{type(e).__name__}: {e}", user_error=isinstance(e, UserError),
                      traceback=traceback.format_exc())
    finally:
        torch.set_num_threads(before)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def failed_record(trial: Trial, error: BaseException) -> dict:
    """The record of a trial whose worker died before it could report (a crashed process or Ray task)."""
    return {"id": trial.id, "status": "failed", "error": f"{type(error).__name__}: {error}", "user_error": False}


def cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ExecutorOptions:
    jobs: int = 1  # local: trials at once, 0 = one per core
    address: str | None = None  # ray: the cluster to join; None starts a local instance
    cpus_per_trial: float = 1.0  # ray: each task's CPU request (and its torch threads)
    gpus_per_trial: float = 0.0  # ray: each task's GPU request


# What a trial imports, loaded once in the fork server that makes the workers (torch, the run's pipeline, its scoring,
# sklearn's mixture for the VAE's prior): each --jobs worker then starts in milliseconds instead of importing them
# again (about 4 s of CPU each on 2 cores)
WORKER_PRELOAD = ["compare.experiments.executors", "compare.metrics.scoring", "compare.train.prior"]


def _pool_context() -> multiprocessing.context.BaseContext:
    """Where the workers come from. Not a fork of this process: a forked child inherits torch's OpenMP pool mid-state
    and can hang. On Linux, a fork server: a fresh interpreter that imports WORKER_PRELOAD and runs no torch op, then
    forks each worker from itself; the fork is safe and cheap, and one server serves every pool of this process.
    Elsewhere spawn, each worker a fresh interpreter that imports everything itself: on macOS a fork after system
    frameworks have loaded can crash (why Python spawns there by default)."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)  # read when the server starts, the first time a pool needs it
    return context


class LocalExecutor:
    """Trials in this process one after another (`jobs` 1), or in `jobs` worker processes with cores // jobs torch
    threads each."""

    def __init__(self, options: ExecutorOptions):
        if options.address is not None:
            raise UserError("--address is for --executor ray; drop it or add --executor ray")
        available = cores()
        jobs = options.jobs or available
        if jobs < 0 or jobs > available:
            raise UserError(f"--jobs {options.jobs} is outside 0..{available} (the CPU cores "
                            "here); 0 means one per core")
        self.jobs = jobs
        self.threads = max(1, available // jobs) if jobs > 1 else None
        self.description = f"local, {jobs} at a time" + (f", {self.threads} torch threads each" if self.threads else "")

    def map(self, trials: Iterable[Trial]) -> Iterator[dict]:
        trials = [replace(t, threads=self.threads, plugins=registered(),
                          show_progress=t.show_progress and self.jobs == 1) for t in trials]
        if self.jobs == 1:
            for trial in trials:
                yield run_trial(trial)
            return
        with ProcessPoolExecutor(self.jobs, mp_context=_pool_context(), initializer=_worker_start,
                                 initargs=(os.getpid(), dict(os.environ), held_locks())) as pool:
            futures = {pool.submit(run_trial, t): t for t in trials}
            try:
                for future in as_completed(futures):
                    try:
                        yield future.result()
                    except (Interrupted, WriteFailed):
                        raise
                    except Exception as e:  # the worker process died (killed, out of memory): only its trials fail
                        yield failed_record(futures[future], e)
            # stop every trial: none waiting starts, each running one checkpoints
            except (Interrupted, WriteFailed) as stop:
                for future in futures:
                    future.cancel()
                for process in list(pool._processes.values()):  # private, but the pool's only handle on its workers
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, getattr(stop, "signum", signal.SIGTERM))
                raise


def _worker_start(launcher: int, environment: dict[str, str], locks: list[str]) -> None:
    """A pool worker takes the launching process's environment as it is now (a fork server keeps the one it started
    with), ignores Ctrl-C and a closed terminal between trials (the launching process decides and forwards the stop;
    during a trial, the trial's run handles them and stops at a checkpoint), names itself in the launching process's
    locks and stops when that process dies (_watch_launcher)."""
    os.environ.clear()
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    join_locks(locks)
    threading.Thread(target=_watch_launcher, args=(launcher,), daemon=True, name="watch-launcher").start()


def _watch_launcher(launcher: int) -> None:
    """A killed launching process (kill -9 sends its workers nothing) is noticed by polling its pid (not this
    worker's parent: that is the fork server, which lives on while its workers do). The worker then stops itself as a
    SIGTERM to the study would (a running trial stops at a checkpoint, so --resume loses nothing), and quits outright
    after ORPHAN_GRACE seconds if it is still there. Polling works on every POSIX system, unlike Linux's parent-death
    signal."""
    while process_running(str(launcher)):
        time.sleep(LAUNCHER_POLL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE)
    os._exit(128 + signal.SIGTERM)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """UserError unless something answers at a Ray cluster `address` (host:port, or ray://host:port)
    within `timeout` seconds: ray.init itself waits a minute or more, deaf to Ctrl-C."""
    if address in ("auto", "local"):
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address!r} is not HOST:PORT (e.g. 127.0.0.1:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        why = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        raise UserError(f"no Ray cluster answers at {address} ({why}); start one there (`ray start --head`), "
                        f"fix --address, or drop it to start a local Ray instance") from None


def runtime_env(plugins: Iterable[Plugin]) -> dict:
    """Ray's runtime_env for the trials: the source folders of gan, vae and compare, so the workers run this very
    code, and those of the user's models and datasets (compare.protocol.ship_paths). Ray's py_modules takes
    folders only, so single-file modules travel in a working_dir of their own, which Ray puts on the workers'
    sys.path (the trials' run directories are absolute: the workers' cwd does not matter)."""
    import gan
    import vae
    import compare

    folders, files = ship_paths(plugins)
    env: dict = {"py_modules": list(dict.fromkeys([*(str(Path(m.__file__).parent) for m in (gan, vae, compare)),
                                                   *folders]))}
    if files:
        staging = Path(tempfile.mkdtemp(prefix="compare-ray-modules-"))
        for file in files:
            shutil.copy2(file, staging / Path(file).name)
        env["working_dir"] = str(staging)
    return env


class RayExecutor:
    """Each trial a Ray task with its CPU/GPU request, on the cluster at `address` or a local instance.

    The run directories are written by the workers: on a multi-node cluster the output directory
    must be on a filesystem every node shares for the weights to end up in one place (the numbers
    come back to the driver in the task's result either way).
    """

    def __init__(self, options: ExecutorOptions):
        if options.address is not None:
            check_reachable(options.address)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install "
                            "'gan-vae-compare[ray]' (or pip install ray)") from None
        if options.jobs != 1:
            raise UserError("--jobs is for --executor local; Ray runs as many trials as the cluster has room for")
        if options.cpus_per_trial <= 0 or options.gpus_per_trial < 0:
            raise UserError("--cpus-per-trial must be positive and --gpus-per-trial not negative")
        self.options = options
        self.threads = max(1, int(options.cpus_per_trial))
        where = options.address or "a local Ray instance"
        self.description = f"ray on {where}, {options.cpus_per_trial:g} CPU + {options.gpus_per_trial:g} GPU per trial"

    def map(self, trials: Iterable[Trial]) -> Iterator[dict]:
        import ray

        trials = [replace(t, threads=self.threads, plugins=registered(), show_progress=False) for t in trials]
        if not trials:
            return
        started = not ray.is_initialized()
        env = runtime_env(registered()) if started else {}
        pending: dict = {}
        try:
            if started:  # Ray packs and uploads the env's folders here, once
                ray.init(address=self.options.address, runtime_env=env, include_dashboard=False, log_to_driver=False,
                         logging_level="warning")
            task = ray.remote(num_cpus=self.options.cpus_per_trial, num_gpus=self.options.gpus_per_trial)(run_trial)
            pending.update((task.remote(t), t) for t in trials)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                trial = pending.pop(done[0])
                try:
                    yield ray.get(done[0])
                except (Interrupted, WriteFailed):  # Ray's task error is an instance of its cause
                    raise
                except Exception as e:  # the task's worker died or the node was lost
                    yield failed_record(trial, e)
        except (Interrupted, WriteFailed):
            for ref in pending:  # Ray interrupts a running task as Ctrl-C would; its run stops at a checkpoint
                ray.cancel(ref)
            raise
        finally:
            if started:
                ray.shutdown()
            if "working_dir" in env:
                shutil.rmtree(env["working_dir"], ignore_errors=True)


@dataclass(frozen=True)
class ExecutorEntry:
    factory: Callable[[ExecutorOptions], LocalExecutor | RayExecutor]
    description: str


EXECUTORS: dict[str, ExecutorEntry] = {
    "local": ExecutorEntry(LocalExecutor, "this machine: one trial after another, or --jobs N processes"),
    "ray": ExecutorEntry(RayExecutor,
                         "Ray tasks on the cluster at --address, or on a local Ray instance (pip install '.[ray]')"),
}


def make_executor(name: str, options: ExecutorOptions = ExecutorOptions()):
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    return EXECUTORS[name].factory(options)
