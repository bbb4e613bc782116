//! The transmit queue of a link: one lane per site and slot, bursts at the air rate.
//!
//! Contract:
//! - [`Pacer::push`] queues a [`Transmission`] on its (site, slot) lane, bounded by
//!   `lane_limit` bursts; a transmission that does not fit is refused whole (the caller counts
//!   it), never cut.
//! - [`Pacer::poll`] releases, per lane, the next burst once the previous one on that lane left
//!   at least `interval` ago ([`Pacing::AirRate`], default [`AIR_BURST_INTERVAL`]); with
//!   [`Pacing::AtOnce`] everything queued leaves at once. Lanes are independent, so a long
//!   transmission on one slot never delays the other slot or another site.
//! - Transmissions on a lane leave whole and in order: the bursts of two transmissions never
//!   interleave. A transmission with `fresh_stream` gets a stream ID drawn from the link's
//!   generator when it starts, never 0 and never the lane's previous one, so framing can never
//!   fold two transmissions into one stream; the generator is seeded from the OS at the edge,
//!   so IDs do not repeat after a restart.
//! - The last burst of a transmission carries its [`Sent`] report; the edge sends the report
//!   after handing that burst to the transport.
//!
//! The pacer is synchronous and reads no clock: `now` comes in as an argument.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use super::homebrew::SplitMix;
use super::{FrameMeta, Sent, SentReport, SiteName, Slot, Transmission, Transmit};

/// One burst per 60 ms per slot: a TDMA frame is two 30 ms timeslots (ETSI TS 102 361-1
/// §4.2 / docs/air-interface.md §1; docs/transports.md §1.3 "one burst per slot every 60 ms").
pub const AIR_BURST_INTERVAL: Duration = Duration::from_millis(60);

/// How a link spaces the bursts of a transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// One burst per interval per slot (the air rate is [`AIR_BURST_INTERVAL`]).
    AirRate(Duration),
    /// Everything at once (an explicit choice, e.g. a master that re-times bursts itself).
    AtOnce,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing::AirRate(AIR_BURST_INTERVAL)
    }
}

/// A burst released by [`Pacer::poll`].
#[derive(Debug, Clone)]
pub struct Paced {
    /// The burst with its slot, site and addressing (the stream ID already chosen).
    pub transmit: Transmit,
    /// On the last burst of a transmission: where to report, and what.
    pub sent: Option<(SentReport, Sent)>,
}

#[derive(Debug)]
struct Active {
    t: Transmission,
    next: usize,
    stream_id: u32,
}

#[derive(Debug, Default)]
struct Lane {
    queue: VecDeque<Transmission>,
    active: Option<Active>,
    queued_bursts: usize,
    next_at: Option<Instant>,
    last_stream: u32,
}

/// The per-site, per-slot transmit queues of one link (module doc).
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    lane_limit: usize,
    lanes: HashMap<(SiteName, Slot), Lane>,
    rng: SplitMix,
}

impl Pacer {
    /// A pacer spacing bursts by `pacing`, holding at most `lane_limit` bursts per lane,
    /// drawing stream IDs from `rng`.
    pub fn new(pacing: Pacing, lane_limit: usize, rng: SplitMix) -> Pacer {
        Pacer {
            pacing,
            lane_limit: lane_limit.max(1),
            lanes: HashMap::new(),
            rng,
        }
    }

    /// Queue `t`; `false` when its lane cannot hold it (nothing of it is queued).
    pub fn push(&mut self, t: Transmission) -> bool {
        if t.bursts.is_empty() {
            return true;
        }
        let lane = self.lanes.entry((t.site.clone(), t.slot)).or_default();
        if lane.queued_bursts + t.bursts.len() > self.lane_limit {
            return false;
        }
        lane.queued_bursts += t.bursts.len();
        lane.queue.push_back(t);
        true
    }

