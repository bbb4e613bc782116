//! The server's log as a log store reads it: the real `trunkgate serve --demo` process with
//! `TRUNKGATE_LOG_FORMAT=json` writes one JSON object a line on standard error; an API call's
//! lines carry its `method` and `request_id` (the client's `x-request-id`) in their span, and
//! an operation's end carries its operation ID and the client's request ID as fields.
//! Everything on 127.0.0.1, ports picked by the OS, every wait with a deadline.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trunkgate::api::pb;

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

/// Wait until some logged line satisfies `ok`; returns it.
fn until(lines: &Mutex<Vec<String>>, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let lines = lines.lock().unwrap();
            for l in lines.iter() {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l}"));
                if ok(&v) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the log:\n{}",
                lines.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn json_lines_carry_request_and_operation_ids() {
    let dir = tempfile::tempdir().unwrap();
    let api = free_tcp();
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", &api.to_string()])
        .args(["--homebrew", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("TRUNKGATE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,trunkgate::api::requests=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trunkgate serve --demo starts");
    let stderr = child.stderr.take().unwrap();
    let _gateway = Proc(child);
    let lines = Arc::new(Mutex::new(Vec::new()));
    {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    until(&lines, "the first link up", |v| {
        v["fields"]["message"] == "link up" && v["level"] == "INFO"
    });

    // An API call with the client's request ID.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{api}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        // The demo's token (written before the API listens).
        let token = std::fs::read_to_string(dir.path().join("demo.token")).expect("demo token");
        let bearer: tonic::metadata::MetadataValue<_> =
            format!("Bearer {}", token.trim()).parse().unwrap();
        let mut gateway = pb::gateway_service_client::GatewayServiceClient::with_interceptor(
            channel,
            move |mut req: tonic::Request<()>| {
                req.metadata_mut().insert("authorization", bearer.clone());
                Ok(req)
            },
        );
        let mut req = tonic::Request::new(pb::GetStatusRequest {});
        req.metadata_mut()
            .insert("x-request-id", "log-test-rpc".parse().unwrap());
        gateway.get_status(req).await.expect("GetStatus answers");
    });
    until(&lines, "the call's line with its request ID", |v| {
        v["fields"]["message"] == "API call ended"
            && v["fields"]["code"] == "OK"
            && v["span"]["request_id"] == "log-test-rpc"
            && v["span"]["method"] == "trunkgate.v1.GatewayService/GetStatus"
    });

    // An operation with a request ID: a text to a talkgroup, waited for by ctl.
    let out = Command::new(BIN)
        .args(["ctl", "--server", &api.to_string()])
        .args(["text", "57120900", "集合", "--request-id", "log-test-op"])
        .env("TRUNKGATE_TOKEN_FILE", dir.path().join("demo.token"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(&lines, "the operation's end with its IDs", |v| {
        v["fields"]["message"] == "operation finished"
            && v["fields"]["request_id"] == "log-test-op"
            && v["fields"]["operation"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
            && v["fields"]["outcome"] == "Succeeded"
    });

    // A call-out: its start and its end carry its ID (and the start the request ID).
    let out = Command::new(BIN)
        .args(["ctl", "--server", &api.to_string()])
        .args(["callout", "start", "--team", "qingshan", "--leaders"])
        .args(["--text", "请回复", "--any-text", "--deadline", "30"])
        .args(["--request-id", "log-test-callout", "--no-wait"])
        .env("TRUNKGATE_TOKEN_FILE", dir.path().join("demo.token"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(&lines, "the call-out's start with its IDs", |v| {
        v["fields"]["message"] == "call-out started"
            && v["fields"]["request_id"] == "log-test-callout"
            && v["fields"]["callout"]
                .as_str()
                .is_some_and(|s| s.starts_with("callout-"))
    });
}
