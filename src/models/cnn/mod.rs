//! The CNN family on candle: image inputs, ResNet / Inception classifiers, a U-Net segmenter,
//! deterministic CPU training and transfer learning.
//!
//! Principal types and how they connect:
//! - [`input::PatchSpec`] turns a case's co-registered [`Image`](crate::data::image::Image)s and
//!   its [`Mask`](crate::data::image::Mask) into [`input::Sample`]s (2-D patches of the k
//!   largest lesion slices, 2.5-D slabs with neighbouring slices as channels, or 3-D crops), and
//!   [`augment::Augment`] perturbs them with draws from the cell's [`SeededRng`](crate::seed::SeededRng).
//! - [`resnet::ResNet`] (He et al. 2016, "Deep residual learning for image recognition";
//!   torchvision's `resnet.py` parameter names), [`inception::Inception`] (Szegedy et al. 2016,
//!   "Rethinking the Inception architecture", torchvision's `inception.py` block names) and
//!   [`unet::UNet`] (Ronneberger et al. 2015) are built by constructors taking a candle
//!   `VarBuilder`, so one function builds a fresh net or loads a checkpoint.
//! - [`store::seeded_varmap`] makes candle's weights reproducible: every initial tensor is drawn
//!   from radbench's seeded ChaCha stream named by the tensor's name (candle's own CPU RNG
//!   cannot be seeded).
//! - [`train`] holds the loop (AdamW / SGD with momentum, cosine / step schedules, class
//!   weights, gradient clipping, early stopping on inner-validation AUC, loss curve), and
//!   [`classifier::CnnClassifier::fit`] returns a [`classifier::FittedCnn`] with
//!   `predict_proba`, `embed` and patch → patient aggregation.
//! - [`transfer`] loads `.safetensors` checkpoints strictly or partially with a
//!   [`transfer::LoadReport`], adapts a 3-channel first convolution and freezes early stages.
//!
//! - 3-D: [`conv3d`] is a trainable 3-D convolution (im2col + GEMM forward and backward;
//!   candle 0.11 has none) with a fused inference twin, [`layers3d`] holds 3-D batch norm,
//!   pooling and adaptive pooling, and [`resnet3d::ResNet3d`] is ResNet-18/34/50 on
//!   `[channels, d, h, w]` crops (`network = { arch = "resnet3d", ... }` with
//!   `input.layout = { kind = "crop3d", depth = d }`).
//! - Inference after batch-norm folding runs on a channel-blocked layout with a direct
//!   convolution (`blocked`) for the 2-D ResNet, Inception-style net and U-Net alike
//!   (`resnet_infer`, `inception_infer`, `unet_infer`, sharing `conv_plan`): 3×3 stride-1
//!   convolutions of ≥ 32 channels on maps of ≥ 32 2×2 tiles take Winograd F(2×2, 3×3)
//!   (`blocked::winograd`), and the AVX-512VL, AVX2 and scalar back-ends (`lanes`) give
//!   identical bits. [`fastconv::FusedConv`] holds the folded weights (and runs them as one
//!   im2col + GEMM custom op where no blocked plan exists); [`trainconv::conv2d`] is the
//!   trainable convolution (GEMM forward and backward) used everywhere else.
//!   [`trainbn::batch_norm_train`] (batch norm with batch statistics, ReLU fused) and
//!   [`trainpool::max_pool_3x3_s2_p1_train`] (the stem's pool) are single training ops that
//!   compute exactly what the candle tensor ops they replace computed, in one sweep each way.
//!
//! Determinism: results are bit-identical on rerun and independent of candle's thread count
//! (`RAYON_NUM_THREADS`); the test `cnn_determinism` proves both on a tiny net.

pub mod affine;
pub mod affine3d;
pub mod augment;
pub(crate) mod blocked;
pub mod classifier;
pub mod conv3d;
pub(crate) mod conv_plan;
pub mod fastconv;
pub mod fastpool;
pub(crate) mod im2col;
pub mod inception;
pub(crate) mod inception_infer;
pub mod input;
pub(crate) mod lanes;
pub mod layers;
pub mod layers3d;
pub(crate) mod matmul;
pub mod optim;
pub(crate) mod param_update;
pub mod resnet;
pub mod resnet3d;
pub(crate) mod resnet_infer;
pub mod segment;
pub mod segment3d;
pub mod store;
pub mod train;
pub mod trainbn;
pub mod trainconv;
pub mod trainpool;
pub mod transfer;
pub mod unet;
pub mod unet3d;
pub(crate) mod unet_infer;

pub use candle_core::{Device, Tensor};

/// Errors of the CNN family. Each variant names the case, tensor, key or epoch at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CnnError {
    /// A case's mask has no voxel of the lesion label.
    #[error("case {case:?}: the mask has no positive voxel")]
    EmptyMask {
        /// Case id.
        case: String,
    },
    /// Images of one case (channels, or image and mask) do not share a voxel grid.
    #[error("case {case:?}: {what} is not on the mask's grid ({detail})")]
    GridMismatch {
        /// Case id.
        case: String,
        /// Which input (e.g. "channel 2").
        what: String,
        /// The first difference.
        detail: String,
    },
    /// A crop asks for more voxels than the volume has along an axis.
    #[error(
        "case {case:?}: crop of {crop} voxels along {axis} is larger than the volume ({extent})"
    )]
    CropLargerThanVolume {
        /// Case id.
        case: String,
        /// Axis name ("i", "j" or "k").
        axis: &'static str,
        /// Requested crop size.
        crop: usize,
        /// Voxels in the volume along that axis.
        extent: usize,
    },
    /// Settings that cannot be used.
    #[error("cnn setting {key:?}: {message}")]
    Settings {
        /// The setting at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Samples of inconsistent shape, or labels that do not match the samples.
    #[error("{message}")]
    Shape {
        /// What does not fit.
        message: String,
    },
    /// The training labels hold fewer than two classes.
    #[error("the training labels hold only {classes} class(es) ({n} samples)")]
    TooFewClasses {
        /// Distinct classes seen.
        classes: usize,
        /// Samples.
        n: usize,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: the loss is {loss} in epoch {epoch}, batch {batch}")]
    NonFiniteLoss {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (1-based).
        batch: usize,
        /// The loss value.
        loss: f64,
    },
    /// The gradients became NaN or infinite.
    #[error("training diverged: the gradient norm is {norm} in epoch {epoch}, batch {batch}")]
    NonFiniteGradient {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (1-based).
        batch: usize,
        /// The global gradient norm.
        norm: f64,
    },
    /// An input value is NaN or infinite.
    #[error("case {case:?}: input value {index} is not finite (NaN or infinity)")]
    NonFiniteInput {
        /// Case id.
        case: String,
        /// Position in the sample's data.
        index: usize,
    },
    /// A checkpoint does not fit the network (strict load, or shapes that differ).
    #[error("checkpoint {path:?}: {message}")]
    Checkpoint {
        /// Checkpoint path.
        path: String,
        /// The tensors at fault.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path:?}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An error inside candle (shape or dtype bugs; carries candle's message).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

impl CnnError {
    /// A [`CnnError::Settings`] error for `key`.
    pub fn settings(key: &str, message: impl Into<String>) -> CnnError {
        CnnError::Settings {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
