//! Expressions of flows: a value written `${{ <CEL> }}` is computed when the step runs; every
//! other value is a literal. A string that is one expression becomes the expression's value
//! (a number stays a number); a string with expressions inside text becomes text.
//!
//! Expressions are compiled when the definition is read, never later: a value that comes from
//! a run's input or a step's output is data, and is not parsed again as an expression, even
//! when it looks like one. They see `input` (the run's input), `steps.<name>.output` (the
//! latest output of a step that ended; inside a loop, the latest iteration's), `iteration`
//! (inside a loop, from 0) and `principal` (`subject`, `tenant`, `roles`).
//!
//! Bounds, each with a clear error past it: an expression has at most
//! [`MAX_EXPRESSION_CHARS`] characters and [`MAX_DEPTH`] levels of nesting, a macro
//! (`map`, `filter`, `all`, `exists`) may not contain another, and a value an expression or a
//! template computes is at most [`MAX_VALUE_BYTES`] as JSON.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr};
use cel::objects::Key;
use cel::{Context, Env, Value};
use serde_json::{Map, Value as Json};

/// Longest expression, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 2048;
/// Deepest nesting of an expression.
pub const MAX_DEPTH: u16 = 32;
/// Largest value, as JSON, that an expression or template may compute.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most expressions a definition may hold.
pub const MAX_EXPRESSIONS: usize = 1024;

const OPEN: &str = "${{";
const CLOSE: &str = "}}";

/// The names an expression may read.
pub const VARIABLES: [&str; 4] = ["input", "steps", "iteration", "principal"];

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// One compiled expression.
#[derive(Clone)]
pub struct Expr {
    source: Arc<str>,
    ast: Arc<IdedExpr>,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expr {}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{{ {} }}}}", self.source)
    }
}

/// Why an expression does not compile; `column` counts characters of the expression, from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", column.map(|c| format!("column {c}: ")).unwrap_or_default())]
pub struct ExprError {
    pub message: String,
    pub column: Option<usize>,
}

impl ExprError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            column: None,
        }
    }
}

/// Why an expression or template could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{expression}: {message}")]
pub struct EvalError {
    /// The expression's source.
    pub expression: String,
    pub message: String,
}

/// What the expressions of one step see.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub input: Json,
    /// By step name: `{"output": ..., "status": ...}` of the latest run of each step that ended.
    pub steps: Map<String, Json>,
    /// Inside a loop, the current iteration from 0.
    pub iteration: Option<u32>,
    pub principal: Json,
}

impl Scope {
    fn context(&self) -> Context<'static, 'static> {
        let mut context = Context::with_env(ENV.clone());
        context.add_variable_from_value("input", to_cel(&self.input));
        context.add_variable_from_value("steps", to_cel(&Json::Object(self.steps.clone())));
        context.add_variable_from_value("principal", to_cel(&self.principal));
        if let Some(iteration) = self.iteration {
            context.add_variable_from_value("iteration", Value::Int(i64::from(iteration)));
        }
        context
    }
}

