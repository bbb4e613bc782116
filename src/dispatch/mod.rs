//! The dispatch core: radios, talkgroups, calls, alarms, messages, positions and
//! over-the-air operations, as one deterministic, event-sourced state machine.
//!
//! # Contract
//!
//! - [`Core::handle`]`(now, input, out)` decides. It reads no clock, does no I/O and imports
//!   nothing from `wire`: air PDUs arrive as domain [`AirInput`]s (built by `ingest.rs`), and
//!   commands leave as [`Output::Transmit`] with a domain [`AirMessage`] (encoded by
//!   `egress.rs` per the site's [`AirProfile`], as docs/air-commands.md lays out).
//! - Every state change is an [`Event`]. `handle` emits events and applies each through
//!   [`Core::apply`], the only place state changes, so the state is exactly the fold of the
//!   events: a driver rebuilds it as [`Core::restore`]`(snapshot)` plus `apply` of every later
//!   event, and [`Core::recover`] then resumes or explicitly fails the operations that were
//!   in flight.
//! - Commands are operations (docs/dispatch.md §2 item 2, §4.1): queued for the site where
//!   the radio was last heard, paced to that site's air time in priority order (emergency
//!   acknowledgements first, location polls last; docs/design.md "Air time is the scarce
//!   resource"), then succeeded, refused or timed out by what the radio answers, with
//!   bounded retries. A client `request_id` returns the same operation for a repeated request
//!   (AIP-155). Operator input that cannot apply gets a precise [`DispatchError`].
//! - Nothing from the air can make the core panic or grow without bound: radios, calls,
//!   alarms, operations, messages, queues and tracks all have limits in [`Config`].
//! - A kill is permanent, so it takes two people: it is created awaiting approval (nothing
//!   goes on the air), and only another identity's approval within
//!   [`Config::kill_approval_window_ms`] queues it; a rejection or the window's end finishes
//!   it. The wait is core state (journaled, in the snapshot, honoured after a restart).
//!   Stun and kill need a reason, kept with the operation.
//! - Time is [`Timestamp`] (Unix milliseconds from the driver), so events and snapshots
//!   serialize.
//!
//! - Call-outs ([`callout`]) and teams managed through the API ([`teams`]) are core state of
//!   the same kind: their own events, folded by `apply`, in the snapshot; a call-out sends
//!   through ordinary operations at [`Priority::Callout`] (docs/callouts.md).
//!
//! Queries (`radios`, `calls`, `alarms`, `operations`, `positions`, ...) are read-only and
//! paginated by key (see [`Page`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

pub mod audit;
pub mod callout;
pub mod egress;
mod event;
mod handle;
pub mod ids;
pub mod ingest;
pub mod model;
mod query;
pub mod teams;

pub use audit::AuditEntry;
pub use callout::{
    AnswerPolicy, Callout, CalloutMessage, CalloutReply, CalloutSpec, CalloutState, Escalation,
    Member as CalloutMember, MemberState, NotReachable,
};
pub use event::{Event, EventKind, LossReason};
pub use ids::{
    AlarmId, CallId, CalloutId, DialNumber, IdError, IdKind, MessageId, OperationId, RadioId,
    SiteId, TalkgroupId, TeamId, Timestamp,
};
pub use model::{
    Addressee, AirProfile, Alarm, AlarmState, Approval, ApprovalDecision, Authorization, Call,
    CallEndReason, Capabilities, DeliveryLevel, DeliveryState, Direction, Directory,
    DirectoryRadio, DirectorySite, DirectoryTalkgroup, DirectoryTeam, FailReason, GeoPoint,
    LocationPoll, Mark, Message, MessageBody, MessageMark, Operation, OperationResult,
    OperationState, OtaCommand, Periodic, PollOutcome, Position, PositionReport, PositionSource,
    Presence, Priority, Radio, RadioControl, Refusal, Service, Site, SiteAir, SiteDelivery,
    Talkgroup, Team, TeamLevel, TeamRole, Track,
};
pub use query::{
    AlarmFilter, CallFilter, ListPage, MAX_SCAN, MessageFilter, Page, RadioFilter, RadioView,
    ResolveError, Walk,
};
pub use teams::{ManagedTeam, TeamSpec};

