//! The resources the core keeps and the API reads: radios, talkgroups, teams, sites, calls,
//! alarms, operations, messages and positions.
//!
//! Every type here is plain data (serde), changed only by `Core::apply`. `Radio` is kept
//! compact because the core must hold a million of them in well under 400 MB: names are
//! boxed strings present only for radios that have one, positions live in a separate map
//! allocated only for radios that report them, and the site is an interned `Arc<str>`.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::ids::{
    AlarmId, CallId, MessageId, OperationId, RadioId, SiteId, TalkgroupId, TeamId, Timestamp,
};
use crate::link::Slot;

/// The docs/air-interface.md profile a site speaks; egress encodes commands by it
/// (docs/air-commands.md has one column per profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AirProfile {
    /// ETSI DMR Tier III trunked site: C_AHOY / C_ACKU / C_NACK (docs/air-interface.md §3.3–§3.4).
    TierIii,
    /// Conventional DMR with the DMRA FID 0x10 blocks (call alert, radio check;
    /// docs/air-interface.md §3.3).
    DmraConventional,
    /// PDT, FID 0x68 supplementary-service CSBKs and PDT packet data (docs/air-interface.md §3.9,
    /// docs/pdt.md §2–§4). Partly derived, not captured.
    #[default]
    Pdt,
}

impl AirProfile {
    /// Whether commands of `service` can be sent to a site of this profile
    /// (docs/air-commands.md §1): DMRA conventional sites have no public kill or
    /// emergency-acknowledgement PDU.
    pub const fn supports(self, service: Service) -> bool {
        !matches!(
            (self, service),
            (
                AirProfile::DmraConventional,
                Service::Kill | Service::EmergencyAck
            )
        )
    }
}

/// What a command does on the air; also the key of a radio's learned capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Radio check (在线检测): is the radio on the air?
    RadioCheck,
    /// Call alert (page).
    CallAlert,
    /// Stun (遥晕): disable the radio until revived.
    Stun,
    /// Revive (激活/复活).
    Revive,
    /// Kill (遥毙): permanent disable.
    Kill,
    /// A text message.
    Text,
    /// A status (pre-coded) message.
    Status,
    /// A location request.
    Location,
    /// The acknowledgement of an emergency alarm.
    EmergencyAck,
}

impl Service {
    /// Every service, in capability-bit order.
    pub const ALL: [Service; 9] = [
        Service::RadioCheck,
        Service::CallAlert,
        Service::Stun,
        Service::Revive,
        Service::Kill,
        Service::Text,
        Service::Status,
        Service::Location,
        Service::EmergencyAck,
    ];

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What a radio has shown it can or cannot do, learned from its answers
/// (docs/dispatch.md §2 item 15). Two bit sets over [`Service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Services the radio answered positively.
    pub supported: u16,
    /// Services the radio refused as not supported.
    pub unsupported: u16,
}

impl Capabilities {
    /// `Some(true)` if answered, `Some(false)` if refused as unsupported, `None` if unknown.
    pub fn get(&self, s: Service) -> Option<bool> {
        if self.supported & s.bit() != 0 {
            Some(true)
        } else if self.unsupported & s.bit() != 0 {
            Some(false)
        } else {
            None
        }
    }

    /// Record what was learned.
    pub fn set(&mut self, s: Service, supported: bool) {
        if supported {
            self.supported |= s.bit();
            self.unsupported &= !s.bit();
        } else {
            self.unsupported |= s.bit();
            self.supported &= !s.bit();
        }
    }
}

/// Remote-control state of a radio, as the last acknowledged stun / revive / kill left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RadioControl {
    /// Normal.
    #[default]
    Enabled,
    /// Stunned (遥晕), until revived.
    Stunned,
    /// Killed (遥毙).
    Killed,
}

/// Where and when a radio was last heard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// When (refreshed at most every `Config::presence_refresh_ms` while nothing else changes).
    pub at: Timestamp,
    /// The site.
    pub site: SiteId,
    /// The timeslot.
    pub slot: Slot,
    /// Received signal strength, where the link reports it.
    pub rssi_dbm: Option<i16>,
}

