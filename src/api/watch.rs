//! `EventService.WatchEvents`: the journaled events as a server stream with resume cursors
//! (docs/design.md "The slowest client never slows the radio side"; docs/dispatch.md §4.2).
//!
//! - Cursors are strings `<journal>.<seq>` ([`Cursor`], events.proto): every position the
//!   stream hands out names the journal it is in. A request cursor that does not parse is
//!   INVALID_ARGUMENT (field `cursor`); one of another journal than the backend's is
//!   FAILED_PRECONDITION `JOURNAL_MISMATCH` naming both journals, before any stream starts;
//!   the numeric `legacy_cursor` of earlier versions is INVALID_ARGUMENT (field
//!   `legacy_cursor`), never read as "no cursor".
//! - Without a cursor the stream starts at the live tail: the server reads the latest cursor
//!   and watches after it. With a cursor it replays after it, then goes live. With
//!   `snapshot` (and no cursor) it first sends the current state from one consistent read,
//!   then `SnapshotComplete` with that read's cursor, then the events after it (Kubernetes
//!   list+watch; Firestore CURRENT).
//! - When a whole `ApiConfig::heartbeat` period passed without a message (so after one to
//!   two periods of quiet), a `Heartbeat` carries the cursor of the last event delivered or
//!   filtered out (etcd progress notify): resuming after it loses nothing.
//! - The stream is polled by the HTTP/2 response itself, straight from the backend's bounded
//!   subscription: a client that does not read closes its flow-control window, the stream
//!   is no longer polled, the subscription overflows, and the stream ends with
//!   RESOURCE_EXHAUSTED naming the cursor to resume from (console's slow-client policy).
//!   The core never waits for a watcher.
//! - Each event is converted and encoded once, by the first stream that sends it, and the
//!   bytes are shared by every other stream ([`WatchFrame::Encoded`], sent by the codec of
//!   `super::event_server`). Events ready together leave in one HTTP/2 DATA frame (tonic
//!   gathers what the stream yields without waiting).
//! - The `filter` (events.proto) is AIP-160 over `type`, `radio`, `talkgroup`, `site` and
//!   `team`. A filter on the type alone costs one comparison per event. One that asks what an
//!   event concerns makes the stream keep a [`Context`]: team membership (read when the
//!   stream begins and after each `directory_loaded`) and the radios, talkgroups and sites of
//!   the calls, alarms, operations and messages it has seen or that the core kept when it
//!   began (bounded by [`MAX_REMEMBERED`] each), so that `call_ended`, `operation_succeeded`
//!   or `message_handled`, which name only their call, operation or message, are matched by
//!   what that concerns.
//! - Streams end with UNAVAILABLE (reason SHUTTING_DOWN, with `resume_cursor`) when the
//!   server drains, and quietly when the client goes away. A drain while the snapshot is
//!   still being sent names no cursor: none would resume correctly, so the client takes a
//!   new snapshot.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use tonic::Status;

use super::backend::WatchError;
use super::backend::{Backend, EventStream, WatchStart};
use super::convert;
use super::filter::{Field, Filter, Kind, Record, Value};
use super::list::{radio_key, site_segment, talkgroup_key, team_name};
use super::pb;
use super::service::{Api, Shared, drained, draining};
use super::status::{invalid_argument, status};
use crate::dispatch::{
    Addressee, Alarm, AlarmFilter, AlarmId, AlarmState, Call, CallFilter, CallId, Core, Direction,
    EventKind, Message, MessageFilter, MessageId, Operation, OperationId, Page, RadioFilter,
    RadioId, RadioView, Site, SiteId, Talkgroup, TalkgroupId, Team,
};
use crate::journal::Cursor;

/// Most calls, alarms and operations a filtered stream remembers the subjects of (each kind),
/// so that events naming only a call, alarm or operation can be matched to radios,
/// talkgroups, sites and teams. The oldest is forgotten first; the core keeps fewer than
/// this of each by default.
const MAX_REMEMBERED: usize = 4096;

/// Field indexes of [`EVENT_FIELDS`].
const TYPE: usize = 0;
const RADIO: usize = 1;
const TALKGROUP: usize = 2;
const SITE: usize = 3;
const TEAM: usize = 4;

/// The fields a watch filters on (events.proto, `WatchEventsRequest.filter`).
const EVENT_FIELDS: &[Field] = &[
    Field::one("type", Kind::Text),
    Field::many("radio", Kind::Key(radio_key)),
    Field::many("talkgroup", Kind::Key(talkgroup_key)),
    Field::many("site", Kind::Name(site_segment)),
    Field::many("team", Kind::Name(team_name)),
];

/// A watch's event filter (see events.proto).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    filter: Filter,
    /// Whether it looks past the type (so the stream must know what each event concerns).
    subjects: bool,
}

impl EventFilter {
    /// Parse the `filter` field: INVALID_ARGUMENT naming the column and what was expected.
    pub fn parse(s: &str) -> Result<EventFilter, Status> {
        let filter = Filter::compile(s, EVENT_FIELDS)
            .map_err(|e| invalid_argument("filter", e.to_string()))?;
        let subjects = [RADIO, TALKGROUP, SITE, TEAM]
            .into_iter()
            .any(|f| filter.uses(f));
        Ok(EventFilter { filter, subjects })
    }

