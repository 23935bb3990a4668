//! An externally tagged enum's variants are closed objects.
//!
//! serde reads `{"channel": "sms"}` as the `channel` variant and refuses any other key
//! beside it, but utoipa documents each variant as an open object, so a client (or a
//! tester) may add keys the server refuses. Each `oneOf` branch that is an object with one
//! required property and no other is such a variant: it gets `additionalProperties: false`.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};

fn is_variant(schema: &Schema) -> bool {
    match schema {
        Schema::Object(o) => {
            o.properties.len() == 1
                && o.required.len() == 1
                && o.properties.contains_key(&o.required[0])
                && o.additional_properties.is_none()
        }
        _ => false,
    }
}

fn close(schema: &mut Schema) {
    match schema {
        Schema::OneOf(one) => {
            for item in &mut one.items {
                if let RefOr::T(s) = item {
                    if is_variant(s)
                        && let Schema::Object(o) = s
                    {
                        o.additional_properties =
                            Some(Box::new(AdditionalProperties::FreeForm(false)));
                    }
                    close(s);
                }
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(close_ref),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(close_ref),
        Schema::Object(o) => o.properties.values_mut().for_each(close_ref),
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                close_ref(items);
            }
        }
        _ => {}
    }
}

fn close_ref(schema: &mut RefOr<Schema>) {
    if let RefOr::T(s) = schema {
        close(s);
    }
}

pub struct ClosedVariants;

impl utoipa::Modify for ClosedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.values_mut().for_each(close_ref);
        }
    }
}
