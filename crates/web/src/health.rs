//! Liveness and readiness for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use futures_util::future::join_all;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is alive and serving. Checks nothing else, so an orchestrator
/// never restarts an instance because its database is down.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: every dependency answers (the database, and Redis when configured). 503
/// with the state of each check otherwise. Causes are logged, never shown: they may name hosts.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let results = join_all(state.probes().iter().map(|probe| async move {
        let outcome = probe.check().await;
        if let Err(failure) = &outcome {
            tracing::warn!(check = probe.name(), cause = %failure, "readiness check failed");
        }
        (probe.name(), probe.required(), outcome.is_ok())
    }))
    .await;
    let ready = results.iter().all(|(_, required, up)| *up || !*required);
    let mut degraded = degraded(&state);
    for (name, _, up) in results
        .iter()
        .filter(|(_, required, up)| !*required && !*up)
    {
        let _ = up;
        degraded.insert((*name).to_owned(), Value::from("down"));
    }
    let checks: Map<String, Value> = results
        .into_iter()
        .map(|(name, _, up)| (name.to_owned(), Value::from(if up { "up" } else { "down" })))
        .collect();
    if ready {
        let status = if degraded.is_empty() {
            "ready"
        } else {
            "degraded"
        };
        Ok(Json(json!({
            "status": status,
            "checks": checks,
            "degraded": degraded,
        })))
    } else {
        Err(ApiError::NotReady { checks })
    }
}

/// Controls running in a documented fallback (docs/operations.md): ready, but not as designed.
pub(crate) fn degraded(state: &AppState) -> Map<String, Value> {
    let mut degraded = Map::new();
    if state.limiter().is_degraded() {
        degraded.insert(
            "rate_limits".to_owned(),
            json!({ "mode": "per_instance", "fallbacks": state.limiter().fallbacks() }),
        );
    }
    degraded
}