    /// Whether an event of this type passes, for a filter on the type alone (one that
    /// [`needs_subjects`](Self::needs_subjects) is evaluated with what the event concerns).
    pub fn matches(&self, type_name: &str) -> bool {
        self.filter.matches(&EventRecord {
            type_name,
            subjects: &Subjects::default(),
            teams: &Teams::default(),
        })
    }

    /// Whether it needs to know what each event concerns.
    pub fn needs_subjects(&self) -> bool {
        self.subjects
    }
}

/// What an event concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Subjects {
    radios: Vec<RadioId>,
    talkgroups: Vec<TalkgroupId>,
    sites: Vec<SiteId>,
}

impl Subjects {
    fn radio(&mut self, r: RadioId) {
        if !self.radios.contains(&r) {
            self.radios.push(r);
        }
    }
    fn talkgroup(&mut self, t: TalkgroupId) {
        if !self.talkgroups.contains(&t) {
            self.talkgroups.push(t);
        }
    }
    fn site(&mut self, s: &SiteId) {
        if !self.sites.contains(s) {
            self.sites.push(s.clone());
        }
    }
    fn addressee(&mut self, a: Addressee) {
        match a {
            Addressee::Radio(r) => self.radio(r),
            Addressee::Talkgroup(t) => self.talkgroup(t),
        }
    }
    fn merge(&mut self, o: &Subjects) {
        o.radios.iter().for_each(|r| self.radio(*r));
        o.talkgroups.iter().for_each(|t| self.talkgroup(*t));
        o.sites.iter().for_each(|s| self.site(s));
    }
}

/// Team membership as the directory says: by radio and by talkgroup.
#[derive(Debug, Clone, Default)]
struct Teams {
    by_radio: HashMap<RadioId, Vec<String>>,
    by_talkgroup: HashMap<TalkgroupId, Vec<String>>,
}

impl Teams {
    fn read(core: &Core) -> Teams {
        let mut t = Teams::default();
        for team in core.teams() {
            let name = convert::team_name(&team.resource_key());
            for r in &team.radios {
                t.by_radio.entry(*r).or_default().push(name.clone());
            }
            if let Some(g) = team.talkgroup {
                t.by_talkgroup.entry(g).or_default().push(name.clone());
            }
        }
        t
    }
}

struct EventRecord<'a> {
    type_name: &'a str,
    subjects: &'a Subjects,
    teams: &'a Teams,
}

impl Record for EventRecord<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        let s = self.subjects;
        match i {
            TYPE => Value::Text(Cow::Borrowed(self.type_name)),
            RADIO => Value::Keys(s.radios.iter().map(|r| u64::from(r.air())).collect()),
            TALKGROUP => Value::Keys(s.talkgroups.iter().map(|t| u64::from(t.air())).collect()),
            SITE => Value::Texts(s.sites.iter().map(|s| Cow::Borrowed(s.as_str())).collect()),
            _ => {
                let mut names: Vec<Cow<'_, str>> = Vec::new();
                let teams = s
                    .radios
                    .iter()
                    .filter_map(|r| self.teams.by_radio.get(r))
                    .chain(
                        s.talkgroups
                            .iter()
                            .filter_map(|t| self.teams.by_talkgroup.get(t)),
                    );
                for name in teams.flatten() {
                    if !names.iter().any(|n| n == name) {
                        names.push(Cow::Borrowed(name));
                    }
                }
                Value::Texts(names)
            }
        }
    }
}

/// What a filtered stream knows to match events to what they concern: team membership and
/// the subjects of recent calls, alarms and operations (bounded by [`MAX_REMEMBERED`]).
#[derive(Debug, Default)]
struct Context {
    teams: Teams,
    calls: BTreeMap<CallId, Subjects>,
    alarms: BTreeMap<AlarmId, Subjects>,
    operations: BTreeMap<OperationId, Subjects>,
    messages: BTreeMap<MessageId, Subjects>,
}

fn remember<K: Ord>(map: &mut BTreeMap<K, Subjects>, k: K, s: Subjects) {
    map.insert(k, s);
    while map.len() > MAX_REMEMBERED {
        map.pop_first();
    }
}

fn call_subjects(c: &Call) -> Subjects {
    let mut s = Subjects::default();
    s.addressee(c.target);
    s.site(&c.site);
    c.talkers.iter().for_each(|r| s.radio(*r));
    s
}

fn alarm_subjects(a: &Alarm) -> Subjects {
    let mut s = Subjects::default();
    s.radio(a.radio);
    if let Some(t) = a.talkgroup {
        s.talkgroup(t);
    }
    s.site(&a.site);
    s
}

fn message_subjects(m: &Message) -> Subjects {
    let mut s = Subjects::default();
    if let Some(r) = m.source {
        s.radio(r);
    }
    s.addressee(m.to);
    s.site(&m.site);
    s
}

