//! The TOML configuration: one file, unknown keys rejected, every default written down.
//!
//! `trunkgate check-config FILE` parses and validates it and explains each problem in words a
//! radio engineer would use; `trunkgate serve --demo` runs on [`DEMO`], embedded in the binary.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The embedded demo configuration: one simulated county on loopback.
pub const DEMO: &str = include_str!("../../config/demo.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Gateway-wide settings.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// The gRPC API.
    #[serde(default)]
    pub api: ApiConfig,
    /// The event journal.
    #[serde(default)]
    pub journal: JournalConfig,
    /// Over-the-air command handling.
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// Radio sites (base stations / repeaters) the gateway reaches.
    #[serde(default, rename = "site")]
    pub sites: Vec<SiteConfig>,
    /// The gateway's own Homebrew master, which repeaters and gateways log into.
    #[serde(default)]
    pub homebrew_master: Option<HomebrewMasterConfig>,
    /// Homebrew masters the gateway logs into as a peer.
    #[serde(default, rename = "homebrew_peer")]
    pub homebrew_peers: Vec<HomebrewPeerConfig>,
    /// MMDVM modems (control stations) on serial ports or UDP.
    #[serde(default, rename = "mmdvm")]
    pub mmdvm: Vec<MmdvmConfig>,
    /// Field teams.
    #[serde(default, rename = "team")]
    pub teams: Vec<TeamConfig>,
    /// Known radios with their names.
    #[serde(default, rename = "radio")]
    pub radios: Vec<RadioConfig>,
    /// Known talkgroups with their names.
    #[serde(default, rename = "talkgroup")]
    pub talkgroups: Vec<TalkgroupConfig>,
    /// The simulated network (demo and load generation only).
    #[serde(default)]
    pub sim: Option<SimConfig>,
}

/// `[gateway]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Where the journal and other state live.
    pub data_dir: PathBuf,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            data_dir: PathBuf::from("data"),
        }
    }
}

/// `[api]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Serve gRPC server reflection (for grpcurl).
    pub reflection: bool,
    /// Events a watcher may have queued before it is cut with a resume cursor.
    pub watch_queue: usize,
    /// Seconds between heartbeats on an idle event stream.
    pub heartbeat_secs: u64,
    /// Open API connections at once (1-100000); more are closed on accept. The soft
    /// file-handle limit is raised at start to this plus 256, up to the hard limit.
    pub max_connections: usize,
    /// Open API connections at once from one client IP address (1-max_connections).
    pub max_connections_per_client: usize,
    /// Concurrent HTTP/2 streams (calls) on one connection (1-10000).
    pub max_streams_per_connection: u32,
    /// Concurrent calls from one client IP address over all its connections (1-100000);
    /// more are refused with RESOURCE_EXHAUSTED.
    pub max_streams_per_client: usize,
    /// Seconds a new connection has to send the HTTP/2 preface before it is closed (1-300).
    pub handshake_timeout_secs: u64,
    /// Seconds without a frame from a client before it is pinged (1-3600).
    pub keepalive_interval_secs: u64,
    /// Seconds a ping may go unanswered before the connection is closed (1-600).
    pub keepalive_timeout_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            reflection: true,
            watch_queue: 4096,
            heartbeat_secs: 5,
            max_connections: 512,
            max_connections_per_client: 64,
            max_streams_per_connection: 128,
            max_streams_per_client: 512,
            handshake_timeout_secs: 10,
            keepalive_interval_secs: 30,
            keepalive_timeout_secs: 10,
        }
    }
}

impl ApiConfig {
    /// The connection bounds that are out of range, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut range = |key: &str, value: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&value) {
                out.push(format!("api: {key} = {value} is not {lo}-{hi}"));
            }
        };
        range("max_connections", self.max_connections as u64, 1, 100_000);
        range(
            "max_connections_per_client",
            self.max_connections_per_client as u64,
            1,
            self.max_connections.max(1) as u64,
        );
        range(
            "max_streams_per_client",
            self.max_streams_per_client as u64,
            1,
            100_000,
        );
        range(
            "max_streams_per_connection",
            u64::from(self.max_streams_per_connection),
            1,
            10_000,
        );
        range(
            "handshake_timeout_secs",
            self.handshake_timeout_secs,
            1,
            300,
        );
        range(
            "keepalive_interval_secs",
            self.keepalive_interval_secs,
            1,
            3_600,
        );
        range(
            "keepalive_timeout_secs",
            self.keepalive_timeout_secs,
            1,
            600,
        );
        out
    }
}

