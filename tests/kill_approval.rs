//! The two-person kill and reasons, as scenarios of the dispatch core (explicit times in, the
//! complete list of outputs asserted; every scenario also replays its events onto a fresh
//! core and round-trips the snapshot), plus the kill pending across a real restart: the
//! gateway's driver on a SQLite journal on disk, stopped and started again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trunkgate::app::driver::{self, DriverConfig};
use trunkgate::dispatch::{
    AirEvent, AirInput, AirMessage, AirProfile, Answer, AuditEntry, Command, Config, Core,
    Directory, DirectoryRadio, DirectorySite, DispatchError, Event, EventKind, Input, OperationId,
    OperationState, OtaCommand, Output, Priority, RadioControl, RadioId, Reply, Request, SiteId,
    Timestamp,
};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::link::Slot;

const S1: &str = "城关站";
const WINDOW: u64 = 300_000;

fn a() -> RadioId {
    "80020200".parse().expect("dial number")
}

fn site() -> SiteId {
    SiteId::new(S1)
}

fn ev(at: u64, kind: EventKind) -> Output {
    Output::Event(Event {
        at: Timestamp(at),
        kind,
    })
}

fn request(operator: &str, reason: Option<&str>, command: Command) -> Request {
    Request {
        request_id: None,
        operator: Some(operator.to_string()),
        reason: reason.map(str::to_string),
        client: Some("127.0.0.1:40000".to_string()),
        command,
    }
}

fn kill(token: u64, operator: &str, reason: Option<&str>) -> Input {
    Input::Command {
        token,
        request: request(
            operator,
            reason,
            Command::Ota(OtaCommand::Kill { radio: a() }),
        ),
    }
}

fn decide(token: u64, operator: &str, op: u64, approve: bool) -> Input {
    Input::Command {
        token,
        request: request(
            operator,
            Some("核实无误"),
            Command::DecideApproval {
                operation: OperationId(op),
                approve,
            },
        ),
    }
}

fn directory() -> Directory {
    Directory {
        radios: vec![DirectoryRadio {
            id: a(),
            name: Some("张三".into()),
        }],
        talkgroups: Vec::new(),
        sites: vec![DirectorySite {
            id: site(),
            display_name: None,
            profile: AirProfile::Pdt,
            air: Default::default(),
        }],
        teams: Vec::new(),
    }
}

fn registered() -> Input {
    Input::Air(AirInput {
        site: site(),
        slot: Slot::One,
        rssi_dbm: Some(-80),
        event: AirEvent::Registered { radio: a() },
    })
}

struct Harness {
    core: Core,
    events: Vec<Event>,
}

impl Harness {
    /// Site up, radio A registered on it.
    fn new() -> Harness {
        let mut h = Harness {
            core: Core::new(Config::default()),
            events: Vec::new(),
        };
        h.run(0, Input::Directory(directory()));
        h.run(0, Input::SiteUp { site: site() });
        h.run(0, registered());
        h
    }

    fn run(&mut self, at: u64, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.core.handle(Timestamp(at), input, &mut out);
        for o in &out {
            if let Output::Event(e) = o {
                self.events.push(e.clone());
            }
        }
        out
    }

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

    /// The kill asked for by 王队长 at `at`, awaiting approval: exactly the operation and the
    /// reply, nothing for the air.
    fn ask_kill(&mut self, at: u64) -> trunkgate::dispatch::Operation {
        let out = self.run(at, kill(1, "王队长", Some("电台被盗")));
        let Some(Output::Event(Event {
            kind: EventKind::OperationCreated { operation },
            ..
        })) = out.first()
        else {
            panic!("{out:?}");
        };
        let op = operation.clone();
        assert_eq!(op.state, OperationState::AwaitingApproval);
        assert_eq!(op.reason(), Some("电台被盗"));
        assert_eq!(
            op.approval().map(|a| a.deadline),
            Some(Timestamp(at + WINDOW))
        );
        assert_eq!(
            out,
            vec![
                ev(
                    at,
                    EventKind::OperationCreated {
                        operation: op.clone()
                    }
                ),
                Output::Reply {
                    token: 1,
                    result: Ok(Reply::Operation(Box::new(op.clone()))),
                },
            ]
        );
        assert_eq!(self.core.next_deadline(), Some(Timestamp(at + WINDOW)));
        op
    }
}

fn refused(token: u64, e: DispatchError) -> Vec<Output> {
    vec![Output::Reply {
        token,
        result: Err(e),
    }]
}

