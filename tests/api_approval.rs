//! The two-person kill and the audit trail through the gRPC API: generated clients over
//! 127.0.0.1 against `api::serve` and a real dispatch core (tests/api_support, whose driver
//! audits commands as the gateway's does). Reasons required, ApprovalService (same identity
//! refused, another approves, reject), pending kills through ListOperations, and
//! AuditService listing with filters and pages; AuditService has no method that changes or
//! deletes an entry.

mod api_support;

use api_support::{Server, TestBackend, config};
use tonic::Code;
use tonic_types::StatusExt;
use trunkgate::api::pb;
use trunkgate::api::{Backend, audit::record_audit};

async fn server() -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(0).await;
    Server::start(backend, config()).await
}

/// `msg` sent with the token of `who` (alice and bob are two supervisors; see
/// `access_support`): the identity recorded is the token's.
fn as_operator<T>(who: &str, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let bearer = format!("Bearer {}", api_support::access::token_of(who));
    req.metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    req
}

/// Commands over the connection without the test token (each call brings its own).
fn commands(
    srv: &Server,
) -> pb::command_service_client::CommandServiceClient<tonic::transport::Channel> {
    pb::command_service_client::CommandServiceClient::new(srv.plain.clone())
}

fn kill(reason: &str) -> pb::RadioCommandRequest {
    pb::RadioCommandRequest {
        name: "radios/80020200".into(),
        request_id: String::new(),
        reason: reason.into(),
    }
}

fn decide(name: &str, reason: &str) -> pb::DecideOperationRequest {
    pb::DecideOperationRequest {
        name: name.into(),
        reason: reason.into(),
    }
}

fn state(op: &pb::Operation) -> pb::operation::State {
    pb::operation::State::try_from(op.state).expect("known state")
}

fn error_reason(s: &tonic::Status) -> String {
    s.get_details_error_info().expect("ErrorInfo").reason
}

fn approvals(
    srv: &Server,
) -> pb::approval_service_client::ApprovalServiceClient<tonic::transport::Channel> {
    pb::approval_service_client::ApprovalServiceClient::new(srv.plain.clone())
}

fn audit(srv: &Server) -> pb::audit_service_client::AuditServiceClient<api_support::Ch> {
    pb::audit_service_client::AuditServiceClient::new(srv.channel.clone())
}

async fn entries(srv: &Server, identity: &str, action: &str) -> Vec<pb::AuditEntry> {
    audit(srv)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            identity: identity.into(),
            action: action.into(),
            ..Default::default()
        })
        .await
        .expect("list audit entries")
        .into_inner()
        .entries
}

#[tokio::test]
async fn stun_and_kill_without_a_reason_are_invalid_naming_reason() {
    let srv = server().await;
    let mut c = commands(&srv);
    for e in [
        c.kill_radio(as_operator("alice", kill("")))
            .await
            .unwrap_err(),
        c.kill_radio(as_operator("alice", kill("  ")))
            .await
            .unwrap_err(),
        c.stun_radio(as_operator("alice", kill("")))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let br = e.get_details_bad_request().expect("BadRequest");
        assert_eq!(br.field_violations[0].field, "reason");
    }
    assert_eq!(srv.backend.transmit_count(), 0);
    // The refusals are audited with their outcome.
    let refused = entries(&srv, "alice", "kill_radio").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0].outcome.starts_with("refused: invalid reason"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_kill_waits_for_a_second_identity_then_airs_and_everything_is_audited() {
    let srv = server().await;
    let op = commands(&srv)
        .kill_radio(as_operator("alice", kill("电台被盗")))
        .await
        .expect("kill accepted")
        .into_inner();
    assert_eq!(state(&op), pb::operation::State::AwaitingApproval);
    assert_eq!(op.reason, "电台被盗");
    assert!(op.approval_deadline.is_some());
    assert!(!op.done);
    assert_eq!(
        srv.backend.transmit_count(),
        0,
        "nothing airs before approval"
    );

    // Pending: a filter on ListOperations.
    let pending = srv
        .operations()
        .list_operations(pb::ListOperationsRequest {
            filter: "state = AWAITING_APPROVAL".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .operations;
    assert_eq!(
        pending.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        [op.name.as_str()]
    );

    // The requester cannot approve it.
    let same = approvals(&srv)
        .approve_operation(as_operator("alice", decide(&op.name, "")))
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&same), "SAME_IDENTITY");
    // No identity at all cannot either: refused before the service.
    let nobody = approvals(&srv)
        .approve_operation(tonic::Request::new(decide(&op.name, "")))
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::Unauthenticated);
    assert_eq!(srv.backend.transmit_count(), 0);

    // Another supervisor approves: it goes on the air.
    let approved = approvals(&srv)
        .approve_operation(as_operator("bob", decide(&op.name, "核实无误")))
        .await
        .expect("approved")
        .into_inner();
    assert_ne!(state(&approved), pb::operation::State::AwaitingApproval);
    assert_eq!(approved.approver, "bob");
    assert_eq!(approved.approval_reason, "核实无误");
    assert!(approved.approval_time.is_some());
    assert_eq!(srv.backend.transmit_count(), 1);
    let again = approvals(&srv)
        .approve_operation(as_operator("bob", decide(&op.name, "")))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&again), "NOT_AWAITING_APPROVAL");

    // A second kill, rejected.
    let second = commands(&srv)
        .kill_radio(as_operator("alice", kill("误报")))
        .await
        .unwrap()
        .into_inner();
    let rejected = approvals(&srv)
        .reject_operation(as_operator("bob", decide(&second.name, "无需遥毙")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&rejected), pb::operation::State::Rejected);
    assert!(rejected.done);
    assert_eq!(srv.backend.transmit_count(), 1);

    // The audit trail: who, from where, what, why, outcome; newest first.
    let all = entries(&srv, "", "").await;
    let actions: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|e| (e.identity.as_str(), e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        &actions[..5],
        [
            ("bob", "reject_operation", "ok"),
            ("alice", "kill_radio", "ok"),
            ("bob", "approve_operation", actions[2].2),
            ("bob", "approve_operation", "ok"),
            // (the call without credentials never reached the core: the access layer
            // refused it, and the gateway's access hook journals such refusals)
            ("alice", "approve_operation", actions[4].2),
        ],
        "{all:?}"
    );
    assert!(actions[2].2.starts_with("refused: "), "{all:?}");
    let kill_entry = all
        .iter()
        .find(|e| e.action == "kill_radio" && e.reason == "电台被盗")
        .expect("the kill is audited");
    assert_eq!(kill_entry.target, "radios/80020200");
    assert_eq!(kill_entry.operation, op.name);
    assert!(
        kill_entry.client.starts_with("127.0.0.1:"),
        "from where: {kill_entry:?}"
    );
    assert!(kill_entry.time.is_some() && kill_entry.cursor.contains('.'));
    let approve = all
        .iter()
        .find(|e| e.action == "approve_operation" && e.outcome == "ok")
        .unwrap();
    assert_eq!(
        (approve.reason.as_str(), approve.operation.as_str()),
        ("核实无误", op.name.as_str())
    );

    // Filters: by identity and by action.
    let bobs = entries(&srv, "bob", "").await;
    assert!(!bobs.is_empty() && bobs.iter().all(|e| e.identity == "bob"));
    let kills = entries(&srv, "", "kill_radio").await;
    assert_eq!(kills.len(), 2);

    // Pages of one, with tokens, give the same entries in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = audit(&srv)
            .list_audit_entries(pb::ListAuditEntriesRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        paged.extend(page.entries);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(paged, all);
    // A time window after everything selects nothing.
    let later = audit(&srv)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            start_time: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(later.entries.is_empty());
}

