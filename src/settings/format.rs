//! `--message-format`, parsed once per command into a typed format.

use serde::{Deserialize, Serialize};

use super::SettingsError;
use crate::report::MessageFormat;

const FLAG: &str = "--message-format";
const BUILD_FORMATS: &str = "`human`, `short`, `json`, `json-diagnostic-short`, `json-diagnostic-rendered-ansi` or `json-render-diagnostics`";

/// The format of a build's messages: the last of the (repeatable,
/// comma-separated) `--message-format` values wins, as in Cargo.
pub fn build_format(values: &[String]) -> Result<MessageFormat, SettingsError> {
    let mut fmt = MessageFormat::Human;
    for v in values.iter().flat_map(|v| v.split(',')) {
        fmt = match v.trim() {
            "human" => MessageFormat::Human,
            "short" => MessageFormat::Short,
            "json" | "json-diagnostic-short" => MessageFormat::Json {
                render: false,
                ansi: false,
            },
            "json-diagnostic-rendered-ansi" => MessageFormat::Json {
                render: false,
                ansi: true,
            },
            "json-render-diagnostics" => MessageFormat::Json {
                render: true,
                ansi: false,
            },
            other => {
                return Err(SettingsError::MessageFormat {
                    flag: FLAG,
                    value: other.to_string(),
                    expected: BUILD_FORMATS,
                })
            }
        };
    }
    Ok(fmt)
}

/// How a command that prints a listing (`cache stats`, `explain`, `server
/// status`) prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListingFormat {
    /// Lines for people.
    Human,
    /// One JSON object per line on stdout.
    Json,
}

impl ListingFormat {
    /// From `--message-format` of a command that is not a build.
    pub fn parse(value: &str) -> Result<Self, SettingsError> {
        match value.trim() {
            "human" => Ok(ListingFormat::Human),
            "json" => Ok(ListingFormat::Json),
            other => Err(SettingsError::MessageFormat {
                flag: FLAG,
                value: other.to_string(),
                expected: "`human` or `json`",
            }),
        }
    }

    /// Whether the listing is JSON.
    pub fn is_json(self) -> bool {
        self == ListingFormat::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_last_build_format_wins_across_commas_and_repeats() {
        assert_eq!(build_format(&[]).unwrap(), MessageFormat::Human);
        assert_eq!(
            build_format(&strings(&["json", "short"])).unwrap(),
            MessageFormat::Short
        );
        assert_eq!(
            build_format(&strings(&["human,json-render-diagnostics"])).unwrap(),
            MessageFormat::Json {
                render: true,
                ansi: false
            }
        );
        assert_eq!(
            build_format(&strings(&["json-diagnostic-rendered-ansi"])).unwrap(),
            MessageFormat::Json {
                render: false,
                ansi: true
            }
        );
    }

    #[test]
    fn a_bad_format_names_the_flag_and_the_value() {
        let e = build_format(&strings(&["json,yaml"])).unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.to_string(),
            format!("invalid message format specifier for `--message-format`: `yaml` (expected {BUILD_FORMATS})")
        );
        let e = ListingFormat::parse("short").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid message format specifier for `--message-format`: `short` (expected `human` or `json`)"
        );
        assert_eq!(ListingFormat::parse("json").unwrap(), ListingFormat::Json);
    }
}
