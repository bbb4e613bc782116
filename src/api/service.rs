//! The tonic services: each holds only a handle to the [`Backend`] and the API settings
//! (docs/design.md layout: "service.rs (tonic impl, holds only a handle)"). Reads go through
//! [`Backend::read`], commands through [`Backend::command`]; nothing here keeps state of its
//! own beyond the watcher count.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tonic::{Request, Response, Status};

use super::ApiConfig;
use super::backend::{Backend, HistoryQuery, WatchStart};
use super::convert::{self, decode_token, encode_token, page_size, parse_optional, token_u64};
use super::list;
use super::pb;
use super::status::{invalid_argument, not_found, status};
use crate::dispatch::{
    self, Command, Direction, EventKind, MessageFilter, MessageMark, OperationId, OtaCommand,
    PositionReport, RadioId, Reply, Timestamp,
};

/// Request metadata key carrying a display note beside the authenticated identity (a
/// person's name at a shared console), ASCII. The operator recorded is `identity (note)`, at
/// most 128 bytes together (the core's limit); the identity alone decides what is allowed.
pub const OPERATOR_METADATA: &str = "trunkgate-operator";
/// The same as binary metadata carrying UTF-8 (for Chinese names); preferred when both are
/// present.
pub const OPERATOR_METADATA_BIN: &str = "trunkgate-operator-bin";

/// The API state shared by every service and stream.
pub(crate) struct Shared<B> {
    pub(crate) backend: Arc<B>,
    pub(crate) config: ApiConfig,
    /// Flips to true when the server drains; streams end with UNAVAILABLE.
    pub(crate) draining: watch::Receiver<bool>,
    /// Bounds concurrent WatchEvents streams (`ApiConfig::max_watchers`).
    pub(crate) watchers: Arc<Semaphore>,
}

/// All trunkgate.v1 services over one backend; cheap to clone.
pub struct Api<B> {
    pub(crate) shared: Arc<Shared<B>>,
}

impl<B> Clone for Api<B> {
    fn clone(&self) -> Self {
        Api {
            shared: self.shared.clone(),
        }
    }
}

/// The operator recorded with a command: the authenticated identity the access layer put in
/// the request extensions, nothing else. No identity (the layer was bypassed) is
/// UNAUTHENTICATED. The `trunkgate-operator` metadata (`ctl --operator`) is at most a note in
/// the debug log: a non-UTF-8 binary note is ignored; one longer than
/// [`convert::MAX_KEY_LEN`] bytes or with control characters is INVALID_ARGUMENT naming
/// `operator`.
pub(crate) fn operator<T>(req: &Request<T>) -> Result<Option<String>, Status> {
    let Some(identity) = req.extensions().get::<super::access::Identity>() else {
        return Err(Status::unauthenticated("no authenticated identity"));
    };
    // The note is checked (a malformed one is refused like any bad field) but not recorded:
    // the record names the authenticated identity alone, so no client can pass itself off as
    // someone else, nor as a second person approving its own kill.
    if let Some(note) = operator_note(req)? {
        tracing::debug!(identity = %identity.name, note = %note, "operator note (not recorded)");
    }
    Ok(Some(identity.name.clone()))
}

/// The display note from request metadata (see [`operator`]).
fn operator_note<T>(req: &Request<T>) -> Result<Option<String>, Status> {
    let md = req.metadata();
    let name = md
        .get_bin(OPERATOR_METADATA_BIN)
        .and_then(|v| v.to_bytes().ok())
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .or_else(|| {
            md.get(OPERATOR_METADATA)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty());
    if let Some(name) = &name {
        if name.len() > convert::MAX_KEY_LEN {
            return Err(invalid_argument(
                "operator",
                format!("longer than {} bytes", convert::MAX_KEY_LEN),
            ));
        }
        convert::plain("operator", name)?;
    }
    Ok(name)
}

/// Who makes a request and from where, with the reason given: what the core records with
/// the command and in its audit entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// The operator ([`operator`]).
    pub(crate) operator: Option<String>,
    /// The client's address (`Request::remote_addr`).
    pub(crate) client: Option<String>,
    /// The reason given, if the request has one.
    pub(crate) reason: Option<String>,
}

