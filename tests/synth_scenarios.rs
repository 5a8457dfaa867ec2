//! Every built-in scenario end to end: written cohorts are byte-identical at any thread count,
//! verify, load (with their channels) and carry the documented labels; every
//! `data-manifests/synth-*.toml` names a registered scenario.

use radbench::data::Cohort;
use radbench::data::manifest::{Manifest, ManifestSource, verify};
use radbench::data::synth::{SCENARIOS, scenario_by_name, write_synthetic_cohort};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// (scenario, label, channels, has survival) as documented in docs/scenarios.md.
const EXPECTED: [(&str, &str, &[&str], bool); 6] = [
    ("ceus-cine", "response", &["bmode"], false),
    ("ich-ct", "expansion", &[], false),
    ("lesion-ct", "lesion", &[], false),
    (
        "mri-liver-3class",
        "lesion_class",
        &["dwi", "t1_arterial", "t1_portal"],
        false,
    ),
    ("spleen-ct", "decompensation", &[], true),
    ("tace-ct", "response", &[], false),
];

#[test]
fn registry_holds_the_documented_scenarios() {
    let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name()).collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    assert_eq!(names, expected);
}

#[test]
fn every_scenario_writes_identical_bytes_at_any_thread_count_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    for (name, label, channels, survival) in EXPECTED {
        let (a, b) = (
            dir.path().join(format!("{name}-a")),
            dir.path().join(format!("{name}-b")),
        );
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        pool(1)
            .install(|| write_synthetic_cohort(name, 3, 11, &a))
            .unwrap();
        pool(3)
            .install(|| write_synthetic_cohort(name, 3, 11, &b))
            .unwrap();
        let (ta, tb) = (tree(&a), tree(&b));
        assert_eq!(ta.len(), 3 * (2 + channels.len()) + 1, "{name}: files");
        assert!(ta == tb, "{name}: bytes differ between 1 and 3 threads");

        let manifest_path = a.join("manifest.toml");
        let manifest = Manifest::load(&manifest_path).unwrap();
        assert!(verify(&manifest).is_ok(), "{name}: verify");
        let cohort = Cohort::open(&manifest_path, &dir.path().join("unused-cache")).unwrap();
        for case in cohort.cases() {
            let (image, mask) = cohort.load_case(case, 1).unwrap();
            assert!(mask.count(1) > 0, "{name} {}: empty mask", case.id);
            assert!(
                case.label(label).is_some(),
                "{name} {}: no {label}",
                case.id
            );
            assert_eq!(case.time.is_some(), survival, "{name}: time");
            let names: Vec<&str> = case.channels.keys().map(String::as_str).collect();
            assert_eq!(names, channels, "{name}: channels");
            for channel in channels {
                let loaded = cohort.load_channel(case, channel, &image).unwrap();
                assert_eq!(loaded.grid.dims, image.grid.dims);
            }
        }
    }
}

#[test]
fn every_synthetic_manifest_names_a_registered_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-manifests");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = file
            .strip_prefix("synth-")
            .and_then(|f| f.strip_suffix(".toml"))
        else {
            continue;
        };
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.name, format!("synth-{stem}"));
        let ManifestSource::Synthetic { scenario, n, .. } = &manifest.source else {
            panic!("{file} is not a synthetic manifest");
        };
        // `synth-<scenario>-pretrain.toml`: a second cohort of a scenario, for pretraining.
        let (base, extra) = match stem.strip_suffix("-pretrain") {
            Some(base) => (base, true),
            None => (stem, false),
        };
        assert_eq!(scenario, base, "{file}");
        assert!(scenario_by_name(scenario).is_ok() && *n >= 100, "{file}");
        if !extra {
            seen.push(stem.to_string());
        }
    }
    seen.sort();
    let expected: Vec<String> = EXPECTED.iter().map(|e| e.0.to_string()).collect();
    assert_eq!(seen, expected, "one manifest per scenario");
}