/// A radio (mobile station).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Radio {
    /// Air address.
    pub id: RadioId,
    /// Name from the configured directory.
    pub name: Option<Box<str>>,
    /// Talker alias learned from the air.
    pub alias: Option<Box<str>>,
    /// Team from the directory.
    pub team: Option<TeamId>,
    /// True between a registration and a deregistration.
    pub registered: bool,
    /// Talkgroup the radio last affiliated to.
    pub talkgroup: Option<TalkgroupId>,
    /// Last heard.
    pub presence: Option<Presence>,
    /// Capabilities learned from answers.
    pub capabilities: Capabilities,
    /// Stun / kill state.
    pub control: RadioControl,
}

impl Radio {
    /// A radio known only by its address.
    pub fn new(id: RadioId) -> Radio {
        Radio {
            id,
            name: None,
            alias: None,
            team: None,
            registered: false,
            talkgroup: None,
            presence: None,
            capabilities: Capabilities::default(),
            control: RadioControl::Enabled,
        }
    }
}

/// A talkgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Talkgroup {
    /// Air address.
    pub id: TalkgroupId,
    /// Name from the directory.
    pub name: Option<Box<str>>,
    /// The call in progress, if any.
    pub active_call: Option<CallId>,
    /// Where the talkgroup was last heard (call or affiliation); group traffic goes there too.
    pub last_site: Option<SiteId>,
    /// When.
    pub last_heard: Option<Timestamp>,
    /// The slot group traffic to it goes on, from the directory; `None`: the site's slot.
    #[serde(default)]
    pub slot: Option<Slot>,
    /// Sites group traffic to it always goes to, from the directory (besides the sites
    /// where its members are).
    #[serde(default)]
    pub sites: Vec<SiteId>,
}

/// Where a team sits in the emergency organisation (县 / 乡镇 / 村, professional, volunteer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamLevel {
    /// County (县级) team.
    County,
    /// Township (乡镇) team.
    Township,
    /// Village (村) squad.
    Village,
    /// Professional rescue team (专业救援队).
    Professional,
    /// Volunteer team (志愿救援队).
    Volunteer,
}

/// A member's role in a team.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// Leader (队长).
    Leader,
    /// Member (队员).
    #[default]
    Member,
}

/// A point on the map: WGS-84 / CGCS2000 degrees, validated finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees, north positive.
    pub latitude: f64,
    /// Longitude, degrees, east positive.
    pub longitude: f64,
}

/// A team (救援队), how dispatchers call people out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// Index in the directory (internal: radios refer to their team by it).
    pub id: TeamId,
    /// The configured short name: the team's identity in the API (`teams/{key}`).
    #[serde(default)]
    pub key: String,
    /// Display name (Chinese).
    pub name: String,
    /// Members.
    pub radios: Vec<RadioId>,
    /// The team's talkgroup, if it has one.
    pub talkgroup: Option<TalkgroupId>,
    /// Organisation level, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<TeamLevel>,
    /// Members who lead the team (a subset of `radios`); the others are members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaders: Vec<RadioId>,
    /// Keys of the teams a call-out calls next when this one does not answer, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<String>,
    /// Where the team is based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<GeoPoint>,
}

impl Team {
    /// A member's role (leader when listed in `leaders`).
    pub fn role_of(&self, radio: RadioId) -> TeamRole {
        if self.leaders.contains(&radio) {
            TeamRole::Leader
        } else {
            TeamRole::Member
        }
    }

    /// The team's name in the API: its configured key, or its index for a team restored
    /// from a snapshot written before teams had keys (until the directory is loaded again,
    /// which every start does).
    pub fn resource_key(&self) -> String {
        if self.key.is_empty() {
            self.id.0.to_string()
        } else {
            self.key.clone()
        }
    }
}

/// A site and its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Configured name.
    pub id: SiteId,
    /// Display name from the directory.
    pub display_name: Option<String>,
    /// How commands are encoded for it.
    pub profile: AirProfile,
    /// Whether its link is up.
    pub link_up: bool,
    /// When the link last went down (commands wait from then on, bounded).
    pub down_since: Option<Timestamp>,
    /// How the site sends (slots, the path's extra air time), from the directory.
    #[serde(default)]
    pub air: SiteAir,
    /// Each slot (index 0 = TS1) is busy with our transmissions until then (air-time pacing
    /// per site and slot). Snapshots from before slots were paced hold one time for the site;
    /// it is read as both slots' time.
    #[serde(default, deserialize_with = "busy_until_compat")]
    pub busy_until: [Timestamp; 2],
    /// Operations waiting for air time: (priority, operation), lowest first.
    pub queue: BTreeSet<(Priority, OperationId)>,
}

