//! Unit tests of the three fusion strategies on a cohort whose label needs both sources: the
//! label is `a + b > 0` for two independent standard-normal latents, radiomics column `f0`
//! carries `a` (plus noise), and the lesion's intensity carries `b`. Each source alone ranks
//! cases with AUC ≈ 0.75; both together rank them almost perfectly, so a fusion that really
//! combines the sources must beat every single-source model on held-out cases.

use super::super::{CaseImages, Fitted, ModelKind, PredictData, TrainingData, cnn_model, logistic};
use super::FusionKind;
use crate::data::image::{Grid, Image, Mask};
use crate::seed::{SeededRng, rng_for};
use ndarray::Array2;
use rand::RngExt;
use std::collections::BTreeMap;

/// Standard normal draw (Box–Muller).
fn normal(rng: &mut SeededRng) -> f64 {
    let u: f64 = rng.random::<f64>().max(1e-12);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A synthetic cohort: features `f0` (signal a), `f1` (noise), one 8×8×1 image per case whose
/// 4×4 lesion has mean intensity 50 + 20·b; `classes` = 3 cuts a + b into terciles.
struct Cohort {
    x: Array2<f64>,
    y: Vec<usize>,
    names: Vec<String>,
    images: Vec<CaseImages>,
}

fn cohort(n: usize, seed: u64, classes: usize) -> Cohort {
    let mut rng = rng_for(seed, &["fusion-test"]);
    let grid = Grid::new([8, 8, 1], [1.0; 3]);
    let mut x = Array2::zeros((n, 2));
    let mut y = Vec::with_capacity(n);
    let mut images = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (normal(&mut rng), normal(&mut rng));
        x[[i, 0]] = a + 0.2 * normal(&mut rng);
        x[[i, 1]] = normal(&mut rng);
        let s = a + b;
        y.push(match classes {
            2 => usize::from(s > 0.0),
            _ => usize::from(s > -0.6) + usize::from(s > 0.6),
        });
        let mut voxels = vec![0.0; 64];
        let mut mask = vec![0u8; 64];
        for j in 2..6 {
            for k in 2..6 {
                voxels[k + 8 * j] = 50.0 + 20.0 * b + 3.0 * normal(&mut rng);
                mask[k + 8 * j] = 1;
            }
        }
        images.push(CaseImages {
            case_id: format!("c{seed}-{i}"),
            image: Image {
                grid: grid.clone(),
                voxels,
            },
            mask: Mask {
                grid: grid.clone(),
                voxels: mask,
            },
            channels: BTreeMap::new(),
        });
    }
    Cohort {
        x,
        y,
        names: vec!["f0".into(), "f1".into()],
        images,
    }
}

const CNN: &str = r#"{ input = { layout = { kind = "slices2d", k = 1 }, size = [8, 8], normalise = { kind = "window", lo = 0.0, hi = 100.0 } }, network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }, train = { epochs = 12, batch_size = 16, lr = 0.01 } }"#;

fn fit_kind(kind: &dyn ModelKind, settings: &str, c: &Cohort, seed: u64) -> Box<dyn Fitted> {
    let model = kind
        .build("m", &toml::from_str(settings).expect("toml"))
        .expect("settings");
    let images: Vec<&CaseImages> = c.images.iter().collect();
    let data = TrainingData {
        features: c.x.view(),
        feature_names: &c.names,
        labels: &c.y,
        n_classes: c.y.iter().max().unwrap() + 1,
        images: &images,
        patients: &[],
    };
    model.fit(&data, &mut rng_for(seed, &["m"])).expect("fit")
}

fn proba(fitted: &dyn Fitted, c: &Cohort) -> Array2<f64> {
    let images: Vec<&CaseImages> = c.images.iter().collect();
    fitted
        .predict_proba(&PredictData {
            features: c.x.view(),
            feature_names: &c.names,
            images: &images,
        })
        .expect("predict")
}

fn auc(fitted: &dyn Fitted, c: &Cohort) -> f64 {
    let p = proba(fitted, c);
    let scores: Vec<f64> = p.column(1).to_vec();
    let pos: Vec<bool> = c.y.iter().map(|&y| y == 1).collect();
    crate::eval::roc::auc(&scores, &pos).unwrap()
}

