#!/usr/bin/env python3
"""Reference stratified percentile bootstrap of the AUC on aSAH (numpy only).

Written independently of radbench, as pROC's `ci.auc(method = "bootstrap")` works: cases and
controls are resampled separately (each keeps its size), the AUC counts ties 1/2, and the
interval is the percentile interval with numpy's "linear" quantile (= R's type 7).

Usage: python scripts/bootstrap_reference.py PATH/TO/aSAH.csv [REPLICATES] [SEED]
Prints one line per marker: marker, lower, median, upper. The numbers are pasted into
tests/stats_bootstrap.rs; radbench's own bootstrap (another RNG) must land within +-0.01.
"""
import csv
import sys

import numpy as np


def auc(cases, controls):
    """Mann-Whitney AUC with ties 1/2, via midranks."""
    values = np.concatenate([cases, controls])
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    # midranks: average position of each run of equal values (1-based)
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    m, n = len(cases), len(controls)
    return (ranks[:m].sum() - m * (m + 1) / 2.0) / (m * n)


def stratified_percentile_ci(cases, controls, replicates, rng, level=0.95):
    aucs = np.empty(replicates)
    for b in range(replicates):
        rc = cases[rng.integers(0, len(cases), len(cases))]
        rn = controls[rng.integers(0, len(controls), len(controls))]
        aucs[b] = auc(rc, rn)
    alpha = 1.0 - level
    return np.quantile(aucs, [alpha / 2, 0.5, 1 - alpha / 2], method="linear")


def main():
    path = sys.argv[1]
    replicates = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20240424
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    poor = np.array([r["outcome"] == "Poor" for r in rows])
    rng = np.random.default_rng(seed)
    for marker in ["wfns", "ndka", "s100b"]:
        x = np.array([float(r[marker]) for r in rows])
        lo, med, hi = stratified_percentile_ci(x[poor], x[~poor], replicates, rng)
        print(f"{marker},{lo:.6f},{med:.6f},{hi:.6f},{auc(x[poor], x[~poor]):.15f}")


if __name__ == "__main__":
    main()
