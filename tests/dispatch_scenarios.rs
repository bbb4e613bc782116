//! Scenarios for the dispatch core (docs/design.md "Core tests are scenarios"): explicit times in,
//! the complete list of outputs asserted. Every scenario also checks that replaying the
//! events it produced onto a fresh core gives exactly the live state.

use trunkgate::dispatch::{
    Addressee, AirEvent, AirInput, AirMessage, AirProfile, Alarm, AlarmFilter, AlarmId, AlarmState,
    Answer, CallEndReason, CallFilter, CallId, Command, Config, Core, DeliveryLevel, DeliveryState,
    Direction, Directory, DirectoryRadio, DirectorySite, DirectoryTalkgroup, DirectoryTeam,
    DispatchError, Event, EventKind, FailReason, Input, LocationPoll, Message, MessageBody,
    MessageId, MessageMark, OperationId, OperationResult, OperationState, OtaCommand, Output,
    Periodic, PollOutcome, Position, PositionSource, Priority, RadioControl, RadioFilter, RadioId,
    ReceivedData, Refusal, Reply, Request, Service, SiteAir, SiteId, TalkgroupId, TeamId,
    Timestamp,
};
use trunkgate::link::Slot;

const S1: &str = "城关站";
const S2: &str = "北山站";

fn site(name: &str) -> SiteId {
    SiteId::new(name)
}

fn radio(dial: &str) -> RadioId {
    dial.parse().expect("test dial number")
}

fn tg(dial: &str) -> TalkgroupId {
    dial.parse().expect("test group number")
}

fn a() -> RadioId {
    radio("80020200")
}

fn b() -> RadioId {
    radio("80020201")
}

fn g() -> TalkgroupId {
    tg("80020910")
}

fn ev(at: u64, kind: EventKind) -> Output {
    Output::Event(Event {
        at: Timestamp(at),
        kind,
    })
}

fn air(site_name: &str, event: AirEvent) -> Input {
    Input::Air(AirInput {
        site: site(site_name),
        slot: Slot::One,
        rssi_dbm: Some(-80),
        event,
    })
}

fn heard(at: u64, r: RadioId, site_name: &str) -> Output {
    ev(
        at,
        EventKind::RadioHeard {
            radio: r,
            site: site(site_name),
            slot: Slot::One,
            rssi_dbm: Some(-80),
        },
    )
}

fn command(token: u64, request_id: Option<&str>, command: Command) -> Input {
    Input::Command {
        token,
        request: Request {
            request_id: request_id.map(str::to_string),
            operator: Some("值班员".to_string()),
            reason: Some("演练".to_string()),
            client: None,
            command,
        },
    }
}

/// A second supervisor's approval of operation `op` (a kill awaits one).
fn approve(token: u64, op: u64) -> Input {
    Input::Command {
        token,
        request: Request {
            request_id: None,
            operator: Some("值班长".to_string()),
            reason: Some("核准".to_string()),
            client: None,
            command: Command::DecideApproval {
                operation: OperationId(op),
                approve: true,
            },
        },
    }
}

/// Issue `cmd` at `at`; a kill is approved at once by a second supervisor (the outputs are
/// then the approval's).
fn issue(h: &mut Harness, at: u64, cmd: &OtaCommand) -> Vec<Output> {
    let out = h.run(at, command(1, None, Command::Ota(cmd.clone())));
    if !matches!(cmd, OtaCommand::Kill { .. }) {
        return out;
    }
    let op = reply_operation(&out);
    assert_eq!(op.state, OperationState::AwaitingApproval, "{out:?}");
    assert_eq!(
        out.len(),
        2,
        "nothing but the operation and the reply: {out:?}"
    );
    h.run(at, approve(1, op.id.0))
}

/// A core under test that records every event it emits, to replay.
struct Harness {
    core: Core,
    events: Vec<Event>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            core: Core::new(Config::default()),
            events: Vec::new(),
        }
    }

    fn run(&mut self, at: u64, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.core.handle(Timestamp(at), input, &mut out);
        self.record(&out);
        out
    }

    fn record(&mut self, out: &[Output]) {
        for o in out {
            if let Output::Event(e) = o {
                self.events.push(e.clone());
            }
        }
    }

    /// Sites up, radios A and B heard (registered) on S1.
    fn with_radios(profile: AirProfile) -> Harness {
        let mut h = Harness::new();
        h.run(
            0,
            Input::Directory(Directory {
                radios: vec![DirectoryRadio {
                    id: a(),
                    name: Some("张三".into()),
                }],
                talkgroups: vec![DirectoryTalkgroup {
                    id: g(),
                    name: Some("城关镇救援一组".into()),
                    slot: None,
                    sites: Vec::new(),
                }],
                sites: vec![
                    DirectorySite {
                        id: site(S1),
                        display_name: None,
                        profile,
                        air: Default::default(),
                    },
                    DirectorySite {
                        id: site(S2),
                        display_name: None,
                        profile,
                        air: Default::default(),
                    },
                ],
                teams: vec![DirectoryTeam {
                    key: "chengguan".into(),
                    name: "城关镇应急救援队".into(),
                    radios: vec![a()],
                    talkgroup: Some(g()),
                    ..Default::default()
                }],
            }),
        );
        h.run(0, Input::SiteUp { site: site(S1) });
        h.run(0, Input::SiteUp { site: site(S2) });
        h.run(0, air(S1, AirEvent::Registered { radio: a() }));
        h.run(0, air(S1, AirEvent::Registered { radio: b() }));
        h
    }

    /// Replaying the recorded events onto a fresh core gives the live state, and so does
    /// a JSON round trip of the snapshot and of the events.
    fn assert_replay(&self) {
        let mut replay = Core::new(Config::default());
        for e in &self.events {
            let json = serde_json::to_string(e).expect("event serializes");
            let back: Event = serde_json::from_str(&json).expect("event deserializes");
            assert_eq!(&back, e, "{json}");
            replay.apply(&back);
        }
        assert_eq!(replay, self.core, "replay differs from live state");
        let json = serde_json::to_string(&self.core.snapshot()).expect("snapshot serializes");
        let restored = Core::restore(serde_json::from_str(&json).expect("snapshot deserializes"));
        assert_eq!(restored, self.core, "snapshot round trip differs");
    }
}

fn reply_operation(out: &[Output]) -> trunkgate::dispatch::Operation {
    out.iter()
        .find_map(|o| match o {
            Output::Reply {
                result: Ok(Reply::Operation(op)),
                ..
            } => Some((**op).clone()),
            _ => None,
        })
        .expect("a reply with an operation")
}

fn transmit(
    site_name: &str,
    profile: AirProfile,
    message: AirMessage,
    priority: Priority,
    op: u64,
    attempt: u8,
) -> Output {
    Output::Transmit {
        site: site(site_name),
        slot: Slot::One,
        profile,
        message,
        priority,
        operation: OperationId(op),
        attempt,
    }
}

/// What a link reports when an attempt's last burst has left.
fn link_sent(op: u64, attempt: u8, site_name: &str, slot: Slot, at: u64) -> Input {
    Input::TransmissionSent {
        operation: OperationId(op),
        attempt,
        site: site(site_name),
        slot,
        at: Timestamp(at),
    }
}

/// The event of an attempt on the air: the answer window starts at `sent_at`.
fn aired(at: u64, op: u64, attempt: u8, slot: Slot, sent_at: u64, window: u64) -> Output {
    ev(
        at,
        EventKind::OperationAired {
            operation: OperationId(op),
            attempt,
            slot,
            sent_at: Timestamp(sent_at),
            answer_window_ms: window,
            deadline: Timestamp(sent_at + window),
        },
    )
}

fn sent(at: u64, op: u64, site_name: &str, attempt: u8, cost: u64, answer: bool) -> Output {
    ev(
        at,
        EventKind::OperationTransmitted {
            operation: OperationId(op),
            site: site(site_name),
            attempt,
            busy_until: Timestamp(at + cost),
            // No link reports it sent here: the fallback deadline (air time + answer timeout +
            // the 5 s grace for a sent report).
            deadline: answer.then_some(Timestamp(at + cost + 4_000 + 5_000)),
            slot: Some(Slot::One),
        },
    )
}

#[test]
fn registration_shows_radio_with_site_and_dial_number() {
    let mut h = Harness::new();
    let dir = Directory {
        radios: vec![DirectoryRadio {
            id: a(),
            name: Some("张三".into()),
        }],
        sites: vec![DirectorySite {
            id: site(S1),
            display_name: Some("城关".into()),
            profile: AirProfile::Pdt,
            air: Default::default(),
        }],
        ..Directory::default()
    };
    let out = h.run(1_000, Input::Directory(dir.clone()));
    assert_eq!(
        out,
        vec![ev(1_000, EventKind::DirectoryLoaded { directory: dir })]
    );
    let out = h.run(1_500, Input::SiteUp { site: site(S1) });
    assert_eq!(
        out,
        vec![ev(
            1_500,
            EventKind::SiteLinkChanged {
                site: site(S1),
                up: true
            }
        )]
    );
    assert!(h.core.any_link_up());
    let out = h.run(2_000, air(S1, AirEvent::Registered { radio: a() }));
    assert_eq!(
        out,
        vec![
            heard(2_000, a(), S1),
            ev(
                2_000,
                EventKind::RadioRegistered {
                    radio: a(),
                    site: site(S1)
                }
            ),
        ]
    );
    // A repeated registration on the same site within the refresh interval changes nothing.
    assert_eq!(
        h.run(2_500, air(S1, AirEvent::Registered { radio: a() })),
        vec![]
    );

    let r = h
        .core
        .radio_by_dial("80020200".parse().unwrap())
        .expect("radio by dial number");
    assert_eq!(r.id.air(), 0xFC0001);
    assert_eq!(r.id.to_string(), "80020200");
    assert!(r.registered);
    assert_eq!(r.name.as_deref(), Some("张三"));
    let p = r.presence.as_ref().expect("presence");
    assert_eq!(
        (p.site.as_str(), p.slot, p.at, p.rssi_dbm),
        (S1, Slot::One, Timestamp(2_000), Some(-80))
    );
    let filter = RadioFilter {
        site: Some(site(S1)),
        ..RadioFilter::default()
    };
    let page = h.core.radios(&filter, None, 10);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_after, None);

    // Deregistration.
    let out = h.run(3_000, air(S1, AirEvent::Deregistered { radio: a() }));
    assert_eq!(
        out,
        vec![ev(3_000, EventKind::RadioDeregistered { radio: a() })]
    );
    h.assert_replay();
}

