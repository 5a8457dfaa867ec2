//! The input side of a radiomics model: which feature columns it reads.
//!
//! Principal types: [`ColumnChoice`] (the settings: a fixed `features` subset and an optional
//! [`SelectionSpec`]) and [`FittedColumns`] (the columns chosen on one training fold, applied
//! unchanged to any rows to predict). Both `logistic` and `forest` go through it, so the
//! feature subset, the in-fold selection and the `{"selected": [...]}` fit summary behave the
//! same in every radiomics kind. Reference: Ambroise & McLachlan, "Selection bias in gene
//! extraction on the basis of microarray gene-expression data", PNAS 99 (2002): selection must
//! be fitted inside each training fold.

use super::selection::{FittedSelection, SelectionSpec};
use super::{ModelError, TrainingData, check_finite};
use crate::seed::SeededRng;
use ndarray::{Array2, ArrayView2, Axis};

/// The columns a radiomics model reads: a fixed subset, then an in-fold selection.
#[derive(Debug, Clone, Copy)]
pub struct ColumnChoice<'a> {
    /// Model id, for errors.
    pub model: &'a str,
    /// Use only these columns (by name); `None` = all.
    pub features: Option<&'a [String]>,
    /// Feature selection fitted on the training fold; `None` = keep every column.
    pub selection: Option<&'a SelectionSpec>,
}

impl ColumnChoice<'_> {
    /// Resolves the subset by name and fits the selection on the training rows only.
    pub fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<FittedColumns, ModelError> {
        let subset = resolve_columns(self.model, self.features, data.feature_names)?;
        let (columns, selection) = match self.selection {
            None => (subset, None),
            Some(spec) => {
                let x = data.features.select(Axis(1), &subset);
                let names: Vec<String> = subset
                    .iter()
                    .map(|&j| data.feature_names[j].clone())
                    .collect();
                let fitted = spec.fit(
                    self.model,
                    x.view(),
                    &names,
                    data.labels,
                    data.n_classes,
                    rng,
                )?;
                let columns = fitted.columns().iter().map(|&j| subset[j]).collect();
                (columns, Some(fitted))
            }
        };
        Ok(FittedColumns {
            model: self.model.to_string(),
            names: data.feature_names.to_vec(),
            columns,
            selection,
        })
    }
}

/// The columns chosen on a training fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedColumns {
    model: String,
    /// Every training column's name (the input width is checked against it).
    names: Vec<String>,
    /// The columns read (indices into the training columns), in `features` order.
    columns: Vec<usize>,
    selection: Option<FittedSelection>,
}

impl FittedColumns {
    /// The columns read (indices into the training columns), in the order of the `features`
    /// subset (column order when there is none).
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// The fitted selection, when one was asked for.
    pub fn selection(&self) -> Option<&FittedSelection> {
        self.selection.as_ref()
    }

    /// The chosen columns of `features` after checking its width and that it is finite.
    pub fn apply(&self, features: ArrayView2<'_, f64>) -> Result<Array2<f64>, ModelError> {
        if features.ncols() != self.names.len() {
            return Err(ModelError::Shape {
                model: self.model.clone(),
                message: format!(
                    "{} feature columns, trained on {}",
                    features.ncols(),
                    self.names.len()
                ),
            });
        }
        check_finite(&self.model, features, &self.names)?;
        Ok(features.select(Axis(1), &self.columns))
    }

    /// The fit summary of the input side: the selection's (`{"selected": [...]}`), or `null`
    /// when nothing was selected in the fold.
    pub fn summary(&self) -> serde_json::Value {
        self.selection
            .as_ref()
            .map_or(serde_json::Value::Null, FittedSelection::summary)
    }
}

/// Indices of the columns named in `wanted` (all columns when `None`), in the order named. A
/// name ending in `*` stands for every column starting with what precedes it, in column order
/// (`"original_tic_*"`, `"bmode_*"`); it must match at least one column.
pub fn resolve_columns(
    model: &str,
    wanted: Option<&[String]>,
    names: &[String],
) -> Result<Vec<usize>, ModelError> {
    let Some(wanted) = wanted else {
        return Ok((0..names.len()).collect());
    };
    let missing = |w: &String| ModelError::Shape {
        model: model.to_string(),
        message: format!("no feature named {w:?} among the {} extracted", names.len()),
    };
    let mut columns: Vec<usize> = Vec::new();
    for w in wanted {
        match w.strip_suffix('*') {
            Some(prefix) => {
                let matching: Vec<usize> = (0..names.len())
                    .filter(|&j| names[j].starts_with(prefix))
                    .collect();
                if matching.is_empty() {
                    return Err(missing(w));
                }
                columns.extend(
                    matching
                        .into_iter()
                        .filter(|j| !columns.contains(j))
                        .collect::<Vec<_>>(),
                );
            }
            None => columns.push(
                names
                    .iter()
                    .position(|n| n == w)
                    .ok_or_else(|| missing(w))?,
            ),
        }
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefix_patterns_resolve_in_order() {
        let names: Vec<String> = ["a_x", "b_x", "a_y", "c"].map(String::from).to_vec();
        let want = |w: &[&str]| {
            let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
            resolve_columns("m", Some(&w), &names)
        };
        assert_eq!(want(&["c", "a_*"]).unwrap(), [3, 0, 2]);
        assert_eq!(want(&["a_y", "a_*"]).unwrap(), [2, 0]);
        assert_eq!(want(&["*"]).unwrap(), [0, 1, 2, 3]);
        let message = want(&["d_*"]).unwrap_err().to_string();
        assert!(message.contains("\"d_*\""), "{message}");
        assert!(want(&["zz"]).is_err());
        assert_eq!(resolve_columns("m", None, &names).unwrap(), [0, 1, 2, 3]);
    }
}
