//! Who may call what: authentication, roles and per-identity command rate limits, enforced
//! by one tower layer ([`AccessLayer`]) in front of every service.
//!
//! # Contract
//!
//! - **Every call is authenticated** except the health and reflection services
//!   ([`OPEN_SERVICES`]). An identity comes from a bearer token (`authorization: Bearer
//!   <token>` metadata) or, on a TLS connection, from a verified client certificate whose DNS
//!   subjectAltName is mapped in the access set. A token wins over a certificate when both
//!   are presented. No usable credential: `UNAUTHENTICATED` (reason `UNAUTHENTICATED`, or
//!   `TOKEN_EXPIRED` for a token past its expiry).
//! - **Tokens** are 256 random bits ([`mint_token`]); the access set holds only a salted
//!   SHA-256 of each (`sha256:<salt-hex>:<hash-hex>`, [`hash_token`]) compared in constant
//!   time. A token is not a password: 256 bits from the OS random source cannot be guessed,
//!   so a slow key-derivation function would add latency to every call for nothing.
//! - **Roles** ([`Role`]): supervisor ⊇ dispatcher ⊇ viewer; admin ⊇ viewer only. What each
//!   method needs is written in ONE table, [`METHODS`], keyed by the full gRPC method path; a
//!   method missing from it is refused (`PERMISSION_DENIED`, reason `NO_ROLE_DECISION`), and
//!   a test compares the table with every method of the compiled descriptor set. A role too
//!   low: `PERMISSION_DENIED`, reason `ROLE_REQUIRED`, metadata `role` naming the role needed.
//! - **Rate limit**: calls that need dispatcher, supervisor or admin (everything that acts)
//!   draw from a token bucket per identity ([`RateLimit`]); an empty bucket is
//!   `RESOURCE_EXHAUSTED` (reason `RATE_LIMITED`) with a `google.rpc.RetryInfo` delay. Reads
//!   and watches are not limited here (the connection and stream bounds of [`super::conn`]
//!   cover them).
//! - **The identity reaches the services** as an [`Identity`] in the request extensions;
//!   `service::operator` records it on every command.
//! - **Reloads swap an `Arc`**: [`Access::replace`] installs a new [`AccessSet`]; calls
//!   already admitted (open watches included) are not touched, new calls use the new set.
//! - **One hook** ([`AccessHook`]) receives every refusal and every reload ([`AccessEvent`]),
//!   so the audit trail can journal them. The layer itself counts refusals ([`Access::counts`])
//!   and logs each cause once when it starts and once when it clears.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tonic::codegen::http;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::conn::ClientInfo;
use super::status::DOMAIN;

/// Services every client may call without credentials: health checks and reflection.
pub const OPEN_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Prefix of a bearer token in the `authorization` metadata (RFC 6750 §2.1).
const BEARER: &str = "Bearer ";
/// Prefix of a token [`mint_token`] makes.
pub const TOKEN_PREFIX: &str = "tg_";
/// Octets of randomness in a token.
const TOKEN_BYTES: usize = 32;
/// Octets of salt in a stored hash.
const SALT_BYTES: usize = 16;
/// Longest `authorization` value looked at; anything longer is not a token of ours.
const MAX_TOKEN_LEN: usize = 256;

