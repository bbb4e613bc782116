//! Call-out scenarios for the dispatch core, with explicit times (docs/callouts.md).
//!
//! A small scripted air stands in for the links and radios: every `Output::Transmit` is
//! reported sent after its air time (`AirMessage::air_time_ms`), the addressed radios that
//! are "alive" acknowledge individual messages and radio checks 500 ms later, and radios
//! with a scripted reply send a status some time after they first received the call-out
//! (by group or individually). Every scenario ends by folding the events it produced onto
//! a fresh core and comparing with the live state.

use std::collections::{BTreeMap, BTreeSet};

use trunkgate::app::driver::{encode_snapshot, rebuild};
use trunkgate::dispatch::{
    Addressee, AirEvent, AirInput, AirMessage, AirProfile, Answer, AnswerPolicy, Callout,
    CalloutId, CalloutMessage, CalloutSpec, CalloutState, Command, Config, Core, Directory,
    DirectoryRadio, DirectorySite, DirectoryTalkgroup, DirectoryTeam, DispatchError, Escalation,
    Event, EventKind, Input, MemberState, NotReachable, OtaCommand, Output, RadioId, Reply,
    Request, Service, SiteId, TalkgroupId, TeamLevel, TeamSpec, Timestamp,
};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::journal::{Entry, Journal, UnixMillis};
use trunkgate::link::Slot;

const S1: &str = "青山站";
const S2: &str = "石门站";
const RECEIVED: u16 = 1;
const ON_MY_WAY: u16 = 2;
const UNAVAILABLE: u16 = 9;

fn radio(dial: &str) -> RadioId {
    dial.parse().expect("test dial number")
}
fn g1() -> TalkgroupId {
    "80020901".parse().expect("group")
}
/// Qingshan: leader and three members, two on each site, sharing talkgroup G1.
fn leader() -> RadioId {
    radio("80020200")
}
fn m1() -> RadioId {
    radio("80020201")
}
fn m2() -> RadioId {
    radio("80020202")
}
fn m3() -> RadioId {
    radio("80020203")
}
/// Shimen (backup of Qingshan, no talkgroup): leader and one member on S2.
fn b1() -> RadioId {
    radio("80020210")
}
fn b2() -> RadioId {
    radio("80020211")
}
fn dispatcher() -> RadioId {
    RadioId::new(0xFF_FECB).expect("24 bits")
}

fn qingshan() -> Vec<RadioId> {
    vec![leader(), m1(), m2(), m3()]
}

/// The core and a scripted air around it.
struct World {
    core: Core,
    events: Vec<Event>,
    now: u64,
    agenda: BTreeMap<(u64, u64), Input>,
    seq: u64,
    /// Where each radio registered.
    sites: BTreeMap<RadioId, &'static str>,
    /// Radios that acknowledge what is sent to them.
    alive: BTreeSet<RadioId>,
    /// Radios that acknowledge everything but texts.
    text_deaf: BTreeSet<RadioId>,
    /// Radios that reply with a status this long after first receiving the call-out.
    replies: BTreeMap<RadioId, (u64, u16)>,
    replied: BTreeSet<RadioId>,
    /// Every transmission: (time handed over, site, message).
    sent: Vec<(u64, SiteId, AirMessage)>,
    token: u64,
    baisha: Vec<RadioId>,
}

fn g2() -> TalkgroupId {
    "80020902".parse().expect("group")
}

/// Baisha village squad: `n` members, all on S1, sharing talkgroup G2.
fn baisha(n: usize) -> Vec<RadioId> {
    (0..n)
        .map(|k| radio(&format!("8002{:04}", 300 + k)))
        .collect()
}

impl World {
    fn new() -> World {
        World::with_baisha(0)
    }

    fn with_baisha(n: usize) -> World {
        let mut w = World {
            core: Core::new(Config::default()),
            events: Vec::new(),
            now: 0,
            agenda: BTreeMap::new(),
            seq: 0,
            sites: BTreeMap::new(),
            alive: BTreeSet::new(),
            text_deaf: BTreeSet::new(),
            replies: BTreeMap::new(),
            replied: BTreeSet::new(),
            sent: Vec::new(),
            token: 0,
            baisha: baisha(n),
        };
        let names = [
            (leader(), "周涛"),
            (m1(), "吴刚"),
            (m2(), "徐斌"),
            (m3(), "孙杰"),
            (b1(), "胡军"),
            (b2(), "郭亮"),
        ];
        let site = |id: &str| DirectorySite {
            id: SiteId::new(id),
            display_name: None,
            profile: AirProfile::Pdt,
            air: Default::default(),
        };
        w.input(Input::Directory(Directory {
            radios: names
                .iter()
                .map(|(id, n)| DirectoryRadio {
                    id: *id,
                    name: Some((*n).into()),
                })
                .collect(),
            talkgroups: vec![
                DirectoryTalkgroup {
                    id: g1(),
                    name: Some("青山镇应急分队".into()),
                    slot: None,
                    sites: Vec::new(),
                },
                DirectoryTalkgroup {
                    id: g2(),
                    name: Some("白沙村应急小分队".into()),
                    slot: None,
                    sites: Vec::new(),
                },
            ],
            sites: vec![site(S1), site(S2)],
            teams: vec![
                DirectoryTeam {
                    key: "qingshan".into(),
                    name: "青山镇应急分队".into(),
                    radios: qingshan(),
                    talkgroup: Some(g1()),
                    level: Some(TeamLevel::Township),
                    leaders: vec![leader()],
                    backups: vec!["shimen".into()],
                    home: None,
                },
                DirectoryTeam {
                    key: "shimen".into(),
                    name: "石门乡应急分队".into(),
                    radios: vec![b1(), b2()],
                    talkgroup: None,
                    level: Some(TeamLevel::Township),
                    leaders: vec![b1()],
                    backups: Vec::new(),
                    home: None,
                },
                DirectoryTeam {
                    key: "baisha".into(),
                    name: "白沙村应急小分队".into(),
                    radios: baisha(n),
                    talkgroup: Some(g2()),
                    level: Some(TeamLevel::Village),
                    leaders: baisha(n).into_iter().take(1).collect(),
                    backups: Vec::new(),
                    home: None,
                },
            ],
        }));
        w.input(Input::SiteUp {
            site: SiteId::new(S1),
        });
        w.input(Input::SiteUp {
            site: SiteId::new(S2),
        });
        for (r, s) in [
            (leader(), S1),
            (m1(), S1),
            (m2(), S2),
            (m3(), S2),
            (b1(), S2),
            (b2(), S2),
        ] {
            w.register(r, s);
            w.alive.insert(r);
        }
        for r in baisha(n) {
            w.register(r, S1);
            w.alive.insert(r);
        }
        w
    }

