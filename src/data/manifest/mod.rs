//! Cohort manifests: which files make a cohort, their SHA-256, and each case's labels.
//!
//! Principal types: [`Manifest`] (loaded from TOML by [`Manifest::load`]), its
//! [`ManifestSource`] (a list of [`CaseEntry`] or a built-in synthetic scenario), [`FileRef`]
//! (a path plus its expected SHA-256) and [`VerifyReport`] (from [`verify`]). The format is
//! documented in `docs/manifest.md`; in short:
//!
//! ```toml
//! [cohort]
//! name = "my-cohort"
//! description = "optional text"
//!
//! [[case]]
//! id = "case-0001"
//! patient = "p0001"
//! site = "A"
//! labels = { lesion = 1 }
//! time = 12.5          # optional survival time (months), together with `event`
//! event = true
//! image = { path = "images/case-0001.nii.gz", sha256 = "…64 hex digits…" }
//! mask = { path = "masks/case-0001.nii.gz", sha256 = "…" }
//! channels = { dwi = { path = "dwi/case-0001.nii.gz", sha256 = "…" } }   # optional
//! ```
//!
//! or a built-in synthetic cohort, materialised on demand by [`crate::data::Cohort::open`]:
//!
//! ```toml
//! [synthetic]
//! scenario = "lesion-ct"
//! n = 160
//! seed = 20240501
//! ```
//!
//! Paths are relative to the manifest file. Unknown keys are errors that name the line and list
//! the valid keys; duplicate case ids are errors. Reference: SHA-256 is FIPS 180-4.

mod medmnist;
mod render;
mod verify;

pub use medmnist::{DATA_ROOT_ENV, MedMnistSource};
pub use render::render_files_manifest;
pub use verify::{FileProblem, ProblemKind, VerifyReport, sha256_bytes, sha256_file, verify};

use super::DataError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A parsed and validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The manifest file, as given to [`Manifest::load`].
    pub path: PathBuf,
    /// The cohort name (`[cohort] name`), or `<scenario>-n<n>-s<seed>` for a synthetic one.
    pub name: String,
    /// Free text from `[cohort] description`.
    pub description: Option<String>,
    /// The cases, or the synthetic scenario that generates them.
    pub source: ManifestSource,
}

/// Where a manifest's cases come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestSource {
    /// Files listed case by case, in manifest order.
    Files(Vec<CaseEntry>),
    /// A built-in synthetic scenario (see [`crate::data::synth`]).
    Synthetic {
        /// Registered scenario name.
        scenario: String,
        /// Number of cases.
        n: usize,
        /// Generation seed.
        seed: u64,
    },
    /// A MedMNIST 3-D `.npz` file, materialised on demand as one case per sample
    /// (see [`crate::data::medmnist`]).
    MedMnist(MedMnistSource),
}

/// One case of a file cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEntry {
    /// Unique case id.
    pub id: String,
    /// Patient id; cases of one patient stay in one fold.
    pub patient: String,
    /// Acquisition site.
    pub site: String,
    /// Integer class labels by name (`lesion = 1`).
    pub labels: BTreeMap<String, i64>,
    /// Survival or follow-up time (months), when known.
    pub time: Option<f64>,
    /// Whether the survival event happened (false: censored at `time`).
    pub event: Option<bool>,
    /// The image file.
    pub image: FileRef,
    /// The mask file.
    pub mask: FileRef,
    /// Extra image channels by name (e.g. `dwi`), on the image's grid.
    pub channels: BTreeMap<String, FileRef>,
    /// The predefined split the case belongs to (`train`, `val` or `test`), when the cohort
    /// comes with one (a `kind = "predefined"` split uses it).
    pub split: Option<String>,
}

impl CaseEntry {
    /// The value of label `name`, if the case has it.
    pub fn label(&self, name: &str) -> Option<i64> {
        self.labels.get(name).copied()
    }

    /// Every file of the case with its role (`image`, `mask`, `channel <name>`), in a fixed order.
    pub fn files(&self) -> Vec<(String, &FileRef)> {
        let mut files = vec![
            ("image".to_string(), &self.image),
            ("mask".to_string(), &self.mask),
        ];
        for (name, file) in &self.channels {
            files.push((format!("channel {name}"), file));
        }
        files
    }
}

