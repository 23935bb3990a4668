//! The API document's schema of an automation, written by hand from [`super::limits`].
//!
//! Why by hand: the gateway checks a definition field by field instead of through serde
//! (every mistake reported at once), and serde's shape here (`Step` flattening its kind,
//! variants that are open objects to utoipa) derives into a schema that says less than the
//! gateway enforces, or the wrong thing (`Step` would even share its component name with a
//! policy's). So the document states what is checked: lengths, ranges, closed objects, the
//! one kind key of a step and which kinds take `next`. What no schema can state (that a
//! target names a step of the automation, that the steps form no loop without a wait, that a
//! member exists) is the gateway's 422.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::limits::*;
use super::{AutomationView, NewAutomation};

/// Not blank: one character other than a space, tab or line break (as the API has it).
const NOT_BLANK: &str = "[^ \\t\\n\\r]";
/// A step id, and so every branch target.
const STEP_ID: &str = "^[A-Za-z0-9_-]{1,64}$";

fn text(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
}

fn name(max: usize) -> ObjectBuilder {
    text(1, max).pattern(Some(NOT_BLANK))
}

fn or_null(b: ObjectBuilder, t: Type) -> ObjectBuilder {
    b.schema_type(SchemaType::from_iter([t, Type::Null]))
}

fn integer(min: u64, max: u64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
}

fn words(list: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(list.iter().copied()))
}

fn array(items: impl Into<RefOr<Schema>>, min: usize, max: usize) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(items.into())
        .min_items(Some(min))
        .max_items(Some(max))
}

/// A branch: the id of a step of this automation; absent or `null` where the branch may end
/// the run.
fn target(nullable: bool) -> ObjectBuilder {
    let b = text(1, STEP_ID_MAX).pattern(Some(STEP_ID));
    if nullable {
        or_null(b, Type::String)
    } else {
        b
    }
}

/// A JSONLogic condition (`docs/rules.md`): `true`, `false`, or one operator.
fn condition(nullable: bool, description: &str) -> Schema {
    let mut b = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .min_properties(Some(1))
                .max_properties(Some(1)),
        );
    if nullable {
        b = b.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    b.description(Some(description)).into()
}

