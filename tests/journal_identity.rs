//! A journal has an identity, and every cursor carries it: a real gateway (`serve::start`
//! in-process, its SQLite journal on disk) and a real gRPC client over 127.0.0.1. A cursor
//! handed out before the journal file was emptied, deleted or replaced is refused with
//! FAILED_PRECONDITION naming the journal the server has, never resumed in unrelated history;
//! the same journal across a restart resumes.

mod access_support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::pb;
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, Running, ServeOptions};
use trunkgate::journal::sqlite::FILE_NAME;
use trunkgate::journal::{Cursor, JournalId};

const DEADLINE: Duration = Duration::from_secs(20);

struct Gateway {
    running: Running,
    join: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
}

impl Gateway {
    async fn start(data: &Path) -> Gateway {
        // The smallest configuration `serve` accepts: one site on a Homebrew master.
        let config = Config::parse(
            r#"
[api]
listen = "127.0.0.1:0"
heartbeat_secs = 1

[[site]]
name = "county"

[homebrew_master]
bind = "127.0.0.1:0"

[[homebrew_master.peer]]
id = 310001
passphrase = "passw0rd"
site = "county"
"#,
        )
        .expect("config");
        let mut config = config;
        config.access = access_support::access_config();
        let options = ServeOptions {
            data_dir: Some(data.to_path_buf()),
            ..ServeOptions::default()
        };
        let shutdown = CancellationToken::new();
        let (running, join) = serve::start(config, &options, shutdown.clone())
            .await
            .expect("gateway starts");
        Gateway {
            running,
            join,
            shutdown,
        }
    }

    fn journal(&self) -> JournalId {
        self.running.driver.hub().identity()
    }

    fn latest_seq(&self) -> u64 {
        self.running.driver.hub().latest_seq()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.join)
            .await
            .expect("the gateway drains in time")
            .expect("serve task");
    }
}

async fn watch(
    api: SocketAddr,
    cursor: String,
    snapshot: bool,
) -> Result<tonic::Streaming<pb::WatchEventsResponse>, tonic::Status> {
    let channel = access_support::connect(api).await.expect("connect");
    pb::event_service_client::EventServiceClient::new(channel)
        .watch_events(pb::WatchEventsRequest {
            cursor,
            snapshot,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn next(
    s: &mut tonic::Streaming<pb::WatchEventsResponse>,
) -> pb::watch_events_response::Kind {
    tokio::time::timeout(DEADLINE, s.message())
        .await
        .expect("a message in time")
        .expect("stream ok")
        .expect("stream open")
        .kind
        .expect("kind")
}

/// A cursor as a client gets one: the end of a snapshot.
async fn snapshot_cursor(api: SocketAddr) -> String {
    let mut s = watch(api, String::new(), true).await.expect("watch");
    loop {
        if let pb::watch_events_response::Kind::SnapshotComplete(c) = next(&mut s).await {
            return c.cursor;
        }
    }
}

/// The refusal of a cursor of another journal: FAILED_PRECONDITION naming both journals.
fn assert_other_journal(e: &tonic::Status, server: JournalId, cursor: &Cursor) {
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let info = e.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "JOURNAL_MISMATCH");
    assert_eq!(info.metadata["journal"], server.to_string());
    assert_eq!(info.metadata["cursor_journal"], cursor.journal.to_string());
    assert!(e.message().contains(&server.to_string()), "{}", e.message());
}

fn remove_journal(data: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let f = data.join("journal").join(format!("{FILE_NAME}{suffix}"));
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove {}: {e}", f.display()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_cursor_is_refused_after_the_journal_was_emptied_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for empty_file in [false, true] {
        let gw = Gateway::start(&data).await;
        let old: Cursor = snapshot_cursor(gw.running.api).await.parse().unwrap();
        assert_eq!(old.journal, gw.journal());
        gw.stop().await;

        remove_journal(&data);
        if empty_file {
            // An empty file where the journal was: opened as a new journal.
            std::fs::write(data.join("journal").join(FILE_NAME), b"").unwrap();
        }
        let gw = Gateway::start(&data).await;
        assert_ne!(
            gw.journal(),
            old.journal,
            "a re-created journal is a new journal"
        );
        // The first event's cursor of the old journal (handed to any watcher from the start)
        // is in range of the new one, so a bare number would resume there; and the
        // snapshot's cursor. Both refused, with or without a snapshot asked for.
        assert!(gw.latest_seq() >= 1);
        for cursor in [Cursor::new(old.journal, 1), old] {
            for snapshot in [false, true] {
                let e = watch(gw.running.api, cursor.to_string(), snapshot)
                    .await
                    .map(|_| ())
                    .unwrap_err();
                assert_other_journal(&e, gw.journal(), &cursor);
            }
        }
        // A resync gives cursors of the new journal, which resume.
        let new = snapshot_cursor(gw.running.api).await;
        assert!(watch(gw.running.api, new, false).await.is_ok());
        gw.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_cursor_is_refused_after_the_journal_was_replaced_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let (data, elsewhere) = (dir.path().join("data"), dir.path().join("elsewhere"));
    let gw = Gateway::start(&data).await;
    let old: Cursor = snapshot_cursor(gw.running.api).await.parse().unwrap();
    gw.stop().await;
    let gw = Gateway::start(&elsewhere).await;
    let replacement = gw.journal();
    gw.stop().await;

    // Another gateway's journal (its file and write-ahead log) copied over this one.
    remove_journal(&data);
    for suffix in ["", "-wal"] {
        let name = format!("{FILE_NAME}{suffix}");
        let from = elsewhere.join("journal").join(&name);
        if from.exists() {
            std::fs::copy(from, data.join("journal").join(&name)).unwrap();
        }
    }
    let gw = Gateway::start(&data).await;
    assert_eq!(
        gw.journal(),
        replacement,
        "the identity travels with the file"
    );
    let e = watch(gw.running.api, old.to_string(), false)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_other_journal(&e, replacement, &old);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_journal_across_a_restart_resumes_after_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let gw = Gateway::start(&data).await;
    let first = gw.journal();
    let old: Cursor = snapshot_cursor(gw.running.api).await.parse().unwrap();
    gw.stop().await;

    let gw = Gateway::start(&data).await;
    assert_eq!(gw.journal(), first, "the identity survives the restart");
    // The restart is journaled after the old cursor: the resumed stream starts right there.
    let mut s = watch(gw.running.api, old.to_string(), false)
        .await
        .expect("the same journal's cursor resumes");
    let e = loop {
        if let pb::watch_events_response::Kind::Event(e) = next(&mut s).await {
            break e;
        }
    };
    assert_eq!(e.cursor, Cursor::new(first, old.seq + 1).to_string());
    gw.stop().await;
}
