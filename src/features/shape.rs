//! Shape features of the region, named as pyradiomics' `RadiomicsShape` names them.
//!
//! Principal item: [`Shape`] (the `shape` [`FeatureFamily`]). So far it gives the voxel-count
//! volume only (`original_shape_VoxelVolume`, IBSI "approximate volume", code YEKZ); the
//! mesh-based features (marching cubes) come next.
//!
//! Reference: pyradiomics `radiomics/shape.py` (`getVoxelVolumeFeatureValue`: voxel count ×
//! voxel volume in mm³).

use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The pyradiomics `shape` class (3-D).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape;

impl FeatureFamily for Shape {
    fn class_name(&self) -> &'static str {
        "shape"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let count = mask.count(settings.label);
        if count == 0 {
            return Err(FeatureError::EmptyMask {
                label: settings.label,
            });
        }
        let volume = count as f64 * image.grid.voxel_volume_mm3();
        Ok(vec![("original_shape_VoxelVolume".to_string(), volume)])
    }

    fn uses_morphological_mask(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn voxel_volume_is_count_times_voxel_size() {
        let grid = Grid::new([3, 2, 2], [0.5, 2.0, 3.0]);
        let image = Image {
            grid: grid.clone(),
            voxels: vec![0.0; 12],
        };
        let mut labels = vec![0u8; 12];
        labels[..5].fill(1);
        labels[7] = 2;
        let mask = Mask {
            grid,
            voxels: labels,
        };
        let f = Shape
            .compute(&image, &mask, &FeatureSettings::default())
            .unwrap();
        assert_eq!(f, vec![("original_shape_VoxelVolume".to_string(), 15.0)]);
    }
}
