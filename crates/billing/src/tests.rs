//! Ledger invariants, proven over random sequences of everything that moves money: top-ups,
//! adjustments, holds, captures, releases, plan changes, month boundaries and auto-charge
//! with approvals and declines. After every step:
//! - every transaction's entries sum to zero, and so do all entries together;
//! - no workspace account is below zero;
//! - replaying the entries gives exactly the kept balances;
//! - the held accounts equal the holds still open;
//! - revenue equals what was captured and not refunded;
//! - repeating a step that has an idempotency key changes nothing.

use proptest::prelude::*;
use switchboard_store::sql::Connection;

use super::ledger::{self, Bucket, Txn, account};
use super::payments::{ChargeOutcome, PaymentError};
use super::wallet::{self, Charge, HoldOutcome};
use super::{prices, topups};
use crate::store::migrated_in_memory;

const WORKSPACES: [&str; 2] = ["ws_a", "ws_b"];
const DAY: i64 = 86_400_000;
/// 2026-01-15T00:00:00Z.
const START: i64 = 1_768_435_200_000;

#[derive(Debug, Clone)]
enum Op {
    Adjust {
        ws: usize,
        amount: i64,
    },
    Hold {
        ws: usize,
        delivery: u8,
        product: usize,
        units: u32,
    },
    Capture {
        delivery: u8,
    },
    Release {
        delivery: u8,
    },
    Refund {
        delivery: u8,
    },
    Plan {
        ws: usize,
        paid: bool,
    },
    Days(i64),
    AutoCharge {
        ws: usize,
        threshold: i64,
        amount: i64,
        cap: i64,
    },
    Processor {
        approve: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..50_000_000i64).prop_map(|(ws, amount)| Op::Adjust { ws, amount }),
        (0..2usize, 0..40u8, 0..3usize, 1..8u32).prop_map(|(ws, delivery, product, units)| {
            Op::Hold {
                ws,
                delivery,
                product,
                units,
            }
        }),
        (0..40u8).prop_map(|delivery| Op::Capture { delivery }),
        (0..40u8).prop_map(|delivery| Op::Release { delivery }),
        (0..40u8).prop_map(|delivery| Op::Refund { delivery }),
        (0..2usize, any::<bool>()).prop_map(|(ws, paid)| Op::Plan { ws, paid }),
        (1..40i64).prop_map(Op::Days),
        (0..2usize, 0..20_000_000i64, 1..2_000u32, 1..5i64).prop_map(
            |(ws, threshold, cents, n)| Op::AutoCharge {
                ws,
                threshold,
                amount: cents as i64 * 10_000,
                cap: cents as i64 * 10_000 * n
            }
        ),
        any::<bool>().prop_map(|approve| Op::Processor { approve }),
    ]
}

const PRODUCTS: [(&str, &str, &str); 3] = [
    ("sms", "sms", "KR"),
    ("sms", "lms", "KR"),
    ("sms", "sms", "US"),
];

/// The database a world runs on: the property holds on both backends.
enum Db {
    Sqlite(Connection<'static>),
    Postgres(Box<switchboard_store::pg_testing::MigratedDatabase>),
}

impl Db {
    fn conn(&self) -> Connection<'_> {
        match self {
            Db::Sqlite(c) => c.reborrow(),
            Db::Postgres(db) => db.connection(),
        }
    }
}

struct World {
    db: Db,
    now: i64,
    /// Which workspace each delivery was held for.
    delivery_ws: std::collections::HashMap<u8, usize>,
}

impl World {
    fn new(postgres: bool) -> World {
        let db = if postgres {
            Db::Postgres(Box::new(
                switchboard_store::pg_testing::MigratedDatabase::new("ledgerprops"),
            ))
        } else {
            Db::Sqlite(migrated_in_memory())
        };
        prices::replace_gateway_prices(&db.conn(), &prices::built_in(), "built-in", 0).unwrap();
        World {
            db,
            now: START,
            delivery_ws: Default::default(),
        }
    }

