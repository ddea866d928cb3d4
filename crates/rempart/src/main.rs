//! `rempart`: the sovereign AI gateway's command line.
//!
//! Exit codes: 0 success, 1 failure (e.g. a verification that fails),
//! 2 bad usage or bad configuration.

mod audit_cmd;
mod cli;
mod ingest_cmd;
mod pii_cmd;
mod s3_source;
mod subjects_cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    rempart_engine::prepare_process();
    quiet_broken_pipe();
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

/// `rempart audit export | head` must end quietly: a closed stdout is the
/// reader's choice, not an error (ripgrep exits 0 on it too).
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
