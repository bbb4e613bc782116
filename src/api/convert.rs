//! Conversions between the dispatch domain and trunkgate.v1 messages: resource names
//! (AIP-122), opaque page tokens (AIP-158), domain resources and events to proto, and the
//! validation of inbound requests into core [`Command`]s (`TryFrom<pb::X>` with a precise
//! INVALID_ARGUMENT naming the request field).
//!
//! Radio and talkgroup names use the dial number when the air address has one and accept
//! every form [`RadioId`]'s `FromStr` takes (8 dial digits, `0x<hex>`, `#<decimal>`, a plain
//! decimal of at most 7 digits), so a console may name a radio either way (dispatch/ids.rs,
//! docs/pdt.md §1.1–§1.3). A bare identity where a radio or a talkgroup may be meant is
//! resolved against the core's directory ([`resolve_addressee`]). Teams are named by their
//! configured key (`teams/qingshan`), never by their place in the file. Conversions that
//! need names beside the resource (a radio's team and position, a message's display names)
//! take what the core holds and run on the driver.

use serde::{Deserialize, Serialize};
use tonic::Status;

use super::pb;
use super::status::invalid_argument;
use crate::dispatch::{
    Addressee, Alarm, AlarmId, AlarmState, Call, CallEndReason, CallId, Command, Core, Direction,
    Event, EventKind, FailReason, Mark, Message, MessageBody, MessageId, MessageMark, Operation,
    OperationId, OperationState, OtaCommand, Periodic, Position, PositionReport, PositionSource,
    RadioControl, RadioId, RadioView, Service, Site, SiteId, Talkgroup, TalkgroupId, Team, TeamId,
    Timestamp,
};
use crate::dispatch::{
    AirProfile, DeliveryLevel, DeliveryState, LocationPoll, LossReason, OperationResult,
    PollOutcome,
};
use crate::journal::Cursor;
use crate::link::Slot;

/// Longest resource name or page token accepted, in bytes (bounded input).
pub const MAX_NAME_LEN: usize = 256;
const MAX_TOKEN_LEN: usize = 1024;

// ---- names ----------------------------------------------------------------------------

/// `radios/{dial or 0xHEX}`.
pub fn radio_name(r: RadioId) -> String {
    format!("radios/{r}")
}

/// `talkgroups/{dial or 0xHEX}`.
pub fn talkgroup_name(t: TalkgroupId) -> String {
    format!("talkgroups/{t}")
}

/// `sites/{name}`.
pub fn site_name(s: &SiteId) -> String {
    format!("sites/{s}")
}

/// `teams/{configured name}`.
pub fn team_name(key: &str) -> String {
    format!("teams/{key}")
}

/// `messages/{n}`.
pub fn message_name(m: MessageId) -> String {
    format!("messages/{}", m.0)
}

/// `calls/{n}`.
pub fn call_name(c: CallId) -> String {
    format!("calls/{}", c.0)
}

/// `alarms/{n}`.
pub fn alarm_name(a: AlarmId) -> String {
    format!("alarms/{}", a.0)
}

/// `operations/{n}`.
pub fn operation_name(o: OperationId) -> String {
    format!("operations/{}", o.0)
}

/// `radios/..` or `talkgroups/..`.
pub fn addressee_name(a: Addressee) -> String {
    match a {
        Addressee::Radio(r) => radio_name(r),
        Addressee::Talkgroup(t) => talkgroup_name(t),
    }
}

/// Refuse control characters (C0, DEL, C1: `char::is_control`) in an identifier or name
/// from a client: shown raw in a table or a log they could rewrite it or drive a terminal.
pub fn plain<'a>(field: &str, s: &'a str) -> Result<&'a str, Status> {
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(invalid_argument(
            field,
            format!("must not contain control characters (found {c:?})"),
        )),
        None => Ok(s),
    }
}

