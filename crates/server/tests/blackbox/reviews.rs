//! Reviews: attach, item states and transitions, audit, exports, roles, concurrency.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{TestApp, assert_problem};

#[tokio::test]
async fn import_attach_sign_off_waive_readiness_export() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let (editor_email, editor) = app.as_new_user("editor").await;
    let checklist = import_ok(&admin, SMALL).await;
    assert_eq!(checklist["items"].as_array().unwrap().len(), 5);
    let service = create_service(&editor, json!({"name": "checkout"})).await;
    let sid = service["id"].as_str().unwrap();
    let review = attach(&editor, sid, checklist["id"].as_str().unwrap()).await;
    let rid = review["id"].as_str().unwrap().to_owned();
    assert_eq!(review["checklist_version"], 1);
    assert!(
        review["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "pending")
    );
    assert_eq!(item(&review, K_HEALTH)["check"]["kind"], "health");
    assert_eq!(item(&review, K_HEALTH)["check_definition"], "health");
    assert_eq!(item(&review, K_SECRET)["requires_comment"], true);
    assert_eq!(item(&review, K_BACKUPS)["re_attest_days"], 30);
    // Attaching the same checklist twice is a conflict.
    let reviews = format!("/api/v1/services/{sid}/reviews");
    editor
        .post_json(&reviews, &json!({"checklist_id": checklist["id"]}))
        .expect_problem(409)
        .await;
    editor
        .post_json(&reviews, &json!({"checklist_id": uuid::Uuid::new_v4()}))
        .expect_problem(422)
        .await;

    // Sign-off: this item asks for a comment.
    let body = act(&editor, &rid, K_SECRET, json!({"action": "sign_off"}))
        .expect_problem(422)
        .await;
    assert!(body.to_string().contains("comment"));
    let signed: Value = act(
        &editor,
        &rid,
        K_SECRET,
        json!({"action": "sign_off", "comment": "generated with openssl"}),
    )
    .expect_json(200)
    .await;
    assert_eq!(signed["state"], "passed");
    assert_eq!(signed["attestation"]["by"], editor_email.as_str());
    assert_eq!(signed["version"], 2);
    for key in [K_ENCRYPTION, K_HEALTH] {
        act(&editor, &rid, key, json!({"action": "sign_off"}))
            .expect_status(200)
            .await;
    }
    let excluded: Value = act(
        &editor,
        &rid,
        K_OPTIONAL,
        json!({"action": "not_applicable", "reason": "no audit trail needed"}),
    )
    .expect_json(200)
    .await;
    assert_eq!(excluded["state"], "not_applicable");

    // Still blocked by the backups item.
    let readiness = format!("/api/v1/reviews/{rid}/readiness");
    let r: Value = editor.get(&readiness).expect_json(200).await;
    assert_eq!(r["ready"], false);
    assert_eq!(r["blocking"][0]["key"], K_BACKUPS);
    assert_eq!(r["overall"]["counts"]["passed"], 3);
    assert_eq!(r["overall"]["applicable"], 4);

    // Waivers: admins only, with a reason and a future expiry.
    let expires = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let waive =
        json!({"action": "waive", "reason": "restore drill scheduled", "expires_at": expires});
    act(&editor, &rid, K_BACKUPS, waive.clone())
        .expect_problem(403)
        .await;
    let waived: Value = act(&admin, &rid, K_BACKUPS, waive).expect_json(200).await;
    assert_eq!(waived["state"], "waived");

    let r: Value = editor.get(&readiness).expect_json(200).await;
    assert_eq!(r["ready"], true, "{r}");
    assert_eq!(r["overall"]["ratio"], 1.0);
    assert_eq!(r["overall"]["counts"]["waived"], 1);
    let sections: Vec<&str> = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["section"].as_str().unwrap())
        .collect();
    assert_eq!(sections, ["Security", "Operations"]);
    let s: Value = editor
        .get(&format!("/api/v1/services/{sid}/readiness"))
        .expect_json(200)
        .await;
    assert_eq!(s["ready"], true);
    assert_eq!(s["reviews"][0]["review_id"], rid.as_str());
    let overview: Value = editor.get("/api/v1/readiness").expect_json(200).await;
    assert_eq!(overview["services"][0]["name"], "checkout");
    assert_eq!(overview["services"][0]["ready"], true);

    // Markdown export: [x] for passed and waived, a trailing note with state, who and when.
    let md = editor
        .get(&format!("/api/v1/reviews/{rid}"))
        .header("accept", "text/markdown")
        .expect_text(200)
        .await;
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let line = |needle: &str| {
        md.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {md}"))
            .to_owned()
    };
    let secret = line("Secret key is set");
    assert!(secret.starts_with("- [x] Secret key is set"), "{secret}");
    assert!(
        secret.contains("passed by")
            && secret.contains(&today)
            && secret.contains("generated with openssl"),
        "{secret}"
    );
    let backups = line("Backups are tested");
    assert!(
        backups.starts_with("- [x]")
            && backups.contains("waived by")
            && backups.contains("restore drill"),
        "{backups}"
    );
    let optional = line("Audit logging");
    assert!(
        optional.starts_with("- [ ]") && optional.contains("not applicable"),
        "{optional}"
    );
    assert!(md.starts_with("# Small checklist\n\nIntro paragraph.\n"));
    let same = editor
        .get(&format!("/api/v1/reviews/{rid}?format=markdown"))
        .expect_text(200)
        .await;
    assert_eq!(same, md);

    // JSON export.
    let exported: Value = editor
        .get(&format!("/api/v1/reviews/{rid}?format=json"))
        .expect_json(200)
        .await;
    assert_eq!(
        item(&exported, K_BACKUPS)["waiver"]["reason"],
        "restore drill scheduled"
    );
    assert_eq!(exported["sections"][0]["groups"], json!(["Keys"]));

    // Every change is in the audit log: actor, time, item, before → after, comment.
    let item_id = item(&exported, K_SECRET)["id"].as_str().unwrap().to_owned();
    let entries = audit_of(&editor, "review_item", &item_id).await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["action"], "review_item.sign_off");
    assert_eq!(e["actor"], editor_email.as_str());
    assert_eq!(e["comment"], "generated with openssl");
    assert_eq!(e["before"]["state"], "pending");
    assert_eq!(e["after"]["state"], "passed");
    assert_eq!(e["after"]["key"], K_SECRET);
    assert!(e["at"].is_string());
}