/// What an identity may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Read and watch everything.
    Viewer,
    /// Viewer, plus commands, texts, alarms and call-outs (no stun, revive or kill).
    Dispatcher,
    /// Dispatcher, plus stun, revive, kill and approvals.
    Supervisor,
    /// Viewer, plus access and configuration reloads and team management.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Dispatcher,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The name in configuration and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Whether holding `self` grants what `needed` allows.
    pub fn grants(self, needed: Role) -> bool {
        match needed {
            Role::Viewer => true,
            Role::Dispatcher => matches!(self, Role::Dispatcher | Role::Supervisor),
            Role::Supervisor => self == Role::Supervisor,
            Role::Admin => self == Role::Admin,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: write viewer, dispatcher, supervisor or admin")
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role each method needs, by full gRPC method path: the one place a role decision is
/// written. A method of a trunkgate.v1 service missing here is refused to everyone.
pub const METHODS: &[(&str, Role)] = &[
    // Reads and watches.
    ("/trunkgate.v1.RadioService/ListRadios", Role::Viewer),
    ("/trunkgate.v1.RadioService/GetRadio", Role::Viewer),
    ("/trunkgate.v1.RadioService/ListPositions", Role::Viewer),
    (
        "/trunkgate.v1.TalkgroupService/ListTalkgroups",
        Role::Viewer,
    ),
    ("/trunkgate.v1.TalkgroupService/GetTalkgroup", Role::Viewer),
    ("/trunkgate.v1.DirectoryService/ListSites", Role::Viewer),
    ("/trunkgate.v1.DirectoryService/ListTeams", Role::Viewer),
    ("/trunkgate.v1.DirectoryService/GetSite", Role::Viewer),
    ("/trunkgate.v1.DirectoryService/GetTeam", Role::Viewer),
    (
        "/trunkgate.v1.DirectoryService/ResolveIdentity",
        Role::Viewer,
    ),
    ("/trunkgate.v1.CallService/ListCalls", Role::Viewer),
    ("/trunkgate.v1.CallService/GetCall", Role::Viewer),
    ("/trunkgate.v1.AlarmService/ListAlarms", Role::Viewer),
    ("/trunkgate.v1.AlarmService/GetAlarm", Role::Viewer),
    ("/trunkgate.v1.OperationService/GetOperation", Role::Viewer),
    (
        "/trunkgate.v1.OperationService/ListOperations",
        Role::Viewer,
    ),
    ("/trunkgate.v1.OperationService/WaitOperation", Role::Viewer),
    ("/trunkgate.v1.EventService/WatchEvents", Role::Viewer),
    ("/trunkgate.v1.MessageService/ListMessages", Role::Viewer),
    ("/trunkgate.v1.MessageService/GetMessage", Role::Viewer),
    // Dispatching.
    (
        "/trunkgate.v1.AlarmService/AcknowledgeAlarm",
        Role::Dispatcher,
    ),
    ("/trunkgate.v1.AlarmService/ResolveAlarm", Role::Dispatcher),
    ("/trunkgate.v1.CommandService/CheckRadio", Role::Dispatcher),
    ("/trunkgate.v1.CommandService/AlertRadio", Role::Dispatcher),
    ("/trunkgate.v1.CommandService/SendText", Role::Dispatcher),
    ("/trunkgate.v1.CommandService/SendStatus", Role::Dispatcher),
    (
        "/trunkgate.v1.CommandService/RequestLocation",
        Role::Dispatcher,
    ),
    (
        "/trunkgate.v1.OperationService/CancelOperation",
        Role::Dispatcher,
    ),
    (
        "/trunkgate.v1.MessageService/MarkMessageRead",
        Role::Dispatcher,
    ),
    (
        "/trunkgate.v1.MessageService/MarkMessageHandled",
        Role::Dispatcher,
    ),
    // Commands that disable radios.
    ("/trunkgate.v1.CommandService/StunRadio", Role::Supervisor),
    ("/trunkgate.v1.CommandService/ReviveRadio", Role::Supervisor),
    ("/trunkgate.v1.CommandService/KillRadio", Role::Supervisor),
    // The gateway itself on one screen (`ctl status`): a read.
    ("/trunkgate.v1.GatewayService/GetStatus", Role::Viewer),
    // The second person of a kill, and the audit trail (who did what: supervisors read it).
    (
        "/trunkgate.v1.ApprovalService/ApproveOperation",
        Role::Supervisor,
    ),
    (
        "/trunkgate.v1.ApprovalService/RejectOperation",
        Role::Supervisor,
    ),
    (
        "/trunkgate.v1.AuditService/ListAuditEntries",
        Role::Supervisor,
    ),
    // Call-outs: dispatchers start and cancel them, everyone may follow them.
    (
        "/trunkgate.v1.CalloutService/StartCallout",
        Role::Dispatcher,
    ),
    (
        "/trunkgate.v1.CalloutService/CancelCallout",
        Role::Dispatcher,
    ),
    ("/trunkgate.v1.CalloutService/GetCallout", Role::Viewer),
    ("/trunkgate.v1.CalloutService/ListCallouts", Role::Viewer),
    // Teams managed through the API: admins change them, everyone reads them.
    ("/trunkgate.v1.TeamService/GetTeam", Role::Viewer),
    ("/trunkgate.v1.TeamService/ListTeams", Role::Viewer),
    ("/trunkgate.v1.TeamService/CreateTeam", Role::Admin),
    ("/trunkgate.v1.TeamService/UpdateTeam", Role::Admin),
    ("/trunkgate.v1.TeamService/DeleteTeam", Role::Admin),
];

/// Methods above the viewer role that only read: they need their role but do not draw from
/// the command rate limit (reading the audit trail jams nothing on the air).
pub const READS: &[&str] = &["/trunkgate.v1.AuditService/ListAuditEntries"];

/// What a method path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Open to everyone ([`OPEN_SERVICES`]).
    Open,
    /// An identity holding a role that grants this one.
    Role(Role),
    /// Nobody: the method has no role decision in [`METHODS`].
    Undecided,
}

/// What `path` (`/package.Service/Method`) needs.
pub fn need(path: &str) -> Need {
    if let Some(service) = path.strip_prefix('/').and_then(|p| p.split('/').next())
        && OPEN_SERVICES.contains(&service)
    {
        return Need::Open;
    }
    METHODS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(Need::Undecided, |(_, r)| Need::Role(*r))
}

/// How an identity proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A bearer token.
    Token,
    /// A verified client certificate.
    Certificate,
}