    /// Bursts waiting across all lanes.
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|l| l.queued_bursts).sum()
    }

    /// When [`Pacer::poll`] has a burst to release next, if any is queued.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.lanes
            .values()
            .filter(|l| l.queued_bursts > 0)
            .map(|l| l.next_at.unwrap_or(now))
            .min()
    }

    /// Release every burst due at `now` (module doc), in lane order.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Paced>) {
        let mut keys: Vec<(SiteName, Slot)> = self
            .lanes
            .iter()
            .filter(|(_, l)| l.queued_bursts > 0)
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        for key in keys {
            let Some(lane) = self.lanes.get_mut(&key) else {
                continue;
            };
            loop {
                if lane.next_at.is_some_and(|t| t > now) || lane.queued_bursts == 0 {
                    break;
                }
                if lane.active.is_none() {
                    let Some(t) = lane.queue.pop_front() else {
                        break;
                    };
                    let stream_id = if t.fresh_stream {
                        loop {
                            let id = self.rng.next_u32();
                            if id != 0 && id != lane.last_stream {
                                break id;
                            }
                        }
                    } else {
                        t.meta.map_or(0, |m| m.stream_id)
                    };
                    lane.last_stream = stream_id;
                    lane.active = Some(Active {
                        t,
                        next: 0,
                        stream_id,
                    });
                }
                let Some(a) = lane.active.as_mut() else {
                    break;
                };
                let burst = a.t.bursts[a.next];
                a.next += 1;
                lane.queued_bursts -= 1;
                let meta = a.t.meta.map(|m| FrameMeta {
                    stream_id: a.stream_id,
                    ..m
                });
                let last = a.next == a.t.bursts.len();
                let sent = if last {
                    a.t.report.clone().map(|r| {
                        let sent = Sent {
                            tag: r.tag,
                            site: a.t.site.clone(),
                            slot: a.t.slot,
                            stream_id: a.stream_id,
                            bursts: a.t.bursts.len(),
                            at: SystemTime::now(),
                        };
                        (r, sent)
                    })
                } else {
                    None
                };
                out.push(Paced {
                    transmit: Transmit {
                        site: a.t.site.clone(),
                        slot: a.t.slot,
                        burst,
                        meta,
                    },
                    sent,
                });
                if last {
                    lane.active = None;
                }
                match self.pacing {
                    Pacing::AirRate(interval) => {
                        lane.next_at = Some(now + interval);
                        break;
                    }
                    Pacing::AtOnce => lane.next_at = None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn tx(site: &str, slot: Slot, n: usize, fresh: bool) -> Transmission {
        Transmission {
            site: Arc::from(site),
            slot,
            bursts: (0..n).map(|i| [i as u8; 33]).collect(),
            meta: Some(FrameMeta {
                source: 1,
                destination: 2,
                private: true,
                stream_id: 7,
            }),
            fresh_stream: fresh,
            report: None,
        }
    }

    #[test]
    fn one_burst_per_interval_per_lane_and_lanes_are_independent() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::default(), 64, SplitMix::new(1));
        assert!(p.push(tx("a", Slot::One, 3, true)));
        assert!(p.push(tx("a", Slot::Two, 1, true)));
        let mut out = Vec::new();
        p.poll(t0, &mut out);
        // The first burst of each slot leaves at once.
        assert_eq!(out.len(), 2);
        assert_eq!(p.next_due(t0), Some(t0 + AIR_BURST_INTERVAL));
        out.clear();
        p.poll(t0 + Duration::from_millis(59), &mut out);
        assert!(out.is_empty(), "not before the air interval");
        p.poll(t0 + AIR_BURST_INTERVAL, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].transmit.burst, [1; 33]);
    }

    #[test]
    fn fresh_streams_differ_and_given_streams_are_kept() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::AtOnce, 64, SplitMix::new(1));
        for _ in 0..3 {
            assert!(p.push(tx("a", Slot::One, 2, true)));
        }
        assert!(p.push(tx("a", Slot::One, 1, false)));
        let mut out = Vec::new();
        p.poll(t0, &mut out);
        let ids: Vec<u32> = out
            .iter()
            .map(|b| b.transmit.meta.unwrap().stream_id)
            .collect();
        assert_eq!(ids.len(), 7);
        assert_eq!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        assert_eq!(ids[2], ids[3]);
        assert_ne!(ids[3], ids[4]);
        assert_eq!(ids[6], 7);
    }

    #[test]
    fn a_full_lane_refuses_the_whole_transmission() {
        let mut p = Pacer::new(Pacing::default(), 4, SplitMix::new(1));
        assert!(p.push(tx("a", Slot::One, 3, true)));
        assert!(!p.push(tx("a", Slot::One, 2, true)));
        assert!(p.push(tx("a", Slot::Two, 4, true)));
        assert_eq!(p.queued(), 7);
    }

    #[test]
    fn the_last_burst_carries_the_report() {
        let (to, _rx) = tokio::sync::mpsc::channel(1);
        let mut t = tx("a", Slot::Two, 2, true);
        t.report = Some(SentReport { to, tag: 42 });
        let mut p = Pacer::new(Pacing::AtOnce, 64, SplitMix::new(3));
        assert!(p.push(t));
        let mut out = Vec::new();
        p.poll(Instant::now(), &mut out);
        assert!(out[0].sent.is_none());
        let (_, sent) = out[1].sent.as_ref().unwrap();
        assert_eq!((sent.tag, sent.slot, sent.bursts), (42, Slot::Two, 2));
        assert_eq!(sent.stream_id, out[1].transmit.meta.unwrap().stream_id);
    }
}
