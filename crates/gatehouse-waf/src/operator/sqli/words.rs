//! Word classification: which SQL words change the meaning of a value.
//!
//! The lists are ours, written from the MySQL, PostgreSQL, T-SQL and Oracle
//! manuals with injection in mind: statements an attacker stacks, the
//! clauses appended after a value, and the functions used to exfiltrate
//! data or to time a blind probe. Plain English words stay barewords.

use super::token::{Kind, Token, Word};

/// Longest word looked up; longer ones are barewords.
const MAX_WORD: usize = 32;

/// Words that are functions even without a `(`: T-SQL system procedures
/// are called as `EXEC xp_cmdshell 'dir'`. A fixed list, not a prefix:
/// `xp_total` or `sp_500` are ordinary names.
pub(super) fn function_always(word: &[u8]) -> bool {
    let mut buf = [0u8; MAX_WORD];
    if word.len() > MAX_WORD {
        return false;
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    matches!(
        &buf[..word.len()],
        b"xp_cmdshell"
            | b"xp_regread"
            | b"xp_regwrite"
            | b"xp_dirtree"
            | b"xp_fileexist"
            | b"xp_servicecontrol"
            | b"xp_availablemedia"
            | b"xp_loginconfig"
            | b"xp_terminate_process"
            | b"master..xp_cmdshell"
            | b"sp_executesql"
            | b"sp_oacreate"
            | b"sp_oamethod"
            | b"sp_makewebtask"
            | b"sp_addlogin"
            | b"sp_addsrvrolemember"
            | b"sp_password"
            | b"sp_configure"
    )
}

/// The token for `word`; `call` says a `(` follows it.
pub(super) fn classify_word(word: &[u8], call: bool) -> Token {
    let mut buf = [0u8; MAX_WORD];
    if word.len() > MAX_WORD {
        return Token::new(Kind::Bareword, Word::Other);
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    let lower = &buf[..word.len()];
    if call {
        if let Some(strong) = function(lower) {
            let w = if strong { Word::Strong } else { Word::Other };
            return Token::new(Kind::Function, w);
        }
    }
    let (kind, w) = keyword(lower);
    Token::new(kind, w)
}

/// `Some(strong)` when `w` (lowercase) names a SQL function; strong ones
/// have no use outside an attack (delays, file and network access, error
/// based exfiltration), the others are common but still SQL.
fn function(w: &[u8]) -> Option<bool> {
    let strong = matches!(
        w,
        b"sleep"
            | b"benchmark"
            | b"pg_sleep"
            | b"load_file"
            | b"extractvalue"
            | b"updatexml"
            | b"sys_eval"
            | b"sys_exec"
            | b"pg_read_file"
            | b"pg_ls_dir"
            | b"lo_import"
            | b"lo_export"
            | b"get_lock"
            | b"name_const"
            | b"dbms_lock.sleep"
            | b"dbms_pipe.receive_message"
            | b"utl_inaddr.get_host_address"
            | b"utl_inaddr.get_host_name"
            | b"utl_http.request"
            | b"ctxsys.drithsx.sn"
            | b"xmltype"
    );
    if strong {
        return Some(true);
    }
    let common = matches!(
        w,
        b"ascii"
            | b"char"
            | b"chr"
            | b"nchar"
            | b"concat"
            | b"concat_ws"
            | b"group_concat"
            | b"string_agg"
            | b"substring"
            | b"substr"
            | b"mid"
            | b"left"
            | b"right"
            | b"length"
            | b"len"
            | b"char_length"
            | b"lower"
            | b"upper"
            | b"lcase"
            | b"ucase"
            | b"hex"
            | b"unhex"
            | b"bin"
            | b"ord"
            | b"version"
            | b"user"
            | b"current_user"
            | b"system_user"
            | b"session_user"
            | b"database"
            | b"schema"
            | b"db_name"
            | b"user_name"
            | b"count"
            | b"sum"
            | b"min"
            | b"max"
            | b"avg"
            | b"cast"
            | b"convert"
            | b"coalesce"
            | b"ifnull"
            | b"isnull"
            | b"nullif"
            | b"nvl"
            | b"if"
            | b"iif"
            | b"md5"
            | b"sha1"
            | b"sha2"
            | b"rand"
            | b"floor"
            | b"ceil"
            | b"round"
            | b"now"
            | b"sysdate"
            | b"row_count"
            | b"found_rows"
            | b"last_insert_id"
            | b"connection_id"
            | b"json_extract"
            | b"make_set"
            | b"elt"
            | b"instr"
            | b"locate"
            | b"replace"
            | b"reverse"
            | b"repeat"
            | b"strcmp"
            | b"to_char"
            | b"to_number"
            | b"uuid"
            | b"row"
            | b"exists"
            | b"quote"
            | b"unicode"
            | b"randomblob"
            | b"sqlite_version"
            | b"pg_client_encoding"
            | b"current_database"
            | b"has_database_privilege"
            | b"is_srvrolemember"
            | b"openrowset"
            | b"opendatasource"
            | b"openquery"
            | b"analyse"
            | b"exp"
            | b"geometrycollection"
            | b"multipoint"
            | b"polygon"
            | b"linestring"
    );
    common.then_some(false)
}

/// Kind and meaning of a word (lowercase) that is not a function call.
fn keyword(w: &[u8]) -> (Kind, Word) {
    use Kind::{Keyword as K, Logic, Number, Operator as O, Statement as E, Union};
    match w {
        b"select" => (E, Word::Select),
        b"insert" => (E, Word::Insert),
        b"delete" => (E, Word::Delete),
        b"update" => (E, Word::Update),
        b"drop" | b"create" | b"alter" | b"truncate" => (E, Word::Ddl),
        b"exec" | b"execute" => (E, Word::Exec),
        b"declare" => (E, Word::Declare),
        b"waitfor" => (E, Word::Waitfor),
        b"shutdown" => (E, Word::Shutdown),
        b"union" | b"intersect" | b"except" => (Union, Word::Other),
        b"and" | b"or" | b"xor" => (Logic, Word::Other),
        b"like" | b"rlike" | b"ilike" | b"regexp" | b"similar" | b"glob" => (O, Word::Compare),
        b"div" | b"mod" => (O, Word::Arith),
        b"not" => (O, Word::Not),
        b"null" | b"true" | b"false" => (Number, Word::Other),
        b"all" => (K, Word::All),
        b"distinct" => (K, Word::Distinct),
        b"top" => (K, Word::Top),
        b"from" => (K, Word::From),
        b"into" => (K, Word::Into),
        b"set" => (K, Word::Set),
        b"by" => (K, Word::By),
        b"is" => (K, Word::Is),
        b"exists" => (K, Word::Exists),
        b"in" => (K, Word::In),
        b"delay" => (K, Word::Delay),
        b"having" | b"limit" | b"procedure" | b"outfile" | b"dumpfile" => (K, Word::Clause),
        b"table" | b"database" | b"schema" | b"view" | b"index" | b"trigger" | b"function" => {
            (K, Word::Object)
        }
        b"where" | b"values" | b"offset" | b"case" | b"when" | b"then" | b"else" | b"end"
        | b"between" | b"collate" | b"escape" | b"join" | b"asc" | b"desc" => (K, Word::Other),
        b"order" => (Kind::Bareword, Word::Order),
        b"group" => (Kind::Bareword, Word::Group),
        _ => (Kind::Bareword, Word::Other),
    }
}
