"""Plain NumPy float64 references, written independently of neurodyn (explicit loops)."""

import numpy as np


def chialvo_step(x, y, a, b, c, k):
    return x * x * np.exp(y - x) + k, a * y - b * x + c


def rulkov_step(x, y, alpha, mu, sigma):
    return alpha / (1.0 + x * x) + y, y - mu * (x - sigma)


def rulkov_piecewise_step(x, x_prev, y, alpha, mu, sigma, current=0.0, beta_e=1.0, sigma_e=1.0):
    u = y + beta_e * current
    out = np.empty_like(x)
    for i in range(len(x)):
        if x[i] <= 0:
            out[i] = alpha[i] / (1.0 - x[i]) + u[i]
        elif x[i] < alpha[i] + u[i] and x_prev[i] <= 0:
            out[i] = alpha[i] + u[i]
        else:
            out[i] = -1.0
    return out, x, y - mu * (x + 1.0) + mu * (sigma + sigma_e * current)


def ring_star_coupling(x, star, ring, triadic, ring_size):
    """docs/models/maps.md ring-star template: hub 0, ring 1..ring_size (R = 1, ring term sigma/2 per neighbour),
    triangles of the full ring-star graph, written out node by node."""
    n = ring_size + 1
    out = np.zeros(n)
    out[0] += star * sum(x[j] - x[0] for j in range(1, n))
    for i in range(1, n):
        out[i] += star * (x[0] - x[i])
        left = 1 + (i - 2) % ring_size
        right = 1 + i % ring_size
        out[i] += ring / 2 * ((x[left] - x[i]) + (x[right] - x[i]))
    edges = {(0, j) for j in range(1, n)} | {(min(i, 1 + i % ring_size), max(i, 1 + i % ring_size)) for i in range(1, n)}
    adj = {i: set() for i in range(n)}
    for i, j in edges:
        adj[i].add(j)
        adj[j].add(i)
    for i in range(n):
        for j in adj[i]:
            for l in adj[i] & adj[j]:
                if j < l:
                    out[i] += triadic * (x[j] + x[l] - 2 * x[i])
    return out