/// `busy_until` as one time (older snapshots) or one per slot.
fn busy_until_compat<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[Timestamp; 2], D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Busy {
        Site(Timestamp),
        Slots([Timestamp; 2]),
    }
    Ok(match Busy::deserialize(d)? {
        Busy::Site(t) => [t; 2],
        Busy::Slots(v) => v,
    })
}

/// How a site sends (docs/air-commands.md §0 "Which slot"): a deployment setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteAir {
    /// The slot for control and data traffic (commands, texts and statuses to radios), and for
    /// group traffic to talkgroups without a slot of their own. A simplex (DMO) MMDVM hotspot
    /// carries network traffic on TS2 only (docs/transports.md §1.7); a TSCC is usually on TS1.
    pub slot: Slot,
    /// Send to a radio on the slot it was last heard on at this site, where known.
    pub follow_heard_slot: bool,
    /// Air time the path adds beyond what the gateway sends, in ms: e.g. MMDVMHost turns each
    /// network data preamble into 15 on the air, so 6 preambles become about 90 bursts
    /// (6 × 14 × 60 ms = 5,040 ms more). It extends the answer window and the slot's busy time.
    pub extra_air_ms: u64,
}

impl Default for SiteAir {
    fn default() -> Self {
        SiteAir {
            slot: Slot::One,
            follow_heard_slot: false,
            extra_air_ms: 0,
        }
    }
}

/// Index of a slot in per-slot arrays (0 = TS1).
pub(crate) const fn slot_index(slot: Slot) -> usize {
    match slot {
        Slot::One => 0,
        Slot::Two => 1,
    }
}

impl Site {
    /// A site with defaults, link down.
    pub fn new(id: SiteId) -> Site {
        Site {
            id,
            display_name: None,
            profile: AirProfile::default(),
            link_up: false,
            down_since: None,
            air: SiteAir::default(),
            busy_until: [Timestamp(0); 2],
            queue: BTreeSet::new(),
        }
    }
}

/// Who or what a call, text or status is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    /// A talkgroup.
    Talkgroup(TalkgroupId),
    /// One radio.
    Radio(RadioId),
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    /// The site cleared the channel (P_CLEAR or maintenance disconnect).
    Cleared,
    /// Terminator and no further transmission within the hang time.
    HangTimeExpired,
    /// Nothing heard for the idle timeout.
    Idle,
    /// The gateway restarted and could not follow the call.
    GatewayRestart,
}

/// Most talkers remembered for one call.
pub const MAX_TALKERS: usize = 32;

/// A call: a group or private conversation on one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Identity.
    pub id: CallId,
    /// Talkgroup or called radio.
    pub target: Addressee,
    /// Site.
    pub site: SiteId,
    /// Timeslot.
    pub slot: Slot,
    /// Radios that talked, first talker first (bounded by [`MAX_TALKERS`]).
    pub talkers: Vec<RadioId>,
    /// The radio transmitting now, if any.
    pub talker: Option<RadioId>,
    /// Emergency flag seen (service options bit 7, docs/air-interface.md §4.3).
    pub emergency: bool,
    /// Privacy flag seen (service options bit 6).
    pub privacy: bool,
    /// Start.
    pub started: Timestamp,
    /// Last activity heard.
    pub last_activity: Timestamp,
    /// When the last transmission ended (terminator), while waiting for the next.
    pub transmission_ended: Option<Timestamp>,
    /// End, once ended.
    pub ended: Option<Timestamp>,
    /// Why it ended.
    pub end_reason: Option<CallEndReason>,
}

/// Lifecycle of an alarm (docs/dispatch.md §2 item 3, §4.1 AIP-216 states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// Raised from the air, not yet acknowledged.
    Raised,
    /// Acknowledged by a dispatcher (and the acknowledgement sent over the air).
    Acknowledged,
    /// Resolved.
    Resolved,
}

