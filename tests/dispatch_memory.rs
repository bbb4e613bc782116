//! Memory of the core with a million radios (target: under 400 MB), measured with a counting
//! allocator. Asserts a size bound, not a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use trunkgate::dispatch::{
    AirEvent, AirInput, Config, Core, Directory, DirectoryRadio, Input, Output, Radio, RadioId,
    SiteId, Timestamp,
};
use trunkgate::link::Slot;

/// Bytes currently allocated by this test binary.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: forwards every call to the system allocator unchanged and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout as given to us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const RADIOS: u32 = 1_000_000;
const LIMIT: isize = 400 * 1024 * 1024;

#[test]
fn a_million_radios_fit_in_400_mb() {
    let before = LIVE.load(Ordering::Relaxed);
    let mut core = Core::new(Config::default());
    {
        // One in ten radios is named in the directory; all are heard on one of 64 sites.
        let radios = (0..RADIOS)
            .filter(|i| i % 10 == 0)
            .map(|i| DirectoryRadio {
                id: RadioId::new(0x10_0000 + i).expect("24-bit"),
                name: Some(format!("队员{i:07}")),
            })
            .collect();
        let mut out = Vec::new();
        core.handle(
            Timestamp(0),
            Input::Directory(Directory {
                radios,
                ..Directory::default()
            }),
            &mut out,
        );
    }
    let sites: Vec<SiteId> = (0..64).map(|i| SiteId::new(&format!("site-{i}"))).collect();
    let mut out: Vec<Output> = Vec::new();
    for i in 0..RADIOS {
        let radio = RadioId::new(0x10_0000 + i).expect("24-bit");
        core.handle(
            Timestamp(1_000 + u64::from(i)),
            Input::Air(AirInput {
                site: sites[(i % 64) as usize].clone(),
                slot: Slot::One,
                rssi_dbm: Some(-90),
                event: AirEvent::Registered { radio },
            }),
            &mut out,
        );
        out.clear();
    }
    drop(out);
    let used = LIVE.load(Ordering::Relaxed) - before;
    let radios = core.radios(&Default::default(), None, 1).items;
    assert_eq!(radios.len(), 1);
    assert!(radios[0].registered);
    println!(
        "{RADIOS} radios: {:.1} MB live, {} B per radio (size_of::<Radio>() = {})",
        used as f64 / 1e6,
        used / RADIOS as isize,
        std::mem::size_of::<Radio>()
    );
    assert!(used < LIMIT, "{used} bytes for {RADIOS} radios");
}
