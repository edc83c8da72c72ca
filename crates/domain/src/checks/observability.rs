//! Parameters of the kinds that ask the monitoring stack (Prometheus, Alertmanager, Loki,
//! Grafana) rather than the service itself.

use serde::{Deserialize, Serialize};

use super::CheckError;
use super::condition::ValueCondition;
use super::kinds::Kind;
use super::params::{self, Emitter, Params, missing, problem, within};
use super::timespan::{TimeSpan, TimeUnit};

/// Declares a kind made of optional names and lists with a minimum count (Prometheus & co).
macro_rules! named_kind {
    ($(#[$meta:meta])* $name:ident {
        $(opt $(#[$ometa:meta])* $ofield:ident,)*
        $(list $(#[$lmeta:meta])* $lfield:ident,)*
        $(count $(#[$nmeta:meta])* $nfield:ident = $ndefault:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $($(#[$ometa])* pub $ofield: Option<String>,)*
            $($(#[$lmeta])* pub $lfield: Vec<String>,)*
            $($(#[$nmeta])* pub $nfield: u32,)*
            /// Per-check timeout (`timeout=30s`); without it the engine default applies.
            pub timeout: Option<TimeSpan>,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($ofield: None,)*
                    $($lfield: Vec::new(),)*
                    $($nfield: $ndefault,)*
                    timeout: None,
                }
            }
        }

        impl Kind for $name {
            const PARAMS: &'static [&'static str] =
                &[$(stringify!($ofield),)* $(stringify!($lfield),)* $(stringify!($nfield),)*];

            fn read(p: &Params<'_>) -> Result<Self, CheckError> {
                Ok(Self {
                    $($ofield: p.string(stringify!($ofield))?,)*
                    $($lfield: p.list(stringify!($lfield)),)*
                    $($nfield: p
                        .parsed(stringify!($nfield), "a whole number")?
                        .unwrap_or($ndefault),)*
                    timeout: None,
                })
            }

            fn write(&self, e: &mut Emitter) {
                $(e.push_opt(stringify!($ofield), self.$ofield.as_ref());)*
                $(e.push_list(stringify!($lfield), &self.$lfield);)*
                $(e.push_unless(stringify!($nfield), &self.$nfield, &$ndefault);)*
            }

            fn validated(self) -> Result<Self, CheckError> {
                $(if let Some(value) = &self.$ofield {
                    params::text(stringify!($ofield), value)?;
                })*
                $(for value in &self.$lfield {
                    params::name(stringify!($lfield), value)?;
                })*
                $(within(stringify!($nfield), self.$nfield, 1, 10_000)?;)*
                WholeCheck::check_whole(self)
            }
        }
    };
}

named_kind!(
    /// `prometheus_target`: Prometheus scrapes the service and its target is `up`.
    PrometheusTargetCheck {
        opt
        /// Scrape job; defaults to the service's configured job.
        job,
    }
);

named_kind!(
    /// `prometheus_rules`: alerting rules for the service are loaded.
    PrometheusRulesCheck {
        list
        /// Alert names that must be loaded.
        alerts,
        count
        /// Fewest alerting rules for the service.
        min_rules = 1,
    }
);

named_kind!(
    /// `alertmanager_receivers`: the service's alerts route to real receivers.
    AlertmanagerReceiversCheck {
        list
        /// Receiver names that must exist.
        receivers,
        count
        /// Fewest receivers with at least one integration.
        min_receivers = 1,
    }
);

named_kind!(
    /// `grafana_dashboard`: Grafana has the dashboard: by uid, by exact title, or (with
    /// neither) one whose title contains the service's name.
    GrafanaDashboardCheck {
        opt
        /// Dashboard title.
        title,
        opt
        /// Dashboard uid.
        uid,
    }
);

/// Rules spanning several fields, which the field-by-field macro cannot express.
trait WholeCheck: Sized {
    fn check_whole(self) -> Result<Self, CheckError> {
        Ok(self)
    }
}

impl WholeCheck for PrometheusTargetCheck {}
impl WholeCheck for PrometheusRulesCheck {}
impl WholeCheck for AlertmanagerReceiversCheck {}

/// Neither `title` nor `uid` is valid: it means "the service's dashboard", one whose title
/// contains the service's name (so a template can carry the check for every service).
impl WholeCheck for GrafanaDashboardCheck {}

/// `promql`: a PromQL query returns samples, all meeting `condition` when given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromqlCheck {
    /// The query (required), e.g. `time() - preflight_backup_last_success_timestamp_seconds`.
    pub query: String,
    /// Comparison every returned sample must meet; without it, any sample passes.
    pub condition: Option<ValueCondition>,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Kind for PromqlCheck {
    const PARAMS: &'static [&'static str] = &["query", "condition"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        Ok(Self {
            query: p.string("query")?.unwrap_or_default(),
            condition: p.single("condition")?.map(str::parse).transpose()?,
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        e.push("query", &self.query);
        e.push_opt("condition", self.condition.as_ref());
    }

    fn validated(self) -> Result<Self, CheckError> {
        if self.query.trim().is_empty() {
            return Err(missing("query"));
        }
        params::text("query", &self.query)?;
        Ok(self)
    }
}

/// `loki_logs`: Loki returns lines for the selector within the recent window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LokiLogsCheck {
    /// LogQL stream selector such as `{service="api"}`; defaults to the service's selector.
    pub selector: Option<String>,
    /// How far back to look.
    pub window: TimeSpan,
    /// Fewest lines expected in the window.
    pub min_lines: u32,
    /// Per-check timeout (`timeout=30s`); without it the engine default applies.
    pub timeout: Option<TimeSpan>,
}

impl Default for LokiLogsCheck {
    fn default() -> Self {
        Self {
            selector: None,
            window: TimeSpan::new(15, TimeUnit::M),
            min_lines: 1,
            timeout: None,
        }
    }
}

impl Kind for LokiLogsCheck {
    const PARAMS: &'static [&'static str] = &["selector", "window", "min_lines"];

    fn read(p: &Params<'_>) -> Result<Self, CheckError> {
        let d = Self::default();
        Ok(Self {
            selector: p.string("selector")?,
            window: p
                .parsed("window", "a duration such as 15m")?
                .unwrap_or(d.window),
            min_lines: p
                .parsed("min_lines", "a whole number")?
                .unwrap_or(d.min_lines),
            ..Self::default()
        })
    }

    fn write(&self, e: &mut Emitter) {
        let d = Self::default();
        e.push_opt("selector", self.selector.as_ref());
        e.push_unless("window", &self.window, &d.window);
        e.push_unless("min_lines", &self.min_lines, &d.min_lines);
    }

    fn validated(self) -> Result<Self, CheckError> {
        if let Some(selector) = &self.selector {
            params::text("selector", selector)?;
            if !(selector.starts_with('{') && selector.ends_with('}')) {
                return Err(problem(
                    "selector",
                    format!("\"{selector}\" must look like {{label=\"value\"}}"),
                ));
            }
        }
        let millis = self.window.as_millis();
        if !(60_000..=30 * 86_400_000).contains(&millis) {
            return Err(problem(
                "window",
                format!("{} must be between 1m and 30d", self.window),
            ));
        }
        within("min_lines", self.min_lines, 1, 100_000)?;
        Ok(self)
    }
}
