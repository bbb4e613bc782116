//! Fuzzing entry points, one per target in `fuzz/fuzz_targets/` (each target is one line
//! calling its function here), so `tests/fuzz_seeds.rs` replays every committed seed and every
//! crash the fuzzer ever found through exactly the code the fuzzer ran. Each function must not
//! panic on any input; the assertions inside check round trips and bounds, not the input.
#![doc(hidden)]

use std::sync::Arc;
use std::time::Instant;

use crate::dispatch::SiteId;
use crate::dispatch::ingest::Ingest;
use crate::link::homebrew::{MasterConfig, MasterCore, Packet, SplitMix};
use crate::link::mmdvm::decoder::CAPACITY;
use crate::link::mmdvm::{Command, Direction, Frame, FrameDecoder, ProtocolVersion, Reply};
use crate::link::{Received, Slot};
use crate::wire::burst::BurstRepr;
use crate::wire::csbk::mbc::MbcAssembler;
use crate::wire::csbk::{Channel, Csbk};
use crate::wire::data::{BlockKind, DataAssembler, Rate};
use crate::wire::data_header::DataHeader;
use crate::wire::embedded::{self, EmbeddedLcAssembler, Lcss, TalkerAliasAssembler};
use crate::wire::lc::FullLc;
use crate::wire::lrrp::Lrrp;
use crate::wire::pi_header::PiHeader;
use crate::wire::pipeline::decode_burst;
use crate::wire::{Dialect, DialectChoice, sdata};

/// Type and payload of an emitted MMDVM frame (emit always writes the 3- or 4-octet header).
fn split(f: &[u8]) -> (u8, &[u8]) {
    if f[1] == 0 {
        (f[3], &f[4..])
    } else {
        (f[2], &f[3..])
    }
}

/// Burst decode: the stateless pipeline on the input, then the whole receive path (per-slot
/// reassemblers in ingest) over the input cut into 33-octet bursts on alternating slots.
pub fn burst(data: &[u8]) {
    let _ = BurstRepr::parse(data);
    let _ = decode_burst(data, DialectChoice::Auto);
    let mut ingest = Ingest::new(SiteId::new("fuzz"), DialectChoice::Auto);
    let mut inputs = Vec::new();
    let site: Arc<str> = Arc::from("fuzz");
    let at = Instant::now();
    for (i, chunk) in data.chunks_exact(33).enumerate() {
        let mut burst = [0u8; 33];
        burst.copy_from_slice(chunk);
        let received = Received {
            site: Arc::clone(&site),
            slot: if i % 2 == 0 { Slot::One } else { Slot::Two },
            burst,
            rssi_dbm: None,
            ber_percent: None,
            meta: None,
            at,
        };
        ingest.feed(&received, &mut inputs);
    }
}

/// CSBK and MBC entry points: fields, CRC check under both dialects, the MBC assembler.
pub fn csbk(data: &[u8]) {
    let _ = Csbk::check(data, DialectChoice::Auto);
    for channel in [Channel::Conventional, Channel::TrunkedControl] {
        if let Ok(csbk) = Csbk::parse_on(data, channel) {
            let _ = csbk.opcode_name();
            let _ = serde_json::to_string(&csbk);
        }
    }
    // The MBC assembler fed 12-octet blocks: the first is the header.
    let mut mbc = MbcAssembler::new(DialectChoice::Auto, Channel::TrunkedControl);
    let mut blocks = data.chunks_exact(12);
    if let Some(header) = blocks.next() {
        let _ = mbc.feed_header(header);
        for block in blocks {
            let _ = mbc.feed_continuation(block);
        }
    }
}

