//! `trunkgate ctl callout`: start a call-out and follow it in a live per-member table
//! (name, team, site, state, reply, time) until it ends; show, list, cancel and export one
//! (`--format csv|json`) for the after-action review.
//!
//! The table is redrawn from `GetCallout` (once a second, and only when something changed):
//! a redraw needs nothing but the viewer's right, and a reconnect loses nothing. At a
//! terminal the table replaces the previous one; otherwise each change prints a new table.
//! Names and replies come from the air and the network and are printed through [`escape`].

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::{
    Clock, CtlError, Names, Outcome, dash, escape, exit, numbered, short, status_error, table,
};
use crate::api::pb;

/// `ctl callout` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CalloutCommand {
    /// Start a call-out and show each member's progress until it ends.
    Start(StartArgs),
    /// Show one call-out's members.
    Show {
        /// Call-out: its number or callouts/N.
        callout: String,
    },
    /// List call-outs, newest first.
    List {
        /// Most rows to print (the rest are counted).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Cancel a running call-out.
    Cancel {
        /// Call-out: its number or callouts/N.
        callout: String,
    },
    /// Print a call-out's per-member results for the after-action review.
    Export {
        /// Call-out: its number or callouts/N.
        callout: String,
        /// `csv` (one row per member) or `json` (the Callout resource, protobuf JSON mapping).
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
}

/// `ctl callout start` arguments.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Team to call (configured name or display name); repeat for more.
    #[arg(long = "team")]
    pub teams: Vec<String>,
    /// Radio to call alone; repeat for more.
    #[arg(long = "radio")]
    pub radios: Vec<String>,
    /// Only the teams' leaders.
    #[arg(long)]
    pub leaders: bool,
    /// The text to send.
    #[arg(long)]
    pub text: Option<String>,
    /// A status number to send; with --text too, the status goes first (it sets off the
    /// radio's alert fast) and the text follows.
    #[arg(long)]
    pub status: Option<u32>,
    /// Status numbers that count as an answer, comma-separated (e.g. 1,2).
    #[arg(long, value_delimiter = ',')]
    pub answer: Vec<u32>,
    /// Status numbers that decline, comma-separated (e.g. 9).
    #[arg(long, value_delimiter = ',')]
    pub decline: Vec<u32>,
    /// Any text from a member counts as an answer.
    #[arg(long)]
    pub any_text: bool,
    /// Seconds until it expires.
    #[arg(long, default_value_t = 600)]
    pub deadline: u64,
    /// Answers needed (default: every member called).
    #[arg(long, default_value_t = 0)]
    pub min_answers: u32,
    /// Each team needs an answer from its leader.
    #[arg(long)]
    pub require_leader: bool,
    /// Backup team to call next (default: the teams' configured backups); repeat for more.
    #[arg(long = "backup")]
    pub backups: Vec<String>,
    /// Call the backups after this many seconds if not satisfied.
    #[arg(long)]
    pub backup_after: Option<u64>,
    /// Seconds after a group alert before a member gets its own transmission.
    #[arg(long, default_value_t = 0)]
    pub followup_delay: u64,
    /// A title for the call-out.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Idempotency key: repeating the command with it returns the same call-out.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Print the call-out and return at once instead of following it.
    #[arg(long)]
    pub no_wait: bool,
}

fn secs(s: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(s).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

fn role_words(v: i32) -> &'static str {
    match pb::team::Role::try_from(v) {
        Ok(pb::team::Role::Leader) => "leader",
        _ => "member",
    }
}

fn state_words(v: i32) -> String {
    pb::callout_member::State::try_from(v)
        .map(|s| s.as_str_name().to_ascii_lowercase().replace('_', " "))
        .unwrap_or_else(|_| "unknown".into())
}

fn callout_state_words(v: i32) -> String {
    pb::callout::State::try_from(v)
        .map(|s| s.as_str_name().to_ascii_lowercase())
        .unwrap_or_else(|_| "unknown".into())
}

fn reply_words(m: &pb::CalloutMember) -> String {
    match &m.reply {
        Some(pb::callout_member::Reply::ReplyStatus(s)) => format!("status {s}"),
        Some(pb::callout_member::Reply::ReplyText(t)) => t.clone(),
        None => String::new(),
    }
}

