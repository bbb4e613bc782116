//! A call-out of every village squad leader in the county, end to end over the air's pace
//! (docs/callouts.md, docs/performance.md "Call-outs").
//!
//! What runs, twice, each time fresh: the real gateway in this process (`app::serve::start`,
//! temporary data directory, a Homebrew master pacing each site's slot at the air rate, one
//! burst per 60 ms, relaying nothing between its peers (`slots = []`): each site's radios hear
//! the gateway only, and every burst a site receives is the gateway's) and the simulated county (`sim::run`: one Homebrew peer per site over
//! 127.0.0.1, the radios register, acknowledge what is sent to them after 300–2,500 ms and
//! send nothing else). `SITES` townships, `LEADERS` village squad leaders each (1,215 in all
//! by default: 15 × 81), every township's leaders one team sharing a talkgroup.
//!
//! 1. Group addressing: the call-out names the 15 teams whole, so each team gets one
//!    group-addressed text on its site, then every leader an individual follow-up.
//! 2. Individual only: the same call-out restricted to the role `leader` (every member here
//!    is one), which rules out group transmissions.
//!
//! No leader answers (a reply would deliver it without its follow-up, docs/callouts.md), so
//! every one needs its own transmission and acknowledgement. Reported for each run: the time
//! from the start until every member was first reached (alerted or delivered), until every
//! member was delivered (its own acknowledgement), the bursts the simulated sites actually
//! received (their decoder's count, not the gateway's), and the least time the air allows for
//! them: per site `bursts × 60 ms` on its one control slot, sites in parallel, so the busiest
//! site's figure. Nothing here asserts speed.
//!
//! `cargo bench --bench callout` runs the full size; under `cargo test --all-targets` it runs
//! a smoke size (2 sites × 3 leaders). Knobs: `CALLOUT_BENCH_SITES`, `CALLOUT_BENCH_LEADERS`.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, ServeOptions};
use trunkgate::dispatch::{
    AnswerPolicy, Callout, CalloutMessage, CalloutSpec, Command, MemberState, Reply, Request,
    TeamRole,
};
use trunkgate::sim::{self, SimConfig, SimRadioConfig, SimSiteConfig};

/// Peer IDs: PEER_BASE + site.
const PEER_BASE: u32 = 3_200_000;
const PASSPHRASE: &str = "passw0rd";
/// Radios: RADIO_BASE + site * 1_000 + k; talkgroups: GROUP_BASE + site.
const RADIO_BASE: u32 = 0x30_0000;
const GROUP_BASE: u32 = 0x20_0000;
/// One burst per 60 ms per slot (ETSI TS 102 361-1 §4.2; docs/design.md).
const BURST_MS: u64 = 60;
const TEXT: &str = "山洪预警立即集合";

fn config(sites: usize, leaders: usize) -> String {
    let mut s = String::from(
        r#"
[api]
listen = "127.0.0.1:0"

[homebrew_master]
bind = "127.0.0.1:0"
peer_timeout_secs = 60
"#,
    );
    for k in 0..sites {
        s.push_str(&format!(
            "\n[[homebrew_master.peer]]\nid = {}\npassphrase = \"{PASSPHRASE}\"\nsite = \"t{k}\"\nslots = []\n",
            PEER_BASE + k as u32
        ));
        s.push_str(&format!(
            "\n[[site]]\nname = \"t{k}\"\nprofile = \"pdt\"\ndialect = \"pdt\"\ncolour_code = 1\n"
        ));
        s.push_str(&format!(
            "\n[[talkgroup]]\nid = {}\nname = \"{k}镇村级应急分队队长\"\n",
            GROUP_BASE + k as u32
        ));
        s.push_str(&format!(
            "\n[[team]]\nname = \"t{k}-leaders\"\ndisplay_name = \"{k}镇村级应急分队队长\"\nlevel = \"village\"\ntalkgroup = {}\n",
            GROUP_BASE + k as u32
        ));
        for v in 0..leaders {
            s.push_str(&format!(
                "\n[[radio]]\nid = {}\nname = \"{k}镇{v}村队长\"\nteam = \"t{k}-leaders\"\nrole = \"leader\"\n",
                RADIO_BASE + k as u32 * 1_000 + v as u32
            ));
        }
    }
    s
}

struct Figures {
    /// Transmissions the call-out's operations made (retries included).
    attempts: u64,
    members: usize,
    delivered: usize,
    first_contact_ms: u64,
    delivered_ms: u64,
    bursts: Vec<u64>,
    group_sends: usize,
}

impl Figures {
    fn least_ms(&self) -> u64 {
        self.bursts.iter().max().copied().unwrap_or(0) * BURST_MS
    }
}

