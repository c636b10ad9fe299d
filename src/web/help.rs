//! What the service promises, in the words of its FAQ and from the live
//! configuration: the price line of the send page (FAQ 6) and the help
//! page (`/ayuda` in Spanish, `/help` in English) answering the FAQ's
//! questions: who may use it, where replies show, fleet numbers, how many
//! recipients, what it costs, when a session ends and what happens after.
//! Rendered by the server (maud escapes everything); no script needed.

use std::time::Duration;

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::i18n::Lang;
use super::Shared;
use crate::config::Config;

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/ayuda", get(ayuda))
        .route("/help", get(help))
}

/// What the FAQ's answers depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promises {
    /// R4.
    pub idle_timeout: Duration,
    /// R10: what a phone pays per SMS it sends to a short code, before tax.
    pub price: String,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Taxes are added to the price.
    pub taxed: bool,
    /// R1: recipients per message; 0 means no limit.
    pub max_recipients: u32,
}

impl Default for Promises {
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

impl Promises {
    pub fn from_config(cfg: &Config) -> Promises {
        Promises {
            idle_timeout: cfg.session.idle_timeout,
            price: cfg.tariff.mo_price.0.clone(),
            currency: cfg.tariff.currency.clone(),
            taxed: !cfg.tariff.taxes.is_empty(),
            max_recipients: cfg.limits.max_recipients,
        }
    }

    /// The price of a phone's SMS as people there write it: "RD$1.00 más
    /// impuestos", "RD$1.00 plus taxes".
    pub fn price_text(&self, lang: Lang) -> String {
        let amount = match self.currency.as_str() {
            "DOP" => format!("RD${}", self.price),
            "USD" => format!("US${}", self.price),
            "EUR" => format!("{} €", self.price),
            other => format!("{other} {}", self.price),
        };
        match (self.taxed, lang) {
            (false, _) => amount,
            (true, Lang::Es) => format!("{amount} más impuestos"),
            (true, Lang::En) => format!("{amount} plus taxes"),
        }
    }

