//! pyradiomics parameter files (YAML), read unchanged: `setting`, `imageType`, `featureClass`.
//!
//! Principal items: [`Params`] (validated settings, image type, enabled classes and features),
//! [`parse_params`] / [`read_params`], and [`extract_with_params`] (pyradiomics' output order:
//! shape classes first, then the others in the file's order).
//!
//! Reference: pyradiomics `radiomics/schemas/paramSchema.yaml` (keys, types, ranges) and
//! `featureextractor.py` (defaults, `enableAllFeatures`, `computeShape` / `computeFeatures`).
//! Unknown keys, unknown classes and unknown feature names are errors that name them; image
//! types other than `Original` (filters) and voxel-based settings are errors saying radbench does
//! not compute them, never a silent skip. One radbench extension: `setting: ibsi: true`.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use super::{
    FAMILIES, FeatureError, FeatureFamily, FeatureSettings, Interpolator, ResegmentMode,
    WeightingNorm, family_by_name,
};
use crate::data::image::{Image, Mask};

/// One enabled feature class and, if the file lists them, its features (in the listed order).
#[derive(Clone)]
pub struct EnabledClass {
    /// The class.
    pub family: &'static dyn FeatureFamily,
    /// `None`: all its default features; `Some`: exactly these (deprecated ones allowed).
    pub features: Option<Vec<String>>,
}

impl std::fmt::Debug for EnabledClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnabledClass")
            .field("family", &self.family.class_name())
            .field("features", &self.features)
            .finish()
    }
}

/// A validated parameter file.
#[derive(Debug, Clone)]
pub struct Params {
    /// Settings, pyradiomics defaults where the file is silent.
    pub settings: FeatureSettings,
    /// Enabled classes in the file's order (all classes, sorted, when the file has no
    /// `featureClass`).
    pub classes: Vec<EnabledClass>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            settings: FeatureSettings::default(),
            classes: FAMILIES
                .iter()
                .map(|&family| EnabledClass {
                    family,
                    features: None,
                })
                .collect(),
        }
    }
}

