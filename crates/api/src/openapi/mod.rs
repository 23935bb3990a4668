//! The OpenAPI document, generated from the handlers and model types. The checked-in copy
//! (`schemas/openapi.json`) is compared with this in a test, so it cannot go stale, and
//! `GET /openapi.json` serves the same bytes.
//!
//! What the derive macros cannot see is added by modifiers, each from one definition the
//! server also uses: the shared error answers ([`responses`]), the links between operations
//! on one resource ([`links`]).

mod links;
mod responses;
pub(crate) mod shape;
mod variants;

use links::Links;
use responses::ErrorResponses;
use variants::ClosedVariants;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use switchboard_gateway::model;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard", description = "Messaging gateway API: one schema for every channel."),
    paths(
        super::messages::create,
        super::messages::preview,
        super::messages::get,
        super::messages::list,
        super::resend::resend,
        super::resend::redrive,
        super::contacts::list,
        super::contacts::create,
        super::contacts::get,
        super::contacts::patch,
        super::contacts::history,
        super::contacts::events,
        super::contacts::receipt,
        super::billing::balance,
        super::billing::set_plan,
        super::billing::set_auto_charge,
        super::billing::top_up,
        super::billing::set_low_balance_alert,
        super::billing::topups,
        super::billing::ledger,
        super::billing::usage,
        super::billing::usage_csv,
        super::billing::message_cost,
        super::billing::prices,
        super::billing::add_price,
        super::billing::delete_price,
        super::connections::list,
        super::connections::get,
        super::connections::create,
        super::connections::patch,
        super::connections::delete,
        super::connections::bulk_resend,
        super::connections::sync,
        super::connections::chat_changes,
        super::connections::blocked,
        super::connections::block,
        super::connections::unblock,
        super::sender_domains::list,
        super::sender_domains::create,
        super::sender_domains::get,
        super::sender_domains::update,
        super::sender_domains::validate,
        super::sender_domains::delete,
        super::webhook_endpoints::create,
        super::webhook_endpoints::list,
        super::webhook_endpoints::get,
        super::webhook_endpoints::patch,
        super::webhook_endpoints::delete,
        super::webhook_endpoints::rotate_secret,
        super::webhook_endpoints::deliveries,
        super::webhook_endpoints::replay,
        super::webhook_endpoints::events,
        super::workspaces::create,
        super::workspaces::list,
        super::workspaces::current,
        super::workspaces::update,
        super::workspaces::keys,
        super::workspaces::create_key,
        super::workspaces::revoke_key,
        super::members::list,
        super::members::invite,
        super::members::invitations,
        super::members::accept,
        super::members::update,
        super::members::remove,
        super::conversations::activity,
        super::conversations::take,
        super::conversations::release,
        super::conversations::finish,
        super::conversations::list,
        super::conversations::stats,
        super::conversations::summary,
        super::conversation_tags::list,
        super::conversation_tags::create,
        super::conversation_tags::get,
        super::conversation_tags::update,
        super::conversation_tags::delete,
        super::conversation_tags::tag,
        super::conversation_tags::untag,
        super::hosting::switch,
        super::automation_runs::stats,
        super::automation_runs::runs,
        super::rules::list,
        super::rules::create,
        super::rules::get,
        super::rules::replace,
        super::rules::delete,
        super::rules::submit,
        super::rules::result,
        super::rules::inbox,
        super::automations::list,
        super::automations::create,
        super::automations::get,
        super::automations::replace,
        super::automations::delete,
        super::automations::version,
        super::member_prefs::get,
        super::member_prefs::put,
        super::member_prefs::activity,
        super::conversations::get,
        super::conversations::post_message,
        super::conversations::seen,
        super::policies::list,
        super::policies::create,
        super::policies::get,
        super::policies::update,
        super::policies::delete,
        super::webhooks::receive,
        super::webhooks::verify,
        super::system::plugins,
        super::system::healthz,
        super::system::metrics,
        super::system::openapi_document,
    ),
    modifiers(&BearerAuth, &Components, &ClosedVariants, &ErrorResponses, &Links),
)]
pub struct ApiDoc;

/// Every type the document names as a component, listed once. The list feeds both the
/// document ([`Components`]) and the test that no two types share a component name: utoipa
/// keys components by the type's bare name, so two `DeliveryView`s would silently become one.
macro_rules! component_types {
    ($($t:ty),* $(,)?) => {
        /// `(component name, where it comes from, schema)` for each listed type and for every
        /// type its schema references, in list order.
        pub fn component_sources() -> Vec<(String, String, RefOr<Schema>)> {
            let mut out = Vec::new();
            $(
                out.push((
                    <$t as ToSchema>::name().into_owned(),
                    std::any::type_name::<$t>().to_string(),
                    <$t as PartialSchema>::schema(),
                ));
                let mut referenced = Vec::new();
                <$t as ToSchema>::schemas(&mut referenced);
                for (name, schema) in referenced {
                    out.push((name, format!("referenced by {}", std::any::type_name::<$t>()), schema));
                }
            )*
            out
        }
    };
}

