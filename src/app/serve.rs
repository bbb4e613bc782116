//! `trunkgate serve`: wire the rooms together and run until shutdown (mini-redis
//! `server::run`).
//!
//! ```text
//!  links (Homebrew master / peers, MMDVM modems) ──Received──► ingest task ──Input──► driver
//!        ▲                                            (per-site Ingest,          │ (core +
//!        └──────── Transmit (egress-encoded, per-site router) ◄── transmit ──────┘  journal + hub)
//!                                                                                 ▲
//!                                       gRPC API (tonic) ── command / read / watch ┘
//! ```
//!
//! Every task takes a child of one `CancellationToken`; on shutdown the links close (RPTCL /
//! MSTCL), the API ends its streams with a resume cursor, and the driver saves a snapshot.
//! With `--demo` the simulated county of the configuration's `[sim]` section logs into the
//! gateway's own Homebrew master over 127.0.0.1, so the same wiring runs on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::config::{self, Config};
use super::driver::{self, DriverConfig, DriverHandle};
use super::links::LinkRegistry;
use crate::dispatch::{
    self, AirProfile, Directory, DirectoryRadio, DirectorySite, DirectoryTalkgroup, DirectoryTeam,
    Input, OperationId, Output, RadioId, SiteAir, SiteId, TalkgroupId, Timestamp, egress,
    ingest::Ingest,
};
use crate::journal::hub::HubConfig;
use crate::journal::sqlite::{SqliteConfig, SqliteJournal, Synchronous};
use crate::link::homebrew::{
    Allow, HomebrewCounters, Master, MasterConfig, Peer, PeerConfig, PeerEntry, PeerId,
    RepeaterInfo, SlotAllow,
};
use crate::link::mmdvm::{MmdvmConfig as ModemConfig, MmdvmLink, PortSpec};
use crate::link::{
    Aux, LinkCounters, LinkState, Received, Sent, SentReport, SiteName, Slot, Transmission,
};
use crate::wire::{Dialect, DialectChoice};

/// Bursts the ingest task decodes before handing their inputs to the driver at once.
const INGEST_BATCH: usize = 256;

/// Options of `trunkgate serve` that override the file.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Run the embedded demo: its configuration plus the simulated county.
    pub demo: bool,
    /// Override `[gateway] data_dir`.
    pub data_dir: Option<PathBuf>,
    /// Override `[api] listen`.
    pub listen: Option<SocketAddr>,
    /// Override the Homebrew master's bind address.
    pub homebrew: Option<SocketAddr>,
    /// Override `[metrics] listen` (turns the metrics endpoint on).
    pub metrics: Option<SocketAddr>,
    /// The configuration file (SIGHUP reloads its `[access]` section; relative TLS paths
    /// are read from its directory). `None`: the embedded demo, or a configuration made in
    /// memory (paths relative to the working directory).
    pub config_path: Option<PathBuf>,
}

/// What a running gateway exposes to its caller (tests use the addresses; tests and the
/// load benchmark read the counters).
#[derive(Clone)]
pub struct Running {
    /// The gRPC address.
    pub api: SocketAddr,
    /// The Homebrew master's address, if one runs.
    pub homebrew: Option<SocketAddr>,
    /// The driver: its counters ([`DriverHandle::stats`]) and the hub's
    /// ([`DriverHandle::hub`]).
    pub driver: DriverHandle,
    /// The Homebrew master's counters (frames in, `rx_dropped`, ...); a fresh, unused set
    /// when no master runs. Every link's own: [`Running::links`].
    pub link_counters: Arc<LinkCounters>,
    /// Every link: state per site, counters, last failure (what the `Site` resource shows).
    pub links: Arc<LinkRegistry>,
    /// The metrics endpoint's address, when `[metrics] listen` is set.
    pub metrics: Option<SocketAddr>,
    /// The API's access in force (refusal counts; what SIGHUP replaces).
    pub access: Arc<crate::api::access::Access>,
    /// The API's TLS in force.
    pub tls: Arc<crate::api::tls::Tls>,
    /// The demo's token file, with `--demo`.
    pub demo_token: Option<PathBuf>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("api", &self.api)
            .field("homebrew", &self.homebrew)
            .field("link_counters", &self.link_counters)
            .finish_non_exhaustive()
    }
}

