//! `TeamService` and `CalloutService` over real gRPC on 127.0.0.1 (docs/callouts.md): managed
//! teams created, read, listed beside the configured ones, updated with an etag and deleted,
//! every change journaled with its operator; configured teams read-only and their names not
//! to be taken; a call-out of a managed team started, fetched, listed and cancelled; bad
//! requests refused naming the field.

mod api_support;

use api_support::{Server, a, b, config, g};
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::pb;
use trunkgate::api::pb::callout_service_client::CalloutServiceClient;
use trunkgate::api::pb::team_service_client::TeamServiceClient;

fn with_operator<T>(msg: T, who: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("trunkgate-operator", who.parse().expect("ascii"));
    r
}

fn team(display: &str) -> pb::Team {
    pb::Team {
        display_name: display.into(),
        level: pb::team::Level::Village as i32,
        members: vec![
            pb::team::Member {
                radio: format!("radios/{}", a()),
                role: pb::team::Role::Leader as i32,
            },
            pb::team::Member {
                radio: format!("radios/{}", b()),
                role: pb::team::Role::Member as i32,
            },
        ],
        talkgroup: format!("talkgroups/{}", g()),
        backup_teams: vec!["teams/chengguan".into()],
        home: Some(pb::team::Home {
            latitude: 27.7512,
            longitude: 111.3825,
        }),
        ..Default::default()
    }
}

