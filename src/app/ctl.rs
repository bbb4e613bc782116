//! `trunkgate ctl`: a command-line client of the gRPC dispatch API (proto/trunkgate/v1) that
//! a dispatcher can read.
//!
//! - Times are local: the system time zone (the `TZ` variable, else `/etc/localtime`) or
//!   `--tz <IANA name>`, read with the system time zone database. Today's times print as
//!   `14:53:16`, older ones as `12-05 14:53:16`.
//! - Radios, talkgroups, sites and teams are shown by name (`宋江 (57120201)`, the site's
//!   display name); the names come from the gateway's directory, read once per command
//!   (again after a reconnect).
//! - Lists (`radios`, `talkgroups`, `sites`, `teams`, `calls`, `alarms`, `operations`) page
//!   through the List methods and print aligned tables (display width by Unicode UAX #11,
//!   `unicode-width`, so Chinese names line up); rows beyond `--limit` are counted and said
//!   (`… 12 more`), never cut silently. `radios`, `calls`, `alarms` and `operations` take
//!   `--filter` (AIP-160, passed to the gateway); `alarms --open` is such a filter too.
//! - Everything from the air or the network (names, aliases, texts, cursors, the gateway's
//!   messages) is printed through [`escape`] (tables, watch lines, operation lines, errors)
//!   or [`escape_json`] (`--json`): control characters and bidirectional marks never reach
//!   the terminal raw.
//! - `watch` prints one line per event: local time, then what happened, with names.
//!   Emergencies start with `!! EMERGENCY`, and ring the terminal bell when standard output
//!   is a terminal (or with `--bell`). Event kinds this client does not know yet print as a
//!   generic line with their type. `--json` prints each stream message in the canonical
//!   protobuf JSON mapping instead (from the embedded descriptor set, `prost-reflect`).
//!   When the gateway goes away (restart, network), `watch` says so on standard error once,
//!   reconnects until stopped and resumes after the last event it printed; a slow watcher cut
//!   by the server resumes after the cursor the server names. A cursor the server refuses
//!   (another journal, expired) ends the watch with that error: it is never silently replaced
//!   by another position. A closed standard output (`ctl watch | head`) ends it quietly.
//! - Over-the-air commands (`check`, `alert`, `stun`, `revive`, `kill`, `text`, `status`,
//!   `locate`) and `ack-alarm` take a radio or talkgroup as a dial number, `0x<hex>`,
//!   `#<decimal>`, a plain decimal DMR ID of at most 7 digits, a resource name, or a radio's
//!   display name. `text` and `status` hand a number to the gateway as typed, which resolves
//!   it against its directory and refuses an ambiguous one naming both readings. Teams are
//!   named by their configured name (`qingshan`) or display name. By default they wait for the
//!   outcome, printing one line per state change; `--no-wait` prints the operation and
//!   returns at once. The final line says what the outcome means (`outcome`): confirmed by
//!   the radio, transmitted, or PARTLY transmitted with the failed sites named, the failure's
//!   reason, and the data asked for (a check's site and signal, a location's coordinates,
//!   accuracy, fix time and source); group traffic lists each site's outcome under it, a
//!   periodic `locate` each poll's as it comes. `--timeout` bounds the whole command from its
//!   start (every call to the gateway included); then it gives up waiting (exit 5) and the
//!   operation goes on. `stun` and `kill` need `--reason` (sent with the request, kept with
//!   the operation and in the audit trail); `kill` also a confirmation: typed `yes` at a
//!   terminal, or `--yes`. A kill then waits for a second supervisor, so `kill` prints it
//!   awaiting approval and returns; `pending`, `approve`, `reject` and `audit` live in
//!   `ctl/approval.rs`.
//! - `messages` lists texts and status messages of both directions, newest first, with
//!   filters; `inbox` lists received ones, those not yet handled first; `mark-read` and
//!   `mark-handled` mark one (journaled with the caller's identity); `track` prints a radio's
//!   position reports from the journal, newest first. Same conventions: local times, names,
//!   `… N more`.
//! - `status` without arguments (or `gateway`) prints the gateway itself on one screen
//!   (`GatewayService.GetStatus`): links, journal, watchers, queues per site and slot
//!   (`ctl/status.rs`); `status RECIPIENT N` sends a status message.
//! - `callout start|show|list|cancel|export` (in `ctl/callout.rs`): start a call-out and follow
//!   it in a live per-member table until it ends, and export its results as CSV or JSON
//!   (docs/callouts.md §4).
//! - Errors are one plain sentence on standard error, and the exit status says what kind
//!   ([`exit`], also in `ctl --help`).
//! - Every call carries a bearer token (`--token`, `$TRUNKGATE_TOKEN`, `--token-file`,
//!   `$TRUNKGATE_TOKEN_FILE`, else the demo's `data/demo/demo.token`), and TLS is used for an
//!   `https://` server or with `--ca` (`--cert` / `--key` for a client certificate); `access`
//!   has the details. `--operator` is only a note in the gateway's debug log; the token's identity is recorded.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use jiff::tz::TimeZone;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

mod access;

/// The channel every ctl client uses: the connection plus the bearer token on every call.
type AuthChannel = InterceptedService<Channel, access::Bearer>;
use unicode_width::UnicodeWidthStr;

use crate::api::pb;
use crate::api::service::{OPERATOR_METADATA, OPERATOR_METADATA_BIN};

mod callout;
use crate::dispatch::{DialNumber, IdKind};

mod outcome;
mod status;

/// Exit statuses of `trunkgate ctl`, distinct per kind of outcome.
pub mod exit {
    /// Done; a waited-for operation succeeded.
    pub const OK: u8 = 0;
    /// The operation failed or was cancelled, or another error.
    pub const FAILED: u8 = 1;
    /// Usage: a bad argument or option (clap's own usage errors exit 2 as well).
    pub const USAGE: u8 = 2;
    /// Not found: no such radio, talkgroup, site, team, alarm or operation.
    pub const NOT_FOUND: u8 = 3;
    /// Refused: the radio or the gateway refused the command.
    pub const REFUSED: u8 = 4;
    /// Timed out: the radio did not answer in time, or `--timeout` passed.
    pub const TIMED_OUT: u8 = 5;
    /// Unavailable: the gateway cannot be reached or is not serving.
    pub const UNAVAILABLE: u8 = 6;
}

const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  done (a waited-for operation succeeded)
  1  the operation failed or was cancelled, or another error
  2  usage: a bad argument or option
  3  not found: no such radio, talkgroup, site, team, alarm or operation
  4  refused: the radio or the gateway refused the command
  5  timed out: no answer in time, or --timeout passed
  6  unavailable: the gateway cannot be reached or is not serving

Times are local (the system time zone, or --tz). Radios and talkgroups are named by their
8-digit dial number, 0x<hex> or #<decimal> air address, or a radio's display name.";

/// `trunkgate ctl` arguments.
#[derive(Debug, Clone, Args)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct CtlArgs {
    /// The gateway's gRPC address (`127.0.0.1:50051`; `http://` is implied).
    #[arg(long, default_value = "127.0.0.1:50051", global = true)]
    pub server: String,
    /// A display note recorded beside your identity on commands (`ops1 (张三)`; sent as
    /// `trunkgate-operator` metadata). Who you are is the token's identity.
    #[arg(long, global = true)]
    pub operator: Option<String>,
    /// The bearer token (else $TRUNKGATE_TOKEN, --token-file, $TRUNKGATE_TOKEN_FILE, or the
    /// demo's data/demo/demo.token).
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// A file holding the bearer token.
    #[arg(long, global = true)]
    pub token_file: Option<std::path::PathBuf>,
    /// CA certificate (PEM) to check a TLS server against; implies TLS.
    #[arg(long, global = true)]
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS (with --key).
    #[arg(long, global = true)]
    pub cert: Option<std::path::PathBuf>,
    /// Client key (PEM) for mutual TLS (with --cert).
    #[arg(long, global = true)]
    pub key: Option<std::path::PathBuf>,
    /// Time zone for the times shown (an IANA name such as Asia/Shanghai); default: the
    /// system's (TZ, else /etc/localtime).
    #[arg(long, global = true)]
    pub tz: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// How a command waits for its operation.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Return at once with the operation name instead of waiting for the outcome.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up after this many seconds from the start of the command, whatever is left to
    /// wait for (the operation goes on in the gateway). Default 60; for a periodic `locate`,
    /// 60 plus every × polls.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Idempotency key: repeating the command with it returns the same operation.
    #[arg(long)]
    pub request_id: Option<String>,
}

