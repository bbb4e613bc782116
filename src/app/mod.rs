//! Wiring, configuration, supervision and shutdown (mini-redis `server::run` style).
//!
//! `app` is the only room that touches every other one: it reads the configuration, opens the
//! journal, starts the links, the dispatch driver and the gRPC server, and drains them on
//! shutdown. Logic that belongs to a room stays in that room.

pub mod backend;
pub mod config;
pub mod ctl;
pub mod decode;
pub mod demo;
pub mod driver;
pub mod serve;

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

/// `trunkgate serve`: load the configuration (or the embedded demo), start every room, print
/// how to reach it, and run until Ctrl-C or SIGTERM.
pub fn run_serve(file: Option<&Path>, options: serve::ServeOptions) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (text, origin) = match file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(e) => {
                eprintln!("{}: cannot read: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => (config::DEMO.to_string(), "embedded demo".to_string()),
    };
    let config = match config::Config::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{origin}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let problems = config.validate();
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{origin}: {p}");
        }
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trunkgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (running, drained) = match serve::start(config, &options, shutdown.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("trunkgate: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let server = format!("http://{}", running.api);
        println!("trunkgate is running ({origin})");
        println!("  gRPC API        {server}  (grpc.health.v1, server reflection)");
        if let Some(hb) = running.homebrew {
            println!("  Homebrew master {hb}");
        }
        if options.demo {
            println!("  a simulated county (青山县: 3 sites, 30 radios in 5 teams) is logging in");
        }
        println!("watch it from another terminal:");
        println!("  trunkgate ctl --server {server} radios");
        println!("  trunkgate ctl --server {server} watch --snapshot");
        println!("  trunkgate ctl --server {server} check <radio>");
        println!("stop with Ctrl-C");
        wait_for_signal().await;
        eprintln!("trunkgate: shutting down");
        shutdown.cancel();
        let _ = drained.await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