fn operation_subjects(o: &Operation) -> Subjects {
    let mut s = Subjects::default();
    s.addressee(o.command.addressee());
    if let Some(site) = &o.site {
        s.site(site);
    }
    s
}

impl Context {
    /// Team membership and the calls, alarms and operations the core keeps.
    fn read(core: &Core) -> Context {
        let mut c = Context {
            teams: Teams::read(core),
            ..Context::default()
        };
        let mut calls = Vec::new();
        all(|a| core.calls(CallFilter::All, a, usize::MAX), &mut calls);
        for call in &calls {
            remember(&mut c.calls, call.id, call_subjects(call));
        }
        let mut alarms = Vec::new();
        all(
            |a| core.alarms(AlarmFilter::default(), a, usize::MAX),
            &mut alarms,
        );
        for alarm in &alarms {
            remember(&mut c.alarms, alarm.id, alarm_subjects(alarm));
        }
        let mut ops = Vec::new();
        all(|a| core.operations(a, usize::MAX), &mut ops);
        for op in &ops {
            remember(&mut c.operations, op.id, operation_subjects(op));
        }
        let mut messages = Vec::new();
        all(|a| core.messages(a, usize::MAX), &mut messages);
        for m in &messages {
            remember(&mut c.messages, m.id, message_subjects(m));
        }
        c
    }

    /// What `kind` concerns, learning the subjects of the calls, alarms and operations it
    /// starts and forgetting those it ends.
    fn subjects(&mut self, kind: &EventKind) -> Subjects {
        let mut s = Subjects::default();
        match kind {
            EventKind::DirectoryLoaded { .. }
            | EventKind::GatewayRestarted
            | EventKind::ConfigChanged { .. }
            | EventKind::AuditRecorded { .. }
            | EventKind::InputsLost { .. }
            | EventKind::JournalRecovered { .. }
            | EventKind::CalloutStarted { .. }
            | EventKind::CalloutGroupQueued { .. }
            | EventKind::CalloutEscalated { .. }
            | EventKind::CalloutFinished { .. }
            | EventKind::TeamCreated { .. }
            | EventKind::TeamUpdated { .. }
            | EventKind::TeamDeleted { .. } => {}
            EventKind::CalloutMemberUpdated { member, .. } => {
                s.radio(member.radio);
                if let Some(site) = &member.site {
                    s.site(site);
                }
            }
            EventKind::CalloutReplied { radio, .. } => s.radio(*radio),
            EventKind::SiteAdded { site } | EventKind::SiteLinkChanged { site, .. } => s.site(site),
            EventKind::RadioHeard { radio, site, .. }
            | EventKind::RadioRegistered { radio, site } => {
                s.radio(*radio);
                s.site(site);
            }
            EventKind::RadioDeregistered { radio }
            | EventKind::RadioAliasLearned { radio, .. }
            | EventKind::RadioCapabilityLearned { radio, .. }
            | EventKind::RadioControlChanged { radio, .. } => s.radio(*radio),
            EventKind::RadioAffiliated {
                radio,
                talkgroup,
                site,
            } => {
                s.radio(*radio);
                s.talkgroup(*talkgroup);
                s.site(site);
            }
            EventKind::CallStarted {
                call,
                target,
                site,
                talker,
                ..
            } => {
                s.addressee(*target);
                s.site(site);
                if let Some(t) = talker {
                    s.radio(*t);
                }
                remember(&mut self.calls, *call, s.clone());
            }
            EventKind::CallTalkerChanged { call, talker } => {
                let known = self.calls.entry(*call).or_default();
                known.radio(*talker);
                s.merge(known);
            }
            EventKind::CallFlagsChanged { call, .. }
            | EventKind::CallActivity { call }
            | EventKind::CallTransmissionEnded { call } => {
                if let Some(known) = self.calls.get(call) {
                    s.merge(known);
                }
            }
            EventKind::CallEnded { call, .. } => {
                if let Some(known) = self.calls.remove(call) {
                    s = known;
                }
            }
            EventKind::AlarmRaised {
                alarm,
                radio,
                talkgroup,
                site,
            } => {
                s.radio(*radio);
                if let Some(t) = talkgroup {
                    s.talkgroup(*t);
                }
                s.site(site);
                remember(&mut self.alarms, *alarm, s.clone());
            }
            EventKind::AlarmRepeated { alarm, site } => {
                if let Some(known) = self.alarms.get_mut(alarm) {
                    known.site(site);
                    s.merge(known);
                } else {
                    s.site(site);
                }
            }
            EventKind::AlarmAcknowledged {
                alarm, operation, ..
            } => {
                if let Some(known) = self.alarms.get(alarm) {
                    s.merge(known);
                    if let Some(op) = operation {
                        let known = known.clone();
                        self.operations.entry(*op).or_default().merge(&known);
                    }
                }
            }
            EventKind::AlarmResolved { alarm, .. } => {
                if let Some(known) = self.alarms.remove(alarm) {
                    s = known;
                }
            }
            EventKind::MessageReceived { message } | EventKind::MessageSent { message } => {
                s = message_subjects(message);
                remember(&mut self.messages, message.id, s.clone());
            }
            EventKind::MessageRead { message, .. } | EventKind::MessageHandled { message, .. } => {
                // A mark names only its message: matched by what the message concerns.
                if let Some(known) = self.messages.get(message) {
                    s.merge(known);
                }
            }
            EventKind::PositionReported { radio, site, .. }
            | EventKind::DataReceived { radio, site, .. } => {
                s.radio(*radio);
                s.site(site);
            }
            EventKind::OperationCreated { operation } => {
                s = operation_subjects(operation);
                let known = self.operations.entry(operation.id).or_default();
                known.merge(&s);
                let known = known.clone();
                remember(&mut self.operations, operation.id, known.clone());
                s = known;
            }
            EventKind::OperationQueued { operation, site }
            | EventKind::OperationSiteSent {
                operation, site, ..
            }
            | EventKind::OperationSiteFailed {
                operation, site, ..
            }
            | EventKind::OperationTransmitted {
                operation, site, ..
            } => {
                let known = self.operations.entry(*operation).or_default();
                known.site(site);
                s.merge(known);
            }
            EventKind::OperationAttemptTimedOut { operation, .. }
            | EventKind::OperationAired { operation, .. }
            | EventKind::OperationPolled { operation, .. }
            | EventKind::OperationPollTimedOut { operation, .. }
            | EventKind::OperationApproved { operation, .. } => {
                if let Some(known) = self.operations.get(operation) {
                    s.merge(known);
                }
            }
            EventKind::OperationSucceeded { operation, .. }
            | EventKind::OperationRefused { operation, .. }
            | EventKind::OperationTimedOut { operation, .. }
            | EventKind::OperationFailed { operation, .. }
            | EventKind::OperationRejected { operation, .. }
            | EventKind::OperationExpired { operation }
            | EventKind::OperationCancelled { operation, .. } => {
                if let Some(known) = self.operations.remove(operation) {
                    s = known;
                }
            }
        }
        s
    }

