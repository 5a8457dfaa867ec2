//! 3-D CNNs end to end: a tiny 3-D ResNet learns from lesion crops, runs as `kind = "cnn"`
//! through the runner, and rejects bad inputs (crops, masks, grids, checkpoints, divergence)
//! with errors that name the case, tensor or epoch.

use crate::cnn_data::{cohort, crops};
use radbench::data::image::Mask;
use radbench::eval::roc::auc;
use radbench::models::cnn::CnnError;
use radbench::models::cnn::augment::Augment;
use radbench::models::cnn::classifier::{ArchSpec, CnnClassifier, CnnSpec};
use radbench::models::cnn::input::{Layout, Normalise, PatchSpec, extract};
use radbench::models::cnn::optim::OptimizerKind;
use radbench::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth, Stem};
use radbench::models::cnn::resnet3d::ResNet3d;
use radbench::models::cnn::store::{save_varmap, seeded_varmap};
use radbench::models::cnn::transfer::{LoadOptions, load_checkpoint};
use radbench::seed::rng_for;
use std::path::Path;
use std::process::Command;

/// A 3-D ResNet-18 of base width 4 on `[1, 4, 12, 12]` crops.
pub fn tiny_spec_3d(classes: usize) -> CnnSpec {
    let mut spec = crate::cnn_training::tiny_spec(classes);
    spec.arch = ArchSpec::Resnet3d {
        depth: ResNetDepth::R18,
        base_width: 4,
        stem: Stem::Small,
    };
    spec.train.epochs = 4;
    spec.train.batch_size = 8;
    spec.train.augment = Augment {
        flips: true,
        rotate_degrees: 5.0,
        scale: 0.05,
        translate: 1.0,
        ..Default::default()
    };
    spec
}

#[test]
fn tiny_3d_resnet_learns_lesion_contrast() {
    let (train_x, train_y) = crops(&cohort(21, "train3d", 40, 2, 1.5));
    let test_cases = cohort(21, "test3d", 20, 2, 1.5);
    let (test_x, _) = crops(&test_cases);
    assert_eq!(train_x[0].shape, vec![1, 4, 12, 12]);
    let fitted = CnnClassifier::fit(
        &train_x,
        &train_y,
        &tiny_spec_3d(2),
        &mut rng_for(21, &["cnn3d"]),
    )
    .unwrap();
    let curve = fitted.curve();
    assert!(curve.epochs.iter().all(|e| e.train_loss.is_finite()));
    let scores = fitted.predict_positive(&test_x).unwrap();
    let labels: Vec<bool> = test_cases.iter().map(|c| c.label == 1).collect();
    let a = auc(&scores, &labels).unwrap();
    assert!(a > 0.8, "test AUC {a}, curve {curve:?}");
    assert_eq!(fitted.embed(&test_x[..2]).unwrap()[0].len(), 32);
    // A 2-D input is refused with the expected layout named.
    let flat: Vec<_> = test_x.iter().map(|s| s.depth_as_channels()).collect();
    let err = CnnClassifier::fit(
        &flat,
        &train_y[..flat.len()],
        &tiny_spec_3d(2),
        &mut rng_for(1, &["x"]),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("crop3d"), "{err}");
}

#[test]
fn volumetric_augmentation_trains_3d_nets_and_is_refused_on_2d_inputs() {
    let (train_x, train_y) = crops(&cohort(23, "vol3d", 40, 2, 1.5));
    let test_cases = cohort(23, "vol3d-test", 20, 2, 1.5);
    let (test_x, _) = crops(&test_cases);
    let mut spec = tiny_spec_3d(2);
    spec.train.augment.volumetric = true;
    let fitted = CnnClassifier::fit(&train_x, &train_y, &spec, &mut rng_for(23, &["v"])).unwrap();
    let scores = fitted.predict_positive(&test_x).unwrap();
    let labels: Vec<bool> = test_cases.iter().map(|c| c.label == 1).collect();
    let a = auc(&scores, &labels).unwrap();
    assert!(a > 0.8, "test AUC {a}");
    // Different draws than the in-plane augmentation, so different weights.
    let planar = CnnClassifier::fit(
        &train_x,
        &train_y,
        &tiny_spec_3d(2),
        &mut rng_for(23, &["v"]),
    )
    .unwrap();
    assert_ne!(planar.fingerprint().unwrap(), fitted.fingerprint().unwrap());
    // A 2-D network on 2-D patches cannot take volumetric augmentation.
    let (x2, y2) = crate::cnn_data::patches(&cohort(24, "vol2d", 12, 2, 1.5), 1);
    let mut spec2 = crate::cnn_training::tiny_spec(2);
    spec2.train.augment.volumetric = true;
    let err = CnnClassifier::fit(&x2, &y2, &spec2, &mut rng_for(24, &["v"]))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("augment.volumetric"), "{err}");
}

