"""Runs one sweep in a subprocess (the kill-and-resume test SIGKILLs it after a chunk)."""

import sys

import jax

jax.config.update("jax_enable_x64", True)

from neurodyn.sweep import cartesian, parse_axis, sweep  # noqa: E402

spec, out, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
grid = cartesian([parse_axis("couplings.star.strength=0:0.1:6"), parse_axis("populations.neurons.k=0.02:0.05:5")])
if delay:
    # slow the sweep down after each chunk so the parent can kill it between chunks
    import time

    from neurodyn.sweep import store

    original = store.SweepStore.write_chunk

    def slow_write(self, index, results):
        original(self, index, results)
        print(f"chunk {index} flushed", flush=True)
        time.sleep(delay)

    store.SweepStore.write_chunk = slow_write
sweep(spec, grid, ["max_lyapunov", "cross_correlation", "mean:neurons.x"], out=out, steps=2500, transient=500,
      chunk=4, progress=False)
print("finished", flush=True)
