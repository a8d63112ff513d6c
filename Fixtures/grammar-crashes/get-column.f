// Deliberately malformed Rust: missing braces, semicolons and parens.
use std::io

pub struct Config {
    name: String,
    retries: u32
    verbose: bool,
}

impl Config {
    pub fn new(name: &str) -> Self {
        Config { name: name.to_string(), retries: 3, verbose: false }

    pub fn describe(&self) -> String {
        let s = format!("{} ({})", self.name, self.retries
        s
    }
}

fn main() {
    let cfg = Config::new("demo")
    if cfg.verbose {
        println!("{}", cfg.describe());
    
    let xs = vec![1, 2, 3;
    for x in xs {
       