    fn air(&mut self, site: &str, event: AirEvent) {
        self.input(Input::Air(AirInput {
            site: SiteId::new(site),
            slot: Slot::One,
            rssi_dbm: Some(-85),
            event,
        }));
    }

    fn register(&mut self, r: RadioId, site: &'static str) {
        self.sites.insert(r, site);
        self.air(site, AirEvent::Registered { radio: r });
    }

    /// Handle one input now; script the air's answers to what the core transmits.
    fn input(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.core.handle(Timestamp(self.now), input, &mut out);
        for o in &out {
            match o {
                Output::Event(e) => self.events.push(e.clone()),
                Output::Transmit {
                    site,
                    slot,
                    message,
                    operation,
                    attempt,
                    ..
                } => {
                    self.sent.push((self.now, site.clone(), message.clone()));
                    let sent_at = self.now + message.air_time_ms();
                    self.at(
                        sent_at,
                        Input::TransmissionSent {
                            operation: *operation,
                            attempt: *attempt,
                            site: site.clone(),
                            slot: *slot,
                            at: Timestamp(sent_at),
                        },
                    );
                    self.receive(sent_at, site, message);
                }
                Output::Reply { .. } => {}
            }
        }
        out
    }

    /// The radios that hear `message` on `site` at `t` answer as scripted.
    fn receive(&mut self, t: u64, site: &SiteId, message: &AirMessage) {
        let (hearers, service): (Vec<RadioId>, Option<Service>) = match message {
            AirMessage::Text { to, .. } | AirMessage::Status { to, .. } => {
                let service = match message {
                    AirMessage::Text { .. } => Service::Text,
                    _ => Service::Status,
                };
                match to {
                    Addressee::Radio(r) => (vec![*r], Some(service)),
                    Addressee::Talkgroup(g) if *g == g1() => (qingshan(), None),
                    Addressee::Talkgroup(g) if *g == g2() => (self.baisha.clone(), None),
                    Addressee::Talkgroup(_) => (Vec::new(), None),
                }
            }
            AirMessage::RadioCheck { radio } => (vec![*radio], Some(Service::RadioCheck)),
            AirMessage::Stun { radio } => (vec![*radio], Some(Service::Stun)),
            _ => (Vec::new(), None),
        };
        for r in hearers {
            let here = self.sites.get(&r).is_some_and(|s| SiteId::new(s) == *site);
            if !here || !self.alive.contains(&r) {
                continue;
            }
            let s = self.sites[&r];
            let deaf = service == Some(Service::Text) && self.text_deaf.contains(&r);
            if let Some(service) = service.filter(|_| !deaf) {
                self.at(
                    t + 500,
                    air_input(
                        s,
                        AirEvent::Answer {
                            radio: r,
                            service: Some(service),
                            answer: Answer::Accepted,
                        },
                    ),
                );
            }
            let callout = matches!(message, AirMessage::Text { .. } | AirMessage::Status { .. });
            if callout
                && !self.replied.contains(&r)
                && let Some(&(delay, status)) = self.replies.get(&r)
            {
                self.replied.insert(r);
                self.reply_at(t + delay, r, status);
            }
        }
    }

    fn reply_at(&mut self, t: u64, r: RadioId, status: u16) {
        let s = self.sites[&r];
        self.at(
            t,
            air_input(
                s,
                AirEvent::Status {
                    source: r,
                    to: Addressee::Radio(dispatcher()),
                    status,
                },
            ),
        );
    }

    fn at(&mut self, t: u64, input: Input) {
        self.seq += 1;
        self.agenda.insert((t, self.seq), input);
    }

    /// Run the agenda and the core's timers up to `until`.
    fn run_until(&mut self, until: u64) {
        let mut same = 0;
        loop {
            let next_input = self.agenda.keys().next().map(|k| k.0);
            let deadline = self.core.next_deadline().map(|t| t.0.max(self.now));
            let next = match (next_input, deadline) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            same = if next == self.now { same + 1 } else { 0 };
            assert!(same < 1_000, "the core keeps asking for a tick at {next}");
            self.now = next;
            if next_input == Some(next) {
                let key = *self.agenda.keys().next().expect("checked above");
                let input = self.agenda.remove(&key).expect("key just read");
                self.input(input);
            } else {
                self.input(Input::Tick);
            }
        }
        self.now = self.now.max(until);
    }

