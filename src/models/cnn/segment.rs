//! Lesion segmentation with the U-Net: full-slice inputs, training, predicted masks and the
//! per-case quality figures of the segmentation studies.
//!
//! Principal types: [`SegmenterSpec`], [`SegSample`], [`fit_segmenter`], [`FittedSegmenter`],
//! [`CaseSegmentation`]. Loss: binary cross-entropy on logits plus soft Dice (1 − 2Σpy/(Σp+Σy)),
//! the usual nnU-Net-style compound loss (Isensee et al. 2021). Training runs on whole slices
//! (`dims = 2`) or whole volumes with the 3-D U-Net (`dims = 3`, [`super::segment3d`]), so a
//! fitted segmenter needs no reference mask at inference ("fully automated" pipeline:
//! its [`Mask`] can feed the radiomics family). Quality control flags a case whose Dice with
//! the reference is below a threshold or whose prediction is empty.

use super::CnnError;
use super::augment::Augment;
use super::input::{Normalise, Sample, batch_tensor};
use super::optim::{Optimizer, OptimizerKind, Schedule};
use super::segment3d::{SegNet, check_divisible, dims_error, full_volume};
use super::store::{restore, seeded_varmap, snapshot};
use super::train::{EpochRecord, LossCurve, check_finite, permutation, trainable_params};
use super::unet::UNetConfig;
use crate::data::image::{Image, Mask};
use crate::seed::SeededRng;
use candle_core::{DType, Tensor};
use candle_nn::VarMap;
use rand::Rng;

/// Segmenter settings (keys left out take the defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmenterSpec {
    /// 2: a U-Net on axial slices; 3: a 3-D U-Net on whole volumes (every side divisible by
    /// `2^levels`; flips and quarter turns act in-plane on every slice alike).
    pub dims: usize,
    /// Channels at full resolution.
    pub base_width: usize,
    /// Down-sampling steps (slice sides must be divisible by 2^levels).
    pub levels: usize,
    /// Intensity normalisation of each channel.
    pub normalise: Normalise,
    /// Passes over the training slices.
    pub epochs: usize,
    /// Slices per step.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Weight decay.
    pub weight_decay: f64,
    /// Learning rate over epochs.
    pub schedule: Schedule,
    /// Augmentation (flips and quarter turns move image and mask together).
    pub augment: Augment,
    /// Probability threshold of the predicted mask.
    pub threshold: f64,
    /// Cases with a Dice below this fail quality control.
    pub qc_min_dice: f64,
    /// Fraction of cases held out to watch the validation Dice; 0 = none.
    pub validation_fraction: f64,
    /// Stop after this many epochs without a better validation Dice (keeps the best weights).
    pub patience: Option<usize>,
}

impl Default for SegmenterSpec {
    fn default() -> Self {
        SegmenterSpec {
            dims: 2,
            base_width: 8,
            levels: 2,
            normalise: Normalise::ZScore,
            epochs: 10,
            batch_size: 8,
            lr: 3e-3,
            optimizer: OptimizerKind::adamw(),
            weight_decay: 1e-4,
            schedule: Schedule::Cosine { min_factor: 0.1 },
            augment: Augment::default(),
            threshold: 0.5,
            qc_min_dice: 0.5,
            validation_fraction: 0.0,
            patience: None,
        }
    }
}

/// One training input, a slice or a volume: image channels and the reference mask (0/1, one
/// value per voxel of a channel).
#[derive(Debug, Clone, PartialEq)]
pub struct SegSample {
    /// Input, `[channels, h, w]` (slice) or `[channels, d, h, w]` (volume).
    pub input: Sample,
    /// Reference mask of the slice or volume, row-major.
    pub target: Vec<f32>,
}

