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
    /// RPTC slots: 1, 2, 3 (both) duplex, 4 simplex; from the site's slot when absent... 3.
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
    /// Timeslot (1 or 2) for group traffic to it; the site's `slot` when absent.
    #[serde(default)]
    pub slot: Option<u8>,
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
            if !matches!(site.slot, 1 | 2) {
                say(format!(
                    "site {:?}: slot {} is not 1 or 2 (the timeslot commands and data go on)",
                    site.name, site.slot
                ));
            }
            if site.extra_air_ms > 60_000 {
                say(format!(
                    "site {:?}: extra_air_ms {} is more than 60000",
                    site.name, site.extra_air_ms
                ));
            }
            let simplex = self.mmdvm.iter().any(|m| m.site == site.name && !m.duplex);
            if simplex && site.slot != 2 {
                say(format!(
                    "site {:?}: slot {} but its MMDVM modem is simplex, which carries timeslot 2 \
                     only (set slot = 2)",
                    site.name, site.slot
                ));
            }
        }
        for tg in &self.talkgroups {
            if tg.slot.is_some_and(|s| !matches!(s, 1 | 2)) {
                say(format!(
                    "talkgroup {:?}: slot {} is not 1 or 2",
                    tg.name,
                    tg.slot.unwrap_or(0)
                ));
            }
        }
        let mut interval = |what: String, p: TxPacing, ms: u64| {
            if p == TxPacing::AirRate && !(1..=1_000).contains(&ms) {
                say(format!(
                    "{what}: tx_burst_interval_ms {ms} is not 1-1000 (60 is the air rate)"
                ));
            }
        };
        if let Some(m) = &self.homebrew_master {
            interval(
                "homebrew_master".into(),
                m.tx_pacing,
                m.tx_burst_interval_ms,
            );
        }
        for p in &self.homebrew_peers {
            interval(
                format!("homebrew_peer {}", p.id),
                p.tx_pacing,
                p.tx_burst_interval_ms,
            );
        }
        for m in &self.mmdvm {
            interval(
                format!("mmdvm for site {:?}", m.site),
                m.tx_pacing,
                m.tx_burst_interval_ms,
            );
        }
        let mut say = |s: String| problems.push(Problem(s));
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
                if peer.command_slot.is_some_and(|s| !matches!(s, 1 | 2)) {
                    say(format!(
                        "homebrew_master: peer {}: command_slot must be 1 or 2",
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
            for problem in rptc_problems(peer) {
                say(format!("homebrew_peer {}: {problem}", peer.id));
            }
        }
        for modem in &self.mmdvm {
            if !site_known(&modem.site) {
                say(format!("mmdvm: site {:?} is not defined", modem.site));
            }
            if let Some(id) = modem.wake_up_repeater_id {
                if !modem.duplex {
                    say(format!(
                        "mmdvm for site {:?}: wake_up_repeater_id needs duplex = true (a simplex \
                         modem refuses timeslot 1, where the wake-up goes)",
                        modem.site
                    ));
                }
                if id > 0xFF_FFFF {
                    say(format!(
                        "mmdvm for site {:?}: wake_up_repeater_id {id} is not a 24-bit ID",
                        modem.site
                    ));
                }
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

/// What the RPTC block cannot carry as configured (transports.md 2.4 field widths).
fn rptc_problems(p: &HomebrewPeerConfig) -> Vec<String> {
    let mut v = Vec::new();
    let text = |v: &mut Vec<String>, key: &str, value: &str, max: usize| {
        if value.len() > max || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            v.push(format!(
                "{key} {value:?} must be printable ASCII of at most {max} characters"
            ));
        }
    };
    text(&mut v, "callsign", &p.callsign, 8);
    text(&mut v, "location", &p.location, 20);
    text(&mut v, "description", &p.description, 19);
    text(&mut v, "url", &p.url, 124);
    text(&mut v, "software_id", &p.software_id, 40);
    text(&mut v, "package_id", &p.package_id, 40);
    for (key, hz) in [("rx_freq_hz", p.rx_freq_hz), ("tx_freq_hz", p.tx_freq_hz)] {
        if hz > 999_999_999 {
            v.push(format!("{key} {hz} has more than 9 digits"));
        }
    }
    if p.tx_power_dbm > 99 {
        v.push(format!("tx_power_dbm {} is not 0-99", p.tx_power_dbm));
    }
    if p.colour_code.is_some_and(|c| c > 15) {
        v.push(format!(
            "colour_code {} is not 0-15",
            p.colour_code.unwrap_or(0)
        ));
    }
    if !(-90.0..=90.0).contains(&p.latitude) {
        v.push(format!("latitude {} is not -90 to 90", p.latitude));
    }
    if !(-180.0..=180.0).contains(&p.longitude) {
        v.push(format!("longitude {} is not -180 to 180", p.longitude));
    }
    if !(-99..=999).contains(&p.height_m) {
        v.push(format!("height_m {} is not -99 to 999", p.height_m));
    }
    if p.slots > 4 {
        v.push(format!("slots {} is not 0-4", p.slots));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_slots_and_rptc_fields_are_explained() {
        let text = r#"
            [[site]]
            name = "a"
            slot = 3
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
            [[homebrew_peer]]
            master = "127.0.0.1:1"
            id = 7
            passphrase = "p"
            site = "a"
            callsign = "TOOLONGCALL"
            tx_power_dbm = 120
            latitude = 91.0
        "#;
        let problems: Vec<String> = Config::parse(text)
            .unwrap()
            .validate()
            .into_iter()
            .map(|p| p.0)
            .collect();
        let has = |s: &str| problems.iter().any(|p| p.contains(s));
        assert!(has("site \"a\": slot 3 is not 1 or 2"), "{problems:?}");
        assert!(has(
            "site \"hotspot\": slot 1 but its MMDVM modem is simplex"
        ));
        assert!(has("talkgroup \"x\": slot 0"));
        assert!(has("callsign \"TOOLONGCALL\""));
        assert!(has("tx_power_dbm 120"));
        assert!(has("latitude 91"));
    }

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
