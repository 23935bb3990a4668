//! The checks after a crash run: each message's outcome, what the simulators recorded, and the
//! ledger read straight from the database the gateway left behind.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use switchboard_gateway::billing::ledger;
use switchboard_gateway::store::sql::Connection;

use super::chaos::{Kind, email, text};
use crate::support::sim_get;

/// Each delivery ended where its kind says: the charged texts and the emails delivered (or
/// seen), the text to the invalid number failed (so its first-of group moved on to email).
pub fn message_outcome(i: usize, kind: Kind, msg: &Value) {
    let by_channel: BTreeMap<&str, &str> = msg["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        // The email simulator also reports opens: `seen` is past `delivered`.
        .map(|d| match d["status"].as_str().unwrap() {
            "seen" => (d["channel"].as_str().unwrap(), "delivered"),
            s => (d["channel"].as_str().unwrap(), s),
        })
        .collect();
    let expected: BTreeMap<&str, &str> = match kind {
        Kind::Sms => [("sms", "delivered")].into(),
        Kind::FallsBackToEmail => [("sms", "failed"), ("email", "delivered")].into(),
        Kind::SmsAndEmail => [("sms", "delivered"), ("email", "delivered")].into(),
    };
    assert_eq!(by_channel, expected, "message {i}: {msg:#}");
    assert!(
        matches!(msg["status"].as_str(), Some("delivered" | "seen")),
        "message {i}: {msg:#}"
    );
    if kind != Kind::Sms {
        assert_eq!(msg["route"]["outcome"], "succeeded", "message {i}: {msg:#}");
    }
    assert_eq!(
        msg["deliveries"].as_array().unwrap().len(),
        by_channel.len(),
        "one delivery per channel, never a second one made by a restart: {msg:#}"
    );
}

/// Neither simulator deduplicates (Twilio and SendGrid have no idempotency key): every request
/// that reached one is an entry. A logical send that reached it twice (a retry after a lost
/// answer or a crash that the gateway did not reconcile) shows as two entries. Both channels
/// can be asked (`find-sent`), so the count must be exactly one; the counts are printed.
pub async fn providers_saw_each_send_once(sim: &str, messages: usize) {
    let all: Vec<usize> = (0..messages).collect();
    providers_saw_sends_once(sim, &all).await;
}

/// [`providers_saw_each_send_once`] for the messages numbered in `which`.
pub async fn providers_saw_sends_once(sim: &str, which: &[usize]) {
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for m in sim_get(sim, "/_sandbox/sms/messages")
        .await
        .as_array()
        .unwrap()
    {
        *texts
            .entry(m["body"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut mails: BTreeMap<String, usize> = BTreeMap::new();
    for m in sim_get(sim, "/_sandbox/email/messages")
        .await
        .as_array()
        .unwrap()
    {
        for to in m["to"].as_array().unwrap() {
            *mails.entry(to.as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let twice_sms = texts.values().filter(|n| **n > 1).count();
    let twice_mail = mails.values().filter(|n| **n > 1).count();
    println!("duplicates at the providers: sms {twice_sms}, email {twice_mail} (both reconciled)");
    for &i in which {
        let kind = Kind::of(i);
        let sms = texts.get(&text(i)).copied().unwrap_or(0);
        // The text to the invalid number is refused by the provider, so never recorded.
        let want_sms = usize::from(kind.expects_sms());
        assert_eq!(
            sms, want_sms,
            "message {i} ({kind:?}) reached the SMS provider {sms} times"
        );
        let mail = mails.get(&email(i)).copied().unwrap_or(0);
        let want_mail = usize::from(kind.expects_email());
        assert_eq!(
            mail, want_mail,
            "message {i} ({kind:?}) reached the email provider {mail} times"
        );
    }
}

/// The ledger after the run, read from the file:
/// - the kept balances replay from the entries, every transaction sums to zero and no
///   workspace account is negative (`ledger::audit`);
/// - no hold is left open, and nothing sits in the held accounts;
/// - every delivered text was captured once and every failed one released;
/// - what the paid balance lost is exactly what was captured from it: nothing was charged
///   twice. (Credit, if the sandbox plan grants any, is checked by the audit's replay.)
pub fn ledger_balances(data_dir: &Path, wallet_micros: i64) {
    let store = crate::support::open_store(data_dir);
    store
        .read_now(|c| {
            books_balance(c, wallet_micros);
            Ok::<_, switchboard_gateway::store::StoreError>(())
        })
        .unwrap();
}

fn books_balance(c: &Connection, wallet_micros: i64) {
    let audit = ledger::audit(c).unwrap();
    assert!(audit.is_sound(), "{audit:?}");

    let open: i64 = c
        .query_row("SELECT COUNT(*) FROM holds WHERE state = 'held'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(open, 0, "every hold is resolved");
    let held: i64 = c
        .query_row(
            "SELECT COALESCE(SUM(balance), 0) FROM balances
             WHERE account LIKE '%:held_paid' OR account LIKE '%:held_credit'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(held, 0, "nothing is left in the held accounts");

    let mismatched: Vec<(String, String, Option<String>)> = c
        .prepare(
            "SELECT d.id, d.status, h.state FROM deliveries d
             LEFT JOIN holds h ON h.delivery_id = d.id
             WHERE d.channel = 'sms' AND NOT (
                 (d.status IN ('delivered', 'seen') AND h.state = 'captured')
              OR (d.status = 'failed' AND (h.state = 'released' OR h.state IS NULL)))",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        mismatched.is_empty(),
        "SMS deliveries whose hold does not match their outcome: {mismatched:?}"
    );

    let (captures, captured, captured_paid): (i64, i64, i64) = c
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(credit_amount + paid_amount), 0),
                    COALESCE(SUM(paid_amount), 0)
             FROM holds WHERE state = 'captured'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let capture_txns: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM ledger_transactions WHERE id LIKE 'capture:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(capture_txns, captures, "one capture per captured hold");
    assert_eq!(
        ledger::balance(c, ledger::REVENUE).unwrap(),
        captured,
        "revenue is what was captured"
    );
    let paid: i64 = c
        .query_row(
            "SELECT COALESCE(SUM(balance), 0) FROM balances WHERE account LIKE '%:paid'
             AND account NOT LIKE 'world:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        paid + captured_paid,
        wallet_micros,
        "the paid balance lost exactly what was captured from it ({captures} texts)"
    );
    println!("ledger: {captures} texts captured for {captured} micros; books balance");
}
