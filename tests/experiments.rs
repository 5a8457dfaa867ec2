//! Every experiment file in `experiments/` is valid: known keys, known model kinds, settings
//! each kind accepts, an existing manifest.

#[test]
fn every_experiment_file_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for file in files {
        let exp = radbench::spec::Experiment::load(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            exp.manifest_path.is_file(),
            "{}: manifest {} is missing",
            file.display(),
            exp.manifest_path.display()
        );
        for model in &exp.models {
            radbench::models::build(model).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        // Pretraining cohorts (`pretrained = { cohort = ... }`) must name readable manifests.
        radbench::runner::pretrain::plan_pretraining(&exp, &file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}
