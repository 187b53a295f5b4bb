use spanwise::trace;

#[trace(output_reducer = |items: Vec<String>| items.join(","))]
fn f(x: i32) -> String {
    x.to_string()
}

fn main() {
    f(1);
}