fn reason_words(m: &pb::CalloutMember) -> String {
    pb::callout_member::Reason::try_from(m.reason)
        .ok()
        .filter(|r| *r != pb::callout_member::Reason::Unspecified)
        .map(|r| {
            format!(
                " ({})",
                r.as_str_name().to_ascii_lowercase().replace('_', " ")
            )
        })
        .unwrap_or_default()
}

/// The latest time something happened to the member.
fn member_time(m: &pb::CalloutMember) -> Option<&prost_types::Timestamp> {
    m.reply_time
        .as_ref()
        .or(m.deliver_time.as_ref())
        .or(m.alert_time.as_ref())
        .or(m.update_time.as_ref())
}

/// The per-member table and a one-line summary.
pub fn render(c: &pb::Callout, names: &Names, clock: &Clock) -> String {
    let rows: Vec<Vec<String>> = c
        .members
        .iter()
        .map(|m| {
            let who = if m.display_name.is_empty() {
                names.radio(&m.radio)
            } else {
                format!("{} ({})", m.display_name, short(&m.radio))
            };
            let team = if m.team.is_empty() {
                "-".to_string()
            } else {
                let t = names.team_name(&m.team);
                if m.backup { format!("{t} (backup)") } else { t }
            };
            vec![
                escape(&who).into_owned(),
                escape(&team).into_owned(),
                role_words(m.role).to_string(),
                if m.site.is_empty() {
                    "-".into()
                } else {
                    escape(&names.site(&m.site)).into_owned()
                },
                format!("{}{}", state_words(m.state), reason_words(m)),
                escape(&dash(&reply_words(m))).into_owned(),
                clock.time(member_time(m)),
            ]
        })
        .collect();
    let mut s = format!(
        "{} {}  {}  answered {}/{} declined {}  deadline {}\n",
        short(&c.name),
        escape(&c.title),
        callout_state_words(c.state).to_uppercase(),
        c.answered,
        c.needed_answers,
        c.declined,
        clock.time(c.deadline_time.as_ref()),
    );
    s.push_str(&table(
        &["MEMBER", "TEAM", "ROLE", "SITE", "STATE", "REPLY", "TIME"],
        &rows,
    ));
    s
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A leading
/// `=`, `+`, `-` or `@` gets a `'` so a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn rfc3339(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The call-out's members as CSV, one row each, times in RFC 3339 UTC.
pub fn csv(c: &pb::Callout) -> String {
    let mut s = String::from(
        "callout,radio,name,team,role,backup,site,state,reason,reply,alerted,delivered,replied,sends\n",
    );
    for m in &c.members {
        let reason = reason_words(m);
        let fields = [
            c.name.clone(),
            m.radio.clone(),
            m.display_name.clone(),
            m.team.clone(),
            role_words(m.role).to_string(),
            m.backup.to_string(),
            m.site.clone(),
            state_words(m.state),
            reason.trim().trim_matches(['(', ')']).to_string(),
            reply_words(m),
            rfc3339(m.alert_time.as_ref()),
            rfc3339(m.deliver_time.as_ref()),
            rfc3339(m.reply_time.as_ref()),
            m.sends.to_string(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    s
}

/// The Callout resource in the protobuf JSON mapping.
pub fn json(c: &pb::Callout) -> Result<String, CtlError> {
    use prost::Message as _;
    let desc = prost_reflect::DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
        .ok()
        .and_then(|p| p.get_message_by_name("trunkgate.v1.Callout"))
        .ok_or_else(|| {
            CtlError::new(
                exit::FAILED,
                "the embedded protobuf descriptors are unusable",
            )
        })?;
    let dynamic = prost_reflect::DynamicMessage::decode(desc, c.encode_to_vec().as_slice())
        .map_err(|e| CtlError::new(exit::FAILED, format!("cannot re-read the call-out ({e})")))?;
    serde_json::to_string_pretty(&dynamic).map_err(|e| {
        CtlError::new(
            exit::FAILED,
            format!("cannot print the call-out as JSON ({e})"),
        )
    })
}

/// The exit status a finished call-out means.
fn outcome(c: &pb::Callout) -> Outcome {
    match pb::callout::State::try_from(c.state) {
        Ok(pb::callout::State::Satisfied) => Outcome::Done,
        Ok(pb::callout::State::Expired) => Outcome::TimedOut,
        _ => Outcome::Failed,
    }
}

fn finished(c: &pb::Callout) -> bool {
    matches!(
        pb::callout::State::try_from(c.state),
        Ok(pb::callout::State::Satisfied
            | pb::callout::State::Expired
            | pb::callout::State::Cancelled)
    )
}

/// Run `ctl callout ...`.
pub(super) async fn run(
    c: &super::Client,
    names: &Names,
    clock: &Clock,
    cmd: CalloutCommand,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    let mut client = pb::callout_service_client::CalloutServiceClient::new(c.channel.clone());
    let get = |name: String| pb::GetCalloutRequest { name };
    match cmd {
        CalloutCommand::Start(a) => {
            if a.text.is_none() && a.status.is_none() {
                return Err(CtlError::new(
                    exit::USAGE,
                    "give the message with --text, --status or both",
                ));
            }
            if a.answer.is_empty() && a.decline.is_empty() && !a.any_text {
                return Err(CtlError::new(
                    exit::USAGE,
                    "say which replies count with --answer (status numbers), --decline or \
                     --any-text; otherwise no reply could ever answer the call-out",
                ));
            }
            let teams = a
                .teams
                .iter()
                .map(|t| names.resolve_team(t))
                .collect::<Result<Vec<_>, _>>()?;
            let backup_teams = a
                .backups
                .iter()
                .map(|t| names.resolve_team(t))
                .collect::<Result<Vec<_>, _>>()?;
            let radios = a
                .radios
                .iter()
                .map(|r| names.resolve_radio(r))
                .collect::<Result<Vec<_>, _>>()?;
            let leader = pb::team::Role::Leader as i32;
            let req = pb::StartCalloutRequest {
                request_id: a.request_id.unwrap_or_default(),
                title: a.title,
                teams,
                roles: if a.leaders { vec![leader] } else { Vec::new() },
                radios,
                text: a.text,
                status: a.status,
                answer_statuses: a.answer,
                decline_statuses: a.decline,
                any_text_answers: a.any_text,
                deadline: Some(secs(a.deadline)),
                min_answers: a.min_answers,
                required_roles: if a.require_leader {
                    vec![leader]
                } else {
                    Vec::new()
                },
                backup_teams,
                backup_after: a.backup_after.map(secs),
                followup_delay: (a.followup_delay > 0).then(|| secs(a.followup_delay)),
            };
            let started = client
                .start_callout(c.request(req))
                .await
                .map_err(status_error)?
                .into_inner();
            if a.no_wait {
                out.write_all(render(&started, names, clock).as_bytes())?;
                return Ok(Outcome::Done);
            }
            follow(&mut client, started, names, clock, out).await
        }
        CalloutCommand::Show { callout } => {
            let name = numbered("callouts", "a call-out", &callout)?;
            let co = client
                .get_callout(get(name))
                .await
                .map_err(status_error)?
                .into_inner();
            out.write_all(render(&co, names, clock).as_bytes())?;
            Ok(Outcome::Done)
        }
        CalloutCommand::List { limit } => {
            let mut rows = Vec::new();
            let mut token = String::new();
            let mut more = 0usize;
            loop {
                let page = client
                    .list_callouts(pb::ListCalloutsRequest {
                        page_size: 1000,
                        page_token: token.clone(),
                    })
                    .await
                    .map_err(status_error)?
                    .into_inner();
                for co in page.callouts {
                    if rows.len() >= limit {
                        more += 1;
                        continue;
                    }
                    rows.push(vec![
                        short(&co.name).to_string(),
                        clock.time(co.create_time.as_ref()),
                        escape(&dash(&co.title)).into_owned(),
                        callout_state_words(co.state),
                        co.members.len().to_string(),
                        format!("{}/{}", co.answered, co.needed_answers),
                        co.declined.to_string(),
                    ]);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            out.write_all(
                super::table_with_more(
                    &[
                        "CALLOUT", "STARTED", "TITLE", "STATE", "MEMBERS", "ANSWERED", "DECLINED",
                    ],
                    &rows,
                    more,
                    "call-outs",
                )
                .as_bytes(),
            )?;
            Ok(Outcome::Done)
        }
        CalloutCommand::Cancel { callout } => {
            let name = numbered("callouts", "a call-out", &callout)?;
            let co = client
                .cancel_callout(c.request(pb::CancelCalloutRequest { name }))
                .await
                .map_err(status_error)?
                .into_inner();
            out.write_all(render(&co, names, clock).as_bytes())?;
            Ok(Outcome::Done)
        }
        CalloutCommand::Export { callout, format } => {
            let name = numbered("callouts", "a call-out", &callout)?;
            let co = client
                .get_callout(get(name))
                .await
                .map_err(status_error)?
                .into_inner();
            let text = if format == "json" {
                let mut j = json(&co)?;
                j.push('\n');
                j
            } else {
                csv(&co)
            };
            out.write_all(text.as_bytes())?;
            Ok(Outcome::Done)
        }
    }
}

/// Redraw the table whenever the call-out changes, until it finishes.
async fn follow(
    client: &mut pb::callout_service_client::CalloutServiceClient<super::AuthChannel>,
    mut co: pb::Callout,
    names: &Names,
    clock: &Clock,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CtlError> {
    let terminal = std::io::stdout().is_terminal();
    let mut shown = String::new();
    let mut last_ok = Instant::now();
    loop {
        let text = render(&co, names, clock);
        if text != shown {
            if terminal {
                // Clear the screen and home the cursor (ECMA-48 ED 2, CUP).
                out.write_all(b"\x1b[2J\x1b[H")?;
            } else if !shown.is_empty() {
                out.write_all(b"\n")?;
            }
            out.write_all(text.as_bytes())?;
            out.flush()?;
            shown = text;
        }
        if finished(&co) {
            return Ok(outcome(&co));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        match client
            .get_callout(pb::GetCalloutRequest {
                name: co.name.clone(),
            })
            .await
        {
            Ok(r) => {
                co = r.into_inner();
                last_ok = Instant::now();
            }
            // The gateway may be restarting: keep trying for a while, the call-out goes on.
            Err(s) if s.code() == tonic::Code::Unavailable && last_ok.elapsed().as_secs() < 60 => {}
            Err(s) => return Err(status_error(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, state: pb::callout_member::State) -> pb::CalloutMember {
        pb::CalloutMember {
            radio: "radios/57120201".into(),
            display_name: name.into(),
            team: "teams/qingshan".into(),
            role: pb::team::Role::Leader as i32,
            site: "sites/qingshan".into(),
            state: state as i32,
            reply: Some(pb::callout_member::Reply::ReplyText("收到,马上到".into())),
            sends: 1,
            ..Default::default()
        }
    }

    #[test]
    fn csv_quotes_commas_and_defuses_formulas() {
        let mut m = member("=cmd", pb::callout_member::State::Answered);
        m.deliver_time = Some(prost_types::Timestamp {
            seconds: 1_780_000_000,
            nanos: 0,
        });
        let c = pb::Callout {
            name: "callouts/3".into(),
            members: vec![m],
            ..Default::default()
        };
        let text = csv(&c);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("callout,radio,name,"));
        assert_eq!(
            lines.next().unwrap(),
            "callouts/3,radios/57120201,'=cmd,teams/qingshan,leader,false,sites/qingshan,\
             answered,,\"收到,马上到\",,2026-05-28T20:26:40Z,,1"
        );
    }

    #[test]
    fn json_is_the_protobuf_mapping() {
        let c = pb::Callout {
            name: "callouts/3".into(),
            state: pb::callout::State::Satisfied as i32,
            members: vec![member("宋江", pb::callout_member::State::Answered)],
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&c).unwrap()).unwrap();
        assert_eq!(v["name"], "callouts/3");
        assert_eq!(v["state"], "SATISFIED");
        assert_eq!(v["members"][0]["state"], "ANSWERED");
        assert_eq!(v["members"][0]["replyText"], "收到,马上到");
    }

    #[test]
    fn the_table_names_members_and_escapes_replies() {
        let mut m = member("宋江", pb::callout_member::State::Delivered);
        m.reply = Some(pb::callout_member::Reply::ReplyText("a\x1b[2Jb".into()));
        let c = pb::Callout {
            name: "callouts/3".into(),
            title: "山洪".into(),
            state: pb::callout::State::Running as i32,
            members: vec![m],
            needed_answers: 1,
            ..Default::default()
        };
        let clock = Clock::new(Some("Asia/Shanghai")).unwrap();
        let s = render(&c, &Names::default(), &clock);
        assert!(s.starts_with("3 山洪  RUNNING  answered 0/1"), "{s}");
        assert!(s.contains("宋江 (57120201)"));
        assert!(s.contains("delivered"));
        assert!(
            !s.contains('\x1b'),
            "escape sequences never reach the terminal"
        );
    }
}
