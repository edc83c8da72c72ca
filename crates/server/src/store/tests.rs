//! The write protocol against a real database (SQLite, started as production starts it):
//! unique indexes answer for names, compare-and-set refuses stale writes, the audit entry
//! commits with its change or not at all, and a password change revokes the sessions.

use std::collections::HashMap;

use chrono::Utc;
use preflight_domain::parse_checklist;
use sea_orm::{EntityTrait, PaginatorTrait};
use uuid::Uuid;

use super::users::{NewPassword, NewUser, PasswordError};
use super::{StoreError, checklists, reviews, services, sessions, users};
use crate::db::audit::Actor;
use crate::db::entities::{audit_log, refresh_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::write::Write;

const PASSWORD: &str = "Correct-Horse-Battery-42";

async fn app(dir: &std::path::Path) -> AppState {
    let env: HashMap<String, String> = [
        ("DATA_DIR", dir.display().to_string()),
        ("SECRET_KEY", "Zq8v3LmN0pR5tY7wB2xC4dF6gH9jK1sA".into()),
        (
            "ENCRYPTION_KEY",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        ),
        ("PORT", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = crate::config::Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    crate::app::Application::build(settings)
        .await
        .unwrap()
        .state()
        .clone()
}

fn service(name: &str) -> services::NewService {
    services::NewService {
        id: Uuid::now_v7(),
        name: name.into(),
        environment: "production".into(),
        base_url: None,
        description: None,
        owners: vec!["team-a".into()],
        contacts: None,
        credentials: None,
        probe_interval_s: None,
        monitoring: None,
    }
}

async fn audit_entries(state: &AppState) -> u64 {
    audit_log::Entity::find().count(&state.db).await.unwrap()
}

async fn create_service(state: &AppState, name: &str) -> Result<services::NewService, StoreError> {
    let new = service(name);
    let id = new.id;
    let write = Write::begin(&state.db, Actor::named("test")).await?;
    let change = services::insert(write.txn(), new).await?;
    write.commit(change).await?;
    Ok(services::NewService {
        id,
        ..service(name)
    })
}

#[tokio::test]
async fn a_taken_name_is_the_unique_index_answering_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    let first = create_service(&state, "Billing").await.unwrap();
    let before = audit_entries(&state).await;

    let err = create_service(&state, "Billing").await.unwrap_err();
    let StoreError::Taken { field, message } = &err else {
        panic!("expected Taken, got {err:?}");
    };
    assert_eq!(*field, "name");
    assert_eq!(message, "a service named \"Billing\" already exists");
    assert_eq!(
        audit_entries(&state).await,
        before,
        "no audit entry without its change"
    );
    // Clients see the 409 they always saw, now naming the field.
    let problem = ApiError::from(err).to_problem();
    assert_eq!(problem.status, 409);
    assert_eq!(problem.type_, "urn:preflight:problem:conflict");
    assert_eq!(problem.errors[0].field, "name");

    // Renaming another service onto the name is refused the same way.
    let other = create_service(&state, "Search").await.unwrap();
    let current = services::find(&state.db, other.id).await.unwrap();
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let changes = services::Changes {
        name: Some("Billing".into()),
        ..Default::default()
    };
    let err = services::update(write.txn(), &current, &[], changes)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Taken { field: "name", .. }),
        "{err:?}"
    );
    drop(write);

    // A deleted service frees its name.
    let current = services::find(&state.db, first.id).await.unwrap();
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let change = services::delete(write.txn(), &current, &[]).await.unwrap();
    write.commit(change).await.unwrap();
    create_service(&state, "Billing").await.unwrap();
}

#[tokio::test]
async fn concurrent_creates_of_one_name_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    let attempts = (0..6).map(|_| {
        let state = state.clone();
        tokio::spawn(async move { create_service(&state, "Payments").await })
    });
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::Taken { field: "name", .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn a_stale_version_changes_nothing_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    let created = create_service(&state, "Billing").await.unwrap();
    let read = services::find(&state.db, created.id).await.unwrap();

    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let changes = services::Changes {
        description: Some(Some("first".into())),
        ..Default::default()
    };
    let change = services::update(write.txn(), &read, &[], changes)
        .await
        .unwrap();
    let (updated, _) = write.commit(change).await.unwrap();
    assert_eq!(updated.version, read.version + 1);
    let before = audit_entries(&state).await;

    // A second writer still holding the first read loses.
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let changes = services::Changes {
        description: Some(Some("second".into())),
        ..Default::default()
    };
    let err = services::update(write.txn(), &read, &[], changes)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Changed("service")), "{err:?}");
    drop(write);
    assert_eq!(audit_entries(&state).await, before);
    let now = services::find(&state.db, created.id).await.unwrap();
    assert_eq!(now.description.as_deref(), Some("first"));
    let problem = ApiError::from(err).to_problem();
    assert_eq!(problem.status, 409);
    assert_eq!(
        problem.detail.as_deref(),
        Some("the service was changed concurrently; fetch it again")
    );
}

