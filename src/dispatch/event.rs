//! Events: every state change of the core, and `Core::apply`, the fold.
//!
//! An [`Event`] is `{ "at": <unix ms>, "event": "<snake_case name>", ...fields }` in JSON.
//! Names are stable: add variants and optional fields, never rename. `apply` never fails and
//! never panics: an event that refers to something no longer kept (aged out of a bounded
//! history) changes nothing, so replaying any prefix of a journal is safe.

use serde::{Deserialize, Serialize};

use super::audit::AuditEntry;
use super::callout::{Callout, CalloutReply, CalloutState, Member as CalloutMember};
use super::ids::{
    AlarmId, CallId, CalloutId, MessageId, OperationId, RadioId, SiteId, TalkgroupId, TeamId,
    Timestamp,
};
use super::model::ApprovalDecision;
use super::model::{
    Addressee, Alarm, AlarmState, Call, CallEndReason, DeliveryLevel, DeliveryState, Directory,
    FailReason, Mark, Message, Operation, OperationResult, OperationState, OtaCommand, PollOutcome,
    Position, PositionReport, Presence, Radio, RadioControl, Refusal, Service, Site, Talkgroup,
    Team,
};
use super::{Config, Core, State};
use crate::link::Slot;

/// A state change, with the time the core decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub at: Timestamp,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The directory was (re)loaded.
    DirectoryLoaded { directory: Directory },
    /// A site not in the directory was heard or reported by a link.
    SiteAdded { site: SiteId },
    /// A site's link went up or down.
    SiteLinkChanged { site: SiteId, up: bool },
    /// A radio was heard (new site or slot, or presence refresh). Creates unknown radios.
    RadioHeard {
        radio: RadioId,
        site: SiteId,
        slot: Slot,
        rssi_dbm: Option<i16>,
    },
    /// A radio registered.
    RadioRegistered { radio: RadioId, site: SiteId },
    /// A radio deregistered.
    RadioDeregistered { radio: RadioId },
    /// A radio affiliated to a talkgroup.
    RadioAffiliated {
        radio: RadioId,
        talkgroup: TalkgroupId,
        site: SiteId,
    },
    /// A talker alias was learned.
    RadioAliasLearned { radio: RadioId, alias: String },
    /// A capability was learned from an answer.
    RadioCapabilityLearned {
        radio: RadioId,
        service: Service,
        supported: bool,
    },
    /// A stun / revive / kill was acknowledged.
    RadioControlChanged {
        radio: RadioId,
        control: RadioControl,
    },
    /// A call started.
    CallStarted {
        call: CallId,
        target: Addressee,
        site: SiteId,
        slot: Slot,
        talker: Option<RadioId>,
        emergency: bool,
        privacy: bool,
    },
    /// A (new) talker started a transmission in a call.
    CallTalkerChanged { call: CallId, talker: RadioId },
    /// Emergency or privacy flags appeared.
    CallFlagsChanged {
        call: CallId,
        emergency: bool,
        privacy: bool,
    },
    /// The call is still going (refreshed at most every quarter of the idle timeout).
    CallActivity { call: CallId },
    /// A transmission ended (terminator); the call waits for the next within the hang time.
    CallTransmissionEnded { call: CallId },
    /// A call ended.
    CallEnded { call: CallId, reason: CallEndReason },
    /// An emergency alarm was raised.
    AlarmRaised {
        alarm: AlarmId,
        radio: RadioId,
        talkgroup: Option<TalkgroupId>,
        site: SiteId,
    },
    /// The same radio alarmed again; merged.
    AlarmRepeated { alarm: AlarmId, site: SiteId },
    /// An operator acknowledged the alarm; `operation` sends the acknowledgement over the
    /// air (none when the site's profile cannot).
    AlarmAcknowledged {
        alarm: AlarmId,
        operator: String,
        operation: Option<OperationId>,
    },
    /// An operator resolved the alarm.
    AlarmResolved { alarm: AlarmId, operator: String },
    /// A text or status message arrived.
    MessageReceived { message: Message },
    /// A dispatcher sent a text or status: the outbound message, carried by
    /// `message.operation`.
    MessageSent { message: Message },
    /// A dispatcher marked a message read.
    MessageRead {
        message: MessageId,
        operator: String,
    },
    /// A dispatcher marked a message handled (which marks it read as well).
    MessageHandled {
        message: MessageId,
        operator: String,
    },
    /// Packet data from a radio that nothing decoded, kept raw (sender, site, addressing,
    /// ports, payload).
    DataReceived {
        radio: RadioId,
        site: SiteId,
        data: super::ReceivedData,
    },
    /// A position arrived.
    PositionReported {
        radio: RadioId,
        site: SiteId,
        position: Position,
    },
    /// An operation was created and queued on `operation.site`.
    OperationCreated { operation: Operation },
    /// An operation went (back) into a site's queue: retry, next poll, or after a restart.
    OperationQueued {
        operation: OperationId,
        site: SiteId,
    },
    /// An operation was handed to the link on `slot`; that slot of the site is busy until
    /// `busy_until`. `deadline` (none when no answer is expected) is a fallback for a link that
    /// never reports the transmission sent; [`EventKind::OperationAired`] replaces it.
    OperationTransmitted {
        operation: OperationId,
        site: SiteId,
        attempt: u8,
        busy_until: Timestamp,
        deadline: Option<Timestamp>,
        /// `None` in journals written before slots were chosen (then TS1).
        #[serde(default)]
        slot: Option<Slot>,
    },
    /// The link reports the attempt's last burst left at `sent_at`; the answer is due within
    /// `answer_window_ms` (the answer timeout plus the site's extra air time), by `deadline`.
    OperationAired {
        operation: OperationId,
        attempt: u8,
        slot: Slot,
        sent_at: Timestamp,
        answer_window_ms: u64,
        deadline: Timestamp,
    },
    /// Group traffic: the link reported the transmission on `site` sent at `sent_at`.
    OperationSiteSent {
        operation: OperationId,
        site: SiteId,
        sent_at: Timestamp,
    },
    /// Group traffic: the transmission on `site` failed (`state` is
    /// [`DeliveryState::LinkDown`] or [`DeliveryState::NotReported`]).
    OperationSiteFailed {
        operation: OperationId,
        site: SiteId,
        state: DeliveryState,
    },
    /// An attempt got no answer in time.
    OperationAttemptTimedOut { operation: OperationId, attempt: u8 },
    /// One poll of a periodic location request was answered; the next is due at `next_poll`.
    OperationPolled {
        operation: OperationId,
        polls_done: u32,
        next_poll: Timestamp,
        /// The poll's answer (`None` in journals written before results were kept).
        #[serde(default)]
        result: Option<OperationResult>,
    },
    /// One poll of a periodic location request got no answer after `attempts`
    /// transmissions; the next is due at `next_poll` (`None` after the last poll: the finish
    /// event follows).
    OperationPollTimedOut {
        operation: OperationId,
        poll: u32,
        attempts: u8,
        next_poll: Option<Timestamp>,
    },
    /// Finished: succeeded, at `delivery` level, with the data asked for. Both `None` in
    /// journals written before they were recorded.
    OperationSucceeded {
        operation: OperationId,
        #[serde(default)]
        delivery: Option<DeliveryLevel>,
        #[serde(default)]
        result: Option<OperationResult>,
    },
    /// Finished: refused by the radio or the system.
    OperationRefused {
        operation: OperationId,
        refusal: Refusal,
    },
    /// Finished: no answer after `attempts` transmissions (0 in journals written before
    /// the count was recorded).
    OperationTimedOut {
        operation: OperationId,
        #[serde(default)]
        attempts: u8,
    },
    /// Finished: could not be carried out.
    OperationFailed {
        operation: OperationId,
        failure: FailReason,
    },
    /// Finished: cancelled.
    OperationCancelled {
        operation: OperationId,
        operator: Option<String>,
    },
    /// A second identity approved an operation awaiting approval; it is queued next.
    OperationApproved {
        operation: OperationId,
        approver: String,
        reason: Option<String>,
    },
    /// Finished: a second identity rejected the operation awaiting approval.
    OperationRejected {
        operation: OperationId,
        approver: String,
        reason: Option<String>,
    },
    /// Finished: no approval came within the approval window.
    OperationExpired { operation: OperationId },
    /// An audit entry (who, from where, what, why, how it came out); changes no state.
    AuditRecorded { entry: Box<AuditEntry> },
    /// A call-out started: its members as enlisted (queued, or not reachable and why).
    CalloutStarted { callout: Box<Callout> },
    /// A call-out's group-addressed transmission to `team` was queued as `operation`.
    CalloutGroupQueued {
        callout: CalloutId,
        team: String,
        talkgroup: TalkgroupId,
        /// The transmission that alerts (the status, when the call-out sends both).
        operation: OperationId,
        /// The text sent after it, when the call-out sends a status and a text (absent in
        /// journals written before call-outs could send both).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_operation: Option<OperationId>,
    },
    /// One member of a call-out changed (state, transmissions, times, reply): the member
    /// after the change.
    CalloutMemberUpdated {
        callout: CalloutId,
        member: Box<CalloutMember>,
    },
    /// A reply from `radio` (message `message`) counted for these running call-outs.
    CalloutReplied {
        radio: RadioId,
        message: MessageId,
        reply: CalloutReply,
        callouts: Vec<CalloutId>,
    },
    /// A call-out called its backup `teams`, enlisting `members`.
    CalloutEscalated {
        callout: CalloutId,
        teams: Vec<String>,
        members: Vec<CalloutMember>,
        /// Backup members not enlisted because the call-out reached its member bound
        /// ([`super::callout::MAX_MEMBERS`]); 0 in journals written before it was counted.
        #[serde(default, skip_serializing_if = "is_zero")]
        left_out: u32,
    },
    /// A call-out finished: satisfied, expired or cancelled (by `operator`).
    CalloutFinished {
        callout: CalloutId,
        state: CalloutState,
        #[serde(default)]
        operator: Option<String>,
    },
    /// A team was created through the API by `operator`.
    TeamCreated {
        team: Box<Team>,
        #[serde(default)]
        operator: Option<String>,
    },
    /// A managed team was replaced by `operator`; it is now at `revision`.
    TeamUpdated {
        team: Box<Team>,
        revision: u64,
        #[serde(default)]
        operator: Option<String>,
    },
    /// A managed team was deleted by `operator`.
    TeamDeleted {
        key: String,
        #[serde(default)]
        operator: Option<String>,
    },
    /// The gateway restarted; what follows is recovery.
    GatewayRestarted,
    /// The core's limits and timers changed (the configuration file wins at every start).
    /// Journaled so a replay folds every later event under the limits it was decided with.
    ConfigChanged { config: Config },
    /// Inputs were received and then lost before they could be journaled: `count` of them,
    /// received between `from` and `to`, and why. The after-action review sees the gap.
    InputsLost {
        count: u64,
        from: Timestamp,
        to: Timestamp,
        reason: LossReason,
    },
    /// The journal could not be written from `from` until `to` (the first failed and the
    /// first successful commit) because of `reason`; `held` inputs that arrived meanwhile
    /// were held and journaled just before this event. The gateway did not act meanwhile.
    JournalRecovered {
        from: Timestamp,
        to: Timestamp,
        reason: String,
        held: u64,
    },
}

