//! Redis URLs as they may be shown to a user: in errors, logs, progress lines and results the
//! password is replaced by `***`, and the user it logs in as is kept. The controller and the agent
//! both print URLs; this is the one redaction they share.

/// `redis://user:secret@host` -> `redis://user:***@host`; a URL without credentials unchanged.
pub fn redact_url(url: &str) -> String {
    match split(url) {
        Some((scheme_end, at)) => {
            let user = url_user_part(&url[scheme_end..at]);
            format!("{}{user}:***{}", &url[..scheme_end], &url[at..])
        }
        None => url.to_owned(),
    }
}

/// The user `url` logs in as (`default`, Redis's own name, when the URL gives a password only),
/// or `None` when it gives no credentials.
pub fn url_user(url: &str) -> Option<&str> {
    let (scheme_end, at) = split(url)?;
    let user = url_user_part(&url[scheme_end..at]);
    Some(if user.is_empty() { "default" } else { user })
}

/// `text` (say, a client library's error) with `url` shown redacted and its password, wherever
/// else it appears, replaced by `***`.
pub fn redact_in(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Some((scheme_end, at)) = split(url)
        && let Some((_, password)) = url[scheme_end..at].split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "***");
    }
    out
}

/// Where the userinfo of `url` starts (after `://`) and where it ends (the last `@`, so a
/// password holding an unescaped `@` is hidden whole).
fn split(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")? + 3;
    let at = url.rfind('@')?;
    (at >= scheme_end).then_some((scheme_end, at))
}

fn url_user_part(userinfo: &str) -> &str {
    userinfo.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("redis://:pw@host:6379"), "redis://:***@host:6379");
        assert_eq!(redact_url("rediss://u:pw@host"), "rediss://u:***@host");
        assert_eq!(redact_url("redis://:p@ss@host/0#insecure"), "redis://:***@host/0#insecure");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn names_the_user() {
        assert_eq!(url_user("redis://:pw@host"), Some("default"));
        assert_eq!(url_user("redis://bob:pw@host"), Some("bob"));
        assert_eq!(url_user("redis://host:6379"), None);
    }

    #[test]
    fn hides_the_password_inside_other_text() {
        let url = "redis://bob:WRONGpw123@127.0.0.1:1";
        let text = format!("cannot reach {url}; auth WRONGpw123 refused");
        assert_eq!(redact_in(&text, url), "cannot reach redis://bob:***@127.0.0.1:1; auth *** refused");
    }
}
