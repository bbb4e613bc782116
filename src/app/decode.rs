//! `trunkgate decode`: hex frames in, one JSON object a line out.
//!
//! Each line of input (or each argument) is one frame in hex; whitespace and `:` between
//! octets are ignored. Every frame yields exactly one JSON line; a frame that fails gets an
//! `"error"` naming the stage and the field, and the batch goes on. With `--reassemble` the
//! frames also feed the stateful receivers (data PDU, MBC, embedded LC, talker alias), and
//! each completed message is printed as a line of its own after the frame that completed it.
//!
//! The JSON is built from the wire layer's own `Serialize` impls; this module only arranges
//! them into the shape README.md documents.

use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};

use crate::wire::burst::{BurstRepr, DataType, Emb};
use crate::wire::csbk::mbc::MbcAssembler;
use crate::wire::csbk::{Channel, Csbk};
use crate::wire::data::{BlockKind, DataAssembler};
use crate::wire::data_header::DataHeader;
use crate::wire::embedded::{EmbeddedLcAssembler, TalkerAliasAssembler};
use crate::wire::fec::bptc;
use crate::wire::lc::{FullLc, LcKind};
use crate::wire::lrrp::Lrrp;
use crate::wire::pi_header::PiHeader;
use crate::wire::pipeline::{DecodeError, DecodedBurst, Pdu, Stage, decode_burst};
use crate::wire::{Dialect, DialectChoice, sdata};

/// What the input lines are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A 33-octet burst.
    Burst,
    /// A 12-octet CSBK after BPTC.
    Csbk,
    /// A 12-octet full LC (9 octets + RS(12,9) parity, header or terminator mask).
    Lc,
    /// A 12-octet data header after BPTC.
    DataHeader,
    /// An LRRP document.
    Lrrp,
}

/// `trunkgate decode` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// What each frame is.
    #[arg(long, value_enum, default_value = "burst")]
    pub kind: Kind,
    /// Which mask set to accept: dmr, pdt or auto (tries both, reports which one checked).
    #[arg(long, default_value = "auto")]
    pub dialect: DialectChoice,
    /// Feed consecutive frames to the reassemblers and print each completed message.
    #[arg(long)]
    pub reassemble: bool,
    /// Frames in hex; read from standard input (one a line) when none is given.
    pub frames: Vec<String>,
}

/// Run the command over its arguments or standard input; I/O errors end it.
pub fn run(args: &DecodeArgs) -> std::io::Result<()> {
    let mut decoder = Decoder::new(args.kind, args.dialect, args.reassemble);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let emit = |values: Vec<Value>, out: &mut dyn Write| -> std::io::Result<()> {
        for v in values {
            // Talker aliases and texts come from the air: no raw control characters.
            writeln!(out, "{}", super::ctl::escape_json(&v.to_string()))?;
        }
        Ok(())
    };
    if args.frames.is_empty() {
        // Lines are read as octets: a line that is not UTF-8 text is reported like any other
        // bad frame (an `"error"` naming the line) and the batch goes on.
        let mut input = std::io::stdin().lock();
        let mut raw = Vec::new();
        let mut number = 0u64;
        loop {
            raw.clear();
            if input.read_until(b'\n', &mut raw)? == 0 {
                break;
            }
            number += 1;
            let Ok(line) = std::str::from_utf8(&raw) else {
                let error = format!("input: line {number} is not UTF-8 text");
                emit(vec![decoder.error(error)], &mut out)?;
                continue;
            };
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            emit(decoder.line(line.trim_end_matches(['\n', '\r'])), &mut out)?;
        }
    } else {
        for frame in &args.frames {
            emit(decoder.line(frame), &mut out)?;
        }
    }
    out.flush()
}

/// The decoder behind the command: stateless per frame, plus the reassemblers.
pub struct Decoder {
    kind: Kind,
    choice: DialectChoice,
    reassemble: bool,
    data: DataAssembler,
    mbc: MbcAssembler,
    embedded: EmbeddedLcAssembler,
    alias: TalkerAliasAssembler,
}

