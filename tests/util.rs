//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared reference-data folder: `$RADBENCH_SHARED`, else `<crate>/../shared`.
///
/// Returns `None` (after printing a note) when it is missing, so that a plain `cargo test`
/// on a machine without the data still passes; with `CI=true` a missing folder fails the test.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RADBENCH_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "shared reference data not found at {} (set RADBENCH_SHARED)",
        dir.display()
    );
    eprintln!(
        "note: shared reference data not found at {}; skipping (set RADBENCH_SHARED)",
        dir.display()
    );
    None
}

/// A file inside the shared folder, or `None` (with a note) when the folder is missing.
pub fn shared_file(relative: &str) -> Option<PathBuf> {
    shared_dir().map(|d| d.join(relative))
}

/// Reads a simple CSV (no quoting) into a header and rows of string fields.
pub fn read_plain_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("{} is empty", path.display()))
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .collect();
    (header, rows)
}

/// Column `name` of a [`read_plain_csv`] table.
pub fn column<'a>(header: &[String], rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let j = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {header:?}"));
    rows.iter().map(|r| r[j].as_str()).collect()
}

/// Parses a numeric field, with R's `Inf`, `-Inf`, `NaN`, `NA` spellings.
pub fn parse_num(field: &str) -> f64 {
    match field {
        "Inf" | "inf" => f64::INFINITY,
        "-Inf" | "-inf" => f64::NEG_INFINITY,
        "NaN" | "NA" | "nan" | "" => f64::NAN,
        _ => field
            .parse()
            .unwrap_or_else(|e| panic!("not a number: {field:?} ({e})")),
    }
}

/// Parses CSV text with double-quoted fields (quotes doubled inside), as Python's `csv` writes.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A float64 `.npy` array: its shape and its values in C order.
pub struct Npy {
    /// Shape, outermost axis first.
    pub shape: Vec<usize>,
    /// Values, last axis fastest.
    pub values: Vec<f64>,
}

/// Reads a little-endian float64 `.npy` file (format versions 1–3, C or Fortran order).
pub fn read_npy(path: &std::path::Path) -> Npy {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x93NUMPY"),
        "{}: not .npy",
        path.display()
    );
    let (header_len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).expect("ASCII header");
    assert!(
        header.contains("'descr': '<f8'"),
        "{}: not float64: {header}",
        path.display()
    );
    let fortran = header.contains("'fortran_order': True");
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("shape entry"))
        .collect();
    let raw: Vec<f64> = bytes[start + header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let values = if fortran {
        // Re-index from first-axis-fastest to last-axis-fastest.
        let total: usize = shape.iter().product();
        (0..total)
            .map(|c_index| {
                let mut rest = c_index;
                let mut position = vec![0; shape.len()];
                for axis in (0..shape.len()).rev() {
                    position[axis] = rest % shape[axis];
                    rest /= shape[axis];
                }
                let mut f_index = 0;
                for axis in (0..shape.len()).rev() {
                    f_index = f_index * shape[axis] + position[axis];
                }
                raw[f_index]
            })
            .collect()
    } else {
        raw
    };
    Npy { shape, values }
}

/// Runs the radbench binary with `args`: whether it succeeded, and stdout then stderr.
pub fn radbench(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(args)
        .output()
        .expect("radbench runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
