//! Exit codes: part of the command-line interface, documented in
//! docs/cli.md, and never reused for another meaning.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success; for `verify`, the release is finalised and matches.
    Ok = 0,
    /// A check ran and the answer is no: not finalised, or a mismatch.
    CheckFailed = 1,
    /// The command line, a configuration file or an input file is wrong.
    Usage = 2,
    /// A chain, RPC or registry could not be reached or answered wrongly.
    Network = 3,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code as u8)
    }
}