/// Link control entry points: full LC with RS(12,9), embedded LC (VBPTC) and its assemblers,
/// the PI header. Nothing here may panic, whatever the input.
pub fn lc(data: &[u8]) {
    let _ = FullLc::parse_full(data, DialectChoice::Auto);
    let _ = FullLc::parse(data);
    let _ = PiHeader::parse(data);
    let _ = PiHeader::check(data, DialectChoice::Auto);
    if let Some(raw) = data.get(..16).and_then(|s| <&[u8; 16]>::try_from(s).ok()) {
        let _ = embedded::decode(raw);
    }
    // A stream of (LCSS, fragment) pairs: 1 octet LCSS + 4 octets fragment each.
    let mut assembler = EmbeddedLcAssembler::new(Dialect::Pdt);
    let mut alias = TalkerAliasAssembler::new();
    for chunk in data.chunks_exact(5) {
        let lcss = Lcss::from_bits(chunk[0]);
        let fragment = u32::from_be_bytes([chunk[1], chunk[2], chunk[3], chunk[4]]);
        if let Some(lc) = assembler.feed(lcss, fragment) {
            let _ = alias.feed(&lc);
        }
    }
}

/// Data header entry points: fields, CRC under both dialects, end-of-data rule, JSON.
pub fn data_header(data: &[u8]) {
    let _ = DataHeader::check(data, DialectChoice::Auto);
    let _ = DataHeader::parse_checked(data, DialectChoice::Auto);
    if let Ok(header) = DataHeader::parse(data) {
        let _ = header.blocks_to_follow();
        let _ = header.end_of_data(Dialect::Dmr);
        let _ = header.end_of_data(Dialect::Pdt);
        let _ = serde_json::to_string(&header);
    }
}

/// Packet-data reassembly and what a dispatcher sees of it: a stream of (kind, block) records
/// fed to the assembler, completed PDUs decoded into messages; LRRP parsed on the raw input.
pub fn data_reassembly(data: &[u8]) {
    let _ = Lrrp::parse(data);
    let mut assembler = DataAssembler::new(DialectChoice::Auto);
    let mut rest = data;
    // Record: one selector octet, then as many octets as the kind's block holds.
    while let Some((&selector, tail)) = rest.split_first() {
        let kind = match selector % 4 {
            0 => BlockKind::Header,
            1 => BlockKind::Data(Rate::Half),
            2 => BlockKind::Data(Rate::ThreeQuarter),
            _ => BlockKind::Data(Rate::One),
        };
        let len = match kind {
            BlockKind::Header => 12,
            BlockKind::Data(rate) => rate.block_len(),
        };
        let take = len.min(tail.len());
        let (block, next) = tail.split_at(take);
        if let Ok(Some(pdu)) = assembler.feed(kind, block) {
            let _ = serde_json::to_string(&sdata::decode(&pdu));
        }
        rest = next;
    }
    let _ = assembler.flush();
}

/// MMDVM byte stream through `FrameDecoder`, both directions, in fuzzer-chosen chunks.
///
/// Octet 0 picks the direction (bit 0), the status layout (bit 1) and the chunk size (bits 2-7);
/// the rest is the stream. Checked: no panic, the buffer stays bounded, the decoder always
/// makes progress, and every frame it returns re-emits to a frame that parses to the same value.
pub fn mmdvm_stream(data: &[u8]) {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let dir = if ctl & 1 == 0 {
        Direction::ToHost
    } else {
        Direction::ToModem
    };
    let version = if ctl & 2 == 0 {
        ProtocolVersion::V2
    } else {
        ProtocolVersion::V1
    };
    let chunk = usize::from(ctl >> 2) + 1;
    let mut d = FrameDecoder::new(dir);
    d.set_version(version);
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = d.feed(rest);
            rest = &rest[n..];
            // Every call either returns, or consumes; bound the loop to catch a stuck decoder.
            for _ in 0..=CAPACITY {
                match d.next_frame() {
                    Ok(None) => break,
                    Err(_) => {}
                    Ok(Some(Frame::Reply(r))) => {
                        let bytes = r.to_vec();
                        let (k, p) = split(&bytes);
                        assert_eq!(Reply::parse(k, p, version).as_ref(), Ok(&r));
                    }
                    Ok(Some(Frame::Command(c))) => {
                        let bytes = c.to_vec();
                        let (k, p) = split(&bytes);
                        assert_eq!(Command::parse(k, p).as_ref(), Ok(&c));
                    }
                }
            }
            assert!(d.pending() <= CAPACITY);
        }
    }
    d.skip_partial();
    while let Ok(Some(_)) | Err(_) = d.next_frame() {}
}

