//! A call-out end to end: `trunkgate serve --demo` (the simulated county's sites log into the
//! gateway's Homebrew master over UDP on 127.0.0.1), a real gRPC client starting the call-out
//! and following it on `WatchEvents`, and the simulated radios' users answering it over the
//! air (docs/callouts.md "The demo"): the county rescue team's leader and three members
//! answer within seconds, two answer late, one declines and one never answers, so the
//! call-out (every member required) escalates to the backup team at the decline and is
//! satisfied once the late answers and the backups' add up. Then
//! `ctl callout start` follows a second call-out to its end and `ctl callout export` prints
//! the per-member CSV. Every wait has a deadline; the gateway is killed at the end.

mod access_support;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use trunkgate::api::pb;
use trunkgate::api::pb::callout_service_client::CalloutServiceClient;
use trunkgate::api::pb::event_service_client::EventServiceClient;

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo gateway's data directory: its token file is there.
static DATA: OnceLock<PathBuf> = OnceLock::new();

fn ctl(api: SocketAddr, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--server", &api.to_string()])
        .args(args)
        .envs(
            DATA.get()
                .map(|d| ("TRUNKGATE_TOKEN_FILE", d.join("demo.token"))),
        )
        .output()
        .expect("trunkgate ctl runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_call_out_is_alerted_answered_declined_escalated_and_satisfied() {
    let dir = tempfile::tempdir().unwrap();
    let api: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let homebrew: SocketAddr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen"])
        .arg(api.to_string())
        .arg("--homebrew")
        .arg(homebrew.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--metrics", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let _gateway = Proc(child);
    let _ = DATA.set(dir.path().to_path_buf());

    // Up, and Qingshan's members registered (generous: a busy machine starts slowly).
    let uri = format!("http://{api}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let channel = loop {
        match tonic::transport::Endpoint::from_shared(uri.clone())
            .unwrap()
            .connect()
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "the gateway did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // The demo's token, written before the API listens.
    let token = std::fs::read_to_string(dir.path().join("demo.token")).expect("the demo token");
    let channel = access_support::with_token(channel, token.trim());
    let mut radios = pb::radio_service_client::RadioServiceClient::new(channel.clone());
    loop {
        let page = radios
            .list_radios(pb::ListRadiosRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await;
        let registered = page.map_or(0, |p| {
            p.into_inner()
                .radios
                .iter()
                .filter(|r| r.team == "teams/county-rescue" && r.registered)
                .count()
        });
        if registered >= 8 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the county team's radios did not register"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Watch the call-out events from now on.
    let mut events = EventServiceClient::new(channel.clone())
        .watch_events(pb::WatchEventsRequest {
            filter: "type = callout_*".into(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    let mut callouts = CalloutServiceClient::new(channel.clone());
    let mut req = tonic::Request::new(pb::StartCalloutRequest {
        title: "山洪预警".into(),
        teams: vec!["teams/county-rescue".into()],
        text: Some("山洪预警，请立即到镇政府集合".into()),
        answer_statuses: vec![1, 2],
        decline_statuses: vec![9],
        deadline: Some(prost_types::Duration {
            seconds: 150,
            nanos: 0,
        }),
        followup_delay: Some(prost_types::Duration {
            seconds: 15,
            nanos: 0,
        }),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("trunkgate-operator", "duty-officer".parse().unwrap());
    let started = callouts
        .start_callout(req)
        .await
        .expect("start")
        .into_inner();
    let at_start: Vec<(String, i32, i32)> = started
        .members
        .iter()
        .map(|m| (m.display_name.clone(), m.state, m.reason))
        .collect();
    assert_eq!(
        started.members.iter().filter(|m| !m.backup).count(),
        8,
        "the county team has eight members: {at_start:?}"
    );
    // Every member must answer, so a member out of coverage (never heard) calls the backups
    // at once; otherwise the decline does, a few seconds later.
    let unheard = started
        .members
        .iter()
        .any(|m| m.state == pb::callout_member::State::NotReachable as i32);
    let want = if unheard {
        pb::callout::State::Escalated
    } else {
        pb::callout::State::Running
    };
    assert_eq!(started.state, want as i32, "{at_start:?}");
    // One group alert per team with a talkgroup (the backups' too, once called).
    assert!(!started.group_operations.is_empty());
    assert_eq!(
        started.operator, "demo",
        "the identity of the token, not the note"
    );

    // Follow the events until it finishes.
    let mut seen: Vec<String> = Vec::new();
    let mut replies = 0;
    let finish = tokio::time::timeout(Duration::from_secs(170), async {
        while let Some(msg) = events.message().await.expect("stream") {
            let Some(pb::watch_events_response::Kind::Event(e)) = msg.kind else {
                continue;
            };
            if e.r#type == "callout_replied" {
                replies += 1;
            }
            seen.push(e.r#type.clone());
            if let Some(pb::event::Payload::CalloutFinished(f)) = e.payload
                && f.callout == started.name
            {
                return f.state;
            }
        }
        panic!("the event stream ended");
    })
    .await
    .expect("the call-out finishes before its deadline");
    let done = callouts
        .get_callout(pb::GetCalloutRequest {
            name: started.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let states: Vec<(String, i32, Option<pb::callout_member::Reply>)> = done
        .members
        .iter()
        .map(|m| (m.display_name.clone(), m.state, m.reply.clone()))
        .collect();
    assert_eq!(
        finish,
        pb::callout::State::Satisfied as i32,
        "{states:#?}\n{seen:?}"
    );
    let member = |name: &str| {
        done.members
            .iter()
            .find(|m| m.display_name == name)
            .unwrap_or_else(|| panic!("{name} is a member: {states:#?}"))
    };
    // The leader answered "on my way", 陈明 declined, 杨勇 never answered, 刘洋 answered late.
    let leader = member("王建国");
    assert_eq!(leader.state, pb::callout_member::State::Answered as i32);
    assert_eq!(
        leader.reply,
        Some(pb::callout_member::Reply::ReplyStatus(2))
    );
    assert!(
        leader.alert_time.is_some(),
        "alerted by the group transmission"
    );
    let wu = member("陈明");
    assert_eq!(wu.state, pb::callout_member::State::Declined as i32);
    assert_eq!(wu.reply, Some(pb::callout_member::Reply::ReplyStatus(9)));
    let sun = member("杨勇");
    let late = member("刘洋");
    assert_eq!(late.state, pb::callout_member::State::Answered as i32);
    assert!(
        late.reply_time.as_ref().map(|t| t.seconds)
            > started.create_time.as_ref().map(|t| t.seconds + 30),
        "刘洋 answers after 40 s"
    );
    assert_eq!(sun.reply, None, "{states:#?}");
    // The decline made "everyone" impossible: the backups were called and answered.
    assert!(done.escalate_time.is_some(), "{states:#?}");
    assert!(!done.backup_teams_called.is_empty());
    assert!(
        done.members
            .iter()
            .any(|m| m.backup && m.state == pb::callout_member::State::Answered as i32),
        "{states:#?}"
    );
    assert!(
        replies >= 5,
        "replies seen on the stream: {replies}; {seen:?}"
    );
    for t in [
        "callout_started",
        "callout_member_updated",
        "callout_escalated",
    ] {
        assert!(seen.iter().any(|s| s == t), "{t} in {seen:?}");
    }

    // The CLI: a leaders-only call-out of the Qingshan team with a status and a text (the
    // status goes first), followed to its end.
    let out = ctl(
        api,
        &[
            "callout",
            "start",
            "--team",
            "qingshan",
            "--leaders",
            "--status",
            "5",
            "--text",
            "青山镇应急分队队长请回复",
            "--answer",
            "1,2",
            "--decline",
            "9",
            "--deadline",
            "90",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SATISFIED"), "{text}");
    assert!(text.contains("周涛 (57120208)"), "{text}");
    assert!(text.contains("answered"), "{text}");
    // Its results for the after-action review.
    let out = ctl(
        api,
        &["callout", "export", &started.name, "--format", "csv"],
    );
    assert!(out.status.success());
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("callout,radio,name,"), "{csv}");
    assert!(
        csv.contains("陈明,teams/county-rescue,member,false,"),
        "{csv}"
    );
    assert!(csv.contains(",declined,,status 9,"), "{csv}");
    let out = ctl(api, &["callout", "list"]);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("山洪预警"), "{list}");
}
