//! SharePoint's resource-unit budget (GRAPH.md 12.2): each app has a budget of resource units per minute;
//! requests cost 1 (single item, delta with a token, download), 2 (listings, delta without a token, writes)
//! or 5 (permissions). From 80 % of the budget, responses carry `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset`; past 100 % requests get 429 with `Retry-After` until the minute is over. Throttled
//! requests still count. Off unless the seed or the `rate_limit` knob sets a budget.

use std::collections::HashMap;

use axum::http::Method;
use time::OffsetDateTime;

use super::server::{ItemAction, Route};

#[derive(Debug, Default)]
pub struct Budget {
    pub per_minute: Option<u32>,
    /// client id -> (minute number, units used in it)
    used: HashMap<String, (i64, u32)>,
}

/// What the budget says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; `Some` carries (limit, remaining, reset seconds) for the `RateLimit-*` headers.
    Allow(Option<(u32, u32, i64)>),
    /// Refuse with 429 and this `Retry-After`.
    Throttle(u64),
}

/// The resource units a request costs.
pub fn cost(method: &Method, route: &Route, has_token: bool) -> u32 {
    if *method != Method::GET {
        return 2;
    }
    match route {
        Route::Item(_, ItemAction::Permissions) => 5,
        Route::Item(_, ItemAction::Delta(token)) => {
            if token.is_some() || has_token {
                1
            } else {
                2
            }
        }
        Route::Item(_, ItemAction::Children | ItemAction::Versions)
        | Route::SiteSearch
        | Route::SiteDrives(_)
        | Route::SiteLists(_)
        | Route::ListColumns(..)
        | Route::Users
        | Route::Groups => 2,
        _ => 1,
    }
}

impl Budget {
    pub fn new(per_minute: Option<u32>) -> Self {
        Self { per_minute, used: HashMap::new() }
    }

    pub fn charge(&mut self, client: &str, units: u32, now: OffsetDateTime) -> Verdict {
        let Some(limit) = self.per_minute else { return Verdict::Allow(None) };
        let minute = now.unix_timestamp().div_euclid(60);
        let reset = 60 - now.unix_timestamp().rem_euclid(60);
        let entry = self.used.entry(client.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        let before = entry.1;
        entry.1 = entry.1.saturating_add(units);
        if before >= limit || entry.1 > limit {
            return Verdict::Throttle(reset as u64);
        }
        if u64::from(entry.1) * 10 >= u64::from(limit) * 8 {
            return Verdict::Allow(Some((limit, limit - entry.1, reset)));
        }
        Verdict::Allow(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_from_eighty_percent_then_429_until_the_minute_ends() {
        let mut budget = Budget::new(Some(10));
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(15);
        for _ in 0..7 {
            assert_eq!(budget.charge("app", 1, t), Verdict::Allow(None));
        }
        assert_eq!(budget.charge("app", 1, t), Verdict::Allow(Some((10, 2, 45))));
        assert_eq!(budget.charge("app", 2, t), Verdict::Allow(Some((10, 0, 45))));
        assert_eq!(budget.charge("app", 1, t), Verdict::Throttle(45));
        assert_eq!(budget.charge("other", 1, t), Verdict::Allow(None));
        assert_eq!(budget.charge("app", 1, t + time::Duration::seconds(45)), Verdict::Allow(None));
    }
}