/// A file of a cohort and the SHA-256 it must have.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    /// The path resolved against the manifest's folder.
    pub path: PathBuf,
    /// The path as written in the manifest.
    pub relative: String,
    /// Expected SHA-256, lowercase hex.
    pub sha256: String,
}

/// The keys of a manifest file, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    cohort: Option<Spanned<RawCohort>>,
    #[serde(default)]
    case: Vec<Spanned<RawCase>>,
    synthetic: Option<Spanned<RawSynthetic>>,
    medmnist: Option<Spanned<medmnist::RawMedMnist>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCohort {
    name: Spanned<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSynthetic {
    scenario: Spanned<String>,
    n: Spanned<i64>,
    seed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: Spanned<String>,
    patient: Spanned<String>,
    site: Spanned<String>,
    #[serde(default)]
    labels: BTreeMap<String, i64>,
    time: Option<Spanned<f64>>,
    event: Option<bool>,
    image: RawFile,
    mask: RawFile,
    #[serde(default)]
    channels: BTreeMap<String, RawFile>,
    split: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
    sha256: Spanned<String>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        Manifest::parse(&text, path)
    }

    /// Parses manifest `text`; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, DataError> {
        let ctx = Context { text, path };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ctx.error(offset, e.message().trim_end().to_string())
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let (name, description) = match &raw.cohort {
            Some(cohort) => {
                let name = &cohort.get_ref().name;
                if name.get_ref().trim().is_empty() {
                    return Err(ctx.error(name.span().start, "empty cohort name".into()));
                }
                let description = cohort.get_ref().description.clone();
                (Some(name.get_ref().trim().to_string()), description)
            }
            None => (None, None),
        };
        if let Some(medmnist) = &raw.medmnist {
            if let Some(other) = raw
                .synthetic
                .as_ref()
                .map(Spanned::span)
                .or_else(|| raw.case.first().map(Spanned::span))
            {
                return Err(ctx.error(
                    other.start,
                    "a manifest has one of [medmnist], [synthetic] or [[case]] entries".into(),
                ));
            }
            let Some(name) = name else {
                return Err(ctx.error(
                    medmnist.span().start,
                    "[medmnist] needs a [cohort] table with a name".into(),
                ));
            };
            return Ok(Manifest {
                path: path.to_path_buf(),
                name,
                description,
                source: ManifestSource::MedMnist(medmnist::source(medmnist, base, &ctx)?),
            });
        }
        let (name, source) = match (&raw.synthetic, raw.case.first()) {
            (Some(_), Some(first)) => {
                return Err(ctx.error(
                    first.span().start,
                    "a manifest has either [synthetic] or [[case]] entries, not both".into(),
                ));
            }
            (Some(synthetic), None) => {
                let source = synthetic_source(synthetic.get_ref(), &ctx)?;
                let name = match (name, &source) {
                    (Some(name), _) => name,
                    (None, ManifestSource::Synthetic { scenario, n, seed }) => {
                        format!("{scenario}-n{n}-s{seed}")
                    }
                    (None, ManifestSource::Files(_) | ManifestSource::MedMnist(_)) => String::new(),
                };
                (name, source)
            }
            (None, None) => {
                return Err(ctx.error(
                    0,
                    "no cases: a manifest needs [cohort] with [[case]] entries, or [synthetic]"
                        .into(),
                ));
            }
            (None, Some(first)) => {
                let Some(name) = name else {
                    return Err(ctx.error(
                        first.span().start,
                        "[[case]] entries need a [cohort] table with a name".into(),
                    ));
                };
                (name, ManifestSource::Files(cases(&raw.case, base, &ctx)?))
            }
        };
        Ok(Manifest {
            path: path.to_path_buf(),
            name,
            description,
            source,
        })
    }

    /// The cases of a file manifest; empty for a synthetic one.
    pub fn cases(&self) -> &[CaseEntry] {
        match &self.source {
            ManifestSource::Files(cases) => cases,
            ManifestSource::Synthetic { .. } | ManifestSource::MedMnist(_) => &[],
        }
    }

    /// SHA-256 (lowercase hex) over the canonical case list: ids, patients, sites, labels,
    /// survival data and every file's expected hash, in manifest order. File paths, the cohort
    /// name and the description do not enter, so moving a cohort keeps its fingerprint. For a
    /// synthetic manifest it covers the scenario, `n` and `seed`; the materialised cohort
    /// ([`crate::data::Cohort::fingerprint`]) covers the generated bytes.
    pub fn fingerprint(&self) -> String {
        render::fingerprint(&self.source)
    }
}

