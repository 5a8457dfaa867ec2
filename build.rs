//! Embeds the git commit of the build as `RADBENCH_GIT_COMMIT`, read from `.git` directly so
//! that neither the git binary nor a checkout is needed ("unknown" outside one). Handles a
//! plain `.git` folder, a worktree's `.git` file (`gitdir: ...` with a `commondir`), loose refs
//! and `packed-refs`.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = git_dir(&manifest_dir)
        .and_then(|dir| {
            let commit = head_commit(&dir);
            // Rebuild when HEAD moves (a commit, a checkout), so the embedded commit stays true.
            for watched in [dir.join("HEAD"), common_dir(&dir).join("packed-refs")] {
                println!("cargo:rerun-if-changed={}", watched.display());
            }
            if let Some(reference) = head_ref(&dir) {
                for base in [dir.clone(), common_dir(&dir)] {
                    let path = base.join(&reference);
                    if path.exists() {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            commit
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=RADBENCH_GIT_COMMIT={commit}");
}

/// The git directory of the checkout holding `start`, if any.
fn git_dir(start: &Path) -> Option<PathBuf> {
    let mut here = Some(start);
    while let Some(dir) = here {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            let text = fs::read_to_string(&dot_git).ok()?;
            let target = text.trim().strip_prefix("gitdir:")?.trim();
            let path = PathBuf::from(target);
            return Some(if path.is_absolute() {
                path
            } else {
                dir.join(path)
            });
        }
        here = dir.parent();
    }
    None
}

/// Where shared refs live: the main repository's git directory for a worktree.
fn common_dir(dir: &Path) -> PathBuf {
    match fs::read_to_string(dir.join("commondir")) {
        Ok(text) => {
            let path = PathBuf::from(text.trim());
            if path.is_absolute() {
                path
            } else {
                dir.join(path)
            }
        }
        Err(_) => dir.to_path_buf(),
    }
}

/// The symbolic ref HEAD points at (`refs/heads/main`), when it is not detached.
fn head_ref(dir: &Path) -> Option<String> {
    let head = fs::read_to_string(dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref:")
        .map(|r| r.trim().to_string())
}

fn is_hash(s: &str) -> bool {
    s.len() >= 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The commit HEAD resolves to.
fn head_commit(dir: &Path) -> Option<String> {
    let head = fs::read_to_string(dir.join("HEAD")).ok()?;
    let head = head.trim();
    if is_hash(head) {
        return Some(head.to_string());
    }
    let reference = head_ref(dir)?;
    let common = common_dir(dir);
    for base in [dir, common.as_path()] {
        if let Ok(text) = fs::read_to_string(base.join(&reference)) {
            let text = text.trim();
            if is_hash(text) {
                return Some(text.to_string());
            }
        }
    }
    let packed = fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (hash, name) = line.split_once(' ')?;
        (name.trim() == reference && is_hash(hash)).then(|| hash.to_string())
    })
}
