//! The CNN classifier: settings, fitting with an inner validation split, and the fitted model.
//!
//! Principal types: [`CnnSpec`], [`ArchSpec`], [`Pretrained`], [`CnnClassifier`],
//! [`FittedCnn`], [`Aggregate`], [`CaseProba`]. `CnnClassifier::fit` draws, in this order from
//! the cell's [`SeededRng`]: the weight-initialisation seed, the inner-validation split (by
//! case, stratified by label, so patches of one patient never straddle it), then batch orders
//! and augmentation. A fitted model folds batch norm into its convolutions once, so inference
//! runs one convolution per layer. Patch → patient aggregation (mean, max or majority of patch
//! probabilities) follows the multi-instance practice of the 2-D-patch radiomics-CNN studies.

use super::input::Sample;
use super::layers::ClassifierNet;
use super::store::{fingerprint, save_varmap, seeded_varmap};
use super::train::{
    Labelled, LossCurve, TrainSpec, predict_embeddings, predict_logits, softmax_rows,
    train_classifier,
};
use super::transfer::{ChannelAdapt, LoadOptions, LoadReport, load_checkpoint};
use super::{CnnError, inception, resnet, resnet3d};
use crate::seed::SeededRng;
use candle_core::DType;
use candle_nn::VarMap;
use rand::{Rng, RngExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "arch", deny_unknown_fields)]
pub enum ArchSpec {
    /// A ResNet.
    Resnet {
        /// 18, 34 or 50.
        depth: resnet::ResNetDepth,
        /// Planes of the first stage (64 in torchvision).
        base_width: usize,
        /// Stem type.
        stem: resnet::Stem,
    },
    /// A 3-D ResNet ([`resnet3d::ResNet3d`]) on `[channels, d, h, w]` volumes
    /// (`input.layout = { kind = "crop3d", ... }`).
    Resnet3d {
        /// 18, 34 or 50.
        depth: resnet::ResNetDepth,
        /// Planes of the first stage (64 in torchvision; 16–32 for 28³ volumes on a CPU).
        base_width: usize,
        /// Stem type (`small`: 3×3×3 at stride 1, no max pool).
        stem: resnet::Stem,
    },
    /// The Inception-style network.
    Inception {
        /// Width of the first Inception block's 1×1 branch (64 in Inception-v3).
        width: usize,
        /// Stride of the first convolution.
        stem_stride: usize,
    },
}

impl ArchSpec {
    /// Name of the first convolution's weight (the one channel adaptation applies to).
    pub fn first_conv(&self) -> &'static str {
        match self {
            ArchSpec::Resnet { .. } | ArchSpec::Resnet3d { .. } => "conv1.weight",
            ArchSpec::Inception { .. } => "Conv2d_1a_3x3.conv.weight",
        }
    }

    /// Rank of one input without the batch axis: 3 (`[c, h, w]`) or 4 (`[c, d, h, w]`).
    pub fn input_rank(&self) -> usize {
        match self {
            ArchSpec::Resnet3d { .. } => 4,
            ArchSpec::Resnet { .. } | ArchSpec::Inception { .. } => 3,
        }
    }

    /// Builds the network for `in_channels` inputs and `classes` outputs.
    pub fn build(
        &self,
        in_channels: usize,
        classes: usize,
        frozen_stages: Option<usize>,
        vb: candle_nn::VarBuilder,
    ) -> Result<Box<dyn ClassifierNet>, CnnError> {
        Ok(match self {
            ArchSpec::Resnet {
                depth,
                base_width,
                stem,
            } => {
                let cfg = resnet::ResNetConfig {
                    depth: *depth,
                    in_channels,
                    num_classes: classes,
                    base_width: *base_width,
                    stem: *stem,
                };
                Box::new(resnet::ResNet::new(&cfg, frozen_stages, vb)?)
            }
            ArchSpec::Resnet3d {
                depth,
                base_width,
                stem,
            } => {
                let cfg = resnet::ResNetConfig {
                    depth: *depth,
                    in_channels,
                    num_classes: classes,
                    base_width: *base_width,
                    stem: *stem,
                };
                Box::new(resnet3d::ResNet3d::new(&cfg, frozen_stages, vb)?)
            }
            ArchSpec::Inception { width, stem_stride } => {
                let cfg = inception::InceptionConfig {
                    in_channels,
                    num_classes: classes,
                    width: *width,
                    stem_stride: *stem_stride,
                };
                Box::new(inception::Inception::new(&cfg, frozen_stages, vb)?)
            }
        })
    }
}

