//! The seeds' context-manager examples: `start_span` guards around any block, mixed with
//! nested spans. A simulated chat session stands in for the model and the user.

use serde_json::json;
use spanwise::{SpanType, start_span};

fn simple_block() {
    let span = start_span("my_span");
    span.set_inputs(json!({"x": 1, "y": 2}));
    let z = 1 + 2;
    span.set_outputs(z);
}

/// The session loop of the seed, with scripted user input and a simulated model.
fn start_session(user_inputs: &[&str]) -> Vec<serde_json::Value> {
    let _session = start_span("start_session").span_type(SpanType::Chain);
    let mut messages = vec![json!({"role": "system", "content": "You are a friendly chat bot"})];
    for input in user_inputs {
        let user_input = {
            let span = start_span("User");
            span.set_inputs(&messages);
            span.set_outputs(input);
            *input
        };
        if user_input == "BYE" {
            break;
        }
        messages.push(json!({"role": "user", "content": user_input}));
        let answer = {
            let llm = start_span("chat.completions.create").span_type(SpanType::ChatModel);
            llm.set_inputs(
                json!({"model": "gpt-4o-mini", "max_tokens": 100, "messages": messages}),
            );
            let answer = format!("You said: {user_input}");
            llm.set_outputs(
                json!({"choices": [{"message": {"role": "assistant", "content": answer}}]}),
            );
            answer
        };
        println!("🤖: {answer}");
        messages.push(json!({"role": "assistant", "content": answer}));
    }
    messages
}

fn main() -> Result<(), spanwise::Error> {
    let _guard = spanwise::init()?;
    simple_block();
    let t = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
    print!("{}", t.render_tree());

    start_session(&["Hello", "What is MLflow?", "BYE"]);
    let t = spanwise::get_trace(&spanwise::last_active_trace_id().unwrap()).unwrap();
    print!("{}", t.render_tree());
    Ok(())
}
