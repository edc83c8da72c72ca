//! Authentication and authorisation: who is calling (resolved once per request by
//! [`authn::middleware`]) and what they may do ([`AuthUser`] and its `require_*` checks).

pub mod api_tokens;
pub mod authn;
pub mod browser;
pub mod limit;
pub mod session;
pub mod standing;

use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::audit::Actor;
use crate::error::ApiError;

/// Roles, in increasing order of power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "editor" => Ok(Self::Editor),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?} (admin, editor, viewer)")),
        }
    }
}

/// Scopes a personal API token may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read-only calls.
    Read,
    /// Calls that change state (still limited by the owner's role).
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
    pub fn parse_list(s: &str) -> Vec<Scope> {
        s.split_whitespace()
            .filter_map(|p| match p {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                _ => None,
            })
            .collect()
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A JWT access token from a login.
    Session,
    /// A personal API token.
    ApiToken { id: Uuid, scopes: Vec<Scope> },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub credential: Credential,
}

/// What the authentication middleware found on the request.
#[derive(Debug, Clone)]
pub enum Authentication {
    Anonymous,
    Authenticated(AuthUser),
    /// Credentials were presented but are not valid; the reason is safe to show.
    Invalid(&'static str),
    /// Credentials were presented but could not be checked (the database did not answer).
    Unavailable,
}

impl AuthUser {
    /// Requires at least `role`.
    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this action needs the {role} role; you are {}",
                self.role
            )))
        }
    }

    /// Requires `role` and, for API tokens, the `write` scope.
    pub fn require_write(&self, role: Role) -> Result<(), ApiError> {
        self.require_role(role)?;
        if let Credential::ApiToken { scopes, .. } = &self.credential
            && !scopes.contains(&Scope::Write)
        {
            return Err(ApiError::forbidden("this API token lacks the write scope"));
        }
        Ok(())
    }

    /// Requires the admin role and an interactive login session: no API token, whatever its
    /// scopes, may create users or change their roles or passwords.
    pub fn require_admin_session(&self) -> Result<(), ApiError> {
        self.require_role(Role::Admin)?;
        match self.credential {
            Credential::Session => Ok(()),
            Credential::ApiToken { .. } => Err(ApiError::forbidden(
                "user management needs a login session; API tokens cannot manage users",
            )),
        }
    }

    /// The caller as the audit log records them, with the request being served.
    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user_id),
            label: self.email.clone(),
            request_id: crate::request_context::request_id(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authentication>() {
            Some(Authentication::Authenticated(user)) => Ok(user.clone()),
            Some(Authentication::Invalid(reason)) => Err(ApiError::unauthorized(*reason)),
            // The database is away: a 503 with Retry-After, like any request that needs it.
            Some(Authentication::Unavailable) => Err(ApiError::unavailable(
                "credentials cannot be checked right now; retry shortly",
            )
            .header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            )),
            _ => Err(ApiError::unauthorized(
                "send Authorization: Bearer <access token or API token>",
            )),
        }
    }
}
