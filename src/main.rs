//! `acd-collector`: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = acd_collector::config::Cli::parse();
    acd_collector::telemetry::init_logging();
    match acd_collector::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One clear line: the chain of causes, outermost first.
            eprintln!("acd-collector: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
