//! The `[medmnist]` table of a manifest: a MedMNIST 3-D `.npz` file as a cohort.
//!
//! ```toml
//! [cohort]
//! name = "adrenalmnist3d"
//!
//! [medmnist]
//! file = "medmnist/adrenalmnist3d.npz"   # relative to the data root
//! data_root = "../../shared/data"        # relative to the manifest; RADBENCH_DATA overrides
//! sha256 = "8ffd…"                       # of the .npz file, verified before use
//! label = "hyperplasia"                  # the label name each case gets
//! spacing = [1.0, 1.0, 1.0]              # voxel size in mm (i, j, k)
//! limit = { train = 60, val = 20, test = 40 }   # optional: first N samples of a split
//! ```

use super::{Context, DataError, FileRef};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// Environment variable naming the shared-data root; when set (and not empty) it replaces a
/// `[medmnist]` manifest's `data_root`, so the data can live anywhere.
pub const DATA_ROOT_ENV: &str = "RADBENCH_DATA";

/// A MedMNIST 3-D file declared by a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct MedMnistSource {
    /// The `.npz` file and its expected SHA-256; `relative` is `file` as written.
    pub file: FileRef,
    /// The label name each case gets (value 0 or 1, from `<split>_labels`).
    pub label: String,
    /// Voxel size in mm along i, j, k (NumPy W, H, D).
    pub spacing: [f64; 3],
    /// First N samples kept per split (`train`, `val`, `test`); a split not named is whole.
    pub limit: BTreeMap<String, usize>,
}

/// `[medmnist]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMedMnist {
    file: String,
    data_root: Option<String>,
    sha256: Spanned<String>,
    label: Spanned<String>,
    spacing: Spanned<[f64; 3]>,
    #[serde(default)]
    limit: Option<Spanned<BTreeMap<String, usize>>>,
}

/// Validates `[medmnist]` and resolves its file against the data root (see [`DATA_ROOT_ENV`]).
pub(super) fn source(
    raw: &Spanned<RawMedMnist>,
    base: &Path,
    ctx: &Context,
) -> Result<MedMnistSource, DataError> {
    let raw_ref = raw.get_ref();
    let sha = raw_ref.sha256.get_ref().trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ctx.error(
            raw_ref.sha256.span().start,
            format!(
                "medmnist: sha256 must be 64 hex digits, got {:?}",
                raw_ref.sha256.get_ref()
            ),
        ));
    }
    let label = raw_ref.label.get_ref().trim();
    if label.is_empty() {
        return Err(ctx.error(
            raw_ref.label.span().start,
            "medmnist: label must be non-empty text".into(),
        ));
    }
    let spacing = *raw_ref.spacing.get_ref();
    if !spacing.iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(ctx.error(
            raw_ref.spacing.span().start,
            format!("medmnist: spacing {spacing:?} must be three positive numbers (mm)"),
        ));
    }
    let limit = raw_ref
        .limit
        .as_ref()
        .map(|l| l.get_ref().clone())
        .unwrap_or_default();
    if let Some(l) = &raw_ref.limit {
        for (split, &n) in l.get_ref() {
            if !crate::data::npz::MEDMNIST_SPLITS.contains(&split.as_str()) || n == 0 {
                return Err(ctx.error(
                    l.span().start,
                    format!(
                        "medmnist: limit `{split} = {n}`: keys are `train`, `val`, `test` and \
                         values at least 1"
                    ),
                ));
            }
        }
    }
    let root = match std::env::var_os(DATA_ROOT_ENV).filter(|v| !v.is_empty()) {
        Some(env_root) => std::path::PathBuf::from(env_root),
        None => base.join(raw_ref.data_root.as_deref().unwrap_or(".")),
    };
    Ok(MedMnistSource {
        file: FileRef {
            path: root.join(&raw_ref.file),
            relative: raw_ref.file.clone(),
            sha256: sha,
        },
        label: label.to_string(),
        spacing,
        limit,
    })
}
