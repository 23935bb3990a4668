//! Members' own notifications: the daily digest at 07:00 in each member's time zone, and the
//! push to a member's phone when a result reaches their inbox while they are offline.
//!
//! The digest is a durable schedule: each member's next 07:00 (`digest_due_at`, in UTC) is a
//! column the loop reads, and it moves on only after the day was handled, from the value it
//! was due on. The day's email goes under the idempotency key `digest:<member>:<local day>`,
//! so a crash between sending and moving the schedule, a restart at 07:00, or two nodes send
//! it once; and the day is remembered (`digest_last_day`), so a clock jump back to 07:00 sends
//! nothing twice. A day with nothing waiting for the member sends nothing. When the clock
//! jumps over several days, the member gets one digest, for the day it landed on.
//!
//! Presence follows the follow-ups' rules: a member is online for 4 min 30 s after their last
//! sign of life, and offline at once when they leave.

use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::Gateway;
use crate::model::{Content, Millis, NewMessage, Recipient, now_ms, rfc3339};
use crate::sending::{SendError, request_hash};
use crate::store::StoreError;
use crate::store::member_prefs::{self as rows, PrefsRow};

/// The hour the digest goes out, local time.
pub const DIGEST_HOUR: i8 = 7;
/// No sign of life for this long and a member is offline (as customers are for follow-ups).
pub const OFFLINE_AFTER_MS: Millis = crate::store::OFFLINE_AFTER_MS;

/// A time zone by its IANA name, or why not.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("`{name}` is not an IANA time zone (e.g. Asia/Seoul)"))
}

