//! trunkgate: a radio dispatch gateway for PDT / DMR Tier III trunked networks.
//!
//! The crate is laid out by room, dependencies pointing inward (docs/design.md):
//!
//! | module | holds |
//! |---|---|
//! | [`wire`] | bit-exact docs/air-interface.md codecs: FEC, CRC, bursts, CSBK, LC, data; parse and emit, no I/O |
//! | [`link`] | docs/transports.md: MMDVM modem (serial or UDP), Homebrew repeater protocol (master and peer) |
//! | [`dispatch`] | the deterministic core: radios, talkgroups, calls, alarms, operations |
//! | [`journal`] | the durable, append-only event log (SQLite, WAL, group commit) |
//! | [`api`] | the gRPC dispatch API (tonic) |
//! | [`sim`] | a simulated PDT site speaking Homebrew over loopback |
//! | [`app`] | wiring, configuration, supervision and shutdown |

pub mod api;
pub mod app;
pub mod dispatch;
pub mod fuzzing;
pub mod journal;
pub mod link;
pub mod sim;
pub mod wire;