/// Why inputs were lost before they reached the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossReason {
    /// The driver's input queue was full (the core could not keep up).
    Overloaded,
    /// The journal could not be written and the held-input buffer was full.
    JournalUnwritable,
}

impl EventKind {
    /// The event's stable name, as in its JSON `event` tag (the journal's `kind` column).
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::DirectoryLoaded { .. } => "directory_loaded",
            EventKind::SiteAdded { .. } => "site_added",
            EventKind::SiteLinkChanged { .. } => "site_link_changed",
            EventKind::RadioHeard { .. } => "radio_heard",
            EventKind::RadioRegistered { .. } => "radio_registered",
            EventKind::RadioDeregistered { .. } => "radio_deregistered",
            EventKind::RadioAffiliated { .. } => "radio_affiliated",
            EventKind::RadioAliasLearned { .. } => "radio_alias_learned",
            EventKind::RadioCapabilityLearned { .. } => "radio_capability_learned",
            EventKind::RadioControlChanged { .. } => "radio_control_changed",
            EventKind::CallStarted { .. } => "call_started",
            EventKind::CallTalkerChanged { .. } => "call_talker_changed",
            EventKind::CallFlagsChanged { .. } => "call_flags_changed",
            EventKind::CallActivity { .. } => "call_activity",
            EventKind::CallTransmissionEnded { .. } => "call_transmission_ended",
            EventKind::CallEnded { .. } => "call_ended",
            EventKind::AlarmRaised { .. } => "alarm_raised",
            EventKind::AlarmRepeated { .. } => "alarm_repeated",
            EventKind::AlarmAcknowledged { .. } => "alarm_acknowledged",
            EventKind::AlarmResolved { .. } => "alarm_resolved",
            EventKind::MessageReceived { .. } => "message_received",
            EventKind::MessageSent { .. } => "message_sent",
            EventKind::MessageRead { .. } => "message_read",
            EventKind::MessageHandled { .. } => "message_handled",
            EventKind::PositionReported { .. } => "position_reported",
            EventKind::DataReceived { .. } => "data_received",
            EventKind::OperationCreated { .. } => "operation_created",
            EventKind::OperationQueued { .. } => "operation_queued",
            EventKind::OperationTransmitted { .. } => "operation_transmitted",
            EventKind::OperationAired { .. } => "operation_aired",
            EventKind::OperationSiteSent { .. } => "operation_site_sent",
            EventKind::OperationSiteFailed { .. } => "operation_site_failed",
            EventKind::OperationAttemptTimedOut { .. } => "operation_attempt_timed_out",
            EventKind::OperationPolled { .. } => "operation_polled",
            EventKind::OperationPollTimedOut { .. } => "operation_poll_timed_out",
            EventKind::OperationSucceeded { .. } => "operation_succeeded",
            EventKind::OperationRefused { .. } => "operation_refused",
            EventKind::OperationTimedOut { .. } => "operation_timed_out",
            EventKind::OperationFailed { .. } => "operation_failed",
            EventKind::OperationCancelled { .. } => "operation_cancelled",
            EventKind::OperationApproved { .. } => "operation_approved",
            EventKind::OperationRejected { .. } => "operation_rejected",
            EventKind::OperationExpired { .. } => "operation_expired",
            EventKind::AuditRecorded { .. } => "audit_recorded",
            EventKind::CalloutStarted { .. } => "callout_started",
            EventKind::CalloutGroupQueued { .. } => "callout_group_queued",
            EventKind::CalloutMemberUpdated { .. } => "callout_member_updated",
            EventKind::CalloutReplied { .. } => "callout_replied",
            EventKind::CalloutEscalated { .. } => "callout_escalated",
            EventKind::CalloutFinished { .. } => "callout_finished",
            EventKind::TeamCreated { .. } => "team_created",
            EventKind::TeamUpdated { .. } => "team_updated",
            EventKind::TeamDeleted { .. } => "team_deleted",
            EventKind::GatewayRestarted => "gateway_restarted",
            EventKind::ConfigChanged { .. } => "config_changed",
            EventKind::InputsLost { .. } => "inputs_lost",
            EventKind::JournalRecovered { .. } => "journal_recovered",
        }
    }
}

