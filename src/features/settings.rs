//! Extraction settings, one field per pyradiomics setting (the `setting:` block of a parameter
//! file), with pyradiomics' defaults.
//!
//! Principal types: [`FeatureSettings`], [`ResegmentMode`], [`WeightingNorm`], [`Interpolator`].
//! Reference: pyradiomics `radiomics/schemas/paramSchema.yaml` and the "Customizing the
//! extraction" page of its documentation (names, types and defaults).

pub use super::resample::StoredType;

/// How `resegmentRange` thresholds are read (pyradiomics `resegmentMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResegmentMode {
    /// Thresholds are intensities.
    #[default]
    Absolute,
    /// Thresholds are fractions of the region's maximum.
    Relative,
    /// Thresholds are numbers of (population) standard deviations from the region's mean.
    Sigma,
}

/// How GLCM/GLRLM matrices of the different angles are combined (pyradiomics `weightingNorm`).
/// `None` in [`FeatureSettings::weighting_norm`] means features are computed per angle and
/// averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightingNorm {
    /// Weights from the largest per-axis distance in mm.
    Infinity,
    /// Weights from the Euclidean distance in mm.
    Euclidean,
    /// Weights from the city-block distance in mm.
    Manhattan,
    /// All angles weigh 1: the matrices are summed (IBSI "merged").
    NoWeighting,
}

/// Image interpolator for resampling (pyradiomics `interpolator`, SimpleITK names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolator {
    /// `sitkNearestNeighbor`.
    NearestNeighbor,
    /// `sitkLinear`.
    Linear,
    /// `sitkBSpline` (cubic B-spline, pyradiomics' default).
    #[default]
    BSpline,
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
    /// `normalize`: standardise the whole image, (x − mean) / sd (default false).
    pub normalize: bool,
    /// `normalizeScale`: factor applied after normalisation (default 1).
    pub normalize_scale: f64,
    /// `removeOutliers`: clip normalised values to ± this many sd (default none).
    pub remove_outliers: Option<f64>,
    /// `resampledPixelSpacing` in mm (i, j, k); 0 keeps that axis' spacing (default none).
    pub resampled_pixel_spacing: Option<[f64; 3]>,
    /// `interpolator` for the image when resampling (default B-spline).
    pub interpolator: Interpolator,
    /// `padDistance`: voxels kept around the region when resampling (default 5).
    pub pad_distance: usize,
    /// `preCrop`: crop to the region before resampling (default false; no effect on values).
    pub pre_crop: bool,
    /// `resegmentRange`: one (lower) or two (lower, upper) thresholds (default none).
    pub resegment_range: Option<Vec<f64>>,
    /// `resegmentMode` (default absolute).
    pub resegment_mode: ResegmentMode,
    /// `resegmentShape`: compute shape on the re-segmented mask too (default false).
    pub resegment_shape: bool,
    /// `minimumROIDimensions`: the region must extend over this many axes (default 2).
    pub minimum_roi_dimensions: usize,
    /// `minimumROISize`: the region must have more than this many voxels (default none).
    pub minimum_roi_size: Option<usize>,
    /// `correctMask`: resample a mask on another grid onto the image's (nearest neighbour) when
    /// its region lies inside the image (default false).
    pub correct_mask: bool,
    /// `geometryTolerance`: largest grid difference accepted between image and mask (default
    /// none: radbench's 1e-4).
    pub geometry_tolerance: Option<f64>,
    /// `force2D`: texture in 2-D slices (default false).
    pub force_2d: bool,
    /// `force2Ddimension`: the axis normal to those slices, numpy order (0 = k, 1 = j, 2 = i).
    pub force_2d_dimension: usize,
    /// `distances`: neighbour distances (Chebyshev) for GLCM, NGTDM and GLDM (default [1]).
    pub distances: Vec<usize>,
    /// `symmetricalGLCM` (default true).
    pub symmetrical_glcm: bool,
    /// `weightingNorm` (default none: per-angle features averaged).
    pub weighting_norm: Option<WeightingNorm>,
    /// `gldm_a`: dependence tolerance α (default 0).
    pub gldm_a: u32,
    /// How the image file stores intensities (not a pyradiomics setting; set by whoever reads
    /// the image, e.g. from the NRRD `type`). SimpleITK resamples into the input's pixel type,
    /// so after resampling an integer image values are truncated to integers; normalisation
    /// makes the image floating point first. Default: floating point.
    pub stored_type: StoredType,
    /// IBSI mode (not a pyradiomics setting): excess kurtosis, N−1 covariance for axis
    /// lengths, fixed-bin-width edges starting at the region's minimum (or the lower
    /// re-segmentation bound). Default false: pyradiomics definitions.
    pub ibsi: bool,
    /// IBSI intensity outlier filtering (not a pyradiomics setting; YAML `resegmentOutliers`):
    /// after `resegmentRange`, keep only the region's voxels within mean ± this many
    /// (population) standard deviations. Default none.
    pub resegment_outliers: Option<f64>,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        FeatureSettings {
            bin_width: 25.0,
            bin_count: None,
            voxel_array_shift: 0.0,
            label: 1,
            normalize: false,
            normalize_scale: 1.0,
            remove_outliers: None,
            resampled_pixel_spacing: None,
            interpolator: Interpolator::BSpline,
            pad_distance: 5,
            pre_crop: false,
            resegment_range: None,
            resegment_mode: ResegmentMode::Absolute,
            resegment_shape: false,
            minimum_roi_dimensions: 2,
            minimum_roi_size: None,
            correct_mask: false,
            geometry_tolerance: None,
            force_2d: false,
            force_2d_dimension: 0,
            distances: vec![1],
            symmetrical_glcm: true,
            weighting_norm: None,
            gldm_a: 0,
            stored_type: StoredType::Float,
            ibsi: false,
            resegment_outliers: None,
        }
    }
}
