//! `r2gitops validate` and `r2gitops schema`. (Skeleton: the Foundation issue fills it.)

use std::process::ExitCode;

use crate::cli::ValidateArgs;

pub fn validate(_args: &ValidateArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("validate is not built yet".into())
}

pub fn schema() -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("schema is not built yet".into())
}