    /// One operation in one transaction, as the gateway's writer runs it.
    fn apply(&mut self, op: &Op) {
        self.db.conn().execute_batch("BEGIN").unwrap();
        self.apply_in_transaction(op);
        self.db.conn().execute_batch("COMMIT").unwrap();
    }

    fn apply_in_transaction(&mut self, op: &Op) {
        let conn = self.db.conn();
        let c = &conn;
        let now = self.now;
        match *op {
            Op::Adjust { ws, amount } => {
                let id = format!("adj:{ws}:{now}:{amount}");
                wallet::adjust(c, WORKSPACES[ws], &id, amount, "test", now).unwrap();
            }
            Op::Hold {
                ws,
                delivery,
                product,
                units,
            } => {
                // A delivery belongs to one workspace for life.
                let ws = *self.delivery_ws.entry(delivery).or_insert(ws);
                let (channel, product, country) = PRODUCTS[product];
                let charge = Charge {
                    workspace_id: WORKSPACES[ws].into(),
                    message_id: format!("msg_{delivery}"),
                    delivery_id: format!("dlv_{delivery}"),
                    channel: channel.into(),
                    product: product.into(),
                    country: country.into(),
                    units,
                };
                let before = self.snapshot();
                let outcome = wallet::hold(c, &charge, now).unwrap();
                if let HoldOutcome::Insufficient { cost, available } = outcome {
                    assert!(available < cost);
                    assert_eq!(before, self.snapshot(), "a refused hold moves no money");
                }
            }
            Op::Capture { delivery } => {
                wallet::capture(c, &format!("dlv_{delivery}"), now).unwrap()
            }
            Op::Release { delivery } => {
                wallet::release(c, &format!("dlv_{delivery}"), now).unwrap()
            }
            Op::Refund { delivery } => wallet::refund(c, &format!("dlv_{delivery}"), now).unwrap(),
            Op::Plan { ws, paid } => {
                wallet::set_plan(c, WORKSPACES[ws], if paid { "paid" } else { "free" }, now)
                    .unwrap()
            }
            Op::Days(d) => {
                self.now += d * DAY;
                for ws in WORKSPACES {
                    wallet::ensure_month(c, ws, self.now).unwrap();
                }
            }
            Op::AutoCharge {
                ws,
                threshold,
                amount,
                cap,
            } => {
                wallet::wallet(c, WORKSPACES[ws]).unwrap();
                c.execute(
                    "UPDATE wallets SET auto_enabled = 1, auto_threshold = ?2, auto_amount = ?3, auto_monthly_cap = ?4,
                        auto_card = 'tok_visa', auto_status = 'active' WHERE workspace_id = ?1",
                    switchboard_store::sql::params![WORKSPACES[ws], threshold, amount, cap],
                )
                .unwrap();
                topups::maybe_auto_charge(c, WORKSPACES[ws], now).unwrap();
            }
            Op::Processor { approve } => {
                for t in topups::claim_due(c, now + 120_000, 8).unwrap() {
                    let outcome: Result<ChargeOutcome, PaymentError> = if approve {
                        Ok(ChargeOutcome::Approved {
                            charge_id: format!("ch_{}", t.id),
                        })
                    } else {
                        Ok(ChargeOutcome::Declined {
                            code: "generic_decline".into(),
                            message: "declined".into(),
                            charge_id: None,
                        })
                    };
                    topups::record(c, &t, &outcome, now).unwrap();
                    // The processor answering twice (a retry after a crash) changes nothing.
                    let before = self.snapshot();
                    topups::record(c, &t, &outcome, now).unwrap();
                    assert_eq!(before, self.snapshot());
                }
            }
        }
    }