    /// The price line of the send page (FAQ 6).
    pub fn price_note(&self, lang: Lang) -> String {
        let price = self.price_text(lang);
        match lang {
            Lang::Es => format!(
                "Enviar y recibir mensajes en la web es gratis. Cada mensaje que se responde desde el celular cuesta {price}; recibirlos en el celular es gratis."
            ),
            Lang::En => format!(
                "Sending and receiving messages on the web is free. Each message a mobile phone sends as a reply costs {price}; receiving them on the phone is free."
            ),
        }
    }
}

/// A duration as the FAQ writes it: "5 minutos", "1 hora", "30 segundos".
pub fn duration_words(d: Duration, lang: Lang) -> String {
    let s = d.as_secs();
    let (n, one, many) = if s >= 3600 && s % 3600 == 0 {
        (s / 3600, ("hora", "hour"), ("horas", "hours"))
    } else if s >= 60 && s % 60 == 0 {
        (s / 60, ("minuto", "minute"), ("minutos", "minutes"))
    } else {
        (s, ("segundo", "second"), ("segundos", "seconds"))
    };
    let unit = match (n == 1, lang) {
        (true, Lang::Es) => one.0,
        (true, Lang::En) => one.1,
        (false, Lang::Es) => many.0,
        (false, Lang::En) => many.1,
    };
    format!("{n} {unit}")
}

async fn ayuda(State(ctx): State<Shared>) -> Html<String> {
    Html(page(Lang::Es, &ctx.state.config.promises).into_string())
}

async fn help(State(ctx): State<Shared>) -> Html<String> {
    Html(page(Lang::En, &ctx.state.config.promises).into_string())
}

/// The FAQ's questions and their answers under this configuration.
fn answers(lang: Lang, p: &Promises) -> Vec<(String, Vec<String>)> {
    let idle = duration_words(p.idle_timeout, lang);
    let price = p.price_text(lang);
    let many = match (p.max_recipients, lang) {
        (0, Lang::Es) => "a la cantidad de personas que desees".to_string(),
        (0, Lang::En) => "to as many people as you like".to_string(),
        (n, Lang::Es) => format!("a hasta {n} personas"),
        (n, Lang::En) => format!("to up to {n} people"),
    };
    match lang {
        Lang::Es => vec![
            ("¿Quién puede usar el servicio?".into(), vec![
                "Cualquier persona conectada a internet puede enviar mensajes desde esta página a celulares y recibir sus respuestas.".into(),
            ]),
            ("¿Dónde veo las respuestas?".into(), vec![
                "Si escribes desde la web, las respuestas aparecen en el recuadro «Aquí recibirás tu respuesta».".into(),
                "Si eres el usuario del celular, recibes el mensaje en tu buzón de mensajes, de un código corto al que puedes responder.".into(),
            ]),
            ("¿Si tengo una flota VPN puedo recibir y enviar mensajes?".into(), vec![
                "Los números de flotas VPN reciben los mensajes, pero no pueden contestarlos: esos planes no permiten enviar mensajes a códigos cortos. La página lo indica junto al número.".into(),
            ]),
            ("¿A cuántas personas puedo enviar un mensaje?".into(), vec![
                format!("Puedes enviar un mensaje a la vez, {many}."),
            ]),
            ("¿Cuánto cuestan los mensajes?".into(), vec![
                "Los mensajes enviados y recibidos en la web son gratis.".into(),
                format!("Cada mensaje enviado desde el celular cuesta {price}."),
                "Los mensajes recibidos en el celular son gratis.".into(),
            ]),
            ("¿Se borró el historial de mensajes de mi sesión web?".into(), vec![
                format!("Si durante {idle} no has enviado ni recibido mensajes en la web, la sesión termina y los mensajes desaparecen de la página."),
                "Para abrir una sesión nueva, envía un mensaje nuevo.".into(),
            ]),
            (format!("¿Qué pasa si se envía un mensaje después de los {idle} que dura la sesión?"), vec![
                "Si escribes desde la web después de que la sesión terminó, el mensaje llega al celular desde otro código corto, en una sesión nueva.".into(),
                "Si el celular responde después de que la sesión terminó, esa respuesta ya no llega a la sesión web.".into(),
            ]),
        ],
        Lang::En => vec![
            ("Who can use the service?".into(), vec![
                "Anyone on the internet can send messages from this page to mobile phones and receive their replies.".into(),
            ]),
            ("Where do I see the replies?".into(), vec![
                "If you write from the web, replies appear in the box \u{201c}Aquí recibirás tu respuesta\u{201d}.".into(),
                "If you are the mobile user, the message arrives in your phone's inbox, from a short code you can reply to.".into(),
            ]),
            ("Can fleet (VPN) numbers receive and send messages?".into(), vec![
                "Fleet (VPN) numbers receive the messages but cannot reply: those plans cannot send messages to short codes. The page says so next to the number.".into(),
            ]),
            ("How many people can I send a message to?".into(), vec![
                format!("You send one message at a time, {many}."),
            ]),
            ("What do messages cost?".into(), vec![
                "Messages sent and received on the web are free.".into(),
                format!("Each message sent from a mobile phone costs {price}."),
                "Messages received on the phone are free.".into(),
            ]),
            ("Was my web session's message history deleted?".into(), vec![
                format!("If you have neither sent nor received a message on the web for {idle}, the session ends and its messages disappear from the page."),
                "To open a new session, send a new message.".into(),
            ]),
            (format!("What happens to a message sent after the {idle} a session lasts?"), vec![
                "If you write from the web after the session ended, the message reaches the phone from another short code, in a new session.".into(),
                "If the phone replies after the session ended, that reply no longer reaches the web session.".into(),
            ]),
        ],
    }
}

fn page(lang: Lang, p: &Promises) -> Markup {
    let t = lang.texts();
    let (title, other, back) = match lang {
        Lang::Es => ("Preguntas frecuentes", "/help", "Volver a enviar mensajes"),
        Lang::En => (
            "Frequently asked questions",
            "/ayuda",
            "Back to sending messages",
        ),
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t.title) }
                link rel="stylesheet" href="/assets/app.css";
            }
            body data-lang=(lang.code()) {
                header {
                    h1 { (title) }
                    a id="lang-toggle" href=(other) hreflang=(lang.other().code())
                        lang=(lang.other().code()) { (t.other_lang) }
                }
                main {
                    @for (question, answer) in answers(lang, p) {
                        section class="faq" {
                            h2 { (question) }
                            @for line in answer { p { (line) } }
                        }
                    }
                    p { a href={ "/?lang=" (lang.code()) } { (back) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_the_faq_writes_them() {
        assert_eq!(
            duration_words(Duration::from_secs(300), Lang::Es),
            "5 minutos"
        );
        assert_eq!(
            duration_words(Duration::from_secs(60), Lang::Es),
            "1 minuto"
        );
        assert_eq!(
            duration_words(Duration::from_secs(7200), Lang::Es),
            "2 horas"
        );
        assert_eq!(
            duration_words(Duration::from_secs(90), Lang::Es),
            "90 segundos"
        );
        assert_eq!(
            duration_words(Duration::from_secs(300), Lang::En),
            "5 minutes"
        );
    }

    #[test]
    fn the_default_price_reads_as_the_faq_says() {
        let p = Promises::default();
        assert_eq!(p.price_text(Lang::Es), "RD$1.00 más impuestos");
        assert_eq!(p.price_text(Lang::En), "RD$1.00 plus taxes");
        let untaxed = Promises {
            taxed: false,
            currency: "USD".into(),
            price: "0.05".into(),
            ..Promises::default()
        };
        assert_eq!(untaxed.price_text(Lang::Es), "US$0.05");
    }
}