    fn command(&mut self, command: Command) -> Result<Reply, DispatchError> {
        self.token += 1;
        let token = self.token;
        let out = self.input(Input::Command {
            token,
            request: Request {
                request_id: None,
                operator: Some("值班员".into()),
                // Stun needs a reason; the others keep it with the operation.
                reason: Some("scenario".into()),
                client: None,
                command,
            },
        });
        out.into_iter()
            .find_map(|o| match o {
                Output::Reply { token: t, result } if t == token => Some(result),
                _ => None,
            })
            .expect("every command is answered")
    }

    fn start(&mut self, spec: CalloutSpec) -> CalloutId {
        match self.command(Command::StartCallout(Box::new(spec))) {
            Ok(Reply::Callout(c)) => c.id,
            other => panic!("start refused: {other:?}"),
        }
    }

    fn callout(&self, id: CalloutId) -> Callout {
        self.core.callout(id).cloned().expect("call-out kept")
    }

    fn state_of(&self, id: CalloutId, r: RadioId) -> MemberState {
        self.callout(id).member(r).expect("member").state
    }

    /// Individual transmissions of the call-out message to `r`.
    fn individual_to(&self, r: RadioId) -> usize {
        self.sent
            .iter()
            .filter(|(_, _, m)| {
                matches!(m, AirMessage::Text { to: Addressee::Radio(x), .. } if *x == r)
            })
            .count()
    }

    fn group_sends(&self) -> Vec<SiteId> {
        self.sent
            .iter()
            .filter(|(_, _, m)| {
                matches!(
                    m,
                    AirMessage::Text {
                        to: Addressee::Talkgroup(_),
                        ..
                    }
                )
            })
            .map(|(_, s, _)| s.clone())
            .collect()
    }

    fn event_names(&self, id: CalloutId) -> Vec<&'static str> {
        self.events
            .iter()
            .filter(|e| match &e.kind {
                EventKind::CalloutStarted { callout } => callout.id == id,
                EventKind::CalloutFinished { callout, .. }
                | EventKind::CalloutEscalated { callout, .. }
                | EventKind::CalloutGroupQueued { callout, .. } => *callout == id,
                _ => false,
            })
            .map(|e| e.kind.name())
            .collect()
    }

    /// The events fold into exactly the live state.
    fn check_replay(&self) {
        let mut fresh = Core::new(Config::default());
        for e in &self.events {
            fresh.apply(e);
        }
        assert_eq!(
            fresh.snapshot(),
            self.core.snapshot(),
            "replay differs from live"
        );
    }
}

fn air_input(site: &str, event: AirEvent) -> Input {
    Input::Air(AirInput {
        site: SiteId::new(site),
        slot: Slot::One,
        rssi_dbm: Some(-85),
        event,
    })
}

fn spec(teams: &[&str]) -> CalloutSpec {
    CalloutSpec {
        title: "山洪预警".into(),
        teams: teams.iter().map(|t| t.to_string()).collect(),
        roles: Vec::new(),
        radios: Vec::new(),
        message: CalloutMessage::Text {
            text: "山洪预警，立即到村委会集合".into(),
        },
        answers: AnswerPolicy {
            statuses: vec![RECEIVED, ON_MY_WAY],
            declines: vec![UNAVAILABLE],
            any_text: true,
        },
        deadline_ms: 600_000,
        escalation: Escalation::default(),
        followup_delay_ms: 10_000,
    }
}

const T0: u64 = 10_000;

#[test]
fn everyone_answers_the_group_alert_and_no_individual_transmission_is_needed() {
    let mut w = World::new();
    w.run_until(T0);
    for (i, r) in qingshan().into_iter().enumerate() {
        w.replies.insert(r, (2_000 + 500 * i as u64, ON_MY_WAY));
    }
    let id = w.start(spec(&["qingshan"]));
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Running);
    assert_eq!(c.members.len(), 4);
    assert!(c.members.iter().all(|m| m.state == MemberState::Queued));
    assert_eq!(c.groups.len(), 1, "one group transmission for the team");
    w.run_until(T0 + 60_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Satisfied);
    for m in &c.members {
        assert_eq!(m.state, MemberState::Answered, "{:?}", m.radio);
        assert!(m.alerted_at.is_some(), "alerted by the group transmission");
        assert!(m.delivered_at.is_some(), "a reply is the radio's own word");
    }
    // One group transmission per site where members are, nothing individual.
    let mut sites = w.group_sends();
    sites.sort();
    let mut want = vec![SiteId::new(S1), SiteId::new(S2)];
    want.sort();
    assert_eq!(sites, want);
    for r in qingshan() {
        assert_eq!(w.individual_to(r), 0, "{r:?} answered before its follow-up");
    }
    assert_eq!(
        w.event_names(id),
        vec![
            "callout_started",
            "callout_group_queued",
            "callout_finished"
        ]
    );
    w.check_replay();
}

#[test]
fn a_quorum_answers_and_the_rest_are_followed_up_until_satisfied() {
    let mut w = World::new();
    w.run_until(T0);
    w.replies.insert(leader(), (1_000, RECEIVED));
    w.replies.insert(m2(), (20_000, ON_MY_WAY));
    // m3's radio never acknowledges anything: it ends unreachable after retries and a check.
    w.alive.remove(&m3());
    let mut s = spec(&["qingshan"]);
    s.escalation.min_answers = 2;
    s.escalation.required_roles = vec![trunkgate::dispatch::TeamRole::Leader];
    let id = w.start(s);
    w.run_until(T0 + 15_000);
    assert_eq!(w.state_of(id, leader()), MemberState::Answered);
    // m1 did not answer within the follow-up delay: sent to and acknowledged.
    assert_eq!(w.state_of(id, m1()), MemberState::Delivered);
    assert_eq!(w.individual_to(m1()), 1);
    assert_eq!(w.individual_to(leader()), 0);
    w.run_until(T0 + 25_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Satisfied, "leader and m2 answered");
    assert_eq!(w.state_of(id, m2()), MemberState::Answered);
    w.run_until(T0 + 120_000);
    // Finished: m3's silent radio is not chased further once satisfied, and no backup was
    // called.
    let c = w.callout(id);
    assert!(c.backups_called.is_empty());
    assert!(!c.members.iter().any(|m| m.backup));
    w.check_replay();
}