/// How one site transmits.
#[derive(Debug, Clone)]
struct SiteTx {
    name: SiteName,
    colour_code: u8,
    dialect: Dialect,
    text_form: egress::TextForm,
    link: Option<mpsc::Sender<Transmission>>,
}

/// Build the core's directory from the configuration (names, teams, sites). Identities are
/// converted as [`Config::validate`] checks them, so a validated configuration always builds.
pub fn directory(config: &Config) -> anyhow::Result<Directory> {
    let radio = |id: &config::IdOrNumber| -> anyhow::Result<RadioId> {
        id.radio().with_context(|| format!("[[radio]] id {id}"))
    };
    let talkgroup = |id: &config::IdOrNumber| -> anyhow::Result<TalkgroupId> {
        id.talkgroup()
            .with_context(|| format!("[[talkgroup]] id {id}"))
    };
    let mut dir = Directory::default();
    for r in &config.radios {
        dir.radios.push(DirectoryRadio {
            id: radio(&r.id)?,
            name: Some(r.name.clone()),
        });
    }
    for t in &config.talkgroups {
        dir.talkgroups.push(DirectoryTalkgroup {
            id: talkgroup(&t.id)?,
            name: Some(t.name.clone()),
            slot: t.slot.map(slot_of),
            sites: t.sites.iter().map(|s| SiteId::new(s)).collect(),
        });
    }
    for s in &config.sites {
        dir.sites.push(DirectorySite {
            id: SiteId::new(&s.name),
            display_name: s.display_name.clone(),
            profile: profile(s.profile),
            air: SiteAir {
                slot: slot_of(s.slot),
                follow_heard_slot: s.follow_heard_slot,
                extra_air_ms: s.extra_air_ms,
            },
        });
    }
    for team in &config.teams {
        let mut radios = Vec::new();
        let mut leaders = Vec::new();
        for r in config
            .radios
            .iter()
            .filter(|r| r.team.as_deref() == Some(&team.name))
        {
            let id = radio(&r.id)?;
            radios.push(id);
            if r.role == Some(dispatch::TeamRole::Leader) {
                leaders.push(id);
            }
        }
        let talkgroup = team.talkgroup.as_ref().map(talkgroup).transpose()?;
        dir.teams.push(DirectoryTeam {
            key: team.name.clone(),
            name: team.display_name.clone(),
            radios,
            talkgroup,
            level: team.level,
            leaders,
            backups: team.backups.clone(),
            home: team.home.map(|[latitude, longitude]| dispatch::GeoPoint {
                latitude,
                longitude,
            }),
        });
    }
    Ok(dir)
}

/// A master peer's relay allow-list from its `talkgroups` / `slots` keys; `None` relays all.
fn allow_list(peer: &config::HomebrewMasterPeer) -> Option<Allow> {
    if peer.talkgroups.is_none() && peer.slots.is_none() {
        return None;
    }
    let slot = |n: u8| {
        if peer.slots.as_ref().is_some_and(|slots| !slots.contains(&n)) {
            SlotAllow::Closed
        } else {
            match &peer.talkgroups {
                Some(tgs) => SlotAllow::Talkgroups(tgs.clone()),
                None => SlotAllow::All,
            }
        }
    };
    Some(Allow {
        ts1: slot(1),
        ts2: slot(2),
    })
}

/// A configured slot number (validated 1 or 2 by `check-config`; anything else is 1).
fn slot_of(n: u8) -> Slot {
    if n == 2 { Slot::Two } else { Slot::One }
}