#[tokio::test]
async fn item_transitions_follow_the_rules_and_bad_requests_change_nothing() {
    let app = TestApp::spawn().await;
    let (admin, rid, _) = small_review(&app).await;
    let on_item = |body: Value| act(&admin, &rid, K_ENCRYPTION, body);
    let past = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    on_item(json!({"action": "waive", "reason": "x", "expires_at": past}))
        .expect_problem(422)
        .await;
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    on_item(json!({"action": "waive", "reason": "  ", "expires_at": future}))
        .expect_problem(422)
        .await;
    on_item(json!({"action": "not_applicable"}))
        .expect_problem(422)
        .await;
    on_item(json!({"action": "approve"}))
        .expect_problem(422)
        .await;
    on_item(json!({"action": "reset"}))
        .expect_problem(409)
        .await;
    act(&admin, &rid, "no/such/item", json!({"action": "fail"}))
        .expect_problem(404)
        .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    act(&admin, &unknown, K_ENCRYPTION, json!({"action": "fail"}))
        .expect_problem(404)
        .await;
    let path = format!("/api/v1/reviews/{rid}/items/{}", enc(K_ENCRYPTION));
    admin
        .post(&path)
        .body("application/json", "{not json")
        .expect_problem(400)
        .await;

    // Not applicable, then sign-off is refused until reset.
    on_item(json!({"action": "not_applicable", "reason": "no secrets"}))
        .expect_status(200)
        .await;
    on_item(json!({"action": "sign_off"}))
        .expect_problem(409)
        .await;
    let reset: Value = on_item(json!({"action": "reset", "comment": "applies after all"}))
        .expect_json(200)
        .await;
    assert_eq!(reset["state"], "pending");
    let failed: Value = on_item(json!({"action": "fail", "comment": "key missing"}))
        .expect_json(200)
        .await;
    assert_eq!(failed["state"], "failed");

    // Stale If-Match on an item is 412 and changes nothing.
    let res = admin.get(&path).expect_status(200).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"v4\"");
    admin
        .post_json(&path, &json!({"action": "sign_off"}))
        .if_match("\"v2\"")
        .expect_problem(412)
        .await;
    let current: Value = admin.get(&path).expect_json(200).await;
    assert_eq!(current["state"], "failed");
    assert_eq!(current["version"], 4);

    // The item's check is editable; a bad one is 422.
    let check = |body: Value| admin.put(&format!("{path}/check")).json(&body);
    let with_check: Value =
        check(json!({"definition": "rate_limit path=/api/v1/auth/login burst=50"}))
            .expect_json(200)
            .await;
    assert_eq!(with_check["check"]["kind"], "rate_limit");
    // Defaults (burst=50) are left out of the canonical definition.
    assert_eq!(
        with_check["check_definition"],
        "rate_limit path=/api/v1/auth/login"
    );
    check(json!({"check": {"kind": "rate_limit", "burst": 0}}))
        .expect_problem(422)
        .await;
    let cleared: Value = check(json!({"check": null})).expect_json(200).await;
    assert_eq!(cleared["check"], Value::Null);
}