use crate::link::Slot;

/// Everything the core reacts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The configured directory (names, teams, sites); replaces the previous one.
    Directory(Directory),
    /// A site's link came up.
    SiteUp { site: SiteId },
    /// A site's link went down.
    SiteDown { site: SiteId },
    /// Something decoded from the air.
    Air(AirInput),
    /// An operator or automation command; answered by one [`Output::Reply`] with `token`.
    Command { token: u64, request: Request },
    /// Time passed: timeouts, retries, pacing. The driver ticks (e.g. every 100 ms) or at
    /// [`Core::next_deadline`].
    Tick,
    /// The limits and timers from the configuration file; a change is journaled
    /// ([`EventKind::ConfigChanged`]) so replays fold later events under it.
    Configure(Config),
    /// The driver lost inputs before they could be journaled; the loss becomes an event.
    InputsLost {
        count: u64,
        from: Timestamp,
        to: Timestamp,
        reason: LossReason,
    },
    /// The journal is writable again after an outage (the driver's account of it).
    JournalRecovered {
        from: Timestamp,
        to: Timestamp,
        reason: String,
        held: u64,
    },
    /// An audit entry to journal as it is ([`EventKind::AuditRecorded`]): refusals for lack
    /// of rights, access reloads, anything audited outside the core's own commands.
    Audit(AuditEntry),
    /// A link reports that the last burst of an operation's transmission left at `at`
    /// (docs/design.md: answer timeouts start when the link reports the transmission sent). A
    /// report for another attempt than the one in flight changes nothing.
    TransmissionSent {
        operation: OperationId,
        attempt: u8,
        site: SiteId,
        slot: Slot,
        at: Timestamp,
    },
}

/// One decoded air event, with where it was heard.
#[derive(Debug, Clone, PartialEq)]
pub struct AirInput {
    /// The site (the link's site name).
    pub site: SiteId,
    /// The timeslot.
    pub slot: Slot,
    /// Received signal strength, where the link reports it.
    pub rssi_dbm: Option<i16>,
    /// What was heard.
    pub event: AirEvent,
}

/// What ingest makes of a decoded PDU. Sources for each are in docs/air-commands.md.
#[derive(Debug, Clone, PartialEq)]
pub enum AirEvent {
    /// Registration accepted (e.g. C_ACKD reason 0x62 to the radio, docs/air-interface.md §3.4).
    Registered { radio: RadioId },
    /// Deregistration (power off, leaving the control channel).
    Deregistered { radio: RadioId },
    /// Talkgroup affiliation.
    Affiliated {
        radio: RadioId,
        talkgroup: TalkgroupId,
    },
    /// A voice channel grant (TV_GRANT / PV_GRANT, docs/air-interface.md §3.4).
    VoiceGrant {
        source: RadioId,
        target: Addressee,
        emergency: bool,
    },
    /// Voice link control: voice LC header or embedded LC (docs/air-interface.md §4.3).
    VoiceLc {
        source: RadioId,
        target: Addressee,
        emergency: bool,
        privacy: bool,
    },
    /// Terminator with LC: one transmission ended.
    VoiceTerminator { source: RadioId, target: Addressee },
    /// The site cleared the call's channel (P_CLEAR, P_MAINT disconnect).
    CallCleared { target: Addressee },
    /// Talker alias, assembled from its LC blocks.
    TalkerAlias { radio: RadioId, alias: String },
    /// An emergency alarm from a radio.
    EmergencyAlarm {
        radio: RadioId,
        talkgroup: Option<TalkgroupId>,
    },
    /// A text message from a radio.
    Text {
        source: RadioId,
        to: Addressee,
        text: String,
    },
    /// A status message from a radio.
    Status {
        source: RadioId,
        to: Addressee,
        status: u16,
    },
    /// A position report.
    Position { radio: RadioId, position: Position },
    /// Packet data from a radio that no decoder above understood (an application port the
    /// gateway does not speak, a binary payload): kept raw so nothing is dropped unseen.
    DataReceived { source: RadioId, data: ReceivedData },
    /// An answer to a command: ACK, or NACK with its reason. `service` is what ingest could
    /// tell the answer is for (e.g. from the gateway identity it is addressed to); `None`
    /// matches the oldest operation in flight for that radio.
    Answer {
        radio: RadioId,
        service: Option<Service>,
        answer: Answer,
    },
}

