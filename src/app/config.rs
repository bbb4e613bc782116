//! The TOML configuration: one file, unknown keys rejected, every default written down, every
//! number bounded ([`BOUNDS`]).
//!
//! [`Config::load`] is the one way in for `trunkgate check-config FILE` and `trunkgate serve`:
//! it reads the text (`read`: every syntax error the parser gets past, else every key of the
//! wrong type, unknown or missing), runs [`Config::validate`] (`validate`: every check `serve`
//! relies on) and returns a [`Report`] of every problem, each with its line and column, what
//! is wrong and what to write instead, in words a radio engineer would use. `serve` never fails
//! on a configuration `check-config` passed, save on what the file cannot tell (a port in use,
//! a missing serial device). `trunkgate serve --demo` runs on [`DEMO`], embedded in the binary.

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
    /// Prometheus metrics over HTTP (off unless `listen` is given).
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Log level and format (`RUST_LOG` and `TRUNKGATE_LOG_FORMAT` win over these).
    #[serde(default)]
    pub log: LogConfig,
    /// Who may use the API, TLS, the command rate limit ([`super::access`]).
    #[serde(default)]
    pub access: super::access::AccessConfig,
}

/// `[metrics]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served (Prometheus text format); off when absent.
    pub listen: Option<SocketAddr>,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: a level (`info`) or directives (`info,trunkgate::link=debug`).
    pub level: String,
    /// `text` (one readable line a record) or `json` (one JSON object a line).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// How log records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line a record.
    Text,
    /// One JSON object a line, span fields included.
    Json,
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
    /// Open API connections at once; more are closed on accept. The soft file-handle limit
    /// is raised at start to this plus 256, up to the hard limit.
    pub max_connections: usize,
    /// Open API connections at once from one client IP address (at most `max_connections`).
    pub max_connections_per_client: usize,
    /// Concurrent HTTP/2 streams (calls) on one connection.
    pub max_streams_per_connection: u32,
    /// Concurrent calls from one client IP address over all its connections; more are
    /// refused with RESOURCE_EXHAUSTED.
    pub max_streams_per_client: usize,
    /// Seconds a new connection has to send the HTTP/2 preface before it is closed.
    pub handshake_timeout_secs: u64,
    /// Seconds without a frame from a client before it is pinged.
    pub keepalive_interval_secs: u64,
    /// Seconds a ping may go unanswered before the connection is closed.
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

/// `[journal]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// `full` survives power loss; `normal` survives a process crash only.
    pub synchronous: Synchronous,
    /// Days of events kept (older ones are pruned once a newer snapshot exists).
    pub retention_days: u32,
    /// Days audit entries are kept at least, whatever `retention_days` says.
    pub audit_retention_days: u32,
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
            audit_retention_days: 365,
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
    /// Seconds a kill waits for a second supervisor's approval before it expires.
    pub kill_approval_window_secs: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            answer_timeout_secs: 5,
            attempts: 3,
            kill_approval_window_secs: 300,
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
    /// Timeslot (1 or 2) for control and data traffic to radios, and for group traffic to
    /// talkgroups without a `slot` of their own (docs/air-commands.md §0 "Which slot").
    #[serde(default = "default_slot")]
    pub slot: u8,
    /// Send to a radio on the slot it was last heard on at this site, where known.
    #[serde(default)]
    pub follow_heard_slot: bool,
    /// Air time the path adds beyond what the gateway sends, ms (MMDVMHost expands each network
    /// data preamble into 15 on the air: about 5,040 for 6 preambles); extends answer windows.
    #[serde(default)]
    pub extra_air_ms: u64,
    /// How texts to this site's radios are sent: what its fleet's radios decode.
    #[serde(default)]
    pub text_form: TextForm,
}

fn default_slot() -> u8 {
    1
}

/// How a link spaces the bursts of the gateway's transmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxPacing {
    /// One burst per `tx_burst_interval_ms` per slot (60 ms: the air rate).
    #[default]
    AirRate,
    /// Every burst at once (explicit choice only).
    AtOnce,
}

fn default_burst_interval() -> u64 {
    60
}

/// The link pacing of `pacing` / `interval_ms`.
pub fn pacing(pacing: TxPacing, interval_ms: u64) -> crate::link::Pacing {
    match pacing {
        TxPacing::AirRate => {
            crate::link::Pacing::AirRate(std::time::Duration::from_millis(interval_ms))
        }
        TxPacing::AtOnce => crate::link::Pacing::AtOnce,
    }
}

/// The form a site's texts take on the air (`[[site]] text_form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextForm {
    /// PDT SMS: compressed UDP/IP, UTF-16BE (docs/air-commands.md §5).
    #[default]
    PdtSms,
    /// Motorola TMS over IP, UDP 4007 (docs/ip-data.md).
    MotorolaTms,
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
    /// `air_rate` (default) or `at_once`.
    #[serde(default)]
    pub tx_pacing: TxPacing,
    /// Milliseconds between two bursts of one slot with `air_rate` (60: the air rate).
    #[serde(default = "default_burst_interval")]
    pub tx_burst_interval_ms: u64,
    /// Relay bursts between the peers (HBlink's repeat mode; true by default). False hands
    /// each peer's traffic to the gateway alone: what reaches a site is what the gateway
    /// sends it (group traffic goes to every site of the group regardless,
    /// docs/air-commands.md §0).
    #[serde(default = "default_relay")]
    pub relay: bool,
}

