//! dcurves conformance: net benefit and its companions on dcurves' example cohort, against
//! the Python package's output (`dcurves_expected.csv`) and the R package's
//! (`dcurves_R_expected_famhistory.csv`), to 1e-9 absolute.
//!
//! Deferred: `dcurves_R_expected_surv_cancerpredmarker_t1.csv` is a time-to-event decision
//! curve (risk among test-positives by Kaplan–Meier); radbench has no survival DCA.

use std::collections::BTreeMap;

use radbench::eval::dca::{
    DecisionCurve, net_benefit_curve, threshold_grid, treat_all_curve, treat_none_curve,
};

use crate::util::{column, parse_num, read_plain_csv, shared_file};

const TOL: f64 = 1e-9;

struct Cohort {
    cancer: Vec<bool>,
    famhistory: Vec<f64>,
    cancerpredmarker: Vec<f64>,
}

fn cohort() -> Option<Cohort> {
    let path = shared_file("conformance/stats/dcurves_df_cancer_dx.csv")?;
    let (h, rows) = read_plain_csv(&path);
    let nums = |c: &str| {
        column(&h, &rows, c)
            .into_iter()
            .map(parse_num)
            .collect::<Vec<_>>()
    };
    Some(Cohort {
        cancer: nums("cancer").iter().map(|&c| c == 1.0).collect(),
        famhistory: nums("famhistory"),
        cancerpredmarker: nums("cancerpredmarker"),
    })
}

fn curve_for(model: &str, data: &Cohort, thresholds: &[f64]) -> DecisionCurve {
    let curve = match model {
        "all" => treat_all_curve(&data.cancer, thresholds),
        "none" => treat_none_curve(&data.cancer, thresholds),
        "famhistory" => net_benefit_curve(&data.famhistory, &data.cancer, thresholds, 0.0),
        "cancerpredmarker" => {
            net_benefit_curve(&data.cancerpredmarker, &data.cancer, thresholds, 0.0)
        }
        other => panic!("unknown dcurves model {other:?}"),
    };
    curve.unwrap_or_else(|e| panic!("{model}: {e}"))
}

fn assert_close(id: &str, got: f64, want: f64) {
    let ok = (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= TOL;
    assert!(ok, "{id}: got {got:.17}, dcurves {want:.17}");
}

/// Rows of an expected file grouped by model, in file order.
fn by_model(
    header: &[String],
    rows: &[Vec<String>],
    model_column: &str,
) -> BTreeMap<String, Vec<usize>> {
    let models = column(header, rows, model_column);
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (r, m) in models.iter().enumerate() {
        groups.entry(m.to_string()).or_default().push(r);
    }
    groups
}

#[test]
fn dcurves_python_expected() {
    let Some(data) = cohort() else { return };
    let Some(path) = shared_file("conformance/stats/dcurves_expected.csv") else {
        return;
    };
    let (h, rows) = read_plain_csv(&path);
    let groups = by_model(&h, &rows, "model");
    assert_eq!(groups.len(), 4);
    let col = |name: &str| column(&h, &rows, name);
    let threshold = col("threshold");
    for (model, idx) in &groups {
        let thresholds: Vec<f64> = idx.iter().map(|&r| parse_num(threshold[r])).collect();
        assert_eq!(thresholds, threshold_grid(0.01, 0.99, 0.01).expect("grid"));
        let got = curve_for(model, &data, &thresholds);
        let columns: [(&str, &[f64]); 6] = [
            ("test_pos_rate", &got.test_positive_rate),
            ("tp_rate", &got.tp_rate),
            ("fp_rate", &got.fp_rate),
            ("net_benefit", &got.net_benefit),
            ("net_intervention_avoided", &got.net_interventions_avoided),
            ("harm", &vec![got.harm; thresholds.len()]),
        ];
        for (k, &r) in idx.iter().enumerate() {
            let id = format!("{model}@{}", thresholds[k]);
            assert_close(&format!("{id}.n"), got.n as f64, parse_num(col("n")[r]));
            assert_close(
                &format!("{id}.prevalence"),
                got.prevalence,
                parse_num(col("prevalence")[r]),
            );
            for (name, values) in columns {
                assert_close(&format!("{id}.{name}"), values[k], parse_num(col(name)[r]));
            }
        }
    }
}

#[test]
fn dcurves_r_expected_famhistory() {
    let Some(data) = cohort() else { return };
    let Some(path) = shared_file("conformance/stats/dcurves_R_expected_famhistory.csv") else {
        return;
    };
    let (h, rows) = read_plain_csv(&path);
    let groups = by_model(&h, &rows, "variable");
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["all", "famhistory", "none"]
    );
    let col = |name: &str| column(&h, &rows, name);
    for (model, idx) in &groups {
        let thresholds: Vec<f64> = idx
            .iter()
            .map(|&r| parse_num(col("threshold")[r]))
            .collect();
        // R's seq() leaves some thresholds an ulp off k/100 (0.35000000000000003); use the
        // file's values as they are.
        let grid = threshold_grid(0.0, 0.99, 0.01).expect("grid");
        assert_eq!(thresholds.len(), grid.len());
        assert!(
            thresholds
                .iter()
                .zip(&grid)
                .all(|(a, b)| (a - b).abs() < 1e-15)
        );
        let got = curve_for(model, &data, &thresholds);
        for (k, &r) in idx.iter().enumerate() {
            let id = format!("R {model}@{}", thresholds[k]);
            assert_close(&format!("{id}.n"), got.n as f64, parse_num(col("n")[r]));
            assert_close(
                &format!("{id}.pos_rate"),
                got.prevalence,
                parse_num(col("pos_rate")[r]),
            );
            assert_close(
                &format!("{id}.tp_rate"),
                got.tp_rate[k],
                parse_num(col("tp_rate")[r]),
            );
            assert_close(
                &format!("{id}.fp_rate"),
                got.fp_rate[k],
                parse_num(col("fp_rate")[r]),
            );
            assert_close(&format!("{id}.harm"), got.harm, parse_num(col("harm")[r]));
            assert_close(
                &format!("{id}.nb"),
                got.net_benefit[k],
                parse_num(col("net_benefit")[r]),
            );
        }
    }
}

#[test]
fn dcurves_survival_curve_is_deferred() {
    // Listed, not silently skipped: the time-to-event decision curve needs a Kaplan–Meier risk
    // among test-positives, which radbench's DCA does not implement.
    if let Some(path) =
        shared_file("conformance/stats/dcurves_R_expected_surv_cancerpredmarker_t1.csv")
    {
        assert!(path.is_file(), "{} missing", path.display());
        eprintln!(
            "deferred: {} (survival decision curve not built)",
            path.display()
        );
    }
}