/// An emergency alarm resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Identity.
    pub id: AlarmId,
    /// The radio that raised it.
    pub radio: RadioId,
    /// Talkgroup named by the alarm, if any.
    pub talkgroup: Option<TalkgroupId>,
    /// Site it was last heard on.
    pub site: SiteId,
    /// State.
    pub state: AlarmState,
    /// First raised.
    pub raised: Timestamp,
    /// Last repeat heard.
    pub last_heard: Timestamp,
    /// Repeats merged into this alarm (0 for the first).
    pub repeats: u32,
    /// Who acknowledged, when, and the operation that sent the acknowledgement (none when
    /// the site's profile has no acknowledgement PDU).
    pub acknowledged: Option<(String, Timestamp, Option<OperationId>)>,
    /// Who resolved, when.
    pub resolved: Option<(String, Timestamp)>,
}

/// Transmit priority on a site's control channel; lower goes first (docs/design.md "Air time is
/// the scarce resource": emergency first, location polling last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Emergency acknowledgements.
    Emergency,
    /// Stun, revive, kill.
    Control,
    /// Call-out traffic (alerts and follow-ups of a call-out): after emergencies and
    /// remote control, ahead of ordinary commands and location polling.
    Callout,
    /// Radio check, call alert, text, status.
    Normal,
    /// Location polls.
    Location,
}

/// Repeat settings of a periodic location request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periodic {
    /// Time between polls, ms (at least `Config::min_location_interval_ms`).
    pub interval_ms: u64,
    /// Number of polls (1..=`Config::max_polls`).
    pub count: u32,
}

/// An over-the-air command as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OtaCommand {
    /// Radio check.
    RadioCheck { radio: RadioId },
    /// Call alert.
    CallAlert { radio: RadioId },
    /// Stun.
    Stun { radio: RadioId },
    /// Revive.
    Revive { radio: RadioId },
    /// Kill.
    Kill { radio: RadioId },
    /// Text message.
    SendText { to: Addressee, text: String },
    /// Status message (status number 0..=1023: the 10-bit status field of a DPF 14 header,
    /// docs/air-commands.md §6).
    SendStatus { to: Addressee, status: u16 },
    /// Location request, once or periodic.
    RequestLocation {
        radio: RadioId,
        periodic: Option<Periodic>,
    },
    /// Acknowledge an emergency over the air (created by acknowledging an alarm).
    AcknowledgeEmergency {
        radio: RadioId,
        talkgroup: Option<TalkgroupId>,
        alarm: AlarmId,
    },
}

impl OtaCommand {
    /// The service this command uses.
    pub fn service(&self) -> Service {
        match self {
            OtaCommand::RadioCheck { .. } => Service::RadioCheck,
            OtaCommand::CallAlert { .. } => Service::CallAlert,
            OtaCommand::Stun { .. } => Service::Stun,
            OtaCommand::Revive { .. } => Service::Revive,
            OtaCommand::Kill { .. } => Service::Kill,
            OtaCommand::SendText { .. } => Service::Text,
            OtaCommand::SendStatus { .. } => Service::Status,
            OtaCommand::RequestLocation { .. } => Service::Location,
            OtaCommand::AcknowledgeEmergency { .. } => Service::EmergencyAck,
        }
    }

    /// Who it is addressed to.
    pub fn addressee(&self) -> Addressee {
        match self {
            OtaCommand::RadioCheck { radio }
            | OtaCommand::CallAlert { radio }
            | OtaCommand::Stun { radio }
            | OtaCommand::Revive { radio }
            | OtaCommand::Kill { radio }
            | OtaCommand::RequestLocation { radio, .. }
            | OtaCommand::AcknowledgeEmergency { radio, .. } => Addressee::Radio(*radio),
            OtaCommand::SendText { to, .. } | OtaCommand::SendStatus { to, .. } => *to,
        }
    }

    /// Queue priority.
    pub fn priority(&self) -> Priority {
        match self.service() {
            Service::EmergencyAck => Priority::Emergency,
            Service::Stun | Service::Revive | Service::Kill => Priority::Control,
            Service::Location => Priority::Location,
            Service::RadioCheck | Service::CallAlert | Service::Text | Service::Status => {
                Priority::Normal
            }
        }
    }
}