impl Decoder {
    /// A decoder for frames of `kind` under `choice`.
    pub fn new(kind: Kind, choice: DialectChoice, reassemble: bool) -> Decoder {
        let gps_dialect = match choice {
            DialectChoice::Dmr => Dialect::Dmr,
            DialectChoice::Pdt | DialectChoice::Auto => Dialect::Pdt,
        };
        Decoder {
            kind,
            choice,
            reassemble,
            data: DataAssembler::new(choice),
            mbc: MbcAssembler::new(choice, Channel::Conventional),
            embedded: EmbeddedLcAssembler::new(gps_dialect),
            alias: TalkerAliasAssembler::new(),
        }
    }

    /// Decode one line: the frame's object, then any completed messages.
    pub fn line(&mut self, line: &str) -> Vec<Value> {
        let bytes = match parse_hex(line) {
            Ok(bytes) => bytes,
            Err(e) => return vec![json!({ "kind": self.kind_name(), "error": e })],
        };
        let mut completed = Vec::new();
        let frame = match self.kind {
            Kind::Burst => self.burst(&bytes, &mut completed),
            Kind::Csbk => self.csbk(&bytes),
            Kind::Lc => self.lc(&bytes),
            Kind::DataHeader => self.data_header(&bytes, &mut completed),
            Kind::Lrrp => lrrp(&bytes),
        };
        let mut values = vec![frame];
        values.extend(completed);
        values
    }

