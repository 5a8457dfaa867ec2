//! Finished cells on disk, so an interrupted run resumes where it stopped.
//!
//! Each cell's test predictions are written atomically to
//! `<cache>/cells/<slice>/<cell key>.json`, where the slice hashes what the model's cells depend
//! on (seed, label, features, split, model settings, cohort fingerprint, radbench version); a
//! later run with the same slice reads
//! them back instead of refitting. A file that does not parse or does not match the cell's test
//! cases is ignored and the cell recomputed.

use crate::report::{ReportError, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The stored outcome of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Test case ids, in cohort order.
    pub case_ids: Vec<String>,
    /// Class probabilities for each test case (one row per case, one value per class).
    pub probabilities: Vec<Vec<f64>>,
    /// Binary analyses: the Youden-optimal threshold on the training fold's own predictions,
    /// applied to this fold's test cases (the operating point is never chosen on test data).
    /// Stored as text when not finite (Youden's J can pick pROC's −∞ end threshold), since
    /// JSON numbers cannot hold it and a `null` would read back as no threshold.
    #[serde(default, with = "threshold_text")]
    pub threshold: Option<f64>,
    /// What the fit chose (selected features, epochs, ...); `null` when nothing.
    #[serde(default)]
    pub summary: serde_json::Value,
    /// Per-patch probabilities of the test cases, for models that score patches (CNNs on
    /// slices); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<crate::models::PatchPrediction>,
    /// Test cases of a `mask = "predicted:<segmenter>"` model scored by the fallback because
    /// their predicted mask gave no features ([`super::auto_mask`]); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask_fallback: Vec<super::auto_mask::FallbackCase>,
}

/// Where one experiment version keeps its finished cells.
#[derive(Debug, Clone)]
pub struct CellCache {
    dir: PathBuf,
}

impl CellCache {
    /// The cache of model slice `slice` under `root`.
    pub fn new(root: &Path, slice: &str) -> CellCache {
        CellCache {
            dir: root.join("cells").join(slice),
        }
    }

    /// The cache of this slice further keyed on `extra` (a pretrained checkpoint's SHA-256),
    /// so a change of `extra` starts an empty slice instead of reusing stale cells.
    pub fn keyed_on(&self, extra: &str) -> CellCache {
        let slice = self
            .dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        CellCache {
            dir: self
                .dir
                .with_file_name(crate::report::content_version(&slice, extra)),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// A finished cell, if stored and consistent with `case_ids`.
    pub fn load(&self, key: &str, case_ids: &[String]) -> Option<CellResult> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let r: CellResult = serde_json::from_slice(&bytes).ok()?;
        (r.case_ids == case_ids && r.probabilities.len() == case_ids.len()).then_some(r)
    }

    /// Stores a finished cell atomically.
    pub fn store(&self, key: &str, result: &CellResult) -> Result<(), ReportError> {
        let bytes = serde_json::to_vec(result).unwrap_or_default();
        write_atomic(&self.path(key), &bytes)
    }
}

/// (De)serialises an optional threshold: finite values as JSON numbers, −∞, +∞ and NaN as
/// the strings `"-inf"`, `"inf"` and `"nan"`, so that a cached cell reads back bit for bit.
mod threshold_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            Some(t) if t.is_finite() => s.serialize_some(&Stored::Number(*t)),
            Some(t) => s.serialize_some(&Stored::Text(t.to_string().to_lowercase())),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Stored>::deserialize(d)? {
            None => Ok(None),
            Some(Stored::Number(t)) => Ok(Some(t)),
            Some(Stored::Text(text)) => text
                .parse::<f64>()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("not a threshold: {text:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CellCache::new(dir.path(), "v1");
        let ids = vec!["a".to_string(), "b".to_string()];
        let r = CellResult {
            case_ids: ids.clone(),
            probabilities: vec![vec![0.75, 0.25], vec![0.7, 0.1 + 0.2]],
            threshold: Some(0.5),
            summary: serde_json::Value::Null,
            patches: Vec::new(),
            mask_fallback: Vec::new(),
        };
        cache.store("m__r0__f0", &r).unwrap();
        assert_eq!(cache.load("m__r0__f0", &ids), Some(r));
        assert_eq!(cache.load("m__r0__f0", &ids[..1]), None);
        assert_eq!(cache.load("other", &ids), None);
    }

    #[test]
    fn keyed_slices_are_stable_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let base = CellCache::new(dir.path(), "v1");
        let (a, b) = (base.keyed_on("sha-a"), base.keyed_on("sha-b"));
        assert_eq!(a.dir, base.keyed_on("sha-a").dir);
        assert_ne!(a.dir, b.dir);
        assert_ne!(a.dir, base.dir);
        assert_eq!(a.dir.parent(), base.dir.parent());
        assert_ne!(
            a.dir,
            CellCache::new(dir.path(), "v2").keyed_on("sha-a").dir
        );
    }

    #[test]
    fn non_finite_thresholds_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CellCache::new(dir.path(), "v1");
        let ids = vec!["a".to_string()];
        for threshold in [
            Some(f64::NEG_INFINITY),
            Some(f64::INFINITY),
            None,
            Some(0.25),
        ] {
            let r = CellResult {
                case_ids: ids.clone(),
                probabilities: vec![vec![0.5, 0.5]],
                threshold,
                summary: serde_json::Value::Null,
                patches: Vec::new(),
                mask_fallback: Vec::new(),
            };
            cache.store("m", &r).unwrap();
            assert_eq!(cache.load("m", &ids).unwrap().threshold, threshold);
        }
        let nan = CellResult {
            threshold: Some(f64::NAN),
            ..cache.load("m", &ids).unwrap()
        };
        cache.store("m", &nan).unwrap();
        assert!(cache.load("m", &ids).unwrap().threshold.unwrap().is_nan());
    }
}
