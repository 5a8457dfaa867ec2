//! Unit tests of the parameter-file reader.
use super::*;

#[test]
fn example_params_file_parses() {
    let text = "setting:\n  binWidth: 25\n  label: 1\n  interpolator: 'sitkBSpline'\n  resampledPixelSpacing:\n  weightingNorm:\nimageType:\n  Original: {}\nfeatureClass:\n  shape:\n  firstorder: []\n  glcm:\n    - 'Autocorrelation'\n    - 'JointAverage'\n  glrlm:\n";
    let p = parse_params(text, "Params.yaml").unwrap();
    assert_eq!(p.settings.bin_width, 25.0);
    assert_eq!(p.settings.resampled_pixel_spacing, None);
    let names: Vec<&str> = p.classes.iter().map(|c| c.family.class_name()).collect();
    assert_eq!(names, vec!["shape", "firstorder", "glcm", "glrlm"]);
    assert_eq!(
        p.classes[2].features.as_deref(),
        Some(&["Autocorrelation".to_string(), "JointAverage".to_string()][..])
    );
    assert!(p.classes[1].features.is_none());
}

#[test]
fn multi_line_flow_list_and_deprecated_names() {
    let text = "featureClass:\n  shape: [MeshVolume, Compactness1,\n          Flatness]\n  glcm: [SumVariance]\n";
    let p = parse_params(text, "p.yaml").unwrap();
    assert_eq!(p.classes[0].features.as_ref().unwrap().len(), 3);
}

#[test]
fn errors_name_the_key() {
    let e = parse_params("setting:\n  binWidht: 25\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p.yaml") && e.contains("setting.binWidht"),
        "{e}"
    );
    let e = parse_params("imageType:\n  LoG:\n    sigma: [1.0]\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("LoG") && e.contains("no filters"), "{e}");
    let e = parse_params("featureClass:\n  glcm: [Contrastt]\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("featureClass.glcm.Contrastt"), "{e}");
    let e = parse_params("featureClass:\n  glcmm:\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("glcmm"), "{e}");
    let e = parse_params("settings:\n  label: 1\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("settings"), "{e}");
    assert!(parse_params("setting:\n  label: 300\n", "p.yaml").is_err());
    assert!(parse_params("setting:\n  binWidth: -1\n", "p.yaml").is_err());
    assert!(parse_params("voxelSetting:\n  kernelRadius: 1\n", "p.yaml").is_err());
    assert!(parse_params("setting: [unclosed\n", "p.yaml").is_err());
}

#[test]
fn shipped_parameter_files_parse() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/params");
    for name in ["pyradiomics-default.yaml", "ct-1mm.yaml", "ibsi.yaml"] {
        let p = read_params(&folder.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.classes.len(), 7, "{name}");
    }
}

#[test]
fn interpolator_none_disables_resampling() {
    let text = "setting:\n  resampledPixelSpacing: [2, 2, 2]\n  interpolator:\n";
    assert_eq!(
        parse_params(text, "p")
            .unwrap()
            .settings
            .resampled_pixel_spacing,
        None
    );
    let text = "setting:\n  resampledPixelSpacing: [2, 2, 0]\n";
    assert_eq!(
        parse_params(text, "p")
            .unwrap()
            .settings
            .resampled_pixel_spacing,
        Some([2.0, 2.0, 0.0])
    );
}