/// An authenticated caller; the layer puts it in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The identity's name (recorded as the operator).
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// How it proved itself.
    pub via: Via,
}

impl Identity {
    /// Whether any of its roles grants `needed`.
    pub fn may(&self, needed: Role) -> bool {
        self.roles.iter().any(|r| r.grants(needed))
    }
}

/// One configured token: only its salted hash is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Who presents it.
    pub identity: String,
    /// What it may do.
    pub roles: Vec<Role>,
    salt: Vec<u8>,
    hash: [u8; 32],
    /// After this it is refused (`TOKEN_EXPIRED`).
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("identity", &self.identity)
            .field("roles", &self.roles)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl TokenEntry {
    /// An entry from a stored hash (`sha256:<salt-hex>:<hash-hex>`).
    pub fn from_hash(
        identity: impl Into<String>,
        roles: Vec<Role>,
        stored: &str,
        expires: Option<SystemTime>,
    ) -> Result<TokenEntry, String> {
        let (salt, hash) = parse_hash(stored)?;
        Ok(TokenEntry {
            identity: identity.into(),
            roles,
            salt,
            hash,
            expires,
        })
    }

    /// An entry for a token held in memory (the demo's): hashed with a fresh salt.
    pub fn for_token(
        identity: impl Into<String>,
        roles: Vec<Role>,
        token: &str,
    ) -> Result<TokenEntry, getrandom::Error> {
        let stored = hash_token(token)?;
        // hash_token writes the form parse_hash reads.
        let (salt, hash) = parse_hash(&stored).expect("hash_token output parses");
        Ok(TokenEntry {
            identity: identity.into(),
            roles,
            salt,
            hash,
            expires: None,
        })
    }

    fn matches(&self, token: &str) -> bool {
        let digest = salted(&self.salt, token);
        // Constant time: every octet is compared whatever the first difference.
        digest
            .iter()
            .zip(self.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn salted(salt: &[u8], token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(token.as_bytes());
    h.finalize().into()
}

fn parse_hash(stored: &str) -> Result<(Vec<u8>, [u8; 32]), String> {
    let mut parts = stored.split(':');
    let (Some("sha256"), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(
            "not a token hash: write sha256:<salt-hex>:<hash-hex> as `trunkgate access new-token` prints it"
                .into(),
        );
    };
    let salt = hex::decode(salt).map_err(|e| format!("the salt is not hex: {e}"))?;
    if salt.len() < 8 {
        return Err(format!(
            "the salt has {} octets; it needs at least 8",
            salt.len()
        ));
    }
    let hash: [u8; 32] = hex::decode(hash)
        .map_err(|e| format!("the hash is not hex: {e}"))?
        .try_into()
        .map_err(|v: Vec<u8>| format!("the hash has {} octets, not 32", v.len()))?;
    Ok((salt, hash))
}

/// A fresh token: [`TOKEN_PREFIX`] and 256 random bits in hex.
pub fn mint_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// The stored form of `token`: `sha256:<salt-hex>:<hex of SHA-256(salt ‖ token)>`.
pub fn hash_token(token: &str) -> Result<String, getrandom::Error> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::fill(&mut salt)?;
    Ok(format!(
        "sha256:{}:{}",
        hex::encode(salt),
        hex::encode(salted(&salt, token))
    ))
}

/// A client certificate mapping: a verified certificate carrying `dns_name` among its DNS
/// subjectAltNames is `identity` with `roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// The DNS name in the certificate's subjectAltName.
    pub dns_name: String,
    /// Who it is.
    pub identity: String,
    /// What it may do.
    pub roles: Vec<Role>,
}

/// Per-identity token bucket bounds for calls that act.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Calls the bucket holds (a burst).
    pub burst: u32,
    /// Refill, calls per second.
    pub per_sec: f64,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        // A control channel carries one burst per 60 ms per slot and a command takes several
        // bursts and retries: 2 commands a second sustained, with a burst of 20 for a
        // dispatcher working through a list, keeps one broken integration from filling it.
        RateLimit {
            burst: 20,
            per_sec: 2.0,
        }
    }
}