fn segment<'a>(field: &str, collection: &str, name: &'a str) -> Result<&'a str, Status> {
    if name.is_empty() {
        return Err(invalid_argument(field, "required"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid_argument(
            field,
            format!("name longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    plain(field, name)?;
    match name
        .strip_prefix(collection)
        .and_then(|s| s.strip_prefix('/'))
    {
        Some(seg) if !seg.is_empty() && !seg.contains('/') && seg.trim() == seg => Ok(seg),
        _ => Err(invalid_argument(
            field,
            format!("expected {collection}/{{id}}, got {name:?}"),
        )),
    }
}

/// A radio from `radios/{dial | 0xHEX | #decimal}`.
pub fn parse_radio(field: &str, name: &str) -> Result<RadioId, Status> {
    let seg = segment(field, "radios", name)?;
    seg.parse()
        .map_err(|e| invalid_argument(field, format!("{seg:?}: {e}")))
}

/// A talkgroup from `talkgroups/{dial | 0xHEX | #decimal}`.
pub fn parse_talkgroup(field: &str, name: &str) -> Result<TalkgroupId, Status> {
    let seg = segment(field, "talkgroups", name)?;
    seg.parse()
        .map_err(|e| invalid_argument(field, format!("{seg:?}: {e}")))
}

/// A radio or talkgroup name.
pub fn parse_addressee(field: &str, name: &str) -> Result<Addressee, Status> {
    if name.starts_with("talkgroups/") {
        parse_talkgroup(field, name).map(Addressee::Talkgroup)
    } else if name.starts_with("radios/") {
        parse_radio(field, name).map(Addressee::Radio)
    } else if name.is_empty() {
        Err(invalid_argument(field, "required"))
    } else {
        Err(invalid_argument(
            field,
            format!("expected radios/{{id}} or talkgroups/{{id}}, got {name:?}"),
        ))
    }
}

fn parse_seq(field: &str, collection: &str, name: &str) -> Result<u64, Status> {
    let seg = segment(field, collection, name)?;
    let bad = || invalid_argument(field, format!("{seg:?} is not a {collection} number"));
    // Canonical decimal only: no sign, no leading zero (so one resource has one name).
    if !seg.bytes().all(|b| b.is_ascii_digit()) || (seg.len() > 1 && seg.starts_with('0')) {
        return Err(bad());
    }
    seg.parse().map_err(|_| bad())
}

/// `alarms/{n}`.
pub fn parse_alarm(field: &str, name: &str) -> Result<AlarmId, Status> {
    parse_seq(field, "alarms", name).map(AlarmId)
}

/// `operations/{n}`.
pub fn parse_operation(field: &str, name: &str) -> Result<OperationId, Status> {
    parse_seq(field, "operations", name).map(OperationId)
}

/// `sites/{name}`.
pub fn parse_site(field: &str, name: &str) -> Result<SiteId, Status> {
    segment(field, "sites", name).map(SiteId::new)
}

/// `teams/{configured name}`: the key, resolved against the directory by the caller.
pub fn parse_team(field: &str, name: &str) -> Result<String, Status> {
    segment(field, "teams", name).map(str::to_string)
}

/// `messages/{n}`.
pub fn parse_message(field: &str, name: &str) -> Result<MessageId, Status> {
    parse_seq(field, "messages", name).map(MessageId)
}

/// `calls/{n}`.
pub fn parse_call(field: &str, name: &str) -> Result<CallId, Status> {
    parse_seq(field, "calls", name).map(CallId)
}

/// The team with key `key`, as the internal index a filter takes; INVALID_ARGUMENT naming
/// `field` when there is none.
pub fn team_id(core: &Core, field: &str, key: &str) -> Result<TeamId, Status> {
    core.team_by_key(key)
        .map(|t| t.id)
        .ok_or_else(|| invalid_argument(field, format!("no team {:?} in the directory", key)))
}

/// A resource name as given, or an identity as a user types it (no collection) resolved
/// against the radios and talkgroups `core` knows (Core::resolve): `radios/..` or
/// `talkgroups/..`. An ambiguous or unknown one is INVALID_ARGUMENT naming `field` and the
/// readings.
pub fn resolve_addressee(core: &Core, field: &str, typed: &str) -> Result<Addressee, Status> {
    if typed.contains('/') || typed.is_empty() {
        return parse_addressee(field, typed);
    }
    if typed.len() > MAX_NAME_LEN {
        return Err(invalid_argument(
            field,
            format!("name longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    plain(field, typed)?;
    core.resolve(typed)
        .map_err(|e| invalid_argument(field, e.to_string()))
}

fn opt<T>(
    field: &str,
    name: &str,
    parse: fn(&str, &str) -> Result<T, Status>,
) -> Result<Option<T>, Status> {
    if name.is_empty() {
        Ok(None)
    } else {
        parse(field, name).map(Some)
    }
}

/// An optional name field: empty is `None`.
pub fn parse_optional<T>(
    field: &str,
    name: &str,
    parse: fn(&str, &str) -> Result<T, Status>,
) -> Result<Option<T>, Status> {
    opt(field, name, parse)
}

/// A request time as Unix milliseconds; unset is `None`, before 1970 INVALID_ARGUMENT.
pub fn request_time(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<Timestamp>, Status> {
    let Some(t) = t else {
        return Ok(None);
    };
    if t.seconds < 0 || !(0..1_000_000_000).contains(&t.nanos) {
        return Err(invalid_argument(field, "before 1970 or malformed"));
    }
    let ms = (t.seconds as u64)
        .saturating_mul(1000)
        .saturating_add(t.nanos as u64 / 1_000_000);
    Ok(Some(Timestamp(ms)))
}

/// Longest `request_id` and operator name, in bytes (the core's limit).
pub const MAX_KEY_LEN: usize = 128;

/// An optional `request_id`: empty is none; at most [`MAX_KEY_LEN`] bytes, no control
/// characters.
pub fn request_id(id: String) -> Result<Option<String>, Status> {
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_KEY_LEN {
        return Err(invalid_argument(
            "request_id",
            format!("longer than {MAX_KEY_LEN} bytes"),
        ));
    }
    plain("request_id", &id)?;
    Ok(Some(id))
}

/// Longest interval between location polls: one day (with at most
/// `dispatch::Config::max_polls` polls, the last poll stays within a few years).
pub const MAX_LOCATION_INTERVAL_SECS: i64 = 86_400;

// ---- pagination -------------------------------------------------------------------------

/// Page sizes (AIP-158): 0 → `default`, above `max` → `max`, negative → INVALID_ARGUMENT.
pub fn page_size(requested: i32, default: usize, max: usize) -> Result<usize, Status> {
    match requested {
        n if n < 0 => Err(invalid_argument("page_size", "must not be negative")),
        0 => Ok(default.clamp(1, max.max(1))),
        n => Ok((n as usize).min(max.max(1))),
    }
}

/// What a page token holds: the method, a fingerprint of the filter fields and ordering it
/// was made for, and the last key.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Token {
    m: String,
    f: String,
    k: String,
}

/// Mixed into a token's check so that a token is not just any hex of valid JSON (a
/// tamper-evident seal, not a secret: keys are resume points and every key is validated
/// like any request field).
const TOKEN_SEAL: &[u8] = b"trunkgate.v1 page token";
/// Octets of the check appended to a token.
const TOKEN_CHECK_LEN: usize = 8;

fn token_check(payload: &[u8]) -> [u8; TOKEN_CHECK_LEN] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(TOKEN_SEAL)
        .chain_update(payload)
        .finalize();
    let mut check = [0u8; TOKEN_CHECK_LEN];
    check.copy_from_slice(&digest[..TOKEN_CHECK_LEN]);
    check
}

/// The fingerprint of a filter: long filters make short tokens.
fn filter_fingerprint(filter: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(filter.as_bytes())[..12])
}

/// An opaque token to resume `method` with `filter` (every filter and ordering field of the
/// request, joined) after `key`.
pub fn encode_token(method: &str, filter: &str, key: &str) -> String {
    let t = Token {
        m: method.into(),
        f: filter_fingerprint(filter),
        k: key.into(),
    };
    // A struct of three strings always serializes.
    let mut bytes = serde_json::to_vec(&t).unwrap_or_default();
    let check = token_check(&bytes);
    bytes.extend_from_slice(&check);
    hex::encode(bytes)
}

/// The key of a page token, checked against `method` and `filter`; empty token → `None`.
/// Anything else than a token the server made for this method is INVALID_ARGUMENT that does
/// not echo the token.
pub fn decode_token(token: &str, method: &str, filter: &str) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || invalid_argument("page_token", "not a page token of this list");
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad());
    }
    let bytes = hex::decode(token).map_err(|_| bad())?;
    if bytes.len() <= TOKEN_CHECK_LEN {
        return Err(bad());
    }
    let (payload, check) = bytes.split_at(bytes.len() - TOKEN_CHECK_LEN);
    if check != token_check(payload) {
        return Err(bad());
    }
    let t: Token = serde_json::from_slice(payload).map_err(|_| bad())?;
    if t.m != method {
        return Err(bad());
    }
    if t.f != filter_fingerprint(filter) {
        return Err(invalid_argument(
            "page_token",
            "the filter or order_by differs from the request that made this token",
        ));
    }
    Ok(Some(t.k))
}

/// A token key as a number.
pub fn token_u64(key: Option<String>) -> Result<Option<u64>, Status> {
    key.map(|k| {
        k.parse()
            .map_err(|_| invalid_argument("page_token", "not a page token of this list"))
    })
    .transpose()
}

// ---- domain → proto -----------------------------------------------------------------------

/// Latest time a google.protobuf.Timestamp may hold: 9999-12-31T23:59:59Z
/// (timestamp.proto: "Must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z").
const MAX_TIMESTAMP_SECS: u64 = 253_402_300_799;

/// Unix milliseconds as a protobuf timestamp, clamped to the range the type allows (a
/// client's decoder may reject anything later).
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    if t.0 / 1000 > MAX_TIMESTAMP_SECS {
        return prost_types::Timestamp {
            seconds: MAX_TIMESTAMP_SECS as i64,
            nanos: 0,
        };
    }
    prost_types::Timestamp {
        seconds: (t.0 / 1000) as i64,
        nanos: ((t.0 % 1000) * 1_000_000) as i32,
    }
}

/// Milliseconds as a protobuf duration.
fn duration_ms(ms: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

fn ts(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

fn slot(s: Slot) -> i32 {
    match s {
        Slot::One => pb::Slot::One as i32,
        Slot::Two => pb::Slot::Two as i32,
    }
}

/// The proto service enum.
pub fn service(s: Service) -> pb::Service {
    match s {
        Service::RadioCheck => pb::Service::RadioCheck,
        Service::CallAlert => pb::Service::CallAlert,
        Service::Stun => pb::Service::Stun,
        Service::Revive => pb::Service::Revive,
        Service::Kill => pb::Service::Kill,
        Service::Text => pb::Service::Text,
        Service::Status => pb::Service::Status,
        Service::Location => pb::Service::Location,
        Service::EmergencyAck => pb::Service::EmergencyAck,
    }
}

fn control(c: RadioControl) -> pb::radio::Control {
    match c {
        RadioControl::Enabled => pb::radio::Control::Enabled,
        RadioControl::Stunned => pb::radio::Control::Stunned,
        RadioControl::Killed => pb::radio::Control::Killed,
    }
}

fn dial<T: ToString>(d: Option<T>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn s_or_empty<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map(f).unwrap_or_default()
}

/// A radio resource, with its team's name and last known position.
pub fn radio(v: &RadioView) -> pb::Radio {
    let r = &v.radio;
    pb::Radio {
        position: v.position.as_ref().map(|p| position_report(r.id, p)),
        name: radio_name(r.id),
        air_id: r.id.air(),
        dial_number: dial(r.id.dial()),
        display_name: r.name.as_deref().unwrap_or_default().to_string(),
        alias: r.alias.as_deref().unwrap_or_default().to_string(),
        team: s_or_empty(v.team.as_deref(), team_name),
        registered: r.registered,
        talkgroup: s_or_empty(r.talkgroup, talkgroup_name),
        presence: r.presence.as_ref().map(|p| pb::Presence {
            last_heard_time: Some(timestamp(p.at)),
            site: site_name(&p.site),
            slot: slot(p.slot),
            rssi_dbm: p.rssi_dbm.map(i32::from),
        }),
        control: control(r.control) as i32,
        supported_services: Service::ALL
            .iter()
            .filter(|s| r.capabilities.get(**s) == Some(true))
            .map(|s| service(*s) as i32)
            .collect(),
        unsupported_services: Service::ALL
            .iter()
            .filter(|s| r.capabilities.get(**s) == Some(false))
            .map(|s| service(*s) as i32)
            .collect(),
    }
}

/// A talkgroup resource.
pub fn talkgroup(t: &Talkgroup) -> pb::Talkgroup {
    pb::Talkgroup {
        name: talkgroup_name(t.id),
        air_id: t.id.air(),
        dial_number: dial(t.id.dial()),
        display_name: t.name.as_deref().unwrap_or_default().to_string(),
        active_call: s_or_empty(t.active_call, call_name),
        last_site: s_or_empty(t.last_site.as_ref(), site_name),
        last_heard_time: ts(t.last_heard),
    }
}

/// A site resource.
pub fn site(s: &Site) -> pb::Site {
    pb::Site {
        name: site_name(&s.id),
        display_name: s.display_name.clone().unwrap_or_default(),
        profile: match s.profile {
            AirProfile::TierIii => pb::site::Profile::TierIii,
            AirProfile::DmraConventional => pb::site::Profile::DmraConventional,
            AirProfile::Pdt => pb::site::Profile::Pdt,
        } as i32,
        link_up: s.link_up,
        down_since_time: ts(s.down_since),
        queued_operations: u32::try_from(s.queue.len()).unwrap_or(u32::MAX),
        links: Vec::new(),
    }
}

/// A link's status on a site resource.
pub fn link_status(l: &super::backend::LinkStatus) -> pb::LinkStatus {
    let time = |t: std::time::SystemTime| {
        let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        prost_types::Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }
    };
    pb::LinkStatus {
        name: l.name.clone(),
        kind: l.kind.clone(),
        up: l.up,
        state_since_time: l.since.map(time),
        down_reason: l.down_reason.clone(),
        counters: l.counters.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        last_failure: l
            .last_failure
            .as_ref()
            .map(|(w, _)| w.clone())
            .unwrap_or_default(),
        last_failure_time: l.last_failure.as_ref().map(|(_, t)| time(*t)),
    }
}

/// A team resource.
pub fn team(t: &Team) -> pb::Team {
    pb::Team {
        name: team_name(&t.resource_key()),
        display_name: t.name.clone(),
        radios: t.radios.iter().map(|r| radio_name(*r)).collect(),
        talkgroup: s_or_empty(t.talkgroup, talkgroup_name),
        level: t
            .level
            .map_or(0, |l| crate::api::callout::team_level(l) as i32),
        members: t
            .radios
            .iter()
            .map(|r| pb::team::Member {
                radio: radio_name(*r),
                role: crate::api::callout::team_role(t.role_of(*r)) as i32,
            })
            .collect(),
        backup_teams: t.backups.iter().map(|k| team_name(k)).collect(),
        home: t.home.map(|h| pb::team::Home {
            latitude: h.latitude,
            longitude: h.longitude,
        }),
        configured: true,
        etag: String::new(),
        create_time: None,
        update_time: None,
    }
}

fn end_reason(r: CallEndReason) -> pb::call::EndReason {
    match r {
        CallEndReason::Cleared => pb::call::EndReason::Cleared,
        CallEndReason::HangTimeExpired => pb::call::EndReason::HangTimeExpired,
        CallEndReason::Idle => pb::call::EndReason::Idle,
        CallEndReason::GatewayRestart => pb::call::EndReason::GatewayRestart,
    }
}

/// A call resource.
pub fn call(c: &Call) -> pb::Call {
    pb::Call {
        name: call_name(c.id),
        target: addressee_name(c.target),
        site: site_name(&c.site),
        slot: slot(c.slot),
        talkers: c.talkers.iter().map(|r| radio_name(*r)).collect(),
        talker: s_or_empty(c.talker, radio_name),
        emergency: c.emergency,
        privacy: c.privacy,
        state: if c.ended.is_some() {
            pb::call::State::Ended
        } else {
            pb::call::State::Active
        } as i32,
        start_time: Some(timestamp(c.started)),
        last_activity_time: Some(timestamp(c.last_activity)),
        end_time: ts(c.ended),
        end_reason: c.end_reason.map_or(0, |r| end_reason(r) as i32),
        display_names: Default::default(),
    }
}

/// The proto alarm state.
pub fn alarm_state(s: AlarmState) -> pb::alarm::State {
    match s {
        AlarmState::Raised => pb::alarm::State::Raised,
        AlarmState::Acknowledged => pb::alarm::State::Acknowledged,
        AlarmState::Resolved => pb::alarm::State::Resolved,
    }
}

/// An alarm resource.
pub fn alarm(a: &Alarm) -> pb::Alarm {
    let (ack_by, ack_at, ack_op) = match &a.acknowledged {
        Some((who, at, op)) => (
            who.clone(),
            Some(timestamp(*at)),
            s_or_empty(*op, operation_name),
        ),
        None => (String::new(), None, String::new()),
    };
    let (res_by, res_at) = match &a.resolved {
        Some((who, at)) => (who.clone(), Some(timestamp(*at))),
        None => (String::new(), None),
    };
    pb::Alarm {
        name: alarm_name(a.id),
        radio: radio_name(a.radio),
        talkgroup: s_or_empty(a.talkgroup, talkgroup_name),
        site: site_name(&a.site),
        state: alarm_state(a.state) as i32,
        raise_time: Some(timestamp(a.raised)),
        last_heard_time: Some(timestamp(a.last_heard)),
        repeats: a.repeats,
        acknowledged_by: ack_by,
        acknowledge_time: ack_at,
        acknowledge_operation: ack_op,
        resolved_by: res_by,
        resolve_time: res_at,
        display_names: Default::default(),
    }
}

/// The proto operation state.
pub fn operation_state(s: OperationState) -> pb::operation::State {
    match s {
        OperationState::Queued => pb::operation::State::Queued,
        OperationState::Sent => pb::operation::State::Sent,
        OperationState::Waiting => pb::operation::State::Waiting,
        OperationState::Succeeded => pb::operation::State::Succeeded,
        OperationState::Refused => pb::operation::State::Refused,
        OperationState::TimedOut => pb::operation::State::TimedOut,
        OperationState::Failed => pb::operation::State::Failed,
        OperationState::Cancelled => pb::operation::State::Cancelled,
        OperationState::AwaitingApproval => pb::operation::State::AwaitingApproval,
        OperationState::Rejected => pb::operation::State::Rejected,
        OperationState::Expired => pb::operation::State::Expired,
    }
}

fn failure(f: &FailReason) -> String {
    match f {
        FailReason::SiteDown { .. } => "site_down",
        FailReason::GatewayRestart => "gateway_restart",
        FailReason::NoSite => "no_site",
    }
    .to_string()
}

fn delivery_level(l: DeliveryLevel) -> pb::DeliveryLevel {
    match l {
        DeliveryLevel::Confirmed => pb::DeliveryLevel::Confirmed,
        DeliveryLevel::Transmitted => pb::DeliveryLevel::Transmitted,
        DeliveryLevel::Partial => pb::DeliveryLevel::Partial,
    }
}

/// The data a command found out.
pub fn operation_result(r: &OperationResult) -> pb::OperationResult {
    use pb::operation_result::Result as R;
    let result = match r {
        OperationResult::RadioCheck { site, rssi_dbm } => R::RadioCheck(pb::RadioCheckResult {
            site: site_name(site),
            rssi_dbm: rssi_dbm.map(i32::from),
        }),
        OperationResult::Location { site, position: p } => R::Location(pb::LocationResult {
            site: site_name(site),
            position: Some(position(p)),
        }),
    };
    pb::OperationResult {
        result: Some(result),
    }
}

/// One finished poll of a periodic location request.
fn location_poll(p: &LocationPoll) -> pb::LocationPoll {
    use pb::location_poll::Outcome;
    let outcome = match &p.outcome {
        PollOutcome::Position {
            site,
            position: fix,
        } => Outcome::Location(pb::LocationResult {
            site: site_name(site),
            position: Some(position(fix)),
        }),
        PollOutcome::TimedOut { attempts } => Outcome::TimedOutAttempts(u32::from(*attempts)),
    };
    pb::LocationPoll {
        poll: p.poll,
        finish_time: Some(timestamp(p.at)),
        outcome: Some(outcome),
    }
}

fn delivery_state(s: DeliveryState) -> pb::site_transmission::State {
    use pb::site_transmission::State;
    match s {
        DeliveryState::Queued => State::Queued,
        DeliveryState::Transmitting => State::Transmitting,
        DeliveryState::Sent => State::Sent,
        DeliveryState::LinkDown => State::LinkDown,
        DeliveryState::NotReported => State::NotReported,
    }
}

/// An operation resource.
pub fn operation(o: &Operation) -> pb::Operation {
    use pb::operation::Kind;
    let mut p = pb::Operation {
        name: operation_name(o.id),
        request_id: o.request_id.clone().unwrap_or_default(),
        operator: o.operator.clone().unwrap_or_default(),
        target: addressee_name(o.command.addressee()),
        state: operation_state(o.state) as i32,
        done: o.state.is_final(),
        site: s_or_empty(o.site.as_ref(), site_name),
        attempts: u32::from(o.attempts),
        create_time: Some(timestamp(o.created)),
        update_time: Some(timestamp(o.updated)),
        deadline: ts(o.deadline),
        next_poll_time: ts(o.next_poll),
        polls_done: o.polls_done,
        refusal_code: o.refusal.map(|r| u32::from(r.code)),
        failure: o.failure.as_ref().map(failure).unwrap_or_default(),
        site_transmissions: o
            .deliveries
            .iter()
            .map(|d| pb::SiteTransmission {
                site: site_name(&d.site),
                state: delivery_state(d.state) as i32,
                slot: d.slot.map_or(0, |s| u32::from(s.number())),
                sent_time: ts(d.sent_at),
            })
            .collect(),
        delivery: o.delivery_level().map_or(0, |l| delivery_level(l) as i32),
        result: o.result.as_deref().map(operation_result),
        polls: o.polls().iter().map(location_poll).collect(),
        reason: o.reason().unwrap_or_default().to_string(),
        approval_deadline: ts(o.approval().map(|a| a.deadline)),
        ..pb::Operation::default()
    };
    if let Some(d) = o.approval().and_then(|a| a.decided.as_ref()) {
        p.approver = d.by.clone();
        p.approval_time = Some(timestamp(d.at));
        p.approval_reason = d.reason.clone().unwrap_or_default();
    }
    let kind = match &o.command {
        OtaCommand::RadioCheck { .. } => Kind::RadioCheck,
        OtaCommand::CallAlert { .. } => Kind::CallAlert,
        OtaCommand::Stun { .. } => Kind::Stun,
        OtaCommand::Revive { .. } => Kind::Revive,
        OtaCommand::Kill { .. } => Kind::Kill,
        OtaCommand::SendText { text, .. } => {
            p.text = text.clone();
            Kind::SendText
        }
        OtaCommand::SendStatus { status, .. } => {
            p.status = u32::from(*status);
            Kind::SendStatus
        }
        OtaCommand::RequestLocation { periodic, .. } => {
            if let Some(per) = periodic {
                p.location_interval = Some(duration_ms(per.interval_ms));
                p.location_polls = per.count;
            }
            Kind::RequestLocation
        }
        OtaCommand::AcknowledgeEmergency { alarm, .. } => {
            p.alarm = alarm_name(*alarm);
            Kind::AcknowledgeEmergency
        }
    };
    p.kind = kind as i32;
    p
}

/// A position fix (without receive time, site or radio; see [`position_report`]).
pub fn position(p: &Position) -> pb::Position {
    use pb::position::Source;
    let (source, kind) = match p.source {
        PositionSource::EmbeddedLc => ("embedded_lc", Source::GpsLc),
        PositionSource::Lrrp => ("lrrp", Source::Lrrp),
        PositionSource::UdtNmea => ("udt_nmea", Source::UdtNmea),
        PositionSource::HyteraLp => ("hytera_lp", Source::PdtReport),
    };
    pb::Position {
        latitude: p.latitude,
        longitude: p.longitude,
        accuracy_m: p.accuracy_m,
        speed_kmh: p.speed_kmh,
        heading_deg: p.heading_deg.map(u32::from),
        fix_time: ts(p.fix_time),
        source: source.to_string(),
        altitude_m: p.altitude_m.map(f64::from),
        source_kind: kind as i32,
        receive_time: None,
        site: String::new(),
        radio: String::new(),
    }
}

/// A position as `radio` reported it: the fix, when it was received and through which site.
pub fn position_report(radio: RadioId, r: &PositionReport) -> pb::Position {
    pb::Position {
        receive_time: Some(timestamp(r.at)),
        site: site_name(&r.site),
        radio: radio_name(radio),
        ..position(&r.position)
    }
}

fn mark(m: &Option<Mark>) -> (bool, String, Option<prost_types::Timestamp>) {
    match m {
        Some(m) => (true, m.by.clone(), Some(timestamp(m.at))),
        None => (false, String::new(), None),
    }
}

/// A message resource; `team` is the key of the team of the radio involved, and
/// `display_names` the display names of the resources it names.
pub fn message(
    m: &Message,
    team: Option<&str>,
    display_names: std::collections::HashMap<String, String>,
) -> pb::Message {
    let (read, read_by, read_time) = mark(&m.read);
    let (handled, handled_by, handle_time) = mark(&m.handled);
    pb::Message {
        name: message_name(m.id),
        direction: match m.direction {
            Direction::Inbound => pb::message::Direction::Inbound,
            Direction::Outbound => pb::message::Direction::Outbound,
        } as i32,
        source: s_or_empty(m.source, radio_name),
        target: addressee_name(m.to),
        site: site_name(&m.site),
        body: Some(match &m.body {
            MessageBody::Text { text } => pb::message::Body::Text(text.clone()),
            MessageBody::Status { status } => pb::message::Body::Status(u32::from(*status)),
        }),
        create_time: Some(timestamp(m.at)),
        operator: m.operator.clone().unwrap_or_default(),
        operation: s_or_empty(m.operation, operation_name),
        read,
        read_by,
        read_time,
        handled,
        handled_by,
        handle_time,
        team: s_or_empty(team, team_name),
        display_names,
    }
}

/// A message with its team and display names, looked up in `core` (run on the driver).
pub fn message_in(core: &Core, m: &Message) -> pb::Message {
    let mut names = std::collections::HashMap::new();
    let team = m
        .radio()
        .and_then(|r| core.radio(r))
        .and_then(|r| r.team)
        .and_then(|t| core.team(t));
    for r in [m.source, m.radio()].into_iter().flatten() {
        if let Some(n) = core.radio(r).and_then(|r| r.name.as_deref()) {
            names.insert(radio_name(r), n.to_string());
        }
    }
    if let Addressee::Talkgroup(t) = m.to
        && let Some(n) = core.talkgroup(t).and_then(|t| t.name.as_deref())
    {
        names.insert(talkgroup_name(t), n.to_string());
    }
    if let Some(n) = core.site(&m.site).and_then(|s| s.display_name.as_deref()) {
        names.insert(site_name(&m.site), n.to_string());
    }
    if let Some(t) = team {
        names.insert(team_name(&t.resource_key()), t.name.clone());
    }
    let key = team.map(Team::resource_key);
    message(m, key.as_deref(), names)
}

/// The display name of the radio, talkgroup, site or team a resource name names, if it has
/// one.
pub fn display_name(core: &Core, name: &str) -> Option<String> {
    let (collection, seg) = name.split_once('/')?;
    let owned = |s: Option<&str>| s.map(str::to_string);
    match collection {
        "radios" => owned(core.radio(seg.parse().ok()?)?.name.as_deref()),
        "talkgroups" => owned(core.talkgroup(seg.parse().ok()?)?.name.as_deref()),
        "sites" => core.site(&SiteId::new(seg))?.display_name.clone(),
        "teams" => core.team_by_key(seg).map(|t| t.name.clone()),
        _ => None,
    }
}

/// A resource that carries the display names of the resources it names.
pub trait Named {
    /// The resource names it names.
    fn refs(&self) -> Vec<String>;
    /// Where their display names go.
    fn display_names_mut(&mut self) -> &mut std::collections::HashMap<String, String>;
}

impl Named for pb::Call {
    fn refs(&self) -> Vec<String> {
        let mut r = vec![self.target.clone(), self.site.clone(), self.talker.clone()];
        r.extend(self.talkers.iter().cloned());
        r
    }
    fn display_names_mut(&mut self) -> &mut std::collections::HashMap<String, String> {
        &mut self.display_names
    }
}

impl Named for pb::Alarm {
    fn refs(&self) -> Vec<String> {
        vec![
            self.radio.clone(),
            self.talkgroup.clone(),
            self.site.clone(),
        ]
    }
    fn display_names_mut(&mut self) -> &mut std::collections::HashMap<String, String> {
        &mut self.display_names
    }
}

impl Named for pb::Operation {
    fn refs(&self) -> Vec<String> {
        use pb::operation_result::Result as R;
        let mut r = vec![self.target.clone(), self.site.clone()];
        // Group traffic names every site it goes out on; a result names where it was heard.
        r.extend(self.site_transmissions.iter().map(|t| t.site.clone()));
        match self.result.as_ref().and_then(|x| x.result.as_ref()) {
            Some(R::RadioCheck(c)) => r.push(c.site.clone()),
            Some(R::Location(l)) => r.push(l.site.clone()),
            None => {}
        }
        r
    }
    fn display_names_mut(&mut self) -> &mut std::collections::HashMap<String, String> {
        &mut self.display_names
    }
}

/// Fill in the display names of what `items` name, looked up in `core` (run on the driver).
pub fn name_in<T: Named>(core: &Core, items: &mut [T]) {
    for item in items {
        for n in item.refs() {
            if n.is_empty() {
                continue;
            }
            if let Some(d) = display_name(core, &n) {
                item.display_names_mut().insert(n, d);
            }
        }
    }
}

/// A message mark command.
pub fn mark_command(name: &str, mark: MessageMark) -> Result<Command, Status> {
    Ok(Command::MarkMessage {
        message: parse_message("name", name)?,
        mark,
    })
}

/// A journaled event with its cursor.
pub fn event(cursor: Cursor, e: &Event) -> pb::Event {
    use pb::event::Payload as P;
    let payload = match &e.kind {
        EventKind::DirectoryLoaded { directory: d } => P::DirectoryLoaded(pb::DirectoryLoaded {
            radios: d.radios.len() as u32,
            talkgroups: d.talkgroups.len() as u32,
            sites: d.sites.len() as u32,
            teams: d.teams.len() as u32,
        }),
        EventKind::SiteAdded { site } => P::SiteAdded(pb::SiteAdded {
            site: site_name(site),
        }),
        EventKind::SiteLinkChanged { site, up } => P::SiteLinkChanged(pb::SiteLinkChanged {
            site: site_name(site),
            up: *up,
        }),
        EventKind::RadioHeard {
            radio,
            site,
            slot: s,
            rssi_dbm,
        } => P::RadioHeard(pb::RadioHeard {
            radio: radio_name(*radio),
            site: site_name(site),
            slot: slot(*s),
            rssi_dbm: rssi_dbm.map(i32::from),
        }),
        EventKind::RadioRegistered { radio, site } => P::RadioRegistered(pb::RadioRegistered {
            radio: radio_name(*radio),
            site: site_name(site),
        }),
        EventKind::RadioDeregistered { radio } => P::RadioDeregistered(pb::RadioDeregistered {
            radio: radio_name(*radio),
        }),
        EventKind::RadioAffiliated {
            radio,
            talkgroup,
            site,
        } => P::RadioAffiliated(pb::RadioAffiliated {
            radio: radio_name(*radio),
            talkgroup: talkgroup_name(*talkgroup),
            site: site_name(site),
        }),
        EventKind::RadioAliasLearned { radio, alias } => {
            P::RadioAliasLearned(pb::RadioAliasLearned {
                radio: radio_name(*radio),
                alias: alias.clone(),
            })
        }
        EventKind::RadioCapabilityLearned {
            radio,
            service: s,
            supported,
        } => P::RadioCapabilityLearned(pb::RadioCapabilityLearned {
            radio: radio_name(*radio),
            service: service(*s) as i32,
            supported: *supported,
        }),
        EventKind::RadioControlChanged { radio, control: c } => {
            P::RadioControlChanged(pb::RadioControlChanged {
                radio: radio_name(*radio),
                control: control(*c) as i32,
            })
        }
        EventKind::CallStarted {
            call,
            target,
            site,
            slot: s,
            talker,
            emergency,
            privacy,
        } => P::CallStarted(pb::CallStarted {
            call: call_name(*call),
            target: addressee_name(*target),
            site: site_name(site),
            slot: slot(*s),
            talker: s_or_empty(*talker, radio_name),
            emergency: *emergency,
            privacy: *privacy,
        }),
        EventKind::CallTalkerChanged { call, talker } => {
            P::CallTalkerChanged(pb::CallTalkerChanged {
                call: call_name(*call),
                talker: radio_name(*talker),
            })
        }
        EventKind::CallFlagsChanged {
            call,
            emergency,
            privacy,
        } => P::CallFlagsChanged(pb::CallFlagsChanged {
            call: call_name(*call),
            emergency: *emergency,
            privacy: *privacy,
        }),
        EventKind::CallActivity { call } => P::CallActivity(pb::CallActivity {
            call: call_name(*call),
        }),
        EventKind::CallTransmissionEnded { call } => {
            P::CallTransmissionEnded(pb::CallTransmissionEnded {
                call: call_name(*call),
            })
        }
        EventKind::CallEnded { call, reason } => P::CallEnded(pb::CallEnded {
            call: call_name(*call),
            reason: end_reason(*reason) as i32,
        }),
        EventKind::AlarmRaised {
            alarm,
            radio,
            talkgroup,
            site,
        } => P::AlarmRaised(pb::AlarmRaised {
            alarm: alarm_name(*alarm),
            radio: radio_name(*radio),
            talkgroup: s_or_empty(*talkgroup, talkgroup_name),
            site: site_name(site),
        }),
        EventKind::AlarmRepeated { alarm, site } => P::AlarmRepeated(pb::AlarmRepeated {
            alarm: alarm_name(*alarm),
            site: site_name(site),
        }),
        EventKind::AlarmAcknowledged {
            alarm,
            operator,
            operation,
        } => P::AlarmAcknowledged(pb::AlarmAcknowledged {
            alarm: alarm_name(*alarm),
            operator: operator.clone(),
            operation: s_or_empty(*operation, operation_name),
        }),
        EventKind::AlarmResolved { alarm, operator } => P::AlarmResolved(pb::AlarmResolved {
            alarm: alarm_name(*alarm),
            operator: operator.clone(),
        }),
        EventKind::MessageSent { message: m } => P::MessageSent(pb::MessageSent {
            message: Some(message(m, None, Default::default())),
        }),
        EventKind::MessageRead { message, operator } => P::MessageRead(pb::MessageMarked {
            message: message_name(*message),
            operator: operator.clone(),
        }),
        EventKind::MessageHandled { message, operator } => P::MessageHandled(pb::MessageMarked {
            message: message_name(*message),
            operator: operator.clone(),
        }),
        EventKind::MessageReceived { message: m } => P::MessageReceived(pb::MessageReceived {
            message: message_name(m.id),
            source: s_or_empty(m.source, radio_name),
            to: addressee_name(m.to),
            site: site_name(&m.site),
            body: Some(match &m.body {
                MessageBody::Text { text } => pb::message_received::Body::Text(text.clone()),
                MessageBody::Status { status } => {
                    pb::message_received::Body::Status(u32::from(*status))
                }
            }),
        }),
        EventKind::DataReceived { radio, site, data } => P::DataReceived(pb::DataReceived {
            radio: radio_name(*radio),
            site: site_name(site),
            destination: data.destination,
            group: data.group,
            sap: u32::from(data.sap),
            source_port: data.source_port.map_or(0, u32::from),
            destination_port: data.destination_port.map_or(0, u32::from),
            payload: data.payload.clone(),
            truncated: data.truncated,
        }),
        EventKind::PositionReported {
            radio,
            site,
            position: p,
        } => P::PositionReported(pb::PositionReported {
            radio: radio_name(*radio),
            site: site_name(site),
            position: Some(position_report(
                *radio,
                &PositionReport {
                    at: e.at,
                    site: site.clone(),
                    position: *p,
                },
            )),
        }),
        EventKind::OperationCreated { operation: o } => P::OperationCreated(pb::OperationCreated {
            operation: Some(operation(o)),
        }),
        EventKind::OperationQueued { operation, site } => P::OperationQueued(pb::OperationQueued {
            operation: operation_name(*operation),
            site: site_name(site),
        }),
        EventKind::OperationTransmitted {
            operation,
            site,
            attempt,
            deadline,
            slot,
            ..
        } => P::OperationTransmitted(pb::OperationTransmitted {
            operation: operation_name(*operation),
            site: site_name(site),
            attempt: u32::from(*attempt),
            deadline: ts(*deadline),
            slot: slot.map_or(0, |s| u32::from(s.number())),
        }),
        EventKind::OperationAired {
            operation,
            attempt,
            slot,
            sent_at,
            answer_window_ms,
            deadline,
        } => P::OperationAired(pb::OperationAired {
            operation: operation_name(*operation),
            attempt: u32::from(*attempt),
            slot: u32::from(slot.number()),
            sent_time: Some(timestamp(*sent_at)),
            answer_window_ms: u32::try_from(*answer_window_ms).unwrap_or(u32::MAX),
            deadline: Some(timestamp(*deadline)),
        }),
        EventKind::OperationSiteSent {
            operation,
            site,
            sent_at,
        } => P::OperationSiteSent(pb::OperationSiteSent {
            operation: operation_name(*operation),
            site: site_name(site),
            sent_time: Some(timestamp(*sent_at)),
        }),
        EventKind::OperationSiteFailed {
            operation,
            site,
            state,
        } => P::OperationSiteFailed(pb::OperationSiteFailed {
            operation: operation_name(*operation),
            site: site_name(site),
            state: delivery_state(*state) as i32,
        }),
        EventKind::OperationAttemptTimedOut { operation, attempt } => {
            P::OperationAttemptTimedOut(pb::OperationAttemptTimedOut {
                operation: operation_name(*operation),
                attempt: u32::from(*attempt),
            })
        }
        EventKind::OperationPolled {
            operation,
            polls_done,
            next_poll,
            result,
        } => P::OperationPolled(pb::OperationPolled {
            operation: operation_name(*operation),
            polls_done: *polls_done,
            next_poll_time: Some(timestamp(*next_poll)),
            result: result.as_ref().map(operation_result),
        }),
        EventKind::OperationPollTimedOut {
            operation,
            poll,
            attempts,
            next_poll,
        } => P::OperationPollTimedOut(pb::OperationPollTimedOut {
            operation: operation_name(*operation),
            poll: *poll,
            attempts: u32::from(*attempts),
            next_poll_time: ts(*next_poll),
        }),
        EventKind::OperationSucceeded {
            operation,
            delivery,
            result,
        } => P::OperationSucceeded(pb::OperationSucceeded {
            operation: operation_name(*operation),
            delivery: delivery.map_or(0, |l| delivery_level(l) as i32),
            result: result.as_ref().map(operation_result),
        }),
        EventKind::OperationRefused { operation, refusal } => {
            P::OperationRefused(pb::OperationRefused {
                operation: operation_name(*operation),
                refusal_code: u32::from(refusal.code),
            })
        }
        EventKind::OperationTimedOut {
            operation,
            attempts,
        } => P::OperationTimedOut(pb::OperationTimedOut {
            operation: operation_name(*operation),
            attempts: u32::from(*attempts),
        }),
        EventKind::OperationFailed {
            operation,
            failure: f,
        } => P::OperationFailed(pb::OperationFailed {
            operation: operation_name(*operation),
            failure: failure(f),
        }),
        EventKind::OperationCancelled {
            operation,
            operator,
        } => P::OperationCancelled(pb::OperationCancelled {
            operation: operation_name(*operation),
            operator: operator.clone().unwrap_or_default(),
        }),
        EventKind::OperationApproved {
            operation,
            approver,
            reason,
        } => P::OperationApproved(pb::OperationDecided {
            operation: operation_name(*operation),
            approver: approver.clone(),
            reason: reason.clone().unwrap_or_default(),
        }),
        EventKind::OperationRejected {
            operation,
            approver,
            reason,
        } => P::OperationRejected(pb::OperationDecided {
            operation: operation_name(*operation),
            approver: approver.clone(),
            reason: reason.clone().unwrap_or_default(),
        }),
        EventKind::OperationExpired { operation } => P::OperationExpired(pb::OperationExpired {
            operation: operation_name(*operation),
        }),
        EventKind::AuditRecorded { entry } => P::AuditRecorded(audit_entry(cursor, e.at, entry)),
        k @ (EventKind::CalloutStarted { .. }
        | EventKind::CalloutGroupQueued { .. }
        | EventKind::CalloutMemberUpdated { .. }
        | EventKind::CalloutReplied { .. }
        | EventKind::CalloutEscalated { .. }
        | EventKind::CalloutFinished { .. }) => match super::callout::event_payload(k) {
            Some(p) => p,
            None => P::GatewayRestarted(pb::GatewayRestarted {}),
        },
        k @ (EventKind::TeamCreated { .. }
        | EventKind::TeamUpdated { .. }
        | EventKind::TeamDeleted { .. }) => match super::teams::event_payload(k) {
            Some(p) => p,
            None => P::GatewayRestarted(pb::GatewayRestarted {}),
        },
        EventKind::GatewayRestarted => P::GatewayRestarted(pb::GatewayRestarted {}),
        EventKind::ConfigChanged { config } => P::ConfigChanged(pb::ConfigChanged {
            answer_timeout: Some(duration_ms(config.answer_timeout_ms)),
            max_attempts: u32::from(config.max_attempts),
            site_down_wait: Some(duration_ms(config.site_down_wait_ms)),
            queue_limit: u32::try_from(config.queue_limit).unwrap_or(u32::MAX),
            recover_max_age: Some(duration_ms(config.recover_max_age_ms)),
        }),
        EventKind::InputsLost {
            count,
            from,
            to,
            reason,
        } => P::InputsLost(pb::InputsLost {
            count: *count,
            from_time: Some(timestamp(*from)),
            to_time: Some(timestamp(*to)),
            reason: match reason {
                LossReason::Overloaded => "overloaded",
                LossReason::JournalUnwritable => "journal_unwritable",
            }
            .to_string(),
        }),
        EventKind::JournalRecovered {
            from,
            to,
            reason,
            held,
        } => P::JournalRecovered(pb::JournalRecovered {
            from_time: Some(timestamp(*from)),
            to_time: Some(timestamp(*to)),
            reason: reason.clone(),
            held_inputs: *held,
        }),
    };
    pb::Event {
        cursor: cursor.to_string(),
        time: Some(timestamp(e.at)),
        r#type: e.kind.name().to_string(),
        payload: Some(payload),
    }
}

/// The operation an event is about, if it is about one.
pub fn event_operation(e: &EventKind) -> Option<OperationId> {
    match e {
        EventKind::OperationCreated { operation } => Some(operation.id),
        EventKind::OperationQueued { operation, .. }
        | EventKind::OperationTransmitted { operation, .. }
        | EventKind::OperationAired { operation, .. }
        | EventKind::OperationSiteSent { operation, .. }
        | EventKind::OperationSiteFailed { operation, .. }
        | EventKind::OperationAttemptTimedOut { operation, .. }
        | EventKind::OperationPolled { operation, .. }
        | EventKind::OperationPollTimedOut { operation, .. }
        | EventKind::OperationSucceeded { operation, .. }
        | EventKind::OperationRefused { operation, .. }
        | EventKind::OperationTimedOut { operation, .. }
        | EventKind::OperationFailed { operation, .. }
        | EventKind::OperationCancelled { operation, .. }
        | EventKind::OperationApproved { operation, .. }
        | EventKind::OperationRejected { operation, .. }
        | EventKind::OperationExpired { operation } => Some(*operation),
        _ => None,
    }
}

/// An audit entry journaled at `cursor`, recorded at `at`.
pub fn audit_entry(
    cursor: Cursor,
    at: Timestamp,
    entry: &crate::dispatch::AuditEntry,
) -> pb::AuditEntry {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    pb::AuditEntry {
        cursor: cursor.to_string(),
        time: Some(timestamp(at)),
        identity: text(&entry.identity),
        client: text(&entry.client),
        action: entry.action.clone(),
        target: text(&entry.target),
        reason: text(&entry.reason),
        outcome: entry.outcome.clone(),
        operation: s_or_empty(entry.operation.as_ref(), |o| operation_name(*o)),
        detail: text(&entry.detail),
    }
}

// ---- proto → commands ---------------------------------------------------------------------

/// A radio verb (`CheckRadio`, `StunRadio`, ...) as a command.
pub fn radio_command(
    req: &pb::RadioCommandRequest,
    make: fn(RadioId) -> OtaCommand,
) -> Result<Command, Status> {
    Ok(Command::Ota(make(parse_radio("name", &req.name)?)))
}

impl TryFrom<pb::SendTextRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::SendTextRequest) -> Result<Command, Status> {
        let to = parse_addressee("name", &r.name)?;
        if r.text.is_empty() {
            return Err(invalid_argument("text", "required"));
        }
        let max = crate::dispatch::Config::default().max_text_units;
        if r.text.encode_utf16().count() > max {
            return Err(invalid_argument(
                "text",
                format!("longer than {max} UTF-16 code units, what one air message carries"),
            ));
        }
        Ok(Command::Ota(OtaCommand::SendText { to, text: r.text }))
    }
}

impl TryFrom<pb::SendStatusRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::SendStatusRequest) -> Result<Command, Status> {
        let to = parse_addressee("name", &r.name)?;
        let status = u16::try_from(r.status)
            .ok()
            .filter(|s| *s <= 1023)
            .ok_or_else(|| invalid_argument("status", "must be 0-1023 (a 10-bit air field)"))?;
        Ok(Command::Ota(OtaCommand::SendStatus { to, status }))
    }
}

