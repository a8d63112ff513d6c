//! Tiny tokenizer used as a Rust parsing fixture.
use std::collections::HashMap;
use std::fmt;

macro_rules! square {
    ($x:expr) => {
        $x * $x
    };
}

#[derive(Debug, Clone, PartialEq)]
pub enum Token<'a> {
    Word(&'a str),
    Number(i64),
    Punct(char),
}

pub trait Describe {
    fn describe(&self) -> String;

    fn shout(&self) -> String {
        self.describe().to_uppercase()
    }
}

impl<'a> Describe for Token<'a> {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) if w.len() > 8 => format!("long word {w}"),
            Token::Word(w) => format!("word {}", w),
            Token::Number(n @ 0..=9) => format!("digit {n}"),
            Token::Number(n) => format!("number {}", n),
            Token::Punct(c) => format!("punct {:?}", c),
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.describe())
    }
}

pub fn tokenize<'a>(input: &'a str) -> Vec<Token<'a>> {
    input
        .split_whitespace()
        .map(|part| match part.parse::<i64>() {
            Ok(n) => Token::Number(n),
            Err(_) if part.len() == 1 => Token::Punct(part.chars().next().unwrap()),
            Err(_) => Token::Word(part),
        })
        .collect()
}

pub fn histogram<T, I>(items: I) -> HashMap<T, usize>
where
    T: std::hash::Hash + Eq,
    I: IntoIterator<Item = T>,
{
    let mut map = HashMap::new();
    items.into_iter().for_each(|it| *map.entry(it).or_insert(0) += 1);
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squares_and_tokens() {
        assert_eq!(square!(7), 49);
        let toks = tokenize("let x = 42 ;");
        assert_eq!(toks[3], Token::Number(42));
        let counts = histogram(toks.iter().map(|t| t.describe()));
        assert!(counts.len() <= toks.len());
    }
}
