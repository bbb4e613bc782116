//! The Prometheus endpoint of a running gateway: the demo configuration (its simulated county
//! logging into the gateway's own Homebrew master over 127.0.0.1), a fresh data directory,
//! every address picked by the OS. A scrape holds every series docs/metrics.md lists (the
//! list is read from the file, so the docs and the code cannot drift apart), and the values
//! move: frames in from the simulated sites, a login failure from a bad Homebrew login sent
//! on a real UDP socket, an operation created through a real gRPC client, and the API call
//! counted by method and code. Nothing here asserts speed: every wait has a generous deadline.

mod access_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use trunkgate::api::pb;
use trunkgate::app::config::{self, Config};
use trunkgate::app::serve::{self, ServeOptions};

const DOCS: &str = include_str!("../docs/metrics.md");

/// (name, type) of every series in docs/metrics.md's "Series" table.
fn documented() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_series = false;
    for line in DOCS.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_series = heading.trim() == "Series";
            continue;
        }
        if !in_series {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3
            && let Some(name) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`'))
        {
            out.push((name.to_string(), cells[2].to_string()));
        }
    }
    out
}

/// One scrape over plain HTTP/1.1: (status line, body).
async fn scrape_path(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .expect("the scrape answers")
        .unwrap();
    let text = String::from_utf8(buf).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = scrape_path(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    body
}

/// The sum of a series' samples whose labels include every `labels` pair.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (series, ""),
            };
            (n == name
                && labels
                    .iter()
                    .all(|(k, val)| rest.contains(&format!("{k}=\"{val}\""))))
            .then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

async fn until(addr: SocketAddr, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(addr).await;
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_holds_every_documented_series_and_the_values_move() {
    let documented = documented();
    assert!(
        documented.len() > 40,
        "docs/metrics.md lists too few series"
    );
    let dir = tempfile::tempdir().unwrap();
    // A snapshot after every commit, so the snapshot series have something to say.
    let text = config::DEMO.replace("snapshot_every = 10000", "snapshot_every = 1");
    let config = Config::parse(&text).unwrap();
    let options = ServeOptions {
        demo: true,
        data_dir: Some(dir.path().join("data")),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        homebrew: Some("127.0.0.1:0".parse().unwrap()),
        metrics: Some("127.0.0.1:0".parse().unwrap()),
        config_path: None,
    };
    let shutdown = CancellationToken::new();
    let (running, join) = serve::start(config, &options, shutdown.clone())
        .await
        .expect("the gateway starts");
    let metrics = running.metrics.expect("the metrics endpoint runs");

    // Every documented series, with its type.
    let first = scrape(metrics).await;
    for (name, ty) in &documented {
        let want = format!("# TYPE {name} {ty}");
        assert!(
            first.lines().any(|l| l == want),
            "docs/metrics.md lists {name} ({ty}) but the scrape has no `{want}`:\n{first}"
        );
    }
    // And nothing served that the docs do not list.
    for line in first.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            documented.iter().any(|(n, _)| n == name),
            "the scrape serves {name}, which docs/metrics.md does not list"
        );
    }
    // No identities as labels: no radio or talkgroup number appears in any label.
    for line in first.lines().filter(|l| !l.starts_with('#')) {
        assert!(!line.contains("57120"), "an identity in a label: {line}");
    }

    // Frames in: the simulated sites log in and talk.
    until(metrics, "frames in and all three sites up", |t| {
        value(
            t,
            "trunkgate_link_frames_received_total",
            &[("link", "homebrew-master")],
        ) > 0.0
            && value(t, "trunkgate_link_up", &[]) >= 3.0
            && value(t, "trunkgate_link_logins_total", &[]) >= 3.0
            && value(t, "trunkgate_bursts_received_total", &[]) > 0.0
            && value(t, "trunkgate_journal_events_total", &[]) > 0.0
    })
    .await;

    // A bad Homebrew login: an RPTL from a peer ID no [[homebrew_master.peer]] has.
    let hb = running.homebrew.expect("the master runs");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rptl = b"RPTL".to_vec();
    rptl.extend_from_slice(&999_999u32.to_be_bytes());
    udp.send_to(&rptl, hb).await.unwrap();
    until(metrics, "a login failure", |t| {
        value(
            t,
            "trunkgate_link_login_failures_total",
            &[("link", "homebrew-master"), ("reason", "unknown_peer")],
        ) >= 1.0
    })
    .await;

    // An operation through the API: a text to a talkgroup (group traffic goes out on its
    // configured site whether or not a member was heard).
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.api))
        .unwrap()
        .connect()
        .await
        .unwrap();
    // The demo's own token (the gateway wrote it at start).
    let token = std::fs::read_to_string(running.demo_token.as_ref().expect("a demo token"))
        .expect("the demo token reads");
    let channel = access_support::with_token(channel, token.trim());
    let mut commands = pb::command_service_client::CommandServiceClient::new(channel.clone());
    commands
        .send_text(pb::SendTextRequest {
            name: "talkgroups/57120900".into(),
            text: "集合".into(),
            request_id: "metrics-test-1".into(),
        })
        .await
        .expect("the text is accepted");
    // A call that fails: the code is counted too.
    let mut radios = pb::radio_service_client::RadioServiceClient::new(channel);
    let refused = radios
        .get_radio(pb::GetRadioRequest {
            name: "not a radio".into(),
        })
        .await
        .expect_err("a malformed name is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let last = until(metrics, "the operation and the API calls", |t| {
        value(
            t,
            "trunkgate_operations_total",
            &[("kind", "text"), ("outcome", "created")],
        ) >= 1.0
            && value(
                t,
                "trunkgate_api_requests_total",
                &[
                    ("method", "trunkgate.v1.CommandService/SendText"),
                    ("code", "OK"),
                ],
            ) >= 1.0
            && value(
                t,
                "trunkgate_api_requests_total",
                &[
                    ("method", "trunkgate.v1.RadioService/GetRadio"),
                    ("code", "INVALID_ARGUMENT"),
                ],
            ) >= 1.0
            && value(t, "trunkgate_journal_snapshots_total", &[]) >= 1.0
    })
    .await;
    assert!(
        value(
            &last,
            "trunkgate_journal_commit_duration_seconds_count",
            &[]
        ) > 0.0
    );
    assert!(value(&last, "trunkgate_decode_duration_seconds_count", &[]) > 0.0);
    assert!(value(&last, "trunkgate_journal_size_bytes", &[]) > 0.0);
    assert!(
        value(&last, "trunkgate_journal_newest_seq", &[])
            >= value(&last, "trunkgate_journal_oldest_seq", &[])
    );
    assert!(value(&last, "trunkgate_journal_snapshot_age_seconds", &[]) >= 0.0);
    assert!(value(&last, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(value(&last, "process_open_fds", &[]) > 0.0);
    assert!(value(&last, "process_start_time_seconds", &[]) > 1.0e9);

    // Anything but /metrics is 404.
    let (status, _) = scrape_path(metrics, "/").await;
    assert!(status.contains("404"), "{status}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), join)
        .await
        .expect("the gateway stops")
        .unwrap();
}