#[test]
fn group_call_with_talker_change_emergency_and_hang_time() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let lc = |source, emergency| AirEvent::VoiceLc {
        source,
        target: Addressee::Talkgroup(g()),
        emergency,
        privacy: false,
    };
    let call = CallId(0);
    let out = h.run(1_000, air(S1, lc(a(), false)));
    assert_eq!(
        out,
        vec![ev(
            1_000,
            EventKind::CallStarted {
                call,
                target: Addressee::Talkgroup(g()),
                site: site(S1),
                slot: Slot::One,
                talker: Some(a()),
                emergency: false,
                privacy: false,
            }
        )]
    );
    // Embedded LC every superframe: nothing new.
    assert_eq!(h.run(1_360, air(S1, lc(a(), false))), vec![]);
    let out = h.run(
        3_000,
        air(
            S1,
            AirEvent::VoiceTerminator {
                source: a(),
                target: Addressee::Talkgroup(g()),
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(3_000, EventKind::CallTransmissionEnded { call })]
    );
    // B answers within the hang time, with the emergency flag.
    let out = h.run(4_000, air(S1, lc(b(), true)));
    assert_eq!(
        out,
        vec![
            ev(4_000, EventKind::CallTalkerChanged { call, talker: b() }),
            ev(
                4_000,
                EventKind::CallFlagsChanged {
                    call,
                    emergency: true,
                    privacy: false
                }
            ),
        ]
    );
    // A long transmission refreshes the call's activity every quarter idle timeout.
    assert_eq!(
        h.run(6_500, air(S1, lc(b(), true))),
        vec![ev(6_500, EventKind::CallActivity { call })]
    );
    let out = h.run(
        8_000,
        air(
            S1,
            AirEvent::VoiceTerminator {
                source: b(),
                target: Addressee::Talkgroup(g()),
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(8_000, EventKind::CallTransmissionEnded { call })]
    );
    assert_eq!(h.core.next_deadline(), Some(Timestamp(11_000)));
    assert_eq!(h.run(10_999, Input::Tick), vec![]);
    assert_eq!(
        h.run(11_000, Input::Tick),
        vec![ev(
            11_000,
            EventKind::CallEnded {
                call,
                reason: CallEndReason::HangTimeExpired
            }
        )]
    );
    let c = h.core.call(call).expect("call kept in history");
    assert_eq!(c.talkers, vec![a(), b()]);
    assert!(c.emergency);
    assert_eq!(
        (c.started, c.ended),
        (Timestamp(1_000), Some(Timestamp(11_000)))
    );
    assert_eq!(h.core.calls(CallFilter::Active, None, 10).items, vec![]);
    assert_eq!(h.core.calls(CallFilter::Ended, None, 10).items.len(), 1);
    assert_eq!(h.core.talkgroup(g()).and_then(|t| t.active_call), None);

    // A new transmission after the call ended is a new call; the site may clear it.
    let out = h.run(20_000, air(S1, lc(a(), false)));
    assert!(matches!(
        out.as_slice(),
        [Output::Event(Event {
            kind: EventKind::CallStarted {
                call: CallId(1),
                ..
            },
            ..
        })]
    ));
    let out = h.run(
        21_000,
        air(
            S1,
            AirEvent::CallCleared {
                target: Addressee::Talkgroup(g()),
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            21_000,
            EventKind::CallEnded {
                call: CallId(1),
                reason: CallEndReason::Cleared
            }
        )]
    );
    h.assert_replay();
}

#[test]
fn emergency_raised_merged_acknowledged_first_in_queue_and_resolved() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let p = AirProfile::Pdt;
    let alarm = AlarmId(0);
    let raise = || AirEvent::EmergencyAlarm {
        radio: a(),
        talkgroup: Some(g()),
    };
    assert_eq!(
        h.run(1_000, air(S1, raise())),
        vec![ev(
            1_000,
            EventKind::AlarmRaised {
                alarm,
                radio: a(),
                talkgroup: Some(g()),
                site: site(S1)
            }
        )]
    );
    // The same radio again, now heard on another site: merged.
    assert_eq!(
        h.run(2_000, air(S2, raise())),
        vec![
            heard(2_000, a(), S2),
            ev(
                2_000,
                EventKind::AlarmRepeated {
                    alarm,
                    site: site(S2)
                }
            )
        ]
    );
    // Occupy S2: a radio check goes out at once (site busy 420 ms), then a location poll
    // queues behind it.
    let out = h.run(
        3_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    let check = reply_operation(&out);
    assert_eq!(out.len(), 4, "{out:#?}");
    assert_eq!(out[2], sent(3_000, 0, S2, 1, 420, true));
    assert_eq!(
        out[3],
        transmit(
            S2,
            p,
            AirMessage::RadioCheck { radio: a() },
            Priority::Normal,
            0,
            1
        )
    );
    assert_eq!(check.id, OperationId(0));
    let out = h.run(
        3_100,
        command(
            2,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: a(),
                periodic: None,
            }),
        ),
    );
    let poll = reply_operation(&out);
    assert_eq!(out.len(), 2, "created and replied, not sent: {out:#?}");
    assert_eq!(poll.state, OperationState::Queued);

    // Acknowledge: queued with emergency priority, ahead of the poll.
    let out = h.run(3_200, command(3, None, Command::AcknowledgeAlarm { alarm }));
    assert_eq!(out.len(), 3, "{out:#?}");
    let Output::Event(Event {
        kind: EventKind::OperationCreated { operation: ack },
        ..
    }) = &out[0]
    else {
        panic!("operation created first: {out:#?}");
    };
    assert_eq!(ack.priority, Priority::Emergency);
    assert_eq!(ack.site, Some(site(S2)));
    assert_eq!(
        out[1],
        ev(
            3_200,
            EventKind::AlarmAcknowledged {
                alarm,
                operator: "值班员".into(),
                operation: Some(OperationId(2))
            }
        )
    );
    match &out[2] {
        Output::Reply {
            token: 3,
            result:
                Ok(Reply::Alarm {
                    alarm: al,
                    operation: Some(op),
                }),
        } => {
            assert_eq!(al.state, AlarmState::Acknowledged);
            assert_eq!(op.id, OperationId(2));
        }
        other => panic!("unexpected reply {other:?}"),
    }
    let queue: Vec<_> = h
        .core
        .site(&site(S2))
        .unwrap()
        .queue
        .iter()
        .copied()
        .collect();
    assert_eq!(
        queue,
        vec![
            (Priority::Emergency, OperationId(2)),
            (Priority::Location, OperationId(1))
        ]
    );
    // The site is free at 3420: the acknowledgement goes first and needs no answer. The
    // alarm came in a group call, so it goes to every site of the group (here S2 alone,
    // where the team's member is) and is done once the link reports it sent.
    assert_eq!(h.core.next_deadline(), Some(Timestamp(3_420)));
    assert_eq!(h.run(3_419, Input::Tick), vec![]);
    assert_eq!(
        h.run(3_420, Input::Tick),
        vec![
            group_sent(3_420, 2, S2, 420),
            transmit(
                S2,
                p,
                AirMessage::EmergencyAck {
                    radio: a(),
                    talkgroup: Some(g())
                },
                Priority::Emergency,
                2,
                1
            ),
        ]
    );
    assert_eq!(
        h.run(3_421, link_sent(2, 1, S2, Slot::One, 3_420)),
        vec![
            site_sent(3_421, 2, S2, 3_420),
            ev(
                3_421,
                EventKind::OperationSucceeded {
                    operation: OperationId(2),
                    delivery: Some(DeliveryLevel::Transmitted),
                    result: None,
                }
            ),
        ]
    );
    // Then the location poll, last.
    assert_eq!(
        h.run(3_840, Input::Tick),
        vec![
            sent(3_840, 1, S2, 1, 540, true),
            transmit(
                S2,
                p,
                AirMessage::LocationRequest {
                    radio: a(),
                    request: 1
                },
                Priority::Location,
                1,
                1
            ),
        ]
    );
    // Acknowledging again is refused precisely.
    let out = h.run(4_000, command(4, None, Command::AcknowledgeAlarm { alarm }));
    assert_eq!(
        out,
        vec![Output::Reply {
            token: 4,
            result: Err(DispatchError::AlarmState {
                alarm,
                state: AlarmState::Acknowledged,
                action: "acknowledge"
            })
        }]
    );
    // A repeat while acknowledged still merges.
    assert_eq!(
        h.run(4_500, air(S2, raise())),
        vec![ev(
            4_500,
            EventKind::AlarmRepeated {
                alarm,
                site: site(S2)
            }
        )]
    );
    let out = h.run(5_000, command(5, None, Command::ResolveAlarm { alarm }));
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0],
        ev(
            5_000,
            EventKind::AlarmResolved {
                alarm,
                operator: "值班员".into()
            }
        )
    );
    let al: &Alarm = h.core.alarm(alarm).unwrap();
    assert_eq!((al.state, al.repeats), (AlarmState::Resolved, 2));
    assert_eq!(
        h.run(5_500, command(6, None, Command::ResolveAlarm { alarm })),
        vec![Output::Reply {
            token: 6,
            result: Err(DispatchError::AlarmState {
                alarm,
                state: AlarmState::Resolved,
                action: "resolve"
            })
        }]
    );
    // After resolution a new alarm from the same radio is a new resource.
    let out = h.run(6_000, air(S2, raise()));
    assert!(matches!(
        out.as_slice(),
        [Output::Event(Event {
            kind: EventKind::AlarmRaised {
                alarm: AlarmId(1),
                ..
            },
            ..
        })]
    ));
    let raised = AlarmFilter {
        state: Some(AlarmState::Raised),
    };
    assert_eq!(h.core.alarms(raised, None, 10).items.len(), 1);
    assert_eq!(
        h.run(
            6_900,
            command(7, None, Command::AcknowledgeAlarm { alarm: AlarmId(9) })
        ),
        vec![Output::Reply {
            token: 7,
            result: Err(DispatchError::UnknownAlarm(AlarmId(9)))
        }]
    );
    h.assert_replay();
}

