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

use fluent_bundle::FluentArgs;

use super::i18n::{tr, tr_args, Lang};
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
        if !self.taxed {
            return amount;
        }
        let mut args = FluentArgs::new();
        args.set("amount", amount);
        tr_args(lang, "price_taxed", &args)
    }

    /// The price line of the send page (FAQ 6).
    pub fn price_note(&self, lang: Lang) -> String {
        let mut args = FluentArgs::new();
        args.set("price", self.price_text(lang));
        tr_args(lang, "price_note", &args)
    }
}

/// A duration as the FAQ writes it: "5 minutos", "1 hora", "30 segundos".
pub fn duration_words(d: Duration, lang: Lang) -> String {
    let s = d.as_secs();
    let (n, id) = if s >= 3600 && s % 3600 == 0 {
        (s / 3600, "hours")
    } else if s >= 60 && s % 60 == 0 {
        (s / 60, "minutes")
    } else {
        (s, "seconds")
    };
    let mut args = FluentArgs::new();
    args.set("n", n);
    tr_args(lang, id, &args)
}

async fn ayuda(State(ctx): State<Shared>) -> Html<String> {
    Html(page(Lang::Es, &ctx.state.config.promises).into_string())
}

async fn help(State(ctx): State<Shared>) -> Html<String> {
    Html(page(Lang::En, &ctx.state.config.promises).into_string())
}

/// The FAQ's questions and their answers under this configuration
/// (message ids of `locales/`).
fn answers(lang: Lang, p: &Promises) -> Vec<(String, Vec<String>)> {
    let mut args = FluentArgs::new();
    args.set("idle", duration_words(p.idle_timeout, lang));
    args.set("price", p.price_text(lang));
    args.set("max", p.max_recipients);
    let t = |id: &str| tr_args(lang, id, &args);
    [
        ("faq_who", &["faq_who_1"][..]),
        ("faq_where", &["faq_where_1", "faq_where_2"]),
        ("faq_fleet", &["faq_fleet_1"]),
        ("faq_many", &["faq_many_1"]),
        ("faq_cost", &["faq_cost_1", "faq_cost_2", "faq_cost_3"]),
        ("faq_history", &["faq_history_1", "faq_history_2"]),
        ("faq_after", &["faq_after_1", "faq_after_2"]),
    ]
    .iter()
    .map(|(q, a)| (t(q), a.iter().map(|id| t(id)).collect()))
    .collect()
}

fn page(lang: Lang, p: &Promises) -> Markup {
    let t = lang.texts();
    let title = tr(lang, "faq_title");
    let back = tr(lang, "faq_back");
    let other = match lang {
        Lang::Es => "/help",
        Lang::En => "/ayuda",
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
        for (secs, lang, words) in [
            (300, Lang::Es, "5 minutos"),
            (60, Lang::Es, "1 minuto"),
            (7200, Lang::Es, "2 horas"),
            (90, Lang::Es, "90 segundos"),
            (300, Lang::En, "5 minutes"),
        ] {
            assert_eq!(duration_words(Duration::from_secs(secs), lang), words);
        }
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