/// Every axial slice of a case, normalised, as `[channels, ny, nx]` inputs (slice order).
pub fn full_slices(
    case: &str,
    images: &[&Image],
    normalise: Normalise,
) -> Result<Vec<Sample>, CnnError> {
    let first = images
        .first()
        .ok_or_else(|| CnnError::settings("input", format!("case {case:?}: no image")))?;
    let grid = &first.grid;
    let mut channels = Vec::with_capacity(images.len());
    for (c, im) in images.iter().enumerate() {
        if let Some(detail) = grid.mismatch(&im.grid, 1e-4) {
            return Err(CnnError::GridMismatch {
                case: case.into(),
                what: format!("image channel {c}"),
                detail,
            });
        }
        let all = Mask {
            grid: grid.clone(),
            voxels: vec![1; grid.len()],
        };
        channels.push(super::input::normalised(im, &all, normalise));
    }
    let [nx, ny, nz] = grid.dims;
    let plane = nx * ny;
    Ok((0..nz)
        .map(|k| {
            let mut data = Vec::with_capacity(channels.len() * plane);
            for ch in &channels {
                data.extend_from_slice(&ch[k * plane..(k + 1) * plane]);
            }
            Sample {
                case: case.to_string(),
                slice: Some(k),
                shape: vec![channels.len(), ny, nx],
                data,
            }
        })
        .collect())
}

/// Training slices of a case: every slice with its mask slice (any non-zero label = lesion).
pub fn training_slices(
    case: &str,
    images: &[&Image],
    mask: &Mask,
    normalise: Normalise,
) -> Result<Vec<SegSample>, CnnError> {
    if let Some(im) = images.first()
        && let Some(detail) = im.grid.mismatch(&mask.grid, 1e-4)
    {
        return Err(CnnError::GridMismatch {
            case: case.into(),
            what: "the mask".into(),
            detail,
        });
    }
    let plane = mask.grid.dims[0] * mask.grid.dims[1];
    Ok(full_slices(case, images, normalise)?
        .into_iter()
        .enumerate()
        .map(|(k, input)| SegSample {
            input,
            target: mask.voxels[k * plane..(k + 1) * plane]
                .iter()
                .map(|&v| f32::from(v != 0))
                .collect(),
        })
        .collect())
}

/// BCE-with-logits plus soft-Dice loss of logits `[n, 1, (d,) h, w]` against targets of that
/// shape.
fn seg_loss(logits: &Tensor, target: &Tensor) -> Result<Tensor, CnnError> {
    // max(x, 0) − x·y + log(1 + e^−|x|): stable for large |x|.
    let bce = ((logits.relu()? - (logits * target)?)?
        + ((logits.abs()?.neg()?.exp()? + 1.0)?.log()?))?
    .mean_all()?;
    let p = candle_nn::ops::sigmoid(logits)?;
    let inter = (&p * target)?.sum_all()?;
    let denom = ((p.sum_all()? + target.sum_all()?)? + 1.0)?;
    let dice = ((inter * 2.0)? + 1.0)?.div(&denom)?;
    Ok((bce + (1.0 - dice)?)?)
}

