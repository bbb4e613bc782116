//! The dispatcher's picture through the API, with generated gRPC clients over 127.0.0.1:
//! positions on `Radio` and in the watch snapshot, a radio's track from the journal (across a
//! restart of the real driver on a SQLite journal), messages of both directions listed,
//! fetched and marked, teams named by their configured name whatever their order, a `Get` for
//! every resource, and identities resolved as users type them.

mod api_support;

use std::sync::Arc;
use std::time::Duration;

use api_support::Ch as Channel;
use api_support::{S1, Server, TestBackend, a, b, config, g};
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::{self, pb};
use trunkgate::app::backend::GatewayBackend;
use trunkgate::app::driver::{self, DriverConfig};
use trunkgate::dispatch::{
    AirEvent, AirInput, Directory, DirectoryRadio, DirectorySite, DirectoryTalkgroup,
    DirectoryTeam, Input, Position, PositionSource, RadioId, SiteId, TalkgroupId,
};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::link::Slot;

const DEADLINE: Duration = Duration::from_secs(20);

async fn server() -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    Server::start(backend, config()).await
}

fn fix(lat: f64, lon: f64, source: PositionSource) -> Position {
    Position {
        latitude: lat,
        longitude: lon,
        accuracy_m: Some(10.0),
        speed_kmh: None,
        heading_deg: None,
        altitude_m: Some(412.5),
        fix_time: None,
        source,
    }
}

fn bad(s: &tonic::Status) -> (String, String) {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let v = &s
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations[0];
    (v.field.clone(), v.description.clone())
}

fn messages(ch: &Channel) -> pb::message_service_client::MessageServiceClient<Channel> {
    pb::message_service_client::MessageServiceClient::new(ch.clone())
}

fn directory(ch: &Channel) -> pb::directory_service_client::DirectoryServiceClient<Channel> {
    pb::directory_service_client::DirectoryServiceClient::new(ch.clone())
}

fn with_operator<T>(msg: T, who: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert_bin(
        api::OPERATOR_METADATA_BIN,
        tonic::metadata::MetadataValue::from_bytes(who.as_bytes()),
    );
    req
}

#[tokio::test]
async fn positions_are_on_the_radio_and_in_the_snapshot() {
    let srv = server().await;
    srv.backend
        .air(AirEvent::Position {
            radio: a(),
            position: fix(30.5, 114.25, PositionSource::Lrrp),
        })
        .await;
    let r = srv
        .radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let p = r.position.expect("last known position");
    assert_eq!((p.latitude, p.longitude), (30.5, 114.25));
    assert_eq!(p.altitude_m, Some(412.5));
    assert_eq!(p.accuracy_m, Some(10.0));
    assert_eq!(p.source_kind, pb::position::Source::Lrrp as i32);
    assert_eq!(p.site, format!("sites/{S1}"));
    assert_eq!(p.radio, "radios/80020200");
    assert!(p.receive_time.is_some());
    assert_eq!(r.team, "teams/chengguan");
    assert_eq!(r.presence.expect("last heard").site, format!("sites/{S1}"));
    // B never reported: no position.
    let list = srv
        .radios()
        .list_radios(pb::ListRadiosRequest::default())
        .await
        .unwrap()
        .into_inner();
    let by_name = |n: &str| list.radios.iter().find(|r| r.name == n).unwrap().clone();
    assert!(by_name("radios/80020200").position.is_some());
    assert!(by_name("radios/80020201").position.is_none());

    // A console that starts late draws every radio at once from the snapshot.
    let mut snap = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            snapshot: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut drawn = Vec::new();
    loop {
        let msg = tokio::time::timeout(DEADLINE, snap.message())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        match msg.kind.unwrap() {
            pb::watch_events_response::Kind::Snapshot(item) => {
                if let Some(pb::snapshot_item::Resource::Radio(r)) = item.resource {
                    drawn.push((r.name, r.position.map(|p| (p.latitude, p.longitude))));
                }
            }
            pb::watch_events_response::Kind::SnapshotComplete(_) => break,
            other => panic!("before the marker: {other:?}"),
        }
    }
    assert_eq!(
        drawn,
        vec![
            ("radios/80020200".to_string(), Some((30.5, 114.25))),
            ("radios/80020201".to_string(), None)
        ]
    );
}

