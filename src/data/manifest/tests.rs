//! Unit tests of manifest parsing, verification and fingerprints.

use super::*;

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn case_toml(id: &str) -> String {
    format!(
        "\n[[case]]\nid = \"{id}\"\npatient = \"p-{id}\"\nsite = \"A\"\nlabels = {{ lesion = 1 }}\n\
         image = {{ path = \"images/{id}.nii.gz\", sha256 = \"{SHA_A}\" }}\n\
         mask = {{ path = \"masks/{id}.nii.gz\", sha256 = \"{SHA_A}\" }}\n"
    )
}

fn parse(text: &str) -> Result<Manifest, DataError> {
    Manifest::parse(text, Path::new("cohorts/m.toml"))
}

fn error_of(text: &str) -> (usize, String) {
    match parse(text) {
        Err(DataError::Manifest { line, message, .. }) => (line, message),
        other => panic!("expected a manifest error, got {other:?}"),
    }
}

#[test]
fn file_manifest_parses_and_resolves_paths() {
    let text = format!(
        "[cohort]\nname = \"demo\"\ndescription = \"two cases\"\n{}{}",
        case_toml("c1"),
        case_toml("c2")
    );
    let m = parse(&text).unwrap();
    assert_eq!(m.name, "demo");
    assert_eq!(m.description.as_deref(), Some("two cases"));
    let cases = m.cases();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].id, "c1");
    assert_eq!(cases[0].label("lesion"), Some(1));
    assert_eq!(cases[1].image.path, Path::new("cohorts/images/c2.nii.gz"));
    assert_eq!(cases[1].image.relative, "images/c2.nii.gz");
    assert_eq!(cases[0].time, None);
}

#[test]
fn survival_fields_and_channels_are_read() {
    let text = format!(
        "[cohort]\nname = \"s\"\n{}time = 12.5\nevent = true\n\
         channels = {{ dwi = {{ path = \"dwi/c1.nii.gz\", sha256 = \"{}\" }} }}\n",
        case_toml("c1"),
        SHA_A.to_uppercase()
    );
    let m = parse(&text).unwrap();
    let case = &m.cases()[0];
    assert_eq!((case.time, case.event), (Some(12.5), Some(true)));
    assert_eq!(case.channels["dwi"].sha256, SHA_A, "hashes are lowercased");
    assert_eq!(case.files().len(), 3);
}

#[test]
fn unknown_key_names_line_and_valid_keys() {
    let text = format!(
        "[cohort]\nname = \"x\"\n{}colour = \"red\"\n",
        case_toml("c1")
    );
    let (line, message) = error_of(&text);
    assert_eq!(line, 11, "{message}");
    assert!(message.contains("unknown field `colour`"), "{message}");
    assert!(
        message.contains("`patient`") && message.contains("`channels`"),
        "{message}"
    );
    let (line, message) =
        error_of("[synthetic]\nscenario = \"lesion-ct\"\nn = 5\nseed = 1\nsed = 2\n");
    assert_eq!(line, 5);
    assert!(message.contains("unknown field `sed`"), "{message}");
    let err = parse("[cohort]\nname = \"x\"\nfoo = 1\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cohorts/m.toml:3: unknown field `foo`"),
        "{err}"
    );
}

#[test]
fn duplicate_ids_are_errors_with_both_lines() {
    let text = format!(
        "[cohort]\nname = \"x\"\n{}{}",
        case_toml("c1"),
        case_toml("c1")
    );
    let (line, message) = error_of(&text);
    assert_eq!(line, 13);
    assert!(
        message.contains("duplicate case id `c1` (first used on line 5)"),
        "{message}"
    );
}

#[test]
fn invalid_values_are_rejected_with_their_line() {
    let bad_sha = format!("[cohort]\nname = \"x\"\n{}", case_toml("c1")).replacen(SHA_A, "abc", 1);
    let (line, message) = error_of(&bad_sha);
    assert_eq!(line, 9);
    assert!(message.contains("64 hex digits"), "{message}");
    let half_survival = format!("[cohort]\nname = \"x\"\n{}time = 3.0\n", case_toml("c1"));
    assert!(
        error_of(&half_survival)
            .1
            .contains("`time` and `event` together")
    );
    let no_cohort = case_toml("c1");
    assert!(error_of(&no_cohort).1.contains("[cohort]"));
    let (line, message) = error_of("[synthetic]\nscenario = \"nope\"\nn = 5\nseed = 1\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("valid scenarios: ") && message.contains("lesion-ct"),
        "{message}"
    );
    assert!(
        error_of("[synthetic]\nscenario = \"lesion-ct\"\nn = 0\nseed = 1\n")
            .1
            .contains("n is 0")
    );
    assert_eq!(error_of("").0, 1);
    let both = format!(
        "[synthetic]\nscenario = \"lesion-ct\"\nn = 5\nseed = 1\n{}",
        case_toml("c1")
    );
    assert!(error_of(&both).1.contains("not both"));
    let (line, _) = error_of("[cohort]\nname = \"x\"\n[[case]]\nid = \"a\"\n");
    assert_eq!(line, 3, "a case missing required keys points at its table");
}

