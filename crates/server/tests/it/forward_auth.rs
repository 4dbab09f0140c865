//! Forward-auth through a real nginx: Debian's nginx on loopback runs the shipped example
//! configuration (`examples/nginx/kunci.conf`, its addresses replaced) in front of a small
//! application and of kunci; requests are allowed, denied and scope-denied as a visitor sees
//! them.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::helpers::{Browser, TestApp};

const NGINX: &str = "/usr/sbin/nginx";

/// nginx running the example; killed on drop.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_nginx(kunci: &str, app: &str) -> Option<Nginx> {
    if !Path::new(NGINX).exists() {
        assert!(
            !kunci_store::testing::in_ci(),
            "{NGINX} is missing, but CI=true: scripts/services.sh installs it"
        );
        kunci_store::testing::skip("nginx is not installed (scripts/services.sh installs it)");
        return None;
    }
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx/kunci.conf"),
    )
    .unwrap();
    let port = free_port();
    let server = example
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("127.0.0.1:8080", kunci)
        .replace("127.0.0.1:5000", app);
    assert!(server.contains(kunci) && server.contains(app));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}\n}}\n"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let nginx = Nginx {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(nginx);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(nginx._dir.path().join("error.log")).unwrap_or_default()
    );
}

/// The application behind the proxy: says who kunci said the visitor is.
async fn start_app() -> String {
    use axum::http::HeaderMap;
    let whoami = |headers: HeaderMap| async move {
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        format!(
            "user={} scopes={}",
            get("x-kunci-user"),
            get("x-kunci-scopes")
        )
    };
    let app = axum::Router::new()
        .route("/app/", axum::routing::get(whoami).post(whoami))
        .route("/app/admin/", axum::routing::get(whoami));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

#[tokio::test]
async fn nginx_lets_in_logged_in_users_and_keeps_out_the_rest() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false), ("root", true)]).await;
    let backend = start_app().await;
    let kunci = app
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let Some(nginx) = start_nginx(&kunci, &backend).await else {
        return;
    };

    // Nobody logged in: browsers are sent to kunci's login page, and back afterwards.
    let mut anonymous = Browser::new(&nginx.url);
    let denied = anonymous.api("/app/").await;
    assert_eq!(denied.status, 303, "{}", denied.body);
    assert!(
        denied
            .location()
            .is_some_and(|l| l.ends_with("/login?next=/app/")),
        "{:?}",
        denied.location()
    );
    let forged = anonymous
        .send(
            reqwest::Method::GET,
            "/app/",
            "text/plain",
            &[("x-kunci-user", "root"), ("x-kunci-scopes", "admin")],
            None,
        )
        .await;
    assert_eq!(
        forged.status, 303,
        "a visitor's own X-Kunci-* headers get nobody in"
    );

    // Logged in through the proxy: the application learns who it is.
    let mut alice = Browser::logged_in(&nginx.url, "alice").await;
    let allowed = alice
        .request(reqwest::Method::GET, "/app/", "text/plain")
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.body, "user=alice scopes=basic user");
    let impostor = alice
        .send(
            reqwest::Method::GET,
            "/app/",
            "text/plain",
            &[("x-kunci-user", "root")],
            None,
        )
        .await;
    assert_eq!(impostor.body, "user=alice scopes=basic user");

    // Scope admin: alice is refused, root let in.
    let scope_denied = alice
        .request(reqwest::Method::GET, "/app/admin/", "text/plain")
        .await;
    assert_eq!(scope_denied.status, 403);
    let mut root = Browser::logged_in(&nginx.url, "root").await;
    let admin = root
        .request(reqwest::Method::GET, "/app/admin/", "text/plain")
        .await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.body, "user=root scopes=basic user admin");

    // An unsafe request from another site is refused before it reaches the application; the
    // same from the site itself goes through.
    let posts: [(&[(&str, &str)], u16); 3] = [
        (
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ],
            403,
        ),
        (&[("sec-fetch-site", "same-origin")], 200),
        (
            &[
                ("sec-fetch-site", "same-origin"),
                ("x-csrf-token", "v1.forged"),
            ],
            403,
        ),
    ];
    for (headers, expected) in posts {
        let post = alice
            .send(
                reqwest::Method::POST,
                "/app/",
                "text/plain",
                headers,
                Some(("application/x-www-form-urlencoded", b"a=1".to_vec())),
            )
            .await;
        assert_eq!(post.status, expected, "{headers:?}: {}", post.body);
    }

    // Bearer tokens work through the proxy too.
    let direct = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login_mobile"))
        .json(
            &json!({"username": "alice", "password": "alice pass", "client_id": "nginx-test-app"}),
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let token = direct["access_token"].as_str().unwrap();
    let mut phone = Browser::new(&nginx.url);
    let bearer = phone
        .send(
            reqwest::Method::GET,
            "/app/",
            "application/json",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.body);
    assert_eq!(bearer.body, "user=alice scopes=basic user");
}

#[tokio::test]
async fn verify_answers_without_redirects() {
    let app = TestApp::spawn().await;
    app.add_accounts(&[("alice", false)]).await;
    let mut nobody = Browser::new(&app.url(""));
    let page = nobody
        .request(reqwest::Method::GET, "/auth/verify", "text/html")
        .await;
    assert_eq!(
        page.status, 401,
        "a browser's Accept never makes it a bootstrap"
    );
    assert!(
        page.set_cookie_lines().is_empty(),
        "no session is started for a proxy's question"
    );
    let mut alice = Browser::logged_in(&app.url(""), "alice").await;
    let ok = alice.api("/auth/verify").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["x-kunci-user"], "alice");
    assert_eq!(ok.headers["cache-control"], "no-store");
    let bad = alice.api("/auth/verify?scope=root").await;
    assert_eq!(bad.status, 400);
    let post = alice.post_json("/auth/verify", &json!({}), true).await;
    assert_eq!(post.status, 405);
}