impl State {
    fn site_mut(&mut self, site: &SiteId) -> &mut Site {
        self.sites
            .entry(site.clone())
            .or_insert_with(|| Site::new(site.clone()))
    }

    /// The interned copy of a site name, so a million radios share one allocation.
    fn intern(&mut self, site: &SiteId) -> SiteId {
        self.site_mut(site).id.clone()
    }

    fn radio_mut(&mut self, radio: RadioId) -> &mut Radio {
        self.radios
            .entry(radio)
            .or_insert_with(|| Radio::new(radio))
    }

    fn talkgroup_mut(&mut self, tg: TalkgroupId) -> &mut Talkgroup {
        self.talkgroups.entry(tg).or_insert_with(|| Talkgroup {
            id: tg,
            name: None,
            active_call: None,
            last_site: None,
            last_heard: None,
            slot: None,
            sites: Vec::new(),
        })
    }

    fn dequeue(&mut self, op: &Operation) {
        if let Some(site) = &op.site
            && let Some(s) = self.sites.get_mut(site)
        {
            s.queue.remove(&(op.priority, op.id));
        }
        for d in &op.deliveries {
            if let Some(s) = self.sites.get_mut(&d.site) {
                s.queue.remove(&(op.priority, op.id));
            }
        }
    }

    /// Move an operation to a final state, out of any queue, into the bounded history.
    fn finish(&mut self, id: OperationId, at: Timestamp, state: OperationState, limit: usize) {
        let Some(op) = self.operations.get(&id).cloned() else {
            return;
        };
        if op.state.is_final() {
            return;
        }
        self.dequeue(&op);
        if let Some(o) = self.operations.get_mut(&id) {
            o.state = state;
            o.updated = at;
            o.deadline = None;
            o.next_poll = None;
        }
        self.active_operations.remove(&id);
        self.finished_operations.push_back(id);
        while self.finished_operations.len() > limit {
            if let Some(old) = self.finished_operations.pop_front()
                && let Some(o) = self.operations.remove(&old)
                && let Some(r) = o.request_id
            {
                self.by_request.remove(&r);
            }
        }
    }

