//! Call-outs: alert teams (or some of their roles, or single radios) over the air, track
//! every member from queued to answered, retry and check the silent radios, and escalate to
//! backup teams (docs/callouts.md).
//!
//! # Contract
//!
//! - A call-out is core state like any other: it changes only through its events
//!   (`callout_started`, `callout_group_queued`, `callout_member_updated`, `callout_replied`,
//!   `callout_escalated`, `callout_finished`), folded by `apply`, so snapshot plus replay
//!   restores it and [`Core::recover`] carries it on after a restart.
//! - It sends nothing itself: it creates ordinary operations at [`Priority::Callout`] (after
//!   emergencies and remote control, ahead of ordinary commands and location polling), so the
//!   per-site pacer, retries, answer windows and delivery results are the operations' own.
//! - Air time is the limit. A team that shares a talkgroup, called whole, gets one
//!   group-addressed transmission, sent on every site where its members are heard; a member
//!   becomes `alerted` when it left on that member's site, never `delivered`: only the
//!   member's own acknowledgement of an individual transmission (or a reply) delivers. The
//!   individual follow-ups are fed to each site's queue a few at a time ([`FEED_DEPTH`]), so a
//!   member who answers before their turn costs no more air time, and every site's channel
//!   works in parallel.
//! - A call-out with a status and a text sends every transmission (group alert, follow-up,
//!   re-send) as two operations, the status first (one burst: the radio alerts fast), then
//!   the text; the group status alerts, and only the acknowledgement of the member's own
//!   text delivers.
//! - A member whose individual transmission times out (after the operation's retries) gets a
//!   radio check; a failed check makes it `unreachable`, an answered one earns one more
//!   transmission of the message, and no acknowledgement of that makes it `unreachable` too.
//! - A status or text from a member after the call-out started counts for every running
//!   call-out still waiting for that member (`callout_replied` names which); by each call-out's
//!   policy it is an answer, a decline, or nothing.
//! - The call-out is `satisfied` once enough members (and the required roles) answered,
//!   `escalated` once backup teams were called (when `backup_after_ms` passed, or when enough
//!   answers became impossible), `expired` at its deadline, `cancelled` by a dispatcher.
//!   Finishing cancels the transmissions not yet on the air; members still waiting for
//!   their first transmission end `cancelled`.
//! - Bounded: at most [`MAX_RUNNING`] running call-outs, [`MAX_MEMBERS`] members each,
//!   [`HISTORY`] finished ones kept with at most [`HISTORY_MEMBERS`] members in all.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::event::EventKind;
use super::ids::{CalloutId, OperationId, RadioId, SiteId, TalkgroupId, Timestamp};
use super::model::{
    Addressee, Direction, Message, MessageBody, OperationState, OtaCommand, Priority, RadioControl,
    TeamRole,
};
use super::{Core, DispatchError, Output, Reply, State};

/// Running call-outs at most.
pub const MAX_RUNNING: usize = 64;
/// Members of one call-out at most (backup teams included).
pub const MAX_MEMBERS: usize = 5_000;
/// Finished call-outs kept at most.
pub const HISTORY: usize = 1_000;
/// Members of the finished call-outs kept, at most in all (the oldest call-outs go first):
/// the history stays well under the core's memory budget however large the call-outs.
pub const HISTORY_MEMBERS: usize = 100_000;
/// Call-out operations waiting in one site's queue at most; more are created as these leave.
/// Enough that a slot never idles for want of the next transmission, few enough that a
/// member who answers meanwhile is not sent to.
pub const FEED_DEPTH: usize = 4;
/// Shortest and longest deadline, ms (10 s .. 24 h).
pub const DEADLINE_MS: (u64, u64) = (10_000, 86_400_000);
/// Transmissions of the message to one member after a successful radio check.
const RESENDS_AFTER_CHECK: u8 = 1;
/// Longest title, in characters.
const MAX_TITLE_CHARS: usize = 64;
/// Largest status number (the 10-bit status field, docs/air-commands.md §6).
const MAX_STATUS: u16 = 1023;

/// What a call-out sends: a text, a status (pre-coded message) number, or both.
///
/// Journals written before `Both` existed hold only the `text` and `status` forms; they
/// still read the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalloutMessage {
    /// A text (UTF-16 on the air; Chinese works).
    Text { text: String },
    /// A status number, 0..=1023.
    Status { status: u16 },
    /// A status and a text, sent as two transmissions, the status first: it is short (one
    /// burst), so it sets off the radio's alert fast; the text is what the member reads, and
    /// only its acknowledgement delivers.
    Both { status: u16, text: String },
}

impl CalloutMessage {
    /// The message for a text and/or a status; `None` when neither is given.
    pub fn new(text: Option<String>, status: Option<u16>) -> Option<Self> {
        match (text, status) {
            (Some(text), Some(status)) => Some(CalloutMessage::Both { status, text }),
            (Some(text), None) => Some(CalloutMessage::Text { text }),
            (None, Some(status)) => Some(CalloutMessage::Status { status }),
            (None, None) => None,
        }
    }

    /// The text, when one is sent.
    pub fn text(&self) -> Option<&str> {
        match self {
            CalloutMessage::Text { text } | CalloutMessage::Both { text, .. } => Some(text),
            CalloutMessage::Status { .. } => None,
        }
    }

    /// The status number, when one is sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            CalloutMessage::Status { status } | CalloutMessage::Both { status, .. } => {
                Some(*status)
            }
            CalloutMessage::Text { .. } => None,
        }
    }

    /// Operations one transmission of the message takes.
    fn operations(&self) -> usize {
        match self {
            CalloutMessage::Both { .. } => 2,
            _ => 1,
        }
    }
}

/// Which replies count, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnswerPolicy {
    /// Status numbers that answer (e.g. "received", "on my way").
    pub statuses: Vec<u16>,
    /// Status numbers that decline ("unavailable").
    pub declines: Vec<u16>,
    /// Any text from the member answers.
    pub any_text: bool,
}

