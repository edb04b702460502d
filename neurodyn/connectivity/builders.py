"""Graph builders. Every builder returns a :class:`CSRGraph` with unit weights; random ones
take an integer ``seed`` and are reproducible from it alone (NumPy ``default_rng``). Each is
registered by name in :data:`neurodyn.schema.GRAPHS` (with ``"edges"``, a graph given edge by
edge), so a spec's ``graph = { kind = ... }`` table builds it."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError, check_int
from ..resources import check_memory
from ..schema import GRAPHS, Field
from .graph import CSRGraph, from_edges


def _probability(name: str, value) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise SpecError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _ring_edges(nodes: np.ndarray, k: int) -> list[tuple[int, int]]:
    m = len(nodes)
    return [(nodes[i], nodes[(i + d) % m]) for i in range(m) for d in range(1, k + 1)]


def ring(n: int, k: int = 1) -> CSRGraph:
    """Ring of ``n`` nodes, each linked to its ``k`` nearest neighbours on either side (degree 2k)."""
    n, k = check_int("ring: n", n), check_int("ring: k", k)
    if n <= 2 * k:
        raise SpecError(f"ring: n must exceed 2k (got n={n}, k={k})")
    offsets = tuple(d for j in range(1, k + 1) for d in (j, -j))
    return from_edges(n, _ring_edges(np.arange(n), k), symmetric=True,
                      structure=("circulant", 0, n, offsets))


def star(n: int) -> CSRGraph:
    """Star of ``n`` nodes: hub 0 linked to every other node."""
    n = check_int("star: n", n)
    if n < 2:
        raise SpecError(f"star: n must be at least 2, got {n}")
    return from_edges(n, [(0, j) for j in range(1, n)], symmetric=True, structure=("star", 0))


def ring_star(ring: int, k: int = 1, part: str = "all") -> CSRGraph:
    """Ring-star network: hub node 0 plus a ring of ``ring`` nodes (1..ring, k neighbours a side).

    ``part`` selects the edges: ``"all"``, only the hub-periphery ``"star"`` edges, or only the
    ``"ring"`` edges — so star and ring couplings can carry different strengths (Nair et al.
    2024, arXiv:2405.06000). With ``ring=3, k=1`` the graph is the complete graph K4.
    """
    m, k = check_int("ring_star: ring", ring), check_int("ring_star: k", k)
    if m <= 2 * k:
        raise SpecError(f"ring_star: ring must exceed 2k (got ring={m}, k={k})")
    n = m + 1
    ring_e = _ring_edges(np.arange(1, n), k)
    star_e = [(0, j) for j in range(1, n)]
    offsets = tuple(d for j in range(1, k + 1) for d in (j, -j))
    if part == "ring":
        return from_edges(n, ring_e, symmetric=True, structure=("circulant", 1, m, offsets))
    if part == "star":
        return from_edges(n, star_e, symmetric=True, structure=("star", 0))
    if part == "all":
        return from_edges(n, ring_e + star_e, symmetric=True)
    raise SpecError(f"ring_star: part must be 'all', 'star' or 'ring', got {part!r}")


def chain(n: int) -> CSRGraph:
    """Open chain (path) 0 - 1 - ... - n-1 with bidirectional links."""
    n = check_int("chain: n", n)
    return from_edges(n, [(i, i + 1) for i in range(n - 1)], symmetric=True)


def lattice_1d(n: int, k: int = 1, periodic: bool = True) -> CSRGraph:
    """1-D lattice with ``k`` neighbours a side; periodic boundaries make it a :func:`ring`."""
    if periodic:
        return ring(n, k)
    n, k = check_int("lattice_1d: n", n), check_int("lattice_1d: k", k)
    return from_edges(n, [(i, i + d) for i in range(n) for d in range(1, k + 1) if i + d < n],
                      symmetric=True)


def lattice_2d(rows: int, cols: int, periodic: bool = True) -> CSRGraph:
    """2-D square lattice (von Neumann neighbourhood); node ``(r, c)`` has index ``r*cols + c``."""
    rows, cols = check_int("lattice_2d: rows", rows), check_int("lattice_2d: cols", cols)
    edges = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            for dr, dc in ((0, 1), (1, 0)):
                rr, cc = r + dr, c + dc
                if periodic:
                    rr, cc = rr % rows, cc % cols
                elif rr >= rows or cc >= cols:
                    continue
                j = rr * cols + cc
                if j != i:
                    edges.append((i, j))
    return from_edges(rows * cols, edges, symmetric=True)


def complete(n: int) -> CSRGraph:
    """Complete graph K_n (every pair linked)."""
    n = check_int("complete: n", n)
    return from_edges(n, [(i, j) for i in range(n) for j in range(i + 1, n)], symmetric=True)


def erdos_renyi(n: int, p: float, seed: int = 0, directed: bool = False) -> CSRGraph:
    """Erdős–Rényi G(n, p): every (ordered if ``directed``) pair linked with probability ``p``."""
    n, p = check_int("erdos_renyi: n", n), _probability("erdos_renyi: p", p)
    rng = np.random.default_rng(seed)
    mask = rng.random((n, n)) < p
    np.fill_diagonal(mask, False)
    if not directed:
        mask = np.triu(mask, 1)
    i, j = np.nonzero(mask)
    return from_edges(n, np.c_[i, j], symmetric=not directed)


def fixed_indegree(n: int, k: int, seed: int = 0) -> CSRGraph:
    """Directed random graph where every node receives from exactly ``k`` distinct others."""
    n, k = check_int("fixed_indegree: n", n), check_int("fixed_indegree: k", k)
    if k >= n:
        raise SpecError(f"fixed_indegree: k must be < n (got k={k}, n={n})")
    rng = np.random.default_rng(seed)
    edges = []
    for i in range(n):
        others = np.delete(np.arange(n), i)
        edges.extend((i, j) for j in rng.choice(others, size=k, replace=False))
    return from_edges(n, edges)


def watts_strogatz(n: int, k: int, p: float, seed: int = 0) -> CSRGraph:
    """Watts–Strogatz small world: a ring with ``k`` neighbours a side whose edges ``(i, i+d)``
    are each rewired to a uniformly chosen new endpoint with probability ``p`` (no self-loops,
    no duplicates), keeping the number of edges ``n k`` (Watts & Strogatz, Nature 393:440, 1998)."""
    n, k, p = check_int("watts_strogatz: n", n), check_int("watts_strogatz: k", k), _probability("watts_strogatz: p", p)
    if n <= 2 * k:
        raise SpecError(f"watts_strogatz: n must exceed 2k (got n={n}, k={k})")
    rng = np.random.default_rng(seed)
    edges = {(i, (i + d) % n) for d in range(1, k + 1) for i in range(n)}
    present = {frozenset(e) for e in edges}
    for d in range(1, k + 1):
        for i in range(n):
            j = (i + d) % n
            if rng.random() >= p or frozenset((i, j)) not in present:
                continue
            choices = [m for m in range(n) if m != i and frozenset((i, m)) not in present]
            if not choices:
                continue
            new = int(rng.choice(choices))
            present.remove(frozenset((i, j)))
            present.add(frozenset((i, new)))
    return from_edges(n, [tuple(sorted(e)) for e in present], symmetric=True)


def triangles(graph: CSRGraph) -> np.ndarray:
    """All triangles (3-cliques) of the undirected version of ``graph`` as rows ``i < j < l``."""
    a = graph.to_scipy()
    a = ((a + a.T) != 0).tocsr()
    neigh = [set(a.indices[a.indptr[i]:a.indptr[i + 1]]) for i in range(graph.n)]
    out = [(i, j, l) for i in range(graph.n) for j in neigh[i] if j > i
           for l in neigh[i] & neigh[j] if l > j]
    return np.asarray(sorted(out), dtype=np.int32).reshape(-1, 3)


def triadic_laplacian(tris, n: int) -> np.ndarray:
    """Linear 2-simplex Laplacian ``L2 = 2 diag(T_i) - T`` with ``T_ij`` the number of triangles
    holding edge (i, j) and ``T_i`` those holding node i, so that
    ``sum_{(i,j,l)} (x_j + x_l - 2 x_i) = -(L2 x)_i`` (Gambuzza et al., Nat. Commun. 12:1255, 2021)."""
    t = np.zeros((n, n))
    ti = np.zeros(n)
    for tri in np.asarray(tris).reshape(-1, 3):
        for a in tri:
            ti[a] += 1
            for b in tri:
                if a != b:
                    t[a, b] += 1
    return 2 * np.diag(ti) - t


# ---------------------------------------------------------------- spec registry

def _edge_list(path, value, **context) -> list:
    if not isinstance(value, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in e)
            for e in value):
        raise SpecError(f"{path}: expected a list of [receiver, sender] node-index pairs, got {value!r}")
    return value


def _edge_weights(path, value, **context) -> list:
    edges = context.get("edges") or []
    if not isinstance(value, list) or len(value) != len(edges):
        raise SpecError(f"{path}: expected {len(edges)} numbers, one per edge, got {value!r}")
    number = Field("weight")
    return [number.validate(f"{path}[{i}]", w) for i, w in enumerate(value)]


def _edges_from_spec(*, n, edges, weights, nodes) -> CSRGraph:
    size = n if n is not None else nodes
    if size is None:
        raise SpecError("give the node count n")
    return from_edges(size, edges, weights)


def _nodes(doc="number of nodes") -> Field:
    return Field("n", "integer", minimum=1, doc=doc)


def _neighbours(default=1) -> Field:
    return Field("k", "integer", default=default, minimum=1, doc="neighbours on each side")


def _seed() -> Field:
    return Field("seed", "integer", default=0, minimum=0, doc="seed of NumPy's default_rng")


def _probability_field(name, doc) -> Field:
    return Field(name, minimum=0.0, maximum=1.0, doc=doc)


GRAPHS.register("ring", ring, (_nodes(), _neighbours()), summary="Ring: every node linked to its k nearest "
                "neighbours on either side (degree 2k).", example={"n": 6, "k": 1})
GRAPHS.register("star", star, (_nodes(),), summary="Star: hub 0 linked to every other node.", example={"n": 5})
GRAPHS.register("ring_star", ring_star, (
    Field("ring", "integer", minimum=1, doc="number of ring nodes (the graph has ring + 1 nodes)"),
    _neighbours(),
    Field("part", "choice", default="all", choices=("all", "star", "ring"),
          doc="which edges: all, only hub-ring (star) or only ring-ring"),
), summary="Ring-star: hub 0 plus a ring of nodes 1..ring; ring = 3 is the complete graph K4.",
    citation="A. S. Nair, I. Ghosh, H. O. Fatoyinbo, S. S. Muni, arXiv:2405.06000 (2024)",
    example={"ring": 3, "part": "star"})
GRAPHS.register("chain", chain, (_nodes(),), summary="Open chain 0 - 1 - ... - n-1, links both ways.",
                example={"n": 4})
GRAPHS.register("lattice_1d", lattice_1d, (
    _nodes(), _neighbours(),
    Field("periodic", "bool", default=True, doc="periodic boundaries (then the lattice is a ring)"),
), summary="1-D lattice with k neighbours a side.", example={"n": 8, "periodic": False})
GRAPHS.register("lattice_2d", lattice_2d, (
    Field("rows", "integer", minimum=1, doc="number of rows"),
    Field("cols", "integer", minimum=1, doc="number of columns"),
    Field("periodic", "bool", default=True, doc="periodic boundaries (a torus)"),
), summary="2-D square lattice, von Neumann neighbourhood; node (r, c) has index r * cols + c.",
    example={"rows": 3, "cols": 4})
GRAPHS.register("complete", complete, (_nodes(),), summary="Complete graph K_n.", example={"n": 4})
GRAPHS.register("erdos_renyi", erdos_renyi, (
    _nodes(), _probability_field("p", "link probability of every pair"), _seed(),
    Field("directed", "bool", default=False, doc="link ordered pairs independently"),
), summary="Erdős–Rényi random graph G(n, p).", citation="P. Erdős, A. Rényi, Publ. Math. Debrecen 6:290 (1959)",
    example={"n": 10, "p": 0.3, "seed": 1})
GRAPHS.register("fixed_indegree", fixed_indegree, (
    _nodes(), Field("k", "integer", minimum=1, doc="in-degree of every node (< n)"), _seed(),
), summary="Directed random graph: every node receives from exactly k distinct others.",
    example={"n": 10, "k": 3, "seed": 1})
GRAPHS.register("watts_strogatz", watts_strogatz, (
    _nodes(), Field("k", "integer", minimum=1, doc="neighbours on each side of the initial ring"),
    _probability_field("p", "rewiring probability of every edge"), _seed(),
), summary="Watts–Strogatz small world: a ring whose edges are rewired with probability p.",
    citation="D. J. Watts, S. H. Strogatz, Nature 393:440 (1998)", example={"n": 10, "k": 2, "p": 0.2, "seed": 1})
def _rule_graph(n, pre, post) -> CSRGraph:
    return from_edges(n, np.c_[post, pre].astype(np.int64))


def fixed_total(n: int, total: int, seed: int = 0, autapses: bool = False, multapses: bool = False) -> CSRGraph:
    """Directed random graph with exactly ``total`` edges on uniformly drawn ordered pairs
    (:func:`connect_fixed_total`)."""
    return _rule_graph(n, *connect_fixed_total(n, n, total, seed=seed, autapses=autapses, multapses=multapses))


def distance_graph(n: int, profile: str = "gaussian", p0: float = 1.0, scale: float = 0.1, space: str = "sheet",
                   periodic: bool = True, extent: float = 1.0, seed: int = 0, autapses: bool = False) -> CSRGraph:
    """Directed random graph whose ordered pairs are linked with a probability falling with the
    distance of the nodes on a sheet or ring (:func:`connect_distance`)."""
    return _rule_graph(n, *connect_distance(n, n, profile=profile, p0=p0, scale=scale, space=space,
                                            periodic=periodic, extent=extent, seed=seed, autapses=autapses))


DISTANCE_FIELDS = (
    Field("profile", "choice", default="gaussian", choices=("gaussian", "exponential"),
          doc="p(d) = p0 exp(-d^2 / (2 scale^2)) (gaussian) or p0 exp(-d / scale) (exponential)"),
    Field("p0", default=1.0, minimum=0.0, maximum=1.0, doc="probability at distance 0"),
    Field("scale", default=0.1, minimum=0.0, exclusive_minimum=True, doc="width of the profile (units of extent)"),
    Field("space", "choice", default="sheet", choices=("sheet", "ring"),
          doc="ring: neuron i at (i + 1/2) L / n; sheet: a square grid of side s = sqrt(n), neuron i at "
              "((i mod s) + 1/2, (i div s) + 1/2) L / s"),
    Field("periodic", "bool", default=True, doc="distances the shorter way round (a torus or a circle)"),
    Field("extent", default=1.0, minimum=0.0, exclusive_minimum=True, doc="side L of the sheet, length of the ring"),
)
_MULTAPSES = Field("multapses", "bool", default=False, doc="allow several edges on one ordered pair")
_AUTAPSES = Field("autapses", "bool", default=False, doc="allow self-loops i -> i")
GRAPHS.register("fixed_total", fixed_total, (
    _nodes(), Field("total", "integer", minimum=0, doc="number of edges"), _seed(), _AUTAPSES, _MULTAPSES,
), summary="Directed random graph with exactly `total` edges on uniformly drawn ordered pairs.",
    example={"n": 10, "total": 20, "seed": 1})
GRAPHS.register("distance", distance_graph, (_nodes(), *DISTANCE_FIELDS, _seed(), _AUTAPSES),
                summary="Directed random graph: each ordered pair linked with a probability that falls with the "
                        "distance of the nodes on a 2-D sheet or a ring.",
                example={"n": 16, "profile": "gaussian", "p0": 0.8, "scale": 0.3, "space": "sheet", "seed": 1})
GRAPHS.register("edges", _edges_from_spec, (
    Field("n", "integer", default=None, minimum=1, doc="number of nodes",
          default_text="the number of nodes connected"),
    Field("edges", "custom", validator=_edge_list, type_text="list of [i, j] pairs",
          doc="edges [receiver, sender], 0-based node indices"),
    Field("weights", "custom", default=None, validator=_edge_weights, type_text="list of numbers",
          doc="one weight per edge", default_text="1 for every edge"),
), summary="A graph given edge by edge (duplicate edges add their weights).", context=("nodes",),
    example={"n": 3, "edges": [[0, 1], [1, 0], [1, 2], [2, 1]], "weights": [0.5, 0.5, 1.0, 1.0]})


def graph_from_spec(path: str, table, nodes: int | None = None, mismatch: str = "") -> CSRGraph:
    """The graph a spec table ``{kind = ..., ...}`` describes (see :data:`neurodyn.schema.GRAPHS`).

    ``nodes``: the number of nodes it must have (the default ``n`` of an ``edges`` graph);
    ``mismatch``: the end of the error when it has another count, e.g.
    ``"the coupled populations have 4 neurons"``.
    """
    context = {"nodes": nodes}
    entry, values = GRAPHS.read(path, table, context=context)
    declared = _declared_nodes(entry.name, values)
    if nodes is not None and declared is not None and declared != nodes:
        raise SpecError(f"{path}: the graph has {declared} nodes but {mismatch or f'{nodes} are needed'}")
    size = declared if declared is not None else nodes
    if size is not None:
        check_memory(f"{path} ({entry.name} graph of {size:,} nodes)", _build_bytes(entry.name, values, size))
    graph = entry.build(path, values, context)
    if nodes is not None and graph.n != nodes:
        raise SpecError(f"{path}: the graph has {graph.n} nodes but {mismatch or f'{nodes} are needed'}")
    return graph


def _declared_nodes(kind: str, values: dict) -> int | None:
    """The node count a graph table declares, known before building it."""
    if kind == "ring_star":
        return values["ring"] + 1
    if kind == "lattice_2d":
        return values["rows"] * values["cols"]
    return values.get("n")


EDGE_BYTES = 200  # an edge while a builder holds it as a Python pair, then in CSR arrays


def _build_bytes(kind: str, values: dict, n: int) -> float:
    """Rough memory a builder needs for a graph of ``n`` nodes (see :mod:`neurodyn.resources`)."""
    per_node = {"ring": 2 * values.get("k", 1), "ring_star": 2 * values.get("k", 1) + 2, "lattice_1d":
                2 * values.get("k", 1), "watts_strogatz": 2 * values.get("k", 1), "lattice_2d": 4,
                "fixed_indegree": values.get("k", 1) + 1, "complete": n, "erdos_renyi": n}
    if kind == "fixed_total":
        return EDGE_BYTES * (values["total"] + n)
    if kind == "distance":
        return EDGE_BYTES * (expected_synapses("distance", n, n, {"distance": values}) + n) + 8.0 * 2**22
    if kind == "edges":
        return EDGE_BYTES * (len(values["edges"]) + n)
    dense = 9.0 * n * n if kind == "erdos_renyi" else 0.0  # its random draw and mask are n x n
    return dense + EDGE_BYTES * n * per_node.get(kind, 2)


# ---------------------------------------------------------------- connection rules between populations
# Each rule returns the synapses as two int32 arrays ``(pre, post)``; ``autapses`` allows ``i -> i``
# (one population: n_pre == n_post), ``multapses`` allows several synapses on one pair.

def _distinct_rows(rng, rows: int, available: int, k: int) -> np.ndarray:
    """``rows`` independent uniform draws of ``k`` distinct integers in ``[0, available)``.

    Sparse rows (k well below ``available``) draw ``k`` integers and redraw the rows holding a
    repeat (exactly uniform over the k-subsets); dense rows take the ``k`` smallest of one
    uniform key per candidate."""
    if k == 0 or rows == 0:
        return np.zeros((rows, k), np.int64)
    if 4 * k > available:
        keys = rng.random((rows, available))
        return np.argpartition(keys, k - 1, axis=1)[:, :k].astype(np.int64)
    out = rng.integers(0, available, (rows, k))
    while True:
        s = np.sort(out, axis=1)
        bad = np.nonzero(np.any(s[:, 1:] == s[:, :-1], axis=1))[0]
        if bad.size == 0:
            return out
        out[bad] = rng.integers(0, available, (bad.size, k))


def _self_check(rule: str, n_pre: int, n_post: int, autapses: bool) -> int:
    if not autapses and n_pre != n_post:
        raise SpecError(f"{rule}: autapses = false needs one population (n_pre == n_post), got {n_pre} and {n_post}")
    return 0 if autapses else 1


def connect_fixed_indegree(n_pre: int, n_post: int, k: int, *, seed: int = 0, autapses: bool = True,
                           multapses: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every postsynaptic neuron receives exactly ``k`` synapses from presynaptic neurons drawn
    uniformly (NEST's ``fixed_indegree``): without ``multapses`` the ``k`` sources are distinct
    (uniform over the k-subsets), with it they are ``k`` independent uniform draws."""
    n_pre, n_post, k = (check_int("fixed_indegree: n_pre", n_pre), check_int("fixed_indegree: n_post", n_post),
                        check_int("fixed_indegree: indegree", k, minimum=0))
    available = n_pre - _self_check("fixed_indegree", n_pre, n_post, autapses)
    rng = np.random.default_rng(seed)
    if multapses:
        src = rng.integers(0, available, (n_post, k)) if available > 0 or k == 0 else None
        if src is None:
            raise SpecError(f"fixed_indegree: no source is available for indegree {k}")
    else:
        if k > available:
            raise SpecError(f"fixed_indegree: indegree {k} exceeds the {available} available sources "
                            f"(set multapses = true to allow repeats)")
        src = _distinct_rows(rng, n_post, available, k)
    post = np.repeat(np.arange(n_post, dtype=np.int64), k)
    pre = src.reshape(-1)
    if not autapses:
        pre = pre + (pre >= post)
    return pre.astype(np.int32), post.astype(np.int32)


