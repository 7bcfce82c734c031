//! The `watch` loop. (Skeleton: the daemon issue fills it.)

use std::process::ExitCode;

use crate::cli::WatchArgs;

pub fn cmd(_args: &WatchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("watch is not built yet".into())
}