/// A checkpoint to start from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pretrained {
    /// `.safetensors` file.
    pub path: PathBuf,
    /// Fail on missing or unexpected tensors.
    #[serde(default)]
    pub strict: bool,
    /// Name prefixes kept fresh (the head, `"fc."`, when the number of classes changes).
    #[serde(default)]
    pub skip: Vec<String>,
    /// Adapt the first convolution's input channels.
    #[serde(default)]
    pub first_conv: Option<ChannelAdapt>,
}

/// Patch → patient aggregation of class probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// Mean of the patches' probabilities.
    #[default]
    Mean,
    /// Per-class maximum, renormalised to sum to 1 (for two classes: the most suspicious patch).
    Max,
    /// Fraction of patches whose most probable class is each class.
    Majority,
}

/// Settings of a CNN classifier.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnSpec {
    /// Network.
    pub arch: ArchSpec,
    /// Number of classes (2 for binary outcomes).
    pub classes: usize,
    /// Training settings.
    #[serde(default)]
    pub train: TrainSpec,
    /// Fraction of cases held out (by case, stratified) for early stopping; 0 = none.
    #[serde(default)]
    pub validation_fraction: f64,
    /// Patch → patient aggregation.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Checkpoint to start from.
    #[serde(default)]
    pub pretrained: Option<Pretrained>,
}

impl CnnSpec {
    /// Rejects unusable settings, naming the key.
    pub fn check(&self) -> Result<(), CnnError> {
        self.check_with(self.validation_fraction > 0.0)
    }

    /// As [`CnnSpec::check`], where `has_validation` says whether validation cases will be
    /// there for early stopping (an inner fraction, or cases given by a predefined split).
    pub fn check_with(&self, has_validation: bool) -> Result<(), CnnError> {
        self.train.check()?;
        if self.classes < 2 {
            return Err(CnnError::settings("classes", "must be at least 2"));
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return Err(CnnError::settings(
                "validation_fraction",
                "must lie in [0, 0.9)",
            ));
        }
        if self.train.patience.is_some() && !has_validation {
            return Err(CnnError::settings(
                "patience",
                "early stopping needs validation_fraction > 0 (or validation = \"split\")",
            ));
        }
        Ok(())
    }
}

/// Fits CNN classifiers.
pub struct CnnClassifier;

impl CnnClassifier {
    /// Trains a network on `samples` with class labels `labels` (one per sample; the patches of
    /// a case must share its label), drawing all randomness from `rng`.
    pub fn fit(
        samples: &[Sample],
        labels: &[usize],
        spec: &CnnSpec,
        rng: &mut SeededRng,
    ) -> Result<FittedCnn, CnnError> {
        Self::fit_grouped(samples, labels, &[], spec, rng)
    }

    /// As [`CnnClassifier::fit`], with the patient of each sample (`patients[i]` for
    /// `samples[i]`; empty: every case is its own patient), so that the inner validation split
    /// keeps a patient's cases on one side. With one case per patient the split is exactly the
    /// ungrouped one.
    pub fn fit_grouped(
        samples: &[Sample],
        labels: &[usize],
        patients: &[&str],
        spec: &CnnSpec,
        rng: &mut SeededRng,
    ) -> Result<FittedCnn, CnnError> {
        spec.check()?;
        if !patients.is_empty() && patients.len() != samples.len() {
            return Err(CnnError::Shape {
                message: format!(
                    "{} patient ids for {} samples",
                    patients.len(),
                    samples.len()
                ),
            });
        }
        Self::fit_inner(samples, labels, patients, None, spec, rng)
    }

