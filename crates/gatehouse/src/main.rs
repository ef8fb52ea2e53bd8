//! The `gatehouse` binary: command line, configuration, and the Pingora
//! server that composes the policy crates.

mod admin;
mod auth;
mod background;
mod ctx;
mod failure;
mod forward;
mod front;
mod inbound;
mod jwks_fetch;
mod protocol;
mod proxy;
mod respond;
mod runtime;
mod server;
mod waf;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Pingora allocates a few dozen small objects per proxied request;
/// mimalloc's thread-local free lists cost less CPU than glibc malloc
/// (see load-tests/README.md, "Where the CPU goes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gatehouse: an edge API gateway.
#[derive(Parser, Debug)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    /// Configuration file, or a folder of YAML files.
    #[arg(
        short = 'c',
        long = "conf",
        global = true,
        default_value = "/etc/gatehouse/gatehouse.yaml"
    )]
    conf: PathBuf,
    /// Run in the background (needs `error_log` and `pid_file`).
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Take over the listening sockets of a running instance (zero-downtime upgrade).
    #[arg(short = 'u', long)]
    upgrade: bool,
    /// Test the configuration and exit, like `check`.
    #[arg(short = 't', long)]
    test: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the configuration; print every error as `file:line:column: key.path: message`.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.test || matches!(cli.command, Some(Command::Check)) {
        return check(&cli.conf);
    }
    init_logging();
    let plan = match gatehouse_config::load(&cli.conf) {
        Ok(plan) => plan,
        Err(diagnostics) => {
            eprint!("{diagnostics}");
            eprintln!(
                "gatehouse: refusing to start, {} configuration error(s)",
                diagnostics.0.len()
            );
            return ExitCode::FAILURE;
        }
    };
    match server::run(plan, cli.daemon, cli.upgrade) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &Path) -> ExitCode {
    match gatehouse_config::load(path) {
        Ok(plan) => {
            println!(
                "{}: configuration is valid ({} services, {} routes, {} upstreams)",
                path.display(),
                plan.services.len(),
                plan.routes.len(),
                plan.upstreams.len()
            );
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            eprint!("{diagnostics}");
            eprintln!("{}: {} error(s)", path.display(), diagnostics.0.len());
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}
