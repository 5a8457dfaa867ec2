//! End-to-end CNN training on tiny synthetic cohorts: learning, multi-class output, early
//! stopping, divergence errors, and pretraining on one scenario then fine-tuning on another.

use crate::cnn_data::{cohort, patches};
use radbench::eval::roc::auc;
use radbench::models::cnn::CnnError;
use radbench::models::cnn::augment::Augment;
use radbench::models::cnn::classifier::{Aggregate, ArchSpec, CnnClassifier, CnnSpec, Pretrained};
use radbench::models::cnn::optim::{OptimizerKind, Schedule};
use radbench::models::cnn::resnet::{ResNetDepth, Stem};
use radbench::models::cnn::train::{LrScale, TrainSpec};
use radbench::models::cnn::transfer::read_checkpoint;
use radbench::seed::rng_for;

/// A ResNet-18 of base width 4 on 16×16 patches, 3 epochs.
pub fn tiny_spec(classes: usize) -> CnnSpec {
    CnnSpec {
        arch: ArchSpec::Resnet {
            depth: ResNetDepth::R18,
            base_width: 4,
            stem: Stem::Small,
        },
        classes,
        train: TrainSpec {
            epochs: 3,
            batch_size: 16,
            lr: 3e-3,
            optimizer: OptimizerKind::adamw(),
            weight_decay: 1e-4,
            schedule: Schedule::Cosine { min_factor: 0.1 },
            augment: Augment {
                flips: true,
                rot90: true,
                intensity_scale: 0.05,
                ..Default::default()
            },
            ..Default::default()
        },
        validation_fraction: 0.0,
        aggregate: Aggregate::Mean,
        pretrained: None,
    }
}

#[test]
fn tiny_resnet_learns_lesion_contrast() {
    let (train_x, train_y) = patches(&cohort(1, "train", 40, 2, 1.5), 3);
    let (test_x, _) = patches(&cohort(1, "test", 20, 2, 1.5), 3);
    let test_cases = cohort(1, "test", 20, 2, 1.5);
    let fitted = CnnClassifier::fit(
        &train_x,
        &train_y,
        &tiny_spec(2),
        &mut rng_for(1, &["cnn", "fold0"]),
    )
    .unwrap();
    let curve = fitted.curve();
    assert_eq!(curve.epochs.len(), 3);
    assert!(curve.epochs.iter().all(|e| e.train_loss.is_finite()));
    let cases = fitted.predict_cases(&test_x).unwrap();
    assert_eq!(cases.len(), 20);
    let scores: Vec<f64> = cases.iter().map(|c| c.proba[1]).collect();
    let labels: Vec<bool> = test_cases.iter().map(|c| c.label == 1).collect();
    assert!(cases.iter().zip(&test_cases).all(|(p, c)| p.case == c.id));
    let a = auc(&scores, &labels).unwrap();
    assert!(a > 0.8, "test AUC {a}, curve {curve:?}");
    let emb = fitted.embed(&test_x[..2]).unwrap();
    assert_eq!(emb.len(), 2);
    assert_eq!(emb[0].len(), fitted.embed_dim());
}

#[test]
fn inception_three_classes_with_early_stopping() {
    let (x, y) = patches(&cohort(2, "mc", 30, 3, 2.0), 2);
    let mut spec = tiny_spec(3);
    spec.arch = ArchSpec::Inception {
        width: 8,
        stem_stride: 1,
    };
    spec.validation_fraction = 0.3;
    spec.train.patience = Some(1);
    spec.train.epochs = 4;
    spec.train.optimizer = OptimizerKind::sgd();
    spec.train.lr = 0.02;
    let fitted = CnnClassifier::fit(&x, &y, &spec, &mut rng_for(2, &["inception"])).unwrap();
    let curve = fitted.curve();
    assert!(
        curve
            .epochs
            .iter()
            .all(|e| e.val_auc.is_some() && e.val_loss.is_some())
    );
    assert!(curve.best_epoch >= 1 && curve.best_epoch <= curve.epochs.len());
    let best = curve.epochs[curve.best_epoch - 1].val_auc.unwrap();
    assert!(curve.epochs.iter().all(|e| e.val_auc.unwrap() <= best));
    let p = fitted.predict_proba(&x[..5]).unwrap();
    assert!(
        p.iter()
            .all(|r| r.len() == 3 && (r.iter().sum::<f64>() - 1.0).abs() < 1e-5)
    );
}

