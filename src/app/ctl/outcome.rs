//! An operation's outcome as a dispatcher reads it (docs/air-commands.md §0 "What succeeded
//! means"): the delivery level of a succeeded operation in plain words (confirmed by the
//! radio, transmitted, partly transmitted with the failed sites named), the reason of a
//! failure, the data the command asked for (where a radio check answered and how strong, a
//! location's coordinates, fix time, accuracy and source), and the detail lines under it:
//! each site's transmission of group traffic, each poll of a periodic location request.
//!
//! Everything here returns raw text; the caller prints it through [`super::escape`] (names
//! and sites come from the network).

use std::fmt::Write as _;

use super::{Clock, Names};
use crate::api::pb;

/// The words after "succeeded" that say how far it got, with the data asked for: `confirmed
/// by the radio, answered on 城关 at -80 dBm`, `transmitted on all 4 sites (group traffic
/// takes no acknowledgement)`, `PARTLY transmitted: sent on 3 of 4 sites, failed on 石门
/// (link down)`. Empty when the gateway did not say (journals older than delivery levels).
pub(super) fn delivery_words(op: &pb::Operation, names: &Names, clock: &Clock) -> String {
    use pb::DeliveryLevel as L;
    let sites = &op.site_transmissions;
    let sent = sites.iter().filter(|t| t.state == sent_state()).count();
    let mut s = match L::try_from(op.delivery).unwrap_or(L::Unspecified) {
        L::Confirmed => "confirmed by the radio".to_string(),
        L::Transmitted if sites.is_empty() => "transmitted (it takes no acknowledgement)".into(),
        L::Transmitted if sites.len() == 1 => format!(
            "transmitted on {} (no acknowledgement is possible)",
            names.site(&sites[0].site)
        ),
        L::Transmitted => format!(
            "transmitted on all {} sites (no acknowledgement is possible)",
            sites.len()
        ),
        L::Partial => {
            let failed: Vec<String> = sites
                .iter()
                .filter(|t| t.state != sent_state())
                .map(|t| format!("{} ({})", names.site(&t.site), site_state_words(t.state)))
                .collect();
            format!(
                "PARTLY transmitted: sent on {sent} of {} sites, failed on {}",
                sites.len(),
                failed.join(", ")
            )
        }
        L::Unspecified => String::new(),
    };
    if op.location_polls > 0 {
        let answered = op
            .polls
            .iter()
            .filter(|p| matches!(p.outcome, Some(pb::location_poll::Outcome::Location(_))))
            .count();
        let _ = write!(
            s,
            "{}{answered} of {} polls answered",
            if s.is_empty() { "" } else { ", " },
            op.location_polls
        );
    }
    if let Some(r) = &op.result {
        let r = result_words(r, names, clock);
        if !r.is_empty() {
            let _ = write!(s, "{}{r}", if s.is_empty() { "" } else { ", " });
        }
    }
    s
}

/// What a command found out: `answered on 城关 at -80 dBm` for a radio check, `at 30.500000,
/// 120.250000 ±10 m, fix 14:53:10, by LRRP, received on 城关` for a location (the latest
/// poll's, for a periodic request).
pub(super) fn result_words(r: &pb::OperationResult, names: &Names, clock: &Clock) -> String {
    use pb::operation_result::Result as R;
    match &r.result {
        Some(R::RadioCheck(c)) => {
            let mut w = format!("answered on {}", names.site(&c.site));
            if let Some(rssi) = c.rssi_dbm {
                let _ = write!(w, " at {rssi} dBm");
            }
            w
        }
        Some(R::Location(l)) => location_words(l, names, clock),
        None => String::new(),
    }
}

/// A reported position with where it came in.
fn location_words(l: &pb::LocationResult, names: &Names, clock: &Clock) -> String {
    let mut w = match &l.position {
        Some(p) => position_words(p, clock),
        None => "no position".to_string(),
    };
    if !l.site.is_empty() {
        let _ = write!(w, ", received on {}", names.site(&l.site));
    }
    w
}

