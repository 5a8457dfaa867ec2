//! Joint fusion (source paper 5's hybrid model): one CNN trained end to end whose linear head
//! reads the pooled image features concatenated with the case's radiomics vector.
//!
//! The head `W·[e ⊕ r] + b` is stored as two blocks so that the backbone keeps torchvision's
//! parameter names: `fc.{weight,bias}` (the image block, exactly as in `kind = "cnn"`) and
//! `fc_radiomics.weight` (the radiomics block, no bias); their sum is the linear head on the
//! concatenation. The radiomics columns (fixed `features` subset, then the optional in-fold
//! `selection`) are standardised with training-fold statistics. Training follows
//! [`crate::models::cnn::train`] (same optimiser, schedule, clipping, class weights, batch order
//! and augmentation draws); there is no inner validation split, so `validation_fraction`,
//! `patience` and `pretrained` are rejected.

use super::super::cnn::classifier::aggregate;
use super::super::cnn::input::{Sample, batch_tensor};
use super::super::cnn::layers::ClassifierNet;
use super::super::cnn::store::{fingerprint, seeded_varmap};
use super::super::cnn::train::{
    EpochRecord, LossCurve, check_finite, class_weights, cross_entropy, frozen_prefixes,
    permutation, softmax_rows, trainable_params,
};
use super::super::cnn::{CnnError, Tensor, optim::Optimizer};
use super::super::cnn_model::CnnModelSpec;
use super::super::pipeline::{ColumnChoice, FittedColumns};
use super::super::scaling::Standardiser;
use super::super::selection::SelectionSpec;
use super::super::{
    Fitted, Model, ModelError, PredictData, SettingsError, TrainingData, check_training_data,
};
use super::{case_samples, check_cnn, check_features, cnn_error, parse};
use crate::seed::SeededRng;
use candle_core::{DType, Device, Module};
use candle_nn::{Linear, VarMap};
use ndarray::Array2;
use rand::Rng;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Settings of `strategy = "joint"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JointSpec {
    /// The network, input and training settings (as `kind = "cnn"`).
    cnn: CnnModelSpec,
    /// Radiomics columns used; default all.
    #[serde(default)]
    features: Option<Vec<String>>,
    /// Radiomics selection fitted in the training fold; default none.
    #[serde(default)]
    selection: Option<SelectionSpec>,
}

/// An unfitted joint-fusion model.
pub(super) struct JointFusion {
    id: String,
    spec: JointSpec,
}

impl JointFusion {
    pub(super) fn build(id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        SelectionSpec::from_settings(settings)?;
        let spec: JointSpec = parse(settings)?;
        check_cnn(&spec.cnn)?;
        check_features(spec.features.as_deref())?;
        if spec.cnn.validation_fraction != 0.0 {
            return Err(SettingsError::for_key(
                "validation_fraction",
                "joint fusion trains without an inner validation split",
            ));
        }
        if spec.cnn.train.patience.is_some() {
            return Err(SettingsError::for_key(
                "patience",
                "joint fusion has no early stopping",
            ));
        }
        if spec.cnn.pretrained.is_some() {
            return Err(SettingsError::for_key(
                "pretrained",
                "joint fusion starts from seeded weights",
            ));
        }
        Ok(Box::new(JointFusion {
            id: id.to_string(),
            spec,
        }))
    }
}

/// Image network plus the radiomics block of its head.
struct JointNet {
    net: Box<dyn ClassifierNet>,
    radiomics_head: Option<Linear>,
}

impl JointNet {
    /// Logits `[batch, classes]` of images `xs` with their radiomics rows `tab` `[batch, r]`.
    fn logits(&self, xs: &Tensor, tab: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let image = self.net.forward_t(xs, train)?;
        match &self.radiomics_head {
            Some(head) => image + head.forward(tab)?,
            None => Ok(image),
        }
    }
}

/// The radiomics rows of `samples` (row `case_of[i]` of `z` for sample i) as a `[n, r]` tensor.
fn tabular(z: &Array2<f64>, rows: impl Iterator<Item = usize>) -> Result<Tensor, CnnError> {
    let mut data = Vec::new();
    let mut n = 0;
    for row in rows {
        data.extend(z.row(row).iter().map(|&v| v as f32));
        n += 1;
    }
    Ok(Tensor::from_vec(data, (n, z.ncols()), &Device::Cpu)?)
}

/// The case row of each sample, from per-case sample counts.
fn case_of_samples(counts: &[usize]) -> Vec<usize> {
    counts
        .iter()
        .enumerate()
        .flat_map(|(row, &n)| std::iter::repeat_n(row, n))
        .collect()
}

impl Model for JointFusion {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        200.0 * self.spec.cnn.train.epochs.max(1) as f64
    }

    fn needs_images(&self) -> bool {
        true
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
        let radiomics = columns.apply(data.features)?;
        let scaler = Standardiser::fit(radiomics.view());
        let z = scaler.transform(radiomics.view());
        let (samples, counts) =
            case_samples(&self.id, &self.spec.cnn, data.labels.len(), data.images)?;
        let case_of = case_of_samples(&counts);
        let labels: Vec<usize> = case_of.iter().map(|&row| data.labels[row]).collect();
        let (net, varmap, curve) = train_joint(
            &self.spec.cnn,
            &samples,
            &labels,
            &z,
            &case_of,
            data.n_classes,
            rng,
        )
        .map_err(cnn_error(&self.id))?;
        Ok(Box::new(FittedJointFusion {
            id: self.id.clone(),
            spec: self.spec.clone(),
            columns,
            scaler,
            net,
            varmap,
            curve,
            n_classes: data.n_classes,
        }))
    }
}

/// Trains the joint network; returns it (batch norm folded), its variables and loss curve.
fn train_joint(
    spec: &CnnModelSpec,
    samples: &[Sample],
    labels: &[usize],
    z: &Array2<f64>,
    case_of: &[usize],
    classes: usize,
    rng: &mut SeededRng,
) -> Result<(JointNet, VarMap, LossCurve), CnnError> {
    let train = &spec.train;
    train.check()?;
    check_finite(samples)?;
    let first = samples
        .first()
        .ok_or(CnnError::TooFewClasses { classes: 0, n: 0 })?;
    if first.shape.len() != 3 {
        return Err(CnnError::Shape {
            message: format!(
                "case {:?}: joint fusion takes 2-D [channels, h, w] inputs, got {:?}",
                first.case, first.shape
            ),
        });
    }
    let (varmap, vb) = seeded_varmap(rng.next_u64());
    let net = spec
        .network
        .build(first.shape[0], classes, train.freeze, vb.clone())?;
    let radiomics_head = (z.ncols() > 0)
        .then(|| candle_nn::linear_no_bias(z.ncols(), classes, vb.pp("fc_radiomics")))
        .transpose()?;
    let mut joint = JointNet {
        net,
        radiomics_head,
    };
    let weights = class_weights(labels, classes, train.class_weighting);
    let params = trainable_params(
        &varmap,
        &frozen_prefixes(joint.net.as_ref(), train.freeze),
        &train.lr_scales,
    )?;
    let mut optimizer = Optimizer::new(train.optimizer, params, train.weight_decay);
    let mut curve = LossCurve::default();
    for epoch in 0..train.epochs {
        let lr = train.schedule.lr_at(train.lr, epoch, train.epochs);
        let order = permutation(samples.len(), rng);
        let (mut loss_sum, mut batches, mut max_norm) = (0.0, 0usize, 0.0f64);
        for (b, chunk) in order.chunks(train.batch_size).enumerate() {
            // Batch norm cannot normalise a batch of one (PyTorch's `drop_last`).
            if chunk.len() < 2 {
                continue;
            }
            let batch: Vec<Sample> = chunk
                .iter()
                .map(|&i| train.augment.apply(&samples[i], rng))
                .collect();
            let xs = batch_tensor(&batch.iter().collect::<Vec<_>>())?;
            let tab = tabular(z, chunk.iter().map(|&i| case_of[i]))?;
            let batch_labels: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            let loss = cross_entropy(&joint.logits(&xs, &tab, true)?, &batch_labels, &weights)?;
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
            optimizer.step_with_norm(&grads, lr, train.clip_grad_norm, norm)?;
            max_norm = max_norm.max(norm);
            loss_sum += value;
            batches += 1;
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
    }
    curve.best_epoch = curve.epochs.len();
    joint.net.fold_batch_norm()?;
    Ok((joint, varmap, curve))
}

/// Batch size for inference.
const PREDICT_BATCH: usize = 32;

/// A fitted joint-fusion model.
struct FittedJointFusion {
    id: String,
    spec: JointSpec,
    columns: FittedColumns,
    scaler: Standardiser,
    net: JointNet,
    varmap: VarMap,
    curve: LossCurve,
    n_classes: usize,
}

impl Fitted for FittedJointFusion {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let z = self
            .scaler
            .transform(self.columns.apply(data.features)?.view());
        let (samples, counts) =
            case_samples(&self.id, &self.spec.cnn, data.features.nrows(), data.images)?;
        let case_of = case_of_samples(&counts);
        let predict = || -> Result<Vec<Vec<f64>>, CnnError> {
            check_finite(&samples)?;
            let mut proba = Vec::with_capacity(samples.len());
            let index: Vec<usize> = (0..samples.len()).collect();
            for chunk in index.chunks(PREDICT_BATCH) {
                let batch: Vec<&Sample> = chunk.iter().map(|&i| &samples[i]).collect();
                let xs = batch_tensor(&batch)?;
                let tab = tabular(&z, chunk.iter().map(|&i| case_of[i]))?;
                proba.extend(softmax_rows(&self.net.logits(&xs, &tab, false)?)?);
            }
            Ok(proba)
        };
        let proba = predict().map_err(cnn_error(&self.id))?;
        let by_case: BTreeMap<String, Vec<f64>> =
            aggregate(&samples, &proba, self.spec.cnn.aggregate)
                .into_iter()
                .map(|c| (c.case, c.proba))
                .collect();
        let mut out = Array2::zeros((data.images.len(), self.n_classes));
        for (row, case) in data.images.iter().enumerate() {
            let p = by_case
                .get(&case.case_id)
                .ok_or_else(|| ModelError::Shape {
                    model: self.id.clone(),
                    message: format!("no prediction for case {}", case.case_id),
                })?;
            for (c, &v) in p.iter().enumerate() {
                out[[row, c]] = v;
            }
        }
        Ok(out)
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "strategy": "joint",
            "selected": self.columns.summary().get("selected").cloned(),
            "radiomics_columns": self.columns.columns().len(),
            "scaler": { "means": self.scaler.means(), "sds": self.scaler.sds() },
            "cnn": {
                "fingerprint": fingerprint(&self.varmap).ok(),
                "curve": self.curve,
            },
        })
    }
}
