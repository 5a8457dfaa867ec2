//! `[operating_point]`: a binary reading of a multi-class analysis (e.g. malignant vs benign,
//! source paper 3) at each training fold's Youden threshold, beside a simulated reader.
//!
//! ```toml
//! [operating_point]
//! name = "malignant vs benign"
//! positive_classes = ["primary malignant", "metastatic"]
//! reader = { name = "radiologist (simulated)", sensitivity = 0.85, specificity = 0.80 }
//! ```
//!
//! A model's score is the summed probability of the positive classes; each training fold's
//! own predictions give the Youden threshold applied to its test cases. The reader model calls
//! a truly positive case positive with probability `sensitivity` and a truly negative one
//! negative with probability `specificity`, independently per case, from the stream
//! `["reader", case id]`: a noisy reading of the true class with stated accuracy.

use serde::{Deserialize, Serialize};

/// `[operating_point]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperatingPoint {
    /// Name of the binary reading.
    pub name: String,
    /// Class names (of `[data] classes`) that count as positive.
    pub positive_classes: toml::Spanned<Vec<String>>,
    /// A simulated reader to compare with.
    #[serde(default)]
    pub reader: Option<ReaderModel>,
}

/// A simulated reader: a noisy reading of the true class with stated accuracy.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReaderModel {
    /// Name shown in the report (default `simulated reader`).
    #[serde(default = "default_reader")]
    pub name: String,
    /// Probability of calling a truly positive case positive.
    pub sensitivity: f64,
    /// Probability of calling a truly negative case negative.
    pub specificity: f64,
}

fn default_reader() -> String {
    "simulated reader".into()
}

/// The validated `[operating_point]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPointSpec {
    /// Name of the binary reading.
    pub name: String,
    /// Class indices that count as positive.
    pub positive: Vec<usize>,
    /// The simulated reader.
    pub reader: Option<ReaderModel>,
}

/// Checks `[operating_point]` against the classes; an error carries the byte offset of the
/// faulty value and the message.
pub fn validate(
    raw: Option<&RawOperatingPoint>,
    classes: &[String],
    multiclass: bool,
) -> Result<Option<OperatingPointSpec>, (usize, String)> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at = raw.positive_classes.span().start;
    if !multiclass {
        return Err((
            at,
            "`[operating_point]` needs a multi-class label (`[data] classes`); a binary \
             analysis already reports its operating point"
                .into(),
        ));
    }
    let mut positive = Vec::new();
    for name in raw.positive_classes.get_ref() {
        let i = classes.iter().position(|c| c == name).ok_or_else(|| {
            (
                at,
                format!(
                    "key `operating_point.positive_classes`: no class {name:?} in `[data] classes`"
                ),
            )
        })?;
        positive.push(i);
    }
    positive.sort_unstable();
    positive.dedup();
    if positive.is_empty() || positive.len() == classes.len() {
        return Err((
            at,
            "key `operating_point.positive_classes` must name some but not all classes".into(),
        ));
    }
    if let Some(r) = &raw.reader
        && !((0.0..=1.0).contains(&r.sensitivity) && (0.0..=1.0).contains(&r.specificity))
    {
        return Err((
            at,
            "key `operating_point.reader`: sensitivity and specificity must lie in [0, 1]".into(),
        ));
    }
    Ok(Some(OperatingPointSpec {
        name: raw.name.clone(),
        positive,
        reader: raw.reader.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(src: &str) -> RawOperatingPoint {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn classes_are_checked_and_indexed() {
        let classes: Vec<String> = ["benign", "primary", "metastatic"]
            .map(String::from)
            .to_vec();
        let ok = raw("name = \"m\"\npositive_classes = [\"metastatic\", \"primary\"]");
        let spec = validate(Some(&ok), &classes, true).unwrap().unwrap();
        assert_eq!(spec.positive, vec![1, 2]);
        assert!(validate(Some(&ok), &classes, false).is_err());
        let unknown = raw("name = \"m\"\npositive_classes = [\"malignant\"]");
        let (_, msg) = validate(Some(&unknown), &classes, true).unwrap_err();
        assert!(msg.contains("malignant"), "{msg}");
        let all = raw("name = \"m\"\npositive_classes = [\"benign\", \"primary\", \"metastatic\"]");
        assert!(validate(Some(&all), &classes, true).is_err());
        let bad_reader = raw(
            "name = \"m\"\npositive_classes = [\"primary\"]\nreader = { sensitivity = 1.2, specificity = 0.5 }",
        );
        assert!(validate(Some(&bad_reader), &classes, true).is_err());
        assert_eq!(validate(None, &classes, true).unwrap(), None);
    }
}
