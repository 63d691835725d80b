//! The RFC 7644 section 3.4.2.2 filter language: the syntax tree, a parser with bounded nesting, and a printer
//! whose output parses back to the same tree. The same attribute-path grammar serves PATCH paths
//! (`members[value eq "usr_1"]`, `emails[type eq "work"].value`), so `parse_path` lives here too.
//!
//! Names and operators are case-insensitive on input and kept as written (the evaluator resolves them through
//! the schema); operators print lower-case. Parentheses are not kept in the tree: the printer adds them around
//! every nested `and`/`or`, which is always safe and keeps the round-trip exact.

use std::fmt;

use serde_json::Number;

use super::error::{ScimError, ScimResult};

/// Deepest nesting of `(`, `not (` and `[` accepted: keeps a hostile filter from exhausting the stack.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons one filter may hold; a left-leaning chain of `and`s is as deep as it is long.
pub const MAX_TERMS: usize = 256;

/// `[urn:]attr[\[filter\]][.sub]`: an attribute, optionally narrowed to the values of a multi-valued
/// attribute that match `filter`, optionally down to one sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// Schema URN prefix as written, without the trailing `:`.
    pub urn: Option<String>,
    pub attr: String,
    /// Value filter in brackets; its paths are relative to `attr`'s sub-attributes.
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A plain `attr` path, handy for building trees in code.
    pub fn simple(attr: &str) -> Self {
        Self { urn: None, attr: attr.to_string(), filter: None, sub: None }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] =
        [Self::Eq, Self::Ne, Self::Co, Self::Sw, Self::Ew, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether the operator orders values (and so is refused on booleans).
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

/// The JSON literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Bool(bool),
    Null,
    Number(Number),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Literal,
    },
    /// `attr pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `emails[type eq "work"]` standing alone: some value matches the bracketed filter.
    ValuePath(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Parses a filter (as found in `?filter=` after URL decoding, or in a `/.search` body).
pub fn parse_filter(text: &str) -> ScimResult<Filter> {
    let tokens = lex(text).map_err(ScimError::InvalidFilter)?;
    let mut p = Parser { tokens, pos: 0, depth: 0, terms: 0 };
    let f = p.or_expr(false).map_err(ScimError::InvalidFilter)?;
    if let Some(t) = p.peek() {
        return Err(ScimError::InvalidFilter(format!("unexpected {t} after the end of the filter")));
    }
    Ok(f)
}

/// Parses a PATCH `path`. A malformed path is `invalidPath`; a malformed filter inside its brackets is
/// `invalidFilter`, as RFC 7644 Table 9 lists for PATCH path filters.
pub fn parse_path(text: &str) -> ScimResult<AttrPath> {
    let tokens = lex(text).map_err(ScimError::InvalidPath)?;
    let mut p = Parser { tokens, pos: 0, depth: 0, terms: 0 };
    let path = p
        .attr_path(false)
        .map_err(|e| if text.contains('[') { ScimError::InvalidFilter(e) } else { ScimError::InvalidPath(e) })?;
    if let Some(t) = p.peek() {
        return Err(ScimError::InvalidPath(format!("unexpected {t} in path '{text}'")));
    }
    Ok(path)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::OpenBracket => f.write_str("'['"),
            Token::CloseBracket => f.write_str("']'"),
            Token::Word(w) => write!(f, "'{w}'"),
            Token::Str(s) => write!(f, "string {s:?}"),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '+')
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match c {
            ' ' | '\t' | '\r' | '\n' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(format!("unterminated string starting at offset {start}"));
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let raw = &text[start..i];
                let s: String = serde_json::from_str(raw).map_err(|e| format!("bad string literal {raw}: {e}"))?;
                tokens.push(Token::Str(s));
            }
            _ if is_word_char(c) => {
                let start = i;
                while i < bytes.len() && is_word_char(bytes[i] as char) {
                    i += 1;
                }
                tokens.push(Token::Word(text[start..i].to_string()));
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(c);
                return Err(format!("unexpected character '{ch}' at offset {i}"));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("filter nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!("expected {want}, found {t}")),
            None => Err(format!("expected {want}, found the end of the filter")),
        }
    }

    fn or_expr(&mut self, in_brackets: bool) -> Result<Filter, String> {
        let mut left = self.and_expr(in_brackets)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, in_brackets: bool) -> Result<Filter, String> {
        let mut left = self.unary(in_brackets)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, in_brackets: bool) -> Result<Filter, String> {
        // `not` is a keyword only when a group follows, so an attribute may still be called "not".
        if self.peek_keyword("not") && self.tokens.get(self.pos + 1) == Some(&Token::Open) {
            self.pos += 2;
            self.enter()?;
            let inner = self.or_expr(in_brackets)?;
            self.expect(Token::Close)?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or_expr(in_brackets)?;
            self.expect(Token::Close)?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.attr_expr(in_brackets)
    }

    fn attr_expr(&mut self, in_brackets: bool) -> Result<Filter, String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!("filter has more than {MAX_TERMS} comparisons"));
        }
        let path = self.attr_path(in_brackets)?;
        let op_word = match self.peek() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") || CompareOp::parse(w).is_some() => w.clone(),
            _ if path.filter.is_some() && path.sub.is_none() => return Ok(Filter::ValuePath(path)),
            Some(t) => {
                return Err(format!("expected an operator after '{}', found {t}", print_path(&path)));
            }
            None => {
                return Err(format!("expected an operator after '{}'", print_path(&path)));
            }
        };
        self.pos += 1;
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op_word).ok_or_else(|| format!("unknown operator '{op_word}'"))?;
        let value = match self.next() {
            Some(Token::Str(s)) => Literal::String(s),
            Some(Token::Word(w)) => parse_word_literal(&w)?,
            Some(t) => return Err(format!("expected a value after '{op_word}', found {t}")),
            None => return Err(format!("expected a value after '{op_word}'")),
        };
        Ok(Filter::Compare { path, op, value })
    }

    fn attr_path(&mut self, in_brackets: bool) -> Result<AttrPath, String> {
        let word = match self.next() {
            Some(Token::Word(w)) => w,
            Some(t) => return Err(format!("expected an attribute name, found {t}")),
            None => return Err("expected an attribute name, found the end of the text".into()),
        };
        let (urn, attr, mut sub) = split_attr_word(&word)?;
        let mut filter = None;
        if self.peek() == Some(&Token::OpenBracket) {
            if in_brackets {
                return Err("value filters cannot nest inside another value filter".into());
            }
            if sub.is_some() {
                return Err(format!("a value filter must follow the attribute name in '{word}'"));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or_expr(true)?;
            self.expect(Token::CloseBracket)?;
            self.depth -= 1;
            filter = Some(Box::new(inner));
            if let Some(Token::Word(w)) = self.peek()
                && let Some(rest) = w.strip_prefix('.')
            {
                let s = rest.to_string();
                check_name(&s)?;
                sub = Some(s);
                self.pos += 1;
            }
        }
        Ok(AttrPath { urn, attr, filter, sub })
    }
}