/// Held-out AUCs of radiomics-only logistic, image-only CNN and `fusion` (trained on 64 cases,
/// scored on 64 others); asserts the fusion beats both by a margin.
fn fusion_beats_each_source(fusion: &str) {
    let (train, test) = (cohort(64, 1, 2), cohort(64, 2, 2));
    let radiomics = fit_kind(&logistic::LogisticKind, "", &train, 3);
    let cnn_settings: toml::Table = toml::from_str(&format!("cnn = {CNN}")).unwrap();
    let cnn_text = toml::to_string(cnn_settings["cnn"].as_table().unwrap()).unwrap();
    let image = fit_kind(&cnn_model::CnnKind, &cnn_text, &train, 3);
    let fused = fit_kind(&FusionKind, fusion, &train, 3);
    let (r, i, f) = (
        auc(radiomics.as_ref(), &test),
        auc(image.as_ref(), &test),
        auc(fused.as_ref(), &test),
    );
    eprintln!("held-out AUC: radiomics {r:.3}, image {i:.3}, fused {f:.3}");
    assert!(r > 0.6 && i > 0.6, "each source carries signal: {r} {i}");
    assert!(
        f > r.max(i) + 0.05,
        "fusion {f} vs radiomics {r}, image {i}"
    );
}

#[test]
fn early_fusion_beats_each_source() {
    fusion_beats_each_source(&format!(
        "strategy = \"early\"\ncnn = {CNN}\nhead = {{ kind = \"logistic\", alpha = 1.0 }}"
    ));
}

#[test]
fn late_fusion_beats_each_member() {
    let cnn_settings: toml::Table = toml::from_str(&format!("cnn = {CNN}")).unwrap();
    let mut member = cnn_settings["cnn"].as_table().unwrap().clone();
    member.insert("id".into(), "cnn".into());
    member.insert("kind".into(), "cnn".into());
    let mut settings: toml::Table = toml::from_str(
        "strategy = \"late\"\ninner_folds = 4\n[[members]]\nid = \"rad\"\nkind = \"logistic\"",
    )
    .unwrap();
    settings
        .get_mut("members")
        .and_then(toml::Value::as_array_mut)
        .unwrap()
        .push(toml::Value::Table(member));
    fusion_beats_each_source(&toml::to_string(&settings).unwrap());
}

#[test]
fn joint_fusion_beats_each_source() {
    fusion_beats_each_source(&format!("strategy = \"joint\"\ncnn = {CNN}"));
}

#[test]
fn same_seed_same_fit_and_summaries_record_the_parts() {
    let c = cohort(24, 4, 2);
    let tiny = CNN.replace("epochs = 12", "epochs = 1");
    for settings in [
        format!("strategy = \"early\"\ncnn = {tiny}\nhead = {{ selection = {{ method = \"univariate-auc\", k = 3 }} }}"),
        format!("strategy = \"joint\"\ncnn = {tiny}\nselection = {{ method = \"univariate-auc\", k = 1 }}"),
        "strategy = \"late\"\ninner_folds = 3\nmembers = [{ id = \"lr\", kind = \"logistic\" }, { id = \"rf\", kind = \"forest\", n_trees = 10 }]".to_string(),
    ] {
        let a = fit_kind(&FusionKind, &settings, &c, 9);
        let b = fit_kind(&FusionKind, &settings, &c, 9);
        assert_eq!(proba(a.as_ref(), &c), proba(b.as_ref(), &c), "{settings}");
        assert_eq!(a.summary(), b.summary());
        let summary = a.summary();
        match summary["strategy"].as_str().unwrap() {
            "early" => {
                assert_eq!(summary["head"]["selected"].as_array().unwrap().len(), 3);
                assert!(summary["cnn"]["fingerprint"].is_string());
            }
            "joint" => {
                assert_eq!(summary["selected"], serde_json::json!(["f0"]));
                assert_eq!(summary["scaler"]["means"].as_array().unwrap().len(), 1);
            }
            _ => {
                let coef = &summary["meta"]["coefficients"];
                assert!(coef["logit_p1[lr]"].is_f64() && coef["logit_p1[rf]"].is_f64());
                assert!(summary["members"]["lr"].is_null());
            }
        }
        let other = fit_kind(&FusionKind, &settings, &c, 10);
        assert_ne!(a.summary(), other.summary(), "the seed reaches the fit");
    }
}

