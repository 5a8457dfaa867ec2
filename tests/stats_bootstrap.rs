//! Bootstrap checks on aSAH: radbench's stratified percentile CI of the AUC (2,000 replicates)
//! must lie within ±0.01 of an independent numpy implementation
//! (`scripts/bootstrap_reference.py`, quantile type 7), and be bit-identical across runs and
//! across 1 vs 2 rayon threads.

use radbench::eval::bootstrap::{AucDifference, Aucs, Bootstrap, BootstrapSpec, bootstrap};
use radbench::eval::delong::delong_paired_test;

use crate::util::{column, parse_num, read_plain_csv, shared_file};

/// `python scripts/bootstrap_reference.py aSAH.csv 2000 20240424`: marker, lower, upper.
const NUMPY_2000: [(&str, f64, f64); 3] = [
    ("wfns", 0.743390, 0.891091),
    ("ndka", 0.503557, 0.716641),
    ("s100b", 0.625838, 0.833172),
];
/// The same with 100,000 replicates (seed 7): the reference with negligible Monte Carlo error.
const NUMPY_100K: [(&str, f64, f64); 3] = [
    ("wfns", 0.745257, 0.893293),
    ("ndka", 0.501186, 0.720190),
    ("s100b", 0.626016, 0.827913),
];

/// Named marker columns.
type Markers = Vec<(String, Vec<f64>)>;

fn asah() -> Option<(Vec<bool>, Markers)> {
    let path = shared_file("conformance/stats/aSAH.csv")?;
    let (h, rows) = read_plain_csv(&path);
    let poor = column(&h, &rows, "outcome")
        .iter()
        .map(|o| *o == "Poor")
        .collect();
    let markers = ["wfns", "ndka", "s100b"]
        .iter()
        .map(|m| {
            (
                m.to_string(),
                column(&h, &rows, m).into_iter().map(parse_num).collect(),
            )
        })
        .collect();
    Some((poor, markers))
}

fn run(markers: &[(String, Vec<f64>)], labels: &[bool], threads: usize) -> Bootstrap {
    let scores: Vec<&[f64]> = markers.iter().map(|(_, s)| s.as_slice()).collect();
    let stat = Aucs::new(&scores, labels).expect("valid AUC statistic");
    let spec = BootstrapSpec {
        replicates: 2000,
        seed: 20240424,
        stratified: true,
        level: 0.95,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| bootstrap(&stat, labels, &spec))
        .expect("bootstrap")
}

#[test]
fn stratified_percentile_ci_agrees_with_numpy_reference() {
    let Some((labels, markers)) = asah() else {
        return;
    };
    let result = run(&markers, &labels, 2);
    for (k, (name, _)) in markers.iter().enumerate() {
        let [lo, hi] = result.percentile[k];
        eprintln!(
            "{name}: radbench percentile [{lo:.6}, {hi:.6}], BCa {:?}",
            result.bca[k]
        );
        for reference in [&NUMPY_2000, &NUMPY_100K] {
            let (_, ref_lo, ref_hi) = reference.iter().find(|r| r.0 == name).expect("marker");
            assert!(
                (lo - ref_lo).abs() <= 0.01,
                "{name} lower {lo} vs numpy {ref_lo}"
            );
            assert!(
                (hi - ref_hi).abs() <= 0.01,
                "{name} upper {hi} vs numpy {ref_hi}"
            );
        }
        assert_eq!(result.undefined_replicates[k], 0);
        assert!(result.bca[k][0] < result.estimate[k] && result.estimate[k] < result.bca[k][1]);
    }
}

#[test]
fn bootstrap_is_bit_identical_across_runs_and_thread_counts() {
    let Some((labels, markers)) = asah() else {
        return;
    };
    let one = run(&markers, &labels, 1);
    let two = run(&markers, &labels, 2);
    let again = run(&markers, &labels, 2);
    let bits = |b: &Bootstrap| -> Vec<u64> {
        b.distribution
            .iter()
            .flatten()
            .chain(b.percentile.iter().flatten())
            .chain(b.bca.iter().flatten())
            .map(|v| v.to_bits())
            .collect()
    };
    assert_eq!(bits(&one), bits(&two));
    assert_eq!(bits(&two), bits(&again));
}

#[test]
fn paired_bootstrap_difference_is_close_to_delong() {
    let Some((labels, markers)) = asah() else {
        return;
    };
    let (wfns, s100b) = (&markers[0].1, &markers[2].1);
    let stat = AucDifference::new(wfns, s100b, &labels).expect("valid");
    let spec = BootstrapSpec {
        replicates: 2000,
        seed: 1,
        stratified: true,
        level: 0.95,
    };
    let boot = bootstrap(&stat, &labels, &spec).expect("bootstrap");
    let delong = delong_paired_test(wfns, s100b, &labels, 0.95).expect("delong");
    assert_eq!(boot.estimate[0], delong.difference);
    // Different methods, same quantity: the SEs agree to within 15%.
    let delong_se = (delong.ci[1] - delong.difference) / 1.959963984540054;
    assert!(
        (boot.standard_error[0] / delong_se - 1.0).abs() < 0.15,
        "{} vs {}",
        boot.standard_error[0],
        delong_se
    );
}
