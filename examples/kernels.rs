//! Runs one hot kernel a given number of times on fixed, deterministic inputs — the workload of
//! the instruction-count benches (`scripts/instruction-counts.sh`).
//!
//! `cargo run --release --example kernels -- KERNEL REPS`. The script runs every kernel under
//! callgrind with REPS = 0 and REPS = 1: setup is identical in both, so the difference of the two
//! instruction counts is the kernel's own count, exactly, with no symbol filtering. Kernels run on
//! one thread (the script sets `RAYON_NUM_THREADS=1`) because thread hand-offs make counts vary.
//! `kernels --list` prints the kernel names.

use candle_core::{DType, Device, Tensor};
use radbench::eval::bootstrap::{Aucs, BootstrapSpec, bootstrap};
use radbench::eval::delong::delong_paired_test;
use radbench::eval::roc::auc;
use radbench::features::{self, FeatureSettings, preprocess};
use radbench::models::cnn::inception::{Inception, InceptionConfig};
use radbench::models::cnn::layers::ClassifierNet;
use radbench::models::cnn::optim::{Optimizer, OptimizerKind};
use radbench::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth, Stem};
use radbench::models::cnn::resnet3d::ResNet3d;
use radbench::models::cnn::store::seeded_varmap;
use radbench::models::cnn::train::trainable_params;
use radbench::models::cnn::unet::{UNet, UNetConfig};
use std::hint::black_box;
use std::process::ExitCode;

/// splitmix64, as in the statistics benches, so inputs never depend on an RNG crate's version.
fn uniform(k: u64) -> f64 {
    let mut z = k
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x5EED_0000_2024_0424);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64
}

fn scores(n: usize) -> (Vec<bool>, Vec<f64>, Vec<f64>) {
    let mut y = Vec::with_capacity(n);
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n as u64 {
        let case = uniform(3 * i) < 0.3;
        let shift = if case { 1.0 } else { 0.0 };
        let ai = uniform(3 * i + 1) + 0.35 * shift;
        y.push(case);
        a.push(ai);
        b.push(0.5 * ai + 0.5 * uniform(3 * i + 2) + 0.1 * shift);
    }
    (y, a, b)
}

/// A 48³ textured sphere of radius 16 with a blurred-noise interior: enough voxels and grey
/// levels to exercise every texture matrix.
fn phantom() -> (radbench::data::image::Image, radbench::data::image::Mask) {
    use radbench::data::image::{Grid, Image, Mask};
    let n = 48;
    let grid = Grid::new([n, n, n], [1.0, 1.0, 1.0]);
    let mut voxels = Vec::with_capacity(n * n * n);
    let mut labels = Vec::with_capacity(n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let r2 = [i, j, k]
                    .iter()
                    .map(|&c| (c as f64 - 23.5).powi(2))
                    .sum::<f64>();
                let idx = (i + n * (j + n * k)) as u64;
                voxels.push(40.0 + 200.0 * uniform(idx) + 3.0 * (i + j) as f64);
                labels.push(u8::from(r2 <= 256.0));
            }
        }
    }
    (
        Image {
            grid: grid.clone(),
            voxels,
        },
        Mask {
            grid,
            voxels: labels,
        },
    )
}

const KERNELS: [&str; 17] = [
    "auc_10k",
    "delong_paired_10k",
    "bootstrap_auc_200x10k",
    "glcm_phantom48",
    "glszm_phantom48",
    "shape_phantom48",
    "resnet18w16_1x64x64",
    "resnet18w16_b32_1x64x64",
    "resnet18w16_train_step_b32",
    "resnet18_b8_3x224x224",
    "resnet18_1x64x64",
    "resnet50_3x224x224",
    "resnet50_b8_3x224x224",
    "inception64_1x64x64",
    "inception64_b8_1x64x64",
    "unet32_b8_1x64x64",
    "resnet3d18w16_1x28x28x28",
];

