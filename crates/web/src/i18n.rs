//! The languages of the pages: Fluent catalogs compiled into the binary (`locales/*.ftl`), and
//! the choice of one per request — the `kunci_lang` cookie, else `Accept-Language`, else
//! `environment.default_language`.
//!
//! Messages are plain text: templates put them through minijinja's escaping like any other
//! value, arguments included. Unicode isolation marks are off (both languages run left to
//! right, and the marks would show up in copied text and in tests).

use std::fmt;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

/// The cookie a visitor's choice of language is kept in.
pub const COOKIE: &str = "kunci_lang";

/// The longest `Accept-Language` read; a longer one is ignored whole.
const MAX_ACCEPT_LANGUAGE: usize = 1024;
/// The most language ranges of one header looked at.
const MAX_RANGES: usize = 32;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Id,
}

impl Lang {
    pub const ALL: [Self; 2] = [Self::En, Self::Id];

    /// The BCP 47 tag, as `<html lang>` and the cookie carry it.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Id => "id",
        }
    }

    /// A language tag or range: `en`, `en-GB`, `id`, `id-ID`, and `in` (the code Indonesian had
    /// before 1989, still sent by some systems). Case does not matter.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else if primary.eq_ignore_ascii_case("id") || primary.eq_ignore_ascii_case("in") {
            Some(Self::Id)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        match self {
            Self::En => 0,
            Self::Id => 1,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Self::En => include_str!("../locales/en.ftl"),
            Self::Id => include_str!("../locales/id.ftl"),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The language a page is rendered in, and the page's own path (for the switcher to come
/// back to). Taken from the request by its extractor (`lang.rs`).
#[derive(Debug, Clone)]
pub struct PageLang {
    pub lang: Lang,
    pub here: String,
    /// The visitor may see the administrators' pages (the navigation links them).
    pub admin: bool,
}

/// The language of one request: the cookie's if it names one we have, else the best of
/// `Accept-Language`, else `default`.
pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>, default: Lang) -> Lang {
    cookie
        .and_then(Lang::parse)
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or(default)
}

/// The language an `Accept-Language` header prefers most among ours (RFC 9110 §12.5.4): the
/// highest `q`, the earlier range on a tie; `q=0` means "not this one". Malformed ranges are
/// skipped, an oversized header is ignored.
fn from_accept_language(header: &str) -> Option<Lang> {
    if header.len() > MAX_ACCEPT_LANGUAGE {
        return None;
    }
    let mut best: Option<(Lang, u16)> = None;
    for range in header.split(',').take(MAX_RANGES) {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let Some(lang) = Lang::parse(tag).filter(|_| is_language_range(tag)) else {
            continue;
        };
        let mut weight = Some(1000);
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("q") {
                weight = quality(value.trim());
            }
        }
        match weight {
            Some(w) if w > 0 && best.is_none_or(|(_, b)| w > b) => best = Some((lang, w)),
            _ => {}
        }
    }
    best.map(|(lang, _)| lang)
}

/// `1*8ALPHA *("-" 1*8alphanum)`: what a language range looks like.
fn is_language_range(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let primary_ok = subtags
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A `qvalue` in thousandths: `0`, `0.5`, `1`, `1.000`; `None` when malformed.
fn quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(Catalogs::new);

/// The words of notification mails in one language, from the catalogs (`mail-title-<kind>`,
/// `mail-field-<key>`): what the composition root gives the mail channel.
#[derive(Debug, Clone, Copy)]
pub struct MailText(pub Lang);

impl kunci_domain::notify::MailWording for MailText {
    fn title(&self, kind: kunci_domain::notify::EventKind) -> String {
        catalogs().text(self.0, &format!("mail-title-{kind}"), None)
    }

    fn label(&self, field: &str) -> Option<String> {
        let id = format!("mail-field-{field}");
        catalogs()
            .has(self.0, &id)
            .then(|| catalogs().text(self.0, &id, None))
    }

    fn time(&self, unix: i64) -> String {
        catalogs().date_time(self.0, unix)
    }
}

/// The catalogs, parsed once for the process (they are part of the binary).
pub fn catalogs() -> &'static Catalogs {
    &CATALOGS
}

/// Every catalog, parsed once.
pub struct Catalogs {
    bundles: Vec<FluentBundle<FluentResource>>,
}

impl fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalogs").finish_non_exhaustive()
    }
}

impl Catalogs {
    pub fn new() -> Self {
        let bundles = Lang::ALL
            .iter()
            .map(|&lang| {
                let mut bundle = FluentBundle::new_concurrent(vec![lang_id(lang)]);
                bundle.set_use_isolating(false);
                // The catalogs are part of the binary and held by tests: an error here is a bug
                // caught before release, so it is logged rather than fatal.
                let resource = FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(
                    |(partial, errors)| {
                        tracing::error!(lang = lang.code(), ?errors, "a catalog does not parse");
                        partial
                    },
                );
                if let Err(errors) = bundle.add_resource(resource) {
                    tracing::error!(lang = lang.code(), ?errors, "a catalog has duplicates");
                }
                bundle
            })
            .collect();
        Self { bundles }
    }

    /// Message `id` in `lang` with `args`. A message that does not exist comes out as its id
    /// (and a warning): visible, never a failed page.
    pub fn text(&self, lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = &self.bundles[lang.index()];
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(lang = lang.code(), id, "no such message in the catalog");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                lang = lang.code(),
                id,
                ?errors,
                "a message did not format cleanly"
            );
        }
        text.into_owned()
    }

    /// Whether `lang` has message `id`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundles[lang.index()].has_message(id)
    }

    /// A time as the pages show it (`3 Dec 2026, 14:05 UTC`), or `date-never` for none.
    pub fn date_time(&self, lang: Lang, unix: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return self.text(lang, "date-never", None);
        };
        let mut args = FluentArgs::new();
        args.set("day", t.day().to_string());
        args.set(
            "month",
            self.text(lang, &format!("month-{}", u8::from(t.month())), None),
        );
        args.set("year", t.year().to_string());
        args.set("hour", format!("{:02}", t.hour()));
        args.set("minute", format!("{:02}", t.minute()));
        self.text(lang, "date-time", Some(&args))
    }
}

