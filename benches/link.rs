//! Link benchmarks.
//! - Homebrew: DMRD datagrams per second through parse on one core, a full relay step of the
//!   master (parse, deliver, relay to one other peer), and parse + burst decode (the receive
//!   path up to the dispatch core).
//! - MMDVM: framing throughput through `FrameDecoder` (frames/s) for a stream of DMR_DATA
//!   frames as a modem sends them (alternating slots, with RSSI), fed in 1 KiB reads.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trunkgate::link::Slot;
use trunkgate::link::homebrew::{
    ConfigBlock, HomebrewCounters, MasterConfig, MasterCore, Packet, PeerEntry, PeerId, SplitMix,
    login_digest, parse_dmrd,
};
use trunkgate::link::mmdvm::{Direction, DmrData, Frame, FrameDecoder, Reply};

/// Measured DMRD voice LC header (docs/transports.md §5).
const DMRD_HEADER: &str = "444d52440046313b00b3b1004630c1a1c918f94903aa146c339c3978bb4099e1846d5d7f77fd757e32d803905f90f7213a831a80610000";

fn homebrew_parse_dmrd(c: &mut Criterion) {
    let datagram = hex::decode(DMRD_HEADER).unwrap();
    let mut g = c.benchmark_group("homebrew");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_dmrd", |b| {
        b.iter(|| parse_dmrd(black_box(&datagram)))
    });
    g.bench_function("parse_datagram_dmrd", |b| {
        b.iter(|| Packet::parse(black_box(&datagram)))
    });
    let packet = Packet::parse(&datagram).unwrap();
    let mut out = [0u8; 64];
    g.bench_function("emit_dmrd", |b| {
        b.iter(|| black_box(&packet).emit(&mut out))
    });
    g.finish();
}

/// The receive path up to the dispatch core: DMRD parse, then the stateless burst pipeline
/// (sync, slot type, BPTC, CRC under both dialects, PDU fields), on the measured voice LC header
/// and on a C_ALOHA control-channel burst.
fn homebrew_receive_path(c: &mut Criterion) {
    use trunkgate::wire::DialectChoice;
    use trunkgate::wire::burst::{DataType, SyncPattern};
    use trunkgate::wire::pipeline::{bptc_burst, decode_burst};
    let header = hex::decode(DMRD_HEADER).unwrap();
    let mut aloha = header.clone();
    // gophertrunk-aloha (docs/air-interface.md §3.8) in a BPTC burst, in place of the LC header.
    let block: [u8; 12] = hex::decode("99004901164003000000059f")
        .unwrap()
        .try_into()
        .unwrap();
    aloha[20..53].copy_from_slice(&bptc_burst(SyncPattern::BsData, 1, DataType::Csbk, &block));
    let datagrams = [header, aloha];
    let mut g = c.benchmark_group("homebrew");
    g.throughput(Throughput::Elements(datagrams.len() as u64));
    g.bench_function("receive_path_dmrd_parse_and_decode", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for d in &datagrams {
                if let Ok(dmrd) = parse_dmrd(black_box(d))
                    && decode_burst(&dmrd.burst, DialectChoice::Auto).is_ok()
                {
                    ok += 1;
                }
            }
            assert_eq!(ok, 2);
            ok
        })
    });
    g.finish();
}