impl Expr {
    /// Compiles an expression (the text between `${{` and `}}`).
    pub fn parse(source: &str) -> Result<Self, ExprError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(ExprError::new("empty expression"));
        }
        let chars = source.chars().count();
        if chars > MAX_EXPRESSION_CHARS {
            return Err(ExprError::new(format!(
                "the expression has {chars} characters; at most {MAX_EXPRESSION_CHARS}"
            )));
        }
        // The parser recurses on brackets before it checks its own depth limit: deep nesting
        // would overflow the stack, so it is refused first.
        if nesting(source) > usize::from(MAX_DEPTH) {
            return Err(ExprError::new(format!(
                "the expression nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let ast = parse_cel(source)?;
        let mut walk = Walk::default();
        walk.visit(&ast, 0)?;
        if let Some(name) = walk.unknown {
            return Err(ExprError::new(format!(
                "unknown name `{name}`: an expression reads {}",
                VARIABLES.join(", ")
            )));
        }
        Ok(Self {
            source: source.into(),
            ast: Arc::new(ast),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression reads `iteration`.
    pub fn reads_iteration(&self) -> bool {
        let mut walk = Walk::default();
        walk.visit(&self.ast, 0).is_ok() && walk.iteration
    }

    /// The step names the expression reads as `steps.<name>`.
    pub fn step_names(&self) -> Vec<String> {
        let mut walk = Walk::default();
        let _ = walk.visit(&self.ast, 0);
        walk.steps
    }

    /// Computes the expression.
    pub fn eval(&self, scope: &Scope) -> Result<Json, EvalError> {
        self.eval_in(&scope.context())
    }

    /// Computes a condition: it must be true or false.
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        match self.eval(scope)? {
            Json::Bool(value) => Ok(value),
            other => Err(self.error(format!(
                "a condition must be true or false, not {}",
                kind(&other)
            ))),
        }
    }

    fn eval_in(&self, context: &Context) -> Result<Json, EvalError> {
        let value = Value::resolve(&self.ast, context).map_err(|error| self.error(error))?;
        let mut budget = MAX_VALUE_BYTES;
        from_cel(&value, &mut budget).map_err(|message| self.error(message))
    }

    fn error(&self, message: impl ToString) -> EvalError {
        EvalError {
            expression: self.source.to_string(),
            message: message.to_string(),
        }
    }
}

/// Stack of the thread that parses: the generated parser recurses deeply for each bracket
/// (in a debug build, 15 levels overflow a 2 MiB stack), so it does not run on the caller's.
const PARSER_STACK: usize = 64 << 20;
/// Deepest syntax tree: what a 2 MiB stack evaluates with room to spare in a debug build.
const MAX_TREE_DEPTH: usize = 64;

fn depth(node: &IdedExpr) -> usize {
    let children: Vec<&IdedExpr> = match &node.expr {
        Ast::Call(call) => call.target.iter().map(|t| &**t).chain(&call.args).collect(),
        Ast::Select(select) => vec![&select.operand],
        Ast::List(list) => list.elements.iter().collect(),
        Ast::Map(map) => entries(&map.entries),
        Ast::Struct(object) => entries(&object.entries),
        Ast::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

fn entries(entries: &[cel::common::ast::IdedEntryExpr]) -> Vec<&IdedExpr> {
    entries
        .iter()
        .flat_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
            EntryExpr::StructField(field) => vec![&field.value],
        })
        .collect()
}

fn parse_cel(source: &str) -> Result<IdedExpr, ExprError> {
    let parse = || {
        let ast = ENV
            .parser()
            .max_recursion_depth(MAX_DEPTH)
            .parse(source)
            .map_err(|errors| {
                let first = errors.errors.first();
                ExprError {
                    message: first
                        .map(|error| error.msg.clone())
                        .unwrap_or_else(|| errors.to_string()),
                    column: first.and_then(|error| usize::try_from(error.pos.1).ok()),
                }
            })?;
        // A chain of operators (`1 + 1 + ...`) is as deep as it is long, brackets or not; the
        // checks and the evaluation recurse on the tree.
        if depth(&ast) > MAX_TREE_DEPTH {
            return Err(ExprError::new(format!(
                "the expression nests deeper than {MAX_TREE_DEPTH} operations"
            )));
        }
        Ok(ast)
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("cel-parse".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, parse)
            .map_err(|error| ExprError::new(format!("cannot start the parser: {error}")))?
            .join()
            .map_err(|_| ExprError::new("the expression could not be parsed"))?
    })
}

/// What an expression's syntax tree holds that the checks need.
#[derive(Default)]
struct Walk {
    /// Names read that no expression may read (outside macros' own variables).
    unknown: Option<String>,
    iteration: bool,
    steps: Vec<String>,
    /// Variables of the macros around the node being visited.
    bound: Vec<String>,
}

impl Walk {
    fn visit(&mut self, node: &IdedExpr, macros: usize) -> Result<(), ExprError> {
        match &node.expr {
            Ast::Ident(name) => {
                if !self.bound.contains(name) {
                    if name == "iteration" {
                        self.iteration = true;
                    } else if !VARIABLES.contains(&name.as_str()) && self.unknown.is_none() {
                        self.unknown = Some(name.clone());
                    }
                }
            }
            Ast::Select(select) => {
                if let Ast::Ident(root) = &select.operand.expr
                    && root == "steps"
                    && !self.bound.contains(root)
                    && !self.steps.contains(&select.field)
                {
                    self.steps.push(select.field.clone());
                }
                self.visit(&select.operand, macros)?;
            }
            Ast::Call(call) => {
                if let Some(target) = &call.target {
                    self.visit(target, macros)?;
                }
                for arg in &call.args {
                    self.visit(arg, macros)?;
                }
            }
            Ast::List(list) => {
                for element in &list.elements {
                    self.visit(element, macros)?;
                }
            }
            Ast::Map(map) => self.entries(&map.entries, macros)?,
            Ast::Struct(object) => self.entries(&object.entries, macros)?,
            Ast::Comprehension(comprehension) => {
                if macros >= 1 {
                    return Err(ExprError::new(
                        "a macro (map, filter, all, exists) may not contain another",
                    ));
                }
                self.visit(&comprehension.iter_range, macros)?;
                self.visit(&comprehension.accu_init, macros)?;
                let before = self.bound.len();
                self.bound.push(comprehension.iter_var.clone());
                self.bound.extend(comprehension.iter_var2.clone());
                self.bound.push(comprehension.accu_var.clone());
                for part in [
                    &comprehension.loop_cond,
                    &comprehension.loop_step,
                    &comprehension.result,
                ] {
                    self.visit(part, macros + 1)?;
                }
                self.bound.truncate(before);
            }
            Ast::Literal(_) | Ast::Unspecified => {}
        }
        Ok(())
    }

    fn entries(
        &mut self,
        entries: &[cel::common::ast::IdedEntryExpr],
        macros: usize,
    ) -> Result<(), ExprError> {
        for entry in entries {
            match &entry.expr {
                EntryExpr::MapEntry(entry) => {
                    self.visit(&entry.key, macros)?;
                    self.visit(&entry.value, macros)?;
                }
                EntryExpr::StructField(field) => self.visit(&field.value, macros)?,
            }
        }
        Ok(())
    }
}

/// A value of a definition, with the expressions in it compiled.
#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    /// No expression anywhere inside.
    Literal(Json),
    /// A string that is one expression: its value.
    Expr(Expr),
    /// A string with expressions inside text.
    Text(Vec<Piece>),
    Array(Vec<Template>),
    Object(Vec<(String, Template)>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Expr(Expr),
}

/// Why a value does not compile: where in it (`.client`, `[2]`), and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{error}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct TemplateError {
    pub path: String,
    pub error: ExprError,
}

impl Template {
    /// Compiles every `${{ }}` in a value.
    pub fn parse(value: &Json) -> Result<Self, TemplateError> {
        let mut count = 0;
        Self::parse_at(value, "", &mut count)
    }

    /// Compiles a string that must be one expression (`when`, `until`), with or without
    /// `${{ }}` around it.
    pub fn condition(text: &str) -> Result<Expr, ExprError> {
        let trimmed = text.trim();
        match trimmed
            .strip_prefix(OPEN)
            .and_then(|rest| rest.strip_suffix(CLOSE))
        {
            Some(inner) if !inner.contains(OPEN) => Expr::parse(inner),
            _ if trimmed.contains(OPEN) => Err(ExprError::new(
                "a condition is one expression: `${{ ... }}` around all of it",
            )),
            _ => Expr::parse(trimmed),
        }
    }

    fn parse_at(value: &Json, path: &str, count: &mut usize) -> Result<Self, TemplateError> {
        let at = |error: ExprError| TemplateError {
            path: path.to_owned(),
            error,
        };
        match value {
            Json::String(text) if text.contains(OPEN) => {
                let pieces = split(text).map_err(at)?;
                *count += pieces
                    .iter()
                    .filter(|piece| matches!(piece, Piece::Expr(_)))
                    .count();
                if *count > MAX_EXPRESSIONS {
                    return Err(at(ExprError::new(format!(
                        "a definition holds at most {MAX_EXPRESSIONS} expressions"
                    ))));
                }
                match <[Piece; 1]>::try_from(pieces) {
                    Ok([Piece::Expr(expr)]) => Ok(Self::Expr(expr)),
                    Ok([piece]) => Ok(Self::Text(vec![piece])),
                    Err(pieces) => Ok(Self::Text(pieces)),
                }
            }
            Json::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| Self::parse_at(item, &format!("{path}[{index}]"), count))
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|item| matches!(item, Self::Literal(_))) {
                    return Ok(Self::Literal(value.clone()));
                }
                Ok(Self::Array(items))
            }
            Json::Object(fields) => {
                let fields = fields
                    .iter()
                    .map(|(key, item)| {
                        Self::parse_at(item, &format!("{path}.{key}"), count)
                            .map(|item| (key.clone(), item))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if fields
                    .iter()
                    .all(|(_, item)| matches!(item, Self::Literal(_)))
                {
                    return Ok(Self::Literal(value.clone()));
                }
                Ok(Self::Object(fields))
            }
            other => Ok(Self::Literal(other.clone())),
        }
    }

    /// Computes the value; the result is at most [`MAX_VALUE_BYTES`] as JSON.
    pub fn render(&self, scope: &Scope) -> Result<Json, EvalError> {
        if let Self::Literal(value) = self {
            return Ok(value.clone());
        }
        let context = scope.context();
        let value = self.render_in(&context)?;
        let size = serde_json::to_vec(&value)
            .map(|bytes| bytes.len())
            .unwrap_or(0);
        if size > MAX_VALUE_BYTES {
            return Err(EvalError {
                expression: "input".to_owned(),
                message: format!("the value is {size} bytes as JSON; at most {MAX_VALUE_BYTES}"),
            });
        }
        Ok(value)
    }

    fn render_in(&self, context: &Context) -> Result<Json, EvalError> {
        Ok(match self {
            Self::Literal(value) => value.clone(),
            Self::Expr(expr) => expr.eval_in(context)?,
            Self::Text(pieces) => {
                let mut text = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(part) => text.push_str(part),
                        Piece::Expr(expr) => match expr.eval_in(context)? {
                            Json::String(part) => text.push_str(&part),
                            other => text.push_str(&other.to_string()),
                        },
                    }
                    if text.len() > MAX_VALUE_BYTES {
                        return Err(EvalError {
                            expression: "text".to_owned(),
                            message: format!("the text is longer than {MAX_VALUE_BYTES} bytes"),
                        });
                    }
                }
                Json::String(text)
            }
            Self::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| item.render_in(context))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(key, item)| item.render_in(context).map(|item| (key.clone(), item)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Every expression inside, in order.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Self::Literal(_) => Vec::new(),
            Self::Expr(expr) => vec![expr],
            Self::Text(pieces) => pieces
                .iter()
                .filter_map(|piece| match piece {
                    Piece::Expr(expr) => Some(expr),
                    Piece::Text(_) => None,
                })
                .collect(),
            Self::Array(items) => items.iter().flat_map(Self::exprs).collect(),
            Self::Object(fields) => fields.iter().flat_map(|(_, item)| item.exprs()).collect(),
        }
    }
}

