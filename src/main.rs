//! Entry point: parse, run, print the error chain once, map to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    r2gitops::cli::main()
}