fn homebrew_master_relay(c: &mut Criterion) {
    let peers = [(1u32, "north"), (2, "south")]
        .map(|(id, site)| PeerEntry {
            id: PeerId(id),
            passphrase: "pw".into(),
            site: Arc::from(site),
            allow: None,
            allowed_sources: None,
        })
        .to_vec();
    let config = MasterConfig::new(([127, 0, 0, 1], 0).into(), peers);
    let mut core = MasterCore::new(
        &config,
        SplitMix::new(1),
        Arc::new(HomebrewCounters::default()),
    );
    let now = Instant::now();
    let mut out = Vec::new();
    // Log both peers in through the core itself.
    for id in [1u32, 2] {
        let from = ([127, 0, 0, 1], id as u16).into();
        core.handle(now, from, &Packet::Rptl(PeerId(id)).to_vec(), &mut out);
        let Some(trunkgate::link::homebrew::MasterAction::Send {
            packet: Packet::RptAck(salt),
            ..
        }) = out.pop()
        else {
            panic!("no salt");
        };
        let digest = login_digest(salt, b"pw");
        core.handle(
            now,
            from,
            &Packet::Rptk {
                id: PeerId(id),
                digest,
            }
            .to_vec(),
            &mut out,
        );
        let config = Box::new(ConfigBlock::from_info(&Default::default()));
        core.handle(
            now,
            from,
            &Packet::Rptc {
                id: PeerId(id),
                config,
            }
            .to_vec(),
            &mut out,
        );
    }
    let mut datagram = hex::decode(DMRD_HEADER).unwrap();
    datagram[11..15].copy_from_slice(&1u32.to_be_bytes());
    let from = ([127, 0, 0, 1], 1).into();
    let mut g = c.benchmark_group("homebrew");
    g.throughput(Throughput::Elements(1));
    g.bench_function("master_relay_dmrd", |b| {
        b.iter(|| {
            out.clear();
            core.handle(now, from, black_box(&datagram), &mut out);
        })
    });
    g.finish();
}

criterion_group!(
    homebrew,
    homebrew_parse_dmrd,
    homebrew_receive_path,
    homebrew_master_relay
);

const MMDVM_FRAMES: usize = 1000;

fn mmdvm_stream() -> Vec<u8> {
    (0..MMDVM_FRAMES)
        .flat_map(|i| {
            Reply::DmrData(DmrData {
                slot: if i % 2 == 0 { Slot::One } else { Slot::Two },
                control: 0x41,
                burst: core::array::from_fn(|j| (i + j) as u8),
                rssi: Some(0x0123),
            })
            .to_vec()
        })
        .collect()
}

fn mmdvm_decode_dmr_data(c: &mut Criterion) {
    let stream = mmdvm_stream();
    let mut g = c.benchmark_group("mmdvm");
    g.throughput(Throughput::Elements(MMDVM_FRAMES as u64));
    g.bench_function("decode_dmr_data_1k", |b| {
        b.iter(|| {
            let mut d = FrameDecoder::new(Direction::ToHost);
            let mut frames = 0usize;
            for read in black_box(&stream).chunks(1024) {
                let mut rest = read;
                while !rest.is_empty() {
                    let n = d.feed(rest);
                    rest = &rest[n..];
                    loop {
                        match d.next_frame() {
                            Ok(Some(Frame::Reply(Reply::DmrData(data)))) => {
                                black_box(data);
                                frames += 1;
                            }
                            Ok(Some(_)) | Err(_) => {}
                            Ok(None) => break,
                        }
                    }
                }
            }
            assert_eq!(frames, MMDVM_FRAMES);
            frames
        })
    });
    g.finish();
}

fn mmdvm_emit_dmr_data(c: &mut Criterion) {
    let frames: Vec<Reply> = (0..MMDVM_FRAMES)
        .map(|i| {
            Reply::DmrData(DmrData {
                slot: Slot::Two,
                control: 0,
                burst: [i as u8; 33],
                rssi: None,
            })
        })
        .collect();
    let mut out = [0u8; 64];
    let mut g = c.benchmark_group("mmdvm");
    g.throughput(Throughput::Elements(MMDVM_FRAMES as u64));
    g.bench_function("emit_dmr_data_1k", |b| {
        b.iter(|| {
            for f in black_box(&frames) {
                let n = f.buffer_len();
                f.emit(&mut out[..n]);
                black_box(&out);
            }
        })
    });
    g.finish();
}

criterion_group!(mmdvm, mmdvm_decode_dmr_data, mmdvm_emit_dmr_data);

criterion_main!(homebrew, mmdvm);
