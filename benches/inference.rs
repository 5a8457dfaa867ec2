//! CNN inference and training-step benches (candle CPU backend).
//!
//! Rows: ResNet-18 at 1×64×64 and 3×224×224, ResNet-50 at 3×224×224, the Inception net
//! (width 64) and the U-Net (width 32, 4 levels) at 1×64×64: batch-1 latency and batch-32
//! throughput, batch norm folded as in `FittedCnn`; and one ResNet-18 training step (forward,
//! backward, AdamW) on a batch of 32 at 1×64×64; a 3-D ResNet-18 (width 16) at 1×28×28×28:
//! batch-1 inference and a batch-32 training step. Thread count: candle follows
//! `RAYON_NUM_THREADS` (the published figures use 2). Before criterion's own statistics, each
//! batch-1 row prints p50 / p95 latency over a fixed number of runs, which criterion does not
//! report.

use candle_core::{DType, Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput};
use radbench::models::cnn::inception::{Inception, InceptionConfig};
use radbench::models::cnn::layers::ClassifierNet;
use radbench::models::cnn::optim::{Optimizer, OptimizerKind};
use radbench::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth, Stem};
use radbench::models::cnn::resnet3d::ResNet3d;
use radbench::models::cnn::store::seeded_varmap;
use radbench::models::cnn::train::trainable_params;
use radbench::models::cnn::unet::{UNet, UNetConfig};
use std::time::{Duration, Instant};

/// Runs `f` 3 times untimed, then `n` times, and prints its p50 / p95 wall time. The method is
/// the onnxruntime script's (`inference_anchors/onnx_resnet.py`: 3 warm-up runs, 30 timed, the
/// sorted times' elements 15 and 28), so the two latency lines compare like for like.
fn print_latency(name: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    // n = 30 picks elements 15 and 28, as the anchor script does.
    let pick = |q: f64| times[((q * n as f64) as usize).min(n - 1)];
    eprintln!(
        "{name}: batch-1 latency p50 {:.2} ms, p95 {:.2} ms ({n} runs)",
        pick(0.5),
        pick(0.95)
    );
}

fn input(batch: usize, c: usize, hw: usize) -> Tensor {
    Tensor::ones((batch, c, hw, hw), DType::F32, &Device::Cpu).expect("bench input")
}

fn resnet(depth: ResNetDepth, channels: usize, width: usize) -> Box<dyn ClassifierNet> {
    let (_map, vb) = seeded_varmap(1);
    let mut cfg = ResNetConfig::torchvision(depth, channels, 2);
    cfg.base_width = width;
    let mut net = ResNet::new(&cfg, None, vb).expect("resnet");
    net.fold_batch_norm().expect("fold");
    Box::new(net)
}

fn inception() -> Box<dyn ClassifierNet> {
    let (_map, vb) = seeded_varmap(1);
    let cfg = InceptionConfig {
        in_channels: 1,
        num_classes: 2,
        width: 64,
        stem_stride: 2,
    };
    let mut net = Inception::new(&cfg, None, vb).expect("inception");
    net.fold_batch_norm().expect("fold");
    Box::new(net)
}

/// Batch-1 latency and batch-32 throughput of one classifier row.
fn classifier_rows(
    c: &mut Criterion,
    name: &str,
    net: &dyn ClassifierNet,
    channels: usize,
    hw: usize,
    big_batch: usize,
) {
    let mut group = c.benchmark_group(format!("cnn-inference/{name}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let x1 = input(1, channels, hw);
    print_latency(name, 30, || {
        net.forward_t(&x1, false).expect("forward");
    });
    for batch in [1, big_batch] {
        let x = input(batch, channels, hw);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &x, |b, x| {
            b.iter(|| net.forward_t(x, false).expect("forward"))
        });
    }
    group.finish();
}

/// The criterion entry point (wired from `benches/main.rs`).
pub fn benches(c: &mut Criterion) {
    // The "small ResNet" (16-32-64-128) of the pre-issue measurements in DEPENDENCIES.md.
    let small = resnet(ResNetDepth::R18, 1, 16);
    classifier_rows(c, "resnet18w16-1x64x64", small.as_ref(), 1, 64, 32);
    let r18 = resnet(ResNetDepth::R18, 1, 64);
    classifier_rows(c, "resnet18-1x64x64", r18.as_ref(), 1, 64, 32);
    let r18 = resnet(ResNetDepth::R18, 3, 64);
    classifier_rows(c, "resnet18-3x224x224", r18.as_ref(), 3, 224, 32);
    let r50 = resnet(ResNetDepth::R50, 3, 64);
    classifier_rows(c, "resnet50-3x224x224", r50.as_ref(), 3, 224, 8);
    classifier_rows(c, "inception64-1x64x64", inception().as_ref(), 1, 64, 32);

    let (_map, vb) = seeded_varmap(1);
    let unet_cfg = UNetConfig {
        in_channels: 1,
        num_classes: 1,
        base_width: 32,
        levels: 4,
    };
    let mut unet = UNet::new(&unet_cfg, vb).expect("unet");
    unet.fold_batch_norm().expect("fold");
    let x1 = input(1, 1, 64);
    print_latency("unet32-1x64x64", 30, || {
        unet.forward_t(&x1, false).expect("forward");
    });
    let mut group = c.benchmark_group("cnn-inference/unet32-1x64x64");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for batch in [1, 32] {
        let x = input(batch, 1, 64);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &x, |b, x| {
            b.iter(|| unet.forward_t(x, false).expect("forward"))
        });
    }
    group.finish();

    train_step(c, "resnet18w16-1x64x64", 16);
    train_step(c, "resnet18-1x64x64", 64);
    resnet3d_rows(c);
}

