"""NIR export and import of spiking networks (docs/interchange.md).

The Neuromorphic Intermediate Representation (NIR; J. E. Pedersen et al., "Neuromorphic
intermediate representation: a unified instruction set for interoperable brain-inspired
computing", Nature Communications 15:8122, 2024; the ``nir`` package) describes a network as a
graph of continuous-time primitives. A :class:`neurodyn.models.snn.SpikingMLP` with hard-spike
LIF cells (``surrogate_lif``, ``plif``, ``dspike``: the same forward, they differ only in the
gradient) maps to

    Input -> Affine -> LIF -> Affine -> LIF -> ... -> Affine -> Output     (rate read-out)
    Input -> Affine -> LIF -> ... -> Affine -> LIF -> Output               (spike read-out)

NIR's LIF is ``tau dv/dt = (v_leak - v) + r I``, spike when ``v`` crosses ``v_threshold``, then
``v = v_reset``. neurodyn's cell is ``v~ = beta v + I``, ``s = H(v~ - theta)``, ``v = v~ (1 - s)``
per step of length ``dt``. Integrating NIR's equation over one step with the input current held
constant (zero-order hold) gives ``v(t + dt) = beta v + (1 - beta)(v_leak + r I)`` with

    exact (default):  beta = exp(-dt / tau)   <->  tau = -dt / ln(beta)
    euler:            beta = 1 - dt / tau     <->  tau = dt / (1 - beta)   (snnTorch, Norse)

so the export writes ``tau`` by the chosen rule, ``r = 1 / (1 - beta)`` (one step adds exactly
``I``), ``v_leak = 0``, ``v_threshold = theta``, ``v_reset = 0``. Affine weights are NIR's
``(out, in)`` matrices, the transpose of neurodyn's ``(fan_in, fan_out)``. The graph's output at
each step is ``s_L(t) W_out + b_out`` (rate) or the output layer's spikes (spike); the
SpikingMLP's logits are its mean over the steps. The graph's metadata keeps ``dt`` and the rule,
so :func:`from_nir` of an exported graph needs neither.

Cells with no exact NIR primitive are refused, never approximated: the Ultra cells (soft
sigmoid spikes and soft reset, log-sum-exp membrane), AdaLIF (adaptive threshold). A recurrent
network's ``s_l(t-1) R_l`` is a ``Linear`` loop ``rlifl.lif -> rlifl.w_rec -> rlifl.lif`` (weight ``R_l.T``),
which NIR tools run with a one-step delay on the loop (snnTorch's ``RLeaky``). ``nir`` is imported inside the functions only.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from ..errors import SpecError

METHODS = ("exact", "euler")
"""Discretisation rules between NIR's continuous ``tau`` and neurodyn's per-step leak ``beta``."""

EXPORTABLE = ("surrogate_lif", "plif", "dspike")
"""SpikingMLP cells with an exact NIR primitive (hard spike at ``theta``, reset to zero, leak ``tau``)."""

_REFUSED = {
    "ultralif": "soft sigmoid spike and soft reset on a log-sum-exp membrane (no NIR primitive)",
    "ultraplif": "soft sigmoid spike and soft reset on a log-sum-exp membrane (no NIR primitive)",
    "ultradlif": "log-sum-exp gap-junction diffusion with soft spikes (no NIR primitive)",
    "ultradplif": "log-sum-exp gap-junction diffusion with soft spikes (no NIR primitive)",
    "adalif": "adaptive threshold theta_0 + beta_adapt b(t) (NIR's LIF has a fixed threshold)",
}


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - depends on the environment
        raise SpecError("NIR export/import needs the 'nir' package: pip install 'neurodyn[nir]'") from None
    return nir


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise SpecError(f"NIR method: unknown value {method!r} (allowed: {', '.join(METHODS)})")


def _check_dt(dt) -> float:
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise SpecError(f"NIR dt: expected a time step > 0, got {dt!r}") from None
    if not (dt > 0 and math.isfinite(dt)):
        raise SpecError(f"NIR dt: expected a time step > 0, got {dt!r}")
    return dt


def _tau_of(beta: np.ndarray, dt: float, method: str) -> np.ndarray:
    """NIR ``tau`` of a per-step leak ``beta`` in (0, 1): ``-dt / ln(beta)`` or ``dt / (1 - beta)``."""
    return -dt / np.log(beta) if method == "exact" else dt / (1.0 - beta)


def _beta_of(tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """Per-step leak of NIR's ``tau``: ``exp(-dt / tau)`` or ``1 - dt / tau``."""
    return np.exp(-dt / tau) if method == "exact" else 1.0 - dt / tau


