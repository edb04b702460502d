"""Size estimates of the task datasets (issue 19, defect 8): every registered dataset has one, it
bounds the arrays actually generated, and a limit refuses it naming the field that makes it large."""

import numpy as np
import pytest

from neurodyn.datasets import mackey_glass, memory_task
from neurodyn.datasets.sizes import COPIES, FLOAT, check_task_data, dataset_terms
from neurodyn.errors import ResourceError
from neurodyn.resources import limits
from neurodyn.spec.task import DATASETS


@pytest.mark.parametrize("kind", list(DATASETS))
def test_every_registered_dataset_has_a_size_estimate(kind):
    entry, values = DATASETS.read("task.dataset", {"kind": kind, **DATASETS[kind].example})
    terms = dataset_terms(kind, values, 100)
    assert terms and all(t.nbytes > 0 for t in terms)


def test_mackey_glass_estimate_counts_samples_buffer_and_grid_and_bounds_the_arrays():
    values = {"tau": 17.0, "dt": 0.1, "sample_every": 1.0, "transient": 500.0, "horizon": 1}
    terms = {t.field: t.nbytes for t in dataset_terms("mackey_glass", values, 1000)}
    # 170 grid points of delay (+1) twice, 10 grid steps per sample, 500 + 1000 + 1 samples three times (named
    # after the 1,000 steps, the largest of the three counts)
    assert terms == {"tau": 2 * FLOAT * 171, "sample_every": FLOAT * 10, "steps": COPIES * FLOAT * 1501}
    x, y = mackey_glass(1000, **values)
    assert x.nbytes + y.nbytes <= sum(terms.values())


def test_a_field_the_spec_cannot_set_is_never_named():
    # lorenz() discards 1,000 samples, a number no spec field sets: the steps are named instead
    (term,) = dataset_terms("lorenz", {"dt": 0.01, "horizon": 1, "seed": None}, 100)
    assert term.field == "steps" and term.nbytes == COPIES * FLOAT * 3 * 1101


def test_memory_task_estimate_bounds_its_targets():
    (term,) = dataset_terms("memory_task", {"max_delay": 40, "input_range": 0.8, "seed": 0}, 500)
    u, targets = memory_task(500, 40)
    assert term.field == "max_delay" and u.nbytes + targets.nbytes <= term.nbytes == COPIES * FLOAT * 500 * 40


def test_check_names_the_field_that_makes_the_data_large_and_is_off_outside_limits():
    values = {"tau": 17.0, "dt": 1e-9, "sample_every": 1.0, "transient": 500.0, "horizon": 1}
    assert check_task_data("mackey_glass", values, 100) > 2.7e11  # no limit: nothing refused
    with limits(memory=10**9), pytest.raises(ResourceError, match=r"^task\.dataset\.dt: .* delay buffer .* "
                                                                  r"more than the 1 GB available"):
        check_task_data("mackey_glass", values, 100)
    values.update(dt=0.1, tau=1e12)
    with limits(memory=10**9), pytest.raises(ResourceError, match=r"^task\.dataset\.tau: "):
        check_task_data("mackey_glass", values, 100)
    # the harvest of 1e6 steps x 1,000 features (16 GB) dominates a small NARMA series
    with limits(memory=10**9), pytest.raises(ResourceError, match=r"^steps: .* harvest of 1,000,000 states x 1,000"):
        check_task_data("narma", {"order": 10, "seed": None}, 10**6, 1000)
    assert np.isclose(check_task_data("narma", {"order": 10, "seed": None}, 10**6, 1000), 16e9 + 32e6)
