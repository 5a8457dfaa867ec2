//! The training loop for classification networks, deterministic on the CPU.
//!
//! Principal types: [`TrainSpec`], [`LossCurve`] / [`EpochRecord`], [`train_classifier`],
//! [`predict_logits`]. Loss: cross-entropy with optional class weights (PyTorch's
//! `CrossEntropyLoss(weight=…)`: Σ wᵢ·nllᵢ / Σ wᵢ; "balanced" weights n / (classes · n_c) as
//! scikit-learn). Each epoch draws a permutation of the samples from the cell's
//! [`SeededRng`], then each sample's augmentation in batch order. Early stopping watches the
//! inner-validation AUC (`crate::eval::roc::auc`; the macro one-vs-rest mean for more than two
//! classes), keeps the best epoch's weights and restores them at the end. Batch norm runs in
//! training mode except in frozen stages.
//!
//! Determinism: the convolutions are radbench's GEMM ops ([`super::trainconv`]), whose sums
//! run in gemm's k order whatever the thread count (gemm splits only the m and n axes); candle's
//! remaining CPU kernels (batch-norm reductions, element-wise ops, the head's matmul) split work
//! over output elements only. The `cnn_determinism` test trains in child processes at
//! `RAYON_NUM_THREADS` = 1, 2 and 4 and compares weight and prediction checksums bit for bit.
//! Cost: none measured beyond what the GEMM lowering already does (no fixed thread count).

use super::CnnError;
use super::augment::Augment;
use super::input::{Sample, batch_tensor};
use super::layers::ClassifierNet;
use super::optim::{Optimizer, OptimizerKind, Param, Schedule};
use super::store::{named_vars, restore, snapshot};
use crate::seed::SeededRng;
use candle_core::{D, DType, Tensor};
use candle_nn::VarMap;
use rand::RngExt;

/// How classes are weighted in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassWeighting {
    /// Every sample counts once.
    #[default]
    None,
    /// Weight n / (classes · n_c), so every class contributes equally.
    Balanced,
}

/// A learning-rate multiplier for the parameters whose names start with `prefix`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrScale {
    /// Name prefix, e.g. `"layer1."`.
    pub prefix: String,
    /// Multiplier of the scheduled rate.
    pub scale: f64,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// Passes over the training samples.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Weight decay (decoupled for AdamW, L2 for SGD).
    pub weight_decay: f64,
    /// Learning rate over epochs.
    pub schedule: Schedule,
    /// Loss weights per class.
    pub class_weighting: ClassWeighting,
    /// Maximum global gradient norm.
    pub clip_grad_norm: Option<f64>,
    /// Stop after this many epochs without a better validation AUC (needs validation data).
    pub patience: Option<usize>,
    /// Augmentation of training samples.
    pub augment: Augment,
    /// Freeze the stem and stages up to this index (see `ClassifierNet::stage_prefixes`).
    pub freeze: Option<usize>,
    /// Discriminative learning rates, first matching prefix wins.
    pub lr_scales: Vec<LrScale>,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            optimizer: OptimizerKind::adamw(),
            weight_decay: 1e-4,
            schedule: Schedule::Cosine { min_factor: 0.0 },
            class_weighting: ClassWeighting::None,
            clip_grad_norm: Some(5.0),
            patience: None,
            augment: Augment::default(),
            freeze: None,
            lr_scales: Vec::new(),
        }
    }
}

