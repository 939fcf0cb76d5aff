//! [`McpLayerBuilder`]: the table of an [`McpLayer`], checked at
//! [`build`](McpLayerBuilder::build).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use super::policy::{MethodRules, Policy, Rule};
use super::service::McpLayer;
use crate::error::ConfigError;
use crate::step_up::StepUp;

/// Configures an [`McpLayer`]; start with [`McpLayer::builder`].
#[must_use]
pub struct McpLayerBuilder<C> {
    base: String,
    methods: HashMap<String, MethodRules>,
    body_limit: usize,
    _claims: PhantomData<fn() -> C>,
}

impl<C> McpLayer<C> {
    /// Starts a table in which every MCP request needs `base_scope` (`"mcp"`, say).
    pub fn builder(base_scope: impl Into<String>) -> McpLayerBuilder<C> {
        McpLayerBuilder {
            base: base_scope.into(),
            methods: HashMap::new(),
            body_limit: crate::defaults::MCP_BODY_LIMIT,
            _claims: PhantomData,
        }
    }
}

impl<C> McpLayerBuilder<C> {
    fn rule(&mut self, method: &str, name: Option<&str>) -> &mut Rule {
        let rules = self.methods.entry(method.to_owned()).or_default();
        match name {
            Some(name) => rules.by_name.entry(name.to_owned()).or_default(),
            None => &mut rules.all,
        }
    }

    fn add(mut self, method: &str, name: Option<&str>, scopes: Vec<String>) -> Self {
        self.rule(method, name).scopes.extend(scopes);
        self
    }

    /// Scopes every call of a JSON-RPC `method` needs besides the base scope
    /// (`"tools/list"`, `"resources/list"`, ...).
    pub fn method(self, method: &str, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.add(method, None, collect(scopes))
    }

    /// Scopes a `tools/call` of tool `name` needs besides the base scope.
    pub fn tool(self, name: &str, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.add("tools/call", Some(name), collect(scopes))
    }

    /// Scopes a `prompts/get` of prompt `name` needs besides the base scope.
    pub fn prompt(self, name: &str, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.add("prompts/get", Some(name), collect(scopes))
    }

    /// Scopes a `resources/read` (and `subscribe`) of resource `uri` needs besides the base
    /// scope.
    pub fn resource(self, uri: &str, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let scopes = collect(scopes);
        self.add("resources/read", Some(uri), scopes.clone()).add(
            "resources/subscribe",
            Some(uri),
            scopes,
        )
    }

    /// A step-up (RFC 9470) a `tools/call` of tool `name` needs, checked after its scopes.
    pub fn tool_step_up(mut self, name: &str, step_up: StepUp) -> Self {
        self.rule("tools/call", Some(name)).step_up = Some(step_up);
        self
    }

    /// The largest request body read, in bytes, chunked or not; a larger one is 413.
    /// Default [`defaults::MCP_BODY_LIMIT`](crate::defaults::MCP_BODY_LIMIT) (4 MiB, rmcp's).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Checks the table: each step-up in whole seconds, a base scope and a body limit.
    pub fn build(self) -> Result<McpLayer<C>, ConfigError> {
        if self.base.is_empty() || self.base.contains(' ') {
            return Err(ConfigError::BadScope(self.base));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        let rules = self
            .methods
            .values()
            .flat_map(|m| std::iter::once(&m.all).chain(m.by_name.values()));
        for rule in rules {
            if let Some(step_up) = &rule.step_up {
                step_up.check()?;
            }
        }
        Ok(McpLayer::new(Arc::new(Policy {
            base: self.base,
            methods: self.methods,
            body_limit: self.body_limit,
        })))
    }
}

fn collect(scopes: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    scopes.into_iter().map(Into::into).collect()
}
