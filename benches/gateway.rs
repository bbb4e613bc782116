//! The gateway under load, end to end: Homebrew DMRD datagrams → master link → ingest (decode)
//! → dispatch core → journal (SQLite, `synchronous = full`, one commit per batch) → hub →
//! 100 gRPC `WatchEvents` streams over 127.0.0.1.
//!
//! What runs: the real gateway in this process (`app::serve::start`, temporary data
//! directory, one Homebrew master with `GATEWAY_BENCH_SITES` peers / sites), real gRPC
//! watchers (one HTTP/2 connection each, every event unfiltered; they read each message's
//! cursor and registration payload and let prost skip the rest, since on this 2-core machine
//! their decoding competes with the gateway for the same cores, and in service it runs on the
//! consoles' machines; `GATEWAY_BENCH_FULL_DECODE=1` decodes every field), and a load generator of
//! plain UDP sockets, one per site, that perform the real Homebrew login through
//! [`PeerSession`] (RPTL / RPTK / RPTC, docs/transports.md §2.1) and then send
//! pre-encoded DMRD datagrams (docs/transports.md §2.2) open loop at a fixed rate from two threads.
//!
//! The burst mix, per site, as a control channel carries it (docs/performance.md
//! §1c: "most control-channel bursts are idle or Aloha fillers"):
//! - 65 % C_ALOHA from the site controller (docs/air-interface.md §3.4): decoded, no event;
//! - 25 % C_ACKD reason 0x62 from REGI (registration accepted, docs/air-interface.md §3.4, 3.7) for
//!   a pool of 2,000 radios per site: each pool radio's first registration makes events, the
//!   repeats only refresh it;
//! - 10 % the simulator's traffic (`sim::SimSite` at high activity, looped): registrations,
//!   grants, voice LC headers, voice bursts with embedded LC, terminators, P_CLEAR, texts,
//!   statuses and position reports, which make calls, messages and positions;
//! - tags: about 200 per second, a C_ACKD 0x62 for a radio never heard before. The core emits
//!   `RadioHeard` then `RadioRegistered` for it; latency is the time from just before the
//!   datagram's `send` to the `RadioRegistered` event read by each watcher.
//!
//! Phases: a latency run at 10,000 bursts/s, then open-loop runs at each rate of
//! `GATEWAY_BENCH_RATES`. Each run reports the bursts sent, those the link accepted and handed
//! on (`frames_in - rx_dropped`), UDP loss (sent but never received by the master), the
//! driver's dropped inputs, the events journaled, the rate "processed" (accepted bursts over
//! the time until the run's last tag reached every watcher, so a backlog counts against it),
//! and the latency percentiles over all deliveries. Then VmRSS, and with
//! `GATEWAY_BENCH_RADIOS=N` a memory run: N fresh radios registered through the pipeline
//! (watchers closed first), and VmRSS after.
//!
//! Knobs (environment): `GATEWAY_BENCH_SECS` (seconds per run, default 5),
//! `GATEWAY_BENCH_RATES` (comma-separated, default `25000,50000,100000`),
//! `GATEWAY_BENCH_WATCHERS` (100), `GATEWAY_BENCH_SITES` (8), `GATEWAY_BENCH_RADIOS` (unset),
//! `GATEWAY_BENCH_REG_RATE` (registrations per second of the memory run, 20,000),
//! `GATEWAY_BENCH_SNAPSHOT_EVERY` (the journal's `snapshot_every`; unset: the default),
//! `GATEWAY_BENCH_COMMIT_GAP_MS` (the journal's `commit_gap_ms`; unset: the default),
//! `GATEWAY_BENCH_FULL_DECODE` (1: watchers decode every field), `GATEWAY_BENCH_TLS` (1: the
//! API serves TLS with a certificate made at start, and the watchers connect over it). Every
//! watcher authenticates with a bearer token from the `[access]` section either way.
//! A default run takes about 45 s. Figures depend on the machine; nothing here asserts speed.
//!
//! Measured on the standard 2-core machine, quiet (2026-11-29; 8 sites, 100 watchers, 5 s
//! runs): 10,000 bursts/s → p50 2.4 ms, p99 5.9 ms; 100,000/s sustained with no loss and
//! every tag at every watcher, p50 5.9 ms, p99 29 ms, 415 k deliveries/s; 120,000/s also
//! without loss (p99 59 ms). With `GATEWAY_BENCH_FULL_DECODE=1`: p99 6.9 ms at 10,000/s and
//! 100,000/s still sustained (p99 82 ms). The process uses 19 µs of CPU per burst at 100,000/s,
//! about a third of it the load generator's own UDP sends (loopback delivery runs in the
//! sender's context). A million radios registered through the pipeline: 258 MB VmRSS.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trunkgate::api::{convert, pb};
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, Running, ServeOptions};
use trunkgate::link::homebrew::packet::{CallType, Dmrd, FrameType, Packet, PeerId};
use trunkgate::link::homebrew::peer::{PeerAction, PeerConfig, PeerSession};
use trunkgate::link::homebrew::{HomebrewCounters, classify_burst};
use trunkgate::link::{LinkCounters, SiteName, Slot, Transmit};
use trunkgate::sim::{SimConfig, SimRadioConfig, SimSiteConfig};
use trunkgate::wire::Dialect;
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::csbk::{
    Aloha, Csbk, CsbkBody, ReasonCode, ServiceFunction, SystemIdentityCode, SystemModel,
};
use trunkgate::wire::pipeline::bptc_burst;

