//! `radbench plan` and the plan file `radbench merge` reads: a Slurm job array over the
//! shards of an experiment and a merge job that depends on it.
//!
//! Everything lives in the shared cache folder: `plan.json` (experiment, report root, the
//! shard of every cell), `array.sbatch`, `merge.sbatch`, `submit.sh` and `logs/`. Paths are
//! absolute, because array tasks start on other nodes in other working directories; the cache
//! must be on a filesystem every node sees.

use crate::Error;
use crate::report::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The plan file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Absolute path of the experiment file.
    pub experiment: PathBuf,
    /// Absolute report root for the merge.
    pub out: PathBuf,
    /// Number of shards.
    pub shards: usize,
    /// Report content version the shards will produce.
    pub version: String,
    /// Each cell's key and shard.
    pub cells: Vec<PlannedCell>,
}

/// One cell of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedCell {
    /// Cell key (model, repeat, fold).
    pub cell: String,
    /// Shard index.
    pub shard: usize,
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| {
        Error::Usage(format!(
            "{}: cannot make the path absolute: {e}",
            path.display()
        ))
    })
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Usage(format!("{}: {e}", path.display()))
}

/// Writes the plan and the Slurm scripts for `shards` array tasks into `cache`.
pub fn plan(experiment: &Path, shards: usize, cache: &Path, out: &Path) -> Result<(), Error> {
    if shards == 0 {
        return Err(Error::Usage("--shards must be at least 1".into()));
    }
    let experiment = absolute(experiment)?;
    let cache = absolute(cache)?;
    let out = absolute(out)?;
    std::fs::create_dir_all(cache.join("logs")).map_err(io_error(&cache))?;
    let prepared = crate::runner::prepare(&experiment, &cache)?;
    let shard_of = prepared.shard_assignment(shards);
    let plan = Plan {
        experiment: experiment.clone(),
        out: out.clone(),
        shards,
        version: prepared.version.clone(),
        cells: prepared
            .cells
            .iter()
            .zip(&shard_of)
            .map(|(c, &s)| PlannedCell {
                cell: c.key(),
                shard: s,
            })
            .collect(),
    };
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    write_atomic(&cache.join("plan.json"), json.as_bytes())?;

    let exe =
        std::env::current_exe().map_err(|e| Error::Usage(format!("radbench's own path: {e}")))?;
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let name = &prepared.exp.name;
    let array = format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=radbench-{name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task=2\n\
         #SBATCH --output={logs}/shard-%a.out\n\
         set -euo pipefail\n\
         export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-2}}\"\n\
         \"${{RADBENCH:-{exe}}}\" run {exp} --quiet --cache {cache} --shard \"${{SLURM_ARRAY_TASK_ID}}/{shards}\"\n",
        last = shards - 1,
        logs = q(&cache.join("logs")),
        exe = q(&exe),
        exp = q(&experiment),
        cache = q(&cache),
    );
    let merge = format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=radbench-{name}-merge\n\
         #SBATCH --cpus-per-task=2\n\
         #SBATCH --output={logs}/merge.out\n\
         set -euo pipefail\n\
         \"${{RADBENCH:-{exe}}}\" merge {cache}\n",
        logs = q(&cache.join("logs")),
        exe = q(&exe),
        cache = q(&cache),
    );
    let submit = "#!/bin/bash\n\
         # Submits the shard array, then the merge job that runs once every shard succeeded.\n\
         set -euo pipefail\n\
         dir=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n\
         array=$(sbatch --parsable \"$dir/array.sbatch\")\n\
         array=${array%%;*}\n\
         merge=$(sbatch --parsable --dependency=afterok:\"$array\" \"$dir/merge.sbatch\")\n\
         merge=${merge%%;*}\n\
         echo \"array job $array, merge job $merge\"\n";
    for (file, text) in [
        ("array.sbatch", array.as_str()),
        ("merge.sbatch", merge.as_str()),
        ("submit.sh", submit),
    ] {
        let path = cache.join(file);
        write_atomic(&path, text.as_bytes())?;
        make_executable(&path)?;
    }
    println!(
        "{} cells in {shards} shards; plan and scripts in {}\nsubmit with: {}",
        plan.cells.len(),
        cache.display(),
        cache.join("submit.sh").display()
    );
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io_error(path))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Reads `plan.json` from a cache folder.
pub fn read_plan(cache: &Path) -> Result<Plan, Error> {
    let path = cache.join("plan.json");
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::Usage(format!(
            "{}: {e} (run `radbench plan` first)",
            path.display()
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

/// Single-quotes a string for bash.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