/// Trains a U-Net (2-D or 3-D, `spec.dims`) on `samples` (all of one shape), drawing
/// everything from `rng`.
pub fn fit_segmenter(
    samples: &[SegSample],
    spec: &SegmenterSpec,
    rng: &mut SeededRng,
) -> Result<FittedSegmenter, CnnError> {
    if !(0.0..0.9).contains(&spec.validation_fraction) {
        return Err(CnnError::settings(
            "validation_fraction",
            "must lie in [0, 0.9)",
        ));
    }
    if spec.patience.is_some() && spec.validation_fraction == 0.0 {
        return Err(CnnError::settings(
            "patience",
            "early stopping needs validation_fraction > 0",
        ));
    }
    if spec.batch_size < 2 || spec.epochs == 0 || !(spec.lr.is_finite() && spec.lr > 0.0) {
        return Err(CnnError::settings(
            "segmenter",
            "epochs ≥ 1, batch_size ≥ 2 and lr > 0 are required",
        ));
    }
    if spec.augment.has_affine() {
        return Err(CnnError::settings(
            "augment",
            "rotate_degrees, scale and translate are not supported for segmentation (the mask is not resampled)",
        ));
    }
    let first = samples
        .first()
        .ok_or_else(|| CnnError::settings("segmenter", "no training slices"))?;
    if !(2..=3).contains(&spec.dims) {
        return Err(dims_error(spec.dims));
    }
    let shape = first.input.shape.clone();
    if shape.len() != spec.dims + 1 {
        return Err(CnnError::Shape {
            message: format!(
                "dims = {} segmenter inputs are [channels, {}], got {shape:?}",
                spec.dims,
                if spec.dims == 2 { "h, w" } else { "d, h, w" }
            ),
        });
    }
    check_divisible(&first.input.case, &shape, spec.levels)?;
    let voxels: usize = shape[1..].iter().product();
    for s in samples {
        if s.input.shape != shape || s.target.len() != voxels {
            return Err(CnnError::Shape {
                message: format!(
                    "case {:?} slice {:?} does not match shape {shape:?}",
                    s.input.case, s.input.slice
                ),
            });
        }
    }
    let inputs: Vec<Sample> = samples.iter().map(|s| s.input.clone()).collect();
    check_finite(&inputs)?;
    let cfg = UNetConfig {
        in_channels: shape[0],
        num_classes: 1,
        base_width: spec.base_width,
        levels: spec.levels,
    };
    let (varmap, vb) = seeded_varmap(rng.next_u64());
    let mut net = SegNet::new(&cfg, spec.dims, vb)?;
    let (train_idx, val_idx) = split_cases(samples, spec.validation_fraction, rng);
    let mut best: Option<(f64, std::collections::BTreeMap<String, Tensor>)> = None;
    let mut since_best = 0usize;
    let mut optimizer = Optimizer::new(
        spec.optimizer,
        trainable_params(&varmap, &[], &[])?,
        spec.weight_decay,
    );
    let geometric = Augment {
        flips: spec.augment.flips,
        rot90: spec.augment.rot90,
        ..Augment::default()
    };
    let intensity = Augment {
        flips: false,
        rot90: false,
        ..spec.augment
    };
    let mut curve = LossCurve::default();
    for epoch in 0..spec.epochs {
        let lr = spec.schedule.lr_at(spec.lr, epoch, spec.epochs);
        let (mut loss_sum, mut batches, mut max_norm) = (0.0, 0usize, 0.0f64);
        let order: Vec<usize> = permutation(train_idx.len(), rng)
            .into_iter()
            .map(|i| train_idx[i])
            .collect();
        for (b, chunk) in order.chunks(spec.batch_size).enumerate() {
            if chunk.len() < 2 {
                continue;
            }
            let mut xs = Vec::with_capacity(chunk.len());
            let mut ys = Vec::with_capacity(chunk.len() * voxels);
            for &i in chunk {
                // The mask rides along as an extra channel so that flips and turns match.
                let s = &samples[i];
                let mut both = s.input.clone();
                both.data.extend_from_slice(&s.target);
                both.shape[0] += 1;
                let moved = geometric.apply(&both, rng);
                let split = moved.data.len() - voxels;
                ys.extend_from_slice(&moved.data[split..]);
                let mut image = s.input.clone();
                image.data = moved.data[..split].to_vec();
                xs.push(intensity.apply(&image, rng));
            }
            let x = batch_tensor(&xs.iter().collect::<Vec<_>>())?;
            let mut y_shape = vec![chunk.len(), 1];
            y_shape.extend_from_slice(&shape[1..]);
            let y = Tensor::from_vec(ys, y_shape, x.device())?;
            let loss = seg_loss(&net.forward_t(&x, true)?, &y)?;
            let value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !value.is_finite() {
                return Err(CnnError::NonFiniteLoss {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss: value,
                });
            }
            let grads = loss.backward()?;
            let norm = optimizer.grad_norm(&grads)?;
            if !norm.is_finite() {
                return Err(CnnError::NonFiniteGradient {
                    epoch: epoch + 1,
                    batch: b + 1,
                    norm,
                });
            }
            optimizer.step_with_norm(&grads, lr, Some(5.0), norm)?;
            loss_sum += value;
            batches += 1;
            max_norm = max_norm.max(norm);
        }
        curve.epochs.push(EpochRecord {
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
        });
        if val_idx.is_empty() {
            continue;
        }
        let dice = validation_dice(&net, samples, &val_idx, spec.threshold)?;
        if let Some(last) = curve.epochs.last_mut() {
            last.val_dice = Some(dice);
        }
        if best.as_ref().is_none_or(|(b, _)| dice > *b) {
            best = Some((dice, snapshot(&varmap)?));
            curve.best_epoch = epoch + 1;
            since_best = 0;
        } else {
            since_best += 1;
            if spec.patience.is_some_and(|p| since_best >= p) {
                curve.stopped_early = epoch + 1 < spec.epochs;
                break;
            }
        }
    }
    match best {
        Some((_, weights)) => restore(&varmap, &weights)?,
        None => curve.best_epoch = curve.epochs.len(),
    }
    // Folding makes detached copies; the store keeps the trained (unfolded) weights.
    net.fold_batch_norm()?;
    Ok(FittedSegmenter {
        net,
        varmap,
        spec: spec.clone(),
        input_shape: shape,
        curve,
    })
}