/// Each command, with its air message, air time, and the answer that completes it.
fn commands() -> Vec<(
    OtaCommand,
    AirMessage,
    u64,
    Priority,
    AirEvent,
    Option<Service>,
)> {
    let answer = |s| AirEvent::Answer {
        radio: a(),
        service: Some(s),
        answer: Answer::Accepted,
    };
    let position = AirEvent::Position {
        radio: a(),
        position: Position {
            latitude: 30.25,
            longitude: 120.125,
            accuracy_m: Some(20.0),
            speed_kmh: None,
            heading_deg: None,
            altitude_m: None,
            fix_time: None,
            source: PositionSource::HyteraLp,
        },
    };
    vec![
        (
            OtaCommand::RadioCheck { radio: a() },
            AirMessage::RadioCheck { radio: a() },
            420,
            Priority::Normal,
            answer(Service::RadioCheck),
            Some(Service::RadioCheck),
        ),
        (
            OtaCommand::CallAlert { radio: a() },
            AirMessage::CallAlert { radio: a() },
            420,
            Priority::Normal,
            answer(Service::CallAlert),
            Some(Service::CallAlert),
        ),
        (
            OtaCommand::Stun { radio: a() },
            AirMessage::Stun { radio: a() },
            420,
            Priority::Control,
            answer(Service::Stun),
            Some(Service::Stun),
        ),
        (
            OtaCommand::Revive { radio: a() },
            AirMessage::Revive { radio: a() },
            420,
            Priority::Control,
            answer(Service::Revive),
            Some(Service::Revive),
        ),
        (
            OtaCommand::Kill { radio: a() },
            AirMessage::Kill { radio: a() },
            420,
            Priority::Control,
            // An answer that does not say what it is for matches the operation in flight.
            AirEvent::Answer {
                radio: a(),
                service: None,
                answer: Answer::Accepted,
            },
            None,
        ),
        (
            OtaCommand::SendText {
                to: Addressee::Radio(a()),
                text: "到集合点".into(),
            },
            AirMessage::Text {
                to: Addressee::Radio(a()),
                text: "到集合点".into(),
            },
            // 5 + 8 + 4 octets = 2 blocks: 6 preambles + header + 2.
            540,
            Priority::Normal,
            answer(Service::Text),
            Some(Service::Text),
        ),
        (
            OtaCommand::SendStatus {
                to: Addressee::Radio(a()),
                status: 12,
            },
            AirMessage::Status {
                to: Addressee::Radio(a()),
                status: 12,
            },
            420,
            Priority::Normal,
            answer(Service::Status),
            Some(Service::Status),
        ),
        (
            OtaCommand::RequestLocation {
                radio: a(),
                periodic: None,
            },
            AirMessage::LocationRequest {
                radio: a(),
                request: 0,
            },
            540,
            Priority::Location,
            position,
            Some(Service::Location),
        ),
    ]
}

#[test]
fn each_command_acked() {
    for (cmd, msg, cost, prio, answer, _) in commands() {
        let mut h = Harness::with_radios(AirProfile::TierIii);
        let out = issue(&mut h, 1_000, &cmd);
        let op = reply_operation(&out);
        // A kill goes on the air once approved: the approval queues it.
        let head = if matches!(cmd, OtaCommand::Kill { .. }) {
            vec![
                ev(
                    1_000,
                    EventKind::OperationApproved {
                        operation: op.id,
                        approver: "值班长".into(),
                        reason: Some("核准".into()),
                    },
                ),
                ev(
                    1_000,
                    EventKind::OperationQueued {
                        operation: op.id,
                        site: site(S1),
                    },
                ),
            ]
        } else {
            vec![ev(
                1_000,
                EventKind::OperationCreated {
                    operation: op.clone(),
                },
            )]
        };
        // A text or status is an outbound message too, linked to its operation.
        let body = match &cmd {
            OtaCommand::SendText { text, .. } => Some(MessageBody::Text { text: text.clone() }),
            OtaCommand::SendStatus { status, .. } => Some(MessageBody::Status { status: *status }),
            _ => None,
        };
        let message = body.map(|body| {
            ev(
                1_000,
                EventKind::MessageSent {
                    message: Message {
                        id: MessageId(0),
                        direction: Direction::Outbound,
                        source: None,
                        to: cmd.addressee(),
                        site: site(S1),
                        at: Timestamp(1_000),
                        body,
                        operator: Some("值班员".into()),
                        operation: Some(op.id),
                        read: None,
                        handled: None,
                    },
                },
            )
        });
        assert_eq!(
            out,
            head.into_iter()
                .chain(message)
                .chain([
                    Output::Reply {
                        token: 1,
                        result: Ok(Reply::Operation(Box::new(op.clone())))
                    },
                    sent(1_000, 0, S1, 1, cost, true),
                    transmit(S1, AirProfile::TierIii, msg.clone(), prio, 0, 1),
                ])
                .collect::<Vec<_>>(),
            "{cmd:?}"
        );
        let out = h.run(2_000, air(S1, answer.clone()));
        // A check's result is where the radio answered and its signal; a location
        // request's is the position.
        let result = match &answer {
            AirEvent::Position { position, .. } => Some(OperationResult::Location {
                site: site(S1),
                position: *position,
            }),
            _ if cmd.service() == Service::RadioCheck => Some(OperationResult::RadioCheck {
                site: site(S1),
                rssi_dbm: Some(-80),
            }),
            _ => None,
        };
        let done = ev(
            2_000,
            EventKind::OperationSucceeded {
                operation: OperationId(0),
                delivery: Some(DeliveryLevel::Confirmed),
                result: result.clone(),
            },
        );
        let service = cmd.service();
        let learned = ev(
            2_000,
            EventKind::RadioCapabilityLearned {
                radio: a(),
                service,
                supported: true,
            },
        );
        let expected = match &cmd {
            OtaCommand::RequestLocation { .. } => {
                let AirEvent::Position { position, .. } = answer else {
                    unreachable!()
                };
                vec![
                    ev(
                        2_000,
                        EventKind::PositionReported {
                            radio: a(),
                            site: site(S1),
                            position,
                        },
                    ),
                    learned,
                    done,
                ]
            }
            OtaCommand::Stun { .. } | OtaCommand::Revive { .. } | OtaCommand::Kill { .. } => {
                let control = match cmd {
                    OtaCommand::Stun { .. } => RadioControl::Stunned,
                    OtaCommand::Kill { .. } => RadioControl::Killed,
                    _ => RadioControl::Enabled,
                };
                vec![
                    learned,
                    ev(
                        2_000,
                        EventKind::RadioControlChanged {
                            radio: a(),
                            control,
                        },
                    ),
                    done,
                ]
            }
            _ => vec![learned, done],
        };
        assert_eq!(out, expected, "{cmd:?}");
        let op = h.core.operation(OperationId(0)).unwrap();
        assert_eq!((op.state, op.attempts), (OperationState::Succeeded, 1));
        assert_eq!(
            h.core.radio(a()).unwrap().capabilities.get(service),
            Some(true)
        );
        // A late duplicate answer changes nothing.
        if !matches!(cmd, OtaCommand::RequestLocation { .. }) {
            assert_eq!(h.run(2_100, air(S1, answer)), vec![]);
        }
        h.assert_replay();
    }
}

#[test]
fn each_command_refused() {
    for (cmd, _, _, _, _, service) in commands() {
        let mut h = Harness::with_radios(AirProfile::TierIii);
        issue(&mut h, 1_000, &cmd);
        // 0x20: service not supported (TS), docs/air-interface.md §3.4.
        let refusal = Refusal { code: 0x20 };
        let out = h.run(
            2_000,
            air(
                S1,
                AirEvent::Answer {
                    radio: a(),
                    service: service.or(Some(cmd.service())),
                    answer: Answer::Refused(refusal),
                },
            ),
        );
        assert_eq!(
            out,
            vec![
                ev(
                    2_000,
                    EventKind::RadioCapabilityLearned {
                        radio: a(),
                        service: cmd.service(),
                        supported: false
                    }
                ),
                ev(
                    2_000,
                    EventKind::OperationRefused {
                        operation: OperationId(0),
                        refusal
                    }
                ),
            ],
            "{cmd:?}"
        );
        let op = h.core.operation(OperationId(0)).unwrap();
        assert_eq!(
            (op.state, op.refusal),
            (OperationState::Refused, Some(refusal))
        );
        assert_eq!(h.core.radio(a()).unwrap().control, RadioControl::Enabled);
        h.assert_replay();
    }
}

#[test]
fn each_command_times_out_after_bounded_retries() {
    for (cmd, msg, cost, prio, _, _) in commands() {
        let mut h = Harness::with_radios(AirProfile::Pdt);
        let p = AirProfile::Pdt;
        issue(&mut h, 1_000, &cmd);
        let op = OperationId(0);
        // Handed over at 1000; the link reports each attempt's last burst gone one air time
        // later, and the 4 s answer window starts there, not at the handover.
        let mut handed = 1_000;
        for attempt in 1..=3u8 {
            let left = handed + cost;
            assert_eq!(
                h.run(left, link_sent(0, attempt, S1, Slot::One, left)),
                vec![aired(left, 0, attempt, Slot::One, left, 4_000)],
                "{cmd:?}"
            );
            let due = left + 4_000;
            assert_eq!(h.core.next_deadline(), Some(Timestamp(due)));
            assert_eq!(h.run(due - 1, Input::Tick), vec![], "{cmd:?}");
            if attempt == 3 {
                assert_eq!(
                    h.run(due, Input::Tick),
                    vec![
                        ev(
                            due,
                            EventKind::OperationAttemptTimedOut {
                                operation: op,
                                attempt: 3
                            }
                        ),
                        ev(
                            due,
                            EventKind::OperationTimedOut {
                                operation: op,
                                attempts: 3
                            }
                        ),
                    ]
                );
                break;
            }
            assert_eq!(
                h.run(due, Input::Tick),
                vec![
                    ev(
                        due,
                        EventKind::OperationAttemptTimedOut {
                            operation: op,
                            attempt
                        }
                    ),
                    ev(
                        due,
                        EventKind::OperationQueued {
                            operation: op,
                            site: site(S1)
                        }
                    ),
                    sent(due, 0, S1, attempt + 1, cost, true),
                    transmit(S1, p, msg.clone(), prio, 0, attempt + 1),
                ],
                "{cmd:?}"
            );
            handed = due;
        }
        assert_eq!(
            h.core.operation(op).unwrap().state,
            OperationState::TimedOut
        );
        assert_eq!(h.run(20_000, Input::Tick), vec![]);
        assert_eq!(h.core.next_deadline(), None);
        h.assert_replay();
    }
}

#[test]
fn a_late_answer_during_a_retry_still_counts() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::Stun { radio: a() })),
    );
    // The stun (420 ms on air) left at 1420; take S1 down so the retry waits in the queue.
    h.run(1_420, link_sent(0, 1, S1, Slot::One, 1_420));
    h.run(1_500, Input::SiteDown { site: site(S1) });
    assert_eq!(h.run(5_419, Input::Tick), vec![]);
    let out = h.run(5_420, Input::Tick);
    assert_eq!(
        out.len(),
        2,
        "timed out and queued again, not sent: {out:#?}"
    );
    let out = h.run(
        5_500,
        air(
            S1,
            AirEvent::Answer {
                radio: a(),
                service: Some(Service::Stun),
                answer: Answer::Accepted,
            },
        ),
    );
    assert_eq!(
        out.last(),
        Some(&ev(
            5_500,
            EventKind::OperationSucceeded {
                operation: OperationId(0),
                delivery: Some(DeliveryLevel::Confirmed),
                result: None,
            }
        ))
    );
    assert!(h.core.site(&site(S1)).unwrap().queue.is_empty());
    h.assert_replay();
}

