//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared reference-data folder: `$RADBENCH_SHARED`, else `<crate>/../shared`.
///
/// `None` (after printing a note) when it is absent; panics instead when `CI=true`, because
/// a CI run must not skip conformance tests silently.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RADBENCH_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "shared reference data not found at {} (set RADBENCH_SHARED)",
            dir.display()
        );
    }
    eprintln!(
        "note: shared reference data not found at {}; test skipped (set RADBENCH_SHARED)",
        dir.display()
    );
    None
}
