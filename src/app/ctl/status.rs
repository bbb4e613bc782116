//! `trunkgate ctl status`: the gateway on one screen (`GatewayService.GetStatus`): version
//! and uptime, the journal's size, cursors and snapshot, watchers, the driver's queue and
//! losses, then a table of links (one row per link and site: state, frames, bad frames,
//! login failures, drops, last failure; a link's totals on its first row only) and a table of sites with their queues: operations
//! waiting in the core, transmissions in the link's queue, and each time slot (the command
//! slot marked, busy-until while the gateway's own transmissions hold it). Everything from
//! the gateway is printed through `escape`.

use std::fmt::Write as _;
use std::io::Write;

use super::{Clock, CtlError, Outcome, escape, short, status_error, table};
use crate::api::pb;

/// Bytes for a person: `512 B`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

fn counter(l: &pb::LinkStatus, key: &str) -> u64 {
    l.counters.get(key).copied().unwrap_or(0)
}

/// The whole screen, from a status.
pub(super) fn render(s: &pb::GatewayStatus, clock: &Clock) -> String {
    let mut out = String::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let uptime = s
        .start_time
        .as_ref()
        .map(|t| format!(" (up {})", span(now - t.seconds)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "trunkgate {}, started {}{uptime}, {}",
        escape(&s.version),
        clock.time(s.start_time.as_ref()),
        if s.serving { "serving" } else { "NOT SERVING" }
    );
    if !s.journal_outage.is_empty() {
        let _ = writeln!(
            out,
            "!! the journal cannot be written: {} (commands are refused)",
            escape(&s.journal_outage)
        );
    }
    let j = s.journal.clone().unwrap_or_default();
    let snapshot = if j.snapshot_seq == 0 {
        "no snapshot saved since start".to_string()
    } else {
        format!(
            "snapshot at seq {} ({})",
            j.snapshot_seq,
            clock.time(j.snapshot_time.as_ref())
        )
    };
    let _ = writeln!(
        out,
        "journal   {} on disk, seq {}..{}, {snapshot}; {} commits ({} failed), {} events since start",
        bytes(j.size_bytes),
        j.oldest_seq,
        j.newest_seq,
        j.commits,
        j.failed_commits,
        j.events
    );
    let _ = writeln!(out, "cursor    {}", escape(&j.newest_cursor));
    let w = s.watchers.unwrap_or_default();
    let _ = writeln!(
        out,
        "watchers  {} open, {} accepted since start, {} cut for falling behind",
        w.watchers, w.subscribed_total, w.cut_total
    );
    let d = s.driver.unwrap_or_default();
    let _ = writeln!(
        out,
        "inputs    {} queued for the core, {} dropped (queue full), {} held, {} lost; {} \
         transmit bursts dropped",
        d.queued_inputs, d.dropped_inputs, d.held_inputs, d.lost_inputs, d.transmit_dropped
    );
    out.push('\n');

    // A link that carries several sites (a Homebrew master) counts for all of them: its
    // totals go on its first row, later rows point up with `^`, so nobody adds them up.
    let mut seen_links = std::collections::HashSet::new();
    let mut repeated_links = false;
    let rows: Vec<Vec<String>> = s
        .sites
        .iter()
        .flat_map(|q| q.links.iter().map(move |l| (short(&q.site), l)))
        .map(|(site, l)| {
            let first = seen_links.insert(l.name.clone());
            repeated_links |= !first;
            let total = |n: u64| if first { n.to_string() } else { "^".into() };
            vec![
                escape(&l.name).into_owned(),
                escape(&l.kind).into_owned(),
                escape(site).into_owned(),
                if l.up {
                    "up".to_string()
                } else if l.down_reason.is_empty() {
                    "down".to_string()
                } else {
                    format!("down: {}", escape(&l.down_reason))
                },
                total(counter(l, "frames_in")),
                total(counter(l, "frames_out")),
                total(counter(l, "bad_frames")),
                total(counter(l, "login_failures")),
                total(counter(l, "rx_dropped") + counter(l, "tx_dropped")),
                if !first {
                    "^".into()
                } else if l.last_failure.is_empty() {
                    "-".into()
                } else {
                    format!(
                        "{} ({})",
                        escape(&l.last_failure),
                        clock.time(l.last_failure_time.as_ref())
                    )
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "LINK",
            "KIND",
            "SITE",
            "STATE",
            "FRAMES IN",
            "FRAMES OUT",
            "BAD",
            "LOGIN FAILS",
            "DROPPED",
            "LAST FAILURE",
        ],
        &rows,
    ));
    if repeated_links {
        out.push_str("^ the same link: its totals are on its first row\n");
    }
    out.push('\n');

    let rows: Vec<Vec<String>> = s
        .sites
        .iter()
        .map(|q| {
            let mut row = vec![
                escape(short(&q.site)).into_owned(),
                if q.link_up {
                    "up".into()
                } else {
                    "down".into()
                },
                q.queued_operations.to_string(),
                if q.link_queue_capacity == 0 {
                    "no link".into()
                } else {
                    format!("{}/{}", q.link_queue, q.link_queue_capacity)
                },
            ];
            for slot in &q.slots {
                let busy = match &slot.busy_until_time {
                    Some(t) if t.seconds >= now => format!("busy until {}", clock.time(Some(t))),
                    _ => "idle".to_string(),
                };
                row.push(if slot.command_slot {
                    format!("commands, {busy}")
                } else {
                    busy
                });
            }
            row
        })
        .collect();
    out.push_str(&table(
        &["SITE", "LINK", "QUEUED OPS", "LINK QUEUE", "TS1", "TS2"],
        &rows,
    ));
    out
}

/// `trunkgate ctl status`.
pub(super) async fn run(
    channel: &super::AuthChannel,
    clock: &Clock,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    let mut client = pb::gateway_service_client::GatewayServiceClient::new(channel.clone());
    let status = client
        .get_status(pb::GetStatusRequest {})
        .await
        .map_err(status_error)?
        .into_inner();
    out.write_all(render(&status, clock).as_bytes())?;
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_spans_read_for_a_person() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12 * 1024 + 300), "12.3 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(span(12), "12s");
        assert_eq!(span(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(span(2 * 86_400 + 3600), "2d 1h");
    }
}
