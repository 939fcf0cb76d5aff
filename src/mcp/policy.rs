//! The table of what each MCP call needs: the base scope, the scopes of its method and of its
//! name, and the step-ups; and the decision for a request's calls.

use std::collections::HashMap;

use super::message::Call;
use crate::error::AuthError;
use crate::standard_claims::HasScopes;
use crate::step_up::{HasAuthentication, StepUp};

/// What one entry of the table adds to a call's needs.
#[derive(Clone, Debug, Default)]
pub(super) struct Rule {
    pub(super) scopes: Vec<String>,
    pub(super) step_up: Option<StepUp>,
}

/// The rules of one JSON-RPC method: for every call of it, and by name.
#[derive(Clone, Debug, Default)]
pub(super) struct MethodRules {
    pub(super) all: Rule,
    pub(super) by_name: HashMap<String, Rule>,
}

/// The built table, shared by every clone of the layer.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(super) base: String,
    pub(super) methods: HashMap<String, MethodRules>,
    pub(crate) body_limit: usize,
}

/// What a request's calls need together: every scope (the base first, each once, in the
/// order of the table) and every step-up.
#[derive(Debug)]
pub(crate) struct Needs<'p> {
    scopes: Vec<&'p str>,
    step_ups: Vec<&'p StepUp>,
}

impl Policy {
    /// The needs of the base scope alone (a `GET` or `DELETE` of the endpoint).
    pub(crate) fn base(&self) -> Needs<'_> {
        Needs {
            scopes: vec![&self.base],
            step_ups: Vec::new(),
        }
    }

    /// The union of the needs of `calls` (a batch is decided by all it asks).
    pub(crate) fn needs<'c>(&self, calls: impl IntoIterator<Item = &'c Call>) -> Needs<'_> {
        let mut needs = self.base();
        for call in calls {
            let Some(method) = call.method.as_deref() else {
                continue;
            };
            let Some(rules) = self.methods.get(method) else {
                continue;
            };
            needs.add(&rules.all);
            if let Some(rule) = call.name.as_deref().and_then(|n| rules.by_name.get(n)) {
                needs.add(rule);
            }
        }
        needs
    }
}

impl<'p> Needs<'p> {
    fn add(&mut self, rule: &'p Rule) {
        for scope in &rule.scopes {
            if !self.scopes.contains(&scope.as_str()) {
                self.scopes.push(scope);
            }
        }
        self.step_ups.extend(&rule.step_up);
    }

    /// `Ok` when `claims` meet every need at `now`: else a 403 naming every scope the
    /// calls need (SEP-2350: the client asks once for all), checked before the step-ups,
    /// whose 401 names them too.
    pub(crate) fn check<C: HasScopes + HasAuthentication>(
        &self,
        claims: &C,
        now: u64,
    ) -> Result<(), AuthError> {
        let granted = claims.scopes();
        if !self.scopes.iter().all(|scope| granted.contains(scope)) {
            return Err(AuthError::insufficient_scope(self.scopes.join(" ")));
        }
        for step_up in &self.step_ups {
            if step_up.verify(claims, now).is_err() {
                return Err(step_up.refusal(Some(self.scopes.join(" "))));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::sync::Arc;

    use super::*;
    use crate::mcp::McpLayer;
    use crate::standard_claims::StandardClaims;

    fn policy() -> Arc<Policy> {
        McpLayer::<StandardClaims>::builder("mcp")
            .tool("list_notes", ["notes:read"])
            .tool("add_note", ["notes:write"])
            .tool("purge_notes", ["notes:write"])
            .tool_step_up(
                "purge_notes",
                StepUp::new()
                    .acr("urn:example:mfa")
                    .max_age(Duration::from_secs(300)),
            )
            .build()
            .unwrap()
            .policy()
    }

    fn tool(name: &str) -> Call {
        Call {
            method: Some("tools/call".into()),
            name: Some(name.into()),
        }
    }

    fn token(scope: &str, acr: Option<&str>, auth_time: Option<u64>) -> StandardClaims {
        let mut claims: StandardClaims =
            serde_json::from_value(serde_json::json!({ "sub": "u", "scope": scope })).unwrap();
        claims.acr = acr.map(str::to_owned);
        claims.auth_time = auth_time;
        claims
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_403_names_every_scope_the_call_needs_and_nothing_else() {
        let policy = policy();
        let check = |call: Call, scope| policy.needs(&[call]).check(&token(scope, None, None), NOW);
        assert_eq!(check(tool("whoami"), "mcp"), Ok(()));
        assert_eq!(check(tool("add_note"), "mcp notes:write"), Ok(()));
        assert_eq!(
            check(tool("add_note"), "notes:write notes:read other"),
            Err(AuthError::insufficient_scope("mcp notes:write"))
        );
        // notes:write does not imply notes:read.
        assert_eq!(
            check(tool("list_notes"), "mcp notes:write"),
            Err(AuthError::insufficient_scope("mcp notes:read"))
        );
        assert_eq!(
            check(tool("whoami"), ""),
            Err(AuthError::insufficient_scope("mcp"))
        );
    }

    #[test]
    fn a_batch_needs_the_union_of_its_calls() {
        let policy = policy();
        let batch = [
            tool("list_notes"),
            tool("whoami"),
            tool("add_note"),
            tool("add_note"),
        ];
        assert_eq!(
            policy
                .needs(&batch)
                .check(&token("mcp notes:read", None, None), NOW),
            Err(AuthError::insufficient_scope("mcp notes:read notes:write"))
        );
    }

    #[test]
    fn scopes_are_answered_before_the_step_up() {
        let policy = policy();
        let purge = |scope, acr, at| {
            policy
                .needs(&[tool("purge_notes")])
                .check(&token(scope, acr, at), NOW)
        };
        assert_eq!(
            purge("mcp", None, None),
            Err(AuthError::insufficient_scope("mcp notes:write"))
        );
        let short = purge("mcp notes:write", Some("pwd"), Some(NOW));
        assert_eq!(
            short,
            Err(AuthError::InsufficientUserAuthentication {
                acr_values: Some("urn:example:mfa".into()),
                max_age: Some(300),
                scope: Some("mcp notes:write".into()),
            })
        );
        assert!(purge("mcp notes:write", Some("urn:example:mfa"), Some(NOW - 400)).is_err());
        assert!(purge("mcp notes:write", Some("urn:example:mfa"), None).is_err());
        assert_eq!(
            purge("mcp notes:write", Some("urn:example:mfa"), Some(NOW - 10)),
            Ok(())
        );
    }
}