/// `trunkgate ctl` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CtlCommand {
    /// List radios.
    Radios {
        /// Only radios last heard on this site (name or display name).
        #[arg(long)]
        site: Option<String>,
        /// Only members of this team (number, name or display name).
        #[arg(long)]
        team: Option<String>,
        /// Only radios affiliated to this talkgroup.
        #[arg(long)]
        talkgroup: Option<String>,
        /// Only registered radios.
        #[arg(long)]
        registered: bool,
        /// AIP-160 filter, e.g. "last_heard_time >= 2026-05-01T08:00:00+08:00" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List talkgroups.
    Talkgroups {
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List sites and their links.
    Sites,
    /// The gateway on one screen: links, journal, watchers, queues per site and slot.
    Gateway,
    /// List teams.
    Teams,
    /// List active and recent calls.
    Calls {
        /// Only calls in progress.
        #[arg(long)]
        active: bool,
        /// AIP-160 filter, e.g. "talkgroup = talkgroups/80020910" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List alarms (the number in the ALARM column is what `ack-alarm` takes).
    Alarms {
        /// Only alarms not yet resolved.
        #[arg(long)]
        open: bool,
        /// AIP-160 filter, e.g. "team = teams/qingshan" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List operations.
    Operations {
        /// AIP-160 filter, e.g. "kind = STUN AND done = false" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Print events as they happen, one line each, until stopped.
    Watch {
        /// Replay after this cursor (`<journal>.<seq>`, shown with --cursors), then go live.
        #[arg(long)]
        cursor: Option<String>,
        /// Print the current state first.
        #[arg(long)]
        snapshot: bool,
        /// Event filter (AIP-160), e.g. "type = alarm_* OR type = operation_*" or
        /// "team = teams/qingshan".
        #[arg(long, default_value = "")]
        filter: String,
        /// Also print heartbeats.
        #[arg(long)]
        heartbeats: bool,
        /// Print each message in the protobuf JSON mapping, one object a line (for scripts).
        #[arg(long)]
        json: bool,
        /// Start each line with the event's cursor (`#<journal>.<seq>`, for --cursor).
        #[arg(long)]
        cursors: bool,
        /// Ring the terminal bell on emergencies even when the output is not a terminal.
        #[arg(long)]
        bell: bool,
    },
    /// Radio check (在线检测).
    Check {
        /// Radio: dial number, 0x<hex>, #<decimal>, radios/... or its display name.
        radio: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Call alert.
    Alert {
        /// Radio.
        radio: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Stun (遥晕).
    Stun {
        /// Radio.
        radio: String,
        /// Why (required; kept with the operation and in the audit trail).
        #[arg(long, required = true)]
        reason: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Revive (激活).
    Revive {
        /// Radio.
        radio: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Kill (遥毙): permanent. Asks for confirmation at a terminal; then waits for a second
    /// supervisor's `ctl approve` (returns at once with the operation awaiting approval).
    Kill {
        /// Radio.
        radio: String,
        /// Why (required; kept with the operation and in the audit trail).
        #[arg(long, required = true)]
        reason: String,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Send a text message to a radio or talkgroup.
    Text {
        /// Radio or talkgroup: a dial number (group numbers go to the talkgroup), or
        /// radios/... / talkgroups/...
        recipient: String,
        /// The text.
        text: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Send a status number (0..=1023) to a radio or talkgroup; without arguments, the
    /// gateway on one screen (the same as `gateway`).
    Status {
        /// Radio or talkgroup.
        #[arg(requires = "status")]
        recipient: Option<String>,
        /// Status number (10 bits on the air).
        #[arg(value_parser = clap::value_parser!(u32).range(0..=1023))]
        status: Option<u32>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Request a radio's location, once or periodically.
    Locate {
        /// Radio.
        radio: String,
        /// Poll every SECS seconds (with --polls).
        #[arg(long, requires = "polls")]
        every: Option<u64>,
        /// Number of polls (with --every).
        #[arg(long, requires = "every")]
        polls: Option<u32>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Acknowledge an alarm (the acknowledgement goes over the air). `ctl alarms` lists them.
    AckAlarm {
        /// Alarm: its number (ALARM column of `ctl alarms`) or alarms/N.
        alarm: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Resolve an alarm.
    ResolveAlarm {
        /// Alarm: its number or alarms/N.
        alarm: String,
    },
    /// Show one operation.
    Operation {
        /// Operation: its number or operations/N.
        operation: String,
    },
    /// Cancel an operation that has not finished.
    Cancel {
        /// Operation: its number or operations/N.
        operation: String,
    },
    /// List texts and status messages, both directions, newest first.
    Messages {
        /// Only messages from or to this radio.
        #[arg(long)]
        radio: Option<String>,
        /// Only messages to this talkgroup.
        #[arg(long)]
        talkgroup: Option<String>,
        /// Only messages of this team (configured name or display name).
        #[arg(long)]
        team: Option<String>,
        /// Only received (`in`) or sent (`out`) messages.
        #[arg(long, value_parser = ["in", "out"])]
        direction: Option<String>,
        /// Only messages not yet handled.
        #[arg(long)]
        unhandled: bool,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Received messages, those not yet handled first (then the handled ones), newest first
    /// within each.
    Inbox {
        /// Only messages of this team (configured name or display name).
        #[arg(long)]
        team: Option<String>,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// A radio's track: its position reports from the journal, newest first.
    Track {
        /// Radio.
        radio: String,
        /// Only reports received in the last MINUTES minutes.
        #[arg(long)]
        minutes: Option<u64>,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Operations awaiting a second supervisor's approval (kills), soonest deadline first.
    Pending {
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Approve an operation awaiting approval (a kill another operator asked for): it goes on
    /// the air. Waits for the outcome like any command.
    Approve {
        /// Operation: its number (OP column of `ctl pending`) or operations/N.
        operation: String,
        /// Why (kept with the operation and in the audit trail).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Reject an operation awaiting approval: nothing goes on the air.
    Reject {
        /// Operation: its number or operations/N.
        operation: String,
        /// Why (kept with the operation and in the audit trail).
        #[arg(long)]
        reason: Option<String>,
    },
    /// The audit trail, newest first: who did what, when, from where, why, and the outcome.
    Audit {
        /// Only entries of this identity (operator).
        #[arg(long)]
        identity: Option<String>,
        /// Only entries of this action (`kill_radio`, `approve_operation`, `config_changed`, ...).
        #[arg(long)]
        action: Option<String>,
        /// Only entries of the last MINUTES minutes.
        #[arg(long)]
        minutes: Option<u64>,
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Mark a message read.
    MarkRead {
        /// Message: its number (MESSAGE column of `ctl messages`) or messages/N.
        message: String,
    },
    /// Mark a message handled (and read).
    MarkHandled {
        /// Message: its number or messages/N.
        message: String,
    },
    /// Call-outs: start one and follow it live, show, list, cancel, export.
    #[command(subcommand)]
    Callout(callout::CalloutCommand),
}

// ---- outcomes and errors -------------------------------------------------------------------

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (a waited-for operation succeeded).
    Done,
    /// The operation failed or was cancelled.
    Failed,
    /// The radio refused.
    Refused,
    /// No answer in time, or the wait gave up.
    TimedOut,
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Done => exit::OK,
            Outcome::Failed => exit::FAILED,
            Outcome::Refused => exit::REFUSED,
            Outcome::TimedOut => exit::TIMED_OUT,
        }
    }
}

/// A command that could not be done: one sentence for a person, and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlError {
    /// Exit status ([`exit`]).
    pub code: u8,
    /// One plain sentence.
    pub message: String,
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CtlError {}

impl CtlError {
    /// The message is [`escape`]d: it may quote the gateway or a name from the air.
    fn new(code: u8, message: impl AsRef<str>) -> CtlError {
        CtlError {
            code,
            message: escape(&sentence(message.as_ref())).into_owned(),
        }
    }

    /// Standard output was closed by the reader (`| head`): not an error, nothing to say.
    fn closed_output() -> CtlError {
        CtlError {
            code: exit::OK,
            message: String::new(),
        }
    }
}

impl From<std::io::Error> for CtlError {
    fn from(e: std::io::Error) -> CtlError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CtlError::closed_output()
        } else {
            CtlError::new(exit::FAILED, format!("cannot write the output ({e})"))
        }
    }
}

/// Capitalise the first letter and end with exactly one full stop.
fn sentence(s: &str) -> String {
    let s = s.trim().trim_end_matches('.');
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    out.push('.');
    out
}

/// "radios/57120201" → "radio 57120201", for sentences.
fn thing(name: &str) -> String {
    match name.split_once('/') {
        Some((collection, id)) => {
            let kind = collection.strip_suffix('s').unwrap_or(collection);
            format!("{kind} {id}")
        }
        None => name.to_string(),
    }
}

/// A gRPC status as one sentence and an exit status. The server's messages are written for
/// integrators; this says the same for a person, without the framework's prefix.
fn status_error(s: tonic::Status) -> CtlError {
    use tonic::Code;
    use tonic_types::StatusExt;
    let info = s.get_details_error_info();
    let name = info.as_ref().and_then(|i| i.metadata.get("name").cloned());
    let violation = s
        .get_details_bad_request()
        .and_then(|b| b.field_violations.into_iter().next())
        .map(|v| (v.field, v.description));
    let mut message = match violation {
        Some((field, description)) => format!("the gateway did not accept {field}: {description}"),
        None => s.message().to_string(),
    };
    if s.code() == Code::Unauthenticated {
        message.push_str(
            " (give ctl a token: --token, $TRUNKGATE_TOKEN, --token-file or $TRUNKGATE_TOKEN_FILE; `trunkgate access new-token` mints one)",
        );
    }
    match s.code() {
        Code::NotFound => CtlError::new(
            exit::NOT_FOUND,
            match name {
                Some(n) => format!("{} is not known to the gateway", thing(&n)),
                None => message,
            },
        ),
        Code::InvalidArgument | Code::OutOfRange => CtlError::new(exit::USAGE, message),
        Code::FailedPrecondition
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::AlreadyExists
        | Code::Aborted
        | Code::ResourceExhausted => CtlError::new(exit::REFUSED, message),
        Code::DeadlineExceeded => CtlError::new(exit::TIMED_OUT, message),
        Code::Unavailable => CtlError::new(
            exit::UNAVAILABLE,
            if info.is_some() {
                format!("the gateway is not serving: {message}")
            } else {
                "the gateway cannot be reached".to_string()
            },
        ),
        _ => CtlError::new(exit::FAILED, message),
    }
}

/// Page through a list: the first `limit` items, and how many more there are.
macro_rules! collect_pages {
    ($limit:expr, |$token:ident| $call:expr, $items:ident) => {{
        let limit: usize = $limit;
        let mut all = Vec::new();
        let mut more = 0usize;
        let mut $token = String::new();
        loop {
            let page = $call.await.map_err(status_error)?.into_inner();
            let n = page.$items.len();
            if all.len() < limit {
                all.extend(page.$items);
            } else {
                more += n;
            }
            $token = page.next_page_token;
            if $token.is_empty() || n == 0 {
                break;
            }
        }
        if all.len() > limit {
            more += all.len() - limit;
            all.truncate(limit);
        }
        (all, more)
    }};
}

mod approval;

/// Run `trunkgate ctl`; the exit status is one of [`exit`].
pub fn run(args: CtlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Cannot start: {e}.");
            return ExitCode::from(exit::FAILED);
        }
    };
    let mut out = std::io::stdout();
    match runtime.block_on(execute(args, &mut out)) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("{}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

// ---- names as typed ----------------------------------------------------------------------

fn with_collection(collection: &str, s: &str) -> String {
    if s.contains('/') {
        s.to_string()
    } else {
        format!("{collection}/{s}")
    }
}

/// Is `s` an address the API takes for a radio or talkgroup: 8 digits, `0x` + hex,
/// `#` + decimal, or a plain decimal DMR ID of at most 7 digits?
fn is_address(s: &str) -> bool {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !hex.is_empty() && hex.len() <= 6 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(dec) = s.strip_prefix('#') {
        return dec.parse::<u32>().is_ok_and(|v| v <= 0xFF_FFFF);
    }
    if (1..=7).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    s.parse::<DialNumber>().is_ok()
}

/// A radio as typed: a dial number, `0x<hex>`, `#<decimal>`, or a resource name.
pub fn radio_name(s: &str) -> String {
    with_collection("radios", s.trim())
}

/// A recipient as typed: a resource name is kept, anything else goes to the gateway as it
/// is, which resolves it against the radios and talkgroups it knows (a dial number by the
/// dialling plan, docs/pdt.md §0 item 2; a raw air address by the directory; an ambiguous
/// one is refused naming both readings).
pub fn recipient_name(s: &str) -> String {
    s.trim().to_string()
}

/// `alarms/N` or `operations/N` from a number as typed.
fn numbered(collection: &str, what: &str, s: &str) -> Result<String, CtlError> {
    let s = s.trim();
    let id = s
        .strip_prefix(collection)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(s);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        // The command that lists them: call-outs are listed by `ctl callout list`.
        let lister = match collection {
            "callouts" => "callout list",
            other => other,
        };
        return Err(CtlError::new(
            exit::USAGE,
            format!("\"{s}\" is not {what} number (`trunkgate ctl {lister}` lists them)"),
        ));
    }
    Ok(format!("{collection}/{id}"))
}

// ---- display ---------------------------------------------------------------------------

/// Display columns of a string (UAX #11: East Asian Wide and Fullwidth count 2).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Whether a character must not reach a terminal raw: C0, DEL and C1 controls (a newline
/// breaks a table row, ESC and CSI start escape sequences) and the bidirectional
/// embedding, override and isolate marks (they reorder what is shown).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character (C0, DEL, C1) and bidirectional mark written as an
/// escape (`\n`, `\t`, `\r`, else `\u{1b}`), so names, aliases and texts from the air or
/// the network print as one inert line. Everything else, CJK included, is kept as it is.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A JSON text with every character [`escape`] escapes written as a JSON `\uXXXX` escape
/// (serde_json escapes C0 controls but leaves DEL, C1 and bidi marks raw). The
/// result is still the same JSON: such characters only occur inside strings, and all of
/// them are in the Basic Multilingual Plane.
pub fn escape_json(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Render rows under headers, columns separated by two spaces and padded by display width.
/// Cells are [`escape`]d.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let rows = &rows[..];
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(display_width(cell));
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(display_width(cell));
            s.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The radios that talked in a call (kept after it ended), by name, the one talking now
/// marked `*`.
fn talkers(k: &pb::Call, names: &Names) -> String {
    let mut shown: Vec<String> = k
        .talkers
        .iter()
        .map(|t| {
            if *t == k.talker {
                format!("{}*", names.radio(t))
            } else {
                names.radio(t)
            }
        })
        .collect();
    if !k.talker.is_empty() && !k.talkers.contains(&k.talker) {
        shown.push(format!("{}*", names.radio(&k.talker)));
    }
    shown.join(", ")
}

/// A table followed by the count of rows not shown, if any.
fn table_with_more(headers: &[&str], rows: &[Vec<String>], more: usize, what: &str) -> String {
    let mut s = table(headers, rows);
    if more > 0 {
        let _ = writeln!(s, "… {more} more {what} (raise --limit to see them)");
    }
    s
}

/// Local times for a person.
#[derive(Debug, Clone)]
pub struct Clock {
    tz: TimeZone,
}

impl Clock {
    /// The zone named by `--tz`, else the system's.
    pub fn new(tz: Option<&str>) -> Result<Clock, CtlError> {
        let tz = match tz {
            Some(name) => TimeZone::get(name).map_err(|_| {
                CtlError::new(
                    exit::USAGE,
                    format!("--tz {name} is not a time zone (write e.g. Asia/Shanghai)"),
                )
            })?,
            None => TimeZone::system(),
        };
        Ok(Clock { tz })
    }

    fn zoned(&self, t: &prost_types::Timestamp) -> Option<jiff::ZonedDateTime> {
        jiff::Timestamp::new(t.seconds, t.nanos)
            .ok()
            .map(|t| t.to_zoned_datetime(self.tz.clone()))
    }

    /// `14:53:16` today, `12-05 14:53:16` another day, `-` for none.
    pub fn time(&self, t: Option<&prost_types::Timestamp>) -> String {
        let Some(z) = t.and_then(|t| self.zoned(t)) else {
            return "-".into();
        };
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(self.tz.clone())
            .date();
        if z.date() == today {
            z.strftime("%H:%M:%S").to_string()
        } else {
            z.strftime("%m-%d %H:%M:%S").to_string()
        }
    }

    /// Always `HH:MM:SS` (event lines; the date is the day's business).
    pub fn clock(&self, t: Option<&prost_types::Timestamp>) -> String {
        match t.and_then(|t| self.zoned(t)) {
            Some(z) => z.strftime("%H:%M:%S").to_string(),
            None => jiff::Timestamp::now()
                .to_zoned_datetime(self.tz.clone())
                .strftime("%H:%M:%S")
                .to_string(),
        }
    }
}

/// Counters of a link that count failures, as `ctl sites` sums them.
const FAILURE_COUNTERS: [&str; 5] = [
    "login_failures",
    "unauthenticated",
    "bad_frames",
    "naks",
    "aux_cut",
];

/// The link columns of `ctl sites`: each link with its state, the failures counted (by cause
/// where non-zero), and the latest failure with its local time.
fn link_columns(links: &[pb::LinkStatus], clock: &Clock) -> (String, String, String) {
    if links.is_empty() {
        return ("-".into(), "-".into(), "-".into());
    }
    let states = links
        .iter()
        .map(|l| format!("{} {}", l.name, if l.up { "up" } else { "down" }))
        .collect::<Vec<_>>()
        .join(", ");
    let failures = links
        .iter()
        .flat_map(|l| {
            FAILURE_COUNTERS.iter().filter_map(|&k| {
                l.counters
                    .get(k)
                    .filter(|&&n| n > 0)
                    .map(|n| format!("{k}={n}"))
            })
        })
        .collect::<Vec<_>>();
    let last = links
        .iter()
        .filter(|l| !l.last_failure.is_empty())
        .max_by_key(|l| l.last_failure_time.as_ref().map(|t| (t.seconds, t.nanos)))
        .map_or_else(
            || "-".to_string(),
            |l| {
                let at = clock.time(l.last_failure_time.as_ref());
                format!("{} ({at})", escape(&l.last_failure))
            },
        );
    (
        states,
        if failures.is_empty() {
            "0".into()
        } else {
            failures.join(" ")
        },
        last,
    )
}

fn short(name: &str) -> &str {
    name.split_once('/').map_or(name, |(_, id)| id)
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// An enum's name for a person: `TIMED_OUT` → "timed out".
fn words(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', " ")
}

fn enum_words<E: TryFrom<i32>>(v: i32, f: impl Fn(E) -> &'static str) -> String {
    E::try_from(v)
        .map(&f)
        .map(words)
        .unwrap_or("unknown".into())
}

/// The gateway's directory, for names.
#[derive(Debug, Default, Clone)]
pub struct Names {
    radios: HashMap<String, String>,
    radio_by_display: HashMap<String, String>,
    talkgroups: HashMap<String, String>,
    sites: Vec<pb::Site>,
    teams: Vec<pb::Team>,
    /// Operation name → "radio check of 宋江 (57120201)", learned from events.
    operations: HashMap<String, String>,
    /// Call name → its target, learned from events.
    calls: HashMap<String, String>,
}

/// Radios read for names at most (a directory larger than this shows numbers).
const NAMES_MAX_RADIOS: usize = 200_000;

impl Names {
    async fn load(c: &Client, radios: bool) -> Result<Names, CtlError> {
        let mut names = Names::default();
        let mut dir = pb::directory_service_client::DirectoryServiceClient::new(c.channel.clone());
        let (sites, _) = collect_pages!(
            10_000,
            |token| dir.list_sites(pb::ListSitesRequest {
                page_size: 1000,
                page_token: token.clone(),
            }),
            sites
        );
        let (teams, _) = collect_pages!(
            10_000,
            |token| dir.list_teams(pb::ListTeamsRequest {
                page_size: 1000,
                page_token: token.clone(),
            }),
            teams
        );
        let mut tg = pb::talkgroup_service_client::TalkgroupServiceClient::new(c.channel.clone());
        let (tgs, _) = collect_pages!(
            NAMES_MAX_RADIOS,
            |token| tg.list_talkgroups(pb::ListTalkgroupsRequest {
                page_size: 1000,
                page_token: token.clone(),
            }),
            talkgroups
        );
        for t in tgs {
            let team = teams
                .iter()
                .find(|m| m.talkgroup == t.name)
                .map(|m| m.display_name.clone());
            let display = Some(t.display_name.clone())
                .filter(|d| !d.is_empty())
                .or(team)
                .unwrap_or_default();
            names.talkgroups.insert(t.name, display);
        }
        if radios {
            let mut client = pb::radio_service_client::RadioServiceClient::new(c.channel.clone());
            let (rs, _) = collect_pages!(
                NAMES_MAX_RADIOS,
                |token| client.list_radios(pb::ListRadiosRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                }),
                radios
            );
            for r in rs {
                names.learn_radio(&r);
            }
        }
        names.sites = sites;
        names.teams = teams;
        Ok(names)
    }

    fn learn_radio(&mut self, r: &pb::Radio) {
        let display = if r.display_name.is_empty() {
            r.alias.clone()
        } else {
            r.display_name.clone()
        };
        if !display.is_empty() {
            self.radio_by_display
                .insert(display.clone(), r.name.clone());
        }
        self.radios.insert(r.name.clone(), display);
    }

    fn labelled(display: Option<&String>, name: &str) -> String {
        match display.filter(|d| !d.is_empty()) {
            Some(d) => format!("{d} ({})", short(name)),
            None => short(name).to_string(),
        }
    }

    /// `宋江 (57120201)`, or the number alone; the dispatcher's gateway identity (DISPATI
    /// `FFFECB`, docs/air-interface.md §3.7) as "dispatch".
    pub fn radio(&self, name: &str) -> String {
        if short(name).eq_ignore_ascii_case("0xFFFECB") {
            return "dispatch".to_string();
        }
        Names::labelled(self.radios.get(name), name)
    }

    /// `青山镇应急分队 (57190001)`, or the number alone.
    pub fn talkgroup(&self, name: &str) -> String {
        Names::labelled(self.talkgroups.get(name), name)
    }

    /// A radio or a talkgroup by its resource name.
    pub fn addressee(&self, name: &str) -> String {
        if name.starts_with("talkgroups/") {
            self.talkgroup(name)
        } else {
            self.radio(name)
        }
    }

    /// A site's display name, else its name.
    pub fn site(&self, name: &str) -> String {
        self.sites
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.display_name.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| short(name).to_string())
    }

    fn team_name(&self, name: &str) -> String {
        self.teams
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.display_name.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| short(name).to_string())
    }

    /// `--site` as typed (name or display name) → `sites/{name}`.
    fn resolve_site(&self, s: &str) -> Result<String, CtlError> {
        let s = s.trim();
        let id = short(s);
        self.sites
            .iter()
            .find(|x| short(&x.name) == id || x.display_name == s)
            .map(|x| x.name.clone())
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .sites
                    .iter()
                    .map(|x| format!("{} ({})", short(&x.name), x.display_name))
                    .collect();
                CtlError::new(
                    exit::NOT_FOUND,
                    format!(
                        "there is no site \"{s}\"; the sites are {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })
    }

    /// `--team` as typed (number, name or display name) → `teams/{n}`.
    fn resolve_team(&self, s: &str) -> Result<String, CtlError> {
        let s = s.trim();
        let id = short(s);
        self.teams
            .iter()
            .find(|t| short(&t.name) == id || t.display_name == s)
            .map(|t| t.name.clone())
            .ok_or_else(|| {
                CtlError::new(
                    exit::NOT_FOUND,
                    format!("there is no team \"{s}\" (`trunkgate ctl teams` lists them)"),
                )
            })
    }

    /// A radio as typed, or a radio's display name → `radios/{..}`.
    fn resolve_radio(&self, s: &str) -> Result<String, CtlError> {
        let s = s.trim();
        if s.contains('/') || is_address(s) {
            if let Ok(d) = s.parse::<DialNumber>()
                && d.kind() == Some(IdKind::Group)
            {
                return Err(CtlError::new(
                    exit::USAGE,
                    format!("{s} is a talkgroup number, not a radio"),
                ));
            }
            return Ok(radio_name(s));
        }
        self.radio_by_display.get(s).cloned().ok_or_else(|| {
            CtlError::new(
                exit::USAGE,
                format!(
                    "\"{s}\" is not a radio: give its 8-digit dial number, 0x and its hex air \
                     address, # and its decimal air address, its plain DMR ID (up to 7 \
                     digits), or its name"
                ),
            )
        })
    }

    /// A recipient as typed (radio or talkgroup).
    fn resolve_recipient(&self, s: &str) -> Result<String, CtlError> {
        let s = s.trim();
        if s.contains('/') || is_address(s) {
            return Ok(recipient_name(s));
        }
        if let Some(r) = self.radio_by_display.get(s) {
            return Ok(r.clone());
        }
        if let Some((name, _)) = self.talkgroups.iter().find(|(_, d)| d.as_str() == s) {
            return Ok(name.clone());
        }
        Err(CtlError::new(
            exit::USAGE,
            format!(
                "\"{s}\" is not a radio or talkgroup: give its 8-digit dial number, 0x and its \
                 hex air address, # and its decimal air address, its plain DMR ID (up to 7 \
                 digits), or its name"
            ),
        ))
    }

    /// "radio check of 宋江 (57120201)".
    pub fn operation(&self, o: &pb::Operation) -> String {
        let kind =
            pb::operation::Kind::try_from(o.kind).unwrap_or(pb::operation::Kind::Unspecified);
        use pb::operation::Kind as K;
        let target = self.addressee(&o.target);
        match kind {
            K::SendText => format!("text \"{}\" to {target}", o.text),
            K::SendStatus => format!("status {} to {target}", o.status),
            K::RequestLocation => format!("location request to {target}"),
            K::AcknowledgeEmergency => format!("acknowledgement of alarm {}", short(&o.alarm)),
            _ => format!("{} of {target}", words(kind.as_str_name())),
        }
    }

    fn operation_by_name(&self, name: &str) -> String {
        self.operations
            .get(name)
            .cloned()
            .unwrap_or_else(|| thing(name))
    }
}

fn radios_rows(radios: &[pb::Radio], names: &Names, clock: &Clock) -> Vec<Vec<String>> {
    radios
        .iter()
        .map(|r| {
            let p = r.presence.as_ref();
            vec![
                short(&r.name).to_string(),
                format!("0x{:06X}", r.air_id),
                dash(if r.display_name.is_empty() {
                    &r.alias
                } else {
                    &r.display_name
                }),
                if r.registered { "yes" } else { "no" }.to_string(),
                if r.talkgroup.is_empty() {
                    "-".into()
                } else {
                    names.talkgroup(&r.talkgroup)
                },
                p.filter(|p| !p.site.is_empty())
                    .map_or("-".into(), |p| names.site(&p.site)),
                clock.time(p.and_then(|p| p.last_heard_time.as_ref())),
                enum_words(r.control, |c: pb::radio::Control| c.as_str_name()),
            ]
        })
        .collect()
}

/// The radios table (times in `clock`'s zone, names from `names`).
pub fn radios_table(radios: &[pb::Radio], names: &Names, clock: &Clock, more: usize) -> String {
    table_with_more(
        &[
            "RADIO",
            "AIR ID",
            "NAME",
            "REG",
            "TALKGROUP",
            "SITE",
            "HEARD",
            "CONTROL",
        ],
        &radios_rows(radios, names, clock),
        more,
        "radios",
    )
}

fn message_body(m: &pb::Message) -> String {
    match &m.body {
        Some(pb::message::Body::Text(t)) => format!("\"{t}\""),
        Some(pb::message::Body::Status(n)) => format!("status {n}"),
        None => "-".into(),
    }
}

/// A radio or talkgroup of a message by name: the directory's, else the display name the
/// message carries.
fn party(names: &Names, m: &pb::Message, name: &str) -> String {
    if name.is_empty() {
        return "-".into();
    }
    let shown = names.addressee(name);
    match m.display_names.get(name).filter(|d| !d.is_empty()) {
        Some(d) if shown == short(name) => format!("{d} ({})", short(name)),
        _ => shown,
    }
}

/// The messages table (times in `clock`'s zone, names from `names`).
pub fn messages_table(
    messages: &[pb::Message],
    names: &Names,
    clock: &Clock,
    more: usize,
) -> String {
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            let inbound = m.direction == pb::message::Direction::Inbound as i32;
            let state = if m.handled {
                format!(
                    "handled by {} {}",
                    dash(&m.handled_by),
                    clock.time(m.handle_time.as_ref())
                )
            } else if m.read {
                format!(
                    "read by {} {}",
                    dash(&m.read_by),
                    clock.time(m.read_time.as_ref())
                )
            } else {
                "new".into()
            };
            vec![
                short(&m.name).to_string(),
                clock.time(m.create_time.as_ref()),
                if inbound { "in" } else { "out" }.to_string(),
                if inbound {
                    party(names, m, &m.source)
                } else if m.operator.is_empty() {
                    "dispatch".into()
                } else {
                    format!("dispatch ({})", m.operator)
                },
                party(names, m, &m.target),
                message_body(m),
                state,
            ]
        })
        .collect();
    table_with_more(
        &["MESSAGE", "WHEN", "DIR", "FROM", "TO", "TEXT", "STATE"],
        &rows,
        more,
        "messages",
    )
}

/// The positions table: coordinates to 6 decimals (about 0.1 m), local receive times.
pub fn positions_table(
    positions: &[pb::Position],
    names: &Names,
    clock: &Clock,
    more: usize,
) -> String {
    let rows: Vec<Vec<String>> = positions
        .iter()
        .map(|p| {
            vec![
                clock.time(p.receive_time.as_ref()),
                names.radio(&p.radio),
                format!("{:.6}", p.latitude),
                format!("{:.6}", p.longitude),
                p.altitude_m.map_or("-".into(), |a| format!("{a:.0}")),
                p.accuracy_m.map_or("-".into(), |a| format!("{a:.0}")),
                dash(&p.source),
                if p.site.is_empty() {
                    "-".into()
                } else {
                    names.site(&p.site)
                },
            ]
        })
        .collect();
    table_with_more(
        &[
            "RECEIVED",
            "RADIO",
            "LATITUDE",
            "LONGITUDE",
            "ALT M",
            "ACC M",
            "SOURCE",
            "SITE",
        ],
        &rows,
        more,
        "positions",
    )
}

// ---- the client ------------------------------------------------------------------------

struct Client {
    channel: AuthChannel,
    operator: Option<String>,
}

impl Client {
    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        if let Some(op) = &self.operator {
            // ASCII metadata cannot carry a Chinese name; the `-bin` key carries UTF-8.
            match op.parse() {
                Ok(v) if op.is_ascii() => {
                    req.metadata_mut().insert(OPERATOR_METADATA, v);
                }
                _ => {
                    let v = tonic::metadata::MetadataValue::from_bytes(op.as_bytes());
                    req.metadata_mut().insert_bin(OPERATOR_METADATA_BIN, v);
                }
            }
        }
        req
    }
}

/// `--operator` within what the gateway accepts, checked before anything is sent: a note
/// too long for request metadata would otherwise come back as a bare HTTP status.
fn operator_ok(op: &str) -> Result<(), CtlError> {
    let max = crate::api::convert::MAX_KEY_LEN;
    if op.len() > max {
        return Err(CtlError::new(
            exit::USAGE,
            format!(
                "--operator is {} bytes; it may have at most {max}",
                op.len()
            ),
        ));
    }
    if let Some(c) = op.chars().find(|c| c.is_control()) {
        return Err(CtlError::new(
            exit::USAGE,
            format!("--operator must not contain control characters (found {c:?})"),
        ));
    }
    Ok(())
}

/// `--server` as typed: `host:port` means `http://host:port`.
pub fn server_uri(s: &str) -> String {
    let s = s.trim();
    if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// The innermost cause of a connection error, for a person.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

async fn connect(server: &str, args: &CtlArgs) -> Result<AuthChannel, CtlError> {
    let bearer = access::bearer(access::token(
        args.token.as_deref(),
        args.token_file.as_deref(),
    )?)?;
    let mut uri = server_uri(server);
    if args.ca.is_some()
        && let Some(rest) = uri.strip_prefix("http://")
    {
        uri = format!("https://{rest}");
    }
    let endpoint = tonic::transport::Endpoint::from_shared(uri.clone()).map_err(|_| {
        CtlError::new(
            exit::USAGE,
            format!("--server {server} is not an address (write e.g. 127.0.0.1:50051)"),
        )
    })?;
    let endpoint = access::with_tls(
        endpoint,
        &uri,
        &access::TlsArgs {
            ca: args.ca.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
        },
    )?;
    let channel = endpoint
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| {
            let cause = io_kind_words(&e).unwrap_or_else(|| root_cause(&e));
            CtlError::new(
                exit::UNAVAILABLE,
                format!("cannot reach the gateway at {server} ({cause})"),
            )
        })?;
    Ok(InterceptedService::new(channel, bearer))
}

/// An I/O error kind in a connection error's chain, in words ("connection refused").
fn io_kind_words(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return Some(
                match io.kind() {
                    K::ConnectionRefused => "connection refused",
                    K::ConnectionReset => "connection reset",
                    K::TimedOut => "timed out",
                    K::AddrNotAvailable => "address not available",
                    K::NotFound => "host not found",
                    _ => return Some(io.to_string()),
                }
                .to_string(),
            );
        }
        cur = err.source();
    }
    None
}

/// The outcome of a finished operation.
fn outcome_of(op: &pb::Operation) -> Outcome {
    use pb::operation::State as S;
    match pb::operation::State::try_from(op.state) {
        Ok(S::Succeeded) => Outcome::Done,
        Ok(S::Refused) => Outcome::Refused,
        Ok(S::TimedOut) => Outcome::TimedOut,
        _ => Outcome::Failed,
    }
}

/// Run one ctl command, writing to `out`.
pub async fn execute(args: CtlArgs, out: &mut (dyn Write + Send)) -> Result<Outcome, CtlError> {
    // `--timeout` counts from here: connecting, the request and the wait together.
    let started = Instant::now();
    let clock = Clock::new(args.tz.as_deref())?;
    if let CtlCommand::Kill { yes: false, .. } = &args.command
        && !std::io::stdin().is_terminal()
    {
        return Err(CtlError::new(
            exit::USAGE,
            "a kill is permanent: confirm it with --yes when standard input is not a terminal",
        ));
    }
    if let Some(op) = &args.operator {
        operator_ok(op)?;
    }
    let channel = connect(&args.server, &args).await?;
    let c = Client {
        channel,
        operator: args.operator.clone(),
    };
    use pb::alarm_service_client::AlarmServiceClient;
    use pb::command_service_client::CommandServiceClient;
    use pb::operation_service_client::OperationServiceClient;
    let mut commands = CommandServiceClient::new(c.channel.clone());
    let needs_radios = !matches!(
        args.command,
        CtlCommand::Radios { .. }
            | CtlCommand::Talkgroups { .. }
            | CtlCommand::Sites
            | CtlCommand::Teams
            | CtlCommand::Gateway
            | CtlCommand::Status {
                recipient: None,
                ..
            }
    );
    let names = Names::load(&c, needs_radios).await?;
    let radio_req = |radio: &str, w: &WaitArgs, reason: String| -> Result<_, CtlError> {
        Ok(c.request(pb::RadioCommandRequest {
            name: names.resolve_radio(radio)?,
            request_id: w.request_id.clone().unwrap_or_default(),
            reason,
        }))
    };
    let (op, wait) = match args.command {
        CtlCommand::Radios {
            site,
            team,
            talkgroup,
            registered,
            filter,
            limit,
        } => {
            let site = site.map(|s| names.resolve_site(&s)).transpose()?;
            let team = team.map(|t| names.resolve_team(&t)).transpose()?;
            let mut client = pb::radio_service_client::RadioServiceClient::new(c.channel.clone());
            let (radios, more) = collect_pages!(
                limit,
                |token| client.list_radios(pb::ListRadiosRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    site: site.clone().unwrap_or_default(),
                    team: team.clone().unwrap_or_default(),
                    talkgroup: talkgroup
                        .as_deref()
                        .map(|s| with_collection("talkgroups", s.trim()))
                        .unwrap_or_default(),
                    registered_only: registered,
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                radios
            );
            out.write_all(radios_table(&radios, &names, &clock, more).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Talkgroups { limit } => {
            let mut client =
                pb::talkgroup_service_client::TalkgroupServiceClient::new(c.channel.clone());
            let (tgs, more) = collect_pages!(
                limit,
                |token| client.list_talkgroups(pb::ListTalkgroupsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
                talkgroups
            );
            let rows: Vec<Vec<String>> = tgs
                .iter()
                .map(|t| {
                    vec![
                        short(&t.name).to_string(),
                        format!("0x{:06X}", t.air_id),
                        dash(names.talkgroups.get(&t.name).map_or("", String::as_str)),
                        if t.active_call.is_empty() { "-" } else { "yes" }.to_string(),
                        if t.last_site.is_empty() {
                            "-".into()
                        } else {
                            names.site(&t.last_site)
                        },
                        clock.time(t.last_heard_time.as_ref()),
                    ]
                })
                .collect();
            out.write_all(
                table_with_more(
                    &["TALKGROUP", "AIR ID", "NAME", "IN CALL", "SITE", "HEARD"],
                    &rows,
                    more,
                    "talkgroups",
                )
                .as_bytes(),
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Sites => {
            let rows: Vec<Vec<String>> = names
                .sites
                .iter()
                .map(|s| {
                    let (links, failures, last) = link_columns(&s.links, &clock);
                    vec![
                        short(&s.name).to_string(),
                        dash(&s.display_name),
                        enum_words(s.profile, |p: pb::site::Profile| p.as_str_name()),
                        if s.link_up {
                            "up".to_string()
                        } else {
                            match &s.down_since_time {
                                Some(t) => format!("down since {}", clock.time(Some(t))),
                                None => "down".to_string(),
                            }
                        },
                        s.queued_operations.to_string(),
                        links,
                        failures,
                        last,
                    ]
                })
                .collect();
            let headers = [
                "SITE",
                "NAME",
                "PROFILE",
                "LINK",
                "QUEUED",
                "LINKS",
                "FAILURES",
                "LAST FAILURE",
            ];
            out.write_all(table(&headers, &rows).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Gateway
        | CtlCommand::Status {
            recipient: None, ..
        } => return status::run(&c.channel, &clock, out).await,
        CtlCommand::Teams => {
            let rows: Vec<Vec<String>> = names
                .teams
                .iter()
                .map(|t| {
                    vec![
                        short(&t.name).to_string(),
                        dash(&t.display_name),
                        if t.talkgroup.is_empty() {
                            "-".into()
                        } else {
                            names.talkgroup(&t.talkgroup)
                        },
                        t.radios.len().to_string(),
                    ]
                })
                .collect();
            out.write_all(table(&["TEAM", "NAME", "TALKGROUP", "MEMBERS"], &rows).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Calls {
            active,
            filter,
            limit,
        } => {
            let mut client = pb::call_service_client::CallServiceClient::new(c.channel.clone());
            let state = if active {
                pb::call::State::Active as i32
            } else {
                0
            };
            let (calls, more) = collect_pages!(
                limit,
                |token| client.list_calls(pb::ListCallsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    state,
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                calls
            );
            let rows: Vec<Vec<String>> = calls
                .iter()
                .map(|k| {
                    vec![
                        clock.time(k.start_time.as_ref()),
                        names.addressee(&k.target),
                        names.site(&k.site),
                        enum_words(k.state, |s: pb::call::State| s.as_str_name()),
                        dash(&talkers(k, &names)),
                        if k.emergency { "EMERGENCY" } else { "" }.to_string(),
                        clock.time(k.end_time.as_ref()),
                    ]
                })
                .collect();
            out.write_all(
                table_with_more(
                    &[
                        "STARTED", "TARGET", "SITE", "STATE", "TALKERS", "FLAGS", "ENDED",
                    ],
                    &rows,
                    more,
                    "calls",
                )
                .as_bytes(),
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Alarms {
            open,
            filter,
            limit,
        } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            // `--open` is filtered by the gateway, with the list filter.
            let filter = match (open, filter.trim().is_empty()) {
                (false, _) => filter,
                (true, true) => "state != RESOLVED".to_string(),
                (true, false) => format!("state != RESOLVED AND ({filter})"),
            };
            let (alarms, more) = collect_pages!(
                limit,
                |token| client.list_alarms(pb::ListAlarmsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    state: 0,
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                alarms
            );
            let rows: Vec<Vec<String>> = alarms
                .iter()
                .map(|a| {
                    vec![
                        short(&a.name).to_string(),
                        clock.time(a.raise_time.as_ref()),
                        names.radio(&a.radio),
                        names.site(&a.site),
                        enum_words(a.state, |s: pb::alarm::State| s.as_str_name()),
                        a.repeats.to_string(),
                        dash(&a.acknowledged_by),
                        clock.time(a.acknowledge_time.as_ref()),
                    ]
                })
                .collect();
            out.write_all(
                table_with_more(
                    &[
                        "ALARM", "RAISED", "RADIO", "SITE", "STATE", "REPEATS", "ACK BY", "ACKED",
                    ],
                    &rows,
                    more,
                    "alarms",
                )
                .as_bytes(),
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Operations { filter, limit } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let (ops, more) = collect_pages!(
                limit,
                |token| client.list_operations(pb::ListOperationsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                operations
            );
            let rows: Vec<Vec<String>> = ops
                .iter()
                .map(|o| {
                    vec![
                        short(&o.name).to_string(),
                        clock.time(o.create_time.as_ref()),
                        names.operation(o),
                        enum_words(o.state, |s: pb::operation::State| s.as_str_name()),
                        o.attempts.to_string(),
                        if o.site.is_empty() {
                            "-".into()
                        } else {
                            names.site(&o.site)
                        },
                        dash(&o.operator),
                    ]
                })
                .collect();
            out.write_all(
                table_with_more(
                    &[
                        "OP", "CREATED", "WHAT", "STATE", "ATTEMPTS", "SITE", "OPERATOR",
                    ],
                    &rows,
                    more,
                    "operations",
                )
                .as_bytes(),
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Watch {
            cursor,
            snapshot,
            filter,
            heartbeats,
            json,
            cursors,
            bell,
        } => {
            let style = WatchStyle {
                json,
                cursors,
                heartbeats,
                bell: bell || std::io::stdout().is_terminal(),
                colour: std::io::stdout().is_terminal(),
            };
            watch(&c, names, &clock, cursor, snapshot, filter, style, out).await?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Messages {
            radio,
            talkgroup,
            team,
            direction,
            unhandled,
            limit,
        } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let direction = match direction.as_deref() {
                Some("in") => pb::message::Direction::Inbound as i32,
                Some("out") => pb::message::Direction::Outbound as i32,
                _ => 0,
            };
            let req = pb::ListMessagesRequest {
                page_size: 1000,
                radio: radio
                    .as_deref()
                    .map(|r| names.resolve_radio(r))
                    .transpose()?
                    .unwrap_or_default(),
                talkgroup: talkgroup
                    .as_deref()
                    .map(|s| with_collection("talkgroups", s.trim()))
                    .unwrap_or_default(),
                team: team
                    .as_deref()
                    .map(|t| names.resolve_team(t))
                    .transpose()?
                    .unwrap_or_default(),
                direction,
                handled: unhandled.then_some(false),
                ..pb::ListMessagesRequest::default()
            };
            let (messages, more) = collect_pages!(
                limit,
                |token| client.list_messages(pb::ListMessagesRequest {
                    page_token: token.clone(),
                    ..req.clone()
                }),
                messages
            );
            out.write_all(messages_table(&messages, &names, &clock, more).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Inbox { team, limit } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let team = team
                .as_deref()
                .map(|t| names.resolve_team(t))
                .transpose()?
                .unwrap_or_default();
            let mut messages = Vec::new();
            let mut more = 0;
            // Not yet handled first, then the handled ones.
            for handled in [false, true] {
                let req = pb::ListMessagesRequest {
                    page_size: 1000,
                    team: team.clone(),
                    direction: pb::message::Direction::Inbound as i32,
                    handled: Some(handled),
                    ..pb::ListMessagesRequest::default()
                };
                let (page, left) = collect_pages!(
                    limit.saturating_sub(messages.len()),
                    |token| client.list_messages(pb::ListMessagesRequest {
                        page_token: token.clone(),
                        ..req.clone()
                    }),
                    messages
                );
                messages.extend(page);
                more += left;
            }
            out.write_all(messages_table(&messages, &names, &clock, more).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Track {
            radio,
            minutes,
            limit,
        } => {
            let mut client = pb::radio_service_client::RadioServiceClient::new(c.channel.clone());
            let radio = names.resolve_radio(&radio)?;
            let start_time = minutes.map(|m| prost_types::Timestamp {
                seconds: jiff::Timestamp::now()
                    .as_second()
                    .saturating_sub(i64::try_from(m.saturating_mul(60)).unwrap_or(i64::MAX)),
                nanos: 0,
            });
            let (positions, more) = collect_pages!(
                limit,
                |token| client.list_positions(pb::ListPositionsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    radio: radio.clone(),
                    start_time,
                    end_time: None,
                }),
                positions
            );
            out.write_all(positions_table(&positions, &names, &clock, more).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::MarkRead { message } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let m = client
                .mark_message_read(c.request(pb::MarkMessageRequest {
                    name: numbered("messages", "a message", &message)?,
                }))
                .await
                .map_err(status_error)?
                .into_inner();
            out.write_all(messages_table(&[m], &names, &clock, 0).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Callout(cmd) => return callout::run(&c, &names, &clock, cmd, out).await,
        CtlCommand::MarkHandled { message } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let m = client
                .mark_message_handled(c.request(pb::MarkMessageRequest {
                    name: numbered("messages", "a message", &message)?,
                }))
                .await
                .map_err(status_error)?
                .into_inner();
            out.write_all(messages_table(&[m], &names, &clock, 0).as_bytes())?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Operation { operation } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let op = client
                .get_operation(pb::GetOperationRequest {
                    name: numbered("operations", "an operation", &operation)?,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            writeln!(out, "{}", describe(&op, &names, &clock))?;
            for line in outcome::site_lines(&op, &names, &clock)
                .into_iter()
                .chain(outcome::poll_lines(&op, &names, &clock))
            {
                writeln!(out, "  {}", escape(&line))?;
            }
            return Ok(Outcome::Done);
        }
        CtlCommand::Cancel { operation } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let op = client
                .cancel_operation(c.request(pb::CancelOperationRequest {
                    name: numbered("operations", "an operation", &operation)?,
                }))
                .await
                .map_err(status_error)?
                .into_inner();
            writeln!(out, "{}", describe(&op, &names, &clock))?;
            return Ok(Outcome::Done);
        }
        CtlCommand::ResolveAlarm { alarm } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            let r = client
                .resolve_alarm(c.request(pb::ResolveAlarmRequest {
                    name: numbered("alarms", "an alarm", &alarm)?,
                    request_id: String::new(),
                }))
                .await
                .map_err(status_error)?
                .into_inner();
            let a = r.alarm.unwrap_or_default();
            let line = format!(
                "alarm {} from {}: {}",
                short(&a.name),
                names.radio(&a.radio),
                enum_words(a.state, |s: pb::alarm::State| s.as_str_name())
            );
            writeln!(out, "{}", escape(&line))?;
            return Ok(Outcome::Done);
        }
        CtlCommand::AckAlarm { alarm, wait } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            let r = client
                .acknowledge_alarm(c.request(pb::AcknowledgeAlarmRequest {
                    name: numbered("alarms", "an alarm", &alarm)?,
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await
                .map_err(status_error)?
                .into_inner();
            let a = r.alarm.unwrap_or_default();
            let line = format!(
                "alarm {} from {}: {}",
                short(&a.name),
                names.radio(&a.radio),
                enum_words(a.state, |s: pb::alarm::State| s.as_str_name())
            );
            writeln!(out, "{}", escape(&line))?;
            match r.operation {
                Some(op) => (op, wait),
                None => return Ok(Outcome::Done),
            }
        }
        CtlCommand::Check { radio, wait } => {
            let op = commands
                .check_radio(radio_req(&radio, &wait, String::new())?)
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Alert { radio, wait } => {
            let op = commands
                .alert_radio(radio_req(&radio, &wait, String::new())?)
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Stun {
            radio,
            reason,
            wait,
        } => {
            let op = commands.stun_radio(radio_req(&radio, &wait, reason)?).await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Revive { radio, wait } => {
            let op = commands
                .revive_radio(radio_req(&radio, &wait, String::new())?)
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Kill {
            radio,
            reason,
            yes,
            wait,
        } => {
            if reason.trim().is_empty() {
                return Err(CtlError::new(
                    exit::USAGE,
                    "a kill needs a reason: --reason \"...\"",
                ));
            }
            let request = radio_req(&radio, &wait, reason)?;
            if !yes && !confirm_kill(&names.radio(&request.get_ref().name))? {
                return Err(CtlError::new(exit::FAILED, "nothing was sent"));
            }
            let op = commands
                .kill_radio(request)
                .await
                .map_err(status_error)?
                .into_inner();
            // Nothing goes on the air before a second supervisor approves: say so and return.
            writeln!(
                out,
                "{}  {}",
                clock.clock(op.update_time.as_ref()),
                describe(&op, &names, &clock)
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Pending { limit } => {
            return approval::pending(&c, &names, &clock, limit, out).await;
        }
        CtlCommand::Approve {
            operation,
            reason,
            wait,
        } => (approval::decide(&c, &operation, true, reason).await?, wait),
        CtlCommand::Reject { operation, reason } => {
            let op = approval::decide(&c, &operation, false, reason).await?;
            writeln!(
                out,
                "{}  {}",
                clock.clock(op.update_time.as_ref()),
                describe(&op, &names, &clock)
            )?;
            return Ok(Outcome::Done);
        }
        CtlCommand::Audit {
            identity,
            action,
            minutes,
            limit,
        } => {
            return approval::audit(&c, &clock, (identity, action, minutes), limit, out).await;
        }
        CtlCommand::Text {
            recipient,
            text,
            wait,
        } => {
            let op = commands
                .send_text(c.request(pb::SendTextRequest {
                    name: names.resolve_recipient(&recipient)?,
                    text,
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Status {
            recipient: Some(recipient),
            status,
            wait,
        } => {
            let op = commands
                .send_status(c.request(pb::SendStatusRequest {
                    name: names.resolve_recipient(&recipient)?,
                    status: status.unwrap_or_default(),
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
        CtlCommand::Locate {
            radio,
            every,
            polls,
            mut wait,
        } => {
            let interval = every.map(|s| prost_types::Duration {
                seconds: s.min(i64::MAX as u64) as i64,
                nanos: 0,
            });
            // A periodic request lasts every × polls: without --timeout, wait for that as
            // well; a --timeout given bounds the whole command as it is.
            if let (None, Some(e), Some(p)) = (wait.timeout, every, polls) {
                let lasts = e.saturating_mul(u64::from(p));
                wait.timeout = Some(DEFAULT_WAIT_SECS.saturating_add(lasts));
            }
            let op = commands
                .request_location(c.request(pb::RequestLocationRequest {
                    name: names.resolve_radio(&radio)?,
                    interval,
                    polls: polls.unwrap_or(0),
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(status_error)?.into_inner(), wait)
        }
    };
    if wait.no_wait {
        writeln!(out, "{}", escape(&op.name))?;
        return Ok(Outcome::Done);
    }
    let timeout = Duration::from_secs(wait.timeout.unwrap_or(DEFAULT_WAIT_SECS));
    follow(&c, &names, &clock, op, (started, timeout), out).await
}

/// How long a command waits for its operation when `--timeout` is not given, s.
const DEFAULT_WAIT_SECS: u64 = 60;

/// Ask at the terminal; true when the operator typed `yes`.
fn confirm_kill(radio: &str) -> Result<bool, CtlError> {
    eprint!(
        "Kill {}? A killed radio never works again. Type yes to send the kill: ",
        escape(radio)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CtlError::new(exit::FAILED, format!("cannot read the answer ({e})")))?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// One line describing an operation's state ([`escape`]d: texts and names come from the
/// network and the air).
pub fn describe(op: &pb::Operation, names: &Names, clock: &Clock) -> String {
    escape(&describe_raw(op, names, clock)).into_owned()
}

fn describe_raw(op: &pb::Operation, names: &Names, clock: &Clock) -> String {
    use pb::operation::State as S;
    let what = names.operation(op);
    let state = pb::operation::State::try_from(op.state).unwrap_or(S::Unspecified);
    let site = if op.site.is_empty() {
        String::new()
    } else {
        format!(" on {}", names.site(&op.site))
    };
    let group = !op.site_transmissions.is_empty();
    // Group traffic goes out once per site; a periodic request's attempts are its last
    // poll's: neither says anything once it is over.
    let attempts_count = if group || (op.location_polls > 0 && op.done) {
        0
    } else {
        op.attempts
    };
    let attempts = match attempts_count {
        0 => String::new(),
        1 => " (1 attempt)".to_string(),
        n => format!(" ({n} attempts)"),
    };
    let mut s = match state {
        S::Queued if group && op.site_transmissions.len() == 1 => format!(
            "{what}: queued on {}",
            names.site(&op.site_transmissions[0].site)
        ),
        S::Queued if group => format!("{what}: queued on {} sites", op.site_transmissions.len()),
        S::Queued => format!("{what}: queued{site}"),
        // Group traffic takes no answer: it is done once every site has sent it.
        S::Sent if group => format!("{what}: sending, {}", outcome::sites_progress(op)),
        S::Sent => format!("{what}: sent{site}{attempts}, waiting for the answer"),
        S::Waiting => format!(
            "{what}: {} of {} polls done, next at {}",
            op.polls_done,
            op.location_polls,
            clock.time(op.next_poll_time.as_ref())
        ),
        S::Succeeded => {
            let how = outcome::delivery_words(op, names, clock);
            if how.is_empty() {
                format!("{what}: succeeded{attempts}")
            } else {
                format!("{what}: succeeded{attempts}, {how}")
            }
        }
        S::Refused => format!("{what}: REFUSED by the radio{attempts}"),
        S::TimedOut => format!("{what}: no answer, timed out{attempts}"),
        S::Failed => format!("{what}: FAILED{attempts}"),
        S::Cancelled => format!("{what}: cancelled"),
        S::AwaitingApproval => format!(
            "{what}: AWAITING APPROVAL by a second supervisor until {} (trunkgate ctl approve {})",
            clock.time(op.approval_deadline.as_ref()),
            op.name.strip_prefix("operations/").unwrap_or(&op.name)
        ),
        S::Rejected => format!("{what}: rejected by {}", op.approver),
        S::Expired => format!("{what}: expired, nobody approved it in time"),
        S::Unspecified => format!("{what}: state unknown"),
    };
    if let Some(code) = op.refusal_code {
        let _ = write!(s, ", reason 0x{code:02X}");
    }
    if !op.failure.is_empty() {
        let _ = write!(s, ": {}", outcome::failure_words(op, names));
    }
    if !op.operator.is_empty() {
        let _ = write!(s, " (asked by {}", op.operator);
        // A kill names its second person too, once one approved it.
        if !op.approver.is_empty() && state != S::Rejected {
            let _ = write!(s, ", approved by {}", op.approver);
        }
        s.push(')');
    }
    s
}

/// Wait for `op` to finish, printing one line per change of state, attempts, polls or
/// sites sent, each finished poll as it comes, and at the end each site's outcome of group
/// traffic. Gives up `timeout` after `started`: every call to the gateway is bounded by
/// what is left, so the command ends then even when the gateway is slow to answer.
async fn follow(
    c: &Client,
    names: &Names,
    clock: &Clock,
    mut op: pb::Operation,
    (started, timeout): (Instant, Duration),
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    use pb::operation_service_client::OperationServiceClient;
    let mut client = OperationServiceClient::new(c.channel.clone());
    let key = |o: &pb::Operation| {
        let sent = o
            .site_transmissions
            .iter()
            .map(|t| t.state)
            .collect::<Vec<_>>();
        (o.state, o.attempts, o.polls_done, sent)
    };
    let mut shown = None;
    let mut polls_shown = 0;
    loop {
        let polls = outcome::poll_lines(&op, names, clock);
        for line in polls.iter().skip(polls_shown) {
            writeln!(out, "  {}", escape(line))?;
        }
        polls_shown = polls_shown.max(polls.len());
        if shown.as_ref() != Some(&key(&op)) {
            writeln!(
                out,
                "{}  {}",
                clock.clock(op.update_time.as_ref()),
                describe(&op, names, clock)
            )?;
            out.flush()?;
            shown = Some(key(&op));
        }
        if op.done {
            for line in outcome::site_lines(&op, names, clock) {
                writeln!(out, "  {}", escape(&line))?;
            }
            out.flush()?;
            return Ok(outcome_of(&op));
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            let line = format!(
                "Gave up waiting after {}s; the gateway goes on with {} (`trunkgate ctl operation {}`).",
                timeout.as_secs(),
                names.operation(&op),
                short(&op.name)
            );
            writeln!(out, "{}", escape(&line))?;
            return Ok(Outcome::TimedOut);
        }
        // The gateway waits at most a second and never past what is left; the call itself is
        // bounded by what is left too.
        let step = left.min(Duration::from_secs(1));
        let call = client.wait_operation(pb::WaitOperationRequest {
            name: op.name.clone(),
            timeout: Some(prost_types::Duration {
                seconds: i64::try_from(step.as_secs()).unwrap_or(1),
                nanos: i32::try_from(step.subsec_nanos()).unwrap_or(0),
            }),
        });
        if let Ok(r) = tokio::time::timeout(left, call).await {
            op = r.map_err(status_error)?.into_inner();
        }
    }
}

// ---- watch -------------------------------------------------------------------------------

/// How `watch` prints.
#[derive(Debug, Clone, Copy)]
pub struct WatchStyle {
    /// Protobuf JSON mapping instead of lines for a person.
    pub json: bool,
    /// Cursor before each line.
    pub cursors: bool,
    /// Heartbeats too.
    pub heartbeats: bool,
    /// Ring the bell on emergencies.
    pub bell: bool,
    /// ANSI bold red for emergencies.
    pub colour: bool,
}

/// An event as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// What happened, with names.
    pub text: String,
    /// An emergency: printed to stand out, with the bell.
    pub emergency: bool,
}

impl EventLine {
    fn plain(text: String) -> EventLine {
        EventLine {
            text,
            emergency: false,
        }
    }
    fn emergency(text: String) -> EventLine {
        EventLine {
            text: format!("!! EMERGENCY {text}"),
            emergency: true,
        }
    }
}

/// What an event says, with names; learns operation and call subjects as they pass.
pub fn render_event(e: &pb::Event, names: &mut Names, clock: &Clock) -> EventLine {
    use pb::event::Payload as P;
    let on = |names: &Names, site: &str| {
        if site.is_empty() {
            String::new()
        } else {
            format!(" on {}", names.site(site))
        }
    };
    let plain = EventLine::plain;
    match &e.payload {
        Some(P::DirectoryLoaded(d)) => plain(format!(
            "directory loaded: {} radios, {} talkgroups, {} sites, {} teams",
            d.radios, d.talkgroups, d.sites, d.teams
        )),
        Some(P::SiteAdded(s)) => plain(format!("site {} added", names.site(&s.site))),
        Some(P::SiteLinkChanged(s)) => plain(format!(
            "{}: link {}",
            names.site(&s.site),
            if s.up { "up" } else { "DOWN" }
        )),
        Some(P::RadioHeard(r)) => {
            let rssi = r.rssi_dbm.map(|d| format!(", {d} dBm")).unwrap_or_default();
            plain(format!(
                "{} heard{}{rssi}",
                names.radio(&r.radio),
                on(names, &r.site)
            ))
        }
        Some(P::RadioRegistered(r)) => plain(format!(
            "{} registered{}",
            names.radio(&r.radio),
            on(names, &r.site)
        )),
        Some(P::RadioDeregistered(r)) => plain(format!("{} deregistered", names.radio(&r.radio))),
        Some(P::RadioAffiliated(r)) => plain(format!(
            "{} joined {}{}",
            names.radio(&r.radio),
            names.talkgroup(&r.talkgroup),
            on(names, &r.site)
        )),
        Some(P::RadioAliasLearned(r)) => {
            let line = format!("{} calls itself \"{}\"", names.radio(&r.radio), r.alias);
            names
                .radios
                .entry(r.radio.clone())
                .or_insert_with(|| r.alias.clone());
            plain(line)
        }
        Some(P::RadioCapabilityLearned(r)) => plain(format!(
            "{} {} {}",
            names.radio(&r.radio),
            if r.supported {
                "supports"
            } else {
                "does not support"
            },
            enum_words(r.service, |s: pb::Service| s.as_str_name()).trim_start_matches("service ")
        )),
        Some(P::RadioControlChanged(r)) => plain(format!(
            "{} is now {}",
            names.radio(&r.radio),
            enum_words(r.control, |c: pb::radio::Control| c.as_str_name())
        )),
        Some(P::CallStarted(k)) => {
            let target = names.addressee(&k.target);
            names.calls.insert(k.call.clone(), target.clone());
            let talker = if k.talker.is_empty() {
                "someone".to_string()
            } else {
                names.radio(&k.talker)
            };
            let text = format!("{talker} calls {target}{}", on(names, &k.site));
            if k.emergency {
                EventLine::emergency(format!("CALL: {text}"))
            } else {
                plain(text)
            }
        }
        Some(P::CallTalkerChanged(k)) => plain(format!(
            "{} talks to {}",
            names.radio(&k.talker),
            names
                .calls
                .get(&k.call)
                .cloned()
                .unwrap_or_else(|| thing(&k.call))
        )),
        Some(P::CallFlagsChanged(k)) => {
            let target = names
                .calls
                .get(&k.call)
                .cloned()
                .unwrap_or_else(|| thing(&k.call));
            if k.emergency {
                EventLine::emergency(format!("CALL to {target}"))
            } else {
                plain(format!("call to {target} is no longer an emergency"))
            }
        }
        Some(P::CallTransmissionEnded(k)) => plain(format!(
            "call to {}: transmission ended",
            names
                .calls
                .get(&k.call)
                .cloned()
                .unwrap_or_else(|| thing(&k.call))
        )),
        Some(P::CallEnded(k)) => plain(format!(
            "call to {} ended ({})",
            names
                .calls
                .remove(&k.call)
                .unwrap_or_else(|| thing(&k.call)),
            enum_words(k.reason, |r: pb::call::EndReason| r.as_str_name())
        )),
        Some(P::AlarmRaised(a)) => {
            let tg = if a.talkgroup.is_empty() {
                String::new()
            } else {
                format!(" (talkgroup {})", names.talkgroup(&a.talkgroup))
            };
            EventLine::emergency(format!(
                "ALARM from {}{}{tg}: acknowledge with `trunkgate ctl ack-alarm {}`",
                names.radio(&a.radio),
                on(names, &a.site),
                short(&a.alarm)
            ))
        }
        Some(P::AlarmRepeated(a)) => EventLine::emergency(format!(
            "alarm {} repeated{}",
            short(&a.alarm),
            on(names, &a.site)
        )),
        Some(P::AlarmAcknowledged(a)) => plain(format!(
            "alarm {} acknowledged by {}",
            short(&a.alarm),
            dash(&a.operator)
        )),
        Some(P::AlarmResolved(a)) => plain(format!(
            "alarm {} resolved by {}",
            short(&a.alarm),
            dash(&a.operator)
        )),
        Some(P::MessageReceived(m)) => {
            let body = match &m.body {
                Some(pb::message_received::Body::Text(t)) => format!("\"{t}\""),
                Some(pb::message_received::Body::Status(s)) => format!("status {s}"),
                None => "an empty message".to_string(),
            };
            plain(format!(
                "{} → {}: {body}{} (message {})",
                names.radio(&m.source),
                names.addressee(&m.to),
                on(names, &m.site),
                short(&m.message)
            ))
        }
        Some(P::MessageSent(m)) => {
            let m = m.message.clone().unwrap_or_default();
            plain(format!(
                "{} → {}: {}{} (message {})",
                if m.operator.is_empty() {
                    "dispatch".to_string()
                } else {
                    format!("dispatch ({})", m.operator)
                },
                party(names, &m, &m.target),
                message_body(&m),
                on(names, &m.site),
                short(&m.name)
            ))
        }
        Some(P::MessageRead(m)) => plain(format!(
            "message {} read by {}",
            short(&m.message),
            dash(&m.operator)
        )),
        Some(P::MessageHandled(m)) => plain(format!(
            "message {} handled by {}",
            short(&m.message),
            dash(&m.operator)
        )),
        Some(P::PositionReported(p)) => {
            let at = p
                .position
                .as_ref()
                .map_or("an unknown place".to_string(), |q| {
                    format!(
                        "{:.5}°{} {:.5}°{}",
                        q.latitude.abs(),
                        if q.latitude < 0.0 { 'S' } else { 'N' },
                        q.longitude.abs(),
                        if q.longitude < 0.0 { 'W' } else { 'E' }
                    )
                });
            plain(format!(
                "{} is at {at}{}",
                names.radio(&p.radio),
                on(names, &p.site)
            ))
        }
        Some(P::DataReceived(d)) => {
            let ports = if d.destination_port > 0 {
                format!(" to UDP port {}", d.destination_port)
            } else {
                String::new()
            };
            plain(format!(
                "{} sent {} octets of data nobody decoded{ports}{}",
                names.radio(&d.radio),
                d.payload.len() + d.truncated as usize,
                on(names, &d.site)
            ))
        }
        Some(P::OperationCreated(o)) => {
            let o = o.operation.clone().unwrap_or_default();
            let what = names.operation(&o);
            names.operations.insert(o.name.clone(), what.clone());
            plain(format!(
                "{} asked for {what} (operation {})",
                if o.operator.is_empty() {
                    "someone"
                } else {
                    &o.operator
                },
                short(&o.name)
            ))
        }
        Some(P::OperationQueued(o)) => plain(format!(
            "{}: queued{}",
            names.operation_by_name(&o.operation),
            on(names, &o.site)
        )),
        Some(P::OperationTransmitted(o)) => plain(format!(
            "{}: sent{} (attempt {}), answer due by {}",
            names.operation_by_name(&o.operation),
            on(names, &o.site),
            o.attempt,
            clock.clock(o.deadline.as_ref())
        )),
        Some(P::OperationAired(o)) => plain(format!(
            "{}: on the air at {} (attempt {}, slot {}), answer due by {}",
            names.operation_by_name(&o.operation),
            clock.clock(o.sent_time.as_ref()),
            o.attempt,
            o.slot,
            clock.clock(o.deadline.as_ref())
        )),
        Some(P::OperationAttemptTimedOut(o)) => plain(format!(
            "{}: no answer to attempt {}",
            names.operation_by_name(&o.operation),
            o.attempt
        )),
        Some(P::OperationPolled(o)) => {
            let mut line = format!(
                "{}: poll {} answered",
                names.operation_by_name(&o.operation),
                o.polls_done
            );
            if let Some(r) = &o.result {
                let r = outcome::result_words(r, names, clock);
                if !r.is_empty() {
                    let _ = write!(line, ", {r}");
                }
            }
            let _ = write!(
                line,
                "; next poll at {}",
                clock.clock(o.next_poll_time.as_ref())
            );
            plain(line)
        }
        Some(P::OperationPollTimedOut(o)) => plain(format!(
            "{}: NO ANSWER to poll {} after {} attempts{}",
            names.operation_by_name(&o.operation),
            o.poll,
            o.attempts,
            match &o.next_poll_time {
                Some(t) => format!(", next poll at {}", clock.clock(Some(t))),
                None => String::new(),
            }
        )),
        Some(P::OperationSiteSent(o)) => plain(format!(
            "{}: sent on {}",
            names.operation_by_name(&o.operation),
            names.site(&o.site)
        )),
        Some(P::OperationSiteFailed(o)) => plain(format!(
            "{}: FAILED on {}, {}",
            names.operation_by_name(&o.operation),
            names.site(&o.site),
            outcome::site_state_words(o.state)
        )),
        Some(P::OperationSucceeded(o)) => {
            use pb::DeliveryLevel as L;
            let how = match L::try_from(o.delivery).unwrap_or(L::Unspecified) {
                L::Confirmed => ", confirmed by the radio",
                L::Transmitted => ", transmitted",
                L::Partial => ", PARTLY transmitted",
                L::Unspecified => "",
            };
            let mut line = format!("{}: succeeded{how}", names.operation_by_name(&o.operation));
            if let Some(r) = &o.result {
                let r = outcome::result_words(r, names, clock);
                if !r.is_empty() {
                    let _ = write!(line, ", {r}");
                }
            }
            plain(line)
        }
        Some(P::OperationRefused(o)) => plain(format!(
            "{}: REFUSED by the radio, reason 0x{:02X}",
            names.operation_by_name(&o.operation),
            o.refusal_code
        )),
        Some(P::OperationTimedOut(o)) => plain(format!(
            "{}: no answer, timed out",
            names.operation_by_name(&o.operation)
        )),
        Some(P::OperationFailed(o)) => plain(format!(
            "{}: failed: {}",
            names.operation_by_name(&o.operation),
            o.failure
        )),
        Some(P::OperationCancelled(o)) => plain(format!(
            "{}: cancelled by {}",
            names.operation_by_name(&o.operation),
            dash(&o.operator)
        )),
        Some(P::OperationApproved(o)) => plain(format!(
            "{}: approved by {}, going on the air",
            names.operation_by_name(&o.operation),
            dash(&o.approver)
        )),
        Some(P::OperationRejected(o)) => plain(format!(
            "{}: rejected by {}",
            names.operation_by_name(&o.operation),
            dash(&o.approver)
        )),
        Some(P::OperationExpired(o)) => plain(format!(
            "{}: expired, nobody approved it in time",
            names.operation_by_name(&o.operation)
        )),
        Some(P::AuditRecorded(a)) => plain(format!(
            "audit: {} {}{} by {} from {}: {}",
            a.action,
            a.target,
            if a.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.reason)
            },
            dash(&a.identity),
            dash(&a.client),
            a.outcome
        )),
        Some(P::GatewayRestarted(_)) => plain("the gateway restarted".to_string()),
        Some(P::ConfigChanged(k)) => plain(format!(
            "dispatch settings now: answer timeout {}, {} attempts, queued commands wait {} \
             for a site, {} queued per site, in-flight operations resume up to {} old",
            seconds(k.answer_timeout.as_ref()),
            k.max_attempts,
            seconds(k.site_down_wait.as_ref()),
            k.queue_limit,
            seconds(k.recover_max_age.as_ref())
        )),
        Some(P::InputsLost(l)) => plain(format!(
            "{} inputs from the radio side were LOST between {} and {} ({})",
            l.count,
            clock.clock(l.from_time.as_ref()),
            clock.clock(l.to_time.as_ref()),
            words(&l.reason)
        )),
        Some(P::JournalRecovered(j)) => plain(format!(
            "the journal is writable again after failing since {} ({}); {} inputs held \
             meanwhile are journaled; the gateway acts again",
            clock.clock(j.from_time.as_ref()),
            j.reason,
            j.held_inputs
        )),
        // Event kinds without a line of their own (and kinds newer than this client) print
        // their type, readable.
        #[allow(unreachable_patterns)]
        _ => plain(words(&e.r#type)),
    }
}

/// A duration for a person: `4s`, `1.5s`, `-` for none.
fn seconds(d: Option<&prost_types::Duration>) -> String {
    match d {
        Some(d) => {
            let ms = d
                .seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(d.nanos / 1_000_000));
            format!("{}s", ms as f64 / 1000.0)
        }
        None => "-".into(),
    }
}

/// A snapshot item as a person reads it.
pub fn render_snapshot(item: &pb::SnapshotItem, names: &Names, clock: &Clock) -> EventLine {
    use pb::snapshot_item::Resource as R;
    let plain = EventLine::plain;
    match &item.resource {
        Some(R::Site(s)) => plain(format!(
            "site {}: link {}",
            names.site(&s.name),
            if s.link_up { "up" } else { "DOWN" }
        )),
        Some(R::Team(t)) => plain(format!(
            "team {}: {} radios",
            names.team_name(&t.name),
            t.radios.len()
        )),
        Some(R::Talkgroup(t)) => plain(format!("talkgroup {}", names.talkgroup(&t.name))),
        Some(R::Radio(r)) => {
            let site = r
                .presence
                .as_ref()
                .filter(|p| !p.site.is_empty())
                .map(|p| format!(" on {}", names.site(&p.site)))
                .unwrap_or_default();
            plain(format!(
                "{} {}{site}",
                names.radio(&r.name),
                if r.registered {
                    "registered"
                } else {
                    "not registered"
                }
            ))
        }
        Some(R::Call(k)) => plain(format!(
            "call to {}{}",
            names.addressee(&k.target),
            if k.talker.is_empty() {
                String::new()
            } else {
                format!(", {} talking", names.radio(&k.talker))
            }
        )),
        Some(R::Alarm(a)) => {
            let text = format!(
                "alarm {} from {} raised at {}: {}",
                short(&a.name),
                names.radio(&a.radio),
                clock.time(a.raise_time.as_ref()),
                enum_words(a.state, |s: pb::alarm::State| s.as_str_name())
            );
            if a.state == pb::alarm::State::Raised as i32 {
                EventLine::emergency(text)
            } else {
                plain(text)
            }
        }
        Some(R::Operation(o)) => plain(describe(o, names, clock)),
        Some(R::Message(m)) => plain(format!(
            "message {} from {} to {}: {}{}",
            short(&m.name),
            if m.direction == pb::message::Direction::Inbound as i32 {
                party(names, m, &m.source)
            } else {
                "dispatch".to_string()
            },
            party(names, m, &m.target),
            message_body(m),
            if m.handled {
                ", handled"
            } else if m.read {
                ", read"
            } else {
                ", new"
            }
        )),
        #[allow(unreachable_patterns)]
        _ => plain("state item".to_string()),
    }
}

/// The protobuf JSON mapping of a stream message (proto3 canonical JSON), from the
/// descriptor set embedded at build time.
pub fn proto_json(m: &pb::WatchEventsResponse) -> Result<String, CtlError> {
    use prost::Message as _;
    use std::sync::OnceLock;
    static DESCRIPTOR: OnceLock<Option<prost_reflect::MessageDescriptor>> = OnceLock::new();
    let desc = DESCRIPTOR
        .get_or_init(|| {
            prost_reflect::DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
                .ok()?
                .get_message_by_name("trunkgate.v1.WatchEventsResponse")
        })
        .clone()
        .ok_or_else(|| {
            CtlError::new(
                exit::FAILED,
                "the embedded protobuf descriptors are unusable",
            )
        })?;
    let dynamic = prost_reflect::DynamicMessage::decode(desc, m.encode_to_vec().as_slice())
        .map_err(|e| CtlError::new(exit::FAILED, format!("cannot re-read an event ({e})")))?;
    serde_json::to_string(&dynamic)
        .map_err(|e| CtlError::new(exit::FAILED, format!("cannot print an event as JSON ({e})")))
}

/// One watch line. Texts, aliases and names come from the air and the network: the text
/// and the cursor are [`escape`]d, so only this client's own colour and bell reach the
/// terminal.
fn write_line(
    out: &mut (dyn Write + Send),
    style: &WatchStyle,
    time: &str,
    cursor: Option<&str>,
    line: &EventLine,
) -> std::io::Result<()> {
    let cursor = match (style.cursors, cursor) {
        (true, Some(c)) => format!("#{}  ", escape(c)),
        _ => String::new(),
    };
    let line = &EventLine {
        text: escape(&line.text).into_owned(),
        emergency: line.emergency,
    };
    if line.emergency {
        let bell = if style.bell { "\x07" } else { "" };
        if style.colour {
            writeln!(out, "{cursor}{time}  \x1b[1;31m{}\x1b[0m{bell}", line.text)
        } else {
            writeln!(out, "{cursor}{time}  {}{bell}", line.text)
        }
    } else {
        writeln!(out, "{cursor}{time}  {}", line.text)
    }
}

/// Is a stream error the gateway going away (restart, network), to be waited out, rather
/// than a refusal of this watch?
fn transient(s: &tonic::Status) -> bool {
    use tonic::Code;
    !matches!(
        s.code(),
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::NotFound
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
    )
}

/// What `watch` says once when the stream to the gateway breaks.
fn lost_note(s: &tonic::Status) -> String {
    if s.code() == tonic::Code::Unavailable || s.message().is_empty() {
        "Lost the gateway; reconnecting until it is back.".to_string()
    } else {
        format!(
            "Lost the gateway ({}); reconnecting until it is back.",
            escape(s.message().trim_end_matches('.'))
        )
    }
}

/// Longest pause between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

#[allow(clippy::too_many_arguments)]
async fn watch(
    c: &Client,
    mut names: Names,
    clock: &Clock,
    mut cursor: Option<String>,
    snapshot: bool,
    filter: String,
    style: WatchStyle,
    out: &mut (dyn Write + Send),
) -> Result<(), CtlError> {
    use pb::watch_events_response::Kind;
    let mut client = pb::event_service_client::EventServiceClient::new(c.channel.clone());
    let mut snapshot = snapshot && cursor.is_none();
    // The stream is down: said once when it goes, once when it is back.
    let mut down = false;
    let mut pause = Duration::from_millis(250);
    loop {
        let started = client
            .watch_events(pb::WatchEventsRequest {
                legacy_cursor: None,
                cursor: cursor.clone().unwrap_or_default(),
                filter: filter.clone(),
                snapshot,
            })
            .await;
        let mut stream = match started {
            Ok(s) => s.into_inner(),
            Err(s) if transient(&s) => {
                if !down {
                    eprintln!("{}", lost_note(&s));
                    down = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RECONNECT_MAX);
                continue;
            }
            Err(s) => return Err(status_error(s)),
        };
        if std::mem::take(&mut down) {
            // The gateway may have been restarted with another directory.
            if let Ok(fresh) = Names::load(c, true).await {
                names = Names {
                    operations: std::mem::take(&mut names.operations),
                    calls: std::mem::take(&mut names.calls),
                    ..fresh
                };
            }
            match &cursor {
                Some(_) => eprintln!("Reconnected; resuming after the last event shown."),
                None => eprintln!("Reconnected; live events from now on."),
            }
        }
        pause = Duration::from_millis(250);
        snapshot = false;
        let status = loop {
            match stream.message().await {
                Ok(Some(m)) => {
                    if style.json {
                        let show = match &m.kind {
                            Some(Kind::Heartbeat(_)) => style.heartbeats,
                            _ => true,
                        };
                        if show {
                            // serde_json leaves DEL, C1 and bidi marks raw.
                            writeln!(out, "{}", escape_json(&proto_json(&m)?))?;
                        }
                    }
                    match m.kind {
                        Some(Kind::Event(e)) => {
                            let line = render_event(&e, &mut names, clock);
                            if !style.json {
                                let time = clock.clock(e.time.as_ref());
                                write_line(out, &style, &time, Some(&e.cursor), &line)?;
                            }
                            cursor = Some(e.cursor);
                        }
                        Some(Kind::Heartbeat(h)) => {
                            if style.heartbeats && !style.json {
                                let line = EventLine::plain("heartbeat".into());
                                let time = clock.clock(h.time.as_ref());
                                write_line(out, &style, &time, Some(&h.cursor), &line)?;
                            }
                            cursor = Some(h.cursor);
                        }
                        Some(Kind::Snapshot(item)) if !style.json => {
                            let line = render_snapshot(&item, &names, clock);
                            write_line(out, &style, "now     ", None, &line)?;
                        }
                        Some(Kind::SnapshotComplete(done)) => {
                            if !style.json {
                                let line = EventLine::plain("live events follow".into());
                                write_line(out, &style, "now     ", Some(&done.cursor), &line)?;
                            }
                            cursor = Some(done.cursor);
                        }
                        _ => {}
                    }
                    out.flush()?;
                }
                Ok(None) => break None,
                Err(s) => break Some(s),
            }
        };
        let Some(status) = status else {
            // The server ended the stream: it is shutting down or restarting.
            eprintln!("The gateway ended the event stream; reconnecting until it is back.");
            down = true;
            tokio::time::sleep(pause).await;
            continue;
        };
        use tonic_types::StatusExt;
        // A slow watcher cut by the server resumes after the cursor the server names.
        if let Some(r) = status
            .get_details_error_info()
            .and_then(|i| i.metadata.get("resume_cursor").cloned())
        {
            eprintln!("This watch fell behind and was cut by the gateway; resuming.");
            cursor = Some(r);
            continue;
        }
        if !transient(&status) {
            return Err(status_error(status));
        }
        eprintln!("{}", lost_note(&status));
        down = true;
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_counts_two_columns() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("张三"), 4);
        assert_eq!(display_width("城关镇应急救援队"), 16);
        assert_eq!(display_width("Ａ"), 2); // fullwidth A
        assert_eq!(display_width("e\u{301}"), 1); // combining accent
    }

    #[test]
    fn control_characters_print_escaped() {
        assert_eq!(escape("张三 (duty)"), "张三 (duty)");
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape("x\u{1b}[2J\u{7}y"), "x\\u{1b}[2J\\u{7}y");
        assert_eq!(escape("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        // A table row stays one row, and its columns line up.
        let t = table(
            &["OP", "OPERATOR"],
            &[
                vec!["1".into(), "evil\n2  forged\u{1b}[2J".into()],
                vec!["3".into(), "张三".into()],
            ],
        );
        assert_eq!(
            t,
            "OP  OPERATOR\n1   evil\\n2  forged\\u{1b}[2J\n3   张三\n"
        );
        // A watch line for a text from a radio (newlines are legitimate there) with an
        // escape sequence and a C1 CSI, from a site whose name carries an escape sequence:
        // the text is one inert line, and the only control characters on it are this
        // client's own colour codes and bell (an emergency) or none at all.
        let clock = Clock::new(Some("UTC")).unwrap();
        let mut n = names();
        n.sites.push(pb::Site {
            name: "sites/s\u{1b}[2J".into(),
            ..Default::default()
        });
        let e = pb::Event {
            cursor: "0123456789abcdef0123456789abcdef.7\u{1b}[H".into(),
            r#type: "message_received".into(),
            time: Some(prost_types::Timestamp {
                seconds: 1_796_539_996,
                nanos: 0,
            }),
            payload: Some(pb::event::Payload::MessageReceived(pb::MessageReceived {
                message: "messages/7".into(),
                source: "radios/57120201".into(),
                to: "talkgroups/57190001".into(),
                site: "sites/s\u{1b}[2J".into(),
                body: Some(pb::message_received::Body::Text(
                    "line one\nline two\u{9b}2J".into(),
                )),
            })),
        };
        let style = WatchStyle {
            json: false,
            cursors: true,
            heartbeats: false,
            bell: true,
            colour: true,
        };
        let line = render_event(&e, &mut n, &clock);
        let mut out = Vec::new();
        write_line(&mut out, &style, "06:53:16", Some(&e.cursor), &line).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "#0123456789abcdef0123456789abcdef.7\\u{1b}[H  06:53:16  宋江 (57120201) → \
             青山镇应急分队 (57190001): \"line one\\nline two\\u{9b}2J\" on s\\u{1b}[2J \
             (message 7)\n"
        );
        assert!(!out.trim_end().chars().any(char::is_control));
        // An emergency from a radio whose alias carries an escape sequence.
        n.learn_radio(&pb::Radio {
            name: "radios/57120202".into(),
            alias: "x\u{1b}]0;pwned\u{7}".into(),
            ..Default::default()
        });
        let e = pb::Event {
            r#type: "alarm_raised".into(),
            payload: Some(pb::event::Payload::AlarmRaised(pb::AlarmRaised {
                alarm: "alarms/4".into(),
                radio: "radios/57120202".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let line = render_event(&e, &mut n, &clock);
        let mut out = Vec::new();
        write_line(&mut out, &style, "06:53:16", None, &line).unwrap();
        let out = String::from_utf8(out).unwrap();
        let own: String = out
            .replace("\x1b[1;31m", "")
            .replace("\x1b[0m", "")
            .replace('\x07', "");
        assert!(!own.trim_end().chars().any(char::is_control), "{out:?}");
        assert!(own.contains("x\\u{1b}]0;pwned\\u{7} (57120202)"), "{own}");
        // Errors quoting the gateway and operation lines print escaped too.
        let err = status_error(tonic::Status::failed_precondition("bad\u{1b}[2J"));
        assert_eq!(err.message, "Bad\\u{1b}[2J.");
        let op = pb::Operation {
            name: "operations/1".into(),
            kind: pb::operation::Kind::SendText as i32,
            target: "radios/57120201".into(),
            text: "hi\u{1b}[2J".into(),
            state: pb::operation::State::Queued as i32,
            ..Default::default()
        };
        assert!(!describe(&op, &n, &clock).chars().any(char::is_control));
        assert_eq!(escape_json("{\"a\":\"\u{202e}\"}"), "{\"a\":\"\\u202e\"}");
    }

    #[test]
    fn tables_line_up_by_display_width() {
        let t = table(
            &["ID", "NAME", "X"],
            &[
                vec!["1".into(), "张三".into(), "a".into()],
                vec!["22".into(), "Li".into(), "b".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        // The third column starts at the same display column on every line.
        let col = |l: &str| display_width(&l[..l.rfind(' ').unwrap() + 1]);
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
        assert_eq!(lines[1], "1   张三  a");
    }

    #[test]
    fn tables_count_the_rows_not_shown() {
        let t = table_with_more(&["A"], &[vec!["x".into()]], 12, "radios");
        assert!(
            t.ends_with("… 12 more radios (raise --limit to see them)\n"),
            "{t}"
        );
        assert!(!table_with_more(&["A"], &[], 0, "radios").contains("more"));
    }

    #[test]
    fn names_as_typed() {
        assert_eq!(radio_name("80020200"), "radios/80020200");
        assert_eq!(radio_name("0x10ABCD"), "radios/0x10ABCD");
        assert_eq!(radio_name("radios/#5"), "radios/#5");
        // The gateway resolves a number against its directory.
        assert_eq!(recipient_name(" #46001 "), "#46001");
        assert_eq!(recipient_name("80020910"), "80020910");
        assert_eq!(recipient_name("talkgroups/0x000001"), "talkgroups/0x000001");
        assert!(is_address("0x10abcd") && is_address("#9011201") && is_address("57120201"));
        assert!(is_address("3100001") && is_address("123"));
        assert!(!is_address("123456789") && !is_address("0x1234567") && !is_address("#16777216"));
        assert_eq!(
            numbered("messages", "a message", "7").unwrap(),
            "messages/7"
        );
        assert_eq!(numbered("alarms", "an alarm", "3").unwrap(), "alarms/3");
        assert_eq!(
            numbered("alarms", "an alarm", "alarms/3").unwrap(),
            "alarms/3"
        );
        let e = numbered("alarms", "an alarm", "alarm-2").unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert_eq!(
            e.message,
            "\"alarm-2\" is not an alarm number (`trunkgate ctl alarms` lists them)."
        );
        // The hint names a command that exists.
        let e = numbered("callouts", "a call-out", "abc").unwrap_err();
        assert_eq!(
            e.message,
            "\"abc\" is not a call-out number (`trunkgate ctl callout list` lists them)."
        );
    }

    #[test]
    fn an_operator_note_the_gateway_would_refuse_is_refused_before_sending() {
        assert!(operator_ok("张三").is_ok());
        let e = operator_ok(&"a".repeat(50_000)).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert_eq!(
            e.message,
            "--operator is 50000 bytes; it may have at most 128."
        );
        let e = operator_ok("a\u{1b}b").unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert!(e.message.contains("control characters"), "{}", e.message);
    }

    #[test]
    fn server_addresses_without_a_scheme_are_http() {
        assert_eq!(server_uri("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(server_uri("http://[::1]:1"), "http://[::1]:1");
    }

    #[test]
    fn statuses_become_one_sentence_and_an_exit_status() {
        let e = status_error(crate::api::status::not_found(
            "RADIO_NOT_FOUND",
            "radios/80030300",
        ));
        assert_eq!(e.code, exit::NOT_FOUND);
        assert_eq!(e.message, "Radio 80030300 is not known to the gateway.");
        let e = status_error(crate::api::status::invalid_argument(
            "reason",
            "a kill needs a reason (it cannot be undone)",
        ));
        assert_eq!(e.code, exit::USAGE);
        assert_eq!(
            e.message,
            "The gateway did not accept reason: a kill needs a reason (it cannot be undone)."
        );
        let e = status_error(tonic::Status::unavailable("tcp connect error"));
        assert_eq!(e.code, exit::UNAVAILABLE);
        assert_eq!(e.message, "The gateway cannot be reached.");
        let e = status_error(tonic::Status::deadline_exceeded("too slow"));
        assert_eq!(e.code, exit::TIMED_OUT);
        let e = status_error(tonic::Status::failed_precondition("radio is killed"));
        assert_eq!(
            (e.code, e.message.as_str()),
            (exit::REFUSED, "Radio is killed.")
        );
    }

    #[test]
    fn local_times_follow_the_zone() {
        let clock = Clock::new(Some("Asia/Shanghai")).unwrap();
        // 2026-12-06T06:53:16Z is 14:53:16 in China.
        let t = prost_types::Timestamp {
            seconds: 1_796_539_996,
            nanos: 0,
        };
        assert_eq!(clock.clock(Some(&t)), "14:53:16");
        assert_eq!(
            Clock::new(Some("Nowhere/Else")).unwrap_err().code,
            exit::USAGE
        );
    }

    fn names() -> Names {
        let mut n = Names::default();
        n.learn_radio(&pb::Radio {
            name: "radios/57120201".into(),
            display_name: "宋江".into(),
            ..Default::default()
        });
        n.talkgroups
            .insert("talkgroups/57190001".into(), "青山镇应急分队".into());
        n.sites.push(pb::Site {
            name: "sites/qingshan".into(),
            display_name: "青山镇".into(),
            ..Default::default()
        });
        n
    }

    #[test]
    fn events_read_with_names_and_unknown_kinds_still_print() {
        let clock = Clock::new(Some("UTC")).unwrap();
        let mut n = names();
        let e = pb::Event {
            r#type: "alarm_raised".into(),
            payload: Some(pb::event::Payload::AlarmRaised(pb::AlarmRaised {
                alarm: "alarms/3".into(),
                radio: "radios/57120201".into(),
                talkgroup: "talkgroups/57190001".into(),
                site: "sites/qingshan".into(),
            })),
            ..Default::default()
        };
        let line = render_event(&e, &mut n, &clock);
        assert!(line.emergency);
        assert_eq!(
            line.text,
            "!! EMERGENCY ALARM from 宋江 (57120201) on 青山镇 (talkgroup 青山镇应急分队 \
             (57190001)): acknowledge with `trunkgate ctl ack-alarm 3`"
        );
        let e = pb::Event {
            r#type: "call_activity".into(),
            payload: Some(pb::event::Payload::CallActivity(pb::CallActivity {
                call: "calls/1".into(),
            })),
            ..Default::default()
        };
        assert_eq!(render_event(&e, &mut n, &clock).text, "call activity");
        let e = pb::Event {
            r#type: "message_sent".into(),
            payload: None,
            ..Default::default()
        };
        assert_eq!(render_event(&e, &mut n, &clock).text, "message sent");
    }

    #[test]
    fn message_events_read_with_names() {
        let clock = Clock::new(Some("UTC")).unwrap();
        let mut n = names();
        let sent = pb::Event {
            r#type: "message_sent".into(),
            payload: Some(pb::event::Payload::MessageSent(pb::MessageSent {
                message: Some(pb::Message {
                    name: "messages/8".into(),
                    target: "talkgroups/57190001".into(),
                    site: "sites/qingshan".into(),
                    operator: "值班员".into(),
                    operation: "operations/3".into(),
                    body: Some(pb::message::Body::Status(12)),
                    ..Default::default()
                }),
            })),
            ..Default::default()
        };
        assert_eq!(
            render_event(&sent, &mut n, &clock).text,
            "dispatch (值班员) → 青山镇应急分队 (57190001): status 12 on 青山镇 (message 8)"
        );
        let handled = pb::Event {
            r#type: "message_handled".into(),
            payload: Some(pb::event::Payload::MessageHandled(pb::MessageMarked {
                message: "messages/8".into(),
                operator: "值班员".into(),
            })),
            ..Default::default()
        };
        assert_eq!(
            render_event(&handled, &mut n, &clock).text,
            "message 8 handled by 值班员"
        );
        let read = pb::Event {
            r#type: "message_read".into(),
            payload: Some(pb::event::Payload::MessageRead(pb::MessageMarked {
                message: "messages/8".into(),
                operator: "".into(),
            })),
            ..Default::default()
        };
        assert_eq!(
            render_event(&read, &mut n, &clock).text,
            "message 8 read by -"
        );
        // A name the directory does not have comes from the message itself.
        let m = pb::Message {
            name: "messages/9".into(),
            direction: pb::message::Direction::Inbound as i32,
            source: "radios/57120209".into(),
            target: "talkgroups/57190001".into(),
            display_names: [("radios/57120209".to_string(), "林冲".to_string())].into(),
            body: Some(pb::message::Body::Text("到达".into())),
            ..Default::default()
        };
        let t = messages_table(&[m], &n, &clock, 0);
        assert!(
            t.contains("林冲 (57120209)  青山镇应急分队 (57190001)  \"到达\"  new"),
            "{t}"
        );
    }

    #[test]
    fn watch_json_is_the_protobuf_mapping() {
        let m = pb::WatchEventsResponse {
            kind: Some(pb::watch_events_response::Kind::Event(pb::Event {
                cursor: "j.7".into(),
                time: Some(prost_types::Timestamp {
                    seconds: 1_796_539_996,
                    nanos: 0,
                }),
                r#type: "radio_registered".into(),
                payload: Some(pb::event::Payload::RadioRegistered(pb::RadioRegistered {
                    radio: "radios/57120201".into(),
                    site: "sites/qingshan".into(),
                })),
            })),
        };
        let v: serde_json::Value = serde_json::from_str(&proto_json(&m).unwrap()).unwrap();
        assert_eq!(v["event"]["cursor"], "j.7");
        assert_eq!(v["event"]["time"], "2026-12-06T06:53:16Z");
        assert_eq!(v["event"]["radioRegistered"]["radio"], "radios/57120201");
    }
}