    /// Whether `kind` passes `filter`.
    fn matches(&mut self, filter: &EventFilter, kind: &EventKind) -> bool {
        let subjects = self.subjects(kind);
        filter.filter.matches(&EventRecord {
            type_name: kind.name(),
            subjects: &subjects,
            teams: &self.teams,
        })
    }
}

/// One message of the stream: an event already encoded (shared by every stream) or any
/// other message, encoded by the codec.
pub(crate) enum WatchFrame {
    /// A `WatchEventsResponse` on the wire.
    Encoded(bytes::Bytes),
    /// A message encoded when sent (heartbeats, snapshot items): rare, so boxed to keep
    /// the frames of the event path small.
    Message(Box<pb::WatchEventsResponse>),
}

pub(crate) type Item = Result<WatchFrame, Status>;

fn resp(kind: pb::watch_events_response::Kind) -> WatchFrame {
    WatchFrame::Message(Box::new(pb::WatchEventsResponse { kind: Some(kind) }))
}

/// The current state, cloned on the driver in one read (so it is consistent with one
/// cursor) and converted to proto off the driver. Every list is walked by its paginated
/// query. The cost is one clone of every radio: fine for thousands of radios, a pause of the
/// driver for a million.
#[derive(Default)]
struct Snapshot {
    sites: Vec<Site>,
    teams: Vec<Team>,
    talkgroups: Vec<Talkgroup>,
    /// With their teams' names and last known positions.
    radios: Vec<RadioView>,
    calls: Vec<Call>,
    alarms: Vec<Alarm>,
    operations: Vec<Operation>,
    /// Inbound messages not yet handled (converted on the driver: they need names).
    messages: Vec<pb::Message>,
}

/// Walk a paginated query to its end.
fn all<K: Copy, T>(mut page: impl FnMut(Option<K>) -> Page<K, T>, out: &mut Vec<T>) {
    let mut after = None;
    loop {
        let p = page(after);
        out.extend(p.items);
        match p.next_after {
            Some(k) => after = Some(k),
            None => break,
        }
    }
}

