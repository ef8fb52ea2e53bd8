//! Each SecLang construct, with the exact AST it must give.
#![allow(clippy::unwrap_used)]

use gatehouse_waf::parse::{
    parse_str, Action, Directive, EngineMode, IdRange, Operator, Rule, Selector, Source, Variable,
};

fn var(name: &str) -> Variable {
    Variable {
        name: name.to_string(),
        selector: None,
        count: false,
        exclude: false,
    }
}

fn sel(name: &str, selector: &str) -> Variable {
    Variable {
        selector: Some(Selector::Name(selector.to_string())),
        ..var(name)
    }
}

fn rx_sel(name: &str, pattern: &str) -> Variable {
    Variable {
        selector: Some(Selector::Regex(pattern.to_string())),
        ..var(name)
    }
}

fn op(name: &str, negated: bool, argument: &str) -> Operator {
    Operator {
        name: name.to_string(),
        negated,
        argument: argument.to_string(),
    }
}

fn act(name: &str, value: Option<&str>) -> Action {
    Action::new(name, value)
}

fn src(line: usize) -> Source {
    Source {
        file: "t.conf".to_string(),
        line,
    }
}

fn rule(variables: Vec<Variable>, operator: Operator, actions: Vec<Action>, line: usize) -> Rule {
    Rule {
        variables,
        operator,
        actions,
        chained: Vec::new(),
        source: src(line),
    }
}

fn parse(text: &str) -> Vec<Directive> {
    match parse_str(text, "t.conf") {
        Ok(d) => d,
        Err(errors) => panic!("{errors:#?}"),
    }
}

fn only_rule(text: &str) -> Rule {
    match parse(text).as_slice() {
        [Directive::Rule(r)] => r.clone(),
        other => panic!("expected one rule, got {other:#?}"),
    }
}

#[test]
fn seed_custom_rules() {
    let text = r#"SecRule ARGS "@detectSQLi" \
    "id:1000,phase:2,deny,status:403,msg:'SQL Injection detected'"
SecRule ARGS "@detectXSS" \
    "id:1001,phase:2,deny,status:403,msg:'XSS detected'"
SecRule REQUEST_URI "@contains /admin" \
    "id:1002,phase:1,deny,status:403,chain"
SecRule REMOTE_ADDR "!@ipMatch 10.0.0.0/8"
SecRule IP:LOGIN_ATTEMPT "@gt 5" \
    "id:1003,phase:1,deny,status:429,msg:'Brute force detected'"
"#;
    let block = |id: &str, phase: &str, status: &str| {
        vec![
            act("id", Some(id)),
            act("phase", Some(phase)),
            act("deny", None),
            act("status", Some(status)),
        ]
    };
    let with_msg = |mut v: Vec<Action>, msg: &str| {
        v.push(act("msg", Some(msg)));
        v
    };
    let mut admin = rule(
        vec![var("REQUEST_URI")],
        op("contains", false, "/admin"),
        [block("1002", "1", "403"), vec![act("chain", None)]].concat(),
        5,
    );
    admin.chained.push(rule(
        vec![var("REMOTE_ADDR")],
        op("ipMatch", true, "10.0.0.0/8"),
        vec![],
        7,
    ));
    let expected = vec![
        Directive::Rule(rule(
            vec![var("ARGS")],
            op("detectSQLi", false, ""),
            with_msg(block("1000", "2", "403"), "SQL Injection detected"),
            1,
        )),
        Directive::Rule(rule(
            vec![var("ARGS")],
            op("detectXSS", false, ""),
            with_msg(block("1001", "2", "403"), "XSS detected"),
            3,
        )),
        Directive::Rule(admin),
        Directive::Rule(rule(
            vec![sel("IP", "LOGIN_ATTEMPT")],
            op("gt", false, "5"),
            with_msg(block("1003", "1", "429"), "Brute force detected"),
            8,
        )),
    ];
    assert_eq!(parse(text), expected);
}