/// A 3-D ResNet-18 (base width 16, small stem) on 1×28×28×28 volumes (MedMNIST-3D size):
/// batch-1 inference (folded) and one training step on a batch of 32.
fn resnet3d_rows(c: &mut Criterion) {
    let name = "resnet3d18w16-1x28x28x28";
    let cfg = ResNetConfig {
        depth: ResNetDepth::R18,
        in_channels: 1,
        num_classes: 2,
        base_width: 16,
        stem: Stem::Small,
    };
    let (map, vb) = seeded_varmap(1);
    let net = ResNet3d::new(&cfg, None, vb).expect("resnet3d");
    let mut folded = net.clone();
    folded.fold_batch_norm().expect("fold");
    let x1 = Tensor::ones((1, 1, 28, 28, 28), DType::F32, &Device::Cpu).expect("input");
    print_latency(name, 10, || {
        folded.forward_t(&x1, false).expect("forward");
    });
    let mut group = c.benchmark_group(format!("cnn-inference/{name}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(BenchmarkId::new("batch", 1), &x1, |b, x| {
        b.iter(|| folded.forward_t(x, false).expect("forward"))
    });
    group.finish();

    let mut optimizer = Optimizer::new(
        OptimizerKind::adamw(),
        trainable_params(&map, &[], &[]).expect("params"),
        1e-4,
    );
    let x = Tensor::randn(0f32, 1.0, (32, 1, 28, 28, 28), &Device::Cpu).expect("input");
    let y = Tensor::from_vec(
        (0..32u32).map(|i| i % 2).collect::<Vec<_>>(),
        32,
        &Device::Cpu,
    )
    .expect("labels");
    let mut group = c.benchmark_group(format!("cnn-train-step/{name}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(32));
    group.bench_function("batch-32", |b| {
        b.iter(|| {
            let logits = net.forward_t(&x, true).expect("forward");
            let loss = candle_nn::loss::cross_entropy(&logits, &y).expect("loss");
            let grads = loss.backward().expect("backward");
            optimizer.step(&grads, 1e-3, Some(5.0)).expect("step");
        })
    });
    group.finish();
}

/// One training step: forward in training mode, cross-entropy, backward, AdamW update, on a
/// batch of 32 at 1×64×64.
fn train_step(c: &mut Criterion, name: &str, width: usize) {
    let (map, vb) = seeded_varmap(1);
    let mut cfg = ResNetConfig::torchvision(ResNetDepth::R18, 1, 2);
    cfg.base_width = width;
    let net = ResNet::new(&cfg, None, vb).expect("resnet");
    let mut optimizer = Optimizer::new(
        OptimizerKind::adamw(),
        trainable_params(&map, &[], &[]).expect("params"),
        1e-4,
    );
    let x = Tensor::randn(0f32, 1.0, (32, 1, 64, 64), &Device::Cpu).expect("input");
    let y = Tensor::from_vec(
        (0..32u32).map(|i| i % 2).collect::<Vec<_>>(),
        32,
        &Device::Cpu,
    )
    .expect("labels");
    let mut group = c.benchmark_group(format!("cnn-train-step/{name}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(32));
    group.bench_function("batch-32", |b| {
        b.iter(|| {
            let logits = net.forward_t(&x, true).expect("forward");
            let loss = candle_nn::loss::cross_entropy(&logits, &y).expect("loss");
            let grads = loss.backward().expect("backward");
            optimizer.step(&grads, 1e-3, Some(5.0)).expect("step");
        })
    });
    group.finish();
}
