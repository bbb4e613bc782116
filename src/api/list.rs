//! The filtered, ordered List methods: calls, alarms, operations and radios.
//!
//! # Contract
//!
//! - Each list has a [`Schema`] of the fields a console filters on (services.proto names
//!   them) and the fields it sorts by. A request's `filter` is compiled once, off the driver;
//!   the walk and the predicate run on the driver inside one [`Backend::read`] closure, over
//!   the core's own collections ([`Core::list_calls`] and friends), so a page is consistent
//!   and bounded in work (`dispatch::MAX_SCAN` items examined at most).
//! - Calls, alarms and operations are newest first by default (descending numbers, which grow
//!   with time); radios are by name (air address). `order_by` names one sortable field and
//!   `asc`/`desc`.
//! - The page token seals the method, every filter field and the ordering with the key to
//!   continue after (`convert::encode_token`); a token of another filter or ordering, or
//!   one the server did not make, is INVALID_ARGUMENT on `page_token`.
//! - Filter and ordering errors are INVALID_ARGUMENT on `filter` / `order_by` naming the
//!   column and what was expected there.
//! - Teams are named by their configured name (`teams/qingshan`) in the `team` filter field
//!   and in ListRadios' `team` field; an unknown team in that field is INVALID_ARGUMENT.
//! - Items are converted in the same driver read as the walk: radios with their team and
//!   last position (`Core::radio_view`), calls, alarms and operations with the
//!   `display_names` of what they name.

use std::borrow::Cow;

use tonic::Status;

use super::backend::Backend;
use super::convert::{self, decode_token, encode_token, page_size, parse_optional, token_u64};
use super::filter::{Field, Filter, Kind, OrderBy, Record, Value, parse_order_by};
use super::pb;
use super::service::Shared;
use super::status::invalid_argument;
use crate::dispatch::{
    Addressee, Alarm, AlarmId, AlarmState, Call, CallId, Core, ListPage, Operation, OperationId,
    OtaCommand, Radio, RadioControl, RadioId, TalkgroupId, Walk,
};

// ---- literal parsers (shared with the watch filter) ------------------------------------------

pub(crate) fn radio_key(s: &str) -> Result<u64, String> {
    let seg = s
        .strip_prefix("radios/")
        .ok_or("expected radios/{dial number | 0xHEX | #decimal}")?;
    seg.parse::<RadioId>()
        .map(|r| u64::from(r.air()))
        .map_err(|e| format!("{seg:?}: {e}"))
}

pub(crate) fn talkgroup_key(s: &str) -> Result<u64, String> {
    let seg = s
        .strip_prefix("talkgroups/")
        .ok_or("expected talkgroups/{dial number | 0xHEX | #decimal}")?;
    seg.parse::<TalkgroupId>()
        .map(|t| u64::from(t.air()))
        .map_err(|e| format!("{seg:?}: {e}"))
}

/// A site name to its segment (records give `SiteId::as_str`, no allocation).
pub(crate) fn site_segment(s: &str) -> Result<String, String> {
    match s.strip_prefix("sites/") {
        Some(seg) if !seg.is_empty() && !seg.contains('/') => Ok(seg.to_string()),
        _ => Err("expected sites/{site}".into()),
    }
}

/// A team name as the API writes it.
pub(crate) fn team_name(s: &str) -> Result<String, String> {
    match s.strip_prefix("teams/") {
        Some(seg) if !seg.is_empty() && !seg.contains('/') => Ok(s.to_string()),
        _ => Err("expected teams/{team}".into()),
    }
}

/// `radios/..` or `talkgroups/..` in its canonical form.
fn addressee_name(s: &str) -> Result<String, String> {
    if let Some(seg) = s.strip_prefix("talkgroups/") {
        seg.parse::<TalkgroupId>()
            .map(convert::talkgroup_name)
            .map_err(|e| format!("{seg:?}: {e}"))
    } else if let Some(seg) = s.strip_prefix("radios/") {
        seg.parse::<RadioId>()
            .map(convert::radio_name)
            .map_err(|e| format!("{seg:?}: {e}"))
    } else {
        Err("expected radios/{..} or talkgroups/{..}".into())
    }
}

// ---- enum value names, in proto number order (a test checks them against pb) ------------

