//! `trunkgate ctl`: a command-line client of the gRPC dispatch API (proto/trunkgate/v1).
//!
//! - Lists (`radios`, `talkgroups`, `sites`, `teams`, `calls`, `alarms`, `operations`) page
//!   through the server's List methods and print aligned tables. Column widths count display
//!   columns, East Asian Wide and Fullwidth characters as 2 (Unicode UAX #11), so Chinese
//!   names line up in a terminal.
//! - `watch [--cursor C] [--snapshot] [--filter F]` prints one line per event, starting with
//!   its cursor (`#<journal>.<seq>`, events.proto; hand it to `--cursor` to resume). When the
//!   server cuts the stream with a resume cursor (slow watcher, server restart), it resumes
//!   after that cursor, a bounded number of times in a row. A cursor the server refuses
//!   (another journal: the journal was re-created or replaced; expired) ends the watch with
//!   the server's error: it is never silently replaced by another position.
//! - Over-the-air commands (`check`, `alert`, `stun`, `revive`, `kill`, `text`, `status`,
//!   `locate`) and `ack-alarm` take a radio or talkgroup as a dial number, `0x<hex>`,
//!   `#<decimal>`, a plain decimal DMR ID of at most 7 digits, or a full resource name. By
//!   default they wait for the outcome, printing one line per state change with the elapsed
//!   time and attempts, and exit 1 when the operation
//!   is refused, fails, times out or is cancelled (or the wait times out); `--no-wait` prints
//!   the operation name and returns at once. Errors from the server or the connection exit 2;
//!   an error that names its remedy (a stunned radio: revive it first) is printed as the
//!   server's one sentence. `--timeout` is honoured as given, every wait call included.
//!   The outcome line names the delivery level (`delivery=CONFIRMED|TRANSMITTED|PARTIAL`),
//!   what the command found out (`at=<site> rssi=<dBm>` for a check, `position=<lat>,<lon>`
//!   with accuracy, source and fix time for a location) and, for group traffic, each site's
//!   outcome (`<site>=SENT|LINK_DOWN|NOT_REPORTED|...`).
//!   `text` and `status` hand a recipient that is not a resource name to the server as typed
//!   (dial number, `#<decimal>`, `0x<hex>`, plain DMR ID), which resolves it against its
//!   directory and refuses an ambiguous one naming both readings.
//! - `messages` lists texts and status messages of both directions, newest first, with
//!   filters; `inbox` lists received ones, those not yet handled first; `mark-read` and
//!   `mark-handled` mark one (journaled with the `--operator`). `track` prints a radio's
//!   position reports from the journal, newest first.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tonic::transport::Channel;

use crate::api::pb;
use crate::api::service::{OPERATOR_METADATA, OPERATOR_METADATA_BIN};

