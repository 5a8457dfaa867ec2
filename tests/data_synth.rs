//! Synthetic cohorts end to end: generation is byte-identical for a seed at any thread count,
//! and the written manifest verifies and loads.

use radbench::data::manifest::{Manifest, ManifestSource, verify};
use radbench::data::synth::write_synthetic_cohort;
use radbench::data::{Cohort, DataError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one_thread
        .install(|| write_synthetic_cohort("lesion-ct", 6, 42, &a))
        .unwrap();
    let four_threads = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    four_threads
        .install(|| write_synthetic_cohort("lesion-ct", 6, 42, &b))
        .unwrap();
    let (ta, tb) = (tree(&a), tree(&b));
    assert_eq!(ta.len(), 13, "6 images, 6 masks, 1 manifest");
    assert_eq!(ta, tb);
    // A larger cohort shares its first cases with a smaller one (case i depends on i only)...
    write_synthetic_cohort("lesion-ct", 8, 42, &c).unwrap();
    let tc = tree(&c);
    let image = PathBuf::from("images/case-0005.nii.gz");
    assert_eq!(ta[&image], tc[&image]);
    // ...and another seed gives other images.
    let d = dir.path().join("d");
    write_synthetic_cohort("lesion-ct", 6, 43, &d).unwrap();
    assert_ne!(ta[&image], tree(&d)[&image]);
}

#[test]
fn written_cohort_verifies_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = write_synthetic_cohort("lesion-ct", 4, 7, dir.path()).unwrap();
    let manifest = Manifest::load(&manifest_path).unwrap();
    assert!(verify(&manifest).is_ok());
    assert_eq!(manifest.name, "lesion-ct-n4-s7");
    let cohort = Cohort::open(&manifest_path, &dir.path().join("unused-cache")).unwrap();
    for case in cohort.cases() {
        let (image, mask) = cohort.load_case(case, 1).unwrap();
        assert_eq!(image.grid.dims, [48, 48, 24]);
        assert!(mask.count(1) > 0);
        assert!(matches!(case.label("lesion"), Some(0 | 1)));
        assert!(["A", "B", "C"].contains(&case.site.as_str()));
    }
    assert!(!dir.path().join("unused-cache").exists());
}

#[test]
fn unknown_scenario_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_synthetic_cohort("lesion-mri", 4, 7, dir.path()).unwrap_err();
    assert!(matches!(err, DataError::UnknownScenario { .. }));
    let message = err.to_string();
    assert!(
        message.contains("valid scenarios: ") && message.contains("lesion-ct"),
        "{message}"
    );
}

#[test]
fn quickstart_manifest_is_the_160_case_lesion_ct_cohort() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-manifests/synth-lesion-ct.toml");
    let manifest = Manifest::load(&path).unwrap();
    assert_eq!(manifest.name, "synth-lesion-ct");
    assert_eq!(
        manifest.source,
        ManifestSource::Synthetic {
            scenario: "lesion-ct".into(),
            n: 160,
            seed: 20240501
        }
    );
}
