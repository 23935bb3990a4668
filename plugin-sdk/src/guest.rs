//! The component's exports, each handed to the [`Plugin`] method of the same name: the
//! wit-bindgen `Guest` trait stays behind the SDK's. `send` is split by whether the message
//! names a sender (API 0.4): [`Plugin::send`] without one, [`Plugin::send_from`] with one.

use crate::bindings;
use crate::{
    AttemptWindow, Connection, ContactPage, DomainCheck, DomainError, FindOutcome, Manifest,
    Message, Plugin, Quote, SendError, Sender, SenderDomain, Sent, StatusUpdate, Violation,
    WebhookError, WebhookOutcome, WebhookRequest,
};

impl<T: Plugin> bindings::plugin::Guest for T {
    fn describe() -> Manifest {
        <T as Plugin>::describe()
    }
    fn validate(msg: Message) -> Vec<Violation> {
        <T as Plugin>::validate(&msg)
    }
    fn quote(msg: Message) -> Result<Quote, Vec<Violation>> {
        <T as Plugin>::quote(&msg)
    }
    fn send(msg: Message, conn: Connection, sender: Option<Sender>) -> Result<Sent, SendError> {
        match sender {
            None => <T as Plugin>::send(msg, conn),
            Some(sender) => <T as Plugin>::send_from(msg, conn, sender),
        }
    }
    fn handle_webhook(
        req: WebhookRequest,
        conn: Connection,
    ) -> Result<WebhookOutcome, WebhookError> {
        <T as Plugin>::handle_webhook(req, conn)
    }
    fn sync_contacts(conn: Connection, cursor: Option<String>) -> Result<ContactPage, SendError> {
        <T as Plugin>::sync_contacts(conn, cursor)
    }
    fn lookup_status(
        provider_message_id: String,
        conn: Connection,
    ) -> Result<Option<StatusUpdate>, SendError> {
        <T as Plugin>::lookup_status(provider_message_id, conn)
    }
    fn find_sent(
        msg: Message,
        conn: Connection,
        window: AttemptWindow,
    ) -> Result<FindOutcome, SendError> {
        <T as Plugin>::find_sent(msg, conn, window)
    }
    fn default_sender(conn: Connection) -> Option<Sender> {
        <T as Plugin>::default_sender(conn)
    }
    fn domain_create(domain: String, conn: Connection) -> Result<SenderDomain, DomainError> {
        <T as Plugin>::domain_create(domain, conn)
    }
    fn domain_get(provider_id: String, conn: Connection) -> Result<SenderDomain, DomainError> {
        <T as Plugin>::domain_get(provider_id, conn)
    }
    fn domain_validate(provider_id: String, conn: Connection) -> Result<DomainCheck, DomainError> {
        <T as Plugin>::domain_validate(provider_id, conn)
    }
    fn domain_delete(provider_id: String, conn: Connection) -> Result<(), DomainError> {
        <T as Plugin>::domain_delete(provider_id, conn)
    }
}
