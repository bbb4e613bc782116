//! The TOML configuration: one file, unknown keys rejected, every default written down.
//!
//! `trunkgate check-config FILE` parses and validates it and explains each problem in words a
//! radio engineer would use; `trunkgate serve --demo` runs on [`DEMO`], embedded in the binary.

mod read;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::dispatch::{IdError, RadioId, TalkgroupId};

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
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            reflection: true,
            watch_queue: 4096,
            heartbeat_secs: 5,
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl IdOrNumber {
    /// The radio this names: the same conversion `validate`, the directory and the demo use.
    pub fn radio(&self) -> Result<RadioId, IdError> {
        match self {
            IdOrNumber::Air(a) => RadioId::new(*a),
            IdOrNumber::Number(n) => n.parse(),
        }
    }

    /// The talkgroup this names.
    pub fn talkgroup(&self) -> Result<TalkgroupId, IdError> {
        match self {
            IdOrNumber::Air(a) => TalkgroupId::new(*a),
            IdOrNumber::Number(n) => n.parse(),
        }
    }
}

impl std::fmt::Display for IdOrNumber {
    /// As written in the file: a number bare, a dial number quoted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdOrNumber::Air(a) => write!(f, "{a}"),
            IdOrNumber::Number(n) => write!(f, "{n:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for IdOrNumber {
    /// A string or a whole number; anything else is refused naming both forms (serde's
    /// `untagged` would only say that no variant matched).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = IdOrNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a PDT dial number as a string (\"57120200\") or a 24-bit air address \
                     (0..=16777215)",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IdOrNumber, E> {
                u32::try_from(v)
                    .map(IdOrNumber::Air)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IdOrNumber, E> {
                u32::try_from(v)
                    .map(IdOrNumber::Air)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdOrNumber, E> {
                Ok(IdOrNumber::Number(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The bound of one whole-number key. [`BOUNDS`] lists them all; `validate` checks each, a
/// value of the wrong type names its bound, and config/demo.toml and README.md state them (a
/// test holds the three together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The key as a dotted path without indices (`homebrew_master.peer_timeout_secs`).
    pub key: &'static str,
    /// Smallest value allowed.
    pub min: u64,
    /// Largest value allowed.
    pub max: u64,
    /// What the value means, with its unit.
    pub means: &'static str,
}

/// `[api] watch_queue`.
pub const WATCH_QUEUE: Bound = Bound {
    key: "api.watch_queue",
    min: 1,
    max: 1_000_000,
    means: "events a watcher may have queued before it is cut",
};
/// `[api] heartbeat_secs`.
pub const HEARTBEAT_SECS: Bound = Bound {
    key: "api.heartbeat_secs",
    min: 1,
    max: 3_600,
    means: "seconds between heartbeats on an idle event stream",
};
/// `[journal] retention_days`.
pub const RETENTION_DAYS: Bound = Bound {
    key: "journal.retention_days",
    min: 1,
    max: 3_650,
    means: "days of events kept",
};
/// `[journal] snapshot_every`.
pub const SNAPSHOT_EVERY: Bound = Bound {
    key: "journal.snapshot_every",
    min: 1,
    max: 100_000_000,
    means: "events between two state snapshots",
};
/// `[journal] commit_gap_ms`.
pub const COMMIT_GAP_MS: Bound = Bound {
    key: "journal.commit_gap_ms",
    min: 0,
    max: 1_000,
    means: "shortest time between two journal commits, in milliseconds",
};
/// `[dispatch] answer_timeout_secs`.
pub const ANSWER_TIMEOUT_SECS: Bound = Bound {
    key: "dispatch.answer_timeout_secs",
    min: 1,
    max: 600,
    means: "seconds to wait for a radio's answer before the next try",
};
/// `[dispatch] attempts`.
pub const ATTEMPTS: Bound = Bound {
    key: "dispatch.attempts",
    min: 1,
    max: 10,
    means: "tries per command, the first one included",
};
/// `[[site]] colour_code` (4 bits on the air).
pub const COLOUR_CODE: Bound = Bound {
    key: "site.colour_code",
    min: 0,
    max: 15,
    means: "colour code of the site's channels, 4 bits on the air",
};
/// `[homebrew_master] peer_timeout_secs`: at least three of HBlink's 5 s pings.
pub const PEER_TIMEOUT_SECS: Bound = Bound {
    key: "homebrew_master.peer_timeout_secs",
    min: 15,
    max: 3_600,
    means: "seconds of silence after which a peer is dead",
};
/// `[homebrew_master] hang_time_ms`.
pub const HANG_TIME_MS: Bound = Bound {
    key: "homebrew_master.hang_time_ms",
    min: 0,
    max: 60_000,
    means: "milliseconds a slot stays reserved after a stream ends",
};
/// `[[homebrew_master.peer]] id` (32 bits on the wire; 0 names no repeater).
pub const MASTER_PEER_ID: Bound = Bound {
    key: "homebrew_master.peer.id",
    min: 1,
    max: u32::MAX as u64,
    means: "the peer's repeater ID",
};
/// `[[homebrew_peer]] id`.
pub const PEER_ID: Bound = Bound {
    key: "homebrew_peer.id",
    min: 1,
    max: u32::MAX as u64,
    means: "our repeater ID on that master",
};
/// `[[homebrew_master.peer]] talkgroups`: 24-bit air addresses.
pub const RELAY_TALKGROUP: Bound = Bound {
    key: "homebrew_master.peer.talkgroups",
    min: 1,
    max: crate::dispatch::ids::MAX_AIR_ID as u64,
    means: "talkgroup air addresses relayed to and from the peer",
};
/// `[[homebrew_master.peer]] slots`.
pub const RELAY_SLOT: Bound = Bound {
    key: "homebrew_master.peer.slots",
    min: 1,
    max: 2,
    means: "time slots relayed to and from the peer",
};

/// Baud rates an MMDVM modem's serial port may run at.
pub const BAUD_RATES: [u32; 8] = [
    9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600,
];

/// Every [`Bound`].
pub const BOUNDS: &[&Bound] = &[
    &WATCH_QUEUE,
    &HEARTBEAT_SECS,
    &RETENTION_DAYS,
    &SNAPSHOT_EVERY,
    &COMMIT_GAP_MS,
    &ANSWER_TIMEOUT_SECS,
    &ATTEMPTS,
    &COLOUR_CODE,
    &PEER_TIMEOUT_SECS,
    &HANG_TIME_MS,
    &MASTER_PEER_ID,
    &PEER_ID,
    &RELAY_TALKGROUP,
    &RELAY_SLOT,
];

/// One step of a [`KeyPath`]: a key, or an index into an array (`[[radio]]` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of a table.
    Key(String),
    /// An entry of an array, from 0.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Seg {
        Seg::Key(key.to_owned())
    }
}

impl From<usize> for Seg {
    fn from(index: usize) -> Seg {
        Seg::Index(index)
    }
}

/// Where in the file a problem is: `["radio", 3, "id"]`; empty for the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Seg>);

/// A [`KeyPath`] from keys and indices: `at!("radio", i, "id")`.
macro_rules! at {
    ($($seg:expr),* $(,)?) => {
        $crate::app::config::KeyPath(vec![$($crate::app::config::Seg::from($seg)),*])
    };
}
pub(crate) use at;

impl KeyPath {
    /// The keys alone, dotted (`homebrew_master.peer.id`): how [`Bound::key`] names a key.
    pub fn dotted(&self) -> String {
        let keys: Vec<&str> = self
            .0
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect();
        keys.join(".")
    }

    /// The key as the file's headers write it: `[dispatch] attempts`, `[[radio]] id`,
    /// `[[homebrew_master.peer]]`.
    pub fn label(&self) -> String {
        let keys: Vec<&str> = self
            .0
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect();
        match self.0.as_slice() {
            [] => String::new(),
            [.., Seg::Index(_)] => format!("[[{}]]", keys.join(".")),
            [_] => format!("[{}]", keys.join(".")),
            [.., before, Seg::Key(leaf)] => {
                let section = keys[..keys.len() - 1].join(".");
                if matches!(before, Seg::Index(_)) {
                    format!("[[{section}]] {leaf}")
                } else {
                    format!("[{section}] {leaf}")
                }
            }
        }
    }
}

/// One problem with a configuration: where it is and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key it is about.
    pub at: KeyPath,
    /// Line and column (from 1) of the key's value in the file, when the text is known and
    /// the key (or the nearest table around it) is written there.
    pub line_col: Option<(usize, usize)>,
    /// What is wrong and what to change, in a radio engineer's words.
    pub message: String,
    /// For a duplicate: the earlier definition it clashes with ([`Config::load`] appends
    /// its line to the message).
    pub first: Option<KeyPath>,
}

impl Problem {
    /// A problem about the key at `at`.
    pub fn new(at: KeyPath, message: impl Into<String>) -> Problem {
        Problem {
            at,
            line_col: None,
            message: message.into(),
            first: None,
        }
    }
}

impl std::fmt::Display for Problem {
    /// `line:column: message`, or the message alone for the file as a whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line_col {
            Some((line, column)) => write!(f, "{line}:{column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found in one reading of a configuration, in file order (those about the
/// file as a whole last).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report(pub Vec<Problem>);

impl Report {
    /// One line per problem, each prefixed with `origin:` (the file name), as `check-config`
    /// and `serve` print it.
    pub fn render(&self, origin: &str) -> String {
        let mut out = String::new();
        for p in &self.0 {
            out.push_str(origin);
            out.push(':');
            if p.line_col.is_none() {
                out.push(' ');
            }
            out.push_str(&p.to_string());
            out.push('\n');
        }
        out
    }

    fn sort(&mut self) {
        // Stable: problems on one line keep the order the checks found them in.
        self.0
            .sort_by_key(|p| p.line_col.map_or((usize::MAX, 0), |lc| lc));
    }
}

impl std::fmt::Display for Report {
    /// One problem a line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

impl Config {
    /// Read a TOML text: every syntax error the parser recovers from, or else every key of
    /// the wrong type, unknown or missing, each with its line and column. No semantic
    /// checks: see [`Config::load`].
    pub fn parse(text: &str) -> Result<Config, Report> {
        let (config, problems) = read::read(text);
        match config {
            Some((config, _)) if problems.is_empty() => Ok(config),
            _ => {
                let mut report = Report(problems);
                report.sort();
                Err(report)
            }
        }
    }

    /// Read and check a TOML text: what `check-config` and `serve` both run. Every problem
    /// is reported at once, each with its line and column: syntax errors (the parser stops
    /// trying at the ones it cannot recover from), else keys of the wrong type together with
    /// everything [`Config::validate`] finds in the rest.
    pub fn load(text: &str) -> Result<Config, Report> {
        let (config, mut problems) = read::read(text);
        let Some((config, source)) = config else {
            let mut report = Report(problems);
            report.sort();
            return Err(report);
        };
        for mut p in config.validate() {
            if source.follows_from_removal(&p) {
                continue;
            }
            p.line_col = source.locate(&p.at);
            if let Some((line, _)) = p.first.as_ref().and_then(|f| source.locate(f)) {
                p.message.push_str(&format!(" (first at line {line})"));
            }
            problems.push(p);
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            let mut report = Report(problems);
            report.sort();
            Err(report)
        }
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
