//! Malformed input: every error is reported, as `file:line: message`, at the
//! first physical line of its directive.
#![allow(clippy::unwrap_used)]

use gatehouse_waf::parse::parse_str;

fn errors(text: &str) -> Vec<String> {
    match parse_str(text, "bad.conf") {
        Ok(d) => panic!("expected errors, parsed {d:#?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn error(text: &str) -> String {
    let all = errors(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().unwrap()
}

#[test]
fn unknown_directive() {
    assert_eq!(
        error("SecMarker A\n\nSecFoo bar\n"),
        "bad.conf:3: unknown directive `SecFoo`"
    );
}

#[test]
fn unterminated_quote_on_a_continued_rule() {
    assert_eq!(
        error("# x\nSecRule ARGS \\\n    \"@rx a\" \\\n    \"id:1,deny\n"),
        "bad.conf:2: SecRule: unterminated double quote"
    );
}

#[test]
fn missing_operator() {
    assert_eq!(
        error("SecRule ARGS\n"),
        "bad.conf:1: SecRule: missing operator"
    );
}

#[test]
fn empty_variable_list() {
    assert_eq!(
        error("SecRule \"\" \"@rx a\" \"id:1\""),
        "bad.conf:1: empty variable list"
    );
}

#[test]
fn bad_variable_names() {
    assert_eq!(
        error("SecRule ARGS|REQUEST-HEADERS \"@rx a\" \"id:1\""),
        "bad.conf:1: invalid variable name `REQUEST-HEADERS`: only letters, digits and `_` are allowed"
    );
    assert_eq!(
        error("SecRule ARGZ \"@rx a\" \"id:1\""),
        "bad.conf:1: unknown variable `ARGZ`"
    );
}

#[test]
fn bad_selector_regex_delimiters() {
    assert_eq!(
        error("SecRule ARGS:/^id_ \"@rx a\" \"id:1\""),
        "bad.conf:1: regex selector `/^id_` of `ARGS` must end with `/`"
    );
}

#[test]
fn missing_action_values() {
    assert_eq!(
        errors("SecRule ARGS \"@rx a\" \\\n  \"id,phase:2,msg,t:,deny\""),
        vec![
            "bad.conf:1: action `id` requires a value",
            "bad.conf:1: action `msg` requires a value",
            "bad.conf:1: action `t` requires a value",
        ]
    );
}

#[test]
fn non_numeric_id() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"id:12a,deny\""),
        "bad.conf:1: invalid id `12a`: expected a positive integer"
    );
}

#[test]
fn duplicate_id() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"id:5\"\nSecAction \\\n \"id:5,pass\""),
        "bad.conf:2: duplicate rule id 5 (first defined at bad.conf:1)"
    );
}

#[test]
fn unknown_action() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"id:1,denyy\""),
        "bad.conf:1: unknown action `denyy`"
    );
}

#[test]
fn bad_phase() {
    assert_eq!(
        error("SecAction \"id:1,phase:7,pass\""),
        "bad.conf:1: invalid phase `7`: expected 1 to 5, request, response or logging"
    );
}

#[test]
fn chain_without_a_following_rule() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \\\n  \"id:1,deny,chain\"\nSecMarker END\n"),
        "bad.conf:1: rule 1 has `chain` but no SecRule follows it"
    );
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"id:1,deny,chain\"\n  SecRule ARGS \"@rx b\" \"chain\"\n"),
        "bad.conf:1: rule 1 has `chain` on its link at line 2 but no SecRule follows it"
    );
}

#[test]
fn disruptive_action_in_a_chain_link() {
    let tail = "is not allowed in a chained rule: only the chain starter may carry it";
    assert_eq!(
        errors("SecRule ARGS \"@rx a\" \"id:1,chain\"\nSecRule ARGS \"@rx b\" \"id:2,deny\""),
        vec![
            format!("bad.conf:2: action `id` {tail}"),
            format!("bad.conf:2: action `deny` {tail}"),
        ]
    );
}

