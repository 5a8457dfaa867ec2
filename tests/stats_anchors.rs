//! radbench's statistics against scikit-learn, scipy and lifelines, via the numbers that
//! `scripts/eval_anchors.py` wrote to `tests/fixtures/eval_anchors.json`. Synthetic inputs are
//! rebuilt here with the script's integer formulas; real inputs come from the shared dcurves
//! cohort. Tolerance 1e-9 unless the anchor is itself an iterative fit (noted).

use radbench::eval::calibration::{
    Binning, brier_score, calibration_intercept_slope, reliability_bins,
};
use radbench::eval::cv_ttest::corrected_resampled_t;
use radbench::eval::multiclass::{hand_till, one_vs_rest};
use radbench::eval::roc::auc;
use radbench::eval::segmentation::{Mask, dice, hausdorff95, jaccard};
use radbench::eval::survival::{KaplanMeier, kaplan_meier, logrank_test};
use radbench::eval::threshold::{ProportionInterval, average_precision, proportion_ci};
use serde_json::Value;

use crate::util::{column, parse_num, read_plain_csv, shared_file};

const TOL: f64 = 1e-9;

fn anchors() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval_anchors.json");
    let text = std::fs::read_to_string(&path).expect("read eval_anchors.json");
    serde_json::from_str(&text).expect("parse eval_anchors.json")
}

/// A JSON number, or "Inf" / "-Inf" / "NaN" written as a string.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => parse_num(s),
        _ => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn close(id: &str, got: f64, want: f64, tol: f64) {
    let ok = got == want || (got - want).abs() <= tol;
    assert!(ok, "{id}: got {got:.17}, anchor {want:.17}");
}

fn all_close(id: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{id}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        close(&format!("{id}[{k}]"), *g, *w, tol);
    }
}

/// (outcome, columns by name) of dcurves_df_cancer_dx.csv.
fn cancer_cohort() -> Option<(Vec<bool>, impl Fn(&str) -> Vec<f64>)> {
    let path = shared_file("conformance/stats/dcurves_df_cancer_dx.csv")?;
    let (h, rows) = read_plain_csv(&path);
    let y = column(&h, &rows, "cancer")
        .iter()
        .map(|c| *c == "1")
        .collect();
    Some((y, move |name: &str| {
        column(&h, &rows, name).into_iter().map(parse_num).collect()
    }))
}

#[test]
fn sklearn_auc_and_average_precision() {
    let Some((y, col)) = cancer_cohort() else {
        return;
    };
    let a = anchors();
    for (name, want) in a["binary"].as_object().expect("binary") {
        let s = col(name);
        close(
            &format!("{name}.auc"),
            auc(&s, &y).expect("auc"),
            num(&want["auc"]),
            TOL,
        );
        let ap = average_precision(&s, &y).expect("ap");
        close(
            &format!("{name}.ap"),
            ap,
            num(&want["average_precision"]),
            TOL,
        );
    }
}

#[test]
fn sklearn_calibration() {
    let Some((y, col)) = cancer_cohort() else {
        return;
    };
    let a = &anchors()["calibration"];
    let p = col("cancerpredmarker");
    close(
        "brier",
        brier_score(&p, &y).expect("brier"),
        num(&a["brier"]),
        TOL,
    );
    for (key, binning) in [
        ("uniform", Binning::EqualWidth),
        ("quantile", Binning::EqualCount),
    ] {
        let bins = reliability_bins(&p, &y, 10, binning).expect("bins");
        let observed: Vec<f64> = bins.iter().map(|b| b.observed_fraction).collect();
        let predicted: Vec<f64> = bins.iter().map(|b| b.mean_predicted).collect();
        all_close(
            &format!("{key}.observed"),
            &observed,
            &nums(&a[key]["observed"]),
            TOL,
        );
        all_close(
            &format!("{key}.predicted"),
            &predicted,
            &nums(&a[key]["predicted"]),
            TOL,
        );
    }
    // The anchors are iterative fits (newton-cg at tol 1e-12, brentq): agree to 1e-6.
    let fit = calibration_intercept_slope(&p, &y).expect("fit");
    close("slope", fit.slope, num(&a["slope"]), 1e-6);
    close(
        "slope intercept",
        fit.slope_model_intercept,
        num(&a["slope_model_intercept"]),
        1e-6,
    );
    close("intercept", fit.intercept, num(&a["intercept"]), 1e-6);
}

