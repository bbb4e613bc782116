//! Timestamps of the server's log lines: ISO 8601 with the offset, always.
//!
//! By default in UTC (`2026-12-06T06:53:16.123Z`); with `TRUNKGATE_LOG_TIME=local` in the
//! system time zone (the `TZ` variable, else `/etc/localtime`, read by `jiff` from the system
//! time zone database): `2026-12-06T14:53:16.123+08:00`.

use std::fmt;

use jiff::tz::TimeZone;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The environment variable that chooses the zone of log times: `utc` (default) or `local`.
pub const LOG_TIME_ENV: &str = "TRUNKGATE_LOG_TIME";

/// A `tracing-subscriber` timer writing ISO 8601 with the offset.
#[derive(Debug, Clone)]
pub struct LogTime {
    /// `None`: UTC, written with `Z`.
    zone: Option<TimeZone>,
}

impl LogTime {
    /// UTC.
    pub fn utc() -> LogTime {
        LogTime { zone: None }
    }

    /// In `zone`, with its offset.
    pub fn in_zone(zone: TimeZone) -> LogTime {
        LogTime { zone: Some(zone) }
    }

    /// As `TRUNKGATE_LOG_TIME` says; an unknown value is reported on standard error (the
    /// log is not set up yet) and UTC is used.
    pub fn from_env() -> LogTime {
        match std::env::var(LOG_TIME_ENV).as_deref() {
            Ok("local") => LogTime::in_zone(TimeZone::system()),
            Ok("utc") | Ok("") | Err(_) => LogTime::utc(),
            Ok(other) => {
                eprintln!("{LOG_TIME_ENV}={other:?} is not `utc` or `local`; logging in UTC");
                LogTime::utc()
            }
        }
    }

    /// The timestamp of `t` as this timer writes it.
    pub fn render(&self, t: jiff::Timestamp) -> String {
        match &self.zone {
            Some(zone) => t
                .to_zoned_datetime(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
            None => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }
    }
}

impl FormatTime for LogTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        w.write_str(&self.render(jiff::Timestamp::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_8601_with_the_offset() {
        let t = jiff::Timestamp::new(1_796_539_996, 123_000_000).unwrap();
        assert_eq!(LogTime::utc().render(t), "2026-12-06T06:53:16.123Z");
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(
            LogTime::in_zone(shanghai).render(t),
            "2026-12-06T14:53:16.123+08:00"
        );
    }
}