/// Lifecycle of an operation (docs/dispatch.md §2 item 2: queued → sent → ack / nack /
/// timeout, retried n times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationState {
    /// A kill waiting for a second identity's approval until `approval.deadline`; nothing
    /// goes on the air before it is approved.
    AwaitingApproval,
    /// Waiting in its site's queue for air time (or for the link to come up).
    Queued,
    /// Transmitted, waiting for the answer until `deadline`.
    Sent,
    /// Periodic location: between polls, until `next_poll`.
    Waiting,
    /// The radio (or, for sends that take no answer, the transmission) confirmed it.
    Succeeded,
    /// The radio or the system refused it.
    Refused,
    /// No answer after every attempt.
    TimedOut,
    /// Could not be sent (site down too long, gateway restart, ...).
    Failed,
    /// Cancelled by an operator.
    Cancelled,
    /// Rejected by the second identity asked to approve it.
    Rejected,
    /// Not approved within the approval window.
    Expired,
}

impl OperationState {
    /// True for the final states.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            OperationState::Succeeded
                | OperationState::Refused
                | OperationState::TimedOut
                | OperationState::Failed
                | OperationState::Cancelled
                | OperationState::Rejected
                | OperationState::Expired
        )
    }
}

/// Why an operation failed without an answer from the radio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FailReason {
    /// The site's link stayed down longer than `Config::site_down_wait_ms`.
    SiteDown { site: SiteId },
    /// The gateway restarted while the operation was in flight and it was too old to resume.
    GatewayRestart,
    /// The radio is no longer heard on any site.
    NoSite,
}

/// A refusal as the radio or the system sent it: the C_ACKD/NACK reason code
/// (docs/air-interface.md §3.4) or a profile-specific code mapped by ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The reason code on the air.
    pub code: u8,
}

impl Refusal {
    /// Reason 0x00 (MS: service not supported) or 0x20 (TS: service not supported),
    /// docs/air-interface.md §3.4 (sdrtrunk Reason.java).
    pub const fn not_supported(self) -> bool {
        self.code == 0x00 || self.code == 0x20
    }
}

/// Most positions kept per radio in its track.
pub const DEFAULT_TRACK_LEN: usize = 64;

/// An over-the-air operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Identity.
    pub id: OperationId,
    /// The client's idempotency key (AIP-155), if given.
    pub request_id: Option<String>,
    /// Who asked.
    pub operator: Option<String>,
    /// What.
    pub command: OtaCommand,
    /// Queue priority.
    pub priority: Priority,
    /// State.
    pub state: OperationState,
    /// The site it is queued for or was sent on.
    pub site: Option<SiteId>,
    /// Transmissions so far (of the current poll, for periodic location).
    pub attempts: u8,
    /// Created.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
    /// When it entered the queue last.
    pub queued_at: Timestamp,
    /// While sent: when the attempt times out.
    pub deadline: Option<Timestamp>,
    /// Periodic location: the next poll.
    pub next_poll: Option<Timestamp>,
    /// Periodic location: polls finished, answered or timed out.
    pub polls_done: u32,
    /// The refusal, when refused.
    pub refusal: Option<Refusal>,
    /// The failure, when failed.
    pub failure: Option<FailReason>,
    /// Group traffic: one entry per site it goes out on, in site order; empty for commands
    /// to a radio.
    #[serde(default)]
    pub deliveries: Vec<SiteDelivery>,
    /// What it found out: a radio check's site and signal, a location request's position
    /// (the latest poll's, for a periodic one).
    #[serde(default)]
    pub result: Option<Box<OperationResult>>,
    /// Periodic location: each finished poll's outcome, in order (at most
    /// `Config::max_polls`); `None` for other operations and before the first poll ended.
    /// Boxed, so operations (and the events that carry them) stay small; read it with
    /// [`Operation::polls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<Box<Vec<LocationPoll>>>,
    /// Why it was asked for and the approval it needs ([`Operation::reason`],
    /// [`Operation::approval`]); boxed, since most operations have neither and every
    /// `operation_created` event carries an operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Box<Authorization>>,
}

/// The outcome of one poll of a periodic location request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationPoll {
    /// Which poll, from 1.
    pub poll: u32,
    /// When it finished.
    pub at: Timestamp,
    /// What came of it.
    pub outcome: PollOutcome,
}

/// What one poll of a periodic location request came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PollOutcome {
    /// The radio reported its position, received on `site`.
    Position { site: SiteId, position: Position },
    /// No answer after `attempts` transmissions.
    TimedOut { attempts: u8 },
}

