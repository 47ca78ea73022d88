//! `.env` files: what `sealbox export --format dotenv` and the Variables tab's download write, and
//! what `sealbox run --dotenv` and `sealbox import` read. [`line`] writes one entry so that
//! [`parse`] reads back exactly the same value.

/// One `KEY=value` line, quoting the value when it holds anything but plain characters.
pub fn line(key: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.,:/@+=%".contains(&b));
    if plain {
        return format!("{key}={value}\n");
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '$' => quoted.push_str("\\$"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    format!("{key}=\"{quoted}\"\n")
}

/// What is wrong with a `.env` file, and on which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> DotenvError {
    DotenvError { line, message: message.into() }
}

/// The entries of a `.env` file, in file order; a later line for a key replaces an earlier one.
///
/// Lines are `KEY=value`, optionally after `export `; blank lines and `#` comments are skipped.
/// A value is bare (trimmed, up to a ` #` comment), single-quoted (taken literally) or
/// double-quoted (escapes `\\ \" \$ \n \r \t`; may span lines). Nothing is expanded: `$HOME`
/// stays `$HOME`. Keys are environment variable names: a letter or `_`, then letters, digits
/// and `_`.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(index, line)| (index + 1, line));
    while let Some((number, line)) = lines.next() {
        let line = line.trim_start_matches('\u{feff}').trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(error(number, "expected KEY=value"));
        };
        let key = key.trim_end();
        let mut chars = key.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(error(
                number,
                format!(
                    "'{key}' is not a variable name (letters, digits and _, not first a digit)"
                ),
            ));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let Some(end) = body.find('\'') else {
                return Err(error(number, "the single-quoted value is not closed"));
            };
            nothing_after(&body[end + 1..], number)?;
            body[..end].to_string()
        } else if let Some(body) = rest.strip_prefix('"') {
            double_quoted(body, number, &mut lines)?
        } else {
            let bare = rest.find(" #").or_else(|| rest.find("\t#")).map_or(rest, |at| &rest[..at]);
            bare.trim_end().to_string()
        };
        entries.retain(|(existing, _)| existing != key);
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

/// Reads a double-quoted value that starts with `body`, taking further lines until the quote
/// closes.
fn double_quoted<'a>(
    body: &'a str,
    opened_on: usize,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Result<String, DotenvError> {
    let mut value = String::new();
    let (mut number, mut text) = (opened_on, body);
    loop {
        let mut chars = text.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    nothing_after(&text[at + 1..], number)?;
                    return Ok(value);
                }
                '\\' => match chars.next().map(|(_, escaped)| escaped) {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(escaped @ ('\\' | '"' | '$')) => value.push(escaped),
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                c => value.push(c),
            }
        }
        match lines.next() {
            Some((next_number, next)) => {
                value.push('\n');
                (number, text) = (next_number, next);
            }
            None => {
                return Err(error(opened_on, "the double-quoted value is not closed"));
            }
        }
    }
}

fn nothing_after(text: &str, line: usize) -> Result<(), DotenvError> {
    let text = text.trim_start();
    if text.is_empty() || text.starts_with('#') {
        Ok(())
    } else {
        Err(error(line, "unexpected text after the closing quote"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn lines_quote_what_needs_it() {
        assert_eq!(line("PORT", "8080"), "PORT=8080\n");
        assert_eq!(line("URL", "https://x.example/a?b"), "URL=\"https://x.example/a?b\"\n");
        assert_eq!(line("EMPTY", ""), "EMPTY=\"\"\n");
        assert_eq!(
            line("MIXED", "a \"b\" $HOME\\n\nend"),
            "MIXED=\"a \\\"b\\\" \\$HOME\\\\n\\nend\"\n"
        );
    }

    #[test]
    fn reads_the_usual_shapes() {
        let text = "\u{feff}# a comment\n\nPORT=8080\nexport NAME = bot # trailing comment\n\
                    SINGLE='a \"b\" $c'\nDOUBLE=\"line\\none\"\nMULTI=\"first\nsecond\"\n\
                    EMPTY=\nPORT=9090\n";
        assert_eq!(
            parse(text),
            Ok(pairs(&[
                ("NAME", "bot"),
                ("SINGLE", "a \"b\" $c"),
                ("DOUBLE", "line\none"),
                ("MULTI", "first\nsecond"),
                ("EMPTY", ""),
                ("PORT", "9090"),
            ]))
        );
        assert_eq!(parse("A=1\r\nB=\"x\"\r\n"), Ok(pairs(&[("A", "1"), ("B", "x")])));
    }

    #[test]
    fn names_the_line_of_each_problem() {
        let cases = [
            ("A=1\njust words\n", 2, "expected KEY=value"),
            ("1A=x", 1, "'1A' is not a variable name (letters, digits and _, not first a digit)"),
            ("A=1\nB='open\n", 2, "the single-quoted value is not closed"),
            ("A=\"open\nB=2\n", 1, "the double-quoted value is not closed"),
            ("A=\"x\" y", 1, "unexpected text after the closing quote"),
        ];
        for (text, line, message) in cases {
            assert_eq!(parse(text), Err(error(line, message)), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn what_line_writes_parse_reads_back(value in "\\PC*|[ -~\n\r\t]*") {
            prop_assert_eq!(parse(&line("KEY", &value)), Ok(pairs(&[("KEY", &value)])));
        }
    }
}
