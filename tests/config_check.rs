//! `trunkgate check-config` and `trunkgate serve` as processes: both read a configuration
//! through the same load, so a file `check-config` refuses is refused by `serve` with the same
//! report (and nothing is started), and the demo configuration passes both.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trunkgate::app::config::Config;
use trunkgate::app::serve::{self, ServeOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trunkgate");

/// A file with problems of every kind: a key of the wrong type, values out of range, a
/// duplicate radio, a malformed identity and a dangling reference.
const BAD: &str = r#"[api]
listen = "127.0.0.1:0"
watch_queue = 0

[dispatch]
answer_timeout_secs = 0
attempts = 0

[[site]]
name = "a"

[homebrew_master]
bind = "127.0.0.1:0"

[[homebrew_master.peer]]
id = 1
passphrase = "x"
site = "b"

[[radio]]
id = "57120201"
name = "李志强"

[[radio]]
id = "57120201"
name = "刘洋"

[[radio]]
id = "5712022X"
name = "杨勇"
"#;

/// What both commands print for [`BAD`] written as `FILE`.
fn bad_report(file: &str) -> String {
    [
        "3:15: [api] watch_queue = 0 is out of range: set 1..=1000000 (events a watcher may \
         have queued before it is cut)",
        "6:23: [dispatch] answer_timeout_secs = 0 is out of range: set 1..=600 (seconds to wait \
         for a radio's answer before the next try)",
        "7:12: [dispatch] attempts = 0 is out of range: set 1..=10 (tries per command, the first \
         one included)",
        "18:8: [[homebrew_master.peer]] site \"b\" is not a [[site]] name: add the site or \
         correct the name",
        "25:6: [[radio]] \"刘洋\": id \"57120201\" is also the id of \"李志强\": each radio is \
         listed once; remove one or correct its id (first at line 21)",
        "29:6: [[radio]] \"杨勇\": id \"5712022X\" is not a radio: not an identity: expected 8 \
         dial digits, 0x<hex>, #<decimal>, or a decimal DMR ID of at most 7 digits; write its \
         8-digit dial number as a string (\"57120200\") or its 24-bit air address as a number",
    ]
    .iter()
    .map(|line| format!("{file}:{line}\n"))
    .collect()
}

fn check_config(file: &Path) -> Output {
    Command::new(BIN)
        .arg("check-config")
        .arg(file)
        .output()
        .expect("trunkgate check-config runs")
}

/// Run `trunkgate serve --config FILE`, which must end by itself within a generous deadline.
fn serve_refuses(file: &Path, data_dir: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trunkgate serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("serve output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("serve output");
            panic!(
                "serve did not refuse the file; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn check_config_reports_every_problem_and_serve_refuses_with_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, BAD).unwrap();
    let name = file.display().to_string();

    let checked = check_config(&file);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&checked.stderr), bad_report(&name));
    assert!(checked.stdout.is_empty());

    let served = serve_refuses(&file, &dir.path().join("data"));
    assert_eq!(served.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&served.stderr),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        !dir.path().join("data").exists(),
        "serve created its data directory before refusing the configuration"
    );
}

#[test]
fn check_config_reports_syntax_errors_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("syntax.toml");
    std::fs::write(&file, "[api]\nlisten = \n[gateway\n").unwrap();
    let name = file.display().to_string();
    let checked = check_config(&file);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&checked.stderr),
        format!(
            "{name}:2:10: TOML syntax: string values must be quoted, expected literal string\n\
             {name}:3:9: TOML syntax: unclosed table, expected `]`\n"
        )
    );
    let served = serve_refuses(&file, &dir.path().join("data"));
    assert_eq!(served.status.code(), Some(1));
    assert_eq!(served.stderr, checked.stderr);
}

#[test]
fn the_demo_configuration_passes_check_config() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    let checked = check_config(&demo);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout),
        format!(
            "{}: ok (3 sites, 30 radios, 6 talkgroups, 5 teams)\n",
            demo.display()
        )
    );
}

#[test]
fn tls_files_that_cannot_be_read_fail_check_config_as_they_fail_serve() {
    let dir = tempfile::tempdir().unwrap();
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml"))
            .unwrap();
    let text = demo.replacen(
        "[access]\n",
        "[access]\ntls_cert = \"missing.pem\"\ntls_key = \"missing.key\"\n",
        1,
    );
    assert_ne!(text, demo, "the demo configuration has an [access] section");
    let file = dir.path().join("tls.toml");
    std::fs::write(&file, text).unwrap();
    let checked = check_config(&file);
    let stderr = String::from_utf8_lossy(&checked.stderr).to_string();
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}: [access] tls_cert", file.display()))
            && stderr.contains("missing.pem")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(checked.stdout.is_empty());
    let served = serve_refuses(&file, &dir.path().join("data"));
    assert_eq!(served.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&served.stderr), stderr);
    assert!(
        !dir.path().join("data").exists(),
        "serve created its data directory before refusing the configuration"
    );
}

/// A library caller that skips `Config::load` still cannot start a gateway on a
/// configuration `validate` refuses: `serve::start` runs the same checks first.
#[tokio::test]
async fn serve_start_refuses_what_validate_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(BAD).expect("BAD has only semantic problems besides types");
    let options = ServeOptions {
        data_dir: Some(dir.path().join("data")),
        ..ServeOptions::default()
    };
    let err = serve::start(config, &options, CancellationToken::new())
        .await
        .expect_err("start refuses");
    let text = format!("{err:#}");
    assert!(
        text.contains(
            "[dispatch] answer_timeout_secs = 0 is out of range: set 1..=600 (seconds to wait \
             for a radio's answer before the next try)"
        ),
        "{text}"
    );
    assert!(text.contains("id \"5712022X\" is not a radio"), "{text}");
    assert!(!dir.path().join("data").exists());
}