#[test]
fn request_id_returns_the_same_operation_without_a_second_transmit() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let cmd = Command::Ota(OtaCommand::CallAlert { radio: a() });
    let first = h.run(1_000, command(1, Some("req-1"), cmd.clone()));
    let op = reply_operation(&first);
    assert_eq!(op.request_id.as_deref(), Some("req-1"));
    assert_eq!(first.len(), 4);
    let again = h.run(1_200, command(2, Some("req-1"), cmd));
    let mut sent_op = op.clone();
    sent_op.state = OperationState::Sent;
    sent_op.attempts = 1;
    // The fallback deadline: no link reported it sent.
    sent_op.deadline = Some(Timestamp(1_000 + 420 + 4_000 + 5_000));
    assert_eq!(
        again,
        vec![Output::Reply {
            token: 2,
            result: Ok(Reply::Operation(Box::new(sent_op)))
        }]
    );
    assert_eq!(
        h.core.operation_by_request_id("req-1").map(|o| o.id),
        Some(op.id)
    );
    // The same key for a different command is refused.
    let other = h.run(
        1_300,
        command(
            3,
            Some("req-1"),
            Command::Ota(OtaCommand::RadioCheck { radio: a() }),
        ),
    );
    assert_eq!(
        other,
        vec![Output::Reply {
            token: 3,
            result: Err(DispatchError::RequestIdReused("req-1".into()))
        }]
    );
    h.assert_replay();
}

#[test]
fn pacing_per_site_with_priorities() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    // A location poll is sent at once (S1 free), then S1 is busy for 540 ms.
    h.run(
        1_000,
        command(
            1,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: a(),
                periodic: None,
            }),
        ),
    );
    // Queued behind it, in submission order: a location poll for B, a text, a stun.
    h.run(
        1_010,
        command(
            2,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: b(),
                periodic: None,
            }),
        ),
    );
    h.run(
        1_020,
        command(
            3,
            None,
            Command::Ota(OtaCommand::SendText {
                to: Addressee::Radio(b()),
                text: "撤离".into(),
            }),
        ),
    );
    h.run(
        1_030,
        command(4, None, Command::Ota(OtaCommand::Stun { radio: b() })),
    );
    // Another site is paced on its own: a radio check for a radio on S2 goes out at once.
    h.run(
        1_040,
        air(
            S2,
            AirEvent::Registered {
                radio: radio("80020202"),
            },
        ),
    );
    let out = h.run(
        1_050,
        command(
            5,
            None,
            Command::Ota(OtaCommand::RadioCheck {
                radio: radio("80020202"),
            }),
        ),
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Transmit {
            operation: OperationId(4),
            ..
        }
    )));
    let mut order = Vec::new();
    for at in (1_100..4_000).step_by(10) {
        for o in h.run(at, Input::Tick) {
            if let Output::Transmit { operation, .. } = o {
                order.push((at, operation.0));
            }
        }
    }
    // Stun (control) first at 1540, then the text (normal) at 1960, then the poll for B.
    assert_eq!(order, vec![(1_540, 3), (1_960, 2), (2_500, 1)]);
    h.assert_replay();
}

#[test]
fn periodic_location_polls_until_count() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let periodic = Some(Periodic {
        interval_ms: 30_000,
        count: 2,
    });
    h.run(
        1_000,
        command(
            1,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: a(),
                periodic,
            }),
        ),
    );
    // The fix time, accuracy and source travel into the operation's result.
    let pos = |lat| Position {
        latitude: lat,
        longitude: 120.0,
        accuracy_m: Some(10.0),
        speed_kmh: None,
        heading_deg: None,
        altitude_m: None,
        fix_time: Some(Timestamp(1_900)),
        source: PositionSource::Lrrp,
    };
    let fix = |lat| AirEvent::Position {
        radio: a(),
        position: pos(lat),
    };
    let out = h.run(2_000, air(S1, fix(30.0)));
    assert_eq!(
        out.last(),
        Some(&ev(
            2_000,
            EventKind::OperationPolled {
                operation: OperationId(0),
                polls_done: 1,
                next_poll: Timestamp(32_000),
                result: Some(OperationResult::Location {
                    site: site(S1),
                    position: pos(30.0),
                }),
            }
        ))
    );
    assert_eq!(
        h.core.operation(OperationId(0)).unwrap().state,
        OperationState::Waiting
    );
    let out = h.run(32_000, Input::Tick);
    assert_eq!(
        out,
        vec![
            ev(
                32_000,
                EventKind::OperationQueued {
                    operation: OperationId(0),
                    site: site(S1)
                }
            ),
            sent(32_000, 0, S1, 1, 540, true),
            transmit(
                S1,
                AirProfile::Pdt,
                AirMessage::LocationRequest {
                    radio: a(),
                    request: 0
                },
                Priority::Location,
                0,
                1
            ),
        ]
    );
    let out = h.run(33_000, air(S1, fix(30.5)));
    assert_eq!(
        out.last(),
        Some(&ev(
            33_000,
            EventKind::OperationSucceeded {
                operation: OperationId(0),
                delivery: Some(DeliveryLevel::Confirmed),
                result: Some(OperationResult::Location {
                    site: site(S1),
                    position: pos(30.5),
                }),
            }
        ))
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!((op.state, op.polls_done), (OperationState::Succeeded, 2));
    assert_eq!(
        op.result.as_deref(),
        Some(&OperationResult::Location {
            site: site(S1),
            position: pos(30.5),
        }),
        "the result holds the last poll's position"
    );
    let track = h.core.track(a()).unwrap();
    assert_eq!(track.reports.len(), 2);
    assert_eq!(track.latest().unwrap().position.latitude, 30.5);
    h.assert_replay();
}

#[test]
fn commands_that_cannot_apply_get_precise_errors() {
    let mut h = Harness::with_radios(AirProfile::DmraConventional);
    let err = |h: &mut Harness, cmd: OtaCommand| match h
        .run(1_000, command(9, None, Command::Ota(cmd)))
        .as_slice()
    {
        [
            Output::Reply {
                token: 9,
                result: Err(e),
            },
        ] => e.clone(),
        other => panic!("expected one error reply, got {other:?}"),
    };
    let unknown = radio("80020299");
    assert_eq!(
        err(&mut h, OtaCommand::RadioCheck { radio: unknown }),
        DispatchError::UnknownRadio(unknown)
    );
    // Known from the directory but never heard.
    let mut h2 = Harness::new();
    h2.run(
        0,
        Input::Directory(Directory {
            radios: vec![DirectoryRadio {
                id: a(),
                name: None,
            }],
            ..Directory::default()
        }),
    );
    assert_eq!(
        err(&mut h2, OtaCommand::RadioCheck { radio: a() }),
        DispatchError::RadioNotHeard(a())
    );
    assert_eq!(
        err(&mut h, OtaCommand::Kill { radio: a() }),
        DispatchError::UnsupportedService {
            site: site(S1),
            profile: AirProfile::DmraConventional,
            service: Service::Kill
        }
    );
    assert_eq!(
        err(
            &mut h,
            OtaCommand::SendText {
                to: Addressee::Radio(a()),
                text: String::new()
            }
        ),
        DispatchError::InvalidArgument {
            field: "text",
            reason: "empty"
        }
    );
    assert!(matches!(
        err(
            &mut h,
            OtaCommand::SendText {
                to: Addressee::Radio(a()),
                text: "字".repeat(238)
            }
        ),
        DispatchError::InvalidArgument { field: "text", .. }
    ));
    assert!(matches!(
        err(
            &mut h,
            OtaCommand::SendStatus {
                to: Addressee::Radio(a()),
                status: 1_024
            }
        ),
        DispatchError::InvalidArgument {
            field: "status",
            ..
        }
    ));
    assert!(matches!(
        err(
            &mut h,
            OtaCommand::RequestLocation {
                radio: a(),
                periodic: Some(Periodic {
                    interval_ms: 1,
                    count: 5
                })
            }
        ),
        DispatchError::InvalidArgument {
            field: "periodic.interval_ms",
            ..
        }
    ));
    assert_eq!(
        err(
            &mut h,
            OtaCommand::SendText {
                to: Addressee::Talkgroup(tg("80020999")),
                text: "x".into()
            }
        ),
        DispatchError::UnknownTalkgroup(tg("80020999"))
    );
    // (A group with members heard somewhere goes to them: see the group scenarios.)
    let out = h.run(
        2_000,
        command(
            10,
            None,
            Command::CancelOperation {
                operation: OperationId(77),
            },
        ),
    );
    assert_eq!(
        out,
        vec![Output::Reply {
            token: 10,
            result: Err(DispatchError::UnknownOperation(OperationId(77)))
        }]
    );
    // Acknowledging an alarm on a profile without an acknowledgement PDU acknowledges it
    // without an operation.
    h.run(
        3_000,
        air(
            S1,
            AirEvent::EmergencyAlarm {
                radio: a(),
                talkgroup: None,
            },
        ),
    );
    let out = h.run(
        3_100,
        command(11, None, Command::AcknowledgeAlarm { alarm: AlarmId(0) }),
    );
    assert_eq!(
        out[0],
        ev(
            3_100,
            EventKind::AlarmAcknowledged {
                alarm: AlarmId(0),
                operator: "值班员".into(),
                operation: None
            }
        )
    );
    assert_eq!(out.len(), 2);
    h.assert_replay();
}

#[test]
fn killed_radio_takes_no_commands_and_cancel_works() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    issue(&mut h, 1_000, &OtaCommand::Kill { radio: a() });
    h.run(
        1_500,
        air(
            S1,
            AirEvent::Answer {
                radio: a(),
                service: Some(Service::Kill),
                answer: Answer::Accepted,
            },
        ),
    );
    assert_eq!(h.core.radio(a()).unwrap().control, RadioControl::Killed);
    assert_eq!(
        h.run(
            2_000,
            command(2, None, Command::Ota(OtaCommand::RadioCheck { radio: a() }))
        ),
        vec![Output::Reply {
            token: 2,
            result: Err(DispatchError::RadioKilled(a()))
        }]
    );
    // Cancel a queued operation: it leaves the queue.
    h.run(
        2_100,
        command(3, None, Command::Ota(OtaCommand::RadioCheck { radio: b() })),
    );
    h.run(
        2_200,
        command(4, None, Command::Ota(OtaCommand::CallAlert { radio: b() })),
    );
    assert_eq!(
        h.core.operation(OperationId(2)).unwrap().state,
        OperationState::Queued
    );
    let out = h.run(
        2_300,
        command(
            5,
            None,
            Command::CancelOperation {
                operation: OperationId(2),
            },
        ),
    );
    assert_eq!(
        out[0],
        ev(
            2_300,
            EventKind::OperationCancelled {
                operation: OperationId(2),
                operator: Some("值班员".into())
            }
        )
    );
    assert!(h.core.site(&site(S1)).unwrap().queue.is_empty());
    assert_eq!(
        h.run(
            2_400,
            command(
                6,
                None,
                Command::CancelOperation {
                    operation: OperationId(2)
                }
            )
        ),
        vec![Output::Reply {
            token: 6,
            result: Err(DispatchError::OperationFinished {
                operation: OperationId(2),
                state: OperationState::Cancelled
            })
        }]
    );
    h.assert_replay();
}