/// `at 30.500000, 120.250000 ±10 m, fix 14:53:10, by LRRP`: coordinates (WGS-84 /
/// CGCS2000 degrees as reported, six decimals ≈ 0.1 m), accuracy, fix time, source.
pub(super) fn position_words(p: &pb::Position, clock: &Clock) -> String {
    let mut w = format!("at {:.6}, {:.6}", p.latitude, p.longitude);
    match p.accuracy_m {
        Some(a) => {
            let _ = write!(w, " ±{a} m");
        }
        None => w.push_str(", accuracy unknown"),
    }
    match &p.fix_time {
        Some(t) => {
            let _ = write!(w, ", fix {}", clock.time(Some(t)));
        }
        None => w.push_str(", fix time unknown"),
    }
    use pb::position::Source as Src;
    let source = match Src::try_from(p.source_kind) {
        Ok(Src::GpsLc) => "GPS in a voice call".to_string(),
        Ok(Src::Lrrp) => "LRRP".to_string(),
        Ok(Src::PdtReport) => "PDT location report".to_string(),
        Ok(Src::UdtNmea) => "NMEA short data".to_string(),
        Ok(Src::IpLocation) => "IP location data".to_string(),
        Ok(Src::Dmrg) => "a repeater's GPS report".to_string(),
        _ if !p.source.is_empty() => super::words(&p.source),
        _ => String::new(),
    };
    if !source.is_empty() {
        let _ = write!(w, ", by {source}");
    }
    w
}

/// Why an operation failed, in words (the `failure` field names the kind; the site is the
/// operation's).
pub(super) fn failure_words(op: &pb::Operation, names: &Names) -> String {
    let site = if op.site.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.site(&op.site))
    };
    match op.failure.as_str() {
        "" => String::new(),
        "site_down" if !op.site_transmissions.is_empty() => {
            "not sent on any site: every site's link stayed down".to_string()
        }
        "site_down" => format!("the site's link stayed down{site}"),
        "gateway_restart" => "the gateway restarted while it was in flight".to_string(),
        "no_site" => "the radio is no longer heard on any site".to_string(),
        other => super::words(other),
    }
}

/// Group traffic in progress: `2 of 4 sites sent`.
pub(super) fn sites_progress(op: &pb::Operation) -> String {
    let sites = &op.site_transmissions;
    let sent = sites.iter().filter(|t| t.state == sent_state()).count();
    let failed = sites
        .iter()
        .filter(|t| matches!(site_state(t.state), S::LinkDown | S::NotReported))
        .count();
    let mut s = format!("{sent} of {} sites sent", sites.len());
    if failed > 0 {
        let _ = write!(s, ", {failed} failed");
    }
    s
}

use pb::site_transmission::State as S;

fn site_state(v: i32) -> S {
    S::try_from(v).unwrap_or(S::Unspecified)
}

fn sent_state() -> i32 {
    S::Sent as i32
}

pub(super) fn site_state_words(v: i32) -> &'static str {
    match site_state(v) {
        S::Queued => "queued",
        S::Transmitting => "handed to the link",
        S::Sent => "sent",
        S::LinkDown => "link down",
        S::NotReported => "the link never reported it sent",
        S::Unspecified => "state unknown",
    }
}

/// One line per site of group traffic: `县城基站: sent on slot 1 at 14:53:16`, `石门乡基站:
/// FAILED, link down`.
pub(super) fn site_lines(op: &pb::Operation, names: &Names, clock: &Clock) -> Vec<String> {
    op.site_transmissions
        .iter()
        .map(|t| {
            let site = names.site(&t.site);
            match site_state(t.state) {
                S::Sent => {
                    let mut l = format!("{site}: sent");
                    if t.slot != 0 {
                        let _ = write!(l, " on slot {}", t.slot);
                    }
                    if t.sent_time.is_some() {
                        let _ = write!(l, " at {}", clock.clock(t.sent_time.as_ref()));
                    }
                    l
                }
                S::LinkDown | S::NotReported => {
                    format!("{site}: FAILED, {}", site_state_words(t.state))
                }
                _ => format!("{site}: {}", site_state_words(t.state)),
            }
        })
        .collect()
}

