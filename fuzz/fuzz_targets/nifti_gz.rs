//! gzip-compressed NIfTI-1: the input is compressed first, so the fuzzer mutates the
//! decompressed header and voxels while the reader takes its gzip path; a second call feeds
//! the raw input to the gzip decoder as it is (corrupt streams).
#![no_main]

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use radbench_fuzz::nifti::decode_image;
use std::io::Write;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.nii.gz");
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    if encoder.write_all(data).is_ok()
        && let Ok(compressed) = encoder.finish()
    {
        let _ = decode_image(&compressed, path);
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        let _ = decode_image(data, path);
    }
});
