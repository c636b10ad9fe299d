//! What the web layer knows about the browser: its address, its session
//! cookie, whether a POST comes from this site, and the security headers
//! every answer carries.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;

use super::SESSION_COOKIE;

/// The page loads scripts and styles from `/assets/` only; nothing inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'; form-action 'self'";

/// The client's address: the socket peer, or, when the peer is one of
/// `[http] trusted_proxies`, the address it forwarded (`X-Forwarded-For`).
/// Without connection info (tests calling the router directly) it is
/// 0.0.0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Whether the client's request came over HTTPS: only a trusted proxy can
/// say so (`X-Forwarded-Proto: https`); smsgate itself speaks plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverHttps(pub bool);

/// The client as [`resolve`] found it, kept in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolved {
    addr: IpAddr,
    https: bool,
}

fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<Resolved>()
                .map_or_else(|| peer(parts), |r| r.addr),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OverHttps {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(OverHttps(
            parts.extensions.get::<Resolved>().is_some_and(|r| r.https),
        ))
    }
}

/// Who the client is, behind `trusted` proxies: the peer itself unless it
/// is one of them; then the right-most `X-Forwarded-For` address that is
/// not a trusted proxy (each proxy appends the address it saw, so the
/// left-most entries are whatever the client claimed). `https` only when a
/// trusted peer says `X-Forwarded-Proto: https`.
pub fn client_behind(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> (IpAddr, bool) {
    let trusts = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !trusts(&peer) {
        return (peer, false);
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect();
    let client = chain
        .iter()
        .rev()
        .find(|ip| !trusts(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer);
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    (client, https)
}

/// Middleware: finds the real client once per request ([`client_behind`])
/// for [`ClientAddr`] and [`OverHttps`].
pub async fn resolve(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<ipnet::IpNet>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let (addr, https) = client_behind(peer(&parts), &parts.headers, &trusted);
    // TLS to smsgate itself is HTTPS whoever the peer is.
    let https = https || parts.extensions.get::<super::tls::ViaTls>().is_some();
    parts.extensions.insert(Resolved { addr, https });
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// The session id from the `smsgate_session` cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub use crate::gateway::views::public_id;

/// The `Set-Cookie` value binding this browser to session `id` (R2):
/// HttpOnly so scripts cannot read it, SameSite=Strict so other sites
/// cannot use it, Secure when the page came over HTTPS (through a trusted
/// proxy). The id comes from the gateway, which makes it unguessable.
pub fn set_session_cookie(id: &str, https: bool) -> HeaderValue {
    // Ids are opaque; anything that could break the header is dropped.
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={safe}; HttpOnly; SameSite=Strict; Path=/{secure}"
    ))
    .expect("cookie of safe characters")
}

/// The `Set-Cookie` value that removes the session cookie (its session
/// ended).
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    ))
    .expect("a fixed cookie")
}

/// False when a state-changing request comes from another site: a
/// `Sec-Fetch-Site` other than same-origin/none, or an `Origin` whose
/// host:port differs from `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin") | Ok("none")) {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// Adds the security headers to every answer.
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; smsgate_session=abc-123; b=2")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("abc-123"));
        assert_eq!(session_cookie(&headers(&[("cookie", "a=1")])), None);
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_and_the_scheme() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        // Behind the proxy: the right-most address it did not add itself.
        assert_eq!(
            client_behind(proxy, &h, &trusted),
            ("203.0.113.7".parse().unwrap(), true)
        );
        // A chain of trusted proxies is skipped.
        let h2 = headers(&[("x-forwarded-for", "203.0.113.7, 127.0.0.2")]);
        assert_eq!(
            client_behind(proxy, &h2, &trusted).0,
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // A peer that is not trusted is itself, whatever it claims.
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(client_behind(stranger, &h, &trusted), (stranger, false));
        assert_eq!(client_behind(proxy, &h, &[]), (proxy, false));
        // Garbage in the header: the proxy is the client.
        let junk = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(client_behind(proxy, &junk, &trusted), (proxy, false));
    }

    #[test]
    fn a_public_id_is_stable_and_not_the_secret() {
        let p = public_id("s3cr3t");
        assert_eq!(p, public_id("s3cr3t"));
        assert_ne!(p, public_id("s3cr3u"));
        assert_eq!(p.len(), 20);
        assert!(!p.contains("s3cr3t"));
    }

    #[test]
    fn the_cookie_is_secure_over_https() {
        assert!(set_session_cookie("a", true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        assert!(!set_session_cookie("a", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn origin_must_match_host() {
        let ok = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(same_origin(&ok));
        let evil = headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(!same_origin(&evil));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(same_origin(&HeaderMap::new()));
    }
}