/// Splits text into literal parts and expressions. An expression ends at the first `}}`
/// outside its string literals and braces, so a map literal may close with `}}`.
fn split(text: &str) -> Result<Vec<Piece>, ExprError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let body = &rest[start + OPEN.len()..];
        let end = expression_end(body).ok_or_else(|| ExprError::new("`${{` without `}}`"))?;
        pieces.push(Piece::Expr(Expr::parse(&body[..end])?));
        rest = &body[end + CLOSE.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Where the expression at the start of `body` ends: the byte offset of its `}}`.
fn expression_end(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let (mut depth, mut quote, mut index) = (0usize, None::<u8>, 0);
    while index < bytes.len() {
        let byte = bytes[index];
        match quote {
            Some(_) if byte == b'\\' => index += 1,
            Some(open) if byte == open => quote = None,
            Some(_) => {}
            None => match byte {
                b'\'' | b'"' => quote = Some(byte),
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if bytes.get(index + 1) == Some(&b'}') => return Some(index),
                _ => {}
            },
        }
        index += 1;
    }
    None
}

/// The deepest nesting of brackets outside string literals.
fn nesting(source: &str) -> usize {
    let (mut depth, mut deepest, mut quote, mut escaped) = (0usize, 0usize, None::<char>, false);
    for c in source.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

/// JSON as CEL sees it: integers that fit are `int` (so `input.boxes * 2` works), larger ones
/// `uint`, others `double`.
fn to_cel(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(value) => Value::Bool(*value),
        Json::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => Value::Int(int),
            (None, Some(uint)) => Value::UInt(uint),
            _ => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => Value::String(Arc::new(text.clone())),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Json::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(key, value)| (Key::String(Arc::new(key.clone())), to_cel(value)))
                .collect();
            Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// A CEL value as JSON, spending `budget` (bytes, roughly as JSON): a value past it is an
/// error, not a copy that fills memory.
fn from_cel(value: &Value, budget: &mut usize) -> Result<Json, String> {
    let mut spend = |bytes: usize| {
        if bytes > *budget {
            return Err(format!("the value is larger than {MAX_VALUE_BYTES} bytes"));
        }
        *budget -= bytes;
        Ok(())
    };
    Ok(match value {
        Value::Null => {
            spend(4)?;
            Json::Null
        }
        Value::Bool(value) => {
            spend(5)?;
            Json::Bool(*value)
        }
        Value::Int(value) => {
            spend(8)?;
            Json::from(*value)
        }
        Value::UInt(value) => {
            spend(8)?;
            Json::from(*value)
        }
        Value::Float(value) => {
            spend(8)?;
            serde_json::Number::from_f64(*value)
                .map(Json::Number)
                .ok_or_else(|| format!("{value} is not a JSON number"))?
        }
        Value::String(text) => {
            spend(text.len() + 2)?;
            Json::String(text.to_string())
        }
        Value::List(items) => {
            spend(2)?;
            let mut array = Vec::with_capacity(items.len().min(1024));
            for item in items.iter() {
                array.push(from_cel(item, budget)?);
            }
            Json::Array(array)
        }
        Value::Map(map) => {
            spend(2)?;
            let mut object = Map::new();
            for (key, item) in map.map.iter() {
                let key = match key {
                    Key::String(key) => key.to_string(),
                    Key::Int(key) => key.to_string(),
                    Key::Uint(key) => key.to_string(),
                    Key::Bool(key) => key.to_string(),
                };
                if key.len() + 3 > *budget {
                    return Err(format!("the value is larger than {MAX_VALUE_BYTES} bytes"));
                }
                *budget -= key.len() + 3;
                object.insert(key, from_cel(item, budget)?);
            }
            Json::Object(object)
        }
        other => return Err(format!("a {} value has no JSON form", other.type_of())),
    })
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        Scope {
            input: json!({"client": "acme", "boxes": 3, "n": 2.5, "list": [1, 2, 3]}),
            steps: json!({"quote": {"output": {"total": 1200}, "status": "succeeded"}})
                .as_object()
                .unwrap()
                .clone(),
            iteration: Some(0),
            principal: json!({"subject": "ann", "tenant": "default", "roles": ["finance"]}),
        }
    }

    fn render(value: Json) -> Json {
        Template::parse(&value).unwrap().render(&scope()).unwrap()
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_interpolates() {
        assert_eq!(render(json!("${{ input.boxes * 2 }}")), json!(6));
        assert_eq!(
            render(
                json!({"who": "${{ input.client }}", "n": "${{ iteration == 0 ? input.n : 1.0 }}"})
            ),
            json!({"who": "acme", "n": 2.5})
        );
        assert_eq!(
            render(json!(
                "boxes: ${{ input.boxes }}, total ${{ steps.quote.output.total }}"
            )),
            json!("boxes: 3, total 1200")
        );
        assert_eq!(
            render(json!("${{ {'a': {'b': 1}} }}")),
            json!({"a": {"b": 1}})
        );
        assert_eq!(render(json!("${{ '}}' }}")), json!("}}"));
        assert_eq!(
            render(json!([1, "${{ principal.roles[0] }}"])),
            json!([1, "finance"])
        );
        assert_eq!(
            render(json!({"plain": [1, {"x": true}]})),
            json!({"plain": [1, {"x": true}]})
        );
        assert_eq!(
            render(json!("${{ input.list.map(x, x * 2) }}")),
            json!([2, 4, 6])
        );
    }

    #[test]
    fn values_from_inputs_are_data() {
        let mut scope = scope();
        scope.input = json!({"client": "${{ principal.subject }}"});
        let rendered = Template::parse(&json!("${{ input.client }}"))
            .unwrap()
            .render(&scope)
            .unwrap();
        assert_eq!(rendered, json!("${{ principal.subject }}"));
    }

    #[test]
    fn conditions_are_booleans() {
        let when = Template::condition("${{ steps.quote.output.total > 1000 }}").unwrap();
        assert!(when.eval_bool(&scope()).unwrap());
        let bare = Template::condition("input.boxes > 5").unwrap();
        assert!(!bare.eval_bool(&scope()).unwrap());
        let error = Template::condition("input.boxes")
            .unwrap()
            .eval_bool(&scope())
            .unwrap_err();
        assert!(error.message.contains("true or false"), "{error}");
        assert!(Template::condition("x ${{ a }}").is_err());
    }

    #[test]
    fn bad_expressions_say_where() {
        let error = Template::parse(&json!({"a": {"b": "${{ 1 + }}"}})).unwrap_err();
        assert_eq!(error.path, ".a.b");
        assert_eq!(error.error.column, Some(4), "{error}");
        let error = Template::parse(&json!("${{ input.x")).unwrap_err();
        assert!(error.to_string().contains("without `}}`"), "{error}");
        let error = Expr::parse("secrets.key").unwrap_err();
        assert!(error.message.contains("unknown name `secrets`"), "{error}");
        assert!(Expr::parse("input.list.map(x, x + 1)").is_ok());
        let error = Expr::parse("input.list.map(x, input.list.map(y, y))").unwrap_err();
        assert!(error.message.contains("may not contain another"), "{error}");
        let long = format!("1{}", " + 1".repeat(MAX_EXPRESSION_CHARS));
        assert!(
            Expr::parse(&long)
                .unwrap_err()
                .message
                .contains("characters")
        );
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(
            Expr::parse(&deep)
                .unwrap_err()
                .message
                .contains("nests deeper")
        );
        let chain = format!("1{}", " + 1".repeat(40));
        assert_eq!(
            Expr::parse(&chain).unwrap().eval(&scope()).unwrap(),
            json!(41)
        );
        let chain = format!("1{}", " + 1".repeat(400));
        assert!(
            Expr::parse(&chain)
                .unwrap_err()
                .message
                .contains("operations")
        );
        assert!(Expr::parse("'((((((((((((((((((((((((((((((((((((((((('").is_ok());
    }

    #[test]
    fn evaluation_errors_name_the_expression() {
        let error = Expr::parse("input.missing")
            .unwrap()
            .eval(&scope())
            .unwrap_err();
        assert_eq!(error.expression, "input.missing");
        assert!(error.message.contains("missing"), "{error}");
        let outside = Scope {
            iteration: None,
            ..scope()
        };
        assert!(Expr::parse("iteration").unwrap().eval(&outside).is_err());
    }

    #[test]
    fn large_values_are_refused() {
        let mut scope = scope();
        scope.input = json!({"big": "x".repeat(MAX_VALUE_BYTES / 2 + 10)});
        let template = Template::parse(&json!(["${{ input.big }}", "${{ input.big }}"])).unwrap();
        let error = template.render(&scope).unwrap_err();
        assert!(error.message.contains("bytes"), "{error}");
        let error = Expr::parse("[input.big, input.big, input.big]")
            .unwrap()
            .eval(&scope)
            .unwrap_err();
        assert!(error.message.contains("larger than"), "{error}");
    }

    #[test]
    fn references_are_known() {
        let expr =
            Expr::parse("steps.quote.output.total + steps.check.output.n + iteration").unwrap();
        assert_eq!(expr.step_names(), ["quote", "check"]);
        assert!(expr.reads_iteration());
        assert!(
            !Expr::parse("input.list.map(iteration, iteration)")
                .unwrap()
                .reads_iteration()
        );
    }
}
