//! The double-entry ledger: every movement of money is one transaction whose entries sum to
//! zero, written once (triggers refuse UPDATE and DELETE) under an id that makes it
//! idempotent. Balances are kept in step with the entries inside the same SQLite transaction,
//! and each entry records the balance it left, so a statement needs no recomputation.
//!
//! Accounts are strings. A workspace owns four, which can never go below zero:
//! - `{ws}:paid`: money the workspace paid in (top-ups);
//! - `{ws}:credit`: this month's free credit;
//! - `{ws}:held_paid` and `{ws}:held_credit`: money set aside for sends under way.
//!
//! The rest of the world is a handful of `world:*` accounts, which may go negative: that is
//! where money comes from (`world:payments`, `world:credit_issued`, `world:adjustments`) and
//! goes to (`world:revenue`, `world:credit_expired`).

use switchboard_store::sql::{Connection, OptionalExtension, params};

use crate::model::Millis;

pub use switchboard_model::Micros;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("transaction {id} does not balance: its entries sum to {sum}")]
    Unbalanced { id: String, sum: i128 },
    #[error("transaction {id} would take {account} below zero")]
    Negative { id: String, account: String },
    #[error("transaction {id} has no entries")]
    Empty { id: String },
    #[error("ledger storage: {0}")]
    Sql(String),
    /// The database could not be reached: nothing was posted.
    #[error("ledger storage unavailable: {0}")]
    Unavailable(String),
}

impl From<switchboard_store::sql::Error> for LedgerError {
    fn from(e: switchboard_store::sql::Error) -> Self {
        if e.is_unavailable() {
            LedgerError::Unavailable(e.to_string())
        } else {
            LedgerError::Sql(e.to_string())
        }
    }
}

/// The four accounts a workspace owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Paid,
    Credit,
    HeldPaid,
    HeldCredit,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [
        Bucket::Paid,
        Bucket::Credit,
        Bucket::HeldPaid,
        Bucket::HeldCredit,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Bucket::Paid => "paid",
            Bucket::Credit => "credit",
            Bucket::HeldPaid => "held_paid",
            Bucket::HeldCredit => "held_credit",
        }
    }
}

pub fn account(workspace: &str, bucket: Bucket) -> String {
    format!("{workspace}:{}", bucket.suffix())
}

pub const PAYMENTS: &str = "world:payments";
pub const REVENUE: &str = "world:revenue";
pub const CREDIT_ISSUED: &str = "world:credit_issued";
pub const CREDIT_EXPIRED: &str = "world:credit_expired";
pub const ADJUSTMENTS: &str = "world:adjustments";

fn is_world(account: &str) -> bool {
    account.starts_with("world:")
}

/// One transaction to post.
#[derive(Debug, Clone)]
pub struct Txn {
    /// The idempotency key: posting the same id twice posts it once.
    pub id: String,
    pub workspace_id: String,
    /// `topup`, `grant`, `expire`, `hold`, `capture`, `release`, `refund`, `adjust`.
    pub kind: &'static str,
    pub delivery_id: Option<String>,
    pub memo: String,
    pub at: Millis,
    pub entries: Vec<(String, Micros)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    New,
    /// A transaction with this id was already posted; nothing changed.
    AlreadyPosted,
}