const CALL_STATES: &[&str] = &["STATE_UNSPECIFIED", "ACTIVE", "ENDED"];
const ALARM_STATES: &[&str] = &["STATE_UNSPECIFIED", "RAISED", "ACKNOWLEDGED", "RESOLVED"];
const OPERATION_STATES: &[&str] = &[
    "STATE_UNSPECIFIED",
    "QUEUED",
    "SENT",
    "WAITING",
    "SUCCEEDED",
    "REFUSED",
    "TIMED_OUT",
    "FAILED",
    "CANCELLED",
    "AWAITING_APPROVAL",
    "REJECTED",
    "EXPIRED",
];
const OPERATION_KINDS: &[&str] = &[
    "KIND_UNSPECIFIED",
    "RADIO_CHECK",
    "CALL_ALERT",
    "STUN",
    "REVIVE",
    "KILL",
    "SEND_TEXT",
    "SEND_STATUS",
    "REQUEST_LOCATION",
    "ACKNOWLEDGE_EMERGENCY",
];
const RADIO_CONTROLS: &[&str] = &["CONTROL_UNSPECIFIED", "ENABLED", "STUNNED", "KILLED"];

fn time(t: crate::dispatch::Timestamp) -> Value<'static> {
    Value::Time(i64::try_from(t.0).unwrap_or(i64::MAX))
}

fn site_value(s: &crate::dispatch::SiteId) -> Value<'_> {
    Value::Text(Cow::Borrowed(s.as_str()))
}

fn text(s: Option<&str>) -> Value<'_> {
    s.map_or(Value::Missing, |s| Value::Text(Cow::Borrowed(s)))
}

/// A team by the name the API gives it (`teams/{configured name}`).
fn team_value(core: &Core, t: Option<crate::dispatch::TeamId>) -> Value<'static> {
    t.and_then(|t| core.team(t)).map_or(Value::Missing, |t| {
        Value::Text(Cow::Owned(convert::team_name(&t.resource_key())))
    })
}

// ---- calls ----------------------------------------------------------------------------------

const CALL_FIELDS: &[Field] = &[
    Field::one("talkgroup", Kind::Key(talkgroup_key)),
    Field::many("radio", Kind::Key(radio_key)),
    Field::one("site", Kind::Name(site_segment)),
    Field::one("state", Kind::Enum(CALL_STATES)),
    Field::one("emergency", Kind::Bool),
    Field::one("start_time", Kind::Time),
    Field::one("end_time", Kind::Time),
];
const CALL_ORDER: &[&str] = &["start_time", "name"];

struct CallRecord<'a>(&'a Call);

impl Record for CallRecord<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        let c = self.0;
        match i {
            0 => match c.target {
                Addressee::Talkgroup(t) => Value::Key(u64::from(t.air())),
                Addressee::Radio(_) => Value::Missing,
            },
            1 => {
                let mut keys: Vec<u64> = c.talkers.iter().map(|r| u64::from(r.air())).collect();
                if let Addressee::Radio(r) = c.target {
                    keys.push(u64::from(r.air()));
                }
                Value::Keys(keys)
            }
            2 => site_value(&c.site),
            3 => Value::Enum(if c.ended.is_some() { 2 } else { 1 }),
            4 => Value::Bool(c.emergency),
            5 => time(c.started),
            _ => c.ended.map_or(Value::Missing, time),
        }
    }
}

// ---- alarms ---------------------------------------------------------------------------------

const ALARM_FIELDS: &[Field] = &[
    Field::one("state", Kind::Enum(ALARM_STATES)),
    Field::one("radio", Kind::Key(radio_key)),
    Field::one("team", Kind::Name(team_name)),
    Field::one("talkgroup", Kind::Key(talkgroup_key)),
    Field::one("site", Kind::Name(site_segment)),
    Field::one("raise_time", Kind::Time),
    Field::one("last_heard_time", Kind::Time),
];
const ALARM_ORDER: &[&str] = &["raise_time", "name"];

struct AlarmRecord<'a>(&'a Alarm, &'a Core);

impl Record for AlarmRecord<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        let a = self.0;
        match i {
            0 => Value::Enum(convert::alarm_state(a.state) as usize),
            1 => Value::Key(u64::from(a.radio.air())),
            2 => team_value(self.1, self.1.radio(a.radio).and_then(|r| r.team)),
            3 => a
                .talkgroup
                .map_or(Value::Missing, |t| Value::Key(u64::from(t.air()))),
            4 => site_value(&a.site),
            5 => time(a.raised),
            _ => time(a.last_heard),
        }
    }
}

// ---- operations -----------------------------------------------------------------------------

