//! The table of what each MCP call needs: the base scope, the scopes of its method and of its
//! name, and the step-ups; and the decision for a request's calls.

use std::collections::HashMap;

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
    /// `Ok` when `claims` meet the needs of every call of `calls` (method, name) at `now`,
    /// else the refusal ([`Needs::check`]). The pass is decided without an allocation; the
    /// needs are gathered only to name them in a refusal.
    pub(crate) fn decide<'c, I, C>(&self, calls: I, claims: &C, now: u64) -> Result<(), AuthError>
    where
        I: IntoIterator<Item = (&'c str, Option<&'c str>)> + Clone,
        C: HasScopes + HasAuthentication,
    {
        let granted = claims.scopes();
        let meets = |rule: &Rule| {
            rule.scopes.iter().all(|scope| granted.contains(scope))
                && rule
                    .step_up
                    .as_ref()
                    .is_none_or(|step_up| step_up.verify(claims, now).is_ok())
        };
        let passes = granted.contains(&self.base)
            && calls
                .clone()
                .into_iter()
                .all(|(method, name)| self.rules_of(method, name).all(meets));
        if passes {
            return Ok(());
        }
        self.needs_of(calls).check(claims, now)
    }

    /// The rules of a call: its method's, and its name's.
    fn rules_of<'s>(&'s self, method: &str, name: Option<&str>) -> impl Iterator<Item = &'s Rule> {
        let rules = self.methods.get(method);
        let by_name = rules
            .zip(name)
            .and_then(|(rules, name)| rules.by_name.get(name));
        rules.map(|rules| &rules.all).into_iter().chain(by_name)
    }

    /// The union of the needs of calls given as (method, name).
    pub(crate) fn needs_of<'c>(
        &self,
        calls: impl IntoIterator<Item = (&'c str, Option<&'c str>)>,
    ) -> Needs<'_> {
        let mut needs = Needs {
            scopes: vec![&self.base],
            step_ups: Vec::new(),
        };
        for (method, name) in calls {
            for rule in self.rules_of(method, name) {
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

    fn tool(name: &str) -> (&'static str, Option<&str>) {
        ("tools/call", Some(name))
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
        let check = |call, scope| policy.decide([call], &token(scope, None, None), NOW);
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
            policy.decide(batch, &token("mcp notes:read", None, None), NOW),
            Err(AuthError::insufficient_scope("mcp notes:read notes:write"))
        );
    }

    #[test]
    fn scopes_are_answered_before_the_step_up() {
        let policy = policy();
        let purge =
            |scope, acr, at| policy.decide([tool("purge_notes")], &token(scope, acr, at), NOW);
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
        // An unknown tool needs the base scope alone; every call needs it.
        let token = token("notes:write", None, None);
        assert_eq!(
            policy.decide([tool("unknown")], &token, NOW),
            Err(AuthError::insufficient_scope("mcp"))
        );
        assert_eq!(
            policy.decide([], &token, NOW),
            Err(AuthError::insufficient_scope("mcp"))
        );
    }
}
