#!/usr/bin/env python3
"""numpy / scikit-learn timings for the statistics benches, on the same inputs.

The inputs repeat benches/statistics.rs::synthetic (splitmix64, vectorised with uint64
wrap-around). Timed, best of `repeats` runs:
  - DeLong (both CIs + paired test): (a) the widely used numpy "fast DeLong" of Sun & Xu
    (midranks by a Python loop, as published with the algorithm's reference code), and
    (b) a fully vectorised numpy version (midranks by argsort + unique);
  - AUC alone: sklearn.metrics.roc_auc_score;
  - 2,000 stratified bootstrap replicates of the AUC at n = 10k: a numpy resampling loop
    calling roc_auc_score.
Usage: python scripts/bench_reference.py [--quick]
"""
import sys
import time

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

GOLD = np.uint64(0x9E3779B97F4A7C15)
SEED = np.uint64(0x5EED000020240424)


def mix(k):
    with np.errstate(over="ignore"):
        z = k * GOLD + SEED
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(k):
    return (mix(k) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def synthetic(n):
    i = np.arange(n, dtype=np.uint64)
    y = uniform(np.uint64(3) * i) < 0.3
    shift = y.astype(np.float64)
    a = uniform(np.uint64(3) * i + np.uint64(1)) + 0.35 * shift
    b = 0.5 * a + 0.5 * uniform(np.uint64(3) * i + np.uint64(2)) + 0.1 * shift
    return y, a, b


# (a) the published fast-DeLong numpy code's structure: midranks with a Python while loop.
def compute_midrank(x):
    j = np.argsort(x)
    z = x[j]
    n = len(x)
    t = np.zeros(n, dtype=float)
    i = 0
    while i < n:
        k = i
        while k < n and z[k] == z[i]:
            k += 1
        t[i:k] = 0.5 * (i + k - 1)
        i = k
    t2 = np.empty(n, dtype=float)
    t2[j] = t + 1
    return t2


# (b) vectorised midranks.
def midrank_vectorised(x):
    return stats.rankdata(x, method="average")


def fast_delong(predictions_sorted_transposed, m, midrank):
    """Sun & Xu 2014; predictions sorted so that the m cases come first."""
    n = predictions_sorted_transposed.shape[1] - m
    pos = predictions_sorted_transposed[:, :m]
    neg = predictions_sorted_transposed[:, m:]
    k = predictions_sorted_transposed.shape[0]
    tx = np.empty([k, m]); ty = np.empty([k, n]); tz = np.empty([k, m + n])
    for r in range(k):
        tx[r] = midrank(pos[r]); ty[r] = midrank(neg[r]); tz[r] = midrank(predictions_sorted_transposed[r])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    sx = np.cov(v01); sy = np.cov(v10)
    return aucs, sx / m + sy / n


def delong_ci_and_test(y, a, b, midrank):
    order = np.argsort(~y, kind="stable")  # cases first
    m = int(y.sum())
    preds = np.vstack((a, b))[:, order]
    aucs, cov = fast_delong(preds, m, midrank)
    z = 1.959963984540054
    cis = [(aucs[r] - z * np.sqrt(cov[r, r]), aucs[r] + z * np.sqrt(cov[r, r])) for r in range(2)]
    l = np.array([1.0, -1.0])
    zscore = (aucs[0] - aucs[1]) / np.sqrt(l @ cov @ l)
    return cis, 2 * stats.norm.sf(abs(zscore))


def bootstrap_sklearn(y, a, replicates=2000, seed=1):
    rng = np.random.default_rng(seed)
    cases, controls = np.flatnonzero(y), np.flatnonzero(~y)
    out = np.empty(replicates)
    for r in range(replicates):
        idx = np.concatenate((rng.choice(cases, len(cases)), rng.choice(controls, len(controls))))
        out[r] = roc_auc_score(y[idx], a[idx])
    return np.quantile(out, [0.025, 0.975])


def best(f, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return min(times)


def main():
    quick = "--quick" in sys.argv
    sizes = [1_000, 10_000, 100_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    print("benchmark,n,seconds")
    for n in sizes:
        y, a, b = synthetic(n)
        rep = 5 if n <= 100_000 else 2
        print(f"delong_loop_midrank,{n},{best(lambda: delong_ci_and_test(y, a, b, compute_midrank), 1 if n >= 100_000 else rep):.6g}")
        print(f"delong_vectorised,{n},{best(lambda: delong_ci_and_test(y, a, b, midrank_vectorised), rep):.6g}")
        print(f"sklearn_roc_auc_score,{n},{best(lambda: roc_auc_score(y, a), rep):.6g}")
        sys.stdout.flush()
    y, a, _ = synthetic(10_000)
    print(f"bootstrap_sklearn_2000,10000,{best(lambda: bootstrap_sklearn(y, a), 1):.6g}")
    # sanity: the same AUC as radbench's
    print(f"# auc(a) at n=10000: {roc_auc_score(y, a):.15f}", file=sys.stderr)


if __name__ == "__main__":
    main()
