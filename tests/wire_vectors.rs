//! The test vectors, all of them: every line of `fixtures/vectors.jsonl` (a copy of the
//! project's reference vectors; each line names its public source and commit; fixtures/README.md,
//! docs/air-interface.md §6) is run through the wire layer, and every key of its `expect` object
//! is asserted.
//!
//! Contract of this test:
//! - The file is read at run time from `fixtures/`; a missing file fails with a clear message.
//! - Each `kind` has a checker; each checker has one match arm per `expect` key it knows, and
//!   an unknown key (or kind) **fails**, so a new vector cannot slip through unchecked.
//! - The source's vocabulary ("PreambleCSBK (0b111101 = 0x3D)", "StandardizedFID (0x00)",
//!   "DataPacketConfirmed", ...) is mapped to our typed values explicitly, in tables below.
//! - The `computed` decodes of the independent oracles (OK-DMR/ok-dmrlib, g4klx/MMDVMHost
//!   harness, zhoudayuan/Epack_Alarm harness) are checked field by field where we model the
//!   field; every field of an oracle entry is either checked or named as not modelled, and an
//!   unnamed field fails too.
//! - Vectors that cannot be checked are listed in [`SKIPPED`] with the reason; the list is
//!   printed and must equal the vectors actually skipped. Where the oracles disagree with
//!   each other, the one we follow and why is listed in [`ORACLE_DISAGREEMENTS`], which must
//!   equal the disagreements met.
//! - checked + skipped = lines of the file.
//!
//! A second test parses the captured bursts under `fixtures/`, re-emits them and compares.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value};

use trunkgate::wire::burst::{
    self, BurstRepr, DataBurst, DataType, Emb, Lcss, SlotType, SyncPattern, VoiceCentre,
};
use trunkgate::wire::crc::{self, DMR_MASKS, PDT_MASKS};
use trunkgate::wire::csbk::{
    Announcement, Csbk, CsbkBody, FID_DMRA, FID_HYTERA, FID_STANDARD, Preamble,
};
use trunkgate::wire::data::{ConfirmedBlock, Rate};
use trunkgate::wire::data_header::{Body, DataHeader, DefinedFormat, Dpf};
use trunkgate::wire::fec::{bptc, golay, hamming, qr, rs};
use trunkgate::wire::lc::{self, FullLc, LcBody, LcKind, ServiceOptions, TalkerAliasFormat};
use trunkgate::wire::lrrp::{DocType, Lrrp};
use trunkgate::wire::pi_header::{self, PiHeader};
use trunkgate::wire::{Dialect, DialectChoice, bits, embedded};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors.jsonl");

/// Vectors that are not checked, with the reason. Empty: every vector has a checker.
const SKIPPED: &[(&str, &str)] = &[];

/// Where two oracles disagree on a field, which one our decode follows and why:
/// (vector id, oracle field, reason). Each must be met exactly once.
const ORACLE_DISAGREEMENTS: &[(&str, &str, &str)] = &[
    (
        "dmrgo-m-sms-5",
        "ok-dmrlib data_header.crc_ok",
        "ok-dmrlib says false, the MMDVMHost harness says 1; the CRC-CCITT of the ten octets \
         under mask CCCC equals the received CRC, so we follow MMDVMHost",
    ),
    (
        "okdmr-burst-info-2",
        "per_test_comment LCSS",
        "the source's test comment says LCSS 3; ok-dmrlib's own decode (FirstFragmentLC) and \
         the MMDVMHost harness (lcss 1) both say 1, as we do. The test asserts only the FEC \
         checks and the round trip, not the comment, which describes another burst",
    ),
    (
        "okdmr-burst-info-2",
        "per_test_comment EMB Parity",
        "the same stale comment prints parity 0091; the nine QR parity bits of this burst are \
         0x191 (CC 1, PI 0, LCSS 1) and they check, which is what VERIFIED asserts",
    ),
];

/// The ETSI idle PR FILL payload (docs/air-interface.md §1.3, data type 9 row; MMDVMHost
/// DMRDefines.h DMR_IDLE_DATA as decoded by both oracles).
const PR_FILL: &str = "ff83df1732094ed1e7cd8a91";

thread_local! {
    static DISAGREEMENTS_MET: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

fn note_disagreement(id: &str, field: &str) {
    assert!(
        ORACLE_DISAGREEMENTS
            .iter()
            .any(|(i, f, _)| *i == id && *f == field),
        "{id}: oracles disagree on {field}, not listed in ORACLE_DISAGREEMENTS"
    );
    DISAGREEMENTS_MET.with(|m| m.borrow_mut().push((id.to_string(), field.to_string())));
}

// ---------------------------------------------------------------------------------------------
// The runner

#[test]
fn every_vector_is_checked_or_listed_as_skipped() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!(
            "cannot read {VECTORS}: {e} (the vectors are part of the repository, \
             fixtures/README.md)"
        )
    });
    let lines = text.lines().count();
    let mut checked = 0usize;
    let mut skipped: Vec<String> = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut ids = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("vectors.jsonl line {}: not JSON: {e}", n + 1));
        let id = v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("vectors.jsonl line {}: no id", n + 1))
            .to_string();
        assert!(ids.insert(id.clone()), "duplicate vector id {id}");
        if let Some((_, reason)) = SKIPPED.iter().find(|(s, _)| *s == id) {
            println!("SKIPPED {id}: {reason}");
            skipped.push(id);
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| check_vector(&id, &v))) {
            Ok(()) => checked += 1,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                failures.push((id, msg));
            }
        }
    }
    println!("SKIPPED list ({}): {:?}", SKIPPED.len(), SKIPPED);
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|(id, m)| format!("  {id}: {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let listed: Vec<String> = SKIPPED.iter().map(|(s, _)| s.to_string()).collect();
    assert_eq!(skipped, listed, "SKIPPED must equal the vectors skipped");
    let mut met = DISAGREEMENTS_MET.with(|m| m.borrow().clone());
    met.sort();
    let mut want: Vec<(String, String)> = ORACLE_DISAGREEMENTS
        .iter()
        .map(|(i, f, _)| (i.to_string(), f.to_string()))
        .collect();
    want.sort();
    assert_eq!(met, want, "ORACLE_DISAGREEMENTS must equal those met");
    assert_eq!(
        checked + skipped.len(),
        lines,
        "checked + skipped must equal the lines of vectors.jsonl"
    );
    // docs/air-interface.md §6.1: "86 vectors in this file". A change of the file shows up here.
    assert_eq!(
        lines, 86,
        "vectors.jsonl changed size: review the new vectors"
    );
}

fn check_vector(id: &str, v: &Value) {
    let kind = v["kind"].as_str().unwrap_or_else(|| panic!("no kind"));
    let hex_field = v["hex"].as_str().unwrap_or_else(|| panic!("no hex"));
    let expect = v["expect"]
        .as_object()
        .unwrap_or_else(|| panic!("no expect object"));
    let computed: Vec<&Map<String, Value>> = match &v["computed"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .map(|e| e.as_object().expect("computed entries are objects"))
            .collect(),
        other => panic!("computed is {other}"),
    };
    let x = Vector {
        id,
        hex: hex_field,
        expect,
        computed,
        container: v.get("container_hex").and_then(Value::as_str),
    };
    match kind {
        "burst" => check_burst(&x),
        "csbk" => check_csbk(&x),
        "data_header" => check_data_header(&x),
        "full_lc" => check_full_lc(&x),
        "full_lc_77bit" => check_full_lc_77bit(&x),
        "full_lc_77bit_set" => check_full_lc_77bit_set(&x),
        "embedded_lc_128" => check_embedded_lc_128(&x),
        "bptc_196" => check_bptc_196(&x),
        "pi_header" => check_pi_header(&x),
        "rs129" => check_rs129(&x),
        "rs129_unmasked" => check_rs129_unmasked(&x),
        "crc16" => check_crc16(&x),
        "crc32" => check_crc32(&x),
        "crc9" => check_crc9(&x),
        "crc8_bits" => check_crc8_bits(&x),
        "slot_type_bits" => check_slot_type_bits(&x),
        "golay2087_bits" => check_golay_bits(&x),
        "hamming15113_bits" => check_hamming15113_bits(&x),
        "hamming1393_bits" => check_hamming1393_bits(&x),
        "emb_bits" => check_emb_bits(&x),
        "rate34_confirmed_block" => check_rate34_confirmed_block(&x),
        "lrrp" => check_lrrp(&x),
        "full_lc_pdt_remask" => check_full_lc_pdt_remask(&x),
        "crc16_pdt_remask" => check_crc16_pdt_remask(&x),
        other => panic!("unknown vector kind {other:?}: write a checker for it"),
    }
}

struct Vector<'a> {
    id: &'a str,
    hex: &'a str,
    expect: &'a Map<String, Value>,
    computed: Vec<&'a Map<String, Value>>,
    container: Option<&'a str>,
}

impl Vector<'_> {
    fn bytes(&self) -> Vec<u8> {
        unhex(self.hex)
    }
    fn block12(&self) -> [u8; 12] {
        self.bytes()
            .try_into()
            .unwrap_or_else(|_| panic!("{}: hex is not 12 octets", self.id))
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim()).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn bits_of(s: &str) -> u64 {
    assert!(
        s.len() <= 64 && s.chars().all(|c| c == '0' || c == '1'),
        "bad bit string {s:?}"
    );
    u64::from_str_radix(s, 2).unwrap_or_else(|e| panic!("bad bit string {s:?}: {e}"))
}

fn as_bool(v: &Value, what: &str) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_u64() == Some(0) => false,
        Value::Number(n) if n.as_u64() == Some(1) => true,
        other => panic!("{what}: {other} is not a boolean"),
    }
}

fn as_u64(v: &Value, what: &str) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or_else(|| panic!("{what}: {n} not u64")),
        Value::Bool(b) => u64::from(*b),
        Value::String(s) => code_of(s).unwrap_or_else(|| panic!("{what}: no number in {s:?}")),
        other => panic!("{what}: {other} is not a number"),
    }
}

fn as_str<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: {v} is not a string"))
}

/// The number an oracle writes in a coded name: "Name(0x3D)", "Enum.Name(13)", "0x00", "42".
fn code_of(s: &str) -> Option<u64> {
    let inner = match (s.rfind('('), s.rfind(')')) {
        (Some(a), Some(b)) if b > a => &s[a + 1..b],
        _ => s,
    };
    let inner = inner.trim();
    // "0b111101 = 0x3D": the last alternative
    let inner = inner.rsplit('=').next().unwrap_or(inner).trim();
    if let Some(h) = inner.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else {
        inner.parse().ok()
    }
}

/// The `[...]` tokens of a repr string, and the text before the first one.
fn bracket_tokens(s: &str) -> (&str, Vec<&str>) {
    let prefix = s.split('[').next().unwrap_or("").trim();
    let tokens = s
        .split('[')
        .skip(1)
        .map(|t| t.split(']').next().unwrap_or("").trim())
        .collect();
    (prefix, tokens)
}

/// Every key of an oracle's entry must be checked or named as not modelled.
struct Entry<'a> {
    what: String,
    map: &'a Map<String, Value>,
    seen: BTreeSet<&'a str>,
}