#[tokio::test]
async fn re_attestation_and_expired_waivers_stop_counting() {
    let app = TestApp::spawn().await;
    let (admin, rid, _) = small_review(&app).await;
    let review_path = format!("/api/v1/reviews/{rid}");
    let readiness = format!("/api/v1/reviews/{rid}/readiness");
    act(&admin, &rid, K_BACKUPS, json!({"action": "sign_off"}))
        .expect_status(200)
        .await;
    let review: Value = admin.get(&review_path).expect_json(200).await;
    assert_eq!(item(&review, K_BACKUPS)["state"], "passed");
    // Age the sign-off beyond its 30 days, as time would.
    let id = item(&review, K_BACKUPS)["id"].as_str().unwrap().to_owned();
    let record = item(&review, K_BACKUPS)["attestation"].clone();
    let mut aged =
        json!({"attestation": record, "waiver": null, "exclusion": null, "last_run": null});
    aged["attestation"]["at"] = json!((Utc::now() - chrono::Duration::days(31)).to_rfc3339());
    sql(
        &app,
        &format!(
            "UPDATE review_items SET record = '{aged}' WHERE id = {}",
            uuid_sql(&id)
        ),
    );
    let review: Value = admin.get(&review_path).expect_json(200).await;
    assert_eq!(
        item(&review, K_BACKUPS)["state"],
        "pending",
        "a 31-day-old sign-off needs re-attestation"
    );

    // A waiver counts until it expires, then the item blocks again (no write in between).
    let expires = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    act(
        &admin,
        &rid,
        K_ENCRYPTION,
        json!({"action": "waive", "reason": "short", "expires_at": expires}),
    )
    .expect_status(200)
    .await;
    let r: Value = admin.get(&readiness).expect_json(200).await;
    assert_eq!(r["overall"]["counts"]["waived"], 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r: Value = admin.get(&readiness).expect_json(200).await;
    assert_eq!(r["overall"]["counts"]["waived"], 0, "{r}");
    assert!(
        r["blocking"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["key"] == K_ENCRYPTION)
    );
}

#[tokio::test]
async fn forbidden_actions_are_403_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (admin, rid, sid) = small_review(&app).await;
    let (_, viewer) = app.as_new_user("viewer").await;
    let (_, editor) = app.as_new_user("editor").await;
    let read = async |path: &str| -> Value { admin.get(path).expect_json(200).await };
    let review_path = format!("/api/v1/reviews/{rid}");
    let service_path = format!("/api/v1/services/{sid}");
    let review = read(&review_path).await;
    let checklist_id = review["checklist_id"].as_str().unwrap().to_owned();
    let checklist_path = format!("/api/v1/checklists/{checklist_id}");
    let before_service = read(&service_path).await;
    let audit_count = async || read("/api/v1/audit?per_page=1").await["total"].clone();
    let audit_before = audit_count().await;

    // Viewers read everything...
    for path in [review_path.as_str(), "/api/v1/readiness", &checklist_path] {
        viewer.get(path).expect_status(200).await;
    }
    // ...and write nothing.
    let item_path = format!("/api/v1/reviews/{rid}/items/{}", enc(K_ENCRYPTION));
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let forbidden = [
        viewer.post_json("/api/v1/services", &json!({"name": "nope"})),
        viewer.patch(&service_path).json(&json!({"name": "nope"})),
        viewer.delete(&service_path),
        viewer.post_json(&format!("{service_path}/reviews"), &json!({"checklist_id": checklist_id})),
        viewer.delete(&review_path),
        viewer.post_json(&item_path, &json!({"action": "sign_off"})),
        viewer.put(&format!("{item_path}/check")).json(&json!({"definition": "health"})),
        viewer.post("/api/v1/checklists").markdown("# V\n- [ ] x\n"),
        // Editors do not manage templates or users, and do not approve waivers.
        editor.post("/api/v1/checklists").markdown("# E\n- [ ] x\n"),
        editor.put(&checklist_path).markdown("# E\n- [ ] x\n"),
        editor.delete(&checklist_path),
        editor.put(&format!("{checklist_path}/items/{}/check", enc(K_ENCRYPTION))).json(&json!({"check": null})),
        editor.post_json(&item_path, &json!({"action": "waive", "reason": "r", "expires_at": future})),
        editor.post_json("/api/v1/users", &json!({"email": "x@example.com", "password": "Correct-Horse-Battery-42", "role": "admin"})),
        editor.get("/api/v1/audit?target_type=user"),
    ];
    for call in forbidden {
        let res = call.send().await;
        let url = res.url().to_string();
        let body = assert_problem(res, 403).await;
        assert_eq!(body["type"], "urn:preflight:problem:forbidden", "{url}");
    }
    assert_eq!(read(&service_path).await, before_service);
    let after = read(&review_path).await;
    assert_eq!(after, review);
    assert_eq!(read(&checklist_path).await["version"], 1);
    assert_eq!(read("/api/v1/checklists").await["total"], 2);
    assert_eq!(audit_count().await, audit_before, "nothing was audited");
    // Without credentials: 401.
    app.get("/api/v1/readiness").expect_problem(401).await;
}