#[tokio::test]
async fn positions_list_from_the_journal_newest_first_in_pages() {
    let srv = server().await;
    for i in 0..7 {
        let radio = if i % 2 == 0 { a() } else { b() };
        srv.backend
            .air(AirEvent::Position {
                radio,
                position: fix(30.0 + f64::from(i), 114.0, PositionSource::EmbeddedLc),
            })
            .await;
        srv.backend.advance(1_000).await;
    }
    let mut c = srv.radios();
    let mut token = String::new();
    let mut lats = Vec::new();
    loop {
        let page = c
            .list_positions(pb::ListPositionsRequest {
                radio: "radios/80020200".into(),
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.positions.iter().all(|p| p.radio == "radios/80020200"));
        lats.extend(page.positions.iter().map(|p| p.latitude));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(lats, vec![36.0, 34.0, 32.0, 30.0]);
    // Every radio, within a time window.
    let all = c
        .list_positions(pb::ListPositionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.positions.len(), 7);
    let t = |p: &pb::Position| p.receive_time.unwrap().seconds;
    let (newest, oldest) = (t(&all.positions[0]), t(&all.positions[6]));
    assert_eq!(newest - oldest, 6);
    let window = c
        .list_positions(pb::ListPositionsRequest {
            start_time: Some(prost_types::Timestamp {
                seconds: oldest + 2,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: oldest + 4,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let lats: Vec<f64> = window.positions.iter().map(|p| p.latitude).collect();
    assert_eq!(lats, vec![33.0, 32.0]);
    // A token made for another filter is refused.
    let first = c
        .list_positions(pb::ListPositionsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = c
        .list_positions(pb::ListPositionsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            radio: "radios/80020201".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad(&e).0, "page_token");
}

#[tokio::test]
async fn messages_both_ways_are_listed_fetched_and_marked() {
    let srv = server().await;
    srv.backend
        .air(AirEvent::Text {
            source: a(),
            to: trunkgate::dispatch::Addressee::Talkgroup(g()),
            text: "桥断了，绕行".into(),
        })
        .await;
    srv.backend
        .air(AirEvent::Status {
            source: b(),
            to: trunkgate::dispatch::Addressee::Talkgroup(g()),
            status: 12,
        })
        .await;
    // A dispatcher's text is an outbound message.
    let op = srv
        .commands()
        .send_text(with_operator(
            pb::SendTextRequest {
                name: "radios/80020200".into(),
                text: "收到，原地等待".into(),
                request_id: String::new(),
            },
            "李调度",
        ))
        .await
        .unwrap()
        .into_inner();
    let mut m = messages(&srv.channel);
    let all = m
        .list_messages(pb::ListMessagesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages;
    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["messages/2", "messages/1", "messages/0"]);
    let out = &all[0];
    assert_eq!(out.direction, pb::message::Direction::Outbound as i32);
    assert_eq!(out.operator, "tester");
    assert_eq!(out.operation, op.name);
    assert_eq!(out.target, "radios/80020200");
    assert_eq!(out.display_names["radios/80020200"], "张三");
    let first = &all[2];
    assert_eq!(first.source, "radios/80020200");
    assert_eq!(first.team, "teams/chengguan");
    assert_eq!(
        first.body,
        Some(pb::message::Body::Text("桥断了，绕行".into()))
    );
    assert_eq!(first.display_names["talkgroups/80020910"], "城关镇救援一组");
    assert_eq!(first.display_names["teams/chengguan"], "城关镇应急救援队");

    // Filters: direction, radio, team, and paging.
    let lister = m.clone();
    let list = |req: pb::ListMessagesRequest| {
        let mut m = lister.clone();
        async move {
            m.list_messages(req)
                .await
                .unwrap()
                .into_inner()
                .messages
                .into_iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        }
    };
    let inbound = pb::message::Direction::Inbound as i32;
    assert_eq!(
        list(pb::ListMessagesRequest {
            direction: inbound,
            ..Default::default()
        })
        .await,
        vec!["messages/1", "messages/0"]
    );
    assert_eq!(
        list(pb::ListMessagesRequest {
            radio: "radios/80020200".into(),
            ..Default::default()
        })
        .await,
        vec!["messages/2", "messages/0"]
    );
    assert_eq!(
        list(pb::ListMessagesRequest {
            team: "teams/chengguan".into(),
            direction: inbound,
            ..Default::default()
        })
        .await,
        // B is no member, but its status went to the team's talkgroup.
        vec!["messages/1", "messages/0"]
    );
    let page = m
        .list_messages(pb::ListMessagesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.messages.len(), 2);
    let rest = m
        .list_messages(pb::ListMessagesRequest {
            page_size: 2,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.messages[0].name, "messages/0");
    assert!(rest.next_page_token.is_empty());
    let e = m
        .list_messages(pb::ListMessagesRequest {
            team: "teams/0".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad(&e).0, "team");

    // Marked handled, with who: journaled, and read too.
    let marked = m
        .mark_message_handled(with_operator(
            pb::MarkMessageRequest {
                name: "messages/0".into(),
            },
            "王值班",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(marked.handled && marked.read);
    assert_eq!(marked.handled_by, "tester");
    let read = m
        .mark_message_read(with_operator(
            pb::MarkMessageRequest {
                name: "messages/1".into(),
            },
            "王值班",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(read.read && !read.handled);
    let got = m
        .get_message(pb::GetMessageRequest {
            name: "messages/0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.handled_by, "tester");
    assert!(got.handle_time.is_some());
    // The inbox: what is not handled yet.
    assert_eq!(
        list(pb::ListMessagesRequest {
            direction: inbound,
            handled: Some(false),
            ..Default::default()
        })
        .await,
        vec!["messages/1"]
    );
    // A console that starts late gets what is not handled yet in its snapshot.
    let mut snap = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            snapshot: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut pending = Vec::new();
    loop {
        let msg = tokio::time::timeout(DEADLINE, snap.message())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        match msg.kind.unwrap() {
            pb::watch_events_response::Kind::Snapshot(item) => {
                if let Some(pb::snapshot_item::Resource::Message(m)) = item.resource {
                    pending.push(m.name);
                }
            }
            pb::watch_events_response::Kind::SnapshotComplete(_) => break,
            other => panic!("before the marker: {other:?}"),
        }
    }
    assert_eq!(pending, vec!["messages/1"]);
    // The marks are events in the journal, with the operator.
    let mut replay = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(0),
            filter: "type=message_*".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut kinds = Vec::new();
    while kinds.len() < 5 {
        let msg = tokio::time::timeout(DEADLINE, replay.message())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        if let Some(pb::watch_events_response::Kind::Event(e)) = msg.kind {
            if let Some(pb::event::Payload::MessageHandled(h)) = &e.payload {
                assert_eq!(
                    (h.message.as_str(), h.operator.as_str()),
                    ("messages/0", "tester")
                );
            }
            kinds.push(e.r#type);
        }
    }
    assert_eq!(
        kinds,
        vec![
            "message_received",
            "message_received",
            "message_sent",
            "message_handled",
            "message_read"
        ]
    );
    let e = m
        .mark_message_read(pb::MarkMessageRequest {
            name: "messages/42".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

/// The standard scene's directory with its teams in the given order.
fn directory_with_teams(teams: Vec<DirectoryTeam>) -> Directory {
    Directory {
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
        sites: vec![DirectorySite {
            id: SiteId::new(S1),
            display_name: Some("城关".into()),
            profile: trunkgate::dispatch::AirProfile::Pdt,
            air: Default::default(),
        }],
        teams,
    }
}

#[tokio::test]
async fn team_names_survive_a_reordered_configuration() {
    let srv = server().await;
    let chengguan = DirectoryTeam {
        key: "chengguan".into(),
        name: "城关镇应急救援队".into(),
        radios: vec![a()],
        talkgroup: Some(g()),
        ..Default::default()
    };
    let qingshan = DirectoryTeam {
        key: "qingshan".into(),
        name: "青山镇应急分队".into(),
        radios: vec![b()],
        talkgroup: None,
        ..Default::default()
    };
    let mut d = directory(&srv.channel);
    for order in [
        vec![chengguan.clone(), qingshan.clone()],
        vec![qingshan.clone(), chengguan.clone()],
    ] {
        srv.backend
            .input(Input::Directory(directory_with_teams(order)))
            .await;
        let team = d
            .get_team(pb::GetTeamRequest {
                name: "teams/qingshan".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(team.display_name, "青山镇应急分队");
        assert_eq!(team.radios, vec!["radios/80020201"]);
        let members = srv
            .radios()
            .list_radios(pb::ListRadiosRequest {
                team: "teams/chengguan".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .radios;
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].name, "radios/80020200");
        assert_eq!(members[0].team, "teams/chengguan");
        let names: Vec<String> = d
            .list_teams(pb::ListTeamsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .teams
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(names.contains(&"teams/qingshan".to_string()), "{names:?}");
    }
    let e = d
        .get_team(pb::GetTeamRequest {
            name: "teams/1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn every_resource_has_a_get() {
    let srv = server().await;
    // A call, an alarm, a message and an operation to get.
    srv.backend
        .air(AirEvent::VoiceGrant {
            source: a(),
            target: trunkgate::dispatch::Addressee::Talkgroup(g()),
            emergency: false,
        })
        .await;
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    srv.backend
        .air(AirEvent::Status {
            source: a(),
            to: trunkgate::dispatch::Addressee::Radio(b()),
            status: 3,
        })
        .await;
    let op = srv
        .commands()
        .check_radio(pb::RadioCommandRequest {
            name: "radios/80020201".into(),
            request_id: String::new(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ch = &srv.channel;
    let mut calls = pb::call_service_client::CallServiceClient::new(ch.clone());
    let call = calls
        .get_call(pb::GetCallRequest {
            name: "calls/0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(call.target, "talkgroups/80020910");
    // Display names come with what a resource names.
    assert_eq!(call.display_names["talkgroups/80020910"], "城关镇救援一组");
    assert_eq!(call.display_names["radios/80020200"], "张三");
    let alarm = srv
        .alarms()
        .get_alarm(pb::GetAlarmRequest {
            name: "alarms/0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alarm.radio, "radios/80020200");
    assert_eq!(alarm.display_names["radios/80020200"], "张三");
    assert_eq!(alarm.display_names[&format!("sites/{S1}")], "城关");
    let site = directory(ch)
        .get_site(pb::GetSiteRequest {
            name: format!("sites/{S1}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(site.display_name, "城关");
    let team = directory(ch)
        .get_team(pb::GetTeamRequest {
            name: "teams/chengguan".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(team.display_name, "城关镇应急救援队");
    let message = messages(ch)
        .get_message(pb::GetMessageRequest {
            name: "messages/0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message.body, Some(pb::message::Body::Status(3)));
    let got = srv
        .operations()
        .get_operation(pb::GetOperationRequest {
            name: op.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, op.name);
    assert_eq!(got.display_names[&format!("sites/{S1}")], "城关");
    // B has no display name: none is made up.
    assert!(!got.display_names.contains_key("radios/80020201"));
    assert_eq!(op.display_names[&format!("sites/{S1}")], "城关");
    let talkgroup = pb::talkgroup_service_client::TalkgroupServiceClient::new(ch.clone())
        .get_talkgroup(pb::GetTalkgroupRequest {
            name: "talkgroups/80020910".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(talkgroup.active_call, "calls/0");

    // Each says NOT_FOUND, naming the resource, for one that does not exist.
    let missing = [
        calls
            .get_call(pb::GetCallRequest {
                name: "calls/9".into(),
            })
            .await
            .unwrap_err(),
        srv.alarms()
            .get_alarm(pb::GetAlarmRequest {
                name: "alarms/9".into(),
            })
            .await
            .unwrap_err(),
        directory(ch)
            .get_site(pb::GetSiteRequest {
                name: "sites/nowhere".into(),
            })
            .await
            .unwrap_err(),
        messages(ch)
            .get_message(pb::GetMessageRequest {
                name: "messages/9".into(),
            })
            .await
            .unwrap_err(),
    ];
    for (e, name) in missing
        .iter()
        .zip(["calls/9", "alarms/9", "sites/nowhere", "messages/9"])
    {
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        let info = e.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.metadata["name"], name);
    }
    let e = calls
        .get_call(pb::GetCallRequest {
            name: "alarms/0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad(&e).0, "name");
}

#[tokio::test]
async fn identities_are_resolved_as_users_type_them() {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    // 46001 is both a heard radio and a configured talkgroup; 46002 only a talkgroup.
    let both = 46_001;
    backend
        .input(Input::Directory(Directory {
            radios: vec![
                DirectoryRadio {
                    id: a(),
                    name: Some("张三".into()),
                },
                DirectoryRadio {
                    id: RadioId::new(both).unwrap(),
                    name: Some("外来电台".into()),
                },
            ],
            talkgroups: vec![
                DirectoryTalkgroup {
                    id: TalkgroupId::new(both).unwrap(),
                    name: Some("山洪组".into()),
                    slot: None,
                    sites: Vec::new(),
                },
                DirectoryTalkgroup {
                    id: TalkgroupId::new(46_002).unwrap(),
                    name: Some("转移组".into()),
                    slot: None,
                    sites: Vec::new(),
                },
            ],
            sites: vec![DirectorySite {
                id: SiteId::new(S1),
                display_name: None,
                profile: trunkgate::dispatch::AirProfile::Pdt,
                air: Default::default(),
            }],
            teams: vec![],
        }))
        .await;
    backend
        .air(AirEvent::Affiliated {
            radio: a(),
            talkgroup: TalkgroupId::new(46_002).unwrap(),
        })
        .await;
    let srv = Server::start(backend, config()).await;
    let d = directory(&srv.channel);
    let resolve = |typed: &str| {
        let mut d = d.clone();
        let typed = typed.to_string();
        async move {
            d.resolve_identity(pb::ResolveIdentityRequest { identity: typed })
                .await
                .map(|r| r.into_inner())
        }
    };
    // Dial numbers: the plan tells the kind.
    assert_eq!(
        resolve("80020910").await.unwrap().name,
        "talkgroups/80020910"
    );
    assert_eq!(resolve("80020200").await.unwrap().display_name, "张三");
    // A raw address that only a talkgroup has, written three ways.
    for typed in ["#46002", "46002", "0xB3B2"] {
        let r = resolve(typed).await.unwrap();
        assert_eq!(r.name, "talkgroups/0x00B3B2", "{typed}");
        assert_eq!(r.display_name, "转移组");
    }
    // Both readings: refused, naming both.
    for typed in ["#46001", "46001"] {
        let e = resolve(typed).await.unwrap_err();
        let (field, why) = bad(&e);
        assert_eq!(field, "identity");
        assert!(
            why.contains("radios/0x00B3B1") && why.contains("talkgroups/0x00B3B1"),
            "{why}"
        );
    }
    // Nine digits are nothing; eight are a dial number, never a DMR ID.
    assert_eq!(bad(&resolve("123456789").await.unwrap_err()).0, "identity");
    assert_eq!(bad(&resolve("16000000").await.unwrap_err()).0, "identity");
    // SendText resolves its `name` the same way.
    let mut c = srv.commands();
    let e = c
        .send_text(pb::SendTextRequest {
            name: "#46001".into(),
            text: "撤离".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad(&e).0, "name");
    let op = c
        .send_text(pb::SendTextRequest {
            name: "46002".into(),
            text: "撤离".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(op.target, "talkgroups/0x00B3B2");
    // And a plain DMR ID names a radio in a resource name.
    let r = srv
        .radios()
        .get_radio(pb::GetRadioRequest {
            name: "radios/46001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.display_name, "外来电台");
}

/// A gateway driver on a SQLite journal in `dir`, with the API on 127.0.0.1: the real
/// backend, so history comes from the journal file.
struct Gateway {
    handle: driver::DriverHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serve: tokio::task::JoinHandle<Result<(), api::ServeError>>,
    channel: Channel,
}

impl Gateway {
    async fn start(dir: &std::path::Path) -> Gateway {
        let journal = SqliteJournal::open(dir, &SqliteConfig::default()).expect("journal");
        let core = trunkgate::dispatch::Config {
            track_len: 4,
            ..Default::default()
        };
        let (handle, thread) =
            driver::start(journal, core, None, DriverConfig::default(), |_| {}).expect("driver");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = tokio::spawn(api::serve(
            Arc::new(GatewayBackend::new(handle.clone())),
            listener,
            config(),
            async move {
                let _ = stopped.await;
            },
        ));
        let channel = api_support::access::authed(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await
                .expect("connect"),
        );
        Gateway {
            handle,
            thread: Some(thread),
            stop: Some(stop),
            serve,
            channel,
        }
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(DEADLINE, &mut self.serve).await;
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .unwrap()
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_comes_from_the_journal_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path()).await;
    let n = 12;
    for i in 0..n {
        assert!(gw.handle.submit(Input::Air(AirInput {
            site: SiteId::new(S1),
            slot: Slot::One,
            rssi_dbm: None,
            event: AirEvent::Position {
                radio: a(),
                position: fix(30.0 + f64::from(i) / 100.0, 114.0, PositionSource::HyteraLp),
            },
        })));
    }
    // Wait until the core took them all (it keeps only `track_len` = 4).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let latest = gw
            .handle
            .read(|core, _| {
                core.track(a())
                    .and_then(|t| t.latest())
                    .map(|r| r.position.latitude)
            })
            .await
            .unwrap();
        if latest == Some(30.0 + f64::from(n - 1) / 100.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "positions not taken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.stop().await;

    let gw = Gateway::start(dir.path()).await;
    let mut radios = pb::radio_service_client::RadioServiceClient::new(gw.channel.clone());
    let r = radios
        .get_radio(pb::GetRadioRequest {
            name: "radios/80020200".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.position.expect("kept across the restart").latitude, 30.11);
    let mut lats = Vec::new();
    let mut token = String::new();
    loop {
        let page = radios
            .list_positions(pb::ListPositionsRequest {
                radio: "radios/80020200".into(),
                page_size: 5,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        lats.extend(page.positions.iter().map(|p| p.latitude));
        assert!(
            page.positions
                .iter()
                .all(|p| p.source_kind == pb::position::Source::PdtReport as i32
                    && p.site == format!("sites/{S1}"))
        );
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    // The whole track, newest first: all 12 fixes, not only the 4 the core keeps.
    let want: Vec<f64> = (0..n).rev().map(|i| 30.0 + f64::from(i) / 100.0).collect();
    assert_eq!(lats, want);
    gw.stop().await;
}

/// `trunkgate ctl` as a user runs it, against the test server; returns its result and output.
async fn ctl(
    srv: &Server,
    words: &[&str],
) -> (
    Result<trunkgate::app::ctl::Outcome, trunkgate::app::ctl::CtlError>,
    String,
) {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ctl: trunkgate::app::ctl::CtlArgs,
    }
    let server = format!("http://{}", srv.addr);
    let mut argv = vec![
        "ctl",
        "--server",
        &server,
        "--token",
        api_support::access::TOKEN,
        "--operator",
        "王值班",
    ];
    argv.extend_from_slice(words);
    let args = Cli::try_parse_from(argv).expect("arguments parse").ctl;
    let mut out = Vec::new();
    let r = tokio::time::timeout(DEADLINE, trunkgate::app::ctl::execute(args, &mut out))
        .await
        .expect("ctl finished in time");
    (r, String::from_utf8(out).expect("utf-8"))
}

#[tokio::test]
async fn ctl_inbox_puts_unhandled_first_and_marks() {
    let srv = server().await;
    for text in ["第一条", "第二条", "第三条"] {
        srv.backend
            .air(AirEvent::Text {
                source: a(),
                to: trunkgate::dispatch::Addressee::Talkgroup(g()),
                text: text.into(),
            })
            .await;
    }
    let (r, out) = ctl(&srv, &["mark-handled", "2"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    assert!(out.contains("handled by tester"), "{out}");
    let (r, out) = ctl(&srv, &["mark-read", "messages/0"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    assert!(out.contains("read by tester"), "{out}");
    // Unhandled first (newest first among them), then the handled one.
    let (r, out) = ctl(&srv, &["inbox"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    let order: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(order, vec!["1", "0", "2"], "{out}");
    assert!(
        out.contains("张三 (80020200)") && out.contains("第二条"),
        "{out}"
    );
    // A text sent from ctl to a talkgroup typed as a dial number is an outbound message.
    srv.backend
        .air(AirEvent::Affiliated {
            radio: a(),
            talkgroup: g(),
        })
        .await;
    let (r, _) = ctl(&srv, &["text", "80020910", "收到", "--no-wait"]).await;
    assert!(r.is_ok(), "{r:?}");
    let (r, out) = ctl(&srv, &["messages", "--direction", "out"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    assert!(
        out.contains("dispatch (tester)") && out.contains("收到"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let (r, out) = ctl(&srv, &["messages", "--unhandled", "--direction", "in"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    assert_eq!(out.lines().count(), 3, "{out}");
    let (r, _) = ctl(&srv, &["mark-read", "99"]).await;
    let e = r.unwrap_err();
    assert_eq!(e.code, trunkgate::app::ctl::exit::NOT_FOUND, "{e}");
    assert_eq!(e.message, "Message 99 is not known to the gateway.");
}

#[tokio::test]
async fn ctl_track_prints_coordinates() {
    let srv = server().await;
    for lat in [30.1, 30.2] {
        srv.backend
            .air(AirEvent::Position {
                radio: a(),
                position: fix(lat, 114.305, PositionSource::Lrrp),
            })
            .await;
    }
    let (r, out) = ctl(&srv, &["track", "80020200"]).await;
    assert_eq!(r.unwrap(), trunkgate::app::ctl::Outcome::Done);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("30.200000") && lines[1].contains("114.305000"),
        "{out}"
    );
    assert!(
        lines[2].contains("30.100000") && lines[1].contains("412"),
        "{out}"
    );
}