#[test]
fn site_down_holds_commands_then_fails_them() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    h.run(1_000, Input::SiteDown { site: site(S1) });
    assert!(h.core.any_link_up(), "S2 is still up");
    let out = h.run(
        2_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    assert_eq!(out.len(), 2, "created and replied, held: {out:#?}");
    // Waits from the later of going down and being queued: 2000 + 60 s.
    assert_eq!(h.run(61_999, Input::Tick), vec![]);
    assert_eq!(
        h.run(62_000, Input::Tick),
        vec![ev(
            62_000,
            EventKind::OperationFailed {
                operation: OperationId(0),
                failure: FailReason::SiteDown { site: site(S1) }
            }
        )]
    );
    // A command held while the link comes back goes out on SiteUp.
    h.run(
        70_000,
        command(2, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    let out = h.run(71_000, Input::SiteUp { site: site(S1) });
    assert_eq!(out.len(), 3, "{out:#?}");
    assert!(matches!(
        out[2],
        Output::Transmit {
            operation: OperationId(1),
            ..
        }
    ));
    h.assert_replay();
}

#[test]
fn recover_after_restart_resumes_or_fails_operations_in_flight() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    // op 0: sent and waiting; op 1: queued behind it; op 2: old, queued.
    h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    h.run(
        1_100,
        command(2, None, Command::Ota(OtaCommand::CallAlert { radio: b() })),
    );
    let snapshot = h.core.snapshot();
    let cut = h.events.len();
    h.run(
        1_200,
        command(
            3,
            None,
            Command::Ota(OtaCommand::SendStatus {
                to: Addressee::Radio(b()),
                status: 3,
            }),
        ),
    );
    // Restart: snapshot + replay of the later events.
    let mut core =
        Core::restore(serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap());
    for e in &h.events[cut..] {
        core.apply(e);
    }
    assert_eq!(core, h.core);
    let mut out = Vec::new();
    core.recover(Timestamp(100_000), &mut out);
    assert_eq!(
        out,
        vec![
            ev(100_000, EventKind::GatewayRestarted),
            ev(
                100_000,
                EventKind::SiteLinkChanged {
                    site: site(S2),
                    up: false
                }
            ),
            ev(
                100_000,
                EventKind::SiteLinkChanged {
                    site: site(S1),
                    up: false
                }
            ),
            ev(
                100_000,
                EventKind::OperationQueued {
                    operation: OperationId(0),
                    site: site(S1)
                }
            ),
            ev(
                100_000,
                EventKind::OperationQueued {
                    operation: OperationId(1),
                    site: site(S1)
                }
            ),
            ev(
                100_000,
                EventKind::OperationQueued {
                    operation: OperationId(2),
                    site: site(S1)
                }
            ),
        ]
    );
    // The unanswered transmission counted: the resumed radio check is attempt 2.
    let mut out = Vec::new();
    core.handle(
        Timestamp(100_500),
        Input::SiteUp { site: site(S1) },
        &mut out,
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Transmit {
            operation: OperationId(0),
            attempt: 2,
            ..
        }
    )));
    // Much later, what is still in flight is failed explicitly, not forgotten.
    let mut late = Core::restore(core.snapshot());
    let mut out = Vec::new();
    late.recover(Timestamp(1_000_000), &mut out);
    let failed: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Event(Event {
                kind: EventKind::OperationFailed { operation, failure },
                ..
            }) => Some((operation.0, failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            (0, FailReason::GatewayRestart),
            (1, FailReason::GatewayRestart),
            (2, FailReason::GatewayRestart)
        ]
    );
    for id in 0..3 {
        assert_eq!(
            late.operation(OperationId(id)).unwrap().state,
            OperationState::Failed
        );
    }
}

#[test]
fn messages_aliases_and_queries() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let out = h.run(
        1_000,
        air(
            S1,
            AirEvent::Text {
                source: a(),
                to: Addressee::Talkgroup(g()),
                text: "已到达".into(),
            },
        ),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(h.core.messages(None, 10).items.len(), 1);
    let out = h.run(
        1_100,
        air(
            S1,
            AirEvent::TalkerAlias {
                radio: b(),
                alias: "李四\u{0}\u{0}".into(),
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            1_100,
            EventKind::RadioAliasLearned {
                radio: b(),
                alias: "李四".into()
            }
        )]
    );
    let out = h.run(
        1_200,
        air(
            S1,
            AirEvent::Affiliated {
                radio: a(),
                talkgroup: g(),
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            1_200,
            EventKind::RadioAffiliated {
                radio: a(),
                talkgroup: g(),
                site: site(S1)
            }
        )]
    );
    let filter = RadioFilter {
        team: Some(TeamId(0)),
        ..RadioFilter::default()
    };
    let team = h.core.radios(&filter, None, 10);
    assert_eq!(
        team.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a()]
    );
    assert_eq!(h.core.teams()[0].name, "城关镇应急救援队");
    // Pagination: one per page, ordered by air address.
    let p1 = h.core.radios(&RadioFilter::default(), None, 1);
    assert_eq!(p1.items[0].id, a());
    let p2 = h.core.radios(&RadioFilter::default(), p1.next_after, 1);
    assert_eq!(p2.items[0].id, b());
    assert_eq!(p2.next_after, None);
    // Positions outside the globe are dropped.
    let bad = AirEvent::Position {
        radio: a(),
        position: Position {
            latitude: f64::NAN,
            longitude: 500.0,
            accuracy_m: None,
            speed_kmh: None,
            heading_deg: None,
            altitude_m: None,
            fix_time: None,
            source: PositionSource::EmbeddedLc,
        },
    };
    assert_eq!(h.run(1_300, air(S1, bad)), vec![]);
    h.assert_replay();
}

#[test]
fn private_call_both_directions_is_one_call() {
    let mut h = Harness::with_radios(AirProfile::TierIii);
    let call = CallId(0);
    let out = h.run(
        1_000,
        air(
            S1,
            AirEvent::VoiceGrant {
                source: a(),
                target: Addressee::Radio(b()),
                emergency: false,
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            1_000,
            EventKind::CallStarted {
                call,
                target: Addressee::Radio(b()),
                site: site(S1),
                slot: Slot::One,
                talker: Some(a()),
                emergency: false,
                privacy: false,
            }
        )]
    );
    // Privacy appears in the voice LC.
    let out = h.run(
        1_100,
        air(
            S1,
            AirEvent::VoiceLc {
                source: a(),
                target: Addressee::Radio(b()),
                emergency: false,
                privacy: true,
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            1_100,
            EventKind::CallFlagsChanged {
                call,
                emergency: false,
                privacy: true
            }
        )]
    );
    // B answers A: the same call, B becomes the talker.
    let out = h.run(
        3_000,
        air(
            S1,
            AirEvent::VoiceLc {
                source: b(),
                target: Addressee::Radio(a()),
                emergency: false,
                privacy: true,
            },
        ),
    );
    assert_eq!(
        out,
        vec![ev(
            3_000,
            EventKind::CallTalkerChanged { call, talker: b() }
        )]
    );
    // Nothing more heard: the idle timeout ends it.
    assert_eq!(h.core.next_deadline(), Some(Timestamp(13_000)));
    assert_eq!(
        h.run(13_000, Input::Tick),
        vec![ev(
            13_000,
            EventKind::CallEnded {
                call,
                reason: CallEndReason::Idle
            }
        )]
    );
    assert_eq!(h.core.call(call).unwrap().talkers, vec![a(), b()]);
    h.assert_replay();
}

#[test]
fn group_text_succeeds_once_sent() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    // A (a team member of the group) is heard on S1; B affiliates on S2.
    h.run(
        500,
        air(
            S2,
            AirEvent::Affiliated {
                radio: b(),
                talkgroup: g(),
            },
        ),
    );
    let out = h.run(
        1_000,
        command(
            1,
            None,
            Command::Ota(OtaCommand::SendText {
                to: Addressee::Talkgroup(g()),
                text: "全体集合".into(),
            }),
        ),
    );
    let op = reply_operation(&out);
    let sites: Vec<SiteId> = op.deliveries.iter().map(|d| d.site.clone()).collect();
    assert_eq!(sites, vec![site(S2), site(S1)], "every site of a member");
    let Output::Event(Event {
        kind: EventKind::MessageSent { message },
        ..
    }) = &out[1]
    else {
        panic!("the outbound message: {:?}", out[1]);
    };
    assert_eq!(
        (message.direction, message.to, message.operation),
        (Direction::Outbound, Addressee::Talkgroup(g()), Some(op.id))
    );
    let text = AirMessage::Text {
        to: Addressee::Talkgroup(g()),
        text: "全体集合".into(),
    };
    assert_eq!(
        out[3..],
        [
            group_sent(1_000, 0, S2, 540),
            transmit(S2, AirProfile::Pdt, text.clone(), Priority::Normal, 0, 1),
            group_sent(1_000, 0, S1, 540),
            transmit(S1, AirProfile::Pdt, text, Priority::Normal, 0, 1),
        ]
    );
    // Not succeeded at hand-over: only once the link reports it sent on every site.
    assert_eq!(
        h.run(1_540, link_sent(0, 1, S2, Slot::One, 1_540)),
        vec![site_sent(1_540, 0, S2, 1_540)]
    );
    assert_eq!(
        h.run(1_600, link_sent(0, 1, S1, Slot::One, 1_590)),
        vec![
            site_sent(1_600, 0, S1, 1_590),
            ev(
                1_600,
                EventKind::OperationSucceeded {
                    operation: OperationId(0),
                    delivery: Some(DeliveryLevel::Transmitted),
                    result: None,
                }
            ),
        ]
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!(op.delivery_level(), Some(DeliveryLevel::Transmitted));
    h.assert_replay();
}

/// Group traffic handed to the link on a site: its fallback deadline is the air time plus
/// the 5 s grace for the sent report.
fn group_sent(at: u64, op: u64, site_name: &str, cost: u64) -> Output {
    ev(
        at,
        EventKind::OperationTransmitted {
            operation: OperationId(op),
            site: site(site_name),
            attempt: 1,
            busy_until: Timestamp(at + cost),
            deadline: Some(Timestamp(at + cost + 5_000)),
            slot: Some(Slot::One),
        },
    )
}

fn site_sent(at: u64, op: u64, site_name: &str, sent_at: u64) -> Output {
    ev(
        at,
        EventKind::OperationSiteSent {
            operation: OperationId(op),
            site: site(site_name),
            sent_at: Timestamp(sent_at),
        },
    )
}

const SA: &str = "site-a";
const SB: &str = "site-b";
const SC: &str = "site-c";
const SD: &str = "site-d";

