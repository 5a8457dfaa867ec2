//! Patch-level statistics: the AUC of the patches (slices) that a CNN scores before it
//! aggregates them per case, as papers that train on patches report beside the patient level.

use super::cache::CellResult;
use super::plan::Cell;
use crate::eval::{delong, multiclass};
use crate::features::FeatureTable;
use crate::report::PatchLevelResult;
use std::collections::BTreeMap;

/// Patch-level AUC of model `m` over the patches of its repeat-0 cells (cell order, then patch
/// order), each patch labelled with its case's class; `None` when the model scored no patches
/// or an AUC cannot be computed (a class without patches).
pub(super) fn patch_level(
    m: usize,
    cells: &[Cell],
    results: &[Option<(CellResult, bool)>],
    table: &FeatureTable,
    labels: &[usize],
    n_classes: usize,
    level: f64,
) -> Option<PatchLevelResult> {
    let index_of: BTreeMap<&str, usize> = table
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut probabilities: Vec<&[f64]> = Vec::new();
    let mut classes: Vec<usize> = Vec::new();
    for (result, _) in cells
        .iter()
        .zip(results)
        .filter(|(c, _)| c.model_index == m && c.repeat == 0)
        .filter_map(|(_, r)| r.as_ref())
    {
        for patch in &result.patches {
            let &i = index_of.get(patch.case_id.as_str())?;
            if patch.probabilities.len() != n_classes {
                return None;
            }
            probabilities.push(&patch.probabilities);
            classes.push(labels[i]);
        }
    }
    if probabilities.is_empty() {
        return None;
    }
    let columns: Vec<Vec<f64>> = (0..n_classes)
        .map(|c| probabilities.iter().map(|p| p[c]).collect())
        .collect();
    if n_classes == 2 {
        let positive: Vec<bool> = classes.iter().map(|&c| c == 1).collect();
        let d = delong::delong_auc(&columns[1], &positive, level).ok()?;
        Some(PatchLevelResult {
            n_patches: probabilities.len(),
            auc: d.auc,
            auc_ci_delong: Some(d.ci),
            one_vs_rest_auc: None,
        })
    } else {
        let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let ovr = multiclass::one_vs_rest(&refs, &classes, level).ok()?;
        Some(PatchLevelResult {
            n_patches: probabilities.len(),
            auc: ovr.macro_auc,
            auc_ci_delong: None,
            one_vs_rest_auc: Some(ovr.per_class.iter().map(|d| d.auc).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::PatchPrediction;
    use ndarray::Array2;

    fn cell(model_index: usize, repeat: usize, fold: usize) -> Cell {
        Cell {
            model_index,
            model: format!("m{model_index}"),
            repeat,
            fold,
            sweep_seed: None,
        }
    }

    fn result(patches: &[(&str, f64)]) -> Option<(CellResult, bool)> {
        Some((
            CellResult {
                case_ids: Vec::new(),
                probabilities: Vec::new(),
                threshold: None,
                summary: serde_json::Value::Null,
                patches: patches
                    .iter()
                    .map(|&(case, p)| PatchPrediction {
                        case_id: case.into(),
                        slice: Some(0),
                        probabilities: vec![1.0 - p, p],
                    })
                    .collect(),
                mask_fallback: Vec::new(),
            },
            false,
        ))
    }

    #[test]
    fn patches_of_repeat_zero_carry_their_case_labels() {
        let table = FeatureTable {
            case_ids: vec!["a".into(), "b".into(), "c".into()],
            names: Vec::new(),
            values: Array2::zeros((3, 0)),
        };
        let labels = [1, 0, 1];
        let cells = [cell(0, 0, 0), cell(0, 0, 1), cell(0, 1, 0), cell(1, 0, 0)];
        let results = [
            // Case a (positive): 0.9, 0.2; case b (negative): 0.4, 0.1.
            result(&[("a", 0.9), ("a", 0.2), ("b", 0.4)]),
            result(&[("b", 0.1), ("c", 0.8)]),
            // Another repeat and another model are left out.
            result(&[("b", 0.99)]),
            result(&[]),
        ];
        let p = patch_level(0, &cells, &results, &table, &labels, 2, 0.95).unwrap();
        assert_eq!(p.n_patches, 5);
        // Positives 0.9, 0.2, 0.8 against negatives 0.4, 0.1: 5 of 6 pairs ordered.
        assert!((p.auc - 5.0 / 6.0).abs() < 1e-12, "{}", p.auc);
        assert!(patch_level(1, &cells, &results, &table, &labels, 2, 0.95).is_none());
    }
}
