//! rustc's JSON diagnostics: which lines are diagnostics, and which of them
//! are rustc's own summaries (replaced by hbuild's).

use super::events::{Diagnostic, DiagnosticLevel};

/// The diagnostic of a JSON line rustc printed, if it is one.
pub(crate) fn parse_diagnostic(line: &str) -> Option<Diagnostic> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("$message_type").and_then(|t| t.as_str()) != Some("diagnostic") {
        return None;
    }
    Some(Diagnostic::Rustc {
        json: line.to_string(),
        rendered: v
            .get("rendered")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string(),
        level: DiagnosticLevel::parse(v.get("level").and_then(|r| r.as_str()).unwrap_or("")),
    })
}

/// Whether a diagnostic with `level` and `message` is one of rustc's
/// summary lines (`aborting due to...`, `N warnings emitted`).
pub(crate) fn is_summary(level: DiagnosticLevel, message: &str) -> bool {
    message.starts_with("aborting due to")
        || (level == DiagnosticLevel::Warning
            && message.ends_with("emitted")
            && message.contains("warning"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_diagnostics_parse() {
        let line = r#"{"$message_type":"diagnostic","level":"warning","rendered":"warning: x\n"}"#;
        match parse_diagnostic(line) {
            Some(Diagnostic::Rustc {
                rendered, level, ..
            }) => assert_eq!(
                (rendered.as_str(), level),
                ("warning: x\n", DiagnosticLevel::Warning)
            ),
            other => panic!("{other:?}"),
        }
        assert!(parse_diagnostic(r#"{"$message_type":"artifact"}"#).is_none());
        assert!(parse_diagnostic("not json").is_none());
    }

    #[test]
    fn summaries_are_recognised() {
        use DiagnosticLevel::*;
        assert!(is_summary(Error, "aborting due to 2 previous errors"));
        assert!(is_summary(Warning, "3 warnings emitted"));
        assert!(!is_summary(Warning, "unused variable: `x`"));
        assert!(!is_summary(Other, "1 warning emitted"));
    }
}
