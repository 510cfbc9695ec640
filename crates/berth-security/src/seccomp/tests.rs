use super::*;
use serde_json::json;

fn spec(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("a LinuxSeccomp")
}

fn profile(value: serde_json::Value) -> Profile {
    Profile::from_spec(&spec(value))
        .expect("a valid profile")
        .expect("a filter")
}

fn refusal(value: serde_json::Value) -> String {
    Profile::from_spec(&spec(value))
        .expect_err("a refused profile")
        .to_string()
}

fn nr(name: &str) -> i32 {
    syscall_number(name).expect("a known syscall")
}

/// A profile of one rule with the default action ALLOW.
fn one_rule(rule: serde_json::Value) -> Profile {
    profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}))
}

#[test]
fn no_default_action_and_no_rules_is_no_filter() {
    let none = Profile::from_spec(&spec(json!({"defaultAction": ""}))).unwrap();
    assert!(none.is_none());
    let err = refusal(json!({"defaultAction": "", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}
    ]}));
    assert_eq!(err, r#"linux.seccomp.defaultAction: unknown action """#);
}

#[test]
fn errno_and_trace_return_eperm_unless_told_otherwise() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO"}));
    assert_eq!(p.default_action, ScmpAction::Errno(1));
    let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}));
    assert_eq!(p.default_action, ScmpAction::Errno(38));
    let p = profile(json!({"defaultAction": "SCMP_ACT_TRACE"}));
    assert_eq!(p.default_action, ScmpAction::Trace(1));
    let p = one_rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}));
    assert_eq!(p.rules[0].action, ScmpAction::Errno(13));
    // The kernel keeps 16 bits, as runc's int16 conversion does.
    let p = one_rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 65541}));
    assert_eq!(p.rules[0].action, ScmpAction::Errno(5));
}

#[test]
fn every_action_name_translates() {
    let cases = [
        ("SCMP_ACT_KILL", ScmpAction::KillThread),
        ("SCMP_ACT_KILL_THREAD", ScmpAction::KillThread),
        ("SCMP_ACT_KILL_PROCESS", ScmpAction::KillProcess),
        ("SCMP_ACT_TRAP", ScmpAction::Trap),
        ("SCMP_ACT_ERRNO", ScmpAction::Errno(1)),
        ("SCMP_ACT_TRACE", ScmpAction::Trace(1)),
        ("SCMP_ACT_ALLOW", ScmpAction::Allow),
        ("SCMP_ACT_LOG", ScmpAction::Log),
        ("SCMP_ACT_NOTIFY", ScmpAction::Notify),
    ];
    for (name, expected) in cases {
        assert_eq!(action("f", name, None).unwrap(), expected, "{name}");
    }
    assert_eq!(action_names().len(), cases.len());
}

#[test]
fn unknown_names_are_refused_naming_field_and_value() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            r#"linux.seccomp.defaultAction: unknown action "SCMP_ACT_BOGUS""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
                {"names": ["mkdir"], "action": "SCMP_ACT_DENY"}
            ]}),
            r#"linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_DENY""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]}),
            r#"linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NATIVE"]}),
            r#"linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_NATIVE""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
            r#"linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_BOGUS""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 1, "op": "SCMP_CMP_SIMILAR"}]}
            ]}),
            r#"linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_SIMILAR""#,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]}),
            "linux.seccomp.syscalls[0].args[0].index: 6 is not an argument index (0 to 5)",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid", ""], "action": "SCMP_ACT_ERRNO"}
            ]}),
            "linux.seccomp.syscalls[0].names[1]: empty string is not a valid syscall",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(refusal(value), expected);
    }
}

#[test]
fn known_names_translate() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]
    }));
    assert_eq!(
        p.arches,
        [
            ScmpArch::X8664,
            ScmpArch::X86,
            ScmpArch::X32,
            ScmpArch::Aarch64
        ]
    );
    assert_eq!(
        p.flags,
        [
            ("SECCOMP_FILTER_FLAG_LOG", Flag::Log),
            ("SECCOMP_FILTER_FLAG_TSYNC", Flag::Tsync)
        ]
    );
    for name in arch_names() {
        assert!(lookup(ARCHES, name).is_some());
    }
}

#[test]
fn a_rule_with_the_default_action_is_skipped() {
    let p = one_rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"}));
    assert!(p.rules.is_empty());
    // ERRNO compares with its errno: EPERM twice is the same action...
    let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    ]}));
    // ...ENOSYS is not.
    assert_eq!(p.rules.len(), 1);
    assert_eq!(p.rules[0].name, "rmdir");
    assert_eq!(p.rules[0].action, ScmpAction::Errno(38));
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let p = one_rule(json!({
        "names": ["no_such_syscall", "mkdir", "SYS_mkdir"],
        "action": "SCMP_ACT_ERRNO"
    }));
    assert_eq!(p.rules.len(), 1);
    assert_eq!(p.rules[0].syscall, nr("mkdir"));
    let p = one_rule(json!({"names": ["no_such_syscall"], "action": "SCMP_ACT_KILL"}));
    assert!(p.rules.is_empty());
}

