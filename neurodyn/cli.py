"""The ``neurodyn`` command line: ``run`` a spec (or re-run a run file's stored spec), ``info``
on an output file, ``export`` a run file as SONATA report files, ``sweep``, ``search`` and ``plot``.

Every deliberate error (bad spec, missing file, unwritable output, diverging run, a run too
large for the machine's memory or disk) prints one line ``neurodyn: error: ...`` and exits with
status 2. Ctrl-C (SIGINT) or SIGTERM stops a run or sweep at the end of the current chunk,
closes its file cleanly, prints one line ``neurodyn: interrupted: ...`` and exits with status
130. Results computed before a divergence or an interrupt are kept in a file beside the output
whose name says so (``<stem>.diverged.h5``, ``<stem>.partial.h5``; its ``/neurodyn`` attribute
``status`` says why it ended), so only a complete run ever takes the output's own name; an
interrupted sweep is resumed by running the same command again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .errors import Interrupted, NeurodynError, SpecError
from .signals import stop_requested


def _parser() -> argparse.ArgumentParser:
    from ._version import __version__

    p = argparse.ArgumentParser(prog="neurodyn", description="Simulate and analyse neural dynamics.")
    p.add_argument("--version", action="version", version=f"neurodyn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a TOML model spec and write HDF5")
    r.add_argument("spec", nargs="?", help="model spec file (TOML), e.g. models/chialvo_ring_star.toml, a SONATA "
                                           "circuit or simulation config (JSON; docs/interchange.md), or a run "
                                           "file (HDF5) of neurodyn run, to run its stored spec again (optional "
                                           "with --resume: the checkpoint's own spec)")
    r.add_argument("--out", help="output HDF5 path (default hdf5_outputs/<spec name>.h5; for a run file "
                                 "FILE.h5: FILE.rerun.h5 beside it, never FILE.h5 itself)")
    r.add_argument("--steps", type=int, help="number of steps (overrides the spec)")
    r.add_argument("--seed", type=int, help="random seed (overrides the spec)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override any spec field by its dotted path, e.g. couplings.star.strength=0.02")
    r.add_argument("--checkpoint-every", metavar="INTERVAL",
                   help="write a checkpoint (<out stem>.checkpoint.h5) this often: a wall time (60s, 5m, 2h) or a "
                        "number of steps (5000steps), and when stopped; the same command run again resumes from it "
                        "and ends with the file of an uninterrupted run")
    r.add_argument("--resume", metavar="CHECKPOINT", help="resume from this checkpoint file of the same spec")
    r.add_argument("--quiet", action="store_true", help="print nothing on success")
    r.add_argument("--force", action="store_true",
                   help="run even if the estimated memory or output size exceeds what is available")
    i = sub.add_parser("info", help="list everything in an HDF5 file written by neurodyn (run, sweep, trained "
                                    "readout, checkpoint, SONATA export): groups, values, array statistics, "
                                    "attributes and the stored spec")
    i.add_argument("file")
    i.add_argument("--json", action="store_true", help="print the listing as JSON (for scripts)")
    e = sub.add_parser("export", help="write a run file's reports and spikes as SONATA files "
                                      "(one float32 report file per variable, and spikes.h5)")
    e.add_argument("file", help="run file (HDF5) of neurodyn run")
    e.add_argument("directory", help="folder for report_<variable>.h5 and spikes.h5 (created if needed)")
    s = sub.add_parser("sweep", help="sweep spec parameters over a grid into a resumable HDF5 file")
    s.add_argument("spec", help="model spec file (TOML)")
    s.add_argument("--grid", action="append", default=[], metavar="PATH=START:STOP:COUNT",
                   help="a grid axis: a dotted spec path and start:stop:count or v1,v2,...; repeat for more axes")
    s.add_argument("--measure", action="append", default=[], metavar="NAME[:OBSERVABLE[:OPTION]]",
                   help="max_lyapunov, cross_correlation, order_parameter, mean, var, firing_rate, orbit; with a "
                        "spec's [task]: nrmse, nrmse_rms, mse, r2, memory_capacity, accuracy")
    s.add_argument("--sample", metavar="random:N|lhs:N",
                   help="sample N points in the box spanned by the --grid ranges instead of the full product")
    s.add_argument("--sample-seed", type=int, default=0)
    s.add_argument("--out", help="sweep file (default hdf5_outputs/<spec name>.sweep.h5)")
    s.add_argument("--steps", type=int, help="steps per point (overrides the spec)")
    s.add_argument("--drive", choices=["task"], help="task: drive the run of the ordinary measures with the input "
                                                     "series of the spec's [task] (default: no input)")
    s.add_argument("--chunk", type=int, help="points per compiled call (default: from a memory budget, "
                                             "small enough for progress every few seconds)")
    s.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://head-node:8786")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    s.add_argument("--force", action="store_true", help="build the model even if its estimated memory exceeds "
                                                        "what is available")
    h = sub.add_parser("search", help="search spec parameters for the best task score with optuna's TPE, a batch "
                                      "of trials per compiled sweep chunk, resumable (needs optuna)")
    h.add_argument("spec", help="model spec file (TOML) with a [task] table")
    h.add_argument("--param", action="append", default=[], metavar="PATH=LOW:HIGH",
                   help="a searched parameter: a dotted spec path and low:high (uniform), log:low:high, "
                        "int:low:high or v1,v2,... (a choice); repeat for more")
    h.add_argument("--measure", help="the task score to optimise (default: the first of the spec's task.metrics)")
    h.add_argument("--direction", choices=["minimize", "maximize"],
                   help="default: maximize r2, accuracy and memory_capacity, minimize the others")
    h.add_argument("--trials", type=int, default=100, help="evaluated trials in all (default 100)")
    h.add_argument("--batch", type=int, default=32, help="trials per compiled, vmapped chunk (default 32)")
    h.add_argument("--startup", type=int, default=10, help="random trials before TPE models the history (default 10)")
    h.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (default 0)")
    h.add_argument("--out", help="search file (default hdf5_outputs/<spec name>.search.h5); the study "
                                 "<stem>.journal and the best spec <stem>.best.toml go beside it")
    h.add_argument("--steps", type=int, help="steps per trial (overrides the spec)")
    h.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    h.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    h.add_argument("--force", action="store_true", help="build the model even if its estimated memory exceeds "
                                                        "what is available")
    pl = sub.add_parser("plot", help="draw a run file (time series, phase portrait, spike raster, order "
                                     "parameter) or a sweep file (each measure over the grid) as PNG files")
    pl.add_argument("file", help="run, sweep or training file (HDF5) written by neurodyn (a training checkpoint "
                                 "or history file: its learning curves)")
    pl.add_argument("--variables", action="append", default=[], metavar="POP.VAR[,POP.VAR...]",
                    help="run files: the variables of the time series (default all recorded)")
    pl.add_argument("--phase", metavar="POP.X,POP.Y",
                    help="run files: the two variables of the phase portrait (default two of one population)")
    pl.add_argument("--window", metavar="START:STOP",
                    help="run files: draw only this time interval, in the file's time unit (either end may be empty)")
    return p


def _load_spec(path, *, force: bool = False, output_file: bool = False, stored=None, **changes):
    """Read a spec with its command-line changes, switch the process to its precision, build it.

    Unless ``force``, populations and graphs whose estimated size exceeds the available memory
    are refused before they are allocated, and (``output_file``: the run writes the spec's output)
    the run's memory and output size are checked (:mod:`neurodyn.resources`). ``stored``: the
    ``(data, text, overrides)`` of a checkpoint's spec, instead of a file.

    The command line is the entry point that owns the process, so it turns float64 on here; a
    float32 spec builds float32 arrays either way, and 64-bit mode is never turned off for it
    (a caller running ``main`` in its own process may rely on it)."""
    from .precision import set_precision
    from .resources import available_memory, limits
    from .spec import build_spec, read_spec, requested_precision
    from .spec.estimate import check_outputs, check_run

    _check_options(changes)
    if path is not None and Path(path).suffix.lower() == ".json":  # a SONATA circuit config
        from .runs.circuit import circuit_spec

        if changes.get("overrides"):
            raise SpecError(f"--set: a SONATA config ({path}) takes no --set; edit its JSON files")
        spec = circuit_spec(path, steps=changes.get("steps"), seed=changes.get("seed"), output=changes.get("output"))
        if output_file:
            check_outputs(spec)
        return spec
    try:
        data, text = stored[:2] if stored is not None else read_spec(path, **changes)
        if requested_precision(data) == "float64":
            set_precision("float64")
        if "circuit" in data:  # a spec naming a SONATA circuit config (docs/interchange.md)
            from .runs.circuit import circuit_from_spec

            spec = circuit_from_spec(data, Path(path).parent if path is not None else Path("."))
            if output_file:
                check_outputs(spec)
            return spec
        memory = None if force else available_memory()
        with limits(memory, disk=output_file and not force):
            spec = build_spec(data, text, overrides=stored[2] if stored is not None else changes.get("overrides", ()))
            if output_file:
                check_outputs(spec)  # before anything is computed, even with --force
            if output_file and not force:
                check_run(spec)
    except SpecError as e:
        raise SpecError(_blame(str(e), changes)) from None
    return spec


_OPTION_FIELDS = {"steps": "--steps", "seed": "--seed", "output": "--out"}


def _set_key(assignment: str) -> str:
    return assignment.partition("=")[0].strip()


def _check_options(changes: dict) -> None:
    """``--steps``, ``--seed`` or ``--out`` together with a ``--set`` of the same field is an error
    (the option would silently win)."""
    for assignment in changes.get("overrides", ()):
        option = _OPTION_FIELDS.get(_set_key(assignment))
        if option and changes.get(_set_key(assignment)) is not None:
            raise SpecError(f"{option} {changes[_set_key(assignment)]} and --set {assignment} both set "
                            f"{_set_key(assignment)}: give only one")


def _blame(message: str, changes: dict) -> str:
    """A spec error, with the command-line option that caused it: the ``--set`` whose path the
    error names (or lies above it), or the one ``--set`` inside the table the error names (or the
    one of them whose field the error quotes); and for ``--steps`` the ``--set`` that fixes the
    spec's fields that must fit in the new step count."""
    if message.startswith("--set "):
        return message
    where, sep, rest = message.partition(": ")
    where = "" if where == "spec" or not sep or " " in where else where
    inside = []
    for assignment in changes.get("overrides", ()):
        key = _set_key(assignment)
        child = key[len(where) + 1:] if where and key.startswith(where + ".") else key if not where else ""
        if key == where or where.startswith(key + ".") or (child and f"{child.split('.')[0]!r}" in rest):
            return f"{message} (from --set {assignment})"
        if where and child:
            inside.append(assignment)
    if len(inside) == 1:
        return f"{message} (from --set {inside[0]})"
    steps = changes.get("steps")
    if steps is not None and where == "record.transient":
        return (f"{message}: --steps {steps} ends before the spec's record.transient; add "
                f"--set record.transient={steps // 2} (any value below {steps})")
    if steps is not None and f"steps ({steps})" in message:
        return f"{message} (steps from --steps {steps})"
    return message


def cmd_run(args) -> int:
    """``neurodyn run``: validate the spec, check the memory and disk it needs, run it into its
    HDF5 file (:func:`neurodyn.runs.run_spec`, stopping cleanly on SIGINT/SIGTERM), print a summary."""
    from .runs import run_spec, spec_checkpoint
    from .runs.checkpoint import stored_spec

    with stop_requested() as stop:
        stored = None if args.spec is not None else stored_spec(args.resume)
        spec = _load_spec(args.spec, force=args.force, output_file=True, stored=stored, overrides=args.overrides,
                          steps=args.steps, seed=args.seed, output=args.out)
        def log(line: str) -> None:
            print(f"neurodyn: {line}", file=sys.stderr)

        checkpoint = None
        if hasattr(spec, "write_sonata") and (args.checkpoint_every is not None or args.resume is not None):
            raise SpecError("--checkpoint-every / --resume: not available for a SONATA circuit config")
        if args.resume is not None and not Path(args.resume).is_file():
            raise NeurodynError(f"--resume {args.resume}: no such checkpoint")
        if args.checkpoint_every is not None or args.resume is not None:
            checkpoint = spec_checkpoint(spec, every=args.checkpoint_every, path=args.resume, log=log)
        if stop():
            raise Interrupted(f"{stop.name} before the run started; nothing was written")
        clock = CompileClock()
        with clock:
            result = run_spec(spec, should_stop=stop, log=log, checkpoint=checkpoint)
        if hasattr(spec, "write_sonata"):  # a SONATA circuit: its spikes with SONATA's populations and ids
            log(f"SONATA spikes: {spec.write_sonata(result.path)}")
    if args.quiet:
        return 0
    if spec.task is not None:
        _print_task_summary(spec, result)
        return 0
    obs = spec.model.observe(spec.state)
    shapes = {n: tuple(obs[n].shape) for n in spec.record}
    print_run_summary(spec, result.steps, result.wall, clock.seconds, result.path, shapes, result.n_times,
                      result.spikes, result.diagnostics)
    return 0


class CompileClock:
    """Seconds JAX spent compiling while the ``with`` block ran: tracing to a jaxpr, lowering to
    MLIR and the backend's compilation, as JAX's own monitoring events report them
    (``jax.monitoring``), overlapping events (a nested ``jit`` traced inside another) counted once."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        self.intervals: list[tuple[float, float]] = []
        self.active = False

    def _listen(self, event: str, duration: float, **kwargs) -> None:
        if self.active and event in self.EVENTS:
            end = time.perf_counter()
            self.intervals.append((end - duration, end))

    def __enter__(self):
        import jax.monitoring

        if not getattr(CompileClock, "_registered", False):  # JAX keeps listeners for the process
            jax.monitoring.register_event_duration_secs_listener(CompileClock._dispatch)
            CompileClock._registered = True
        CompileClock._current = self
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        CompileClock._current = None

    @staticmethod
    def _dispatch(event: str, duration: float, **kwargs) -> None:
        clock = getattr(CompileClock, "_current", None)
        if clock is not None:
            clock._listen(event, duration)

    @property
    def seconds(self) -> float:
        total, end = 0.0, -float("inf")
        for a, b in sorted(self.intervals):
            if b > end:
                total += b - max(a, end)
                end = b
        return total


def print_run_summary(spec, steps: int, wall: float, compile_s: float, path, shapes: dict, n_times: int,
                      n_spikes: dict, results: dict) -> None:
    """The lines ``neurodyn run`` prints: the wall time split into compilation and the run itself
    (steps per second of the run; for models in ms, the wall seconds per simulated second), then
    what the file holds; a scalar diagnostic with its value, a rate with its unit (Hz)."""
    run_s = max(wall - compile_s, 1e-9)
    speed = f"{steps / run_s:,.0f} steps/s"
    if spec.time_unit == "ms":
        simulated = steps * spec.dt / 1000.0
        speed += f", {run_s / simulated:.3g} s per simulated second"
    print(f"{spec.name}: {steps:,} steps in {wall:.2f} s (compile {compile_s:.2f} s, run {run_s:.2f} s: {speed}), "
          f"{spec.precision}, seed {spec.seed}")
    print(f"wrote {path}")
    for name, shape in shapes.items():
        pop, _, var = name.rpartition(".")
        print(f"  /report/{pop}/{var}/data  ({n_times}, {shape[0] if shape else 1})  "
              f"every {spec.every} step(s) from step {spec.transient}")
    for name, count in n_spikes.items():
        pop, _, var = name.rpartition(".")
        how = "events" if spec.spikes[name] is None else f"{var} crossing {spec.spikes[name]} upward"
        print(f"  /spikes/{pop}  {count:,} spikes ({how})")
    for name, (value, attrs) in results.items():
        unit = f" {attrs['units']}" if isinstance(attrs.get("units"), str) else ""
        extra = ", ".join(f"{k} = {v:.4g}{unit if k.endswith('rate') else ''}" for k, v in attrs.items()
                          if isinstance(v, float))
        if name.endswith(".synchrony"):  # the dataset holds Golomb's chi, as the raster plot shows it
            print(f"  /diagnostics/{name} = {float(value):.4g} (chi), {extra}")
        elif getattr(value, "shape", None) == ():
            print(f"  /diagnostics/{name} = {float(value):.4g}{unit}{', ' + extra if extra else ''}")
        else:
            print(f"  /diagnostics/{name}  {value.shape}{unit and ' [' + unit.strip() + ']'}  {extra}")


def _print_task_summary(spec, result) -> None:
    """The lines ``neurodyn run`` prints for a spec with a ``[task]``: the readout and its scores."""
    from .runs import trained_path

    task = spec.task
    print(f"{spec.name}: task {task.dataset} ({task.kind}), readout ridge {result.task.attrs['ridge']:g}, "
          f"{result.wall:.2f} s, {spec.precision}, seed {spec.seed}")
    print(f"wrote {result.path} and {trained_path(result.path)}")
    for name, value in result.task.scores.items():
        print(f"  /diagnostics/{name} = {value:.6g}")


def cmd_info(args) -> int:
    """``neurodyn info``: list every group and dataset of an HDF5 file (:mod:`neurodyn.io.inspect`,
    h5py and NumPy only: no JAX is imported), as text or ``--json``."""
    import json

    from .io.inspect import describe, inspect_file

    if args.json:
        print(json.dumps(inspect_file(Path(args.file)), indent=1))
    else:
        print(describe(Path(args.file)))
    return 0


def cmd_export(args) -> int:
    """``neurodyn export``: write a run file's reports and spikes as standard SONATA files."""
    from .io import export_sonata

    with stop_requested() as stop:  # main's block: a signal stops the export between blocks, nothing replaced
        try:
            written = export_sonata(Path(args.file), Path(args.directory), should_stop=stop)
        except Interrupted as e:
            raise Interrupted(f"{stop.name}: {e}") from None
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_sweep(args) -> int:
    """``neurodyn sweep``: build the grid and measures, run (or resume) the sweep into its file."""
    from .sweep import cartesian, connect, latin_hypercube, parse_axis, random_sample, sweep

    axes = [parse_axis(a) for a in args.grid]
    if args.sample:
        kind, _, count = args.sample.partition(":")
        if kind not in ("random", "lhs") or not count.isdigit() or int(count) < 1:
            raise NeurodynError(f"--sample {args.sample!r}: expected random:N or lhs:N")
        bounds = {p: (float(v.min()), float(v.max())) for p, v in axes}
        sampler = random_sample if kind == "random" else latin_hypercube
        grid = sampler(bounds, int(count), args.sample_seed)
    else:
        grid = cartesian(axes)
    from .sweep.runner import point_reasons

    with stop_requested() as stop:
        spec = _load_spec(args.spec, force=args.force, overrides=args.overrides, steps=args.steps)
        out = Path(args.out) if args.out else Path("hdf5_outputs") / f"{spec.name}.sweep.h5"
        client = connect(args.scheduler) if args.scheduler else None
        try:
            res = sweep(spec, grid, args.measure, out=out, chunk=args.chunk, executor=client, drive=args.drive,
                        progress=False if args.quiet else None, should_stop=stop)
        except Interrupted as e:
            raise Interrupted(str(e) if str(e).startswith(stop.name) else f"{stop.name}: {e}") from None
        finally:
            if client is not None:
                client.close()
    if not args.quiet:
        print(f"{spec.name}: {grid.n_points:,} points ({res.computed:,} computed now) in {res.wall_time:.1f} s "
              f"({res.computed / max(res.wall_time, 1e-9):,.1f} points/s)")
        print(f"wrote {res.path}")
        reasons = point_reasons(res.results, res.done)
        for name, values in res.results.items():
            why = reasons[name][reasons[name] != ""]
            counts = ", ".join(f"{int((why == r).sum()):,} {r}" for r in sorted(set(why)))
            print(f"  /sweep/results/{name}  {values.shape}  ({len(why):,} non-finite points"
                  f"{': ' + counts if counts else ''})")
    return 0


def cmd_search(args) -> int:
    """``neurodyn search``: ask optuna's TPE for batches of trials, evaluate each batch as one
    compiled sweep chunk, tell the scores; resume the study beside ``--out`` when it exists."""
    from .runs.search import as_space, search

    space = as_space(args.param)
    with stop_requested() as stop:
        spec = _load_spec(args.spec, force=args.force, overrides=args.overrides, steps=args.steps)
        out = Path(args.out) if args.out else Path("hdf5_outputs") / f"{spec.name}.search.h5"
        try:
            res = search(spec, space, args.measure, trials=args.trials, batch=args.batch, out=out,
                         seed=args.sampler_seed, direction=args.direction, startup=args.startup,
                         progress=False if args.quiet else None, should_stop=stop)
        except Interrupted as e:
            raise Interrupted(str(e) if str(e).startswith(stop.name) else f"{stop.name}: {e}") from None
    if not args.quiet:
        n = len(res.numbers)
        print(f"{spec.name}: {n:,} trials ({res.computed:,} evaluated now) in {res.wall_time:.1f} s "
              f"(compile {res.compile_time:.1f} s), batches of {args.batch}")
        if res.best is None:
            print(f"  no trial has a finite {res.measure}")
        else:
            print(f"  best {res.measure} = {res.best['value']:.6g} (trial {res.best['number']}, {res.direction})")
            for path, value in res.best["params"].items():
                print(f"    {path} = {value:.6g}")
        failed = sum(1 for v in res.values.tolist() if v != v or v in (float("inf"), float("-inf")))
        if failed:
            print(f"  {failed:,} trial{'s' if failed > 1 else ''} without a finite {res.measure} (told to optuna as failed)")
        print(f"wrote {res.path}" + (f" and {res.best_spec}" if res.best_spec else "") + f" (study: {res.journal})")
    return 0


def cmd_plot(args) -> int:
    """``neurodyn plot``: draw a run file's figures, or each measure of a sweep file, to PNG beside it."""
    from .io import open_for_reading
    from .plot import plot_run_file, plot_search_file, plot_sweep_file
    from .plot.run import parse_window
    from .plot.training import has_history, plot_training_file

    path = Path(args.file)
    with open_for_reading(path) as f:
        sweep = "sweep" in f
        search = "search" in f and "neurodyn" in f and f["neurodyn"].attrs.get("kind") == "search"
        training = not sweep and "neurodyn" not in f and has_history(f)
        checkpoint = "checkpoint" in f and f["checkpoint"].attrs.get("format") in (
            "neurodyn-run-checkpoint-1", b"neurodyn-run-checkpoint-1")
    if checkpoint:
        raise NeurodynError(f"{path} is a run checkpoint: it holds the state to resume a run, not results to draw; "
                            f"finish the run with `neurodyn run --resume {path}` and plot its output file")
    variables = [v.strip() for text in args.variables for v in text.split(",") if v.strip()]
    if search:
        if variables or args.phase or args.window:
            raise NeurodynError(f"{path} is a search file: --variables, --phase and --window apply to run files")
        written = plot_search_file(path)
    elif training:
        if variables or args.phase or args.window:
            raise NeurodynError(f"{path} is a training file: --variables, --phase and --window apply to run files")
        written = plot_training_file(path)
    elif sweep:
        if variables or args.phase or args.window:
            raise NeurodynError(f"{path} is a sweep file: --variables, --phase and --window apply to run files")
        written = plot_sweep_file(path)
    else:
        phase = None
        if args.phase:
            phase = tuple(v.strip() for v in args.phase.split(","))
            if len(phase) != 2:
                raise NeurodynError(f"--phase {args.phase!r}: expected two variables, POP.X,POP.Y")
        written = plot_run_file(path, variables=variables or None, phase=phase, window=parse_window(args.window))
    for out in written:
        print(f"wrote {out}")
    return 0


def console() -> None:
    """The ``neurodyn`` console script: :func:`main`, then exit with its status. The signal
    handlers of run and sweep stay in place until the process ends, so a Ctrl-C that lands after
    the work is complete (while the interpreter shuts down) is ignored instead of killing it.
    Output piped into a reader that closes early (``neurodyn info f.h5 | head``) ends quietly
    with status 0: every file was written before its summary was printed."""
    from .signals import ignore_until_exit, started

    try:
        started()  # Ctrl-C is main's from here (neurodyn.signals.interrupt_before_start until now)
        status = main(restore_signals=False)
        sys.stdout.flush()
    except KeyboardInterrupt:  # Ctrl-C while the arguments were read, before main's handlers were in place
        print("neurodyn: interrupted before it started; nothing was written", file=sys.stderr)
        status = 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more reaches the pipe
        status = 0
    from .files import DISK_FULL

    ignore_until_exit()  # the status is decided: a late signal cannot turn 130 (or 0) into death by signal
    if DISK_FULL:  # HDF5's exit handler can crash on a file whose write failed: every file is closed, skip it
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def example_options(doc: str, quick: str, argv=None, *, out: str | None = "output folder",
                    options=None) -> argparse.Namespace:
    """The command line of a gallery example (``examples/*.py``): ``--quick`` (``quick`` says what
    its small version does), ``--out`` (``out`` says what goes there; the folder, default
    ``hdf5_outputs``, is created; None: no such option) and what ``options(parser)`` adds. The
    description is the first line of ``doc``; an unknown option is argparse's one-line error
    (exit 2). matplotlib, where installed, draws headless (the Agg backend)."""
    import importlib.util

    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    if out is not None:
        parser.add_argument("--out", type=Path, default=Path("hdf5_outputs"), help=out)
    if options is not None:
        options(parser)
    args = parser.parse_args(argv)
    args.parser = parser
    if out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib

        matplotlib.use("Agg")
    return args


def _check_spec_less(parser, args) -> None:
    """``neurodyn run`` without a spec: only ``--resume CHECKPOINT``, which runs the checkpoint's
    own spec unchanged (argparse's one-line error and exit 2 otherwise)."""
    if args.resume is None:
        parser.error("the following arguments are required: spec (or --resume CHECKPOINT, to resume its run)")
    given = [o for o, v in (("--set", args.overrides), ("--steps", args.steps), ("--seed", args.seed),
                            ("--out", args.out)) if v]
    if given:
        parser.error(f"--resume without a spec resumes the checkpoint's own run; {given[0]} cannot change it "
                     f"(give the spec too, or leave {given[0]} out)")


def main(argv=None, *, restore_signals: bool = True) -> int:
    """The command line; returns the exit status (2 on bad input, 130 when interrupted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run" and args.spec is None:
        _check_spec_less(parser, args)
    command = {"run": cmd_run, "info": cmd_info, "export": cmd_export, "sweep": cmd_sweep,
               "search": cmd_search, "plot": cmd_plot}[args.command]
    try:
        if args.command in ("run", "sweep", "search", "export", "plot"):
            # run, sweep, export and plot stop at their own checks; a signal after the last one (while the file
            # is closed and the summary printed) is ignored: the work is complete. The handlers go in
            # first: the cache imports JAX (seconds), and a KeyboardInterrupt raised meanwhile can land
            # in JAX's gc callback, which swallows it (the run then went on to exit 0)
            with stop_requested(restore=restore_signals):
                if args.command not in ("export", "plot"):
                    from .compile_cache import enable_compilation_cache

                    enable_compilation_cache()  # a spec run again loads its compiled programs (results identical)
                return command(args)
        return command(args)
    except Interrupted as e:
        print(f"neurodyn: interrupted: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # another command, or before the handlers are in place
        print("neurodyn: interrupted", file=sys.stderr)
        return 130
    except NeurodynError as e:
        print(f"neurodyn: error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("neurodyn: error: out of memory (the run is larger than this machine's memory)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    console()