def to_nir(model, dt: float = 1.0, method: str = "exact"):
    """A :class:`~neurodyn.models.snn.SpikingMLP` as a ``nir.NIRGraph`` with the same dynamics.

    ``dt``: the length of one neurodyn step in NIR's time unit (the graph is continuous time);
    ``method``: ``"exact"`` (``tau = -dt / ln(beta)``) or ``"euler"`` (``tau = dt / (1 - beta)``,
    the rule snnTorch and Norse discretise with). Nodes ``input``, ``fc1``, ``lif1``, ...,
    ``output``; equations and conventions in the module docstring. Cells without an exact NIR
    primitive raise :class:`~neurodyn.errors.SpecError` naming why. A recurrent network's
    hidden layers are nodes ``rlifl.lif`` with a ``Linear`` loop ``rlifl.w_rec`` (one-step delay;
    snnTorch's ``RLeaky`` names and semantics). A :class:`~neurodyn.core.Network` of LIF / CUBA
    populations goes to :func:`neurodyn.io.nir_network.network_to_nir` (its own ``dt``, ms).
    """
    from ..models.snn import SpikingMLP

    nir = _nir()
    if not isinstance(model, SpikingMLP):
        from .nir_network import network_to_nir

        return network_to_nir(model)  # a Network, or one line refusing the object
    _check_method(method)
    dt = _check_dt(dt)
    if model.cell in _REFUSED:
        raise SpecError(f"to_nir: cell {model.cell!r} is not exported: {_REFUSED[model.cell]}")
    if model.cell not in EXPORTABLE:
        raise SpecError(f"to_nir: cell {model.cell!r} has no NIR mapping (exported: {', '.join(EXPORTABLE)})")
    cells = model.cells()
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([model.sizes[0]]))}
    edges, last = [], "input"
    for i, (w, b) in enumerate(model.weights, start=1):
        name = f"fc{i}"
        nodes[name] = nir.Affine(weight=np.asarray(w, np.float64).T.copy(), bias=np.asarray(b, np.float64).copy())
        edges.append((last, name))
        last = name
        if i - 1 < len(cells):
            cell = cells[i - 1]
            n = cell.n
            beta = np.broadcast_to(np.asarray(cell.tau, np.float64), (n,)).copy()
            theta = np.broadcast_to(np.asarray(cell.theta, np.float64), (n,)).copy()
            looped = model.recurrent and i - 1 < len(model.recurrent_weights)
            # a recurrent layer's nodes are named as snnTorch's RLeaky export names them
            name = f"rlif{i}.lif" if looped else f"lif{i}"
            nodes[name] = nir.LIF(tau=_tau_of(beta, dt, method), r=1.0 / (1.0 - beta), v_leak=np.zeros(n),
                                  v_threshold=theta, v_reset=np.zeros(n))
            edges.append((last, name))
            last = name
            if looped:
                # s_l(t-1) R_l: a Linear loop on the LIF, read as a one-step delay (snnTorch's RLeaky)
                rec = f"rlif{i}.w_rec"
                nodes[rec] = nir.Linear(weight=np.asarray(model.recurrent_weights[i - 1], np.float64).T.copy())
                edges += [(name, rec), (rec, name)]
    nodes["output"] = nir.Output(output_type=np.array([model.sizes[-1]]))
    edges.append((last, "output"))
    metadata = {"neurodyn_dt": dt, "neurodyn_method": method, "neurodyn_cell": model.cell}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def write_nir(model, path: str | os.PathLike, dt: float = 1.0, method: str = "exact") -> None:
    """Write :func:`to_nir` of ``model`` to a NIR HDF5 file (``nir.write``); ``dt`` and ``method``
    are the SpikingMLP's (a Network carries its own ``dt``)."""
    _nir().write(os.fspath(path), to_nir(model, dt=dt, method=method))