#[test]
fn scipy_proportion_intervals() {
    for case in anchors()["proportions"].as_array().expect("proportions") {
        let (k, n) = (num(&case["k"]) as usize, num(&case["n"]) as usize);
        let w = proportion_ci(k, n, 0.95, ProportionInterval::Wilson).expect("wilson");
        all_close(&format!("wilson {k}/{n}"), &w, &nums(&case["wilson"]), TOL);
        let cp = proportion_ci(k, n, 0.95, ProportionInterval::ClopperPearson).expect("cp");
        all_close(
            &format!("clopper-pearson {k}/{n}"),
            &cp,
            &nums(&case["clopper_pearson"]),
            TOL,
        );
    }
}

#[test]
fn sklearn_multiclass() {
    let a = &anchors()["multiclass"];
    let mut columns = vec![Vec::new(); 3];
    let mut classes = Vec::new();
    for i in 0..90_usize {
        let truth = i % 3;
        let raw: Vec<f64> = (0..3)
            .map(|c| ((i * 37 + c * 11) % 29) as f64 / 29.0 + if c == truth { 0.5 } else { 0.0 })
            .collect();
        let s = raw[0] + raw[1] + raw[2];
        for c in 0..3 {
            columns[c].push(raw[c] / s);
        }
        classes.push(truth);
    }
    let cols: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let ovr = one_vs_rest(&cols, &classes, 0.95).expect("ovr");
    let per_class: Vec<f64> = ovr.per_class.iter().map(|d| d.auc).collect();
    all_close("ovr per class", &per_class, &nums(&a["ovr_per_class"]), TOL);
    close("ovr macro", ovr.macro_auc, num(&a["ovr_macro"]), TOL);
    close(
        "ovr weighted",
        ovr.weighted_auc,
        num(&a["ovr_weighted"]),
        TOL,
    );
    close(
        "hand-till = ovo macro",
        hand_till(&cols, &classes).expect("ht").m,
        num(&a["ovo_macro"]),
        TOL,
    );
}

fn check_km(id: &str, km: &KaplanMeier, want: &Value) {
    all_close(
        &format!("{id}.times"),
        &km.times,
        &nums(&want["times"]),
        TOL,
    );
    all_close(
        &format!("{id}.survival"),
        &km.survival,
        &nums(&want["survival"]),
        TOL,
    );
    all_close(
        &format!("{id}.lower"),
        &km.lower,
        &nums(&want["lower"]),
        TOL,
    );
    all_close(
        &format!("{id}.upper"),
        &km.upper,
        &nums(&want["upper"]),
        TOL,
    );
    let median = km.median();
    close(
        &format!("{id}.median"),
        median.median,
        num(&want["median"]),
        TOL,
    );
    all_close(
        &format!("{id}.median_ci"),
        &median.ci,
        &nums(&want["median_ci"]),
        TOL,
    );
}

#[test]
fn lifelines_kaplan_meier_and_logrank_synthetic() {
    let a = &anchors()["survival"];
    let t: Vec<f64> = (0..97_usize)
        .map(|i| ((i * 53) % 97) as f64 / 10.0 + 0.1)
        .collect();
    let e: Vec<bool> = (0..97).map(|i| i % 4 != 0).collect();
    let g: Vec<usize> = (0..97).map(|i| i % 3).collect();
    check_km(
        "all",
        &kaplan_meier(&t, &e, 0.95).expect("km"),
        &a["synthetic_all"],
    );
    for k in 0..3 {
        let (tk, ek): (Vec<f64>, Vec<bool>) =
            (0..97).filter(|&i| g[i] == k).map(|i| (t[i], e[i])).unzip();
        check_km(
            &format!("group {k}"),
            &kaplan_meier(&tk, &ek, 0.95).expect("km"),
            &a["synthetic_groups"][k],
        );
    }
    let lr = logrank_test(&t, &e, &g).expect("logrank");
    close(
        "logrank chi2",
        lr.chi2,
        num(&a["synthetic_logrank"]["chi2"]),
        TOL,
    );
    close("logrank p", lr.p, num(&a["synthetic_logrank"]["p"]), TOL);
    assert_eq!(lr.df, 2);
}

