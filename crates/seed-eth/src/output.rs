//! Printing a command's outcome: text for people, one JSON document for
//! scripts, and the matching exit code either way.

use std::io::Write as _;

use serde_json::{json, Value};

use crate::exit::ExitCode;

/// What a command produced: its report, or an error with the exit code it maps to.
pub type Outcome = Result<Report, Failure>;

/// A successful (or checked-and-negative) result.
#[derive(Debug)]
pub struct Report {
    /// The exit code: `Ok`, or `CheckFailed` when a check said no.
    pub code: ExitCode,
    /// Lines for a human reader.
    pub text: String,
    /// The same content for scripts.
    pub json: Value,
}

/// An error that stopped the command.
#[derive(Debug)]
pub struct Failure {
    /// The exit code it maps to.
    pub code: ExitCode,
    /// The error, with its chain of causes.
    pub error: eyre::Report,
}

impl Failure {
    /// A usage or input error (exit code 2).
    pub fn usage(error: impl Into<eyre::Report>) -> Self {
        Self {
            code: ExitCode::Usage,
            error: error.into(),
        }
    }

    /// A check that said no (exit code 1).
    pub fn check_failed(error: impl Into<eyre::Report>) -> Self {
        Self {
            code: ExitCode::CheckFailed,
            error: error.into(),
        }
    }

    /// The chain or a registry could not be asked, or answered wrongly (exit code 3).
    pub fn network(error: impl Into<eyre::Report>) -> Self {
        Self {
            code: ExitCode::Network,
            error: error.into(),
        }
    }
}

/// Prints `outcome` and returns the process exit code.
pub fn finish(as_json: bool, outcome: Outcome) -> std::process::ExitCode {
    match outcome {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            let printed = if as_json {
                writeln!(stdout, "{}", report.json)
            } else {
                write!(stdout, "{}", report.text)
            };
            // A reader that stopped reading (`seed-eth completions bash | head`) is not an error
            // of the command; the result stands.
            match printed.and_then(|()| stdout.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: writing the result to stdout: {e}");
                    ExitCode::Network.into()
                }
                _ => report.code.into(),
            }
        }
        Err(failure) => {
            let causes: Vec<String> = failure.error.chain().map(ToString::to_string).collect();
            if as_json {
                println!(
                    "{}",
                    json!({ "error": causes.join(": "), "exitCode": failure.code as u8 })
                );
            } else {
                eprintln!("error: {}", causes.join(": "));
            }
            failure.code.into()
        }
    }
}

/// `1 vote`, `2 votes`: a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