/// When the call-out is satisfied and what happens when it is not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Escalation {
    /// Answers needed; 0: every member called at the start.
    pub min_answers: u32,
    /// Roles that must answer: each team named in the call-out needs an answer from a
    /// member of each role listed.
    pub required_roles: Vec<TeamRole>,
    /// Teams (keys) to call next; empty: the backup teams of the teams named.
    pub backup_teams: Vec<String>,
    /// Call the backup teams this long after the start if not satisfied by then; `None`:
    /// only once enough answers have become impossible.
    pub backup_after_ms: Option<u64>,
}

/// A call-out as the dispatcher asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalloutSpec {
    /// What the dispatcher calls it (at most 64 characters; may be empty).
    #[serde(default)]
    pub title: String,
    /// Teams (keys) whose members are called.
    pub teams: Vec<String>,
    /// Only members with these roles; empty: every member.
    #[serde(default)]
    pub roles: Vec<TeamRole>,
    /// Single radios called besides the teams.
    #[serde(default)]
    pub radios: Vec<RadioId>,
    /// What is sent.
    pub message: CalloutMessage,
    /// Which replies count.
    pub answers: AnswerPolicy,
    /// Milliseconds from the start until it expires.
    pub deadline_ms: u64,
    /// Satisfaction and backups.
    #[serde(default)]
    pub escalation: Escalation,
    /// A member alerted by a group transmission gets its individual transmission this long
    /// after the alert (0: at once), so that members who answer quickly cost no more air time.
    #[serde(default)]
    pub followup_delay_ms: u64,
}

/// The whole call-out's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalloutState {
    /// Alerting and waiting for answers.
    Running,
    /// Backup teams were called; still running.
    Escalated,
    /// Enough members answered.
    Satisfied,
    /// The deadline passed first.
    Expired,
    /// A dispatcher cancelled it.
    Cancelled,
}

impl CalloutState {
    /// True for satisfied, expired and cancelled.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            CalloutState::Satisfied | CalloutState::Expired | CalloutState::Cancelled
        )
    }
}

/// One member's state in a call-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// Cannot be reached now (`reason` says why); it is called if that changes.
    NotReachable,
    /// Waiting for its transmission.
    Queued,
    /// A group transmission left on its site (no acknowledgement is possible for that).
    Alerted,
    /// Its own radio acknowledged the message.
    Delivered,
    /// It replied with an answer.
    Answered,
    /// It replied that it cannot come.
    Declined,
    /// No acknowledgement after the retries, and the radio check failed too.
    Unreachable,
    /// The call-out finished before it was sent to.
    Cancelled,
}

impl MemberState {
    /// True once nothing more happens to the member in this call-out.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            MemberState::Answered
                | MemberState::Declined
                | MemberState::Unreachable
                | MemberState::Cancelled
        )
    }
}

/// Why a member cannot be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotReachable {
    /// Never heard on any site.
    NotHeard,
    /// Heard, but not registered.
    NotRegistered,
    /// Deregistered during the call-out.
    Deregistered,
    /// Stunned.
    Stunned,
    /// Killed.
    Killed,
}

/// A member's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalloutReply {
    /// A status number.
    Status { status: u16 },
    /// A text.
    Text { text: String },
}

/// One member of a call-out and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The radio.
    pub radio: RadioId,
    /// Its directory name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The team (key) it was called with; `None` for a radio called alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Its role in that team.
    pub role: TeamRole,
    /// Called as a member of a backup team.
    #[serde(default)]
    pub backup: bool,
    /// The site it is sent to (where it was last heard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteId>,
    /// State.
    pub state: MemberState,
    /// Why it is not reachable, while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotReachable>,
    /// The group transmission that alerts it, if its team has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<OperationId>,
    /// Its individual transmission of the message, latest (of the text, when the call-out
    /// sends a status and a text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationId>,
    /// The individual status transmission sent just ahead of `operation`, when the call-out
    /// sends a status and a text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_operation: Option<OperationId>,
    /// Its radio check, once one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<OperationId>,
    /// Individual transmissions of the message so far (operations, each with its retries).
    #[serde(default)]
    pub sends: u8,
    /// When a group transmission left on its site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<Timestamp>,
    /// When its radio acknowledged (or it replied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// Its reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<CalloutReply>,
    /// When it replied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replied_at: Option<Timestamp>,
    /// Last change.
    pub updated: Timestamp,
}

/// One group-addressed transmission of a call-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSend {
    /// The team (key).
    pub team: String,
    /// Its talkgroup.
    pub talkgroup: TalkgroupId,
    /// The operation carrying it (the status, when the call-out sends a status and a text:
    /// its leaving alerts the members).
    pub operation: OperationId,
    /// The text's operation, sent after `operation`, when the call-out sends both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_operation: Option<OperationId>,
}

/// A call-out resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callout {
    /// Identity.
    pub id: CalloutId,
    /// The client's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// What was asked.
    pub spec: CalloutSpec,
    /// State.
    pub state: CalloutState,
    /// Started.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
    /// Expires then.
    pub deadline: Timestamp,
    /// When backup teams were called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<Timestamp>,
    /// Backup teams called (keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups_called: Vec<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// Who cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// Members, in the order called.
    pub members: Vec<Member>,
    /// Group transmissions.
    #[serde(default)]
    pub groups: Vec<GroupSend>,
}

impl Callout {
    /// The member for `radio`.
    pub fn member(&self, radio: RadioId) -> Option<&Member> {
        self.members.iter().find(|m| m.radio == radio)
    }

    /// Members answered so far.
    pub fn answered(&self) -> usize {
        self.count(MemberState::Answered)
    }

    /// Members in `state`.
    pub fn count(&self, state: MemberState) -> usize {
        self.members.iter().filter(|m| m.state == state).count()
    }