/// REGI, the registration service identity (docs/air-interface.md §3.7).
const REGI: u32 = 0xFF_FEC6;
/// Reason 0x62, registration accepted (docs/air-interface.md §3.4).
const REGISTRATION_ACCEPTED: u8 = 0x62;
/// Colour code of every site (any of 0–15 would do).
const COLOUR_CODE: u8 = 1;
/// Pool radios per site: 0x10_0000 + site * POOL + k.
const POOL: u32 = 2_000;
const POOL_BASE: u32 = 0x10_0000;
/// Simulated radios per site: 0x30_0000 + site * 1_000 + k.
const SIM_BASE: u32 = 0x30_0000;
/// Tagged fresh radios: TAG_BASE + k, at most MAX_TAGS of them.
const TAG_BASE: u32 = 0x50_0000;
const MAX_TAGS: usize = 1 << 18;
/// Fresh radios of the memory run: MEM_BASE + k (MEM_BASE + 1 M stays below the reserved
/// identities at 0xFF_FExx, docs/air-interface.md §3.7).
const MEM_BASE: u32 = 0x80_0000;
/// Tags per second in every run.
const TAGS_PER_SEC: u32 = 200;
/// Peer IDs: PEER_BASE + site.
const PEER_BASE: u32 = 3_100_000;
const PASSPHRASE: &str = "passw0rd";

struct Opts {
    secs: u64,
    rates: Vec<u32>,
    watchers: usize,
    sites: usize,
    radios: Option<u32>,
    reg_rate: u32,
    snapshot_every: Option<u64>,
    full_decode: bool,
    tls: bool,
}

impl Opts {
    fn from_env() -> Opts {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
        }
        let rates = std::env::var("GATEWAY_BENCH_RATES")
            .ok()
            .map(|v| {
                v.split(',')
                    .filter_map(|r| r.trim().parse().ok())
                    .collect::<Vec<u32>>()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec![25_000, 50_000, 100_000]);
        Opts {
            secs: var("GATEWAY_BENCH_SECS").unwrap_or(5).max(1),
            rates,
            watchers: var("GATEWAY_BENCH_WATCHERS").unwrap_or(100),
            sites: var::<usize>("GATEWAY_BENCH_SITES")
                .unwrap_or(8)
                .clamp(1, 64),
            radios: var("GATEWAY_BENCH_RADIOS"),
            reg_rate: var("GATEWAY_BENCH_REG_RATE").unwrap_or(20_000).max(100),
            snapshot_every: var("GATEWAY_BENCH_SNAPSHOT_EVERY"),
            full_decode: var::<u8>("GATEWAY_BENCH_FULL_DECODE").is_some_and(|v| v != 0),
            tls: var::<u8>("GATEWAY_BENCH_TLS").is_some_and(|v| v != 0),
        }
    }
}

