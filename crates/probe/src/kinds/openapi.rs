//! `openapi`: the docs page answers HTML and the OpenAPI document is valid OpenAPI 3 — read
//! with `openapiv3` for 3.0.x documents and `oas3` for 3.1.x, in JSON or YAML.

use preflight_domain::OpenapiCheck;
use serde_json::Value;

use super::{Verdict, excerpt_line};
use crate::error::ProbeError;
use crate::probe::{Probe, Request};

pub(crate) async fn run(spec: &OpenapiCheck, probe: &Probe<'_>) -> Result<Verdict, ProbeError> {
    let mut problems = Vec::new();
    let docs = probe
        .send(Request::get(probe.url(&spec.docs)?).header("Accept", "text/html"))
        .await?;
    let docs_type = docs
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !docs.status.is_success() {
        problems.push(format!(
            "the docs page {} answered {}{}",
            spec.docs,
            docs.status.as_u16(),
            excerpt_line(&docs.body)
        ));
    } else if !docs_type.starts_with("text/html") {
        problems.push(format!(
            "the docs page {} is \"{docs_type}\", not HTML",
            spec.docs
        ));
    }
    let document = probe
        .send(Request::get(probe.url(&spec.spec)?).header("Accept", "application/json"))
        .await?;
    if !document.status.is_success() {
        problems.push(format!(
            "the OpenAPI document {} answered {}",
            spec.spec,
            document.status.as_u16()
        ));
    } else if document.truncated {
        problems.push(format!(
            "the OpenAPI document {} is larger than the {} bytes a probe reads",
            spec.spec,
            document.body.len()
        ));
    } else {
        match validate(&document.body) {
            Ok(summary) => {
                probe.fact("openapi_version", summary.version.clone());
                probe.fact("paths", summary.paths.to_string());
                probe.fact("title", summary.title.clone());
                if problems.is_empty() {
                    return Ok(Verdict::pass(format!(
                        "{} is HTML and {} is a valid OpenAPI {} document (\"{}\", {} paths)",
                        spec.docs, spec.spec, summary.version, summary.title, summary.paths
                    )));
                }
            }
            Err(problem) => problems.push(format!("{} {problem}", spec.spec)),
        }
    }
    Ok(Verdict::fail(problems.join("; ")))
}

#[derive(Debug)]
struct Summary {
    version: String,
    title: String,
    paths: usize,
}

fn validate(body: &[u8]) -> Result<Summary, String> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(json_error) => serde_norway::from_slice(body)
            .map_err(|_| format!("is neither JSON nor YAML ({json_error})"))?,
    };
    let version = value
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or("has no \"openapi\" version field (Swagger 2.0 is not OpenAPI 3)")?
        .to_owned();
    let (title, paths) = if version.starts_with("3.0.") {
        let doc: openapiv3::OpenAPI = serde_json::from_value(value)
            .map_err(|e| format!("is not valid OpenAPI {version}: {e}"))?;
        (doc.info.title, doc.paths.paths.len())
    } else if version.starts_with("3.1.") {
        let doc: oas3::Spec = serde_json::from_value(value)
            .map_err(|e| format!("is not valid OpenAPI {version}: {e}"))?;
        (doc.info.title, doc.paths.map_or(0, |p| p.len()))
    } else {
        return Err(format!(
            "declares OpenAPI \"{version}\", not 3.0.x or 3.1.x"
        ));
    };
    Ok(Summary {
        version,
        title,
        paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_minor_versions_and_yaml_are_read() {
        let v31 = br#"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{}}}"#;
        assert_eq!(validate(v31).expect("3.1").paths, 1);
        let v30 = b"openapi: 3.0.3\ninfo:\n  title: y\n  version: '1'\npaths: {}\n";
        assert_eq!(validate(v30).expect("3.0 yaml").title, "y");
        assert!(
            validate(br#"{"swagger":"2.0"}"#)
                .expect_err("fails")
                .contains("Swagger 2.0")
        );
        assert!(
            validate(br#"{"openapi":"3.1.0","paths":{}}"#)
                .expect_err("fails")
                .contains("not valid OpenAPI 3.1.0")
        );
        assert!(validate(b"<html>").is_err());
    }
}