    /// Answers needed to be satisfied.
    pub fn needed(&self) -> usize {
        match self.spec.escalation.min_answers {
            0 => self.members.iter().filter(|m| !m.backup).count(),
            n => n as usize,
        }
    }

    fn roles_met(&self) -> bool {
        self.spec.teams.iter().all(|team| {
            self.spec.escalation.required_roles.iter().all(|role| {
                self.members.iter().any(|m| {
                    m.team.as_deref() == Some(team.as_str())
                        && m.role == *role
                        && m.state == MemberState::Answered
                })
            })
        })
    }

    /// Enough members (and roles) answered.
    pub fn satisfied(&self) -> bool {
        self.answered() >= self.needed() && self.roles_met()
    }

    /// Answers still possible: answered plus members that may yet answer.
    fn possible(&self) -> usize {
        self.members
            .iter()
            .filter(|m| {
                matches!(
                    m.state,
                    MemberState::Answered
                        | MemberState::Queued
                        | MemberState::Alerted
                        | MemberState::Delivered
                )
            })
            .count()
    }
}

/// The call-outs the core keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Callouts {
    by_id: BTreeMap<CalloutId, Callout>,
    running: BTreeSet<CalloutId>,
    finished: VecDeque<CalloutId>,
    /// Operations created by running call-outs, to find the call-out an event is about.
    ops: BTreeMap<OperationId, CalloutId>,
    by_request: BTreeMap<String, CalloutId>,
    next: u64,
}

/// Fold a call-out event (the only place call-out state changes; `Core::apply` calls it).
pub(super) fn apply(st: &mut State, at: Timestamp, kind: &EventKind) {
    let book = &mut st.callouts;
    match kind {
        EventKind::CalloutStarted { callout } => {
            book.next = book.next.max(callout.id.0 + 1);
            if let Some(r) = &callout.request_id {
                book.by_request.insert(r.clone(), callout.id);
            }
            index(book, callout);
            if !callout.state.is_final() {
                book.running.insert(callout.id);
            }
            book.by_id.insert(callout.id, (**callout).clone());
        }
        EventKind::CalloutGroupQueued {
            callout,
            team,
            talkgroup,
            operation,
            text_operation,
        } => {
            if let Some(c) = book.by_id.get_mut(callout) {
                c.groups.push(GroupSend {
                    team: team.clone(),
                    talkgroup: *talkgroup,
                    operation: *operation,
                    text_operation: *text_operation,
                });
                for m in c
                    .members
                    .iter_mut()
                    .filter(|m| m.team.as_deref() == Some(team.as_str()))
                {
                    m.group = Some(*operation);
                }
                c.updated = at;
                for op in std::iter::once(operation).chain(text_operation) {
                    book.ops.insert(*op, *callout);
                }
            }
        }
        EventKind::CalloutMemberUpdated { callout, member } => {
            if let Some(c) = book.by_id.get_mut(callout)
                && let Some(m) = c.members.iter_mut().find(|m| m.radio == member.radio)
            {
                *m = (**member).clone();
                c.updated = at;
                for op in member.operation.iter().chain(&member.check) {
                    book.ops.insert(*op, *callout);
                }
            }
        }
        EventKind::CalloutEscalated {
            callout,
            teams,
            members,
            ..
        } => {
            if let Some(c) = book.by_id.get_mut(callout) {
                c.state = CalloutState::Escalated;
                c.escalated_at = Some(at);
                c.backups_called.extend(teams.iter().cloned());
                c.members.extend(members.iter().cloned());
                c.updated = at;
            }
        }
        EventKind::CalloutFinished {
            callout,
            state,
            operator,
        } => {
            if let Some(c) = book.by_id.get_mut(callout)
                && !c.state.is_final()
            {
                c.state = *state;
                c.finished = Some(at);
                c.updated = at;
                c.cancelled_by = operator.clone();
                let c = c.clone();
                unindex(book, &c);
                book.running.remove(callout);
                book.finished.push_back(*callout);
                let kept = |book: &Callouts| -> usize {
                    book.finished
                        .iter()
                        .filter_map(|id| book.by_id.get(id))
                        .map(|c| c.members.len())
                        .sum()
                };
                while book.finished.len() > HISTORY
                    || (book.finished.len() > 1 && kept(book) > HISTORY_MEMBERS)
                {
                    if let Some(old) = book.finished.pop_front()
                        && let Some(o) = book.by_id.remove(&old)
                        && let Some(r) = o.request_id
                    {
                        book.by_request.remove(&r);
                    }
                }
            }
        }
        EventKind::CalloutReplied { .. } => {}
        _ => {}
    }
}

fn index(book: &mut Callouts, c: &Callout) {
    for g in &c.groups {
        for op in std::iter::once(&g.operation).chain(&g.text_operation) {
            book.ops.insert(*op, c.id);
        }
    }
    for m in &c.members {
        for op in m.operation.iter().chain(&m.check) {
            book.ops.insert(*op, c.id);
        }
    }
}

fn unindex(book: &mut Callouts, c: &Callout) {
    for g in &c.groups {
        for op in std::iter::once(&g.operation).chain(&g.text_operation) {
            book.ops.remove(op);
        }
    }
    for m in &c.members {
        for op in m.operation.iter().chain(&m.check) {
            book.ops.remove(op);
        }
    }
}

/// Queries.
impl Core {
    /// A call-out, running or kept in the history.
    pub fn callout(&self, id: CalloutId) -> Option<&Callout> {
        self.state.callouts.by_id.get(&id)
    }

    /// Call-outs newest first, starting below `before` (exclusive) when given.
    pub fn callouts(&self, before: Option<CalloutId>) -> impl Iterator<Item = &Callout> {
        let end = before.map_or(u64::MAX, |b| b.0);
        self.state
            .callouts
            .by_id
            .range(..CalloutId(end))
            .rev()
            .map(|(_, c)| c)
    }

