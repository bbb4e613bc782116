//! The `[access]` section: who may use the API, the TLS files, the command rate limit; its
//! reload on SIGHUP; the demo's token; `trunkgate access new-token`.
//!
//! # Contract
//!
//! - [`AccessConfig`] is read with the rest of the file and checked by
//!   `Config::validate` ([`check`]): roles, hashes, expiries, identities and mappings each
//!   name their key. TLS files are read at start and at each reload ([`build`]); a file that
//!   cannot be used stops the start, or refuses the reload.
//! - [`Reloader::reload`] (what SIGHUP runs) reads the configuration file again, takes its
//!   `[access]` section and TLS files, and swaps them in for new connections and calls; open
//!   streams stay. A file that does not parse or check, or TLS material that does not load,
//!   is refused and logged and the old set stays in force. Each outcome goes to the access
//!   hook ([`crate::api::access::AccessEvent`]). The demo's token survives reloads.
//! - The demo ([`demo_token`]) mints a random token at its first start (a supervisor and
//!   admin named `demo`), writes it to `demo.token` in the data directory with mode 0600 and
//!   logs where; later starts keep it, so clients resume across a restart. `ctl` reads that
//!   file when given no other token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::config::{Config, KeyPath, Problem, at};
use crate::api::access::{
    Access, AccessEvent, AccessSet, CertEntry, RateLimit, Role, TokenEntry, hash_token, mint_token,
};
use crate::api::tls::{Tls, TlsFiles};

/// The file the demo writes its token to, in its data directory.
pub const DEMO_TOKEN_FILE: &str = "demo.token";
/// The demo's identity.
pub const DEMO_IDENTITY: &str = "demo";
/// The demo's second supervisor (a kill takes two people), beside [`DEMO_TOKEN_FILE`].
pub const DEPUTY_TOKEN_FILE: &str = "deputy.token";
/// Its identity.
pub const DEPUTY_IDENTITY: &str = "demo-deputy";
/// Longest identity name (the operator recorded with commands leaves room for a note).
pub const MAX_IDENTITY_LEN: usize = 64;

/// `[access]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Commands (calls that act) one identity may make per minute, sustained.
    pub commands_per_minute: u32,
    /// Commands one identity may make at once before the per-minute rate applies.
    pub command_burst: u32,
    /// The server's certificate chain (PEM); with `tls_key` the API serves TLS only.
    pub tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) client certificates are verified against.
    pub client_ca: Option<PathBuf>,
    /// Refuse TLS clients without a certificate (needs `client_ca`).
    pub require_client_cert: bool,
    /// Bearer tokens.
    #[serde(rename = "token")]
    pub tokens: Vec<TokenConfig>,
    /// Client certificate mappings.
    #[serde(rename = "client")]
    pub clients: Vec<ClientConfig>,
}

impl Default for AccessConfig {
    fn default() -> AccessConfig {
        let rate = RateLimit::default();
        AccessConfig {
            commands_per_minute: (rate.per_sec * 60.0) as u32,
            command_burst: rate.burst,
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            require_client_cert: false,
            tokens: Vec::new(),
            clients: Vec::new(),
        }
    }
}

/// `[[access.token]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who presents it (recorded as the operator).
    pub identity: String,
    /// viewer, dispatcher, supervisor, admin.
    pub roles: Vec<String>,
    /// `sha256:<salt-hex>:<hash-hex>`, as `trunkgate access new-token` prints it.
    pub hash: String,
    /// RFC 3339 time after which it is refused (`2027-06-30T00:00:00Z`).
    #[serde(default)]
    pub expires: Option<String>,
}

/// `[[access.client]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// A DNS name in the client certificate's subjectAltName.
    pub dns_name: String,
    /// Who it is.
    pub identity: String,
    /// viewer, dispatcher, supervisor, admin.
    pub roles: Vec<String>,
}

/// `[access] commands_per_minute` bounds.
pub const COMMANDS_PER_MINUTE: (u32, u32) = (1, 60_000);
/// `[access] command_burst` bounds.
pub const COMMAND_BURST: (u32, u32) = (1, 10_000);

