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
        // Required for stun and kill, kept for the others.
        reason: "演练".into(),
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
    // Confirmed by the radio itself; the result says where it answered and how strong.
    assert_eq!(done.delivery, pb::DeliveryLevel::Confirmed as i32);
    let result = done.result.expect("a check carries its result").result;
    assert_eq!(
        result,
        Some(pb::operation_result::Result::RadioCheck(
            pb::RadioCheckResult {
                site: "sites/城关站".into(),
                rssi_dbm: Some(-80),
            }
        ))
    );
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
    // The operator is the authenticated identity; the metadata is a note beside it.
    assert_eq!(acked_alarm.acknowledged_by, "tester");
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
    assert_eq!(by_dial.team, "teams/chengguan");
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
            team: "teams/chengguan".into(),
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
        .check_radio(radio_req("radios/123456789", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "name");
    let e = c.check_radio(radio_req("", "")).await.unwrap_err();
    assert_eq!(bad_field(&e), "name");
    let e = c
        .send_text(pb::SendTextRequest {
            name: "radios/80020200".into(),
            text: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "text");
    let e = c
        .send_text(pb::SendTextRequest {
            name: "teams/chengguan".into(),
            text: "集合".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "name");
    // Out of the core's range: the core's own field name comes back.
    let e = c
        .send_status(pb::SendStatusRequest {
            name: "radios/80020200".into(),
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
    // A group text to a talkgroup never heard itself goes to every site where a member is
    // heard (radio A, of the group's team, on 城关站), one entry per site.
    let op = c
        .send_text(pb::SendTextRequest {
            name: "talkgroups/80020910".into(),
            text: "集合".into(),
            request_id: String::new(),
        })
        .await
        .expect("a group with a member heard")
        .into_inner();
    let sites: Vec<&str> = op
        .site_transmissions
        .iter()
        .map(|t| t.site.as_str())
        .collect();
    assert_eq!(sites, vec!["sites/城关站"]);
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

// ---- lists and watches as a console uses them ---------------------------------------------

fn g2() -> trunkgate::dispatch::TalkgroupId {
    "80020911".parse().expect("group number")
}

/// One call: `source` talks to `tg` for a second, then the site clears the channel.
async fn call(
    backend: &TestBackend,
    source: trunkgate::dispatch::RadioId,
    tg: trunkgate::dispatch::TalkgroupId,
) {
    use trunkgate::dispatch::Addressee;
    let target = Addressee::Talkgroup(tg);
    backend
        .air(AirEvent::VoiceLc {
            source,
            target,
            emergency: false,
            privacy: false,
        })
        .await;
    backend.advance(1_000).await;
    backend
        .air(AirEvent::VoiceTerminator { source, target })
        .await;
    backend.air(AirEvent::CallCleared { target }).await;
    backend.advance(1_000).await;
}

fn call_client(srv: &Server) -> pb::call_service_client::CallServiceClient<api_support::Ch> {
    pb::call_service_client::CallServiceClient::new(srv.channel.clone())
}

async fn list_calls(
    srv: &Server,
    req: pb::ListCallsRequest,
) -> Result<pb::ListCallsResponse, tonic::Status> {
    call_client(srv)
        .list_calls(req)
        .await
        .map(|r| r.into_inner())
}

fn call_numbers(calls: &[pb::Call]) -> Vec<u64> {
    calls
        .iter()
        .map(|c| c.name.trim_start_matches("calls/").parse().unwrap())
        .collect()
}

/// The name the API gives the scene's one team (whatever its naming scheme).
async fn team_name(srv: &Server) -> String {
    let mut dir = pb::directory_service_client::DirectoryServiceClient::new(srv.channel.clone());
    let teams = dir
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner();
    teams.teams[0].name.clone()
}

#[tokio::test]
async fn calls_list_newest_first_ordered_filtered_and_paged() {
    let srv = server().await;
    // Five calls: A on G, B on G2, A on G, B on G2, A on G (1 s apart).
    for i in 0..5 {
        let (who, tg) = if i % 2 == 0 {
            (a(), api_support::g())
        } else {
            (b(), g2())
        };
        call(&srv.backend, who, tg).await;
    }

    // Newest first by default, with the total; ended calls keep their talkers.
    let all = list_calls(&srv, pb::ListCallsRequest::default())
        .await
        .unwrap();
    let numbers = call_numbers(&all.calls);
    assert_eq!(numbers.len(), 5, "{all:?}");
    assert!(numbers.windows(2).all(|w| w[0] > w[1]), "{numbers:?}");
    let starts: Vec<i64> = all
        .calls
        .iter()
        .map(|c| c.start_time.unwrap().seconds)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
    assert_eq!(all.total_size, Some(5));
    assert!(all.next_page_token.is_empty());
    for c in &all.calls {
        assert_eq!(c.state, pb::call::State::Ended as i32, "{c:?}");
        assert!(c.talker.is_empty());
        assert_eq!(c.talkers.len(), 1, "an ended call keeps its talkers: {c:?}");
    }
    assert_eq!(all.calls[0].talkers, vec!["radios/80020200".to_string()]);

    // order_by: oldest first, by name either way.
    let asc = list_calls(
        &srv,
        pb::ListCallsRequest {
            order_by: "start_time".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut rev = numbers.clone();
    rev.reverse();
    assert_eq!(call_numbers(&asc.calls), rev);
    let by_name_desc = list_calls(
        &srv,
        pb::ListCallsRequest {
            order_by: " name  desc ".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(call_numbers(&by_name_desc.calls), numbers);
    for bad in ["speed", "name sideways", "name, start_time"] {
        let e = list_calls(
            &srv,
            pb::ListCallsRequest {
                order_by: bad.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(bad_field(&e), "order_by", "{bad}");
        assert!(e.message().contains("column"), "{}", e.message());
    }

    // Filters: talkgroup, radio (any form of its name), site, start time, state.
    let filtered = |filter: &str| {
        let req = pb::ListCallsRequest {
            filter: filter.into(),
            ..Default::default()
        };
        let srv = &srv;
        async move { list_calls(srv, req).await }
    };
    let on_g = filtered("talkgroup = talkgroups/80020910").await.unwrap();
    assert_eq!(on_g.calls.len(), 3);
    assert!(on_g.calls.iter().all(|c| c.target == "talkgroups/80020910"));
    assert_eq!(on_g.total_size, Some(3));
    let by_b = filtered(&format!("radio = \"radios/#{}\"", b().air()))
        .await
        .unwrap();
    assert_eq!(call_numbers(&by_b.calls), vec![numbers[1], numbers[3]]);
    let on_site = filtered(&format!("site = \"sites/{}\"", api_support::S1))
        .await
        .unwrap();
    assert_eq!(on_site.calls.len(), 5);
    let third = &all.calls[2];
    let since = {
        let t = third.start_time.unwrap();
        trunkgate::api::filter::format_rfc3339(t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
    };
    let recent = filtered(&format!("start_time > {since}")).await.unwrap();
    assert_eq!(call_numbers(&recent.calls), numbers[..2].to_vec());
    let recent_on_g = filtered(&format!(
        "start_time >= \"{since}\" AND (talkgroup = talkgroups/80020910 OR NOT state = ENDED)"
    ))
    .await
    .unwrap();
    assert_eq!(
        call_numbers(&recent_on_g.calls),
        vec![numbers[0], numbers[2]]
    );
    assert!(filtered("state = ACTIVE").await.unwrap().calls.is_empty());

    // Filter errors name the field, the column and what was expected.
    let e = filtered("talkgroup = ").await.unwrap_err();
    assert_eq!(bad_field(&e), "filter");
    assert!(
        e.message().contains("column 13") && e.message().contains("value"),
        "{}",
        e.message()
    );
    let e = filtered("speed > 3").await.unwrap_err();
    assert!(
        e.message().contains("talkgroup, radio, site"),
        "{}",
        e.message()
    );
    let e = filtered("start_time > yesterday").await.unwrap_err();
    assert!(e.message().contains("RFC 3339"), "{}", e.message());

    // Pages of two, newest first, each call once; the token is bound to filter and order.
    let mut token = String::new();
    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let page = list_calls(
            &srv,
            pb::ListCallsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(page.calls.len() <= 2);
        seen.extend(call_numbers(&page.calls));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
        tokens.push(token.clone());
    }
    assert_eq!(seen, numbers);
    let first = tokens[0].clone();
    for (req, why) in [
        (
            pb::ListCallsRequest {
                page_token: first.clone(),
                filter: "state = ENDED".into(),
                ..Default::default()
            },
            "another filter",
        ),
        (
            pb::ListCallsRequest {
                page_token: first.clone(),
                order_by: "start_time".into(),
                ..Default::default()
            },
            "another order",
        ),
        (
            pb::ListCallsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "garbage",
        ),
        (
            pb::ListCallsRequest {
                page_token: format!(
                    "{}{}",
                    &first[..first.len() - 1],
                    if first.ends_with('0') { '1' } else { '0' }
                ),
                ..Default::default()
            },
            "tampered",
        ),
        (
            pb::ListCallsRequest {
                page_token: "ff".repeat(600),
                ..Default::default()
            },
            "too long",
        ),
    ] {
        let e = list_calls(&srv, req).await.unwrap_err();
        assert_eq!(bad_field(&e), "page_token", "{why}");
        assert!(
            !e.message().contains(&first),
            "{why}: the token is not echoed"
        );
    }
    // A token of another list is refused too.
    let e = srv
        .radios()
        .list_radios(pb::ListRadiosRequest {
            page_token: first,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "page_token");
}

#[tokio::test]
async fn alarms_operations_and_radios_filter_and_order() {
    let backend = TestBackend::start(1024);
    backend.scene(3).await;
    let srv = Server::start(backend, config()).await;
    let team = team_name(&srv).await;
    assert_eq!(
        team, "teams/chengguan",
        "filters take the configured team name"
    );

    // Alarms from A (in the team) then B (in no team).
    for radio in [a(), b()] {
        srv.backend
            .air(AirEvent::EmergencyAlarm {
                radio,
                talkgroup: None,
            })
            .await;
        srv.backend.advance(1_000).await;
    }
    let mut alarms = srv.alarms();
    let all = alarms
        .list_alarms(pb::ListAlarmsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let radios: Vec<&str> = all.alarms.iter().map(|a| a.radio.as_str()).collect();
    assert_eq!(
        radios,
        ["radios/80020201", "radios/80020200"],
        "newest first"
    );
    assert_eq!(all.total_size, Some(2));
    let of_team = alarms
        .list_alarms(pb::ListAlarmsRequest {
            filter: format!("team = {team} AND state = RAISED"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_team.alarms.len(), 1);
    assert_eq!(of_team.alarms[0].radio, "radios/80020200");
    let oldest_first = alarms
        .list_alarms(pb::ListAlarmsRequest {
            order_by: "raise_time asc".into(),
            filter: "state != RESOLVED".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(oldest_first.alarms[0].radio, "radios/80020200");
    let e = alarms
        .list_alarms(pb::ListAlarmsRequest {
            filter: "state = OPEN".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "filter");
    assert!(
        e.message().contains("RAISED, ACKNOWLEDGED, RESOLVED"),
        "{}",
        e.message()
    );

    // Operations: a check on A, then a stun on B.
    let mut c = srv.commands();
    c.check_radio(radio_req("radios/80020200", ""))
        .await
        .unwrap();
    c.stun_radio(radio_req("radios/80020201", ""))
        .await
        .unwrap();
    let mut ops = srv.operations();
    let all = ops
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<i32> = all.operations.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::operation::Kind::Stun as i32,
            pb::operation::Kind::RadioCheck as i32
        ],
        "newest first"
    );
    let stuns = ops
        .list_operations(pb::ListOperationsRequest {
            filter: format!(
                "kind = STUN AND target = \"radios/0x{:06x}\" AND done = false",
                b().air()
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stuns.operations.len(), 1);
    assert_eq!(stuns.operations[0].target, "radios/80020201");
    let none = ops
        .list_operations(pb::ListOperationsRequest {
            filter: "state = SUCCEEDED OR done = true".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.operations.is_empty());

    // Radios: by team, registration and last heard time; by name in both directions.
    let mut radios = srv.radios();
    let list = |filter: &str, order_by: &str| pb::ListRadiosRequest {
        filter: filter.into(),
        order_by: order_by.into(),
        ..Default::default()
    };
    let members = radios
        .list_radios(list(&format!("team = {team}"), ""))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = members.radios.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["radios/80020200"]);
    let registered = radios
        .list_radios(list("registered = true", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(registered.radios.len(), 2);
    let everyone = radios.list_radios(list("", "")).await.unwrap().into_inner();
    assert_eq!(everyone.total_size, Some(5));
    let heard = radios
        .list_radios(list(
            "last_heard_time >= 2000-01-01T00:00:00Z AND talkgroup:*",
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(heard.radios.is_empty(), "no radio affiliated: {heard:?}");
    let heard = radios
        .list_radios(list("last_heard_time >= 2000-01-01T00:00:00Z", "name desc"))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = heard.radios.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["radios/80020201", "radios/80020200"]);
    let e = radios
        .list_radios(list("", "last_heard_time"))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&e), "order_by");
}

#[tokio::test]
async fn a_watch_filtered_by_team_sees_only_that_team() {
    let srv = server().await;
    let team = team_name(&srv).await;
    assert_eq!(
        team, "teams/chengguan",
        "filters take the configured team name"
    );
    let mut watch = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            filter: format!("team = {team}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // The first message (a heartbeat at the latest) means the stream has begun.
    let _ = next(&mut watch).await;
    // B (no team) deregisters and calls on G2: not the team's.
    srv.backend.air(AirEvent::Deregistered { radio: b() }).await;
    call(&srv.backend, b(), g2()).await;
    // A (the team's) raises an alarm; B calls on G (the team's talkgroup).
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    call(&srv.backend, b(), api_support::g()).await;
    // The end marker: A deregisters.
    srv.backend.air(AirEvent::Deregistered { radio: a() }).await;
    let mut got = Vec::new();
    loop {
        let e = next_event(&mut watch).await;
        let done = e.r#type == "radio_deregistered";
        got.push(e);
        if done {
            break;
        }
    }
    let types: Vec<&str> = got.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "alarm_raised",
            "call_started",
            "call_transmission_ended",
            "call_ended",
            "radio_deregistered"
        ],
        "{got:#?}"
    );
    match &got[1].payload {
        Some(pb::event::Payload::CallStarted(c)) => {
            assert_eq!(c.target, "talkgroups/80020910");
            assert_eq!(c.talker, "radios/80020201");
        }
        other => panic!("{other:?}"),
    }
    match &got[4].payload {
        Some(pb::event::Payload::RadioDeregistered(d)) => assert_eq!(d.radio, "radios/80020200"),
        other => panic!("{other:?}"),
    }

    // Radio, talkgroup and site filters, and an unknown field, by name.
    for (filter, ok) in [
        ("radio = radios/80020201 AND type = radio_*", true),
        ("talkgroup = talkgroups/80020910", true),
        ("site = \"sites/城关站\" OR type = gateway_restarted", true),
        ("callsign = x", false),
        ("team = 0", false),
    ] {
        let r = srv
            .events()
            .watch_events(pb::WatchEventsRequest {
                filter: filter.into(),
                ..Default::default()
            })
            .await;
        match r {
            Ok(_) => assert!(ok, "{filter}"),
            Err(e) => {
                assert!(!ok, "{filter}: {e:?}");
                assert_eq!(bad_field(&e), "filter");
            }
        }
    }
}

/// `call_started` → `CallStarted`: the name of the payload's oneof case.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn each_event_has_one_schema_the_typed_payload() {
    use prost::Message;
    // The contract: Event has no second (JSON) schema; field 4 and its name stay reserved.
    let fds = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let event = fds
        .file
        .iter()
        .filter(|f| f.package() == "trunkgate.v1")
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == "Event")
        .expect("Event");
    assert!(
        event
            .field
            .iter()
            .all(|f| f.name() != "json" && f.number() != 4)
    );
    assert!(event.reserved_name.iter().any(|n| n == "json"));
    assert!(
        event
            .reserved_range
            .iter()
            .any(|r| r.start() <= 4 && 4 < r.end())
    );

    // Every event on the wire carries its typed payload, and the payload is the one its
    // type names.
    let srv = server().await;
    let mut watch = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(0),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    call(&srv.backend, b(), api_support::g()).await;
    let last = srv.backend.last_seq();
    let mut n = 0;
    loop {
        let e = next_event(&mut watch).await;
        let payload = e
            .payload
            .as_ref()
            .unwrap_or_else(|| panic!("no payload: {e:?}"));
        let case = format!("{payload:?}");
        assert!(
            case.starts_with(&format!("{}(", camel(&e.r#type))),
            "{} vs {case}",
            e.r#type
        );
        n += 1;
        if e.cursor == srv.backend.cursor(last) {
            break;
        }
    }
    assert!(n >= 8, "{n}");
}

#[tokio::test]
async fn a_stunned_radio_is_refused_with_failed_precondition_and_nothing_is_sent() {
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
            answer: Answer::Accepted,
        })
        .await;
    let stun = wait(&srv, &stun.name).await;
    assert_eq!(state(&stun), pb::operation::State::Succeeded);
    let sent = srv.backend.transmit_count();
    let e = srv
        .commands()
        .check_radio(radio_req("radios/80020200", ""))
        .await
        .expect_err("a stunned radio cannot answer a check");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert_eq!(reason(&e), "RADIO_STUNNED");
    let info = e.get_details_error_info().unwrap();
    assert_eq!(info.metadata["name"], "radios/80020200");
    assert_eq!(info.metadata["remedy"], "REVIVE");
    assert!(e.message().contains("revive it first"), "{}", e.message());
    assert_eq!(srv.backend.transmit_count(), sent, "nothing transmitted");
}
