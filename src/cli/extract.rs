//! `radbench extract`: radiomics features of one image and mask, printed as one flat JSON object
//! (`{"diagnostics_...": "...", "original_firstorder_Mean": 825.2, ...}`, NaN as `null`) or as
//! a two-line CSV; or, with `--manifest`, of every case of a cohort, written as one CSV row per
//! case (cases in parallel, rows in manifest order).
//!
//! Principal items: [`ExtractArgs`] (the command's arguments) and [`run`]. Reference: the
//! pyradiomics command line (`pyradiomics IMAGE MASK --param YAML`, and its batch mode over a
//! CSV of cases), whose output keys and order it follows: diagnostics first, then shape, then
//! the other classes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::image::{Image, Mask};
use crate::features::params::{Params, extract_with_params, read_params};
use crate::features::{FeatureError, StoredType};

/// Output formats of `radbench extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractFormat {
    /// One flat JSON object: feature name → value (NaN as null), diagnostics as strings.
    Json,
    /// A header line of names and one line of values.
    Csv,
}

/// Arguments of `radbench extract`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// The image (NRRD `.nrrd`/`.nhdr` with attached data, or NIfTI `.nii`/`.nii.gz`).
    #[arg(
        long,
        required_unless_present = "manifest",
        conflicts_with = "manifest"
    )]
    pub image: Option<PathBuf>,
    /// The label map, on the image's grid (or on another grid with `correctMask: true`).
    #[arg(
        long,
        required_unless_present = "manifest",
        conflicts_with = "manifest"
    )]
    pub mask: Option<PathBuf>,
    /// A cohort manifest: extract every case (its files are verified first).
    #[arg(long, requires = "out")]
    pub manifest: Option<PathBuf>,
    /// The feature table of `--manifest` (`.csv`): one row per case.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where a synthetic cohort is materialised (default: `reports/.cache`).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Hide the progress bar of `--manifest`.
    #[arg(long)]
    pub quiet: bool,
    /// A pyradiomics parameter file (YAML); pyradiomics' defaults without one.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// The label of the region (overrides the parameter file's `label`).
    #[arg(long)]
    pub label: Option<u8>,
    /// IBSI definitions where they differ from pyradiomics (excess kurtosis, N−1 axis
    /// covariance, bin edges from the region's minimum).
    #[arg(long)]
    pub ibsi: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExtractFormat::Json)]
    pub format: ExtractFormat,
}