    /// As [`CnnClassifier::fit`], with given validation samples (a predefined split's `val`
    /// cases) for early stopping instead of an inner split of the training samples.
    pub fn fit_with_validation(
        samples: &[Sample],
        labels: &[usize],
        validation: Labelled<'_>,
        spec: &CnnSpec,
        rng: &mut SeededRng,
    ) -> Result<FittedCnn, CnnError> {
        spec.check_with(true)?;
        if validation.samples.len() != validation.labels.len() {
            return Err(CnnError::Shape {
                message: format!(
                    "{} validation samples for {} labels",
                    validation.samples.len(),
                    validation.labels.len()
                ),
            });
        }
        Self::fit_inner(samples, labels, &[], Some(validation), spec, rng)
    }

    fn fit_inner(
        samples: &[Sample],
        labels: &[usize],
        patients: &[&str],
        given_validation: Option<Labelled<'_>>,
        spec: &CnnSpec,
        rng: &mut SeededRng,
    ) -> Result<FittedCnn, CnnError> {
        let shape = check_samples(samples, labels, spec.classes, spec.arch.input_rank())?;
        let init_seed = rng.next_u64();
        let (varmap, vb) = seeded_varmap(init_seed);
        let mut net = spec
            .arch
            .build(shape[0], spec.classes, spec.train.freeze, vb)?;
        let load_report = match &spec.pretrained {
            Some(p) => {
                let options = LoadOptions {
                    strict: p.strict,
                    skip: p.skip.clone(),
                    first_conv: p
                        .first_conv
                        .map(|how| (spec.arch.first_conv().to_string(), how)),
                };
                Some(load_checkpoint(&varmap, &p.path, &options)?)
            }
            None => None,
        };
        // Given validation cases replace the inner split; the training samples are then all used.
        let fraction = if given_validation.is_some() {
            0.0
        } else {
            spec.validation_fraction
        };
        let (train_idx, val_idx) = split_by_case(samples, labels, patients, fraction, rng)?;
        let pick = |idx: &[usize]| -> (Vec<Sample>, Vec<usize>) {
            (
                idx.iter().map(|&i| samples[i].clone()).collect(),
                idx.iter().map(|&i| labels[i]).collect(),
            )
        };
        let (train_x, train_y) = pick(&train_idx);
        let (val_x, val_y) = pick(&val_idx);
        let train = Labelled {
            samples: &train_x,
            labels: &train_y,
        };
        let validation = given_validation.or((!val_x.is_empty()).then_some(Labelled {
            samples: &val_x,
            labels: &val_y,
        }));
        let curve = train_classifier(
            net.as_ref(),
            &varmap,
            train,
            validation,
            spec.classes,
            &spec.train,
            rng,
        )?;
        net.fold_batch_norm()?;
        Ok(FittedCnn {
            net,
            varmap,
            spec: spec.clone(),
            input_shape: shape,
            curve,
            load_report,
        })
    }
}

/// Checks labels and a common sample shape; returns that shape.
fn check_samples(
    samples: &[Sample],
    labels: &[usize],
    classes: usize,
    rank: usize,
) -> Result<Vec<usize>, CnnError> {
    if samples.len() != labels.len() {
        return Err(CnnError::Shape {
            message: format!("{} samples for {} labels", samples.len(), labels.len()),
        });
    }
    let first = samples
        .first()
        .ok_or(CnnError::TooFewClasses { classes: 0, n: 0 })?;
    if first.shape.len() != rank {
        let message = if rank == 3 {
            format!(
                "case {:?}: 2-D networks take [channels, h, w] inputs, got {:?} (use Sample::depth_as_channels for 3-D crops)",
                first.case, first.shape
            )
        } else {
            format!(
                "case {:?}: 3-D networks take [channels, d, h, w] inputs (input.layout kind \"crop3d\"), got {:?}",
                first.case, first.shape
            )
        };
        return Err(CnnError::Shape { message });
    }
    if let Some(s) = samples.iter().find(|s| s.shape != first.shape) {
        return Err(CnnError::Shape {
            message: format!(
                "case {:?} has input shape {:?}, case {:?} has {:?}",
                s.case, s.shape, first.case, first.shape
            ),
        });
    }
    if let Some(y) = labels.iter().find(|&&y| y >= classes) {
        return Err(CnnError::Shape {
            message: format!("label {y} is not below the number of classes {classes}"),
        });
    }
    let distinct: std::collections::BTreeSet<usize> = labels.iter().copied().collect();
    if distinct.len() < 2 {
        return Err(CnnError::TooFewClasses {
            classes: distinct.len(),
            n: labels.len(),
        });
    }
    Ok(first.shape.clone())
}