impl TrainSpec {
    /// Rejects settings that cannot train, naming the key.
    pub fn check(&self) -> Result<(), CnnError> {
        if self.epochs == 0 {
            return Err(CnnError::settings("epochs", "must be at least 1"));
        }
        if self.batch_size < 2 {
            return Err(CnnError::settings(
                "batch_size",
                "must be at least 2 (batch norm needs two samples)",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(CnnError::settings(
                "lr",
                format!("must be a positive number, got {}", self.lr),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(CnnError::settings("weight_decay", "must be ≥ 0"));
        }
        if let Some(c) = self.clip_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(CnnError::settings("clip_grad_norm", "must be positive"));
        }
        Ok(())
    }
}

/// One epoch of the loss curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Largest gradient norm seen (before clipping).
    pub max_grad_norm: f64,
    /// Validation loss (unweighted cross-entropy), when validation data were given.
    pub val_loss: Option<f64>,
    /// Validation AUC, when validation data hold every class.
    pub val_auc: Option<f64>,
    /// Validation Dice (segmentation), when validation data were given.
    pub val_dice: Option<f64>,
}

/// What happened during training.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LossCurve {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// True when early stopping ended training before the last epoch.
    pub stopped_early: bool,
}

/// Parameters of the network the optimiser updates: every variable except batch-norm running
/// statistics and the frozen stages, with their learning-rate multipliers, in name order.
pub fn trainable_params(
    varmap: &VarMap,
    frozen_prefixes: &[String],
    lr_scales: &[LrScale],
) -> Result<Vec<Param>, CnnError> {
    Ok(named_vars(varmap)?
        .into_iter()
        .filter(|(name, _)| !name.ends_with(".running_mean") && !name.ends_with(".running_var"))
        .filter(|(name, _)| !frozen_prefixes.iter().any(|p| name.starts_with(p.as_str())))
        .map(|(name, var)| {
            let lr_scale = lr_scales
                .iter()
                .find(|s| name.starts_with(s.prefix.as_str()))
                .map_or(1.0, |s| s.scale);
            Param {
                name,
                var,
                lr_scale,
            }
        })
        .collect())
}

/// Name prefixes frozen by `freeze` for a network.
pub fn frozen_prefixes(net: &dyn ClassifierNet, freeze: Option<usize>) -> Vec<String> {
    match freeze {
        None => Vec::new(),
        Some(k) => net
            .stage_prefixes()
            .into_iter()
            .take(k + 1)
            .flatten()
            .collect(),
    }
}

/// Per-class loss weights for `labels`.
pub fn class_weights(labels: &[usize], classes: usize, how: ClassWeighting) -> Vec<f64> {
    match how {
        ClassWeighting::None => vec![1.0; classes],
        ClassWeighting::Balanced => {
            let mut counts = vec![0usize; classes];
            for &y in labels {
                counts[y] += 1;
            }
            counts
                .iter()
                .map(|&c| {
                    if c == 0 {
                        0.0
                    } else {
                        labels.len() as f64 / (classes as f64 * c as f64)
                    }
                })
                .collect()
        }
    }
}

/// Weighted mean cross-entropy of `logits` `[n, classes]` against `labels`.
pub fn cross_entropy(
    logits: &Tensor,
    labels: &[usize],
    weights: &[f64],
) -> Result<Tensor, CnnError> {
    let dev = logits.device();
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let idx = Tensor::from_vec(
        labels.iter().map(|&y| y as u32).collect::<Vec<_>>(),
        (labels.len(), 1),
        dev,
    )?;
    let nll = log_p.gather(&idx, 1)?.squeeze(1)?.neg()?;
    let w: Vec<f32> = labels.iter().map(|&y| weights[y] as f32).collect();
    let total: f64 = labels.iter().map(|&y| weights[y]).sum();
    let w = Tensor::from_vec(w, labels.len(), dev)?;
    Ok(((nll * w)?.sum_all()? / total.max(f64::MIN_POSITIVE))?)
}

/// Logits of `samples` in evaluation mode, `[n, classes]`, in batches of `batch_size`.
pub fn predict_logits(
    net: &dyn ClassifierNet,
    samples: &[Sample],
    batch_size: usize,
) -> Result<Tensor, CnnError> {
    forward_batches(samples, batch_size, |xs| Ok(net.forward_t(xs, false)?))
}

/// Pooled embeddings of `samples` in evaluation mode, `[n, embed_dim]`.
pub fn predict_embeddings(
    net: &dyn ClassifierNet,
    samples: &[Sample],
    batch_size: usize,
) -> Result<Tensor, CnnError> {
    forward_batches(samples, batch_size, |xs| Ok(net.features_t(xs, false)?))
}

fn forward_batches(
    samples: &[Sample],
    batch_size: usize,
    f: impl Fn(&Tensor) -> Result<Tensor, CnnError>,
) -> Result<Tensor, CnnError> {
    let refs: Vec<&Sample> = samples.iter().collect();
    let outs = refs
        .chunks(batch_size.max(1))
        .map(|chunk| f(&batch_tensor(chunk)?))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::cat(&outs, 0)?)
}

/// Class probabilities (softmax rows) as f64.
pub fn softmax_rows(logits: &Tensor) -> Result<Vec<Vec<f64>>, CnnError> {
    let p = candle_nn::ops::softmax(logits, D::Minus1)?.to_dtype(DType::F64)?;
    Ok(p.to_vec2::<f64>()?)
}

/// AUC of class-probability rows against labels: binary AUC of class 1, or the macro mean of
/// one-vs-rest AUCs; `None` when a class is absent.
pub fn multiclass_auc(proba: &[Vec<f64>], labels: &[usize], classes: usize) -> Option<f64> {
    let one_vs_rest = |c: usize| {
        let scores: Vec<f64> = proba.iter().map(|p| p[c]).collect();
        let is_c: Vec<bool> = labels.iter().map(|&y| y == c).collect();
        crate::eval::roc::auc(&scores, &is_c).ok()
    };
    if classes == 2 {
        return one_vs_rest(1);
    }
    let aucs: Option<Vec<f64>> = (0..classes).map(one_vs_rest).collect();
    aucs.map(|a| a.iter().sum::<f64>() / classes as f64)
}

/// Samples with one class label each.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// Inputs.
    pub samples: &'a [Sample],
    /// Class index per input.
    pub labels: &'a [usize],
}