/// The caller of `req`: its operator and its address.
pub(crate) fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    Ok(Caller {
        operator: operator(req)?,
        client: req.remote_addr().map(|a| a.to_string()),
        reason: None,
    })
}

impl<B: Backend> Api<B> {
    /// Services over `backend`.
    pub(crate) fn new(backend: Arc<B>, config: ApiConfig, draining: watch::Receiver<bool>) -> Self {
        let watchers = Arc::new(Semaphore::new(config.max_watchers));
        Api {
            shared: Arc::new(Shared {
                backend,
                config,
                draining,
                watchers,
            }),
        }
    }

    fn size(&self, requested: i32) -> Result<usize, Status> {
        let c = &self.shared.config;
        page_size(requested, c.default_page_size, c.max_page_size)
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&dispatch::Core, crate::journal::Cursor) -> R + Send + 'static,
    ) -> Result<R, Status> {
        Ok(self.shared.backend.read(f).await?)
    }

    pub(crate) async fn run(
        &self,
        request_id: String,
        caller: Caller,
        command: Command,
    ) -> Result<Reply, Status> {
        let request = dispatch::Request {
            request_id: convert::request_id(request_id)?,
            operator: caller.operator,
            reason: caller.reason,
            client: caller.client,
            command,
        };
        Ok(self.shared.backend.command(request).await??)
    }

    async fn operation(
        &self,
        request_id: String,
        caller: Caller,
        command: Command,
    ) -> Result<Response<pb::Operation>, Status> {
        match self.run(request_id, caller, command).await? {
            Reply::Operation(op) => Ok(Response::new(self.named(convert::operation(&op)).await?)),
            Reply::Alarm { .. } | Reply::Message(_) | Reply::Callout(_) | Reply::Team(_) => Err(
                Status::internal("the core answered a command with another resource"),
            ),
        }
    }

    async fn radio_verb(
        &self,
        req: Request<pb::RadioCommandRequest>,
        make: fn(RadioId) -> OtaCommand,
    ) -> Result<Response<pb::Operation>, Status> {
        let mut op = caller(&req)?;
        let req = req.into_inner();
        let command = convert::radio_command(&req, make)?;
        // Required for stun and kill (the core says so, naming `reason`); kept for the rest.
        op.reason = Some(req.reason.clone());
        self.operation(req.request_id, op, command).await
    }

    /// `items` with the display names of what they name filled in (one read of the core).
    async fn name_all<T: convert::Named>(&self, items: &mut [T]) -> Result<(), Status> {
        let refs: std::collections::BTreeSet<String> = items
            .iter()
            .flat_map(|i| i.refs())
            .filter(|n| !n.is_empty())
            .collect();
        if refs.is_empty() {
            return Ok(());
        }
        let names: std::collections::HashMap<String, String> = self
            .read(move |core, _| {
                refs.into_iter()
                    .filter_map(|n| convert::display_name(core, &n).map(|d| (n, d)))
                    .collect()
            })
            .await?;
        for item in items {
            for n in item.refs() {
                if let Some(d) = names.get(&n) {
                    item.display_names_mut().insert(n, d.clone());
                }
            }
        }
        Ok(())
    }

    /// One resource with the display names of what it names.
    pub(crate) async fn named<T: convert::Named>(&self, mut item: T) -> Result<T, Status> {
        self.name_all(std::slice::from_mut(&mut item)).await?;
        Ok(item)
    }

    /// The `name` of a SendText / SendStatus: a resource name as it is, or an identity as
    /// typed, resolved against the radios and talkgroups known.
    async fn qualify(&self, name: String) -> Result<String, Status> {
        if name.is_empty() || name.contains('/') {
            return Ok(name);
        }
        self.read(move |core, _| convert::resolve_addressee(core, "name", &name))
            .await?
            .map(convert::addressee_name)
    }

    async fn mark(
        &self,
        req: Request<pb::MarkMessageRequest>,
        mark: MessageMark,
    ) -> Result<Response<pb::Message>, Status> {
        let op = caller(&req)?;
        let command = convert::mark_command(&req.into_inner().name, mark)?;
        match self.run(String::new(), op, command).await? {
            Reply::Message(m) => {
                let m = *m;
                self.read(move |core, _| convert::message_in(core, &m))
                    .await
                    .map(Response::new)
            }
            Reply::Operation(_) | Reply::Alarm { .. } | Reply::Callout(_) | Reply::Team(_) => Err(
                Status::internal("the core answered a message command with another resource"),
            ),
        }
    }

    async fn alarm_verb(
        &self,
        request_id: String,
        caller: Caller,
        command: Command,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        match self.run(request_id, caller, command).await? {
            Reply::Alarm { alarm, operation } => {
                let alarm = self.named(convert::alarm(&alarm)).await?;
                let operation = match operation {
                    Some(o) => Some(self.named(convert::operation(&o)).await?),
                    None => None,
                };
                Ok(Response::new(pb::AlarmResponse {
                    alarm: Some(alarm),
                    operation,
                }))
            }
            Reply::Operation(_) | Reply::Message(_) | Reply::Callout(_) | Reply::Team(_) => Err(
                Status::internal("the core answered an alarm command with another resource"),
            ),
        }
    }
}