const OPERATION_FIELDS: &[Field] = &[
    Field::one("kind", Kind::Enum(OPERATION_KINDS)),
    Field::one("target", Kind::Name(addressee_name)),
    Field::one("state", Kind::Enum(OPERATION_STATES)),
    Field::one("done", Kind::Bool),
    Field::one("operator", Kind::Text),
    Field::one("site", Kind::Name(site_segment)),
    Field::one("create_time", Kind::Time),
    Field::one("update_time", Kind::Time),
];
const OPERATION_ORDER: &[&str] = &["create_time", "name"];

fn operation_kind(c: &OtaCommand) -> pb::operation::Kind {
    use pb::operation::Kind as K;
    match c {
        OtaCommand::RadioCheck { .. } => K::RadioCheck,
        OtaCommand::CallAlert { .. } => K::CallAlert,
        OtaCommand::Stun { .. } => K::Stun,
        OtaCommand::Revive { .. } => K::Revive,
        OtaCommand::Kill { .. } => K::Kill,
        OtaCommand::SendText { .. } => K::SendText,
        OtaCommand::SendStatus { .. } => K::SendStatus,
        OtaCommand::RequestLocation { .. } => K::RequestLocation,
        OtaCommand::AcknowledgeEmergency { .. } => K::AcknowledgeEmergency,
    }
}

struct OperationRecord<'a>(&'a Operation);

impl Record for OperationRecord<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        let o = self.0;
        match i {
            0 => Value::Enum(operation_kind(&o.command) as usize),
            1 => Value::Text(Cow::Owned(convert::addressee_name(o.command.addressee()))),
            2 => Value::Enum(convert::operation_state(o.state) as usize),
            3 => Value::Bool(o.state.is_final()),
            4 => o
                .operator
                .as_deref()
                .map_or(Value::Missing, |s| Value::Text(Cow::Borrowed(s))),
            5 => o.site.as_ref().map_or(Value::Missing, site_value),
            6 => time(o.created),
            _ => time(o.updated),
        }
    }
}

// ---- radios ---------------------------------------------------------------------------------

const RADIO_FIELDS: &[Field] = &[
    Field::one("team", Kind::Name(team_name)),
    Field::one("talkgroup", Kind::Key(talkgroup_key)),
    Field::one("site", Kind::Name(site_segment)),
    Field::one("registered", Kind::Bool),
    Field::one("last_heard_time", Kind::Time),
    Field::one("control", Kind::Enum(RADIO_CONTROLS)),
    Field::one("display_name", Kind::Text),
    Field::one("alias", Kind::Text),
];
const RADIO_ORDER: &[&str] = &["name"];

struct RadioRecord<'a>(&'a Radio, &'a Core);

impl Record for RadioRecord<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        let r = self.0;
        match i {
            0 => team_value(self.1, r.team),
            1 => r
                .talkgroup
                .map_or(Value::Missing, |t| Value::Key(u64::from(t.air()))),
            2 => r
                .presence
                .as_ref()
                .map_or(Value::Missing, |p| site_value(&p.site)),
            3 => Value::Bool(r.registered),
            4 => r.presence.as_ref().map_or(Value::Missing, |p| time(p.at)),
            5 => Value::Enum(match r.control {
                RadioControl::Enabled => 1,
                RadioControl::Stunned => 2,
                RadioControl::Killed => 3,
            }),
            6 => text(r.name.as_deref()),
            _ => text(r.alias.as_deref()),
        }
    }
}

// ---- the requests ---------------------------------------------------------------------------

/// The parts every list request shares, validated.
struct Query {
    size: usize,
    filter: Filter,
    order: OrderBy,
    /// Every filter field and the ordering, joined: what a page token is sealed to.
    fingerprint: String,
}

impl Query {
    #[allow(clippy::too_many_arguments)]
    fn new<B>(
        shared: &Shared<B>,
        page: i32,
        filter: &str,
        schema: &[Field],
        order_by: &str,
        sortable: &[&str],
        default: OrderBy,
        legacy: &str,
    ) -> Result<Query, Status> {
        let c = &shared.config;
        let size = page_size(page, c.default_page_size, c.max_page_size)?;
        let filter = Filter::compile(filter, schema)
            .map_err(|e| invalid_argument("filter", e.to_string()))?;
        let order = parse_order_by(order_by, sortable, default)
            .map_err(|e| invalid_argument("order_by", e.to_string()))?;
        let fingerprint = format!(
            "{legacy}\n{}\n{}\n{:?}",
            order.field, order.descending, filter
        );
        Ok(Query {
            size,
            filter,
            order,
            fingerprint,
        })
    }

