//! Services: CRUD, filters, soft delete, encrypted contacts and credentials, key rotation.

use serde_json::{Value, json};

use crate::checklist_support::*;
use crate::harness::{Options, TestApp};

#[tokio::test]
async fn services_are_created_filtered_updated_and_soft_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let (_, editor) = app.as_new_user("editor").await;
    let billing = create_service(
        &editor,
        json!({"name": "Billing API", "environment": "production", "base_url": "https://billing.example.com/",
               "owners": ["team-payments", "alice@example.com"]}),
    )
    .await;
    create_service(
        &editor,
        json!({"name": "Billing worker", "environment": "staging", "owners": ["team-payments"]}),
    )
    .await;
    create_service(
        &editor,
        json!({"name": "Search", "owners": ["team-search"]}),
    )
    .await;
    assert_eq!(billing["base_url"], "https://billing.example.com");
    assert_eq!(billing["environment"], "production");
    let id = billing["id"].as_str().unwrap().to_owned();

    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = async |query: &str| -> Value {
        editor
            .get(&format!("/api/v1/services{query}"))
            .expect_json(200)
            .await
    };
    let page = list("?name=billing").await;
    assert_eq!(names(&page), ["Billing API", "Billing worker"]);
    let page = list("?environment=staging").await;
    assert_eq!(names(&page), ["Billing worker"]);
    let page = list("?owner=team-payments").await;
    assert_eq!(names(&page), ["Billing API", "Billing worker"]);
    let page = list("?per_page=2&page=2").await;
    assert_eq!(page["total"], 3);
    assert_eq!(names(&page), ["Search"]);
    editor
        .get("/api/v1/services?per_page=0")
        .expect_problem(422)
        .await;

    // Duplicate name and invalid fields change nothing.
    let create = |body: Value| editor.post_json("/api/v1/services", &body);
    create(json!({"name": "Search"})).expect_problem(409).await;
    create(json!({"name": "X", "base_url": "ftp://x"}))
        .expect_problem(422)
        .await;
    create(json!({"name": "X", "environment": "prod uction"}))
        .expect_problem(422)
        .await;
    create(json!({"name": "X", "colour": "red"}))
        .expect_problem(422)
        .await;

    // Update with If-Match; a stale ETag is 412.
    let path = format!("/api/v1/services/{id}");
    let res = editor.get(&path).expect_status(200).await;
    assert_eq!(res.headers()["etag"], "\"v1\"");
    let patch = |etag: &str, body: Value| editor.patch(&path).if_match(etag).json(&body);
    let updated: Value = patch(
        "\"v1\"",
        json!({"owners": ["team-billing"], "description": "Invoices"}),
    )
    .expect_json(200)
    .await;
    assert_eq!(updated["owners"], json!(["team-billing"]));
    assert_eq!(updated["version"], 2);
    patch("\"v1\"", json!({"name": "Renamed"}))
        .expect_problem(412)
        .await;
    patch("\"v2\"", json!({"name": "Search"}))
        .expect_problem(409)
        .await;
    let current: Value = editor.get(&path).expect_json(200).await;
    assert_eq!(current["name"], "Billing API");
    let page = list("?owner=team-payments").await;
    assert_eq!(names(&page), ["Billing worker"]);

    // Soft delete: gone from the API, audited, the name is free again.
    editor.delete(&path).expect_status(204).await;
    editor.get(&path).expect_problem(404).await;
    assert_eq!(list("").await["total"], 2);
    assert_eq!(
        sql(
            &app,
            &format!("SELECT count(*) FROM services WHERE id = {}", uuid_sql(&id))
        ),
        "1",
        "kept in the database"
    );
    let actions: Vec<String> = audit_of(&admin, "service", &id)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["service.delete", "service.update", "service.create"]
    );
    create_service(&editor, json!({"name": "Billing API"})).await;
    editor
        .get(&format!("/api/v1/services/{}", uuid::Uuid::new_v4()))
        .expect_problem(404)
        .await;
}

const SECRET_HEADER_VALUE: &str = "Bearer tok-3f9a1c7d5e2b";
const CONTACT_PHONE: &str = "+1-555-0142-977";

