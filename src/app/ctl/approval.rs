//! `ctl pending`, `ctl approve`, `ctl reject` (the two-person kill) and `ctl audit` (the
//! audit trail), over `ApprovalService`, `OperationService` and `AuditService`.
//!
//! - `pending` lists the operations awaiting a second identity's approval (ListOperations,
//!   filter `state = AWAITING_APPROVAL`), soonest deadline first, with who asked and why.
//! - `approve N` / `reject N` decide one, with `--reason`; the gateway refuses the identity
//!   that asked for it (exit 4, refused). `approve` then follows the operation on the air
//!   like any command (`--no-wait` returns at once).
//! - `audit` lists the trail newest first: local time, identity, client address, action,
//!   target, reason and outcome, filtered by `--identity`, `--action` and `--minutes`.
//!   Table cells are escaped as every table's are.

use std::io::Write;

use super::{
    Client, Clock, CtlError, Names, Outcome, dash, numbered, short, status_error, table_with_more,
};
use crate::api::pb;

/// `ctl pending`.
pub(super) async fn pending(
    c: &Client,
    names: &Names,
    clock: &Clock,
    limit: usize,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    let mut client = pb::operation_service_client::OperationServiceClient::new(c.channel.clone());
    let (mut ops, more) = collect_pages!(
        limit,
        |token| client.list_operations(pb::ListOperationsRequest {
            page_size: 1000,
            page_token: token.clone(),
            filter: "state = AWAITING_APPROVAL".into(),
            order_by: String::new(),
        }),
        operations
    );
    let deadline = |o: &pb::Operation| o.approval_deadline.map(|t| (t.seconds, t.nanos));
    ops.sort_by_key(deadline);
    let rows: Vec<Vec<String>> = ops
        .iter()
        .map(|o| {
            vec![
                short(&o.name).to_string(),
                clock.time(o.create_time.as_ref()),
                names.operation(o),
                dash(&o.operator),
                dash(&o.reason),
                clock.time(o.approval_deadline.as_ref()),
            ]
        })
        .collect();
    let table = table_with_more(
        &["OP", "ASKED", "WHAT", "ASKED BY", "REASON", "APPROVE BY"],
        &rows,
        more,
        "operations awaiting approval",
    );
    out.write_all(table.as_bytes())?;
    if !ops.is_empty() {
        writeln!(
            out,
            "Another supervisor approves with `trunkgate ctl approve OP --reason \"...\"` or \
             rejects with `trunkgate ctl reject OP`."
        )?;
    }
    Ok(Outcome::Done)
}

/// `ctl approve` / `ctl reject`: the operation after the decision.
pub(super) async fn decide(
    c: &Client,
    operation: &str,
    approve: bool,
    reason: Option<String>,
) -> Result<pb::Operation, CtlError> {
    let mut client = pb::approval_service_client::ApprovalServiceClient::new(c.channel.clone());
    let request = c.request(pb::DecideOperationRequest {
        name: numbered("operations", "an operation", operation)?,
        reason: reason.unwrap_or_default(),
    });
    let op = if approve {
        client.approve_operation(request).await
    } else {
        client.reject_operation(request).await
    };
    Ok(op.map_err(status_error)?.into_inner())
}

/// `ctl audit`.
pub(super) async fn audit(
    c: &Client,
    clock: &Clock,
    (identity, action, minutes): (Option<String>, Option<String>, Option<u64>),
    limit: usize,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    let mut client = pb::audit_service_client::AuditServiceClient::new(c.channel.clone());
    let start_time = minutes.map(|m| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        prost_types::Timestamp {
            seconds: i64::try_from(now.saturating_sub(m.saturating_mul(60))).unwrap_or(0),
            nanos: 0,
        }
    });
    let (entries, more) = collect_pages!(
        limit,
        |token| client.list_audit_entries(pb::ListAuditEntriesRequest {
            page_size: 1000,
            page_token: token.clone(),
            identity: identity.clone().unwrap_or_default(),
            action: action.clone().unwrap_or_default(),
            start_time,
            end_time: None,
        }),
        entries
    );
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut outcome = e.outcome.clone();
            if !e.detail.is_empty() {
                outcome = format!("{outcome} ({})", e.detail);
            }
            vec![
                clock.time(e.time.as_ref()),
                dash(&e.identity),
                dash(&e.client),
                e.action.clone(),
                dash(&e.target),
                dash(&e.reason),
                outcome,
            ]
        })
        .collect();
    let table = table_with_more(
        &[
            "TIME", "IDENTITY", "FROM", "ACTION", "TARGET", "REASON", "OUTCOME",
        ],
        &rows,
        more,
        "entries",
    );
    out.write_all(table.as_bytes())?;
    Ok(Outcome::Done)
}
