//! Tests of the `spleen-ct` generator and its ground truth.

use super::*;
use crate::data::synth::truth::sim::binary_auc;
use crate::seed::rng_for;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn survival_truth_matches_the_doc() {
    let mut rng = rng_for(99, &["spleen-ct", "bayes"]);
    let draws: Vec<Latents> = (0..200_000).map(|_| draw_latents(&mut rng)).collect();
    let n = draws.len() as f64;
    let volumes: Vec<f64> = draws.iter().map(|l| volume_ml(l.volume_score)).collect();
    let mean_volume = volumes.iter().sum::<f64>() / n;
    assert!(
        (mean_volume - 550.0).abs() < 3.0,
        "mean volume {mean_volume}"
    );
    assert_eq!(format!("{:.4}", log_volume_offset()), "6.1302");
    let labels: Vec<bool> = draws.iter().map(|l| l.decompensation).collect();
    let rate = labels.iter().filter(|&&d| d).count() as f64 / n;
    assert!((rate - DECOMPENSATION_RATE).abs() < 0.005, "{rate}");
    let simulated = binary_auc(&volumes, &labels);
    assert!((simulated - bayes_auc_decompensation()).abs() < 0.005);
    assert_eq!(format!("{:.3}", bayes_auc_decompensation()), "0.760");

    let censored = draws
        .iter()
        .filter(|l| l.survival_months > l.censoring_months)
        .count() as f64
        / n;
    assert!((censored - 0.30).abs() < 0.01, "censoring {censored}");
    let split = median(&mut volumes.clone());
    let mut low: Vec<f64> = draws
        .iter()
        .zip(&volumes)
        .filter(|(_, v)| **v <= split)
        .map(|(l, _)| l.survival_months)
        .collect();
    let mut high: Vec<f64> = draws
        .iter()
        .zip(&volumes)
        .filter(|(_, v)| **v > split)
        .map(|(l, _)| l.survival_months)
        .collect();
    let (low, high) = (median(&mut low), median(&mut high));
    let exact = [false, true].map(median_survival_by_volume_half);
    assert!(
        (low - exact[0]).abs() < 0.3,
        "median survival, low volume {low}"
    );
    assert!(
        (high - exact[1]).abs() < 0.3,
        "median survival, high volume {high}"
    );
    assert_eq!(format!("{:.1} {:.1}", exact[0], exact[1]), "21.8 13.1");
    // Concordance: P(T_i < T_j | V_i > V_j) = V_i / (V_i + V_j), averaged over pairs.
    let pairs = volumes.chunks_exact(2);
    let concordance = pairs
        .clone()
        .map(|p| p[0].max(p[1]) / (p[0] + p[1]))
        .sum::<f64>()
        / pairs.len() as f64;
    assert!(
        (concordance - 0.600).abs() < 0.005,
        "concordance {concordance}"
    );
    // The survival function is the one the times are drawn from.
    let at_median = survival_function(REFERENCE_MEDIAN_MONTHS, 550.0);
    assert!((at_median - 0.5).abs() < 1e-12);
}

#[test]
fn cases_are_reproducible_and_well_formed() {
    let (a, la) = SpleenCt.generate_with_latents(2, 7);
    let (b, lb) = SpleenCt.generate_with_latents(2, 7);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_eq!(a.image.grid.dims, DIMS);
    assert!(a.mask.grid.mismatch(&a.image.grid, 0.0).is_none());
    assert!(a.image.voxels.iter().all(|v| v.fract() == 0.0));
    assert_eq!(
        a.labels.get(LABEL).copied(),
        Some(i64::from(la.decompensation))
    );
    let time = a.time.unwrap_or(f64::NAN);
    assert!(time > 0.0 && time <= 48.0, "time {time}");
    assert_eq!(a.event, Some(la.survival_months <= la.censoring_months));
}

#[test]
fn mask_volume_tracks_the_latent_volume() {
    use rayon::prelude::*;
    let rows: Vec<(f64, f64, f64)> = (0..24)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = SpleenCt.generate_with_latents(i, 20240602);
            let measured = case.mask.count(1) as f64 * case.mask.grid.voxel_volume_mm3() / 1000.0;
            let inside: Vec<f64> = (0..case.mask.voxels.len())
                .filter(|&n| case.mask.voxels[n] == 1)
                .map(|n| case.image.voxels[n])
                .collect();
            let mean_hu = inside.iter().sum::<f64>() / inside.len() as f64;
            (volume_ml(latents.volume_score), measured, mean_hu)
        })
        .collect();
    for (latent, measured, mean_hu) in &rows {
        let ratio = measured / latent;
        assert!(
            (0.85..1.1).contains(&ratio),
            "latent {latent:.0} mL, mask {measured:.0} mL"
        );
        assert!((95.0..145.0).contains(mean_hu), "spleen mean {mean_hu} HU");
    }
}