impl TryFrom<pb::RequestLocationRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::RequestLocationRequest) -> Result<Command, Status> {
        let radio = parse_radio("name", &r.name)?;
        let periodic = match (r.interval, r.polls) {
            (None, 0) => None,
            (Some(d), polls) if polls > 0 => {
                let core = crate::dispatch::Config::default();
                let min_secs = core.min_location_interval_ms / 1000;
                let between = || {
                    invalid_argument(
                        "interval",
                        format!("must be {min_secs}s-{MAX_LOCATION_INTERVAL_SECS}s"),
                    )
                };
                if !(0..1_000_000_000).contains(&d.nanos) {
                    return Err(invalid_argument("interval.nanos", "must be 0-999999999"));
                }
                if d.seconds < 0
                    || d.seconds > MAX_LOCATION_INTERVAL_SECS
                    || (d.seconds == MAX_LOCATION_INTERVAL_SECS && d.nanos > 0)
                {
                    return Err(between());
                }
                // Both parts are bounded above: no overflow.
                let ms = d.seconds as u64 * 1000 + d.nanos as u64 / 1_000_000;
                if ms < core.min_location_interval_ms {
                    return Err(between());
                }
                if polls > core.max_polls {
                    return Err(invalid_argument(
                        "polls",
                        format!("must be 1-{}", core.max_polls),
                    ));
                }
                Some(Periodic {
                    interval_ms: ms,
                    count: polls,
                })
            }
            (None, _) => return Err(invalid_argument("interval", "required with polls")),
            (Some(_), _) => return Err(invalid_argument("polls", "required with interval")),
        };
        Ok(Command::Ota(OtaCommand::RequestLocation {
            radio,
            periodic,
        }))
    }
}

