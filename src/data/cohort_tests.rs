//! Unit tests of opening cohorts and loading cases, including bad input.

use super::*;
use crate::data::image::Grid;
use crate::data::manifest::{FileRef, render_files_manifest, sha256_file};
use crate::data::nifti::{NiftiDtype, write_image, write_mask};
use std::collections::BTreeMap;

/// Writes a case's image and mask (mask label 1 on `lesion_voxels` voxels) and returns its entry.
fn write_case(dir: &Path, id: &str, mask_dims: [usize; 3], lesion_voxels: usize) -> CaseEntry {
    let grid = Grid::new([6, 5, 4], [0.8, 0.8, 2.5]);
    let image = Image {
        voxels: (0..grid.len()).map(|n| (n % 50) as f64).collect(),
        grid,
    };
    let mask_grid = Grid::new(mask_dims, [0.8, 0.8, 2.5]);
    let mask = Mask {
        voxels: (0..mask_grid.len())
            .map(|n| u8::from(n < lesion_voxels))
            .collect(),
        grid: mask_grid,
    };
    let file = |rel: String| FileRef {
        path: dir.join(&rel),
        relative: rel,
        sha256: String::new(),
    };
    let mut image_ref = file(format!("images/{id}.nii.gz"));
    let mut mask_ref = file(format!("masks/{id}.nii.gz"));
    for sub in ["images", "masks"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    write_image(&image_ref.path, &image, NiftiDtype::I16).unwrap();
    write_mask(&mask_ref.path, &mask).unwrap();
    image_ref.sha256 = sha256_file(&image_ref.path).unwrap();
    mask_ref.sha256 = sha256_file(&mask_ref.path).unwrap();
    CaseEntry {
        id: id.to_string(),
        patient: format!("p-{id}"),
        site: "A".into(),
        labels: BTreeMap::from([("lesion".to_string(), 1)]),
        time: None,
        event: None,
        image: image_ref,
        mask: mask_ref,
        channels: BTreeMap::new(),
        split: None,
    }
}

fn write_manifest(dir: &Path, cases: &[CaseEntry]) -> PathBuf {
    let path = dir.join("manifest.toml");
    std::fs::write(&path, render_files_manifest("test", None, cases)).unwrap();
    path
}

#[test]
fn file_cohort_opens_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![
        write_case(dir.path(), "c1", [6, 5, 4], 10),
        write_case(dir.path(), "c2", [6, 5, 4], 3),
    ];
    let path = write_manifest(dir.path(), &cases);
    let cohort = Cohort::open(&path, &dir.path().join("cache")).unwrap();
    assert_eq!(cohort.cases().len(), 2);
    assert_eq!(cohort.fingerprint(), cohort.manifest().fingerprint());
    let (image, mask) = cohort.load_case(&cohort.cases()[1], 1).unwrap();
    assert_eq!(image.grid.dims, [6, 5, 4]);
    assert_eq!(mask.count(1), 3);
    assert!(cohort.case("c2").is_some());
}

#[test]
fn checksum_mismatch_and_missing_files_are_all_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![
        write_case(dir.path(), "c1", [6, 5, 4], 10),
        write_case(dir.path(), "c2", [6, 5, 4], 10),
    ];
    let path = write_manifest(dir.path(), &cases);
    std::fs::write(&cases[0].mask.path, b"edited").unwrap();
    std::fs::remove_file(&cases[1].image.path).unwrap();
    let err = Cohort::open(&path, dir.path()).unwrap_err().to_string();
    assert!(err.contains("2 file(s) fail verification"), "{err}");
    assert!(
        err.contains("masks/c1.nii.gz (case c1, mask): SHA-256 mismatch: expected"),
        "{err}"
    );
    assert!(
        err.contains("images/c2.nii.gz (case c2, image): missing"),
        "{err}"
    );
}

#[test]
fn mask_of_another_shape_names_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![write_case(dir.path(), "odd", [6, 5, 3], 10)];
    let cohort = Cohort::open(&write_manifest(dir.path(), &cases), dir.path()).unwrap();
    let err = cohort
        .load_case(&cohort.cases()[0], 1)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("case odd: mask "), "{err}");
    assert!(err.ends_with("shape [6, 5, 4] vs [6, 5, 3]"), "{err}");
}

#[test]
fn empty_mask_names_the_case_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let cases = vec![write_case(dir.path(), "hollow", [6, 5, 4], 0)];
    let cohort = Cohort::open(&write_manifest(dir.path(), &cases), dir.path()).unwrap();
    let err = cohort
        .load_case(&cohort.cases()[0], 1)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("case hollow: mask "), "{err}");
    assert!(err.ends_with("has no voxel with label 1"), "{err}");
    let missing = cohort.load_channel(
        &cohort.cases()[0],
        "dwi",
        &Image {
            grid: Grid::new([1, 1, 1], [1.0; 3]),
            voxels: vec![0.0],
        },
    );
    assert!(matches!(missing, Err(DataError::MissingChannel { .. })));
}

#[test]
fn truncated_image_with_a_matching_hash_fails_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = vec![write_case(dir.path(), "cut", [6, 5, 4], 4)];
    let bytes = std::fs::read(&cases[0].image.path).unwrap();
    std::fs::write(&cases[0].image.path, &bytes[..bytes.len() / 2]).unwrap();
    cases[0].image.sha256 = sha256_file(&cases[0].image.path).unwrap();
    let cohort = Cohort::open(&write_manifest(dir.path(), &cases), dir.path()).unwrap();
    let err = cohort
        .load_case(&cohort.cases()[0], 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("images/cut.nii.gz: "), "{err}");
    assert!(
        err.contains("truncated") || err.contains("corrupt gzip"),
        "{err}"
    );
}

#[test]
fn synthetic_cohort_is_materialised_once_and_repaired_when_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("synth.toml");
    std::fs::write(
        &manifest,
        "[synthetic]\nscenario = \"lesion-ct\"\nn = 3\nseed = 11\n",
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let cohort = Cohort::open(&manifest, &cache).unwrap();
    let folder = cache.join("lesion-ct-n3-s11");
    assert_eq!(cohort.files_manifest().path, folder.join("manifest.toml"));
    assert_eq!(cohort.cases().len(), 3);
    assert_eq!(cohort.manifest().name, "lesion-ct-n3-s11");
    let (_, mask) = cohort.load_case(&cohort.cases()[2], 1).unwrap();
    assert!(mask.count(1) > 0);
    // Reuse: an extra file in the folder survives a second open.
    std::fs::write(folder.join("marker"), b"x").unwrap();
    let again = Cohort::open(&manifest, &cache).unwrap();
    assert_eq!(again.fingerprint(), cohort.fingerprint());
    assert!(folder.join("marker").exists());
    // Damage: the folder is regenerated whole, with the same bytes.
    std::fs::write(folder.join("images/case-0001.nii.gz"), b"damaged").unwrap();
    let repaired = Cohort::open(&manifest, &cache).unwrap();
    assert_eq!(repaired.fingerprint(), cohort.fingerprint());
    assert!(!folder.join("marker").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary folder is left behind");
}