fn config(sites: usize, snapshot_every: Option<u64>) -> String {
    let mut s = String::from(
        r#"
[api]
listen = "127.0.0.1:0"
heartbeat_secs = 5
# every watcher is its own connection from 127.0.0.1: lift the per-client bounds
max_connections_per_client = 500
max_streams_per_client = 10000

[journal]
synchronous = "full"

[homebrew_master]
bind = "127.0.0.1:0"
peer_timeout_secs = 60
"#,
    );
    if let Some(ms) = std::env::var("GATEWAY_BENCH_COMMIT_GAP_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        s = s.replace("[journal]\n", &format!("[journal]\ncommit_gap_ms = {ms}\n"));
    }
    if let Some(n) = snapshot_every {
        s = s.replace("[journal]\n", &format!("[journal]\nsnapshot_every = {n}\n"));
    }
    for k in 0..sites {
        s.push_str(&format!(
            "\n[[homebrew_master.peer]]\nid = {}\npassphrase = \"{PASSPHRASE}\"\nsite = \"s{k}\"\n",
            PEER_BASE + k as u32
        ));
    }
    for k in 0..sites {
        s.push_str(&format!(
            "\n[[site]]\nname = \"s{k}\"\nprofile = \"pdt\"\ndialect = \"pdt\"\ncolour_code = {COLOUR_CODE}\n"
        ));
    }
    s
}

// -- the load generator ---------------------------------------------------------------------

fn csbk_burst(c: &Csbk) -> [u8; 33] {
    bptc_burst(
        SyncPattern::BsData,
        COLOUR_CODE,
        DataType::Csbk,
        &c.to_bytes(Dialect::Pdt),
    )
}

fn datagram(
    peer: u32,
    slot: Slot,
    burst: [u8; 33],
    meta: (u32, u32, bool),
    stream: u32,
) -> Vec<u8> {
    let (frame, dt) = classify_burst(&burst);
    let d = Dmrd {
        seq: 0,
        source: meta.0 & 0xFF_FFFF,
        destination: meta.1 & 0xFF_FFFF,
        repeater: PeerId(peer),
        slot,
        call: if meta.2 {
            CallType::Private
        } else {
            CallType::Group
        },
        frame,
        data_type: match frame {
            FrameType::DataSync => dt.unwrap_or(0),
            FrameType::VoiceSync => 0,
            // voice bursts B-F carry their letter; the gateway decodes the burst itself
            _ => 1,
        },
        stream_id: stream,
        burst,
        ber: 0,
        rssi: 70,
    };
    Packet::Dmrd(d).to_vec()
}

fn aloha() -> Csbk {
    Csbk::new(CsbkBody::CAloha(Aloha {
        reserved: false,
        tsccas: false,
        site_ts_sync: true,
        version: 0,
        offset_timing: false,
        active_connection: true,
        mask: 0,
        service_function: ServiceFunction::AllServices,
        nrand_wait: 5,
        reg_required: true,
        backoff: 2,
        system_code: SystemIdentityCode::new(SystemModel::Small, 1, 1, 0),
        ms_address: 0,
    }))
    .expect("a C_ALOHA with in-range fields encodes") // constant fields, checked by the first run
}

fn ackd(radio: u32) -> [u8; 33] {
    csbk_burst(&Csbk::ackd(radio, REGI, ReasonCode(REGISTRATION_ACCEPTED)))
}

/// The simulator's traffic for one site: a few hundred bursts of calls, data and
/// registrations, in its order (so calls and packet data assemble).
fn sim_traffic(site: usize) -> Vec<Transmit> {
    let mut cfg = SimConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 1)),
        vec![SimSiteConfig {
            peer_id: PEER_BASE + site as u32,
            passphrase: PASSPHRASE.into(),
            name: format!("s{site}"),
            colour_code: COLOUR_CODE,
        }],
    );
    cfg.radios = (0..50)
        .map(|k| SimRadioConfig {
            id: SIM_BASE + site as u32 * 1_000 + k,
            talkgroup: (32 << 15) | (1 + k % 3),
            site: 0,
            alias: None,
            reply: None,
        })
        .collect();
    cfg.out_of_coverage = 0.0;
    cfg.rate = 20.0;
    cfg.seed = 7 + site as u64;
    let mut sim = cfg.build_sites(60).remove(0);
    let mut out = Vec::new();
    let mut t = 0;
    while out.len() < 1_000 && t < 600_000 {
        sim.poll(t, &mut out);
        t += 30;
    }
    out
}