    /// The earliest call-out deadline or backup time still ahead.
    pub(super) fn callout_deadline(&self) -> Option<Timestamp> {
        let book = &self.state.callouts;
        let mut next: Option<Timestamp> = None;
        let mut at = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        // Per site: can the feeder queue there now? (asked once per site, not per member)
        let mut blocked: BTreeMap<SiteId, bool> = BTreeMap::new();
        for c in book.running.iter().filter_map(|id| book.by_id.get(id)) {
            at(c.deadline);
            if c.state == CalloutState::Running
                && let Some(ms) = c.spec.escalation.backup_after_ms
                && !self.backups_of(c).is_empty()
            {
                at(c.created.plus_ms(ms));
            }
            // Alerted members waiting for their follow-up. One whose site's queue is full is
            // fed when that queue moves (its own deadline), so it is left out here: a time
            // already past would make the driver spin.
            for m in &c.members {
                if m.state != MemberState::Alerted || m.operation.is_some() {
                    continue;
                }
                let Some(t) = m.alerted_at else { continue };
                let Some(site) = self
                    .state
                    .radios
                    .get(&m.radio)
                    .and_then(|r| r.presence.as_ref())
                    .map(|p| &p.site)
                else {
                    continue;
                };
                let full = *blocked
                    .entry(site.clone())
                    .or_insert_with(|| self.site_blocked(site));
                if !full {
                    at(t.plus_ms(c.spec.followup_delay_ms));
                }
            }
        }
        next
    }
}

/// The member a radio becomes when called now.
fn enlist(
    core: &Core,
    now: Timestamp,
    radio: RadioId,
    team: Option<(&str, TeamRole)>,
    backup: bool,
) -> Member {
    let r = core.state.radios.get(&radio);
    let (state, reason, site) = match r {
        None => (
            MemberState::NotReachable,
            Some(NotReachable::NotHeard),
            None,
        ),
        Some(r) => reachability(r),
    };
    Member {
        radio,
        name: r.and_then(|r| r.name.as_deref()).map(str::to_string),
        team: team.map(|(t, _)| t.to_string()),
        role: team.map_or(TeamRole::Member, |(_, role)| role),
        backup,
        site,
        state,
        reason,
        group: None,
        operation: None,
        status_operation: None,
        check: None,
        sends: 0,
        alerted_at: None,
        delivered_at: None,
        reply: None,
        replied_at: None,
        updated: now,
    }
}

/// Whether a radio can be sent to now, and where.
fn reachability(r: &super::Radio) -> (MemberState, Option<NotReachable>, Option<SiteId>) {
    let site = r.presence.as_ref().map(|p| p.site.clone());
    let reason = match (r.control, &site) {
        (RadioControl::Killed, _) => Some(NotReachable::Killed),
        (RadioControl::Stunned, _) => Some(NotReachable::Stunned),
        (_, None) => Some(NotReachable::NotHeard),
        _ if !r.registered => Some(NotReachable::NotRegistered),
        _ => None,
    };
    match reason {
        Some(reason) => (MemberState::NotReachable, Some(reason), site),
        None => (MemberState::Queued, None, site),
    }
}

/// The air commands of one transmission of the message: the status sent ahead (when both
/// are sent) and the one whose acknowledgement delivers.
fn air_commands(msg: &CalloutMessage, to: Addressee) -> (Option<OtaCommand>, OtaCommand) {
    match msg {
        CalloutMessage::Text { text } => (
            None,
            OtaCommand::SendText {
                to,
                text: text.clone(),
            },
        ),
        CalloutMessage::Status { status } => (
            None,
            OtaCommand::SendStatus {
                to,
                status: *status,
            },
        ),
        CalloutMessage::Both { status, text } => (
            Some(OtaCommand::SendStatus {
                to,
                status: *status,
            }),
            OtaCommand::SendText {
                to,
                text: text.clone(),
            },
        ),
    }
}

