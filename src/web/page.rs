//! The public send page (`GET /`) and its no-JavaScript path (`POST /send`,
//! form-encoded, answered with the same page rendered with the result).
//! Rendered with maud, which escapes everything it interpolates; the live
//! parts are drawn by `assets/app.js`, which only ever uses `textContent`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::client::{
    clear_session_cookie, same_origin, session_cookie, set_session_cookie, ClientAddr, OverHttps,
};
use super::help::Promises;
use super::i18n::{script_words, status_word, Lang, Texts};
use super::public::do_send;
use super::{numbers, ApiError, Shared};
use crate::gateway::api::{RecipientState, RecipientView, SendRequest, SessionView};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(index))
        .route("/send", post(send_form))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    lang: Option<String>,
}

async fn index(
    State(ctx): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let cookie = session_cookie(&headers);
    let session = match &cookie {
        Some(id) => ctx.state.gateway.session(id).await,
        None => None,
    };
    if cookie.is_some() && session.is_none() {
        // The browser's session ended while the page was away: say so,
        // once (the cookie goes with this answer).
        let markup = page_with(lang, &ctx.state.config.promises, None, None, true);
        return (
            [(header::SET_COOKIE, clear_session_cookie())],
            Html(markup.into_string()),
        )
            .into_response();
    }
    Html(page(lang, &ctx.state.config.promises, session.as_ref(), None).into_string())
        .into_response()
}

/// The HTML form's submission: the same send as `POST /api/send`.
async fn send_form(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    OverHttps(https): OverHttps,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut lang = Lang::choose(None, &headers);
    let result = async {
        if !same_origin(&headers) {
            return Err(ApiError::cross_origin());
        }
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = body?;
        if !is_form {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the form as application/x-www-form-urlencoded",
            ));
        }
        let mut req = SendRequest {
            to: Vec::new(),
            text: String::new(),
            ..Default::default()
        };
        for (k, v) in form_urlencoded::parse(&body) {
            match &*k {
                "to" => req.to.extend(numbers::split_field(&v).map(str::to_string)),
                "text" => req.text = v.into_owned(),
                "lang" => lang = Lang::choose(Some(&v), &headers),
                _ => {}
            }
        }
        do_send(&ctx, session_cookie(&headers), req, client).await
    }
    .await;
    match result {
        Ok(answer) => {
            let session = ctx.state.gateway.session(&answer.session.id).await;
            let markup = page(lang, &ctx.state.config.promises, session.as_ref(), None);
            (
                [(
                    header::SET_COOKIE,
                    set_session_cookie(&answer.session.id, https),
                )],
                Html(markup.into_string()),
            )
                .into_response()
        }
        Err(e) => {
            // In the reader's language, each refused number with its reason;
            // the live session (if any) stays on the page.
            let mut msg = status_word(lang, e.reason);
            let refused: Vec<String> = e
                .recipients
                .iter()
                .map(|r| match r.reason {
                    Some(reason) => format!("{} ({})", r.to, status_word(lang, reason.as_str())),
                    None => r.to.clone(),
                })
                .collect();
            if !refused.is_empty() {
                msg = format!("{msg}: {}", refused.join(", "));
            }
            let session = match session_cookie(&headers) {
                Some(id) => ctx.state.gateway.session(&id).await,
                None => None,
            };
            let markup = page(
                lang,
                &ctx.state.config.promises,
                session.as_ref(),
                Some(&msg),
            );
            (e.status, e.headers(), Html(markup.into_string())).into_response()
        }
    }
}

fn page(
    lang: Lang,
    promises: &Promises,
    session: Option<&SessionView>,
    error: Option<&str>,
) -> Markup {
    page_with(lang, promises, session, error, false)
}

/// The page; `ended`: the browser's session ended while it was away.
fn page_with(
    lang: Lang,
    promises: &Promises,
    session: Option<&SessionView>,
    error: Option<&str>,
    ended: bool,
) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t.title) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            // The script's words, from the same files as the page's.
            body data-lang=(lang.code()) data-words=(script_words(lang)) {
                a class="skip" href="#send-form" { (t.message) }
                header {
                    h1 { (t.title) }
                    a id="lang-toggle" href={ "/?lang=" (lang.other().code()) }
                        hreflang=(lang.other().code()) lang=(lang.other().code()) { (t.other_lang) }
                }
                main {
                    p class="intro" { (t.intro) }
                    // FAQ 6, from [tariff]: what it costs whom.
                    p id="price" class="help" { (promises.price_note(lang)) }
                    @if let Some(msg) = error {
                        div id="server-error" class="error" role="alert" {
                            strong { (t.error_title) ": " } (msg)
                        }
                    }
                    (form(t, lang))
                    (results(t, lang, session))
                    (replies(t, lang, session))
                    p id="session-ended" class="notice" role="status" hidden[!ended] { (t.ended) }
                }
                footer {
                    a id="help-link" href=(help_path(lang)) { (t.help_link) }
                }
            }
        }
    }
}