/// One site's datagram cycle: 1,000 datagrams in the mix of the module doc.
fn site_cycle(site: usize) -> Vec<Vec<u8>> {
    let peer = PEER_BASE + site as u32;
    let sim = sim_traffic(site);
    let aloha = csbk_burst(&aloha());
    let mut stream = 0x1000_0000u32 | ((site as u32) << 16);
    let mut next_stream = || {
        stream = stream.wrapping_add(1);
        stream
    };
    let mut out = Vec::with_capacity(1_000);
    let (mut pool, mut s) = (0u32, 0usize);
    for k in 0..1_000usize {
        let slot = if k % 2 == 0 { Slot::One } else { Slot::Two };
        let d = match k % 20 {
            0..=12 => datagram(peer, slot, aloha, (0, 0, false), next_stream()),
            13..=17 => {
                let radio = POOL_BASE + site as u32 * POOL + pool % POOL;
                pool += 1;
                datagram(peer, slot, ackd(radio), (REGI, radio, true), next_stream())
            }
            _ => match sim.get(s % sim.len().max(1)) {
                Some(t) => {
                    s += 1;
                    let (meta, stream) = t.meta.map_or(((0, 0, false), 1), |m| {
                        ((m.source, m.destination, m.private), m.stream_id)
                    });
                    datagram(peer, t.slot, t.burst, meta, stream)
                }
                None => datagram(peer, slot, aloha, (0, 0, false), next_stream()),
            },
        };
        out.push(d);
    }
    out
}

/// Log one socket in as `site`'s peer through the real login state machine.
fn login(master: SocketAddr, site: usize) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(master)?;
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let cfg = PeerConfig::new(
        master,
        PeerId(PEER_BASE + site as u32),
        PASSPHRASE.to_string(),
        SiteName::from(format!("s{site}").as_str()),
    );
    let counters = Arc::new(HomebrewCounters::new(Arc::new(LinkCounters::default())));
    let mut session = PeerSession::new(&cfg, Instant::now(), counters);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        session.poll(Instant::now(), &mut out);
        for a in out.drain(..) {
            if let PeerAction::Send(p) = a {
                socket.send(&p.to_vec())?;
            }
        }
        if session.is_connected() {
            return Ok(socket);
        }
        if let Ok(n) = socket.recv(&mut buf)
            && let Ok(p) = Packet::parse(&buf[..n])
        {
            session.handle(Instant::now(), p, &mut out);
        }
    }
    Err(std::io::Error::other(format!(
        "site s{site}: login timed out"
    )))
}

/// Shared between the generator and the watchers: when each tag was sent (ns since `epoch`,
/// 0 = not sent) and how many watchers have seen it.
struct Tags {
    epoch: Instant,
    sent_ns: Vec<AtomicU64>,
    seen: Vec<AtomicU32>,
    next: AtomicU32,
    /// Latencies of every delivery of the current run, in microseconds.
    latencies: Mutex<Vec<u32>>,
    /// Events read by all watchers together.
    delivered: AtomicU64,
}