/// Four sites; group G routed statically to site-d; a member of G on each of site-a (A, by
/// its team), site-b (B, affiliated) and site-c (C, affiliated); a radio of another group
/// on site-d. Every link up except those in `down`.
fn four_sites(down: &[&str]) -> Harness {
    let mut h = Harness::new();
    let dsite = |name: &str| DirectorySite {
        id: site(name),
        display_name: None,
        profile: AirProfile::Pdt,
        air: Default::default(),
    };
    h.run(
        0,
        Input::Directory(Directory {
            talkgroups: vec![
                DirectoryTalkgroup {
                    id: g(),
                    name: None,
                    slot: None,
                    sites: vec![site(SD)],
                },
                DirectoryTalkgroup {
                    id: tg("80020911"),
                    name: None,
                    slot: None,
                    sites: Vec::new(),
                },
            ],
            sites: vec![dsite(SA), dsite(SB), dsite(SC), dsite(SD)],
            teams: vec![DirectoryTeam {
                key: "yizu".into(),
                name: "一组".into(),
                radios: vec![a()],
                talkgroup: Some(g()),
                ..Default::default()
            }],
            ..Directory::default()
        }),
    );
    for s in [SA, SB, SC, SD] {
        if !down.contains(&s) {
            h.run(0, Input::SiteUp { site: site(s) });
        }
    }
    let c = radio("80020202");
    let other = radio("80020203");
    h.run(0, air(SA, AirEvent::Registered { radio: a() }));
    h.run(
        0,
        air(
            SB,
            AirEvent::Affiliated {
                radio: b(),
                talkgroup: g(),
            },
        ),
    );
    h.run(
        0,
        air(
            SC,
            AirEvent::Affiliated {
                radio: c,
                talkgroup: g(),
            },
        ),
    );
    h.run(
        0,
        air(
            SD,
            AirEvent::Affiliated {
                radio: other,
                talkgroup: tg("80020911"),
            },
        ),
    );
    h
}

fn group_text(token: u64) -> Input {
    command(
        token,
        None,
        Command::Ota(OtaCommand::SendText {
            to: Addressee::Talkgroup(g()),
            text: "集合".into(),
        }),
    )
}

#[test]
fn group_text_goes_to_every_member_site_and_the_static_one() {
    let mut h = four_sites(&[]);
    let out = h.run(1_000, group_text(1));
    let op = reply_operation(&out);
    assert!(matches!(
        &out[0],
        Output::Event(Event {
            kind: EventKind::OperationCreated { .. },
            ..
        })
    ));
    let text = AirMessage::Text {
        to: Addressee::Talkgroup(g()),
        text: "集合".into(),
    };
    // "集合": 5 + 4 + 4 octets, 2 blocks + header + 6 preambles = 9 bursts = 540 ms.
    let mut expected = Vec::new();
    for s in [SA, SB, SC, SD] {
        expected.push(group_sent(1_000, 0, s, 540));
        expected.push(transmit(
            s,
            AirProfile::Pdt,
            text.clone(),
            Priority::Normal,
            0,
            1,
        ));
    }
    // One outbound message, whatever the number of sites it goes out on.
    assert!(matches!(
        &out[1],
        Output::Event(Event {
            kind: EventKind::MessageSent { .. },
            ..
        })
    ));
    assert_eq!(
        out[3..],
        expected[..],
        "exactly the three member sites and site-d"
    );
    assert_eq!(op.deliveries.len(), 4);
    for (i, s) in [SA, SB, SC].into_iter().enumerate() {
        let at = 1_540 + i as u64;
        assert_eq!(
            h.run(at, link_sent(0, 1, s, Slot::One, at)),
            vec![site_sent(at, 0, s, at)]
        );
    }
    assert_eq!(
        h.core.operation(OperationId(0)).unwrap().state,
        OperationState::Sent,
        "not done while site-d has not reported"
    );
    assert_eq!(
        h.run(1_600, link_sent(0, 1, SD, Slot::One, 1_599)),
        vec![
            site_sent(1_600, 0, SD, 1_599),
            ev(
                1_600,
                EventKind::OperationSucceeded {
                    operation: OperationId(0),
                    delivery: Some(DeliveryLevel::Transmitted),
                    result: None,
                }
            ),
        ]
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!(op.delivery_level(), Some(DeliveryLevel::Transmitted));
    assert!(op.deliveries.iter().all(|d| d.state == DeliveryState::Sent));
    // The other group is only on site-d.
    let out = h.run(
        2_000,
        command(
            2,
            None,
            Command::Ota(OtaCommand::SendStatus {
                to: Addressee::Talkgroup(tg("80020911")),
                status: 7,
            }),
        ),
    );
    let op = reply_operation(&out);
    assert_eq!(
        op.deliveries
            .iter()
            .map(|d| d.site.clone())
            .collect::<Vec<_>>(),
        vec![site(SD)]
    );
    h.assert_replay();
}

#[test]
fn a_site_whose_link_is_down_makes_the_result_partial_and_is_named() {
    let mut h = four_sites(&[SC]);
    let out = h.run(1_000, group_text(1));
    let transmitted: Vec<SiteId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { site, .. } => Some(site.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(transmitted, vec![site(SA), site(SB), site(SD)]);
    for s in [SA, SB, SD] {
        h.run(1_540, link_sent(0, 1, s, Slot::One, 1_540));
    }
    assert_eq!(
        h.core.operation(OperationId(0)).unwrap().state,
        OperationState::Sent
    );
    // site-c's link stays down for the site-down wait (60 s from queueing).
    assert_eq!(h.core.next_deadline(), Some(Timestamp(61_000)));
    assert_eq!(h.run(60_999, Input::Tick), vec![]);
    assert_eq!(
        h.run(61_000, Input::Tick),
        vec![
            ev(
                61_000,
                EventKind::OperationSiteFailed {
                    operation: OperationId(0),
                    site: site(SC),
                    state: DeliveryState::LinkDown,
                }
            ),
            ev(
                61_000,
                EventKind::OperationSucceeded {
                    operation: OperationId(0),
                    delivery: Some(DeliveryLevel::Partial),
                    result: None,
                }
            ),
        ]
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!(op.delivery_level(), Some(DeliveryLevel::Partial));
    let failed: Vec<&SiteId> = op
        .deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::LinkDown)
        .map(|d| &d.site)
        .collect();
    assert_eq!(failed, vec![&site(SC)]);
    h.assert_replay();
}

#[test]
fn a_group_on_no_site_fails_and_a_missing_sent_report_fails_its_site() {
    // Every site down: nothing is sent; after the wait the operation fails.
    let mut h = four_sites(&[SA, SB, SC, SD]);
    let out = h.run(1_000, group_text(1));
    assert!(!out.iter().any(|o| matches!(o, Output::Transmit { .. })));
    let out = h.run(61_000, Input::Tick);
    assert_eq!(out.len(), 5, "{out:?}");
    assert_eq!(
        out[4],
        ev(
            61_000,
            EventKind::OperationFailed {
                operation: OperationId(0),
                failure: FailReason::SiteDown { site: site(SA) }
            }
        )
    );
    h.assert_replay();

    // A link that never reports the transmission sent: that site fails after the air
    // time and the grace; the others were sent, so the result is partial.
    let mut h = four_sites(&[]);
    h.run(1_000, group_text(1));
    for s in [SA, SB, SC] {
        h.run(1_540, link_sent(0, 1, s, Slot::One, 1_540));
    }
    assert_eq!(h.core.next_deadline(), Some(Timestamp(6_540)));
    let out = h.run(6_540, Input::Tick);
    assert_eq!(
        out[0],
        ev(
            6_540,
            EventKind::OperationSiteFailed {
                operation: OperationId(0),
                site: site(SD),
                state: DeliveryState::NotReported,
            }
        )
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!(op.delivery_level(), Some(DeliveryLevel::Partial));
    h.assert_replay();
}

#[test]
fn queue_and_operation_limits_are_bounded() {
    let mut h = Harness::new();
    h.core = Core::new(Config {
        queue_limit: 2,
        max_active_operations: 4,
        ..Config::default()
    });
    h.run(0, Input::SiteUp { site: site(S1) });
    h.run(0, air(S1, AirEvent::Registered { radio: a() }));
    let check = || Command::Ota(OtaCommand::RadioCheck { radio: a() });
    // First is sent; the next two wait; the fourth finds the queue full.
    for token in 1..=3 {
        let out = h.run(1_000, command(token, None, check()));
        assert!(matches!(
            out.last(),
            Some(Output::Reply { result: Ok(_), .. }) | Some(Output::Transmit { .. })
        ));
    }
    assert_eq!(
        h.run(1_000, command(4, None, check())),
        vec![Output::Reply {
            token: 4,
            result: Err(DispatchError::QueueFull {
                site: site(S1),
                limit: 2
            })
        }]
    );
    // The second goes out at 1420; one more fits the queue, then the gateway-wide bound
    // on unfinished operations holds.
    h.run(1_420, Input::Tick);
    let out = h.run(1_430, command(5, None, check()));
    assert!(matches!(
        out.last(),
        Some(Output::Reply { result: Ok(_), .. })
    ));
    assert_eq!(
        h.run(1_440, command(6, None, check())),
        vec![Output::Reply {
            token: 6,
            result: Err(DispatchError::TooManyOperations { limit: 4 })
        }]
    );
}

/// A core with one site of `air` settings, talkgroup `g` on `tg_slot`, radio A heard on TS1
/// and radio B heard on TS2 there.
fn slotted(air_settings: SiteAir, tg_slot: Option<Slot>) -> Harness {
    let mut h = Harness::new();
    h.run(
        0,
        Input::Directory(Directory {
            talkgroups: vec![DirectoryTalkgroup {
                id: g(),
                name: None,
                slot: tg_slot,
                sites: Vec::new(),
            }],
            sites: vec![DirectorySite {
                id: site(S1),
                display_name: None,
                profile: AirProfile::Pdt,
                air: air_settings,
            }],
            ..Directory::default()
        }),
    );
    h.run(0, Input::SiteUp { site: site(S1) });
    h.run(0, air(S1, AirEvent::Registered { radio: a() }));
    let on_ts2 = |event| {
        Input::Air(AirInput {
            site: site(S1),
            slot: Slot::Two,
            rssi_dbm: None,
            event,
        })
    };
    h.run(0, on_ts2(AirEvent::Registered { radio: b() }));
    h.run(
        0,
        on_ts2(AirEvent::Affiliated {
            radio: b(),
            talkgroup: g(),
        }),
    );
    h
}

fn transmits(out: &[Output]) -> Vec<(OperationId, Slot)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit {
                operation, slot, ..
            } => Some((*operation, *slot)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_simplex_site_sends_its_commands_on_timeslot_2() {
    let air_settings = SiteAir {
        slot: Slot::Two,
        ..SiteAir::default()
    };
    let mut h = slotted(air_settings, None);
    let out = h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    assert_eq!(transmits(&out), vec![(OperationId(0), Slot::Two)]);
    assert!(out.contains(&ev(
        1_000,
        EventKind::OperationTransmitted {
            operation: OperationId(0),
            site: site(S1),
            attempt: 1,
            busy_until: Timestamp(1_420),
            deadline: Some(Timestamp(1_000 + 420 + 4_000 + 5_000)),
            slot: Some(Slot::Two),
        }
    )));
    h.assert_replay();
}

#[test]
fn a_talkgroup_with_its_own_slot_gets_group_traffic_there() {
    let mut h = slotted(SiteAir::default(), Some(Slot::Two));
    let text = |token, to| {
        command(
            token,
            None,
            Command::Ota(OtaCommand::SendText {
                to,
                text: "集合".into(),
            }),
        )
    };
    let out = h.run(1_000, text(1, Addressee::Talkgroup(g())));
    assert_eq!(transmits(&out), vec![(OperationId(0), Slot::Two)]);
    // A text to a radio stays on the site's slot, and TS1 is free: it leaves at once too.
    let out = h.run(1_000, text(2, Addressee::Radio(b())));
    assert_eq!(transmits(&out), vec![(OperationId(1), Slot::One)]);
    h.assert_replay();
}

#[test]
fn the_air_time_budget_is_per_slot_and_follows_the_heard_slot() {
    let air_settings = SiteAir {
        follow_heard_slot: true,
        ..SiteAir::default()
    };
    let mut h = slotted(air_settings, None);
    let check = |token, radio| command(token, None, Command::Ota(OtaCommand::RadioCheck { radio }));
    // A on TS1 and B on TS2: both leave at once, each on its radio's slot.
    let out = h.run(1_000, check(1, a()));
    assert_eq!(transmits(&out), vec![(OperationId(0), Slot::One)]);
    let out = h.run(1_000, check(2, b()));
    assert_eq!(transmits(&out), vec![(OperationId(1), Slot::Two)]);
    // A second check to A waits for TS1 (busy until 1420) while TS2 stays free for B.
    let out = h.run(1_100, check(3, a()));
    assert_eq!(transmits(&out), vec![]);
    assert_eq!(
        h.core.site(&site(S1)).unwrap().busy_until,
        [Timestamp(1_420); 2]
    );
    assert_eq!(h.core.next_deadline(), Some(Timestamp(1_420)));
    assert_eq!(transmits(&h.run(1_419, Input::Tick)), vec![]);
    assert_eq!(
        transmits(&h.run(1_420, Input::Tick)),
        vec![(OperationId(2), Slot::One)]
    );
    h.assert_replay();
}

#[test]
fn the_answer_window_starts_when_the_link_reports_the_transmission_sent() {
    let mut h = slotted(SiteAir::default(), None);
    h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    // A report for another attempt or another site changes nothing.
    assert_eq!(h.run(1_300, link_sent(0, 2, S1, Slot::One, 1_300)), vec![]);
    assert_eq!(h.run(1_300, link_sent(0, 1, S2, Slot::One, 1_300)), vec![]);
    // The link was slow: the last burst left at 2500, so the window runs to 6500, where a
    // deadline from the handover would have ended at 5000.
    assert_eq!(
        h.run(2_600, link_sent(0, 1, S1, Slot::One, 2_500)),
        vec![aired(2_600, 0, 1, Slot::One, 2_500, 4_000)]
    );
    assert_eq!(h.run(6_499, Input::Tick), vec![]);
    let out = h.run(
        6_499,
        air(
            S1,
            AirEvent::Answer {
                radio: a(),
                service: Some(Service::RadioCheck),
                answer: Answer::Accepted,
            },
        ),
    );
    assert!(out.contains(&ev(
        6_499,
        EventKind::OperationSucceeded {
            operation: OperationId(0),
            delivery: Some(DeliveryLevel::Confirmed),
            result: Some(OperationResult::RadioCheck {
                site: site(S1),
                rssi_dbm: Some(-80),
            }),
        }
    )));
    h.assert_replay();
}

#[test]
fn extra_air_time_extends_the_busy_time_and_the_answer_window() {
    // MMDVMHost turns each of the 6 network preambles into 15 on the air: 6 × 14 × 60 ms more.
    let air_settings = SiteAir {
        extra_air_ms: 5_040,
        ..SiteAir::default()
    };
    let mut h = slotted(air_settings, None);
    let out = h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::RadioCheck { radio: a() })),
    );
    assert!(out.contains(&ev(
        1_000,
        EventKind::OperationTransmitted {
            operation: OperationId(0),
            site: site(S1),
            attempt: 1,
            busy_until: Timestamp(1_000 + 420 + 5_040),
            deadline: Some(Timestamp(1_000 + 420 + 5_040 + 4_000 + 5_000)),
            slot: Some(Slot::One),
        }
    )));
    assert_eq!(
        h.run(1_420, link_sent(0, 1, S1, Slot::One, 1_420)),
        vec![aired(1_420, 0, 1, Slot::One, 1_420, 9_040)]
    );
    // Without the extra time the attempt would have timed out at 5420.
    assert_eq!(h.run(10_459, Input::Tick), vec![]);
    let out = h.run(10_460, Input::Tick);
    assert_eq!(
        out[0],
        ev(
            10_460,
            EventKind::OperationAttemptTimedOut {
                operation: OperationId(0),
                attempt: 1
            }
        )
    );
    h.assert_replay();
}

#[test]
fn messages_are_marked_read_and_handled_once_with_who() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let out = h.run(
        1_000,
        air(
            S1,
            AirEvent::Text {
                source: a(),
                to: Addressee::Talkgroup(g()),
                text: "桥断了".into(),
            },
        ),
    );
    let id = out
        .iter()
        .find_map(|o| match o {
            Output::Event(Event {
                kind: EventKind::MessageReceived { message },
                ..
            }) => Some(message.id),
            _ => None,
        })
        .expect("the message");
    let mark = |h: &mut Harness, at, mark| {
        h.run(
            at,
            command(3, None, Command::MarkMessage { message: id, mark }),
        )
    };
    let out = mark(&mut h, 2_000, MessageMark::Read);
    assert_eq!(
        out[0],
        ev(
            2_000,
            EventKind::MessageRead {
                message: id,
                operator: "值班员".into()
            }
        )
    );
    // Again: no event, the first mark stays.
    let out = mark(&mut h, 3_000, MessageMark::Read);
    assert!(
        matches!(out.as_slice(), [Output::Reply { result: Ok(Reply::Message(m)), .. }]
        if m.read.as_ref().map(|r| r.at) == Some(Timestamp(2_000)))
    );
    let out = mark(&mut h, 4_000, MessageMark::Handled);
    assert!(matches!(
        &out[0],
        Output::Event(Event {
            kind: EventKind::MessageHandled { .. },
            ..
        })
    ));
    let m = h.core.message(id).unwrap();
    assert_eq!(m.handled.as_ref().map(|x| x.by.as_str()), Some("值班员"));
    assert_eq!(m.read.as_ref().map(|x| x.at), Some(Timestamp(2_000)));
    // Handled and unhandled filters, newest first.
    let unhandled = trunkgate::dispatch::MessageFilter {
        handled: Some(false),
        ..Default::default()
    };
    assert!(
        h.core
            .messages_newest_first(&unhandled, None, 10)
            .items
            .is_empty()
    );
    // An unknown message is refused.
    let out = h.run(
        5_000,
        command(
            4,
            None,
            Command::MarkMessage {
                message: MessageId(99),
                mark: MessageMark::Read,
            },
        ),
    );
    assert!(matches!(
        out.as_slice(),
        [Output::Reply {
            result: Err(DispatchError::UnknownMessage(MessageId(99))),
            ..
        }]
    ));
    h.assert_replay();
}

