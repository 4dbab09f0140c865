//! Masked forms of secrets, the only form in which a secret is ever shown.
//!
//! The shape is the one users know from API consoles: a short recognisable prefix, an ellipsis
//! and the last four characters (`AIza…RYSU`). Short secrets reveal less, because four plus
//! four characters of a twelve-character secret would be most of it.

/// Below this many characters nothing of the secret is shown.
const SHOW_SUFFIX_FROM: usize = 12;
/// From this many characters on, a prefix of up to four characters is shown too.
const SHOW_PREFIX_FROM: usize = 24;

/// The masked form of `secret`: `AIza…RYSU` for long secrets, `…RYSU` for medium ones and `…`
/// for short ones. Never reveals more than eight characters, nor more than a third of the
/// secret.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    if n < SHOW_SUFFIX_FROM {
        return "…".to_owned();
    }
    let suffix: String = chars[n - 4..].iter().collect();
    if n < SHOW_PREFIX_FROM {
        return format!("…{suffix}");
    }
    let prefix: String = chars[..4].iter().collect();
    format!("{prefix}…{suffix}")
}

/// Masks the password of a URL such as `postgres://user:password@host/db`, keeping the rest
/// readable so an operator can still see which server and database are meant. Anything that
/// does not look like a URL with credentials is returned unchanged apart from a query string,
/// which may carry tokens and is replaced by `?…`.
pub fn mask_url_password(url: &str) -> String {
    let (base, had_query) = match url.split_once('?') {
        Some((base, _)) => (base, true),
        None => (url, false),
    };
    let masked = match base.split_once("://") {
        Some((scheme, rest)) => {
            // The authority ends at the first '/', and credentials end at its last '@'.
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    if userinfo.contains(':') {
                        format!("{scheme}://{user}:…@{host}{path}")
                    } else {
                        // A lone userinfo part is how Redis URLs carry a password.
                        format!("{scheme}://…@{host}{path}")
                    }
                }
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if had_query {
        format!("{masked}?…")
    } else {
        masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secrets_show_prefix_and_last_four() {
        assert_eq!(mask("AIzaSyA1234567890abcdefghijklmnoRYSU"), "AIza…RYSU");
    }

    #[test]
    fn medium_secrets_show_only_last_four() {
        assert_eq!(mask("abcdefghijklmno"), "…lmno");
    }

    #[test]
    fn short_secrets_show_nothing() {
        assert_eq!(mask("hunter2"), "…");
        assert_eq!(mask(""), "…");
    }

    #[test]
    fn masking_never_reveals_more_than_a_third() {
        for n in 0..64 {
            let secret: String = std::iter::repeat_n('x', n).collect();
            let shown = mask(&secret).chars().filter(|c| *c == 'x').count();
            assert!(shown * 3 <= n, "{shown} of {n} characters shown");
        }
    }

    #[test]
    fn multibyte_secrets_are_cut_on_character_boundaries() {
        assert_eq!(mask("ééééééééééééééééééééééééü"), "éééé…éééü");
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_url_password("postgres://kunci:s3cret@db.example:5432/kunci"),
            "postgres://kunci:…@db.example:5432/kunci"
        );
        assert_eq!(
            mask_url_password("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:…@127.0.0.1:6379/0"
        );
        assert_eq!(
            mask_url_password("redis://s3cret@cache/0"),
            "redis://…@cache/0"
        );
        assert_eq!(
            mask_url_password("sqlite://instance/kunci.db"),
            "sqlite://instance/kunci.db"
        );
        assert_eq!(
            mask_url_password("postgres://h/db?password=s3cret"),
            "postgres://h/db?…"
        );
    }

    #[test]
    fn passwords_containing_at_signs_are_masked_whole() {
        let masked = mask_url_password("postgres://u:p@ss@host/db");
        assert_eq!(masked, "postgres://u:…@host/db");
    }
}
