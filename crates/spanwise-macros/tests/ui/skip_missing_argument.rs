use spanwise::trace;

#[trace(skip(api_key, clinet))]
fn f(api_key: &str, client: u8) -> u8 {
    let _ = api_key;
    client
}

fn main() {
    f("k", 1);
}