/// Splits sample indices into (train, inner validation): a stratified `fraction` of the cases
/// of each label is held out, whole. With `patients` (one per sample) and some patient owning
/// several cases, whole patients are held out instead, stratified by the label of each
/// patient's first case (by case id); with one case per patient the draws are the ungrouped
/// ones, so the split does not depend on whether patient ids were passed.
fn split_by_case(
    samples: &[Sample],
    labels: &[usize],
    patients: &[&str],
    fraction: f64,
    rng: &mut SeededRng,
) -> Result<(Vec<usize>, Vec<usize>), CnnError> {
    let mut case_label: BTreeMap<&str, usize> = BTreeMap::new();
    let mut case_patient: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, (s, &y)) in samples.iter().zip(labels).enumerate() {
        if let Some(&prev) = case_label.get(s.case.as_str()) {
            if prev != y {
                return Err(CnnError::Shape {
                    message: format!("case {:?} has patches labelled {prev} and {y}", s.case),
                });
            }
        } else {
            case_label.insert(&s.case, y);
        }
        let patient = patients.get(i).copied().unwrap_or(s.case.as_str());
        if *case_patient.entry(&s.case).or_insert(patient) != patient {
            return Err(CnnError::Shape {
                message: format!("case {:?} has patches of two patients", s.case),
            });
        }
    }
    let all: Vec<usize> = (0..samples.len()).collect();
    if fraction <= 0.0 {
        return Ok((all, Vec::new()));
    }
    // The unit held out: each case, or each patient when some patient has several cases.
    let mut unit_cases: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (&case, &patient) in &case_patient {
        unit_cases.entry(patient).or_default().push(case);
    }
    let by_patient = unit_cases.len() < case_label.len();
    let mut by_label: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    if by_patient {
        for (patient, cases) in &unit_cases {
            by_label
                .entry(case_label[cases[0]])
                .or_default()
                .push(patient);
        }
    } else {
        for (case, y) in &case_label {
            by_label.entry(*y).or_default().push(case);
        }
    }
    let mut held_out: std::collections::BTreeSet<&str> = Default::default();
    for units in by_label.values_mut() {
        if units.len() < 2 {
            continue;
        }
        for i in (1..units.len()).rev() {
            let j = rng.random_range(0..=i);
            units.swap(i, j);
        }
        let n = ((units.len() as f64 * fraction).round() as usize).clamp(1, units.len() - 1);
        for unit in units.iter().take(n) {
            if by_patient {
                held_out.extend(unit_cases[unit].iter().copied());
            } else {
                held_out.insert(unit);
            }
        }
    }
    Ok(all
        .into_iter()
        .partition(|&i| !held_out.contains(samples[i].case.as_str())))
}

/// Aggregated class probabilities of one case.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseProba {
    /// Case id.
    pub case: String,
    /// Number of patches aggregated.
    pub patches: usize,
    /// Class probabilities.
    pub proba: Vec<f64>,
}

/// A trained CNN classifier.
pub struct FittedCnn {
    net: Box<dyn ClassifierNet>,
    varmap: VarMap,
    spec: CnnSpec,
    input_shape: Vec<usize>,
    curve: LossCurve,
    load_report: Option<LoadReport>,
}

/// Batch size for inference.
const PREDICT_BATCH: usize = 32;