fn invalid(file: &str, key: &str, reason: impl Into<String>) -> FeatureError {
    FeatureError::InvalidParams {
        file: file.to_string(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Reads and validates a parameter file.
pub fn read_params(path: &Path) -> Result<Params, FeatureError> {
    let text = std::fs::read_to_string(path).map_err(|e| FeatureError::InvalidParams {
        file: path.display().to_string(),
        key: "(file)".into(),
        reason: e.to_string(),
    })?;
    parse_params(&text, &path.display().to_string())
}

/// Parses and validates parameter-file text; `file` names it in errors.
pub fn parse_params(text: &str, file: &str) -> Result<Params, FeatureError> {
    let documents =
        YamlLoader::load_from_str(text).map_err(|e| invalid(file, "(syntax)", e.to_string()))?;
    let mut params = Params::default();
    let Some(root) = documents.first() else {
        return Ok(params); // an empty file: all defaults, as pyradiomics
    };
    let root = match root {
        Yaml::Hash(h) => h,
        Yaml::Null => return Ok(params),
        _ => return Err(invalid(file, "(top level)", "must be a mapping")),
    };
    let mut interpolator_none = false;
    let mut classes: Option<Vec<EnabledClass>> = None;
    for (key, value) in root {
        let key = key_name(file, key)?;
        match key.as_str() {
            "setting" => apply_settings(
                file,
                "setting",
                value,
                &mut params.settings,
                &mut interpolator_none,
            )?,
            "imageType" => {
                let Yaml::Hash(types) = value else {
                    return Err(invalid(
                        file,
                        "imageType",
                        "must be a mapping of image types",
                    ));
                };
                for (name, custom) in types {
                    let name = key_name(file, name)?;
                    match name.as_str() {
                        "Original" => {
                            apply_settings(
                                file,
                                "imageType.Original",
                                custom,
                                &mut params.settings,
                                &mut interpolator_none,
                            )?;
                        }
                        "LoG" | "Wavelet" | "Square" | "SquareRoot" | "Logarithm"
                        | "Exponential" | "Gradient" | "LBP2D" | "LBP3D" => {
                            return Err(FeatureError::Unsupported {
                                what: format!(
                                    "{file}: imageType {name}: radbench computes features of the Original image only (no filters)"
                                ),
                            });
                        }
                        other => {
                            return Err(invalid(
                                file,
                                &format!("imageType.{other}"),
                                "unknown image type (pyradiomics: Original, LoG, Wavelet, Square, SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D)",
                            ));
                        }
                    }
                }
            }
            "featureClass" => classes = Some(parse_classes(file, value)?),
            "voxelSetting" => {
                return Err(FeatureError::Unsupported {
                    what: format!(
                        "{file}: voxelSetting: radbench does not do voxel-based extraction"
                    ),
                });
            }
            other => {
                return Err(invalid(
                    file,
                    other,
                    "unknown top-level key (valid: setting, imageType, featureClass, voxelSetting)",
                ));
            }
        }
    }
    if interpolator_none {
        // pyradiomics resamples only when both interpolator and spacing are set.
        params.settings.resampled_pixel_spacing = None;
    }
    if let Some(classes) = classes {
        params.classes = classes;
    }
    Ok(params)
}

fn key_name(file: &str, key: &Yaml) -> Result<String, FeatureError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        other => Err(invalid(file, &format!("{other:?}"), "keys must be names")),
    }
}

fn parse_classes(file: &str, value: &Yaml) -> Result<Vec<EnabledClass>, FeatureError> {
    let Yaml::Hash(entries) = value else {
        return Err(invalid(
            file,
            "featureClass",
            "must be a mapping of feature classes",
        ));
    };
    let mut classes = Vec::new();
    for (name, features) in entries {
        let name = key_name(file, name)?;
        let family = family_by_name(&name)
            .map_err(|e| invalid(file, &format!("featureClass.{name}"), e.to_string()))?;
        let features = match features {
            Yaml::Null => None,
            Yaml::Array(list) if list.is_empty() => None,
            Yaml::Array(list) => {
                let mut names = Vec::new();
                for item in list {
                    let Yaml::String(feature) = item else {
                        return Err(invalid(
                            file,
                            &format!("featureClass.{name}"),
                            "feature names must be strings",
                        ));
                    };
                    let known = family.feature_names().contains(&feature.as_str())
                        || family.deprecated_features().contains(&feature.as_str())
                        || family.valueless_features().contains(&feature.as_str());
                    if !known {
                        return Err(invalid(
                            file,
                            &format!("featureClass.{name}.{feature}"),
                            format!(
                                "unknown feature (valid: {})",
                                family.feature_names().join(", ")
                            ),
                        ));
                    }
                    names.push(feature.clone());
                }
                Some(names)
            }
            _ => {
                return Err(invalid(
                    file,
                    &format!("featureClass.{name}"),
                    "must be empty or a list of feature names",
                ));
            }
        };
        classes.push(EnabledClass { family, features });
    }
    Ok(classes)
}

/// A number (YAML integer or real).
fn number(file: &str, key: &str, value: &Yaml) -> Result<f64, FeatureError> {
    match value {
        Yaml::Integer(i) => Ok(*i as f64),
        Yaml::Real(_) => value
            .as_f64()
            .ok_or_else(|| invalid(file, key, "is not a number")),
        _ => Err(invalid(
            file,
            key,
            format!("must be a number, got {}", describe(value)),
        )),
    }
}

fn integer(file: &str, key: &str, value: &Yaml, min: i64, max: i64) -> Result<i64, FeatureError> {
    match value {
        Yaml::Integer(i) if (min..=max).contains(i) => Ok(*i),
        Yaml::Integer(i) => Err(invalid(file, key, format!("{i} is outside {min}..={max}"))),
        _ => Err(invalid(
            file,
            key,
            format!("must be an integer, got {}", describe(value)),
        )),
    }
}

fn boolean(file: &str, key: &str, value: &Yaml) -> Result<bool, FeatureError> {
    match value {
        Yaml::Boolean(b) => Ok(*b),
        _ => Err(invalid(
            file,
            key,
            format!("must be true or false, got {}", describe(value)),
        )),
    }
}

fn positive(file: &str, key: &str, value: &Yaml) -> Result<f64, FeatureError> {
    let x = number(file, key, value)?;
    if x > 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(invalid(file, key, format!("must be positive, got {x}")))
    }
}

fn numbers(file: &str, key: &str, value: &Yaml) -> Result<Vec<f64>, FeatureError> {
    match value {
        Yaml::Array(items) => items.iter().map(|v| number(file, key, v)).collect(),
        _ => Err(invalid(
            file,
            key,
            format!("must be a list of numbers, got {}", describe(value)),
        )),
    }
}

fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Real(r) => r.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(_) => "a list".into(),
        Yaml::Hash(_) => "a mapping".into(),
        Yaml::Null => "nothing".into(),
        _ => "an unsupported value".into(),
    }
}

