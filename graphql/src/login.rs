//! Logins over GraphQL: the client address the HTTP layer attaches to every request and
//! websocket ([`LoginContext`]; the services throttle password checks by it), and the extension
//! that refuses a document holding more than one `login` — wherever it hides: aliases,
//! fragments, inline fragments — before any password is checked, counting every one of them as
//! a failed attempt.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Value, Variables};
use std::collections::HashSet;
use std::sync::Arc;

/// Attached by the HTTP layer to every request and websocket: where the caller connects from.
#[derive(Clone)]
pub struct LoginContext {
    pub client_addr: String,
}

/// The caller's client address ("unknown" when the host attached none).
pub(crate) fn client_addr<'a>(ctx: &async_graphql::Context<'a>) -> &'a str {
    ctx.data_opt::<LoginContext>()
        .map_or("unknown", |l| l.client_addr.as_str())
}

/// Refuses documents with more than one `login` (see the module documentation).
pub(crate) struct OneLoginPerRequest;

impl ExtensionFactory for OneLoginPerRequest {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OneLoginPerRequest)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OneLoginPerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let emails = login_emails(&doc, variables);
        if emails.len() > 1 {
            if let Some(svc) = ctx.data_opt::<crate::Services>().map(|s| &s.service) {
                let addr = ctx
                    .data_opt::<LoginContext>()
                    .map_or("unknown", |l| l.client_addr.as_str());
                svc.refuse_logins(addr, &emails).await;
            }
            let mut e = ServerError::new(
                format!(
                    "one login per request: this one holds {}, all counted as failed attempts",
                    emails.len()
                ),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "VALIDATION");
            ext.set("field", "login");
            e.extensions = Some(ext);
            return Err(e);
        }
        Ok(doc)
    }
}

/// The email argument of every `login` field selected at the root of the document's mutations,
/// through aliases, fragment spreads and inline fragments ("" when it cannot be resolved).
pub fn login_emails(doc: &ExecutableDocument, variables: &Variables) -> Vec<String> {
    let mut emails = Vec::new();
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(m) => m.values().collect(),
    };
    for op in ops {
        if op.node.ty == OperationType::Mutation {
            let mut seen = HashSet::new();
            collect(
                doc,
                &op.node.selection_set,
                variables,
                &mut seen,
                &mut emails,
            );
        }
    }
    emails
}

fn collect<'d>(
    doc: &'d ExecutableDocument,
    set: &'d Positioned<SelectionSet>,
    variables: &Variables,
    seen: &mut HashSet<&'d Name>,
    out: &mut Vec<String>,
) {
    for sel in &set.node.items {
        match &sel.node {
            Selection::Field(f) if f.node.name.node == "login" => {
                let value = f.node.get_argument("email").and_then(|v| {
                    v.node
                        .clone()
                        .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
                        .ok()
                });
                out.push(match value {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                });
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(i) => {
                collect(doc, &i.node.selection_set, variables, seen, out);
            }
            Selection::FragmentSpread(s) => {
                let name = &s.node.fragment_name.node;
                // A fragment spread twice (or a cycle, refused later) is walked once per spread
                // site but never recursively into itself.
                if seen.insert(name) {
                    if let Some(frag) = doc.fragments.get(name) {
                        collect(doc, &frag.node.selection_set, variables, seen, out);
                    }
                    seen.remove(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(query: &str, vars: serde_json::Value) -> Vec<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        login_emails(&doc, &Variables::from_json(vars))
    }

    #[test]
    fn finds_logins_behind_aliases_fragments_and_variables() {
        let q = "mutation($e: String!) { a: login(email: $e, password: \"x\") { token }
                 b: login(email: \"lit@x\", password: \"y\") { token } }";
        assert_eq!(
            emails(q, serde_json::json!({"e": "var@x"})),
            ["var@x", "lit@x"]
        );
        let q = "mutation { ...F ... on Mutation { c: login(email: \"i@x\", password: \"z\") { token } } }
                 fragment F on Mutation { ...G a: login(email: \"f@x\", password: \"x\") { token } }
                 fragment G on Mutation { g: login(email: \"g@x\", password: \"x\") { token } }";
        assert_eq!(emails(q, serde_json::json!({})), ["g@x", "f@x", "i@x"]);
        // The same fragment spread twice counts twice; a cycle ends.
        let q = "mutation { ...F ...F } fragment F on Mutation { login(email: \"f@x\", password: \"x\") { token } ...F }";
        assert_eq!(emails(q, serde_json::json!({})).len(), 2);
        assert!(emails("{ ping }", serde_json::json!({})).is_empty());
    }
}
