//! Reproducible weight stores: a candle `VarMap` whose fresh tensors come from radbench's seeded
//! streams, plus sorted views, checksums and safetensors I/O of it.
//!
//! Principal items: [`seeded_varmap`], [`named_vars`], [`fingerprint`], [`save_varmap`].
//! candle's CPU RNG cannot be seeded, so [`SeededInit`] implements candle-nn's `SimpleBackend`:
//! when a constructor asks for a tensor the map does not hold yet, its values are drawn from
//! `rng_for(seed, ["cnn-init", name])`, honouring candle's init hint (constant, uniform, normal,
//! Kaiming; the same formulas as `candle_nn::Init::var`). Because each tensor's stream is named
//! by the tensor, weights do not depend on construction order or thread timing.

use super::CnnError;
use crate::seed::rng_for;
use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap, init::NormalOrUniform};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// A candle backend that creates missing variables from seeded streams and keeps them in a
/// `VarMap`.
pub struct SeededInit {
    varmap: VarMap,
    seed: u64,
}

impl SeededInit {
    /// A backend adding to `varmap`, drawing tensor `name` from `rng_for(seed, ["cnn-init", name])`.
    pub fn new(varmap: VarMap, seed: u64) -> SeededInit {
        SeededInit { varmap, seed }
    }
}