/// Applies one `setting` mapping (or an image type's custom settings) to `settings`.
fn apply_settings(
    file: &str,
    block: &str,
    value: &Yaml,
    settings: &mut FeatureSettings,
    interpolator_none: &mut bool,
) -> Result<(), FeatureError> {
    let entries = match value {
        Yaml::Hash(h) => h,
        Yaml::Null => return Ok(()),
        _ => return Err(invalid(file, block, "must be a mapping of settings")),
    };
    for (key, value) in entries {
        let name = key_name(file, key)?;
        let key = format!("{block}.{name}");
        let key = key.as_str();
        let null = value.is_null();
        match name.as_str() {
            "minimumROIDimensions" => {
                settings.minimum_roi_dimensions = integer(file, key, value, 1, 3)? as usize
            }
            "minimumROISize" => {
                settings.minimum_roi_size = if null {
                    None
                } else {
                    Some(integer(file, key, value, 1, i64::MAX)? as usize)
                }
            }
            "geometryTolerance" => {
                settings.geometry_tolerance = if null {
                    None
                } else {
                    Some(positive(file, key, value)?)
                }
            }
            "correctMask" => settings.correct_mask = boolean(file, key, value)?,
            "additionalInfo" | "enableCExtensions" | "preCrop" => {
                // Diagnostics, C/Python switch, pre-cropping: no effect on feature values.
                let flag = boolean(file, key, value)?;
                if name == "preCrop" {
                    settings.pre_crop = flag;
                }
            }
            "label" => settings.label = integer(file, key, value, 1, 255)? as u8,
            "label_channel" => {
                if integer(file, key, value, 0, i64::MAX)? != 0 {
                    return Err(FeatureError::Unsupported {
                        what: format!(
                            "{file}: {key}: radbench reads scalar label maps only (channel 0)"
                        ),
                    });
                }
            }
            "binWidth" => settings.bin_width = positive(file, key, value)?,
            "binCount" => {
                settings.bin_count = if null {
                    None
                } else {
                    Some(integer(file, key, value, 1, i64::MAX)? as usize)
                }
            }
            "normalize" => settings.normalize = boolean(file, key, value)?,
            "normalizeScale" => settings.normalize_scale = positive(file, key, value)?,
            "removeOutliers" => {
                settings.remove_outliers = if null {
                    None
                } else {
                    Some(positive(file, key, value)?)
                }
            }
            "resampledPixelSpacing" => {
                settings.resampled_pixel_spacing = if null {
                    None
                } else {
                    let list = numbers(file, key, value)?;
                    let [i, j, k] = list[..] else {
                        return Err(invalid(
                            file,
                            key,
                            format!("needs 3 spacings (i, j, k), got {}", list.len()),
                        ));
                    };
                    if list.iter().any(|s| *s < 0.0) {
                        return Err(invalid(file, key, "spacings must not be negative"));
                    }
                    Some([i, j, k])
                }
            }
            "interpolator" => {
                *interpolator_none = null;
                if !null {
                    settings.interpolator = match value {
                        Yaml::String(s) if s == "sitkNearestNeighbor" => {
                            Interpolator::NearestNeighbor
                        }
                        Yaml::String(s) if s == "sitkLinear" => Interpolator::Linear,
                        Yaml::String(s) if s == "sitkBSpline" => Interpolator::BSpline,
                        Yaml::Integer(1) => Interpolator::NearestNeighbor,
                        Yaml::Integer(2) => Interpolator::Linear,
                        Yaml::Integer(3) => Interpolator::BSpline,
                        other => {
                            return Err(FeatureError::Unsupported {
                                what: format!(
                                    "{file}: {key}: interpolator {} (radbench has sitkNearestNeighbor, sitkLinear, sitkBSpline)",
                                    describe(other)
                                ),
                            });
                        }
                    }
                }
            }
            "padDistance" => {
                settings.pad_distance = integer(file, key, value, 0, i64::MAX)? as usize
            }
            "distances" => {
                let list = numbers(file, key, value)?;
                if list.is_empty() || list.iter().any(|d| *d < 1.0 || d.fract() != 0.0) {
                    return Err(invalid(file, key, "needs positive whole distances"));
                }
                settings.distances = list.iter().map(|d| *d as usize).collect();
            }
            "force2D" => settings.force_2d = boolean(file, key, value)?,
            "force2Ddimension" => {
                settings.force_2d_dimension = integer(file, key, value, 0, 2)? as usize
            }
            "resegmentRange" => {
                settings.resegment_range = if null {
                    None
                } else {
                    let list = numbers(file, key, value)?;
                    if list.is_empty() || list.len() > 2 {
                        return Err(invalid(file, key, "needs one or two thresholds"));
                    }
                    Some(list)
                }
            }
            "resegmentMode" => {
                settings.resegment_mode = match value.as_str() {
                    Some("absolute") => ResegmentMode::Absolute,
                    Some("relative") => ResegmentMode::Relative,
                    Some("sigma") => ResegmentMode::Sigma,
                    _ => {
                        return Err(invalid(
                            file,
                            key,
                            format!(
                                "must be absolute, relative or sigma, got {}",
                                describe(value)
                            ),
                        ));
                    }
                }
            }
            "resegmentShape" => settings.resegment_shape = boolean(file, key, value)?,
            // Filter settings: valid pyradiomics keys that only matter for filtered image types,
            // which radbench refuses where they are enabled.
            "sigma"
            | "start_level"
            | "level"
            | "wavelet"
            | "gradientUseSpacing"
            | "lbp2DRadius"
            | "lbp2DSamples"
            | "lbp2DMethod"
            | "lbp3DLevels"
            | "lbp3DIcosphereRadius"
            | "lbp3DIcosphereSubdivision" => {}
            "voxelArrayShift" => settings.voxel_array_shift = number(file, key, value)?,
            "symmetricalGLCM" => settings.symmetrical_glcm = boolean(file, key, value)?,
            "weightingNorm" => {
                settings.weighting_norm = match value {
                    Yaml::Null => None,
                    Yaml::String(s) if s == "manhattan" => Some(WeightingNorm::Manhattan),
                    Yaml::String(s) if s == "euclidean" => Some(WeightingNorm::Euclidean),
                    Yaml::String(s) if s == "infinity" => Some(WeightingNorm::Infinity),
                    Yaml::String(s) if s == "no_weighting" => Some(WeightingNorm::NoWeighting),
                    other => {
                        return Err(invalid(
                            file,
                            key,
                            format!(
                                "must be manhattan, euclidean, infinity, no_weighting or empty, got {}",
                                describe(other)
                            ),
                        ));
                    }
                }
            }
            "gldm_a" => settings.gldm_a = integer(file, key, value, 0, u32::MAX as i64)? as u32,
            "ibsi" => settings.ibsi = boolean(file, key, value)?,
            "resegmentOutliers" => {
                settings.resegment_outliers = match value {
                    Yaml::Null => None,
                    _ => Some(number(file, key, value)?),
                }
            }
            "kernelRadius" | "maskedKernel" | "initValue" | "voxelBatch" => {
                return Err(FeatureError::Unsupported {
                    what: format!("{file}: {key}: radbench does not do voxel-based extraction"),
                });
            }
            other => {
                return Err(invalid(
                    file,
                    &format!("{block}.{other}"),
                    "unknown setting",
                ));
            }
        }
    }
    Ok(())
}

