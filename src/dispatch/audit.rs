//! Audit entries: who did what, when, from where, why, and how it came out.
//!
//! # Contract
//!
//! - An [`AuditEntry`] is journaled as an [`EventKind::AuditRecorded`] event: the event's time
//!   is the entry's time. Folding one changes no state ([`Core::apply`] ignores it), so audit
//!   entries never affect a replay; the journal keeps them longer than ordinary events (the
//!   audit retention class, `AUDIT_KINDS`), and nothing in the gateway changes or deletes one.
//! - Every operator command gets one (the driver records it with the command's outcome, in
//!   the same commit as the command's events, [`AuditEntry::for_command`]); so do the core's
//!   own configuration changes ([`EventKind::ConfigChanged`], action
//!   [`ACTION_CONFIG_CHANGED`]) and whatever else hands one to [`Input::Audit`] (refusals for
//!   lack of rights, access reloads).
//! - Every text is bounded and freed of control characters here, whatever the caller handed
//!   over, so an entry shown in a table or a terminal cannot rewrite it.
//!
//! Targets are written as the API's resource names (`radios/{dial}`, `operations/{n}`,
//! `alarms/{n}`, `messages/{n}`, `talkgroups/{dial}`).
//!
//! [`Core::apply`]: super::Core::apply
//! [`Input::Audit`]: super::Input::Audit

use serde::{Deserialize, Serialize};

use super::event::EventKind;
use super::ids::OperationId;
use super::model::{Addressee, MessageMark, OtaCommand};
use super::{Command, DispatchError, Reply, Request};

/// The journal kinds of the audit retention class (see the journal's `Retention`).
pub const AUDIT_KINDS: &[&str] = &["audit_recorded"];

/// The outcome of an action that was carried out.
pub const OUTCOME_OK: &str = "ok";

/// The action of a configuration change the core applied.
pub const ACTION_CONFIG_CHANGED: &str = "config_changed";

/// Longest identity or client address kept, in characters.
pub const MAX_IDENTITY_CHARS: usize = 128;
/// Longest action kept, in characters.
pub const MAX_ACTION_CHARS: usize = 64;
/// Longest target, reason or outcome kept, in characters.
pub const MAX_TEXT_CHARS: usize = 512;

/// One audit entry (its time is the event's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted: the identity of the caller, if known.
    pub identity: Option<String>,
    /// From where: the client's address (`ip:port`), if known.
    pub client: Option<String>,
    /// What: a short stable name (`kill_radio`, `approve_operation`, `config_changed`, ...).
    pub action: String,
    /// On what: a resource name, if the action has a target.
    pub target: Option<String>,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// How it came out: [`OUTCOME_OK`], or what refused it.
    pub outcome: String,
    /// The operation the action created or decided, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationId>,
    /// What changed, where the action says no more (a configuration change: each key with
    /// its old and new value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `s` without control characters (each becomes a space), at most `max` characters.
fn clean(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

fn clean_opt(s: Option<&str>, max: usize) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(|s| clean(s, max))
}

impl AuditEntry {
    /// An entry, with every text bounded and cleaned (module doc). The record_audit shape:
    /// identity and client address if known, the action, its target and reason if any, and
    /// the outcome.
    pub fn new(
        identity: Option<&str>,
        client: Option<&str>,
        action: &str,
        target: Option<&str>,
        reason: Option<&str>,
        outcome: &str,
    ) -> AuditEntry {
        AuditEntry {
            identity: clean_opt(identity, MAX_IDENTITY_CHARS),
            client: clean_opt(client, MAX_IDENTITY_CHARS),
            action: clean(action, MAX_ACTION_CHARS),
            target: clean_opt(target, MAX_TEXT_CHARS),
            reason: clean_opt(reason, MAX_TEXT_CHARS),
            outcome: clean(outcome, MAX_TEXT_CHARS),
            operation: None,
            detail: None,
        }
    }

    /// The entry for an operator command and its result: the request's operator, client
    /// and reason, the command's action and target, and [`OUTCOME_OK`] or the error.
    pub fn for_command(request: &Request, result: &Result<Reply, DispatchError>) -> AuditEntry {
        let (action, target) = command_action(&request.command);
        let outcome = match result {
            Ok(_) => OUTCOME_OK.to_string(),
            Err(e) => format!("refused: {e}"),
        };
        let mut entry = AuditEntry::new(
            request.operator.as_deref(),
            request.client.as_deref(),
            action,
            Some(&target),
            request.reason.as_deref(),
            &outcome,
        );
        entry.operation = match result {
            Ok(Reply::Operation(op)) => Some(op.id),
            Ok(Reply::Alarm { operation, .. }) => operation.as_ref().map(|o| o.id),
            Ok(Reply::Callout(_)) | Ok(Reply::Team(_)) => None,
            Ok(Reply::Message(_)) | Err(_) => match &request.command {
                Command::CancelOperation { operation }
                | Command::DecideApproval { operation, .. } => Some(*operation),
                _ => None,
            },
        };
        entry
    }
}

