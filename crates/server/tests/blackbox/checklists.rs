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
    let admin = app.as_admin().await;
    for lang in ["en", "ru"] {
        let Some(source) = seed(lang) else { return };
        let created = import_ok(&admin, &source).await;
        let path = format!("/api/v1/checklists/{}", created["id"].as_str().unwrap());
        let doc: Value = admin.get(&path).expect_json(200).await;
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
        let res = admin
            .get(&path)
            .header("accept", "text/markdown")
            .expect_status(200)
            .await;
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
        import(&admin, &source).expect_problem(409).await;
    }
}

#[tokio::test]
async fn the_builtin_template_is_installed_once() {
    let mut first = TestApp::spawn().await;
    let admin = first.as_admin().await;
    let list: Value = admin.get("/api/v1/checklists").expect_json(200).await;
    let builtin: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["builtin"] == true)
        .collect();
    assert_eq!(builtin.len(), 1);
    assert_eq!(builtin[0]["name"], "Production readiness");
    let id = builtin[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/checklists/{id}");
    let doc: Value = admin.get(&path).expect_json(200).await;
    let items = doc["items"].as_array().unwrap();
    assert!(items.len() >= 40, "covers the seed topics");
    assert!(
        items.iter().filter(|i| !i["check"].is_null()).count() >= 10,
        "checks attached"
    );
    // Read-only: adapt a copy instead.
    admin
        .put(&path)
        .markdown("# X\n- [ ] y\n")
        .expect_problem(409)
        .await;
    admin.delete(&path).expect_problem(409).await;

    // A restart on the same database installs nothing new.
    first.terminate();
    let second = TestApp::spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        data_dir: Some(first.data_dir.clone()),
        ..Options::default()
    })
    .await;
    let admin = second.as_admin().await;
    let list: Value = admin.get("/api/v1/checklists").expect_json(200).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert_eq!(list["items"][0]["version"], 1);
}

#[tokio::test]
async fn bad_annotations_are_422_naming_the_line_and_problem() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let body = import(
        &admin,
        "# T\n\n- [ ] ok\n- [ ] bad <!-- check: telepathy -->\n",
    )
    .expect_problem(422)
    .await;
    let text = body.to_string();
    assert!(text.contains("line 4"), "{text}");
    assert!(
        text.contains("unknown check kind") && text.contains("telepathy"),
        "{text}"
    );

    let text = import(
        &admin,
        "# T\n- [ ] limited <!-- check: rate_limit burst=lots -->\n",
    )
    .expect_problem(422)
    .await
    .to_string();
    assert!(text.contains("line 2") && text.contains("burst"), "{text}");

    let text = import(&admin, "# T\n- [ ] x <!-- check: health colour=blue -->\n")
        .expect_problem(422)
        .await
        .to_string();
    assert!(text.contains("line 2") && text.contains("colour"), "{text}");

    let list: Value = admin.get("/api/v1/checklists").expect_json(200).await;
    assert_eq!(list["total"], 1, "nothing but the built-in template");
}

#[tokio::test]
async fn bad_uploads_get_a_clear_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let upload = |ct: &str, body: Vec<u8>| admin.post("/api/v1/checklists").body(ct, body);
    let big = format!("# Big\n- [ ] x\n{}", "a".repeat(600 * 1024)).into_bytes();
    let body = upload("text/markdown", big).expect_problem(413).await;
    assert!(body["detail"].as_str().unwrap().contains("512 KiB"));
    // Beyond the global body limit the server answers 413 from the Content-Length alone and
    // may close the connection while the client is still sending: either outcome is a refusal.
    // A connection of its own, so that the closed connection is not reused by the next request.
    let huge = upload("text/markdown", vec![b'a'; 2 * 1024 * 1024])
        .on_fresh_connection()
        .try_send()
        .await;
    if let Ok(res) = huge {
        assert_problem(res, 413).await;
    }
    let body = upload("text/markdown", b"# T\n- [ ] ok\n\xff\xfe bad\n".to_vec())
        .expect_problem(400)
        .await;
    assert!(body["detail"].as_str().unwrap().contains("UTF-8"));
    let body = upload("text/markdown", b"# T\n- [ ] a\0b\n".to_vec())
        .expect_problem(422)
        .await;
    assert!(body.to_string().contains("line 2"), "{body}");
    let body = upload(
        "text/markdown",
        b"# Only prose\n\nNo tasks here.\n".to_vec(),
    )
    .expect_problem(422)
    .await;
    assert!(body["detail"].as_str().unwrap().contains("no task items"));
    upload("text/markdown", b"  \n".to_vec())
        .expect_problem(422)
        .await;
    upload("application/json", b"{\"a\":1}".to_vec())
        .expect_problem(415)
        .await;
    upload("application/octet-stream", vec![0, 1, 2, 3])
        .expect_problem(415)
        .await;
    upload("text/markdown; charset=latin1", b"# T\n- [ ] x\n".to_vec())
        .expect_problem(415)
        .await;
    // No title and no ?name=.
    let body = upload("text/markdown", b"- [ ] untitled\n".to_vec())
        .expect_problem(422)
        .await;
    assert!(body.to_string().contains("name"));

    let unknown = uuid::Uuid::new_v4();
    admin
        .get(&format!("/api/v1/checklists/{unknown}"))
        .expect_problem(404)
        .await;
    admin
        .get("/api/v1/checklists/not-a-uuid")
        .expect_problem(400)
        .await;
    let list: Value = admin
        .get("/api/v1/checklists?include_archived=true")
        .expect_json(200)
        .await;
    assert_eq!(list["total"], 1, "nothing was stored");
}

