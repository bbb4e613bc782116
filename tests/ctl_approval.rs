//! `trunkgate ctl kill / pending / approve / reject / audit` as people run them: the real
//! binary against a real `trunkgate serve --demo` process (ports picked by the OS, a fresh
//! data directory, everything on 127.0.0.1, every wait with a deadline). One supervisor asks
//! for a kill, `pending` shows it, the same supervisor cannot approve it, another does;
//! another kill is rejected; `audit` shows who did what, from where and why. The two
//! supervisors are the demo's two identities: `demo` (its token file `demo.token`, what ctl
//! reads through `TRUNKGATE_TOKEN_FILE`) and `demo-deputy` (`--token-file deputy.token`).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

/// The demo gateway's data directory (its token files are there).
static DATA: OnceLock<PathBuf> = OnceLock::new();

/// The second supervisor's token file, as a `--token-file` argument.
fn deputy() -> String {
    DATA.get()
        .expect("the gateway started")
        .join("deputy.token")
        .display()
        .to_string()
}

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

fn gateway(dir: &Path, api: SocketAddr, homebrew: SocketAddr) -> Proc {
    DATA.set(dir.to_path_buf())
        .expect("one gateway per test process");
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--listen"])
        .arg(api.to_string())
        .arg("--homebrew")
        .arg(homebrew.to_string())
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ctl(api, &["sites"]).status.success() {
        assert!(Instant::now() < deadline, "the gateway did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

fn ctl(api: SocketAddr, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--server", &api.to_string()])
        .args(args)
        .envs(
            DATA.get()
                .map(|d| ("TRUNKGATE_TOKEN_FILE", d.join("demo.token"))),
        )
        .stdin(Stdio::null())
        .output()
        .expect("trunkgate ctl runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The first registered radio of `ctl radios`, waiting for the simulated county to log in.
fn registered_radio(api: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let table = String::from_utf8(ctl(api, &["radios"]).stdout).unwrap();
        if let Some(r) = table
            .lines()
            .find(|l| l.contains(" yes "))
            .and_then(|l| l.split_whitespace().next())
        {
            return r.to_string();
        }
        assert!(Instant::now() < deadline, "no radio registered:\n{table}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The OP number of the pending kill of `radio` in `ctl pending`, if listed.
fn pending_op(api: SocketAddr, radio: &str) -> Option<String> {
    let out = ctl(api, &["pending"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find(|l| l.contains(radio) && l.contains("kill"))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
}

#[test]
fn a_kill_takes_two_supervisors_and_the_audit_trail_says_who() {
    let dir = tempfile::tempdir().unwrap();
    let (api, homebrew) = (free_tcp(), free_udp());
    let _gateway = gateway(dir.path(), api, homebrew);
    let radio = registered_radio(api);

    // Stun and kill need a reason.
    let out = ctl(api, &["stun", &radio]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--reason"), "{}", text(&out));

    // The demo supervisor asks for a kill (its --operator note is not who it is): it waits
    // for a second supervisor, and says how to approve it.
    let out = ctl(
        api,
        &[
            "--operator",
            "王队长",
            "kill",
            &radio,
            "--reason",
            "电台被盗",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("AWAITING APPROVAL"), "{}", text(&out));
    let op = pending_op(api, &radio).expect("the kill is pending");
    let table = String::from_utf8(ctl(api, &["pending"]).stdout).unwrap();
    assert!(
        table.contains("demo") && table.contains("电台被盗") && table.contains("APPROVE BY"),
        "{table}"
    );

    // The same supervisor cannot approve it, whatever name it sends as a note: refused,
    // exit 4, and it is still pending.
    let out = ctl(api, &["--operator", "李主任", "approve", &op]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("another identity"), "{}", text(&out));
    assert_eq!(pending_op(api, &radio).as_deref(), Some(op.as_str()));

    // The deputy approves: off the pending list, on its way to the air.
    let deputy = deputy();
    let out = ctl(
        api,
        &[
            "--token-file",
            &deputy,
            "approve",
            &op,
            "--reason",
            "核实无误",
            "--no-wait",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pending_op(api, &radio), None);
    let out = ctl(api, &["operation", &op]);
    assert!(!text(&out).contains("AWAITING"), "{}", text(&out));
    assert!(
        text(&out).contains("(asked by demo, approved by demo-deputy)"),
        "{}",
        text(&out)
    );

    // Another kill (of another radio: the first may be dead by now), rejected.
    let other = String::from_utf8(ctl(api, &["radios"]).stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" yes "))
        .filter_map(|l| l.split_whitespace().next())
        .find(|r| *r != radio)
        .expect("a second registered radio")
        .to_string();
    let out = ctl(
        api,
        &[
            "--operator",
            "王队长",
            "kill",
            &other,
            "--reason",
            "误报",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let second = pending_op(api, &other).expect("the second kill is pending");
    let out = ctl(
        api,
        &[
            "--token-file",
            &deputy,
            "reject",
            &second,
            "--reason",
            "无需遥毙",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("rejected by demo-deputy"),
        "{}",
        text(&out)
    );
    assert_eq!(pending_op(api, &other), None);

    // The audit trail: who, from where, what, why, the outcome.
    let out = ctl(api, &["audit", "--identity", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    let audit = String::from_utf8(out.stdout).unwrap();
    let header = audit.lines().next().unwrap();
    for column in [
        "TIME", "IDENTITY", "FROM", "ACTION", "TARGET", "REASON", "OUTCOME",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let kills: Vec<&str> = audit.lines().filter(|l| l.contains("kill_radio")).collect();
    assert_eq!(kills.len(), 2, "{audit}");
    assert!(
        kills
            .iter()
            .any(|l| l.contains("电台被盗") && l.contains("127.0.0.1:")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("approve_operation") && l.contains("refused")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .skip(1)
            .all(|l| l.contains(" demo ") && !l.contains("demo-deputy")),
        "only demo's entries: {audit}"
    );
    let out = ctl(api, &["audit", "--action", "approve_operation"]);
    let approvals = String::from_utf8(out.stdout).unwrap();
    assert!(
        approvals
            .lines()
            .any(|l| l.contains("demo-deputy") && l.contains("核实无误") && l.contains(" ok")),
        "{approvals}"
    );
    let out = ctl(
        api,
        &["audit", "--action", "reject_operation", "--minutes", "10"],
    );
    assert!(text(&out).contains("无需遥毙"), "{}", text(&out));

    // A call with a forged token is refused, and the refusal is in the audit trail with the
    // method (the first ctl makes: the directory) and the address it came from (the
    // gateway's access hook journals it).
    let out = ctl(
        api,
        &[
            "--token",
            "tg_0000000000000000000000000000000000000000000000000000000000000000",
            "radios",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = ctl(api, &["audit", "--action", "unauthenticated"]);
        let trail = text(&out);
        if trail.lines().any(|l| {
            l.contains("/trunkgate.v1.") && l.contains("127.0.0.1:") && l.contains("unknown token")
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refusal is not audited:\n{trail}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
