//! Uncompressed NIfTI-1 header and voxels: any bytes must decode or fail with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radbench_fuzz::nifti::decode_image;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = decode_image(data, Path::new("fuzz.nii"));
});
