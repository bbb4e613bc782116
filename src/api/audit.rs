//! The two-person kill and the audit trail on the API: `ApprovalService` (approve or reject
//! an operation awaiting approval) and `AuditService` (list the audit trail, read-only).
//!
//! # Contract
//!
//! - Approving and rejecting are commands to the core like any other (the core decides: only
//!   another identity than the requester's, within the window; its errors map as
//!   `status.rs` says), so each is journaled with who decided and why, and audited by the
//!   driver with the caller's address.
//! - `ListAuditEntries` reads the journal's `audit_recorded` events (not the core), newest
//!   first, filtered by identity, action and a time window; one request scans at most
//!   [`AUDIT_SCAN_LIMIT`] entries and may come back short with a token to go on. There is no
//!   method that changes or deletes an entry.
//! - [`record_audit`] is the short form of [`Backend::record_audit`] for code in `api` that
//!   audits what never reaches the core (refusals for lack of rights, access reloads).

use tonic::{Request, Response, Status};

use super::backend::{Backend, HistoryQuery};
use super::convert::{self, decode_token, encode_token};
use super::pb;
use super::service::{Api, caller};
use super::status::invalid_argument;
use crate::dispatch::{AuditEntry, Command, EventKind, Reply, Timestamp};

/// Journal records one ListAuditEntries request reads at most (in batches of
/// [`AUDIT_BATCH`]), so a filter that matches rarely cannot make one request scan the whole
/// trail.
pub const AUDIT_SCAN_LIMIT: usize = 20_000;
const AUDIT_BATCH: usize = 1_000;
/// Longest identity or action filter accepted, in bytes.
const MAX_FILTER_LEN: usize = 128;

/// Journal an audit entry through `backend`: the caller's identity and client address if
/// known, the action (`permission_denied`, `access_reloaded`, ...), its target and reason if
/// any, and the outcome. Never waits; bounded and cleaned by [`AuditEntry::new`].
pub fn record_audit<B: Backend + ?Sized>(
    backend: &B,
    identity: Option<&str>,
    client: Option<&str>,
    action: &str,
    target: Option<&str>,
    reason: Option<&str>,
    outcome: &str,
) {
    backend.record_audit(AuditEntry::new(
        identity, client, action, target, reason, outcome,
    ));
}

impl<B: Backend> Api<B> {
    async fn decide(
        &self,
        req: Request<pb::DecideOperationRequest>,
        approve: bool,
    ) -> Result<Response<pb::Operation>, Status> {
        let mut who = caller(&req)?;
        let r = req.into_inner();
        let operation = convert::parse_operation("name", &r.name)?;
        who.reason = Some(r.reason);
        let command = Command::DecideApproval { operation, approve };
        match self.run(String::new(), who, command).await? {
            Reply::Operation(op) => Ok(Response::new(self.named(convert::operation(&op)).await?)),
            Reply::Alarm { .. } | Reply::Message(_) | Reply::Callout(_) | Reply::Team(_) => Err(
                Status::internal("the core answered an approval with another resource"),
            ),
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::approval_service_server::ApprovalService for Api<B> {
    async fn approve_operation(
        &self,
        req: Request<pb::DecideOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.decide(req, true).await
    }

    async fn reject_operation(
        &self,
        req: Request<pb::DecideOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.decide(req, false).await
    }
}

fn filter_text(field: &str, s: &str) -> Result<Option<String>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_FILTER_LEN {
        return Err(invalid_argument(
            field,
            format!("longer than {MAX_FILTER_LEN} bytes"),
        ));
    }
    convert::plain(field, s)?;
    Ok(Some(s.to_string()))
}

#[tonic::async_trait]
impl<B: Backend> pb::audit_service_server::AuditService for Api<B> {
    async fn list_audit_entries(
        &self,
        req: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let r = req.into_inner();
        let c = &self.shared.config;
        let size = convert::page_size(r.page_size, c.default_page_size, c.max_page_size)?;
        let identity = filter_text("identity", &r.identity)?;
        let action = filter_text("action", &r.action)?;
        let from = convert::request_time("start_time", r.start_time)?.unwrap_or(Timestamp(0));
        let until =
            convert::request_time("end_time", r.end_time)?.unwrap_or(Timestamp(u64::MAX >> 1));
        if until < from {
            return Err(invalid_argument("end_time", "before start_time"));
        }
        let fkey = format!("{}\n{}\n{}\n{}", r.identity, r.action, from.0, until.0);
        let mut before = match decode_token(&r.page_token, "audit", &fkey)? {
            None => None,
            Some(k) => Some(
                k.split_once('.')
                    .and_then(|(at, seq)| Some((Timestamp(at.parse().ok()?), seq.parse().ok()?)))
                    .ok_or_else(|| invalid_argument("page_token", "bad key"))?,
            ),
        };
        let mut entries = Vec::new();
        let mut scanned = 0;
        let next = loop {
            let batch = self
                .shared
                .backend
                .history(HistoryQuery {
                    kind: "audit_recorded",
                    from,
                    until,
                    before,
                    limit: AUDIT_BATCH,
                })
                .await?;
            let exhausted = batch.len() < AUDIT_BATCH;
            let mut full = false;
            let mut last_filled = false;
            for (i, e) in batch.iter().enumerate() {
                scanned += 1;
                before = Some((e.event.at, e.seq));
                let EventKind::AuditRecorded { entry } = &e.event.kind else {
                    continue;
                };
                let who = entry.identity.as_deref();
                if identity.as_deref().is_some_and(|i| Some(i) != who)
                    || action.as_deref().is_some_and(|a| a != entry.action)
                {
                    continue;
                }
                entries.push(convert::audit_entry(e.cursor(), e.event.at, entry));
                if entries.len() == size {
                    full = true;
                    last_filled = i + 1 == batch.len();
                    break;
                }
            }
            // The page filled on the journal's last entry: nothing is left, so no token (a
            // token would only lead to an empty page).
            if full && exhausted && last_filled {
                break None;
            }
            if full || (!exhausted && scanned >= AUDIT_SCAN_LIMIT) {
                break before;
            }
            if exhausted {
                break None;
            }
        };
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries,
            next_page_token: next
                .map(|(at, seq)| encode_token("audit", &fkey, &format!("{}.{seq}", at.0)))
                .unwrap_or_default(),
        }))
    }
}