fn default_relay() -> bool {
    true
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
    /// The slot (1 or 2) the gateway's own transmissions to this peer go on, whatever the
    /// site's slot (one master serving repeaters with different slots at one site).
    #[serde(default)]
    pub command_slot: Option<u8>,
    /// The source IP addresses this peer may log in and send from (any when absent);
    /// datagrams naming it from elsewhere are dropped and counted (`source_refused`).
    #[serde(default)]
    pub allowed_sources: Option<Vec<std::net::IpAddr>>,
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
    /// Callsign sent in the RPTC block (8 characters at most).
    #[serde(default = "default_callsign")]
    pub callsign: String,
    /// RPTC receive frequency, Hz (0 when not given).
    #[serde(default)]
    pub rx_freq_hz: u32,
    /// RPTC transmit frequency, Hz.
    #[serde(default)]
    pub tx_freq_hz: u32,
    /// RPTC transmit power, dBm (0-99).
    #[serde(default)]
    pub tx_power_dbm: u8,
    /// RPTC colour code (0-15); the site's when absent.
    #[serde(default)]
    pub colour_code: Option<u8>,
    /// RPTC latitude, degrees north.
    #[serde(default)]
    pub latitude: f64,
    /// RPTC longitude, degrees east.
    #[serde(default)]
    pub longitude: f64,
    /// RPTC antenna height, metres (-99 to 999).
    #[serde(default)]
    pub height_m: i32,
    /// RPTC location (20 characters at most).
    #[serde(default)]
    pub location: String,
    /// RPTC description (19 characters at most).
    #[serde(default)]
    pub description: String,
    /// RPTC URL (124 characters at most).
    #[serde(default)]
    pub url: String,
    /// RPTC software ID (40 characters at most).
    #[serde(default = "default_software_id")]
    pub software_id: String,
    /// RPTC package ID (40 characters at most).
    #[serde(default = "default_package_id")]
    pub package_id: String,
    /// RPTC slots: 1, 2, 3 (both) duplex, 4 simplex; 3 when absent.
    #[serde(default = "default_rptc_slots")]
    pub slots: u8,
    /// `air_rate` (default) or `at_once`.
    #[serde(default)]
    pub tx_pacing: TxPacing,
    /// Milliseconds between two bursts of one slot with `air_rate` (60: the air rate).
    #[serde(default = "default_burst_interval")]
    pub tx_burst_interval_ms: u64,
}

fn default_software_id() -> String {
    concat!("trunkgate ", env!("CARGO_PKG_VERSION")).to_string()
}

fn default_package_id() -> String {
    "trunkgate".to_string()
}

fn default_rptc_slots() -> u8 {
    3
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
    /// Write a BS_Dwn_Act wake-up to this repeater ID on TS1 before transmitting after a
    /// quiet spell (duplex only; a duplex MMDVMHost repeater hearing our transmitter ignores
    /// everything until woken).
    #[serde(default)]
    pub wake_up_repeater_id: Option<u32>,
    /// `air_rate` (default) or `at_once`.
    #[serde(default)]
    pub tx_pacing: TxPacing,
    /// Milliseconds between two bursts of one slot with `air_rate` (60: the air rate).
    #[serde(default = "default_burst_interval")]
    pub tx_burst_interval_ms: u64,
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
    /// Organisation level: county, township, village, professional or volunteer.
    #[serde(default)]
    pub level: Option<crate::dispatch::TeamLevel>,
    /// Names of the `[[team]]`s a call-out calls next when this team does not answer.
    #[serde(default)]
    pub backups: Vec<String>,
    /// Where the team is based: `[latitude, longitude]` in degrees.
    #[serde(default)]
    pub home: Option<[f64; 2]>,
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
    /// Its role in the team: `leader` or `member` (the default).
    #[serde(default)]
    pub role: Option<crate::dispatch::TeamRole>,
}

/// `[[talkgroup]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TalkgroupConfig {
    /// The talkgroup: PDT dial number (as a string) or 24-bit air address.
    pub id: IdOrNumber,
    /// Name shown to dispatchers.
    pub name: String,
    /// Timeslot (1 or 2) for group traffic to it; the site's `slot` when absent.
    #[serde(default)]
    pub slot: Option<u8>,
    /// `[[site]]` names group traffic to it always goes to, besides the sites where its
    /// members are heard (static routing).
    #[serde(default)]
    pub sites: Vec<String>,
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
            IdOrNumber::Number(n) => strict(n)?.parse(),
        }
    }

    /// The talkgroup this names.
    pub fn talkgroup(&self) -> Result<TalkgroupId, IdError> {
        match self {
            IdOrNumber::Air(a) => TalkgroupId::new(*a),
            IdOrNumber::Number(n) => strict(n)?.parse(),
        }
    }
}

