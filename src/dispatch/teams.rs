//! Teams managed through the API (`TeamService`), beside the teams of the configuration file.
//!
//! # Contract
//!
//! - A managed team is core state like any other: created, updated and deleted only through
//!   its events (`team_created`, `team_updated`, `team_deleted`, each naming the operator:
//!   the audit trail), folded by `apply`, so snapshot plus replay restores them.
//! - Configured teams stay read-only: a managed team cannot take a name the configuration
//!   uses, and the commands here refuse to change or delete a configured team. Should a later
//!   configuration define a name a managed team has, the configured team wins (lookups try
//!   the configuration first) and the managed one is no longer reachable until renamed in the
//!   file (it is kept, not deleted behind anyone's back).
//! - Every change carries the etag of the version it replaces (AIP-154): the revision, a
//!   number that grows with every change; a stale etag is refused.
//! - A managed team another managed team names as a backup cannot be deleted
//!   (`TeamInUse`): that team's escalation would point at nothing.
//! - Bounded: at most [`MAX_TEAMS`] managed teams of at most [`MAX_MEMBERS`] members.
//!
//! Call-outs find teams by key in both sets (`Core::find_team`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::EventKind;
use super::ids::{RadioId, TalkgroupId, TeamId, Timestamp};
use super::model::{GeoPoint, Team, TeamLevel};
use super::{Core, DispatchError, Output, Reply, State};

/// Managed teams at most.
pub const MAX_TEAMS: usize = 10_000;
/// Members of one managed team at most.
pub const MAX_MEMBERS: usize = 5_000;
/// Longest key (the `teams/{key}` segment), in octets.
const MAX_KEY: usize = 64;
/// Longest display name, in characters.
const MAX_DISPLAY: usize = 64;
/// Managed teams' [`TeamId`]s start here, clear of the configuration's indices.
const MANAGED_ID_BASE: u32 = 0x8000_0000;

/// A team as a client writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamSpec {
    /// The key (`teams/{key}`).
    pub key: String,
    /// Display name (Chinese works).
    pub name: String,
    /// Organisation level.
    pub level: Option<TeamLevel>,
    /// Members.
    pub radios: Vec<RadioId>,
    /// Members who lead (a subset of `radios`).
    pub leaders: Vec<RadioId>,
    /// Talkgroup.
    pub talkgroup: Option<TalkgroupId>,
    /// Backup teams (keys).
    pub backups: Vec<String>,
    /// Home position as `(latitude, longitude)` in micro-degrees (kept whole so the spec
    /// compares exactly).
    pub home_micro: Option<(i64, i64)>,
}

/// A managed team and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedTeam {
    /// The team.
    pub team: Team,
    /// Revision: 1 when created, one more with every update (the etag).
    pub revision: u64,
    /// Created, and by whom.
    pub created: Timestamp,
    /// Last change.
    pub updated: Timestamp,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who changed it last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl ManagedTeam {
    /// The etag clients send back with a change (AIP-154).
    pub fn etag(&self) -> String {
        format!("r{}", self.revision)
    }
}

/// The managed teams the core keeps.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ManagedTeams {
    by_key: BTreeMap<String, ManagedTeam>,
    next_id: u32,
}

/// Fold a team event.
pub(super) fn apply(st: &mut State, at: Timestamp, kind: &EventKind) {
    let book = &mut st.managed_teams;
    match kind {
        EventKind::TeamCreated { team, operator } => {
            book.next_id = book
                .next_id
                .max(team.id.0.saturating_sub(MANAGED_ID_BASE) + 1);
            book.by_key.insert(
                team.key.clone(),
                ManagedTeam {
                    team: (**team).clone(),
                    revision: 1,
                    created: at,
                    updated: at,
                    created_by: operator.clone(),
                    updated_by: operator.clone(),
                },
            );
        }
        EventKind::TeamUpdated {
            team,
            revision,
            operator,
        } => {
            if let Some(m) = book.by_key.get_mut(&team.key) {
                m.team = (**team).clone();
                m.revision = *revision;
                m.updated = at;
                m.updated_by = operator.clone();
            }
        }
        EventKind::TeamDeleted { key, .. } => {
            book.by_key.remove(key);
        }
        _ => {}
    }
}

impl Core {
    /// A team by key: the configuration's first, then the managed ones.
    pub fn find_team(&self, key: &str) -> Option<&Team> {
        self.state
            .teams
            .iter()
            .find(|t| t.key == key)
            .or_else(|| self.state.managed_teams.by_key.get(key).map(|m| &m.team))
    }

    /// A managed team by key.
    pub fn managed_team(&self, key: &str) -> Option<&ManagedTeam> {
        self.state.managed_teams.by_key.get(key)
    }