/// Packet data nothing decoded: addressing, ports and the payload as received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceivedData {
    /// Destination ID on the air (24 bits): a radio, a talkgroup or a gateway identity.
    pub destination: u32,
    /// The destination is a group.
    pub group: bool,
    /// Service access point of the data header (TS 102 361-1 9.3.8: 4 IP, 3 compressed UDP,
    /// 10 short data, 0 for UDT).
    pub sap: u8,
    /// UDP source port, when the payload is UDP.
    pub source_port: Option<u16>,
    /// UDP destination port, when the payload is UDP.
    pub destination_port: Option<u16>,
    /// The payload (UDP user data when ports are known), at most
    /// [`MAX_RECEIVED_DATA`] octets.
    #[serde(with = "hex_bytes")]
    pub payload: Vec<u8>,
    /// Octets beyond [`MAX_RECEIVED_DATA`] that were cut.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: u32,
}

/// Bound on the payload a [`ReceivedData`] keeps (a PDU holds at most 127 rate-1 blocks,
/// 3 048 octets).
pub const MAX_RECEIVED_DATA: usize = 4096;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// What a radio (or the system on its behalf) answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Acknowledged.
    Accepted,
    /// Refused, with the reason code.
    Refused(Refusal),
}

/// An operator or automation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Idempotency key (AIP-155): a repeat returns the first result.
    pub request_id: Option<String>,
    /// Who asks (audit).
    pub operator: Option<String>,
    /// Why: required for stun and kill (at most [`MAX_REASON_CHARS`] characters), kept with
    /// the operation; the reason of an approval or rejection.
    pub reason: Option<String>,
    /// Where the request came from (the client's address), for the audit entry only.
    pub client: Option<String>,
    /// What.
    pub command: Command,
}

/// Longest reason a command may give, in characters.
pub const MAX_REASON_CHARS: usize = 512;

/// Operator commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// An over-the-air command; answered with the new (or, for a repeated `request_id`, the
    /// existing) operation. `OtaCommand::AcknowledgeEmergency` is refused here: use
    /// [`Command::AcknowledgeAlarm`].
    Ota(OtaCommand),
    /// Acknowledge a raised alarm; the acknowledgement goes over the air with emergency
    /// priority.
    AcknowledgeAlarm { alarm: AlarmId },
    /// Resolve a raised or acknowledged alarm.
    ResolveAlarm { alarm: AlarmId },
    /// Cancel an operation that has not finished.
    CancelOperation { operation: OperationId },
    /// Mark a message read or handled; answered with the message. Marking it again changes
    /// nothing (the first mark, with its operator and time, stays).
    MarkMessage {
        message: MessageId,
        mark: MessageMark,
    },
    /// Approve (`approve`) or reject an operation awaiting approval (a kill): only another
    /// identity than the one that asked for it, within the approval window. Approved, it is
    /// queued for the air; rejected, it finishes. Answered with the operation.
    DecideApproval {
        operation: OperationId,
        approve: bool,
    },
    /// Start a call-out; answered with the call-out (the existing one for a repeated
    /// `request_id`).
    StartCallout(Box<CalloutSpec>),
    /// Cancel a running call-out; answered with the call-out.
    CancelCallout { callout: CalloutId },
    /// Create a managed team; answered with it.
    CreateTeam(Box<TeamSpec>),
    /// Replace a managed team whose etag is `etag` (empty: any); answered with it.
    UpdateTeam { spec: Box<TeamSpec>, etag: String },
    /// Delete a managed team whose etag is `etag` (empty: any); answered with it as it was.
    DeleteTeam { key: String, etag: String },
}

/// The successful answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The operation (new, or the existing one for a repeated request).
    Operation(Box<Operation>),
    /// The alarm after the change, with the operation that carries the acknowledgement.
    Alarm {
        alarm: Box<Alarm>,
        operation: Option<Box<Operation>>,
    },
    /// The message after the change.
    Message(Box<Message>),
    /// The call-out (new, after the change, or the existing one for a repeated request).
    Callout(Box<Callout>),
    /// A managed team.
    Team(Box<ManagedTeam>),
}