/// Why an operation was asked for, and the second identity's approval it needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Authorization {
    /// The reason given (required for stun and kill).
    pub reason: Option<String>,
    /// For an operation that needs a second identity's approval (a kill): until when, and
    /// the decision once made.
    pub approval: Option<Approval>,
}

/// The approval an operation needs (a kill: two people).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Approved by then, or it expires.
    pub deadline: Timestamp,
    /// The decision, once made.
    pub decided: Option<ApprovalDecision>,
}

/// Who approved or rejected an operation, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// The identity that decided (never the requester).
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Approved (true) or rejected.
    pub approved: bool,
    /// The reason given, if any.
    pub reason: Option<String>,
}

/// The data a command asked for, carried by its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperationResult {
    /// A radio check: the site the radio answered on and its signal there.
    RadioCheck { site: SiteId, rssi_dbm: Option<i16> },
    /// A location request: the position the radio reported and the site it came in on.
    Location { site: SiteId, position: Position },
}

/// How far a finished operation got (docs/air-commands.md §0 "What succeeded means").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryLevel {
    /// The addressed radio acknowledged it.
    Confirmed,
    /// No acknowledgement is possible (group traffic, emergency acknowledgement); the link
    /// reported it sent on every site.
    Transmitted,
    /// Sent on some sites; the others failed (named in the deliveries).
    Partial,
}

impl Operation {
    /// Keep a periodic location request's poll outcome; never more than its polls.
    pub(crate) fn record_poll(&mut self, poll: u32, at: Timestamp, outcome: PollOutcome) {
        let OtaCommand::RequestLocation {
            periodic: Some(p), ..
        } = self.command
        else {
            return;
        };
        let polls = self.polls.get_or_insert_with(Box::default);
        if polls.len() < p.count as usize && polls.last().is_none_or(|l| l.poll < poll) {
            polls.push(LocationPoll { poll, at, outcome });
        }
    }

    /// Periodic location: each finished poll's outcome, in order.
    pub fn polls(&self) -> &[LocationPoll] {
        self.polls.as_deref().map_or(&[], Vec::as_slice)
    }

    /// True when a periodic location request has had at least one poll answered.
    pub fn any_poll_answered(&self) -> bool {
        self.polls()
            .iter()
            .any(|p| matches!(p.outcome, PollOutcome::Position { .. }))
    }

    /// Why it was asked for, if a reason was given.
    pub fn reason(&self) -> Option<&str> {
        self.authorization.as_ref()?.reason.as_deref()
    }

    /// The approval it needs (a kill), if any.
    pub fn approval(&self) -> Option<&Approval> {
        self.authorization.as_ref()?.approval.as_ref()
    }

    /// The delivery level of a succeeded operation; `None` until it succeeded.
    pub fn delivery_level(&self) -> Option<DeliveryLevel> {
        if self.state != OperationState::Succeeded {
            return None;
        }
        Some(self.level_if_succeeded())
    }

    /// The delivery level success would mean now (for the event that says it succeeded).
    pub fn level_if_succeeded(&self) -> DeliveryLevel {
        self.level().unwrap_or(DeliveryLevel::Confirmed)
    }

    fn level(&self) -> Option<DeliveryLevel> {
        if self.deliveries.is_empty() {
            return Some(match self.command.service() {
                Service::EmergencyAck => DeliveryLevel::Transmitted,
                _ if matches!(self.command.addressee(), Addressee::Talkgroup(_)) => {
                    DeliveryLevel::Transmitted
                }
                _ => DeliveryLevel::Confirmed,
            });
        }
        if self
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Sent)
        {
            Some(DeliveryLevel::Transmitted)
        } else {
            Some(DeliveryLevel::Partial)
        }
    }
}

/// One site's share of a group transmission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDelivery {
    /// The site.
    pub site: SiteId,
    /// How far it got there.
    pub state: DeliveryState,
    /// The slot it was handed to the link on.
    pub slot: Option<Slot>,
    /// When the link reported its last burst sent.
    pub sent_at: Option<Timestamp>,
    /// While handed to the link: when a missing sent report makes it fail.
    pub deadline: Option<Timestamp>,
}

/// The state of one site's transmission of group traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting in the site's queue (or for its link).
    Queued,
    /// Handed to the link, not yet reported sent.
    Transmitting,
    /// The link reported it sent.
    Sent,
    /// The site's link stayed down longer than `Config::site_down_wait_ms`.
    LinkDown,
    /// Handed to the link, which never reported it sent.
    NotReported,
}