#[test]
fn stunned_radio_is_refused_before_anything_is_sent() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    h.run(
        1_000,
        command(1, None, Command::Ota(OtaCommand::Stun { radio: a() })),
    );
    h.run(
        1_500,
        air(
            S1,
            AirEvent::Answer {
                radio: a(),
                service: Some(Service::Stun),
                answer: Answer::Accepted,
            },
        ),
    );
    assert_eq!(h.core.radio(a()).unwrap().control, RadioControl::Stunned);
    // A check, an alert, a text, a status and a location request are refused at once:
    // one reply each, no event, no transmission.
    let refused = [
        OtaCommand::RadioCheck { radio: a() },
        OtaCommand::CallAlert { radio: a() },
        OtaCommand::SendText {
            to: Addressee::Radio(a()),
            text: "回电".into(),
        },
        OtaCommand::SendStatus {
            to: Addressee::Radio(a()),
            status: 3,
        },
        OtaCommand::RequestLocation {
            radio: a(),
            periodic: None,
        },
    ];
    for (i, cmd) in refused.into_iter().enumerate() {
        let token = 10 + i as u64;
        assert_eq!(
            h.run(2_000, command(token, None, Command::Ota(cmd))),
            vec![Output::Reply {
                token,
                result: Err(DispatchError::RadioStunned(a()))
            }]
        );
    }
    // Nothing was queued: the site's slot stays free through every deadline.
    assert_eq!(h.run(60_000, Input::Tick), vec![]);
    // Revive is still accepted and goes out.
    let out = h.run(
        61_000,
        command(20, None, Command::Ota(OtaCommand::Revive { radio: a() })),
    );
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Transmit {
                message: AirMessage::Revive { .. },
                ..
            }
        )),
        "{out:?}"
    );
    h.assert_replay();
}

#[test]
fn identities_as_typed_resolve_against_the_directory() {
    use trunkgate::dispatch::ResolveError;
    let mut h = Harness::new();
    let both = 46_001;
    h.run(
        0,
        Input::Directory(Directory {
            radios: vec![
                DirectoryRadio {
                    id: RadioId::new(both).unwrap(),
                    name: None,
                },
                DirectoryRadio {
                    id: RadioId::new(3_100_001).unwrap(),
                    name: None,
                },
            ],
            talkgroups: vec![
                DirectoryTalkgroup {
                    id: TalkgroupId::new(both).unwrap(),
                    name: None,
                    slot: None,
                    sites: Vec::new(),
                },
                DirectoryTalkgroup {
                    id: TalkgroupId::new(9).unwrap(),
                    name: None,
                    slot: None,
                    sites: Vec::new(),
                },
            ],
            sites: vec![],
            teams: vec![],
        }),
    );
    let c = &h.core;
    // A dial number: the plan tells group from individual.
    assert_eq!(c.resolve("80020910"), Ok(Addressee::Talkgroup(g())));
    assert_eq!(c.resolve("80020200"), Ok(Addressee::Radio(a())));
    // Raw addresses by the directory, with or without '#'.
    assert_eq!(
        c.resolve("#9"),
        Ok(Addressee::Talkgroup(TalkgroupId::new(9).unwrap()))
    );
    assert_eq!(
        c.resolve("3100001"),
        Ok(Addressee::Radio(RadioId::new(3_100_001).unwrap()))
    );
    // Known as neither: nothing tells which it is.
    assert_eq!(
        c.resolve("0x2F7A21"),
        Err(ResolveError::Unknown {
            typed: "0x2F7A21".into()
        })
    );
    // Both readings: refused, naming both.
    for typed in ["#46001", "46001", "0xB3B1"] {
        let e = c.resolve(typed).unwrap_err();
        assert!(
            matches!(e, ResolveError::Ambiguous { .. }),
            "{typed}: {e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("radios/") && text.contains("talkgroups/"),
            "{text}"
        );
    }
    assert!(matches!(c.resolve("12x"), Err(ResolveError::Syntax(_))));
}