/// Sample indices of training and validation: `fraction` of the cases (at least one when there
/// are two or more) go to validation, drawn from `rng`.
fn split_cases(
    samples: &[SegSample],
    fraction: f64,
    rng: &mut SeededRng,
) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..samples.len()).collect();
    let mut cases: Vec<&str> = samples.iter().map(|s| s.input.case.as_str()).collect();
    cases.sort_unstable();
    cases.dedup();
    if fraction <= 0.0 || cases.len() < 2 {
        return (all, Vec::new());
    }
    let order = permutation(cases.len(), rng);
    let n = ((cases.len() as f64 * fraction).round() as usize).clamp(1, cases.len() - 1);
    let held: std::collections::BTreeSet<&str> = order[..n].iter().map(|&i| cases[i]).collect();
    all.into_iter()
        .partition(|&i| !held.contains(samples[i].input.case.as_str()))
}

/// Dice over all validation voxels (evaluation mode, unfolded weights).
fn validation_dice(
    net: &SegNet,
    samples: &[SegSample],
    idx: &[usize],
    threshold: f64,
) -> Result<f64, CnnError> {
    let (mut predicted, mut reference) = (Vec::new(), Vec::new());
    let per_pass = samples
        .first()
        .map_or(16, |s| inference_batch(&s.input.shape));
    for chunk in idx.chunks(per_pass) {
        let inputs: Vec<&Sample> = chunk.iter().map(|&i| &samples[i].input).collect();
        let p = candle_nn::ops::sigmoid(&net.forward_t(&batch_tensor(&inputs)?, false)?)?;
        for row in p.flatten_from(1)?.to_vec2::<f32>()? {
            predicted.extend(row.iter().map(|&v| u8::from(f64::from(v) >= threshold)));
        }
        for &i in chunk {
            reference.extend(samples[i].target.iter().map(|&v| u8::from(v > 0.5)));
        }
    }
    Ok(dice(&predicted, &reference))
}

/// Inputs per inference pass: 16 slices, or 2 volumes (a volume holds a slice's voxels many
/// times over).
fn inference_batch(shape: &[usize]) -> usize {
    if shape.len() == 4 { 2 } else { 16 }
}

/// A trained segmenter.
pub struct FittedSegmenter {
    net: SegNet,
    varmap: VarMap,
    spec: SegmenterSpec,
    input_shape: Vec<usize>,
    curve: LossCurve,
}

