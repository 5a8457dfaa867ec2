//! Radiomics features, IBSI-defined and named as pyradiomics names them
//! (`original_firstorder_Mean`).
//!
//! Principal types: [`FeatureFamily`] (one feature class: firstorder, shape, glcm, ...),
//! [`FeatureSettings`] (discretisation and related settings), [`FeatureTable`] (cases × named
//! features, the input of radiomics models).

use crate::data::image::{Image, Mask};

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
}

/// Extraction settings shared by all feature classes (pyradiomics names in the docs).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSettings {
    /// `binWidth`: fixed bin width for discretisation (default 25).
    pub bin_width: f64,
    /// `binCount`: fixed number of bins; overrides `bin_width` when set.
    pub bin_count: Option<usize>,
    /// `voxelArrayShift`: added to intensities for Energy, TotalEnergy and RMS (default 0).
    pub voxel_array_shift: f64,
    /// `label`: the mask value that marks the region of interest (default 1).
    pub label: u8,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        FeatureSettings {
            bin_width: 25.0,
            bin_count: None,
            voxel_array_shift: 0.0,
            label: 1,
        }
    }
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