impl Default for Catalogs {
    fn default() -> Self {
        Self::new()
    }
}

fn lang_id(lang: Lang) -> unic_langid::LanguageIdentifier {
    // Both codes are well-formed language ids; the fallback is never taken.
    lang.code().parse().unwrap_or_default()
}

/// The ids of the messages of `lang`'s catalog, in order (for the tests that hold the catalogs
/// to each other and to the templates): every line that starts a message, `id = …`.
#[cfg(test)]
pub(crate) fn message_ids(lang: Lang) -> Vec<String> {
    lang.source()
        .lines()
        .filter_map(|line| line.split_once(" ="))
        .map(|(id, _)| id)
        .filter(|id| {
            id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_wins_then_the_header_then_the_default() {
        assert_eq!(negotiate(Some("id"), Some("en"), Lang::En), Lang::Id);
        assert_eq!(negotiate(Some("fr"), Some("id-ID"), Lang::En), Lang::Id);
        assert_eq!(negotiate(None, Some("de, fr;q=0.5"), Lang::Id), Lang::Id);
        assert_eq!(negotiate(None, None, Lang::En), Lang::En);
    }

    #[test]
    fn accept_language_takes_the_highest_quality_we_have() {
        for (header, expected) in [
            ("id", Some(Lang::Id)),
            ("en-US,en;q=0.9,id;q=0.8", Some(Lang::En)),
            ("fr-FR, id;q=0.7, en;q=0.3", Some(Lang::Id)),
            ("en;q=0.2, ID-id;q=0.9", Some(Lang::Id)),
            ("in", Some(Lang::Id)),
            ("en;q=0, id;q=0.001", Some(Lang::Id)),
            ("id;q=1.000, en", Some(Lang::Id)),
            ("en;q=0", None),
            ("de, fr, *", None),
            ("", None),
        ] {
            assert_eq!(from_accept_language(header), expected, "{header:?}");
        }
    }

    #[test]
    fn hostile_accept_language_headers_are_skipped_not_trusted() {
        for header in [
            "id;q=2",
            "id;q=1.5",
            "id;q=-1",
            "id;q=0.0001",
            "id;q=abc",
            "id;q=",
            "id;q=NaN",
            "id\u{0}",
            "idx-ID-toolongsubtag",
            "id-;q=1",
            ";;;;,,,,",
            "en-\u{202e}",
        ] {
            assert_eq!(from_accept_language(header), None, "{header:?}");
        }
        // Only the first ranges count, and a header past the limit counts not at all.
        let many = format!("{}id", "xx, ".repeat(MAX_RANGES));
        assert_eq!(from_accept_language(&many), None);
        let long = format!("id, {}", "a".repeat(MAX_ACCEPT_LANGUAGE));
        assert_eq!(from_accept_language(&long), None);
    }

    #[test]
    fn both_catalogs_have_the_same_messages() {
        let english = message_ids(Lang::En);
        let indonesian = message_ids(Lang::Id);
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|id| !b.contains(id)).cloned().collect()
        };
        assert!(
            only(&english, &indonesian).is_empty(),
            "in en.ftl only: {:?}",
            only(&english, &indonesian)
        );
        assert!(
            only(&indonesian, &english).is_empty(),
            "in id.ftl only: {:?}",
            only(&indonesian, &english)
        );
        let mut unique = english.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), english.len(), "a message id used twice");
    }

    #[test]
    fn the_indonesian_catalog_is_translated_not_copied() {
        let catalogs = Catalogs::new();
        // Messages that may read the same in both (names, symbols, words Indonesian borrows,
        // and the months both abbreviate alike: Jan, Feb, …).
        let alike = [
            "site-name",
            "keys-col-status",
            "date-never",
            "accounts-admin",
            "clients-scope-admin",
        ];
        let copied: Vec<String> = message_ids(Lang::En)
            .into_iter()
            .filter(|id| !alike.contains(&id.as_str()) && !id.starts_with("month-"))
            .filter(|id| catalogs.text(Lang::En, id, None) == catalogs.text(Lang::Id, id, None))
            .collect();
        assert!(copied.is_empty(), "the same text in both: {copied:?}");
    }

    #[test]
    fn every_notification_has_a_mail_title_in_each_language() {
        use kunci_domain::notify::{EventKind, MailWording as _};
        for lang in Lang::ALL {
            for kind in EventKind::ALL {
                let title = MailText(lang).title(kind);
                assert!(!title.starts_with("mail-title-"), "{lang}: {kind}");
            }
            assert!(MailText(lang).label("kind").is_some());
            assert_eq!(MailText(lang).label("no_such_detail"), None);
        }
        assert_eq!(MailText(Lang::Id).time(0), "1 Jan 1970 pukul 00.00 UTC");
    }

    #[test]
    fn arguments_are_filled_in_without_isolation_marks() {
        let catalogs = Catalogs::new();
        let mut args = FluentArgs::new();
        args.set("name", "alice");
        assert_eq!(
            catalogs.text(Lang::Id, "home-signed-in", Some(&args)),
            "Anda masuk sebagai alice."
        );
        assert_eq!(
            catalogs.text(Lang::En, "no-such-message", None),
            "no-such-message"
        );
    }
}
