//! Values come back as written: every float of a journaled event (a position's latitude,
//! longitude, accuracy and speed: the only floats the core's events and snapshots hold)
//! survives serialise → SQLite journal on disk → read back → the replay decoder bit for bit
//! (`to_bits`), for many seeded random values and the edge cases (subnormals, ±0.0, the
//! largest and smallest magnitudes, values like 113.23095333333333 that parse 1 ULP off
//! without serde_json's `float_roundtrip`).
//!
//! NaN and ±infinity cannot be journaled: JSON has no spelling for them (serde_json writes
//! `null`). The event sources never produce them (every coordinate, accuracy and speed is an
//! integer field of the air interface scaled by a finite constant), so they are not tested
//! here.

use trunkgate::app::driver::decode_record;
use trunkgate::dispatch::{Event, EventKind, Position, PositionSource, SiteId, Timestamp};
use trunkgate::journal::sqlite::{SqliteConfig, SqliteJournal};
use trunkgate::journal::{Entry, Journal, UnixMillis};

/// xorshift64* (Vigna 2016): a fixed seed, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Any finite f64, all bit patterns alike (so subnormals and huge values too).
    fn any_f64(&mut self) -> f64 {
        loop {
            let v = f64::from_bits(self.next());
            if v.is_finite() {
                return v;
            }
        }
    }

    fn any_f32(&mut self) -> f32 {
        loop {
            let v = f32::from_bits(self.next() as u32);
            if v.is_finite() {
                return v;
            }
        }
    }

    /// A coordinate as the air delivers it: a signed integer field scaled to degrees (LRRP's
    /// 2^31 per 90°, embedded GPS LC's 2^24 per 180°), and decimal-looking fractions.
    fn coordinate(&mut self, range: f64) -> f64 {
        let raw = self.next();
        match raw % 3 {
            0 => f64::from((raw >> 32) as i32) * range / 2f64.powi(31),
            1 => f64::from(((raw >> 40) as i32) >> 8) * 2.0 * range / 2f64.powi(24),
            _ => (raw >> 11) as f64 / (1u64 << 53) as f64 * 2.0 * range - range,
        }
    }
}

const EDGE_F64: [f64; 16] = [
    0.0,
    -0.0,
    113.230_953_333_333_33,
    23.123_456_789_012_34,
    0.1,
    1.0 / 3.0,
    -179.999_999_999_999_97,
    f64::MIN_POSITIVE,
    5e-324,                      // the smallest subnormal
    -2.225_073_858_507_201e-308, // the largest subnormal, negative
    f64::EPSILON,
    1e-300,
    1e300,
    f64::MAX,
    f64::MIN,
    9_007_199_254_740_992.0,
];

const EDGE_F32: [f32; 12] = [
    0.0,
    -0.0,
    0.1,
    1.0 / 3.0,
    16_777_216.0,
    f32::MIN_POSITIVE,
    1e-45, // the smallest subnormal
    f32::EPSILON,
    1e-38,
    3.4e38,
    f32::MAX,
    f32::MIN,
];

fn position(latitude: f64, longitude: f64, accuracy: Option<f32>, speed: Option<f32>) -> Event {
    Event {
        at: Timestamp(1_700_000_000_000),
        kind: EventKind::PositionReported {
            radio: "80020200".parse().unwrap(),
            site: SiteId::new("城关站"),
            position: Position {
                latitude,
                longitude,
                accuracy_m: accuracy,
                speed_kmh: speed,
                heading_deg: Some(90),
                altitude_m: None,
                fix_time: None,
                source: PositionSource::Lrrp,
            },
        },
    }
}

fn bits(e: &Event) -> (u64, u64, Option<u32>, Option<u32>) {
    match &e.kind {
        EventKind::PositionReported { position: p, .. } => (
            p.latitude.to_bits(),
            p.longitude.to_bits(),
            p.accuracy_m.map(f32::to_bits),
            p.speed_kmh.map(f32::to_bits),
        ),
        other => panic!("not a position: {other:?}"),
    }
}

