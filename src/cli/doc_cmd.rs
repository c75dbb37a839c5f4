//! `cargo hbuild doc`: a build of the documentation, then, with `--open`,
//! the first index page in a browser (`$BROWSER`, else `xdg-open`); when
//! it cannot be opened, the path is printed.

use std::process::{Command, Stdio};

use super::build::{run_direct, Direct};
use super::errors::{CliError, ExitCode};
use crate::report::Reporter;
use crate::settings::Settings;

/// Documents, then opens the docs when asked.
pub fn run(settings: &Settings, open: bool) -> Result<i32, CliError> {
    let Direct {
        code, doc_pages, ..
    } = run_direct(settings)?;
    if code != ExitCode::OK || !open {
        return Ok(code);
    }
    let Some(page) = doc_pages.first() else {
        return Ok(code);
    };
    let reporter = Reporter::new(settings.report.clone());
    reporter.with_human(|h| h.status("Opening", &page.display().to_string()));
    let browser = settings
        .env()
        .get("BROWSER")
        .filter(|b| !b.is_empty())
        .cloned()
        .unwrap_or_else(|| "xdg-open".to_string());
    let started = Command::new(&browser)
        .arg(page)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if started.is_ok_and(|s| s.success()) {
        return Ok(code);
    }
    reporter.with_human(|h| {
        h.warning(&format!(
            "no browser could open the documentation; it is at {}",
            page.display()
        ))
    });
    Ok(code)
}
