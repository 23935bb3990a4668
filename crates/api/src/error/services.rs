//! What each service's error becomes on the wire: the status, the code and the field it
//! names. One `From` per service error, so a handler only writes `?`.

use axum::http::StatusCode;

use super::ApiError;
use switchboard_gateway::billing::BillingError;
use switchboard_gateway::callbacks::CallbackError;
use switchboard_gateway::connections::ConnectionsError;
use switchboard_gateway::events::log::EndpointSecretError;
use switchboard_gateway::intake::IntakeError;

impl From<switchboard_gateway::lifecycle::LifecycleError> for ApiError {
    fn from(e: switchboard_gateway::lifecycle::LifecycleError) -> Self {
        match e {
            switchboard_gateway::lifecycle::LifecycleError::Store(s) => s.into(),
            switchboard_gateway::lifecycle::LifecycleError::Wallet(w) if w.is_unavailable() => {
                ApiError::database_unavailable(&w)
            }
            switchboard_gateway::lifecycle::LifecycleError::Wallet(w) => {
                tracing::error!(error = %w, "wallet error");
                ApiError::internal()
            }
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Store(s) => s.into(),
            BillingError::Wallet(w) if w.is_unavailable() => ApiError::database_unavailable(&w),
            BillingError::Wallet(w) => {
                tracing::error!(error = %w, "wallet error");
                ApiError::internal()
            }
        }
    }
}

impl From<ConnectionsError> for ApiError {
    fn from(e: ConnectionsError) -> Self {
        match e {
            ConnectionsError::Store(s) => s.into(),
            ConnectionsError::Vault(v) => {
                tracing::error!(error = %v, "connection secrets");
                ApiError::internal()
            }
        }
    }
}

impl From<EndpointSecretError> for ApiError {
    fn from(e: EndpointSecretError) -> Self {
        match e {
            EndpointSecretError::Store(s) => s.into(),
            EndpointSecretError::Vault(v) => {
                tracing::error!(error = %v, "webhook endpoint secret");
                ApiError::internal()
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::UnknownChannel { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_channel",
                e.to_string(),
            )
            .field("channel"),
            IntakeError::UnknownConnection { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_connection",
                e.to_string(),
            )
            .field("connection"),
            IntakeError::Store(s) => s.into(),
            IntakeError::Unreachable(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreachable",
                e.to_string(),
            )
            .field("to"),
            IntakeError::Invalid {
                channel,
                violations,
            } => {
                let summary: Vec<String> = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.message))
                    .collect();
                ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    // The failure reason too: an invalid message fails with invalid_format,
                    // is not stored, costs nothing and has nothing to resend.
                    code: "invalid_format",
                    message: format!("not valid for channel `{channel}`: {}", summary.join("; ")),
                    field: violations.first().map(|v| v.field.clone()),
                    violations,
                    reason: Some("invalid_format".into()),
                    retry_after_s: 0,
                }
            }
            IntakeError::SenderDomainUnverified { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sender_domain_unverified",
                e.to_string(),
            )
            .field("from.email"),
            IntakeError::Plugin(call) => {
                tracing::warn!(error = %call, "plugin failed during intake");
                ApiError::plugin(&call)
            }
        }
    }
}

impl From<switchboard_gateway::contact_edits::ContactEditError> for ApiError {
    fn from(e: switchboard_gateway::contact_edits::ContactEditError) -> Self {
        use switchboard_gateway::contact_edits::ContactEditError;
        match e {
            ContactEditError::NotFound => ApiError::not_found("contact"),
            ContactEditError::Invalid { field, message } => ApiError::invalid(field, message),
            ContactEditError::Taken { field, .. } => {
                ApiError::new(StatusCode::CONFLICT, "address_taken", e.to_string()).field(field)
            }
            ContactEditError::Store(s) => s.into(),
        }
    }
}