fn form(t: &Texts, lang: Lang) -> Markup {
    html! {
        form id="send-form" method="post" action="/send" {
            input type="hidden" name="lang" value=(lang.code());
            fieldset {
                legend { (t.recipients) }
                label for="to-input" { (t.number) }
                div class="row" {
                    input id="to-input" name="to" type="text" inputmode="tel" autocomplete="off"
                        required aria-describedby="to-help to-error";
                    button type="button" id="add-recipient" hidden { (t.add) }
                }
                p id="to-help" class="help" { (t.number_help) }
                p id="to-error" class="error" aria-live="polite" {}
                ul id="recipients" aria-label=(t.recipients) {}
            }
            label for="text" { (t.message) }
            textarea id="text" name="text" rows="5" required aria-describedby="counter" {}
            p id="counter" class="help" aria-live="polite" {}
            button type="submit" id="send-button" { (t.send) }
            p id="form-error" class="error" role="alert" {}
        }
    }
}

/// One recipient of a message: its number, short code and status (or why
/// it was refused); `message` names the message it belongs to (status
/// events match on both).
fn recipient_item(t: &Texts, lang: Lang, message: Option<&str>, r: &RecipientView) -> Markup {
    html! {
        li class="recipient" data-message=[message] data-to=(r.to) {
            span class="to" { (r.to) }
            " "
            span class="short-code" { (r.short_code.as_deref().unwrap_or("—")) }
            " "
            span class={ "status status-" (r.status) } {
                (status_word(lang, r.status.as_str()))
                @if let Some(reason) = &r.reason { ": " (status_word(lang, reason)) }
            }
            @if !r.can_reply && r.status != RecipientState::Refused {
                " "
                span class="no-reply" { (t.cannot_reply) }
            }
        }
    }
}

fn results(t: &Texts, lang: Lang, session: Option<&SessionView>) -> Markup {
    let last = session.and_then(|s| s.messages.last());
    html! {
        section id="results" aria-labelledby="results-title" hidden[last.is_none()] {
            h2 id="results-title" { (t.sent_title) }
            ul id="result-list" {
                @if let Some(m) = last {
                    @for r in &m.recipients { (recipient_item(t, lang, Some(&m.id), r)) }
                }
            }
        }
    }
}

/// The session as a conversation: each sent message with its time, text
/// and recipients (short code, status, or why refused), and the replies
/// under them, all in time order. `assets/app.js` draws the same shapes.
fn replies(t: &Texts, lang: Lang, session: Option<&SessionView>) -> Markup {
    enum Item<'a> {
        Sent(&'a crate::gateway::api::MessageView),
        Reply(&'a crate::gateway::api::ReplyView),
    }
    let mut items: Vec<(chrono::DateTime<chrono::Utc>, Item)> = Vec::new();
    if let Some(s) = session {
        items.extend(s.messages.iter().map(|m| (m.sent_at, Item::Sent(m))));
        items.extend(s.replies.iter().map(|r| (r.received_at, Item::Reply(r))));
    }
    // Stable: a message and a reply of the same instant keep that order.
    items.sort_by_key(|(at, _)| *at);
    let no_replies = session.is_none_or(|s| s.replies.is_empty());
    html! {
        section id="replies-box" aria-labelledby="replies-title"
            data-expires-at=[session.map(|s| s.expires_at.to_rfc3339())] {
            h2 id="replies-title" { (t.replies_title) }
            p id="countdown" class="help" {}
            ol id="replies" aria-live="polite" {
                @for (_, item) in &items {
                    @match item {
                        Item::Sent(m) => {
                            li class="sent" data-message=(m.id) {
                                span class="from" { (t.you) }
                                " "
                                time datetime=(m.sent_at.to_rfc3339()) { (m.sent_at.format("%H:%M:%S UTC")) }
                                p class="text" { (m.text) }
                                ul class="thread-recipients" {
                                    @for r in &m.recipients {
                                        (recipient_item(t, lang, Some(&m.id), r))
                                    }
                                }
                            }
                        }
                        Item::Reply(r) => {
                            li class="reply" {
                                span class="from" { (t.from) " " (r.from) }
                                " "
                                time datetime=(r.received_at.to_rfc3339()) { (r.received_at.format("%H:%M:%S UTC")) }
                                p class="text" { (r.text) }
                            }
                        }
                    }
                }
            }
            p id="replies-empty" class="help" hidden[!no_replies] { (t.no_replies) }
        }
    }
}

fn help_path(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => "/ayuda",
        Lang::En => "/help",
    }
}
