//! List filters and orderings: a subset of AIP-160 (filtering) and AIP-132 (`order_by`).
//!
//! # Contract
//!
//! - [`parse`] turns a filter string into an [`Expr`] or a [`FilterError`] that names the
//!   position (1-based character column) and what was expected there. It never panics, on
//!   any input; the input is at most [`MAX_FILTER_LEN`] bytes, nests at most [`MAX_DEPTH`]
//!   levels (parentheses and negations) and holds at most [`MAX_RESTRICTIONS`] comparisons.
//! - [`Filter::compile`] checks an expression against a [`Schema`] (the fields one list
//!   offers and their kinds) and converts every literal once; [`Filter::matches`] then
//!   evaluates it against a [`Record`] without allocating for numbers, times, keys and enums.
//!   Evaluation is a walk of the compiled tree: its cost is bounded by the restriction count.
//! - [`parse_order_by`] reads `field` or `field asc|desc` for one of a list's sortable fields.
//!
//! # Grammar (the subset of AIP-160 taken)
//!
//! ```text
//! filter      = [expression]
//! expression  = sequence {"AND" sequence}
//! sequence    = factor {factor}            (whitespace between factors means AND)
//! factor      = term {"OR" term}           (OR binds tighter than AND, as in AIP-160)
//! term        = ["NOT" | "-"] simple
//! simple      = "(" expression ")" | restriction
//! restriction = field comparator value
//! field       = name {"." name}
//! comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//! value       = quoted string ("..." or '...', `\` escapes the next character) | bare text
//! ```
//!
//! Bare text after a comparator runs to the next whitespace or parenthesis, so
//! `start_time>=2026-05-01T08:00:00+08:00` needs no quotes. Literals are typed by the field:
//! text, numbers, `true`/`false`, RFC 3339 timestamps, enum value names and resource names
//! (normalised by the list, so `radios/#46001` and `radios/0x00b3a1` are the same radio).
//! Global restrictions (a bare value without a field), functions and `*` wildcards other than
//! `field:*` (the field is set) are not part of the subset and are refused with a position.
//!
//! The `aip-160` crate on crates.io was considered: it was a month old with one owner and a
//! breaking rewrite between its minor versions, and it parses the whole grammar (functions,
//! global restrictions) that the lists would then have to refuse. This subset is small,
//! fuzzed (`fuzz/fuzz_targets/filter.rs`) and keeps its errors in the API's words.

use std::borrow::Cow;
use std::fmt;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 1024;
/// Deepest nesting of parentheses and negations.
pub const MAX_DEPTH: usize = 16;
/// Most comparisons in one filter.
pub const MAX_RESTRICTIONS: usize = 32;
/// Longest `order_by`, in bytes.
pub const MAX_ORDER_BY_LEN: usize = 64;

/// Why a filter or ordering was refused: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct FilterError {
    /// 1-based character column of the offending token (one past the end for "end of input").
    pub column: usize,
    /// What would have been accepted there.
    pub expected: String,
    /// What was there (shortened).
    pub found: String,
}

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `:` (has)
    Has,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Has => ":",
        })
    }
}

/// A literal as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// The text, unescaped when it was quoted.
    pub text: String,
    /// Whether it was quoted (a quoted `*` is text, not "any").
    pub quoted: bool,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// The field path, dots kept (`presence.site`).
    pub field: String,
    /// Byte offset of the field.
    pub field_at: usize,
    /// The comparator.
    pub op: Op,
    /// The value.
    pub value: Literal,
    /// Byte offset of the value.
    pub value_at: usize,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every child holds.
    And(Vec<Expr>),
    /// Some child holds.
    Or(Vec<Expr>),
    /// The child does not hold.
    Not(Box<Expr>),
    /// A comparison.
    Restriction(Restriction),
}

/// Describe a token for an error message: the next few characters, or "end of input".
fn found_at(src: &str, at: usize) -> String {
    match src.get(at..) {
        Some(rest) if !rest.is_empty() => {
            let shown: String = rest.chars().take(16).collect();
            if shown.len() < rest.len() {
                format!("{shown:?}…")
            } else {
                format!("{shown:?}")
            }
        }
        _ => "end of input".into(),
    }
}

/// The 1-based character column of byte offset `at` (clamped to the input).
fn column(src: &str, at: usize) -> usize {
    let mut at = at.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    src[..at].chars().count() + 1
}