fn roles(list: &[String]) -> Result<Vec<Role>, String> {
    if list.is_empty() {
        return Err("no role: write e.g. roles = [\"dispatcher\"]".into());
    }
    list.iter().map(|r| r.parse()).collect()
}

fn identity_ok(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_IDENTITY_LEN {
        return Err(format!("write 1 to {MAX_IDENTITY_LEN} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(())
}

fn expiry(text: &str) -> Result<SystemTime, String> {
    let t: jiff::Timestamp = text.parse().map_err(|e| {
        format!("{text:?} is not an RFC 3339 time ({e}); write e.g. 2027-06-30T00:00:00Z")
    })?;
    let ms = u64::try_from(t.as_millisecond()).unwrap_or(0);
    Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

/// Problems with `[access]` (what `Config::validate` adds).
pub fn check(a: &AccessConfig) -> Vec<Problem> {
    let mut p = Vec::new();
    let mut push = |at: KeyPath, m: String| p.push(Problem::new(at, m));
    if !(COMMANDS_PER_MINUTE.0..=COMMANDS_PER_MINUTE.1).contains(&a.commands_per_minute) {
        push(
            at!("access", "commands_per_minute"),
            format!(
                "[access] commands_per_minute = {} is out of range: set {}..={}",
                a.commands_per_minute, COMMANDS_PER_MINUTE.0, COMMANDS_PER_MINUTE.1
            ),
        );
    }
    if !(COMMAND_BURST.0..=COMMAND_BURST.1).contains(&a.command_burst) {
        push(
            at!("access", "command_burst"),
            format!(
                "[access] command_burst = {} is out of range: set {}..={}",
                a.command_burst, COMMAND_BURST.0, COMMAND_BURST.1
            ),
        );
    }
    if a.tls_cert.is_some() != a.tls_key.is_some() {
        push(
            at!("access"),
            "[access] tls_cert and tls_key go together: set both, or neither".into(),
        );
    }
    if (a.client_ca.is_some() || a.require_client_cert) && a.tls_cert.is_none() {
        push(
            at!("access"),
            "[access] client_ca and require_client_cert need TLS: set tls_cert and tls_key".into(),
        );
    }
    if a.require_client_cert && a.client_ca.is_none() {
        push(
            at!("access", "require_client_cert"),
            "[access] require_client_cert needs client_ca (the CA bundle client certificates are checked against)".into(),
        );
    }
    for (i, t) in a.tokens.iter().enumerate() {
        if let Err(e) = identity_ok(&t.identity) {
            push(
                at!("access", "token", i, "identity"),
                format!("[[access.token]] identity: {e}"),
            );
        }
        if let Err(e) = roles(&t.roles) {
            push(
                at!("access", "token", i, "roles"),
                format!("[[access.token]] roles: {e}"),
            );
        }
        if let Err(e) = TokenEntry::from_hash("", Vec::new(), &t.hash, None) {
            push(
                at!("access", "token", i, "hash"),
                format!("[[access.token]] hash: {e}"),
            );
        }
        if let Some(Err(e)) = t.expires.as_deref().map(expiry) {
            push(
                at!("access", "token", i, "expires"),
                format!("[[access.token]] expires: {e}"),
            );
        }
    }
    for (i, c) in a.clients.iter().enumerate() {
        if let Err(e) = identity_ok(&c.identity) {
            push(
                at!("access", "client", i, "identity"),
                format!("[[access.client]] identity: {e}"),
            );
        }
        if let Err(e) = roles(&c.roles) {
            push(
                at!("access", "client", i, "roles"),
                format!("[[access.client]] roles: {e}"),
            );
        }
        if c.dns_name.is_empty() {
            push(
                at!("access", "client", i, "dns_name"),
                "[[access.client]] dns_name: write the DNS name the client certificate carries"
                    .into(),
            );
        }
    }
    p.extend(duplicates(a));
    p
}

/// Entries that clash with an earlier one: the same token hash twice (the second entry could
/// never authenticate), the same certificate name twice (the second mapping would never be
/// used), and one identity given different roles by two entries (which roles that person
/// holds would depend on the credential presented). Each names the first entry's line.
fn duplicates(a: &AccessConfig) -> Vec<Problem> {
    let mut p = Vec::new();
    let mut dup = |at: KeyPath, first: KeyPath, m: String| {
        let mut problem = Problem::new(at, m);
        problem.first = Some(first);
        p.push(problem);
    };
    // `None` for roles already reported (none, or one unknown): not compared again.
    let sorted = |list: &[String]| {
        let mut v = roles(list).ok()?;
        v.sort();
        v.dedup();
        Some(v)
    };
    for (i, t) in a.tokens.iter().enumerate() {
        if let Some(j) = a.tokens[..i].iter().position(|u| u.hash == t.hash) {
            dup(
                at!("access", "token", i, "hash"),
                at!("access", "token", j, "hash"),
                "[[access.token]] hash is listed twice: the second entry could never be used; mint another token with `trunkgate access new-token`".into(),
            );
        }
    }
    for (i, c) in a.clients.iter().enumerate() {
        if let Some(j) = a.clients[..i]
            .iter()
            .position(|d| d.dns_name.eq_ignore_ascii_case(&c.dns_name))
        {
            dup(
                at!("access", "client", i, "dns_name"),
                at!("access", "client", j, "dns_name"),
                format!(
                    "[[access.client]] dns_name {:?} is listed twice: a certificate maps to one identity, so remove one entry",
                    c.dns_name
                ),
            );
        }
    }
    // Every entry's identity and roles, tokens first, then client mappings.
    let entries: Vec<(&str, KeyPath, Option<Vec<Role>>)> = a
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.identity.as_str(),
                at!("access", "token", i, "roles"),
                sorted(&t.roles),
            )
        })
        .chain(a.clients.iter().enumerate().map(|(i, c)| {
            (
                c.identity.as_str(),
                at!("access", "client", i, "roles"),
                sorted(&c.roles),
            )
        }))
        .collect();
    for (k, (name, at, roles)) in entries.iter().enumerate() {
        if let Some((_, first, _)) = entries[..k]
            .iter()
            .find(|(n, _, r)| n == name && r.is_some() && roles.is_some() && r != roles)
        {
            dup(
                at.clone(),
                first.clone(),
                format!(
                    "identity {name:?} is given other roles than in its first entry: one identity holds one set of roles, so give both entries the same roles or the second another identity"
                ),
            );
        }
    }
    p
}

/// The access set and TLS configuration of a checked `[access]` section; TLS files are read
/// relative to `base` (the configuration file's directory).
pub fn build(
    a: &AccessConfig,
    base: &Path,
) -> Result<(AccessSet, Option<Arc<rustls::ServerConfig>>), String> {
    if let Some(problem) = check(a).into_iter().next() {
        return Err(problem.message);
    }
    let mut set = AccessSet {
        rate: RateLimit {
            burst: a.command_burst,
            per_sec: f64::from(a.commands_per_minute) / 60.0,
        },
        ..AccessSet::default()
    };
    for t in &a.tokens {
        let expires = t.expires.as_deref().map(expiry).transpose()?;
        set.tokens.push(TokenEntry::from_hash(
            &t.identity,
            roles(&t.roles)?,
            &t.hash,
            expires,
        )?);
    }
    for c in &a.clients {
        set.certs.push(CertEntry {
            dns_name: c.dns_name.clone(),
            identity: c.identity.clone(),
            roles: roles(&c.roles)?,
        });
    }
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(
            TlsFiles {
                cert: base.join(cert),
                key: base.join(key),
                client_ca: a.client_ca.as_ref().map(|c| base.join(c)),
                require_client_cert: a.require_client_cert,
            }
            .load()
            .map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    Ok((set, tls))
}

/// What SIGHUP reloads, and from where.
pub struct Reloader {
    /// The configuration file; `None` for the embedded demo.
    pub path: Option<PathBuf>,
    /// Tokens kept across reloads (the demo's).
    pub extra: Vec<TokenEntry>,
    /// The access in force.
    pub access: Arc<Access>,
    /// The TLS in force.
    pub tls: Arc<Tls>,
}

impl Reloader {
    /// Read the configuration again and put its `[access]` section and TLS files in force;
    /// on any problem keep the old ones. Reports the outcome to the access hook.
    pub fn reload(&self) -> Result<(), String> {
        match self.load() {
            Ok((mut set, tls)) => {
                set.tokens.extend(self.extra.iter().cloned());
                let event = AccessEvent::Reloaded {
                    tokens: set.tokens.len(),
                    certs: set.certs.len(),
                    tls: tls.is_some(),
                };
                self.access.replace(set);
                self.tls.replace(tls);
                tracing::info!(?event, "access and TLS reloaded");
                self.access.report(&event);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "access reload refused; the previous access and TLS stay in force");
                self.access.report(&AccessEvent::ReloadRefused {
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    fn load(&self) -> Result<(AccessSet, Option<Arc<rustls::ServerConfig>>), String> {
        let (text, base) = match &self.path {
            Some(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: cannot read: {e}", path.display()))?,
                config_dir(path),
            ),
            None => (super::config::DEMO.to_string(), PathBuf::from(".")),
        };
        let config = Config::load(&text).map_err(|report| report.render("configuration"))?;
        build(&config.access, &base)
    }
}

/// The directory relative TLS paths are read from.
pub fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Run `reloader` on every SIGHUP until `stop`.
pub async fn reload_on_hangup(reloader: Reloader, stop: tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: access reloads need a restart");
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    let _ = reloader.reload();
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = reloader;
        stop.cancelled().await;
    }
}

/// Mint the demo's token, write it to `data_dir/demo.token` (0600), and return it as an
/// entry (supervisor and admin: the walkthrough stuns a radio).
pub fn demo_token(data_dir: &Path) -> anyhow::Result<TokenEntry> {
    token_file(
        data_dir,
        DEMO_TOKEN_FILE,
        DEMO_IDENTITY,
        vec![Role::Supervisor, Role::Admin],
    )
}

/// The demo's second supervisor: a token in [`DEPUTY_TOKEN_FILE`] for [`DEPUTY_IDENTITY`]
/// (kept like [`demo_token`]'s), so the walkthrough can approve a kill as another person.
pub fn deputy_token(data_dir: &Path) -> anyhow::Result<TokenEntry> {
    token_file(
        data_dir,
        DEPUTY_TOKEN_FILE,
        DEPUTY_IDENTITY,
        vec![Role::Supervisor],
    )
}

fn token_file(
    data_dir: &Path,
    file: &str,
    identity: &str,
    roles: Vec<Role>,
) -> anyhow::Result<TokenEntry> {
    use anyhow::Context;
    let path = data_dir.join(file);
    // A token the demo wrote before is kept, so a `ctl watch` resumes across a restart.
    let token = match std::fs::read_to_string(&path) {
        Ok(t) if is_token(t.trim()) => {
            tracing::info!(path = %path.display(), identity, "demo token kept (ctl reads it from there)");
            t.trim().to_string()
        }
        _ => {
            let token = mint_token().context("drawing the demo token from the OS random source")?;
            write_private(&path, &format!("{token}\n"))
                .with_context(|| format!("writing the demo token to {}", path.display()))?;
            tracing::info!(path = %path.display(), identity, "demo token written (ctl reads it from there)");
            token
        }
    };
    TokenEntry::for_token(identity, roles, &token).context("hashing the demo token")
}

/// Whether `t` has the form [`mint_token`] gives.
fn is_token(t: &str) -> bool {
    t.strip_prefix(crate::api::access::TOKEN_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// `trunkgate access new-token` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct NewTokenArgs {
    /// Who will present it (recorded as the operator on every command).
    #[arg(long)]
    pub identity: String,
    /// A role: viewer, dispatcher, supervisor, admin (repeat for several).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// Refuse it after this many days.
    #[arg(long)]
    pub expires_in_days: Option<u64>,
}

/// `trunkgate access new-token`: print a fresh token once, and the lines to paste into the
/// configuration (only its salted hash).
pub fn new_token(args: &NewTokenArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    identity_ok(&args.identity).map_err(|e| anyhow::anyhow!("--identity: {e}"))?;
    let roles = roles(&args.roles).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let token = mint_token()?;
    let hash = hash_token(&token)?;
    let expires = args
        .expires_in_days
        .map(|d| -> anyhow::Result<String> {
            let at = SystemTime::now() + Duration::from_secs(d.saturating_mul(86_400));
            Ok(jiff::Timestamp::try_from(at)?.to_string())
        })
        .transpose()?;
    writeln!(out, "token (shown once; give it to {}):", args.identity)?;
    writeln!(out, "  {token}")?;
    writeln!(out)?;
    writeln!(
        out,
        "add to the configuration, then send the gateway SIGHUP:"
    )?;
    writeln!(out, "[[access.token]]")?;
    writeln!(out, "identity = {:?}", args.identity)?;
    let list: Vec<String> = roles.iter().map(|r| format!("{:?}", r.as_str())).collect();
    writeln!(out, "roles = [{}]", list.join(", "))?;
    writeln!(out, "hash = {hash:?}")?;
    if let Some(e) = expires {
        writeln!(out, "expires = {e:?}")?;
    }
    Ok(())
}

/// Most refusals journaled per minute; past it they are counted and one entry a minute says
/// how many were left out, so a flood of bad calls cannot fill the journal.
pub const AUDITED_REFUSALS_PER_MINUTE: u32 = 120;

/// The access hook of a running gateway: every event is logged ([`log_hook`]) and journaled
/// as an audit entry through `driver` (refusals for lack of credentials or rights, rate-limit
/// refusals, reloads and refused reloads), refusals bounded by
/// [`AUDITED_REFUSALS_PER_MINUTE`]. Never blocks: the driver takes audit entries like air
/// inputs (held through a journal outage, a drop for a full queue counted as `inputs_lost`).
pub fn journal_hook(driver: super::driver::DriverHandle) -> crate::api::access::AccessHook {
    use crate::api::access::AccessEvent;
    use crate::dispatch::AuditEntry;
    use std::sync::Mutex;
    use std::time::Instant;

    let log = crate::api::access::log_hook();
    // (window start, refusals journaled in it, refusals left out of it)
    let window: Mutex<(Instant, u32, u64)> = Mutex::new((Instant::now(), 0, 0));
    Arc::new(move |event: &AccessEvent| {
        log(event);
        match event {
            AccessEvent::Refused {
                method,
                client,
                identity,
                refusal,
            } => {
                let now = Instant::now();
                let (journal, left_out) = {
                    let mut w = window.lock().unwrap_or_else(|e| e.into_inner());
                    let mut left_out = None;
                    if now.duration_since(w.0) >= Duration::from_secs(60) {
                        if w.2 > 0 {
                            left_out = Some(w.2);
                        }
                        *w = (now, 0, 0);
                    }
                    if w.1 < AUDITED_REFUSALS_PER_MINUTE {
                        w.1 += 1;
                        (true, left_out)
                    } else {
                        w.2 += 1;
                        (false, left_out)
                    }
                };
                if let Some(n) = left_out {
                    let mut e = AuditEntry::new(
                        None,
                        None,
                        "refusals_not_journaled",
                        None,
                        None,
                        "counted",
                    );
                    e.detail = Some(format!(
                        "{n} refused calls in the last minute beyond {AUDITED_REFUSALS_PER_MINUTE} were logged and counted, not journaled one by one"
                    ));
                    driver.record_audit(e);
                }
                if journal {
                    // The action follows the gRPC code the call was refused with.
                    let action = match refusal.code() {
                        tonic::Code::PermissionDenied => "permission_denied",
                        tonic::Code::ResourceExhausted => "rate_limited",
                        _ => "unauthenticated",
                    };
                    let outcome = format!("refused: {}", refusal.words());
                    let client = client.map(|c| c.to_string());
                    driver.record_audit(AuditEntry::new(
                        identity.as_deref(),
                        client.as_deref(),
                        action,
                        Some(method),
                        None,
                        &outcome,
                    ));
                }
            }
            AccessEvent::Reloaded { tokens, certs, tls } => {
                let mut e = AuditEntry::new(None, None, "access_reloaded", None, None, "ok");
                e.detail = Some(format!(
                    "{tokens} tokens, {certs} client certificate mappings, TLS {}",
                    if *tls { "on" } else { "off" }
                ));
                driver.record_audit(e);
            }
            AccessEvent::ReloadRefused { error } => {
                let mut e = AuditEntry::new(
                    None,
                    None,
                    "access_reload_refused",
                    None,
                    None,
                    "refused: the access in force stays",
                );
                e.detail = Some(error.chars().take(1000).collect());
                driver.record_audit(e);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_token_prints_lines_that_read_back() {
        let mut out = Vec::new();
        new_token(
            &NewTokenArgs {
                identity: "ops1".into(),
                roles: vec!["dispatcher".into()],
                expires_in_days: Some(30),
            },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let token = text.lines().nth(1).unwrap().trim().to_string();
        let toml_part = &text[text.find("[[access.token]]").unwrap()..];
        let config = Config::parse(toml_part).unwrap();
        let (set, tls) = build(&config.access, Path::new(".")).unwrap();
        assert!(tls.is_none());
        let access = Access::new(set, crate::api::access::log_hook());
        let id = access
            .authenticate(Some(&format!("Bearer {token}")), None, SystemTime::now())
            .unwrap();
        assert_eq!(id.name, "ops1");
        assert_eq!(id.roles, vec![Role::Dispatcher]);
        // It expires in 30 days.
        let later = SystemTime::now() + Duration::from_secs(31 * 86_400);
        assert!(
            access
                .authenticate(Some(&format!("Bearer {token}")), None, later)
                .is_err()
        );
    }

    #[test]
    fn duplicate_entries_name_the_first_line() {
        let h1 = hash_token("tg_one").unwrap();
        let h2 = hash_token("tg_two").unwrap();
        let text = format!(
            "[[access.token]]\nidentity = \"ops1\"\nroles = [\"dispatcher\"]\nhash = \"{h1}\"\n\
             [[access.token]]\nidentity = \"ops2\"\nroles = [\"viewer\"]\nhash = \"{h1}\"\n\
             [[access.token]]\nidentity = \"ops1\"\nroles = [\"supervisor\"]\nhash = \"{h2}\"\n\
             [[access.client]]\ndns_name = \"c.example\"\nidentity = \"c1\"\nroles = [\"viewer\"]\n\
             [[access.client]]\ndns_name = \"C.example\"\nidentity = \"c2\"\nroles = [\"viewer\"]\n"
        );
        let report = Config::load(&text).unwrap_err().render("t.toml");
        assert!(
            report.contains("t.toml:8:8: [[access.token]] hash is listed twice")
                && report.contains("(first at line 4)"),
            "{report}"
        );
        assert!(
            report.contains("t.toml:11:9: identity \"ops1\" is given other roles")
                && report.contains("(first at line 3)"),
            "{report}"
        );
        assert!(
            report
                .contains("t.toml:18:12: [[access.client]] dns_name \"C.example\" is listed twice")
                && report.contains("(first at line 14)"),
            "{report}"
        );
        // A role already refused as unknown is not reported a second time as different.
        assert_eq!(report.matches("other roles").count(), 1, "{report}");
        let unknown = format!(
            "[[access.token]]\nidentity = \"ops1\"\nroles = [\"dispatcher\"]\nhash = \"{h1}\"\n\
             [[access.token]]\nidentity = \"ops1\"\nroles = [\"superviser\"]\nhash = \"{h2}\"\n"
        );
        let report = Config::load(&unknown).unwrap_err().render("t.toml");
        assert!(!report.contains("other roles"), "{report}");
        // The same identity with the same roles (a token being rotated) is fine.
        let ok = format!(
            "[[access.token]]\nidentity = \"ops1\"\nroles = [\"dispatcher\"]\nhash = \"{h1}\"\n\
             [[access.token]]\nidentity = \"ops1\"\nroles = [\"dispatcher\"]\nhash = \"{h2}\"\n"
        );
        assert!(check(&Config::parse(&ok).unwrap().access).is_empty());
    }

    #[test]
    fn bad_sections_name_their_keys() {
        let config = Config::parse(
            "[access]\ncommand_burst = 0\n[[access.token]]\nidentity = \"x\"\nroles = [\"boss\"]\nhash = \"sha256:00\"\nexpires = \"soon\"\n",
        )
        .unwrap();
        let problems: Vec<String> = check(&config.access)
            .into_iter()
            .map(|p| p.at.dotted())
            .collect();
        assert_eq!(
            problems,
            vec![
                "access.command_burst",
                "access.token.roles",
                "access.token.hash",
                "access.token.expires"
            ]
        );
    }
}
