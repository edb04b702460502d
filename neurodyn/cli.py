"""The ``neurodyn`` command line: ``run`` a spec, ``info`` on an output file.

Every deliberate error (bad spec, missing file, unwritable output, diverging run) prints one
line ``neurodyn: error: ...`` and exits with status 2; results computed before a divergence or
an interrupt are kept in the output file (its ``/neurodyn`` attribute ``status`` says why it
ended).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .errors import DivergenceError, NeurodynError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neurodyn", description="Simulate and analyse neural dynamics.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a TOML model spec and write HDF5")
    r.add_argument("spec", help="model spec file (TOML), e.g. models/chialvo_ring_star.toml")
    r.add_argument("--out", help="output HDF5 path (default hdf5_outputs/<spec name>.h5)")
    r.add_argument("--steps", type=int, help="number of steps (overrides the spec)")
    r.add_argument("--seed", type=int, help="random seed (overrides the spec)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override any spec field by its dotted path, e.g. couplings.star.strength=0.02")
    r.add_argument("--quiet", action="store_true", help="print nothing on success")
    i = sub.add_parser("info", help="describe an HDF5 file written by neurodyn")
    i.add_argument("file")
    s = sub.add_parser("sweep", help="sweep spec parameters over a grid into a resumable HDF5 file")
    s.add_argument("spec", help="model spec file (TOML)")
    s.add_argument("--grid", action="append", default=[], metavar="PATH=START:STOP:COUNT",
                   help="a grid axis: a dotted spec path and start:stop:count or v1,v2,...; repeat for more axes")
    s.add_argument("--measure", action="append", default=[], metavar="NAME[:OBSERVABLE[:OPTION]]",
                   help="max_lyapunov, cross_correlation, order_parameter, mean, var, firing_rate, orbit")
    s.add_argument("--sample", metavar="random:N|lhs:N",
                   help="sample N points in the box spanned by the --grid ranges instead of the full product")
    s.add_argument("--sample-seed", type=int, default=0)
    s.add_argument("--out", help="sweep file (default hdf5_outputs/<spec name>.sweep.h5)")
    s.add_argument("--steps", type=int, help="steps per point (overrides the spec)")
    s.add_argument("--chunk", type=int, help="points per compiled call (default: from a memory budget)")
    s.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://head-node:8786")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    pl = sub.add_parser("plot", help="draw a sweep file's measures as curves or phase diagrams (PNG)")
    pl.add_argument("file")
    return p


def _load_spec(path, **changes):
    """Read a spec with its command-line changes, switch the process to its precision, build it.

    The command line is the entry point that owns the process, so it turns float64 on here; a
    float32 spec builds float32 arrays either way, and 64-bit mode is never turned off for it
    (a caller running ``main`` in its own process may rely on it)."""
    from .precision import set_precision
    from .spec import build_spec, read_spec, requested_precision

    data, text = read_spec(path, **changes)
    if requested_precision(data) == "float64":
        set_precision("float64")
    return build_spec(data, text)


def cmd_run(args) -> int:
    """``neurodyn run``: validate the spec, simulate it into its HDF5 file, print a summary."""
    from .core.simulate import simulate
    from .diagnostics.streaming import STREAMS
    from .io import RunWriter

    spec = _load_spec(args.spec, overrides=args.overrides, steps=args.steps, seed=args.seed, output=args.out)
    obs = spec.model.observe(spec.state)
    shapes = {n: tuple(obs[n].shape) for n in spec.record}
    from . import __version__

    writer = RunWriter(
        spec.output,
        meta={"version": __version__, "name": spec.name, "seed": spec.seed, "dt": spec.dt, "steps": spec.steps,
              "precision": spec.precision, "every": spec.every, "transient": spec.transient,
              "spec": spec.text, "overrides": list(args.overrides)},
        shapes=shapes, units={n: spec.units.get(n, "1") for n in spec.record}, spikes=tuple(spec.spikes),
        time=(spec.transient * spec.dt, spec.every * spec.dt), time_unit=spec.time_unit, dtype=spec.precision,
    )
    streams = {name: STREAMS[name][0]() for name in spec.diagnostics}
    t0 = time.perf_counter()
    try:
        traj = simulate(spec.model, spec.steps, state=spec.state, record=spec.record, every=spec.every,
                        transient=spec.transient, spikes=spec.spikes, events=(), chunk=spec.chunk,
                        writer=_Tee(writer, streams, spec.diagnostics),
                        dt=spec.dt, keep=False)
    except DivergenceError as e:
        _store_diagnostics(writer, streams, spec)
        path = writer.close("diverged", diverged_step=e.step, diverged_variable=e.variable, message=str(e))
        raise NeurodynError(f"{e}; the samples before it are in {path}") from None
    except KeyboardInterrupt:
        path = writer.close("interrupted")
        print(f"neurodyn: interrupted; what was computed is in {path}", file=sys.stderr)
        return 130
    except BaseException:
        writer.abort()
        raise
    wall = time.perf_counter() - t0
    results = _store_diagnostics(writer, streams, spec)
    n_times = writer.n_times
    n_spikes = {name: int(ts.shape[0]) for name, (ts, _) in writer.spikes.items()}
    path = writer.close("complete", wall_time_s=wall)
    if not args.quiet:
        print(f"{spec.name}: {traj.steps:,} steps in {wall:.2f} s ({traj.steps / wall:,.0f} steps/s), "
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
            extra = ", ".join(f"{k} = {v:.4g}" for k, v in attrs.items() if isinstance(v, float))
            print(f"  /diagnostics/{name}  {value.shape}  {extra}")
    return 0


class _Tee:
    """Hands every chunk to the HDF5 writer and to the streaming diagnostics."""

    def __init__(self, writer, streams: dict, observables: dict):
        self.writer, self.streams, self.observables = writer, streams, observables

    def append(self, times, data, spikes) -> None:
        """Write the chunk, then feed it to every streaming diagnostic."""
        self.writer.append(times, data, spikes)
        for name, stream in self.streams.items():
            if data:
                stream.update(data[self.observables[name]])


def _store_diagnostics(writer, streams, spec) -> dict:
    results = {}
    for name, stream in streams.items():
        value, attrs = stream.result()
        writer.add_diagnostic(name, value, observable=spec.diagnostics[name], **attrs)
        results[name] = (value, attrs)
    return results


def cmd_info(args) -> int:
    """``neurodyn info``: print the layout, units and stored spec of an HDF5 file."""
    from .io import describe

    print(describe(Path(args.file)))
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
    spec = _load_spec(args.spec, overrides=args.overrides, steps=args.steps)
    out = Path(args.out) if args.out else Path("hdf5_outputs") / f"{spec.name}.sweep.h5"
    client = connect(args.scheduler) if args.scheduler else None
    try:
        res = sweep(spec, grid, args.measure, out=out, chunk=args.chunk, executor=client,
                    progress=False if args.quiet else None)
    finally:
        if client is not None:
            client.close()
    if not args.quiet:
        print(f"{spec.name}: {grid.n_points:,} points ({res.computed:,} computed now) in {res.wall_time:.1f} s "
              f"({res.computed / max(res.wall_time, 1e-9):,.1f} points/s)")
        print(f"wrote {res.path}")
        for name, values in res.results.items():
            finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
            print(f"  /sweep/results/{name}  {values.shape}  ({int((~finite).sum())} non-finite points)")
    return 0


def cmd_plot(args) -> int:
    """``neurodyn plot``: draw each measure of a sweep file to PNG beside it."""
    from .plot import plot_sweep_file

    for path in plot_sweep_file(Path(args.file)):
        print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``neurodyn`` console script; returns the exit status (2 on bad input)."""
    args = _parser().parse_args(argv)
    try:
        return {"run": cmd_run, "info": cmd_info, "sweep": cmd_sweep, "plot": cmd_plot}[args.command](args)
    except NeurodynError as e:
        print(f"neurodyn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