fn error(src: &str, at: usize, expected: impl Into<String>) -> FilterError {
    FilterError {
        column: column(src, at),
        expected: expected.into(),
        found: found_at(src, at),
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    restrictions: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters that end bare text: whitespace, parentheses and quotes.
fn ends_text(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'')
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        // `pos` only ever advances by whole characters, so it is a char boundary.
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn err(&self, expected: impl Into<String>) -> FilterError {
        error(self.src, self.pos, expected)
    }

    /// Whether the keyword `kw` starts here as a whole word (followed by whitespace, `(`,
    /// or, for NOT, anything that is not a name character).
    fn at_keyword(&self, kw: &str) -> bool {
        let rest = self.rest();
        rest.starts_with(kw)
            && rest[kw.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(')
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("at most {MAX_DEPTH} levels of nesting")));
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let mut items = vec![self.sequence()?];
        loop {
            self.skip_ws();
            if self.at_keyword("AND") {
                self.pos += 3;
                self.skip_ws();
                items.push(self.sequence()?);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(flatten(items, Expr::And))
    }

    fn sequence(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.factor()?];
        loop {
            let before = self.pos;
            self.skip_ws();
            let next_is_factor = match self.peek() {
                None | Some(')') => false,
                Some(_) => !self.at_keyword("AND") && !self.at_keyword("OR"),
            };
            if !next_is_factor || self.pos == before {
                // No whitespace before the next token: it is not a new factor, and the caller
                // reports what follows.
                if next_is_factor {
                    return Err(self.err("whitespace, AND, OR or the end"));
                }
                break;
            }
            items.push(self.factor()?);
        }
        Ok(flatten(items, Expr::And))
    }

    fn factor(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.term()?];
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.at_keyword("OR") {
                self.pos += 2;
                self.skip_ws();
                items.push(self.term()?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(flatten(items, Expr::Or))
    }

    fn term(&mut self) -> Result<Expr, FilterError> {
        if self.at_keyword("NOT") {
            self.pos += 3;
            self.skip_ws();
            return self.negated();
        }
        if self.peek() == Some('-') {
            self.pos += 1;
            return self.negated();
        }
        self.simple()
    }

    fn negated(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let inner = self.simple()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn simple(&mut self) -> Result<Expr, FilterError> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.err("an expression inside the parentheses"));
                }
                let e = self.expression()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.err("`)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            _ => self.restriction().map(Expr::Restriction),
        }
    }

    fn name(&mut self) -> Result<(String, usize), FilterError> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(c) if is_name_start(c) => {
                    while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                        self.pos += c.len_utf8();
                    }
                }
                _ => return Err(self.err("a field name")),
            }
            if self.peek() == Some('.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok((self.src[start..self.pos].to_string(), start))
    }

    fn comparator(&mut self) -> Result<Op, FilterError> {
        let rest = self.rest();
        let (op, len) = if rest.starts_with("!=") {
            (Op::Ne, 2)
        } else if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with('=') {
            (Op::Eq, 1)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else if rest.starts_with(':') {
            (Op::Has, 1)
        } else {
            return Err(self.err("a comparator (=, !=, <, <=, >, >= or :)"));
        };
        self.pos += len;
        Ok(op)
    }

    fn value(&mut self) -> Result<(Literal, usize), FilterError> {
        let start = self.pos;
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        None => {
                            return Err(error(
                                self.src,
                                start,
                                format!("a closing {q} for the string starting here"),
                            ));
                        }
                        Some('\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) => {
                                    text.push(c);
                                    self.pos += c.len_utf8();
                                }
                                None => return Err(self.err("a character after `\\`")),
                            }
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(c);
                            self.pos += c.len_utf8();
                        }
                    }
                }
                Ok((Literal { text, quoted: true }, start))
            }
            Some(c) if !ends_text(c) => {
                while let Some(c) = self.peek().filter(|c| !ends_text(*c)) {
                    self.pos += c.len_utf8();
                }
                let text = self.src[start..self.pos].to_string();
                if matches!(text.as_str(), "AND" | "OR" | "NOT") {
                    return Err(error(self.src, start, "a value, not a keyword"));
                }
                Ok((
                    Literal {
                        text,
                        quoted: false,
                    },
                    start,
                ))
            }
            _ => Err(self.err("a value")),
        }
    }

    fn restriction(&mut self) -> Result<Restriction, FilterError> {
        let (field, field_at) = self.name()?;
        self.skip_ws();
        let op = self.comparator()?;
        self.skip_ws();
        let (value, value_at) = self.value()?;
        self.restrictions += 1;
        if self.restrictions > MAX_RESTRICTIONS {
            return Err(error(
                self.src,
                field_at,
                format!("at most {MAX_RESTRICTIONS} comparisons"),
            ));
        }
        Ok(Restriction {
            field,
            field_at,
            op,
            value,
            value_at,
        })
    }
}

