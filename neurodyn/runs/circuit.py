"""A SONATA circuit config as a run: ``neurodyn run config.json``, or a TOML spec naming it
(``circuit = "config.json"``; docs/interchange.md).

:func:`circuit_spec` reads the circuit (:func:`neurodyn.io.sonata_circuit.read_circuit`) into a
:class:`CircuitRunSpec`, which :func:`neurodyn.runs.run_spec` runs like any spec (the spikes of
every population recorded, no state variable); :meth:`CircuitRunSpec.write_sonata` then writes
the spikes with SONATA's population names and node ids where the simulation config's ``output``
says (``output_dir/spikes_file``), else beside the run file (``<stem>_spikes.h5``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax

from ..core.simulate import MAX_STEPS
from ..errors import SpecError
from ..io.sonata_circuit import Circuit, read_circuit, write_circuit_spikes
from ..precision import x64_enabled
from ..spec.build import RunSpec
from ..spec.record import read_record
from ..spec.toml_io import dump_spec


@dataclass(kw_only=True)
class CircuitRunSpec(RunSpec):
    """A :class:`~neurodyn.spec.RunSpec` built from a SONATA circuit, with the circuit read."""

    circuit: Circuit

    def write_sonata(self, run_file) -> Path:
        """The run's spikes as a SONATA spikes file (SONATA populations and node ids)."""
        out = self.circuit.spikes_file or Path(run_file).with_name(f"{Path(run_file).stem}_spikes.h5")
        return write_circuit_spikes(run_file, self.circuit, out)


SPEC_FIELDS = ("circuit", "name", "steps", "dt", "seed", "output", "precision")
"""The fields of a TOML spec that names a circuit config (``circuit = "config.json"``)."""


def circuit_from_spec(data: dict, base: Path) -> CircuitRunSpec:
    """The run of a spec that names a SONATA config: ``circuit`` (a path, relative to ``base``,
    the spec's folder) and optionally ``name``, ``steps``, ``dt`` (ms; default the config's),
    ``seed``, ``output``, ``precision``; any other field is refused in one line. A circuit run
    stores such a spec, so its run file runs again with ``neurodyn run RUN.h5``."""
    from ..schema import did_you_mean

    for key in data:
        if key not in SPEC_FIELDS:
            raise SpecError(f"{key}: not a field of a spec naming a SONATA circuit (fields: {', '.join(SPEC_FIELDS)})"
                            f"{did_you_mean(key, SPEC_FIELDS)}")
    config = data["circuit"]
    if not isinstance(config, str) or not config:
        raise SpecError(f"circuit: expected the path of a SONATA config (JSON), got {config!r}")
    for key, kind in (("steps", int), ("seed", int), ("dt", (int, float))):
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], kind)):
            raise SpecError(f"{key}: expected a number, got {data[key]!r}")
    return circuit_spec(base / config, steps=data.get("steps"), seed=data.get("seed"), output=data.get("output"),
                        name=data.get("name"), dt=data.get("dt"))


def circuit_spec(path, *, steps: int | None = None, seed: int | None = None, output=None, name: str | None = None,
                 dt: float | None = None) -> CircuitRunSpec:
    """The run of the SONATA circuit config ``path``: ``steps`` default to the simulation config's
    ``(tstop - tstart) / dt`` (one of them is needed), ``dt`` (ms) to its ``run.dt``, the run file
    to ``<output_dir>/<name>.h5`` (``output_dir`` of the simulation config, else
    ``hdf5_outputs``), ``name`` to the config's stem. Precision float64 when JAX's 64-bit mode is
    on, else float32. The spec stored with the run names the config by its absolute path."""
    path = Path(path)
    precision = "float64" if x64_enabled() else "float32"
    circuit = read_circuit(path, dt=dt, dtype=precision)
    steps = circuit.steps if steps is None else steps
    if steps is None:
        raise SpecError(f"{path}: no run.tstop in the simulation config; give --steps")
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise SpecError(f"steps: expected an integer in [1, {MAX_STEPS}], got {steps!r} (run.tstop / run.dt of {path})")
    name = name or path.stem
    if output is None:
        base = circuit.spikes_file.parent if circuit.spikes_file is not None else Path("hdf5_outputs")
        output = base / f"{name}.h5"
    model = circuit.network
    observables = jax.eval_shape(model.observe, circuit.state)
    rec = read_record({"variables": []}, observables=tuple(observables), models=model.populations, steps=steps)
    data = {"circuit": str(path.resolve()), "name": name, "steps": steps, "dt": circuit.dt, "seed": seed or 0,
            "precision": precision}
    text = "# a run of a SONATA circuit config (docs/interchange.md)\n" + dump_spec(data)
    units = {f"{p}.{v}": u for p, m in model.populations.items() for v, u in m.units.items()}
    return CircuitRunSpec(name=name, steps=steps, dt=circuit.dt, seed=0 if seed is None else seed,
                          precision=precision, model=model, state=circuit.state, record=rec["variables"],
                          every=rec["every"], transient=rec["transient"], spikes=rec["spikes"], output=Path(output),
                          chunk=None, text=text, data=data, units=units, time_unit="ms", circuit=circuit)