#[test]
fn a_kill_approved_by_a_second_supervisor_goes_on_the_air() {
    let mut h = Harness::new();
    let op = h.ask_kill(1_000);
    // Nothing airs while it waits, however long the pacer runs (inside the window).
    assert_eq!(h.run(60_000, Input::Tick), vec![]);
    assert!(h.core.site(&site()).unwrap().queue.is_empty());
    let out = h.run(61_000, decide(2, "李主任", op.id.0, true));
    let approved = h.core.operation(op.id).unwrap().clone();
    assert_eq!(approved.state, OperationState::Sent);
    let decided = approved.approval().unwrap().decided.clone().unwrap();
    assert_eq!(
        (decided.by.as_str(), decided.at, decided.approved),
        ("李主任", Timestamp(61_000), true)
    );
    let mut queued = approved.clone();
    queued.state = OperationState::Queued;
    queued.attempts = 0;
    queued.deadline = None;
    queued.queued_at = Timestamp(61_000);
    queued.site = Some(site());
    assert_eq!(
        out,
        vec![
            ev(
                61_000,
                EventKind::OperationApproved {
                    operation: op.id,
                    approver: "李主任".into(),
                    reason: Some("核实无误".into()),
                }
            ),
            ev(
                61_000,
                EventKind::OperationQueued {
                    operation: op.id,
                    site: site()
                }
            ),
            Output::Reply {
                token: 2,
                result: Ok(Reply::Operation(Box::new(queued))),
            },
            ev(
                61_000,
                EventKind::OperationTransmitted {
                    operation: op.id,
                    site: site(),
                    attempt: 1,
                    busy_until: Timestamp(61_420),
                    deadline: Some(Timestamp(61_000 + 420 + 4_000 + 5_000)),
                    slot: Some(Slot::One),
                }
            ),
            Output::Transmit {
                site: site(),
                slot: Slot::One,
                profile: AirProfile::Pdt,
                message: AirMessage::Kill { radio: a() },
                priority: Priority::Control,
                operation: op.id,
                attempt: 1,
            },
        ]
    );
    // The radio acknowledges: killed.
    h.run(
        62_000,
        Input::Air(AirInput {
            site: site(),
            slot: Slot::One,
            rssi_dbm: None,
            event: AirEvent::Answer {
                radio: a(),
                service: None,
                answer: Answer::Accepted,
            },
        }),
    );
    assert_eq!(h.core.radio(a()).unwrap().control, RadioControl::Killed);
    assert_eq!(
        h.core.operation(op.id).unwrap().state,
        OperationState::Succeeded
    );
    // The window no longer matters once approved.
    assert_eq!(h.run(1_000 + WINDOW, Input::Tick), vec![]);
    h.assert_replay();
}

#[test]
fn the_same_identity_cannot_approve_or_reject_its_own_kill() {
    let mut h = Harness::new();
    let op = h.ask_kill(1_000);
    for approve in [true, false] {
        assert_eq!(
            h.run(2_000, decide(2, "王队长", op.id.0, approve)),
            refused(
                2,
                DispatchError::SameIdentity {
                    operation: op.id,
                    identity: "王队长".into()
                }
            )
        );
    }
    // No identity at all cannot tell itself from the requester either.
    let anonymous = Input::Command {
        token: 3,
        request: Request {
            operator: None,
            ..request(
                "",
                None,
                Command::DecideApproval {
                    operation: op.id,
                    approve: true,
                },
            )
        },
    };
    assert_eq!(
        h.run(2_000, anonymous),
        refused(3, DispatchError::ApproverUnknown { operation: op.id })
    );
    assert_eq!(
        h.core.operation(op.id).unwrap().state,
        OperationState::AwaitingApproval
    );
    // Approving something that needs no approval is refused too.
    let out = h.run(
        2_100,
        Input::Command {
            token: 4,
            request: request(
                "王队长",
                None,
                Command::Ota(OtaCommand::RadioCheck { radio: a() }),
            ),
        },
    );
    let Some(Output::Reply {
        result: Ok(Reply::Operation(check)),
        ..
    }) = out.iter().find(|o| matches!(o, Output::Reply { .. }))
    else {
        panic!("{out:?}");
    };
    let state = h.core.operation(check.id).unwrap().state;
    assert_eq!(
        h.run(2_200, decide(5, "李主任", check.id.0, true)),
        refused(
            5,
            DispatchError::NotAwaitingApproval {
                operation: check.id,
                state
            }
        )
    );
    h.assert_replay();
}

