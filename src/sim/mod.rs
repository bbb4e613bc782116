//! A simulated PDT network: sites of seeded radios that speak to the gateway through the real
//! link, as docs/design.md's `sim` room says (uses `wire` and `link`, no shortcut around the link
//! and decode path, no encoding of its own).
//!
//! - Each site is one Homebrew peer ([`crate::link::homebrew::Peer`]) logging into the
//!   gateway's master on 127.0.0.1 (or wherever [`SimConfig::master`] points), driving a
//!   [`SimSite`] state machine: its radios register (C_RAND + C_ACKD 0x62), change talkgroup,
//!   make group and individual calls (grant, voice LC header, voice bursts with embedded LC,
//!   talker alias and GPS, terminator, P_CLEAR), send Chinese texts, statuses and position
//!   reports, raise an occasional emergency, and answer the gateway's commands by
//!   docs/air-commands.md after 300–2,500 ms; radios out of coverage never answer. The site
//!   controller beacons C_ALOHA.
//! - What the gateway sends reaches the sim only as DMRD bursts through the peer, and is
//!   decoded with `wire` ([`SimSite::receive`]); the sim never looks at gateway state.
//! - Runs repeat: one seed drives every choice (SplitMix64, the link's own generator), and a
//!   [`SimSite`] polled at the same virtual times yields the same bursts. Over real sockets the
//!   traffic is the same; only arrival times jitter.
//! - PDT masks by default; DMR on request ([`SimConfig::dialect`]).
//! - Load generation ([`run_load`], `trunkgate sim --connect HOST:PORT --radios N --rate BPS`):
//!   one site, N radios, activity raised so the slots stay busy, and the slot pacing set to
//!   reach the target bursts per second.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::link::homebrew::{HomebrewCounters, Peer, PeerConfig, PeerId, SplitMix};
use crate::link::{LinkCounters, LinkState, Pacing, Received, SiteName, Transmission};
use crate::wire::Dialect;

mod site;

pub use site::{
    BURST_MS, MAX_PENDING, MAX_SLOT_QUEUE, REPLY_QUIET_MS, RadioSpec, SimCounters, SimReply,
    SimSite, SiteSpec,
};

/// One simulated site: the Homebrew login it uses and its air parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSiteConfig {
    /// Homebrew peer (repeater) ID.
    pub peer_id: u32,
    /// Passphrase configured for it on the master.
    pub passphrase: String,
    /// Site name (the gateway's configured name for this peer).
    pub name: String,
    /// Colour code, 0–15.
    pub colour_code: u8,
}

/// A configured radio.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRadioConfig {
    /// 24-bit radio ID.
    pub id: u32,
    /// Talkgroup it starts on.
    pub talkgroup: u32,
    /// Index into [`SimConfig::sites`].
    pub site: usize,
    /// Talker alias.
    pub alias: Option<String>,
    /// How its user answers call-outs; `None` never answers.
    pub reply: Option<SimReply>,
}

/// A simulated network.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The gateway's Homebrew master.
    pub master: SocketAddr,
    /// Sites, each one peer.
    pub sites: Vec<SimSiteConfig>,
    /// Radios; when empty, [`SimConfig::generate`] radios are made up, spread over the sites.
    pub radios: Vec<SimRadioConfig>,
    /// Radios to generate when `radios` is empty.
    pub generate: usize,
    /// Talkgroups (24-bit); when empty, three are made up.
    pub talkgroups: Vec<u32>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Activity multiplier (1.0 ≈ one spontaneous action per radio per 30 s).
    pub rate: f64,
    /// Mask dialect.
    pub dialect: Dialect,
    /// Share of generated radios out of coverage (0.0–1.0).
    pub out_of_coverage: f64,
    /// The dispatcher identity radios address texts and reports to.
    pub dispatcher: u32,
}

/// PDT numbering: NAI 32 (NP 328) shifted into the top 9 bits of the 24-bit address
/// (docs/pdt.md §1.1–1.2); generated radios and groups live there.
const NAI_BASE: u32 = 32 << 15;
/// First generated radio SSI (dial number 328 20 300; docs/pdt.md §1.2).
const FIRST_RADIO_SSI: u32 = 101;
/// Dispatcher identity default: DISPATI (docs/air-interface.md §3.7).
pub const DEFAULT_DISPATCHER: u32 = 0xFF_FECB;