#[test]
fn multi_class_probabilities_sum_to_one() {
    let c = cohort(30, 5, 3);
    let tiny = CNN.replace("epochs = 12", "epochs = 1");
    for settings in [
        format!("strategy = \"early\"\ncnn = {tiny}"),
        format!("strategy = \"joint\"\ncnn = {tiny}"),
        "strategy = \"late\"\ninner_folds = 3\nmembers = [{ id = \"lr\", kind = \"logistic\" }, { id = \"rf\", kind = \"forest\", n_trees = 10 }]".to_string(),
    ] {
        let fitted = fit_kind(&FusionKind, &settings, &c, 1);
        let p = proba(fitted.as_ref(), &c);
        assert_eq!(p.ncols(), 3);
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-6, "{settings}: {row}");
        }
        if settings.contains("late") {
            assert_eq!(fitted.summary()["meta"].as_array().unwrap().len(), 3);
        }
    }
}

#[test]
fn bad_settings_name_the_key() {
    let key = |text: &str| {
        FusionKind
            .build("f", &toml::from_str(text).unwrap())
            .err()
            .and_then(|e| e.key().map(str::to_string))
    };
    assert_eq!(key("cnn = 1").as_deref(), Some("strategy"));
    assert_eq!(key("strategy = \"middle\"").as_deref(), Some("strategy"));
    assert_eq!(
        key(&format!("strategy = \"early\"\ncnn = {CNN}\nheda = {{}}")).as_deref(),
        Some("heda")
    );
    assert_eq!(
        key(&format!(
            "strategy = \"early\"\ncnn = {CNN}\nhead = {{ kind = \"cnn\" }}"
        ))
        .as_deref(),
        Some("head")
    );
    assert_eq!(
        key(&format!(
            "strategy = \"early\"\ncnn = {CNN}\nhead = {{ alhpa = 1 }}"
        ))
        .as_deref(),
        Some("alhpa")
    );
    assert_eq!(
        key("strategy = \"late\"\nmembers = [{ id = \"a\", kind = \"logistic\" }]").as_deref(),
        Some("members")
    );
    assert_eq!(
        key("strategy = \"late\"\nmembers = [{ id = \"a\", kind = \"logistic\" }, { id = \"b\", kind = \"forest\", n_tres = 3 }]").as_deref(),
        Some("n_tres")
    );
    assert_eq!(
        key("strategy = \"late\"\nmembers = [{ id = \"a\", kind = \"logistic\" }, { id = \"a\", kind = \"forest\" }]").as_deref(),
        Some("members")
    );
    assert_eq!(
        key("strategy = \"late\"\nmeta = { alpah = 1 }\nmembers = [{ id = \"a\", kind = \"logistic\" }, { id = \"b\", kind = \"forest\" }]").as_deref(),
        Some("alpah")
    );
    assert_eq!(
        key(&format!(
            "strategy = \"joint\"\ncnn = {}",
            CNN.replace("lr = 0.01", "lr = 0.01, patience = 2")
        ))
        .as_deref(),
        Some("patience")
    );
    assert!(
        key(&format!(
            "strategy = \"joint\"\ncnn = {CNN}\nselection = {{ method = \"magic\" }}"
        ))
        .is_some()
    );
}

#[test]
fn one_class_and_missing_images_are_errors() {
    let c = cohort(12, 6, 2);
    let model = FusionKind
        .build(
            "f",
            &toml::from_str(&format!("strategy = \"joint\"\ncnn = {CNN}")).unwrap(),
        )
        .unwrap();
    let fit = |labels: &[usize], images: &[&CaseImages]| {
        let data = TrainingData {
            features: c.x.view(),
            feature_names: &c.names,
            labels,
            n_classes: 2,
            images,
            patients: &[],
        };
        model
            .fit(&data, &mut rng_for(1, &["f"]))
            .err()
            .unwrap()
            .to_string()
    };
    let err = fit(&c.y, &[]);
    assert!(err.contains("0 cases with images"), "{err}");
    let images: Vec<&CaseImages> = c.images.iter().collect();
    let err = fit(&[0; 12], &images);
    assert!(err.contains("only one class"), "{err}");
}
