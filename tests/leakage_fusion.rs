//! Issue 6, leakage of the fusion models: nothing fitted inside a cell by `kind = "fusion"`
//! (the CNN, the radiomics selection and standardiser, the stacking members and the
//! meta-learner) sees a test-fold case.
//!
//! As in `leakage.rs`, each strategy is fitted on the training rows of a real split, then the
//! TEST rows' labels are shuffled (and, separately, their features and images overwritten so
//! that they track the new labels) and the model fitted again. Its observable state — the fit
//! summary (CNN weight fingerprint and loss curve, selected features, standardiser, members'
//! summaries, meta-learner coefficients) and the predictions on the training rows and on fixed
//! probe rows — must be bit-identical. The same check applied to a fit that is handed the test
//! rows too must fail, which shows the check can see a leak of this kind.

use ndarray::{Array2, Axis};
use radbench::data::image::{Grid, Image, Mask};
use radbench::data::split::stratified_group_kfold;
use radbench::models::fusion::FusionKind;
use radbench::models::{CaseImages, ModelKind, PredictData, TrainingData};
use radbench::seed::rng_for;
use rand::RngExt;
use std::collections::BTreeMap;

const N: usize = 40;

/// A cohort: column f0 and the lesion intensity carry the label, f1 and f2 are noise.
struct Cohort {
    x: Array2<f64>,
    y: Vec<usize>,
    images: Vec<CaseImages>,
}

fn lesion(case: usize, level: f64, rng: &mut radbench::seed::SeededRng) -> CaseImages {
    let grid = Grid::new([8, 8, 1], [1.0; 3]);
    let mut voxels = vec![0.0; 64];
    let mut mask = vec![0u8; 64];
    for j in 2..6 {
        for i in 2..6 {
            voxels[i + 8 * j] = level + 10.0 * rng.random::<f64>();
            mask[i + 8 * j] = 1;
        }
    }
    CaseImages {
        case_id: format!("p{case}"),
        image: Image {
            grid: grid.clone(),
            voxels,
        },
        mask: Mask { grid, voxels: mask },
        channels: BTreeMap::new(),
    }
}

fn cohort() -> Cohort {
    let mut rng = rng_for(11, &["leakage-fusion", "cohort"]);
    let y: Vec<usize> = (0..N).map(|i| usize::from(i % 5 < 2)).collect();
    let x = Array2::from_shape_fn((N, 3), |(i, j)| {
        let signal = if y[i] == 1 { 1.0 } else { -1.0 };
        let noise: f64 = rng.random::<f64>() * 2.0 - 1.0;
        if j == 0 { signal + noise } else { noise }
    });
    let images = (0..N)
        .map(|i| lesion(i, if y[i] == 1 { 60.0 } else { 40.0 }, &mut rng))
        .collect();
    Cohort { x, y, images }
}

/// Shuffles the test rows' labels (seeded); with `inputs`, also rewrites their features and
/// images to follow the new labels.
fn tamper(c: &Cohort, test: &[usize], inputs: bool) -> Cohort {
    let mut out = Cohort {
        x: c.x.clone(),
        y: c.y.clone(),
        images: c.images.clone(),
    };
    let mut rng = rng_for(11, &["leakage-fusion", "tamper"]);
    let mut labels: Vec<usize> = test.iter().map(|&i| c.y[i]).collect();
    for k in (1..labels.len()).rev() {
        labels.swap(k, rng.random_range(0..=k));
    }
    for (&i, &label) in test.iter().zip(&labels) {
        out.y[i] = label;
        if inputs {
            out.x
                .row_mut(i)
                .fill(if out.y[i] == 1 { 50.0 } else { -50.0 });
            out.images[i] = lesion(i, if out.y[i] == 1 { 95.0 } else { 5.0 }, &mut rng);
        }
    }
    assert_ne!(out.y, c.y);
    out
}

#[derive(Debug, PartialEq)]
struct State {
    summary: serde_json::Value,
    on_training_rows: Array2<f64>,
    on_probe_rows: Array2<f64>,
}

/// Fits fusion `settings` on `rows` of `c` (as the runner's cell does) and records its state.
fn fit(settings: &str, c: &Cohort, rows: &[usize]) -> State {
    let model = FusionKind
        .build("fused", &toml::from_str(settings).unwrap())
        .unwrap();
    let names: Vec<String> = (0..3).map(|j| format!("f{j}")).collect();
    let x = c.x.select(Axis(0), rows);
    let y: Vec<usize> = rows.iter().map(|&i| c.y[i]).collect();
    let images: Vec<&CaseImages> = rows.iter().map(|&i| &c.images[i]).collect();
    let data = TrainingData {
        features: x.view(),
        feature_names: &names,
        labels: &y,
        n_classes: 2,
        images: &images,
        patients: &[],
    };
    let fitted = model
        .fit(&data, &mut rng_for(11, &["fused", "fold0"]))
        .unwrap();
    let probe = cohort();
    let probe_images: Vec<&CaseImages> = probe.images.iter().collect();
    State {
        summary: fitted.summary(),
        on_training_rows: fitted.predict_proba(&data.as_predict()).unwrap(),
        on_probe_rows: fitted
            .predict_proba(&PredictData {
                features: probe.x.view(),
                feature_names: &names,
                images: &probe_images,
            })
            .unwrap(),
    }
}

const CNN: &str = r#"{ input = { layout = { kind = "slices2d", k = 1 }, size = [8, 8], normalise = { kind = "window", lo = 0.0, hi = 100.0 } }, network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }, train = { epochs = 2, batch_size = 8, lr = 0.01 } }"#;

fn strategies() -> Vec<String> {
    vec![
        format!(
            "strategy = \"early\"\ncnn = {CNN}\nhead = {{ kind = \"logistic\", selection = {{ method = \"univariate-auc\", k = 4 }} }}"
        ),
        format!(
            "strategy = \"joint\"\ncnn = {CNN}\nselection = {{ variance = 1e-8, method = \"univariate-auc\", k = 2 }}"
        ),
        format!(
            "strategy = \"late\"\ninner_folds = 3\nmembers = [{{ id = \"radiomics\", kind = \"logistic\", selection = {{ method = \"lasso\" }} }}, {}]",
            CNN.replacen("{ ", "{ id = \"cnn\", kind = \"cnn\", ", 1)
        ),
    ]
}

#[test]
fn every_fusion_strategy_is_blind_to_test_rows() {
    let c = cohort();
    let patients: Vec<String> = (0..N).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
    let folds =
        stratified_group_kfold(&refs, &c.y, 4, &mut rng_for(11, &["leakage-fusion"])).unwrap();
    let (train, test) = (folds.train_indices(0), folds.test_indices(0));
    for settings in strategies() {
        let before = fit(&settings, &c, train);
        assert!(before.summary["cnn"]["fingerprint"].is_string() || settings.contains("late"));
        for inputs in [false, true] {
            let tampered = tamper(&c, test, inputs);
            assert_eq!(
                before,
                fit(&settings, &tampered, train),
                "{settings}\ninputs tampered: {inputs}"
            );
        }
        // The check sees a leak: handed the test rows too, the fit moves with their labels.
        let all: Vec<usize> = (0..N).collect();
        assert_ne!(
            fit(&settings, &c, &all),
            fit(&settings, &tamper(&c, test, false), &all),
            "{settings}"
        );
    }
}
