//! [`Config::validate`]: every check `serve` relies on, so that `serve` never fails on a
//! configuration `check-config` passed (only on what a file cannot tell: a busy port, a
//! missing serial device, a journal that cannot be opened).
//!
//! Each check pushes a [`Problem`] naming the key by its [`KeyPath`] (`at!("radio", i,
//! "id")`); [`Config::load`] turns the path into a line and column. A new key gets its check
//! here: a whole number with a [`Bound`] in `BOUNDS` and a `c.bound(...)` call, anything else
//! with `c.push(...)`, saying what is wrong and what to write instead.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{
    ANSWER_TIMEOUT_SECS, ATTEMPTS, AUDIT_RETENTION_DAYS, BAUD_RATES, Bound, COLOUR_CODE,
    COMMAND_SLOT, COMMIT_GAP_MS, Config, EXTRA_AIR_MS, HANDSHAKE_TIMEOUT_SECS, HANG_TIME_MS,
    HEARTBEAT_SECS, HomebrewPeerConfig, KEEPALIVE_INTERVAL_SECS, KEEPALIVE_TIMEOUT_SECS,
    KILL_APPROVAL_WINDOW_SECS, KeyPath, MASTER_BURST_INTERVAL_MS, MASTER_PEER_ID, MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT, MAX_STREAMS_PER_CLIENT, MAX_STREAMS_PER_CONNECTION,
    MMDVM_BURST_INTERVAL_MS, PEER_BURST_INTERVAL_MS, PEER_ID, PEER_TIMEOUT_SECS, Problem,
    RELAY_SLOT, RELAY_TALKGROUP, RETENTION_DAYS, RPTC_COLOUR_CODE, RPTC_RX_FREQ_HZ, RPTC_SLOTS,
    RPTC_TX_FREQ_HZ, RPTC_TX_POWER_DBM, SITE_SLOT, SNAPSHOT_EVERY, TALKGROUP_SLOT, TxPacing,
    WAKE_UP_REPEATER_ID, WATCH_QUEUE, at,
};
use crate::dispatch;

/// Longest callsign the Homebrew RPTC block carries (8 octets, docs/transports.md §2.4).
const CALLSIGN_MAX: usize = 8;

/// RPTC text fields and the octets the login block gives each (docs/transports.md §2.4); the
/// callsign has its own, stricter check.
const RPTC_TEXT: [(&str, usize); 5] = [
    ("location", 20),
    ("description", 19),
    ("url", 124),
    ("software_id", 40),
    ("package_id", 40),
];

/// `[[homebrew_peer]] latitude`, `longitude` (degrees) and `height_m` (metres): what the
/// RPTC block's fields can carry (docs/transports.md §2.4).
pub const RPTC_LATITUDE: (f64, f64) = (-90.0, 90.0);
/// See [`RPTC_LATITUDE`].
pub const RPTC_LONGITUDE: (f64, f64) = (-180.0, 180.0);
/// See [`RPTC_LATITUDE`].
pub const RPTC_HEIGHT_M: (i32, i32) = (-99, 999);

/// `[sim] mean_activity_secs`: bounds of the mean time between one radio's actions.
pub const SIM_ACTIVITY_SECS: (f64, f64) = (1.0, 86_400.0);

/// The problems found so far.
#[derive(Default)]
struct Checks {
    problems: Vec<Problem>,
}

impl Checks {
    fn push(&mut self, at: KeyPath, message: impl Into<String>) {
        self.problems.push(Problem::new(at, message));
    }

    /// A duplicate of what `first` already defines.
    fn duplicate(&mut self, at: KeyPath, first: KeyPath, message: impl Into<String>) {
        let mut p = Problem::new(at, message);
        p.first = Some(first);
        self.problems.push(p);
    }

    /// `value` within `bound`.
    fn bound<T>(&mut self, at: KeyPath, bound: &Bound, value: T)
    where
        T: TryInto<u64> + Copy + std::fmt::Display,
    {
        let inside = value
            .try_into()
            .is_ok_and(|v| (bound.min..=bound.max).contains(&v));
        if !inside {
            let label = at.label();
            self.push(
                at,
                format!(
                    "{label} = {value} is out of range: set {}..={} ({})",
                    bound.min, bound.max, bound.means
                ),
            );
        }
    }

