//! Tiny experiments written into a temporary folder, and running the real binary on them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a synthetic manifest (`scenario`, `n` cases) and an experiment with `body` (everything
/// after `[data]`: features, split, models) into `dir`; returns the experiment path.
/// `header_extra` goes into `[experiment]`, `data_extra` into `[data]`.
pub fn tiny_experiment(
    dir: &Path,
    name: &str,
    scenario: &str,
    n: usize,
    header_extra: &str,
    data_extra: &str,
    body: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let manifest = format!(
        "[cohort]\nname = \"tiny-{scenario}\"\ndescription = \"tiny test cohort\"\n\n\
         [synthetic]\nscenario = \"{scenario}\"\nn = {n}\nseed = 11\n"
    );
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    let experiment = format!(
        "[experiment]\nname = \"{name}\"\nseed = 5\n{header_extra}\n\n\
         [data]\nmanifest = \"manifest.toml\"\n{data_extra}\n\n{body}"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, experiment).unwrap();
    path
}

/// The command `radbench run --quiet --out OUT EXPERIMENT` with `threads` rayon threads.
pub fn run_command(experiment: &Path, out: &Path, threads: usize) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_radbench"));
    cmd.args(["run", "--quiet", "--out"])
        .arg(out)
        .arg(experiment)
        .env("RAYON_NUM_THREADS", threads.to_string());
    cmd
}

/// Runs an experiment to completion; returns the report folder.
pub fn run_to_report(experiment: &Path, out: &Path, threads: usize) -> PathBuf {
    let output = run_command(experiment, out, threads)
        .output()
        .expect("radbench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .expect("the run prints its report folder");
    PathBuf::from(dir)
}

/// Reads a file of a report folder.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
}

/// Checks that `svg` is one well-formed `<svg>` element: every tag closed in order, attribute
/// quotes balanced, and at least one non-empty `<text>` element.
pub fn assert_well_formed_svg(name: &str, svg: &str) {
    let body = svg.trim();
    assert!(body.starts_with("<svg"), "{name}: does not start with <svg");
    assert!(body.ends_with("</svg>"), "{name}: does not end with </svg>");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = body;
    let mut texts = 0;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after
            .find('>')
            .unwrap_or_else(|| panic!("{name}: unterminated tag"));
        let tag = &after[..end];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "{name}: unbalanced quotes in <{tag}>"
        );
        if let Some(closing) = tag.strip_prefix('/') {
            let top = open
                .pop()
                .unwrap_or_else(|| panic!("{name}: stray </{closing}>"));
            assert_eq!(top, closing.trim(), "{name}: </{closing}> closes <{top}>");
        } else if !tag.starts_with('?') && !tag.starts_with('!') && !tag.ends_with('/') {
            let element = tag.split_whitespace().next().unwrap_or("");
            if element == "text" {
                let content = &after[end + 1..];
                let text = &content[..content.find('<').unwrap_or(0)];
                if !text.trim().is_empty() {
                    texts += 1;
                }
            }
            open.push(element);
        }
        rest = &after[end + 1..];
    }
    assert!(open.is_empty(), "{name}: unclosed {open:?}");
    assert!(texts > 0, "{name}: no text");
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
