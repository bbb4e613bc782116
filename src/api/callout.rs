//! Call-outs and team attributes in the API: proto conversion for teams' levels and roles,
//! and `CalloutService` (`StartCallout`, `GetCallout`, `ListCallouts`, `CancelCallout`).
//!
//! Like every service here it holds no state: it reaches the core through the [`Backend`]
//! (docs/design.md), and a call-out's progress streams from `WatchEvents` as the core's
//! `callout_*` events.

use tonic::{Response, Status};

use crate::dispatch::{
    AnswerPolicy, Callout, CalloutId, CalloutMember, CalloutMessage, CalloutReply, CalloutSpec,
    CalloutState, Command, Escalation, EventKind, MemberState, NotReachable, Reply, Request,
    TeamLevel, TeamRole, Timestamp,
};

use super::status::{invalid_argument, not_found};
use super::{Api, Backend, convert, pb};

/// A team level in the API.
pub fn team_level(l: TeamLevel) -> pb::team::Level {
    match l {
        TeamLevel::County => pb::team::Level::County,
        TeamLevel::Township => pb::team::Level::Township,
        TeamLevel::Village => pb::team::Level::Village,
        TeamLevel::Professional => pb::team::Level::Professional,
        TeamLevel::Volunteer => pb::team::Level::Volunteer,
    }
}

/// A team role in the API.
pub fn team_role(r: TeamRole) -> pb::team::Role {
    match r {
        TeamRole::Leader => pb::team::Role::Leader,
        TeamRole::Member => pb::team::Role::Member,
    }
}

// ---- domain → proto -------------------------------------------------------------------------

fn callout_state(s: CalloutState) -> pb::callout::State {
    match s {
        CalloutState::Running => pb::callout::State::Running,
        CalloutState::Escalated => pb::callout::State::Escalated,
        CalloutState::Satisfied => pb::callout::State::Satisfied,
        CalloutState::Expired => pb::callout::State::Expired,
        CalloutState::Cancelled => pb::callout::State::Cancelled,
    }
}

fn member_state(s: MemberState) -> pb::callout_member::State {
    use pb::callout_member::State as S;
    match s {
        MemberState::NotReachable => S::NotReachable,
        MemberState::Queued => S::Queued,
        MemberState::Alerted => S::Alerted,
        MemberState::Delivered => S::Delivered,
        MemberState::Answered => S::Answered,
        MemberState::Declined => S::Declined,
        MemberState::Unreachable => S::Unreachable,
        MemberState::Cancelled => S::Cancelled,
    }
}

fn reason(r: NotReachable) -> pb::callout_member::Reason {
    use pb::callout_member::Reason as R;
    match r {
        NotReachable::NotHeard => R::NotHeard,
        NotReachable::NotRegistered => R::NotRegistered,
        NotReachable::Deregistered => R::Deregistered,
        NotReachable::Stunned => R::Stunned,
        NotReachable::Killed => R::Killed,
    }
}

fn ts(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(convert::timestamp)
}

