//! The `trunkgate` command: parses the command line and hands over to the library.
//! No logic lives here (mini-redis `bin/`).

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
    /// Decode hex frames (arguments, or standard input one a line) into JSON lines.
    Decode(app::decode::DecodeArgs),
    /// Check a configuration file and explain what is wrong with it.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
    }
}