def connect_fixed_total(n_pre: int, n_post: int, total: int, *, seed: int = 0, autapses: bool = True,
                        multapses: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``total`` synapses on pairs drawn uniformly among the allowed ones (NEST's
    ``fixed_total_number``): distinct pairs without ``multapses``, independent draws with it."""
    n_pre, n_post, total = (check_int("fixed_total: n_pre", n_pre), check_int("fixed_total: n_post", n_post),
                            check_int("fixed_total: total", total, minimum=0))
    skip = _self_check("fixed_total", n_pre, n_post, autapses)
    width = n_post - skip
    pairs = n_pre * width
    rng = np.random.default_rng(seed)
    if multapses:
        if pairs == 0 and total:
            raise SpecError("fixed_total: no pair is available")
        idx = rng.integers(0, max(pairs, 1), total)
    else:
        if total > pairs:
            raise SpecError(f"fixed_total: total {total} exceeds the {pairs} available pairs "
                            f"(set multapses = true to allow repeats)")
        idx = rng.choice(pairs, size=total, replace=False)
    pre, post = idx // max(width, 1), idx % max(width, 1)
    if skip:
        post = post + (post >= pre)
    return pre.astype(np.int32), post.astype(np.int32)


def connect_one_to_one(n_pre: int, n_post: int, *, autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Neuron ``i`` of the source to neuron ``i`` of the target (equal sizes)."""
    if n_pre != n_post:
        raise SpecError(f"one_to_one: the populations must have equal sizes, got {n_pre} and {n_post}")
    if not autapses:
        raise SpecError("one_to_one within one population connects i -> i: it needs autapses = true")
    i = np.arange(n_pre, dtype=np.int32)
    return i, i.copy()


def positions(n: int, space: str = "sheet", extent: float = 1.0) -> np.ndarray:
    """Positions of ``n`` neurons, shape ``(n, dim)``: on a ``"ring"`` (``dim`` 1) neuron ``i`` at
    ``(i + 1/2) L / n``; on a ``"sheet"`` (``dim`` 2; ``n`` a perfect square ``s^2``) neuron ``i``
    at ``((i mod s) + 1/2, (i div s) + 1/2) L / s`` -- a square grid of side ``L = extent``."""
    if space == "ring":
        return ((np.arange(n) + 0.5) * extent / n)[:, None]
    if space == "sheet":
        s = int(round(np.sqrt(n)))
        if s * s != n:
            raise SpecError(f"distance: a sheet places neurons on a square grid, but n = {n} is not a perfect "
                            f"square (nearest: {s * s if s * s else 1} or {(s + 1) ** 2})")
        i = np.arange(n)
        return np.c_[(i % s) + 0.5, (i // s) + 0.5] * extent / s
    raise SpecError(f"distance: space must be 'sheet' or 'ring', got {space!r}")


def distance_probability(d, profile: str, p0: float, scale: float):
    """Connection probability at distance ``d``: ``p0 exp(-d^2 / (2 scale^2))`` (gaussian) or
    ``p0 exp(-d / scale)`` (exponential)."""
    d = np.asarray(d, float)
    if profile == "gaussian":
        return p0 * np.exp(-d * d / (2.0 * scale * scale))
    if profile == "exponential":
        return p0 * np.exp(-d / scale)
    raise SpecError(f"distance: profile must be 'gaussian' or 'exponential', got {profile!r}")


def pair_distances(a: np.ndarray, b: np.ndarray, extent: float, periodic: bool) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and ``b`` (shape ``(len(a), len(b))``); with
    ``periodic`` each coordinate difference is the shorter way round a period ``extent``."""
    diff = np.abs(a[:, None, :] - b[None, :, :])
    if periodic:
        diff = np.minimum(diff, extent - diff)
    return np.sqrt(np.sum(diff * diff, axis=-1))


def connect_distance(n_pre: int, n_post: int, *, profile: str = "gaussian", p0: float = 1.0, scale: float = 0.1,
                     space: str = "sheet", periodic: bool = True, extent: float = 1.0, seed: int = 0,
                     autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Distance-dependent probability: source and target each lie on the same ``space`` of side
    ``extent`` (:func:`positions`), and every pair is connected independently with probability
    :func:`distance_probability` of their distance (:func:`pair_distances`). At most one
    synapse per pair. Drawn in blocks of rows, so memory grows with the synapses, not n^2."""
    n_pre, n_post = check_int("distance: n_pre", n_pre), check_int("distance: n_post", n_post)
    p0 = _probability("distance: p0", p0)
    if not float(scale) > 0 or not float(extent) > 0:
        raise SpecError(f"distance: scale and extent must be > 0, got scale={scale!r}, extent={extent!r}")
    _self_check("distance", n_pre, n_post, autapses)
    xa, xb = positions(n_pre, space, extent), positions(n_post, space, extent)
    rng = np.random.default_rng(seed)
    block = max(1, int(2**22 // max(n_post, 1)))
    pres, posts = [], []
    for start in range(0, n_pre, block):
        rows = np.arange(start, min(start + block, n_pre))
        p = distance_probability(pair_distances(xa[rows], xb, extent, periodic), profile, p0, scale)
        hit = rng.random(p.shape) < p
        if not autapses:
            hit[np.arange(rows.size), rows] = False
        i, j = np.nonzero(hit)
        pres.append(rows[i])
        posts.append(j)
    return np.concatenate(pres).astype(np.int32), np.concatenate(posts).astype(np.int32)


def expected_synapses(rule: str, n_pre: int, n_post: int, values: dict) -> float:
    """An upper estimate of the synapses a rule makes, known before drawing them (for the
    memory check): exact for fixed rules; for ``distance`` the integral of the profile over the
    space (``p0 2 pi scale^2`` per unit area on a sheet for the Gaussian, ``p0 2 pi scale^2`` for
    the exponential, ``p0 sqrt(2 pi) scale`` / ``p0 2 scale`` per unit length on a ring) times the
    target density, capped at ``p0 n_post`` per source."""
    if rule == "indegree":
        return float(values["indegree"]) * n_post
    if rule == "total":
        return float(values["total"])
    if rule == "one_to_one":
        return float(n_pre)
    if rule == "fanout":
        return float(values["fanout"]) * n_pre
    if rule == "p":
        return float(values["p"]) * n_pre * n_post
    d = values["distance"]
    p0, s, L = d["p0"], d["scale"], d["extent"]
    if d["space"] == "sheet":
        mass = 2 * np.pi * s * s
        density = n_post / (L * L)
    else:
        mass = np.sqrt(2 * np.pi) * s if d["profile"] == "gaussian" else 2 * s
        density = n_post / L
    return float(n_pre * min(p0 * n_post, p0 * mass * density))
