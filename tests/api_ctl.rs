//! `trunkgate ctl` against a real server and core (tests/api_support): tables, waiting for
//! outcomes with exit status, `--no-wait`, errors as one sentence with their exit status,
//! and `watch` lines with names and local time.

mod api_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_support::{Server, TestBackend, a, config};
use clap::Parser;
use trunkgate::app::ctl::{self, CtlArgs, CtlError, Outcome, display_width, exit};
use trunkgate::dispatch::{AirEvent, Answer, Position, PositionSource, Refusal, Timestamp};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ctl: CtlArgs,
}

fn args(srv: &Server, words: &[&str]) -> CtlArgs {
    let server = format!("http://{}", srv.addr);
    let mut argv = vec![
        "ctl",
        "--server",
        &server,
        "--token",
        api_support::access::TOKEN,
        "--operator",
        "值班员",
    ];
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

async fn run(srv: &Server, words: &[&str]) -> (Result<Outcome, CtlError>, String) {
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
    assert_eq!(r.unwrap(), Outcome::Done);
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
    assert_eq!(r.unwrap(), Outcome::Done);
    assert!(out.contains("城关镇应急救援队"));
    // A limit below the number of radios says how many more there are.
    let (r, out) = run(&srv, &["radios", "--limit", "1"]).await;
    assert_eq!(r.unwrap(), Outcome::Done);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.ends_with("… 3 more radios (raise --limit to see them)\n"),
        "{out}"
    );
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
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    assert!(out.contains("radio check of 张三 (80020200)"), "{out}");
    // Confirmed by the radio, with where it answered and how strong.
    assert!(
        out.lines().last().unwrap().ends_with(
            "succeeded (1 attempt), confirmed by the radio, answered on 城关 at -80 dBm \
             (asked by tester)"
        ),
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
    let (r, out) = run(
        &srv,
        &["stun", &format!("0x{:06X}", a().air()), "--reason", "演练"],
    )
    .await;
    refuse.await.unwrap();
    let outcome = r.unwrap();
    assert_eq!(outcome, Outcome::Refused, "{out}");
    assert_eq!(outcome.code(), exit::REFUSED);
    assert!(
        out.contains("stun of 张三 (80020200): REFUSED by the radio")
            && out.contains("reason 0x25"),
        "{out}"
    );
}

#[tokio::test]
async fn no_wait_prints_the_operation_and_errors_fail() {
    let srv = server().await;
    let (r, out) = run(&srv, &["text", "80020201", "请到集合点", "--no-wait"]).await;
    assert_eq!(r.unwrap(), Outcome::Done);
    assert!(out.trim().starts_with("operations/"), "{out}");
    let (r, out) = run(&srv, &["operations"]).await;
    assert_eq!(r.unwrap(), Outcome::Done);
    assert!(
        out.contains("text \"请到集合点\" to 80020201") && out.contains("tester"),
        "{out}"
    );
}

/// Each error is one plain sentence (no framework prefix, no doubled text, no internal
/// identifiers) with its own exit status.
#[tokio::test]
async fn errors_are_one_sentence_with_their_exit_status() {
    let srv = server().await;
    let cases: &[(&[&str], u8, &str)] = &[
        (
            &["check", "80030300"],
            exit::NOT_FOUND,
            "Radio 80030300 is not known to the gateway.",
        ),
        (
            &["check", "123456789"],
            exit::USAGE,
            "\"123456789\" is not a radio: give its 8-digit dial number, 0x and its hex air \
             address, # and its decimal air address, its plain DMR ID (up to 7 digits), or its \
             name.",
        ),
        (
            &["check", "80020910"],
            exit::USAGE,
            "80020910 is a talkgroup number, not a radio.",
        ),
        (
            &["ack-alarm", "alarm-2"],
            exit::USAGE,
            "\"alarm-2\" is not an alarm number (`trunkgate ctl alarms` lists them).",
        ),
        (
            &["ack-alarm", "7"],
            exit::NOT_FOUND,
            "Alarm 7 is not known to the gateway.",
        ),
        (
            &["operation", "op-0"],
            exit::USAGE,
            "\"op-0\" is not an operation number (`trunkgate ctl operations` lists them).",
        ),
        (
            &["radios", "--team", "nowhere"],
            exit::NOT_FOUND,
            "There is no team \"nowhere\" (`trunkgate ctl teams` lists them).",
        ),
        (
            &["--tz", "Nowhere/Else", "radios"],
            exit::USAGE,
            "--tz Nowhere/Else is not a time zone (write e.g. Asia/Shanghai).",
        ),
    ];
    for (words, code, message) in cases {
        let (r, out) = run(&srv, words).await;
        let e = r.expect_err(&format!("{words:?} fails: {out}"));
        assert_eq!((e.code, e.message.as_str()), (*code, *message), "{words:?}");
    }
    // An unknown site is an error like an unknown team, naming the sites there are.
    let (r, _) = run(&srv, &["radios", "--site", "nowhere"]).await;
    let e = r.unwrap_err();
    assert_eq!(e.code, exit::NOT_FOUND);
    assert!(
        e.message
            .starts_with("There is no site \"nowhere\"; the sites are "),
        "{e}"
    );
}

/// `watch` lines: local time in the chosen zone, names, and emergencies standing out with the
/// bell (asked for with `--bell`: the output here is not a terminal).
#[tokio::test]
async fn watch_prints_one_readable_line_per_event() {
    let srv = server().await;
    let start = |tz: &str| {
        let out = Shared::default();
        let mut sink = out.clone();
        let args = args(&srv, &["--tz", tz, "watch", "--snapshot", "--bell"]);
        let task = tokio::spawn(async move { ctl::execute(args, &mut sink).await });
        (out, task)
    };
    let (shanghai, t1) = start("Asia/Shanghai");
    let (utc, t2) = start("UTC");
    // Wait for both snapshots, then make an event.
    for out in [&shanghai, &utc] {
        let mut ok = false;
        for _ in 0..200 {
            if out.text().contains("live events follow") {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ok, "{}", out.text());
    }
    srv.backend
        .air(AirEvent::EmergencyAlarm {
            radio: a(),
            talkgroup: None,
        })
        .await;
    let alarm_line = |out: &Shared| {
        out.text()
            .lines()
            .find(|l| l.contains("ALARM from"))
            .map(str::to_string)
    };
    for _ in 0..200 {
        if alarm_line(&shanghai).is_some() && alarm_line(&utc).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t1.abort();
    t2.abort();
    let text = shanghai.text();
    assert!(
        text.contains("now       张三 (80020200) registered"),
        "{text}"
    );
    let (cn, utc) = (
        alarm_line(&shanghai).expect(&text),
        alarm_line(&utc).unwrap(),
    );
    // `HH:MM:SS  !! EMERGENCY ALARM from 张三 (80020200)…` with the bell at the end.
    assert!(
        cn[8..].starts_with("  !! EMERGENCY ALARM from 张三 (80020200)"),
        "{cn}"
    );
    assert!(cn.ends_with("`trunkgate ctl ack-alarm 0`\u{7}"), "{cn:?}");
    assert!(
        !cn.contains('#') && !cn.contains('{'),
        "no cursor, no JSON: {cn}"
    );
    // The same event, eight hours apart.
    let hour = |l: &str| l[..2].parse::<u32>().unwrap();
    assert_eq!((hour(&utc) + 8) % 24, hour(&cn), "{utc} / {cn}");
    assert_eq!(utc[2..8], cn[2..8]);
}

fn fix(latitude: f64) -> AirEvent {
    AirEvent::Position {
        radio: a(),
        position: Position {
            latitude,
            longitude: 120.25,
            accuracy_m: Some(10.0),
            speed_kmh: None,
            heading_deg: None,
            altitude_m: None,
            fix_time: Some(Timestamp(1_700_000_000_000)),
            source: PositionSource::Lrrp,
        },
    }
}

#[tokio::test]
async fn locate_prints_coordinates_time_accuracy_and_source() {
    let srv = server().await;
    let backend = srv.backend.clone();
    let answer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        backend.air(fix(30.5)).await;
    });
    let (r, out) = run(&srv, &["--tz", "UTC", "locate", "80020200"]).await;
    answer.await.unwrap();
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains(
            "location request to 张三 (80020200): succeeded (1 attempt), confirmed by the \
             radio, at 30.500000, 120.250000 ±10 m, fix 11-14 22:13:20, by LRRP, received on 城关"
        ),
        "{out}"
    );
}

