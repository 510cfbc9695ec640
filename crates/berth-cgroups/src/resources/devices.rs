//! Device access rules (`linux.resources.devices`) and runc's fixed allow list.

use berth_spec::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use crate::CgroupError;

/// One validated device cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a` (all), `b` (block) or `c` (char).
    pub kind: char,
    /// `None` is the wildcard `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `rwm`, in the spec's order.
    pub access: String,
}

impl DeviceRule {
    /// The rule as v1's `devices.allow` / `devices.deny` take it: `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }

    /// The v1 file the rule goes to.
    pub fn v1_file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }
}

/// Validates rule `index` of `linux.resources.devices` as runc does: type
/// `a`/`b`/`c` (absent: `a`), major/minor absent or -1 for `*`, access
/// non-empty. As runc, the access is the set of `r`, `w`, `m` it holds, in
/// any order and repeated or not; other letters (`rwa`) do not count. One
/// holding none of the three is refused (runc 1.1.5 fails later on it).
pub fn device_rule(index: usize, rule: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
    let field = format!("linux.resources.devices[{index}]");
    let kind = match rule.typ.unwrap_or(LinuxDeviceType::All) {
        LinuxDeviceType::All => 'a',
        LinuxDeviceType::Block => 'b',
        LinuxDeviceType::Char => 'c',
        other => {
            return Err(CgroupError::invalid(
                &field,
                format!(
                    "type {:?} (a device cgroup rule takes a, b or c)",
                    other.as_str()
                ),
            ))
        }
    };
    if rule.access.is_empty() {
        return Err(CgroupError::invalid(
            &field,
            format!("device access at {index} field cannot be empty"),
        ));
    }
    let access: String = "rwm".chars().filter(|c| rule.access.contains(*c)).collect();
    if access.is_empty() {
        return Err(CgroupError::invalid(
            &field,
            format!("access {:?} (expected some of \"rwm\")", rule.access),
        ));
    }
    let wildcard = |n: Option<i64>| n.filter(|n| *n >= 0);
    Ok(DeviceRule {
        allow: rule.allow,
        kind,
        major: wildcard(rule.major),
        minor: wildcard(rule.minor),
        access,
    })
}

/// An allow rule; `None` major/minor is the wildcard.
fn allow_rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    LinuxDeviceCgroup {
        allow: true,
        typ: Some(typ),
        major,
        minor,
        access: access.to_string(),
    }
}

/// runc's fixed allow list: (device path it stands for, if any; rule).
fn runc_allowed_devices() -> Vec<(Option<&'static str>, LinuxDeviceCgroup)> {
    let (b, c) = (LinuxDeviceType::Block, LinuxDeviceType::Char);
    vec![
        (None, allow_rule(c, None, None, "m")),
        (None, allow_rule(b, None, None, "m")),
        (Some("/dev/null"), allow_rule(c, Some(1), Some(3), "rwm")),
        (Some("/dev/random"), allow_rule(c, Some(1), Some(8), "rwm")),
        (Some("/dev/full"), allow_rule(c, Some(1), Some(7), "rwm")),
        (Some("/dev/tty"), allow_rule(c, Some(5), Some(0), "rwm")),
        (Some("/dev/zero"), allow_rule(c, Some(1), Some(5), "rwm")),
        (Some("/dev/urandom"), allow_rule(c, Some(1), Some(9), "rwm")),
        (None, allow_rule(c, Some(136), None, "rwm")), // /dev/pts/*
        (None, allow_rule(c, Some(5), Some(2), "rwm")), // /dev/ptmx
        (None, allow_rule(c, Some(10), Some(200), "rwm")), // /dev/net/tun
    ]
}

/// The device rules runc 1.1 enforces for a spec: `linux.resources.devices` in
/// order, then runc's fixed allow list (mknod of anything; `/dev/null`, `zero`,
/// `full`, `random`, `urandom`, `tty`, `ptmx`, `pts/*`, `net/tun`), less the
/// entries whose path the spec's `linux.devices` redefines. Pass the result as
/// `linux.resources.devices` to [`crate::Cgroup::apply_resources`] at create
/// time to match runc.
pub fn runc_device_rules(
    spec_rules: &[LinuxDeviceCgroup],
    linux_devices: &[LinuxDevice],
) -> Vec<LinuxDeviceCgroup> {
    let redefined = |path: &str| linux_devices.iter().any(|d| d.path.as_os_str() == path);
    let defaults = runc_allowed_devices()
        .into_iter()
        .filter(|(path, _)| !path.is_some_and(redefined))
        .map(|(_, rule)| rule);
    spec_rules.iter().cloned().chain(defaults).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> LinuxDeviceCgroup {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn v1_lines() {
        let deny_all = device_rule(0, &rule(r#"{"allow":false,"access":"rwm"}"#)).unwrap();
        assert_eq!(
            (deny_all.v1_file(), deny_all.v1_line().as_str()),
            ("devices.deny", "a *:* rwm")
        );
        let null = device_rule(
            1,
            &rule(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#),
        )
        .unwrap();
        assert_eq!(
            (null.v1_file(), null.v1_line().as_str()),
            ("devices.allow", "c 1:3 rw")
        );
        let pts = device_rule(
            2,
            &rule(r#"{"allow":true,"type":"c","major":136,"minor":-1,"access":"rwm"}"#),
        )
        .unwrap();
        assert_eq!(pts.v1_line(), "c 136:* rwm");
    }

    #[test]
    fn access_is_the_set_of_r_w_m_it_holds() {
        for (given, kept) in [("rwa", "rw"), ("mrw", "rwm"), ("wwr", "rw"), ("mx", "m")] {
            let json = format!(r#"{{"allow":true,"access":"{given}"}}"#);
            assert_eq!(
                device_rule(0, &rule(&json)).unwrap().access,
                kept,
                "{given}"
            );
        }
    }

    #[test]
    fn invalid_rules_name_their_index() {
        let err =
            device_rule(3, &rule(r#"{"allow":true,"type":"c","major":1,"minor":3}"#)).unwrap_err();
        assert!(
            err.to_string().contains("linux.resources.devices[3]"),
            "{err}"
        );
        assert!(device_rule(0, &rule(r#"{"allow":true,"access":"xa"}"#)).is_err());
        assert!(device_rule(0, &rule(r#"{"allow":true,"access":""}"#)).is_err());
        assert!(device_rule(0, &rule(r#"{"allow":true,"type":"p","access":"r"}"#)).is_err());
    }

    #[test]
    fn runc_rules_follow_the_spec_rules_and_yield_to_spec_devices() {
        let spec = [rule(r#"{"allow":false,"access":"rwm"}"#)];
        let all = runc_device_rules(&spec, &[]);
        assert_eq!(all.len(), 12);
        assert_eq!(all[0], spec[0]);
        assert_eq!(device_rule(3, &all[3]).unwrap().v1_line(), "c 1:3 rwm");
        let null: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/null","type":"c","major":1,"minor":3}"#).unwrap();
        let fewer = runc_device_rules(&spec, &[null]);
        assert_eq!(fewer.len(), 11);
        assert!(fewer
            .iter()
            .all(|r| r.major != Some(1) || r.minor != Some(3)));
    }
}
