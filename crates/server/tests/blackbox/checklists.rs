//! Checklist templates: Markdown import, round trip, versions, the built-in template, bad input.

use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{Options, TestApp, assert_problem};

/// What a line scan of a seed document says it contains (the seeds have no code blocks).
fn scan(source: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut sections, mut groups, mut items) = (Vec::new(), Vec::new(), Vec::new());
    for line in source.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            sections.push(t.trim().to_owned());
        } else if let Some(t) = line.strip_prefix("### ") {
            groups.push(t.trim().to_owned());
        } else if let Some(t) = ["- [ ] ", "- [x] ", "- [X] "]
            .iter()
            .find_map(|m| line.trim_start().strip_prefix(m))
        {
            items.push(t.trim_end().to_owned());
        }
    }
    (sections, groups, items)
}

/// The source as export gives it back: LF line endings, one final newline, no BOM.
fn normalised(source: &str) -> String {
    let mut s = source
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[tokio::test]
async fn seed_documents_import_completely_in_order_and_round_trip() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for lang in ["en", "ru"] {
        let Some(source) = seed(lang) else { return };
        let created = import_ok(&app, &admin, &source).await;
        let id = created["id"].as_str().unwrap();
        let doc = get_json(&app, &admin, &format!("/api/v1/checklists/{id}")).await;
        let (sections, groups, texts) = scan(&source);
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 78, "{lang}: every item");
        assert_eq!(texts.len(), 78);
        let got: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
        assert_eq!(got, texts, "{lang}: items in document order");
        let got_sections: Vec<&str> = doc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap())
            .collect();
        // 11 headings: the `# Title` and ten `## Sections`.
        assert_eq!(got_sections.len() + 1, 11, "{lang}: every section");
        assert_eq!(got_sections, sections);
        let got_groups: Vec<&str> = doc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["groups"].as_array().unwrap().iter())
            .map(|g| g.as_str().unwrap())
            .collect();
        assert_eq!(got_groups, groups, "{lang}: every group in order");
        let optional: Vec<&Value> = items.iter().filter(|i| i["optional"] == true).collect();
        assert_eq!(optional.len(), 2, "{lang}: the two optional items");

        // Round trip: the Markdown export of a stateless import is the source.
        let res = app
            .client
            .get(app.url(&format!("/api/v1/checklists/{id}")))
            .bearer_auth(&admin)
            .header("accept", "text/markdown")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/markdown")
        );
        assert_eq!(
            res.text().await.unwrap(),
            normalised(&source),
            "{lang}: round trip"
        );

        // Importing it again is a duplicate name.
        assert_problem(import(&app, &admin, &source).await, 409).await;
    }
}

#[tokio::test]
async fn the_builtin_template_is_installed_once() {
    let mut first = TestApp::spawn().await;
    let admin = first.admin_token().await;
    let list = get_json(&first, &admin, "/api/v1/checklists").await;
    let builtin: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["builtin"] == true)
        .collect();
    assert_eq!(builtin.len(), 1);
    assert_eq!(builtin[0]["name"], "Production readiness");
    let id = builtin[0]["id"].as_str().unwrap().to_owned();
    let doc = get_json(&first, &admin, &format!("/api/v1/checklists/{id}")).await;
    let items = doc["items"].as_array().unwrap();
    assert!(items.len() >= 40, "covers the seed topics");
    assert!(
        items.iter().filter(|i| !i["check"].is_null()).count() >= 10,
        "checks attached"
    );
    // Read-only: adapt a copy instead.
    let res = first
        .client
        .put(first.url(&format!("/api/v1/checklists/{id}")))
        .bearer_auth(&admin)
        .header("content-type", "text/markdown")
        .body("# X\n- [ ] y\n")
        .send()
        .await
        .unwrap();
    assert_problem(res, 409).await;
    let res = first
        .client
        .delete(first.url(&format!("/api/v1/checklists/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(res, 409).await;

    // A restart on the same database installs nothing new.
    first.terminate();
    let second = TestApp::spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        data_dir: Some(first.data_dir.clone()),
        ..Options::default()
    })
    .await;
    let admin = second.admin_token().await;
    let list = get_json(&second, &admin, "/api/v1/checklists").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["version"], 1);
}

#[tokio::test]
async fn bad_annotations_are_422_naming_the_line_and_problem() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let res = import(
        &app,
        &admin,
        "# T\n\n- [ ] ok\n- [ ] bad <!-- check: telepathy -->\n",
    )
    .await;
    let body = assert_problem(res, 422).await;
    let text = body.to_string();
    assert!(text.contains("line 4"), "{text}");
    assert!(
        text.contains("unknown check kind") && text.contains("telepathy"),
        "{text}"
    );

    let res = import(
        &app,
        &admin,
        "# T\n- [ ] limited <!-- check: rate_limit burst=lots -->\n",
    )
    .await;
    let text = assert_problem(res, 422).await.to_string();
    assert!(text.contains("line 2") && text.contains("burst"), "{text}");

    let res = import(
        &app,
        &admin,
        "# T\n- [ ] x <!-- check: health colour=blue -->\n",
    )
    .await;
    let text = assert_problem(res, 422).await.to_string();
    assert!(text.contains("line 2") && text.contains("colour"), "{text}");

    let list = get_json(&app, &admin, "/api/v1/checklists").await;
    assert_eq!(list["total"], 1, "nothing but the built-in template");
}

