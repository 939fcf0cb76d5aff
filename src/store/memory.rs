//! The embedded default backend: sessions and users in process memory.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RotatingBackend, Session, SessionBackend, UserClaims, Users,
};

use crate::clock::unix_now;

/// Sessions and users in process memory, for one-instance apps, tests and examples.
///
/// It is both a [`SessionBackend`] (and [`RotatingBackend`]) and a [`Users`] directory, so one
/// value serves both sides of the builder. Cloning shares the backend. Users are registered
/// with [`MemoryBackend::set_user`]; the refresh route reads their current claims from here.
///
/// Expired sessions are purged as new ones are created, so memory follows the live sessions;
/// every operation costs a hash lookup or a walk of one ordered index, never a scan of all
/// sessions.
pub struct MemoryBackend<C> {
    inner: Arc<RwLock<State<C>>>,
}

struct State<C> {
    sessions: HashMap<String, Session>,
    /// `(expires_at, id)`: the expired ones come first.
    by_expiry: BTreeSet<(u64, String)>,
    /// Per user, `(created_at, id)`: the newest come last.
    by_user: HashMap<String, BTreeSet<(u64, String)>>,
    users: HashMap<String, C>,
    /// DPoP proof ids recorded once, with their expiry; `(expires_at, id)` purges them.
    proofs: HashMap<String, u64>,
    proofs_by_expiry: BTreeSet<(u64, String)>,
}

impl<C> State<C> {
    fn insert(&mut self, session: Session) {
        self.remove(&session.id);
        self.by_expiry
            .insert((session.expires_at, session.id.clone()));
        self.by_user
            .entry(session.user_id.clone())
            .or_default()
            .insert((session.created_at, session.id.clone()));
        self.sessions.insert(session.id.clone(), session);
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let session = self.sessions.remove(id)?;
        self.by_expiry
            .remove(&(session.expires_at, session.id.clone()));
        if let Some(mine) = self.by_user.get_mut(&session.user_id) {
            mine.remove(&(session.created_at, session.id.clone()));
            if mine.is_empty() {
                self.by_user.remove(&session.user_id);
            }
        }
        Some(session)
    }

    /// Drops every session whose expiry has passed: the cost is the number dropped.
    fn purge_expired(&mut self, now: u64) {
        while let Some((expires_at, id)) = self.by_expiry.first().cloned() {
            if expires_at > now {
                break;
            }
            self.remove(&id);
        }
    }
}

impl<C> MemoryBackend<C> {
    /// An empty backend.
    pub fn new() -> Self {
        MemoryBackend {
            inner: Arc::new(RwLock::new(State {
                sessions: HashMap::new(),
                by_expiry: BTreeSet::new(),
                by_user: HashMap::new(),
                users: HashMap::new(),
                proofs: HashMap::new(),
                proofs_by_expiry: BTreeSet::new(),
            })),
        }
    }

    /// Adds or replaces a user's current claims.
    pub fn set_user(&self, user_id: impl Into<String>, claims: C) {
        self.write().users.insert(user_id.into(), claims);
    }

    /// Removes a user; their sessions stop refreshing.
    pub fn remove_user(&self, user_id: &str) {
        self.write().users.remove(user_id);
    }

    /// How many sessions are stored.
    pub fn session_count(&self) -> usize {
        self.read().sessions.len()
    }

    // A poisoned lock only means another thread panicked mid-insert; the maps stay usable.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<C>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<C>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C> Default for MemoryBackend<C> {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl<C> Clone for MemoryBackend<C> {
    fn clone(&self) -> Self {
        MemoryBackend {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for MemoryBackend<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("MemoryBackend")
            .field("sessions", &state.sessions.len())
            .field("users", &state.users.len())
            .finish()
    }
}

impl<C: Send + Sync + 'static> SessionBackend for MemoryBackend<C> {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        let mut state = self.write();
        state.purge_expired(unix_now());
        state.insert(session);
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        Ok(self.read().sessions.get(id).cloned())
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.write().remove(id).is_some())
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        let state = self.read();
        let Some(mine) = state.by_user.get(user_id) else {
            return Ok(Vec::new());
        };
        Ok(mine
            .iter()
            .rev()
            .take(limit)
            .filter_map(|(_, id)| state.sessions.get(id).cloned())
            .collect())
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        if let Some(session) = self.write().sessions.get_mut(id) {
            session.last_accessed = session.last_accessed.max(at);
        }
        Ok(())
    }
}

impl<C: Send + Sync + 'static> RotatingBackend for MemoryBackend<C> {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        match self.write().sessions.get_mut(id) {
            Some(session) if session.generation == from => {
                session.generation = to;
                session.rotated_at = at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl<C: Send + Sync + 'static> ReplayBackend for MemoryBackend<C> {
    async fn record_once(&self, id: &str, expires_at: u64) -> Result<bool, BackendError> {
        let now = unix_now();
        let mut state = self.write();
        while let Some((at, expired)) = state.proofs_by_expiry.first().cloned() {
            if at > now {
                break;
            }
            state.proofs_by_expiry.remove(&(at, expired.clone()));
            state.proofs.remove(&expired);
        }
        if state.proofs.contains_key(id) {
            return Ok(false);
        }
        state.proofs.insert(id.to_owned(), expires_at);
        state.proofs_by_expiry.insert((expires_at, id.to_owned()));
        Ok(true)
    }
}

impl<C: UserClaims> Users for MemoryBackend<C> {
    type Claims = C;

    async fn claims(&self, user_id: &str) -> Result<Option<C>, BackendError> {
        Ok(self.read().users.get(user_id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinable::MachinableClaims;

    fn session(id: &str, user_id: &str, created_at: u64, expires_at: u64) -> Session {
        Session {
            id: id.into(),
            user_id: user_id.into(),
            created_at,
            expires_at,
            last_accessed: created_at,
            generation: 0,
            rotated_at: 0,
            meta: Default::default(),
        }
    }

    #[tokio::test]
    async fn expired_sessions_are_purged_as_new_ones_arrive() {
        let backend = MemoryBackend::<MachinableClaims>::new();
        let now = unix_now();
        for i in 0..100 {
            backend
                .create(session(&format!("old{i}"), "u1", now - 100, now - 1))
                .await
                .unwrap();
        }
        // Created already expired, each purged by the next create; the last by this one.
        backend
            .create(session("live", "u1", now, now + 60))
            .await
            .unwrap();
        assert_eq!(backend.session_count(), 1);
        let state = backend.read();
        assert_eq!(state.by_expiry.len(), 1);
        assert_eq!(state.by_user["u1"].len(), 1);
    }

    #[tokio::test]
    async fn revoking_the_last_session_of_a_user_leaves_no_index_behind() {
        let backend = MemoryBackend::<MachinableClaims>::new();
        let now = unix_now();
        backend
            .create(session("a", "u1", now, now + 60))
            .await
            .unwrap();
        assert!(backend.revoke("a").await.unwrap());
        let state = backend.read();
        assert!(state.by_user.is_empty() && state.by_expiry.is_empty());
    }
}