#[tokio::test]
async fn new_template_versions_never_rewrite_existing_reviews() {
    let app = TestApp::spawn().await;
    let (admin, review_id, _) = small_review(&app).await;
    let review_path = format!("/api/v1/reviews/{review_id}");
    let review: Value = admin.get(&review_path).expect_json(200).await;
    let checklist_id = review["checklist_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/checklists/{checklist_id}");
    let put = |if_match: &str, body: String| admin.put(&path).if_match(if_match).markdown(&body);
    let markdown = async || {
        let res = admin
            .get(&format!("{path}?format=markdown"))
            .expect_status(200)
            .await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        (etag, res.text().await.unwrap())
    };
    // Read (and so cached) before the new version: the next read must not be that copy.
    assert_eq!(markdown().await, ("\"v1\"".to_owned(), SMALL.to_owned()));
    let v2 = SMALL.replace("Encryption key is set", "Encryption key is set and rotated")
        + "- [ ] A new item\n";
    let res = put("\"v1\"", v2.clone()).expect_status(200).await;
    assert_eq!(res.headers()["etag"], "\"v2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["items"].as_array().unwrap().len(), 6);
    // A stale version is refused and changes nothing.
    put("\"v1\"", "# Small checklist\n- [ ] gone\n".into())
        .expect_problem(412)
        .await;
    let md = admin
        .get(&format!("{path}?format=markdown"))
        .expect_text(200)
        .await;
    assert_eq!(md, v2);

    // The review still has version 1 of the template.
    let after: Value = admin.get(&review_path).expect_json(200).await;
    assert_eq!(after["checklist_version"], 1);
    assert_eq!(after["items"].as_array().unwrap().len(), 5);
    assert_eq!(item(&after, K_ENCRYPTION)["text"], "Encryption key is set");

    // Changing a template item's check is another version.
    let check = |key: &str| admin.put(&format!("{path}/items/{}/check", enc(key)));
    let res = check(K_ENCRYPTION)
        .json(&json!({"definition": "security_headers"}))
        .send()
        .await;
    assert_eq!(res.status(), 404, "the key changed with the text");
    let key = "security/keys/encryption-key-is-set-and-rotated";
    let v3: Value = check(key)
        .if_match("\"v2\"")
        .json(&json!({"check": {"kind": "security_headers"}}))
        .expect_json(200)
        .await;
    assert_eq!(v3["version"], 3);
    let changed = v3["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap();
    assert_eq!(changed["check_definition"], "security_headers");
    let (etag, md) = markdown().await;
    assert_eq!(
        etag, "\"v3\"",
        "the cached Markdown follows the item's check change"
    );
    assert!(md.contains("security_headers"), "{md}");
    check(key)
        .json(&json!({"definition": "telepathy"}))
        .expect_problem(422)
        .await;

    // Archiving hides the template; the review stays.
    admin.delete(&path).expect_status(204).await;
    admin.get(&path).expect_problem(404).await;
    admin.get(&review_path).expect_status(200).await;
    let audit = audit_of(&admin, "checklist", &checklist_id).await;
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