#[tokio::test]
async fn record_audit_entries_are_listed_like_the_rest() {
    let srv = server().await;
    record_audit(
        &srv.backend,
        Some("mallory"),
        Some("10.0.0.9:5555"),
        "permission_denied",
        Some("CommandService/KillRadio"),
        None,
        "denied: supervisor role needed",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let found = entries(&srv, "mallory", "permission_denied").await;
        if !found.is_empty() || std::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(found.len(), 1, "{found:?}");
    let e = &found[0];
    assert_eq!(
        (
            e.client.as_str(),
            e.target.as_str(),
            e.outcome.as_str(),
            e.reason.as_str()
        ),
        (
            "10.0.0.9:5555",
            "CommandService/KillRadio",
            "denied: supervisor role needed",
            ""
        )
    );
    // The backend trait takes a whole entry too.
    srv.backend
        .record_audit(trunkgate::dispatch::AuditEntry::new(
            None,
            None,
            "access_reloaded",
            None,
            None,
            "ok",
        ));
}

#[test]
fn the_audit_service_only_lists() {
    let pool = prost_reflect::DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let service = pool
        .get_service_by_name("trunkgate.v1.AuditService")
        .expect("AuditService is served");
    let methods: Vec<String> = service.methods().map(|m| m.name().to_string()).collect();
    assert_eq!(methods, ["ListAuditEntries"]);
    // No method of any service takes an audit entry or names one to change or delete.
    for s in pool.services() {
        for m in s.methods() {
            assert_ne!(
                m.input().full_name(),
                "trunkgate.v1.AuditEntry",
                "{}",
                m.name()
            );
            let name = m.name().to_ascii_lowercase();
            assert!(
                !name.contains("audit") || name.starts_with("list"),
                "{} changes the audit trail",
                m.full_name()
            );
        }
    }
    assert!(
        trunkgate::api::SERVICE_NAMES.contains(&"trunkgate.v1.AuditService")
            && trunkgate::api::SERVICE_NAMES.contains(&"trunkgate.v1.ApprovalService")
    );
}

#[tokio::test]
async fn a_page_that_ends_on_the_last_entry_has_no_token() {
    let srv = server().await;
    for n in 0..3 {
        record_audit(
            &srv.backend,
            Some("pager"),
            None,
            "access_reloaded",
            None,
            None,
            &format!("ok {n}"),
        );
    }
    let list = |page_size: i32, page_token: String| {
        let mut audit = audit(&srv);
        async move {
            audit
                .list_audit_entries(pb::ListAuditEntriesRequest {
                    identity: "pager".into(),
                    page_size,
                    page_token,
                    ..Default::default()
                })
                .await
                .expect("lists")
                .into_inner()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while list(10, String::new()).await.entries.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the entries were not journaled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Exactly all of them: no token to an empty page.
    let all = list(3, String::new()).await;
    assert_eq!(all.entries.len(), 3);
    assert_eq!(all.next_page_token, "", "a token that leads nowhere");
    // Two, then the last one on a page of its own and no token after it.
    let first = list(2, String::new()).await;
    assert_eq!(first.entries.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = list(2, first.next_page_token).await;
    assert_eq!(second.entries.len(), 1);
    assert_eq!(second.next_page_token, "");
}