/// An object with only these properties.
fn closed(props: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> ObjectBuilder {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (k, v) in props {
        b = b.property(k, v);
    }
    for r in required {
        b = b.required(*r);
    }
    b
}

fn s(b: impl Into<Schema>) -> RefOr<Schema> {
    RefOr::T(b.into())
}

fn trigger() -> Schema {
    let kind = |t: &str| s(words(&[t]));
    OneOfBuilder::new()
        .item(closed(
            vec![
                ("type", kind("visitor.no_reply")),
                (
                    "minutes",
                    s(integer(1, NO_REPLY_MINUTES_MAX).description(Some(
                        "Minutes the visitor has not answered an agent's (or the bot's) message.",
                    ))),
                ),
                (
                    "visitor",
                    s(words(&["new", "returning", "any"]).default(Some("any".into()))),
                ),
                (
                    "states",
                    s(array(words(&["hosted", "unassigned", "assigned"]), 1, 3)
                        .unique_items(true)
                        .description(Some(
                            "The conversation states it applies in; all three by default.",
                        ))),
                ),
                (
                    "off_platform",
                    s(ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .default(Some(false.into()))),
                ),
            ],
            &["type", "minutes"],
        ))
        .item(closed(
            vec![("type", kind("conversation.started"))],
            &["type"],
        ))
        .item(closed(
            vec![
                ("type", kind("message.received")),
                ("keywords", s(array(name(KEYWORD_MAX), 0, KEYWORDS_MAX))),
                (
                    "condition",
                    s(condition(true, "On `{message, contact, conversation}`.")),
                ),
            ],
            &["type"],
        ))
        .item(closed(
            vec![
                ("type", kind("result.submitted")),
                ("form", s(or_null(name(NAME_MAX), Type::String))),
            ],
            &["type"],
        ))
        .description(Some("What starts a run."))
        .into()
}

fn button() -> ObjectBuilder {
    closed(
        vec![
            ("title", s(name(TITLE_MAX))),
            ("url", s(or_null(text(1, URL_MAX), Type::String))),
            ("payload", s(or_null(text(1, PAYLOAD_MAX), Type::String))),
        ],
        &["title"],
    )
    .description(Some("A link (`url`) or a postback (`payload`)."))
}

fn send() -> ObjectBuilder {
    let quick_reply = closed(
        vec![
            ("title", s(name(QUICK_REPLY_TITLE_MAX))),
            ("payload", s(text(1, PAYLOAD_MAX))),
            ("image_url", s(or_null(text(1, URL_MAX), Type::String))),
        ],
        &["title", "payload"],
    );
    let card = closed(
        vec![
            ("title", s(name(TITLE_MAX))),
            ("subtitle", s(or_null(text(0, TITLE_MAX), Type::String))),
            ("image_url", s(or_null(text(1, URL_MAX), Type::String))),
            ("buttons", s(array(button(), 0, BUTTONS_MAX))),
        ],
        &["title"],
    );
    let media = closed(
        vec![
            ("kind", s(words(&["image", "video", "audio", "file"]))),
            ("url", s(text(1, URL_MAX))),
            ("mime_type", s(text(1, MIME_TYPE_MAX))),
            ("size", s(integer(0, i64::MAX as u64))),
        ],
        &["kind", "url", "mime_type", "size"],
    );
    let template = closed(
        vec![
            ("id", s(name(TEMPLATE_ID_MAX))),
            (
                "variables",
                s(ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))),
            ),
        ],
        &["id"],
    );
    closed(
        vec![
            ("text", s(or_null(text(1, TEXT_MAX), Type::String))),
            ("quick_replies", s(array(quick_reply, 0, QUICK_REPLIES_MAX))),
            ("buttons", s(array(button(), 0, BUTTONS_MAX))),
            ("carousel", s(array(card, 0, CAROUSEL_MAX))),
            ("media", s(array(media, 0, MEDIA_MAX))),
            ("template", s(OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null)).item(template))),
            ("policy", s(or_null(name(POLICY_MAX), Type::String).description(Some(
                "Send through this routing policy (by name) instead of the conversation's channel.",
            )))),
        ],
        &[],
    )
    .description(Some(
        "A message to the visitor: at least one of text, template, media or carousel.",
    ))
}

/// Each kind's body, and whether it takes `next` (kinds that branch or end do not).
fn kinds() -> Vec<(&'static str, ObjectBuilder, bool)> {
    let minutes = || s(integer(1, WAIT_MINUTES_MAX));
    let wait = closed(
        vec![
            ("minutes", minutes()),
            (
                "reply",
                s(target(true).description(Some("Any message that is not a button's payload."))),
            ),
            (
                "buttons",
                s(ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property_names(Some(text(1, PAYLOAD_MAX)))
                    .additional_properties(Some(target(false)))
                    .description(Some(
                        "A button's or quick reply's payload, and the step it leads to.",
                    ))),
            ),
            ("timeout", s(target(true))),
        ],
        &["minutes"],
    );
    let ask = closed(
        vec![
            ("field", s(words(&["email", "phone"]))),
            ("text", s(text(1, TEXT_MAX))),
            ("minutes", minutes()),
            (
                "attempts",
                s(integer(1, ATTEMPTS_MAX).default(Some(3.into()))),
            ),
            ("retry_text", s(or_null(text(1, TEXT_MAX), Type::String))),
            ("answered", s(target(true))),
            ("invalid", s(target(true))),
            ("timeout", s(target(true))),
        ],
        &["field", "text", "minutes"],
    );
    let branch = closed(
        vec![
            (
                "if",
                s(condition(false, "On `{contact, conversation, answers}`.")),
            ),
            ("then", s(target(true))),
            ("else", s(target(true))),
        ],
        &["if"],
    );
    let tag = closed(
        vec![("tags", s(array(name(TAG_MAX), 1, TAGS_MAX)))],
        &["tags"],
    );
    let assign = closed(vec![("member", s(name(MEMBER_MAX)))], &["member"]);
    let targets = array(RefOr::Ref(Ref::from_schema_name("Target")), 1, TARGETS_MAX);
    let notify = closed(vec![("targets", s(targets))], &["targets"]);
    vec![
        ("send", send(), true),
        ("wait", wait, false),
        ("ask", ask, false),
        ("branch", branch, false),
        ("tag", tag, true),
        ("assign", assign, true),
        ("handover", closed(vec![], &[]), false),
        ("notify", notify, true),
        ("end", closed(vec![], &[]), false),
    ]
}

