//! The AT layer's one error type, [`AtError`].
//!
//! Owns: every way an AT exchange can fail, and whether it is worth
//! retrying. May not touch: I/O (a `Timeout` is reported by the driver that
//! owns the clock; this layer only names it).

use std::time::Duration;

use super::cme::CmeError;
use super::cms::CmsError;
use super::result::FinalResult;

/// Why an AT command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtError {
    /// An information line could not be parsed.
    #[error("cannot parse {line:?}: {reason}")]
    Parse {
        /// The offending line, as received.
        line: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The response had the wrong shape (missing or extra lines).
    #[error("unexpected response: {0}")]
    Unexpected(String),
    /// `+CMS ERROR` (TS 27.005 §3.2.5).
    #[error("+CMS ERROR: {0}")]
    Cms(CmsError),
    /// `+CME ERROR` (TS 27.007 §9.2).
    #[error("+CME ERROR: {0}")]
    Cme(CmeError),
    /// Another non-OK final result (`ERROR`, `COMMAND NOT SUPPORT`, ...).
    #[error("command failed: {0}")]
    Failed(FinalResult),
    /// No final result within the command's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A command argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// What a failed command says about the modem and the message: the one
/// classification of `+CMS`/`+CME` codes the driver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Off the network (`+CMS ERROR: 331`, `+CME ERROR: 30`): wait for
    /// registration, keep the message.
    NoNetwork,
    /// The SIM, not the message (not inserted, PIN/PUK, failure, wrong:
    /// `+CMS ERROR: 310–313, 315–318`, `+CME ERROR: 10–13, 15, 17, 18`):
    /// start the modem again and keep the message.
    SimState,
    /// May work if sent again later (busy, congestion, timeout...).
    Passing,
    /// Sending it again will not help.
    Permanent,
}

impl AtError {
    /// The [`Failure`] class of this error.
    pub fn classify(&self) -> Failure {
        match self {
            Self::Cms(CmsError::NoNetworkService) | Self::Cme(CmeError::NoNetworkService) => {
                Failure::NoNetwork
            }
            Self::Cms(
                CmsError::SimNotInserted
                | CmsError::SimPinRequired
                | CmsError::PhSimPinRequired
                | CmsError::SimFailure
                | CmsError::SimWrong
                | CmsError::SimPukRequired
                | CmsError::SimPin2Required
                | CmsError::SimPuk2Required,
            )
            | Self::Cme(
                CmeError::SimNotInserted
                | CmeError::SimPinRequired
                | CmeError::SimPukRequired
                | CmeError::SimFailure
                | CmeError::SimWrong
                | CmeError::SimPin2Required
                | CmeError::SimPuk2Required,
            ) => Failure::SimState,
            e if e.is_retryable() => Failure::Passing,
            _ => Failure::Permanent,
        }
    }

    /// Maps a non-OK final result to its error; `None` for `OK`.
    pub fn from_final(result: &FinalResult) -> Option<Self> {
        match result {
            FinalResult::Ok => None,
            FinalResult::Cms(e) => Some(Self::Cms(e.clone())),
            FinalResult::Cme(e) => Some(Self::Cme(e.clone())),
            other => Some(Self::Failed(other.clone())),
        }
    }

    /// Whether the same command may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Cms(e) => e.is_retryable(),
            Self::Cme(e) => e.is_retryable(),
            Self::Timeout(_) | Self::Failed(_) => true,
            Self::Parse { .. } | Self::Unexpected(_) | Self::InvalidArgument(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_results_map_to_errors() {
        assert_eq!(AtError::from_final(&FinalResult::Ok), None);
        let cms = AtError::from_final(&FinalResult::Cms(CmsError::TransferRejected));
        assert_eq!(cms, Some(AtError::Cms(CmsError::TransferRejected)));
        assert!(!cms.is_some_and(|e| e.is_retryable()));
        assert!(AtError::Timeout(Duration::from_secs(1)).is_retryable());
    }

    #[test]
    fn failures_are_classified_once_for_the_driver() {
        let cms = |c| AtError::Cms(CmsError::from_code(c));
        let cme = |c| AtError::Cme(CmeError::from_code(c));
        assert_eq!(cms(331).classify(), Failure::NoNetwork);
        assert_eq!(cme(30).classify(), Failure::NoNetwork);
        for c in [310, 311, 312, 313, 315, 316, 317, 318] {
            assert_eq!(cms(c).classify(), Failure::SimState, "{c}");
        }
        for c in [10, 11, 12, 13, 15, 17, 18] {
            assert_eq!(cme(c).classify(), Failure::SimState, "{c}");
        }
        for c in [314, 332, 42, 500, 515] {
            assert_eq!(cms(c).classify(), Failure::Passing, "{c}");
        }
        assert_eq!(cme(14).classify(), Failure::Passing, "SIM busy");
        for c in [21, 28, 304, 330] {
            assert_eq!(cms(c).classify(), Failure::Permanent, "{c}");
        }
    }
}
