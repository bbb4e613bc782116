//! Errors as gRPC statuses (AIP-193, docs/dispatch.md §4.1): a code, a message, and
//! google.rpc details through tonic-types: `ErrorInfo` with a stable `reason` and the domain
//! [`DOMAIN`], plus `BadRequest` field violations for INVALID_ARGUMENT.
//!
//! [`DispatchError`] maps with an exhaustive match (no wildcard, so a new variant must be
//! placed here before the crate compiles):
//!
//! | error | code | reason |
//! |---|---|---|
//! | unknown radio / talkgroup / alarm / operation | NOT_FOUND | `*_NOT_FOUND` |
//! | radio or talkgroup never heard, radio killed or stunned (`control`, `remedy` = `REVIVE`), alarm or operation in the wrong state, service the site cannot carry | FAILED_PRECONDITION | `NOT_HEARD`, `RADIO_KILLED`, `RADIO_STUNNED`, `ALARM_STATE`, `OPERATION_FINISHED`, `UNSUPPORTED_SERVICE` |
//! | approving or rejecting: the requester's own identity, no identity, an operation not awaiting approval, after the window | FAILED_PRECONDITION | `SAME_IDENTITY`, `APPROVER_UNKNOWN`, `NOT_AWAITING_APPROVAL`, `APPROVAL_EXPIRED` |
//! | request id reused for a different command | ALREADY_EXISTS | `REQUEST_ID_REUSED` (the id names an operation that exists; AIP-155 leaves the code open) |
//! | site queue full, too many operations | RESOURCE_EXHAUSTED | `QUEUE_FULL`, `TOO_MANY_OPERATIONS` |
//! | argument out of range | INVALID_ARGUMENT | `INVALID_ARGUMENT` + BadRequest naming the field |
//!
//! Watch errors ([`WatchError`], [`WatchEnd`]) carry cursors in the ErrorInfo metadata, in
//! their string form `<journal>.<seq>` (events.proto): `resume_cursor` (RESOURCE_EXHAUSTED
//! `WATCHER_LAGGED`), `oldest_cursor` (OUT_OF_RANGE `CURSOR_EXPIRED`); a cursor of another
//! journal is FAILED_PRECONDITION `JOURNAL_MISMATCH` with `journal` (the server's) and
//! `cursor_journal`.
//!
//! Before any handler runs, [`super::conn::GuardLayer`] gives tonic's decode failures their
//! codes: a request that is not a valid message (or has a string that is not UTF-8) is
//! INVALID_ARGUMENT with reason `INVALID_ARGUMENT` and field `request`; one over the decoding
//! size limit is RESOURCE_EXHAUSTED with reason `REQUEST_TOO_LARGE`.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::backend::{Unavailable, WatchEnd, WatchError};
use crate::dispatch::DispatchError;

/// The ErrorInfo domain of every error this API returns.
pub const DOMAIN: &str = "trunkgate.v1";

/// A status with an ErrorInfo (`reason`, [`DOMAIN`], `metadata`).
pub fn status(
    code: Code,
    reason: &str,
    message: impl Into<String>,
    meta: &[(&str, String)],
) -> Status {
    let metadata: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, DOMAIN, metadata),
    )
}

/// INVALID_ARGUMENT naming the request `field` (BadRequest) and why.
pub fn invalid_argument(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    let mut details = ErrorDetails::new();
    details
        .set_error_info("INVALID_ARGUMENT", DOMAIN, HashMap::new())
        .add_bad_request_violation(field, description.clone());
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid {field}: {description}"),
        details,
    )
}

/// NOT_FOUND for a resource name.
pub fn not_found(reason: &str, name: &str) -> Status {
    status(
        Code::NotFound,
        reason,
        format!("{name} not found"),
        &[("name", name.to_string())],
    )
}

impl From<Unavailable> for Status {
    fn from(e: Unavailable) -> Status {
        match &e {
            Unavailable::Stopped => status(Code::Unavailable, "DRIVER_STOPPED", e.to_string(), &[]),
            Unavailable::Overloaded => {
                status(Code::Unavailable, "DRIVER_OVERLOADED", e.to_string(), &[])
            }
            Unavailable::JournalUnreadable { reason } => status(
                Code::Unavailable,
                "JOURNAL_UNREADABLE",
                e.to_string(),
                &[("journal_error", reason.clone())],
            ),
            Unavailable::JournalUnwritable { reason } => status(
                Code::Unavailable,
                "JOURNAL_UNWRITABLE",
                e.to_string(),
                &[("journal_error", reason.clone())],
            ),
        }
    }
}

impl From<WatchEnd> for Status {
    fn from(e: WatchEnd) -> Status {
        match e {
            WatchEnd::Lagged { resume_after } => status(
                Code::ResourceExhausted,
                "WATCHER_LAGGED",
                format!("watcher fell behind; resume after cursor {resume_after}"),
                &[("resume_cursor", resume_after.to_string())],
            ),
        }
    }
}