impl Snapshot {
    fn read(core: &Core) -> Snapshot {
        let mut s = Snapshot {
            sites: core.sites().cloned().collect(),
            teams: core.teams().to_vec(),
            ..Snapshot::default()
        };
        all(|a| core.talkgroups(a, usize::MAX), &mut s.talkgroups);
        let mut radios = Vec::new();
        all(
            |a| core.radios(&RadioFilter::default(), a, usize::MAX),
            &mut radios,
        );
        s.radios = radios.iter().map(|r| core.radio_view(r)).collect();
        let unhandled = MessageFilter {
            direction: Some(Direction::Inbound),
            handled: Some(false),
            ..MessageFilter::default()
        };
        let mut messages = Vec::new();
        all(
            |b| core.messages_newest_first(&unhandled, b, usize::MAX),
            &mut messages,
        );
        s.messages = messages
            .iter()
            .rev()
            .map(|m| convert::message_in(core, m))
            .collect();
        all(
            |a| core.calls(CallFilter::Active, a, usize::MAX),
            &mut s.calls,
        );
        for state in [AlarmState::Raised, AlarmState::Acknowledged] {
            let filter = AlarmFilter { state: Some(state) };
            all(|a| core.alarms(filter, a, usize::MAX), &mut s.alarms);
        }
        s.alarms.sort_by_key(|a| a.id);
        let mut after = None;
        loop {
            let p = core.operations(after, usize::MAX);
            s.operations
                .extend(p.items.into_iter().filter(|o| !o.state.is_final()));
            match p.next_after {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        s
    }

    fn items(self) -> impl Iterator<Item = pb::SnapshotItem> {
        use pb::snapshot_item::Resource as R;
        let Snapshot {
            sites,
            teams,
            talkgroups,
            radios,
            calls,
            alarms,
            operations,
            messages,
        } = self;
        sites
            .into_iter()
            .map(|x| R::Site(convert::site(&x)))
            .chain(teams.into_iter().map(|x| R::Team(convert::team(&x))))
            .chain(
                talkgroups
                    .into_iter()
                    .map(|x| R::Talkgroup(convert::talkgroup(&x))),
            )
            .chain(radios.into_iter().map(|x| R::Radio(convert::radio(&x))))
            .chain(calls.into_iter().map(|x| R::Call(convert::call(&x))))
            .chain(alarms.into_iter().map(|x| R::Alarm(convert::alarm(&x))))
            .chain(
                operations
                    .into_iter()
                    .map(|x| R::Operation(convert::operation(&x))),
            )
            .chain(messages.into_iter().map(R::Message))
            .map(|r| pb::SnapshotItem { resource: Some(r) })
    }
}

/// Where a stream starts, resolved on its first poll.
enum Begin {
    /// Replay after this cursor (the subscription was made when the call was accepted).
    Resumed(EventStream),
    /// The current state first, then the events after it.
    Snapshot,
    /// The live tail.
    Tail,
}

/// The state of one WatchEvents stream. The stream is polled by the HTTP/2 response body
/// itself: no task or queue of its own sits between the hub's bounded queue and the
/// client's flow-control window, so a client that stops reading stops the polling, its hub
/// queue fills, and the hub cuts it.
struct Watch<B> {
    shared: Arc<Shared<B>>,
    filter: EventFilter,
    /// What the stream knows to match events to radios, talkgroups, sites and teams; only
    /// for a filter that asks about them.
    context: Option<Context>,
    begin: Option<Begin>,
    /// Messages to send before any event (the snapshot).
    ahead: Option<Box<dyn Iterator<Item = WatchFrame> + Send>>,
    events: Option<EventStream>,
    /// The cursor of the last event delivered or filtered out (for a watch from the tail or
    /// a snapshot, set when the stream begins, before anything is sent).
    last: Cursor,
    heartbeat: tokio::time::Interval,
    /// Whether anything was sent since the last heartbeat tick: the tick then sends none.
    /// (A flag rather than resetting the timer at every event, which costs a timer-wheel
    /// update per event per stream.)
    sent_since_tick: bool,
    /// Resolves when the server starts draining (made once, polled for every message).
    drain: futures::future::BoxFuture<'static, ()>,
    /// Holds one of `ApiConfig::max_watchers` places while the stream lives.
    _permit: tokio::sync::OwnedSemaphorePermit,
    done: bool,
}

impl<B: Backend> Watch<B> {
    /// Resolve where the stream starts: the snapshot or tail read and the subscription.
    async fn begin(&mut self, begin: Begin) -> Result<(), Status> {
        let subjects = self.filter.needs_subjects();
        let events = match begin {
            Begin::Resumed(events) => {
                if subjects {
                    self.context = Some(
                        self.shared
                            .backend
                            .read(|core, _| Context::read(core))
                            .await?,
                    );
                }
                events
            }
            Begin::Snapshot => {
                let (snapshot, context, c) = self
                    .shared
                    .backend
                    .read(move |core, c| {
                        (
                            Snapshot::read(core),
                            subjects.then(|| Context::read(core)),
                            c,
                        )
                    })
                    .await?;
                self.context = context;
                let done = pb::SnapshotComplete {
                    cursor: c.to_string(),
                };
                let items = snapshot
                    .items()
                    .map(|item| resp(pb::watch_events_response::Kind::Snapshot(item)))
                    .chain(std::iter::once(resp(
                        pb::watch_events_response::Kind::SnapshotComplete(done),
                    )));
                self.ahead = Some(Box::new(items));
                self.last = c;
                self.shared.backend.watch(WatchStart::After(c))?
            }
            Begin::Tail => {
                let (context, c) = self
                    .shared
                    .backend
                    .read(move |core, c| (subjects.then(|| Context::read(core)), c))
                    .await?;
                self.context = context;
                self.last = c;
                self.shared.backend.watch(WatchStart::After(c))?
            }
        };
        self.events = Some(events);
        Ok(())
    }

    /// The next message, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if let Some(begin) = self.begin.take()
            && let Err(e) = self.begin(begin).await
        {
            self.done = true;
            return Some(Err(e));
        }
        if let Some(ahead) = &mut self.ahead {
            if *self.shared.draining.borrow() {
                // Mid-snapshot no cursor resumes correctly: the client takes a new snapshot.
                self.done = true;
                return Some(Err(status(
                    tonic::Code::Unavailable,
                    "SHUTTING_DOWN",
                    "the server is shutting down during the snapshot; watch again with a snapshot",
                    &[],
                )));
            }
            match ahead.next() {
                Some(frame) => return Some(Ok(frame)),
                None => self.ahead = None,
            }
        }
        let events = self.events.as_mut()?;
        loop {
            let next = tokio::select! {
                biased;
                _ = &mut self.drain => {
                    self.done = true;
                    return Some(Err(draining(Some(self.last))));
                }
                item = events.next() => item,
                _ = self.heartbeat.tick() => {
                    if std::mem::take(&mut self.sent_since_tick) {
                        continue;
                    }
                    let hb = pb::Heartbeat {
                        cursor: self.last.to_string(),
                        time: Some(convert::timestamp(crate::dispatch::Timestamp(now_ms()))),
                    };
                    return Some(Ok(resp(pb::watch_events_response::Kind::Heartbeat(hb))));
                }
            };
            match next {
                Some(Ok(e)) => {
                    self.last = e.cursor();
                    let pass = match &mut self.context {
                        Some(context) => {
                            let pass = context.matches(&self.filter, &e.event.kind);
                            if matches!(e.event.kind, EventKind::DirectoryLoaded { .. }) {
                                // The core applied the directory before journaling returned:
                                // membership is read again after it.
                                match self.shared.backend.read(|core, _| Teams::read(core)).await {
                                    Ok(teams) => context.teams = teams,
                                    Err(e) => {
                                        self.done = true;
                                        return Some(Err(e.into()));
                                    }
                                }
                            }
                            pass
                        }
                        None => self.filter.matches(e.event.kind.name()),
                    };
                    if pass {
                        self.sent_since_tick = true;
                        return Some(Ok(WatchFrame::Encoded(e.wire().clone())));
                    }
                }
                Some(Err(end)) => {
                    self.done = true;
                    return Some(Err(end.into()));
                }
                None => {
                    self.done = true;
                    return Some(Err(status(
                        tonic::Code::Unavailable,
                        "WATCH_ENDED",
                        format!("the event feed ended; resume after cursor {}", self.last),
                        &[("resume_cursor", self.last.to_string())],
                    )));
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<B: Backend> Api<B> {
    /// `WatchEvents`: validate, take a watcher place, subscribe when resuming (so
    /// OUT_OF_RANGE and JOURNAL_MISMATCH are the call's own status), and answer with the
    /// stream.
    pub(crate) fn watch_events(
        &self,
        req: pb::WatchEventsRequest,
    ) -> Result<impl futures::Stream<Item = Item> + Send + 'static, Status> {
        let filter = EventFilter::parse(&req.filter)?;
        let cursor = request_cursor(&req)?;
        let journal = self.shared.backend.journal();
        if let Some(c) = cursor
            && c.journal != journal
        {
            return Err(WatchError::OtherJournal { cursor: c, journal }.into());
        }
        if *self.shared.draining.borrow() {
            return Err(draining(cursor));
        }
        let permit = self
            .shared
            .watchers
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                status(
                    tonic::Code::ResourceExhausted,
                    "TOO_MANY_WATCHERS",
                    "too many event watchers",
                    &[("limit", self.shared.config.max_watchers.to_string())],
                )
            })?;
        let begin = match cursor {
            Some(c) => Begin::Resumed(self.shared.backend.watch(WatchStart::After(c))?),
            None if req.snapshot => Begin::Snapshot,
            None => Begin::Tail,
        };
        let period = self.shared.config.heartbeat;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watch = Watch {
            shared: self.shared.clone(),
            filter,
            context: None,
            begin: Some(begin),
            ahead: None,
            events: None,
            last: cursor.unwrap_or(Cursor::new(journal, 0)),
            heartbeat,
            sent_since_tick: false,
            drain: {
                let mut draining = self.shared.draining.clone();
                Box::pin(async move { drained(&mut draining).await })
            },
            _permit: permit,
            done: false,
        };
        Ok(futures::stream::unfold(watch, |mut w| async move {
            let item = w.next().await?;
            Some((item, w))
        }))
    }
}

/// The request's resume cursor: `None` for an empty `cursor`; INVALID_ARGUMENT naming the
/// field for a malformed one or for the numeric `legacy_cursor`.
fn request_cursor(req: &pb::WatchEventsRequest) -> Result<Option<Cursor>, Status> {
    if let Some(n) = req.legacy_cursor {
        return Err(invalid_argument(
            "legacy_cursor",
            format!(
                "numeric cursor {n} names no journal and is no longer accepted; resume with the \
                 string `cursor` the server handed out (`<journal>.<seq>`), or watch with a snapshot"
            ),
        ));
    }
    if req.cursor.is_empty() {
        return Ok(None);
    }
    req.cursor.parse().map(Some).map_err(|e| {
        // The value is echoed only when short enough to be a cursor.
        let shown = if req.cursor.len() <= Cursor::MAX_TEXT_LEN {
            format!("{:?}: ", req.cursor)
        } else {
            String::new()
        };
        invalid_argument("cursor", format!("{shown}{e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalId;

    #[test]
    fn filters_match_names_and_prefixes() {
        let f = EventFilter::parse("type = alarm_* OR type=operation_succeeded").unwrap();
        assert!(!f.needs_subjects());
        assert!(f.matches("alarm_raised"));
        assert!(f.matches("operation_succeeded"));
        assert!(!f.matches("operation_refused"));
        assert!(!f.matches("radio_heard"));
        assert!(EventFilter::parse("").unwrap().matches("radio_heard"));
        assert!(EventFilter::parse("type=*").unwrap().matches("radio_heard"));
        assert!(
            EventFilter::parse("-type=radio_*")
                .unwrap()
                .matches("call_started")
        );
        for bad in [
            "site=x",
            "type=",
            "kind=alarm_raised",
            "type=a b=c",
            "radio=radios/01",
            "radio=radios/ 1",
        ] {
            let e = EventFilter::parse(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
        }
        let e = EventFilter::parse("type = alarm_* OR").unwrap_err();
        assert!(e.message().contains("column 18"), "{}", e.message());
        let many = vec!["type=a"; crate::api::filter::MAX_RESTRICTIONS + 1].join(" OR ");
        assert!(EventFilter::parse(&many).is_err());
    }

    fn r(n: u32) -> RadioId {
        RadioId::new(n).unwrap()
    }

    fn tg(n: u32) -> TalkgroupId {
        TalkgroupId::new(n).unwrap()
    }

    #[test]
    fn subjects_follow_calls_alarms_operations_and_teams() {
        use crate::dispatch::CallEndReason;
        use crate::link::Slot;
        let mut ctx = Context::default();
        ctx.teams
            .by_radio
            .insert(r(1), vec![convert::team_name("qingshan")]);
        ctx.teams
            .by_talkgroup
            .insert(tg(9), vec![convert::team_name("qingshan")]);
        let team0 = EventFilter::parse("team = teams/qingshan").unwrap();
        assert!(team0.needs_subjects());
        let site = SiteId::new("s");
        // A call on the team's talkgroup, talked on by a radio of no team.
        let start = EventKind::CallStarted {
            call: CallId(5),
            target: Addressee::Talkgroup(tg(9)),
            site: site.clone(),
            slot: Slot::One,
            talker: Some(r(2)),
            emergency: false,
            privacy: false,
        };
        assert!(ctx.matches(&team0, &start));
        let by_radio = EventFilter::parse("radio = radios/#2 AND type = call_*").unwrap();
        let activity = EventKind::CallActivity { call: CallId(5) };
        assert!(
            ctx.matches(&by_radio, &activity),
            "the call remembers its talker"
        );
        let talker = EventKind::CallTalkerChanged {
            call: CallId(5),
            talker: r(3),
        };
        let by_3 = EventFilter::parse("radio = radios/#3").unwrap();
        assert!(ctx.matches(&by_3, &talker));
        let end = EventKind::CallEnded {
            call: CallId(5),
            reason: CallEndReason::Idle,
        };
        assert!(ctx.matches(&by_3, &end), "the end concerns every talker");
        assert!(
            !ctx.calls.contains_key(&CallId(5)),
            "forgotten after its end"
        );
        // A radio heard: of team 0 or not.
        let heard = |radio| EventKind::RadioHeard {
            radio,
            site: site.clone(),
            slot: Slot::One,
            rssi_dbm: None,
        };
        assert!(ctx.matches(&team0, &heard(r(1))));
        assert!(!ctx.matches(&team0, &heard(r(2))));
        let not_team = EventFilter::parse("team != teams/qingshan").unwrap();
        assert!(ctx.matches(&not_team, &heard(r(2))));
        let by_site = EventFilter::parse("site = sites/s").unwrap();
        assert!(ctx.matches(&by_site, &heard(r(2))));
        // An event about no radio, talkgroup or site passes no subject filter.
        assert!(!ctx.matches(&team0, &EventKind::GatewayRestarted));
        // Alarms: the ack and the resolve concern the alarm's radio.
        let raised = EventKind::AlarmRaised {
            alarm: AlarmId(1),
            radio: r(1),
            talkgroup: None,
            site: site.clone(),
        };
        assert!(ctx.matches(&team0, &raised));
        let ack = EventKind::AlarmAcknowledged {
            alarm: AlarmId(1),
            operator: "x".into(),
            operation: Some(OperationId(4)),
        };
        assert!(ctx.matches(&team0, &ack));
        let queued = EventKind::OperationQueued {
            operation: OperationId(4),
            site: site.clone(),
        };
        assert!(
            ctx.matches(&team0, &queued),
            "the ack operation concerns the radio"
        );
        // Group traffic's per-site outcomes concern the operation's subjects too.
        let site_sent = |operation| EventKind::OperationSiteSent {
            operation,
            site: SiteId::new("s2"),
            sent_at: crate::dispatch::Timestamp(1),
        };
        assert!(ctx.matches(&team0, &site_sent(OperationId(4))));
        assert!(!ctx.matches(&team0, &site_sent(OperationId(99))));
        let failed = EventKind::OperationSiteFailed {
            operation: OperationId(4),
            site: SiteId::new("s3"),
            state: crate::dispatch::DeliveryState::LinkDown,
        };
        assert!(ctx.matches(&team0, &failed));
        let by_s3 = EventFilter::parse("site = sites/s3").unwrap();
        assert!(ctx.matches(&by_s3, &failed));
        let resolved = EventKind::AlarmResolved {
            alarm: AlarmId(1),
            operator: "x".into(),
        };
        assert!(ctx.matches(&team0, &resolved));
        assert!(!ctx.matches(&team0, &resolved), "forgotten after resolve");
    }

    #[test]
    fn message_marks_concern_what_their_message_concerns() {
        use crate::dispatch::{MessageBody, MessageId};
        let mut ctx = Context::default();
        ctx.teams
            .by_talkgroup
            .insert(tg(9), vec![convert::team_name("qingshan")]);
        let team = EventFilter::parse("team = teams/qingshan").unwrap();
        let by_tg = EventFilter::parse("talkgroup = talkgroups/#9").unwrap();
        let sent = EventKind::MessageSent {
            message: Message {
                id: MessageId(3),
                direction: Direction::Outbound,
                source: None,
                to: Addressee::Talkgroup(tg(9)),
                site: SiteId::new("s"),
                at: crate::dispatch::Timestamp(1),
                body: MessageBody::Text {
                    text: "集合".into(),
                },
                operator: Some("x".into()),
                operation: Some(OperationId(1)),
                read: None,
                handled: None,
            },
        };
        assert!(ctx.matches(&team, &sent));
        let handled = EventKind::MessageHandled {
            message: MessageId(3),
            operator: "x".into(),
        };
        assert!(
            ctx.matches(&team, &handled),
            "the mark names only its message"
        );
        assert!(ctx.matches(&by_tg, &handled));
        let other = EventKind::MessageRead {
            message: MessageId(4),
            operator: "x".into(),
        };
        assert!(
            !ctx.matches(&team, &other),
            "an unknown message concerns nothing"
        );
    }

    #[test]
    fn data_received_concerns_its_sender_and_site() {
        let mut ctx = Context::default();
        let data = EventKind::DataReceived {
            radio: r(7),
            site: SiteId::new("s"),
            data: crate::dispatch::ReceivedData {
                destination: 1,
                group: false,
                sap: 4,
                source_port: None,
                destination_port: None,
                payload: vec![1],
                truncated: 0,
            },
        };
        for (filter, matches) in [
            ("radio = radios/#7", true),
            ("radio = radios/#8", false),
            ("site = sites/s", true),
            ("site = sites/t", false),
        ] {
            let f = EventFilter::parse(filter).unwrap();
            assert_eq!(ctx.matches(&f, &data), matches, "{filter}");
        }
    }

    #[test]
    fn remembered_subjects_are_bounded() {
        let mut ctx = Context::default();
        for n in 0..(MAX_REMEMBERED as u64 + 10) {
            ctx.subjects(&EventKind::AlarmRaised {
                alarm: AlarmId(n),
                radio: r(1),
                talkgroup: None,
                site: SiteId::new("s"),
            });
        }
        assert_eq!(ctx.alarms.len(), MAX_REMEMBERED);
        assert!(
            !ctx.alarms.contains_key(&AlarmId(0)),
            "oldest forgotten first"
        );
    }

    fn site_event(seq: u64) -> crate::api::backend::JournaledEvent {
        crate::api::backend::JournaledEvent::new(
            Cursor::new(JournalId::from_bytes([5; 16]), seq),
            crate::dispatch::Event {
                at: crate::dispatch::Timestamp(1_000 + seq),
                kind: crate::dispatch::EventKind::SiteLinkChanged {
                    site: crate::dispatch::SiteId::new(&format!("s{seq}")),
                    up: seq.is_multiple_of(2),
                },
            },
        )
    }

    #[test]
    fn the_shared_wire_form_is_the_converted_event() {
        use prost::Message;
        let e = site_event(7);
        let bytes = e.wire().clone();
        let decoded = pb::WatchEventsResponse::decode(bytes.as_ref()).unwrap();
        let want = convert::event(e.cursor(), &e.event);
        // the filter reads the core's name; the client reads `type`: the same string
        assert_eq!(want.r#type, e.event.kind.name());
        assert_eq!(
            decoded.kind,
            Some(pb::watch_events_response::Kind::Event(want))
        );
        // made once: a second call (another stream) gets the same buffer
        assert_eq!(e.wire().as_ptr(), bytes.as_ptr());
    }
}