/// `--timeout` bounds the whole command, a periodic `locate` included: with polls 10 s apart
/// and nobody answering, `--timeout 2` ends the command long before the first poll is due
/// again (not after every × polls).
#[tokio::test]
async fn a_periodic_locate_ends_at_its_timeout() {
    let srv = server().await;
    let started = std::time::Instant::now();
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
    assert_eq!(r.unwrap(), Outcome::TimedOut, "{out}");
    assert!(out.contains("Gave up waiting after 2s"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ran {:?}, past its 2 s timeout and the 10 s poll interval: {out}",
        started.elapsed()
    );
}

/// A periodic request prints each poll's outcome as it comes: a position, or no answer after
/// every attempt; the final line says how many polls were answered.
#[tokio::test]
async fn a_periodic_locate_prints_each_poll() {
    let srv = server().await;
    let backend = srv.backend.clone();
    let script = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        backend.air(fix(30.5)).await;
        // Poll 2 goes out 30 s later (the core's clock) and times out: 3 × 4 s.
        backend.advance(30_000).await;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            backend.advance(4_000).await;
        }
    });
    let (r, out) = run(
        &srv,
        &[
            "--tz", "UTC", "locate", "80020200", "--every", "30", "--polls", "2",
        ],
    )
    .await;
    script.await.unwrap();
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    assert!(
        out.contains("  poll 1 at 22:13:2")
            && out.contains(": at 30.500000, 120.250000 ±10 m, fix 11-14 22:13:20, by LRRP"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("  poll 2 at ") && l.ends_with("NO ANSWER after 3 attempts")),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("succeeded, confirmed by the radio, 1 of 2 polls answered, at 30.500000"),
        "{out}"
    );
}

