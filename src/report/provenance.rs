//! The provenance block: what a report was computed from, as hashes a reader can re-derive.
//!
//! Everything here is a function of the inputs (experiment file, manifest, cohort, split), never
//! of the machine: the thread count, host and build commit go to `run.json` instead, so that the
//! committed reference report does not change with every commit.

use crate::data::split::Folds;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a report was computed from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Provenance {
    /// The radbench version that wrote the report.
    pub radbench_version: String,
    /// SHA-256 of the experiment file's bytes.
    pub experiment_sha256: String,
    /// SHA-256 of the canonical (validated) experiment, which enters the report version.
    pub experiment_canonical_sha256: String,
    /// Each manifest the cohort was read from, with the SHA-256 of its bytes.
    pub manifests: Vec<ManifestHash>,
    /// The cohort fingerprint (case list and every file hash).
    pub cohort_fingerprint: String,
    /// SHA-256 of the case → part assignment of every part of every repeat.
    pub split_assignment_sha256: String,
    /// Radiomics definitions: `IBSI` or `pyradiomics`.
    pub feature_settings_mode: String,
    /// How random streams were derived from the seed.
    pub seed_derivation: String,
    /// Where the build commit and timings are (they vary by machine, so they are not here).
    pub run_details: String,
    /// Networks the run pretrained on another cohort before the cells (left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pretrained: Vec<PretrainedNetwork>,
}

/// A model's network pretrained on another cohort, and how its checkpoint loaded for
/// fine-tuning.
#[derive(Debug, Clone, Serialize)]
pub struct PretrainedNetwork {
    /// The fine-tuned model's id.
    pub model: String,
    /// The pretraining cohort's manifest path as written in the experiment.
    pub cohort: String,
    /// SHA-256 of that manifest's bytes.
    pub manifest_sha256: String,
    /// The pretraining cohort's fingerprint.
    pub cohort_fingerprint: String,
    /// The pretraining label.
    pub label: String,
    /// Its values, in class order.
    pub classes: Vec<i64>,
    /// Number of pretraining cases.
    pub cases: usize,
    /// Pretraining epochs.
    pub epochs: usize,
    /// The random stream's path (derived from the experiment seed).
    pub seed_path: Vec<String>,
    /// SHA-256 of the checkpoint file's bytes.
    pub checkpoint_sha256: String,
    /// What loading the checkpoint into the fine-tuned network did.
    pub load: LoadCounts,
}

/// Numbers of tensors in each outcome of a checkpoint load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoadCounts {
    /// Set from the checkpoint.
    pub loaded: usize,
    /// Kept fresh because a `skip` prefix matched.
    pub skipped: usize,
    /// Absent from the checkpoint (kept fresh).
    pub missing: usize,
    /// In the checkpoint but not in the network.
    pub unexpected: usize,
}

/// One manifest file and its hash.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestHash {
    /// The path as written in the experiment.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 over one line `repeat<TAB>case id<TAB>part name<TAB>side` per case and part, in
/// repeat, part and cohort order (`side` is `train` or `test`), so any change of who is tested
/// or trained where changes the hash.
pub fn split_assignment_hash(folds: &[Folds], case_ids: &[String]) -> String {
    let mut h = Sha256::new();
    for (r, split) in folds.iter().enumerate() {
        for f in 0..split.k() {
            for (side, indices) in [
                ("train", split.train_indices(f)),
                ("test", split.test_indices(f)),
            ] {
                for &i in indices {
                    let id = case_ids.get(i).map_or("?", String::as_str);
                    h.update(format!("{r}\t{id}\t{}\t{side}\n", split.name(f)).as_bytes());
                }
            }
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Provenance {
    /// (label, value) rows shown in report.md and report.html, in display order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("radbench version", self.radbench_version.clone()),
            ("experiment file SHA-256", self.experiment_sha256.clone()),
            (
                "canonical experiment SHA-256",
                self.experiment_canonical_sha256.clone(),
            ),
        ];
        for m in &self.manifests {
            rows.push(("manifest", format!("{} (SHA-256 {})", m.path, m.sha256)));
        }
        rows.extend([
            ("cohort fingerprint", self.cohort_fingerprint.clone()),
            (
                "split assignment SHA-256",
                self.split_assignment_sha256.clone(),
            ),
            ("feature definitions", self.feature_settings_mode.clone()),
            ("seed derivation", self.seed_derivation.clone()),
            ("build commit and timings", self.run_details.clone()),
        ]);
        for p in &self.pretrained {
            rows.push((
                "pretrained network",
                format!(
                    "{}: pretrained on {} (manifest SHA-256 {}, cohort fingerprint {}, {} cases, \
                     label {} with classes {:?}, {} epochs, stream {:?}); checkpoint SHA-256 {}; \
                     fine-tuning load: {} loaded, {} skipped, {} missing, {} unexpected",
                    p.model,
                    p.cohort,
                    p.manifest_sha256,
                    p.cohort_fingerprint,
                    p.cases,
                    p.label,
                    p.classes,
                    p.epochs,
                    p.seed_path,
                    p.checkpoint_sha256,
                    p.load.loaded,
                    p.load.skipped,
                    p.load.missing,
                    p.load.unexpected,
                ),
            ));
        }
        rows
    }
}

/// The sentence that points from the report to `run.json`.
pub const RUN_DETAILS: &str = "run.json (next to this report) holds the build's git commit, the \
host, the thread count, timings and per-model inference latency; they vary by machine, so they \
are kept out of this byte-reproducible report.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::split::stratified_group_kfold;

    #[test]
    fn split_hash_changes_with_the_assignment() {
        let ids: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
        let patients: Vec<&str> = ids.iter().map(String::as_str).collect();
        let labels: Vec<usize> = (0..12).map(|i| i % 2).collect();
        let split = |seed| {
            let mut rng = crate::seed::rng_for(seed, &["split", "0"]);
            vec![stratified_group_kfold(&patients, &labels, 3, &mut rng).unwrap()]
        };
        let a = split_assignment_hash(&split(1), &ids);
        assert_eq!(a, split_assignment_hash(&split(1), &ids));
        assert_eq!(a.len(), 64);
        assert_ne!(a, split_assignment_hash(&split(2), &ids));
    }
}