/// Draws `shape` values following candle's `init` hint from the stream named by `name`.
pub fn seeded_values(seed: u64, name: &str, shape: &Shape, init: Init) -> Vec<f32> {
    let n = shape.elem_count();
    let mut rng = rng_for(seed, &["cnn-init", name]);
    let mut normal = |mean: f64, sd: f64| -> Vec<f32> {
        (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (mean + sd * z) as f32
            })
            .collect()
    };
    match init {
        Init::Const(c) => vec![c as f32; n],
        Init::Randn { mean, stdev } => normal(mean, stdev),
        Init::Uniform { lo, up } => (0..n)
            .map(|_| (lo + (up - lo) * rng.random::<f64>()) as f32)
            .collect(),
        Init::Kaiming {
            dist,
            fan,
            non_linearity,
        } => {
            let fan_n = fan.for_shape(shape);
            let std = non_linearity.gain() / (fan_n.max(1) as f64).sqrt();
            match dist {
                NormalOrUniform::Normal => normal(0.0, std),
                NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    (0..n)
                        .map(|_| (-bound + 2.0 * bound * rng.random::<f64>()) as f32)
                        .collect()
                }
            }
        }
    }
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("weight store lock poisoned".into()))?;
        if let Some(var) = data.get(name) {
            if var.shape() != &shape {
                candle_core::bail!(
                    "shape mismatch on {name}: asked {:?}, stored {:?}",
                    shape.dims(),
                    var.shape().dims()
                )
            }
            return Ok(var.as_tensor().clone());
        }
        let values = seeded_values(self.seed, name, &shape, init);
        let tensor = Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("weight store lock poisoned".into()))?;
        match data.get(name) {
            Some(var) => Ok(var.as_tensor().clone()),
            None => candle_core::bail!("no tensor {name} in the weight store"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

/// A backend that hands out zeros and records every requested name and shape, for listing a
/// network's parameters without drawing 25 M random numbers.
#[derive(Default)]
struct ShapeRecorder(std::sync::Mutex<BTreeMap<String, Vec<usize>>>);

impl candle_nn::var_builder::SimpleBackend for ShapeRecorder {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        if let Ok(mut names) = self.0.lock() {
            names.insert(name.to_string(), shape.dims().to_vec());
        }
        Tensor::zeros(shape, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("shape recorder: {name} needs a shape")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        false
    }
}

/// Every parameter name and shape that `build` asks for, sorted by name.
pub fn parameter_shapes<T>(
    build: impl FnOnce(VarBuilder) -> candle_core::Result<T>,
) -> Result<BTreeMap<String, Vec<usize>>, CnnError> {
    let recorder = std::sync::Arc::new(ShapeRecorder::default());
    struct Shared(std::sync::Arc<ShapeRecorder>);
    impl candle_nn::var_builder::SimpleBackend for Shared {
        fn get(
            &self,
            s: Shape,
            n: &str,
            h: Init,
            d: DType,
            dev: &Device,
        ) -> candle_core::Result<Tensor> {
            self.0.get(s, n, h, d, dev)
        }
        fn get_unchecked(&self, n: &str, d: DType, dev: &Device) -> candle_core::Result<Tensor> {
            self.0.get_unchecked(n, d, dev)
        }
        fn contains_tensor(&self, n: &str) -> bool {
            self.0.contains_tensor(n)
        }
    }
    let vb = VarBuilder::from_backend(Box::new(Shared(recorder.clone())), DType::F32, Device::Cpu);
    build(vb)?;
    let names = recorder.0.lock().map_err(|_| CnnError::Shape {
        message: "shape recorder lock poisoned".into(),
    })?;
    Ok(names.clone())
}

/// A fresh `VarMap` and a `VarBuilder` (f32, CPU) that fills it from seeded streams.
pub fn seeded_varmap(seed: u64) -> (VarMap, VarBuilder<'static>) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_backend(
        Box::new(SeededInit::new(varmap.clone(), seed)),
        DType::F32,
        Device::Cpu,
    );
    (varmap, vb)
}

/// The variables of `varmap` sorted by name (a `VarMap` is a `HashMap`, whose order must never
/// reach output).
pub fn named_vars(varmap: &VarMap) -> Result<Vec<(String, Var)>, CnnError> {
    let data = varmap.data().lock().map_err(|_| CnnError::Shape {
        message: "weight store lock poisoned".into(),
    })?;
    let sorted: BTreeMap<&String, &Var> = data.iter().collect();
    Ok(sorted
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// A copy of every tensor's current values, by name (for keeping the best epoch's weights).
pub fn snapshot(varmap: &VarMap) -> Result<BTreeMap<String, Tensor>, CnnError> {
    named_vars(varmap)?
        .into_iter()
        .map(|(name, var)| Ok((name, var.as_tensor().copy()?)))
        .collect()
}

/// Sets every variable named in `tensors` to its value there.
pub fn restore(varmap: &VarMap, tensors: &BTreeMap<String, Tensor>) -> Result<(), CnnError> {
    for (name, var) in named_vars(varmap)? {
        if let Some(t) = tensors.get(&name) {
            var.set(t)?;
        }
    }
    Ok(())
}

/// SHA-256 (hex) over every tensor's name, shape and f32 bytes in name order: equal
/// fingerprints mean bit-identical weights.
pub fn fingerprint(varmap: &VarMap) -> Result<String, CnnError> {
    let mut h = Sha256::new();
    for (name, var) in named_vars(varmap)? {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        let t = var.as_tensor();
        for d in t.dims() {
            h.update((*d as u64).to_le_bytes());
        }
        for v in t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()? {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    Ok(hex(&h.finalize()))
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes every variable to a `.safetensors` file (names sorted, so the bytes are stable).
pub fn save_varmap(varmap: &VarMap, path: &Path) -> Result<(), CnnError> {
    // safetensors sorts tensors by name when writing, so a HashMap's order does not matter.
    let tensors: std::collections::HashMap<String, Tensor> = named_vars(varmap)?
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&tensors, path).map_err(|e| match e {
        candle_core::Error::Io(source) => CnnError::Io {
            path: path.display().to_string(),
            source,
        },
        other => CnnError::Candle(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_independent_of_order() {
        let (a, vb_a) = seeded_varmap(5);
        vb_a.get_with_hints((4, 3), "x.weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)
            .unwrap();
        vb_a.get_with_hints(4, "y.bias", Init::Uniform { lo: -1.0, up: 1.0 })
            .unwrap();
        let (b, vb_b) = seeded_varmap(5);
        vb_b.get_with_hints(4, "y.bias", Init::Uniform { lo: -1.0, up: 1.0 })
            .unwrap();
        vb_b.get_with_hints((4, 3), "x.weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)
            .unwrap();
        assert_eq!(fingerprint(&a).unwrap(), fingerprint(&b).unwrap());
        let (c, vb_c) = seeded_varmap(6);
        vb_c.get_with_hints((4, 3), "x.weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)
            .unwrap();
        vb_c.get_with_hints(4, "y.bias", Init::Uniform { lo: -1.0, up: 1.0 })
            .unwrap();
        assert_ne!(fingerprint(&a).unwrap(), fingerprint(&c).unwrap());
    }

    #[test]
    fn kaiming_normal_has_the_expected_spread() {
        let shape = Shape::from((64, 32, 3, 3));
        let v = seeded_values(1, "w", &shape, candle_nn::init::DEFAULT_KAIMING_NORMAL);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        // ReLU gain √2 over fan-in 32·9.
        let expected = 2.0 / 288.0;
        assert!((var / expected - 1.0).abs() < 0.05, "{var} vs {expected}");
    }

    #[test]
    fn constants_and_lookup() {
        let (map, vb) = seeded_varmap(1);
        let t = vb
            .get_with_hints(3, "bn.running_var", Init::Const(1.0))
            .unwrap();
        assert_eq!(t.to_vec1::<f32>().unwrap(), vec![1.0; 3]);
        // Asking again returns the same variable; a different shape is an error.
        assert!(
            vb.get_with_hints(3, "bn.running_var", Init::Const(0.0))
                .is_ok()
        );
        assert!(
            vb.get_with_hints(4, "bn.running_var", Init::Const(0.0))
                .is_err()
        );
        assert_eq!(named_vars(&map).unwrap().len(), 1);
    }
}