/// Trains `net` (whose variables live in `varmap`) on `train` (class indices `< classes`),
/// drawing batch order and augmentation from `rng`.
pub fn train_classifier(
    net: &dyn ClassifierNet,
    varmap: &VarMap,
    train: Labelled<'_>,
    validation: Option<Labelled<'_>>,
    classes: usize,
    spec: &TrainSpec,
    rng: &mut SeededRng,
) -> Result<LossCurve, CnnError> {
    spec.check()?;
    let (samples, labels) = (train.samples, train.labels);
    if samples.len() != labels.len() {
        return Err(CnnError::Shape {
            message: format!("{} samples for {} labels", samples.len(), labels.len()),
        });
    }
    if let Some(y) = labels.iter().find(|&&y| y >= classes) {
        return Err(CnnError::Shape {
            message: format!("label {y} is not below the number of classes {classes}"),
        });
    }
    check_finite(samples)?;
    if let Some(v) = validation {
        check_finite(v.samples)?;
    }
    if spec.augment.volumetric
        && let Some(s) = samples.iter().find(|s| s.shape.len() != 4)
    {
        return Err(CnnError::settings(
            "augment.volumetric",
            format!(
                "needs 3-D inputs [channels, depth, h, w]; case {:?} has shape {:?}",
                s.case, s.shape
            ),
        ));
    }
    let weights = class_weights(labels, classes, spec.class_weighting);
    let params = trainable_params(varmap, &frozen_prefixes(net, spec.freeze), &spec.lr_scales)?;
    let mut optimizer = Optimizer::new(spec.optimizer, params, spec.weight_decay);
    let mut curve = LossCurve::default();
    let mut best: Option<(f64, std::collections::BTreeMap<String, Tensor>)> = None;
    let mut since_best = 0usize;
    for epoch in 0..spec.epochs {
        let lr = spec.schedule.lr_at(spec.lr, epoch, spec.epochs);
        let order = permutation(samples.len(), rng);
        let (mut loss_sum, mut batches, mut max_norm) = (0.0, 0usize, 0.0f64);
        for (b, chunk) in order.chunks(spec.batch_size).enumerate() {
            // A batch of one cannot be batch-normalised (zero variance); drop it as PyTorch's
            // `drop_last` would.
            if chunk.len() < 2 {
                continue;
            }
            let batch: Vec<Sample> = chunk
                .iter()
                .map(|&i| spec.augment.apply(&samples[i], rng))
                .collect();
            let batch_labels: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            let xs = batch_tensor(&batch.iter().collect::<Vec<_>>())?;
            let logits = net.forward_t(&xs, true)?;
            let loss = cross_entropy(&logits, &batch_labels, &weights)?;
            let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !value.is_finite() {
                return Err(CnnError::NonFiniteLoss {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss: value,
                });
            }
            let grads = loss.backward()?;
            // A NaN gradient would poison the weights while ReLUs can keep the loss finite.
            let norm = optimizer.grad_norm(&grads)?;
            if !norm.is_finite() {
                return Err(CnnError::NonFiniteGradient {
                    epoch: epoch + 1,
                    batch: b + 1,
                    norm,
                });
            }
            optimizer.step_with_norm(&grads, lr, spec.clip_grad_norm, norm)?;
            max_norm = max_norm.max(norm);
            loss_sum += value;
            batches += 1;
        }
        let mut record = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: if batches > 0 {
                loss_sum / batches as f64
            } else {
                f64::NAN
            },
            max_grad_norm: max_norm,
            val_loss: None,
            val_auc: None,
            val_dice: None,
        };
        if let Some(Labelled {
            samples: val_samples,
            labels: val_labels,
        }) = validation
            && !val_samples.is_empty()
        {
            let logits = predict_logits(net, val_samples, spec.batch_size)?;
            let ones = vec![1.0; classes];
            record.val_loss = Some(
                cross_entropy(&logits, val_labels, &ones)?
                    .to_dtype(DType::F64)?
                    .to_scalar()?,
            );
            record.val_auc = multiclass_auc(&softmax_rows(&logits)?, val_labels, classes);
        }
        let score = record.val_auc;
        curve.epochs.push(record);
        if let (Some(patience), Some(score)) = (spec.patience, score) {
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, snapshot(varmap)?));
                curve.best_epoch = epoch + 1;
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= patience {
                    curve.stopped_early = epoch + 1 < spec.epochs;
                    break;
                }
            }
        }
    }
    match best {
        Some((_, weights)) => restore(varmap, &weights)?,
        None => curve.best_epoch = curve.epochs.len(),
    }
    Ok(curve)
}

/// Errors on the first NaN or infinite input value, naming its case. (ReLU in candle maps NaN
/// to 0, so a NaN input would otherwise train silently on garbage.)
pub fn check_finite(samples: &[Sample]) -> Result<(), CnnError> {
    for s in samples {
        if let Some(index) = s.data.iter().position(|v| !v.is_finite()) {
            return Err(CnnError::NonFiniteInput {
                case: s.case.clone(),
                index,
            });
        }
    }
    Ok(())
}

/// A uniformly random permutation of `0..n` (Fisher–Yates from the end).
pub fn permutation(n: usize, rng: &mut SeededRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}
