//! NRRD data section: decompression (zlib-rs fast path, flate2 for several gzip members and for
//! errors), text samples, and conversion of raw samples to f64 intensities or u8 labels.

use std::io::Read;
use std::path::Path;

use super::NrrdError;
use super::header::{Encoding, Header, SampleType};

/// Decoded data: numbers from a text encoding, or the raw sample bytes.
pub(super) enum Samples<'a> {
    Text(Vec<f64>),
    Bytes(std::borrow::Cow<'a, [u8]>),
}

/// Converts raw samples to f64 with one tight loop per sample type.
pub(super) fn samples_to_f64(raw: &[u8], sample_type: SampleType, big_endian: bool) -> Vec<f64> {
    let width = sample_type.bytes();
    macro_rules! convert {
        ($t:ty, $n:expr) => {
            raw.chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().unwrap_or([0; $n]);
                    (if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f64
                })
                .collect()
        };
    }
    match sample_type {
        SampleType::I8 => raw.iter().map(|&b| f64::from(b as i8)).collect(),
        SampleType::U8 => raw.iter().map(|&b| f64::from(b)).collect(),
        SampleType::I16 => convert!(i16, 2),
        SampleType::U16 => convert!(u16, 2),
        SampleType::I32 => convert!(i32, 4),
        SampleType::U32 => convert!(u32, 4),
        SampleType::F32 => convert!(f32, 4),
        _ => raw
            .chunks_exact(width)
            .map(|c| sample_type.decode(c, big_endian))
            .collect(),
    }
}

/// Converts raw samples to labels 0..=255, rejecting anything else.
pub(super) fn samples_to_labels(
    raw: &[u8],
    sample_type: SampleType,
    big_endian: bool,
    path: &Path,
) -> Result<Vec<u8>, NrrdError> {
    if sample_type == SampleType::U8 {
        return Ok(raw.to_vec());
    }
    macro_rules! convert {
        ($t:ty, $n:expr) => {
            raw.chunks_exact($n)
                .enumerate()
                .map(|(index, c)| {
                    let a: [u8; $n] = c.try_into().unwrap_or([0; $n]);
                    let v = if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    };
                    u8::try_from(v).map_err(|_| NrrdError::MaskValue {
                        path: path.to_path_buf(),
                        index,
                        value: v as f64,
                    })
                })
                .collect()
        };
    }
    match sample_type {
        SampleType::I8 => convert!(i8, 1),
        SampleType::I16 => convert!(i16, 2),
        SampleType::U16 => convert!(u16, 2),
        SampleType::I32 => convert!(i32, 4),
        SampleType::U32 => convert!(u32, 4),
        SampleType::I64 => convert!(i64, 8),
        SampleType::U64 => convert!(u64, 8),
        _ => samples_to_f64(raw, sample_type, big_endian)
            .iter()
            .enumerate()
            .map(|(index, &value)| label_of(value, index, path))
            .collect(),
    }
}

pub(super) fn label_of(value: f64, index: usize, path: &Path) -> Result<u8, NrrdError> {
    if (0.0..=255.0).contains(&value) && value.fract() == 0.0 {
        Ok(value as u8)
    } else {
        Err(NrrdError::MaskValue {
            path: path.to_path_buf(),
            index,
            value,
        })
    }
}

pub(super) fn decode_data<'a>(
    header: &Header,
    data: &'a [u8],
    voxel_count: usize,
    path: &Path,
) -> Result<Samples<'a>, NrrdError> {
    let data_error = |reason: String| NrrdError::Data {
        path: path.to_path_buf(),
        reason,
    };
    let width = header.sample_type.bytes();
    let expected = voxel_count
        .checked_mul(width)
        .ok_or_else(|| data_error("size overflows".into()))?;
    let decoded: std::borrow::Cow<[u8]> = match header.encoding {
        Encoding::Ascii => {
            let text =
                std::str::from_utf8(data).map_err(|_| data_error("is not ASCII text".into()))?;
            let values = text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<f64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| data_error(format!("has a value that is not a number ({e})")))?;
            if values.len() != voxel_count {
                return Err(data_error(format!(
                    "has {} values, the header promises {voxel_count}",
                    values.len()
                )));
            }
            return Ok(Samples::Text(values));
        }
        Encoding::Raw => std::borrow::Cow::Borrowed(data),
        Encoding::Gzip => {
            // Read at most one byte past the promised size: enough to tell "too long" apart.
            // Reserve no more than deflate's largest ratio (1032:1) allows, so a hostile size
            // field cannot make us allocate what the stream cannot hold.
            if let Some(out) = inflate_exact(data, expected) {
                return Ok(Samples::Bytes(std::borrow::Cow::Owned(out)));
            }
            let reserve = (expected + 1).min(data.len().saturating_mul(1032) + 64);
            let mut out = Vec::with_capacity(reserve);
            flate2::read::MultiGzDecoder::new(data)
                .take(expected as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| data_error(format!("does not decompress: {e}")))?;
            std::borrow::Cow::Owned(out)
        }
    };
    if decoded.len() != expected {
        return Err(data_error(format!(
            "has {} bytes, the header promises {expected} ({voxel_count} × {width})",
            decoded.len()
        )));
    }
    Ok(Samples::Bytes(decoded))
}

/// Fast path: inflates a single-member gzip stream of exactly `expected` bytes with zlib-rs.
/// `None` for anything else (several members, a length mismatch, corrupt data), which the
/// flate2 path then reads or reports with its error.
fn inflate_exact(data: &[u8], expected: usize) -> Option<Vec<u8>> {
    // Deflate cannot expand more than 1032:1; a larger promise is left to the checked path.
    if expected == 0 || expected > data.len().saturating_mul(1032) + 64 {
        return None;
    }
    let mut out = vec![0u8; expected];
    let gzip = zlib_rs::InflateConfig {
        window_bits: 16 + 15,
    };
    let (written, code) = zlib_rs::decompress_slice(&mut out, data, gzip);
    (code == zlib_rs::ReturnCode::Ok && written.len() == expected).then_some(out)
}
