//! Issue 6, leakage: nothing fitted inside a cell (standardiser, feature selection, logistic
//! regression, random forest) sees a test-fold case.
//!
//! Each pipeline is fitted on the training rows of a real split, exactly as the runner does
//! (`Folds::train_indices`, rows selected from the full table), then the TEST rows' labels
//! and features are tampered with and the pipeline fitted again. Its fitted state (the fit
//! summary with the selected features, and the predictions on the training rows and on fixed
//! probe rows) must be bit-identical. The same check applied to a deliberately leaky pipeline
//! (selection fitted on all rows before the split) must fail, which shows the check can see a
//! leak.

use ndarray::{Array2, Axis};
use radbench::data::split::{Folds, stratified_group_kfold};
use radbench::models::scaling::Standardiser;
use radbench::models::selection::SelectionSpec;
use radbench::models::{ModelKind, PredictData, TrainingData, forest, logistic};
use radbench::seed::rng_for;
use rand::RngExt;

const N: usize = 100;

/// Column 0 carries a strong signal, 1 a weak one, 2..6 are noise.
fn cohort() -> (Array2<f64>, Vec<usize>, Vec<String>) {
    let mut rng = rng_for(7, &["leakage", "cohort"]);
    let y: Vec<usize> = (0..N).map(|i| usize::from(i % 5 < 2)).collect();
    let x = Array2::from_shape_fn((N, 6), |(i, j)| {
        let signal = if y[i] == 1 { 1.0 } else { -1.0 };
        let noise: f64 = rng.random::<f64>() * 2.0 - 1.0;
        match j {
            0 => 1.2 * signal + noise,
            1 => 0.1 * signal + noise,
            _ => noise,
        }
    });
    let names = (0..6).map(|j| format!("f{j}")).collect();
    (x, y, names)
}

fn split(y: &[usize]) -> Folds {
    let patients: Vec<String> = (0..y.len()).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
    stratified_group_kfold(&refs, y, 5, &mut rng_for(7, &["leakage", "split"])).unwrap()
}

/// What the tampering touches.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    Labels,
    Features,
    Both,
}

/// Relabels test rows and/or overwrites test features with values that track the new labels
/// in the noise column f2 (so a leaky selection would pick it).
fn tamper(x: &Array2<f64>, y: &[usize], test: &[usize], how: Tamper) -> (Array2<f64>, Vec<usize>) {
    let (mut x, mut y) = (x.clone(), y.to_vec());
    for &i in test {
        if matches!(how, Tamper::Labels | Tamper::Both) {
            // Arbitrary new labels: they follow noise column f2 against weak column f1.
            y[i] = usize::from(x[[i, 2]] > x[[i, 1]]);
        }
        if matches!(how, Tamper::Features | Tamper::Both) {
            for j in 0..x.ncols() {
                x[[i, j]] = -3.0 * x[[i, j]] + 7.0;
            }
            x[[i, 2]] = if y[i] == 1 { 100.0 } else { -100.0 };
        }
    }
    (x, y)
}

/// The observable state of a fitted pipeline.
#[derive(Debug, PartialEq)]
struct State {
    summary: serde_json::Value,
    on_training_rows: Array2<f64>,
    on_probe_rows: Array2<f64>,
}

/// A pipeline: full table, labels, training rows → fitted state.
type Pipeline<'a> = dyn Fn(&Array2<f64>, &[usize], &[usize]) -> State + 'a;

/// Fits `kind` with `settings` on the training rows only, as the runner's cell does.
fn in_fold(
    kind: &'static dyn ModelKind,
    settings: &str,
) -> impl Fn(&Array2<f64>, &[usize], &[usize]) -> State + use<> {
    let model = kind.build("m", &toml::from_str(settings).unwrap()).unwrap();
    move |x, y, train| {
        let (_, _, names) = cohort();
        let x_train = x.select(Axis(0), train);
        let y_train: Vec<usize> = train.iter().map(|&i| y[i]).collect();
        let data = TrainingData {
            features: x_train.view(),
            feature_names: &names,
            labels: &y_train,
            n_classes: 2,
            images: &[],
            patients: &[],
        };
        let fitted = model.fit(&data, &mut rng_for(7, &["m", "fold0"])).unwrap();
        let probe = cohort().0;
        State {
            summary: fitted.summary(),
            on_training_rows: fitted.predict_proba(&data.as_predict()).unwrap(),
            on_probe_rows: fitted
                .predict_proba(&PredictData {
                    features: probe.view(),
                    feature_names: &names,
                    images: &[],
                })
                .unwrap(),
        }
    }
}

