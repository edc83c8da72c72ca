//! Page-number pagination shared by list endpoints.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PER_PAGE: u64 = 200;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1).
    pub page: Option<u64>,
    /// Items per page (default 50, at most 200).
    pub per_page: Option<u64>,
}

impl PageParams {
    /// (page, per_page) after validation.
    pub fn resolve(self) -> Result<(u64, u64), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if page == 0 {
            return Err(ApiError::validation("invalid pagination").field("page", "must be ≥ 1"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::validation("invalid pagination")
                .field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok((page, per_page))
    }
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}
