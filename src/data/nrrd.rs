//! NRRD image reading (the format of pyradiomics' test cases).
//!
//! Principal items: [`read_nrrd`] (any supported volume → [`NrrdVolume`]), [`read_image`] and
//! [`read_mask`] (→ [`Image`] / [`Mask`] on an LPS [`Grid`]), [`NrrdError`].
//!
//! Reference: the NRRD format specification (teem.sourceforge.net/nrrd/format.html) and ITK's
//! `NrrdImageIO`, which SimpleITK (and so pyradiomics) uses: spacing is the norm of each
//! `space directions` vector, direction the unit vector, and RAS/LAS spaces are turned into LPS
//! by negating the flipped axes. Supported: dimension 2 or 3, attached data, encodings `raw`,
//! `gzip`/`gz` and `ascii`/`text`, little or big endian, 8/16/32/64-bit integers and
//! `float`/`double`. Other encodings, detached data and non-spatial axes are errors.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::image::{Grid, Image, Mask};

/// Errors from reading an NRRD file; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NrrdError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header is malformed or has a value radbench cannot use.
    #[error("{path}: NRRD header field {field:?}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header field at fault (or "magic" for the first line).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The header is valid NRRD but asks for something radbench does not read.
    #[error("{path}: unsupported NRRD {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported, with its value.
        what: String,
    },
    /// The data section is shorter or longer than the header promises, or does not decode.
    #[error("{path}: NRRD data {reason}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A mask holds a value that is not a label 0..=255.
    #[error("{path}: mask value {value} at voxel index {index} is not an integer label in 0..=255")]
    MaskValue {
        /// The file.
        path: PathBuf,
        /// Linear voxel index (i fastest).
        index: usize,
        /// The value found.
        value: f64,
    },
}

/// A decoded NRRD volume: geometry plus voxel values converted to f64 (every supported type up
/// to 32 bits converts exactly; 64-bit integers beyond 2^53 are rounded).
#[derive(Debug, Clone, PartialEq)]
pub struct NrrdVolume {
    /// Geometry in LPS.
    pub grid: Grid,
    /// Voxel values, i fastest.
    pub voxels: Vec<f64>,
    /// The NRRD `type` as written in the header, normalised (`int16`, `float`, ...).
    pub sample_type: &'static str,
}

/// Sample types: name, bytes per sample.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SampleType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl SampleType {
    fn parse(name: &str) -> Option<SampleType> {
        Some(match name {
            "signed char" | "int8" | "int8_t" => SampleType::I8,
            "uchar" | "unsigned char" | "uint8" | "uint8_t" => SampleType::U8,
            "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
                SampleType::I16
            }
            "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => {
                SampleType::U16
            }
            "int" | "signed int" | "int32" | "int32_t" => SampleType::I32,
            "uint" | "unsigned int" | "uint32" | "uint32_t" => SampleType::U32,
            "longlong"
            | "long long"
            | "long long int"
            | "signed long long"
            | "signed long long int"
            | "int64"
            | "int64_t" => SampleType::I64,
            "ulonglong"
            | "unsigned long long"
            | "unsigned long long int"
            | "uint64"
            | "uint64_t" => SampleType::U64,
            "float" => SampleType::F32,
            "double" => SampleType::F64,
            _ => return None,
        })
    }

    fn bytes(self) -> usize {
        match self {
            SampleType::I8 | SampleType::U8 => 1,
            SampleType::I16 | SampleType::U16 => 2,
            SampleType::I32 | SampleType::U32 | SampleType::F32 => 4,
            SampleType::I64 | SampleType::U64 | SampleType::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SampleType::I8 => "int8",
            SampleType::U8 => "uint8",
            SampleType::I16 => "int16",
            SampleType::U16 => "uint16",
            SampleType::I32 => "int32",
            SampleType::U32 => "uint32",
            SampleType::I64 => "int64",
            SampleType::U64 => "uint64",
            SampleType::F32 => "float",
            SampleType::F64 => "double",
        }
    }

    /// Decodes one sample from exactly `bytes()` bytes.
    fn decode(self, raw: &[u8], big_endian: bool) -> f64 {
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(raw);
                if big_endian {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            }};
        }
        match self {
            SampleType::I8 => f64::from(raw[0] as i8),
            SampleType::U8 => f64::from(raw[0]),
            SampleType::I16 => f64::from(num!(i16, 2)),
            SampleType::U16 => f64::from(num!(u16, 2)),
            SampleType::I32 => f64::from(num!(i32, 4)),
            SampleType::U32 => f64::from(num!(u32, 4)),
            SampleType::I64 => num!(i64, 8) as f64,
            SampleType::U64 => num!(u64, 8) as f64,
            SampleType::F32 => f64::from(num!(f32, 4)),
            SampleType::F64 => num!(f64, 8),
        }
    }
}

