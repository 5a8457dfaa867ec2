//! Transfer learning: loading `.safetensors` checkpoints into a network's variables by name.
//!
//! Principal types: [`LoadOptions`], [`LoadReport`], [`ChannelAdapt`], [`load_checkpoint`].
//! Semantics follow PyTorch's `load_state_dict(strict=…)`: a strict load fails when a tensor is
//! missing from the checkpoint or the checkpoint holds one the network lacks; a partial load
//! keeps the fresh values of missing tensors and ignores unexpected ones. In both modes a tensor
//! whose shape differs is an error naming it (as PyTorch), unless its name is listed in
//! `skip` (replacing the head: `skip = ["fc."]`) or it is the first convolution being adapted.
//! Nothing is written unless the whole load succeeds. torchvision's `num_batches_tracked`
//! buffers are ignored (radbench's batch norm uses a fixed momentum). First-convolution
//! adaptation follows timm's `adapt_input_conv` for [`ChannelAdapt::Repeat`].

use super::CnnError;
use super::store::named_vars;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use std::collections::BTreeMap;
use std::path::Path;

/// How a first convolution trained on 3 channels is adapted to `k` input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelAdapt {
    /// Each new channel is the sum over the old ones divided by `k`: a grey image repeated in
    /// all `k` channels gives the response the grey image gave in all 3.
    Sum,
    /// Each new channel is the mean over the old ones.
    Mean,
    /// Old channels repeated cyclically, scaled by 3 / k (timm's `adapt_input_conv`).
    Repeat,
}

impl ChannelAdapt {
    /// Adapts `weight` `[out, c_old, kh, kw]` to `[out, k, kh, kw]` (or a 3-D kernel
    /// `[out, c_old, kd, kh, kw]` to `[out, k, kd, kh, kw]`).
    pub fn apply(self, weight: &Tensor, k: usize) -> Result<Tensor, CnnError> {
        if !(4..=5).contains(&weight.rank()) {
            return Err(CnnError::settings(
                "first_conv",
                format!(
                    "expected a 2-D or 3-D kernel, got shape {:?}",
                    weight.dims()
                ),
            ));
        }
        let c_old = weight.dim(1)?;
        // Repeat k times along the channel axis only.
        let mut times = vec![1; weight.rank()];
        times[1] = k;
        if k == 0 || c_old == 0 {
            return Err(CnnError::settings(
                "first_conv",
                "channel counts must be positive",
            ));
        }
        let out = match self {
            ChannelAdapt::Sum => (weight.sum_keepdim(1)? / k as f64)?.repeat(times)?,
            ChannelAdapt::Mean => weight.mean_keepdim(1)?.repeat(times)?,
            ChannelAdapt::Repeat => {
                let parts: Vec<Tensor> = (0..k)
                    .map(|c| weight.narrow(1, c % c_old, 1))
                    .collect::<Result<_, _>>()?;
                (Tensor::cat(&parts, 1)? * (c_old as f64 / k as f64))?
            }
        };
        Ok(out)
    }
}

/// What to load and how strictly.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadOptions {
    /// Fail on missing or unexpected tensors.
    pub strict: bool,
    /// Name prefixes kept at their fresh values (e.g. `["fc."]` for a new head).
    pub skip: Vec<String>,
    /// The first convolution's weight name and how to adapt its input channels.
    pub first_conv: Option<(String, ChannelAdapt)>,
}

/// A tensor whose shape differs between network and checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShapeMismatch {
    /// Tensor name.
    pub name: String,
    /// Shape in the network.
    pub expected: Vec<usize>,
    /// Shape in the checkpoint.
    pub found: Vec<usize>,
}

/// The outcome of a load, every list sorted by name.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadReport {
    /// Tensors set from the checkpoint.
    pub loaded: Vec<String>,
    /// First-convolution tensors loaded after channel adaptation (also in `loaded`).
    pub adapted: Vec<String>,
    /// Network tensors kept fresh because a `skip` prefix matched.
    pub skipped: Vec<String>,
    /// Network tensors absent from the checkpoint.
    pub missing: Vec<String>,
    /// Checkpoint tensors the network does not have.
    pub unexpected: Vec<String>,
    /// Checkpoint tensors ignored by design (`num_batches_tracked`).
    pub ignored: Vec<String>,
    /// Tensors whose shapes differ (and were not skipped or adapted).
    pub shape_mismatched: Vec<ShapeMismatch>,
}