#[test]
fn escaped_double_quote_keeps_the_regex() {
    let r = only_rule(r#"SecRule ARGS "@rx ^(?:\"|')\x5c\d" "id:1""#);
    assert_eq!(r.operator, op("rx", false, r#"^(?:"|')\x5c\d"#));
}

#[test]
fn escaped_quotes_in_actions() {
    let r = only_rule(
        r#"SecRule ARGS "@rx a" "id:1,msg:'the \"magic\" number, it\'s',logdata:'%{MATCHED_VAR}'""#,
    );
    assert_eq!(r.action("msg"), Some(r#"the "magic" number, it's"#));
    assert_eq!(r.action("logdata"), Some("%{MATCHED_VAR}"));
}

#[test]
fn continuation_keeps_next_line_spaces_inside_quotes() {
    let text = "SecAction \\\n  \"id:5,\\\n  pass,\\\nmsg:'a \\\n  b'\"";
    let d = parse(text);
    let expected = Directive::Action(Rule {
        variables: vec![],
        operator: Operator::unconditional(),
        actions: vec![
            act("id", Some("5")),
            act("pass", None),
            act("msg", Some("a   b")),
        ],
        chained: vec![],
        source: src(1),
    });
    assert_eq!(d, vec![expected]);
}

#[test]
fn operator_forms() {
    let cases = [
        (r#""^foo$""#, op("rx", false, "^foo$")),
        (r#""!^foo$""#, op("rx", true, "^foo$")),
        ("@detectSQLi", op("detectSQLi", false, "")),
        (
            r#""@pmFromFile lfi-os-files.data""#,
            op("pmFromFile", false, "lfi-os-files.data"),
        ),
        (r#""@PM a b c""#, op("pm", false, "a b c")),
        (
            r#""!@within %{tx.allowed_methods}""#,
            op("within", true, "%{tx.allowed_methods}"),
        ),
        (
            r#""@unconditionalMatch""#,
            op("unconditionalMatch", false, ""),
        ),
        (
            r#""@validateByteRange 1-255""#,
            op("validateByteRange", false, "1-255"),
        ),
    ];
    for (written, expected) in cases {
        let r = only_rule(&format!("SecRule ARGS {written} \"id:1\""));
        assert_eq!(r.operator, expected, "{written}");
    }
}

#[test]
fn variables_selectors_negation_counting() {
    let r = only_rule(
        r#"SecRule REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS:id|args:'/^id_/'|ARGS:'a b'|XML:/*|XML://@*|TX:/MULTIPART_HEADERS_*/|!ARGS:/^(a|b)$/ "@rx x" "id:1""#,
    );
    assert_eq!(
        r.variables,
        vec![
            var("REQUEST_COOKIES"),
            Variable {
                exclude: true,
                ..rx_sel("REQUEST_COOKIES", "__utm")
            },
            Variable {
                count: true,
                ..sel("ARGS", "id")
            },
            rx_sel("ARGS", "^id_"),
            sel("ARGS", "a b"),
            sel("XML", "/*"),
            sel("XML", "//@*"),
            rx_sel("TX", "MULTIPART_HEADERS_*"),
            Variable {
                exclude: true,
                ..rx_sel("ARGS", "^(a|b)$")
            },
        ]
    );
}

#[test]
fn quoted_variable_list() {
    let r =
        only_rule(r#"SecRule "REQUEST_HEADERS:User-Agent|REQUEST_HEADERS:Referer" "@rx x" "id:1""#);
    assert_eq!(
        r.variables,
        vec![
            sel("REQUEST_HEADERS", "User-Agent"),
            sel("REQUEST_HEADERS", "Referer")
        ]
    );
}

#[test]
fn action_values() {
    let r = only_rule(
        "SecRule ARGS \"@rx x\" \"id:'10',phase:request,t:none,t:urlDecodeUni,\
         setvar:'tx.anomaly_score_pl1=+%{tx.critical_anomaly_score}',setvar:tx.a=1,setvar:!tx.b,\
         ctl:ruleRemoveTargetById=920450;REQUEST_HEADERS:foo,tag:'a,b',severity:'CRITICAL',\
         skipAfter:END,capture,multiMatch,expirevar:ip.x=60\"",
    );
    assert_eq!(
        r.actions,
        vec![
            act("id", Some("10")),
            act("phase", Some("2")),
            act("t", Some("none")),
            act("t", Some("urlDecodeUni")),
            act(
                "setvar",
                Some("tx.anomaly_score_pl1=+%{tx.critical_anomaly_score}")
            ),
            act("setvar", Some("tx.a=1")),
            act("setvar", Some("!tx.b")),
            act(
                "ctl",
                Some("ruleRemoveTargetById=920450;REQUEST_HEADERS:foo")
            ),
            act("tag", Some("a,b")),
            act("severity", Some("CRITICAL")),
            act("skipAfter", Some("END")),
            act("capture", None),
            act("multiMatch", None),
            act("expirevar", Some("ip.x=60")),
        ]
    );
    assert_eq!(r.id(), Some(10));
}

#[test]
fn phase_names() {
    for (written, digit) in [
        ("request", "2"),
        ("RESPONSE", "4"),
        ("logging", "5"),
        ("3", "3"),
    ] {
        let r = only_rule(&format!("SecRule ARGS x \"id:1,phase:{written}\""));
        assert_eq!(r.action("phase"), Some(digit));
    }
}

#[test]
fn chain_of_three() {
    let text = r#"
SecRule REQUEST_METHOD "@streq POST" "id:20,phase:2,deny,chain"
    SecRule &REQUEST_HEADERS:Content-Type "@eq 0" "t:none,chain"
        SecRule REQUEST_URI "!@beginsWith /api" "setvar:tx.x=1"
SecMarker AFTER
"#;
    let mut starter = rule(
        vec![var("REQUEST_METHOD")],
        op("streq", false, "POST"),
        vec![
            act("id", Some("20")),
            act("phase", Some("2")),
            act("deny", None),
            act("chain", None),
        ],
        2,
    );
    starter.chained = vec![
        rule(
            vec![Variable {
                count: true,
                ..sel("REQUEST_HEADERS", "Content-Type")
            }],
            op("eq", false, "0"),
            vec![act("t", Some("none")), act("chain", None)],
            3,
        ),
        rule(
            vec![var("REQUEST_URI")],
            op("beginsWith", true, "/api"),
            vec![act("setvar", Some("tx.x=1"))],
            4,
        ),
    ];
    assert_eq!(
        parse(text),
        vec![
            Directive::Rule(starter),
            Directive::Marker("AFTER".to_string())
        ]
    );
}

#[test]
fn other_directives() {
    let text = r#"
# comment
secruleengine DetectionOnly
SecRuleEngine on
SecMarker "END-X"
SecMarker BEGIN
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,deny,status:403"
SecRuleRemoveById 1 2 100-200
SecRuleRemoveById "300,400-401"
SecRuleRemoveByTag "attack-sqli"
SecRuleRemoveByMsg FAIL
SecRuleUpdateTargetById 920450 "!REQUEST_HEADERS:foo"
SecRuleUpdateTargetById 1-3 "!ARGS:/^x/|!ARGS:y" "ARGS:z"
SecRuleUpdateTargetByTag "attack-xss" "!ARGS:q,!ARGS:r"
SecRuleUpdateTargetByMsg "bad" "!ARGS:q"
SecRuleUpdateActionById 1234 "t:none,pass"
SecComponentSignature "OWASP_CRS/4.28.0"
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyLimitAction Reject
SecResponseBodyMimeType text/plain text/html
SecArgumentSeparator &
SecAuditLog /var/log/modsec_audit.log
SecAuditLogParts ABIJDEFHZ
SecDebugLogLevel 0
"#;
    let ids = |v: &[(u64, u64)]| {
        v.iter()
            .map(|&(start, end)| IdRange { start, end })
            .collect::<Vec<_>>()
    };
    let excl = |v: Variable| Variable { exclude: true, ..v };
    let expected = vec![
        Directive::RuleEngine(EngineMode::DetectionOnly),
        Directive::RuleEngine(EngineMode::On),
        Directive::Marker("END-X".to_string()),
        Directive::Marker("BEGIN".to_string()),
        Directive::DefaultAction(vec![
            act("phase", Some("1")),
            act("log", None),
            act("auditlog", None),
            act("pass", None),
        ]),
        Directive::DefaultAction(vec![
            act("phase", Some("2")),
            act("log", None),
            act("deny", None),
            act("status", Some("403")),
        ]),
        Directive::RemoveById(ids(&[(1, 1), (2, 2), (100, 200)])),
        Directive::RemoveById(ids(&[(300, 300), (400, 401)])),
        Directive::RemoveByTag("attack-sqli".to_string()),
        Directive::RemoveByMsg("FAIL".to_string()),
        Directive::UpdateTargetById {
            ids: ids(&[(920450, 920450)]),
            targets: vec![excl(sel("REQUEST_HEADERS", "foo"))],
            replaced: None,
        },
        Directive::UpdateTargetById {
            ids: ids(&[(1, 3)]),
            targets: vec![excl(rx_sel("ARGS", "^x")), excl(sel("ARGS", "y"))],
            replaced: Some("ARGS:z".to_string()),
        },
        Directive::UpdateTargetByTag {
            tag: "attack-xss".to_string(),
            targets: vec![excl(sel("ARGS", "q")), excl(sel("ARGS", "r"))],
        },
        Directive::UpdateTargetByMsg {
            msg: "bad".to_string(),
            targets: vec![excl(sel("ARGS", "q"))],
        },
        Directive::UpdateActionById {
            id: 1234,
            actions: vec![act("t", Some("none")), act("pass", None)],
        },
        Directive::ComponentSignature("OWASP_CRS/4.28.0".to_string()),
        Directive::Setting {
            name: "SecRequestBodyAccess".to_string(),
            args: vec!["On".to_string()],
        },
        Directive::Setting {
            name: "SecRequestBodyLimit".to_string(),
            args: vec!["13107200".to_string()],
        },
        Directive::Setting {
            name: "SecRequestBodyLimitAction".to_string(),
            args: vec!["Reject".to_string()],
        },
        Directive::Setting {
            name: "SecResponseBodyMimeType".to_string(),
            args: vec!["text/plain".to_string(), "text/html".to_string()],
        },
        Directive::Setting {
            name: "SecArgumentSeparator".to_string(),
            args: vec!["&".to_string()],
        },
        Directive::Ignored {
            name: "SecAuditLog".to_string(),
        },
        Directive::Ignored {
            name: "SecAuditLogParts".to_string(),
        },
        Directive::Ignored {
            name: "SecDebugLogLevel".to_string(),
        },
    ];
    assert_eq!(parse(text), expected);
}

#[test]
fn sec_action_and_crlf_and_comments() {
    let text = "# SecRule ARGS \"@rx a\" \\\r\n#   \"id:9\"\r\n  \r\nSecAction \"id:7,phase:1,nolog,pass,t:none,setvar:'tx.crs_setup_version=4280'\"\r\n";
    assert_eq!(
        parse(text),
        vec![Directive::Action(Rule {
            variables: vec![],
            operator: Operator::unconditional(),
            actions: vec![
                act("id", Some("7")),
                act("phase", Some("1")),
                act("nolog", None),
                act("pass", None),
                act("t", Some("none")),
                act("setvar", Some("tx.crs_setup_version=4280")),
            ],
            chained: vec![],
            source: src(4),
        })]
    );
}

#[test]
fn commented_out_rule_swallows_its_continuation_lines() {
    let text = "#SecRule ARGS \"@rx a\" \\\n    \"id:9,\\\n    deny\"\nSecMarker M\n";
    assert_eq!(parse(text), vec![Directive::Marker("M".to_string())]);
}