impl From<WatchError> for Status {
    fn from(e: WatchError) -> Status {
        match e {
            WatchError::OutOfRange { oldest } => status(
                Code::OutOfRange,
                "CURSOR_EXPIRED",
                format!("cursor is older than retention; oldest cursor is {oldest}"),
                &[("oldest_cursor", oldest.to_string())],
            ),
            WatchError::Ahead { cursor, last } => invalid_argument(
                "cursor",
                format!("{cursor} is ahead of the journal (last seq {last})"),
            ),
            // FAILED_PRECONDITION (AIP-193): the request is well formed, but the journal is
            // not the one the cursor was issued by, and retrying cannot change that: the
            // client resyncs with a snapshot.
            WatchError::OtherJournal { cursor, journal } => status(
                Code::FailedPrecondition,
                "JOURNAL_MISMATCH",
                format!(
                    "cursor {cursor} belongs to journal {}, but this server's journal is \
                     {journal} (re-created or replaced): the cursor cannot be resumed; watch \
                     with a snapshot and use its cursors",
                    cursor.journal
                ),
                &[
                    ("journal", journal.to_string()),
                    ("cursor_journal", cursor.journal.to_string()),
                ],
            ),
            WatchError::Unavailable => Unavailable::Stopped.into(),
        }
    }
}

