use serde_json::{Value, json};

use super::*;

/// `(field, code)` of every violation, in the order found.
fn found(body: Value) -> Vec<(String, String)> {
    check(&body)
        .violations
        .into_iter()
        .map(|v| (v.field, v.code))
        .collect()
}

fn fields(body: Value) -> Vec<String> {
    found(body).into_iter().map(|(f, _)| f).collect()
}

fn smallest() -> Value {
    json!({"name": "recall", "trigger": {"type": "visitor.no_reply", "minutes": 30,
        "visitor": "returning", "states": ["unassigned"]},
        "steps": [{"id": "s1", "send": {"text": "Still there?"}}]})
}

/// The smallest automation with these steps.
fn with_steps(steps: Value) -> Value {
    let mut a = smallest();
    a["steps"] = steps;
    a
}

fn one_step(kind: &str, body: Value) -> Value {
    with_steps(json!([{"id": "s1", kind: body}]))
}

#[test]
fn the_smallest_automation_is_valid_and_reads() {
    let c = check(&smallest());
    assert!(c.violations.is_empty(), "{:?}", c.violations);
    assert!(c.references.is_empty());
    let a = parse(smallest()).unwrap();
    assert_eq!(a.name, "recall");
    assert!(a.enabled);
}

#[test]
fn every_mistake_is_reported_with_its_path() {
    let body = json!({
        "name": "  ",
        "enabled": "yes",
        "colour": "red",
        "trigger": {"type": "visitor.no_reply", "minutes": 0, "visitor": "old",
            "states": ["hosted", "nowhere", "hosted"]},
        "condition": {"==": [{"var": "values.x"}, 1]},
        "steps": [
            {"id": "s1", "send": {}},
            {"id": "s 2", "wait": {"minutes": 50000, "reply": "nowhere"}},
            {"id": "s3", "tag": {"tags": []}, "send": {"text": "x"}},
            {"id": "s1", "end": {"why": 1}},
        ]
    });
    let got = found(body);
    let expected = [
        ("colour", "unknown_field"),
        ("name", "out_of_range"),
        ("enabled", "invalid_type"),
        ("trigger.minutes", "out_of_range"),
        ("trigger.visitor", "invalid_value"),
        ("trigger.states[1]", "invalid_value"),
        ("trigger.states[2]", "duplicate"),
        ("condition.==[0].var", "invalid_condition"),
        ("steps[1].id", "invalid_value"),
        ("steps[3].id", "duplicate"),
        ("steps[0].send", "required"),
        ("steps[1].wait.minutes", "out_of_range"),
        ("steps[1].wait.reply", "unknown_step"),
        ("steps[2].tag", "not_allowed"),
        ("steps[3].end.why", "unknown_field"),
    ];
    for (field, code) in expected {
        assert!(
            got.contains(&(field.to_string(), code.to_string())),
            "{field} ({code}) missing from {got:#?}"
        );
    }
    assert!(parse(json!({"name": 5})).is_err());
}

#[test]
fn required_fields_and_types() {
    assert_eq!(
        found(json!({})),
        [
            ("name".to_string(), "required".to_string()),
            ("trigger".into(), "required".into()),
            ("steps".into(), "required".into()),
        ]
    );
    assert_eq!(fields(json!([1])), ["."]);
    let mut a = smallest();
    a["condition"] = Value::Null;
    a["steps"][0]["next"] = Value::Null;
    assert!(fields(a).is_empty(), "null is an absent optional field");
    let mut a = smallest();
    a["enabled"] = Value::Null;
    assert_eq!(fields(a), ["enabled"]);
    let mut a = smallest();
    a["trigger"]["minutes"] = json!(1.5);
    assert_eq!(
        found(a),
        [("trigger.minutes".into(), "invalid_type".into())]
    );
    let mut a = smallest();
    a["name"] = json!("x".repeat(101));
    assert_eq!(fields(a), ["name"]);
}

