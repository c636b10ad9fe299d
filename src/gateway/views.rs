//! From the session core's values to the JSON shapes of the API.

use crate::session::{Cdr, Reply, Session};

use super::api::{
    ChargeItem, MessageView, RecipientState, RecipientView, ReplyView, SessionSummary, SessionView,
    TaxLine,
};

pub fn reply_view(r: &Reply) -> ReplyView {
    ReplyView {
        from: r.from.0.clone(),
        short_code: r.short_code.0.clone(),
        text: r.text.clone(),
        received_at: r.received_at,
    }
}

pub fn session_view(s: &Session) -> SessionView {
    SessionView {
        id: s.id.0.clone(),
        expires_at: s.deadline,
        messages: s
            .messages
            .iter()
            .map(|m| MessageView {
                id: m.id.0.to_string(),
                text: m.text.clone(),
                sent_at: m.sent_at,
                recipients: m
                    .recipients
                    .iter()
                    .map(|r| RecipientView {
                        to: r.to.0.clone(),
                        short_code: Some(r.short_code.0.clone()),
                        status: r.status.into(),
                        reason: r
                            .reason
                            .as_deref()
                            .map(|r| super::outbound::failure_code(r).to_string()),
                        can_reply: r.can_reply,
                    })
                    .chain(m.refused.iter().map(|r| RecipientView {
                        to: r.to.clone(),
                        short_code: None,
                        status: RecipientState::Refused,
                        reason: Some(r.reason.clone()),
                        can_reply: false,
                    }))
                    .collect(),
            })
            .collect(),
        replies: s.replies.iter().map(reply_view).collect(),
    }
}

pub fn session_summary(s: &Session) -> SessionSummary {
    SessionSummary {
        id: s.id.0.clone(),
        created_at: s.created_at,
        expires_at: s.deadline,
        messages: s.messages.len(),
        replies: s.replies.len(),
        bindings: s
            .bindings
            .iter()
            .map(|(n, c)| (n.0.clone(), c.0.clone()))
            .collect(),
    }
}

/// The charge record of part `part` (1-based) of `parts` of the message
/// whose first part's charge is `first`.
pub fn charge_item(first: u64, part: u32, parts: u32, c: &Cdr) -> ChargeItem {
    ChargeItem {
        id: (first + u64::from(part) - 1).to_string(),
        message: first.to_string(),
        part,
        parts,
        time: c.time,
        number: c.number.0.clone(),
        short_code: c.short_code.0.clone(),
        base: c.base.to_string(),
        taxes: c
            .taxes
            .iter()
            .map(|t| TaxLine {
                name: t.name.clone(),
                rate: t.rate.to_string(),
                amount: t.amount.to_string(),
            })
            .collect(),
        total: c.total.to_string(),
        currency: c.currency.clone(),
        in_session: c.in_session,
    }
}

/// A session's public id: what the JSON bodies, the admin API and
/// webhooks call it. The cookie's value is the session's secret; this is a
/// one-way digest of it (SHA-256, 80 bits shown), so knowing the public id
/// gives no access to the page's session.
pub fn public_id(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"smsgate session ")
        .chain_update(secret.as_bytes())
        .finalize();
    hex::encode(&digest[..10])
}
