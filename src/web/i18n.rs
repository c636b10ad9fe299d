//! The page's words in Spanish (default) and English, from the Fluent
//! files `locales/es.ftl` and `locales/en.ftl` (fluent-bundle): the page,
//! the help page, the API's codes and, through the page's `data-words`,
//! what `assets/app.js` draws. Rust holds no words of its own.

use axum::http::{header, HeaderMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        let primary = s.trim().split(['-', '_', ';']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` wins; else the first of es/en in `Accept-Language` (by
    /// q-value, then order); else Spanish.
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for item in accept.split(',') {
            let mut it = item.split(';');
            let Some(lang) = it.next().and_then(Lang::parse) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Es, |(_, l)| l)
    }

    pub fn texts(self) -> &'static Texts {
        let all = TEXTS.get_or_init(|| [Texts::of(Lang::Es), Texts::of(Lang::En)]);
        match self {
            Lang::Es => &all[0],
            Lang::En => &all[1],
        }
    }

    fn bundle(self) -> &'static Bundle {
        let all = BUNDLES.get_or_init(|| {
            [
                bundle("es", include_str!("../../locales/es.ftl")),
                bundle("en", include_str!("../../locales/en.ftl")),
            ]
        });
        match self {
            Lang::Es => &all[0],
            Lang::En => &all[1],
        }
    }
}

type Bundle = fluent_bundle::concurrent::FluentBundle<fluent_bundle::FluentResource>;

static BUNDLES: std::sync::OnceLock<[Bundle; 2]> = std::sync::OnceLock::new();
static TEXTS: std::sync::OnceLock<[Texts; 2]> = std::sync::OnceLock::new();

/// A language's bundle from its file (compiled in; a broken file fails
/// every test that renders a page).
fn bundle(lang: &str, ftl: &'static str) -> Bundle {
    let id: unic_langid::LanguageIdentifier = lang.parse().expect("a language tag");
    let mut b = Bundle::new_concurrent(vec![id]);
    // Plain text: no Unicode isolation marks around placeables.
    b.set_use_isolating(false);
    let res = fluent_bundle::FluentResource::try_new(ftl.to_string())
        .unwrap_or_else(|(_, errors)| panic!("locales/{lang}.ftl: {errors:?}"));
    b.add_resource(res)
        .unwrap_or_else(|errors| panic!("locales/{lang}.ftl: {errors:?}"));
    b
}

/// The words of message `id` in `lang` with `args`; `None` when the file
/// has no such message.
pub fn words(lang: Lang, id: &str, args: Option<&fluent_bundle::FluentArgs>) -> Option<String> {
    let b = lang.bundle();
    let pattern = b.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = b.format_pattern(pattern, args, &mut errors).into_owned();
    if !errors.is_empty() {
        tracing::warn!(id, ?errors, "a translation could not be formatted");
    }
    Some(text)
}

/// [`words`] or, for a message the files lack, the id itself.
pub fn tr(lang: Lang, id: &str) -> String {
    words(lang, id, None).unwrap_or_else(|| id.to_string())
}

/// [`tr`] with arguments.
pub fn tr_args(lang: Lang, id: &str, args: &fluent_bundle::FluentArgs) -> String {
    words(lang, id, Some(args)).unwrap_or_else(|| id.to_string())
}

/// The page's fixed texts in one language (from `locales/`).
pub struct Texts {
    pub title: String,
    pub intro: String,
    pub other_lang: String,
    pub recipients: String,
    pub number: String,
    pub number_help: String,
    pub add: String,
    pub message: String,
    pub send: String,
    pub sent_title: String,
    pub replies_title: String,
    pub no_replies: String,
    pub cannot_reply: String,
    pub ended: String,
    pub error_title: String,
    pub from: String,
    /// Who sent a message of the thread: the web user.
    pub you: String,
    pub help_link: String,
}

impl Texts {
    fn of(lang: Lang) -> Texts {
        let t = |id| tr(lang, id);
        Texts {
            title: t("title"),
            intro: t("intro"),
            other_lang: t("other_lang"),
            recipients: t("recipients"),
            number: t("number"),
            number_help: t("number_help"),
            add: t("add"),
            message: t("message"),
            send: t("send"),
            sent_title: t("sent_title"),
            replies_title: t("replies_title"),
            no_replies: t("no_replies"),
            cannot_reply: t("cannot_reply"),
            ended: t("ended"),
            error_title: t("error_title"),
            from: t("from"),
            you: t("you"),
            help_link: t("help_link"),
        }
    }
}

/// Words for a recipient status, refusal reason or send error (the code
/// itself when it has none).
pub fn status_word(lang: Lang, code: &str) -> String {
    tr(lang, code)
}

/// What `assets/app.js` writes, besides every public code.
const SCRIPT_WORDS: &[&str] = &[
    "chars",
    "sms",
    "left",
    "of",
    "invalid",
    "remove",
    "cannot_reply",
    "from",
    "you",
    "ends_in",
    "error",
    "too_long",
    "need_recipient",
];

/// The words the page's script needs, as a JSON object (the page carries
/// it in `data-words`): the same files as the server's words.
pub fn script_words(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = SCRIPT_WORDS
        .iter()
        .chain(PUBLIC_CODES)
        .map(|id| ((*id).to_string(), serde_json::Value::String(tr(lang, id))))
        .collect();
    serde_json::Value::Object(map).to_string()
}

const PUBLIC_CODES: &[&str] = &[
    "queued",
    "waiting_for_modem",
    "waiting_for_cap",
    "sending",
    "sent",
    "delivered",
    "failed",
    "refused",
    "invalid_number",
    "opted_out",
    "no_free_short_code",
    "duplicate_recipient",
    "destination_not_allowed",
    "rate_limited",
    "undelivered",
    "ended_unsent",
    "send_failed",
    "no_recipient_accepted",
    "invalid_request",
    "invalid_json",
    "too_many_recipients",
    "text_too_long",
    "send_in_progress",
    "unavailable",
    "cross_origin",
    "payload_too_large",
    "body_timeout",
    "unsupported_media_type",
    "no_session",
    "not_found",
    "invalid_query",
    "store_unavailable",
    "internal",
];

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Every state, reason and error the API can produce has words in both
    /// languages; the page's script gets them from the same files.
    #[test]
    fn every_public_code_has_words_in_spanish_and_english() {
        use crate::gateway::api::{RecipientState, RefusalReason};
        let states = [
            RecipientState::Queued,
            RecipientState::WaitingForModem,
            RecipientState::WaitingForCap,
            RecipientState::Sent,
            RecipientState::Delivered,
            RecipientState::Failed,
            RecipientState::Refused,
        ];
        let reasons = [
            RefusalReason::InvalidNumber,
            RefusalReason::OptedOut,
            RefusalReason::NoFreeShortCode,
            RefusalReason::DuplicateRecipient,
            RefusalReason::RateLimited,
            RefusalReason::DestinationNotAllowed,
        ];
        let produced = states
            .iter()
            .map(|s| s.as_str())
            .chain(reasons.iter().map(|r| r.as_str()))
            .chain(["undelivered", "ended_unsent", "send_failed"]);
        for code in produced {
            assert!(
                PUBLIC_CODES.contains(&code),
                "{code} missing from PUBLIC_CODES"
            );
        }
        for id in PUBLIC_CODES.iter().chain(SCRIPT_WORDS) {
            let es = words(Lang::Es, id, None).unwrap_or_else(|| panic!("{id}: no Spanish"));
            let en = words(Lang::En, id, None).unwrap_or_else(|| panic!("{id}: no English"));
            assert!(!es.trim().is_empty() && !en.trim().is_empty(), "{id}");
        }
        assert_ne!(
            status_word(Lang::Es, "no_free_short_code"),
            status_word(Lang::En, "no_free_short_code")
        );
        // Every error the web layer answers with.
        use super::super::ApiError;
        use crate::gateway::api::SendError;
        let errors = [
            ApiError::not_found(),
            ApiError::no_session(),
            ApiError::rate_limited(std::time::Duration::from_secs(1)),
            ApiError::cross_origin(),
            ApiError::internal("x"),
            ApiError::no_recipient_accepted(Vec::new()),
            ApiError::from(SendError::Invalid("x".into())),
            ApiError::from(SendError::TooManyRecipients(1)),
            ApiError::from(SendError::SendInProgress),
            ApiError::from(SendError::Unavailable),
        ];
        for e in &errors {
            assert!(
                PUBLIC_CODES.contains(&e.reason),
                "{} has no words",
                e.reason
            );
        }
        let script: serde_json::Value = serde_json::from_str(&script_words(Lang::Es)).unwrap();
        assert_eq!(script["opted_out"], "este número no acepta mensajes");
        assert_eq!(script["ends_in"], "La sesión termina en ");
    }

    /// Every message of one file is in the other.
    #[test]
    fn both_files_have_the_same_messages() {
        let ids = |ftl: &str| -> Vec<String> {
            let mut v: Vec<String> = ftl
                .lines()
                .filter(|l| !l.starts_with([' ', '#', '*', '[']) && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            ids(include_str!("../../locales/es.ftl")),
            ids(include_str!("../../locales/en.ftl"))
        );
    }

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn spanish_by_default_english_on_request() {
        assert_eq!(Lang::choose(None, &HeaderMap::new()), Lang::Es);
        assert_eq!(Lang::choose(None, &accept("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::choose(None, &accept("fr, es;q=0.5, en;q=0.4")),
            Lang::Es
        );
        assert_eq!(Lang::choose(Some("en"), &accept("es-DO")), Lang::En);
        assert_eq!(Lang::choose(Some("es"), &accept("en")), Lang::Es);
        assert_eq!(Lang::choose(None, &accept("de")), Lang::Es);
    }
}
