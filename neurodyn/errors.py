"""The errors neurodyn raises on purpose.

Each message names what is wrong, the value that was given and what would be accepted, so the
command line can print it as one line (exit status 2) instead of a traceback.
"""


class NeurodynError(Exception):
    """Base class of every error neurodyn raises deliberately."""


class SpecError(NeurodynError, ValueError):
    """A model spec (TOML file, ``--set`` override or constructor argument) is invalid."""


class DivergenceError(NeurodynError, FloatingPointError):
    """A simulation produced NaN or Inf.

    Attributes:
        step: the first step whose state is not finite.
        variable: the observable (``"population.variable"``) that went non-finite first.
        trajectory: everything recorded before ``step`` (a :class:`neurodyn.core.Trajectory`).
    """

    def __init__(self, message: str, *, step: int, variable: str, trajectory=None):
        super().__init__(message)
        self.step = step
        self.variable = variable
        self.trajectory = trajectory


class OutputError(NeurodynError, OSError):
    """An output file cannot be written or read."""


class ResourceError(NeurodynError):
    """A run would need more memory or disk than the machine has (estimated before computing)."""


class Interrupted(NeurodynError):
    """A run or sweep stopped early on request (SIGINT / SIGTERM), between two chunks.

    Attributes:
        steps: the steps completed before it stopped (runs).
        trajectory: everything recorded until then (a :class:`neurodyn.core.Trajectory`; runs).
    """

    def __init__(self, message: str, *, steps: int | None = None, trajectory=None):
        super().__init__(message)
        self.steps = steps
        self.trajectory = trajectory


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum`` (bools refused), else a SpecError."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