#[tokio::test]
async fn the_audit_entry_commits_with_its_change() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    let before = audit_entries(&state).await;
    let created = create_service(&state, "Billing").await.unwrap();
    let rows = audit_log::Entity::find().all(&state.db).await.unwrap();
    assert_eq!(rows.len() as u64, before + 1);
    let entry = rows.iter().find(|r| r.action == "service.create").unwrap();
    assert_eq!(entry.target_id, created.id.to_string());
    assert_eq!(entry.actor, "test");
    // Outside a request there is no request id; the actor carries it when there is one.
    assert_eq!(entry.request_id, None);
    let actor = Actor::named("test").in_request(Some("req-42".into()));
    let write = Write::begin(&state.db, actor).await.unwrap();
    let current = services::find(&state.db, created.id).await.unwrap();
    let change = services::delete(write.txn(), &current, &[]).await.unwrap();
    write.commit(change).await.unwrap();
    let rows = audit_log::Entity::find().all(&state.db).await.unwrap();
    let entry = rows.iter().find(|r| r.action == "service.delete").unwrap();
    assert_eq!(entry.request_id.as_deref(), Some("req-42"));

    // A change that fails after its first statement leaves neither the change nor an entry.
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    services::insert(write.txn(), service("Ledger"))
        .await
        .unwrap();
    let err = services::insert(write.txn(), service("Ledger"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Taken { .. }));
    drop(write);
    let count = audit_entries(&state).await;
    assert_eq!(count, before + 2);
    let listed = services::list(&state.db, &services::Filter::default(), 1, 50)
        .await
        .unwrap();
    assert_eq!(listed.1, 0, "the first insert was rolled back too");
}

#[tokio::test]
async fn checklist_names_and_attachments_are_unique_among_live_rows() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    let source = "# Launch\n\n- [ ] Backups are tested\n";
    let doc = parse_checklist(source).unwrap();
    let new = |name: &str| checklists::NewChecklist {
        name: name.into(),
        builtin: false,
        source: source.into(),
        doc: &doc,
        created_by: None,
    };
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let change = checklists::insert(write.txn(), new("Launch"))
        .await
        .unwrap();
    let template = write.commit(change).await.unwrap();
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let err = checklists::insert(write.txn(), new("Launch"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Taken { field: "name", .. }),
        "{err:?}"
    );
    drop(write);

    // A checklist is attached to a service once; the index names the review in the way.
    let svc = create_service(&state, "Billing").await.unwrap();
    let attach = || reviews::Attach {
        service_id: svc.id,
        template: &template,
        doc: &doc,
        title: "Launch".into(),
        created_by: "test".into(),
    };
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let change = reviews::attach(write.txn(), attach()).await.unwrap();
    let review = write.commit(change).await.unwrap();
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let err = reviews::attach(write.txn(), attach()).await.unwrap_err();
    let StoreError::Taken { field, message } = &err else {
        panic!("expected Taken, got {err:?}");
    };
    assert_eq!(*field, "checklist_id");
    assert!(
        message.contains(&format!("as review {review}")),
        "{message}"
    );
    drop(write);
    let loaded = reviews::load(&state.db, review).await.unwrap();
    assert_eq!(loaded.rows.len(), 1);
}

#[tokio::test]
async fn one_password_change_path_checks_hashes_and_revokes_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let state = app(dir.path()).await;
    assert!(matches!(
        NewPassword::new("short".into()).await,
        Err(PasswordError::Weak(_))
    ));
    let new = NewUser {
        email: "dev@example.com".into(),
        password: NewPassword::new(PASSWORD.into()).await.unwrap(),
        role: "editor",
        display_name: None,
    };
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let change = users::insert(write.txn(), new, "user.create")
        .await
        .unwrap();
    let user = write.commit(change).await.unwrap();
    let again = NewUser {
        email: "dev@example.com".into(),
        password: NewPassword::new(PASSWORD.into()).await.unwrap(),
        role: "viewer",
        display_name: None,
    };
    let write = Write::begin(&state.db, Actor::named("test")).await.unwrap();
    let err = users::insert(write.txn(), again, "user.create")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Taken { field: "email", .. }),
        "{err:?}"
    );
    drop(write);

    let family = Uuid::now_v7();
    let expires = Utc::now() + chrono::Duration::days(1);
    sessions::insert(&state.db, user.id, family, "hash-1".into(), expires)
        .await
        .unwrap();
    let changes = users::Changes {
        password: Some(
            NewPassword::new("Another-Strong-Pass-7".into())
                .await
                .unwrap(),
        ),
        ..Default::default()
    };
    let write = Write::begin(&state.db, Actor::named("cli")).await.unwrap();
    let change = users::update(write.txn(), &user, changes).await.unwrap();
    let updated = write.commit(change).await.unwrap();
    assert_ne!(updated.password_hash, user.password_hash);
    assert!(preflight_security::verify_password(
        "Another-Strong-Pass-7",
        &updated.password_hash
    ));
    let tokens = refresh_token::Entity::find().all(&state.db).await.unwrap();
    assert!(tokens.iter().all(|t| t.revoked_at.is_some()));
}