impl Tags {
    fn new() -> Tags {
        Tags {
            epoch: Instant::now(),
            sent_ns: (0..MAX_TAGS).map(|_| AtomicU64::new(0)).collect(),
            seen: (0..MAX_TAGS).map(|_| AtomicU32::new(0)).collect(),
            next: AtomicU32::new(0),
            latencies: Mutex::new(Vec::new()),
            delivered: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Send `rate` datagrams per second for `secs` over `sockets` (each with its cycle), with a
/// tag every `rate / TAGS_PER_SEC` datagrams. Returns the datagrams sent.
fn blast(
    sockets: &[(usize, UdpSocket, Vec<Vec<u8>>)],
    rate: f64,
    secs: f64,
    tags: &Tags,
    tag_every: u64,
) -> u64 {
    let start = Instant::now();
    let mut sent = 0u64;
    let mut pos = vec![0usize; sockets.len()];
    let mut turn = 0usize;
    let total = (rate * secs) as u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        if sent >= due {
            // 1 ms steps: each wake sends what is due (rate / 1000 datagrams), so the
            // generator costs few context switches of the cores it shares with the gateway
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        while sent < due {
            let (site, socket, cycle) = &sockets[turn];
            if sent % tag_every == tag_every - 1 {
                let k = tags.next.fetch_add(1, Ordering::Relaxed) as usize;
                if k < MAX_TAGS {
                    let radio = TAG_BASE + k as u32;
                    let peer = PEER_BASE + *site as u32;
                    let d = datagram(
                        peer,
                        Slot::One,
                        ackd(radio),
                        (REGI, radio, true),
                        0x2000_0000 | k as u32,
                    );
                    tags.sent_ns[k].store(tags.now_ns(), Ordering::Relaxed);
                    let _ = socket.send(&d);
                    sent += 1;
                    turn = (turn + 1) % sockets.len();
                    continue;
                }
            }
            let p = &mut pos[turn];
            let _ = socket.send(&cycle[*p]);
            *p = (*p + 1) % cycle.len();
            sent += 1;
            turn = (turn + 1) % sockets.len();
        }
    }
    sent
}

/// Send `n` fresh registrations (radios `MEM_BASE..MEM_BASE + n`) as fast as the gateway
/// accepts them without loss: paced at `rate`.
fn register(sockets: &[(usize, UdpSocket, Vec<Vec<u8>>)], from: u32, n: u32, rate: f64) {
    let start = Instant::now();
    let mut k = 0u32;
    while k < n {
        let due = ((start.elapsed().as_secs_f64() * rate) as u32).min(n);
        if k >= due {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        while k < due {
            let (site, socket, _) = &sockets[k as usize % sockets.len()];
            let radio = from + k;
            let d = datagram(
                PEER_BASE + *site as u32,
                Slot::One,
                ackd(radio),
                (REGI, radio, true),
                0x4000_0000 | k,
            );
            let _ = socket.send(&d);
            k += 1;
        }
    }
}

// -- watchers -------------------------------------------------------------------------------

/// The fields of `WatchEventsResponse` a lean watcher reads (events.proto): the event's
/// cursor and, for `radio_registered`, the radio. Prost skips every other field without
/// building it, as any client that wants a few fields may do; the wire is unchanged.
#[derive(Clone, PartialEq, prost::Message)]
struct LeanResponse {
    #[prost(message, optional, tag = "1")]
    event: Option<LeanEvent>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeanEvent {
    #[prost(string, tag = "5")]
    cursor: String,
    #[prost(message, optional, tag = "14")]
    radio_registered: Option<LeanRegistered>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LeanRegistered {
    #[prost(string, tag = "1")]
    radio: String,
}

/// Record one delivered event; `registered` is the radio of a `radio_registered` event.
fn seen(tags: &Tags, registered: Option<&str>) {
    tags.delivered.fetch_add(1, Ordering::Relaxed);
    if let Some(radio) = registered
        && let Ok(id) = convert::parse_radio("radio", radio)
        && let Some(k) = id.air().checked_sub(TAG_BASE)
        && (k as usize) < MAX_TAGS
    {
        let k = k as usize;
        let sent = tags.sent_ns[k].load(Ordering::Relaxed);
        if sent != 0 {
            let us = tags.now_ns().saturating_sub(sent) / 1_000;
            // recorded before `seen`, so a run that sees every tag has every latency
            tags.latencies
                .lock()
                .unwrap()
                .push(u32::try_from(us).unwrap_or(u32::MAX));
            tags.seen[k].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The watchers' bearer token (its hash is in the bench's `[access]` section).
const BENCH_TOKEN: &str = "tg_be9c000000000000000000000000000000000000000000000000000000000001";

/// `[access]`: the watchers' token; with `tls`, a certificate for 127.0.0.1 made now (its PEM
/// returned for the watchers to trust).
fn access_section(dir: &std::path::Path, tls: bool) -> anyhow::Result<(String, Option<String>)> {
    let mut s = String::from("\n[access]\n");
    let mut ca = None;
    if tls {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
        let (cert_path, key_path) = (dir.join("api.pem"), dir.join("api.key"));
        std::fs::write(&cert_path, cert.cert.pem())?;
        std::fs::write(&key_path, cert.signing_key.serialize_pem())?;
        s.push_str(&format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            cert_path.display().to_string(),
            key_path.display().to_string()
        ));
        ca = Some(cert.cert.pem());
    }
    s.push_str(&format!(
        "\n[[access.token]]\nidentity = \"bench\"\nroles = [\"viewer\"]\nhash = \"{}\"\n",
        trunkgate::api::access::hash_token(BENCH_TOKEN)?
    ));
    Ok((s, ca))
}

fn bearer(mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {BENCH_TOKEN}").parse().expect("ASCII"),
    );
    Ok(req)
}

async fn watcher(
    api: SocketAddr,
    tags: Arc<Tags>,
    stop: CancellationToken,
    full: bool,
    ca: Option<String>,
) -> anyhow::Result<()> {
    let ch = match ca {
        Some(ca) => {
            tonic::transport::Channel::from_shared(format!("https://{api}"))?
                .tls_config(
                    tonic::transport::ClientTlsConfig::new()
                        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                        .domain_name("localhost"),
                )?
                .connect()
                .await?
        }
        None => {
            tonic::transport::Channel::from_shared(format!("http://{api}"))?
                .connect()
                .await?
        }
    };
    let ch = tonic::service::interceptor::InterceptedService::new(ch, bearer);
    let request = pb::WatchEventsRequest::default();
    if full {
        let mut client = pb::event_service_client::EventServiceClient::new(ch);
        let mut stream = client.watch_events(request).await?.into_inner();
        loop {
            let msg = tokio::select! {
                _ = stop.cancelled() => break,
                m = stream.message() => m,
            };
            let Some(msg) = msg? else { break };
            let Some(pb::watch_events_response::Kind::Event(e)) = msg.kind else {
                continue;
            };
            let registered = match &e.payload {
                Some(pb::event::Payload::RadioRegistered(r)) => Some(r.radio.as_str()),
                _ => None,
            };
            seen(&tags, registered);
        }
        return Ok(());
    }
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/trunkgate.v1.EventService/WatchEvents",
    );
    let codec = tonic_prost::ProstCodec::<pb::WatchEventsRequest, LeanResponse>::default();
    let mut stream = grpc
        .server_streaming(tonic::Request::new(request), path, codec)
        .await?
        .into_inner();
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => break,
            m = stream.message() => m,
        };
        let Some(msg) = msg? else { break };
        // heartbeats (field 2) decode as a response without an event
        let Some(e) = msg.event else { continue };
        seen(&tags, e.radio_registered.as_ref().map(|r| r.radio.as_str()));
    }
    Ok(())
}

// -- runs -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    frames_in: u64,
    rx_dropped: u64,
    bad: u64,
    dropped_inputs: u64,
    events: u64,
    commits: u64,
    delivered: u64,
}

fn counts(running: &Running, tags: &Tags) -> Counts {
    let l = &running.link_counters;
    let d = running.driver.stats();
    Counts {
        frames_in: l.frames_in.load(Ordering::Relaxed),
        rx_dropped: l.rx_dropped.load(Ordering::Relaxed),
        bad: l.bad_frames.load(Ordering::Relaxed) + l.unauthenticated.load(Ordering::Relaxed),
        dropped_inputs: d.dropped_inputs.load(Ordering::Relaxed),
        events: d.events.load(Ordering::Relaxed),
        commits: d.commits.load(Ordering::Relaxed),
        delivered: tags.delivered.load(Ordering::Relaxed),
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1_000.0
}

struct Row {
    target: u32,
    sent: u64,
    accepted: u64,
    udp_lost: u64,
    rx_dropped: u64,
    dropped_inputs: u64,
    processed_per_s: f64,
    events_per_s: f64,
    per_commit: f64,
    delivered_per_s: f64,
    deliveries: usize,
    missing: u64,
    lat: [f64; 4],
    /// CPU time the whole process (gateway, watchers and load generator together) used per
    /// accepted burst, in µs: the cost of the pipeline, whatever else runs on the machine.
    cpu_us: f64,
}

fn print_rows(rows: &[Row], watchers: usize, sites: usize, secs: u64) {
    println!(
        "\ngateway: {sites} Homebrew sites → decode → core → journal (sync=full) → {watchers} gRPC watchers, {secs} s per run"
    );
    println!(
        "{:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10} {:>8} {:>7} {:>10} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "target/s",
        "sent",
        "accepted",
        "udp lost",
        "rx drop",
        "in drop",
        "processed/s",
        "events/s",
        "ev/cmt",
        "deliver/s",
        "tag dlv",
        "missing",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "µs/burst"
    );
    for r in rows {
        println!(
            "{:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10.0} {:>8.0} {:>7.1} {:>10.0} {:>8} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            r.target,
            r.sent,
            r.accepted,
            r.udp_lost,
            r.rx_dropped,
            r.dropped_inputs,
            r.processed_per_s,
            r.events_per_s,
            r.per_commit,
            r.delivered_per_s,
            r.deliveries,
            r.missing,
            r.lat[0],
            r.lat[1],
            r.lat[2],
            r.lat[3],
            r.cpu_us
        );
    }
}

/// User + system CPU time of this process so far, in seconds (/proc/self/stat fields 14
/// and 15, in clock ticks of 1/100 s, the Linux USER_HZ).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // the command name (field 2) may hold spaces; fields after it follow its ')'
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn vm_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

type Sockets = Vec<(usize, UdpSocket, Vec<Vec<u8>>)>;

/// Run `f` over the two generator halves on two threads; sum their results.
fn on_two_threads<F>(halves: &Arc<[Sockets; 2]>, f: F) -> u64
where
    F: Fn(usize, &Sockets) -> u64 + Send + Sync + Clone + 'static,
{
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let halves = Arc::clone(halves);
            let f = f.clone();
            std::thread::spawn(move || f(i, &halves[i]))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
}

async fn one_run(
    running: &Running,
    halves: &Arc<[Sockets; 2]>,
    tags: &Arc<Tags>,
    rate: u32,
    secs: u64,
    watchers: usize,
) -> Row {
    tags.latencies.lock().unwrap().clear();
    let first_tag = tags.next.load(Ordering::Relaxed) as usize;
    let before = counts(running, tags);
    let start = Instant::now();
    let cpu_before = cpu_secs();
    let per_thread = f64::from(rate) / 2.0;
    // each of the two threads sends rate / 2: a tag every rate / TAGS_PER_SEC of its datagrams
    let tag_every = u64::from((rate / TAGS_PER_SEC).max(1));
    let t = Arc::clone(tags);
    let sent = tokio::task::spawn_blocking({
        let halves = Arc::clone(halves);
        move || {
            on_two_threads(&halves, move |_, s| {
                blast(s, per_thread, secs as f64, &t, tag_every)
            })
        }
    })
    .await
    .unwrap_or(0);
    let last_tag = (tags.next.load(Ordering::Relaxed) as usize).min(MAX_TAGS);
    // Drain: until every tag of this run reached every watcher, or nothing moves for 3 s.
    let mut last_progress = (Instant::now(), 0u64);
    let mut drained_at = Instant::now();
    loop {
        let seen: u64 = (first_tag..last_tag)
            .map(|k| u64::from(tags.seen[k].load(Ordering::Relaxed)))
            .sum();
        let want = (last_tag - first_tag) as u64 * watchers as u64;
        if seen >= want {
            drained_at = Instant::now();
            break;
        }
        if seen != last_progress.1 {
            last_progress = (Instant::now(), seen);
            drained_at = Instant::now();
        } else if last_progress.0.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = counts(running, tags);
    let cpu = cpu_secs() - cpu_before;
    let elapsed = drained_at.duration_since(start).as_secs_f64();
    let sent_secs = secs as f64;
    let accepted = (after.frames_in - before.frames_in) - (after.rx_dropped - before.rx_dropped);
    let seen: u64 = (first_tag..last_tag)
        .map(|k| u64::from(tags.seen[k].load(Ordering::Relaxed)))
        .sum();
    let want = (last_tag - first_tag) as u64 * watchers as u64;
    let mut lat = std::mem::take(&mut *tags.latencies.lock().unwrap());
    lat.sort_unstable();
    let commits = (after.commits - before.commits).max(1);
    Row {
        target: rate,
        sent,
        accepted,
        udp_lost: sent
            .saturating_sub((after.frames_in - before.frames_in) + (after.bad - before.bad)),
        rx_dropped: after.rx_dropped - before.rx_dropped,
        dropped_inputs: after.dropped_inputs - before.dropped_inputs,
        processed_per_s: accepted as f64 / elapsed.max(sent_secs),
        events_per_s: (after.events - before.events) as f64 / elapsed.max(sent_secs),
        per_commit: (after.events - before.events) as f64 / commits as f64,
        delivered_per_s: (after.delivered - before.delivered) as f64 / elapsed.max(sent_secs),
        deliveries: lat.len(),
        missing: want.saturating_sub(seen),
        lat: [
            pct(&lat, 0.5),
            pct(&lat, 0.9),
            pct(&lat, 0.99),
            lat.last().map_or(f64::NAN, |&m| f64::from(m) / 1_000.0),
        ],
        cpu_us: cpu * 1e6 / accepted.max(1) as f64,
    }
}

async fn bench(opts: Opts) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (access, ca) = access_section(dir.path(), opts.tls)?;
    let config = Config::parse(&(config(opts.sites, opts.snapshot_every) + &access))
        .map_err(anyhow::Error::msg)?;
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone()).await?;
    let master = running
        .homebrew
        .ok_or_else(|| anyhow::anyhow!("no Homebrew master"))?;
    println!(
        "gateway up: api {}, Homebrew {master}; VmRSS {:.0} MB",
        running.api,
        vm_rss_mb()
    );

    // Generator sockets: log in, build each site's cycle; split over two threads.
    let mut halves: [Sockets; 2] = [Vec::new(), Vec::new()];
    for site in 0..opts.sites {
        let socket = tokio::task::spawn_blocking(move || login(master, site)).await??;
        halves[site % 2].push((site, socket, site_cycle(site)));
    }
    if halves[1].is_empty() {
        // one site: both threads share its login (two sockets would be two peers)
        let (site, s, c) = &halves[0][0];
        halves[1].push((*site, s.try_clone()?, c.clone()));
    }
    let halves = Arc::new(halves);

    // Watchers.
    let tags = Arc::new(Tags::new());
    let stop = CancellationToken::new();
    let failed = Arc::new(AtomicBool::new(false));
    let mut watching = Vec::new();
    let full_decode = opts.full_decode;
    for _ in 0..opts.watchers {
        let (tags, stop, failed, api, ca) = (
            Arc::clone(&tags),
            stop.clone(),
            Arc::clone(&failed),
            running.api,
            ca.clone(),
        );
        watching.push(tokio::spawn(async move {
            if let Err(e) = watcher(api, tags, stop, full_decode, ca).await {
                failed.store(true, Ordering::Relaxed);
                eprintln!("watcher: {e}");
            }
        }));
    }
    // Wait until every watcher is subscribed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.driver.hub().stats().watchers < opts.watchers {
        anyhow::ensure!(Instant::now() < deadline, "watchers did not subscribe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{} watchers subscribed; VmRSS {:.0} MB",
        opts.watchers,
        vm_rss_mb()
    );

    // Warm-up: every pool radio registers once (their first events), not measured.
    let warm = (opts.sites as u32 * POOL * 20 / 5).min(200_000);
    let _ = one_run(
        &running,
        &halves,
        &tags,
        20_000,
        u64::from(warm / 20_000).max(1),
        opts.watchers,
    )
    .await;

    let mut rows = Vec::new();
    rows.push(
        one_run(
            &running,
            &halves,
            &tags,
            10_000,
            opts.secs * 2,
            opts.watchers,
        )
        .await,
    );
    for &rate in &opts.rates {
        rows.push(one_run(&running, &halves, &tags, rate, opts.secs, opts.watchers).await);
    }
    print_rows(&rows, opts.watchers, opts.sites, opts.secs);
    let hub = running.driver.hub().stats();
    println!(
        "hub: {} watchers, {} cut, {} published; VmRSS {:.0} MB",
        hub.watchers,
        hub.cut_total,
        hub.published_total,
        vm_rss_mb()
    );
    if failed.load(Ordering::Relaxed) || hub.cut_total > 0 {
        println!("note: a watcher failed or was cut; its deliveries are missing above");
    }

    if let Some(n) = opts.radios {
        stop.cancel();
        for w in watching.drain(..) {
            let _ = w.await;
        }
        let before = counts(&running, &tags);
        let rss0 = vm_rss_mb();
        let start = Instant::now();
        let halves2 = Arc::clone(&halves);
        let per = n.div_ceil(2);
        let reg_rate = f64::from(opts.reg_rate);
        tokio::task::spawn_blocking(move || {
            on_two_threads(&halves2, move |i, s| {
                // thread 0 takes the first half of the IDs, thread 1 the second
                register(s, MEM_BASE + i as u32 * per, per, reg_rate / 2.0);
                0
            })
        })
        .await?;
        let sent_in = start.elapsed().as_secs_f64();
        // two events per fresh radio (heard, registered): wait until they stop coming
        let mut last = (Instant::now(), 0u64);
        loop {
            let now = running.driver.stats().events.load(Ordering::Relaxed);
            if now != last.1 {
                last = (Instant::now(), now);
            } else if last.0.elapsed() > Duration::from_secs(3) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after = counts(&running, &tags);
        let (known, registered) = running
            .driver
            .read(|core, _| {
                let (mut known, mut registered, mut after) = (0usize, 0usize, None);
                loop {
                    let page = core.radios(&Default::default(), after, 10_000);
                    known += page.items.len();
                    registered += page.items.iter().filter(|r| r.registered).count();
                    match page.next_after {
                        Some(k) => after = Some(k),
                        None => break (known, registered),
                    }
                }
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "memory: {} registrations sent in {sent_in:.1} s, all processed after {:.1} s; {} events; udp lost {}, rx dropped {}, inputs dropped {}",
            2 * per,
            last.0.duration_since(start).as_secs_f64(),
            after.events - before.events,
            (2 * u64::from(per)).saturating_sub(after.frames_in - before.frames_in),
            after.rx_dropped - before.rx_dropped,
            after.dropped_inputs - before.dropped_inputs,
        );
        println!(
            "memory: {known} radios known ({registered} registered); VmRSS {rss0:.0} MB before, {:.0} MB after",
            vm_rss_mb()
        );
    }

    stop.cancel();
    for w in watching {
        let _ = w.await;
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), join).await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let opts = Opts::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(bench(opts))
}
