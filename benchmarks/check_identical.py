"""Bit-for-bit check of a refactoring: digest the results of every bundled spec, a few sweeps and
the task scores into one JSON file, and compare two such files.

    python -m benchmarks.check_identical run /work/baseline/before.json      # on the old main
    python -m benchmarks.check_identical run after.json                       # on the new code
    python -m benchmarks.check_identical compare /work/baseline/before.json after.json

``run`` runs ``neurodyn run`` on every ``models/*.toml`` (their own steps; each in its own process,
as a user would, so one spec's float64 switch does not leak into the next), a few task runs with
other readout options (:data:`TASK_RUNS`: standardised, without intercept, other folds, mean
pooling) and a few ``neurodyn sweep`` commands (every registered measure kind: Lyapunov tangent,
accumulators, orbit, threshold crossings, the task scores with a fixed and a swept split, a swept
ridge, the classifier), plus a few calls from Python (chunked ``simulate``, a driven run, the
Lyapunov spectrum, ``readout.Ridge`` and ``Measure.ridge``). The digest holds, for every HDF5 file written (run files,
trained readouts, sweep files): every dataset's dtype, shape and SHA-256 of its bytes, a few
float64 summary numbers (sum, sum of squares, min, max: how large a difference is), and every
attribute except the ones that change between identical runs (creation time, wall time,
version; the temporary folder in stored paths reads ``<tmp>``). Sweep results and task scores (``/diagnostics`` of task runs, the sweeps' result
datasets) are also kept as values.

``compare`` says, for every file, whether every dataset and attribute is identical (exact
comparison), and for every sweep value / task score whether it agrees to 1e-12 (relative to
max(1, |value|)); exit status 0 when everything passes, 1 otherwise. Take about 4-8 minutes on a
shared 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = {"created", "wall_time_s", "version"}
TOLERANCE = 1e-12
NEURODYN = [sys.executable, "-c", "from neurodyn.cli import console; console()"]

#: (name, arguments of ``neurodyn sweep`` after the spec) -- every measure kind at least once
SWEEPS = [
    ("chialvo_single", "models/chialvo_single.toml",
     ["--grid", "populations.neuron.a=0.85:0.9:3", "--measure", "max_lyapunov", "--measure", "mean:neuron.x",
      "--measure", "var:neuron.y", "--measure", "orbit:neuron.x:20",
      "--steps", "3000"]),
    ("chialvo_ring_star", "models/chialvo_ring_star.toml",
     ["--grid", "couplings.star.strength=0:0.05:3", "--grid", "couplings.ring.strength=0.0,0.02",
      "--measure", "max_lyapunov", "--measure", "cross_correlation", "--steps", "4000"]),
    ("kuramoto_all_to_all", "models/kuramoto_all_to_all.toml",
     ["--grid", "populations.oscillators.coupling=0.5:2.5:3", "--measure", "order_parameter",
      "--measure", "mean:oscillators.r", "--steps", "1200", "--set", "populations.oscillators.n=200",
      "--set", "record.transient=600"]),
    ("esn_narma10", "models/esn_narma10.toml",
     ["--grid", "populations.reservoir.spectral_radius=0.5:1.1:3", "--measure", "nrmse", "--measure", "mse",
      "--measure", "r2", "--measure", "nrmse_rms", "--set", "populations.reservoir.n=100"]),
    ("esn_narma10_drive", "models/esn_narma10.toml",
     ["--grid", "populations.reservoir.leak=0.3:1.0:2", "--drive", "task", "--measure", "mean:reservoir.x",
      "--measure", "cross_correlation:reservoir.x", "--set", "populations.reservoir.n=50"]),
    ("deepresesn_memory", "models/deepresesn_memory.toml",
     ["--grid", "task.readout.ridge=1e-8,1e-6", "--measure", "memory_capacity"]),
    # the task room (issue 18): cross-validated ridge list, swept split and folds (masked rows), swept
    # ridge with standardised features and no intercept, the classifier on pooled states
    ("esn_narma10_split", "models/esn_narma10.toml",
     ["--grid", "task.washout=100,200", "--grid", "task.readout.folds=3,5", "--measure", "nrmse",
      "--measure", "r2", "--set", "populations.reservoir.n=40"]),
    ("esn_narma10_ridge_std", "models/esn_narma10.toml",
     ["--grid", "task.readout.ridge=1e-8,1e-4", "--measure", "nrmse", "--measure", "mse",
      "--set", "populations.reservoir.n=40", "--set", "task.readout.standardize=true",
      "--set", "task.readout.bias=false", "--set", "task.readout.use_inputs=true"]),
    ("esn_mackey_glass_cv_std", "models/esn_mackey_glass.toml",
     ["--grid", "populations.reservoir.spectral_radius=0.8,1.1", "--measure", "nrmse", "--measure", "nrmse_rms",
      "--set", "populations.reservoir.n=40", "--set", "task.readout.standardize=true"]),
    ("resrmn_digits", "models/resrmn_digits.toml",
     ["--grid", "populations.reservoir.spectral_radius=0.9,1.0", "--measure", "accuracy"]),
    ("cuba_ei", "models/cuba_ei.toml",
     ["--grid", "couplings.ee.weight=1.4,1.62", "--measure", "firing_rate:exc.v:-52.0", "--measure", "mean:exc.v",
      "--measure", "var:inh.v", "--steps", "1000"]),
]


#: (name, spec, ``--set`` overrides) -- task runs with other readout options than the bundled specs
TASK_RUNS = [
    ("esn_narma10_std_nobias", "models/esn_narma10.toml",
     ["populations.reservoir.n=60", "task.readout.standardize=true", "task.readout.bias=false",
      "task.readout.use_inputs=true"]),
    ("esn_narma10_folds3_single", "models/esn_narma10.toml",
     ["populations.reservoir.n=60", "task.readout.folds=3", "task.readout.standardize=true"]),
    ("resrmn_digits_mean", "models/resrmn_digits.toml", ["task.readout.pool=mean", "task.readout.standardize=false"]),
]


def _cli(args: list[str], log) -> None:
    t0 = time.perf_counter()
    p = subprocess.run(NEURODYN + args, cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    print(f"  {' '.join(args[:2])} ... {time.perf_counter() - t0:.1f} s, exit {p.returncode}", file=log, flush=True)
    if p.returncode != 0:
        raise RuntimeError(f"neurodyn {' '.join(args)} failed (exit {p.returncode}):\n{p.stderr[-2000:]}")


TMP = re.compile(r"[^\s\"']*check_identical_[A-Za-z0-9_]+/")  # this run's temporary folder, in stored paths


def _attr(v):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return TMP.sub("<tmp>/", v)
    if isinstance(v, np.ndarray):
        return v.tolist() if v.dtype.kind != "O" else [str(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _summary(a: np.ndarray) -> list[float]:
    if a.dtype.kind not in "biuf" or a.size == 0:
        return []
    x = a.astype(np.float64).ravel()
    finite = x[np.isfinite(x)]
    if not finite.size:
        return [float("nan")] * 4
    return [float(finite.sum()), float((finite ** 2).sum()), float(finite.min()), float(finite.max())]


def digest_file(path: Path, values_under: tuple[str, ...] = ()) -> dict:
    """Every dataset (dtype, shape, SHA-256, summary) and attribute of an HDF5 file; datasets
    under ``values_under`` also by value (compared to 1e-12)."""
    import h5py

    out: dict = {"datasets": {}, "attrs": {}, "values": {}}
    with h5py.File(path, "r") as f:
        out["attrs"]["/"] = {k: _attr(v) for k, v in f.attrs.items() if k not in VOLATILE}

        def visit(name, obj):
            attrs = {k: _attr(v) for k, v in obj.attrs.items() if k not in VOLATILE}
            if attrs:
                out["attrs"][name] = attrs
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                a = np.asarray(a)
                raw = a.tobytes() if a.dtype.kind != "O" else repr(a.tolist()).encode()
                out["datasets"][name] = {"dtype": str(a.dtype), "shape": list(a.shape),
                                         "sha256": hashlib.sha256(raw).hexdigest(), "summary": _summary(a)}
                if any(name.startswith(p) for p in values_under) and a.dtype.kind in "biuf" and a.size <= 100_000:
                    out["values"][name] = a.astype(np.float64).ravel().tolist()

        f.visititems(visit)
    return out


def _python_runs(tmp: Path) -> dict:
    """A few runs from Python: chunked and driven ``simulate``, ``run``, the Lyapunov spectrum."""
    code = r"""