#[test]
fn a_silent_radio_is_retried_checked_and_marked_unreachable() {
    let mut w = World::new();
    w.run_until(T0);
    w.alive.remove(&m3());
    let mut s = spec(&["qingshan"]);
    s.followup_delay_ms = 0;
    s.deadline_ms = 300_000;
    let id = w.start(s);
    w.run_until(T0 + 200_000);
    let c = w.callout(id);
    let m = c.member(m3()).expect("member");
    assert_eq!(m.state, MemberState::Unreachable);
    assert!(m.check.is_some(), "a radio check was sent");
    // 3 attempts of the message (the operation's retries), then the check (3 attempts).
    assert_eq!(w.individual_to(m3()), 3);
    let checks = w
        .sent
        .iter()
        .filter(|(_, _, msg)| matches!(msg, AirMessage::RadioCheck { radio } if *radio == m3()))
        .count();
    assert_eq!(checks, 3);
    // The others acknowledged their follow-ups.
    for r in [leader(), m1(), m2()] {
        assert_eq!(w.state_of(id, r), MemberState::Delivered, "{r:?}");
    }
    w.check_replay();
}

#[test]
fn nobody_answers_and_the_backup_team_is_called() {
    let mut w = World::new();
    w.run_until(T0);
    w.replies.insert(b1(), (3_000, ON_MY_WAY));
    w.replies.insert(b2(), (4_000, RECEIVED));
    let mut s = spec(&["qingshan"]);
    s.escalation.min_answers = 2;
    s.escalation.backup_after_ms = Some(60_000);
    let id = w.start(s);
    w.run_until(T0 + 59_000);
    assert_eq!(w.callout(id).state, CalloutState::Running);
    w.run_until(T0 + 61_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Escalated);
    assert_eq!(c.backups_called, vec!["shimen".to_string()]);
    assert_eq!(c.escalated_at, Some(Timestamp(T0 + 60_000)));
    let backups: Vec<RadioId> = c
        .members
        .iter()
        .filter(|m| m.backup)
        .map(|m| m.radio)
        .collect();
    assert_eq!(backups, vec![b1(), b2()]);
    w.run_until(T0 + 90_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Satisfied);
    assert_eq!(w.state_of(id, b1()), MemberState::Answered);
    assert_eq!(w.state_of(id, b2()), MemberState::Answered);
    // Shimen has no talkgroup: its members were sent to one by one.
    assert_eq!(w.individual_to(b1()), 1);
    assert_eq!(
        w.event_names(id),
        vec![
            "callout_started",
            "callout_group_queued",
            "callout_escalated",
            "callout_finished"
        ]
    );
    w.check_replay();
}

#[test]
fn a_decline_makes_everyone_impossible_and_escalates_at_once() {
    let mut w = World::new();
    w.run_until(T0);
    w.replies.insert(m2(), (1_500, UNAVAILABLE));
    let id = w.start(spec(&["qingshan"]));
    w.run_until(T0 + 5_000);
    let c = w.callout(id);
    let m = c.member(m2()).expect("member");
    assert_eq!(m.state, MemberState::Declined);
    assert_eq!(
        m.reply,
        Some(trunkgate::dispatch::CalloutReply::Status {
            status: UNAVAILABLE
        })
    );
    // Every member must answer (min_answers 0), so one decline calls the backups at once.
    assert_eq!(c.state, CalloutState::Escalated);
    let replied = w.events.iter().find_map(|e| match &e.kind {
        EventKind::CalloutReplied {
            radio, callouts, ..
        } if *radio == m2() => Some(callouts.clone()),
        _ => None,
    });
    assert_eq!(
        replied,
        Some(vec![id]),
        "the reply names the call-out it counted for"
    );
    w.check_replay();
}

#[test]
fn a_member_who_deregisters_is_not_reachable_until_it_registers_again() {
    let mut w = World::new();
    w.run_until(T0);
    let mut s = spec(&["qingshan"]);
    s.followup_delay_ms = 20_000;
    let id = w.start(s);
    w.run_until(T0 + 5_000);
    assert_eq!(w.state_of(id, m3()), MemberState::Alerted);
    w.air(S2, AirEvent::Deregistered { radio: m3() });
    let c = w.callout(id);
    let m = c.member(m3()).expect("member");
    assert_eq!(m.state, MemberState::NotReachable);
    assert_eq!(m.reason, Some(NotReachable::Deregistered));
    w.run_until(T0 + 40_000);
    assert_eq!(
        w.individual_to(m3()),
        0,
        "nothing is sent to a deregistered radio"
    );
    assert_eq!(w.state_of(id, m1()), MemberState::Delivered);
    w.now = T0 + 40_000;
    w.register(m3(), S2);
    assert_eq!(w.state_of(id, m3()), MemberState::Queued);
    w.run_until(T0 + 50_000);
    assert_eq!(w.state_of(id, m3()), MemberState::Delivered);
    assert_eq!(w.individual_to(m3()), 1);
    w.check_replay();
}

