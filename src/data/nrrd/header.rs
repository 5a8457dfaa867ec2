//! NRRD header: the first line, the `field: value` lines, and the sample types and encodings
//! radbench reads (see the module documentation of [`super`]).

use std::path::Path;

use super::NrrdError;

/// Sample types: name, bytes per sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum SampleType {
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
    pub(super) fn parse(name: &str) -> Option<SampleType> {
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

    pub(super) fn bytes(self) -> usize {
        match self {
            SampleType::I8 | SampleType::U8 => 1,
            SampleType::I16 | SampleType::U16 => 2,
            SampleType::I32 | SampleType::U32 | SampleType::F32 => 4,
            SampleType::I64 | SampleType::U64 | SampleType::F64 => 8,
        }
    }

    pub(super) fn name(self) -> &'static str {
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
    pub(super) fn decode(self, raw: &[u8], big_endian: bool) -> f64 {
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
pub(super) enum Encoding {
    Raw,
    Gzip,
    Ascii,
}

/// The header fields radbench uses, after parsing.
pub(super) struct Header {
    pub(super) sample_type: SampleType,
    pub(super) sizes: Vec<usize>,
    pub(super) encoding: Encoding,
    pub(super) big_endian: bool,
    /// Space directions, one vector per axis; `None` when the header gives only `spacings`.
    pub(super) directions: Option<Vec<[f64; 3]>>,
    pub(super) spacings: Option<Vec<f64>>,
    pub(super) origin: [f64; 3],
    /// Axes to negate to reach LPS (RAS → x and y, LAS → y).
    pub(super) flip: [bool; 3],
}

pub(super) fn header_error(path: &Path, field: &str, reason: impl Into<String>) -> NrrdError {
    NrrdError::Header {
        path: path.to_path_buf(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

pub(super) fn unsupported(path: &Path, what: impl Into<String>) -> NrrdError {
    NrrdError::Unsupported {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Splits at the first empty line: the header (as text, without the blank line) and the data.
pub(super) fn split_header<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<(String, &'a [u8]), NrrdError> {
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

pub(super) fn parse_header(text: &str, path: &Path) -> Result<Header, NrrdError> {
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