/// Everything a reload replaces at once.
#[derive(Debug, Clone, Default)]
pub struct AccessSet {
    /// Bearer tokens.
    pub tokens: Vec<TokenEntry>,
    /// Client certificate mappings.
    pub certs: Vec<CertEntry>,
    /// Command rate limit per identity.
    pub rate: RateLimit,
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credential.
    NoCredentials,
    /// A token that matches no entry.
    UnknownToken,
    /// A token past its expiry.
    ExpiredToken,
    /// A verified certificate that no entry maps.
    UnmappedCertificate,
    /// A role too low.
    RoleRequired(Role),
    /// No role decision for the method.
    Undecided,
    /// The identity's bucket is empty.
    RateLimited,
}

impl Refusal {
    /// The gRPC code it answers with.
    pub fn code(self) -> Code {
        match self {
            Refusal::NoCredentials
            | Refusal::UnknownToken
            | Refusal::ExpiredToken
            | Refusal::UnmappedCertificate => Code::Unauthenticated,
            Refusal::RoleRequired(_) | Refusal::Undecided => Code::PermissionDenied,
            Refusal::RateLimited => Code::ResourceExhausted,
        }
    }

    /// The refusal in a few words, for logs and audit entries (`unknown token`, `needs the
    /// supervisor role`).
    pub fn words(self) -> String {
        match self {
            Refusal::NoCredentials => "no credentials".into(),
            Refusal::UnknownToken => "unknown token".into(),
            Refusal::ExpiredToken => "expired token".into(),
            Refusal::UnmappedCertificate => "unmapped certificate".into(),
            Refusal::RoleRequired(role) => format!("needs the {role} role"),
            Refusal::Undecided => "no role decision".into(),
            Refusal::RateLimited => "rate limited".into(),
        }
    }
}

/// What the access layer reports to its hook: every refusal and every reload.
#[derive(Debug, Clone)]
pub enum AccessEvent {
    /// A call was refused.
    Refused {
        /// The full method path.
        method: String,
        /// The client's address, when known.
        client: Option<SocketAddr>,
        /// The identity, when it authenticated.
        identity: Option<String>,
        /// Why.
        refusal: Refusal,
    },
    /// A new access set (and TLS configuration) is in force.
    Reloaded {
        /// Tokens in it.
        tokens: usize,
        /// Certificate mappings in it.
        certs: usize,
        /// Whether the API now serves TLS.
        tls: bool,
    },
    /// A reload was refused; the old set stays.
    ReloadRefused {
        /// What was wrong.
        error: String,
    },
}

/// The one place access events go (the audit trail journals them). Must not block.
pub type AccessHook = Arc<dyn Fn(&AccessEvent) + Send + Sync>;

/// A hook that logs every event with `tracing` (refusals at debug: the layer logs their
/// episodes itself).
pub fn log_hook() -> AccessHook {
    Arc::new(|e: &AccessEvent| match e {
        AccessEvent::Refused {
            method,
            client,
            identity,
            refusal,
        } => tracing::debug!(
            method,
            client = ?client,
            identity = identity.as_deref().unwrap_or("-"),
            ?refusal,
            "API call refused"
        ),
        AccessEvent::Reloaded { tokens, certs, tls } => {
            tracing::info!(tokens, certs, tls, "access reloaded")
        }
        AccessEvent::ReloadRefused { error } => {
            tracing::warn!(%error, "access reload refused; the previous access stays in force")
        }
    })
}