component_types!(
    model::NewMessage,
    model::Sender,
    model::Recipient,
    model::Content,
    model::Media,
    model::MediaKind,
    model::Button,
    model::CarouselElement,
    model::Category,
    model::Accepted,
    model::MessageView,
    model::DeliveryView,
    model::AttemptView,
    model::AttemptOutcome,
    model::FailureView,
    model::TimelineEntry,
    model::MessagePage,
    model::RedriveRequest,
    model::RedriveReport,
    model::MessageSummary,
    model::Violation,
    model::Preview,
    model::PluginView,
    model::PluginList,
    model::RefusedPluginView,
    model::ConfigKeyView,
    model::ContentLimitsView,
    model::Status,
    model::FailureReason,
    model::QuickReply,
    model::TemplateRef,
    model::ResendView,
    model::ResendWhen,
    model::BlockedUrlView,
    model::ConnectionView,
    model::QuarantineView,
    model::NewContact,
    model::NewAddress,
    model::AddressKind,
    model::ContactView,
    model::AddressView,
    model::ContactPage,
    model::ContactHistoryEntry,
    model::ContactEventView,
    model::AutoReplyView,
    model::ChatMode,
    model::ChatChangeView,
    super::contacts::ContactChange,
    super::conversations::Take,
    super::workspaces::WorkspaceChange,
    model::Target,
    model::EmailTarget,
    model::MemberTarget,
    model::ConnectionTarget,
    model::WebhookEndpointTarget,
    model::automation::AutomationStats,
    model::automation::AutomationVisitorPage,
    model::automation::AutomationVisitor,
    model::automation::RunSummary,
    model::automation::StepStats,
    model::automation::Ratio,
    model::automation::VisitorOutcome,
    model::NewRule,
    model::RuleView,
    model::NewResult,
    model::ResultView,
    model::NotificationView,
    model::InboxItem,
    model::automation::NewAutomation,
    model::automation::AutomationView,
    model::automation::AutomationPage,
    model::MemberPreferences,
    model::MemberActivity,
    model::MemberPresence,
    super::conversations::Finish,
    model::ConversationSummary,
    model::ConversationPage,
    model::ConversationStats,
    model::ConversationRecord,
    model::ConversationFigures,
    model::ConversationTotals,
    model::TagView,
    model::TagInput,
    model::NewTag,
    model::TagsInput,
    model::ListLabel,
    model::DataScope,
    super::conversation_tags::ConversationTags,
    model::ConversationEventView,
    model::HostingChangeView,
    super::hosting::HostingSwitch,
    super::hosting::HostingSwitched,
    switchboard_gateway::receipts::Receipt,
    switchboard_gateway::receipts::ReceiptEvent,
    switchboard_gateway::contact_sync::SyncReport,
    super::connections::NewConnection,
    super::connections::ConnectionChange,
    super::connections::BulkResend,
    super::connections::BulkResendReport,
    super::connections::BulkResent,
    super::connections::BulkRefused,
    super::connections::SyncRequest,
    super::connections::BlockUrl,
    model::NewSenderDomain,
    model::SenderDomainView,
    model::SenderDomainStatus,
    model::DnsRecordView,
    model::FollowUpSender,
    super::sender_domains::SenderDomainChange,
    super::webhook_endpoints::NewEndpoint,
    super::webhook_endpoints::EndpointChange,
    super::webhook_endpoints::Replay,
    super::webhook_endpoints::ReplayReport,
    super::webhook_endpoints::EventList,
    switchboard_gateway::events::EventView,
    switchboard_gateway::events::log::EndpointView,
    switchboard_gateway::events::log::EndpointWithSecret,
    switchboard_gateway::events::log::DeliveryView,
    switchboard_gateway::events::log::AttemptView,
    super::workspaces::NewWorkspaceRequest,
    super::workspaces::NewKeyRequest,
    super::members::InviteRequest,
    super::members::AcceptRequest,
    super::members::MemberChange,
    model::Role,
    model::MemberView,
    model::InvitationView,
    model::NewInvitation,
    switchboard_gateway::tenancy::Scope,
    switchboard_gateway::tenancy::ApiKeyView,
    switchboard_gateway::tenancy::NewApiKey,
    switchboard_gateway::tenancy::WorkspaceView,
    switchboard_gateway::tenancy::NewWorkspace,
    switchboard_gateway::routing::policy::Policy,
    switchboard_gateway::routing::policy::Step,
    switchboard_gateway::routing::policy::Send,
    switchboard_gateway::routing::policy::Lane,
    switchboard_gateway::routing::policy::Condition,
    model::PolicyRef,
    model::RouteView,
    model::RouteStepView,
    model::RouteEntryView,
    super::policies::PolicyView,
    model::ConversationView,
    model::ConversationMessageView,
    super::conversations::NewConversationMessage,
    super::conversations::Author,
    super::conversations::Posted,
    super::conversations::Seen,
    super::conversations::Activity,
    super::conversations::ActivityKind,
    super::conversations::PresenceView,
    switchboard_gateway::billing::views::BalanceView,
    switchboard_gateway::billing::views::AutoChargeView,
    switchboard_gateway::billing::views::AutoChargeSettings,
    switchboard_gateway::billing::views::PlanChange,
    switchboard_gateway::billing::views::LowBalanceAlert,
    switchboard_gateway::billing::views::NewTopUp,
    switchboard_gateway::billing::views::TopUpView,
    switchboard_gateway::billing::views::StatementEntry,
    switchboard_gateway::billing::views::StatementPage,
    switchboard_gateway::billing::views::UsageRow,
    switchboard_gateway::billing::views::UsageReport,
    switchboard_gateway::billing::views::MessageCostView,
    switchboard_gateway::billing::views::DeliveryCharge,
    switchboard_gateway::billing::views::CostQuote,
    switchboard_gateway::billing::prices::PriceSpec,
    switchboard_gateway::billing::prices::PriceView,
    model::DeliveryCost,
    super::error::ErrorBody,
    super::error::ErrorDetail,
    super::system::Health,
    super::system::DatabaseHealth,
);