#[test]
fn a_kill_nobody_approves_expires_at_the_end_of_the_window() {
    let mut h = Harness::new();
    let op = h.ask_kill(1_000);
    let due = 1_000 + WINDOW;
    assert_eq!(h.run(due - 1, Input::Tick), vec![]);
    assert_eq!(
        h.run(due, Input::Tick),
        vec![ev(due, EventKind::OperationExpired { operation: op.id })]
    );
    assert_eq!(
        h.core.operation(op.id).unwrap().state,
        OperationState::Expired
    );
    assert_eq!(h.core.next_deadline(), None);
    assert_eq!(
        h.run(due + 1, decide(2, "李主任", op.id.0, true)),
        refused(
            2,
            DispatchError::OperationFinished {
                operation: op.id,
                state: OperationState::Expired
            }
        )
    );
    // An approval that arrives at the deadline, before any tick, finds it expired too, and
    // says so; the expiry is journaled all the same.
    let second = h.run(
        due + 10,
        Input::Command {
            token: 3,
            request: request(
                "王队长",
                Some("电台被盗"),
                Command::Ota(OtaCommand::Kill { radio: a() }),
            ),
        },
    );
    let second = match &second[..] {
        [
            Output::Event(_),
            Output::Reply {
                result: Ok(Reply::Operation(op)),
                ..
            },
        ] => op.id,
        other => panic!("{other:?}"),
    };
    let late = due + 10 + WINDOW;
    assert_eq!(
        h.run(late, decide(4, "李主任", second.0, true)),
        vec![
            ev(late, EventKind::OperationExpired { operation: second }),
            Output::Reply {
                token: 4,
                result: Err(DispatchError::ApprovalExpired { operation: second }),
            },
        ]
    );
    assert!(h.core.site(&site()).unwrap().queue.is_empty());
    assert_eq!(h.core.radio(a()).unwrap().control, RadioControl::Enabled);
    h.assert_replay();
}

#[test]
fn a_rejected_kill_never_goes_on_the_air() {
    let mut h = Harness::new();
    let op = h.ask_kill(1_000);
    let out = h.run(5_000, decide(2, "李主任", op.id.0, false));
    let rejected = h.core.operation(op.id).unwrap().clone();
    assert_eq!(rejected.state, OperationState::Rejected);
    assert_eq!(
        out,
        vec![
            ev(
                5_000,
                EventKind::OperationRejected {
                    operation: op.id,
                    approver: "李主任".into(),
                    reason: Some("核实无误".into()),
                }
            ),
            Output::Reply {
                token: 2,
                result: Ok(Reply::Operation(Box::new(rejected))),
            },
        ]
    );
    assert_eq!(h.run(1_000 + WINDOW, Input::Tick), vec![]);
    h.assert_replay();
}

#[test]
fn stun_and_kill_need_a_reason() {
    let mut h = Harness::new();
    let no_reason = DispatchError::InvalidArgument {
        field: "reason",
        reason: "required for stun and kill",
    };
    for reason in [None, Some("   ")] {
        assert_eq!(
            h.run(1_000, kill(1, "王队长", reason)),
            refused(1, no_reason.clone())
        );
        let stun = Input::Command {
            token: 2,
            request: request(
                "王队长",
                reason,
                Command::Ota(OtaCommand::Stun { radio: a() }),
            ),
        };
        assert_eq!(h.run(1_000, stun), refused(2, no_reason.clone()));
    }
    let long = "长".repeat(513);
    assert_eq!(
        h.run(1_000, kill(3, "王队长", Some(&long))),
        refused(
            3,
            DispatchError::InvalidArgument {
                field: "reason",
                reason: "longer than 512 characters",
            }
        )
    );
    // A stun with a reason keeps it with the operation.
    let stun = Input::Command {
        token: 4,
        request: request(
            "王队长",
            Some("疑似丢失"),
            Command::Ota(OtaCommand::Stun { radio: a() }),
        ),
    };
    let out = h.run(1_000, stun);
    let op = out
        .iter()
        .find_map(|o| match o {
            Output::Reply {
                result: Ok(Reply::Operation(op)),
                ..
            } => Some(op.clone()),
            _ => None,
        })
        .expect("stun accepted");
    assert_eq!(op.reason(), Some("疑似丢失"));
    assert_eq!(op.approval(), None, "a stun needs no second person");
    h.assert_replay();
}

