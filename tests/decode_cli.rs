//! `trunkgate decode` as a user runs it: the real binary, hex lines on standard input, JSON
//! lines out. The frames are built with the wire layer's emitters (a PDT text message: data
//! header + rate ½ blocks, each in a BPTC burst), plus a bad line in the middle of the batch.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use trunkgate::wire::burst::{DataType, SyncPattern};
use trunkgate::wire::data::{self, Rate};
use trunkgate::wire::data_header::{Body, DataHeader, Dpf, PacketInfo};
use trunkgate::wire::pipeline::{bptc_burst, data_block_burst};
use trunkgate::wire::{Dialect, sdata};

fn run(args: &[&str], stdin: &str) -> (Vec<Value>, i32) {
    run_bytes(args, stdin.as_bytes())
}

fn run_bytes(args: &[&str], stdin: &[u8]) -> (Vec<Value>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trunkgate"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trunkgate binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    (lines, out.status.code().unwrap_or(-1))
}

fn text_frames(text: &str, dialect: Dialect) -> Vec<String> {
    let header = DataHeader {
        group: false,
        response_requested: false,
        dpf: Dpf::Unconfirmed,
        sap: 3,
        destination: 0x898002,
        source: 0x898001,
        body: Body::Packet(PacketInfo {
            header_compression: false,
            pad_octets: 0,
            full_message: true,
            blocks_to_follow: 0,
            resync: false,
            send_seq: 0,
            fsn: 8,
        }),
    };
    let payload = sdata::pdt_sms_payload(text);
    let out = data::emit_packet(header, &payload, Rate::Half, dialect).unwrap();
    let mut frames = vec![hex::encode(bptc_burst(
        SyncPattern::BsData,
        1,
        DataType::DataHeader,
        &out.header_block,
    ))];
    for block in &out.blocks {
        frames.push(hex::encode(
            data_block_burst(SyncPattern::BsData, 1, out.rate, block).unwrap(),
        ));
    }
    frames
}

#[test]
fn reassemble_prints_the_completed_chinese_text_after_its_last_block() {
    let frames = text_frames("山体滑坡预警，请立即撤离", Dialect::Pdt);
    let n = frames.len();
    let (lines, code) = run(&["--reassemble"], &(frames.join("\n") + "\n"));
    assert_eq!(code, 0);
    assert_eq!(
        lines.len(),
        n + 1,
        "one line per frame plus the message: {lines:#?}"
    );
    assert_eq!(lines[0]["data_header"]["dpf_name"], "unconfirmed");
    assert_eq!(lines[0]["dialect"], "pdt");
    let message = &lines[n];
    assert_eq!(message["kind"], "message");
    assert_eq!(message["message"]["text"], "山体滑坡预警，请立即撤离");
    assert_eq!(message["source"], 0x898001);
}

#[test]
fn one_bad_line_does_not_stop_the_batch_and_exit_is_zero() {
    let good = "51dd0c4d8bb40ac413a86c5094fdff57d75df5dcadfa1268aaa87b82b9d8291910";
    let (lines, code) = run(&[], &format!("{good}\nnot hex\n{good}\n"));
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["csbk"]["opcode_name"], "PRE_CSBK");
    assert!(lines[1]["error"].as_str().unwrap().starts_with("input:"));
    assert_eq!(lines[2]["csbk"]["target"], 2301);
}

#[test]
fn a_line_that_is_not_utf8_is_reported_and_the_batch_goes_on() {
    let good = "51dd0c4d8bb40ac413a86c5094fdff57d75df5dcadfa1268aaa87b82b9d8291910";
    let mut input = format!("{good}\n").into_bytes();
    input.extend_from_slice(b"\xff\xfe not text\n");
    input.extend_from_slice(format!("{good}\n").as_bytes());
    let (lines, code) = run_bytes(&[], &input);
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[1]["error"].as_str().unwrap(),
        "input: line 2 is not UTF-8 text"
    );
    assert_eq!(lines[2]["csbk"]["target"], 2301);
}

/// The README's `trunkgate decode --reassemble < fixtures/dsms_frames.txt`: the captured data
/// SMS comes out as one reassembled message after its blocks.
#[test]
fn the_readme_reassembly_example_prints_the_message() {
    let frames = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/dsms_frames.txt"
    ))
    .unwrap();
    let (lines, code) = run_bytes(&["--reassemble"], &frames);
    assert_eq!(code, 0);
    let message = lines
        .iter()
        .find(|l| l["kind"] == "message")
        .expect("a reassembled message");
    assert_eq!(message["crc_ok"], true, "{message}");
    // The text a radio sent to UDP port 5016 (docs/ip-data.md), decoded.
    assert_eq!(message["message"]["kind"], "text", "{message}");
    assert_eq!(message["message"]["text"], "TEST KI5VMF", "{message}");
}

#[test]
fn usage_errors_exit_non_zero() {
    let (_, code) = run(&["--dialect", "tetra"], "");
    assert_ne!(code, 0);
}