#[test]
fn a_stunned_member_is_not_reachable_and_not_sent_to() {
    let mut w = World::new();
    w.run_until(T0);
    let Ok(Reply::Operation(_)) = w.command(Command::Ota(OtaCommand::Stun { radio: m2() })) else {
        panic!("stun refused");
    };
    w.run_until(T0 + 3_000);
    let mut s = spec(&["qingshan"]);
    s.followup_delay_ms = 0;
    let id = w.start(s);
    let c = w.callout(id);
    let m = c.member(m2()).expect("member");
    assert_eq!(m.state, MemberState::NotReachable);
    assert_eq!(m.reason, Some(NotReachable::Stunned));
    w.run_until(T0 + 30_000);
    assert_eq!(w.state_of(id, m2()), MemberState::NotReachable);
    assert_eq!(w.individual_to(m2()), 0);
    assert_eq!(w.state_of(id, m3()), MemberState::Delivered);
    w.check_replay();
}

#[test]
fn the_dispatcher_cancels_and_later_replies_no_longer_count() {
    let mut w = World::new();
    w.run_until(T0);
    w.replies.insert(m1(), (30_000, ON_MY_WAY));
    let id = w.start(spec(&["qingshan"]));
    w.run_until(T0 + 5_000);
    let Ok(Reply::Callout(c)) = w.command(Command::CancelCallout { callout: id }) else {
        panic!("cancel refused");
    };
    assert_eq!(c.state, CalloutState::Cancelled);
    assert_eq!(c.cancelled_by.as_deref(), Some("值班员"));
    w.run_until(T0 + 60_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Cancelled);
    assert_eq!(c.member(m1()).expect("member").reply, None);
    assert!(
        !w.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::CalloutReplied { .. }))
    );
    for r in qingshan() {
        assert_eq!(w.individual_to(r), 0, "follow-ups were never sent");
    }
    assert_eq!(
        w.command(Command::CancelCallout { callout: id }),
        Err(DispatchError::CalloutFinished {
            callout: id,
            state: CalloutState::Cancelled
        })
    );
    w.check_replay();
}

#[test]
fn a_reply_counts_for_every_running_call_out_waiting_for_the_member() {
    let mut w = World::new();
    w.run_until(T0);
    let a = w.start(spec(&["qingshan"]));
    let mut leaders = spec(&["qingshan", "shimen"]);
    leaders.roles = vec![trunkgate::dispatch::TeamRole::Leader];
    let b = w.start(leaders);
    assert_eq!(
        w.callout(b)
            .members
            .iter()
            .map(|m| m.radio)
            .collect::<Vec<_>>(),
        vec![leader(), b1()]
    );
    assert!(
        w.callout(b).groups.is_empty(),
        "leaders only: no group transmission"
    );
    w.run_until(T0 + 3_000);
    w.reply_at(T0 + 4_000, leader(), RECEIVED);
    w.run_until(T0 + 5_000);
    assert_eq!(w.state_of(a, leader()), MemberState::Answered);
    assert_eq!(w.state_of(b, leader()), MemberState::Answered);
    let replied = w.events.iter().find_map(|e| match &e.kind {
        EventKind::CalloutReplied { callouts, .. } => Some(callouts.clone()),
        _ => None,
    });
    assert_eq!(replied, Some(vec![a, b]));
    w.check_replay();
}

#[test]
fn requests_that_cannot_apply_are_refused_with_the_field() {
    let mut w = World::new();
    let mut s = spec(&["nobody"]);
    assert_eq!(
        w.command(Command::StartCallout(Box::new(s.clone()))),
        Err(DispatchError::UnknownTeam("nobody".into()))
    );
    s.teams = vec!["qingshan".into()];
    s.deadline_ms = 5;
    assert!(matches!(
        w.command(Command::StartCallout(Box::new(s.clone()))),
        Err(DispatchError::InvalidArgument {
            field: "deadline",
            ..
        })
    ));
    s.deadline_ms = 60_000;
    s.answers = AnswerPolicy::default();
    assert!(matches!(
        w.command(Command::StartCallout(Box::new(s))),
        Err(DispatchError::InvalidArgument {
            field: "answers",
            ..
        })
    ));
}

#[test]
fn a_team_listed_twice_is_refused_rather_than_alerted_twice() {
    let mut w = World::new();
    w.run_until(T0);
    // Each listing would have queued its own group transmission to the same talkgroup.
    let s = spec(&["qingshan", "qingshan"]);
    assert!(matches!(
        w.command(Command::StartCallout(Box::new(s))),
        Err(DispatchError::InvalidArgument { field: "teams", .. })
    ));
    let mut s = spec(&["qingshan"]);
    s.escalation.backup_teams = vec!["baisha".into(), "baisha".into()];
    assert!(matches!(
        w.command(Command::StartCallout(Box::new(s.clone()))),
        Err(DispatchError::InvalidArgument {
            field: "escalation.backup_teams",
            ..
        })
    ));
    s.escalation.backup_teams.pop();
    let id = w.start(s);
    assert_eq!(w.callout(id).groups.len(), 1, "one group transmission");
}

