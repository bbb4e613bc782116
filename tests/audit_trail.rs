//! The audit trail in the journal: the gateway's driver on a real SQLite journal audits every
//! command (with who, from where, the reason and the outcome, in the commit that carries the
//! command's events), every approval and rejection, configuration changes and entries handed
//! to `record_audit`; retention keeps audit entries younger than the audit retention while it
//! removes the ordinary events around them (SQLite and the in-memory journal alike).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trunkgate::app::driver::{self, DriverConfig};
use trunkgate::dispatch::audit::AUDIT_KINDS;
use trunkgate::dispatch::{
    AirEvent, AirInput, AirProfile, AuditEntry, Command, Config, Directory, DirectoryRadio,
    DirectorySite, Event, EventKind, Input, OperationId, OtaCommand, RadioId, Reply, Request,
    SiteId,
};
use trunkgate::journal::memory::MemoryJournal;
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::journal::{
    Entry, Journal, JournalReader, KindQuery, Retention, RetentionClass, UnixMillis,
};
use trunkgate::link::Slot;

const S1: &str = "城关站";

fn a() -> RadioId {
    "80020200".parse().expect("dial number")
}

fn request(operator: &str, reason: Option<&str>, command: Command) -> Request {
    Request {
        request_id: None,
        operator: Some(operator.into()),
        reason: reason.map(str::to_string),
        client: Some("192.0.2.7:51000".into()),
        command,
    }
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every audit entry journaled so far, oldest first, read from the journal file itself.
fn audit_entries(reader: &dyn JournalReader) -> Vec<AuditEntry> {
    let mut records = reader
        .read_kind(&KindQuery {
            kind: "audit_recorded",
            from: UnixMillis(0),
            until: UnixMillis(i64::MAX),
            before: None,
            limit: 10_000,
        })
        .unwrap();
    records.reverse();
    records
        .iter()
        .map(|r| {
            let e: Event = serde_json::from_slice(&r.payload).unwrap();
            match e.kind {
                EventKind::AuditRecorded { entry } => *entry,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

#[test]
fn every_command_approval_config_change_and_record_audit_call_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let directory = Directory {
        radios: vec![DirectoryRadio {
            id: a(),
            name: None,
        }],
        talkgroups: Vec::new(),
        sites: vec![DirectorySite {
            id: SiteId::new(S1),
            display_name: None,
            profile: AirProfile::Pdt,
            air: Default::default(),
        }],
        teams: Vec::new(),
    };
    // A first start with the defaults, then a start with the configuration file changed:
    // that start journals the change.
    let (handle, thread) = driver::start(
        journal,
        Config::default(),
        None,
        DriverConfig::default(),
        |_| {},
    )
    .unwrap();
    handle.shutdown();
    thread.join().unwrap();
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let reader = journal.reader().unwrap();
    let config = Config {
        kill_approval_window_ms: 120_000,
        ..Config::default()
    };
    let sent = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&sent);
    let (handle, thread) = driver::start(
        journal,
        config,
        Some(directory),
        DriverConfig::default(),
        move |_| *counter.lock().unwrap() += 1,
    )
    .unwrap();
    handle.submit(Input::SiteUp {
        site: SiteId::new(S1),
    });
    handle.submit(Input::Air(AirInput {
        site: SiteId::new(S1),
        slot: Slot::One,
        rssi_dbm: None,
        event: AirEvent::Registered { radio: a() },
    }));
    let run = |r: Request| block(handle.command(r)).expect("driver up");
    // A command that works, one refused, a kill, its approval refused (same identity) and
    // granted (another), a second kill rejected.
    run(request(
        "alice",
        None,
        Command::Ota(OtaCommand::RadioCheck { radio: a() }),
    ))
    .unwrap();
    let unknown: RadioId = "80020299".parse().unwrap();
    run(request(
        "alice",
        None,
        Command::Ota(OtaCommand::CallAlert { radio: unknown }),
    ))
    .unwrap_err();
    let Reply::Operation(k) = run(request(
        "alice",
        Some("电台被盗"),
        Command::Ota(OtaCommand::Kill { radio: a() }),
    ))
    .unwrap() else {
        panic!()
    };
    let decide = |who: &str, op: OperationId, approve: bool| {
        request(
            who,
            Some("核实"),
            Command::DecideApproval {
                operation: op,
                approve,
            },
        )
    };
    run(decide("alice", k.id, true)).unwrap_err();
    run(decide("bob", k.id, true)).unwrap();
    let Reply::Operation(k2) = run(request(
        "alice",
        Some("误报"),
        Command::Ota(OtaCommand::Kill { radio: a() }),
    ))
    .unwrap() else {
        panic!()
    };
    run(decide("bob", k2.id, false)).unwrap();
    // An entry handed in from outside the core (a refusal for lack of rights).
    assert!(handle.record_audit(AuditEntry::new(
        Some("mallory"),
        Some("198.51.100.1:4000"),
        "permission_denied",
        Some("CommandService/KillRadio"),
        None,
        "denied",
    )));
    let deadline = Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let entries = audit_entries(&*reader);
        if entries.iter().any(|e| e.action == "permission_denied") {
            break entries;
        }
        assert!(Instant::now() < deadline, "{entries:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let summary: Vec<(Option<&str>, &str, bool)> = entries
        .iter()
        .map(|e| (e.identity.as_deref(), e.action.as_str(), e.outcome == "ok"))
        .collect();
    assert_eq!(
        summary,
        [
            (None, "config_changed", true),
            (Some("alice"), "check_radio", true),
            (Some("alice"), "alert_radio", false),
            (Some("alice"), "kill_radio", true),
            (Some("alice"), "approve_operation", false),
            (Some("bob"), "approve_operation", true),
            (Some("alice"), "kill_radio", true),
            (Some("bob"), "reject_operation", true),
            (Some("mallory"), "permission_denied", false),
        ]
    );
    let config_change = &entries[0];
    assert_eq!(
        config_change.detail.as_deref(),
        Some("kill_approval_window_ms: 300000 → 120000")
    );
    let refused = &entries[2];
    assert_eq!(refused.outcome, format!("refused: unknown radio {unknown}"));
    let kill = &entries[3];
    assert_eq!(
        (
            kill.client.as_deref(),
            kill.target.as_deref(),
            kill.reason.as_deref(),
            kill.operation
        ),
        (
            Some("192.0.2.7:51000"),
            Some("radios/80020200"),
            Some("电台被盗"),
            Some(k.id)
        )
    );
    assert!(
        entries[4]
            .outcome
            .contains("another identity must decide it")
    );
    assert_eq!(entries[5].operation, Some(k.id));
    handle.shutdown();
    thread.join().unwrap();
}

#[test]
fn audit_entries_are_journaled_in_the_same_commit_as_their_command() {
    // The driver journals a command's events and its audit entry together, audit last.
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let reader = journal.reader().unwrap();
    let (handle, thread) = driver::start(
        journal,
        Config::default(),
        None,
        DriverConfig::default(),
        |_| {},
    )
    .unwrap();
    let before = reader.latest_seq().unwrap();
    block(handle.command(request(
        "alice",
        None,
        Command::Ota(OtaCommand::RadioCheck { radio: a() }),
    )))
    .unwrap()
    .unwrap_err();
    // Answered only once durable: the entry is there when the reply is.
    let after = reader.read_after(before, 100).unwrap();
    let kinds: Vec<&str> = after.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"audit_recorded"), "{kinds:?}");
    handle.shutdown();
    thread.join().unwrap();
}

fn entry(at: i64, kind: &'static str) -> Entry {
    Entry::new(UnixMillis(at), kind, format!("{kind}@{at}"))
}

fn audit_class(window: Duration) -> Retention {
    Retention {
        window: Duration::from_secs(10),
        classes: vec![RetentionClass {
            kinds: AUDIT_KINDS.iter().map(|k| Cow::Borrowed(*k)).collect(),
            window,
        }],
    }
}

fn retention_keeps_audit_entries(journal: &mut dyn Journal) {
    let reader = journal.reader().unwrap();
    journal
        .append(&[
            entry(1_000, "radio_heard"),      // 1: old, ordinary
            entry(1_000, "audit_recorded"),   // 2: older than the audit retention
            entry(2_000, "call_started"),     // 3: old, ordinary
            entry(50_000, "audit_recorded"),  // 4: old, but within the audit retention
            entry(60_000, "radio_heard"),     // 5: old, ordinary
            entry(100_000, "audit_recorded"), // 6: young
            entry(100_000, "radio_heard"),    // 7: young
        ])
        .unwrap();
    journal.save_snapshot(7, b"{}").unwrap();
    // Ordinary retention 10 s, audit retention 60 s, at 100 s: cut-offs 90 s and 40 s.
    let out = journal
        .prune_retention(UnixMillis(100_000), &audit_class(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(out.deleted, 4, "1, 2, 3 and 5 go");
    assert_eq!(out.oldest_available, 5);
    // Cursors: the contiguous rest after the oldest cursor; the island is not served there.
    let after: Vec<u64> = reader
        .read_after(5, 100)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(after, [6, 7]);
    assert_eq!(reader.oldest_seq().unwrap(), Some(6));
    assert!(reader.check_cursor(4).is_err());
    let audit = |reader: &dyn JournalReader| -> Vec<u64> {
        reader
            .read_kind(&KindQuery {
                kind: "audit_recorded",
                from: UnixMillis(0),
                until: UnixMillis(i64::MAX),
                before: None,
                limit: 100,
            })
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(
        audit(&*reader),
        [6, 4],
        "the young audit entry and the island stay"
    );
    let ordinary = reader
        .read_kind(&KindQuery {
            kind: "radio_heard",
            from: UnixMillis(0),
            until: UnixMillis(i64::MAX),
            before: None,
            limit: 100,
        })
        .unwrap();
    assert_eq!(ordinary.len(), 1, "ordinary events around it went");
    // Later, once older than the audit retention, the island goes too (with the ordinary 7);
    // 6 is still within the audit retention and stays, now an island itself.
    let out = journal
        .prune_retention(UnixMillis(120_000), &audit_class(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(out.deleted, 2);
    assert_eq!(out.oldest_available, 7);
    assert_eq!(audit(&*reader), [6]);
    // Plain `prune` (no class) is ordinary retention for everything, islands included.
    let out = journal
        .prune(UnixMillis(1_000_000), Duration::ZERO)
        .unwrap();
    assert_eq!(out.deleted, 1);
    assert!(audit(&*reader).is_empty());
}

#[test]
fn sqlite_retention_keeps_audit_entries_younger_than_the_audit_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    retention_keeps_audit_entries(&mut journal);
    // Reopened, the island and the bounds are as they were left.
    drop(journal);
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    assert_eq!(journal.reader().unwrap().oldest_seq().unwrap(), None);
}

#[test]
fn memory_retention_keeps_audit_entries_younger_than_the_audit_retention() {
    retention_keeps_audit_entries(&mut MemoryJournal::new());
}

#[test]
fn the_audit_class_is_the_audit_event() {
    let e = EventKind::AuditRecorded {
        entry: Box::new(AuditEntry::new(None, None, "x", None, None, "ok")),
    };
    assert_eq!(AUDIT_KINDS, [e.name()]);
    assert!(e.is_audit());
}

#[test]
fn the_gateways_housekeeping_prunes_ordinary_events_and_keeps_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let reader = journal.reader().unwrap();
    let directory = Directory {
        radios: vec![DirectoryRadio {
            id: a(),
            name: None,
        }],
        talkgroups: Vec::new(),
        sites: Vec::new(),
        teams: Vec::new(),
    };
    // Ordinary retention zero: everything up to the oldest kept snapshot may go; the audit
    // class keeps a day.
    let config = DriverConfig {
        snapshot_every: 1,
        retention: Duration::ZERO,
        audit_retention: Duration::from_secs(86_400),
        ..DriverConfig::default()
    };
    let (handle, thread) =
        driver::start(journal, Config::default(), Some(directory), config, |_| {}).unwrap();
    let kinds = |kind: &'static str| {
        reader
            .read_kind(&KindQuery {
                kind,
                from: UnixMillis(0),
                until: UnixMillis(i64::MAX),
                before: None,
                limit: 10_000,
            })
            .unwrap()
            .len()
    };
    let first = request(
        "alice",
        Some("第一条"),
        Command::Ota(OtaCommand::RadioCheck { radio: a() }),
    );
    block(handle.command(first)).unwrap().unwrap_err();
    let first_seq = reader
        .read_kind(&KindQuery {
            kind: "audit_recorded",
            from: UnixMillis(0),
            until: UnixMillis(i64::MAX),
            before: None,
            limit: 1,
        })
        .unwrap()[0]
        .seq;
    // More commands: snapshots follow, and retention prunes behind the oldest one kept,
    // until the first audit entry lies in the pruned prefix.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 1;
    while reader.check_cursor(first_seq).is_ok() {
        assert!(Instant::now() < deadline, "nothing was pruned");
        block(handle.command(request(
            "alice",
            None,
            Command::Ota(OtaCommand::RadioCheck { radio: a() }),
        )))
        .unwrap()
        .unwrap_err();
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    // The ordinary events of the prefix went (the directory, loaded at the start) ...
    assert_eq!(kinds("directory_loaded"), 0);
    // ... and every audit entry is still there, the first one included.
    assert_eq!(kinds("audit_recorded"), n);
    assert_eq!(audit_entries(&*reader)[0].reason.as_deref(), Some("第一条"));
    handle.shutdown();
    thread.join().unwrap();
}
