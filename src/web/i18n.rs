//! The page's words in Spanish (default) and English. The JavaScript in
//! `assets/app.js` carries the same words for what it draws.

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
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }
}

pub struct Texts {
    pub title: &'static str,
    pub intro: &'static str,
    pub other_lang: &'static str,
    pub recipients: &'static str,
    pub number: &'static str,
    pub number_help: &'static str,
    pub add: &'static str,
    pub message: &'static str,
    pub send: &'static str,
    pub sent_title: &'static str,
    pub replies_title: &'static str,
    pub no_replies: &'static str,
    pub cannot_reply: &'static str,
    pub ended: &'static str,
    pub error_title: &'static str,
    pub from: &'static str,
    /// Who sent a message of the thread: the web user.
    pub you: &'static str,
}

pub static ES: Texts = Texts {
    title: "Mensajes a celulares",
    intro: "Escribe un mensaje a uno o varios celulares. Enviar es gratis; las respuestas aparecen aquí.",
    other_lang: "English",
    recipients: "Destinatarios",
    number: "Número de celular",
    number_help: "809, 829 u 849 y 7 dígitos, o + y el código del país. Separa varios con comas.",
    add: "Agregar",
    message: "Mensaje",
    send: "Enviar",
    sent_title: "Enviado a",
    replies_title: "Aquí recibirás tu respuesta",
    no_replies: "Todavía no hay respuestas.",
    cannot_reply: "este número no puede responder",
    ended: "La sesión terminó. Para empezar otra, envía un mensaje nuevo.",
    error_title: "No se pudo enviar",
    from: "De",
    you: "Tú",
};

pub static EN: Texts = Texts {
    title: "Messages to mobile phones",
    intro: "Write a message to one or more mobile phones. Sending is free; replies show up here.",
    other_lang: "Español",
    recipients: "Recipients",
    number: "Mobile number",
    number_help:
        "809, 829 or 849 and 7 digits, or + and the country code. Separate several with commas.",
    add: "Add",
    message: "Message",
    send: "Send",
    sent_title: "Sent to",
    replies_title: "Aquí recibirás tu respuesta",
    no_replies: "No replies yet.",
    cannot_reply: "this number cannot reply",
    ended: "The session ended. To start another, send a new message.",
    error_title: "Could not send",
    from: "From",
    you: "You",
};

/// Words for a recipient status, refusal reason or send error (the code
/// itself when it has none).
pub fn status_word(lang: Lang, code: &str) -> String {
    let (es, en) = words(code).unwrap_or((code, code));
    match lang {
        Lang::Es => es.to_string(),
        Lang::En => en.to_string(),
    }
}

/// The (Spanish, English) words of a code, if it has them.
fn words(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "queued" => ("en cola", "queued"),
        "waiting_for_modem" => ("esperando al módem", "waiting for the modem"),
        "sending" => ("enviando", "sending"),
        "sent" => ("enviado", "sent"),
        "delivered" => ("entregado", "delivered"),
        "failed" => ("falló", "failed"),
        "refused" => ("rechazado", "refused"),
        "invalid_number" => ("número no válido", "invalid number"),
        "opted_out" => (
            "este número no acepta mensajes",
            "this number does not accept messages",
        ),
        "no_free_short_code" => (
            "este número ya está en conversación con otras sesiones; intenta en unos minutos",
            "this number is already in conversation with other sessions; try again in a few minutes",
        ),
        "duplicate_recipient" => ("repetido", "duplicate"),
        "destination_not_allowed" => (
            "desde aquí solo se puede escribir a teléfonos del país del servicio",
            "from here you can only write to phones of the service's country",
        ),
        "rate_limited" => (
            "demasiados mensajes, intenta más tarde",
            "too many messages, try later",
        ),
        // Why a message did not reach a phone, by kind.
        "undelivered" => (
            "la red no pudo entregarlo",
            "the network could not deliver it",
        ),
        "ended_unsent" => (
            "la conversación terminó antes de que un módem pudiera enviarlo",
            "the conversation ended before a modem could send it",
        ),
        "send_failed" => (
            "no se pudo enviar a este número",
            "it could not be sent to this number",
        ),
        // Errors of a whole send.
        "no_recipient_accepted" => (
            "ninguno de los números puede recibir este mensaje",
            "none of the numbers can receive this message",
        ),
        "invalid_request" => (
            "falta el mensaje o algún número",
            "the message or a number is missing",
        ),
        "invalid_json" => (
            "la página envió datos que no se entienden; recárgala",
            "the page sent data that cannot be read; reload it",
        ),
        "too_many_recipients" => ("demasiados destinatarios", "too many recipients"),
        "text_too_long" => ("el mensaje es demasiado largo", "the message is too long"),
        "send_in_progress" => (
            "espera a que termine el envío anterior",
            "wait until the previous send is done",
        ),
        "unavailable" => (
            "el servicio no está disponible ahora; intenta en un momento",
            "the service is not available right now; try again in a moment",
        ),
        "cross_origin" => (
            "envía el mensaje desde esta misma página",
            "send the message from this page itself",
        ),
        "payload_too_large" => ("el mensaje es demasiado grande", "the message is too large"),
        "unsupported_media_type" => (
            "la página envió datos en un formato que no se entiende; recárgala",
            "the page sent data in a format that cannot be read; reload it",
        ),
        _ => return None,
    })
}

/// Every code the public send API and the page can show: recipient
/// states, refusal reasons and errors of a whole send. Each has its words
/// in both languages (tested), here and in `assets/app.js`.
#[cfg(test)]
const PUBLIC_CODES: &[&str] = &[
    "queued",
    "waiting_for_modem",
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
    "unsupported_media_type",
];

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Every state, reason and error the API can produce has words in both
    /// languages, on the server and in the page's script.
    #[test]
    fn every_public_code_has_words_in_spanish_and_english() {
        use crate::gateway::api::{RecipientState, RefusalReason};
        let states = [
            RecipientState::Queued,
            RecipientState::WaitingForModem,
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
            .chain(reasons.iter().map(|r| r.as_str()));
        for code in produced {
            assert!(
                PUBLIC_CODES.contains(&code),
                "{code} missing from PUBLIC_CODES"
            );
        }
        let script = include_str!("../../assets/app.js");
        // The keys of `key: "words"` pairs in the script.
        let keys: Vec<&str> = script
            .match_indices(": \"")
            .map(|(i, _)| {
                let before = &script[..i];
                let start = before
                    .char_indices()
                    .rev()
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                    .map_or(0, |(j, c)| j + c.len_utf8());
                &before[start..]
            })
            .collect();
        for code in PUBLIC_CODES {
            let (es, en) = words(code).unwrap_or_else(|| panic!("{code} has no words"));
            assert_ne!(es, *code, "{code} has no Spanish words");
            assert!(!en.is_empty());
            assert_eq!(
                keys.iter().filter(|k| *k == code).count(),
                2,
                "{code} must have Spanish and English words in assets/app.js"
            );
        }
        assert_ne!(
            status_word(Lang::Es, "no_free_short_code"),
            status_word(Lang::En, "no_free_short_code")
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