#[test]
fn a_pending_kill_survives_a_restart_and_its_window_still_counts() {
    let mut h = Harness::new();
    let op = h.ask_kill(1_000);
    // Restart at 100 s: snapshot + replay, then recovery, which leaves the kill waiting.
    let snapshot = serde_json::to_string(&h.core.snapshot()).unwrap();
    let mut core = Core::restore(serde_json::from_str(&snapshot).unwrap());
    let mut out = Vec::new();
    core.recover(Timestamp(100_000), &mut out);
    assert!(
        out.iter().all(|o| !matches!(
            o,
            Output::Event(Event {
                kind: EventKind::OperationFailed { .. } | EventKind::OperationExpired { .. },
                ..
            })
        )),
        "{out:?}"
    );
    assert_eq!(
        core.operation(op.id).unwrap().state,
        OperationState::AwaitingApproval
    );
    assert_eq!(core.next_deadline(), Some(Timestamp(1_000 + WINDOW)));
    // Still expires at the deadline set when it was asked for.
    let mut out = Vec::new();
    core.handle(Timestamp(1_000 + WINDOW), Input::Tick, &mut out);
    assert_eq!(
        out,
        vec![ev(
            1_000 + WINDOW,
            EventKind::OperationExpired { operation: op.id }
        )]
    );
}

#[test]
fn a_configuration_change_is_audited_with_what_changed() {
    let mut core = Core::new(Config::default());
    let mut out = Vec::new();
    let config = Config {
        kill_approval_window_ms: 60_000,
        ..Config::default()
    };
    core.handle(Timestamp(5), Input::Configure(config.clone()), &mut out);
    let mut entry = AuditEntry::new(None, None, "config_changed", None, None, "ok");
    entry.detail = Some("kill_approval_window_ms: 300000 → 60000".into());
    assert_eq!(
        out,
        vec![
            ev(5, EventKind::ConfigChanged { config }),
            ev(
                5,
                EventKind::AuditRecorded {
                    entry: Box::new(entry)
                }
            ),
        ]
    );
    // The same configuration again changes nothing and audits nothing.
    let mut out = Vec::new();
    core.handle(
        Timestamp(6),
        Input::Configure(core.config().clone()),
        &mut out,
    );
    assert_eq!(out, vec![]);
}

// ---- across a real restart -------------------------------------------------------------------

type Sent = Arc<Mutex<Vec<Output>>>;

fn start(
    dir: &std::path::Path,
    sent: &Sent,
) -> (driver::DriverHandle, std::thread::JoinHandle<()>) {
    let journal = SqliteJournal::open(dir, &SqliteConfig::default()).expect("journal opens");
    let sent = Arc::clone(sent);
    driver::start(
        journal,
        Config::default(),
        Some(directory()),
        DriverConfig::default(),
        move |o| sent.lock().unwrap().push(o),
    )
    .expect("driver starts")
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_kill_pending_across_a_gateway_restart_is_approved_after_it_and_airs() {
    let dir = tempfile::tempdir().unwrap();
    let sent: Sent = Arc::default();
    let (handle, thread) = start(dir.path(), &sent);
    assert!(handle.submit(Input::SiteUp { site: site() }));
    assert!(handle.submit(registered()));
    let reply = block(handle.command(request(
        "王队长",
        Some("电台被盗"),
        Command::Ota(OtaCommand::Kill { radio: a() }),
    )))
    .expect("driver up")
    .expect("kill accepted");
    let Reply::Operation(op) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(op.state, OperationState::AwaitingApproval);
    handle.shutdown();
    thread.join().unwrap();
    assert!(
        sent.lock().unwrap().is_empty(),
        "nothing airs before approval"
    );

    // Reopen the same journal file: the kill is still waiting, with its deadline.
    let (handle, thread) = start(dir.path(), &sent);
    let id = op.id;
    let pending = block(handle.read(move |core, _| core.operation(id).cloned()))
        .unwrap()
        .expect("kept across the restart");
    assert_eq!(pending.state, OperationState::AwaitingApproval);
    assert_eq!(pending.approval(), op.approval());
    // The site comes back and the radio is heard again; another supervisor approves.
    assert!(handle.submit(Input::SiteUp { site: site() }));
    assert!(handle.submit(registered()));
    let same = block(handle.command(request(
        "王队长",
        None,
        Command::DecideApproval {
            operation: id,
            approve: true,
        },
    )))
    .unwrap();
    assert!(
        matches!(same, Err(DispatchError::SameIdentity { .. })),
        "{same:?}"
    );
    let approved = block(handle.command(request(
        "李主任",
        Some("核实无误"),
        Command::DecideApproval {
            operation: id,
            approve: true,
        },
    )))
    .unwrap()
    .expect("approved");
    let Reply::Operation(approved) = approved else {
        panic!("{approved:?}")
    };
    assert_ne!(approved.state, OperationState::AwaitingApproval);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let aired = sent.lock().unwrap().iter().any(|o| {
            matches!(
                o,
                Output::Transmit {
                    message: AirMessage::Kill { .. },
                    operation,
                    ..
                } if *operation == id
            )
        });
        if aired {
            break;
        }
        assert!(Instant::now() < deadline, "the approved kill never aired");
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.shutdown();
    thread.join().unwrap();
}
