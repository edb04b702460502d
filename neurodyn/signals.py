"""Stopping a long computation cleanly on Ctrl-C (SIGINT) or SIGTERM.

A ``KeyboardInterrupt`` raised wherever the signal lands can hit the middle of an HDF5 write:
it is then swallowed ("Exception ignored in ...") or leaves the library in a broken state.
Instead, :func:`stop_requested` installs handlers that only set a flag; ``simulate`` and
``sweep`` check it between chunks (``should_stop=``) and raise
:class:`~neurodyn.errors.Interrupted` there, with every file closed cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by a signal handler; ``flag()`` (or ``flag.is_set()``) says whether to stop."""

    def __init__(self):
        self.signal: int | None = None

    def set(self, signum: int, frame=None) -> None:
        """The signal handler: remember the first signal, do nothing else."""
        if self.signal is None:
            self.signal = signum

    def is_set(self) -> bool:
        """Whether a stop was requested."""
        return self.signal is not None

    __call__ = is_set

    @property
    def name(self) -> str:
        """The signal's name (``"SIGINT"``), or ``""`` before one arrived."""
        return signal.Signals(self.signal).name if self.signal is not None else ""


@contextlib.contextmanager
def stop_requested(restore: bool = True) -> Iterator[StopFlag]:
    """Within the block, SIGINT and SIGTERM set the returned flag instead of raising; the previous
    handlers come back on exit unless ``restore`` is False (a command-line process that is about
    to end keeps them, so a signal during interpreter shutdown cannot kill a finished run). A
    signal the process ignores (a background job of a script) stays ignored, as Python leaves
    it; outside the main thread (where Python delivers no signals) the flag is never set. Nested
    in another such block, it returns that block's flag, so a signal that arrived between the
    two is not lost."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    outer = active_flag()
    if outer is not None:  # nested in another block: its flag (a signal may already have set it)
        yield outer
        return
    previous = {s: signal.signal(s, flag.set) for s in SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield flag
    finally:
        if restore:
            for s, handler in previous.items():
                signal.signal(s, handler)


def active_flag() -> StopFlag | None:
    """The flag of the :func:`stop_requested` block in force (the handler of SIGINT or SIGTERM),
    or ``None`` outside one."""
    for s in SIGNALS:
        flag = getattr(signal.getsignal(s), "__self__", None)
        if isinstance(flag, StopFlag):
            return flag
    return None


def stop_point(stage: str) -> None:
    """Raise :class:`~neurodyn.errors.Interrupted` if a signal set the flag of the
    :func:`stop_requested` block in force: for work that writes nothing (building a spec), so a
    signal ends it at the next such point instead of when it is done. A no-op outside a block."""
    from .errors import Interrupted

    flag = active_flag()
    if flag is not None and flag.is_set():
        raise Interrupted(f"{flag.name} {stage}; nothing was written")


def ignore_until_exit() -> None:
    """For a process whose command has finished (its status decided, its files closed): SIGINT
    and SIGTERM are ignored from here to the end. Python's shutdown puts its own handlers back to
    the operating system's defaults, so a second Ctrl-C that lands while JAX and HDF5 shut down
    would otherwise kill the process by the signal instead of letting it exit with its status
    (130 for an interrupted run); an ignored signal stays ignored through the shutdown."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def _exit_before_start(signum, frame) -> None:
    os.write(2, f"neurodyn: interrupted ({signal.Signals(signum).name}) before it started; nothing was "
                f"written\n".encode())
    os._exit(130)


def interrupt_before_start() -> None:
    """For the ``neurodyn`` console script, from the import of the package until
    :func:`neurodyn.cli.console` runs: SIGINT or SIGTERM ends the process at once with one line
    and status 130 (nothing has been written yet), instead of a ``KeyboardInterrupt`` traceback
    from whatever module was being imported. :func:`started` gives the signals back."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in SIGNALS:
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, _exit_before_start)


def started() -> None:
    """Undo :func:`interrupt_before_start`: SIGINT raises ``KeyboardInterrupt`` again, SIGTERM
    ends the process (Python's defaults), for the command's own handling."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(s) is _exit_before_start:
            signal.signal(s, default)