/// The manifest text and file, for errors that name a line.
struct Context<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Context<'_> {
    /// 1-based line of byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// A [`DataError::Manifest`] at the line of byte `offset`.
    fn error(&self, offset: usize, message: String) -> DataError {
        DataError::Manifest {
            path: self.path.to_path_buf(),
            line: self.line(offset),
            message,
        }
    }
}

fn synthetic_source(raw: &RawSynthetic, ctx: &Context) -> Result<ManifestSource, DataError> {
    let scenario = raw.scenario.get_ref().clone();
    if let Err(e) = super::synth::scenario_by_name(&scenario) {
        return Err(ctx.error(raw.scenario.span().start, e.to_string()));
    }
    let n = *raw.n.get_ref();
    if n < 1 {
        return Err(ctx.error(raw.n.span().start, format!("n is {n}, must be at least 1")));
    }
    Ok(ManifestSource::Synthetic {
        scenario,
        n: n as usize,
        seed: raw.seed,
    })
}

fn cases(
    raw: &[Spanned<RawCase>],
    base: &Path,
    ctx: &Context,
) -> Result<Vec<CaseEntry>, DataError> {
    let at = |offset: usize, message: String| ctx.error(offset, message);
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for spanned in raw {
        let case = spanned.get_ref();
        let id = case.id.get_ref().as_str();
        let non_empty = |field: &Spanned<String>, what: &str| {
            let value = field.get_ref().trim();
            if value.is_empty() || value.chars().any(char::is_control) {
                Err(at(
                    field.span().start,
                    format!("{what} must be non-empty text"),
                ))
            } else {
                Ok(value.to_string())
            }
        };
        let id_clean = non_empty(&case.id, "case id")?;
        if let Some(&first) = first_seen.get(&id_clean) {
            return Err(at(
                case.id.span().start,
                format!(
                    "duplicate case id `{id}` (first used on line {})",
                    ctx.line(first)
                ),
            ));
        }
        first_seen.insert(id_clean.clone(), case.id.span().start);
        let patient = non_empty(&case.patient, "patient")?;
        let site = non_empty(&case.site, "site")?;
        let time = match (&case.time, case.event) {
            (Some(t), Some(_)) => {
                let value = *t.get_ref();
                if !(value.is_finite() && value >= 0.0) {
                    return Err(at(
                        t.span().start,
                        format!("time {value} must be finite and >= 0"),
                    ));
                }
                Some(value)
            }
            (None, None) => None,
            _ => {
                return Err(at(
                    spanned.span().start,
                    format!("case `{id}`: give `time` and `event` together, or neither"),
                ));
            }
        };
        let file = |raw: &RawFile| -> Result<FileRef, DataError> {
            let sha = raw.sha256.get_ref().trim().to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(at(
                    raw.sha256.span().start,
                    format!(
                        "case `{id}`: sha256 must be 64 hex digits, got {:?}",
                        raw.sha256.get_ref()
                    ),
                ));
            }
            Ok(FileRef {
                path: base.join(&raw.path),
                relative: raw.path.clone(),
                sha256: sha,
            })
        };
        let split = match &case.split {
            Some(split) => Some(non_empty(split, "split")?),
            None => None,
        };
        let mut channels = BTreeMap::new();
        for (name, raw_file) in &case.channels {
            channels.insert(name.clone(), file(raw_file)?);
        }
        out.push(CaseEntry {
            id: id_clean,
            patient,
            site,
            labels: case.labels.clone(),
            time,
            event: case.event,
            image: file(&case.image)?,
            mask: file(&case.mask)?,
            channels,
            split,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
