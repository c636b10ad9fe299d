//! The page's static files, embedded in the binary and served under
//! `/assets/` (the CSP allows scripts and styles from there only).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::Shared;

pub(crate) const APP_JS: &str = include_str!("../../assets/app.js");
pub(crate) const APP_CSS: &str = include_str!("../../assets/app.css");
pub(crate) const ADMIN_JS: &str = include_str!("../../assets/admin.js");
pub(crate) const ADMIN_HTML: &str = include_str!("../../assets/admin.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/assets/app.js", get(|| asset(JS, APP_JS)))
        .route("/assets/app.css", get(|| asset(CSS, APP_CSS)))
        .route("/assets/admin.js", get(|| asset(JS, ADMIN_JS)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