def _chain(graph) -> tuple[list[str], dict[str, str]]:
    """The node names from the Input to the Output, for a graph that is one path apart from
    ``LIF -> Linear -> same LIF`` loops (else one line), and those loops ``{lif: linear}``."""
    nir = _nir()
    succ: dict[str, list[str]] = {}
    pred: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    loops = {}
    for name, node in graph.nodes.items():
        for x in succ.get(name, []):
            if isinstance(node, nir.LIF) and succ.get(x) == [name] and pred.get(x) == [name]:
                if not isinstance(graph.nodes[x], (nir.Linear, nir.Affine)):
                    raise SpecError(f"from_nir: recurrent loop through {type(graph.nodes[x]).__name__} node {x!r}: "
                                    "only Linear or Affine loops on a LIF are imported")
                loops[name] = x
    for lif, x in loops.items():
        succ[lif] = [y for y in succ[lif] if y != x]
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise SpecError(f"from_nir: expected one Input node, found {len(inputs)}")
    order, seen = [inputs[0]], {inputs[0]}
    while not isinstance(graph.nodes[order[-1]], nir.Output):
        nxt = succ.get(order[-1], [])
        if len(nxt) != 1:
            raise SpecError(f"from_nir: node {order[-1]!r} has {len(nxt)} successors; only a chain "
                            "Input -> (Affine/Linear -> LIF)... -> Output is imported")
        if nxt[0] in seen:
            raise SpecError(f"from_nir: cycle through node {nxt[0]!r}; only LIF -> Linear|Affine -> LIF loops are "
                            "imported")
        seen.add(nxt[0])
        order.append(nxt[0])
    seen |= set(loops.values())
    if len(seen) != len(graph.nodes):
        raise SpecError(f"from_nir: nodes off the Input -> Output path: {', '.join(sorted(set(graph.nodes) - seen))}")
    return order, loops


def _meta(graph, key: str):
    value = (getattr(graph, "metadata", None) or {}).get(key)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.ndarray):
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value