impl SimConfig {
    /// A PDT network with the given sites, 20 generated radios, seed 1, normal activity and
    /// 10 % of radios out of coverage.
    pub fn new(master: SocketAddr, sites: Vec<SimSiteConfig>) -> SimConfig {
        SimConfig {
            master,
            sites,
            radios: Vec::new(),
            generate: 20,
            talkgroups: Vec::new(),
            seed: 1,
            rate: 1.0,
            dialect: Dialect::Pdt,
            out_of_coverage: 0.1,
            dispatcher: DEFAULT_DISPATCHER,
        }
    }

    /// The talkgroups in use.
    pub fn talkgroups(&self) -> Vec<u32> {
        if self.talkgroups.is_empty() {
            (1..=3).map(|g| NAI_BASE | g).collect()
        } else {
            self.talkgroups.clone()
        }
    }

    /// The site state machines this configuration describes, in `sites` order, with the given
    /// slot pacing. Deterministic in the seed.
    pub fn build_sites(&self, burst_ms: u64) -> Vec<SimSite> {
        let talkgroups = self.talkgroups();
        let mut rng = SplitMix::new(self.seed);
        let mut per_site: Vec<Vec<RadioSpec>> = vec![Vec::new(); self.sites.len()];
        let n_sites = self.sites.len().max(1);
        let configured: Vec<SimRadioConfig> = if self.radios.is_empty() {
            (0..self.generate)
                .map(|k| SimRadioConfig {
                    id: NAI_BASE | (FIRST_RADIO_SSI + k as u32),
                    talkgroup: talkgroups[k % talkgroups.len().max(1)],
                    site: k % n_sites,
                    alias: Some(format!("应急{}号", k + 1)),
                    reply: None,
                })
                .collect()
        } else {
            self.radios.clone()
        };
        for r in configured {
            let unit = |rng: &mut SplitMix| (rng.next_u32() as f64) / f64::from(u32::MAX);
            let out_of_coverage = unit(&mut rng) < self.out_of_coverage;
            let latitude = 23.13 + (unit(&mut rng) - 0.5) * 0.1;
            let longitude = 113.26 + (unit(&mut rng) - 0.5) * 0.1;
            if let Some(list) = per_site.get_mut(r.site) {
                list.push(RadioSpec {
                    id: r.id,
                    talkgroup: r.talkgroup,
                    latitude,
                    longitude,
                    alias: r.alias.unwrap_or_default(),
                    out_of_coverage,
                    reply: r.reply,
                });
            }
        }
        self.sites
            .iter()
            .zip(per_site)
            .enumerate()
            .map(|(k, (s, radios))| {
                let spec = SiteSpec {
                    name: SiteName::from(s.name.as_str()),
                    colour_code: s.colour_code & 0x0F,
                    dialect: self.dialect,
                    dispatcher: self.dispatcher,
                    talkgroups: talkgroups.clone(),
                    rate: self.rate,
                    burst_ms,
                };
                SimSite::new(
                    spec,
                    radios,
                    self.seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9),
                )
            })
            .collect()
    }
}

/// Run the simulated network until `shutdown`: one peer and one driver per site. Returns each
/// site's counters. Ends with `Err` only when a socket cannot be bound or fails.
pub async fn run(config: SimConfig, shutdown: CancellationToken) -> io::Result<Vec<SimCounters>> {
    let sites = config.build_sites(BURST_MS);
    let mut tasks = Vec::new();
    for (site, sc) in sites.into_iter().zip(&config.sites) {
        let peer = bind_peer(config.master, sc).await?;
        tasks.push(tokio::spawn(drive(peer, site, None, shutdown.clone())));
    }
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(r) => out.push(r?),
            Err(e) => return Err(io::Error::other(e)),
        }
    }
    Ok(out)
}