/// Names with control characters (they would reach tables and logs raw), in words.
fn control_in_names(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, name: &str, key: &str, value: &str| {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            out.push(format!(
                "{what} {name:?}: {key} must not contain control characters (found {c:?})"
            ));
        }
    };
    for s in &config.sites {
        check("site", &s.name, "name", &s.name);
        let display = s.display_name.as_deref().unwrap_or("");
        check("site", &s.name, "display_name", display);
    }
    for t in &config.teams {
        check("team", &t.name, "name", &t.name);
        check("team", &t.name, "display_name", &t.display_name);
    }
    for r in &config.radios {
        check("radio", &r.name, "name", &r.name);
    }
    for t in &config.talkgroups {
        check("talkgroup", &t.name, "name", &t.name);
    }
    out
}

/// `[journal]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// `full` survives power loss; `normal` survives a process crash only.
    pub synchronous: Synchronous,
    /// Days of events kept (older ones are pruned once a newer snapshot exists).
    pub retention_days: u32,
    /// Events between two state snapshots.
    pub snapshot_every: u64,
    /// Shortest time between two commits, in milliseconds (0: commit as soon as the
    /// driver's queue is drained). See `DriverConfig::commit_gap`.
    pub commit_gap_ms: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            synchronous: Synchronous::Full,
            retention_days: 30,
            snapshot_every: 10_000,
            commit_gap_ms: 0,
        }
    }
}

/// SQLite `synchronous` setting of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync at every commit.
    Full,
    /// fsync at checkpoints only.
    Normal,
}

/// `[dispatch]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// Seconds to wait for a radio's answer before the next try.
    pub answer_timeout_secs: u64,
    /// Tries per command (first one included).
    pub attempts: u32,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            answer_timeout_secs: 5,
            attempts: 3,
        }
    }
}

/// `[[site]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Short name, used by links and in resource names (`sites/{name}`).
    pub name: String,
    /// Name shown to dispatchers.
    #[serde(default)]
    pub display_name: Option<String>,
    /// How commands are carried on this site's air interface.
    #[serde(default)]
    pub profile: AirProfile,
    /// Which CRC/RS masks this site's frames carry.
    #[serde(default)]
    pub dialect: Dialect,
    /// Colour code of the site's channels.
    #[serde(default = "default_colour_code")]
    pub colour_code: u8,
}

fn default_colour_code() -> u8 {
    1
}

/// The air profile of a site (docs/air-commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AirProfile {
    /// PDT trunked or conventional (GA/T 1056-1059), the 370 MHz network's own.
    #[default]
    Pdt,
    /// ETSI DMR Tier III trunked site.
    Tier3,
    /// Conventional DMR with DMRA (FID 0x10) control blocks.
    Dmra,
}

/// Mask set of a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Try DMR then PDT on receive; transmit with the profile's own masks.
    #[default]
    Auto,
    /// DMR masks.
    Dmr,
    /// PDT masks.
    Pdt,
}

/// `[homebrew_master]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomebrewMasterConfig {
    /// UDP address to listen on.
    pub bind: SocketAddr,
    /// Seconds of silence after which a peer is dead.
    #[serde(default = "default_peer_timeout")]
    pub peer_timeout_secs: u64,
    /// Milliseconds a slot stays reserved for the current stream after it ends.
    #[serde(default = "default_hang_time")]
    pub hang_time_ms: u64,
    /// Repeaters and gateways allowed to log in.
    #[serde(rename = "peer")]
    pub peers: Vec<HomebrewMasterPeer>,
}

fn default_peer_timeout() -> u64 {
    60
}

fn default_hang_time() -> u64 {
    3000
}

/// `[[homebrew_master.peer]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomebrewMasterPeer {
    /// The peer's radio ID (32 bits on the wire).
    pub id: u32,
    /// Its passphrase.
    pub passphrase: String,
    /// The site its traffic belongs to.
    pub site: String,
    /// Talkgroups (24-bit air addresses) whose group traffic is relayed to and from it (all
    /// when absent; private calls always pass).
    #[serde(default)]
    pub talkgroups: Option<Vec<u32>>,
    /// Slots relayed to and from it (both when absent).
    #[serde(default)]
    pub slots: Option<Vec<u8>>,
}