    /// Managed teams in key order, after `after` when given.
    pub fn managed_teams(&self, after: Option<&str>) -> impl Iterator<Item = &ManagedTeam> {
        use std::ops::Bound;
        let lower = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_string()));
        self.state
            .managed_teams
            .by_key
            .range((lower, Bound::Unbounded))
            .map(|(_, m)| m)
    }

    fn configured(&self, key: &str) -> bool {
        self.state.teams.iter().any(|t| t.key == key)
    }

    fn check_team(&self, spec: &TeamSpec) -> Result<Team, DispatchError> {
        let invalid = |field, reason| Err(DispatchError::InvalidArgument { field, reason });
        let k = &spec.key;
        if k.is_empty()
            || k.len() > MAX_KEY
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return invalid("team_id", "1..=64 of letters, digits, '-', '_' or '.'");
        }
        let n = &spec.name;
        if n.trim().is_empty() || n.chars().count() > MAX_DISPLAY || n.chars().any(char::is_control)
        {
            return invalid("display_name", "1..=64 characters, no control characters");
        }
        if spec.radios.len() > MAX_MEMBERS {
            return invalid("members", "more than 5000");
        }
        let mut seen = std::collections::BTreeSet::new();
        if !spec.radios.iter().all(|r| seen.insert(*r)) {
            return invalid("members", "a radio is listed twice");
        }
        if !spec.leaders.iter().all(|l| spec.radios.contains(l)) {
            return invalid("members", "a leader is not a member");
        }
        let mut named = std::collections::BTreeSet::new();
        if !spec.backups.iter().all(|b| named.insert(b)) {
            return invalid("backup_teams", "a team is listed twice");
        }
        for b in &spec.backups {
            if b == k {
                return invalid("backup_teams", "names the team itself");
            }
            if self.find_team(b).is_none() {
                return Err(DispatchError::UnknownTeam(b.clone()));
            }
        }
        if let Some(tg) = spec.talkgroup
            && !self.state.talkgroups.contains_key(&tg)
        {
            return Err(DispatchError::UnknownTalkgroup(tg));
        }
        let home = match spec.home_micro {
            None => None,
            Some((lat, lon)) => {
                if !(-90_000_000..=90_000_000).contains(&lat)
                    || !(-180_000_000..=180_000_000).contains(&lon)
                {
                    return invalid("home", "latitude -90..=90, longitude -180..=180");
                }
                Some(GeoPoint {
                    latitude: lat as f64 / 1e6,
                    longitude: lon as f64 / 1e6,
                })
            }
        };
        Ok(Team {
            id: TeamId(0),
            key: k.clone(),
            name: n.clone(),
            radios: spec.radios.clone(),
            talkgroup: spec.talkgroup,
            level: spec.level,
            leaders: spec.leaders.clone(),
            backups: spec.backups.clone(),
            home,
        })
    }

    /// `CreateTeam`.
    pub(super) fn create_team(
        &mut self,
        now: Timestamp,
        spec: TeamSpec,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        if self.configured(&spec.key) {
            return Err(DispatchError::TeamConfigured(spec.key));
        }
        if self.state.managed_teams.by_key.contains_key(&spec.key) {
            return Err(DispatchError::TeamExists(spec.key));
        }
        if self.state.managed_teams.by_key.len() >= MAX_TEAMS {
            return Err(DispatchError::InvalidArgument {
                field: "team",
                reason: "the gateway keeps at most 10000 managed teams",
            });
        }
        let mut team = self.check_team(&spec)?;
        team.id = TeamId(MANAGED_ID_BASE.saturating_add(self.state.managed_teams.next_id));
        let key = team.key.clone();
        let team = Box::new(team);
        self.emit(now, EventKind::TeamCreated { team, operator }, out);
        self.managed_reply(&key)
    }

    /// `UpdateTeam`: replaces the team whose etag is `etag` (empty: whatever version).
    pub(super) fn update_team(
        &mut self,
        now: Timestamp,
        spec: TeamSpec,
        etag: String,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        let current = self.writable(&spec.key, &etag)?;
        let mut team = self.check_team(&spec)?;
        team.id = current.team.id;
        let key = team.key.clone();
        let kind = EventKind::TeamUpdated {
            team: Box::new(team),
            revision: current.revision + 1,
            operator,
        };
        self.emit(now, kind, out);
        self.managed_reply(&key)
    }

    /// `DeleteTeam`; answered with the team as it was.
    pub(super) fn delete_team(
        &mut self,
        now: Timestamp,
        key: String,
        etag: String,
        operator: Option<String>,
        out: &mut Vec<Output>,
    ) -> Result<Reply, DispatchError> {
        let current = self.writable(&key, &etag)?;
        if let Some(by) = self
            .state
            .managed_teams
            .by_key
            .values()
            .find(|m| m.team.backups.contains(&key))
        {
            return Err(DispatchError::TeamInUse {
                team: key,
                by: by.team.key.clone(),
            });
        }
        self.emit(now, EventKind::TeamDeleted { key, operator }, out);
        Ok(Reply::Team(Box::new(current)))
    }

    fn writable(&self, key: &str, etag: &str) -> Result<ManagedTeam, DispatchError> {
        if self.configured(key) {
            return Err(DispatchError::TeamConfigured(key.to_string()));
        }
        let current = self
            .state
            .managed_teams
            .by_key
            .get(key)
            .cloned()
            .ok_or_else(|| DispatchError::UnknownTeam(key.to_string()))?;
        if !etag.is_empty() && etag != current.etag() {
            return Err(DispatchError::EtagMismatch {
                team: key.to_string(),
                current: current.etag(),
            });
        }
        Ok(current)
    }

    fn managed_reply(&self, key: &str) -> Result<Reply, DispatchError> {
        self.managed_team(key)
            .cloned()
            .map(|m| Reply::Team(Box::new(m)))
            .ok_or_else(|| DispatchError::UnknownTeam(key.to_string()))
    }
}
