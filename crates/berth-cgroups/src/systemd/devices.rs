//! `DevicePolicy` and `DeviceAllow` for the container's device rules. The
//! rules themselves are enforced by berth's own device program (v2) or
//! `devices.*` files (v1), as with the cgroupfs driver; systemd's list only
//! has to be at least as open, because systemd re-applies it (on a reload, on
//! `update`) and then both must allow an access. Where its allow-list form
//! cannot say exactly what the rules say, it errs towards allowing.

use std::fs;

use super::dbus::Value;
use crate::resources::DeviceRule;

/// The properties for `rules`, applied in order over "deny all": `strict`
/// with the allowed devices, or `auto` with no list when the rules end up
/// allowing everything or deny only some devices (a deny list, which
/// systemd cannot express). `DeviceAllow=[]` comes first: systemd appends
/// to the list, the empty one resets it (runc does the same).
pub(crate) fn device_properties(rules: &[DeviceRule]) -> Vec<(&'static str, Value)> {
    let allowed = allow_list(rules);
    let (policy, entries) = match allowed {
        Some(list) => (
            "strict",
            list.iter().flat_map(allow_entries).collect::<Vec<_>>(),
        ),
        None => ("auto", Vec::new()),
    };
    let mut props = vec![
        ("DevicePolicy", Value::Str(policy.to_string())),
        ("DeviceAllow", Value::StrPairs(Vec::new())),
    ];
    if !entries.is_empty() {
        props.push(("DeviceAllow", Value::StrPairs(entries)));
    }
    props
}

fn is_all(rule: &DeviceRule) -> bool {
    rule.kind == 'a' && rule.major.is_none() && rule.minor.is_none()
}

/// The allow rules in effect when the rules deny by default; `None` when
/// they allow by default (everything, or all but some devices).
fn allow_list(rules: &[DeviceRule]) -> Option<Vec<DeviceRule>> {
    let mut allow_by_default = false;
    let mut allowed: Vec<DeviceRule> = Vec::new();
    for rule in rules {
        if is_all(rule) && rule.access.len() == 3 {
            allow_by_default = rule.allow;
            allowed.clear();
        } else if allow_by_default {
            continue; // a deny list: systemd's list stays open
        } else if rule.allow {
            allowed.push(rule.clone());
        } else {
            revoke(&mut allowed, rule);
        }
    }
    (!allow_by_default).then_some(allowed)
}

/// Takes `deny`'s access away from allow rules for exactly the same
/// devices (a broader or narrower deny leaves the list open).
fn revoke(allowed: &mut Vec<DeviceRule>, deny: &DeviceRule) {
    for rule in allowed.iter_mut() {
        let same = (rule.kind, rule.major, rule.minor) == (deny.kind, deny.major, deny.minor);
        if same {
            rule.access.retain(|c| !deny.access.contains(c));
        }
    }
    allowed.retain(|r| !r.access.is_empty());
}

/// systemd's names for a rule's devices: `/dev/char/1:3`, `char-pts` (a
/// major from /proc/devices), `char-*`; type `a` gives both kinds.
fn allow_entries(rule: &DeviceRule) -> Vec<(String, String)> {
    let kinds: &[(&str, &str)] = match rule.kind {
        'b' => &[("block", "Block devices:")],
        'c' => &[("char", "Character devices:")],
        _ => &[("char", "Character devices:"), ("block", "Block devices:")],
    };
    kinds
        .iter()
        .map(|(kind, section)| {
            let path = match (rule.major, rule.minor) {
                (Some(major), Some(minor)) => format!("/dev/{kind}/{major}:{minor}"),
                (Some(major), None) => device_group(section, major)
                    .map_or_else(|| format!("{kind}-*"), |name| format!("{kind}-{name}")),
                // systemd has no "any major, this minor": allow the kind
                (None, _) => format!("{kind}-*"),
            };
            (path, rule.access.clone())
        })
        .collect()
}

/// The driver name of `major` in /proc/devices' `section`.
fn device_group(section: &str, major: i64) -> Option<String> {
    let text = fs::read_to_string("/proc/devices").ok()?;
    group_in(&text, section, major)
}

fn group_in(proc_devices: &str, section: &str, major: i64) -> Option<String> {
    let mut in_section = false;
    for line in proc_devices.lines().map(str::trim) {
        if line.ends_with(':') {
            in_section = line == section;
            continue;
        }
        let mut parts = line.split_whitespace();
        let number = parts.next().and_then(|n| n.parse::<i64>().ok());
        if in_section && number == Some(major) {
            return parts.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    fn allow(props: &[(&'static str, Value)]) -> Vec<(String, String)> {
        match props.last() {
            Some(("DeviceAllow", Value::StrPairs(list))) => list.clone(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_default_rules_are_a_strict_allow_list() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', None, None, "m"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(10), Some(200), "rwm"),
        ];
        let props = device_properties(&rules);
        assert_eq!(props[0], ("DevicePolicy", Value::Str("strict".into())));
        assert_eq!(props[1], ("DeviceAllow", Value::StrPairs(Vec::new())));
        let list = allow(&props);
        assert_eq!(
            list,
            [
                ("char-*".to_string(), "m".to_string()),
                ("/dev/char/1:3".into(), "rwm".into()),
                ("/dev/char/10:200".into(), "rwm".into()),
            ]
        );
    }

    #[test]
    fn allow_all_or_a_deny_list_leaves_systemd_open() {
        let all = [rule(true, 'a', None, None, "rwm")];
        let props = device_properties(&all);
        assert_eq!(props[0], ("DevicePolicy", Value::Str("auto".into())));
        assert_eq!(props.len(), 2);
        let deny_one = [
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'c', Some(1), Some(3), "rwm"),
        ];
        assert_eq!(
            device_properties(&deny_one)[0],
            ("DevicePolicy", Value::Str("auto".into()))
        );
    }

    #[test]
    fn a_later_deny_takes_access_away() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(1), Some(5), "rwm"),
            rule(false, 'c', Some(1), Some(3), "w"),
            rule(false, 'c', Some(1), Some(5), "rwm"),
        ];
        assert_eq!(
            allow(&device_properties(&rules)),
            [("/dev/char/1:3".to_string(), "rm".to_string())]
        );
    }

    #[test]
    fn majors_are_named_from_proc_devices() {
        let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(
            group_in(text, "Character devices:", 136).as_deref(),
            Some("pts")
        );
        assert_eq!(group_in(text, "Block devices:", 8).as_deref(), Some("sd"));
        assert_eq!(group_in(text, "Block devices:", 136), None);
        let any = rule(true, 'a', None, Some(3), "r");
        assert_eq!(
            allow_entries(&any),
            [
                ("char-*".to_string(), "r".to_string()),
                ("block-*".into(), "r".into())
            ]
        );
    }
}