impl DeliveryState {
    /// True once nothing more happens at that site.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Sent | DeliveryState::LinkDown | DeliveryState::NotReported
        )
    }
}

/// Where a position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// GPS info LC embedded in voice (FLCO 8, docs/air-interface.md §4.3).
    EmbeddedLc,
    /// Motorola LRRP over packet data (docs/air-interface.md §5.3).
    Lrrp,
    /// UDT NMEA (UDT format 5).
    UdtNmea,
    /// Hytera / PDT location protocol answer (docs/pdt.md §4.1).
    HyteraLp,
}

/// One position fix. WGS-84 / CGCS2000 as the radio reports it; datum conversion is a
/// display concern (docs/dispatch.md §2 item 7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Latitude, degrees, north positive.
    pub latitude: f64,
    /// Longitude, degrees, east positive.
    pub longitude: f64,
    /// Horizontal accuracy bound in metres, when reported.
    pub accuracy_m: Option<f32>,
    /// Speed, km/h, when reported.
    pub speed_kmh: Option<f32>,
    /// Heading, degrees from north, when reported.
    pub heading_deg: Option<u16>,
    /// Altitude above the ellipsoid in metres, when reported. Left out of the journal JSON
    /// when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude_m: Option<f32>,
    /// Time of the fix as the radio reported it, when it did.
    pub fix_time: Option<Timestamp>,
    /// Source.
    pub source: PositionSource,
}

/// A position as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionReport {
    /// When it was received.
    pub at: Timestamp,
    /// Site it came through.
    pub site: SiteId,
    /// The fix.
    pub position: Position,
}

/// The latest position of a radio and a bounded track.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Track {
    /// Oldest first; the last one is the latest. At most `Config::track_len`.
    pub reports: VecDeque<PositionReport>,
}

impl Track {
    /// The latest report.
    pub fn latest(&self) -> Option<&PositionReport> {
        self.reports.back()
    }
}

/// Body of a text or status message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageBody {
    /// Text.
    Text { text: String },
    /// Status number.
    Status { status: u16 },
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From a radio (received from the air).
    #[default]
    Inbound,
    /// From a dispatcher to a radio or talkgroup (sent by an operation).
    Outbound,
}

impl Direction {
    /// True for [`Direction::Inbound`] (the default, left out of the journal JSON).
    pub fn is_inbound(&self) -> bool {
        *self == Direction::Inbound
    }
}

/// Who marked a message, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The operator (empty when the request named none).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// How a dispatcher marks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageMark {
    /// Seen.
    Read,
    /// Dealt with (implies read).
    Handled,
}

/// A text or status message: received from the air, or sent by a dispatcher. Fields added
/// after the first version are left out of the journal JSON while they hold their default,
/// so an inbound message is journaled exactly as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Identity.
    pub id: MessageId,
    /// Inbound (from a radio) or outbound (from a dispatcher).
    #[serde(default, skip_serializing_if = "Direction::is_inbound")]
    pub direction: Direction,
    /// Sender: the radio of an inbound message; `None` for an outbound one.
    pub source: Option<RadioId>,
    /// Addressee.
    pub to: Addressee,
    /// Site it was heard on, or queued for.
    pub site: SiteId,
    /// Received, or sent by the dispatcher.
    pub at: Timestamp,
    /// Content.
    pub body: MessageBody,
    /// Outbound: who sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Outbound: the operation that carries it over the air.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationId>,
    /// Marked read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Mark>,
    /// Marked handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<Mark>,
}

impl Message {
    /// The radio the message is from (inbound) or to (outbound, to a radio).
    pub fn radio(&self) -> Option<RadioId> {
        match (self.direction, self.to) {
            (Direction::Inbound, _) => self.source,
            (Direction::Outbound, Addressee::Radio(r)) => Some(r),
            (Direction::Outbound, Addressee::Talkgroup(_)) => None,
        }
    }
}

/// A radio in the configured directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRadio {
    /// Air address (the config may give it as a dial number; the caller converts).
    pub id: RadioId,
    /// Display name.
    pub name: Option<String>,
}