impl<'a> Entry<'a> {
    fn new(what: impl Into<String>, map: &'a Map<String, Value>) -> Self {
        let mut seen = BTreeSet::new();
        if map.contains_key("computed_by") {
            seen.insert("computed_by");
        }
        Entry {
            what: what.into(),
            map,
            seen,
        }
    }
    fn get(&mut self, key: &'a str) -> Option<&'a Value> {
        self.seen.insert(key);
        self.map.get(key)
    }
    fn want(&mut self, key: &'a str) -> &'a Value {
        let what = self.what.clone();
        self.get(key)
            .unwrap_or_else(|| panic!("{what}: no field {key}"))
    }
    /// Fields we do not model (the reason is the caller's comment).
    fn not_modelled(&mut self, keys: &[&'a str]) {
        self.seen.extend(keys.iter().copied());
    }
    fn u(&mut self, key: &'a str) -> u64 {
        let w = format!("{} {key}", self.what);
        as_u64(self.want(key), &w)
    }
    fn b(&mut self, key: &'a str) -> bool {
        let w = format!("{} {key}", self.what);
        as_bool(self.want(key), &w)
    }
    fn s(&mut self, key: &'a str) -> &'a str {
        let w = format!("{} {key}", self.what);
        as_str(self.want(key), &w)
    }
    fn obj(&mut self, key: &'a str) -> &'a Map<String, Value> {
        let what = self.what.clone();
        self.want(key)
            .as_object()
            .unwrap_or_else(|| panic!("{what}: {key} is not an object"))
    }
    fn eq_u(&mut self, key: &'a str, ours: u64) {
        let theirs = self.u(key);
        assert_eq!(ours, theirs, "{}: {key}", self.what);
    }
    fn eq_b(&mut self, key: &'a str, ours: bool) {
        let theirs = self.b(key);
        assert_eq!(ours, theirs, "{}: {key}", self.what);
    }
    /// A field the oracle prints for every PDU: `ours` is `None` where our type has no such
    /// field, and the oracle must then hold its default (null, 0, false or "").
    fn eq_opt(&mut self, key: &'a str, ours: Option<u64>) {
        let what = format!("{}: {key}", self.what);
        let v = self.want(key);
        match ours {
            Some(x) => assert_eq!(as_u64(v, &what), x, "{what}"),
            None => assert!(
                matches!(v, Value::Null)
                    || v.as_u64() == Some(0)
                    || v == &Value::Bool(false)
                    || v.as_str() == Some(""),
                "{what}: we have no such field, the oracle says {v}"
            ),
        }
    }
    fn finish(&self) {
        let left: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.seen.contains(k.as_str()))
            .collect();
        assert!(
            left.is_empty(),
            "{}: oracle fields neither checked nor listed as not modelled: {left:?}",
            self.what
        );
    }
}

enum Oracle {
    OkDmrlib,
    Mmdvm,
    Epack,
}

fn oracle(e: &Map<String, Value>) -> Oracle {
    let by = e["computed_by"].as_str().unwrap_or("");
    if by.starts_with("OK-DMR/ok-dmrlib") {
        Oracle::OkDmrlib
    } else if by.starts_with("g4klx/MMDVMHost") {
        Oracle::Mmdvm
    } else if by.starts_with("zhoudayuan/Epack_Alarm") {
        Oracle::Epack
    } else {
        panic!("unknown oracle {by:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary tables: the sources' names → our typed values

/// ok-dmrlib `FeatureSetIDs` names (docs/air-interface.md §3.2).
fn fid_named(s: &str) -> u8 {
    let name = s.split(['(', ' ']).next().unwrap_or("");
    let fid = match name.rsplit('.').next().unwrap_or(name) {
        "StandardizedFID" | "standardized_ts_102_361_2" => FID_STANDARD,
        "MotorolaLtd" => FID_DMRA,
        other => panic!("unknown feature set name {other:?} in {s:?}"),
    };
    if let Some(code) = s.contains('(').then(|| code_of(s)).flatten() {
        assert_eq!(
            u64::from(fid),
            code,
            "feature set {s:?}: name and code disagree"
        );
    }
    fid
}

/// ok-dmrlib `SyncPatterns` names. `None` = no sync: the centre is embedded signalling.
fn sync_named(s: &str) -> Option<SyncPattern> {
    match s {
        "BsSourcedVoice" => Some(SyncPattern::BsVoice),
        "BsSourcedData" => Some(SyncPattern::BsData),
        "MsSourcedVoice" => Some(SyncPattern::MsVoice),
        "MsSourcedData" => Some(SyncPattern::MsData),
        "EmbeddedData" | "EmbeddedSignalling" => None,
        other => panic!("unknown sync name {other:?}"),
    }
}

/// Data type names: ok-dmrlib `DataTypes` ("CSBK", "CSBK(3)", "DataTypes.Rate12Data").
fn data_type_named(s: &str) -> DataType {
    let name = s.split('(').next().unwrap_or(s);
    let dt = match name.rsplit('.').next().unwrap_or(name) {
        "PIHeader" => DataType::PiHeader,
        "VoiceLCHeader" => DataType::VoiceLcHeader,
        "TerminatorWithLC" => DataType::TerminatorWithLc,
        "CSBK" => DataType::Csbk,
        "DataHeader" => DataType::DataHeader,
        "Rate12Data" => DataType::RateHalfData,
        "Rate34Data" => DataType::RateThreeQuarterData,
        "Idle" => DataType::Idle,
        other => panic!("unknown data type name {other:?}"),
    };
    if s.contains('(') {
        assert_eq!(
            code_of(s),
            Some(u64::from(dt.bits())),
            "data type {s:?}: name and code disagree"
        );
    }
    dt
}

/// The plain-language CSBK names of the ok-dmrlib test comments and the sources' mnemonics →
/// our opcode names (docs/air-interface.md §3.3).
fn csbk_named(s: &str) -> &'static str {
    match s {
        "preamble" | "PreambleCSBK" => "PRE_CSBK",
        "channel timing" => "CT_CSBK",
        "bs outbound activation" => "BS_DWN_ACT",
        "unit-to-unit voice service answer-response" => "UU_ANS_RSP",
        "negative acknowledgement response" => "NACK_RSP",
        "CsbkOpcodes.AnnouncementPDUsWithoutResponse (C_BCAST)" | "C_BCAST" => "C_BCAST",
        "CsbkOpcodes.Protect (P_PROTECT)" => "P_PROTECT",
        "C_ALOHA" => "C_ALOHA",
        "C_AHOY" => "C_AHOY",
        "C_ACKD" => "C_ACKD",
        other => panic!("unknown CSBK name {other:?}"),
    }
}

/// ok-dmrlib `FLCOs` / dmr-kaitai names → (FLCO value, our body name).
fn flco_named(s: &str) -> (u8, &'static str) {
    let name = s.split('(').next().unwrap_or(s);
    let r = match name.rsplit('.').next().unwrap_or(name) {
        "GroupVoiceChannelUser" | "group_voice" => (lc::flco::GROUP_VOICE, "group_voice"),
        "UnitToUnitVoiceChannelUser" => (lc::flco::UNIT_TO_UNIT_VOICE, "unit_to_unit_voice"),
        "TalkerAliasHeader" => (lc::flco::TALKER_ALIAS_HEADER, "talker_alias_header"),
        "TalkerAliasBlock1" => (lc::flco::TALKER_ALIAS_BLOCK1, "talker_alias_block"),
        other => panic!("unknown FLCO name {other:?}"),
    };
    if s.contains('(') {
        assert_eq!(code_of(s), Some(u64::from(r.0)), "FLCO {s:?}");
    }
    r
}

/// ok-dmrlib `TalkerAliasDataFormats`: its name for value 3 is "UnicodeUTF16LE", but its own
/// test decodes big-endian octets; ETSI value 3 is UTF-16BE (docs/air-interface.md §9.11).
fn ta_format_named(s: &str) -> TalkerAliasFormat {
    let name = s.split([' ', '(']).next().unwrap_or(s);
    match name.rsplit('.').next().unwrap_or(name) {
        "UnicodeUTF16LE" => TalkerAliasFormat::Utf16Be,
        other => panic!("unknown talker alias format {other:?}"),
    }
}

/// ok-dmrlib `DataPacketFormats` names.
fn dpf_named(s: &str) -> Dpf {
    let name = s.split('(').next().unwrap_or(s);
    let d = match name.rsplit('.').next().unwrap_or(name) {
        "UnifiedDataTransport" => Dpf::Udt,
        "DataPacketUnconfirmed" => Dpf::Unconfirmed,
        "DataPacketConfirmed" => Dpf::Confirmed,
        "ShortDataDefined" => Dpf::DefinedShortData,
        other => panic!("unknown data packet format {other:?}"),
    };
    if s.contains('(') {
        assert_eq!(code_of(s), Some(u64::from(d.bits())), "DPF {s:?}");
    }
    d
}

/// ok-dmrlib `SAPIdentifier` names (docs/air-interface.md §5.1).
fn sap_named(s: &str) -> u8 {
    let name = s.split('(').next().unwrap_or(s);
    match name.rsplit('.').next().unwrap_or(name) {
        "UDT" => 0,
        "IP_PacketData" => 4,
        "ShortData" => 10,
        other => panic!("unknown SAP name {other:?}"),
    }
}

/// The CRC-CCITT masks of the DMR dialect by their hex names, as the MMDVMHost harness lists
/// them (crc::DMR_MASKS; docs/air-interface.md §2.6).
fn dmr_ccitt_masks() -> [(&'static str, u16); 5] {
    [
        ("6969", DMR_MASKS.pi_header),
        ("A5A5", DMR_MASKS.csbk),
        ("AAAA", DMR_MASKS.mbc_header),
        ("CCCC", DMR_MASKS.data_header),
        ("3333", DMR_MASKS.usbd),
    ]
}

/// `crc16_valid_masks` of the MMDVMHost harness: exactly the listed masks make `block` check.
fn check_valid_masks(what: &str, block: &[u8; 12], list: &Value) {
    let list: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("{what}: crc16_valid_masks is not a list"))
        .iter()
        .map(|m| as_str(m, what).to_uppercase())
        .collect();
    for (name, mask) in dmr_ccitt_masks() {
        assert_eq!(
            crc::check_ccitt_block(block, mask),
            list.iter().any(|m| m == name),
            "{what}: mask {name} vs crc16_valid_masks {list:?}"
        );
    }
    for m in &list {
        assert!(
            dmr_ccitt_masks().iter().any(|(n, _)| n == m),
            "{what}: unknown mask {m}"
        );
    }
}

/// A CRC mask named by an ok-dmrlib `CrcMasks` member: "DataHeader 0xCCCC".
fn crc16_mask_named(s: &str) -> u16 {
    let (name, value) = s.split_once(' ').unwrap_or((s, ""));
    let mask = match name {
        "DataHeader" => DMR_MASKS.data_header,
        "CSBK" => DMR_MASKS.csbk,
        other => panic!("unknown CRC-16 mask name {other:?}"),
    };
    assert_eq!(Some(u64::from(mask)), code_of(value), "mask {s:?}");
    mask
}

/// An RS(12,9) mask named by ok-dmrlib: "VoiceLCHeader 0x969696".
fn rs_mask_named(s: &str) -> LcKind {
    let (name, value) = s.split_once(' ').unwrap_or((s, ""));
    let kind = match name {
        "VoiceLCHeader" => LcKind::Header,
        "TerminatorWithLC" => LcKind::Terminator,
        other => panic!("unknown RS mask name {other:?}"),
    };
    let m = kind.mask(Dialect::Dmr);
    let want = u64::from(m[0]) << 16 | u64::from(m[1]) << 8 | u64::from(m[2]);
    assert_eq!(Some(want), code_of(value), "mask {s:?}");
    kind
}

// ---------------------------------------------------------------------------------------------
// CSBK

fn parse_csbk(id: &str, block: &[u8]) -> Csbk {
    Csbk::parse(block).unwrap_or_else(|e| panic!("{id}: csbk parse: {e}"))
}

fn check_csbk(x: &Vector) {
    let id = x.id;
    let block = x.block12();
    let csbk = parse_csbk(id, &block);
    let crc_ok = Csbk::check(&block, DialectChoice::Dmr) == Some(Dialect::Dmr);
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            // ok-dmrlib test comments name the CSBK in words.
            "type_per_source_comment" => {
                let name = csbk_named(as_str(want, &what));
                assert_eq!(csbk.opcode_name(), Some(name), "{what}");
            }
            "feature_set" => assert_eq!(csbk.fid, fid_named(as_str(want, &what)), "{what}"),
            // parse → emit reproduces the block bit for bit.
            "as_bits_roundtrip" => {
                assert!(as_bool(want, &what));
                assert_eq!(csbk.to_bytes(Dialect::Dmr), block, "{what}");
            }
            // "[CsbkOpcodes.HyteraIPSCSync] [LB: 1] [PF: 0] [HYTERA IPSC SYNC data-hex(...)]"
            "repr_per_comment" => {
                let (_, tokens) = bracket_tokens(as_str(want, &what));
                for t in tokens {
                    match t.split_once(':') {
                        Some(("LB", v)) => {
                            assert_eq!(csbk.last_block, v.trim() == "1", "{what}: {t}")
                        }
                        Some(("PF", v)) => assert_eq!(csbk.protect, v.trim() == "1", "{what}: {t}"),
                        _ if t == "CsbkOpcodes.HyteraIPSCSync" => {
                            // ok-dmrlib: HyteraIPSCSync = opcode 0x08 under FID 0x10
                            // (its computed decode: "HyteraIPSCSync(0x08)", fid 0x10).
                            assert_eq!((csbk.fid, csbk.opcode), (FID_DMRA, 0x08), "{what}");
                        }
                        _ if t.starts_with("HYTERA IPSC SYNC data-hex(") => {
                            let data = t
                                .trim_start_matches("HYTERA IPSC SYNC data-hex(")
                                .trim_end_matches(')');
                            // We have no typed body for it: the 64 data bits stay raw.
                            match csbk.body {
                                CsbkBody::Raw { data: d } => {
                                    assert_eq!(hex::encode(d), data, "{what}")
                                }
                                other => panic!("{what}: typed as {other:?}"),
                            }
                        }
                        _ => panic!("{what}: unknown token {t:?}"),
                    }
                }
            }
            // isinstance only in the source: parse succeeds and the CRC checks.
            "parses_as_csbk" => {
                assert!(as_bool(want, &what));
                assert!(crc_ok, "{what}: CRC");
            }
            "crc_ok" => assert_eq!(crc_ok, as_bool(want, &what), "{what}"),
            // "C_ALOHA (OpAloha)", "C_BCAST (OpBcast) General Site Parameters per comment"
            "opcode" => {
                let s = as_str(want, &what);
                let name = csbk_named(s.split(' ').next().unwrap_or(s));
                assert_eq!(csbk.opcode_name(), Some(name), "{what}");
                if s.contains("General Site Parameters") {
                    match csbk.body {
                        CsbkBody::CBcast(b) => assert!(
                            matches!(b.announcement, Announcement::GenSiteParams(_)),
                            "{what}: {:?}",
                            b.announcement
                        ),
                        other => panic!("{what}: {other:?}"),
                    }
                }
            }
            "fid" => assert_eq!(
                u64::from(csbk.fid),
                code_of(as_str(want, &what)).expect("fid"),
                "{what}"
            ),
            "target_id" => assert_eq!(
                csbk.target().map(u64::from),
                code_of(as_str(want, &what)),
                "{what}"
            ),
            "source_id" => assert_eq!(
                csbk.source().map(u64::from),
                code_of(as_str(want, &what)),
                "{what}"
            ),
            // Provenance of the assertion (another test file of the source): nothing to check.
            "asserted_in" | "capture" => {}
            "dsd_fme_output" => check_dsdfme_aloha(&what, &csbk, as_str(want, &what)),
            // "Hytera XPT 0x0B (CSBK, FID 0x68)": opcode and FID; we have no layout for it, so
            // its data bits stay raw, and the CRC checks with the CSBK mask.
            "dsd_fme_label" => {
                let s = as_str(want, &what);
                assert_eq!(s, "Hytera XPT 0x0B (CSBK, FID 0x68)", "{what}: new label");
                assert_eq!((csbk.opcode, csbk.fid), (0x0B, FID_HYTERA), "{what}");
                assert!(matches!(csbk.body, CsbkBody::Raw { .. }), "{what}");
                assert!(crc_ok, "{what}: CRC");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        match oracle(e) {
            Oracle::OkDmrlib => {
                check_okdmr_csbk(&format!("{id} ok-dmrlib"), &csbk, &block, e);
            }
            Oracle::Mmdvm => {
                let mut en = Entry::new(format!("{id} MMDVMHost"), e);
                check_mmdvm_csbk(
                    &format!("{id} MMDVMHost csbk"),
                    &csbk,
                    &block,
                    en.obj("csbk"),
                );
                let masks = en.want("crc16_valid_masks");
                check_valid_masks(&en.what, &block, masks);
                en.finish();
            }
            Oracle::Epack => panic!("{id}: unexpected oracle"),
        }
    }
}

/// dsd-fme's C_ALOHA line, "; "-separated. dsd-fme prints NET+1 and SITE+1 and splits the
/// site as DMRLA site.sub-site (docs/air-interface.md §3.4): we check the sub-site after the dot.
fn check_dsdfme_aloha(what: &str, csbk: &Csbk, s: &str) {
    let a = match csbk.body {
        CsbkBody::CAloha(a) => a,
        other => panic!("{what}: not C_ALOHA: {other:?}"),
    };
    let sys = a.system_code;
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once(':')
            .map_or((part, ""), |(k, v)| (k, v.trim()));
        match k {
            "C_ALOHA_SYS_PARMS" => {
                assert_eq!(csbk.opcode_name(), Some("C_ALOHA"), "{what}");
                assert_eq!(
                    format!("{:?}", sys.model),
                    v,
                    "{what}: model (dsd-fme prints Tiny/Small/Large/Huge)"
                );
            }
            "Net ID" => assert_eq!(
                u64::from(sys.net) + 1,
                code_of(v).unwrap(),
                "{what}: {part}"
            ),
            "Site ID" => {
                let sub = v.rsplit('.').next().unwrap_or(v);
                assert_eq!(
                    u64::from(sys.site) + 1,
                    code_of(sub).unwrap(),
                    "{what}: {part}"
                );
            }
            "Cat" => {
                // PAR: 1 = A, 2 = B, 3 = A and B (docs/air-interface.md §3.4)
                let par = match v {
                    "A" => 1,
                    "B" => 2,
                    "AB" => 3,
                    other => panic!("{what}: category {other}"),
                };
                assert_eq!(sys.par, par, "{what}: {part}");
            }
            // The 14-bit SYS code = System Identity Code without PAR (docs/air-interface.md §3.4).
            "SYS" => assert_eq!(
                u64::from(sys.raw >> 2),
                u64::from_str_radix(v, 16).unwrap(),
                "{what}: {part}"
            ),
            "Ver" => assert_eq!(u64::from(a.version), code_of(v).unwrap(), "{what}: {part}"),
            "Active Connection" => assert!(a.active_connection, "{what}: {part}"),
            "SF" => assert_eq!(
                u64::from(u8::from(a.service_function)),
                code_of(v).unwrap(),
                "{what}: {part}"
            ),
            "NR" => assert_eq!(
                u64::from(a.nrand_wait),
                code_of(v).unwrap(),
                "{what}: {part}"
            ),
            "Reg Required" => assert!(a.reg_required, "{what}: {part}"),
            "Backoff" => assert_eq!(u64::from(a.backoff), code_of(v).unwrap(), "{what}: {part}"),
            other => panic!("{what}: unknown dsd-fme field {other:?}"),
        }
    }
}

/// An ok-dmrlib CSBK decode (flat, or nested under "csbk" in a burst).
fn check_okdmr_csbk(what: &str, csbk: &Csbk, block: &[u8; 12], e: &Map<String, Value>) {
    let mut en = Entry::new(what, e);
    if en.get("error").is_some() {
        // ok-dmrlib raised (NotImplementedError / undefined opcode, docs/air-interface.md §6.3):
        // no decode to compare.
        en.finish();
        return;
    }
    en.eq_b("lb", csbk.last_block);
    en.eq_b("pf", csbk.protect);
    en.eq_u("csbko", u64::from(csbk.opcode));
    en.eq_u("fid", u64::from(csbk.fid));
    let crc = en.s("crc");
    assert_eq!(
        code_of(crc),
        Some(u64::from(u16::from_be_bytes([block[10], block[11]]))),
        "{what}: crc"
    );
    en.eq_b(
        "crc_ok",
        Csbk::check(block, DialectChoice::Dmr) == Some(Dialect::Dmr),
    );
    match csbk.body {
        CsbkBody::PreCsbk(p) => check_okdmr_preamble(&mut en, &p),
        CsbkBody::NackRsp(n) => {
            en.eq_u("additional_information_field", u64::from(n.additional_info));
            en.eq_u("source_type", u64::from(n.ms_sourced));
            en.eq_u("service_type", u64::from(n.service_type));
            en.eq_u("reason_code", u64::from(n.reason.0));
            en.eq_u("source_address", u64::from(n.source));
            en.eq_u("target_address", u64::from(n.target));
        }
        CsbkBody::CAloha(a) => {
            en.eq_b("tsccas_support", a.tsccas);
            en.eq_b("site_timeslot_synchronized", a.site_ts_sync);
            en.eq_u("document_version_control", u64::from(a.version));
            en.eq_b("tscc_is_offset_timing", a.offset_timing);
            en.eq_b("ts_active_connection", a.active_connection);
            en.eq_u("aloha_mask", u64::from(a.mask));
            en.eq_u("service_function", u64::from(u8::from(a.service_function)));
            en.eq_u("nrand_wait", u64::from(a.nrand_wait));
            en.eq_b("tscc_reg_required", a.reg_required);
            en.eq_u("tscc_backoff", u64::from(a.backoff));
            en.eq_u("system_identity_code", u64::from(a.system_code.raw));
            // ok-dmrlib calls the acknowledged MS address "target_address".
            en.eq_u("target_address", u64::from(a.ms_address));
        }
        CsbkBody::CBcast(b) => {
            en.eq_u("announcement_type", u64::from(b.announcement.kind()));
            // ok-dmrlib prints parameters 1 (abs 21-34) then 2 (abs 56-79) as one bit string;
            // our typed announcement must hold the same bits.
            let (p1, p2) = (bits::get(block, 21, 14), bits::get(block, 56, 24));
            let bits = en.s("broadcast_params");
            assert_eq!(
                format!("{p1:014b}{p2:024b}"),
                bits,
                "{what}: broadcast_params"
            );
            match b.announcement {
                Announcement::GenSiteParams(p) | Announcement::Other { params: p, .. } => {
                    assert_eq!(
                        (u64::from(p.params1), u64::from(p.params2)),
                        (p1, p2),
                        "{what}"
                    )
                }
                Announcement::AdjacentSite(a) => assert_eq!(
                    (u64::from(a.neighbour_sys_code), u64::from(a.neighbour_lpcn)),
                    (p1, p2 & 0xFFF),
                    "{what}: adjacent site"
                ),
                other => panic!("{what}: no comparison written for {other:?}"),
            }
            en.eq_b("tscc_reg_required", b.reg_required);
            en.eq_u("tscc_backoff", u64::from(b.backoff));
            en.eq_u("system_identity_code", u64::from(b.system_code.raw));
        }
        CsbkBody::UuAnsRsp(u) => {
            check_okdmr_service_options(&mut en, u.service_options);
            en.eq_u("answer_response", u64::from(u8::from(u.answer)));
            en.eq_u("target_address", u64::from(u.target));
            en.eq_u("source_address", u64::from(u.source));
        }
        CsbkBody::BsDwnAct(b) => {
            en.eq_u("bs_address", u64::from(b.bs_address));
            en.eq_u("source_address", u64::from(b.source));
        }
        CsbkBody::CtCsbk(c) => {
            en.eq_u("sync_age", u64::from(c.sync_age));
            en.eq_u("generation", u64::from(c.generation));
            en.eq_u("leader_identifier", u64::from(c.leader));
            en.eq_b("new_leader", c.new_leader);
            en.eq_u("leader_dynamic_identifier", u64::from(c.leader_dynamic));
            en.eq_u("channel_timing_opcode", u64::from(c.opcode()));
            en.eq_u("source_identifier", u64::from(c.source_identifier));
            en.eq_u("source_dynamic_identifier", u64::from(c.source_dynamic));
        }
        CsbkBody::Raw { data } => {
            let raw = en.s("raw_data");
            assert_eq!(hex::encode(data), raw, "{what}: raw_data");
        }
        other => panic!("{what}: no ok-dmrlib comparison written for {other:?}"),
    }
    en.finish();
}

fn check_okdmr_preamble(en: &mut Entry, p: &Preamble) {
    // ok-dmrlib's flag is "CSBK content follows", the inverse of DC (data follows).
    en.eq_b("csbk_content_follows_preambles", !p.data_follows);
    en.eq_b("target_address_is_individual", !p.group);
    en.eq_u("blocks_to_follow", u64::from(p.blocks_to_follow));
    en.eq_u("target_address", u64::from(p.target));
    en.eq_u("source_address", u64::from(p.source));
}

/// ok-dmrlib's service options object against our 8-bit field.
fn check_okdmr_service_options(en: &mut Entry, raw: u8) {
    let so = ServiceOptions::from(raw);
    let what = en.what.clone();
    let o = en.obj("service_options");
    let mut sub = Entry::new(format!("{what} service_options"), o);
    sub.eq_b("is_emergency", so.emergency);
    sub.eq_b("is_broadcast", so.broadcast);
    sub.eq_b("is_privacy", so.privacy);
    sub.eq_b("is_open_voice_call_mode", so.ovcm);
    sub.eq_u("priority_level", u64::from(so.priority));
    let r = sub.s("reserved");
    assert_eq!(format!("{:02b}", so.reserved), r, "{what}: reserved");
    sub.finish();
}

/// The MMDVMHost harness' CSBK decode. MMDVMHost's CDMRCSBK fills src/dst/gi/bs_id/cbf/
/// data_content only for the opcodes it handles (preamble, NACK_Rsp, UU_V_Req, UU_Ans_Rsp,
/// BS_Dwn_Act, C_ACKD and the FID 0x10 ones); for the others it leaves them 0.
fn check_mmdvm_csbk(what: &str, csbk: &Csbk, block: &[u8; 12], m: &Map<String, Value>) {
    let mut en = Entry::new(what, m);
    en.eq_b(
        "crc_ok",
        Csbk::check(block, DialectChoice::Dmr) == Some(Dialect::Dmr),
    );
    en.eq_u("csbko", u64::from(csbk.opcode));
    en.eq_u("fid", u64::from(csbk.fid));
    let (mut gi, mut src, mut dst, mut bs, mut dc, mut cbf, mut ovcm) =
        (false, 0u32, 0u32, 0u32, false, 0u8, false);
    match csbk.body {
        CsbkBody::PreCsbk(p) => {
            (gi, src, dst, dc, cbf) = (
                p.group,
                p.source,
                p.target,
                p.data_follows,
                p.blocks_to_follow,
            )
        }
        CsbkBody::NackRsp(n) => (src, dst) = (n.source, n.target),
        CsbkBody::UuVReq(u) => (src, dst) = (u.source, u.target),
        CsbkBody::UuAnsRsp(u) => {
            (src, dst) = (u.source, u.target);
            ovcm = ServiceOptions::from(u.service_options).ovcm;
        }
        CsbkBody::BsDwnAct(b) => (src, bs) = (b.source, b.bs_address),
        CsbkBody::CAckd(a) => (src, dst) = (a.source, a.target),
        // Not decoded by MMDVMHost: all zero there.
        _ => {}
    }
    en.eq_b("gi", gi);
    en.eq_u("src", u64::from(src));
    en.eq_u("dst", u64::from(dst));
    en.eq_u("bs_id", u64::from(bs));
    en.eq_b("data_content", dc);
    en.eq_u("cbf", u64::from(cbf));
    en.eq_b("ovcm", ovcm);
    en.finish();
}

// ---------------------------------------------------------------------------------------------
// Bursts

/// Decode the DMRD container of an ok-dmrlib test: (slot 1/2, sequence, burst). Layout from
/// docs/transports.md §2.2: "DMRD", seq @4, flags @15 (bit 7 = TS2), burst @20..53.
fn dmrd(container: &str) -> (u8, u8, Vec<u8>) {
    let c = unhex(container);
    assert!(
        c.len() >= 53 && &c[..4] == b"DMRD",
        "container is no DMRD frame"
    );
    (1 + (c[15] >> 7), c[4], c[20..53].to_vec())
}

fn check_burst(x: &Vector) {
    let id = x.id;
    let raw = x.bytes();
    let raw33: [u8; burst::LEN] = raw.clone().try_into().expect("33 octets");
    let repr = BurstRepr::parse(&raw).unwrap_or_else(|e| panic!("{id}: burst parse: {e}"));
    if let Some(c) = x.container {
        assert_eq!(dmrd(c).2, raw, "{id}: hex is the burst of the container");
    }
    let data = match repr {
        BurstRepr::Data(d) => Some(d),
        _ => None,
    };
    // BPTC payload of the data types that use BPTC(196,96) (docs/air-interface.md §2.1).
    let payload = data.and_then(|d| bptc_payload(&d));
    let emit = || {
        let mut out = [0u8; burst::LEN];
        repr.emit(&mut out);
        out
    };
    let csbk = || {
        let (p, _) = payload.unwrap_or_else(|| panic!("{id}: no BPTC payload"));
        assert_eq!(
            data.map(|d| d.slot_type.data_type),
            Some(DataType::Csbk),
            "{id}: data type"
        );
        parse_csbk(id, &p)
    };
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "csbk.last_block" => assert_eq!(csbk().last_block, as_bool(want, &what), "{what}"),
            "csbk.protect_flag" => assert_eq!(csbk().protect, as_bool(want, &what), "{what}"),
            // "PreambleCSBK (0b111101 = 0x3D)"
            "csbk.csbko" => {
                let s = as_str(want, &what);
                assert_eq!(Some(u64::from(csbk().opcode)), code_of(s), "{what}");
                let name = csbk_named(s.split(' ').next().unwrap_or(s));
                assert_eq!(csbk().opcode_name(), Some(name), "{what}");
            }
            "csbk.feature_set" => assert_eq!(csbk().fid, fid_named(as_str(want, &what)), "{what}"),
            "csbk.target_address" | "target_address" => {
                assert_eq!(csbk().target().map(u64::from), want.as_u64(), "{what}")
            }
            "csbk.source_address" | "source_address" => {
                assert_eq!(csbk().source().map(u64::from), want.as_u64(), "{what}")
            }
            "sync" => assert_eq!(
                repr.sync().map(|s| s.0),
                sync_named(as_str(want, &what)),
                "{what}"
            ),
            "slot_type.data_type" => assert_eq!(
                data.map(|d| d.slot_type.data_type),
                Some(data_type_named(as_str(want, &what))),
                "{what}"
            ),
            "csbk_opcode" => assert_eq!(
                csbk().opcode_name(),
                Some(csbk_named(as_str(want, &what))),
                "{what}"
            ),
            "feature_set_id" => assert_eq!(u64::from(csbk().fid), as_u64(want, &what), "{what}"),
            "preamble_csbk_blocks_to_follow" => match csbk().body {
                CsbkBody::PreCsbk(p) => {
                    assert_eq!(u64::from(p.blocks_to_follow), as_u64(want, &what), "{what}")
                }
                other => panic!("{what}: {other:?}"),
            },
            "preamble_data_or_csbk" => match csbk().body {
                CsbkBody::PreCsbk(p) => {
                    let data_follows = match as_str(want, &what) {
                        "data_content_follows_preambles" => true,
                        "csbk_content_follows_preambles" => false,
                        other => panic!("{what}: {other}"),
                    };
                    assert_eq!(p.data_follows, data_follows, "{what}");
                }
                other => panic!("{what}: {other:?}"),
            },
            // BPTC: decode then encode gives back the 196 received info bits.
            "bptc_reencode_equals_original_196_bits"
            | "data.as_bits == info_bits_deinterleaved" => {
                assert!(as_bool(want, &what));
                let d = data.unwrap_or_else(|| panic!("{what}: not a data burst"));
                let (p, fixed) = payload.unwrap_or_else(|| panic!("{what}: BPTC failed"));
                assert_eq!(fixed, 0, "{what}: corrected bits");
                assert_eq!(bptc::encode(&p), d.info, "{what}");
            }
            "per_test_comment" => check_burst_comment(&what, x, &repr, payload),
            // EMB parity / slot-type Golay / sync all as sent (ok-dmrlib's FEC checks).
            "fec_ok" => {
                assert!(as_bool(want, &what));
                assert_eq!(repr.sync().map_or(0, |s| s.1), 0, "{what}: sync errors");
                match repr {
                    BurstRepr::Data(d) => {
                        assert_eq!(d.slot_type_corrected, 0, "{what}: golay");
                        if let Some((_, fixed)) = payload {
                            assert_eq!(fixed, 0, "{what}: bptc");
                        }
                    }
                    BurstRepr::Voice(v) => {
                        if let VoiceCentre::Embedded { corrected, .. } = v.centre {
                            assert_eq!(corrected, 0, "{what}: emb");
                        }
                    }
                    BurstRepr::Other(_) => panic!("{what}: reserved sync"),
                }
            }
            // parse → emit gives the same 33 octets.
            "as_bits_roundtrip" | "decode_encode_stable" => {
                assert!(as_bool(want, &what));
                assert_eq!(emit(), raw33, "{what}");
                assert_eq!(
                    BurstRepr::parse(&emit()).ok(),
                    Some(repr),
                    "{what}: re-parse"
                );
            }
            // A description of the burst: check the data type and PDU kind it names.
            "what" => check_burst_what(&what, as_str(want, &what), data, payload),
            // "The PR FILL and Data Sync pattern": a data sync and the idle PR FILL payload.
            // The slot type of this constant is a placeholder (vector notes), so not checked.
            "description" => {
                let s = as_str(want, &what);
                assert!(
                    s.starts_with("The PR FILL and Data Sync pattern"),
                    "{what}: {s}"
                );
                assert!(repr.sync().is_some_and(|s| s.0.is_data()), "{what}: sync");
                let (p, fixed) = payload.unwrap_or_else(|| {
                    // the placeholder slot type may name any data type: decode the info bits
                    // as BPTC directly
                    let d = data.unwrap_or_else(|| panic!("{what}: not a data burst"));
                    bptc::decode(&d.info).unwrap_or_else(|| panic!("{what}: BPTC"))
                });
                assert_eq!((hex::encode(p), fixed), (PR_FILL.to_string(), 0), "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        check_burst_computed(x, &repr, data, payload, e);
    }
}

fn bptc_payload(d: &DataBurst) -> Option<([u8; 12], usize)> {
    match d.slot_type.data_type {
        DataType::PiHeader
        | DataType::VoiceLcHeader
        | DataType::TerminatorWithLc
        | DataType::Csbk
        | DataType::MbcHeader
        | DataType::MbcContinuation
        | DataType::DataHeader
        | DataType::RateHalfData
        | DataType::Idle
        | DataType::Usbd => bptc::decode(&d.info),
        _ => None,
    }
}

fn check_burst_what(
    what: &str,
    s: &str,
    data: Option<DataBurst>,
    payload: Option<([u8; 12], usize)>,
) {
    let dt = data.map(|d| d.slot_type.data_type);
    let p = || payload.unwrap_or_else(|| panic!("{what}: no payload")).0;
    match s {
        "Voice LC header" => {
            assert_eq!(dt, Some(DataType::VoiceLcHeader), "{what}");
            let b = FullLc::parse_full_as(&p(), LcKind::Header, DialectChoice::Dmr)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(b.corrected, 0, "{what}");
        }
        "Data header (unconfirmed)" | "Data header (defined short data)" => {
            assert_eq!(dt, Some(DataType::DataHeader), "{what}");
            let h = DataHeader::parse(&p()).unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = if s.contains("unconfirmed") {
                Dpf::Unconfirmed
            } else {
                Dpf::DefinedShortData
            };
            assert_eq!(h.dpf, want, "{what}");
        }
        other => panic!("{what}: unknown description {other:?}"),
    }
}

/// ok-dmrlib's burst repr in a test comment, e.g. "MMDVM TS:2 SEQ: 2 [MsSourcedData]
/// [DataTypes.Rate12Data] [CC: 1] [RATE 1/2 DATA UNCONFIRMED] [DATA(12) 0005...]".
fn check_burst_comment(
    what: &str,
    x: &Vector,
    repr: &BurstRepr,
    payload: Option<([u8; 12], usize)>,
) {
    let s = as_str(&x.expect["per_test_comment"], what);
    let (prefix, tokens) = bracket_tokens(s);
    if !prefix.is_empty() {
        // "MMDVM TS:2 SEQ: 2": the slot and sequence of the DMRD container.
        let c = x
            .container
            .unwrap_or_else(|| panic!("{what}: no container"));
        let (slot, seq, _) = dmrd(c);
        let rest = prefix
            .strip_prefix("MMDVM")
            .unwrap_or_else(|| panic!("{what}: {prefix}"));
        let (ts, sq) = rest
            .split_once("SEQ:")
            .unwrap_or_else(|| panic!("{what}: {prefix}"));
        let ts = ts
            .trim()
            .strip_prefix("TS:")
            .unwrap_or_else(|| panic!("{what}: {prefix}"));
        assert_eq!(u64::from(slot), code_of(ts).unwrap(), "{what}: TS");
        assert_eq!(u64::from(seq), code_of(sq).unwrap(), "{what}: SEQ");
    }
    let data = match repr {
        BurstRepr::Data(d) => Some(*d),
        _ => None,
    };
    let emb = match repr {
        BurstRepr::Voice(v) => match v.centre {
            VoiceCentre::Embedded { emb, .. } => Some(emb),
            VoiceCentre::Sync { .. } => None,
        },
        _ => None,
    };
    let p = || payload.unwrap_or_else(|| panic!("{what}: no payload")).0;
    for t in tokens {
        let (k, v) = t
            .split_once(':')
            .map(|(k, v)| (k.trim(), v.trim()))
            .or_else(|| t.rsplit_once(' ').map(|(k, v)| (k.trim(), v.trim())))
            .unwrap_or((t, ""));
        match (k, v) {
            _ if !t.contains(' ') && !t.contains(':') && !t.starts_with("DataTypes.") => {
                assert_eq!(repr.sync().map(|s| s.0), sync_named(t), "{what}: {t}")
            }
            _ if t.starts_with("DataTypes.") => assert_eq!(
                data.map(|d| d.slot_type.data_type),
                Some(data_type_named(t)),
                "{what}: {t}"
            ),
            ("CC", v) => match (data, emb) {
                (Some(d), _) => assert_eq!(u64::from(d.slot_type.colour_code), code_of(v).unwrap()),
                (None, Some(e)) => assert_eq!(u64::from(e.colour_code), code_of(v).unwrap()),
                // A voice burst A has no colour code; ok-dmrlib prints its default 0.
                (None, None) => assert_eq!(v, "0", "{what}: {t}"),
            },
            // ok-dmrlib prints "Reserved" when the burst has no slot type (voice bursts).
            ("DATA TYPE", "Reserved") => assert!(data.is_none(), "{what}: {t}"),
            ("PI", "Header") => assert_eq!(
                data.map(|d| d.slot_type.data_type),
                Some(DataType::PiHeader),
                "{what}: {t}"
            ),
            ("PI", v) => {
                let e = emb.unwrap_or_else(|| panic!("{what}: no EMB"));
                assert_eq!(u64::from(e.pi), code_of(v).unwrap(), "{what}: {t}");
            }
            ("LCSS", v) => {
                let e = emb.unwrap_or_else(|| panic!("{what}: no EMB"));
                if e.lcss != Lcss::from_bits(code_of(v).unwrap() as u8) {
                    note_disagreement(x.id, "per_test_comment LCSS");
                }
            }
            // "EMB Parity 0091 VERIFIED": the 9 QR parity bits as sent, and they check.
            ("EMB Parity 0091", "VERIFIED") => {
                let BurstRepr::Voice(_) = repr else {
                    panic!("{what}: not a voice burst")
                };
                let word = burst::emb_bits(&x.bytes().try_into().unwrap());
                if word & 0x1FF != 0x0091 {
                    note_disagreement(x.id, "per_test_comment EMB Parity");
                }
                assert_eq!(
                    Emb::from_codeword(word).map(|e| e.1),
                    Some(0),
                    "{what}: {t}"
                );
            }
            ("RATE 1/2 DATA", "UNCONFIRMED") => assert_eq!(
                data.map(|d| d.slot_type.data_type),
                Some(DataType::RateHalfData),
                "{what}: {t}"
            ),
            ("DATA(12)", v) => assert_eq!(hex::encode(p()), v, "{what}: {t}"),
            // The ten data octets of the PI header (CRC not shown).
            ("Data(10)", v) => assert_eq!(hex::encode(&p()[..10]), v, "{what}: {t}"),
            _ => panic!("{what}: unknown token {t:?}"),
        }
    }
}

fn check_burst_computed(
    x: &Vector,
    repr: &BurstRepr,
    data: Option<DataBurst>,
    payload: Option<([u8; 12], usize)>,
    e: &Map<String, Value>,
) {
    let id = x.id;
    let idle = x.expect.contains_key("description");
    let name = match oracle(e) {
        Oracle::OkDmrlib => "ok-dmrlib",
        Oracle::Mmdvm => "MMDVMHost",
        Oracle::Epack => panic!("{id}: unexpected oracle"),
    };
    let mut en = Entry::new(format!("{id} {name}"), e);
    let what = en.what.clone();
    let p = || payload.unwrap_or_else(|| panic!("{what}: no payload")).0;
    if let Some(s) = en.get("sync") {
        assert_eq!(
            repr.sync().map(|s| s.0),
            sync_named(as_str(s, &what)),
            "{what}: sync"
        );
    }
    if let Some(st) = en.get("slot_type") {
        let st = st.as_object().expect("slot_type object");
        let mut s = Entry::new(format!("{what} slot_type"), st);
        if idle {
            // MMDVMHost's DMR_IDLE_DATA carries a placeholder slot type that DMRSlot.cpp
            // overwrites at run time (vector notes): nothing to compare.
            s.not_modelled(&["cc", "data_type", "golay_ok"]);
        } else {
            let d = data.unwrap_or_else(|| panic!("{what}: no slot type"));
            s.eq_u("cc", u64::from(d.slot_type.colour_code));
            let dt = s.want("data_type");
            match dt {
                Value::String(n) => assert_eq!(d.slot_type.data_type, data_type_named(n)),
                n => assert_eq!(u64::from(d.slot_type.data_type.bits()), as_u64(n, &what)),
            }
            if s.get("golay_ok").is_some() {
                s.seen.insert("golay_ok");
                assert!(
                    s.b("golay_ok") && d.slot_type_corrected == 0,
                    "{what}: golay"
                );
            }
        }
        s.finish();
    }
    for key in ["payload_hex", "bptc_payload"] {
        if let Some(h) = en.get(key) {
            assert_eq!(hex::encode(p()), as_str(h, &what), "{what}: {key}");
        }
    }
    if en.map.contains_key("csbk") {
        let block = p();
        let csbk = parse_csbk(id, &block);
        let c = en.obj("csbk");
        match oracle(e) {
            Oracle::OkDmrlib => check_okdmr_csbk(&format!("{what} csbk"), &csbk, &block, c),
            _ => check_mmdvm_csbk(&format!("{what} csbk"), &csbk, &block, c),
        }
    }
    if en.map.contains_key("data_header") {
        let block = p();
        let h = en.obj("data_header");
        match oracle(e) {
            Oracle::OkDmrlib => {
                check_okdmr_data_header(id, &format!("{what} data_header"), &block, h)
            }
            _ => check_mmdvm_data_header(&format!("{what} data_header"), &block, h),
        }
    }
    if en.map.contains_key("full_lc") {
        let block = p();
        let kind = match data.map(|d| d.slot_type.data_type) {
            Some(DataType::VoiceLcHeader) => LcKind::Header,
            Some(DataType::TerminatorWithLc) => LcKind::Terminator,
            other => panic!("{what}: full LC in {other:?}"),
        };
        let b = FullLc::parse_full_as(&block, kind, DialectChoice::Dmr)
            .unwrap_or_else(|e| panic!("{what}: full LC: {e}"));
        let f = en.obj("full_lc");
        match oracle(e) {
            Oracle::OkDmrlib => {
                let mut sub = Entry::new(format!("{what} full_lc"), f);
                check_okdmr_lc(&mut sub, &b.lc);
                // the 24 RS parity bits as sent (masked)
                let cs = sub.s("crc_or_cs");
                assert_eq!(
                    format!("{:08b}{:08b}{:08b}", block[9], block[10], block[11]),
                    cs,
                    "{what}: crc_or_cs"
                );
                sub.finish();
            }
            _ => check_mmdvm_lc(&format!("{what} full_lc"), &b.lc, b.corrected, &block, f),
        }
    }
    if let Some(ok) = en.get("pi_crc_ok") {
        // MMDVMHost checks the PI CRC of every DT 0 burst; the idle constant's placeholder slot
        // type says DT 0, and PR FILL is no PI header.
        let ok = as_bool(ok, &what);
        let block: [u8; 12] = p();
        assert_eq!(
            PiHeader::check(&block, DialectChoice::Dmr).is_some(),
            ok,
            "{what}: pi_crc_ok"
        );
    }
    if let Some(emb) = en.get("emb") {
        let emb = emb.as_object().expect("emb object");
        let ours = match repr {
            BurstRepr::Voice(v) => match v.centre {
                VoiceCentre::Embedded { emb, corrected, .. } => (emb, corrected),
                _ => panic!("{what}: no EMB"),
            },
            _ => panic!("{what}: no EMB"),
        };
        let mut s = Entry::new(format!("{what} emb"), emb);
        s.eq_u("cc", u64::from(ours.0.colour_code));
        s.eq_b("pi", ours.0.pi);
        match s.want("lcss") {
            // ok-dmrlib LCSS names
            Value::String(n) => {
                let l = match n.as_str() {
                    "SingleFragmentLCorCSBK" => Lcss::SingleFragment,
                    "FirstFragmentLC" => Lcss::FirstFragment,
                    "LastFragmentLCorCSBK" => Lcss::LastFragment,
                    "ContinuationFragmentLCorCSBK" => Lcss::Continuation,
                    other => panic!("{what}: LCSS {other}"),
                };
                assert_eq!(ours.0.lcss, l, "{what}: lcss");
            }
            n => assert_eq!(
                u64::from(ours.0.lcss.bits()),
                as_u64(n, &what),
                "{what}: lcss"
            ),
        }
        if s.get("parity_ok").is_some() {
            assert!(s.b("parity_ok") && ours.1 == 0, "{what}: parity");
        }
        s.finish();
    }
    // MMDVMHost harness note for a voice burst A ("no slot type/EMB"): check that it is one.
    if let Some(n) = en.get("note") {
        assert_eq!(as_str(n, &what), "voice burst with sync; no slot type/EMB");
        assert!(
            matches!(
                repr,
                BurstRepr::Voice(v) if matches!(v.centre, VoiceCentre::Sync { .. })
            ),
            "{what}: note"
        );
    }
    en.finish();
}

// ---------------------------------------------------------------------------------------------
// Link control

/// ok-dmrlib's full LC decode (flat in `full_lc`, `rs129`, `embedded_lc_128`).
fn check_okdmr_lc(en: &mut Entry, lc: &FullLc) {
    let what = en.what.clone();
    en.eq_b("protect_flag", lc.protect);
    let (flco, body) = flco_named(en.s("full_link_control_opcode"));
    assert_eq!((lc.flco, lc.flco_name()), (flco, body), "{what}: flco");
    assert_eq!(lc.fid, fid_named(en.s("feature_set_id")), "{what}: fid");
    let (mut group, mut target, mut source, mut so) = (None, None, None, None);
    let (mut ta_format, mut ta_length, mut ta_msb, mut ta_data) = (None, None, None, None);
    match lc.body {
        LcBody::GroupVoice {
            service_options,
            group: g,
            source: s,
        } => (group, source, so) = (Some(g), Some(s), Some(service_options)),
        LcBody::UnitToUnitVoice {
            service_options,
            target: t,
            source: s,
        } => (target, source, so) = (Some(t), Some(s), Some(service_options)),
        LcBody::TalkerAliasHeader {
            format,
            length,
            msb,
            data,
        } => {
            (ta_format, ta_length, ta_msb) = (Some(format), Some(length), Some(msb));
            ta_data = Some(data.to_vec());
        }
        LcBody::TalkerAliasBlock { data, .. } => ta_data = Some(data.to_vec()),
        other => panic!("{what}: no comparison written for {other:?}"),
    }
    match so {
        Some(so) => check_okdmr_service_options(en, u8::from(so)),
        None => en.eq_opt("service_options", None),
    }
    en.eq_opt("group_address", group.map(u64::from));
    en.eq_opt("target_address", target.map(u64::from));
    en.eq_opt("source_address", source.map(u64::from));
    // No GPS LC among the vectors: ok-dmrlib's defaults must stand.
    en.eq_opt("position_error", None);
    en.eq_opt("longitude", None);
    en.eq_opt("latitude", None);
    match ta_format {
        Some(f) => assert_eq!(f, ta_format_named(en.s("talker_alias_data_format"))),
        None => en.eq_opt("talker_alias_data_format", None),
    }
    en.eq_opt("talker_alias_data_length", ta_length.map(u64::from));
    en.eq_opt("talker_alias_data_msb", ta_msb.map(u64::from));
    // ok-dmrlib: the alias data octets in hex (header: bits 24-71, block: 16-71).
    let data = en.s("talker_alias_data");
    match ta_data {
        Some(d) => assert_eq!(hex::encode(d), data, "{what}: talker_alias_data"),
        None => assert_eq!(data, "", "{what}: talker_alias_data"),
    }
}

/// The MMDVMHost harness' full LC decode, and which RS masks it found valid.
fn check_mmdvm_lc(
    what: &str,
    lc: &FullLc,
    corrected: usize,
    block: &[u8; 12],
    f: &Map<String, Value>,
) {
    let mut en = Entry::new(what, f);
    en.eq_b("rs_ok", corrected == 0);
    en.eq_u("flco", u64::from(lc.flco));
    en.eq_u("fid", u64::from(lc.fid));
    en.eq_b("pf", lc.protect);
    let (so, dst, src) = match lc.body {
        LcBody::GroupVoice {
            service_options,
            group,
            source,
        } => (service_options, group, source),
        LcBody::UnitToUnitVoice {
            service_options,
            target,
            source,
        } => (service_options, target, source),
        other => panic!("{what}: {other:?}"),
    };
    en.eq_b("ovcm", so.ovcm);
    en.eq_u("src", u64::from(src));
    en.eq_u("dst", u64::from(dst));
    if let Some(h) = en.get("lc_bytes9") {
        assert_eq!(
            hex::encode(lc.emit9()),
            as_str(h, what),
            "{what}: lc_bytes9"
        );
        assert_eq!(
            hex::encode(&block[..9]),
            as_str(h, what),
            "{what}: lc_bytes9"
        );
    }
    en.finish();
}

/// `rs129_valid_masks` of the MMDVMHost harness: exactly those DMR masks decode without error.
fn check_rs_valid_masks(what: &str, block: &[u8; 12], list: &Value) {
    let list: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not a list"))
        .iter()
        .map(|m| as_str(m, what).to_uppercase())
        .collect();
    for kind in [LcKind::Header, LcKind::Terminator] {
        let m = kind.mask(Dialect::Dmr);
        let name = hex::encode_upper(m);
        let ok = matches!(
            FullLc::parse_full_as(block, kind, DialectChoice::Dmr),
            Ok(b) if b.corrected == 0
        );
        assert_eq!(ok, list.contains(&name), "{what}: mask {name} vs {list:?}");
    }
}

fn check_full_lc(x: &Vector) {
    let id = x.id;
    let block = x.block12();
    let b = FullLc::parse_full(&block, DialectChoice::Dmr)
        .unwrap_or_else(|e| panic!("{id}: full LC: {e}"));
    assert_eq!(b.corrected, 0, "{id}: RS corrections");
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            // dmr-kaitai's name for the FLCO-specific part: the FLCO it holds.
            "specific_data" => {
                let (flco, name) = flco_named(as_str(want, &what));
                assert_eq!((b.lc.flco, b.lc.flco_name()), (flco, name), "{what}");
            }
            "group_address" => match b.lc.body {
                LcBody::GroupVoice { group, .. } => {
                    assert_eq!(u64::from(group), as_u64(want, &what), "{what}")
                }
                other => panic!("{what}: {other:?}"),
            },
            "source_address" => match b.lc.body {
                LcBody::GroupVoice { source, .. } | LcBody::UnitToUnitVoice { source, .. } => {
                    assert_eq!(u64::from(source), as_u64(want, &what), "{what}")
                }
                other => panic!("{what}: {other:?}"),
            },
            // "504778 (b'PGx')": the three masked RS parity octets as sent; they check under
            // the voice LC header mask (the vector is a voice header).
            "crc_checksum" => {
                let s = as_str(want, &what);
                assert_eq!(
                    hex::encode(&block[9..]),
                    s.split(' ').next().unwrap(),
                    "{what}"
                );
                assert_eq!(b.kind, LcKind::Header, "{what}");
            }
            // "VLC: SLOT 2 TGT=91 SRC=3152944 FLCO=0x00 FID=0x00 SVC=0x00 Group Call": the slot
            // is the link's, not the block's; the rest is checked.
            "dsd_fme_output" => {
                let s = as_str(want, &what);
                for tok in s.split_whitespace() {
                    match tok.split_once('=') {
                        Some(("TGT", v)) => match b.lc.body {
                            LcBody::GroupVoice { group, .. } => {
                                assert_eq!(Some(u64::from(group)), code_of(v), "{what}: {tok}")
                            }
                            other => panic!("{what}: {other:?}"),
                        },
                        Some(("SRC", v)) => match b.lc.body {
                            LcBody::GroupVoice { source, .. } => {
                                assert_eq!(Some(u64::from(source)), code_of(v), "{what}: {tok}")
                            }
                            other => panic!("{what}: {other:?}"),
                        },
                        Some(("FLCO", v)) => {
                            assert_eq!(Some(u64::from(b.lc.flco)), code_of(v), "{what}: {tok}")
                        }
                        Some(("FID", v)) => {
                            assert_eq!(Some(u64::from(b.lc.fid)), code_of(v), "{what}: {tok}")
                        }
                        Some(("SVC", v)) => match b.lc.body {
                            LcBody::GroupVoice {
                                service_options, ..
                            } => assert_eq!(
                                Some(u64::from(u8::from(service_options))),
                                code_of(v),
                                "{what}: {tok}"
                            ),
                            other => panic!("{what}: {other:?}"),
                        },
                        // "VLC:" = voice LC header (mask 969696)
                        None if tok == "VLC:" => assert_eq!(b.kind, LcKind::Header, "{what}"),
                        // "SLOT 2": the timeslot it was heard on, not in the block.
                        None if tok == "SLOT" || tok == "2" => {}
                        None if tok == "Group" || tok == "Call" => {
                            assert!(matches!(b.lc.body, LcBody::GroupVoice { .. }), "{what}")
                        }
                        _ => panic!("{what}: unknown token {tok:?}"),
                    }
                }
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    // re-emit under the kind and dialect that checked
    let mut out = [0u8; 12];
    b.lc.emit_full(b.kind, b.dialect, &mut out);
    assert_eq!(out, block, "{id}: emit_full round trip");
    for e in &x.computed {
        match oracle(e) {
            Oracle::OkDmrlib => {
                let mut en = Entry::new(format!("{id} ok-dmrlib"), e);
                check_okdmr_lc(&mut en, &b.lc);
                let cs = en.s("crc_or_cs");
                assert_eq!(
                    format!("{:08b}{:08b}{:08b}", block[9], block[10], block[11]),
                    cs,
                    "{id}: crc_or_cs"
                );
                en.finish();
            }
            Oracle::Mmdvm => {
                let mut en = Entry::new(format!("{id} MMDVMHost"), e);
                let what = en.what.clone();
                check_mmdvm_lc(&what, &b.lc, b.corrected, &block, en.obj("full_lc"));
                check_rs_valid_masks(&what, &block, en.want("rs129_valid_masks"));
                en.finish();
            }
            Oracle::Epack => panic!("{id}: unexpected oracle"),
        }
    }
}

/// 72 LC bits + 5-bit checksum + 3 pad bits in 10 octets: (LC, checksum as sent).
fn lc77(id: &str, bytes: &[u8]) -> ([u8; 9], u8) {
    assert_eq!(bytes.len(), 10, "{id}: 77-bit LC is 10 octets");
    let lc: [u8; 9] = bytes[..9].try_into().unwrap();
    (lc, bytes[9] >> 3)
}

fn check_full_lc_77bit(x: &Vector) {
    let id = x.id;
    let (lc9, cs) = lc77(id, &x.bytes());
    let lc = FullLc::parse9(&lc9).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(lc.emit9(), lc9, "{id}: emit9 round trip");
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "flco" => {
                let (flco, name) = flco_named(as_str(want, &what));
                assert_eq!((lc.flco, lc.flco_name()), (flco, name), "{what}");
            }
            "feature_set_id" => assert_eq!(lc.fid, fid_named(as_str(want, &what)), "{what}"),
            "group_address" | "source_address" | "service_options" => {
                let LcBody::GroupVoice {
                    service_options,
                    group,
                    source,
                } = lc.body
                else {
                    panic!("{what}: {:?}", lc.body)
                };
                let ours = match key.as_str() {
                    "group_address" => u64::from(group),
                    "source_address" => u64::from(source),
                    _ => u64::from(u8::from(service_options)),
                };
                assert_eq!(ours, as_u64(want, &what), "{what}");
            }
            "has_cs5_checksum" => {
                assert!(as_bool(want, &what));
                assert_eq!(crc::checksum5(&lc9), cs, "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_full_lc_77bit_set(x: &Vector) {
    let id = x.id;
    let mut asm = embedded::TalkerAliasAssembler::new();
    let mut header = None;
    let mut text = None;
    for item in x.hex.split(',') {
        let (lc9, cs) = lc77(id, &unhex(item));
        assert_eq!(crc::checksum5(&lc9), cs, "{id}: checksum of {item}");
        let lc = FullLc::parse9(&lc9).unwrap_or_else(|e| panic!("{id}: {e}"));
        if let LcBody::TalkerAliasHeader {
            format,
            length,
            msb,
            ..
        } = lc.body
        {
            header = Some((format, length, msb));
        }
        if let Some(t) = asm.feed(&lc) {
            assert!(text.is_none(), "{id}: alias completed twice");
            text = Some(t);
        }
    }
    let (format, length, msb) = header.unwrap_or_else(|| panic!("{id}: no header"));
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "header.talker_alias_data_format" => {
                assert_eq!(format, ta_format_named(as_str(want, &what)), "{what}")
            }
            "header.talker_alias_data_length" => {
                assert_eq!(u64::from(length), as_u64(want, &what), "{what}")
            }
            "header.talker_alias_data_msb" => assert_eq!(msb, as_bool(want, &what), "{what}"),
            "assembled_text" => assert_eq!(text.as_deref(), want.as_str(), "{what}"),
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_embedded_lc_128(x: &Vector) {
    let id = x.id;
    let raw: [u8; embedded::RAW_LEN] = x.bytes().try_into().expect("16 octets");
    let (lc9, cs, fixed) =
        embedded::decode(&raw).unwrap_or_else(|| panic!("{id}: embedded LC does not decode"));
    assert_eq!(fixed, 0, "{id}: corrected bits");
    assert_eq!(embedded::encode(&lc9), raw, "{id}: encode round trip");
    let lc = FullLc::parse9(&lc9).unwrap_or_else(|e| panic!("{id}: {e}"));
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "flco" => {
                let (flco, name) = flco_named(as_str(want, &what));
                assert_eq!((lc.flco, lc.flco_name()), (flco, name), "{what}");
            }
            "fid" => assert_eq!(lc.fid, fid_named(as_str(want, &what)), "{what}"),
            "source_address" | "group_address" | "target_address" => {
                let (g, t, s) = match lc.body {
                    LcBody::GroupVoice { group, source, .. } => (Some(group), None, source),
                    LcBody::UnitToUnitVoice { target, source, .. } => (None, Some(target), source),
                    other => panic!("{what}: {other:?}"),
                };
                let ours = match key.as_str() {
                    "source_address" => Some(s),
                    "group_address" => g,
                    _ => t,
                };
                assert_eq!(ours.map(u64::from), want.as_u64(), "{what}");
            }
            "talker_alias_data_format" | "talker_alias_data_length" => {
                let LcBody::TalkerAliasHeader { format, length, .. } = lc.body else {
                    panic!("{what}: {:?}", lc.body)
                };
                if key == "talker_alias_data_format" {
                    assert_eq!(format, ta_format_named(as_str(want, &what)), "{what}");
                } else {
                    assert_eq!(u64::from(length), as_u64(want, &what), "{what}");
                }
            }
            "talker_alias_data_hex" => {
                let LcBody::TalkerAliasBlock { data, .. } = lc.body else {
                    panic!("{what}: {:?}", lc.body)
                };
                assert_eq!(hex::encode(data), as_str(want, &what), "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        let Oracle::OkDmrlib = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} ok-dmrlib"), e);
        // the 72 LC bits + 5 checksum bits, padded to 10 octets
        let padded = en.s("lc77_bits_hex_padded");
        assert_eq!(
            format!("{}{:02x}", hex::encode(lc9), cs << 3),
            padded,
            "{id}: lc77"
        );
        check_okdmr_lc(&mut en, &lc);
        let c = en.s("crc_or_cs");
        assert_eq!(format!("{cs:05b}"), c, "{id}: checksum");
        en.finish();
    }
}

fn check_rs129(x: &Vector) {
    let id = x.id;
    let block = x.block12();
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "rs_check_ok_with_mask" => {
                let kind = rs_mask_named(as_str(want, &what));
                let b = FullLc::parse_full_as(&block, kind, DialectChoice::Dmr)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(b.corrected, 0, "{what}");
                let mut out = [0u8; 12];
                b.lc.emit_full(kind, Dialect::Dmr, &mut out);
                assert_eq!(out, block, "{what}: emit_full");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    let b = FullLc::parse_full(&block, DialectChoice::Dmr).unwrap_or_else(|e| panic!("{id}: {e}"));
    for e in &x.computed {
        match oracle(e) {
            Oracle::OkDmrlib => {
                let mut en = Entry::new(format!("{id} ok-dmrlib"), e);
                check_okdmr_lc(&mut en, &b.lc);
                let cs = en.s("crc_or_cs");
                assert_eq!(
                    format!("{:08b}{:08b}{:08b}", block[9], block[10], block[11]),
                    cs,
                    "{id}: crc_or_cs"
                );
                en.finish();
            }
            Oracle::Mmdvm => {
                let mut en = Entry::new(format!("{id} MMDVMHost"), e);
                let what = en.what.clone();
                check_mmdvm_lc(&what, &b.lc, b.corrected, &block, en.obj("full_lc"));
                check_rs_valid_masks(&what, &block, en.want("rs129_valid_masks"));
                en.finish();
            }
            Oracle::Epack => panic!("{id}: unexpected oracle"),
        }
    }
}

fn check_rs129_unmasked(x: &Vector) {
    let id = x.id;
    let cw = x.block12();
    let lc: [u8; 9] = cw[..9].try_into().unwrap();
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "lc_9_bytes" => assert_eq!(hex::encode(lc), as_str(want, &what), "{what}"),
            "rs_parity_unmasked" => {
                assert_eq!(hex::encode(rs::encode(&lc)), as_str(want, &what), "{what}");
                assert_eq!(rs::decode(&cw), Some((lc, 0)), "{what}: decode");
            }
            // "cw[9..11] ^= mask24 (0x969696 VLC / 0x999999 TLC)": our masked blocks follow it.
            "masked_codeword_rule" => {
                let s = as_str(want, &what);
                assert!(
                    s.contains("0x969696 VLC") && s.contains("0x999999 TLC"),
                    "{what}"
                );
                for (kind, mask) in [(LcKind::Header, 0x96u8), (LcKind::Terminator, 0x99)] {
                    assert_eq!(kind.mask(Dialect::Dmr), [mask; 3], "{what}");
                    let mut masked = cw;
                    for b in &mut masked[9..] {
                        *b ^= mask;
                    }
                    let b = FullLc::parse_full_as(&masked, kind, DialectChoice::Dmr)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!((b.lc.emit9(), b.corrected), (lc, 0), "{what}");
                }
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_full_lc_pdt_remask(x: &Vector) {
    let id = x.id;
    let lc9: [u8; 9] = x.bytes().try_into().expect("9 octets");
    for (key, _) in x.expect {
        match key.as_str() {
            // "no value asserted by the source; see computed"
            "note" => {}
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    let lc = FullLc::parse9(&lc9).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert!(!x.computed.is_empty(), "{id}: nothing to check");
    for e in &x.computed {
        let Oracle::Epack = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} Epack"), e);
        for (key, kind, dialect) in [
            ("dmr_vlc_12", LcKind::Header, Dialect::Dmr),
            ("dmr_tlc_12", LcKind::Terminator, Dialect::Dmr),
            ("pdt_vlc_12", LcKind::Header, Dialect::Pdt),
            ("pdt_tlc_12", LcKind::Terminator, Dialect::Pdt),
        ] {
            let want = en.s(key);
            let mut out = [0u8; 12];
            lc.emit_full(kind, dialect, &mut out);
            assert_eq!(hex::encode(out), want, "{id}: {key}");
            let b = FullLc::parse_full(&out, DialectChoice::Auto)
                .unwrap_or_else(|e| panic!("{id}: {key}: {e}"));
            assert_eq!(
                (b.dialect, b.kind, b.corrected, b.lc.emit9()),
                (dialect, kind, 0, lc9),
                "{id}: {key} decodes back"
            );
        }
        en.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Data headers, PI header, data blocks

fn check_data_header(x: &Vector) {
    let id = x.id;
    let block = x.block12();
    let h = DataHeader::parse(&block).unwrap_or_else(|e| panic!("{id}: {e}"));
    let crc_ok = DataHeader::check(&block, DialectChoice::Dmr) == Some(Dialect::Dmr);
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "data_packet_format" => assert_eq!(h.dpf, dpf_named(as_str(want, &what)), "{what}"),
            "is_response_requested" => {
                assert_eq!(h.response_requested, as_bool(want, &what), "{what}")
            }
            "resynchronize_flag" => {
                let Body::Packet(p) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                let resync = match as_str(want, &what) {
                    "DoNotSync" => false,
                    "Sync" => true,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(p.resync, resync, "{what}");
            }
            // parse → emit gives the block back, CRC included.
            "crc_roundtrip" => {
                assert!(as_bool(want, &what));
                let mut out = [0xA5u8; 12];
                h.emit(Dialect::Dmr, &mut out);
                assert_eq!(out, block, "{what}");
            }
            "crc_ok" => assert_eq!(crc_ok, as_bool(want, &what), "{what}"),
            "defined_data_format" => {
                let Body::DefinedShort(d) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                let f = match as_str(want, &what) {
                    "BCD" => DefinedFormat::Bcd,
                    "Binary" => DefinedFormat::Binary,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(d.defined_format(), f, "{what}");
            }
            "sap_identifier" => assert_eq!(h.sap, sap_named(as_str(want, &what)), "{what}"),
            "sarq" => {
                let Body::DefinedShort(d) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                let sarq = match as_str(want, &what) {
                    "NotRequired" => false,
                    "Required" => true,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(d.sarq, sarq, "{what}");
            }
            "full_message_flag" => {
                let full = match as_str(want, &what) {
                    "FirstTryToCompletePacket" => true,
                    "SubsequentTriesToCompletePacket" => false,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(full_message(&h), Some(full), "{what}");
            }
            "appended_blocks" => {
                assert_eq!(appended_blocks(&h), Some(as_u64(want, &what)), "{what}")
            }
            // UDT format 5 = NMEA location (data_header::udt_format, docs/air-interface.md §5.1).
            "udt_format" => {
                let Body::Udt(u) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                let f = match as_str(want, &what) {
                    "LocationNMEA" => trunkgate::wire::data_header::udt_format::NMEA,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(u.format, f, "{what}");
            }
            // The UDT opcode: ok-dmrlib names it after the CSBKO it shares, C_UDTHU 0x1B
            // (docs/air-interface.md §3.3, 5.1).
            "udt_opcode" => {
                let Body::Udt(u) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                let op = match as_str(want, &what) {
                    "UnifiedDataTransportInboundHeader" => 0x1B,
                    "UnifiedDataTransportOutboundHeader" => 0x1A,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(u.opcode, op, "{what}");
            }
            "supplementary_flag" => {
                let Body::Udt(u) = h.body else {
                    panic!("{what}: {:?}", h.body)
                };
                // ok-dmrlib SupplementaryFlag: ShortData(0), SupplementaryData(1)
                let sf = match as_str(want, &what) {
                    "ShortData" => false,
                    "SupplementaryData" => true,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(u.supplementary, sf, "{what}");
            }
            // ok-dmrlib repr in a test comment: every bracketed token is checked.
            "repr_per_test_comment" => {
                let (_, tokens) = bracket_tokens(as_str(want, &what));
                let mut crc_invalid = false;
                for t in tokens {
                    match t.split_once(": ") {
                        Some(("SOURCE", v)) => {
                            assert_eq!(Some(u64::from(h.source)), code_of(v), "{what}: {t}")
                        }
                        Some(("DESTINATION", v)) => {
                            assert_eq!(Some(u64::from(h.destination)), code_of(v), "{what}: {t}")
                        }
                        Some(("APPENDED BLOCKS", v)) => {
                            assert_eq!(appended_blocks(&h), code_of(v), "{what}: {t}")
                        }
                        _ => match t {
                            "DataPacketFormats.ShortDataDefined" => {
                                assert_eq!(h.dpf, Dpf::DefinedShortData, "{what}: {t}")
                            }
                            "SAPIdentifier.ShortData" => assert_eq!(h.sap, 10, "{what}: {t}"),
                            "DefinedDataFormats.Binary" => {
                                let Body::DefinedShort(d) = h.body else {
                                    panic!("{what}: {:?}", h.body)
                                };
                                assert_eq!(d.defined_format(), DefinedFormat::Binary, "{what}");
                            }
                            "SARQ.NotRequired" => {
                                let Body::DefinedShort(d) = h.body else {
                                    panic!("{what}: {:?}", h.body)
                                };
                                assert!(!d.sarq, "{what}: {t}");
                            }
                            "TARGET IS GROUP" => assert!(h.group, "{what}: {t}"),
                            "FullMessageFlag.FirstTryToCompletePacket" => {
                                assert_eq!(full_message(&h), Some(true), "{what}: {t}")
                            }
                            "CRC INVALID" => crc_invalid = true,
                            _ => panic!("{what}: unknown token {t:?}"),
                        },
                    }
                }
                // ok-dmrlib prints "[CRC INVALID]" only when the CRC fails.
                assert_eq!(crc_ok, !crc_invalid, "{what}: CRC");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        match oracle(e) {
            Oracle::OkDmrlib => check_okdmr_data_header(id, &format!("{id} ok-dmrlib"), &block, e),
            Oracle::Mmdvm => {
                let mut en = Entry::new(format!("{id} MMDVMHost"), e);
                let what = en.what.clone();
                check_mmdvm_data_header(&what, &block, en.obj("data_header"));
                check_valid_masks(&what, &block, en.want("crc16_valid_masks"));
                en.finish();
            }
            Oracle::Epack => panic!("{id}: unexpected oracle"),
        }
    }
}

fn appended_blocks(h: &DataHeader) -> Option<u64> {
    match h.body {
        Body::DefinedShort(d) => Some(u64::from(d.appended_blocks)),
        Body::RawShort(r) => Some(u64::from(r.appended_blocks)),
        Body::Udt(u) => Some(u64::from(u.appended_blocks)),
        _ => None,
    }
}

fn full_message(h: &DataHeader) -> Option<bool> {
    match h.body {
        Body::Packet(p) => Some(p.full_message),
        Body::DefinedShort(d) => Some(d.full_message),
        Body::RawShort(r) => Some(r.full_message),
        _ => None,
    }
}

/// ok-dmrlib's data header decode: it prints every field for every DPF, with a default
/// (null, 0, "") where the DPF has no such field; [`Entry::eq_opt`] checks that.
fn check_okdmr_data_header(id: &str, what: &str, block: &[u8; 12], e: &Map<String, Value>) {
    let h = DataHeader::parse(block).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut en = Entry::new(what, e);
    assert_eq!(h.dpf, dpf_named(en.s("data_packet_format")), "{what}: dpf");
    en.eq_b("is_group", h.group);
    en.eq_b("is_response_requested", h.response_requested);
    en.eq_u("sap_identifier", u64::from(h.sap));
    en.eq_u("llid_destination", u64::from(h.destination));
    en.eq_u("llid_source", u64::from(h.source));
    let (packet, udt, short) = match h.body {
        Body::Packet(p) => (Some(p), None, None),
        Body::Udt(u) => (None, Some(u), None),
        Body::DefinedShort(d) => (None, None, Some(d)),
        other => panic!("{what}: no comparison written for {other:?}"),
    };
    en.eq_opt("pad_octet_count", packet.map(|p| u64::from(p.pad_octets)));
    en.eq_opt(
        "full_message_flag",
        full_message(&h).map(u64::from).filter(|_| udt.is_none()),
    );
    // ok-dmrlib's blocks_to_follow is the packet headers' field; short data headers count
    // appended blocks instead (checked below).
    en.eq_opt(
        "blocks_to_follow",
        packet.map(|p| u64::from(p.blocks_to_follow)),
    );
    // ok-dmrlib prints the resync flag for confirmed packets only.
    en.eq_opt(
        "resynchronize_flag",
        packet
            .filter(|_| h.dpf == Dpf::Confirmed)
            .map(|p| u64::from(p.resync)),
    );
    // N(S) exists in confirmed headers only; in unconfirmed ones those bits are reserved and
    // ok-dmrlib prints 0 (we keep them as received).
    en.eq_opt(
        "send_sequence_number",
        packet
            .filter(|_| h.dpf == Dpf::Confirmed)
            .map(|p| u64::from(p.send_seq)),
    );
    let fsn = en.obj("fragment_sequence_number");
    assert_eq!(
        fsn.get("value").and_then(Value::as_u64),
        Some(packet.map_or(0, |p| u64::from(p.fsn))),
        "{what}: fragment_sequence_number"
    );
    // no response header among the vectors: ok-dmrlib's defaults must stand
    en.eq_opt("response_class", None);
    en.eq_opt("response_type", None);
    en.eq_opt("response_status", None);
    // ok-dmrlib prints the UDT's 2-bit UAB field raw, which is the appended blocks minus one
    // (TS 102 361-4 via docs/air-interface.md §5.1); we store the count.
    en.eq_opt(
        "appended_blocks",
        match udt {
            Some(u) => Some(u64::from(u.appended_blocks) - 1),
            None => appended_blocks(&h),
        },
    );
    en.eq_opt(
        "defined_data_format",
        short.map(|d| u64::from(d.defined_format().bits())),
    );
    en.eq_opt("sarq", short.map(|d| u64::from(d.sarq)));
    // ok-dmrlib: the bit padding octet as a bit string, "" where the DPF has none
    let bp = en.s("bit_padding");
    match short {
        Some(d) => assert_eq!(format!("{:08b}", d.bit_padding), bp, "{what}: bit_padding"),
        None => assert_eq!(bp, "", "{what}: bit_padding"),
    }
    en.eq_opt("is_emergency", udt.map(|u| u64::from(u.emergency)));
    en.eq_opt("udt_option_flag", udt.map(|u| u64::from(u.option_flag)));
    en.eq_opt("pad_nibbles_count", udt.map(|u| u64::from(u.pad_nibbles)));
    en.eq_opt("udt_format", udt.map(|u| u64::from(u.format)));
    en.eq_opt("udt_opcode", udt.map(|u| u64::from(u.opcode)));
    en.eq_opt(
        "supplementary_flag",
        udt.map(|u| u64::from(u.supplementary)),
    );
    let ours = DataHeader::check(block, DialectChoice::Dmr).is_some();
    let theirs = en.b("crc_ok");
    if ours != theirs {
        note_disagreement(id, "ok-dmrlib data_header.crc_ok");
    }
    en.finish();
}

fn check_mmdvm_data_header(what: &str, block: &[u8; 12], m: &Map<String, Value>) {
    let h = DataHeader::parse(block).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut en = Entry::new(what, m);
    en.eq_b(
        "crc_ok",
        DataHeader::check(block, DialectChoice::Dmr).is_some(),
    );
    // Only CRC when it fails: MMDVMHost stops decoding there.
    if en.map.len() > 1 {
        en.eq_b("gi", h.group);
        en.eq_u("src", u64::from(h.source));
        en.eq_u("dst", u64::from(h.destination));
        en.eq_u("blocks", h.blocks_to_follow() as u64);
    }
    en.finish();
}

fn check_pi_header(x: &Vector) {
    let id = x.id;
    let block = x.block12();
    let pi = PiHeader::parse(&block).unwrap_or_else(|e| panic!("{id}: {e}"));
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "crc_ok" => assert_eq!(
                PiHeader::check(&block, DialectChoice::Dmr) == Some(Dialect::Dmr),
                as_bool(want, &what),
                "{what}"
            ),
            "as_bits_roundtrip" => {
                assert!(as_bool(want, &what));
                let mut out = [0xA5u8; pi_header::LEN];
                pi.emit(Dialect::Dmr, &mut out);
                assert_eq!(out, block, "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        let Oracle::Mmdvm = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} MMDVMHost"), e);
        let what = en.what.clone();
        check_valid_masks(&what, &block, en.want("crc16_valid_masks"));
        en.finish();
    }
}

fn check_rate34_confirmed_block(x: &Vector) {
    let id = x.id;
    let raw = x.bytes();
    let b = ConfirmedBlock::parse(&raw, Rate::ThreeQuarter).unwrap_or_else(|e| panic!("{id}: {e}"));
    let mask = Rate::ThreeQuarter.crc9_mask(Dialect::Dmr);
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            // Two ok-dmrlib code paths agree on the CRC-9; ours gives the same value and it is
            // the field as sent, read MSB first.
            "CRC9.calculate_from_parts(data, dbsn, Rate34DataContinuation) == Rate34Data.calculate_crc9()" =>
            {
                assert!(as_bool(want, &what));
                assert_eq!(b.expected_crc9(mask), b.crc9, "{what}");
                assert_eq!(
                    b.check(Rate::ThreeQuarter, DialectChoice::Dmr),
                    Some(Dialect::Dmr),
                    "{what}"
                );
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    for e in &x.computed {
        let Oracle::OkDmrlib = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} ok-dmrlib"), e);
        let d = en.s("data_hex");
        assert_eq!(hex::encode(b.data), d, "{id}: data_hex");
        en.eq_u("dbsn", u64::from(b.dbsn));
        en.eq_u("crc9_calculated", u64::from(b.expected_crc9(mask)));
        // ok-dmrlib's block class reads the 9-bit field LSB first (docs/air-interface.md §6.3): the
        // bit reversal of the field as sent, which is why its class check fails.
        let reversed = (0..9).fold(0u64, |r, i| (r << 1) | u64::from((b.crc9 >> i) & 1));
        en.eq_u("crc9_field_as_parsed_by_okdmrlib_lsb_first", reversed);
        en.eq_b("crc9_ok_per_okdmrlib_class", reversed == u64::from(b.crc9));
        en.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// BPTC, CRC and FEC primitives

fn check_bptc_196(x: &Vector) {
    let id = x.id;
    let info: [u8; bptc::INFO_LEN] = x.bytes().try_into().expect("25 octets");
    let (payload, fixed) = bptc::decode(&info).unwrap_or_else(|| panic!("{id}: BPTC"));
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            // go-dmr checks decode and encode both.
            "decoded_12_bytes" => {
                assert_eq!(
                    (hex::encode(payload), fixed),
                    (as_str(want, &what).into(), 0)
                );
                assert_eq!(bptc::encode(&payload), info, "{what}: encode");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    let csbk = parse_csbk(id, &payload);
    for e in &x.computed {
        match oracle(e) {
            Oracle::OkDmrlib => check_okdmr_csbk(&format!("{id} ok-dmrlib"), &csbk, &payload, e),
            Oracle::Mmdvm => {
                let mut en = Entry::new(format!("{id} MMDVMHost"), e);
                let what = en.what.clone();
                check_mmdvm_csbk(&what, &csbk, &payload, en.obj("csbk"));
                check_valid_masks(&what, &payload, en.want("crc16_valid_masks"));
                en.finish();
            }
            Oracle::Epack => panic!("{id}: unexpected oracle"),
        }
    }
}

fn check_crc16(x: &Vector) {
    let id = x.id;
    let data = x.bytes();
    let mut mask = None;
    for (key, want) in x.expect {
        if key == "mask" {
            mask = Some(crc16_mask_named(as_str(want, &format!("{id} mask"))));
        }
    }
    let mask = mask.unwrap_or_else(|| panic!("{id}: no mask"));
    let crc = crc::crc16_ccitt(&data) ^ mask;
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "crc16" => assert_eq!(
                format!("{crc:04x}"),
                as_str(want, &what).to_lowercase(),
                "{what}"
            ),
            // used above to pick the mask
            "mask" => {}
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    let mut block = [0u8; 12];
    block[..10].copy_from_slice(&data);
    crc::seal_ccitt_block(&mut block, mask);
    for e in &x.computed {
        let Oracle::Mmdvm = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} MMDVMHost"), e);
        let what = en.what.clone();
        check_valid_masks(&what, &block, en.want("crc16_valid_masks"));
        en.finish();
    }
}

fn check_crc16_pdt_remask(x: &Vector) {
    let id = x.id;
    let data = x.bytes();
    for (key, _) in x.expect {
        match key.as_str() {
            // "no value asserted by the source; see computed"
            "note" => {}
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(!x.computed.is_empty(), "{id}: nothing to check");
    let crc = crc::crc16_ccitt(&data);
    for e in &x.computed {
        let Oracle::Epack = oracle(e) else {
            panic!("{id}: unexpected oracle")
        };
        let mut en = Entry::new(format!("{id} Epack"), e);
        for (key, mask) in [
            ("crc16_unmasked", 0),
            ("dmr_csbk", DMR_MASKS.csbk),
            ("pdt_csbk", PDT_MASKS.csbk),
            ("dmr_pi", DMR_MASKS.pi_header),
            ("pdt_pi", PDT_MASKS.pi_header),
            ("dmr_data_hdr", DMR_MASKS.data_header),
            ("pdt_data_hdr", PDT_MASKS.data_header),
            ("dmr_mbc", DMR_MASKS.mbc_header),
            ("pdt_mbc", PDT_MASKS.mbc_header),
        ] {
            let want = en.s(key).to_lowercase();
            assert_eq!(format!("{:04x}", crc ^ mask), want, "{id}: {key}");
        }
        en.finish();
    }
}

fn check_crc32(x: &Vector) {
    let id = x.id;
    let data = x.bytes();
    let octets = crc::crc32_octets(&data);
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "crc32_bytes_as_in_last_block" => {
                assert_eq!(hex::encode(octets), as_str(want, &what), "{what}")
            }
            // "int.from_bytes(crc32_bytes, 'little') == CRC32.calculate(data)": the octets are
            // the CRC least significant first.
            "interpretation" => {
                assert!(as_str(want, &what).contains("'little'"), "{what}");
                assert_eq!(u32::from_le_bytes(octets), crc::crc32(&data), "{what}");
            }
            // A description of the payload. "... (IP/UDP, port N)": the data is an IPv4 packet
            // (version 4, protocol 17 at octet 9, RFC 791) whose UDP destination port (octets
            // 22-23 after a 20-octet header, RFC 768) is N. "short data defined payload" names
            // nothing the octets alone can show: the DPF is in the header, not given here.
            "what" => {
                let s = as_str(want, &what);
                if let Some(port) = s.split("port ").nth(1) {
                    let port: u16 = port.trim_end_matches(')').parse().expect("port");
                    assert_eq!((data[0] >> 4, data[9]), (4, 17), "{what}: IPv4/UDP");
                    let ihl = usize::from(data[0] & 0x0F) * 4;
                    let dst = u16::from_be_bytes([data[ihl + 2], data[ihl + 3]]);
                    assert_eq!(dst, port, "{what}: UDP port");
                } else {
                    assert_eq!(s, "short data defined payload", "{what}: new description");
                }
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_crc9(x: &Vector) {
    let id = x.id;
    let data = x.bytes();
    let get = |k: &str| x.expect.get(k);
    let dbsn = as_u64(get("serial_number_dbsn").expect("dbsn"), id) as u8;
    // For the last block of a packet the CRC-9 also covers the CRC-32 octets appended to it
    // (docs/air-interface.md §2.7); the source gives them as they stand in the block.
    let mut covered = data.clone();
    if let Some(c) = get("crc32_appended") {
        covered.extend(unhex(as_str(c, id)));
    }
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "serial_number_dbsn" | "crc32_appended" => {}
            "mask" => {
                let s = as_str(want, &what);
                let (name, value) = s.split_once(' ').unwrap_or((s, ""));
                assert_eq!(name, "Rate34DataContinuation", "{what}");
                assert_eq!(
                    Some(u64::from(Rate::ThreeQuarter.crc9_mask(Dialect::Dmr))),
                    code_of(value),
                    "{what}"
                );
            }
            "crc9" => assert_eq!(
                u64::from(crc::crc9(
                    &covered,
                    dbsn,
                    Rate::ThreeQuarter.crc9_mask(Dialect::Dmr)
                )),
                as_u64(want, &what),
                "{what}"
            ),
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_crc8_bits(x: &Vector) {
    let id = x.id;
    assert_eq!(x.hex.len(), 36, "{id}: 28 + 8 bits");
    let word = bits_of(x.hex);
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "crc8_of_first_28_bits == last_8_bits" => assert_eq!(
                crc::crc8_short_lc((word >> 8) as u32) == (word & 0xFF) as u8,
                as_bool(want, &what),
                "{what}"
            ),
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_slot_type_bits(x: &Vector) {
    let id = x.id;
    let word = bits_of(x.hex) as u32;
    let (st, fixed) = SlotType::from_codeword(word).unwrap_or_else(|| panic!("{id}: golay"));
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            // "[DataTypes.CSBK] [CC: 5]"
            "repr" => {
                let (_, tokens) = bracket_tokens(as_str(want, &what));
                for t in tokens {
                    match t.split_once(": ") {
                        Some(("CC", v)) => {
                            assert_eq!(Some(u64::from(st.colour_code)), code_of(v), "{what}")
                        }
                        None if t.starts_with("DataTypes.") => {
                            assert_eq!(st.data_type, data_type_named(t), "{what}")
                        }
                        _ => panic!("{what}: unknown token {t:?}"),
                    }
                }
            }
            "fec_parity_ok" => {
                assert_eq!(fixed == 0, as_bool(want, &what), "{what}");
                assert_eq!(st.codeword(), word, "{what}: re-encode");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_golay_bits(x: &Vector) {
    let id = x.id;
    assert_eq!(x.hex.len(), 20, "{id}: 20 bits");
    let word = bits_of(x.hex) as u32;
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "valid_codeword" => assert_eq!(
                golay::decode(word).map(|d| d.1) == Some(0),
                as_bool(want, &what),
                "{what}"
            ),
            "generate(first 8 bits) == codeword" => assert_eq!(
                golay::encode((word >> 12) as u8) == word,
                as_bool(want, &what),
                "{what}"
            ),
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_hamming15113_bits(x: &Vector) {
    let id = x.id;
    assert_eq!(x.hex.len(), 15, "{id}: 15 bits");
    let word = bits_of(x.hex) as u16;
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "valid_codeword" => {
                let ok = hamming::syndrome_15_11(word) == 0;
                assert_eq!(ok, as_bool(want, &what), "{what}");
                let (d, fixed) = hamming::decode_15_11(word).expect("decodes");
                assert_eq!((hamming::encode_15_11(d), fixed), (word, 0), "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_hamming1393_bits(x: &Vector) {
    let id = x.id;
    assert_eq!(x.hex.len(), 13, "{id}: 13 bits");
    let word = bits_of(x.hex) as u16;
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "valid_codeword" => {
                let ok = hamming::syndrome_13_9(word) == 0;
                assert_eq!(ok, as_bool(want, &what), "{what}");
                let (d, fixed) = hamming::decode_13_9(word).expect("decodes");
                assert_eq!((hamming::encode_13_9(d), fixed), (word, 0), "{what}");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

fn check_emb_bits(x: &Vector) {
    let id = x.id;
    assert_eq!(x.hex.len(), 16, "{id}: 16 bits");
    let word = bits_of(x.hex) as u16;
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "emb_parity_ok" => {
                assert_eq!(
                    qr::decode(word).map(|d| d.1) == Some(0),
                    as_bool(want, &what),
                    "{what}"
                );
                let (emb, fixed) = Emb::from_codeword(word).expect("decodes");
                assert_eq!((emb.codeword(), fixed), (word, 0), "{what}: re-encode");
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

// ---------------------------------------------------------------------------------------------
// LRRP

fn check_lrrp(x: &Vector) {
    let id = x.id;
    let raw = x.bytes();
    let l = Lrrp::parse(&raw).unwrap_or_else(|e| panic!("{id}: {e}"));
    // The source compares an XML rendering verbatim; we check the fields that rendering names.
    for (key, want) in x.expect {
        let what = format!("{id} expect {key}");
        match key.as_str() {
            "doc" => {
                let doc = match as_str(want, &what) {
                    "LRRP_ImmediateLocationReport_NCDT" => DocType::ImmediateLocationReport,
                    "LRRP_TriggeredLocationRequest_NCDT" => DocType::TriggeredLocationRequest,
                    "LRRP_TriggeredLocationReport_NCDT" => DocType::TriggeredLocationReport,
                    other => panic!("{what}: {other}"),
                };
                assert_eq!(l.doc, doc, "{what}");
                // NCDT: the odd document IDs (lrrp::DocType::ncdt_id)
                assert_eq!(l.doc_id, doc.ncdt_id(), "{what}: NCDT id");
            }
            "request-id" => assert_eq!(
                l.request_id.as_deref().map(hex::encode_upper),
                Some(as_str(want, &what).to_string()),
                "{what}"
            ),
            "info-time" => {
                let t = l.info_time.unwrap_or_else(|| panic!("{what}: none"));
                assert_eq!(
                    format!(
                        "{:04}{:02}{:02}{:02}{:02}{:02}",
                        t.year, t.month, t.day, t.hour, t.minute, t.second
                    ),
                    as_str(want, &what),
                    "{what}"
                );
            }
            "lat" | "long" | "radius" | "speed-hor" => {
                let p = l.position;
                let ours = match key.as_str() {
                    "lat" => p.map(|p| p.latitude),
                    "long" => p.map(|p| p.longitude),
                    "radius" => p.and_then(|p| p.radius),
                    _ => l.speed_hor,
                }
                .unwrap_or_else(|| panic!("{what}: none"));
                let theirs = want
                    .as_f64()
                    .unwrap_or_else(|| panic!("{what}: not a number"));
                // The XML rendering rounds to the decimals it prints (0.77 for radius
                // 99/128): agree within half a unit of its last digit.
                let printed = want.to_string();
                let decimals = printed.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
                let tol = 0.5 * 10f64.powi(-decimals) + 1e-12;
                assert!((ours - theirs).abs() <= tol, "{what}: {ours} vs {theirs}");
            }
            "periodic-trigger.interval" => {
                assert_eq!(l.periodic_interval.map(u64::from), want.as_u64(), "{what}")
            }
            other => panic!("{id}: unknown expect key {other:?}"),
        }
    }
    assert_eq!(l.to_bytes(), raw, "{id}: parse → emit round trip");
    assert!(x.computed.is_empty(), "{id}: computed not handled");
}

// ---------------------------------------------------------------------------------------------
// Fixtures: captured bursts, parsed, re-emitted and compared

/// Read a fixture: `#` comment lines (source, commit, meaning), then hex with any spacing.
fn read_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let header: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert!(
        header.iter().any(|l| l.contains("source:"))
            && header.iter().any(|l| l.contains("commit:")),
        "{name}: header must name source and commit"
    );
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .collect();
    unhex(&hex)
}

/// Burst → BPTC → PDU, then PDU → BPTC → burst; every stage must give back its input.
fn fixture_round_trip(name: &str, want_dt: DataType) -> [u8; 12] {
    let raw = read_fixture(name);
    // the input is exactly one burst
    assert_eq!(raw.len(), burst::LEN, "{name}: one burst");
    let repr = BurstRepr::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    let BurstRepr::Data(d) = repr else {
        panic!("{name}: not a data burst")
    };
    assert_eq!(d.slot_type.data_type, want_dt, "{name}: data type");
    assert_eq!((d.sync_errors, d.slot_type_corrected), (0, 0), "{name}");
    let (payload, fixed) = bptc::decode(&d.info).unwrap_or_else(|| panic!("{name}: BPTC"));
    assert_eq!(fixed, 0, "{name}: BPTC corrections");
    let mut pdu = [0xA5u8; 12];
    match want_dt {
        DataType::Csbk => {
            let c = Csbk::parse(&payload).unwrap_or_else(|e| panic!("{name}: {e}"));
            let dialect = Csbk::check(&payload, DialectChoice::Auto).expect("CRC checks");
            c.emit(dialect, &mut pdu);
        }
        DataType::VoiceLcHeader => {
            let b = FullLc::parse_full_as(&payload, LcKind::Header, DialectChoice::Auto)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            b.lc.emit_full(b.kind, b.dialect, &mut pdu);
        }
        DataType::DataHeader => {
            let (h, dialect) = DataHeader::parse_checked(&payload, DialectChoice::Auto)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            h.emit(dialect, &mut pdu);
        }
        other => panic!("{name}: no round trip for {other:?}"),
    }
    assert_eq!(pdu, payload, "{name}: PDU re-emitted");
    let mut out = [0x5Au8; burst::LEN];
    DataBurst::new(d.sync, d.slot_type.colour_code, want_dt, bptc::encode(&pdu)).emit(&mut out);
    assert_eq!(out.as_slice(), raw.as_slice(), "{name}: burst re-emitted");
    payload
}

#[test]
fn fixture_csbk_preamble() {
    let p = fixture_round_trip("csbk_preamble.hex", DataType::Csbk);
    let c = Csbk::parse(&p).unwrap();
    assert_eq!((c.source(), c.target()), (Some(2_308_155), Some(2301)));
}

#[test]
fn fixture_full_lc_voice_header() {
    let p = fixture_round_trip("full_lc_voice_header.hex", DataType::VoiceLcHeader);
    let lc = FullLc::parse(&p).unwrap();
    assert!(matches!(
        lc.body,
        LcBody::UnitToUnitVoice {
            target: 9990,
            source: 3_191_868,
            ..
        }
    ));
}

#[test]
fn fixture_data_header_defined_short() {
    let p = fixture_round_trip("data_header_defined_short.hex", DataType::DataHeader);
    assert_eq!(DataHeader::parse(&p).unwrap().dpf, Dpf::DefinedShortData);
}

// ---------------------------------------------------------------------------------------------
// The harness itself: what must make it fail does

fn fails(v: Value) -> bool {
    let id = v["id"].as_str().unwrap_or("synthetic").to_string();
    catch_unwind(AssertUnwindSafe(|| check_vector(&id, &v))).is_err()
}

fn crc16_vector(expect: Value) -> Value {
    serde_json::json!({
        "id": "synthetic-crc16",
        "kind": "crc16",
        "hex": "4da323383b23383b0560",
        "expect": expect,
    })
}

#[test]
fn harness_passes_a_good_vector() {
    // okdmr-crc16-8040 as in the file
    let v = crc16_vector(serde_json::json!({"crc16": "8040", "mask": "DataHeader 0xCCCC"}));
    assert!(!fails(v));
}

#[test]
fn harness_fails_on_an_unknown_expect_key() {
    let v = crc16_vector(serde_json::json!({
        "crc16": "8040", "mask": "DataHeader 0xCCCC", "new_key": true
    }));
    assert!(fails(v));
}

#[test]
fn harness_fails_on_a_wrong_expected_value() {
    let v = crc16_vector(serde_json::json!({"crc16": "8041", "mask": "DataHeader 0xCCCC"}));
    assert!(fails(v));
}

#[test]
fn harness_fails_on_an_unknown_kind() {
    let mut v = crc16_vector(serde_json::json!({"crc16": "8040", "mask": "DataHeader 0xCCCC"}));
    v["kind"] = "crc17".into();
    assert!(fails(v));
}

#[test]
fn harness_fails_on_an_unnamed_oracle_field() {
    let mut v = crc16_vector(serde_json::json!({"crc16": "8040", "mask": "DataHeader 0xCCCC"}));
    v["computed"] = serde_json::json!([{
        "computed_by": "g4klx/MMDVMHost@b5b119f (C++ DMR classes compiled into a harness)",
        "crc16_valid_masks": ["CCCC"],
        "new_field": 1,
    }]);
    assert!(fails(v.clone()));
    v["computed"][0]
        .as_object_mut()
        .unwrap()
        .remove("new_field");
    assert!(!fails(v.clone()));
    // and a wrong oracle value fails
    v["computed"][0]["crc16_valid_masks"] = serde_json::json!(["A5A5"]);
    assert!(fails(v));
}
