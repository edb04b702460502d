"""The run layer: a built spec (or a trajectory) to a finished file.

One function, :func:`run_spec`, takes a :class:`~neurodyn.spec.RunSpec` to its HDF5 file: the
in-loop monitors and :func:`neurodyn.simulate` (:func:`simulate_spec`), the writer, the
streamed ``[diagnostics]``, the status of a run that completed, diverged or was stopped, and
for a ``[task]`` the trained readout (:mod:`.task`). ``neurodyn run``, ``RunSpec.run`` and
:func:`write_run` are thin callers of it. This package sits above ``spec``, ``io`` and
``diagnostics`` (docs/architecture.md, "Layers").
"""

from .checkpoint import checkpoint_path, spec_checkpoint
from .simulate import simulate_spec
from .task import run_task, trained_path
from .write import RunResult, run_spec, save, spec_writer, write_run

__all__ = ["run_spec", "RunResult", "simulate_spec", "spec_writer", "write_run", "save", "run_task", "trained_path",
           "spec_checkpoint", "checkpoint_path"]
