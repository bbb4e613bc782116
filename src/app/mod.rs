//! Wiring, configuration, supervision and shutdown (mini-redis `server::run` style).
//!
//! `app` is the only room that touches every other one: it reads the configuration, opens the
//! journal, starts the links, the dispatch driver and the gRPC server, and drains them on
//! shutdown. Logic that belongs to a room stays in that room.

pub mod config;
pub mod ctl;

use std::path::Path;
use std::process::ExitCode;

/// `trunkgate check-config FILE`: print each problem on its own line; exit 1 if there is any.
pub fn check_config(file: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let config = match config::Config::parse(&text) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let problems = config.validate();
    if problems.is_empty() {
        println!(
            "{}: ok ({} sites, {} radios, {} talkgroups, {} teams)",
            file.display(),
            config.sites.len(),
            config.radios.len(),
            config.talkgroups.len(),
            config.teams.len()
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            eprintln!("{}: {p}", file.display());
        }
        ExitCode::FAILURE
    }
}
