//! Tests of the `ich-ct` generator and its ground truth.

use super::*;
use crate::data::synth::shapes::Lobe;
use crate::data::synth::truth::sim::binary_auc;
use crate::seed::rng_for;

#[test]
fn closed_form_bayes_aucs_match_simulated_latents_and_the_doc() {
    let mut rng = rng_for(99, &["ich-ct", "bayes"]);
    let draws: Vec<Latents> = (0..200_000).map(|_| draw_latents(&mut rng)).collect();
    let labels: Vec<bool> = draws.iter().map(|l| l.expansion).collect();
    let rate = labels.iter().filter(|&&e| e).count() as f64 / labels.len() as f64;
    assert!((rate - EXPANSION_RATE).abs() < 0.005, "{rate}");
    for (shape, satellites, exact, doc) in [
        (true, false, bayes_auc_shape(), "0.611"),
        (false, true, bayes_auc_satellites(), "0.942"),
        (true, true, bayes_auc_combined(), "0.950"),
    ] {
        let scores: Vec<f64> = draws
            .iter()
            .map(|l| bayes_score(l, shape, satellites))
            .collect();
        let simulated = binary_auc(&scores, &labels);
        assert!(
            (simulated - exact).abs() < 0.005,
            "shape={shape} satellites={satellites}: {simulated} vs {exact}"
        );
        assert_eq!(format!("{exact:.3}"), doc);
    }
    for expansion in [false, true] {
        let pmf = satellite_count_pmf(expansion);
        assert_eq!(pmf.len(), MAX_SATELLITES + 1);
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn cases_are_reproducible_and_well_formed() {
    let (a, la) = IchCt.generate_with_latents(6, 7);
    let (b, lb) = IchCt.generate_with_latents(6, 7);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    assert_eq!(a.image.grid.dims, DIMS);
    assert!(a.mask.grid.mismatch(&a.image.grid, 0.0).is_none());
    assert!(a.image.voxels.iter().all(|v| v.fract() == 0.0));
    assert_eq!(a.labels.get(LABEL).copied(), Some(i64::from(la.expansion)));
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

/// Per case: latents, mask voxels and bright voxels (55–200 HU) in the shell from two to
/// five voxels (about 14 mm in-plane) around the mask.
fn measured_signals(n: usize, seed: u64) -> Vec<(Latents, usize, f64)> {
    use rayon::prelude::*;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = IchCt.generate_with_latents(i, seed);
            let m = &case.mask.voxels;
            let v = &case.image.voxels;
            let near = dilate(m, DIMS, [1, 1, 1]);
            let far = dilate(m, DIMS, [5, 5, 2]);
            let bright = (0..m.len())
                .filter(|&n| far[n] == 1 && near[n] == 0 && (55.0..200.0).contains(&v[n]))
                .count() as f64;
            (latents, case.mask.count(1), bright)
        })
        .collect()
}

#[test]
fn every_mask_is_non_empty_and_the_satellites_are_visible() {
    let rows = measured_signals(40, 20240605);
    for (l, count, _) in &rows {
        // A 9–18 mm haematoma holds roughly 40–700 voxels of 39 mm³.
        assert!((25..1500).contains(count), "{count} voxels, {l:?}");
    }
    let k: Vec<f64> = rows.iter().map(|r| r.0.satellites as f64).collect();
    let any: Vec<bool> = rows.iter().map(|r| r.0.satellites > 0).collect();
    let bright: Vec<f64> = rows.iter().map(|r| r.2).collect();
    assert!(
        correlation(&k, &bright) > 0.8,
        "{}",
        correlation(&k, &bright)
    );
    assert!(
        binary_auc(&bright, &any) > 0.9,
        "{}",
        binary_auc(&bright, &any)
    );
}

#[test]
fn larger_lobes_lower_the_sphericity_of_the_mask() {
    use crate::features::FeatureFamily;
    use crate::features::settings::FeatureSettings;
    let grid = grid();
    let mut rng = rng_for(5, &["ich-ct", "lobes"]);
    let lobes = LobedBody::random_lobes(&mut rng, 6, 1.0, 5.0);
    let sphericity = |amplitude: f64| {
        let body = LobedBody {
            ellipsoid: Ellipsoid {
                centre: [20.0, 0.0, 0.0],
                radii: [15.0, 12.0, 13.0],
                angle: 0.3,
            },
            lobes: lobes
                .iter()
                .map(|l| Lobe {
                    amplitude: l.amplitude * amplitude,
                    ..l.clone()
                })
                .collect(),
        };
        let mut mask = empty_mask(&grid);
        VoxelBox::all(&grid).for_each(|i, j, k| {
            if body.contains(voxel_position(&grid, i, j, k)) {
                mask.voxels[grid.index(i, j, k)] = 1;
            }
        });
        let image = Image {
            grid: grid.clone(),
            voxels: vec![0.0; grid.len()],
        };
        let features = crate::features::shape::Shape
            .compute(&image, &mask, &FeatureSettings::default())
            .unwrap_or_default();
        features
            .iter()
            .find(|f| f.0 == "original_shape_Sphericity")
            .map_or(f64::NAN, |f| f.1)
    };
    let values: Vec<f64> = [0.05, 0.15, 0.4].map(sphericity).to_vec();
    assert!(
        values.windows(2).all(|w| w[1] < w[0]),
        "sphericity by lobe amplitude: {values:?}"
    );
}

/// Per case: latents and the pyradiomics-style 3-D shape features of the mask.
fn shape_features(n: usize, seed: u64) -> Vec<(Latents, Vec<(String, f64)>)> {
    use crate::features::FeatureFamily;
    use crate::features::settings::FeatureSettings;
    use rayon::prelude::*;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (case, latents) = IchCt.generate_with_latents(i, seed);
            let features = crate::features::shape::Shape
                .compute(&case.image, &case.mask, &FeatureSettings::default())
                .unwrap_or_default();
            (latents, features)
        })
        .collect()
}

#[test]
#[ignore = "slow: measures the shape-feature AUCs quoted in the module doc (--ignored --nocapture)"]
fn measure_shape_feature_aucs_for_the_doc() {
    let rows = shape_features(400, 20240605);
    let y: Vec<bool> = rows.iter().map(|r| r.0.expansion).collect();
    let u: Vec<f64> = rows.iter().map(|r| r.0.shape_score).collect();
    let names: Vec<String> = rows[0].1.iter().map(|f| f.0.clone()).collect();
    for (c, name) in names.iter().enumerate() {
        let x: Vec<f64> = rows.iter().map(|r| r.1[c].1).collect();
        let auc = binary_auc(&x, &y);
        eprintln!(
            "{name:>40}: AUC {:.3} (either direction {:.3}), corr with u {:+.3}",
            auc,
            auc.max(1.0 - auc),
            correlation(&x, &u)
        );
    }
    eprintln!("AUC of u itself on these cases: {:.3}", binary_auc(&u, &y));
    let bright: Vec<f64> = measured_signals(400, 20240605)
        .iter()
        .map(|r| r.2)
        .collect();
    eprintln!(
        "AUC of the bright-voxel count around the mask: {:.3}",
        binary_auc(&bright, &y)
    );
}