#[test]
fn nan_input_and_divergence_stop_with_a_clear_error() {
    let (mut x, y) = patches(&cohort(3, "nan", 12, 2, 1.0), 1);
    let mut spec = tiny_spec(2);
    spec.train.optimizer = OptimizerKind::sgd();
    spec.train.lr = 1e30;
    spec.train.clip_grad_norm = None;
    let err = CnnClassifier::fit(&x, &y, &spec, &mut rng_for(3, &["nan"]))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            CnnError::NonFiniteLoss { .. } | CnnError::NonFiniteGradient { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch "), "{err}");
    x[5].data[7] = f32::NAN;
    let err = CnnClassifier::fit(&x, &y, &tiny_spec(2), &mut rng_for(3, &["nan"]))
        .err()
        .unwrap();
    assert!(
        matches!(err, CnnError::NonFiniteInput { index: 7, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&x[5].case), "{err}");
}

#[test]
fn bad_settings_and_labels_are_rejected() {
    let (x, y) = patches(&cohort(4, "bad", 6, 2, 1.0), 1);
    let mut spec = tiny_spec(2);
    spec.train.batch_size = 1;
    let err = CnnClassifier::fit(&x, &y, &spec, &mut rng_for(4, &["bad"]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("batch_size"), "{err}");
    let one_class = vec![0; y.len()];
    let err = CnnClassifier::fit(&x, &one_class, &tiny_spec(2), &mut rng_for(4, &["bad"]))
        .err()
        .unwrap();
    assert!(
        matches!(err, CnnError::TooFewClasses { classes: 1, .. }),
        "{err}"
    );
}

#[test]
fn pretrain_on_one_scenario_then_fine_tune_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("pretrained.safetensors");
    let (xa, ya) = patches(&cohort(5, "scenario-a", 24, 2, 1.5), 2);
    let pre = CnnClassifier::fit(&xa, &ya, &tiny_spec(2), &mut rng_for(5, &["pretrain"])).unwrap();
    pre.save(&checkpoint).unwrap();

    // Fine-tune on a three-class scenario: new head, stem frozen, smaller rate for layer1.
    let (xb, yb) = patches(&cohort(6, "scenario-b", 24, 3, 2.0), 2);
    let mut spec = tiny_spec(3);
    spec.pretrained = Some(Pretrained {
        path: checkpoint.clone(),
        strict: true,
        skip: vec!["fc.".into()],
        first_conv: None,
    });
    spec.train.freeze = Some(0);
    spec.train.lr_scales = vec![LrScale {
        prefix: "layer1.".into(),
        scale: 0.1,
    }];
    spec.train.epochs = 2;
    let tuned = CnnClassifier::fit(&xb, &yb, &spec, &mut rng_for(6, &["finetune"])).unwrap();
    let report = tuned.load_report().unwrap();
    assert_eq!(
        report.skipped,
        vec!["fc.bias".to_string(), "fc.weight".to_string()]
    );
    assert!(
        report.missing.is_empty()
            && report.unexpected.is_empty()
            && report.shape_mismatched.is_empty()
    );

    let tuned_path = dir.path().join("tuned.safetensors");
    tuned.save(&tuned_path).unwrap();
    let before = read_checkpoint(&checkpoint).unwrap();
    let after = read_checkpoint(&tuned_path).unwrap();
    let same = |name: &str| {
        let d: f32 = (&before[name] - &after[name])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        d == 0.0
    };
    // The frozen stem (weights and batch-norm statistics) is untouched; later stages moved.
    assert!(same("conv1.weight") && same("bn1.weight") && same("bn1.running_mean"));
    assert!(!same("layer2.0.conv1.weight"));
    assert_eq!(after["fc.weight"].dims(), &[3, 32]);
}