#[test]
fn lifelines_on_dcurves_time_to_cancer() {
    let Some(path) = shared_file("conformance/stats/dcurves_df_time_to_cancer_dx.csv") else {
        return;
    };
    let a = &anchors()["survival"];
    let (h, rows) = read_plain_csv(&path);
    let t: Vec<f64> = column(&h, &rows, "ttcancer")
        .into_iter()
        .map(parse_num)
        .collect();
    let e: Vec<bool> = column(&h, &rows, "cancer")
        .iter()
        .map(|c| *c == "TRUE")
        .collect();
    let risk: Vec<usize> = column(&h, &rows, "risk_group")
        .iter()
        .map(|r| {
            ["low", "intermediate", "high"]
                .iter()
                .position(|x| x == r)
                .expect("risk group")
        })
        .collect();
    let fam: Vec<usize> = column(&h, &rows, "famhistory")
        .iter()
        .map(|f| usize::from(*f == "1"))
        .collect();
    check_km(
        "dcurves",
        &kaplan_meier(&t, &e, 0.95).expect("km"),
        &a["dcurves_all"],
    );
    for (key, groups) in [
        ("dcurves_logrank_risk_group", &risk),
        ("dcurves_logrank_famhistory", &fam),
    ] {
        let lr = logrank_test(&t, &e, groups).expect("logrank");
        close(&format!("{key}.chi2"), lr.chi2, num(&a[key]["chi2"]), TOL);
        // p of order 1e-26: compare relative to its size.
        let want_p = num(&a[key]["p"]);
        close(&format!("{key}.p"), lr.p, want_p, TOL.max(want_p * 1e-9));
    }
}

fn ellipsoid(shape: [usize; 3], centre: [f64; 3], radii: [f64; 3]) -> Vec<bool> {
    let mut m = Vec::with_capacity(shape.iter().product());
    for i in 0..shape[0] {
        for j in 0..shape[1] {
            for k in 0..shape[2] {
                let a = (i as f64 - centre[0]) / radii[0];
                let b = (j as f64 - centre[1]) / radii[1];
                let c = (k as f64 - centre[2]) / radii[2];
                m.push(a * a + b * b + c * c <= 1.0);
            }
        }
    }
    m
}

#[test]
fn medpy_style_segmentation_metrics() {
    let a = &anchors()["segmentation"];
    let (shape, spacing) = ([20, 24, 16], [2.5, 0.8, 0.8]);
    let va = ellipsoid(shape, [10.0, 12.0, 8.0], [6.0, 7.0, 4.0]);
    let vb = ellipsoid(shape, [11.0, 12.0, 7.5], [5.0, 8.0, 4.5]);
    let (ma, mb) = (
        Mask::new(&va, shape, spacing).expect("a"),
        Mask::new(&vb, shape, spacing).expect("b"),
    );
    close("dice", dice(&ma, &mb).expect("dice"), num(&a["dice"]), TOL);
    close(
        "jaccard",
        jaccard(&ma, &mb).expect("jaccard"),
        num(&a["jaccard"]),
        TOL,
    );
    close("volume", ma.volume_ml(), num(&a["volume_ml_a"]), TOL);
    close(
        "hd95",
        hausdorff95(&ma, &mb).expect("hd95"),
        num(&a["hd95"]),
        TOL,
    );
}

#[test]
fn scipy_nadeau_bengio() {
    let a = &anchors()["nadeau_bengio"];
    let r = corrected_resampled_t(
        &nums(&a["values"]),
        num(&a["n_train"]) as usize,
        num(&a["n_test"]) as usize,
        num(&a["null"]),
        0.95,
    )
    .expect("t-test");
    all_close("ci", &r.ci, &nums(&a["ci"]), TOL);
    close("t", r.t, num(&a["t"]), TOL);
    close("p", r.p, num(&a["p"]), TOL);
}