#[tokio::test]
async fn contacts_and_credentials_are_encrypted_at_rest_and_credentials_write_only() {
    let app = TestApp::spawn().await;
    let admin = app.as_admin().await;
    let text = admin
        .post_json(
            "/api/v1/services",
            &json!({"name": "Payments", "contacts": [{"name": "Zoë Oncall", "phone": CONTACT_PHONE, "email": "zoe@example.com"}],
                    "credentials": {"headers": {"Authorization": SECRET_HEADER_VALUE, "X-Probe": "probe-secret-77"}}}),
        )
        .expect_text(201)
        .await;
    assert!(
        !text.contains(SECRET_HEADER_VALUE) && !text.contains("probe-secret-77"),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        created["credentials"],
        json!({"configured": true, "header_names": ["Authorization", "X-Probe"]})
    );
    assert_eq!(created["contacts"][0]["phone"], CONTACT_PHONE);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/services/{id}");
    let read = admin.get(&path).expect_text(200).await;
    assert!(read.contains(CONTACT_PHONE) && !read.contains(SECRET_HEADER_VALUE));
    let listed = admin.get("/api/v1/services").expect_text(200).await;
    assert!(!listed.contains(SECRET_HEADER_VALUE));

    // The database holds ciphertexts only, and the audit log holds neither.
    let dump = sql(&app, "SELECT * FROM services");
    for needle in [
        CONTACT_PHONE,
        "Zoë",
        "zoe@example.com",
        SECRET_HEADER_VALUE,
        "probe-secret-77",
    ] {
        assert!(
            !dump.contains(needle),
            "{needle} in clear in the services table: {dump}"
        );
    }
    let raw = sql(
        &app,
        &format!("SELECT contacts FROM services WHERE id = {}", uuid_sql(id)),
    );
    assert!(raw.starts_with("pf1."), "{raw}");
    let audit = sql(&app, "SELECT * FROM audit_log");
    assert!(!audit.contains(SECRET_HEADER_VALUE) && !audit.contains(CONTACT_PHONE));

    // Clearing credentials with null; bad header values are refused without echoing them.
    let body = admin
        .patch(&path)
        .json(&json!({"credentials": {"headers": {"Authorization": "bad\nvalue-secret"}}}))
        .expect_problem(422)
        .await;
    assert!(!body.to_string().contains("value-secret"));
    let cleared: Value = admin
        .patch(&path)
        .json(&json!({"credentials": null}))
        .expect_json(200)
        .await;
    assert_eq!(
        cleared["credentials"],
        json!({"configured": false, "header_names": []})
    );
    assert_eq!(
        cleared["contacts"][0]["name"], "Zoë Oncall",
        "contacts untouched"
    );
}

const OLD_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const NEW_KEY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

#[tokio::test]
async fn rotating_the_encryption_key_keeps_every_contact_readable() {
    let mut first = TestApp::spawn_with(Options::default().env("ENCRYPTION_KEY", OLD_KEY)).await;
    let admin = first.as_admin().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let s = create_service(
            &admin,
            json!({"name": format!("svc-{n}"), "contacts": [{"name": format!("Contact {n}"), "phone": format!("+1-555-000{n}")}],
                   "credentials": {"headers": {"Authorization": format!("Bearer secret-{n}")}}}),
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let before = sql(&first, "SELECT contacts FROM services ORDER BY name");
    first.terminate();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_preflight"))
        .arg("rotate-encryption-key")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENVIRONMENT", "development")
        .env("DATA_DIR", &first.data_dir)
        .env("DATABASE_URL", &first.database_url)
        .env("ENCRYPTION_KEY", NEW_KEY)
        .env("ENCRYPTION_KEY_PREVIOUS", OLD_KEY)
        .current_dir(&first.data_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rotate failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 6"), "{stdout}");
    let after = sql(&first, "SELECT contacts FROM services ORDER BY name");
    assert_ne!(before, after, "ciphertexts changed");

    // Only the new key from now on.
    let second = TestApp::spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        data_dir: Some(first.data_dir.clone()),
        ..Options::default().env("ENCRYPTION_KEY", NEW_KEY)
    })
    .await;
    let admin = second.as_admin().await;
    for (n, id) in ids.iter().enumerate() {
        let s: Value = admin
            .get(&format!("/api/v1/services/{id}"))
            .expect_json(200)
            .await;
        assert_eq!(s["contacts"][0]["name"], format!("Contact {n}"), "{s}");
        assert_eq!(s["contacts"][0]["phone"], format!("+1-555-000{n}"));
        assert_eq!(s["credentials"]["configured"], true);
    }
}
