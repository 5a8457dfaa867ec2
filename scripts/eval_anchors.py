#!/usr/bin/env python3
"""Anchor numbers for radbench's statistics from the field's reference implementations.

Writes tests/fixtures/eval_anchors.json, read by tests/stats_anchors.rs:
  - scikit-learn: roc_auc_score (binary, ovr macro/weighted, ovo macro = Hand-Till M),
    average_precision_score, brier_score_loss, calibration_curve (uniform and quantile);
  - scipy: binomtest(...).proportion_ci (Wilson, exact = Clopper-Pearson), Student-t quantiles
    (Nadeau-Bengio corrected CI), a root-finder / optimizer for the logistic recalibration,
    ndimage (MedPy's hd95: surface = mask XOR erosion, EDT with voxel spacing);
  - lifelines: KaplanMeierFitter (survival, exponential-Greenwood CI, median and its CI),
    multivariate_logrank_test / logrank_test.
Synthetic inputs are defined by integer formulas that tests/stats_anchors.rs repeats exactly.

Usage: python scripts/eval_anchors.py SHARED_DIR > tests/fixtures/eval_anchors.json
(needs numpy, scipy, scikit-learn, lifelines; versions are recorded in the output).
"""
import csv
import json
import sys

import lifelines
import numpy as np
import scipy
import sklearn
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy import ndimage, optimize, stats
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def multiclass_data():
    """n = 90, class i % 3, per-row normalised scores; mirrored in Rust."""
    y, rows = [], []
    for i in range(90):
        c_true = i % 3
        raw = [((i * 37 + c * 11) % 29) / 29 + (0.5 if c == c_true else 0.0) for c in range(3)]
        s = raw[0] + raw[1] + raw[2]
        rows.append([r / s for r in raw])
        y.append(c_true)
    return np.array(y), np.array(rows)


def survival_data():
    """n = 97 synthetic times with a reachable median; mirrored in Rust."""
    t = np.array([((i * 53) % 97) / 10 + 0.1 for i in range(97)])
    e = np.array([i % 4 != 0 for i in range(97)])
    g = np.array([i % 3 for i in range(97)])
    return t, e, g


def ellipsoid(shape, centre, radii):
    m = np.zeros(shape, dtype=bool)
    for i in range(shape[0]):
        for j in range(shape[1]):
            for k in range(shape[2]):
                a = (i - centre[0]) / radii[0]
                b = (j - centre[1]) / radii[1]
                c = (k - centre[2]) / radii[2]
                m[i, j, k] = a * a + b * b + c * c <= 1.0
    return m


def surface_distances(a, b, spacing):
    fp = ndimage.generate_binary_structure(3, 1)
    a_border = a ^ ndimage.binary_erosion(a, structure=fp, iterations=1)
    b_border = b ^ ndimage.binary_erosion(b, structure=fp, iterations=1)
    dt = ndimage.distance_transform_edt(~b_border, sampling=spacing)
    return dt[a_border]


def km_summary(t, e, label):
    kmf = KaplanMeierFitter().fit(t, e, alpha=0.05)
    ci = kmf.confidence_interval_
    med_ci = median_survival_times(ci)
    return {
        "label": label,
        "times": kmf.timeline.tolist(),
        "survival": kmf.survival_function_.iloc[:, 0].tolist(),
        "lower": ci.iloc[:, 0].tolist(),
        "upper": ci.iloc[:, 1].tolist(),
        "median": float(kmf.median_survival_time_),
        "median_ci": [float(med_ci.iloc[0, 0]), float(med_ci.iloc[0, 1])],
    }


def finite_json(x):
    """JSON has no infinities: write them as the strings "Inf" / "-Inf" (and NaN as "NaN")."""
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if x != x:
            return "NaN"
        if x in (float("inf"), float("-inf")):
            return "Inf" if x > 0 else "-Inf"
        return x
    if isinstance(x, np.integer):
        return int(x)
    return x


