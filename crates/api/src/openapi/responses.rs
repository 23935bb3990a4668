//! The error answers every operation can give, documented from the operation's own shape
//! rather than repeated in each handler's attribute.
//!
//! Why from the shape: the answers below come from code every handler shares (the key
//! extractors in `auth`, `error::read_body` and `parse_json`, the query rejection, the
//! `not_found` of a path's resource), so whether an operation can give them follows from
//! what it takes: a key, a body, a query or a path parameter. A handler still declares what
//! is its own (409 on a conflict, 422 on a rule of its own, 502 from a plugin), and its
//! declaration wins where both name a status.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// One shared answer: its status, component name and description.
struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
}

const BAD_REQUEST: Shared = Shared {
    status: "400",
    name: "BadRequest",
    description: "Malformed request: a body that is not JSON (`invalid_json`), a field of the \
                  wrong type or unknown (`invalid_request`), or a query or header value out of \
                  range (`invalid_query`), or a path segment that does not decode (`invalid_path`). \
                  `field` names the offending field.",
};
const UNAUTHORIZED: Shared = Shared {
    status: "401",
    name: "Unauthorized",
    description: "Missing, malformed, unknown or revoked key (`unauthorized`).",
};
const FORBIDDEN: Shared = Shared {
    status: "403",
    name: "Forbidden",
    description: "The key is valid but lacks the scope this operation needs (`forbidden`); the \
                  message names the scope.",
};
const NOT_FOUND: Shared = Shared {
    status: "404",
    name: "NotFound",
    description: "The resource named in the path does not exist in this workspace \
                  (`not_found`).",
};
const PAYLOAD_TOO_LARGE: Shared = Shared {
    status: "413",
    name: "PayloadTooLarge",
    description: "The body is over the size limit (`payload_too_large`).",
};
const RATE_LIMITED: Shared = Shared {
    status: "429",
    name: "RateLimited",
    description: "This key is over its request rate (`rate_limited`); retry after \
                  `Retry-After` seconds.",
};

const ALL: [Shared; 6] = [
    BAD_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
];

/// Which shared answers an operation can give, from what it takes.
fn shared_for(op: &Operation) -> Vec<&'static Shared> {
    let schemes: Vec<String> = op
        .security
        .iter()
        .flatten()
        .filter_map(|s| serde_json::to_value(s).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .collect();
    let has = |place: ParameterIn| {
        op.parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let mut out = Vec::new();
    let has_body = op.request_body.is_some();
    // A path segment that does not decode (bad percent-encoding, an id out of range) is a
    // 400 too, from the path extractor.
    if has_body || has(ParameterIn::Query) || has(ParameterIn::Header) || has(ParameterIn::Path) {
        out.push(&BAD_REQUEST);
    }
    if !schemes.is_empty() {
        out.push(&UNAUTHORIZED);
    }
    // Keys carry scopes and a rate limit; the operator key is one key with neither.
    if schemes.iter().any(|s| s == super::API_KEY) {
        out.push(&FORBIDDEN);
        out.push(&RATE_LIMITED);
    }
    if has(ParameterIn::Path) {
        out.push(&NOT_FOUND);
    }
    if has_body {
        out.push(&PAYLOAD_TOO_LARGE);
    }
    out
}

fn response(shared: &Shared) -> Response {
    let mut builder = ResponseBuilder::new()
        .description(shared.description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
    if shared.status == "429" {
        builder = builder.header("Retry-After", {
            let mut h = Header::new(Object::with_type(Type::Integer));
            h.description = Some("Whole seconds to wait before retrying.".into());
            h
        });
    }
    builder.build()
}

/// Adds the shared answers to `components.responses` and refers each operation to those it
/// can give.
pub struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in &ALL {
            components
                .responses
                .insert(shared.name.to_string(), RefOr::T(response(shared)));
        }
        for item in openapi.paths.paths.values_mut() {
            for op in super::operations_mut(item) {
                for shared in shared_for(op) {
                    op.responses
                        .responses
                        .entry(shared.status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
                }
            }
        }
    }
}
