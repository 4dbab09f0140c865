//! HTTPS served directly (`environment.tls_cert` / `tls_key`): the real binary answers over TLS
//! with the configured certificate, plain HTTP on that port gets no page, a client that
//! connects and says nothing holds up nobody, a loose key file or half a pair is refused at
//! start with the file named, and a renewed certificate is served without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::Kunci;

/// A self-signed certificate for 127.0.0.1 and its key (mode 0600), made by openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=kunci test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (scripts/services.sh installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (cert, key)
}

fn with_tls(kunci: Kunci, cert: &Path, key: &Path) -> Kunci {
    kunci
        .var("KUNCI__ENVIRONMENT__TLS_CERT", cert.to_str().unwrap())
        .var("KUNCI__ENVIRONMENT__TLS_KEY", key.to_str().unwrap())
}

#[test]
fn kunci_serves_https_with_the_configured_certificate() {
    kunci::install_crypto_provider();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let kunci = with_tls(Kunci::new(), &cert, &key);
    let server = kunci.serve(&[]);
    let https = server.url("/healthz").replacen("http://", "https://", 1);
    // A handshake waiting on a silent client must not delay this one: 3 s, not the 10 s a
    // handshake may take.
    let trusted = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap()])
        .build()
        .unwrap();

    // Someone connects and says nothing: the next client is served all the same.
    let silent = std::net::TcpStream::connect(
        server
            .url("")
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    )
    .unwrap();
    let answer = trusted.get(&https).send().unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);
    drop(silent);

    // Plain HTTP on the HTTPS port gets no page.
    let plain = reqwest::blocking::Client::new()
        .get(server.url("/healthz"))
        .send();
    assert!(plain.is_err(), "{plain:?}");
    // A client that does not trust the certificate gets no page either.
    let untrusting = reqwest::blocking::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap()
        .get(&https)
        .send();
    assert!(untrusting.is_err(), "{untrusting:?}");
    // And the server goes on serving.
    assert_eq!(trusted.get(&https).send().unwrap().status(), 200);
}

#[test]
fn a_loose_key_or_half_a_pair_is_refused_at_start() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());

    let half = Kunci::new().var("KUNCI__ENVIRONMENT__TLS_CERT", cert.to_str().unwrap());
    let refused = half.run(&["serve"]);
    assert_ne!(refused.code(), Some(0));
    assert!(
        refused.stderr().contains("go together"),
        "{}",
        refused.stderr()
    );

    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let loose = with_tls(Kunci::new(), &cert, &key).run(&["serve"]);
    assert_ne!(loose.code(), Some(0));
    assert!(loose.stderr().contains("key.pem"), "{}", loose.stderr());
    assert!(loose.stderr().contains("tls_key"), "{}", loose.stderr());
    assert!(!loose.all().contains("PRIVATE KEY"), "the key never prints");

    // A key that is not one: named, not echoed.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nnot-base64-CANARY\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let garbled = with_tls(Kunci::new(), &cert, &key).run(&["serve"]);
    assert_ne!(garbled.code(), Some(0));
    assert!(
        garbled.stderr().contains("no PEM private key"),
        "{}",
        garbled.stderr()
    );
    assert!(!garbled.all().contains("CANARY"));
}

/// Replaces `path` with `content` and moves its modification time on (a renewal).
fn renew(path: &Path, content: &[u8], seconds_later: u64) {
    std::fs::write(path, content).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    let at = std::fs::metadata(path).unwrap().modified().unwrap()
        + std::time::Duration::from_secs(seconds_later);
    file.set_modified(at).unwrap();
}

#[test]
fn a_renewed_certificate_is_served_and_a_broken_renewal_keeps_the_old_one() {
    let first = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(first.path());
    let files = kunci::tls::CertificateFiles::load(cert.clone(), key.clone()).unwrap();
    let before = files.serving().cert[0].clone();
    assert!(!files.reload_if_changed().unwrap(), "nothing changed");

    let second = tempfile::tempdir().unwrap();
    let (new_cert, new_key) = certificate(second.path());
    renew(&key, &std::fs::read(&new_key).unwrap(), 10);
    renew(&cert, &std::fs::read(&new_cert).unwrap(), 10);
    assert!(files.reload_if_changed().unwrap());
    let after = files.serving().cert[0].clone();
    assert_ne!(after, before, "the renewed certificate is served");

    // A renewal caught half-written (a certificate that does not match the key) is refused.
    let third = tempfile::tempdir().unwrap();
    let (other_cert, _) = certificate(third.path());
    renew(&cert, &std::fs::read(&other_cert).unwrap(), 20);
    let err = files.reload_if_changed().unwrap_err();
    assert!(
        format!("{err:#}").contains("do not make a usable pair"),
        "{err:#}"
    );
    assert_eq!(files.serving().cert[0], after, "the previous one stays");
}