    fn end_call(&mut self, call: CallId, at: Timestamp, reason: CallEndReason, limit: usize) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.ended.is_some() {
            return;
        }
        c.ended = Some(at);
        c.end_reason = Some(reason);
        c.talker = None;
        let target = c.target;
        self.active_calls.retain(|&a| a != call);
        if let Addressee::Talkgroup(tg) = target
            && let Some(t) = self.talkgroups.get_mut(&tg)
            && t.active_call == Some(call)
        {
            t.active_call = None;
        }
        self.ended_calls.push_back(call);
        while self.ended_calls.len() > limit {
            if let Some(old) = self.ended_calls.pop_front() {
                self.calls.remove(&old);
            }
        }
    }
}

impl Core {
    /// Fold one event into the state. The only place state changes; `handle` calls it for
    /// every event it emits, and a driver calls it to replay the journal.
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        let cfg = &self.config;
        let st = &mut self.state;
        match &event.kind {
            EventKind::DirectoryLoaded { directory } => {
                for r in st.radios.values_mut() {
                    r.name = None;
                    r.team = None;
                }
                for t in st.talkgroups.values_mut() {
                    t.name = None;
                }
                for d in &directory.sites {
                    let s = st.site_mut(&d.id);
                    s.display_name = d.display_name.clone();
                    s.profile = d.profile;
                    s.air = d.air;
                }
                for t in st.talkgroups.values_mut() {
                    t.slot = None;
                    t.sites.clear();
                }
                for d in &directory.radios {
                    if st.radios.len() >= cfg.max_radios && !st.radios.contains_key(&d.id) {
                        continue;
                    }
                    st.radio_mut(d.id).name = d.name.as_deref().map(Box::from);
                }
                for d in &directory.talkgroups {
                    if st.talkgroups.len() >= cfg.max_talkgroups
                        && !st.talkgroups.contains_key(&d.id)
                    {
                        continue;
                    }
                    let t = st.talkgroup_mut(d.id);
                    t.name = d.name.as_deref().map(Box::from);
                    t.slot = d.slot;
                    t.sites = d.sites.clone();
                }
                st.teams.clear();
                for (i, d) in directory.teams.iter().enumerate() {
                    let id = TeamId(i as u32);
                    for r in &d.radios {
                        if st.radios.len() >= cfg.max_radios && !st.radios.contains_key(r) {
                            continue;
                        }
                        st.radio_mut(*r).team = Some(id);
                    }
                    let key = if d.key.is_empty() {
                        i.to_string()
                    } else {
                        d.key.clone()
                    };
                    st.teams.push(Team {
                        id,
                        key,
                        name: d.name.clone(),
                        radios: d.radios.clone(),
                        talkgroup: d.talkgroup,
                        level: d.level,
                        leaders: d.leaders.clone(),
                        backups: d.backups.clone(),
                        home: d.home,
                    });
                }
            }
            EventKind::SiteAdded { site } => {
                st.site_mut(site);
            }
            EventKind::SiteLinkChanged { site, up } => {
                let s = st.site_mut(site);
                s.link_up = *up;
                s.down_since = if *up { None } else { Some(at) };
            }
            EventKind::RadioHeard {
                radio,
                site,
                slot,
                rssi_dbm,
            } => {
                let site = st.intern(site);
                st.radio_mut(*radio).presence = Some(Presence {
                    at,
                    site,
                    slot: *slot,
                    rssi_dbm: *rssi_dbm,
                });
            }
            EventKind::RadioRegistered { radio, site } => {
                let site = st.intern(site);
                let r = st.radio_mut(*radio);
                r.registered = true;
                if let Some(p) = &mut r.presence {
                    p.site = site;
                }
            }
            EventKind::RadioDeregistered { radio } => {
                if let Some(r) = st.radios.get_mut(radio) {
                    r.registered = false;
                }
            }
            EventKind::RadioAffiliated {
                radio,
                talkgroup,
                site,
            } => {
                let site = st.intern(site);
                st.radio_mut(*radio).talkgroup = Some(*talkgroup);
                let t = st.talkgroup_mut(*talkgroup);
                t.last_site = Some(site);
                t.last_heard = Some(at);
            }
            EventKind::RadioAliasLearned { radio, alias } => {
                st.radio_mut(*radio).alias = Some(Box::from(alias.as_str()));
            }
            EventKind::RadioCapabilityLearned {
                radio,
                service,
                supported,
            } => {
                st.radio_mut(*radio).capabilities.set(*service, *supported);
            }
            EventKind::RadioControlChanged { radio, control } => {
                st.radio_mut(*radio).control = *control;
            }
            EventKind::CallStarted {
                call,
                target,
                site,
                slot,
                talker,
                emergency,
                privacy,
            } => {
                let site = st.intern(site);
                if let Addressee::Talkgroup(tg) = target {
                    let t = st.talkgroup_mut(*tg);
                    t.active_call = Some(*call);
                    t.last_site = Some(site.clone());
                    t.last_heard = Some(at);
                }
                st.calls.insert(
                    *call,
                    Call {
                        id: *call,
                        target: *target,
                        site,
                        slot: *slot,
                        talkers: talker.iter().copied().collect(),
                        talker: *talker,
                        emergency: *emergency,
                        privacy: *privacy,
                        started: at,
                        last_activity: at,
                        transmission_ended: None,
                        ended: None,
                        end_reason: None,
                    },
                );
                st.active_calls.push(*call);
                st.next_call = st.next_call.max(call.0 + 1);
            }
            EventKind::CallTalkerChanged { call, talker } => {
                if let Some(c) = st.calls.get_mut(call) {
                    c.talker = Some(*talker);
                    c.last_activity = at;
                    c.transmission_ended = None;
                    if !c.talkers.contains(talker) && c.talkers.len() < super::model::MAX_TALKERS {
                        c.talkers.push(*talker);
                    }
                }
            }
            EventKind::CallFlagsChanged {
                call,
                emergency,
                privacy,
            } => {
                if let Some(c) = st.calls.get_mut(call) {
                    c.emergency = *emergency;
                    c.privacy = *privacy;
                    c.last_activity = at;
                }
            }
            EventKind::CallActivity { call } => {
                if let Some(c) = st.calls.get_mut(call) {
                    c.last_activity = at;
                }
            }
            EventKind::CallTransmissionEnded { call } => {
                if let Some(c) = st.calls.get_mut(call) {
                    c.talker = None;
                    c.last_activity = at;
                    c.transmission_ended = Some(at);
                }
            }
            EventKind::CallEnded { call, reason } => {
                st.end_call(*call, at, *reason, cfg.call_history);
            }
            EventKind::AlarmRaised {
                alarm,
                radio,
                talkgroup,
                site,
            } => {
                let site = st.intern(site);
                st.alarms.insert(
                    *alarm,
                    Alarm {
                        id: *alarm,
                        radio: *radio,
                        talkgroup: *talkgroup,
                        site,
                        state: AlarmState::Raised,
                        raised: at,
                        last_heard: at,
                        repeats: 0,
                        acknowledged: None,
                        resolved: None,
                    },
                );
                st.open_alarms.insert(*radio, *alarm);
                st.next_alarm = st.next_alarm.max(alarm.0 + 1);
            }
            EventKind::AlarmRepeated { alarm, site } => {
                let site = st.intern(site);
                if let Some(a) = st.alarms.get_mut(alarm) {
                    a.repeats = a.repeats.saturating_add(1);
                    a.last_heard = at;
                    a.site = site;
                }
            }
            EventKind::AlarmAcknowledged {
                alarm,
                operator,
                operation,
            } => {
                if let Some(a) = st.alarms.get_mut(alarm) {
                    a.state = AlarmState::Acknowledged;
                    a.acknowledged = Some((operator.clone(), at, *operation));
                }
            }
            EventKind::AlarmResolved { alarm, operator } => {
                if let Some(a) = st.alarms.get_mut(alarm)
                    && a.state != AlarmState::Resolved
                {
                    a.state = AlarmState::Resolved;
                    a.resolved = Some((operator.clone(), at));
                    if st.open_alarms.get(&a.radio) == Some(alarm) {
                        st.open_alarms.remove(&a.radio);
                    }
                    st.resolved_alarms.push_back(*alarm);
                    while st.resolved_alarms.len() > cfg.alarm_history {
                        if let Some(old) = st.resolved_alarms.pop_front() {
                            st.alarms.remove(&old);
                        }
                    }
                }
            }
            EventKind::MessageReceived { message } | EventKind::MessageSent { message } => {
                st.next_message = st.next_message.max(message.id.0 + 1);
                let mut m = message.clone();
                m.site = st.intern(&m.site);
                st.messages.insert(m.id, m);
                while st.messages.len() > cfg.message_history {
                    st.messages.pop_first();
                }
            }
            EventKind::MessageRead { message, operator } => {
                if let Some(m) = st.messages.get_mut(message)
                    && m.read.is_none()
                {
                    m.read = Some(Mark {
                        by: operator.clone(),
                        at,
                    });
                }
            }
            EventKind::MessageHandled { message, operator } => {
                if let Some(m) = st.messages.get_mut(message)
                    && m.handled.is_none()
                {
                    let mark = Mark {
                        by: operator.clone(),
                        at,
                    };
                    m.read.get_or_insert_with(|| mark.clone());
                    m.handled = Some(mark);
                }
            }
            EventKind::PositionReported {
                radio,
                site,
                position,
            } => {
                let site = st.intern(site);
                let track = st.tracks.entry(*radio).or_default();
                track.reports.push_back(PositionReport {
                    at,
                    site,
                    position: *position,
                });
                while track.reports.len() > cfg.track_len.max(1) {
                    track.reports.pop_front();
                }
            }
            EventKind::OperationCreated { operation } => {
                st.next_operation = st.next_operation.max(operation.id.0 + 1);
                let mut op = operation.clone();
                if !op.deliveries.is_empty() {
                    // Group traffic waits in the queue of every site it goes to.
                    for d in &mut op.deliveries {
                        d.site = st.intern(&d.site);
                        if d.state == DeliveryState::Queued && !op.state.is_final() {
                            st.site_mut(&d.site).queue.insert((op.priority, op.id));
                        }
                    }
                    op.site = op.site.as_ref().map(|s| st.intern(s));
                } else if let Some(site) = &op.site {
                    let site = st.intern(site);
                    if op.state == OperationState::Queued {
                        st.site_mut(&site).queue.insert((op.priority, op.id));
                    }
                    op.site = Some(site);
                }
                if let Some(r) = &op.request_id {
                    st.by_request.insert(r.clone(), op.id);
                }
                let (id, state) = (op.id, op.state);
                st.operations.insert(id, op);
                if state.is_final() {
                    // Created already finished (never done by handle; kept total).
                    st.finished_operations.push_back(id);
                } else {
                    st.active_operations.insert(id);
                }
            }
            EventKind::OperationQueued { operation, site } => {
                let site = st.intern(site);
                let group = st
                    .operations
                    .get(operation)
                    .is_some_and(|o| !o.deliveries.is_empty() && !o.state.is_final());
                if group {
                    // Group traffic: queued again on that one site (after a restart).
                    if let Some(o) = st.operations.get_mut(operation)
                        && let Some(d) = o.deliveries.iter_mut().find(|d| d.site == site)
                    {
                        d.state = DeliveryState::Queued;
                        d.deadline = None;
                        o.updated = at;
                        o.queued_at = at;
                        let key = (o.priority, o.id);
                        st.site_mut(&site).queue.insert(key);
                    }
                } else if let Some(op) = st.operations.get(operation).cloned()
                    && !op.state.is_final()
                {
                    st.dequeue(&op);
                    st.site_mut(&site).queue.insert((op.priority, op.id));
                    if let Some(o) = st.operations.get_mut(operation) {
                        o.state = OperationState::Queued;
                        o.site = Some(site);
                        o.queued_at = at;
                        o.updated = at;
                        o.deadline = None;
                        o.next_poll = None;
                    }
                }
            }
            EventKind::OperationTransmitted {
                operation,
                site,
                attempt,
                busy_until,
                deadline,
                slot,
            } => {
                let site = st.intern(site);
                let s = st.site_mut(&site);
                let i = super::model::slot_index(slot.unwrap_or(Slot::One));
                s.busy_until[i] = s.busy_until[i].max(*busy_until);
                let group = st
                    .operations
                    .get(operation)
                    .is_some_and(|o| !o.deliveries.is_empty() && !o.state.is_final());
                if group {
                    // Group traffic: this site's share leaves its queue; the others wait.
                    if let Some(o) = st.operations.get_mut(operation) {
                        let key = (o.priority, o.id);
                        if let Some(d) = o.deliveries.iter_mut().find(|d| d.site == site) {
                            d.state = DeliveryState::Transmitting;
                            d.slot = *slot;
                            d.deadline = *deadline;
                        }
                        o.state = OperationState::Sent;
                        o.attempts = *attempt;
                        o.updated = at;
                        st.site_mut(&site).queue.remove(&key);
                    }
                } else if let Some(op) = st.operations.get(operation).cloned()
                    && !op.state.is_final()
                {
                    st.dequeue(&op);
                    if let Some(o) = st.operations.get_mut(operation) {
                        o.state = OperationState::Sent;
                        o.site = Some(site);
                        o.attempts = *attempt;
                        o.deadline = *deadline;
                        o.updated = at;
                    }
                }
            }
            EventKind::OperationAired {
                operation,
                attempt,
                deadline,
                ..
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && o.state == OperationState::Sent
                    && o.attempts == *attempt
                {
                    o.deadline = Some(*deadline);
                    o.updated = at;
                }
            }
            EventKind::OperationSiteSent {
                operation,
                site,
                sent_at,
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                    && let Some(d) = o.deliveries.iter_mut().find(|d| &d.site == site)
                {
                    d.state = DeliveryState::Sent;
                    d.sent_at = Some(*sent_at);
                    d.deadline = None;
                    o.updated = at;
                }
            }
            EventKind::OperationSiteFailed {
                operation,
                site,
                state,
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                    && let Some(d) = o.deliveries.iter_mut().find(|d| &d.site == site)
                {
                    d.state = *state;
                    d.deadline = None;
                    o.updated = at;
                    let key = (o.priority, o.id);
                    if let Some(s) = st.sites.get_mut(site) {
                        s.queue.remove(&key);
                    }
                }
            }
            EventKind::OperationAttemptTimedOut { operation, .. } => {
                if let Some(o) = st.operations.get_mut(operation) {
                    o.deadline = None;
                    o.updated = at;
                }
            }
            EventKind::OperationPolled {
                operation,
                polls_done,
                next_poll,
                result,
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                {
                    if let Some(OperationResult::Location { site, position }) = result {
                        let outcome = PollOutcome::Position {
                            site: site.clone(),
                            position: *position,
                        };
                        o.record_poll(*polls_done, at, outcome);
                    }
                    if result.is_some() {
                        o.result = result.clone().map(Box::new);
                    }
                    o.state = OperationState::Waiting;
                    o.polls_done = *polls_done;
                    o.next_poll = Some(*next_poll);
                    o.attempts = 0;
                    o.deadline = None;
                    o.updated = at;
                }
            }
            EventKind::OperationSucceeded {
                operation, result, ..
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                {
                    if let OtaCommand::RequestLocation { periodic, .. } = o.command {
                        // The last poll, answered (a last poll that timed out was counted by
                        // its own event).
                        if o.polls_done < periodic.map_or(1, |p| p.count) {
                            o.polls_done += 1;
                            if periodic.is_some()
                                && let Some(OperationResult::Location { site, position }) = result
                            {
                                let outcome = PollOutcome::Position {
                                    site: site.clone(),
                                    position: *position,
                                };
                                o.record_poll(o.polls_done, at, outcome);
                            }
                        }
                    }
                    if result.is_some() {
                        o.result = result.clone().map(Box::new);
                    }
                }
                st.finish(
                    *operation,
                    at,
                    OperationState::Succeeded,
                    cfg.operation_history,
                );
            }
            EventKind::OperationPollTimedOut {
                operation,
                poll,
                attempts,
                next_poll,
            } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                {
                    let outcome = PollOutcome::TimedOut {
                        attempts: *attempts,
                    };
                    o.record_poll(*poll, at, outcome);
                    o.polls_done = *poll;
                    o.deadline = None;
                    o.updated = at;
                    if let Some(next) = next_poll {
                        o.state = OperationState::Waiting;
                        o.next_poll = Some(*next);
                        o.attempts = 0;
                    }
                }
            }
            EventKind::OperationRefused { operation, refusal } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                {
                    o.refusal = Some(*refusal);
                }
                st.finish(
                    *operation,
                    at,
                    OperationState::Refused,
                    cfg.operation_history,
                );
            }
            EventKind::OperationTimedOut { operation, .. } => {
                st.finish(
                    *operation,
                    at,
                    OperationState::TimedOut,
                    cfg.operation_history,
                );
            }
            EventKind::OperationFailed { operation, failure } => {
                if let Some(o) = st.operations.get_mut(operation)
                    && !o.state.is_final()
                {
                    o.failure = Some(failure.clone());
                }
                st.finish(
                    *operation,
                    at,
                    OperationState::Failed,
                    cfg.operation_history,
                );
            }
            EventKind::OperationCancelled { operation, .. } => {
                st.finish(
                    *operation,
                    at,
                    OperationState::Cancelled,
                    cfg.operation_history,
                );
            }
            EventKind::OperationApproved {
                operation,
                approver,
                reason,
            }
            | EventKind::OperationRejected {
                operation,
                approver,
                reason,
            } => {
                let approved = matches!(event.kind, EventKind::OperationApproved { .. });
                if let Some(o) = st.operations.get_mut(operation)
                    && o.state == OperationState::AwaitingApproval
                    && let Some(a) = o.authorization.as_mut().and_then(|a| a.approval.as_mut())
                {
                    a.decided = Some(ApprovalDecision {
                        by: approver.clone(),
                        at,
                        approved,
                        reason: reason.clone(),
                    });
                    o.updated = at;
                }
                if !approved {
                    st.finish(
                        *operation,
                        at,
                        OperationState::Rejected,
                        cfg.operation_history,
                    );
                }
            }
            EventKind::OperationExpired { operation } => {
                st.finish(
                    *operation,
                    at,
                    OperationState::Expired,
                    cfg.operation_history,
                );
            }
            EventKind::CalloutStarted { .. }
            | EventKind::CalloutGroupQueued { .. }
            | EventKind::CalloutMemberUpdated { .. }
            | EventKind::CalloutReplied { .. }
            | EventKind::CalloutEscalated { .. }
            | EventKind::CalloutFinished { .. } => super::callout::apply(st, at, &event.kind),
            EventKind::TeamCreated { .. }
            | EventKind::TeamUpdated { .. }
            | EventKind::TeamDeleted { .. } => super::teams::apply(st, at, &event.kind),
            EventKind::GatewayRestarted
            | EventKind::AuditRecorded { .. }
            | EventKind::DataReceived { .. }
            | EventKind::InputsLost { .. }
            | EventKind::JournalRecovered { .. } => {}
            EventKind::ConfigChanged { config } => self.config = config.clone(),
        }
    }
}