#[tokio::test]
async fn bad_uploads_get_a_clear_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let send = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/checklists"))
            .bearer_auth(&admin)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let big = format!("# Big\n- [ ] x\n{}", "a".repeat(600 * 1024)).into_bytes();
    let body = assert_problem(send("text/markdown", big).await.unwrap(), 413).await;
    assert!(body["detail"].as_str().unwrap().contains("512 KiB"));
    // Beyond the global body limit the server answers 413 from the Content-Length alone and
    // may close the connection while the client is still sending: either outcome is a refusal.
    // A client of its own, so that the closed connection is not reused by the next request.
    let once = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let huge = once
        .post(app.url("/api/v1/checklists"))
        .bearer_auth(&admin)
        .header("content-type", "text/markdown")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await;
    if let Ok(res) = huge {
        assert_problem(res, 413).await;
    }
    let body = assert_problem(
        send("text/markdown", b"# T\n- [ ] ok\n\xff\xfe bad\n".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("UTF-8"));
    let body = assert_problem(
        send("text/markdown", b"# T\n- [ ] a\0b\n".to_vec())
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(body.to_string().contains("line 2"), "{body}");
    let body = assert_problem(
        send(
            "text/markdown",
            b"# Only prose\n\nNo tasks here.\n".to_vec(),
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("no task items"));
    assert_problem(send("text/markdown", b"  \n".to_vec()).await.unwrap(), 422).await;
    assert_problem(
        send("application/json", b"{\"a\":1}".to_vec())
            .await
            .unwrap(),
        415,
    )
    .await;
    assert_problem(
        send("application/octet-stream", vec![0, 1, 2, 3])
            .await
            .unwrap(),
        415,
    )
    .await;
    assert_problem(
        send("text/markdown; charset=latin1", b"# T\n- [ ] x\n".to_vec())
            .await
            .unwrap(),
        415,
    )
    .await;
    // No title and no ?name=.
    let body = assert_problem(
        send("text/markdown", b"- [ ] untitled\n".to_vec())
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(body.to_string().contains("name"));

    let unknown = uuid::Uuid::new_v4();
    assert_problem(
        get(&app, &admin, &format!("/api/v1/checklists/{unknown}")).await,
        404,
    )
    .await;
    assert_problem(
        get(&app, &admin, "/api/v1/checklists/not-a-uuid").await,
        400,
    )
    .await;
    let list = get_json(&app, &admin, "/api/v1/checklists?include_archived=true").await;
    assert_eq!(list["total"], 1, "nothing was stored");
}

#[tokio::test]
async fn new_template_versions_never_rewrite_existing_reviews() {
    let app = TestApp::spawn().await;
    let (admin, review_id, _) = small_review(&app).await;
    let review = get_json(&app, &admin, &format!("/api/v1/reviews/{review_id}")).await;
    let checklist_id = review["checklist_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/checklists/{checklist_id}");
    let put = |if_match: &'static str, body: String| {
        app.client
            .put(app.url(&path))
            .bearer_auth(&admin)
            .header("content-type", "text/markdown")
            .header("if-match", if_match)
            .body(body)
            .send()
    };
    let v2 = SMALL.replace("Encryption key is set", "Encryption key is set and rotated")
        + "- [ ] A new item\n";
    let res = put("\"v1\"", v2.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"v2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["items"].as_array().unwrap().len(), 6);
    // A stale version is refused and changes nothing.
    assert_problem(
        put("\"v1\"", "# Small checklist\n- [ ] gone\n".into())
            .await
            .unwrap(),
        412,
    )
    .await;
    let md = app
        .client
        .get(app.url(&format!("{path}?format=markdown")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(md, v2);

    // The review still has version 1 of the template.
    let after = get_json(&app, &admin, &format!("/api/v1/reviews/{review_id}")).await;
    assert_eq!(after["checklist_version"], 1);
    assert_eq!(after["items"].as_array().unwrap().len(), 5);
    assert_eq!(item(&after, K_ENCRYPTION)["text"], "Encryption key is set");

    // Changing a template item's check is another version.
    let res = app
        .client
        .put(app.url(&format!("{path}/items/{}/check", enc(K_ENCRYPTION))))
        .bearer_auth(&admin)
        .json(&json!({"definition": "security_headers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the key changed with the text");
    let key = "security/keys/encryption-key-is-set-and-rotated";
    let res = app
        .client
        .put(app.url(&format!("{path}/items/{}/check", enc(key))))
        .bearer_auth(&admin)
        .header("if-match", "\"v2\"")
        .json(&json!({"check": {"kind": "security_headers"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v3: Value = res.json().await.unwrap();
    assert_eq!(v3["version"], 3);
    let changed = v3["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap();
    assert_eq!(changed["check_definition"], "security_headers");
    let res = app
        .client
        .put(app.url(&format!("{path}/items/{}/check", enc(key))))
        .bearer_auth(&admin)
        .json(&json!({"definition": "telepathy"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422).await;

    // Archiving hides the template; the review stays.
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(get(&app, &admin, &path).await, 404).await;
    get_json(&app, &admin, &format!("/api/v1/reviews/{review_id}")).await;
    let audit = audit_of(&app, &admin, "checklist", &checklist_id).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "checklist.archive",
            "checklist.item_check",
            "checklist.update",
            "checklist.create"
        ]
    );
}