async fn one_run(sites: usize, leaders: usize, group: bool) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let config = Config::parse(&config(sites, leaders)).map_err(anyhow::Error::msg)?;
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone()).await?;
    let master = running
        .homebrew
        .ok_or_else(|| anyhow::anyhow!("no Homebrew master"))?;
    let mut sim_config = SimConfig::new(
        master,
        (0..sites)
            .map(|k| SimSiteConfig {
                peer_id: PEER_BASE + k as u32,
                passphrase: PASSPHRASE.into(),
                name: format!("t{k}"),
                colour_code: 1,
            })
            .collect(),
    );
    sim_config.radios = (0..sites)
        .flat_map(|k| {
            (0..leaders).map(move |v| SimRadioConfig {
                id: RADIO_BASE + k as u32 * 1_000 + v as u32,
                talkgroup: GROUP_BASE + k as u32,
                site: k,
                alias: None,
                reply: None,
            })
        })
        .collect();
    sim_config.out_of_coverage = 0.0;
    sim_config.rate = 1e-6; // nothing spontaneous: the air is the call-out's
    let sim_stop = CancellationToken::new();
    let sim_task = tokio::spawn(sim::run(sim_config, sim_stop.clone()));

    // Every leader registered.
    let want = sites * leaders;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let registered = running
            .driver
            .read(move |core, _| {
                (0..sites)
                    .flat_map(|k| {
                        (0..leaders).map(move |v| RADIO_BASE + k as u32 * 1_000 + v as u32)
                    })
                    .filter_map(|id| trunkgate::dispatch::RadioId::new(id).ok())
                    .filter(|id| core.radio(*id).is_some_and(|r| r.registered))
                    .count()
            })
            .await?;
        if registered >= want {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {registered} of {want} radios registered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the registrations' own traffic settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let spec = CalloutSpec {
        title: "全县村级应急分队队长".into(),
        teams: (0..sites).map(|k| format!("t{k}-leaders")).collect(),
        roles: if group {
            Vec::new()
        } else {
            vec![TeamRole::Leader]
        },
        radios: Vec::new(),
        message: CalloutMessage::Text { text: TEXT.into() },
        answers: AnswerPolicy {
            statuses: vec![1, 2],
            declines: vec![9],
            any_text: false,
        },
        deadline_ms: 3_600_000,
        escalation: Default::default(),
        followup_delay_ms: 0,
    };
    let reply = running
        .driver
        .command(Request {
            request_id: None,
            operator: Some("bench".into()),
            reason: None,
            client: None,
            command: Command::StartCallout(Box::new(spec)),
        })
        .await??;
    let Reply::Callout(c) = reply else {
        anyhow::bail!("the core answered with another resource");
    };
    let id = c.id;
    let deadline = Instant::now() + Duration::from_secs(1_800);
    let done: Callout = loop {
        let c = running
            .driver
            .read(move |core, _| core.callout(id).cloned())
            .await?
            .ok_or_else(|| anyhow::anyhow!("call-out gone"))?;
        let pending = c
            .members
            .iter()
            .filter(|m| {
                !matches!(
                    m.state,
                    MemberState::Delivered | MemberState::Unreachable | MemberState::NotReachable
                )
            })
            .count();
        if pending == 0 {
            break c;
        }
        anyhow::ensure!(Instant::now() < deadline, "{pending} members still pending");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let ops: Vec<trunkgate::dispatch::OperationId> = done
        .members
        .iter()
        .filter_map(|m| m.operation)
        .chain(done.groups.iter().map(|g| g.operation))
        .collect();
    let attempts: u64 = running
        .driver
        .read(move |core, _| {
            ops.iter()
                .filter_map(|o| core.operation(*o))
                .map(|o| u64::from(o.attempts.max(1)))
                .sum()
        })
        .await?;
    // Nothing more goes out: cancel, then let the last bursts leave and stop the sites.
    let _ = running
        .driver
        .command(Request {
            request_id: None,
            operator: Some("bench".into()),
            reason: None,
            client: None,
            command: Command::CancelCallout { callout: id },
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim_stop.cancel();
    let counters = sim_task.await??;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), join).await;

    let start = done.created.0;
    let since =
        |t: Option<trunkgate::dispatch::Timestamp>| t.map_or(0, |t| t.0.saturating_sub(start));
    let first_contact_ms = done
        .members
        .iter()
        .map(|m| {
            since(match (m.alerted_at, m.delivered_at) {
                (Some(a), Some(d)) => Some(a.min(d)),
                (a, d) => a.or(d),
            })
        })
        .max()
        .unwrap_or(0);
    let delivered_ms = done
        .members
        .iter()
        .map(|m| since(m.delivered_at))
        .max()
        .unwrap_or(0);
    Ok(Figures {
        attempts,
        members: done.members.len(),
        delivered: done.count(MemberState::Delivered),
        first_contact_ms,
        delivered_ms,
        bursts: counters.iter().map(|c| c.bursts_received).collect(),
        group_sends: done.groups.len(),
    })
}

fn report(label: &str, f: &Figures) {
    let least = f.least_ms();
    let total: u64 = f.bursts.iter().sum();
    println!(
        "{label}: {} members, {} delivered; group sends {}; transmissions {}; first contact \
         of all {:.1} s; all delivered {:.1} s; bursts received {total} (busiest site {}); \
         least air time {:.1} s; delivered / least = {:.3}",
        f.members,
        f.delivered,
        f.group_sends,
        f.attempts,
        f.first_contact_ms as f64 / 1000.0,
        f.delivered_ms as f64 / 1000.0,
        f.bursts.iter().max().copied().unwrap_or(0),
        least as f64 / 1000.0,
        f.delivered_ms as f64 / least.max(1) as f64,
    );
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let var = |name: &str, full: usize, smoke: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if benching { full } else { smoke })
    };
    let sites = var("CALLOUT_BENCH_SITES", 15, 2);
    let leaders = var("CALLOUT_BENCH_LEADERS", 81, 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "call-out of {} village squad leaders over {sites} simulated sites ({leaders} each)",
        sites * leaders
    );
    let grouped = rt.block_on(one_run(sites, leaders, true))?;
    report("group + follow-ups", &grouped);
    let single = rt.block_on(one_run(sites, leaders, false))?;
    report("individual only   ", &single);
    println!(
        "group addressing: every leader first reached after {:.1} s instead of {:.1} s; all \
         delivered after {:.1} s instead of {:.1} s",
        grouped.first_contact_ms as f64 / 1000.0,
        single.first_contact_ms as f64 / 1000.0,
        grouped.delivered_ms as f64 / 1000.0,
        single.delivered_ms as f64 / 1000.0,
    );
    Ok(())
}