/// A command leaving for the air, in domain terms; egress encodes it for the site's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AirMessage {
    /// Radio check.
    RadioCheck { radio: RadioId },
    /// Call alert.
    CallAlert { radio: RadioId },
    /// Stun (radio disable).
    Stun { radio: RadioId },
    /// Revive (radio enable).
    Revive { radio: RadioId },
    /// Kill (permanent disable).
    Kill { radio: RadioId },
    /// Text message.
    Text { to: Addressee, text: String },
    /// Status message.
    Status { to: Addressee, status: u16 },
    /// Location request; `request` is echoed in LRRP / LP answers.
    LocationRequest { radio: RadioId, request: u32 },
    /// Emergency acknowledgement.
    EmergencyAck {
        radio: RadioId,
        talkgroup: Option<TalkgroupId>,
    },
}

impl AirMessage {
    /// Whether the addressed radio answers this message. Group sends and emergency
    /// acknowledgements take no answer (docs/air-commands.md), so they succeed once sent.
    pub fn expects_answer(&self) -> bool {
        match self {
            AirMessage::Text { to, .. } | AirMessage::Status { to, .. } => {
                matches!(to, Addressee::Radio(_))
            }
            AirMessage::EmergencyAck { .. } => false,
            AirMessage::RadioCheck { .. }
            | AirMessage::CallAlert { .. }
            | AirMessage::Stun { .. }
            | AirMessage::Revive { .. }
            | AirMessage::Kill { .. }
            | AirMessage::LocationRequest { .. } => true,
        }
    }

    /// Estimated control-channel time this message occupies, in ms: bursts × 60 ms (one
    /// burst per 60 ms per slot on a control channel, docs/design.md). Every CSBK command and data
    /// transmission is preceded by 6 preamble CSBKs (docs/pdt.md §2.1). Text: rate-½
    /// unconfirmed data, 12 octets a block, 4 of the last for CRC-32, with a 5-octet
    /// compressed UDP/IP header and UTF-16 text (docs/pdt.md §3). Location: 20-octet LP
    /// request as rate-¾ confirmed data, 16 octets a block (docs/pdt.md §4.1).
    pub fn air_time_ms(&self) -> u64 {
        const BURST_MS: u64 = 60;
        const PREAMBLES: u64 = 6;
        let bursts = match self {
            AirMessage::RadioCheck { .. }
            | AirMessage::CallAlert { .. }
            | AirMessage::Stun { .. }
            | AirMessage::Revive { .. }
            | AirMessage::Kill { .. }
            | AirMessage::EmergencyAck { .. } => PREAMBLES + 1,
            AirMessage::Status { .. } => PREAMBLES + 1,
            AirMessage::Text { text, .. } => {
                let octets = 5 + 2 * text.encode_utf16().count() as u64 + 4;
                PREAMBLES + 1 + octets.div_ceil(12)
            }
            AirMessage::LocationRequest { .. } => PREAMBLES + 1 + (20u64 + 4).div_ceil(16),
        };
        bursts * BURST_MS
    }
}

/// What the core asks of its driver.
// Events are by far the most frequent output and are moved into the journal batch as they
// are; boxing them to shrink the rare `Transmit` variant would add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A state change, to journal (durably, before anyone sees it) and publish.
    Event(Event),
    /// A command to send on a site's slot now (it was paced already). The link reports it
    /// sent with [`Input::TransmissionSent`].
    Transmit {
        site: SiteId,
        slot: Slot,
        profile: AirProfile,
        message: AirMessage,
        priority: Priority,
        operation: OperationId,
        attempt: u8,
    },
    /// The answer to [`Input::Command`] with this `token`.
    Reply {
        token: u64,
        result: Result<Reply, DispatchError>,
    },
}

