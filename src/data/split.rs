//! Splitting a cohort into training and test parts, always grouped by patient.
//!
//! Three designs, each giving a [`Folds`] (one or more named parts, each a training and a test
//! set of case indices):
//! - [`stratified_group_kfold`]: k folds stratified by class. Patients are stratified by their
//!   class (a patient with cases of several classes counts in the highest), shuffled with a
//!   seeded stream, then each is placed in the fold that holds the fewest cases of its class so
//!   far (ties: the lowest fold), which keeps class counts per fold within one patient's cases.
//! - [`stratified_group_holdout`]: one stratified test part of a given fraction (repeated with
//!   different streams, this is repeated hold-out).
//! - [`by_site`]: train on some sites, test on each other site separately (external validation).
//!
//! All cases of a patient are on the same side of every part, so no patient is ever in both
//! the training and the test set of a cell.

use super::DataError;
use crate::seed::SeededRng;
use rand::RngExt;
use std::collections::{BTreeMap, BTreeSet};

/// One training/test part of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Name shown in reports (`fold 0`, `site B`, `hold-out`).
    pub name: String,
    /// Training case indices, ascending.
    pub train: Vec<usize>,
    /// Test case indices, ascending.
    pub test: Vec<usize>,
    /// Validation case indices, ascending: held out of fitting for model selection, early
    /// stopping and the threshold choice (a [`predefined`] split; empty otherwise).
    pub val: Vec<usize>,
}

/// The parts of one split (one repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    parts: Vec<Part>,
}

impl Folds {
    /// Number of parts (folds).
    pub fn k(&self) -> usize {
        self.parts.len()
    }

    /// Name of part `fold`.
    pub fn name(&self, fold: usize) -> &str {
        &self.parts[fold].name
    }

    /// Test case indices of part `fold`, ascending.
    pub fn test_indices(&self, fold: usize) -> &[usize] {
        &self.parts[fold].test
    }

    /// Training case indices of part `fold`, ascending.
    pub fn train_indices(&self, fold: usize) -> &[usize] {
        &self.parts[fold].train
    }

    /// Validation case indices of part `fold`, ascending (empty unless the split is predefined).
    pub fn val_indices(&self, fold: usize) -> &[usize] {
        &self.parts[fold].val
    }

    /// For k-fold splits: the fold of each case (`None` for cases in no test part).
    pub fn fold_of_case(&self, n: usize) -> Vec<Option<usize>> {
        let mut out = vec![None; n];
        for (f, part) in self.parts.iter().enumerate() {
            for &i in &part.test {
                out[i] = Some(f);
            }
        }
        out
    }
}

/// Shuffles in place with the Fisher–Yates algorithm, drawing from `rng`.
pub fn shuffle<T>(items: &mut [T], rng: &mut SeededRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Case indices of each patient, and the patients of each class (shuffled).
type PatientGroups<'a> = (BTreeMap<&'a str, Vec<usize>>, Vec<Vec<&'a str>>);

/// Cases per patient and patients per class (shuffled), the common first step.
fn patients_by_class<'a>(
    patients: &[&'a str],
    classes: &[usize],
    rng: &mut SeededRng,
) -> Result<PatientGroups<'a>, DataError> {
    if patients.len() != classes.len() {
        return Err(DataError::Split(format!(
            "{} patients for {} labels",
            patients.len(),
            classes.len()
        )));
    }
    // BTreeMap: patient order must not depend on hashing.
    let mut cases_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in patients.iter().enumerate() {
        cases_of.entry(p).or_default().push(i);
    }
    let n_classes = classes.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<&str>> = vec![Vec::new(); n_classes];
    for (p, cases) in &cases_of {
        let class = cases.iter().map(|&i| classes[i]).max().unwrap_or(0);
        by_class[class].push(p);
    }
    for members in by_class.iter_mut() {
        shuffle(members, rng);
    }
    Ok((cases_of, by_class))
}

fn complement(n: usize, test: &[usize]) -> Vec<usize> {
    let test: BTreeSet<usize> = test.iter().copied().collect();
    (0..n).filter(|i| !test.contains(i)).collect()
}

/// Stratified k-fold grouped by patient. `patients[i]` and `classes[i]` (a class index)
/// belong to case i.
pub fn stratified_group_kfold(
    patients: &[&str],
    classes: &[usize],
    k: usize,
    rng: &mut SeededRng,
) -> Result<Folds, DataError> {
    if k < 2 {
        return Err(DataError::Split(format!(
            "{k} folds; at least 2 are needed"
        )));
    }
    let (cases_of, by_class) = patients_by_class(patients, classes, rng)?;
    for (class, members) in by_class.iter().enumerate() {
        if members.len() < k {
            return Err(DataError::Split(format!(
                "{} patient(s) of class {class} for {k} folds: every fold needs at least one of each class",
                members.len()
            )));
        }
    }
    let mut tests: Vec<Vec<usize>> = vec![Vec::new(); k];
    for members in &by_class {
        let mut load = vec![0usize; k];
        for p in members {
            let fold = (0..k).min_by_key(|&f| (load[f], f)).unwrap_or(0);
            tests[fold].extend(&cases_of[p]);
            load[fold] += cases_of[p].len();
        }
    }
    let n = classes.len();
    Ok(Folds {
        parts: tests
            .into_iter()
            .enumerate()
            .map(|(f, mut test)| {
                test.sort_unstable();
                Part {
                    name: format!("fold {f}"),
                    train: complement(n, &test),
                    test,
                    val: Vec::new(),
                }
            })
            .collect(),
    })
}

