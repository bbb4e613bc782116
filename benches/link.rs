//! Link benches. MMDVM part: framing throughput through `FrameDecoder` (frames/s) for a stream
//! of DMR_DATA frames as a modem sends them (alternating slots, with RSSI), fed in 1 KiB reads.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trunkgate::link::Slot;
use trunkgate::link::mmdvm::{Direction, DmrData, Frame, FrameDecoder, Reply};

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
criterion_main!(mmdvm);
