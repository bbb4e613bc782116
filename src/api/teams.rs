//! `TeamService`: teams managed through the API (create, get, list, update with an etag,
//! delete), beside the read-only teams of the configuration file (docs/callouts.md §1.1).
//!
//! Like every service here it holds no state: changes go to the core as commands (journaled
//! with the operator: the audit trail), reads run on the core through the [`Backend`].

use tonic::{Request, Response, Status};

use crate::dispatch::{self, Command, EventKind, ManagedTeam, Reply, TeamLevel, TeamSpec};

use super::status::{invalid_argument, not_found};
use super::{Api, Backend, convert, pb};

/// A managed team in the API.
pub fn managed(m: &ManagedTeam) -> pb::Team {
    let mut t = convert::team(&m.team);
    t.configured = false;
    t.etag = m.etag();
    t.create_time = Some(convert::timestamp(m.created));
    t.update_time = Some(convert::timestamp(m.updated));
    t
}

/// The typed payload of a `team_*` event; `None` for other events.
pub fn event_payload(kind: &EventKind) -> Option<pb::event::Payload> {
    use pb::event::Payload as P;
    Some(match kind {
        EventKind::TeamCreated { team, operator } => P::TeamCreated(pb::TeamChanged {
            team: Some(unconfigured(team)),
            operator: operator.clone().unwrap_or_default(),
        }),
        EventKind::TeamUpdated {
            team,
            revision,
            operator,
        } => {
            let mut t = unconfigured(team);
            t.etag = format!("r{revision}");
            P::TeamUpdated(pb::TeamChanged {
                team: Some(t),
                operator: operator.clone().unwrap_or_default(),
            })
        }
        EventKind::TeamDeleted { key, operator } => P::TeamDeleted(pb::TeamDeleted {
            team: convert::team_name(key),
            operator: operator.clone().unwrap_or_default(),
        }),
        _ => return None,
    })
}

fn unconfigured(t: &dispatch::Team) -> pb::Team {
    let mut p = convert::team(t);
    p.configured = false;
    p
}

fn level(v: i32) -> Result<Option<TeamLevel>, Status> {
    use pb::team::Level as L;
    Ok(match L::try_from(v) {
        Ok(L::Unspecified) => None,
        Ok(L::County) => Some(TeamLevel::County),
        Ok(L::Township) => Some(TeamLevel::Township),
        Ok(L::Village) => Some(TeamLevel::Village),
        Ok(L::Professional) => Some(TeamLevel::Professional),
        Ok(L::Volunteer) => Some(TeamLevel::Volunteer),
        Err(_) => return Err(invalid_argument("team.level", "unknown level")),
    })
}

/// Members and bounds: what one request may list.
const MAX_LIST: usize = 5_000;

/// A `Team` message as the core's spec, for the team `key`.
pub fn spec(key: String, t: pb::Team) -> Result<TeamSpec, Status> {
    if t.members.len() > MAX_LIST || t.radios.len() > MAX_LIST || t.backup_teams.len() > 100 {
        return Err(invalid_argument(
            "team",
            "more than 5000 members or 100 backups",
        ));
    }
    convert::plain("team.display_name", &t.display_name)?;
    let mut radios = Vec::new();
    let mut leaders = Vec::new();
    if t.members.is_empty() {
        for r in &t.radios {
            radios.push(convert::parse_radio("team.radios", r)?);
        }
    } else {
        for m in &t.members {
            let r = convert::parse_radio("team.members.radio", &m.radio)?;
            radios.push(r);
            match pb::team::Role::try_from(m.role) {
                Ok(pb::team::Role::Leader) => leaders.push(r),
                Ok(pb::team::Role::Member | pb::team::Role::Unspecified) => {}
                Err(_) => return Err(invalid_argument("team.members.role", "unknown role")),
            }
        }
    }
    let talkgroup = if t.talkgroup.is_empty() {
        None
    } else {
        Some(convert::parse_talkgroup("team.talkgroup", &t.talkgroup)?)
    };
    let backups = t
        .backup_teams
        .iter()
        .map(|b| convert::parse_team("team.backup_teams", b))
        .collect::<Result<Vec<_>, _>>()?;
    let home_micro = match t.home {
        None => None,
        Some(h) if h.latitude.is_finite() && h.longitude.is_finite() => Some((
            (h.latitude * 1e6).round() as i64,
            (h.longitude * 1e6).round() as i64,
        )),
        Some(_) => return Err(invalid_argument("team.home", "not a finite position")),
    };
    Ok(TeamSpec {
        key,
        name: t.display_name,
        level: level(t.level)?,
        radios,
        leaders,
        talkgroup,
        backups,
        home_micro,
    })
}

