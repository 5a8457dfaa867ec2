//! Tests of the `ceus-cine` generator and its ground truth.

use super::*;
use crate::data::synth::truth::sim::binary_auc;
use crate::seed::rng_for;

fn signals(tic: bool, pattern: bool, bmode: bool) -> Signals {
    Signals {
        tic,
        pattern,
        bmode,
    }
}

#[test]
fn closed_form_bayes_aucs_match_simulated_latents_and_the_doc() {
    let mut rng = rng_for(99, &["ceus-cine", "bayes"]);
    let draws: Vec<Latents> = (0..200_000).map(|_| draw_latents(&mut rng)).collect();
    let labels: Vec<bool> = draws.iter().map(|l| l.response).collect();
    let rate = labels.iter().filter(|&&r| r).count() as f64 / labels.len() as f64;
    assert!((rate - RESPONSE_RATE).abs() < 0.005, "{rate}");
    let table = [
        (signals(true, false, false), "0.802"),
        (signals(false, false, true), "0.802"),
        (signals(false, true, false), "0.871"),
        (signals(true, true, false), "0.921"),
        (signals(true, false, true), "0.885"),
        (signals(true, true, true), "0.950"),
    ];
    for (seen, doc) in table {
        let scores: Vec<f64> = draws.iter().map(|l| bayes_score(l, seen)).collect();
        let simulated = binary_auc(&scores, &labels);
        assert!(
            (simulated - bayes_auc(seen)).abs() < 0.005,
            "{seen:?}: {simulated} vs {}",
            bayes_auc(seen)
        );
        assert_eq!(format!("{:.3}", bayes_auc(seen)), doc, "{seen:?}");
    }
}

#[test]
fn gamma_variate_peaks_at_one() {
    assert_eq!(gamma_variate(5.0, 8.0, 9.0, 2.0), 0.0);
    assert!((gamma_variate(17.0, 8.0, 9.0, 2.0) - 1.0).abs() < 1e-12);
    assert!(gamma_variate(16.0, 8.0, 9.0, 2.0) < 1.0);
    assert!(gamma_variate(18.0, 8.0, 9.0, 2.0) < 1.0);
}

#[test]
fn cases_are_reproducible_and_well_formed() {
    let (a, la) = CeusCine.generate_with_latents(1, 7);
    let (b, lb) = CeusCine.generate_with_latents(1, 7);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_eq!(a.image.grid.dims, DIMS);
    assert_eq!(a.image.grid.spacing[2], 1.5, "seconds per frame");
    assert_eq!(a.image.grid.origin[2], 0.0, "frame 0 at t = 0");
    let bmode = &a.channels[BMODE];
    assert!(bmode.grid.mismatch(&a.image.grid, 0.0).is_none());
    for (voxels, top) in [(&a.image.voxels, 32767.0), (&bmode.voxels, 255.0)] {
        assert!(
            voxels
                .iter()
                .all(|v| v.fract() == 0.0 && (0.0..=top).contains(v))
        );
    }
    // The ROI is the same on every frame.
    let plane = DIMS[0] * DIMS[1];
    let first = &a.mask.voxels[..plane];
    assert!(first.contains(&1));
    assert!(a.mask.voxels.chunks(plane).all(|frame| frame == first));
    assert_eq!(a.labels.get(LABEL).copied(), Some(i64::from(la.response)));
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

/// Mean and SD of `values` over the ROI pixels of one frame.
fn roi_stats(values: &[f64], roi: &[usize]) -> (f64, f64) {
    let n = roi.len() as f64;
    let mean = roi.iter().map(|&q| values[q]).sum::<f64>() / n;
    let var = roi.iter().map(|&q| (values[q] - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn each_signal_is_visible_and_the_tic_is_blind_to_the_pattern() {
    use rayon::prelude::*;
    let plane = DIMS[0] * DIMS[1];
    let rows: Vec<(Latents, [f64; 3])> = (0..40)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = CeusCine.generate_with_latents(i, 20240604);
            let roi: Vec<usize> = (0..plane).filter(|&q| case.mask.voxels[q] == 1).collect();
            let frames: Vec<&[f64]> = case.image.voxels.chunks(plane).collect();
            // T: the peak of the ROI-mean curve.
            let curve: Vec<f64> = frames.iter().map(|f| roi_stats(f, &roi).0).collect();
            let peak_frame = (0..curve.len())
                .max_by(|&a, &b| curve[a].total_cmp(&curve[b]))
                .unwrap_or(0);
            // P: spatial coefficient of variation of the ROI over five frames around the
            // peak (averaging frames removes most of the speckle).
            let around = peak_frame.saturating_sub(2)..(peak_frame + 3).min(frames.len());
            let count = around.len() as f64;
            let averaged: Vec<f64> = (0..plane)
                .map(|q| around.clone().map(|k| frames[k][q]).sum::<f64>() / count)
                .collect();
            let (mean, sd) = roi_stats(&averaged, &roi);
            // B: SD of the first B-mode frame in the ROI.
            let bmode = &case.channels[BMODE].voxels[..plane];
            (
                latents,
                [curve[peak_frame].ln(), sd / mean, roi_stats(bmode, &roi).1],
            )
        })
        .collect();
    let column = |c: usize| rows.iter().map(|r| r.1[c]).collect::<Vec<f64>>();
    let w: Vec<f64> = rows.iter().map(|r| r.0.tic_score).collect();
    let kappa: Vec<f64> = rows
        .iter()
        .map(|r| phi(r.0.pattern_score - PATTERN_SEPARATION / 2.0))
        .collect();
    let b: Vec<f64> = rows.iter().map(|r| r.0.bmode_score).collect();
    let (peak, spread, texture) = (column(0), column(1), column(2));
    assert!(correlation(&w, &peak) > 0.8, "{}", correlation(&w, &peak));
    assert!(
        correlation(&kappa, &spread) > 0.8,
        "{}",
        correlation(&kappa, &spread)
    );
    assert!(
        correlation(&b, &texture) > 0.8,
        "{}",
        correlation(&b, &texture)
    );
    // The ROI-mean curve does not carry the pattern beyond what sampling noise allows.
    let residual = correlation(&kappa, &peak);
    let between_latents = correlation(&kappa, &w);
    assert!(
        (residual - between_latents).abs() < 0.25,
        "pattern leaks into the TIC: {residual} vs {between_latents}"
    );
}