impl FittedCnn {
    /// Class probabilities per sample (softmax of the logits).
    pub fn predict_proba(&self, samples: &[Sample]) -> Result<Vec<Vec<f64>>, CnnError> {
        self.check_inputs(samples)?;
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        softmax_rows(&predict_logits(self.net.as_ref(), samples, PREDICT_BATCH)?)
    }

    /// Probability of class 1 per sample (binary models).
    pub fn predict_positive(&self, samples: &[Sample]) -> Result<Vec<f64>, CnnError> {
        Ok(self
            .predict_proba(samples)?
            .into_iter()
            .map(|p| p[1])
            .collect())
    }

    /// Class probabilities per case, aggregated over its patches with the spec's rule, in
    /// order of first appearance.
    pub fn predict_cases(&self, samples: &[Sample]) -> Result<Vec<CaseProba>, CnnError> {
        let proba = self.predict_proba(samples)?;
        Ok(aggregate(samples, &proba, self.spec.aggregate))
    }

    /// Pooled penultimate features per sample (for fusion), `embed_dim` values each.
    pub fn embed(&self, samples: &[Sample]) -> Result<Vec<Vec<f32>>, CnnError> {
        self.check_inputs(samples)?;
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let e = predict_embeddings(self.net.as_ref(), samples, PREDICT_BATCH)?;
        Ok(e.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }

    /// Length of [`FittedCnn::embed`] rows.
    pub fn embed_dim(&self) -> usize {
        self.net.embed_dim()
    }

    /// The loss curve.
    pub fn curve(&self) -> &LossCurve {
        &self.curve
    }

    /// What loading the pretrained checkpoint did, if one was given.
    pub fn load_report(&self) -> Option<&LoadReport> {
        self.load_report.as_ref()
    }

    /// The settings it was fitted with.
    pub fn spec(&self) -> &CnnSpec {
        &self.spec
    }

    /// SHA-256 over all weights and statistics (equal iff bit-identical).
    pub fn fingerprint(&self) -> Result<String, CnnError> {
        fingerprint(&self.varmap)
    }

    /// Saves the weights (torchvision names) as `.safetensors`, loadable as a [`Pretrained`].
    pub fn save(&self, path: &Path) -> Result<(), CnnError> {
        save_varmap(&self.varmap, path)
    }

    fn check_inputs(&self, samples: &[Sample]) -> Result<(), CnnError> {
        match samples.iter().find(|s| s.shape != self.input_shape) {
            Some(s) => Err(CnnError::Shape {
                message: format!(
                    "case {:?} has input shape {:?}, the model was trained on {:?}",
                    s.case, s.shape, self.input_shape
                ),
            }),
            None => super::train::check_finite(samples),
        }
    }
}

/// Aggregates per-sample class probabilities into per-case ones (cases in first-appearance order).
pub fn aggregate(samples: &[Sample], proba: &[Vec<f64>], how: Aggregate) -> Vec<CaseProba> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&Vec<f64>>> = BTreeMap::new();
    for (s, p) in samples.iter().zip(proba) {
        let group = groups.entry(&s.case).or_default();
        if group.is_empty() {
            order.push(&s.case);
        }
        group.push(p);
    }
    order
        .into_iter()
        .map(|case| {
            let rows = &groups[case];
            let k = rows.first().map_or(0, |r| r.len());
            let n = rows.len() as f64;
            let mut out = vec![0.0; k];
            match how {
                Aggregate::Mean => {
                    for r in rows {
                        for (o, v) in out.iter_mut().zip(r.iter()) {
                            *o += v / n;
                        }
                    }
                }
                Aggregate::Max => {
                    for r in rows {
                        for (o, v) in out.iter_mut().zip(r.iter()) {
                            *o = o.max(*v);
                        }
                    }
                    let total: f64 = out.iter().sum();
                    if total > 0.0 {
                        out.iter_mut().for_each(|o| *o /= total);
                    }
                }
                Aggregate::Majority => {
                    for r in rows {
                        // Ties go to the lower class index, deterministically.
                        let best = (0..k).fold(0, |b, c| if r[c] > r[b] { c } else { b });
                        out[best] += 1.0 / n;
                    }
                }
            }
            CaseProba {
                case: case.to_string(),
                patches: rows.len(),
                proba: out,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(case: &str) -> Sample {
        Sample {
            case: case.into(),
            slice: None,
            shape: vec![1, 1, 1],
            data: vec![0.0],
        }
    }

    #[test]
    fn aggregation_rules() {
        let samples = vec![s("b"), s("a"), s("b"), s("b")];
        let p = vec![
            vec![0.8, 0.2],
            vec![0.3, 0.7],
            vec![0.4, 0.6],
            vec![0.1, 0.9],
        ];
        let mean = aggregate(&samples, &p, Aggregate::Mean);
        assert_eq!(mean[0].case, "b");
        assert_eq!(mean[0].patches, 3);
        assert!((mean[0].proba[1] - (0.2 + 0.6 + 0.9) / 3.0).abs() < 1e-12);
        let max = aggregate(&samples, &p, Aggregate::Max);
        assert!((max[0].proba[1] - 0.9 / 1.7).abs() < 1e-12);
        let maj = aggregate(&samples, &p, Aggregate::Majority);
        assert!((maj[0].proba[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(maj[1].proba, vec![0.0, 1.0]);
    }

    #[test]
    fn validation_split_keeps_cases_whole_and_stratifies() {
        let mut samples = Vec::new();
        let mut labels = Vec::new();
        for c in 0..10 {
            for _ in 0..3 {
                samples.push(s(&format!("case{c}")));
                labels.push(usize::from(c >= 6));
            }
        }
        let mut rng = crate::seed::rng_for(1, &["split"]);
        let (train, val) = split_by_case(&samples, &labels, &[], 0.25, &mut rng).unwrap();
        assert_eq!(train.len() + val.len(), 30);
        let val_cases: std::collections::BTreeSet<&str> =
            val.iter().map(|&i| samples[i].case.as_str()).collect();
        assert!(
            train
                .iter()
                .all(|&i| !val_cases.contains(samples[i].case.as_str()))
        );
        // round(6·0.25) = 2 negatives, round(4·0.25) = 1 positive.
        assert_eq!(val_cases.len(), 3);
        labels[1] = 1;
        assert!(split_by_case(&samples, &labels, &[], 0.25, &mut rng).is_err());
    }

    #[test]
    fn validation_split_keeps_patients_whole_and_equals_the_case_split_for_one_case_each() {
        let mut samples = Vec::new();
        let mut labels = Vec::new();
        let mut patients = Vec::new();
        for c in 0..12 {
            for _ in 0..2 {
                samples.push(s(&format!("case{c:02}")));
                labels.push(usize::from(c % 3 == 0));
                patients.push(format!("p{:02}", c / 2));
            }
        }
        let one_each: Vec<String> = (0..24).map(|i| format!("q{:02}", i / 2)).collect();
        let one_each: Vec<&str> = one_each.iter().map(String::as_str).collect();
        let plain = split_by_case(
            &samples,
            &labels,
            &[],
            0.25,
            &mut crate::seed::rng_for(3, &[]),
        );
        let same = split_by_case(
            &samples,
            &labels,
            &one_each,
            0.25,
            &mut crate::seed::rng_for(3, &[]),
        );
        assert_eq!(plain.unwrap(), same.unwrap());
        let patients: Vec<&str> = patients.iter().map(String::as_str).collect();
        for seed in 0..20 {
            let mut rng = crate::seed::rng_for(seed, &[]);
            let (train, val) = split_by_case(&samples, &labels, &patients, 0.25, &mut rng).unwrap();
            assert!(!val.is_empty() && !train.is_empty());
            let held: std::collections::BTreeSet<&str> = val.iter().map(|&i| patients[i]).collect();
            assert!(
                train.iter().all(|&i| !held.contains(patients[i])),
                "seed {seed}"
            );
        }
        let mut split_patient = patients.clone();
        split_patient[1] = "other";
        let mut rng = crate::seed::rng_for(1, &[]);
        assert!(split_by_case(&samples, &labels, &split_patient, 0.25, &mut rng).is_err());
    }
}