impl From<DispatchError> for Status {
    fn from(e: DispatchError) -> Status {
        let message = e.to_string();
        match e {
            DispatchError::UnknownRadio(r) => not_found("RADIO_NOT_FOUND", &format!("radios/{r}")),
            DispatchError::UnknownTalkgroup(t) => {
                not_found("TALKGROUP_NOT_FOUND", &format!("talkgroups/{t}"))
            }
            DispatchError::UnknownAlarm(a) => {
                not_found("ALARM_NOT_FOUND", &format!("alarms/{}", a.0))
            }
            DispatchError::UnknownOperation(o) => {
                not_found("OPERATION_NOT_FOUND", &format!("operations/{}", o.0))
            }
            DispatchError::UnknownMessage(m) => {
                not_found("MESSAGE_NOT_FOUND", &format!("messages/{}", m.0))
            }
            DispatchError::RadioNotHeard(r) => status(
                Code::FailedPrecondition,
                "NOT_HEARD",
                message,
                &[("name", format!("radios/{r}"))],
            ),
            DispatchError::TalkgroupNotHeard(t) => status(
                Code::FailedPrecondition,
                "NOT_HEARD",
                message,
                &[("name", format!("talkgroups/{t}"))],
            ),
            DispatchError::RadioKilled(r) => status(
                Code::FailedPrecondition,
                "RADIO_KILLED",
                message,
                &[("name", format!("radios/{r}"))],
            ),
            DispatchError::RadioStunned(r) => status(
                Code::FailedPrecondition,
                "RADIO_STUNNED",
                message,
                &[
                    ("name", format!("radios/{r}")),
                    ("control", "STUNNED".to_string()),
                    ("remedy", "REVIVE".to_string()),
                ],
            ),
            DispatchError::AlarmState {
                alarm,
                state,
                action,
            } => status(
                Code::FailedPrecondition,
                "ALARM_STATE",
                message,
                &[
                    ("name", format!("alarms/{}", alarm.0)),
                    ("state", format!("{state:?}").to_uppercase()),
                    ("action", action.to_string()),
                ],
            ),
            DispatchError::OperationFinished { operation, state } => status(
                Code::FailedPrecondition,
                "OPERATION_FINISHED",
                message,
                &[
                    ("name", format!("operations/{}", operation.0)),
                    ("state", format!("{state:?}")),
                ],
            ),
            DispatchError::RequestIdReused(id) => status(
                Code::AlreadyExists,
                "REQUEST_ID_REUSED",
                message,
                &[("request_id", id)],
            ),
            DispatchError::UnsupportedService {
                site,
                profile,
                service,
            } => status(
                Code::FailedPrecondition,
                "UNSUPPORTED_SERVICE",
                message,
                &[
                    ("site", format!("sites/{site}")),
                    ("profile", format!("{profile:?}")),
                    ("service", format!("{service:?}")),
                ],
            ),
            DispatchError::QueueFull { site, limit } => status(
                Code::ResourceExhausted,
                "QUEUE_FULL",
                message,
                &[
                    ("site", format!("sites/{site}")),
                    ("limit", limit.to_string()),
                ],
            ),
            DispatchError::TooManyOperations { limit } => status(
                Code::ResourceExhausted,
                "TOO_MANY_OPERATIONS",
                message,
                &[("limit", limit.to_string())],
            ),
            DispatchError::NotAwaitingApproval { operation, state } => status(
                Code::FailedPrecondition,
                "NOT_AWAITING_APPROVAL",
                message,
                &[
                    ("name", format!("operations/{}", operation.0)),
                    ("state", format!("{state:?}")),
                ],
            ),
            DispatchError::SameIdentity {
                operation,
                identity,
            } => status(
                Code::FailedPrecondition,
                "SAME_IDENTITY",
                message,
                &[
                    ("name", format!("operations/{}", operation.0)),
                    ("identity", identity),
                ],
            ),
            DispatchError::ApproverUnknown { operation } => status(
                Code::FailedPrecondition,
                "APPROVER_UNKNOWN",
                message,
                &[("name", format!("operations/{}", operation.0))],
            ),
            DispatchError::ApprovalExpired { operation } => status(
                Code::FailedPrecondition,
                "APPROVAL_EXPIRED",
                message,
                &[("name", format!("operations/{}", operation.0))],
            ),
            DispatchError::UnknownTeam(t) => not_found("TEAM_NOT_FOUND", &format!("teams/{t}")),
            DispatchError::UnknownCallout(c) => {
                not_found("CALLOUT_NOT_FOUND", &format!("callouts/{}", c.0))
            }
            DispatchError::CalloutFinished { callout, state } => status(
                Code::FailedPrecondition,
                "CALLOUT_FINISHED",
                message,
                &[
                    ("name", format!("callouts/{}", callout.0)),
                    ("state", format!("{state:?}").to_uppercase()),
                ],
            ),
            DispatchError::TeamConfigured(t) => status(
                Code::FailedPrecondition,
                "TEAM_CONFIGURED",
                message,
                &[("name", format!("teams/{t}"))],
            ),
            DispatchError::TeamExists(t) => status(
                Code::AlreadyExists,
                "TEAM_EXISTS",
                message,
                &[("name", format!("teams/{t}"))],
            ),
            DispatchError::TeamInUse { team, by } => status(
                Code::FailedPrecondition,
                "TEAM_IN_USE",
                message,
                &[
                    ("name", format!("teams/{team}")),
                    ("backup_of", format!("teams/{by}")),
                ],
            ),
            DispatchError::EtagMismatch { team, current } => status(
                Code::Aborted,
                "ETAG_MISMATCH",
                message,
                &[("name", format!("teams/{team}")), ("etag", current)],
            ),
            DispatchError::TooManyCallouts { limit } => status(
                Code::ResourceExhausted,
                "TOO_MANY_CALLOUTS",
                message,
                &[("limit", limit.to_string())],
            ),
            DispatchError::InvalidArgument { field, reason } => invalid_argument(field, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{AlarmId, AlarmState, RadioId, SiteId};
    use crate::journal::{Cursor, JournalId};

    fn info(s: &Status) -> (String, HashMap<String, String>) {
        let i = s.get_details_error_info().expect("error info");
        assert_eq!(i.domain, DOMAIN);
        (i.reason, i.metadata)
    }

    #[test]
    fn dispatch_errors_map_to_codes_and_reasons() {
        let r = RadioId::new(0x10_0001).unwrap();
        let s: Status = DispatchError::UnknownRadio(r).into();
        assert_eq!(s.code(), Code::NotFound);
        let (reason, meta) = info(&s);
        assert_eq!(reason, "RADIO_NOT_FOUND");
        assert_eq!(meta["name"], format!("radios/{r}"));

        let s: Status = DispatchError::AlarmState {
            alarm: AlarmId(3),
            state: AlarmState::Resolved,
            action: "acknowledge",
        }
        .into();
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert_eq!(info(&s).1["name"], "alarms/3");

        let s: Status = DispatchError::QueueFull {
            site: SiteId::new("a"),
            limit: 2,
        }
        .into();
        assert_eq!(s.code(), Code::ResourceExhausted);
        let s: Status = DispatchError::RequestIdReused("x".into()).into();
        assert_eq!(s.code(), Code::AlreadyExists);
        assert_eq!(info(&s).0, "REQUEST_ID_REUSED");
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let s: Status = DispatchError::InvalidArgument {
            field: "text",
            reason: "too long",
        }
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let br = s.get_details_bad_request().expect("bad request");
        assert_eq!(br.field_violations[0].field, "text");
        assert_eq!(info(&s).0, "INVALID_ARGUMENT");
    }

    #[test]
    fn watch_errors_carry_cursors() {
        let j = JournalId::from_bytes([0x11; 16]);
        let other = JournalId::from_bytes([0x22; 16]);
        let hex = |b: &str| b.repeat(16);
        let s: Status = WatchEnd::Lagged {
            resume_after: Cursor::new(j, 41),
        }
        .into();
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(info(&s).1["resume_cursor"], format!("{}.41", hex("11")));
        let s: Status = WatchError::OutOfRange {
            oldest: Cursor::new(j, 7),
        }
        .into();
        assert_eq!(s.code(), Code::OutOfRange);
        let (reason, meta) = info(&s);
        assert_eq!(reason, "CURSOR_EXPIRED");
        assert_eq!(meta["oldest_cursor"], format!("{}.7", hex("11")));
        let s: Status = WatchError::OtherJournal {
            cursor: Cursor::new(other, 3),
            journal: j,
        }
        .into();
        assert_eq!(s.code(), Code::FailedPrecondition);
        let (reason, meta) = info(&s);
        assert_eq!(reason, "JOURNAL_MISMATCH");
        assert_eq!(meta["journal"], hex("11"));
        assert_eq!(meta["cursor_journal"], hex("22"));
        assert!(s.message().contains(&hex("11")), "{}", s.message());
    }
}
