//! Every committed fuzz seed (fuzz/seeds/<target>/) and every input a fuzzing campaign ever
//! crashed on (fuzz/regressions/<target>/, each also named in a test below) replayed through
//! the same entry points the fuzz targets call (`trunkgate::fuzzing`): none may panic.

use std::path::Path;

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 7] = [
    ("burst", trunkgate::fuzzing::burst),
    ("csbk", trunkgate::fuzzing::csbk),
    ("lc", trunkgate::fuzzing::lc),
    ("data_header", trunkgate::fuzzing::data_header),
    ("data_reassembly", trunkgate::fuzzing::data_reassembly),
    ("mmdvm_stream", trunkgate::fuzzing::mmdvm_stream),
    ("homebrew_datagram", trunkgate::fuzzing::homebrew_datagram),
];

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut n = 0;
    for (name, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{name}: {} panicked", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_runs_through_its_target() {
    let n = replay("seeds");
    assert!(n >= 7 * 5, "only {n} seeds found under fuzz/seeds");
}

#[test]
fn every_recorded_crash_stays_fixed() {
    replay("regressions");
}
