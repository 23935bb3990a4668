//! The provider fault matrix: every simulator injects 5xx answers, connection resets,
//! timeouts, 429 with Retry-After, slow answers, and lost, repeated and reordered callbacks,
//! and each case asserts the exact outcome (attempts and reasons, what the provider accepted,
//! the final status) and that statuses never went backwards.
//!
//! | case | every channel asserts |
//! |---|---|
//! | `server_errors` | two 503s: attempts retry, retry, accepted (`provider_transient`); provider created 1 |
//! | `reset` | RST after the request went out, before processing: `unknown`; asked (SMS, email, AlimTalk): not found, sent again; unasked (Messenger, push): sent again by `ambiguous_sends: retry`; provider created 1 |
//! | `reset_after_processing` | RST after processing: `unknown`; asked: found, adopted, not sent again (provider created 1); unasked: a push receipt that came first settles it (1), else sent again (2), the timeline says it may arrive twice |
//! | `timeout` | held past the send deadline after processing: `unknown` (`timeout`); as above |
//! | `at_most_once` (Messenger, FCM) | as `timeout` under `ambiguous_sends: fail`: not sent again; Messenger `failed` with `outcome_unknown`, resendable; FCM settled by the device's receipts; provider created at most 1 |
//! | `rate_limited` | 429 + Retry-After: retry (`rate_limited`) not before the wait asked, accepted |
//! | `slow` | 300 ms latency: one attempt, accepted |
//! | `dropped_callbacks` | stays `sent` within the test (status lookups wait 15 min by default; `crash::lookup` covers them), no event beyond `sent` |
//! | `duplicated_callbacks` | each status applied once, repeats recorded as ignored |
//! | `reordered_callbacks` | ends at the last status; the late lower report does not move it |
//!
//! Every case also checks the business saw each applied status exactly once (`/v1/events`).
//! Rows: SMS, email, FCM, APNs, AlimTalk and Messenger.

mod cases;
mod history;
pub mod target;

/// One row of the matrix: every case for one channel.
macro_rules! row {
    ($channel:expr) => {
        #[tokio::test]
        async fn reset_after_processing() {
            super::cases::connection_reset($channel, true).await
        }
        #[tokio::test]
        async fn timeout() {
            super::cases::timeout($channel).await
        }
        row_without_lost_answers!($channel);
    };
}

/// The cases where the provider answers (or never saw the send).
macro_rules! row_without_lost_answers {
    ($channel:expr) => {
        #[tokio::test]
        async fn server_errors() {
            super::cases::server_errors($channel).await
        }
        #[tokio::test]
        async fn reset() {
            super::cases::connection_reset($channel, false).await
        }
        #[tokio::test]
        async fn rate_limited() {
            super::cases::rate_limited($channel).await
        }
        #[tokio::test]
        async fn slow() {
            super::cases::slow($channel).await
        }
        #[tokio::test]
        async fn dropped_callbacks() {
            super::cases::dropped_callbacks($channel).await
        }
        #[tokio::test]
        async fn duplicated_callbacks() {
            super::cases::duplicated_callbacks($channel).await
        }
        #[tokio::test]
        async fn reordered_callbacks() {
            super::cases::reordered_callbacks($channel).await
        }
    };
}

mod alimtalk {
    row!(super::target::Channel::AlimTalk);
}
mod apns {
    row!(super::target::Channel::Apns);
}
mod email {
    row!(super::target::Channel::Email);
}
mod fcm {
    row!(super::target::Channel::Fcm);
    #[tokio::test]
    async fn at_most_once() {
        super::cases::at_most_once(super::target::Channel::Fcm).await
    }
}
mod messenger {
    // The lost-answer cases once found that watermarks missed such a send: its send time was
    // the retry's start, later than the provider's own. It is now the lost attempt's start.
    row!(super::target::Channel::Messenger);
    #[tokio::test]
    async fn at_most_once() {
        super::cases::at_most_once(super::target::Channel::Messenger).await
    }
}
mod dead_letters;
mod sms;