fn duration_ms(ms: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// A call-out member in the API.
pub fn member(m: &CalloutMember) -> pb::CalloutMember {
    pb::CalloutMember {
        radio: convert::radio_name(m.radio),
        display_name: m.name.clone().unwrap_or_default(),
        team: m
            .team
            .as_deref()
            .map(convert::team_name)
            .unwrap_or_default(),
        role: team_role(m.role) as i32,
        backup: m.backup,
        site: m.site.as_ref().map(convert::site_name).unwrap_or_default(),
        state: member_state(m.state) as i32,
        reason: m.reason.map_or(0, |r| reason(r) as i32),
        reply: m.reply.as_ref().map(|r| match r {
            CalloutReply::Status { status } => {
                pb::callout_member::Reply::ReplyStatus(u32::from(*status))
            }
            CalloutReply::Text { text } => pb::callout_member::Reply::ReplyText(text.clone()),
        }),
        alert_time: ts(m.alerted_at),
        deliver_time: ts(m.delivered_at),
        reply_time: ts(m.replied_at),
        update_time: Some(convert::timestamp(m.updated)),
        operation: m.operation.map(convert::operation_name).unwrap_or_default(),
        check_operation: m.check.map(convert::operation_name).unwrap_or_default(),
        status_operation: m
            .status_operation
            .map(convert::operation_name)
            .unwrap_or_default(),
        sends: u32::from(m.sends),
    }
}

/// `callouts/{n}`.
pub fn callout_name(c: CalloutId) -> String {
    format!("callouts/{}", c.0)
}

/// A call-out resource.
pub fn callout(c: &Callout) -> pb::Callout {
    let s = &c.spec;
    pb::Callout {
        name: callout_name(c.id),
        title: s.title.clone(),
        state: callout_state(c.state) as i32,
        teams: s.teams.iter().map(|t| convert::team_name(t)).collect(),
        roles: s.roles.iter().map(|r| team_role(*r) as i32).collect(),
        radios: s.radios.iter().map(|r| convert::radio_name(*r)).collect(),
        text: s.message.text().map(str::to_string),
        status: s.message.status().map(u32::from),
        answer_statuses: s.answers.statuses.iter().map(|v| u32::from(*v)).collect(),
        decline_statuses: s.answers.declines.iter().map(|v| u32::from(*v)).collect(),
        any_text_answers: s.answers.any_text,
        needed_answers: u32::try_from(c.needed()).unwrap_or(u32::MAX),
        required_roles: s
            .escalation
            .required_roles
            .iter()
            .map(|r| team_role(*r) as i32)
            .collect(),
        backup_teams: s
            .escalation
            .backup_teams
            .iter()
            .map(|t| convert::team_name(t))
            .collect(),
        backup_after: s.escalation.backup_after_ms.map(duration_ms),
        followup_delay: Some(duration_ms(s.followup_delay_ms)),
        create_time: Some(convert::timestamp(c.created)),
        update_time: Some(convert::timestamp(c.updated)),
        deadline_time: Some(convert::timestamp(c.deadline)),
        escalate_time: ts(c.escalated_at),
        finish_time: ts(c.finished),
        operator: c.operator.clone().unwrap_or_default(),
        cancelled_by: c.cancelled_by.clone().unwrap_or_default(),
        backup_teams_called: c
            .backups_called
            .iter()
            .map(|t| convert::team_name(t))
            .collect(),
        members: c.members.iter().map(member).collect(),
        group_operations: c
            .groups
            .iter()
            .flat_map(|g| std::iter::once(g.operation).chain(g.text_operation))
            .map(convert::operation_name)
            .collect(),
        answered: u32::try_from(c.answered()).unwrap_or(u32::MAX),
        declined: u32::try_from(c.count(MemberState::Declined)).unwrap_or(u32::MAX),
        request_id: c.request_id.clone().unwrap_or_default(),
    }
}

/// The typed payload of a `callout_*` event; `None` for other events.
pub fn event_payload(kind: &EventKind) -> Option<pb::event::Payload> {
    use pb::event::Payload as P;
    Some(match kind {
        EventKind::CalloutStarted { callout: c } => P::CalloutStarted(pb::CalloutStarted {
            callout: Some(callout(c)),
        }),
        EventKind::CalloutGroupQueued {
            callout,
            team,
            talkgroup,
            operation,
            text_operation,
        } => P::CalloutGroupQueued(pb::CalloutGroupQueued {
            callout: callout_name(*callout),
            team: convert::team_name(team),
            talkgroup: convert::talkgroup_name(*talkgroup),
            operation: convert::operation_name(*operation),
            text_operation: text_operation
                .map(convert::operation_name)
                .unwrap_or_default(),
        }),
        EventKind::CalloutMemberUpdated { callout, member: m } => {
            P::CalloutMemberUpdated(pb::CalloutMemberUpdated {
                callout: callout_name(*callout),
                member: Some(member(m)),
            })
        }
        EventKind::CalloutReplied {
            radio,
            message,
            reply,
            callouts,
        } => P::CalloutReplied(pb::CalloutReplied {
            radio: convert::radio_name(*radio),
            message: convert::message_name(*message),
            callouts: callouts.iter().map(|c| callout_name(*c)).collect(),
            reply: Some(match reply {
                CalloutReply::Status { status } => {
                    pb::callout_replied::Reply::Status(u32::from(*status))
                }
                CalloutReply::Text { text } => pb::callout_replied::Reply::Text(text.clone()),
            }),
        }),
        EventKind::CalloutEscalated {
            callout,
            teams,
            members,
            left_out,
        } => P::CalloutEscalated(pb::CalloutEscalated {
            callout: callout_name(*callout),
            teams: teams.iter().map(|t| convert::team_name(t)).collect(),
            members: members.iter().map(member).collect(),
            left_out: *left_out,
        }),
        EventKind::CalloutFinished {
            callout,
            state,
            operator,
        } => P::CalloutFinished(pb::CalloutFinished {
            callout: callout_name(*callout),
            state: callout_state(*state) as i32,
            operator: operator.clone().unwrap_or_default(),
        }),
        _ => return None,
    })
}

// ---- proto → domain -------------------------------------------------------------------------

fn parse_callout(field: &str, name: &str) -> Result<CalloutId, Status> {
    if name.len() > convert::MAX_NAME_LEN {
        return Err(invalid_argument(field, "name longer than 256 bytes"));
    }
    name.strip_prefix("callouts/")
        .and_then(|n| n.parse::<u64>().ok())
        .map(CalloutId)
        .ok_or_else(|| invalid_argument(field, format!("expected callouts/{{n}}, got {name:?}")))
}

fn role(field: &str, v: i32) -> Result<TeamRole, Status> {
    match pb::team::Role::try_from(v) {
        Ok(pb::team::Role::Leader) => Ok(TeamRole::Leader),
        Ok(pb::team::Role::Member) => Ok(TeamRole::Member),
        _ => Err(invalid_argument(field, "LEADER or MEMBER")),
    }
}

fn status_number(field: &str, v: u32) -> Result<u16, Status> {
    u16::try_from(v)
        .ok()
        .filter(|v| *v <= 1023)
        .ok_or_else(|| invalid_argument(field, "0..=1023 (the 10-bit status field)"))
}

fn millis(field: &str, d: &prost_types::Duration) -> Result<u64, Status> {
    if d.seconds < 0 || !(0..1_000_000_000).contains(&d.nanos) {
        return Err(invalid_argument(field, "must be a positive duration"));
    }
    (d.seconds as u64)
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(d.nanos as u64 / 1_000_000))
        .ok_or_else(|| invalid_argument(field, "too long"))
}