async fn bind_peer(master: SocketAddr, sc: &SimSiteConfig) -> io::Result<Peer> {
    let mut pc = PeerConfig::new(
        master,
        PeerId(sc.peer_id),
        sc.passphrase.clone(),
        SiteName::from(sc.name.as_str()),
    );
    if master.ip().is_loopback() {
        pc.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    }
    pc.backoff_min = Duration::from_millis(200);
    pc.backoff_max = Duration::from_secs(10);
    // The simulated radios time their own bursts (and load runs go faster than the air on
    // purpose), so the link sends each as it comes.
    pc.pacing = Pacing::AtOnce;
    let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
    Peer::bind(pc, counters).await
}

/// Channel depths between a peer and its driver.
const CHANNEL: usize = 1_024;

/// One site: its peer task, and the loop that feeds the state machine with the peer's bursts
/// and the clock, starting when the login is up. `until` ends the run after a duration.
async fn drive(
    peer: Peer,
    mut site: SimSite,
    until: Option<Duration>,
    shutdown: CancellationToken,
) -> io::Result<SimCounters> {
    let (rx_tx, mut rx) = mpsc::channel::<Received>(CHANNEL);
    let (tx, tx_rx) = mpsc::channel::<Transmission>(CHANNEL);
    let (state_tx, mut state) = mpsc::channel::<LinkState>(16);
    let link_stop = shutdown.child_token();
    let link = tokio::spawn(peer.run(rx_tx, tx_rx, state_tx, link_stop.clone()));
    // wait for the login
    let up = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break false,
            s = state.recv() => match s {
                Some(LinkState::Up { .. }) => break true,
                Some(_) => {}
                None => break false,
            },
        }
    };
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        if !up {
            break;
        }
        let now_ms = start.elapsed().as_millis() as u64;
        if until.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let wake = site
            .next_deadline()
            .map_or(Duration::from_millis(100), |t| {
                Duration::from_millis(t.saturating_sub(now_ms))
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = rx.recv() => match r {
                Some(r) => site.receive(start.elapsed().as_millis() as u64, &r),
                None => break,
            },
            _ = state.recv() => {}
            _ = tokio::time::sleep(wake) => {}
        }
        site.poll(start.elapsed().as_millis() as u64, &mut out);
        for t in out.drain(..) {
            if tx.send(t.into()).await.is_err() {
                break;
            }
        }
    }
    link_stop.cancel();
    drop(tx);
    match link.await {
        Ok(r) => r?,
        Err(e) => return Err(io::Error::other(e)),
    }
    Ok(site.counters())
}

/// A load run: one site with `radios` radios sending about `bursts_per_second`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// The network: its first site is used; `generate` is the radio count.
    pub network: SimConfig,
    /// Target bursts per second (both slots together).
    pub bursts_per_second: u32,
    /// How long to run; `None` until shutdown.
    pub duration: Option<Duration>,
}

/// Slot pacing for a target rate: two slots, so each sends every `2000 / bps` ms (at least
/// 1 ms, so the ceiling is about 2,000 bursts per second per site).
pub fn load_burst_ms(bursts_per_second: u32) -> u64 {
    (2_000 / u64::from(bursts_per_second.max(1))).max(1)
}

/// Run a load: the first site of `load.network`, its activity raised to keep both slots busy.
pub async fn run_load(load: LoadConfig, shutdown: CancellationToken) -> io::Result<SimCounters> {
    let mut network = load.network.clone();
    let radios = network.generate.max(1) as f64;
    // about 15 bursts per action, each radio acting every 30 s / rate on average; ×4 headroom
    // so both slots stay busy (what does not fit is dropped and counted, MAX_SLOT_QUEUE)
    network.rate = (f64::from(load.bursts_per_second) * 30.0 * 4.0 / (15.0 * radios)).max(0.1);
    network.out_of_coverage = 0.0;
    network.sites.truncate(1);
    let Some(sc) = network.sites.first().cloned() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no site configured",
        ));
    };
    let Some(site) = network
        .build_sites(load_burst_ms(load.bursts_per_second))
        .into_iter()
        .next()
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no site configured",
        ));
    };
    let peer = bind_peer(network.master, &sc).await?;
    drive(peer, site, load.duration, shutdown).await
}