    /// `tx_burst_interval_ms` within `bound` where the link paces at the air rate (with
    /// `at_once` it is not used).
    fn burst_interval(&mut self, at: KeyPath, bound: &Bound, pacing: TxPacing, ms: u64) {
        if pacing == TxPacing::AirRate {
            self.bound(at, bound, ms);
        }
    }

    /// A name shown to people: not empty, no control characters.
    fn display_name(&mut self, at: KeyPath, value: &str) {
        let label = at.label();
        if value.trim().is_empty() {
            self.push(at, format!("{label} is empty: write the name people see"));
        } else if value.chars().any(char::is_control) {
            self.push(
                at,
                format!("{label} {value:?} holds a control character: write printable text only"),
            );
        }
    }

    /// A short name used in resource names (`sites/{name}`): not empty, no whitespace,
    /// control characters or `/`.
    fn short_name(&mut self, at: KeyPath, value: &str) {
        let label = at.label();
        if value.is_empty() {
            self.push(
                at,
                format!("{label} is empty: write a short name such as \"county-town\""),
            );
        } else if value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            self.push(
                at,
                format!(
                    "{label} {value:?} holds a space, control character or '/': it is part of \
                     resource names, so use letters, digits, '-', '_' or '.'"
                ),
            );
        }
    }

    /// An address to send to: a real host and port.
    fn remote(&mut self, at: KeyPath, addr: SocketAddr) {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            let label = at.label();
            self.push(
                at,
                format!(
                    "{label} = \"{addr}\" cannot be sent to: write the other end's IP address \
                     and port, e.g. \"192.0.2.10:62031\""
                ),
            );
        }
    }
}

impl Config {
    /// Check what parsing cannot: ranges, identities, duplicates, references between
    /// sections, and everything `serve` needs to start its links, directory and API.
    /// An empty list means `serve` accepts the configuration.
    pub fn validate(&self) -> Vec<Problem> {
        let mut c = Checks::default();
        self.check_settings(&mut c);
        let sites = self.check_sites(&mut c);
        self.check_links(&mut c, &sites);
        self.check_directory(&mut c, &sites);
        self.check_sim(&mut c);
        c.problems.extend(crate::app::access::check(&self.access));
        c.problems
    }