/// Most teams, radios, roles or statuses one request may list.
const MAX_LIST: usize = 1_000;

/// A `StartCalloutRequest` as the core's spec.
pub fn spec(r: pb::StartCalloutRequest) -> Result<CalloutSpec, Status> {
    let bounded = |field: &str, n: usize| {
        if n > MAX_LIST {
            Err(invalid_argument(
                field,
                format!("more than {MAX_LIST} entries"),
            ))
        } else {
            Ok(())
        }
    };
    bounded("teams", r.teams.len())?;
    bounded("radios", r.radios.len())?;
    bounded("answer_statuses", r.answer_statuses.len())?;
    bounded("decline_statuses", r.decline_statuses.len())?;
    bounded("backup_teams", r.backup_teams.len())?;
    bounded("roles", r.roles.len())?;
    bounded("required_roles", r.required_roles.len())?;
    convert::plain("title", &r.title)?;
    let teams = r
        .teams
        .iter()
        .map(|t| convert::parse_team("teams", t))
        .collect::<Result<Vec<_>, _>>()?;
    let backup_teams = r
        .backup_teams
        .iter()
        .map(|t| convert::parse_team("backup_teams", t))
        .collect::<Result<Vec<_>, _>>()?;
    let radios = r
        .radios
        .iter()
        .map(|x| convert::parse_radio("radios", x))
        .collect::<Result<Vec<_>, _>>()?;
    let roles = r
        .roles
        .iter()
        .map(|v| role("roles", *v))
        .collect::<Result<Vec<_>, _>>()?;
    let required_roles = r
        .required_roles
        .iter()
        .map(|v| role("required_roles", *v))
        .collect::<Result<Vec<_>, _>>()?;
    let status = r
        .status
        .map(|s| status_number("message.status", s))
        .transpose()?;
    let message = CalloutMessage::new(r.text, status)
        .ok_or_else(|| invalid_argument("message", "give a text, a status or both"))?;
    let statuses = |field: &str, v: &[u32]| {
        v.iter()
            .map(|s| status_number(field, *s))
            .collect::<Result<Vec<_>, _>>()
    };
    let deadline = r
        .deadline
        .as_ref()
        .ok_or_else(|| invalid_argument("deadline", "required"))?;
    Ok(CalloutSpec {
        title: r.title,
        teams,
        roles,
        radios,
        message,
        answers: AnswerPolicy {
            statuses: statuses("answer_statuses", &r.answer_statuses)?,
            declines: statuses("decline_statuses", &r.decline_statuses)?,
            any_text: r.any_text_answers,
        },
        deadline_ms: millis("deadline", deadline)?,
        escalation: Escalation {
            min_answers: r.min_answers,
            required_roles,
            backup_teams,
            backup_after_ms: r
                .backup_after
                .as_ref()
                .map(|d| millis("backup_after", d))
                .transpose()?,
        },
        followup_delay_ms: r
            .followup_delay
            .as_ref()
            .map(|d| millis("followup_delay", d))
            .transpose()?
            .unwrap_or(0),
    })
}

