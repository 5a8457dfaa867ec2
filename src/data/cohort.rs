//! A cohort ready to load: a manifest whose every file has been verified.
//!
//! Principal items: [`Cohort`] ([`Cohort::open`], [`Cohort::cases`], [`Cohort::load_case`]) and
//! [`materialise_synthetic`], which turns a `[synthetic]` manifest into files in a cache
//! folder. Reference: the manifest format in [`crate::data::manifest`] and `docs/manifest.md`.
//!
//! A synthetic cohort lives in `cache_dir/<scenario>-n<n>-s<seed>/` (`images/`, `masks/`,
//! `manifest.toml`). It is written into a temporary sibling folder and renamed into place, so a
//! crash never leaves a half-written cohort; it is reused when its manifest was written by the
//! same generator version and every hash verifies, and regenerated otherwise.

use super::DataError;
use super::image::{Image, Mask};
use super::manifest::{CaseEntry, Manifest, ManifestSource, verify};
use super::medmnist::materialise_medmnist;
use super::nifti::{read_image, read_mask};
use super::synth::{generated_description, scenario_by_name, write_synthetic_cohort};
use std::path::{Path, PathBuf};

/// Spacing, origin and direction tolerance when matching a mask's grid to its image's.
pub const GRID_TOLERANCE: f64 = 1e-4;

/// A verified cohort.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// The manifest as given to [`Cohort::open`] (possibly `[synthetic]`).
    source: Manifest,
    /// The file manifest whose cases are loaded (for a synthetic cohort, the generated one).
    files: Manifest,
    fingerprint: String,
}

impl Cohort {
    /// Loads the manifest at `manifest_path` and verifies every file's SHA-256 (the error lists
    /// all failures). A synthetic manifest is first materialised under `cache_dir`.
    pub fn open(manifest_path: &Path, cache_dir: &Path) -> Result<Cohort, DataError> {
        Cohort::from_manifest(Manifest::load(manifest_path)?, cache_dir)
    }

    /// Like [`Cohort::open`], from a manifest already loaded.
    pub fn from_manifest(manifest: Manifest, cache_dir: &Path) -> Result<Cohort, DataError> {
        let files = match &manifest.source {
            ManifestSource::Files(_) => {
                verify(&manifest).into_result()?;
                manifest.clone()
            }
            ManifestSource::MedMnist(source) => {
                // The .npz file itself is verified before a byte of it is decoded.
                verify(&manifest).into_result()?;
                let path = materialise_medmnist(source, &manifest.name, cache_dir)?;
                let files = Manifest::load(&path)?;
                verify(&files).into_result()?;
                files
            }
            ManifestSource::Synthetic { scenario, n, seed } => {
                let path = materialise_synthetic(scenario, *n, *seed, cache_dir)?;
                let files = Manifest::load(&path)?;
                verify(&files).into_result()?;
                files
            }
        };
        Ok(Cohort {
            fingerprint: files.fingerprint(),
            source: manifest,
            files,
        })
    }

    /// The cases, in manifest order.
    pub fn cases(&self) -> &[CaseEntry] {
        self.files.cases()
    }

    /// The manifest as given (file or synthetic).
    pub fn manifest(&self) -> &Manifest {
        &self.source
    }

    /// The file manifest whose cases are loaded (the generated one for a synthetic cohort).
    pub fn files_manifest(&self) -> &Manifest {
        &self.files
    }

    /// SHA-256 over the case list and every file's hash (see [`Manifest::fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The case with id `id`.
    pub fn case(&self, id: &str) -> Option<&CaseEntry> {
        self.cases().iter().find(|c| c.id == id)
    }

    /// Reads the image and mask of `case`. Errors, naming the case, when the mask's grid
    /// differs from the image's (shape exact; spacing, origin, direction within
    /// [`GRID_TOLERANCE`]) or when no mask voxel carries `label`.
    pub fn load_case(&self, case: &CaseEntry, label: u8) -> Result<(Image, Mask), DataError> {
        load_case(case, label)
    }

    /// Reads extra channel `name` of `case` and checks it lies on the grid of `image`.
    pub fn load_channel(
        &self,
        case: &CaseEntry,
        name: &str,
        image: &Image,
    ) -> Result<Image, DataError> {
        let Some(file) = case.channels.get(name) else {
            return Err(DataError::MissingChannel {
                case: case.id.clone(),
                channel: name.to_string(),
            });
        };
        let channel = read_image(&file.path)?;
        if let Some(detail) = image.grid.mismatch(&channel.grid, GRID_TOLERANCE) {
            return Err(DataError::GridMismatch {
                case: case.id.clone(),
                image: case.image.path.clone(),
                mask: file.path.clone(),
                detail,
            });
        }
        Ok(channel)
    }
}

/// Reads and checks one case (see [`Cohort::load_case`]).
pub fn load_case(case: &CaseEntry, label: u8) -> Result<(Image, Mask), DataError> {
    let image = read_image(&case.image.path)?;
    let mask = read_mask(&case.mask.path)?;
    if let Some(detail) = image.grid.mismatch(&mask.grid, GRID_TOLERANCE) {
        return Err(DataError::GridMismatch {
            case: case.id.clone(),
            image: case.image.path.clone(),
            mask: case.mask.path.clone(),
            detail,
        });
    }
    if mask.count(label) == 0 {
        return Err(DataError::EmptyMask {
            case: case.id.clone(),
            mask: case.mask.path.clone(),
            label,
        });
    }
    Ok((image, mask))
}

/// The cache folder of a synthetic cohort: `cache_dir/<scenario>-n<n>-s<seed>`.
pub fn synthetic_dir(scenario: &str, n: usize, seed: u64, cache_dir: &Path) -> PathBuf {
    cache_dir.join(format!("{scenario}-n{n}-s{seed}"))
}

/// Makes sure the synthetic cohort (scenario, n, seed) exists and verifies under `cache_dir`,
/// generating it if needed; returns its manifest path.
pub fn materialise_synthetic(
    scenario: &str,
    n: usize,
    seed: u64,
    cache_dir: &Path,
) -> Result<PathBuf, DataError> {
    let generator = scenario_by_name(scenario)?;
    let expected_description = generated_description(generator, n, seed);
    let dir = synthetic_dir(scenario, n, seed, cache_dir);
    let manifest_path = dir.join("manifest.toml");
    let usable = |path: &Path| -> bool {
        Manifest::load(path).is_ok_and(|m| {
            m.description.as_deref() == Some(expected_description.as_str())
                && m.cases().len() == n
                && verify(&m).is_ok()
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
    write_synthetic_cohort(scenario, n, seed, &temp)?;
    // A stale or damaged cohort (older generator, edited file) is replaced whole.
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

fn remove_dir_if_present(dir: &Path) -> Result<(), DataError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DataError::io(dir, e)),
    }
}

#[cfg(test)]
#[path = "cohort_tests.rs"]
mod tests;
