//! Reviews: attach, item states and transitions, audit, exports, roles, concurrency.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{TestApp, assert_problem};

#[tokio::test]
async fn import_attach_sign_off_waive_readiness_export() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (editor_email, editor) = app.user_token("editor").await;
    let checklist = import_ok(&app, &admin, SMALL).await;
    assert_eq!(checklist["items"].as_array().unwrap().len(), 5);
    let service = create_service(&app, &editor, json!({"name": "checkout"})).await;
    let sid = service["id"].as_str().unwrap();
    let review = attach(&app, &editor, sid, checklist["id"].as_str().unwrap()).await;
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
    let res = post_json(
        &app,
        &editor,
        &format!("/api/v1/services/{sid}/reviews"),
        &json!({"checklist_id": checklist["id"]}),
    )
    .await;
    assert_problem(res, 409).await;
    let res = post_json(
        &app,
        &editor,
        &format!("/api/v1/services/{sid}/reviews"),
        &json!({"checklist_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_problem(res, 422).await;

    // Sign-off: this item asks for a comment.
    let body = assert_problem(
        act(&app, &editor, &rid, K_SECRET, json!({"action": "sign_off"})).await,
        422,
    )
    .await;
    assert!(body.to_string().contains("comment"));
    let res = act(
        &app,
        &editor,
        &rid,
        K_SECRET,
        json!({"action": "sign_off", "comment": "generated with openssl"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let signed: Value = res.json().await.unwrap();
    assert_eq!(signed["state"], "passed");
    assert_eq!(signed["attestation"]["by"], editor_email.as_str());
    assert_eq!(signed["version"], 2);
    for key in [K_ENCRYPTION, K_HEALTH] {
        let res = act(&app, &editor, &rid, key, json!({"action": "sign_off"})).await;
        assert_eq!(res.status(), 200);
    }
    let res = act(
        &app,
        &editor,
        &rid,
        K_OPTIONAL,
        json!({"action": "not_applicable", "reason": "no audit trail needed"}),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["state"],
        "not_applicable"
    );

    // Still blocked by the backups item.
    let r = get_json(&app, &editor, &format!("/api/v1/reviews/{rid}/readiness")).await;
    assert_eq!(r["ready"], false);
    assert_eq!(r["blocking"][0]["key"], K_BACKUPS);
    assert_eq!(r["overall"]["counts"]["passed"], 3);
    assert_eq!(r["overall"]["applicable"], 4);

    // Waivers: admins only, with a reason and a future expiry.
    let expires = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let waive =
        json!({"action": "waive", "reason": "restore drill scheduled", "expires_at": expires});
    assert_problem(
        act(&app, &editor, &rid, K_BACKUPS, waive.clone()).await,
        403,
    )
    .await;
    let res = act(&app, &admin, &rid, K_BACKUPS, waive).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "waived");

    let r = get_json(&app, &editor, &format!("/api/v1/reviews/{rid}/readiness")).await;
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
    let s = get_json(&app, &editor, &format!("/api/v1/services/{sid}/readiness")).await;
    assert_eq!(s["ready"], true);
    assert_eq!(s["reviews"][0]["review_id"], rid.as_str());
    let overview = get_json(&app, &editor, "/api/v1/readiness").await;
    assert_eq!(overview["services"][0]["name"], "checkout");
    assert_eq!(overview["services"][0]["ready"], true);

    // Markdown export: [x] for passed and waived, a trailing note with state, who and when.
    let md = app
        .client
        .get(app.url(&format!("/api/v1/reviews/{rid}")))
        .bearer_auth(&editor)
        .header("accept", "text/markdown")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let same = get(
        &app,
        &editor,
        &format!("/api/v1/reviews/{rid}?format=markdown"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(same, md);

    // JSON export.
    let exported = get_json(&app, &editor, &format!("/api/v1/reviews/{rid}?format=json")).await;
    assert_eq!(
        item(&exported, K_BACKUPS)["waiver"]["reason"],
        "restore drill scheduled"
    );
    assert_eq!(exported["sections"][0]["groups"], json!(["Keys"]));

    // Every change is in the audit log: actor, time, item, before → after, comment.
    let item_id = item(&exported, K_SECRET)["id"].as_str().unwrap().to_owned();
    let entries = audit_of(&app, &editor, "review_item", &item_id).await;
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
    let past = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "waive", "reason": "x", "expires_at": past}),
        )
        .await,
        422,
    )
    .await;
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "waive", "reason": "  ", "expires_at": future}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "not_applicable"}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "approve"}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        act(&app, &admin, &rid, K_ENCRYPTION, json!({"action": "reset"})).await,
        409,
    )
    .await;
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            "no/such/item",
            json!({"action": "fail"}),
        )
        .await,
        404,
    )
    .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_problem(
        act(
            &app,
            &admin,
            &unknown,
            K_ENCRYPTION,
            json!({"action": "fail"}),
        )
        .await,
        404,
    )
    .await;
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/reviews/{rid}/items/{}",
            enc(K_ENCRYPTION)
        )))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;

    // Not applicable, then sign-off is refused until reset.
    act(
        &app,
        &admin,
        &rid,
        K_ENCRYPTION,
        json!({"action": "not_applicable", "reason": "no secrets"}),
    )
    .await;
    assert_problem(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "sign_off"}),
        )
        .await,
        409,
    )
    .await;
    let res = act(
        &app,
        &admin,
        &rid,
        K_ENCRYPTION,
        json!({"action": "reset", "comment": "applies after all"}),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "pending");
    let res = act(
        &app,
        &admin,
        &rid,
        K_ENCRYPTION,
        json!({"action": "fail", "comment": "key missing"}),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "failed");

    // Stale If-Match on an item is 412 and changes nothing.
    let path = format!("/api/v1/reviews/{rid}/items/{}", enc(K_ENCRYPTION));
    let res = get(&app, &admin, &path).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"v4\"");
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&admin)
        .header("if-match", "\"v2\"")
        .json(&json!({"action": "sign_off"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 412).await;
    let current = get_json(&app, &admin, &path).await;
    assert_eq!(current["state"], "failed");
    assert_eq!(current["version"], 4);

    // The item's check is editable; a bad one is 422.
    let check_path = format!("{path}/check");
    let res = app
        .client
        .put(app.url(&check_path))
        .bearer_auth(&admin)
        .json(&json!({"definition": "rate_limit path=/api/v1/auth/login burst=50"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let with_check: Value = res.json().await.unwrap();
    assert_eq!(with_check["check"]["kind"], "rate_limit");
    // Defaults (burst=50) are left out of the canonical definition.
    assert_eq!(
        with_check["check_definition"],
        "rate_limit path=/api/v1/auth/login"
    );
    let res = app
        .client
        .put(app.url(&check_path))
        .bearer_auth(&admin)
        .json(&json!({"check": {"kind": "rate_limit", "burst": 0}}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422).await;
    let res = app
        .client
        .put(app.url(&check_path))
        .bearer_auth(&admin)
        .json(&json!({"check": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["check"], Value::Null);
}

#[tokio::test]
async fn re_attestation_and_expired_waivers_stop_counting() {
    let app = TestApp::spawn().await;
    let (admin, rid, _) = small_review(&app).await;
    act(&app, &admin, &rid, K_BACKUPS, json!({"action": "sign_off"})).await;
    let review = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}")).await;
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
    let review = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}")).await;
    assert_eq!(
        item(&review, K_BACKUPS)["state"],
        "pending",
        "a 31-day-old sign-off needs re-attestation"
    );

    // A waiver counts until it expires, then the item blocks again (no write in between).
    let expires = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let res = act(
        &app,
        &admin,
        &rid,
        K_ENCRYPTION,
        json!({"action": "waive", "reason": "short", "expires_at": expires}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let r = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}/readiness")).await;
    assert_eq!(r["overall"]["counts"]["waived"], 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}/readiness")).await;
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
    let (_, viewer) = app.user_token("viewer").await;
    let (_, editor) = app.user_token("editor").await;
    let review = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}")).await;
    let checklist_id = review["checklist_id"].as_str().unwrap().to_owned();
    let before_service = get_json(&app, &admin, &format!("/api/v1/services/{sid}")).await;
    let audit_count =
        || async { get_json(&app, &admin, "/api/v1/audit?per_page=1").await["total"].clone() };
    let audit_before = audit_count().await;

    // Viewers read everything...
    get_json(&app, &viewer, &format!("/api/v1/reviews/{rid}")).await;
    get_json(&app, &viewer, "/api/v1/readiness").await;
    get_json(&app, &viewer, &format!("/api/v1/checklists/{checklist_id}")).await;
    // ...and write nothing.
    let c = &app.client;
    let item_path = app.url(&format!(
        "/api/v1/reviews/{rid}/items/{}",
        enc(K_ENCRYPTION)
    ));
    let future = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let forbidden = [
        c.post(app.url("/api/v1/services")).bearer_auth(&viewer).json(&json!({"name": "nope"})),
        c.patch(app.url(&format!("/api/v1/services/{sid}"))).bearer_auth(&viewer).json(&json!({"name": "nope"})),
        c.delete(app.url(&format!("/api/v1/services/{sid}"))).bearer_auth(&viewer),
        c.post(app.url(&format!("/api/v1/services/{sid}/reviews"))).bearer_auth(&viewer).json(&json!({"checklist_id": checklist_id})),
        c.delete(app.url(&format!("/api/v1/reviews/{rid}"))).bearer_auth(&viewer),
        c.post(&item_path).bearer_auth(&viewer).json(&json!({"action": "sign_off"})),
        c.put(format!("{item_path}/check")).bearer_auth(&viewer).json(&json!({"definition": "health"})),
        c.post(app.url("/api/v1/checklists")).bearer_auth(&viewer).header("content-type", "text/markdown").body("# V\n- [ ] x\n"),
        // Editors do not manage templates or users, and do not approve waivers.
        c.post(app.url("/api/v1/checklists")).bearer_auth(&editor).header("content-type", "text/markdown").body("# E\n- [ ] x\n"),
        c.put(app.url(&format!("/api/v1/checklists/{checklist_id}"))).bearer_auth(&editor).header("content-type", "text/markdown").body("# E\n- [ ] x\n"),
        c.delete(app.url(&format!("/api/v1/checklists/{checklist_id}"))).bearer_auth(&editor),
        c.put(app.url(&format!("/api/v1/checklists/{checklist_id}/items/{}/check", enc(K_ENCRYPTION)))).bearer_auth(&editor).json(&json!({"check": null})),
        c.post(&item_path).bearer_auth(&editor).json(&json!({"action": "waive", "reason": "r", "expires_at": future})),
        c.post(app.url("/api/v1/users")).bearer_auth(&editor).json(&json!({"email": "x@example.com", "password": "Correct-Horse-Battery-42", "role": "admin"})),
        c.get(app.url("/api/v1/audit?target_type=user")).bearer_auth(&editor),
    ];
    for req in forbidden {
        let res = req.send().await.unwrap();
        let url = res.url().to_string();
        let body = assert_problem(res, 403).await;
        assert_eq!(body["type"], "urn:preflight:problem:forbidden", "{url}");
    }
    assert_eq!(
        get_json(&app, &admin, &format!("/api/v1/services/{sid}")).await,
        before_service
    );
    let after = get_json(&app, &admin, &format!("/api/v1/reviews/{rid}")).await;
    assert_eq!(after, review);
    assert_eq!(
        get_json(&app, &admin, &format!("/api/v1/checklists/{checklist_id}")).await["version"],
        1
    );
    assert_eq!(
        get_json(&app, &admin, "/api/v1/checklists").await["total"],
        2
    );
    assert_eq!(audit_count().await, audit_before, "nothing was audited");
    // Without credentials: 401.
    assert_problem(
        c.get(app.url("/api/v1/readiness")).send().await.unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn two_simultaneous_sign_offs_leave_one_state_and_two_audit_entries() {
    let app = TestApp::spawn().await;
    let (admin, rid, _) = small_review(&app).await;
    let (_, editor) = app.user_token("editor").await;
    let (a, b) = tokio::join!(
        act(
            &app,
            &admin,
            &rid,
            K_ENCRYPTION,
            json!({"action": "sign_off", "comment": "by admin"})
        ),
        act(
            &app,
            &editor,
            &rid,
            K_ENCRYPTION,
            json!({"action": "sign_off", "comment": "by editor"})
        ),
    );
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let path = format!("/api/v1/reviews/{rid}/items/{}", enc(K_ENCRYPTION));
    let current = get_json(&app, &admin, &path).await;
    assert_eq!(current["state"], "passed");
    assert_eq!(
        current["version"], 3,
        "both changes applied, one after the other"
    );
    let entries = audit_of(&app, &admin, "review_item", current["id"].as_str().unwrap()).await;
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