// ---- the service ----------------------------------------------------------------------------

impl<B: Backend> Api<B> {
    async fn callout_command(
        &self,
        request_id: String,
        who: super::service::Caller,
        command: Command,
    ) -> Result<Response<pb::Callout>, Status> {
        let request = Request {
            request_id: convert::request_id(request_id)?,
            operator: who.operator,
            reason: who.reason,
            client: who.client,
            command,
        };
        match self.shared.backend.command(request).await?? {
            Reply::Callout(c) => Ok(Response::new(callout(&c))),
            Reply::Operation(_) | Reply::Alarm { .. } | Reply::Message(_) | Reply::Team(_) => Err(
                Status::internal("the core answered a call-out command with another resource"),
            ),
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::callout_service_server::CalloutService for Api<B> {
    async fn start_callout(
        &self,
        req: tonic::Request<pb::StartCalloutRequest>,
    ) -> Result<Response<pb::Callout>, Status> {
        let op = super::service::caller(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        let spec = spec(r)?;
        self.callout_command(id, op, Command::StartCallout(Box::new(spec)))
            .await
    }

    async fn get_callout(
        &self,
        req: tonic::Request<pb::GetCalloutRequest>,
    ) -> Result<Response<pb::Callout>, Status> {
        let id = parse_callout("name", &req.into_inner().name)?;
        let c = self
            .shared
            .backend
            .read(move |core, _| core.callout(id).map(callout))
            .await?
            .ok_or_else(|| not_found("CALLOUT_NOT_FOUND", &callout_name(id)))?;
        Ok(Response::new(c))
    }

    async fn list_callouts(
        &self,
        req: tonic::Request<pb::ListCalloutsRequest>,
    ) -> Result<Response<pb::ListCalloutsResponse>, Status> {
        const METHOD: &str = "ListCallouts";
        let r = req.into_inner();
        let c = &self.shared.config;
        let size = convert::page_size(r.page_size, c.default_page_size, c.max_page_size)?;
        let before = convert::token_u64(convert::decode_token(&r.page_token, METHOD, "")?)?;
        let (callouts, more) = self
            .shared
            .backend
            .read(move |core, _| {
                let mut v: Vec<pb::Callout> = core
                    .callouts(before.map(CalloutId))
                    .take(size + 1)
                    .map(callout)
                    .collect();
                let more = v.len() > size;
                v.truncate(size);
                (v, more)
            })
            .await?;
        let next_page_token = match callouts.last() {
            Some(last) if more => {
                let key = last.name.trim_start_matches("callouts/");
                convert::encode_token(METHOD, "", key)
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCalloutsResponse {
            callouts,
            next_page_token,
        }))
    }

    async fn cancel_callout(
        &self,
        req: tonic::Request<pb::CancelCalloutRequest>,
    ) -> Result<Response<pb::Callout>, Status> {
        let op = super::service::caller(&req)?;
        let id = parse_callout("name", &req.into_inner().name)?;
        self.callout_command(String::new(), op, Command::CancelCallout { callout: id })
            .await
    }
}
