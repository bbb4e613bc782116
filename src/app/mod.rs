//! Wiring, configuration, supervision and shutdown (mini-redis `server::run` style).
//!
//! `app` is the only room that touches every other one: it reads the configuration, opens the
//! journal, starts the links, the dispatch driver and the gRPC server, and drains them on
//! shutdown. Logic that belongs to a room stays in that room.

pub mod access;
pub mod backend;
pub mod config;
pub mod ctl;
pub mod decode;
pub mod demo;
pub mod driver;
pub mod links;
pub mod logging;
pub mod logtime;
pub mod metrics;
pub mod serve;
pub mod systemd;

use std::path::Path;
use std::process::ExitCode;

/// Read and check a configuration: the one function `check-config` and `serve` both run.
/// On problems, prints the report (`ORIGIN:LINE:COLUMN: what to change`, one a line) to
/// standard error and returns the exit code (1).
fn load_config(text: &str, origin: &str) -> Result<config::Config, ExitCode> {
    config::Config::load(text).map_err(|report| {
        eprint!("{}", report.render(origin));
        ExitCode::FAILURE
    })
}

/// The TLS files `[access]` names, read and checked as `serve` will use them (relative to the
/// configuration file's directory), so that `check-config` passes no file `serve` refuses.
fn check_access_files(
    config: &config::Config,
    file: Option<&Path>,
    origin: &str,
) -> Result<(), ExitCode> {
    if config.access.tls_cert.is_none() {
        return Ok(());
    }
    let base = file.map_or_else(|| std::path::PathBuf::from("."), access::config_dir);
    access::build(&config.access, &base)
        .map(|_| ())
        .map_err(|e| {
            eprintln!("{origin}: [access] tls_cert, tls_key, client_ca: {e}");
            ExitCode::FAILURE
        })
}

/// `trunkgate check-config FILE`: print every problem, each on its own line with its line and
/// column; exit 1 if there is any (2 if the file cannot be read).
pub fn check_config(file: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let origin = file.display().to_string();
    match load_config(&text, &origin)
        .and_then(|c| check_access_files(&c, Some(file), &origin).map(|()| c))
    {
        Ok(config) => {
            println!(
                "{origin}: ok ({} sites, {} radios, {} talkgroups, {} teams)",
                config.sites.len(),
                config.radios.len(),
                config.talkgroups.len(),
                config.teams.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `trunkgate serve`: load the configuration (or the embedded demo), start every room, print
/// how to reach it, and run until Ctrl-C or SIGTERM.
pub fn run_serve(file: Option<&Path>, options: serve::ServeOptions) -> ExitCode {
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
    // The same report as `check-config`, before anything starts.
    let config = match load_config(&text, &origin)
        .and_then(|c| check_access_files(&c, file, &origin).map(|()| c))
    {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Level and format from `[log]`, the environment winning (`logging`).
    logging::init(&config.log);
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
        if let Some(metrics) = running.metrics {
            println!("  metrics         http://{metrics}/metrics");
        }
        if options.demo {
            println!("  a simulated county (青山县: 3 sites, 30 radios in 5 teams) is logging in");
        }
        if let Some(token) = &running.demo_token {
            println!(
                "  demo token      {}  (ctl finds it there)",
                token.display()
            );
            if let Some(dir) = token.parent() {
                println!(
                    "  second supervisor {}  (ctl --token-file …: approves kills)",
                    dir.join(access::DEPUTY_TOKEN_FILE).display()
                );
            }
        }
        println!("watch it from another terminal:");
        println!("  trunkgate ctl --server {server} radios");
        println!("  trunkgate ctl --server {server} watch --snapshot");
        println!("  trunkgate ctl --server {server} check <radio>");
        println!("  trunkgate ctl --server {server} gateway");
        println!("stop with Ctrl-C");
        systemd::ready();
        let watchdog = tokio::spawn(systemd::watchdog(
            running.driver.clone(),
            shutdown.child_token(),
        ));
        wait_for_signal().await;
        eprintln!("trunkgate: shutting down");
        systemd::stopping();
        shutdown.cancel();
        let _ = watchdog.await;
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