/// One Homebrew datagram: parse never panics; whatever parses re-emits to the same packet; the
/// master's datagram entry point never panics either.
pub fn homebrew_datagram(data: &[u8]) {
    if let Ok(p) = Packet::parse(data) {
        assert_eq!(Packet::parse(&p.to_vec()), Ok(p));
    }
    let config = MasterConfig::new(([127, 0, 0, 1], 0).into(), Vec::new());
    let mut core = MasterCore::new(&config, SplitMix::new(0), Default::default());
    let mut out = Vec::new();
    core.handle(
        std::time::Instant::now(),
        ([127, 0, 0, 1], 1).into(),
        data,
        &mut out,
    );
}

/// List and watch filters, orderings, times and page tokens (client input on every List and
/// WatchEvents request): parsing never panics; an error's column lies within the input (or
/// one past its end); a compiled filter evaluates on a record of every kind; a page token
/// that decodes was one the server made.
pub fn filter(data: &[u8]) {
    use crate::api::filter::{self, Field, Filter, Kind, Record, Value};
    use std::borrow::Cow;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let columns = s.chars().count() + 1;
    match filter::parse(s) {
        Ok(_) => {}
        Err(e) => assert!(e.column <= columns.max(1), "{e} past {columns}"),
    }
    fn key(s: &str) -> Result<u64, String> {
        s.strip_prefix("k/")
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| "k/{n}".into())
    }
    fn name(s: &str) -> Result<String, String> {
        Ok(s.to_string())
    }
    const SCHEMA: &[Field] = &[
        Field::one("t", Kind::Text),
        Field::one("n", Kind::Name(name)),
        Field::one("k", Kind::Key(key)),
        Field::many("ks", Kind::Key(key)),
        Field::many("ns", Kind::Name(name)),
        Field::one("x", Kind::Number),
        Field::one("b", Kind::Bool),
        Field::one("at", Kind::Time),
        Field::one("e", Kind::Enum(&["A", "B"])),
    ];
    struct Everything;
    impl Record for Everything {
        fn value(&self, i: usize) -> Value<'_> {
            match i {
                0 | 1 => Value::Text(Cow::Borrowed("城关*")),
                2 => Value::Key(7),
                3 => Value::Keys(vec![1, 7]),
                4 => Value::Texts(vec![Cow::Borrowed("a")]),
                5 => Value::Number(-0.5),
                6 => Value::Bool(true),
                7 => Value::Missing,
                _ => Value::Enum(1),
            }
        }
    }
    match Filter::compile(s, SCHEMA) {
        Ok(f) => {
            let _ = f.matches(&Everything);
        }
        Err(e) => assert!(e.column <= columns.max(1), "{e} past {columns}"),
    }
    let _ = crate::api::watch::EventFilter::parse(s);
    let default = filter::OrderBy {
        field: 0,
        descending: true,
    };
    if let Ok(o) = filter::parse_order_by(s, &["start_time", "name"], default) {
        assert!(o.field < 2);
    }
    if let Some(ms) = filter::rfc3339_ms(s) {
        // Whatever reads as a time formats to a time that reads back the same.
        assert_eq!(filter::rfc3339_ms(&filter::format_rfc3339(ms)), Some(ms));
    }
    if let Ok(Some(k)) = crate::api::convert::decode_token(s, "radios", "") {
        assert!(crate::api::convert::encode_token("radios", "", &k).len() <= s.len());
    }
}