#[test]
fn a_managed_team_named_as_a_backup_cannot_be_deleted_from_under_it() {
    let mut w = World::new();
    w.run_until(T0);
    let team = |key: &str, backups: &[&str]| TeamSpec {
        key: key.into(),
        name: format!("{key} 分队"),
        radios: vec![m1(), m2()],
        backups: backups.iter().map(|b| b.to_string()).collect(),
        ..TeamSpec::default()
    };
    assert!(
        w.command(Command::CreateTeam(Box::new(team("west", &[]))))
            .is_ok()
    );
    assert!(
        w.command(Command::CreateTeam(Box::new(team("east", &["west"]))))
            .is_ok()
    );
    // A backup listed twice is refused, as the configuration's check refuses it.
    assert!(matches!(
        w.command(Command::CreateTeam(Box::new(team(
            "north",
            &["west", "west"]
        )))),
        Err(DispatchError::InvalidArgument {
            field: "backup_teams",
            ..
        })
    ));
    let delete = |key: &str| Command::DeleteTeam {
        key: key.into(),
        etag: String::new(),
    };
    assert_eq!(
        w.command(delete("west")),
        Err(DispatchError::TeamInUse {
            team: "west".into(),
            by: "east".into()
        })
    );
    // Once nothing names it, it goes.
    assert!(w.command(delete("east")).is_ok());
    assert!(w.command(delete("west")).is_ok());
    w.check_replay();
}

#[test]
fn a_restart_in_the_middle_carries_on_from_the_journal_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut w = World::new();
    w.run_until(T0);
    for r in [leader(), m1()] {
        w.replies.insert(r, (2_000, ON_MY_WAY));
    }
    w.replies.insert(m2(), (25_000, ON_MY_WAY));
    w.replies.insert(m3(), (26_000, ON_MY_WAY));
    let id = w.start(spec(&["qingshan"]));
    w.run_until(T0 + 8_000);
    assert_eq!(w.callout(id).answered(), 2);
    // Journal everything so far as the driver does, with a snapshot part-way.
    let cut = w.events.len() / 2;
    let config = SqliteConfig::default();
    {
        let mut journal = SqliteJournal::open(dir.path(), &config).expect("journal");
        let entry = |e: &Event| {
            let payload = serde_json::to_vec(e).expect("events serialise");
            Entry::new(UnixMillis(e.at.0 as i64), e.kind.name(), payload)
        };
        let first: Vec<Entry> = w.events[..cut].iter().map(entry).collect();
        let range = journal.append(&first).expect("append");
        let mut at_cut = Core::new(Config::default());
        for e in &w.events[..cut] {
            at_cut.apply(e);
        }
        let image = encode_snapshot(&at_cut.snapshot()).expect("snapshot");
        journal
            .save_snapshot(range.iter().last().expect("non-empty"), &image)
            .expect("save snapshot");
        let rest: Vec<Entry> = w.events[cut..].iter().map(entry).collect();
        journal.append(&rest).expect("append");
    }
    // The gateway stops; the queued inputs (radio answers, reports) are lost with it.
    let journal = SqliteJournal::open(dir.path(), &config).expect("reopen");
    let reader = journal.reader().expect("reader");
    let mut core = rebuild(&*reader, &Config::default()).expect("rebuild");
    assert_eq!(
        core.snapshot(),
        w.core.snapshot(),
        "rebuilt state is the live state"
    );
    w.agenda.clear();
    // m2 and m3 heard the group alert before the stop; their pending replies died with the
    // scripted air, and they reply to the follow-up instead.
    w.replied.retain(|r| *r == leader() || *r == m1());
    w.now = T0 + 9_000;
    let mut out = Vec::new();
    core.recover(Timestamp(w.now), &mut out);
    w.core = core;
    for o in out {
        if let Output::Event(e) = o {
            w.events.push(e);
        }
    }
    assert_eq!(w.callout(id).state, CalloutState::Running);
    // Links come back; the radios are heard again.
    w.input(Input::SiteUp {
        site: SiteId::new(S1),
    });
    w.input(Input::SiteUp {
        site: SiteId::new(S2),
    });
    w.run_until(T0 + 60_000);
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Satisfied, "{:#?}", c.members);
    assert_eq!(c.answered(), 4);
    // The members not yet answered were followed up after the restart.
    assert_eq!(w.individual_to(m2()), 1);
    w.check_replay();
}

#[test]
fn follow_ups_are_fed_a_few_at_a_time_and_the_air_never_waits() {
    // 30 members on one site: more than the feeder queues at once (FEED_DEPTH), with a
    // follow-up delay, so members wait for their turn after the delay has passed; the core
    // must neither spin (World::run_until fails on 1,000 ticks at one time) nor leave the
    // channel idle.
    let mut w = World::with_baisha(30);
    w.run_until(T0);
    let mut s = spec(&["baisha"]);
    s.followup_delay_ms = 2_000;
    let id = w.start(s);
    assert_eq!(w.callout(id).groups.len(), 1);
    w.run_until(T0 + 120_000);
    let c = w.callout(id);
    assert_eq!(c.count(MemberState::Delivered), 30, "{:#?}", c.members);
    // One group alert then 30 follow-ups, back to back on S1: each handed over as the
    // previous one's air time ends (the first after the delay).
    let on_s1: Vec<(u64, u64)> = w
        .sent
        .iter()
        .filter(|(_, site, _)| *site == SiteId::new(S1))
        .map(|(t, _, m)| (*t, m.air_time_ms()))
        .collect();
    assert_eq!(on_s1.len(), 31);
    for pair in on_s1[1..].windows(2) {
        let ((t0, air), (t1, _)) = (pair[0], pair[1]);
        assert_eq!(t1, t0 + air, "the slot idled between {t0} and {t1}");
    }
    w.check_replay();
}