/// One line per finished poll of a periodic location request: `poll 1 at 14:53:16: at
/// 30.500000, 120.250000 ±10 m, …`, `poll 2 at 14:53:46: no answer after 3 attempts`.
pub(super) fn poll_lines(op: &pb::Operation, names: &Names, clock: &Clock) -> Vec<String> {
    op.polls
        .iter()
        .map(|p| {
            let what = match &p.outcome {
                Some(pb::location_poll::Outcome::Location(l)) => location_words(l, names, clock),
                Some(pb::location_poll::Outcome::TimedOutAttempts(n)) => {
                    format!("NO ANSWER after {n} attempts")
                }
                None => "outcome unknown".to_string(),
            };
            format!(
                "poll {} at {}: {what}",
                p.poll,
                clock.clock(p.finish_time.as_ref())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut n = Names::default();
        for (name, display) in [("sites/a", "县城基站"), ("sites/b", "石门乡基站")] {
            n.sites.push(pb::Site {
                name: name.into(),
                display_name: display.into(),
                ..pb::Site::default()
            });
        }
        n
    }

    fn clock() -> Clock {
        Clock::new(Some("Asia/Shanghai")).unwrap()
    }

    fn group(states: &[(&str, S)], level: pb::DeliveryLevel) -> pb::Operation {
        pb::Operation {
            state: pb::operation::State::Succeeded as i32,
            delivery: level as i32,
            site_transmissions: states
                .iter()
                .map(|(site, s)| pb::SiteTransmission {
                    site: (*site).into(),
                    state: *s as i32,
                    slot: 1,
                    sent_time: Some(prost_types::Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 0,
                    }),
                })
                .collect(),
            ..pb::Operation::default()
        }
    }

    #[test]
    fn each_delivery_level_reads_differently() {
        let (n, c) = (names(), clock());
        let all = group(
            &[("sites/a", S::Sent), ("sites/b", S::Sent)],
            pb::DeliveryLevel::Transmitted,
        );
        assert_eq!(
            delivery_words(&all, &n, &c),
            "transmitted on all 2 sites (no acknowledgement is possible)"
        );
        let part = group(
            &[("sites/a", S::Sent), ("sites/b", S::LinkDown)],
            pb::DeliveryLevel::Partial,
        );
        assert_eq!(
            delivery_words(&part, &n, &c),
            "PARTLY transmitted: sent on 1 of 2 sites, failed on 石门乡基站 (link down)"
        );
        assert_eq!(
            site_lines(&part, &n, &c),
            vec![
                "县城基站: sent on slot 1 at 06:13:20".to_string(),
                "石门乡基站: FAILED, link down".to_string()
            ]
        );
        let check = pb::Operation {
            delivery: pb::DeliveryLevel::Confirmed as i32,
            result: Some(pb::OperationResult {
                result: Some(pb::operation_result::Result::RadioCheck(
                    pb::RadioCheckResult {
                        site: "sites/a".into(),
                        rssi_dbm: Some(-80),
                    },
                )),
            }),
            ..pb::Operation::default()
        };
        assert_eq!(
            delivery_words(&check, &n, &c),
            "confirmed by the radio, answered on 县城基站 at -80 dBm"
        );
        let failed = pb::Operation {
            failure: "site_down".into(),
            site: "sites/b".into(),
            ..pb::Operation::default()
        };
        assert_eq!(
            failure_words(&failed, &n),
            "the site's link stayed down (石门乡基站)"
        );
    }

    #[test]
    fn a_position_has_coordinates_accuracy_fix_time_and_source() {
        let p = pb::Position {
            latitude: 30.5,
            longitude: 120.25,
            accuracy_m: Some(10.0),
            fix_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            source: "lrrp".into(),
            source_kind: pb::position::Source::Lrrp as i32,
            ..pb::Position::default()
        };
        let w = position_words(&p, &clock());
        assert!(w.starts_with("at 30.500000, 120.250000 ±10 m, fix "), "{w}");
        assert!(w.ends_with("06:13:20, by LRRP"), "{w}");
    }
}
