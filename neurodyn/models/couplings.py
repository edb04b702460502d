"""Couplings between populations of a :class:`neurodyn.core.Network`.

Every coupling is a :class:`~neurodyn.core.Projection`. The diffusive and simplicial couplings
act on one named variable of one or more populations and feed the port of the same name; the
nodes of the listed populations are concatenated in the order given (population sizes in
``sizes``), so a coupling can join heterogeneous populations (e.g. Chialvo and Rulkov neurons in
a chain). ``strength`` is a traced scalar (sweepable, differentiable); ``norm`` a per-node factor
fixed by the chosen normalisation (frozen: not trained). :class:`LinearProjection` is the
general weighted projection with a delay ring buffer and an optional synaptic trace.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity import CSRGraph, graph_from_spec, triangles as graph_triangles
from ..core.model import float_dtype
from ..core.projection import Projection
from ..errors import SpecError
from ..resources import check_memory
from ..ops import CompositeDiffusion, COOMatrix, Diffusion, SimplicialDiffusion, triadic_diffusion
from ..pytree import pytree_dataclass
from ..schema import PROJECTIONS, Field, check_choice, did_you_mean

SIMPLICIAL_NORMALIZATIONS = ("none", "triangles")
SIMPLICIAL_FORMS = ("linear", "quadratic")


def _gather(observables, populations, variable):
    """The coupled variable of each population, concatenated (from observables
    ``{population: {name: array}}``, or from population states with that field)."""
    parts = [observables[p][variable] if isinstance(observables[p], Mapping) else getattr(observables[p], variable)
             for p in populations]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)


def _scatter(values, populations, sizes, variable):
    out, start = {}, 0
    for p, n in zip(populations, sizes):
        out[(p, variable)] = values[start:start + n]
        start += n
    return out


def _check(populations, sizes, n_graph, what):
    if len(populations) != len(sizes) or not populations:
        raise SpecError(f"{what}: give one size per population, got {populations} and {sizes}")
    if sum(sizes) != n_graph:
        raise SpecError(f"{what}: the graph has {n_graph} nodes but populations {list(populations)} "
                        f"have {sum(sizes)} neurons together")


class _VariableCoupling(Projection):
    """A stateless coupling ``I = strength * norm * operator(x)`` on one variable of the
    concatenated nodes of ``populations``, fed back to the port named like the variable."""

    def sources(self) -> tuple:
        """The coupled populations (read)."""
        return self.populations

    def targets(self) -> tuple:
        """``(population, variable)`` for each coupled population: the input goes to the port
        named like the coupled variable."""
        return tuple((p, self.variable) for p in self.populations)

    def inputs(self, observables) -> dict:
        """Additive inputs ``{(population, variable): array}`` from the current observables
        ``{population: {name: array}}``."""
        x = _gather(observables, self.populations, self.variable)
        return _scatter(self.strength * self.norm * self.operator(x), self.populations, self.sizes, self.variable)


@pytree_dataclass(static=("populations", "sizes", "variable"), frozen=("norm",))
class DiffusiveCoupling(_VariableCoupling):
    """Pairwise diffusive coupling ``I_i = strength * norm_i * sum_j A_ij (x_j - x_i)``.

    ``normalize``: ``"none"`` (norm 1), ``"degree"`` (1/k_i, so a ring with R neighbours a side
    gives the ring-star form (sigma/2R) sum_j (x_j - x_i); nodes without links get 0),
    ``"mean_degree"`` (1/<k>), ``"size"`` (1/N, the all-to-all mean-field form).
    """

    populations: tuple
    sizes: tuple
    variable: str
    strength: jax.Array
    norm: jax.Array
    operator: Diffusion

    @classmethod
    def create(cls, populations, sizes, variable: str, graph: CSRGraph, strength: float,
               normalize: str = "none", dtype=None) -> "DiffusiveCoupling":
        """Build the coupling from a graph and a normalisation (see the class docstring)."""
        populations, sizes = tuple(populations), tuple(int(s) for s in sizes)
        _check(populations, sizes, graph.n, "diffusive coupling")
        dt = float_dtype(dtype)
        norm = graph.normalization(normalize)
        op = Diffusion.from_csr(graph.n, graph.indptr, graph.indices, graph.weights, graph.structure, dt)
        return cls(populations, sizes, variable, jnp.asarray(strength, dt), jnp.asarray(norm, dt), op)


@pytree_dataclass(static=("populations", "sizes", "variable"), frozen=("norm",))
class SimplicialCoupling(_VariableCoupling):
    """Higher-order (triadic, 2-simplex) diffusive coupling over a list of triangles.

    Linear form: ``I_i = strength * norm_i * sum_{(i,j,l) in Delta} (x_j + x_l - 2 x_i)``
    (Gambuzza et al., Nat. Commun. 12:1255, 2021; the higher-order ring-star of Nair et al.,
    arXiv:2405.06000). ``form="quadratic"`` uses ``x_j x_l - x_i^2`` instead.
    ``normalize``: ``"none"`` or ``"triangles"`` (divide by the number of triangles at node i).
    """

    populations: tuple
    sizes: tuple
    variable: str
    strength: jax.Array
    norm: jax.Array
    operator: CompositeDiffusion | SimplicialDiffusion

    @classmethod
    def create(cls, populations, sizes, variable: str, strength: float, *, graph: CSRGraph | None = None,
               triangles=None, normalize: str = "none", form: str = "linear", dtype=None) -> "SimplicialCoupling":
        """Build the coupling from a graph and a normalisation (see the class docstring)."""
        populations, sizes = tuple(populations), tuple(int(s) for s in sizes)
        n = sum(sizes)
        if triangles is None:
            if graph is None:
                raise SpecError("simplicial coupling: give a graph (its triangles are used) or a list of triangles")
            _check(populations, sizes, graph.n, "simplicial coupling")
            triangles = graph_triangles(graph)
        tris = np.asarray(triangles, dtype=np.int32).reshape(-1, 3)
        if tris.size and (tris.min() < 0 or tris.max() >= n):
            raise SpecError(f"simplicial coupling: triangle node index out of range [0, {n})")
        if any(len(set(t)) != 3 for t in tris.tolist()):
            raise SpecError("simplicial coupling: a triangle must have three distinct nodes")
        if form not in SIMPLICIAL_FORMS:
            raise SpecError(f"simplicial coupling: form must be one of {SIMPLICIAL_FORMS}, got {form!r}")
        count = np.bincount(tris.ravel(), minlength=n).astype(float)
        if normalize == "none":
            norm = np.ones(n)
        elif normalize == "triangles":
            norm = np.divide(1.0, count, out=np.zeros(n), where=count > 0)
        else:
            raise SpecError(f"simplicial coupling: normalize must be one of {SIMPLICIAL_NORMALIZATIONS}, got {normalize!r}")
        dt = float_dtype(dtype)
        # the linear form is a weighted pairwise diffusion: one precomputed structured operator
        op = (triadic_diffusion(n, tris, dt) if form == "linear"
              else SimplicialDiffusion(n, form, jnp.asarray(tris)))
        return cls(populations, sizes, variable, jnp.asarray(strength, dt), jnp.asarray(norm, dt), op)


@pytree_dataclass(static=("source", "observable", "target", "port", "n_post", "max_delay"), frozen=("delay",))
class LinearProjection(Projection):
    """Weighted projection with delays and an optional synaptic trace.

    ``I_i(n) = g_i(n)``, ``g_i(n) = decay * g_i(n-1) + gain * sum_j W_ij s_j(n - d_ij)`` where
    ``s`` is the source observable (spike events count as 0/1), ``d`` the delay in steps (one
    number, or one per synapse with a sparse ``W``) and ``decay = exp(-dt / tau)`` the per-step
    decay of an exponential synapse (0: no trace, the input is the delayed weighted sum). The
    input reaches the target at the step that reads it: with ``d = 0`` a source value of step
    ``n`` enters the target's update from step ``n`` to ``n + 1``; with delay ``d`` it enters
    ``d`` steps later. Delays are held in a ring buffer of ``max_delay + 1`` slots
    (:mod:`neurodyn.core.delay`).
    """

    source: str
    observable: str
    target: str
    port: str
    n_post: int
    max_delay: int
    weights: jax.Array | COOMatrix
    delay: jax.Array
    gain: jax.Array
    decay: jax.Array

    @classmethod
    def create(cls, source: str, target: str, weights, *, observable: str = "x", port: str = "x", delay=0,
               gain: float = 1.0, decay: float = 0.0, dtype=None) -> "LinearProjection":
        """``weights``: a dense ``(n_post, n_pre)`` array, a scipy sparse matrix or a
        :class:`~neurodyn.connectivity.CSRGraph` (rows receive); ``delay``: steps, an integer or
        (sparse weights only) one integer per stored synapse."""
        import scipy.sparse as sp

        d = float_dtype(dtype)
        delay_arr = np.asarray(delay)
        if not np.issubdtype(delay_arr.dtype, np.integer) or np.any(delay_arr < 0):
            raise SpecError(f"projection delay must be a non-negative integer number of steps, got {delay!r}")
        if not 0.0 <= float(decay) < 1.0:
            raise SpecError(f"projection decay must be in [0, 1), got {decay!r}")
        if isinstance(weights, CSRGraph):
            weights = weights.to_scipy()
        if sp.issparse(weights):
            m = sp.csr_matrix(weights)
            m.sort_indices()
            rows = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(m.indptr))
            w = COOMatrix(m.shape[0], jnp.asarray(rows), jnp.asarray(m.indices.astype(np.int32)),
                          jnp.asarray(m.data, d))
            n_post = m.shape[0]
            if delay_arr.ndim == 1 and delay_arr.shape[0] != m.nnz:
                raise SpecError(f"per-synapse delays: expected {m.nnz} values (one per synapse), got {delay_arr.shape[0]}")
        else:
            w = jnp.asarray(np.asarray(weights, float), d)
            if w.ndim != 2:
                raise SpecError(f"projection weights must be a matrix (n_post, n_pre), got shape {w.shape}")
            n_post = w.shape[0]
            if delay_arr.ndim != 0:
                raise SpecError("per-synapse delays need sparse weights (a scipy sparse matrix or a CSRGraph)")
        return cls(source, observable, target, port, int(n_post), int(delay_arr.max(initial=0)), w,
                   jnp.asarray(delay_arr, jnp.int32), jnp.asarray(gain, d), jnp.asarray(decay, d))

    def sources(self) -> tuple:
        """The source population."""
        return (self.source,)

    def targets(self) -> tuple:
        """The target population and port."""
        return ((self.target, self.port),)

    @property
    def _dtype(self):
        w = self.weights.weights if isinstance(self.weights, COOMatrix) else self.weights
        return w.dtype

    def init(self, key, observables) -> tuple:
        """An empty delay buffer and a zero trace."""
        from ..core.delay import delay_buffer

        s = jnp.asarray(observables[self.source][self.observable], self._dtype)
        return (delay_buffer(self.max_delay, s), jnp.zeros((self.n_post,), self._dtype))

    def step(self, state, observables, step):
        """Push the source value, read the delayed values, update the trace."""
        from ..core.delay import delay_push, delay_read, delay_read_edges

        buffer, trace = state
        s = jnp.asarray(observables[self.source][self.observable], self._dtype)
        buffer = delay_push(buffer, s, step)
        if isinstance(self.weights, COOMatrix):
            w = self.weights
            if self.delay.ndim == 1:
                vals = delay_read_edges(buffer, step, self.delay, w.cols)
                total = jax.ops.segment_sum(w.weights * vals, w.rows, num_segments=w.n, indices_are_sorted=True)
            else:
                total = w @ delay_read(buffer, step, self.delay)
        else:
            total = self.weights @ delay_read(buffer, step, self.delay)
        trace = self.decay * trace + self.gain * total
        return (buffer, trace), {(self.target, self.port): trace}


# ---------------------------------------------------------------- spec registry

def _coupled(population, populations) -> list:
    if population is None and populations is None:
        raise SpecError("missing field 'population' (or 'populations')")
    return [population] if population is not None else list(populations)


def _population(path, value, *, models=None, **context) -> str:
    return check_choice(path, value, tuple(models or ()))


def _population_list(path, value, *, models=None, population=None, **context) -> list:
    if population is not None:
        raise SpecError(f"{path.rpartition('.')[0]}: give either 'population' or 'populations', not both")
    if not isinstance(value, list) or not value:
        raise SpecError(f"{path}: expected a non-empty list of population names, got {value!r}")
    return [check_choice(path, p, tuple(models or ())) for p in value]


def _coupling_graph(path, value, *, models=None, population=None, populations=None, **context) -> CSRGraph:
    try:
        pops = _coupled(population, populations)
    except SpecError as e:
        raise SpecError(f"{path.rpartition('.')[0]}: {e}") from None
    n = sum(models[p].n for p in pops)
    return graph_from_spec(path, value, n, f"the coupled populations have {n} neurons")


def _triangles(path, value, **context) -> list:
    if not isinstance(value, list) or not all(
            isinstance(t, list) and len(t) == 3 and all(isinstance(i, int) and not isinstance(i, bool) for i in t)
            for t in value):
        raise SpecError(f"{path}: expected a list of [i, j, l] node-index triples, got {value!r}")
    return value


def _coupled_sizes(pops, variable, models) -> list:
    for p in pops:
        if variable not in models[p].VARIABLES:
            raise SpecError(f"population {p!r} has no variable {variable!r} "
                            f"(allowed: {', '.join(models[p].VARIABLES)}){did_you_mean(variable, models[p].VARIABLES)}")
    return [models[p].n for p in pops]


def _diffusive_from_spec(*, population, populations, variable, graph, strength, normalize, models, dtype):
    pops = _coupled(population, populations)
    return DiffusiveCoupling.create(pops, _coupled_sizes(pops, variable, models), variable, graph, strength,
                                    normalize, dtype)


def _simplicial_from_spec(*, population, populations, variable, graph, triangles, strength, normalize, form,
                          models, dtype):
    pops = _coupled(population, populations)
    return SimplicialCoupling.create(pops, _coupled_sizes(pops, variable, models), variable, strength, graph=graph,
                                     triangles=triangles, normalize=normalize, form=form, dtype=dtype)


def _projection_weights(path, value, *, models=None, source=None, target=None, **context):
    n_pre, n_post = models[source].n, models[target].n
    if isinstance(value, dict) and "dist" in value:
        return _random_weights(path, value, n_post, n_pre)
    if isinstance(value, dict):
        if n_pre != n_post:
            raise SpecError(f"{path}: a graph connects populations of one size, but {source!r} has {n_pre} "
                            f"neurons and {target!r} {n_post}; give the weights as a list of rows")
        return graph_from_spec(path, value, n_post, f"the populations have {n_post} neurons")
    if not isinstance(value, list) or len(value) != n_post or not all(
            isinstance(row, list) and len(row) == n_pre for row in value):
        raise SpecError(f"{path}: expected a graph table or {n_post} rows (one per neuron of {target!r}) "
                        f"of {n_pre} numbers (one per neuron of {source!r})")
    number = Field("weight")
    return [[number.validate(f"{path}[{i}][{j}]", w) for j, w in enumerate(row)] for i, row in enumerate(value)]


def _random_weights(path, table, n_post: int, n_pre: int) -> np.ndarray:
    """A dense ``(n_post, n_pre)`` matrix of independent draws: ``{ dist = ..., seed = ... }`` with
    a distribution of the initial-value registry (``uniform``: ``low``, ``high``; ``normal``)."""
    from ..schema import DISTRIBUTIONS

    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SpecError(f"{path}.seed: expected an integer in [0, 2^32), got {seed!r}")
    check_memory(f"{path} ({n_post:,} x {n_pre:,} dense weights)", 8 * n_post * n_pre)
    rest = {k: v for k, v in table.items() if k != "seed"}
    values = DISTRIBUTIONS.build(path, rest, context={"key": jax.random.PRNGKey(seed), "n": n_post * n_pre,
                                                      "dtype": jnp.result_type(float)})
    return np.asarray(values, float).reshape(n_post, n_pre)


def _linear_from_spec(*, source, observable, target, port, weights, delay, gain, decay, models, dtype):
    import jax

    src, tgt = models[source], models[target]
    names = jax.eval_shape(lambda: src.observe(src.init(jax.random.PRNGKey(0))))
    if observable not in names:
        raise SpecError(f"observable: population {source!r} has no observable {observable!r} "
                        f"(allowed: {', '.join(names)}){did_you_mean(observable, names)}")
    port = tgt.INPUT_PORT if port is None else port
    if port not in tgt.PORTS:
        raise SpecError(f"port: population {target!r} has no input port {port!r} (ports: {', '.join(tgt.PORTS)})"
                        f"{did_you_mean(port, tgt.PORTS)}")
    size = int(np.prod(names[observable].shape))
    check_memory(f"the delay buffer ({delay + 1:,} steps of {size:,} values)",
                 (delay + 1) * size * np.dtype(float_dtype(dtype)).itemsize)
    return LinearProjection.create(source, target, weights, observable=observable, port=port, delay=delay,
                                   gain=gain, decay=decay, dtype=dtype)


_POPULATION = Field("population", "custom", default=None, validator=_population, type_text="string",
                    doc="the coupled population", default_text="required unless populations is given")
_POPULATIONS = Field("populations", "custom", default=None, validator=_population_list, type_text="list of strings",
                     doc="several coupled populations; their nodes are concatenated in this order")
_VARIABLE = Field("variable", "string", default="x", doc="the coupled state variable; the input goes to the port "
                                                          "of that name")
_STRENGTH = Field("strength", default=0.0, doc="coupling strength (a traced, sweepable scalar)")
_CONTEXT = ("models", "dtype")

PROJECTIONS.register("diffusive", _diffusive_from_spec, (
    _POPULATION, _POPULATIONS, _VARIABLE,
    Field("graph", "custom", validator=_coupling_graph, type_text="table { kind = ... }",
          doc="who couples to whom (see graphs); its node count is the coupled populations' total"),
    _STRENGTH,
    Field("normalize", "choice", default="none", choices=("none", "degree", "mean_degree", "size"),
          doc="per-node factor: 1, 1/k_i, 1/<k> or 1/N"),
), summary="Pairwise diffusive coupling I_i = strength norm_i sum_j A_ij (x_j - x_i).",
    example={"population": "neurons", "graph": {"kind": "ring", "n": 4}, "strength": 0.01, "normalize": "degree"},
    context=_CONTEXT, cls=DiffusiveCoupling)
PROJECTIONS.register("simplicial", _simplicial_from_spec, (
    _POPULATION, _POPULATIONS, _VARIABLE,
    Field("graph", "custom", default=None, validator=_coupling_graph, type_text="table { kind = ... }",
          doc="a graph whose triangles (3-cliques) are the 2-simplices", default_text="none (give triangles)"),
    Field("triangles", "custom", default=None, validator=_triangles, type_text="list of [i, j, l] triples",
          doc="the 2-simplices, instead of a graph"),
    _STRENGTH,
    Field("normalize", "choice", default="none", choices=SIMPLICIAL_NORMALIZATIONS,
          doc="per-node factor: 1, or 1 / (number of triangles at node i)"),
    Field("form", "choice", default="linear", choices=SIMPLICIAL_FORMS,
          doc="x_j + x_l - 2 x_i (linear) or x_j x_l - x_i^2 (quadratic)"),
), summary="Higher-order (triadic, 2-simplex) diffusive coupling over a list of triangles.",
    citation="L. V. Gambuzza et al., Nat. Commun. 12:1255 (2021)",
    example={"population": "neurons", "graph": {"kind": "complete", "n": 4}, "strength": 0.005},
    context=_CONTEXT, cls=SimplicialCoupling)
PROJECTIONS.register("linear", _linear_from_spec, (
    Field("source", "custom", validator=_population, type_text="string", doc="the population read"),
    Field("observable", "string", default="x", doc="the source observable (spike events count as 0/1)"),
    Field("target", "custom", validator=_population, type_text="string", doc="the population written"),
    Field("port", "string", default=None, doc="the target's input port", default_text="the target's input port"),
    Field("weights", "custom", validator=_projection_weights,
          type_text="table { kind = ... }, table { dist = ... } or list of rows",
          doc="W: a graph (rows receive, equal population sizes), a dense random matrix { dist = \"uniform\", "
              "low, high, seed } (any initial-value distribution, one draw per entry) or a dense list of "
              "n_target rows of n_source numbers"),
    Field("delay", "integer", default=0, minimum=0, unit="steps", doc="transmission delay"),
    Field("gain", default=1.0, doc="gain of the weighted sum (a traced, sweepable scalar)"),
    Field("decay", default=0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True,
          doc="per-step decay exp(-dt / tau) of the synaptic trace (0: no trace)"),
), summary="Weighted projection with a delay ring buffer and an optional exponential synaptic trace: "
           "g(n) = decay g(n-1) + gain W s(n - delay).",
    example={"source": "neurons", "target": "neurons", "port": "y", "weights": {"kind": "ring", "n": 4},
             "delay": 2, "gain": 0.01, "decay": 0.5},
    context=_CONTEXT, cls=LinearProjection)
