//! Report section of models on predicted masks (`mask = "predicted:<segmenter>"`): which
//! masks fed training and test, and every test case that fell back to the no-information
//! prediction because its predicted mask gave no features (see [`crate::runner::auto_mask`]).

use super::Report;
use super::tables::Table;
use serde::Serialize;

/// What the fallback cases are given, as the report states it.
pub const FALLBACK_PREDICTION: &str =
    "class frequencies of the cell's training cases (no-information prediction)";

/// Fallback cases named in the table; report.json lists every one.
const SHOWN: usize = 10;

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
    r.auto_mask.as_deref().map(table).into_iter().collect()
}

/// The table of the models on predicted masks.
fn table(models: &[AutoMaskResult]) -> Table {
    let rows = models
        .iter()
        .map(|m| {
            let mut listed: Vec<String> = m
                .fallback
                .iter()
                .take(SHOWN)
                .map(|f| format!("{} (fold {}: {})", f.case, f.fold, f.reason))
                .collect();
            if m.fallback.len() > SHOWN {
                listed.push(format!(
                    "and {} more (all in report.json)",
                    m.fallback.len() - SHOWN
                ));
            }
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
    Table {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fallback_lists_are_cut_in_the_table() {
        let row = |i: usize| FallbackRow {
            case: format!("c{i}"),
            fold: i % 2,
            reason: "empty predicted mask".into(),
        };
        let result = AutoMaskResult {
            model: "auto".into(),
            segmenter: "unet".into(),
            training_masks: "reference".into(),
            test_cases: 40,
            fallback_prediction: FALLBACK_PREDICTION.into(),
            fallback: (0..13).map(row).collect(),
        };
        let cell = |r: &AutoMaskResult| table(std::slice::from_ref(r)).rows[0][5].clone();
        let text = cell(&result);
        assert!(
            text.starts_with("c0 (fold 0: empty predicted mask); c1 (fold 1"),
            "{text}"
        );
        assert!(
            text.ends_with("c9 (fold 1: empty predicted mask); and 3 more (all in report.json)"),
            "{text}"
        );
        let none = AutoMaskResult {
            fallback: Vec::new(),
            ..result
        };
        assert_eq!(cell(&none), "—");
    }
}