impl Core {
    /// `StartCallout`: validate, enlist the members, queue the group transmissions.
    pub(super) fn start_callout(
        &mut self,
        now: Timestamp,
        spec: CalloutSpec,
        (request_id, operator): (Option<String>, Option<String>),
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        if let Some(r) = &request_id
            && let Some(id) = self.state.callouts.by_request.get(r)
            && let Some(c) = self.state.callouts.by_id.get(id)
        {
            return if c.spec == spec {
                Ok(Reply::Callout(Box::new(c.clone())))
            } else {
                Err(DispatchError::RequestIdReused(r.clone()))
            };
        }
        let invalid = |field, reason| Err(DispatchError::InvalidArgument { field, reason });
        if spec.teams.is_empty() && spec.radios.is_empty() {
            return invalid("teams", "name at least one team or radio");
        }
        if spec.title.chars().count() > MAX_TITLE_CHARS || spec.title.chars().any(char::is_control)
        {
            return invalid(
                "title",
                "longer than 64 characters or holds a control character",
            );
        }
        if let Some(text) = spec.message.text() {
            if text.is_empty() {
                return invalid("message.text", "empty");
            }
            if text.encode_utf16().count() > self.config.max_text_units {
                return invalid("message.text", "longer than the air interface carries");
            }
        }
        if spec.message.status().is_some_and(|s| s > MAX_STATUS) {
            return invalid("message.status", "above 1023, the 10-bit air field");
        }
        let a = &spec.answers;
        if a.statuses.is_empty() && a.declines.is_empty() && !a.any_text {
            return invalid(
                "answers",
                "no reply would count: list statuses or allow text",
            );
        }
        if a.statuses
            .iter()
            .chain(&a.declines)
            .any(|s| *s > MAX_STATUS)
        {
            return invalid("answers", "a status above 1023, the 10-bit air field");
        }
        if a.statuses.iter().any(|s| a.declines.contains(s)) {
            return invalid("answers", "a status both answers and declines");
        }
        if !(DEADLINE_MS.0..=DEADLINE_MS.1).contains(&spec.deadline_ms) {
            return invalid("deadline", "outside 10 s ..= 24 h");
        }
        if spec
            .escalation
            .backup_after_ms
            .is_some_and(|b| b >= spec.deadline_ms)
        {
            return invalid("escalation.backup_after", "not before the deadline");
        }
        if spec.followup_delay_ms >= spec.deadline_ms {
            return invalid("followup_delay", "not before the deadline");
        }
        for (field, list) in [
            ("teams", &spec.teams),
            ("escalation.backup_teams", &spec.escalation.backup_teams),
        ] {
            let mut seen = BTreeSet::new();
            if !list.iter().all(|t| seen.insert(t)) {
                // Each listing would queue its own group transmission.
                return invalid(field, "a team is listed twice");
            }
        }
        for key in spec.teams.iter().chain(&spec.escalation.backup_teams) {
            if self.find_team(key).is_none() {
                return Err(DispatchError::UnknownTeam(key.clone()));
            }
        }
        for r in &spec.radios {
            if !self.state.radios.contains_key(r) {
                return Err(DispatchError::UnknownRadio(*r));
            }
        }
        if self.state.callouts.running.len() >= MAX_RUNNING {
            return Err(DispatchError::TooManyCallouts { limit: MAX_RUNNING });
        }
        let teams = spec.teams.clone();
        // One more than the bound, so that too many is refused below without enlisting
        // every member of every team named.
        let mut members = self.enlist_teams(now, &teams, &spec.roles, false, &[], MAX_MEMBERS + 1);
        for r in &spec.radios {
            if !members.iter().any(|m| m.radio == *r) {
                members.push(enlist(self, now, *r, None, false));
            }
        }
        if members.is_empty() {
            return invalid("teams", "the teams named have no members with those roles");
        }
        if members.len() > MAX_MEMBERS {
            return invalid("teams", "more than 5000 members");
        }
        let id = CalloutId(self.state.callouts.next);
        let callout = Callout {
            id,
            request_id,
            operator,
            deadline: now.plus_ms(spec.deadline_ms),
            spec,
            state: CalloutState::Running,
            created: now,
            updated: now,
            escalated_at: None,
            backups_called: Vec::new(),
            finished: None,
            cancelled_by: None,
            members,
            groups: Vec::new(),
        };
        let callout = Box::new(callout);
        self.emit(now, EventKind::CalloutStarted { callout }, out);
        self.queue_groups(now, id, &teams, out);
        self.settle(now, id, out);
        self.feed(now, out);
        let c = self
            .callout(id)
            .cloned()
            .ok_or(DispatchError::UnknownCallout(id))?;
        Ok(Reply::Callout(Box::new(c)))
    }

    /// Members of `teams` with `roles` (all when empty), skipping radios in `skip`.
    fn enlist_teams(
        &self,
        now: Timestamp,
        teams: &[String],
        roles: &[TeamRole],
        backup: bool,
        skip: &[RadioId],
        limit: usize,
    ) -> Vec<Member> {
        // A set, not a scan of the members so far: teams of thousands stay linear.
        let mut seen: BTreeSet<RadioId> = skip.iter().copied().collect();
        let mut members: Vec<Member> = Vec::new();
        for key in teams {
            let Some(team) = self.find_team(key) else {
                continue;
            };
            for r in &team.radios {
                if members.len() >= limit {
                    return members;
                }
                let role = team.role_of(*r);
                if (!roles.is_empty() && !roles.contains(&role)) || !seen.insert(*r) {
                    continue;
                }
                members.push(enlist(self, now, *r, Some((key, role)), backup));
            }
        }
        members
    }

    /// One group transmission per team called whole whose talkgroup reaches at least two
    /// members that can be reached now.
    fn queue_groups(
        &mut self,
        now: Timestamp,
        id: CalloutId,
        teams: &[String],
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.callout(id) else {
            return;
        };
        if !c.spec.roles.is_empty() {
            // Leaders only: a group transmission would alert the others too.
            return;
        }
        let (message, operator) = (c.spec.message.clone(), c.operator.clone());
        let mut plans = Vec::new();
        for key in teams {
            let Some(tg) = self.find_team(key).and_then(|t| t.talkgroup) else {
                continue;
            };
            let reachable = c
                .members
                .iter()
                .filter(|m| m.team.as_deref() == Some(key) && m.state == MemberState::Queued)
                .count();
            if reachable >= 2 {
                plans.push((key.clone(), tg));
            }
        }
        for (team, talkgroup) in plans {
            let to = Addressee::Talkgroup(talkgroup);
            // A group that cannot be sent (never heard anywhere) leaves its members to
            // their individual transmissions.
            if let Ok((status, op)) = self.send_message(now, &message, to, operator.clone(), out) {
                let kind = EventKind::CalloutGroupQueued {
                    callout: id,
                    team,
                    talkgroup,
                    operation: status.unwrap_or(op),
                    text_operation: status.map(|_| op),
                };
                self.emit(now, kind, out);
            }
        }
    }

    /// Create the operations of one transmission of the message to `to`, in the order they
    /// go on the air: the status sent ahead (when both are sent), then the one whose
    /// acknowledgement delivers. Nothing is left queued when either cannot be created.
    fn send_message(
        &mut self,
        now: Timestamp,
        message: &CalloutMessage,
        to: Addressee,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) -> Result<(Option<OperationId>, OperationId), DispatchError> {
        let (lead, main) = air_commands(message, to);
        let lead = match lead {
            Some(cmd) => Some(
                self.create_with(
                    now,
                    cmd,
                    Priority::Callout,
                    (None, operator.clone(), None),
                    out,
                )?
                .id,
            ),
            None => None,
        };
        match self.create_with(now, main, Priority::Callout, (None, operator, None), out) {
            Ok(op) => Ok((lead, op.id)),
            Err(e) => {
                self.withdraw(now, lead, out);
                Err(e)
            }
        }
    }