/// The first 07:00 in `tz` strictly after `after`, and the local day it falls on.
pub fn next_digest(after: Millis, tz: &TimeZone) -> Option<(Millis, String)> {
    let now = jiff::Timestamp::from_millisecond(after)
        .ok()?
        .to_zoned(tz.clone());
    let mut day = now.date();
    for _ in 0..3 {
        let at = day.at(DIGEST_HOUR, 0, 0, 0).to_zoned(tz.clone()).ok()?;
        let ms = at.timestamp().as_millisecond();
        if ms > after {
            return Some((ms, day.to_string()));
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The local day of an instant in `tz`.
pub fn local_day(at: Millis, tz: &TimeZone) -> Option<String> {
    Some(
        jiff::Timestamp::from_millisecond(at)
            .ok()?
            .to_zoned(tz.clone())
            .date()
            .to_string(),
    )
}

/// Whether a member counts as online at `now`.
pub fn online(p: &PrefsRow, now: Millis) -> bool {
    p.present && p.last_seen_at.is_some_and(|t| now - t < OFFLINE_AFTER_MS)
}

impl Gateway {
    /// Schedule members whose digest has no schedule, then send the ones due: how many were
    /// handled.
    pub async fn run_digests(&self, limit: u32) -> Result<usize, StoreError> {
        let now = now_ms();
        let unscheduled = self
            .store
            .read(move |c| rows::unscheduled(c, limit))
            .await?;
        for p in unscheduled {
            let tz = time_zone(&p.time_zone).unwrap_or(TimeZone::UTC);
            if let Some((due, _)) = next_digest(now, &tz) {
                let id = p.member_id.clone();
                self.store
                    .write(move |t| rows::digest_done(t, &id, None, None, due))
                    .await?;
            }
        }
        let due = self
            .store
            .read(move |c| rows::digests_due(c, now, limit))
            .await?;
        for p in &due {
            self.digest_of(p, now).await?;
        }
        Ok(due.len())
    }

    async fn digest_of(&self, p: &PrefsRow, now: Millis) -> Result<(), StoreError> {
        let tz = time_zone(&p.time_zone).unwrap_or(TimeZone::UTC);
        // The day it is for: where the clock is now (a jump over days sends one digest).
        let day = local_day(now, &tz).unwrap_or_default();
        let next = next_digest(now, &tz)
            .map(|n| n.0)
            .unwrap_or(now + 86_400_000);
        if p.digest_last_day.as_deref() != Some(day.as_str()) {
            let (ws, member) = (p.workspace_id.clone(), p.member_id.clone());
            let waiting = self
                .store
                .read(move |c| rows::waiting_for(c, &ws, &member))
                .await?;
            if !waiting.is_empty() {
                let base = self.public_url.trim_end_matches('/');
                let lines: Vec<String> = waiting
                    .iter()
                    .map(|(conv, contact, since)| {
                        format!(
                            "- {conv}, waiting since {}: {base}/console/contacts/{contact}",
                            rfc3339(*since)
                        )
                    })
                    .collect();
                let request = NewMessage {
                    channel: "email".into(),
                    policy: None,
                    to: Recipient {
                        email: Some(p.email.clone()),
                        ..Recipient::default()
                    },
                    content: Content {
                        subject: Some(format!(
                            "{} conversation(s) wait for you ({day})",
                            waiting.len()
                        )),
                        text: Some(format!(
                            "Good morning {},\n\nThese conversations wait for your answer:\n\n{}\n",
                            p.name,
                            lines.join("\n")
                        )),
                        ..Content::default()
                    },
                    category: Default::default(),
                    metadata: [
                        ("kind".to_string(), "digest".to_string()),
                        ("member".to_string(), p.member_id.clone()),
                    ]
                    .into(),
                    options: Default::default(),
                    connection: None,
                    from: None,
                };
                let hash = request_hash(&request);
                let key = format!("digest:{}:{day}", p.member_id);
                match self
                    .accept_message(p.workspace_id.clone(), request, hash, Some(key), None)
                    .await
                {
                    Ok(_) => {}
                    Err(SendError::Store(e)) => return Err(e),
                    Err(e) => {
                        tracing::warn!(member = %p.member_id, error = %e, "a digest could not be sent")
                    }
                }
            }
        }
        let (id, was) = (p.member_id.clone(), p.digest_due_at);
        self.store
            .write(move |t| rows::digest_done(t, &id, was, Some(&day), next))
            .await?;
        Ok(())
    }

    /// A result reached a member's inbox: push it to their phone if they are offline and
    /// asked for it. The push is idempotent by the inbox item.
    pub async fn push_if_offline(
        &self,
        ws: &str,
        member: &str,
        item: &str,
        title: &str,
    ) -> Result<(), StoreError> {
        let (w, m) = (ws.to_string(), member.to_string());
        let Some(p) = self.store.read(move |c| rows::prefs_of(c, &w, &m)).await? else {
            return Ok(());
        };
        let (Some(token), true) = (p.push_token.clone(), p.offline_push) else {
            return Ok(());
        };
        if online(&p, now_ms()) {
            return Ok(());
        }
        let request = NewMessage {
            channel: "push".into(),
            policy: None,
            to: Recipient {
                push_token: Some(token),
                push_platform: p.push_platform.clone(),
                ..Recipient::default()
            },
            content: Content {
                subject: Some("Switchboard".into()),
                text: Some(title.to_string()),
                ..Content::default()
            },
            category: Default::default(),
            metadata: [
                ("kind".to_string(), "inbox".to_string()),
                ("inbox_item".to_string(), item.to_string()),
            ]
            .into(),
            options: Default::default(),
            connection: None,
            from: None,
        };
        let hash = request_hash(&request);
        match self
            .accept_message(
                ws.to_string(),
                request,
                hash,
                Some(format!("inbox-push:{item}")),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(SendError::Store(e)) => Err(e),
            Err(e) => {
                tracing::warn!(member, error = %e, "an offline push could not be sent");
                Ok(())
            }
        }
    }
}

/// The digest loop: every second (the sandbox clock jumps; a digest is at most this late).
pub async fn run(gw: Arc<Gateway>) {
    loop {
        if let Err(e) = gw.run_digests(64).await {
            tracing::warn!(error = %e, "the digest loop failed; trying again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn seven_in_the_morning_where_the_member_lives() {
        let seoul = time_zone("Asia/Seoul").unwrap();
        let ny = time_zone("America/New_York").unwrap();
        // 01:10 UTC is 10:10 in Seoul (next 07:00 tomorrow) and 20:10 the evening before in
        // New York (next 07:00 the same UTC day, at 12:00 UTC in winter).
        let now = ms("2026-12-07T01:10:00Z");
        assert_eq!(
            next_digest(now, &seoul),
            Some((ms("2026-12-07T22:00:00Z"), "2026-12-08".into()))
        );
        assert_eq!(
            next_digest(now, &ny),
            Some((ms("2026-12-07T12:00:00Z"), "2026-12-07".into()))
        );
        // Summer time moves New York's 07:00 to 11:00 UTC.
        assert_eq!(
            next_digest(ms("2026-07-01T00:00:00Z"), &ny).unwrap().0,
            ms("2026-07-01T11:00:00Z")
        );
        // At 07:00 exactly, the next one is tomorrow's.
        assert_eq!(
            next_digest(ms("2026-12-07T12:00:00Z"), &ny).unwrap().1,
            "2026-12-08"
        );
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