/// One stratified hold-out part grouped by patient: round(`test_fraction` × patients) of each
/// class (at least one, leaving at least one for training) go to the test set.
pub fn stratified_group_holdout(
    patients: &[&str],
    classes: &[usize],
    test_fraction: f64,
    rng: &mut SeededRng,
) -> Result<Folds, DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::Split(format!(
            "test fraction {test_fraction} is not in (0, 1)"
        )));
    }
    let (cases_of, by_class) = patients_by_class(patients, classes, rng)?;
    let mut test = Vec::new();
    for (class, members) in by_class.iter().enumerate() {
        if members.len() < 2 {
            return Err(DataError::Split(format!(
                "{} patient(s) of class {class}: a hold-out split needs at least 2",
                members.len()
            )));
        }
        let m =
            ((members.len() as f64 * test_fraction).round() as usize).clamp(1, members.len() - 1);
        for p in &members[..m] {
            test.extend(&cases_of[p]);
        }
    }
    test.sort_unstable();
    Ok(Folds {
        parts: vec![Part {
            name: "hold-out".into(),
            train: complement(classes.len(), &test),
            test,
            val: Vec::new(),
        }],
    })
}

/// Train on the cases of `train_sites`, test on each of `test_sites` separately. A patient
/// seen at a training site and at a test site is an error (it would leak).
pub fn by_site(
    sites: &[&str],
    patients: &[&str],
    train_sites: &[String],
    test_sites: &[String],
) -> Result<Folds, DataError> {
    let train: Vec<usize> = (0..sites.len())
        .filter(|&i| train_sites.iter().any(|s| s == sites[i]))
        .collect();
    if train.is_empty() {
        return Err(DataError::Split(format!(
            "no case at the training site(s) {}",
            train_sites.join(", ")
        )));
    }
    let train_patients: BTreeSet<&str> = train.iter().map(|&i| patients[i]).collect();
    let mut parts = Vec::new();
    for site in test_sites {
        let test: Vec<usize> = (0..sites.len()).filter(|&i| sites[i] == site).collect();
        if test.is_empty() {
            return Err(DataError::Split(format!("no case at the test site {site}")));
        }
        if let Some(&i) = test.iter().find(|&&i| train_patients.contains(patients[i])) {
            return Err(DataError::Split(format!(
                "patient {} has cases at a training site and at test site {site}",
                patients[i]
            )));
        }
        parts.push(Part {
            name: format!("site {site}"),
            train: train.clone(),
            test,
            val: Vec::new(),
        });
    }
    Ok(Folds { parts })
}