/// Why an operator command cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The radio is neither in the directory nor heard.
    #[error("unknown radio {0}")]
    UnknownRadio(RadioId),
    /// The talkgroup is neither in the directory nor heard.
    #[error("unknown talkgroup {0}")]
    UnknownTalkgroup(TalkgroupId),
    /// No such alarm (or it aged out of the history).
    #[error("unknown alarm {0}")]
    UnknownAlarm(AlarmId),
    /// No such operation (or it aged out).
    #[error("unknown operation {0}")]
    UnknownOperation(OperationId),
    /// No such message (or it aged out of the history).
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    /// The radio is known but was never heard, so there is no site to send on.
    #[error("radio {0} has not been heard on any site")]
    RadioNotHeard(RadioId),
    /// The talkgroup was never heard, so there is no site to send on.
    #[error("talkgroup {0} has not been heard on any site")]
    TalkgroupNotHeard(TalkgroupId),
    /// The radio was killed; it will not answer.
    #[error("radio {0} has been killed")]
    RadioKilled(RadioId),
    /// The radio is stunned: it answers nothing but stun, revive and kill until revived.
    /// Refused before anything is sent (docs/air-commands.md §4).
    #[error("radio {0} is stunned and cannot answer; revive it first")]
    RadioStunned(RadioId),
    /// The alarm is in a state where the action does not apply.
    #[error("alarm {alarm} is {state:?}; cannot {action}")]
    AlarmState {
        alarm: AlarmId,
        state: AlarmState,
        action: &'static str,
    },
    /// The operation has already finished.
    #[error("operation {operation} already finished ({state:?})")]
    OperationFinished {
        operation: OperationId,
        state: OperationState,
    },
    /// The `request_id` was used before for a different command.
    #[error("request id {0:?} was already used for a different command")]
    RequestIdReused(String),
    /// The site's air profile has no PDU for this service (docs/air-commands.md §1).
    #[error("site {site} ({profile:?}) cannot carry {service:?}")]
    UnsupportedService {
        site: SiteId,
        profile: AirProfile,
        service: Service,
    },
    /// The site's transmit queue is full.
    #[error("transmit queue of site {site} is full ({limit} operations)")]
    QueueFull { site: SiteId, limit: usize },
    /// Too many operations are in flight gateway-wide.
    #[error("too many operations in flight ({limit})")]
    TooManyOperations { limit: usize },
    /// The operation is not awaiting approval (it was approved already, or never needed it).
    #[error("operation {operation} is not awaiting approval ({state:?})")]
    NotAwaitingApproval {
        operation: OperationId,
        state: OperationState,
    },
    /// The identity that asked for the operation tried to approve or reject it: a second,
    /// different identity must.
    #[error("operation {operation} was asked for by {identity}; another identity must decide it")]
    SameIdentity {
        operation: OperationId,
        identity: String,
    },
    /// An approval or rejection without an identity: no one could tell it from the requester.
    #[error("deciding operation {operation} needs an identity")]
    ApproverUnknown { operation: OperationId },
    /// The approval window passed; the operation expired (and was finished as expired).
    #[error("the approval window of operation {operation} has passed; it expired")]
    ApprovalExpired { operation: OperationId },
    /// No such team.
    #[error("unknown team {0:?}")]
    UnknownTeam(String),
    /// No such call-out (or it aged out of the history).
    #[error("unknown call-out {0}")]
    UnknownCallout(CalloutId),
    /// The call-out has already finished.
    #[error("call-out {callout} already finished ({state:?})")]
    CalloutFinished {
        callout: CalloutId,
        state: CalloutState,
    },
    /// The team is defined in the configuration: read-only through the API, and its name
    /// cannot be taken.
    #[error("team {0:?} is defined in the configuration file: change it there")]
    TeamConfigured(String),
    /// A managed team of that name exists.
    #[error("team {0:?} already exists")]
    TeamExists(String),
    /// Another managed team names the team as a backup: deleting it would leave that
    /// team's escalation pointing at nothing.
    #[error("team {team:?} is a backup of team {by:?}: remove it from that team's backups first")]
    TeamInUse { team: String, by: String },
    /// The team changed since the version the client read.
    #[error("team {team:?} changed since it was read (now at etag {current})")]
    EtagMismatch { team: String, current: String },
    /// Too many call-outs are running.
    #[error("too many call-outs running ({limit})")]
    TooManyCallouts { limit: usize },
    /// An argument is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        field: &'static str,
        reason: &'static str,
    },
}

