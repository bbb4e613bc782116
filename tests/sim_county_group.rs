//! End to end through the simulated county (issue "Commands that tell the truth"): the real
//! gateway (`app::serve::start`, a temporary data directory) with its Homebrew master's relay
//! turned off by configuration (`[homebrew_master] relay = false`), three simulated sites
//! (`sim::run`, one Homebrew peer each over 127.0.0.1) whose radios of one team are spread
//! over all three, and `trunkgate ctl` over real gRPC.
//!
//! A group text reaches every site (docs/air-commands.md §0 "Which sites"): with the relay
//! off, what a simulated site receives is only what the gateway sent it, and each site's
//! radios on the group count the text (`SimCounters::group_texts_received`). `ctl text`
//! prints the delivery level and each site's outcome. Every wait has a deadline of seconds.

mod access_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio_util::sync::CancellationToken;
use trunkgate::app::config::Config;
use trunkgate::app::ctl::{self, CtlArgs, Outcome};
use trunkgate::app::serve::{self, ServeOptions};
use trunkgate::dispatch::{RadioId, SiteId, TalkgroupId};
use trunkgate::sim::{self, SimConfig, SimRadioConfig, SimSiteConfig};
use trunkgate::wire::Dialect;

/// Generous deadline for anything to happen.
const WAIT: Duration = Duration::from_secs(60);

const SITES: [(&str, &str, u32); 3] = [
    ("county-town", "县城基站", 571_001),
    ("qingshan", "青山镇基站", 571_002),
    ("shimen", "石门乡基站", 571_003),
];

/// The group and its members: (dial number, site index).
const GROUP: &str = "57120900";
const MEMBERS: [(&str, usize); 4] = [
    ("57120200", 0),
    ("57120201", 0),
    ("57120202", 1),
    ("57120203", 2),
];

fn config() -> Config {
    let mut text = String::from(
        r#"
[api]
listen = "127.0.0.1:0"

[homebrew_master]
bind = "127.0.0.1:0"
relay = false
"#,
    );
    for (name, _, id) in SITES {
        text.push_str(&format!(
            "[[homebrew_master.peer]]\nid = {id}\npassphrase = \"pw-{name}\"\nsite = \"{name}\"\n"
        ));
    }
    for (k, (name, display, _)) in SITES.iter().enumerate() {
        text.push_str(&format!(
            "[[site]]\nname = \"{name}\"\ndisplay_name = \"{display}\"\nprofile = \"pdt\"\n\
             dialect = \"pdt\"\ncolour_code = {}\n",
            k + 1
        ));
    }
    text.push_str(&format!(
        "[[team]]\nname = \"rescue\"\ndisplay_name = \"县应急救援大队\"\ntalkgroup = \"{GROUP}\"\n\
         [[talkgroup]]\nid = \"{GROUP}\"\nname = \"县应急救援大队\"\n"
    ));
    for (k, (dial, _)) in MEMBERS.iter().enumerate() {
        text.push_str(&format!(
            "[[radio]]\nid = \"{dial}\"\nname = \"队员{k}\"\nteam = \"rescue\"\n"
        ));
    }
    text.push_str(&access_support::access_toml());
    Config::parse(&text).expect("test config parses")
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ctl: CtlArgs,
}

/// A writer the test can read.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_text_reaches_every_site_with_the_relay_off_and_ctl_shows_each() {
    let data = tempfile::tempdir().unwrap();
    let config = config();
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    assert!(
        config.homebrew_master.as_ref().is_some_and(|m| !m.relay),
        "the relay is off for this test"
    );
    let options = ServeOptions {
        data_dir: Some(data.path().to_path_buf()),
        ..ServeOptions::default()
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone())
        .await
        .expect("gateway starts");
    let master = running.homebrew.expect("the master runs");

    // The simulated county: one peer per site, the group's radios spread over all three,
    // quiet (no spontaneous traffic to speak of), all in coverage.
    let group_air = GROUP.parse::<TalkgroupId>().unwrap().air();
    let mut sim_config = SimConfig::new(
        master,
        SITES
            .iter()
            .enumerate()
            .map(|(k, (name, _, id))| SimSiteConfig {
                peer_id: *id,
                passphrase: format!("pw-{name}"),
                name: (*name).into(),
                colour_code: k as u8 + 1,
            })
            .collect(),
    );
    sim_config.radios = MEMBERS
        .iter()
        .map(|(dial, site)| SimRadioConfig {
            id: dial.parse::<RadioId>().unwrap().air(),
            talkgroup: group_air,
            site: *site,
            alias: None,
            reply: None,
        })
        .collect();
    sim_config.talkgroups = vec![group_air];
    sim_config.rate = 0.0001;
    sim_config.out_of_coverage = 0.0;
    sim_config.dialect = Dialect::Pdt;
    sim_config.seed = 12;
    let sim_stop = CancellationToken::new();
    let sim_task = tokio::spawn(sim::run(sim_config, sim_stop.clone()));

    // Every member registers on its site.
    let deadline = Instant::now() + WAIT;
    loop {
        let members: Vec<(RadioId, usize)> = MEMBERS
            .iter()
            .map(|(d, s)| (d.parse().unwrap(), *s))
            .collect();
        let placed = running
            .driver
            .read(move |core, _| {
                members.iter().all(|(r, s)| {
                    core.radio(*r)
                        .and_then(|r| r.presence.as_ref())
                        .is_some_and(|p| p.site == SiteId::new(SITES[*s].0))
                })
            })
            .await
            .expect("driver up");
        if placed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the radios did not register on their sites"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // `ctl text` to the group waits for the outcome and prints each site's.
    let server = format!("http://{}", running.api);
    let args = Cli::try_parse_from([
        "ctl",
        "--server",
        &server,
        "--token",
        access_support::TOKEN,
        "text",
        GROUP,
        "全体集合",
    ])
    .expect("arguments parse")
    .ctl;
    let mut out = Shared::default();
    let r = tokio::time::timeout(WAIT, ctl::execute(args, &mut out))
        .await
        .expect("ctl finished in time");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert_eq!(r.expect("ctl ran"), Outcome::Done, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    assert!(n > 3, "{text}");
    assert!(
        lines[n - 4].ends_with(
            "succeeded, transmitted on all 3 sites (no acknowledgement is possible) (asked by tester)"
        ),
        "{text}"
    );
    for (k, (_, display, _)) in SITES.iter().enumerate() {
        assert!(
            lines[n - 3 + k].starts_with(&format!("  {display}: sent on slot 1 at ")),
            "{text}"
        );
    }

    // Each site's radios on the group received the text once: the gateway sent it to every
    // site itself (the master relays nothing).
    let expected: Vec<u64> = (0..SITES.len())
        .map(|k| MEMBERS.iter().filter(|(_, s)| *s == k).count() as u64)
        .collect();
    // The master relayed nothing between the peers.
    for l in running.links.statuses() {
        assert_eq!(l.counters.get("relayed"), Some(&0), "{l:?}");
    }
    // The gateway reports a transmission sent when its last burst has left; give the
    // datagrams time to be read on loopback before stopping the sites to read their counters.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim_stop.cancel();
    let counters = tokio::time::timeout(WAIT, sim_task)
        .await
        .expect("sim stops")
        .expect("sim task")
        .expect("sim ran");
    let received: Vec<u64> = counters.iter().map(|c| c.group_texts_received).collect();
    assert_eq!(received, expected, "per site: {counters:?}");

    shutdown.cancel();
    tokio::time::timeout(WAIT, join)
        .await
        .expect("gateway stops")
        .unwrap();
}