/// Refusals counted since start.
#[derive(Debug, Default)]
pub struct AccessCounts {
    /// UNAUTHENTICATED answers.
    pub unauthenticated: AtomicU64,
    /// PERMISSION_DENIED answers.
    pub permission_denied: AtomicU64,
    /// RESOURCE_EXHAUSTED answers from the rate limit.
    pub rate_limited: AtomicU64,
    /// Reloads that took effect.
    pub reloads: AtomicU64,
    /// Reloads refused.
    pub reloads_refused: AtomicU64,
}

/// A recurring cause, logged when it starts and when it clears.
#[derive(Debug)]
struct Episode {
    count: u64,
    last: Instant,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The access set in force, the hook and the rate buckets; shared by every call.
pub struct Access {
    set: RwLock<Arc<AccessSet>>,
    hook: AccessHook,
    counts: AccessCounts,
    buckets: Mutex<HashMap<String, Bucket>>,
    episodes: Mutex<[Option<Episode>; 3]>,
    /// Whether any episode is open: admitted calls look at `episodes` only then.
    episodes_open: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("set", &self.current())
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Access {
    /// Access under `set`, reporting to `hook`.
    pub fn new(set: AccessSet, hook: AccessHook) -> Arc<Access> {
        Arc::new(Access {
            set: RwLock::new(Arc::new(set)),
            hook,
            counts: AccessCounts::default(),
            buckets: Mutex::default(),
            episodes: Mutex::default(),
            episodes_open: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The set in force.
    pub fn current(&self) -> Arc<AccessSet> {
        // Readers and the reload only swap an Arc under this lock; a poisoned lock still
        // holds a whole Arc.
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Put `set` in force for new calls.
    pub fn replace(&self, set: AccessSet) {
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }

    /// Report `event` to the hook (and count reloads).
    pub fn report(&self, event: &AccessEvent) {
        match event {
            AccessEvent::Reloaded { .. } => {
                self.counts.reloads.fetch_add(1, Ordering::Relaxed);
            }
            AccessEvent::ReloadRefused { .. } => {
                self.counts.reloads_refused.fetch_add(1, Ordering::Relaxed);
            }
            AccessEvent::Refused { .. } => {}
        }
        (self.hook)(event);
    }

    /// Refusals and reloads counted so far.
    pub fn counts(&self) -> &AccessCounts {
        &self.counts
    }

    /// The identity behind a call's credentials.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        cert_names: Option<&[String]>,
        now: SystemTime,
    ) -> Result<Identity, Refusal> {
        let set = self.current();
        if let Some(value) = authorization {
            // The scheme is case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` too.
            let token = value
                .get(..BEARER.len())
                .filter(|scheme| scheme.eq_ignore_ascii_case(BEARER))
                .map(|_| value[BEARER.len()..].trim())
                .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
                .ok_or(Refusal::UnknownToken)?;
            // Every entry is hashed and compared, so the time taken does not tell which
            // entry (if any) was close.
            let mut found = None;
            for entry in &set.tokens {
                if entry.matches(token) && found.is_none() {
                    found = Some(entry);
                }
            }
            let entry = found.ok_or(Refusal::UnknownToken)?;
            if entry.expires.is_some_and(|e| now >= e) {
                return Err(Refusal::ExpiredToken);
            }
            return Ok(Identity {
                name: entry.identity.clone(),
                roles: entry.roles.clone(),
                via: Via::Token,
            });
        }
        if let Some(names) = cert_names {
            let entry = set
                .certs
                .iter()
                .find(|c| names.iter().any(|n| n.eq_ignore_ascii_case(&c.dns_name)))
                .ok_or(Refusal::UnmappedCertificate)?;
            return Ok(Identity {
                name: entry.identity.clone(),
                roles: entry.roles.clone(),
                via: Via::Certificate,
            });
        }
        Err(Refusal::NoCredentials)
    }

    /// Take one call from `identity`'s bucket, or the time until one is there.
    pub fn take(&self, identity: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.current().rate;
        let burst = f64::from(rate.burst.max(1));
        let per_sec = if rate.per_sec > 0.0 {
            rate.per_sec
        } else {
            1.0
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(identity.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// A call was admitted: episodes of refusals quiet for [`super::conn::EPISODE_QUIET`]
    /// are over, and each is logged once with its count (as the connection bounds do), not
    /// only when the next episode starts.
    fn admitted(&self, now: Instant) {
        if !self.episodes_open.load(Ordering::Relaxed) {
            return;
        }
        let mut episodes = self.episodes.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, what) in ["unauthenticated", "permission denied", "rate limited"]
            .into_iter()
            .enumerate()
        {
            if let Some(e) =
                episodes[slot].take_if(|e| now.duration_since(e.last) >= super::conn::EPISODE_QUIET)
            {
                tracing::info!(
                    refused = e.count,
                    what,
                    "episode of refused API calls ended"
                );
            }
        }
        self.episodes_open
            .store(episodes.iter().any(Option::is_some), Ordering::Relaxed);
    }

    /// Episodes of refusals not yet over, by cause.
    pub fn open_episodes(&self) -> usize {
        let episodes = self.episodes.lock().unwrap_or_else(|e| e.into_inner());
        episodes.iter().filter(|e| e.is_some()).count()
    }

    /// Count a refusal, log its episode, report it to the hook; the status to answer with.
    fn refuse(
        &self,
        method: &str,
        client: Option<SocketAddr>,
        identity: Option<&str>,
        refusal: Refusal,
        retry: Option<Duration>,
    ) -> Status {
        let (counter, slot, what) = match refusal.code() {
            Code::Unauthenticated => (&self.counts.unauthenticated, 0, "unauthenticated"),
            Code::PermissionDenied => (&self.counts.permission_denied, 1, "permission denied"),
            _ => (&self.counts.rate_limited, 2, "rate limited"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        {
            let now = Instant::now();
            let mut episodes = self.episodes.lock().unwrap_or_else(|e| e.into_inner());
            let episode = &mut episodes[slot];
            match episode {
                Some(e) if now.duration_since(e.last) < super::conn::EPISODE_QUIET => {
                    e.count += 1;
                    e.last = now;
                }
                _ => {
                    if let Some(e) = episode.take() {
                        tracing::info!(
                            refused = e.count,
                            what,
                            "episode of refused API calls ended"
                        );
                    }
                    tracing::warn!(
                        method,
                        client = ?client,
                        identity = identity.unwrap_or("-"),
                        ?refusal,
                        what,
                        "refusing API calls (logged once per episode; counted)"
                    );
                    *episode = Some(Episode {
                        count: 1,
                        last: now,
                    });
                    self.episodes_open.store(true, Ordering::Relaxed);
                }
            }
        }
        self.report(&AccessEvent::Refused {
            method: method.to_string(),
            client,
            identity: identity.map(str::to_string),
            refusal,
        });
        refusal_status(method, refusal, retry)
    }
}

/// The status a refusal answers with.
pub fn refusal_status(method: &str, refusal: Refusal, retry: Option<Duration>) -> Status {
    let mut details = ErrorDetails::new();
    let mut meta = HashMap::new();
    meta.insert("method".to_string(), method.to_string());
    let (reason, message) = match refusal {
        Refusal::NoCredentials => (
            "UNAUTHENTICATED",
            "no credentials: send `authorization: Bearer <token>` or a client certificate"
                .to_string(),
        ),
        Refusal::UnknownToken => (
            "UNAUTHENTICATED",
            "the bearer token is not recognised".to_string(),
        ),
        Refusal::ExpiredToken => ("TOKEN_EXPIRED", "the bearer token has expired".to_string()),
        Refusal::UnmappedCertificate => (
            "UNAUTHENTICATED",
            "the client certificate names no identity in [access]".to_string(),
        ),
        Refusal::RoleRequired(role) => {
            meta.insert("role".to_string(), role.as_str().to_string());
            ("ROLE_REQUIRED", format!("{method} needs the {role} role"))
        }
        Refusal::Undecided => (
            "NO_ROLE_DECISION",
            format!("{method} has no role decision; nobody may call it"),
        ),
        Refusal::RateLimited => {
            let after = retry.unwrap_or(Duration::from_secs(1));
            details.set_retry_info(Some(after));
            meta.insert("retry_after_ms".to_string(), after.as_millis().to_string());
            (
                "RATE_LIMITED",
                format!(
                    "too many commands from this identity ([access] command_burst / commands_per_minute); retry in {} ms",
                    after.as_millis()
                ),
            )
        }
    };
    details.set_error_info(reason, DOMAIN, meta);
    Status::with_error_details(refusal.code(), message, details)
}

/// The tower layer that authenticates and authorizes every call (module doc).
#[derive(Debug, Clone)]
pub struct AccessLayer {
    access: Arc<Access>,
}

impl AccessLayer {
    /// Enforce `access`.
    pub fn new(access: Arc<Access>) -> AccessLayer {
        AccessLayer { access }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = AccessService<S>;
    fn layer(&self, inner: S) -> AccessService<S> {
        AccessService {
            inner,
            access: Arc::clone(&self.access),
        }
    }
}

/// See [`AccessLayer`].
#[derive(Debug, Clone)]
pub struct AccessService<S> {
    inner: S,
    access: Arc<Access>,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for AccessService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<http::Response<ResBody>, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let path = req.uri().path().to_string();
        let needed = match need(&path) {
            Need::Open => return Box::pin(self.inner.call(req)),
            Need::Role(r) => Some(r),
            Need::Undecided => None,
        };
        let info = req.extensions().get::<ClientInfo>();
        let client = info.map(|i| i.remote);
        let cert_names = info.and_then(|i| i.client_cert_names());
        let authorization = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let refuse = |status: Status| -> Self::Future {
            let response = status.into_http::<ResBody>();
            Box::pin(async move { Ok(response) })
        };
        let identity =
            match self
                .access
                .authenticate(authorization, cert_names.as_deref(), SystemTime::now())
            {
                Ok(identity) => identity,
                Err(refusal) => {
                    return refuse(self.access.refuse(&path, client, None, refusal, None));
                }
            };
        let Some(needed) = needed else {
            return refuse(self.access.refuse(
                &path,
                client,
                Some(&identity.name),
                Refusal::Undecided,
                None,
            ));
        };
        if !identity.may(needed) {
            return refuse(self.access.refuse(
                &path,
                client,
                Some(&identity.name),
                Refusal::RoleRequired(needed),
                None,
            ));
        }
        if needed != Role::Viewer
            && !READS.contains(&path.as_str())
            && let Err(after) = self.access.take(&identity.name, Instant::now())
        {
            return refuse(self.access.refuse(
                &path,
                client,
                Some(&identity.name),
                Refusal::RateLimited,
                Some(after),
            ));
        }
        self.access.admitted(Instant::now());
        req.extensions_mut().insert(identity);
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hierarchy_is_as_written() {
        use Role::*;
        let grants = |held: Role| -> Vec<Role> {
            Role::ALL.into_iter().filter(|n| held.grants(*n)).collect()
        };
        assert_eq!(grants(Viewer), vec![Viewer]);
        assert_eq!(grants(Dispatcher), vec![Viewer, Dispatcher]);
        assert_eq!(grants(Supervisor), vec![Viewer, Dispatcher, Supervisor]);
        assert_eq!(grants(Admin), vec![Viewer, Admin]);
    }

    #[test]
    fn tokens_verify_against_their_salted_hash_only() {
        let token = mint_token().unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
        let stored = hash_token(&token).unwrap();
        // Salted: the same token hashes differently each time.
        assert_ne!(stored, hash_token(&token).unwrap());
        let entry = TokenEntry::from_hash("ops1", vec![Role::Dispatcher], &stored, None).unwrap();
        assert!(entry.matches(&token));
        assert!(!entry.matches(&mint_token().unwrap()));
        assert!(!entry.matches(&token[..token.len() - 1]));
        assert!(TokenEntry::from_hash("x", vec![], "sha256:zz:00", None).is_err());
        assert!(TokenEntry::from_hash("x", vec![], "md5:00:00", None).is_err());
    }

    #[test]
    fn credentials_give_identities_or_precise_refusals() {
        let good = mint_token().unwrap();
        let old = mint_token().unwrap();
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut expired =
            TokenEntry::from_hash("old", vec![Role::Viewer], &hash_token(&old).unwrap(), None)
                .unwrap();
        expired.expires = Some(past);
        let access = Access::new(
            AccessSet {
                tokens: vec![
                    TokenEntry::for_token("ops1", vec![Role::Dispatcher], &good).unwrap(),
                    expired,
                ],
                certs: vec![CertEntry {
                    dns_name: "console.example".into(),
                    identity: "console".into(),
                    roles: vec![Role::Viewer],
                }],
                rate: RateLimit::default(),
            },
            log_hook(),
        );
        let now = SystemTime::now();
        let bearer = |t: &str| format!("Bearer {t}");
        assert_eq!(
            access
                .authenticate(Some(&bearer(&good)), None, now)
                .unwrap()
                .name,
            "ops1"
        );
        assert_eq!(
            access.authenticate(Some(&bearer(&old)), None, now),
            Err(Refusal::ExpiredToken)
        );
        assert_eq!(
            access.authenticate(Some("Bearer nope"), None, now),
            Err(Refusal::UnknownToken)
        );
        assert_eq!(
            access.authenticate(Some(&good), None, now),
            Err(Refusal::UnknownToken)
        );
        // The scheme is case-insensitive (RFC 7235 §2.1).
        for scheme in ["bearer", "BEARER"] {
            let id = access.authenticate(Some(&format!("{scheme} {good}")), None, now);
            assert_eq!(id.map(|i| i.name), Ok("ops1".to_string()), "{scheme}");
        }
        // Hostile values are refused, never a panic: nothing after the scheme, a scheme cut
        // inside a multi-byte character, non-ASCII, a very long value.
        let long = format!("Bearer {}", "a".repeat(100_000));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Bear",
            "Beare\u{e9}x",
            "Bearer 令牌",
            &long,
            "",
        ] {
            assert_eq!(
                access.authenticate(Some(bad), None, now),
                Err(Refusal::UnknownToken),
                "{bad:.20}"
            );
        }
        assert_eq!(
            access.authenticate(None, None, now),
            Err(Refusal::NoCredentials)
        );
        let names = vec!["CONSOLE.example".to_string()];
        let id = access.authenticate(None, Some(&names), now).unwrap();
        assert_eq!((id.name.as_str(), id.via), ("console", Via::Certificate));
        assert_eq!(
            access.authenticate(None, Some(&["other".to_string()]), now),
            Err(Refusal::UnmappedCertificate)
        );
    }

    #[test]
    fn buckets_refill_at_their_rate() {
        let access = Access::new(
            AccessSet {
                rate: RateLimit {
                    burst: 2,
                    per_sec: 4.0,
                },
                ..AccessSet::default()
            },
            log_hook(),
        );
        let t0 = Instant::now();
        assert!(access.take("a", t0).is_ok());
        assert!(access.take("a", t0).is_ok());
        let wait = access.take("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(250));
        // Another identity has its own bucket.
        assert!(access.take("b", t0).is_ok());
        assert!(access.take("a", t0 + Duration::from_millis(250)).is_ok());
    }

    #[test]
    fn an_episode_of_refusals_ends_when_calls_are_admitted_after_a_quiet_spell() {
        let access = Access::new(AccessSet::default(), log_hook());
        let _ = access.refuse("/m", None, None, Refusal::NoCredentials, None);
        assert_eq!(access.open_episodes(), 1);
        // Still refusing recently: the episode goes on.
        access.admitted(Instant::now());
        assert_eq!(access.open_episodes(), 1);
        access.admitted(Instant::now() + super::super::conn::EPISODE_QUIET);
        assert_eq!(
            access.open_episodes(),
            0,
            "the end is logged when calls get through"
        );
    }

    #[test]
    fn refusals_name_what_is_needed() {
        let s = refusal_status(
            "/trunkgate.v1.CommandService/KillRadio",
            Refusal::RoleRequired(Role::Supervisor),
            None,
        );
        assert_eq!(s.code(), Code::PermissionDenied);
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.reason, "ROLE_REQUIRED");
        assert_eq!(info.metadata["role"], "supervisor");
        let s = refusal_status("/m", Refusal::RateLimited, Some(Duration::from_millis(300)));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(
            s.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_millis(300))
        );
    }

    #[test]
    fn open_services_and_undecided_methods() {
        assert_eq!(need("/grpc.health.v1.Health/Check"), Need::Open);
        assert_eq!(
            need("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            Need::Open
        );
        assert_eq!(need("/trunkgate.v1.CommandService/Nope"), Need::Undecided);
        assert_eq!(
            need("/trunkgate.v1.CommandService/KillRadio"),
            Need::Role(Role::Supervisor)
        );
    }
}