/// A group text: the delivery level says no acknowledgement is possible, and each site's
/// outcome follows on its own line.
#[tokio::test]
async fn a_group_text_prints_each_site_outcome() {
    let srv = server().await;
    let (r, out) = run(&srv, &["text", "80020910", "集合"]).await;
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let n = lines.len();
    assert!(n >= 2, "{out}");
    assert!(
        lines[n - 2].ends_with(
            "succeeded, transmitted on 城关 (no acknowledgement is possible) (asked by tester)"
        ),
        "{out}"
    );
    assert!(
        lines[n - 1].starts_with("  城关: sent on slot 1 at "),
        "{out}"
    );
    // A status to the group reads the same way (once the text's air time is over).
    srv.backend.advance(1_000).await;
    let (r, out) = run(&srv, &["status", "80020910", "5"]).await;
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let n = lines.len();
    assert!(
        lines[n - 2].contains("succeeded, transmitted on 城关 (no acknowledgement is possible)"),
        "{out}"
    );
    assert!(
        lines[n - 1].starts_with("  城关: sent on slot 1 at "),
        "{out}"
    );
}

/// A check to a stunned radio is refused before anything is sent, in one plain sentence that
/// says what to do.
#[tokio::test]
async fn a_stunned_radio_is_refused_in_one_sentence() {
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
    let (r, out) = run(&srv, &["stun", "80020200", "--reason", "丢失"]).await;
    answer.await.unwrap();
    assert_eq!(r.unwrap(), Outcome::Done, "{out}");
    let sent = srv.backend.transmit_count();
    let (r, out) = run(&srv, &["check", "80020200"]).await;
    let e = r.expect_err(&out);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            exit::REFUSED,
            "Radio 80020200 is stunned and cannot answer; revive it first."
        )
    );
    assert_eq!(srv.backend.transmit_count(), sent, "nothing was sent");
}

#[tokio::test]
async fn a_call_out_without_any_reply_that_counts_is_refused_naming_the_flags() {
    let srv = server().await;
    let (r, out) = run(
        &srv,
        &["callout", "start", "--radio", "80020200", "--text", "集合"],
    )
    .await;
    let e = r.expect_err(&out);
    assert_eq!(e.code, exit::USAGE, "{}", e.message);
    assert!(
        e.message.contains("--answer") && e.message.contains("--any-text"),
        "{}",
        e.message
    );
}
