//! The `trunkgate` command: parses the command line and hands over to the library.
//! No logic lives here (mini-redis `bin/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use trunkgate::app;

/// Radio dispatch gateway for PDT / DMR Tier III trunked networks.
#[derive(Debug, Parser)]
#[command(name = "trunkgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: links, dispatch core, journal and gRPC API.
    Serve {
        /// Run the embedded demo: a simulated county on 127.0.0.1.
        #[arg(long, conflicts_with = "config")]
        demo: bool,
        /// The TOML configuration file.
        #[arg(long, required_unless_present = "demo")]
        config: Option<PathBuf>,
        /// Where the journal lives (overrides `[gateway] data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// gRPC listen address (overrides `[api] listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Homebrew master address (overrides `[homebrew_master] bind`).
        #[arg(long)]
        homebrew: Option<SocketAddr>,
        /// Prometheus metrics address (overrides `[metrics] listen`; port 0 picks one).
        #[arg(long)]
        metrics: Option<SocketAddr>,
    },
    /// Check a configuration file and explain what is wrong with it.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Decode hex frames (arguments, or standard input one a line) into JSON lines.
    Decode(app::decode::DecodeArgs),
    /// Talk to a running gateway: lists, commands (waiting for the outcome), events.
    Ctl(Box<app::ctl::CtlArgs>),
    /// Run simulated sites against a gateway's Homebrew master (the load generator).
    Sim(trunkgate::sim::SimArgs),
    /// API access: mint tokens.
    #[command(subcommand)]
    Access(AccessCommand),
}

#[derive(Debug, Subcommand)]
enum AccessCommand {
    /// Mint a bearer token: print it once, and the `[[access.token]]` lines (its salted hash)
    /// to add to the configuration.
    NewToken(app::access::NewTokenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            demo,
            config,
            data_dir,
            listen,
            homebrew,
            metrics,
        } => {
            let options = app::serve::ServeOptions {
                demo,
                data_dir,
                listen,
                homebrew,
                metrics,
                config_path: config.clone(),
            };
            app::run_serve(config.as_deref(), options)
        }
        Command::CheckConfig { file } => app::check_config(&file),
        Command::Decode(args) => match app::decode::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            // A closed pipe (`| head`) is not an error of the decoder.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trunkgate decode: {e}");
                ExitCode::from(2)
            }
        },
        Command::Ctl(args) => app::ctl::run(*args),
        Command::Access(AccessCommand::NewToken(args)) => {
            match app::access::new_token(&args, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("trunkgate access new-token: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Sim(args) => match trunkgate::sim::run_cli(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trunkgate sim: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