    /// The line printed for input that is not a frame at all (e.g. not UTF-8 text).
    pub fn error(&self, error: String) -> Value {
        json!({ "kind": self.kind_name(), "error": error })
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Burst => "burst",
            Kind::Csbk => "csbk",
            Kind::Lc => "lc",
            Kind::DataHeader => "data_header",
            Kind::Lrrp => "lrrp",
        }
    }

    fn burst(&mut self, bytes: &[u8], completed: &mut Vec<Value>) -> Value {
        match decode_burst(bytes, self.choice) {
            Ok(decoded) => self.decoded(&decoded, completed),
            Err(e) => self.failed(bytes, e),
        }
    }

    fn decoded(&mut self, d: &DecodedBurst, completed: &mut Vec<Value>) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!("burst"));
        obj.insert("sync".into(), json!(d.sync.map(|(s, _)| s.name())));
        if let Some((sync, errors)) = d.sync {
            obj.insert("sync_errors".into(), json!(errors));
            let _ = sync;
        }
        obj.insert(
            "slot_type".into(),
            match d.slot_type {
                Some((st, fixed)) => json!({
                    "colour_code": st.colour_code,
                    "data_type": st.data_type.name(),
                    "corrected_bits": fixed,
                }),
                None => Value::Null,
            },
        );
        obj.insert("dialect".into(), json!(d.dialect));
        obj.insert(
            "fec".into(),
            json!({ "corrected_bits": d.fec_corrected, "ok": true }),
        );
        obj.insert("crc_ok".into(), json!(d.crc_ok));
        match &d.pdu {
            Pdu::Csbk(c) => {
                obj.insert("csbk".into(), to_value(c));
            }
            Pdu::MbcHeader(block) => {
                obj.insert("mbc_header".into(), csbk_fields(block));
                if self.reassemble {
                    let _ = self.mbc.feed_header(block);
                }
            }
            Pdu::MbcContinuation(block) => {
                obj.insert("block".into(), json!(hex::encode(block)));
                if self.reassemble {
                    match self.mbc.feed_continuation(block) {
                        Ok(Some((mbc, dialect))) => completed.push(json!({
                            "kind": "mbc",
                            "dialect": dialect,
                            "header": to_value(&mbc.header),
                            "channel": mbc.channel().map(|c| json!({
                                "lpcn": c.lpcn,
                                "colour_code": c.colour_code,
                                "tx_hz": c.tx_hz(),
                                "rx_hz": c.rx_hz(),
                            })),
                        })),
                        Ok(None) => {}
                        Err(e) => completed.push(json!({ "kind": "mbc", "error": e.to_string() })),
                    }
                }
            }
            Pdu::FullLc(block) => {
                let mut lc = to_value(&block.lc);
                if let Value::Object(m) = &mut lc {
                    m.insert("lc_kind".into(), json!(lc_kind_name(block.kind)));
                }
                obj.insert("lc".into(), lc);
                if self.reassemble
                    && let Some(alias) = self.alias.feed(&block.lc)
                {
                    completed.push(json!({ "kind": "talker_alias", "alias": alias }));
                }
            }
            Pdu::PiHeader(pi) => {
                obj.insert("pi_header".into(), to_value(pi));
            }
            Pdu::DataHeader { header, block } => {
                obj.insert("data_header".into(), to_value(header));
                if self.reassemble {
                    self.feed_data(BlockKind::Header, block, completed);
                }
            }
            Pdu::DataBlock { rate, octets } => {
                let len = rate.block_len();
                obj.insert(
                    "data_block".into(),
                    json!({ "rate": rate, "octets": hex::encode(&octets[..len]) }),
                );
                if self.reassemble {
                    self.feed_data(BlockKind::Data(*rate), &octets[..len], completed);
                }
            }
            Pdu::Idle => {}
            Pdu::Other { data_type, block } => {
                obj.insert(
                    "block".into(),
                    json!({ "data_type": data_type.name(), "octets": hex::encode(block) }),
                );
            }
            Pdu::Voice { emb, fragment } => {
                if let Some(emb) = emb {
                    obj.insert("emb".into(), emb_json(emb, true));
                    obj.insert("fragment".into(), json!(format!("{fragment:08x}")));
                    if self.reassemble
                        && let Some(lc) = self.embedded.feed(emb.lcss, *fragment)
                    {
                        completed.push(json!({ "kind": "embedded_lc", "lc": to_value(&lc) }));
                        if let Some(alias) = self.alias.feed(&lc) {
                            completed.push(json!({ "kind": "talker_alias", "alias": alias }));
                        }
                    }
                } else if self.reassemble {
                    // Burst A of a superframe: an embedded LC in progress starts over.
                    self.embedded.reset();
                }
                obj.insert("voice".into(), json!(true));
            }
            Pdu::Reserved => {}
        }
        Value::Object(obj)
    }

    fn feed_data(&mut self, kind: BlockKind, octets: &[u8], completed: &mut Vec<Value>) {
        match self.data.feed(kind, octets) {
            Ok(Some(pdu)) => completed.push(json!({
                "kind": "message",
                "dialect": pdu.dialect,
                "source": pdu.header.source,
                "target": pdu.header.destination,
                "group": pdu.header.group,
                "crc_ok": pdu.crc_ok,
                "message": to_value(&sdata::decode(&pdu)),
            })),
            Ok(None) => {}
            Err(e) => completed.push(json!({ "kind": "message", "error": e.to_string() })),
        }
    }

    /// A burst the pipeline dropped: report what was readable and where it failed. A CRC
    /// failure still shows the fields (with `dialect: null`, `crc_ok: false`).
    fn failed(&self, bytes: &[u8], e: DecodeError) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!("burst"));
        obj.insert("error".into(), json!(stage_error(&e)));
        let Ok(BurstRepr::Data(data)) = BurstRepr::parse(bytes) else {
            return Value::Object(obj);
        };
        obj.insert("sync".into(), json!(data.sync.name()));
        obj.insert(
            "slot_type".into(),
            json!({
                "colour_code": data.slot_type.colour_code,
                "data_type": data.slot_type.data_type.name(),
                "corrected_bits": data.slot_type_corrected,
            }),
        );
        obj.insert("dialect".into(), Value::Null);
        obj.insert("crc_ok".into(), json!(false));
        let Some((block, fixed)) = bptc::decode(&data.info) else {
            obj.insert("fec".into(), json!({ "corrected_bits": null, "ok": false }));
            return Value::Object(obj);
        };
        obj.insert("fec".into(), json!({ "corrected_bits": fixed, "ok": true }));
        match data.slot_type.data_type {
            DataType::Csbk => {
                obj.insert("csbk".into(), csbk_fields(&block));
            }
            DataType::MbcHeader => {
                obj.insert("mbc_header".into(), csbk_fields(&block));
            }
            DataType::DataHeader => {
                if let Ok(h) = DataHeader::parse(&block) {
                    obj.insert("data_header".into(), to_value(&h));
                }
            }
            DataType::PiHeader => {
                if let Ok(pi) = PiHeader::parse(&block) {
                    obj.insert("pi_header".into(), to_value(&pi));
                }
            }
            DataType::VoiceLcHeader | DataType::TerminatorWithLc => {
                if let Ok(lc) = FullLc::parse(&block) {
                    obj.insert("lc".into(), to_value(&lc));
                }
            }
            _ => {}
        }
        Value::Object(obj)
    }

    fn csbk(&self, bytes: &[u8]) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!("csbk"));
        let dialect = Csbk::check(bytes, self.choice);
        obj.insert("dialect".into(), json!(dialect));
        obj.insert("crc_ok".into(), json!(dialect.is_some()));
        match Csbk::parse(bytes) {
            Ok(c) => merge(&mut obj, to_value(&c)),
            Err(e) => {
                obj.insert("error".into(), json!(format!("parse: {e}")));
            }
        }
        Value::Object(obj)
    }

    fn lc(&self, bytes: &[u8]) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!("lc"));
        match FullLc::parse_full(bytes, self.choice) {
            Ok(block) => {
                obj.insert("dialect".into(), json!(block.dialect));
                obj.insert("crc_ok".into(), json!(true));
                obj.insert("lc_kind".into(), json!(lc_kind_name(block.kind)));
                obj.insert("rs_corrected".into(), json!(block.corrected));
                merge(&mut obj, to_value(&block.lc));
            }
            Err(e) => {
                obj.insert("dialect".into(), Value::Null);
                obj.insert("crc_ok".into(), json!(false));
                obj.insert("error".into(), json!(format!("rs129: {e}")));
                if let Ok(lc) = FullLc::parse(bytes) {
                    merge(&mut obj, to_value(&lc));
                }
            }
        }
        Value::Object(obj)
    }

    fn data_header(&mut self, bytes: &[u8], completed: &mut Vec<Value>) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!("data_header"));
        let dialect = DataHeader::check(bytes, self.choice);
        obj.insert("dialect".into(), json!(dialect));
        obj.insert("crc_ok".into(), json!(dialect.is_some()));
        match DataHeader::parse(bytes) {
            Ok(h) => merge(&mut obj, to_value(&h)),
            Err(e) => {
                obj.insert("error".into(), json!(format!("parse: {e}")));
            }
        }
        if self.reassemble && dialect.is_some() {
            self.feed_data(BlockKind::Header, bytes, completed);
        }
        Value::Object(obj)
    }
}

