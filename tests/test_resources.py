"""Resource checks of ``neurodyn run`` before anything is allocated or computed: sizes beyond the
32-bit counters, memory and disk estimates against what the machine has (here patched to small
limits so the outcome does not depend on the test machine), ``--force``, and recording nothing."""

from pathlib import Path

import pytest

import neurodyn.resources as resources
from neurodyn.cli import main
from neurodyn.errors import SpecError
from neurodyn.io import load
from neurodyn.spec import load_spec
from neurodyn.spec.estimate import estimate_run

ROOT = Path(__file__).resolve().parents[1]
RING_STAR = str(ROOT / "models" / "chialvo_ring_star.toml")
LATTICE = str(ROOT / "models" / "kuramoto_lattice_kpz.toml")
GB = 10**9


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(resources, "available_memory", lambda: 2 * GB)
    monkeypatch.setattr(resources, "free_disk", lambda path: 5 * GB)
    return tmp_path


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("neurodyn: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


COBA = str(ROOT / "models" / "coba_ei.toml")
MACKEY_GLASS = str(ROOT / "models" / "esn_mackey_glass.toml")
MEMORY = str(ROOT / "models" / "deepresesn_memory.toml")
NARMA = str(ROOT / "models" / "esn_narma10.toml")
HUGE = [
    (RING_STAR, ["--set", "populations.neurons.n=1000000000000"],
     "populations.neurons.n: must be an integer in [1, 2147483647], got 1000000000000"),
    (LATTICE, ["--set", "populations.lattice.n=1000000000000"], "populations.lattice.n: must be an integer in [1,"),
    # --set stores a whole float where the spec holds an integer as that integer
    (RING_STAR, ["--set", "populations.neurons.n=1e20"], "must be an integer in [1, 2147483647], got 10000000000"),
    # 2e9 Chialvo neurons: 19,000 samples of 4e9 float64 values (8 B) = 608 TB
    (RING_STAR, ["--set", "populations.neurons.n=2e9"], "the output hdf5_outputs/chialvo_ring_star.h5 would take "
                                                        "about 608 TB (19,000 samples of the 4,000,000,000"),
    (RING_STAR, ["--set", "populations.neurons.n=2e9", "--set", "record.variables=[]"],
     "populations.neurons (n = 2,000,000,000, chialvo) needs about 128 GB of memory, more than the 2 GB available"),
    (RING_STAR, ["--set", 'couplings.star.graph={kind="ring", n=1000000000000}'],
     "couplings.star.graph: the graph has 1000000000000 nodes but the coupled populations have 4 neurons"),
    (RING_STAR, ["--set", "steps=1000000000000"], "steps: must be an integer in [1, 2147483647], got 1000000000000"),
    # 2e9 - 1000 recorded steps of 8 float64 values = 128 GB
    (RING_STAR, ["--steps", "2000000000"], "would take about 128 GB (1,999,999,000 samples of the 8 recorded state "
                                           "variables alone, before compression), more than the 5 GB free there"),
    # issue 19 (6): the delay ring buffer was allocated inside model.init (RESOURCE_EXHAUSTED traceback)
    (COBA, ["--set", "couplings.ee.delay=1000000000"],
     "the delay of the spiking projection exc -> exc (1,000,000,000 steps: a ring buffer of 1,000,000,001 x 3,200 "
     "spike flags) needs about 3.2 TB of memory, more than the 2 GB available"),
    # issue 19 (8): a task's dataset was generated with no size check (RESOURCE_EXHAUSTED traceback, or "out of
    # memory" naming no field); 1e15 transient samples x 8 B x 3 copies = 24 PB
    (MACKEY_GLASS, ["--set", "task.dataset.transient=1e15"], "task.dataset.transient: the task's data, mostly "
                                                             "1,000,000,000,005,001 samples of the series"),
    # tau / dt = 1.7e10 grid points of 8 B, twice
    (MACKEY_GLASS, ["--set", "task.dataset.dt=1e-9"], "task.dataset.dt: the task's data, mostly the delay buffer of "
                                                      "tau / dt = 17 / 1e-09 = 17,000,000,000 grid points, needs "
                                                      "about 280 GB of memory, more than the 2 GB available"),
    (MACKEY_GLASS, ["--set", "task.dataset.tau=1e12"], "task.dataset.tau: the task's data, mostly the delay buffer"),
    (MEMORY, ["--set", "task.dataset.max_delay=1000000000"],
     "task.dataset.max_delay: the task's data, mostly 5,300 samples x 1,000,000,000 delayed targets"),
    # 1e8 states of the 400 features, 8 B each, on the device and on the host: 640 GB
    (NARMA, ["--steps", "100000000", "--set", "record.variables=[]"],
     "steps: the task's data, mostly the harvest of 100,000,000 states x 400 features, needs about 643 GB"),
    (RING_STAR, ["--set", "record.every=10000000000000"],
     "record.every: 10,000,000,000,000 steps is more than the 19,000 steps recorded (steps - transient), so no "
     "sample would be written; lower it, or give record.variables = [] to record no variable"),
]


@pytest.mark.parametrize("spec,args,message", HUGE, ids=[" ".join(a)[:50] for _, a, _ in HUGE])
def test_huge_sizes_are_refused_in_one_line_before_anything_is_allocated(workdir, capsys, spec, args, message):
    assert main(["run", spec, *args]) == 2
    assert message in _error(capsys)
    assert not (workdir / "hdf5_outputs").exists()


@pytest.mark.parametrize("spec,n_exc,n_inh,count", [
    # fixed fan-out: 40,000 x 64 exc -> exc synapses (48 B each: 123 MB)
    (str(ROOT / "models" / "coba_ei_fixed_fanout.toml"), 40000, 10000, "2,560,000"),
    # p = 0.02 of 16,000^2 pairs
    (COBA, 16000, 4000, "5,120,000"),
])
def test_spiking_connectivity_is_checked_before_it_is_built(workdir, capsys, monkeypatch, spec, n_exc, n_inh, count):
    """Issue 19 (7): coba_ei_fixed_fanout with 40M + 10M neurons (and coba_ei at 200k) built its
    synapses past 4 GB with no message; here scaled down to a 100 MB limit, and any synapse
    drawn before the check fails the test."""
    import neurodyn.models.synapses as synapses

    def built(*args, **kwargs):
        raise AssertionError("synapses drawn before the memory check")

    monkeypatch.setattr(resources, "available_memory", lambda: 100 * 10**6)
    for rule in ("fixed_fanout", "fixed_probability", "from_coo"):
        monkeypatch.setattr(synapses.SynapseCSR, rule, classmethod(built))
    assert main(["run", spec, "--set", f"populations.exc.n={n_exc}", "--set", f"populations.inh.n={n_inh}",
                 "--set", "record.variables=[]"]) == 2
    assert (f"couplings.ee: the spiking projection exc -> exc (about {count} synapses) needs about"
            in _error(capsys))


def test_floats_where_integers_are_required_and_sizes_in_files(workdir, capsys, monkeypatch):
    text = Path(RING_STAR).read_text()
    for bad, message in (("n = 1e20", "populations.neurons.n: expected an integer, got float 1e+20"),
                         ("n = 2e9", "populations.neurons.n: expected an integer, got float 2000000000.0")):
        Path("s.toml").write_text(text.replace("n = 4 ", bad + " "))
        assert main(["run", "s.toml"]) == 2
        assert message in _error(capsys)
    # a ring graph as large as its population (4.4 GB in float32): its edges (200 B each, 2 per node) need 40 GB
    monkeypatch.setattr(resources, "available_memory", lambda: 20 * GB)
    Path("g.toml").write_text('steps = 10\n[populations.p]\nmodel = "kuramoto_graph"\nn = 100000000\n'
                              'graph = { kind = "ring", n = 100000000 }\n[record]\nvariables = []\n')
    assert main(["run", "g.toml"]) == 2
    assert "populations.p.graph (ring graph of 100,000,000 nodes) needs about 40 GB of memory" in _error(capsys)


def test_run_estimate_is_checked_and_force_skips_it(workdir, capsys, monkeypatch):
    spec = load_spec(RING_STAR, steps=3000)
    est = estimate_run(spec)
    # 2000 samples of 4 x and 4 y values in float64; the reports hold exactly that
    assert (est.records, est.values_per_record, est.output) == (2000, 8, 2000 * 8 * 8)
    assert main(["run", RING_STAR, "--steps", "3000", "--quiet"]) == 0
    data = load("hdf5_outputs/chialvo_ring_star.h5")
    assert sum(v["data"].nbytes for v in data["report"]["neurons"].values()) == est.output
    monkeypatch.setattr(resources, "available_memory", lambda: est.memory - 1)
    assert main(["run", RING_STAR, "--steps", "3000", "--out", "b.h5"]) == 2
    assert "the run (model, state and one chunk of records) needs about" in _error(capsys)
    monkeypatch.setattr(resources, "free_disk", lambda path: est.output - 1)
    assert main(["run", RING_STAR, "--steps", "3000", "--out", "b.h5", "--force", "--quiet"]) == 0
    assert load("b.h5")["meta"]["status"] == "complete"


def test_recording_nothing_needs_an_explicit_empty_list(workdir, capsys):
    assert main(["run", RING_STAR, "--steps", "2000", "--set", "record.variables=[]", "--quiet"]) == 0
    data = load("hdf5_outputs/chialvo_ring_star.h5")
    assert data["report"] == {} and len(data["spikes"]["neurons"]["timestamps"]) > 0
    assert main(["run", RING_STAR, "--steps", "2000", "--set", "record.variables=[1]"]) == 2
    assert "record.variables: expected names (strings), got int 1" in _error(capsys)


def test_simulate_refuses_more_steps_than_its_32_bit_counter():
    from neurodyn.models import Chialvo
    import neurodyn as nd

    with pytest.raises(SpecError, match=r"steps must be at most 2,147,483,647 \(the step counter is a 32-bit"):
        nd.simulate(Chialvo.create(2), 2**31)
