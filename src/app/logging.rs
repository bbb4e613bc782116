//! The server's log: `tracing` records to standard error, filtered and formatted as the
//! configuration's `[log]` section says, with the environment winning over it:
//!
//! - `RUST_LOG` (a `tracing` filter) over `[log] level`;
//! - `TRUNKGATE_LOG_FORMAT` (`text` or `json`) over `[log] format`.
//!
//! `text` writes one readable line a record, span fields first (`rpc{method=..
//! request_id=..}: ...`); `json` one object a line with `timestamp`, `level`, `target`,
//! `fields`, and the `span` and `spans` the record was written in, so the request ID of an
//! API call and the operation ID of an operation's lines are fields a log store can index.
//! Times are ISO 8601 ([`super::logtime`]).

use tracing_subscriber::EnvFilter;

use super::config::{LogConfig, LogFormat};
use super::logtime::LogTime;

/// The environment variable that chooses the log format: `text` or `json`.
pub const LOG_FORMAT_ENV: &str = "TRUNKGATE_LOG_FORMAT";

/// The format the environment asks for, else the configuration's. An unknown value is
/// reported on standard error (the log is not set up yet) and the configuration's is used.
pub fn format(config: &LogConfig) -> LogFormat {
    match std::env::var(LOG_FORMAT_ENV).as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        Ok("") | Err(_) => config.format,
        Ok(other) => {
            eprintln!(
                "trunkgate: {LOG_FORMAT_ENV}={other:?} is neither \"text\" nor \"json\"; using \
                 the configuration's format"
            );
            config.format
        }
    }
}

/// The filter `RUST_LOG` gives, else the configuration's level (checked by `check-config`,
/// so it parses; `info` if it somehow does not).
pub fn filter(config: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::builder().parse(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Install the global subscriber (once, at the start of `serve`).
pub fn init(config: &LogConfig) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(config))
        .with_timer(LogTime::from_env())
        .with_writer(std::io::stderr);
    match format(config) {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::{Config, DEMO};

    #[test]
    fn a_level_that_is_not_a_filter_and_a_metrics_port_on_the_api_are_problems() {
        let text = DEMO
            .replace("level = \"info\"", "level = \"trunkgate=loud\"")
            .replace(
                "listen = \"127.0.0.1:9464\"",
                "listen = \"127.0.0.1:50051\"",
            );
        let report = Config::load(&text).unwrap_err().render("t.toml");
        assert!(
            report.contains("[log] level \"trunkgate=loud\" is not a log filter"),
            "{report}"
        );
        assert!(
            report.contains("[metrics] listen 127.0.0.1:50051 is the gRPC API's address"),
            "{report}"
        );
        // Both name their lines.
        assert_eq!(report.lines().count(), 2, "{report}");
        assert!(report.lines().all(|l| l.starts_with("t.toml:")), "{report}");
    }

    #[test]
    fn the_demo_levels_and_formats_read() {
        let config = Config::parse(DEMO).unwrap();
        assert_eq!(config.log.level, "info");
        assert_eq!(config.log.format, super::LogFormat::Text);
        let json = DEMO.replace("format = \"text\"", "format = \"json\"");
        assert_eq!(
            Config::parse(&json).unwrap().log.format,
            super::LogFormat::Json
        );
    }
}
