//! Passwords (argon2id), session tokens, CSRF tokens and the login rate limiter.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use blake2::{Blake2b512, Digest};
use rand::RngCore;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rong_session";
/// The login form's CSRF cookie (double submit: there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "rong_login_csrf";
/// The language cookie.
pub const LANG_COOKIE: &str = "rong_lang";

/// Hashes a password with argon2id (default parameters, random salt) as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches a stored PHC hash; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random token: 32 bytes from the OS, as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex(&b)
}

/// What the database stores for a session token: its BLAKE2b-512 hash, as hex.
pub fn token_hash(token: &str) -> String {
    hex(&Blake2b512::digest(token.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two tokens in time that depends only on their lengths.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Failed logins per key (an account or an address) within a sliding window.
#[derive(Debug)]
pub struct Limiter {
    max: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// Allows `max` failures per key within `window`.
    pub fn new(max: u32, window: Duration) -> Limiter {
        Limiter {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any of `keys` has used up its failures at `now`.
    pub fn blocked(&self, keys: &[String], now: Instant) -> bool {
        let Ok(mut f) = self.failures.lock() else {
            return true;
        };
        keys.iter().any(|k| {
            f.get_mut(k).is_some_and(|q| {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                q.len() >= self.max as usize
            })
        })
    }

    /// Counts a failure against every key.
    pub fn fail(&self, keys: &[String], now: Instant) {
        if let Ok(mut f) = self.failures.lock() {
            for k in keys {
                f.entry(k.clone()).or_default().push_back(now);
            }
            // Forget keys whose failures are all old, so the map cannot grow without end.
            if f.len() > 10_000 {
                let window = self.window;
                f.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
            }
        }
    }

    /// Forgets a key's failures (an account after a good login).
    pub fn clear(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("mật khẩu").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("mật khẩu", &h));
        assert!(!verify_password("mat khau", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(hash_password("mật khẩu").unwrap(), h, "salted");
    }

    #[test]
    fn tokens() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        assert_eq!(token_hash(&t).len(), 128);
        assert_eq!(token_hash(&t), token_hash(&t));
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &random_token()));
        assert!(!same_token("", ""));
        assert_eq!(
            cookie("a=1; rong_session=xy; b=2", "rong_session"),
            Some("xy")
        );
        assert_eq!(cookie("a=1", "rong_session"), None);
    }

    #[test]
    fn limiter_blocks_after_max_failures_in_the_window() {
        let l = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let keys = ["user:ana".to_owned(), "ip:1.2.3.4".to_owned()];
        for i in 0..3 {
            assert!(!l.blocked(&keys, t0), "attempt {i}");
            l.fail(&keys, t0);
        }
        assert!(l.blocked(&keys, t0));
        // Another account from the same address is blocked too; the same account elsewhere too.
        assert!(l.blocked(&["user:bo".into(), "ip:1.2.3.4".into()], t0));
        assert!(l.blocked(&["user:ana".into(), "ip:5.6.7.8".into()], t0));
        assert!(!l.blocked(&["user:bo".into(), "ip:5.6.7.8".into()], t0));
        // The window slides.
        assert!(!l.blocked(&keys, t0 + Duration::from_secs(61)));
        l.fail(&keys, t0);
        l.clear("user:ana");
        assert!(!l.blocked(&["user:ana".into()], t0));
    }
}
