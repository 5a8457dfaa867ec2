//! Tests of the `mri-liver-3class` generator and its ground truth.

use super::*;
use crate::data::synth::shapes::dilate;
use crate::data::synth::truth::posteriors;
use crate::data::synth::truth::sim::{binary_auc, multiclass_truth};
use crate::seed::rng_for;

#[test]
fn bayes_accuracy_and_ovr_aucs_match_the_doc() {
    let mut rng = rng_for(99, &["mri-liver-3class", "bayes"]);
    let draws: Vec<Latents> = (0..200_000).map(|_| draw_latents(&mut rng)).collect();
    let classes: Vec<usize> = draws.iter().map(|l| l.lesion_class).collect();
    for (y, prior) in CLASS_PRIORS.iter().enumerate() {
        let share = classes.iter().filter(|&&c| c == y).count() as f64 / 200_000.0;
        assert!((share - prior).abs() < 0.005, "class {y}: {share}");
    }
    // The doc's table: accuracy, AUC benign, primary, metastatic, malignant vs benign.
    let table = [
        (Sequences::T2, [0.548, 0.830, 0.740, 0.641, 0.830]),
        (Sequences::T2Dwi, [0.811, 0.958, 0.919, 0.941, 0.958]),
        (Sequences::All, [0.875, 0.981, 0.971, 0.960, 0.981]),
    ];
    for (seen, expected) in table {
        let post: Vec<Vec<f64>> = draws
            .iter()
            .map(|l| posteriors(&class_log_likelihoods(l, seen), &CLASS_PRIORS))
            .collect();
        let (aucs, accuracy) = multiclass_truth(&post, &classes);
        let malignant: Vec<f64> = post.iter().map(|p| 1.0 - p[0]).collect();
        let is_malignant: Vec<bool> = classes.iter().map(|&y| y != 0).collect();
        let versus_benign = binary_auc(&malignant, &is_malignant);
        let simulated = [accuracy, aucs[0], aucs[1], aucs[2], versus_benign];
        // The stream is fixed, so the tolerance covers only the doc's rounding; the sampling
        // error of 200,000 draws (SE about 0.001–0.002) is what separates these from the
        // exact values.
        for (s, e) in simulated.iter().zip(expected) {
            assert!(
                (s - e).abs() < 0.0015,
                "{seen:?}: simulated {simulated:.3?} vs doc {expected:?}"
            );
        }
    }
}

#[test]
fn cases_are_reproducible_and_well_formed() {
    let (a, la) = MriLiver3Class.generate_with_latents(5, 7);
    let (b, lb) = MriLiver3Class.generate_with_latents(5, 7);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_eq!(a.image.grid.dims, DIMS);
    let names: Vec<&str> = a.channels.keys().map(String::as_str).collect();
    assert_eq!(names, CHANNELS);
    for channel in a.channels.values() {
        assert!(channel.grid.mismatch(&a.image.grid, 0.0).is_none());
        assert!(
            channel
                .voxels
                .iter()
                .all(|v| v.fract() == 0.0 && (0.0..=32767.0).contains(v))
        );
    }
    assert_eq!(a.labels.get(LABEL).copied(), Some(la.lesion_class as i64));
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

fn mean_over(values: &[f64], voxels: &[usize]) -> f64 {
    voxels.iter().map(|&n| values[n]).sum::<f64>() / voxels.len() as f64
}

#[test]
fn every_mask_is_non_empty_and_each_signal_is_visible_in_the_images() {
    use rayon::prelude::*;
    let rows: Vec<(Latents, [f64; 3])> = (0..36)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = MriLiver3Class.generate_with_latents(i, 20240603);
            let m = &case.mask.voxels;
            let outside: Vec<u8> = m.iter().map(|&v| u8::from(v == 0)).collect();
            let near_outside = dilate(&outside, DIMS, [2, 2, 0]);
            let around = dilate(m, DIMS, [6, 6, 1]);
            let idx = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
                (0..m.len()).filter(|&n| keep(n)).collect()
            };
            let lesion = idx(&|n| m[n] == 1);
            let core = idx(&|n| m[n] == 1 && near_outside[n] == 0);
            let shell = idx(&|n| m[n] == 1 && near_outside[n] == 1);
            let liver = idx(&|n| m[n] == 0 && around[n] == 1);
            assert!(lesion.len() > 40 && !core.is_empty(), "case {i}");
            let dwi = &case.channels["dwi"].voxels;
            let arterial = &case.channels["t1_arterial"].voxels;
            let log_ratio =
                |v: &[f64], a: &[usize], b: &[usize]| (mean_over(v, a) / mean_over(v, b)).ln();
            (
                latents,
                [
                    log_ratio(&case.image.voxels, &lesion, &liver),
                    log_ratio(dwi, &shell, &core),
                    log_ratio(arterial, &lesion, &liver),
                ],
            )
        })
        .collect();
    for (score, measure, floor) in [(0, 0, 0.95), (2, 1, 0.8), (3, 2, 0.8)] {
        let latent: Vec<f64> = rows.iter().map(|r| r.0.scores[score]).collect();
        let seen: Vec<f64> = rows.iter().map(|r| r.1[measure]).collect();
        let r = correlation(&latent, &seen);
        assert!(r > floor, "score {score}: correlation {r}");
    }
}
