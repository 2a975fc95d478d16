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

    /// Takes one attempt on every key at `now`, or `None` when any of them has used up its
    /// failures. The attempt counts as a failure from the moment it is taken, so concurrent
    /// attempts cannot all pass a check made before any of them failed; a good login gives
    /// it back ([`Attempt::succeeded`]).
    pub fn take<'a>(&'a self, keys: &[String], now: Instant) -> Option<Attempt<'a>> {
        let Ok(mut f) = self.failures.lock() else {
            return None;
        };
        let used_up = keys.iter().any(|k| {
            f.get_mut(k).is_some_and(|q| {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                q.len() >= self.max as usize
            })
        });
        if used_up {
            return None;
        }
        for k in keys {
            f.entry(k.clone()).or_default().push_back(now);
        }
        // Forget keys whose failures are all old, so the map cannot grow without end.
        if f.len() > 10_000 {
            let window = self.window;
            f.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        Some(Attempt {
            limiter: self,
            keys: keys.to_vec(),
            at: now,
        })
    }
}

/// An attempt taken from a [`Limiter`]: a failure unless [`Attempt::succeeded`] is called.
#[derive(Debug)]
#[must_use = "an attempt dropped counts as a failure"]
pub struct Attempt<'a> {
    limiter: &'a Limiter,
    keys: Vec<String>,
    at: Instant,
}

impl Attempt<'_> {
    /// Gives the attempt back on every key, and forgets the first key's failures (the
    /// account, after a good login).
    pub fn succeeded(self) {
        if let Ok(mut f) = self.limiter.failures.lock() {
            for k in &self.keys {
                if let Some(q) = f.get_mut(k) {
                    if let Some(i) = q.iter().rposition(|t| *t == self.at) {
                        q.remove(i);
                    }
                }
            }
            if let Some(account) = self.keys.first() {
                f.remove(account);
            }
        }
    }
}

/// Bounds the argon2 work central does at once: each hash takes tens of milliseconds of a
/// core and about 19 MiB, so a burst of logins must queue rather than take the machine.
#[derive(Debug)]
pub struct HashWork {
    permits: tokio::sync::Semaphore,
}

impl HashWork {
    /// Allows `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> HashWork {
        HashWork {
            permits: tokio::sync::Semaphore::new(concurrency.max(1)),
        }
    }

    /// Runs `work` on the blocking pool once a permit is free, holding it throughout.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string())
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
        let blocked = |keys: &[String], t| match l.take(keys, t) {
            Some(a) => {
                a.succeeded();
                false
            }
            None => true,
        };
        for i in 0..3 {
            assert!(l.take(&keys, t0).is_some(), "attempt {i}");
        }
        assert!(blocked(&keys, t0));
        // Another account from the same address is blocked too; the same account elsewhere too.
        assert!(blocked(&["user:bo".into(), "ip:1.2.3.4".into()], t0));
        assert!(blocked(&["user:ana".into(), "ip:5.6.7.8".into()], t0));
        assert!(!blocked(&["user:bo".into(), "ip:5.6.7.8".into()], t0));
        // The window slides.
        let later = t0 + Duration::from_secs(61);
        assert!(!blocked(&keys, later));
        // A good login gives its attempt back and forgets the account's failures.
        let _ = l.take(&keys, later);
        l.take(&keys, later).unwrap().succeeded();
        assert_eq!(
            l.failures.lock().unwrap().get("ip:1.2.3.4").unwrap().len(),
            1
        );
        assert!(!l.failures.lock().unwrap().contains_key("user:ana"));
    }

    #[test]
    fn concurrent_attempts_never_pass_more_than_max() {
        // N wrong passwords at once: each takes its attempt before verifying, so at most
        // `max` get as far as the (slow) verification.
        let l = std::sync::Arc::new(Limiter::new(5, Duration::from_secs(60)));
        let verified = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(32));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (l, verified, barrier) = (l.clone(), verified.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let keys = ["user:ana".to_owned(), "ip:1.2.3.4".to_owned()];
                    barrier.wait();
                    if let Some(_attempt) = l.take(&keys, Instant::now()) {
                        verified.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // The wrong password: the attempt is dropped, a failure.
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(verified.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hash_work_runs_at_most_its_concurrency_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let work = std::sync::Arc::new(HashWork::new(2));
        let (now, most) = (
            std::sync::Arc::new(AtomicUsize::new(0)),
            std::sync::Arc::new(AtomicUsize::new(0)),
        );
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (work, now, most) = (work.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    work.run(move || {
                        let n = now.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(n, SeqCst);
                        // Real argon2 work, so the tasks overlap if nothing holds them back.
                        verify_password("wrong", &hash_password("right").unwrap());
                        now.fetch_sub(1, SeqCst);
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(SeqCst), 2);
    }
}