/// A talkgroup in the configured directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryTalkgroup {
    /// Air address.
    pub id: TalkgroupId,
    /// Display name.
    pub name: Option<String>,
    /// The slot group traffic to it goes on; `None`: the site's slot.
    #[serde(default)]
    pub slot: Option<Slot>,
    /// Sites group traffic to it always goes to (static routing), besides the sites where
    /// its members are heard.
    #[serde(default)]
    pub sites: Vec<SiteId>,
}

/// A site in the configured directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySite {
    /// Configured name (the link's site name).
    pub id: SiteId,
    /// Display name.
    pub display_name: Option<String>,
    /// Air profile.
    pub profile: AirProfile,
    /// Slots and extra air time.
    #[serde(default)]
    pub air: SiteAir,
}

/// A team in the configured directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DirectoryTeam {
    /// The configured short name (`teams/{key}`), e.g. "qingshan": the team's identity,
    /// whatever its place in the file. Journals written before teams had keys have none
    /// here; such a team is keyed by its index.
    #[serde(default)]
    pub key: String,
    /// Display name (Chinese), e.g. "城关镇应急救援队".
    pub name: String,
    /// Members.
    pub radios: Vec<RadioId>,
    /// The team's talkgroup.
    pub talkgroup: Option<TalkgroupId>,
    /// Organisation level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<TeamLevel>,
    /// Members who lead it (a subset of `radios`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaders: Vec<RadioId>,
    /// Backup team keys, in the order a call-out calls them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<String>,
    /// Where the team is based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<GeoPoint>,
}

/// The configured directory: names, teams and sites.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Directory {
    /// Named radios.
    pub radios: Vec<DirectoryRadio>,
    /// Named talkgroups.
    pub talkgroups: Vec<DirectoryTalkgroup>,
    /// Sites.
    pub sites: Vec<DirectorySite>,
    /// Teams; a team's [`TeamId`] is its index here, its name in the API its `key`.
    pub teams: Vec<DirectoryTeam>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_from_an_older_snapshot_keeps_its_busy_time_on_both_slots() {
        let old = r#"{"id":"s","display_name":null,"profile":"pdt","link_up":true,
            "down_since":null,"busy_until":1234,"queue":[]}"#;
        let site: Site = serde_json::from_str(old).unwrap();
        assert_eq!(site.busy_until, [Timestamp(1234); 2]);
        assert_eq!(site.air, SiteAir::default());
        let now = serde_json::to_string(&site).unwrap();
        assert_eq!(serde_json::from_str::<Site>(&now).unwrap(), site);
    }

    #[test]
    fn capabilities_remember_the_last_answer() {
        let mut c = Capabilities::default();
        assert_eq!(c.get(Service::Stun), None);
        c.set(Service::Stun, false);
        assert_eq!(c.get(Service::Stun), Some(false));
        c.set(Service::Stun, true);
        assert_eq!(c.get(Service::Stun), Some(true));
        assert_eq!(c.get(Service::Kill), None);
        for s in Service::ALL {
            c.set(s, true);
        }
        assert!(Service::ALL.iter().all(|&s| c.get(s) == Some(true)));
    }

    #[test]
    fn profiles_support_what_the_table_says() {
        use AirProfile::*;
        for s in Service::ALL {
            assert!(TierIii.supports(s) && Pdt.supports(s), "{s:?}");
        }
        assert!(!DmraConventional.supports(Service::Kill));
        assert!(!DmraConventional.supports(Service::EmergencyAck));
        assert!(DmraConventional.supports(Service::Stun));
    }

    #[test]
    fn priorities_order_emergency_first_location_last() {
        let ack = OtaCommand::AcknowledgeEmergency {
            radio: RadioId::new(1).unwrap(),
            talkgroup: None,
            alarm: AlarmId(0),
        };
        let poll = OtaCommand::RequestLocation {
            radio: RadioId::new(1).unwrap(),
            periodic: None,
        };
        let stun = OtaCommand::Stun {
            radio: RadioId::new(1).unwrap(),
        };
        assert!(ack.priority() < stun.priority());
        assert!(stun.priority() < Priority::Normal);
        assert!(Priority::Normal < poll.priority());
    }

    #[test]
    fn refusal_not_supported_codes() {
        assert!(Refusal { code: 0x00 }.not_supported());
        assert!(Refusal { code: 0x20 }.not_supported());
        assert!(!Refusal { code: 0x25 }.not_supported());
    }
}
