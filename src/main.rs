//! The `radbench` command: parses arguments, calls the library, maps errors to exit codes.
use std::process::ExitCode;

fn main() -> ExitCode {
    radbench::process::configure_for_model_work();
    radbench::cli::main()
}
