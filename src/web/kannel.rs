//! Kannel's `sendsms` HTTP interface, so software that speaks to Kannel's
//! smsbox (RapidPro/TextIt through courier's Kannel handler, playSMS,
//! RaspiSMS, scripts) sends through smsgate unchanged.
//!
//! `GET /cgi-bin/sendsms?username=KEY&password=TOKEN&to=…&text=…`, as
//! smsbox reads it (`gw/smsbox.c` `smsbox_req_sendsms`; parameters
//! URL-decoded byte for byte, a bare `+` is a space, the first of a
//! repeated parameter wins, `user`/`pass`/`dlrurl`/`dlrmask` as aliases).
//! `POST` is Kannel's too: `text/plain` (or `application/octet-stream`)
//! body with `X-Kannel-*` headers (`smsbox_sendsms_post`); smsgate also
//! takes a form-encoded body, which smsbox refuses.
//!
//! The answers are smsbox's, byte for byte (status, `Content-type:
//! text/html`, no trailing newline): `0: Accepted for delivery` (202), `3:
//! Queued for later delivery` (202, the short code's modem is down), and
//! its error texts. Where smsgate refuses what Kannel would take (a UDH,
//! an empty text) it says so in the same style.
//!
//! A number that already has a live conversation of the same key continues
//! it on the same pair (R5), so a Kannel client can write to the same
//! phone again and again, even with one modem; otherwise a conversation
//! opens. `dlr-url` gets Kannel's DLR GETs (see [`crate::hooks::kannel`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::client::ClientAddr;
use super::public::{do_send_as, live_conversation};
use super::Shared;
use crate::gateway::api::{ApiOwner, RecipientState, SendRequest};
use crate::keys::DlrRequest;
use crate::modem::types::ModemState;

pub(crate) fn router() -> Router<Shared> {
    Router::new().route("/cgi-bin/sendsms", get(sendsms).post(sendsms))
}