fn lrrp(bytes: &[u8]) -> Value {
    match Lrrp::parse(bytes) {
        Ok(doc) => {
            let mut obj = Map::new();
            obj.insert("kind".into(), json!("lrrp"));
            merge(&mut obj, to_value(&doc));
            if let Some(location) = sdata::lrrp_location(&doc) {
                obj.insert("location".into(), to_value(&location));
            }
            Value::Object(obj)
        }
        Err(e) => json!({ "kind": "lrrp", "error": format!("parse: {e}") }),
    }
}

/// CSBK fields of a block whatever its CRC says (`Value::Null` if even that fails).
fn csbk_fields(block: &[u8]) -> Value {
    Csbk::parse(block).map_or(Value::Null, |c| to_value(&c))
}

fn emb_json(emb: &Emb, ok: bool) -> Value {
    json!({ "colour_code": emb.colour_code, "pi": emb.pi, "lcss": emb.lcss, "ok": ok })
}

fn lc_kind_name(kind: LcKind) -> &'static str {
    match kind {
        LcKind::Header => "voice_lc_header",
        LcKind::Terminator => "terminator_with_lc",
    }
}

fn stage_error(e: &DecodeError) -> String {
    let stage = match e.stage {
        Stage::Sync => "sync",
        Stage::SlotType => "slot_type",
        Stage::Fec => "fec",
        Stage::Crc => "crc",
        Stage::Parse => "parse",
    };
    format!("{stage}: {}", e.error)
}

fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| json!({ "serialize_error": e.to_string() }))
}

fn merge(obj: &mut Map<String, Value>, value: Value) {
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            obj.entry(k).or_insert(v);
        }
    }
}