/// `[[homebrew_peer]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomebrewPeerConfig {
    /// The master to log into.
    pub master: SocketAddr,
    /// Our local address (port 0 for any).
    #[serde(default = "default_any")]
    pub bind: SocketAddr,
    /// Our radio ID.
    pub id: u32,
    /// The master's passphrase for us.
    pub passphrase: String,
    /// The site this link carries.
    pub site: String,
    /// Callsign sent in the RPTC block.
    #[serde(default = "default_callsign")]
    pub callsign: String,
}

fn default_any() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

fn default_callsign() -> String {
    "TRUNKGW".to_string()
}

/// `[[mmdvm]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmdvmConfig {
    /// The site this modem listens to.
    pub site: String,
    /// Serial device path (e.g. /dev/ttyACM0); absent when `udp_remote` is set.
    #[serde(default)]
    pub port: Option<PathBuf>,
    /// Baud rate of the serial port.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Modem UDP address, for modems reached over the network.
    #[serde(default)]
    pub udp_remote: Option<SocketAddr>,
    /// Local UDP address for `udp_remote`.
    #[serde(default)]
    pub udp_local: Option<SocketAddr>,
    /// Duplex (repeater / control station) or simplex.
    #[serde(default = "default_true")]
    pub duplex: bool,
}

fn default_baud() -> u32 {
    115_200
}

fn default_true() -> bool {
    true
}

/// `[[team]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Short name (`teams/{name}`).
    pub name: String,
    /// Name shown to dispatchers.
    pub display_name: String,
    /// The team's talkgroup (dial number or air address).
    #[serde(default)]
    pub talkgroup: Option<IdOrNumber>,
}

/// `[[radio]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioConfig {
    /// The radio: PDT dial number (8 digits, as a string) or 24-bit air address.
    pub id: IdOrNumber,
    /// Name shown to dispatchers.
    pub name: String,
    /// Team it belongs to.
    #[serde(default)]
    pub team: Option<String>,
}

/// `[[talkgroup]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalkgroupConfig {
    /// The talkgroup: PDT dial number (as a string) or 24-bit air address.
    pub id: IdOrNumber,
    /// Name shown to dispatchers.
    pub name: String,
}

/// An identity written either as a PDT dial number (`"57120200"`) or as an air address (`9011201`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IdOrNumber {
    /// 24-bit air address.
    Air(u32),
    /// PDT dial number, digits only.
    Number(String),
}

/// `[sim]`: the simulated network the demo runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of the traffic generator; a run with the same seed repeats its traffic.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Mean seconds between actions of one radio.
    #[serde(default = "default_activity")]
    pub mean_activity_secs: f64,
    /// Share of radios out of coverage (never answer).
    #[serde(default = "default_out_of_coverage")]
    pub out_of_coverage: f64,
}

fn default_seed() -> u64 {
    370
}

fn default_activity() -> f64 {
    20.0
}

fn default_out_of_coverage() -> f64 {
    0.1
}