/// Limits and timers. Part of the snapshot, so a replay folds the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How long to wait for an answer after a transmission has left the link, ms (plus the
    /// site's `extra_air_ms`). The PDT repeater waits 4 s for a GPS answer (docs/pdt.md §2.1).
    pub answer_timeout_ms: u64,
    /// A transmission the link never reports sent times out this long after it would have
    /// timed out had it left at once (air time + answer window + this), ms.
    pub sent_report_grace_ms: u64,
    /// Transmissions per operation (or per poll) before it times out. 3 is the default of
    /// the PDT controller's "acknowledged retries" (1–4, docs/pdt.md §1.6).
    pub max_attempts: u8,
    /// How long a queued command waits for its site's link to come back, ms.
    pub site_down_wait_ms: u64,
    /// Operations queued per site at most.
    pub queue_limit: usize,
    /// After a terminator, how long a call waits for the next transmission, ms.
    pub call_hang_ms: u64,
    /// A call with nothing heard for this long ends, ms.
    pub call_idle_ms: u64,
    /// Presence ("last heard") is refreshed at most this often while site and slot stay
    /// the same, ms: one event per radio per interval, not one per burst.
    pub presence_refresh_ms: u64,
    /// Radios kept at most (directory plus heard); more are ignored.
    pub max_radios: usize,
    /// Talkgroups kept at most.
    pub max_talkgroups: usize,
    /// Sites kept at most.
    pub max_sites: usize,
    /// Ended calls kept.
    pub call_history: usize,
    /// Resolved alarms kept.
    pub alarm_history: usize,
    /// Operations not yet finished, across all sites, at most.
    pub max_active_operations: usize,
    /// Finished operations kept (and their request ids).
    pub operation_history: usize,
    /// Received messages kept.
    pub message_history: usize,
    /// Positions kept per radio.
    pub track_len: usize,
    /// Longest text, in UTF-16 code units: 480 octets of data-link payload in the PDT code
    /// (docs/pdt.md §3) less the 5-octet header leaves 237 units.
    pub max_text_units: usize,
    /// Shortest periodic location interval, ms.
    pub min_location_interval_ms: u64,
    /// Most polls of one periodic location request.
    pub max_polls: u32,
    /// Longest talker alias kept, in characters.
    pub max_alias_chars: usize,
    /// After a restart, in-flight operations older than this fail instead of resuming, ms.
    pub recover_max_age_ms: u64,
    /// How long a kill waits for a second identity's approval before it expires, ms.
    pub kill_approval_window_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            answer_timeout_ms: 4_000,
            sent_report_grace_ms: 5_000,
            max_attempts: 3,
            site_down_wait_ms: 60_000,
            queue_limit: 256,
            call_hang_ms: 3_000,
            call_idle_ms: 10_000,
            presence_refresh_ms: 30_000,
            max_radios: 2_000_000,
            max_talkgroups: 100_000,
            max_sites: 1_024,
            call_history: 10_000,
            alarm_history: 10_000,
            max_active_operations: 10_000,
            operation_history: 10_000,
            message_history: 10_000,
            track_len: model::DEFAULT_TRACK_LEN,
            max_text_units: 237,
            min_location_interval_ms: 10_000,
            max_polls: 1_000,
            max_alias_chars: 32,
            recover_max_age_ms: 300_000,
            kill_approval_window_ms: DEFAULT_KILL_APPROVAL_WINDOW_MS,
        }
    }
}

/// Default of [`Config::kill_approval_window_ms`]: five minutes.
pub const DEFAULT_KILL_APPROVAL_WINDOW_MS: u64 = 300_000;

