//! README's first command, as a newcomer runs it: `trunkgate serve --demo` starts on its
//! embedded defaults, and `trunkgate ctl` against it shows registered radios (with their
//! Chinese names) and live events within seconds; `ctl check` waits for a radio's answer.
//! Ports are picked by the OS (the defaults may be busy on a shared machine); everything is
//! on 127.0.0.1 and every wait has a deadline.

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

fn ctl(server: &str, args: &[&str]) -> Output {
    Command::new(BIN)
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
        ])
        .arg("--data-dir")
        .arg(dir.path())
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
            .take(8)
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let server = format!("http://{api}");

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

    // Live events.
    let mut watch = Command::new(BIN)
        .args(["ctl", "--server", &server, "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let _watch = Proc(watch);
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .take(3)
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.is_finished() {
        assert!(Instant::now() < deadline, "no live events within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines = lines.join().unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with('#')), "{lines:?}");

    // A radio check on a registered radio is answered by the simulated radio.
    let radio = table
        .lines()
        .find(|l| l.contains(" yes "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let mut answered = false;
    for _ in 0..3 {
        let out = ctl(&server, &["check", &radio]);
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCEEDED"));
            answered = true;
            break;
        }
    }
    assert!(answered, "radio {radio} never answered a radio check");
}
