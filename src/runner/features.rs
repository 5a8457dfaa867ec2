//! Radiomics for every case of a cohort, in parallel, collected in cohort order.

use super::RunnerError;
use super::progress::progress_bar;
use crate::Error;
use crate::data::DataError;
use crate::data::cohort::Cohort;
use crate::data::manifest::CaseEntry;
use crate::features::{self, FeatureFamily, FeatureTable};
use crate::report::write_atomic;
use crate::spec::Experiment;
use ndarray::Array2;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Where extracted features of one case are kept: keyed by the extraction settings, the
/// radbench version and the SHA-256 of the case's image and mask, so a changed file or
/// setting never reuses stale values.
fn cache_path(cache_root: &Path, settings_key: &str, case: &CaseEntry) -> PathBuf {
    let short = |h: &str| h.get(..16).unwrap_or(h).to_string();
    cache_root.join("features").join(settings_key).join(format!(
        "{}-{}.json",
        short(&case.image.sha256),
        short(&case.mask.sha256)
    ))
}

/// The feature families named in the experiment's `[features] classes`.
pub(super) fn experiment_families(
    exp: &Experiment,
) -> Result<Vec<&'static dyn FeatureFamily>, Error> {
    exp.feature_classes
        .iter()
        .map(|c| features::family_by_name(c))
        .collect::<Result<_, _>>()
        .map_err(|source| {
            RunnerError::Features {
                case: "(settings)".into(),
                source,
            }
            .into()
        })
}

/// Extracts the experiment's feature classes for every case, in cohort order, reusing values
/// stored in `cache_root/features/` by earlier runs or other shards.
pub fn extract_features(
    exp: &Experiment,
    cohort: &Cohort,
    cache_root: &Path,
    progress: bool,
) -> Result<FeatureTable, Error> {
    let families = experiment_families(exp)?;
    let settings = exp.feature_settings();
    let channel_families = super::channel_features::channel_families(exp)?;
    let mut key_source =
        serde_json::json!([&exp.feature_classes, exp.bin_width, exp.mask_label]).to_string();
    // Only experiments with channel features change their cache key.
    if !exp.channel_feature_classes.is_empty() {
        key_source.push_str(&serde_json::json!(&exp.channel_feature_classes).to_string());
    }
    let settings_key = crate::report::content_version(&key_source, "features");
    let cases = cohort.cases();
    let bar = progress_bar(progress, cases.len() as u64, "features");
    let rows: Vec<Vec<(String, f64)>> = cases
        .par_iter()
        .map(|case| {
            let cached = cache_path(cache_root, &settings_key, case);
            if let Some(row) = std::fs::read(&cached)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<(String, f64)>>(&b).ok())
            {
                bar.inc(1);
                return Ok(row);
            }
            let (image, mask) =
                cohort
                    .load_case(case, settings.label)
                    .map_err(|source| -> Error {
                        match source {
                            // These already name the case.
                            DataError::GridMismatch { .. } | DataError::EmptyMask { .. } => {
                                source.into()
                            }
                            source => RunnerError::Case {
                                case: case.id.clone(),
                                source,
                            }
                            .into(),
                        }
                    })?;
            let mut row =
                features::extract(&image, &mask, &settings, &families).map_err(|source| {
                    RunnerError::Features {
                        case: case.id.clone(),
                        source,
                    }
                })?;
            row.extend(super::channel_features::extract_channels(
                cohort,
                case,
                &image,
                &mask,
                &settings,
                &channel_families,
            )?);
            // JSON has no NaN: rows with non-finite values are recomputed rather than cached.
            if row.iter().all(|(_, v)| v.is_finite()) {
                let bytes = serde_json::to_vec(&row).unwrap_or_default();
                write_atomic(&cached, &bytes)?;
            }
            bar.inc(1);
            Ok::<_, Error>(row)
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let names: Vec<String> = rows
        .first()
        .map(|r| r.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mut values = Array2::zeros((rows.len(), names.len()));
    for (i, row) in rows.iter().enumerate() {
        if row.len() != names.len() || row.iter().zip(&names).any(|((n, _), m)| n != m) {
            return Err(RunnerError::FeatureNames {
                case: cases[i].id.clone(),
                first: cases[0].id.clone(),
            }
            .into());
        }
        for (j, (_, v)) in row.iter().enumerate() {
            values[[i, j]] = *v;
        }
    }
    Ok(FeatureTable {
        case_ids: cases.iter().map(|c| c.id.clone()).collect(),
        names,
        values,
    })
}
