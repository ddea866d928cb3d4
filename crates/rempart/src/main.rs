//! `rempart`: the sovereign AI gateway's command line.
//!
//! Exit codes: 0 success, 1 failure (e.g. a verification that fails),
//! 2 bad usage or bad configuration.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            // Errors are printed once, with their causes.
            eprintln!("error: {e:#}");
            ExitCode::from(e.downcast_ref::<cli::Usage>().map_or(1, |_| 2))
        }
    }
}
