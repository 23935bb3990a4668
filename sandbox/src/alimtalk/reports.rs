//! Delivery reports of accepted messages, POSTed to the configured webhook URL.
//!
//! One report per POST, a one-element JSON array (receivers must take batches anyway), so the
//! shared callback sender can drop, duplicate and reorder single reports and record each
//! outcome. The `Authorization` header is computed when the report is scheduled, with the
//! date the POST is due at by the simulator clock: the callback signer is a plain function
//! and cannot see the clock offset, and the delays are milliseconds, far inside the 15-minute
//! window a receiver allows.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::state::ReportDue;
use super::{auth, time};
use crate::Shared;
use crate::callbacks::{Callback, CallbackBody, Step};
use crate::faults::FaultAction;

/// The status codes a fault's `callback_status` may force as a message's final report.
pub(super) const FINAL_STATUSES: &[&str] = &[
    "4000", "3104", "3107", "3108", "3016", "1030", "2230", "1060", "1061",
];

pub fn status_message(code: &str) -> &'static str {
    match code {
        "2000" => "정상 접수(이통사로 접수 예정) ",
        "3000" => "카카오로 전송 중",
        "4000" => "수신완료",
        "3104" => "카카오톡 미사용자",
        "3107" => "카카오톡을 72시간 이상 사용하지 않았거나 알림톡 수신을 차단함",
        "3108" => "알림톡 발송 가능 시간이 아님 (08:00~20:00)",
        "3015" => "템플릿을 찾을 수 없음",
        "3016" => "메시지가 템플릿과 일치하지 않음",
        "3027" => "메시지 버튼이 템플릿과 일치하지 않음",
        "1030" | "2230" => "잔액 부족",
        "1060" | "2060" => "차단된 번호",
        "1061" | "2061" => "수신거부된 번호",
        _ => "알 수 없는 오류",
    }
}

/// What an accepted message's reports need to know about it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub message_id: String,
    pub group_id: String,
    pub to: String,
    pub from: String,
    pub custom_fields: Value,
    pub created_ms: u64,
    /// The final status: 4000, or the failure a magic number or fault asks for.
    pub outcome: String,
}

fn report_json(msg: &Accepted, code: &str, at_ms: u64) -> Value {
    json!({
        "messageId": msg.message_id,
        "groupId": msg.group_id,
        "to": msg.to,
        "from": msg.from,
        "type": "ATA",
        "country": "82",
        "statusCode": code,
        "statusMessage": status_message(code),
        "dateCreated": time::format_iso(msg.created_ms),
        "dateReceived": time::format_iso(at_ms),
        "customFields": msg.custom_fields,
    })
}

fn salt() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn record_hook(
    shared: Weak<Shared>,
    message_id: String,
    due: ReportDue,
) -> crate::callbacks::StepHook {
    Box::new(move || {
        if let Some(shared) = shared.upgrade() {
            shared.alimtalk.record_report(&message_id, due);
        }
    })
}

/// Schedules the message's reports: 3000 then 4000, or the failure alone (Kakao refuses a
/// failed message at hand-off, so no 3000 precedes it).
pub(super) fn schedule(shared: &Arc<Shared>, msg: &Accepted, action: &FaultAction) {
    let cfg = shared.alimtalk.config();
    let outcome = action
        .callback_status
        .clone()
        .unwrap_or_else(|| msg.outcome.clone());
    let timeline: Vec<(Duration, String)> = if outcome == "4000" {
        let delivered = cfg.delivered_delay.max(cfg.sent_delay);
        vec![(cfg.sent_delay, "3000".into()), (delivered, outcome)]
    } else {
        vec![(cfg.sent_delay, outcome)]
    };
    let now = Instant::now();
    let sim_now = shared.clock.now_ms();
    let mut planned: Vec<(Instant, ReportDue, Vec<Callback>)> = timeline
        .into_iter()
        .map(|(delay, code)| {
            let at_ms = sim_now + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX / 2);
            let body = Value::Array(vec![report_json(msg, &code, at_ms)])
                .to_string()
                .into_bytes();
            let authorization = auth::alimtalk_auth_header(
                super::SANDBOX_ALIMTALK_API_KEY,
                super::SANDBOX_ALIMTALK_API_SECRET,
                &time::format_iso(at_ms),
                &salt(),
                Some(&body),
            );
            let callbacks = match (&cfg.webhook_url, action.drop_callbacks) {
                (Some(url), false) => {
                    let post = Callback {
                        channel: super::CHANNEL.name,
                        message_id: msg.message_id.clone(),
                        event: code.clone(),
                        url: url.clone(),
                        headers: vec![("Authorization".into(), authorization)],
                        retry_for: None,
                        body: CallbackBody::Raw {
                            content_type: "application/json",
                            bytes: body,
                            sign: None,
                        },
                    };
                    if action.duplicate_callbacks {
                        vec![post.clone(), post]
                    } else {
                        vec![post]
                    }
                }
                _ => Vec::new(),
            };
            let due = ReportDue {
                status_message: status_message(&code).to_owned(),
                status_code: code,
                at_ms,
            };
            (now + delay, due, callbacks)
        })
        .collect();
    if action.reorder_callbacks {
        // The reports keep their times; only what is posted at each time is reversed.
        let mut posts: Vec<Vec<Callback>> = planned
            .iter_mut()
            .map(|(_, _, c)| std::mem::take(c))
            .collect();
        posts.reverse();
        for ((_, _, c), p) in planned.iter_mut().zip(posts) {
            *c = p;
        }
    }
    let steps = planned
        .into_iter()
        .map(|(at, due, callbacks)| Step {
            at,
            before: Some(record_hook(
                Arc::downgrade(shared),
                msg.message_id.clone(),
                due,
            )),
            callbacks,
        })
        .collect();
    shared.callbacks.schedule(steps);
}