#[test]
fn triggers() {
    let trig = |t: Value| {
        let mut a = smallest();
        a["trigger"] = t;
        fields(a)
    };
    assert!(trig(json!({"type": "conversation.started"})).is_empty());
    assert_eq!(
        trig(json!({"type": "conversation.started", "minutes": 3})),
        ["trigger.minutes"]
    );
    assert_eq!(trig(json!({"type": "visitor.left"})), ["trigger.type"]);
    assert_eq!(trig(json!({"minutes": 3})), ["trigger.type"]);
    assert_eq!(
        trig(
            json!({"type": "visitor.no_reply", "minutes": 10081, "states": [], "off_platform": 1})
        ),
        ["trigger.minutes", "trigger.states", "trigger.off_platform"]
    );
    assert!(trig(json!({"type": "visitor.no_reply", "minutes": 10080})).is_empty());
    let many: Vec<String> = (0..51).map(|i| format!("w{i}")).collect();
    assert_eq!(
        trig(json!({"type": "message.received", "keywords": many})),
        ["trigger.keywords"]
    );
    assert_eq!(
        trig(
            json!({"type": "message.received", "keywords": ["price", " ", "x".repeat(101)],
            "condition": {"in": ["help", {"var": "message.text"}]}})
        ),
        ["trigger.keywords[1]", "trigger.keywords[2]"]
    );
    assert_eq!(
        trig(json!({"type": "message.received", "condition": {"var": "answers.email"}})),
        ["trigger.condition.var"]
    );
    assert!(trig(json!({"type": "result.submitted", "form": "lead"})).is_empty());
    assert!(trig(json!({"type": "result.submitted"})).is_empty());
    assert_eq!(
        trig(json!({"type": "result.submitted", "form": ""})),
        ["trigger.form"]
    );
}

#[test]
fn conditions_name_the_roots_each_place_has() {
    let mut a = smallest();
    a["condition"] = json!({"==": [{"var": "message.text"}, "x"]});
    assert_eq!(fields(a), ["condition.==[0].var"]);
    let mut a = smallest();
    a["condition"] = json!({"==": [{"var": "contact.name"}, "Ada"]});
    assert!(fields(a).is_empty());
    let branch = |c: Value| {
        fields(with_steps(json!([
            {"id": "b", "branch": {"if": c, "then": "yes", "else": "no"}},
            {"id": "yes", "end": {}},
            {"id": "no", "end": {}},
        ])))
    };
    assert!(branch(json!({"var": "answers.email"})).is_empty());
    assert_eq!(
        branch(json!({"var": "message.text"})),
        ["steps[0].branch.if.var"]
    );
    assert_eq!(branch(json!("yes")), ["steps[0].branch.if"]);
    assert_eq!(
        fields(one_step("branch", json!({"then": "s1"}))),
        ["steps[0].branch.if", "steps[0]"],
        "without `if` (and a branch to itself is a loop)"
    );
}

#[test]
fn steps_have_an_id_and_one_kind() {
    assert_eq!(fields(with_steps(json!([]))), ["steps"]);
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"id": format!("s{i}"), "end": {}}))
        .collect();
    let got = fields(with_steps(json!(many)));
    assert_eq!(got[0], "steps");
    assert_eq!(
        fields(with_steps(json!([{"send": {"text": "x"}}]))),
        ["steps[0].id"]
    );
    assert_eq!(
        fields(with_steps(json!([{"id": "x".repeat(65), "end": {}}]))),
        ["steps[0].id"]
    );
    assert_eq!(
        fields(with_steps(json!([{"id": "s1"}]))),
        ["steps[0]"],
        "no kind"
    );
    assert_eq!(
        fields(with_steps(json!([{"id": "s1", "end": {}, "handover": {}}]))),
        ["steps[0].end"],
        "the first kind in the list of kinds counts"
    );
    assert_eq!(
        fields(with_steps(json!([{"id": "s1", "fly": {}, "end": {}}]))),
        ["steps[0].fly"]
    );
    assert_eq!(fields(with_steps(json!(["s1"]))), ["steps[0]"]);
}

#[test]
fn next_is_for_kinds_that_do_not_branch_and_names_a_step() {
    let steps = json!([
        {"id": "a", "send": {"text": "x"}, "next": "c"},
        {"id": "b", "end": {}, "next": "c"},
        {"id": "c", "tag": {"tags": ["t"]}, "next": "zz"},
        {"id": "d", "wait": {"minutes": 5}, "next": "a"},
        {"id": "e", "handover": {}, "next": 3},
    ]);
    let got = found(with_steps(steps));
    assert!(got.contains(&("steps[1].next".into(), "not_allowed".into())));
    assert!(got.contains(&("steps[2].next".into(), "unknown_step".into())));
    assert!(got.contains(&("steps[3].next".into(), "not_allowed".into())));
    assert!(got.contains(&("steps[4].next".into(), "not_allowed".into())));
    // b, d and e: nothing leads to them (a jumps to c, whose next is unknown).
    assert!(got.contains(&("steps[1]".into(), "unreachable".into())));
}