/// Whether tampering with the test rows changes what `pipeline` fits.
fn sees_test_rows(pipeline: &Pipeline<'_>, how: Tamper) -> bool {
    let (x, y, _) = cohort();
    let folds = split(&y);
    let (train, test) = (folds.train_indices(0), folds.test_indices(0));
    let before = pipeline(&x, &y, train);
    let (x2, y2) = tamper(&x, &y, test, how);
    let after = pipeline(&x2, &y2, train);
    before != after
}

const SELECTIONS: [&str; 3] = [
    "",
    "selection = { variance = 1e-8, correlation = 0.9, method = \"univariate-auc\", k = 2 }",
    "selection = { variance = 1e-8, method = \"lasso\" }",
];

#[test]
fn standardiser_is_fitted_on_training_rows_only() {
    let (x, y, _) = cohort();
    let folds = split(&y);
    let (train, test) = (folds.train_indices(0), folds.test_indices(0));
    let (x2, _) = tamper(&x, &y, test, Tamper::Features);
    assert_ne!(x, x2);
    assert_eq!(
        Standardiser::fit(x.select(Axis(0), train).view()),
        Standardiser::fit(x2.select(Axis(0), train).view())
    );
}

#[test]
fn logistic_with_and_without_selection_is_blind_to_test_rows() {
    for selection in SELECTIONS {
        let pipeline = in_fold(&logistic::LogisticKind, selection);
        for how in [Tamper::Labels, Tamper::Features, Tamper::Both] {
            assert!(!sees_test_rows(&pipeline, how), "{selection:?} {how:?}");
        }
    }
}

#[test]
fn forest_with_and_without_selection_is_blind_to_test_rows() {
    for selection in SELECTIONS {
        let pipeline = in_fold(&forest::ForestKind, &format!("n_trees = 15\n{selection}"));
        for how in [Tamper::Labels, Tamper::Features, Tamper::Both] {
            assert!(!sees_test_rows(&pipeline, how), "{selection:?} {how:?}");
        }
    }
}

/// Selection fitted on every row (train and test) before the split, then a logistic model on
/// the selected columns fitted in the fold: the classic leak.
fn leaky(x: &Array2<f64>, y: &[usize], train: &[usize]) -> State {
    let (_, _, names) = cohort();
    let spec = SelectionSpec::from_settings(
        &toml::from_str("selection = { method = \"univariate-auc\", k = 2 }").unwrap(),
    )
    .unwrap()
    .unwrap();
    let chosen = spec
        .fit("leaky", x.view(), &names, y, 2, &mut rng_for(7, &["leaky"]))
        .unwrap();
    let features = toml::Value::Array(
        chosen
            .names()
            .iter()
            .map(|n| toml::Value::String(n.clone()))
            .collect(),
    );
    let mut state =
        in_fold(&logistic::LogisticKind, &format!("features = {features}"))(x, y, train);
    state.summary = serde_json::json!({ "selected": chosen.names() });
    state
}

#[test]
fn the_check_catches_selection_fitted_before_the_split() {
    let in_fold_selection = in_fold(
        &logistic::LogisticKind,
        "selection = { method = \"univariate-auc\", k = 2 }",
    );
    for how in [Tamper::Labels, Tamper::Features, Tamper::Both] {
        assert!(sees_test_rows(&leaky, how), "{how:?}");
        // The same selection fitted in the fold does not move.
        assert!(!sees_test_rows(&in_fold_selection, how), "{how:?}");
    }
    // The leak shows in the selected features themselves: relabelled test rows promote a
    // noise column over the weak signal f1, and test rows whose f2 tracks their label put the
    // noise column f2 in the selection.
    let (x, y, _) = cohort();
    let folds = split(&y);
    let (train, test) = (folds.train_indices(0), folds.test_indices(0));
    let selected = |state: State| state.summary["selected"].clone();
    let honest = serde_json::json!(["f0", "f1"]);
    assert_eq!(selected(leaky(&x, &y, train)), honest);
    let (x2, y2) = tamper(&x, &y, test, Tamper::Labels);
    assert_eq!(
        selected(leaky(&x2, &y2, train)),
        serde_json::json!(["f0", "f5"])
    );
    assert_eq!(selected(in_fold_selection(&x2, &y2, train)), honest);
    let (x2, y2) = tamper(&x, &y, test, Tamper::Both);
    assert_eq!(
        selected(leaky(&x2, &y2, train)),
        serde_json::json!(["f0", "f2"])
    );
    assert_eq!(selected(in_fold_selection(&x2, &y2, train)), honest);
}