impl TryFrom<pb::AcknowledgeAlarmRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::AcknowledgeAlarmRequest) -> Result<Command, Status> {
        Ok(Command::AcknowledgeAlarm {
            alarm: parse_alarm("name", &r.name)?,
        })
    }
}

impl TryFrom<pb::ResolveAlarmRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::ResolveAlarmRequest) -> Result<Command, Status> {
        Ok(Command::ResolveAlarm {
            alarm: parse_alarm("name", &r.name)?,
        })
    }
}

impl TryFrom<pb::CancelOperationRequest> for Command {
    type Error = Status;
    fn try_from(r: pb::CancelOperationRequest) -> Result<Command, Status> {
        Ok(Command::CancelOperation {
            operation: parse_operation("name", &r.name)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_names_every_site_it_went_out_on_and_where_it_was_heard() {
        let op = pb::Operation {
            target: "talkgroups/80020910".into(),
            site: "sites/a".into(),
            site_transmissions: vec![
                pb::SiteTransmission {
                    site: "sites/a".into(),
                    ..Default::default()
                },
                pb::SiteTransmission {
                    site: "sites/b".into(),
                    ..Default::default()
                },
            ],
            result: Some(pb::OperationResult {
                result: Some(pb::operation_result::Result::RadioCheck(
                    pb::RadioCheckResult {
                        site: "sites/c".into(),
                        rssi_dbm: None,
                    },
                )),
            }),
            ..Default::default()
        };
        let refs = op.refs();
        for n in ["talkgroups/80020910", "sites/a", "sites/b", "sites/c"] {
            assert!(refs.iter().any(|r| r == n), "{n} in {refs:?}");
        }
    }
    use crate::journal::JournalId;
    use tonic::Code;
    use tonic_types::StatusExt;

    fn field(s: &Status) -> String {
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        s.get_details_bad_request()
            .expect("bad request")
            .field_violations[0]
            .field
            .clone()
    }

    #[test]
    fn radio_names_take_dial_numbers_and_air_ids() {
        let by_dial = parse_radio("name", "radios/80020200").unwrap();
        let hex = format!("radios/0x{:06X}", by_dial.air());
        assert_eq!(parse_radio("name", &hex).unwrap(), by_dial);
        let dec = format!("radios/#{}", by_dial.air());
        assert_eq!(parse_radio("name", &dec).unwrap(), by_dial);
        assert_eq!(radio_name(by_dial), "radios/80020200");
        // No dial number: shown as hex.
        let raw = RadioId::new(0x00_0005).unwrap();
        assert_eq!(radio_name(raw), "radios/0x000005");
        assert_eq!(parse_radio("name", &radio_name(raw)).unwrap(), raw);
    }

    #[test]
    fn bad_names_name_the_field() {
        assert_eq!(field(&parse_radio("name", "").unwrap_err()), "name");
        assert_eq!(
            field(&parse_radio("name", "talkgroups/80020910").unwrap_err()),
            "name"
        );
        assert_eq!(
            field(&parse_radio("name", "radios/123456789").unwrap_err()),
            "name"
        );
        assert_eq!(
            field(&parse_radio("name", "radios/0x1000000").unwrap_err()),
            "name"
        );
        assert_eq!(
            field(&parse_addressee("recipient", "x/1").unwrap_err()),
            "recipient"
        );
        assert_eq!(field(&parse_alarm("name", "alarms/x").unwrap_err()), "name");
        assert_eq!(
            field(&parse_radio("name", &"radios/1".repeat(100)).unwrap_err()),
            "name"
        );
        let t = parse_addressee("recipient", "talkgroups/80020910").unwrap();
        assert!(matches!(t, Addressee::Talkgroup(_)));
    }

    #[test]
    fn page_sizes_and_tokens() {
        assert_eq!(page_size(0, 50, 1000).unwrap(), 50);
        assert_eq!(page_size(5000, 50, 1000).unwrap(), 1000);
        assert_eq!(page_size(7, 50, 1000).unwrap(), 7);
        assert_eq!(field(&page_size(-1, 50, 1000).unwrap_err()), "page_size");
        let t = encode_token("radios", "site=a", "42");
        assert_eq!(
            decode_token(&t, "radios", "site=a").unwrap().as_deref(),
            Some("42")
        );
        assert_eq!(decode_token("", "radios", "").unwrap(), None);
        assert_eq!(
            field(&decode_token(&t, "alarms", "site=a").unwrap_err()),
            "page_token"
        );
        assert_eq!(
            field(&decode_token(&t, "radios", "").unwrap_err()),
            "page_token"
        );
        assert_eq!(
            field(&decode_token("zz", "radios", "").unwrap_err()),
            "page_token"
        );
        // A long filter still makes a short token.
        let long = "x".repeat(4000);
        let t2 = encode_token("radios", &long, "42");
        assert!(t2.len() < 200, "{}", t2.len());
        assert!(decode_token(&t2, "radios", &long).is_ok());
        // Tampering with any octet, truncating or extending is refused, and the refusal
        // does not echo the token.
        let bytes = hex::decode(&t).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let e = decode_token(&hex::encode(&b), "radios", "site=a").unwrap_err();
            assert_eq!(field(&e), "page_token");
            assert!(!e.message().contains(&hex::encode(&b)));
        }
        for bad in [&t[..t.len() - 2], &format!("{t}00"), &t[2..], "00", "0"] {
            assert!(decode_token(bad, "radios", "site=a").is_err(), "{bad}");
        }
        // A JSON token without the seal (the former format) is refused.
        let unsealed = hex::encode(br#"{"m":"radios","f":"site=a","k":"42"}"#);
        assert!(decode_token(&unsealed, "radios", "site=a").is_err());
    }

    #[test]
    fn location_request_validation() {
        let ok = pb::RequestLocationRequest {
            name: "radios/80020200".into(),
            interval: Some(prost_types::Duration {
                seconds: 30,
                nanos: 0,
            }),
            polls: 3,
            request_id: String::new(),
        };
        match Command::try_from(ok.clone()).unwrap() {
            Command::Ota(OtaCommand::RequestLocation {
                periodic: Some(p), ..
            }) => {
                assert_eq!((p.interval_ms, p.count), (30_000, 3));
            }
            c => panic!("{c:?}"),
        }
        let no_interval = pb::RequestLocationRequest {
            interval: None,
            ..ok.clone()
        };
        assert_eq!(
            field(&Command::try_from(no_interval).unwrap_err()),
            "interval"
        );
        let no_polls = pb::RequestLocationRequest { polls: 0, ..ok };
        assert_eq!(field(&Command::try_from(no_polls).unwrap_err()), "polls");
        let status = pb::SendStatusRequest {
            name: "radios/80020200".into(),
            status: 70_000,
            request_id: String::new(),
        };
        assert_eq!(field(&Command::try_from(status).unwrap_err()), "status");
    }

    fn message(s: Status) -> String {
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        s.message().to_string()
    }

    #[test]
    fn names_parse_strictly() {
        assert_eq!(
            message(parse_radio("name", "radios/ 57120201").unwrap_err()),
            "invalid name: expected radios/{id}, got \"radios/ 57120201\""
        );
        for bad in [
            "radios/57120201 ",
            "radios/+57120201",
            "radios/0x+12",
            "radios/#+12",
            " radios/57120201",
            "radios//57120201",
            "Radios/57120201",
        ] {
            assert_eq!(
                field(&parse_radio("name", bad).unwrap_err()),
                "name",
                "{bad:?}"
            );
        }
        assert_eq!(
            message(parse_alarm("name", "alarms/+5").unwrap_err()),
            "invalid name: \"+5\" is not a alarms number"
        );
        for bad in [
            "alarms/05",
            "alarms/ 5",
            "alarms/5 ",
            "alarms/-5",
            "alarms/",
        ] {
            assert_eq!(
                field(&parse_alarm("name", bad).unwrap_err()),
                "name",
                "{bad:?}"
            );
        }
        assert_eq!(parse_alarm("name", "alarms/0").unwrap(), AlarmId(0));
        assert_eq!(
            parse_operation("name", "operations/17").unwrap(),
            OperationId(17)
        );
        assert_eq!(
            parse_site("site", "sites/城关站").unwrap(),
            SiteId::new("城关站")
        );
        for bad in ["sites/ north", "sites/north ", "sites/no\nrth"] {
            assert_eq!(
                field(&parse_site("site", bad).unwrap_err()),
                "site",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_refused_in_identifiers() {
        assert_eq!(
            message(parse_radio("name", "radios/5712\u{1b}[2J0201").unwrap_err()),
            "invalid name: must not contain control characters (found '\\u{1b}')"
        );
        assert_eq!(
            message(request_id("retry\n1".into()).unwrap_err()),
            "invalid request_id: must not contain control characters (found '\\n')"
        );
        assert_eq!(
            message(request_id("x".repeat(129)).unwrap_err()),
            "invalid request_id: longer than 128 bytes"
        );
        assert_eq!(request_id(String::new()).unwrap(), None);
        assert_eq!(
            request_id("值班-1".into()).unwrap().as_deref(),
            Some("值班-1")
        );
        // C1 controls and DEL too.
        assert!(plain("operator", "a\u{9b}b").is_err());
        assert!(plain("operator", "a\u{7f}b").is_err());
        assert!(plain("operator", "张三 (duty)").is_ok());
    }

    #[test]
    fn durations_and_counts_are_bounded() {
        let req = |seconds: i64, nanos: i32, polls: u32| pb::RequestLocationRequest {
            name: "radios/80020200".into(),
            interval: Some(prost_types::Duration { seconds, nanos }),
            polls,
            request_id: String::new(),
        };
        let err = |r| message(Command::try_from(r).unwrap_err());
        // 10,000 years.
        assert_eq!(
            err(req(315_576_000_000, 0, 3)),
            "invalid interval: must be 10s-86400s"
        );
        assert_eq!(
            err(req(86_400, 1, 3)),
            "invalid interval: must be 10s-86400s"
        );
        assert_eq!(
            err(req(9, 999_999_999, 3)),
            "invalid interval: must be 10s-86400s"
        );
        assert_eq!(err(req(-1, 0, 3)), "invalid interval: must be 10s-86400s");
        assert_eq!(
            err(req(30, 1_000_000_000, 3)),
            "invalid interval.nanos: must be 0-999999999"
        );
        assert_eq!(
            err(req(30, -1, 3)),
            "invalid interval.nanos: must be 0-999999999"
        );
        assert_eq!(err(req(30, 0, 1_001)), "invalid polls: must be 1-1000");
        assert!(Command::try_from(req(86_400, 0, 1_000)).is_ok());
        assert!(Command::try_from(req(10, 0, 1)).is_ok());
        let status = |status| pb::SendStatusRequest {
            name: "radios/80020200".into(),
            status,
            request_id: String::new(),
        };
        assert_eq!(
            message(Command::try_from(status(1024)).unwrap_err()),
            "invalid status: must be 0-1023 (a 10-bit air field)"
        );
        assert!(Command::try_from(status(1023)).is_ok());
        let text = |text: String| pb::SendTextRequest {
            name: "talkgroups/80020910".into(),
            text,
            request_id: String::new(),
        };
        assert_eq!(
            message(Command::try_from(text("字".repeat(238))).unwrap_err()),
            "invalid text: longer than 237 UTF-16 code units, what one air message carries"
        );
        // Texts may hold newlines: radios show them.
        assert!(Command::try_from(text(format!("{}\n{}", "字".repeat(100), "x"))).is_ok());
    }

    #[test]
    fn timestamps_stay_in_the_protobuf_range() {
        let t = timestamp(Timestamp(u64::MAX));
        assert_eq!((t.seconds, t.nanos), (253_402_300_799, 0));
        let t = timestamp(Timestamp(1_700_000_000_123));
        assert_eq!((t.seconds, t.nanos), (1_700_000_000, 123_000_000));
    }

    #[test]
    fn events_carry_cursor_type_and_payload() {
        let e = Event {
            at: Timestamp(1_500),
            kind: EventKind::AlarmRaised {
                alarm: AlarmId(4),
                radio: "80020200".parse().unwrap(),
                talkgroup: None,
                site: SiteId::new("城关站"),
            },
        };
        let journal = JournalId::from_bytes([0xab; 16]);
        let p = event(Cursor::new(journal, 9), &e);
        assert_eq!(p.cursor, format!("{}.9", "ab".repeat(16)));
        assert_eq!(p.r#type, "alarm_raised");
        assert_eq!(p.time.unwrap().nanos, 500_000_000);
        match p.payload {
            Some(pb::event::Payload::AlarmRaised(a)) => {
                assert_eq!(a.alarm, "alarms/4");
                assert_eq!(a.radio, "radios/80020200");
                assert_eq!(a.site, "sites/城关站");
            }
            other => panic!("{other:?}"),
        }
    }
}
