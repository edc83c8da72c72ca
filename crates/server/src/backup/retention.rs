//! Retention: keep the newest backup of each of the last N days that have backups, and the
//! newest of each of the last M ISO weeks; delete the rest. Pure, so it is tested exactly.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};

/// A backup file and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub taken_at: DateTime<Utc>,
}

/// Names to delete under the policy.
pub fn to_delete(items: &[Item], keep_daily: u32, keep_weekly: u32) -> Vec<String> {
    let mut sorted: Vec<&Item> = items.iter().collect();
    sorted.sort_by(|a, b| {
        b.taken_at
            .cmp(&a.taken_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    let mut days = Vec::new();
    let mut weeks = Vec::new();
    for item in &sorted {
        let day = item.taken_at.date_naive();
        if !days.contains(&day) && days.len() < keep_daily as usize {
            days.push(day);
            keep.insert(&item.name);
        }
        let week = (
            item.taken_at.iso_week().year(),
            item.taken_at.iso_week().week(),
        );
        if !weeks.contains(&week) && weeks.len() < keep_weekly as usize {
            weeks.push(week);
            keep.insert(&item.name);
        }
    }
    let mut delete: Vec<String> = sorted
        .iter()
        .filter(|i| !keep.contains(i.name.as_str()))
        .map(|i| i.name.clone())
        .collect();
    delete.sort();
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> Item {
        Item {
            name: format!("b-{y}{m:02}{d:02}{h:02}"),
            taken_at: Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap(),
        }
    }

    #[test]
    fn keeps_newest_per_day_and_per_week_exactly() {
        // Three weeks of backups, two a day (03:00 and 15:00). 2026-11-23 is a Monday.
        let mut items = Vec::new();
        for day in 2..=22 {
            items.push(at(2026, 11, day, 3));
            items.push(at(2026, 11, day, 15));
        }
        let delete = to_delete(&items, 3, 2);
        let kept: Vec<String> = items
            .iter()
            .map(|i| i.name.clone())
            .filter(|n| !delete.contains(n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Daily: newest of 22, 21, 20. Weekly: newest of week 47 (16–22) is the 22nd (already
        // kept), newest of week 46 (9–15) is the 15th at 15:00.
        assert_eq!(
            kept,
            vec![
                "b-2026111515",
                "b-2026112015",
                "b-2026112115",
                "b-2026112215"
            ]
        );
        assert_eq!(delete.len(), items.len() - 4);
    }

    #[test]
    fn zero_policy_deletes_everything_and_empty_input_is_fine() {
        assert!(to_delete(&[], 7, 4).is_empty());
        let items = vec![at(2026, 1, 1, 0)];
        assert_eq!(to_delete(&items, 0, 0), vec!["b-2026010100".to_owned()]);
        assert!(to_delete(&items, 1, 0).is_empty());
    }
}