impl FittedSegmenter {
    /// Lesion probability per voxel for each input (slice or volume).
    pub fn predict_proba(&self, inputs: &[Sample]) -> Result<Vec<Vec<f32>>, CnnError> {
        if let Some(s) = inputs.iter().find(|s| s.shape != self.input_shape) {
            return Err(CnnError::Shape {
                message: format!(
                    "case {:?}: input shape {:?}, trained on {:?}",
                    s.case, s.shape, self.input_shape
                ),
            });
        }
        check_finite(inputs)?;
        let refs: Vec<&Sample> = inputs.iter().collect();
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in refs.chunks(inference_batch(&self.input_shape)) {
            let p = candle_nn::ops::sigmoid(&self.net.forward_t(&batch_tensor(chunk)?, false)?)?;
            out.extend(p.flatten_from(1)?.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// The predicted lesion mask of a case (label 1) on the grid of its images.
    pub fn predict_mask(&self, case: &str, images: &[&Image]) -> Result<Mask, CnnError> {
        let first = images
            .first()
            .ok_or_else(|| CnnError::settings("input", format!("case {case:?}: no image")))?;
        let inputs = if self.spec.dims == 3 {
            vec![full_volume(case, images, self.spec.normalise)?]
        } else {
            full_slices(case, images, self.spec.normalise)?
        };
        let mut voxels = Vec::with_capacity(first.grid.len());
        for p in self.predict_proba(&inputs)? {
            voxels.extend(
                p.iter()
                    .map(|&v| u8::from(f64::from(v) >= self.spec.threshold)),
            );
        }
        Ok(Mask {
            grid: first.grid.clone(),
            voxels,
        })
    }

    /// The loss curve.
    pub fn curve(&self) -> &LossCurve {
        &self.curve
    }

    /// SHA-256 over the weights.
    pub fn fingerprint(&self) -> Result<String, CnnError> {
        super::store::fingerprint(&self.varmap)
    }

    /// Quality figures of a predicted mask against the reference.
    pub fn evaluate(&self, case: &str, predicted: &Mask, reference: &Mask) -> CaseSegmentation {
        let dice = dice(&predicted.voxels, &reference.voxels);
        let ml = |m: &Mask| {
            m.voxels.iter().filter(|&&v| v != 0).count() as f64 * m.grid.voxel_volume_mm3() / 1000.0
        };
        let empty = predicted.voxels.iter().all(|&v| v == 0);
        CaseSegmentation {
            case: case.to_string(),
            dice,
            predicted_ml: ml(predicted),
            reference_ml: ml(reference),
            qc_fail: empty || dice < self.spec.qc_min_dice,
        }
    }
}

/// Dice overlap of two masks (non-zero = lesion); 1 when both are empty.
pub fn dice(a: &[u8], b: &[u8]) -> f64 {
    let (mut inter, mut na, mut nb) = (0usize, 0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x != 0, y != 0);
        inter += usize::from(x && y);
        na += usize::from(x);
        nb += usize::from(y);
    }
    if na + nb == 0 {
        1.0
    } else {
        2.0 * inter as f64 / (na + nb) as f64
    }
}

/// Segmentation quality of one case.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseSegmentation {
    /// Case id.
    pub case: String,
    /// Dice with the reference mask.
    pub dice: f64,
    /// Predicted lesion volume (mL).
    pub predicted_ml: f64,
    /// Reference lesion volume (mL).
    pub reference_ml: f64,
    /// Dice below the threshold or an empty prediction.
    pub qc_fail: bool,
}

/// Fraction of cases failing quality control (0 for no cases).
pub fn qc_failure_rate(cases: &[CaseSegmentation]) -> f64 {
    if cases.is_empty() {
        return 0.0;
    }
    cases.iter().filter(|c| c.qc_fail).count() as f64 / cases.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_edge_cases() {
        assert_eq!(dice(&[0, 0], &[0, 0]), 1.0);
        assert_eq!(dice(&[1, 0], &[0, 1]), 0.0);
        assert!((dice(&[1, 1, 0], &[1, 0, 0]) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(qc_failure_rate(&[]), 0.0);
    }
}
