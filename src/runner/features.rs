//! Radiomics for every case of a cohort, in parallel, collected in cohort order.

use super::RunnerError;
use super::progress::progress_bar;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::features::{self, FeatureFamily, FeatureTable};
use crate::spec::Experiment;
use ndarray::Array2;
use rayon::prelude::*;

/// Extracts the experiment's feature classes for every case, in cohort order.
pub fn extract_features(exp: &Experiment, cohort: &Cohort, progress: bool) -> Result<FeatureTable, Error> {
    let families: Vec<&dyn FeatureFamily> = exp
        .feature_classes
        .iter()
        .map(|c| features::family_by_name(c))
        .collect::<Result<_, _>>()
        .map_err(|source| RunnerError::Features {
            case: "(settings)".into(),
            source,
        })?;
    let settings = exp.feature_settings();
    let cases = cohort.cases();
    let bar = progress_bar(progress, cases.len() as u64, "features");
    let rows: Vec<Vec<(String, f64)>> = cases
        .par_iter()
        .map(|case| {
            let (image, mask) = cohort
                .load_case(case, settings.label)
                .map_err(|source| RunnerError::Case {
                    case: case.id.clone(),
                    source,
                })?;
            let row = features::extract(&image, &mask, &settings, &families).map_err(|source| {
                RunnerError::Features {
                    case: case.id.clone(),
                    source,
                }
            })?;
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

