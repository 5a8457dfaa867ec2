//! Helpers shared by the integration and conformance tests.

use std::path::PathBuf;

/// The shared reference-data folder: `$RADBENCH_SHARED`, else `<manifest dir>/../shared`.
/// `None` (after printing a note) when it is missing and `CI` is not `true`; a panic when it is
/// missing on CI, so conformance can never pass vacuously there.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RADBENCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "shared reference data not found at {} (set RADBENCH_SHARED)",
            dir.display()
        );
    }
    eprintln!(
        "note: shared reference data not found at {}; skipping",
        dir.display()
    );
    None
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
