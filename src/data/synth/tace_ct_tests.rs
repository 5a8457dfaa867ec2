//! Tests of the `tace-ct` generator and its ground truth.

use super::*;
use crate::data::synth::truth::posteriors;
use crate::data::synth::truth::sim::{binary_auc, multiclass_truth};
use crate::seed::rng_for;

const ALL: Signals = Signals {
    deposit: true,
    margin: true,
    nodule: true,
};

#[test]
fn bayes_accuracy_and_ovr_aucs_match_the_doc() {
    let mut rng = rng_for(99, &["tace-ct", "bayes"]);
    let draws: Vec<Latents> = (0..200_000).map(|_| draw_latents(&mut rng)).collect();
    let classes: Vec<usize> = draws.iter().map(|l| l.response).collect();
    for (y, prior) in CLASS_PRIORS.iter().enumerate() {
        let share = classes.iter().filter(|&&c| c == y).count() as f64 / 200_000.0;
        assert!((share - prior).abs() < 0.005, "class {y}: {share}");
    }
    let site_a = draws.iter().filter(|l| l.site == 0).count() as f64 / 200_000.0;
    assert!((site_a - 0.70).abs() < 0.005, "site A share {site_a}");
    // The doc's table: accuracy, then the AUC of CR, PR, SD, PD.
    let table = [
        (
            Signals {
                deposit: true,
                margin: false,
                nodule: false,
            },
            [0.606, 0.864, 0.824, 0.870, 0.805],
        ),
        (
            Signals {
                deposit: true,
                margin: true,
                nodule: false,
            },
            [0.754, 0.986, 0.956, 0.883, 0.816],
        ),
        (ALL, [0.867, 0.986, 0.960, 0.964, 0.969]),
    ];
    for (seen, expected) in table {
        let post: Vec<Vec<f64>> = draws
            .iter()
            .map(|l| posteriors(&class_log_likelihoods(l, seen), &CLASS_PRIORS))
            .collect();
        let (aucs, accuracy) = multiclass_truth(&post, &classes);
        let simulated = [accuracy, aucs[0], aucs[1], aucs[2], aucs[3]];
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
    let (a, la) = TaceCt.generate_with_latents(3, 7);
    let (b, lb) = TaceCt.generate_with_latents(3, 7);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let (c, _) = TaceCt.generate_with_latents(4, 7);
    assert_ne!(a.image.voxels, c.image.voxels);
    assert_eq!(a.image.grid.dims, DIMS);
    assert!(a.mask.grid.mismatch(&a.image.grid, 0.0).is_none());
    assert!(
        a.image
            .voxels
            .iter()
            .all(|v| v.fract() == 0.0 && (-1024.0..=3071.0).contains(v))
    );
    assert_eq!(
        a.labels.get(LABEL).copied(),
        Some(la.response as i64),
        "label"
    );
    assert!(a.channels.is_empty() && a.time.is_none());
}

/// Mean over the 3 × 3 in-plane neighbourhood (clipped at the border).
fn local_mean(voxels: &[f64], dims: [usize; 3], n: usize) -> f64 {
    let (i, j, k) = (
        n % dims[0],
        (n / dims[0]) % dims[1],
        n / (dims[0] * dims[1]),
    );
    let mut sum = 0.0;
    let mut count = 0.0;
    for jj in j.saturating_sub(1)..(j + 2).min(dims[1]) {
        for ii in i.saturating_sub(1)..(i + 2).min(dims[0]) {
            sum += voxels[ii + dims[0] * (jj + dims[1] * k)];
            count += 1.0;
        }
    }
    sum / count
}

/// Pearson correlation.
fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

#[test]
fn every_mask_is_non_empty_and_each_signal_is_visible_in_the_images() {
    use rayon::prelude::*;
    let rows: Vec<(Latents, f64, f64, f64, usize)> = (0..48)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = TaceCt.generate_with_latents(i, 20240601);
            let dims = case.mask.grid.dims;
            let v = &case.image.voxels;
            let inside: Vec<usize> = (0..v.len()).filter(|&n| case.mask.voxels[n] == 1).collect();
            // D: share of mask voxels brighter than 150 HU (deposit).
            let dense = inside.iter().filter(|&&n| v[n] > 150.0).count() as f64;
            let deposit = dense / inside.len() as f64;
            // M: share of the 1–4 voxel shell brighter than 110 HU (halo).
            let near = dilate(&case.mask.voxels, dims, [1, 1, 1]);
            let ring = dilate(&case.mask.voxels, dims, [4, 4, 1]);
            let shell: Vec<usize> = (0..v.len())
                .filter(|&n| ring[n] == 1 && near[n] == 0)
                .collect();
            let bright = shell.iter().filter(|&&n| v[n] > 110.0).count() as f64;
            let halo = bright / shell.len() as f64;
            // N: darkest 3 × 3 local mean up to about 14 mm outside the mask.
            let far = dilate(&case.mask.voxels, dims, [16, 16, 3]);
            let darkest = (0..v.len())
                .filter(|&n| far[n] == 1 && near[n] == 0)
                .map(|n| -local_mean(v, dims, n))
                .fold(f64::NEG_INFINITY, f64::max);
            (latents, deposit, halo, darkest, inside.len())
        })
        .collect();
    for (l, _, _, _, count) in &rows {
        // An 8–13 mm tumour holds roughly 700–5000 voxels of 2 mm³.
        assert!((500..8000).contains(count), "{count} voxels, {l:?}");
    }
    let f: Vec<f64> = rows
        .iter()
        .map(|r| deposit_fraction(r.0.deposit_score))
        .collect();
    let h: Vec<f64> = rows
        .iter()
        .map(|r| margin_fraction(r.0.margin_score))
        .collect();
    let deposit: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let halo: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let darkest: Vec<f64> = rows.iter().map(|r| r.3).collect();
    let nodule: Vec<bool> = rows.iter().map(|r| r.0.new_nodule).collect();
    assert!(
        correlation(&f, &deposit) > 0.95,
        "{}",
        correlation(&f, &deposit)
    );
    assert!(correlation(&h, &halo) > 0.8, "{}", correlation(&h, &halo));
    assert!(
        binary_auc(&darkest, &nodule) > 0.9,
        "{}",
        binary_auc(&darkest, &nodule)
    );
}