/// One of smsbox's answers.
fn answer(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html"),
            (header::PRAGMA, "no-cache"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub const ACCEPTED: &str = "0: Accepted for delivery";
pub const QUEUED: &str = "3: Queued for later delivery";
pub const AUTH_FAILED: &str = "Authorization failed for sendsms";
pub const MISSING_TO: &str = "Missing receiver number, rejected";
pub const MISSING_TO_POST: &str = "Missing receiver(s) number(s), rejected";
pub const EMPTY_TO: &str = "Empty receiver number not allowed, rejected";
pub const DENIED: &str =
    "Number(s) has/have been denied by white/black lists, or allowed/denied rules.";
pub const NOT_ROUTABLE: &str = "Not routable. Do not try again.";
pub const TEMPORARY: &str = "Temporal failure, try again later.";
pub const BAD_DLR_URL: &str = "DLR-URL field misformed, rejected";
pub const BAD_DLR_MASK: &str = "DLR-Mask field misformed, rejected";
pub const BAD_CODING: &str = "Coding field misformed, rejected";
pub const BAD_CHARSET: &str = "Charset or body misformed, rejected";
pub const BAD_CONTENT_TYPE: &str = "Invalid content-type";
/// smsgate's own: smsbox would send a UDH or an empty text.
pub const NO_UDH: &str = "UDH field not supported, rejected";
pub const EMPTY_TEXT: &str = "Empty text not allowed, rejected";
pub const TOO_LONG: &str = "Text field too long, rejected";

/// Kannel's `octstr_url_decode` of one part: `+` is a space, `%XX` the
/// byte, a bad `%` sequence copied as it is.
fn url_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `http.c` `parse_cgivars`: `&`-separated, split at the first `=`, both
/// sides decoded; a name with no `=` has the empty value; the first of a
/// repeated name wins.
fn parse_cgivars(query: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut vars = HashMap::new();
    for part in query.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let name = String::from_utf8_lossy(&url_decode(name)).into_owned();
        vars.entry(name).or_insert_with(|| url_decode(value));
    }
    vars
}

/// The request's parameters, Kannel's way for its method and type.
fn parameters(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(HashMap<String, Vec<u8>>, bool), &'static str> {
    if method != Method::POST {
        return Ok((parse_cgivars(query.unwrap_or("").as_bytes()), false));
    }
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match kind.as_str() {
        "application/x-www-form-urlencoded" => Ok((parse_cgivars(body), false)),
        "text/plain" | "application/octet-stream" => {
            // `get_x_kannel_from_headers`: blanks stripped.
            let mut vars = HashMap::new();
            for (name, param) in [
                ("x-kannel-username", "username"),
                ("x-kannel-password", "password"),
                ("x-kannel-from", "from"),
                ("x-kannel-to", "to"),
                ("x-kannel-udh", "udh"),
                ("x-kannel-dlr-url", "dlr-url"),
                ("x-kannel-dlr-mask", "dlr-mask"),
                ("x-kannel-coding", "coding"),
                ("x-kannel-charset", "charset"),
            ] {
                if let Some(v) = headers.get(name) {
                    let v = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
                    vars.insert(param.to_string(), v.into_bytes());
                }
            }
            vars.insert("text".into(), body.to_vec());
            Ok((vars, true))
        }
        _ => Err(BAD_CONTENT_TYPE),
    }
}

/// `sscanf("%d")`: a leading integer, else undefined (-1), never an error.
fn kannel_int(v: Option<&Vec<u8>>) -> i64 {
    let Some(v) = v else { return -1 };
    let s = String::from_utf8_lossy(v);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().unwrap_or(-1)
}

/// The text as Unicode: `charset` names the bytes' encoding (with
/// `coding=2` and no charset they are UTF-16BE, as Kannel passes them to
/// the SMSC and courier sends them); anything else is UTF-8.
fn decode_text(bytes: &[u8], coding: i64, charset: &str) -> Result<String, &'static str> {
    let utf16 = |b: &[u8]| -> Result<String, &'static str> {
        if b.len() % 2 != 0 {
            return Err(BAD_CHARSET);
        }
        let units: Vec<u16> = b
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| BAD_CHARSET)
    };
    let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| BAD_CHARSET);
    match charset.to_ascii_uppercase().as_str() {
        "" if coding == 2 => utf16(bytes),
        "" | "UTF-8" | "UTF8" => utf8(bytes),
        "UTF-16BE" | "UCS-2" | "UCS-2BE" | "UCS2" => utf16(bytes),
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" => Ok(bytes.iter().map(|b| *b as char).collect()),
        "US-ASCII" | "ASCII" if bytes.is_ascii() => utf8(bytes),
        _ => Err(BAD_CHARSET),
    }
}

/// `GET|POST /cgi-bin/sendsms`.
#[utoipa::path(get, path = "/cgi-bin/sendsms", tag = "kannel",
    params(
        ("username" = String, Query, description = "API key name (`user` too)"),
        ("password" = String, Query, description = "API key token (`pass` too)"),
        ("to" = String, Query, description = "numbers separated by spaces (a number's `+` as `%2B`)"),
        ("text" = String, Query, description = "the message"),
        ("from" = Option<String>, Query, description = "a short code of the pool"),
        ("coding" = Option<i32>, Query, description = "0 (text), 1 or 2 (UTF-16BE bytes without a charset)"),
        ("charset" = Option<String>, Query, description = "UTF-8, ISO-8859-1, UTF-16BE"),
        ("dlr-mask" = Option<i32>, Query, description = "1 delivered, 2 undelivered, 4 queued, 8 sent, 16 send failed"),
        ("dlr-url" = Option<String>, Query, description = "Kannel escapes %d %p %P %A %T %t %i %I"),
    ),
    responses(
        (status = 202, description = "`0: Accepted for delivery` or `3: Queued for later delivery`", content_type = "text/html", body = String),
        (status = 400, description = "Kannel's error text (`Missing receiver number, rejected`...)", content_type = "text/html", body = String),
        (status = 403, description = "`Authorization failed for sendsms` or `Not routable. Do not try again.`", content_type = "text/html", body = String),
        (status = 503, description = "`Temporal failure, try again later.`", content_type = "text/html", body = String)))]