#[test]
fn every_branch_target_must_exist() {
    let steps = json!([
        {"id": "w", "wait": {"minutes": 5, "reply": "a", "timeout": "x1",
            "buttons": {"yes": "a", "no": "x2", "": "a"}}},
        {"id": "a", "ask": {"field": "email", "text": "Your email?", "minutes": 60,
            "answered": "x3", "invalid": "b", "timeout": "b"}},
        {"id": "b", "branch": {"if": true, "then": "x4", "else": "w"}},
    ]);
    let mut got = found(with_steps(steps));
    got.sort();
    let expected = [
        ("steps[0].wait.buttons.", "out_of_range"),
        ("steps[0].wait.buttons.no", "unknown_step"),
        ("steps[0].wait.timeout", "unknown_step"),
        ("steps[1].ask.answered", "unknown_step"),
        ("steps[2].branch.then", "unknown_step"),
    ];
    assert_eq!(got, expected.map(|(f, c)| (f.to_string(), c.to_string())));
}

#[test]
fn a_loop_must_wait_for_the_visitor() {
    // A loop through a wait step is fine: each time round, the run waits.
    let waits = json!([
        {"id": "ask", "send": {"text": "Pick one", "quick_replies": [{"title": "A", "payload": "a"}]}},
        {"id": "w", "wait": {"minutes": 10, "reply": "ask", "buttons": {"a": "done"}}},
        {"id": "done", "end": {}},
    ]);
    assert!(fields(with_steps(waits)).is_empty());
    // Without one it never stops: reported once, on the loop's first step in the list.
    let spins = json!([
        {"id": "start", "send": {"text": "hi"}},
        {"id": "x", "tag": {"tags": ["a"]}},
        {"id": "y", "branch": {"if": true, "then": "x", "else": "out"}},
        {"id": "out", "end": {}},
    ]);
    assert_eq!(
        found(with_steps(spins)),
        [("steps[1]".to_string(), "cycle".to_string())]
    );
    let itself = json!([{"id": "s1", "send": {"text": "x"}, "next": "s1"}]);
    assert_eq!(fields(with_steps(itself)), ["steps[0]"]);
    // Two loops, two violations.
    let two = json!([
        {"id": "a", "branch": {"if": true, "then": "a", "else": "b"}},
        {"id": "b", "tag": {"tags": ["t"]}, "next": "c"},
        {"id": "c", "tag": {"tags": ["t"]}, "next": "b"},
    ]);
    let got = found(with_steps(two));
    assert_eq!(
        got,
        [
            ("steps[0]".to_string(), "cycle".to_string()),
            ("steps[1]".into(), "cycle".into())
        ]
    );
}

#[test]
fn unreachable_steps_are_violations() {
    let steps = json!([
        {"id": "a", "send": {"text": "x"}},
        {"id": "b", "end": {}},
        {"id": "orphan", "send": {"text": "never"}},
        {"id": "after", "end": {}},
    ]);
    // `b` ends the run; `after` follows `orphan`, which nothing leads to.
    assert_eq!(fields(with_steps(steps)), ["steps[2]", "steps[3]"]);
    let branches_reach = json!([
        {"id": "w", "wait": {"minutes": 5, "timeout": "late"}},
        {"id": "early", "end": {}},
        {"id": "late", "end": {}},
    ]);
    assert_eq!(fields(with_steps(branches_reach)), ["steps[1]"]);
}

#[test]
fn send_limits() {
    let send = |b: Value| fields(one_step("send", b));
    assert!(
        send(json!({"template": {"id": "welcome", "variables": {"#{name}": "Ada"}}})).is_empty()
    );
    assert!(
        send(json!({"media": [{"kind": "image", "url": "https://x.test/a.png", "mime_type": "image/png", "size": 10}]}))
            .is_empty()
    );
    assert_eq!(
        send(json!({"text": "x".repeat(2001)})),
        ["steps[0].send.text"]
    );
    assert!(send(json!({"text": "x".repeat(2000)})).is_empty());
    let qr: Vec<Value> = (0..14)
        .map(|i| json!({"title": "t", "payload": format!("p{i}")}))
        .collect();
    assert_eq!(
        send(json!({"text": "x", "quick_replies": qr})),
        ["steps[0].send.quick_replies"]
    );
    assert_eq!(
        send(json!({"text": "x", "quick_replies": [{"title": "x".repeat(21), "payload": ""}]})),
        [
            "steps[0].send.quick_replies[0].title",
            "steps[0].send.quick_replies[0].payload"
        ]
    );
    let b = json!({"title": "Open", "url": "https://x.test"});
    assert_eq!(
        send(json!({"text": "x", "buttons": [b, b, b, b]})),
        ["steps[0].send.buttons"]
    );
    assert_eq!(
        send(json!({"text": "x", "buttons": [{"title": "Nothing"}]})),
        ["steps[0].send.buttons[0]"]
    );
    let card = json!({"title": "Card"});
    let cards: Vec<Value> = (0..11).map(|_| card.clone()).collect();
    assert_eq!(send(json!({"carousel": cards})), ["steps[0].send.carousel"]);
    assert_eq!(
        send(json!({"text": "x", "policy": "x".repeat(101)})),
        ["steps[0].send.policy"]
    );
    assert_eq!(
        send(json!({"media": [{"kind": "hologram", "url": "u", "mime_type": "m", "size": -1}]})),
        ["steps[0].send.media[0].kind", "steps[0].send.media[0].size"]
    );
    assert_eq!(send(json!({"policy": "sms-first"})), ["steps[0].send"]);
    assert_eq!(
        send(json!({"text": "x", "colour": 1})),
        ["steps[0].send.colour"]
    );
}