fn flatten(mut items: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if items.len() == 1 {
        // Exactly one item, checked just above.
        items.pop().unwrap_or(Expr::And(Vec::new()))
    } else {
        make(items)
    }
}

/// Parse a filter; `None` for an empty (or all-whitespace) filter, which matches everything.
pub fn parse(src: &str) -> Result<Option<Expr>, FilterError> {
    if src.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            column: column(src, MAX_FILTER_LEN),
            expected: format!("at most {MAX_FILTER_LEN} bytes"),
            found: format!("{} bytes", src.len()),
        });
    }
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
        restrictions: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Ok(None);
    }
    let e = p.expression()?;
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.err("AND, OR, a comparison or the end of the filter"));
    }
    Ok(Some(e))
}

// ---- typed filters ------------------------------------------------------------------------

/// Normalises a resource-name literal to the key a record gives (an air address, a sequence
/// number); the error says why the name is not one.
pub type KeyParser = fn(&str) -> Result<u64, String>;
/// Normalises a resource-name literal to the canonical name a record gives.
pub type NameParser = fn(&str) -> Result<String, String>;

/// What a field holds, and so how its literals are read.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Free text: `=`, `!=`, ordering, and `:` (contains).
    Text,
    /// A resource name compared as canonical text (`=`, `!=`, `:`).
    Name(NameParser),
    /// A resource name compared as a number key (`=`, `!=`, `:`).
    Key(KeyParser),
    /// A number.
    Number,
    /// `true` or `false` (`=`, `!=`).
    Bool,
    /// A time, written in RFC 3339.
    Time,
    /// One of the listed enum value names (`=`, `!=`).
    Enum(&'static [&'static str]),
}

/// A field a list can be filtered on.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name in filters (the proto field name).
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Repeated: `=` and `:` match when some element equals, `!=` when none does.
    pub repeated: bool,
}

impl Field {
    /// A single-valued field.
    pub const fn one(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            repeated: false,
        }
    }

    /// A repeated field.
    pub const fn many(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            repeated: true,
        }
    }
}

/// The fields of one list; a record's [`Record::value`] is asked by index into it.
pub type Schema = [Field];

/// A field's value in one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Not set (matches only `!=`, and `NOT`).
    Missing,
    /// Text or a canonical name.
    Text(Cow<'a, str>),
    /// A key (air address or sequence number).
    Key(u64),
    /// The keys of a repeated field.
    Keys(Vec<u64>),
    /// The texts or names of a repeated field.
    Texts(Vec<Cow<'a, str>>),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// Unix milliseconds.
    Time(i64),
    /// An enum value, by index into [`Kind::Enum`]'s list.
    Enum(usize),
}

/// Something a compiled filter can be evaluated on.
pub trait Record {
    /// The value of field `index` of the schema the filter was compiled for.
    fn value(&self, index: usize) -> Value<'_>;
}

#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// `field:*`
    Present,
    Text(String),
    /// `field = "prefix*"` on a text field.
    Prefix(String),
    Key(u64),
    Number(f64),
    Bool(bool),
    Time(i64),
    Enum(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cmp {
        field: usize,
        op: Op,
        substring: bool,
        want: Want,
    },
}

/// A filter checked against a schema, ready to evaluate; the empty filter matches all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    root: Option<Node>,
}

impl Filter {
    /// Parse `src` and check it against `schema`.
    pub fn compile(src: &str, schema: &Schema) -> Result<Filter, FilterError> {
        let root = match parse(src)? {
            None => None,
            Some(e) => Some(node(src, &e, schema)?),
        };
        Ok(Filter { root })
    }

    /// Whether the filter is empty (matches everything).
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Whether the filter compares field `index` of its schema anywhere.
    pub fn uses(&self, index: usize) -> bool {
        fn walk(n: &Node, index: usize) -> bool {
            match n {
                Node::And(v) | Node::Or(v) => v.iter().any(|n| walk(n, index)),
                Node::Not(n) => walk(n, index),
                Node::Cmp { field, .. } => *field == index,
            }
        }
        self.root.as_ref().is_some_and(|n| walk(n, index))
    }