/// The split a cohort comes with (MedMNIST's official one, say): cases marked `train` are
/// fitted on, `val` ones choose the model (early stopping, threshold), and `test` ones are
/// touched once, in one part named `test`. `splits[i]` is case i's mark; a case without one,
/// an unknown mark, or a patient on two sides is an error naming the case.
pub fn predefined(
    case_ids: &[&str],
    patients: &[&str],
    splits: &[Option<&str>],
) -> Result<Folds, DataError> {
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let mut side_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, split) in splits.iter().enumerate() {
        let side = match split {
            Some(s @ ("train" | "val" | "test")) => *s,
            Some(other) => {
                return Err(DataError::Split(format!(
                    "case {}: split {other:?} is not one of \"train\", \"val\", \"test\"",
                    case_ids[i]
                )));
            }
            None => {
                return Err(DataError::Split(format!(
                    "case {}: a predefined split needs `split = \"train\"|\"val\"|\"test\"` on every case",
                    case_ids[i]
                )));
            }
        };
        if let Some(&seen) = side_of.get(patients[i])
            && seen != side
        {
            return Err(DataError::Split(format!(
                "case {}: patient {} is in both the {seen} and the {side} split",
                case_ids[i], patients[i]
            )));
        }
        side_of.insert(patients[i], side);
        match side {
            "train" => train.push(i),
            "val" => val.push(i),
            _ => test.push(i),
        }
    }
    if train.is_empty() || test.is_empty() {
        return Err(DataError::Split(format!(
            "a predefined split needs train and test cases; found {} train, {} val, {} test",
            train.len(),
            val.len(),
            test.len()
        )));
    }
    Ok(Folds {
        parts: vec![Part {
            name: "test".into(),
            train,
            test,
            val,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn cohort() -> (Vec<String>, Vec<usize>) {
        // 50 patients, some with two cases; 30% positive.
        let mut patients = Vec::new();
        let mut labels = Vec::new();
        for p in 0..50 {
            let n = if p % 5 == 0 { 2 } else { 1 };
            for _ in 0..n {
                patients.push(format!("p{p}"));
                labels.push(usize::from(p % 10 < 3));
            }
        }
        (patients, labels)
    }

    fn no_patient_straddles(folds: &Folds, patients: &[&str]) {
        for f in 0..folds.k() {
            let train: BTreeSet<&str> = folds
                .train_indices(f)
                .iter()
                .map(|&i| patients[i])
                .collect();
            assert!(
                folds
                    .test_indices(f)
                    .iter()
                    .all(|&i| !train.contains(patients[i]))
            );
        }
    }

    #[test]
    fn kfold_groups_patients_and_balances_classes() {
        let (patients, labels) = cohort();
        let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
        let folds = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        no_patient_straddles(&folds, &refs);
        assert!(folds.fold_of_case(labels.len()).iter().all(Option::is_some));
        for f in 0..5 {
            let test = folds.test_indices(f);
            let pos = test.iter().filter(|&&i| labels[i] == 1).count();
            assert!((3..=5).contains(&pos), "fold {f}: {pos} positives");
            assert_eq!(test.len() + folds.train_indices(f).len(), labels.len());
        }
    }

    #[test]
    fn same_seed_same_folds_other_seed_other_folds() {
        let (patients, labels) = cohort();
        let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
        let a = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        let b = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        let c = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(4, &["split"])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn too_few_of_a_class_is_an_error() {
        let patients = ["a", "b", "c", "d"];
        let labels = [1, 0, 0, 0];
        let e = stratified_group_kfold(&patients, &labels, 2, &mut rng_for(1, &[])).unwrap_err();
        assert!(e.to_string().contains("1 patient(s) of class 1"), "{e}");
    }

    #[test]
    fn holdout_takes_the_fraction_of_each_class() {
        let (patients, labels) = cohort();
        let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
        let h = stratified_group_holdout(&refs, &labels, 0.2, &mut rng_for(1, &[])).unwrap();
        assert_eq!(h.k(), 1);
        no_patient_straddles(&h, &refs);
        let test_patients: BTreeSet<&str> = h.test_indices(0).iter().map(|&i| refs[i]).collect();
        assert_eq!(test_patients.len(), 10); // 20% of 35 negatives (7) and of 15 positives (3)
        assert!(stratified_group_holdout(&refs, &labels, 1.0, &mut rng_for(1, &[])).is_err());
    }

    #[test]
    fn by_site_trains_on_one_and_tests_on_each_other() {
        let sites = ["A", "A", "B", "C", "B"];
        let patients = ["p1", "p2", "p3", "p4", "p5"];
        let f = by_site(&sites, &patients, &["A".into()], &["B".into(), "C".into()]).unwrap();
        assert_eq!(f.k(), 2);
        assert_eq!(f.name(0), "site B");
        assert_eq!(f.train_indices(1), [0, 1]);
        assert_eq!(f.test_indices(0), [2, 4]);
        let leaky = ["p1", "p2", "p1", "p4", "p5"];
        let e = by_site(&sites, &leaky, &["A".into()], &["B".into()]).unwrap_err();
        assert!(e.to_string().contains("p1"), "{e}");
        assert!(by_site(&sites, &patients, &["Z".into()], &["B".into()]).is_err());
    }

    #[test]
    fn predefined_keeps_the_given_sides_and_rejects_gaps() {
        let ids = ["a", "b", "c", "d", "e"];
        let splits = [
            Some("train"),
            Some("test"),
            Some("val"),
            Some("train"),
            Some("test"),
        ];
        let f = predefined(&ids, &ids, &splits).unwrap();
        assert_eq!(f.k(), 1);
        assert_eq!(f.name(0), "test");
        assert_eq!(f.train_indices(0), [0, 3]);
        assert_eq!(f.val_indices(0), [2]);
        assert_eq!(f.test_indices(0), [1, 4]);
        let missing = [
            Some("train"),
            None,
            Some("val"),
            Some("train"),
            Some("test"),
        ];
        let e = predefined(&ids, &ids, &missing).unwrap_err().to_string();
        assert!(e.contains("case b"), "{e}");
        let odd = [
            Some("train"),
            Some("dev"),
            Some("val"),
            Some("train"),
            Some("test"),
        ];
        assert!(
            predefined(&ids, &ids, &odd)
                .unwrap_err()
                .to_string()
                .contains("dev")
        );
        let leaky = ["p", "p", "q", "r", "s"];
        let e = predefined(&ids, &leaky, &splits).unwrap_err().to_string();
        assert!(e.contains("patient p"), "{e}");
        let no_test = [Some("train"); 5];
        assert!(predefined(&ids, &ids, &no_test).is_err());
    }
}