/// Reads every tensor of a `.safetensors` file, sorted by name.
pub fn read_checkpoint(path: &Path) -> Result<BTreeMap<String, Tensor>, CnnError> {
    let bytes = std::fs::read(path).map_err(|source| CnnError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        CnnError::Checkpoint {
            path: path.display().to_string(),
            message: format!("not a readable safetensors file: {e}"),
        }
    })?;
    Ok(tensors.into_iter().collect())
}

/// Loads `path` into the variables of `varmap` as `options` say.
pub fn load_checkpoint(
    varmap: &VarMap,
    path: &Path,
    options: &LoadOptions,
) -> Result<LoadReport, CnnError> {
    let checkpoint = read_checkpoint(path)?;
    let (report, values) = plan_load(varmap, &checkpoint, options)?;
    let fail = |message: String| CnnError::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    if !report.shape_mismatched.is_empty() {
        let names: Vec<String> = report
            .shape_mismatched
            .iter()
            .map(|m| {
                format!(
                    "{} (network {:?}, checkpoint {:?})",
                    m.name, m.expected, m.found
                )
            })
            .collect();
        return Err(fail(format!("shape mismatch: {}", names.join(", "))));
    }
    if options.strict && (!report.missing.is_empty() || !report.unexpected.is_empty()) {
        return Err(fail(format!(
            "strict load: missing [{}], unexpected [{}]",
            report.missing.join(", "),
            report.unexpected.join(", ")
        )));
    }
    let vars: BTreeMap<String, candle_core::Var> = named_vars(varmap)?.into_iter().collect();
    for (name, value) in values {
        if let Some(var) = vars.get(&name) {
            var.set(&value)?;
        }
    }
    Ok(report)
}

/// Matches checkpoint tensors to variables; returns the report and the values to set.
fn plan_load(
    varmap: &VarMap,
    checkpoint: &BTreeMap<String, Tensor>,
    options: &LoadOptions,
) -> Result<(LoadReport, Vec<(String, Tensor)>), CnnError> {
    let mut report = LoadReport::default();
    let mut values = Vec::new();
    let vars = named_vars(varmap)?;
    for (name, var) in &vars {
        if options.skip.iter().any(|p| name.starts_with(p.as_str())) {
            report.skipped.push(name.clone());
            continue;
        }
        let Some(found) = checkpoint.get(name) else {
            report.missing.push(name.clone());
            continue;
        };
        let expected = var.as_tensor().dims().to_vec();
        let found = found.to_dtype(DType::F32)?;
        if found.dims() == expected.as_slice() {
            values.push((name.clone(), found));
            report.loaded.push(name.clone());
            continue;
        }
        let adaptable = match &options.first_conv {
            Some((conv, how)) if conv == name && found.rank() == 4 && expected.len() == 4 => {
                let mut same_but_channels = found.dims().to_vec();
                same_but_channels[1] = expected[1];
                (same_but_channels == expected).then_some(*how)
            }
            _ => None,
        };
        match adaptable {
            Some(how) => {
                values.push((name.clone(), how.apply(&found, expected[1])?));
                report.loaded.push(name.clone());
                report.adapted.push(name.clone());
            }
            None => report.shape_mismatched.push(ShapeMismatch {
                name: name.clone(),
                expected,
                found: found.dims().to_vec(),
            }),
        }
    }
    let known: std::collections::BTreeSet<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    for name in checkpoint.keys() {
        if known.contains(name.as_str()) {
            continue;
        }
        if name.ends_with(".num_batches_tracked") {
            report.ignored.push(name.clone());
        } else {
            report.unexpected.push(name.clone());
        }
    }
    Ok((report, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_adaptation_preserves_grey_response() {
        let w = Tensor::new(&[[[[1f32]], [[2.0]], [[3.0]]]], &Device::Cpu).unwrap(); // [1, 3, 1, 1]
        let grey3: f32 = w.sum_all().unwrap().to_scalar().unwrap();
        for k in [1, 2, 5] {
            let s = ChannelAdapt::Sum.apply(&w, k).unwrap();
            assert_eq!(s.dims(), &[1, k, 1, 1]);
            let grey: f32 = s.sum_all().unwrap().to_scalar().unwrap();
            assert!((grey - grey3).abs() < 1e-6);
        }
        let r = ChannelAdapt::Repeat.apply(&w, 4).unwrap();
        let v: Vec<f32> = r.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![0.75, 1.5, 2.25, 0.75]);
        let m = ChannelAdapt::Mean.apply(&w, 1).unwrap();
        assert_eq!(
            m.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![2.0]
        );
    }
}