impl From<switchboard_gateway::conversations::ConversationError> for ApiError {
    fn from(e: switchboard_gateway::conversations::ConversationError) -> Self {
        use switchboard_gateway::conversations::ConversationError;
        match e {
            ConversationError::NotFound(what) => ApiError::not_found(what),
            // A member the body names and the workspace does not have is a missing resource,
            // as an unknown id in the path is.
            ConversationError::UnknownMember(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()).field("member")
            }
            ConversationError::Taken { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conversation_taken", e.to_string())
            }
            ConversationError::AlreadyFinished => {
                ApiError::new(StatusCode::CONFLICT, "conversation_finished", e.to_string())
            }
            ConversationError::Store(s) => s.into(),
        }
    }
}

impl From<switchboard_gateway::hosting::HostingError> for ApiError {
    fn from(e: switchboard_gateway::hosting::HostingError) -> Self {
        use switchboard_gateway::hosting::HostingError;
        match e {
            // Ids and members the body names and the workspace does not have are missing
            // resources, as in the other conversation actions.
            HostingError::UnknownId { index } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
                    .field(format!("ids[{index}]"))
            }
            HostingError::UnknownMember(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()).field("member")
            }
            HostingError::Store(s) => s.into(),
        }
    }
}

impl From<switchboard_gateway::chat_switch::ChatSwitchError> for ApiError {
    fn from(e: switchboard_gateway::chat_switch::ChatSwitchError) -> Self {
        use switchboard_gateway::chat_switch::ChatSwitchError;
        match e {
            ChatSwitchError::Invalid { field, message } => ApiError::invalid(field, message),
            ChatSwitchError::Store(s) => s.into(),
        }
    }
}

impl From<switchboard_gateway::rules::RulesError> for ApiError {
    fn from(e: switchboard_gateway::rules::RulesError) -> Self {
        use switchboard_gateway::rules::RulesError;
        match e {
            RulesError::NotFound(what) => ApiError::not_found(what),
            RulesError::Invalid { field, message } => ApiError::invalid(field, message),
            // A body naming something the workspace does not have is a mistake in the body
            // (422): a 404 would say the rule in the path is gone.
            RulesError::Missing { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                message,
            )
            .field(field),
            RulesError::NameTaken(_) => {
                ApiError::new(StatusCode::CONFLICT, "name_taken", e.to_string()).field("name")
            }
            RulesError::KeyReused(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            )
            .field("Idempotency-Key"),
            RulesError::Store(s) => s.into(),
        }
    }
}

impl From<switchboard_gateway::sending::SendError> for ApiError {
    fn from(e: switchboard_gateway::sending::SendError) -> Self {
        use switchboard_gateway::sending::SendError;
        match e {
            SendError::Intake(e) => e.into(),
            SendError::Store(e) => e.into(),
            SendError::KeyReused(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            )
            .field("Idempotency-Key"),
        }
    }
}

impl From<switchboard_gateway::sending::ResendError> for ApiError {
    fn from(e: switchboard_gateway::sending::ResendError) -> Self {
        use switchboard_gateway::sending::ResendError;
        match e {
            ResendError::NotFound => ApiError::not_found("message"),
            ResendError::NotFailed(m) => ApiError::new(StatusCode::CONFLICT, "not_failed", m),
            ResendError::Routed(m) => ApiError::new(StatusCode::CONFLICT, "routed", m),
            ResendError::Refused { reason, message } => {
                ApiError::new(StatusCode::CONFLICT, "resend_refused", message)
                    .reason(reason.as_str())
            }
            ResendError::Send(e) => e.into(),
        }
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::UnknownConnection(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            CallbackError::Unauthorized(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string())
            }
            CallbackError::BadRequest(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_callback", e.to_string())
            }
            CallbackError::Plugin(call) => {
                tracing::warn!(error = %call, "plugin failed on a callback");
                ApiError::plugin(&call)
            }
            CallbackError::Store(s) => s.into(),
            CallbackError::Lifecycle(e) => e.into(),
            CallbackError::Conversation(e) => e.into(),
        }
    }
}
