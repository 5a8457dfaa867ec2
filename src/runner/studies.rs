//! Adds the segmentation, survival and operating-point sections (and their figures) to a
//! finished report.

use super::segmentation::{SegmenterRun, segmentation_results};
use super::survival::survival_result;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::split::Folds;
use crate::models::CaseImages;
use crate::report::Report;
use crate::report::studies::compare_published_segmentation;
use crate::spec::Experiment;

/// Fills `operating_point`, `segmentation`, `survival` and `published_segmentation` of the
/// report and lists their figures; leaves a report without these sections unchanged.
pub fn attach(
    report: &mut Report,
    exp: &Experiment,
    cohort: &Cohort,
    folds: &[Folds],
    runs: &[SegmenterRun],
    images: &[CaseImages],
    rows: &[crate::report::PredictionRow],
) -> Result<(), Error> {
    if let Some(spec) = &exp.operating_point {
        report.operating_point = Some(super::operating_point::operating_points(
            spec, exp, rows, folds,
        )?);
    }
    if !runs.is_empty() {
        report.segmentation = Some(segmentation_results(runs, folds, exp.ci_level)?);
        report
            .figures
            .push(crate::report::figures_survival::DICE.into());
    }
    if let Some(spec) = &exp.survival {
        report.survival = Some(survival_result(
            spec,
            cohort.cases(),
            folds,
            runs,
            images,
            exp.ci_level,
        )?);
        report
            .figures
            .push(crate::report::figures_survival::KM.into());
    }
    if let Some(p) = exp.published.as_ref().and_then(|p| p.segmentation.as_ref()) {
        report.published_segmentation = Some(compare_published_segmentation(
            p,
            report.segmentation.as_deref(),
            report.survival.as_ref(),
        ));
    }
    Ok(())
}