    fn snapshot(&self) -> Vec<(String, i64)> {
        self.db
            .conn()
            .prepare("SELECT account, balance FROM balances ORDER BY account")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn check(&self) {
        let conn = self.db.conn();
        let c = &conn;
        let audit = ledger::audit(c).unwrap();
        assert!(audit.is_sound(), "{audit:?}");
        let captured: i64 = c
            .query_row("SELECT COALESCE(SUM(credit_amount + paid_amount), 0) FROM holds WHERE state = 'captured'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ledger::balance(c, ledger::REVENUE).unwrap(), captured);
        for ws in WORKSPACES {
            for bucket in Bucket::ALL {
                assert!(ledger::balance(c, &account(ws, bucket)).unwrap() >= 0);
            }
            let (open_credit, open_paid): (i64, i64) = c
                .query_row(
                    "SELECT COALESCE(SUM(credit_amount), 0), COALESCE(SUM(paid_amount), 0) FROM holds WHERE workspace_id = ?1 AND state = 'held'",
                    [ws],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(
                ledger::balance(c, &account(ws, Bucket::HeldCredit)).unwrap(),
                open_credit
            );
            assert_eq!(
                ledger::balance(c, &account(ws, Bucket::HeldPaid)).unwrap(),
                open_paid
            );
            let in_flight: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM topups WHERE workspace_id = ?1 AND state = 'pending'",
                    [ws],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(in_flight <= 1, "at most one top-up in flight");
        }
    }
}

fn sound_after_every_step(postgres: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World::new(postgres);
    for op in ops {
        w.apply(op);
        w.check();
        // Holds, captures and releases are idempotent by delivery.
        if matches!(
            op,
            Op::Hold { .. } | Op::Capture { .. } | Op::Release { .. } | Op::Refund { .. }
        ) {
            let before = w.snapshot();
            w.apply(op);
            prop_assert_eq!(before, w.snapshot());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_sequence_keeps_the_ledger_sound(ops in proptest::collection::vec(op(), 1..60)) {
        sound_after_every_step(false, &ops)?;
    }

    /// The same property on PostgreSQL (a fresh database per case, on the test cluster).
    #[test]
    fn every_sequence_keeps_the_ledger_sound_on_postgres(ops in proptest::collection::vec(op(), 1..60)) {
        sound_after_every_step(true, &ops)?;
    }
}

#[test]
fn an_unbalanced_or_overdrawing_transaction_is_refused_whole() {
    let c = migrated_in_memory();
    let txn = |id: &str, entries: Vec<(String, i64)>| Txn {
        id: id.into(),
        workspace_id: "ws_a".into(),
        kind: "adjust",
        delivery_id: None,
        memo: String::new(),
        at: 0,
        entries,
    };
    let paid = account("ws_a", Bucket::Paid);
    assert!(matches!(
        ledger::post(
            &c,
            &txn(
                "t1",
                vec![(paid.clone(), 5), (ledger::ADJUSTMENTS.into(), -4)]
            )
        ),
        Err(ledger::LedgerError::Unbalanced { .. })
    ));
    ledger::post(
        &c,
        &txn(
            "t2",
            vec![(paid.clone(), 5), (ledger::ADJUSTMENTS.into(), -5)],
        ),
    )
    .unwrap();
    assert!(matches!(
        ledger::post(
            &c,
            &txn("t3", vec![(paid.clone(), -6), (ledger::REVENUE.into(), 6)])
        ),
        Err(ledger::LedgerError::Negative { .. })
    ));
    assert_eq!(ledger::balance(&c, &paid).unwrap(), 5);
    assert!(
        !ledger::exists(&c, "t3").unwrap(),
        "nothing of a refused transaction remains"
    );
    // Refused on its last entry, after the first had moved a balance: undone all the same.
    assert!(matches!(
        ledger::post(
            &c,
            &txn("t4", vec![(ledger::REVENUE.into(), 6), (paid.clone(), -6)])
        ),
        Err(ledger::LedgerError::Negative { .. })
    ));
    assert_eq!(ledger::balance(&c, &paid).unwrap(), 5);
    assert_eq!(ledger::balance(&c, ledger::REVENUE).unwrap(), 0);
    assert!(!ledger::exists(&c, "t4").unwrap());
    assert!(ledger::audit(&c).unwrap().is_sound());
    assert_eq!(
        ledger::post(
            &c,
            &txn(
                "t2",
                vec![(paid.clone(), 5), (ledger::ADJUSTMENTS.into(), -5)]
            )
        )
        .unwrap(),
        ledger::Posted::AlreadyPosted
    );
    assert_eq!(ledger::balance(&c, &paid).unwrap(), 5);
    // A replay whose money has moved on since (it would overdraw now) is still a replay.
    let spend = || txn("t5", vec![(paid.clone(), -5), (ledger::REVENUE.into(), 5)]);
    assert_eq!(ledger::post(&c, &spend()).unwrap(), ledger::Posted::New);
    assert_eq!(
        ledger::post(&c, &spend()).unwrap(),
        ledger::Posted::AlreadyPosted
    );
    assert_eq!(ledger::balance(&c, &paid).unwrap(), 0);
    assert_eq!(ledger::balance(&c, ledger::REVENUE).unwrap(), 5);
    assert!(ledger::audit(&c).unwrap().is_sound());
    assert!(
        c.execute("UPDATE ledger_entries SET amount = 0", [])
            .is_err(),
        "append-only"
    );
    assert!(
        c.execute("DELETE FROM ledger_transactions", []).is_err(),
        "append-only"
    );
}

#[test]
fn monthly_credit_is_granted_spent_first_and_expires() {
    let c = migrated_in_memory();
    prices::replace_gateway_prices(&c, &prices::built_in(), "built-in", 0).unwrap();
    wallet::set_plan(&c, "ws_a", "paid", START).unwrap();
    wallet::adjust(&c, "ws_a", "seed", 1_000_000, "seed", START).unwrap();
    let credit = || ledger::balance(&c, &account("ws_a", Bucket::Credit)).unwrap();
    let paid = || ledger::balance(&c, &account("ws_a", Bucket::Paid)).unwrap();
    assert_eq!(credit(), wallet::MONTHLY_CREDIT);
    let charge = Charge {
        workspace_id: "ws_a".into(),
        message_id: "m".into(),
        delivery_id: "d1".into(),
        channel: "sms".into(),
        product: "sms".into(),
        country: "US".into(),
        units: 2,
    };
    assert_eq!(
        wallet::hold(&c, &charge, START).unwrap(),
        HoldOutcome::Held { cost: 15_800 }
    );
    wallet::capture(&c, "d1", START).unwrap();
    assert_eq!(
        (credit(), paid()),
        (wallet::MONTHLY_CREDIT - 15_800, 1_000_000),
        "credit first"
    );
    // 2026-02-01: January's credit expires, February's is granted.
    wallet::ensure_month(&c, "ws_a", START + 17 * DAY).unwrap();
    assert_eq!(credit(), wallet::MONTHLY_CREDIT);
    assert_eq!(
        ledger::balance(&c, ledger::CREDIT_EXPIRED).unwrap(),
        wallet::MONTHLY_CREDIT - 15_800
    );
    assert!(ledger::audit(&c).unwrap().is_sound());
}

#[test]
fn a_capped_auto_charge_resumes_when_the_month_turns() {
    let c = migrated_in_memory();
    prices::replace_gateway_prices(&c, &prices::built_in(), "built-in", 0).unwrap();
    wallet::adjust(&c, "ws_a", "seed", 10_000, "seed", START).unwrap();
    c.execute(
        "UPDATE wallets SET auto_enabled = 1, auto_threshold = 50_000, auto_amount = 1_000_000, auto_monthly_cap = 500_000,
            auto_card = 'tok_visa', auto_status = 'active' WHERE workspace_id = 'ws_a'",
        [],
    )
    .unwrap();
    assert_eq!(topups::maybe_auto_charge(&c, "ws_a", START).unwrap(), None);
    let status = || -> String {
        c.query_row(
            "SELECT auto_status FROM wallets WHERE workspace_id = 'ws_a'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(status(), "capped");
    // Whatever touches the wallet first in the new month (here a hold) lifts the cap.
    wallet::ensure_month(&c, "ws_a", START + 20 * DAY).unwrap();
    assert_eq!(status(), "active");
}