/// A volume read from disk, with what the diagnostics report about it.
struct Loaded<T> {
    volume: T,
    sha256: String,
    stored: StoredType,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, crate::Error> {
    std::fs::read(path).map_err(|source| {
        crate::data::DataError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

fn is_nrrd(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("nrrd" | "nhdr")
    )
}

fn load_image(path: &Path) -> Result<Loaded<Image>, crate::Error> {
    let bytes = read_bytes(path)?;
    let sha256 = sha256_hex(&bytes);
    if is_nrrd(path) {
        let volume =
            crate::data::nrrd::parse_nrrd(&bytes, path).map_err(crate::data::DataError::from)?;
        let stored = StoredType::from_name(volume.sample_type);
        let image = Image {
            grid: volume.grid,
            voxels: volume.voxels,
        };
        return Ok(Loaded {
            volume: image,
            sha256,
            stored,
        });
    }
    let image = crate::data::nifti::read_image(path)?;
    // NIfTI images are held as f64 after scaling; resampling keeps them floating point.
    Ok(Loaded {
        volume: image,
        sha256,
        stored: StoredType::Float,
    })
}

fn load_mask(path: &Path) -> Result<Loaded<Mask>, crate::Error> {
    let bytes = read_bytes(path)?;
    let sha256 = sha256_hex(&bytes);
    let mask = if is_nrrd(path) {
        crate::data::nrrd::parse_mask(&bytes, path).map_err(crate::data::DataError::from)?
    } else {
        crate::data::nifti::read_mask(path)?
    };
    Ok(Loaded {
        volume: mask,
        sha256,
        stored: StoredType::Float,
    })
}

fn triple(values: [f64; 3]) -> String {
    format!("({}, {}, {})", values[0], values[1], values[2])
}

/// Runs `radbench extract`: one case to stdout, or a cohort to `--out`.
pub fn run(args: &ExtractArgs) -> Result<(), crate::Error> {
    if let Some(manifest) = &args.manifest {
        let out = args
            .out
            .as_deref()
            .ok_or_else(|| usage("--manifest needs --out FILE.csv"))?;
        let rows = extract_cohort(args, manifest, out)?;
        eprintln!("wrote {rows} cases to {}", out.display());
        return Ok(());
    }
    println!("{}", render(args)?);
    Ok(())
}

fn usage(message: &str) -> crate::Error {
    FeatureError::InvalidSetting {
        key: "radbench extract".into(),
        reason: message.into(),
    }
    .into()
}

/// The parameter file (or pyradiomics' defaults) with the command-line overrides.
fn params_of(args: &ExtractArgs) -> Result<Params, crate::Error> {
    let mut params = match &args.params {
        Some(path) => read_params(path)?,
        None => Params::default(),
    };
    if let Some(label) = args.label {
        params.settings.label = label;
    }
    if args.ibsi {
        params.settings.ibsi = true;
    }
    Ok(params)
}

/// Diagnostics (name, text) and features (name, value) of one case.
type Extracted = (Vec<(String, String)>, Vec<(String, f64)>);

/// Diagnostics and features of one image/mask pair.
fn extract_pair(
    image_path: &Path,
    mask_path: &Path,
    params: &Params,
) -> Result<Extracted, crate::Error> {
    let image = load_image(image_path)?;
    let mask = load_mask(mask_path)?;
    let mut params = params.clone();
    params.settings.stored_type = image.stored;
    let features = extract_with_params(&image.volume, &mask.volume, &params)?;
    Ok((diagnostics(image_path, &image, &mask, &params), features))
}

/// Extracts every case of a cohort (in parallel; rows in manifest order) into a CSV file.
fn extract_cohort(args: &ExtractArgs, manifest: &Path, out: &Path) -> Result<usize, crate::Error> {
    use rayon::prelude::*;
    if out.extension().and_then(|e| e.to_str()) != Some("csv") {
        // Parquet would need polars' `parquet` feature, which pulls crates (polars-sql,
        // polars-stream) the offline build does not have.
        return Err(FeatureError::Unsupported {
            what: format!(
                "{}: radbench writes feature tables as .csv only (no Parquet writer is built in)",
                out.display()
            ),
        }
        .into());
    }
    let params = params_of(args)?;
    let cache = args
        .cache
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports/.cache"));
    let cohort = crate::data::cohort::Cohort::open(manifest, &cache)?;
    let cases = cohort.cases();
    let progress = if args.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(cases.len() as u64)
    };
    let results: Vec<Result<Vec<(String, f64)>, String>> = cases
        .par_iter()
        .map(|case| {
            let result = extract_pair(&case.image.path, &case.mask.path, &params)
                .map(|(_, features)| features)
                .map_err(|e| format!("case {}: {e}", case.id));
            progress.inc(1);
            result
        })
        .collect();
    progress.finish_and_clear();
    let mut rows = Vec::with_capacity(results.len());
    for (case, result) in cases.iter().zip(results) {
        let features = result.map_err(|reason| FeatureError::InvalidSetting {
            key: format!("case {}", case.id),
            reason,
        })?;
        rows.push((case.id.clone(), features));
    }
    let names: Vec<String> = rows
        .first()
        .map(|(_, f)| f.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mut text = String::from("case");
    for name in &names {
        text.push(',');
        text.push_str(&csv_field(name));
    }
    text.push('\n');
    for (id, features) in &rows {
        let same =
            features.len() == names.len() && features.iter().zip(&names).all(|((n, _), m)| n == m);
        if !same {
            return Err(usage(&format!(
                "case {id}: its features differ from the first case's"
            )));
        }
        text.push_str(&csv_field(id));
        for (_, value) in features {
            text.push(',');
            text.push_str(&if value.is_nan() {
                "nan".to_string()
            } else {
                value.to_string()
            });
        }
        text.push('\n');
    }
    std::fs::write(out, text).map_err(|source| crate::data::DataError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(rows.len())
}

/// Extracts the features of one case and returns the text [`run`] prints.
pub fn render(args: &ExtractArgs) -> Result<String, crate::Error> {
    let params = params_of(args)?;
    let (Some(image_path), Some(mask_path)) = (&args.image, &args.mask) else {
        return Err(usage("give --image and --mask, or --manifest and --out"));
    };
    let (diagnostics, features) = extract_pair(image_path, mask_path, &params)?;
    Ok(match args.format {
        ExtractFormat::Json => to_json(&diagnostics, &features),
        ExtractFormat::Csv => to_csv(&diagnostics, &features),
    })
}

/// pyradiomics-style diagnostics: versions, settings (and the definitions mode), file hashes,
/// geometry and the region's voxel count.
fn diagnostics(
    image_path: &Path,
    image: &Loaded<Image>,
    mask: &Loaded<Mask>,
    params: &Params,
) -> Vec<(String, String)> {
    let settings = &params.settings;
    let grid = &image.volume.grid;
    let voxels = mask.volume.count(settings.label);
    let classes: Vec<&str> = params
        .classes
        .iter()
        .map(|c| c.family.class_name())
        .collect();
    vec![
        (
            "diagnostics_Versions_radbench".into(),
            crate::VERSION.to_string(),
        ),
        (
            "diagnostics_Configuration_Mode".into(),
            if settings.ibsi { "ibsi" } else { "pyradiomics" }.to_string(),
        ),
        (
            "diagnostics_Configuration_Settings".into(),
            format!("{settings:?}"),
        ),
        (
            "diagnostics_Configuration_EnabledImageTypes".into(),
            "{'Original': {}}".to_string(),
        ),
        (
            "diagnostics_Configuration_EnabledClasses".into(),
            classes.join(", "),
        ),
        (
            "diagnostics_Image-original_File".into(),
            image_path.display().to_string(),
        ),
        (
            "diagnostics_Image-original_Sha256".into(),
            image.sha256.clone(),
        ),
        (
            "diagnostics_Image-original_Spacing".into(),
            triple(grid.spacing),
        ),
        (
            "diagnostics_Image-original_Size".into(),
            format!("({}, {}, {})", grid.dims[0], grid.dims[1], grid.dims[2]),
        ),
        (
            "diagnostics_Mask-original_Sha256".into(),
            mask.sha256.clone(),
        ),
        (
            "diagnostics_Mask-original_VoxelNum".into(),
            voxels.to_string(),
        ),
    ]
}

fn json_number(value: f64) -> String {
    if value.is_finite() {
        // serde_json writes the shortest representation that reads back to the same f64.
        serde_json::Number::from_f64(value).map_or_else(|| "null".to_string(), |n| n.to_string())
    } else {
        "null".to_string()
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// One flat JSON object in output order (diagnostics, then features).
pub fn to_json(diagnostics: &[(String, String)], features: &[(String, f64)]) -> String {
    let mut entries: Vec<String> = diagnostics
        .iter()
        .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
        .collect();
    entries.extend(
        features
            .iter()
            .map(|(k, v)| format!("{}: {}", json_string(k), json_number(*v))),
    );
    format!("{{{}}}", entries.join(", "))
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A header line of names and one line of values (NaN written as `nan`).
pub fn to_csv(diagnostics: &[(String, String)], features: &[(String, f64)]) -> String {
    let names: Vec<String> = diagnostics
        .iter()
        .map(|(k, _)| csv_field(k))
        .chain(features.iter().map(|(k, _)| csv_field(k)))
        .collect();
    let values: Vec<String> = diagnostics
        .iter()
        .map(|(_, v)| csv_field(v))
        .chain(features.iter().map(|(_, v)| {
            if v.is_nan() {
                "nan".to_string()
            } else {
                v.to_string()
            }
        }))
        .collect();
    format!("{}\n{}", names.join(","), values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_flat_with_null_for_nan() {
        let json = to_json(
            &[("diagnostics_Versions_radbench".into(), "0.1.0".into())],
            &[
                ("original_firstorder_Mean".into(), 825.25),
                ("original_glcm_MCC".into(), f64::NAN),
            ],
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["original_firstorder_Mean"], 825.25);
        assert!(parsed["original_glcm_MCC"].is_null());
        assert!(json.starts_with("{\"diagnostics_Versions_radbench\""));
    }

    #[test]
    fn batch_output_other_than_csv_is_refused_before_any_work() {
        let args = ExtractArgs {
            image: None,
            mask: None,
            manifest: Some(PathBuf::from("no-such-manifest.toml")),
            out: Some(PathBuf::from("features.parquet")),
            cache: None,
            quiet: true,
            params: None,
            label: None,
            ibsi: false,
            format: ExtractFormat::Csv,
        };
        let message = run(&args).unwrap_err().to_string();
        assert!(message.contains("features.parquet"), "{message}");
        assert!(message.contains(".csv only"), "{message}");
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        let csv = to_csv(&[("d".into(), "(1, 2)".into())], &[("f".into(), 1.5)]);
        assert_eq!(csv, "d,f\n\"(1, 2)\",1.5");
    }
}
