//! The embedded default store: sessions and users in process memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use tower_jwt_sessions_core::{
    BackendError, RotatingStore, Session, SessionStore, UserClaims, Users,
};

use crate::machinable::MachinableClaims;

/// Sessions and users in process memory, for one-instance apps, tests and examples.
///
/// It is both a [`SessionStore`] (and [`RotatingStore`]) and a [`Users`] directory, so one
/// value serves both sides of the builder. Cloning shares the store. Users are registered
/// with [`MemoryBackend::set_user`]; the refresh route reads their current claims from here.
pub struct MemoryBackend<C = MachinableClaims> {
    inner: Arc<RwLock<State<C>>>,
}

struct State<C> {
    sessions: HashMap<String, Session>,
    users: HashMap<String, C>,
}

impl<C> MemoryBackend<C> {
    /// An empty store.
    pub fn new() -> Self {
        MemoryBackend {
            inner: Arc::new(RwLock::new(State {
                sessions: HashMap::new(),
                users: HashMap::new(),
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

impl<C: Send + Sync + 'static> SessionStore for MemoryBackend<C> {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.write().sessions.insert(session.id.clone(), session);
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        Ok(self.read().sessions.get(id).cloned())
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.write().sessions.remove(id).is_some())
    }

    async fn list(&self, user_id: &str) -> Result<Vec<Session>, BackendError> {
        let state = self.read();
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .cloned()
            .collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        if let Some(session) = self.write().sessions.get_mut(id) {
            session.last_accessed = session.last_accessed.max(at);
        }
        Ok(())
    }
}

impl<C: Send + Sync + 'static> RotatingStore for MemoryBackend<C> {
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

impl<C: UserClaims> Users for MemoryBackend<C> {
    type Claims = C;

    async fn claims(&self, user_id: &str) -> Result<Option<C>, BackendError> {
        Ok(self.read().users.get(user_id).cloned())
    }
}
