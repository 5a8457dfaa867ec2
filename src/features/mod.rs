//! Radiomics features, IBSI-defined and named as pyradiomics names them
//! (`original_firstorder_Mean`).
//!
//! Principal types: [`FeatureFamily`] (one feature class: firstorder, shape, glcm, ...),
//! [`FeatureSettings`] (discretisation and related settings), [`FeatureTable`] (cases × named
//! features, the input of radiomics models). [`family_by_name`] is the registry of classes and
//! [`extract`] runs a list of them on one image and mask. Reference: pyradiomics
//! `radiomics/featureextractor.py` (class names, feature naming).

pub mod discretise;
pub mod firstorder;
pub mod glcm;
pub mod gldm;
pub mod glrlm;
pub mod glszm;
pub mod ibsi_resample;
pub mod linalg;
pub mod marching_cubes;
pub mod ngtdm;
pub mod params;
pub mod preprocess;
pub mod resample;
pub mod settings;
pub mod shape;
pub mod texture;
pub mod tic;

pub use settings::{FeatureSettings, Interpolator, ResegmentMode, StoredType, WeightingNorm};

use crate::data::image::{Image, Mask};

/// Largest difference allowed between image and mask grids (spacing and origin in mm, direction
/// cosines), as for every image/mask pair radbench reads.
pub const GEOMETRY_TOLERANCE: f64 = 1e-4;

/// Errors from feature extraction; each names the case or setting at fault where known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// The mask selects no voxel for the requested label.
    #[error("the mask has no voxel with label {label}")]
    EmptyMask {
        /// The label that was looked for.
        label: u8,
    },
    /// Image and mask grids differ.
    #[error("image and mask grids differ: {0}")]
    GeometryMismatch(String),
    /// A setting is invalid.
    #[error("invalid feature setting {key}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// No feature class has this name.
    #[error("unknown feature class {name:?}; valid classes: {valid}")]
    UnknownFamily {
        /// The name asked for.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// An intensity inside the region is NaN or infinite.
    #[error(
        "the image has a non-finite intensity ({value}) inside the region at voxel index {index}"
    )]
    NonFiniteIntensity {
        /// Linear voxel index (i fastest).
        index: usize,
        /// The value found.
        value: f64,
    },
    /// The region fails a pyradiomics mask check (single voxel, too few dimensions, too
    /// small, emptied by re-segmentation).
    #[error("region rejected: {reason}")]
    RoiRejected {
        /// Which check failed, with the numbers.
        reason: String,
    },
    /// shape2D was asked of a region more than one voxel thick along the `force2D` axis
    /// (pyradiomics skips shape2D then, with a warning; so does `extract_with_params`).
    #[error("shape2D needs a region one voxel thick along numpy axis {axis}; it spans {extent}")]
    NotSingleSlice {
        /// The numpy axis (`force2Ddimension`).
        axis: usize,
        /// The region's extent along it, in voxels.
        extent: usize,
    },
    /// A parameter file has an unknown key or a bad value.
    #[error("{file}: {key}: {reason}")]
    InvalidParams {
        /// The parameter file.
        file: String,
        /// The key at fault, dotted (`setting.binWidth`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting or input radbench does not support.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What is unsupported.
        what: String,
    },
    /// Image and mask voxel counts differ from their grids.
    #[error("{what} has {found} voxels but its grid has {expected}")]
    VoxelCount {
        /// "image" or "mask".
        what: &'static str,
        /// Voxels stored.
        found: usize,
        /// Voxels the grid implies.
        expected: usize,
    },
}

/// One feature class (pyradiomics "featureClass"): computes named features of the region of
/// interest that a mask marks on an image.
pub trait FeatureFamily: Send + Sync {
    /// The class name as pyradiomics spells it (`firstorder`, `shape`, `glcm`, ...).
    fn class_name(&self) -> &'static str;

    /// Computes this class's features. Names are pyradiomics' full names
    /// (`original_firstorder_Mean`), in a fixed order.
    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError>;

    /// True for shape classes, which [`extract`] gives the mask before re-segmentation.
    fn uses_morphological_mask(&self) -> bool {
        false
    }

    /// Bare names of the features [`FeatureFamily::compute`] returns, in its order.
    fn feature_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Deprecated features that pyradiomics computes only when a parameter file names them;
    /// [`FeatureFamily::compute_all`] appends them.
    fn deprecated_features(&self) -> &'static [&'static str] {
        &[]
    }

    /// Feature names pyradiomics accepts in a parameter file but for which it returns no value
    /// (deprecated duplicates of other features); radbench accepts and omits them too.
    fn valueless_features(&self) -> &'static [&'static str] {
        &[]
    }

    /// [`FeatureFamily::compute`] plus the [`FeatureFamily::deprecated_features`].
    fn compute_all(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        self.compute(image, mask, settings)
    }
}