#[test]
fn data_nobody_decoded_is_an_event_and_its_sender_is_heard() {
    let mut h = Harness::with_radios(AirProfile::TierIii);
    let c = RadioId::new(0x10_0077).unwrap();
    let data = ReceivedData {
        destination: 0xFF_FEC5,
        group: false,
        sap: 4,
        source_port: Some(40_000),
        destination_port: Some(9_999),
        payload: vec![1, 2, 3],
        truncated: 0,
    };
    let out = h.run(
        5_000,
        air(
            S1,
            AirEvent::DataReceived {
                source: c,
                data: data.clone(),
            },
        ),
    );
    assert_eq!(
        out,
        vec![
            heard(5_000, c, S1),
            ev(
                5_000,
                EventKind::DataReceived {
                    radio: c,
                    site: site(S1),
                    data,
                }
            ),
        ]
    );
    assert!(h.core.radio(c).is_some(), "the sender counts as heard");
    // An oversized payload is cut at the bound, and the cut is recorded.
    let big = ReceivedData {
        destination: 1,
        group: false,
        sap: 4,
        source_port: None,
        destination_port: None,
        payload: vec![0; trunkgate::dispatch::MAX_RECEIVED_DATA + 10],
        truncated: 0,
    };
    let out = h.run(
        6_000,
        air(
            S1,
            AirEvent::DataReceived {
                source: c,
                data: big,
            },
        ),
    );
    let Some(Output::Event(Event {
        kind: EventKind::DataReceived { data, .. },
        ..
    })) = out.last()
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (data.payload.len(), data.truncated),
        (trunkgate::dispatch::MAX_RECEIVED_DATA, 10)
    );
    h.assert_replay();
}

#[test]
fn finish_events_of_older_journals_still_read() {
    // Written before delivery levels, results and attempt counts were recorded.
    let old: Event =
        serde_json::from_str(r#"{"at":5,"event":"operation_succeeded","operation":4}"#).unwrap();
    assert_eq!(
        old.kind,
        EventKind::OperationSucceeded {
            operation: OperationId(4),
            delivery: None,
            result: None,
        }
    );
    let old: Event =
        serde_json::from_str(r#"{"at":5,"event":"operation_timed_out","operation":4}"#).unwrap();
    assert_eq!(
        old.kind,
        EventKind::OperationTimedOut {
            operation: OperationId(4),
            attempts: 0,
        }
    );
    // And the new fields are written under the same event names.
    let new = Event {
        at: Timestamp(5),
        kind: EventKind::OperationSucceeded {
            operation: OperationId(4),
            delivery: Some(DeliveryLevel::Partial),
            result: None,
        },
    };
    let json = serde_json::to_string(&new).unwrap();
    assert!(
        json.contains(r#""event":"operation_succeeded""#)
            && json.contains(r#""delivery":"partial""#),
        "{json}"
    );
}

#[test]
fn an_alarm_in_a_group_call_is_acknowledged_on_every_site_of_the_group() {
    // G's members are on site-a, site-b and site-c, and it is routed to site-d; B (on
    // site-b) raises an alarm in a call to G.
    let mut h = four_sites(&[]);
    let alarm = AlarmId(0);
    h.run(
        1_000,
        air(
            SB,
            AirEvent::EmergencyAlarm {
                radio: b(),
                talkgroup: Some(g()),
            },
        ),
    );
    let out = h.run(2_000, command(1, None, Command::AcknowledgeAlarm { alarm }));
    let Output::Event(Event {
        kind: EventKind::OperationCreated { operation: ack },
        ..
    }) = &out[0]
    else {
        panic!("operation created first: {out:#?}");
    };
    assert_eq!(
        ack.deliveries
            .iter()
            .map(|d| d.site.clone())
            .collect::<Vec<_>>(),
        vec![site(SA), site(SB), site(SC), site(SD)]
    );
    let message = AirMessage::EmergencyAck {
        radio: b(),
        talkgroup: Some(g()),
    };
    // Emergency first: out on all four sites at once (7 bursts = 420 ms each), one
    // transmission per site.
    let mut expected = Vec::new();
    for s in [SA, SB, SC, SD] {
        expected.push(group_sent(2_000, 0, s, 420));
        expected.push(transmit(
            s,
            AirProfile::Pdt,
            message.clone(),
            Priority::Emergency,
            0,
            1,
        ));
    }
    assert!(matches!(
        &out[1],
        Output::Event(Event {
            kind: EventKind::AlarmAcknowledged { .. },
            ..
        })
    ));
    assert!(matches!(&out[2], Output::Reply { token: 1, .. }));
    assert_eq!(out[3..], expected[..]);
    for (i, s) in [SA, SB, SC].into_iter().enumerate() {
        let at = 2_420 + i as u64;
        assert_eq!(
            h.run(at, link_sent(0, 1, s, Slot::One, at)),
            vec![site_sent(at, 0, s, at)]
        );
    }
    assert_eq!(
        h.core.operation(OperationId(0)).unwrap().state,
        OperationState::Sent,
        "not done while site-d has not reported"
    );
    assert_eq!(
        h.run(2_500, link_sent(0, 1, SD, Slot::One, 2_500)),
        vec![
            site_sent(2_500, 0, SD, 2_500),
            ev(
                2_500,
                EventKind::OperationSucceeded {
                    operation: OperationId(0),
                    delivery: Some(DeliveryLevel::Transmitted),
                    result: None,
                }
            ),
        ]
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert!(op.deliveries.iter().all(|d| d.state == DeliveryState::Sent));
    assert_eq!(h.core.alarm(alarm).unwrap().state, AlarmState::Acknowledged);

    // An alarm outside a group call is acknowledged to the radio alone, on its site.
    h.run(
        3_000,
        air(
            SC,
            AirEvent::EmergencyAlarm {
                radio: radio("80020202"),
                talkgroup: None,
            },
        ),
    );
    let out = h.run(
        3_100,
        command(2, None, Command::AcknowledgeAlarm { alarm: AlarmId(1) }),
    );
    let transmitted: Vec<SiteId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { site, .. } => Some(site.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(transmitted, vec![site(SC)]);
    h.assert_replay();
}

#[test]
fn a_periodic_location_request_lists_each_poll_outcome() {
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let periodic = Some(Periodic {
        interval_ms: 30_000,
        count: 3,
    });
    h.run(
        1_000,
        command(
            1,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: a(),
                periodic,
            }),
        ),
    );
    let pos = |lat| Position {
        latitude: lat,
        longitude: 120.0,
        accuracy_m: Some(10.0),
        speed_kmh: None,
        heading_deg: None,
        altitude_m: None,
        fix_time: Some(Timestamp(1_900)),
        source: PositionSource::Lrrp,
    };
    let fix = |lat| AirEvent::Position {
        radio: a(),
        position: pos(lat),
    };
    // Poll 1 is answered.
    h.run(2_000, air(S1, fix(30.0)));
    // Poll 2 goes out at 32 s and nobody answers: three attempts, each timing out 4 s
    // (answer timeout) + 5 s (sent-report grace) after its 540 ms air time.
    let out = h.run(32_000, Input::Tick);
    assert_eq!(out[1], sent(32_000, 0, S1, 1, 540, true));
    assert_eq!(h.core.next_deadline(), Some(Timestamp(41_540)));
    h.run(41_540, Input::Tick);
    assert_eq!(h.core.next_deadline(), Some(Timestamp(51_080)));
    h.run(51_080, Input::Tick);
    assert_eq!(h.core.next_deadline(), Some(Timestamp(60_620)));
    assert_eq!(
        h.run(60_620, Input::Tick),
        vec![
            ev(
                60_620,
                EventKind::OperationAttemptTimedOut {
                    operation: OperationId(0),
                    attempt: 3,
                }
            ),
            ev(
                60_620,
                EventKind::OperationPollTimedOut {
                    operation: OperationId(0),
                    poll: 2,
                    attempts: 3,
                    next_poll: Some(Timestamp(90_620)),
                }
            ),
        ],
        "a poll without an answer is recorded and the request goes on"
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!((op.state, op.polls_done), (OperationState::Waiting, 2));
    // Poll 3 is answered: the request succeeded, confirmed by the radio.
    let out = h.run(90_620, Input::Tick);
    assert_eq!(out[1], sent(90_620, 0, S1, 1, 540, true));
    let out = h.run(91_000, air(S1, fix(30.5)));
    assert_eq!(
        out.last(),
        Some(&ev(
            91_000,
            EventKind::OperationSucceeded {
                operation: OperationId(0),
                delivery: Some(DeliveryLevel::Confirmed),
                result: Some(OperationResult::Location {
                    site: site(S1),
                    position: pos(30.5),
                }),
            }
        ))
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!((op.state, op.polls_done), (OperationState::Succeeded, 3));
    assert_eq!(
        op.polls(),
        [
            LocationPoll {
                poll: 1,
                at: Timestamp(2_000),
                outcome: PollOutcome::Position {
                    site: site(S1),
                    position: pos(30.0),
                },
            },
            LocationPoll {
                poll: 2,
                at: Timestamp(60_620),
                outcome: PollOutcome::TimedOut { attempts: 3 },
            },
            LocationPoll {
                poll: 3,
                at: Timestamp(91_000),
                outcome: PollOutcome::Position {
                    site: site(S1),
                    position: pos(30.5),
                },
            },
        ]
    );
    h.assert_replay();

    // A request none of whose polls is answered times out after its last poll.
    let mut h = Harness::with_radios(AirProfile::Pdt);
    let periodic = Some(Periodic {
        interval_ms: 30_000,
        count: 1,
    });
    h.run(
        1_000,
        command(
            1,
            None,
            Command::Ota(OtaCommand::RequestLocation {
                radio: a(),
                periodic,
            }),
        ),
    );
    h.run(10_540, Input::Tick);
    h.run(20_080, Input::Tick);
    assert_eq!(
        h.run(29_620, Input::Tick),
        vec![
            ev(
                29_620,
                EventKind::OperationAttemptTimedOut {
                    operation: OperationId(0),
                    attempt: 3,
                }
            ),
            ev(
                29_620,
                EventKind::OperationPollTimedOut {
                    operation: OperationId(0),
                    poll: 1,
                    attempts: 3,
                    next_poll: None,
                }
            ),
            ev(
                29_620,
                EventKind::OperationTimedOut {
                    operation: OperationId(0),
                    attempts: 3,
                }
            ),
        ]
    );
    let op = h.core.operation(OperationId(0)).unwrap();
    assert_eq!(op.state, OperationState::TimedOut);
    assert_eq!(
        op.polls(),
        [LocationPoll {
            poll: 1,
            at: Timestamp(29_620),
            outcome: PollOutcome::TimedOut { attempts: 3 },
        }]
    );
    h.assert_replay();
}