fn reason(s: &tonic::Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn managed_teams_are_created_listed_updated_with_an_etag_and_deleted() {
    let backend = api_support::TestBackend::start(1024);
    backend.scene(0).await;
    let srv = Server::start(backend, config()).await;
    let mut teams = TeamServiceClient::new(srv.channel.clone());

    let created = teams
        .create_team(with_operator(
            pb::CreateTeamRequest {
                team_id: "baisha".into(),
                team: Some(team("白沙村应急小分队")),
            },
            "admin-li",
        ))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(created.name, "teams/baisha");
    assert_eq!(created.display_name, "白沙村应急小分队");
    assert!(!created.configured);
    assert_eq!(created.etag, "r1");
    assert_eq!(created.members.len(), 2);
    assert_eq!(created.members[0].role, pb::team::Role::Leader as i32);
    assert_eq!(created.level, pb::team::Level::Village as i32);

    // A configured name cannot be taken, nor a managed one twice.
    let e = teams
        .create_team(pb::CreateTeamRequest {
            team_id: "chengguan".into(),
            team: Some(team("x")),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "TEAM_CONFIGURED");
    let e = teams
        .create_team(pb::CreateTeamRequest {
            team_id: "baisha".into(),
            team: Some(team("x")),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = teams
        .create_team(pb::CreateTeamRequest {
            team_id: "bad name".into(),
            team: Some(team("x")),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("team_id"), "{}", e.message());
    // A backup listed twice is refused, naming the field (as `check-config` does).
    let mut twice = team("x");
    twice.backup_teams.push("teams/chengguan".into());
    let e = teams
        .create_team(pb::CreateTeamRequest {
            team_id: "twice".into(),
            team: Some(twice),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("backup_teams"), "{}", e.message());

    // Listed after the configured team; got by name.
    let list = teams
        .list_teams(pb::ListTeamsRequest {
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.teams.len(), 1);
    assert!(list.teams[0].configured);
    let next = teams
        .list_teams(pb::ListTeamsRequest {
            page_size: 1,
            page_token: list.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.teams[0].name, "teams/baisha");
    assert!(next.next_page_token.is_empty());
    let got = teams
        .get_team(pb::GetTeamRequest {
            name: "teams/baisha".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, created);

    // Update with the etag read; a stale etag is refused.
    let mut changed = got.clone();
    changed.display_name = "白沙村应急分队".into();
    let updated = teams
        .update_team(with_operator(
            pb::UpdateTeamRequest {
                team: Some(changed.clone()),
            },
            "admin-wang",
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.etag, "r2");
    assert_eq!(updated.display_name, "白沙村应急分队");
    let e = teams
        .update_team(pb::UpdateTeamRequest {
            team: Some(changed),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Aborted);
    assert_eq!(reason(&e), "ETAG_MISMATCH");

    // Configured teams are read-only.
    let mut configured = teams
        .get_team(pb::GetTeamRequest {
            name: "teams/chengguan".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(configured.configured);
    configured.display_name = "改名".into();
    let e = teams
        .update_team(pb::UpdateTeamRequest {
            team: Some(configured),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = teams
        .delete_team(pb::DeleteTeamRequest {
            name: "teams/chengguan".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // A call-out of the managed team: started, fetched, listed, cancelled.
    let mut callouts = CalloutServiceClient::new(srv.channel.clone());
    let c = callouts
        .start_callout(with_operator(
            pb::StartCalloutRequest {
                teams: vec!["teams/baisha".into()],
                // A status and a text together.
                text: Some("山洪预警，立即集合".into()),
                status: Some(5),
                answer_statuses: vec![1, 2],
                deadline: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            },
            "duty-zhang",
        ))
        .await
        .expect("start")
        .into_inner();
    assert_eq!(c.name, "callouts/0");
    assert_eq!(c.members.len(), 2);
    assert_eq!(c.operator, "tester");
    // The resource shows both; the team shares a talkgroup: one group status, then one group
    // text.
    assert_eq!(c.text.as_deref(), Some("山洪预警，立即集合"));
    assert_eq!(c.status, Some(5));
    assert_eq!(
        c.group_operations.len(),
        2,
        "status and text to the talkgroup"
    );
    let listed = callouts
        .list_callouts(pb::ListCalloutsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.callouts.len(), 1);
    let cancelled = callouts
        .cancel_callout(with_operator(
            pb::CancelCalloutRequest {
                name: c.name.clone(),
            },
            "duty-zhang",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state, pb::callout::State::Cancelled as i32);
    assert_eq!(cancelled.cancelled_by, "tester");
    let e = callouts
        .cancel_callout(pb::CancelCalloutRequest { name: c.name })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "CALLOUT_FINISHED");

    // Bad call-out requests name the field.
    for (req, field) in [
        (
            pb::StartCalloutRequest {
                teams: vec!["teams/baisha".into()],
                answer_statuses: vec![1],
                deadline: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            },
            "message",
        ),
        (
            pb::StartCalloutRequest {
                teams: vec!["teams/baisha".into()],
                status: Some(5000),
                ..Default::default()
            },
            "message.status",
        ),
        (
            // Both given: the text is checked too.
            pb::StartCalloutRequest {
                teams: vec!["teams/baisha".into()],
                text: Some(String::new()),
                status: Some(5),
                answer_statuses: vec![1],
                deadline: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            },
            "message.text",
        ),
        (
            pb::StartCalloutRequest {
                teams: vec!["teams/baisha".into()],
                status: Some(5),
                answer_statuses: vec![1],
                ..Default::default()
            },
            "deadline",
        ),
    ] {
        let e = callouts.start_callout(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}");
        let violations = e.get_details_bad_request().expect("field violations");
        assert_eq!(violations.field_violations[0].field, field);
    }
    let e = callouts
        .get_callout(pb::GetCalloutRequest {
            name: "callouts/99".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Deleted with its etag; every change is journaled with the operator.
    let deleted = teams
        .delete_team(with_operator(
            pb::DeleteTeamRequest {
                name: "teams/baisha".into(),
                etag: "r2".into(),
            },
            "admin-li",
        ))
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.name, "teams/baisha");
    let e = teams
        .get_team(pb::GetTeamRequest {
            name: "teams/baisha".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let mut stream = srv
        .events()
        .watch_events(pb::WatchEventsRequest {
            cursor: srv.backend.cursor(0),
            filter: "type = team_*".into(),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let mut audit = Vec::new();
    while audit.len() < 3 {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(20), stream.message())
            .await
            .expect("events in time")
            .expect("stream")
            .expect("open");
        let Some(pb::watch_events_response::Kind::Event(e)) = msg.kind else {
            continue;
        };
        audit.push(match e.payload {
            Some(pb::event::Payload::TeamCreated(c)) => {
                format!(
                    "created {} by {}",
                    c.team.unwrap_or_default().name,
                    c.operator
                )
            }
            Some(pb::event::Payload::TeamUpdated(c)) => {
                format!(
                    "updated {} by {}",
                    c.team.unwrap_or_default().name,
                    c.operator
                )
            }
            Some(pb::event::Payload::TeamDeleted(d)) => {
                format!("deleted {} by {}", d.team, d.operator)
            }
            other => panic!("not a team event: {other:?}"),
        });
    }
    assert_eq!(
        audit,
        vec![
            "created teams/baisha by tester",
            "updated teams/baisha by tester",
            "deleted teams/baisha by tester",
        ]
    );
}
