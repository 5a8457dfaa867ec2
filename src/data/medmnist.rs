//! MedMNIST 3-D cohorts: one case per sample of a verified `.npz` file, written as NIfTI.
//!
//! Principal items: [`materialise_medmnist`] and [`case_id`]. A `[medmnist]` manifest
//! ([`MedMnistSource`]) names the `.npz` file and its SHA-256; once the hash verifies, every
//! sample of every official split becomes a case `<split>-<nnnn>` (1-based, in file order) with
//! the split recorded, the label from `<split>_labels`, the volume as the image (uint8, 0/255)
//! and the voxels > 0 as the mask (label 1): MedMNIST 3-D volumes are binary shape masks, so
//! the mask is the shape itself. NumPy's (D, H, W) becomes (k, j, i), which keeps the C-order
//! bytes unchanged, on the declared spacing with identity direction.
//!
//! The cohort is written like a synthetic one: into `cache_dir/medmnist-<sha16>[-limits]/`
//! under a temporary name and renamed into place, reused while it verifies and was written by
//! the same radbench version. Reference: MedMNIST v2, Yang et al., Scientific Data 10, 41 (2023).

use super::DataError;
use super::image::{Grid, Image, Mask};
use super::manifest::{
    CaseEntry, FileRef, Manifest, MedMnistSource, render_files_manifest, sha256_bytes, verify,
};
use super::nifti::{NiftiDtype, encode_image, encode_mask};
use super::npz::{MEDMNIST_SPLITS, read_medmnist_split};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the layout written here; bump it when the written bytes change.
const WRITER_VERSION: u32 = 1;

/// The case id of sample `index` (0-based) of `split`: `train-0001`, `val-0042`, ...
pub fn case_id(split: &str, index: usize) -> String {
    format!("{split}-{:04}", index + 1)
}

/// The cache folder of a MedMNIST cohort.
fn cohort_dir(source: &MedMnistSource, cache_dir: &Path) -> PathBuf {
    let mut name = format!("medmnist-{}", &source.file.sha256[..16]);
    for (split, n) in &source.limit {
        name.push_str(&format!("-{split}{n}"));
    }
    cache_dir.join(name)
}

/// The description written into the generated manifest; a cohort is reused only when it
/// matches, so a changed writer, spacing or label regenerates it.
fn generated_description(source: &MedMnistSource, cohort: &str) -> String {
    format!(
        "{cohort}: MedMNIST 3-D file sha256 {} as one case per sample; label {}; spacing {:?} mm; \
         written by radbench {} (medmnist writer {WRITER_VERSION})",
        source.file.sha256,
        source.label,
        source.spacing,
        crate::VERSION
    )
}

/// Makes sure the cohort of `source` exists and verifies under `cache_dir`, writing it from the
/// (already verified) `.npz` file if needed; returns the generated file manifest's path.
pub fn materialise_medmnist(
    source: &MedMnistSource,
    cohort: &str,
    cache_dir: &Path,
) -> Result<PathBuf, DataError> {
    let dir = cohort_dir(source, cache_dir);
    let manifest_path = dir.join("manifest.toml");
    let description = generated_description(source, cohort);
    let usable = |path: &Path| -> bool {
        Manifest::load(path).is_ok_and(|m| {
            m.description.as_deref() == Some(description.as_str()) && verify(&m).is_ok()
        })
    };
    if usable(&manifest_path) {
        return Ok(manifest_path);
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| DataError::io(cache_dir, e))?;
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = cache_dir.join(format!(".tmp-{dir_name}-{}", std::process::id()));
    remove_dir_if_present(&temp)?;
    write_cohort(source, cohort, &description, &temp)?;
    remove_dir_if_present(&dir)?;
    if let Err(e) = std::fs::rename(&temp, &dir) {
        // Another process may have finished the same cohort first; use it if it verifies.
        remove_dir_if_present(&temp)?;
        if usable(&manifest_path) {
            return Ok(manifest_path);
        }
        return Err(DataError::io(&dir, e));
    }
    Ok(manifest_path)
}

/// Writes every case and the manifest into `out_dir`.
fn write_cohort(
    source: &MedMnistSource,
    cohort: &str,
    description: &str,
    out_dir: &Path,
) -> Result<(), DataError> {
    for sub in ["images", "masks"] {
        let dir = out_dir.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    }
    let mut cases = Vec::new();
    for split in MEDMNIST_SPLITS {
        let limit = source.limit.get(split).copied();
        let data = read_medmnist_split(&source.file.path, split, limit)?;
        // NumPy (D, H, W) in C order is radbench's (i, j, k) with i fastest: dims [W, H, D].
        let grid = Grid {
            dims: [data.shape[2], data.shape[1], data.shape[0]],
            ..Grid::new([0; 3], source.spacing)
        };
        let written: Vec<CaseEntry> = data
            .volumes
            .par_iter()
            .zip(&data.labels)
            .enumerate()
            .map(|(index, (volume, &label))| {
                write_case(source, split, index, volume, label, &grid, out_dir)
            })
            .collect::<Result<_, _>>()?;
        cases.extend(written);
    }
    let text = render_files_manifest(cohort, Some(description), &cases);
    let manifest = out_dir.join("manifest.toml");
    std::fs::write(&manifest, text).map_err(|e| DataError::io(&manifest, e))
}

fn write_case(
    source: &MedMnistSource,
    split: &str,
    index: usize,
    volume: &[u8],
    label: i64,
    grid: &Grid,
    out_dir: &Path,
) -> Result<CaseEntry, DataError> {
    let id = case_id(split, index);
    let image = Image {
        grid: grid.clone(),
        voxels: volume.iter().map(|&v| f64::from(v)).collect(),
    };
    let mask = Mask {
        grid: grid.clone(),
        voxels: volume.iter().map(|&v| u8::from(v > 0)).collect(),
    };
    let image_rel = format!("images/{id}.nii.gz");
    let mask_rel = format!("masks/{id}.nii.gz");
    let write_error = |rel: &str, reason: String| DataError::NiftiWrite {
        path: out_dir.join(rel),
        reason,
    };
    let image_bytes =
        encode_image(&image, NiftiDtype::U8, true).map_err(|r| write_error(&image_rel, r))?;
    let mask_bytes = encode_mask(&mask, true).map_err(|r| write_error(&mask_rel, r))?;
    let store = |rel: &str, bytes: &[u8]| -> Result<FileRef, DataError> {
        let path = out_dir.join(rel);
        std::fs::write(&path, bytes).map_err(|e| DataError::io(&path, e))?;
        Ok(FileRef {
            path,
            relative: rel.to_string(),
            sha256: sha256_bytes(bytes),
        })
    };
    Ok(CaseEntry {
        id: id.clone(),
        patient: id,
        site: "medmnist".into(),
        labels: BTreeMap::from([(source.label.clone(), label)]),
        time: None,
        event: None,
        image: store(&image_rel, &image_bytes)?,
        mask: store(&mask_rel, &mask_bytes)?,
        channels: BTreeMap::new(),
        split: Some(split.to_string()),
    })
}

fn remove_dir_if_present(dir: &Path) -> Result<(), DataError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DataError::io(dir, e)),
    }
}
