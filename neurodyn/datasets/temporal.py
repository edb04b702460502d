"""A spike-pattern classification task where only the ORDER of input events tells the classes
apart: the temporal-order task of S. Hochreiter and J. Schmidhuber, *Neural Computation* 9:1735
(1997), experiment 6, in spiking form.

The inputs are ``n_groups`` groups of ``channels_per_group`` channels. In every sample each group
fires one burst (each of its channels spikes with probability ``burst_probability`` in each of
``burst_steps`` consecutive steps); the bursts come one after another in an order that is the
class: ``n_groups!`` classes, one per permutation. Background spikes with probability
``noise_probability`` per channel and step are added everywhere.

Every channel has the same expected spike count in every class, so a classifier that sees only
the spike counts (T collapsed to one step, or a memoryless read-out of the summed input) is at
chance; a network must carry information across steps -- leak, reset, recurrence -- to solve it.
"""

from __future__ import annotations

import itertools

import numpy as np

from .digits import Split


def temporal_order(n_samples: int = 1200, *, n_groups: int = 3, channels_per_group: int = 8,
                   burst_steps: int = 3, gap_steps: int = 1, burst_probability: float = 0.6,
                   noise_probability: float = 0.02, test_fraction: float = 0.25, seed: int = 0) -> Split:
    """Spike rasters ``x`` of shape ``(n, T, n_groups * channels_per_group)`` (float 0/1) with
    ``T = n_groups * (burst_steps + gap_steps)``, and labels ``0 .. n_groups! - 1`` (the index of
    the burst order among the permutations in lexicographic order). Classes are balanced;
    the split is seeded like :func:`neurodyn.datasets.digits`.
    """
    if not isinstance(n_groups, int) or not 2 <= n_groups <= 5:
        raise ValueError(f"temporal_order: n_groups must be an integer in [2, 5], got {n_groups!r}")
    for name, value in (("channels_per_group", channels_per_group), ("burst_steps", burst_steps),
                        ("n_samples", n_samples)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"temporal_order: {name} must be a positive integer, got {value!r}")
    if not isinstance(gap_steps, int) or gap_steps < 0:
        raise ValueError(f"temporal_order: gap_steps must be an integer >= 0, got {gap_steps!r}")
    for name, value in (("burst_probability", burst_probability), ("noise_probability", noise_probability)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"temporal_order: {name} must lie in [0, 1], got {value!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"temporal_order: test_fraction must lie in (0, 1), got {test_fraction}")

    orders = np.array(list(itertools.permutations(range(n_groups))))
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % len(orders)
    rng.shuffle(labels)
    slot = burst_steps + gap_steps
    steps, channels = n_groups * slot, n_groups * channels_per_group
    # intensity[c, t, k]: spike probability of channel k at step t in class c
    intensity = np.full((len(orders), steps, channels), noise_probability)
    for c, order in enumerate(orders):
        for position, group in enumerate(order):
            t0, k0 = position * slot, group * channels_per_group
            intensity[c, t0:t0 + burst_steps, k0:k0 + channels_per_group] = np.maximum(
                burst_probability, noise_probability)
    x = (rng.random((n_samples, steps, channels)) < intensity[labels]).astype(np.float64)

    n_test = int(round(test_fraction * n_samples))
    return Split(x[n_test:], labels[n_test:], x[:n_test], labels[:n_test])