fn addressee(a: Addressee) -> String {
    match a {
        Addressee::Radio(r) => format!("radios/{r}"),
        Addressee::Talkgroup(t) => format!("talkgroups/{t}"),
    }
}

/// The action name and target of a command.
fn command_action(command: &Command) -> (&'static str, String) {
    match command {
        Command::Ota(cmd) => {
            let action = match cmd {
                OtaCommand::RadioCheck { .. } => "check_radio",
                OtaCommand::CallAlert { .. } => "alert_radio",
                OtaCommand::Stun { .. } => "stun_radio",
                OtaCommand::Revive { .. } => "revive_radio",
                OtaCommand::Kill { .. } => "kill_radio",
                OtaCommand::SendText { .. } => "send_text",
                OtaCommand::SendStatus { .. } => "send_status",
                OtaCommand::RequestLocation { .. } => "request_location",
                OtaCommand::AcknowledgeEmergency { .. } => "acknowledge_emergency",
            };
            (action, addressee(cmd.addressee()))
        }
        Command::AcknowledgeAlarm { alarm } => ("acknowledge_alarm", format!("alarms/{}", alarm.0)),
        Command::ResolveAlarm { alarm } => ("resolve_alarm", format!("alarms/{}", alarm.0)),
        Command::CancelOperation { operation } => {
            ("cancel_operation", format!("operations/{}", operation.0))
        }
        Command::MarkMessage { message, mark } => (
            match mark {
                MessageMark::Read => "mark_message_read",
                MessageMark::Handled => "mark_message_handled",
            },
            format!("messages/{}", message.0),
        ),
        Command::DecideApproval { operation, approve } => (
            if *approve {
                "approve_operation"
            } else {
                "reject_operation"
            },
            format!("operations/{}", operation.0),
        ),
        Command::StartCallout(spec) => {
            let mut targets: Vec<String> =
                spec.teams.iter().map(|t| format!("teams/{t}")).collect();
            targets.extend(spec.radios.iter().map(|r| format!("radios/{r}")));
            ("start_callout", targets.join(" "))
        }
        Command::CancelCallout { callout } => ("cancel_callout", format!("callouts/{}", callout.0)),
        Command::CreateTeam(spec) => ("create_team", format!("teams/{}", spec.key)),
        Command::UpdateTeam { spec, .. } => ("update_team", format!("teams/{}", spec.key)),
        Command::DeleteTeam { key, .. } => ("delete_team", format!("teams/{key}")),
    }
}

/// The config keys that differ between `old` and `new`, as `key: old → new`, for the audit
/// entry of a configuration change.
pub(crate) fn config_diff(old: &super::Config, new: &super::Config) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return String::new();
    };
    let changed: Vec<String> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| match a.get(k) {
            Some(was) => format!("{k}: {was} → {v}"),
            None => format!("{k}: {v}"),
        })
        .collect();
    changed.join(", ")
}

impl EventKind {
    /// Whether the event is an audit entry (the journal's audit retention class).
    pub fn is_audit(&self) -> bool {
        matches!(self, EventKind::AuditRecorded { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_bounded_and_free_of_control_characters() {
        let long = "x".repeat(10_000);
        let e = AuditEntry::new(
            Some("a\u{1b}[2Jb"),
            Some(""),
            &long,
            Some(&long),
            Some("line\nbreak"),
            "ok",
        );
        assert_eq!(e.identity.as_deref(), Some("a [2Jb"));
        assert_eq!(e.client, None);
        assert_eq!(e.action.chars().count(), MAX_ACTION_CHARS);
        assert_eq!(e.target.unwrap().chars().count(), MAX_TEXT_CHARS);
        assert_eq!(e.reason.as_deref(), Some("line break"));
    }

    #[test]
    fn config_diff_names_the_changed_keys() {
        let old = super::super::Config::default();
        let new = super::super::Config {
            kill_approval_window_ms: 60_000,
            ..old.clone()
        };
        assert_eq!(
            config_diff(&old, &new),
            "kill_approval_window_ms: 300000 → 60000"
        );
        assert_eq!(config_diff(&old, &old), "");
    }
}
