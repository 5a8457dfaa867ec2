//! Extraction benches on pyradiomics' test cases `brain1` and `lung1`
//! (`shared/conformance/pyradiomics/data`): reading the NRRD files, each feature class alone
//! (on the pre-processed region) and the whole default extraction (read + all classes).
//! Skipped, with a note, when the shared folder is missing.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::Criterion;
use radbench::data::nrrd;
use radbench::features::{self, FeatureSettings, params, preprocess};

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("RADBENCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join("conformance/pyradiomics/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} not found; extraction benches skipped",
            dir.display()
        );
        None
    }
}

/// Registers the extraction benches.
pub fn benches(c: &mut Criterion) {
    let Some(data) = shared_data() else { return };
    let defaults = params::Params::default();
    for case in ["brain1", "lung1"] {
        let image_path = data.join(format!("{case}_image.nrrd"));
        let mask_path = data.join(format!("{case}_label.nrrd"));
        let mut group = c.benchmark_group(format!("extraction/{case}"));
        group.sample_size(10);
        group.bench_function("read_nrrd", |b| {
            b.iter(|| {
                let image = nrrd::read_image(black_box(&image_path)).expect("image");
                let mask = nrrd::read_mask(black_box(&mask_path)).expect("mask");
                (image, mask)
            })
        });
        let image = nrrd::read_image(&image_path).expect("image");
        let mask = nrrd::read_mask(&mask_path).expect("mask");
        let settings = FeatureSettings::default();
        let prepared = preprocess::prepare(&image, &mask, &settings).expect("prepare");
        group.bench_function("prepare", |b| {
            b.iter(|| {
                preprocess::prepare(black_box(&image), black_box(&mask), &settings)
                    .expect("prepare")
            })
        });
        for family in features::FAMILIES
            .iter()
            .filter(|f| f.class_name() != "shape2D")
        {
            let family_mask = if family.uses_morphological_mask() {
                &prepared.shape_mask
            } else {
                &prepared.mask
            };
            group.bench_function(family.class_name(), |b| {
                b.iter(|| {
                    family
                        .compute(
                            black_box(&prepared.image),
                            black_box(family_mask),
                            &settings,
                        )
                        .expect("features")
                })
            });
        }
        group.bench_function("whole_extraction", |b| {
            b.iter(|| {
                let image = nrrd::read_image(black_box(&image_path)).expect("image");
                let mask = nrrd::read_mask(black_box(&mask_path)).expect("mask");
                params::extract_with_params(&image, &mask, &defaults).expect("features")
            })
        });
        group.finish();
    }
}
