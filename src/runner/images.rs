//! Loading every case's pixels for the models that look at images.

use super::progress::progress_bar;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::models::CaseImages;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Loads image, mask and every extra channel of each case, in cohort order. The cohort has
/// already verified every file's hash; grids and empty masks are checked here.
pub fn load_images(cohort: &Cohort, label: u8, progress: bool) -> Result<Vec<CaseImages>, Error> {
    let cases = cohort.cases();
    let bar = progress_bar(progress, cases.len() as u64, "images");
    let loaded = cases
        .par_iter()
        .map(|case| {
            let (image, mask) = cohort.load_case(case, label)?;
            let mut channels = BTreeMap::new();
            for name in case.channels.keys() {
                channels.insert(name.clone(), cohort.load_channel(case, name, &image)?);
            }
            bar.inc(1);
            Ok(CaseImages {
                case_id: case.id.clone(),
                image,
                mask,
                channels,
            })
        })
        .collect::<Result<Vec<_>, Error>>();
    bar.finish_and_clear();
    loaded
}