/// The core's whole state: what the events fold into.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    radios: BTreeMap<RadioId, Radio>,
    talkgroups: BTreeMap<TalkgroupId, Talkgroup>,
    teams: Vec<Team>,
    sites: BTreeMap<SiteId, Site>,
    calls: BTreeMap<CallId, Call>,
    /// Calls not ended, in start order (few at a time).
    active_calls: Vec<CallId>,
    ended_calls: VecDeque<CallId>,
    alarms: BTreeMap<AlarmId, Alarm>,
    /// The alarm not yet resolved per radio: repeats merge into it.
    open_alarms: BTreeMap<RadioId, AlarmId>,
    resolved_alarms: VecDeque<AlarmId>,
    operations: BTreeMap<OperationId, Operation>,
    /// Operations not finished: the only ones timers and answers look at.
    active_operations: BTreeSet<OperationId>,
    by_request: BTreeMap<String, OperationId>,
    finished_operations: VecDeque<OperationId>,
    messages: BTreeMap<MessageId, Message>,
    /// Allocated only for radios that report positions.
    tracks: BTreeMap<RadioId, Track>,
    next_call: u64,
    next_alarm: u64,
    next_operation: u64,
    next_message: u64,
    /// Call-outs, running and finished (absent in snapshots written before them).
    #[serde(default)]
    callouts: callout::Callouts,
    /// Teams managed through the API (absent in snapshots written before them).
    #[serde(default)]
    managed_teams: teams::ManagedTeams,
}

/// A serializable copy of the core: config and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSnapshot {
    /// Limits and timers.
    pub config: Config,
    /// State.
    pub state: State,
}

/// The dispatch core. One driver task owns it (docs/design.md "The core and the async edges").
#[derive(Debug, Clone, PartialEq)]
pub struct Core {
    config: Config,
    state: State,
}

impl Core {
    /// An empty core.
    pub fn new(config: Config) -> Core {
        Core {
            config,
            state: State::default(),
        }
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A copy of config and state, to store beside the journal's sequence number.
    pub fn snapshot(&self) -> CoreSnapshot {
        CoreSnapshot {
            config: self.config.clone(),
            state: self.state.clone(),
        }
    }

    /// The core as it was at `snapshot`; apply the later events, then call
    /// [`Core::recover`].
    pub fn restore(snapshot: CoreSnapshot) -> Core {
        Core {
            config: snapshot.config,
            state: snapshot.state,
        }
    }

    /// Operations not yet finished, oldest first.
    fn active_operations(&self) -> impl Iterator<Item = &Operation> {
        self.state
            .active_operations
            .iter()
            .filter_map(|id| self.state.operations.get(id))
    }

    /// Whether any site's link is up (for the health service).
    pub fn any_link_up(&self) -> bool {
        self.state.sites.values().any(|s| s.link_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn air_time_counts_preambles_and_blocks() {
        let r = RadioId::new(1).unwrap();
        // 6 preambles + 1 CSBK.
        assert_eq!(AirMessage::Stun { radio: r }.air_time_ms(), 420);
        // 5 + 2·2 + 4 = 13 octets → 2 blocks, + header + 6 preambles.
        let text = AirMessage::Text {
            to: Addressee::Radio(r),
            text: "测试".into(),
        };
        assert_eq!(text.air_time_ms(), 9 * 60);
        // 5 + 2·237 + 4 = 483 octets → 41 blocks.
        let long = AirMessage::Text {
            to: Addressee::Radio(r),
            text: "字".repeat(237),
        };
        assert_eq!(long.air_time_ms(), (7 + 41) * 60);
        assert_eq!(
            AirMessage::LocationRequest {
                radio: r,
                request: 0
            }
            .air_time_ms(),
            9 * 60
        );
    }

    #[test]
    fn group_sends_and_emergency_acks_take_no_answer() {
        let r = RadioId::new(1).unwrap();
        let g = TalkgroupId::new(1).unwrap();
        let text = |to| AirMessage::Text {
            to,
            text: "x".into(),
        };
        assert!(text(Addressee::Radio(r)).expects_answer());
        assert!(!text(Addressee::Talkgroup(g)).expects_answer());
        assert!(
            !AirMessage::EmergencyAck {
                radio: r,
                talkgroup: None
            }
            .expects_answer()
        );
        assert!(AirMessage::RadioCheck { radio: r }.expects_answer());
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_str(r#"{"max_attempts": 2}"#).unwrap();
        assert_eq!(c.max_attempts, 2);
        assert_eq!(c.answer_timeout_ms, Config::default().answer_timeout_ms);
        assert!(serde_json::from_str::<Config>(r#"{"max_attempt": 2}"#).is_err());
    }
}