#[test]
fn emergencies_go_ahead_of_call_out_traffic_and_call_outs_ahead_of_location_polls() {
    let mut w = World::with_baisha(12);
    w.run_until(T0);
    // A location poll queued on S1 while the call-out's follow-ups wait there is sent after
    // them all (the feeder keeps adding follow-ups ahead of it).
    let mut s = spec(&["baisha"]);
    s.followup_delay_ms = 0;
    let id = w.start(s);
    let Ok(Reply::Operation(poll)) = w.command(Command::Ota(OtaCommand::RequestLocation {
        radio: leader(),
        periodic: None,
    })) else {
        panic!("location request refused");
    };
    // An emergency from Qingshan's leader on S1, acknowledged by the dispatcher.
    w.air(
        S1,
        AirEvent::EmergencyAlarm {
            radio: m1(),
            talkgroup: None,
        },
    );
    let alarm = w
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::AlarmRaised { alarm, .. } => Some(*alarm),
            _ => None,
        })
        .expect("alarm raised");
    let Ok(Reply::Alarm { .. }) = w.command(Command::AcknowledgeAlarm { alarm }) else {
        panic!("acknowledge refused");
    };
    w.run_until(T0 + 60_000);
    assert_eq!(w.callout(id).count(MemberState::Delivered), 12);
    let on_s1: Vec<&AirMessage> = w
        .sent
        .iter()
        .filter(|(_, site, _)| *site == SiteId::new(S1))
        .map(|(_, _, m)| m)
        .collect();
    // What went first (the group alert) was already on the air; the acknowledgement is next.
    assert!(matches!(
        on_s1[0],
        AirMessage::Text {
            to: Addressee::Talkgroup(_),
            ..
        }
    ));
    assert!(
        matches!(on_s1[1], AirMessage::EmergencyAck { .. }),
        "{on_s1:#?}"
    );
    let poll_at = on_s1
        .iter()
        .position(|m| matches!(m, AirMessage::LocationRequest { .. }))
        .expect("the poll was sent");
    let last_callout = on_s1
        .iter()
        .rposition(|m| matches!(m, AirMessage::Text { .. }))
        .expect("call-out texts");
    assert!(
        poll_at > last_callout,
        "the poll ({poll_at}) waits for the call-out's texts (last at {last_callout})"
    );
    assert!(w.core.operation(poll.id).is_some());
    w.check_replay();
}

/// The call-out message with both a status and a text.
fn both() -> CalloutMessage {
    CalloutMessage::Both {
        status: 7,
        text: "山洪预警，立即到村委会集合".into(),
    }
}

/// Transmissions on the air of `site` (group and individual), in order, as (time handed
/// over, is a status, addressee).
fn on_site(w: &World, site: &str) -> Vec<(u64, bool, Addressee)> {
    w.sent
        .iter()
        .filter(|(_, s, _)| *s == SiteId::new(site))
        .filter_map(|(t, _, m)| match m {
            AirMessage::Status { to, .. } => Some((*t, true, *to)),
            AirMessage::Text { to, .. } => Some((*t, false, *to)),
            _ => None,
        })
        .collect()
}

#[test]
fn with_a_status_and_a_text_every_transmission_is_the_status_then_the_text() {
    let mut w = World::new();
    w.run_until(T0);
    let mut s = spec(&["qingshan"]);
    s.message = both();
    s.followup_delay_ms = 0;
    let id = w.start(s);
    let c = w.callout(id);
    assert_eq!(c.groups.len(), 1, "one group send for the team");
    assert!(c.groups[0].text_operation.is_some(), "the text follows");
    w.run_until(T0 + 60_000);
    let c = w.callout(id);
    // Nobody replies: everyone ends delivered by their own acknowledgement of the text.
    assert_eq!(c.state, CalloutState::Running);
    for (site, radios) in [(S1, [leader(), m1()]), (S2, [m2(), m3()])] {
        let air = on_site(&w, site);
        let tg = Addressee::Talkgroup(g1());
        // The group alert: one status, then one text, both to the talkgroup.
        let group: Vec<bool> = air
            .iter()
            .filter(|(_, _, to)| *to == tg)
            .map(|(_, st, _)| *st)
            .collect();
        assert_eq!(group, vec![true, false], "status then text on {site}");
        let group_status = air.iter().find(|(_, _, to)| *to == tg).expect("group");
        for r in radios {
            let mine: Vec<&(u64, bool, Addressee)> = air
                .iter()
                .filter(|(_, _, to)| *to == Addressee::Radio(r))
                .collect();
            assert_eq!(
                mine.iter().map(|(_, st, _)| *st).collect::<Vec<_>>(),
                vec![true, false],
                "{r:?}: one individual status, then one text"
            );
            let m = c.member(r).expect("member");
            assert_eq!(m.state, MemberState::Delivered, "{r:?}");
            assert_eq!(m.sends, 1);
            assert!(m.status_operation.is_some());
            // Alerted when the group status left (its air time after the hand-over).
            let status_air = AirMessage::Status { to: tg, status: 7 }.air_time_ms();
            assert_eq!(
                m.alerted_at,
                Some(Timestamp(group_status.0 + status_air)),
                "{r:?} alerted by the first group transmission"
            );
            // Delivered by the acknowledgement of the text, 500 ms after it left; the
            // status's acknowledgement came earlier and delivered nothing.
            let (text_t, _, _) = mine[1];
            let text_air = w
                .sent
                .iter()
                .find(|(t, _, m)| {
                    *t == *text_t
                        && matches!(m, AirMessage::Text { to: Addressee::Radio(x), .. } if *x == r)
                })
                .map(|(_, _, m)| m.air_time_ms())
                .expect("text sent");
            assert_eq!(m.delivered_at, Some(Timestamp(text_t + text_air + 500)));
        }
        // Two group and four individual transmissions on the site, nothing else.
        assert_eq!(air.len(), 6, "{site}: {air:?}");
    }
    w.check_replay();
}

