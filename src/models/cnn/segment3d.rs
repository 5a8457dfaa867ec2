//! The segmenter's network, 2-D or 3-D, and the whole-volume inputs of the 3-D one.
//!
//! Principal types: [`SegNet`] (a [`UNet`] on axial slices or a [`UNet3d`] on whole volumes,
//! chosen by [`super::segment::SegmenterSpec::dims`]), [`full_volume`] and
//! [`training_volume`]. A volume input is `[channels, d, h, w]` = `[channels, nz, ny, nx]`, so
//! its flattened voxels are in the mask's order (i fastest, then j, then k) and a predicted
//! volume is a mask without reordering. Whole volumes need every side divisible by
//! `2^levels`; the check comes before training, naming the case and its size.

use super::CnnError;
use super::input::{Normalise, Sample};
use super::segment::{SegSample, full_slices};
use super::unet::{UNet, UNetConfig};
use super::unet3d::UNet3d;
use crate::data::image::{Image, Mask};
use candle_core::Tensor;
use candle_nn::VarBuilder;

/// The segmenter's network.
pub enum SegNet {
    /// A 2-D U-Net over axial slices (`dims = 2`).
    Slices(UNet),
    /// A 3-D U-Net over whole volumes (`dims = 3`).
    Volumes(UNet3d),
}

impl SegNet {
    /// Builds the network of `dims` spatial dimensions (2 or 3).
    pub fn new(config: &UNetConfig, dims: usize, vb: VarBuilder) -> Result<SegNet, CnnError> {
        match dims {
            2 => Ok(SegNet::Slices(UNet::new(config, vb)?)),
            3 => Ok(SegNet::Volumes(UNet3d::new(config, vb)?)),
            other => Err(dims_error(other)),
        }
    }

    /// Logits `[n, classes, (d,) h, w]`.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor, CnnError> {
        Ok(match self {
            SegNet::Slices(net) => net.forward_t(xs, train)?,
            SegNet::Volumes(net) => net.forward_t(xs, train)?,
        })
    }

    /// Folds batch norm into the convolutions for inference.
    pub fn fold_batch_norm(&mut self) -> Result<(), CnnError> {
        match self {
            SegNet::Slices(net) => net.fold_batch_norm()?,
            SegNet::Volumes(net) => net.fold_batch_norm()?,
        }
        Ok(())
    }
}

/// The error for a `dims` other than 2 or 3.
pub fn dims_error(dims: usize) -> CnnError {
    CnnError::settings(
        "dims",
        format!("dims = {dims}: 2 (U-Net on axial slices) or 3 (3-D U-Net on whole volumes)"),
    )
}

/// Checks that every spatial side of an input shape `[channels, sides...]` is divisible by
/// `2^levels`, naming the case.
pub fn check_divisible(case: &str, shape: &[usize], levels: usize) -> Result<(), CnnError> {
    let factor = 1usize << levels.min(20);
    let sides = shape.get(1..).unwrap_or_default();
    if sides.iter().any(|s| s % factor != 0) {
        return Err(CnnError::Shape {
            message: format!(
                "case {case:?}: input sides {sides:?} are not divisible by 2^levels = {factor} \
                 (choose fewer levels, or volumes whose sides are multiples of {factor})"
            ),
        });
    }
    Ok(())
}

/// The whole volume of a case, normalised, as one `[channels, nz, ny, nx]` input.
pub fn full_volume(
    case: &str,
    images: &[&Image],
    normalise: Normalise,
) -> Result<Sample, CnnError> {
    let slices = full_slices(case, images, normalise)?;
    let Some(first) = slices.first() else {
        return Err(CnnError::Shape {
            message: format!("case {case:?}: the volume has no slice"),
        });
    };
    let (channels, ny, nx) = (first.shape[0], first.shape[1], first.shape[2]);
    let plane = ny * nx;
    let mut data = Vec::with_capacity(channels * slices.len() * plane);
    for c in 0..channels {
        for s in &slices {
            data.extend_from_slice(&s.data[c * plane..(c + 1) * plane]);
        }
    }
    Ok(Sample {
        case: case.to_string(),
        slice: None,
        shape: vec![channels, slices.len(), ny, nx],
        data,
    })
}

/// The training input of a case for the 3-D U-Net: its whole volume and reference mask (any
/// non-zero label = structure).
pub fn training_volume(
    case: &str,
    images: &[&Image],
    mask: &Mask,
    normalise: Normalise,
) -> Result<SegSample, CnnError> {
    if let Some(im) = images.first()
        && let Some(detail) = im.grid.mismatch(&mask.grid, 1e-4)
    {
        return Err(CnnError::GridMismatch {
            case: case.into(),
            what: "the mask".into(),
            detail,
        });
    }
    Ok(SegSample {
        input: full_volume(case, images, normalise)?,
        target: mask.voxels.iter().map(|&v| f32::from(v != 0)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn volume_is_channel_major_in_mask_order() {
        let grid = Grid::new([2, 3, 4], [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: (0..24).map(f64::from).collect(),
        };
        let doubled = Image {
            grid: grid.clone(),
            voxels: (0..24).map(|v| f64::from(v) * 2.0).collect(),
        };
        let v = full_volume("c", &[&image, &doubled], Normalise::None).unwrap();
        assert_eq!(v.shape, vec![2, 4, 3, 2]);
        let want: Vec<f32> = (0..24)
            .chain((0..24).map(|x| x * 2))
            .map(|x| x as f32)
            .collect();
        assert_eq!(v.data, want);
        let mask = Mask {
            grid,
            voxels: (0..24).map(|i| u8::from(i % 5 == 0) * 2).collect(),
        };
        let s = training_volume("c", &[&image], &mask, Normalise::None).unwrap();
        assert_eq!(s.target[5], 1.0);
        assert_eq!(s.target[6], 0.0);
    }

    #[test]
    fn sides_must_divide_by_two_to_the_levels() {
        assert!(check_divisible("c", &[1, 8, 16, 16], 3).is_ok());
        let e = check_divisible("c", &[1, 6, 24, 24], 2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"c\"") && e.contains("[6, 24, 24]") && e.contains('4'),
            "{e}"
        );
        assert!(dims_error(4).to_string().contains("dims = 4"));
    }
}