/// `trunkgate sim`: connect a simulated site to a gateway's Homebrew master.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// The master, HOST:PORT.
    #[arg(long)]
    pub connect: SocketAddr,
    /// Radios to simulate.
    #[arg(long, default_value_t = 20)]
    pub radios: usize,
    /// Load mode: target bursts per second; without it radios behave at normal activity.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Seed of the traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Homebrew peer ID.
    #[arg(long, default_value_t = 310_001)]
    pub peer_id: u32,
    /// Homebrew passphrase.
    #[arg(long, default_value = "passw0rd")]
    pub passphrase: String,
    /// Site name.
    #[arg(long, default_value = "sim-1")]
    pub site: String,
    /// Colour code.
    #[arg(long, default_value_t = 1)]
    pub colour_code: u8,
    /// Mask dialect: pdt or dmr.
    #[arg(long, default_value = "pdt")]
    pub dialect: String,
    /// Share of radios out of coverage.
    #[arg(long, default_value_t = 0.1)]
    pub out_of_coverage: f64,
}

/// Run `trunkgate sim` (builds its own tokio runtime; Ctrl-C stops it).
pub fn run_cli(args: SimArgs) -> anyhow::Result<()> {
    let dialect = match args.dialect.as_str() {
        "pdt" => Dialect::Pdt,
        "dmr" => Dialect::Dmr,
        other => anyhow::bail!("unknown dialect {other:?} (pdt or dmr)"),
    };
    let mut network = SimConfig::new(
        args.connect,
        vec![SimSiteConfig {
            peer_id: args.peer_id,
            passphrase: args.passphrase.clone(),
            name: args.site.clone(),
            colour_code: args.colour_code,
        }],
    );
    network.generate = args.radios;
    network.seed = args.seed;
    network.dialect = dialect;
    network.out_of_coverage = args.out_of_coverage;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let duration = args.duration.map(Duration::from_secs);
        let counters = match args.rate {
            Some(bps) => {
                let load = LoadConfig {
                    network,
                    bursts_per_second: bps,
                    duration,
                };
                vec![run_load(load, shutdown).await?]
            }
            None => {
                if let Some(d) = duration {
                    let stop = shutdown.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        stop.cancel();
                    });
                }
                run(network, shutdown).await?
            }
        };
        for c in counters {
            println!("{}", serde_json::to_string(&c)?);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> SimConfig {
        let site = |k: u32| SimSiteConfig {
            peer_id: k,
            passphrase: "p".into(),
            name: format!("s{k}"),
            colour_code: 17,
        };
        let mut c = SimConfig::new(
            SocketAddr::from(([127, 0, 0, 1], 1)),
            vec![site(1), site(2)],
        );
        c.seed = seed;
        c.generate = 400;
        c.out_of_coverage = 0.25;
        c
    }

    #[test]
    fn generated_networks_spread_radios_and_repeat_by_seed() {
        let a = cfg(1).build_sites(60);
        assert_eq!(a.len(), 2);
        assert_eq!(
            cfg(1).talkgroups(),
            vec![NAI_BASE | 1, NAI_BASE | 2, NAI_BASE | 3]
        );
        // same seed, same first bursts; another seed differs
        let first = |seed| {
            let mut s = cfg(seed).build_sites(60).remove(1);
            let mut out = Vec::new();
            for t in (0..5_000).step_by(20) {
                s.poll(t, &mut out);
            }
            out
        };
        assert_eq!(first(1), first(1));
        assert_ne!(first(1), first(2));
    }

    #[test]
    fn about_the_configured_share_is_out_of_coverage() {
        // count registrations (C_RAND + C_ACKD per radio in coverage) in the first 3 s
        let mut sites = cfg(9).build_sites(1);
        let mut out = Vec::new();
        for s in &mut sites {
            for t in (0..3_000).step_by(10) {
                s.poll(t, &mut out);
            }
        }
        let acks = out
            .iter()
            .filter(|t| t.meta.is_some_and(|m| m.source == 0xFF_FEC6))
            .count();
        assert!(
            (250..=350).contains(&acks),
            "{acks} of 400 in coverage, want about 300"
        );
    }

    #[test]
    fn load_pacing() {
        assert_eq!(load_burst_ms(1_000), 2);
        assert_eq!(load_burst_ms(100), 20);
        assert_eq!(load_burst_ms(1_000_000), 1);
        assert_eq!(load_burst_ms(0), 2_000);
    }
}