/// For `skip_serializing_if`: a zero count is left out of the journal.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::Config;

    fn at(ms: u64, kind: EventKind) -> Event {
        Event {
            at: Timestamp(ms),
            kind,
        }
    }

    #[test]
    fn name_matches_the_json_tag() {
        for kind in [
            EventKind::GatewayRestarted,
            EventKind::SiteAdded {
                site: SiteId::new("s"),
            },
            EventKind::RadioDeregistered {
                radio: RadioId::new(0x100001).unwrap(),
            },
        ] {
            let json = serde_json::to_value(at(1, kind.clone())).unwrap();
            assert_eq!(json["event"], kind.name());
        }
    }

    #[test]
    fn json_names_are_stable() {
        let e = at(
            5,
            EventKind::SiteLinkChanged {
                site: SiteId::new("s1"),
                up: true,
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":5,"event":"site_link_changed","site":"s1","up":true}"#
        );
        let e = at(7, EventKind::GatewayRestarted);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"at":7,"event":"gateway_restarted"}"#
        );
        let back: Event =
            serde_json::from_str(r#"{"at":9,"event":"radio_deregistered","radio":1048577}"#)
                .unwrap();
        assert_eq!(
            back,
            at(
                9,
                EventKind::RadioDeregistered {
                    radio: RadioId::new(0x100001).unwrap()
                }
            )
        );
    }

    #[test]
    fn messages_journaled_before_directions_and_marks_still_read_and_write_the_same() {
        // An inbound message as journaled before messages had a direction or marks.
        let old = r#"{"at":5,"event":"message_received","message":{"id":3,"source":1048577,"to":{"talkgroup":1048577},"site":"s","at":5,"body":{"kind":"status","status":7}}}"#;
        let e: Event = serde_json::from_str(old).unwrap();
        let EventKind::MessageReceived { message } = &e.kind else {
            panic!("{e:?}");
        };
        assert_eq!(message.direction, super::super::model::Direction::Inbound);
        assert_eq!(message.source, Some(RadioId::new(0x100001).unwrap()));
        assert_eq!(serde_json::to_string(&e).unwrap(), old);
        // Old teams without a key are named by their index.
        let old_dir = r#"{"at":1,"event":"directory_loaded","directory":{"radios":[],"talkgroups":[],"sites":[],"teams":[{"name":"队","radios":[],"talkgroup":null}]}}"#;
        let mut core = Core::new(Config::default());
        core.apply(&serde_json::from_str(old_dir).unwrap());
        assert_eq!(core.team_by_key("0").map(|t| t.name.as_str()), Some("队"));
    }

    #[test]
    fn events_about_forgotten_things_change_nothing() {
        let mut core = Core::new(Config::default());
        let before = core.clone();
        for kind in [
            EventKind::CallEnded {
                call: CallId(3),
                reason: CallEndReason::Idle,
            },
            EventKind::CallTalkerChanged {
                call: CallId(3),
                talker: RadioId::new(1).unwrap(),
            },
            EventKind::AlarmResolved {
                alarm: AlarmId(1),
                operator: String::new(),
            },
            EventKind::OperationSucceeded {
                operation: OperationId(4),
                delivery: None,
                result: None,
            },
            EventKind::OperationAttemptTimedOut {
                operation: OperationId(4),
                attempt: 1,
            },
        ] {
            core.apply(&at(1, kind));
        }
        assert_eq!(core, before);
    }

    #[test]
    fn call_history_is_bounded() {
        let mut core = Core::new(Config {
            call_history: 2,
            ..Config::default()
        });
        let site = SiteId::new("s");
        for i in 0..5u64 {
            core.apply(&at(
                i,
                EventKind::CallStarted {
                    call: CallId(i),
                    target: Addressee::Talkgroup(TalkgroupId::new(9).unwrap()),
                    site: site.clone(),
                    slot: Slot::One,
                    talker: None,
                    emergency: false,
                    privacy: false,
                },
            ));
            core.apply(&at(
                i,
                EventKind::CallEnded {
                    call: CallId(i),
                    reason: CallEndReason::Cleared,
                },
            ));
        }
        let kept: Vec<_> = core.state.calls.keys().map(|c| c.0).collect();
        assert_eq!(kept, vec![3, 4]);
        assert_eq!(core.state.next_call, 5);
        assert!(core.state.active_calls.is_empty());
    }

    #[test]
    fn sites_are_interned() {
        let mut core = Core::new(Config::default());
        for r in 1..4 {
            core.apply(&at(
                1,
                EventKind::RadioHeard {
                    radio: RadioId::new(r).unwrap(),
                    site: SiteId::new("s"),
                    slot: Slot::Two,
                    rssi_dbm: None,
                },
            ));
        }
        let site = |r| {
            core.state.radios[&RadioId::new(r).unwrap()]
                .presence
                .as_ref()
                .unwrap()
                .site
                .as_str()
                .as_ptr()
        };
        assert_eq!(site(1), site(3));
    }
}
