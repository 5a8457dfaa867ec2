//! NRRD header and samples: any bytes must parse or fail with an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radbench_fuzz::nrrd::{parse_mask, parse_nrrd};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.nrrd");
    let _ = parse_nrrd(data, path);
    let _ = parse_mask(data, path);
});
