//! `trunkgate ctl gateway` as a person runs it: the real binary against a real `trunkgate
//! serve --demo` process (ports picked by the OS, a fresh data directory, 127.0.0.1 only,
//! every wait with a deadline). One screen shows the links with their counters and last
//! failure (a bad Homebrew login sent on a real UDP socket shows up there), the journal's
//! size and cursors, watchers, the input queue and the queues per site and slot.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The demo gateway's data directory: ctl reads its token file from there.
static DATA: OnceLock<PathBuf> = OnceLock::new();

fn ctl(api: SocketAddr, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--server", &api.to_string(), "--tz", "UTC"])
        .args(args)
        .envs(
            DATA.get()
                .map(|d| ("TRUNKGATE_TOKEN_FILE", d.join("demo.token"))),
        )
        .stdin(Stdio::null())
        .output()
        .expect("trunkgate ctl runs")
}

fn gateway(dir: &Path, api: SocketAddr, homebrew: SocketAddr) -> Proc {
    let _ = DATA.set(dir.to_path_buf());
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen"])
        .arg(api.to_string())
        .arg("--homebrew")
        .arg(homebrew.to_string())
        .args(["--metrics", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    Proc(child)
}

/// `ctl gateway` until its output satisfies `ok`.
fn until(api: SocketAddr, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = ctl(api, &["gateway"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The row of a table whose first two cells are `first` and `site`... by words.
fn row<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    text.lines().find(|l| {
        let cells: Vec<&str> = l.split_whitespace().collect();
        words
            .iter()
            .enumerate()
            .all(|(i, w)| cells.get(i) == Some(w))
    })
}

#[test]
fn one_screen_shows_links_journal_watchers_and_queues() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    let _gateway = gateway(dir.path(), api, homebrew);

    let text = until(api, "every demo site up", |t| {
        ["county-town", "qingshan", "shimen"].iter().all(|site| {
            row(t, &["homebrew-master", "homebrew_master", site, "up"]).is_some()
                && row(t, &[site, "up"]).is_some()
        })
    });
    assert!(text.starts_with("trunkgate "), "{text}");
    assert!(text.lines().next().unwrap().ends_with("serving"), "{text}");
    assert!(text.contains("\njournal   "), "{text}");
    assert!(text.contains("\ncursor    "), "{text}");
    assert!(text.contains("\nwatchers  0 open"), "{text}");
    assert!(text.contains("\ninputs    "), "{text}");
    // Each site's queues: operations, the link's queue, and both slots, the command slot
    // (slot 1 in the demo) marked.
    let site = row(&text, &["county-town", "up"]).unwrap();
    assert!(site.contains("/1024"), "{site}");
    assert!(site.contains("commands, "), "{site}");

    // A bad login: an RPTL from a peer ID the master does not know.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rptl = b"RPTL".to_vec();
    rptl.extend_from_slice(&999_999u32.to_be_bytes());
    udp.send_to(&rptl, homebrew).unwrap();
    let text = until(api, "the login failure on the link rows", |t| {
        row(t, &["homebrew-master", "homebrew_master", "county-town"])
            .is_some_and(|r| r.contains("unknown_peer"))
    });
    let link = row(
        &text,
        &["homebrew-master", "homebrew_master", "county-town"],
    )
    .unwrap();
    let cells: Vec<&str> = link.split_whitespace().collect();
    // LINK KIND SITE STATE FRAMES-IN FRAMES-OUT BAD LOGIN-FAILS ...
    assert!(cells[4].parse::<u64>().unwrap() > 0, "frames in: {link}");
    assert_eq!(cells[7], "1", "login failures: {link}");
    // The master carries the other sites too: its totals are not repeated on their rows.
    let other = row(&text, &["homebrew-master", "homebrew_master", "qingshan"]).unwrap();
    let cells: Vec<&str> = other.split_whitespace().collect();
    assert_eq!(&cells[4..9], ["^"; 5], "{other}");
    assert!(
        text.contains("\n^ the same link: its totals are on its first row\n"),
        "{text}"
    );

    // `ctl status` without arguments is the same screen (with arguments it sends a status).
    let out = ctl(api, &["status"]);
    let same = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{same}");
    assert!(
        same.starts_with("trunkgate ")
            && same.contains(
                "
journal   "
            ),
        "{same}"
    );
    assert!(row(&same, &["county-town", "up"]).is_some(), "{same}");

    // A gateway that is not there: one sentence and the "unavailable" exit status.
    let out = ctl(free_tcp(), &["gateway"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Cannot reach the gateway"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
