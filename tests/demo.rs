//! The README's demo walkthrough as a newcomer runs it, every command in order:
//! `trunkgate serve --demo` starts on its embedded defaults; then `ctl radios` (registered
//! radios with their Chinese names), `ctl watch --snapshot` (state, then live events, one
//! readable line each), `ctl check`, `ctl text`, `ctl stun`, the two-person kill (`ctl kill`
//! by one supervisor, `ctl pending`, `ctl approve` by another), `ctl audit`, `ctl alarms` (until the demo's
//! first emergency shows, about a minute) and `ctl ack-alarm` with the number from that table.
//! Ports are picked by the OS (the defaults may be busy on a shared machine) and handed over
//! with `--listen` / `--homebrew` as the README says; everything is on 127.0.0.1 and every
//! wait has a deadline. Both run in one fresh directory, as a newcomer runs them from the
//! checkout: the demo writes its token under `data/demo`, and `ctl` finds it there with no
//! flag.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the walkthrough runs: `serve --demo` keeps its data (and token) under
/// `data/demo` there, and `ctl` run there finds the token with no flag.
static HERE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn ctl(server: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(HERE.get().expect("the walkthrough's directory"))
        .args(["ctl", "--server", server])
        .args(args)
        .output()
        .expect("trunkgate ctl runs")
}

#[test]
fn demo_starts_and_ctl_shows_radios_events_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let api: SocketAddr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let homebrew: SocketAddr = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--listen",
            &api.to_string(),
            "--homebrew",
            &homebrew.to_string(),
            "--metrics",
            "127.0.0.1:0",
        ])
        .current_dir(HERE.get_or_init(|| dir.path().to_path_buf()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let stdout = child.stdout.take().unwrap();
    let _gateway = Proc(child);
    // It says how to watch it.
    let banner = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .take(12)
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // As a person types it: no scheme.
    let server = api.to_string();

    // Radios appear, registered, with their names, within seconds.
    // Generous: a machine busy with builds can take long to start the demo.
    let deadline = Instant::now() + Duration::from_secs(90);
    let table = loop {
        let out = ctl(&server, &["radios"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let registered = text.lines().filter(|l| l.contains(" yes ")).count();
        if out.status.success() && registered >= 10 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no registered radios within 90 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(table.contains("王建国"), "{table}");
    assert!(table.contains("57120200"), "{table}");
    let banner = banner.join().unwrap().join("\n");
    assert!(banner.contains("trunkgate ctl"), "{banner}");

    // `ctl watch --snapshot`: the state, then live events, one line each.
    let mut watch = Command::new(BIN)
        .current_dir(dir.path())
        .args(["ctl", "--server", &server, "watch", "--snapshot"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let _watch = Proc(watch);
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        let mut live = 0;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if seen
                .iter()
                .any(|l: &String| l.ends_with("live events follow"))
            {
                live += 1;
            }
            seen.push(line);
            if live == 3 {
                break;
            }
        }
        seen
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.is_finished() {
        assert!(Instant::now() < deadline, "no live events within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = lines.join().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("now       王建国 (57120200)")),
        "{lines:?}"
    );
    let live = &lines[lines.len() - 3..];
    assert!(
        live.iter()
            .all(|l| l.as_bytes().get(2) == Some(&b':') && !l.contains('{')),
        "{live:?}"
    );

    // `ctl check 57120201`: waits and shows progress; the simulated radio answers.
    // (Until the radio has registered, the gateway refuses: it knows no site to send on.)
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = ctl(&server, &["check", "57120201"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            assert!(
                text.contains("radio check of 李志强 (57120201): queued"),
                "{text}"
            );
            assert!(text.contains("succeeded"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "radio 57120201 never answered a radio check: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // `ctl text 57120202 "山体滑坡预警，请立即撤离"`.
    let out = ctl(&server, &["text", "57120202", "山体滑坡预警，请立即撤离"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("text \"山体滑坡预警，请立即撤离\" to 张伟 (57120202)"),
        "{text}"
    );

    // `ctl stun 57120203 --reason "电台遗失"`: exits non-zero if refused, failed or timed out.
    let out = ctl(&server, &["stun", "57120203", "--reason", "电台遗失"]);
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 4 | 5)),
        "{code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The two-person kill: `ctl kill 57120204 --reason "电台被盗" --yes` (as the demo's
    // supervisor) waits for a second one; `ctl pending` shows it; the demo identity cannot
    // approve its own; `ctl --token-file data/demo/deputy.token approve OP` sends it.
    let out = ctl(
        &server,
        &["kill", "57120204", "--reason", "电台被盗", "--yes"],
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("AWAITING APPROVAL"), "{said}");
    let out = ctl(&server, &["pending"]);
    let pending = String::from_utf8_lossy(&out.stdout).to_string();
    let op = pending
        .lines()
        .find(|l| l.contains("57120204") && l.contains("demo"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("the kill is not pending:\n{pending}"))
        .to_string();
    let out = ctl(&server, &["--operator", "李主任", "approve", &op]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the requester's own token cannot approve, whatever note it sends: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl(
        &server,
        &[
            "--token-file",
            "data/demo/deputy.token",
            "approve",
            &op,
            "--timeout",
            "30",
        ],
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1 | 4 | 5)),
        "{code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl(&server, &["pending"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("57120204"),
        "approved, no longer pending"
    );
    // `ctl audit`: who did what, from where, why.
    let out = ctl(&server, &["audit"]);
    let audit = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        audit.contains("kill_radio") && audit.contains("电台被盗") && audit.contains("demo-deputy"),
        "{audit}"
    );

    // `ctl alarms`: the demo raises an emergency alarm about once a minute.
    let deadline = Instant::now() + Duration::from_secs(240);
    let alarm = loop {
        let out = ctl(&server, &["alarms"]);
        assert!(out.status.success());
        let table = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(n) = table
            .lines()
            .skip(1)
            .find(|l| l.contains(" raised "))
            .and_then(|l| l.split_whitespace().next())
        {
            break n.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no emergency alarm within 240 s:\n{table}"
        );
        std::thread::sleep(Duration::from_secs(1));
    };

    // `ctl ack-alarm N` with the number from the ALARM column.
    let out = ctl(&server, &["ack-alarm", &alarm]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.starts_with(&format!("alarm {alarm} from ")) && text.contains(": acknowledged"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        matches!(out.status.code(), Some(0 | 5)),
        "the acknowledgement went out: {text}"
    );
}