#[test]
fn divergence_names_the_epoch() {
    let (x, y) = crops(&cohort(22, "nan3d", 12, 2, 1.0));
    let mut spec = tiny_spec_3d(2);
    spec.train.optimizer = OptimizerKind::sgd();
    spec.train.lr = 1e30;
    spec.train.clip_grad_norm = None;
    let err = CnnClassifier::fit(&x, &y, &spec, &mut rng_for(22, &["nan3d"]))
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            CnnError::NonFiniteLoss { .. } | CnnError::NonFiniteGradient { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch 1"), "{err}");
}

#[test]
fn bad_crops_masks_grids_and_checkpoints_are_named() {
    let cases = cohort(23, "bad3d", 2, 2, 1.0);
    let c = &cases[0];
    let spec = |depth: usize, size: [usize; 2]| PatchSpec {
        layout: Layout::Crop3d { depth },
        size,
        normalise: Normalise::None,
        mask_channel: false,
    };
    // The cohort's volumes are 24×24×6.
    let err = extract(&c.id, &[&c.image], &c.mask, &spec(7, [8, 8])).unwrap_err();
    assert!(
        matches!(
            err,
            CnnError::CropLargerThanVolume {
                axis: "k",
                crop: 7,
                extent: 6,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&c.id), "{err}");
    let err = extract(&c.id, &[&c.image], &c.mask, &spec(4, [25, 8])).unwrap_err();
    assert!(err.to_string().contains("along j"), "{err}");
    let empty = Mask {
        grid: c.mask.grid.clone(),
        voxels: vec![0; c.mask.voxels.len()],
    };
    let err = extract(&c.id, &[&c.image], &empty, &spec(4, [8, 8])).unwrap_err();
    assert!(matches!(err, CnnError::EmptyMask { .. }), "{err}");
    assert!(err.to_string().contains(&c.id), "{err}");
    let mut shifted = c.image.clone();
    shifted.grid.origin[2] += 5.0;
    let err = extract(&c.id, &[&c.image, &shifted], &c.mask, &spec(4, [8, 8])).unwrap_err();
    assert!(
        err.to_string().contains("channel 1") && err.to_string().contains(&c.id),
        "{err}"
    );

    // A 2-D checkpoint loaded into the 3-D net of the same names: every kernel's shape is
    // named with both shapes.
    let cfg = ResNetConfig {
        depth: ResNetDepth::R18,
        in_channels: 1,
        num_classes: 2,
        base_width: 4,
        stem: Stem::Small,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat.safetensors");
    let (flat_map, vb) = seeded_varmap(1);
    ResNet::new(&cfg, None, vb).unwrap();
    save_varmap(&flat_map, &path).unwrap();
    let (map, vb) = seeded_varmap(2);
    ResNet3d::new(&cfg, None, vb).unwrap();
    let err = load_checkpoint(&map, &path, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv1.weight (network [4, 1, 3, 3, 3], checkpoint [4, 1, 3, 3])"),
        "{err}"
    );
    // Its own weights round-trip strictly.
    let own = dir.path().join("own.safetensors");
    save_varmap(&map, &own).unwrap();
    let (again, vb) = seeded_varmap(3);
    ResNet3d::new(&cfg, None, vb).unwrap();
    let strict = LoadOptions {
        strict: true,
        ..Default::default()
    };
    load_checkpoint(&again, &own, &strict).unwrap();
}

fn radbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(args)
        .output()
        .expect("radbench runs")
}

const EXPERIMENT: &str = r#"
[experiment]
name = "tiny-cnn3d"
seed = 5

[data]
manifest = "cohort/manifest.toml"
label = "lesion"

[split]
kind = "stratified-kfold"
folds = 2

[[model]]
id = "cnn3d"
kind = "cnn"
input = { layout = { kind = "crop3d", depth = 8 }, size = [16, 16], normalise = { kind = "z-score-in-mask" } }
network = { arch = "resnet3d", depth = "resnet18", base_width = 2, stem = "small" }
train = { epochs = 1, batch_size = 8 }
"#;

#[test]
fn a_3d_cnn_runs_as_an_experiment_and_a_2d_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let out = radbench(&[
        "synth",
        "lesion-ct",
        "--n",
        "20",
        "--seed",
        "3",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let exp = dir.path().join("cnn3d.toml");
    std::fs::write(&exp, EXPERIMENT).unwrap();
    let out = radbench(&[
        "run",
        "--quiet",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        exp.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let folder = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(folder).join("report.json")).unwrap())
            .unwrap();
    let model = &report["models"][0];
    assert_eq!(model["kind"], "cnn");
    assert_eq!(model["n_cases"], 20);
    assert!(model["auc"].as_f64().unwrap().is_finite());

    // The same network on 2-D slices: a settings error naming the key.
    let bad = EXPERIMENT.replace(
        r#"{ kind = "crop3d", depth = 8 }"#,
        r#"{ kind = "slices2d", k = 1 }"#,
    );
    std::fs::write(&exp, bad).unwrap();
    let out = radbench(&[
        "run",
        "--quiet",
        "--out",
        dir.path().join("bad").to_str().unwrap(),
        exp.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        stderr.contains("network") && stderr.contains("crop3d"),
        "{stderr}"
    );
}

/// Timing, not a check (run with `--ignored --nocapture`): one training step (forward,
/// cross-entropy, backward, AdamW) of ResNet-18 3-D, width 16, small stem, on a batch of
/// 32 volumes of 1×28×28×28, and batch-1 folded inference, in the profile it was built with.
#[test]
#[ignore]
fn time_resnet3d18_w16_on_28_cubed() {
    use radbench::models::cnn::layers::ClassifierNet;
    use radbench::models::cnn::optim::Optimizer;
    use radbench::models::cnn::train::trainable_params;
    let dev = candle_core::Device::Cpu;
    // The small stem costs about 60× the ImageNet one here: one timed step, no warm-up.
    for (stem, timed) in [(Stem::Imagenet, 2), (Stem::Small, 1)] {
        let cfg = ResNetConfig {
            depth: ResNetDepth::R18,
            in_channels: 1,
            num_classes: 2,
            base_width: 16,
            stem,
        };
        let (map, vb) = seeded_varmap(1);
        let net = ResNet3d::new(&cfg, None, vb).unwrap();
        let mut optimizer = Optimizer::new(
            OptimizerKind::adamw(),
            trainable_params(&map, &[], &[]).unwrap(),
            1e-4,
        );
        let x = candle_core::Tensor::randn(0f32, 1.0, (32, 1, 28, 28, 28), &dev).unwrap();
        let y =
            candle_core::Tensor::from_vec((0..32u32).map(|i| i % 2).collect(), 32, &dev).unwrap();
        let mut step = || {
            let logits = net.forward_t(&x, true).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
            let grads = loss.backward().unwrap();
            optimizer.step(&grads, 1e-3, Some(5.0)).unwrap();
        };
        if timed > 1 {
            step();
        }
        let t = std::time::Instant::now();
        for _ in 0..timed {
            step();
        }
        let per_step = t.elapsed().as_secs_f64() / timed as f64;
        let mut folded = net.clone();
        folded.fold_batch_norm().unwrap();
        let x1 = x.narrow(0, 0, 1).unwrap();
        folded.forward_t(&x1, false).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..5 {
            folded.forward_t(&x1, false).unwrap();
        }
        let infer = t.elapsed().as_secs_f64() / 5.0;
        println!(
            "resnet3d18 w16 {stem:?} 1x28^3: train step (batch 32) {per_step:.2} s => epoch of 1188 volumes ≈ {:.0} s; batch-1 inference {:.1} ms",
            per_step * 1188.0 / 32.0,
            infer * 1e3
        );
    }
}
