//! One pass: load -> observe -> diff -> (dry-run stops here) -> apply. (Skeleton: the
//! reconcile issue fills it.)

use std::process::ExitCode;

use crate::cli::ReconcileArgs;

pub fn cmd(_args: &ReconcileArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("reconcile is not built yet".into())
}
