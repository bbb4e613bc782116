//! `Core::handle`: decisions. Reads the state, emits events (applied at once through
//! `Core::apply`), transmissions and replies. After every input it runs the timers (answer
//! deadlines, retries, periodic polls, call hang and idle times, site-down waits) and then
//! the per-site pacer, which sends at most one queued operation per site whose control
//! channel is free, lowest [`Priority`] first. Group traffic waits in the queue of every
//! site it goes to and is sent there independently (docs/air-commands.md §0 "Which sites").

use super::event::{Event, EventKind};
use super::ids::{AlarmId, CallId, MessageId, OperationId, RadioId, SiteId, Timestamp};
use super::model::{
    Addressee, AlarmState, Approval, CallEndReason, DeliveryLevel, DeliveryState, Direction,
    FailReason, Message, MessageBody, MessageMark, Operation, OperationResult, OperationState,
    OtaCommand, Position, RadioControl, Service, Site, SiteDelivery, slot_index,
};
use super::{
    AirEvent, AirInput, AirMessage, Answer, AuditEntry, Command, Core, DispatchError, Input,
    MAX_REASON_CHARS, Output, Reply, Request,
};
use crate::link::Slot;

/// Longest `request_id` or operator name accepted.
const MAX_KEY_LEN: usize = 128;

/// Longest inbound text kept, in characters (the PDT data link carries at most 480 octets,
/// docs/pdt.md §3).
const MAX_INBOUND_TEXT_CHARS: usize = 480;

/// Largest status number: the status field of a DPF 14 status/precoded short-data header is
/// 10 bits (docs/air-interface.md §5.1; docs/air-commands.md §6).
const MAX_STATUS: u16 = 1023;

impl AirEvent {
    /// The radio that transmitted what was heard, if a radio did.
    fn source(&self) -> Option<RadioId> {
        match self {
            AirEvent::Registered { radio }
            | AirEvent::Deregistered { radio }
            | AirEvent::Affiliated { radio, .. }
            | AirEvent::TalkerAlias { radio, .. }
            | AirEvent::EmergencyAlarm { radio, .. }
            | AirEvent::Position { radio, .. }
            | AirEvent::Answer { radio, .. } => Some(*radio),
            AirEvent::VoiceGrant { source, .. }
            | AirEvent::VoiceLc { source, .. }
            | AirEvent::VoiceTerminator { source, .. }
            | AirEvent::Text { source, .. }
            | AirEvent::DataReceived { source, .. }
            | AirEvent::Status { source, .. } => Some(*source),
            AirEvent::CallCleared { .. } => None,
        }
    }
}

impl Core {
    /// Handle one input at time `now`, appending what follows to `out`.
    pub fn handle(&mut self, now: Timestamp, input: Input, out: &mut Vec<Output>) {
        let start = out.len();
        match input {
            Input::Directory(directory) => {
                self.emit(now, EventKind::DirectoryLoaded { directory }, out)
            }
            Input::SiteUp { site } => self.link(now, site, true, out),
            Input::SiteDown { site } => self.link(now, site, false, out),
            Input::Air(air) => self.air(now, air, out),
            Input::Command { token, request } => {
                let result = self.command(now, request, out);
                out.push(Output::Reply { token, result });
            }
            Input::Tick => {}
            Input::Configure(config) => {
                if config != self.config {
                    let detail = super::audit::config_diff(&self.config, &config);
                    self.emit(now, EventKind::ConfigChanged { config }, out);
                    let mut entry = AuditEntry::new(
                        None,
                        None,
                        super::audit::ACTION_CONFIG_CHANGED,
                        None,
                        None,
                        super::audit::OUTCOME_OK,
                    );
                    entry.detail = Some(detail);
                    let entry = Box::new(entry);
                    self.emit(now, EventKind::AuditRecorded { entry }, out);
                }
            }
            Input::Audit(entry) => {
                let entry = Box::new(entry);
                self.emit(now, EventKind::AuditRecorded { entry }, out)
            }
            Input::InputsLost {
                count,
                from,
                to,
                reason,
            } => self.emit(
                now,
                EventKind::InputsLost {
                    count,
                    from,
                    to,
                    reason,
                },
                out,
            ),
            Input::JournalRecovered {
                from,
                to,
                reason,
                held,
            } => self.emit(
                now,
                EventKind::JournalRecovered {
                    from,
                    to,
                    reason,
                    held,
                },
                out,
            ),
            Input::TransmissionSent {
                operation,
                attempt,
                site,
                slot,
                at,
            } => self.aired(now, (operation, attempt), (site, slot), at, out),
        }
        self.timers(now, out);
        self.callout_step(now, start, out);
        self.pump(now, out);
    }

    /// After a restart (snapshot + replay): links are new, so every site is marked down
    /// until its link reports up; calls in progress are ended; operations in flight are
    /// queued again (an unanswered transmission counts as an attempt) or, if too old or out
    /// of attempts, finished explicitly. Nothing in flight is forgotten.
    pub fn recover(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let start = out.len();
        self.emit(now, EventKind::GatewayRestarted, out);
        let up: Vec<SiteId> = self
            .state
            .sites
            .values()
            .filter(|s| s.link_up)
            .map(|s| s.id.clone())
            .collect();
        for site in up {
            self.emit(now, EventKind::SiteLinkChanged { site, up: false }, out);
        }
        let calls = self.state.active_calls.clone();
        for call in calls {
            let reason = CallEndReason::GatewayRestart;
            self.emit(now, EventKind::CallEnded { call, reason }, out);
        }
        let ops: Vec<Operation> = self
            .active_operations()
            .filter(|o| matches!(o.state, OperationState::Queued | OperationState::Sent))
            .cloned()
            .collect();
        for op in ops {
            let operation = op.id;
            if now.since(op.created) > self.config.recover_max_age_ms {
                let failure = FailReason::GatewayRestart;
                self.emit(now, EventKind::OperationFailed { operation, failure }, out);
            } else if !op.deliveries.is_empty() {
                // Group traffic: every site not yet sent is queued again there.
                for d in op.deliveries.iter().filter(|d| !d.state.is_final()) {
                    let site = d.site.clone();
                    self.emit(now, EventKind::OperationQueued { operation, site }, out);
                }
            } else if op.state == OperationState::Sent && op.attempts >= self.config.max_attempts {
                let attempts = op.attempts;
                let kind = EventKind::OperationTimedOut {
                    operation,
                    attempts,
                };
                self.emit(now, kind, out);
            } else {
                self.requeue(now, &op, out);
            }
        }
        // Call-outs carry on from the state the snapshot and replay left.
        self.callout_step(now, start, out);
    }

