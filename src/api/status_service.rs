//! `GatewayService.GetStatus`: the gateway's own state on one screen (`trunkgate ctl
//! status`): links with their counters and last failure, the journal's size and cursors,
//! watchers, the driver's queue and losses, and the queues per site and slot.
//!
//! The figures come from the [`Backend`] ([`Backend::status`]), which reads the rooms' own
//! counters (links, driver, hub) and the core's site queues through a read like any other;
//! this module only turns them into the proto message. A read: role viewer.

use std::time::{SystemTime, UNIX_EPOCH};

use tonic::{Request, Response, Status};

use super::backend::{Backend, LinkStatus};
use super::convert;
use super::pb;
use super::service::Api;

/// The journal's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalStatus {
    /// Bytes its files take on disk.
    pub size_bytes: u64,
    /// Oldest sequence number kept (0: empty).
    pub oldest_seq: u64,
    /// Newest sequence number journaled.
    pub newest_seq: u64,
    /// The newest event's cursor.
    pub newest_cursor: String,
    /// The latest snapshot this process saved covers this sequence number (0: none).
    pub snapshot_seq: u64,
    /// When it was saved.
    pub snapshot_time: Option<SystemTime>,
    /// Commits since start.
    pub commits: u64,
    /// Failed commits since start.
    pub failed_commits: u64,
    /// Events journaled since start.
    pub events: u64,
}

/// Event streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatcherStatus {
    /// Open now.
    pub watchers: u64,
    /// Accepted since start.
    pub subscribed_total: u64,
    /// Cut for falling behind since start.
    pub cut_total: u64,
}

/// The dispatch driver's queue and losses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStatus {
    /// Inputs waiting for the core.
    pub queued_inputs: u64,
    /// Inputs dropped on a full queue.
    pub dropped_inputs: u64,
    /// Inputs held during a journal outage.
    pub held_inputs: u64,
    /// Inputs lost during a journal outage.
    pub lost_inputs: u64,
    /// Transmit bursts dropped.
    pub transmit_dropped: u64,
}

/// One time slot of a site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotQueue {
    /// 1 or 2.
    pub slot: u8,
    /// The site's commands go on this slot.
    pub command_slot: bool,
    /// Busy with the gateway's transmissions until then.
    pub busy_until: Option<SystemTime>,
}

/// One site's queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteQueues {
    /// Configured name.
    pub site: String,
    /// Whether a link carries it.
    pub link_up: bool,
    /// Operations waiting for air time.
    pub queued_operations: usize,
    /// Transmissions waiting in the link's queue.
    pub link_queue: usize,
    /// That queue's size (0: no link).
    pub link_queue_capacity: usize,
    /// Slot 1 and 2.
    pub slots: Vec<SlotQueue>,
}

/// Everything GetStatus answers.
#[derive(Debug, Clone, Default)]
pub struct GatewayStatus {
    /// When the gateway started.
    pub start_time: Option<SystemTime>,
    /// Whether it serves.
    pub serving: bool,
    /// Why the journal cannot be written, while it cannot.
    pub journal_outage: Option<String>,
    /// The journal.
    pub journal: JournalStatus,
    /// Event streams.
    pub watchers: WatcherStatus,
    /// Every link on every site it serves.
    pub links: Vec<LinkStatus>,
    /// Every configured site.
    pub sites: Vec<SiteQueues>,
    /// The driver.
    pub driver: DriverStatus,
}

fn time(t: SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<GatewayStatus> for pb::GatewayStatus {
    fn from(s: GatewayStatus) -> pb::GatewayStatus {
        let j = s.journal;
        pb::GatewayStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            start_time: s.start_time.map(time),
            serving: s.serving,
            journal_outage: s.journal_outage.unwrap_or_default(),
            journal: Some(pb::JournalStatus {
                size_bytes: j.size_bytes,
                oldest_seq: j.oldest_seq,
                newest_seq: j.newest_seq,
                newest_cursor: j.newest_cursor,
                snapshot_seq: j.snapshot_seq,
                snapshot_time: j.snapshot_time.map(time),
                commits: j.commits,
                failed_commits: j.failed_commits,
                events: j.events,
            }),
            watchers: Some(pb::WatcherStatus {
                watchers: s.watchers.watchers,
                subscribed_total: s.watchers.subscribed_total,
                cut_total: s.watchers.cut_total,
            }),
            sites: s
                .sites
                .into_iter()
                .map(|q| pb::SiteQueues {
                    site: format!("sites/{}", q.site),
                    link_up: q.link_up,
                    queued_operations: u32_of(q.queued_operations),
                    link_queue: u32_of(q.link_queue),
                    link_queue_capacity: u32_of(q.link_queue_capacity),
                    slots: q
                        .slots
                        .into_iter()
                        .map(|sl| pb::SlotQueue {
                            slot: u32::from(sl.slot),
                            command_slot: sl.command_slot,
                            busy_until_time: sl.busy_until.map(time),
                        })
                        .collect(),
                    links: s
                        .links
                        .iter()
                        .filter(|l| l.site == q.site)
                        .map(convert::link_status)
                        .collect(),
                })
                .collect(),
            driver: Some(pb::DriverStatus {
                queued_inputs: s.driver.queued_inputs,
                dropped_inputs: s.driver.dropped_inputs,
                held_inputs: s.driver.held_inputs,
                lost_inputs: s.driver.lost_inputs,
                transmit_dropped: s.driver.transmit_dropped,
            }),
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::gateway_service_server::GatewayService for Api<B> {
    async fn get_status(
        &self,
        _req: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GatewayStatus>, Status> {
        let status = self.shared.backend.status().await?;
        Ok(Response::new(status.into()))
    }
}
