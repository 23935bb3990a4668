//! What the wallet and top-ups share: the calendar month a charge counts in, and the error
//! both fail with. Kept apart so the wallet can call top-ups (an auto-charge after a hold)
//! without top-ups importing the wallet back.

use super::ledger;
use crate::model::{Millis, rfc3339};

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error("wallet storage: {0}")]
    Sql(#[from] switchboard_store::sql::Error),
}

impl WalletError {
    /// The database could not be reached; the API answers 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            WalletError::Ledger(ledger::LedgerError::Unavailable(_)) => true,
            WalletError::Sql(e) => e.is_unavailable(),
            WalletError::Ledger(_) => false,
        }
    }
}

/// `YYYY-MM` of a time, UTC.
pub fn month_of(at: Millis) -> String {
    rfc3339(at)[..7].to_string()
}
