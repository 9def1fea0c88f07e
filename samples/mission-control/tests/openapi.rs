//! `GET /openapi.json`: the document holds every route the server answers, with the methods it
//! answers, its auth claims hold, and every schema it names is in it.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(mc: &Mc) -> Value {
    let (status, doc) = mc.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// (path, method) → the operation.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.insert((path.clone(), method.to_ascii_uppercase()), op.clone());
        }
    }
    out
}

/// A concrete path for a templated one (`{id}` → `1`).
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('1');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The router's own refusals: a path it does not have, or a method the path does not take.
fn is_fallback(status: u16, body: &Value) -> bool {
    (status == 404 && body["message"] == "no such endpoint") || (status == 405 && body["code"] == "method_not_allowed")
}

#[tokio::test]
async fn the_document_and_the_router_hold_the_same_routes() {
    let mc = Mc::start().await;
    let doc = document(&mc).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let ops = operations(&doc);
    let paths: BTreeSet<&String> = ops.keys().map(|(p, _)| p).collect();
    assert!(ops.len() >= 45, "only {} operations", ops.len());

    // Every documented operation is served, and every other method of its path is refused as
    // such: the document's methods are the router's.
    for path in &paths {
        for method in METHODS {
            let documented = ops.contains_key(&((*path).clone(), method.to_string()));
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, body) = mc.raw(m, &concrete(path), None, None).await;
            if documented {
                assert!(!is_fallback(status, &body), "{method} {path} is documented but not served: {status} {body}");
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not documented: {status} {body}");
            }
        }
    }

    // Every API path literal in the source is in the document (a route added with
    // `.route("/v1/...")`, outside the documented list, fails here).
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut literals = BTreeSet::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices(".route(\"") {
                    let rest = &text[i + 8..];
                    literals.insert(rest[..rest.find('"').unwrap()].to_string());
                }
            }
        }
    }
    for literal in literals.iter().filter(|l| l.starts_with("/v1") || *l == "/health" || *l == "/openapi.json") {
        assert!(paths.contains(literal), "{literal} is routed in src/ but not in the document");
    }
}

#[tokio::test]
async fn the_documents_auth_and_error_claims_hold() {
    let mc = Mc::start().await;
    let doc = document(&mc).await;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in ["manager_token", "device_token", "operator_token", "doorcode_token", "feed_session"] {
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    let error = &doc["components"]["schemas"]["ApiError"];
    assert_eq!(error["required"], serde_json::json!(["code", "message"]), "{error}");
    let codes = doc["components"]["schemas"]["ErrorCode"].to_string();
    for code in ["bad_request", "unauthorized", "forbidden", "not_found", "too_many_requests", "internal"] {
        assert!(codes.contains(code), "{code} missing from {codes}");
    }

    for ((path, method), op) in operations(&doc) {
        let requirements = op["security"].as_array().cloned().unwrap_or_default();
        // A requirement `{}` makes auth optional (property creation on an open server).
        let required = !requirements.is_empty() && requirements.iter().all(|r| !r.as_object().unwrap().is_empty());
        for r in &requirements {
            for name in r.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{method} {path}: unknown scheme {name}");
            }
        }
        assert!(op["responses"]["200"].is_object(), "{method} {path}: no 200");
        assert!(op["responses"]["400"]["content"]["application/json"].is_object(), "{method} {path}: no error shape");
        assert!(op["responses"]["429"]["headers"]["Retry-After"].is_object(), "{method} {path}");
        let (status, body) = mc.raw(Method::from_bytes(method.as_bytes()).unwrap(), &concrete(&path), None, None).await;
        if required {
            assert_eq!(status, 401, "{method} {path} claims a bearer token but answers {status} {body} without one");
            assert!(op["responses"]["401"].is_object(), "{method} {path}: 401 undocumented");
            assert_eq!(body["code"], "unauthorized");
        } else {
            assert_ne!(status, 401, "{method} {path} claims no auth but refuses without a token: {body}");
        }
    }
}

#[tokio::test]
async fn every_schema_the_document_names_is_in_it() {
    let mc = Mc::start().await;
    let doc = document(&mc).await;
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut named = BTreeSet::new();
    for (i, _) in text.match_indices("\"#/components/schemas/") {
        let rest = &text[i + 22..];
        named.insert(rest[..rest.find('"').unwrap()].to_string());
    }
    assert!(named.len() > 40, "{named:?}");
    for name in &named {
        assert!(schemas.contains_key(name), "{name} is referred to but not defined");
    }
    // The wire types are described from their own definitions.
    let invite = &schemas["InviteRequest"];
    assert!(invite["properties"]["keys"].is_object(), "{invite}");
    assert!(invite["required"].as_array().unwrap().contains(&Value::from("contact")), "{invite}");
    assert_eq!(schemas["KeyGrant"]["properties"]["expiry"]["$ref"], "#/components/schemas/Expiry");
    assert!(schemas["Expiry"].to_string().contains("never"));
}