fn step() -> Schema {
    let mut one = OneOfBuilder::new().description(Some(
        "A step: an `id`, exactly one kind, and for kinds that do not branch or end an \
         optional `next` (by default the step after it in the list).",
    ));
    for (kind, body, takes_next) in kinds() {
        let mut props = vec![
            ("id", s(text(1, STEP_ID_MAX).pattern(Some(STEP_ID)))),
            (kind, s(body)),
        ];
        if takes_next {
            props.push(("next", s(target(true))));
        }
        one = one.item(closed(props, &["id", kind]));
    }
    one.into()
}

/// The definition's object; a view adds what the server keeps.
fn definition(view: bool) -> Object {
    let mut b = closed(
        vec![
            ("name", s(name(NAME_MAX))),
            (
                "enabled",
                s(ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .default(Some(true.into()))
                    .description(Some(
                        "A disabled automation starts no run; runs already going finish.",
                    ))),
            ),
            ("trigger", s(trigger())),
            (
                "condition",
                s(condition(
                    true,
                    "On `{contact, conversation}`, checked when the trigger fires.",
                )),
            ),
            ("steps", s(array(step(), 1, STEPS_MAX))),
        ],
        &["name", "trigger", "steps"],
    );
    if view {
        b = b
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .property("version", integer(1, u64::from(u32::MAX)).description(Some(
                "1 for the first definition; each `PUT` makes the next. Runs finish on the version they started on.",
            )))
            .property("created_at", ObjectBuilder::new().schema_type(Type::String))
            .property("updated_at", ObjectBuilder::new().schema_type(Type::String)
                .description(Some("When this version was written.")));
        for r in ["enabled", "id", "version", "created_at", "updated_at"] {
            b = b.required(r);
        }
        b = b.description(Some("An automation as stored: one version's definition."));
    } else {
        b = b
            .description(Some(
                "`POST /v1/automations`, `PUT /v1/automations/{id}` (a new version).",
            ))
            .examples([
                serde_json::json!({"name": "recall", "trigger": {"type": "visitor.no_reply",
                "minutes": 30, "visitor": "returning", "states": ["unassigned"]},
                "steps": [{"id": "s1", "send": {"text": "Still there?"}}]}),
            ]);
    }
    b.build()
}

/// The components the definition names: a `notify` step's targets.
fn referenced(out: &mut Vec<(String, RefOr<Schema>)>) {
    out.push((
        <crate::Target as ToSchema>::name().into_owned(),
        <crate::Target as PartialSchema>::schema(),
    ));
    <crate::Target as ToSchema>::schemas(out);
}

impl PartialSchema for NewAutomation {
    fn schema() -> RefOr<Schema> {
        s(definition(false))
    }
}

impl ToSchema for NewAutomation {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NewAutomation")
    }
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        referenced(out);
    }
}

impl PartialSchema for AutomationView {
    fn schema() -> RefOr<Schema> {
        s(definition(true))
    }
}

impl ToSchema for AutomationView {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AutomationView")
    }
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        referenced(out);
    }
}