    /// Whether `record` passes.
    pub fn matches(&self, record: &(impl Record + ?Sized)) -> bool {
        self.root.as_ref().is_none_or(|n| eval(n, record))
    }
}

fn node(src: &str, e: &Expr, schema: &Schema) -> Result<Node, FilterError> {
    Ok(match e {
        Expr::And(v) => Node::And(
            v.iter()
                .map(|e| node(src, e, schema))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(v) => Node::Or(
            v.iter()
                .map(|e| node(src, e, schema))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(e) => Node::Not(Box::new(node(src, e, schema)?)),
        Expr::Restriction(r) => restriction(src, r, schema)?,
    })
}

fn field_names(schema: &Schema) -> String {
    let names: Vec<&str> = schema.iter().map(|f| f.name).collect();
    names.join(", ")
}

fn restriction(src: &str, r: &Restriction, schema: &Schema) -> Result<Node, FilterError> {
    let Some(index) = schema.iter().position(|f| f.name == r.field) else {
        return Err(error(
            src,
            r.field_at,
            format!("one of the fields {}", field_names(schema)),
        ));
    };
    let f = schema[index];
    let value_err = |what: String| error(src, r.value_at, what);
    let op_err = |ops: &str| {
        // The comparator sits between the field and the value; point just after the field.
        error(
            src,
            r.field_at + r.field.len(),
            format!("{ops} for the field `{}`", f.name),
        )
    };
    if r.op == Op::Has && !r.value.quoted && r.value.text == "*" {
        return Ok(Node::Cmp {
            field: index,
            op: Op::Has,
            substring: false,
            want: Want::Present,
        });
    }
    let ordered = matches!(r.op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
    if f.repeated && ordered {
        return Err(op_err("=, != or : (a repeated field)"));
    }
    let text = r.value.text.as_str();
    let want = match f.kind {
        Kind::Text if matches!(r.op, Op::Eq | Op::Ne) && text.ends_with('*') => {
            Want::Prefix(text[..text.len() - 1].to_string())
        }
        Kind::Text => Want::Text(text.to_string()),
        Kind::Name(parse) => {
            if ordered {
                return Err(op_err("=, != or :"));
            }
            Want::Text(parse(text).map_err(|e| value_err(format!("a resource name ({e})")))?)
        }
        Kind::Key(parse) => {
            if ordered {
                return Err(op_err("=, != or :"));
            }
            Want::Key(parse(text).map_err(|e| value_err(format!("a resource name ({e})")))?)
        }
        Kind::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Want::Number(n),
            _ => return Err(value_err("a number".into())),
        },
        Kind::Bool => {
            if ordered || r.op == Op::Has {
                return Err(op_err("= or !="));
            }
            match text {
                "true" => Want::Bool(true),
                "false" => Want::Bool(false),
                _ => return Err(value_err("true or false".into())),
            }
        }
        Kind::Time => match rfc3339_ms(text) {
            Some(t) => Want::Time(t),
            None => {
                return Err(value_err(
                    "an RFC 3339 time such as 2026-05-01T08:00:00Z or \
                     2026-05-01T16:00:00+08:00"
                        .into(),
                ));
            }
        },
        Kind::Enum(names) => {
            if ordered || r.op == Op::Has {
                return Err(op_err("= or !="));
            }
            match names.iter().position(|n| *n == text) {
                Some(i) => Want::Enum(i),
                None => return Err(value_err(format!("one of {}", names.join(", ")))),
            }
        }
    };
    Ok(Node::Cmp {
        field: index,
        op: r.op,
        substring: matches!(f.kind, Kind::Text) && r.op == Op::Has,
        want,
    })
}

fn eval(n: &Node, r: &(impl Record + ?Sized)) -> bool {
    match n {
        Node::And(v) => v.iter().all(|n| eval(n, r)),
        Node::Or(v) => v.iter().any(|n| eval(n, r)),
        Node::Not(n) => !eval(n, r),
        Node::Cmp {
            field,
            op,
            substring,
            want,
        } => compare(&r.value(*field), *op, *substring, want),
    }
}

fn ordering<T: PartialOrd>(have: T, op: Op, want: T) -> bool {
    match op {
        Op::Eq | Op::Has => have == want,
        Op::Ne => have != want,
        Op::Lt => have < want,
        Op::Le => have <= want,
        Op::Gt => have > want,
        Op::Ge => have >= want,
    }
}

fn compare(have: &Value<'_>, op: Op, substring: bool, want: &Want) -> bool {
    match (have, want) {
        (Value::Missing, Want::Present) => false,
        (Value::Text(t), Want::Present) => !t.is_empty(),
        (Value::Keys(k), Want::Present) => !k.is_empty(),
        (Value::Texts(t), Want::Present) => !t.is_empty(),
        (_, Want::Present) => true,
        // An unset field equals nothing: only `!=` holds.
        (Value::Missing, _) => op == Op::Ne,
        (Value::Text(t), Want::Prefix(p)) => t.starts_with(p.as_str()) == (op == Op::Eq),
        (Value::Texts(ts), Want::Prefix(p)) => {
            ts.iter().any(|t| t.starts_with(p.as_str())) == (op == Op::Eq)
        }
        (Value::Text(t), Want::Text(w)) if substring => t.contains(w.as_str()),
        (Value::Texts(ts), Want::Text(w)) => match op {
            Op::Ne => !ts.iter().any(|t| t == w),
            _ => ts.iter().any(|t| t == w),
        },
        (Value::Text(t), Want::Text(w)) => ordering(t.as_ref(), op, w.as_str()),
        (Value::Key(k), Want::Key(w)) => ordering(k, op, w),
        (Value::Keys(ks), Want::Key(w)) => match op {
            Op::Ne => !ks.contains(w),
            _ => ks.contains(w),
        },
        (Value::Number(n), Want::Number(w)) => ordering(*n, op, *w),
        (Value::Bool(b), Want::Bool(w)) => ordering(b, op, w),
        (Value::Time(t), Want::Time(w)) => ordering(t, op, w),
        (Value::Enum(e), Want::Enum(w)) => ordering(e, op, w),
        // A record that gives another kind than its schema says: a bug in the list, which
        // must not match rather than panic.
        _ => false,
    }
}

// ---- RFC 3339 -------------------------------------------------------------------------------

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's
/// `days_from_civil`, public domain).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(range)?;
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// An RFC 3339 `date-time` (section 5.6: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z`
/// in either case) as Unix milliseconds; fractions beyond milliseconds are truncated.
pub fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(s, 0..4)?, digits(s, 5..7)?, digits(s, 8..10)?);
    let (h, mi, sec) = (digits(s, 11..13)?, digits(s, 14..16)?, digits(s, 17..19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] {
        return None;
    }
    // RFC 3339 allows second 60 (a leap second); it is read as the last millisecond before
    // the next minute would be wrong, so it counts as :59.
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                ms = ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            ms *= 10;
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (digits(s, i + 1..i + 3)?, digits(s, i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3_600 + mi * 60 + sec.min(59) - offset_min * 60;
    Some(secs * 1_000 + ms)
}

/// The civil date of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix milliseconds as RFC 3339 in UTC (`2026-05-01T00:00:00.250Z`; no fraction when whole
/// seconds), the form [`rfc3339_ms`] reads back.
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

// ---- order_by -------------------------------------------------------------------------------

/// An ordering: which sortable field, and whether descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    /// Index into the list's sortable fields.
    pub field: usize,
    /// Newest (or largest) first.
    pub descending: bool,
}

/// Parse an AIP-132 `order_by` of one field: `field`, `field asc` or `field desc`. Empty
/// gives `default`. `fields` are the sortable fields of the list.
pub fn parse_order_by(
    src: &str,
    fields: &[&str],
    default: OrderBy,
) -> Result<OrderBy, FilterError> {
    if src.len() > MAX_ORDER_BY_LEN {
        return Err(FilterError {
            column: column(src, MAX_ORDER_BY_LEN),
            expected: format!("at most {MAX_ORDER_BY_LEN} bytes"),
            found: format!("{} bytes", src.len()),
        });
    }
    let mut words = Vec::new();
    let mut at = 0;
    for w in src.split(char::is_whitespace) {
        if !w.is_empty() {
            words.push((w, at));
        }
        at += w.len() + 1;
    }
    let Some(&(name, name_at)) = words.first() else {
        return Ok(default);
    };
    let name_only = name.trim_end_matches(',');
    let Some(field) = fields.iter().position(|f| *f == name_only) else {
        return Err(error(
            src,
            name_at,
            format!("one of the sortable fields {}", fields.join(", ")),
        ));
    };
    if name_only.len() != name.len() {
        return Err(error(
            src,
            name_at + name_only.len(),
            "one field only (ordering by several fields is not offered)",
        ));
    }
    let descending = match words.get(1) {
        None => false,
        Some(("asc", _)) => false,
        Some(("desc", _)) => true,
        Some(&(_, at)) => return Err(error(src, at, "asc, desc or the end")),
    };
    if let Some(&(_, at)) = words.get(2) {
        return Err(error(
            src,
            at,
            "the end (ordering by several fields is not offered)",
        ));
    }
    Ok(OrderBy { field, descending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(field: &str, op: Op, value: &str) -> Expr {
        Expr::Restriction(Restriction {
            field: field.into(),
            field_at: 0,
            op,
            value: Literal {
                text: value.into(),
                quoted: false,
            },
            value_at: 0,
        })
    }

    /// The parse with positions zeroed, for structural comparison.
    fn shape(src: &str) -> Expr {
        fn strip(e: Expr) -> Expr {
            match e {
                Expr::And(v) => Expr::And(v.into_iter().map(strip).collect()),
                Expr::Or(v) => Expr::Or(v.into_iter().map(strip).collect()),
                Expr::Not(e) => Expr::Not(Box::new(strip(*e))),
                Expr::Restriction(mut r) => {
                    r.field_at = 0;
                    r.value_at = 0;
                    r.value.quoted = false;
                    Expr::Restriction(r)
                }
            }
        }
        strip(parse(src).unwrap().unwrap())
    }

    #[test]
    fn comparators_and_literals() {
        for (src, op) in [
            ("a=1", Op::Eq),
            ("a != 1", Op::Ne),
            ("a<1", Op::Lt),
            ("a <= 1", Op::Le),
            ("a>1", Op::Gt),
            ("a >=1", Op::Ge),
            ("a:1", Op::Has),
        ] {
            assert_eq!(shape(src), r("a", op, "1"), "{src}");
        }
        assert_eq!(
            shape(r#"x.y = "two words \" and \\""#),
            r("x.y", Op::Eq, r#"two words " and \"#)
        );
        assert_eq!(shape(r"t='it\'s'"), r("t", Op::Eq, "it's"));
        assert_eq!(
            parse("t='it''").unwrap_err().column,
            7,
            "a quote right after a value"
        );
        assert_eq!(
            shape("start_time>=2026-05-01T08:00:00+08:00"),
            r("start_time", Op::Ge, "2026-05-01T08:00:00+08:00")
        );
        assert_eq!(parse(" \t ").unwrap(), None);
    }

    #[test]
    fn precedence_or_binds_tighter_than_and() {
        let a = || r("a", Op::Eq, "1");
        let b = || r("b", Op::Eq, "2");
        let c = || r("c", Op::Eq, "3");
        assert_eq!(
            shape("a=1 AND b=2 OR c=3"),
            Expr::And(vec![a(), Expr::Or(vec![b(), c()])])
        );
        assert_eq!(
            shape("(a=1 AND b=2) OR c=3"),
            Expr::Or(vec![Expr::And(vec![a(), b()]), c()])
        );
        // A whitespace sequence is an AND.
        assert_eq!(shape("a=1 b=2"), Expr::And(vec![a(), b()]));
        assert_eq!(shape("NOT a=1"), Expr::Not(Box::new(a())));
        assert_eq!(
            shape("-a=1 OR b=2"),
            Expr::Or(vec![Expr::Not(Box::new(a())), b()])
        );
        assert_eq!(
            shape("NOT (a=1 OR b=2)"),
            Expr::Not(Box::new(Expr::Or(vec![a(), b()])))
        );
        // A keyword glued to a name is a name.
        assert_eq!(shape("ORDER=1"), r("ORDER", Op::Eq, "1"));
        assert_eq!(shape("NOTE=1"), r("NOTE", Op::Eq, "1"));
    }

    fn err(src: &str) -> FilterError {
        parse(src).unwrap_err()
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let e = err("a = 1 AND");
        assert_eq!(e.column, 10);
        assert!(e.expected.contains("field name"), "{e}");
        assert_eq!(e.found, "end of input");
        let e = err("a 1");
        assert_eq!(e.column, 3);
        assert!(e.expected.contains("comparator"), "{e}");
        let e = err("(a = 1");
        assert_eq!(e.column, 7);
        assert!(e.expected.contains(')'), "{e}");
        let e = err("a = \"open");
        assert_eq!(e.column, 5);
        assert!(e.expected.contains("closing"), "{e}");
        let e = err("a = 1)");
        assert_eq!(e.column, 6);
        let e = err("a =");
        assert!(e.expected.contains("value"), "{e}");
        let e = err("a = AND");
        assert!(
            e.expected.contains("keyword") || e.expected.contains("value"),
            "{e}"
        );
        let e = err("()");
        assert_eq!(e.column, 2);
        let e = err("f(x)");
        assert_eq!(e.column, 2, "functions are not offered: {e}");
        let e = err("= 1");
        assert_eq!(e.column, 1);
        // Columns count characters, not bytes.
        let e = err("名 = 1");
        assert_eq!(e.column, 1);
        let e = err("a = \"队\" b");
        assert_eq!(e.column, 10, "{e}");
        // a value runs into a parenthesis: the parenthesis needs whitespace before it
        let e = err("a=1(b=2)");
        assert_eq!(e.column, 4, "{e}");
    }

    #[test]
    fn bounds_on_length_depth_and_count() {
        let long = format!("a = \"{}\"", "x".repeat(MAX_FILTER_LEN));
        assert!(err(&long).expected.contains("bytes"));
        let deep = format!(
            "{}a=1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(err(&deep).expected.contains("nesting"), "{}", err(&deep));
        let ok = format!(
            "{}a=1{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(&ok).is_ok());
        let nots = format!(
            "{}a=1{}",
            "-(".repeat(MAX_DEPTH / 2),
            ")".repeat(MAX_DEPTH / 2)
        );
        assert!(err(&nots).expected.contains("nesting"), "{}", err(&nots));
        assert!(err("--a=1").expected.contains("field name"));
        let many = vec!["a=1"; MAX_RESTRICTIONS + 1].join(" OR ");
        assert!(err(&many).expected.contains("comparisons"));
        let fine = vec!["a=1"; MAX_RESTRICTIONS].join(" OR ");
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(rfc3339_ms("1970-01-01t00:00:00.123456z"), Some(123));
        assert_eq!(rfc3339_ms("1970-01-01T08:00:00+08:00"), Some(0));
        assert_eq!(rfc3339_ms("1969-12-31T23:00:00-01:00"), Some(0));
        // 2023-11-14T22:13:20Z is 1_700_000_000 s.
        assert_eq!(rfc3339_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(rfc3339_ms("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+8:00",
            "2023-11-14 22:13:20Z",
            "+023-11-14T22:13:20Z",
            "2023-11-14T22:13:20Zjunk",
            "２０２３-11-14T22:13:20Z",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_formats_and_reads_back() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_700_000_000_250),
            "2023-11-14T22:13:20.250Z"
        );
        assert_eq!(format_rfc3339(1_709_164_800_000), "2024-02-29T00:00:00Z");
        for ms in [
            0,
            1,
            999,
            86_399_999,
            951_782_400_000,
            1_700_000_000_123,
            4_102_444_800_000,
        ] {
            assert_eq!(rfc3339_ms(&format_rfc3339(ms)), Some(ms), "{ms}");
        }
    }

    struct Rec {
        name: &'static str,
        n: f64,
        on: bool,
        at: Option<i64>,
        state: usize,
        radio: u64,
        talkers: Vec<u64>,
    }

    fn key(s: &str) -> Result<u64, String> {
        s.strip_prefix("radios/")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "expected radios/{n}".to_string())
    }

    const SCHEMA: &[Field] = &[
        Field::one("name", Kind::Text),
        Field::one("n", Kind::Number),
        Field::one("on", Kind::Bool),
        Field::one("at", Kind::Time),
        Field::one(
            "state",
            Kind::Enum(&["STATE_UNSPECIFIED", "ACTIVE", "ENDED"]),
        ),
        Field::one("radio", Kind::Key(key)),
        Field::many("talkers", Kind::Key(key)),
    ];

    impl Record for Rec {
        fn value(&self, i: usize) -> Value<'_> {
            match i {
                0 => Value::Text(Cow::Borrowed(self.name)),
                1 => Value::Number(self.n),
                2 => Value::Bool(self.on),
                3 => self.at.map_or(Value::Missing, Value::Time),
                4 => Value::Enum(self.state),
                5 => Value::Key(self.radio),
                _ => Value::Keys(self.talkers.clone()),
            }
        }
    }

    fn rec() -> Rec {
        Rec {
            name: "城关镇救援一组",
            n: 2.5,
            on: true,
            at: Some(1_700_000_000_000),
            state: 1,
            radio: 7,
            talkers: vec![7, 9],
        }
    }

    fn m(src: &str) -> bool {
        Filter::compile(src, SCHEMA)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .matches(&rec())
    }

    #[test]
    fn compiled_filters_evaluate() {
        assert!(m(""));
        assert!(m("n = 2.5") && m("n > 2") && m("n <= 2.5") && !m("n < 2.5") && m("n != 3"));
        assert!(m("on = true") && !m("on = false") && m("on != false"));
        assert!(m("state = ACTIVE") && !m("state = ENDED") && m("state != ENDED"));
        assert!(m("radio = radios/7") && !m("radio = radios/8") && m("radio != radios/8"));
        assert!(m("talkers : radios/9") && m("talkers = radios/7") && !m("talkers:radios/8"));
        assert!(m("talkers != radios/8") && !m("talkers != radios/9"));
        assert!(m("at >= \"2023-11-14T22:13:20Z\"") && !m("at > 2023-11-14T22:13:20Z"));
        assert!(m("at < 2023-11-15T06:13:20.001+08:00"));
        assert!(m("name = 城关镇救援一组") && m("name : 救援") && !m("name : 二组"));
        assert!(m("name:*") && m("at:*") && m("talkers:*"));
        assert!(m("name = 城关*") && m("name = \"城关镇*\"") && !m("name = 二*"));
        assert!(m("name != 二*") && !m("name != 城*"));
        let f = Filter::compile("n > 1 OR -(state = ACTIVE)", SCHEMA).unwrap();
        assert!(f.uses(1) && f.uses(4) && !f.uses(0));
        assert!(!Filter::default().uses(0));
        assert!(m("n > 2 AND (state = ENDED OR radio = radios/7)"));
        assert!(!m("NOT n > 2") && m("-state = ENDED"));
        assert!(m("n = 1 OR n = 2.5 on = true"));
        let unset = Rec { at: None, ..rec() };
        let f = |s: &str| Filter::compile(s, SCHEMA).unwrap().matches(&unset);
        assert!(!f("at > 1970-01-01T00:00:00Z") && !f("at:*") && f("at != 1970-01-01T00:00:00Z"));
    }

    fn cerr(src: &str) -> FilterError {
        Filter::compile(src, SCHEMA).unwrap_err()
    }

    #[test]
    fn compile_errors_name_the_field_or_value() {
        let e = cerr("nope = 1");
        assert_eq!(e.column, 1);
        assert!(
            e.expected
                .contains("name, n, on, at, state, radio, talkers"),
            "{e}"
        );
        let e = cerr("n = x");
        assert_eq!((e.column, e.expected.as_str()), (5, "a number"));
        assert!(cerr("n = NaN").expected.contains("number"));
        assert!(cerr("on = yes").expected.contains("true or false"));
        assert!(cerr("on > true").expected.contains("= or !="));
        assert!(cerr("state = RUNNING").expected.contains("ACTIVE"));
        assert!(cerr("state < ACTIVE").expected.contains("= or !="));
        let e = cerr("radio = radios/x");
        assert_eq!(e.column, 9);
        assert!(e.expected.contains("radios/{n}"), "{e}");
        assert!(cerr("radio > radios/1").expected.contains("=, != or :"));
        assert!(cerr("talkers > radios/1").expected.contains("repeated"));
        let e = cerr("at > 2023-11-14");
        assert_eq!(e.column, 6);
        assert!(e.expected.contains("RFC 3339"));
    }

    #[test]
    fn order_by_one_field() {
        let fields = ["start_time", "name"];
        let d = OrderBy {
            field: 0,
            descending: true,
        };
        let p = |s| parse_order_by(s, &fields, d);
        assert_eq!(p("").unwrap(), d);
        assert_eq!(
            p("name").unwrap(),
            OrderBy {
                field: 1,
                descending: false
            }
        );
        assert_eq!(
            p(" start_time  asc ").unwrap(),
            OrderBy {
                field: 0,
                descending: false
            }
        );
        assert!(p("name desc").unwrap().descending);
        let e = p("time").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.expected.contains("start_time, name"));
        assert_eq!(p("name up").unwrap_err().column, 6);
        assert!(
            p("name, start_time")
                .unwrap_err()
                .expected
                .contains("one field")
        );
        assert!(p("name desc x").is_err());
        assert!(p(&"n".repeat(100)).is_err());
    }
}