pub(crate) async fn sendsms(
    State(ctx): State<Shared>,
    ClientAddr(client): ClientAddr,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (vars, post) = match parameters(&method, query.as_deref(), &headers, &body) {
        Ok(v) => v,
        Err(why) => return answer(StatusCode::BAD_REQUEST, why),
    };
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| vars.get(*n))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    // 1. Who.
    let (Some(user), Some(pass)) = (var(&["username", "user"]), var(&["password", "pass"])) else {
        return answer(StatusCode::FORBIDDEN, AUTH_FAILED);
    };
    let keys = ctx.state.gateway.api_keys();
    let found = tokio::task::spawn_blocking(move || {
        keys.authenticate(Some(&user), &pass, chrono::Utc::now())
    })
    .await;
    let key = match found {
        Ok(Ok(Some(k))) => k,
        Ok(Ok(None)) => return answer(StatusCode::FORBIDDEN, AUTH_FAILED),
        _ => return answer(StatusCode::SERVICE_UNAVAILABLE, TEMPORARY),
    };
    // 2. To whom.
    let Some(to) = var(&["to"]) else {
        let text = if post { MISSING_TO_POST } else { MISSING_TO };
        return answer(StatusCode::BAD_REQUEST, text);
    };
    if to.is_empty() {
        return answer(StatusCode::BAD_REQUEST, EMPTY_TO);
    }
    // 3. The fields smsbox checks, in its order.
    if var(&["udh"]).is_some_and(|u| !u.is_empty()) {
        return answer(StatusCode::BAD_REQUEST, NO_UDH);
    }
    let numbers: Vec<String> = to.split_whitespace().map(str::to_string).collect();
    // `sendsms-chars` "0123456789 +-": a receiver with anything else is
    // denied; when every one is, the request is.
    let allowed: Vec<String> = numbers
        .into_iter()
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
        })
        .collect();
    if allowed.is_empty() {
        return answer(StatusCode::BAD_REQUEST, DENIED);
    }
    let dlr_url = var(&["dlr-url", "dlrurl"]).filter(|u| !u.is_empty());
    if let Some(u) = &dlr_url {
        let lower = u.to_ascii_lowercase();
        if u.len() < 8 || !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return answer(StatusCode::BAD_REQUEST, BAD_DLR_URL);
        }
    }
    let mask = kannel_int(vars.get("dlr-mask").or(vars.get("dlrmask")));
    if !(-1..=66).contains(&mask) {
        return answer(StatusCode::BAD_REQUEST, BAD_DLR_MASK);
    }
    let coding = kannel_int(vars.get("coding"));
    if !(-1..=2).contains(&coding) {
        return answer(StatusCode::BAD_REQUEST, BAD_CODING);
    }
    let charset = var(&["charset"]).unwrap_or_default();
    let text = match decode_text(
        vars.get("text").map_or(&[][..], Vec::as_slice),
        coding,
        &charset,
    ) {
        Ok(t) => t,
        Err(why) => return answer(StatusCode::BAD_REQUEST, why),
    };
    if text.trim().is_empty() {
        return answer(StatusCode::BAD_REQUEST, EMPTY_TEXT);
    }
    // 4. From which short code: one of the pool, else not routable.
    let modems = ctx.state.gateway.modems().await;
    let from = var(&["from"]).filter(|f| !f.is_empty());
    if let Some(f) = &from {
        if !modems.iter().any(|m| m.short_code == *f) {
            return answer(StatusCode::FORBIDDEN, NOT_ROUTABLE);
        }
    }
    let dlr = match (dlr_url, mask) {
        (Some(url), m) if m > 0 => Some(DlrRequest { url, mask: m as u8 }),
        _ => None,
    };
    // 5. Each number continues its live conversation of this key (on the
    // same pair), or joins one new conversation.
    let mut groups: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new())];
    for n in allowed {
        let conversation = live_conversation(
            &*ctx.state.gateway,
            &ctx.state.config.country,
            &key.name,
            &n,
            from.as_deref(),
        )
        .await;
        match groups.iter_mut().find(|(c, _)| *c == conversation) {
            Some((_, numbers)) => numbers.push(n),
            None => groups.push((conversation, vec![n])),
        }
    }
    let mut accepted = Vec::new();
    let mut failure: Option<super::ApiError> = None;
    for (session, to) in groups.into_iter().filter(|(_, to)| !to.is_empty()) {
        let owner = ApiOwner {
            key: key.name.clone(),
            idempotency: None,
            dlr: dlr.clone(),
            from: from.clone(),
            wait_turn: true,
        };
        let req = SendRequest {
            to,
            text: text.clone(),
            owner: Some(owner),
            ..Default::default()
        };
        match do_send_as(&ctx, session, req, client, Some(&key.name)).await {
            Ok(a) => accepted.extend(
                a.recipients
                    .into_iter()
                    .filter_map(|r| (r.status != RecipientState::Refused).then_some(r.short_code)),
            ),
            Err(e) => failure = Some(e),
        }
    }
    if accepted.is_empty() {
        return match failure.as_ref().map(|e| e.reason) {
            Some("rate_limited" | "unavailable" | "store_unavailable" | "send_in_progress") => {
                answer(StatusCode::SERVICE_UNAVAILABLE, TEMPORARY)
            }
            Some("text_too_long") => answer(StatusCode::BAD_REQUEST, TOO_LONG),
            Some("no_recipient_accepted") if from.is_some() => {
                answer(StatusCode::FORBIDDEN, NOT_ROUTABLE)
            }
            _ => answer(StatusCode::BAD_REQUEST, DENIED),
        };
    }
    // Kannel's "queued for later": the short code's modem is not up.
    let down = accepted.iter().flatten().any(|code| {
        modems
            .iter()
            .any(|m| m.short_code == *code && m.state != ModemState::Up)
    });
    answer(StatusCode::ACCEPTED, if down { QUEUED } else { ACCEPTED })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_variables_decode_as_kannel_does() {
        let v = parse_cgivars(b"to=%2B18095551234+8095557777&text=a+b%20c&x&to=second&bad=%zz%4");
        assert_eq!(v["to"], b"+18095551234 8095557777");
        assert_eq!(v["text"], b"a b c");
        assert_eq!(v["x"], b"");
        assert_eq!(v["bad"], b"%zz%4");
    }

    #[test]
    fn integers_read_as_sscanf_does() {
        assert_eq!(kannel_int(Some(&b"27".to_vec())), 27);
        assert_eq!(kannel_int(Some(&b"19abc".to_vec())), 19);
        assert_eq!(kannel_int(Some(&b"abc".to_vec())), -1);
        assert_eq!(kannel_int(None), -1);
    }

    /// courier sends Unicode as UTF-16BE bytes with `coding=2` and no
    /// charset (nyaruka/courier handlers/kannel, since f74b98b4); playSMS
    /// as UCS-2BE with `charset=UTF-16BE`; RaspiSMS UTF-8 with `coding=1`.
    #[test]
    fn texts_decode_per_client() {
        let utf16: Vec<u8> = "¿Sí?".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode_text(&utf16, 2, "").unwrap(), "¿Sí?");
        assert_eq!(decode_text(&utf16, 2, "UTF-16BE").unwrap(), "¿Sí?");
        assert_eq!(decode_text("¿Sí?".as_bytes(), 1, "").unwrap(), "¿Sí?");
        assert_eq!(
            decode_text(&[0xbf, b'S', 0xed], 0, "ISO-8859-1").unwrap(),
            "¿Sí"
        );
        assert_eq!(decode_text(&[0xff], 0, ""), Err(BAD_CHARSET));
        assert_eq!(decode_text(b"a", 0, "KOI8-R"), Err(BAD_CHARSET));
    }
}