pub fn balance(c: &Connection, account: &str) -> Result<Micros, LedgerError> {
    Ok(
        c.prepare_cached("SELECT balance FROM balances WHERE account = ?1")?
            .query_row([account], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
    )
}

/// Two accounts' balances in one read (a missing account is at zero).
pub fn balances(c: &Connection, a: &str, b: &str) -> Result<(Micros, Micros), LedgerError> {
    Ok(c.prepare_cached(
        "SELECT COALESCE(SUM(CASE WHEN account = ?1 THEN balance END), 0),
                    COALESCE(SUM(CASE WHEN account = ?2 THEN balance END), 0)
             FROM balances WHERE account IN (?1, ?2)",
    )?
    .query_row([a, b], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

pub fn exists(c: &Connection, id: &str) -> Result<bool, LedgerError> {
    Ok(
        c.prepare_cached("SELECT 1 FROM ledger_transactions WHERE id = ?1")?
            .exists([id])?,
    )
}

/// Post a transaction atomically: all of it, or (on any error) none of it.
pub fn post(c: &Connection, txn: &Txn) -> Result<Posted, LedgerError> {
    if txn.entries.is_empty() {
        return Err(LedgerError::Empty { id: txn.id.clone() });
    }
    let sum: i128 = txn.entries.iter().map(|(_, a)| *a as i128).sum();
    if sum != 0 {
        return Err(LedgerError::Unbalanced {
            id: txn.id.clone(),
            sum,
        });
    }
    // Balances first, each checked as it moves. A refused entry is undone with the opposite
    // amounts before any row of the transaction is written, so a posting needs no savepoint
    // of its own (a statement pair and a sub-journal copy of every page it touched, on every
    // send). A database error on the way fails the caller's unit of work, which the store
    // rolls back whole.
    let entries: Vec<&(String, Micros)> = txn.entries.iter().filter(|(_, a)| *a != 0).collect();
    let undo = |moved: &[&(String, Micros)]| -> Result<(), LedgerError> {
        for (account, amount) in moved {
            add_to_balance(c, account, &txn.workspace_id, -*amount)?;
        }
        Ok(())
    };
    let mut after: Vec<Micros> = Vec::with_capacity(entries.len());
    for (i, (account, amount)) in entries.iter().enumerate() {
        let balance = add_to_balance(c, account, &txn.workspace_id, *amount)?;
        after.push(balance);
        if balance < 0 && !is_world(account) {
            undo(&entries[..=i])?;
            // A replay of a posted transaction may find its money already moved on.
            if exists(c, &txn.id)? {
                return Ok(Posted::AlreadyPosted);
            }
            return Err(LedgerError::Negative {
                id: txn.id.clone(),
                account: account.clone(),
            });
        }
    }
    // Whether the id was posted before is learnt from the insert itself, not a read before
    // it: replays are rare, and undoing their moves is cheaper than a read on every posting.
    let inserted = c
        .prepare_cached(
            "INSERT INTO ledger_transactions (id, workspace_id, kind, delivery_id, memo, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![txn.id, txn.workspace_id, txn.kind, txn.delivery_id, txn.memo, txn.at])?;
    if inserted == 0 {
        undo(&entries)?;
        return Ok(Posted::AlreadyPosted);
    }
    for ((account, amount), balance_after) in entries.iter().zip(after) {
        c.prepare_cached(
            "INSERT INTO ledger_entries (txn_id, workspace_id, account, amount, balance_after, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![txn.id, owner(account, &txn.workspace_id), account, amount, balance_after, txn.at])?;
    }
    Ok(Posted::New)
}

/// Move an account's kept balance; returns the balance it leaves.
fn add_to_balance(
    c: &Connection,
    account: &str,
    workspace: &str,
    amount: Micros,
) -> Result<Micros, LedgerError> {
    Ok(c.prepare_cached(
        "INSERT INTO balances (account, workspace_id, balance) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET balance = balances.balance + excluded.balance
             RETURNING balance",
    )?
    .query_row(params![account, owner(account, workspace), amount], |r| {
        r.get(0)
    })?)
}

/// World accounts are shared; every other account belongs to the workspace in its name.
fn owner<'a>(account: &'a str, workspace: &'a str) -> &'a str {
    if is_world(account) {
        ""
    } else {
        account
            .rsplit_once(':')
            .map(|(ws, _)| ws)
            .unwrap_or(workspace)
    }
}

/// What an audit checks: balances recomputed from the entries alone, the kept balances, and
/// whether every transaction balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// `(account, balance from entries, kept balance)` where the two differ.
    pub mismatched: Vec<(String, Micros, Micros)>,
    /// Transactions whose entries do not sum to zero.
    pub unbalanced: Vec<String>,
    /// Workspace accounts below zero.
    pub negative: Vec<String>,
    /// The sum of every entry ever posted (zero in a sound ledger).
    pub total: i128,
}

impl Audit {
    pub fn is_sound(&self) -> bool {
        self.mismatched.is_empty()
            && self.unbalanced.is_empty()
            && self.negative.is_empty()
            && self.total == 0
    }
}

/// Replay the entries and compare with the kept balances.
pub fn audit(c: &Connection) -> Result<Audit, LedgerError> {
    let mismatched = c
        .prepare(
            "SELECT account, replayed, kept FROM (
                SELECT b.account, COALESCE((SELECT SUM(amount) FROM ledger_entries e WHERE e.account = b.account), 0) AS replayed,
                       b.balance AS kept FROM balances b
             ) AS replay WHERE replayed != kept
             UNION ALL
             SELECT account, SUM(amount), 0 FROM ledger_entries WHERE account NOT IN (SELECT account FROM balances) GROUP BY account",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let unbalanced = c
        .prepare("SELECT txn_id FROM ledger_entries GROUP BY txn_id HAVING SUM(amount) != 0")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let negative = c
        .prepare("SELECT account FROM balances WHERE balance < 0 AND account NOT LIKE 'world:%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let total: i64 = c.query_row(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries",
        [],
        |r| r.get(0),
    )?;
    Ok(Audit {
        mismatched,
        unbalanced,
        negative,
        total: total as i128,
    })
}