#[test]
fn every_name_of_a_rule_becomes_a_rule_in_order() {
    let p = one_rule(json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}));
    let got: Vec<(&str, i32)> = p.rules.iter().map(|r| (&*r.name, r.syscall)).collect();
    assert_eq!(got, [("mkdir", nr("mkdir")), ("mkdirat", nr("mkdirat"))]);
}

#[test]
fn conditions_on_different_arguments_form_one_rule() {
    let p = one_rule(
        json!({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 2, "op": "SCMP_CMP_NE"}
        ]}),
    );
    assert_eq!(p.rules.len(), 1);
    assert_eq!(
        p.rules[0].conditions,
        [
            ScmpArgCompare::new(0, ScmpCompareOp::Equal, 10),
            ScmpArgCompare::new(1, ScmpCompareOp::NotEqual, 2)
        ]
    );
}

#[test]
fn conditions_on_the_same_argument_become_rules_of_their_own() {
    let p = one_rule(
        json!({"names": ["personality", "socket"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 9, "op": "SCMP_CMP_EQ"}
        ]}),
    );
    let got: Vec<(&str, usize)> = p
        .rules
        .iter()
        .map(|r| (&*r.name, r.conditions.len()))
        .collect();
    assert_eq!(
        got,
        [
            ("personality", 1),
            ("personality", 1),
            ("personality", 1),
            ("socket", 1),
            ("socket", 1),
            ("socket", 1)
        ]
    );
    assert_eq!(
        p.rules[2].conditions,
        [ScmpArgCompare::new(0, ScmpCompareOp::Equal, 9)]
    );
}

#[test]
fn masked_eq_masks_with_value_and_compares_with_value_two() {
    let p = one_rule(
        json!({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
        ]}),
    );
    assert_eq!(
        p.rules[0].conditions,
        [ScmpArgCompare::new(
            0,
            ScmpCompareOp::MaskedEqual(2114060288),
            0
        )]
    );
    for name in operator_names() {
        assert!(lookup(OPERATORS, name).is_some());
    }
}

#[test]
fn notify_needs_a_listener_and_spares_what_init_needs() {
    let base = |rule: serde_json::Value, listener: &str| json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener, "syscalls": [rule]});
    let mkdir = json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"});
    assert!(profile(base(mkdir.clone(), "/run/agent.sock")).uses_notify());
    assert_eq!(
        refusal(base(mkdir, "")),
        "linux.seccomp.listenerPath: must be set when a rule is SCMP_ACT_NOTIFY"
    );
    // A NOTIFY rule that libseccomp cannot place needs no listener.
    let unknown = json!({"names": ["no_such_syscall"], "action": "SCMP_ACT_NOTIFY"});
    assert!(!profile(base(unknown, "")).uses_notify());
    for name in ["write", "sendmsg"] {
        let rule = json!({"names": ["read", name], "action": "SCMP_ACT_NOTIFY"});
        assert_eq!(
            refusal(base(rule, "/run/agent.sock")),
            format!(
                "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the {name} syscall"
            )
        );
    }
    assert_eq!(
        refusal(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"})),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action"
    );
}

#[test]
fn a_docker_like_profile_builds() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["read", "write", "openat", "close", "execve", "exit_group",
                       "socketcall", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288u64, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
            {"names": ["getppid"], "action": "SCMP_ACT_TRAP"}
        ]
    }));
    let filter = p.build().expect("libseccomp builds it");
    assert_eq!(filter.flags, 0);
    // The -ENOSYS stub comes first: `ld arch`.
    assert_eq!((filter.program[0].code, filter.program[0].k), (0x20, 4));
    assert!(filter.len() > p.stub.len() && !p.stub.is_empty());
}

#[test]
fn no_stub_when_the_default_lets_syscalls_through() {
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let p = profile(json!({"defaultAction": default,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(p.stub.is_empty(), "{default}");
    }
    let p = profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    assert!(p.stub.is_empty());
    let p = profile(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}));
    assert!(!p.stub.is_empty());
}

#[test]
fn flags_are_set_on_the_filter() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]
    }));
    let filter = p.build().unwrap();
    // LOG; TSYNC has nothing to do in a one-thread init.
    assert_eq!(filter.flags, 1 << 1);
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert_eq!(p.build().unwrap().flags, 1 << 5 | 1 << 3 | 1 << 2);
}

#[test]
fn supported_flags_are_known_flags() {
    let known = known_flags();
    let supported = supported_flags();
    assert!(supported.iter().all(|f| known.contains(f)));
    assert!(supported.contains(&"SECCOMP_FILTER_FLAG_TSYNC"));
    assert_eq!(known.len(), 4);
}

#[test]
fn a_flag_this_kernel_lacks_is_refused_by_name() {
    let spec = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    });
    if !supported_flags().contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
        assert!(refusal(spec).starts_with(
            "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by this kernel"
        ));
    } else {
        // Without a NOTIFY rule there is no listener to wait on (libseccomp
        // leaves the flag out then too).
        assert_eq!(profile(spec).build().unwrap().flags, 0);
    }
}
