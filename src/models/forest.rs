//! Random forest with class probabilities (`kind = "forest"`), on radiomics features.
//!
//! Principal types: [`ForestSpec`] (settings), [`ForestModel`] (unfitted) and
//! [`FittedForest`]. `n_trees` CART trees ([`super::tree`]) are grown on bootstrap samples of
//! the training fold, each split trying `mtry` random features (default ⌊√p⌋); a case's
//! probability is the mean over trees of its leaf's class frequencies (scikit-learn's
//! `RandomForestClassifier.predict_proba`). Reference: Breiman, "Random forests", Machine
//! Learning 45 (2001).
//!
//! Determinism: one base seed is drawn from the cell's stream; tree `t` draws its bootstrap and
//! its split features from `rng_for(base, ["tree", t])`. Trees grow in parallel but are kept and
//! summed in tree order, so the output is identical at any thread count. The optional feature
//! subset and in-fold selection ([`super::pipeline`]) run before the trees, on the training
//! rows only.

use super::pipeline::{ColumnChoice, FittedColumns};
use super::selection::SelectionSpec;
use super::tree::{DecisionTree, TreeParams};
use super::{
    Fitted, Model, ModelError, ModelKind, PredictData, SettingsError, TrainingData,
    check_training_data,
};
use crate::seed::{SeededRng, rng_for};
use ndarray::Array2;
use rand::{Rng, RngExt};
use rayon::prelude::*;
use serde::Deserialize;

/// Settings of `kind = "forest"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestSpec {
    /// Inputs; only `"radiomics"` for now.
    #[serde(default = "default_inputs")]
    pub inputs: Vec<String>,
    /// Number of trees (default 200).
    #[serde(default = "default_n_trees")]
    pub n_trees: usize,
    /// Maximum tree depth; default: grow until leaves are pure or `min_samples_leaf`.
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Minimum bootstrap rows per leaf (default 1).
    #[serde(default = "default_min_samples_leaf")]
    pub min_samples_leaf: usize,
    /// Features tried per split; default ⌊√p⌋ of the columns left after selection, and never
    /// more than those.
    #[serde(default)]
    pub mtry: Option<usize>,
    /// Use only these feature columns (pyradiomics names; a trailing `*` matches a prefix);
    /// default: all.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Feature selection inside each training fold; default none.
    #[serde(default)]
    pub selection: Option<SelectionSpec>,
}

fn default_inputs() -> Vec<String> {
    vec!["radiomics".into()]
}
fn default_n_trees() -> usize {
    200
}
fn default_min_samples_leaf() -> usize {
    1
}

/// Trees whose fitting costs about one logistic fit on the same radiomics table (measured on
/// 128 cases × 32 features, one thread, debug build: 200 trees ≈ 5 logistic fits).
const TREES_PER_LOGISTIC_FIT: f64 = 40.0;

/// The `forest` kind.
pub struct ForestKind;

impl ModelKind for ForestKind {
    fn name(&self) -> &'static str {
        "forest"
    }

    fn build(&self, id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        SelectionSpec::from_settings(settings)?;
        let spec: ForestSpec = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e| SettingsError::from_serde(&e))?;
        if spec.n_trees == 0 {
            return Err(SettingsError::for_key("n_trees", "`n_trees` must be ≥ 1"));
        }
        if spec.max_depth == Some(0) {
            return Err(SettingsError::for_key(
                "max_depth",
                "`max_depth` must be ≥ 1",
            ));
        }
        if spec.min_samples_leaf == 0 {
            return Err(SettingsError::for_key(
                "min_samples_leaf",
                "`min_samples_leaf` must be ≥ 1",
            ));
        }
        if spec.mtry == Some(0) {
            return Err(SettingsError::for_key("mtry", "`mtry` must be ≥ 1"));
        }
        if spec.features.as_ref().is_some_and(|f| f.is_empty()) {
            return Err(SettingsError::for_key("features", "`features` is empty"));
        }
        if spec.inputs != ["radiomics"] {
            return Err(SettingsError::for_key(
                "inputs",
                format!("`inputs` = {:?}: forest takes [\"radiomics\"]", spec.inputs),
            ));
        }
        Ok(Box::new(ForestModel {
            id: id.to_string(),
            spec,
        }))
    }
}