/// Named features for a set of cases: one row per case, one column per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTable {
    /// Case ids, one per row.
    pub case_ids: Vec<String>,
    /// Feature names, one per column.
    pub names: Vec<String>,
    /// Values, `case_ids.len()` × `names.len()`.
    pub values: ndarray::Array2<f64>,
}

/// Every feature class radbench computes, in registry order (sorted by name).
pub const FAMILIES: &[&dyn FeatureFamily] = &[
    &firstorder::FirstOrder,
    &glcm::Glcm,
    &gldm::Gldm,
    &glrlm::Glrlm,
    &glszm::Glszm,
    &ngtdm::Ngtdm,
    &shape::Shape,
    &shape::Shape2d,
];

/// Feature classes beyond pyradiomics' (the time–intensity curve of a cine): selectable by
/// name, but not part of the "all classes" default of a parameter file without `featureClass`.
pub const EXTRA_FAMILIES: &[&dyn FeatureFamily] = &[&tic::Tic];

/// The feature class called `name` (pyradiomics spelling: `firstorder`, `shape`, ...; or one
/// of the [`EXTRA_FAMILIES`], such as `tic`).
pub fn family_by_name(name: &str) -> Result<&'static dyn FeatureFamily, FeatureError> {
    FAMILIES
        .iter()
        .chain(EXTRA_FAMILIES)
        .copied()
        .find(|family| family.class_name() == name)
        .ok_or_else(|| FeatureError::UnknownFamily {
            name: name.to_string(),
            valid: FAMILIES
                .iter()
                .chain(EXTRA_FAMILIES)
                .map(|family| family.class_name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Checks that image and mask can be used together: voxel counts match their grids, the grids
/// match within [`GEOMETRY_TOLERANCE`], and the mask has at least one voxel of `label`.
pub fn check_inputs(image: &Image, mask: &Mask, label: u8) -> Result<(), FeatureError> {
    check_inputs_within(image, mask, label, GEOMETRY_TOLERANCE)
}

/// [`check_inputs`] with a chosen grid tolerance.
pub fn check_inputs_within(
    image: &Image,
    mask: &Mask,
    label: u8,
    tolerance: f64,
) -> Result<(), FeatureError> {
    for (what, found, expected) in [
        ("image", image.voxels.len(), image.grid.len()),
        ("mask", mask.voxels.len(), mask.grid.len()),
    ] {
        if found != expected {
            return Err(FeatureError::VoxelCount {
                what,
                found,
                expected,
            });
        }
    }
    if let Some(difference) = image.grid.mismatch(&mask.grid, tolerance) {
        return Err(FeatureError::GeometryMismatch(difference));
    }
    if !mask.voxels.contains(&label) {
        return Err(FeatureError::EmptyMask { label });
    }
    Ok(())
}

fn tolerance(settings: &FeatureSettings) -> f64 {
    settings.geometry_tolerance.unwrap_or(GEOMETRY_TOLERANCE)
}

/// pyradiomics `correctMask`: when the mask's grid differs from the image's and correction is
/// on, the mask resampled onto the image grid (nearest neighbour), after checking its region lies
/// inside the image. `None` when nothing needs correcting.
pub fn align_mask(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
) -> Result<Option<Mask>, FeatureError> {
    if !settings.correct_mask
        || image
            .grid
            .mismatch(&mask.grid, tolerance(settings))
            .is_none()
    {
        return Ok(None);
    }
    if mask.voxels.len() != mask.grid.len() {
        return Err(FeatureError::VoxelCount {
            what: "mask",
            found: mask.voxels.len(),
            expected: mask.grid.len(),
        });
    }
    resample::check_roi_inside(&image.grid, mask, settings.label)?;
    Ok(Some(resample::mask_onto_grid(mask, &image.grid)))
}

/// The intensities of the voxels labelled `label`, in storage order (i fastest). Errors on an
/// empty region and on non-finite intensities inside it.
pub fn roi_values(image: &Image, mask: &Mask, label: u8) -> Result<Vec<f64>, FeatureError> {
    let mut values = Vec::new();
    for (index, (&value, &l)) in image.voxels.iter().zip(&mask.voxels).enumerate() {
        if l == label {
            if !value.is_finite() {
                return Err(FeatureError::NonFiniteIntensity { index, value });
            }
            values.push(value);
        }
    }
    if values.is_empty() {
        return Err(FeatureError::EmptyMask { label });
    }
    Ok(values)
}

/// Extracts the features of `families`, in the given order, from the region of `image` that
/// `mask` labels `settings.label`, after pyradiomics' pre-processing ([`preprocess::prepare`]).
/// Full pyradiomics names (`original_firstorder_Mean`).
pub fn extract(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
    families: &[&dyn FeatureFamily],
) -> Result<Vec<(String, f64)>, FeatureError> {
    Ok(extract_classes(image, mask, settings, families, false)?
        .into_iter()
        .flatten()
        .collect())
}

/// [`extract`] with each family's features kept apart; with `deprecated`, each family's
/// [`FeatureFamily::compute_all`] instead of [`FeatureFamily::compute`].
pub fn extract_classes(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
    families: &[&dyn FeatureFamily],
    deprecated: bool,
) -> Result<Vec<Vec<(String, f64)>>, FeatureError> {
    let case = prepare_case(image, mask, settings)?;
    families
        .iter()
        .map(|&family| compute_on(&case, family, settings, deprecated))
        .collect()
}

/// Checks and pre-processes one image/mask pair once, for any number of classes: `correctMask`,
/// the grid check ([`check_inputs_within`]) and [`preprocess::prepare`].
pub fn prepare_case(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
) -> Result<preprocess::PreparedCase, FeatureError> {
    let aligned = align_mask(image, mask, settings)?;
    let mask = aligned.as_ref().unwrap_or(mask);
    check_inputs_within(image, mask, settings.label, tolerance(settings))?;
    preprocess::prepare(image, mask, settings)
}

/// One class on a prepared case (shape classes get the mask before re-segmentation).
pub fn compute_on(
    case: &preprocess::PreparedCase,
    family: &dyn FeatureFamily,
    settings: &FeatureSettings,
    deprecated: bool,
) -> Result<Vec<(String, f64)>, FeatureError> {
    let family_mask = if family.uses_morphological_mask() {
        &case.shape_mask
    } else {
        &case.mask
    };
    if deprecated {
        family.compute_all(&case.image, family_mask, settings)
    } else {
        family.compute(&case.image, family_mask, settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    fn case() -> (Image, Mask) {
        let grid = Grid::new([2, 2, 2], [1.0, 1.0, 2.0]);
        let image = Image {
            grid: grid.clone(),
            voxels: (0..8).map(f64::from).collect(),
        };
        let mask = Mask {
            grid,
            voxels: vec![1, 1, 1, 0, 0, 0, 0, 1],
        };
        (image, mask)
    }

    #[test]
    fn registry_finds_classes_and_lists_valid_names() {
        assert_eq!(
            family_by_name("firstorder").unwrap().class_name(),
            "firstorder"
        );
        let message = family_by_name("glcmm").err().unwrap().to_string();
        assert!(
            message.contains("glcmm")
                && message.contains("firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape, shape2D")
        );
    }

    #[test]
    fn extract_concatenates_in_the_given_order() {
        let (image, mask) = case();
        let families = [
            family_by_name("shape").unwrap(),
            family_by_name("firstorder").unwrap(),
        ];
        let f = extract(&image, &mask, &FeatureSettings::default(), &families).unwrap();
        assert_eq!(f.len(), 14 + 18);
        assert_eq!(f[13], ("original_shape_VoxelVolume".to_string(), 8.0));
        assert_eq!(f[14].0, "original_firstorder_10Percentile");
        let mean = f
            .iter()
            .find(|(n, _)| n == "original_firstorder_Mean")
            .unwrap()
            .1;
        assert_eq!(mean, (0.0 + 1.0 + 2.0 + 7.0) / 4.0);
    }

    #[test]
    fn extract_rejects_bad_inputs() {
        let (image, mask) = case();
        let all = [family_by_name("firstorder").unwrap()];
        let absent = FeatureSettings {
            label: 2,
            ..FeatureSettings::default()
        };
        assert!(matches!(
            extract(&image, &mask, &absent, &all),
            Err(FeatureError::EmptyMask { label: 2 })
        ));
        let mut shifted = mask.clone();
        shifted.grid.spacing[2] = 2.5;
        assert!(matches!(
            extract(&image, &shifted, &FeatureSettings::default(), &all),
            Err(FeatureError::GeometryMismatch(_))
        ));
        let mut nan = image.clone();
        nan.voxels[7] = f64::NAN;
        assert!(matches!(
            extract(&nan, &mask, &FeatureSettings::default(), &all),
            Err(FeatureError::NonFiniteIntensity { index: 7, .. })
        ));
        let mut short = image;
        short.voxels.pop();
        assert!(matches!(
            extract(&short, &mask, &FeatureSettings::default(), &all),
            Err(FeatureError::VoxelCount { what: "image", .. })
        ));
    }
}
