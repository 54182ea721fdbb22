//! Recent `TokenReview` and `SubjectAccessReview` answers, so that a busy caller costs the
//! management cluster one review per question and TTL, not one per call.
//!
//! An answer is reused for at most `CACHE_TTL`, like the API server's own webhook caches: a
//! revoked token or binding stops working within it. An authorization refused is kept too, for
//! `REFUSAL_TTL`, so a caller asking again and again for what it may not do costs one review per
//! that time rather than one per call, and a new binding takes effect within it. Past
//! `REFRESH_AFTER`, the first call that reuses an allow also asks again in the background: a busy
//! caller then never waits for a review after its first one, where otherwise every call arriving
//! as the answer expires would wait for, and send, its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::Client;
use sha2::Digest;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::server::auth::{
    Access, Caller, DEFAULT_TOKEN_AUDIENCE, authorize, bearer_token, review_token,
};
use crate::server::lock;

/// How long an answer is reused at most.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// How old an answer gets before a call that reuses it also refreshes it.
const REFRESH_AFTER: Duration = Duration::from_secs(5);
/// How long a refused authorization is reused (never refreshed in the background: the next
/// call after it asks).
const REFUSAL_TTL: Duration = Duration::from_secs(5);

/// The cached answers: who each token is, and which questions were allowed.
#[derive(Debug)]
pub struct AuthCache {
    /// The audience every token must be issued for.
    audience: String,
    callers: Answers<Caller>,
    allowed: Answers<()>,
    /// Questions refused, with the refusal's message.
    refused: Answers<String>,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN_AUDIENCE)
    }
}

impl AuthCache {
    /// Answers for tokens issued for `audience`.
    pub fn new(audience: &str) -> Self {
        Self {
            audience: audience.to_owned(),
            callers: Answers::new(CACHE_TTL, REFRESH_AFTER),
            allowed: Answers::new(CACHE_TTL, REFRESH_AFTER),
            refused: Answers::new(REFUSAL_TTL, REFUSAL_TTL),
        }
    }

    /// The audience every token must be issued for.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The caller behind the request's bearer token (by `auth::review_token`), reusing a recent
    /// answer for the same token (kept by digest only).
    pub async fn authenticate(
        self: &Arc<Self>,
        kube: &Client,
        metadata: &MetadataMap,
    ) -> Result<Caller, Status> {
        let token = bearer_token(metadata)?;
        let key = sha2::Sha256::digest(token.as_bytes()).to_vec();
        match self.callers.lookup(&key, Instant::now()) {
            Lookup::Fresh(caller) => Ok(caller),
            Lookup::Refresh(caller) => {
                let (cache, kube, token) = (Arc::clone(self), kube.clone(), token.to_owned());
                tokio::spawn(async move {
                    let answer = review_token(&kube, &token, &cache.audience).await;
                    cache.callers.refreshed(&key, answer, Instant::now());
                });
                Ok(caller)
            }
            Lookup::Missing => {
                let caller = review_token(kube, token, &self.audience).await?;
                self.callers.keep(key, caller.clone(), Instant::now());
                Ok(caller)
            }
        }
    }

    /// `auth::authorize`, reusing a recent allow or refusal for the same question.
    pub async fn authorize(
        self: &Arc<Self>,
        kube: &Client,
        caller: &Caller,
        access: &Access,
    ) -> Result<(), Status> {
        let key = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            caller.user,
            caller.groups.join(","),
            access.verb,
            access.resource,
            access.namespace,
            access.name.as_deref().unwrap_or_default()
        )
        .into_bytes();
        match self.allowed.lookup(&key, Instant::now()) {
            Lookup::Fresh(()) => Ok(()),
            Lookup::Refresh(()) => {
                let (cache, kube, caller) = (Arc::clone(self), kube.clone(), caller.clone());
                let access = access.clone();
                tokio::spawn(async move {
                    let answer = authorize(&kube, &caller, &access).await;
                    cache.refused_now(&key, &answer);
                    cache.allowed.refreshed(&key, answer, Instant::now());
                });
                Ok(())
            }
            Lookup::Missing => {
                if let Lookup::Fresh(message) | Lookup::Refresh(message) =
                    self.refused.lookup(&key, Instant::now())
                {
                    return Err(Status::permission_denied(message));
                }
                let answer = authorize(kube, caller, access).await;
                self.refused_now(&key, &answer);
                answer?;
                self.allowed.keep(key, (), Instant::now());
                Ok(())
            }
        }
    }

    /// Keeps `answer` to the question `key` if it is a refusal.
    fn refused_now(&self, key: &[u8], answer: &Result<(), Status>) {
        if let Err(status) = answer
            && status.code() == Code::PermissionDenied
        {
            self.refused
                .keep(key.to_vec(), status.message().to_owned(), Instant::now());
        }
    }
}