def main():
    shared = sys.argv[1]
    out = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-learn": sklearn.__version__, "lifelines": lifelines.__version__},
    }
    rows = read(f"{shared}/conformance/stats/dcurves_df_cancer_dx.csv")
    y = np.array([int(r["cancer"]) for r in rows])
    binary = {}
    for col in ["cancerpredmarker", "marker", "famhistory"]:
        s = np.array([float(r[col]) for r in rows])
        binary[col] = {"auc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s)}
    out["binary"] = binary

    p = np.array([float(r["cancerpredmarker"]) for r in rows])
    cal = {"brier": brier_score_loss(y, p)}
    for strategy in ["uniform", "quantile"]:
        prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
        cal[strategy] = {"observed": prob_true.tolist(), "predicted": prob_pred.tolist()}
    lp = np.log(p / (1 - p))
    slope_fit = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-12, max_iter=10000)
    slope_fit.fit(lp.reshape(-1, 1), y)
    cal["slope"] = float(slope_fit.coef_[0, 0])
    cal["slope_model_intercept"] = float(slope_fit.intercept_[0])
    score = lambda a: np.sum(y - 1 / (1 + np.exp(-(a + lp))))
    cal["intercept"] = optimize.brentq(score, -10, 10, xtol=1e-15)
    out["calibration"] = cal

    out["proportions"] = []
    for k, n in [(0, 10), (3, 10), (8, 10), (41, 113), (10, 10)]:
        res = stats.binomtest(k, n)
        w = res.proportion_ci(0.95, method="wilson")
        e = res.proportion_ci(0.95, method="exact")
        out["proportions"].append({"k": k, "n": n, "wilson": [w.low, w.high],
                                   "clopper_pearson": [e.low, e.high]})

    yc, P = multiclass_data()
    out["multiclass"] = {
        "ovr_macro": roc_auc_score(yc, P, multi_class="ovr", average="macro"),
        "ovr_weighted": roc_auc_score(yc, P, multi_class="ovr", average="weighted"),
        "ovo_macro": roc_auc_score(yc, P, multi_class="ovo", average="macro"),
        "ovr_per_class": [roc_auc_score(yc == c, P[:, c]) for c in range(3)],
    }

    t, e, g = survival_data()
    surv = {"synthetic_all": km_summary(t, e, "all"),
            "synthetic_groups": [km_summary(t[g == k], e[g == k], f"group {k}") for k in range(3)]}
    mlr = multivariate_logrank_test(t, g, e)
    surv["synthetic_logrank"] = {"chi2": mlr.test_statistic, "p": mlr.p_value,
                                 "df": int(mlr.degrees_of_freedom)}
    trows = read(f"{shared}/conformance/stats/dcurves_df_time_to_cancer_dx.csv")
    tt = np.array([float(r["ttcancer"]) for r in trows])
    ee = np.array([r["cancer"] == "TRUE" for r in trows])
    risk = np.array([["low", "intermediate", "high"].index(r["risk_group"]) for r in trows])
    fam = np.array([int(r["famhistory"]) for r in trows])
    surv["dcurves_all"] = km_summary(tt, ee, "dcurves ttcancer")
    mlr = multivariate_logrank_test(tt, risk, ee)
    surv["dcurves_logrank_risk_group"] = {"chi2": mlr.test_statistic, "p": mlr.p_value,
                                          "df": int(mlr.degrees_of_freedom)}
    lr = logrank_test(tt[fam == 0], tt[fam == 1], ee[fam == 0], ee[fam == 1])
    surv["dcurves_logrank_famhistory"] = {"chi2": lr.test_statistic, "p": lr.p_value, "df": 1}
    out["survival"] = surv

    shape, spacing = (20, 24, 16), (2.5, 0.8, 0.8)
    a = ellipsoid(shape, (10, 12, 8), (6, 7, 4))
    b = ellipsoid(shape, (11, 12, 7.5), (5, 8, 4.5))
    both = np.logical_and(a, b).sum()
    d = np.hstack((surface_distances(a, b, spacing), surface_distances(b, a, spacing)))
    out["segmentation"] = {
        "dice": 2 * both / (a.sum() + b.sum()),
        "jaccard": both / np.logical_or(a, b).sum(),
        "volume_ml_a": a.sum() * 2.5 * 0.8 * 0.8 / 1000,
        "hd95": float(np.percentile(d, 95)),
        "hd_max": float(d.max()),
    }

    aucs = [0.81, 0.77, 0.84, 0.79, 0.80, 0.83, 0.78, 0.82, 0.76, 0.80]
    J, n_train, n_test = len(aucs), 80, 20
    var = np.var(aucs, ddof=1) * (1 / J + n_test / n_train)
    lo, hi = stats.t.interval(0.95, J - 1, loc=np.mean(aucs), scale=np.sqrt(var))
    tstat = (np.mean(aucs) - 0.5) / np.sqrt(var)
    out["nadeau_bengio"] = {"values": aucs, "n_train": n_train, "n_test": n_test, "null": 0.5,
                            "ci": [lo, hi], "t": tstat, "p": 2 * stats.t.sf(abs(tstat), J - 1)}
    json.dump(finite_json(out), sys.stdout, indent=1, allow_nan=False)
    print()


if __name__ == "__main__":
    main()
