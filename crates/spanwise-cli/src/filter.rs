//! The filter language of `--filter`: conditions on a trace joined with `and`.
//!
//! ```text
//! filter    := condition ("and" condition)*
//! condition := field operator value
//! field     := name | state | duration | spans | request | response
//!            | tag.<key> | metadata.<key> | span.type | span.name
//! operator  := = | != | > | >= | < | <= | ~        (~ means "contains")
//! value     := 'quoted' | "quoted" | bare-word      (durations: 100ms, 1.5s, 250us)
//! ```
//!
//! `span.type = LLM` holds when any span of the trace is an LLM span; `span.type != LLM` when
//! none is. Keywords and state/type values are case-insensitive; names, tags and previews are not.

use std::fmt;
use std::time::Duration;

use spanwise_core::{Trace, TraceState};

/// A parsed filter; the empty filter matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    conditions: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq)]
enum Condition {
    Text {
        field: TextField,
        op: TextOp,
        value: String,
    },
    State {
        equal: bool,
        state: TraceState,
    },
    Duration {
        op: Ordering,
        value: Duration,
    },
    Spans {
        op: Ordering,
        value: u64,
    },
    SpanType {
        equal: bool,
        value: String,
    },
    SpanName {
        op: TextOp,
        value: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum TextField {
    Name,
    Request,
    Response,
    Tag(String),
    Metadata(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum TextOp {
    Eq,
    Ne,
    Contains,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ordering {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter that does not parse: what is wrong and where (a character offset into the text).
#[derive(Clone, Debug, PartialEq)]
pub struct FilterError {
    pub position: usize,
    pub message: String,
    text: String,
}

impl fmt::Display for FilterError {
    /// The message, then the filter with a caret under the offending place.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid filter at column {}: {}",
            self.position + 1,
            self.message
        )?;
        writeln!(f, "  {}", self.text)?;
        write!(f, "  {}^", " ".repeat(self.position))
    }
}

impl Filter {
    /// Parses the filter language described in the module docs.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let err = |position: usize, message: String| FilterError {
            position,
            message,
            text: text.to_string(),
        };
        let tokens = tokenize(text).map_err(|(p, m)| err(p, m))?;
        let end = text.chars().count();
        let mut conditions = Vec::new();
        let mut i = 0;
        if tokens.is_empty() {
            return Ok(Filter::default());
        }
        loop {
            let (field, fpos) = match tokens.get(i) {
                Some(Token {
                    kind: Kind::Word(w),
                    pos,
                }) => (w.clone(), *pos),
                Some(t) => {
                    return Err(err(
                        t.pos,
                        "expected a field such as name, state, duration, tag.<key>, span.type"
                            .into(),
                    ));
                }
                None => return Err(err(end, "expected a condition after `and`".into())),
            };
            let (op, opos) = match tokens.get(i + 1) {
                Some(Token {
                    kind: Kind::Op(op),
                    pos,
                }) => (*op, *pos),
                Some(t) => {
                    return Err(err(
                        t.pos,
                        format!("expected an operator (=, !=, >, >=, <, <=, ~) after `{field}`"),
                    ));
                }
                None => {
                    return Err(err(
                        end,
                        format!("expected an operator (=, !=, >, >=, <, <=, ~) after `{field}`"),
                    ));
                }
            };
            let (value, vpos) = match tokens.get(i + 2) {
                Some(Token {
                    kind: Kind::Word(w) | Kind::Quoted(w),
                    pos,
                }) => (w.clone(), *pos),
                Some(t) => {
                    return Err(err(
                        t.pos,
                        format!("expected a value after `{}`", op.symbol()),
                    ));
                }
                None => {
                    return Err(err(
                        end,
                        format!("expected a value after `{}`", op.symbol()),
                    ));
                }
            };
            conditions
                .push(condition(&field, fpos, op, opos, value, vpos).map_err(|(p, m)| err(p, m))?);
            i += 3;
            match tokens.get(i) {
                None => break,
                Some(Token {
                    kind: Kind::Word(w),
                    ..
                }) if w.eq_ignore_ascii_case("and") => i += 1,
                Some(Token {
                    kind: Kind::Word(w),
                    pos,
                }) if w.eq_ignore_ascii_case("or") => {
                    return Err(err(
                        *pos,
                        "only `and` is supported; run the command once per alternative".into(),
                    ));
                }
                Some(t) => return Err(err(t.pos, "expected `and` between conditions".into())),
            }
        }
        Ok(Filter { conditions })
    }

    /// Whether the trace passes every condition.
    pub fn matches(&self, trace: &Trace) -> bool {
        self.conditions.iter().all(|c| c.matches(trace))
    }
}

fn condition(
    field: &str,
    fpos: usize,
    op: RawOp,
    opos: usize,
    value: String,
    vpos: usize,
) -> Result<Condition, (usize, String)> {
    let lower = field.to_ascii_lowercase();
    let text_op = |what: &str| match op {
        RawOp::Eq => Ok(TextOp::Eq),
        RawOp::Ne => Ok(TextOp::Ne),
        RawOp::Contains => Ok(TextOp::Contains),
        _ => Err((
            opos,
            format!("{what} takes =, != or ~ (contains), not `{}`", op.symbol()),
        )),
    };
    let equality = |what: &str| match op {
        RawOp::Eq => Ok(true),
        RawOp::Ne => Ok(false),
        _ => Err((opos, format!("{what} takes = or !=, not `{}`", op.symbol()))),
    };
    let ordering = |what: &str| match op {
        RawOp::Eq => Ok(Ordering::Eq),
        RawOp::Ne => Ok(Ordering::Ne),
        RawOp::Gt => Ok(Ordering::Gt),
        RawOp::Ge => Ok(Ordering::Ge),
        RawOp::Lt => Ok(Ordering::Lt),
        RawOp::Le => Ok(Ordering::Le),
        RawOp::Contains => Err((
            opos,
            format!("{what} takes a comparison (=, !=, >, >=, <, <=), not `~`"),
        )),
    };
    let keyed = |prefix: &str| -> Option<Result<String, (usize, String)>> {
        let rest = field.get(prefix.len()..)?;
        if !lower.starts_with(prefix) {
            return None;
        }
        Some(if rest.is_empty() {
            Err((
                fpos + prefix.len(),
                format!("`{prefix}` needs a key, e.g. {prefix}fruit"),
            ))
        } else {
            Ok(rest.to_string())
        })
    };
    if let Some(key) = keyed("tag.") {
        return Ok(Condition::Text {
            field: TextField::Tag(key?),
            op: text_op("a tag")?,
            value,
        });
    }
    if let Some(key) = keyed("metadata.") {
        return Ok(Condition::Text {
            field: TextField::Metadata(key?),
            op: text_op("metadata")?,
            value,
        });
    }
    match lower.as_str() {
        "name" => Ok(Condition::Text {
            field: TextField::Name,
            op: text_op("name")?,
            value,
        }),
        "request" => Ok(Condition::Text {
            field: TextField::Request,
            op: text_op("request")?,
            value,
        }),
        "response" => Ok(Condition::Text {
            field: TextField::Response,
            op: text_op("response")?,
            value,
        }),
        "state" => {
            let equal = equality("state")?;
            let state = value.parse::<TraceState>().map_err(|_| {
                (
                    vpos,
                    format!(
                        "unknown state {value:?}: use OK, ERROR, IN_PROGRESS or STATE_UNSPECIFIED"
                    ),
                )
            })?;
            Ok(Condition::State { equal, state })
        }
        "duration" => {
            let op = ordering("duration")?;
            let value = crate::durations::parse(&value).map_err(|m| (vpos, m))?;
            Ok(Condition::Duration { op, value })
        }
        "spans" => {
            let op = ordering("spans")?;
            let value = value
                .parse()
                .map_err(|_| (vpos, format!("{value:?} is not a whole number of spans")))?;
            Ok(Condition::Spans { op, value })
        }
        "span.type" => Ok(Condition::SpanType {
            equal: equality("span.type")?,
            value,
        }),
        "span.name" => Ok(Condition::SpanName {
            op: text_op("span.name")?,
            value,
        }),
        _ => Err((
            fpos,
            format!(
                "unknown field `{field}`: use name, state, duration, spans, request, response, \
                 tag.<key>, metadata.<key>, span.type or span.name"
            ),
        )),
    }
}

impl Condition {
    fn matches(&self, trace: &Trace) -> bool {
        match self {
            Condition::Text { field, op, value } => {
                let actual = match field {
                    TextField::Name => trace.name(),
                    TextField::Request => trace.info.request_preview.as_deref(),
                    TextField::Response => trace.info.response_preview.as_deref(),
                    TextField::Tag(k) => trace.info.tags.get(k).map(String::as_str),
                    TextField::Metadata(k) => trace.info.trace_metadata.get(k).map(String::as_str),
                };
                op.test(actual, value)
            }
            Condition::State { equal, state } => (trace.info.state == *state) == *equal,
            Condition::Duration { op, value } => match crate::trace_view::duration(trace) {
                Some(d) => op.test(d, *value),
                None => false,
            },
            Condition::Spans { op, value } => op.test(trace.data.spans.len() as u64, *value),
            Condition::SpanType { equal, value } => {
                let any = trace
                    .data
                    .spans
                    .iter()
                    .any(|s| s.span_type().as_str().eq_ignore_ascii_case(value));
                any == *equal
            }
            Condition::SpanName { op, value } => match op {
                // "no span is named x", mirroring span.type.
                TextOp::Ne => !trace.data.spans.iter().any(|s| s.name == *value),
                _ => trace
                    .data
                    .spans
                    .iter()
                    .any(|s| op.test(Some(&s.name), value)),
            },
        }
    }
}

impl TextOp {
    /// A missing field equals nothing and differs from everything.
    fn test(self, actual: Option<&str>, value: &str) -> bool {
        match (self, actual) {
            (TextOp::Eq, Some(a)) => a == value,
            (TextOp::Contains, Some(a)) => a.contains(value),
            (TextOp::Ne, Some(a)) => a != value,
            (TextOp::Ne, None) => true,
            (_, None) => false,
        }
    }
}

impl Ordering {
    fn test<T: PartialOrd>(self, actual: T, value: T) -> bool {
        match self {
            Ordering::Eq => actual == value,
            Ordering::Ne => actual != value,
            Ordering::Gt => actual > value,
            Ordering::Ge => actual >= value,
            Ordering::Lt => actual < value,
            Ordering::Le => actual <= value,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RawOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
}

impl RawOp {
    fn symbol(self) -> &'static str {
        match self {
            RawOp::Eq => "=",
            RawOp::Ne => "!=",
            RawOp::Gt => ">",
            RawOp::Ge => ">=",
            RawOp::Lt => "<",
            RawOp::Le => "<=",
            RawOp::Contains => "~",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Word(String),
    Quoted(String),
    Op(RawOp),
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    kind: Kind,
    /// Character offset of the token's first character.
    pos: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let pos = i;
        let two = chars.get(i + 1).copied();
        let op = match (c, two) {
            ('!', Some('=')) => Some((RawOp::Ne, 2)),
            ('>', Some('=')) => Some((RawOp::Ge, 2)),
            ('<', Some('=')) => Some((RawOp::Le, 2)),
            ('=', Some('=')) => Some((RawOp::Eq, 2)),
            ('=', _) => Some((RawOp::Eq, 1)),
            ('>', _) => Some((RawOp::Gt, 1)),
            ('<', _) => Some((RawOp::Lt, 1)),
            ('~', _) => Some((RawOp::Contains, 1)),
            ('!', _) => return Err((pos, "`!` must be followed by `=`".into())),
            _ => None,
        };
        if let Some((op, len)) = op {
            out.push(Token {
                kind: Kind::Op(op),
                pos,
            });
            i += len;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((pos, format!("unterminated string: add the closing {c}"))),
                    // A backslash keeps the next character, so quotes can be quoted.
                    Some('\\') if i + 1 < chars.len() => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Token {
                kind: Kind::Quoted(value),
                pos,
            });
            continue;
        }
        let mut word = String::new();
        while let Some(&w) = chars.get(i) {
            if w.is_whitespace() || matches!(w, '=' | '!' | '<' | '>' | '~' | '\'' | '"') {
                break;
            }
            word.push(w);
            i += 1;
        }
        out.push(Token {
            kind: Kind::Word(word),
            pos,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(json: &str) -> Trace {
        Trace::from_json(json).unwrap()
    }

    fn sample() -> Trace {
        trace(
            r#"{"info": {"trace_id": "tr-8069a0265eec15a1d9bbfa62bf64cbf6",
              "request_time": "2026-11-22T01:46:21.714Z", "state": "ERROR",
              "request_preview": "Hi bot", "execution_duration_ms": 150,
              "tags": {"mlflow.traceName": "agent", "fruit": "apple"},
              "trace_metadata": {"mlflow.trace.user": "ann"}},
              "data": {"spans": [
                {"trace_id": "gGmgJl7sFaHZu/pivvZMvw==", "span_id": "RNYFqWZ4/dI=", "parent_span_id": null,
                 "name": "agent", "start_time_unix_nano": 1000000000, "end_time_unix_nano": 1150000000,
                 "attributes": {"mlflow.spanType": "\"AGENT\""}},
                {"trace_id": "gGmgJl7sFaHZu/pivvZMvw==", "span_id": "/U5LdIzlFRk=", "parent_span_id": "RNYFqWZ4/dI=",
                 "name": "llm", "start_time_unix_nano": 1010000000, "end_time_unix_nano": 1100000000,
                 "attributes": {"mlflow.spanType": "\"LLM\""}}]}}"#,
        )
    }

    fn check(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&sample())
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert_eq!(Filter::parse("  ").unwrap(), Filter::default());
        assert!(check(""));
    }

    #[test]
    fn text_fields() {
        assert!(check("name = 'agent'"));
        assert!(check("name = agent"));
        assert!(!check("name = 'Agent'"));
        assert!(check("name != 'other'"));
        assert!(check("name ~ 'gen'"));
        assert!(check("tag.fruit = 'apple'"));
        assert!(!check("tag.fruit = 'pear'"));
        assert!(
            check("tag.colour != 'red'"),
            "a missing tag differs from every value"
        );
        assert!(!check("tag.colour = 'red'"));
        assert!(check("tag.mlflow.traceName = agent"), "keys may hold dots");
        assert!(check("metadata.mlflow.trace.user = \"ann\""));
        assert!(check("request ~ 'bot'"));
        assert!(!check("response ~ 'x'"), "no response preview");
    }

    #[test]
    fn state_duration_spans() {
        assert!(check("state = ERROR"));
        assert!(check("STATE = error"));
        assert!(check("state != OK"));
        assert!(!check("state = OK"));
        assert!(check("duration > 100ms"));
        assert!(check("duration >= 150ms"));
        assert!(!check("duration > 150ms"));
        assert!(check("duration < 1s"));
        assert!(check("duration <= 0.15s"));
        assert!(check("spans = 2"));
        assert!(!check("spans > 2"));
    }

    #[test]
    fn span_conditions_look_at_every_span() {
        assert!(check("span.type = LLM"));
        assert!(check("span.type = llm"));
        assert!(!check("span.type = TOOL"));
        assert!(check("span.type != TOOL"));
        assert!(!check("span.type != LLM"), "!= means no span has that type");
        assert!(check("span.name = llm"));
        assert!(check("span.name ~ ll"));
        assert!(!check("span.name != llm"));
    }

    #[test]
    fn and_joins_conditions() {
        assert!(check(
            "name = 'agent' and tag.fruit = 'apple' AND state = ERROR"
        ));
        assert!(!check("name = 'agent' and state = OK"));
    }

    #[test]
    fn quotes_and_escapes() {
        let t = sample();
        let f = Filter::parse(r#"name != 'it\'s' and name = "agent""#).unwrap();
        assert!(f.matches(&t));
        assert!(
            check("name='agent'and spans=2"),
            "no spaces needed around operators"
        );
    }

    fn error(filter: &str) -> FilterError {
        Filter::parse(filter).unwrap_err()
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = error("name 'x'");
        assert_eq!(e.position, 5);
        assert!(e.message.contains("expected an operator"), "{}", e.message);

        let e = error("colour = red");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("unknown field `colour`"));

        let e = error("state = DONE");
        assert_eq!(e.position, 8);
        assert!(e.message.contains("unknown state"));

        let e = error("duration > 100");
        assert_eq!(e.position, 11);
        assert!(e.message.contains("needs a unit"));

        let e = error("name > 'x'");
        assert_eq!(e.position, 5);
        assert!(e.message.contains("takes =, != or ~"));

        let e = error("name = 'x' or state = OK");
        assert_eq!(e.position, 11);
        assert!(e.message.contains("only `and`"));

        let e = error("name = 'x' state = OK");
        assert_eq!(e.position, 11);

        let e = error("name = 'x");
        assert_eq!(e.position, 7);
        assert!(e.message.contains("unterminated"));

        let e = error("name = 'x' and");
        assert_eq!(e.position, 14);
        assert!(e.message.contains("after `and`"));

        let e = error("name =");
        assert_eq!(e.position, 6);
        assert!(e.message.contains("expected a value"));

        let e = error("tag. = x");
        assert_eq!(e.position, 4);
        assert!(e.message.contains("needs a key"));

        let e = error("spans = many");
        assert!(e.message.contains("whole number"));

        assert_eq!(error("name ! x").position, 5);
        assert_eq!(error("= x").position, 0);
    }

    #[test]
    fn error_display_has_a_caret_under_the_position() {
        let shown = error("state = DONE").to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines[0].starts_with("invalid filter at column 9: unknown state"));
        assert_eq!(lines[1], "  state = DONE");
        assert_eq!(lines[2], "          ^");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let e = error("name = 'é' oops");
        assert_eq!(e.position, 11);
    }

    mod generated {
        //! Generated filters: no text makes the parser panic, every error points inside the
        //! text, and filters built from the grammar parse. For a longer run:
        //! `PROPTEST_CASES=100000 cargo test -p spanwise-cli --bin spanwise generated`.
        use super::*;
        use proptest::prelude::*;

        /// Keywords in any ASCII case (a regex's `(?i)` would bring in Unicode case folds).
        fn any_case(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
            (s, any::<u64>()).prop_map(|(s, bits)| {
                s.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if bits >> (i % 64) & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            })
        }

        fn field() -> impl Strategy<Value = String> {
            prop_oneof![
                any_case("(name|state|duration|spans|request|response|span\\.type|span\\.name)"),
                ("(tag|metadata)", "\\.[a-z0-9_.]{1,8}").prop_map(|(a, b)| a + &b),
            ]
        }

        fn op() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["=", "==", "!=", ">", ">=", "<", "<=", "~"])
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                "[A-Za-z0-9_.]{1,10}",
                "'[^'\\\\]{0,10}'",
                "\"[^\"\\\\]{0,10}\"",
                "[0-9]{1,30}(\\.[0-9]{1,3})?(ns|us|µs|ms|s|m|min|h)",
                any_case("(ok|error|in_progress|state_unspecified|llm|chain)"),
            ]
        }

