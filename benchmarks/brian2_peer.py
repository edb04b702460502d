"""Brian2 2.9.0 as the peer of the side-by-side benchmarks: the networks of ``bench_plasticity``
(COBA-4000 with pair STDP on E->E), ``bench_equations`` (COBAHH-4000, the Izhikevich 2003
network) and ``bench_coba`` (COBA-4000) written for Brian2, run at each of its targets in a
subprocess of ``.venv-brian2/bin/python`` (Brian2 needs NumPy < 2; create the environment with
``python benchmarks/brian2_env.py``). This process never imports Brian2.

Targets: ``cython`` (runtime mode; a first ``run()`` fills the code cache and is reported as the
compile time, then the best of ``rounds`` ``run()`` calls, each after ``restore()`` to the same
initial state) and ``cpp_standalone`` with 1 and 2 OpenMP threads (the project is generated and
compiled once, reported as the compile time; then the binary is run ``rounds`` times). Every
network is float32 (``prefs.core.default_float_dtype``) and records every spike of every
population with a ``SpikeMonitor``. For each run the script reports the wall time and Brian2's
own timer of the simulation loop alone (``_last_run_time``: for cpp_standalone the binary's
wall time also holds creating the synapses, writing the spikes to disk and starting the process,
which neurodyn's times leave out, so the ratios use the loop alone: the peer's most favourable
number).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path

BRIAN2_PYTHON = Path(__file__).resolve().parent.parent / ".venv-brian2" / "bin" / "python"
MISSING = ("skipped: no .venv-brian2/ (Brian2 2.9.0 needs numpy<2, so it has its own environment; "
           "create it with `python benchmarks/brian2_env.py`)")
# Brian2's best configurations on a CPU: its runtime target and its standalone C++ with 1 and 2 threads
TARGETS = (("cython", 0), ("cpp_standalone", 1), ("cpp_standalone", 2))


def run_script(script: str, *args: str, timeout: float = 1800) -> dict:
    """Run ``script`` with ``.venv-brian2/bin/python`` (``argv[1:]`` = ``args``) in a temporary
    directory, without this process's ``PYTHONPATH``; returns the JSON object on its last line of
    output. Raises ``RuntimeError`` with the script's last error line if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([str(BRIAN2_PYTHON), "-c", script, *args], cwd=tmp, env=env, capture_output=True,
                             text=True, timeout=timeout)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(lines[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


# The harness: argv[1] is a JSON object {network, target, threads, seconds, rounds, dt, seed, ...};
# the network's build(cfg) returns (objects, {name: SpikeMonitor}); prints one JSON line.
_HARNESS = textwrap.dedent('''
    import json, resource, sys, time
    import numpy as np
    from brian2 import *  # noqa: F403

    cfg = json.loads(sys.argv[1])
    if cfg["target"] == "cython":
        prefs.codegen.target = "cython"
    else:
        set_device("cpp_standalone", directory="standalone", build_on_run=False)
        prefs.devices.cpp_standalone.openmp_threads = cfg["threads"]
    prefs.core.default_float_dtype = np.float32
    defaultclock.dt = cfg["dt"] * ms
    seed(cfg["seed"])
    t0 = time.perf_counter()
    objects, monitors = NETWORKS[cfg["network"]](cfg)
    net = Network(*objects, *monitors.values())
    out = {"build": time.perf_counter() - t0, "walls": [], "loops": [], "cpus": []}
    duration = cfg["seconds"] * second
    if cfg["target"] == "cython":
        net.store()
        for k in range(cfg["rounds"] + 1):  # the first run() fills the code cache
            net.restore()
            t0, c0 = time.perf_counter(), time.process_time()
            net.run(duration, report=None)
            out["walls"].append(time.perf_counter() - t0)
            out["cpus"].append(time.process_time() - c0)
            out["loops"].append(get_device()._last_run_time)
        out["compile"] = out["walls"][0] - min(out["walls"][1:])
        out["walls"], out["loops"], out["cpus"] = out["walls"][1:], out["loops"][1:], out["cpus"][1:]
    else:
        net.run(duration, report=None)
        t0 = time.perf_counter()
        device.build(directory="standalone", compile=True, run=False, with_output=False)
        out["compile"] = time.perf_counter() - t0
        for k in range(cfg["rounds"]):
            t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            device.run("standalone", with_output=False)
            out["walls"].append(time.perf_counter() - t0)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the binary's CPU time, its setup included
            out["cpus"].append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
            out["loops"].append(device._last_run_time)
    out["spikes"] = {name: int(m.num_spikes) for name, m in monitors.items()}
    out["dtype"] = str(np.dtype(prefs.core.default_float_dtype))
    print(json.dumps(out))
''')

# The networks, each a build(cfg) with cfg["n"] neurons (4/5 excitatory). Parameters as neurodyn's.
_NETWORKS = textwrap.dedent('''
    def coba(cfg):
        """COBA (Brette et al. 2007, benchmark 1) as neurodyn's coba_ei(n, i_ext=20.0): LIF cells,
        tau_m dv/dt = (v_rest - v) + g_e (e_e - v) + g_i (e_i - v) + i_ext, conductances in units of
        the leak, increments 0.6 / 6.7, p = 0.02, v ~ N(-65, 5) mV, g_e ~ N(4, 1.5), g_i ~ N(20, 12)
        clipped at 0. cfg["stdp"]: the E->E synapses learn by additive all-to-all pair STDP with
        hard bounds (Song, Miller & Abbott 2000), as neurodyn's PairSTDP: on a presynaptic spike
        the synapse transmits w, then w -= w_max a_minus apost; on a postsynaptic spike
        w += w_max a_plus apre; w clipped to [0, w_max]; traces jump by 1."""
        n = cfg["n"]
        ne = n * 4 // 5
        eqs = """
        dv/dt = ((v_rest - v) + g_e * (e_e - v) + g_i * (e_i - v) + i_ext) / tau_m : volt (unless refractory)
        dg_e/dt = -g_e / tau_e : 1
        dg_i/dt = -g_i / tau_i : 1
        """
        ns = dict(tau_m=20 * ms, v_rest=-60 * mV, v_reset=-60 * mV, v_th=-50 * mV, tau_e=5 * ms, tau_i=10 * ms,
                  e_e=0 * mV, e_i=-80 * mV, i_ext=20 * mV)
        cells = NeuronGroup(n, eqs, threshold="v >= v_th", reset="v = v_reset", refractory=5 * ms,
                            method="exponential_euler", namespace=ns)
        cells.v = "-65*mV + 5*mV*randn()"
        cells.g_e = "clip(4 + 1.5*randn(), 0, inf)"
        cells.g_i = "clip(20 + 12*randn(), 0, inf)"
        exc, inh = cells[:ne], cells[ne:]
        if cfg.get("stdp"):
            rule = dict(tau_plus=16.8 * ms, tau_minus=33.7 * ms, a_plus=0.005, a_minus=0.005, w_max=1.0)
            ee = Synapses(exc, exc, """
                w : 1
                dapre/dt = -apre / tau_plus : 1 (event-driven)
                dapost/dt = -apost / tau_minus : 1 (event-driven)
                """, on_pre="""
                g_e_post += w
                w = clip(w - w_max * a_minus * apost, 0, w_max)
                apre += 1
                """, on_post="""
                w = clip(w + w_max * a_plus * apre, 0, w_max)
                apost += 1
                """, namespace=rule)
            ee.connect(p=0.02)
            ee.w = 0.6
            ei = Synapses(exc, inh, on_pre="g_e += 0.6")
            ei.connect(p=0.02)
            from_exc = [ee, ei]
        else:
            from_exc = [Synapses(exc, cells, on_pre="g_e += 0.6")]
            from_exc[0].connect(p=0.02)
        from_inh = Synapses(inh, cells, on_pre="g_i += 6.7")
        from_inh.connect(p=0.02)
        return [cells, *from_exc, from_inh], {"exc": SpikeMonitor(exc), "inh": SpikeMonitor(inh)}


    def cobahh(cfg):
        """COBAHH (Brette et al. 2007, benchmark 3; Brian2's COBAHH example) as neurodyn's
        models/cobahh.toml: Traub-Miles cells of 20,000 um^2 with the parameters of its
        traub_miles preset, 6 / 67 nS increments, p = 0.02, exponential Euler, v ~ N(-65, 5) mV,
        g_e ~ N(40, 15) nS, g_i ~ N(200, 120) nS, m = n = 0, h = 1."""
        n_cells = cfg["n"]
        ne = n_cells * 4 // 5
        eqs = """
        dv/dt = (g_l*(e_l - v) + g_e*(e_e - v) + g_i*(e_i - v) - g_na*(m*m*m)*h*(v - e_na) - g_kd*(n*n*n*n)*(v - e_k))/c_m : volt
        dm/dt = alpha_m*(1 - m) - beta_m*m : 1
        dn/dt = alpha_n*(1 - n) - beta_n*n : 1
        dh/dt = alpha_h*(1 - h) - beta_h*h : 1
        dg_e/dt = -g_e/tau_e : siemens
        dg_i/dt = -g_i/tau_i : siemens
        alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV - v + v_t)/(4*mV))/ms : Hz
        beta_m = 0.28*(mV**-1)*5*mV/exprel((v - v_t - 40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV - v + v_t)/(18*mV))/ms : Hz
        beta_h = 4./(1 + exp((40*mV - v + v_t)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV - v + v_t)/(5*mV))/ms : Hz
        beta_n = 0.5*exp((10*mV - v + v_t)/(40*mV))/ms : Hz
        """
        ns = dict(c_m=200 * pF, g_l=10 * nS, e_l=-60 * mV, g_na=20 * usiemens, g_kd=6 * usiemens, e_na=50 * mV,
                  e_k=-90 * mV, v_t=-63 * mV, e_e=0 * mV, e_i=-80 * mV, tau_e=5 * ms, tau_i=10 * ms)
        cells = NeuronGroup(n_cells, eqs, threshold="v > -20*mV", refractory=3 * ms, method="exponential_euler",
                            namespace=ns)
        cells.v = "-65*mV + 5*mV*randn()"
        cells.g_e = "(40 + 15*randn())*nS"
        cells.g_i = "(200 + 120*randn())*nS"
        cells.h = 1
        exc, inh = cells[:ne], cells[ne:]
        from_exc = Synapses(exc, cells, on_pre="g_e += 6*nS")
        from_exc.connect(p=0.02)
        from_inh = Synapses(inh, cells, on_pre="g_i += 67*nS")
        from_inh.connect(p=0.02)
        return [cells, from_exc, from_inh], {"exc": SpikeMonitor(exc), "inh": SpikeMonitor(inh)}


    def izhikevich(cfg):
        """The Izhikevich (2003) network of benchmarks/bench_equations.py: 4/5 RS-to-CH excitatory
        and 1/5 FS-to-LTS inhibitory cells with the same parameters and the same all-to-all weights
        (numpy's default_rng(2003), drawn in the same order), Euler at dt = 1 ms, a spike adds its
        weight to the target's input current of the next step (the paper's listing), thalamic noise
        5 randn() (excitatory) and 2 randn() (inhibitory) drawn each step by Brian2 (neurodyn gets
        the same statistics as a drive array)."""
        rng = np.random.default_rng(2003)
        n = cfg["n"]
        ne, ni = n * 4 // 5, n - n * 4 // 5
        re, ri = rng.random(ne), rng.random(ni)
        a = np.r_[0.02 * np.ones(ne), 0.02 + 0.08 * ri]
        b = np.r_[0.2 * np.ones(ne), 0.25 - 0.05 * ri]
        c = np.r_[-65 + 15 * re**2, -65 * np.ones(ni)]
        d = np.r_[8 - 6 * re**2, 2 * np.ones(ni)]
        s = np.c_[0.5 * rng.random((n, ne)), -rng.random((n, ni))]
        eqs = """
        dv/dt = (0.04*v**2 + 5*v + 140 - u + i_noise + i_syn)/ms : 1
        du/dt = a*(b*v - u)/ms : 1
        i_noise : 1
        i_syn : 1
        a : 1 (constant)
        b : 1 (constant)
        c : 1 (constant)
        d : 1 (constant)
        sigma : 1 (constant)
        """
        cells = NeuronGroup(n, eqs, threshold="v >= 30", reset="v = c; u += d", method="euler")
        cells.a, cells.b, cells.c, cells.d = a, b, c, d
        cells.sigma = np.r_[5 * np.ones(ne), 2 * np.ones(ni)]
        cells.v = c
        cells.u = b * c
        cells.run_regularly("i_noise = sigma*randn()", when="start")
        cells.run_regularly("i_syn = 0", when="before_synapses")  # after this step's update
        post, pre = np.nonzero(np.ones((n, n), bool))
        syn = Synapses(cells, cells, "w : 1 (constant)", on_pre="i_syn_post += w")
        syn.connect(i=pre, j=post)
        syn.w = s[post, pre]
        return [cells, syn], {"exc": SpikeMonitor(cells[:ne]), "inh": SpikeMonitor(cells[ne:])}


    NETWORKS = {"coba": coba, "coba_stdp": lambda cfg: coba(dict(cfg, stdp=True)), "cobahh": cobahh,
                "izhikevich": izhikevich}
''')

SCRIPT = _NETWORKS + _HARNESS


def brian2(network: str, n: int, seconds: float, dt: float, target: str = "cython", threads: int = 0,
           rounds: int = 2, seed: int = 1) -> dict:
    """One Brian2 target on one network (``coba``, ``coba_stdp``, ``cobahh``, ``izhikevich``) of
    ``n`` neurons for ``seconds`` of model time at ``dt`` ms: ``{"build", "compile": s, "walls",
    "loops": [s per run], "spikes": {"exc", "inh"}, "dtype"}``."""
    cfg = dict(network=network, n=n, seconds=seconds, dt=dt, target=target, threads=threads, rounds=rounds,
               seed=seed)
    return run_script(SCRIPT, json.dumps(cfg))


def label(target: str, threads: int) -> str:
    return "cython" if target == "cython" else f"cpp_standalone, {threads} thread{'s' * (threads > 1)}"


def brian2_lines(network: str, n: int, seconds: float, dt: float, neurodyn_seconds: float, title: str,
                 targets=TARGETS, rounds: int = 2, populations=None, neurodyn_cpu: float | None = None):
    """The lines of a Brian2 comparison: for each of ``targets`` its time (s per simulated second:
    the loop alone, best of ``rounds``; its wall time and compile time), its rates (Hz per
    population, ``populations``: {name: size}, default 4/5 and 1/5 of ``n``) and the ratio of its
    loop to ``neurodyn_seconds`` (neurodyn's run time for the same ``seconds``); then the ratio to
    Brian2's best target. With ``neurodyn_cpu`` (neurodyn's process CPU time) also the ratio of
    CPU times (Brian2's: cython the run's process time, cpp_standalone the binary's, its setup
    included; on a loaded machine the wall times also count the waits for a core). One line
    saying why when the environment is missing or a target fails.
    Also returns (as the generator's value) the best Brian2 loop time, or None."""
    if not BRIAN2_PYTHON.exists():
        yield f"  brian2    {MISSING}"
        return None
    populations = populations or {"exc": n * 4 // 5, "inh": n - n * 4 // 5}
    best = best_cpu = None
    for target, threads in targets:
        name = label(target, threads)
        try:
            r = brian2(network, n, seconds, dt, target, threads, rounds)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            yield f"  brian2    {title}, {name}: failed: {e}"
            continue
        loop, wall = min(r["loops"]), min(r["walls"])
        rates = ", ".join(f"{k} {r['spikes'][k] / size / seconds:.1f} Hz" for k, size in populations.items())
        cpu = min(r["cpus"]) if r.get("cpus") else None
        cpu_text = "" if cpu is None or neurodyn_cpu is None else (
            f"; CPU {cpu / seconds:.3f} s per simulated second, brian2 / neurodyn CPU {cpu / neurodyn_cpu:.2f}x")
        yield (f"  brian2    {title}, {name} ({r['dtype']}): {loop / seconds:.3f} s per simulated second (loop "
               f"alone; wall {wall / seconds:.3f}), compile {max(r['compile'], 0.0):.1f} s; {rates}; "
               f"brian2 / neurodyn {loop / neurodyn_seconds:.2f}x{cpu_text}")
        best = loop if best is None else min(best, loop)
        if cpu is not None:
            best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    if best is not None:
        yield f"  ratio brian2 best / neurodyn, {title}: {best / neurodyn_seconds:.2f}x"
    if best_cpu is not None and neurodyn_cpu is not None:
        yield f"  ratio brian2 best / neurodyn by CPU time, {title}: {best_cpu / neurodyn_cpu:.2f}x"
    return best