#[test]
fn wait_and_ask_limits() {
    assert!(fields(one_step("wait", json!({"minutes": 43200}))).is_empty());
    assert_eq!(
        fields(one_step("wait", json!({"minutes": 43201, "buttons": []}))),
        ["steps[0].wait.minutes", "steps[0].wait.buttons"]
    );
    let long = "p".repeat(1001);
    assert_eq!(
        fields(one_step(
            "wait",
            json!({"minutes": 1, "buttons": {long: "s1"}})
        ))[0],
        format!("steps[0].wait.buttons.{}", "p".repeat(1001))
    );
    let ask = |b: Value| fields(one_step("ask", b));
    assert!(ask(json!({"field": "phone", "text": "Your number?", "minutes": 5})).is_empty());
    assert_eq!(
        ask(
            json!({"field": "name", "text": "", "minutes": 0, "attempts": 11, "retry_text": "x".repeat(2001)})
        ),
        [
            "steps[0].ask.field",
            "steps[0].ask.text",
            "steps[0].ask.minutes",
            "steps[0].ask.attempts",
            "steps[0].ask.retry_text"
        ]
    );
    assert_eq!(
        ask(json!({"text": "?", "minutes": 5, "attempts": 0})),
        ["steps[0].ask.field", "steps[0].ask.attempts"]
    );
    let a = parse(one_step(
        "ask",
        json!({"field": "email", "text": "?", "minutes": 5}),
    ))
    .unwrap();
    let crate::model::automation::Action::Ask(ask) = &a.steps[0].action else {
        panic!("an ask step: {a:?}");
    };
    assert_eq!(ask.attempts, 3, "the default");
}

#[test]
fn tag_assign_notify_handover_end() {
    let tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    assert_eq!(
        fields(one_step("tag", json!({"tags": tags}))),
        ["steps[0].tag.tags"]
    );
    assert_eq!(
        fields(one_step(
            "tag",
            json!({"tags": ["ok", " ", "x".repeat(51)]})
        )),
        ["steps[0].tag.tags[1]", "steps[0].tag.tags[2]"]
    );
    let c = check(&one_step("assign", json!({"member": "mem_1"})));
    assert!(c.violations.is_empty());
    assert_eq!(
        c.references,
        [Reference {
            at: "steps[0].assign".into(),
            target: Target::Member(crate::model::MemberTarget {
                member: "mem_1".into()
            })
        }]
    );
    assert_eq!(
        fields(one_step("assign", json!({}))),
        ["steps[0].assign.member"]
    );
    let c = check(&one_step(
        "notify",
        json!({"targets": [{"email": "a@example.com"}, {"email": "nope"},
            {"connection": "con_1", "to": {"phone": "+15551234567"}}, {"connection": "con_1"},
            {"webhook_endpoint": "ep_1"}, {"pager": "x"}, {"member": "mem_1", "email": "a@b.c"}]}),
    ));
    let got: Vec<&str> = c.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        got,
        [
            "steps[0].notify.targets[1].email",
            "steps[0].notify.targets[3].to",
            "steps[0].notify.targets[5]",
            "steps[0].notify.targets[6].member"
        ]
    );
    let at: Vec<&str> = c.references.iter().map(|r| r.at.as_str()).collect();
    assert_eq!(
        at,
        ["steps[0].notify.targets[2]", "steps[0].notify.targets[4]"]
    );
    assert_eq!(
        TARGETS_MAX,
        crate::rules::TARGETS_MAX,
        "as many as a rule's"
    );
    assert_eq!(
        fields(one_step("notify", json!({"targets": []}))),
        ["steps[0].notify.targets"]
    );
    assert!(fields(one_step("handover", json!({}))).is_empty());
    assert_eq!(
        fields(one_step("handover", json!({"to": "x"}))),
        ["steps[0].handover.to"]
    );
    assert_eq!(fields(one_step("end", json!(null))), ["steps[0].end"]);
}