#[test]
fn a_radio_that_acknowledges_only_the_status_is_never_delivered() {
    let mut w = World::new();
    w.run_until(T0);
    w.text_deaf.insert(m1());
    let mut s = spec(&[]);
    s.radios = vec![m1()];
    s.message = both();
    s.deadline_ms = 300_000;
    let id = w.start(s);
    w.run_until(T0 + 3_000);
    // The status went out and was acknowledged; the text is not: still queued.
    let statuses = |w: &World| {
        w.sent
            .iter()
            .filter(|(_, _, m)| {
                matches!(m, AirMessage::Status { to: Addressee::Radio(x), .. } if *x == m1())
            })
            .count()
    };
    assert_eq!(statuses(&w), 1);
    assert!(w.individual_to(m1()) >= 1, "the text follows the status");
    assert_eq!(w.state_of(id, m1()), MemberState::Queued);
    w.run_until(T0 + 200_000);
    // Retries, a radio check (answered), the message once more (status and text), and no
    // acknowledgement of the text: unreachable, never delivered.
    let c = w.callout(id);
    let m = c.member(m1()).expect("member");
    assert_eq!(m.state, MemberState::Unreachable);
    assert_eq!(m.delivered_at, None);
    assert_eq!(m.sends, 2);
    assert_eq!(statuses(&w), 2, "one status ahead of each transmission");
    w.check_replay();
}

#[test]
fn a_status_and_a_text_are_both_checked_and_the_field_named() {
    let mut w = World::new();
    let mut s = spec(&["qingshan"]);
    for (message, want) in [
        (
            CalloutMessage::Both {
                status: 7,
                text: String::new(),
            },
            "message.text",
        ),
        (
            CalloutMessage::Both {
                status: 7,
                text: "汛".repeat(1_000),
            },
            "message.text",
        ),
        (
            CalloutMessage::Both {
                status: 1024,
                text: "集合".into(),
            },
            "message.status",
        ),
    ] {
        s.message = message;
        match w.command(Command::StartCallout(Box::new(s.clone()))) {
            Err(DispatchError::InvalidArgument { field, .. }) => assert_eq!(field, want),
            other => panic!("{want}: {other:?}"),
        }
    }
    assert_eq!(CalloutMessage::new(None, None), None);
    assert_eq!(
        CalloutMessage::new(Some("集合".into()), Some(7)),
        Some(CalloutMessage::Both {
            status: 7,
            text: "集合".into()
        })
    );
}

#[test]
fn journals_written_before_call_outs_sent_both_still_replay() {
    // The forms an older gateway wrote.
    let text: CalloutMessage =
        serde_json::from_str(r#"{"kind":"text","text":"集合"}"#).expect("old text form");
    assert_eq!(text.text(), Some("集合"));
    assert_eq!(text.status(), None);
    let status: CalloutMessage =
        serde_json::from_str(r#"{"kind":"status","status":3}"#).expect("old status form");
    assert_eq!(status, CalloutMessage::Status { status: 3 });
    // A text-only call-out is journaled exactly as before (no new keys), and the journal
    // with those old forms folds back into the live state.
    let mut w = World::new();
    w.run_until(T0);
    w.replies.insert(leader(), (2_000, ON_MY_WAY));
    let id = w.start(spec(&["qingshan"]));
    w.run_until(T0 + 60_000);
    assert!(w.callout(id).members.iter().all(|m| m.sends <= 1));
    let mut fresh = Core::new(Config::default());
    let mut groups = 0;
    for e in &w.events {
        let json = serde_json::to_value(e).expect("events serialise");
        if e.kind.name() == "callout_group_queued" {
            groups += 1;
            let mut keys: Vec<&str> = json
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["at", "callout", "event", "operation", "talkgroup", "team"]
            );
        }
        let text = json.to_string();
        assert!(!text.contains("status_operation") && !text.contains("text_operation"));
        assert!(!text.contains(r#""kind":"both""#));
        let back: Event = serde_json::from_str(&text).expect("old form reads");
        fresh.apply(&back);
    }
    assert_eq!(groups, 1);
    assert_eq!(fresh.snapshot(), w.core.snapshot());
}

#[test]
fn backups_past_the_member_bound_are_counted_as_left_out() {
    let mut w = World::new();
    w.run_until(T0);
    // A managed team one short of the bound (nobody registered: every member out of reach,
    // so the call-out escalates at once), and a backup team of ten.
    let radios = |base: u32, n: u32| -> Vec<RadioId> {
        (0..n).map(|i| RadioId::new(base + i).unwrap()).collect()
    };
    let big = TeamSpec {
        key: "big".into(),
        name: "大队".into(),
        radios: radios(0x20_0000, 4_999),
        backups: vec!["reserve".into()],
        ..TeamSpec::default()
    };
    let reserve = TeamSpec {
        key: "reserve".into(),
        name: "预备队".into(),
        radios: radios(0x30_0000, 10),
        ..TeamSpec::default()
    };
    assert!(w.command(Command::CreateTeam(Box::new(reserve))).is_ok());
    assert!(w.command(Command::CreateTeam(Box::new(big))).is_ok());
    let id = w.start(spec(&["big"]));
    let c = w.callout(id);
    assert_eq!(c.state, CalloutState::Escalated);
    assert_eq!(c.members.len(), trunkgate::dispatch::callout::MAX_MEMBERS);
    let left_out: Vec<u32> = w
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::CalloutEscalated { left_out, .. } => Some(*left_out),
            _ => None,
        })
        .collect();
    assert_eq!(left_out, [9], "nine of the ten backups did not fit");
    w.check_replay();
}