impl<B: Backend> Api<B> {
    async fn team_command(
        &self,
        who: super::service::Caller,
        command: Command,
    ) -> Result<Response<pb::Team>, Status> {
        let request = dispatch::Request {
            request_id: None,
            operator: who.operator,
            reason: who.reason,
            client: who.client,
            command,
        };
        match self.shared.backend.command(request).await?? {
            Reply::Team(m) => Ok(Response::new(managed(&m))),
            Reply::Operation(_) | Reply::Alarm { .. } | Reply::Message(_) | Reply::Callout(_) => {
                Err(Status::internal(
                    "the core answered a team command with another resource",
                ))
            }
        }
    }
}

#[tonic::async_trait]
impl<B: Backend> pb::team_service_server::TeamService for Api<B> {
    async fn create_team(
        &self,
        req: Request<pb::CreateTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        let op = super::service::caller(&req)?;
        let r = req.into_inner();
        convert::plain("team_id", &r.team_id)?;
        let team = r.team.ok_or_else(|| invalid_argument("team", "required"))?;
        let spec = spec(r.team_id, team)?;
        self.team_command(op, Command::CreateTeam(Box::new(spec)))
            .await
    }

    async fn get_team(
        &self,
        req: Request<pb::GetTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        let key = convert::parse_team("name", &req.into_inner().name)?;
        let k = key.clone();
        self.shared
            .backend
            .read(move |core, _| {
                core.team_by_key(&k)
                    .map(convert::team)
                    .or_else(|| core.managed_team(&k).map(managed))
            })
            .await?
            .map(Response::new)
            .ok_or_else(|| not_found("TEAM_NOT_FOUND", &convert::team_name(&key)))
    }

    async fn list_teams(
        &self,
        req: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        const METHOD: &str = "TeamService.ListTeams";
        let r = req.into_inner();
        let c = &self.shared.config;
        let size = convert::page_size(r.page_size, c.default_page_size, c.max_page_size)?;
        // The token holds "c<index>" (configured, by file order) or "m<key>" (managed).
        let after = convert::decode_token(&r.page_token, METHOD, "")?;
        let (teams, last) = self
            .shared
            .backend
            .read(move |core, _| {
                let (configured_after, managed_after) = match after.as_deref() {
                    None => (None, None),
                    Some(k) if k.starts_with('c') => (k[1..].parse::<usize>().ok(), None),
                    Some(k) => (Some(usize::MAX), Some(k[1..].to_string())),
                };
                let mut out: Vec<(String, pb::Team)> = Vec::new();
                for (i, t) in core.teams().iter().enumerate() {
                    if configured_after.is_some_and(|a| i <= a) {
                        continue;
                    }
                    out.push((format!("c{i}"), convert::team(t)));
                    if out.len() > size {
                        break;
                    }
                }
                if out.len() <= size {
                    for m in core.managed_teams(managed_after.as_deref()) {
                        if core.teams().iter().any(|t| t.key == m.team.key) {
                            continue; // shadowed by the configuration
                        }
                        out.push((format!("m{}", m.team.key), managed(m)));
                        if out.len() > size {
                            break;
                        }
                    }
                }
                let more = out.len() > size;
                out.truncate(size);
                let last = if more {
                    out.last().map(|(k, _)| k.clone())
                } else {
                    None
                };
                (out.into_iter().map(|(_, t)| t).collect::<Vec<_>>(), last)
            })
            .await?;
        Ok(Response::new(pb::ListTeamsResponse {
            teams,
            next_page_token: last
                .map(|k| convert::encode_token(METHOD, "", &k))
                .unwrap_or_default(),
        }))
    }

    async fn update_team(
        &self,
        req: Request<pb::UpdateTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        let op = super::service::caller(&req)?;
        let team = req
            .into_inner()
            .team
            .ok_or_else(|| invalid_argument("team", "required"))?;
        let key = convert::parse_team("team.name", &team.name)?;
        let etag = team.etag.clone();
        convert::plain("team.etag", &etag)?;
        let spec = spec(key, team)?;
        self.team_command(
            op,
            Command::UpdateTeam {
                spec: Box::new(spec),
                etag,
            },
        )
        .await
    }

    async fn delete_team(
        &self,
        req: Request<pb::DeleteTeamRequest>,
    ) -> Result<Response<pb::Team>, Status> {
        let op = super::service::caller(&req)?;
        let r = req.into_inner();
        let key = convert::parse_team("name", &r.name)?;
        convert::plain("etag", &r.etag)?;
        self.team_command(op, Command::DeleteTeam { key, etag: r.etag })
            .await
    }
}