    /// `[gateway]`, `[api]`, `[journal]`, `[dispatch]`.
    fn check_settings(&self, c: &mut Checks) {
        if self.gateway.data_dir.as_os_str().is_empty() {
            c.push(
                at!("gateway", "data_dir"),
                "[gateway] data_dir is empty: name the directory the journal lives in",
            );
        }
        c.bound(
            at!("api", "watch_queue"),
            &WATCH_QUEUE,
            self.api.watch_queue,
        );
        c.bound(
            at!("api", "heartbeat_secs"),
            &HEARTBEAT_SECS,
            self.api.heartbeat_secs,
        );
        self.check_api_connections(c);
        c.bound(
            at!("journal", "retention_days"),
            &RETENTION_DAYS,
            self.journal.retention_days,
        );
        c.bound(
            at!("journal", "audit_retention_days"),
            &AUDIT_RETENTION_DAYS,
            self.journal.audit_retention_days,
        );
        c.bound(
            at!("journal", "snapshot_every"),
            &SNAPSHOT_EVERY,
            self.journal.snapshot_every,
        );
        c.bound(
            at!("journal", "commit_gap_ms"),
            &COMMIT_GAP_MS,
            self.journal.commit_gap_ms,
        );
        c.bound(
            at!("dispatch", "answer_timeout_secs"),
            &ANSWER_TIMEOUT_SECS,
            self.dispatch.answer_timeout_secs,
        );
        c.bound(
            at!("dispatch", "attempts"),
            &ATTEMPTS,
            self.dispatch.attempts,
        );
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.log.level) {
            c.push(
                at!("log", "level"),
                format!(
                    "[log] level {:?} is not a log filter ({e}): write a level (error, warn, \
                     info, debug, trace) or directives such as \"info,trunkgate::link=debug\"",
                    self.log.level
                ),
            );
        }
        if let Some(metrics) = self.metrics.listen
            && metrics == self.api.listen
        {
            c.push(
                at!("metrics", "listen"),
                format!(
                    "[metrics] listen {metrics} is the gRPC API's address: give the metrics \
                     endpoint a port of its own"
                ),
            );
        }
        c.bound(
            at!("dispatch", "kill_approval_window_secs"),
            &KILL_APPROVAL_WINDOW_SECS,
            self.dispatch.kill_approval_window_secs,
        );
    }

    /// `[api]` connection bounds.
    fn check_api_connections(&self, c: &mut Checks) {
        let api = &self.api;
        c.bound(
            at!("api", "max_connections"),
            &MAX_CONNECTIONS,
            api.max_connections,
        );
        c.bound(
            at!("api", "max_connections_per_client"),
            &MAX_CONNECTIONS_PER_CLIENT,
            api.max_connections_per_client,
        );
        // Compared only when both are within their own bounds (else those are the problem).
        let within = |b: &Bound, v: usize| (b.min..=b.max).contains(&(v as u64));
        if within(&MAX_CONNECTIONS, api.max_connections)
            && within(&MAX_CONNECTIONS_PER_CLIENT, api.max_connections_per_client)
            && api.max_connections_per_client > api.max_connections
        {
            c.push(
                at!("api", "max_connections_per_client"),
                format!(
                    "[api] max_connections_per_client = {} is more than max_connections = {}: \
                     one client could never open that many; set at most {}",
                    api.max_connections_per_client, api.max_connections, api.max_connections
                ),
            );
        }
        c.bound(
            at!("api", "max_streams_per_connection"),
            &MAX_STREAMS_PER_CONNECTION,
            api.max_streams_per_connection,
        );
        c.bound(
            at!("api", "max_streams_per_client"),
            &MAX_STREAMS_PER_CLIENT,
            api.max_streams_per_client,
        );
        c.bound(
            at!("api", "handshake_timeout_secs"),
            &HANDSHAKE_TIMEOUT_SECS,
            api.handshake_timeout_secs,
        );
        c.bound(
            at!("api", "keepalive_interval_secs"),
            &KEEPALIVE_INTERVAL_SECS,
            api.keepalive_interval_secs,
        );
        c.bound(
            at!("api", "keepalive_timeout_secs"),
            &KEEPALIVE_TIMEOUT_SECS,
            api.keepalive_timeout_secs,
        );
    }

    /// `[[site]]`; returns each site name with the index of its entry.
    fn check_sites(&self, c: &mut Checks) -> HashMap<&str, usize> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        if self.sites.is_empty() {
            c.push(
                at!("site"),
                "no [[site]] is defined: the gateway would have nothing to listen to; add one \
                 per base station",
            );
        }
        let max_sites = dispatch::Config::default().max_sites;
        if self.sites.len() > max_sites {
            c.push(
                at!("site", max_sites),
                format!(
                    "{} [[site]] entries: the gateway keeps at most {max_sites}",
                    self.sites.len()
                ),
            );
        }
        for (i, site) in self.sites.iter().enumerate() {
            c.short_name(at!("site", i, "name"), &site.name);
            if let Some(&first) = names.get(site.name.as_str()) {
                c.duplicate(
                    at!("site", i, "name"),
                    at!("site", first, "name"),
                    format!(
                        "[[site]] name {:?} is defined twice: give each site its own name",
                        site.name
                    ),
                );
            } else {
                names.insert(&site.name, i);
            }
            if let Some(display) = &site.display_name {
                c.display_name(at!("site", i, "display_name"), display);
            }
            c.bound(
                at!("site", i, "colour_code"),
                &COLOUR_CODE,
                site.colour_code,
            );
            c.bound(at!("site", i, "slot"), &SITE_SLOT, site.slot);
            c.bound(
                at!("site", i, "extra_air_ms"),
                &EXTRA_AIR_MS,
                site.extra_air_ms,
            );
            let simplex = self.mmdvm.iter().any(|m| m.site == site.name && !m.duplex);
            if simplex && site.slot != 2 {
                c.push(
                    at!("site", i, "slot"),
                    format!(
                        "[[site]] {:?}: slot = {} but its [[mmdvm]] modem is simplex, which \
                         carries timeslot 2 only: set slot = 2",
                        site.name, site.slot
                    ),
                );
            }
        }
        names
    }

    /// `[homebrew_master]`, `[[homebrew_peer]]`, `[[mmdvm]]`: references, identities,
    /// addresses, and which link carries each site's transmissions.
    fn check_links(&self, c: &mut Checks, sites: &HashMap<&str, usize>) {
        let unknown_site = |c: &mut Checks, at: KeyPath, site: &str| {
            if !sites.contains_key(site) {
                let label = at.label();
                c.push(
                    at,
                    format!(
                        "{label} {site:?} is not a [[site]] name: add the site or correct the \
                         name"
                    ),
                );
            }
        };
        // Each site's transmit route; serve keeps the last one, so a second is an error.
        let mut routes: HashMap<String, (KeyPath, String)> = HashMap::new();
        let mut route =
            |c: &mut Checks, at: KeyPath, site: &str, link: String| match routes.get(site) {
                Some((first, first_link)) if *first_link != link => {
                    let first = first.clone();
                    let message = format!(
                        "site {site:?} is served by both {first_link} and {link}: commands would \
                         go out on one only; give each link its own [[site]]"
                    );
                    c.duplicate(at, first, message);
                }
                Some(_) => {}
                None => {
                    routes.insert(site.to_owned(), (at, link));
                }
            };
        // UDP sockets bound on a fixed port, to find two on the same one.
        let mut udp: Vec<(KeyPath, SocketAddr)> = Vec::new();

        if let Some(master) = &self.homebrew_master {
            if master.bind.port() != 0 {
                udp.push((at!("homebrew_master", "bind"), master.bind));
            }
            c.bound(
                at!("homebrew_master", "peer_timeout_secs"),
                &PEER_TIMEOUT_SECS,
                master.peer_timeout_secs,
            );
            c.bound(
                at!("homebrew_master", "hang_time_ms"),
                &HANG_TIME_MS,
                master.hang_time_ms,
            );
            c.burst_interval(
                at!("homebrew_master", "tx_burst_interval_ms"),
                &MASTER_BURST_INTERVAL_MS,
                master.tx_pacing,
                master.tx_burst_interval_ms,
            );
            if master.peers.is_empty() {
                c.push(
                    at!("homebrew_master"),
                    "[homebrew_master] lists no [[homebrew_master.peer]]: no repeater could log \
                     in; add one per repeater or remove the section",
                );
            }
            let mut ids: HashMap<u32, usize> = HashMap::new();
            for (i, peer) in master.peers.iter().enumerate() {
                let here = |key: &str| at!("homebrew_master", "peer", i, key);
                c.bound(here("id"), &MASTER_PEER_ID, peer.id);
                if let Some(&first) = ids.get(&peer.id) {
                    c.duplicate(
                        here("id"),
                        at!("homebrew_master", "peer", first, "id"),
                        format!(
                            "[[homebrew_master.peer]] id {} is listed twice: each repeater logs \
                             in with its own ID",
                            peer.id
                        ),
                    );
                } else {
                    ids.insert(peer.id, i);
                }
                if peer.passphrase.is_empty() {
                    c.push(
                        here("passphrase"),
                        format!(
                            "[[homebrew_master.peer]] {}: passphrase is empty: write the \
                             passphrase the repeater logs in with",
                            peer.id
                        ),
                    );
                }
                unknown_site(c, here("site"), &peer.site);
                route(c, here("site"), &peer.site, "[homebrew_master]".to_string());
                for (k, slot) in peer.slots.iter().flatten().enumerate() {
                    c.bound(
                        at!("homebrew_master", "peer", i, "slots", k),
                        &RELAY_SLOT,
                        *slot,
                    );
                }
                for (k, tg) in peer.talkgroups.iter().flatten().enumerate() {
                    c.bound(
                        at!("homebrew_master", "peer", i, "talkgroups", k),
                        &RELAY_TALKGROUP,
                        *tg,
                    );
                }
                if let Some(slot) = peer.command_slot {
                    c.bound(here("command_slot"), &COMMAND_SLOT, slot);
                }
            }
        }
        for (i, upstream) in self.homebrew_peers.iter().enumerate() {
            let here = |key: &str| at!("homebrew_peer", i, key);
            c.remote(here("master"), upstream.master);
            if upstream.bind.port() != 0 {
                udp.push((here("bind"), upstream.bind));
            }
            c.bound(here("id"), &PEER_ID, upstream.id);
            if upstream.passphrase.is_empty() {
                c.push(
                    here("passphrase"),
                    "[[homebrew_peer]] passphrase is empty: write the passphrase the master \
                     gave this gateway",
                );
            }
            let callsign = &upstream.callsign;
            if callsign.is_empty()
                || callsign.len() > CALLSIGN_MAX
                || !callsign.bytes().all(|b| (0x21..0x7f).contains(&b))
            {
                c.push(
                    here("callsign"),
                    format!(
                        "[[homebrew_peer]] callsign {callsign:?} does not fit the login's \
                         callsign field: write 1..={CALLSIGN_MAX} printable ASCII characters \
                         without spaces"
                    ),
                );
            }
            check_rptc(c, i, upstream);
            c.burst_interval(
                here("tx_burst_interval_ms"),
                &PEER_BURST_INTERVAL_MS,
                upstream.tx_pacing,
                upstream.tx_burst_interval_ms,
            );
            unknown_site(c, here("site"), &upstream.site);
            route(
                c,
                here("site"),
                &upstream.site,
                format!("[[homebrew_peer]] {}", upstream.master),
            );
        }
        let mut serial: HashMap<&std::path::Path, usize> = HashMap::new();
        for (i, modem) in self.mmdvm.iter().enumerate() {
            let here = |key: &str| at!("mmdvm", i, key);
            unknown_site(c, here("site"), &modem.site);
            c.burst_interval(
                here("tx_burst_interval_ms"),
                &MMDVM_BURST_INTERVAL_MS,
                modem.tx_pacing,
                modem.tx_burst_interval_ms,
            );
            if let Some(id) = modem.wake_up_repeater_id {
                c.bound(here("wake_up_repeater_id"), &WAKE_UP_REPEATER_ID, id);
                if !modem.duplex {
                    c.push(
                        here("wake_up_repeater_id"),
                        format!(
                            "[[mmdvm]] for site {:?}: wake_up_repeater_id needs duplex = true: a \
                             simplex modem refuses timeslot 1, where the wake-up goes",
                            modem.site
                        ),
                    );
                }
            }
            match (&modem.port, modem.udp_remote) {
                (None, None) => c.push(
                    at!("mmdvm", i),
                    format!(
                        "[[mmdvm]] for site {:?} has neither port nor udp_remote: set port (a \
                         serial device) or udp_remote (the modem's address)",
                        modem.site
                    ),
                ),
                (Some(_), Some(_)) => c.push(
                    here("udp_remote"),
                    format!(
                        "[[mmdvm]] for site {:?} sets both port and udp_remote: keep the one \
                         the modem is reached by",
                        modem.site
                    ),
                ),
                (Some(path), None) => {
                    if path.as_os_str().is_empty() {
                        c.push(
                            here("port"),
                            "[[mmdvm]] port is empty: name the serial device, e.g. \
                             \"/dev/ttyACM0\"",
                        );
                    } else if let Some(&first) = serial.get(path.as_path()) {
                        c.duplicate(
                            here("port"),
                            at!("mmdvm", first, "port"),
                            format!(
                                "[[mmdvm]] port {:?} is used twice: one serial device serves one \
                                 modem",
                                path.display().to_string()
                            ),
                        );
                    } else {
                        serial.insert(path, i);
                    }
                    if !BAUD_RATES.contains(&modem.baud) {
                        c.push(
                            here("baud"),
                            format!(
                                "[[mmdvm]] baud = {} is not a serial rate the modem runs at: \
                                 use one of {BAUD_RATES:?} (MMDVM firmware: 115200)",
                                modem.baud
                            ),
                        );
                    }
                    if modem.udp_local.is_some() {
                        c.push(
                            here("udp_local"),
                            "[[mmdvm]] udp_local is set for a serial modem and would be \
                             ignored: remove it, or use udp_remote instead of port",
                        );
                    }
                }
                (None, Some(remote)) => {
                    c.remote(here("udp_remote"), remote);
                    if let Some(local) = modem.udp_local
                        && local.port() != 0
                    {
                        udp.push((here("udp_local"), local));
                    }
                }
            }
            route(
                c,
                here("site"),
                &modem.site,
                format!("[[mmdvm]] #{}", i + 1),
            );
        }
        for (k, (path, addr)) in udp.iter().enumerate() {
            let clash = udp[..k].iter().find(|(_, other)| {
                other.port() == addr.port()
                    && (other.ip() == addr.ip()
                        || other.ip().is_unspecified()
                        || addr.ip().is_unspecified())
            });
            if let Some((first, other)) = clash {
                let label = path.label();
                c.duplicate(
                    path.clone(),
                    first.clone(),
                    format!(
                        "{label} = \"{addr}\" clashes with {} = \"{other}\": both would bind \
                         UDP port {}; give each link its own port",
                        first.label(),
                        addr.port()
                    ),
                );
            }
        }
        if self.homebrew_master.is_none() && self.homebrew_peers.is_empty() && self.mmdvm.is_empty()
        {
            c.push(
                KeyPath::default(),
                "no link is configured: add a [homebrew_master], a [[homebrew_peer]] or an \
                 [[mmdvm]]",
            );
        }
    }

    /// `[[team]]`, `[[radio]]`, `[[talkgroup]]`: what the core's directory is built from.
    fn check_directory(&self, c: &mut Checks, sites: &HashMap<&str, usize>) {
        let limits = dispatch::Config::default();
        if self.radios.len() > limits.max_radios {
            c.push(
                at!("radio", limits.max_radios),
                format!(
                    "{} [[radio]] entries: the gateway keeps at most {}",
                    self.radios.len(),
                    limits.max_radios
                ),
            );
        }
        if self.talkgroups.len() > limits.max_talkgroups {
            c.push(
                at!("talkgroup", limits.max_talkgroups),
                format!(
                    "{} [[talkgroup]] entries: the gateway keeps at most {}",
                    self.talkgroups.len(),
                    limits.max_talkgroups
                ),
            );
        }
        let mut talkgroups: HashMap<dispatch::TalkgroupId, usize> = HashMap::new();
        for (i, tg) in self.talkgroups.iter().enumerate() {
            c.display_name(at!("talkgroup", i, "name"), &tg.name);
            if let Some(slot) = tg.slot {
                c.bound(at!("talkgroup", i, "slot"), &TALKGROUP_SLOT, slot);
            }
            // Static routes: each a [[site]] name, listed once.
            for (k, site) in tg.sites.iter().enumerate() {
                if !sites.contains_key(site.as_str()) {
                    c.push(
                        at!("talkgroup", i, "sites", k),
                        format!(
                            "[[talkgroup]] {:?}: sites names {site:?}, which is not a [[site]] \
                             name: add the site or correct the name",
                            tg.name
                        ),
                    );
                } else if tg.sites[..k].contains(site) {
                    c.push(
                        at!("talkgroup", i, "sites", k),
                        format!(
                            "[[talkgroup]] {:?}: sites lists {site:?} twice: list each site once",
                            tg.name
                        ),
                    );
                }
            }
            match tg.id.talkgroup() {
                Err(e) => c.push(
                    at!("talkgroup", i, "id"),
                    format!(
                        "[[talkgroup]] {:?}: id {} is not a talkgroup: {e}; write its 8-digit \
                         dial number as a string (\"57120900\") or its 24-bit air address as a \
                         number",
                        tg.name, tg.id
                    ),
                ),
                Ok(id) => match talkgroups.get(&id) {
                    Some(&first) => c.duplicate(
                        at!("talkgroup", i, "id"),
                        at!("talkgroup", first, "id"),
                        format!(
                            "[[talkgroup]] {:?}: id {} is also the id of {:?}: each talkgroup \
                             is listed once; remove one or correct its id",
                            tg.name, tg.id, self.talkgroups[first].name
                        ),
                    ),
                    None => {
                        talkgroups.insert(id, i);
                    }
                },
            }
        }
        let mut teams: HashMap<&str, usize> = HashMap::new();
        for (i, team) in self.teams.iter().enumerate() {
            c.short_name(at!("team", i, "name"), &team.name);
            c.display_name(at!("team", i, "display_name"), &team.display_name);
            if let Some(&first) = teams.get(team.name.as_str()) {
                c.duplicate(
                    at!("team", i, "name"),
                    at!("team", first, "name"),
                    format!(
                        "[[team]] name {:?} is defined twice: give each team its own name",
                        team.name
                    ),
                );
            } else {
                teams.insert(&team.name, i);
            }
            if let Some(tg) = &team.talkgroup {
                match tg.talkgroup() {
                    Err(e) => c.push(
                        at!("team", i, "talkgroup"),
                        format!(
                            "[[team]] {:?}: talkgroup {tg} is not a talkgroup: {e}; write its \
                             8-digit dial number as a string or its 24-bit air address",
                            team.name
                        ),
                    ),
                    Ok(id) if !talkgroups.contains_key(&id) => c.push(
                        at!("team", i, "talkgroup"),
                        format!(
                            "[[team]] {:?}: talkgroup {tg} is not a [[talkgroup]]: add a \
                             [[talkgroup]] with this id, or correct it",
                            team.name
                        ),
                    ),
                    Ok(_) => {}
                }
            }
        }
        for (i, team) in self.teams.iter().enumerate() {
            for (k, backup) in team.backups.iter().enumerate() {
                let why = if backup == &team.name {
                    Some("is the team itself: name another team")
                } else if !teams.contains_key(backup.as_str()) {
                    Some("is not a [[team]] name: add the team or correct the name")
                } else if team.backups[..k].contains(backup) {
                    Some("is listed twice: list each backup team once")
                } else {
                    None
                };
                if let Some(why) = why {
                    c.push(
                        at!("team", i, "backups", k),
                        format!("[[team]] {:?}: backup {backup:?} {why}", team.name),
                    );
                }
            }
            if let Some([lat, lon]) = team.home {
                let (la, lo) = (RPTC_LATITUDE, RPTC_LONGITUDE);
                let inside = |v: f64, (a, b): (f64, f64)| v.is_finite() && (a..=b).contains(&v);
                if !inside(lat, la) || !inside(lon, lo) {
                    c.push(
                        at!("team", i, "home"),
                        format!(
                            "[[team]] {:?}: home [{lat}, {lon}] is not a position: write \
                             [latitude, longitude] in degrees, latitude {}..={}, longitude \
                             {}..={}",
                            team.name, la.0, la.1, lo.0, lo.1
                        ),
                    );
                }
            }
        }
        let mut radios: HashMap<dispatch::RadioId, usize> = HashMap::new();
        for (i, radio) in self.radios.iter().enumerate() {
            if radio.role.is_some() && radio.team.is_none() {
                c.push(
                    at!("radio", i, "role"),
                    format!(
                        "[[radio]] {:?}: role is set but the radio has no team: add team = \
                         \"...\" or remove the role",
                        radio.name
                    ),
                );
            }
            c.display_name(at!("radio", i, "name"), &radio.name);
            match radio.id.radio() {
                Err(e) => c.push(
                    at!("radio", i, "id"),
                    format!(
                        "[[radio]] {:?}: id {} is not a radio: {e}; write its 8-digit dial \
                         number as a string (\"57120200\") or its 24-bit air address as a number",
                        radio.name, radio.id
                    ),
                ),
                Ok(id) => match radios.get(&id) {
                    Some(&first) => c.duplicate(
                        at!("radio", i, "id"),
                        at!("radio", first, "id"),
                        format!(
                            "[[radio]] {:?}: id {} is also the id of {:?}: each radio is listed \
                             once; remove one or correct its id",
                            radio.name, radio.id, self.radios[first].name
                        ),
                    ),
                    None => {
                        radios.insert(id, i);
                    }
                },
            }
            if let Some(team) = &radio.team
                && !teams.contains_key(team.as_str())
            {
                c.push(
                    at!("radio", i, "team"),
                    format!(
                        "[[radio]] {:?}: team {team:?} is not a [[team]] name: add the team or \
                         correct the name",
                        radio.name
                    ),
                );
            }
        }
    }

    /// `[sim]`: the simulated county `serve --demo` runs.
    fn check_sim(&self, c: &mut Checks) {
        let Some(sim) = &self.sim else { return };
        let (lo, hi) = SIM_ACTIVITY_SECS;
        if !(lo..=hi).contains(&sim.mean_activity_secs) {
            c.push(
                at!("sim", "mean_activity_secs"),
                format!(
                    "[sim] mean_activity_secs = {} is out of range: set {lo:.1}..={hi:.1} (mean \
                     seconds between one radio's actions)",
                    sim.mean_activity_secs
                ),
            );
        }
        if !(0.0..=1.0).contains(&sim.out_of_coverage) {
            c.push(
                at!("sim", "out_of_coverage"),
                format!(
                    "[sim] out_of_coverage = {} is out of range: set 0.0..=1.0 (share of radios \
                     that never answer)",
                    sim.out_of_coverage
                ),
            );
        }
        if self
            .homebrew_master
            .as_ref()
            .is_none_or(|m| m.peers.is_empty())
        {
            c.push(
                at!("sim"),
                "[sim] needs a [homebrew_master] with at least one [[homebrew_master.peer]] for \
                 its sites to log into; add them or remove [sim]",
            );
        }
    }
}