fn run(kernel: &str, reps: usize) -> Result<(), String> {
    match kernel {
        "auc_10k" | "delong_paired_10k" | "bootstrap_auc_200x10k" => {
            let (y, a, b) = scores(10_000);
            let stat = Aucs::new(&[&a], &y).map_err(|e| e.to_string())?;
            let spec = BootstrapSpec {
                replicates: 200,
                seed: 1,
                stratified: true,
                level: 0.95,
            };
            for _ in 0..reps {
                match kernel {
                    "auc_10k" => {
                        black_box(auc(black_box(&a), &y).ok());
                    }
                    "delong_paired_10k" => {
                        black_box(delong_paired_test(black_box(&a), &b, &y, 0.95).ok());
                    }
                    _ => {
                        black_box(bootstrap(&stat, &y, &spec).ok());
                    }
                }
            }
        }
        "glcm_phantom48" | "glszm_phantom48" | "shape_phantom48" => {
            let (image, mask) = phantom();
            let settings = FeatureSettings::default();
            let prepared =
                preprocess::prepare(&image, &mask, &settings).map_err(|e| e.to_string())?;
            let class = kernel.trim_end_matches("_phantom48");
            let family = features::family_by_name(class).map_err(|e| e.to_string())?;
            let family_mask = if family.uses_morphological_mask() {
                &prepared.shape_mask
            } else {
                &prepared.mask
            };
            for _ in 0..reps {
                black_box(
                    family
                        .compute(&prepared.image, family_mask, &settings)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        "resnet18w16_1x64x64" | "resnet18w16_b32_1x64x64" => {
            let batch = if kernel == "resnet18w16_1x64x64" {
                1
            } else {
                32
            };
            let (_map, mut net) = small_resnet()?;
            net.fold_batch_norm().map_err(|e| e.to_string())?;
            let x = Tensor::ones((batch, 1, 64, 64), DType::F32, &Device::Cpu)
                .map_err(|e| e.to_string())?;
            for _ in 0..reps {
                black_box(net.forward_t(&x, false).map_err(|e| e.to_string())?);
            }
        }
        "resnet18_b8_3x224x224"
        | "resnet18_1x64x64"
        | "resnet50_3x224x224"
        | "resnet50_b8_3x224x224" => {
            let (depth, c, hw, batch) = match kernel {
                "resnet18_1x64x64" => (ResNetDepth::R18, 1, 64, 1),
                "resnet50_3x224x224" => (ResNetDepth::R50, 3, 224, 1),
                "resnet50_b8_3x224x224" => (ResNetDepth::R50, 3, 224, 8),
                _ => (ResNetDepth::R18, 3, 224, 8),
            };
            let (map, vb) = seeded_varmap(1);
            let cfg = ResNetConfig::torchvision(depth, c, 2);
            let mut net = ResNet::new(&cfg, None, vb).map_err(|e| e.to_string())?;
            drop(map);
            net.fold_batch_norm().map_err(|e| e.to_string())?;
            let x = Tensor::ones((batch, c, hw, hw), DType::F32, &Device::Cpu)
                .map_err(|e| e.to_string())?;
            for _ in 0..reps {
                black_box(net.forward_t(&x, false).map_err(|e| e.to_string())?);
            }
        }
        "resnet3d18w16_1x28x28x28" => {
            let (_map, vb) = seeded_varmap(1);
            let cfg = ResNetConfig {
                depth: ResNetDepth::R18,
                in_channels: 1,
                num_classes: 2,
                base_width: 16,
                stem: Stem::Small,
            };
            let mut net = ResNet3d::new(&cfg, None, vb).map_err(|e| e.to_string())?;
            net.fold_batch_norm().map_err(|e| e.to_string())?;
            let x = Tensor::ones((1, 1, 28, 28, 28), DType::F32, &Device::Cpu)
                .map_err(|e| e.to_string())?;
            for _ in 0..reps {
                black_box(net.forward_t(&x, false).map_err(|e| e.to_string())?);
            }
        }
        "resnet18w16_train_step_b32" => {
            let (map, net) = small_resnet()?;
            let params = trainable_params(&map, &[], &[]).map_err(|e| e.to_string())?;
            let mut optimizer = Optimizer::new(OptimizerKind::adamw(), params, 1e-4);
            let values: Vec<f32> = (0..32 * 64 * 64).map(|i| uniform(i) as f32).collect();
            let x = Tensor::from_vec(values, (32, 1, 64, 64), &Device::Cpu)
                .map_err(|e| e.to_string())?;
            let labels: Vec<u32> = (0..32u32).map(|i| i % 2).collect();
            let y = Tensor::from_vec(labels, 32, &Device::Cpu).map_err(|e| e.to_string())?;
            for _ in 0..reps {
                let grads = net
                    .forward_t(&x, true)
                    .and_then(|logits| candle_nn::loss::cross_entropy(&logits, &y))
                    .and_then(|loss| loss.backward())
                    .map_err(|e| e.to_string())?;
                optimizer
                    .step(&grads, 1e-3, Some(5.0))
                    .map_err(|e| e.to_string())?;
            }
        }
        "inception64_1x64x64" | "inception64_b8_1x64x64" => {
            // The inference bench's Inception-style net: width 64, stride-2 stem.
            let (map, vb) = seeded_varmap(1);
            let cfg = InceptionConfig {
                in_channels: 1,
                num_classes: 2,
                width: 64,
                stem_stride: 2,
            };
            let mut net = Inception::new(&cfg, None, vb).map_err(|e| e.to_string())?;
            drop(map);
            net.fold_batch_norm().map_err(|e| e.to_string())?;
            let batch = if kernel == "inception64_1x64x64" {
                1
            } else {
                8
            };
            let x = Tensor::ones((batch, 1, 64, 64), DType::F32, &Device::Cpu)
                .map_err(|e| e.to_string())?;
            for _ in 0..reps {
                black_box(net.forward_t(&x, false).map_err(|e| e.to_string())?);
            }
        }
        "unet32_b8_1x64x64" => {
            // The inference bench's U-Net: base width 32, 4 levels.
            let (map, vb) = seeded_varmap(1);
            let cfg = UNetConfig {
                in_channels: 1,
                num_classes: 1,
                base_width: 32,
                levels: 4,
            };
            let mut net = UNet::new(&cfg, vb).map_err(|e| e.to_string())?;
            drop(map);
            net.fold_batch_norm().map_err(|e| e.to_string())?;
            let x = Tensor::ones((8, 1, 64, 64), DType::F32, &Device::Cpu)
                .map_err(|e| e.to_string())?;
            for _ in 0..reps {
                black_box(net.forward_t(&x, false).map_err(|e| e.to_string())?);
            }
        }
        other => return Err(format!("unknown kernel `{other}` (try --list)")),
    }
    Ok(())
}

/// The width-16 ResNet-18 (1 input channel, 2 classes) of the inference and training kernels.
fn small_resnet() -> Result<(candle_nn::VarMap, ResNet), String> {
    let (map, vb) = seeded_varmap(1);
    let mut cfg = ResNetConfig::torchvision(ResNetDepth::R18, 1, 2);
    cfg.base_width = 16;
    let net = ResNet::new(&cfg, None, vb).map_err(|e| e.to_string())?;
    Ok((map, net))
}

fn main() -> ExitCode {
    radbench::process::configure_for_model_work();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for k in KERNELS {
            println!("{k}");
        }
        return ExitCode::SUCCESS;
    }
    let (Some(kernel), Some(reps)) = (args.first(), args.get(1).and_then(|r| r.parse().ok()))
    else {
        eprintln!("usage: kernels KERNEL REPS | kernels --list");
        return ExitCode::from(2);
    };
    // On a rayon worker, as the runner runs every cell.
    match radbench::process::on_worker_pool(|| run(kernel, reps)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kernels: {e}");
            ExitCode::from(2)
        }
    }
}