/// Extracts the features a parameter file enables, in pyradiomics' order: `shape` then
/// `shape2D` (if enabled), then the other classes in the file's order; within a class, the
/// listed features in the listed order, or all default ones.
pub fn extract_with_params(
    image: &Image,
    mask: &Mask,
    params: &Params,
) -> Result<Vec<(String, f64)>, FeatureError> {
    let shapes = params
        .classes
        .iter()
        .filter(|c| c.family.class_name().starts_with("shape"));
    let mut ordered: Vec<&EnabledClass> = Vec::new();
    for name in ["shape", "shape2D"] {
        ordered.extend(shapes.clone().filter(|c| c.family.class_name() == name));
    }
    ordered.extend(
        params
            .classes
            .iter()
            .filter(|c| !c.family.class_name().starts_with("shape")),
    );
    // shape2D on a 3-D extraction needs force2D; pyradiomics skips it otherwise (with a warning).
    let ordered: Vec<&EnabledClass> = ordered
        .into_iter()
        .filter(|c| c.family.class_name() != "shape2D" || params.settings.force_2d)
        .collect();
    let any_selected = ordered.iter().any(|c| c.features.is_some());
    let case = super::prepare_case(image, mask, &params.settings)?;
    let mut computed = Vec::with_capacity(ordered.len());
    let mut kept = Vec::with_capacity(ordered.len());
    for class in ordered {
        // pyradiomics skips shape2D (with a warning, not an error) when the region is thicker
        // than one slice along the force2D axis.
        match super::compute_on(&case, class.family, &params.settings, any_selected) {
            Ok(features) => {
                computed.push(features);
                kept.push(class);
            }
            Err(FeatureError::NotSingleSlice { .. }) if class.family.class_name() == "shape2D" => {}
            Err(e) => return Err(e),
        }
    }
    let ordered = kept;
    let mut out = Vec::new();
    for (class, features) in ordered.iter().zip(computed) {
        match &class.features {
            None => out.extend(features.into_iter().filter(|(name, _)| {
                let bare = name.rsplit('_').next().unwrap_or("");
                !class.family.deprecated_features().contains(&bare)
            })),
            Some(names) => {
                for wanted in names {
                    let full = format!("original_{}_{wanted}", class.family.class_name());
                    if let Some(found) = features.iter().find(|(name, _)| *name == full) {
                        out.push(found.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
