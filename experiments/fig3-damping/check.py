"""Independent NumPy check of the damping mechanism (not the ngd code; its own random draws).

Builds the fig3 network (ReLU, L = 3, NTK parameterisation u_l = σ_w W_l h_{l-1}/√M_{l-1},
σ_w² = 2, σ_b² = 0, N = 100 Gaussian inputs of unit norm, M_0 = 784), forms the layer Grams
Θ_l = J_l J_lᵀ/N and predicts, from their eigenvalues alone,
  exact:  Θ̄ = Θ(Θ + ρI)⁻¹,           Θ = Σ_l Θ_l
  BD:     Θ̄ = Σ_l Θ_l(Θ_l + ρI)⁻¹
  unit:   Θ̄ = Σ_units Θ_i(Θ_i + ρI)⁻¹, Θ_i = g_i g_iᵀ/N (g_i = ∂f/∂θ_i, one hidden or output unit)
(G = F + ρI, F = JᵀJ/N, as docs/MATH.md). Prints per width the smallest / mean eigenvalue of
every layer Gram and of the unit Grams, and κ = λ_max/λ_min of Θ̄ for each ρ.
Usage: python3 check.py [widths] [seeds] [largest width for unit-wise]   (needs numpy)
check.log: python3 check.py 16,32,64,128,256,512,1024,2048,4096 1 1024
"""
import sys
import numpy as np

N, M0, L, SW2 = 100, 784, 3, 2.0
RHOS = [0.0, 1e-10, 1e-8, 1e-6, 1e-4]


def grams(M, seed):
    rng = np.random.default_rng(1000 + seed)
    X = rng.standard_normal((N, M0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    dims = [M0] + [M] * (L - 1) + [1]
    Ws = [rng.standard_normal((dims[l + 1], dims[l])) for l in range(L)]
    hs, us = [X], []
    for l in range(L):
        u = np.sqrt(SW2) * hs[-1] @ Ws[l].T / np.sqrt(dims[l])
        us.append(u)
        hs.append(np.maximum(u, 0) if l < L - 1 else u)
    deltas = [None] * L
    deltas[L - 1] = np.ones((N, 1))
    for l in range(L - 2, -1, -1):
        deltas[l] = (us[l] > 0) * (np.sqrt(SW2) * deltas[l + 1] @ Ws[l + 1] / np.sqrt(dims[l + 1]))
    # J_l row n = vec(δ_l(n) ⊗ σ_w h_{l-1}(n)/√M_{l-1}); Gram = (δδᵀ) ⊙ (σ_w² h hᵀ / M_{l-1})
    A = [SW2 * hs[l] @ hs[l].T / dims[l] for l in range(L)]
    layer = [(deltas[l] @ deltas[l].T) * A[l] / N for l in range(L)]
    return layer, deltas, A


def damped(T, rho):
    w, V = np.linalg.eigh(T)
    w = np.clip(w, 0, None)
    if rho == 0:
        f = np.where(w > 1e-12 * w.max(), 1.0, 0.0)
    else:
        f = w / (w + rho)
    return (V * f) @ V.T


def cond(T):
    e = np.linalg.eigvalsh((T + T.T) / 2)
    return e[-1] / e[0], e.mean()


def unit_terms(deltas, A, rho):
    """Σ over hidden units (layers 1..L-1) and the output unit of Θ_i(Θ_i+ρ)⁻¹."""
    tot = np.zeros((N, N))
    for l in range(L):
        for i in range(deltas[l].shape[1]):
            d = deltas[l][:, i]
            S = np.abs(d) > 0
            if not S.any():
                continue
            Ti = np.outer(d[S], d[S]) * A[l][np.ix_(S, S)] / N
            tot[np.ix_(S, S)] += damped(Ti, rho)
    return tot


if __name__ == "__main__":
    widths = [int(w) for w in (sys.argv[1] if len(sys.argv) > 1 else "64,128,256,1024").split(",")]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    unit_max = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    for M in widths:
        for s in range(seeds):
            layer, deltas, A = grams(M, s)
            ev = [np.linalg.eigvalsh(T) for T in layer]
            desc = "  ".join(f"Θ_{l+1}: λmin {e[0]:.2e} mean {e.mean():.2e}" for l, e in enumerate(ev))
            # typical eigenvalue of a hidden unit's Gram on its active set: tr Θ_i / |S_i|
            per = [((deltas[l][:, i] ** 2) * np.diag(A[l])).sum() / N / max(1, (deltas[l][:, i] != 0).sum())
                   for l in range(L - 1) for i in range(M)]
            desc += f"  unit Grams: mean tr/|S| {np.mean(per):.2e}"
            print(f"M={M} seed={s}  {desc}")
            Th = sum(layer)
            for rho in RHOS:
                ke, _ = cond(damped(Th, rho))
                kb, ab = cond(sum(damped(T, rho) for T in layer))
                line = f"   ρ={rho:g}: exact κ={ke:.4f}  BD κ={kb:.4f} α={ab:.4f}"
                if M <= unit_max:
                    ku, au = cond(unit_terms(deltas, A, rho))
                    line += f"  unit κ={ku:.4f} α={au:.1f}"
                print(line, flush=True)
