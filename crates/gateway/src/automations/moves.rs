//! How a run moves, as pure functions of its row: into a step, along a branch, into a wait,
//! to its end. Each move bumps `seq`, so the store's conditional update lets exactly one of
//! several racing movers (the engine, a reply, a timeout, another node) commit it.

use crate::model::Millis;
use crate::model::automation::{Action, NewAutomation, Step};
use crate::store::automation_runs::{Run, RunEvent};

/// A run's next row and the events the move leaves.
#[derive(Debug, Clone)]
pub struct Move {
    pub run: Run,
    pub events: Vec<RunEvent>,
}

pub fn event(
    run: &Run,
    kind: &str,
    step: Option<&str>,
    branch: Option<&str>,
    at: Millis,
) -> RunEvent {
    RunEvent {
        workspace_id: run.workspace_id.clone(),
        automation_id: run.automation_id.clone(),
        run_id: run.id.clone(),
        contact_id: run.contact_id.clone(),
        conversation_id: run.conversation_id.clone(),
        kind: kind.to_string(),
        step: step.map(str::to_string),
        branch: branch.map(str::to_string),
        channel: None,
        at,
    }
}

fn next_row(run: &Run) -> Run {
    let mut r = run.clone();
    r.seq += 1;
    r
}

/// The step named `id`.
pub fn step<'a>(def: &'a NewAutomation, id: &str) -> Option<&'a Step> {
    def.steps.iter().find(|s| s.id == id)
}

/// Where a step that does not branch goes: its `next`, else the step after it in the list;
/// `None` after the last.
pub fn default_next(def: &NewAutomation, id: &str) -> Option<String> {
    let at = def.steps.iter().position(|s| s.id == id)?;
    def.steps[at]
        .next
        .clone()
        .or_else(|| def.steps.get(at + 1).map(|s| s.id.clone()))
}

/// Whether a step ends the run when it is done.
pub fn is_terminal(s: &Step) -> bool {
    matches!(s.action, Action::End(_) | Action::Handover(_))
}

/// Leave the current step along `branch` to `to`; with no step to go to, the run has reached
/// a final step of its branch: completed.
pub fn advance(run: &Run, branch: &str, to: Option<String>, now: Millis) -> Move {
    let from = run.step.clone();
    let mut r = next_row(run);
    r.attempt = 0;
    r.wait_due_at = None;
    let mut events = vec![event(run, "branch", from.as_deref(), Some(branch), now)];
    match to {
        Some(to) => {
            events.push(event(run, "step", Some(&to), None, now));
            r.state = "running".into();
            r.step = Some(to);
        }
        None => {
            r.state = "completed".into();
            r.ended_at = Some(now);
            events.push(event(run, "completed", from.as_deref(), None, now));
        }
    }
    Move { run: r, events }
}

/// The run reached an `end` or `handover` step: completed there.
pub fn complete(run: &Run, now: Millis) -> Move {
    let mut r = next_row(run);
    r.state = "completed".into();
    r.wait_due_at = None;
    r.ended_at = Some(now);
    Move {
        events: vec![event(run, "completed", run.step.as_deref(), None, now)],
        run: r,
    }
}

/// Wait at the current step until `due`.
pub fn wait(run: &Run, due: Millis) -> Move {
    let mut r = next_row(run);
    r.state = "waiting".into();
    r.wait_due_at = Some(due);
    Move {
        run: r,
        events: Vec::new(),
    }
}

/// The same step runs again (an `ask` whose answer was not valid asks again).
pub fn again(run: &Run, attempt: u32) -> Move {
    let mut r = next_row(run);
    r.state = "running".into();
    r.wait_due_at = None;
    r.attempt = attempt;
    Move {
        run: r,
        events: Vec::new(),
    }
}

/// A wait ran out with no step for its timeout: the run ends `timed_out`.
pub fn time_out(run: &Run, now: Millis) -> Move {
    let mut r = next_row(run);
    r.state = "timed_out".into();
    r.wait_due_at = None;
    r.ended_at = Some(now);
    Move {
        events: vec![event(
            run,
            "branch",
            run.step.as_deref(),
            Some("timeout"),
            now,
        )],
        run: r,
    }
}

/// The run ends before its flow did: `stopped` (an agent took over, hosting went off, the
/// automation was deleted) or `failed` (a send was refused), with why.
pub fn end_early(run: &Run, state: &str, reason: &str, now: Millis) -> Move {
    let mut r = next_row(run);
    r.state = state.into();
    r.stop_reason = Some(reason.into());
    r.wait_due_at = None;
    r.ended_at = Some(now);
    Move {
        events: vec![event(
            run,
            "stopped",
            run.step.as_deref(),
            Some(reason),
            now,
        )],
        run: r,
    }
}

/// The visitor did something in the run at `step`: the first time, a `participated` event.
pub fn participate(m: &mut Move, step: Option<&str>, now: Millis) {
    if !m.run.participated {
        m.run.participated = true;
        let e = event(&m.run, "participated", step, None, now);
        m.events.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> NewAutomation {
        serde_json::from_value(serde_json::json!({"name": "t",
        "trigger": {"type": "conversation.started"},
        "steps": [
            {"id": "a", "send": {"text": "hi"}},
            {"id": "b", "wait": {"minutes": 10, "reply": "d", "timeout": "c"}},
            {"id": "c", "send": {"text": "bye"}, "next": "e"},
            {"id": "d", "end": {}},
            {"id": "e", "tag": {"tags": ["x"]}}
        ]}))
        .unwrap()
    }

    fn run() -> Run {
        Run {
            id: "run_1".into(),
            workspace_id: "ws".into(),
            automation_id: "aut".into(),
            version: 1,
            conversation_id: "conv".into(),
            contact_id: "ct".into(),
            state: "running".into(),
            step: Some("a".into()),
            seq: 1,
            attempt: 0,
            wait_due_at: None,
            answers: "{}".into(),
            participated: false,
            stop_reason: None,
            started_at: 0,
            ended_at: None,
        }
    }

    #[test]
    fn next_is_the_named_step_else_the_following_one_else_none() {
        let d = def();
        assert_eq!(default_next(&d, "a").as_deref(), Some("b"));
        assert_eq!(default_next(&d, "c").as_deref(), Some("e"));
        assert_eq!(default_next(&d, "e"), None);
    }

    #[test]
    fn every_move_bumps_seq_and_leaves_its_events() {
        let r = run();
        let m = advance(&r, "next", Some("b".into()), 5);
        assert_eq!((m.run.seq, m.run.step.as_deref()), (2, Some("b")));
        let kinds: Vec<_> = m.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["branch", "step"]);
        let w = wait(&m.run, 600_005);
        assert_eq!((w.run.seq, w.run.state.as_str()), (3, "waiting"));
        let mut done = advance(&w.run, "reply", None, 9);
        participate(&mut done, Some("b"), 9);
        participate(&mut done, Some("b"), 9);
        assert_eq!(done.run.state, "completed");
        let kinds: Vec<_> = done.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["branch", "completed", "participated"]);
        let t = time_out(&w.run, 7);
        assert_eq!((t.run.state.as_str(), t.run.seq), ("timed_out", 4));
    }
}