/// `trunkgate ctl` arguments.
#[derive(Debug, Clone, Args)]
pub struct CtlArgs {
    /// The gateway's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051", global = true)]
    pub server: String,
    /// Operator name recorded with commands (sent as `trunkgate-operator` metadata).
    #[arg(long, global = true)]
    pub operator: Option<String>,
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
    /// Give up waiting after this many seconds (the operation goes on). Honoured as given;
    /// when absent, 60 (for a periodic `locate`, 60 plus every × polls).
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
        /// Only radios last heard on this site.
        #[arg(long)]
        site: Option<String>,
        /// Only members of this team (its configured name, e.g. qingshan).
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
        /// Most rows to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List talkgroups.
    Talkgroups {
        /// Most rows to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List sites and their links.
    Sites,
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
        /// Most rows to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List alarms.
    Alarms {
        /// Only alarms not yet resolved.
        #[arg(long)]
        open: bool,
        /// AIP-160 filter, e.g. "team = teams/qingshan" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// List operations.
    Operations {
        /// AIP-160 filter, e.g. "kind = STUN AND done = false" (see services.proto).
        #[arg(long, default_value = "")]
        filter: String,
        /// Most rows to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Print events as they happen, one line each.
    Watch {
        /// Replay after this cursor (`<journal>.<seq>`, as printed before each event), then
        /// go live.
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
    },
    /// Radio check (在线检测).
    Check {
        /// Radio: dial number, 0x<hex>, #<decimal> or radios/...
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
    /// Kill (遥毙): permanent.
    Kill {
        /// Radio.
        radio: String,
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
    /// Send a status number (0..=1023) to a radio or talkgroup.
    Status {
        /// Radio or talkgroup.
        recipient: String,
        /// Status number.
        status: u32,
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
    /// Acknowledge an alarm (the acknowledgement goes over the air).
    AckAlarm {
        /// Alarm: number or alarms/N.
        alarm: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Resolve an alarm.
    ResolveAlarm {
        /// Alarm: number or alarms/N.
        alarm: String,
    },
    /// Show one operation.
    Operation {
        /// Operation: number or operations/N.
        operation: String,
    },
    /// Cancel an operation that has not finished.
    Cancel {
        /// Operation: number or operations/N.
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
        /// Only messages of this team (configured name).
        #[arg(long)]
        team: Option<String>,
        /// Only received (`in`) or sent (`out`) messages.
        #[arg(long, value_parser = ["in", "out"])]
        direction: Option<String>,
        /// Only messages not yet handled.
        #[arg(long)]
        unhandled: bool,
        /// Most rows to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Received messages, those not yet handled first (then the handled ones), newest first
    /// within each.
    Inbox {
        /// Only messages of this team (configured name).
        #[arg(long)]
        team: Option<String>,
        /// Most rows to print.
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
        /// Most rows to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Mark a message read.
    MarkRead {
        /// Message: number or messages/N.
        message: String,
    },
    /// Mark a message handled (and read).
    MarkHandled {
        /// Message: number or messages/N.
        message: String,
    },
}

/// Run `trunkgate ctl`: 0 on success, 1 when a waited-for operation did not succeed, 2 on
/// errors.
pub fn run(args: CtlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trunkgate ctl: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout();
    match runtime.block_on(execute(args, &mut out)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("trunkgate ctl: {e:#}");
            ExitCode::from(2)
        }
    }
}

// ---- names -----------------------------------------------------------------------------

fn with_collection(collection: &str, s: &str) -> String {
    if s.contains('/') {
        s.to_string()
    } else {
        format!("{collection}/{s}")
    }
}

/// A radio as typed: a dial number, `0x<hex>`, `#<decimal>`, or a resource name.
pub fn radio_name(s: &str) -> String {
    with_collection("radios", s.trim())
}

/// A recipient as typed: a resource name is kept, anything else goes to the server as it
/// is, which resolves it against the radios and talkgroups it knows (a dial number by the
/// dialling plan, a raw air address by the directory; an ambiguous one is refused naming
/// both readings).
pub fn recipient_name(s: &str) -> String {
    s.trim().to_string()
}

/// A message as typed: a number or `messages/N`.
pub fn message_name(s: &str) -> String {
    with_collection("messages", s.trim())
}

// ---- tables ------------------------------------------------------------------------------

/// Display columns of a character: 2 for East Asian Wide (W) and Fullwidth (F) ranges of
/// Unicode UAX #11 (Hangul Jamo, CJK radicals to Yi, Hangul syllables, CJK compatibility,
/// vertical and fullwidth forms, CJK extension planes), 0 for combining marks and controls,
/// else 1.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0..=0x1F | 0x7F..=0x9F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x2FFFD
        | 0x30000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Display columns of a string.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long ago, compactly ("5s", "3m", "2h", "4d"), or "-".
fn ago(t: &Option<prost_types::Timestamp>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    let ms = t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000);
    let s = (now_ms() - ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
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

fn enum_name<E: TryFrom<i32>>(v: i32, f: impl Fn(E) -> &'static str) -> String {
    E::try_from(v).map(&f).unwrap_or("?").to_string()
}

/// The radios table.
pub fn radios_table(radios: &[pb::Radio]) -> String {
    let rows: Vec<Vec<String>> = radios
        .iter()
        .map(|r| {
            let p = r.presence.as_ref();
            vec![
                short(&r.name).to_string(),
                format!("0x{:06X}", r.air_id),
                dash(&r.display_name),
                if r.registered { "yes" } else { "no" }.to_string(),
                dash(short(&r.talkgroup)),
                p.map_or("-".into(), |p| dash(short(&p.site))),
                ago(&p.and_then(|p| p.last_heard_time)),
                enum_name(r.control, |c: pb::radio::Control| c.as_str_name()),
            ]
        })
        .collect();
    table(
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
        &rows,
    )
}

fn talkgroups_table(tgs: &[pb::Talkgroup]) -> String {
    let rows: Vec<Vec<String>> = tgs
        .iter()
        .map(|t| {
            vec![
                short(&t.name).to_string(),
                format!("0x{:06X}", t.air_id),
                dash(&t.display_name),
                dash(short(&t.active_call)),
                dash(short(&t.last_site)),
                ago(&t.last_heard_time),
            ]
        })
        .collect();
    table(
        &["TALKGROUP", "AIR ID", "NAME", "CALL", "SITE", "HEARD"],
        &rows,
    )
}

fn operation_line(o: &pb::Operation) -> Vec<String> {
    vec![
        short(&o.name).to_string(),
        enum_name(o.kind, |k: pb::operation::Kind| k.as_str_name()),
        short(&o.target).to_string(),
        enum_name(o.state, |s: pb::operation::State| s.as_str_name()),
        o.attempts.to_string(),
        dash(short(&o.site)),
        dash(&o.operator),
        ago(&o.create_time),
    ]
}

fn message_body(m: &pb::Message) -> String {
    match &m.body {
        Some(pb::message::Body::Text(t)) => t.clone(),
        Some(pb::message::Body::Status(n)) => format!("[status {n}]"),
        None => "-".into(),
    }
}

/// A name with its display name from the message, e.g. `80020200 张三`.
fn named(m: &pb::Message, name: &str) -> String {
    match m.display_names.get(name) {
        Some(d) => format!("{} {d}", short(name)),
        None => dash(short(name)),
    }
}

/// The messages table.
pub fn messages_table(messages: &[pb::Message]) -> String {
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            let inbound = m.direction == pb::message::Direction::Inbound as i32;
            let state = if m.handled {
                format!("handled by {}", dash(&m.handled_by))
            } else if m.read {
                format!("read by {}", dash(&m.read_by))
            } else {
                "new".into()
            };
            vec![
                short(&m.name).to_string(),
                if inbound { "in" } else { "out" }.to_string(),
                if inbound {
                    named(m, &m.source)
                } else {
                    format!("({})", dash(&m.operator))
                },
                named(m, &m.target),
                message_body(m),
                ago(&m.create_time),
                state,
            ]
        })
        .collect();
    table(
        &["MESSAGE", "DIR", "FROM", "TO", "TEXT", "WHEN", "STATE"],
        &rows,
    )
}

/// The positions table: coordinates to 6 decimals (about 0.1 m).
pub fn positions_table(positions: &[pb::Position]) -> String {
    let rows: Vec<Vec<String>> = positions
        .iter()
        .map(|p| {
            vec![
                short(&p.radio).to_string(),
                format!("{:.6}", p.latitude),
                format!("{:.6}", p.longitude),
                p.altitude_m.map_or("-".into(), |a| format!("{a:.0}")),
                p.accuracy_m.map_or("-".into(), |a| format!("{a:.0}")),
                p.source.clone(),
                dash(short(&p.site)),
                ago(&p.receive_time),
            ]
        })
        .collect();
    table(
        &[
            "RADIO",
            "LATITUDE",
            "LONGITUDE",
            "ALT M",
            "ACC M",
            "SOURCE",
            "SITE",
            "RECEIVED",
        ],
        &rows,
    )
}

// ---- the client ------------------------------------------------------------------------

struct Client {
    channel: Channel,
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

fn rpc(e: tonic::Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    // An error that names its remedy (a stunned radio: revive it first) is a sentence for
    // a person, printed as it is.
    if e.get_details_error_info()
        .is_some_and(|i| i.metadata.contains_key("remedy"))
    {
        return anyhow::anyhow!(escape(e.message()).into_owned());
    }
    let mut msg = format!("{}: {}", e.code(), e.message());
    if let Some(br) = e.get_details_bad_request() {
        for v in br.field_violations {
            let _ = write!(msg, " [{}: {}]", v.field, v.description);
        }
    }
    anyhow::anyhow!(escape(&msg).into_owned())
}

/// Page through a list until its end or `limit` items.
macro_rules! collect_pages {
    ($limit:expr, |$token:ident| $call:expr, $items:ident) => {{
        let mut all = Vec::new();
        let mut $token = String::new();
        loop {
            let page = $call.await.map_err(rpc)?.into_inner();
            all.extend(page.$items);
            $token = page.next_page_token;
            if $token.is_empty() || all.len() >= $limit {
                break;
            }
        }
        all.truncate($limit);
        all
    }};
}

fn page_size(limit: usize) -> i32 {
    limit.clamp(1, 1000) as i32
}

/// Run one ctl command, writing to `out`. `Ok(false)` when a waited-for operation did not
/// succeed.
pub async fn execute(args: CtlArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<bool> {
    let endpoint = tonic::transport::Endpoint::from_shared(args.server.clone())
        .with_context(|| format!("bad server address {:?}", args.server))?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", args.server))?;
    let c = Client {
        channel,
        operator: args.operator.clone(),
    };
    use pb::alarm_service_client::AlarmServiceClient;
    use pb::command_service_client::CommandServiceClient;
    use pb::operation_service_client::OperationServiceClient;
    let mut commands = CommandServiceClient::new(c.channel.clone());
    let radio_req = |radio: &str, w: &WaitArgs| {
        c.request(pb::RadioCommandRequest {
            name: radio_name(radio),
            request_id: w.request_id.clone().unwrap_or_default(),
        })
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
            let mut client = pb::radio_service_client::RadioServiceClient::new(c.channel.clone());
            let radios = collect_pages!(
                limit,
                |token| client.list_radios(pb::ListRadiosRequest {
                    page_size: page_size(limit),
                    page_token: token.clone(),
                    site: site
                        .as_deref()
                        .map(|s| with_collection("sites", s))
                        .unwrap_or_default(),
                    team: team
                        .as_deref()
                        .map(|s| with_collection("teams", s))
                        .unwrap_or_default(),
                    talkgroup: talkgroup
                        .as_deref()
                        .map(|s| with_collection("talkgroups", s))
                        .unwrap_or_default(),
                    registered_only: registered,
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                radios
            );
            out.write_all(radios_table(&radios).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Talkgroups { limit } => {
            let mut client =
                pb::talkgroup_service_client::TalkgroupServiceClient::new(c.channel.clone());
            let tgs = collect_pages!(
                limit,
                |token| client.list_talkgroups(pb::ListTalkgroupsRequest {
                    page_size: page_size(limit),
                    page_token: token.clone(),
                }),
                talkgroups
            );
            out.write_all(talkgroups_table(&tgs).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Sites => {
            let mut client =
                pb::directory_service_client::DirectoryServiceClient::new(c.channel.clone());
            let sites = collect_pages!(
                10_000,
                |token| client.list_sites(pb::ListSitesRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
                sites
            );
            let rows: Vec<Vec<String>> = sites
                .iter()
                .map(|s| {
                    vec![
                        short(&s.name).to_string(),
                        dash(&s.display_name),
                        enum_name(s.profile, |p: pb::site::Profile| p.as_str_name()),
                        if s.link_up { "up" } else { "down" }.to_string(),
                        s.queued_operations.to_string(),
                    ]
                })
                .collect();
            out.write_all(table(&["SITE", "NAME", "PROFILE", "LINK", "QUEUED"], &rows).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Teams => {
            let mut client =
                pb::directory_service_client::DirectoryServiceClient::new(c.channel.clone());
            let teams = collect_pages!(
                10_000,
                |token| client.list_teams(pb::ListTeamsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                }),
                teams
            );
            let rows: Vec<Vec<String>> = teams
                .iter()
                .map(|t| {
                    vec![
                        short(&t.name).to_string(),
                        dash(&t.display_name),
                        dash(short(&t.talkgroup)),
                        t.radios.len().to_string(),
                    ]
                })
                .collect();
            out.write_all(table(&["TEAM", "NAME", "TALKGROUP", "MEMBERS"], &rows).as_bytes())?;
            return Ok(true);
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
            let calls = collect_pages!(
                limit,
                |token| client.list_calls(pb::ListCallsRequest {
                    page_size: page_size(limit),
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
                        short(&k.name).to_string(),
                        k.target.clone(),
                        short(&k.site).to_string(),
                        enum_name(k.state, |s: pb::call::State| s.as_str_name()),
                        dash(&talkers(k)),
                        if k.emergency { "EMERGENCY" } else { "" }.to_string(),
                        ago(&k.start_time),
                    ]
                })
                .collect();
            out.write_all(
                table(
                    &[
                        "CALL", "TARGET", "SITE", "STATE", "TALKERS", "FLAGS", "STARTED",
                    ],
                    &rows,
                )
                .as_bytes(),
            )?;
            return Ok(true);
        }
        CtlCommand::Alarms {
            open,
            filter,
            limit,
        } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            let filter = match (open, filter.trim().is_empty()) {
                (false, _) => filter,
                (true, true) => "state != RESOLVED".to_string(),
                (true, false) => format!("state != RESOLVED AND ({filter})"),
            };
            let alarms = collect_pages!(
                limit,
                |token| client.list_alarms(pb::ListAlarmsRequest {
                    page_size: page_size(limit),
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
                        short(&a.radio).to_string(),
                        short(&a.site).to_string(),
                        enum_name(a.state, |s: pb::alarm::State| s.as_str_name()),
                        a.repeats.to_string(),
                        ago(&a.raise_time),
                        dash(&a.acknowledged_by),
                    ]
                })
                .collect();
            out.write_all(
                table(
                    &[
                        "ALARM", "RADIO", "SITE", "STATE", "REPEATS", "RAISED", "ACK BY",
                    ],
                    &rows,
                )
                .as_bytes(),
            )?;
            return Ok(true);
        }
        CtlCommand::Operations { filter, limit } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let ops = collect_pages!(
                limit,
                |token| client.list_operations(pb::ListOperationsRequest {
                    page_size: page_size(limit),
                    page_token: token.clone(),
                    filter: filter.clone(),
                    order_by: String::new(),
                }),
                operations
            );
            let rows: Vec<Vec<String>> = ops.iter().map(operation_line).collect();
            out.write_all(
                table(
                    &[
                        "OP", "KIND", "TARGET", "STATE", "ATTEMPTS", "SITE", "OPERATOR", "CREATED",
                    ],
                    &rows,
                )
                .as_bytes(),
            )?;
            return Ok(true);
        }
        CtlCommand::Watch {
            cursor,
            snapshot,
            filter,
            heartbeats,
        } => {
            watch(&c, cursor, snapshot, filter, heartbeats, out).await?;
            return Ok(true);
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
                page_size: page_size(limit),
                radio: radio.as_deref().map(radio_name).unwrap_or_default(),
                talkgroup: talkgroup
                    .as_deref()
                    .map(|s| with_collection("talkgroups", s))
                    .unwrap_or_default(),
                team: team
                    .as_deref()
                    .map(|s| with_collection("teams", s))
                    .unwrap_or_default(),
                direction,
                handled: unhandled.then_some(false),
                ..pb::ListMessagesRequest::default()
            };
            let messages = collect_pages!(
                limit,
                |token| client.list_messages(pb::ListMessagesRequest {
                    page_token: token.clone(),
                    ..req.clone()
                }),
                messages
            );
            out.write_all(messages_table(&messages).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Inbox { team, limit } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let mut messages = Vec::new();
            for handled in [false, true] {
                let left = limit.saturating_sub(messages.len());
                if left == 0 {
                    break;
                }
                let req = pb::ListMessagesRequest {
                    page_size: page_size(left),
                    team: team
                        .as_deref()
                        .map(|s| with_collection("teams", s))
                        .unwrap_or_default(),
                    direction: pb::message::Direction::Inbound as i32,
                    handled: Some(handled),
                    ..pb::ListMessagesRequest::default()
                };
                messages.extend(collect_pages!(
                    left,
                    |token| client.list_messages(pb::ListMessagesRequest {
                        page_token: token.clone(),
                        ..req.clone()
                    }),
                    messages
                ));
            }
            out.write_all(messages_table(&messages).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Track {
            radio,
            minutes,
            limit,
        } => {
            let mut client = pb::radio_service_client::RadioServiceClient::new(c.channel.clone());
            let start_time = minutes.map(|m| {
                let ms = now_ms()
                    .saturating_sub(i64::try_from(m.saturating_mul(60_000)).unwrap_or(i64::MAX));
                prost_types::Timestamp {
                    seconds: ms.div_euclid(1000),
                    nanos: 0,
                }
            });
            let positions = collect_pages!(
                limit,
                |token| client.list_positions(pb::ListPositionsRequest {
                    page_size: page_size(limit),
                    page_token: token.clone(),
                    radio: radio_name(&radio),
                    start_time,
                    end_time: None,
                }),
                positions
            );
            out.write_all(positions_table(&positions).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::MarkRead { message } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let req = c.request(pb::MarkMessageRequest {
                name: message_name(&message),
            });
            let m = client.mark_message_read(req).await.map_err(rpc)?;
            out.write_all(messages_table(&[m.into_inner()]).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::MarkHandled { message } => {
            let mut client =
                pb::message_service_client::MessageServiceClient::new(c.channel.clone());
            let req = c.request(pb::MarkMessageRequest {
                name: message_name(&message),
            });
            let m = client.mark_message_handled(req).await.map_err(rpc)?;
            out.write_all(messages_table(&[m.into_inner()]).as_bytes())?;
            return Ok(true);
        }
        CtlCommand::Operation { operation } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let op = client
                .get_operation(pb::GetOperationRequest {
                    name: with_collection("operations", &operation),
                })
                .await
                .map_err(rpc)?
                .into_inner();
            writeln!(out, "{}", describe(&op))?;
            return Ok(true);
        }
        CtlCommand::Cancel { operation } => {
            let mut client = OperationServiceClient::new(c.channel.clone());
            let op = client
                .cancel_operation(c.request(pb::CancelOperationRequest {
                    name: with_collection("operations", &operation),
                }))
                .await
                .map_err(rpc)?
                .into_inner();
            writeln!(out, "{}", describe(&op))?;
            return Ok(true);
        }
        CtlCommand::ResolveAlarm { alarm } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            let r = client
                .resolve_alarm(c.request(pb::ResolveAlarmRequest {
                    name: with_collection("alarms", &alarm),
                    request_id: String::new(),
                }))
                .await
                .map_err(rpc)?
                .into_inner();
            let a = r.alarm.unwrap_or_default();
            writeln!(
                out,
                "{} {}",
                escape(&a.name),
                enum_name(a.state, |s: pb::alarm::State| s.as_str_name())
            )?;
            return Ok(true);
        }
        CtlCommand::AckAlarm { alarm, wait } => {
            let mut client = AlarmServiceClient::new(c.channel.clone());
            let r = client
                .acknowledge_alarm(c.request(pb::AcknowledgeAlarmRequest {
                    name: with_collection("alarms", &alarm),
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await
                .map_err(rpc)?
                .into_inner();
            let a = r.alarm.unwrap_or_default();
            writeln!(
                out,
                "{} {}",
                escape(&a.name),
                enum_name(a.state, |s: pb::alarm::State| s.as_str_name())
            )?;
            match r.operation {
                Some(op) => (op, wait),
                None => return Ok(true),
            }
        }
        CtlCommand::Check { radio, wait } => {
            let op = commands.check_radio(radio_req(&radio, &wait)).await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Alert { radio, wait } => {
            let op = commands.alert_radio(radio_req(&radio, &wait)).await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Stun { radio, wait } => {
            let op = commands.stun_radio(radio_req(&radio, &wait)).await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Revive { radio, wait } => {
            let op = commands.revive_radio(radio_req(&radio, &wait)).await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Kill { radio, wait } => {
            let op = commands.kill_radio(radio_req(&radio, &wait)).await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Text {
            recipient,
            text,
            wait,
        } => {
            let op = commands
                .send_text(c.request(pb::SendTextRequest {
                    name: recipient_name(&recipient),
                    text,
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
        CtlCommand::Status {
            recipient,
            status,
            wait,
        } => {
            let op = commands
                .send_status(c.request(pb::SendStatusRequest {
                    name: recipient_name(&recipient),
                    status,
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(rpc)?.into_inner(), wait)
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
            // well; a --timeout given is honoured as it is.
            if let (None, Some(e), Some(p)) = (wait.timeout, every, polls) {
                let lasts = e.saturating_mul(u64::from(p));
                wait.timeout = Some(DEFAULT_WAIT_SECS.saturating_add(lasts));
            }
            let op = commands
                .request_location(c.request(pb::RequestLocationRequest {
                    name: radio_name(&radio),
                    interval,
                    polls: polls.unwrap_or(0),
                    request_id: wait.request_id.clone().unwrap_or_default(),
                }))
                .await;
            (op.map_err(rpc)?.into_inner(), wait)
        }
    };
    if wait.no_wait {
        writeln!(out, "{}", escape(&op.name))?;
        return Ok(true);
    }
    let timeout = wait.timeout.unwrap_or(DEFAULT_WAIT_SECS);
    follow(&c, op, Duration::from_secs(timeout), out).await
}

/// How long a command waits for its operation when `--timeout` is not given, s.
const DEFAULT_WAIT_SECS: u64 = 60;

/// One line describing an operation ([`escape`]d).
pub fn describe(op: &pb::Operation) -> String {
    escape(&describe_raw(op)).into_owned()
}

fn describe_raw(op: &pb::Operation) -> String {
    let state = enum_name(op.state, |s: pb::operation::State| s.as_str_name());
    let mut s = format!(
        "{} {} {} {state} attempts={}",
        op.name,
        enum_name(op.kind, |k: pb::operation::Kind| k.as_str_name()),
        op.target,
        op.attempts
    );
    if let Some(code) = op.refusal_code {
        let _ = write!(s, " refusal=0x{code:02X}");
    }
    if !op.failure.is_empty() {
        let _ = write!(s, " failure={}", op.failure);
    }
    if op.polls_done > 0 {
        let _ = write!(s, " polls={}", op.polls_done);
    }
    if op.delivery != 0 {
        let level = enum_name(op.delivery, |l: pb::DeliveryLevel| l.as_str_name());
        let _ = write!(s, " delivery={level}");
    }
    if let Some(r) = &op.result {
        s.push(' ');
        s.push_str(&result_words(r));
    }
    // Group traffic: each site's outcome.
    for t in &op.site_transmissions {
        let state = enum_name(t.state, |s: pb::site_transmission::State| s.as_str_name());
        let site = t.site.strip_prefix("sites/").unwrap_or(&t.site);
        let _ = write!(s, " {site}={state}");
    }
    s
}

/// What a command found out, as words: `at=<site> rssi=<dBm>` for a radio check,
/// `position=<lat>,<lon> ±<m>m source=<source> fix=<time> at=<site>` for a location.
fn result_words(r: &pb::OperationResult) -> String {
    use pb::operation_result::Result as R;
    let site = |s: &str| s.strip_prefix("sites/").unwrap_or(s).to_string();
    match &r.result {
        Some(R::RadioCheck(c)) => {
            let mut w = format!("at={}", site(&c.site));
            if let Some(rssi) = c.rssi_dbm {
                let _ = write!(w, " rssi={rssi}dBm");
            }
            w
        }
        Some(R::Location(l)) => {
            let p = l.position.clone().unwrap_or_default();
            let mut w = format!("position={:.6},{:.6}", p.latitude, p.longitude);
            if let Some(a) = p.accuracy_m {
                let _ = write!(w, " ±{a}m");
            }
            if !p.source.is_empty() {
                let _ = write!(w, " source={}", p.source);
            }
            if let Some(t) = &p.fix_time {
                let ms = t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000);
                let _ = write!(w, " fix={}", crate::api::filter::format_rfc3339(ms));
            }
            let _ = write!(w, " at={}", site(&l.site));
            w
        }
        None => String::new(),
    }
}

/// Wait for `op` to finish, printing one line per change of state, attempts or polls.
async fn follow(
    c: &Client,
    mut op: pb::Operation,
    timeout: Duration,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<bool> {
    use pb::operation_service_client::OperationServiceClient;
    let mut client = OperationServiceClient::new(c.channel.clone());
    let started = Instant::now();
    let key = |o: &pb::Operation| {
        let sites: Vec<i32> = o.site_transmissions.iter().map(|t| t.state).collect();
        (o.state, o.attempts, o.polls_done, sites)
    };
    let mut shown = None;
    loop {
        if shown != Some(key(&op)) {
            writeln!(
                out,
                "[{:6.1}s] {}",
                started.elapsed().as_secs_f64(),
                describe(&op)
            )?;
            out.flush()?;
            shown = Some(key(&op));
        }
        if op.done {
            return Ok(op.state == pb::operation::State::Succeeded as i32);
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            writeln!(
                out,
                "gave up waiting after {}s; {} goes on",
                timeout.as_secs(),
                op.name
            )?;
            return Ok(false);
        }
        // Ask the server to wait at most a second and never past the deadline, and bound
        // the call itself by what is left, so --timeout holds even when the server is slow.
        let step = left.min(Duration::from_secs(1));
        let call = client.wait_operation(pb::WaitOperationRequest {
            name: op.name.clone(),
            timeout: Some(prost_types::Duration {
                seconds: step.as_secs() as i64,
                nanos: step.subsec_nanos() as i32,
            }),
        });
        match tokio::time::timeout(left, call).await {
            Ok(r) => op = r.map_err(rpc)?.into_inner(),
            Err(_) => continue,
        }
    }
}

/// The fields of one event payload as `key=value` words: empty strings, false flags and
/// unset values are left out, resource names are shown as the API writes them, enums by
/// their proto names and times in RFC 3339 (UTC).
#[derive(Default)]
struct Fields(Vec<String>);

impl Fields {
    fn s(&mut self, k: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            if v.contains(char::is_whitespace) {
                self.0.push(format!("{k}={v:?}"));
            } else {
                self.0.push(format!("{k}={v}"));
            }
        }
        self
    }
    fn n(&mut self, k: &str, v: impl std::fmt::Display) -> &mut Self {
        self.0.push(format!("{k}={v}"));
        self
    }
    fn flag(&mut self, k: &str, v: bool) -> &mut Self {
        if v {
            self.0.push(k.to_string());
        }
        self
    }
    fn t(&mut self, k: &str, v: &Option<prost_types::Timestamp>) -> &mut Self {
        if let Some(t) = v {
            let ms = t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000);
            self.0
                .push(format!("{k}={}", crate::api::filter::format_rfc3339(ms)));
        }
        self
    }
    fn d(&mut self, k: &str, v: &Option<prost_types::Duration>) -> &mut Self {
        if let Some(d) = v {
            let ms = d.seconds.saturating_mul(1000) + i64::from(d.nanos / 1_000_000);
            self.0.push(format!("{k}={}s", ms as f64 / 1000.0));
        }
        self
    }
    fn e<E: TryFrom<i32>>(&mut self, k: &str, v: i32, f: impl Fn(E) -> &'static str) -> &mut Self {
        if v != 0 {
            self.0.push(format!("{k}={}", enum_name(v, f)));
        }
        self
    }
}

/// The fields of an event's typed payload.
fn payload_fields(p: &pb::event::Payload) -> Vec<String> {
    use pb::event::Payload as P;
    let mut f = Fields::default();
    let slot = |s: pb::Slot| s.as_str_name();
    match p {
        P::DirectoryLoaded(x) => {
            f.n("radios", x.radios)
                .n("talkgroups", x.talkgroups)
                .n("sites", x.sites)
                .n("teams", x.teams);
        }
        P::SiteAdded(x) => {
            f.s("site", &x.site);
        }
        P::SiteLinkChanged(x) => {
            f.s("site", &x.site)
                .s("link", if x.up { "up" } else { "down" });
        }
        P::RadioHeard(x) => {
            f.s("radio", &x.radio)
                .s("site", &x.site)
                .e("slot", x.slot, slot);
            if let Some(r) = x.rssi_dbm {
                f.n("rssi_dbm", r);
            }
        }
        P::RadioRegistered(x) => {
            f.s("radio", &x.radio).s("site", &x.site);
        }
        P::RadioDeregistered(x) => {
            f.s("radio", &x.radio);
        }
        P::RadioAffiliated(x) => {
            f.s("radio", &x.radio)
                .s("talkgroup", &x.talkgroup)
                .s("site", &x.site);
        }
        P::RadioAliasLearned(x) => {
            f.s("radio", &x.radio).s("alias", &x.alias);
        }
        P::RadioCapabilityLearned(x) => {
            f.s("radio", &x.radio)
                .e("service", x.service, |s: pb::Service| s.as_str_name())
                .n("supported", x.supported);
        }
        P::RadioControlChanged(x) => {
            f.s("radio", &x.radio)
                .e("control", x.control, |c: pb::radio::Control| {
                    c.as_str_name()
                });
        }
        P::CallStarted(x) => {
            f.s("call", &x.call)
                .s("target", &x.target)
                .s("site", &x.site)
                .e("slot", x.slot, slot)
                .s("talker", &x.talker)
                .flag("emergency", x.emergency)
                .flag("privacy", x.privacy);
        }
        P::CallTalkerChanged(x) => {
            f.s("call", &x.call).s("talker", &x.talker);
        }
        P::CallFlagsChanged(x) => {
            f.s("call", &x.call)
                .flag("emergency", x.emergency)
                .flag("privacy", x.privacy);
        }
        P::CallActivity(x) => {
            f.s("call", &x.call);
        }
        P::CallTransmissionEnded(x) => {
            f.s("call", &x.call);
        }
        P::CallEnded(x) => {
            f.s("call", &x.call)
                .e("reason", x.reason, |r: pb::call::EndReason| r.as_str_name());
        }
        P::AlarmRaised(x) => {
            f.s("alarm", &x.alarm)
                .s("radio", &x.radio)
                .s("talkgroup", &x.talkgroup)
                .s("site", &x.site);
        }
        P::AlarmRepeated(x) => {
            f.s("alarm", &x.alarm).s("site", &x.site);
        }
        P::AlarmAcknowledged(x) => {
            f.s("alarm", &x.alarm)
                .s("operator", &x.operator)
                .s("operation", &x.operation);
        }
        P::AlarmResolved(x) => {
            f.s("alarm", &x.alarm).s("operator", &x.operator);
        }
        P::MessageReceived(x) => {
            f.s("message", &x.message)
                .s("source", &x.source)
                .s("to", &x.to)
                .s("site", &x.site);
            match &x.body {
                Some(pb::message_received::Body::Text(t)) => {
                    f.0.push(format!("text={t:?}"));
                }
                Some(pb::message_received::Body::Status(n)) => {
                    f.n("status", n);
                }
                None => {}
            }
        }
        P::MessageSent(x) => {
            if let Some(m) = &x.message {
                f.s("message", &m.name)
                    .s("target", &m.target)
                    .s("site", &m.site)
                    .s("operator", &m.operator)
                    .s("operation", &m.operation);
                match &m.body {
                    Some(pb::message::Body::Text(t)) => {
                        f.0.push(format!("text={t:?}"));
                    }
                    Some(pb::message::Body::Status(n)) => {
                        f.n("status", n);
                    }
                    None => {}
                }
            }
        }
        P::MessageRead(x) | P::MessageHandled(x) => {
            f.s("message", &x.message).s("operator", &x.operator);
        }
        P::PositionReported(x) => {
            f.s("radio", &x.radio).s("site", &x.site);
            if let Some(p) = &x.position {
                f.n("lat", p.latitude)
                    .n("lon", p.longitude)
                    .s("source", &p.source)
                    .t("fix_time", &p.fix_time);
            }
        }
        P::OperationCreated(x) => {
            if let Some(o) = &x.operation {
                f.s("operation", &o.name)
                    .e("kind", o.kind, |k: pb::operation::Kind| k.as_str_name())
                    .s("target", &o.target)
                    .s("site", &o.site)
                    .s("operator", &o.operator);
            }
        }
        P::OperationQueued(x) => {
            f.s("operation", &x.operation).s("site", &x.site);
        }
        P::OperationTransmitted(x) => {
            f.s("operation", &x.operation)
                .s("site", &x.site)
                .n("attempt", x.attempt)
                .t("deadline", &x.deadline);
        }
        P::OperationAttemptTimedOut(x) => {
            f.s("operation", &x.operation).n("attempt", x.attempt);
        }
        P::OperationAired(x) => {
            f.s("operation", &x.operation)
                .n("attempt", x.attempt)
                .n("slot", x.slot)
                .t("sent_time", &x.sent_time)
                .n("answer_window_ms", x.answer_window_ms)
                .t("deadline", &x.deadline);
        }
        P::OperationSiteSent(x) => {
            f.s("operation", &x.operation)
                .s("site", &x.site)
                .t("sent_time", &x.sent_time);
        }
        P::OperationSiteFailed(x) => {
            f.s("operation", &x.operation).s("site", &x.site).s(
                "state",
                &enum_name(x.state, |s: pb::site_transmission::State| s.as_str_name()),
            );
        }
        P::OperationPolled(x) => {
            f.s("operation", &x.operation)
                .n("polls_done", x.polls_done)
                .t("next_poll_time", &x.next_poll_time);
            if let Some(r) = &x.result {
                f.0.push(result_words(r));
            }
        }
        P::OperationSucceeded(x) => {
            f.s("operation", &x.operation);
            if x.delivery != 0 {
                let level = enum_name(x.delivery, |l: pb::DeliveryLevel| l.as_str_name());
                f.s("delivery", &level);
            }
            if let Some(r) = &x.result {
                f.0.push(result_words(r));
            }
        }
        P::OperationTimedOut(x) => {
            f.s("operation", &x.operation).n("attempts", x.attempts);
        }
        P::OperationRefused(x) => {
            f.s("operation", &x.operation)
                .n("refusal_code", x.refusal_code);
        }
        P::OperationFailed(x) => {
            f.s("operation", &x.operation).s("failure", &x.failure);
        }
        P::OperationCancelled(x) => {
            f.s("operation", &x.operation).s("operator", &x.operator);
        }
        P::GatewayRestarted(_) => {}
        P::ConfigChanged(x) => {
            f.d("answer_timeout", &x.answer_timeout)
                .n("max_attempts", x.max_attempts)
                .d("site_down_wait", &x.site_down_wait)
                .n("queue_limit", x.queue_limit)
                .d("recover_max_age", &x.recover_max_age);
        }
        P::InputsLost(x) => {
            f.n("count", x.count)
                .t("from", &x.from_time)
                .t("to", &x.to_time)
                .s("reason", &x.reason);
        }
        P::JournalRecovered(x) => {
            f.t("from", &x.from_time)
                .t("to", &x.to_time)
                .s("reason", &x.reason)
                .n("held_inputs", x.held_inputs);
        }
    }
    f.0
}

/// One line for an event: cursor, time, type and the typed payload's fields
/// (`key=value`, resource names as the API writes them).
pub fn event_line(e: &pb::Event) -> String {
    let mut line = format!("#{} ", e.cursor);
    if let Some(t) = &e.time {
        let ms = t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000);
        line.push_str(&crate::api::filter::format_rfc3339(ms));
        line.push(' ');
    }
    line.push_str(&e.r#type);
    for field in e.payload.as_ref().map(payload_fields).unwrap_or_default() {
        line.push(' ');
        line.push_str(&field);
    }
    // Texts and aliases come from the air: control characters are shown escaped, never sent
    // to the terminal.
    escape(&line).into_owned()
}

/// The radios that talked in a call (kept after it ended), the one talking now marked `*`.
fn talkers(k: &pb::Call) -> String {
    let mut names: Vec<String> = k
        .talkers
        .iter()
        .map(|t| {
            if *t == k.talker {
                format!("{}*", short(t))
            } else {
                short(t).to_string()
            }
        })
        .collect();
    if !k.talker.is_empty() && !k.talkers.contains(&k.talker) {
        names.push(format!("{}*", short(&k.talker)));
    }
    names.join(",")
}

/// Consecutive resumptions after a server cut before giving up.
const MAX_RESUMES: u32 = 5;

async fn watch(
    c: &Client,
    mut cursor: Option<String>,
    snapshot: bool,
    filter: String,
    heartbeats: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    use pb::watch_events_response::Kind;
    let mut client = pb::event_service_client::EventServiceClient::new(c.channel.clone());
    let mut resumes = 0;
    let mut snapshot = snapshot && cursor.is_none();
    loop {
        let mut stream = client
            .watch_events(pb::WatchEventsRequest {
                legacy_cursor: None,
                cursor: cursor.clone().unwrap_or_default(),
                filter: filter.clone(),
                snapshot,
            })
            .await
            .map_err(rpc)?
            .into_inner();
        snapshot = false;
        let status = loop {
            match stream.message().await {
                Ok(Some(m)) => {
                    match m.kind {
                        Some(Kind::Event(e)) => {
                            resumes = 0;
                            writeln!(out, "{}", event_line(&e))?;
                            cursor = Some(e.cursor);
                        }
                        Some(Kind::Heartbeat(h)) => {
                            if heartbeats {
                                writeln!(out, "#{} heartbeat", h.cursor)?;
                            }
                            cursor = Some(h.cursor);
                        }
                        Some(Kind::Snapshot(item)) => {
                            writeln!(out, "snapshot {}", snapshot_line(&item))?;
                        }
                        Some(Kind::SnapshotComplete(done)) => {
                            writeln!(out, "#{} snapshot complete", done.cursor)?;
                            cursor = Some(done.cursor);
                        }
                        None => {}
                    }
                    out.flush()?;
                }
                Ok(None) => bail!("the server ended the event stream"),
                Err(s) => break s,
            }
        };
        use tonic_types::StatusExt;
        let resume = status
            .get_details_error_info()
            .and_then(|i| i.metadata.get("resume_cursor").cloned())
            // A dropped connection names no cursor: resume after the last one seen.
            .or(cursor.filter(|_| status.code() == tonic::Code::Unavailable));
        match resume {
            Some(r) if resumes < MAX_RESUMES => {
                resumes += 1;
                eprintln!(
                    "stream cut ({}); resuming after #{r}",
                    escape(status.message())
                );
                cursor = Some(r);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(resumes))).await;
            }
            _ => return Err(rpc(status)),
        }
    }
}

/// One line for a snapshot item, [`escape`]d.
fn snapshot_line(item: &pb::SnapshotItem) -> String {
    escape(&snapshot_line_raw(item)).into_owned()
}

fn snapshot_line_raw(item: &pb::SnapshotItem) -> String {
    use pb::snapshot_item::Resource as R;
    match &item.resource {
        Some(R::Site(s)) => format!("site {} link_up={}", s.name, s.link_up),
        Some(R::Team(t)) => format!("team {} {}", t.name, t.display_name),
        Some(R::Talkgroup(t)) => format!("talkgroup {} {}", t.name, t.display_name),
        Some(R::Radio(r)) => format!(
            "radio {} {} registered={}",
            r.name, r.display_name, r.registered
        ),
        Some(R::Call(k)) => format!("call {} {}", k.name, k.target),
        Some(R::Alarm(a)) => format!(
            "alarm {} {} {}",
            a.name,
            a.radio,
            enum_name(a.state, |s: pb::alarm::State| s.as_str_name())
        ),
        Some(R::Operation(o)) => format!("operation {}", describe_raw(o)),
        Some(R::Message(m)) => format!("message {} {} {}", m.name, m.source, message_body(m)),
        None => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stunned_radio_is_one_plain_sentence() {
        let id: crate::dispatch::RadioId = "80020200".parse().unwrap();
        let s = tonic::Status::from(crate::dispatch::DispatchError::RadioStunned(id));
        assert_eq!(
            rpc(s).to_string(),
            "radio 80020200 is stunned and cannot answer; revive it first"
        );
        let s = tonic::Status::from(crate::dispatch::DispatchError::RadioKilled(id));
        // Other errors keep their code in front.
        assert_ne!(rpc(s).to_string(), "radio 80020200 has been killed");
    }

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
        // An event with a text from a radio (newlines are legitimate there), an escape
        // sequence and a C1 CSI in its fields.
        let e = pb::Event {
            cursor: "0123456789abcdef0123456789abcdef.7".into(),
            r#type: "message_received".into(),
            payload: Some(pb::event::Payload::MessageReceived(pb::MessageReceived {
                message: "messages/7".into(),
                site: "s\u{1b}[2J".into(),
                body: Some(pb::message_received::Body::Text(
                    "line one\nline two\u{9b}2J".into(),
                )),
                ..Default::default()
            })),
            ..Default::default()
        };
        let line = event_line(&e);
        assert_eq!(
            line,
            "#0123456789abcdef0123456789abcdef.7 message_received message=messages/7 \
             site=s\\u{1b}[2J text=\"line one\\nline two\\u{9b}2J\""
        );
        assert!(!line.chars().any(char::is_control));
        assert_eq!(escape_json("{\"a\":\"\u{202e}\"}"), "{\"a\":\"\\u202e\"}");
    }

    #[test]
    fn message_events_print_their_fields() {
        let sent = pb::Event {
            cursor: "j.8".into(),
            r#type: "message_sent".into(),
            payload: Some(pb::event::Payload::MessageSent(pb::MessageSent {
                message: Some(pb::Message {
                    name: "messages/8".into(),
                    target: "talkgroups/80020910".into(),
                    site: "sites/s1".into(),
                    operator: "值班员".into(),
                    operation: "operations/3".into(),
                    body: Some(pb::message::Body::Status(12)),
                    ..Default::default()
                }),
            })),
            ..Default::default()
        };
        assert_eq!(
            event_line(&sent),
            "#j.8 message_sent message=messages/8 target=talkgroups/80020910 site=sites/s1 \
             operator=值班员 operation=operations/3 status=12"
        );
        let handled = pb::Event {
            cursor: "j.9".into(),
            r#type: "message_handled".into(),
            payload: Some(pb::event::Payload::MessageHandled(pb::MessageMarked {
                message: "messages/8".into(),
                operator: "值班员".into(),
            })),
            ..Default::default()
        };
        assert_eq!(
            event_line(&handled),
            "#j.9 message_handled message=messages/8 operator=值班员"
        );
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
    fn names_as_typed() {
        assert_eq!(radio_name("80020200"), "radios/80020200");
        assert_eq!(radio_name("0x10ABCD"), "radios/0x10ABCD");
        assert_eq!(radio_name("radios/#5"), "radios/#5");
        assert_eq!(recipient_name(" #46001 "), "#46001");
        assert_eq!(recipient_name("talkgroups/0x000001"), "talkgroups/0x000001");
        assert_eq!(message_name("7"), "messages/7");
        assert_eq!(message_name("messages/7"), "messages/7");
    }
}