/// A quoted number in the file is a dial number: all digits must be exactly 8 (a plain
/// decimal DMR ID, which operators may type elsewhere, is written as a bare number here, so a
/// dial number missing a digit is an error rather than another radio).
fn strict(n: &str) -> Result<&str, IdError> {
    if n.bytes().all(|b| b.is_ascii_digit()) && n.len() != 8 {
        Err(IdError::NotEightDigits)
    } else {
        Ok(n)
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
/// `[api] max_connections`.
pub const MAX_CONNECTIONS: Bound = Bound {
    key: "api.max_connections",
    min: 1,
    max: 100_000,
    means: "API connections open at once",
};
/// `[api] max_connections_per_client` (and at most `max_connections`, checked apart).
pub const MAX_CONNECTIONS_PER_CLIENT: Bound = Bound {
    key: "api.max_connections_per_client",
    min: 1,
    max: 100_000,
    means: "API connections open at once from one client IP address",
};
/// `[api] max_streams_per_connection`.
pub const MAX_STREAMS_PER_CONNECTION: Bound = Bound {
    key: "api.max_streams_per_connection",
    min: 1,
    max: 10_000,
    means: "calls open at once on one API connection",
};
/// `[api] max_streams_per_client`.
pub const MAX_STREAMS_PER_CLIENT: Bound = Bound {
    key: "api.max_streams_per_client",
    min: 1,
    max: 100_000,
    means: "calls open at once from one client IP address",
};
/// `[api] handshake_timeout_secs`.
pub const HANDSHAKE_TIMEOUT_SECS: Bound = Bound {
    key: "api.handshake_timeout_secs",
    min: 1,
    max: 300,
    means: "seconds a new connection has to send the HTTP/2 preface",
};
/// `[api] keepalive_interval_secs`.
pub const KEEPALIVE_INTERVAL_SECS: Bound = Bound {
    key: "api.keepalive_interval_secs",
    min: 1,
    max: 3_600,
    means: "seconds without a frame from a client before it is pinged",
};
/// `[api] keepalive_timeout_secs`.
pub const KEEPALIVE_TIMEOUT_SECS: Bound = Bound {
    key: "api.keepalive_timeout_secs",
    min: 1,
    max: 600,
    means: "seconds a ping may go unanswered before the connection is closed",
};
/// `[journal] retention_days`.
pub const RETENTION_DAYS: Bound = Bound {
    key: "journal.retention_days",
    min: 1,
    max: 3_650,
    means: "days of events kept",
};
/// `[journal] audit_retention_days`.
pub const AUDIT_RETENTION_DAYS: Bound = Bound {
    key: "journal.audit_retention_days",
    min: 1,
    max: 36_500,
    means: "days audit entries are kept at least",
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
/// `[dispatch] kill_approval_window_secs`.
pub const KILL_APPROVAL_WINDOW_SECS: Bound = Bound {
    key: "dispatch.kill_approval_window_secs",
    min: 10,
    max: 86_400,
    means: "seconds a kill waits for a second supervisor's approval",
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
/// `[[site]] slot`: the timeslot of commands and data (docs/air-commands.md §0 "Which slot").
pub const SITE_SLOT: Bound = Bound {
    key: "site.slot",
    min: 1,
    max: 2,
    means: "the timeslot commands, data and group traffic go on",
};
/// `[[site]] extra_air_ms`.
pub const EXTRA_AIR_MS: Bound = Bound {
    key: "site.extra_air_ms",
    min: 0,
    max: 60_000,
    means: "milliseconds of air time the path adds beyond what the gateway sends",
};
/// `[[talkgroup]] slot`.
pub const TALKGROUP_SLOT: Bound = Bound {
    key: "talkgroup.slot",
    min: 1,
    max: 2,
    means: "the timeslot of group traffic to the talkgroup",
};
/// `[[homebrew_master.peer]] command_slot`.
pub const COMMAND_SLOT: Bound = Bound {
    key: "homebrew_master.peer.command_slot",
    min: 1,
    max: 2,
    means: "the timeslot the gateway's own transmissions to the peer go on",
};
/// `[homebrew_master] tx_burst_interval_ms` (60 ms: one burst per slot per TDMA frame,
/// TS 102 361-1 §4.2).
pub const MASTER_BURST_INTERVAL_MS: Bound = Bound {
    key: "homebrew_master.tx_burst_interval_ms",
    min: 1,
    max: 1_000,
    means: "milliseconds between two bursts of one slot with tx_pacing = \"air_rate\"; 60 is \
            the air rate",
};
/// `[[homebrew_peer]] tx_burst_interval_ms`.
pub const PEER_BURST_INTERVAL_MS: Bound = Bound {
    key: "homebrew_peer.tx_burst_interval_ms",
    ..MASTER_BURST_INTERVAL_MS
};
/// `[[mmdvm]] tx_burst_interval_ms`.
pub const MMDVM_BURST_INTERVAL_MS: Bound = Bound {
    key: "mmdvm.tx_burst_interval_ms",
    ..MASTER_BURST_INTERVAL_MS
};
/// `[[homebrew_peer]] rx_freq_hz`: 9 digits in the RPTC block (docs/transports.md §2.4).
pub const RPTC_RX_FREQ_HZ: Bound = Bound {
    key: "homebrew_peer.rx_freq_hz",
    min: 0,
    max: 999_999_999,
    means: "the receive frequency sent in the login, in Hz, 9 digits",
};
/// `[[homebrew_peer]] tx_freq_hz`: 9 digits in the RPTC block (docs/transports.md §2.4).
pub const RPTC_TX_FREQ_HZ: Bound = Bound {
    key: "homebrew_peer.tx_freq_hz",
    min: 0,
    max: 999_999_999,
    means: "the transmit frequency sent in the login, in Hz, 9 digits",
};
/// `[[homebrew_peer]] tx_power_dbm`: 2 digits in the RPTC block (docs/transports.md §2.4).
pub const RPTC_TX_POWER_DBM: Bound = Bound {
    key: "homebrew_peer.tx_power_dbm",
    min: 0,
    max: 99,
    means: "the transmit power sent in the login, in dBm",
};
/// `[[homebrew_peer]] colour_code`: 2 digits in the RPTC block, 4 bits on the air.
pub const RPTC_COLOUR_CODE: Bound = Bound {
    key: "homebrew_peer.colour_code",
    min: 0,
    max: 15,
    means: "the colour code sent in the login",
};
/// `[[homebrew_peer]] slots`: 1 digit in the RPTC block (docs/transports.md §2.4).
pub const RPTC_SLOTS: Bound = Bound {
    key: "homebrew_peer.slots",
    min: 0,
    max: 4,
    means: "the slots sent in the login: 1 or 2, 3 for both (duplex), 4 simplex",
};
/// `[[mmdvm]] wake_up_repeater_id`: the BS_Dwn_Act target, a 24-bit air address.
pub const WAKE_UP_REPEATER_ID: Bound = Bound {
    key: "mmdvm.wake_up_repeater_id",
    min: 0,
    max: crate::dispatch::ids::MAX_AIR_ID as u64,
    means: "the repeater ID a BS_Dwn_Act wake-up is sent to, 24 bits on the air",
};

/// Baud rates an MMDVM modem's serial port may run at.
pub const BAUD_RATES: [u32; 8] = [
    9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600,
];

/// Every [`Bound`].
pub const BOUNDS: &[&Bound] = &[
    &WATCH_QUEUE,
    &HEARTBEAT_SECS,
    &MAX_CONNECTIONS,
    &MAX_CONNECTIONS_PER_CLIENT,
    &MAX_STREAMS_PER_CONNECTION,
    &MAX_STREAMS_PER_CLIENT,
    &HANDSHAKE_TIMEOUT_SECS,
    &KEEPALIVE_INTERVAL_SECS,
    &KEEPALIVE_TIMEOUT_SECS,
    &RETENTION_DAYS,
    &AUDIT_RETENTION_DAYS,
    &SNAPSHOT_EVERY,
    &COMMIT_GAP_MS,
    &ANSWER_TIMEOUT_SECS,
    &ATTEMPTS,
    &KILL_APPROVAL_WINDOW_SECS,
    &COLOUR_CODE,
    &PEER_TIMEOUT_SECS,
    &HANG_TIME_MS,
    &MASTER_PEER_ID,
    &PEER_ID,
    &RELAY_TALKGROUP,
    &RELAY_SLOT,
    &SITE_SLOT,
    &EXTRA_AIR_MS,
    &TALKGROUP_SLOT,
    &COMMAND_SLOT,
    &MASTER_BURST_INTERVAL_MS,
    &PEER_BURST_INTERVAL_MS,
    &MMDVM_BURST_INTERVAL_MS,
    &RPTC_RX_FREQ_HZ,
    &RPTC_TX_FREQ_HZ,
    &RPTC_TX_POWER_DBM,
    &RPTC_COLOUR_CODE,
    &RPTC_SLOTS,
    &WAKE_UP_REPEATER_ID,
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
            // An entry of a list of values (`slots = [1, 2]`) inside a `[[table]]`.
            [.., Seg::Index(_), Seg::Key(leaf), Seg::Index(_)] => {
                format!("[[{}]] {leaf}", keys[..keys.len() - 1].join("."))
            }
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

    /// A valid configuration of 8 lines; tests append to it, so their keys start at line 9.
    const BASE: &str = r#"[[site]]
name = "a"
[homebrew_master]
bind = "127.0.0.1:62031"
[[homebrew_master.peer]]
id = 1
passphrase = "x"
site = "a"
"#;

    /// What `check-config` prints for `BASE` followed by `extra`, as file `t.toml`.
    fn report(extra: &str) -> String {
        let text = format!("{BASE}{extra}");
        match Config::load(&text) {
            Ok(_) => panic!("no problem found in:\n{text}"),
            Err(report) => report.render("t.toml"),
        }
    }

    #[test]
    fn demo_config_parses_and_validates() {
        let config = Config::load(DEMO).expect("demo config loads");
        assert_eq!(config.validate(), vec![]);
        assert!(config.sites.len() >= 3);
        assert!(config.radios.len() >= 24);
    }

    #[test]
    fn a_site_text_form_is_one_of_the_named_forms() {
        let text = BASE.replace(
            "name = \"a\"\n",
            "name = \"a\"\ntext_form = \"motorola_tms\"\n",
        );
        let config = Config::load(&text).expect("loads");
        assert_eq!(config.sites[0].text_form, TextForm::MotorolaTms);
        assert_eq!(
            Config::load(BASE).unwrap().sites[0].text_form,
            TextForm::PdtSms
        );
        let bad = BASE.replace("name = \"a\"\n", "name = \"a\"\ntext_form = \"tms\"\n");
        let report = Config::load(&bad).unwrap_err().render("t.toml");
        assert!(
            report.starts_with("t.toml:3:") && report.contains("motorola_tms"),
            "{report}"
        );
    }

    #[test]
    fn the_master_relays_unless_told_not_to() {
        let config = Config::load(BASE).expect("BASE loads");
        assert!(config.homebrew_master.as_ref().is_some_and(|m| m.relay));
        let off = BASE.replace(
            "bind = \"127.0.0.1:62031\"\n",
            "bind = \"127.0.0.1:62031\"\nrelay = false\n",
        );
        let config = Config::load(&off).expect("relay = false loads");
        assert!(config.homebrew_master.as_ref().is_some_and(|m| !m.relay));
        let bad = BASE.replace(
            "bind = \"127.0.0.1:62031\"\n",
            "bind = \"127.0.0.1:62031\"\nrelay = \"no\"\n",
        );
        let text = Config::load(&bad).unwrap_err().render("t.toml");
        assert_eq!(
            text,
            "t.toml:5:9: [homebrew_master] relay: invalid type: string \"no\", expected a boolean\n"
        );
    }

    #[test]
    fn talkgroup_sites_name_configured_sites_once() {
        let ok = format!("{BASE}[[talkgroup]]\nid = \"57120900\"\nname = \"g\"\nsites = [\"a\"]\n");
        let config = Config::load(&ok).expect("a known site loads");
        assert_eq!(config.talkgroups[0].sites, vec!["a".to_string()]);
        let text = report(
            "[[talkgroup]]\nid = \"57120900\"\nname = \"g\"\nsites = [\"a\", \"b\", \"a\"]\n",
        );
        assert!(
            text.contains("sites names \"b\", which is not a [[site]] name"),
            "{text}"
        );
        assert!(text.contains("sites lists \"a\" twice"), "{text}");
    }

    #[test]
    fn base_of_the_tests_is_valid() {
        Config::load(BASE).expect("BASE loads");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name_and_line() {
        assert_eq!(
            report("[api]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n"),
            "t.toml:11:1: [api] lisen: unknown field `lisen`, expected one of `listen`, \
             `reflection`, `watch_queue`, `heartbeat_secs`, `max_connections`, \
             `max_connections_per_client`, `max_streams_per_connection`, \
             `max_streams_per_client`, `handshake_timeout_secs`, `keepalive_interval_secs`, \
             `keepalive_timeout_secs`\n"
        );
    }

    #[test]
    fn a_duplicate_radio_id_names_both_lines() {
        let extra = "[[radio]]\nid = \"57120201\"\nname = \"李志强\"\n\
                     [[radio]]\nid = \"57120201\"\nname = \"刘洋\"\n";
        assert_eq!(
            report(extra),
            "t.toml:13:6: [[radio]] \"刘洋\": id \"57120201\" is also the id of \"李志强\": each \
             radio is listed once; remove one or correct its id (first at line 10)\n"
        );
    }

    #[test]
    fn a_radio_listed_by_dial_number_and_by_air_address_is_a_duplicate() {
        let air = "57120201".parse::<RadioId>().unwrap().air();
        let extra = format!(
            "[[radio]]\nid = \"57120201\"\nname = \"a\"\n[[radio]]\nid = {air}\nname = \"b\"\n"
        );
        assert_eq!(
            report(&extra),
            format!(
                "t.toml:13:6: [[radio]] \"b\": id {air} is also the id of \"a\": each radio is \
                 listed once; remove one or correct its id (first at line 10)\n"
            )
        );
    }

    #[test]
    fn a_malformed_radio_id_is_named_with_why() {
        assert_eq!(
            report("[[radio]]\nid = \"5712022X\"\nname = \"杨勇\"\n"),
            "t.toml:10:6: [[radio]] \"杨勇\": id \"5712022X\" is not a radio: not an identity: \
             expected 8 dial digits, 0x<hex>, #<decimal>, or a decimal DMR ID of at most 7 \
             digits; write its 8-digit dial number as a string (\"57120200\") or its 24-bit air \
             address as a number\n"
        );
        // A quoted number is a dial number: one digit short is an error, not a DMR ID.
        assert!(
            report("[[radio]]\nid = \"5712022\"\nname = \"杨勇\"\n")
                .contains("dial number must be 8 digits"),
        );
    }

    #[test]
    fn a_group_number_is_not_a_radio_and_a_wide_address_is_refused() {
        assert_eq!(
            report(
                "[[radio]]\nid = \"57120900\"\nname = \"x\"\n[[radio]]\nid = 16777216\nname = \"y\"\n"
            ),
            "t.toml:10:6: [[radio]] \"x\": id \"57120900\" is not a radio: dial number 57120900 \
             is not a individual number; write its 8-digit dial number as a string \
             (\"57120200\") or its 24-bit air address as a number\n\
             t.toml:13:6: [[radio]] \"y\": id 16777216 is not a radio: air address 0x1000000 \
             does not fit in 24 bits; write its 8-digit dial number as a string (\"57120200\") \
             or its 24-bit air address as a number\n"
        );
    }

    #[test]
    fn a_negative_id_is_refused_naming_both_forms() {
        assert_eq!(
            report("[[radio]]\nid = -3\nname = \"x\"\n"),
            "t.toml:10:6: [[radio]] id: invalid value: integer `-3`, expected a PDT dial number \
             as a string (\"57120200\") or a 24-bit air address (0..=16777215)\n"
        );
    }

    #[test]
    fn a_zero_answer_timeout_is_out_of_range() {
        assert_eq!(
            report("[dispatch]\nanswer_timeout_secs = 0\n"),
            "t.toml:10:23: [dispatch] answer_timeout_secs = 0 is out of range: set 1..=600 \
             (seconds to wait for a radio's answer before the next try)\n"
        );
    }

    #[test]
    fn an_answer_timeout_that_would_overflow_in_milliseconds_is_out_of_range() {
        assert_eq!(
            report("[dispatch]\nanswer_timeout_secs = 18446744073709551\n"),
            "t.toml:10:23: [dispatch] answer_timeout_secs = 18446744073709551 is out of range: \
             set 1..=600 (seconds to wait for a radio's answer before the next try)\n"
        );
    }

    #[test]
    fn zero_attempts_are_out_of_range() {
        assert_eq!(
            report("[dispatch]\nattempts = 0\n"),
            "t.toml:10:12: [dispatch] attempts = 0 is out of range: set 1..=10 (tries per \
             command, the first one included)\n"
        );
    }

    #[test]
    fn a_zero_watch_queue_is_out_of_range() {
        assert_eq!(
            report("[api]\nwatch_queue = 0\n"),
            "t.toml:10:15: [api] watch_queue = 0 is out of range: set 1..=1000000 (events a \
             watcher may have queued before it is cut)\n"
        );
    }

    #[test]
    fn every_out_of_range_setting_is_reported() {
        let extra = "[api]\nheartbeat_secs = 0\n\
                     [journal]\nretention_days = 0\nsnapshot_every = 0\ncommit_gap_ms = 1001\n";
        assert_eq!(
            report(extra),
            "t.toml:10:18: [api] heartbeat_secs = 0 is out of range: set 1..=3600 (seconds \
             between heartbeats on an idle event stream)\n\
             t.toml:12:18: [journal] retention_days = 0 is out of range: set 1..=3650 (days of \
             events kept)\n\
             t.toml:13:18: [journal] snapshot_every = 0 is out of range: set 1..=100000000 \
             (events between two state snapshots)\n\
             t.toml:14:17: [journal] commit_gap_ms = 1001 is out of range: set 0..=1000 \
             (shortest time between two journal commits, in milliseconds)\n"
        );
    }

    #[test]
    fn link_settings_out_of_range_are_reported() {
        let text = r#"[[site]]
name = "a"
colour_code = 16
[homebrew_master]
bind = "127.0.0.1:62031"
peer_timeout_secs = 0
hang_time_ms = 60001
[[homebrew_master.peer]]
id = 0
passphrase = ""
site = "a"
slots = [1, 3]
talkgroups = [9011201, 16777216]
"#;
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:3:15: [[site]] colour_code = 16 is out of range: set 0..=15 (colour code of \
             the site's channels, 4 bits on the air)\n\
             t.toml:6:21: [homebrew_master] peer_timeout_secs = 0 is out of range: set 15..=3600 \
             (seconds of silence after which a peer is dead)\n\
             t.toml:7:16: [homebrew_master] hang_time_ms = 60001 is out of range: set 0..=60000 \
             (milliseconds a slot stays reserved after a stream ends)\n\
             t.toml:9:6: [[homebrew_master.peer]] id = 0 is out of range: set 1..=4294967295 \
             (the peer's repeater ID)\n\
             t.toml:10:14: [[homebrew_master.peer]] 0: passphrase is empty: write the passphrase \
             the repeater logs in with\n\
             t.toml:12:13: [[homebrew_master.peer]] slots = 3 is out of range: set 1..=2 (time \
             slots relayed to and from the peer)\n\
             t.toml:13:24: [[homebrew_master.peer]] talkgroups = 16777216 is out of range: set \
             1..=16777215 (talkgroup air addresses relayed to and from the peer)\n"
        );
    }

    #[test]
    fn bad_slots_pacing_and_rptc_fields_are_explained() {
        let text = r#"[[site]]
name = "a"
slot = 3
extra_air_ms = 60001
[[site]]
name = "hotspot"
[[talkgroup]]
id = 9
name = "x"
slot = 0
[[mmdvm]]
site = "hotspot"
port = "/dev/null"
duplex = false
wake_up_repeater_id = 16777216
tx_burst_interval_ms = 0
[[homebrew_peer]]
master = "192.0.2.1:62031"
id = 7
passphrase = "p"
site = "a"
callsign = "TOOLONGCALL"
tx_power_dbm = 120
latitude = 91.0
height_m = -100
location = "far too long a location name"
slots = 5
tx_pacing = "at_once"
tx_burst_interval_ms = 0
"#;
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:3:8: [[site]] slot = 3 is out of range: set 1..=2 (the timeslot commands, \
             data and group traffic go on)\n\
             t.toml:4:16: [[site]] extra_air_ms = 60001 is out of range: set 0..=60000 \
             (milliseconds of air time the path adds beyond what the gateway sends)\n\
             t.toml:5:1: [[site]] \"hotspot\": slot = 1 but its [[mmdvm]] modem is simplex, \
             which carries timeslot 2 only: set slot = 2\n\
             t.toml:10:8: [[talkgroup]] slot = 0 is out of range: set 1..=2 (the timeslot of \
             group traffic to the talkgroup)\n\
             t.toml:15:23: [[mmdvm]] wake_up_repeater_id = 16777216 is out of range: set \
             0..=16777215 (the repeater ID a BS_Dwn_Act wake-up is sent to, 24 bits on the air)\n\
             t.toml:15:23: [[mmdvm]] for site \"hotspot\": wake_up_repeater_id needs duplex = \
             true: a simplex modem refuses timeslot 1, where the wake-up goes\n\
             t.toml:16:24: [[mmdvm]] tx_burst_interval_ms = 0 is out of range: set 1..=1000 \
             (milliseconds between two bursts of one slot with tx_pacing = \"air_rate\"; 60 is \
             the air rate)\n\
             t.toml:22:12: [[homebrew_peer]] callsign \"TOOLONGCALL\" does not fit the login's \
             callsign field: write 1..=8 printable ASCII characters without spaces\n\
             t.toml:23:16: [[homebrew_peer]] tx_power_dbm = 120 is out of range: set 0..=99 (the \
             transmit power sent in the login, in dBm)\n\
             t.toml:24:12: [[homebrew_peer]] latitude = 91 is out of range: set -90.0..=90.0 \
             (degrees north)\n\
             t.toml:25:12: [[homebrew_peer]] height_m = -100 is out of range: set -99..=999 \
             (antenna height sent in the login, metres)\n\
             t.toml:26:12: [[homebrew_peer]] location \"far too long a location name\" does not \
             fit the login's location field: write at most 20 printable ASCII characters\n\
             t.toml:27:9: [[homebrew_peer]] slots = 5 is out of range: set 0..=4 (the slots sent \
             in the login: 1 or 2, 3 for both (duplex), 4 simplex)\n"
        );
    }

    #[test]
    fn api_bounds_and_control_characters_in_names_are_explained() {
        let text = "[api]\nmax_connections = 0\nmax_connections_per_client = 5\n\
                    handshake_timeout_secs = 0\nkeepalive_interval_secs = 7200\n\
                    max_streams_per_connection = 0\nkeepalive_timeout_secs = 601\n\
                    max_streams_per_client = 0\n\
                    [[site]]\nname = \"north\\u001b[2J\"\n\
                    [[team]]\nname = \"t\"\ndisplay_name = \"A\\nB\"\n\
                    [homebrew_master]\nbind = \"127.0.0.1:62031\"\n\
                    [[homebrew_master.peer]]\nid = 1\npassphrase = \"x\"\n\
                    site = \"north\\u001b[2J\"\n";
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:2:19: [api] max_connections = 0 is out of range: set 1..=100000 (API \
             connections open at once)\n\
             t.toml:4:26: [api] handshake_timeout_secs = 0 is out of range: set 1..=300 \
             (seconds a new connection has to send the HTTP/2 preface)\n\
             t.toml:5:27: [api] keepalive_interval_secs = 7200 is out of range: set 1..=3600 \
             (seconds without a frame from a client before it is pinged)\n\
             t.toml:6:30: [api] max_streams_per_connection = 0 is out of range: set 1..=10000 \
             (calls open at once on one API connection)\n\
             t.toml:7:26: [api] keepalive_timeout_secs = 601 is out of range: set 1..=600 \
             (seconds a ping may go unanswered before the connection is closed)\n\
             t.toml:8:26: [api] max_streams_per_client = 0 is out of range: set 1..=100000 \
             (calls open at once from one client IP address)\n\
             t.toml:10:8: [[site]] name \"north\\u{1b}[2J\" holds a space, control character \
             or '/': it is part of resource names, so use letters, digits, '-', '_' or '.'\n\
             t.toml:13:16: [[team]] display_name \"A\\nB\" holds a control character: write \
             printable text only\n"
        );
        assert_eq!(
            report("[api]\nmax_connections = 10\nmax_connections_per_client = 11\n"),
            "t.toml:11:30: [api] max_connections_per_client = 11 is more than max_connections = \
             10: one client could never open that many; set at most 10\n"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_bound() {
        assert_eq!(
            report("[dispatch]\nattempts = -1\n"),
            "t.toml:10:12: [dispatch] attempts: invalid value: integer `-1`, expected u32; \
             allowed: 1..=10 (tries per command, the first one included)\n"
        );
    }

    #[test]
    fn duplicate_talkgroups_teams_sites_and_peers_are_reported() {
        let text = r#"[[site]]
name = "a"
[[site]]
name = "a"
[homebrew_master]
bind = "127.0.0.1:62031"
[[homebrew_master.peer]]
id = 7
passphrase = "x"
site = "a"
[[homebrew_master.peer]]
id = 7
passphrase = "y"
site = "a"
[[talkgroup]]
id = "57120900"
name = "t1"
[[talkgroup]]
id = "57120900"
name = "t2"
[[team]]
name = "rescue"
display_name = "R1"
[[team]]
name = "rescue"
display_name = "R2"
"#;
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:4:8: [[site]] name \"a\" is defined twice: give each site its own name \
             (first at line 2)\n\
             t.toml:12:6: [[homebrew_master.peer]] id 7 is listed twice: each repeater logs in \
             with its own ID (first at line 8)\n\
             t.toml:19:6: [[talkgroup]] \"t2\": id \"57120900\" is also the id of \"t1\": each \
             talkgroup is listed once; remove one or correct its id (first at line 16)\n\
             t.toml:25:8: [[team]] name \"rescue\" is defined twice: give each team its own name \
             (first at line 22)\n"
        );
    }

    #[test]
    fn references_to_unknown_sites_teams_and_talkgroups_are_reported() {
        let extra = r#"[[homebrew_peer]]
master = "192.0.2.1:62031"
id = 2
passphrase = "p"
site = "b"
[[mmdvm]]
site = "c"
port = "/dev/ttyACM0"
[[team]]
name = "rescue"
display_name = "R"
talkgroup = "57120901"
[[radio]]
id = "57120200"
name = "r"
team = "rescu"
"#;
        assert_eq!(
            report(extra),
            "t.toml:13:8: [[homebrew_peer]] site \"b\" is not a [[site]] name: add the site or \
             correct the name\n\
             t.toml:15:8: [[mmdvm]] site \"c\" is not a [[site]] name: add the site or correct \
             the name\n\
             t.toml:20:13: [[team]] \"rescue\": talkgroup \"57120901\" is not a [[talkgroup]]: \
             add a [[talkgroup]] with this id, or correct it\n\
             t.toml:24:8: [[radio]] \"r\": team \"rescu\" is not a [[team]] name: add the team or \
             correct the name\n"
        );
    }

    #[test]
    fn team_backups_homes_and_roles_are_checked() {
        let extra = r#"[[team]]
name = "rescue"
display_name = "R"
level = "township"
backups = ["rescue", "nobody", "other", "other"]
home = [95.0, 111.0]
[[team]]
name = "other"
display_name = "O"
level = "volunteer"
home = [27.7, 111.4]
[[radio]]
id = "57120200"
name = "r"
role = "leader"
"#;
        assert_eq!(
            report(extra),
            "t.toml:13:12: [[team]] \"rescue\": backup \"rescue\" is the team itself: name \
             another team\n\
             t.toml:13:22: [[team]] \"rescue\": backup \"nobody\" is not a [[team]] name: add \
             the team or correct the name\n\
             t.toml:13:41: [[team]] \"rescue\": backup \"other\" is listed twice: list each \
             backup team once\n\
             t.toml:14:8: [[team]] \"rescue\": home [95, 111] is not a position: write \
             [latitude, longitude] in degrees, latitude -90..=90, longitude -180..=180\n\
             t.toml:23:8: [[radio]] \"r\": role is set but the radio has no team: add team = \
             \"...\" or remove the role\n"
        );
    }

    #[test]
    fn addresses_that_cannot_work_are_reported() {
        let extra = r#"[api]
listen = "127.0.0.1"
[[homebrew_peer]]
master = "0.0.0.0:62031"
bind = "0.0.0.0:62031"
id = 2
passphrase = "p"
site = "a"
callsign = "TOOLONGCALL"
"#;
        assert_eq!(
            report(extra),
            "t.toml:10:10: [api] listen: invalid socket address syntax; write an IP address and \
             a port, e.g. \"127.0.0.1:50051\"\n\
             t.toml:12:10: [[homebrew_peer]] master = \"0.0.0.0:62031\" cannot be sent to: write \
             the other end's IP address and port, e.g. \"192.0.2.10:62031\"\n\
             t.toml:13:8: [[homebrew_peer]] bind = \"0.0.0.0:62031\" clashes with \
             [homebrew_master] bind = \"127.0.0.1:62031\": both would bind UDP port 62031; give \
             each link its own port (first at line 4)\n\
             t.toml:16:8: site \"a\" is served by both [homebrew_master] and [[homebrew_peer]] \
             0.0.0.0:62031: commands would go out on one only; give each link its own [[site]] \
             (first at line 8)\n\
             t.toml:17:12: [[homebrew_peer]] callsign \"TOOLONGCALL\" does not fit the login's \
             callsign field: write 1..=8 printable ASCII characters without spaces\n"
        );
    }

    #[test]
    fn modem_settings_that_serve_would_ignore_or_fail_on_are_reported() {
        let text = r#"[[site]]
name = "a"
[[site]]
name = "b"
[[mmdvm]]
site = "a"
[[mmdvm]]
site = "b"
port = "/dev/ttyACM0"
baud = 1234
udp_local = "127.0.0.1:5000"
"#;
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:5:1: [[mmdvm]] for site \"a\" has neither port nor udp_remote: set port (a \
             serial device) or udp_remote (the modem's address)\n\
             t.toml:10:8: [[mmdvm]] baud = 1234 is not a serial rate the modem runs at: use one \
             of [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600] (MMDVM firmware: \
             115200)\n\
             t.toml:11:13: [[mmdvm]] udp_local is set for a serial modem and would be ignored: \
             remove it, or use udp_remote instead of port\n"
        );
    }

    #[test]
    fn several_syntax_errors_are_reported_with_their_lines() {
        let text = "[api]\nlisten = \nx = 1 2\n[gateway\ndata_dir = \"d\"\n";
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:2:10: TOML syntax: string values must be quoted, expected literal string\n\
             t.toml:3:5: TOML syntax: string values must be quoted, expected literal string\n\
             t.toml:4:9: TOML syntax: unclosed table, expected `]`\n"
        );
    }

    #[test]
    fn every_problem_is_reported_in_one_run() {
        // Types, ranges, identities, duplicates and references together, in file order.
        let extra = r#"[api]
watch_queue = 0
lisen = "x"
[dispatch]
answer_timeout_secs = 0
attempts = "3"
[[radio]]
id = "57120201"
name = "a"
[[radio]]
id = "57120201"
name = "b"
[[radio]]
id = "5712022X"
name = "c"
team = "nobody"
"#;
        let out = report(extra);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "t.toml:10:15: [api] watch_queue = 0 is out of range: set 1..=1000000 (events a \
                 watcher may have queued before it is cut)",
                "t.toml:11:1: [api] lisen: unknown field `lisen`, expected one of `listen`, \
                 `reflection`, `watch_queue`, `heartbeat_secs`, `max_connections`, \
                 `max_connections_per_client`, `max_streams_per_connection`, \
                 `max_streams_per_client`, `handshake_timeout_secs`, `keepalive_interval_secs`, \
                 `keepalive_timeout_secs`",
                "t.toml:13:23: [dispatch] answer_timeout_secs = 0 is out of range: set 1..=600 \
                 (seconds to wait for a radio's answer before the next try)",
                "t.toml:14:12: [dispatch] attempts: invalid type: string \"3\", expected u32; \
                 allowed: 1..=10 (tries per command, the first one included)",
                "t.toml:19:6: [[radio]] \"b\": id \"57120201\" is also the id of \"a\": each \
                 radio is listed once; remove one or correct its id (first at line 16)",
                "t.toml:22:6: [[radio]] \"c\": id \"5712022X\" is not a radio: not an identity: \
                 expected 8 dial digits, 0x<hex>, #<decimal>, or a decimal DMR ID of at most 7 \
                 digits; write its 8-digit dial number as a string (\"57120200\") or its 24-bit \
                 air address as a number",
                "t.toml:24:8: [[radio]] \"c\": team \"nobody\" is not a [[team]] name: add the \
                 team or correct the name",
            ]
        );
    }

    #[test]
    fn a_required_key_of_the_wrong_type_is_one_problem_not_two() {
        let text = "[[site]]\nname = 5\n[[mmdvm]]\nsite = \"a\"\nudp_remote = \"192.0.2.1:3334\"\n";
        assert_eq!(
            Config::load(text).unwrap_err().render("t.toml"),
            "t.toml:2:8: [[site]] name: invalid type: integer `5`, expected a string\n\
             t.toml:4:8: [[mmdvm]] site \"a\" is not a [[site]] name: add the site or correct the \
             name\n"
        );
    }

    #[test]
    fn a_file_without_sites_or_links_says_what_to_add() {
        assert_eq!(
            Config::load("").unwrap_err().render("t.toml"),
            "t.toml: no [[site]] is defined: the gateway would have nothing to listen to; add \
             one per base station\n\
             t.toml: no link is configured: add a [homebrew_master], a [[homebrew_peer]] or an \
             [[mmdvm]]\n"
        );
    }

    #[test]
    fn every_bound_is_written_in_the_demo_config_and_the_readme() {
        let readme = include_str!("../../README.md");
        for bound in BOUNDS {
            let range = format!("{}..={}", bound.min, bound.max);
            let key = bound.key.rsplit('.').next().unwrap();
            let in_demo = DEMO.lines().any(|l| l.contains(key) && l.contains(&range));
            assert!(in_demo, "config/demo.toml does not state {key} {range}");
            let in_readme = readme
                .lines()
                .any(|l| l.contains(key) && l.contains(&range));
            assert!(in_readme, "README.md does not state {key} {range}");
        }
    }
}