    /// The key a page token continues after.
    fn after(&self, method: &str, token: &str) -> Result<Option<u64>, Status> {
        token_u64(decode_token(token, method, &self.fingerprint)?)
    }

    fn walk<K>(&self, after: Option<K>, filtered: bool) -> Walk<K> {
        Walk {
            after,
            descending: self.order.descending,
            page_size: self.size,
            filtered: filtered || !self.filter.is_empty(),
        }
    }

    fn next_token<K>(
        &self,
        method: &str,
        page: &ListPage<K, impl Sized>,
        key: impl Fn(&K) -> u64,
    ) -> String {
        page.next_after
            .as_ref()
            .map(|k| encode_token(method, &self.fingerprint, &key(k).to_string()))
            .unwrap_or_default()
    }
}

fn total(t: Option<usize>) -> Option<i32> {
    t.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

/// Newest first.
const NEWEST_FIRST: OrderBy = OrderBy {
    field: 0,
    descending: true,
};

/// `ListCalls`.
pub(crate) async fn calls<B: Backend>(
    shared: &Shared<B>,
    r: pb::ListCallsRequest,
) -> Result<pb::ListCallsResponse, Status> {
    let state = match pb::call::State::try_from(r.state) {
        Ok(pb::call::State::Unspecified) => None,
        Ok(pb::call::State::Active) => Some(false),
        Ok(pb::call::State::Ended) => Some(true),
        Err(_) => return Err(invalid_argument("state", "unknown call state")),
    };
    let q = Query::new(
        shared,
        r.page_size,
        &r.filter,
        CALL_FIELDS,
        &r.order_by,
        CALL_ORDER,
        NEWEST_FIRST,
        &r.state.to_string(),
    )?;
    let after = q.after("calls", &r.page_token)?.map(CallId);
    let walk = q.walk(after, state.is_some());
    let filter = q.filter.clone();
    let (page, calls) = shared
        .backend
        .read(move |core, _| {
            let page = core.list_calls(walk, |c| {
                state.is_none_or(|ended| c.ended.is_some() == ended)
                    && filter.matches(&CallRecord(c))
            });
            let mut calls: Vec<_> = page.items.iter().map(convert::call).collect();
            convert::name_in(core, &mut calls);
            (page, calls)
        })
        .await?;
    Ok(pb::ListCallsResponse {
        calls,
        next_page_token: q.next_token("calls", &page, |k| k.0),
        total_size: total(page.total),
    })
}

/// `ListAlarms`.
pub(crate) async fn alarms<B: Backend>(
    shared: &Shared<B>,
    r: pb::ListAlarmsRequest,
) -> Result<pb::ListAlarmsResponse, Status> {
    let state = match pb::alarm::State::try_from(r.state) {
        Ok(pb::alarm::State::Unspecified) => None,
        Ok(pb::alarm::State::Raised) => Some(AlarmState::Raised),
        Ok(pb::alarm::State::Acknowledged) => Some(AlarmState::Acknowledged),
        Ok(pb::alarm::State::Resolved) => Some(AlarmState::Resolved),
        Err(_) => return Err(invalid_argument("state", "unknown alarm state")),
    };
    let q = Query::new(
        shared,
        r.page_size,
        &r.filter,
        ALARM_FIELDS,
        &r.order_by,
        ALARM_ORDER,
        NEWEST_FIRST,
        &r.state.to_string(),
    )?;
    let after = q.after("alarms", &r.page_token)?.map(AlarmId);
    let walk = q.walk(after, state.is_some());
    let filter = q.filter.clone();
    let (page, alarms) = shared
        .backend
        .read(move |core, _| {
            let page = core.list_alarms(walk, |a| {
                state.is_none_or(|s| a.state == s) && filter.matches(&AlarmRecord(a, core))
            });
            let mut alarms: Vec<_> = page.items.iter().map(convert::alarm).collect();
            convert::name_in(core, &mut alarms);
            (page, alarms)
        })
        .await?;
    Ok(pb::ListAlarmsResponse {
        alarms,
        next_page_token: q.next_token("alarms", &page, |k| k.0),
        total_size: total(page.total),
    })
}

/// `ListOperations`.
pub(crate) async fn operations<B: Backend>(
    shared: &Shared<B>,
    r: pb::ListOperationsRequest,
) -> Result<pb::ListOperationsResponse, Status> {
    let q = Query::new(
        shared,
        r.page_size,
        &r.filter,
        OPERATION_FIELDS,
        &r.order_by,
        OPERATION_ORDER,
        NEWEST_FIRST,
        "",
    )?;
    let after = q.after("operations", &r.page_token)?.map(OperationId);
    let walk = q.walk(after, false);
    let filter = q.filter.clone();
    let (page, operations) = shared
        .backend
        .read(move |core, _| {
            let page = core.list_operations(walk, |o| filter.matches(&OperationRecord(o)));
            let mut operations: Vec<_> = page.items.iter().map(convert::operation).collect();
            convert::name_in(core, &mut operations);
            (page, operations)
        })
        .await?;
    Ok(pb::ListOperationsResponse {
        operations,
        next_page_token: q.next_token("operations", &page, |k| k.0),
        total_size: total(page.total),
    })
}

/// `ListRadios`.
pub(crate) async fn radios<B: Backend>(
    shared: &Shared<B>,
    r: pb::ListRadiosRequest,
) -> Result<pb::ListRadiosResponse, Status> {
    // The team by its configured name; the core's index is looked up on the driver.
    let team = parse_optional("team", &r.team, convert::parse_team)?;
    let mut legacy = crate::dispatch::RadioFilter {
        site: parse_optional("site", &r.site, convert::parse_site)?,
        team: None,
        talkgroup: parse_optional("talkgroup", &r.talkgroup, convert::parse_talkgroup)?,
        registered_only: r.registered_only,
    };
    let legacy_key = format!(
        "{}\n{}\n{}\n{}",
        r.site, r.team, r.talkgroup, r.registered_only
    );
    let q = Query::new(
        shared,
        r.page_size,
        &r.filter,
        RADIO_FIELDS,
        &r.order_by,
        RADIO_ORDER,
        OrderBy {
            field: 0,
            descending: false,
        },
        &legacy_key,
    )?;
    let after = q
        .after("radios", &r.page_token)?
        .map(|k| {
            u32::try_from(k)
                .ok()
                .and_then(|k| RadioId::new(k).ok())
                .ok_or_else(|| invalid_argument("page_token", "not a page token of this list"))
        })
        .transpose()?;
    let walk = q.walk(
        after,
        team.is_some() || legacy != crate::dispatch::RadioFilter::default(),
    );
    let filter = q.filter.clone();
    let (radios, next_page_token, total_size) = shared
        .backend
        .read(move |core, _| {
            if let Some(key) = &team {
                legacy.team = Some(convert::team_id(core, "team", key)?);
            }
            let page = core.list_radios(walk, |r| {
                legacy.matches(r) && filter.matches(&RadioRecord(r, core))
            });
            let radios: Vec<_> = page
                .items
                .iter()
                .map(|r| convert::radio(&core.radio_view(r)))
                .collect();
            let next = q.next_token("radios", &page, |k| u64::from(k.air()));
            Ok::<_, Status>((radios, next, total(page.total)))
        })
        .await??;
    Ok(pb::ListRadiosResponse {
        radios,
        next_page_token,
        total_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<E: TryFrom<i32>>(names: &[&str], name: impl Fn(E) -> &'static str) {
        for (i, n) in names.iter().enumerate() {
            let e = E::try_from(i as i32).ok().expect("a value per name");
            assert_eq!(name(e), *n);
        }
        assert!(E::try_from(names.len() as i32).is_err(), "a name per value");
    }

    #[test]
    fn enum_names_follow_the_proto() {
        check(CALL_STATES, |e: pb::call::State| e.as_str_name());
        check(ALARM_STATES, |e: pb::alarm::State| e.as_str_name());
        check(OPERATION_STATES, |e: pb::operation::State| e.as_str_name());
        check(OPERATION_KINDS, |e: pb::operation::Kind| e.as_str_name());
        check(RADIO_CONTROLS, |e: pb::radio::Control| e.as_str_name());
    }

    #[test]
    fn resource_literals_take_every_accepted_form() {
        let a = radio_key("radios/80020200").unwrap();
        assert_eq!(radio_key(&format!("radios/0x{a:06x}")), Ok(a));
        assert_eq!(radio_key(&format!("radios/#{a}")), Ok(a));
        assert!(radio_key("80020200").unwrap_err().contains("radios/"));
        assert!(talkgroup_key("talkgroups/x").is_err());
        assert_eq!(site_segment("sites/城关站").as_deref(), Ok("城关站"));
        assert!(site_segment("sites/").is_err());
        assert_eq!(
            addressee_name(&format!("radios/#{a}")).as_deref(),
            Ok("radios/80020200")
        );
        assert!(addressee_name("teams/0").is_err());
        assert!(team_name("teams/a/b").is_err());
    }
}
