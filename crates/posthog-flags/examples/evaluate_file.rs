//! Evaluates every flag of a definitions file for one subject and prints the answers.
//!
//! ```text
//! cargo run -p posthog-flags --example evaluate_file -- DEFINITIONS.json DISTINCT_ID \
//!     [PERSON_PROPERTIES_JSON] [GROUPS_JSON] [GROUP_PROPERTIES_JSON]
//! ```
//!
//! For example, with the benchmark data in this repository:
//!
//! ```text
//! cargo run -p posthog-flags --example evaluate_file -- fixtures/bench/thirty_flags.json \
//!     user-123 '{"email": "ada@acme.com", "plan": "pro"}' '{"company": "acme"}'
//! ```

use std::process::ExitCode;

use posthog_flags::{EvalContext, Evaluation, FlagSet, GroupProperties, Groups, Properties};

fn parse_arg<T: serde::de::DeserializeOwned + Default>(
    arg: Option<&String>,
    what: &str,
) -> Result<T, String> {
    match arg {
        None => Ok(T::default()),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| format!("{what} must be a JSON object: {e}"))
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [path, distinct_id, rest @ ..] = args else {
        return Err("usage: evaluate_file DEFINITIONS.json DISTINCT_ID [PERSON_PROPERTIES] [GROUPS] [GROUP_PROPERTIES]".into());
    };
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let set = FlagSet::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))?;
    for problem in set.problems() {
        eprintln!("warning: {problem} (evaluates as inconclusive)");
    }
    let person: Properties = parse_arg(rest.first(), "person properties")?;
    let groups: Groups = parse_arg(rest.get(1), "groups")?;
    let group_props: GroupProperties = parse_arg(rest.get(2), "group properties")?;
    let ctx = EvalContext::new(distinct_id)
        .person_properties(&person)
        .groups(&groups)
        .group_properties(&group_props);

    println!("{} flags for {distinct_id:?}:", set.len());
    for (key, answer) in set.evaluate_all(&ctx) {
        match answer {
            Evaluation::Match(m) => {
                let payload = m
                    .payload
                    .map(|p| format!("  payload {p}"))
                    .unwrap_or_default();
                let condition = m
                    .condition_index
                    .map(|i| format!(" #{i}"))
                    .unwrap_or_default();
                println!(
                    "  {key:<24} {:<14} {}{condition}{payload}",
                    m.value.to_string(),
                    m.reason.code()
                );
            }
            Evaluation::Inconclusive(i) => {
                println!(
                    "  {key:<24} {:<14} {} ({:?})",
                    "inconclusive",
                    i.reason.as_str(),
                    i.cause
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