/// Hex to octets; whitespace and `:` separators are allowed, an odd digit count is not.
pub fn parse_hex(line: &str) -> Result<Vec<u8>, String> {
    let digits: String = line
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    hex::decode(digits).map_err(|e| format!("input: not hex ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: Kind, choice: DialectChoice, hex: &str) -> Value {
        Decoder::new(kind, choice, false).line(hex).remove(0)
    }

    #[test]
    fn preamble_burst_has_the_documented_keys() {
        // okdmr-csbk-single-preamble (ok-dmrlib test_csbk.py)
        let v = one(
            Kind::Burst,
            DialectChoice::Auto,
            "51dd0c4d8bb40ac413a86c5094fdff57d75df5dcadfa1268aaa87b82b9d8291910",
        );
        assert_eq!(v["kind"], "burst");
        assert_eq!(v["sync"], "bs_data");
        assert_eq!(v["slot_type"]["colour_code"], 5);
        assert_eq!(v["slot_type"]["data_type"], "csbk");
        assert_eq!(v["slot_type"]["corrected_bits"], 0);
        assert_eq!(v["dialect"], "dmr");
        assert_eq!(v["fec"]["ok"], true);
        assert_eq!(v["crc_ok"], true);
        let c = &v["csbk"];
        assert_eq!(
            (c["last_block"].clone(), c["protect"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(
            (c["fid"].clone(), c["opcode"].clone()),
            (json!(0), json!(61))
        );
        assert_eq!(c["opcode_name"], "PRE_CSBK");
        assert_eq!(
            (c["source"].clone(), c["target"].clone()),
            (json!(2308155), json!(2301))
        );
    }

    #[test]
    fn crc_failure_keeps_the_fields_with_null_dialect() {
        // The same preamble decoded as PDT only: no PDT mask checks.
        let v = one(
            Kind::Burst,
            DialectChoice::Pdt,
            "51dd0c4d8bb40ac413a86c5094fdff57d75df5dcadfa1268aaa87b82b9d8291910",
        );
        assert_eq!(v["dialect"], Value::Null);
        assert_eq!(v["crc_ok"], false);
        assert!(v["error"].as_str().unwrap().starts_with("crc:"), "{v}");
        assert_eq!(v["csbk"]["opcode_name"], "PRE_CSBK");
    }

    #[test]
    fn csbk_pdu_prints_fields_at_top_level_and_names_the_dialect() {
        let v = one(Kind::Csbk, DialectChoice::Auto, "99004901164003000000059f");
        assert_eq!(v["opcode_name"], "C_ALOHA");
        assert_eq!(v["dialect"], "dmr");
        assert_eq!(v["crc_ok"], true);
    }

    #[test]
    fn bad_lines_are_reported_and_do_not_stop_the_batch() {
        let mut d = Decoder::new(Kind::Burst, DialectChoice::Auto, false);
        assert!(
            d.line("zz")[0]["error"]
                .as_str()
                .unwrap()
                .starts_with("input:")
        );
        assert!(
            d.line("00")[0]["error"]
                .as_str()
                .unwrap()
                .starts_with("sync:")
        );
        let ok = d.line("00b202f017cc79b41990e5c044cdff57d75df5dac814057040f85920eec23ba406");
        assert_eq!(ok[0]["csbk"]["opcode_name"], "UU_V_REQ");
    }

    #[test]
    fn lc_reports_which_mask_checked() {
        // pdt-remask-lc-2f9be5: the PDT voice LC header codeword (Epack harness).
        let v = one(Kind::Lc, DialectChoice::Auto, "001020000c302f9be58ac86d");
        assert_eq!(v["dialect"], "pdt");
        assert_eq!(v["lc_kind"], "voice_lc_header");
    }

    #[test]
    fn lrrp_report_has_a_location() {
        let v = one(
            Kind::Lrrp,
            DialectChoice::Auto,
            "0d0f22042468ace066118ecd8d118ad47b",
        );
        assert!(v.get("error").is_none(), "{v}");
        let lat = v["location"]["latitude"].as_f64().unwrap();
        assert!((lat - 12.345345).abs() < 1e-5, "{v}");
    }
}
