//! Transfer learning against a torchvision-named checkpoint written by
//! `tests/fixtures/make_resnet_fixture.py` (numpy only; names by hand, logits from an
//! independent numpy forward pass of torchvision's ResNet-18 definition).

use candle_core::{Device, Tensor};
use radbench::models::cnn::layers::ClassifierNet;
use radbench::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth};
use radbench::models::cnn::store::seeded_varmap;
use radbench::models::cnn::transfer::{
    ChannelAdapt, LoadOptions, load_checkpoint, read_checkpoint,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tiny_config(in_channels: usize, classes: usize, width: usize) -> ResNetConfig {
    let mut cfg = ResNetConfig::torchvision(ResNetDepth::R18, in_channels, classes);
    cfg.base_width = width;
    cfg
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs().unwrap().max_all().unwrap().to_scalar().unwrap()
}

#[test]
fn torchvision_checkpoint_loads_strictly_and_reproduces_numpy_logits() {
    let (map, vb) = seeded_varmap(1);
    let net = ResNet::new(&tiny_config(3, 10, 4), None, vb).unwrap();
    let options = LoadOptions {
        strict: true,
        ..Default::default()
    };
    let report = load_checkpoint(&map, &fixture("resnet18_tiny.safetensors"), &options).unwrap();
    assert_eq!(report.loaded.len(), 102, "{report:?}");
    assert_eq!(report.ignored.len(), 20);
    assert!(
        report
            .ignored
            .iter()
            .all(|n| n.ends_with("num_batches_tracked"))
    );
    assert!(report.missing.is_empty() && report.unexpected.is_empty() && report.skipped.is_empty());
    let expected = read_checkpoint(&fixture("resnet18_tiny_expected.safetensors")).unwrap();
    let logits = net.forward_t(&expected["input"], false).unwrap();
    let reference = &expected["logits"];
    let err = max_abs(&(&logits - reference).unwrap()) / max_abs(reference);
    // f32 against the numpy float64 reference, relative to the largest logit.
    assert!(err < 1e-5, "relative error {err}");
}

#[test]
fn new_head_and_grey_input_adaptation() {
    let (map, vb) = seeded_varmap(2);
    let grey = ResNet::new(&tiny_config(1, 2, 4), None, vb).unwrap();
    let options = LoadOptions {
        strict: true,
        skip: vec!["fc.".into()],
        first_conv: Some(("conv1.weight".into(), ChannelAdapt::Sum)),
    };
    let report = load_checkpoint(&map, &fixture("resnet18_tiny.safetensors"), &options).unwrap();
    assert_eq!(
        report.skipped,
        vec!["fc.bias".to_string(), "fc.weight".to_string()]
    );
    assert_eq!(report.adapted, vec!["conv1.weight".to_string()]);
    // Skipped tensors are neither missing nor unexpected, so a strict load still succeeds.
    assert!(report.unexpected.is_empty() && report.missing.is_empty());

    // The adapted 1-channel network sees a grey image as the 3-channel one sees it repeated.
    let (map3, vb3) = seeded_varmap(3);
    let rgb = ResNet::new(&tiny_config(3, 10, 4), None, vb3).unwrap();
    load_checkpoint(
        &map3,
        &fixture("resnet18_tiny.safetensors"),
        &LoadOptions::default(),
    )
    .unwrap();
    let x = read_checkpoint(&fixture("resnet18_tiny_expected.safetensors")).unwrap()["input"]
        .narrow(1, 0, 1)
        .unwrap();
    let f1 = grey.features_t(&x, false).unwrap();
    let f3 = rgb
        .features_t(&x.repeat((1, 3, 1, 1)).unwrap(), false)
        .unwrap();
    let err = max_abs(&(&f1 - &f3).unwrap()) / max_abs(&f3);
    assert!(err < 1e-5, "relative error {err}");
}

#[test]
fn wrong_shapes_and_missing_tensors_are_named() {
    // Width 8 against a width-4 checkpoint: every convolution mismatches; the error names them.
    let (map, vb) = seeded_varmap(4);
    ResNet::new(&tiny_config(3, 10, 8), None, vb).unwrap();
    let err = load_checkpoint(
        &map,
        &fixture("resnet18_tiny.safetensors"),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("conv1.weight (network [8, 3, 7, 7], checkpoint [4, 3, 7, 7])"),
        "{err}"
    );

    // A checkpoint lacking one tensor: strict fails naming it, partial reports it.
    let mut tensors: HashMap<String, Tensor> =
        read_checkpoint(&fixture("resnet18_tiny.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    tensors.remove("layer3.1.bn2.running_var");
    tensors.insert(
        "extra.weight".into(),
        Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partial.safetensors");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let (map, vb) = seeded_varmap(5);
    ResNet::new(&tiny_config(3, 10, 4), None, vb).unwrap();
    let strict = LoadOptions {
        strict: true,
        ..Default::default()
    };
    let err = load_checkpoint(&map, &path, &strict)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing [layer3.1.bn2.running_var]"), "{err}");
    assert!(err.contains("unexpected [extra.weight]"), "{err}");
    let report = load_checkpoint(&map, &path, &LoadOptions::default()).unwrap();
    assert_eq!(report.missing, vec!["layer3.1.bn2.running_var".to_string()]);
    assert_eq!(report.unexpected, vec!["extra.weight".to_string()]);
    assert_eq!(report.loaded.len(), 101);

    let err = load_checkpoint(&map, &dir.path().join("absent.safetensors"), &strict).unwrap_err();
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
}