/// Answers by question, each reused for at most `ttl` and refreshed past `refresh_after`.
#[derive(Debug)]
struct Answers<T> {
    ttl: Duration,
    refresh_after: Duration,
    entries: Mutex<HashMap<Vec<u8>, Entry<T>>>,
}

#[derive(Debug)]
struct Entry<T> {
    value: T,
    at: Instant,
    refreshing: bool,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
enum Lookup<T> {
    /// A recent answer.
    Fresh(T),
    /// An answer to use, which the caller should now refresh (nobody else is).
    Refresh(T),
    /// No answer young enough: ask.
    Missing,
}

impl<T: Clone> Answers<T> {
    fn new(ttl: Duration, refresh_after: Duration) -> Self {
        Self {
            ttl,
            refresh_after,
            entries: Mutex::default(),
        }
    }

    fn lookup(&self, key: &[u8], now: Instant) -> Lookup<T> {
        let mut entries = lock(&self.entries);
        let Some(entry) = entries.get_mut(key) else {
            return Lookup::Missing;
        };
        let age = now.saturating_duration_since(entry.at);
        if age >= self.ttl {
            Lookup::Missing
        } else if age < self.refresh_after || entry.refreshing {
            Lookup::Fresh(entry.value.clone())
        } else {
            entry.refreshing = true;
            Lookup::Refresh(entry.value.clone())
        }
    }

    fn keep(&self, key: Vec<u8>, value: T, now: Instant) {
        let mut entries = lock(&self.entries);
        let ttl = self.ttl;
        entries.retain(|_, entry| now.saturating_duration_since(entry.at) < ttl);
        entries.insert(
            key,
            Entry {
                value,
                at: now,
                refreshing: false,
            },
        );
    }

    /// Takes a background refresh's answer: a new answer replaces the old one, a refusal drops
    /// it at once, a failure to ask leaves it to expire.
    fn refreshed(&self, key: &[u8], answer: Result<T, Status>, now: Instant) {
        match answer {
            Ok(value) => self.keep(key.to_vec(), value, now),
            Err(status)
                if matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                lock(&self.entries).remove(key);
            }
            Err(_) => {
                if let Some(entry) = lock(&self.entries).get_mut(key) {
                    entry.refreshing = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(at: Instant) -> Answers<u32> {
        let answers = Answers::new(CACHE_TTL, REFRESH_AFTER);
        answers.keep(b"question".to_vec(), 7, at);
        answers
    }

    #[test]
    fn a_recent_answer_is_reused_without_asking_again() {
        let at = Instant::now();
        let answers = kept(at);
        assert_eq!(
            answers.lookup(b"question", at + Duration::from_secs(1)),
            Lookup::Fresh(7)
        );
        assert_eq!(answers.lookup(b"other", at), Lookup::Missing);
    }

    #[test]
    fn an_ageing_answer_is_refreshed_by_one_caller_while_the_others_reuse_it() {
        let at = Instant::now();
        let answers = kept(at);
        let later = at + REFRESH_AFTER + Duration::from_millis(1);
        assert_eq!(answers.lookup(b"question", later), Lookup::Refresh(7));
        assert_eq!(answers.lookup(b"question", later), Lookup::Fresh(7));
        answers.refreshed(b"question", Ok(8), later);
        assert_eq!(answers.lookup(b"question", later), Lookup::Fresh(8));
    }

    #[test]
    fn no_answer_outlives_the_ttl_even_when_its_refresh_failed() {
        let at = Instant::now();
        let answers = kept(at);
        let later = at + REFRESH_AFTER + Duration::from_millis(1);
        assert_eq!(answers.lookup(b"question", later), Lookup::Refresh(7));
        answers.refreshed(b"question", Err(Status::unavailable("no answer")), later);
        assert_eq!(answers.lookup(b"question", later), Lookup::Refresh(7));
        assert_eq!(answers.lookup(b"question", at + CACHE_TTL), Lookup::Missing);
    }

    #[test]
    fn a_refused_refresh_drops_the_answer_at_once() {
        let at = Instant::now();
        for refusal in [
            Status::permission_denied("binding removed"),
            Status::unauthenticated("token revoked"),
        ] {
            let answers = kept(at);
            let later = at + REFRESH_AFTER + Duration::from_millis(1);
            assert_eq!(answers.lookup(b"question", later), Lookup::Refresh(7));
            answers.refreshed(b"question", Err(refusal), later);
            assert_eq!(answers.lookup(b"question", later), Lookup::Missing);
        }
    }

    #[test]
    fn a_refusal_is_reused_for_its_shorter_time_and_never_refreshed() {
        let at = Instant::now();
        let refused = Answers::new(REFUSAL_TTL, REFUSAL_TTL);
        refused.keep(b"question".to_vec(), 7, at);
        let late = at + REFUSAL_TTL - Duration::from_millis(1);
        assert_eq!(refused.lookup(b"question", late), Lookup::Fresh(7));
        assert_eq!(
            refused.lookup(b"question", at + REFUSAL_TTL),
            Lookup::Missing
        );
    }
}
