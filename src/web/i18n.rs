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
};

/// Words for a recipient status or refusal reason.
pub fn status_word(lang: Lang, code: &str) -> String {
    let (es, en) = match code {
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
        "no_free_short_code" => ("no hay código corto libre", "no free short code"),
        "duplicate_recipient" => ("repetido", "duplicate"),
        "rate_limited" => (
            "demasiados mensajes, intenta más tarde",
            "too many messages, try later",
        ),
        other => (other, other),
    };
    match lang {
        Lang::Es => es.to_string(),
        Lang::En => en.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
