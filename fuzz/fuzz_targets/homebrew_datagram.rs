//! One Homebrew datagram: parse never panics; whatever parses re-emits to the same packet; the
//! master's datagram entry point never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use trunkgate::link::homebrew::{MasterConfig, MasterCore, Packet, SplitMix};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        assert_eq!(Packet::parse(&p.to_vec()), Ok(p));
    }
    let config = MasterConfig::new(([127, 0, 0, 1], 0).into(), Vec::new());
    let mut core = MasterCore::new(&config, SplitMix::new(0), Default::default());
    let mut out = Vec::new();
    core.handle(std::time::Instant::now(), ([127, 0, 0, 1], 1).into(), data, &mut out);
});