    /// `CancelCallout`.
    pub(super) fn cancel_callout(
        &mut self,
        now: Timestamp,
        id: CalloutId,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        let c = self.callout(id).ok_or(DispatchError::UnknownCallout(id))?;
        if c.state.is_final() {
            return Err(DispatchError::CalloutFinished {
                callout: id,
                state: c.state,
            });
        }
        self.finish(now, id, CalloutState::Cancelled, operator, out);
        let c = self
            .callout(id)
            .cloned()
            .ok_or(DispatchError::UnknownCallout(id))?;
        Ok(Reply::Callout(Box::new(c)))
    }

    /// After every input: react to what the events from `start` on say about running
    /// call-outs, run their timers, and feed their follow-ups to the sites' queues.
    pub(super) fn callout_step(&mut self, now: Timestamp, start: usize, out: &mut Vec<Output>) {
        if self.state.callouts.running.is_empty() {
            return;
        }
        let mut i = start;
        while i < out.len() {
            if let Output::Event(e) = &out[i] {
                let kind = e.kind.clone();
                self.react(now, &kind, out);
            }
            i += 1;
        }
        let running: Vec<CalloutId> = self.state.callouts.running.iter().copied().collect();
        for id in running {
            self.callout_timers(now, id, out);
        }
        self.feed(now, out);
    }

    fn react(&mut self, now: Timestamp, kind: &EventKind, out: &mut Vec<Output>) {
        match kind {
            EventKind::OperationSiteSent {
                operation,
                site,
                sent_at,
            } => self.group_sent(now, *operation, site, *sent_at, out),
            EventKind::OperationSucceeded { operation, .. }
            | EventKind::OperationRefused { operation, .. }
            | EventKind::OperationTimedOut { operation, .. }
            | EventKind::OperationFailed { operation, .. } => {
                self.member_operation_done(now, *operation, out)
            }
            EventKind::RadioDeregistered { radio } => {
                self.unreachable_now(now, *radio, NotReachable::Deregistered, out)
            }
            EventKind::RadioControlChanged { radio, control } => match control {
                RadioControl::Stunned => {
                    self.unreachable_now(now, *radio, NotReachable::Stunned, out)
                }
                RadioControl::Killed => {
                    self.unreachable_now(now, *radio, NotReachable::Killed, out)
                }
                RadioControl::Enabled => self.reachable_again(now, *radio, out),
            },
            EventKind::RadioRegistered { radio, .. } | EventKind::RadioHeard { radio, .. } => {
                self.reachable_again(now, *radio, out)
            }
            EventKind::MessageReceived { message } => self.reply(now, message, out),
            _ => {}
        }
    }

    /// Running call-outs with a member for `radio`, and the member.
    fn memberships(&self, radio: RadioId) -> Vec<(CalloutId, Member)> {
        let book = &self.state.callouts;
        book.running
            .iter()
            .filter_map(|id| book.by_id.get(id))
            .filter_map(|c| c.member(radio).map(|m| (c.id, m.clone())))
            .collect()
    }

    fn update(
        &mut self,
        now: Timestamp,
        callout: CalloutId,
        mut member: Member,
        out: &mut Vec<Output>,
    ) {
        member.updated = now;
        let member = Box::new(member);
        self.emit(
            now,
            EventKind::CalloutMemberUpdated { callout, member },
            out,
        );
    }

    /// Cancel an operation of a call-out that has not gone on the air yet.
    fn withdraw(&mut self, now: Timestamp, op: Option<OperationId>, out: &mut Vec<Output>) {
        let Some(operation) = op else { return };
        let queued = self
            .state
            .operations
            .get(&operation)
            .is_some_and(|o| o.state == OperationState::Queued && o.attempts == 0);
        if queued {
            let kind = EventKind::OperationCancelled {
                operation,
                operator: None,
            };
            self.emit(now, kind, out);
        }
    }

    fn group_sent(
        &mut self,
        now: Timestamp,
        operation: OperationId,
        site: &SiteId,
        sent_at: Timestamp,
        out: &mut Vec<Output>,
    ) {
        let Some(&id) = self.state.callouts.ops.get(&operation) else {
            return;
        };
        let Some(c) = self.callout(id).filter(|c| !c.state.is_final()) else {
            return;
        };
        let alerted: Vec<Member> = c
            .members
            .iter()
            .filter(|m| {
                m.group == Some(operation)
                    && m.state == MemberState::Queued
                    && m.site.as_ref() == Some(site)
            })
            .cloned()
            .collect();
        for mut m in alerted {
            m.state = MemberState::Alerted;
            m.alerted_at = Some(sent_at);
            self.update(now, id, m, out);
        }
        self.settle(now, id, out);
    }

