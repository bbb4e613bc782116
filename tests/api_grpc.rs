//! The gRPC API end to end: generated clients over 127.0.0.1 against `api::serve` and a real
//! dispatch core driven by the in-test backend (tests/api_support).

mod api_support;

use std::time::Duration;

use api_support::{Server, TestBackend, a, b, config};
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::pb;
use trunkgate::dispatch::{AirEvent, AirMessage, Answer, Input, Output, Refusal, SiteId};
use trunkgate::journal::{Cursor, JournalId};

const DEADLINE: Duration = Duration::from_secs(20);

async fn server() -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    Server::start(backend, config()).await
}

fn radio_req(name: &str, request_id: &str) -> pb::RadioCommandRequest {
    pb::RadioCommandRequest {
        name: name.into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

fn state(op: &pb::Operation) -> pb::operation::State {
    pb::operation::State::try_from(op.state).expect("known state")
}

fn bad_field(s: &tonic::Status) -> String {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let br = s.get_details_bad_request().expect("BadRequest details");
    br.field_violations[0].field.clone()
}

fn reason(s: &tonic::Status) -> String {
    let info = s.get_details_error_info().expect("ErrorInfo details");
    assert_eq!(info.domain, "trunkgate.v1");
    info.reason
}

async fn wait(srv: &Server, name: &str) -> pb::Operation {
    let req = pb::WaitOperationRequest {
        name: name.into(),
        timeout: Some(prost_types::Duration {
            seconds: 15,
            nanos: 0,
        }),
    };
    tokio::time::timeout(DEADLINE, srv.operations().wait_operation(req))
        .await
        .expect("wait returned")
        .expect("wait ok")
        .into_inner()
}

#[tokio::test]
async fn radio_check_is_acked_by_the_radio_answer() {
    let srv = server().await;
    let op = srv
        .commands()
        .check_radio(radio_req("radios/80020200", ""))
        .await
        .expect("check")
        .into_inner();
    assert!(op.name.starts_with("operations/"), "{}", op.name);
    assert_eq!(op.target, "radios/80020200");
    assert_eq!(
        pb::operation::Kind::try_from(op.kind).unwrap(),
        pb::operation::Kind::RadioCheck
    );
    assert!(!op.done);
    assert_eq!(srv.backend.transmit_count(), 1);
    // WaitOperation returns once the answer arrives, well before its 15 s timeout.
    let waiter = {
        let srv_ops = srv.operations();
        let name = op.name.clone();
        tokio::spawn(async move {
            let mut c = srv_ops;
            c.wait_operation(pb::WaitOperationRequest {
                name,
                timeout: Some(prost_types::Duration {
                    seconds: 15,
                    nanos: 0,
                }),
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    srv.backend
        .air(AirEvent::Answer {
            radio: a(),
            service: None,
            answer: Answer::Accepted,
        })
        .await;
    let done = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("wait returned on the answer")
        .expect("task")
        .expect("wait ok")
        .into_inner();
    assert_eq!(state(&done), pb::operation::State::Succeeded);
    assert!(done.done);
    assert_eq!(done.attempts, 1);
}

#[tokio::test]
async fn stun_refused_and_check_timed_out() {
    let srv = server().await;
    let stun = srv
        .commands()
        .stun_radio(radio_req("radios/80020200", ""))
        .await
        .unwrap()
        .into_inner();
    srv.backend
        .air(AirEvent::Answer {
            radio: a(),
            service: None,
            answer: Answer::Refused(Refusal { code: 0x25 }),
        })
        .await;
    let stun = wait(&srv, &stun.name).await;
    assert_eq!(state(&stun), pb::operation::State::Refused);
    assert_eq!(stun.refusal_code, Some(0x25));

    // Radio B by its air address in hex; it never answers.
    let hex = format!("radios/0x{:06X}", b().air());
    let check = srv
        .commands()
        .check_radio(radio_req(&hex, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(check.target, "radios/80020201");
    for _ in 0..8 {
        srv.backend.advance(2_500).await;
    }
    let check = wait(&srv, &check.name).await;
    assert_eq!(state(&check), pb::operation::State::TimedOut);
    assert_eq!(check.attempts, 3);
}

#[tokio::test]
async fn request_id_is_idempotent_and_reuse_is_already_exists() {
    let srv = server().await;
    let mut c = srv.commands();
    let first = c
        .check_radio(radio_req("radios/80020200", "req-1"))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .check_radio(radio_req("radios/80020200", "req-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.name, again.name);
    assert_eq!(again.request_id, "req-1");
    let checks = srv
        .backend
        .transmits
        .lock()
        .unwrap()
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::Transmit {
                    message: AirMessage::RadioCheck { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(checks, 1);
    let reused = c
        .stun_radio(radio_req("radios/80020200", "req-1"))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn emergency_raised_acknowledged_over_the_air_and_resolved() {
    let srv = server().await;
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    let mut alarms = srv.alarms();
    let list = alarms
        .list_alarms(pb::ListAlarmsRequest {
            state: pb::alarm::State::Raised as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.alarms.len(), 1);
    let alarm = &list.alarms[0];
    assert_eq!(alarm.radio, "radios/80020200");
    let before = srv.backend.transmit_count();
    let mut req = tonic::Request::new(pb::AcknowledgeAlarmRequest {
        name: alarm.name.clone(),
        request_id: String::new(),
    });
    req.metadata_mut()
        .insert("trunkgate-operator", "duty-officer".parse().unwrap());
    let acked = alarms.acknowledge_alarm(req).await.unwrap().into_inner();
    let acked_alarm = acked.alarm.unwrap();
    assert_eq!(acked_alarm.state, pb::alarm::State::Acknowledged as i32);
    assert_eq!(acked_alarm.acknowledged_by, "duty-officer");
    let op = acked.operation.expect("acknowledgement operation");
    assert_eq!(op.kind, pb::operation::Kind::AcknowledgeEmergency as i32);
    assert_eq!(srv.backend.transmit_count(), before + 1);
    assert!(matches!(
        srv.backend.transmits.lock().unwrap().last(),
        Some(Output::Transmit {
            message: AirMessage::EmergencyAck { .. },
            ..
        })
    ));
    let resolved = alarms
        .resolve_alarm(pb::ResolveAlarmRequest {
            name: alarm.name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resolved.alarm.unwrap().state,
        pb::alarm::State::Resolved as i32
    );
    let again = alarms
        .resolve_alarm(pb::ResolveAlarmRequest {
            name: alarm.name.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "ALARM_STATE");
    let missing = alarms
        .acknowledge_alarm(pb::AcknowledgeAlarmRequest {
            name: "alarms/999".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn radios_show_dial_and_air_id_and_lists_paginate() {
    let backend = TestBackend::start(1024);
    backend.scene(23).await;
    let srv = Server::start(backend, config()).await;
    let mut radios = srv.radios();
    let by_dial = radios
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let by_hex = radios
        .get_radio(pb::GetRadioRequest {
            name: format!("radios/0x{:06x}", a().air()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_dial, by_hex);
    assert_eq!(by_dial.air_id, a().air());
    assert_eq!(by_dial.dial_number, "80020200");
    assert_eq!(by_dial.display_name, "张三");
    assert_eq!(by_dial.team, "teams/0");
    assert!(by_dial.registered);
    assert_eq!(
        by_dial.presence.unwrap().site,
        format!("sites/{}", api_support::S1)
    );

    // 25 radios in pages of 10.
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = radios
            .list_radios(pb::ListRadiosRequest {
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.radios.len() <= 10);
        names.extend(page.radios.into_iter().map(|r| r.name));
        token = page.next_page_token;
        if token.is_empty() || pages > 10 {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "no radio twice");

    // A filtered list: only team members; a token from another filter is rejected.
    let team = radios
        .list_radios(pb::ListRadiosRequest {
            page_size: 1,
            team: "teams/0".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(team.radios.len(), 1);
    assert!(team.next_page_token.is_empty());
    let first = radios
        .list_radios(pb::ListRadiosRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let wrong = radios
        .list_radios(pb::ListRadiosRequest {
            page_size: 2,
            page_token: first.next_page_token,
            registered_only: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&wrong), "page_token");
    let negative = radios
        .list_radios(pb::ListRadiosRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&negative), "page_size");
    let garbage = radios
        .list_radios(pb::ListRadiosRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&garbage), "page_token");

    // Sites and teams carry display names.
    let mut dir = pb::directory_service_client::DirectoryServiceClient::new(srv.channel.clone());
    let teams = dir
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(teams.teams[0].display_name, "城关镇应急救援队");
    let sites = dir
        .list_sites(pb::ListSitesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(sites.sites[0].link_up);
}

#[tokio::test]
async fn bad_arguments_name_the_field() {
    let srv = server().await;
    let mut c = srv.commands();
    let e = c
        .check_radio(radio_req("radios/123", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "name");
    let e = c.check_radio(radio_req("", "")).await.unwrap_err();
    assert_eq!(bad_field(&e), "name");
    let e = c
        .send_text(pb::SendTextRequest {
            recipient: "radios/80020200".into(),
            text: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "text");
    let e = c
        .send_text(pb::SendTextRequest {
            recipient: "teams/0".into(),
            text: "集合".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "recipient");
    // Out of the core's range: the core's own field name comes back.
    let e = c
        .send_status(pb::SendStatusRequest {
            recipient: "radios/80020200".into(),
            status: 5_000,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "status");
    let e = c
        .check_radio(radio_req("radios/80020200", &"x".repeat(200)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A valid number nobody has heard of.
    let e = c
        .check_radio(radio_req("radios/80030300", ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(reason(&e), "RADIO_NOT_FOUND");
    let e = srv
        .operations()
        .get_operation(pb::GetOperationRequest {
            name: "operations/77".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A group text goes to a talkgroup heard nowhere: a precondition, not a bad argument.
    let e = c
        .send_text(pb::SendTextRequest {
            recipient: "talkgroups/80020910".into(),
            text: "集合".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
}

async fn next(
    s: &mut tonic::Streaming<pb::WatchEventsResponse>,
) -> pb::watch_events_response::Kind {
    tokio::time::timeout(DEADLINE, s.message())
        .await
        .expect("stream message in time")
        .expect("stream ok")
        .expect("stream open")
        .kind
        .expect("kind")
}

async fn next_event(s: &mut tonic::Streaming<pb::WatchEventsResponse>) -> pb::Event {
    loop {
        if let pb::watch_events_response::Kind::Event(e) = next(s).await {
            return e;
        }
    }
}

#[tokio::test]
async fn watch_from_tail_from_cursor_and_with_snapshot() {
    let srv = server().await;
    let start = srv.backend.last_seq();
    assert!(start > 0);
    // Tail: a heartbeat names the latest cursor, then only new events arrive.
    let mut tail = srv
        .events()
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    match next(&mut tail).await {
        pb::watch_events_response::Kind::Heartbeat(h) => {
            assert_eq!(h.cursor, srv.backend.cursor(start))
        }
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: b(),
            talkgroup: None,
        })
        .await;
    let e = next_event(&mut tail).await;
    assert_eq!(e.cursor, srv.backend.cursor(start + 1));
    assert!(
        e.r#type.starts_with("alarm_raised") || e.r#type == "radio_heard",
        "{}",
        e.r#type
    );

    // From a cursor: the replay is every event after it, in order, then live.
    let mut replay = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(0),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let last = srv.backend.last_seq();
    for want in 1..=last {
        assert_eq!(
            next_event(&mut replay).await.cursor,
            srv.backend.cursor(want)
        );
    }
    srv.backend.air(AirEvent::Deregistered { radio: b() }).await;
    let live = next_event(&mut replay).await;
    assert_eq!(live.cursor, srv.backend.cursor(last + 1));
    assert_eq!(live.r#type, "radio_deregistered");
    assert!(matches!(
        live.payload,
        Some(pb::event::Payload::RadioDeregistered(ref d)) if d.radio == "radios/80020201"
    ));

    // Filtered: only alarm events pass; heartbeats still flow.
    let mut alarms_only = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(0),
            filter: "type=alarm_*".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = next_event(&mut alarms_only).await;
    assert_eq!(e.r#type, "alarm_raised");

    // Snapshot: current state, then the marker with its cursor, then events after it.
    let mut snap = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            snapshot: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut radios = Vec::new();
    let mut open_alarms = 0;
    let mut sites = 0;
    let cursor = loop {
        match next(&mut snap).await {
            pb::watch_events_response::Kind::Snapshot(item) => match item.resource {
                Some(pb::snapshot_item::Resource::Radio(r)) => radios.push(r.name),
                Some(pb::snapshot_item::Resource::Alarm(_)) => open_alarms += 1,
                Some(pb::snapshot_item::Resource::Site(_)) => sites += 1,
                _ => {}
            },
            pb::watch_events_response::Kind::SnapshotComplete(c) => break c.cursor,
            other => panic!("unexpected before the snapshot marker: {other:?}"),
        }
    };
    let snapshot_seq = srv.backend.last_seq();
    assert_eq!(cursor, srv.backend.cursor(snapshot_seq));
    assert_eq!(radios, vec!["radios/80020200", "radios/80020201"]);
    assert_eq!(open_alarms, 1);
    assert_eq!(sites, 1);
    srv.backend.air(AirEvent::Registered { radio: b() }).await;
    assert_eq!(
        next_event(&mut snap).await.cursor,
        srv.backend.cursor(snapshot_seq + 1)
    );
}

#[tokio::test]
async fn expired_and_future_cursors_are_refused() {
    let srv = server().await;
    let last = srv.backend.last_seq();
    srv.backend.prune(3);
    let e = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange);
    let info = e.get_details_error_info().unwrap();
    assert_eq!(info.reason, "CURSOR_EXPIRED");
    assert_eq!(info.metadata["oldest_cursor"], srv.backend.cursor(3));
    // The oldest cursor itself works.
    let mut ok = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(3),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_event(&mut ok).await.cursor, srv.backend.cursor(4));
    let e = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(last + 100),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "cursor");
    let e = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            filter: "radio=1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "filter");
}

#[tokio::test]
async fn malformed_legacy_and_foreign_cursors_are_refused_by_name() {
    let srv = server().await;
    let journal = srv.backend.journal_id.to_string();
    let watch = |req: pb::WatchEventsRequest| {
        let mut events = srv.events();
        async move { events.watch_events(req).await.map(|_| ()).unwrap_err() }
    };
    // Malformed: INVALID_ARGUMENT naming `cursor`, never a watch from the tail.
    for bad in [
        "12".to_string(),
        journal.clone(),
        format!("{journal}."),
        format!("{journal}.-1"),
        format!("{journal}.01"),
        format!("{}.5", journal.to_uppercase()),
        format!("{}.5", &journal[1..]),
        format!("{journal}.5 "),
        "x".repeat(10_000),
    ] {
        let e = watch(pb::WatchEventsRequest {
            cursor: bad.clone(),
            ..Default::default()
        })
        .await;
        assert_eq!(bad_field(&e), "cursor", "{bad:?}");
        assert!(e.message().len() < 400, "the message stays short");
    }
    // The numeric cursor of earlier versions names no journal: refused, not ignored.
    let e = watch(pb::WatchEventsRequest {
        legacy_cursor: Some(3),
        ..Default::default()
    })
    .await;
    assert_eq!(bad_field(&e), "legacy_cursor");
    // Well formed, in range, but of another journal: FAILED_PRECONDITION naming both.
    let other = JournalId::from_bytes([0x5a; 16]);
    assert_ne!(other, srv.backend.journal_id);
    let e = watch(pb::WatchEventsRequest {
        cursor: Cursor::new(other, 1).to_string(),
        ..Default::default()
    })
    .await;
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let info = e.get_details_error_info().unwrap();
    assert_eq!(info.reason, "JOURNAL_MISMATCH");
    assert_eq!(info.metadata["journal"], journal);
    assert_eq!(info.metadata["cursor_journal"], other.to_string());
    assert!(e.message().contains(&journal), "{}", e.message());
    // Even with a snapshot asked for: the cursor decides, and it is refused.
    let e = watch(pb::WatchEventsRequest {
        cursor: Cursor::new(other, 1).to_string(),
        snapshot: true,
        ..Default::default()
    })
    .await;
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
}

#[tokio::test]
async fn a_slow_watcher_is_cut_with_its_resume_cursor() {
    // The journal hub's per-subscriber queue holds 256 events.
    let backend = TestBackend::start(256);
    backend.scene(0).await;
    let srv = Server::start(backend, config()).await;
    let mut slow = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(srv.backend.last_seq()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = srv.backend.last_seq();
    // Far more than the HTTP/2 windows (hyper's default 2 MB stream window), send buffers
    // and queues hold while the client reads nothing: about 14,800 events fit here.
    for i in 0..40_000u32 {
        let r = if i % 2 == 0 { a() } else { b() };
        let event = if i % 4 < 2 {
            AirEvent::Deregistered { radio: r }
        } else {
            AirEvent::Registered { radio: r }
        };
        srv.backend.air(event).await;
    }
    let total = srv.backend.last_seq();
    // Now read: events in order, then RESOURCE_EXHAUSTED naming the last one delivered.
    let mut expect = first + 1;
    let status = loop {
        match tokio::time::timeout(DEADLINE, slow.message())
            .await
            .expect("in time")
        {
            Ok(Some(m)) => {
                if let Some(pb::watch_events_response::Kind::Event(e)) = m.kind {
                    assert_eq!(
                        e.cursor,
                        srv.backend.cursor(expect),
                        "no gap before the cut"
                    );
                    expect += 1;
                }
                assert!(expect <= total, "every event fit in the buffers: no cut");
            }
            Ok(None) => panic!("stream ended without the slow-watcher status"),
            Err(s) => break s,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "WATCHER_LAGGED");
    let resume: Cursor = info.metadata["resume_cursor"].parse().unwrap();
    assert_eq!(resume.journal, srv.backend.journal_id);
    let resume = resume.seq;
    assert_eq!(
        resume,
        expect - 1,
        "resume cursor is the last event delivered"
    );
    assert!(resume < total);
    // Resuming there loses nothing.
    let mut again = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(resume),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next_event(&mut again).await.cursor,
        srv.backend.cursor(resume + 1)
    );
}

#[tokio::test]
async fn health_follows_links_and_shutdown() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let backend = TestBackend::start(1024);
    let mut srv = Server::start(backend, config()).await;
    let mut health = HealthClient::new(srv.channel.clone());
    let check = |service: &str| tonic_health::pb::HealthCheckRequest {
        service: service.into(),
    };
    let mut watch = health
        .watch(check("trunkgate.v1.CommandService"))
        .await
        .unwrap()
        .into_inner();
    let mut next_status = async || {
        tokio::time::timeout(DEADLINE, watch.message())
            .await
            .expect("health in time")
            .expect("health ok")
            .expect("health open")
            .status
    };
    // No link yet.
    assert_eq!(next_status().await, ServingStatus::NotServing as i32);
    srv.backend.scene(0).await;
    assert_eq!(next_status().await, ServingStatus::Serving as i32);
    let overall = health.check(check("")).await.unwrap().into_inner();
    assert_eq!(overall.status, ServingStatus::Serving as i32);
    srv.backend
        .input(Input::SiteDown {
            site: SiteId::new(api_support::S1),
        })
        .await;
    assert_eq!(next_status().await, ServingStatus::NotServing as i32);
    srv.backend
        .input(Input::SiteUp {
            site: SiteId::new(api_support::S1),
        })
        .await;
    assert_eq!(next_status().await, ServingStatus::Serving as i32);
    srv.stop().await;
    assert_eq!(next_status().await, ServingStatus::NotServing as i32);
    let ended = tokio::time::timeout(DEADLINE, &mut srv.task)
        .await
        .expect("server stops within its grace")
        .expect("task");
    assert!(ended.is_ok(), "{ended:?}");
}

#[tokio::test]
async fn reflection_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let srv = server().await;
    let mut client = ServerReflectionClient::new(srv.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = client
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let msg = tokio::time::timeout(DEADLINE, resp.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("not a service list");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for want in trunkgate::api::SERVICE_NAMES {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(names.iter().any(|n| n == "grpc.health.v1.Health"));

    // The older v1alpha protocol (older grpcurl / grpcui) answers too.
    use tonic_reflection::pb::v1alpha as alpha;
    let mut old = alpha::server_reflection_client::ServerReflectionClient::new(srv.channel.clone());
    let req = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "trunkgate.v1.CommandService".into(),
            ),
        ),
    };
    let mut resp = old
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let msg = tokio::time::timeout(DEADLINE, resp.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        msg.message_response
    else {
        panic!("no file descriptor for the service: {msg:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn shutdown_ends_watch_streams_with_their_resume_cursor() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    let mut srv = Server::start(backend, config()).await;
    let last = srv.backend.last_seq();
    let mut w = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(last - 1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next_event(&mut w).await.cursor, srv.backend.cursor(last));
    srv.stop().await;
    let status = loop {
        match tokio::time::timeout(DEADLINE, w.message())
            .await
            .expect("in time")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream closed without a status"),
            Err(s) => break s,
        }
    };
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "SHUTTING_DOWN");
    assert_eq!(info.metadata["resume_cursor"], srv.backend.cursor(last));
    let ended = tokio::time::timeout(DEADLINE, &mut srv.task)
        .await
        .expect("server stops")
        .expect("task");
    assert!(ended.is_ok(), "{ended:?}");
}

#[tokio::test]
async fn unknown_enum_values_and_wait_arguments_are_invalid() {
    let srv = server().await;
    let mut calls = pb::call_service_client::CallServiceClient::new(srv.channel.clone());
    let e = calls
        .list_calls(pb::ListCallsRequest {
            state: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "state");
    let e = srv
        .operations()
        .wait_operation(pb::WaitOperationRequest {
            name: "operations/0".into(),
            timeout: Some(prost_types::Duration {
                seconds: -1,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "timeout");
    // A short wait on an unanswered operation returns it unfinished.
    let op = srv
        .commands()
        .check_radio(radio_req("radios/80020200", ""))
        .await
        .unwrap()
        .into_inner();
    let waited = srv
        .operations()
        .wait_operation(pb::WaitOperationRequest {
            name: op.name.clone(),
            timeout: Some(prost_types::Duration {
                seconds: 0,
                nanos: 200_000_000,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(waited.name, op.name);
    assert!(!waited.done);
    assert_eq!(state(&waited), pb::operation::State::Sent);
    // Cancelling finishes it; cancelling again is a precondition failure.
    let cancelled = srv
        .operations()
        .cancel_operation(pb::CancelOperationRequest {
            name: op.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&cancelled), pb::operation::State::Cancelled);
    let again = srv
        .operations()
        .cancel_operation(pb::CancelOperationRequest { name: op.name })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "OPERATION_FINISHED");
}
