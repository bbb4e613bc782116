//! The tonic services: each holds only a handle to the [`Backend`] and the API settings
//! (STYLE.md layout: "service.rs (tonic impl, holds only a handle)"). Reads go through
//! [`Backend::read`], commands through [`Backend::command`]; nothing here keeps state of its
//! own beyond the watcher count.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tonic::{Request, Response, Status};

use super::ApiConfig;
use super::backend::{Backend, WatchStart};
use super::convert::{self, decode_token, encode_token, page_size, token_u64};
use super::list;
use super::pb;
use super::status::{invalid_argument, not_found, status};
use crate::dispatch::{self, Command, OperationId, OtaCommand, RadioId, Reply};

/// Request metadata key naming the operator (audit), ASCII, at most 128 bytes (the core's
/// limit).
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

/// The operator from request metadata. A non-UTF-8 binary value is ignored (as if absent)
/// rather than failing the command; a name longer than [`convert::MAX_KEY_LEN`] bytes or
/// with control characters is INVALID_ARGUMENT naming `operator`.
fn operator<T>(req: &Request<T>) -> Result<Option<String>, Status> {
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

    async fn run(
        &self,
        request_id: String,
        operator: Option<String>,
        command: Command,
    ) -> Result<Reply, Status> {
        let request = dispatch::Request {
            request_id: convert::request_id(request_id)?,
            operator,
            command,
        };
        Ok(self.shared.backend.command(request).await??)
    }

    async fn operation(
        &self,
        request_id: String,
        operator: Option<String>,
        command: Command,
    ) -> Result<Response<pb::Operation>, Status> {
        match self.run(request_id, operator, command).await? {
            Reply::Operation(op) => Ok(Response::new(convert::operation(&op))),
            Reply::Alarm { .. } => Err(Status::internal(
                "the core answered a command with an alarm",
            )),
        }
    }

    async fn radio_verb(
        &self,
        req: Request<pb::RadioCommandRequest>,
        make: fn(RadioId) -> OtaCommand,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = operator(&req)?;
        let req = req.into_inner();
        let command = convert::radio_command(&req, make)?;
        self.operation(req.request_id, op, command).await
    }

    async fn alarm_verb(
        &self,
        request_id: String,
        operator: Option<String>,
        command: Command,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        match self.run(request_id, operator, command).await? {
            Reply::Alarm { alarm, operation } => Ok(Response::new(pb::AlarmResponse {
                alarm: Some(convert::alarm(&alarm)),
                operation: operation.map(|o| convert::operation(&o)),
            })),
            Reply::Operation(_) => Err(Status::internal(
                "the core answered an alarm command with an operation",
            )),
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
        self.read(move |core, _| core.radio(id).map(convert::radio))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("RADIO_NOT_FOUND", &convert::radio_name(id)))
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
        let op = operator(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.alarm_verb(id, op, Command::try_from(r)?).await
    }

    async fn resolve_alarm(
        &self,
        req: Request<pb::ResolveAlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        let op = operator(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.alarm_verb(id, op, Command::try_from(r)?).await
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
        self.radio_verb(req, |radio| OtaCommand::Kill { radio })
            .await
    }

    async fn send_text(
        &self,
        req: Request<pb::SendTextRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = operator(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.operation(id, op, Command::try_from(r)?).await
    }

    async fn send_status(
        &self,
        req: Request<pb::SendStatusRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = operator(&req)?;
        let r = req.into_inner();
        let id = r.request_id.clone();
        self.operation(id, op, Command::try_from(r)?).await
    }

    async fn request_location(
        &self,
        req: Request<pb::RequestLocationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = operator(&req)?;
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
        self.read(move |core, _| core.operation(id).map(convert::operation))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("OPERATION_NOT_FOUND", &convert::operation_name(id)))
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
        wait_operation(&self.shared, id, timeout)
            .await
            .map(Response::new)
    }

    async fn cancel_operation(
        &self,
        req: Request<pb::CancelOperationRequest>,
    ) -> Result<Response<pb::Operation>, Status> {
        let op = operator(&req)?;
        let command = Command::try_from(req.into_inner())?;
        let id = match &command {
            Command::CancelOperation { operation } => *operation,
            _ => return Err(Status::internal("cancel request built another command")),
        };
        self.run(String::new(), op, command).await?;
        self.read(move |core, _| core.operation(id).map(convert::operation))
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("OPERATION_NOT_FOUND", &convert::operation_name(id)))
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