/// Data encodings radbench reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Raw,
    Gzip,
    Ascii,
}

/// The header fields radbench uses, after parsing.
struct Header {
    sample_type: SampleType,
    sizes: Vec<usize>,
    encoding: Encoding,
    big_endian: bool,
    /// Space directions, one vector per axis; `None` when the header gives only `spacings`.
    directions: Option<Vec<[f64; 3]>>,
    spacings: Option<Vec<f64>>,
    origin: [f64; 3],
    /// Axes to negate to reach LPS (RAS → x and y, LAS → y).
    flip: [bool; 3],
}

/// Reads an NRRD file with its geometry.
pub fn read_nrrd(path: &Path) -> Result<NrrdVolume, NrrdError> {
    parse_nrrd(&read_file(path)?, path)
}

fn read_file(path: &Path) -> Result<Vec<u8>, NrrdError> {
    std::fs::read(path).map_err(|source| NrrdError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an NRRD image (any supported sample type) as an [`Image`].
pub fn read_image(path: &Path) -> Result<Image, NrrdError> {
    let volume = read_nrrd(path)?;
    Ok(Image {
        grid: volume.grid,
        voxels: volume.voxels,
    })
}

/// Reads an NRRD label map as a [`Mask`]; every value must be an integer in 0..=255.
pub fn read_mask(path: &Path) -> Result<Mask, NrrdError> {
    parse_mask(&read_file(path)?, path)
}

/// Parses a whole NRRD label map held in memory (see [`read_mask`]).
pub fn parse_mask(bytes: &[u8], path: &Path) -> Result<Mask, NrrdError> {
    let (header, grid, samples) = parse_parts(bytes, path)?;
    let labels = match samples {
        Samples::Text(values) => values
            .iter()
            .enumerate()
            .map(|(index, &value)| label_of(value, index, path))
            .collect::<Result<Vec<u8>, _>>()?,
        Samples::Bytes(raw) => {
            samples_to_labels(&raw, header.sample_type, header.big_endian, path)?
        }
    };
    Ok(Mask {
        grid,
        voxels: labels,
    })
}

fn label_of(value: f64, index: usize, path: &Path) -> Result<u8, NrrdError> {
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

/// Parses a whole NRRD file held in memory; `path` only names it in errors.
pub fn parse_nrrd(bytes: &[u8], path: &Path) -> Result<NrrdVolume, NrrdError> {
    let (header, grid, samples) = parse_parts(bytes, path)?;
    let voxels = match samples {
        Samples::Text(values) => values,
        Samples::Bytes(raw) => samples_to_f64(&raw, header.sample_type, header.big_endian),
    };
    Ok(NrrdVolume {
        grid,
        voxels,
        sample_type: header.sample_type.name(),
    })
}

/// Header, grid and undecoded samples of an NRRD file.
fn parse_parts<'a>(bytes: &'a [u8], path: &Path) -> Result<(Header, Grid, Samples<'a>), NrrdError> {
    let (header_text, data) = split_header(bytes, path)?;
    let header = parse_header(&header_text, path)?;
    let voxel_count = header
        .sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| header_error(path, "sizes", "the voxel count overflows"))?;
    let samples = decode_data(&header, data, voxel_count, path)?;
    let grid = build_grid(&header, path)?;
    Ok((header, grid, samples))
}

/// Decoded data: numbers from a text encoding, or the raw sample bytes.
enum Samples<'a> {
    Text(Vec<f64>),
    Bytes(std::borrow::Cow<'a, [u8]>),
}

/// Converts raw samples to f64 with one tight loop per sample type.
fn samples_to_f64(raw: &[u8], sample_type: SampleType, big_endian: bool) -> Vec<f64> {
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
fn samples_to_labels(
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

fn header_error(path: &Path, field: &str, reason: impl Into<String>) -> NrrdError {
    NrrdError::Header {
        path: path.to_path_buf(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn unsupported(path: &Path, what: impl Into<String>) -> NrrdError {
    NrrdError::Unsupported {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Splits at the first empty line: the header (as text, without the blank line) and the data.
fn split_header<'a>(bytes: &'a [u8], path: &Path) -> Result<(String, &'a [u8]), NrrdError> {
    if !bytes.starts_with(b"NRRD000") {
        return Err(header_error(
            path,
            "magic",
            "the file does not start with NRRD000x",
        ));
    }
    let mut start = 0;
    loop {
        let Some(offset) = bytes[start..].iter().position(|&b| b == b'\n') else {
            return Err(NrrdError::Data {
                path: path.to_path_buf(),
                reason: "is missing: the header never ends with an empty line".into(),
            });
        };
        let line = &bytes[start..start + offset];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let next = start + offset + 1;
        if line.is_empty() {
            let header = std::str::from_utf8(&bytes[..start])
                .map_err(|_| header_error(path, "header", "is not valid UTF-8 text"))?;
            return Ok((header.to_string(), &bytes[next..]));
        }
        start = next;
    }
}

/// Parses one `(x,y,z)` vector; `none` gives `None`.
fn parse_vector(text: &str) -> Option<Option<[f64; 3]>> {
    let text = text.trim();
    if text == "none" {
        return Some(None);
    }
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let parts: Vec<f64> = inner
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    match parts.as_slice() {
        [x, y, z] => Some(Some([*x, *y, *z])),
        [x, y] => Some(Some([*x, *y, 0.0])),
        _ => None,
    }
}

/// Splits a `space directions` value into its vectors (they may contain no spaces inside).
fn split_vectors(value: &str) -> Vec<String> {
    let mut vectors = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in value.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth -= 1;
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    vectors.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        vectors.push(current);
    }
    vectors
}

fn parse_header(text: &str, path: &Path) -> Result<Header, NrrdError> {
    let mut sample_type = None;
    let mut dimension = None;
    let mut sizes = None;
    let mut encoding = None;
    let mut big_endian = false;
    let mut directions = None;
    let mut spacings = None;
    let mut origin = [0.0; 3];
    let mut flip = [false; 3];
    for line in text.lines().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.contains(":=") {
            continue; // comments and key/value pairs carry nothing radbench uses
        }
        let Some((field, value)) = line.split_once(": ") else {
            return Err(header_error(path, line, "is not `field: value`"));
        };
        let value = value.trim();
        match field {
            "type" => {
                sample_type = Some(
                    SampleType::parse(value)
                        .ok_or_else(|| unsupported(path, format!("type {value:?}")))?,
                )
            }
            "dimension" => {
                dimension =
                    Some(value.parse::<usize>().map_err(|_| {
                        header_error(path, field, format!("{value:?} is not a count"))
                    })?)
            }
            "sizes" => {
                sizes = Some(
                    value
                        .split_whitespace()
                        .map(|s| s.parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            header_error(path, field, format!("{value:?} are not counts"))
                        })?,
                )
            }
            "encoding" => {
                encoding = Some(match value {
                    "raw" => Encoding::Raw,
                    "gzip" | "gz" => Encoding::Gzip,
                    "ascii" | "text" | "txt" => Encoding::Ascii,
                    other => return Err(unsupported(path, format!("encoding {other:?}"))),
                })
            }
            "endian" => {
                big_endian = match value {
                    "little" => false,
                    "big" => true,
                    other => return Err(header_error(path, field, format!("{other:?}"))),
                }
            }
            "space" => {
                flip = match value {
                    "left-posterior-superior" | "LPS" | "scanner-xyz" | "3D-right-handed" => {
                        [false; 3]
                    }
                    "right-anterior-superior" | "RAS" => [true, true, false],
                    "left-anterior-superior" | "LAS" => [false, true, false],
                    other => return Err(unsupported(path, format!("space {other:?}"))),
                }
            }
            "space dimension" if value != "3" => {
                return Err(unsupported(path, format!("space dimension {value}")));
            }
            "space directions" => {
                let mut parsed = Vec::new();
                for vector in split_vectors(value) {
                    match parse_vector(&vector) {
                        Some(Some(v)) => parsed.push(v),
                        Some(None) => {
                            return Err(unsupported(path, "non-spatial axis (`none` direction)"));
                        }
                        None => {
                            return Err(header_error(
                                path,
                                field,
                                format!("bad vector {vector:?}"),
                            ));
                        }
                    }
                }
                directions = Some(parsed);
            }
            "spacings" => {
                spacings = Some(
                    value
                        .split_whitespace()
                        .map(|s| s.parse::<f64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| header_error(path, field, format!("{value:?}")))?,
                )
            }
            "space origin" => {
                origin = parse_vector(value)
                    .flatten()
                    .ok_or_else(|| header_error(path, field, format!("bad vector {value:?}")))?;
            }
            "data file" | "datafile" => {
                return Err(unsupported(path, "detached data file"));
            }
            "line skip" | "lineskip" | "byte skip" | "byteskip" if value != "0" => {
                return Err(unsupported(path, format!("{field} {value}")));
            }
            // Fields that do not change how radbench reads the voxels.
            _ => {}
        }
    }
    let sample_type = sample_type.ok_or_else(|| header_error(path, "type", "is missing"))?;
    let dimension = dimension.ok_or_else(|| header_error(path, "dimension", "is missing"))?;
    let sizes = sizes.ok_or_else(|| header_error(path, "sizes", "is missing"))?;
    let encoding = encoding.ok_or_else(|| header_error(path, "encoding", "is missing"))?;
    if !(dimension == 2 || dimension == 3) {
        return Err(unsupported(
            path,
            format!("dimension {dimension} (2 or 3 are read)"),
        ));
    }
    if sizes.len() != dimension {
        return Err(header_error(
            path,
            "sizes",
            format!("has {} values for dimension {dimension}", sizes.len()),
        ));
    }
    if let Some(d) = &directions
        && d.len() != dimension
    {
        return Err(header_error(
            path,
            "space directions",
            format!("has {} vectors for dimension {dimension}", d.len()),
        ));
    }
    if let Some(s) = &spacings
        && s.len() != dimension
    {
        return Err(header_error(
            path,
            "spacings",
            format!("has {} values for dimension {dimension}", s.len()),
        ));
    }
    Ok(Header {
        sample_type,
        sizes,
        encoding,
        big_endian,
        directions,
        spacings,
        origin,
        flip,
    })
}

fn decode_data<'a>(
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

fn build_grid(header: &Header, path: &Path) -> Result<Grid, NrrdError> {
    let mut dims = [1usize; 3];
    dims[..header.sizes.len()].copy_from_slice(&header.sizes);
    let mut spacing = [1.0; 3];
    let mut direction = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut origin = header.origin;
    if let Some(vectors) = &header.directions {
        for (axis, vector) in vectors.iter().enumerate() {
            let norm = vector.iter().map(|c| c * c).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(header_error(
                    path,
                    "space directions",
                    format!("axis {axis} has length {norm}"),
                ));
            }
            spacing[axis] = norm;
            for row in 0..3 {
                direction[row][axis] = vector[row] / norm;
            }
        }
        if vectors.len() == 2 {
            // A 2-D image in 3-D space: the third axis is the normal of the first two.
            let a = [direction[0][0], direction[1][0], direction[2][0]];
            let b = [direction[0][1], direction[1][1], direction[2][1]];
            let n = [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ];
            for row in 0..3 {
                direction[row][2] = n[row];
            }
        }
    } else if let Some(values) = &header.spacings {
        for (axis, &s) in values.iter().enumerate() {
            if s.is_finite() && s > 0.0 {
                spacing[axis] = s;
            } else if !s.is_nan() {
                return Err(header_error(
                    path,
                    "spacings",
                    format!("axis {axis} is {s}"),
                ));
            }
        }
    }
    for (axis, &flipped) in header.flip.iter().enumerate() {
        if flipped {
            origin[axis] = -origin[axis];
            for cosine in direction[axis].iter_mut() {
                *cosine = -*cosine;
            }
        }
    }
    Ok(Grid {
        dims,
        spacing,
        origin,
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn header(extra: &str, encoding: &str) -> String {
        format!(
            "NRRD0004\n# comment\ntype: short\ndimension: 3\nspace: left-posterior-superior\n\
             sizes: 2 2 1\nspace directions: (0.5,0,0) (0,-0.5,0) (0,0,2)\nkinds: domain domain domain\n\
             endian: little\nencoding: {encoding}\nspace origin: (1,2,3)\n{extra}\n"
        )
    }

    fn samples() -> Vec<u8> {
        [-3i16, 7, 300, -32768]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    #[test]
    fn raw_little_endian_with_negative_direction() {
        let mut bytes = header("", "raw").into_bytes();
        bytes.extend(samples());
        let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
        assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
        assert_eq!(v.sample_type, "int16");
        assert_eq!(v.grid.dims, [2, 2, 1]);
        assert_eq!(v.grid.spacing, [0.5, 0.5, 2.0]);
        assert_eq!(v.grid.origin, [1.0, 2.0, 3.0]);
        assert_eq!(v.grid.direction[1][1], -1.0);
    }

    #[test]
    fn gzip_equals_raw() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&samples()).unwrap();
        let mut bytes = header("", "gzip").into_bytes();
        bytes.extend(encoder.finish().unwrap());
        let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
        assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let member = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let data = samples();
        let mut bytes = header("", "gzip").into_bytes();
        bytes.extend(member(&data[..3]));
        bytes.extend(member(&data[3..]));
        let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
        assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
    }

    #[test]
    fn ras_space_is_turned_into_lps() {
        let text =
            header("", "ascii").replace("left-posterior-superior", "right-anterior-superior");
        let bytes = format!("{text}1 2 3 4\n").into_bytes();
        let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
        assert_eq!(v.grid.origin, [-1.0, -2.0, 3.0]);
        assert_eq!(v.grid.direction[0][0], -1.0);
        assert_eq!(v.grid.direction[1][1], 1.0);
        assert_eq!(v.voxels, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn truncated_and_overlong_data_are_errors() {
        let mut bytes = header("", "raw").into_bytes();
        bytes.extend(&samples()[..7]);
        let e = parse_nrrd(&bytes, Path::new("cut.nrrd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut.nrrd") && e.contains("7 bytes"), "{e}");
        let mut bytes = header("", "raw").into_bytes();
        bytes.extend(samples());
        bytes.push(0);
        assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
        let mut bytes = header("", "gzip").into_bytes();
        bytes.extend(b"\x1f\x8b\x08\x00garbage");
        assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
    }

    #[test]
    fn unsupported_and_malformed_headers_are_errors() {
        let bytes = header("", "bzip2").into_bytes();
        let e = parse_nrrd(&bytes, Path::new("t.nrrd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("encoding \"bzip2\""), "{e}");
        let bytes = header("data file: other.raw", "raw").into_bytes();
        assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
        assert!(parse_nrrd(b"P5 not nrrd", Path::new("t.nrrd")).is_err());
        assert!(parse_nrrd(b"NRRD0004\ntype: short\n", Path::new("t.nrrd")).is_err());
        let bad_sizes = header("", "raw").replace("sizes: 2 2 1", "sizes: 2 x 1");
        assert!(parse_nrrd(bad_sizes.as_bytes(), Path::new("t.nrrd")).is_err());
        let huge = header("", "raw").replace("sizes: 2 2 1", "sizes: 99999999999 99999999999 9");
        assert!(parse_nrrd(huge.as_bytes(), Path::new("t.nrrd")).is_err());
    }

    #[test]
    fn mask_values_must_be_labels() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.nrrd");
        let mut bytes = header("", "raw").into_bytes();
        bytes.extend(samples());
        std::fs::write(&file, bytes).unwrap();
        let e = read_mask(&file).unwrap_err().to_string();
        assert!(e.contains("mask value -3"), "{e}");
        let mut bytes = header("", "raw").into_bytes();
        bytes.extend([0i16, 1, 2, 255].iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(read_mask(&file).unwrap().voxels, vec![0, 1, 2, 255]);
    }
}
