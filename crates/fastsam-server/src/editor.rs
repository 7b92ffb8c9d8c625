//! The browser editor: static HTML/CSS/JS compiled into the binary (no build step, nothing from a CDN).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::SharedState;

const INDEX: &str = include_str!("../static/index.html");
const CSS: &str = include_str!("../static/editor.css");
const JS: &str = include_str!("../static/editor.js");

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route("/editor.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/editor.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}