/// An unfitted random forest.
#[derive(Debug, Clone)]
pub struct ForestModel {
    id: String,
    spec: ForestSpec,
}

impl Model for ForestModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        let selection = self
            .spec
            .selection
            .as_ref()
            .map_or(0.0, SelectionSpec::relative_cost);
        self.spec.n_trees as f64 / TREES_PER_LOGISTIC_FIT + selection
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        let columns = ColumnChoice {
            model: &self.id,
            features: self.spec.features.as_deref(),
            selection: self.spec.selection.as_ref(),
        }
        .fit(data, rng)?;
        let x = columns.apply(data.features)?;
        let p = x.ncols();
        let mtry = self
            .spec
            .mtry
            .unwrap_or_else(|| (p as f64).sqrt().floor() as usize)
            .clamp(1, p.max(1));
        let params = TreeParams {
            max_depth: self.spec.max_depth,
            min_samples_leaf: self.spec.min_samples_leaf,
            mtry,
        };
        let base_seed = rng.next_u64();
        let n = x.nrows();
        let trees: Vec<DecisionTree> = (0..self.spec.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut tree_rng = rng_for(base_seed, &["tree", &t.to_string()]);
                let rows: Vec<usize> = (0..n).map(|_| tree_rng.random_range(0..n)).collect();
                DecisionTree::fit(
                    x.view(),
                    data.labels,
                    data.n_classes,
                    rows,
                    &params,
                    &mut tree_rng,
                )
            })
            .collect();
        Ok(Box::new(FittedForest {
            columns,
            trees,
            n_classes: data.n_classes,
        }))
    }
}

/// A fitted random forest with the columns chosen on its training fold.
pub struct FittedForest {
    columns: FittedColumns,
    trees: Vec<DecisionTree>,
    n_classes: usize,
}

