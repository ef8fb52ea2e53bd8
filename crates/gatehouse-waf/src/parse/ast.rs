//! The typed result of parsing: what the engine compiles. Values are kept as
//! ModSecurity would see them after its own unquoting, so macros such as
//! `%{tx.x}` and regex escapes reach the engine untouched.

use std::fmt;

/// Where a directive starts: the first physical line, so errors and audit
/// messages point at the line a person would look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub line: usize,
}

/// One problem in the configuration. Parsing goes on after an error so that
/// a single run reports everything that needs fixing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(source: &Source, message: impl Into<String>) -> ParseError {
        ParseError {
            file: source.file.clone(),
            line: source.line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One configuration directive. `Include` never appears: included files are
/// spliced in place, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `SecRule`; a chain is one `Rule` whose `chained` holds the links.
    Rule(Rule),
    /// `SecAction`: no variables, operator `unconditionalMatch`.
    Action(Rule),
    /// `SecMarker`: a `skipAfter` target.
    Marker(String),
    /// `SecDefaultAction`: defaults for the rules of its phase that follow.
    DefaultAction(Vec<Action>),
    RuleEngine(EngineMode),
    RemoveById(Vec<IdRange>),
    /// A regular expression matched against tags, as ModSecurity does.
    RemoveByTag(String),
    /// A regular expression matched against messages.
    RemoveByMsg(String),
    UpdateTargetById {
        ids: Vec<IdRange>,
        targets: Vec<Variable>,
        /// ModSecurity 2's third argument: the target to replace.
        replaced: Option<String>,
    },
    UpdateTargetByTag {
        tag: String,
        targets: Vec<Variable>,
    },
    UpdateTargetByMsg {
        msg: String,
        targets: Vec<Variable>,
    },
    UpdateActionById {
        id: u64,
        actions: Vec<Action>,
    },
    ComponentSignature(String),
    /// A directive the engine may honour; `name` is the canonical spelling
    /// (e.g. `SecRequestBodyAccess`) whatever case the file used.
    Setting {
        name: String,
        args: Vec<String>,
    },
    /// Accepted but meaningless for a gateway (audit/debug logs, upload and
    /// data directories...). The caller reports them once.
    Ignored {
        name: String,
    },
}

/// A `SecRule`, `SecAction` or a link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub variables: Vec<Variable>,
    pub operator: Operator,
    /// In file order, `chain` included; only a chain starter carries `id`,
    /// `phase` and disruptive actions.
    pub actions: Vec<Action>,
    /// The links after the starter, in order (empty for links themselves).
    pub chained: Vec<Rule>,
    pub source: Source,
}

impl Rule {
    /// The first value of an action, e.g. `rule.action("id")`.
    pub fn action(&self, name: &str) -> Option<&str> {
        self.actions
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.as_deref())
    }

    /// Whether an action is present, with or without a value.
    pub fn has_action(&self, name: &str) -> bool {
        self.actions.iter().any(|a| a.name == name)
    }

    /// The rule id, if it has one (chain links do not).
    pub fn id(&self) -> Option<u64> {
        self.action("id").and_then(|v| v.parse().ok())
    }
}

/// One target: `ARGS`, `!ARGS:foo`, `&TX:score`, `ARGS:/^id_/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Upper case, e.g. `REQUEST_HEADERS`.
    pub name: String,
    pub selector: Option<Selector>,
    /// `&`: the number of matching values instead of the values.
    pub count: bool,
    /// `!`: removes targets from the rule instead of adding one.
    pub exclude: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A key (case as written; ModSecurity compares most keys without
    /// case) or, for `XML`, an XPath expression kept as written.
    Name(String),
    /// `/.../`: the pattern between the slashes.
    Regex(String),
}

/// `@name argument`, possibly negated. `name` is the canonical ModSecurity
/// spelling (`rx`, `pmFromFile`, `detectSQLi`...), found without case;
/// the aliases `pmf` and `ipMatchF` become `pmFromFile` and `ipMatchFromFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub negated: bool,
    /// Raw text after the name and its separating spaces; macros kept.
    pub argument: String,
}

impl Operator {
    /// What `SecAction` gets: it always matches.
    pub fn unconditional() -> Operator {
        Operator {
            name: "unconditionalMatch".to_string(),
            negated: false,
            argument: String::new(),
        }
    }
}

/// `name` or `name:value`. The name is the canonical spelling (`skipAfter`,
/// `t`...); the value is unquoted (`'...'` removed, `\'` turned into `'`),
/// `phase` values are digits (`request` is `2`) and `t` values the canonical
/// transformation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub value: Option<String>,
}

impl Action {
    pub fn new(name: &str, value: Option<&str>) -> Action {
        Action {
            name: name.to_string(),
            value: value.map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    Off,
    DetectionOnly,
}

/// An inclusive range of rule ids; a single id has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u64,
    pub end: u64,
}

impl IdRange {
    pub fn contains(&self, id: u64) -> bool {
        self.start <= id && id <= self.end
    }
}