/// A problem `check-config` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Parse a TOML text; the error names the line, column and key when serde can.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Check what parsing cannot: references between sections, ranges, duplicates.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut say = |s: String| problems.push(Problem(s));
        self.api.problems().into_iter().for_each(&mut say);
        control_in_names(self).into_iter().for_each(&mut say);
        let mut names = HashSet::new();
        for site in &self.sites {
            if !names.insert(site.name.as_str()) {
                say(format!("site {:?} is defined twice", site.name));
            }
            if site.colour_code > 15 {
                say(format!(
                    "site {:?}: colour_code {} is not 0-15",
                    site.name, site.colour_code
                ));
            }
        }
        let site_known = |s: &str| self.sites.iter().any(|site| site.name == s);
        if let Some(master) = &self.homebrew_master {
            let mut ids = HashSet::new();
            for peer in &master.peers {
                if !ids.insert(peer.id) {
                    say(format!(
                        "homebrew_master: peer id {} is listed twice",
                        peer.id
                    ));
                }
                if !site_known(&peer.site) {
                    say(format!(
                        "homebrew_master: peer {} names site {:?}, which no [[site]] defines",
                        peer.id, peer.site
                    ));
                }
                if peer.passphrase.is_empty() {
                    say(format!(
                        "homebrew_master: peer {} has an empty passphrase",
                        peer.id
                    ));
                }
                if let Some(slots) = &peer.slots
                    && slots.iter().any(|s| !matches!(s, 1 | 2))
                {
                    say(format!(
                        "homebrew_master: peer {}: slots must be 1 or 2",
                        peer.id
                    ));
                }
            }
        }
        for peer in &self.homebrew_peers {
            if !site_known(&peer.site) {
                say(format!(
                    "homebrew_peer {}: site {:?} is not defined",
                    peer.id, peer.site
                ));
            }
        }
        for modem in &self.mmdvm {
            if !site_known(&modem.site) {
                say(format!("mmdvm: site {:?} is not defined", modem.site));
            }
            match (&modem.port, &modem.udp_remote) {
                (None, None) => say(format!(
                    "mmdvm for site {:?}: set port or udp_remote",
                    modem.site
                )),
                (Some(_), Some(_)) => say(format!(
                    "mmdvm for site {:?}: set port or udp_remote, not both",
                    modem.site
                )),
                _ => {}
            }
        }
        let teams: HashSet<&str> = self.teams.iter().map(|t| t.name.as_str()).collect();
        for radio in &self.radios {
            if let Some(team) = &radio.team
                && !teams.contains(team.as_str())
            {
                say(format!(
                    "radio {:?}: team {:?} is not defined",
                    radio.name, team
                ));
            }
        }
        if self.sites.is_empty() {
            say("no [[site]] is defined: the gateway would have nothing to listen to".to_string());
        }
        if self.homebrew_master.is_none() && self.homebrew_peers.is_empty() && self.mmdvm.is_empty()
        {
            say(
                "no link is configured ([homebrew_master], [[homebrew_peer]] or [[mmdvm]])"
                    .to_string(),
            );
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_parses_and_validates() {
        let config = Config::parse(DEMO).expect("demo config parses");
        assert_eq!(config.validate(), vec![]);
        assert!(config.sites.len() >= 3);
        assert!(config.radios.len() >= 24);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Config::parse("[api]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap_err();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn api_bounds_and_control_characters_in_names_are_explained() {
        let text = "[api]\nmax_connections = 0\nmax_connections_per_client = 5\n\
                    handshake_timeout_secs = 0\nkeepalive_interval_secs = 7200\n\
                    max_streams_per_connection = 0\nkeepalive_timeout_secs = 601\n\
                    max_streams_per_client = 0\n\
                    [[site]]\nname = \"north\\u001b[2J\"\n\
                    [[team]]\nname = \"t\"\ndisplay_name = \"A\\nB\"\n";
        let problems: Vec<String> = Config::parse(text)
            .unwrap()
            .validate()
            .into_iter()
            .map(|p| p.0)
            .collect();
        for want in [
            "api: max_connections = 0 is not 1-100000",
            "api: max_connections_per_client = 5 is not 1-1",
            "api: max_streams_per_connection = 0 is not 1-10000",
            "api: max_streams_per_client = 0 is not 1-100000",
            "api: handshake_timeout_secs = 0 is not 1-300",
            "api: keepalive_interval_secs = 7200 is not 1-3600",
            "api: keepalive_timeout_secs = 601 is not 1-600",
            "site \"north\\u{1b}[2J\": name must not contain control characters (found '\\u{1b}')",
            "team \"t\": display_name must not contain control characters (found '\\n')",
        ] {
            assert!(problems.iter().any(|p| p == want), "{want}\n{problems:#?}");
        }
        let err = Config::parse("[api]\nmax_conections = 5\n").unwrap_err();
        assert!(err.contains("max_conections"), "{err}");
    }

    #[test]
    fn dangling_references_are_explained() {
        let text = r#"
            [[site]]
            name = "a"
            [homebrew_master]
            bind = "127.0.0.1:62031"
            [[homebrew_master.peer]]
            id = 1
            passphrase = "x"
            site = "b"
        "#;
        let problems = Config::parse(text).unwrap().validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.contains("\"b\""));
    }
}
