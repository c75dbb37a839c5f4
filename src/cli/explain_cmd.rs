//! `cargo hbuild explain <package>[@<version>][:<target>]`.

use super::errors::{CliError, ExitCode};
use crate::settings::ExplainSettings;

/// Prints the reasons of the last build's record for the units named.
pub fn run(e: &ExplainSettings) -> Result<i32, CliError> {
    let units = crate::explain::find_units(&e.target_dir, &e.unit)?;
    crate::report::explain::print_units(&units, e.format.is_json());
    Ok(ExitCode::OK)
}