fn profile(p: config::AirProfile) -> AirProfile {
    match p {
        config::AirProfile::Pdt => AirProfile::Pdt,
        config::AirProfile::Tier3 => AirProfile::TierIii,
        config::AirProfile::Dmra => AirProfile::DmraConventional,
    }
}

/// The dialects a site's receivers accept, and the one its transmissions use.
fn dialects(site: &config::SiteConfig) -> (DialectChoice, Dialect) {
    match site.dialect {
        config::Dialect::Dmr => (DialectChoice::Dmr, Dialect::Dmr),
        config::Dialect::Pdt => (DialectChoice::Pdt, Dialect::Pdt),
        config::Dialect::Auto => (
            DialectChoice::Auto,
            if site.profile == config::AirProfile::Pdt {
                Dialect::Pdt
            } else {
                Dialect::Dmr
            },
        ),
    }
}

/// Start every room and return once the gateway is up; the tasks run until `shutdown`.
/// The returned join handle finishes when everything has drained. A configuration
/// [`Config::validate`] finds problems in is refused before anything starts (`trunkgate
/// serve` has already refused it with line numbers through [`Config::load`]).
pub async fn start(
    config: Config,
    options: &ServeOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<(Running, tokio::task::JoinHandle<()>)> {
    let problems = config.validate();
    if !problems.is_empty() {
        anyhow::bail!(
            "the configuration has problems (`trunkgate check-config` shows their lines):\n{}",
            config::Report(problems)
        );
    }
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(|| config.gateway.data_dir.clone());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let journal_config = SqliteConfig {
        synchronous: match config.journal.synchronous {
            config::Synchronous::Full => Synchronous::Full,
            config::Synchronous::Normal => Synchronous::Normal,
        },
        ..SqliteConfig::default()
    };
    let journal = SqliteJournal::open(&data_dir.join("journal"), &journal_config)
        .with_context(|| format!("opening the journal in {}", data_dir.display()))?;

    // Sites and their transmit routes.
    let (rx_tx, mut rx_rx) = mpsc::channel::<Received>(8192);
    let (state_tx, mut state_rx) = mpsc::channel::<LinkState>(256);
    // DMRA / DMRG (talker alias, GPS) from the Homebrew master's peers.
    let (aux_tx, mut aux_rx) = mpsc::channel::<Aux>(1024);
    let mut sites: HashMap<String, SiteTx> = HashMap::new();
    let mut receivers: HashMap<String, DialectChoice> = HashMap::new();
    for s in &config.sites {
        let (rx, tx) = dialects(s);
        receivers.insert(s.name.clone(), rx);
        sites.insert(
            s.name.clone(),
            SiteTx {
                name: SiteName::from(s.name.as_str()),
                colour_code: s.colour_code,
                dialect: tx,
                text_form: match s.text_form {
                    config::TextForm::PdtSms => egress::TextForm::PdtSms,
                    config::TextForm::MotorolaTms => egress::TextForm::MotorolaTms,
                },
                link: None,
            },
        );
    }
    let mut tasks = Vec::new();
    let link_counters = Arc::new(LinkCounters::default());
    let mut links = LinkRegistry::default();

    // The Homebrew master: one socket, one transmit queue for all its peers' sites.
    let mut homebrew_addr = None;
    if let Some(master) = &config.homebrew_master {
        let bind = options.homebrew.unwrap_or(master.bind);
        let peers = master
            .peers
            .iter()
            .map(|p| PeerEntry {
                id: PeerId(p.id),
                passphrase: p.passphrase.clone(),
                site: SiteName::from(p.site.as_str()),
                allow: allow_list(p),
                allowed_sources: p.allowed_sources.clone(),
            })
            .collect();
        let mut mc = MasterConfig::new(bind, peers);
        mc.ping_timeout = Duration::from_secs(master.peer_timeout_secs);
        mc.hang_time = Duration::from_millis(master.hang_time_ms);
        mc.relay = master.relay;
        mc.pacing = config::pacing(master.tx_pacing, master.tx_burst_interval_ms);
        mc.tx_slots = master
            .peers
            .iter()
            .filter_map(|p| p.command_slot.map(|s| (PeerId(p.id), slot_of(s))))
            .collect();
        let counters = Arc::new(HomebrewCounters::new(Arc::clone(&link_counters)));
        let mut master_sites: Vec<SiteName> = Vec::new();
        for p in &master.peers {
            if !master_sites.iter().any(|s| **s == *p.site) {
                master_sites.push(SiteName::from(p.site.as_str()));
            }
        }
        links.add(
            mc.name.clone(),
            "homebrew_master",
            master_sites,
            link_counters.clone(),
            Some(counters.clone()),
        );
        let link = Master::bind(mc, counters)
            .await
            .with_context(|| format!("binding the Homebrew master on {bind}"))?
            .with_aux(aux_tx.clone());
        homebrew_addr = Some(link.local_addr()?);
        let (tx, tx_rx) = mpsc::channel(1024);
        for p in &master.peers {
            if let Some(site) = sites.get_mut(&p.site) {
                site.link = Some(tx.clone());
            }
        }
        let (rx, state, token) = (rx_tx.clone(), state_tx.clone(), shutdown.child_token());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = link.run(rx, tx_rx, state, token).await {
                tracing::error!(error = %e, "Homebrew master stopped");
            }
        }));
    }
    for upstream in &config.homebrew_peers {
        let mut pc = PeerConfig::new(
            upstream.master,
            PeerId(upstream.id),
            upstream.passphrase.clone(),
            SiteName::from(upstream.site.as_str()),
        );
        pc.bind = upstream.bind;
        pc.pacing = config::pacing(upstream.tx_pacing, upstream.tx_burst_interval_ms);
        let site_cc = config
            .sites
            .iter()
            .find(|s| s.name == upstream.site)
            .map_or(1, |s| s.colour_code);
        pc.info = RepeaterInfo {
            callsign: upstream.callsign.clone(),
            rx_freq_hz: upstream.rx_freq_hz,
            tx_freq_hz: upstream.tx_freq_hz,
            tx_power_dbm: upstream.tx_power_dbm,
            colour_code: upstream.colour_code.unwrap_or(site_cc),
            latitude: upstream.latitude,
            longitude: upstream.longitude,
            height_m: upstream.height_m,
            location: upstream.location.clone(),
            description: upstream.description.clone(),
            slots: b'0' + upstream.slots.min(4),
            url: upstream.url.clone(),
            software_id: upstream.software_id.clone(),
            package_id: upstream.package_id.clone(),
        };
        let own = Arc::new(LinkCounters::default());
        let counters = Arc::new(HomebrewCounters::new(own.clone()));
        links.add(
            pc.name.clone(),
            "homebrew_peer",
            vec![SiteName::from(upstream.site.as_str())],
            own,
            Some(counters.clone()),
        );
        let link = Peer::bind(pc, counters)
            .await
            .with_context(|| format!("binding the Homebrew peer for {}", upstream.master))?;
        let (tx, tx_rx) = mpsc::channel(1024);
        if let Some(site) = sites.get_mut(&upstream.site) {
            site.link = Some(tx);
        }
        let (rx, state, token) = (rx_tx.clone(), state_tx.clone(), shutdown.child_token());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = link.run(rx, tx_rx, state, token).await {
                tracing::error!(error = %e, "Homebrew peer stopped");
            }
        }));
    }
    for modem in &config.mmdvm {
        let port = match (&modem.port, modem.udp_remote) {
            (Some(path), _) => PortSpec::Serial {
                path: path.clone(),
                baud: modem.baud,
            },
            (None, Some(remote)) => PortSpec::Udp {
                local: modem
                    .udp_local
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
                remote,
            },
            (None, None) => anyhow::bail!("mmdvm for site {:?}: no port", modem.site),
        };
        let site = SiteName::from(modem.site.as_str());
        let mut mc = ModemConfig::new(format!("mmdvm-{}", modem.site), port, site.clone());
        mc.duplex = modem.duplex;
        mc.pacing = config::pacing(modem.tx_pacing, modem.tx_burst_interval_ms);
        mc.wake_up = modem
            .wake_up_repeater_id
            .map(|bs_address| crate::link::mmdvm::WakeUp {
                bs_address,
                source: egress::DISPATI,
            });
        if let Some(s) = config.sites.iter().find(|s| s.name == modem.site) {
            mc.colour_code = s.colour_code;
        }
        let (tx, tx_rx) = mpsc::channel(1024);
        if let Some(s) = sites.get_mut(&modem.site) {
            s.link = Some(tx);
        }
        let (watch_tx, mut watch_rx) = watch::channel(LinkState::Down {
            link: mc.name.clone(),
            site: Some(site),
            reason: "starting".into(),
        });
        let state = state_tx.clone();
        let token = shutdown.child_token();
        tasks.push(tokio::spawn(async move {
            while watch_rx.changed().await.is_ok() {
                let s = watch_rx.borrow_and_update().clone();
                if state.send(s).await.is_err() {
                    break;
                }
            }
        }));
        let counters = Arc::new(LinkCounters::default());
        links.add(
            mc.name.clone(),
            "mmdvm",
            vec![SiteName::from(modem.site.as_str())],
            counters.clone(),
            None,
        );
        let rx = rx_tx.clone();
        tasks.push(tokio::spawn(MmdvmLink::run(
            mc, rx, tx_rx, watch_tx, counters, token,
        )));
    }
    drop(rx_tx);
    drop(state_tx);
    drop(aux_tx);
    let links = Arc::new(links);

    // The driver, with egress on its transmit path.
    // Validated above (config::ANSWER_TIMEOUT_SECS, ATTEMPTS, ...); the conversions still
    // saturate rather than wrap.
    let core_config = dispatch::Config {
        answer_timeout_ms: config.dispatch.answer_timeout_secs.saturating_mul(1000),
        max_attempts: u8::try_from(config.dispatch.attempts).unwrap_or(u8::MAX),
        kill_approval_window_ms: config
            .dispatch
            .kill_approval_window_secs
            .saturating_mul(1000),
        ..dispatch::Config::default()
    };
    let driver_config = DriverConfig {
        snapshot_every: config.journal.snapshot_every,
        commit_gap: Duration::from_millis(config.journal.commit_gap_ms),
        retention: Duration::from_secs(
            u64::from(config.journal.retention_days).saturating_mul(86_400),
        ),
        audit_retention: Duration::from_secs(
            u64::from(config.journal.audit_retention_days).saturating_mul(86_400),
        ),
        hub: HubConfig {
            queue_capacity: config.api.watch_queue,
            ..HubConfig::default()
        },
        ..DriverConfig::default()
    };
    // Transmit bursts dropped because a link queue was full or the site has no link.
    let tx_dropped = Arc::new(AtomicU64::new(0));
    let routes = sites.clone();
    let dropped = Arc::clone(&tx_dropped);
    // Links report each transmission sent here; the ingest task feeds it to the core.
    let (sent_tx, mut sent_rx) = mpsc::channel::<Sent>(1024);
    let transmit = move |output: Output| {
        let Output::Transmit {
            site,
            slot,
            profile,
            message,
            operation,
            attempt,
            ..
        } = output
        else {
            return;
        };
        let Some(route) = routes.get(site.as_str()) else {
            dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%site, "transmit for a site without a link");
            return;
        };
        match egress::encode_with_text_form(
            slot,
            route.colour_code,
            route.dialect,
            profile,
            &message,
            egress::DISPATI,
            route.text_form,
        ) {
            Ok(bursts) => {
                let Some(link) = &route.link else {
                    dropped.fetch_add(bursts.len() as u64, Ordering::Relaxed);
                    return;
                };
                let n = bursts.len() as u64;
                let t = Transmission {
                    site: route.name.clone(),
                    slot,
                    meta: bursts.first().map(|b| b.meta),
                    bursts: bursts.iter().map(|b| b.burst).collect(),
                    // The link draws the stream ID: the core stays deterministic.
                    fresh_stream: true,
                    report: Some(SentReport {
                        to: sent_tx.clone(),
                        tag: sent_tag(operation, attempt),
                    }),
                };
                if link.try_send(t).is_err() {
                    dropped.fetch_add(n, Ordering::Relaxed);
                    tracing::warn!(%site, %operation, "link transmit queue full: transmission dropped");
                }
            }
            Err(e) => tracing::warn!(%site, %operation, error = %e, "cannot encode command"),
        }
    };
    let dir = directory(&config)?;
    let (driver, driver_thread) =
        driver::start(journal, core_config, Some(dir), driver_config, transmit)
            .context("starting the dispatch driver")?;

    // Ingest: links → per-site decoders → the core.
    let ingest_stats = Arc::new(super::metrics::IngestStats::new(
        config.sites.iter().map(|s| s.name.clone()),
    ));
    {
        let driver = driver.clone();
        let links = links.clone();
        let stats = Arc::clone(&ingest_stats);
        tasks.push(tokio::spawn(async move {
            let mut ingests: HashMap<SiteName, Ingest> = HashMap::new();
            let mut inputs = Vec::new();
            let mut batch = Vec::with_capacity(INGEST_BATCH);
            let mut states_open = true;
            let mut sent_open = true;
            let mut aux_open = true;
            loop {
                tokio::select! {
                    // Whatever the links have queued, up to INGEST_BATCH bursts, goes to the
                    // driver as one message: one wake of the driver thread per batch, not per
                    // burst.
                    n = rx_rx.recv_many(&mut batch, INGEST_BATCH) => {
                        if n == 0 {
                            break;
                        }
                        for received in batch.drain(..) {
                            let ingest = ingests.entry(received.site.clone()).or_insert_with(|| {
                                let choice =
                                    receivers.get(&*received.site).copied().unwrap_or_default();
                                Ingest::new(SiteId::new(&received.site), choice)
                            });
                            let started = std::time::Instant::now();
                            ingest.feed(&received, &mut inputs);
                            stats.decode.observe(started.elapsed());
                        }
                        // The metrics read the decoders' counts from here: a few atomic
                        // stores per site and batch.
                        for (site, ingest) in &ingests {
                            stats.store(site, &ingest.counters());
                        }
                        driver.submit_all(&mut inputs);
                    }
                    aux = aux_rx.recv(), if aux_open => {
                        let Some(aux) = aux else {
                            aux_open = false;
                            continue;
                        };
                        let ingest = ingests.entry(aux.site.clone()).or_insert_with(|| {
                            let choice = receivers.get(&*aux.site).copied().unwrap_or_default();
                            Ingest::new(SiteId::new(&aux.site), choice)
                        });
                        ingest.aux(&aux, &mut inputs);
                        driver.submit_all(&mut inputs);
                    }
                    // Once every link has dropped its state sender the branch is disabled;
                    // polling a closed channel would return at once and spin this loop.
                    // A link reports a transmission sent: the answer window starts there.
                    sent = sent_rx.recv(), if sent_open => {
                        let Some(sent) = sent else {
                            sent_open = false;
                            continue;
                        };
                        let (operation, attempt) = sent_untag(sent.tag);
                        let at = sent
                            .at
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64);
                        driver.submit(Input::TransmissionSent {
                            operation,
                            attempt,
                            site: SiteId::new(&sent.site),
                            slot: sent.slot,
                            at: Timestamp(at),
                        });
                    }
                    state = state_rx.recv(), if states_open => {
                        let Some(state) = state else {
                            states_open = false;
                            continue;
                        };
                        links.set_state(&state);
                        match state {
                            LinkState::Up { link, site: Some(site) } => {
                                tracing::info!(%link, %site, "link up");
                                driver.submit(Input::SiteUp { site: SiteId::new(&site) });
                            }
                            LinkState::Down { link, site: Some(site), reason } => {
                                tracing::warn!(%link, %site, %reason, "link down");
                                driver.submit(Input::SiteDown { site: SiteId::new(&site) });
                            }
                            other => tracing::info!(?other, "link state"),
                        }
                    }
                }
            }
        }));
    }

    // The API. Its connections need file handles; raise the soft limit before binding.
    crate::api::conn::raise_file_limit(
        (config.api.max_connections as u64).saturating_add(crate::api::conn::FILE_RESERVE),
    );
    let listen = options.listen.unwrap_or(config.api.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the gRPC API on {listen}"))?;
    let api_addr = listener.local_addr()?;
    let requests = crate::api::RequestCounts::default();
    let observed = super::metrics::Observed {
        links: links.clone(),
        driver: driver.clone(),
        ingest: ingest_stats,
        requests: Arc::clone(&requests.0),
        journal_dir: data_dir.join("journal"),
        sites: config
            .sites
            .iter()
            .map(|s| super::metrics::SiteRoute {
                site: s.name.clone(),
                link: sites.get(&s.name).and_then(|t| t.link.clone()),
                command_slot: s.slot,
            })
            .collect(),
        tx_dropped: Arc::clone(&tx_dropped),
        started: std::time::SystemTime::now(),
        callouts: Some({
            let driver = driver.clone();
            Arc::new(move || driver.stats().callouts.snapshot())
        }),
    };
    let mut metrics_addr = None;
    if let Some(addr) = options.metrics.or(config.metrics.listen) {
        let listener = super::metrics::http::bind(addr)
            .await
            .with_context(|| format!("binding the metrics endpoint on {addr}"))?;
        metrics_addr = Some(listener.local_addr()?);
        let registry = observed.clone().registry();
        tasks.push(tokio::spawn(super::metrics::http::serve(
            listener,
            registry,
            shutdown.clone(),
        )));
    }
    // Access: the [access] section, the demo's token, reloaded on SIGHUP.
    let base = options
        .config_path
        .as_deref()
        .map_or_else(|| PathBuf::from("."), super::access::config_dir);
    let (mut set, tls_config) = super::access::build(&config.access, &base)
        .map_err(|e| anyhow::anyhow!("[access]: {e}"))?;
    let mut extra = Vec::new();
    let mut demo_token = None;
    if options.demo {
        extra.push(super::access::demo_token(&data_dir)?);
        extra.push(super::access::deputy_token(&data_dir)?);
        demo_token = Some(data_dir.join(super::access::DEMO_TOKEN_FILE));
    }
    set.tokens.extend(extra.iter().cloned());
    if set.tokens.is_empty() && set.certs.is_empty() {
        tracing::warn!(
            "[access] names no token and no client certificate: every API call but health and reflection is refused (mint a token with `trunkgate access new-token`)"
        );
    }
    // The one hook for refusals and reloads; the audit trail journals them.
    let access = crate::api::access::Access::new(set, super::access::journal_hook(driver.clone()));
    let tls = crate::api::tls::Tls::new(tls_config);
    tasks.push(tokio::spawn(super::access::reload_on_hangup(
        super::access::Reloader {
            path: options.config_path.clone(),
            extra,
            access: access.clone(),
            tls: tls.clone(),
        },
        shutdown.child_token(),
    )));
    {
        let backend = Arc::new(
            super::backend::GatewayBackend::new(driver.clone())
                .with_links(links.clone())
                .with_observed(observed),
        );
        let api_config = crate::api::ApiConfig {
            access: Some(access.clone()),
            tls: Some(tls.clone()),
            reflection: config.api.reflection,
            heartbeat: Duration::from_secs(config.api.heartbeat_secs),
            max_concurrent_streams: config.api.max_streams_per_connection,
            max_connections: config.api.max_connections,
            max_connections_per_client: config.api.max_connections_per_client,
            max_streams_per_client: config.api.max_streams_per_client,
            handshake_timeout: Duration::from_secs(config.api.handshake_timeout_secs),
            keepalive_interval: Duration::from_secs(config.api.keepalive_interval_secs),
            keepalive_timeout: Duration::from_secs(config.api.keepalive_timeout_secs),
            requests,
            ..crate::api::ApiConfig::default()
        };
        let token = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::api::serve(backend, listener, api_config, async move {
                token.cancelled().await
            })
            .await
            {
                tracing::error!(error = %e, "gRPC API stopped");
            }
        }));
    }

    // The demo's simulated county.
    if options.demo
        && let (Some(sim), Some(master), Some(addr)) =
            (&config.sim, &config.homebrew_master, homebrew_addr)
    {
        let sim_config = super::demo::sim_config(&config, sim, master, addr)?;
        let token = shutdown.child_token();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::sim::run(sim_config, token).await {
                tracing::error!(error = %e, "simulated county stopped");
            }
        }));
    }

    let running = Running {
        api: api_addr,
        homebrew: homebrew_addr,
        driver: driver.clone(),
        link_counters,
        links,
        metrics: metrics_addr,
        access,
        tls,
        demo_token,
    };
    let join = tokio::spawn(drain(shutdown, tasks, driver, driver_thread, tx_dropped));
    Ok((running, join))
}

