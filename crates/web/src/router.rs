//! The whole route table, in one place.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, delete, get, patch, post};
use kunci_domain::session::Scope;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{contract_errors, method_not_allowed, not_found, panic_response, request_shape};
use crate::state::AppState;
use crate::{
    account_page, admin_account, admin_accounts, api_keys, audit_page, auth, clients_page, cors,
    csp_report, csrf, forward_auth, headers, health, inventory, jwks, key_import, key_page,
    keys_page, lang, limits, lockouts_page, login, metrics, mfa_api, mobile, observe, openapi,
    overview_page, pages, reset_page, scope, search, session_api, signed, signing_keys_page,
};

/// The largest request body any route accepts unless it sets its own limit.
const BODY_LIMIT: usize = 1024 * 1024;

/// The routes an embedding site adds beside kunci's.
#[derive(Debug, Default)]
pub struct SiteRoutes {
    /// Behind the session middleware, like kunci's own pages: they see an `AuthContext` and can
    /// require scopes.
    pub app: Router,
    /// Without sessions (health checks, webhooks, assets).
    pub public: Router,
}

/// Builds the application.
///
/// - public routes: health, readiness, `/forbidden`, static files, the JWKS;
/// - app routes, behind the session middleware: pages and the session API, and the site's own;
///
/// Around everything, outermost first: request span, security headers (with the CSP nonce),
/// panic catcher, body limit.
pub fn router(state: AppState, site: SiteRoutes) -> Router {
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/readyz", get(health::readyz))
        .route("/forbidden", get(pages::forbidden))
        .route("/settings", get(pages::moved_to_console))
        .route("/settings/keys/{id}", get(pages::moved_to_console))
        .route("/lang/{code}", get(lang::switch))
        .route("/static/{name}", get(pages::asset))
        .route("/favicon.ico", get(pages::favicon))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/csp-report", post(csp_report::csp_report))
        .route("/api/v1/auth/login_web", post(login::login_web))
        .route("/api/v1/auth/login_mobile", post(mobile::login_mobile))
        .route("/api/v1/auth/refresh", post(mobile::refresh))
        .with_state(state.clone())
        .merge(site.public);
    let admin = admin_routes(&state);
    let user = account_routes(&state);
    let app = Router::new()
        .route("/", get(pages::home))
        .route("/auth/verify", get(forward_auth::verify))
        .route("/login", get(pages::login).post(login::login_form))
        .route("/logout", post(login::logout_form))
        .route("/reset", get(reset_page::page).post(reset_page::set))
        .route("/api/v1/session", get(session_api::session))
        .route("/api/v1/me", get(login::me))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/proxy/{upstream}/{*path}", any(search::proxy))
        .route("/api/v1/auth/logout", post(login::logout))
        .route("/api/v1/auth/logout_all", post(login::logout_all))
        .route("/api/v1/me/sessions", get(inventory::mine))
        .route("/api/v1/me/mfa", get(mfa_api::mine))
        .route("/api/v1/me/mfa/totp", post(mfa_api::begin_totp))
        .route("/api/v1/me/mfa/totp/confirm", post(mfa_api::confirm_totp))
        .route(
            "/api/v1/me/sessions/revoke_all",
            post(inventory::end_all_mine),
        )
        .route("/api/v1/me/sessions/{id}", delete(inventory::end_mine))
        .route("/api/v1/service/ping", post(signed::ping))
        .with_state(state.clone())
        .merge(admin)
        .merge(user)
        .merge(site.app)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    public
        .merge(app)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(contract_errors))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_shape))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::refuse_cross_site,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            lang::localize_problems,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .layer(middleware::from_fn_with_state(state, observe::request_span))
}

/// The administrators' routes: pages and API, behind `require_scope(admin)`.
fn admin_routes(state: &AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/admin/accounts/{name}/sessions",
            get(inventory::of_account),
        )
        .route(
            "/api/v1/admin/accounts/{name}/sessions/revoke_all",
            post(inventory::end_all_of_account),
        )
        .route(
            "/api/v1/admin/accounts/{name}/sessions/{id}",
            delete(inventory::end_of_account),
        )
        .route(
            "/admin/accounts",
            get(admin_accounts::page).post(admin_accounts::add),
        )
        .route("/admin/accounts/{name}", get(admin_account::page))
        .route(
            "/admin/accounts/{name}/sessions/{id}/end",
            post(admin_account::end_one),
        )
        .route(
            "/admin/accounts/{name}/sessions/end-all",
            post(admin_account::end_all),
        )
        .route(
            "/admin/accounts/{name}/access",
            post(admin_account::set_access),
        )
        .route(
            "/admin/accounts/{name}/reset-link",
            post(admin_account::reset_link),
        )
        .route(
            "/admin/accounts/{name}/disabled",
            post(admin_accounts::set_disabled),
        )
        .route(
            "/admin/accounts/{name}/unlock",
            post(admin_accounts::unlock),
        )
        .route("/admin/keys", get(keys_page::page).post(keys_page::add))
        .route("/admin/keys/import", post(key_import::import))
        .route("/admin/keys/{id}/status", post(keys_page::set_status))
        .route("/admin/keys/{id}", get(key_page::page).post(key_page::edit))
        .route("/admin/keys/{id}/delete", post(key_page::delete))
        .route("/admin/keys/{id}/test", post(keys_page::test))
        .route("/admin", get(overview_page::page))
        .route("/admin/lockouts", get(lockouts_page::page))
        .route("/admin/lockouts/unlock", post(lockouts_page::unlock))
        .route("/admin/signing-keys", get(signing_keys_page::page))
        .route("/admin/audit", get(audit_page::page))
        .route("/admin/audit/verify", post(audit_page::verify))
        .route("/admin/audit/{format}", get(audit_page::export))
        .route(
            "/admin/clients",
            get(clients_page::page).post(clients_page::add),
        )
        .route(
            "/admin/clients/{name}/revoke",
            get(clients_page::confirm_revoke).post(clients_page::revoke),
        )
        .route(
            "/admin/signing-keys/rotate",
            post(signing_keys_page::rotate),
        )
        .route(
            "/admin/signing-keys/{kid}/retire",
            get(signing_keys_page::confirm_retire).post(signing_keys_page::retire),
        )
        .route(
            "/api/v1/admin/stats/leaderboard",
            get(api_keys::leaderboard),
        )
        .route(
            "/api/v1/admin/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/api/v1/admin/api-keys/{id}",
            patch(api_keys::update).delete(api_keys::remove),
        )
        .route("/api/v1/admin/api-keys/{id}/test", post(api_keys::test))
        .with_state(state.clone())
        .route_layer(middleware::from_fn_with_state(
            Scope::Admin,
            scope::require_scope,
        ))
}

/// A signed-in user's own page; visitors who are not signed in go to the login first.
fn account_routes(state: &AppState) -> Router {
    Router::new()
        .route("/account", get(account_page::page))
        .route("/account/password", post(account_page::change_password))
        .route(
            "/account/sessions/end-others",
            post(account_page::end_others),
        )
        .route("/account/sessions/{id}/end", post(account_page::end_one))
        .with_state(state.clone())
        .route_layer(middleware::from_fn_with_state(
            Scope::User,
            scope::require_scope,
        ))
}
