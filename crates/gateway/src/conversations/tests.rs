//! The transitions of `conversations.rs`, as pure functions of the state row: no database.

use super::*;

fn fresh(now: Millis) -> ConversationState {
    ConversationState {
        id: "conv_1".into(),
        workspace_id: "ws".into(),
        contact_id: "ct".into(),
        state: "unanswered".into(),
        owner: None,
        state_at: now,
        opened_at: now,
        waiting_since: None,
        alert_due_at: None,
        created_at: now,
        hosted: false,
    }
}

fn kinds(t: &Transition) -> Vec<&str> {
    t.events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn a_round_from_the_customer_to_the_finish() {
    let opened = Transition::customer(fresh(0), true, 0, Some(600_000));
    assert_eq!(kinds(&opened), ["opened"]);
    assert_eq!(opened.state.waiting_since, Some(0));
    assert_eq!(opened.state.alert_due_at, Some(600_000));
    // A second customer message does not restart the wait, nor its alert.
    let again = Transition::customer(opened.state, false, 5_000, Some(600_000));
    assert_eq!(again.state.waiting_since, Some(0));
    assert_eq!(again.state.alert_due_at, Some(600_000));
    let answered = Transition::agent(again.state, false, Some("mem_a"), false, 65_000).unwrap();
    assert_eq!(kinds(&answered), ["taken", "answered"]);
    assert_eq!(answered.events[1].value_ms, Some(65_000));
    assert_eq!(
        answered.state.alert_due_at, None,
        "the answer cancels the alert"
    );
    assert_eq!(answered.state.state, "active");
    assert_eq!(answered.state.owner.as_deref(), Some("mem_a"));
    // Another agent is refused, then overtakes.
    assert_eq!(
        Transition::take(answered.state.clone(), "mem_b", false, 70_000).unwrap_err(),
        "mem_a"
    );
    let over = Transition::take(answered.state, "mem_b", true, 70_000).unwrap();
    assert_eq!(kinds(&over), ["overtaken"]);
    assert_eq!(over.events[0].previous_owner.as_deref(), Some("mem_a"));
    // Only the owner finishes; the handling time runs from the round's start.
    assert_eq!(
        Transition::finish(over.state.clone(), "mem_a", 90_000).unwrap_err(),
        Some("mem_b".to_string())
    );
    let done = Transition::finish(over.state, "mem_b", 90_000).unwrap();
    assert_eq!(done.events[0].value_ms, Some(90_000));
    assert_eq!(
        Transition::finish(done.state.clone(), "mem_b", 91_000).unwrap_err(),
        None
    );
    // The customer writes again: unanswered, a new round, the owner kept.
    let back = Transition::customer(done.state, false, 100_000, Some(600_000));
    assert_eq!(kinds(&back), ["reopened"]);
    assert_eq!(
        (back.state.state.as_str(), back.state.opened_at),
        ("unanswered", 100_000)
    );
    assert_eq!(back.state.owner.as_deref(), Some("mem_b"));
    assert_eq!(back.state.waiting_since, Some(100_000));
}

#[test]
fn a_hand_over_frees_the_conversation_and_starts_the_wait() {
    // An active conversation Ada owns, answered: nobody waits.
    let opened = Transition::customer(fresh(0), true, 0, Some(600_000));
    let answered = Transition::agent(opened.state, false, Some("mem_a"), false, 10_000).unwrap();
    let handed = Transition::hand_over(answered.state, 20_000, Some(600_000));
    assert_eq!(kinds(&handed), ["handed_over"]);
    assert_eq!(handed.events[0].member_id, None, "an automation, no member");
    assert_eq!(handed.events[0].previous_owner.as_deref(), Some("mem_a"));
    assert_eq!(
        (handed.state.state.as_str(), handed.state.owner.as_deref()),
        ("unanswered", None)
    );
    assert_eq!(handed.state.state_at, 20_000);
    assert_eq!(handed.state.waiting_since, Some(20_000));
    assert_eq!(handed.state.alert_due_at, Some(620_000));
    assert_eq!(handed.state.opened_at, 0, "the round goes on");
    // Any agent may take it now.
    let taken = Transition::take(handed.state, "mem_b", false, 30_000).unwrap();
    assert_eq!(kinds(&taken), ["taken"]);

    // A customer already waiting keeps their wait and its alert; no alert configured
    // arms none.
    let waiting = Transition::customer(fresh(0), true, 0, Some(600_000));
    let handed = Transition::hand_over(waiting.state, 5_000, Some(60_000));
    assert_eq!(handed.state.waiting_since, Some(0));
    assert_eq!(handed.state.alert_due_at, Some(600_000));
    assert_eq!(handed.state.state_at, 0, "it was unanswered already");
    let quiet = Transition::hand_over(fresh(0), 7_000, None);
    assert_eq!(
        (quiet.state.waiting_since, quiet.state.alert_due_at),
        (Some(7_000), None)
    );

    // A finished one begins a new round, its owner let go.
    let done = Transition::finish(taken.state, "mem_b", 40_000).unwrap();
    let back = Transition::hand_over(done.state, 50_000, None);
    assert_eq!(
        (
            back.state.state.as_str(),
            back.state.opened_at,
            back.state.owner.as_deref()
        ),
        ("unanswered", 50_000, None)
    );
    assert_eq!(back.events[0].previous_owner.as_deref(), Some("mem_b"));
}

#[test]
fn an_agent_message_without_a_member_answers_without_taking() {
    let opened = Transition::customer(fresh(0), true, 0, Some(600_000));
    let answered = Transition::agent(opened.state, false, None, false, 3_000).unwrap();
    assert_eq!(kinds(&answered), ["taken", "answered"]);
    assert_eq!(answered.state.owner, None);
    assert_eq!(answered.state.state, "active");
}

#[test]
fn a_release_gives_the_conversation_back_keeping_its_state_and_wait() {
    let opened = Transition::customer(fresh(0), true, 0, None);
    let taken = Transition::take(opened.state, "mem_a", false, 1_000).unwrap();
    let mut s = taken.state;
    s.waiting_since = Some(500);
    assert_eq!(
        Transition::release(s.clone(), "mem_b", false, 2_000).unwrap_err(),
        "mem_a",
        "someone else's"
    );
    let released = Transition::release(s, "mem_a", false, 2_000).unwrap();
    assert_eq!(kinds(&released), ["released"]);
    assert_eq!(released.events[0].previous_owner.as_deref(), Some("mem_a"));
    assert_eq!(
        (
            released.state.owner.as_deref(),
            released.state.state.as_str(),
            released.state.waiting_since
        ),
        (None, "active", Some(500))
    );
    let again = Transition::release(released.state, "mem_b", false, 3_000).unwrap();
    assert!(again.events.is_empty(), "nobody's: nothing to release");
}
