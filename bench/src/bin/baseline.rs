//! The baseline of every load scenario: a bare axum server built from the same workspace and
//! profile as kunci, answering `GET /` with a small page. It also stands in for Google's Custom
//! Search (`GET /customsearch/v1`) so the cached-search scenario has an upstream to fill its
//! cache from. Prints `listening on ADDR` once it accepts connections.

use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hello</title></head><body><h1>hello</h1></body></html>";

async fn search() -> impl IntoResponse {
    (
        [("content-type", "application/json; charset=UTF-8")],
        r#"{"kind":"customsearch#search","items":[{"title":"a result","link":"https://example.com/"}]}"#,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/customsearch/v1", get(search));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    #[expect(clippy::print_stdout, reason = "the harness reads the address here")]
    {
        println!("listening on {}", listener.local_addr()?);
    }
    axum::serve(listener, app).await?;
    Ok(())
}