    fn member_operation_done(
        &mut self,
        now: Timestamp,
        operation: OperationId,
        out: &mut Vec<Output>,
    ) {
        let Some(&id) = self.state.callouts.ops.get(&operation) else {
            return;
        };
        let Some(op_state) = self.state.operations.get(&operation).map(|o| o.state) else {
            return;
        };
        let Some(c) = self.callout(id).filter(|c| !c.state.is_final()) else {
            return;
        };
        let operator = c.operator.clone();
        let message = c.spec.message.clone();
        let Some(m) = c
            .members
            .iter()
            .find(|m| m.operation == Some(operation) || m.check == Some(operation))
            .cloned()
        else {
            // A group transmission finished: members on sites where it failed are fed
            // individually (the feeder sees the failed delivery).
            return;
        };
        if m.state.is_final() || m.state == MemberState::NotReachable {
            return;
        }
        let mut m = m;
        if m.operation == Some(operation) {
            if op_state == OperationState::Succeeded {
                if m.state != MemberState::Delivered {
                    m.state = MemberState::Delivered;
                    m.delivered_at = Some(now);
                    self.update(now, id, m, out);
                }
            } else if m.state != MemberState::Delivered && op_state != OperationState::Cancelled {
                // No acknowledgement after the retries: is the radio there at all?
                if m.check.is_none() {
                    let cmd = OtaCommand::RadioCheck { radio: m.radio };
                    match self.create_with(now, cmd, Priority::Callout, (None, operator, None), out)
                    {
                        Ok(op) => {
                            m.check = Some(op.id);
                            self.update(now, id, m, out);
                        }
                        Err(_) => {
                            m.state = MemberState::Unreachable;
                            self.update(now, id, m, out);
                        }
                    }
                } else {
                    m.state = MemberState::Unreachable;
                    self.update(now, id, m, out);
                }
            }
        } else if op_state == OperationState::Succeeded
            && m.sends <= RESENDS_AFTER_CHECK
            && m.state != MemberState::Delivered
        {
            // The radio answers checks: send the message once more.
            let to = Addressee::Radio(m.radio);
            match self.send_message(now, &message, to, operator, out) {
                Ok((status, op)) => {
                    m.operation = Some(op);
                    m.status_operation = status;
                    m.sends = m.sends.saturating_add(1);
                }
                Err(_) => m.state = MemberState::Unreachable,
            }
            self.update(now, id, m, out);
        } else if m.state != MemberState::Delivered && op_state != OperationState::Cancelled {
            m.state = MemberState::Unreachable;
            self.update(now, id, m, out);
        }
        self.settle(now, id, out);
    }

    fn unreachable_now(
        &mut self,
        now: Timestamp,
        radio: RadioId,
        why: NotReachable,
        out: &mut Vec<Output>,
    ) {
        for (id, mut m) in self.memberships(radio) {
            if !matches!(
                m.state,
                MemberState::Queued | MemberState::Alerted | MemberState::Delivered
            ) {
                continue;
            }
            self.withdraw(now, m.status_operation, out);
            self.withdraw(now, m.operation, out);
            self.withdraw(now, m.check, out);
            m.state = MemberState::NotReachable;
            m.reason = Some(why);
            self.update(now, id, m, out);
            self.settle(now, id, out);
        }
    }

    fn reachable_again(&mut self, now: Timestamp, radio: RadioId, out: &mut Vec<Output>) {
        let Some(r) = self.state.radios.get(&radio) else {
            return;
        };
        let (state, _, site) = reachability(r);
        if state != MemberState::Queued {
            return;
        }
        for (id, mut m) in self.memberships(radio) {
            if m.state != MemberState::NotReachable {
                continue;
            }
            m.state = MemberState::Queued;
            m.reason = None;
            m.site = site.clone();
            // A fresh start: its earlier transmissions (if any) were withdrawn.
            m.operation = None;
            m.status_operation = None;
            m.check = None;
            m.group = None;
            self.update(now, id, m, out);
        }
    }

    fn reply(&mut self, now: Timestamp, message: &Message, out: &mut Vec<Output>) {
        if message.direction != Direction::Inbound {
            return;
        }
        let Some(radio) = message.source else { return };
        let reply = match &message.body {
            MessageBody::Status { status } => CalloutReply::Status { status: *status },
            MessageBody::Text { text } => CalloutReply::Text { text: text.clone() },
        };
        let mut counted = Vec::new();
        for (id, m) in self.memberships(radio) {
            if matches!(
                m.state,
                MemberState::Answered | MemberState::Declined | MemberState::Cancelled
            ) {
                continue;
            }
            let Some(c) = self.callout(id) else { continue };
            if message.at < c.created {
                continue;
            }
            let a = &c.spec.answers;
            let state = match &reply {
                CalloutReply::Status { status } if a.declines.contains(status) => {
                    MemberState::Declined
                }
                CalloutReply::Status { status } if a.statuses.contains(status) => {
                    MemberState::Answered
                }
                CalloutReply::Text { .. } if a.any_text => MemberState::Answered,
                _ => continue,
            };
            counted.push((id, m, state));
        }
        if counted.is_empty() {
            return;
        }
        let kind = EventKind::CalloutReplied {
            radio,
            message: message.id,
            reply: reply.clone(),
            callouts: counted.iter().map(|(id, _, _)| *id).collect(),
        };
        self.emit(now, kind, out);
        for (id, mut m, state) in counted {
            if m.state == MemberState::Queued {
                // Answered before its own transmission left: that air time is saved.
                self.withdraw(now, m.status_operation, out);
                self.withdraw(now, m.operation, out);
            }
            self.withdraw(now, m.check, out);
            m.state = state;
            m.reason = None;
            m.reply = Some(reply.clone());
            m.replied_at = Some(message.at);
            if m.delivered_at.is_none() {
                m.delivered_at = Some(message.at);
            }
            self.update(now, id, m, out);
            self.settle(now, id, out);
        }
    }

    /// Satisfied now? Or are enough answers impossible without the backups?
    fn settle(&mut self, now: Timestamp, id: CalloutId, out: &mut Vec<Output>) {
        let Some(c) = self.callout(id) else { return };
        if c.state.is_final() {
            return;
        }
        if c.satisfied() {
            self.finish(now, id, CalloutState::Satisfied, None, out);
        } else if c.state == CalloutState::Running && c.possible() < c.needed() {
            self.escalate(now, id, out);
        }
    }

    fn callout_timers(&mut self, now: Timestamp, id: CalloutId, out: &mut Vec<Output>) {
        let Some(c) = self.callout(id) else { return };
        if c.state.is_final() {
            return;
        }
        if now >= c.deadline {
            self.finish(now, id, CalloutState::Expired, None, out);
            return;
        }
        let backup_due = c
            .spec
            .escalation
            .backup_after_ms
            .is_some_and(|ms| now >= c.created.plus_ms(ms));
        if c.state == CalloutState::Running && backup_due {
            self.escalate(now, id, out);
        }
    }