import json, sys, hashlib
import numpy as np, jax, jax.numpy as jnp
import neurodyn as nd
from neurodyn.diagnostics import lyapunov_spectrum, max_lyapunov
from neurodyn.spec import load_spec
nd.set_precision("float64")
out = {}
h = lambda a: hashlib.sha256(np.ascontiguousarray(np.asarray(a)).tobytes()).hexdigest()
spec = load_spec("models/chialvo_ring_star.toml", steps=3000)
for chunk in (None, 7, 250):
    tr = nd.simulate(spec.model, 3000, state=spec.state, every=3, transient=101, chunk=chunk,
                     spikes={"neurons.x": 1.0})
    out[f"ring_star_chunk{chunk}"] = {**{n: h(v) for n, v in tr.data.items()}, "times": h(tr.times),
        **{f"spikes.{n}": [h(t), h(i)] for n, (t, i) in tr.spikes.items()},
        "final": [h(x) for x in jax.tree_util.tree_leaves(tr.final_state)]}
esn = load_spec("models/esn_narma10.toml", overrides=["populations.reservoir.n=60"])
u = jnp.sin(jnp.arange(600) * 0.1)[:, None]
tr = nd.simulate(esn.model, 500, state=esn.state, drive={"reservoir": u}, every=2, transient=5)
out["esn_array_drive"] = {n: h(v) for n, v in tr.data.items()}
tr = nd.simulate(esn.model, 500, state=esn.state, drive=lambda t: {"reservoir": jnp.cos(t * 0.1)[None]}, every=1)
out["esn_function_drive"] = {n: h(v) for n, v in tr.data.items()}
final, recs = nd.run(esn.model, esn.state, 200, every=4, drive={"reservoir": u})
out["esn_run"] = {**{n: h(v) for n, v in recs.items()}, "final": [h(x) for x in jax.tree_util.tree_leaves(final)]}
out["values"] = {
    "ring_star_spectrum": np.asarray(lyapunov_spectrum(spec.model, 2000, state=spec.state, transient=100)).tolist(),
    "ring_star_max": float(max_lyapunov(spec.model, 2000, state=spec.state, transient=100)),
    "esn_max_driven": float(max_lyapunov(esn.model, 300, state=esn.state, drive={"reservoir": u}, transient=10)),
}
# the task room from Python: readout.Ridge (CV, standardised, without intercept, several sequences)
# and the streamed ridge measure of a sweep
from neurodyn.readout import Ridge, blocked_cv_errors, ridge_path
from neurodyn.sweep import Measure, cartesian, parse_axis, sweep
rng = np.random.default_rng(5)
x, w_true = rng.normal(size=(400, 12)), rng.normal(size=(12, 2))
y = x @ w_true + 0.3 * rng.normal(size=(400, 2)) + 1.5
ridges = [1e-6, 1e-2, 1.0, 30.0]
out["values"]["ridge_path"] = ridge_path(x, y, ridges).ravel().tolist()
out["values"]["blocked_cv"] = blocked_cv_errors(x, y, ridges, 4).tolist()
out["values"]["blocked_cv_nobias"] = blocked_cv_errors(x, y, ridges, 5, bias=False).tolist()
for name, kw in {"ridge_cv_std": dict(ridge=ridges, standardize=True, folds=4),
                 "ridge_nobias": dict(ridge=ridges, bias=False, washout=7),
                 "ridge_single": dict(ridge=0.1)}.items():
    fit = Ridge(**kw).fit([x[:250], x[250:]], [y[:250], y[250:]])
    out["values"][name] = [*fit.weights.ravel().tolist(), fit.ridge,
                           *([] if fit.cv_errors is None else fit.cv_errors.tolist()),
                           *fit.score(x, y).values()]
