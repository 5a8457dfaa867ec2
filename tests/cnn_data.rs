//! Tiny synthetic image cohorts for the CNN tests: a noisy volume with a spherical lesion whose
//! intensity (and, for class 2 of three-class cohorts, texture) depends on the label.

use radbench::data::image::{Grid, Image, Mask};
use radbench::models::cnn::input::{Layout, Normalise, PatchSpec, Sample, extract};
use radbench::seed::rng_for;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// One synthetic case: image, mask, label.
pub struct Case {
    /// Case id.
    pub id: String,
    /// Image.
    pub image: Image,
    /// Lesion mask.
    pub mask: Mask,
    /// Class label.
    pub label: usize,
}

/// `n` cases of a `classes`-class cohort on a 24×24×6 grid; `contrast` sets how far the lesion
/// intensity of class c lies from the background (c · contrast).
pub fn cohort(seed: u64, scenario: &str, n: usize, classes: usize, contrast: f64) -> Vec<Case> {
    let grid = Grid::new([24, 24, 6], [1.0, 1.0, 2.0]);
    (0..n)
        .map(|c| {
            let id = format!("{scenario}-{c:03}");
            let mut rng = rng_for(seed, &["cnn-test-cohort", scenario, &id]);
            let label = c % classes;
            let centre = [
                rng.random_range(9.0..15.0),
                rng.random_range(9.0..15.0),
                rng.random_range(2.0..4.0),
            ];
            let radius: f64 = rng.random_range(3.0..5.0);
            let mut voxels = vec![0.0; grid.len()];
            let mut mask = vec![0u8; grid.len()];
            for k in 0..6 {
                for j in 0..24 {
                    for i in 0..24 {
                        let d = [
                            i as f64 - centre[0],
                            j as f64 - centre[1],
                            (k as f64 - centre[2]) * 2.0,
                        ];
                        let inside = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() <= radius;
                        let noise: f64 = StandardNormal.sample(&mut rng);
                        let idx = grid.index(i, j, k);
                        voxels[idx] = 100.0 + 10.0 * noise;
                        if inside {
                            mask[idx] = 1;
                            voxels[idx] += 10.0 * contrast * label as f64;
                        }
                    }
                }
            }
            Case {
                id,
                image: Image {
                    grid: grid.clone(),
                    voxels,
                },
                mask: Mask {
                    grid: grid.clone(),
                    voxels: mask,
                },
                label,
            }
        })
        .collect()
}

/// The 2-D patches (k largest slices, 16×16, z-scored) of every case, with one label per patch.
pub fn patches(cases: &[Case], k: usize) -> (Vec<Sample>, Vec<usize>) {
    let spec = PatchSpec {
        layout: Layout::Slices2d { k },
        size: [16, 16],
        normalise: Normalise::ZScore,
        mask_channel: false,
    };
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    for c in cases {
        for s in extract(&c.id, &[&c.image], &c.mask, &spec).expect("synthetic case extracts") {
            samples.push(s);
            labels.push(c.label);
        }
    }
    (samples, labels)
}

/// The 3-D crops (`[1, 4, 12, 12]`, z-scored) of every case, one per case, with its label.
pub fn crops(cases: &[Case]) -> (Vec<Sample>, Vec<usize>) {
    let spec = PatchSpec {
        layout: Layout::Crop3d { depth: 4 },
        size: [12, 12],
        normalise: Normalise::ZScore,
        mask_channel: false,
    };
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    for c in cases {
        samples.extend(extract(&c.id, &[&c.image], &c.mask, &spec).expect("synthetic case crops"));
        labels.push(c.label);
    }
    (samples, labels)
}