def from_nir(graph, dt: float | None = None, method: str | None = None, cell: str = "surrogate_lif",
             cell_options: dict | None = None, dtype=None):
    """A :class:`~neurodyn.models.snn.SpikingMLP` from a NIR graph (a ``nir.NIRGraph`` or a file path).

    The graph must be a chain ``Input -> (Affine|Linear -> LIF)+ -> [Affine|Linear] -> Output``
    (hidden LIFs may carry a ``LIF -> Linear|Affine -> LIF`` loop: recurrence with a one-step
    delay, an Affine loop's bias added to the layer's, as it arrives every step):
    a trailing Affine/Linear gives a rate read-out, a trailing LIF a spike read-out. Each LIF
    becomes a layer of ``cell`` (``surrogate_lif``, ``plif`` or ``dspike``; ``cell_options`` such
    as ``{"kind": "arctan", "slope": 5}``, which NIR does not carry) with ``beta`` from ``tau`` by
    ``method`` over the step ``dt``; ``r`` and ``v_leak`` are folded into the incoming weights and
    bias: ``W' = (1 - beta) r W``, ``b' = (1 - beta)(v_leak + r b)``. ``dt`` and ``method`` default
    to the values a neurodyn export stored in the graph's metadata (else ``dt`` is required,
    ``method`` is ``"exact"``). Other primitives, ``v_reset != 0`` and graphs of another shape raise
    :class:`~neurodyn.errors.SpecError` naming them.
    """
    import jax
    import jax.numpy as jnp

    from ..core.model import float_dtype
    from ..models.snn import CELLS, SpikingMLP, _split_cell

    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(os.fspath(graph))
    if not isinstance(graph, nir.NIRGraph):
        raise SpecError(f"from_nir: expected a nir.NIRGraph or a file path, got {type(graph).__name__}")
    if _meta(graph, "neurodyn_kind") == "network":
        from .nir_network import network_from_nir

        return network_from_nir(graph, dt=dt, dtype=dtype)
    if dt is None:
        dt = _meta(graph, "neurodyn_dt")
        if dt is None:
            raise SpecError("from_nir: dt: NIR graphs are continuous time; give the step dt in the graph's time unit")
    dt = _check_dt(dt)
    method = method or _meta(graph, "neurodyn_method") or "exact"
    _check_method(method)
    if cell not in EXPORTABLE:
        raise SpecError(f"from_nir: cell {cell!r} cannot hold a NIR LIF (allowed: {', '.join(EXPORTABLE)})")
    d = float_dtype(dtype)
    order, loops = _chain(graph)
    body = [graph.nodes[k] for k in order[1:-1]]
    for name in order[1:-1]:
        node = graph.nodes[name]
        if not isinstance(node, (nir.Affine, nir.Linear, nir.LIF)):
            raise SpecError(f"from_nir: unsupported NIR primitive {type(node).__name__} (node {name!r}); "
                            "imported: Input, Affine, Linear, LIF, Output")
    kinds = ["lif" if isinstance(n, nir.LIF) else "w" for n in body]
    readout = "spike" if kinds and kinds[-1] == "lif" else "rate"
    expected = ["w", "lif"] * (len(kinds) // 2) + (["w"] if readout == "rate" else [])
    if kinds != expected or kinds.count("lif") < (2 if readout == "spike" else 1):
        raise SpecError("from_nir: expected Input -> (Affine|Linear -> LIF)+ -> [Affine|Linear] -> Output "
                        "with at least one hidden LIF layer, got " + " -> ".join(type(n).__name__ for n in body))
    weights, cells, sizes, recurrent = [], [], [], []
    for k in range(0, len(body), 2):
        lin = body[k]
        w = np.asarray(lin.weight, np.float64)
        if w.ndim != 2:
            raise SpecError(f"from_nir: node {order[k + 1]!r}: expected a 2-D weight, got shape {w.shape}")
        b = np.asarray(lin.bias, np.float64) if isinstance(lin, nir.Affine) else np.zeros(w.shape[0])
        if not sizes:
            sizes.append(w.shape[1])
        elif w.shape[1] != sizes[-1]:
            raise SpecError(f"from_nir: node {order[k + 1]!r}: weight of shape {w.shape} after a layer of {sizes[-1]}")
        sizes.append(w.shape[0])
        if k + 1 < len(body):
            lif, name = body[k + 1], order[k + 2]
            n = w.shape[0]
            par = {f: np.broadcast_to(np.asarray(getattr(lif, f), np.float64), (n,))
                   for f in ("tau", "r", "v_leak", "v_threshold", "v_reset")}
            if np.any(par["v_reset"] != 0):
                raise SpecError(f"from_nir: node {name!r}: v_reset != 0 (neurodyn's LIF cells reset to zero)")
            if not np.all(par["tau"] > 0):
                raise SpecError(f"from_nir: node {name!r}: tau must be > 0")
            beta = _beta_of(par["tau"], dt, method)
            if not np.all((beta > 0) & (beta < 1)):
                raise SpecError(f"from_nir: node {name!r}: leak beta = {beta.tolist()} is outside (0, 1) for "
                                f"dt = {dt} ({method}); use a smaller dt")
            gain = (1.0 - beta) * par["r"]
            w = w * gain[:, None]
            if name in loops:
                if readout == "spike" and k + 2 == len(body):
                    raise SpecError(f"from_nir: node {name!r}: a recurrent output layer is not imported "
                                    "(neurodyn's recurrence is on the hidden layers)")
                r_w = np.asarray(graph.nodes[loops[name]].weight, np.float64)
                if r_w.shape != (n, n):
                    raise SpecError(f"from_nir: node {loops[name]!r}: recurrent weight of shape {r_w.shape}, "
                                    f"expected {(n, n)}")
                recurrent.append((r_w * gain[:, None]).T)
                if isinstance(graph.nodes[loops[name]], nir.Affine):  # its bias arrives every step
                    b = b + np.asarray(graph.nodes[loops[name]].bias, np.float64)
            else:
                recurrent.append(np.zeros((n, n)))
            b = (1.0 - beta) * (par["v_leak"] + par["r"] * b)
            options = dict(cell_options or {})
            try:
                cells.append(CELLS[cell].create(n, tau=beta.tolist(), theta=par["v_threshold"].tolist(), dtype=d,
                                                **options))
            except TypeError as err:
                raise SpecError(f"from_nir: cell_options: {err}") from None
        weights.append((jnp.asarray(w.T, d), jnp.asarray(b, d)))
    is_recurrent = bool(loops)
    template = SpikingMLP.create(jax.random.PRNGKey(0), sizes, cell=cell, cell_options=cell_options,
                                 readout=readout, recurrent=is_recurrent, dtype=d)
    parts = [_split_cell(c) for c in cells]
    hidden = len(sizes) - 2
    rec = tuple(jnp.asarray(r, d) for r in recurrent[:hidden]) if is_recurrent else ()
    return dataclasses.replace(template, weights=tuple(weights), recurrent_weights=rec,
                               learned=tuple(p[0] for p in parts), fixed=tuple(p[1] for p in parts))


def read_nir(path: str | os.PathLike, dt: float | None = None, method: str | None = None, **options):
    """:func:`from_nir` of the NIR HDF5 file at ``path`` (``nir.read``)."""
    return from_nir(os.fspath(path), dt=dt, method=method, **options)