/// Adds [`component_sources`] to the document's components.
struct Components;

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, _, schema) in component_sources() {
            components.schemas.insert(name, schema);
        }
    }
}

/// `schema` that also takes `null`: for a field a request may leave out or send as `null`
/// (serde reads both as `None`), described by a schema built by hand.
pub(crate) fn or_null<S: Into<utoipa::openapi::schema::Schema>>(
    schema: S,
) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    let mut schema = schema.into();
    let with_null = |t: &SchemaType| match t {
        SchemaType::Type(t) => SchemaType::from_iter([t.clone(), Type::Null]),
        other => other.clone(),
    };
    match &mut schema {
        Schema::Object(o) => o.schema_type = with_null(&o.schema_type),
        Schema::Array(a) => a.schema_type = with_null(&a.schema_type),
        _ => {}
    }
    schema
}

/// The security scheme of a workspace's API keys (scoped, rate-limited).
pub(crate) const API_KEY: &str = "api_key";

/// Every operation of one path.
pub(crate) fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as checked in: pretty JSON with a trailing newline.
pub fn document() -> String {
    // The document is plain data (string keys, no maps keyed by anything else), which
    // serde_json always serialises: a failure here is a bug in this crate, not an input.
    let s = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises to JSON");
    // utoipa 5 writes a Link's `operationId` as `operation_id`, which no OpenAPI reader
    // knows. Only links carry that key (a test checks), so the rename is exact.
    let mut s = s.replace("\"operation_id\": ", "\"operationId\": ");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Two Rust types with one component name: the document would keep only one of them.
    #[test]
    fn no_two_types_share_a_component_name() {
        let mut by_name: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (name, source, schema) in component_sources() {
            let json = serde_json::to_string(&schema).expect("a schema serialises");
            let seen = by_name.entry(name).or_default();
            if !seen.iter().any(|(_, j)| *j == json) {
                seen.push((source, json));
            }
        }
        let clashes: Vec<String> = by_name
            .iter()
            .filter(|(_, defs)| defs.len() > 1)
            .map(|(name, defs)| {
                let sources: Vec<&str> = defs.iter().map(|(s, _)| s.as_str()).collect();
                format!("{name}: {}", sources.join(" / "))
            })
            .collect();
        assert!(
            clashes.is_empty(),
            "component names used by more than one schema: {clashes:#?}"
        );
    }

    /// Every component in the document comes from the list above, so the check above covers
    /// the types the operations reference too.
    #[test]
    fn every_component_is_listed() {
        let listed: std::collections::BTreeSet<String> = component_sources()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        let doc = ApiDoc::openapi();
        let components = doc
            .components
            .as_ref()
            .expect("the document has components");
        let missing: Vec<&String> = components
            .schemas
            .keys()
            .filter(|k| !listed.contains(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "components not in `component_types!`: {missing:?}"
        );
    }
}