#[test]
fn synthetic_manifest_gets_a_default_name() {
    let m = parse("[synthetic]\nscenario = \"lesion-ct\"\nn = 160\nseed = 20240501\n").unwrap();
    assert_eq!(m.name, "lesion-ct-n160-s20240501");
    assert_eq!(
        m.source,
        ManifestSource::Synthetic {
            scenario: "lesion-ct".into(),
            n: 160,
            seed: 20240501
        }
    );
    assert!(m.cases().is_empty());
    assert!(verify(&m).is_ok());
}

#[test]
fn fingerprint_ignores_paths_and_names_but_not_content() {
    let base = format!("[cohort]\nname = \"x\"\n{}", case_toml("c1"));
    let f = parse(&base).unwrap().fingerprint();
    assert_eq!(f.len(), 64);
    let moved = base
        .replace("images/", "elsewhere/")
        .replace("name = \"x\"", "name = \"y\"");
    assert_eq!(parse(&moved).unwrap().fingerprint(), f);
    let relabelled = base.replace("lesion = 1", "lesion = 0");
    assert_ne!(parse(&relabelled).unwrap().fingerprint(), f);
    let rehashed = base.replacen(SHA_A, &SHA_A.replace('a', "b"), 1);
    assert_ne!(parse(&rehashed).unwrap().fingerprint(), f);
}

#[test]
fn rendered_manifest_parses_back_to_the_same_cases() {
    let text = format!(
        "[cohort]\nname = \"round \\\"trip\\\"\"\n{}time = 0.5\nevent = false\n{}",
        case_toml("c1"),
        case_toml("c 2")
    );
    let m = parse(&text).unwrap();
    let rendered = render_files_manifest(&m.name, Some("d"), m.cases());
    let back = parse(&rendered).unwrap();
    assert_eq!(back.cases(), m.cases());
    assert_eq!(back.name, m.name);
    assert_eq!(back.fingerprint(), m.fingerprint());
}

#[test]
fn verify_lists_every_missing_and_mismatching_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("images")).unwrap();
    std::fs::create_dir_all(dir.path().join("masks")).unwrap();
    std::fs::write(dir.path().join("images/c1.nii.gz"), b"image one").unwrap();
    std::fs::write(dir.path().join("masks/c1.nii.gz"), b"mask one").unwrap();
    let image_sha = sha256_file(&dir.path().join("images/c1.nii.gz")).unwrap();
    assert_eq!(image_sha, sha256_bytes(b"image one"));
    let text = format!(
        "[cohort]\nname = \"x\"\n{}{}",
        case_toml("c1"),
        case_toml("c2")
    )
    .replacen(SHA_A, &image_sha, 1);
    let path = dir.path().join("m.toml");
    std::fs::write(&path, text).unwrap();
    let m = Manifest::load(&path).unwrap();
    let report = verify(&m);
    assert_eq!(report.checked, 4);
    assert!(!report.is_ok());
    // c1's image verifies; c1's mask mismatches; both files of c2 are missing.
    assert_eq!(report.problems.len(), 3);
    let lines: Vec<String> = report.to_string().lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("masks/c1.nii.gz (case c1, mask): SHA-256 mismatch: expected aaaa"));
    assert!(lines[0].contains(&format!("found {}", sha256_bytes(b"mask one"))));
    assert!(
        lines[1].contains("images/c2.nii.gz (case c2, image): missing"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("masks/c2.nii.gz (case c2, mask): missing"));
    let err = report.into_result().unwrap_err().to_string();
    assert!(err.contains("3 file(s) fail verification"), "{err}");
}

#[test]
fn sha256_of_known_input() {
    assert_eq!(
        sha256_bytes(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