#[tokio::test]
async fn two_simultaneous_sign_offs_leave_one_state_and_two_audit_entries() {
    let app = TestApp::spawn().await;
    let (admin, rid, _) = small_review(&app).await;
    let (_, editor) = app.as_new_user("editor").await;
    let (a, b) = tokio::join!(
        act(
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "sign_off", "comment": "by admin"})
        )
        .send(),
        act(
            &editor,
            &rid,
            K_ENCRYPTION,
            json!({"action": "sign_off", "comment": "by editor"})
        )
        .send(),
    );
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let path = format!("/api/v1/reviews/{rid}/items/{}", enc(K_ENCRYPTION));
    let current: Value = admin.get(&path).expect_json(200).await;
    assert_eq!(current["state"], "passed");
    assert_eq!(
        current["version"], 3,
        "both changes applied, one after the other"
    );
    let entries = audit_of(&admin, "review_item", current["id"].as_str().unwrap()).await;
    assert_eq!(entries.len(), 2);
    // The last entry's "after" is the stored state, and it starts from the first one's "after".
    assert_eq!(
        entries[0]["after"]["record"],
        json!({
            "attestation": current["attestation"], "waiver": null, "exclusion": null, "last_run": null
        })
    );
    assert_eq!(
        entries[0]["before"]["record"],
        entries[1]["after"]["record"]
    );
    assert_eq!(entries[1]["before"]["state"], "pending");
}