fn parse_word_literal(w: &str) -> Result<Literal, String> {
    if w.eq_ignore_ascii_case("true") {
        return Ok(Literal::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Ok(Literal::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Ok(Literal::Null);
    }
    // Integers stay exact; decimals go through std's correctly rounded parser (serde_json's default one is
    // not, and a printed decimal must parse back to the same number).
    let number = if let Ok(i) = w.parse::<i64>() {
        Some(Number::from(i))
    } else if let Ok(u) = w.parse::<u64>() {
        Some(Number::from(u))
    } else if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        w.parse::<f64>().ok().and_then(Number::from_f64)
    } else {
        None
    };
    number.map(Literal::Number).ok_or_else(|| format!("'{w}' is not a value: strings need double quotes"))
}

/// Splits `urn:...:attr.sub` into its URN, attribute and sub-attribute, checking the names.
fn split_attr_word(word: &str) -> Result<(Option<String>, String, Option<String>), String> {
    let (urn, rest) = if word.len() > 4 && word[..4].eq_ignore_ascii_case("urn:") {
        match word.rfind(':') {
            Some(i) if i > 4 => (Some(word[..i].to_string()), &word[i + 1..]),
            _ => {
                return Err(format!("'{word}' is a schema URN without an attribute name"));
            }
        }
    } else {
        (None, word)
    };
    let mut parts = rest.split('.');
    let attr = parts.next().unwrap_or_default().to_string();
    let sub = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return Err(format!("'{word}' has more than one sub-attribute level"));
    }
    check_name(&attr)?;
    if let Some(s) = &sub {
        check_name(s)?;
    }
    Ok((urn, attr, sub))
}

/// ATTRNAME = ALPHA *(nameChar), plus `$ref` which RFC 7643 uses as a sub-attribute name.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some('$') => name == "$ref",
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("'{name}' is not a valid attribute name")) }
}

fn print_path(path: &AttrPath) -> String {
    path.to_string()
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
            Literal::Number(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn operand(f: &mut fmt::Formatter<'_>, child: &Filter) -> fmt::Result {
            match child {
                Filter::And(..) | Filter::Or(..) => write!(f, "({child})"),
                _ => write!(f, "{child}"),
            }
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath(path) => write!(f, "{path}"),
            Filter::And(a, b) | Filter::Or(a, b) => {
                operand(f, a)?;
                f.write_str(if matches!(self, Filter::And(..)) { " and " } else { " or " })?;
                operand(f, b)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
        }
    }
}

#[cfg(test)]
mod tests;
