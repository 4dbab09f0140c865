//! A stand-in for Google's Custom Search API: a real HTTP server on loopback that answers per
//! key the way Google does (the bodies and statuses of research note B.3), and counts calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;

/// How the fake answers for one key.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Ok,
    /// The daily quota of project `N` is spent.
    DailyQuota(u64),
    PerMinute,
    Invalid,
    ServerError,
    /// `n` successful calls, then the daily quota of project `N`.
    Budget(usize, u64),
}

#[derive(Clone, Default)]
struct Shared {
    behaviours: Arc<Mutex<HashMap<String, Behaviour>>>,
    calls: Arc<Mutex<HashMap<String, usize>>>,
    delay_ms: Arc<Mutex<u64>>,
}

/// The running fake.
pub struct FakeGoogle {
    pub url: String,
    pub cx: String,
    shared: Shared,
}

const CX: &str = "017576662512468239146:omuauf_lfve";

impl FakeGoogle {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/customsearch/v1", axum::routing::get(answer))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/customsearch/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            cx: CX.to_owned(),
            shared,
        }
    }

    pub fn behave(&self, key: &str, behaviour: Behaviour) {
        self.shared
            .behaviours
            .lock()
            .unwrap()
            .insert(key.to_owned(), behaviour);
    }

    pub fn calls(&self, key: &str) -> usize {
        self.shared
            .calls
            .lock()
            .unwrap()
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_calls(&self) -> usize {
        self.shared.calls.lock().unwrap().values().sum()
    }

    pub fn delay(&self, ms: u64) {
        *self.shared.delay_ms.lock().unwrap() = ms;
    }
}

fn google_error(status: StatusCode, reason: &str, message: &str, api_status: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"code": status.as_u16(), "message": message, "status": api_status,
            "errors": [{"message": message, "domain": "usageLimits", "reason": reason}]}}),
        ),
    )
        .into_response()
}

async fn answer(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let delay = *shared.delay_ms.lock().unwrap();
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let Some(key) = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return google_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The request is missing a valid API key.",
            "PERMISSION_DENIED",
        );
    };
    let count = {
        let mut calls = shared.calls.lock().unwrap();
        let n = calls.entry(key.clone()).or_default();
        *n += 1;
        *n
    };
    if query.get("cx").map(String::as_str) != Some(CX) {
        return google_error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Request contains an invalid argument.",
            "INVALID_ARGUMENT",
        );
    }
    let behaviour = shared
        .behaviours
        .lock()
        .unwrap()
        .get(&key)
        .cloned()
        .unwrap_or(Behaviour::Invalid);
    let per_day = |project: u64| {
        google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            &format!(
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'customsearch.googleapis.com' for consumer 'project_number:{project}'."
            ),
            "RESOURCE_EXHAUSTED",
        )
    };
    match behaviour {
        Behaviour::Ok => ok(&query),
        Behaviour::Budget(n, _) if count <= n => ok(&query),
        Behaviour::Budget(_, project) | Behaviour::DailyQuota(project) => per_day(project),
        Behaviour::PerMinute => google_error(StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'customsearch.googleapis.com' for consumer 'project_number:9'.",
            "RESOURCE_EXHAUSTED"),
        Behaviour::Invalid => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})),
        )
            .into_response(),
        Behaviour::ServerError => (StatusCode::SERVICE_UNAVAILABLE, "backend error").into_response(),
    }
}

fn ok(query: &HashMap<String, String>) -> Response {
    let q = query.get("q").cloned().unwrap_or_default();
    axum::Json(json!({"kind": "customsearch#search", "items": [{"title": format!("result for {q}"), "link": "https://example.com/"}]}))
        .into_response()
}
