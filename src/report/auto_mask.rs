//! Report section of models on predicted masks (`mask = "predicted:<segmenter>"`): which
//! masks fed training and test, and every test case that fell back to the no-information
//! prediction because its predicted mask gave no features (see [`crate::runner::auto_mask`]).

use super::Report;
use super::tables::Table;
use serde::Serialize;

/// What the fallback cases are given, as the report states it.
pub const FALLBACK_PREDICTION: &str =
    "class frequencies of the cell's training cases (no-information prediction)";

/// One model on predicted masks (repeat 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoMaskResult {
    /// Model id.
    pub model: String,
    /// The segmenter whose test masks the model reads.
    pub segmenter: String,
    /// Masks of the training cases (`reference`).
    pub training_masks: String,
    /// Number of test cases (repeat 0).
    pub test_cases: usize,
    /// What a fallback case is given.
    pub fallback_prediction: String,
    /// Test cases scored by the fallback, in cohort order.
    pub fallback: Vec<FallbackRow>,
}

/// One fallback case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FallbackRow {
    /// Case id.
    pub case: String,
    /// The part (fold) in which it was tested.
    pub fold: usize,
    /// Why its predicted mask gave no features.
    pub reason: String,
}

/// The table of this section (none without models on predicted masks).
pub fn tables(r: &Report) -> Vec<Table> {
    let Some(models) = &r.auto_mask else {
        return Vec::new();
    };
    let rows = models
        .iter()
        .map(|m| {
            let listed: Vec<String> = m
                .fallback
                .iter()
                .map(|f| format!("{} (fold {}: {})", f.case, f.fold, f.reason))
                .collect();
            vec![
                m.model.clone(),
                m.segmenter.clone(),
                m.training_masks.clone(),
                m.test_cases.to_string(),
                m.fallback.len().to_string(),
                if listed.is_empty() {
                    "—".into()
                } else {
                    listed.join("; ")
                },
            ]
        })
        .collect();
    vec![Table {
        title: "Radiomics of predicted masks".into(),
        caption: format!(
            "Fully automated pipeline (repeat 0): each model is fitted on its training cases' \
             reference-mask features and applied to the masks that the same fold's segmenter \
             predicted for the test cases. A test case whose predicted mask is empty or gives \
             no finite features is not scored by the model; it gets the {FALLBACK_PREDICTION} \
             and stays in every statistic."
        ),
        header: [
            "model",
            "segmenter",
            "training masks",
            "test cases",
            "fallback cases",
            "which (fold: reason)",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, false, false, true, true, false],
        rows,
    }]
}