fn next_token<K: ToString>(method: &str, filter: &str, next: Option<K>) -> String {
    next.map(|k| encode_token(method, filter, &k.to_string()))
        .unwrap_or_default()
}

#[tonic::async_trait]
impl<B: Backend> pb::radio_service_server::RadioService for Api<B> {
    async fn list_radios(
        &self,
        req: Request<pb::ListRadiosRequest>,
    ) -> Result<Response<pb::ListRadiosResponse>, Status> {
        list::radios(&self.shared, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_radio(
        &self,
        req: Request<pb::GetRadioRequest>,
    ) -> Result<Response<pb::Radio>, Status> {
        let name = req.into_inner().name;
        let id = convert::parse_radio("name", &name)?;
        self.read(move |core, _| core.radio(id).map(|r| convert::radio(&core.radio_view(r))))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("RADIO_NOT_FOUND", &convert::radio_name(id)))
    }

    async fn list_positions(
        &self,
        req: Request<pb::ListPositionsRequest>,
    ) -> Result<Response<pb::ListPositionsResponse>, Status> {
        let r = req.into_inner();
        let size = self.size(r.page_size)?;
        let radio = parse_optional("radio", &r.radio, convert::parse_radio)?;
        let from = convert::request_time("start_time", r.start_time)?.unwrap_or(Timestamp(0));
        let until =
            convert::request_time("end_time", r.end_time)?.unwrap_or(Timestamp(u64::MAX >> 1));
        if until < from {
            return Err(invalid_argument("end_time", "before start_time"));
        }
        let fkey = format!("{}\n{}\n{}", r.radio, from.0, until.0);
        let before = match decode_token(&r.page_token, "positions", &fkey)? {
            None => None,
            Some(k) => Some(
                k.split_once('.')
                    .and_then(|(at, seq)| Some((Timestamp(at.parse().ok()?), seq.parse().ok()?)))
                    .ok_or_else(|| invalid_argument("page_token", "bad key"))?,
            ),
        };
        let (positions, next) =
            positions_page(&*self.shared.backend, radio, (from, until), before, size).await?;
        Ok(Response::new(pb::ListPositionsResponse {
            positions,
            next_page_token: next_token(
                "positions",
                &fkey,
                next.map(|(at, seq)| format!("{}.{seq}", at.0)),
            ),
        }))
    }
}

/// Journal records one ListPositions request reads at most (in batches of
/// [`POSITION_BATCH`]): a page whose radio reported rarely in a busy window comes back short,
/// with a token to go on, rather than scanning the whole journal in one request.
const POSITION_SCAN_LIMIT: usize = 20_000;
const POSITION_BATCH: usize = 1_000;

/// One page of position reports from the journal, newest first: the positions and the
/// `(time, seq)` to continue before, if the scan did not reach the start of the window.
async fn positions_page<B: Backend>(
    backend: &B,
    radio: Option<RadioId>,
    (from, until): (Timestamp, Timestamp),
    mut before: Option<(Timestamp, u64)>,
    size: usize,
) -> Result<(Vec<pb::Position>, Option<(Timestamp, u64)>), Status> {
    let mut out = Vec::new();
    let mut scanned = 0;
    loop {
        let batch = backend
            .history(HistoryQuery {
                kind: "position_reported",
                from,
                until,
                before,
                limit: POSITION_BATCH,
            })
            .await?;
        let exhausted = batch.len() < POSITION_BATCH;
        for e in &batch {
            scanned += 1;
            before = Some((e.event.at, e.seq));
            if let EventKind::PositionReported {
                radio: who,
                site,
                position,
            } = &e.event.kind
                && radio.is_none_or(|r| r == *who)
            {
                let report = PositionReport {
                    at: e.event.at,
                    site: site.clone(),
                    position: *position,
                };
                out.push(convert::position_report(*who, &report));
                if out.len() == size {
                    return Ok((out, before));
                }
            }
        }
        if exhausted {
            return Ok((out, None));
        }
        if scanned >= POSITION_SCAN_LIMIT {
            return Ok((out, before));
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::talkgroup_service_server::TalkgroupService for Api<B> {
    async fn list_talkgroups(
        &self,
        req: Request<pb::ListTalkgroupsRequest>,
    ) -> Result<Response<pb::ListTalkgroupsResponse>, Status> {
        let r = req.into_inner();
        let size = self.size(r.page_size)?;
        let after = token_u64(decode_token(&r.page_token, "talkgroups", "")?)?
            .map(|k| {
                u32::try_from(k)
                    .ok()
                    .and_then(|k| dispatch::TalkgroupId::new(k).ok())
                    .ok_or(())
                    .map_err(|_| invalid_argument("page_token", "bad key"))
            })
            .transpose()?;
        let page = self
            .read(move |core, _| core.talkgroups(after, size))
            .await?;
        Ok(Response::new(pb::ListTalkgroupsResponse {
            talkgroups: page.items.iter().map(convert::talkgroup).collect(),
            next_page_token: next_token("talkgroups", "", page.next_after.map(|t| t.air())),
        }))
    }

    async fn get_talkgroup(
        &self,
        req: Request<pb::GetTalkgroupRequest>,
    ) -> Result<Response<pb::Talkgroup>, Status> {
        let name = req.into_inner().name;
        let id = convert::parse_talkgroup("name", &name)?;
        self.read(move |core, _| core.talkgroup(id).map(convert::talkgroup))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("TALKGROUP_NOT_FOUND", &convert::talkgroup_name(id)))
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::directory_service_server::DirectoryService for Api<B> {
    async fn list_sites(
        &self,
        req: Request<pb::ListSitesRequest>,
    ) -> Result<Response<pb::ListSitesResponse>, Status> {
        let r = req.into_inner();
        let size = self.size(r.page_size)?;
        let after = decode_token(&r.page_token, "sites", "")?;
        let (sites, more) = self
            .read(move |core, _| {
                let mut it = core
                    .sites()
                    .filter(|s| after.as_deref().is_none_or(|a| s.id.as_str() > a));
                let sites: Vec<_> = it.by_ref().take(size).map(convert::site).collect();
                (sites, it.next().is_some())
            })
            .await?;
        let mut sites = sites;
        let links = self.shared.backend.links();
        for s in &mut sites {
            let name = s.name.trim_start_matches("sites/");
            s.links = links
                .iter()
                .filter(|l| l.site == name)
                .map(convert::link_status)
                .collect();
        }
        let next = if more {
            sites
                .last()
                .map(|s| s.name.trim_start_matches("sites/").to_string())
        } else {
            None
        };
        Ok(Response::new(pb::ListSitesResponse {
            next_page_token: next_token("sites", "", next),
            sites,
        }))
    }

    async fn list_teams(
        &self,
        req: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        let r = req.into_inner();
        let size = self.size(r.page_size)?;
        let after = token_u64(decode_token(&r.page_token, "teams", "")?)?;
        let (teams, more) = self
            .read(move |core, _| {
                let mut it = core
                    .teams()
                    .iter()
                    .filter(|t| after.is_none_or(|a| u64::from(t.id.0) > a));
                let teams: Vec<_> = it.by_ref().take(size).map(convert::team).collect();
                (teams, it.next().is_some())
            })
            .await?;
        let next = if more {
            teams
                .last()
                .map(|t| t.name.trim_start_matches("teams/").to_string())
        } else {
            None
        };
        Ok(Response::new(pb::ListTeamsResponse {
            next_page_token: next_token("teams", "", next),
            teams,
        }))
    }

    async fn get_site(
        &self,
        req: Request<pb::GetSiteRequest>,
    ) -> Result<Response<pb::Site>, Status> {
        let name = req.into_inner().name;
        let id = convert::parse_site("name", &name)?;
        let key = id.clone();
        self.read(move |core, _| core.site(&key).map(convert::site))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("SITE_NOT_FOUND", &convert::site_name(&id)))
    }

    async fn get_team(
        &self,
        req: Request<pb::GetTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        let name = req.into_inner().name;
        let key = convert::parse_team("name", &name)?;
        let k = key.clone();
        self.read(move |core, _| core.team_by_key(&k).map(convert::team))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("TEAM_NOT_FOUND", &convert::team_name(&key)))
    }

    async fn resolve_identity(
        &self,
        req: Request<pb::ResolveIdentityRequest>,
    ) -> Result<Response<pb::ResolveIdentityResponse>, Status> {
        let typed = req.into_inner().identity;
        self.read(move |core, _| {
            let to = convert::resolve_addressee(core, "identity", &typed)?;
            let display_name = match to {
                dispatch::Addressee::Radio(r) => core.radio(r).and_then(|r| r.name.as_deref()),
                dispatch::Addressee::Talkgroup(t) => {
                    core.talkgroup(t).and_then(|t| t.name.as_deref())
                }
            };
            Ok(pb::ResolveIdentityResponse {
                name: convert::addressee_name(to),
                display_name: display_name.unwrap_or_default().to_string(),
            })
        })
        .await?
        .map(Response::new)
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::call_service_server::CallService for Api<B> {
    async fn list_calls(
        &self,
        req: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        list::calls(&self.shared, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_call(
        &self,
        req: Request<pb::GetCallRequest>,
    ) -> Result<Response<pb::Call>, Status> {
        let id = convert::parse_call("name", &req.into_inner().name)?;
        let call = self
            .read(move |core, _| core.call(id).map(convert::call))
            .await?
            .ok_or_else(|| not_found("CALL_NOT_FOUND", &convert::call_name(id)))?;
        Ok(Response::new(self.named(call).await?))
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::alarm_service_server::AlarmService for Api<B> {
    async fn list_alarms(
        &self,
        req: Request<pb::ListAlarmsRequest>,
    ) -> Result<Response<pb::ListAlarmsResponse>, Status> {
        list::alarms(&self.shared, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn acknowledge_alarm(
        &self,
        req: Request<pb::AcknowledgeAlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        let op = caller(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.alarm_verb(id, op, Command::try_from(r)?).await
    }

    async fn resolve_alarm(
        &self,
        req: Request<pb::ResolveAlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        let op = caller(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.alarm_verb(id, op, Command::try_from(r)?).await
    }

    async fn get_alarm(
        &self,
        req: Request<pb::GetAlarmRequest>,
    ) -> Result<Response<pb::Alarm>, Status> {
        let id = convert::parse_alarm("name", &req.into_inner().name)?;
        let alarm = self
            .read(move |core, _| core.alarm(id).map(convert::alarm))
            .await?
            .ok_or_else(|| not_found("ALARM_NOT_FOUND", &convert::alarm_name(id)))?;
        Ok(Response::new(self.named(alarm).await?))
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::command_service_server::CommandService for Api<B> {
    async fn check_radio(
        &self,
        req: Request<pb::RadioCommandRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.radio_verb(req, |radio| OtaCommand::RadioCheck { radio })
            .await
    }

    async fn alert_radio(
        &self,
        req: Request<pb::RadioCommandRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.radio_verb(req, |radio| OtaCommand::CallAlert { radio })
            .await
    }

    async fn stun_radio(
        &self,
        req: Request<pb::RadioCommandRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.radio_verb(req, |radio| OtaCommand::Stun { radio })
            .await
    }

    async fn revive_radio(
        &self,
        req: Request<pb::RadioCommandRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        self.radio_verb(req, |radio| OtaCommand::Revive { radio })
            .await
    }

    async fn kill_radio(
        &self,
        req: Request<pb::RadioCommandRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        // A kill is permanent: the core requires a reason and creates it awaiting a second
        // identity's approval; the reason is journaled with the operation and in the audit
        // trail, and logged here with who asked.
        let operator = operator(&req)?;
        let radio = req.get_ref().name.clone();
        let reason = req.get_ref().reason.trim().to_string();
        let reply = self
            .radio_verb(req, |radio| OtaCommand::Kill { radio })
            .await?;
        tracing::warn!(
            operator = operator.as_deref().unwrap_or("-"),
            radio = %radio,
            operation = %reply.get_ref().name,
            // Free text from a client: Debug-quoted, so control characters stay escaped.
            reason = ?reason,
            "kill requested; awaiting a second identity's approval"
        );
        Ok(reply)
    }

    async fn send_text(
        &self,
        req: Request<pb::SendTextRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = caller(&req)?;
        let mut r = req.into_inner();
        r.name = self.qualify(std::mem::take(&mut r.name)).await?;
        let id = r.request_id.clone();
        self.operation(id, op, Command::try_from(r)?).await
    }

    async fn send_status(
        &self,
        req: Request<pb::SendStatusRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = caller(&req)?;
        let mut r = req.into_inner();
        r.name = self.qualify(std::mem::take(&mut r.name)).await?;
        let id = r.request_id.clone();
        self.operation(id, op, Command::try_from(r)?).await
    }

    async fn request_location(
        &self,
        req: Request<pb::RequestLocationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = caller(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.operation(id, op, Command::try_from(r)?).await
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::operation_service_server::OperationService for Api<B> {
    async fn get_operation(
        &self,
        req: Request<pb::GetOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let id = convert::parse_operation("name", &req.into_inner().name)?;
        let op = self
            .read(move |core, _| core.operation(id).map(convert::operation))
            .await?
            .ok_or_else(|| not_found("OPERATION_NOT_FOUND", &convert::operation_name(id)))?;
        Ok(Response::new(self.named(op).await?))
    }

    async fn list_operations(
        &self,
        req: Request<pb::ListOperationsRequest>,
    ) -> Result<Response<pb::ListOperationsResponse>, Status> {
        list::operations(&self.shared, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn wait_operation(
        &self,
        req: Request<pb::WaitOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let r = req.into_inner();
        let id = convert::parse_operation("name", &r.name)?;
        let timeout = match r.timeout {
            None => self.shared.config.default_wait,
            Some(d) if !(0..1_000_000_000).contains(&d.nanos) => {
                return Err(invalid_argument("timeout.nanos", "must be 0-999999999"));
            }
            Some(d) if d.seconds < 0 => {
                return Err(invalid_argument("timeout", "must not be negative"));
            }
            // Nanos are below one second: no carry, no overflow.
            Some(d) => Duration::new(d.seconds as u64, d.nanos as u32),
        }
        .min(self.shared.config.max_wait);
        let op = wait_operation(&self.shared, id, timeout).await?;
        Ok(Response::new(self.named(op).await?))
    }

    async fn cancel_operation(
        &self,
        req: Request<pb::CancelOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = caller(&req)?;
        let command = Command::try_from(req.into_inner())?;
        let id = match &command {
            Command::CancelOperation { operation } => *operation,
            _ => return Err(Status::internal("cancel request built another command")),
        };
        self.run(String::new(), op, command).await?;
        let op = self
            .read(move |core, _| core.operation(id).map(convert::operation))
            .await?
            .ok_or_else(|| not_found("OPERATION_NOT_FOUND", &convert::operation_name(id)))?;
        Ok(Response::new(self.named(op).await?))
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::message_service_server::MessageService for Api<B> {
    async fn list_messages(
        &self,
        req: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let r = req.into_inner();
        let size = self.size(r.page_size)?;
        let team = parse_optional("team", &r.team, convert::parse_team)?;
        let direction = match pb::message::Direction::try_from(r.direction) {
            Ok(pb::message::Direction::Unspecified) => None,
            Ok(pb::message::Direction::Inbound) => Some(Direction::Inbound),
            Ok(pb::message::Direction::Outbound) => Some(Direction::Outbound),
            Err(_) => return Err(invalid_argument("direction", "unknown direction")),
        };
        let mut filter = MessageFilter {
            radio: parse_optional("radio", &r.radio, convert::parse_radio)?,
            talkgroup: parse_optional("talkgroup", &r.talkgroup, convert::parse_talkgroup)?,
            team: None,
            direction,
            handled: r.handled,
            since: convert::request_time("start_time", r.start_time)?,
            until: convert::request_time("end_time", r.end_time)?,
        };
        let fkey = format!(
            "{}\n{}\n{}\n{}\n{:?}\n{:?}\n{:?}",
            r.radio, r.talkgroup, r.team, r.direction, r.handled, filter.since, filter.until
        );
        let before =
            token_u64(decode_token(&r.page_token, "messages", &fkey)?)?.map(dispatch::MessageId);
        let (messages, next) = self
            .read(move |core, _| {
                if let Some(key) = &team {
                    filter.team = Some(convert::team_id(core, "team", key)?);
                }
                let page = core.messages_newest_first(&filter, before, size);
                let messages: Vec<_> = page
                    .items
                    .iter()
                    .map(|m| convert::message_in(core, m))
                    .collect();
                Ok::<_, Status>((messages, page.next_after))
            })
            .await??;
        Ok(Response::new(pb::ListMessagesResponse {
            messages,
            next_page_token: next_token("messages", &fkey, next.map(|m| m.0)),
        }))
    }

    async fn get_message(
        &self,
        req: Request<pb::GetMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let id = convert::parse_message("name", &req.into_inner().name)?;
        self.read(move |core, _| core.message(id).map(|m| convert::message_in(core, m)))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("MESSAGE_NOT_FOUND", &convert::message_name(id)))
    }

    async fn mark_message_read(
        &self,
        req: Request<pb::MarkMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        self.mark(req, MessageMark::Read).await
    }

    async fn mark_message_handled(
        &self,
        req: Request<pb::MarkMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        self.mark(req, MessageMark::Handled).await
    }
}

/// Wait until operation `id` is done or `timeout` passes: read it, and while it is not done
/// wait for an event about it after the cursor of that read (so no change is missed), then
/// read again.
async fn wait_operation<B: Backend>(
    shared: &Shared<B>,
    id: OperationId,
    timeout: Duration,
) -> Result<pb::Operation, Status> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (op, cursor) = shared
            .backend
            .read(move |core, c| (core.operation(id).cloned(), c))
            .await?;
        let op =
            op.ok_or_else(|| not_found("OPERATION_NOT_FOUND", &convert::operation_name(id)))?;
        if op.state.is_final() || tokio::time::Instant::now() >= deadline {
            return Ok(convert::operation(&op));
        }
        let mut draining = shared.draining.clone();
        if *draining.borrow() {
            return Ok(convert::operation(&op));
        }
        match shared.backend.watch(WatchStart::After(cursor)) {
            Ok(mut events) => loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = drained(&mut draining) => break,
                    item = events.next() => match item {
                        Some(Ok(e)) if convert::event_operation(&e.event.kind) == Some(id) => break,
                        Some(Ok(_)) => {}
                        // Lagged or ended: read again after a short pause.
                        Some(Err(_)) | None => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            break;
                        }
                    },
                }
            },
            Err(_) => {
                let pause = deadline
                    .saturating_duration_since(tokio::time::Instant::now())
                    .min(Duration::from_millis(100));
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Resolves once the server drains (the flag turns true or its sender is gone).
pub(crate) async fn drained(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|d| *d).await;
}

/// UNAVAILABLE for a stream ended by the server draining, naming the cursor to resume from
/// (none for a watch that had no position yet: it watches again as it did).
pub(crate) fn draining(resume_after: Option<crate::journal::Cursor>) -> Status {
    match resume_after {
        Some(c) => status(
            tonic::Code::Unavailable,
            "SHUTTING_DOWN",
            format!("the server is shutting down; resume after cursor {c}"),
            &[("resume_cursor", c.to_string())],
        ),
        None => status(
            tonic::Code::Unavailable,
            "SHUTTING_DOWN",
            "the server is shutting down; watch again",
            &[],
        ),
    }
}