/// `[[homebrew_peer]]` `i`: what its RPTC login block cannot carry as configured
/// (docs/transports.md §2.4 field widths). The callsign is checked with the peer.
fn check_rptc(c: &mut Checks, i: usize, p: &HomebrewPeerConfig) {
    let here = |key: &str| at!("homebrew_peer", i, key);
    let texts = [
        &p.location,
        &p.description,
        &p.url,
        &p.software_id,
        &p.package_id,
    ];
    for ((key, max), value) in RPTC_TEXT.into_iter().zip(texts) {
        if value.len() > max || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            c.push(
                here(key),
                format!(
                    "[[homebrew_peer]] {key} {value:?} does not fit the login's {key} field: \
                     write at most {max} printable ASCII characters"
                ),
            );
        }
    }
    c.bound(here("rx_freq_hz"), &RPTC_RX_FREQ_HZ, p.rx_freq_hz);
    c.bound(here("tx_freq_hz"), &RPTC_TX_FREQ_HZ, p.tx_freq_hz);
    c.bound(here("tx_power_dbm"), &RPTC_TX_POWER_DBM, p.tx_power_dbm);
    if let Some(cc) = p.colour_code {
        c.bound(here("colour_code"), &RPTC_COLOUR_CODE, cc);
    }
    c.bound(here("slots"), &RPTC_SLOTS, p.slots);
    for (key, value, (lo, hi), means) in [
        ("latitude", p.latitude, RPTC_LATITUDE, "degrees north"),
        ("longitude", p.longitude, RPTC_LONGITUDE, "degrees east"),
    ] {
        if !(lo..=hi).contains(&value) {
            c.push(
                here(key),
                format!(
                    "[[homebrew_peer]] {key} = {value} is out of range: set {lo:.1}..={hi:.1} \
                     ({means})"
                ),
            );
        }
    }
    let (lo, hi) = RPTC_HEIGHT_M;
    if !(lo..=hi).contains(&p.height_m) {
        c.push(
            here("height_m"),
            format!(
                "[[homebrew_peer]] height_m = {} is out of range: set {lo}..={hi} (antenna \
                 height sent in the login, metres)",
                p.height_m
            ),
        );
    }
}
