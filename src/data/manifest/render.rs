//! Writing file manifests as TOML, and the canonical form behind [`super::Manifest::fingerprint`].

use super::{CaseEntry, FileRef, ManifestSource};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The TOML text of a file manifest, in the layout of `docs/manifest.md`.
///
/// Paths are written as [`FileRef::relative`]; the output depends only on the arguments, so
/// equal cohorts give equal bytes.
pub fn render_files_manifest(name: &str, description: Option<&str>, cases: &[CaseEntry]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored below for that reason.
    let _ = writeln!(out, "[cohort]\nname = {}", quote(name));
    if let Some(description) = description {
        let _ = writeln!(out, "description = {}", quote(description));
    }
    for case in cases {
        let _ = writeln!(out, "\n[[case]]");
        let _ = writeln!(out, "id = {}", quote(&case.id));
        let _ = writeln!(out, "patient = {}", quote(&case.patient));
        let _ = writeln!(out, "site = {}", quote(&case.site));
        let labels: Vec<String> = case
            .labels
            .iter()
            .map(|(k, v)| format!("{} = {v}", key(k)))
            .collect();
        let _ = writeln!(out, "labels = {{ {} }}", labels.join(", "));
        if let (Some(time), Some(event)) = (case.time, case.event) {
            let _ = writeln!(out, "time = {time:?}\nevent = {event}");
        }
        if let Some(split) = &case.split {
            let _ = writeln!(out, "split = {}", quote(split));
        }
        let _ = writeln!(out, "image = {}", file(&case.image));
        let _ = writeln!(out, "mask = {}", file(&case.mask));
        if !case.channels.is_empty() {
            let channels: Vec<String> = case
                .channels
                .iter()
                .map(|(k, f)| format!("{} = {}", key(k), file(f)))
                .collect();
            let _ = writeln!(out, "channels = {{ {} }}", channels.join(", "));
        }
    }
    out
}

fn file(f: &FileRef) -> String {
    format!(
        "{{ path = {}, sha256 = {} }}",
        quote(&f.relative),
        quote(&f.sha256)
    )
}

/// A bare key when TOML allows one, else a quoted key.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { k.to_string() } else { quote(k) }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Canonical form of one case: everything that can change a result, no paths.
#[derive(Serialize)]
struct CanonicalCase<'a> {
    id: &'a str,
    patient: &'a str,
    site: &'a str,
    labels: &'a BTreeMap<String, i64>,
    time: Option<f64>,
    event: Option<bool>,
    image: &'a str,
    mask: &'a str,
    channels: BTreeMap<&'a str, &'a str>,
    /// Absent for cohorts without a predefined split, so their fingerprints are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<&'a str>,
}

/// Canonical form of a manifest source, serialised as JSON (stable key order) and hashed.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Canonical<'a> {
    Files {
        version: u32,
        cases: Vec<CanonicalCase<'a>>,
    },
    Synthetic {
        version: u32,
        scenario: &'a str,
        n: usize,
        seed: u64,
    },
    MedMnist {
        version: u32,
        npz: &'a str,
        label: &'a str,
        spacing: [f64; 3],
        limit: &'a BTreeMap<String, usize>,
    },
}

/// SHA-256 over the canonical JSON of `source` (see [`super::Manifest::fingerprint`]).
pub(super) fn fingerprint(source: &ManifestSource) -> String {
    let canonical = match source {
        ManifestSource::Files(cases) => Canonical::Files {
            version: 1,
            cases: cases
                .iter()
                .map(|c| CanonicalCase {
                    id: &c.id,
                    patient: &c.patient,
                    site: &c.site,
                    labels: &c.labels,
                    time: c.time,
                    event: c.event,
                    image: &c.image.sha256,
                    mask: &c.mask.sha256,
                    channels: c
                        .channels
                        .iter()
                        .map(|(k, f)| (k.as_str(), f.sha256.as_str()))
                        .collect(),
                    split: c.split.as_deref(),
                })
                .collect(),
        },
        ManifestSource::Synthetic { scenario, n, seed } => Canonical::Synthetic {
            version: 1,
            scenario,
            n: *n,
            seed: *seed,
        },
        ManifestSource::MedMnist(m) => Canonical::MedMnist {
            version: 1,
            npz: &m.file.sha256,
            label: &m.label,
            spacing: m.spacing,
            limit: &m.limit,
        },
    };
    // Serialising plain strings, integers and finite floats to JSON cannot fail.
    let json = serde_json::to_vec(&canonical).unwrap_or_default();
    super::sha256_bytes(&json)
}
