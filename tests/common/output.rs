//! A command's output as the tests read it: `run` runs the command and shows what it printed
//! (cargo shows it only for a failing test), `text` is stdout and stderr together, for
//! asserting on a message wherever the binary wrote it.

use std::process::{Command, Output};

/// Runs `cmd` to completion and prints its exit code, stdout and stderr.
pub fn run(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "-> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stdout followed by stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