    /// The earliest time a [`Input::Tick`] has something to do, if any.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let cfg = &self.config;
        let mut next: Option<Timestamp> = None;
        let mut at = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        for s in self.state.sites.values() {
            if s.queue.is_empty() {
                continue;
            }
            if s.link_up {
                // Per slot, only where something queued waits for that slot.
                for slot in [Slot::One, Slot::Two] {
                    let waits = s.queue.iter().any(|(_, id)| {
                        self.state
                            .operations
                            .get(id)
                            .is_some_and(|op| self.slot_for(op, s) == slot)
                    });
                    if waits {
                        at(s.busy_until[slot_index(slot)]);
                    }
                }
            } else if let Some(down) = s.down_since {
                at(down.plus_ms(cfg.site_down_wait_ms));
            }
        }
        for o in self.active_operations() {
            if let Some(d) = o.deadline.or(o.next_poll) {
                at(d);
            }
            if o.state == OperationState::AwaitingApproval
                && let Some(a) = o.approval()
            {
                at(a.deadline);
            }
            for d in &o.deliveries {
                match d.state {
                    DeliveryState::Transmitting => {
                        if let Some(t) = d.deadline {
                            at(t);
                        }
                    }
                    DeliveryState::Queued => {
                        let down = self.state.sites.get(&d.site).is_some_and(|s| !s.link_up);
                        if down {
                            at(o.queued_at.plus_ms(cfg.site_down_wait_ms));
                        }
                    }
                    _ => {}
                }
            }
            let down = |s: &SiteId| self.state.sites.get(s).is_some_and(|s| !s.link_up);
            if o.state == OperationState::Queued && o.site.as_ref().is_some_and(down) {
                at(o.queued_at.plus_ms(cfg.site_down_wait_ms));
            }
        }
        if let Some(t) = self.callout_deadline() {
            at(t);
        }
        for c in self
            .state
            .active_calls
            .iter()
            .filter_map(|c| self.state.calls.get(c))
        {
            at(c.last_activity.plus_ms(cfg.call_idle_ms));
            if let Some(t) = c.transmission_ended {
                at(t.plus_ms(cfg.call_hang_ms));
            }
        }
        next
    }

    pub(super) fn emit(&mut self, at: Timestamp, kind: EventKind, out: &mut Vec<Output>) {
        let event = Event { at, kind };
        self.apply(&event);
        out.push(Output::Event(event));
    }

    /// Make sure a site exists; false if it is unknown and the site table is full.
    fn ensure_site(&mut self, now: Timestamp, site: &SiteId, out: &mut Vec<Output>) -> bool {
        if self.state.sites.contains_key(site) {
            return true;
        }
        if self.state.sites.len() >= self.config.max_sites {
            return false;
        }
        let site = site.clone();
        self.emit(now, EventKind::SiteAdded { site }, out);
        true
    }

    fn link(&mut self, now: Timestamp, site: SiteId, up: bool, out: &mut Vec<Output>) {
        if !self.ensure_site(now, &site, out) {
            return;
        }
        if self.state.sites.get(&site).map(|s| s.link_up) != Some(up) {
            self.emit(now, EventKind::SiteLinkChanged { site, up }, out);
        }
    }

    /// Presence: a radio was heard. False if it is unknown and the radio table is full, in
    /// which case the input is dropped.
    fn heard(
        &mut self,
        now: Timestamp,
        radio: RadioId,
        air: (&SiteId, Slot, Option<i16>),
        out: &mut Vec<Output>,
    ) -> bool {
        let (site, slot, rssi_dbm) = air;
        let fresh = match self.state.radios.get(&radio) {
            None if self.state.radios.len() >= self.config.max_radios => return false,
            None => false,
            Some(r) => r.presence.as_ref().is_some_and(|p| {
                &p.site == site
                    && p.slot == slot
                    && now.since(p.at) < self.config.presence_refresh_ms
            }),
        };
        if !fresh {
            let site = site.clone();
            let kind = EventKind::RadioHeard {
                radio,
                site,
                slot,
                rssi_dbm,
            };
            self.emit(now, kind, out);
        }
        true
    }

    fn air(&mut self, now: Timestamp, air: AirInput, out: &mut Vec<Output>) {
        let AirInput {
            site,
            slot,
            rssi_dbm,
            event,
        } = air;
        if !self.ensure_site(now, &site, out) {
            return;
        }
        if let Some(radio) = event.source()
            && !self.heard(now, radio, (&site, slot, rssi_dbm), out)
        {
            return;
        }
        match event {
            AirEvent::Registered { radio } => {
                if self.state.radios.get(&radio).is_some_and(|r| !r.registered) {
                    self.emit(now, EventKind::RadioRegistered { radio, site }, out);
                }
            }
            AirEvent::Deregistered { radio } => {
                if self.state.radios.get(&radio).is_some_and(|r| r.registered) {
                    self.emit(now, EventKind::RadioDeregistered { radio }, out);
                }
            }
            AirEvent::Affiliated { radio, talkgroup } => {
                let known = self.state.talkgroups.get(&talkgroup);
                if known.is_none() && self.state.talkgroups.len() >= self.config.max_talkgroups {
                    return;
                }
                let same = self.state.radios.get(&radio).map(|r| r.talkgroup)
                    == Some(Some(talkgroup))
                    && known.and_then(|t| t.last_site.as_ref()) == Some(&site);
                if !same {
                    let kind = EventKind::RadioAffiliated {
                        radio,
                        talkgroup,
                        site,
                    };
                    self.emit(now, kind, out);
                }
            }
            AirEvent::VoiceGrant {
                source,
                target,
                emergency,
            } => self.voice(now, (site, slot), source, target, (emergency, false), out),
            AirEvent::VoiceLc {
                source,
                target,
                emergency,
                privacy,
            } => self.voice(now, (site, slot), source, target, (emergency, privacy), out),
            AirEvent::VoiceTerminator { source, target } => {
                if let Some(call) = self.find_call(&site, target, Some(source)) {
                    self.emit(now, EventKind::CallTransmissionEnded { call }, out);
                }
            }
            AirEvent::CallCleared { target } => {
                if let Some(call) = self.find_call(&site, target, None) {
                    let reason = CallEndReason::Cleared;
                    self.emit(now, EventKind::CallEnded { call, reason }, out);
                }
            }
            AirEvent::TalkerAlias { radio, alias } => {
                let alias: String = alias
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(self.config.max_alias_chars)
                    .collect();
                let alias = alias.trim_end().to_string();
                let known = self
                    .state
                    .radios
                    .get(&radio)
                    .and_then(|r| r.alias.as_deref());
                if !alias.is_empty() && known != Some(alias.as_str()) {
                    self.emit(now, EventKind::RadioAliasLearned { radio, alias }, out);
                }
            }
            AirEvent::EmergencyAlarm { radio, talkgroup } => {
                match self.state.open_alarms.get(&radio) {
                    Some(&alarm) => self.emit(now, EventKind::AlarmRepeated { alarm, site }, out),
                    None => {
                        let alarm = AlarmId(self.state.next_alarm);
                        let kind = EventKind::AlarmRaised {
                            alarm,
                            radio,
                            talkgroup,
                            site,
                        };
                        self.emit(now, kind, out);
                    }
                }
            }
            AirEvent::Text { source, to, text } => {
                // Bounded whatever ingest hands over.
                let text = text.chars().take(MAX_INBOUND_TEXT_CHARS).collect();
                let body = MessageBody::Text { text };
                self.inbound(now, site, source, to, body, out);
            }
            AirEvent::Status { source, to, status } => {
                let body = MessageBody::Status { status };
                self.inbound(now, site, source, to, body, out);
            }
            AirEvent::Position { radio, position } => {
                self.position(now, site, radio, position, out)
            }
            AirEvent::DataReceived { source, mut data } => {
                // Bounded whatever ingest hands over.
                if data.payload.len() > super::MAX_RECEIVED_DATA {
                    let cut = data.payload.len() - super::MAX_RECEIVED_DATA;
                    data.truncated = data
                        .truncated
                        .saturating_add(u32::try_from(cut).unwrap_or(u32::MAX));
                    data.payload.truncate(super::MAX_RECEIVED_DATA);
                }
                let kind = EventKind::DataReceived {
                    radio: source,
                    site,
                    data,
                };
                self.emit(now, kind, out);
            }
            AirEvent::Answer {
                radio,
                service,
                answer,
            } => self.answer(now, (radio, site, rssi_dbm), service, answer, out),
        }
    }

    /// The active call on `site` for `target`; for private calls also the reverse direction
    /// (the called radio talking back to a talker of the call).
    fn find_call(
        &self,
        site: &SiteId,
        target: Addressee,
        source: Option<RadioId>,
    ) -> Option<CallId> {
        self.state.active_calls.iter().copied().find(|id| {
            self.state.calls.get(id).is_some_and(|c| {
                &c.site == site
                    && (c.target == target
                        || match (c.target, target, source) {
                            (Addressee::Radio(callee), Addressee::Radio(back), Some(src)) => {
                                callee == src && c.talkers.contains(&back)
                            }
                            _ => false,
                        })
            })
        })
    }

    fn voice(
        &mut self,
        now: Timestamp,
        (site, slot): (SiteId, Slot),
        source: RadioId,
        target: Addressee,
        (emergency, privacy): (bool, bool),
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.find_call(&site, target, Some(source)) else {
            if let Addressee::Talkgroup(tg) = target
                && !self.state.talkgroups.contains_key(&tg)
                && self.state.talkgroups.len() >= self.config.max_talkgroups
            {
                return;
            }
            let call = CallId(self.state.next_call);
            let kind = EventKind::CallStarted {
                call,
                target,
                site,
                slot,
                talker: Some(source),
                emergency,
                privacy,
            };
            self.emit(now, kind, out);
            return;
        };
        // The call exists (found just above).
        let Some(c) = self.state.calls.get(&call) else {
            return;
        };
        let talker_changed = c.talker != Some(source);
        let flags = (c.emergency || emergency, c.privacy || privacy);
        let flags_changed = flags != (c.emergency, c.privacy);
        let stale = now.since(c.last_activity) >= self.config.call_idle_ms / 4;
        if talker_changed {
            self.emit(
                now,
                EventKind::CallTalkerChanged {
                    call,
                    talker: source,
                },
                out,
            );
        }
        if flags_changed {
            let kind = EventKind::CallFlagsChanged {
                call,
                emergency: flags.0,
                privacy: flags.1,
            };
            self.emit(now, kind, out);
        }
        if !talker_changed && !flags_changed && stale {
            self.emit(now, EventKind::CallActivity { call }, out);
        }
    }

    fn inbound(
        &mut self,
        now: Timestamp,
        site: SiteId,
        source: RadioId,
        to: Addressee,
        body: MessageBody,
        out: &mut Vec<Output>,
    ) {
        let message = Message {
            id: MessageId(self.state.next_message),
            direction: Direction::Inbound,
            source: Some(source),
            to,
            site,
            at: now,
            body,
            operator: None,
            operation: None,
            read: None,
            handled: None,
        };
        self.emit(now, EventKind::MessageReceived { message }, out);
    }

    /// The operation in flight for `radio` that an answer about `service` belongs to: sent
    /// and waiting, or queued again for a retry (a late answer still counts). Oldest first.
    fn in_flight(&self, radio: RadioId, service: Option<Service>) -> Option<Operation> {
        self.active_operations()
            .find(|o| {
                o.command.addressee() == Addressee::Radio(radio)
                    && service.is_none_or(|s| o.command.service() == s)
                    && (o.state == OperationState::Sent
                        || (o.state == OperationState::Queued && o.attempts > 0))
            })
            .cloned()
    }

    fn learn(
        &mut self,
        now: Timestamp,
        radio: RadioId,
        service: Service,
        supported: bool,
        out: &mut Vec<Output>,
    ) {
        let known = self
            .state
            .radios
            .get(&radio)
            .map(|r| r.capabilities.get(service));
        if matches!(known, Some(k) if k != Some(supported)) {
            let kind = EventKind::RadioCapabilityLearned {
                radio,
                service,
                supported,
            };
            self.emit(now, kind, out);
        }
    }

    fn position(
        &mut self,
        now: Timestamp,
        site: SiteId,
        radio: RadioId,
        position: Position,
        out: &mut Vec<Output>,
    ) {
        if !(position.latitude.is_finite()
            && position.longitude.is_finite()
            && (-90.0..=90.0).contains(&position.latitude)
            && (-180.0..=180.0).contains(&position.longitude))
        {
            return;
        }
        let kind = EventKind::PositionReported {
            radio,
            site: site.clone(),
            position,
        };
        self.emit(now, kind, out);
        let Some(op) = self.in_flight(radio, Some(Service::Location)) else {
            return;
        };
        self.learn(now, radio, Service::Location, true, out);
        let operation = op.id;
        let result = Some(OperationResult::Location { site, position });
        match op.command {
            OtaCommand::RequestLocation {
                periodic: Some(p), ..
            } if op.polls_done + 1 < p.count => {
                let kind = EventKind::OperationPolled {
                    operation,
                    polls_done: op.polls_done + 1,
                    next_poll: now.plus_ms(p.interval_ms),
                    result,
                };
                self.emit(now, kind, out);
            }
            _ => {
                let kind = EventKind::OperationSucceeded {
                    operation,
                    delivery: Some(DeliveryLevel::Confirmed),
                    result,
                };
                self.emit(now, kind, out)
            }
        }
    }

    fn answer(
        &mut self,
        now: Timestamp,
        (radio, site, rssi_dbm): (RadioId, SiteId, Option<i16>),
        service: Option<Service>,
        answer: Answer,
        out: &mut Vec<Output>,
    ) {
        let Some(op) = self.in_flight(radio, service) else {
            return;
        };
        let operation = op.id;
        let service = op.command.service();
        match answer {
            // A location request is answered by the position itself.
            Answer::Accepted if service == Service::Location => {}
            Answer::Accepted => {
                self.learn(now, radio, service, true, out);
                let control = match service {
                    Service::Stun => Some(RadioControl::Stunned),
                    Service::Revive => Some(RadioControl::Enabled),
                    Service::Kill => Some(RadioControl::Killed),
                    _ => None,
                };
                if let Some(control) = control {
                    let kind = EventKind::RadioControlChanged { radio, control };
                    self.emit(now, kind, out);
                }
                // A radio check answers where the radio is and how well it is heard.
                let result = (service == Service::RadioCheck)
                    .then_some(OperationResult::RadioCheck { site, rssi_dbm });
                let kind = EventKind::OperationSucceeded {
                    operation,
                    delivery: Some(DeliveryLevel::Confirmed),
                    result,
                };
                self.emit(now, kind, out);
            }
            Answer::Refused(refusal) => {
                if refusal.not_supported() {
                    self.learn(now, radio, service, false, out);
                }
                self.emit(now, EventKind::OperationRefused { operation, refusal }, out);
            }
        }
    }

    /// The sites group traffic to `tg` goes to, in site order: where its affiliated members
    /// and its team's members are heard, where it was last heard, and where the directory
    /// routes it statically (known sites only).
    fn group_sites(&self, tg: super::TalkgroupId) -> Vec<SiteId> {
        let mut sites = std::collections::BTreeSet::new();
        let team_groups: std::collections::BTreeMap<_, _> = self
            .state
            .teams
            .iter()
            .filter_map(|t| t.talkgroup.map(|g| (t.id, g)))
            .collect();
        for r in self.state.radios.values() {
            let member =
                r.talkgroup == Some(tg) || r.team.and_then(|t| team_groups.get(&t)) == Some(&tg);
            if member && let Some(p) = &r.presence {
                sites.insert(p.site.clone());
            }
        }
        if let Some(t) = self.state.talkgroups.get(&tg) {
            sites.extend(t.last_site.iter().cloned());
            sites.extend(
                t.sites
                    .iter()
                    .filter(|s| self.state.sites.contains_key(*s))
                    .cloned(),
            );
        }
        sites.into_iter().collect()
    }

    /// Where to send something for `to` now.
    fn site_for(&self, to: Addressee) -> Result<SiteId, DispatchError> {
        match to {
            Addressee::Radio(id) => {
                let r = self
                    .state
                    .radios
                    .get(&id)
                    .ok_or(DispatchError::UnknownRadio(id))?;
                if r.control == RadioControl::Killed {
                    return Err(DispatchError::RadioKilled(id));
                }
                r.presence
                    .as_ref()
                    .map(|p| p.site.clone())
                    .ok_or(DispatchError::RadioNotHeard(id))
            }
            Addressee::Talkgroup(id) => {
                let t = self
                    .state
                    .talkgroups
                    .get(&id)
                    .ok_or(DispatchError::UnknownTalkgroup(id))?;
                t.last_site
                    .clone()
                    .or_else(|| self.group_sites(id).into_iter().next())
                    .ok_or(DispatchError::TalkgroupNotHeard(id))
            }
        }
    }

    fn validate(&self, cmd: &OtaCommand) -> Result<(), DispatchError> {
        let invalid = |field, reason| Err(DispatchError::InvalidArgument { field, reason });
        // A stunned radio answers only the supplementary services that change its control
        // state (docs/air-commands.md §4): refuse the rest before anything is sent.
        if let Addressee::Radio(id) = cmd.addressee() {
            let answers_stunned = matches!(
                cmd.service(),
                Service::Stun | Service::Revive | Service::Kill
            );
            let stunned = self
                .state
                .radios
                .get(&id)
                .is_some_and(|r| r.control == RadioControl::Stunned);
            if stunned && !answers_stunned {
                return Err(DispatchError::RadioStunned(id));
            }
        }
        match cmd {
            OtaCommand::SendText { text, .. } => {
                if text.is_empty() {
                    return invalid("text", "empty");
                }
                if text.encode_utf16().count() > self.config.max_text_units {
                    return invalid("text", "longer than the air interface carries");
                }
            }
            OtaCommand::RequestLocation {
                periodic: Some(p), ..
            } => {
                if p.interval_ms < self.config.min_location_interval_ms {
                    return invalid("periodic.interval_ms", "below the minimum interval");
                }
                if p.count == 0 || p.count > self.config.max_polls {
                    return invalid("periodic.count", "outside 1..=max_polls");
                }
            }
            OtaCommand::SendStatus { status, .. } if *status > MAX_STATUS => {
                return invalid("status", "above 1023, the 10-bit air field");
            }
            OtaCommand::AcknowledgeEmergency { .. } => {
                return invalid("command", "acknowledge the alarm instead");
            }
            _ => {}
        }
        Ok(())
    }

    fn command(
        &mut self,
        now: Timestamp,
        request: Request,
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        let Request {
            request_id,
            operator,
            reason,
            client: _,
            command,
        } = request;
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(DispatchError::InvalidArgument {
                field: "reason",
                reason: "longer than 512 characters",
            });
        }
        if request_id
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.len() > MAX_KEY_LEN)
        {
            return Err(DispatchError::InvalidArgument {
                field: "request_id",
                reason: "empty or longer than 128 octets",
            });
        }
        if operator.as_ref().is_some_and(|o| o.len() > MAX_KEY_LEN) {
            return Err(DispatchError::InvalidArgument {
                field: "operator",
                reason: "longer than 128 octets",
            });
        }
        // A repeated request returns what the first one created (AIP-155).
        let earlier = request_id
            .as_deref()
            .and_then(|r| self.operation_by_request_id(r))
            .cloned();
        match command {
            Command::Ota(cmd) => {
                if let Some(op) = earlier {
                    return if op.command == cmd {
                        Ok(Reply::Operation(Box::new(op)))
                    } else {
                        Err(DispatchError::RequestIdReused(
                            request_id.unwrap_or_default(),
                        ))
                    };
                }
                self.validate(&cmd)?;
                // Stun and kill disable a radio (a kill for good): the reason goes on record.
                if matches!(cmd, OtaCommand::Stun { .. } | OtaCommand::Kill { .. })
                    && reason.is_none()
                {
                    return Err(DispatchError::InvalidArgument {
                        field: "reason",
                        reason: "required for stun and kill",
                    });
                }
                let op = self.create(now, cmd, (request_id, operator, reason), out)?;
                self.outbound(now, &op, out);
                Ok(Reply::Operation(Box::new(op)))
            }
            Command::AcknowledgeAlarm { alarm } => {
                let a = self
                    .state
                    .alarms
                    .get(&alarm)
                    .cloned()
                    .ok_or(DispatchError::UnknownAlarm(alarm))?;
                if let Some(op) = earlier {
                    return match op.command {
                        OtaCommand::AcknowledgeEmergency { alarm: a2, .. } if a2 == alarm => {
                            Ok(Reply::Alarm {
                                alarm: Box::new(a),
                                operation: Some(Box::new(op)),
                            })
                        }
                        _ => Err(DispatchError::RequestIdReused(
                            request_id.unwrap_or_default(),
                        )),
                    };
                }
                if a.state != AlarmState::Raised {
                    return Err(DispatchError::AlarmState {
                        alarm,
                        state: a.state,
                        action: "acknowledge",
                    });
                }
                let cmd = OtaCommand::AcknowledgeEmergency {
                    radio: a.radio,
                    talkgroup: a.talkgroup,
                    alarm,
                };
                let operator_name = operator.clone().unwrap_or_default();
                let op = match self.create(now, cmd, (request_id, operator, reason), out) {
                    Ok(op) => Some(op),
                    // The alarm is acknowledged even where nothing can be sent.
                    Err(DispatchError::UnsupportedService { .. }) => None,
                    Err(e) => return Err(e),
                };
                let kind = EventKind::AlarmAcknowledged {
                    alarm,
                    operator: operator_name,
                    operation: op.as_ref().map(|o| o.id),
                };
                self.emit(now, kind, out);
                let a = self
                    .state
                    .alarms
                    .get(&alarm)
                    .cloned()
                    .ok_or(DispatchError::UnknownAlarm(alarm))?;
                Ok(Reply::Alarm {
                    alarm: Box::new(a),
                    operation: op.map(Box::new),
                })
            }
            Command::ResolveAlarm { alarm } => {
                let a = self
                    .state
                    .alarms
                    .get(&alarm)
                    .ok_or(DispatchError::UnknownAlarm(alarm))?;
                if a.state == AlarmState::Resolved {
                    return Err(DispatchError::AlarmState {
                        alarm,
                        state: a.state,
                        action: "resolve",
                    });
                }
                let operator = operator.unwrap_or_default();
                self.emit(now, EventKind::AlarmResolved { alarm, operator }, out);
                let a = self
                    .state
                    .alarms
                    .get(&alarm)
                    .cloned()
                    .ok_or(DispatchError::UnknownAlarm(alarm))?;
                Ok(Reply::Alarm {
                    alarm: Box::new(a),
                    operation: None,
                })
            }
            Command::MarkMessage { message, mark } => {
                let m = self
                    .state
                    .messages
                    .get(&message)
                    .ok_or(DispatchError::UnknownMessage(message))?;
                let operator = operator.unwrap_or_default();
                match mark {
                    MessageMark::Read if m.read.is_none() => {
                        self.emit(now, EventKind::MessageRead { message, operator }, out)
                    }
                    MessageMark::Handled if m.handled.is_none() => {
                        self.emit(now, EventKind::MessageHandled { message, operator }, out)
                    }
                    MessageMark::Read | MessageMark::Handled => {}
                }
                let m = self
                    .state
                    .messages
                    .get(&message)
                    .cloned()
                    .ok_or(DispatchError::UnknownMessage(message))?;
                Ok(Reply::Message(Box::new(m)))
            }
            Command::DecideApproval { operation, approve } => {
                self.decide(now, operation, approve, (operator, reason), out)
            }
            Command::StartCallout(spec) => {
                self.start_callout(now, *spec, (request_id, operator), out)
            }
            Command::CancelCallout { callout } => self.cancel_callout(now, callout, operator, out),
            Command::CreateTeam(spec) => self.create_team(now, *spec, operator, out),
            Command::UpdateTeam { spec, etag } => self.update_team(now, *spec, etag, operator, out),
            Command::DeleteTeam { key, etag } => self.delete_team(now, key, etag, operator, out),
            Command::CancelOperation { operation } => {
                let op = self
                    .state
                    .operations
                    .get(&operation)
                    .ok_or(DispatchError::UnknownOperation(operation))?;
                if op.state.is_final() {
                    return Err(DispatchError::OperationFinished {
                        operation,
                        state: op.state,
                    });
                }
                self.emit(
                    now,
                    EventKind::OperationCancelled {
                        operation,
                        operator,
                    },
                    out,
                );
                let op = self
                    .state
                    .operations
                    .get(&operation)
                    .cloned()
                    .ok_or(DispatchError::UnknownOperation(operation))?;
                Ok(Reply::Operation(Box::new(op)))
            }
        }
    }

    /// A text or status a dispatcher sends is a message too (direction outbound), linked to
    /// the operation that carries it.
    fn outbound(&mut self, now: Timestamp, op: &Operation, out: &mut Vec<Output>) {
        let (to, body) = match &op.command {
            OtaCommand::SendText { to, text } => (*to, MessageBody::Text { text: text.clone() }),
            OtaCommand::SendStatus { to, status } => (*to, MessageBody::Status { status: *status }),
            _ => return,
        };
        let Some(site) = op.site.clone() else {
            return;
        };
        let message = Message {
            id: MessageId(self.state.next_message),
            direction: Direction::Outbound,
            source: None,
            to,
            site,
            at: now,
            body,
            operator: op.operator.clone(),
            operation: Some(op.id),
            read: None,
            handled: None,
        };
        self.emit(now, EventKind::MessageSent { message }, out);
    }

    /// Approve or reject an operation awaiting approval (module doc of `dispatch`): only
    /// within its window, and only by another identity than the requester's.
    fn decide(
        &mut self,
        now: Timestamp,
        operation: OperationId,
        approve: bool,
        (approver, reason): (Option<String>, Option<String>),
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        let op = self
            .state
            .operations
            .get(&operation)
            .cloned()
            .ok_or(DispatchError::UnknownOperation(operation))?;
        if op.state.is_final() {
            return Err(DispatchError::OperationFinished {
                operation,
                state: op.state,
            });
        }
        let Some(approval) = op
            .approval()
            .filter(|_| op.state == OperationState::AwaitingApproval)
        else {
            return Err(DispatchError::NotAwaitingApproval {
                operation,
                state: op.state,
            });
        };
        if now >= approval.deadline {
            // The timer would finish it at this very tick: finish it now, and say so.
            self.emit(now, EventKind::OperationExpired { operation }, out);
            return Err(DispatchError::ApprovalExpired { operation });
        }
        let approver = approver.ok_or(DispatchError::ApproverUnknown { operation })?;
        if op.operator.as_ref() == Some(&approver) {
            return Err(DispatchError::SameIdentity {
                operation,
                identity: approver,
            });
        }
        if approve {
            let kind = EventKind::OperationApproved {
                operation,
                approver,
                reason,
            };
            self.emit(now, kind, out);
            // Queued where the radio is heard now, as a retry would be.
            self.requeue(now, &op, out);
        } else {
            let kind = EventKind::OperationRejected {
                operation,
                approver,
                reason,
            };
            self.emit(now, kind, out);
        }
        let op = self
            .state
            .operations
            .get(&operation)
            .cloned()
            .ok_or(DispatchError::UnknownOperation(operation))?;
        Ok(Reply::Operation(Box::new(op)))
    }

    /// Create and queue an operation; a kill is created awaiting approval instead.
    fn create(
        &mut self,
        now: Timestamp,
        command: OtaCommand,
        (request_id, operator, reason): (Option<String>, Option<String>, Option<String>),
        out: &mut Vec<Output>,
    ) -> Result<Operation, DispatchError> {
        let priority = command.priority();
        self.create_with(now, command, priority, (request_id, operator, reason), out)
    }

    /// Create and queue an operation with the given queue priority (a call-out's traffic
    /// goes at [`super::Priority::Callout`] whatever its service).
    pub(super) fn create_with(
        &mut self,
        now: Timestamp,
        command: OtaCommand,
        priority: super::Priority,
        (request_id, operator, reason): (Option<String>, Option<String>, Option<String>),
        out: &mut Vec<Output>,
    ) -> Result<Operation, DispatchError> {
        let site = match &command {
            // An alarm acknowledgement goes where the radio is now, else where it alarmed.
            OtaCommand::AcknowledgeEmergency { radio, alarm, .. } => {
                self.site_for(Addressee::Radio(*radio)).or_else(|e| {
                    self.state
                        .alarms
                        .get(alarm)
                        .map(|a| a.site.clone())
                        .ok_or(e)
                })?
            }
            _ => self.site_for(command.addressee())?,
        };
        // Group traffic goes to every site where the group is (docs/air-commands.md §0), and
        // so does the acknowledgement of an alarm raised in a group call, on the sites whose
        // profile can send it (§8).
        let group_sites = match (&command, command.addressee()) {
            (_, Addressee::Talkgroup(tg)) => self.group_sites(tg),
            (
                OtaCommand::AcknowledgeEmergency {
                    talkgroup: Some(tg),
                    ..
                },
                _,
            ) => {
                let mut sites = self.group_sites(*tg);
                if !sites.contains(&site) {
                    sites.push(site.clone());
                    sites.sort();
                }
                sites.retain(|s| {
                    self.state
                        .sites
                        .get(s)
                        .is_some_and(|s| s.profile.supports(Service::EmergencyAck))
                });
                sites
            }
            (_, Addressee::Radio(_)) => Vec::new(),
        };
        let profile = self
            .state
            .sites
            .get(&site)
            .map(|s| s.profile)
            .unwrap_or_default();
        if !profile.supports(command.service()) {
            return Err(DispatchError::UnsupportedService {
                site,
                profile,
                service: command.service(),
            });
        }
        let active = self.state.active_operations.len();
        if priority != super::Priority::Emergency && active >= self.config.max_active_operations {
            return Err(DispatchError::TooManyOperations {
                limit: self.config.max_active_operations,
            });
        }
        // Emergency acknowledgements are never refused for a full queue.
        for s in std::iter::once(&site).chain(&group_sites) {
            let queued = self.state.sites.get(s).map_or(0, |s| s.queue.len());
            if priority != super::Priority::Emergency && queued >= self.config.queue_limit {
                return Err(DispatchError::QueueFull {
                    site: s.clone(),
                    limit: self.config.queue_limit,
                });
            }
        }
        let deliveries = group_sites
            .into_iter()
            .map(|site| SiteDelivery {
                site,
                state: DeliveryState::Queued,
                slot: None,
                sent_at: None,
                deadline: None,
            })
            .collect();
        // A kill is permanent: it waits for a second identity (module doc of `dispatch`).
        let approval = matches!(command, OtaCommand::Kill { .. }).then(|| Approval {
            deadline: now.plus_ms(self.config.kill_approval_window_ms),
            decided: None,
        });
        let state = if approval.is_some() {
            OperationState::AwaitingApproval
        } else {
            OperationState::Queued
        };
        let operation = Operation {
            id: OperationId(self.state.next_operation),
            request_id,
            operator,
            command,
            priority,
            state,
            site: Some(site),
            attempts: 0,
            created: now,
            updated: now,
            queued_at: now,
            deadline: None,
            next_poll: None,
            polls_done: 0,
            refusal: None,
            failure: None,
            deliveries,
            result: None,
            polls: None,
            authorization: (reason.is_some() || approval.is_some())
                .then(|| Box::new(super::Authorization { reason, approval })),
        };
        self.emit(
            now,
            EventKind::OperationCreated {
                operation: operation.clone(),
            },
            out,
        );
        Ok(operation)
    }

    /// Queue an operation again, on the site its addressee is heard on now.
    fn requeue(&mut self, now: Timestamp, op: &Operation, out: &mut Vec<Output>) {
        let operation = op.id;
        let site = self
            .site_for(op.command.addressee())
            .ok()
            .or_else(|| op.site.clone());
        match site {
            Some(site) => self.emit(now, EventKind::OperationQueued { operation, site }, out),
            None => {
                let failure = FailReason::NoSite;
                self.emit(now, EventKind::OperationFailed { operation, failure }, out);
            }
        }
    }

    fn timers(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let cfg = self.config.clone();
        // Calls: hang time after the last transmission, idle timeout.
        let calls: Vec<(CallId, Option<CallEndReason>)> = self
            .state
            .active_calls
            .iter()
            .filter_map(|id| self.state.calls.get(id))
            .map(|c| {
                let reason = if c
                    .transmission_ended
                    .is_some_and(|t| now.since(t) >= cfg.call_hang_ms)
                {
                    Some(CallEndReason::HangTimeExpired)
                } else if now.since(c.last_activity) >= cfg.call_idle_ms {
                    Some(CallEndReason::Idle)
                } else {
                    None
                };
                (c.id, reason)
            })
            .collect();
        for (call, reason) in calls {
            if let Some(reason) = reason {
                self.emit(now, EventKind::CallEnded { call, reason }, out);
            }
        }
        // Operations: answer deadlines, periodic polls, site-down waits.
        let ops: Vec<Operation> = self.active_operations().cloned().collect();
        for op in ops {
            let operation = op.id;
            if !op.deliveries.is_empty() {
                self.group_timers(now, &op, out);
                continue;
            }
            match op.state {
                OperationState::Sent if op.deadline.is_some_and(|d| now >= d) => {
                    let attempt = op.attempts;
                    self.emit(
                        now,
                        EventKind::OperationAttemptTimedOut { operation, attempt },
                        out,
                    );
                    if op.attempts < cfg.max_attempts {
                        self.requeue(now, &op, out);
                    } else if let OtaCommand::RequestLocation {
                        periodic: Some(p), ..
                    } = op.command
                    {
                        self.poll_timed_out(now, &op, p, out);
                    } else {
                        let attempts = op.attempts;
                        let kind = EventKind::OperationTimedOut {
                            operation,
                            attempts,
                        };
                        self.emit(now, kind, out);
                    }
                }
                OperationState::Waiting if op.next_poll.is_some_and(|t| now >= t) => {
                    self.requeue(now, &op, out);
                }
                OperationState::AwaitingApproval
                    if op.approval().is_some_and(|a| now >= a.deadline) =>
                {
                    self.emit(now, EventKind::OperationExpired { operation }, out);
                }
                OperationState::Queued => {
                    let Some(site) = op.site.as_ref().and_then(|s| self.state.sites.get(s)) else {
                        continue;
                    };
                    if site.link_up {
                        continue;
                    }
                    let since = site.down_since.unwrap_or(op.queued_at).max(op.queued_at);
                    if now.since(since) >= cfg.site_down_wait_ms {
                        let failure = FailReason::SiteDown {
                            site: site.id.clone(),
                        };
                        self.emit(now, EventKind::OperationFailed { operation, failure }, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// A poll of a periodic location request got no answer after every attempt: record it
    /// and go on with the next poll; after the last, the request succeeded if any poll was
    /// answered (its result is the latest position), else it timed out.
    fn poll_timed_out(
        &mut self,
        now: Timestamp,
        op: &Operation,
        p: super::Periodic,
        out: &mut Vec<Output>,
    ) {
        let operation = op.id;
        let attempts = op.attempts;
        let poll = op.polls_done.saturating_add(1);
        let last = poll >= p.count;
        let kind = EventKind::OperationPollTimedOut {
            operation,
            poll,
            attempts,
            next_poll: (!last).then(|| now.plus_ms(p.interval_ms)),
        };
        self.emit(now, kind, out);
        if !last {
            return;
        }
        let answered = self
            .state
            .operations
            .get(&operation)
            .is_some_and(Operation::any_poll_answered);
        let kind = if answered {
            EventKind::OperationSucceeded {
                operation,
                delivery: Some(DeliveryLevel::Confirmed),
                result: op.result.as_deref().cloned(),
            }
        } else {
            EventKind::OperationTimedOut {
                operation,
                attempts,
            }
        };
        self.emit(now, kind, out);
    }

    /// Group traffic: once every site's transmission is sent or failed, finish the
    /// operation: succeeded (transmitted everywhere, or partly) if any site sent it, else
    /// failed naming the first site.
    fn settle_group(&mut self, now: Timestamp, operation: OperationId, out: &mut Vec<Output>) {
        let Some(op) = self.state.operations.get(&operation) else {
            return;
        };
        if op.state.is_final()
            || op.deliveries.is_empty()
            || !op.deliveries.iter().all(|d| d.state.is_final())
        {
            return;
        }
        if op.deliveries.iter().any(|d| d.state == DeliveryState::Sent) {
            let kind = EventKind::OperationSucceeded {
                operation,
                delivery: Some(op.level_if_succeeded()),
                result: None,
            };
            self.emit(now, kind, out);
        } else {
            let site = op.deliveries[0].site.clone();
            let failure = FailReason::SiteDown { site };
            self.emit(now, EventKind::OperationFailed { operation, failure }, out);
        }
    }

    /// Group traffic: a site whose link stays down past the wait, or whose link never
    /// reports the transmission sent, fails that site's share.
    fn group_timers(&mut self, now: Timestamp, op: &Operation, out: &mut Vec<Output>) {
        let wait = self.config.site_down_wait_ms;
        let mut failed = Vec::new();
        for d in &op.deliveries {
            match d.state {
                DeliveryState::Queued => {
                    let Some(site) = self.state.sites.get(&d.site) else {
                        continue;
                    };
                    let since = site.down_since.unwrap_or(op.queued_at).max(op.queued_at);
                    if !site.link_up && now.since(since) >= wait {
                        failed.push((d.site.clone(), DeliveryState::LinkDown));
                    }
                }
                DeliveryState::Transmitting if d.deadline.is_some_and(|t| now >= t) => {
                    failed.push((d.site.clone(), DeliveryState::NotReported));
                }
                _ => {}
            }
        }
        if failed.is_empty() {
            return;
        }
        for (site, state) in failed {
            let kind = EventKind::OperationSiteFailed {
                operation: op.id,
                site,
                state,
            };
            self.emit(now, kind, out);
        }
        self.settle_group(now, op.id, out);
    }

    /// The slot an operation goes on at `site` (docs/air-commands.md §0 "Which slot"): a
    /// talkgroup's own slot for group traffic, else the radio's last-heard slot where the site
    /// follows it, else the site's slot.
    fn slot_for(&self, op: &Operation, site: &Site) -> Slot {
        let group = match (&op.command, op.command.addressee()) {
            (_, Addressee::Talkgroup(tg)) => Some(tg),
            // An alarm acknowledgement on every site of the group: on the group's slot.
            (
                OtaCommand::AcknowledgeEmergency {
                    talkgroup: Some(tg),
                    ..
                },
                _,
            ) if !op.deliveries.is_empty() => Some(*tg),
            _ => None,
        };
        if let Some(tg) = group {
            return self
                .state
                .talkgroups
                .get(&tg)
                .and_then(|t| t.slot)
                .unwrap_or(site.air.slot);
        }
        match op.command.addressee() {
            Addressee::Talkgroup(tg) => self
                .state
                .talkgroups
                .get(&tg)
                .and_then(|t| t.slot)
                .unwrap_or(site.air.slot),
            Addressee::Radio(r) if site.air.follow_heard_slot => self
                .state
                .radios
                .get(&r)
                .and_then(|r| r.presence.as_ref())
                .filter(|p| p.site == site.id)
                .map_or(site.air.slot, |p| p.slot),
            Addressee::Radio(_) => site.air.slot,
        }
    }

    /// The link reports an attempt sent: its answer window starts now.
    fn aired(
        &mut self,
        now: Timestamp,
        (operation, attempt): (OperationId, u8),
        (site, slot): (SiteId, Slot),
        at: Timestamp,
        out: &mut Vec<Output>,
    ) {
        let Some(op) = self.state.operations.get(&operation) else {
            return;
        };
        if !op.deliveries.is_empty() {
            let transmitting = op
                .deliveries
                .iter()
                .any(|d| d.site == site && d.state == DeliveryState::Transmitting);
            if transmitting && !op.state.is_final() {
                let sent_at = at.min(now);
                let kind = EventKind::OperationSiteSent {
                    operation,
                    site,
                    sent_at,
                };
                self.emit(now, kind, out);
                self.settle_group(now, operation, out);
            }
            return;
        }
        if op.state != OperationState::Sent || op.attempts != attempt || op.deadline.is_none() {
            return;
        }
        if op.site.as_ref() != Some(&site) {
            return;
        }
        let extra = self
            .state
            .sites
            .get(&site)
            .map_or(0, |s| s.air.extra_air_ms);
        let answer_window_ms = self.config.answer_timeout_ms.saturating_add(extra);
        // The link's clock is the driver's; a report from the future is taken as now.
        let sent_at = at.min(now);
        let kind = EventKind::OperationAired {
            operation,
            attempt,
            slot,
            sent_at,
            answer_window_ms,
            deadline: sent_at.plus_ms(answer_window_ms),
        };
        self.emit(now, kind, out);
    }

    /// Send, per site and slot whose air is free, the first queued operation for that slot.
    fn pump(&mut self, now: Timestamp, out: &mut Vec<Output>) {
        let mut ready: Vec<(SiteId, Slot, OperationId)> = Vec::new();
        for s in self.state.sites.values().filter(|s| s.link_up) {
            for slot in [Slot::One, Slot::Two] {
                if s.busy_until[slot_index(slot)] > now {
                    continue;
                }
                let first = s.queue.iter().find(|(_, id)| {
                    self.state
                        .operations
                        .get(id)
                        .is_some_and(|op| self.slot_for(op, s) == slot)
                });
                if let Some(&(_, id)) = first {
                    ready.push((s.id.clone(), slot, id));
                }
            }
        }
        for (site, slot, id) in ready {
            let Some(op) = self.state.operations.get(&id).cloned() else {
                continue;
            };
            let (profile, extra) = self
                .state
                .sites
                .get(&site)
                .map(|s| (s.profile, s.air.extra_air_ms))
                .unwrap_or_default();
            let message = air_message(&op);
            let group = !op.deliveries.is_empty();
            let attempt = if group {
                1
            } else {
                op.attempts.saturating_add(1)
            };
            let expects = message.expects_answer();
            let on_air = message.air_time_ms().saturating_add(extra);
            let fallback = on_air
                .saturating_add(self.config.answer_timeout_ms)
                .saturating_add(self.config.sent_report_grace_ms);
            // Group traffic succeeds once the link reports it sent on every site; a report
            // that never comes fails that site after its air time and the grace.
            let deadline = if group {
                Some(now.plus_ms(on_air.saturating_add(self.config.sent_report_grace_ms)))
            } else {
                expects.then(|| now.plus_ms(fallback))
            };
            let kind = EventKind::OperationTransmitted {
                operation: id,
                site: site.clone(),
                attempt,
                busy_until: now.plus_ms(on_air),
                deadline,
                slot: Some(slot),
            };
            self.emit(now, kind, out);
            out.push(Output::Transmit {
                site,
                slot,
                profile,
                message,
                priority: op.priority,
                operation: id,
                attempt,
            });
            if !expects && !group {
                // No answer is possible (an emergency acknowledgement): transmitted.
                let kind = EventKind::OperationSucceeded {
                    operation: id,
                    delivery: Some(DeliveryLevel::Transmitted),
                    result: None,
                };
                self.emit(now, kind, out);
            }
        }
    }
}

/// The air message an operation sends.
fn air_message(op: &Operation) -> AirMessage {
    match &op.command {
        OtaCommand::RadioCheck { radio } => AirMessage::RadioCheck { radio: *radio },
        OtaCommand::CallAlert { radio } => AirMessage::CallAlert { radio: *radio },
        OtaCommand::Stun { radio } => AirMessage::Stun { radio: *radio },
        OtaCommand::Revive { radio } => AirMessage::Revive { radio: *radio },
        OtaCommand::Kill { radio } => AirMessage::Kill { radio: *radio },
        OtaCommand::SendText { to, text } => AirMessage::Text {
            to: *to,
            text: text.clone(),
        },
        OtaCommand::SendStatus { to, status } => AirMessage::Status {
            to: *to,
            status: *status,
        },
        OtaCommand::RequestLocation { radio, .. } => AirMessage::LocationRequest {
            radio: *radio,
            // The request id echoed in the answer: the operation id's low 32 bits.
            request: op.id.0 as u32,
        },
        OtaCommand::AcknowledgeEmergency {
            radio, talkgroup, ..
        } => AirMessage::EmergencyAck {
            radio: *radio,
            talkgroup: *talkgroup,
        },
    }
}