#[test]
fn every_float_of_an_event_survives_the_journal_bit_for_bit() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut events = Vec::new();
    // Every edge value in every field.
    for (i, &x) in EDGE_F64.iter().enumerate() {
        let y = EDGE_F32[i % EDGE_F32.len()];
        events.push(position(x, -x, Some(y), Some(-y)));
        events.push(position(-x, x, None, Some(y)));
    }
    // Random values: any bit pattern, and values shaped like real coordinates.
    for _ in 0..20_000 {
        let (a, s) = (rng.any_f32(), rng.any_f32());
        events.push(position(rng.any_f64(), rng.any_f64(), Some(a), Some(s)));
        let (lat, lon) = (rng.coordinate(90.0), rng.coordinate(180.0));
        let acc = (rng.next() % 100_000) as f32 / 7.0;
        let speed = (rng.next() % 2_000) as f32 * 0.36;
        events.push(position(lat, lon, Some(acc), Some(speed)));
    }

    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let journal_id = journal.identity();
    let entries: Vec<Entry> = events
        .iter()
        .map(|e| {
            let payload = serde_json::to_vec(e).expect("an event serialises");
            Entry::new(UnixMillis(0), "position_reported", payload)
        })
        .collect();
    for chunk in entries.chunks(1000) {
        journal.append(chunk).unwrap();
    }
    drop(journal);

    // Read back through a fresh reader and the driver's replay decoder.
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let reader = journal.reader().unwrap();
    let mut cursor = 0;
    let mut mismatches = Vec::new();
    while cursor < events.len() as u64 {
        let page = reader.read_after(cursor, 4096).unwrap();
        assert!(!page.is_empty(), "journal ends at {cursor}");
        for record in page {
            cursor = record.seq;
            let written = &events[(record.seq - 1) as usize];
            let read = decode_record(journal_id, record)
                .expect("decodes")
                .expect("published");
            if bits(&read.event) != bits(written) {
                mismatches.push((written.clone(), read.event.clone()));
            }
            assert_eq!(read.seq, cursor);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} events came back different, e.g. {:?}",
        mismatches.len(),
        events.len(),
        mismatches.first()
    );
}

#[test]
fn positions_in_a_snapshot_survive_the_journal_bit_for_bit() {
    // Snapshots go through the same serde_json path: a state image holding positions.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut fixes: Vec<Position> = Vec::new();
    for &x in &EDGE_F64 {
        fixes.push(Position {
            latitude: x,
            longitude: -x,
            accuracy_m: Some(rng.any_f32()),
            speed_kmh: None,
            heading_deg: None,
            altitude_m: None,
            fix_time: None,
            source: PositionSource::EmbeddedLc,
        });
    }
    for _ in 0..5_000 {
        fixes.push(Position {
            latitude: rng.coordinate(90.0),
            longitude: rng.any_f64(),
            accuracy_m: Some(rng.any_f32()),
            speed_kmh: Some(rng.any_f32()),
            heading_deg: None,
            altitude_m: None,
            fix_time: None,
            source: PositionSource::UdtNmea,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    journal
        .append(&[Entry::new(UnixMillis(0), "t", "x")])
        .unwrap();
    journal
        .save_snapshot(1, &serde_json::to_vec(&fixes).unwrap())
        .unwrap();
    drop(journal);
    let journal = SqliteJournal::open(dir.path(), &SqliteConfig::default()).unwrap();
    let data = journal.latest_snapshot().unwrap().unwrap().data;
    let back: Vec<Position> = serde_json::from_slice(&data).unwrap();
    let key = |p: &Position| {
        (
            p.latitude.to_bits(),
            p.longitude.to_bits(),
            p.accuracy_m.map(f32::to_bits),
            p.speed_kmh.map(f32::to_bits),
        )
    };
    let different = fixes
        .iter()
        .zip(&back)
        .filter(|(a, b)| key(a) != key(b))
        .count();
    assert_eq!(back.len(), fixes.len());
    assert_eq!(different, 0, "positions changed in the snapshot");
}