esn = nd.models.ESN.create(30, seed=2, spectral_radius=0.9, dtype=np.float64)
uu = np.random.default_rng(0).uniform(-1, 1, (500, 1))
target = np.concatenate([np.roll(uu, 2, axis=0), np.roll(uu, 4, axis=0)], axis=1)[100:]
res = sweep(esn, cartesian([parse_axis("recurrent_gain=0.5,0.95")]), [Measure.ridge(target, "x", ridge=1e-4)],
            steps=500, transient=100, drive=jnp.asarray(uu), progress=False, state=esn.init(jax.random.PRNGKey(0)))
out["values"].update({f"measure_ridge:{k}": np.asarray(v).ravel().tolist() for k, v in res.results.items()})
json.dump(out, open(sys.argv[1], "w"))
"""
    target = tmp / "python.json"
    p = subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    if p.returncode != 0:
        raise RuntimeError(f"the Python runs failed:\n{p.stderr[-3000:]}")
    return json.loads(target.read_text())


def run(out: Path, only: list[str] | None, log=sys.stderr) -> None:
    result: dict = {"files": {}, "values": {}, "python": {}}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check_identical_") as d:
        tmp = Path(d)
        specs = sorted((ROOT / "models").glob("*.toml"))
        for spec in specs:
            if only and spec.stem not in only:
                continue
            target = tmp / f"{spec.stem}.h5"
            _cli(["run", str(spec.relative_to(ROOT)), "--out", str(target), "--quiet"], log)
            task = "[task]" in spec.read_text()
            for f in sorted(tmp.glob(f"{spec.stem}*.h5")):
                key = f"run/{f.name}"
                result["files"][key] = digest_file(f, ("diagnostics/",) if task and not f.name.endswith(
                    ".trained.h5") else ())
                result["values"].update({f"{key}:{k}": v for k, v in result["files"][key]["values"].items()})
                f.unlink()
        for name, spec, sets in TASK_RUNS:
            if only and name not in only:
                continue
            target = tmp / f"{name}.h5"
            _cli(["run", spec, "--out", str(target), "--quiet", *(a for s in sets for a in ("--set", s))], log)
            for f in sorted(tmp.glob(f"{name}*.h5")):
                key = f"run/{f.name}"
                result["files"][key] = digest_file(f, ("diagnostics/", "readout/cv_errors") if not f.name.endswith(
                    ".trained.h5") else ())
                result["values"].update({f"{key}:{k}": v for k, v in result["files"][key]["values"].items()})
                f.unlink()
        for name, spec, args in SWEEPS:
            if only and name not in only:
                continue
            target = tmp / f"{name}.sweep.h5"
            _cli(["sweep", spec, "--out", str(target), "--quiet", *args], log)
            key = f"sweep/{name}"
            result["files"][key] = digest_file(target, ("sweep/results/",))
            result["values"].update({f"{key}:{k}": v for k, v in result["files"][key]["values"].items()})
        if not only or "python" in only:
            t0 = time.perf_counter()
            py = _python_runs(tmp)
            print(f"  python runs ... {time.perf_counter() - t0:.1f} s", file=log, flush=True)
            result["values"].update({f"python:{k}": v for k, v in py.pop("values").items()})
            result["python"] = py
    result["wall_s"] = time.perf_counter() - t_all
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"wrote {out} ({len(result['files'])} files, {len(result['values'])} value sets, "
          f"{result['wall_s']:.0f} s)", file=log)


def _rel(a, b) -> float:
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    if a.shape != b.shape:
        return float("inf")
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.abs(a - b) / np.maximum(1.0, np.abs(a))
    d[both_nan] = 0.0
    d[np.isnan(d)] = float("inf")
    return float(d.max()) if d.size else 0.0


def compare(before: dict, after: dict, out=sys.stdout) -> int:
    """Print one line per file / value set; return the number of failures."""
    failures = 0
    for key in sorted(set(before["files"]) | set(after["files"])):
        a, b = before["files"].get(key), after["files"].get(key)
        if a is None or b is None:
            print(f"MISSING    {key}: only in {'after' if a is None else 'before'}", file=out)
            failures += 1
            continue
        diffs = []
        for name in sorted(set(a["datasets"]) | set(b["datasets"])):
            da, db = a["datasets"].get(name), b["datasets"].get(name)
            if da is None or db is None:
                diffs.append(f"{name} only {'after' if da is None else 'before'}")
            elif (da["dtype"], da["shape"], da["sha256"]) != (db["dtype"], db["shape"], db["sha256"]):
                diffs.append(f"{name} differs ({da['dtype']}{da['shape']} -> {db['dtype']}{db['shape']}, "
                             f"summary rel. diff {_rel(da['summary'], db['summary']):.2g})")
        for name in sorted(set(a["attrs"]) | set(b["attrs"])):
            aa, ab = ({k: TMP.sub("<tmp>/", v) if isinstance(v, str) else v for k, v in x["attrs"].get(name, {}).items()}
                      for x in (a, b))
            for k in sorted(set(aa) | set(ab)):
                if aa.get(k) != ab.get(k):
                    diffs.append(f"attr {name or '/'}@{k}: {str(aa.get(k))[:60]!r} -> {str(ab.get(k))[:60]!r}")
        if diffs:
            failures += 1
            print(f"DIFFERENT  {key}: {len(diffs)} difference(s)", file=out)
            for d in diffs[:12]:
                print(f"    {d}", file=out)
        else:
            print(f"IDENTICAL  {key} ({len(a['datasets'])} datasets)", file=out)
    pa, pb = before.get("python", {}), after.get("python", {})
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) == pb.get(key):
            print(f"IDENTICAL  python:{key}", file=out)
        else:
            failures += 1
            bad = sorted(k for k in set(pa.get(key, {})) | set(pb.get(key, {}))
                         if pa.get(key, {}).get(k) != pb.get(key, {}).get(k))
            print(f"DIFFERENT  python:{key}: {', '.join(bad)}", file=out)
    va, vb = before["values"], after["values"]
    worst = 0.0
    for key in sorted(set(va) | set(vb)):
        if key not in va or key not in vb:
            print(f"MISSING    value {key}: only in {'after' if key not in va else 'before'}", file=out)
            failures += 1
            continue
        r = _rel(va[key], vb[key])
        worst = max(worst, r)
        if r > TOLERANCE:
            failures += 1
            print(f"DIFFERENT  value {key}: rel. diff {r:.3g} > {TOLERANCE:g}", file=out)
    print(f"values: {len(set(va) & set(vb))} compared, largest rel. diff {worst:.3g} (tolerance {TOLERANCE:g})",
          file=out)
    print("PASS: identical" if not failures else f"FAIL: {failures} difference(s)", file=out)
    return failures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.check_identical", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run every spec, sweep and Python check; write the digest JSON")
    r.add_argument("out", type=Path)
    r.add_argument("--only", nargs="*", help="spec stems / sweep names / 'python' to run (default all)")
    c = sub.add_parser("compare", help="compare two digests")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = p.parse_args(argv)
    if args.command == "run":
        run(args.out, args.only)
        return 0
    return 1 if compare(json.loads(args.before.read_text()), json.loads(args.after.read_text())) else 0


if __name__ == "__main__":
    sys.exit(main())
