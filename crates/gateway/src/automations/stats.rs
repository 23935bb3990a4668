//! An automation's figures and its visitors, from the events runs recorded
//! (`docs/automations.md` defines each figure).

use std::collections::BTreeMap;

use crate::Gateway;
use crate::model::automation::{
    AutomationStats, AutomationVisitor, Ratio, RunSummary, StepStats, VisitorOutcome,
};
use crate::model::{Millis, rfc3339};
use crate::store::StoreError;
use crate::store::automation_runs as runs;
use crate::store::automation_stats as rows;

impl Gateway {
    /// The figures of `[since, until)`; `None` when the workspace has no such automation.
    pub async fn automation_stats(
        &self,
        ws: String,
        id: String,
        since: Millis,
        until: Millis,
    ) -> Result<Option<AutomationStats>, StoreError> {
        self.store
            .read(move |c| {
                if crate::store::automations::automation(c, &ws, &id)?.is_none() {
                    return Ok(None);
                }
                let totals = rows::totals(c, &id, since, until)?;
                let mut steps: BTreeMap<String, StepStats> = BTreeMap::new();
                for (step, branch, n) in rows::step_counts(c, &id, since, until)? {
                    let s = steps.entry(step.clone()).or_insert_with(|| StepStats {
                        step,
                        entered: 0,
                        branches: BTreeMap::new(),
                    });
                    match branch {
                        Some(b) => *s.branches.entry(b).or_default() += n,
                        None => s.entered += n,
                    }
                }
                Ok(Some(AutomationStats {
                    automation: id,
                    since: rfc3339(since),
                    until: rfc3339(until),
                    triggers: totals.triggers,
                    triggered_visitors: totals.triggered_visitors,
                    participants: totals.participants,
                    completed: totals.completed,
                    participation: Ratio::new(totals.participants, totals.triggered_visitors),
                    completion: Ratio::new(totals.completed, totals.triggered_visitors),
                    steps: steps.into_values().collect(),
                }))
            })
            .await
    }

    /// One page of the automation's visitors, by contact id; `None` when there is no such
    /// automation.
    pub async fn automation_visitors(
        &self,
        ws: String,
        id: String,
        status: Option<VisitorOutcome>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Option<Vec<AutomationVisitor>>, StoreError> {
        self.store
            .read(move |c| {
                if crate::store::automations::automation(c, &ws, &id)?.is_none() {
                    return Ok(None);
                }
                let status = status.map(|s| match s {
                    VisitorOutcome::Completed => "completed",
                    VisitorOutcome::Participated => "participated",
                    VisitorOutcome::NotParticipated => "not_participated",
                });
                let mut out = Vec::new();
                for v in rows::visitors(c, &id, status, after.as_deref(), limit)? {
                    let Some(run) = runs::run(c, &v.run_id)? else {
                        continue;
                    };
                    out.push(AutomationVisitor {
                        conversation_url: format!("/v1/conversations/{}", v.conversation_id),
                        contact: v.contact_id,
                        conversation: v.conversation_id,
                        status: if v.completed {
                            VisitorOutcome::Completed
                        } else if v.participated {
                            VisitorOutcome::Participated
                        } else {
                            VisitorOutcome::NotParticipated
                        },
                        trigger_count: v.triggers,
                        channel: v.channel.unwrap_or_else(|| "chat".into()),
                        first_triggered_at: rfc3339(v.first_triggered_at),
                        last_triggered_at: rfc3339(v.last_triggered_at),
                        run: RunSummary {
                            id: run.id,
                            version: run.version,
                            state: run.state,
                            step: run.step,
                            stop_reason: run.stop_reason,
                            started_at: rfc3339(run.started_at),
                            ended_at: run.ended_at.map(rfc3339),
                        },
                    });
                }
                Ok(Some(out))
            })
            .await
    }
}
