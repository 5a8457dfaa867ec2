//! The `radbench` command: parses arguments, calls the library, maps errors to exit codes.
use std::process::ExitCode;

fn main() -> ExitCode {
    // candle's CPU thread pool busy-waits between ops by default; on a small shared machine
    // that roughly doubled CNN training time. Results do not depend on it. Set it before any
    // thread starts, and only when the user has not chosen a value.
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // SAFETY: no other thread exists yet at the start of main.
        unsafe { std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0") };
    }
    radbench::cli::main()
}
