//! Link benchmarks. Homebrew part: DMRD datagrams per second through parse on one core, and a
//! full relay step of the master (parse, deliver, relay to one other peer).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trunkgate::link::homebrew::{
    ConfigBlock, HomebrewCounters, MasterConfig, MasterCore, Packet, PeerEntry, PeerId, SplitMix,
    login_digest, parse_dmrd,
};

/// Measured DMRD voice LC header (../shared/reference/transports.md 5).
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

fn homebrew_master_relay(c: &mut Criterion) {
    let peers = [(1u32, "north"), (2, "south")]
        .map(|(id, site)| PeerEntry {
            id: PeerId(id),
            passphrase: "pw".into(),
            site: Arc::from(site),
            allow: None,
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

criterion_group!(homebrew, homebrew_parse_dmrd, homebrew_master_relay);
criterion_main!(homebrew);
