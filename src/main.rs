//! `acd-collector`: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = acd_collector::cli::Cli::parse();
    acd_collector::telemetry::init_logging();
    let code = match acd_collector::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            // One clear line: the chain of causes, outermost first.
            eprintln!("acd-collector: error: {err:#}");
            1
        }
    };
    // Exit here rather than returning: dropping the runtime waits for every blocking thread,
    // so a walk stuck in a system call would keep a SIGTERMed process alive past its grace
    // period (issue 19.4). Everything acknowledged is committed by now.
    std::process::exit(code)
}