        proptest! {
            #[test]
            fn any_text_parses_or_points_inside_it(text in "\\PC{0,40}|[a-z.=!<>~'\" 0-9]{0,40}") {
                match Filter::parse(&text) {
                    Ok(f) => { let _ = f.matches(&sample()); }
                    Err(e) => {
                        prop_assert!(e.position <= text.chars().count(), "{e:?}");
                        prop_assert!(!e.message.is_empty());
                        let shown = e.to_string();
                        prop_assert!(shown.contains("column"));
                    }
                }
            }

            #[test]
            fn filters_of_the_grammar_parse_unless_the_pair_is_refused(
                conditions in proptest::collection::vec((field(), op(), value()), 1..4),
            ) {
                let text = conditions
                    .iter()
                    .map(|(f, o, v)| format!("{f} {o} {v}"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                match Filter::parse(&text) {
                    Ok(f) => {
                        prop_assert_eq!(f.conditions.len(), conditions.len());
                        let _ = f.matches(&sample());
                    }
                    // Refused only for a field/operator/value mismatch, said at its place.
                    Err(e) => {
                        prop_assert!(e.position < text.chars().count(), "{e:?}");
                        prop_assert!(
                            ["takes", "unknown state", "not a", "unknown unit", "needs a unit", "too large"]
                                .iter()
                                .any(|m| e.message.contains(m)),
                            "{text}: {e}"
                        );
                    }
                }
            }
        }
    }
}
