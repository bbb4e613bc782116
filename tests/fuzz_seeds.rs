//! Every committed fuzz seed (fuzz/seeds/<target>/) and every input a fuzzing campaign ever
//! crashed on (fuzz/regressions/<target>/) replayed through the same entry points the fuzz
//! targets call (`trunkgate::fuzzing`): none may panic.
//!
//! Both directories must exist for every target, or the replay fails: a missing directory
//! would otherwise pass with nothing replayed. A recorded crash is named in [`RECORDED`] with
//! what it broke, and the replay fails when a file under fuzz/regressions is not listed there
//! or a listed one is missing, so each crash stays a named regression test. File names starting
//! with `.` (the `.gitkeep` that keeps an empty directory in git) are not inputs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 8] = [
    ("burst", trunkgate::fuzzing::burst),
    ("csbk", trunkgate::fuzzing::csbk),
    ("lc", trunkgate::fuzzing::lc),
    ("data_header", trunkgate::fuzzing::data_header),
    ("data_reassembly", trunkgate::fuzzing::data_reassembly),
    ("mmdvm_stream", trunkgate::fuzzing::mmdvm_stream),
    ("homebrew_datagram", trunkgate::fuzzing::homebrew_datagram),
    ("filter", trunkgate::fuzzing::filter),
];

/// Every input under fuzz/regressions: (target, file name, what it broke and where it was
/// fixed). No campaign has crashed a target yet.
const RECORDED: &[(&str, &str, &str)] = &[];

fn root(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir)
}

/// The inputs in `fuzz/<dir>/<target>/`; panics when the directory is missing.
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let path = root(dir).join(target);
    let entries = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (every target has one)", path.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Run every input of `fuzz/<dir>/` through its target; how many ran, per target.
fn replay(dir: &str) -> Vec<(&'static str, usize)> {
    TARGETS
        .iter()
        .map(|(name, run)| {
            let files = inputs(dir, name);
            for path in &files {
                let data = std::fs::read(path).unwrap();
                let result = std::panic::catch_unwind(|| run(&data));
                assert!(result.is_ok(), "{name}: {} panicked", path.display());
            }
            (*name, files.len())
        })
        .collect()
}

#[test]
fn every_seed_runs_through_its_target() {
    for (target, n) in replay("seeds") {
        assert!(n >= 5, "only {n} seeds under fuzz/seeds/{target}");
    }
}

#[test]
fn every_recorded_crash_stays_fixed() {
    let ran: usize = replay("regressions").iter().map(|(_, n)| n).sum();
    let present: BTreeSet<(String, String)> = TARGETS
        .iter()
        .flat_map(|(target, _)| {
            inputs("regressions", target).into_iter().map(|p| {
                let file = p.file_name().unwrap().to_string_lossy().into_owned();
                (target.to_string(), file)
            })
        })
        .collect();
    let listed: BTreeSet<(String, String)> = RECORDED
        .iter()
        .map(|(t, f, _)| (t.to_string(), f.to_string()))
        .collect();
    assert_eq!(
        present, listed,
        "fuzz/regressions and RECORDED in tests/fuzz_seeds.rs must name the same inputs"
    );
    assert_eq!(ran, RECORDED.len());
}

#[test]
fn the_campaign_runs_every_target() {
    let script = std::fs::read_to_string(root("campaign.sh")).unwrap();
    let line = script
        .lines()
        .find(|l| l.starts_with("targets=("))
        .expect("campaign.sh lists its targets");
    let listed: Vec<&str> = line
        .trim_start_matches("targets=(")
        .trim_end_matches(')')
        .split_whitespace()
        .collect();
    let want: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    assert_eq!(listed, want);
    for (target, _) in TARGETS {
        let src = root("fuzz_targets").join(format!("{target}.rs"));
        assert!(src.is_file(), "{} missing", src.display());
    }
}
