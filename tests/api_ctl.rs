//! `trunkgate ctl` against a real server and core (tests/api_support): tables, waiting for
//! outcomes with exit status, `--no-wait`, errors, and `watch`.

mod api_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_support::{Server, TestBackend, a, config};
use clap::Parser;
use trunkgate::app::ctl::{self, CtlArgs, display_width};
use trunkgate::dispatch::{AirEvent, Answer, Position, PositionSource, Refusal, Timestamp};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ctl: CtlArgs,
}

fn args(srv: &Server, words: &[&str]) -> CtlArgs {
    let server = format!("http://{}", srv.addr);
    let mut argv = vec!["ctl", "--server", &server, "--operator", "值班员"];
    argv.extend_from_slice(words);
    Cli::try_parse_from(argv).expect("arguments parse").ctl
}

/// A writer the test can read while a command runs.
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

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("utf-8")
    }
}

async fn run(srv: &Server, words: &[&str]) -> (anyhow::Result<bool>, String) {
    let mut out = Shared::default();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        ctl::execute(args(srv, words), &mut out),
    )
    .await
    .expect("ctl finished in time");
    (r, out.text())
}

async fn server() -> Server {
    let backend = TestBackend::start(1024);
    backend.scene(2).await;
    Server::start(backend, config()).await
}

#[tokio::test]
async fn radios_table_lines_up_chinese_names() {
    let srv = server().await;
    let (r, out) = run(&srv, &["radios"]).await;
    assert!(r.unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("RADIO"));
    assert!(out.contains("张三") && out.contains("队员1"), "{out}");
    // The AIR ID column starts at the same display column on every row, and so does the
    // column after the names.
    let col_of = |line: &str, needle: &str| display_width(&line[..line.find(needle).unwrap()]);
    let air = col_of(lines[0], "AIR ID");
    for l in &lines[1..] {
        assert_eq!(col_of(l, "0x"), air, "{out}");
    }
    let reg = col_of(lines[0], "REG");
    for l in &lines[1..] {
        let at = l.find(" yes").or_else(|| l.find(" no")).unwrap() + 1;
        assert_eq!(display_width(&l[..at]), reg, "{out}");
    }
    let (r, out) = run(&srv, &["teams"]).await;
    assert!(r.unwrap());
    assert!(out.contains("城关镇应急救援队"));
}

#[tokio::test]
async fn check_waits_for_the_answer_and_exits_by_outcome() {
    let srv = server().await;
    let backend = srv.backend.clone();
    let answer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        backend
            .air(AirEvent::Answer {
                radio: a(),
                service: None,
                answer: Answer::Accepted,
            })
            .await;
    });
    let (r, out) = run(&srv, &["check", "80020200"]).await;
    answer.await.unwrap();
    assert!(r.unwrap(), "{out}");
    assert!(out.contains("RADIO_CHECK radios/80020200"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.contains("SUCCEEDED"), "{out}");
    // Confirmed by the radio, with where it answered and how strong.
    assert!(
        last.contains("delivery=CONFIRMED") && last.contains("at=城关站 rssi=-80dBm"),
        "{out}"
    );

    let backend = srv.backend.clone();
    let refuse = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The check took the control channel's air time; let the stun go out.
        backend.advance(1_000).await;
        backend
            .air(AirEvent::Answer {
                radio: a(),
                service: None,
                answer: Answer::Refused(Refusal { code: 0x25 }),
            })
            .await;
    });
    let (r, out) = run(&srv, &["stun", &format!("0x{:06X}", a().air())]).await;
    refuse.await.unwrap();
    assert!(!r.unwrap(), "a refusal is a failed outcome: {out}");
    assert!(
        out.contains("REFUSED") && out.contains("refusal=0x25"),
        "{out}"
    );
}

#[tokio::test]
async fn no_wait_prints_the_operation_and_errors_fail() {
    let srv = server().await;
    let (r, out) = run(&srv, &["text", "80020201", "请到集合点", "--no-wait"]).await;
    assert!(r.unwrap());
    assert!(out.trim().starts_with("operations/"), "{out}");
    let (r, out) = run(&srv, &["operations"]).await;
    assert!(r.unwrap());
    assert!(out.contains("SEND_TEXT") && out.contains("值班员"), "{out}");
    let (r, _) = run(&srv, &["check", "80030300"]).await;
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not found"), "{e}");
    let (r, _) = run(&srv, &["check", "123456789"]).await;
    let e = r.unwrap_err().to_string();
    assert!(e.contains("[name:"), "{e}");
}

#[tokio::test]
async fn watch_prints_one_line_per_event() {
    let srv = server().await;
    let out = Shared::default();
    let task = {
        let mut out = out.clone();
        let args = args(&srv, &["watch", "--snapshot"]);
        tokio::spawn(async move { ctl::execute(args, &mut out).await })
    };
    // Wait for the snapshot marker, then make an event.
    let mut ok = false;
    for _ in 0..200 {
        if out.text().contains("snapshot complete") {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "{}", out.text());
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    let mut seen = false;
    for _ in 0..200 {
        if out.text().contains("alarm_raised") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    let text = out.text();
    assert!(seen, "{text}");
    assert!(
        text.contains("snapshot radio radios/80020200 张三"),
        "{text}"
    );
    let line = text.lines().find(|l| l.contains("alarm_raised")).unwrap();
    // The typed payload, readable: resource names as the API writes them, no JSON.
    assert!(
        line.starts_with('#')
            && line.contains(" alarm_raised alarm=alarms/")
            && line.contains(" radio=radios/80020200")
            && !line.contains('{'),
        "{line}"
    );
}

#[tokio::test]
async fn locate_prints_the_coordinates() {
    let srv = server().await;
    let backend = srv.backend.clone();
    let answer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        backend
            .air(AirEvent::Position {
                radio: a(),
                position: Position {
                    latitude: 30.5,
                    longitude: 120.25,
                    accuracy_m: Some(10.0),
                    speed_kmh: None,
                    heading_deg: None,
                    altitude_m: None,
                    fix_time: Some(Timestamp(1_700_000_000_000)),
                    source: PositionSource::Lrrp,
                },
            })
            .await;
    });
    let (r, out) = run(&srv, &["locate", "80020200"]).await;
    answer.await.unwrap();
    assert!(r.unwrap(), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("position=30.500000,120.250000 ±10m source=lrrp")
            && last.contains("fix=2023-11-14T22:13:20")
            && last.contains("at=城关站"),
        "{out}"
    );
}

#[tokio::test]
async fn locate_honours_its_timeout_even_when_periodic() {
    let srv = server().await;
    // Nobody answers: with --timeout 2 it gives up after 2 s, not after every × polls.
    let (r, out) = run(
        &srv,
        &[
            "locate",
            "80020200",
            "--every",
            "10",
            "--polls",
            "3",
            "--timeout",
            "2",
        ],
    )
    .await;
    assert!(!r.unwrap(), "{out}");
    assert!(out.contains("gave up waiting after 2s"), "{out}");
}

#[tokio::test]
async fn a_group_text_prints_each_site_outcome() {
    let srv = server().await;
    let (r, out) = run(&srv, &["text", "80020910", "集合"]).await;
    assert!(r.unwrap(), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("SUCCEEDED")
            && last.contains("delivery=TRANSMITTED")
            && last.contains("城关站=SENT"),
        "{out}"
    );
}