#[test]
fn rule_without_id() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"deny\""),
        "bad.conf:1: rule has no `id` action"
    );
}

#[test]
fn unknown_operator_and_transformation() {
    assert_eq!(
        errors("SecRule ARGS \"@regex a\" \"id:1,t:lowercaes\""),
        vec![
            "bad.conf:1: unknown operator `@regex`",
            "bad.conf:1: unknown transformation `lowercaes`",
        ]
    );
}

#[test]
fn unterminated_single_quote() {
    assert_eq!(
        error("SecRule ARGS \"@rx a\" \"id:1,msg:'oops\""),
        "bad.conf:1: unterminated single quote in the value of `msg`"
    );
}

#[test]
fn too_many_arguments() {
    assert_eq!(
        error("SecRule ARGS @rx a \"id:1\""),
        "bad.conf:1: SecRule: too many arguments (4), expected variables, operator and actions"
    );
}

#[test]
fn bad_directive_arguments() {
    assert_eq!(
        errors(
            "SecRuleEngine Maybe\nSecRuleRemoveById 1 x-2\nSecRequestBodyLimit big\n\
             SecDefaultAction \"phase:2,log\"\nSecMarker\nSecRuleScript /x.lua"
        ),
        vec![
            "bad.conf:1: SecRuleEngine expects On, Off or DetectionOnly, not `Maybe`",
            "bad.conf:2: SecRuleRemoveById: invalid rule id or range `x-2`",
            "bad.conf:3: SecRequestBodyLimit expects a number, not `big`",
            "bad.conf:4: SecDefaultAction must specify a disruptive action",
            "bad.conf:5: SecMarker expects one marker name",
            "bad.conf:6: Lua rules (SecRuleScript) are not supported",
        ]
    );
}

#[test]
fn all_errors_are_collected_and_links_of_broken_rules_stay_quiet() {
    let text = "\
SecRule ARGS \"@rx a\" \"id:1,bogus,chain\"
    SecRule ARGS \"@rx b\" \"t:none\"
SecRule ARGS \"@rx c\" \"id:2\"
SecFoo
SecRule ARGS \"@rx d\" \"id:2\"
";
    assert_eq!(
        errors(text),
        vec![
            "bad.conf:1: unknown action `bogus`",
            "bad.conf:4: unknown directive `SecFoo`",
            "bad.conf:5: duplicate rule id 2 (first defined at bad.conf:3)",
        ]
    );
}

#[test]
fn display_and_fields() {
    let errs = parse_str("\n\nSecBar", "dir/x.conf").unwrap_err();
    assert_eq!(errs[0].file, "dir/x.conf");
    assert_eq!(errs[0].line, 3);
    assert_eq!(errs[0].message, "unknown directive `SecBar`");
    assert_eq!(
        errs[0].to_string(),
        "dir/x.conf:3: unknown directive `SecBar`"
    );
}

#[test]
fn default_action_and_update_rules() {
    assert_eq!(
        errors(
            "SecDefaultAction \"phase:2,log,pass\"\n\
             SecDefaultAction \"phase:request,deny\"\n\
             SecDefaultAction \"phase:1,id:5,t:none,deny\"\n\
             SecAction \"id:6,pass,chain\"\n\
             SecRuleUpdateActionById 942100 \"id:7\"\n\
             SecRuleUpdateTargetById x \"ARGS:a|\""
        ),
        vec![
            "bad.conf:2: SecDefaultAction for phase 2 is already set at bad.conf:1",
            "bad.conf:3: action `id` is not allowed in SecDefaultAction",
            "bad.conf:3: `t:none` is not allowed in SecDefaultAction",
            "bad.conf:4: SecAction cannot be chained",
            "bad.conf:5: SecRuleUpdateActionById cannot change `id`",
            "bad.conf:6: SecRuleUpdateTargetById: invalid rule id or range `x`",
            "bad.conf:6: empty variable at the end of `ARGS:a|`",
        ]
    );
}