impl Fitted for FittedForest {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let x = self.columns.apply(data.features)?;
        let n_trees = self.trees.len().max(1) as f64;
        let rows: Vec<Vec<f64>> = (0..x.nrows())
            .into_par_iter()
            .map(|i| {
                let mut sum = vec![0.0; self.n_classes];
                // Summed in tree order: the result does not depend on the thread count.
                for tree in &self.trees {
                    tree.add_proba(x.row(i), &mut sum);
                }
                sum.iter().map(|s| s / n_trees).collect()
            })
            .collect();
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        for (i, row) in rows.iter().enumerate() {
            for (c, &p) in row.iter().enumerate() {
                out[[i, c]] = p;
            }
        }
        Ok(out)
    }

    fn summary(&self) -> serde_json::Value {
        self.columns.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn model(settings: &str) -> Box<dyn Model> {
        ForestKind
            .build("rf", &toml::from_str(settings).unwrap())
            .unwrap()
    }

    /// Positives have larger x0 and x1 (with overlap); x2, x3 are noise.
    fn toy(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>, Vec<String>) {
        let mut rng = rng_for(seed, &["toy"]);
        let y: Vec<usize> = (0..n).map(|i| usize::from(i % 3 == 0)).collect();
        let x = Array2::from_shape_fn((n, 4), |(i, j)| {
            let u: f64 = rng.random();
            match j {
                0 | 1 => y[i] as f64 * 1.5 + u,
                _ => u,
            }
        });
        let names = (0..4).map(|j| format!("f{j}")).collect();
        (x, y, names)
    }

    fn data<'a>(
        x: &'a Array2<f64>,
        y: &'a [usize],
        names: &'a [String],
        k: usize,
    ) -> TrainingData<'a> {
        TrainingData {
            features: x.view(),
            feature_names: names,
            labels: y,
            n_classes: k,
            images: &[],
            patients: &[],
        }
    }

    fn auc(p: &Array2<f64>, y: &[usize]) -> f64 {
        let labels: Vec<bool> = y.iter().map(|&c| c == 1).collect();
        crate::eval::roc::auc(&p.column(1).to_vec(), &labels).unwrap()
    }

    #[test]
    fn separable_data_give_a_high_held_out_auc() {
        let (x, y, names) = toy(90, 1);
        let (x_test, y_test, _) = toy(60, 2);
        let fitted = model("n_trees = 50")
            .fit(&data(&x, &y, &names, 2), &mut rng_for(1, &[]))
            .unwrap();
        let p = fitted
            .predict_proba(&PredictData {
                features: x_test.view(),
                feature_names: &names,
                images: &[],
            })
            .unwrap();
        assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-12));
        assert!(auc(&p, &y_test) > 0.95, "{}", auc(&p, &y_test));
        assert_eq!(fitted.summary(), serde_json::Value::Null);
    }

    #[test]
    fn same_seed_same_forest_at_any_thread_count_other_seed_other_forest() {
        let (x, y, names) = toy(60, 3);
        let d = data(&x, &y, &names, 2);
        let m = model("n_trees = 20\nmax_depth = 4");
        let run = |seed: u64, threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                m.fit(&d, &mut rng_for(seed, &["cell"]))
                    .unwrap()
                    .predict_proba(&d.as_predict())
                    .unwrap()
            })
        };
        let a = run(1, 1);
        assert_eq!(a, run(1, 3));
        assert_ne!(a, run(2, 1));
    }

    #[test]
    fn multiclass_probabilities() {
        let n = 60;
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                y[i] as f64 * 2.0 + (i % 7) as f64 * 0.2
            } else {
                (i % 5) as f64
            }
        });
        let names = vec!["a".to_string(), "b".to_string()];
        let d = data(&x, &y, &names, 3);
        let p = model("n_trees = 30")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap()
            .predict_proba(&d.as_predict())
            .unwrap();
        assert_eq!(p.ncols(), 3);
        for (i, row) in p.rows().into_iter().enumerate() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
            assert!(row[y[i]] > 0.8, "row {i}: {row}");
        }
    }

    #[test]
    fn selection_runs_in_the_fold_and_is_reported() {
        let (x, y, names) = toy(90, 4);
        let d = data(&x, &y, &names, 2);
        let fitted = model("n_trees = 10\nselection = { method = \"univariate-auc\", k = 2 }")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap();
        assert_eq!(
            fitted.summary(),
            serde_json::json!({"selected": ["f0", "f1"]})
        );
        let subset = model("n_trees = 10\nfeatures = [\"f3\", \"f1\"]\nselection = { method = \"univariate-auc\", k = 1 }")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap();
        assert_eq!(subset.summary(), serde_json::json!({"selected": ["f1"]}));
    }

    #[test]
    fn one_class_nan_and_width_errors() {
        let (mut x, y, names) = toy(30, 5);
        let ones = vec![1; y.len()];
        let err = model("n_trees = 5")
            .fit(&data(&x, &ones, &names, 2), &mut rng_for(1, &[]))
            .err()
            .unwrap();
        assert!(matches!(err, ModelError::OneClass { .. }));
        let fitted = model("n_trees = 5")
            .fit(&data(&x, &y, &names, 2), &mut rng_for(1, &[]))
            .unwrap();
        x[[3, 2]] = f64::NAN;
        let err = model("n_trees = 5")
            .fit(&data(&x, &y, &names, 2), &mut rng_for(1, &[]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("\"f2\"") && err.to_string().contains("row 3"));
        let err = fitted
            .predict_proba(&data(&x, &y, &names, 2).as_predict())
            .unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        let narrow = x.slice(ndarray::s![.., 0..2]).to_owned();
        let err = fitted
            .predict_proba(&PredictData {
                features: narrow.view(),
                feature_names: &names[..2],
                images: &[],
            })
            .unwrap_err();
        assert!(err.to_string().contains("trained on 4"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_key() {
        for (text, key) in [
            ("n_trees = 0", "n_trees"),
            ("mtry = 0", "mtry"),
            ("min_samples_leaf = 0", "min_samples_leaf"),
            ("max_depth = 0", "max_depth"),
            ("n_tree = 10", "n_tree"),
            ("selection = { k = 2 }", "selection"),
            ("inputs = [\"cnn\"]", "inputs"),
        ] {
            let e = ForestKind
                .build("rf", &toml::from_str(text).unwrap())
                .err()
                .unwrap();
            assert_eq!(e.key(), Some(key), "{text}: {e}");
        }
        assert!(model("n_trees = 400").relative_cost() > model("").relative_cost());
    }
}