/// The tag a link echoes in its [`Sent`] report: the operation and the attempt.
fn sent_tag(operation: OperationId, attempt: u8) -> u64 {
    (operation.0 << 8) | u64::from(attempt)
}

fn sent_untag(tag: u64) -> (OperationId, u8) {
    (OperationId(tag >> 8), tag as u8)
}

async fn drain(
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    driver: DriverHandle,
    driver_thread: std::thread::JoinHandle<()>,
    tx_dropped: Arc<AtomicU64>,
) {
    shutdown.cancelled().await;
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    driver.shutdown();
    let _ = tokio::task::spawn_blocking(move || driver_thread.join()).await;
    tracing::info!(
        tx_dropped = tx_dropped.load(Ordering::Relaxed),
        dropped_inputs = driver.stats().dropped_inputs.load(Ordering::Relaxed),
        "gateway stopped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(talkgroups: Option<Vec<u32>>, slots: Option<Vec<u8>>) -> config::HomebrewMasterPeer {
        config::HomebrewMasterPeer {
            id: 1,
            passphrase: "x".into(),
            site: "s".into(),
            talkgroups,
            slots,
            command_slot: None,
            allowed_sources: None,
        }
    }

    #[test]
    fn allow_lists_follow_the_peer_keys() {
        assert_eq!(allow_list(&peer(None, None)), None);
        assert_eq!(
            allow_list(&peer(Some(vec![9011201]), Some(vec![2]))),
            Some(Allow {
                ts1: SlotAllow::Closed,
                ts2: SlotAllow::Talkgroups(vec![9011201])
            })
        );
        assert_eq!(
            allow_list(&peer(None, Some(vec![1]))),
            Some(Allow {
                ts1: SlotAllow::All,
                ts2: SlotAllow::Closed
            })
        );
    }

    #[test]
    fn the_demo_directory_names_every_radio_and_team() {
        let config = Config::parse(config::DEMO).unwrap();
        let dir = directory(&config).unwrap();
        assert_eq!(dir.radios.len(), 30);
        assert_eq!(dir.teams.len(), 5);
        assert!(
            dir.teams
                .iter()
                .all(|t| !t.radios.is_empty() && t.talkgroup.is_some())
        );
        assert_eq!(dir.sites.len(), 3);
    }
}