    /// The backup teams a call-out would call: those named, else the named teams' own.
    fn backups_of(&self, c: &Callout) -> Vec<String> {
        if c.spec.escalation.backup_teams.is_empty() {
            let mut v: Vec<String> = Vec::new();
            for key in &c.spec.teams {
                if let Some(t) = self.find_team(key) {
                    for b in &t.backups {
                        if !c.spec.teams.contains(b) && !v.contains(b) {
                            v.push(b.clone());
                        }
                    }
                }
            }
            v
        } else {
            c.spec.escalation.backup_teams.clone()
        }
    }

    /// Call the backup teams (once; a call-out without any stays running).
    fn escalate(&mut self, now: Timestamp, id: CalloutId, out: &mut Vec<Output>) {
        let Some(c) = self.callout(id) else { return };
        let teams = self.backups_of(c);
        if teams.is_empty() {
            return;
        }
        let have: Vec<RadioId> = c.members.iter().map(|m| m.radio).collect();
        let roles = c.spec.roles.clone();
        let room = MAX_MEMBERS.saturating_sub(have.len());
        // Everyone the backups would bring (escalation is rare, teams are bounded), so the
        // event can say how many the member bound left out.
        let mut members = self.enlist_teams(now, &teams, &roles, true, &have, usize::MAX);
        let left_out = u32::try_from(members.len().saturating_sub(room)).unwrap_or(u32::MAX);
        members.truncate(room);
        let kind = EventKind::CalloutEscalated {
            callout: id,
            teams: teams.clone(),
            members,
            left_out,
        };
        self.emit(now, kind, out);
        self.queue_groups(now, id, &teams, out);
    }

    fn finish(
        &mut self,
        now: Timestamp,
        id: CalloutId,
        state: CalloutState,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.callout(id).cloned() else {
            return;
        };
        for g in &c.groups {
            self.withdraw(now, Some(g.operation), out);
            self.withdraw(now, g.text_operation, out);
        }
        for mut m in c.members {
            self.withdraw(now, m.status_operation, out);
            self.withdraw(now, m.operation, out);
            self.withdraw(now, m.check, out);
            if m.state == MemberState::Queued {
                m.state = MemberState::Cancelled;
                self.update(now, id, m, out);
            }
        }
        let kind = EventKind::CalloutFinished {
            callout: id,
            state,
            operator,
        };
        self.emit(now, kind, out);
    }

    /// Create individual transmissions for members who need one, at most [`FEED_DEPTH`]
    /// call-out operations waiting per site.
    fn feed(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let mut waiting: BTreeMap<SiteId, usize> = BTreeMap::new();
        let running: Vec<CalloutId> = self.state.callouts.running.iter().copied().collect();
        for id in running {
            let Some(c) = self.callout(id) else { continue };
            if c.state.is_final() {
                continue;
            }
            let mut plans: Vec<(Member, SiteId)> = Vec::new();
            for m in &c.members {
                if !matches!(m.state, MemberState::Queued | MemberState::Alerted)
                    || m.operation.is_some()
                {
                    continue;
                }
                if m.state == MemberState::Queued && self.group_pending(m) {
                    continue;
                }
                if m.state == MemberState::Alerted
                    && m.alerted_at
                        .is_some_and(|t| t.plus_ms(c.spec.followup_delay_ms) > now)
                {
                    continue;
                }
                let Some(site) = self
                    .state
                    .radios
                    .get(&m.radio)
                    .and_then(|r| r.presence.as_ref())
                    .map(|p| p.site.clone())
                else {
                    continue;
                };
                let n = waiting.entry(site.clone()).or_insert_with(|| {
                    self.state.sites.get(&site).map_or(0, |s| {
                        s.queue
                            .iter()
                            .filter(|(p, _)| *p == Priority::Callout)
                            .count()
                    })
                });
                if *n >= FEED_DEPTH {
                    continue;
                }
                *n += c.spec.message.operations();
                plans.push((m.clone(), site));
            }
            let (message, operator) = (c.spec.message.clone(), c.operator.clone());
            for (mut m, site) in plans {
                let to = Addressee::Radio(m.radio);
                match self.send_message(now, &message, to, operator.clone(), out) {
                    Ok((status, op)) => {
                        m.operation = Some(op);
                        m.status_operation = status;
                        m.sends = m.sends.saturating_add(1);
                        m.site = Some(site);
                    }
                    // Queue or operation limits: try again after the next input.
                    Err(
                        DispatchError::QueueFull { .. } | DispatchError::TooManyOperations { .. },
                    ) => {
                        continue;
                    }
                    Err(_) => m.state = MemberState::Unreachable,
                }
                self.update(now, id, m, out);
            }
            self.settle(now, id, out);
        }
    }

    /// Whether the feeder cannot queue a transmission on `site` now: unknown, or its queue
    /// holds [`FEED_DEPTH`] call-out operations or is full, or the gateway-wide operation limit
    /// is reached.
    fn site_blocked(&self, site: &SiteId) -> bool {
        let Some(site) = self.state.sites.get(site) else {
            return true;
        };
        let callout = site
            .queue
            .iter()
            .filter(|(p, _)| *p == Priority::Callout)
            .count();
        callout >= FEED_DEPTH
            || site.queue.len() >= self.config.queue_limit
            || self.state.active_operations.len() >= self.config.max_active_operations
    }

    /// The member's group transmission has not yet left (or failed) on its site.
    fn group_pending(&self, m: &Member) -> bool {
        let Some(op) = m.group.and_then(|g| self.state.operations.get(&g)) else {
            return false;
        };
        if op.state.is_final() {
            return false;
        }
        op.deliveries
            .iter()
            .any(|d| Some(&d.site) == m.site.as_ref() && !d.state.is_final())
    }
}
