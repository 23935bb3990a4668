//! The figures of automations, summed from `automation_events` at read time: never a
//! counter kept beside them, so they hold across restarts and concurrent traffic. What each
//! figure means is the gateway's (`docs/automations.md`).

use crate::StoreError;
use crate::model::Millis;
use crate::sql::{Connection, params};

/// Triggers, triggered visitors, and of those the participants and the completed, in
/// `[since, until)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub triggers: u64,
    pub triggered_visitors: u64,
    pub participants: u64,
    pub completed: u64,
}

pub fn totals(
    c: &Connection,
    automation_id: &str,
    since: Millis,
    until: Millis,
) -> Result<Totals, StoreError> {
    let (triggers, visitors): (i64, i64) = c
        .prepare_cached(
            "SELECT COUNT(*), COUNT(DISTINCT contact_id) FROM automation_events
             WHERE automation_id = ?1 AND kind = 'triggered' AND at >= ?2 AND at < ?3",
        )?
        .query_row(params![automation_id, since, until], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let among_triggered = |kind: &str| -> Result<u64, StoreError> {
        let n: i64 = c
            .prepare_cached(
                "SELECT COUNT(DISTINCT contact_id) FROM automation_events
                 WHERE automation_id = ?1 AND kind = ?4 AND at >= ?2 AND at < ?3
                   AND contact_id IN (SELECT contact_id FROM automation_events
                       WHERE automation_id = ?1 AND kind = 'triggered' AND at >= ?2 AND at < ?3)",
            )?
            .query_row(params![automation_id, since, until, kind], |r| r.get(0))?;
        Ok(n as u64)
    };
    Ok(Totals {
        triggers: triggers as u64,
        triggered_visitors: visitors as u64,
        participants: among_triggered("participated")?,
        completed: among_triggered("completed")?,
    })
}

/// `(step, None, entered)` and `(step, Some(branch), taken)` in `[since, until)`.
pub fn step_counts(
    c: &Connection,
    automation_id: &str,
    since: Millis,
    until: Millis,
) -> Result<Vec<(String, Option<String>, u64)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT step, branch, COUNT(*) FROM automation_events
         WHERE automation_id = ?1 AND kind IN ('step', 'branch') AND at >= ?2 AND at < ?3
         GROUP BY kind, step, branch ORDER BY step, branch",
    )?
    .query_map(params![automation_id, since, until], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
    })?
    .collect::<Result<_, _>>()?)
}

/// One visitor's row of an automation: from their events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorRow {
    pub contact_id: String,
    pub conversation_id: String,
    pub triggers: u64,
    pub first_triggered_at: Millis,
    pub last_triggered_at: Millis,
    pub channel: Option<String>,
    pub completed: bool,
    pub participated: bool,
    /// The visitor's latest run.
    pub run_id: String,
}

/// Visitors by contact id after `after`; `status` is `completed`, `participated` (and not
/// completed) or `not_participated`.
pub fn visitors(
    c: &Connection,
    automation_id: &str,
    status: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<VisitorRow>, StoreError> {
    let having = match status {
        Some("completed") => "HAVING SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END) > 0",
        Some("participated") => {
            "HAVING SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END) = 0 AND SUM(CASE WHEN kind = 'participated' THEN 1 ELSE 0 END) > 0"
        }
        Some(_) => {
            "HAVING SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END) = 0 AND SUM(CASE WHEN kind = 'participated' THEN 1 ELSE 0 END) = 0"
        }
        None => "",
    };
    Ok(c.prepare_cached(&format!(
        "SELECT contact_id, MIN(conversation_id),
                SUM(CASE WHEN kind = 'triggered' THEN 1 ELSE 0 END),
                MIN(CASE WHEN kind = 'triggered' THEN at END),
                MAX(CASE WHEN kind = 'triggered' THEN at END),
                MIN(CASE WHEN kind = 'triggered' THEN channel END),
                SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 'participated' THEN 1 ELSE 0 END),
                MAX(run_id)
         FROM automation_events
         WHERE automation_id = ?1 AND contact_id > ?2
         GROUP BY contact_id {having}
         ORDER BY contact_id LIMIT ?3"
    ))?
    .query_map(
        params![automation_id, after.unwrap_or(""), i64::from(limit)],
        |r| {
            Ok(VisitorRow {
                contact_id: r.get(0)?,
                conversation_id: r.get(1)?,
                triggers: r.get::<_, i64>(2)? as u64,
                first_triggered_at: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                last_triggered_at: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                channel: r.get(5)?,
                completed: r.get::<_, i64>(6)? > 0,
                participated: r.get::<_, i64>(7)? > 0,
                run_id: r.get(8)?,
            })
        },
    )?
    .collect::<Result<_, _>>()?)
}
