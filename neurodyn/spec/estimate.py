"""What a run of a built spec will need before it computes: memory and output file size.

Memory: the model's arrays (parameters, connectivity), the state several times over (the
integrator's stages and the compiled step's temporaries), a second copy of the model's arrays
for the coupling temporaries, and one chunk of records twice (on the device, then on the host;
:func:`neurodyn.core.simulate.records_per_chunk`). Output: every recorded sample, uncompressed
(gzip usually makes it smaller); spikes cannot be known in advance and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from ..core.simulate import record_bytes, records_per_chunk
from ..resources import check_disk, check_memory, check_writable
from .build import RunSpec

STATE_COPIES = 6  # the state, four RK4 stages and the step's output


@dataclass(frozen=True)
class RunEstimate:
    """Bytes a run needs: ``memory`` at its peak, ``output`` for the recorded samples."""

    memory: int
    output: int
    records: int  # samples of every recorded variable
    values_per_record: int


def _nbytes(tree) -> int:
    return sum(int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize
               for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "dtype"))


def estimate_run(spec: RunSpec) -> RunEstimate:
    """The memory and output size of running ``spec`` (see the module docstring)."""
    observables = jax.eval_shape(spec.model.observe, spec.state)  # shapes only: nothing computed
    spiking = tuple(spec.spikes)
    n_records = (spec.steps - spec.transient) // spec.every
    per_record = record_bytes(observables, spec.record, spiking, spec.every)
    chunk = records_per_chunk(per_record, n_records, spec.every, spec.chunk) * per_record
    model, state = _nbytes(spec.model), _nbytes(spec.state)
    memory = 2 * model + STATE_COPIES * state + 2 * chunk
    itemsize = np.dtype(spec.precision).itemsize
    values = sum(int(np.prod(np.shape(observables[n]))) for n in spec.record)
    return RunEstimate(int(memory), int(n_records * values * itemsize), n_records, values)


def check_run(spec: RunSpec) -> RunEstimate:
    """Raise :class:`ResourceError` if ``spec`` needs more memory than the current limit, or its
    output more than the free disk where it is written (:func:`neurodyn.resources.limits`);
    returns the estimate."""
    est = estimate_run(spec)
    check_memory("the run (model, state and one chunk of records)", est.memory)
    check_disk(spec.output, est.output, f"{est.records:,} samples of {est.values_per_record:,} {spec.precision} "
                                        f"values, before compression; spikes come on top and cannot be known "
                                        f"in advance")
    return est


def check_outputs(spec: RunSpec) -> None:
    """Raise :class:`~neurodyn.errors.OutputError` (one line) before anything is computed if a
    file the run of ``spec`` writes cannot be created: its run file and, for a spec with a
    ``[task]``, the trained readout beside it (``<stem>.trained.h5``)."""
    check_writable(spec.output, "output file")
    if spec.task is not None:
        from ..io.trained import trained_path

        check_writable(trained_path(spec.output), "trained file")
